#include "query/filter_rows.h"

namespace flashembed::query {
namespace {

// Orders two scalars of one kind (numbers with numbers, strings with
// strings); nullopt for scalars of different kinds.
std::optional<int> Compare(const FilterScalar& a, const FilterScalar& b) {
  auto number = [](const FilterScalar& v) -> std::optional<double> {
    if (const auto* i = std::get_if<int64_t>(&v)) return static_cast<double>(*i);
    if (const auto* d = std::get_if<double>(&v)) return *d;
    return std::nullopt;
  };
  if (auto x = number(a), y = number(b); x && y) return *x < *y ? -1 : *x > *y ? 1 : 0;
  const auto* s = std::get_if<std::string>(&a);
  const auto* t = std::get_if<std::string>(&b);
  if (s && t) return s->compare(*t) < 0 ? -1 : s->compare(*t) > 0 ? 1 : 0;
  return std::nullopt;
}

// Narrows range `into` by range `c` on the same path; false (nothing
// changed) when their bounds are of different kinds. Numbers compare as
// doubles, so a merged bound may be looser than exact: still a superset.
bool MergeRange(const FilterConjunct& c, FilterConjunct* into) {
  const std::optional<FilterScalar>* bounds[] = {&c.lower, &c.upper, &into->lower, &into->upper};
  for (const auto* bound : bounds) {
    for (const auto* other : bounds) {
      if (bound->has_value() && other->has_value() && !Compare(**bound, **other)) return false;
    }
  }
  if (c.lower) {
    const std::optional<int> cmp = into->lower ? Compare(*c.lower, *into->lower) : 1;
    if (*cmp > 0 || (*cmp == 0 && !c.lower_inclusive)) {
      into->lower = c.lower;
      into->lower_inclusive = c.lower_inclusive;
    }
  }
  if (c.upper) {
    const std::optional<int> cmp = into->upper ? Compare(*c.upper, *into->upper) : -1;
    if (*cmp < 0 || (*cmp == 0 && !c.upper_inclusive)) {
      into->upper = c.upper;
      into->upper_inclusive = c.upper_inclusive;
    }
  }
  return true;
}

}  // namespace

Result<PreparedFilter> PreparedFilter::Make(std::string_view expr, std::string_view params) {
  PreparedFilter f;
  f.cache_key = std::string(expr) + '\0' + std::string(params);
  if (expr.find_first_not_of(" \t\r\n") == std::string_view::npos) return f;
  nlohmann::json bound;
  if (!params.empty()) {
    bound = nlohmann::json::parse(params, nullptr, /*allow_exceptions=*/false);
    if (bound.is_discarded() || !bound.is_object()) {
      return Status::InvalidArgument("filter_params must be a JSON object");
    }
  }
  FE_ASSIGN_OR_RETURN(Filter parsed, Filter::Parse(expr, &bound));
  if (parsed.matches_all()) return f;
  // Conjuncts like `lang == "en"`, `year in [..]`, `10 <= n < 20` can narrow
  // the documents to test through an in-memory index of their path.
  for (FilterConjunct& c : parsed.SimpleConjuncts()) {
    if (c.field.is_id || c.field.keys.empty()) continue;
    // `n >= 10 and n < 20` are two conjuncts, each matching much more than
    // their intersection: merge ranges on one path into one.
    if (c.kind == FilterConjunct::Kind::kRange) {
      auto same =
          std::find_if(f.conjuncts.begin(), f.conjuncts.end(), [&](const FilterConjunct& o) {
            return o.kind == FilterConjunct::Kind::kRange && o.field.keys == c.field.keys;
          });
      if (same != f.conjuncts.end() && MergeRange(c, &*same)) continue;
    }
    f.paths.push_back(c.field.keys);
    f.conjuncts.push_back(std::move(c));
  }
  f.filter = std::move(parsed);
  return f;
}

Result<std::vector<std::string>> ParseKeyPath(std::string_view expr, std::string_view what) {
  // The filter grammar resolves paths; `<path> == 0` is a conjunct on it.
  const std::string probe = std::string(expr) + " == 0";
  auto bad = [&] {
    return Status::InvalidArgument(std::string(what) + " \"" + std::string(expr) +
                                   "\" is not a metadata key or a path of keys (a, a[\"b\"], "
                                   "$meta[\"a\"])");
  };
  if (expr.find_first_not_of(" \t\r\n") == std::string_view::npos) return bad();
  auto parsed = Filter::Parse(probe, nullptr);
  if (!parsed.ok()) return bad();
  std::vector<FilterConjunct> conjuncts = parsed->SimpleConjuncts();
  if (conjuncts.size() != 1 || conjuncts[0].field.is_id || conjuncts[0].field.keys.empty() ||
      conjuncts[0].kind != FilterConjunct::Kind::kEquals) {
    return bad();
  }
  return std::move(conjuncts[0].field.keys);
}

const nlohmann::json* ValueAt(const nlohmann::json& metadata,
                              const std::vector<std::string>& path) {
  const nlohmann::json* v = &metadata;
  for (const std::string& key : path) {
    if (!v->is_object()) return nullptr;
    auto it = v->find(key);
    if (it == v->end()) return nullptr;
    v = &*it;
  }
  return v;
}

bool FilterRows::Matches(const Filter& filter, const Row& row) {
  FilterRow view;
  if (row.id.is_int()) {
    view.id = row.id.as_int();
  } else {
    view.id = std::string_view(row.id.as_string());
  }
  view.metadata = &row.metadata;
  return filter.Matches(view);
}

std::shared_ptr<const FilterRows::MatchSet> FilterRows::AllMatches(const PreparedFilter& f) const {
  bool seen = false;
  if (auto set = Recall(f.cache_key, &seen)) return set;
  // Candidates beyond half the rows save little over testing every row.
  std::shared_ptr<MatchSet> set;
  if (std::optional<std::vector<uint64_t>> best = Candidates(f, rows.size() / 2)) {
    set = MatchesAmong(*f.filter, *best);
  } else {
    std::vector<uint64_t> slots;
    for (const auto& [slot, row] : rows) {
      if (Matches(*f.filter, row)) slots.push_back(slot);
    }
    std::sort(slots.begin(), slots.end());
    set = std::make_shared<MatchSet>();
    for (uint64_t slot : slots) set->Add(slot);
  }
  Remember(f.cache_key, set);
  return set;
}

std::optional<std::vector<uint64_t>> FilterRows::Candidates(const PreparedFilter& f,
                                                            size_t limit) const {
  std::optional<std::vector<uint64_t>> best;
  for (const FilterConjunct& c : f.conjuncts) {
    std::vector<uint64_t> candidates;
    const size_t cap = best ? best->size() : limit;
    if (fields.at(c.field.keys).Candidates(c, cap, &candidates)) best = std::move(candidates);
  }
  if (best) {
    std::sort(best->begin(), best->end());
    best->erase(std::unique(best->begin(), best->end()), best->end());
  }
  return best;
}

std::shared_ptr<FilterRows::MatchSet> FilterRows::MatchesAmong(
    const Filter& filter, const std::vector<uint64_t>& slots) const {
  auto set = std::make_shared<MatchSet>();
  for (uint64_t slot : slots) {
    auto it = rows.find(slot);
    if (it != rows.end() && Matches(filter, it->second)) set->Add(slot);
  }
  return set;
}

std::pair<size_t, size_t> FilterRows::SamplePasses(const Filter& filter, size_t sample) const {
  const size_t buckets = rows.bucket_count();
  const size_t stride = std::max<size_t>(1, buckets / sample);
  size_t seen = 0, passed = 0;
  for (size_t b = 0; b < buckets && seen < sample; b += stride) {
    for (auto it = rows.begin(b); it != rows.end(b); ++it, ++seen) {
      passed += Matches(filter, it->second);
    }
  }
  return {seen, passed};
}

}  // namespace flashembed::query
