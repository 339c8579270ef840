// Parser and type checks of the filter language (filter.h); the tokens come
// from filter_lexer.{h,cc} and the evaluation tree lives in filter_node.{h,cc}.
//
// The parser is a Pratt (precedence-climbing) parser over a token vector. It
// checks types bottom-up while it builds, as Milvus's plan visitor does: every
// sub-expression becomes an Operand (a constant, a path, `path op constant`,
// array_length(path), or a boolean predicate Node), and each operator checks
// the kinds of its operands as soon as both are known.
#include "filter/filter.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "filter/filter_lexer.h"
#include "filter/filter_node.h"
#include "filter/filter_operand.h"

namespace flashembed::query {
namespace {

using filter_internal::ArithCompareNode;
using filter_internal::ArithOp;
using filter_internal::BooleanHint;
using filter_internal::Clip;
using filter_internal::CmpOp;
using filter_internal::ColumnOf;
using filter_internal::CompareColumnsNode;
using filter_internal::CompareNode;
using filter_internal::ConstNode;
using filter_internal::ConstText;
using filter_internal::ContainsNode;
using filter_internal::Describe;
using filter_internal::ErrorAt;
using filter_internal::InNode;
using filter_internal::IsMiscasedKeyword;
using filter_internal::IsSpace;
using filter_internal::json;
using filter_internal::LengthCompareNode;
using filter_internal::LikeNode;
using filter_internal::LikePattern;
using filter_internal::LogicNode;
using filter_internal::MakeColumn;
using filter_internal::MakeConst;
using filter_internal::MakePred;
using filter_internal::Node;
using filter_internal::NodeKind;
using filter_internal::NodePtr;
using filter_internal::NotNode;
using filter_internal::NullCheckNode;
using filter_internal::Operand;
using filter_internal::Path;
using filter_internal::PathStep;
using filter_internal::RangeNode;
using filter_internal::Sanitize;
using filter_internal::StringFnNode;
using filter_internal::Tok;
using filter_internal::Token;
using filter_internal::ToLower;
using filter_internal::ToUpper;
using filter_internal::Tri;
using filter_internal::TypeName;
using filter_internal::Val;

// ------------------------------------------------------------------ Parser

bool IsNumber(const json& v) { return v.is_number(); }
bool IsZero(const json& v) {
  return v.is_number_float() ? v.get<double>() == 0 : v.is_number() && v.get<uint64_t>() == 0;
}
// An int64 constant (uint64 values above INT64_MAX are not).
bool IsInt64(const json& v) {
  return v.is_number_integer() &&
         (!v.is_number_unsigned() ||
          v.get<uint64_t>() <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()));
}

CmpOp CmpOf(Tok t) {
  switch (t) {
    case Tok::kEq: return CmpOp::kEq;
    case Tok::kNe: return CmpOp::kNe;
    case Tok::kLt: return CmpOp::kLt;
    case Tok::kLe: return CmpOp::kLe;
    case Tok::kGt: return CmpOp::kGt;
    default: return CmpOp::kGe;
  }
}

ArithOp ArithOf(Tok t) {
  switch (t) {
    case Tok::kPlus: return ArithOp::kAdd;
    case Tok::kMinus: return ArithOp::kSub;
    case Tok::kStar: return ArithOp::kMul;
    case Tok::kSlash: return ArithOp::kDiv;
    default: return ArithOp::kMod;
  }
}

bool IsRelational(Tok t) {
  return t == Tok::kLt || t == Tok::kLe || t == Tok::kGt || t == Tok::kGe;
}
bool IsForward(Tok t) { return t == Tok::kLt || t == Tok::kLe; }

// Binding powers (§2.2): higher binds tighter. Infix operators are left
// associative: their right operand is parsed with power + 1.
constexpr int kBpOr = 1, kBpAnd = 2, kBpBitOr = 3, kBpBitXor = 4, kBpBitAnd = 5, kBpEquality = 6,
              kBpRelational = 7, kBpRange = 9, kBpIn = 10, kBpShift = 11, kBpAdd = 12, kBpMul = 13,
              kBpPow = 15, kBpLike = 16;
// Operands of prefix + - ~ not take only ** and like (levels 15-16); the
// operand of `exists` is a primary.
constexpr int kBpPrefixOperand = 15;

// The recursive path is ParseExpr -> ParsePrefix (parentheses, prefix
// operators) or ParseInfix (right operands) -> ParseExpr. Everything else is
// kept out of line ([[gnu::noinline]]) so that those frames stay small:
// about 1 KB of stack per nesting level, Filter::kMaxNesting levels at most.
class Parser {
 public:
  Parser(std::string_view src, std::vector<Token> tokens, const json* params)
      : src_(src), toks_(std::move(tokens)), params_(params) {}

  Result<NodePtr> ParseFilter() {
    FE_ASSIGN_OR_RETURN(Operand root, ParseExpr(0));
    if (Peek().kind != Tok::kEnd) return Unexpected(Peek(), "an operator or the end of the filter");
    if (root.kind != Operand::Kind::kPred) {
      return Error(root.pos,
                   "the filter must be a boolean expression such as a comparison, found " +
                       Describe(root) + BooleanHint(root));
    }
    return std::move(root.pred);
  }

