#include "query/planner.h"

#include <gtest/gtest.h>

#include <optional>
#include <string>

namespace flashembed::query {
namespace {

// A large collection with the default thresholds: neither exact nor small.
PlanInputs Large(bool filtered) {
  return {.filtered = filtered,
          .mode = SearchMode::kAuto,
          .k = 10,
          .ef_search = 64,
          .live = 1000000,
          .exact_search_below = 2048};
}

// The planner of Large(true) after a sample that made it walk lazily.
SearchPlanner LazyPlanner() {
  SearchPlanner planner(Large(true));
  EXPECT_TRUE(planner.TakeSample(512, 100));
  return planner;
}

TEST(Planner, StrategyNamesAreTheStatsStrings) {
  EXPECT_STREQ(StrategyName(Strategy::kExact), "exact");
  EXPECT_STREQ(StrategyName(Strategy::kGraph), "graph");
  EXPECT_STREQ(StrategyName(Strategy::kFilteredGraph), "filtered-graph");
  EXPECT_STREQ(StrategyName(Strategy::kExactMatches), "exact-matches");
  EXPECT_STREQ(StrategyName(Strategy::kNone), "none");
}

TEST(Planner, CandidateLimitIsKOrOneInTwentyOfLive) {
  EXPECT_EQ(SearchPlanner::CandidateLimit(10, 100), 10u);       // 100 / 20 = 5 < k
  EXPECT_EQ(SearchPlanner::CandidateLimit(10, 200), 10u);       // 200 / 20 = 10 = k
  EXPECT_EQ(SearchPlanner::CandidateLimit(10, 1000), 50u);      // 1000 / 20
  EXPECT_EQ(SearchPlanner::CandidateLimit(10, 1019), 50u);      // rounded down
  EXPECT_EQ(SearchPlanner::CandidateLimit(500, 1000), 500u);    // k larger than live / 20
  EXPECT_EQ(SearchPlanner::CandidateLimit(3000, 1000), 3000u);  // k larger than live
  EXPECT_EQ(SearchPlanner::CandidateLimit(1, 0), 1u);           // empty collection
}

TEST(Planner, ExactEverythingByModeAndSize) {
  PlanInputs in = Large(false);
  EXPECT_FALSE(SearchPlanner(in).exact_everything());
  in.mode = SearchMode::kExact;
  EXPECT_TRUE(SearchPlanner(in).exact_everything());  // however large
  in.mode = SearchMode::kAuto;
  in.live = 2048;  // == exact_search_below
  EXPECT_TRUE(SearchPlanner(in).exact_everything());
  in.live = 2049;
  EXPECT_FALSE(SearchPlanner(in).exact_everything());
  in.live = 5;
  in.mode = SearchMode::kApproximate;  // however small
  EXPECT_FALSE(SearchPlanner(in).exact_everything());
  in.live = 0;
  in.mode = SearchMode::kAuto;
  EXPECT_TRUE(SearchPlanner(in).exact_everything());
}

TEST(Planner, UnfilteredIsExactOrGraph) {
  PlanInputs in = Large(false);
  SearchPlanner large(in);
  EXPECT_FALSE(large.NeedsMatchSet(false));
  EXPECT_FALSE(large.NeedsMatchSet(true));
  EXPECT_EQ(large.Choose(10, false, std::nullopt), Strategy::kGraph);
  EXPECT_EQ(large.Choose(10, true, std::nullopt), Strategy::kExact);  // a stage wants it all

  in.live = 100;  // small: kAuto scans
  EXPECT_EQ(SearchPlanner(in).Choose(10, false, std::nullopt), Strategy::kExact);
  in.mode = SearchMode::kApproximate;  // ... unless told not to
  EXPECT_EQ(SearchPlanner(in).Choose(10, false, std::nullopt), Strategy::kGraph);
  in.mode = SearchMode::kExact;
  in.live = 1000000;
  EXPECT_EQ(SearchPlanner(in).Choose(10, false, std::nullopt), Strategy::kExact);
}

TEST(Planner, KLargerThanLive) {
  PlanInputs in = Large(false);
  in.live = 50;
  in.k = 100;
  EXPECT_EQ(SearchPlanner(in).Choose(100, false, std::nullopt), Strategy::kExact);
  in.mode = SearchMode::kApproximate;
  EXPECT_EQ(SearchPlanner(in).Choose(100, false, std::nullopt), Strategy::kGraph);
  in.filtered = true;
  // Every document matches: 50 <= max(k, exact_search_below).
  EXPECT_EQ(SearchPlanner(in).Choose(100, false, 50), Strategy::kExactMatches);
  // No sampling: live is not above max(k, exact_search_below).
  in.exact_search_below = 0;
  EXPECT_FALSE(SearchPlanner(in).ShouldSample(false, 50));
}

TEST(Planner, ShouldSampleOnlyAFirstUseOnALargeCollection) {
  SearchPlanner planner(Large(true));
  EXPECT_TRUE(planner.ShouldSample(false, 1000000));
  EXPECT_FALSE(planner.ShouldSample(true, 1000000));  // seen before: compute the set
  EXPECT_TRUE(planner.ShouldSample(false, 513));
  EXPECT_FALSE(planner.ShouldSample(false, 512));  // no more rows than the sample

  PlanInputs in = Large(true);
  in.mode = SearchMode::kExact;
  EXPECT_FALSE(SearchPlanner(in).ShouldSample(false, 1000000));
  in = Large(true);
  in.live = 2048;  // == max(k, exact_search_below)
  EXPECT_FALSE(SearchPlanner(in).ShouldSample(false, 2048));
  in.live = 2049;
  EXPECT_TRUE(SearchPlanner(in).ShouldSample(false, 2049));
  in.k = 5000;  // k above live
  in.mode = SearchMode::kApproximate;
  EXPECT_FALSE(SearchPlanner(in).ShouldSample(false, 2049));
}

TEST(Planner, SampledPassRateAboveOneInTwentyWalksLazily) {
  {
    SearchPlanner planner(Large(true));
    EXPECT_FALSE(planner.walk_lazily());
    EXPECT_TRUE(planner.TakeSample(512, 26));  // 26 * 20 = 520 > 512
    EXPECT_TRUE(planner.walk_lazily());
  }
  {
    SearchPlanner planner(Large(true));
    EXPECT_FALSE(planner.TakeSample(512, 25));  // 500 <= 512
    EXPECT_FALSE(planner.walk_lazily());
    EXPECT_FALSE(planner.TakeSample(500, 25));  // exactly 1 in 20 is not above
    EXPECT_TRUE(planner.TakeSample(500, 26));
    EXPECT_FALSE(planner.TakeSample(0, 0));  // nothing sampled
    EXPECT_FALSE(planner.walk_lazily());
  }
}

TEST(Planner, EstimatedMatchesScaleTheSampleToLive) {
  SearchPlanner planner(Large(true));
  EXPECT_EQ(planner.EstimatedMatches(512, 512), 1000000u);
  EXPECT_EQ(planner.EstimatedMatches(512, 100), 195312u);  // 100e6 / 512, rounded down
  PlanInputs in = Large(true);
  in.live = 10000;
  EXPECT_EQ(SearchPlanner(in).EstimatedMatches(512, 100), 1953u);
}

TEST(Planner, FilteredNeedsTheMatchSetUnlessWalkedLazily) {
  SearchPlanner planner(Large(true));
  EXPECT_TRUE(planner.NeedsMatchSet(false));
  EXPECT_TRUE(planner.NeedsMatchSet(true));
  SearchPlanner lazy = LazyPlanner();
  EXPECT_FALSE(lazy.NeedsMatchSet(false));
  EXPECT_TRUE(lazy.NeedsMatchSet(true));  // an exact round scans the matches
}

TEST(Planner, EmptyMatchSetIsNone) {
  SearchPlanner planner(Large(true));
  EXPECT_EQ(planner.Choose(10, false, 0), Strategy::kNone);
  EXPECT_EQ(planner.Choose(10, true, 0), Strategy::kNone);
  EXPECT_EQ(LazyPlanner().Choose(10, true, 0), Strategy::kNone);
}

TEST(Planner, ExactScanOfTheMatchesWhenExactOrFew) {
  SearchPlanner planner(Large(true));
  EXPECT_EQ(planner.Choose(10, true, 500000), Strategy::kExactMatches);  // exact wanted
  EXPECT_EQ(planner.Choose(10, false, 1), Strategy::kExactMatches);
  EXPECT_EQ(planner.Choose(10, false, 2048), Strategy::kExactMatches);  // <= exact_search_below
  // k above exact_search_below: few means at most k.
  EXPECT_EQ(planner.Choose(3000, false, 3000), Strategy::kExactMatches);
  PlanInputs in = Large(true);
  in.mode = SearchMode::kExact;
  EXPECT_EQ(SearchPlanner(in).Choose(10, false, 900000), Strategy::kExactMatches);
}

TEST(Planner, CostModelChoosesBetweenScanAndFilteredWalk) {
  // live 1e6, ef 64: the scan wins while m * m <= 24 * 64 * 1e6 = 1.536e9,
  // that is up to m = 39191 (39192^2 = 1536012864).
  SearchPlanner planner(Large(true));
  EXPECT_EQ(planner.Choose(10, false, 39191), Strategy::kExactMatches);
  EXPECT_EQ(planner.Choose(10, false, 39192), Strategy::kFilteredGraph);
  EXPECT_EQ(planner.Choose(10, false, 1000000), Strategy::kFilteredGraph);

  // ef is raised to k: k 100 over ef 16 gives 24 * 100 * 1e5 = 2.4e8, so up
  // to m = 15491.
  PlanInputs in = Large(true);
  in.live = 100000;
  in.ef_search = 16;
  SearchPlanner raised(in);
  EXPECT_EQ(raised.Choose(100, false, 15491), Strategy::kExactMatches);
  EXPECT_EQ(raised.Choose(100, false, 15492), Strategy::kFilteredGraph);
  // With k = 10 the ef of 16 counts: 24 * 16 * 1e5 = 3.84e7, m up to 6196.
  EXPECT_EQ(raised.Choose(10, false, 6196), Strategy::kExactMatches);
  EXPECT_EQ(raised.Choose(10, false, 6197), Strategy::kFilteredGraph);
}

TEST(Planner, LazyWalkWithoutAMatchSetThenItsScan) {
  SearchPlanner lazy = LazyPlanner();
  EXPECT_EQ(lazy.Choose(10, false, std::nullopt), Strategy::kFilteredGraph);
  // Once the set is known (a walk came back short, or an earlier round
  // computed it), a lazily walked filter scans it: the set is broad.
  EXPECT_EQ(lazy.Choose(10, false, 900000), Strategy::kExactMatches);
  EXPECT_EQ(lazy.Choose(10, true, 900000), Strategy::kExactMatches);
}

TEST(Planner, WalkCameBackShort) {
  // Lazy walk (no match set): short below k.
  EXPECT_TRUE(SearchPlanner::WalkCameBackShort(10, 9, std::nullopt));
  EXPECT_FALSE(SearchPlanner::WalkCameBackShort(10, 10, std::nullopt));
  EXPECT_TRUE(SearchPlanner::WalkCameBackShort(10, 0, std::nullopt));
  // With the set: below min(k, matches).
  EXPECT_TRUE(SearchPlanner::WalkCameBackShort(10, 9, 50000));
  EXPECT_FALSE(SearchPlanner::WalkCameBackShort(10, 10, 50000));
  EXPECT_FALSE(SearchPlanner::WalkCameBackShort(10, 5, 5));  // k larger than the matches
  EXPECT_TRUE(SearchPlanner::WalkCameBackShort(10, 4, 5));
}

TEST(Planner, AfterAShortWalkScanTheMatches) {
  EXPECT_EQ(SearchPlanner::AfterShortWalk(0), Strategy::kNone);
  EXPECT_EQ(SearchPlanner::AfterShortWalk(1), Strategy::kExactMatches);
  EXPECT_EQ(SearchPlanner::AfterShortWalk(900000), Strategy::kExactMatches);
}

}  // namespace
}  // namespace flashembed::query
