#include "index/ivf_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "tests/testing/test_util.h"

namespace flashembed::index {
namespace {

constexpr IvfKind kAllKinds[] = {IvfKind::kFlat, IvfKind::kSq8, IvfKind::kPq};
constexpr Metric kAllMetrics[] = {Metric::kCosine, Metric::kInnerProduct, Metric::kL2};

// `n` points around `clusters` Gaussian centres (seeded), with a decaying
// spectrum (coordinate j scaled by 1 / sqrt(1 + j / 4)) as real embeddings
// have: the shape IVF and PQ are built for, unlike uniform noise where no
// partition helps. Data and queries share the centres.
// `spread` scales the distances between centres (the noise around each has
// scale 1 per coordinate before the decay).
std::vector<float> ClusteredVectors(size_t n, int dim, int clusters, uint32_t seed,
                                    float spread = 2.0f) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::mt19937 centre_rng(12345);
  std::vector<float> scale(dim);
  for (int j = 0; j < dim; ++j) scale[j] = 1.0f / std::sqrt(1.0f + j / 4.0f);
  std::vector<float> centres(static_cast<size_t>(clusters) * dim);
  for (size_t i = 0; i < centres.size(); ++i)
    centres[i] = spread * scale[i % dim] * normal(centre_rng);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const int c = pick(rng);
    for (int j = 0; j < dim; ++j) {
      out[i * dim + j] = centres[c * dim + j] + scale[j] * normal(rng);
    }
  }
  return out;
}

double OracleDistance(Metric metric, const float* a, const float* b, int dim) {
  double dot = 0, na = 0, nb = 0, l2 = 0;
  for (int i = 0; i < dim; ++i) {
    dot += static_cast<double>(a[i]) * b[i];
    na += static_cast<double>(a[i]) * a[i];
    nb += static_cast<double>(b[i]) * b[i];
    l2 += (static_cast<double>(a[i]) - b[i]) * (static_cast<double>(a[i]) - b[i]);
  }
  switch (metric) {
    case Metric::kCosine: return 1 - dot / std::sqrt(na * nb);
    case Metric::kInnerProduct: return 1 - dot;
    case Metric::kL2: return l2;
  }
  return 0;
}

// Brute force: the exact k nearest live (and admitted) slots, nearest first.
std::vector<uint64_t> Oracle(Metric metric, const std::vector<float>& data, int dim, const float* q,
                             size_t k, const std::vector<bool>& live,
                             const SlotPredicate& admit = {}) {
  std::vector<std::pair<double, uint64_t>> all;
  for (size_t i = 0; i < data.size() / dim; ++i) {
    if (live[i] && (!admit || admit(i))) {
      all.emplace_back(OracleDistance(metric, data.data() + i * dim, q, dim), i);
    }
  }
  const size_t n = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end());
  std::vector<uint64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(all[i].second);
  return out;
}

std::span<const float> Row(const std::vector<float>& data, int dim, size_t i) {
  return std::span<const float>(data).subspan(i * dim, dim);
}

IvfOptions Options(IvfKind kind, Metric metric, int dim, int nlist, int train_at = 0) {
  IvfOptions o;
  o.dim = dim;
  o.metric = metric;
  o.kind = kind;
  o.nlist = nlist;
  o.train_at = train_at;
  return o;
}

std::unique_ptr<VectorIndex> Build(const IvfOptions& o, const std::vector<float>& data) {
  auto index = NewIvfIndex(o);
  EXPECT_TRUE(index.ok()) << index.status();
  for (size_t i = 0; i < data.size() / o.dim; ++i) {
    Status s = (*index)->Add(i, Row(data, o.dim, i));
    EXPECT_TRUE(s.ok()) << s;
  }
  return std::move(index).value();
}

// The oracle's k nearest live slots of every query.
std::vector<std::vector<uint64_t>> Truth(Metric metric, const std::vector<float>& data,
                                         const std::vector<float>& queries, int dim, size_t k,
                                         const std::vector<bool>& live) {
  std::vector<std::vector<uint64_t>> truth;
  for (size_t qi = 0; qi < queries.size() / dim; ++qi) {
    truth.push_back(Oracle(metric, data, dim, queries.data() + qi * dim, k, live));
  }
  return truth;
}

