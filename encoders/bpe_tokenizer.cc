#include "encoders/bpe_tokenizer.h"

#include <utf8proc.h>

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <queue>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/utf8.h"
#include "encoders/hf_tokenizer_common.h"

namespace flashembed::encoders {

namespace {

using hf::CodePointRange;
using hf::InRanges;
using hf::IsWhitespace;
using hf::NormChar;
using hf::Piece;

// ---------------------------------------------------------------------------
// Character classes, as the `tokenizers` 0.23.2 binary sees them
// ---------------------------------------------------------------------------

// The tables below patch utf8proc (Unicode 15) where HF differs. They were
// measured by running HF's Replace / Split / Lowercase / NFD normalizers on
// every code point and comparing with utf8proc: its Oniguruma knows newer
// letters and digits (Unicode 16), while its normalization data is older
// (newer combining marks have class 0 to it, U+11938 does not decompose).

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

// The classes CLIP's Split regex tells apart.
enum class CharClass { kSpace, kLetter, kNumber, kOther };

CharClass ClassOf(char32_t cp) {
  if (cp < 0x80) {
    if (IsWhitespace(cp)) return CharClass::kSpace;
    if ((cp | 0x20) >= 'a' && (cp | 0x20) <= 'z') return CharClass::kLetter;
    if (cp >= '0' && cp <= '9') return CharClass::kNumber;
    return CharClass::kOther;
  }
  if (IsWhitespace(cp)) return CharClass::kSpace;
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
  const int ccc = hf::Utf8procCombiningClass(cp);
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

// ---------------------------------------------------------------------------
// Normalization with alignments (tokenizer/normalizer.rs NormalizedString)
// ---------------------------------------------------------------------------

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
  char32_t buffer[hf::kMaxDecomposition];
  for (const NormChar& c : *chars) {
    const size_t n = hf::DecomposeChar(c.cp, buffer);
    for (size_t k = 0; k < n; ++k) {
      items.push_back({buffer[k], k == 0 ? 0 : 1, CombiningClass(buffer[k])});
    }
  }
  hf::CanonicalOrder(&items, [](const Item& item) { return item.ccc; });
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
    if (!IsWhitespace((*chars)[i].cp)) {
      out.push_back((*chars)[i++]);
      continue;
    }
    size_t j = i;
    while (j < chars->size() && IsWhitespace((*chars)[j].cp)) ++j;
    out.push_back({U' ', (*chars)[j - 1].begin, (*chars)[j - 1].end});
    i = j;
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
        case BpeTokenizer::NormalizerStep::kLowercase: hf::Lowercase(chars); break;
      }
    }
  }

  // Tokenizes text[begin, end) (no raw-matched added tokens inside) into `out`:
  // normalizes it, splits off the normalized added tokens, and runs the
  // pre-tokenizer and BPE on the rest.
  void Segment(std::string_view text, size_t begin, size_t end, std::vector<Piece>* out) const {
    std::vector<NormChar> chars = hf::ToNormChars(text, begin, end);  // validated by Encode
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
      const BpeTokenizer::AddedToken* match = hf::LongestAddedToken(
          t_.added_tokens_, std::string_view(normalized).substr(pos),
          [](const BpeTokenizer::AddedToken& added) { return added.normalized; });
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
  return hf::IdToToken(id_to_token_, id);
}

Result<BpeTokenizer::Encoding> BpeTokenizer::Encode(std::string_view text,
                                                    size_t max_tokens) const {
  FE_RETURN_IF_ERROR(hf::CheckEncodeArgs(text, max_tokens));
  // Added tokens that are not normalized are found on the raw text,
  // leftmost-longest; the text between them is normalized and tokenized.
  const auto match = [&](size_t pos, size_t /*floor*/) -> std::optional<Piece> {
    const AddedToken* added = hf::LongestAddedToken(
        added_tokens_, text.substr(pos), [](const AddedToken& a) { return !a.normalized; });
    if (added == nullptr) return std::nullopt;
    return Piece{added->id, added->content, pos, pos + added->content.size()};
  };
  std::vector<Piece> pieces = hf::SplitOnAddedTokens(text, match, BpeTokenizerEncoder(*this));
  // RobertaProcessing: <|startoftext|> tokens <|endoftext|>.
  return hf::WrapPieces<Encoding>(std::move(pieces), max_tokens, {bos_id_, settings_.bos_token},
                                  {eos_id_, settings_.eos_token});
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
        if (!IsValidUtf8(content)) {
          return Status::InvalidArgument(name + ": " + field + " is not UTF-8");
        }
        std::vector<NormChar> chars = hf::ToNormChars(content, 0, content.size());
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
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() >= hf::kMaxTokenId) {
      return hf::BadTokenId(name + ": " + field, token, id.dump());
    }
    hf::SetTokenId(token, static_cast<size_t>(id.get<int64_t>()), &t->id_to_token_,
                   &t->token_to_id_);
    return Status::OK();
  }
};

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromFile(const std::string& path) {
  FE_ASSIGN_OR_RETURN(const std::string text, hf::ReadTokenizerFile(path));
  return BpeTokenizerLoader::Load(text, path);
}

Result<std::unique_ptr<BpeTokenizer>> BpeTokenizer::FromJson(std::string_view json,
                                                             const std::string& name_for_errors) {
  return BpeTokenizerLoader::Load(json, name_for_errors);
}

}  // namespace flashembed::encoders