 private:
  struct DepthGuard {
    explicit DepthGuard(int* d) : depth(d) { ++*depth; }
    ~DepthGuard() { --*depth; }
    int* depth;
  };

  const Token& Peek(size_t ahead = 0) const {
    return toks_[std::min(i_ + ahead, toks_.size() - 1)];
  }
  const Token& Next() {
    const Token& t = toks_[i_];
    if (i_ + 1 < toks_.size()) ++i_;
    return t;
  }
  [[gnu::noinline]] Status Error(size_t pos, std::string_view what) const {
    return ErrorAt(src_, pos, what);
  }
  [[gnu::noinline]] Status TooDeep(size_t pos) const {
    return Error(pos, fmt::format("expression nested too deeply (more than {} levels)",
                                  Filter::kMaxNesting));
  }

  std::string TokenText(const Token& t) const {
    if (t.kind == Tok::kEnd) return "the end of the filter";
    const std::string_view text = src_.substr(t.pos, t.end - t.pos);
    std::string shown = Sanitize(Clip(text, 0, 40));
    if (shown.size() < text.size()) shown += "...";
    return "'" + shown + "'";
  }

  // The kind of the token before `t` (a token of toks_), kEnd if none.
  Tok Before(const Token& t) const {
    const auto index = static_cast<size_t>(&t - toks_.data());
    return index > 0 && index < toks_.size() ? toks_[index - 1].kind : Tok::kEnd;
  }

  [[gnu::noinline]] Status Unexpected(const Token& t, std::string_view expected) const {
    std::string msg = "expected " + std::string(expected) + ", found " + TokenText(t);
    if (t.kind == Tok::kIdent && IsMiscasedKeyword(t.text)) {
      msg += "; keywords are all lower or all upper case ('" + ToLower(t.text) + "' or '" +
             ToUpper(t.text) + "')";
    } else if (t.kind == Tok::kLBracket && Before(t) != Tok::kEnd && IsSpace(src_[t.pos - 1])) {
      const Tok prev = Before(t);
      if (prev == Tok::kIdent || prev == Tok::kPath || prev == Tok::kMeta) {
        msg += "; a JSON path takes no spaces, as in x[\"key\"]";
      }
    } else if (t.kind == Tok::kIsNull || t.kind == Tok::kIsNotNull) {
      msg += "; 'is null' and 'is not null' directly follow a field or JSON path";
    } else if (t.kind == Tok::kNot) {
      msg += "; here 'not' can only start 'not in'";
    } else if (t.kind == Tok::kLParen && Before(t) == Tok::kPath) {
      msg += "; only identifiers name functions";
    }
    return Error(t.pos, msg);
  }

  // ---- expressions

  Result<Operand> ParseExpr(int min_bp) {
    DepthGuard guard(&depth_);
    if (depth_ > Filter::kMaxNesting) return TooDeep(Peek().pos);
    // Kept small: this frame and ParsePrefix's are on the stack once per
    // nesting level; the operator work happens in ParseInfix.
    Result<Operand> left = ParsePrefix();
    while (left.ok()) {
      const int bp = InfixPower();
      if (bp == 0 || bp < min_bp) break;
      left = ParseInfix(bp, std::move(left).value());
    }
    return left;
  }

  // The binding power of the infix operator at the cursor; 0 if there is none.
  int InfixPower() const {
    switch (Peek().kind) {
      case Tok::kOr: return kBpOr;
      case Tok::kAnd: return kBpAnd;
      case Tok::kBitOr: return kBpBitOr;
      case Tok::kBitXor: return kBpBitXor;
      case Tok::kBitAnd: return kBpBitAnd;
      case Tok::kEq:
      case Tok::kNe: return kBpEquality;
      case Tok::kLt:
      case Tok::kLe:
      case Tok::kGt:
      case Tok::kGe: return RangeAhead() ? kBpRange : kBpRelational;
      case Tok::kIn: return kBpIn;
      case Tok::kNot: return Peek(1).kind == Tok::kIn ? kBpIn : 0;
      case Tok::kShl:
      case Tok::kShr: return kBpShift;
      case Tok::kPlus:
      case Tok::kMinus: return kBpAdd;
      case Tok::kStar:
      case Tok::kSlash:
      case Tok::kPercent: return kBpMul;
      case Tok::kPow: return kBpPow;
      case Tok::kLike: return kBpLike;
      default: return 0;
    }
  }

