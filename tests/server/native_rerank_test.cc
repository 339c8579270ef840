// Reranking over HTTP: "reranker" ("model:DIR", a folder serve allows with
// --allow-model) and "rerank_depth" in search and long-document search
// bodies; hits and documents carry "rerank_score" beside "score". The
// reranker is a tiny random cross-encoder fixture: the scores are checked
// against the library's Reranker on the same texts, the order against them.
#include "query/database.h"
#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kApi = "/api/v1/collections";
const std::string kRerankers =
    std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/cross_encoder";
const std::string kReranker = "model:" + kRerankers + "/bert_minilm_f32";

class NativeRerankTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    options.allowed_model_dirs = {kRerankers};
    Start();
    ASSERT_EQ(Post(kApi, {{"name", "kb"}, {"text_index", true}}).status, 201);
    json docs = json::array();
    const char* texts[] = {"Berlin is a big city", "people live in Berlin", "bread needs yeast",
                           "the river flows", "Berlin has a wall"};
    for (int i = 0; i < 5; ++i) docs.push_back({{"id", i + 1}, {"text", texts[i]}});
    ASSERT_EQ(Post(Path("documents"), {{"documents", docs}}).status, 200);
  }
  static std::string Path(const std::string& rest) { return std::string(kApi) + "/kb/" + rest; }
  static std::string Message(const Reply& r) {
    const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body.contains("error")) return "";
    return body["error"].value("message", "");
  }
};

TEST_F(NativeRerankTest, SearchHitsCarryTheRerankersScoreInItsOrder) {
  const std::string query = "who lives in Berlin";
  Reply r = Post(Path("search"),
                 {{"text", query}, {"k", 3}, {"reranker", kReranker}, {"rerank_depth", 5}});
  ASSERT_EQ(r.status, 200) << r.body;
  json hits = r.Json()["hits"];
  ASSERT_EQ(hits.size(), 3u) << r.body;
  auto reranker = Reranker::Open(kReranker);
  ASSERT_TRUE(reranker.ok()) << reranker.status();
  for (size_t i = 0; i < hits.size(); ++i) {
    ASSERT_TRUE(hits[i].contains("rerank_score")) << hits[i];
    ASSERT_TRUE(hits[i].contains("score")) << hits[i];
    auto want = (*reranker)->ScorePairs({query}, {hits[i]["text"].get<std::string>()});
    ASSERT_TRUE(want.ok()) << want.status();
    EXPECT_NEAR(hits[i]["rerank_score"].get<double>(), (*want)[0].score, 1e-5);
    if (i > 0) {
      EXPECT_GE(hits[i - 1]["rerank_score"].get<double>(), hits[i]["rerank_score"].get<double>());
    }
  }
  // Long documents: each document by its best reranked passage.
  ASSERT_EQ(Post(Path("long_documents"),
                 {{"documents",
                   {{{"id", "a"}, {"text", "Berlin is home to millions of people. It is big."}},
                    {{"id", "b"}, {"text", "Yeast makes bread rise. Flour and water."}}}}})
                .status,
            200);
  r = Post(Path("long_documents/search"), {{"text", query}, {"k", 2}, {"reranker", kReranker}});
  ASSERT_EQ(r.status, 200) << r.body;
  json documents = r.Json()["documents"];
  ASSERT_EQ(documents.size(), 2u) << r.body;
  for (const json& d : documents) {
    ASSERT_TRUE(d.contains("rerank_score")) << d;
    EXPECT_EQ(d["rerank_score"], d["passages"][0]["rerank_score"]) << d;
  }
  EXPECT_GE(documents[0]["rerank_score"].get<double>(), documents[1]["rerank_score"].get<double>());
}

// A collection's default reranker ("reranker" at creation): described, used
// by searches that name none, turned off by "reranker": "none".
TEST_F(NativeRerankTest, ADefaultRerankerFromTheCreateRequest) {
  ASSERT_EQ(Post(kApi, {{"name", "d"}, {"reranker", kReranker}}).status, 201);
  Reply r = Call("GET", std::string(kApi) + "/d");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["reranker"], kReranker) << r.body;
  ASSERT_EQ(Post(std::string(kApi) + "/d/documents",
                 {{"documents",
                   {{{"id", 1}, {"text", "Berlin is big"}}, {{"id", 2}, {"text", "yeast"}}}}})
                .status,
            200);
  r = Post(std::string(kApi) + "/d/search", {{"text", "Berlin"}, {"k", 2}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.Json()["hits"][0].contains("rerank_score")) << r.body;
  r = Post(std::string(kApi) + "/d/search", {{"text", "Berlin"}, {"reranker", "none"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_FALSE(r.Json()["hits"][0].contains("rerank_score")) << r.body;
  r = Post(kApi, {{"name", "e"},
                  {"reranker", "model:" + std::string(FLASHEMBED_SOURCE_DIR) +
                                   "/tests/encoders/testdata/bert/mean_norm_f32"}});
  EXPECT_EQ(r.status, 403) << r.body;
}

TEST_F(NativeRerankTest, RefusesRerankersServeDoesNotAllowAndBadRequests) {
  Reply r = Post(Path("search"), {{"text", "x"},
                                  {"reranker", "model:" + std::string(FLASHEMBED_SOURCE_DIR) +
                                                   "/tests/encoders/testdata/bert/mean_norm_f32"}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(Message(r).find("--allow-model"), std::string::npos) << r.body;
  r = Post(Path("search"), {{"text", "x"}, {"reranker", kRerankers + "/bert_minilm_f32"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("model:DIR"), std::string::npos) << r.body;
  r = Post(Path("search"), {{"text", "x"}, {"rerank_depth", 5}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = Post(Path("search"), {{"vector", json::array()}, {"reranker", kReranker}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = Post(Path("search"), {{"text", "x"}, {"reranker", kReranker}, {"rerank_depth", 5000}});
  EXPECT_EQ(r.status, 400) << r.body;
}

}  // namespace
}  // namespace flashembed::server::testing
