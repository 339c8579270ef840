// Filter::SimpleConjuncts: the top-level AND-conjuncts a query planner can
// serve from an index of one field (see filter.h). Apart from the parser so
// each file stays about one job.
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "filter/filter.h"
#include "filter/filter_node.h"

namespace flashembed::query {
namespace {

using filter_internal::CmpOp;
using filter_internal::CompareNode;
using filter_internal::InNode;
using filter_internal::json;
using filter_internal::LogicNode;
using filter_internal::Node;
using filter_internal::NodeKind;
using filter_internal::NodePtr;
using filter_internal::Path;
using filter_internal::PathStep;
using filter_internal::Val;

std::optional<FilterScalar> ScalarOf(const json& v) {
  const Val val = filter_internal::ValOf(&v);
  switch (val.kind) {
    case Val::Kind::kBool: return FilterScalar(val.b);
    case Val::Kind::kInt: return FilterScalar(val.i);
    case Val::Kind::kDouble: return FilterScalar(val.d);
    case Val::Kind::kString: return FilterScalar(std::string(val.s));
    default: return std::nullopt;
  }
}

std::optional<FilterField> FieldOf(const Path& path) {
  FilterField field;
  if (path.is_id) {
    field.is_id = true;
    return field;
  }
  if (path.steps.empty()) return std::nullopt;
  for (const PathStep& step : path.steps) {
    if (step.is_index) return std::nullopt;
    field.keys.push_back(step.key);
  }
  return field;
}

std::optional<FilterConjunct> ConjunctOf(const Node& node) {
  FilterConjunct c;
  switch (node.kind()) {
    case NodeKind::kCompare: {
      const auto& n = static_cast<const CompareNode&>(node);
      auto field = FieldOf(n.path);
      auto value = ScalarOf(n.value);
      if (!field || !value || n.op == CmpOp::kNe) return std::nullopt;
      c.field = std::move(*field);
      switch (n.op) {
        case CmpOp::kEq:
          c.kind = FilterConjunct::Kind::kEquals;
          c.values.push_back(std::move(*value));
          break;
        case CmpOp::kLt:
        case CmpOp::kLe:
          c.kind = FilterConjunct::Kind::kRange;
          c.upper = std::move(*value);
          c.upper_inclusive = n.op == CmpOp::kLe;
          break;
        default:  // kGt, kGe
          c.kind = FilterConjunct::Kind::kRange;
          c.lower = std::move(*value);
          c.lower_inclusive = n.op == CmpOp::kGe;
          break;
      }
      return c;
    }
    case NodeKind::kRange: {
      const auto& n = static_cast<const filter_internal::RangeNode&>(node);
      auto field = FieldOf(n.path);
      auto lower = ScalarOf(n.lower);
      auto upper = ScalarOf(n.upper);
      if (!field || !lower || !upper) return std::nullopt;
      c.field = std::move(*field);
      c.kind = FilterConjunct::Kind::kRange;
      c.lower = std::move(*lower);
      c.upper = std::move(*upper);
      c.lower_inclusive = n.lower_inclusive;
      c.upper_inclusive = n.upper_inclusive;
      return c;
    }
    case NodeKind::kIn: {
      const auto& n = static_cast<const InNode&>(node);
      auto field = FieldOf(n.path);
      if (!field || n.negated || n.list.empty()) return std::nullopt;
      c.field = std::move(*field);
      c.kind = FilterConjunct::Kind::kIn;
      for (const json& e : n.list) {
        auto value = ScalarOf(e);
        if (!value) return std::nullopt;
        c.values.push_back(std::move(*value));
      }
      return c;
    }
    default: return std::nullopt;
  }
}

}  // namespace

std::vector<FilterConjunct> Filter::SimpleConjuncts() const {
  std::vector<FilterConjunct> out;
  if (root_ == nullptr) return out;
  std::vector<const Node*> conjuncts;
  if (root_->kind() == NodeKind::kAnd) {
    for (const NodePtr& child : static_cast<const LogicNode&>(*root_).children) {
      conjuncts.push_back(child.get());
    }
  } else {
    conjuncts.push_back(root_.get());
  }
  for (const Node* node : conjuncts) {
    if (auto c = ConjunctOf(*node)) out.push_back(std::move(*c));
  }
  return out;
}

}  // namespace flashembed::query