  // Consumes the infix operator at the cursor (of power `bp`) and its right
  // operand, and applies it to `left`.
  [[gnu::noinline]] Result<Operand> ParseInfix(int bp, Operand left) {
    const Token& op = Next();
    switch (op.kind) {
      case Tok::kBitOr:
      case Tok::kBitXor:
      case Tok::kBitAnd:
      case Tok::kShl:
      case Tok::kShr:
        return Error(op.pos, "bitwise operator " + TokenText(op) + " is not supported");
      case Tok::kLike: return BuildLike(op, std::move(left), Next());
      case Tok::kNot:
        Next();  // the `in` of `not in`
        break;
      default:
        if (bp == kBpRange) return ParseRangeRest(op, std::move(left));
        break;
    }
    FE_ASSIGN_OR_RETURN(Operand right, ParseExpr(bp + 1));
    switch (op.kind) {
      case Tok::kOr:
      case Tok::kAnd: return BuildLogic(op, std::move(left), std::move(right));
      case Tok::kEq:
      case Tok::kNe:
      case Tok::kLt:
      case Tok::kLe:
      case Tok::kGt:
      case Tok::kGe: return BuildCompare(op, std::move(left), std::move(right));
      case Tok::kIn:
      case Tok::kNot: return BuildIn(op.kind == Tok::kNot, std::move(left), std::move(right));
      case Tok::kPow: return BuildPow(op, std::move(left), right);
      default: return BuildArith(op, std::move(left), std::move(right));
    }
  }

  // After `lower op1` of a range: the field, op2 and the upper bound.
  [[gnu::noinline]] Result<Operand> ParseRangeRest(const Token& op1, Operand lower) {
    const Token& column = Next();
    const Token& op2 = Next();
    FE_ASSIGN_OR_RETURN(Operand upper, ParseExpr(kBpIn));
    return BuildRange(std::move(lower), op1, column, op2, std::move(upper));
  }

  // At a relational operator: is this `E1 op1 P op2 E2` with P a bare field
  // or path and op1, op2 of the same direction (§2.2 range rule)?
  bool RangeAhead() const {
    const Tok op1 = Peek().kind;
    const Tok column = Peek(1).kind;
    const Tok op2 = Peek(2).kind;
    return (column == Tok::kIdent || column == Tok::kPath || column == Tok::kMeta) &&
           IsRelational(op2) && IsForward(op1) == IsForward(op2);
  }

  Result<Operand> ParsePrefix() {
    const Token& t = Next();
    switch (t.kind) {
      case Tok::kInt:
        if (t.int_value <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
          return MakeConst(t.pos, json(static_cast<int64_t>(t.int_value)));
        }
        return MakeConst(t.pos, json(t.int_value));
      case Tok::kFloat: return MakeConst(t.pos, json(t.float_value));
      case Tok::kString: return MakeConst(t.pos, json(t.text));
      case Tok::kBool: return MakeConst(t.pos, json(t.bool_value));
      case Tok::kPlus:
      case Tok::kMinus: {
        FE_ASSIGN_OR_RETURN(Operand operand, ParseExpr(kBpPrefixOperand));
        return BuildSign(t, std::move(operand));
      }
      case Tok::kBitNot: return Error(t.pos, "bitwise operator '~' is not supported");
      case Tok::kNot: {
        FE_ASSIGN_OR_RETURN(Operand operand, ParseExpr(kBpPrefixOperand));
        return BuildNot(t, std::move(operand));
      }
      case Tok::kExists: {
        DepthGuard guard(&depth_);
        if (depth_ > Filter::kMaxNesting) return TooDeep(t.pos);
        FE_ASSIGN_OR_RETURN(Operand operand, ParsePrefix());
        return BuildExists(t, std::move(operand));
      }
      case Tok::kIdent:
        if (Peek().kind == Tok::kLParen) return ParseCall(t);
        [[fallthrough]];
      case Tok::kPath:
      case Tok::kMeta: return ParseColumn(t);
      case Tok::kFunc: return ParseFunction(t);
      case Tok::kLParen: {
        FE_ASSIGN_OR_RETURN(Operand inner, ParseExpr(0));
        if (Peek().kind != Tok::kRParen) {
          return Unexpected(
              Peek(), fmt::format("')' to close the '(' at column {}", ColumnOf(src_, t.pos)));
        }
        Next();
        inner.pos = t.pos;
        return inner;
      }
      case Tok::kLBracket: return ParseList(t);
      case Tok::kLBrace: return ParseTemplate(t);
      default: return Unexpected(t, "a value, a field, a function or '('");
    }
  }

  Result<Path> PathOf(const Token& t) const {
    Path path;
    if (t.kind == Tok::kMeta) return path;
    if (t.kind == Tok::kIdent) {
      if (t.text == "id") {
        path.is_id = true;
        return path;
      }
      if (t.text == "null" || t.text == "NULL" || t.text == "Null") {
        return Error(t.pos, "'null' is not a value: test with 'x is null' or 'x is not null'");
      }
      path.steps.push_back({false, t.text, 0});
      return path;
    }
    // kPath
    if (!t.text.empty()) {
      if (t.text == "id") {
        return Error(t.pos,
                     "'id' is the document's primary key and has no JSON path; the "
                     "metadata key \"id\" is $meta[\"id\"]");
      }
      path.steps.push_back({false, t.text, 0});
    }
    path.steps.insert(path.steps.end(), t.steps.begin(), t.steps.end());
    return path;
  }

