// The parser's view of a sub-expression of a filter (filter/filter.cc): an
// Operand and the phrases its error messages use. Internal to filter/.
#ifndef FLASHEMBED_FILTER_FILTER_OPERAND_H_
#define FLASHEMBED_FILTER_FILTER_OPERAND_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "filter/filter_node.h"

namespace flashembed::query::filter_internal {

// What a sub-expression is, as far as types go.
struct Operand {
  enum class Kind : uint8_t {
    kConst,   // value
    kColumn,  // path
    kArith,   // path <arith> value
    kLength,  // array_length(path)
    kPred,    // pred: a boolean expression built from operators
  };
  Kind kind = Kind::kConst;
  size_t pos = 0;  // where it starts in the source
  json value;
  Path path;
  ArithOp arith = ArithOp::kAdd;
  NodePtr pred;
};

Operand MakeConst(size_t pos, json value);
Operand MakePred(size_t pos, NodePtr node);
Operand MakeColumn(size_t pos, Path path);

// A constant as written in a filter, shortened to about 40 characters.
std::string ConstText(const json& value);
// "bool", "integer", "float", "string", "list" or "value".
const char* TypeName(const json& v);
// "the field 'x'", "the constant 3", ... for messages.
std::string Describe(const Operand& op);
// What to write instead of a non-boolean operand where a boolean is needed.
std::string BooleanHint(const Operand& op);

}  // namespace flashembed::query::filter_internal

#endif  // FLASHEMBED_FILTER_FILTER_OPERAND_H_
