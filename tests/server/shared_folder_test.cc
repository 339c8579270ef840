// A folder one process writes: `flashembed serve` (a real process) holds it
// while it writes batches over HTTP. Another process that opens it to write
// is refused with an error naming the server's pid and command line; reading
// verbs and the library's read-only open read beside it, seeing whole
// batches only, a prefix of the acknowledged ones, and catching up as it
// writes; after the server is killed with SIGKILL the lock goes with it, the
// readers go on, and the folder holds every acknowledged batch whole.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "query/database.h"
#include "tests/server/http_test_client.h"
#include "tests/testing/process_util.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kCli = FLASHEMBED_CLI_PATH;
constexpr int kBatch = 20;

using flashembed::testing::ReadFile;
using flashembed::testing::RunProgram;
using flashembed::testing::RunResult;
using flashembed::testing::WaitForFirstLine;

RunResult Cli(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), kCli);
  return RunProgram(dir, std::move(args));
}

TEST(SharedFolder, AWriterIsRefusedAndReadersReadBesideIt) {
  flashembed::testing::TempDir dir;
  const std::string db = dir.Sub("db");
  const pid_t server = flashembed::testing::StartProgram(
      {kCli, "serve", "--db", db, "--port", "0", "--no-access-log"}, dir.path());
  ASSERT_GT(server, 0);
  const json listening = json::parse(WaitForFirstLine(dir.Sub("stdout")), nullptr, false);
  ASSERT_TRUE(listening.contains("port")) << ReadFile(dir.Sub("stderr"));
  const uint16_t port = listening["port"];
  {
    Connection c(port);
    ASSERT_EQ(
        c.Request("POST", "/api/v1/collections", R"({"name":"c","dim":8,"encoder":"none"})").status,
        201);
  }
  std::atomic<int64_t> acked{0};
  std::atomic<bool> stop{false};
  std::thread writer([&] {
    for (int64_t b = 0; !stop.load(); ++b) {
      json docs = json::array();
      for (int64_t i = b * kBatch; i < (b + 1) * kBatch; ++i) {
        std::vector<float> v(8);
        // Distinct vectors (many equal ones make every HNSW insert slow).
        for (int k = 0; k < 8; ++k) {
          v[k] = static_cast<float>((static_cast<uint64_t>(i) * 2654435761u + k * 40503u) % 1000) /
                     100.0f +
                 1.0f;
        }
        docs.push_back({{"id", i}, {"vector", v}});
      }
      Connection c(port);
      if (!c.connected()) return;
      const Reply r =
          c.Request("POST", "/api/v1/collections/c/documents", json{{"documents", docs}}.dump());
      if (r.status != 200) return;  // the server was killed
      acked.store((b + 1) * kBatch);
      // At most 40 small batches a second: each reading process loads the
      // collection (tests/query/beside_writer_test.cc writes faster).
      std::this_thread::sleep_for(std::chrono::milliseconds(25));
    }
  });
  for (int i = 0; i < 600 && acked.load() < 5 * kBatch; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::ofstream(dir.Sub("one.jsonl")) << R"({"id": -1, "vector": [1, 1, 1, 1, 1, 1, 1, 1]})"
                                      << "\n";
  const std::string named = "held by another process (pid " + std::to_string(server) + ": ";
  const RunResult refused =
      Cli(dir.path(), {"add", "--db", db, "-c", "c", "--jsonl", dir.Sub("one.jsonl")});
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_NE(refused.err.find(named), std::string::npos) << refused.err;
  EXPECT_NE(refused.err.find("flashembed serve --db"), std::string::npos) << refused.err;

  // Reading processes beside the writer: each sees a whole number of
  // batches, at least those acknowledged before it started and at most one
  // more than those acknowledged when it ended (the batch in flight).
  for (int i = 0; i < 3; ++i) {
    const int64_t before = acked.load();
    const RunResult r = Cli(dir.path(), {"stats", "--db", db, "-c", "c", "--json"});
    const int64_t after = acked.load();
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const int64_t n = json::parse(r.out)["collections"][0]["count"].get<int64_t>();
    EXPECT_EQ(n % kBatch, 0) << n;
    EXPECT_GE(n, before);
    EXPECT_LE(n, after + kBatch);
    const RunResult got =
        Cli(dir.path(), {"get", "--db", db, "-c", "c", std::to_string(n - 1), "--json"});
    EXPECT_EQ(got.exit_code, 0) << got.err;
  }
  // A library reader that stays open catches up as the server writes.
  Options reading;
  reading.read_only = true;
  auto reader = Database::Open(reading, db);
  ASSERT_TRUE(reader.ok()) << reader.status();
  auto seen = (*reader)->GetCollection("c");
  ASSERT_TRUE(seen.ok()) << seen.status();
  const int64_t first = static_cast<int64_t>((*seen)->Count().value());
  int64_t last = first;
  for (int i = 0; i < 6000 && last < first + 3 * kBatch; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    const int64_t n = static_cast<int64_t>((*seen)->Count().value());
    EXPECT_EQ(n % kBatch, 0) << n;
    EXPECT_GE(n, last) << "a reader never goes back";
    last = n;
  }
  EXPECT_GE(last, first + 3 * kBatch) << "the reader did not catch up";

  // Killed mid-stream: the lock goes with it, and every acknowledged batch
  // is there, whole, for the reader that stayed open too.
  ASSERT_EQ(kill(server, SIGKILL), 0);
  EXPECT_EQ(flashembed::testing::WaitExit(server), 128 + SIGKILL);
  stop = true;
  writer.join();
  const int64_t final_acked = acked.load();
  // The writer is gone. The reader keeps what it saw, whole batches, never
  // more than the folder holds; it catches up with the rest when it can
  // (RocksDB's secondary instance may not read past the torn end of a
  // killed writer's log: seen under ASan, where the reader lagged at the
  // kill).
  const RunResult held = Cli(dir.path(), {"stats", "--db", db, "-c", "c", "--json"});
  ASSERT_EQ(held.exit_code, 0) << held.err;
  const int64_t in_folder = json::parse(held.out)["collections"][0]["count"].get<int64_t>();
  int64_t final_seen = 0;
  for (int i = 0; i < 150 && final_seen != in_folder; ++i) {
    final_seen = static_cast<int64_t>((*seen)->Count().value());
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  EXPECT_EQ(final_seen % kBatch, 0) << final_seen;
  EXPECT_GE(final_seen, last);
  EXPECT_LE(final_seen, in_folder);
  auto hits = (*seen)->Search({.k = 3}, Query::Vector(std::vector<float>(8, 1.0f)));
  EXPECT_TRUE(hits.ok() && hits->size() == 3) << hits.status();
  EXPECT_TRUE((*reader)->Close().ok());
  const RunResult again =
      Cli(dir.path(), {"add", "--db", db, "-c", "c", "--jsonl", dir.Sub("one.jsonl")});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  const RunResult stats = Cli(dir.path(), {"stats", "--db", db, "-c", "c", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  const int64_t n = json::parse(stats.out)["collections"][0]["count"].get<int64_t>() - 1;
  EXPECT_EQ(n % kBatch, 0) << n;
  EXPECT_GE(n, final_acked);
  EXPECT_LE(n, final_acked + kBatch) << "at most the batch in flight";
  EXPECT_EQ(n, in_folder);
}

}  // namespace
}  // namespace flashembed::server::testing