  // A field or path, with a following `is null` / `is not null`.
  [[gnu::noinline]] Result<Operand> ParseColumn(const Token& t) {
    FE_ASSIGN_OR_RETURN(Path path, PathOf(t));
    const Tok next = Peek().kind;
    if (next == Tok::kIsNull || next == Tok::kIsNotNull) {
      if (t.kind == Tok::kMeta) {
        return Error(Peek().pos,
                     "'is null' needs a field or JSON path; $meta itself is never null");
      }
      Next();
      const auto check =
          next == Tok::kIsNull ? NullCheckNode::Check::kIsNull : NullCheckNode::Check::kIsNotNull;
      return MakePred(t.pos, std::make_unique<NullCheckNode>(std::move(path), check));
    }
    return MakeColumn(t.pos, std::move(path));
  }

  [[gnu::noinline]] Result<Operand> ParseList(const Token& open) {
    json list = json::array();
    if (Peek().kind == Tok::kRBracket) {
      Next();
      return MakeConst(open.pos, std::move(list));
    }
    while (true) {
      FE_ASSIGN_OR_RETURN(Operand element, ParseExpr(0));
      if (element.kind != Operand::Kind::kConst) {
        return Error(element.pos, "list elements must be constants, found " + Describe(element));
      }
      list.push_back(std::move(element.value));
      if (Peek().kind == Tok::kComma) {
        Next();
        if (Peek().kind == Tok::kRBracket) break;
        continue;
      }
      if (Peek().kind == Tok::kRBracket) break;
      return Unexpected(Peek(), "',' or ']' in the list");
    }
    Next();
    return MakeConst(open.pos, std::move(list));
  }

  [[gnu::noinline]] Result<Operand> ParseTemplate(const Token& open) {
    const Token& name = Next();
    if (name.kind != Tok::kIdent) return Unexpected(name, "a parameter name after '{'");
    if (Peek().kind != Tok::kRBrace) return Unexpected(Peek(), "'}' to close {" + name.text);
    Next();
    const std::string shown = "{" + name.text + "}";
    if (params_ == nullptr || !params_->is_object() || !params_->contains(name.text)) {
      return Error(open.pos, "template " + shown + " has no value in the filter params");
    }
    FE_ASSIGN_OR_RETURN(json value, ParamValue(params_->at(name.text), shown, open.pos, 0));
    return MakeConst(open.pos, std::move(value));
  }

  // A template value (§2.5): bool, string, number or a non-empty array.
  Result<json> ParamValue(const json& v, const std::string& shown, size_t pos, int depth) const {
    const std::string expected = "; use a bool, number, string or non-empty array";
    switch (v.type()) {
      case json::value_t::boolean:
      case json::value_t::string:
      case json::value_t::number_integer:
      case json::value_t::number_unsigned: return v;
      case json::value_t::number_float:
        if (!std::isfinite(v.get<double>())) {
          return Error(pos, "template " + shown + " is not a finite number");
        }
        return v;
      case json::value_t::array: {
        if (depth == 0 && v.empty())
          return Error(pos, "template " + shown + " is an empty array" + expected);
        if (depth >= Filter::kMaxNesting) return TooDeep(pos);
        json out = json::array();
        for (const json& e : v) {
          FE_ASSIGN_OR_RETURN(json element, ParamValue(e, shown, pos, depth + 1));
          out.push_back(std::move(element));
        }
        return out;
      }
      case json::value_t::null:
        return Error(pos,
                     "template " + shown + (depth == 0 ? " is null" : " holds a null") + expected);
      case json::value_t::object:
        return Error(pos, "template " + shown +
                              (depth == 0 ? " is an object" : " holds an object") + expected);
      default: return Error(pos, "template " + shown + " has an unsupported value" + expected);
    }
  }

  // `(` args `)` after a function name.
  [[gnu::noinline]] Result<std::vector<Operand>> ParseArgs(const Token& name,
                                                           bool allow_trailing_comma) {
    if (Peek().kind != Tok::kLParen) return Unexpected(Peek(), "'(' after " + TokenText(name));
    Next();
    std::vector<Operand> args;
    if (Peek().kind == Tok::kRParen) {
      Next();
      return args;
    }
    while (true) {
      FE_ASSIGN_OR_RETURN(Operand arg, ParseExpr(0));
      args.push_back(std::move(arg));
      if (Peek().kind == Tok::kComma) {
        Next();
        if (allow_trailing_comma && Peek().kind == Tok::kRParen) break;
        continue;
      }
      if (Peek().kind == Tok::kRParen) break;
      return Unexpected(Peek(), "',' or ')' after an argument of " + TokenText(name));
    }
    Next();
    return args;
  }

  Status CheckArgCount(const Token& name, const std::vector<Operand>& args, size_t n) const {
    if (args.size() == n) return Status::OK();
    return Error(name.pos, fmt::format("{} takes {} argument{}, found {}", TokenText(name), n,
                                       n == 1 ? "" : "s", args.size()));
  }

  Status CheckPathArg(const Token& name, const Operand& arg) const {
    if (arg.kind == Operand::Kind::kColumn) return Status::OK();
    return Error(arg.pos, "the first argument of " + TokenText(name) +
                              " must be a field or JSON path, found " + Describe(arg));
  }

