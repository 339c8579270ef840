// Shared helpers for flashembed tests: status assertions and checks,
// temporary folders and folder listings (temp_dir.h) and nested JSON.
#ifndef FLASHEMBED_TESTS_TESTING_TEST_UTIL_H_
#define FLASHEMBED_TESTS_TESTING_TEST_UTIL_H_

#include <gtest/gtest.h>

#include <chrono>
#include <ostream>
#include <string>
#include <thread>

#include "base/status.h"
#include "tests/testing/temp_dir.h"

#define ASSERT_OK(expr)                                \
  do {                                                 \
    const ::flashembed::Status fe_s_ = (expr);         \
    ASSERT_TRUE(fe_s_.ok()) << #expr << ": " << fe_s_; \
  } while (0)
#define EXPECT_OK(expr)                                \
  do {                                                 \
    const ::flashembed::Status fe_s_ = (expr);         \
    EXPECT_TRUE(fe_s_.ok()) << #expr << ": " << fe_s_; \
  } while (0)
// Unwraps a Result or fails the test.
#define ASSERT_OK_AND_ASSIGN(lhs, rexpr) \
  ASSERT_OK_AND_ASSIGN_IMPL_(FE_CONCAT_(fe_test_result_, __LINE__), lhs, rexpr)
#define ASSERT_OK_AND_ASSIGN_IMPL_(tmp, lhs, rexpr)        \
  auto tmp = (rexpr);                                      \
  ASSERT_TRUE(tmp.ok()) << #rexpr << ": " << tmp.status(); \
  lhs = std::move(tmp).value()

namespace flashembed::testing {

// Whether the message of `s` contains `text`.
inline bool Contains(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

// Calls `health` (a Status()) every 50 ms until it returns OK, for at most
// `seconds`; its last result.
template <typename Health>
Status OkWithin(Health health, int seconds) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  Status status = health();
  while (!status.ok() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    status = health();
  }
  return status;
}

// A JSON object nested `levels` deep (levels >= 1): {"a":{"a":...{}...}}.
inline std::string NestedJsonObject(size_t levels) {
  std::string out;
  for (size_t i = 1; i < levels; ++i) out += "{\"a\":";
  out += "{}";
  out += std::string(levels - 1, '}');
  return out;
}

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TESTING_TEST_UTIL_H_
