// A folder one process writes: `flashembed serve` (a real process) holds it
// while it writes batches over HTTP; another process that opens it (a
// writing verb, or a reading one) is refused with an error naming the
// server's pid and command line; after the server is killed with SIGKILL
// the lock goes with it, and the folder holds every acknowledged batch
// whole.
#include <signal.h>
#include <sys/wait.h>

#include <atomic>
#include <fstream>
#include <thread>

#include "tests/server/http_test_client.h"
#include "tests/testing/process_util.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kCli = FLASHEMBED_CLI_PATH;
constexpr int kBatch = 100;

using flashembed::testing::ReadFile;
using flashembed::testing::RunProgram;
using flashembed::testing::RunResult;
using flashembed::testing::WaitForFirstLine;

RunResult Cli(const std::string& dir, std::vector<std::string> args) {
  args.insert(args.begin(), kCli);
  return RunProgram(dir, std::move(args));
}

TEST(SharedFolder, ASecondProcessIsToldWhichProcessHoldsTheFolder) {
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
        for (int k = 0; k < 8; ++k) v[k] = static_cast<float>((i * 31 + k * 7) % 17) + 1.0f;
        docs.push_back({{"id", i}, {"vector", v}});
      }
      Connection c(port);
      if (!c.connected()) return;
      const Reply r =
          c.Request("POST", "/api/v1/collections/c/documents", json{{"documents", docs}}.dump());
      if (r.status != 200) return;  // the server was killed
      acked.store((b + 1) * kBatch);
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  });
  for (int i = 0; i < 600 && acked.load() < 5 * kBatch; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  std::ofstream(dir.Sub("one.jsonl")) << R"({"id": -1, "vector": [1, 1, 1, 1, 1, 1, 1, 1]})"
                                      << "\n";
  const std::string named = "held by another process (pid " + std::to_string(server) + ": ";
  for (const std::vector<std::string>& args :
       {std::vector<std::string>{"add", "--db", db, "-c", "c", "--jsonl", dir.Sub("one.jsonl")},
        std::vector<std::string>{"stats", "--db", db}}) {
    const RunResult r = Cli(dir.path(), args);
    EXPECT_EQ(r.exit_code, 1) << args[0];
    EXPECT_NE(r.err.find(named), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("flashembed serve --db"), std::string::npos) << r.err;
  }

  // Killed mid-stream: the lock goes with it, and every acknowledged batch
  // is there, whole.
  ASSERT_EQ(kill(server, SIGKILL), 0);
  EXPECT_EQ(flashembed::testing::WaitExit(server), 128 + SIGKILL);
  stop = true;
  writer.join();
  const int64_t final_acked = acked.load();
  const RunResult again =
      Cli(dir.path(), {"add", "--db", db, "-c", "c", "--jsonl", dir.Sub("one.jsonl")});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  const RunResult stats = Cli(dir.path(), {"stats", "--db", db, "-c", "c", "--json"});
  ASSERT_EQ(stats.exit_code, 0) << stats.err;
  const int64_t n = json::parse(stats.out)["collections"][0]["count"].get<int64_t>() - 1;
  EXPECT_EQ(n % kBatch, 0) << n;
  EXPECT_GE(n, final_acked);
  EXPECT_LE(n, final_acked + kBatch) << "at most the batch in flight";
}

}  // namespace
}  // namespace flashembed::server::testing
