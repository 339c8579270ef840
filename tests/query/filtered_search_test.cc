// Filtered search through the public API: complete (k results whenever k
// documents match), recall against an exact filtered oracle at pass rates
// from 0.1 % to 100 %, the plan it reports, writes seen by later filters,
// reopen, and bad filters refused.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <random>
#include <set>
#include <thread>

#include "query/database.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

constexpr int kDim = 16;

std::vector<float> RandomVector(std::mt19937& rng) {
  std::normal_distribution<float> dist(0.0f, 1.0f);
  std::vector<float> v(kDim);
  for (float& x : v) x = dist(rng);
  return v;
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (int i = 0; i < kDim; ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

struct Corpus {
  std::vector<std::vector<float>> vectors;  // by id
};

// n vector-only documents, id i, metadata {"bucket": i % 1000, "lang": ...,
// "n": i}; "bucket < X" passes X / 1000 of them.
Corpus Fill(Collection& c, int n, uint32_t seed) {
  std::mt19937 rng(seed);
  Corpus corpus;
  std::vector<Document> docs;
  static const char* kLangs[] = {"en", "de", "fr"};
  for (int i = 0; i < n; ++i) {
    corpus.vectors.push_back(RandomVector(rng));
    docs.push_back({.id = i,
                    .metadata = "{\"bucket\": " + std::to_string(i % 1000) + ", \"lang\": \"" +
                                kLangs[i % 3] + "\", \"n\": " + std::to_string(i) + "}",
                    .vector = corpus.vectors.back()});
  }
  EXPECT_OK(c.Add({}, docs));
  return corpus;
}

std::vector<int64_t> ExactTopK(const Corpus& corpus, const std::vector<float>& q, size_t k,
                               const std::function<bool(int)>& pass) {
  std::vector<std::pair<double, int64_t>> all;
  for (size_t i = 0; i < corpus.vectors.size(); ++i) {
    if (pass(static_cast<int>(i))) all.emplace_back(-Cosine(corpus.vectors[i], q), i);
  }
  const size_t n = std::min(k, all.size());
  std::partial_sort(all.begin(), all.begin() + n, all.end());
  std::vector<int64_t> out;
  for (size_t i = 0; i < n; ++i) out.push_back(all[i].second);
  return out;
}

TEST(FilteredSearch, CompleteAndAccurateAtEveryPassRate) {
  TempDir dir;
  Options options;
  options.exact_search_below = 0;  // let the planner choose graph walks too
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(options, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = kDim, .encoder = ""}));
  const int n = 20000;
  Corpus corpus = Fill(*c, n, 1);
  std::mt19937 rng(2);
  const size_t k = 10;
  struct Case {
    int below;             // bucket < below
    const char* strategy;  // the plan expected from the second query on
    bool narrowed;         // candidates from the index of "bucket"
  };
  // 10 % (2000 matches): the first query walks the graph lazily, later ones
  // scan the (cached) matches, cheaper than a walk at that pass rate here.
  for (Case cs : {Case{1, "exact-matches", true}, Case{10, "exact-matches", true},
                  Case{100, "exact-matches", false}, Case{500, "filtered-graph", false},
                  Case{1000, "filtered-graph", false}}) {
    const std::string filter = "bucket < " + std::to_string(cs.below);
    size_t found = 0, wanted = 0;
    for (int qi = 0; qi < 30; ++qi) {
      const std::vector<float> q = RandomVector(rng);
      SearchStats stats;
      ASSERT_OK_AND_ASSIGN(auto hits,
                           c->Search({.k = k, .ef_search = 64, .filter = filter, .stats = &stats},
                                     Query::Vector(q)));
      auto exact = ExactTopK(corpus, q, k, [&](int i) { return i % 1000 < cs.below; });
      ASSERT_EQ(hits.size(), exact.size()) << filter;
      const double true_matches = n / 1000.0 * cs.below;
      if (stats.strategy == std::string("exact-matches")) {
        EXPECT_EQ(stats.filter_matches, static_cast<uint64_t>(true_matches)) << filter;
      } else {  // estimated from a sample of 512
        EXPECT_NEAR(static_cast<double>(stats.filter_matches), true_matches,
                    0.25 * true_matches + 200)
            << filter;
      }
      if (qi == 0 && !cs.narrowed) {
        EXPECT_EQ(stats.strategy, "filtered-graph") << filter << ": first use, walked lazily";
      } else {
        EXPECT_EQ(stats.strategy, cs.strategy) << filter;
      }
      // A narrowed match set is cached: later searches start from it.
      EXPECT_EQ(stats.narrowed, cs.narrowed && qi == 0) << filter;
      if (cs.narrowed && qi > 0) {
        EXPECT_TRUE(stats.cached) << filter;
      }
      std::set<int64_t> truth(exact.begin(), exact.end());
      for (const Hit& hit : hits) {
        ASSERT_LT(hit.id.as_int() % 1000, cs.below) << filter << ": a non-matching document";
        found += truth.count(hit.id.as_int());
      }
      wanted += exact.size();
    }
    EXPECT_GE(static_cast<double>(found) / wanted, 0.95) << filter;
  }
}