// recall@k of Search at `nprobe` against `truth`; also checks that no dead
// slot comes back.
double Recall(const VectorIndex& index, const std::vector<std::vector<uint64_t>>& truth,
              const std::vector<float>& queries, int dim, size_t k, size_t nprobe,
              const std::vector<bool>& live) {
  size_t found = 0, wanted = 0;
  for (size_t qi = 0; qi < queries.size() / dim; ++qi) {
    auto got = index.Search(std::span<const float>(queries.data() + qi * dim, dim), k, nprobe);
    EXPECT_TRUE(got.ok()) << got.status();
    if (!got.ok()) return 0;
    std::set<uint64_t> want(truth[qi].begin(), truth[qi].end());
    for (const Neighbor& n : *got) {
      EXPECT_TRUE(live[n.slot]) << "dead slot " << n.slot << " came back";
      found += want.count(n.slot);
    }
    wanted += truth[qi].size();
  }
  return static_cast<double>(found) / wanted;
}

double Recall(const VectorIndex& index, Metric metric, const std::vector<float>& data,
              const std::vector<float>& queries, int dim, size_t k, size_t nprobe,
              const std::vector<bool>& live) {
  return Recall(index, Truth(metric, data, queries, dim, k, live), queries, dim, k, nprobe, live);
}

std::vector<uint64_t> Slots(const std::vector<Neighbor>& hits) {
  std::vector<uint64_t> out;
  for (const Neighbor& n : hits) out.push_back(n.slot);
  return out;
}

// The oracle test: recall@10 on 20k clustered vectors (dim 64,
// nlist 64) at nprobe 8/16/32. Stated floors: IVF-Flat >= 0.85 / 0.95 / 0.99,
// SQ8 within 0.03 of IVF-Flat at nprobe 16, PQ (16 bytes a vector, 16x
// smaller than the floats) >= 0.75 at nprobe 32; more lists never hurt.
TEST(IvfIndex, RecallAt10OnClusteredData) {
  // 1000 clusters over 64 lists: neighbours spread over several lists, so
  // nprobe matters (measured: flat 0.91/0.98/1.00, sq8 0.91/0.97/0.99,
  // pq 0.77/0.80/0.82 at nprobe 8/16/32).
  const int kRecallClusters = 1000;
  const int dim = 64;
  const size_t n = 20000, k = 10;
  auto data = ClusteredVectors(n, dim, kRecallClusters, 1);
  auto queries = ClusteredVectors(100, dim, kRecallClusters, 2);
  std::vector<bool> live(n, true);
  const auto truth = Truth(Metric::kL2, data, queries, dim, k, live);
  double flat16 = 0;
  for (IvfKind kind : kAllKinds) {
    auto index = Build(Options(kind, Metric::kL2, dim, 64), data);
    EXPECT_EQ(index->size(), n);
    double r8 = Recall(*index, truth, queries, dim, k, 8, live);
    double r16 = Recall(*index, truth, queries, dim, k, 16, live);
    double r32 = Recall(*index, truth, queries, dim, k, 32, live);
    std::printf("%s recall@10 at nprobe 8/16/32: %.3f %.3f %.3f\n", IvfKindName(kind), r8, r16,
                r32);
    EXPECT_LE(r8, r16 + 1e-9) << IvfKindName(kind);
    EXPECT_LE(r16, r32 + 1e-9) << IvfKindName(kind);
    switch (kind) {
      case IvfKind::kFlat:
        flat16 = r16;
        EXPECT_GE(r8, 0.85);
        EXPECT_GE(r16, 0.95);
        EXPECT_GE(r32, 0.99);
        break;
      case IvfKind::kSq8: EXPECT_GE(r16, flat16 - 0.03); break;
      case IvfKind::kPq: EXPECT_GE(r32, 0.75); break;
    }
  }
}

// nprobe == nlist scans every list: IVF-Flat is then exact.
TEST(IvfIndex, AllListsProbedIsExactForIvfFlat) {
  const int dim = 16;
  auto data = ClusteredVectors(3000, dim, 20, 3);
  auto queries = ClusteredVectors(20, dim, 20, 4);
  auto index = Build(Options(IvfKind::kFlat, Metric::kL2, dim, 32, 1000), data);
  std::vector<bool> live(3000, true);
  for (size_t qi = 0; qi < 20; ++qi) {
    std::span<const float> q(queries.data() + qi * dim, dim);
    ASSERT_OK_AND_ASSIGN(auto got, index->Search(q, 10, 32));
    EXPECT_EQ(Slots(got), Oracle(Metric::kL2, data, dim, q.data(), 10, live));
  }
}

