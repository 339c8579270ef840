// The evaluation tree behind query::Filter (filter.h), for filter/*.cc only.
//
// Parse builds one immutable tree of Nodes; every Node evaluates to a
// three-valued Tri for one document and prints itself in the canonical form
// of Filter::DebugString. Constants are nlohmann::json values that are never
// null or objects (bool, int64, uint64, finite double, string, array of
// those). Values read from a document are Val views (no copies).
#ifndef FLASHEMBED_FILTER_FILTER_NODE_H_
#define FLASHEMBED_FILTER_FILTER_NODE_H_

#include <compare>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "filter/filter.h"

namespace flashembed::query::filter_internal {

using json = nlohmann::json;

// SQL truth values.
enum class Tri : uint8_t { kFalse, kTrue, kUnknown };

inline Tri ToTri(bool b) { return b ? Tri::kTrue : Tri::kFalse; }
inline Tri TriNot(Tri t) {
  return t == Tri::kUnknown ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
}

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

// Appends the canonical text of a constant: 1, 2.5, "s", true, [1, "a"].
void PrintConst(const json& value, std::string* out);
// Appends `s` as a double-quoted string literal our lexer reads back.
void PrintString(std::string_view s, std::string* out);
// Length in bytes of the valid UTF-8 sequence at s[i], or 0 if invalid.
size_t Utf8SequenceLength(std::string_view s, size_t i);

enum class CmpOp : uint8_t { kEq, kNe, kLt, kLe, kGt, kGe };
const char* CmpOpText(CmpOp op);
// The operator with swapped operands: a < b  <=>  b > a.
CmpOp FlipCmp(CmpOp op);
// Applies `op` to an ordering (unordered gives false, except for kNe).
bool ApplyCmp(CmpOp op, std::partial_ordering order);

enum class ArithOp : uint8_t { kAdd, kSub, kMul, kDiv, kMod };
const char* ArithOpText(ArithOp op);

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

enum class NodeKind : uint8_t {
  kConst,
  kAnd,
  kOr,
  kNot,
  kCompare,
  kCompareColumns,
  kArithCompare,
  kLengthCompare,
  kRange,
  kIn,
  kLike,
  kNullCheck,
  kContains,
  kStringFn,
};

class Node {
 public:
  explicit Node(NodeKind kind) : kind_(kind) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  NodeKind kind() const { return kind_; }
  virtual Tri Eval(const FilterRow& row) const = 0;
  virtual void Print(std::string* out) const = 0;

 private:
  NodeKind kind_;
};

using NodePtr = std::unique_ptr<Node>;

// A folded comparison: always true or always false.
struct ConstNode final : Node {
  explicit ConstNode(bool v) : Node(NodeKind::kConst), value(v) {}
  Tri Eval(const FilterRow&) const override { return ToTri(value); }
  void Print(std::string* out) const override;
  bool value;
};

// n-ary AND / OR (nested ones are flattened by the parser).
struct LogicNode final : Node {
  explicit LogicNode(bool is_and) : Node(is_and ? NodeKind::kAnd : NodeKind::kOr) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  std::vector<NodePtr> children;
};

struct NotNode final : Node {
  explicit NotNode(NodePtr c) : Node(NodeKind::kNot), child(std::move(c)) {}
  Tri Eval(const FilterRow& row) const override { return TriNot(child->Eval(row)); }
  void Print(std::string* out) const override;
  NodePtr child;
};

// path <op> constant.
struct CompareNode final : Node {
  CompareNode(Path p, CmpOp o, json v)
      : Node(NodeKind::kCompare), path(std::move(p)), op(o), value(std::move(v)) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  CmpOp op;
  json value;
};

// path <op> path.
struct CompareColumnsNode final : Node {
  CompareColumnsNode(Path l, CmpOp o, Path r)
      : Node(NodeKind::kCompareColumns), left(std::move(l)), op(o), right(std::move(r)) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path left;
  CmpOp op;
  Path right;
};

// (path <arith> operand) <op> value, operand and value numeric constants.
struct ArithCompareNode final : Node {
  ArithCompareNode(Path p, ArithOp a, json operand_value, CmpOp o, json v)
      : Node(NodeKind::kArithCompare),
        path(std::move(p)),
        arith(a),
        operand(std::move(operand_value)),
        op(o),
        value(std::move(v)) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  ArithOp arith;
  json operand;
  CmpOp op;
  json value;
};

// array_length(path) <op> integer.
struct LengthCompareNode final : Node {
  LengthCompareNode(Path p, CmpOp o, json v)
      : Node(NodeKind::kLengthCompare), path(std::move(p)), op(o), value(std::move(v)) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  CmpOp op;
  json value;
};

// lower (<|<=) path (<|<=) upper.
struct RangeNode final : Node {
  RangeNode(Path p, json lo, bool lo_incl, json hi, bool hi_incl)
      : Node(NodeKind::kRange),
        path(std::move(p)),
        lower(std::move(lo)),
        lower_inclusive(lo_incl),
        upper(std::move(hi)),
        upper_inclusive(hi_incl) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  json lower;
  bool lower_inclusive;
  json upper;
  bool upper_inclusive;
};

// path [not] in [list].
struct InNode final : Node {
  InNode(Path p, json l, bool neg)
      : Node(NodeKind::kIn), path(std::move(p)), list(std::move(l)), negated(neg), set(list) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  json list;  // declared before `set`, which views it
  bool negated;
  ValueSet set;
};

struct LikeNode final : Node {
  LikeNode(Path p, std::string pat, LikePattern compiled)
      : Node(NodeKind::kLike),
        path(std::move(p)),
        pattern(std::move(pat)),
        matcher(std::move(compiled)) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  std::string pattern;
  LikePattern matcher;
};

// path is null / path is not null / exists path.
struct NullCheckNode final : Node {
  enum class Check : uint8_t { kIsNull, kIsNotNull, kExists };
  NullCheckNode(Path p, Check c) : Node(NodeKind::kNullCheck), path(std::move(p)), check(c) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  Check check;
};

// array_contains(path, v) / array_contains_all(path, [..]) / _any.
struct ContainsNode final : Node {
  enum class Mode : uint8_t { kOne, kAll, kAny };
  ContainsNode(Path p, Mode m, json v)
      : Node(NodeKind::kContains), path(std::move(p)), mode(m), value(std::move(v)), set(value) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  Mode mode;
  json value;    // kOne: the element; kAll/kAny: the list
  ValueSet set;  // kAll/kAny: the list's elements (declared after `value`)
};

// empty(path) / starts_with(path, "prefix").
struct StringFnNode final : Node {
  enum class Fn : uint8_t { kEmpty, kStartsWith };
  StringFnNode(Path p, Fn f, std::string pre)
      : Node(NodeKind::kStringFn), path(std::move(p)), fn(f), prefix(std::move(pre)) {}
  Tri Eval(const FilterRow& row) const override;
  void Print(std::string* out) const override;
  Path path;
  Fn fn;
  std::string prefix;
};

}  // namespace flashembed::query::filter_internal

#endif  // FLASHEMBED_FILTER_FILTER_NODE_H_
