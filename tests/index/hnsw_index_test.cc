#include "index/hnsw_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <set>

#include "tests/testing/test_util.h"

namespace flashembed::index {
namespace {

std::vector<float> RandomVectors(size_t n, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> out(n * dim);
  for (float& x : out) x = dist(rng);
  return out;
}

float Distance(Metric metric, const float* a, const float* b, int dim) {
  double dot = 0, na = 0, nb = 0, l2 = 0;
  for (int i = 0; i < dim; ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
    l2 += (a[i] - b[i]) * (a[i] - b[i]);
  }
  switch (metric) {
    case Metric::kCosine: return static_cast<float>(1 - dot / std::sqrt(na * nb));
    case Metric::kInnerProduct: return static_cast<float>(1 - dot);
    case Metric::kL2: return static_cast<float>(l2);
  }
  return 0;
}

// Exact k nearest slots among `live` (brute force oracle).
std::vector<uint64_t> ExactTopK(Metric metric, const std::vector<float>& data, int dim,
                                const float* q, size_t k, const std::vector<bool>& live) {
  std::vector<std::pair<float, uint64_t>> all;
  for (size_t i = 0; i < data.size() / dim; ++i) {
    if (live[i]) all.emplace_back(Distance(metric, data.data() + i * dim, q, dim), i);
  }
  size_t n = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end());
  std::vector<uint64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(all[i].second);
  return out;
}

std::unique_ptr<VectorIndex> Build(const HnswOptions& o, const std::vector<float>& data) {
  auto index = NewHnswIndex(o);
  EXPECT_TRUE(index.ok()) << index.status();
  for (size_t i = 0; i < data.size() / o.dim; ++i) {
    Status s = (*index)->Add(i, std::span<const float>(data).subspan(i * o.dim, o.dim));
    EXPECT_TRUE(s.ok()) << s;
  }
  return std::move(index).value();
}

double Recall(const VectorIndex& index, Metric metric, const std::vector<float>& data,
              const std::vector<float>& queries, int dim, size_t k, const std::vector<bool>& live) {
  size_t found = 0, wanted = 0;
  for (size_t qi = 0; qi < queries.size() / dim; ++qi) {
    const float* q = queries.data() + qi * dim;
    auto exact = ExactTopK(metric, data, dim, q, k, live);
    auto got = index.Search(std::span<const float>(q, dim), k, 0);
    EXPECT_TRUE(got.ok()) << got.status();
    std::set<uint64_t> truth(exact.begin(), exact.end());
    for (const auto& n : *got) {
      EXPECT_TRUE(live[n.slot]) << "removed slot " << n.slot << " came back";
      found += truth.count(n.slot);
    }
    wanted += exact.size();
  }
  return static_cast<double>(found) / wanted;
}

// The oracle test: recall@10 against brute force on 20k seeded
// random vectors.
TEST(HnswIndex, RecallAt10AgainstExactOn20kRandomVectors) {
  const int dim = 32;
  HnswOptions o;
  o.dim = dim;
  o.metric = Metric::kL2;
  o.ef_construction = 100;
  o.ef_search = 100;
  auto data = RandomVectors(20000, dim, 1);
  auto queries = RandomVectors(200, dim, 2);
  auto index = Build(o, data);
  EXPECT_EQ(index->size(), 20000u);
  std::vector<bool> live(20000, true);
  double recall = Recall(*index, Metric::kL2, data, queries, dim, 10, live);
  EXPECT_GE(recall, 0.95);
  // Per-query ef: a tiny candidate list must do worse than a large one.
  size_t small_hits = 0, large_hits = 0;
  for (size_t qi = 0; qi < 50; ++qi) {
    const float* q = queries.data() + qi * dim;
    auto exact = ExactTopK(Metric::kL2, data, dim, q, 10, live);
    std::set<uint64_t> truth(exact.begin(), exact.end());
    auto small = index->Search(std::span<const float>(q, dim), 10, 10);
    auto large = index->Search(std::span<const float>(q, dim), 10, 400);
    ASSERT_TRUE(small.ok() && large.ok());
    for (const auto& n : *small) small_hits += truth.count(n.slot);
    for (const auto& n : *large) large_hits += truth.count(n.slot);
  }
  EXPECT_GT(large_hits, small_hits);
}

// Admits about `rate` of all slots, by a hash of the slot (no relation to
// the vectors, as with real metadata filters).
SlotPredicate PassRate(double rate) {
  return [rate](uint64_t slot) {
    uint64_t h = (slot + 1) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 31;
    return static_cast<double>(h % 1000000) < rate * 1000000;
  };
}

// Filtered graph search against the exact filtered oracle, at pass rates
// from 100 % down to 0.1 %, with removed slots mixed in: recall@10 >= 0.95,
// never a rejected or removed slot, and complete (k results whenever k
// admitted vectors exist).
TEST(HnswIndex, FilteredSearchRecallAtEveryPassRate) {
  const int dim = 32;
  const size_t n = 20000, k = 10;
  HnswOptions o;
  o.dim = dim;
  o.metric = Metric::kL2;
  o.ef_construction = 100;
  auto data = RandomVectors(n, dim, 11);
  auto queries = RandomVectors(60, dim, 12);
  auto index = Build(o, data);
  std::vector<bool> removed(n, false);
  for (size_t slot = 0; slot < n; slot += 7) {
    ASSERT_OK(index->Remove(slot));
    removed[slot] = true;
  }
  for (double rate : {1.0, 0.5, 0.1, 0.01, 0.001}) {
    const SlotPredicate admit = PassRate(rate);
    std::vector<bool> live(n);
    size_t admitted = 0;
    for (size_t i = 0; i < n; ++i) admitted += (live[i] = !removed[i] && admit(i));
    size_t found = 0, wanted = 0;
    for (size_t qi = 0; qi < queries.size() / dim; ++qi) {
      std::span<const float> q(queries.data() + qi * dim, dim);
      auto exact = ExactTopK(Metric::kL2, data, dim, q.data(), k, live);
      ASSERT_OK_AND_ASSIGN(auto got, index->Search(q, k, 100, admit));
      EXPECT_EQ(got.size(), std::min(k, admitted)) << "rate " << rate;
      std::set<uint64_t> truth(exact.begin(), exact.end());
      for (const Neighbor& hit : got) {
        ASSERT_TRUE(live[hit.slot]) << "slot " << hit.slot << " at rate " << rate;
        found += truth.count(hit.slot);
      }
      wanted += exact.size();
      // The exact filtered scan is the oracle itself.
      ASSERT_OK_AND_ASSIGN(auto scan, index->ExactSearch(q, k, admit));
      ASSERT_EQ(scan.size(), exact.size());
      for (size_t i = 0; i < scan.size(); ++i) EXPECT_EQ(scan[i].slot, exact[i]) << rate;
    }
    EXPECT_GE(static_cast<double>(found) / wanted, 0.95) << "pass rate " << rate;
  }
}

// ExactSearchAmong: the exact k nearest of the given slots, skipping removed
// and unknown slots, counting duplicates once.
TEST(HnswIndex, ExactSearchAmongGivenSlots) {
  const int dim = 8;
  HnswOptions o;
  o.dim = dim;
  o.metric = Metric::kCosine;
  auto data = RandomVectors(500, dim, 21);
  auto index = Build(o, data);
  ASSERT_OK(index->Remove(3));
  std::vector<uint64_t> slots = {1, 3, 5, 5, 7, 9, 11, 13, 999999, 400, 401};
  std::vector<bool> live(500, false);
  for (uint64_t s : slots) {
    if (s < 500 && s != 3) live[s] = true;
  }
  auto q = RandomVectors(1, dim, 22);
  ASSERT_OK_AND_ASSIGN(auto got, index->ExactSearchAmong(q, 5, slots));
  auto exact = ExactTopK(Metric::kCosine, data, dim, q.data(), 5, live);
  ASSERT_EQ(got.size(), 5u);
  for (size_t i = 0; i < got.size(); ++i) EXPECT_EQ(got[i].slot, exact[i]);
  ASSERT_OK_AND_ASSIGN(auto all, index->ExactSearchAmong(q, 100, slots));
  EXPECT_EQ(all.size(), 8u) << "9 distinct slots, one removed, one unknown";
  ASSERT_OK_AND_ASSIGN(auto none, index->ExactSearchAmong(q, 5, {}));
  EXPECT_TRUE(none.empty());
  EXPECT_TRUE(
      index->ExactSearchAmong(RandomVectors(1, dim + 1, 1), 5, slots).status().IsInvalidArgument());
}

TEST(HnswIndex, EveryMetricMatchesExactSearch) {
  const int dim = 16;
  auto data = RandomVectors(2000, dim, 3);
  auto queries = RandomVectors(50, dim, 4);
  std::vector<bool> live(2000, true);
  for (Metric metric : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    HnswOptions o;
    o.dim = dim;
    o.metric = metric;
    o.ef_search = 200;
    auto index = Build(o, data);
    EXPECT_GE(Recall(*index, metric, data, queries, dim, 10, live), 0.98) << MetricName(metric);
    // Distances are the metric's, within float rounding.
    auto top = index->Search(std::span<const float>(queries.data(), dim), 1, 0);
    ASSERT_TRUE(top.ok());
    float exact = Distance(metric, data.data() + (*top)[0].slot * dim, queries.data(), dim);
    EXPECT_NEAR((*top)[0].distance, exact, 1e-3 * std::max(1.0f, std::fabs(exact)));
  }
}

TEST(HnswIndex, ExactSearchEqualsBruteForce) {
  const int dim = 16;
  auto data = RandomVectors(1500, dim, 12);
  auto queries = RandomVectors(20, dim, 13);
  for (Metric metric : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    HnswOptions o;
    o.dim = dim;
    o.metric = metric;
    auto index = Build(o, data);
    std::vector<bool> live(1500, true);
    for (uint64_t slot = 0; slot < 1500; slot += 2) {
      ASSERT_OK(index->Remove(slot));
      live[slot] = false;
    }
    for (size_t qi = 0; qi < 20; ++qi) {
      const float* q = queries.data() + qi * dim;
      auto exact = ExactTopK(metric, data, dim, q, 10, live);
      ASSERT_OK_AND_ASSIGN(auto got, index->ExactSearch(std::span<const float>(q, dim), 10));
      ASSERT_EQ(got.size(), exact.size());
      for (size_t i = 0; i < got.size(); ++i)
        EXPECT_EQ(got[i].slot, exact[i]) << MetricName(metric);
    }
    ASSERT_OK_AND_ASSIGN(auto all,
                         index->ExactSearch(std::span<const float>(queries.data(), dim), 5000));
    EXPECT_EQ(all.size(), 750u);
  }
}

TEST(HnswIndex, GrowsPastInitialCapacityAndRemovesSlots) {
  const int dim = 8;
  HnswOptions o;
  o.dim = dim;
  o.initial_capacity = 16;
  auto data = RandomVectors(3000, dim, 5);
  auto index = Build(o, data);
  EXPECT_EQ(index->size(), 3000u);
  std::vector<bool> live(3000, true);
  for (uint64_t slot = 0; slot < 3000; slot += 3) {
    ASSERT_OK(index->Remove(slot));
    live[slot] = false;
  }
  EXPECT_EQ(index->size(), 2000u);
  EXPECT_FALSE(index->Contains(0));
  EXPECT_TRUE(index->Contains(1));
  EXPECT_TRUE(index->Remove(0).IsNotFound());
  EXPECT_TRUE(index->Remove(999999).IsNotFound());
  // Slots are never reused, even after removal.
  EXPECT_TRUE(index->Add(0, std::span<const float>(data).subspan(0, dim)).IsAlreadyExists());
  auto queries = RandomVectors(50, dim, 6);
  EXPECT_GE(Recall(*index, Metric::kCosine, data, queries, dim, 10, live), 0.95);
}

TEST(HnswIndex, SearchReturnsAllWhenFewerThanK) {
  HnswOptions o;
  o.dim = 4;
  auto index = *NewHnswIndex(o);
  auto empty = index->Search(std::vector<float>{1, 0, 0, 0}, 5, 0);
  ASSERT_TRUE(empty.ok());
  EXPECT_TRUE(empty->empty());
  ASSERT_OK(index->Add(10, std::vector<float>{1, 0, 0, 0}));
  ASSERT_OK(index->Add(20, std::vector<float>{0, 1, 0, 0}));
  ASSERT_OK(index->Add(30, std::vector<float>{0.9f, 0.1f, 0, 0}));
  ASSERT_OK(index->Remove(20));
  auto hits = index->Search(std::vector<float>{1, 0, 0, 0}, 5, 0);
  ASSERT_TRUE(hits.ok());
  ASSERT_EQ(hits->size(), 2u);
  EXPECT_EQ((*hits)[0].slot, 10u);
  EXPECT_EQ((*hits)[1].slot, 30u);
  EXPECT_NEAR(ScoreFromDistance(Metric::kCosine, (*hits)[0].distance), 1.0f, 1e-5);
}

TEST(HnswIndex, RejectsBadVectorsAndOptions) {
  HnswOptions o;
  o.dim = 4;
  auto index = *NewHnswIndex(o);
  Status wrong_dim = index->Add(1, std::vector<float>{1, 2, 3});
  EXPECT_TRUE(wrong_dim.IsInvalidArgument());
  EXPECT_NE(wrong_dim.message().find("index has 4, vector has 3"), std::string::npos) << wrong_dim;
  EXPECT_TRUE(index->Add(1, std::vector<float>{1, NAN, 0, 0}).IsInvalidArgument());
  EXPECT_TRUE(index->Add(1, std::vector<float>{0, 0, 0, 0}).IsInvalidArgument());  // cosine
  EXPECT_TRUE(index->Search(std::vector<float>{1, 2}, 1, 0).status().IsInvalidArgument());
  EXPECT_EQ(index->size(), 0u);

  HnswOptions bad = o;
  bad.dim = 0;
  EXPECT_TRUE(NewHnswIndex(bad).status().IsInvalidArgument());
  bad = o;
  bad.m = 1;
  EXPECT_TRUE(NewHnswIndex(bad).status().IsInvalidArgument());
  bad = o;
  bad.ef_search = 0;
  EXPECT_TRUE(NewHnswIndex(bad).status().IsInvalidArgument());
}

TEST(HnswIndex, SerializeLoadKeepsResultsAndRemovals) {
  const int dim = 24;
  HnswOptions o;
  o.dim = dim;
  o.metric = Metric::kInnerProduct;
  auto data = RandomVectors(3000, dim, 7);
  auto index = Build(o, data);
  for (uint64_t slot = 0; slot < 3000; slot += 5) ASSERT_OK(index->Remove(slot));
  ASSERT_OK_AND_ASSIGN(std::string bytes, index->Serialize());
  ASSERT_OK_AND_ASSIGN(auto loaded, LoadHnswIndex(o, bytes));
  EXPECT_EQ(loaded->size(), index->size());
  EXPECT_FALSE(loaded->Contains(0));
  auto queries = RandomVectors(30, dim, 8);
  for (size_t qi = 0; qi < 30; ++qi) {
    std::span<const float> q(queries.data() + qi * dim, dim);
    auto a = index->Search(q, 10, 0);
    auto b = loaded->Search(q, 10, 0);
    ASSERT_TRUE(a.ok() && b.ok());
    ASSERT_EQ(a->size(), b->size());
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].slot, (*b)[i].slot);
      EXPECT_EQ((*a)[i].distance, (*b)[i].distance);
    }
  }
  // The loaded index keeps growing.
  ASSERT_OK(loaded->Add(5000, std::span<const float>(queries).subspan(0, dim)));
  auto self = loaded->Search(std::span<const float>(queries).subspan(0, dim), 1, 0);
  ASSERT_TRUE(self.ok());
  EXPECT_EQ((*self)[0].slot, 5000u);
}

