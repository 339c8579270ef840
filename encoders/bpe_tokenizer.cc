#include "encoders/bpe_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <sstream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/utf8.h"

namespace flashembed::encoders {

namespace {

// ---------------------------------------------------------------------------
// Character classes, as the `tokenizers` 0.23.2 binary sees them
// ---------------------------------------------------------------------------

// The tables below patch utf8proc (Unicode 15) where HF differs. They were
// measured by running HF's Replace / Split / Lowercase / NFD normalizers on
// every code point and comparing with utf8proc: its Oniguruma knows newer
// letters and digits (Unicode 16), while its normalization data is older
// (newer combining marks have class 0 to it, U+11938 does not decompose).
struct CodePointRange {
  char32_t first;
  char32_t last;
};

// clang-format off
// \p{L} to Oniguruma, unassigned to utf8proc (4924 code points).
constexpr CodePointRange kExtraLetterRanges[] = {
  {0x1C89, 0x1C8A}, {0xA7CB, 0xA7CD}, {0xA7DA, 0xA7DC}, {0x105C0, 0x105F3}, {0x10D4A, 0x10D65},
  {0x10D6F, 0x10D85}, {0x10EC2, 0x10EC4}, {0x11380, 0x11389}, {0x1138B, 0x1138B},
  {0x1138E, 0x1138E}, {0x11390, 0x113B5}, {0x113B7, 0x113B7}, {0x113D1, 0x113D1},
  {0x113D3, 0x113D3}, {0x11BC0, 0x11BE0}, {0x13460, 0x143FA}, {0x16100, 0x1611D},
  {0x16D40, 0x16D6C}, {0x18CFF, 0x18CFF}, {0x1E5D0, 0x1E5ED}, {0x1E5F0, 0x1E5F0},
  {0x2EBF0, 0x2EE5D},
};

// \p{N} to Oniguruma, unassigned to utf8proc (80 code points).
constexpr CodePointRange kExtraNumberRanges[] = {
  {0x10D40, 0x10D49}, {0x116D0, 0x116E3}, {0x11BF0, 0x11BF9}, {0x16130, 0x16139},
  {0x16D70, 0x16D79}, {0x1CCF0, 0x1CCF9}, {0x1E5F1, 0x1E5FA},
};

// Combining marks with a non-zero class in utf8proc that HF's NFC treats as
// starters (class 0): they block reordering and composition (108 code points).
constexpr CodePointRange kStarterMarkRanges[] = {
  {0x7FD, 0x7FD}, {0x898, 0x89F}, {0x8CA, 0x8D3}, {0x9FE, 0x9FE}, {0xC3C, 0xC3C}, {0xD3B, 0xD3C},
  {0xEBA, 0xEBA}, {0x1715, 0x1715}, {0x1ABF, 0x1ACE}, {0x1DF6, 0x1DFA}, {0xA82C, 0xA82C},
  {0x10D24, 0x10D27}, {0x10EAB, 0x10EAC}, {0x10EFD, 0x10EFF}, {0x10F46, 0x10F50},
  {0x10F82, 0x10F85}, {0x11070, 0x11070}, {0x1133B, 0x1133B}, {0x1145E, 0x1145E},
  {0x11839, 0x1183A}, {0x1193D, 0x1193E}, {0x11943, 0x11943}, {0x119E0, 0x119E0},
  {0x11A34, 0x11A34}, {0x11A47, 0x11A47}, {0x11A99, 0x11A99}, {0x11D42, 0x11D42},
  {0x11D44, 0x11D45}, {0x11D97, 0x11D97}, {0x11F41, 0x11F42}, {0x16FF0, 0x16FF1},
  {0x1E08F, 0x1E08F}, {0x1E130, 0x1E136}, {0x1E2AE, 0x1E2AE}, {0x1E2EC, 0x1E2EF},
  {0x1E4EC, 0x1E4EF},
};
// clang-format on

template <size_t N>
bool InRanges(const CodePointRange (&ranges)[N], char32_t cp) {
  const auto it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                                   [](char32_t v, const CodePointRange& r) { return v < r.first; });
  return it != std::begin(ranges) && cp <= std::prev(it)->last;
}

// Oniguruma's \s for UTF-8: U+0009..U+000D, U+0085 and Z[slp]; the same 25
// code points as Rust's char::is_whitespace.
bool IsSpace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
}

// The classes CLIP's Split regex tells apart.
enum class CharClass { kSpace, kLetter, kNumber, kOther };

CharClass ClassOf(char32_t cp) {
  if (cp < 0x80) {
    if (IsSpace(cp)) return CharClass::kSpace;
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::kLetter;
    if (cp >= '0' && cp <= '9') return CharClass::kNumber;
    return CharClass::kOther;
  }
  if (IsSpace(cp)) return CharClass::kSpace;
  switch (utf8proc_category(static_cast<utf8proc_int32_t>(cp))) {
    case UTF8PROC_CATEGORY_LU:
    case UTF8PROC_CATEGORY_LL:
    case UTF8PROC_CATEGORY_LT:
    case UTF8PROC_CATEGORY_LM:
    case UTF8PROC_CATEGORY_LO: return CharClass::kLetter;
    case UTF8PROC_CATEGORY_ND:
    case UTF8PROC_CATEGORY_NL:
    case UTF8PROC_CATEGORY_NO: return CharClass::kNumber;
    case UTF8PROC_CATEGORY_CN:
      if (InRanges(kExtraLetterRanges, cp)) return CharClass::kLetter;
      if (InRanges(kExtraNumberRanges, cp)) return CharClass::kNumber;
      return CharClass::kOther;
    default: return CharClass::kOther;
  }
}

