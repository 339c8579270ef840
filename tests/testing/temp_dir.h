// TempDir: a fresh folder for one test, and Listing: what a folder holds
// (to check that something left it unchanged). Standard library and POSIX
// only, so tests without an include path into the source tree (cli_tests)
// can use it too; test_util.h includes it.
#ifndef FLASHEMBED_TESTS_TESTING_TEMP_DIR_H_
#define FLASHEMBED_TESTS_TESTING_TEMP_DIR_H_

#include <stdlib.h>
#include <sys/stat.h>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <string>
#include <system_error>
#include <utility>

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

// Every file of a folder with its size and modification time (ns).
inline std::map<std::string, std::pair<uintmax_t, int64_t>> Listing(const std::string& folder) {
  std::map<std::string, std::pair<uintmax_t, int64_t>> out;
  for (const auto& entry : std::filesystem::directory_iterator(folder)) {
    struct stat st {};
    ::stat(entry.path().c_str(), &st);
    out[entry.path().filename()] = {static_cast<uintmax_t>(st.st_size),
                                    st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec};
  }
  return out;
}

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TESTING_TEMP_DIR_H_