  // Keyword functions (§2.4): array_contains*, json_contains*, array_length,
  // text_match, phrase_match.
  [[gnu::noinline]] Result<Operand> ParseFunction(const Token& name) {
    const std::string& fn = name.text;
    if (fn == "text_match" || fn == "phrase_match") {
      return Error(name.pos, fn + " needs a full-text index, not available yet");
    }
    FE_ASSIGN_OR_RETURN(std::vector<Operand> args, ParseArgs(name, /*allow_trailing_comma=*/false));
    if (fn == "array_length") {
      FE_RETURN_IF_ERROR(CheckArgCount(name, args, 1));
      FE_RETURN_IF_ERROR(CheckPathArg(name, args[0]));
      Operand op;
      op.kind = Operand::Kind::kLength;
      op.pos = name.pos;
      op.path = std::move(args[0].path);
      return op;
    }
    FE_RETURN_IF_ERROR(CheckArgCount(name, args, 2));
    FE_RETURN_IF_ERROR(CheckPathArg(name, args[0]));
    ContainsNode::Mode mode = ContainsNode::Mode::kOne;
    if (fn.ends_with("_all")) mode = ContainsNode::Mode::kAll;
    if (fn.ends_with("_any")) mode = ContainsNode::Mode::kAny;
    const Operand& value = args[1];
    if (mode == ContainsNode::Mode::kOne && value.kind != Operand::Kind::kConst) {
      return Error(value.pos, "the second argument of " + TokenText(name) +
                                  " must be a constant, found " + Describe(value));
    }
    if (mode != ContainsNode::Mode::kOne &&
        (value.kind != Operand::Kind::kConst || !value.value.is_array())) {
      return Error(value.pos, "the second argument of " + TokenText(name) +
                                  " must be a list such as [1, 2] or a {param} list, found " +
                                  Describe(value));
    }
    return MakePred(name.pos, std::make_unique<ContainsNode>(std::move(args[0].path), mode,
                                                             std::move(args[1].value)));
  }

  // Generic calls `ident(args)`: empty(x) and starts_with(x, "p") (§2.4).
  [[gnu::noinline]] Result<Operand> ParseCall(const Token& name) {
    const std::string& fn = name.text;
    const bool is_empty = fn == "empty" || fn == "EMPTY";
    const bool is_starts_with = fn == "starts_with" || fn == "STARTS_WITH";
    if (!is_empty && !is_starts_with) {
      std::string msg = "unknown function '" + Sanitize(fn) +
                        "'; the functions are array_contains, array_contains_all, "
                        "array_contains_any, json_contains, json_contains_all, json_contains_any, "
                        "array_length, empty and starts_with";
      const std::string lower = ToLower(fn);
      if (IsMiscasedKeyword(fn) || lower == "empty" || lower == "starts_with") {
        msg += " (names are all lower or all upper case)";
      }
      return Error(name.pos, msg);
    }
    FE_ASSIGN_OR_RETURN(std::vector<Operand> args, ParseArgs(name, /*allow_trailing_comma=*/true));
    FE_RETURN_IF_ERROR(CheckArgCount(name, args, is_empty ? 1 : 2));
    FE_RETURN_IF_ERROR(CheckPathArg(name, args[0]));
    std::string prefix;
    if (is_starts_with) {
      if (args[1].kind != Operand::Kind::kConst || !args[1].value.is_string()) {
        return Error(args[1].pos, "the second argument of " + TokenText(name) +
                                      " must be a string constant, found " + Describe(args[1]));
      }
      prefix = args[1].value.get<std::string>();
    }
    const auto kind = is_empty ? StringFnNode::Fn::kEmpty : StringFnNode::Fn::kStartsWith;
    return MakePred(
        name.pos, std::make_unique<StringFnNode>(std::move(args[0].path), kind, std::move(prefix)));
  }

  // ---- type checks and folding

  [[gnu::noinline]] Result<Operand> BuildLogic(const Token& op, Operand left, Operand right) const {
    const bool is_and = op.kind == Tok::kAnd;
    const std::string name = is_and ? "'and'" : "'or'";
    for (const Operand* side : {&left, &right}) {
      if (side->kind != Operand::Kind::kPred) {
        return Error(side->pos,
                     name + " needs a boolean expression on each side, found " + Describe(*side) +
                         (side == &left ? " on the left" : " on the right") + BooleanHint(*side));
      }
    }
    // Flatten (a and b) and c into one node; extending the left node in place
    // keeps a long chain `x == 1 or x == 2 or ...` linear.
    const NodeKind kind = is_and ? NodeKind::kAnd : NodeKind::kOr;
    NodePtr node =
        left.pred->kind() == kind ? std::move(left.pred) : std::make_unique<LogicNode>(is_and);
    auto& children = static_cast<LogicNode&>(*node).children;
    if (left.pred != nullptr) children.push_back(std::move(left.pred));
    if (right.pred->kind() == kind) {
      for (NodePtr& child : static_cast<LogicNode&>(*right.pred).children) {
        children.push_back(std::move(child));
      }
    } else {
      children.push_back(std::move(right.pred));
    }
    return MakePred(left.pos, std::move(node));
  }

