// Running a real program (the flashembed binary, python3) from a test, with
// its output captured: shared by the tool tests (cli_tests, transfer_tests).
// Needs only the standard library, POSIX and GoogleTest, so tests that only
// run the binary need no include path into the source tree.
#ifndef FLASHEMBED_TESTS_TOOLS_CLI_RUNNER_H_
#define FLASHEMBED_TESTS_TOOLS_CLI_RUNNER_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace flashembed::testing {

struct RunResult {
  int exit_code = -1;  // 128 + signal number if the program was killed by a signal
  std::string out;
  std::string err;
};

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

// The master side of a new pseudo-terminal (its slave's path in *slave), or -1.
inline int OpenPty(std::string* slave) {
  const int master = posix_openpt(O_RDWR | O_NOCTTY);
  if (master < 0) return -1;
  const char* name = grantpt(master) == 0 && unlockpt(master) == 0 ? ptsname(master) : nullptr;
  if (name == nullptr) {
    close(master);
    return -1;
  }
  *slave = name;
  return master;
}

struct RunOptions {
  std::string input;  // standard input
  // Set in the program's environment ($FLASHEMBED_DB is always unset first,
  // COLUMNS is 100).
  std::vector<std::pair<std::string, std::string>> env;
  // One pseudo-terminal as both stdout and stderr (read into `out`), so the
  // program sees a terminal; otherwise both go to files.
  bool terminal = false;
};

// Runs `argv` (argv[0] is the program's path) in folder `dir`; the
// captured output goes through files in `dir` (".stdin", ".stdout",
// ".stderr").
inline RunResult RunProgram(const std::string& dir, std::vector<std::string> argv,
                            const RunOptions& options = {}) {
  const std::string in_path = dir + "/.stdin";
  const std::string out_path = dir + "/.stdout";
  const std::string err_path = dir + "/.stderr";
  std::ofstream(in_path, std::ios::binary) << options.input;
  std::vector<char*> args;
  for (std::string& arg : argv) args.push_back(arg.data());
  args.push_back(nullptr);

  int master = -1;
  std::string slave;
  if (options.terminal && (master = OpenPty(&slave)) < 0) {
    ADD_FAILURE() << "no pseudo-terminal";
    return {};
  }
  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open(in_path.c_str(), O_RDONLY);
    const int out = options.terminal ? open(slave.c_str(), O_RDWR | O_NOCTTY)
                                     : open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = options.terminal ? open(slave.c_str(), O_RDWR | O_NOCTTY)
                                     : open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (in < 0 || out < 0 || err < 0 || chdir(dir.c_str()) != 0) _exit(126);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    unsetenv("FLASHEMBED_DB");
    setenv("COLUMNS", "100", 1);
    for (const auto& [name, value] : options.env) setenv(name.c_str(), value.c_str(), 1);
    execv(args[0], args.data());
    _exit(127);
  }
  RunResult result;
  int status = 0;
  EXPECT_EQ(waitpid(pid, &status, 0), pid);
  if (WIFEXITED(status)) {
    result.exit_code = WEXITSTATUS(status);
  } else if (WIFSIGNALED(status)) {
    result.exit_code = 128 + WTERMSIG(status);
  }
  if (options.terminal) {
    fcntl(master, F_SETFL, O_NONBLOCK);
    char buffer[4096];
    for (ssize_t n; (n = read(master, buffer, sizeof buffer)) > 0;) result.out.append(buffer, n);
    close(master);
  } else {
    result.out = ReadAll(out_path);
    result.err = ReadAll(err_path);
  }
  return result;
}

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TOOLS_CLI_RUNNER_H_
