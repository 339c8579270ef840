// Collections with every index kind (flat, IVF-Flat, IVF-SQ8, IVF-PQ and the
// default HNSW) through the public API: exact before training, recall after
// it against an exact oracle, nprobe per query, filters, deletes, and the
// index surviving reopen (snapshot) and replay (writes after the snapshot).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <random>
#include <set>

#include "query/database.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

constexpr int kDim = 16;

// Points around 32 centres, so IVF lists mean something.
std::vector<std::vector<float>> Clustered(int n, uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<std::vector<float>> centres(32, std::vector<float>(kDim));
  for (auto& c : centres) {
    for (float& x : c) x = dist(rng) * 4;
  }
  std::vector<std::vector<float>> out;
  for (int i = 0; i < n; ++i) {
    std::vector<float> v = centres[rng() % centres.size()];
    for (float& x : v) x += dist(rng);
    out.push_back(std::move(v));
  }
  return out;
}

std::vector<int64_t> Ids(const std::vector<Hit>& hits) {
  std::vector<int64_t> out;
  for (const Hit& h : hits) out.push_back(h.id.as_int());
  return out;
}

double Recall(const std::vector<int64_t>& got, const std::vector<int64_t>& want) {
  std::set<int64_t> w(want.begin(), want.end());
  size_t found = 0;
  for (int64_t id : got) found += w.count(id);
  return want.empty() ? 1.0 : static_cast<double>(found) / static_cast<double>(want.size());
}

struct KindCase {
  IndexKind kind;
  double min_recall;  // at nprobe 8 of 16 lists
};

class IndexKindsTest : public ::testing::TestWithParam<KindCase> {};

TEST_P(IndexKindsTest, SearchesPersistAndFilter) {
  const KindCase kc = GetParam();
  TempDir dir;
  Options options;
  options.exact_search_below = 0;  // let the index answer
  options.snapshot_every_ops = 0;  // snapshot only at close: the reopen replays
  CollectionSchema schema;
  schema.encoder = "";
  schema.dim = kDim;
  schema.metric = Metric::kL2;
  schema.index = kc.kind;
  schema.ivf.nlist = 16;
  schema.ivf.train_at = 1000;
  schema.ivf.nprobe = 4;
  schema.ivf.pq_m = 8;
  const auto data = Clustered(3000, 7);
  auto add = [&](Collection& c, int from, int to) {
    std::vector<Document> docs;
    for (int i = from; i < to; ++i) {
      docs.push_back({.id = i, .metadata = "{\"n\":" + std::to_string(i) + "}", .vector = data[i]});
    }
    ASSERT_OK(c.Add({}, docs));
  };
  auto exact = [&](Collection& c, const std::vector<float>& q, size_t k, const std::string& f) {
    auto hits = c.Search({.k = k, .mode = SearchMode::kExact, .filter = f}, Query::Vector(q));
    EXPECT_TRUE(hits.ok()) << hits.status();
    return hits.ok() ? Ids(*hits) : std::vector<int64_t>();
  };
  std::mt19937 rng(3);
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(options, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", schema));
    ASSERT_OK_AND_ASSIGN(auto info, c->Describe());
    EXPECT_EQ(info.schema.index, kc.kind);
    // Before training (500 < train_at) every kind answers exactly.
    add(*c, 0, 500);
    for (int t = 0; t < 5; ++t) {
      const auto& q = data[rng() % 500];
      ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 10}, Query::Vector(q)));
      EXPECT_EQ(Ids(hits), exact(*c, q, 10, "")) << IndexKindName(kc.kind);
    }
    add(*c, 500, 2500);  // crosses train_at
    ASSERT_OK(c->Delete({}, std::vector<Id>{1, 2, 3}).status());
  }
  // Reopen: the snapshot, then writes replayed after it.
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(options, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("c"));
  add(*c, 2500, 3000);
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  EXPECT_EQ(count, 2997u);
  double recall = 0, recall_wide = 0;
  for (int t = 0; t < 40; ++t) {
    const auto& q = data[rng() % data.size()];
    const std::vector<int64_t> want = exact(*c, q, 10, "");
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 10, .nprobe = 8}, Query::Vector(q)));
    ASSERT_EQ(hits.size(), 10u);
    for (const Hit& h : hits) EXPECT_GT(h.id.as_int(), 3);
    recall += Recall(Ids(hits), want);
    ASSERT_OK_AND_ASSIGN(hits, c->Search({.k = 10, .nprobe = 16}, Query::Vector(q)));
    recall_wide += Recall(Ids(hits), want);
  }
  EXPECT_GE(recall / 40, kc.min_recall) << IndexKindName(kc.kind);
  EXPECT_GE(recall_wide / 40, recall / 40 - 1e-9) << "more lists never hurt";
  // Filtered: complete and exact on a selective filter, high recall on a broad one.
  for (const char* f : {"n < 100", "n % 2 == 0"}) {
    const auto& q = data[rng() % data.size()];
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 10, .filter = f}, Query::Vector(q)));
    EXPECT_EQ(hits.size(), 10u) << f;
    EXPECT_GE(Recall(Ids(hits), exact(*c, q, 10, f)), 0.7) << f;
  }
}

INSTANTIATE_TEST_SUITE_P(Kinds, IndexKindsTest,
                         ::testing::Values(KindCase{IndexKind::kFlat, 1.0},
                                           KindCase{IndexKind::kHnsw, 0.95},
                                           KindCase{IndexKind::kIvfFlat, 0.9},
                                           KindCase{IndexKind::kIvfSq8, 0.85},
                                           KindCase{IndexKind::kIvfPq, 0.5}),
                         [](const ::testing::TestParamInfo<KindCase>& info) {
                           return std::string(IndexKindName(info.param.kind));
                         });

TEST(IndexKinds, BadIvfParametersAreRefused) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  CollectionSchema schema{.dim = 16, .index = IndexKind::kIvfPq, .encoder = ""};
  schema.ivf.pq_m = 5;  // does not divide 16
  EXPECT_EQ(db->CreateCollection("c", schema).status().code(), StatusCode::kInvalidArgument);
  schema.ivf.pq_m = 4;
  schema.ivf.nlist = 64;
  schema.ivf.train_at = 10;  // fewer than nlist
  auto r = db->CreateCollection("c", schema);
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("train_at"), std::string::npos) << r.status();
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  EXPECT_TRUE(list.empty());
}

}  // namespace
}  // namespace flashembed