  [[gnu::noinline]] Result<Operand> BuildNot(const Token& op, Operand operand) const {
    if (operand.kind != Operand::Kind::kPred) {
      return Error(op.pos, "'not' needs a boolean expression, found " + Describe(operand) +
                               "; 'not' binds tighter than comparisons, so write not (a == 1)");
    }
    if (operand.pred->kind() == NodeKind::kConst) {
      const bool v = static_cast<const ConstNode*>(operand.pred.get())->value;
      return MakePred(op.pos, std::make_unique<ConstNode>(!v));
    }
    return MakePred(op.pos, std::make_unique<NotNode>(std::move(operand.pred)));
  }

  [[gnu::noinline]] Result<Operand> BuildSign(const Token& op, Operand operand) const {
    const bool minus = op.kind == Tok::kMinus;
    if (operand.kind != Operand::Kind::kConst || !IsNumber(operand.value)) {
      return Error(op.pos, std::string("unary '") + (minus ? "-" : "+") +
                               "' applies only to numeric constants, found " + Describe(operand));
    }
    json& v = operand.value;
    operand.pos = op.pos;
    if (!minus) return operand;
    if (v.is_number_float()) {
      v = -v.get<double>();
    } else if (IsInt64(v)) {
      const auto i = v.get<int64_t>();
      if (i == std::numeric_limits<int64_t>::min()) {
        return Error(op.pos, "integer overflow in constant expression");
      }
      v = -i;
    } else if (v.get<uint64_t>() == uint64_t{1} << 63) {
      v = std::numeric_limits<int64_t>::min();
    } else {
      return Error(op.pos, "integer literal out of range: -" + ConstText(v) + " is below int64");
    }
    return operand;
  }

  [[gnu::noinline]] Result<Operand> BuildExists(const Token& op, Operand operand) const {
    if (operand.kind == Operand::Kind::kColumn && operand.path.is_id) {
      return Error(operand.pos,
                   "exists needs a JSON path; 'id' is the primary key, which always "
                   "exists");
    }
    if (operand.kind != Operand::Kind::kColumn || operand.path.steps.empty()) {
      return Error(operand.pos,
                   "exists needs a JSON path with at least one key, as in exists "
                   "x[\"k\"] or exists $meta[\"k\"], found " +
                       Describe(operand));
    }
    return MakePred(op.pos, std::make_unique<NullCheckNode>(std::move(operand.path),
                                                            NullCheckNode::Check::kExists));
  }

  // Constant-vs-constant comparison, folded.
  [[gnu::noinline]] Result<Operand> FoldCompare(const Token& op, CmpOp cmp, const Operand& l,
                                                const Operand& r) const {
    const Val a = filter_internal::ValOf(&l.value);
    const Val b = filter_internal::ValOf(&r.value);
    const bool ordering = cmp != CmpOp::kEq && cmp != CmpOp::kNe;
    const bool same_family = (a.is_number() && b.is_number()) || a.kind == b.kind;
    if (!same_family) {
      return Error(op.pos, std::string("cannot compare ") + TypeName(l.value) + " with " +
                               TypeName(r.value));
    }
    if (ordering && (a.kind == Val::Kind::kBool || a.kind == Val::Kind::kArray)) {
      return Error(op.pos, TokenText(op) + " cannot order " + TypeName(l.value) +
                               " values; only == and != compare them");
    }
    bool result = false;
    if (cmp == CmpOp::kEq) {
      result = filter_internal::ValEqual(a, b);
    } else if (cmp == CmpOp::kNe) {
      result = !filter_internal::ValEqual(a, b);
    } else {
      const auto order = filter_internal::ValOrder(a, b);
      result = order && filter_internal::ApplyCmp(cmp, *order);
    }
    return MakePred(l.pos, std::make_unique<ConstNode>(result));
  }

  Status CheckComparableConst(const Token& op, CmpOp cmp, const Operand& c) const {
    if (cmp == CmpOp::kEq || cmp == CmpOp::kNe) return Status::OK();
    if (c.value.is_boolean() || c.value.is_array()) {
      return Error(c.pos, TokenText(op) + " cannot order " + TypeName(c.value) +
                              " values; only == and != compare them");
    }
    return Status::OK();
  }

