// UTF-8, the one implementation every module uses: encoding one code point
// (AppendUtf8), decoding one (DecodeUtf8) and validating text
// (FindInvalidUtf8, IsValidUtf8, Utf8Length). Well-formed means RFC 3629 /
// Unicode Table 3-7: no overlong form, no surrogate (U+D800..U+DFFF), nothing
// above U+10FFFF, no truncated sequence, no stray continuation byte.
#ifndef FLASHEMBED_BASE_UTF8_H_
#define FLASHEMBED_BASE_UTF8_H_

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace flashembed {

// Appends `cp` as UTF-8 (1..4 bytes). REQUIRES: cp <= 0x10FFFF.
inline void AppendUtf8(char32_t cp, std::string* out) {
  if (cp < 0x80) {
    out->push_back(static_cast<char>(cp));
  } else if (cp < 0x800) {
    out->push_back(static_cast<char>(0xC0 | (cp >> 6)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else if (cp < 0x10000) {
    out->push_back(static_cast<char>(0xE0 | (cp >> 12)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  } else {
    out->push_back(static_cast<char>(0xF0 | (cp >> 18)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
    out->push_back(static_cast<char>(0x80 | (cp & 0x3F)));
  }
}

// One decoded UTF-8 sequence: its code point and its length in bytes.
struct Utf8Char {
  char32_t cp = 0;
  size_t length = 0;  // 1..4; 0 = invalid (cp is then 0)
  bool ok() const { return length != 0; }
};

// Decodes the sequence that starts at text[pos]. Returns length 0 (the
// invalid marker) when the bytes there are not a well-formed sequence (see
// the top of this file); what a caller does then (refuse, replace, skip one
// byte) is its own choice. REQUIRES: pos < text.size().
inline Utf8Char DecodeUtf8(std::string_view text, size_t pos) {
  const auto* p = reinterpret_cast<const unsigned char*>(text.data()) + pos;
  const size_t left = text.size() - pos;
  const unsigned char b0 = p[0];
  if (b0 < 0x80) return {b0, 1};
  size_t length = 0;
  char32_t cp = 0;
  unsigned char lo = 0x80;  // bounds of the second byte (Unicode Table 3-7)
  unsigned char hi = 0xBF;
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    length = 2, cp = b0 & 0x1F;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    length = 3, cp = b0 & 0x0F;
    if (b0 == 0xE0) lo = 0xA0;  // overlong
    if (b0 == 0xED) hi = 0x9F;  // surrogates
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    length = 4, cp = b0 & 0x07;
    if (b0 == 0xF0) lo = 0x90;  // overlong
    if (b0 == 0xF4) hi = 0x8F;  // above U+10FFFF
  } else {
    return {};  // a continuation byte, C0/C1 (always overlong) or F5..FF
  }
  if (left < length || p[1] < lo || p[1] > hi) return {};
  cp = (cp << 6) | (p[1] & 0x3F);
  for (size_t k = 2; k < length; ++k) {
    if ((p[k] & 0xC0) != 0x80) return {};
    cp = (cp << 6) | (p[k] & 0x3F);
  }
  return {cp, length};
}

// Offset of the first byte that does not start a well-formed sequence
// (scanning sequence by sequence from the start), or std::string_view::npos
// when all of `text` is well-formed UTF-8.
size_t FindInvalidUtf8(std::string_view text);

inline bool IsValidUtf8(std::string_view text) {
  return FindInvalidUtf8(text) == std::string_view::npos;
}

// The number of code points of `text`, or nullopt if it is not well-formed.
std::optional<size_t> Utf8Length(std::string_view text);

}  // namespace flashembed

#endif  // FLASHEMBED_BASE_UTF8_H_
