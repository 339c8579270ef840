// Running real programs from tests (the flashembed binary, python3): to the
// end with output captured (RunProgram, with ExpectRunOk / ExpectRunFails
// for the tool's exit status and error line), in the background, as
// `flashembed serve` is (StartProgram, WaitExit, WaitForFirstLine), or
// writing to a pipe the test reads (StartWithPipe, for the crash tests).
// Shared by the tool tests (cli_tests, transfer_tests, remote_tests), the
// server tests and the crash tests (query_tests). Needs only the standard
// library, POSIX and GoogleTest, so tests without an include path into the
// source tree can include it relatively.
//
// The child's environment is built before fork: the test process may have
// threads (a server, a database), and after fork only async-signal-safe
// calls are safe (no malloc, no setenv).
#ifndef FLASHEMBED_TESTS_TESTING_PROCESS_UTIL_H_
#define FLASHEMBED_TESTS_TESTING_PROCESS_UTIL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

namespace flashembed::testing {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

inline std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

// ReadAll under the name some tests use.
inline std::string ReadFile(const std::string& path) { return ReadAll(path); }

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

// "NAME=value" strings for a child: this process's environment without the
// variables named in `drop`, then `set` (which replaces what it names; of
// two entries with one name, the later wins, as with setenv).
inline std::vector<std::string> ChildEnvironment(const std::vector<std::string>& drop,
                                                 const EnvVars& set) {
  const auto named = [](std::string_view var, const std::string& name) {
    return var.size() > name.size() && var.substr(0, name.size()) == name &&
           var[name.size()] == '=';
  };
  std::vector<std::string> out;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string_view var(*e);
    bool keep = true;
    for (const std::string& name : drop) keep = keep && !named(var, name);
    for (const auto& [name, value] : set) keep = keep && !named(var, name);
    if (keep) out.emplace_back(var);
  }
  for (size_t i = 0; i < set.size(); ++i) {
    bool replaced = false;  // a later entry of `set` names it again
    for (size_t j = i + 1; j < set.size(); ++j) replaced = replaced || set[j].first == set[i].first;
    if (!replaced) out.push_back(set[i].first + "=" + set[i].second);
  }
  return out;
}

// NULL-terminated pointers into `strings` for execve.
inline std::vector<char*> CStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

// The exit code of `pid`, or 128 + the signal that ended it (-1 if it
// cannot be waited for).
inline int WaitExit(pid_t pid) {
  int status = 0;
  if (waitpid(pid, &status, 0) != pid) return -1;
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return -1;
}

struct RunResult {
  int exit_code = -1;  // 128 + signal number if the program was killed by a signal
  std::string out;
  std::string err;
};

struct RunOptions {
  std::string input;  // standard input
  // Set in the program's environment ($FLASHEMBED_DB is always unset first,
  // COLUMNS is 100).
  EnvVars env;
  // One pseudo-terminal as both stdout and stderr (read into `out`), so the
  // program sees a terminal; otherwise both go to files.
  bool terminal = false;
};