  [[gnu::noinline]] Result<Operand> BuildCompare(const Token& op, Operand l, Operand r) const {
    CmpOp cmp = CmpOf(op.kind);
    for (const Operand* side : {&l, &r}) {
      if (side->kind == Operand::Kind::kPred) {
        return Error(side->pos, TokenText(op) +
                                    " cannot compare a boolean expression; a range "
                                    "is written 'a < x < b' with a field in the middle, "
                                    "and a boolean field is compared as x == true");
      }
    }
    if (l.kind == Operand::Kind::kConst && r.kind == Operand::Kind::kConst) {
      return FoldCompare(op, cmp, l, r);
    }
    const size_t pos = std::min(l.pos, r.pos);
    if (l.kind == Operand::Kind::kConst) {  // constant on the left: swap
      std::swap(l, r);
      cmp = filter_internal::FlipCmp(cmp);
    }
    switch (l.kind) {
      case Operand::Kind::kColumn:
        if (r.kind == Operand::Kind::kConst) {
          FE_RETURN_IF_ERROR(CheckComparableConst(op, cmp, r));
          return MakePred(
              pos, std::make_unique<CompareNode>(std::move(l.path), cmp, std::move(r.value)));
        }
        if (r.kind == Operand::Kind::kColumn) {
          return MakePred(
              pos, std::make_unique<CompareColumnsNode>(std::move(l.path), cmp, std::move(r.path)));
        }
        break;
      case Operand::Kind::kArith:
        if (r.kind == Operand::Kind::kConst) {
          if (!IsNumber(r.value)) {
            return Error(r.pos,
                         "an arithmetic result is compared with a number, found " + Describe(r));
          }
          return MakePred(
              pos, std::make_unique<ArithCompareNode>(std::move(l.path), l.arith,
                                                      std::move(l.value), cmp, std::move(r.value)));
        }
        break;
      case Operand::Kind::kLength:
        if (r.kind == Operand::Kind::kConst) {
          if (!r.value.is_number_integer()) {
            return Error(r.pos, "array_length() is compared with an integer, found " + Describe(r));
          }
          return MakePred(
              pos, std::make_unique<LengthCompareNode>(std::move(l.path), cmp, std::move(r.value)));
        }
        break;
      default: break;
    }
    const Operand& other = l.kind == Operand::Kind::kColumn ? r : l;
    return Error(other.pos, TokenText(op) + " cannot compare " + Describe(l) + " with " +
                                Describe(r) +
                                "; arithmetic and array_length() are compared "
                                "with constants only");
  }

  [[gnu::noinline]] Result<Operand> BuildRange(Operand lower, const Token& op1, const Token& column,
                                               const Token& op2, Operand upper) const {
    FE_ASSIGN_OR_RETURN(Path path, PathOf(column));
    for (const Operand* bound : {&lower, &upper}) {
      if (bound->kind != Operand::Kind::kConst) {
        return Error(bound->pos, "a range bound must be a constant, found " + Describe(*bound));
      }
      if (!bound->value.is_number() && !bound->value.is_string()) {
        return Error(bound->pos,
                     "a range bound is a number or a string, found " + Describe(*bound));
      }
    }
    if (lower.value.is_string() != upper.value.is_string()) {
      return Error(upper.pos, "range bounds must both be numbers or both be strings");
    }
    const size_t pos = lower.pos;
    if (IsForward(op1.kind)) {  // lower < x <= upper
      return MakePred(pos, std::make_unique<RangeNode>(std::move(path), std::move(lower.value),
                                                       op1.kind == Tok::kLe, std::move(upper.value),
                                                       op2.kind == Tok::kLe));
    }
    // Reverse range: upper_bound > x >= lower_bound.
    return MakePred(pos, std::make_unique<RangeNode>(std::move(path), std::move(upper.value),
                                                     op2.kind == Tok::kGe, std::move(lower.value),
                                                     op1.kind == Tok::kGe));
  }

  [[gnu::noinline]] Result<Operand> BuildIn(bool negated, Operand l, Operand r) const {
    if (l.kind != Operand::Kind::kColumn) {
      return Error(l.pos,
                   "the left side of 'in' must be a field or JSON path, found " + Describe(l));
    }
    if (r.kind != Operand::Kind::kConst || !r.value.is_array()) {
      return Error(
          r.pos,
          "'in' needs a list of constants such as [1, 2] or a {param} list, found " + Describe(r));
    }
    return MakePred(l.pos,
                    std::make_unique<InNode>(std::move(l.path), std::move(r.value), negated));
  }

  [[gnu::noinline]] Result<Operand> BuildLike(const Token& op, Operand l,
                                              const Token& pattern) const {
    if (pattern.kind != Tok::kString) {
      if (pattern.kind == Tok::kLBrace) {
        return Error(pattern.pos,
                     "a like pattern must be a string literal; a {param} cannot be one");
      }
      return Unexpected(pattern, "a string pattern after " + TokenText(op));
    }
    if (l.kind != Operand::Kind::kColumn) {
      return Error(l.pos, "'like' needs a field or JSON path on its left, found " + Describe(l));
    }
    LikePattern matcher;
    if (auto error = LikePattern::Compile(pattern.text, &matcher))
      return Error(pattern.pos, *error);
    return MakePred(
        l.pos, std::make_unique<LikeNode>(std::move(l.path), pattern.text, std::move(matcher)));
  }

