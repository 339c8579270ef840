// Full-text (BM25) and hybrid search: the analysis, BM25 scores against a
// from-scratch oracle over the same documents, postings kept in step with
// adds, upserts, deletes, drop and reopen, filters, fusion, and errors.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <random>
#include <set>

#include "query/database.h"
#include "query/text_index.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using query::AnalyzeText;
using testing::TempDir;

TEST(AnalyzeText, WordsCaseAndWidth) {
  EXPECT_EQ(AnalyzeText("The Quick-brown fox's 42 jumps!"),
            (std::vector<std::string>{"the", "quick", "brown", "fox", "s", "42", "jumps"}));
  // NFKC folds full-width letters; case folding handles non-ASCII; accents stay.
  EXPECT_EQ(AnalyzeText("ＦＵＬＬ Straße CAFÉ"),
            (std::vector<std::string>{"full", "strasse", "café"}));
  EXPECT_EQ(AnalyzeText("  \t\n..."), std::vector<std::string>{});
  // Invalid UTF-8 bytes separate words instead of failing.
  EXPECT_EQ(AnalyzeText("ab\xff"
                        "cd"),
            (std::vector<std::string>{"ab", "cd"}));
  // Terms longer than kMaxTermBytes are dropped.
  EXPECT_EQ(AnalyzeText(std::string(query::kMaxTermBytes + 1, 'a') + " ok"),
            (std::vector<std::string>{"ok"}));
}

TEST(AnalyzeText, CjkBecomesBigrams) {
  EXPECT_EQ(AnalyzeText("北京大学"), (std::vector<std::string>{"北京", "京大", "大学"}));
  EXPECT_EQ(AnalyzeText("iPhone手机，好"), (std::vector<std::string>{"iphone", "手机", "好"}));
  EXPECT_EQ(AnalyzeText("カタカナ"), (std::vector<std::string>{"カタ", "タカ", "カナ"}));
  EXPECT_EQ(AnalyzeText("한국어 텍스트"),
            (std::vector<std::string>{"한국", "국어", "텍스", "스트"}));
}

// BM25 computed from scratch (Lucene idf, k1 1.2, b 0.75).
std::map<int64_t, double> OracleBm25(const std::map<int64_t, std::string>& docs,
                                     const std::string& query) {
  std::map<int64_t, std::vector<std::string>> terms;
  double total = 0;
  for (const auto& [id, text] : docs) {
    terms[id] = AnalyzeText(text);
    total += static_cast<double>(terms[id].size());
  }
  const double n = static_cast<double>(docs.size());
  const double avg = std::max(1.0, total / n);
  std::map<int64_t, double> scores;
  for (const std::string& q : AnalyzeText(query)) {
    double df = 0;
    for (const auto& [id, t] : terms) df += std::count(t.begin(), t.end(), q) > 0;
    if (df == 0) continue;
    const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
    for (const auto& [id, t] : terms) {
      const double tf = static_cast<double>(std::count(t.begin(), t.end(), q));
      if (tf == 0) continue;
      const double len = static_cast<double>(t.size());
      scores[id] += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len / avg));
    }
  }
  return scores;
}

struct TextFixture {
  TempDir dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  std::map<int64_t, std::string> texts;  // what is stored, by id

