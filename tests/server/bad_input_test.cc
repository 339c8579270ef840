// Bad input over HTTP: numbers beyond double's range are the
// client's error (400 / 1801 naming the field, not 500), vectors whose
// scores would overflow a float are refused by both APIs (so no score or
// distance is ever null), metadata nests at most kMaxMetadataDepth levels,
// and a Milvus quick-setup create checks its indexParams as the schema path
// does.
#include <string>

#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kApi = "/api/v1/collections";

class BadInputTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    Start();
    ASSERT_EQ(Post(kApi, {{"name", "v"}, {"dim", 4}, {"metric", "l2"}, {"encoder", "none"}}).status,
              201);
  }
  // A native POST of raw body text.
  Reply Native(const std::string& route, const std::string& body) {
    return Call("POST", std::string(kApi) + "/v/" + route, body);
  }
  std::string Message(const Reply& r) { return r.Json()["error"]["message"].get<std::string>(); }
  uint64_t Count() { return Call("GET", std::string(kApi) + "/v").Json()["count"]; }
};

TEST_F(BadInputTest, NumbersBeyondDoubleAreTheClientsErrorNamingTheField) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"documents":[{"id":1,"vector":[1e999,0,0,0]}]})",
       "number 1e999 is out of range at documents[0].vector[0]"},
      {R"({"documents":[{"id":1,"vector":[0,-1e999,0,0]}]})",
       "number -1e999 is out of range at documents[0].vector[1]"},
      {R"({"documents":[{"id":1,"vector":[0,0,0,1],"metadata":{"a":1e999}}]})",
       "number 1e999 is out of range at documents[0].metadata.a"},
      {R"({"documents":[{"id":1,"vector":[0,0,0,1],"metadata":{"odd key":[2,1E400]}}]})",
       R"(number 1E400 is out of range at documents[0].metadata["odd key"][1])"},
  };
  for (const auto& [body, expected] : cases) {
    Reply r = Native("documents", body);
    EXPECT_EQ(r.status, 400) << body << " -> " << r.body;
    EXPECT_EQ(r.Json()["error"]["code"], "invalid_argument") << r.body;
    EXPECT_NE(Message(r).find(expected), std::string::npos) << r.body;
  }
  // Search bodies too.
  Reply r = Native("search", R"({"vector":[1e999,0,0,0]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("at vector[0]"), std::string::npos) << r.body;
  // Milvus answers 1801, naming the field.
  Reply m = Call("POST", "/v2/vectordb/entities/insert",
                 R"({"collectionName":"v","data":[{"id":1,"vector":[1e999,0,0,0]}]})");
  EXPECT_EQ(m.status, 200);
  EXPECT_EQ(m.Json()["code"], 1801) << m.body;
  EXPECT_NE(m.body.find("at data[0].vector[0]"), std::string::npos) << m.body;
  // Too deep a body names where, too; a plain syntax error is as before.
  r = Native("documents", "{\"documents\":[{\"metadata\":" + std::string(300, '[') + "}]}");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("nested deeper than 256 levels at documents[0].metadata[0]"),
            std::string::npos)
      << r.body;
  r = Native("documents", R"({"documents":[1,2)");
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(Message(r).find("parse error"), std::string::npos) << r.body;
  EXPECT_EQ(Count(), 0u);
}

TEST_F(BadInputTest, VectorsWhoseScoresWouldOverflowAreRefused) {
  Reply ok = Native("documents", R"({"documents":[{"id":1,"vector":[1,0,0,0]}]})");
  ASSERT_EQ(ok.status, 200) << ok.body;
  Reply r = Native("documents", R"({"documents":[{"id":2,"vector":[1e30,1e30,1e30,1e30]}]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("document 0 (id 2): vector is too long"), std::string::npos) << r.body;
  r = Native("search", R"({"vector":[1e30,1e30,1e30,1e30]})");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("query vector is too long"), std::string::npos) << r.body;

  json m = Milvus("entities/insert", json::parse(R"({"collectionName":"v",
      "data":[{"id":3,"vector":[1e30,1e30,1e30,1e30]}]})"));
  EXPECT_NE(m["code"], 0) << m;
  EXPECT_NE(m["message"].get<std::string>().find("too long"), std::string::npos) << m;
  m = Milvus("entities/search",
             json::parse(R"({"collectionName":"v","data":[[1e30,1e30,1e30,1e30]]})"));
  EXPECT_NE(m["code"], 0) << m;
  EXPECT_EQ(Count(), 1u);

  // What is stored scores as numbers in both APIs.
  r = Native("search", R"({"vector":[1e18,1e18,1e18,1e18]})");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_TRUE(r.Json()["hits"][0]["score"].is_number()) << r.body;
  m = Milvus("entities/search",
             json::parse(R"({"collectionName":"v","data":[[1e18,1e18,1e18,1e18]]})"));
  ASSERT_EQ(m["code"], 0) << m;
  EXPECT_TRUE(m["data"][0]["distance"].is_number()) << m;
}

