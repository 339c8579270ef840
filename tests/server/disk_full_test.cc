// The server on a full disk (a private tmpfs, tests/testing/small_fs.h):
// writes fail with a clear 500, /health says "degraded" and why, and once
// space is freed both recover without a restart. `flashembed serve` stopped
// by SIGTERM on the full disk exits with one clear error (it aborted in
// RocksDB), and the folder opens again on the still-full disk.
#include <signal.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <thread>

#include "tests/server/http_test_client.h"
#include "tests/testing/process_util.h"
#include "tests/testing/small_fs.h"

namespace flashembed::server::testing {
namespace {

using flashembed::testing::ReadFile;
using flashembed::testing::SmallFs;
using flashembed::testing::WaitExit;
using flashembed::testing::WaitForFirstLine;

constexpr size_t kFsBytes = 8 << 20;
constexpr const char* kDocs = "/api/v1/collections/notes/documents";

json SmallDocs() {
  return {{"documents",
           {{{"id", 1}, {"text", "The Moon orbits the Earth"}},
            {{"id", 2}, {"text", "Sourdough rises with wild yeast"}}}}};
}

// Too big for the space a full disk has left in partly used pages.
json BigDocs(int first) {
  json docs = json::array();
  for (int i = 0; i < 4; ++i) {
    docs.push_back({{"id", first + i},
                    {"text", "big " + std::to_string(first + i) + " " + std::string(100000, 'b')}});
  }
  return {{"documents", docs}, {"upsert", true}};
}

class ServerDiskFull : public ServerTest {
 protected:
  void TearDown() override {
    ServerTest::TearDown();  // the database closes while the tmpfs is there
    fs_.reset();
  }
  std::unique_ptr<SmallFs> fs_ = std::make_unique<SmallFs>(kFsBytes);
};

TEST_F(ServerDiskFull, HealthSaysDegradedAndWritesResumeOnceSpaceIsFreed) {
  if (!fs_->ok()) GTEST_SKIP() << fs_->error();
  auto db = Database::Open({}, fs_->Sub("db"));
  ASSERT_TRUE(db.ok()) << db.status();
  db_ = std::move(*db);
  Start();
  ASSERT_EQ(Post("/api/v1/collections", {{"name", "notes"}}).status, 201);
  ASSERT_EQ(Post(kDocs, SmallDocs()).status, 200);
  Reply health = Call("GET", "/health");
  EXPECT_EQ(health.status, 200);
  EXPECT_EQ(health.body, R"({"status":"ok"})");

  ASSERT_TRUE(fs_->Fill());
  Reply full = Post(kDocs, BigDocs(100));
  EXPECT_EQ(full.status, 500) << full.body;
  EXPECT_NE(full.body.find("no space left on device"), std::string::npos) << full.body;
  health = Call("GET", "/health");
  EXPECT_EQ(health.status, 200);
  json state = health.Json();
  EXPECT_EQ(state["status"], "degraded") << health.body;
  ASSERT_TRUE(state["storage"].is_string()) << health.body;
  EXPECT_EQ(state["storage"].get<std::string>().rfind("read-only: ", 0), 0u) << health.body;
  EXPECT_NE(health.body.find("no space left on device"), std::string::npos) << health.body;
  // Reads still work; the failed write changed nothing.
  Reply stats = Call("GET", "/api/v1/collections/notes/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  EXPECT_EQ(stats.Json()["count"], 2);

  fs_->Free();
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  do {
    health = Call("GET", "/health");
    if (health.body == R"({"status":"ok"})") break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  } while (std::chrono::steady_clock::now() < deadline);
  EXPECT_EQ(health.body, R"({"status":"ok"})");
  Reply again = Post(kDocs, BigDocs(100));
  EXPECT_EQ(again.status, 200) << again.body;
  stats = Call("GET", "/api/v1/collections/notes/stats");
  EXPECT_EQ(stats.Json()["count"], 6);
}

constexpr const char* kCli = FLASHEMBED_CLI_PATH;

// Starts the binary with `args`, stdout/stderr to files in `dir`.
pid_t Spawn(const std::vector<std::string>& args, const std::string& dir) {
  std::vector<std::string> argv = {kCli};
  argv.insert(argv.end(), args.begin(), args.end());
  return flashembed::testing::StartProgram(std::move(argv), dir);
}

struct Ran {
  int code;
  std::string out, err;
};
Ran RunCli(const std::vector<std::string>& args, const std::string& dir) {
  const int code = WaitExit(Spawn(args, dir));
  return {code, ReadFile(dir + "/stdout"), ReadFile(dir + "/stderr")};
}

TEST(ServeCliDiskFull, SigtermOnAFullDiskExitsWithAClearErrorAndTheFolderReopens) {
  SmallFs fs(kFsBytes);
  if (!fs.ok()) GTEST_SKIP() << fs.error();
  flashembed::testing::TempDir dir;
  const std::string db = fs.Sub("db");
  const pid_t pid = Spawn({"serve", "--db", db, "--port", "0", "--no-access-log"}, dir.path());
  json listening = json::parse(WaitForFirstLine(dir.Sub("stdout")), nullptr, false);
  ASSERT_TRUE(listening.contains("port")) << ReadFile(dir.Sub("stderr"));
  const uint16_t port = listening["port"];
  {
    Connection c(port);
    ASSERT_EQ(c.Request("POST", "/api/v1/collections", R"({"name":"notes"})").status, 201);
    ASSERT_EQ(c.Request("POST", kDocs, SmallDocs().dump()).status, 200);
  }
  ASSERT_TRUE(fs.Fill());
  // Writers keep failing while the server is stopped.
  std::atomic<int> failed{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> writers;
  for (int w = 0; w < 2; ++w) {
    writers.emplace_back([&, w] {
      while (!stop) {
        Connection c(port);
        if (!c.connected()) break;
        Reply r = c.Request("POST", kDocs, BigDocs(100 + 10 * w).dump());
        if (r.status == 500) ++failed;
        if (r.status == 0) break;
      }
    });
  }
  for (int i = 0; i < 400 && failed < 4; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  EXPECT_GE(failed.load(), 4);
  kill(pid, SIGTERM);
  const int code = WaitExit(pid);
  stop = true;
  for (std::thread& t : writers) t.join();
  const std::string err = ReadFile(dir.Sub("stderr"));
  // Not killed by a signal: a clean exit, with one line saying why.
  EXPECT_TRUE(code == 0 || code == 1) << "exit " << code << ": " << err;
  if (code == 1) {
    EXPECT_NE(err.find("flashembed: error: "), std::string::npos) << err;
    EXPECT_NE(err.find("no space left on device"), std::string::npos) << err;
  }

  // The disk is still full: reading verbs work (read-only when need be).
  for (int round = 0; round < 2; ++round) {
    Ran stats = RunCli({"stats", "--db", db, "--json"}, dir.path());
    ASSERT_EQ(stats.code, 0) << stats.err;
    json j = json::parse(stats.out);
    EXPECT_EQ(j["collections"][0]["count"], 2) << stats.out;
    Ran search =
        RunCli({"search", "--db", db, "-c", "notes", "--json", "-k", "1", "moon"}, dir.path());
    ASSERT_EQ(search.code, 0) << search.err;
    EXPECT_EQ(json::parse(search.out)["hits"][0]["id"], 1) << search.out;
  }
  // A write fails with one clear line. (Opening may have freed space: a
  // writable open replaces the log of failed writes with a compact table.)
  ASSERT_TRUE(fs.Fill());
  std::ofstream(dir.Sub("big.txt")) << std::string(300000, 'x') << "\n";
  Ran add = RunCli({"add", "--db", db, "-c", "notes", "--file", dir.Sub("big.txt")}, dir.path());
  EXPECT_EQ(add.code, 1) << add.err;
  EXPECT_EQ(add.err.rfind("flashembed: error: ", 0), 0u) << add.err;
  EXPECT_NE(add.err.find("no space left on device"), std::string::npos) << add.err;

  fs.Free();
  add = RunCli({"add", "--db", db, "-c", "notes", "--json", "a third text"}, dir.path());
  EXPECT_EQ(add.code, 0) << add.err;
  Ran stats = RunCli({"stats", "--db", db, "--json"}, dir.path());
  ASSERT_EQ(stats.code, 0) << stats.err;
  EXPECT_EQ(json::parse(stats.out)["collections"][0]["count"], 3) << stats.out;
  EXPECT_EQ(stats.err, "");
}

}  // namespace
}  // namespace flashembed::server::testing