// Canonical combining class as HF's normalization tables give it.
int CombiningClass(char32_t cp) {
  if (cp < 0x300) return 0;
  const int ccc = utf8proc_get_property(static_cast<utf8proc_int32_t>(cp))->combining_class;
  return ccc != 0 && InRanges(kStarterMarkRanges, cp) ? 0 : ccc;
}

// The primary composite of (starter, next), or 0 if there is none.
char32_t Compose(char32_t starter, char32_t next) {
  // No composition has an ASCII second char; HF's tables predate U+11938.
  if (next < 0x300 || (starter == 0x11935 && next == 0x11930)) return 0;
  utf8proc_int32_t pair[2] = {static_cast<utf8proc_int32_t>(starter),
                              static_cast<utf8proc_int32_t>(next)};
  const utf8proc_ssize_t n = utf8proc_normalize_utf32(pair, 2, UTF8PROC_COMPOSE);
  return n == 1 ? static_cast<char32_t>(pair[0]) : 0;
}

// Lowercase mappings Rust's char::to_lowercase (Unicode 16) has and
// utf8proc 2.8 lacks: cp in [first, last] maps to target + (cp - first).
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

// ---------------------------------------------------------------------------
// Normalization with alignments (tokenizer/normalizer.rs NormalizedString)
// ---------------------------------------------------------------------------

// One code point of the normalized text and the original bytes [begin, end)
// it is aligned to.
struct NormChar {
  char32_t cp;
  size_t begin;
  size_t end;
};

// An output char of a transformation and its `change` as
// NormalizedString::transform takes it: 1 = inserted (aligned to the input
// char before it), -n = replaces one input char and removes the n after it,
// 0 = replaces one input char. Alignments follow positions, not identities.
struct Change {
  char32_t cp;
  int change;
};

std::vector<NormChar> Transform(const std::vector<NormChar>& in, const std::vector<Change>& out) {
  std::vector<NormChar> result;
  result.reserve(out.size());
  size_t next = 0;  // first input char not yet consumed
  for (const Change& c : out) {
    if (c.change > 0) {
      result.push_back(next == 0 ? NormChar{c.cp, 0, 0}
                                 : NormChar{c.cp, in[next - 1].begin, in[next - 1].end});
    } else {
      result.push_back({c.cp, in[next].begin, in[next].end});
      next += 1 + static_cast<size_t>(-c.change);
    }
  }
  return result;
}

// NFC as unicode-normalization-alignments computes it: decomposition (the
// first char of each decomposition keeps its place, the others are
// inserted), canonical ordering (changes travel with their chars), then
// canonical composition (a composite takes its starter's change plus the
// absorbed char's, minus one).
void Nfc(std::vector<NormChar>* chars) {
  // Below U+0300 nothing composes, and what decomposes recomposes to itself.
  if (std::all_of(chars->begin(), chars->end(), [](const NormChar& c) { return c.cp < 0x300; })) {
    return;
  }
  struct Item {
    char32_t cp;
    int change;
    int ccc;
  };
  std::vector<Item> items;
  items.reserve(chars->size() + 8);
  utf8proc_int32_t buffer[32];
  for (const NormChar& c : *chars) {
    utf8proc_ssize_t n = 0;
    if (c.cp >= 0xC0 && c.cp != 0x11938) {
      n = utf8proc_decompose_char(static_cast<utf8proc_int32_t>(c.cp), buffer, 32,
                                  UTF8PROC_DECOMPOSE, nullptr);
    }
    if (n <= 0 || n > 32) {
      items.push_back({c.cp, 0, CombiningClass(c.cp)});
      continue;
    }
    for (utf8proc_ssize_t k = 0; k < n; ++k) {
      const auto cp = static_cast<char32_t>(buffer[k]);
      items.push_back({cp, k == 0 ? 0 : 1, CombiningClass(cp)});
    }
  }
  // Canonical ordering: stable sort of each run of non-starters by class.
  for (size_t i = 0; i < items.size();) {
    if (items[i].ccc == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < items.size() && items[j].ccc != 0) ++j;
    std::stable_sort(items.begin() + static_cast<std::ptrdiff_t>(i),
                     items.begin() + static_cast<std::ptrdiff_t>(j),
                     [](const Item& a, const Item& b) { return a.ccc < b.ccc; });
    i = j;
  }
  // Canonical composition (UAX #15): a char joins the last starter unless a
  // char between them has class 0 or >= its own.
  std::vector<Item> composed;
  composed.reserve(items.size());
  size_t starter = SIZE_MAX;
  int last_ccc = 0;
  for (const Item& item : items) {
    if (starter != SIZE_MAX &&
        (last_ccc < item.ccc || (last_ccc == 0 && composed.size() == starter + 1))) {
      if (const char32_t cp = Compose(composed[starter].cp, item.cp); cp != 0) {
        composed[starter].cp = cp;
        composed[starter].change += item.change - 1;
        continue;
      }
    }
    if (item.ccc == 0) starter = composed.size();
    last_ccc = item.ccc;
    composed.push_back(item);
  }
  std::vector<Change> out;
  out.reserve(composed.size());
  for (const Item& item : composed) out.push_back({item.cp, item.change});
  *chars = Transform(*chars, out);
}

