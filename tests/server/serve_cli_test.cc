// `flashembed serve` as a process: prints its port, serves, refuses a
// non-loopback host without a token, and on SIGTERM finishes and closes the
// database (exit 0, data readable afterwards).
#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <thread>

#include "tests/server/http_test_client.h"
#include "tests/testing/process_util.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kCli = FLASHEMBED_CLI_PATH;

using flashembed::testing::ReadFile;
using flashembed::testing::WaitExit;
using flashembed::testing::WaitForFirstLine;

// Starts the binary with `args`, stdout/stderr to files in `dir`.
pid_t Spawn(const std::vector<std::string>& args, const std::string& dir,
            const flashembed::testing::EnvVars& env = {}) {
  std::vector<std::string> argv = {kCli};
  argv.insert(argv.end(), args.begin(), args.end());
  return flashembed::testing::StartProgram(std::move(argv), dir, env);
}

TEST(ServeCli, ServesUntilSigtermThenClosesTheDatabase) {
  flashembed::testing::TempDir dir;
  const pid_t pid =
      Spawn({"serve", "--db", dir.Sub("db"), "--port", "0", "--token", "tok"}, dir.path());
  json listening = json::parse(WaitForFirstLine(dir.Sub("stdout")), nullptr, false);
  ASSERT_TRUE(listening.contains("port")) << ReadFile(dir.Sub("stderr"));
  const uint16_t port = listening["port"];
  EXPECT_EQ(listening["listening"], "http://127.0.0.1:" + std::to_string(port));
  const std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer tok"}};
  {
    Connection c(port);
    EXPECT_EQ(c.Request("GET", "/health", "").status, 401);
    Reply r = c.Request("POST", "/v2/vectordb/collections/create",
                        R"({"collectionName":"c","dimension":2})", auth);
    ASSERT_EQ(r.status, 200);
    r = c.Request(
        "POST", "/v2/vectordb/entities/insert",
        R"({"collectionName":"c","data":[{"id":1,"vector":[1,2]},{"id":2,"vector":[2,1]}]})", auth);
    ASSERT_EQ(json::parse(r.body)["code"], 0) << r.body;
  }
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0) << ReadFile(dir.Sub("stderr"));
  // One access-log line per request on stderr, JSON.
  const std::string err = ReadFile(dir.Sub("stderr"));
  EXPECT_NE(err.find("\"route\":\"/v2/vectordb/entities/insert\""), std::string::npos) << err;
  EXPECT_NE(err.find("\"status\":401"), std::string::npos) << err;
  auto db = Database::Open({}, dir.Sub("db"));
  ASSERT_TRUE(db.ok()) << db.status();
  auto c = (*db)->GetCollection("c");
  ASSERT_TRUE(c.ok());
  EXPECT_EQ((*c)->Count().value(), 2u);
}

TEST(ServeCli, NonLoopbackHostWithoutTokenIsAUsageError) {
  flashembed::testing::TempDir dir;
  const pid_t pid =
      Spawn({"serve", "--db", dir.Sub("db"), "--host", "0.0.0.0", "--port", "0"}, dir.path());
  EXPECT_EQ(WaitExit(pid), 2);
  const std::string err = ReadFile(dir.Sub("stderr"));
  EXPECT_NE(err.find("without a token"), std::string::npos) << err;
  EXPECT_EQ(ReadFile(dir.Sub("stdout")), "");
  // With the token from the environment it starts (and is stopped at once).
  const pid_t ok =
      Spawn({"serve", "--db", dir.Sub("db"), "--host", "0.0.0.0", "--port", "0", "--no-access-log"},
            dir.path(), {{"FLASHEMBED_TOKEN", "t"}});
  const std::string out = WaitForFirstLine(dir.Sub("stdout"));
  EXPECT_NE(out.find("\"host\":\"0.0.0.0\""), std::string::npos) << out;
  kill(ok, SIGINT);
  EXPECT_EQ(WaitExit(ok), 0);
}