  void Open() {
    auto db_or = Database::Open({}, dir.Sub("db"));
    ASSERT_TRUE(db_or.ok()) << db_or.status();
    db = std::move(db_or).value();
    Create();
  }
  void Create() {
    CollectionSchema schema;
    schema.text_index = true;
    auto c_or = db->GetOrCreateCollection("t", schema);
    ASSERT_TRUE(c_or.ok()) << c_or.status();
    c = *c_or;
  }
  void Reopen() {
    c.reset();
    ASSERT_OK(db->Close());
    db.reset();
    Open();
  }
  // Random texts over a small vocabulary, so terms repeat across documents.
  void AddRandom(int first, int count, uint32_t seed) {
    static const char* kWords[] = {"river",  "mountain", "quantum", "bread", "engine",
                                   "garden", "photon",   "valley",  "yeast", "piston",
                                   "the",    "a",        "of",      "北京",  "大学"};
    std::mt19937 rng(seed);
    std::vector<Document> docs;
    for (int i = first; i < first + count; ++i) {
      std::string text;
      const int words = 3 + static_cast<int>(rng() % 20);
      for (int w = 0; w < words; ++w) text += std::string(kWords[rng() % 15]) + " ";
      texts[i] = text;
      docs.push_back({.id = i, .text = text, .metadata = "{\"n\":" + std::to_string(i) + "}"});
    }
    ASSERT_OK(c->Upsert({}, docs));
  }
  void ExpectMatchesOracle(const std::string& q, size_t k = 10, const std::string& filter = "") {
    std::map<int64_t, std::string> visible;
    for (const auto& [id, text] : texts) visible[id] = text;
    std::map<int64_t, double> oracle = OracleBm25(visible, q);
    SearchOptions o{.k = k, .filter = filter, .ranking = Ranking::kText};
    auto hits = c->Search(o, Query::Text(q));
    ASSERT_TRUE(hits.ok()) << hits.status();
    std::vector<std::pair<double, int64_t>> want;
    for (const auto& [id, score] : oracle) {
      if (filter.empty() || id % 2 == 0) want.emplace_back(score, id);
    }
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    ASSERT_EQ(hits->size(), std::min(k, want.size())) << q;
    for (size_t i = 0; i < hits->size(); ++i) {
      const Hit& h = (*hits)[i];
      ASSERT_TRUE(h.text_score.has_value());
      EXPECT_FALSE(h.vector_score.has_value());
      EXPECT_NEAR(h.score, oracle.at(h.id.as_int()), 1e-4) << q << " id " << h.id;
      EXPECT_NEAR(h.score, want[i].first, 1e-4) << q << " rank " << i;
      EXPECT_EQ(h.text, texts.at(h.id.as_int()));
    }
  }
};

TEST(TextSearch, Bm25MatchesOracleThroughWritesAndReopen) {
  TextFixture f;
  f.Open();
  f.AddRandom(0, 300, 1);
  for (const char* q :
       {"river", "quantum photon", "the bread of the valley", "北京大学", "piston"}) {
    f.ExpectMatchesOracle(q);
  }
  // Upserts replace a document's postings, deletes remove them.
  f.AddRandom(100, 50, 2);
  std::vector<Id> gone;
  for (int i = 200; i < 260; ++i) {
    gone.push_back(i);
    f.texts.erase(i);
  }
  ASSERT_OK_AND_ASSIGN(size_t removed, f.c->Delete({}, gone));
  EXPECT_EQ(removed, 60u);
  ASSERT_OK_AND_ASSIGN(removed, f.c->DeleteWhere({}, "n >= 290", ""));
  EXPECT_EQ(removed, 10u);
  for (int i = 290; i < 300; ++i) f.texts.erase(i);
  f.ExpectMatchesOracle("river mountain", 20);
  // A failed write (an id already stored) changes no posting.
  EXPECT_EQ(
      f.c->Add({}, std::vector<Document>{{.id = 1000, .text = "zebra"}, {.id = 5, .text = "zebra"}})
          .code(),
      StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(auto none, f.c->Search({.ranking = Ranking::kText}, Query::Text("zebra")));
  EXPECT_TRUE(none.empty());
  f.Reopen();
  f.ExpectMatchesOracle("quantum yeast engine", 15);
  // With a filter: only even ids (the oracle filters the same way).
  f.ExpectMatchesOracle("garden valley", 10, "n % 2 == 0");
}

TEST(TextSearch, DropRemovesPostings) {
  TextFixture f;
  f.Open();
  f.AddRandom(0, 20, 3);
  ASSERT_OK(f.db->DropCollection("t"));
  f.texts.clear();
  f.Create();  // same name, new collection
  ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search({.ranking = Ranking::kText}, Query::Text("river")));
  EXPECT_TRUE(hits.empty());
  ASSERT_OK(f.c->Add({}, std::vector<Document>{{.id = 1, .text = "a river runs"}}));
  f.texts[1] = "a river runs";
  f.ExpectMatchesOracle("river");
}

