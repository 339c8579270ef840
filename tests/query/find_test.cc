// Reads and deletes without a query vector (GetMany, Find, CountWhere,
// DeleteWhere), range search and grouped search, each against an oracle
// computed from the documents the test wrote; collection properties and
// index-kind schemas.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include <nlohmann/json.hpp>

#include "query/database.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

constexpr int kDim = 8;

struct Fixture {
  TempDir dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  std::vector<std::vector<float>> vectors;  // by id
};

// n vector-only documents with id i and metadata {"n": i, "g": i % groups,
// "lang": en/de/fr}.
void Fill(Fixture& f, int n, int groups, uint32_t seed, size_t exact_below = 2048) {
  Options options;
  options.exact_search_below = exact_below;
  auto db = Database::Open(options, f.dir.Sub("db"));
  ASSERT_TRUE(db.ok()) << db.status();
  f.db = std::move(db).value();
  CollectionSchema schema;
  schema.encoder = "";
  schema.dim = kDim;
  auto c = f.db->CreateCollection("c", schema);
  ASSERT_TRUE(c.ok()) << c.status();
  f.c = *c;
  std::mt19937 rng(seed);
  std::normal_distribution<float> dist(0.0f, 1.0f);
  static const char* kLangs[] = {"en", "de", "fr"};
  std::vector<Document> docs;
  for (int i = 0; i < n; ++i) {
    std::vector<float> v(kDim);
    for (float& x : v) x = dist(rng);
    f.vectors.push_back(v);
    docs.push_back({.id = i,
                    .text = "doc " + std::to_string(i),
                    .metadata = "{\"n\":" + std::to_string(i) + ",\"g\":" +
                                std::to_string(i % groups) + ",\"lang\":\"" + kLangs[i % 3] + "\"}",
                    .vector = v});
  }
  ASSERT_OK(f.c->Add({}, docs));
}

double Cosine(const std::vector<float>& a, const std::vector<float>& b) {
  double dot = 0, na = 0, nb = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / std::sqrt(na * nb);
}

std::vector<int64_t> Ids(const std::vector<Document>& docs) {
  std::vector<int64_t> out;
  for (const Document& d : docs) out.push_back(d.id.as_int());
  return out;
}

TEST(Find, FiltersPagesAndPicksFields) {
  Fixture f;
  Fill(f, 300, 7, 1);
  // Every third document is "de"; write order is id order.
  FindOptions o{.filter = "lang == \"de\" and n < 100"};
  ASSERT_OK_AND_ASSIGN(auto docs, f.c->Find(o));
  std::vector<int64_t> want;
  for (int i = 1; i < 100; i += 3) want.push_back(i);
  EXPECT_EQ(Ids(docs), want);
  ASSERT_FALSE(docs.empty());
  EXPECT_EQ(docs[0].text, "doc 1");
  EXPECT_EQ(nlohmann::json::parse(docs[0].metadata)["lang"], "de");
  EXPECT_TRUE(docs[0].vector.empty());

  o.offset = 5;
  o.limit = 4;
  o.with_text = false;
  o.with_metadata = false;
  o.with_vector = true;
  ASSERT_OK_AND_ASSIGN(docs, f.c->Find(o));
  EXPECT_EQ(Ids(docs), (std::vector<int64_t>{16, 19, 22, 25}));
  EXPECT_EQ(docs[0].text, "");
  EXPECT_EQ(docs[0].metadata, "");
  EXPECT_EQ(docs[0].vector, f.vectors[16]);

  // Past the end: nothing, no error.
  o.offset = 1000;
  ASSERT_OK_AND_ASSIGN(docs, f.c->Find(o));
  EXPECT_TRUE(docs.empty());

  // No filter: every document in write order, paged.
  ASSERT_OK_AND_ASSIGN(docs, f.c->Find({.offset = 295}));
  EXPECT_EQ(Ids(docs), (std::vector<int64_t>{295, 296, 297, 298, 299}));
  ASSERT_OK_AND_ASSIGN(docs, f.c->Find({.offset = 10, .limit = 2, .with_vector = true}));
  EXPECT_EQ(Ids(docs), (std::vector<int64_t>{10, 11}));
  EXPECT_EQ(docs[1].vector, f.vectors[11]);

  // Params, and an upsert moves a document to the end of the write order.
  ASSERT_OK(f.c->Upsert(
      {}, std::vector<Document>{
              {.id = 4, .metadata = R"({"n":4,"lang":"de"})", .vector = f.vectors[4]}}));
  ASSERT_OK_AND_ASSIGN(docs,
                       f.c->Find({.filter = "n in {ns}", .filter_params = R"({"ns":[4,1,7]})"}));
  EXPECT_EQ(Ids(docs), (std::vector<int64_t>{1, 7, 4}));
}

