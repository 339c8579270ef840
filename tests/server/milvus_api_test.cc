// The Milvus REST v2 subset (docs/API.md) over real connections:
// quick and custom setup, the entity routes, index and load lifecycle,
// error codes, Int64-as-string, distances, and a randomised body test.
#include <cstdio>
#include <limits>
#include <map>
#include <random>
#include <set>

#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

class MilvusApiTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    Start();
  }
  // Quick setup "articles": Int64 pk "id", vector "vector" dim 4, COSINE,
  // dynamic fields on; rows 1..4 with title/views.
  void CreateArticles() {
    json r = Milvus("collections/create", {{"collectionName", "articles"}, {"dimension", 4}});
    ASSERT_EQ(r["code"], 0) << r;
    r = Milvus("entities/insert",
               {{"collectionName", "articles"},
                {"data",
                 {{{"id", 1}, {"vector", {1, 0, 0, 0}}, {"title", "hello"}, {"views", 10}},
                  {{"id", 2}, {"vector", {0, 1, 0, 0}}, {"title", "world"}, {"views", 3}},
                  {{"id", 3}, {"vector", {0.9, 0.1, 0, 0}}, {"title", "help"}, {"views", 7}},
                  {{"id", 4}, {"vector", {0, 0, 1, 0}}, {"title", "other"}, {"views", 1}}}}});
    ASSERT_EQ(r["code"], 0) << r;
    ASSERT_EQ(r["data"]["insertCount"], 4);
  }
  int64_t RowCount(const std::string& name) {
    return Milvus("collections/get_stats", {{"collectionName", name}})["data"]["rowCount"];
  }
};

