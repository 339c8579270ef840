// What the exact reimplementations of Hugging Face `tokenizers` share:
// WordPieceTokenizer (BERT), BpeTokenizer (CLIP) and UnigramTokenizer
// (XLM-R). Internal to encoders/; only their .cc files include it.
//
//   * Code point classes: ranges of code points (CodePointRange, InRanges)
//     and Rust's char::is_whitespace (IsWhitespace).
//   * Normalization with alignments (tokenizer/normalizer.rs
//     NormalizedString): NormChar, the pieces of NFD that both normalizers
//     use (DecomposeChar, CanonicalOrder) and Rust's char::to_lowercase
//     (Lowercase).
//   * Encoding: the output tokens (Piece), added tokens on the raw text
//     (LongestAddedToken, SplitOnAddedTokens), the checks on Encode's
//     arguments and the final truncation and special tokens (WrapPieces).
//   * Loading: reading tokenizer files and filling the vocabulary.
// Each tokenizer keeps its own character tables (BERT's categories from old
// Unicode data; CLIP's Oniguruma classes and HF's combining classes) and its
// own tokenizer.json parsing, which needs nlohmann::json.
//
// Thread-safety: free functions, constants and plain structs only.
#ifndef FLASHEMBED_ENCODERS_HF_TOKENIZER_COMMON_H_
#define FLASHEMBED_ENCODERS_HF_TOKENIZER_COMMON_H_

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "base/utf8.h"