TEST(Find, BadInputIsRefused) {
  Fixture f;
  Fill(f, 20, 3, 2);
  auto bad = f.c->Find({.filter = "n >"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(bad.status().message().find("column"), std::string::npos) << bad.status();
  bad = f.c->Find({.filter = "n == {x}", .filter_params = "[1]"});
  EXPECT_EQ(bad.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.c->CountWhere("lang ==", "").status().code(), StatusCode::kInvalidArgument);
}

TEST(GetMany, KeepsOrderSkipsMissingAndRepeats) {
  Fixture f;
  Fill(f, 50, 3, 3);
  std::vector<Id> ids = {7, 3, 999, 7, "7", 42};
  ASSERT_OK_AND_ASSIGN(auto docs, f.c->GetMany(ids, /*with_vector=*/true));
  EXPECT_EQ(Ids(docs), (std::vector<int64_t>{7, 3, 42}));
  EXPECT_EQ(docs[0].vector, f.vectors[7]);
  EXPECT_EQ(docs[2].text, "doc 42");
  ASSERT_OK_AND_ASSIGN(docs, f.c->GetMany(ids, /*with_vector=*/false));
  EXPECT_TRUE(docs[0].vector.empty());
  ASSERT_OK_AND_ASSIGN(docs, f.c->GetMany({}, true));
  EXPECT_TRUE(docs.empty());
}

TEST(DeleteWhere, RemovesExactlyTheMatchesAndPersists) {
  Fixture f;
  Fill(f, 600, 5, 4);
  // A filtered search first, so the cache holds a set the delete must drop.
  ASSERT_OK_AND_ASSIGN(uint64_t en, f.c->CountWhere("lang == \"en\"", ""));
  EXPECT_EQ(en, 200u);
  ASSERT_OK_AND_ASSIGN(uint64_t all, f.c->CountWhere("", ""));
  EXPECT_EQ(all, 600u);
  ASSERT_OK_AND_ASSIGN(size_t removed, f.c->DeleteWhere({}, "lang == \"en\" and n >= 300", ""));
  EXPECT_EQ(removed, 100u);
  ASSERT_OK_AND_ASSIGN(en, f.c->CountWhere("lang == \"en\"", ""));
  EXPECT_EQ(en, 100u);
  ASSERT_OK_AND_ASSIGN(uint64_t count, f.c->Count());
  EXPECT_EQ(count, 500u);
  EXPECT_TRUE(f.c->Get(303).status().IsNotFound());
  EXPECT_TRUE(f.c->Get(304).ok());
  // Searches never return a deleted document.
  SearchOptions so{.k = 600, .mode = SearchMode::kExact, .filter = "n >= 300"};
  ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search(so, Query::Vector(f.vectors[303])));
  EXPECT_EQ(hits.size(), 200u);
  for (const Hit& h : hits) EXPECT_NE(h.id.as_int() % 3, 0) << h.id;
  // Matching nothing deletes nothing.
  ASSERT_OK_AND_ASSIGN(removed, f.c->DeleteWhere({}, "n > 100000", ""));
  EXPECT_EQ(removed, 0u);
  // An empty or bad filter changes nothing.
  EXPECT_EQ(f.c->DeleteWhere({}, "  ", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(f.c->DeleteWhere({}, "lang = 1", "").status().code(), StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(count, f.c->Count());
  EXPECT_EQ(count, 500u);
  // Reopen: the deletes are durable, the index agrees.
  f.c.reset();
  ASSERT_OK(f.db->Close());
  ASSERT_OK_AND_ASSIGN(f.db, Database::Open({}, f.dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(f.c, f.db->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(count, f.c->Count());
  EXPECT_EQ(count, 500u);
  ASSERT_OK_AND_ASSIGN(en, f.c->CountWhere("lang == \"en\"", ""));
  EXPECT_EQ(en, 100u);
  ASSERT_OK_AND_ASSIGN(hits, f.c->Search({.k = 600}, Query::Vector(f.vectors[0])));
  EXPECT_EQ(hits.size(), 500u);
}

// Range search returns every document within the range when fewer than k
// are, best first, through the graph (ANN, checked for recall) and exactly.
TEST(RangeSearch, MatchesTheOracle) {
  Fixture f;
  Fill(f, 5000, 10, 5, /*exact_below=*/0);
  std::mt19937 rng(7);
  double found = 0, wanted = 0;
  for (int t = 0; t < 20; ++t) {
    const std::vector<float>& q = f.vectors[rng() % f.vectors.size()];
    std::vector<std::pair<double, int64_t>> all;
    for (size_t i = 0; i < f.vectors.size(); ++i) all.emplace_back(Cosine(f.vectors[i], q), i);
    std::sort(all.rbegin(), all.rend());
    // min_score so that documents 3..40 qualify (k 100: all of them come
    // back), max_score excluding the query itself and the next two; both
    // half way between two documents' scores, away from rounding.
    const float min_score = static_cast<float>((all[40].first + all[41].first) / 2);
    const float max_score = static_cast<float>((all[2].first + all[3].first) / 2);
    for (SearchMode mode : {SearchMode::kExact, SearchMode::kApproximate}) {
      SearchOptions o{.k = 100, .mode = mode, .with_text = false, .with_metadata = false};
      o.min_score = min_score;
      o.max_score = max_score;
      ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search(o, Query::Vector(q)));
      std::set<int64_t> expected;
      for (const auto& [score, id] : all) {
        if (score >= min_score && score <= max_score) expected.insert(id);
      }
      for (size_t i = 0; i < hits.size(); ++i) {
        EXPECT_GE(hits[i].score, min_score - 1e-5);
        EXPECT_LE(hits[i].score, max_score + 1e-5);
        if (i > 0) {
          EXPECT_GE(hits[i - 1].score, hits[i].score);
        }
      }
      size_t hit_count = 0;
      for (const Hit& h : hits) hit_count += expected.count(h.id.as_int());
      if (mode == SearchMode::kExact) {
        EXPECT_EQ(hit_count, expected.size());
        EXPECT_EQ(hits.size(), expected.size());
      } else {
        found += static_cast<double>(hit_count);
        wanted += static_cast<double>(expected.size());
      }
    }
    // k caps the result: the 5 best within the range.
    SearchOptions capped{.k = 5, .mode = SearchMode::kExact};
    capped.min_score = min_score;
    capped.max_score = max_score;
    ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search(capped, Query::Vector(q)));
    ASSERT_EQ(hits.size(), 5u);
    EXPECT_EQ(hits[0].id.as_int(), all[3].second);
  }
  EXPECT_GE(found / wanted, 0.95) << "range-search recall through the graph";
  // With a filter: only matching documents, all of those in range.
  SearchOptions o{.k = 16384, .mode = SearchMode::kApproximate, .filter = "g == 3"};
  o.min_score = 0.5f;
  ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search(o, Query::Vector(f.vectors[3])));
  size_t expected = 0;
  for (size_t i = 3; i < f.vectors.size(); i += 10)
    expected += Cosine(f.vectors[i], f.vectors[3]) >= 0.5;
  EXPECT_EQ(hits.size(), expected);
  for (const Hit& h : hits) EXPECT_EQ(h.id.as_int() % 10, 3);
  // Bad ranges.
  SearchOptions inverted{.k = 5};
  inverted.min_score = 0.9f;
  inverted.max_score = 0.1f;
  EXPECT_EQ(f.c->Search(inverted, Query::Vector(f.vectors[0])).status().code(),
            StatusCode::kInvalidArgument);
}

// Grouped search: the k best groups (by their best document) with their
// group_size best documents each, against an exact oracle.
TEST(GroupedSearch, MatchesTheOracle) {
  Fixture f;
  Fill(f, 3000, 40, 6, /*exact_below=*/0);
  std::mt19937 rng(9);
  for (int t = 0; t < 10; ++t) {
    const std::vector<float>& q = f.vectors[rng() % f.vectors.size()];
    std::vector<std::pair<double, int64_t>> all;
    for (size_t i = 0; i < f.vectors.size(); ++i) all.emplace_back(Cosine(f.vectors[i], q), i);
    std::sort(all.rbegin(), all.rend());
    // Oracle: groups in order of their best document, 3 best each.
    std::vector<int64_t> group_order;
    std::map<int64_t, std::vector<int64_t>> members;
    for (const auto& [score, id] : all) {
      const int64_t g = id % 40;
      if (members[g].empty()) group_order.push_back(g);
      if (members[g].size() < 3) members[g].push_back(id);
    }
    SearchOptions o{.k = 5, .mode = SearchMode::kExact, .group_by = "g", .group_size = 3};
    ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search(o, Query::Vector(q)));
    std::vector<int64_t> want;
    for (size_t i = 0; i < 5; ++i) {
      for (int64_t id : members[group_order[i]]) want.push_back(id);
    }
    std::vector<int64_t> got;
    for (const Hit& h : hits) {
      got.push_back(h.id.as_int());
      EXPECT_EQ(h.group, std::to_string(h.id.as_int() % 40));
    }
    EXPECT_EQ(got, want);
    // Through the graph: the same groups (the graph is near-exact here).
    o.mode = SearchMode::kApproximate;
    ASSERT_OK_AND_ASSIGN(hits, f.c->Search(o, Query::Vector(q)));
    ASSERT_EQ(hits.size(), 15u);
    std::set<std::string> groups;
    for (const Hit& h : hits) groups.insert(h.group);
    EXPECT_EQ(groups.size(), 5u);
  }
  // A filter, a JSON path, and documents without the key (one null group).
  ASSERT_OK(f.c->Add(
      {}, std::vector<Document>{
              {.id = 100000, .metadata = R"({"n":100000,"x":{"y":"a"}})", .vector = f.vectors[0]},
              {.id = 100001, .metadata = R"({"n":100001,"x":{"y":"b"}})", .vector = f.vectors[1]},
          }));
  SearchOptions o{
      .k = 10, .filter = "n < 50 or n > 99999", .group_by = "x[\"y\"]", .group_size = 2};
  ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search(o, Query::Vector(f.vectors[0])));
  std::map<std::string, int> sizes;
  for (const Hit& h : hits) ++sizes[h.group];
  EXPECT_EQ(sizes, (std::map<std::string, int>{{"\"a\"", 1}, {"\"b\"", 1}, {"null", 2}}));
  // More groups wanted than exist: all of them.
  o = SearchOptions{.k = 100, .group_by = "lang", .group_size = 1};
  ASSERT_OK_AND_ASSIGN(hits, f.c->Search(o, Query::Vector(f.vectors[0])));
  EXPECT_EQ(hits.size(), 4u);  // en, de, fr, null
  // Bad group_by values.
  for (const char* bad : {"id", "a[0]", "a +", ""}) {
    SearchOptions b{.k = 3, .group_by = bad};
    if (std::string(bad).empty()) continue;
    EXPECT_EQ(f.c->Search(b, Query::Vector(f.vectors[0])).status().code(),
              StatusCode::kInvalidArgument)
        << bad;
  }
  SearchOptions b{.k = 3, .group_by = "g", .group_size = 0};
  EXPECT_EQ(f.c->Search(b, Query::Vector(f.vectors[0])).status().code(),
            StatusCode::kInvalidArgument);
}

TEST(CollectionSchema, PropertiesAndIndexKindsPersist) {
  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    CollectionSchema s;
    s.properties = R"({"milvus":{"fields":[{"name":"pk"}]}})";
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("p", s));
    ASSERT_OK_AND_ASSIGN(auto info, c->Describe());
    EXPECT_EQ(info.schema.properties, s.properties);
    // GetOrCreate compares properties too.
    CollectionSchema other = s;
    other.properties = "{}";
    auto mismatch = db->GetOrCreateCollection("p", other);
    EXPECT_EQ(mismatch.status().code(), StatusCode::kInvalidArgument);
    EXPECT_NE(mismatch.status().message().find("properties"), std::string::npos);
    ASSERT_OK(db->GetOrCreateCollection("p", s).status());
    for (const char* bad : {"[1]", "{", "\"x\""}) {
      CollectionSchema b;
      b.properties = bad;
      EXPECT_EQ(db->CreateCollection("bad", b).status().code(), StatusCode::kInvalidArgument);
    }
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("p"));
  ASSERT_OK_AND_ASSIGN(auto info, c->Describe());
  EXPECT_EQ(info.schema.properties, R"({"milvus":{"fields":[{"name":"pk"}]}})");
  EXPECT_EQ(info.schema.index, IndexKind::kHnsw);
}

TEST(CollectionSchema, IndexKindNames) {
  for (IndexKind k : {IndexKind::kHnsw, IndexKind::kFlat, IndexKind::kIvfFlat, IndexKind::kIvfSq8,
                      IndexKind::kIvfPq}) {
    EXPECT_EQ(ParseIndexKind(IndexKindName(k)), k);
  }
  EXPECT_EQ(ParseIndexKind("IVF_PQ"), IndexKind::kIvfPq);
  EXPECT_EQ(ParseIndexKind("ivf"), std::nullopt);
  CollectionSchema s;
  s.index = IndexKind::kIvfPq;
  s.dim = 30;
  s.ivf.pq_m = 7;
  EXPECT_EQ(s.Validate().code(), StatusCode::kInvalidArgument);
  s.ivf.pq_m = 6;
  EXPECT_OK(s.Validate());
  s.ivf.pq_nbits = 9;
  EXPECT_EQ(s.Validate().code(), StatusCode::kInvalidArgument);
  s.ivf.pq_nbits = 8;
  s.ivf.nprobe = 0;
  EXPECT_EQ(s.Validate().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace flashembed