// Replace(Regex("\s+"), " "): each run of \s becomes one space, aligned (as
// NormalizedString::replace inserts it) to the run's last char.
void CollapseWhitespace(std::vector<NormChar>* chars) {
  std::vector<NormChar> out;
  out.reserve(chars->size());
  for (size_t i = 0; i < chars->size();) {
    if (!IsSpace((*chars)[i].cp)) {
      out.push_back((*chars)[i++]);
      continue;
    }
    size_t j = i;
    while (j < chars->size() && IsSpace((*chars)[j].cp)) ++j;
    out.push_back({U' ', (*chars)[j - 1].begin, (*chars)[j - 1].end});
    i = j;
  }
  *chars = std::move(out);
}

// Rust char::to_lowercase: the full (SpecialCasing) mapping without context.
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

// ---------------------------------------------------------------------------
// Byte level (pre_tokenizers/byte_level.rs bytes_char)
// ---------------------------------------------------------------------------

// GPT-2's bytes_to_unicode: printable bytes stand for themselves, the others
// for U+0100 upwards in byte order; as UTF-8.
std::array<std::string, 256> MakeByteSymbols() {
  std::array<std::string, 256> symbols;
  char32_t next = 0x100;
  for (int b = 0; b < 256; ++b) {
    const bool printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    AppendUtf8(printable ? static_cast<char32_t>(b) : next++, &symbols[static_cast<size_t>(b)]);
  }
  return symbols;
}

const std::array<std::string, 256>& ByteSymbols() {
  static const std::array<std::string, 256> symbols = MakeByteSymbols();
  return symbols;
}

// A token of the output before the special tokens are added.
struct Piece {
  int32_t id;
  std::string token;
  size_t begin;
  size_t end;
};

}  // namespace

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

class BpeTokenizerEncoder {
 public:
  explicit BpeTokenizerEncoder(const BpeTokenizer& t) : t_(t) {}

  // Runs the normalizer steps on `chars`.
  void Normalize(std::vector<NormChar>* chars) const {
    for (const BpeTokenizer::NormalizerStep step : t_.settings_.normalizer) {
      switch (step) {
        case BpeTokenizer::NormalizerStep::kNfc: Nfc(chars); break;
        case BpeTokenizer::NormalizerStep::kCollapseWhitespace: CollapseWhitespace(chars); break;
        case BpeTokenizer::NormalizerStep::kLowercase: Lowercase(chars); break;
      }
    }
  }

  // Tokenizes text[begin, end) (no raw-matched added tokens inside) into `out`:
  // normalizes it, splits off the normalized added tokens, and runs the
  // pre-tokenizer and BPE on the rest.
  void Segment(std::string_view text, size_t begin, size_t end, std::vector<Piece>* out) const {
    std::vector<NormChar> chars;
    chars.reserve(end - begin);
    for (size_t pos = begin; pos < end;) {
      const Utf8Char c = DecodeUtf8(text, pos);  // validated by Encode
      chars.push_back({c.cp, pos, pos + c.length});
      pos += c.length;
    }
    Normalize(&chars);
    // tokenizer/added_vocabulary.rs: normalized added tokens, leftmost-longest
    // on the normalized text.
    std::string normalized;
    std::vector<size_t> char_at;  // normalized byte -> index in chars
    for (size_t i = 0; i < chars.size(); ++i) {
      AppendUtf8(chars[i].cp, &normalized);
      char_at.resize(normalized.size(), i);
    }
    size_t piece = 0;  // first char of the current piece
    for (size_t pos = 0; pos < normalized.size();) {
      const BpeTokenizer::AddedToken* match = nullptr;
      for (const BpeTokenizer::AddedToken& added : t_.added_tokens_) {
        if (added.normalized &&
            std::string_view(normalized).substr(pos).starts_with(added.content) &&
            (match == nullptr || added.content.size() > match->content.size())) {
          match = &added;
        }
      }
      if (match == nullptr) {
        pos += DecodeUtf8(normalized, pos).length;
        continue;
      }
      const size_t first = char_at[pos];
      const size_t last = char_at[pos + match->content.size() - 1];
      Split(chars, piece, first, out);
      out->push_back({match->id, match->content, chars[first].begin, chars[last].end});
      piece = last + 1;
      pos += match->content.size();
    }
    Split(chars, piece, chars.size(), out);
  }