TEST(FilteredSearch, FewerMatchesThanKReturnsThemAll) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = kDim, .encoder = ""}));
  Corpus corpus = Fill(*c, 3000, 3);
  std::mt19937 rng(4);
  SearchStats stats;
  ASSERT_OK_AND_ASSIGN(auto hits,
                       c->Search({.k = 10, .filter = "n < 3 or id in [2999]", .stats = &stats},
                                 Query::Vector(RandomVector(rng))));
  std::set<int64_t> ids;
  for (const Hit& h : hits) ids.insert(h.id.as_int());
  EXPECT_EQ(ids, (std::set<int64_t>{0, 1, 2, 2999}));
  EXPECT_EQ(stats.filter_matches, 4u);
  ASSERT_OK_AND_ASSIGN(hits, c->Search({.k = 10, .filter = "lang == \"xx\"", .stats = &stats},
                                       Query::Vector(RandomVector(rng))));
  EXPECT_TRUE(hits.empty());
  EXPECT_EQ(stats.strategy, "none");
  // Templates.
  ASSERT_OK_AND_ASSIGN(
      hits, c->Search({.k = 10, .filter = "n in {few}", .filter_params = R"({"few": [5, 7]})"},
                      Query::Vector(RandomVector(rng))));
  ids.clear();
  for (const Hit& h : hits) ids.insert(h.id.as_int());
  EXPECT_EQ(ids, (std::set<int64_t>{5, 7}));
  // One value named twice in an `in` list counts its documents once.
  ASSERT_OK_AND_ASSIGN(hits, c->Search({.k = 10, .filter = "n in [5, 5.0, 5]", .stats = &stats},
                                       Query::Vector(RandomVector(rng))));
  EXPECT_EQ(hits.size(), 1u);
  EXPECT_EQ(stats.filter_matches, 1u);
  EXPECT_TRUE(stats.narrowed);
}

// Writes after the first filtered search (which loads the metadata) are
// seen by later ones; so is everything after a reopen.
TEST(FilteredSearch, SeesLaterWritesAndSurvivesReopen) {
  TempDir dir;
  std::mt19937 rng(5);
  const std::vector<float> q = RandomVector(rng);
  auto ids_of = [](const std::vector<Hit>& hits) {
    std::set<std::string> ids;
    for (const Hit& h : hits) ids.insert(h.id.ToString());
    return ids;
  };
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = kDim, .encoder = ""}));
    ASSERT_OK(
        c->Add({}, std::vector<Document>{
                       {.id = "a", .metadata = R"({"tag": "x"})", .vector = RandomVector(rng)},
                       {.id = "b", .metadata = R"({"tag": "y"})", .vector = RandomVector(rng)}}));
    ASSERT_OK_AND_ASSIGN(auto hits,
                         c->Search({.k = 5, .filter = "tag == \"x\""}, Query::Vector(q)));
    EXPECT_EQ(ids_of(hits), (std::set<std::string>{"a"}));
    ASSERT_OK(
        c->Add({}, std::vector<Document>{
                       {.id = "c", .metadata = R"({"tag": "x"})", .vector = RandomVector(rng)}}));
    ASSERT_OK(c->Upsert(
        {}, std::vector<Document>{
                {.id = "a", .metadata = R"({"tag": "z"})", .vector = RandomVector(rng)},
                {.id = "b", .metadata = R"({"tag": "x"})", .vector = RandomVector(rng)}}));
    ASSERT_OK_AND_ASSIGN(hits, c->Search({.k = 5, .filter = "tag == \"x\""}, Query::Vector(q)));
    EXPECT_EQ(ids_of(hits), (std::set<std::string>{"b", "c"}));
    ASSERT_OK(c->Delete({}, std::vector<Id>{"c"}).status());
    ASSERT_OK_AND_ASSIGN(hits, c->Search({.k = 5, .filter = "tag == \"x\""}, Query::Vector(q)));
    EXPECT_EQ(ids_of(hits), (std::set<std::string>{"b"}));
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("v"));
  ASSERT_OK_AND_ASSIGN(auto hits,
                       c->Search({.k = 5, .filter = "tag in [\"x\", \"z\"]"}, Query::Vector(q)));
  EXPECT_EQ(ids_of(hits), (std::set<std::string>{"a", "b"}));
}

