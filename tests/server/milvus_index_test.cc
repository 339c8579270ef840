// Milvus indexes and collection creation: a re-creating
// indexes/create cannot lose a write acknowledged meanwhile (through either
// API); index parameters out of flashembed's range are refused, not
// truncated; load state and index metadata after a restart are derived from
// the stored collections; clients may name only allowed model folders.
#include <atomic>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>
#include <thread>

#include "server/milvus_api.h"
#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

using std::chrono::milliseconds;

// A custom-setup collection without an index: pk "pk", vector "v" (dim 2).
json LateCollection(const std::string& name) {
  json body = json::parse(R"({"schema":{"fields":[
      {"fieldName":"pk","dataType":"Int64","isPrimary":true},
      {"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":2}}]}})");
  body["collectionName"] = name;
  return body;
}
json IpIndex(const std::string& name) {
  json body =
      json::parse(R"({"indexParams":[{"fieldName":"v","metricType":"IP","indexType":"HNSW"}]})");
  body["collectionName"] = name;
  return body;
}

class MilvusIndexTest : public ServerTest {
 protected:
  void TearDown() override {
    MilvusApi::SetRecreateHookForTesting({});
    ServerTest::TearDown();
  }
  // The ids among `ids` stored in `name`, through the native API (which
  // needs no loaded collection).
  std::set<int64_t> Stored(const std::string& name, const json& ids) {
    Reply r = Post("/api/v1/collections/" + name + "/get", {{"ids", ids}});
    EXPECT_EQ(r.status, 200) << r.body;
    std::set<int64_t> out;
    const json body = r.Json();
    for (const json& d : body["documents"]) out.insert(d["id"].get<int64_t>());
    return out;
  }
};

// Deterministic: the test hook runs when indexes/create has found the
// collection empty and is about to drop and re-create it. Writes sent then,
// through both APIs, must wait for the re-creation and land in the new
// collection. Before the per-collection lock they were acknowledged during
// the pause and dropped with the old collection.
TEST_F(MilvusIndexTest, WritesDuringARecreationWaitAndAreKept) {
  options.threads = 4;
  Start();
  ASSERT_EQ(Milvus("collections/create", LateCollection("late"))["code"], 0);
  std::mutex mu;  // the futures are made on a server thread
  std::future<Reply> milvus_insert;
  std::future<Reply> native_insert;
  std::atomic<int> finished_early{0};
  MilvusApi::SetRecreateHookForTesting([&](const std::string& name) {
    EXPECT_EQ(name, "late");
    std::lock_guard<std::mutex> lock(mu);
    milvus_insert = std::async(std::launch::async, [&] {
      Reply r = Post("/v2/vectordb/entities/insert",
                     {{"collectionName", "late"}, {"data", {{{"pk", 1}, {"v", {1, 2}}}}}});
      return r;
    });
    native_insert = std::async(std::launch::async, [&] {
      return Post("/api/v1/collections/late/documents",
                  {{"documents", {{{"id", 2}, {"vector", {2, 1}}}}}});
    });
    std::this_thread::sleep_for(milliseconds(300));
    for (auto* f : {&milvus_insert, &native_insert}) {
      if (f->wait_for(milliseconds(0)) == std::future_status::ready) ++finished_early;
    }
  });
  json r = Milvus("indexes/create", IpIndex("late"));
  ASSERT_EQ(r["code"], 0) << r;
  MilvusApi::SetRecreateHookForTesting({});
  std::lock_guard<std::mutex> lock(mu);
  ASSERT_TRUE(milvus_insert.valid() && native_insert.valid()) << "the hook did not run";
  EXPECT_EQ(finished_early.load(), 0) << "a write completed while the collection was re-created";
  Reply m = milvus_insert.get();
  Reply n = native_insert.get();
  EXPECT_EQ(m.Json()["code"], 0) << m.body;
  EXPECT_EQ(n.status, 200) << n.body;
  EXPECT_EQ(Stored("late", {1, 2}), (std::set<int64_t>{1, 2}));
  // ... in the re-created collection, with the new metric.
  EXPECT_EQ(json::parse(Call("GET", "/api/v1/collections/late").body)["metric"], "ip");
}

