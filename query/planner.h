// The search planner, internal to query/: which strategy answers one
// nearest-neighbour search of a collection, decided from plain numbers (live
// documents, k, ef, the size of the filter's match set, a sampled pass rate,
// the options), so that it is testable without a database.
// CollectionImpl::Search (collection_impl.cc) gathers the inputs, finds the
// match set and carries the plan out.
//
// Without a filter: an exact scan when SearchMode::kExact, or kAuto on at
// most Options::exact_search_below documents; else the index.
// With a filter, first the match set (every matching slot): from a
// selective conjunct's candidates, the cache, or a test of every row. A
// broad filter seen for the first time on a large collection is instead
// sampled: a pass rate above 1 / kGraphMinPassRateInverse walks the graph
// testing the filter on the nodes it visits (no match set, so it costs the
// walk, not the collection). With the set known: none when it is empty; an
// exact scan of the matches when exact is wanted, they are few
// (<= max(k, exact_search_below)), or m * m <= kWalkDistancesPerEf * ef * live
// (the scan computes m distances, a walk admitting m of live about
// kWalkDistancesPerEf * ef * live / m); else a graph walk admitting only
// matches. A walk that comes back short falls back to the exact scan.
//
// Thread-safety: a SearchPlanner belongs to one search.
#ifndef FLASHEMBED_QUERY_PLANNER_H_
#define FLASHEMBED_QUERY_PLANNER_H_

#include <cstddef>
#include <cstdint>
#include <optional>

#include "query/database.h"

namespace flashembed::query {

// How one neighbour search runs.
enum class Strategy : uint8_t {
  kExact,          // a scan of every document
  kGraph,          // the index (HNSW, flat or IVF)
  kFilteredGraph,  // an index walk admitting only matching documents
  kExactMatches,   // a scan of just the filter's matches
  kNone,           // the filter matches no document
};

// SearchStats::strategy's name of `strategy`: "exact", "graph",
// "filtered-graph", "exact-matches", "none".
const char* StrategyName(Strategy strategy);

// Conjunct candidates are used while at most 1 in this many documents; a
// filter estimated (on a sample) to pass more is walked lazily.
inline constexpr size_t kGraphMinPassRateInverse = 20;
// An unfiltered HNSW search computes about this many distances per unit of
// ef. A walk admitting a fraction p of the documents computes about 1/p
// times as many, an exact scan of m matches m: with n documents the scan is
// cheaper while m * m < kWalkDistancesPerEf * ef * n.
inline constexpr double kWalkDistancesPerEf = 24;
// Documents tested to estimate a filter's pass rate when no index narrows it.
inline constexpr size_t kPassRateSample = 512;

// What a plan is decided from: one search's options and the collection.
struct PlanInputs {
  bool filtered = false;                // the search has a filter
  SearchMode mode = SearchMode::kAuto;  // SearchOptions::mode
  size_t k = 10;                        // SearchOptions::k
  // SearchOptions::ef_search, or the collection's when that is 0: the cost
  // model's ef (raised to each search's k).
  size_t ef_search = 0;
  size_t live = 0;                   // documents in the index
  size_t exact_search_below = 2048;  // Options::exact_search_below
};

class SearchPlanner {
 public:
  explicit SearchPlanner(const PlanInputs& inputs);

  // The most candidates one conjunct may give for the filter to be tested on
  // them alone: max(k, live / kGraphMinPassRateInverse).
  static size_t CandidateLimit(size_t k, size_t live);

  // Every neighbour search is a complete scan: mode kExact, or kAuto with
  // live <= exact_search_below.
  bool exact_everything() const { return exact_everything_; }

  // With a filter whose match set is not known (not cached, no conjunct
  // narrow enough): whether to test a sample of kPassRateSample rows first
  // instead of every row. True on the filter's first use (`seen_before`
  // false) when no search is exact, live > max(k, exact_search_below) and
  // `rows` (documents with filter rows) > kPassRateSample.
  bool ShouldSample(bool seen_before, size_t rows) const;
  // Records a sample where `passed` of `seen` rows matched: the filter is
  // walked lazily when passed * kGraphMinPassRateInverse > seen (seen > 0).
  // Returns walk_lazily().
  bool TakeSample(size_t seen, size_t passed);
  // A sampled filter passes often enough to be tested on the nodes a graph
  // walk visits, without a match set.
  bool walk_lazily() const { return walk_lazily_; }
  // The matches a sample predicts: passed * live / seen. REQUIRES: seen > 0.
  size_t EstimatedMatches(size_t seen, size_t passed) const;

  // Whether a neighbour search (`exact`: the caller wants a complete scan)
  // needs the filter's full match set before it starts: with a filter,
  // unless the filter is walked lazily and the search is not exact.
  bool NeedsMatchSet(bool exact) const;
  // The strategy for the k nearest (matching) documents; `exact` forces a
  // complete scan. `matches`: the size of the match set, when known.
  // REQUIRES: known when NeedsMatchSet(exact). kFilteredGraph with no match
  // set is the lazy walk.
  Strategy Choose(size_t k, bool exact, std::optional<size_t> matches) const;

  // Whether a kFilteredGraph walk that returned `found` documents came back
  // short: fewer than k, or than `matches` when the set is known and smaller.
  static bool WalkCameBackShort(size_t k, size_t found, std::optional<size_t> matches);
  // The strategy once a walk came back short, with the full match set of
  // `matches` documents: kExactMatches, or kNone when there are none.
  static Strategy AfterShortWalk(size_t matches);

 private:
  PlanInputs inputs_;
  bool exact_everything_ = false;
  bool walk_lazily_ = false;
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_PLANNER_H_