 private:
  // pre_tokenizers/split.rs with CLIP's regex (invert, Removed) on
  // chars[begin, end): keeps the matches, drops what lies between them
  // (only \s can). Oniguruma tries the alternatives in order at each start.
  void Split(const std::vector<NormChar>& chars, size_t begin, size_t end,
             std::vector<Piece>* out) const {
    const auto literal_at = [&](size_t i, std::u32string_view lit) {
      if (end - i < lit.size()) return false;
      for (size_t k = 0; k < lit.size(); ++k) {
        if (chars[i + k].cp != lit[k]) return false;
      }
      return true;
    };
    static constexpr std::u32string_view kSpecials[] = {U"<|startoftext|>", U"<|endoftext|>"};
    static constexpr std::u32string_view kContractions[] = {U"'s", U"'t",  U"'re", U"'ve",
                                                            U"'m", U"'ll", U"'d"};
    for (size_t i = begin; i < end;) {
      const CharClass cls = ClassOf(chars[i].cp);
      if (cls == CharClass::kSpace) {
        ++i;
        continue;
      }
      size_t j = 0;
      if (t_.settings_.split_special_alternatives) {
        for (std::u32string_view lit : kSpecials) {
          if (literal_at(i, lit)) {
            j = i + lit.size();
            break;
          }
        }
      }
      if (j == 0) {
        for (std::u32string_view lit : kContractions) {
          if (literal_at(i, lit)) {
            j = i + lit.size();
            break;
          }
        }
      }
      if (j == 0) {
        j = i + 1;
        if (cls != CharClass::kNumber) {
          while (j < end && ClassOf(chars[j].cp) == cls) ++j;
        }
      }
      ByteLevel(chars, i, j, out);
      i = j;
    }
  }

  // pre_tokenizers/byte_level.rs on one word chars[begin, end). With
  // use_regex, GPT-2's regex splits the word again; every word the Split
  // regex makes is one match of it except the two special-token literals,
  // which it cuts into "<|", the letters and "|>".
  void ByteLevel(const std::vector<NormChar>& chars, size_t begin, size_t end,
                 std::vector<Piece>* out) const {
    if (t_.settings_.byte_level_regex && end - begin > 4 && chars[begin].cp == '<' &&
        chars[begin + 1].cp == '|' && chars[end - 2].cp == '|' && chars[end - 1].cp == '>' &&
        std::all_of(chars.begin() + static_cast<std::ptrdiff_t>(begin + 2),
                    chars.begin() + static_cast<std::ptrdiff_t>(end - 2),
                    [](const NormChar& c) { return ClassOf(c.cp) == CharClass::kLetter; })) {
      Bpe(chars, begin, begin + 2, out);
      Bpe(chars, begin + 2, end - 2, out);
      Bpe(chars, end - 2, end, out);
      return;
    }
    Bpe(chars, begin, end, out);
  }