TEST_F(BadInputTest, MetadataDepthIsTheLibrarysLimit) {
  const std::string limit = std::to_string(kMaxMetadataDepth);
  std::string body = R"({"documents":[{"id":1,"vector":[1,0,0,0],"metadata":)" +
                     flashembed::testing::NestedJsonObject(kMaxMetadataDepth) + "}]}";
  ASSERT_EQ(Native("documents", body).status, 200);
  body = R"({"documents":[{"id":2,"vector":[1,0,0,0],"metadata":)" +
         flashembed::testing::NestedJsonObject(kMaxMetadataDepth + 1) + "}]}";
  Reply r = Native("documents", body);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("document 0 (id 2): metadata nests deeper than " + limit + " levels"),
            std::string::npos)
      << r.body;
  // Milvus: a JSON-typed dynamic key one level short of the limit in the
  // metadata object it lands in is refused the same way.
  json row = {{"id", 3}, {"vector", {1, 0, 0, 0}}};
  row["deep"] = json::parse(flashembed::testing::NestedJsonObject(kMaxMetadataDepth));
  json m = Milvus("entities/insert", {{"collectionName", "v"}, {"data", {row}}});
  EXPECT_NE(m["code"], 0) << m;
  EXPECT_NE(m["message"].get<std::string>().find("metadata nests deeper than " + limit),
            std::string::npos)
      << m;
  EXPECT_EQ(Count(), 1u);
}

// Quick setup used to ignore indexParams and create a default collection.
TEST_F(BadInputTest, QuickSetupChecksIndexParamsAsTheSchemaPathDoes) {
  const json schema = json::parse(R"({"fields":[
      {"fieldName":"id","dataType":"Int64","isPrimary":true},
      {"fieldName":"vector","dataType":"FloatVector","elementTypeParams":{"dim":4}}]})");
  const std::vector<std::pair<json, std::string>> bad = {
      {json::parse(R"([{"fieldName":"vector","indexType":"FOO"}])"), "FOO"},
      {json::parse(R"([{"fieldName":"vector","indexType":"HNSW","params":{"M":0}}])"), "M"},
      {json::parse(R"([{"fieldName":"vector","params":{"M":0}}])"), "M"},
      {json::parse(R"([{"fieldName":"vector","metricType":"HAMMING"}])"), "HAMMING"},
  };
  int n = 0;
  for (const auto& [params, name] : bad) {
    for (const bool quick : {true, false}) {
      const std::string collection = "c" + std::to_string(n++);
      json body = {{"collectionName", collection}, {"indexParams", params}};
      if (quick) {
        body["dimension"] = 4;
      } else {
        body["schema"] = schema;
      }
      json r = Milvus("collections/create", body);
      EXPECT_EQ(r["code"], 1100) << (quick ? "quick " : "schema ") << body << " -> " << r;
      EXPECT_NE(r["message"].get<std::string>().find(name), std::string::npos) << r;
      EXPECT_FALSE(Milvus("collections/has", {{"collectionName", collection}})["data"]["has"])
          << collection;
    }
  }
  // A missing fieldName is refused on both paths too (1802).
  json r = Milvus("collections/create", json::parse(R"({"collectionName":"nf","dimension":4,
      "indexParams":[{"indexType":"FOO"}]})"));
  EXPECT_EQ(r["code"], 1802) << r;
  EXPECT_FALSE(Milvus("collections/has", {{"collectionName", "nf"}})["data"]["has"]);

  // Good index params now apply to a quick setup.
  r = Milvus("collections/create", json::parse(R"({"collectionName":"good","dimension":4,
      "metricType":"L2","indexParams":[{"fieldName":"vector","indexType":"HNSW",
      "params":{"M":8,"efConstruction":64}}]})"));
  ASSERT_EQ(r["code"], 0) << r;
  json info = Call("GET", std::string(kApi) + "/good").Json();
  EXPECT_EQ(info["hnsw"]["m"], 8) << info;
  EXPECT_EQ(info["hnsw"]["ef_construction"], 64) << info;
  EXPECT_EQ(info["metric"], "l2") << info;
  // Without indexParams: the default, as before.
  r = Milvus("collections/create", {{"collectionName", "plain"}, {"dimension", 4}});
  ASSERT_EQ(r["code"], 0) << r;
  info = Call("GET", std::string(kApi) + "/plain").Json();
  EXPECT_EQ(info["hnsw"]["m"], 16) << info;
  EXPECT_EQ(info["metric"], "cosine") << info;
}

}  // namespace
}  // namespace flashembed::server::testing