// A blank token (empty or whitespace only, from --token or the
// environment) is no token: a non-loopback host is refused as without one.
TEST(ServeCli, BlankTokenCountsAsNoToken) {
  flashembed::testing::TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--token", " "}, ""},   {{"--token", ""}, ""}, {{"--token", " \t "}, ""}, {{}, " "},
      {{"--token", " "}, "  "},
  };
  for (const auto& [flags, env] : cases) {
    std::vector<std::string> args = {"serve",   "--db",   dir.Sub("db"), "--host",
                                     "0.0.0.0", "--port", "0",           "--no-access-log"};
    args.insert(args.end(), flags.begin(), flags.end());
    std::vector<std::pair<std::string, std::string>> environment;
    if (!env.empty()) environment.emplace_back("FLASHEMBED_TOKEN", env);
    const pid_t pid = Spawn(args, dir.path(), environment);
    // Without the fix the server starts; do not wait for it forever.
    int code = -1;
    for (int i = 0; i < 100; ++i) {
      int status = 0;
      if (waitpid(pid, &status, WNOHANG) == pid) {
        code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
    }
    if (code == -1) {
      kill(pid, SIGKILL);
      WaitExit(pid);
    }
    EXPECT_EQ(code, 2) << "flags " << ::testing::PrintToString(flags) << " env \"" << env << "\"";
    const std::string err = ReadFile(dir.Sub("stderr"));
    EXPECT_NE(err.find("without a token"), std::string::npos) << err;
    EXPECT_EQ(ReadFile(dir.Sub("stdout")), "");
  }
}

// Options out of range are usage errors (exit 2) naming the option, before
// anything is opened or bound.
TEST(ServeCli, OptionsOutOfRangeAreUsageErrors) {
  flashembed::testing::TempDir dir;
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--threads", "300"}, "threads"},
      {{"--max-header-bytes", "100"}, "max_header_bytes"},
      {{"--max-body-bytes", "99999999999"}, "max_body_bytes"},
      {{"--read-timeout-ms", "0"}, "read_timeout_ms"},
      {{"--allow-model", dir.Sub("no-such-folder")}, "--allow-model"},
  };
  for (const auto& [flags, name] : cases) {
    std::vector<std::string> args = {"serve", "--db", dir.Sub("db"), "--port", "0"};
    args.insert(args.end(), flags.begin(), flags.end());
    const pid_t pid = Spawn(args, dir.path());
    EXPECT_EQ(WaitExit(pid), 2) << name;
    const std::string err = ReadFile(dir.Sub("stderr"));
    EXPECT_NE(err.find(name), std::string::npos) << err;
    EXPECT_EQ(ReadFile(dir.Sub("stdout")), "") << name;
  }
}

// --allow-model (repeatable) lets clients name model folders inside the
// given ones; others get 403.
TEST(ServeCli, AllowModelIsRepeatable) {
  flashembed::testing::TempDir dir;
  std::filesystem::create_directories(dir.Sub("a"));
  std::filesystem::create_directories(dir.Sub("b"));
  const pid_t pid = Spawn({"serve", "--db", dir.Sub("db"), "--port", "0", "--no-access-log",
                           "--allow-model", dir.Sub("a"), "--allow-model", dir.Sub("b")},
                          dir.path());
  json listening = json::parse(WaitForFirstLine(dir.Sub("stdout")), nullptr, false);
  ASSERT_TRUE(listening.contains("port")) << ReadFile(dir.Sub("stderr"));
  const uint16_t port = listening["port"];
  auto create = [&](const std::string& encoder) {
    Connection c(port);
    return c
        .Request("POST", "/api/v1/collections", json{{"name", "m"}, {"encoder", encoder}}.dump())
        .status;
  };
  EXPECT_EQ(create("model:" + dir.Sub("db")), 403);
  // Allowed, but no model there: the database's own error.
  const int in_a = create("model:" + dir.Sub("a"));
  const int in_b = create("model:" + dir.Sub("b") + "/x");
  EXPECT_TRUE(in_a >= 400 && in_a != 403) << in_a;
  EXPECT_TRUE(in_b >= 400 && in_b != 403) << in_b;
  kill(pid, SIGTERM);
  EXPECT_EQ(WaitExit(pid), 0) << ReadFile(dir.Sub("stderr"));
}

}  // namespace
}  // namespace flashembed::server::testing