// Filters narrowed through the in-memory index of a path give exactly what
// testing every document gives (`(F) or id == -1` has no top-level conjunct,
// so it is tested on every document), across mixed value types.
TEST(FilteredSearch, IndexedConjunctsAgreeWithAFullScan) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = kDim, .encoder = ""}));
  std::mt19937 rng(8);
  const std::vector<std::string> values = {"1",
                                           "1.0",
                                           "2",
                                           "-3.5",
                                           "10",
                                           "\"1\"",
                                           "\"m\"",
                                           "\"apple\"",
                                           "\"zebra\"",
                                           "true",
                                           "false",
                                           "null",
                                           "[1]",
                                           "{\"a\": 1}",
                                           "9007199254740992",
                                           "9007199254740993",
                                           "1e300"};
  std::vector<Document> docs;
  for (size_t i = 0; i < values.size(); ++i) {
    docs.push_back({.id = static_cast<int64_t>(i),
                    .metadata = "{\"v\": " + values[i] + ", \"o\": {\"w\": " + values[i] + "}}",
                    .vector = RandomVector(rng)});
  }
  docs.push_back({.id = 100, .metadata = "{}", .vector = RandomVector(rng)});
  ASSERT_OK(c->Add({}, docs));
  const Query q = Query::Vector(RandomVector(rng));
  auto ids = [&](const std::string& filter, bool* narrowed) {
    SearchStats stats;
    auto hits = c->Search({.k = 100, .filter = filter, .stats = &stats}, q);
    EXPECT_TRUE(hits.ok()) << filter << ": " << hits.status();
    std::set<int64_t> out;
    if (hits.ok()) {
      for (const Hit& h : *hits) out.insert(h.id.as_int());
    }
    *narrowed = stats.narrowed;
    return out;
  };
  for (const char* f : {"v == 1",
                        "v == 1.0",
                        "v != 1",
                        "v in [1, \"m\", true]",
                        "v < 2",
                        "v <= 2",
                        "v > 2",
                        "v >= -3.5",
                        "-4 < v < 2",
                        "1 <= v <= 10",
                        "v >= \"b\"",
                        "v < \"n\"",
                        "v == true",
                        "v == false",
                        "v == 9007199254740993",
                        "v > 9007199254740992",
                        "v == \"1\"",
                        "o[\"w\"] == 2",
                        "o[\"w\"] >= 10",
                        "v in []",
                        "v == 1 and o[\"w\"] <= 1"}) {
    bool narrowed = false, scanned = true;
    const auto via_index = ids(f, &narrowed);
    const auto via_scan = ids(std::string("(") + f + ") or id == -1", &scanned);
    const bool simple = std::string(f) != "v in []" && std::string(f) != "v != 1";
    EXPECT_EQ(narrowed, simple) << f;
    EXPECT_FALSE(scanned) << f;
    EXPECT_EQ(via_index, via_scan) << f;
  }
  // The index follows upserts and deletes.
  ASSERT_OK(c->Upsert({}, std::vector<Document>{
                              {.id = 2, .metadata = R"({"v": 1})", .vector = RandomVector(rng)}}));
  ASSERT_OK(c->Delete({}, std::vector<Id>{0}).status());
  bool narrowed = false;
  EXPECT_EQ(ids("v == 1", &narrowed), (std::set<int64_t>{1, 2}));
  EXPECT_TRUE(narrowed);
}