// A loaded index keeps building with the same quality as a fresh one
// (hnswlib's loader leaves ef_construction below M when it was set so).
TEST(HnswIndex, LoadedIndexBuildsAsWellAsAFreshOne) {
  const int dim = 16;
  HnswOptions o;
  o.dim = dim;
  o.metric = Metric::kL2;
  o.ef_construction = 1;  // raised to m by hnswlib when building
  o.ef_search = 200;
  auto data = RandomVectors(4000, dim, 14);
  auto queries = RandomVectors(100, dim, 15);
  std::vector<bool> live(4000, true);
  auto fresh = Build(o, data);
  double fresh_recall = Recall(*fresh, Metric::kL2, data, queries, dim, 10, live);

  auto half = *NewHnswIndex(o);
  for (size_t i = 0; i < 400; ++i) {
    ASSERT_OK(half->Add(i, std::span<const float>(data).subspan(i * dim, dim)));
  }
  ASSERT_OK_AND_ASSIGN(std::string bytes, half->Serialize());
  ASSERT_OK_AND_ASSIGN(auto loaded, LoadHnswIndex(o, bytes));
  for (size_t i = 400; i < 4000; ++i) {
    ASSERT_OK(loaded->Add(i, std::span<const float>(data).subspan(i * dim, dim)));
  }
  double loaded_recall = Recall(*loaded, Metric::kL2, data, queries, dim, 10, live);
  EXPECT_GE(loaded_recall, fresh_recall - 0.1) << "fresh " << fresh_recall;
}