// Unfiltered search returns k results whenever k are live, even when the
// lists probed hold fewer (nprobe is widened).
TEST(IvfIndex, UnfilteredSearchIsNeverShort) {
  const int dim = 8;
  auto data = ClusteredVectors(1000, dim, 20, 21);
  for (IvfKind kind : kAllKinds) {
    auto index = Build(Options(kind, Metric::kL2, dim, 64, 1000), data);  // ~16 per list
    for (size_t k : {size_t{50}, size_t{400}, size_t{1000}, size_t{5000}}) {
      ASSERT_OK_AND_ASSIGN(auto hits, index->Search(Row(data, dim, 3), k, 1));
      EXPECT_EQ(hits.size(), std::min<size_t>(k, 1000)) << IvfKindName(kind);
      std::set<uint64_t> distinct;
      for (const Neighbor& hit : hits) distinct.insert(hit.slot);
      EXPECT_EQ(distinct.size(), hits.size());
    }
  }
}

// Before train_at vectors, every search is exact; the Add reaching train_at
// trains and moves everything into the lists without losing a vector.
TEST(IvfIndex, ExactUntilTrainedThenNothingLost) {
  const int dim = 32;
  const size_t train_at = 1200;
  auto data = ClusteredVectors(train_at + 300, dim, 30, 5);
  auto queries = ClusteredVectors(20, dim, 30, 6);
  for (IvfKind kind : kAllKinds) {
    auto index = *NewIvfIndex(Options(kind, Metric::kCosine, dim, 0, train_at));
    std::vector<bool> live(data.size() / dim, false);
    for (size_t i = 0; i + 1 < train_at; ++i) {
      ASSERT_OK(index->Add(i, Row(data, dim, i)));
      live[i] = true;
    }
    ASSERT_OK(index->Remove(7));  // removed before training stays removed
    live[7] = false;
    for (size_t qi = 0; qi < 20; ++qi) {
      std::span<const float> q(queries.data() + qi * dim, dim);
      ASSERT_OK_AND_ASSIGN(auto got, index->Search(q, 10, 1));
      EXPECT_EQ(Slots(got), Oracle(Metric::kCosine, data, dim, q.data(), 10, live))
          << IvfKindName(kind) << ": untrained search must be exact";
    }
    std::vector<std::vector<uint64_t>> before;
    for (size_t qi = 0; qi < 20; ++qi) {
      std::span<const float> q(queries.data() + qi * dim, dim);
      before.push_back(Slots(*index->ExactSearch(q, 10)));
    }
    // train_at - 2 live vectors now (one removed): the next add leaves the
    // index untrained (header nlist 0, index/FORMAT.md), the one after trains.
    auto header_nlist = [&] {
      std::string bytes = *index->Serialize();
      uint32_t nlist;
      std::memcpy(&nlist, bytes.data() + 24, sizeof(nlist));
      return nlist;
    };
    ASSERT_OK(index->Add(train_at - 1, Row(data, dim, train_at - 1)));
    live[train_at - 1] = true;
    EXPECT_EQ(header_nlist(), 0u);
    ASSERT_OK(index->Add(train_at, Row(data, dim, train_at)));
    live[train_at] = true;
    EXPECT_EQ(header_nlist(), 138u) << "4 * sqrt(1200) lists once trained";
    EXPECT_EQ(index->size(), train_at);
    for (size_t i = 0; i <= train_at; ++i) EXPECT_EQ(index->Contains(i), live[i]) << i;
    ASSERT_OK_AND_ASSIGN(auto all, index->ExactSearch(Row(data, dim, 0), 100000));
    EXPECT_EQ(all.size(), train_at);
    // Every vector is its own exact nearest; through its own list (nprobe
    // 1) IVF-Flat finds it first, SQ8/PQ (lossy codes) among the first 10.
    size_t self_found = 0, self_tried = 0;
    for (size_t i = 0; i < train_at; i += 13) {
      if (!live[i]) continue;
      ASSERT_OK_AND_ASSIGN(auto exact, index->ExactSearch(Row(data, dim, i), 1));
      EXPECT_EQ(exact[0].slot, i);
      EXPECT_NEAR(exact[0].distance, 0.0f, 1e-5);
      ASSERT_OK_AND_ASSIGN(auto near, index->Search(Row(data, dim, i), 10, 1));
      ++self_tried;
      if (kind == IvfKind::kFlat) {
        EXPECT_EQ(near[0].slot, i);
        self_found += near[0].slot == i;
      } else {
        self_found += std::any_of(near.begin(), near.end(),
                                  [&](const Neighbor& hit) { return hit.slot == i; });
      }
    }
    EXPECT_GE(self_found, self_tried * 9 / 10) << IvfKindName(kind);
    // Later adds go to the lists and are found.
    for (size_t i = train_at + 1; i < data.size() / dim; ++i) {
      ASSERT_OK(index->Add(i, Row(data, dim, i)));
      live[i] = true;
    }
    ASSERT_OK_AND_ASSIGN(auto last, index->Search(Row(data, dim, data.size() / dim - 1), 1, 4));
    EXPECT_EQ(last[0].slot, data.size() / dim - 1);
    EXPECT_GE(Recall(*index, Metric::kCosine, data, queries, dim, 10, 48, live),
              kind == IvfKind::kPq ? 0.5 : 0.85)
        << IvfKindName(kind);
  }
}

