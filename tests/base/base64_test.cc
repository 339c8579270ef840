#include "base/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace flashembed {
namespace {

// RFC 4648 section 10's test vectors, both ways.
TEST(Base64, EncodesAndDecodesTheRfcVectors) {
  const std::pair<std::string, std::string> vectors[] = {{"", ""},
                                                         {"f", "Zg=="},
                                                         {"fo", "Zm8="},
                                                         {"foo", "Zm9v"},
                                                         {"foob", "Zm9vYg=="},
                                                         {"fooba", "Zm9vYmE="},
                                                         {"foobar", "Zm9vYmFy"}};
  for (const auto& [plain, encoded] : vectors) {
    EXPECT_EQ(Base64Encode(plain), encoded);
    auto decoded = Base64Decode(encoded);
    ASSERT_TRUE(decoded.ok()) << encoded << ": " << decoded.status();
    EXPECT_EQ(*decoded, plain);
  }
}

TEST(Base64, RoundTripsEveryByteAndAcceptsUrlSafeUnpaddedAndDataUrls) {
  std::string bytes;
  for (int i = 0; i < 256; ++i) bytes += static_cast<char>(i);
  bytes += bytes.substr(0, 100);
  const std::string encoded = Base64Encode(bytes);
  EXPECT_EQ(*Base64Decode(encoded), bytes);
  std::string url_safe = encoded;
  for (char& c : url_safe) c = c == '+' ? '-' : c == '/' ? '_' : c;
  while (url_safe.back() == '=') url_safe.pop_back();
  EXPECT_EQ(*Base64Decode(url_safe), bytes);
  EXPECT_EQ(*Base64Decode("data:image/png;base64," + encoded), bytes);
}

TEST(Base64, RefusesWhatIsNotBase64NamingWhere) {
  auto bad = Base64Decode("Zm9v YmFy");
  ASSERT_TRUE(bad.status().IsInvalidArgument());
  EXPECT_NE(bad.status().message().find("character 4"), std::string::npos) << bad.status();
  EXPECT_TRUE(Base64Decode("Zm9vY").status().IsInvalidArgument());  // 5 characters: not whole bytes
  EXPECT_TRUE(Base64Decode("data:image/png,Zm9v").status().IsInvalidArgument());
  EXPECT_TRUE(Base64Decode("Zm9v!").status().IsInvalidArgument());
}

}  // namespace
}  // namespace flashembed
