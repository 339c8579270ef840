// SearchOptions::reranker: the first stage's best rerank_depth hits (or
// documents' passages) are rescored by a cross-encoder and reordered. The
// reranker is a tiny random BERT cross-encoder fixture, so its scores mean
// nothing; what is checked is that they are the model's scores of exactly
// those texts (Reranker::ScorePairs, itself checked against PyTorch in
// tests/encoders/cross_encoder_test.cc) and that the order follows them.
#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include "query/database.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

const std::string kReranker = "model:" + std::string(FLASHEMBED_SOURCE_DIR) +
                              "/tests/encoders/testdata/cross_encoder/bert_minilm_f32";

class RerankTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open({}, dir_.Sub("db"));
    ASSERT_OK(db.status());
    db_ = std::move(db).value();
    auto c = db_->CreateCollection("notes", {.text_index = true});
    ASSERT_OK(c.status());
    coll_ = std::move(c).value();
    std::vector<Document> docs;
    const char* texts[] = {
        "Berlin is the capital of Germany and its largest city",
        "The population of Berlin is about 3.7 million people",
        "Paris is the capital of France",
        "Sourdough bread rises with wild yeast",
        "Berlin has many museums and a famous wall",
        "Rome was not built in a day",
        "Germany borders nine countries",
        "Munich is known for its beer festival",
        "The Rhine flows through Germany and the Netherlands",
        "Hamburg has a large port on the Elbe",
    };
    for (int i = 0; i < 10; ++i) docs.push_back({.id = i + 1, .text = texts[i]});
    ASSERT_OK(coll_->Add({}, docs));
    auto reranker = Reranker::Open(kReranker);
    ASSERT_OK(reranker.status());
    reranker_ = std::move(reranker).value();
  }

  // The cross-encoder's score of each hit's text against `query`.
  std::vector<float> Expected(const std::string& query, const std::vector<Hit>& hits) {
    std::vector<std::string> queries(hits.size(), query), passages;
    for (const Hit& h : hits) passages.push_back(h.text);
    auto scores = reranker_->ScorePairs(queries, passages);
    EXPECT_TRUE(scores.ok()) << scores.status();
    std::vector<float> out;
    for (const auto& s : *scores) out.push_back(s.score);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> coll_;
  std::unique_ptr<Reranker> reranker_;
};

TEST_F(RerankTest, ReordersTheFirstStageByTheCrossEncodersScore) {
  const std::string query = "how many people live in Berlin";
  ASSERT_OK_AND_ASSIGN(auto first, coll_->Search({.k = 6}, Query::Text(query)));
  ASSERT_OK_AND_ASSIGN(auto hits, coll_->Search({.k = 4, .reranker = kReranker, .rerank_depth = 6},
                                                Query::Text(query)));
  ASSERT_EQ(hits.size(), 4u);
  // The four best of the first six by the reranker's score, which each hit
  // carries beside its first-stage score.
  std::vector<float> scores = Expected(query, first);
  std::vector<size_t> order(first.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(),
                   [&](size_t a, size_t b) { return scores[a] > scores[b]; });
  for (size_t i = 0; i < hits.size(); ++i) {
    const Hit& want = first[order[i]];
    EXPECT_EQ(hits[i].id, want.id) << i;
    EXPECT_FLOAT_EQ(hits[i].score, want.score) << i;
    ASSERT_TRUE(hits[i].rerank_score.has_value());
    EXPECT_NEAR(*hits[i].rerank_score, scores[order[i]], 1e-6);
    if (i > 0) {
      EXPECT_GE(*hits[i - 1].rerank_score, *hits[i].rerank_score);
    }
  }
  // Hybrid first stage, texts not returned: the same reranking.
  ASSERT_OK_AND_ASSIGN(
      auto hybrid,
      coll_->Search(
          {.k = 3, .with_text = false, .ranking = Ranking::kHybrid, .reranker = kReranker},
          Query::Text(query)));
  ASSERT_EQ(hybrid.size(), 3u);
  for (const Hit& h : hybrid) {
    EXPECT_TRUE(h.text.empty());
    EXPECT_TRUE(h.rerank_score.has_value());
    EXPECT_TRUE(h.vector_score.has_value() || h.text_score.has_value());
  }
}

