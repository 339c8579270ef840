// Filter expressions: the Milvus 2.5 boolean expression language
// (docs/FILTERS.md) over flashembed documents.
//
// Data model. A collection has no schema: every document has an id (int64 or
// string) and a metadata JSON object. In an expression
//   - `id` is the document's primary key;
//   - any other identifier `x` is the dynamic field $meta["x"], the metadata
//     key x (`$meta["id"]` reaches a metadata key named "id");
//   - `x["a"][0]` and `$meta["k"]["a"]` are JSON paths into the metadata: a
//     quoted step looks up an object key, a decimal step an array element.
//
//   auto filter = Filter::Parse(R"(age >= 18 and city in ["Paris", "Oslo"])").value();
//   bool hit = filter.Matches({.id = int64_t{7}, .metadata = &metadata_json});
//
// Grammar and precedence follow Milvus 2.5 (§2.1–2.3): `not` binds tighter
// than comparisons, so `not a == 1` is an error and `not (a == 1)` works;
// keywords are all-lower or all-upper case; `is null` / `is not null` are
// single tokens with exactly one space. Static rules that need no schema are
// enforced at Parse (§2.4): the filter must be a boolean expression built from
// operators (`flag`, `!flag`, `true`, `x > 1 and flag` are rejected; write
// `flag == true`), two constants are folded, arithmetic only as
// `path (+|-|*|/|%) constant <cmp> constant`, `**` only between constants,
// bitwise operators are rejected, `in` needs a path on the left and a list of
// constants (or a {param}) on the right, `exists` needs a path with a key.
// Functions: array_contains / _all / _any (json_contains* are aliases),
// array_length, empty(x), starts_with(x, "p"); text_match and phrase_match
// are rejected (no full-text index yet), as is any other name. Beyond Milvus:
// integer literals up to 2^64-1 are accepted (metadata may hold uint64), and a
// bare `null` is rejected with a hint to write `x is null` (Milvus would read
// it as the dynamic field "null"; $meta["null"] still reaches that key).
//
// Semantics (SQL three-valued logic, unknown mapped to false at the top):
//   - A missing key (or array index out of range, or a step into a value that
//     is not an object/array) and a JSON null are unknown. Every comparison
//     with unknown is unknown, `!=` included; NOT unknown is unknown; AND/OR
//     follow SQL. `is null` is true for missing or null, `is not null` and
//     `exists p` are its negation; these three are never unknown. `id` is
//     never null.
//   - `==` / `!=` compare by value across types: numbers numerically (int64
//     and uint64 exactly, int vs double without rounding), strings bytewise,
//     bools with bools, arrays element-wise, objects key-wise; values of
//     different types are unequal (so `x != 1` is true for x = "a").
//   - `<`, `<=`, `>`, `>=` and ranges order numbers with numbers and strings
//     with strings (bytewise); any other pair cannot be ordered and gives
//     unknown.
//   - `in` is `==` against each list element; `not in` its negation.
//   - `like`, empty(), starts_with() on a value that is not a string, and the
//     array_contains* functions on a value that is not an array, are false.
//     array_length() of a value that is not an array is unknown.
//   - Arithmetic on a value that is not a number is unknown. Integer `/`
//     truncates and `%` takes the dividend's sign (as Milvus); a double on
//     either side makes the operation floating-point (`%` is fmod); an
//     integer overflow falls back to double arithmetic. `**` folds to a
//     double.
//   - `like`: `%` any run of characters, `_` exactly one character (a UTF-8
//     code point), `\` escapes the next character; matched bytewise.
//
// Errors: Parse returns InvalidArgument
//   "filter: column N: <what was expected / what is wrong>, near '<text>'"
// (without the "near" part when the error is at the end of the expression),
// N 1-based in characters (UTF-8 code points). The message is valid UTF-8:
// control characters and invalid bytes from the input appear as \xHH.
// Expressions nested deeper than kMaxNesting levels are refused, never
// recursed into.
//
// Thread-safety: a Filter is immutable after Parse; copies share the parsed
// tree (copying is cheap) and all const methods may run on many threads.
#ifndef FLASHEMBED_FILTER_FILTER_H_
#define FLASHEMBED_FILTER_FILTER_H_

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json_fwd.hpp>

