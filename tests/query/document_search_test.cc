// Document search with every ranking (Collection::SearchDocuments): kText
// and kHybrid against oracles computed here from Search over the chunk
// records (documents by their best chunk, fused with the arithmetic of
// query/ranking.h done independently), kAuto's choice, filters on both
// sides, neighbours, deletes, and the refusals.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "query/database.h"
#include "tests/query/long_text.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::LongText;
using testing::TempDir;

// A chunk as Search returned it.
struct OracleChunk {
  uint32_t ordinal = 0;
  uint64_t begin = 0;
  uint64_t end = 0;
  float score = 0;
  std::string text;
};

// A document of one ranking: its chunks in the ranking's order, best first.
struct OracleDoc {
  std::string id;
  std::vector<OracleChunk> chunks;
  float score() const { return chunks.front().score; }
};

// What SearchDocuments should return for one document.
struct Expected {
  std::string id;
  float score = 0;
  std::optional<float> vector_score;
  std::optional<float> text_score;
  std::vector<OracleChunk> passages;
};

std::string Describe(const std::vector<DocumentHit>& hits) {
  std::string out;
  for (const DocumentHit& h : hits) out += h.id + " " + std::to_string(h.score) + "; ";
  return out;
}

std::vector<std::string> Ids(const std::vector<DocumentHit>& hits) {
  std::vector<std::string> out;
  for (const DocumentHit& h : hits) out.push_back(h.id);
  return out;
}

std::vector<std::string> Ids(const std::vector<OracleDoc>& docs) {
  std::vector<std::string> out;
  for (const OracleDoc& d : docs) out.push_back(d.id);
  return out;
}

void ExpectSameHits(const std::vector<DocumentHit>& actual, const std::vector<Expected>& expected,
                    const std::string& what) {
  ASSERT_EQ(actual.size(), expected.size()) << what << ": " << Describe(actual);
  for (size_t i = 0; i < actual.size(); ++i) {
    const DocumentHit& a = actual[i];
    const Expected& e = expected[i];
    EXPECT_EQ(a.id, e.id) << what << " #" << i << ": " << Describe(actual);
    EXPECT_FLOAT_EQ(a.score, e.score) << what << " " << a.id;
    EXPECT_EQ(a.vector_score.has_value(), e.vector_score.has_value()) << what << " " << a.id;
    if (a.vector_score && e.vector_score) {
      EXPECT_FLOAT_EQ(*a.vector_score, *e.vector_score) << what << " " << a.id;
    }
    EXPECT_EQ(a.text_score.has_value(), e.text_score.has_value()) << what << " " << a.id;
    if (a.text_score && e.text_score) {
      EXPECT_FLOAT_EQ(*a.text_score, *e.text_score) << what << " " << a.id;
    }
    ASSERT_EQ(a.passages.size(), e.passages.size()) << what << " " << a.id;
    for (size_t p = 0; p < a.passages.size(); ++p) {
      EXPECT_EQ(a.passages[p].ordinal, e.passages[p].ordinal) << what << " " << a.id << " #" << p;
      EXPECT_EQ(a.passages[p].begin, e.passages[p].begin) << what << " " << a.id;
      EXPECT_EQ(a.passages[p].end, e.passages[p].end) << what << " " << a.id;
      EXPECT_FLOAT_EQ(a.passages[p].score, e.passages[p].score) << what << " " << a.id;
      EXPECT_EQ(a.passages[p].text, e.passages[p].text) << what << " " << a.id;
    }
  }
}

// Equal results, field by field (two searches that must agree).
void ExpectSameHits(const std::vector<DocumentHit>& a, const std::vector<DocumentHit>& b,
                    const std::string& what) {
  std::vector<Expected> expected;
  for (const DocumentHit& h : b) {
    Expected e{
        .id = h.id, .score = h.score, .vector_score = h.vector_score, .text_score = h.text_score};
    for (const Passage& p : h.passages) {
      e.passages.push_back({p.ordinal, p.begin, p.end, p.score, p.text});
    }
    expected.push_back(std::move(e));
  }
  ExpectSameHits(a, expected, what);
}

// One ranking's documents from its chunk hits (best first): documents in the
// order of their best chunk (MaxP).
std::vector<OracleDoc> GroupByDocument(const std::vector<Hit>& hits) {
  std::vector<OracleDoc> docs;
  std::map<std::string, size_t> index;
  for (const Hit& h : hits) {
    const nlohmann::json meta = nlohmann::json::parse(h.metadata);
    const std::string id = meta["doc"]["id"];
    auto [it, fresh] = index.emplace(id, docs.size());
    if (fresh) docs.push_back({id, {}});
    docs[it->second].chunks.push_back({meta["chunk"]["n"].get<uint32_t>(),
                                       meta["chunk"]["begin"].get<uint64_t>(),
                                       meta["chunk"]["end"].get<uint64_t>(), h.score, h.text});
  }
  return docs;
}

