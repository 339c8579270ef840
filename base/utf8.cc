#include "base/utf8.h"

namespace flashembed {

size_t FindInvalidUtf8(std::string_view text) {
  size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;  // the common case, without the call
      continue;
    }
    const size_t length = DecodeUtf8(text, i).length;
    if (length == 0) return i;
    i += length;
  }
  return std::string_view::npos;
}

std::optional<size_t> Utf8Length(std::string_view text) {
  size_t count = 0;
  for (size_t i = 0; i < text.size(); ++count) {
    const size_t length = DecodeUtf8(text, i).length;
    if (length == 0) return std::nullopt;
    i += length;
  }
  return count;
}

}  // namespace flashembed
