#include "encoders/hf_tokenizer_common.h"

#include <fmt/format.h>
#include <utf8proc.h>

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/utf8.h"

namespace flashembed::encoders::hf {

namespace {

// Lowercase mappings Rust's char::to_lowercase (Unicode 16) has and
// utf8proc 2.8 (Unicode 15, Debian 12's libutf8proc2) lacks: cp in
// [first, last] maps to target + (cp - first). Measured against 2.8: an
// older utf8proc also lacks Unicode 14's pairs (U+A7C0, U+10570, ...).
struct LowercaseRange {
  char32_t first;
  char32_t last;
  char32_t target;
};
constexpr LowercaseRange kNewLowercase[] = {
    {0x1C89, 0x1C89, 0x1C8A},    {0xA7CB, 0xA7CB, 0x0264}, {0xA7CC, 0xA7CC, 0xA7CD},
    {0xA7CE, 0xA7CE, 0xA7CF},    {0xA7D2, 0xA7D2, 0xA7D3}, {0xA7D4, 0xA7D4, 0xA7D5},
    {0xA7DA, 0xA7DA, 0xA7DB},    {0xA7DC, 0xA7DC, 0x019B}, {0x10D50, 0x10D65, 0x10D70},
    {0x16EA0, 0x16EB8, 0x16EBB},
};

// Simple lowercase mapping of `cp` (non-ASCII, not U+0130) as Rust gives it.
char32_t SimpleLowercase(char32_t cp) {
  for (const LowercaseRange& r : kNewLowercase) {
    if (cp >= r.first && cp <= r.last) return r.target + (cp - r.first);
  }
  return static_cast<char32_t>(utf8proc_tolower(static_cast<utf8proc_int32_t>(cp)));
}

}  // namespace

std::vector<NormChar> ToNormChars(std::string_view text, size_t begin, size_t end) {
  std::vector<NormChar> chars;
  chars.reserve(end - begin);
  for (size_t pos = begin; pos < end;) {
    const Utf8Char c = DecodeUtf8(text, pos);
    chars.push_back({c.cp, pos, pos + c.length});
    pos += c.length;
  }
  return chars;
}

size_t DecomposeChar(char32_t cp, char32_t (&out)[kMaxDecomposition]) {
  // Nothing below U+00C0 decomposes.
  if (cp >= 0xC0 && cp != 0x11938) {
    utf8proc_int32_t buffer[kMaxDecomposition];
    const utf8proc_ssize_t n = utf8proc_decompose_char(
        static_cast<utf8proc_int32_t>(cp), buffer, static_cast<utf8proc_ssize_t>(kMaxDecomposition),
        UTF8PROC_DECOMPOSE, nullptr);
    if (n > 0 && static_cast<size_t>(n) <= kMaxDecomposition) {
      const auto count = static_cast<size_t>(n);
      for (size_t k = 0; k < count; ++k) out[k] = static_cast<char32_t>(buffer[k]);
      return count;
    }
  }
  out[0] = cp;
  return 1;
}

int Utf8procCombiningClass(char32_t cp) {
  return utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
}

void Lowercase(std::vector<NormChar>* chars) {
  std::vector<NormChar> out;
  out.reserve(chars->size());
  for (const NormChar& c : *chars) {
    if (c.cp < 0x80) {
      out.push_back({(c.cp >= 'A' && c.cp <= 'Z') ? c.cp + 32 : c.cp, c.begin, c.end});
    } else if (c.cp == 0x130) {  // İ -> i + COMBINING DOT ABOVE
      out.push_back({0x69, c.begin, c.end});
      out.push_back({0x307, c.begin, c.end});
    } else {
      out.push_back({SimpleLowercase(c.cp), c.begin, c.end});
    }
  }
  *chars = std::move(out);
}

size_t SkipWhitespaceForward(std::string_view text, size_t pos) {
  while (pos < text.size()) {
    const Utf8Char c = DecodeUtf8(text, pos);
    if (!c.ok() || !IsWhitespace(c.cp)) break;
    pos += c.length;
  }
  return pos;
}

size_t SkipWhitespaceBackward(std::string_view text, size_t floor, size_t pos) {
  while (pos > floor) {
    size_t start = pos - 1;
    while (start > floor && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    const Utf8Char c = DecodeUtf8(text, start);
    if (!c.ok() || start + c.length != pos || !IsWhitespace(c.cp)) break;
    pos = start;
  }
  return pos;
}

Status CheckEncodeArgs(std::string_view text, size_t max_tokens) {
  if (max_tokens == 1) {
    return Status::InvalidArgument("max_tokens must be 0 (no limit) or at least 2, got 1");
  }
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return Status::InvalidArgument("invalid UTF-8 at byte " + std::to_string(bad) + " of a " +
                                   std::to_string(text.size()) + "-byte text");
  }
  return Status::OK();
}

void TruncatePairLongestFirst(size_t budget, std::vector<Piece>* first,
                              std::vector<Piece>* second) {
  if (first->size() + second->size() <= budget) return;
  size_t n1 = first->size(), n2 = second->size();
  const bool swap = n1 > n2;
  if (swap) std::swap(n1, n2);
  n2 = n1 > budget ? n1 : std::max(n1, budget - n1);
  if (n1 + n2 > budget) {
    n1 = budget / 2;
    n2 = n1 + budget % 2;
  }
  if (swap) std::swap(n1, n2);
  if (first->size() > n1) first->resize(n1);
  if (second->size() > n2) second->resize(n2);
}

Result<std::string> ReadTokenizerFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open tokenizer file");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) return Status::IOError(path + ": read failed");
  return buffer.str();
}

Status BadTokenId(const std::string& where, const std::string& token, const std::string& id) {
  return Status::InvalidArgument(where + ": token \"" + token + "\" has id " + id +
                                 ", expected an integer in [0, " + std::to_string(kMaxTokenId) +
                                 ")");
}

std::string_view IdToToken(const std::vector<std::string>& id_to_token, int32_t id) {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token.size()) return {};
  return id_to_token[static_cast<size_t>(id)];
}

Result<std::vector<Piece>> PiecesFromIds(std::span<const int32_t> ids,
                                         const std::vector<std::string>& id_to_token) {
  std::vector<Piece> pieces;
  pieces.reserve(ids.size());
  for (size_t i = 0; i < ids.size(); ++i) {
    const std::string_view token = IdToToken(id_to_token, ids[i]);
    if (token.empty()) {
      return Status::InvalidArgument(
          fmt::format("token id {} at position {} is not in the vocabulary (ids 0..{})", ids[i], i,
                      id_to_token.size() - 1));
    }
    pieces.push_back(Piece{ids[i], std::string(token), 0, 0});
  }
  return pieces;
}

}  // namespace flashembed::encoders::hf