// The best `k` documents of one ranking, each with its best `passages`
// chunks (kVector or kText results).
std::vector<Expected> Single(const std::vector<OracleDoc>& docs, Ranking ranking, size_t k,
                             size_t passages) {
  std::vector<Expected> out;
  for (size_t i = 0; i < docs.size() && i < k; ++i) {
    Expected e{.id = docs[i].id, .score = docs[i].score()};
    if (ranking == Ranking::kText) e.text_score = e.score;
    for (size_t p = 0; p < docs[i].chunks.size() && p < passages; ++p) {
      e.passages.push_back(docs[i].chunks[p]);
    }
    out.push_back(std::move(e));
  }
  return out;
}

struct FusionSpec {
  Fusion fusion = Fusion::kRrf;
  int rrf_k = 60;
  float text_weight = 0.5f;
};

// The fusion of two ranked lists of keys, as database.h describes it: a
// key's score is what the vector list gives it, then what the text list
// gives it, each rounded to float; best first, ties by `order`.
template <typename Key>
std::vector<std::pair<Key, float>> FuseLists(const std::vector<std::pair<Key, float>>& vec,
                                             const std::vector<std::pair<Key, float>>& text,
                                             const FusionSpec& spec,
                                             const std::map<Key, size_t>& order) {
  std::map<Key, float> score;
  auto add = [&](const std::vector<std::pair<Key, float>>& list, double weight) {
    double lo = 0, hi = 0;
    for (size_t i = 0; i < list.size(); ++i) {
      lo = i == 0 ? list[i].second : std::min<double>(lo, list[i].second);
      hi = i == 0 ? list[i].second : std::max<double>(hi, list[i].second);
    }
    for (size_t i = 0; i < list.size(); ++i) {
      double term = 0;
      if (spec.fusion == Fusion::kRrf) {
        term = 1.0 / (spec.rrf_k + static_cast<double>(i + 1));
      } else {
        ASSERT_EQ(spec.fusion, Fusion::kNormalized);
        term = weight * (hi > lo ? (list[i].second - lo) / (hi - lo) : 1.0);
      }
      score[list[i].first] += static_cast<float>(term);
    }
  };
  add(vec, 1.0 - double{spec.text_weight});
  add(text, double{spec.text_weight});
  std::vector<std::pair<Key, float>> out(score.begin(), score.end());
  std::sort(out.begin(), out.end(), [&](const auto& a, const auto& b) {
    return a.second != b.second ? a.second > b.second : order.at(a.first) < order.at(b.first);
  });
  return out;
}

// kHybrid: the two document lists (each max(5k, 50) deep) fused; a
// document's passages are the chunks either side chose for it (its best
// `passages` on each side), ordered by the fusion of the two chunk lists.
std::vector<Expected> Hybrid(const std::vector<OracleDoc>& vec_all,
                             const std::vector<OracleDoc>& text_all, const FusionSpec& spec,
                             size_t k, size_t passages) {
  const size_t depth = std::max<size_t>(5 * k, 50);
  const std::vector<OracleDoc> vec(vec_all.begin(),
                                   vec_all.begin() + std::min(depth, vec_all.size()));
  const std::vector<OracleDoc> text(text_all.begin(),
                                    text_all.begin() + std::min(depth, text_all.size()));
  // Ties: documents in the order they were first seen, vector list first.
  std::map<std::string, size_t> order;
  for (const auto* list : {&vec, &text}) {
    for (const OracleDoc& d : *list) order.emplace(d.id, order.size());
  }
  std::vector<std::pair<std::string, float>> vec_docs, text_docs;
  for (const OracleDoc& d : vec) vec_docs.push_back({d.id, d.score()});
  for (const OracleDoc& d : text) text_docs.push_back({d.id, d.score()});
  const auto fused_docs = FuseLists(vec_docs, text_docs, spec, order);

  // Chunk lists: each side's chosen chunks, best first (stable).
  using ChunkKey = std::pair<std::string, uint32_t>;
  std::map<ChunkKey, OracleChunk> chunk_of;
  std::map<ChunkKey, size_t> chunk_order;  // ties within a document: lower ordinal
  auto chunk_list = [&](const std::vector<OracleDoc>& docs) {
    std::vector<std::pair<ChunkKey, float>> out;
    for (const OracleDoc& d : docs) {
      for (size_t p = 0; p < d.chunks.size() && p < passages; ++p) {
        const ChunkKey key{d.id, d.chunks[p].ordinal};
        chunk_of.emplace(key, d.chunks[p]);
        out.push_back({key, d.chunks[p].score});
      }
    }
    std::stable_sort(out.begin(), out.end(),
                     [](const auto& a, const auto& b) { return a.second > b.second; });
    return out;
  };
  const auto vec_chunks = chunk_list(vec);
  const auto text_chunks = chunk_list(text);
  for (const auto& [key, chunk] : chunk_of) chunk_order.emplace(key, chunk_order.size());
  const auto fused_chunks = FuseLists(vec_chunks, text_chunks, spec, chunk_order);

  auto score_in = [](const std::vector<OracleDoc>& docs,
                     const std::string& id) -> std::optional<float> {
    for (const OracleDoc& d : docs) {
      if (d.id == id) return d.score();
    }
    return std::nullopt;
  };
  std::vector<Expected> out;
  for (size_t i = 0; i < fused_docs.size() && i < k; ++i) {
    const std::string& id = fused_docs[i].first;
    Expected e{.id = id,
               .score = fused_docs[i].second,
               .vector_score = score_in(vec, id),
               .text_score = score_in(text, id)};
    for (const auto& [key, score] : fused_chunks) {
      if (key.first != id || e.passages.size() >= passages) continue;
      e.passages.push_back(chunk_of.at(key));
      e.passages.back().score = score;
    }
    out.push_back(std::move(e));
  }
  return out;
}