// Removed slots never come back, sizes stay right, slots are never reused.
TEST(IvfIndex, RemovesAreNeverReturned) {
  const int dim = 32;
  const size_t n = 4000;
  auto data = ClusteredVectors(n, dim, 40, 7);
  auto queries = ClusteredVectors(30, dim, 40, 8);
  for (IvfKind kind : kAllKinds) {
    auto index = Build(Options(kind, Metric::kL2, dim, 32, 1500), data);
    std::vector<bool> live(n, true);
    for (uint64_t slot = 0; slot < n; slot += 3) {
      ASSERT_OK(index->Remove(slot));
      live[slot] = false;
    }
    EXPECT_EQ(index->size(), n - (n + 2) / 3);
    EXPECT_FALSE(index->Contains(0));
    EXPECT_TRUE(index->Contains(1));
    EXPECT_TRUE(index->Remove(0).IsNotFound());
    EXPECT_TRUE(index->Remove(n + 5).IsNotFound());
    EXPECT_TRUE(index->Add(0, Row(data, dim, 0)).IsAlreadyExists());
    EXPECT_TRUE(index->Add(1, Row(data, dim, 1)).IsAlreadyExists());
    // Every list probed: exactly the live vectors are reachable.
    ASSERT_OK_AND_ASSIGN(auto all, index->Search(Row(data, dim, 1), n, 32));
    EXPECT_EQ(all.size(), index->size());
    for (const Neighbor& hit : all) EXPECT_TRUE(live[hit.slot]) << hit.slot;
    EXPECT_GE(Recall(*index, Metric::kL2, data, queries, dim, 10, 16, live),
              kind == IvfKind::kPq ? 0.5 : 0.9)
        << IvfKindName(kind);
    // Remove everything; the index is empty but keeps working.
    for (uint64_t slot = 0; slot < n; ++slot) {
      if (live[slot]) ASSERT_OK(index->Remove(slot));
    }
    EXPECT_EQ(index->size(), 0u);
    ASSERT_OK_AND_ASSIGN(auto none, index->Search(Row(data, dim, 1), 10, 0));
    EXPECT_TRUE(none.empty());
    ASSERT_OK(index->Add(n + 1, Row(data, dim, 1)));
    ASSERT_OK_AND_ASSIGN(auto one, index->Search(Row(data, dim, 1), 10, 0));
    ASSERT_EQ(one.size(), 1u);
    EXPECT_EQ(one[0].slot, n + 1);
  }
}

// Admits about `rate` of all slots, by a hash of the slot.
SlotPredicate PassRate(double rate) {
  return [rate](uint64_t slot) {
    uint64_t h = (slot + 1) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 31;
    return static_cast<double>(h % 1000000) < rate * 1000000;
  };
}