// Runs `argv` (argv[0] is the program's path) in folder `dir` and waits for
// it; the captured output goes through files in `dir` (".stdin", ".stdout",
// ".stderr").
inline RunResult RunProgram(const std::string& dir, std::vector<std::string> argv,
                            const RunOptions& options = {}) {
  const std::string in_path = dir + "/.stdin";
  const std::string out_path = dir + "/.stdout";
  const std::string err_path = dir + "/.stderr";
  std::ofstream(in_path, std::ios::binary) << options.input;
  std::vector<char*> args = CStrings(argv);
  EnvVars set = {{"COLUMNS", "100"}};
  set.insert(set.end(), options.env.begin(), options.env.end());
  std::vector<std::string> env_strings = ChildEnvironment({"FLASHEMBED_DB"}, set);
  std::vector<char*> envp = CStrings(env_strings);

  int master = -1;
  std::string slave;
  if (options.terminal && (master = OpenPty(&slave)) < 0) {
    ADD_FAILURE() << "no pseudo-terminal";
    return {};
  }
  const char* out_file = options.terminal ? slave.c_str() : out_path.c_str();
  const char* err_file = options.terminal ? slave.c_str() : err_path.c_str();
  const int out_flags = options.terminal ? O_RDWR | O_NOCTTY : O_WRONLY | O_CREAT | O_TRUNC;
  const pid_t pid = fork();
  if (pid == 0) {
    const int in = open(in_path.c_str(), O_RDONLY);
    const int out = open(out_file, out_flags, 0600);
    const int err = open(err_file, out_flags, 0600);
    if (in < 0 || out < 0 || err < 0 || chdir(dir.c_str()) != 0) _exit(126);
    dup2(in, STDIN_FILENO);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  RunResult result;
  EXPECT_GT(pid, 0) << "fork failed";
  if (pid > 0) result.exit_code = WaitExit(pid);
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

// `r` (a run of the flashembed tool) exited 0 with an empty stderr; returns it.
inline RunResult ExpectRunOk(RunResult r) {
  EXPECT_EQ(r.exit_code, 0) << "stderr: " << r.err << "\nstdout: " << r.out;
  EXPECT_EQ(r.err, "");
  return r;
}

// `r` (a run of the flashembed tool) exited with `exit_code` (and, if
// `no_stdout`, printed nothing on stdout) with exactly one stderr line
// "flashembed: error: ..." containing `needle`; returns it.
inline RunResult ExpectRunFails(RunResult r, int exit_code, const std::string& needle,
                                bool no_stdout = false) {
  EXPECT_EQ(r.exit_code, exit_code) << "stderr: " << r.err << "\nstdout: " << r.out;
  if (no_stdout) {
    EXPECT_EQ(r.out, "");
  }
  EXPECT_EQ(r.err.rfind("flashembed: error: ", 0), 0u) << r.err;
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "expected \"" << needle << "\" in: " << r.err;
  return r;
}

// Starts `argv` (argv[0] is the program's path) without waiting: stdout and
// stderr go to the files `dir`/stdout and `dir`/stderr; standard input and
// the working folder are this process's; the environment is this one
// without $FLASHEMBED_DB and $FLASHEMBED_TOKEN, plus `env`. Returns the
// child's pid (WaitExit it), or -1 if fork failed.
inline pid_t StartProgram(std::vector<std::string> argv, const std::string& dir,
                          const EnvVars& env = {}) {
  std::vector<char*> args = CStrings(argv);
  std::vector<std::string> env_strings =
      ChildEnvironment({"FLASHEMBED_DB", "FLASHEMBED_TOKEN"}, env);
  std::vector<char*> envp = CStrings(env_strings);
  const std::string out_path = dir + "/stdout", err_path = dir + "/stderr";
  const pid_t pid = fork();
  if (pid == 0) {
    const int out = open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const int err = open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    dup2(out, STDOUT_FILENO);
    dup2(err, STDERR_FILENO);
    execve(args[0], args.data(), envp.data());
    _exit(127);
  }
  return pid;
}

// Starts the program at `path` with `argv` (argv[0] its name; pass the
// number of the write end `fds[1]` as an argument if the program needs it)
// in a child that keeps only the write end of the pipe `fds`; this process
// closes that end and keeps the read end `fds[0]`. The environment is this
// process's. Returns the child's pid, or -1 if fork failed.
inline pid_t StartWithPipe(const std::string& path, std::vector<std::string> argv,
                           const int fds[2]) {
  std::vector<char*> args = CStrings(argv);
  const pid_t pid = fork();
  if (pid == 0) {
    close(fds[0]);
    execv(path.c_str(), args.data());
    _exit(127);
  }
  close(fds[1]);
  return pid;
}

// The first line of the file `path` (without its newline) once one is
// there, looking every 50 ms at most `tries` times; "" if none came. For
// the line a started server prints when it listens.
inline std::string WaitForFirstLine(const std::string& path, int tries = 300) {
  for (int i = 0; i < tries; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    const std::string text = ReadAll(path);
    if (const size_t end = text.find('\n'); end != std::string::npos) return text.substr(0, end);
  }
  return "";
}

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TESTING_PROCESS_UTIL_H_
