// The tokens of the filter language (docs/FILTERS.md §2) and the error
// helpers shared by its lexer and parser; for filter/*.cc only.
#ifndef FLASHEMBED_FILTER_FILTER_LEXER_H_
#define FLASHEMBED_FILTER_FILTER_LEXER_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "filter/filter_value.h"

namespace flashembed::query::filter_internal {

// clang-format off
enum class Tok : uint8_t {
  kEnd,
  // Literals and names.
  kInt, kFloat, kString, kBool, kIdent, kMeta, kPath,
  // Punctuation.
  kLParen, kRParen, kLBracket, kRBracket, kLBrace, kRBrace, kComma,
  // Arithmetic and bitwise operators.
  kPlus, kMinus, kStar, kSlash, kPercent, kPow, kShl, kShr, kBitAnd, kBitOr, kBitXor, kBitNot,
  // Comparisons.
  kEq, kNe, kLt, kLe, kGt, kGe,
  // Keywords; `is null` and `is not null` are single tokens.
  kAnd, kOr, kNot, kIn, kLike, kExists, kIsNull, kIsNotNull,
  kFunc,  // a function keyword: array_contains..., array_length, text_match, phrase_match
};

// clang-format on

struct Token {
  Tok kind = Tok::kEnd;
  size_t pos = 0;  // byte offset of the first character in the source
  size_t end = 0;  // one past the last
  // kIdent: the name; kString: the decoded bytes; kFunc: the lower-case
  // name; kPath: the first identifier ("" when the path starts at $meta).
  std::string text;
  uint64_t int_value = 0;       // kInt (the magnitude; a sign is an operator)
  double float_value = 0;       // kFloat
  bool bool_value = false;      // kBool
  std::vector<PathStep> steps;  // kPath
};

// Splits `src` into tokens; the last one is kEnd. Whitespace (space, tab, CR,
// LF) separates tokens. Errors: InvalidArgument from ErrorAt for a character
// or literal the language does not have.
Status Tokenize(std::string_view src, std::vector<Token>* out);

// InvalidArgument "filter: column N: <what>, near '<src from pos>'" (without
// the "near" part at the end of the source). N counts UTF-8 code points.
Status ErrorAt(std::string_view src, size_t pos, std::string_view what);

// 1-based column of byte offset `pos`, in UTF-8 code points.
size_t ColumnOf(std::string_view src, size_t pos);
// `text` made safe to embed in a message (and in JSON): control characters
// and invalid UTF-8 become \xHH.
std::string Sanitize(std::string_view text);
// At most `max_bytes` of `src` from `pos`, cut on a character boundary.
std::string_view Clip(std::string_view src, size_t pos, size_t max_bytes);

bool IsSpace(char c);
std::string ToLower(std::string_view s);
std::string ToUpper(std::string_view s);
// A word that would be a keyword if it were all lower or all upper case
// ("And", "Not", "Array_Contains").
bool IsMiscasedKeyword(std::string_view w);

}  // namespace flashembed::query::filter_internal

#endif  // FLASHEMBED_FILTER_FILTER_LEXER_H_