namespace flashembed::encoders::hf {

// ---------------------------------------------------------------------------
// Code point classes
// ---------------------------------------------------------------------------

// The code points first..last. Tables of them are sorted and disjoint.
struct CodePointRange {
  char32_t first;
  char32_t last;
};

// Whether `cp` lies in one of `ranges` (sorted, disjoint).
template <size_t N>
bool InRanges(const CodePointRange (&ranges)[N], char32_t cp) {
  const auto it = std::upper_bound(std::begin(ranges), std::end(ranges), cp,
                                   [](char32_t v, const CodePointRange& r) { return v < r.first; });
  return it != std::begin(ranges) && cp <= std::prev(it)->last;
}

// Rust char::is_whitespace (the Unicode White_Space property); the same 25
// code points as Oniguruma's \s for UTF-8 (U+0009..U+000D, U+0085, Z[slp]).
inline bool IsWhitespace(char32_t cp) {
  return (cp >= 0x09 && cp <= 0x0D) || cp == 0x20 || cp == 0x85 || cp == 0xA0 || cp == 0x1680 ||
         (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 || cp == 0x202F ||
         cp == 0x205F || cp == 0x3000;
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

// The chars of text[begin, end), each aligned to its own bytes.
// REQUIRES: text[begin, end) is well-formed UTF-8 (see base/utf8.h).
std::vector<NormChar> ToNormChars(std::string_view text, size_t begin, size_t end);

// The longest canonical decomposition DecomposeChar writes.
constexpr size_t kMaxDecomposition = 32;

// Writes the full canonical decomposition of `cp` (utf8proc's, except that
// U+11938 DIVES AKURU VOWEL SIGN O, which Unicode 13 added, stays whole as in
// the older tables of `tokenizers`) to out[0, n) and returns n; n = 1 and
// out[0] = cp when `cp` does not decompose.
size_t DecomposeChar(char32_t cp, char32_t (&out)[kMaxDecomposition]);

// utf8proc's (Unicode 15) canonical combining class of `cp`.
int Utf8procCombiningClass(char32_t cp);

// Canonical ordering (UAX #15): sorts each run of chars whose combining
// class, class_of(char), is not 0 by that class, keeping the order of equal
// classes. A char's alignment travels with it.
template <typename T, typename ClassOf>
void CanonicalOrder(std::vector<T>* chars, ClassOf class_of) {
  for (size_t i = 0; i < chars->size();) {
    if (class_of((*chars)[i]) == 0) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < chars->size() && class_of((*chars)[j]) != 0) ++j;
    std::stable_sort(chars->begin() + static_cast<std::ptrdiff_t>(i),
                     chars->begin() + static_cast<std::ptrdiff_t>(j),
                     [&](const T& a, const T& b) { return class_of(a) < class_of(b); });
    i = j;
  }
}

// Rust char::to_lowercase: the full (SpecialCasing) mapping without context,
// U+0130 becoming two chars aligned to it.
void Lowercase(std::vector<NormChar>* chars);

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

// A token of the output before the special tokens around it are added: its
// id, its vocabulary string and the original bytes [begin, end) it covers.
struct Piece {
  int32_t id;
  std::string token;
  size_t begin;
  size_t end;
};

// tokenizer/added_vocabulary.rs: of the `tokens` for which eligible(token)
// holds, the longest whose `content` starts `text` (the first in the list
// among equally long ones); nullptr if none does. Token is a struct with a
// std::string `content`.
template <typename Token, typename Eligible>
const Token* LongestAddedToken(const std::vector<Token>& tokens, std::string_view text,
                               Eligible eligible) {
  const Token* match = nullptr;
  for (const Token& token : tokens) {
    if (eligible(token) && text.starts_with(token.content) &&
        (match == nullptr || token.content.size() > match->content.size())) {
      match = &token;
    }
  }
  return match;
}

// tokenizer/added_vocabulary.rs on the raw text: scans `text` left to right
// for added tokens, tokenizes the text before, between and after them with
// encoder.Segment(text, begin, end, &pieces), and returns all the pieces in
// text order. match(pos, floor) gives the added token found at byte `pos`
// as a Piece covering [begin, end) with floor <= begin <= pos < end (floor is
// where the text not yet tokenized starts), or nullopt.
// REQUIRES: `text` is well-formed UTF-8.
template <typename Match, typename Encoder>
std::vector<Piece> SplitOnAddedTokens(std::string_view text, Match match, const Encoder& encoder) {
  std::vector<Piece> pieces;
  size_t floor = 0;
  for (size_t pos = 0; pos < text.size();) {
    std::optional<Piece> piece = match(pos, floor);
    if (!piece) {
      pos += DecodeUtf8(text, pos).length;
      continue;
    }
    encoder.Segment(text, floor, piece->begin, &pieces);
    floor = pos = piece->end;
    pieces.push_back(std::move(*piece));
  }
  encoder.Segment(text, floor, text.size(), &pieces);
  return pieces;
}

// Added tokens with rstrip / lstrip swallow the whitespace beside them:
// the first byte after the whitespace chars that start at text[pos], and the
// first byte of the whitespace chars in text[floor, pos) that end at pos.
size_t SkipWhitespaceForward(std::string_view text, size_t pos);
size_t SkipWhitespaceBackward(std::string_view text, size_t floor, size_t pos);

// The checks of Encode(text, max_tokens) on its arguments: InvalidArgument
// for invalid UTF-8 in `text` (naming the byte offset) or for max_tokens == 1,
// which leaves no room for the two special tokens (HF returns [CLS] t [SEP]
// for BERT there, an underflow in its truncation; we refuse rather than
// exceed the caller's limit).
Status CheckEncodeArgs(std::string_view text, size_t max_tokens);

// A special token put around the pieces.
struct SpecialToken {
  int32_t id;
  std::string_view token;
};

// Truncates `pieces` as HF's max_length does (strategy longest_first,
// direction right: max_tokens counts `first` and `last`, 0 means no limit,
// REQUIRES: max_tokens != 1), then returns first, the pieces, last as an
// Encoding (a struct of the vectors `ids`, `tokens` and `offsets`); the
// special tokens have offsets (0, 0).
template <typename Encoding>
Encoding WrapPieces(std::vector<Piece> pieces, size_t max_tokens, SpecialToken first,
                    SpecialToken last) {
  if (max_tokens >= 2 && pieces.size() + 2 > max_tokens) pieces.resize(max_tokens - 2);
  Encoding encoding;
  encoding.ids.reserve(pieces.size() + 2);
  encoding.tokens.reserve(pieces.size() + 2);
  encoding.offsets.reserve(pieces.size() + 2);
  encoding.ids.push_back(first.id);
  encoding.tokens.emplace_back(first.token);
  encoding.offsets.emplace_back(0, 0);
  for (Piece& piece : pieces) {
    encoding.ids.push_back(piece.id);
    encoding.tokens.push_back(std::move(piece.token));
    encoding.offsets.emplace_back(piece.begin, piece.end);
  }
  encoding.ids.push_back(last.id);
  encoding.tokens.emplace_back(last.token);
  encoding.offsets.emplace_back(0, 0);
  return encoding;
}

// utils/truncation.rs, strategy longest_first with a pair: cuts the two
// texts' tokens to `budget` tokens between them (the special tokens already
// subtracted), the longer text first; when both are too long each keeps
// half (the first text the extra one of an odd budget when it is longer).
void TruncatePairLongestFirst(size_t budget, std::vector<Piece>* first, std::vector<Piece>* second);

// ---------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------

// The contents of a tokenizer file. Errors: NotFound if it cannot be opened,
// IOError if reading fails.
Result<std::string> ReadTokenizerFile(const std::string& path);

// Ids a tokenizer.json may give its tokens are below this.
constexpr int64_t kMaxTokenId = int64_t{1} << 24;

// InvalidArgument: "<where>: token "<token>" has id <id>, expected an integer
// in [0, 16777216)".
Status BadTokenId(const std::string& where, const std::string& token, const std::string& id);

// Makes `id` the id of `token` in a vocabulary kept as both directions,
// growing id_to_token as needed (ids left unset map to ""). TokenToId is a
// map from std::string to int32_t. REQUIRES: id <= INT32_MAX.
template <typename TokenToId>
void SetTokenId(const std::string& token, size_t id, std::vector<std::string>* id_to_token,
                TokenToId* token_to_id) {
  if (id_to_token->size() <= id) id_to_token->resize(id + 1);
  (*id_to_token)[id] = token;
  (*token_to_id)[token] = static_cast<int32_t>(id);
}

// id_to_token[id], or "" if `id` is out of range.
std::string_view IdToToken(const std::vector<std::string>& id_to_token, int32_t id);

// Token ids given by a caller as pieces (offsets 0, 0), for EncodeIds.
// InvalidArgument naming the position and id of one that is no token of the
// vocabulary (negative, out of range, or an unset id).
Result<std::vector<Piece>> PiecesFromIds(std::span<const int32_t> ids,
                                         const std::vector<std::string>& id_to_token);

}  // namespace flashembed::encoders::hf

#endif  // FLASHEMBED_ENCODERS_HF_TOKENIZER_COMMON_H_