// Filtered searches (including the first, which loads the metadata and
// builds field indexes) while another thread adds, upserts and deletes:
// no errors, and every hit satisfies the filter at the time it is returned.
TEST(FilteredSearch, ConcurrentWithWrites) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({.exact_search_below = 0}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = kDim, .encoder = ""}));
  Fill(*c, 2000, 9);
  std::atomic<bool> stop{false};
  Status writer_status;
  std::thread writer([&] {
    std::mt19937 rng(10);
    for (int round = 0; round < 60 && writer_status.ok(); ++round) {
      std::vector<Document> docs;
      for (int j = 0; j < 20; ++j) {
        const int id = 2000 + round * 20 + j;
        docs.push_back(
            {.id = id,
             .metadata = "{\"bucket\": " + std::to_string(id % 1000) + ", \"lang\": \"en\"}",
             .vector = RandomVector(rng)});
      }
      writer_status = c->Add({.sync = false}, docs);
      if (writer_status.ok()) {
        writer_status = c->Upsert(
            {.sync = false}, std::vector<Document>{{.id = round,
                                                    .metadata = R"({"bucket": 5, "lang": "de"})",
                                                    .vector = RandomVector(rng)}});
      }
      if (writer_status.ok()) {
        writer_status = c->Delete({.sync = false}, std::vector<Id>{1000 + round}).status();
      }
    }
    stop = true;
  });
  std::mt19937 rng(11);
  int searches = 0;
  while (!stop || searches < 20) {
    const bool narrow = searches % 2 == 0;
    auto hits = c->Search({.k = 10, .filter = narrow ? "bucket == 5" : "lang == \"en\""},
                          Query::Vector(RandomVector(rng)));
    ASSERT_TRUE(hits.ok()) << hits.status();
    for (const Hit& h : *hits) {
      if (narrow) {
        EXPECT_NE(h.metadata.find("\"bucket\":5"), std::string::npos) << h.metadata;
      } else {
        EXPECT_NE(h.metadata.find("\"lang\":\"en\""), std::string::npos) << h.metadata;
      }
    }
    ++searches;
  }
  writer.join();
  ASSERT_OK(writer_status);
}

// A broad filter is walked lazily the first time, scanned and cached the
// second, served from the cache after that; any write drops the cache.
TEST(FilteredSearch, CachedMatchSetsAreDroppedByWrites) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({.exact_search_below = 0}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = kDim, .encoder = ""}));
  Fill(*c, 3000, 12);
  std::mt19937 rng(13);
  const std::vector<float> q = RandomVector(rng);
  const SearchOptions base{.k = 5, .filter = "lang == \"en\""};
  auto search = [&](SearchStats* stats) {
    SearchOptions options = base;
    options.stats = stats;
    auto hits = c->Search(options, Query::Vector(q));
    EXPECT_TRUE(hits.ok()) << hits.status();
    return hits.ok() ? *hits : std::vector<Hit>();
  };
  SearchStats first, second, third;
  const auto a = search(&first), b = search(&second), d = search(&third);
  EXPECT_FALSE(first.cached);
  EXPECT_FALSE(second.cached);
  EXPECT_TRUE(third.cached);
  EXPECT_EQ(second.filter_matches, 1000u);
  EXPECT_EQ(third.filter_matches, 1000u);
  for (const auto* hits : {&a, &b, &d}) {
    ASSERT_EQ(hits->size(), 5u);
    for (const Hit& h : *hits) EXPECT_EQ(h.id.as_int() % 3, 0) << "lang en is every third id";
  }
  ASSERT_OK(c->Add(
      {}, std::vector<Document>{{.id = 99999, .metadata = R"({"lang": "en"})", .vector = q}}));
  SearchStats after;
  auto hits = search(&after);
  EXPECT_FALSE(after.cached);
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0].id, Id(99999));
  search(&after);
  ASSERT_OK(c->Upsert(
      {}, std::vector<Document>{{.id = 99999, .metadata = R"({"lang": "de"})", .vector = q}}));
  hits = search(&after);
  EXPECT_FALSE(after.cached);
  for (const Hit& h : hits) EXPECT_NE(h.id, Id(99999));
}

TEST(FilteredSearch, BadFiltersAreRefusedAndChangeNothing) {
  TempDir dir;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = kDim, .encoder = ""}));
  Fill(*c, 50, 6);
  std::mt19937 rng(7);
  const Query q = Query::Vector(RandomVector(rng));
  for (const char* bad : {"n <", "n == 1 and", "flag", "not n == 1", "n & 1 == 0", "(n == 1"}) {
    auto hits = c->Search({.filter = bad}, q);
    ASSERT_FALSE(hits.ok()) << bad;
    EXPECT_TRUE(hits.status().IsInvalidArgument()) << bad << ": " << hits.status();
    EXPECT_NE(hits.status().message().find("column"), std::string::npos) << hits.status();
  }
  auto params = c->Search({.filter = "n in {x}", .filter_params = "[1]"}, q);
  EXPECT_TRUE(params.status().IsInvalidArgument()) << params.status();
  auto missing = c->Search({.filter = "n in {x}"}, q);
  EXPECT_TRUE(missing.status().IsInvalidArgument()) << missing.status();
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  EXPECT_EQ(count, 50u);
  // An empty or blank filter is no filter.
  SearchStats stats;
  ASSERT_OK_AND_ASSIGN(auto all, c->Search({.k = 100, .filter = "  ", .stats = &stats}, q));
  EXPECT_EQ(all.size(), 50u);
  EXPECT_EQ(stats.strategy, "exact");
}

}  // namespace
}  // namespace flashembed