TEST_F(MilvusApiTest, QuickSetupLifecycle) {
  CreateArticles();
  json r = Milvus("collections/list", json::object());
  EXPECT_EQ(r["data"], json({"articles"}));
  EXPECT_EQ(Milvus("collections/has", {{"collectionName", "articles"}})["data"]["has"], true);
  EXPECT_EQ(Milvus("collections/has", {{"collectionName", "nope"}})["data"]["has"], false);

  r = Milvus("collections/describe", {{"collectionName", "articles"}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["message"], "");
  EXPECT_EQ(r["data"]["enableDynamicField"], true);
  EXPECT_EQ(r["data"]["load"], "LoadStateLoaded");
  ASSERT_EQ(r["data"]["fields"].size(), 2u);
  EXPECT_EQ(r["data"]["fields"][0]["name"], "id");
  EXPECT_EQ(r["data"]["fields"][0]["primaryKey"], true);
  EXPECT_EQ(r["data"]["fields"][1]["type"], "FloatVector");
  EXPECT_EQ(r["data"]["fields"][1]["params"][0], json({{"key", "dim"}, {"value", "4"}}));
  EXPECT_EQ(r["data"]["indexes"][0]["metricType"], "COSINE");

  // Search: COSINE distance is the similarity, best first; rows hold only
  // pk + distance without outputFields; topks per query.
  r = Milvus("entities/search",
             {{"collectionName", "articles"}, {"data", {{1, 0, 0, 0}}}, {"limit", 2}});
  ASSERT_EQ(r["code"], 0) << r;
  ASSERT_EQ(r["topks"], json({2}));
  EXPECT_EQ(r["data"][0]["id"], 1);
  EXPECT_NEAR(r["data"][0]["distance"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(r["data"][1]["id"], 3);
  EXPECT_EQ(r["data"][0].size(), 2u);  // id, distance
  EXPECT_EQ(r["cost"], 0);

  // nq = 2, filter on a dynamic field, output fields.
  r = Milvus("entities/search", {{"collectionName", "articles"},
                                 {"data", {{1, 0, 0, 0}, {0, 0, 1, 0}}},
                                 {"limit", 1},
                                 {"filter", "views > 5"},
                                 {"outputFields", {"title"}}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["topks"], json({1, 1}));
  EXPECT_EQ(r["data"][0]["title"], "hello");
  EXPECT_EQ(r["data"][1]["views"], nullptr) << "not asked for";

  // Query: ordered by pk, default limit, offset, count(*).
  r = Milvus("entities/query", {{"collectionName", "articles"}, {"filter", "views >= 3"}});
  ASSERT_EQ(r["code"], 0) << r;
  ASSERT_EQ(r["data"].size(), 3u);
  EXPECT_EQ(r["data"][0]["id"], 1);
  EXPECT_EQ(r["data"][1]["id"], 2);
  EXPECT_EQ(r["data"][0]["title"], "hello");
  EXPECT_EQ(r["data"][0]["vector"].size(), 4u) << "\"*\" includes the vector";
  r = Milvus("entities/query", {{"collectionName", "articles"},
                                {"filter", "id > 0"},
                                {"limit", 2},
                                {"offset", 1},
                                {"outputFields", {"views"}}});
  ASSERT_EQ(r["data"].size(), 2u);
  EXPECT_EQ(r["data"][0], json({{"id", 2}, {"views", 3}}));
  r = Milvus("entities/query", {{"collectionName", "articles"},
                                {"filter", "title like \"hel%\""},
                                {"outputFields", {"count(*)"}}});
  EXPECT_EQ(r["data"], json::parse(R"J([{"count(*)": 2}])J"));

  // Get: missing ids omitted, order by pk.
  r = Milvus("entities/get",
             {{"collectionName", "articles"}, {"id", {3, 99, 1}}, {"outputFields", {"title"}}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["data"], json::parse(R"([{"id":1,"title":"hello"},{"id":3,"title":"help"}])"));

  // Upsert replaces; delete by filter.
  r = Milvus("entities/upsert",
             {{"collectionName", "articles"},
              {"data", {{{"id", 2}, {"vector", {0, 1, 0, 0}}, {"title", "WORLD"}}}}});
  EXPECT_EQ(r["data"], json::parse(R"({"upsertCount":1,"upsertIds":[2]})"));
  r = Milvus("entities/get", {{"collectionName", "articles"}, {"id", 2}});
  EXPECT_EQ(r["data"][0]["title"], "WORLD");
  EXPECT_FALSE(r["data"][0].contains("views"));
  r = Milvus("entities/delete", {{"collectionName", "articles"}, {"filter", "id in [1, 2]"}});
  EXPECT_EQ(r["data"]["deleteCount"], 2);
  EXPECT_EQ(RowCount("articles"), 2);

  EXPECT_EQ(Milvus("collections/drop", {{"collectionName", "articles"}})["code"], 0);
  EXPECT_EQ(Milvus("collections/drop", {{"collectionName", "articles"}})["code"], 0)
      << "idempotent";
  EXPECT_EQ(Milvus("collections/list", json::object())["data"], json::array());
}

TEST_F(MilvusApiTest, Int64AsStringWhenAsked) {
  CreateArticles();
  const std::vector<std::pair<std::string, std::string>> h = {{"Accept-Type-Allow-Int64", "false"}};
  json r = Milvus("entities/get", {{"collectionName", "articles"}, {"id", {"1"}}}, h);
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["data"][0]["id"], "1");
  EXPECT_EQ(r["data"][0]["views"], 10) << "dynamic values are not Int64 columns";
  r = Milvus("entities/search",
             {{"collectionName", "articles"}, {"data", {{1, 0, 0, 0}}}, {"limit", 1}}, h);
  EXPECT_EQ(r["data"][0]["id"], "1");
  r = Milvus("collections/create",
             {{"collectionName", "auto"}, {"dimension", 2}, {"autoID", true}});
  ASSERT_EQ(r["code"], 0) << r;
  r = Milvus("entities/insert",
             {{"collectionName", "auto"}, {"data", {{{"vector", {1, 2}}}, {{"vector", {2, 1}}}}}},
             h);
  ASSERT_EQ(r["code"], 0) << r;
  ASSERT_TRUE(r["data"]["insertIds"][0].is_string());
  EXPECT_GT(std::stoll(r["data"]["insertIds"][0].get<std::string>()), int64_t{1} << 53);
  EXPECT_LT(std::stoll(r["data"]["insertIds"][0].get<std::string>()),
            std::stoll(r["data"]["insertIds"][1].get<std::string>()));
  // Upsert on autoID assigns a new pk.
  const std::string old_id = r["data"]["insertIds"][0];
  r = Milvus("entities/upsert",
             {{"collectionName", "auto"}, {"data", {{{"id", old_id}, {"vector", {3, 3}}}}}}, h);
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_NE(r["data"]["upsertIds"][0], old_id);
  EXPECT_EQ(RowCount("auto"), 2);
  EXPECT_EQ(Milvus("entities/get", {{"collectionName", "auto"}, {"id", old_id}})["data"].size(),
            0u);
}

TEST_F(MilvusApiTest, CustomSchemaVarCharPkL2AndJson) {
  json r = Milvus("collections/create", json::parse(R"({"collectionName":"docs",
    "schema":{"autoID":false,"enableDynamicField":true,"fields":[
      {"fieldName":"doc_id","dataType":"VarChar","isPrimary":true,"elementTypeParams":{"max_length":8}},
      {"fieldName":"year","dataType":"Int64"},
      {"fieldName":"tags","dataType":"Array","elementDataType":"VarChar","elementTypeParams":{"max_capacity":4,"max_length":8}},
      {"fieldName":"meta","dataType":"JSON","nullable":true},
      {"fieldName":"embedding","dataType":"FloatVector","elementTypeParams":{"dim":3}}]},
    "indexParams":[{"fieldName":"embedding","indexName":"emb_idx","metricType":"L2",
                    "params":{"index_type":"HNSW","M":8,"efConstruction":64}}]})"));
  ASSERT_EQ(r["code"], 0) << r;
  r = Milvus("entities/insert", json::parse(R"({"collectionName":"docs","data":[
    {"doc_id":"b","year":2020,"tags":["x"],"meta":{"a":{"b":2}},"embedding":[1,0,0]},
    {"doc_id":"a","year":"2018","tags":[],"meta":"{\"a\":{\"b\":5}}","embedding":[0,2,0],"extra":"dyn"},
    {"doc_id":"c","year":2021,"tags":["y","z"],"embedding":[0,0,3]}]})"));
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["data"]["insertIds"], json({"b", "a", "c"}));

  // L2 distance is squared, smallest first.
  r = Milvus("entities/search", {{"collectionName", "docs"},
                                 {"data", {{1, 0, 0}}},
                                 {"limit", 3},
                                 {"annsField", "embedding"},
                                 {"outputFields", {"year"}}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["data"][0]["doc_id"], "b");
  EXPECT_NEAR(r["data"][0]["distance"].get<double>(), 0.0, 1e-5);
  EXPECT_EQ(r["data"][1]["doc_id"], "a");
  EXPECT_NEAR(r["data"][1]["distance"].get<double>(), 5.0, 1e-4);
  EXPECT_NEAR(r["data"][2]["distance"].get<double>(), 10.0, 1e-4);

  // JSON paths and pk filters; JSON comes back as JSON text; Int64 kept.
  r = Milvus("entities/query", {{"collectionName", "docs"}, {"filter", "meta[\"a\"][\"b\"] > 3"}});
  ASSERT_EQ(r["code"], 0) << r;
  ASSERT_EQ(r["data"].size(), 1u);
  EXPECT_EQ(r["data"][0]["doc_id"], "a");
  EXPECT_EQ(r["data"][0]["year"], 2018);
  EXPECT_EQ(json::parse(r["data"][0]["meta"].get<std::string>()), json::parse(R"({"a":{"b":5}})"));
  EXPECT_EQ(r["data"][0]["extra"], "dyn");
  r = Milvus("entities/query", {{"collectionName", "docs"},
                                {"filter", "doc_id in {ids}"},
                                {"exprParams", {{"ids", {"c", "b"}}}},
                                {"outputFields", {"tags"}}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["data"],
            json::parse(R"([{"doc_id":"b","tags":["x"]},{"doc_id":"c","tags":["y","z"]}])"));
  r = Milvus("entities/query",
             {{"collectionName", "docs"}, {"filter", "meta is null"}, {"outputFields", {"meta"}}});
  EXPECT_EQ(r["data"], json::parse(R"([{"doc_id":"c","meta":null}])"));

  // Index routes.
  EXPECT_EQ(Milvus("indexes/list", {{"collectionName", "docs"}})["data"], json({"emb_idx"}));
  r = Milvus("indexes/describe", {{"collectionName", "docs"}, {"indexName", "emb_idx"}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["data"][0]["indexType"], "HNSW");
  EXPECT_EQ(r["data"][0]["metricType"], "L2");
  EXPECT_EQ(r["data"][0]["totalRows"], 3);
  EXPECT_EQ(Milvus("indexes/describe", {{"collectionName", "docs"}, {"indexName", "x"}})["code"],
            700);
  EXPECT_EQ(Milvus("indexes/drop", {{"collectionName", "docs"}, {"indexName", "emb_idx"}})["code"],
            65535);
  EXPECT_EQ(Milvus("collections/release", {{"collectionName", "docs"}})["code"], 0);
  EXPECT_EQ(Milvus("entities/query", {{"collectionName", "docs"}, {"filter", ""}})["code"], 101);
  EXPECT_EQ(Milvus("collections/get_load_state", {{"collectionName", "docs"}})["data"]["loadState"],
            "LoadStateNotLoad");
  EXPECT_EQ(Milvus("indexes/drop", {{"collectionName", "docs"}, {"indexName", "emb_idx"}})["code"],
            0);
  EXPECT_EQ(Milvus("indexes/list", {{"collectionName", "docs"}})["data"], json::array());
  EXPECT_EQ(Milvus("collections/load", {{"collectionName", "docs"}})["code"], 65535);
  // Re-creating the same index is fine even with data; a different one is not.
  r = Milvus("indexes/create",
             json::parse(R"({"collectionName":"docs","indexParams":[{"fieldName":"embedding",
      "indexName":"emb_idx","metricType":"IP","indexType":"HNSW"}]})"));
  EXPECT_EQ(r["code"], 65535) << r;
  r = Milvus("indexes/create",
             json::parse(R"({"collectionName":"docs","indexParams":[{"fieldName":"embedding",
      "indexName":"emb_idx","metricType":"L2","params":{"index_type":"HNSW","M":8,"efConstruction":64}}]})"));
  EXPECT_EQ(r["code"], 0) << r;
  EXPECT_EQ(Milvus("collections/load", {{"collectionName", "docs"}})["code"], 0);
  r = Milvus("collections/get_load_state", {{"collectionName", "docs"}});
  EXPECT_EQ(r["data"], json::parse(R"({"loadProgress":100,"loadState":"LoadStateLoaded"})"));
  EXPECT_EQ(RowCount("docs"), 3);
}

TEST_F(MilvusApiTest, CustomSchemaWithoutIndexIsNotLoadedUntilIndexed) {
  json r = Milvus("collections/create", json::parse(R"({"collectionName":"late","schema":{"fields":[
      {"fieldName":"pk","dataType":"Int64","isPrimary":true},
      {"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":"2"}}]}})"));
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(Milvus("collections/get_load_state", {{"collectionName", "late"}})["data"]["loadState"],
            "LoadStateNotLoad");
  EXPECT_EQ(Milvus("entities/search", {{"collectionName", "late"}, {"data", {{1, 0}}}})["code"],
            101);
  // Empty collection: an IP index re-creates it with that metric.
  r = Milvus("indexes/create",
             json::parse(R"({"collectionName":"late","indexParams":[{"fieldName":"v",
      "metricType":"IP","indexType":"HNSW","params":{"M":8}}]})"));
  ASSERT_EQ(r["code"], 0) << r;
  // Without dynamic fields an unknown key is refused.
  r = Milvus("entities/insert",
             {{"collectionName", "late"}, {"data", {{{"pk", 1}, {"v", {1, 2}}, {"x", 1}}}}});
  EXPECT_EQ(r["code"], 1804);
  ASSERT_EQ(Milvus("collections/load", {{"collectionName", "late"}})["code"], 0);
  r = Milvus("entities/insert",
             {{"collectionName", "late"}, {"data", {{{"pk", 1}, {"v", {1, 2}}}}}});
  ASSERT_EQ(r["code"], 0) << r;
  r = Milvus("entities/search", {{"collectionName", "late"}, {"data", {{2, 0}}}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_NEAR(r["data"][0]["distance"].get<double>(), 2.0, 1e-5) << "IP similarity";
  r = Milvus("indexes/describe", {{"collectionName", "late"}, {"indexName", "v"}});
  EXPECT_EQ(r["data"][0]["indexType"], "HNSW");
  EXPECT_EQ(r["data"][0]["metricType"], "IP");
  // The flashembed collection itself was re-created with the new index.
  json native = json::parse(Call("GET", "/api/v1/collections/late").body);
  EXPECT_EQ(native["metric"], "ip");
  EXPECT_EQ(native["hnsw"]["m"], 8);
}

TEST_F(MilvusApiTest, TextFieldEmbeddedOnInsertAndSearch) {
  json r = Milvus("collections/create", json::parse(R"({"collectionName":"notes","schema":{
      "enableDynamicField":true,"fields":[
      {"fieldName":"id","dataType":"Int64","isPrimary":true},
      {"fieldName":"text","dataType":"VarChar","elementTypeParams":{"max_length":1000}},
      {"fieldName":"vector","dataType":"FloatVector","elementTypeParams":{"dim":64}}],
      "functions":[{"name":"embed","type":"TextEmbedding","inputFieldNames":["text"],
                    "outputFieldNames":["vector"]}]},
      "indexParams":[{"fieldName":"vector","metricType":"COSINE"}]})"));
  ASSERT_EQ(r["code"], 0) << r;
  r = Milvus("entities/insert", json::parse(R"({"collectionName":"notes","data":[
      {"id":1,"text":"the quick brown fox jumps"},{"id":2,"text":"interest rates and bond markets"},
      {"id":3,"text":"a sleepy dog in the sun","topic":"pets"}]})"));
  ASSERT_EQ(r["code"], 0) << r;
  r = Milvus("entities/search", {{"collectionName", "notes"},
                                 {"data", {"quick brown fox"}},
                                 {"limit", 1},
                                 {"outputFields", {"text"}}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["data"][0]["id"], 1);
  EXPECT_EQ(r["data"][0]["text"], "the quick brown fox jumps");
  r = Milvus("collections/describe", {{"collectionName", "notes"}});
  EXPECT_EQ(r["data"]["fields"][2]["isFunctionOutput"], true);
  // A text query on a collection without a text field is refused.
  CreateArticles();
  EXPECT_EQ(Milvus("entities/search", {{"collectionName", "articles"}, {"data", {"hi"}}})["code"],
            1801);
}