  // models/bpe/model.rs merge_word and word.rs merge_all on the byte-level
  // symbols of chars[begin, end).
  void Bpe(const std::vector<NormChar>& chars, size_t begin, size_t end,
           std::vector<Piece>* out) const {
    const BpeTokenizer::Settings& s = t_.settings_;
    // Byte symbols and the original range of each.
    struct Byte {
      unsigned char value;
      size_t char_index;
    };
    std::vector<Byte> bytes;
    std::string utf8;
    for (size_t i = begin; i < end; ++i) {
      utf8.clear();
      AppendUtf8(chars[i].cp, &utf8);
      for (const char b : utf8) bytes.push_back({static_cast<unsigned char>(b), i});
    }
    struct Symbol {
      int32_t id;
      size_t first;  // byte range [first, last) in `bytes`
      size_t last;
      ptrdiff_t prev;
      ptrdiff_t next;
    };
    std::vector<Symbol> symbols;
    symbols.reserve(bytes.size());
    std::optional<Symbol> unk;
    const auto add = [&](Symbol symbol) {
      symbol.prev = static_cast<ptrdiff_t>(symbols.size()) - 1;
      symbol.next = -1;
      if (!symbols.empty()) symbols.back().next = static_cast<ptrdiff_t>(symbols.size());
      symbols.push_back(symbol);
    };
    std::string symbol;
    for (size_t k = 0; k < bytes.size(); ++k) {
      symbol = ByteSymbols()[bytes[k].value];
      if (k + 1 == bytes.size()) symbol += s.end_of_word_suffix;
      const auto it = t_.token_to_id_.find(symbol);
      if (it != t_.token_to_id_.end()) {
        if (unk) add(*unk);
        unk.reset();
        add({it->second, k, k + 1, 0, 0});
      } else if (t_.unk_id_) {
        // An unknown symbol becomes unk_token (runs fused with fuse_unk).
        if (unk && s.fuse_unk) {
          unk->last = k + 1;
        } else {
          if (unk) add(*unk);
          unk = Symbol{*t_.unk_id_, k, k + 1, 0, 0};
        }
      }
      // Without an unk token, HF drops the symbol.
    }
    if (unk) add(*unk);

    // Lowest rank first, then leftmost (word.rs Merge's ordering).
    struct Candidate {
      uint32_t rank;
      size_t pos;
      int32_t new_id;
      bool operator>(const Candidate& o) const {
        return rank != o.rank ? rank > o.rank : pos > o.pos;
      }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    const auto find_merge = [&](int32_t left, int32_t right) -> const BpeTokenizer::Merge* {
      const auto it = t_.merges_.find(MergeKey(left, right));
      return it == t_.merges_.end() ? nullptr : &it->second;
    };
    for (size_t i = 0; i + 1 < symbols.size(); ++i) {
      if (const auto* m = find_merge(symbols[i].id, symbols[i + 1].id)) {
        queue.push({m->rank, i, m->new_id});
      }
    }
    std::vector<bool> removed(symbols.size(), false);
    while (!queue.empty()) {
      const Candidate top = queue.top();
      queue.pop();
      Symbol& left = symbols[top.pos];
      if (removed[top.pos] || left.next == -1) continue;
      const auto right_pos = static_cast<size_t>(left.next);
      const Symbol right = symbols[right_pos];
      const auto* m = find_merge(left.id, right.id);
      if (m == nullptr || m->new_id != top.new_id) continue;  // expired entry
      left.id = top.new_id;
      left.last = right.last;
      left.next = right.next;
      removed[right_pos] = true;
      if (right.next != -1)
        symbols[static_cast<size_t>(right.next)].prev = static_cast<ptrdiff_t>(top.pos);
      if (left.prev != -1) {
        const auto prev = static_cast<size_t>(left.prev);
        if (const auto* pm = find_merge(symbols[prev].id, left.id)) {
          queue.push({pm->rank, prev, pm->new_id});
        }
      }
      if (left.next != -1) {
        if (const auto* nm = find_merge(left.id, symbols[static_cast<size_t>(left.next)].id)) {
          queue.push({nm->rank, top.pos, nm->new_id});
        }
      }
    }
    for (size_t i = 0; i < symbols.size(); ++i) {
      if (removed[i]) continue;
      const Symbol& sym = symbols[i];
      out->push_back({sym.id, t_.id_to_token_[static_cast<size_t>(sym.id)],
                      chars[bytes[sym.first].char_index].begin,
                      chars[bytes[sym.last - 1].char_index].end});
    }
  }

 public:
  static uint64_t MergeKey(int32_t left, int32_t right) {
    return (static_cast<uint64_t>(static_cast<uint32_t>(left)) << 32) |
           static_cast<uint32_t>(right);
  }

 private:
  const BpeTokenizer& t_;
};

BpeTokenizer::~BpeTokenizer() = default;

std::optional<int32_t> BpeTokenizer::TokenToId(std::string_view token) const {
  const auto it = token_to_id_.find(token);
  if (it == token_to_id_.end()) return std::nullopt;
  return it->second;
}

std::string_view BpeTokenizer::IdToToken(int32_t id) const {
  if (id < 0 || static_cast<size_t>(id) >= id_to_token_.size()) return {};
  return id_to_token_[static_cast<size_t>(id)];
}

Result<BpeTokenizer::Encoding> BpeTokenizer::Encode(std::string_view text,
                                                    size_t max_tokens) const {
  if (max_tokens == 1) {
    return Status::InvalidArgument("max_tokens must be 0 (no limit) or at least 2, got 1");
  }
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return Status::InvalidArgument("invalid UTF-8 at byte " + std::to_string(bad) + " of a " +
                                   std::to_string(text.size()) + "-byte text");
  }
  // tokenizer/added_vocabulary.rs: added tokens that are not normalized are
  // found on the raw text, leftmost-longest; the text between them is
  // normalized and tokenized.
  std::vector<Piece> pieces;
  const BpeTokenizerEncoder encoder(*this);
  size_t segment = 0;
  for (size_t pos = 0; pos < text.size();) {
    const AddedToken* match = nullptr;
    for (const AddedToken& added : added_tokens_) {
      if (!added.normalized && text.substr(pos).starts_with(added.content) &&
          (match == nullptr || added.content.size() > match->content.size())) {
        match = &added;
      }
    }
    if (match == nullptr) {
      pos += DecodeUtf8(text, pos).length;
      continue;
    }
    encoder.Segment(text, segment, pos, &pieces);
    pieces.push_back({match->id, match->content, pos, pos + match->content.size()});
    segment = pos = pos + match->content.size();
  }
  encoder.Segment(text, segment, text.size(), &pieces);

  // Truncation (HF max_length, strategy longest_first, direction right).
  if (max_tokens >= 2 && pieces.size() + 2 > max_tokens) pieces.resize(max_tokens - 2);

  Encoding encoding;
  encoding.ids.reserve(pieces.size() + 2);
  encoding.tokens.reserve(pieces.size() + 2);
  encoding.offsets.reserve(pieces.size() + 2);
  encoding.ids.push_back(bos_id_);
  encoding.tokens.push_back(settings_.bos_token);
  encoding.offsets.emplace_back(0, 0);
  for (Piece& piece : pieces) {
    encoding.ids.push_back(piece.id);
    encoding.tokens.push_back(std::move(piece.token));
    encoding.offsets.emplace_back(piece.begin, piece.end);
  }
  encoding.ids.push_back(eos_id_);
  encoding.tokens.push_back(settings_.eos_token);
  encoding.offsets.emplace_back(0, 0);
  return encoding;
}

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

class BpeTokenizerLoader {
 public:
  using json = nlohmann::json;

