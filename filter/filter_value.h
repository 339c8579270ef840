// The values of the filter language (filter.h), for filter/*.cc only: paths
// into a document, Val views of what they name, comparison and arithmetic
// with the filter's semantics, membership in a list of constants, and the
// canonical printing of constants. Constants are nlohmann::json values that
// are never null or objects (bool, int64, uint64, finite double, string,
// array of those). Values read from a document are Val views (no copies).
#ifndef FLASHEMBED_FILTER_FILTER_VALUE_H_
#define FLASHEMBED_FILTER_FILTER_VALUE_H_

#include <compare>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "filter/filter.h"

namespace flashembed::query::filter_internal {

using json = nlohmann::json;

// One step of a JSON path: an object key or an array index.
struct PathStep {
  bool is_index = false;
  std::string key;     // !is_index
  uint64_t index = 0;  // is_index
};

// What an identifier or path names: the primary key, or a place in the
// metadata ($meta itself when `steps` is empty).
struct Path {
  bool is_id = false;
  std::vector<PathStep> steps;

  // Canonical text: id, x, x["a"][0], $meta["not an ident"], $meta.
  std::string ToString() const;
};

// A value read from a document (or a constant), viewed in place.
struct Val {
  enum class Kind : uint8_t {
    kMissing,
    kNull,
    kBool,
    kInt,
    kUint,
    kDouble,
    kString,
    kArray,
    kObject
  };
  Kind kind = Kind::kMissing;
  bool b = false;
  int64_t i = 0;   // kInt
  uint64_t u = 0;  // kUint: only values above INT64_MAX
  double d = 0;    // kDouble
  std::string_view s;
  const json* j = nullptr;  // kArray, kObject

  bool is_absent() const { return kind == Kind::kMissing || kind == Kind::kNull; }
  bool is_number() const {
    return kind == Kind::kInt || kind == Kind::kUint || kind == Kind::kDouble;
  }
};

Val ValOf(const json* j);
// The value `path` names in `row`; kMissing when any step is missing.
Val Resolve(const Path& path, const FilterRow& row);

// Numeric comparison, exact across int64/uint64/double. REQUIRES: numbers.
std::partial_ordering CompareNumbers(const Val& a, const Val& b);
// Value equality across types (different types are unequal). Both present.
bool ValEqual(const Val& a, const Val& b);
// Order of two numbers or two strings; nullopt for any other pair (or NaN).
std::optional<std::partial_ordering> ValOrder(const Val& a, const Val& b);

// A kInt value.
Val IntVal(int64_t i);

// Appends the canonical text of a constant: 1, 2.5, "s", true, [1, "a"].
void PrintConst(const json& value, std::string* out);
// Appends `s` as a double-quoted string literal our lexer reads back.
void PrintString(std::string_view s, std::string* out);

enum class CmpOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
const char* CmpOpText(CmpOp op);
// The operator with swapped operands: a < b  <=>  b > a.
CmpOp FlipCmp(CmpOp op);
// Applies `op` to an ordering (unordered gives false, except for kNe).
bool ApplyCmp(CmpOp op, std::partial_ordering order);

enum class ArithOp : uint8_t { kAdd, kSub, kMul, kDiv, kMod };
const char* ArithOpText(ArithOp op);
// a <arith> b for numbers a and b; kMissing when the result is undefined.
Val Arith(const Val& a, ArithOp op, const Val& b);

// Membership test against a list of constants with the filter's equality:
// hashed for scalars, linear for nested arrays.
class ValueSet {
 public:
  // `list` outlives the set (its strings are viewed); not an array: empty.
  explicit ValueSet(const json& list);
  bool Contains(const Val& v) const;

 private:
  std::unordered_set<int64_t> ints_;    // every integral number in int64 range
  std::unordered_set<uint64_t> uints_;  // integral numbers in [2^63, 2^64)
  std::unordered_set<double> doubles_;  // every other number
  std::unordered_set<std::string_view> strings_;
  bool has_true_ = false;
  bool has_false_ = false;
  std::vector<const json*> others_;  // arrays
};

}  // namespace flashembed::query::filter_internal

#endif  // FLASHEMBED_FILTER_FILTER_VALUE_H_