// Random interleavings: inserts race an indexes/create that would re-create
// the collection. Either the re-creation happens first (the inserts land in
// the new collection) or it is refused because rows arrived; every
// acknowledged row is stored at the end of each round.
TEST_F(MilvusIndexTest, ConcurrentInsertsAndIndexCreateLoseNothing) {
  options.threads = 4;
  Start();
  int recreated = 0;
  int refused = 0;
  for (int round = 0; round < 12; ++round) {
    ASSERT_EQ(Milvus("collections/create", LateCollection("race"))["code"], 0);
    std::atomic<bool> go{false};
    auto inserter = std::async(std::launch::async, [&] {
      json acknowledged = json::array();
      Connection c(port());
      while (!go.load()) std::this_thread::yield();
      for (int i = 0; i < 6; ++i) {
        const int id = round * 100 + i;
        Reply r = c.Request(
            "POST", "/v2/vectordb/entities/insert",
            json{{"collectionName", "race"}, {"data", {{{"pk", id}, {"v", {1.0 + i, 1.0}}}}}}
                .dump());
        if (r.status == 200 && json::parse(r.body)["code"] == 0) acknowledged.push_back(id);
      }
      return acknowledged;
    });
    go = true;
    if (round % 2 == 1) std::this_thread::sleep_for(milliseconds(1));
    const json index = Milvus("indexes/create", IpIndex("race"));
    const json acknowledged = inserter.get();
    if (index["code"] == 0) {
      ++recreated;
    } else {
      ++refused;
      EXPECT_NE(index["message"].get<std::string>().find("holds data"), std::string::npos) << index;
    }
    std::set<int64_t> want;
    for (const json& id : acknowledged) want.insert(id.get<int64_t>());
    EXPECT_EQ(Stored("race", acknowledged), want) << "round " << round << ": " << index;
    ASSERT_EQ(Milvus("collections/drop", {{"collectionName", "race"}})["code"], 0);
  }
  EXPECT_EQ(recreated + refused, 12);
}

TEST_F(MilvusIndexTest, IndexParametersOutOfRangeAreRefusedNotTruncated) {
  Start();
  ASSERT_EQ(Milvus("collections/create", LateCollection("late"))["code"], 0);
  const std::string before = Call("GET", "/api/v1/collections/late").body;
  struct Case {
    std::string type;
    json params;
    std::string name;  // in the message
  };
  const std::vector<Case> cases = {
      {"HNSW", {{"M", 4294967312LL}}, "M"},  // was truncated to 16
      {"HNSW", {{"M", "1000"}}, "M"},
      {"HNSW", {{"M", 1}}, "M"},
      {"HNSW", {{"efConstruction", 0}}, "efConstruction"},
      {"HNSW", {{"efConstruction", 4294967496LL}}, "efConstruction"},
      {"HNSW", {{"ef", 20000}}, "ef"},
      {"HNSW", {{"M", 16.5}}, "M"},
      {"IVF_FLAT", {{"nlist", 70000}}, "nlist"},
      {"IVF_FLAT", {{"nlist", 4294967300LL}}, "nlist"},
      {"IVF_FLAT", {{"nprobe", 0}}, "nprobe"},
      {"IVF_PQ", {{"nbits", 16}}, "nbits"},
      {"IVF_PQ", {{"m", 4294967297LL}}, "m"},
      {"IVF_PQ", {{"m", 3}}, "pq_m"},  // must divide dim 2
  };
  for (const Case& c : cases) {
    json body = IpIndex("late");
    body["indexParams"][0]["indexType"] = c.type;
    body["indexParams"][0]["params"] = c.params;
    json r = Milvus("indexes/create", body);
    EXPECT_EQ(r["code"], 1100) << c.params << " -> " << r;
    EXPECT_NE(r.value("message", "").find(c.name), std::string::npos) << r;
    // The same in collections/create: nothing is created.
    json create = LateCollection("other");
    create["indexParams"] = body["indexParams"];
    r = Milvus("collections/create", create);
    EXPECT_EQ(r["code"], 1100) << c.params << " -> " << r;
  }
  EXPECT_EQ(Milvus("collections/has", {{"collectionName", "other"}})["data"]["has"], false);
  EXPECT_EQ(Call("GET", "/api/v1/collections/late").body, before) << "not re-created";
  // In range is fine.
  json body = IpIndex("late");
  body["indexParams"][0]["params"] = {{"M", 100}, {"efConstruction", "10000"}};
  EXPECT_EQ(Milvus("indexes/create", body)["code"], 0);
  EXPECT_EQ(json::parse(Call("GET", "/api/v1/collections/late").body)["hnsw"]["m"], 100);
  // Search parameters too.
  ASSERT_EQ(Milvus("collections/load", {{"collectionName", "late"}})["code"], 0);
  for (const json& params : {json{{"ef", 40000}}, json{{"ef", 0}}, json{{"ef", 1.5}},
                             json{{"nprobe", 70000}}, json{{"nprobe", -1}}}) {
    json r = Milvus(
        "entities/search",
        {{"collectionName", "late"}, {"data", {{1, 0}}}, {"searchParams", {{"params", params}}}});
    EXPECT_EQ(r["code"], 1100) << params << " -> " << r;
  }
  json r = Milvus("entities/search", {{"collectionName", "late"},
                                      {"data", {{1, 0}}},
                                      {"searchParams", {{"params", {{"ef", 64}}}}}});
  EXPECT_EQ(r["code"], 0) << r;
}