TEST_F(MilvusApiTest, ErrorCodesAndNothingChanges) {
  CreateArticles();
  struct Case {
    std::string route;
    std::string body;
    int code;
  };
  const std::vector<Case> cases = {
      {"collections/describe", "{}", 1802},
      {"collections/describe", R"({"collectionName":"nope"})", 100},
      {"collections/describe", R"({"collectionName":5})", 1801},
      {"collections/describe", R"({"collectionName":"articles","dbName":"_default"})", 800},
      {"collections/describe", "", 1801},
      {"collections/describe", "{\"collectionName\":", 1801},
      {"collections/describe", "[1]", 1801},
      {"collections/create", R"({"collectionName":"x"})", 1100},
      {"collections/create", R"({"collectionName":"x","dimension":"4"})", 1801},
      // Past int: used to be truncated to dim 4 and created.
      {"collections/create", R"({"collectionName":"x","dimension":4294967300})", 1100},
      {"collections/create", R"({"collectionName":"x","dimension":4,"metricType":"HAMMING"})",
       1100},
      {"collections/create", R"({"collectionName":"articles","dimension":8})", 65535},
      {"collections/create",
       R"({"collectionName":"x","schema":{"fields":[{"fieldName":"a","dataType":"int64","isPrimary":true}]}})",
       1100},
      {"entities/insert", R"({"collectionName":"articles","data":[{"id":9,"vector":[1,2,3]}]})",
       1804},
      {"entities/insert", R"({"collectionName":"articles","data":[{"id":9}]})", 1804},
      {"entities/insert",
       R"({"collectionName":"articles","data":[{"id":9,"vector":[1,2,3,4],"$meta":{}}]})", 1804},
      {"entities/insert",
       R"({"collectionName":"articles","data":[{"id":"x9","vector":[1,2,3,4]}]})", 1804},
      {"entities/insert",
       R"({"collectionName":"articles","data":[{"id":9,"vector":[1,2,3,4]},{"id":10,"vector":[1]}]})",
       1804},
      {"entities/insert", R"({"collectionName":"articles","data":7})", 1801},
      {"entities/insert", R"({"collectionName":"articles"})", 1802},
      {"entities/upsert", R"({"collectionName":"articles","data":[{"vector":[1,2,3,4]}]})", 1804},
      {"entities/delete", R"({"collectionName":"articles"})", 1802},
      {"entities/delete", R"({"collectionName":"articles","filter":"views >"})", 1100},
      {"entities/get", R"({"collectionName":"articles","id":[{"a":1}]})", 1806},
      {"entities/query", R"({"collectionName":"articles","filter":"views >= "})", 1100},
      {"entities/query", R"({"collectionName":"articles","limit":20000})", 65535},
      {"entities/query", R"({"collectionName":"articles","limit":"10"})", 1801},
      {"entities/query",
       R"({"collectionName":"articles","exprParams":{"a":null},"filter":"views == {a}"})", 1100},
      {"entities/search", R"({"collectionName":"articles","data":[[1,2,3]]})", 1801},
      {"entities/search", R"({"collectionName":"articles","data":[1,2,3,4]})", 1801},
      {"entities/search", R"({"collectionName":"articles","data":[[1,2,3,4]],"limit":0})", 65535},
      {"entities/search", R"({"collectionName":"articles","data":[[1,2,3,4]],"filter":"views >"})",
       1100},
      {"entities/search",
       R"({"collectionName":"articles","data":[[1,2,3,4]],"searchParams":{"metric_type":"L2"}})",
       1100},
      {"entities/search", R"({"collectionName":"articles"})", 1802},
      {"indexes/describe", R"({"collectionName":"articles"})", 1802},
      {"partitions/list", R"({"collectionName":"articles"})", 10},
      {"entities/hybrid_search", R"({"collectionName":"articles"})", 10},
  };
  for (const Case& c : cases) {
    Reply r = Call("POST", "/v2/vectordb/" + c.route, c.body);
    EXPECT_EQ(r.status, 200) << c.route << " " << c.body;
    const json e = r.Json();
    EXPECT_EQ(e["code"], c.code) << c.route << " " << c.body << " -> " << r.body;
    EXPECT_TRUE(e["message"].is_string() && !e["message"].get<std::string>().empty()) << r.body;
    EXPECT_FALSE(e.contains("data")) << r.body;
    if (c.route == "entities/search") {
      EXPECT_EQ(e["topks"], json::array()) << r.body;
    }
  }
  // A search error still carries topks; unknown paths are gin's 404.
  Reply r = Call("POST", "/v2/vectordb/entities/nope", "{}");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "404 page not found");
  EXPECT_EQ(Call("GET", "/v2/vectordb/collections/list").status, 404);
  EXPECT_EQ(Call("OPTIONS", "/v2/vectordb/collections/list").status, 204);
  // Case-insensitive keys, Content-Type not required.
  json ok = json::parse(Call("POST", "/v2/vectordb/collections/has",
                             R"({"COLLECTIONNAME":"articles"})", {{"Content-Type", "text/plain"}})
                            .body);
  EXPECT_EQ(ok["data"]["has"], true);
  // Nothing changed.
  EXPECT_EQ(RowCount("articles"), 4);
  json rows = Milvus("entities/query",
                     {{"collectionName", "articles"}, {"filter", ""}, {"outputFields", {"*"}}});
  ASSERT_EQ(rows["data"].size(), 4u);
  EXPECT_EQ(rows["data"][0]["vector"], json({1, 0, 0, 0}));
  EXPECT_EQ(Milvus("collections/list", json::object())["data"], json({"articles"}));
}

