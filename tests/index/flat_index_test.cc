#include "index/flat_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "tests/testing/test_util.h"

namespace flashembed::index {
namespace {

std::vector<float> RandomVectors(size_t n, int dim, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  std::vector<float> out(n * dim);
  for (float& x : out) x = normal(rng);
  return out;
}

std::vector<uint64_t> Oracle(Metric metric, const std::vector<float>& data, int dim, const float* q,
                             size_t k, const std::vector<bool>& live) {
  std::vector<std::pair<double, uint64_t>> all;
  for (size_t i = 0; i < data.size() / dim; ++i) {
    if (!live[i]) continue;
    double dot = 0, na = 0, nb = 0, l2 = 0;
    for (int j = 0; j < dim; ++j) {
      const double a = data[i * dim + j], b = q[j];
      dot += a * b;
      na += a * a;
      nb += b * b;
      l2 += (a - b) * (a - b);
    }
    const double d = metric == Metric::kL2       ? l2
                     : metric == Metric::kCosine ? 1 - dot / std::sqrt(na * nb)
                                                 : 1 - dot;
    all.emplace_back(d, i);
  }
  const size_t n = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end());
  std::vector<uint64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(all[i].second);
  return out;
}

std::vector<uint64_t> Slots(const std::vector<Neighbor>& hits) {
  std::vector<uint64_t> out;
  for (const Neighbor& n : hits) out.push_back(n.slot);
  return out;
}

// Search is ExactSearch: equal to brute force for every metric, with
// removals (swap-remove keeps the array dense), filters and slot sets; dims
// that are not a multiple of the kernel's 16 lanes included.
TEST(FlatIndex, EverySearchEqualsTheOracle) {
  for (int dim : {7, 48}) {
    const size_t n = 3000;
    auto data = RandomVectors(n, dim, 1);
    auto queries = RandomVectors(10, dim, 2);
    for (Metric metric : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
      auto index = *NewFlatIndex({.dim = dim, .metric = metric});
      for (size_t i = 0; i < n; ++i) {
        ASSERT_OK(index->Add(i, std::span<const float>(data).subspan(i * dim, dim)));
      }
      std::vector<bool> live(n, true);
      for (uint64_t slot = 0; slot < n; slot += 3) {
        ASSERT_OK(index->Remove(slot));
        live[slot] = false;
      }
      EXPECT_EQ(index->size(), 2000u);
      EXPECT_TRUE(index->Remove(0).IsNotFound());
      EXPECT_TRUE(index->Add(0, std::span<const float>(data).subspan(0, dim)).IsAlreadyExists());
      const SlotPredicate even = [](uint64_t slot) { return slot % 2 == 0; };
      std::vector<bool> live_even(n);
      for (size_t i = 0; i < n; ++i) live_even[i] = live[i] && i % 2 == 0;
      for (size_t qi = 0; qi < 10; ++qi) {
        std::span<const float> q(queries.data() + qi * dim, dim);
        auto want = Oracle(metric, data, dim, q.data(), 10, live);
        EXPECT_EQ(Slots(*index->Search(q, 10, 0)), want) << MetricName(metric);
        EXPECT_EQ(Slots(*index->ExactSearch(q, 10)), want);
        auto want_even = Oracle(metric, data, dim, q.data(), 10, live_even);
        EXPECT_EQ(Slots(*index->Search(q, 10, 0, even)), want_even);
        EXPECT_EQ(Slots(*index->ExactSearch(q, 10, even)), want_even);
        std::vector<uint64_t> among = {0, 1, 2, 2, 4, 5, 7, 8, 10, 2999, 5000};
        std::vector<bool> among_live(n, false);
        for (uint64_t s : among) {
          if (s < n) among_live[s] = live[s];
        }
        EXPECT_EQ(Slots(*index->ExactSearchAmong(q, 3, among)),
                  Oracle(metric, data, dim, q.data(), 3, among_live));
      }
      EXPECT_EQ(index->ExactSearch(queries, 10).status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST(FlatIndex, SerializeLoadAndDamagedSnapshots) {
  const int dim = 12;
  FlatOptions o{.dim = dim, .metric = Metric::kL2};
  auto data = RandomVectors(500, dim, 3);
  auto index = *NewFlatIndex(o);
  for (size_t i = 0; i < 500; ++i) {
    ASSERT_OK(index->Add(i, std::span<const float>(data).subspan(i * dim, dim)));
  }
  for (uint64_t slot = 0; slot < 500; slot += 4) ASSERT_OK(index->Remove(slot));
  ASSERT_OK_AND_ASSIGN(std::string bytes, index->Serialize());
  ASSERT_OK_AND_ASSIGN(auto loaded, LoadFlatIndex(o, bytes));
  EXPECT_EQ(loaded->size(), index->size());
  EXPECT_TRUE(loaded->Add(0, std::span<const float>(data).subspan(0, dim)).IsAlreadyExists());
  auto q = RandomVectors(1, dim, 4);
  auto a = *index->Search(q, 20, 0);
  auto b = *loaded->Search(q, 20, 0);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].slot, b[i].slot);
    EXPECT_EQ(a[i].distance, b[i].distance);
  }
  EXPECT_TRUE(LoadFlatIndex(o, bytes.substr(0, 20)).status().IsCorruption());
  EXPECT_TRUE(LoadFlatIndex(o, bytes.substr(0, bytes.size() - 1)).status().IsCorruption());
  std::string flipped = bytes;
  flipped[bytes.size() / 2] ^= 1;
  EXPECT_TRUE(LoadFlatIndex(o, flipped).status().IsCorruption());
  std::string future = bytes;
  future[8] = 9;
  EXPECT_EQ(LoadFlatIndex(o, future).status().code(), StatusCode::kNotSupported);
  Status s = LoadFlatIndex({.dim = 13, .metric = Metric::kL2}, bytes).status();
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_NE(s.message().find("dim 12 differs from expected 13"), std::string::npos) << s;
  EXPECT_TRUE(
      LoadFlatIndex({.dim = dim, .metric = Metric::kCosine}, bytes).status().IsInvalidArgument());
  EXPECT_TRUE(NewFlatIndex({.dim = 0}).status().IsInvalidArgument());
}

}  // namespace
}  // namespace flashembed::index
