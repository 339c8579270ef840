#include "filter/filter_node.h"

namespace flashembed::query::filter_internal {
namespace {

// Shared by CompareNode and CompareColumnsNode: both values present.
Tri CompareValues(const Val& v, CmpOp op, const Val& c) {
  if (op == CmpOp::kEq) return ToTri(ValEqual(v, c));
  if (op == CmpOp::kNe) return ToTri(!ValEqual(v, c));
  const auto order = ValOrder(v, c);
  if (!order) return Tri::kUnknown;
  return ToTri(ApplyCmp(op, *order));
}

}  // namespace

// -------------------------------------------------------------- Evaluation

Tri LogicNode::Eval(const FilterRow& row) const {
  const bool is_and = kind() == NodeKind::kAnd;
  Tri result = is_and ? Tri::kTrue : Tri::kFalse;
  for (const NodePtr& child : children) {
    const Tri t = child->Eval(row);
    if (t == Tri::kUnknown) {
      result = Tri::kUnknown;
    } else if ((t == Tri::kTrue) != is_and) {
      return t;  // false decides an AND, true decides an OR
    }
  }
  return result;
}

Tri CompareNode::Eval(const FilterRow& row) const {
  const Val v = Resolve(path, row);
  if (v.is_absent()) return Tri::kUnknown;
  return CompareValues(v, op, ValOf(&value));
}

Tri CompareColumnsNode::Eval(const FilterRow& row) const {
  const Val a = Resolve(left, row);
  const Val b = Resolve(right, row);
  if (a.is_absent() || b.is_absent()) return Tri::kUnknown;
  return CompareValues(a, op, b);
}

Tri ArithCompareNode::Eval(const FilterRow& row) const {
  const Val v = Resolve(path, row);
  if (!v.is_number()) return Tri::kUnknown;
  const Val result = Arith(v, arith, ValOf(&operand));
  if (result.is_absent()) return Tri::kUnknown;
  return CompareValues(result, op, ValOf(&value));
}

Tri LengthCompareNode::Eval(const FilterRow& row) const {
  const Val v = Resolve(path, row);
  if (v.kind != Val::Kind::kArray) return Tri::kUnknown;
  return ToTri(
      ApplyCmp(op, CompareNumbers(IntVal(static_cast<int64_t>(v.j->size())), ValOf(&value))));
}

Tri RangeNode::Eval(const FilterRow& row) const {
  const Val v = Resolve(path, row);
  if (v.is_absent()) return Tri::kUnknown;
  const auto lo = ValOrder(v, ValOf(&lower));
  const auto hi = ValOrder(v, ValOf(&upper));
  if (!lo || !hi) return Tri::kUnknown;
  const bool above = lower_inclusive ? *lo >= 0 : *lo > 0;
  const bool below = upper_inclusive ? *hi <= 0 : *hi < 0;
  return ToTri(above && below);
}

Tri InNode::Eval(const FilterRow& row) const {
  const Val v = Resolve(path, row);
  if (v.is_absent()) return Tri::kUnknown;
  return ToTri(set.Contains(v) != negated);
}

Tri LikeNode::Eval(const FilterRow& row) const {
  const Val v = Resolve(path, row);
  if (v.is_absent()) return Tri::kUnknown;
  return ToTri(v.kind == Val::Kind::kString && matcher.Matches(v.s));
}

Tri NullCheckNode::Eval(const FilterRow& row) const {
  const bool absent = Resolve(path, row).is_absent();
  return ToTri(check == Check::kIsNull ? absent : !absent);
}

Tri ContainsNode::Eval(const FilterRow& row) const {
  const Val v = Resolve(path, row);
  if (v.is_absent()) return Tri::kUnknown;
  if (v.kind != Val::Kind::kArray) return Tri::kFalse;
  switch (mode) {
    case Mode::kOne: {
      const Val wanted = ValOf(&value);
      for (const json& e : *v.j) {
        if (ValEqual(ValOf(&e), wanted)) return Tri::kTrue;
      }
      return Tri::kFalse;
    }
    case Mode::kAny:
      for (const json& e : *v.j) {
        if (set.Contains(ValOf(&e))) return Tri::kTrue;
      }
      return Tri::kFalse;
    case Mode::kAll:
      for (const json& wanted : value) {
        const Val w = ValOf(&wanted);
        bool found = false;
        for (const json& e : *v.j) {
          if (ValEqual(ValOf(&e), w)) {
            found = true;
            break;
          }
        }
        if (!found) return Tri::kFalse;
      }
      return Tri::kTrue;
  }
  return Tri::kFalse;
}

Tri StringFnNode::Eval(const FilterRow& row) const {
  const Val v = Resolve(path, row);
  if (v.is_absent()) return Tri::kUnknown;
  if (v.kind != Val::Kind::kString) return Tri::kFalse;
  return ToTri(fn == Fn::kEmpty ? v.s.empty() : v.s.starts_with(prefix));
}

// ---------------------------------------------------------------- Printing

void ConstNode::Print(std::string* out) const { out->append(value ? "true" : "false"); }

void LogicNode::Print(std::string* out) const {
  const char* sep = kind() == NodeKind::kAnd ? " and " : " or ";
  out->push_back('(');
  for (size_t i = 0; i < children.size(); ++i) {
    if (i > 0) out->append(sep);
    children[i]->Print(out);
  }
  out->push_back(')');
}

void NotNode::Print(std::string* out) const {
  out->append("(not ");
  child->Print(out);
  out->push_back(')');
}

void CompareNode::Print(std::string* out) const {
  out->append("(").append(path.ToString()).append(" ").append(CmpOpText(op)).append(" ");
  PrintConst(value, out);
  out->push_back(')');
}

void CompareColumnsNode::Print(std::string* out) const {
  out->append("(").append(left.ToString()).append(" ").append(CmpOpText(op)).append(" ");
  out->append(right.ToString()).append(")");
}

void ArithCompareNode::Print(std::string* out) const {
  out->append("((").append(path.ToString()).append(" ").append(ArithOpText(arith)).append(" ");
  PrintConst(operand, out);
  out->append(") ").append(CmpOpText(op)).append(" ");
  PrintConst(value, out);
  out->push_back(')');
}

void LengthCompareNode::Print(std::string* out) const {
  out->append("(array_length(").append(path.ToString()).append(") ");
  out->append(CmpOpText(op)).append(" ");
  PrintConst(value, out);
  out->push_back(')');
}

void RangeNode::Print(std::string* out) const {
  out->push_back('(');
  PrintConst(lower, out);
  out->append(lower_inclusive ? " <= " : " < ").append(path.ToString());
  out->append(upper_inclusive ? " <= " : " < ");
  PrintConst(upper, out);
  out->push_back(')');
}

void InNode::Print(std::string* out) const {
  out->append("(").append(path.ToString()).append(negated ? " not in " : " in ");
  PrintConst(list, out);
  out->push_back(')');
}

void LikeNode::Print(std::string* out) const {
  out->append("(").append(path.ToString()).append(" like ");
  PrintString(pattern, out);
  out->push_back(')');
}

void NullCheckNode::Print(std::string* out) const {
  switch (check) {
    case Check::kIsNull: out->append("(").append(path.ToString()).append(" is null)"); break;
    case Check::kIsNotNull: out->append("(").append(path.ToString()).append(" is not null)"); break;
    case Check::kExists: out->append("(exists ").append(path.ToString()).append(")"); break;
  }
}

void ContainsNode::Print(std::string* out) const {
  static constexpr const char* kNames[] = {"array_contains(", "array_contains_all(",
                                           "array_contains_any("};
  out->append(kNames[static_cast<int>(mode)]).append(path.ToString()).append(", ");
  PrintConst(value, out);
  out->push_back(')');
}

void StringFnNode::Print(std::string* out) const {
  if (fn == Fn::kEmpty) {
    out->append("empty(").append(path.ToString()).append(")");
  } else {
    out->append("starts_with(").append(path.ToString()).append(", ");
    PrintString(prefix, out);
    out->push_back(')');
  }
}

}  // namespace flashembed::query::filter_internal