// Filtered search returns only admitted, live slots; with every list probed
// it is complete; the exact filtered scans equal the oracle.
TEST(IvfIndex, FilteredSearchReturnsOnlyAdmittedSlots) {
  const int dim = 32;
  const size_t n = 4000, k = 10;
  auto data = ClusteredVectors(n, dim, 40, 9);
  auto queries = ClusteredVectors(15, dim, 40, 10);
  for (IvfKind kind : kAllKinds) {
    auto index = Build(Options(kind, Metric::kL2, dim, 32, 1500), data);
    std::vector<bool> live(n, true);
    for (uint64_t slot = 0; slot < n; slot += 5) {
      ASSERT_OK(index->Remove(slot));
      live[slot] = false;
    }
    for (double rate : {0.5, 0.05, 0.002}) {
      const SlotPredicate admit = PassRate(rate);
      size_t admitted = 0;
      for (size_t i = 0; i < n; ++i) admitted += live[i] && admit(i);
      for (size_t qi = 0; qi < queries.size() / dim; ++qi) {
        std::span<const float> q(queries.data() + qi * dim, dim);
        auto exact = Oracle(Metric::kL2, data, dim, q.data(), k, live, admit);
        ASSERT_OK_AND_ASSIGN(auto got, index->Search(q, k, 8, admit));
        EXPECT_LE(got.size(), k);
        for (const Neighbor& hit : got) {
          EXPECT_TRUE(live[hit.slot] && admit(hit.slot)) << hit.slot << " at rate " << rate;
        }
        ASSERT_OK_AND_ASSIGN(auto complete, index->Search(q, k, 32, admit));
        EXPECT_EQ(complete.size(), std::min(k, admitted)) << IvfKindName(kind) << " " << rate;
        ASSERT_OK_AND_ASSIGN(auto scan, index->ExactSearch(q, k, admit));
        EXPECT_EQ(Slots(scan), exact) << IvfKindName(kind) << " rate " << rate;
      }
    }
  }
}

// ExactSearch and ExactSearchAmong are exact over the original vectors for
// every kind (SQ8/PQ codes are lossy) and metric, removals included.
TEST(IvfIndex, ExactSearchesEqualTheOracle) {
  const int dim = 24;
  const size_t n = 2500;
  auto data = ClusteredVectors(n, dim, 25, 11);
  auto queries = ClusteredVectors(10, dim, 25, 12);
  for (IvfKind kind : kAllKinds) {
    for (Metric metric : kAllMetrics) {
      auto index = Build(Options(kind, metric, dim, 24, 1000), data);
      std::vector<bool> live(n, true);
      for (uint64_t slot = 1; slot < n; slot += 7) {
        ASSERT_OK(index->Remove(slot));
        live[slot] = false;
      }
      std::vector<uint64_t> among = {2, 5, 5, 8, 9, 13, 15, 100, 101, 2000, 2001, 2002, 999999};
      std::vector<bool> among_live(n, false);
      for (uint64_t s : among) {
        if (s < n && live[s]) among_live[s] = true;
      }
      for (size_t qi = 0; qi < 10; ++qi) {
        std::span<const float> q(queries.data() + qi * dim, dim);
        ASSERT_OK_AND_ASSIGN(auto got, index->ExactSearch(q, 10));
        EXPECT_EQ(Slots(got), Oracle(metric, data, dim, q.data(), 10, live))
            << IvfKindName(kind) << " " << MetricName(metric);
        const double best = OracleDistance(metric, data.data() + got[0].slot * dim, q.data(), dim);
        EXPECT_NEAR(got[0].distance, best, 1e-4 * std::max(1.0, std::fabs(best)));
        ASSERT_OK_AND_ASSIGN(auto some, index->ExactSearchAmong(q, 4, among));
        EXPECT_EQ(Slots(some), Oracle(metric, data, dim, q.data(), 4, among_live))
            << IvfKindName(kind) << " " << MetricName(metric);
      }
      ASSERT_OK_AND_ASSIGN(auto all_among,
                           index->ExactSearchAmong(Row(queries, dim, 0), 100, among));
      EXPECT_EQ(all_among.size(), 9u) << "11 distinct known slots, 8 and 15 removed";
    }
  }
}

