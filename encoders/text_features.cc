#include "encoders/text_features.h"

#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <utf8proc.h>

#include "base/utf8.h"

namespace flashembed::encoders {
namespace {

// ---------------------------------------------------------------------------
// Character classes
// ---------------------------------------------------------------------------

struct CodeRange {
  char32_t lo;
  char32_t hi;  // inclusive
};

// Scripts normally written without spaces between words, sorted by `lo`.
// Compatibility forms (half-width katakana, CJK compatibility ideographs,
// Kangxi radicals) are listed too, although NFKC maps most of them into the
// main blocks first.
constexpr CodeRange kUnsegmentedRanges[] = {
    {0x0E00, 0x0EFF},    // Thai, Lao
    {0x1000, 0x109F},    // Myanmar
    {0x1780, 0x17FF},    // Khmer
    {0x1950, 0x1A1F},    // Tai Le, New Tai Lue, Khmer Symbols
    {0x1A20, 0x1AAF},    // Tai Tham
    {0x1B00, 0x1B7F},    // Balinese
    {0x2E80, 0x2FDF},    // CJK Radicals Supplement, Kangxi Radicals
    {0x3005, 0x3007},    // 々 〆 〇
    {0x3021, 0x3029},    // Hangzhou numerals
    {0x3031, 0x3035},    // kana repeat marks
    {0x3038, 0x303C},    // more ideographic iteration marks
    {0x3040, 0x30FF},    // Hiragana, Katakana
    {0x3100, 0x312F},    // Bopomofo
    {0x31A0, 0x31BF},    // Bopomofo Extended
    {0x31F0, 0x31FF},    // Katakana Phonetic Extensions
    {0x3400, 0x4DBF},    // CJK Extension A
    {0x4E00, 0x9FFF},    // CJK Unified Ideographs
    {0xA000, 0xA4CF},    // Yi
    {0xA980, 0xA9FF},    // Javanese, Myanmar Extended-B
    {0xAA60, 0xAADF},    // Myanmar Extended-A, Tai Viet
    {0xF900, 0xFAFF},    // CJK Compatibility Ideographs
    {0xFF66, 0xFF9F},    // half-width Katakana
    {0x16FE0, 0x16FFF},  // Ideographic Symbols and Punctuation
    {0x17000, 0x18CFF},  // Tangut, Khitan
    {0x1B000, 0x1B2FF},  // Kana Supplement / Extended, Nushu
    {0x20000, 0x323AF},  // CJK Extensions B..H, Compatibility Supplement
};

bool IsUnsegmentedScript(char32_t cp) {
  if (cp < 0x0E00) return false;  // fast path for Latin, Greek, Cyrillic, ...
  const auto* it = std::upper_bound(std::begin(kUnsegmentedRanges), std::end(kUnsegmentedRanges),
                                    cp, [](char32_t c, const CodeRange& r) { return c < r.lo; });
  return it != std::begin(kUnsegmentedRanges) && cp <= (it - 1)->hi;
}

std::array<CharClass, 128> MakeAsciiClasses() {
  std::array<CharClass, 128> classes{};
  for (int32_t cp = 0; cp < 128; ++cp) classes[cp] = ClassifyFromTables(cp);
  return classes;
}

// ---------------------------------------------------------------------------
// Normalisation: NFKC + full case folding + removal of default-ignorable code
// points (utf8proc's NFKC_Casefold), done without per-call allocation beyond
// the reused buffer.
// ---------------------------------------------------------------------------

constexpr auto kNormalizeOptions = static_cast<utf8proc_option_t>(
    UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_COMPAT | UTF8PROC_CASEFOLD | UTF8PROC_IGNORE);

}  // namespace

CharClass ClassifyFromTables(int32_t cp) {
  switch (utf8proc_category(cp)) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO:
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO:
      return IsUnsegmentedScript(static_cast<char32_t>(cp)) ? CharClass::kUnsegmented
                                                            : CharClass::kWord;
    case UTF8PROC_CATEGORY_MN:
    case UTF8PROC_CATEGORY_MC:
    case UTF8PROC_CATEGORY_ME: return CharClass::kMark;
    case UTF8PROC_CATEGORY_PC:
    case UTF8PROC_CATEGORY_PD:
    case UTF8PROC_CATEGORY_PS:
    case UTF8PROC_CATEGORY_PE:
    case UTF8PROC_CATEGORY_PI:
    case UTF8PROC_CATEGORY_PF:
    case UTF8PROC_CATEGORY_PO: return CharClass::kPunct;
    case UTF8PROC_CATEGORY_SM:
    case UTF8PROC_CATEGORY_SC:
    case UTF8PROC_CATEGORY_SK:
    case UTF8PROC_CATEGORY_SO: return CharClass::kSymbol;
    default:  // Z* separators, C* control / format / private use / unassigned
      return CharClass::kSeparator;
  }
}

const std::array<CharClass, 128> kAsciiClasses = MakeAsciiClasses();