constexpr const char* kQuery = "quokka harbor lantern";

class DocumentSearchTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, Database::Open({}, dir_.Sub("db")));
    // Flat index: the vector side is exact, as the oracle's.
    ASSERT_OK_AND_ASSIGN(
        kb_, db_->CreateCollection("kb", {.index = IndexKind::kFlat, .text_index = true}));
    ASSERT_OK_AND_ASSIGN(plain_, db_->CreateCollection("plain", {.index = IndexKind::kFlat}));
    // Generated texts over 24 common words (harbor and lantern among them),
    // "quokka" (rare, so BM25 weighs it) planted in two of them, one text
    // that is mostly "harbor lantern" (which the hashing vectors favour),
    // and one without any query word.
    for (uint32_t i = 0; i < 8; ++i) {
      std::string text = LongText(200 + i, 120 + 45 * i);
      if (i == 3 || i == 6) {
        const size_t at = text.find(". ", text.size() / 2) + 2;
        text.insert(at, i == 3 ? "A quokka smiled. " : "The quokka and another quokka swam. ");
      }
      texts_["d" + std::to_string(i)] = text;
    }
    texts_["dense"] =
        "Harbor lantern. The harbor lantern glows over the harbor. Lantern, harbor, lantern.";
    texts_["other"] = "Sourdough bread needs a lively starter, warm water and patience.";
    std::vector<SourceDocument> docs;
    size_t n = 0;
    for (const auto& [id, text] : texts_) {
      docs.push_back(
          {.id = id,
           .text = text,
           .title = "Title " + id,
           .metadata = std::string(R"({"group":")") + (n++ % 2 == 0 ? "a" : "b") + "\"}"});
    }
    for (Collection* c : {kb_.get(), plain_.get()}) {
      auto put = c->PutDocuments({}, {.chunk_tokens = 40}, docs);
      ASSERT_TRUE(put.ok()) << put.status();
    }
    ASSERT_GT(kb_->Count().value(), 2 * texts_.size()) << "documents of several chunks";
  }

  // Search over the chunk records, grouped by document.
  std::vector<OracleDoc> Chunks(Collection& c, Ranking ranking, const Query& query,
                                const std::string& keywords = "", const std::string& filter = "") {
    SearchOptions o;
    o.k = 16384;
    o.ranking = ranking;
    o.mode = SearchMode::kExact;
    o.keywords = keywords;
    o.filter = filter;
    auto hits = c.Search(o, query);
    EXPECT_TRUE(hits.ok()) << hits.status();
    return hits.ok() ? GroupByDocument(*hits) : std::vector<OracleDoc>{};
  }

  Result<std::vector<DocumentHit>> Run(Collection& c, Ranking ranking, const Query& query, size_t k,
                                       size_t passages = 1, const FusionSpec& spec = {}) {
    DocumentSearchOptions o;
    o.search.ranking = ranking;
    o.search.k = k;
    o.search.fusion = spec.fusion;
    o.search.rrf_k = spec.rrf_k;
    o.search.text_weight = spec.text_weight;
    o.passages = passages;
    return c.SearchDocuments(o, query);
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> kb_;     // with a text index
  std::shared_ptr<Collection> plain_;  // the same documents, without one
  std::map<std::string, std::string> texts_;
};