// Search distances follow the Metric conventions for every metric and kind
// (re-scored exactly for SQ8/PQ), and cosine/ip/l2 all reach good recall.
TEST(IvfIndex, EveryMetricGivesMetricDistancesAndRecall) {
  const int dim = 32;
  const size_t n = 5000;
  auto data = ClusteredVectors(n, dim, 50, 13, /*spread=*/1.0f);
  auto queries = ClusteredVectors(30, dim, 50, 14, /*spread=*/1.0f);
  std::vector<bool> live(n, true);
  for (Metric metric : kAllMetrics) {
    for (IvfKind kind : kAllKinds) {
      auto index = Build(Options(kind, metric, dim, 32, 2000), data);
      const double recall = Recall(*index, metric, data, queries, dim, 10, 12, live);
      // Measured: flat 0.99, sq8 0.98, pq 0.62-0.70 for the three metrics.
      EXPECT_GE(recall, kind == IvfKind::kPq ? 0.55 : 0.95)
          << IvfKindName(kind) << " " << MetricName(metric);
      ASSERT_OK_AND_ASSIGN(auto hits,
                           index->Search(std::span<const float>(queries.data(), dim), 5, 0));
      ASSERT_EQ(hits.size(), 5u);
      for (size_t i = 0; i < hits.size(); ++i) {
        const double exact =
            OracleDistance(metric, data.data() + hits[i].slot * dim, queries.data(), dim);
        EXPECT_NEAR(hits[i].distance, exact, 1e-4 * std::max(1.0, std::fabs(exact)));
        if (i > 0) {
          EXPECT_LE(hits[i - 1].distance, hits[i].distance);
        }
      }
    }
  }
}

// Save -> load gives identical results for every kind, trained or not, with
// removals; the loaded index keeps adding, removing and training.
TEST(IvfIndex, SerializeLoadKeepsResultsForEveryKind) {
  const int dim = 16;
  const size_t n = 3000;
  auto data = ClusteredVectors(n + 600, dim, 30, 15);  // 600 more to add after loading
  auto queries = ClusteredVectors(20, dim, 30, 16);
  for (IvfKind kind : kAllKinds) {
    for (size_t count : {size_t{500}, n}) {  // untrained, trained
      // L2: a vector is its own nearest (it need not be under inner product).
      IvfOptions o = Options(kind, Metric::kL2, dim, 0, 1000);
      std::vector<float> part(data.begin(), data.begin() + count * dim);
      auto index = Build(o, part);
      for (uint64_t slot = 0; slot < count; slot += 7) ASSERT_OK(index->Remove(slot));
      ASSERT_OK_AND_ASSIGN(std::string bytes, index->Serialize());
      ASSERT_OK_AND_ASSIGN(auto loaded, LoadIvfIndex(o, bytes));
      EXPECT_EQ(loaded->size(), index->size());
      EXPECT_FALSE(loaded->Contains(0));
      EXPECT_TRUE(loaded->Contains(1));
      EXPECT_TRUE(loaded->Add(0, Row(data, dim, 0)).IsAlreadyExists()) << "removed stays used";
      for (size_t qi = 0; qi < 20; ++qi) {
        std::span<const float> q(queries.data() + qi * dim, dim);
        for (size_t nprobe : {size_t{0}, size_t{4}}) {
          ASSERT_OK_AND_ASSIGN(auto a, index->Search(q, 10, nprobe));
          ASSERT_OK_AND_ASSIGN(auto b, loaded->Search(q, 10, nprobe));
          ASSERT_EQ(a.size(), b.size());
          for (size_t i = 0; i < a.size(); ++i) {
            EXPECT_EQ(a[i].slot, b[i].slot) << IvfKindName(kind) << " count " << count;
            EXPECT_EQ(a[i].distance, b[i].distance);
          }
        }
      }
      ASSERT_OK_AND_ASSIGN(std::string again, loaded->Serialize());
      EXPECT_EQ(again, bytes) << "a loaded index serialises to the same bytes";
      // The loaded index keeps working (and trains when it is due).
      for (size_t i = count; i < count + 600; ++i) {
        ASSERT_OK(loaded->Add(i, Row(data, dim, i)));
      }
      ASSERT_OK(loaded->Remove(1));
      ASSERT_OK_AND_ASSIGN(auto self, loaded->Search(Row(data, dim, count + 1), 1, 0));
      EXPECT_EQ(self[0].slot, count + 1) << IvfKindName(kind) << " count " << count;
    }
  }
}