int64_t NormalizePiece(std::string_view piece, std::vector<int32_t>* buffer) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(piece.data());
  const bool ascii =
      std::all_of(bytes, bytes + piece.size(), [](unsigned char b) { return b < 0x80; });
  if (buffer->size() < piece.size()) buffer->resize(piece.size());
  if (ascii) {
    // NFKC is the identity on ASCII, case folding is lower-casing, and no
    // ASCII code point is default-ignorable.
    for (size_t i = 0; i < piece.size(); ++i) {
      const unsigned char b = bytes[i];
      (*buffer)[i] = (b >= 'A' && b <= 'Z') ? b + ('a' - 'A') : b;
    }
    return static_cast<int64_t>(piece.size());
  }
  utf8proc_ssize_t n;
  for (;;) {
    n = utf8proc_decompose(bytes, static_cast<utf8proc_ssize_t>(piece.size()), buffer->data(),
                           static_cast<utf8proc_ssize_t>(buffer->size()), kNormalizeOptions);
    if (n < 0) return n;
    if (static_cast<size_t>(n) <= buffer->size()) break;
    buffer->resize(static_cast<size_t>(n));  // compatibility forms can expand
  }
  return utf8proc_normalize_utf32(buffer->data(), n, kNormalizeOptions);
}

// The start of an ASCII character or of a CJK unified
// ideograph (U+4E00..U+9FFF). Both have combining class 0, no decomposition,
// and are never the second half of a canonical composition. Cutting at a
// lead byte also keeps "valid UTF-8" a property of the pieces.
size_t NextSafeCut(std::string_view text, size_t from) {
  for (size_t i = from; i < text.size(); ++i) {
    const auto b = static_cast<unsigned char>(text[i]);
    if (b < 0x80 || (b >= 0xE5 && b <= 0xE9)) return i;
    if (b == 0xE4 && i + 1 < text.size() && static_cast<unsigned char>(text[i + 1]) >= 0xB8) {
      return i;
    }
  }
  return text.size();
}

Status NormalizeError(int64_t code, std::string_view text) {
  if (code == UTF8PROC_ERROR_INVALIDUTF8) {
    // utf8proc refuses exactly what FindInvalidUtf8 does (both follow
    // Unicode Table 3-7), so `bad` is found; text.size() only for safety.
    const size_t bad = FindInvalidUtf8(text);
    return Status::InvalidArgument(
        fmt::format("invalid UTF-8 at byte {}", bad == std::string_view::npos ? text.size() : bad));
  }
  if (code == UTF8PROC_ERROR_NOMEM)
    return Status::ResourceExhausted(utf8proc_errmsg(static_cast<utf8proc_ssize_t>(code)));
  if (code == UTF8PROC_ERROR_OVERFLOW) {
    return Status::InvalidArgument(std::string("text too long to normalise: ") +
                                   utf8proc_errmsg(static_cast<utf8proc_ssize_t>(code)));
  }
  return Status::Internal(std::string("utf8proc: ") +
                          utf8proc_errmsg(static_cast<utf8proc_ssize_t>(code)));
}

Result<std::vector<TokenSpan>> WordTokenSpans(std::string_view text) {
  constexpr int32_t kZeroWidthJoiner = 0x200D;
  enum class Open { kNone, kWord, kOther };  // the token the next code point may extend
  std::vector<TokenSpan> spans;
  spans.reserve(text.size() / 5 + 1);
  Open open = Open::kNone;
  size_t piece_code_points = 0;  // letters/digits in the open word piece
  bool join_next = false;        // the open token ends with a ZWJ
  bool lone_regional = false;    // the open token is one regional indicator
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const Utf8Char decoded = DecodeUtf8(text, pos);
    if (!decoded.ok()) return Status::InvalidArgument(fmt::format("invalid UTF-8 at byte {}", pos));
    const auto cp = static_cast<int32_t>(decoded.cp);
    pos += decoded.length;
    const auto extend = [&] { spans.back().end = pos; };
    const auto begin_token = [&](Open kind, bool continues_word) {
      spans.push_back({start, pos, continues_word});
      open = kind;
    };
    const CharClass cls = Classify(cp);
    // Emoji modifiers (skin tones), tag characters (subdivision flags) and a
    // second regional indicator (a flag is a pair) belong to what precedes.
    const bool modifier = (cp >= 0x1F3FB && cp <= 0x1F3FF) || (cp >= 0xE0020 && cp <= 0xE007F);
    const bool regional = cp >= 0x1F1E6 && cp <= 0x1F1FF;
    if (open != Open::kNone && (cp == kZeroWidthJoiner || modifier || (regional && lone_regional) ||
                                (join_next && cls != CharClass::kSeparator))) {
      join_next = cp == kZeroWidthJoiner;
      lone_regional = false;
      extend();
      continue;
    }
    join_next = false;
    lone_regional = regional;
    switch (cls) {
      case CharClass::kWord:
        if (open == Open::kWord && piece_code_points < kWordPieceCodePoints) {
          extend();
          ++piece_code_points;
        } else {
          begin_token(Open::kWord, /*continues_word=*/open == Open::kWord);
          piece_code_points = 1;
        }
        break;
      case CharClass::kMark:
        if (open != Open::kNone) {
          extend();
        } else {
          begin_token(Open::kWord, false);
          piece_code_points = 0;
        }
        break;
      case CharClass::kUnsegmented:
      case CharClass::kSymbol:
      case CharClass::kPunct: begin_token(Open::kOther, false); break;
      case CharClass::kSeparator: open = Open::kNone; break;
    }
  }
  return spans;
}

}  // namespace flashembed::encoders