  [[gnu::noinline]] Result<Operand> BuildArith(const Token& op, Operand l, Operand r) const {
    const ArithOp arith = ArithOf(op.kind);
    const bool divides = arith == ArithOp::kDiv || arith == ArithOp::kMod;
    if (r.kind == Operand::Kind::kConst && IsNumber(r.value)) {
      if (divides && IsZero(r.value)) {
        return Error(r.pos, arith == ArithOp::kDiv ? "division by zero" : "modulo by zero");
      }
      if (arith == ArithOp::kMod && !IsInt64(r.value)) {
        return Error(r.pos, "'%' needs an integer divisor, found " + Describe(r));
      }
    }
    if (l.kind == Operand::Kind::kConst && r.kind == Operand::Kind::kConst) {
      return FoldArith(op, arith, std::move(l), r);
    }
    if (l.kind == Operand::Kind::kColumn && r.kind == Operand::Kind::kConst) {
      if (!IsNumber(r.value)) {
        return Error(r.pos, "arithmetic needs a numeric constant, found " + Describe(r));
      }
      Operand out;
      out.kind = Operand::Kind::kArith;
      out.pos = l.pos;
      out.path = std::move(l.path);
      out.arith = arith;
      out.value = std::move(r.value);
      return out;
    }
    if (l.kind == Operand::Kind::kConst && r.kind == Operand::Kind::kColumn) {
      return Error(l.pos,
                   "arithmetic is written 'field op constant' (x * 2), not 'constant op "
                   "field'");
    }
    if (l.kind == Operand::Kind::kArith) {
      return Error(op.pos,
                   "only one arithmetic operation on a field is supported, as in "
                   "'x + 1 == 3'");
    }
    return Error(op.pos,
                 "arithmetic is supported only as 'field op constant' compared with a "
                 "constant (views % 10 == 0), found " +
                     Describe(l) + " " + TokenText(op) + " " + Describe(r));
  }

  [[gnu::noinline]] Result<Operand> FoldArith(const Token& op, ArithOp arith, Operand l,
                                              const Operand& r) const {
    if (!IsNumber(l.value) || !IsNumber(r.value)) {
      return Error(op.pos,
                   "arithmetic needs numbers, found " + Describe(l) + " and " + Describe(r));
    }
    if (arith == ArithOp::kMod && !IsInt64(l.value)) {
      return Error(l.pos, "'%' needs integers, found " + Describe(l));
    }
    if (IsInt64(l.value) && IsInt64(r.value)) {
      const auto x = l.value.get<int64_t>();
      const auto y = r.value.get<int64_t>();
      int64_t result = 0;
      bool overflow = false;
      switch (arith) {
        case ArithOp::kAdd: overflow = __builtin_add_overflow(x, y, &result); break;
        case ArithOp::kSub: overflow = __builtin_sub_overflow(x, y, &result); break;
        case ArithOp::kMul: overflow = __builtin_mul_overflow(x, y, &result); break;
        case ArithOp::kDiv:
          overflow = x == std::numeric_limits<int64_t>::min() && y == -1;
          if (!overflow) result = x / y;
          break;
        case ArithOp::kMod: result = y == -1 ? 0 : x % y; break;
      }
      if (overflow) return Error(op.pos, "integer overflow in constant expression");
      l.value = result;
      return l;
    }
    const double x = l.value.get<double>();
    const double y = r.value.get<double>();
    double result = 0;
    switch (arith) {
      case ArithOp::kAdd: result = x + y; break;
      case ArithOp::kSub: result = x - y; break;
      case ArithOp::kMul: result = x * y; break;
      case ArithOp::kDiv: result = x / y; break;
      case ArithOp::kMod: result = std::fmod(x, y); break;
    }
    if (!std::isfinite(result)) return Error(op.pos, "constant expression is not a finite number");
    l.value = result;
    return l;
  }

  [[gnu::noinline]] Result<Operand> BuildPow(const Token& op, Operand l, const Operand& r) const {
    if (l.kind != Operand::Kind::kConst || r.kind != Operand::Kind::kConst || !IsNumber(l.value) ||
        !IsNumber(r.value)) {
      const Operand& bad = l.kind != Operand::Kind::kConst || !IsNumber(l.value) ? l : r;
      return Error(op.pos, "'**' works only between numeric constants, found " + Describe(bad));
    }
    const double result = std::pow(l.value.get<double>(), r.value.get<double>());
    if (!std::isfinite(result)) return Error(op.pos, "constant expression is not a finite number");
    l.value = result;
    return l;
  }

  std::string_view src_;
  std::vector<Token> toks_;
  const json* params_;
  size_t i_ = 0;
  int depth_ = 0;
};

}  // namespace

Result<Filter> Filter::Parse(std::string_view expr, const nlohmann::json* params) {
  if (params != nullptr && !params->is_null() && !params->is_object()) {
    return Status::InvalidArgument(std::string("filter params must be a JSON object, found ") +
                                   params->type_name());
  }
  bool blank = true;
  for (char c : expr) blank = blank && IsSpace(c);
  if (blank) return Filter();
  std::vector<Token> tokens;
  FE_RETURN_IF_ERROR(filter_internal::Tokenize(expr, &tokens));
  Parser parser(expr, std::move(tokens), params);
  FE_ASSIGN_OR_RETURN(NodePtr root, parser.ParseFilter());
  return Filter(std::shared_ptr<const Node>(std::move(root)));
}

bool Filter::Matches(const FilterRow& row) const {
  return root_ == nullptr || root_->Eval(row) == Tri::kTrue;
}

std::string Filter::DebugString() const {
  std::string out;
  if (root_ != nullptr) root_->Print(&out);
  return out;
}

}  // namespace flashembed::query
