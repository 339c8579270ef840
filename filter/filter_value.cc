// Values of the filter language (filter_value.h): reading them from a
// document, comparing and combining them, printing constants.
#include "filter/filter_value.h"

#include <charconv>
#include <cmath>
#include <limits>

#include "base/utf8.h"

namespace flashembed::query::filter_internal {
namespace {

constexpr double kTwo63 = 9223372036854775808.0;   // 2^63
constexpr double kTwo64 = 18446744073709551616.0;  // 2^64
// Deepest array/object nesting ValEqual descends into; deeper values compare
// unequal instead of recursing further.
constexpr int kMaxCompareDepth = 256;

// Words the lexer gives a meaning of their own: a metadata key spelled like
// one prints as $meta["word"] so that the canonical form parses back.
bool IsReservedWord(std::string_view w) {
  static constexpr std::string_view kWords[] = {
      "and",
      "AND",
      "or",
      "OR",
      "not",
      "NOT",
      "in",
      "IN",
      "like",
      "LIKE",
      "exists",
      "EXISTS",
      "true",
      "True",
      "TRUE",
      "false",
      "False",
      "FALSE",
      "id",
      "null",
      "NULL",
      "Null",
      "array_contains",
      "ARRAY_CONTAINS",
      "array_contains_all",
      "ARRAY_CONTAINS_ALL",
      "array_contains_any",
      "ARRAY_CONTAINS_ANY",
      "json_contains",
      "JSON_CONTAINS",
      "json_contains_all",
      "JSON_CONTAINS_ALL",
      "json_contains_any",
      "JSON_CONTAINS_ANY",
      "array_length",
      "ARRAY_LENGTH",
      "text_match",
      "TEXT_MATCH",
      "phrase_match",
      "PHRASE_MATCH",
  };
  for (std::string_view k : kWords) {
    if (k == w) return true;
  }
  return false;
}

bool IsPlainIdentifier(std::string_view w) {
  if (w.empty()) return false;
  auto alpha = [](char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; };
  if (!alpha(w[0])) return false;
  for (char c : w) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

std::partial_ordering CompareIntDouble(int64_t i, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d >= kTwo63) return std::partial_ordering::less;
  if (d < -kTwo63) return std::partial_ordering::greater;
  const double t = std::trunc(d);  // exactly representable as int64 here
  const auto ti = static_cast<int64_t>(t);
  if (i != ti) return i <=> ti;
  return 0.0 <=> (d - t);  // i == trunc(d): the fraction decides
}

std::partial_ordering CompareUintDouble(uint64_t u, double d) {
  if (std::isnan(d)) return std::partial_ordering::unordered;
  if (d >= kTwo64) return std::partial_ordering::less;
  if (d < 0) return std::partial_ordering::greater;
  const double t = std::trunc(d);
  const auto tu = static_cast<uint64_t>(t);
  if (u != tu) return u <=> tu;
  return 0.0 <=> (d - t);
}

bool ValEqualAt(const Val& a, const Val& b, int depth) {
  if (a.is_number() && b.is_number()) return CompareNumbers(a, b) == 0;
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case Val::Kind::kMissing: return false;
    case Val::Kind::kNull:
      return true;  // only inside arrays and objects: top-level nulls are unknown
    case Val::Kind::kBool: return a.b == b.b;
    case Val::Kind::kString: return a.s == b.s;
    case Val::Kind::kArray: {
      if (a.j->size() != b.j->size() || depth >= kMaxCompareDepth) return false;
      for (size_t i = 0; i < a.j->size(); ++i) {
        if (!ValEqualAt(ValOf(&(*a.j)[i]), ValOf(&(*b.j)[i]), depth + 1)) return false;
      }
      return true;
    }
    case Val::Kind::kObject: {
      if (a.j->size() != b.j->size() || depth >= kMaxCompareDepth) return false;
      for (auto it = a.j->begin(); it != a.j->end(); ++it) {
        auto other = b.j->find(it.key());
        if (other == b.j->end()) return false;
        if (!ValEqualAt(ValOf(&*it), ValOf(&*other), depth + 1)) return false;
      }
      return true;
    }
    default: return false;  // numbers were handled above
  }
}

double ToDouble(const Val& v) {
  switch (v.kind) {
    case Val::Kind::kInt: return static_cast<double>(v.i);
    case Val::Kind::kUint: return static_cast<double>(v.u);
    default: return v.d;
  }
}

Val DoubleVal(double d) {
  Val v;
  v.kind = Val::Kind::kDouble;
  v.d = d;
  return v;
}

// Classifies a number for ValueSet: integral values in int64 range as int,
// integral values in [2^63, 2^64) as uint, everything else as double, so that
// 2 and 2.0 land in the same set.
enum class NumClass { kInt, kUint, kDouble };
NumClass Classify(const Val& v, int64_t* i, uint64_t* u, double* d) {
  if (v.kind == Val::Kind::kInt) {
    *i = v.i;
    return NumClass::kInt;
  }
  if (v.kind == Val::Kind::kUint) {
    *u = v.u;
    return NumClass::kUint;
  }
  const double x = v.d;
  if (std::trunc(x) == x) {
    if (x >= -kTwo63 && x < kTwo63) {
      *i = static_cast<int64_t>(x);
      return NumClass::kInt;
    }
    if (x >= kTwo63 && x < kTwo64) {
      *u = static_cast<uint64_t>(x);
      return NumClass::kUint;
    }
  }
  *d = x;
  return NumClass::kDouble;
}

void AppendHexByte(unsigned char c, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->append("\\x");
  out->push_back(kHex[c >> 4]);
  out->push_back(kHex[c & 15]);
}

void PrintDouble(double d, std::string* out) {
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), d);
  std::string_view text(buf, ec == std::errc() ? end - buf : 0);
  out->append(text);
  if (text.find_first_of(".eEni") == std::string_view::npos) out->append(".0");
}

}  // namespace