TEST_F(DocumentSearchTest, TextRanksDocumentsByTheirBestChunk) {
  const std::vector<OracleDoc> text = Chunks(*kb_, Ranking::kText, Query::Text(kQuery));
  const std::vector<OracleDoc> vec = Chunks(*kb_, Ranking::kVector, Query::Text(kQuery));
  // The corpus is what the test needs: the rankings disagree, BM25 puts the
  // quokka documents first, "other" has no query word.
  ASSERT_NE(Ids(text), Ids(vec));
  ASSERT_GE(text.size(), 3u);
  EXPECT_EQ((std::set<std::string>{text[0].id, text[1].id}), (std::set<std::string>{"d3", "d6"}));
  EXPECT_EQ(vec[0].id, "dense");
  EXPECT_EQ(text.size(), texts_.size() - 1);
  EXPECT_EQ(vec.size(), texts_.size());

  for (size_t k : {size_t{1}, size_t{3}, texts_.size()}) {
    for (size_t passages : {size_t{1}, size_t{3}}) {
      const std::string what = "k " + std::to_string(k) + " passages " + std::to_string(passages);
      ASSERT_OK_AND_ASSIGN(auto hits, Run(*kb_, Ranking::kText, Query::Text(kQuery), k, passages));
      ExpectSameHits(hits, Single(text, Ranking::kText, k, passages), "text " + what);
      ASSERT_OK_AND_ASSIGN(hits, Run(*kb_, Ranking::kVector, Query::Text(kQuery), k, passages));
      ExpectSameHits(hits, Single(vec, Ranking::kVector, k, passages), "vector " + what);
    }
  }

  // Passages are the documents' own bytes, with the document's fields.
  ASSERT_OK_AND_ASSIGN(auto hits, Run(*kb_, Ranking::kText, Query::Text(kQuery), 20, 64));
  for (const DocumentHit& h : hits) {
    const std::string& full = texts_.at(h.id);
    EXPECT_EQ(h.title, "Title " + h.id);
    EXPECT_NE(h.metadata.find("group"), std::string::npos) << h.metadata;
    ASSERT_FALSE(h.passages.empty());
    EXPECT_EQ(h.score, h.passages[0].score);
    EXPECT_EQ(h.text_score, h.score);
    EXPECT_FALSE(h.vector_score.has_value());
    for (const Passage& p : h.passages) {
      ASSERT_LE(p.end, full.size());
      EXPECT_EQ(p.text, full.substr(p.begin, p.end - p.begin)) << h.id << " #" << p.ordinal;
      EXPECT_GT(p.score, 0.0f);
    }
  }
  // "quokka" alone: only the two documents that hold it, d6 (twice) first.
  ASSERT_OK_AND_ASSIGN(hits, Run(*kb_, Ranking::kText, Query::Text("quokka"), 10, 5));
  ASSERT_EQ(Ids(hits), (std::vector<std::string>{"d6", "d3"}));
  for (const DocumentHit& h : hits) {
    for (const Passage& p : h.passages) {
      EXPECT_NE(p.text.find("quokka"), std::string::npos) << "only matching chunks are passages";
    }
  }

  // Keywords instead of the query text; a vector query with keywords.
  DocumentSearchOptions o;
  o.search.ranking = Ranking::kText;
  o.search.keywords = "quokka";
  o.passages = 5;
  ASSERT_OK_AND_ASSIGN(auto by_keywords, kb_->SearchDocuments(o, Query::Text("garden")));
  ExpectSameHits(by_keywords, hits, "keywords");
  ASSERT_OK_AND_ASSIGN(auto model, TextModel::Open("hash"));
  ASSERT_OK_AND_ASSIGN(auto v, model->Embed({"garden"}));
  ASSERT_OK_AND_ASSIGN(by_keywords, kb_->SearchDocuments(o, Query::Vector(v)));
  ExpectSameHits(by_keywords, hits, "keywords with a vector query");
  // Without text or passage texts.
  o.search.with_text = false;
  ASSERT_OK_AND_ASSIGN(by_keywords, kb_->SearchDocuments(o, Query::Text("x")));
  ASSERT_EQ(by_keywords.size(), 2u);
  EXPECT_TRUE(by_keywords[0].passages[0].text.empty());
  EXPECT_EQ(by_keywords[0].passages[0].begin, hits[0].passages[0].begin);
  // A word no document holds: nothing.
  ASSERT_OK_AND_ASSIGN(hits, Run(*kb_, Ranking::kText, Query::Text("zeppelin"), 10));
  EXPECT_TRUE(hits.empty()) << Describe(hits);
}

