// TempDir: a fresh folder for one test. Standard library and POSIX only, so
// tests without an include path into the source tree (cli_tests) can use it
// too; test_util.h includes it.
#ifndef FLASHEMBED_TESTS_TESTING_TEMP_DIR_H_
#define FLASHEMBED_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <string>
#include <system_error>

namespace flashembed::testing {

// A fresh folder under $TMPDIR (or /tmp), removed with its contents on scope exit.
class TempDir {
 public:
  TempDir() {
    const char* base = getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/flashembed-test-XXXXXX";
    char* made = mkdtemp(pattern.data());
    if (made == nullptr) std::abort();
    path_ = made;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string Sub(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TESTING_TEMP_DIR_H_