std::string Path::ToString() const {
  if (is_id) return "id";
  std::string out;
  size_t first = 0;
  if (!steps.empty() && !steps[0].is_index && IsPlainIdentifier(steps[0].key) &&
      !IsReservedWord(steps[0].key)) {
    out = steps[0].key;
    first = 1;
  } else {
    out = "$meta";
  }
  for (size_t i = first; i < steps.size(); ++i) {
    out.push_back('[');
    if (steps[i].is_index) {
      out.append(std::to_string(steps[i].index));
    } else {
      PrintString(steps[i].key, &out);
    }
    out.push_back(']');
  }
  return out;
}

Val IntVal(int64_t i) {
  Val v;
  v.kind = Val::Kind::kInt;
  v.i = i;
  return v;
}

Val Arith(const Val& a, ArithOp op, const Val& b) {
  if (a.kind == Val::Kind::kInt && b.kind == Val::Kind::kInt) {
    const int64_t x = a.i;
    const int64_t y = b.i;
    int64_t r = 0;
    switch (op) {
      case ArithOp::kAdd:
        if (!__builtin_add_overflow(x, y, &r)) return IntVal(r);
        break;
      case ArithOp::kSub:
        if (!__builtin_sub_overflow(x, y, &r)) return IntVal(r);
        break;
      case ArithOp::kMul:
        if (!__builtin_mul_overflow(x, y, &r)) return IntVal(r);
        break;
      case ArithOp::kDiv:
        if (y == 0) return Val{};
        if (x == std::numeric_limits<int64_t>::min() && y == -1) break;
        return IntVal(x / y);
      case ArithOp::kMod:
        if (y == 0) return Val{};
        if (y == -1) return IntVal(0);
        return IntVal(x % y);
    }
    // Overflow: fall through to double arithmetic.
  }
  const double x = ToDouble(a);
  const double y = ToDouble(b);
  double r = 0;
  switch (op) {
    case ArithOp::kAdd: r = x + y; break;
    case ArithOp::kSub: r = x - y; break;
    case ArithOp::kMul: r = x * y; break;
    case ArithOp::kDiv:
      if (y == 0) return Val{};
      r = x / y;
      break;
    case ArithOp::kMod:
      if (y == 0) return Val{};
      r = std::fmod(x, y);
      break;
  }
  if (std::isnan(r)) return Val{};
  return DoubleVal(r);
}

