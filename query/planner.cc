#include "query/planner.h"

#include <algorithm>

#include "base/status.h"

namespace flashembed::query {

const char* StrategyName(Strategy strategy) {
  switch (strategy) {
    case Strategy::kExact: return "exact";
    case Strategy::kGraph: return "graph";
    case Strategy::kFilteredGraph: return "filtered-graph";
    case Strategy::kExactMatches: return "exact-matches";
    case Strategy::kNone: return "none";
  }
  return "?";
}

SearchPlanner::SearchPlanner(const PlanInputs& inputs)
    : inputs_(inputs),
      exact_everything_(
          inputs.mode == SearchMode::kExact ||
          (inputs.mode == SearchMode::kAuto && inputs.live <= inputs.exact_search_below)) {}

size_t SearchPlanner::CandidateLimit(size_t k, size_t live) {
  return std::max<size_t>(k, live / kGraphMinPassRateInverse);
}

bool SearchPlanner::ShouldSample(bool seen_before, size_t rows) const {
  // A filter used before is worth its full match set (cached for the next
  // use); small collections and exact searches need it anyway.
  return !seen_before && !exact_everything_ &&
         inputs_.live > std::max(inputs_.k, inputs_.exact_search_below) && rows > kPassRateSample;
}

bool SearchPlanner::TakeSample(size_t seen, size_t passed) {
  walk_lazily_ = seen > 0 && passed * kGraphMinPassRateInverse > seen;
  return walk_lazily_;
}

size_t SearchPlanner::EstimatedMatches(size_t seen, size_t passed) const {
  return passed * inputs_.live / seen;
}

bool SearchPlanner::NeedsMatchSet(bool exact) const {
  return inputs_.filtered && !(walk_lazily_ && !exact && !exact_everything_);
}

Strategy SearchPlanner::Choose(size_t k, bool exact, std::optional<size_t> matches) const {
  exact = exact || exact_everything_;
  if (!inputs_.filtered) return exact ? Strategy::kExact : Strategy::kGraph;
  if (!matches) {
    FE_CHECK(walk_lazily_ && !exact) << "a filtered search without its match set";
    return Strategy::kFilteredGraph;
  }
  if (*matches == 0) return Strategy::kNone;
  // A lazily walked filter that needed its match set after all (the walk came
  // back short, or a later round is exact) scans it: the set is broad.
  const double ef = static_cast<double>(std::max(k, inputs_.ef_search));
  const double m = static_cast<double>(*matches);
  if (exact || *matches <= std::max(k, inputs_.exact_search_below) ||
      m * m <= kWalkDistancesPerEf * ef * static_cast<double>(inputs_.live) || walk_lazily_) {
    return Strategy::kExactMatches;
  }
  return Strategy::kFilteredGraph;
}

bool SearchPlanner::WalkCameBackShort(size_t k, size_t found, std::optional<size_t> matches) {
  return found < (matches ? std::min(k, *matches) : k);
}

Strategy SearchPlanner::AfterShortWalk(size_t matches) {
  return matches == 0 ? Strategy::kNone : Strategy::kExactMatches;
}

}  // namespace flashembed::query
