// The native API's full-text and hybrid search, find and count, over
// real loopback connections.
#include <set>

#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kApi = "/api/v1/collections";

class NativeSearchTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    Start();
  }
  // "kb": hashing encoder, BM25 text index, "lang" indexed; five texts.
  void CreateKb() {
    Reply r =
        Post(kApi, {{"name", "kb"}, {"text_index", true}, {"indexed_fields", {"lang", "year"}}});
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.Json()["text_index"], true);
    EXPECT_EQ(r.Json()["indexed_fields"], json({"lang", "year"}));
    r = Post(
        std::string(kApi) + "/kb/documents",
        {{"documents",
          {{{"id", 1},
            {"text", "the quick brown fox jumps"},
            {"metadata", {{"lang", "en"}, {"year", 2020}}}},
           {{"id", 2}, {"text", "a fox and a dog"}, {"metadata", {{"lang", "en"}, {"year", 2010}}}},
           {{"id", 3},
            {"text", "der schnelle braune Fuchs"},
            {"metadata", {{"lang", "de"}, {"year", 2021}}}},
           {{"id", 4},
            {"text", "stock markets fell sharply"},
            {"metadata", {{"lang", "en"}, {"year", 2022}}}},
           {{"id", "five"},
            {"text", "lazy dogs sleep all day"},
            {"metadata", {{"lang", "en"}, {"year", 1999}}}}}}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  Reply Search(const json& body) { return Post(std::string(kApi) + "/kb/search", body); }
};

TEST_F(NativeSearchTest, FullTextAndHybridRanking) {
  CreateKb();
  // Nothing is cached before the first full-text search, its postings after.
  EXPECT_EQ(Call("GET", std::string(kApi) + "/kb").Json()["text_cache_bytes"], 0);
  // BM25 only: documents holding "fox", with their text score.
  Reply r = Search({{"ranking", "text"}, {"keywords", "fox"}, {"k", 10}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_GT(Call("GET", std::string(kApi) + "/kb").Json()["text_cache_bytes"].get<int64_t>(), 0);
  json hits = r.Json()["hits"];
  ASSERT_EQ(hits.size(), 2u) << hits;
  std::set<int64_t> ids;
  for (const json& h : hits) {
    ids.insert(h["id"].get<int64_t>());
    ASSERT_TRUE(h.contains("text_score")) << h;
    EXPECT_FLOAT_EQ(h["text_score"].get<float>(), h["score"].get<float>());
    EXPECT_FALSE(h.contains("vector_score")) << h;
  }
  EXPECT_EQ(ids, (std::set<int64_t>{1, 2}));
  // "text" stands in for keywords, and filters apply.
  r = Search({{"ranking", "text"}, {"text", "fox"}, {"filter", "year > 2015"}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json()["hits"].size(), 1u);
  EXPECT_EQ(r.Json()["hits"][0]["id"], 1);

  // Hybrid, RRF: both components where both sides found the document.
  r = Search(
      {{"ranking", "hybrid"}, {"text", "quick fox"}, {"k", 3}, {"fusion", "rrf"}, {"rrf_k", 10}});
  ASSERT_EQ(r.status, 200) << r.body;
  hits = r.Json()["hits"];
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]["id"], 1) << hits;
  EXPECT_TRUE(hits[0].contains("vector_score") && hits[0].contains("text_score")) << hits[0];
  // RRF: 1/(10+1) at best from each side.
  EXPECT_LE(hits[0]["score"].get<double>(), 2.0 / 11 + 1e-6);
  // Weighted fusion with separate keywords.
  r = Search({{"ranking", "hybrid"},
              {"text", "a fast animal"},
              {"keywords", "dog"},
              {"fusion", "weighted"},
              {"text_weight", 0.9},
              {"k", 5}});
  ASSERT_EQ(r.status, 200) << r.body;
  hits = r.Json()["hits"];
  ASSERT_FALSE(hits.empty());
  EXPECT_EQ(hits[0]["id"], 2) << hits;  // the one "dog" (BM25 dominates at weight 0.9)
  EXPECT_LE(hits[0]["score"].get<double>(), 1.0 + 1e-6);
  // Normalised fusion: each side min-max normalised; all the weight on BM25
  // puts its best first with score 1.
  r = Search({{"ranking", "hybrid"},
              {"text", "lazy dogs"},
              {"keywords", "fox"},
              {"fusion", "normalized"},
              {"text_weight", 1},
              {"k", 5}});
  ASSERT_EQ(r.status, 200) << r.body;
  hits = r.Json()["hits"];
  ASSERT_FALSE(hits.empty());
  EXPECT_TRUE(hits[0]["id"] == 1 || hits[0]["id"] == 2) << hits;
  EXPECT_EQ(hits[0]["score"], 1.0) << hits;
  // Vector ranking (the default) carries no component scores.
  r = Search({{"text", "quick fox"}, {"k", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.Json()["hits"][0].contains("text_score"));
}

TEST_F(NativeSearchTest, RankingRequestErrors) {
  CreateKb();
  ASSERT_EQ(Post(kApi, {{"name", "plain"}}).status, 201);
  ASSERT_EQ(Post(std::string(kApi) + "/plain/documents",
                 {{"documents", {{{"id", 1}, {"text", "a fox"}}}}})
                .status,
            200);
  struct Case {
    std::string collection;
    json body;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"kb", {{"ranking", "bm25"}, {"text", "fox"}}, "ranking"},
      // auto is for long-document search only.
      {"kb", {{"ranking", "auto"}, {"text", "fox"}}, "must be vector, text or hybrid, got"},
      {"kb",
       {{"ranking", "hybrid"}, {"text", "fox"}, {"fusion", "minmax"}},
       "rrf, weighted or normalized"},
      {"kb", {{"ranking", "hybrid"}, {"text", "fox"}, {"fusion", "max"}}, "fusion"},
      {"kb", {{"ranking", "hybrid"}, {"text", "fox"}, {"rrf_k", 0}}, "rrf_k"},
      {"kb",
       {{"ranking", "hybrid"}, {"text", "fox"}, {"fusion", "weighted"}, {"text_weight", 2}},
       "text_weight"},
      {"kb", {{"ranking", "hybrid"}, {"text", "fox"}, {"text_weight", "x"}}, "text_weight"},
      {"kb", {{"ranking", "text"}, {"vector", {1, 2}}, {"keywords", "fox"}}, "vector"},
      {"kb", {{"ranking", "text"}}, "keywords"},
      {"kb", {{"ranking", "hybrid"}, {"keywords", "fox"}}, "text"},
      {"kb", {{"text", "fox"}, {"keywords", "fox"}}, "keywords"},  // vector ranking
      {"kb", {{"ranking", "text"}, {"keywords", "fox"}, {"group_by", "lang"}}, "group_by"},
      {"plain", {{"ranking", "text"}, {"keywords", "fox"}}, "text index"},
  };
  for (const Case& c : cases) {
    Reply r = Post(std::string(kApi) + "/" + c.collection + "/search", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    EXPECT_NE(r.body.find(c.fragment), std::string::npos) << c.body << " -> " << r.body;
  }
  // Create-time errors.
  for (const json& body : {json{{"name", "x"}, {"indexed_fields", "lang"}},
                           json{{"name", "x"}, {"indexed_fields", {1}}},
                           json{{"name", "x"}, {"indexed_fields", {"a", "a"}}},
                           json{{"name", "x"}, {"text_index", "yes"}}}) {
    Reply r = Post(kApi, body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
  }
  EXPECT_EQ(Call("GET", std::string(kApi) + "/x").status, 404);
}

TEST_F(NativeSearchTest, FindAndCount) {
  CreateKb();
  const std::string find = std::string(kApi) + "/kb/find";
  const std::string count = std::string(kApi) + "/kb/count";
  // Matches in write order, paged.
  Reply r = Post(find, {{"filter", "lang == \"en\""}, {"limit", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  json docs = r.Json()["documents"];
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0]["id"], 1);
  EXPECT_EQ(docs[1]["id"], 2);
  EXPECT_EQ(docs[0]["text"], "the quick brown fox jumps");
  EXPECT_EQ(docs[0]["metadata"]["year"], 2020);
  EXPECT_FALSE(docs[0].contains("vector"));
  r = Post(find, {{"filter", "lang == \"en\""},
                  {"offset", 2},
                  {"limit", 10},
                  {"with_text", false},
                  {"with_metadata", false},
                  {"with_vector", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  docs = r.Json()["documents"];
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0]["id"], 4);
  EXPECT_EQ(docs[1]["id"], "five");
  EXPECT_FALSE(docs[0].contains("text"));
  EXPECT_FALSE(docs[0].contains("metadata"));
  EXPECT_EQ(docs[0]["vector"].size(), 384u);
  // Templates, and no filter at all.
  r = Post(find, {{"filter", "year >= {y}"}, {"filter_params", {{"y", 2021}}}});
  EXPECT_EQ(r.Json()["documents"].size(), 2u) << r.body;
  EXPECT_EQ(Post(find, json::object()).Json()["documents"].size(), 5u);

  EXPECT_EQ(Post(count, json::object()).Json(), json({{"count", 5}}));
  EXPECT_EQ(Post(count, {{"filter", "lang == \"en\""}}).Json()["count"], 4);
  EXPECT_EQ(Post(count, {{"filter", "lang in {l}"}, {"filter_params", {{"l", {"de", "fr"}}}}})
                .Json()["count"],
            1);
  // Errors.
  for (const auto& [path, body] :
       std::vector<std::pair<std::string, json>>{{find, {{"filter", "lang =="}}},
                                                 {find, {{"limit", 0}}},
                                                 {find, {{"limit", 20000}}},
                                                 {find, {{"offset", -1}}},
                                                 {find, {{"filer", "x"}}},
                                                 {count, {{"filter", "year >"}}},
                                                 {count, {{"limit", 1}}}}) {
    r = Post(path, body);
    EXPECT_EQ(r.status, 400) << path << " " << body << " -> " << r.body;
  }
  EXPECT_EQ(Post(std::string(kApi) + "/nope/count", json::object()).status, 404);
  EXPECT_EQ(Post(std::string(kApi) + "/nope/find", json::object()).status, 404);
}

}  // namespace
}  // namespace flashembed::server::testing