TEST_F(DocumentSearchTest, HybridFusesTheTwoDocumentRankings) {
  const std::vector<OracleDoc> text = Chunks(*kb_, Ranking::kText, Query::Text(kQuery));
  const std::vector<OracleDoc> vec = Chunks(*kb_, Ranking::kVector, Query::Text(kQuery));
  const std::vector<FusionSpec> specs = {
      {},
      {.fusion = Fusion::kRrf, .rrf_k = 1},
      {.fusion = Fusion::kNormalized, .text_weight = 0.5f},
      {.fusion = Fusion::kNormalized, .text_weight = 0.8f},
      {.fusion = Fusion::kNormalized, .text_weight = 0.0f},
  };
  for (const FusionSpec& spec : specs) {
    for (size_t k : {size_t{1}, size_t{4}, texts_.size()}) {
      for (size_t passages : {size_t{1}, size_t{2}}) {
        const std::string what = "fusion " + std::to_string(static_cast<int>(spec.fusion)) +
                                 " rrf_k " + std::to_string(spec.rrf_k) + " weight " +
                                 std::to_string(spec.text_weight) + " k " + std::to_string(k) +
                                 " passages " + std::to_string(passages);
        ASSERT_OK_AND_ASSIGN(auto hits,
                             Run(*kb_, Ranking::kHybrid, Query::Text(kQuery), k, passages, spec));
        ExpectSameHits(hits, Hybrid(vec, text, spec, k, passages), what);
      }
    }
  }
  // Every document once; "other" (no query word) only by its vector, last
  // or nearly so, without a text score.
  ASSERT_OK_AND_ASSIGN(auto all, Run(*kb_, Ranking::kHybrid, Query::Text(kQuery), 20));
  ASSERT_EQ(all.size(), texts_.size());
  // ... in an order of its own.
  const std::vector<std::string> fused_ids = Ids(all), text_ids = Ids(text);
  EXPECT_NE(fused_ids, Ids(vec));
  EXPECT_FALSE(std::equal(text_ids.begin(), text_ids.end(), fused_ids.begin()));
  std::set<std::string> seen;
  for (const DocumentHit& h : all) {
    EXPECT_TRUE(seen.insert(h.id).second) << h.id;
    EXPECT_TRUE(h.vector_score.has_value()) << h.id;
    EXPECT_EQ(h.text_score.has_value(), h.id != "other") << h.id;
  }
  // At text_weight 0 (normalised) the vector order comes back, at 1 the
  // text order (its last document and the vector-only one both score 0).
  ASSERT_OK_AND_ASSIGN(all, Run(*kb_, Ranking::kHybrid, Query::Text(kQuery), 20, 1,
                                {.fusion = Fusion::kNormalized, .text_weight = 0.0f}));
  EXPECT_EQ(Ids(all), Ids(vec));
  ASSERT_OK_AND_ASSIGN(all, Run(*kb_, Ranking::kHybrid, Query::Text(kQuery), 20, 1,
                                {.fusion = Fusion::kNormalized, .text_weight = 1.0f}));
  ASSERT_EQ(all.size(), text.size() + 1);
  for (size_t i = 0; i + 1 < text.size(); ++i) EXPECT_EQ(all[i].id, text[i].id) << i;
  EXPECT_EQ(all.back().score, 0.0f);

  // Keywords for the text side, the query text for the vector side.
  DocumentSearchOptions o;
  o.search.ranking = Ranking::kHybrid;
  o.search.keywords = "quokka";
  o.search.k = 5;
  o.passages = 2;
  ASSERT_OK_AND_ASSIGN(all, kb_->SearchDocuments(o, Query::Text("harbor lantern")));
  ExpectSameHits(
      all,
      Hybrid(Chunks(*kb_, Ranking::kVector, Query::Text("harbor lantern")),
             Chunks(*kb_, Ranking::kText, Query::Text("harbor lantern"), "quokka"),
             {.fusion = Fusion::kNormalized, .text_weight = 0.8f}, 5, 2),  // the defaults
      "hybrid with keywords");

  // The search's strategy is reported.
  SearchStats stats;
  o.search.stats = &stats;
  ASSERT_OK(kb_->SearchDocuments(o, Query::Text(kQuery)).status());
  EXPECT_EQ(stats.strategy.rfind("hybrid+", 0), 0u) << stats.strategy;
  o.search.ranking = Ranking::kText;
  ASSERT_OK(kb_->SearchDocuments(o, Query::Text(kQuery)).status());
  EXPECT_EQ(stats.strategy, "text");
}

