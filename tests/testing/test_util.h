// Shared helpers for flashembed tests: status assertions and temporary folders.
#ifndef FLASHEMBED_TESTS_TESTING_TEST_UTIL_H_
#define FLASHEMBED_TESTS_TESTING_TEST_UTIL_H_

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <ostream>
#include <string>

#include "base/status.h"

#define ASSERT_OK(expr)                                  \
  do {                                                   \
    const ::flashembed::Status fe_s_ = (expr);           \
    ASSERT_TRUE(fe_s_.ok()) << #expr << ": " << fe_s_;   \
  } while (0)
#define EXPECT_OK(expr)                                  \
  do {                                                   \
    const ::flashembed::Status fe_s_ = (expr);           \
    EXPECT_TRUE(fe_s_.ok()) << #expr << ": " << fe_s_;   \
  } while (0)
// Unwraps a Result or fails the test.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(FE_CONCAT_(fe_test_result_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, rexpr)               \
  auto tmp = (rexpr);                                             \
  ASSERT_TRUE(tmp.ok()) << #rexpr << ": " << tmp.status();        \
  lhs = std::move(tmp).value()

namespace flashembed::testing {

// A JSON object nested `levels` deep (levels >= 1): {"a":{"a":...{}...}}.
inline std::string NestedJsonObject(size_t levels) {
  std::string out;
  for (size_t i = 1; i < levels; ++i) out += "{\"a\":";
  out += "{}";
  out += std::string(levels - 1, '}');
  return out;
}

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

#endif  // FLASHEMBED_TESTS_TESTING_TEST_UTIL_H_