Val ValOf(const json* j) {
  Val v;
  switch (j->type()) {
    case json::value_t::boolean:
      v.kind = Val::Kind::kBool;
      v.b = j->get<bool>();
      break;
    case json::value_t::number_integer:
      v.kind = Val::Kind::kInt;
      v.i = j->get<int64_t>();
      break;
    case json::value_t::number_unsigned: {
      const auto u = j->get<uint64_t>();
      if (u <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        v.kind = Val::Kind::kInt;
        v.i = static_cast<int64_t>(u);
      } else {
        v.kind = Val::Kind::kUint;
        v.u = u;
      }
      break;
    }
    case json::value_t::number_float:
      v.kind = Val::Kind::kDouble;
      v.d = j->get<double>();
      break;
    case json::value_t::string:
      v.kind = Val::Kind::kString;
      v.s = j->get_ref<const std::string&>();
      break;
    case json::value_t::array:
      v.kind = Val::Kind::kArray;
      v.j = j;
      break;
    case json::value_t::object:
      v.kind = Val::Kind::kObject;
      v.j = j;
      break;
    default:  // null, binary, discarded
      v.kind = Val::Kind::kNull;
      break;
  }
  return v;
}

Val Resolve(const Path& path, const FilterRow& row) {
  if (path.is_id) {
    Val v;
    if (const auto* i = std::get_if<int64_t>(&row.id)) {
      v.kind = Val::Kind::kInt;
      v.i = *i;
    } else {
      v.kind = Val::Kind::kString;
      v.s = std::get<std::string_view>(row.id);
    }
    return v;
  }
  const json* cur = row.metadata;
  if (cur == nullptr) {
    static const json* const kEmptyObject = new json(json::object());
    return path.steps.empty() ? ValOf(kEmptyObject) : Val{};
  }
  for (const PathStep& step : path.steps) {
    if (step.is_index) {
      if (!cur->is_array() || step.index >= cur->size()) return Val{};
      cur = &(*cur)[step.index];
    } else {
      if (!cur->is_object()) return Val{};
      auto it = cur->find(step.key);
      if (it == cur->end()) return Val{};
      cur = &*it;
    }
  }
  return ValOf(cur);
}

std::partial_ordering CompareNumbers(const Val& a, const Val& b) {
  using K = Val::Kind;
  if (a.kind == K::kDouble || b.kind == K::kDouble) {
    if (a.kind == K::kDouble && b.kind == K::kDouble) return a.d <=> b.d;
    if (a.kind == K::kDouble) return 0 <=> CompareNumbers(b, a);
    return a.kind == K::kInt ? CompareIntDouble(a.i, b.d) : CompareUintDouble(a.u, b.d);
  }
  if (a.kind == K::kInt && b.kind == K::kInt) return a.i <=> b.i;
  if (a.kind == K::kUint && b.kind == K::kUint) return a.u <=> b.u;
  // kUint holds only values above INT64_MAX, so it is the larger one.
  return a.kind == K::kInt ? std::partial_ordering::less : std::partial_ordering::greater;
}

bool ValEqual(const Val& a, const Val& b) { return ValEqualAt(a, b, 0); }

std::optional<std::partial_ordering> ValOrder(const Val& a, const Val& b) {
  if (a.is_number() && b.is_number()) {
    const auto order = CompareNumbers(a, b);
    if (order == std::partial_ordering::unordered) return std::nullopt;
    return order;
  }
  if (a.kind == Val::Kind::kString && b.kind == Val::Kind::kString) return a.s <=> b.s;
  return std::nullopt;
}

void PrintString(std::string_view s, std::string* out) {
  out->push_back('"');
  for (size_t i = 0; i < s.size();) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (c == '"' || c == '\\') {
      out->push_back('\\');
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (c == '\n') {
      out->append("\\n");
      ++i;
    } else if (c == '\t') {
      out->append("\\t");
      ++i;
    } else if (c == '\r') {
      out->append("\\r");
      ++i;
    } else if (c < 0x20 || c == 0x7f) {
      AppendHexByte(c, out);
      ++i;
    } else if (c < 0x80) {
      out->push_back(static_cast<char>(c));
      ++i;
    } else if (const size_t n = DecodeUtf8(s, i).length; n != 0) {
      out->append(s.substr(i, n));
      i += n;
    } else {
      AppendHexByte(c, out);
      ++i;
    }
  }
  out->push_back('"');
}