// offset and limit each fit int64 but their sum does not: refused with
// 65535 like any out-of-range window (the sum used to overflow, so query
// returned rows and search asked the database for ~2^64 hits).
TEST_F(MilvusApiTest, HugeOffsetIsRefusedWithoutOverflow) {
  CreateArticles();
  constexpr int64_t kMax = std::numeric_limits<int64_t>::max();
  json r =
      Milvus("entities/query", {{"collectionName", "articles"}, {"limit", 1}, {"offset", kMax}});
  EXPECT_EQ(r["code"], 65535) << r;
  r = Milvus(
      "entities/search",
      {{"collectionName", "articles"}, {"data", {{1, 0, 0, 0}}}, {"limit", 1}, {"offset", kMax}});
  EXPECT_EQ(r["code"], 65535) << r;
  EXPECT_EQ(r["topks"], json::array()) << r;
  r = Milvus("entities/search", {{"collectionName", "articles"},
                                 {"data", {{1, 0, 0, 0}}},
                                 {"limit", 1},
                                 {"offset", -kMax - 1}});
  EXPECT_EQ(r["code"], 65535) << r;
}

// indexes/create checks every entry before changing anything: a bad second
// entry used to leave the first one installed (and the empty collection
// re-created with its metric) behind an error answer.
TEST_F(MilvusApiTest, IndexCreateWithABadEntryInstallsNothing) {
  json r = Milvus("collections/create", json::parse(R"({"collectionName":"late","schema":{"fields":[
      {"fieldName":"pk","dataType":"Int64","isPrimary":true},
      {"fieldName":"n","dataType":"Int32"},
      {"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":2}}]}})"));
  ASSERT_EQ(r["code"], 0) << r;
  const std::string before = Call("GET", "/api/v1/collections/late").body;
  // A valid vector index, then an entry naming a field the schema lacks.
  r = Milvus("indexes/create", json::parse(R"({"collectionName":"late","indexParams":[
      {"fieldName":"v","metricType":"IP","indexType":"HNSW","params":{"M":8}},
      {"fieldName":"nope","indexType":"INVERTED"}]})"));
  EXPECT_EQ(r["code"], 1802) << r;
  // Two different indexes for the one vector field.
  r = Milvus("indexes/create", json::parse(R"({"collectionName":"late","indexParams":[
      {"fieldName":"v","metricType":"IP","indexType":"HNSW"},
      {"fieldName":"v","metricType":"L2","indexType":"HNSW"}]})"));
  EXPECT_EQ(r["code"], 65535) << r;
  EXPECT_EQ(Milvus("indexes/list", {{"collectionName", "late"}})["data"], json::array());
  EXPECT_EQ(Milvus("collections/get_load_state", {{"collectionName", "late"}})["data"]["loadState"],
            "LoadStateNotLoad");
  json after = json::parse(Call("GET", "/api/v1/collections/late").body);
  EXPECT_EQ(after["metric"], "cosine");
  EXPECT_EQ(after["created_unix_ms"], json::parse(before)["created_unix_ms"]) << "not re-created";
  // A valid request with a scalar entry still installs the vector index.
  r = Milvus("indexes/create", json::parse(R"({"collectionName":"late","indexParams":[
      {"fieldName":"n","indexType":"INVERTED"},
      {"fieldName":"v","metricType":"IP","indexType":"HNSW"}]})"));
  EXPECT_EQ(r["code"], 0) << r;
  EXPECT_EQ(Milvus("indexes/list", {{"collectionName", "late"}})["data"], json({"v"}));
}

