// The fixture of the cli_tests that run the real flashembed binary
// (FLASHEMBED_CLI_PATH) in a fresh temporary folder: run it, expect success
// or one error line, read its one JSON line, write input files.
#ifndef FLASHEMBED_TESTS_TOOLS_CLI_FIXTURE_H_
#define FLASHEMBED_TESTS_TOOLS_CLI_FIXTURE_H_

#include <filesystem>
#include <fstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

// Relative: cli_tests has no include path into the source tree (it only
// runs the binary), and these need nothing else.
#include "../testing/process_util.h"
#include "../testing/temp_dir.h"

namespace flashembed::testing {

// stdout as exactly one JSON line; anything else fails the test.
inline nlohmann::json OneJson(const RunResult& r) {
  const std::vector<std::string> lines = Lines(r.out);
  EXPECT_EQ(lines.size(), 1u) << r.out;
  if (lines.size() != 1) return nlohmann::json();
  nlohmann::json value = nlohmann::json::parse(lines[0], nullptr, /*allow_exceptions=*/false);
  EXPECT_FALSE(value.is_discarded()) << "not JSON: " << lines[0];
  return value;
}

class CliFixture : public ::testing::Test {
 protected:
  // Runs the tool in the temporary folder with `args` and `input` on stdin;
  // stdout and stderr go to files (so the tool sees no terminal) unless
  // `terminal`, which gives it one pseudo-terminal as both (read into `out`).
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "",
                bool terminal = false) {
    std::vector<std::string> argv = {FLASHEMBED_CLI_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    return RunProgram(tmp_.path(), std::move(argv), {.input = input, .terminal = terminal});
  }

  // Runs and expects exit 0 with an empty stderr.
  RunResult RunOk(const std::vector<std::string>& args, const std::string& input = "") {
    return ExpectRunOk(Run(args, input));
  }

  // Runs and expects `exit_code`, nothing on stdout and one stderr line
  // "flashembed: error: ..." containing `needle`.
  RunResult RunFails(const std::vector<std::string>& args, int exit_code, const std::string& needle,
                     const std::string& input = "") {
    return ExpectRunFails(Run(args, input), exit_code, needle, /*no_stdout=*/true);
  }

  // Writes `content` to `name` under the temporary folder, creating folders.
  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = tmp_.Sub(name);
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  TempDir tmp_;
};

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TOOLS_CLI_FIXTURE_H_
