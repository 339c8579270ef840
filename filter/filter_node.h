// The evaluation tree behind query::Filter (filter.h), for filter/*.cc only.
//
// Parse builds one immutable tree of Nodes; every Node evaluates to a
// three-valued Tri for one document and prints itself in the canonical form
// of Filter::DebugString. The values nodes compare are in filter_value.h,
// `like` patterns in filter_like.h.
#ifndef FLASHEMBED_FILTER_FILTER_NODE_H_
#define FLASHEMBED_FILTER_FILTER_NODE_H_

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "filter/filter.h"
#include "filter/filter_like.h"
#include "filter/filter_value.h"

namespace flashembed::query::filter_internal {

// SQL truth values.
enum class Tri : uint8_t { kFalse, kTrue, kUnknown };

inline Tri ToTri(bool b) { return b ? Tri::kTrue : Tri::kFalse; }
inline Tri TriNot(Tri t) {
  return t == Tri::kUnknown ? t : (t == Tri::kTrue ? Tri::kFalse : Tri::kTrue);
}

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
