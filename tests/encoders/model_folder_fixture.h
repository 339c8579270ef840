// What the model-folder tests share: the fixture folders under
// tests/encoders/testdata, their JSON files, their reference.jsonl lines, and
// fresh copies of a folder to break on purpose.
#ifndef FLASHEMBED_TESTS_ENCODERS_MODEL_FOLDER_FIXTURE_H_
#define FLASHEMBED_TESTS_ENCODERS_MODEL_FOLDER_FIXTURE_H_

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/testing/test_util.h"

namespace flashembed::encoders::testing {

// tests/encoders/testdata/<kind>/<name>.
inline std::string FixtureDir(const std::string& kind, const std::string& name) {
  return std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/" + kind + "/" + name;
}

inline nlohmann::json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

// Every line of `dir`/reference.jsonl.
inline std::vector<nlohmann::json> ReadReferenceLines(const std::string& dir) {
  std::vector<nlohmann::json> lines;
  std::ifstream in(dir + "/reference.jsonl");
  for (std::string line; std::getline(in, line);) {
    if (!line.empty()) lines.push_back(nlohmann::json::parse(line));
  }
  return lines;
}

// A fresh copy of the folder `source` under `dir`, named after `name` and a
// counter so that a test may copy the same fixture several times.
inline std::string CopyFolder(const flashembed::testing::TempDir& dir, const std::string& source,
                              const std::string& name) {
  static int copies = 0;
  const std::string copy = dir.Sub(name + "_" + std::to_string(++copies));
  std::filesystem::copy(source, copy, std::filesystem::copy_options::recursive);
  return copy;
}

}  // namespace flashembed::encoders::testing

#endif  // FLASHEMBED_TESTS_ENCODERS_MODEL_FOLDER_FIXTURE_H_
