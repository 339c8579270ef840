#include "base/status.h"

#include <gtest/gtest.h>

#include <memory>

#include "base/hash.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

Status FailIfNegative(int x) {
  if (x < 0) return Status::InvalidArgument("negative: " + std::to_string(x));
  return Status::OK();
}

Result<int> Half(int x) {
  FE_RETURN_IF_ERROR(FailIfNegative(x));
  if (x % 2 != 0) return Status::InvalidArgument("odd");
  return x / 2;
}

Result<int> Quarter(int x) {
  FE_ASSIGN_OR_RETURN(int h, Half(x));
  FE_ASSIGN_OR_RETURN(int q, Half(h));
  return q;
}

TEST(Status, OkAndErrorsCarryCodeAndMessage) {
  EXPECT_TRUE(Status::OK().ok());
  Status s = Status::NotFound("no such key");
  EXPECT_FALSE(s.ok());
  EXPECT_TRUE(s.IsNotFound());
  EXPECT_EQ(s.message(), "no such key");
  EXPECT_EQ(s.ToString(), "not_found: no such key");
  EXPECT_EQ(Status::OK().ToString(), "OK");
  EXPECT_EQ(s.WithContext("reading x").message(), "reading x: no such key");
  EXPECT_TRUE(Status::OK().WithContext("ctx").ok());
}

TEST(Result, PropagatesValuesAndErrors) {
  ASSERT_OK_AND_ASSIGN(int q, Quarter(8));
  EXPECT_EQ(q, 2);
  Result<int> odd = Quarter(6);
  ASSERT_FALSE(odd.ok());
  EXPECT_EQ(odd.status().message(), "odd");
  Result<int> neg = Quarter(-4);
  ASSERT_FALSE(neg.ok());
  EXPECT_TRUE(neg.status().IsInvalidArgument());
  EXPECT_EQ(neg.status().message(), "negative: -4");
}

TEST(Result, HoldsMoveOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

TEST(Result, OkStatusBecomesInternalError) {
  Result<int> r = Status::OK();
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(ResultDeathTest, ValueOnErrorAborts) {
  Result<int> r = Status::NotFound("gone");
  EXPECT_DEATH((void)r.value(), "gone");
}

TEST(Hash64, IsDeterministicAndSpreads) {
  EXPECT_EQ(Hash64("hello"), Hash64("hello"));
  EXPECT_NE(Hash64("hello"), Hash64("hellp"));
  EXPECT_NE(Hash64("hello", 1), Hash64("hello", 2));
  EXPECT_NE(Hash64(""), Hash64(std::string_view("\0", 1)));
  // Pinned value: hashes are persisted (snapshot checksums), so they must not
  // change between builds.
  EXPECT_EQ(Hash64("flashembed"), 0x7cb80371e3e2feccULL);
}

TEST(CheckHash64, NamesWhatDisagreesWithTheHeader) {
  const std::string payload = "index bytes";
  EXPECT_OK(CheckHash64("flat snapshot", payload, payload.size(), Hash64(payload)));
  Status s = CheckHash64("flat snapshot", payload.substr(1), payload.size(), Hash64(payload));
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "flat snapshot truncated: payload has 10 bytes, header says 11");
  EXPECT_TRUE(CheckHash64("x", payload + "!", payload.size(), Hash64(payload)).IsCorruption());
  s = CheckHash64("flat snapshot", "index bytez", payload.size(), Hash64(payload));
  EXPECT_TRUE(s.IsCorruption());
  EXPECT_EQ(s.message(), "flat snapshot checksum mismatch");
  EXPECT_OK(CheckHash64("empty", "", 0, Hash64("")));
}

}  // namespace
}  // namespace flashembed