#include "base/status.h"

namespace flashembed::query {

namespace filter_internal {
class Node;
}  // namespace filter_internal

// One document as a filter sees it. Views only: the caller keeps the id's
// string and the metadata alive during Matches.
struct FilterRow {
  // The document's id: an int64 or a string (bytes).
  std::variant<int64_t, std::string_view> id = int64_t{0};
  // The metadata object; nullptr behaves as {} (every key missing).
  const nlohmann::json* metadata = nullptr;
};

// A scalar constant of a filter, as handed to a query planner.
using FilterScalar = std::variant<bool, int64_t, double, std::string>;

// A field a planner may index: the primary key, or a metadata key path.
struct FilterField {
  bool is_id = false;             // the document's primary key
  std::vector<std::string> keys;  // otherwise the metadata path {"a", "b"} = a["b"]
};

// A top-level AND-conjunct of simple form. Every document the filter matches
// satisfies each conjunct, so a planner may use them to narrow candidates
// (the full filter must still be applied). Equality is the filter's:
// numbers compare numerically across int and double (a == 1 matches 1.0).
struct FilterConjunct {
  enum class Kind {
    kEquals,  // field == values[0]
    kIn,      // field equals one of values (never empty for `in []`: that
              // conjunct is not returned; the filter matches nothing anyway)
    kRange,   // lower (<, <=) field (<, <=) upper; either bound may be absent
  };
  FilterField field;
  Kind kind = Kind::kEquals;
  std::vector<FilterScalar> values;   // kEquals, kIn
  std::optional<FilterScalar> lower;  // kRange
  std::optional<FilterScalar> upper;  // kRange
  bool lower_inclusive = false;       // kRange: lower <= field
  bool upper_inclusive = false;       // kRange: field <= upper
};

// A parsed filter expression. Cheap to copy and move (shares the tree).
class Filter {
 public:
  // Deepest nesting of parentheses, lists, calls and prefix operators (an
  // operator's right operand counts as a level too). Parsing takes about 1 KB
  // of stack per level in an optimised build.
  static constexpr int kMaxNesting = 128;

  // The filter that matches every document (the empty expression).
  Filter() = default;

  // Parses `expr`. `params` is the JSON object holding the values of {name}
  // templates (bool, number, string, or a non-empty array of them); nullptr
  // or a JSON null means none. Empty or all-whitespace `expr` matches all.
  // Errors: InvalidArgument as described above; params that are not an
  // object, or a template whose value is missing, null, an object or [].
  static Result<Filter> Parse(std::string_view expr, const nlohmann::json* params = nullptr);

  // True for the empty expression.
  bool matches_all() const { return root_ == nullptr; }

  // Whether `row` satisfies the filter (unknown counts as no).
  bool Matches(const FilterRow& row) const;

  // Canonical, fully parenthesised form: `(a == 1)`, `((a == 1) or (b < 2))`,
  // reverse ranges as ranges, constants folded (a folded comparison prints
  // `true`/`false`), `$meta["x"]` as `x` when x is a plain identifier. ""
  // for the empty expression. Parsing it again gives the same string, unless
  // it holds a folded `true`/`false` (which is not a filter on its own) or
  // its parentheses nest deeper than kMaxNesting (`!!!x` needs one level per
  // `!`, its canonical `(not (not (not x)))` two).
  std::string DebugString() const;

  // The top-level AND-conjuncts of form `field == scalar`, `field in
  // [scalars]`, `field (<|<=|>|>=) scalar` or a range on one field, in
  // expression order. Not returned: `!=` and `not in` (they do not narrow),
  // paths with array indexes, constants that are not scalars (or integers
  // beyond int64), and anything under or/not.
  std::vector<FilterConjunct> SimpleConjuncts() const;

 private:
  explicit Filter(std::shared_ptr<const filter_internal::Node> root) : root_(std::move(root)) {}

  std::shared_ptr<const filter_internal::Node> root_;  // nullptr: matches all
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_FILTER_FILTER_H_
