#include "query/filter_rows.h"

namespace flashembed::query {

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
  std::optional<std::vector<uint64_t>> best;
  for (const FilterConjunct& c : f.conjuncts) {
    std::vector<uint64_t> candidates;
    // Candidates beyond half the rows save little over testing every row.
    const size_t cap = best ? best->size() : rows.size() / 2;
    if (fields.at(c.field.keys).Candidates(c, cap, &candidates)) best = std::move(candidates);
  }
  std::vector<uint64_t> slots;
  if (best) {
    for (uint64_t slot : *best) {
      auto it = rows.find(slot);
      if (it != rows.end() && Matches(*f.filter, it->second)) slots.push_back(slot);
    }
  } else {
    for (const auto& [slot, row] : rows) {
      if (Matches(*f.filter, row)) slots.push_back(slot);
    }
  }
  std::sort(slots.begin(), slots.end());
  slots.erase(std::unique(slots.begin(), slots.end()), slots.end());
  auto set = std::make_shared<MatchSet>();
  for (uint64_t slot : slots) set->Add(slot);
  Remember(f.cache_key, set);
  return set;
}

}  // namespace flashembed::query
