// The lexer of the filter language (docs/FILTERS.md §2): a hand-written
// scanner over the UTF-8 source that tokenizes the whole expression up front.
#include "filter/filter_lexer.h"

#include <algorithm>
#include <charconv>
#include <string>

#include <fmt/format.h>

#include "base/utf8.h"

namespace flashembed::query::filter_internal {
namespace {

// Bytes shown after "near" in an error message.
constexpr size_t kSnippetBytes = 24;

bool IsIdentStart(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool IsDigit(char c) { return c >= '0' && c <= '9'; }
bool IsIdentChar(char c) { return IsIdentStart(c) || IsDigit(c); }
bool IsHexDigit(char c) { return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'); }

constexpr std::string_view kFunctionKeywords[] = {
    "array_contains", "array_contains_all", "array_contains_any",
    "json_contains",  "json_contains_all",  "json_contains_any",
    "array_length",   "text_match",         "phrase_match",
};

// Keywords exist only all-lower or all-upper (§2.1); booleans also as True/False.
bool KeywordKind(std::string_view w, Tok* kind, Token* t) {
  struct Entry {
    std::string_view word;
    Tok kind;
  };
  static constexpr Entry kWords[] = {
      {"and", Tok::kAnd}, {"or", Tok::kOr},     {"not", Tok::kNot},
      {"in", Tok::kIn},   {"like", Tok::kLike}, {"exists", Tok::kExists},
  };
  const std::string lower = ToLower(w);
  const bool one_case = w == lower || w == ToUpper(w);
  if (one_case) {
    for (const Entry& e : kWords) {
      if (e.word == lower) {
        *kind = e.kind;
        return true;
      }
    }
    for (std::string_view f : kFunctionKeywords) {
      if (f == lower) {
        *kind = Tok::kFunc;
        t->text = lower;
        return true;
      }
    }
  }
  if (w == "true" || w == "True" || w == "TRUE" || w == "false" || w == "False" || w == "FALSE") {
    *kind = Tok::kBool;
    t->bool_value = lower == "true";
    return true;
  }
  return false;
}

class Lexer {
 public:
  explicit Lexer(std::string_view src) : src_(src) {}

  // Tokenizes the whole source; the last token is kEnd.
  Status Run(std::vector<Token>* out) {
    size_t i = 0;
    while (true) {
      while (i < src_.size() && IsSpace(src_[i])) ++i;
      Token t;
      t.pos = i;
      if (i >= src_.size()) {
        t.kind = Tok::kEnd;
        t.end = i;
        out->push_back(std::move(t));
        return Status::OK();
      }
      FE_RETURN_IF_ERROR(Next(i, &t));
      i = t.end;
      out->push_back(std::move(t));
    }
  }

 private:
  Status Error(size_t pos, std::string_view what) const { return ErrorAt(src_, pos, what); }
  char At(size_t i) const { return i < src_.size() ? src_[i] : '\0'; }
  bool HasAt(size_t i, std::string_view s) const {
    return src_.substr(std::min(i, src_.size())).starts_with(s);
  }

  Status Next(size_t i, Token* t) {
    const char c = src_[i];
    if (IsIdentStart(c)) return Word(i, t);
    if (IsDigit(c) || (c == '.' && IsDigit(At(i + 1)))) return Number(i, t);
    if (c == '"' || c == '\'') {
      t->kind = Tok::kString;
      return String(i, &t->text, &t->end);
    }
    if (c == '$') return Meta(i, t);
    struct Op {
      std::string_view text;
      Tok kind;
    };
    // Longest first.
    static constexpr Op kOps[] = {
        {"**", Tok::kPow},     {"<<", Tok::kShl},   {">>", Tok::kShr},   {"<=", Tok::kLe},
        {">=", Tok::kGe},      {"==", Tok::kEq},    {"!=", Tok::kNe},    {"&&", Tok::kAnd},
        {"||", Tok::kOr},      {"(", Tok::kLParen}, {")", Tok::kRParen}, {"[", Tok::kLBracket},
        {"]", Tok::kRBracket}, {"{", Tok::kLBrace}, {"}", Tok::kRBrace}, {",", Tok::kComma},
        {"+", Tok::kPlus},     {"-", Tok::kMinus},  {"*", Tok::kStar},   {"/", Tok::kSlash},
        {"%", Tok::kPercent},  {"&", Tok::kBitAnd}, {"|", Tok::kBitOr},  {"^", Tok::kBitXor},
        {"~", Tok::kBitNot},   {"<", Tok::kLt},     {">", Tok::kGt},     {"!", Tok::kNot},
    };
    for (const Op& op : kOps) {
      if (HasAt(i, op.text)) {
        t->kind = op.kind;
        t->end = i + op.text.size();
        return Status::OK();
      }
    }
    if (c == '=') return Error(i, "'=' is not an operator: compare with '=='");
    const size_t n = DecodeUtf8(src_, i).length;
    if (n > 1) {
      return Error(i, "unexpected character '" + Sanitize(src_.substr(i, n)) +
                          "': identifiers are ASCII letters, digits and '_'; write $meta[\"" +
                          "key\"] for other metadata keys");
    }
    return Error(i, "unexpected character '" + Sanitize(src_.substr(i, 1)) + "'");
  }

  Status Word(size_t i, Token* t) {
    size_t end = i;
    while (end < src_.size() && IsIdentChar(src_[end])) ++end;
    const std::string_view word = src_.substr(i, end - i);

    // String literal with an encoding prefix: u8"..", u"..", U"..", L"..".
    if ((word == "u8" || word == "u" || word == "U" || word == "L") &&
        (At(end) == '"' || At(end) == '\'')) {
      t->kind = Tok::kString;
      return String(end, &t->text, &t->end);
    }
    // `is null` / `is not null`: single tokens, exactly one space (§2.1).
    if (word == "is" || word == "IS") {
      const bool lower = word == "is";
      const std::string_view is_null = lower ? " null" : " NULL";
      const std::string_view is_not_null = lower ? " not null" : " NOT NULL";
      if (HasAt(end, is_null) && !IsIdentChar(At(end + is_null.size()))) {
        t->kind = Tok::kIsNull;
        t->end = end + is_null.size();
        return Status::OK();
      }
      if (HasAt(end, is_not_null) && !IsIdentChar(At(end + is_not_null.size()))) {
        t->kind = Tok::kIsNotNull;
        t->end = end + is_not_null.size();
        return Status::OK();
      }
    }
    if (ToLower(word) == "is" && LooksLikeNullTest(end)) {
      return Error(i,
                   "write 'is null' or 'is not null' with exactly one space between the words, "
                   "all lower or all upper case");
    }
    Tok kind;
    if (KeywordKind(word, &kind, t)) {
      t->kind = kind;
      t->end = end;
      return Status::OK();
    }
    t->text = std::string(word);
    if (At(end) == '[') {
      t->kind = Tok::kPath;
      return PathSteps(end, t);
    }
    t->kind = Tok::kIdent;
    t->end = end;
    return Status::OK();
  }

  // After an `is` that did not form a null-test token: does a misspelt one follow?
  bool LooksLikeNullTest(size_t i) const {
    auto word_after_space = [&](size_t* at) {
      size_t k = *at;
      if (k >= src_.size() || !IsSpace(src_[k])) return std::string();
      while (k < src_.size() && IsSpace(src_[k])) ++k;
      size_t e = k;
      while (e < src_.size() && IsIdentChar(src_[e])) ++e;
      *at = e;
      return ToLower(src_.substr(k, e - k));
    };
    size_t at = i;
    const std::string w1 = word_after_space(&at);
    if (w1 == "null") return true;
    return w1 == "not" && word_after_space(&at) == "null";
  }

  Status Meta(size_t i, Token* t) {
    if (!HasAt(i, "$meta") || IsIdentChar(At(i + 5))) {
      return Error(i, "unexpected '$': the only name starting with '$' is $meta");
    }
    const size_t end = i + 5;
    if (At(end) == '[') {
      t->kind = Tok::kPath;
      return PathSteps(end, t);  // t->text stays "" for $meta
    }
    t->kind = Tok::kMeta;
    t->end = end;
    return Status::OK();
  }

  // JSON path steps from the '[' at `i`: ["key"], ['key'] or [decimal], no spaces.
  Status PathSteps(size_t i, Token* t) {
    while (At(i) == '[') {
      size_t k = i + 1;
      PathStep step;
      size_t prefix = 0;
      if (HasAt(k, "u8")) {
        prefix = 2;
      } else if (At(k) == 'u' || At(k) == 'U' || At(k) == 'L') {
        prefix = 1;
      }
      if (At(k + prefix) == '"' || At(k + prefix) == '\'') {
        FE_RETURN_IF_ERROR(String(k + prefix, &step.key, &k));
      } else if (IsDigit(At(k))) {
        size_t e = k;
        while (IsDigit(At(e))) ++e;
        if (At(k) == '0' && e - k > 1) {
          return Error(k, "an array index is a decimal integer without leading zeros");
        }
        auto [ptr, ec] = std::from_chars(src_.data() + k, src_.data() + e, step.index);
        if (ec != std::errc()) return Error(k, "array index out of range");
        (void)ptr;
        step.is_index = true;
        k = e;
      } else {
        return Error(k,
                     "a JSON path step is a quoted key or a decimal index with no spaces, "
                     "as in x[\"key\"] or x[0]");
      }
      if (At(k) != ']') return Error(k, "expected ']' to close the JSON path step");
      t->steps.push_back(std::move(step));
      i = k + 1;
    }
    t->end = i;
    return Status::OK();
  }

  // A quoted string from the quote at `i`; C escapes (§2.1).
  Status String(size_t i, std::string* out, size_t* end) {
    const char quote = src_[i];
    size_t k = i + 1;
    out->clear();
    while (true) {
      if (k >= src_.size() || src_[k] == '\n' || src_[k] == '\r') {
        return Error(i, "unterminated string literal (a string ends on the line it starts)");
      }
      const char c = src_[k];
      if (c == quote) {
        *end = k + 1;
        return Status::OK();
      }
      if (c != '\\') {
        out->push_back(c);
        ++k;
        continue;
      }
      FE_RETURN_IF_ERROR(Escape(&k, out));
    }
  }

  // The escape sequence at src_[*k] == '\\'; advances *k past it.
  Status Escape(size_t* k, std::string* out) {
    const size_t at = *k;
    const char e = At(at + 1);
    switch (e) {
      case 'n':
        out->push_back('\n');
        *k += 2;
        return Status::OK();
      case 't':
        out->push_back('\t');
        *k += 2;
        return Status::OK();
      case 'r':
        out->push_back('\r');
        *k += 2;
        return Status::OK();
      case 'a':
        out->push_back('\a');
        *k += 2;
        return Status::OK();
      case 'b':
        out->push_back('\b');
        *k += 2;
        return Status::OK();
      case 'f':
        out->push_back('\f');
        *k += 2;
        return Status::OK();
      case 'v':
        out->push_back('\v');
        *k += 2;
        return Status::OK();
      case '\\':
      case '\'':
      case '"':
      case '?':
        out->push_back(e);
        *k += 2;
        return Status::OK();
      case 'x': {
        if (!IsHexDigit(At(at + 2)) || !IsHexDigit(At(at + 3))) {
          return Error(at, "\\x needs two hex digits, as in \\x41");
        }
        out->push_back(
            static_cast<char>(std::stoi(std::string(src_.substr(at + 2, 2)), nullptr, 16)));
        *k += 4;
        return Status::OK();
      }
      case 'u':
      case 'U': {
        const size_t digits = e == 'u' ? 4 : 8;
        for (size_t d = 0; d < digits; ++d) {
          if (!IsHexDigit(At(at + 2 + d))) {
            return Error(at, e == 'u' ? "\\u needs four hex digits, as in \\u00e9"
                                      : "\\U needs eight hex digits, as in \\U0001F600");
          }
        }
        const uint32_t cp = static_cast<uint32_t>(
            std::stoul(std::string(src_.substr(at + 2, digits)), nullptr, 16));
        if (cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) {
          return Error(at, "escape is not a Unicode scalar value (surrogate or past U+10FFFF)");
        }
        AppendUtf8(cp, out);
        *k += 2 + digits;
        return Status::OK();
      }
      default: break;
    }
    if (e >= '0' && e <= '7') {
      uint32_t value = 0;
      size_t n = 0;
      while (n < 3 && At(at + 1 + n) >= '0' && At(at + 1 + n) <= '7') {
        value = value * 8 + static_cast<uint32_t>(At(at + 1 + n) - '0');
        ++n;
      }
      if (value > 255) return Error(at, "octal escape is larger than \\377");
      out->push_back(static_cast<char>(value));
      *k += 1 + n;
      return Status::OK();
    }
    if (at + 1 >= src_.size()) return Error(at, "unterminated string literal");
    return Error(at, "unknown escape sequence '\\" + Sanitize(Clip(src_, at + 1, 1)) + "'");
  }

  // Integers: decimal, octal 0.., hex 0x.., binary 0b..; floats: decimal
  // with '.' and/or an exponent, or hex with a 'p' exponent.
  Status Number(size_t start, Token* t) {
    size_t i = start;
    auto skip = [&](bool (*pred)(char)) {
      while (i < src_.size() && pred(src_[i])) ++i;
    };
    const char* base = src_.data();
    if (At(i) == '0' && (At(i + 1) == 'x' || At(i + 1) == 'X')) {
      i += 2;
      const size_t digits = i;
      skip(IsHexDigit);
      bool fraction = false;
      if (At(i) == '.') {
        fraction = true;
        ++i;
        skip(IsHexDigit);
      }
      if (At(i) == 'p' || At(i) == 'P') {
        if (i == digits || (fraction && i == digits + 1))
          return Error(start, "malformed hex float");
        ++i;
        if (At(i) == '+' || At(i) == '-') ++i;
        const size_t exp = i;
        skip(IsDigit);
        if (i == exp) return Error(start, "malformed hex float: the 'p' exponent needs digits");
        FE_RETURN_IF_ERROR(CheckNumberEnd(start, i));
        double d = 0;
        auto [ptr, ec] = std::from_chars(base + digits, base + i, d, std::chars_format::hex);
        if (ec != std::errc() || ptr != base + i) return Error(start, "float literal out of range");
        return Float(t, d, i);
      }
      if (fraction) return Error(start, "a hex float needs a 'p' exponent, as in 0x1.8p3");
      if (i == digits) return Error(start, "malformed hex literal: 0x needs hex digits");
      return Integer(start, digits, i, 16, t);
    }
    if (At(i) == '0' && (At(i + 1) == 'b' || At(i + 1) == 'B')) {
      i += 2;
      const size_t digits = i;
      skip([](char c) { return c == '0' || c == '1'; });
      if (i == digits) return Error(start, "malformed binary literal: 0b needs binary digits");
      return Integer(start, digits, i, 2, t);
    }
    skip(IsDigit);
    bool is_float = false;
    if (At(i) == '.') {
      is_float = true;
      ++i;
      skip(IsDigit);
    }
    if (At(i) == 'e' || At(i) == 'E') {
      is_float = true;
      ++i;
      if (At(i) == '+' || At(i) == '-') ++i;
      const size_t exp = i;
      skip(IsDigit);
      if (i == exp) return Error(start, "malformed number: the exponent needs digits");
    }
    if (is_float) {
      FE_RETURN_IF_ERROR(CheckNumberEnd(start, i));
      double d = 0;
      auto [ptr, ec] = std::from_chars(base + start, base + i, d, std::chars_format::general);
      if (ec != std::errc() || ptr != base + i) return Error(start, "float literal out of range");
      return Float(t, d, i);
    }
    if (src_[start] == '0' && i - start > 1) {
      for (size_t k = start + 1; k < i; ++k) {
        if (src_[k] > '7') {
          return Error(k, std::string("invalid digit '") + src_[k] + "' in octal literal " +
                              std::string(src_.substr(start, i - start)));
        }
      }
      return Integer(start, start + 1, i, 8, t);
    }
    return Integer(start, start, i, 10, t);
  }

  Status CheckNumberEnd(size_t start, size_t i) const {
    if (IsIdentChar(At(i)) || At(i) == '.') {
      return Error(start, "malformed number '" + Sanitize(Clip(src_, start, i - start + 1)) + "'");
    }
    return Status::OK();
  }

  Status Integer(size_t start, size_t digits, size_t end, int radix, Token* t) {
    FE_RETURN_IF_ERROR(CheckNumberEnd(start, end));
    uint64_t v = 0;
    auto [ptr, ec] = std::from_chars(src_.data() + digits, src_.data() + end, v, radix);
    if (ec != std::errc() || ptr != src_.data() + end) {
      return Error(start, "integer literal out of range (at most 18446744073709551615)");
    }
    t->kind = Tok::kInt;
    t->int_value = v;
    t->end = end;
    return Status::OK();
  }

  static Status Float(Token* t, double d, size_t end) {
    t->kind = Tok::kFloat;
    t->float_value = d;
    t->end = end;
    return Status::OK();
  }

  std::string_view src_;
};

}  // namespace

bool IsSpace(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

std::string ToLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

std::string ToUpper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
  }
  return out;
}

bool IsMiscasedKeyword(std::string_view w) {
  const std::string lower = ToLower(w);
  if (w == lower || w == ToUpper(w)) return false;
  static constexpr std::string_view kWords[] = {"and", "or", "not", "in", "like", "exists", "is"};
  for (std::string_view k : kWords) {
    if (k == lower) return true;
  }
  for (std::string_view f : kFunctionKeywords) {
    if (f == lower) return true;
  }
  return false;
}

size_t ColumnOf(std::string_view src, size_t pos) {
  size_t column = 1;
  for (size_t i = 0; i < pos && i < src.size(); ++i) {
    if ((static_cast<unsigned char>(src[i]) & 0xc0) != 0x80) ++column;
  }
  return column;
}

std::string Sanitize(std::string_view text) {
  std::string out;
  for (size_t i = 0; i < text.size();) {
    const auto c = static_cast<unsigned char>(text[i]);
    const size_t n = DecodeUtf8(text, i).length;
    if (c >= 0x20 && c != 0x7f && n != 0) {
      out.append(text.substr(i, n));
      i += n;
    } else {
      static constexpr char kHex[] = "0123456789abcdef";
      out.append("\\x");
      out.push_back(kHex[c >> 4]);
      out.push_back(kHex[c & 15]);
      ++i;
    }
  }
  return out;
}

std::string_view Clip(std::string_view src, size_t pos, size_t max_bytes) {
  if (pos >= src.size()) return {};
  size_t end = pos;
  while (end < src.size() && end - pos < max_bytes) {
    const size_t n = DecodeUtf8(src, end).length;
    end += n == 0 ? 1 : n;
  }
  return src.substr(pos, end - pos);
}

Status ErrorAt(std::string_view src, size_t pos, std::string_view what) {
  std::string msg = fmt::format("filter: column {}: ", ColumnOf(src, pos));
  msg.append(what);
  if (pos < src.size()) {
    msg.append(", near '").append(Sanitize(Clip(src, pos, kSnippetBytes))).append("'");
  }
  return Status::InvalidArgument(std::move(msg));
}

Status Tokenize(std::string_view src, std::vector<Token>* out) {
  out->clear();
  return Lexer(src).Run(out);
}

}  // namespace flashembed::query::filter_internal
