// `like` patterns (filter_like.h): compiled once per filter into literal runs
// and wildcards, with the shapes Milvus optimises matched without
// backtracking.
#include "filter/filter_like.h"

#include <limits>

#include "base/utf8.h"
#include "filter/filter_value.h"

namespace flashembed::query::filter_internal {
namespace {

size_t CharLength(std::string_view s, size_t i) {
  const size_t n = DecodeUtf8(s, i).length;
  return n == 0 ? 1 : n;
}

}  // namespace

std::optional<std::string> LikePattern::Compile(std::string_view pattern, LikePattern* out) {
  out->items_.clear();
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) out->items_.push_back({ItemKind::kLiteral, std::move(literal)});
    literal.clear();
  };
  for (size_t i = 0; i < pattern.size();) {
    const char c = pattern[i];
    if (c == '\\') {
      if (i + 1 >= pattern.size()) {
        return std::string(
            "a like pattern cannot end with a lone '\\' (write '\\\\\\\\' for a "
            "literal backslash)");
      }
      const size_t n = CharLength(pattern, i + 1);
      literal.append(pattern.substr(i + 1, n));
      i += 1 + n;
    } else if (c == '%') {
      flush();
      if (out->items_.empty() || out->items_.back().kind != ItemKind::kAny) {
        out->items_.push_back({ItemKind::kAny, {}});
      }
      ++i;
    } else if (c == '_') {
      flush();
      out->items_.push_back({ItemKind::kOne, {}});
      ++i;
    } else {
      literal.push_back(c);
      ++i;
    }
  }
  flush();

  // The shapes Milvus optimises: exact, prefix%, %suffix, %infix%.
  const auto& items = out->items_;
  auto is = [&](size_t k, ItemKind kind) { return items[k].kind == kind; };
  out->shape_ = Shape::kGeneral;
  out->fixed_.clear();
  if (items.empty()) {
    out->shape_ = Shape::kExact;
  } else if (items.size() == 1 && is(0, ItemKind::kLiteral)) {
    out->shape_ = Shape::kExact;
    out->fixed_ = items[0].literal;
  } else if (items.size() == 1 && is(0, ItemKind::kAny)) {
    out->shape_ = Shape::kPrefix;
  } else if (items.size() == 2 && is(0, ItemKind::kLiteral) && is(1, ItemKind::kAny)) {
    out->shape_ = Shape::kPrefix;
    out->fixed_ = items[0].literal;
  } else if (items.size() == 2 && is(0, ItemKind::kAny) && is(1, ItemKind::kLiteral)) {
    out->shape_ = Shape::kSuffix;
    out->fixed_ = items[1].literal;
  } else if (items.size() == 3 && is(0, ItemKind::kAny) && is(1, ItemKind::kLiteral) &&
             is(2, ItemKind::kAny)) {
    out->shape_ = Shape::kInfix;
    out->fixed_ = items[1].literal;
  }
  return std::nullopt;
}

bool LikePattern::Matches(std::string_view s) const {
  switch (shape_) {
    case Shape::kExact: return s == fixed_;
    case Shape::kPrefix: return s.starts_with(fixed_);
    case Shape::kSuffix: return s.ends_with(fixed_);
    case Shape::kInfix: return s.find(fixed_) != std::string_view::npos;
    case Shape::kGeneral: break;
  }
  // Wildcard matching with backtracking to the last '%': O(|s| * |pattern|).
  constexpr size_t kNone = std::numeric_limits<size_t>::max();
  size_t si = 0;
  size_t pi = 0;
  size_t star_pi = kNone;
  size_t star_si = 0;
  while (si < s.size()) {
    if (pi < items_.size()) {
      const Item& item = items_[pi];
      if (item.kind == ItemKind::kAny) {
        star_pi = pi++;
        star_si = si;
        continue;
      }
      if (item.kind == ItemKind::kOne) {
        si += CharLength(s, si);
        ++pi;
        continue;
      }
      if (s.substr(si).starts_with(item.literal)) {
        si += item.literal.size();
        ++pi;
        continue;
      }
    }
    if (star_pi == kNone) return false;
    pi = star_pi + 1;
    star_si += CharLength(s, star_si);
    si = star_si;
  }
  while (pi < items_.size() && items_[pi].kind == ItemKind::kAny) ++pi;
  return pi == items_.size();
}
}  // namespace flashembed::query::filter_internal