// IVF-PQ with 4-bit codes (pq_nbits 4..8 are all FAISS-supported here):
// trains, searches, round-trips.
TEST(IvfIndex, PqWithFourBitCodes) {
  const int dim = 16;
  auto data = ClusteredVectors(2000, dim, 20, 23);
  auto queries = ClusteredVectors(20, dim, 20, 24);
  IvfOptions o = Options(IvfKind::kPq, Metric::kL2, dim, 16, 1000);
  o.pq_nbits = 4;
  auto index = Build(o, data);
  std::vector<bool> live(2000, true);
  EXPECT_GE(Recall(*index, Metric::kL2, data, queries, dim, 10, 16, live), 0.4);
  ASSERT_OK_AND_ASSIGN(std::string bytes, index->Serialize());
  ASSERT_OK_AND_ASSIGN(auto loaded, LoadIvfIndex(o, bytes));
  ASSERT_OK_AND_ASSIGN(auto a, index->Search(Row(queries, dim, 0), 10, 4));
  ASSERT_OK_AND_ASSIGN(auto b, loaded->Search(Row(queries, dim, 0), 10, 4));
  EXPECT_EQ(Slots(a), Slots(b));
  IvfOptions eight = o;
  eight.pq_nbits = 8;
  EXPECT_TRUE(LoadIvfIndex(eight, bytes).status().IsInvalidArgument());
}

TEST(IvfIndex, DamagedSnapshotsAreCorruptionAndMismatchesInvalidArgument) {
  const int dim = 8;
  auto data = ClusteredVectors(1200, dim, 10, 17);
  for (size_t count : {size_t{100}, size_t{1200}}) {
    IvfOptions o = Options(IvfKind::kPq, Metric::kL2, dim, 16, 1000);
    std::vector<float> part(data.begin(), data.begin() + count * dim);
    auto index = Build(o, part);
    ASSERT_OK_AND_ASSIGN(std::string bytes, index->Serialize());

    EXPECT_TRUE(LoadIvfIndex(o, "").status().IsCorruption());
    EXPECT_TRUE(LoadIvfIndex(o, bytes.substr(0, 40)).status().IsCorruption());
    for (size_t cut : {bytes.size() - 1, bytes.size() / 2, size_t{65}}) {
      Status s = LoadIvfIndex(o, bytes.substr(0, cut)).status();
      EXPECT_TRUE(s.IsCorruption()) << cut << ": " << s;
    }
    for (size_t at : {size_t{64}, size_t{80}, bytes.size() / 2, bytes.size() - 3}) {
      std::string flipped = bytes;
      flipped[at] ^= 0x5a;
      Status s = LoadIvfIndex(o, flipped).status();
      EXPECT_TRUE(s.IsCorruption()) << at << ": " << s;
    }
    std::string bad_magic = bytes;
    bad_magic[0] = 'X';
    EXPECT_TRUE(LoadIvfIndex(o, bad_magic).status().IsCorruption());
    std::string future = bytes;
    future[8] = 99;  // version
    EXPECT_EQ(LoadIvfIndex(o, future).status().code(), StatusCode::kNotSupported);

    IvfOptions other = o;
    other.dim = 16;
    other.pq_m = 0;
    Status s = LoadIvfIndex(other, bytes).status();
    EXPECT_TRUE(s.IsInvalidArgument()) << s;
    EXPECT_NE(s.message().find("dim 8"), std::string::npos) << s;
    other = o;
    other.metric = Metric::kCosine;
    s = LoadIvfIndex(other, bytes).status();
    EXPECT_TRUE(s.IsInvalidArgument()) << s;
    EXPECT_NE(s.message().find("metric l2 differs from expected cosine"), std::string::npos) << s;
    other = o;
    other.kind = IvfKind::kSq8;
    s = LoadIvfIndex(other, bytes).status();
    EXPECT_TRUE(s.IsInvalidArgument()) << s;
    EXPECT_NE(s.message().find("kind ivf_pq differs from expected ivf_sq8"), std::string::npos);
    other = o;
    other.pq_m = 4;
    EXPECT_TRUE(LoadIvfIndex(other, bytes).status().IsInvalidArgument());
    other = o;
    other.nprobe = 3;  // not persisted: applies to the loaded index
    EXPECT_OK(LoadIvfIndex(other, bytes).status());
  }
}