TEST_F(RerankTest, OnlyTheDepthIsReranked) {
  const std::string query = "capital city";
  ASSERT_OK_AND_ASSIGN(auto first, coll_->Search({.k = 8}, Query::Text(query)));
  ASSERT_OK_AND_ASSIGN(auto hits, coll_->Search({.k = 8, .reranker = kReranker, .rerank_depth = 3},
                                                Query::Text(query)));
  ASSERT_EQ(hits.size(), 8u);
  std::set<std::string> top3, got3;
  for (size_t i = 0; i < 3; ++i) {
    top3.insert(first[i].id.ToString());
    got3.insert(hits[i].id.ToString());
    EXPECT_TRUE(hits[i].rerank_score.has_value());
  }
  EXPECT_EQ(got3, top3);
  for (size_t i = 3; i < 8; ++i) {
    EXPECT_EQ(hits[i].id, first[i].id) << i;
    EXPECT_FALSE(hits[i].rerank_score.has_value()) << i;
  }
}

TEST_F(RerankTest, RefusesWhatItCannotRerank) {
  auto by_vector =
      coll_->Search({.reranker = kReranker}, Query::Vector(std::vector<float>(384, 0.1f)));
  ASSERT_FALSE(by_vector.ok());
  EXPECT_NE(by_vector.status().message().find("needs a query text"), std::string::npos)
      << by_vector.status();
  auto grouped = coll_->Search({.group_by = "lang", .reranker = kReranker}, Query::Text("x"));
  ASSERT_FALSE(grouped.ok());
  EXPECT_NE(grouped.status().message().find("group_by"), std::string::npos) << grouped.status();
  auto deep = coll_->Search({.reranker = kReranker, .rerank_depth = 1001}, Query::Text("x"));
  ASSERT_FALSE(deep.ok());
  EXPECT_NE(deep.status().message().find("rerank_depth"), std::string::npos) << deep.status();
  auto missing = coll_->Search({.reranker = "model:" + dir_.Sub("no_model")}, Query::Text("x"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status();
  // An embedding model is no reranker.
  auto embedder = coll_->Search({.reranker = "model:" + std::string(FLASHEMBED_SOURCE_DIR) +
                                             "/tests/encoders/testdata/bert/mean_norm_f32"},
                                Query::Text("x"));
  ASSERT_FALSE(embedder.ok());
  EXPECT_NE(embedder.status().message().find("not a supported reranker"), std::string::npos)
      << embedder.status();
}

// CollectionSchema::reranker: searches that name none rerank with it,
// "none" turns it off, and it survives a reopen.
TEST_F(RerankTest, ADefaultRerankerIsStoredAndUsed) {
  ASSERT_OK_AND_ASSIGN(auto ranked, db_->CreateCollection("ranked", {.reranker = kReranker}));
  const std::vector<Document> docs = {{.id = 1, .text = "Berlin is a city"},
                                      {.id = 2, .text = "bread needs yeast"},
                                      {.id = 3, .text = "people live in Berlin"}};
  ASSERT_OK(ranked->Add({}, docs));
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, ranked->Describe());
  EXPECT_EQ(info.reranker_spec, reranker_->spec());
  EXPECT_EQ(info.schema.reranker, kReranker);
  ASSERT_OK_AND_ASSIGN(auto hits, ranked->Search({.k = 3}, Query::Text("who lives in Berlin")));
  ASSERT_EQ(hits.size(), 3u);
  for (const Hit& h : hits) EXPECT_TRUE(h.rerank_score.has_value());
  ASSERT_OK_AND_ASSIGN(auto plain,
                       ranked->Search({.k = 3, .reranker = "none"}, Query::Text("Berlin")));
  for (const Hit& h : plain) EXPECT_FALSE(h.rerank_score.has_value());
  ASSERT_OK_AND_ASSIGN(auto deep, ranked->Search({.k = 1, .rerank_depth = 2}, Query::Text("x")));
  EXPECT_TRUE(deep[0].rerank_score.has_value());
  // The default applies where it can: not to a vector query, nor grouped.
  ASSERT_OK_AND_ASSIGN(auto by_vector,
                       ranked->Search({.k = 2}, Query::Vector(std::vector<float>(384, 0.1f))));
  for (const Hit& h : by_vector) EXPECT_FALSE(h.rerank_score.has_value());
  ASSERT_OK_AND_ASSIGN(auto grouped,
                       ranked->Search({.k = 2, .group_by = "lang"}, Query::Text("Berlin")));
  for (const Hit& h : grouped) EXPECT_FALSE(h.rerank_score.has_value());
  // The plain collection has no default: rerank_depth alone is refused.
  auto alone = coll_->Search({.rerank_depth = 2}, Query::Text("x"));
  ASSERT_FALSE(alone.ok());
  EXPECT_NE(alone.status().message().find("has no default"), std::string::npos) << alone.status();
  auto none_depth = ranked->Search({.reranker = "none", .rerank_depth = 2}, Query::Text("x"));
  EXPECT_FALSE(none_depth.ok());
  // Persisted: a reopened database reranks the same way.
  ranked.reset();
  coll_.reset();
  db_.reset();
  auto db = Database::Open({}, dir_.Sub("db"));
  ASSERT_OK(db.status());
  ASSERT_OK_AND_ASSIGN(auto again, (*db)->GetCollection("ranked"));
  ASSERT_OK_AND_ASSIGN(auto reopened, again->Search({.k = 3}, Query::Text("who lives in Berlin")));
  ASSERT_EQ(reopened.size(), hits.size());
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_EQ(reopened[i].id, hits[i].id);
    EXPECT_EQ(reopened[i].rerank_score, hits[i].rerank_score);
  }
  // A bad default is refused at creation.
  auto bad = (*db)->CreateCollection("bad", {.reranker = "model:" + dir_.Sub("no_model")});
  EXPECT_TRUE(bad.status().IsNotFound()) << bad.status();
  auto none = (*db)->CreateCollection("none", {.reranker = "none"});
  EXPECT_TRUE(none.status().IsInvalidArgument()) << none.status();
}