  static Result<std::unique_ptr<BpeTokenizer>> Load(std::string_view text,
                                                    const std::string& name) {
    // The constructor is private, so make_unique cannot reach it.
    std::unique_ptr<BpeTokenizer> t(new BpeTokenizer());
    Status status;
    try {
      status = Parse(text, name, t.get());
    } catch (const json::exception& e) {
      status = Status::InvalidArgument(name + ": unexpected tokenizer.json content: " + e.what());
    }
    FE_RETURN_IF_ERROR(status);
    return t;
  }

  static Result<std::string> ReadFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return Status::NotFound(path + ": cannot open tokenizer file");
    std::ostringstream buffer;
    buffer << in.rdbuf();
    if (in.bad()) return Status::IOError(path + ": read failed");
    return buffer.str();
  }

 private:
  static std::string TypeOf(const json& v) {
    if (v.is_null()) return "null";
    if (v.is_object() && v.contains("type") && v["type"].is_string()) {
      return v["type"].get<std::string>();
    }
    return "?";
  }

  static Status Unsupported(const std::string& name, const std::string& field,
                            const std::string& found, const std::string& expected) {
    return Status::InvalidArgument(name + ": " + field + " is " + found + ", expected " + expected +
                                   " (the only form supported)");
  }

  // True if `v` is absent/null or equals `value`.
  template <typename T>
  static bool IsDefault(const json& object, const char* key, const T& value) {
    return !object.contains(key) || object[key].is_null() || object[key] == value;
  }

  static Status ParseNormalizer(const json& doc, const std::string& name, BpeTokenizer* t) {
    const json normalizer = doc.value("normalizer", json());
    if (normalizer.is_null()) return Status::OK();
    std::vector<std::pair<std::string, json>> steps;
    if (TypeOf(normalizer) == "Sequence") {
      const json& list = normalizer.at("normalizers");
      for (size_t i = 0; i < list.size(); ++i) {
        steps.emplace_back("normalizer.normalizers[" + std::to_string(i) + "]", list[i]);
      }
    } else {
      steps.emplace_back("normalizer", normalizer);
    }
    for (const auto& [field, step] : steps) {
      const std::string type = TypeOf(step);
      if (type == "NFC") {
        t->settings_.normalizer.push_back(BpeTokenizer::NormalizerStep::kNfc);
      } else if (type == "Lowercase") {
        t->settings_.normalizer.push_back(BpeTokenizer::NormalizerStep::kLowercase);
      } else if (type == "Replace") {
        const json& pattern = step.at("pattern");
        if (!pattern.is_object() || pattern.value("Regex", std::string()) != "\\s+" ||
            step.value("content", std::string()) != " ") {
          return Unsupported(
              name, field,
              "Replace " + pattern.dump() + " -> " + step.value("content", json()).dump(),
              "Replace {\"Regex\":\"\\\\s+\"} -> \" \"");
        }
        t->settings_.normalizer.push_back(BpeTokenizer::NormalizerStep::kCollapseWhitespace);
      } else {
        return Unsupported(name, field + ".type", "\"" + type + "\"", "NFC, Replace or Lowercase");
      }
    }
    return Status::OK();
  }

  static Status ParsePreTokenizer(const json& doc, const std::string& name, BpeTokenizer* t) {
    static const std::string kClipRegex =
        "'s|'t|'re|'ve|'m|'ll|'d|[\\p{L}]+|[\\p{N}]|[^\\s\\p{L}\\p{N}]+";
    static const std::string kSpecialAlternatives = "<\\|startoftext\\|>|<\\|endoftext\\|>|";
    const json pre = doc.value("pre_tokenizer", json());
    if (TypeOf(pre) != "Sequence" || !pre.contains("pretokenizers") ||
        pre["pretokenizers"].size() != 2) {
      return Unsupported(name, "pre_tokenizer", pre.is_null() ? "null" : "\"" + TypeOf(pre) + "\"",
                         "a Sequence of Split and ByteLevel");
    }
    const json& split = pre["pretokenizers"][0];
    const json& byte_level = pre["pretokenizers"][1];
    if (TypeOf(split) != "Split") {
      return Unsupported(name, "pre_tokenizer.pretokenizers[0].type", TypeOf(split), "Split");
    }
    const json& pattern = split.at("pattern");
    const std::string regex = pattern.is_object() ? pattern.value("Regex", std::string()) : "";
    if (regex == kSpecialAlternatives + kClipRegex) {
      t->settings_.split_special_alternatives = true;
    } else if (regex == kClipRegex) {
      t->settings_.split_special_alternatives = false;
    } else {
      return Unsupported(name, "pre_tokenizer.pretokenizers[0].pattern", pattern.dump(),
                         "CLIP's regex");
    }
    if (split.value("behavior", std::string()) != "Removed" || !split.value("invert", false)) {
      return Unsupported(
          name, "pre_tokenizer.pretokenizers[0] behavior/invert",
          split.value("behavior", json()).dump() + "/" + split.value("invert", json()).dump(),
          "\"Removed\"/true");
    }
    if (TypeOf(byte_level) != "ByteLevel") {
      return Unsupported(name, "pre_tokenizer.pretokenizers[1].type", TypeOf(byte_level),
                         "ByteLevel");
    }
    // trim_offsets only matters to ByteLevel as a post-processor.
    if (byte_level.value("add_prefix_space", true)) {
      return Unsupported(name, "pre_tokenizer.pretokenizers[1].add_prefix_space", "true", "false");
    }
    t->settings_.byte_level_regex = byte_level.value("use_regex", true);
    return Status::OK();
  }

  static Status ParseModel(const json& doc, const std::string& name, BpeTokenizer* t) {
    if (!doc.contains("model") || !doc["model"].is_object()) {
      return Status::InvalidArgument(name + ": no model object");
    }
    const json& model = doc["model"];
    // Older files omit "type"; HF then recognizes a BPE model by its fields.
    const std::string type = model.contains("type")     ? "\"" + TypeOf(model) + "\""
                             : model.contains("merges") ? "\"BPE\""
                                                        : "absent (and no merges)";
    if (type != "\"BPE\"") return Unsupported(name, "model.type", type, "\"BPE\"");
    if (!IsDefault(model, "dropout", 0.0)) {
      return Unsupported(name, "model.dropout", model["dropout"].dump(), "null");
    }
    if (!IsDefault(model, "continuing_subword_prefix", std::string())) {
      return Unsupported(name, "model.continuing_subword_prefix",
                         model["continuing_subword_prefix"].dump(), "\"\" or null");
    }
    if (!IsDefault(model, "byte_fallback", false)) {
      return Unsupported(name, "model.byte_fallback", model["byte_fallback"].dump(), "false");
    }
    if (!IsDefault(model, "ignore_merges", false)) {
      return Unsupported(name, "model.ignore_merges", model["ignore_merges"].dump(), "false");
    }
    BpeTokenizer::Settings& s = t->settings_;
    if (model.contains("unk_token") && !model["unk_token"].is_null()) {
      s.unk_token = model["unk_token"].get<std::string>();
    }
    const json suffix = model.value("end_of_word_suffix", json());
    s.end_of_word_suffix = suffix.is_null() ? "" : suffix.get<std::string>();
    s.fuse_unk = model.value("fuse_unk", false);

    if (!model.contains("vocab") || !model["vocab"].is_object()) {
      return Status::InvalidArgument(name + ": model.vocab is missing or not an object");
    }
    for (const auto& [token, id] : model["vocab"].items()) {
      FE_RETURN_IF_ERROR(AddId(name, "model.vocab", token, id, t));
    }
    if (t->token_to_id_.empty()) return Status::InvalidArgument(name + ": model.vocab is empty");

    if (!model.contains("merges") || !model["merges"].is_array()) {
      return Status::InvalidArgument(name + ": model.merges is missing or not an array");
    }
    const json& merges = model["merges"];
    for (size_t rank = 0; rank < merges.size(); ++rank) {
      const json& merge = merges[rank];
      const std::string field = "model.merges[" + std::to_string(rank) + "]";
      std::string left;
      std::string right;
      if (merge.is_string()) {  // "a b" (files saved before tokenizers 0.20)
        const std::string m = merge.get<std::string>();
        const size_t space = m.find(' ');
        if (space == std::string::npos || m.find(' ', space + 1) != std::string::npos) {
          return Status::InvalidArgument(name + ": " + field + " is " + merge.dump() +
                                         ", expected two tokens separated by one space");
        }
        left = m.substr(0, space);
        right = m.substr(space + 1);
      } else if (merge.is_array() && merge.size() == 2 && merge[0].is_string() &&
                 merge[1].is_string()) {  // ["a", "b"]
        left = merge[0].get<std::string>();
        right = merge[1].get<std::string>();
      } else {
        return Status::InvalidArgument(name + ": " + field + " is " + merge.dump() +
                                       ", expected \"a b\" or [\"a\", \"b\"]");
      }
      int32_t ids[3];
      const std::string parts[3] = {left, right, left + right};
      for (int k = 0; k < 3; ++k) {
        const auto it = t->token_to_id_.find(parts[k]);
        if (it == t->token_to_id_.end()) {
          return Status::InvalidArgument(name + ": " + field + " (" + merge.dump() +
                                         ") needs token \"" + parts[k] +
                                         "\", which is not in model.vocab");
        }
        ids[k] = it->second;
      }
      // As HF's HashMap insert: a repeated pair keeps its last rank.
      t->merges_[BpeTokenizerEncoder::MergeKey(ids[0], ids[1])] = {static_cast<uint32_t>(rank),
                                                                   ids[2]};
    }
    return Status::OK();
  }

  static Status ParseAddedTokens(const json& doc, const std::string& name, BpeTokenizer* t) {
    if (!doc.contains("added_tokens") || doc["added_tokens"].is_null()) return Status::OK();
    const json& list = doc["added_tokens"];
    if (!list.is_array()) return Status::InvalidArgument(name + ": added_tokens is not an array");
    for (size_t i = 0; i < list.size(); ++i) {
      const json& added = list[i];
      const std::string field = "added_tokens[" + std::to_string(i) + "]";
      const std::string content = added.at("content").get<std::string>();
      for (const char* key : {"lstrip", "rstrip", "single_word"}) {
        if (added.value(key, false)) {
          return Unsupported(name, field + "." + key, "true", "false");
        }
      }
      if (content.empty()) continue;
      FE_RETURN_IF_ERROR(AddId(name, field, content, added.at("id"), t));
      BpeTokenizer::AddedToken token{content, added.at("id").get<int32_t>(),
                                     added.value("normalized", true)};
      if (token.normalized) {
        // Matched on normalized text, so against its normalized form.
        std::vector<NormChar> chars;
        for (size_t pos = 0; pos < content.size();) {
          const Utf8Char c = DecodeUtf8(content, pos);
          if (!c.ok()) return Status::InvalidArgument(name + ": " + field + " is not UTF-8");
          chars.push_back({c.cp, pos, pos + c.length});
          pos += c.length;
        }
        BpeTokenizerEncoder(*t).Normalize(&chars);
        token.content.clear();
        for (const NormChar& c : chars) AppendUtf8(c.cp, &token.content);
        if (token.content.empty()) continue;
      }
      t->added_tokens_.push_back(std::move(token));
    }
    return Status::OK();
  }

  static Status ParsePostProcessor(const json& doc, const std::string& name, BpeTokenizer* t) {
    const json post = doc.value("post_processor", json());
    if (TypeOf(post) != "RobertaProcessing") {
      return Unsupported(name, "post_processor.type", TypeOf(post), "RobertaProcessing");
    }
    // trim_offsets and add_prefix_space only trim spaces at a token's edges,
    // and no token here holds one (Split removes every \s).
    BpeTokenizer::Settings& s = t->settings_;
    const json& cls = post.at("cls");
    const json& sep = post.at("sep");
    s.bos_token = cls.at(0).get<std::string>();
    t->bos_id_ = cls.at(1).get<int32_t>();
    s.eos_token = sep.at(0).get<std::string>();
    t->eos_id_ = sep.at(1).get<int32_t>();
    for (const auto& [field, id] : {std::pair{"post_processor.cls", t->bos_id_},
                                    std::pair{"post_processor.sep", t->eos_id_}}) {
      if (id < 0) {
        return Status::InvalidArgument(name + ": " + field + " has id " + std::to_string(id));
      }
    }
    return Status::OK();
  }

  static Status Parse(std::string_view text, const std::string& name, BpeTokenizer* t) {
    const json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (doc.is_discarded() || !doc.is_object()) {
      return Status::InvalidArgument(name + ": malformed JSON (expected a tokenizer.json object)");
    }
    FE_RETURN_IF_ERROR(ParseNormalizer(doc, name, t));
    FE_RETURN_IF_ERROR(ParsePreTokenizer(doc, name, t));
    FE_RETURN_IF_ERROR(ParseModel(doc, name, t));
    FE_RETURN_IF_ERROR(ParseAddedTokens(doc, name, t));
    FE_RETURN_IF_ERROR(ParsePostProcessor(doc, name, t));
    BpeTokenizer::Settings& s = t->settings_;
    if (s.unk_token) {
      const auto it = t->token_to_id_.find(*s.unk_token);
      if (it == t->token_to_id_.end()) {
        return Status::InvalidArgument(name + ": model.unk_token \"" + *s.unk_token +
                                       "\" is not in the vocab");
      }
      t->unk_id_ = it->second;
    }
    // Post-processor tokens need not be in the vocab for HF, but an id past
    // the vocab would be useless to a model.
    if (static_cast<size_t>(t->bos_id_) >= t->id_to_token_.size() ||
        static_cast<size_t>(t->eos_id_) >= t->id_to_token_.size()) {
      return Status::InvalidArgument(name + ": post_processor ids " + std::to_string(t->bos_id_) +
                                     "/" + std::to_string(t->eos_id_) + " are past the vocab (" +
                                     std::to_string(t->id_to_token_.size()) + " ids)");
    }
    const json truncation = doc.value("truncation", json());
    if (truncation.is_object()) {
      if (truncation.value("direction", std::string("Right")) != "Right") {
        return Unsupported(name, "truncation.direction", truncation["direction"].dump(),
                           "\"Right\"");
      }
      t->default_max_tokens_ = truncation.value("max_length", size_t{0});
    }
    const json padding = doc.value("padding", json());
    if (padding.is_object() && padding.contains("pad_id")) {
      t->pad_id_ = padding["pad_id"].get<int32_t>();
    }
    return Status::OK();
  }

  static Status AddId(const std::string& name, const std::string& field, const std::string& token,
                      const json& id, BpeTokenizer* t) {
    constexpr int64_t kMaxId = 1 << 24;
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= kMaxId) {
      return Status::InvalidArgument(name + ": " + field + ": token \"" + token + "\" has id " +
                                     id.dump() + ", expected an integer in [0, 16777216)");
    }
    const auto value = static_cast<size_t>(id.get<int64_t>());
    if (t->id_to_token_.size() <= value) t->id_to_token_.resize(value + 1);
    t->id_to_token_[value] = token;
    t->token_to_id_[token] = static_cast<int32_t>(value);
    return Status::OK();
  }
};

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromFile(const std::string& path) {
  FE_ASSIGN_OR_RETURN(const std::string text, BpeTokenizerLoader::ReadFile(path));
  return BpeTokenizerLoader::Load(text, path);
}

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromJson(std::string_view json,
                                                             const std::string& name_for_errors) {
  return BpeTokenizerLoader::Load(json, name_for_errors);
}

}  // namespace flashembed::encoders