void PrintConst(const json& value, std::string* out) {
  switch (value.type()) {
    case json::value_t::boolean: out->append(value.get<bool>() ? "true" : "false"); break;
    case json::value_t::number_integer: out->append(std::to_string(value.get<int64_t>())); break;
    case json::value_t::number_unsigned: out->append(std::to_string(value.get<uint64_t>())); break;
    case json::value_t::number_float: PrintDouble(value.get<double>(), out); break;
    case json::value_t::string: PrintString(value.get_ref<const std::string&>(), out); break;
    case json::value_t::array: {
      out->push_back('[');
      bool first = true;
      for (const json& e : value) {
        if (!first) out->append(", ");
        first = false;
        PrintConst(e, out);
      }
      out->push_back(']');
      break;
    }
    default:
      out->append("null");  // never a constant; kept printable
      break;
  }
}

const char* CmpOpText(CmpOp op) {
  switch (op) {
    case CmpOp::kEq: return "==";
    case CmpOp::kNe: return "!=";
    case CmpOp::kLt: return "<";
    case CmpOp::kLe: return "<=";
    case CmpOp::kGt: return ">";
    case CmpOp::kGe: return ">=";
  }
  return "?";
}

CmpOp FlipCmp(CmpOp op) {
  switch (op) {
    case CmpOp::kLt: return CmpOp::kGt;
    case CmpOp::kLe: return CmpOp::kGe;
    case CmpOp::kGt: return CmpOp::kLt;
    case CmpOp::kGe: return CmpOp::kLe;
    default: return op;
  }
}

bool ApplyCmp(CmpOp op, std::partial_ordering order) {
  switch (op) {
    case CmpOp::kEq: return order == 0;
    case CmpOp::kNe: return order != 0;
    case CmpOp::kLt: return order < 0;
    case CmpOp::kLe: return order <= 0;
    case CmpOp::kGt: return order > 0;
    case CmpOp::kGe: return order >= 0;
  }
  return false;
}

const char* ArithOpText(ArithOp op) {
  switch (op) {
    case ArithOp::kAdd: return "+";
    case ArithOp::kSub: return "-";
    case ArithOp::kMul: return "*";
    case ArithOp::kDiv: return "/";
    case ArithOp::kMod: return "%";
  }
  return "?";
}

// ---------------------------------------------------------------- ValueSet

ValueSet::ValueSet(const json& list) {
  if (!list.is_array()) return;
  for (const json& e : list) {
    const Val v = ValOf(&e);
    switch (v.kind) {
      case Val::Kind::kBool: (v.b ? has_true_ : has_false_) = true; break;
      case Val::Kind::kString: strings_.insert(v.s); break;
      case Val::Kind::kInt:
      case Val::Kind::kUint:
      case Val::Kind::kDouble: {
        int64_t i = 0;
        uint64_t u = 0;
        double d = 0;
        switch (Classify(v, &i, &u, &d)) {
          case NumClass::kInt: ints_.insert(i); break;
          case NumClass::kUint: uints_.insert(u); break;
          case NumClass::kDouble: doubles_.insert(d); break;
        }
        break;
      }
      default: others_.push_back(&e); break;
    }
  }
}

bool ValueSet::Contains(const Val& v) const {
  switch (v.kind) {
    case Val::Kind::kBool: return v.b ? has_true_ : has_false_;
    case Val::Kind::kString: return strings_.count(v.s) != 0;
    case Val::Kind::kInt:
    case Val::Kind::kUint:
    case Val::Kind::kDouble: {
      int64_t i = 0;
      uint64_t u = 0;
      double d = 0;
      switch (Classify(v, &i, &u, &d)) {
        case NumClass::kInt: return ints_.count(i) != 0;
        case NumClass::kUint: return uints_.count(u) != 0;
        case NumClass::kDouble: return doubles_.count(d) != 0;
      }
      return false;
    }
    case Val::Kind::kArray:
    case Val::Kind::kObject:
      for (const json* other : others_) {
        if (ValEqual(v, ValOf(other))) return true;
      }
      return false;
    default: return false;
  }
}

}  // namespace flashembed::query::filter_internal