TEST(HnswIndex, DamagedSnapshotsAreCorruptionNotCrashes) {
  HnswOptions o;
  o.dim = 8;
  auto data = RandomVectors(200, 8, 9);
  auto index = Build(o, data);
  ASSERT_OK_AND_ASSIGN(std::string bytes, index->Serialize());

  EXPECT_TRUE(LoadHnswIndex(o, "").status().IsCorruption());
  EXPECT_TRUE(LoadHnswIndex(o, bytes.substr(0, 40)).status().IsCorruption());
  EXPECT_TRUE(LoadHnswIndex(o, bytes.substr(0, bytes.size() - 1)).status().IsCorruption());
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 0x5a;
  Status s = LoadHnswIndex(o, flipped).status();
  EXPECT_TRUE(s.IsCorruption()) << s;
  std::string bad_magic = bytes;
  bad_magic[0] = 'X';
  EXPECT_TRUE(LoadHnswIndex(o, bad_magic).status().IsCorruption());
  std::string future = bytes;
  future[8] = 99;  // version field
  EXPECT_EQ(LoadHnswIndex(o, future).status().code(), StatusCode::kNotSupported);

  HnswOptions other = o;
  other.dim = 16;
  Status dim_mismatch = LoadHnswIndex(other, bytes).status();
  EXPECT_TRUE(dim_mismatch.IsInvalidArgument());
  EXPECT_NE(dim_mismatch.message().find("dim 8"), std::string::npos) << dim_mismatch;
  other = o;
  other.metric = Metric::kL2;
  EXPECT_TRUE(LoadHnswIndex(other, bytes).status().IsInvalidArgument());
}

}  // namespace
}  // namespace flashembed::index