// Load state and index metadata live in the server's memory; a restarted
// server derives them from the stored collections: every collection is
// loaded, with its declared index or one derived from its parameters.
TEST_F(MilvusIndexTest, RestartDerivesLoadStateAndIndexes) {
  Start();
  // Declared at creation (IVF, L2), then released.
  ASSERT_EQ(Milvus("collections/create", json::parse(R"({"collectionName":"ivf","schema":{"fields":[
      {"fieldName":"pk","dataType":"Int64","isPrimary":true},
      {"fieldName":"v","dataType":"FloatVector","elementTypeParams":{"dim":4}}]},
      "indexParams":[{"fieldName":"v","indexName":"v_idx","metricType":"L2",
                      "indexType":"IVF_FLAT","params":{"nlist":4}}]})"))["code"],
            0);
  ASSERT_EQ(Milvus("collections/release", {{"collectionName", "ivf"}})["code"], 0);
  // Declared by indexes/create on the empty collection, even though it
  // matches the default index (stored by re-creating the collection).
  ASSERT_EQ(Milvus("collections/create", LateCollection("decl"))["code"], 0);
  json r = Milvus("indexes/create", json::parse(R"({"collectionName":"decl","indexParams":[
      {"fieldName":"v","indexName":"mine","metricType":"COSINE","indexType":"HNSW"}]})"));
  ASSERT_EQ(r["code"], 0) << r;
  // Never declared, and holding data.
  ASSERT_EQ(Milvus("collections/create", LateCollection("plain"))["code"], 0);
  ASSERT_EQ(Milvus("entities/insert",
                   {{"collectionName", "plain"}, {"data", {{{"pk", 1}, {"v", {1, 0}}}}}})["code"],
            0);
  EXPECT_EQ(
      Milvus("collections/get_load_state", {{"collectionName", "plain"}})["data"]["loadState"],
      "LoadStateNotLoad");

  StopAndClose();
  Start();
  for (const char* name : {"ivf", "decl", "plain"}) {
    r = Milvus("collections/get_load_state", {{"collectionName", name}});
    EXPECT_EQ(r["data"]["loadState"], "LoadStateLoaded") << name << ": " << r;
  }
  EXPECT_EQ(Milvus("indexes/list", {{"collectionName", "ivf"}})["data"], json({"v_idx"}));
  EXPECT_EQ(Milvus("indexes/list", {{"collectionName", "decl"}})["data"], json({"mine"}));
  r = Milvus("indexes/describe", {{"collectionName", "ivf"}, {"indexName", "v_idx"}});
  EXPECT_EQ(r["data"][0]["indexType"], "IVF_FLAT");
  EXPECT_EQ(r["data"][0]["metricType"], "L2");
  // Derived from the collection: HNSW with its parameters.
  EXPECT_EQ(Milvus("indexes/list", {{"collectionName", "plain"}})["data"], json({"v"}));
  r = Milvus("indexes/describe", {{"collectionName", "plain"}, {"indexName", "v"}});
  ASSERT_EQ(r["code"], 0) << r;
  EXPECT_EQ(r["data"][0]["indexType"], "HNSW");
  EXPECT_EQ(r["data"][0]["metricType"], "COSINE");
  EXPECT_NE(r["data"][0]["indexParams"].dump().find(R"({"key":"M","value":"16"})"),
            std::string::npos)
      << r;
  r = Milvus("entities/search", {{"collectionName", "plain"}, {"data", {{1, 0}}}});
  EXPECT_EQ(r["topks"], json({1})) << r;
  // The derived index may be declared as what it is, not changed (data).
  EXPECT_EQ(Milvus("indexes/create", json::parse(R"({"collectionName":"plain","indexParams":[
      {"fieldName":"v","metricType":"COSINE","indexType":"HNSW","params":{"M":16}}]})"))["code"],
            0);
  EXPECT_EQ(Milvus("indexes/create", IpIndex("plain"))["code"], 65535);
}

