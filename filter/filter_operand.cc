// Operands of the filter parser and their phrases in messages (filter_operand.h).
#include "filter/filter_operand.h"

#include <utility>

#include "filter/filter_lexer.h"

namespace flashembed::query::filter_internal {

Operand MakeConst(size_t pos, json value) {
  Operand op;
  op.kind = Operand::Kind::kConst;
  op.pos = pos;
  op.value = std::move(value);
  return op;
}

Operand MakePred(size_t pos, NodePtr node) {
  Operand op;
  op.kind = Operand::Kind::kPred;
  op.pos = pos;
  op.pred = std::move(node);
  return op;
}

Operand MakeColumn(size_t pos, Path path) {
  Operand op;
  op.kind = Operand::Kind::kColumn;
  op.pos = pos;
  op.path = std::move(path);
  return op;
}

std::string ConstText(const json& value) {
  std::string text;
  filter_internal::PrintConst(value, &text);
  if (text.size() > 40) text = std::string(Clip(text, 0, 37)) + "...";
  return Sanitize(text);
}

const char* TypeName(const json& v) {
  if (v.is_boolean()) return "bool";
  if (v.is_number_integer()) return "integer";
  if (v.is_number()) return "float";
  if (v.is_string()) return "string";
  if (v.is_array()) return "list";
  return "value";
}

std::string Describe(const Operand& op) {
  switch (op.kind) {
    case Operand::Kind::kConst:
      return std::string("the ") + TypeName(op.value) + " constant " + ConstText(op.value);
    case Operand::Kind::kColumn: return "the field '" + Sanitize(op.path.ToString()) + "'";
    case Operand::Kind::kArith:
      return "the arithmetic '" + Sanitize(op.path.ToString()) + " " +
             filter_internal::ArithOpText(op.arith) + " " + ConstText(op.value) + "'";
    case Operand::Kind::kLength: return "array_length(" + Sanitize(op.path.ToString()) + ")";
    case Operand::Kind::kPred: return "a boolean expression";
  }
  return "an expression";
}

std::string BooleanHint(const Operand& op) {
  switch (op.kind) {
    case Operand::Kind::kColumn:
      return "; compare it explicitly, e.g. " + Sanitize(op.path.ToString()) + " == true";
    case Operand::Kind::kConst:
      return op.value.is_boolean() ? "; a bare true/false is not a filter" : "";
    case Operand::Kind::kArith: return "; compare it with a constant, e.g. x % 2 == 0";
    case Operand::Kind::kLength: return "; compare it with an integer, e.g. array_length(x) >= 2";
    default: return "";
  }
}

}  // namespace flashembed::query::filter_internal
