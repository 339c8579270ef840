// `like` patterns of the filter language (filter.h), for filter/*.cc only:
// `%` any run of characters, `_` exactly one character (a UTF-8 code point),
// `\` escapes the next character; matched bytewise.
#ifndef FLASHEMBED_FILTER_FILTER_LIKE_H_
#define FLASHEMBED_FILTER_FILTER_LIKE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace flashembed::query::filter_internal {

// A compiled `like` pattern.
class LikePattern {
 public:
  // Errors: a pattern ending in a lone '\' (returned as the message).
  static std::optional<std::string> Compile(std::string_view pattern, LikePattern* out);
  bool Matches(std::string_view s) const;

 private:
  enum class ItemKind : uint8_t { kLiteral, kOne, kAny };
  struct Item {
    ItemKind kind;
    std::string literal;  // kLiteral: a run of bytes
  };
  enum class Shape : uint8_t { kExact, kPrefix, kSuffix, kInfix, kGeneral };
  std::vector<Item> items_;
  Shape shape_ = Shape::kGeneral;
  std::string fixed_;  // the literal of kExact/kPrefix/kSuffix/kInfix
};

}  // namespace flashembed::query::filter_internal

#endif  // FLASHEMBED_FILTER_FILTER_LIKE_H_