// Hybrid ranking: reciprocal rank fusion of the vector list and the BM25
// list, each hit carrying both component scores when both sides found it.
TEST(TextSearch, HybridFusesBothLists) {
  TextFixture f;
  f.Open();
  f.AddRandom(0, 200, 4);
  const std::string q = "quantum photon engine";
  SearchOptions vector_only{.k = 100, .mode = SearchMode::kExact, .with_text = false};
  ASSERT_OK_AND_ASSIGN(auto vhits, f.c->Search(vector_only, Query::Text(q)));
  ASSERT_OK_AND_ASSIGN(auto thits,
                       f.c->Search({.k = 100, .ranking = Ranking::kText}, Query::Text(q)));
  std::map<int64_t, double> rrf;
  for (size_t i = 0; i < vhits.size(); ++i) rrf[vhits[i].id.as_int()] += 1.0 / (60 + i + 1);
  for (size_t i = 0; i < thits.size(); ++i) rrf[thits[i].id.as_int()] += 1.0 / (60 + i + 1);
  std::vector<std::pair<double, int64_t>> want;
  for (const auto& [id, s] : rrf) want.emplace_back(s, id);
  std::sort(want.rbegin(), want.rend());
  SearchOptions o{.k = 10, .mode = SearchMode::kExact, .ranking = Ranking::kHybrid};
  SearchStats stats;
  o.stats = &stats;
  ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search(o, Query::Text(q)));
  ASSERT_EQ(hits.size(), 10u);
  EXPECT_EQ(stats.strategy, "hybrid+exact");
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_NEAR(hits[i].score, want[i].first, 1e-6) << i;
    EXPECT_TRUE(hits[i].vector_score.has_value() || hits[i].text_score.has_value());
  }
  // Weighted: text_weight 1 ranks by BM25 alone.
  o.fusion = Fusion::kWeighted;
  o.text_weight = 1;
  ASSERT_OK_AND_ASSIGN(hits, f.c->Search(o, Query::Text(q)));
  for (size_t i = 0; i < hits.size(); ++i) {
    ASSERT_TRUE(hits[i].text_score.has_value());
    EXPECT_NEAR(hits[i].score, 2 / M_PI * std::atan(*hits[i].text_score), 1e-6);
    EXPECT_NEAR(*hits[i].text_score, thits[i].score, 1e-5);
  }
  // Separate keywords, and a vector query with keywords.
  o = SearchOptions{.k = 5, .ranking = Ranking::kHybrid, .keywords = "yeast"};
  ASSERT_OK_AND_ASSIGN(hits, f.c->Search(o, Query::Text("bread")));
  EXPECT_EQ(hits.size(), 5u);
}

TEST(TextSearch, ErrorsNameTheProblem) {
  TextFixture f;
  f.Open();
  f.AddRandom(0, 10, 5);
  auto r = f.c->Search({.ranking = Ranking::kText}, Query::Text("..."));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = f.c->Search({.ranking = Ranking::kText}, Query::Vector({}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = f.c->Search({.keywords = "river"}, Query::Text("river"));
  EXPECT_NE(r.status().message().find("ranking"), std::string::npos) << r.status();
  r = f.c->Search({.group_by = "n", .ranking = Ranking::kHybrid}, Query::Text("river"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = f.c->Search({.ranking = Ranking::kHybrid, .rrf_k = 0}, Query::Text("river"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // A collection without a text index.
  ASSERT_OK_AND_ASSIGN(auto plain, f.db->CreateCollection("plain", {}));
  ASSERT_OK(plain->Add({}, std::vector<Document>{{.id = 1, .text = "river"}}));
  r = plain->Search({.ranking = Ranking::kText}, Query::Text("river"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("text index"), std::string::npos) << r.status();
  // GetOrCreate with a different text_index setting names it.
  auto mismatch = f.db->GetOrCreateCollection("plain", CollectionSchema{.text_index = true});
  EXPECT_NE(mismatch.status().message().find("text_index"), std::string::npos);
}

}  // namespace
}  // namespace flashembed