TEST_F(DocumentSearchTest, AutoIsHybridWithATextIndexAndATextQuery) {
  DocumentSearchOptions defaults;
  EXPECT_EQ(defaults.search.ranking, Ranking::kAuto);
  for (size_t passages : {size_t{1}, size_t{3}}) {
    DocumentSearchOptions o;
    o.passages = passages;
    o.neighbors = 1;
    ASSERT_OK_AND_ASSIGN(auto automatic, kb_->SearchDocuments(o, Query::Text(kQuery)));
    o.search.ranking = Ranking::kHybrid;
    ASSERT_OK_AND_ASSIGN(auto hybrid, kb_->SearchDocuments(o, Query::Text(kQuery)));
    ExpectSameHits(automatic, hybrid, "auto = hybrid");
    EXPECT_TRUE(automatic[0].text_score.has_value());

    // Without a text index: by vector.
    o.search.ranking = Ranking::kAuto;
    ASSERT_OK_AND_ASSIGN(automatic, plain_->SearchDocuments(o, Query::Text(kQuery)));
    o.search.ranking = Ranking::kVector;
    ASSERT_OK_AND_ASSIGN(auto vector, plain_->SearchDocuments(o, Query::Text(kQuery)));
    ExpectSameHits(automatic, vector, "auto without a text index");
    // ... which ranks as the collection with one does by vector.
    ASSERT_OK_AND_ASSIGN(auto kb_vector, kb_->SearchDocuments(o, Query::Text(kQuery)));
    ExpectSameHits(vector, kb_vector, "the same documents by vector");
    for (const DocumentHit& h : vector) {
      EXPECT_FALSE(h.vector_score.has_value() || h.text_score.has_value()) << h.id;
    }
  }

  // A vector query: by vector (there are no words for BM25).
  ASSERT_OK_AND_ASSIGN(auto model, TextModel::Open("hash"));
  ASSERT_OK_AND_ASSIGN(auto v, model->Embed({kQuery}));
  DocumentSearchOptions o;
  o.search.k = 20;
  ASSERT_OK_AND_ASSIGN(auto automatic, kb_->SearchDocuments(o, Query::Vector(v)));
  o.search.ranking = Ranking::kVector;
  ASSERT_OK_AND_ASSIGN(auto vector, kb_->SearchDocuments(o, Query::Vector(v)));
  ExpectSameHits(automatic, vector, "auto with a vector query");
  ASSERT_OK_AND_ASSIGN(auto by_text, kb_->SearchDocuments(o, Query::Text(kQuery)));
  ExpectSameHits(by_text, vector, "the query text embeds as the vector");

  // A score range: by vector, within the range.
  o.search.ranking = Ranking::kAuto;
  o.search.min_score = 0.2f;
  ASSERT_OK_AND_ASSIGN(automatic, kb_->SearchDocuments(o, Query::Text(kQuery)));
  o.search.ranking = Ranking::kVector;
  ASSERT_OK_AND_ASSIGN(vector, kb_->SearchDocuments(o, Query::Text(kQuery)));
  ExpectSameHits(automatic, vector, "auto with min_score");
  ASSERT_FALSE(automatic.empty());
  ASSERT_LT(automatic.size(), texts_.size()) << "the range leaves some documents out";
  for (const DocumentHit& h : automatic) EXPECT_GE(h.score, 0.2f) << h.id;

  // Pooled: by vector.
  o = {};
  o.pooled = true;
  ASSERT_OK_AND_ASSIGN(automatic, kb_->SearchDocuments(o, Query::Text(kQuery)));
  o.search.ranking = Ranking::kVector;
  ASSERT_OK_AND_ASSIGN(vector, kb_->SearchDocuments(o, Query::Text(kQuery)));
  ExpectSameHits(automatic, vector, "auto pooled");

  // Keywords with auto on a collection with a text index: hybrid.
  o = {};
  o.search.keywords = "quokka";
  ASSERT_OK_AND_ASSIGN(automatic, kb_->SearchDocuments(o, Query::Text("harbor lantern")));
  o.search.ranking = Ranking::kHybrid;
  ASSERT_OK_AND_ASSIGN(auto hybrid, kb_->SearchDocuments(o, Query::Text("harbor lantern")));
  ExpectSameHits(automatic, hybrid, "auto with keywords");

  // A text without words BM25 can match: by vector, not an error.
  o = {};
  ASSERT_OK_AND_ASSIGN(automatic, kb_->SearchDocuments(o, Query::Text("!!!")));
  o.search.ranking = Ranking::kVector;
  ASSERT_OK_AND_ASSIGN(vector, kb_->SearchDocuments(o, Query::Text("!!!")));
  ExpectSameHits(automatic, vector, "auto with no words to match");
  EXPECT_FALSE(automatic.empty());
  o.search.ranking = Ranking::kHybrid;
  EXPECT_FALSE(kb_->SearchDocuments(o, Query::Text("!!!")).ok()) << "hybrid asked for explicitly";
}

TEST_F(DocumentSearchTest, FilterAppliesToBothSides) {
  const std::string filter = R"(group == "a")";
  std::set<std::string> in_a;
  for (const auto& [id, chunks] : texts_) {
    ASSERT_OK_AND_ASSIGN(DocumentInfo info, kb_->GetDocument(id, false));
    if (info.metadata.find(R"("a")") != std::string::npos) in_a.insert(id);
  }
  ASSERT_GE(in_a.size(), 3u);
  ASSERT_LT(in_a.size(), texts_.size());
  const auto vec = Chunks(*kb_, Ranking::kVector, Query::Text(kQuery), "", filter);
  const auto text = Chunks(*kb_, Ranking::kText, Query::Text(kQuery), "", filter);
  for (const auto* list : {&vec, &text}) {
    for (const OracleDoc& d : *list) EXPECT_TRUE(in_a.contains(d.id)) << d.id;
  }
  for (Ranking ranking : {Ranking::kText, Ranking::kHybrid, Ranking::kVector}) {
    for (Fusion fusion : {Fusion::kRrf, Fusion::kNormalized}) {
      DocumentSearchOptions o;
      o.search.ranking = ranking;
      o.search.fusion = fusion;
      o.search.k = 3;
      o.search.filter = filter;
      o.passages = 2;
      ASSERT_OK_AND_ASSIGN(auto hits, kb_->SearchDocuments(o, Query::Text(kQuery)));
      const FusionSpec spec{.fusion = fusion, .text_weight = o.search.text_weight};
      ExpectSameHits(hits,
                     ranking == Ranking::kHybrid
                         ? Hybrid(vec, text, spec, 3, 2)
                         : Single(ranking == Ranking::kText ? text : vec, ranking, 3, 2),
                     "filtered " + std::to_string(static_cast<int>(ranking)));
      ASSERT_EQ(hits.size(), 3u);
      for (const DocumentHit& h : hits) EXPECT_TRUE(in_a.contains(h.id)) << h.id;
    }
  }
  // A filter on the document id: the quokka documents are gone from BM25's
  // side, which still finds the others.
  DocumentSearchOptions o;
  o.search.ranking = Ranking::kText;
  o.search.filter = R"(doc["id"] not in ["d3", "d6"])";
  ASSERT_OK_AND_ASSIGN(auto hits, kb_->SearchDocuments(o, Query::Text(kQuery)));
  ASSERT_FALSE(hits.empty());
  for (const DocumentHit& h : hits) EXPECT_TRUE(h.id != "d3" && h.id != "d6") << h.id;
  ASSERT_OK_AND_ASSIGN(hits, kb_->SearchDocuments(o, Query::Text("quokka")));
  EXPECT_TRUE(hits.empty()) << Describe(hits);
}