TEST_F(MilvusApiTest, CreateIsIdempotentForTheSameSchema) {
  const json body = {{"collectionName", "same"}, {"dimension", 4}, {"metricType", "L2"}};
  EXPECT_EQ(Milvus("collections/create", body)["code"], 0);
  EXPECT_EQ(Milvus("collections/create", body)["code"], 0);
  json other = body;
  other["metricType"] = "IP";
  EXPECT_EQ(Milvus("collections/create", other)["code"], 65535);
}

// Mutations of valid bodies (fields removed, retyped, replaced by random
// JSON; bodies truncated or bytes flipped) against every route: each answer
// is a well-formed envelope with a known code, and the server keeps serving.
TEST_F(MilvusApiTest, RandomisedBodiesGetValidEnvelopes) {
  CreateArticles();
  const std::vector<std::pair<std::string, json>> seeds = {
      {"collections/create",
       {{"collectionName", "fz"}, {"dimension", 4}, {"params", {{"textField", "t"}}}}},
      {"collections/create",
       json::parse(R"({"collectionName":"fz2","schema":{"enableDynamicField":true,"fields":[
          {"fieldName":"pk","dataType":"VarChar","isPrimary":true,"elementTypeParams":{"max_length":16}},
          {"fieldName":"n","dataType":"Int32"},{"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":4}}]},
          "indexParams":[{"fieldName":"v","metricType":"L2","params":{"index_type":"IVF_FLAT","nlist":4}}]})")},
      {"collections/list", json::object()},
      {"collections/describe", {{"collectionName", "articles"}}},
      {"collections/has", {{"collectionName", "articles"}}},
      {"collections/drop", {{"collectionName", "fz"}}},
      {"collections/get_stats", {{"collectionName", "articles"}}},
      {"collections/load", {{"collectionName", "articles"}}},
      {"collections/release", {{"collectionName", "fz"}}},
      {"collections/get_load_state", {{"collectionName", "articles"}}},
      {"entities/insert",
       {{"collectionName", "articles"},
        {"data", {{{"id", 100}, {"vector", {1, 2, 3, 4}}, {"k", "v"}}}}}},
      {"entities/upsert",
       {{"collectionName", "articles"}, {"data", {{{"id", 101}, {"vector", {1, 2, 3, 4}}}}}}},
      {"entities/delete", {{"collectionName", "articles"}, {"filter", "id in [100, 101]"}}},
      {"entities/get",
       {{"collectionName", "articles"}, {"id", {1, 2}}, {"outputFields", {"title"}}}},
      {"entities/query",
       {{"collectionName", "articles"},
        {"filter", "views > {v}"},
        {"exprParams", {{"v", 2}}},
        {"limit", 2},
        {"offset", 1},
        {"outputFields", {"*"}}}},
      {"entities/search",
       {{"collectionName", "articles"},
        {"data", {{1, 0, 0, 0}}},
        {"limit", 3},
        {"filter", "views > 1"},
        {"groupingField", "title"},
        {"outputFields", {"title"}},
        {"searchParams", {{"params", {{"ef", 32}, {"radius", 0.1}}}}}}},
      {"indexes/create",
       {{"collectionName", "articles"},
        {"indexParams", {{{"fieldName", "vector"}, {"metricType", "COSINE"}}}}}},
      {"indexes/list", {{"collectionName", "articles"}}},
      {"indexes/describe", {{"collectionName", "articles"}, {"indexName", "vector"}}},
      {"indexes/drop", {{"collectionName", "fz"}, {"indexName", "vector"}}},
  };
  const std::set<int> known = {0,    10,   100,  101,  700,  800,  1100,
                               1700, 1801, 1802, 1804, 1806, 65535};
  std::mt19937 rng(20261128);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::vector<json> junk = {nullptr,
                                  true,
                                  0,
                                  -1,
                                  1.5,
                                  1e300,
                                  "",
                                  "x",
                                  "id > 0",
                                  json::array(),
                                  json::array({1, 2}),
                                  json::array({json::array({1, 2, 3, 4})}),
                                  json::object(),
                                  json{{"a", 1}},
                                  9223372036854775807LL,
                                  "AUTOINDEX",
                                  "articles",
                                  "*",
                                  json::array({"*"}),
                                  json::array({"count(*)"})};
  std::function<void(json&, int)> mutate = [&](json& v, int depth) {
    if ((v.is_object() || v.is_array()) && !v.empty() && depth < 4 && pick(3) != 0) {
      if (v.is_object()) {
        auto it = v.begin();
        std::advance(it, static_cast<long>(pick(v.size())));
        if (pick(5) == 0) {
          v.erase(it.key());
        } else {
          mutate(it.value(), depth + 1);
        }
      } else {
        mutate(v[pick(v.size())], depth + 1);
      }
      return;
    }
    v = junk[pick(junk.size())];
  };
  Connection conn(port());
  int requests = 0;
  std::map<int, int> codes;
  // Up to 4 distinct messages (first 100 bytes) per code, printed for the log.
  std::map<int, std::set<std::string>> examples;
  for (int i = 0; i < 3000; ++i) {
    const auto& [route, seed] = seeds[pick(seeds.size())];
    json body = seed;
    // 0 rounds (a valid body, about a quarter of the time) keeps requests
    // reaching the handlers' deeper paths and changing the data.
    const int rounds = static_cast<int>(pick(4));
    for (int m = 0; m < rounds; ++m) mutate(body, 0);
    std::string text = body.dump();
    if (pick(10) == 0) text = text.substr(0, pick(text.size() + 1));
    if (pick(10) == 0 && !text.empty()) text[pick(text.size())] = static_cast<char>(rng() & 0xff);
    Reply r = conn.Request("POST", "/v2/vectordb/" + route, text);
    ASSERT_EQ(r.status, 200) << route << " " << text;
    json e = json::parse(r.body, nullptr, false);
    ASSERT_TRUE(e.is_object()) << r.body;
    ASSERT_TRUE(e.contains("code")) << r.body;
    const int code = e["code"];
    ++codes[code];
    if (code != 0 && examples[code].size() < 4) {
      examples[code].insert(e.value("message", "").substr(0, 100));
    }
    EXPECT_TRUE(known.count(code)) << code << " for " << route << " " << text << " -> " << r.body;
    if (code == 0) {
      EXPECT_TRUE(e.contains("data")) << r.body;
    } else {
      EXPECT_TRUE(e["message"].is_string()) << r.body;
      // 65535 is Milvus's "unexpected" code; it must not hide a handler bug.
      EXPECT_EQ(e["message"].get<std::string>().find("internal"), std::string::npos) << r.body;
    }
    ++requests;
  }
  EXPECT_EQ(requests, 3000);
  // The mutations reach past decoding: many succeed, many codes occur.
  EXPECT_GE(codes[0], 200);
  EXPECT_GE(codes.size(), 6u);
  for (const auto& [code, n] : codes) {
    std::printf("code %d: %d\n", code, n);
    for (const std::string& m : examples[code]) std::printf("    %s\n", m.c_str());
  }
  EXPECT_EQ(Call("GET", "/health").status, 200);
  // (A mutated drop may have removed "articles"; the catalog still answers.)
  EXPECT_EQ(Milvus("collections/list", json::object())["code"], 0);
}

}  // namespace
}  // namespace flashembed::server::testing
