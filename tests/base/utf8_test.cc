#include "base/utf8.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace flashembed {
namespace {

constexpr size_t kNpos = std::string_view::npos;

// The code point at the start of `bytes`, or -1 if DecodeUtf8 refuses it;
// a decoded sequence must be exactly `bytes`.
int64_t Decoded(std::string_view bytes) {
  const Utf8Char c = DecodeUtf8(bytes, 0);
  if (!c.ok()) {
    EXPECT_EQ(c.cp, 0u);
    return -1;
  }
  EXPECT_EQ(c.length, bytes.size()) << "of a " << bytes.size() << "-byte sequence";
  return c.cp;
}

std::string Encoded(char32_t cp) {
  std::string out;
  AppendUtf8(cp, &out);
  return out;
}

bool IsScalarValue(char32_t cp) { return cp <= 0x10FFFF && (cp < 0xD800 || cp > 0xDFFF); }

TEST(Utf8, EveryLengthAndItsBoundaries) {
  EXPECT_EQ(Decoded("A"), 0x41);
  EXPECT_EQ(Decoded(std::string_view("\0", 1)), 0);
  EXPECT_EQ(Decoded("\x7F"), 0x7F);
  EXPECT_EQ(Decoded("\xC2\x80"), 0x80);
  EXPECT_EQ(Decoded("\xC3\xA9"), 0xE9);  // é
  EXPECT_EQ(Decoded("\xDF\xBF"), 0x7FF);
  EXPECT_EQ(Decoded("\xE0\xA0\x80"), 0x800);
  EXPECT_EQ(Decoded("\xE6\x97\xA5"), 0x65E5);  // 日
  EXPECT_EQ(Decoded("\xEF\xBF\xBF"), 0xFFFF);
  EXPECT_EQ(Decoded("\xF0\x90\x80\x80"), 0x10000);
  EXPECT_EQ(Decoded("\xF0\x9F\x98\x80"), 0x1F600);  // 😀
  EXPECT_EQ(Decoded("\xF4\x8F\xBF\xBF"), 0x10FFFF);
  for (char32_t cp : {0x0u, 0x7Fu, 0x80u, 0x7FFu, 0x800u, 0xFFFFu, 0x10000u, 0x10FFFFu}) {
    EXPECT_EQ(Encoded(cp).size(), cp < 0x80 ? 1u : cp < 0x800 ? 2u : cp < 0x10000 ? 3u : 4u);
  }
}

TEST(Utf8, OverlongFormsAreInvalid) {
  EXPECT_EQ(Decoded("\xC0\x80"), -1);  // U+0000 in two bytes
  EXPECT_EQ(Decoded("\xC0\xAF"), -1);  // '/'
  EXPECT_EQ(Decoded("\xC1\xBF"), -1);
  EXPECT_EQ(Decoded("\xE0\x80\x80"), -1);
  EXPECT_EQ(Decoded("\xE0\x9F\xBF"), -1);  // U+07FF in three bytes
  EXPECT_EQ(Decoded("\xF0\x80\x80\x80"), -1);
  EXPECT_EQ(Decoded("\xF0\x8F\xBF\xBF"), -1);  // U+FFFF in four bytes
}

TEST(Utf8, SurrogatesAreInvalid) {
  EXPECT_EQ(Decoded("\xED\xA0\x80"), -1);  // U+D800
  EXPECT_EQ(Decoded("\xED\xAF\xBF"), -1);  // U+DBFF
  EXPECT_EQ(Decoded("\xED\xB0\x80"), -1);  // U+DC00
  EXPECT_EQ(Decoded("\xED\xBF\xBF"), -1);  // U+DFFF
  EXPECT_EQ(Decoded("\xED\x9F\xBF"), 0xD7FF);
  EXPECT_EQ(Decoded("\xEE\x80\x80"), 0xE000);
  // A surrogate pair written as two three-byte sequences (CESU-8).
  EXPECT_EQ(FindInvalidUtf8("ok\xED\xA0\xBD\xED\xB8\x80"), 2u);
}

TEST(Utf8, AboveU10FFFFIsInvalid) {
  EXPECT_EQ(Decoded("\xF4\x90\x80\x80"), -1);  // U+110000
  EXPECT_EQ(Decoded("\xF5\x80\x80\x80"), -1);
  EXPECT_EQ(Decoded("\xF7\xBF\xBF\xBF"), -1);
  EXPECT_EQ(Decoded("\xF8\x88\x80\x80\x80"), -1);  // the old five-byte form
  EXPECT_EQ(Decoded("\xFE"), -1);
  EXPECT_EQ(Decoded("\xFF"), -1);
}

TEST(Utf8, TruncatedSequencesAndStrayBytesAreInvalid) {
  EXPECT_EQ(Decoded("\xC3"), -1);
  EXPECT_EQ(Decoded("\xE6\x97"), -1);
  EXPECT_EQ(Decoded("\xE6"), -1);
  EXPECT_EQ(Decoded("\xF0\x9F\x98"), -1);
  EXPECT_EQ(Decoded("\xF0\x9F"), -1);
  EXPECT_EQ(Decoded("\x80"), -1);  // continuation bytes alone
  EXPECT_EQ(Decoded("\xBF"), -1);
  // A lead byte followed by something other than a continuation byte.
  EXPECT_EQ(Decoded("\xC3\x41"), -1);
  EXPECT_EQ(Decoded("\xE6\x41\xA5"), -1);
  EXPECT_EQ(Decoded("\xE6\x97\x41"), -1);
  EXPECT_EQ(Decoded("\xF0\x9F\x98\x41"), -1);
  // The view ends inside the sequence although the bytes go on in memory.
  const std::string whole = "\xE6\x97\xA5";
  EXPECT_FALSE(DecodeUtf8(std::string_view(whole).substr(0, 2), 0).ok());
}

TEST(Utf8, DecodesAtAnyPosition) {
  const std::string text = "a\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80z";
  size_t pos = 0;
  std::u32string cps;
  while (pos < text.size()) {
    const Utf8Char c = DecodeUtf8(text, pos);
    ASSERT_TRUE(c.ok()) << pos;
    cps.push_back(c.cp);
    pos += c.length;
  }
  EXPECT_EQ(cps, std::u32string({U'a', 0xE9, 0x65E5, 0x1F600, U'z'}));
  EXPECT_FALSE(DecodeUtf8(text, 2).ok());  // inside é
}

// Well-formed UTF-8 is exactly the encodings of the scalar values: every
// one decodes back, and every other sequence of up to four bytes whose
// leading bytes are not already a shorter sequence is refused.
TEST(Utf8, EveryScalarValueRoundTrips) {
  for (char32_t cp = 0; cp <= 0x10FFFF; ++cp) {
    const std::string bytes = Encoded(cp);
    const Utf8Char c = DecodeUtf8(bytes, 0);
    if (IsScalarValue(cp)) {
      ASSERT_TRUE(c.ok()) << std::hex << static_cast<uint32_t>(cp);
      ASSERT_EQ(c.cp, cp);
      ASSERT_EQ(c.length, bytes.size());
    } else {
      ASSERT_FALSE(c.ok()) << std::hex << static_cast<uint32_t>(cp);  // a surrogate
    }
  }
}

TEST(Utf8, EverySequenceOfUpToThreeBytesAgreesWithTheEncoder) {
  std::string bytes(3, '\0');
  for (unsigned b0 = 0; b0 < 256; ++b0) {
    for (unsigned b1 = 0; b1 < 256; ++b1) {
      for (unsigned b2 : {0x00u, 0x41u, 0x80u, 0x9Fu, 0xA0u, 0xBFu, 0xC0u, 0xFFu}) {
        bytes[0] = static_cast<char>(b0);
        bytes[1] = static_cast<char>(b1);
        bytes[2] = static_cast<char>(b2);
        for (size_t size = 1; size <= 3; ++size) {
          const std::string_view view(bytes.data(), size);
          const Utf8Char c = DecodeUtf8(view, 0);
          if (c.ok()) {
            ASSERT_TRUE(IsScalarValue(c.cp));
            ASSERT_EQ(Encoded(c.cp), view.substr(0, c.length)) << b0 << " " << b1 << " " << b2;
          }
        }
      }
    }
  }
}

TEST(Utf8, FourByteSequencesAgreeWithTheEncoder) {
  std::string bytes(4, '\0');
  for (unsigned b0 = 0xF0; b0 < 256; ++b0) {
    for (unsigned b1 = 0; b1 < 256; ++b1) {
      for (unsigned b2 : {0x41u, 0x80u, 0xBFu, 0xC0u}) {
        for (unsigned b3 : {0x41u, 0x80u, 0xBFu, 0xC0u}) {
          bytes = {static_cast<char>(b0), static_cast<char>(b1), static_cast<char>(b2),
                   static_cast<char>(b3)};
          const Utf8Char c = DecodeUtf8(bytes, 0);
          if (c.ok()) {
            ASSERT_TRUE(IsScalarValue(c.cp));
            ASSERT_EQ(Encoded(c.cp), bytes);
          }
          const bool expected = b0 <= 0xF4 && (b1 & 0xC0) == 0x80 && (b2 & 0xC0) == 0x80 &&
                                (b3 & 0xC0) == 0x80 && !(b0 == 0xF0 && b1 < 0x90) &&
                                !(b0 == 0xF4 && b1 > 0x8F);
          ASSERT_EQ(c.ok(), expected) << b0 << " " << b1 << " " << b2 << " " << b3;
        }
      }
    }
  }
}

TEST(Utf8, FindInvalidUtf8NamesTheFirstBadByte) {
  EXPECT_EQ(FindInvalidUtf8(""), kNpos);
  EXPECT_EQ(FindInvalidUtf8("plain ascii"), kNpos);
  EXPECT_EQ(FindInvalidUtf8(std::string_view("nul\0inside", 10)), kNpos);
  EXPECT_EQ(FindInvalidUtf8("a\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80"), kNpos);
  EXPECT_EQ(FindInvalidUtf8("\xFF"), 0u);
  EXPECT_EQ(FindInvalidUtf8("ab\xC3"), 2u);                // truncated at the end
  EXPECT_EQ(FindInvalidUtf8("\xC3\xA9\x80x"), 2u);         // stray continuation
  EXPECT_EQ(FindInvalidUtf8("\xE6\x97\xA5\xC0\x80"), 3u);  // overlong after a valid one
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));
  EXPECT_FALSE(IsValidUtf8("\xF4\x90\x80\x80"));
}

TEST(Utf8, Utf8LengthCountsCodePoints) {
  EXPECT_EQ(Utf8Length(""), 0u);
  EXPECT_EQ(Utf8Length("abc"), 3u);
  EXPECT_EQ(Utf8Length("a\xC3\xA9\xE6\x97\xA5\xF0\x9F\x98\x80"), 4u);
  EXPECT_EQ(Utf8Length("\xC0\x80"), std::nullopt);
  EXPECT_EQ(Utf8Length("\xED\xA0\x80"), std::nullopt);
  EXPECT_EQ(Utf8Length("abc\xE6\x97"), std::nullopt);
}

}  // namespace
}  // namespace flashembed