TEST_F(DocumentSearchTest, NeighborsAndDeletedDocuments) {
  for (Ranking ranking : {Ranking::kText, Ranking::kHybrid}) {
    DocumentSearchOptions o;
    o.search.ranking = ranking;
    o.search.k = 20;
    o.passages = 2;
    o.neighbors = 2;
    ASSERT_OK_AND_ASSIGN(auto hits, kb_->SearchDocuments(o, Query::Text(kQuery)));
    ASSERT_FALSE(hits.empty());
    size_t with_neighbors = 0;
    for (const DocumentHit& h : hits) {
      const std::string& full = texts_.at(h.id);
      ASSERT_OK_AND_ASSIGN(DocumentInfo info, kb_->GetDocument(h.id, false));
      const size_t chunks = info.chunks.size();
      for (const Passage& p : h.passages) {
        EXPECT_EQ(p.begin, info.chunks[p.ordinal].begin);
        EXPECT_EQ(p.end, info.chunks[p.ordinal].end);
        // Up to two chunks on each side, nearest last / first.
        ASSERT_EQ(p.before.size(), std::min<size_t>(p.ordinal, 2)) << h.id << " " << p.ordinal;
        ASSERT_EQ(p.after.size(), std::min<size_t>(chunks - 1 - p.ordinal, 2)) << h.id;
        for (size_t j = 0; j < p.before.size(); ++j) {
          EXPECT_EQ(p.before[j].ordinal + p.before.size() - j, p.ordinal);
        }
        for (size_t j = 0; j < p.after.size(); ++j) {
          EXPECT_EQ(p.after[j].ordinal, p.ordinal + 1 + j);
        }
        for (const auto* side : {&p.before, &p.after}) {
          for (const Passage& n : *side) {
            EXPECT_EQ(n.score, 0.0f);
            EXPECT_EQ(n.text, full.substr(n.begin, n.end - n.begin));
            ++with_neighbors;
          }
        }
      }
    }
    EXPECT_GT(with_neighbors, 0u);
  }

  // Deleting the best text matches: gone from every ranking, and the rest
  // is what the oracles give without them.
  std::vector<std::string> gone = {"d3", "d6"};
  ASSERT_OK_AND_ASSIGN(size_t deleted, kb_->DeleteDocuments({}, gone));
  ASSERT_EQ(deleted, 2u);
  const auto vec = Chunks(*kb_, Ranking::kVector, Query::Text(kQuery));
  const auto text = Chunks(*kb_, Ranking::kText, Query::Text(kQuery));
  ASSERT_EQ(vec.size(), texts_.size() - 2);
  ASSERT_OK_AND_ASSIGN(auto hits, Run(*kb_, Ranking::kText, Query::Text(kQuery), 20, 2));
  ExpectSameHits(hits, Single(text, Ranking::kText, 20, 2), "text after delete");
  ASSERT_OK_AND_ASSIGN(hits, Run(*kb_, Ranking::kHybrid, Query::Text(kQuery), 20, 2));
  ExpectSameHits(hits, Hybrid(vec, text, {}, 20, 2), "hybrid after delete");
  for (const DocumentHit& h : hits) EXPECT_TRUE(h.id != "d3" && h.id != "d6") << h.id;
  ASSERT_OK_AND_ASSIGN(hits, Run(*kb_, Ranking::kText, Query::Text("quokka"), 20));
  EXPECT_TRUE(hits.empty()) << Describe(hits);
  ASSERT_OK_AND_ASSIGN(hits, Run(*kb_, Ranking::kHybrid, Query::Text("quokka"), 20));
  EXPECT_EQ(hits.size(), texts_.size() - 2);
  for (const DocumentHit& h : hits) EXPECT_FALSE(h.text_score.has_value()) << h.id;

  // A replaced document is ranked by its new chunks only.
  const std::vector<SourceDocument> edited = {
      {.id = "other", .text = "A quokka bakes sourdough bread by the harbor lantern."}};
  ASSERT_OK(kb_->PutDocuments({}, {.chunk_tokens = 40}, edited).status());
  ASSERT_OK_AND_ASSIGN(hits, Run(*kb_, Ranking::kText, Query::Text("quokka"), 20));
  ASSERT_EQ(Ids(hits), std::vector<std::string>{"other"});
  EXPECT_EQ(hits[0].passages[0].text, edited[0].text);
}