TEST_F(MilvusIndexTest, ModelFoldersOutsideTheAllowedOnesAreRefused) {
  const std::string models = dir_.Sub("models");
  std::filesystem::create_directories(models);
  std::filesystem::create_directories(dir_.Sub("elsewhere"));
  std::filesystem::create_directory_symlink(dir_.Sub("elsewhere"), models + "/link");
  options.allowed_model_dirs = {models};
  Start();
  auto quick = [](const std::string& name, const std::string& encoder) {
    return json{{"collectionName", name},
                {"dimension", 8},
                {"params", {{"textField", "text"}, {"encoder", encoder}}}};
  };
  for (const std::string& encoder : std::vector<std::string>{
           "model:/etc", "model:" + models + "/../elsewhere", "model:" + models + "/link",
           "model:" + models + "/link/x", "model:", "model:relative/dir"}) {
    Reply r = Post("/v2/vectordb/collections/create", quick("m", encoder));
    EXPECT_EQ(r.status, 403) << encoder << " -> " << r.body;
    EXPECT_EQ(r.Json()["code"], 1401) << r.body;
    EXPECT_NE(r.body.find("--allow-model"), std::string::npos) << r.body;
    // The native API: 403 naming the option.
    r = Post("/api/v1/collections", {{"name", "m"}, {"encoder", encoder}});
    EXPECT_EQ(r.status, 403) << encoder << " -> " << r.body;
    EXPECT_EQ(r.Json()["error"]["code"], "forbidden");
    EXPECT_NE(r.body.find("--allow-model"), std::string::npos) << r.body;
  }
  // A TextEmbedding function's encoder param is checked the same way.
  Reply r = Post("/v2/vectordb/collections/create", json::parse(R"({"collectionName":"f","schema":{
      "fields":[{"fieldName":"id","dataType":"Int64","isPrimary":true},
                {"fieldName":"text","dataType":"VarChar","elementTypeParams":{"max_length":100}},
                {"fieldName":"vector","dataType":"FloatVector","elementTypeParams":{"dim":8}}],
      "functions":[{"name":"e","type":"TextEmbedding","inputFieldNames":["text"],
                    "outputFieldNames":["vector"],"params":{"encoder":"model:/usr"}}]}})"));
  EXPECT_EQ(r.status, 403) << r.body;
  // Inside the allowed folder the policy lets it through; the folder holds
  // no model, so the database refuses it (not 403).
  r = Post("/api/v1/collections", {{"name", "m"}, {"encoder", "model:" + models + "/missing"}});
  EXPECT_NE(r.status, 403) << r.body;
  EXPECT_GE(r.status, 400) << r.body;
  r = Post("/v2/vectordb/collections/create", quick("m", "model:" + models + "/./missing"));
  EXPECT_NE(r.Json()["code"], 1401) << r.body;
  EXPECT_NE(r.Json()["code"], 0) << r.body;
  // The built-in encoder and vector-only collections are always allowed.
  EXPECT_EQ(Milvus("collections/create", quick("h", "hash"))["code"], 0);
  EXPECT_EQ(Post("/api/v1/collections", {{"name", "n"}, {"encoder", "hash"}}).status, 201);
  EXPECT_EQ(Post("/api/v1/collections", {{"name", "v"}, {"encoder", "none"}, {"dim", 2}}).status,
            201);
  EXPECT_EQ(Milvus("collections/has", {{"collectionName", "m"}})["data"]["has"], false);
}

TEST_F(MilvusIndexTest, NoAllowedFoldersMeansNoModels) {
  Start();
  Reply r = Post("/api/v1/collections", {{"name", "m"}, {"encoder", "model:" + dir_.path()}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("none were named"), std::string::npos) << r.body;
}

}  // namespace
}  // namespace flashembed::server::testing