TEST_F(RerankTest, DocumentsAreOrderedByTheirBestRerankedPassage) {
  std::vector<SourceDocument> docs;
  std::string berlin, bread, rivers;
  for (int i = 0; i < 30; ++i) {
    berlin += "Berlin sentence number " + std::to_string(i) + " talks about the city and people. ";
    bread += "Bread sentence number " + std::to_string(i) + " talks about flour and yeast. ";
    rivers += "River sentence number " + std::to_string(i) + " talks about water and boats. ";
  }
  docs.push_back({.id = "berlin", .text = berlin});
  docs.push_back({.id = "bread", .text = bread});
  docs.push_back({.id = "rivers", .text = rivers});
  ASSERT_OK(coll_->PutDocuments({}, {.chunk_tokens = 32}, docs).status());
  DocumentSearchOptions options;
  options.search.k = 3;
  options.passages = 3;
  options.search.reranker = kReranker;
  options.search.rerank_depth = 9;
  const std::string query = "people living in the city";
  ASSERT_OK_AND_ASSIGN(auto found, coll_->SearchDocuments(options, Query::Text(query)));
  ASSERT_EQ(found.size(), 3u);
  for (size_t i = 0; i < found.size(); ++i) {
    const DocumentHit& d = found[i];
    ASSERT_TRUE(d.rerank_score.has_value()) << d.id;
    ASSERT_FALSE(d.passages.empty());
    EXPECT_EQ(*d.rerank_score, *d.passages[0].rerank_score) << d.id;
    if (i > 0) {
      EXPECT_GE(*found[i - 1].rerank_score, *d.rerank_score);
    }
    // Each scored passage's score is the model's score of its text.
    std::vector<Hit> as_hits;
    for (const Passage& p : d.passages) {
      if (p.rerank_score) as_hits.push_back({.text = p.text});
    }
    const std::vector<float> want = Expected(query, as_hits);
    for (size_t j = 0; j < want.size(); ++j) {
      EXPECT_NEAR(*d.passages[j].rerank_score, want[j], 1e-6);
      if (j > 0) {
        EXPECT_GE(*d.passages[j - 1].rerank_score, *d.passages[j].rerank_score);
      }
    }
  }
}

}  // namespace
}  // namespace flashembed