TEST_F(DocumentSearchTest, ALongDocumentDoesNotCrowdOutTheOthers) {
  // 150 chunks that all match better than any other document's: BM25 over
  // chunks must read past them to find k documents.
  std::string big;
  for (int i = 0; i < 150; ++i) {
    big += "Harbor harbor harbor lantern harbor. Section " + std::to_string(i) +
           " of the harbor log.\n\n";
  }
  const std::vector<SourceDocument> docs = {{.id = "big", .text = big}};
  ASSERT_OK(kb_->PutDocuments({}, {.chunk_tokens = 16}, docs).status());
  ASSERT_OK_AND_ASSIGN(DocumentInfo info, kb_->GetDocument("big", false));
  ASSERT_GE(info.chunks.size(), 100u);
  SearchOptions first;
  first.k = 64;
  first.ranking = Ranking::kText;
  ASSERT_OK_AND_ASSIGN(auto best_chunks, kb_->Search(first, Query::Text("harbor")));
  ASSERT_EQ(best_chunks.size(), 64u);
  for (const Hit& h : best_chunks) {
    ASSERT_EQ(h.id.ToString().rfind("big#", 0), 0u) << "the big document's chunks come first";
  }
  const auto text = Chunks(*kb_, Ranking::kText, Query::Text("harbor"));
  ASSERT_EQ(text[0].id, "big");
  for (size_t k : {size_t{3}, size_t{8}}) {
    ASSERT_OK_AND_ASSIGN(auto hits, Run(*kb_, Ranking::kText, Query::Text("harbor"), k, 2));
    ASSERT_EQ(hits.size(), k);
    ExpectSameHits(hits, Single(text, Ranking::kText, k, 2), "text past the big document");
    const auto vec = Chunks(*kb_, Ranking::kVector, Query::Text("harbor"));
    ASSERT_OK_AND_ASSIGN(hits, Run(*kb_, Ranking::kHybrid, Query::Text("harbor"), k, 2));
    ExpectSameHits(hits, Hybrid(vec, text, {}, k, 2), "hybrid past the big document");
  }
}

TEST_F(DocumentSearchTest, Refusals) {
  ASSERT_OK_AND_ASSIGN(auto model, TextModel::Open("hash"));
  ASSERT_OK_AND_ASSIGN(auto v, model->Embed({kQuery}));
  struct Case {
    std::string what;
    Collection* collection;
    DocumentSearchOptions options;
    Query query;
    std::string fragment;
  };
  auto with = [](Ranking ranking) {
    DocumentSearchOptions o;
    o.search.ranking = ranking;
    return o;
  };
  std::vector<Case> cases;
  for (Ranking r : {Ranking::kText, Ranking::kHybrid}) {
    DocumentSearchOptions pooled = with(r);
    pooled.pooled = true;
    cases.push_back({"pooled", kb_.get(), pooled, Query::Text(kQuery), "pooled"});
    cases.push_back({"no text index", plain_.get(), with(r), Query::Text(kQuery), "text index"});
    DocumentSearchOptions ranged = with(r);
    ranged.search.min_score = 0.1f;
    cases.push_back({"min_score", kb_.get(), ranged, Query::Text(kQuery), "min_score"});
  }
  for (Ranking r : {Ranking::kText, Ranking::kHybrid, Ranking::kVector, Ranking::kAuto}) {
    DocumentSearchOptions grouped = with(r);
    grouped.search.group_by = "group";
    cases.push_back({"group_by", kb_.get(), grouped, Query::Text(kQuery), "group_by"});
  }
  DocumentSearchOptions keywords = with(Ranking::kVector);
  keywords.search.keywords = "quokka";
  cases.push_back({"keywords by vector", kb_.get(), keywords, Query::Text(kQuery), "keywords"});
  // Auto without a text index ranks by vector, which takes no keywords.
  keywords = with(Ranking::kAuto);
  keywords.search.keywords = "quokka";
  cases.push_back({"keywords auto", plain_.get(), keywords, Query::Text(kQuery), "keywords"});
  cases.push_back({"text of a vector", kb_.get(), with(Ranking::kText), Query::Vector(v),
                   "keywords or a query text"});
  cases.push_back({"blank keywords", kb_.get(), with(Ranking::kText), Query::Text("  \n"),
                   "keywords or a query text"});
  DocumentSearchOptions bad_weight = with(Ranking::kHybrid);
  bad_weight.search.fusion = Fusion::kNormalized;
  bad_weight.search.text_weight = 1.5f;
  cases.push_back({"text_weight", kb_.get(), bad_weight, Query::Text(kQuery), "text_weight"});
  DocumentSearchOptions bad_k = with(Ranking::kText);
  bad_k.search.k = 0;
  cases.push_back({"k", kb_.get(), bad_k, Query::Text(kQuery), "k must be"});
  DocumentSearchOptions bad_filter = with(Ranking::kText);
  bad_filter.search.filter = "group ==";
  cases.push_back({"filter", kb_.get(), bad_filter, Query::Text(kQuery), "column"});
  for (const Case& c : cases) {
    auto r = c.collection->SearchDocuments(c.options, c.query);
    ASSERT_FALSE(r.ok()) << c.what;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << c.what << ": " << r.status();
    EXPECT_TRUE(testing::Contains(r.status(), c.fragment)) << c.what << ": " << r.status();
  }
}

}  // namespace
}  // namespace flashembed