TEST(IvfIndex, RejectsBadOptionsAndVectors) {
  auto expect_bad = [](IvfOptions o, const char* needle) {
    Status s = NewIvfIndex(o).status();
    EXPECT_TRUE(s.IsInvalidArgument()) << needle << ": " << s;
    EXPECT_NE(s.message().find(needle), std::string::npos) << s;
  };
  const IvfOptions good = Options(IvfKind::kPq, Metric::kL2, 64, 0);
  ASSERT_OK(good.Validate());
  EXPECT_EQ(good.ResolvedPqM(), 16);
  EXPECT_EQ(good.ResolvedTrainAt(), 1000);
  EXPECT_EQ(Options(IvfKind::kFlat, Metric::kL2, 64, 100).ResolvedTrainAt(), 3900);
  EXPECT_EQ(Options(IvfKind::kPq, Metric::kL2, 30, 0).ResolvedPqM(), 6);
  EXPECT_EQ(Options(IvfKind::kPq, Metric::kL2, 3, 0).ResolvedPqM(), 1);
  IvfOptions o = good;
  o.dim = 0;
  expect_bad(o, "dim must be in 1..65536, got 0");
  o = good;
  o.nlist = -1;
  expect_bad(o, "nlist");
  o = good;
  o.nlist = 70000;
  expect_bad(o, "nlist");
  o = good;
  o.nprobe = 0;
  expect_bad(o, "nprobe must be in 1..65536, got 0");
  o = good;
  o.pq_m = 7;
  expect_bad(o, "pq_m must be 0 (auto) or divide dim 64, got 7");
  o = good;
  o.pq_nbits = 9;
  expect_bad(o, "pq_nbits must be in 4..8, got 9");
  o = good;
  o.nlist = 500;
  o.train_at = 400;
  expect_bad(o, "train_at 400 is below nlist 500");
  o = good;
  o.train_at = 100;
  expect_bad(o, "below 2^pq_nbits = 256");
  o = good;
  o.train_at = 10;
  o.kind = IvfKind::kFlat;
  expect_bad(o, "below 16");
  o = good;
  o.kind = static_cast<IvfKind>(7);
  expect_bad(o, "unknown IVF kind 7");

  auto index = *NewIvfIndex(Options(IvfKind::kFlat, Metric::kCosine, 4, 0, 16));
  Status wrong_dim = index->Add(1, std::vector<float>{1, 2, 3});
  EXPECT_TRUE(wrong_dim.IsInvalidArgument());
  EXPECT_NE(wrong_dim.message().find("index has 4, vector has 3"), std::string::npos);
  EXPECT_TRUE(index->Add(1, std::vector<float>{1, NAN, 0, 0}).IsInvalidArgument());
  EXPECT_TRUE(index->Add(1, std::vector<float>{0, 0, 0, 0}).IsInvalidArgument());
  EXPECT_TRUE(index->Add(uint64_t{1} << 63, std::vector<float>{1, 0, 0, 0}).IsInvalidArgument());
  EXPECT_TRUE(index->Search(std::vector<float>{1, 2}, 1, 0).status().IsInvalidArgument());
  EXPECT_TRUE(index->ExactSearchAmong(std::vector<float>{1}, 1, {}).status().IsInvalidArgument());
  EXPECT_EQ(index->size(), 0u);
}

// Const methods run concurrently (the caller holds a shared lock): many
// threads searching one trained index agree with a serial run.
TEST(IvfIndex, ConcurrentSearchesAgreeWithSerial) {
  const int dim = 16;
  auto data = ClusteredVectors(3000, dim, 20, 19);
  auto queries = ClusteredVectors(40, dim, 20, 20);
  for (IvfKind kind : kAllKinds) {
    auto index = Build(Options(kind, Metric::kL2, dim, 16, 1000), data);
    std::vector<std::vector<uint64_t>> serial;
    for (size_t qi = 0; qi < 40; ++qi) {
      serial.push_back(Slots(*index->Search(Row(queries, dim, qi), 10, 4)));
    }
    std::vector<std::thread> threads;
    std::vector<int> mismatches(4, 0);
    for (int t = 0; t < 4; ++t) {
      threads.emplace_back([&, t] {
        for (int round = 0; round < 5; ++round) {
          for (size_t qi = 0; qi < 40; ++qi) {
            auto got = index->Search(Row(queries, dim, qi), 10, 4, PassRate(1.0));
            if (!got.ok() || Slots(*got) != serial[qi]) ++mismatches[t];
          }
        }
      });
    }
    for (auto& t : threads) t.join();
    for (int m : mismatches) EXPECT_EQ(m, 0) << IvfKindName(kind);
  }
}

}  // namespace
}  // namespace flashembed::index
