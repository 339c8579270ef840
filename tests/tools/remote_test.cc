// flashembed push / pull (transfer/remote.h) against flashembed's own
// Milvus REST v2 server, run in-process on a loopback port over a second
// database: round trips (records bit-exact, search results equal), resumed
// pushes and pulls after a stop part-way, upserts, a Milvus-declared schema,
// VarChar ids that need escaping in the paging filter, and refusals that
// leave both sides unchanged.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <functional>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "server/server.h"
#include "tests/testing/process_util.h"
#include "tests/testing/test_util.h"
#include "transfer/http_client.h"
#include "transfer/milvus_client.h"
#include "transfer/remote.h"
#include "transfer/rows.h"

namespace flashembed::transfer {
namespace {

using flashembed::testing::TempDir;
using nlohmann::json;

std::vector<float> RandomVector(std::mt19937& rng, int dim) {
  std::normal_distribution<float> n(0.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(dim));
  for (float& x : v) x = n(rng);
  return v;
}

// Every record of a collection by id.
std::map<std::string, Document> Records(const Collection& c) {
  std::map<std::string, Document> out;
  EXPECT_OK(c.ScanRecords({}, [&](std::span<const Document> docs) {
    for (const Document& d : docs) out[d.id.ToString() + (d.id.is_int() ? "" : "s")] = d;
    return Status::OK();
  }));
  return out;
}

void ExpectSameRecords(const Collection& a, const Collection& b) {
  const auto x = Records(a);
  const auto y = Records(b);
  ASSERT_EQ(x.size(), y.size());
  for (const auto& [key, d] : x) {
    auto it = y.find(key);
    ASSERT_NE(it, y.end()) << "missing " << d.id;
    EXPECT_EQ(it->second.id, d.id);
    EXPECT_EQ(it->second.text, d.text) << d.id;
    EXPECT_EQ(json::parse(it->second.metadata), json::parse(d.metadata)) << d.id;
    ASSERT_EQ(it->second.vector.size(), d.vector.size()) << d.id;
    EXPECT_EQ(
        0, std::memcmp(it->second.vector.data(), d.vector.data(), d.vector.size() * sizeof(float)))
        << "vector of " << d.id;
  }
}

// A loopback port nothing listens on (it was free a moment ago).
uint16_t FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(local_, Database::Open({}, dir_.Sub("local")));
    ASSERT_OK_AND_ASSIGN(remote_db_, Database::Open({}, dir_.Sub("remote")));
    StartServer("");
  }
  void TearDown() override {
    if (server_) server_->Stop();
    server_.reset();
  }

  void StartServer(const std::string& token) {
    if (server_) {
      server_->Stop();
      server_->Wait();
      server_.reset();
    }
    server::ServerOptions options;
    options.port = 0;
    options.threads = 2;
    options.access_log = false;
    options.token = token;
    ASSERT_OK_AND_ASSIGN(server_, server::Server::Start(options, remote_db_.get()));
    remote_.url = "http://127.0.0.1:" + std::to_string(server_->port());
    remote_.token = token;
    remote_.retries = 0;
    remote_.timeout_ms = 30000;
  }

  // A vector-only flat collection of `n` records with ids 1..n, texts and
  // metadata of several JSON types; every 10th record deleted.
  std::shared_ptr<Collection> MakeNumbered(const std::string& name, int n, int dim = 8) {
    CollectionSchema schema{
        .dim = dim, .metric = Metric::kCosine, .index = IndexKind::kFlat, .encoder = ""};
    auto c = local_->CreateCollection(name, schema).value();
    std::mt19937 rng(7);
    std::vector<Document> docs;
    for (int i = 1; i <= n; ++i) {
      json meta = {{"n", i},
                   {"half", i * 0.5},
                   {"even", i % 2 == 0},
                   {"tag", "t" + std::to_string(i % 3)},
                   {"nested", {{"list", {i, "x", nullptr}}, {"deep", {{"k", "v"}}}}},
                   {"unicode", "žluťoučký \"kůň\" \\ ☃"}};
      docs.push_back({.id = Id(int64_t{i}),
                      .text = "text of record " + std::to_string(i),
                      .metadata = meta.dump(),
                      .vector = RandomVector(rng, dim)});
    }
    EXPECT_OK(c->Add({}, docs));
    std::vector<Id> gone;
    for (int i = 10; i <= n; i += 10) gone.emplace_back(int64_t{i});
    EXPECT_OK(c->Delete({}, gone).status());
    return c;
  }

  std::shared_ptr<Collection> RemoteCollection(const std::string& name) {
    return remote_db_->GetCollection(name).value();
  }

  // A Milvus REST call on the server; the whole reply.
  json Call(const std::string& route, const json& body) {
    auto client = HttpClient::Open(remote_.url, 19530, 30000).value();
    std::vector<std::pair<std::string, std::string>> headers;
    if (!remote_.token.empty()) headers.emplace_back("Authorization", "Bearer " + remote_.token);
    auto reply = client->Post("/v2/vectordb/" + route, body.dump(), headers);
    EXPECT_OK(reply.status());
    if (!reply.ok()) return json();
    return json::parse(reply->body);
  }

  TempDir dir_;
  std::unique_ptr<Database> local_;
  std::unique_ptr<Database> remote_db_;
  std::unique_ptr<server::Server> server_;
  RemoteOptions remote_;
};

TEST_F(RemoteTest, PushThenPullRoundTripsEveryRecordExactly) {
  auto source = MakeNumbered("src-coll", 250);
  ASSERT_OK_AND_ASSIGN(PushSummary pushed, PushCollection(*source, remote_, {.batch = 64}));
  EXPECT_TRUE(pushed.created);
  EXPECT_EQ(pushed.milvus_name, "src_coll");
  EXPECT_EQ(pushed.pk_type, "Int64");
  EXPECT_EQ(pushed.records, 225u);
  EXPECT_EQ(pushed.sent, 225u);
  EXPECT_EQ(pushed.skipped, 0u);
  EXPECT_EQ(pushed.remote_rows, 225u);
  EXPECT_GT(pushed.bytes, 225u * 8 * 4);

  // The Milvus side holds the rows as Milvus would: pk, vector, text and the
  // metadata as dynamic fields, flattened in query output.
  json got = Call("entities/get", {{"collectionName", "src_coll"}, {"id", {7}}});
  ASSERT_EQ(got["code"], 0) << got;
  ASSERT_EQ(got["data"].size(), 1u);
  EXPECT_EQ(got["data"][0]["id"], 7);
  EXPECT_EQ(got["data"][0]["text"], "text of record 7");
  EXPECT_EQ(got["data"][0]["tag"], "t1");
  EXPECT_EQ(got["data"][0]["nested"]["deep"]["k"], "v");
  json described = Call("collections/describe", {{"collectionName", "src_coll"}});
  EXPECT_EQ(described["data"]["enableDynamicField"], true);

  ASSERT_OK_AND_ASSIGN(
      PullSummary pulled,
      PullCollection(*local_, "copy", remote_, {.milvus_name = "src_coll", .batch = 50}));
  EXPECT_TRUE(pulled.created);
  EXPECT_EQ(pulled.remote_rows, 225u);
  EXPECT_EQ(pulled.received, 225u);
  EXPECT_EQ(pulled.skipped, 0u);
  auto copy = local_->GetCollection("copy").value();
  ExpectSameRecords(*source, *copy);
  const CollectionInfo info = copy->Describe().value();
  EXPECT_EQ(info.schema.dim, 8);
  EXPECT_EQ(info.schema.metric, Metric::kCosine);
  EXPECT_EQ(info.schema.index, IndexKind::kFlat);
  EXPECT_EQ(info.schema.encoder, "");

  // Exact (flat) search over the same vectors gives the same answers.
  std::mt19937 rng(99);
  for (int q = 0; q < 5; ++q) {
    const std::vector<float> query = RandomVector(rng, 8);
    SearchOptions options{.k = 10};
    auto a = source->Search(options, Query::Vector(query)).value();
    auto b = copy->Search(options, Query::Vector(query)).value();
    ASSERT_EQ(a.size(), b.size());
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(a[i].id, b[i].id);
      EXPECT_FLOAT_EQ(a[i].score, b[i].score);
    }
  }
}

TEST_F(RemoteTest, InterruptedPushResumesWithoutDuplicates) {
  auto source = MakeNumbered("big", 500);  // 450 records
  std::atomic<bool> cancel{false};
  PushOptions options{.batch = 40};
  options.cancel = &cancel;
  options.progress = [&](const Progress& p) {
    if (std::string(p.phase) == "push" && p.rows >= 120) cancel = true;
  };
  Result<PushSummary> first = PushCollection(*source, remote_, options);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kCancelled) << first.status();
  EXPECT_NE(first.status().message().find("push again"), std::string::npos);
  const uint64_t landed = RemoteCollection("big")->Describe().value().count;
  EXPECT_EQ(landed, 120u);

  cancel = false;
  options.progress = nullptr;
  ASSERT_OK_AND_ASSIGN(PushSummary second, PushCollection(*source, remote_, options));
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.skipped, 120u);
  EXPECT_EQ(second.sent, 330u);
  EXPECT_EQ(second.remote_rows, 450u);

  // Pushing once more sends nothing.
  ASSERT_OK_AND_ASSIGN(PushSummary third, PushCollection(*source, remote_, options));
  EXPECT_EQ(third.sent, 0u);
  EXPECT_EQ(third.skipped, 450u);
  EXPECT_EQ(third.remote_rows, 450u);

  ASSERT_OK(PullCollection(*local_, "back", remote_, {.milvus_name = "big"}).status());
  ExpectSameRecords(*source, *local_->GetCollection("back").value());
}

TEST_F(RemoteTest, InterruptedPullResumesFetchingOnlyMissingRows) {
  auto source = MakeNumbered("src", 300);  // 270 records
  ASSERT_OK(PushCollection(*source, remote_, {}).status());
  std::atomic<bool> cancel{false};
  PullOptions options{.milvus_name = "src", .batch = 25};
  options.cancel = &cancel;
  options.progress = [&](const Progress& p) {
    if (p.rows >= 100) cancel = true;
  };
  Result<PullSummary> first = PullCollection(*local_, "copy", remote_, options);
  ASSERT_FALSE(first.ok());
  EXPECT_EQ(first.status().code(), StatusCode::kCancelled) << first.status();
  auto copy = local_->GetCollection("copy").value();
  EXPECT_EQ(copy->Describe().value().count, 100u);  // whole pages only

  cancel = false;
  options.progress = nullptr;
  ASSERT_OK_AND_ASSIGN(PullSummary second, PullCollection(*local_, "copy", remote_, options));
  EXPECT_FALSE(second.created);
  EXPECT_EQ(second.skipped, 100u);
  EXPECT_EQ(second.received, 170u);
  ExpectSameRecords(*source, *copy);
}

TEST_F(RemoteTest, UpsertPushReplacesChangedRows) {
  auto source = MakeNumbered("u", 30);
  ASSERT_OK(PushCollection(*source, remote_, {}).status());
  std::mt19937 rng(3);
  const std::vector<Document> changed = {{.id = Id(int64_t{5}),
                                          .text = "changed",
                                          .metadata = R"({"tag":"new"})",
                                          .vector = RandomVector(rng, 8)}};
  ASSERT_OK(source->Upsert({}, changed));
  // Without --upsert the held id is skipped: the target keeps the old row.
  ASSERT_OK_AND_ASSIGN(PushSummary plain, PushCollection(*source, remote_, {}));
  EXPECT_EQ(plain.sent, 0u);
  json got = Call("entities/get", {{"collectionName", "u"}, {"id", 5}});
  EXPECT_EQ(got["data"][0]["text"], "text of record 5");

  ASSERT_OK_AND_ASSIGN(PushSummary upserted, PushCollection(*source, remote_, {.upsert = true}));
  EXPECT_EQ(upserted.sent, 27u);
  EXPECT_EQ(upserted.remote_rows, 27u);
  got = Call("entities/get", {{"collectionName", "u"}, {"id", 5}});
  EXPECT_EQ(got["data"][0]["text"], "changed");
  EXPECT_EQ(got["data"][0]["tag"], "new");
  EXPECT_FALSE(got["data"][0].contains("n"));
}

TEST_F(RemoteTest, StringIdsNeedingEscapesPageInOrder) {
  CollectionSchema schema{.dim = 4, .index = IndexKind::kFlat, .encoder = ""};
  auto c = local_->CreateCollection("strings", schema).value();
  const std::vector<std::string> ids = {"a\"b",    "back\\slash", "Zed",  "zed", "ü-umlaut",
                                        "日本",    "x y",         "q'uo", "0",   "00",
                                        "tab\tin", "line\nbreak", "{}",   "a",   "ab"};
  std::mt19937 rng(1);
  std::vector<Document> docs;
  for (const std::string& id : ids) {
    docs.push_back(
        {.id = Id(id), .metadata = json{{"id_copy", id}}.dump(), .vector = RandomVector(rng, 4)});
  }
  ASSERT_OK(c->Add({}, docs));
  ASSERT_OK_AND_ASSIGN(PushSummary pushed, PushCollection(*c, remote_, {.batch = 4}));
  EXPECT_EQ(pushed.pk_type, "VarChar");
  // Pages of 2 rows: every page boundary is a string literal in the filter.
  ASSERT_OK_AND_ASSIGN(PullSummary pulled, PullCollection(*local_, "back", remote_,
                                                          {.milvus_name = "strings", .batch = 2}));
  EXPECT_EQ(pulled.received, ids.size());
  ExpectSameRecords(*c, *local_->GetCollection("back").value());
}

TEST_F(RemoteTest, LongDocumentChunksTravelAsRows) {
  auto c = local_->CreateCollection("notes", {}).value();  // hashing encoder
  std::string text;
  for (int i = 0; i < 120; ++i) text += "Sentence number " + std::to_string(i) + " of the notes. ";
  const std::vector<SourceDocument> sources = {{.id = "guide", .text = text, .title = "Guide"},
                                               {.id = "short", .text = "Just one line."}};
  ASSERT_OK(c->PutDocuments({}, {.chunk_tokens = 64, .overlap_tokens = 8}, sources).status());
  const uint64_t chunks = c->Describe().value().count;
  ASSERT_GT(chunks, 3u);
  ASSERT_OK_AND_ASSIGN(PushSummary pushed, PushCollection(*c, remote_, {}));
  EXPECT_EQ(pushed.sent, chunks);
  json got = Call("entities/get", {{"collectionName", "notes"}, {"id", "guide#1"}});
  ASSERT_EQ(got["data"].size(), 1u) << got;
  EXPECT_EQ(got["data"][0]["doc"]["id"], "guide");
  EXPECT_EQ(got["data"][0]["chunk"]["n"], 1);

  // Pulled with the same encoder, text queries work on the copy and find
  // the same chunks as on the source.
  ASSERT_OK(PullCollection(*local_, "copy", remote_, {.milvus_name = "notes", .encoder = "hash"})
                .status());
  auto copy = local_->GetCollection("copy").value();
  ExpectSameRecords(*c, *copy);
  EXPECT_EQ(copy->Describe().value().documents, 0u);  // document records stay behind
  auto a = c->Search({.k = 3}, Query::Text("sentence number 77")).value();
  auto b = copy->Search({.k = 3}, Query::Text("sentence number 77")).value();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i].id, b[i].id);
}

TEST_F(RemoteTest, PullsAMilvusDeclaredSchema) {
  json create = json::parse(R"({
    "collectionName": "articles",
    "schema": {"autoID": false, "enableDynamicField": true, "fields": [
      {"fieldName": "doc_id", "dataType": "VarChar", "isPrimary": true,
       "elementTypeParams": {"max_length": 64}},
      {"fieldName": "title", "dataType": "VarChar", "elementTypeParams": {"max_length": 128}},
      {"fieldName": "year", "dataType": "Int32"},
      {"fieldName": "tags", "dataType": "Array", "elementDataType": "VarChar",
       "elementTypeParams": {"max_capacity": 8, "max_length": 16}},
      {"fieldName": "extra", "dataType": "JSON", "nullable": true},
      {"fieldName": "embedding", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}}]},
    "indexParams": [{"fieldName": "embedding", "metricType": "IP",
                     "params": {"index_type": "HNSW", "M": 8, "efConstruction": 64}}]})");
  ASSERT_EQ(Call("collections/create", create)["code"], 0);
  json rows = json::array();
  for (int i = 0; i < 23; ++i) {
    rows.push_back({{"doc_id", "d" + std::to_string(100 + i)},
                    {"title", "Title " + std::to_string(i)},
                    {"year", 2000 + i},
                    {"tags", {"a", "t" + std::to_string(i)}},
                    {"extra", i % 2 ? json{{"k", i}} : json(nullptr)},
                    {"embedding", {0.25 * i, 1.0, -0.5, 0.125}},
                    {"color", i % 3 ? "red" : "blue"}});
  }
  json inserted = Call("entities/insert", {{"collectionName", "articles"}, {"data", rows}});
  ASSERT_EQ(inserted["code"], 0) << inserted;

  ASSERT_OK_AND_ASSIGN(PullSummary pulled, PullCollection(*local_, "articles", remote_,
                                                          {.milvus_name = "articles", .batch = 5}));
  EXPECT_EQ(pulled.received, 23u);
  auto c = local_->GetCollection("articles").value();
  const CollectionInfo info = c->Describe().value();
  EXPECT_EQ(info.schema.metric, Metric::kInnerProduct);
  EXPECT_EQ(info.schema.index, IndexKind::kHnsw);
  EXPECT_EQ(info.schema.hnsw.m, 8);
  EXPECT_EQ(info.schema.hnsw.ef_construction, 64);
  const std::vector<Id> wanted = {Id("d107"), Id("d108")};
  auto docs = c->GetMany(wanted, true).value();
  ASSERT_EQ(docs.size(), 2u);
  for (const Document& d : docs) {
    const json meta = json::parse(d.metadata);
    const int i = std::stoi(d.id.as_string().substr(1)) - 100;
    EXPECT_EQ(meta["title"], "Title " + std::to_string(i));
    EXPECT_EQ(meta["year"], 2000 + i);
    EXPECT_EQ(meta["tags"], json({"a", "t" + std::to_string(i)}));
    const json extra = i % 2 ? json{{"k", i}} : json(nullptr);
    EXPECT_EQ(meta["extra"], extra);
    EXPECT_EQ(meta["color"], i % 3 ? "red" : "blue");
    EXPECT_EQ(d.vector, (std::vector<float>{0.25f * i, 1.0f, -0.5f, 0.125f}));
  }
}

TEST_F(RemoteTest, IncompatibleTargetIsRefusedAndUntouched) {
  auto small = MakeNumbered("same", 12, /*dim=*/4);
  ASSERT_OK(PushCollection(*small, remote_, {}).status());
  local_->DropCollection("same").IgnoreError();
  auto wide = MakeNumbered("same", 30, /*dim=*/8);
  Result<PushSummary> refused = PushCollection(*wide, remote_, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("dim 4"), std::string::npos) << refused.status();
  EXPECT_NE(refused.status().message().find("--name"), std::string::npos) << refused.status();
  EXPECT_EQ(RemoteCollection("same")->Describe().value().count, 11u);

  // A pull into a local collection of another dimension writes nothing.
  Result<PullSummary> pulled = PullCollection(*local_, "same", remote_, {.milvus_name = "same"});
  ASSERT_FALSE(pulled.ok());
  EXPECT_EQ(pulled.status().code(), StatusCode::kInvalidArgument) << pulled.status();
  EXPECT_NE(pulled.status().message().find("dim"), std::string::npos) << pulled.status();
  EXPECT_EQ(wide->Describe().value().count, 27u);
}

// Rows the target cannot take are found before anything is created or
// sent: a metadata key that is a field name, a required field the rows do
// not carry.
TEST_F(RemoteTest, UnfitRowsAreRefusedBeforeAnythingIsSent) {
  auto c = MakeNumbered("clash", 12);
  std::mt19937 rng(5);
  const std::vector<Document> odd = {
      {.id = Id(int64_t{7}), .metadata = R"({"vector":"oops"})", .vector = RandomVector(rng, 8)}};
  ASSERT_OK(c->Upsert({}, odd));
  Result<PushSummary> r = PushCollection(*c, remote_, {});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("record 7"), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("\"vector\""), std::string::npos) << r.status();
  EXPECT_FALSE(remote_db_->GetCollection("clash").ok());  // not even created

  json create = {{"collectionName", "strict"},
                 {"schema",
                  {{"enableDynamicField", true},
                   {"fields",
                    {{{"fieldName", "id"}, {"dataType", "Int64"}, {"isPrimary", true}},
                     {{"fieldName", "text"},
                      {"dataType", "VarChar"},
                      {"elementTypeParams", {{"max_length", 256}}}},
                     {{"fieldName", "year"}, {"dataType", "Int32"}},
                     {{"fieldName", "vector"},
                      {"dataType", "FloatVector"},
                      {"elementTypeParams", {{"dim", 8}}}}}}}},
                 {"indexParams", {{{"fieldName", "vector"}, {"metricType", "COSINE"}}}}};
  ASSERT_EQ(Call("collections/create", create)["code"], 0);
  auto plain = MakeNumbered("strict", 5);
  Result<PushSummary> strict = PushCollection(*plain, remote_, {});
  ASSERT_FALSE(strict.ok());
  EXPECT_NE(strict.status().message().find("\"year\" (Int32) is required"), std::string::npos)
      << strict.status();
  EXPECT_EQ(RemoteCollection("strict")->Describe().value().count, 0u);
}

TEST_F(RemoteTest, ClearErrorsForBadRemotes) {
  auto c = MakeNumbered("c", 5);
  RemoteOptions closed = remote_;
  closed.url = "http://127.0.0.1:" + std::to_string(FreePort());
  Result<PushSummary> down = PushCollection(*c, closed, {});
  ASSERT_FALSE(down.ok());
  EXPECT_EQ(down.status().code(), StatusCode::kIOError);
  EXPECT_NE(down.status().message().find("cannot connect"), std::string::npos) << down.status();

  for (const char* url :
       {"https://127.0.0.1:1", "ftp://x", "http://", "http://h:99999", "http://user:pw@h:1"}) {
    RemoteOptions bad = remote_;
    bad.url = url;
    Result<PushSummary> r = PushCollection(*c, bad, {});
    ASSERT_FALSE(r.ok()) << url;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << url << ": " << r.status();
  }

  // A server that is not Milvus's REST API (the native API's prefix).
  RemoteOptions native = remote_;
  native.url = remote_.url + "/api/v1";
  Result<PushSummary> wrong = PushCollection(*c, native, {});
  ASSERT_FALSE(wrong.ok());
  EXPECT_EQ(wrong.status().code(), StatusCode::kIOError) << wrong.status();

  Result<PullSummary> missing =
      PullCollection(*local_, "nothing", remote_, {.milvus_name = "no_such"});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kNotFound) << missing.status();
  EXPECT_FALSE(local_->GetCollection("nothing").ok());

  EXPECT_FALSE(PushCollection(*c, remote_, {.batch = 0}).ok());
  EXPECT_FALSE(PullCollection(*local_, "x", remote_, {.milvus_name = ""}).ok());
}

TEST_F(RemoteTest, TokenIsSentAndAWrongOneRefused) {
  StartServer("s3cret");
  auto c = MakeNumbered("guarded", 6);
  RemoteOptions wrong = remote_;
  wrong.token = "nope";
  Result<PushSummary> refused = PushCollection(*c, wrong, {});
  ASSERT_FALSE(refused.ok());
  EXPECT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(refused.status().message().find("401"), std::string::npos) << refused.status();
  EXPECT_FALSE(remote_db_->GetCollection("guarded").ok());
  ASSERT_OK_AND_ASSIGN(PushSummary pushed, PushCollection(*c, remote_, {}));
  EXPECT_EQ(pushed.remote_rows, 6u);
}

TEST_F(RemoteTest, CliPushAndPull) {
  {
    auto db = Database::Open({}, dir_.Sub("cli")).value();
    auto notes = db->CreateCollection("my-notes", {}).value();  // hashing encoder
    std::vector<Document> docs;
    for (int i = 0; i < 17; ++i) {
      docs.push_back({.id = Id("n" + std::to_string(i)),
                      .text = "note number " + std::to_string(i) + " about rivers and hills",
                      .metadata = json{{"i", i}}.dump()});
    }
    ASSERT_OK(notes->Add({}, docs));
  }
  auto run = [&](std::vector<std::string> args, testing::RunOptions options = {}) {
    args.insert(args.begin(), FLASHEMBED_CLI_PATH);
    return testing::RunProgram(dir_.path(), std::move(args), options);
  };
  testing::RunResult pushed =
      run({"--db", "cli", "push", "-c", "my-notes", "--to", remote_.url, "--batch", "5"});
  ASSERT_EQ(pushed.exit_code, 0) << pushed.err;
  const json summary = json::parse(pushed.out);
  EXPECT_EQ(summary["milvus_collection"], "my_notes");
  EXPECT_EQ(summary["created"], true);
  EXPECT_EQ(summary["sent"], 17);
  EXPECT_EQ(summary["remote_rows"], 17);

  // On a terminal: a human summary; pushing again skips every row.
  testing::RunResult again =
      run({"--db", "cli", "push", "-c", "my-notes", "--to", remote_.url}, {.terminal = true});
  ASSERT_EQ(again.exit_code, 0) << again.out;
  EXPECT_NE(again.out.find("pushed 0 of 17 records"), std::string::npos) << again.out;
  EXPECT_NE(again.out.find("17 already there"), std::string::npos) << again.out;

  // Without -c the local collection takes the Milvus name.
  testing::RunResult pulled = run({"--db", "cli2", "pull", "--from", remote_.url, "--name",
                                   "my_notes", "--encoder", "hash", "--batch", "4"});
  ASSERT_EQ(pulled.exit_code, 0) << pulled.err;
  EXPECT_EQ(json::parse(pulled.out)["received"], 17);
  testing::RunResult found =
      run({"--db", "cli2", "--json", "search", "-c", "my_notes", "note number 12", "-k", "1"});
  ASSERT_EQ(found.exit_code, 0) << found.err;
  EXPECT_NE(found.out.find("\"n12\""), std::string::npos) << found.out;

  // Usage errors exit 2 and name the option; a dead Milvus exits 1.
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"--db", "cli", "push", "-c", "my-notes"},
        {"--db", "cli", "push", "-c", "my-notes", "--to", remote_.url, "--progress", "loud"},
        {"--db", "cli", "push", "-c", "my-notes", "--to", remote_.url, "--name", "bad-name"},
        {"--db", "cli", "push", "-c", "my-notes", "--to", "https://x"},
        {"--db", "cli2", "pull", "--from", remote_.url},
        {"--db", "cli2", "pull", "--from", remote_.url, "--name", "my_notes", "--encoder", "hash",
         "--model", "/nowhere"}}) {
    testing::RunResult r = run(bad);
    EXPECT_EQ(r.exit_code, 2) << bad[2] << " " << bad.back() << ": " << r.err;
    EXPECT_FALSE(r.err.empty());
  }
  testing::RunResult down = run(
      {"--db", "cli", "push", "-c", "my-notes", "--to", "http://127.0.0.1:1", "--retries", "0"});
  EXPECT_EQ(down.exit_code, 1);
  EXPECT_NE(down.err.find("cannot connect"), std::string::npos) << down.err;
}

// One client outlives failures: a refused connection, then a server that
// appears, stops (breaking the kept-alive connection) and comes back.
TEST(HttpClientTest, ReconnectsAfterFailures) {
  TempDir dir;
  auto db = Database::Open({}, dir.Sub("db")).value();
  const uint16_t port = FreePort();
  auto client = HttpClient::Open("http://127.0.0.1:" + std::to_string(port), 19530, 5000).value();
  EXPECT_EQ(client->endpoint(), "127.0.0.1:" + std::to_string(port));
  Result<HttpReply> refused = client->Post("/v2/vectordb/collections/list", "{}", {});
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.status().message().find("cannot connect"), std::string::npos);

  server::ServerOptions options;
  options.port = port;
  options.access_log = false;
  options.shutdown_grace_ms = 100;
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK_AND_ASSIGN(auto server, server::Server::Start(options, db.get()));
    Result<HttpReply> ok = client->Post("/v2/vectordb/collections/list", "{}", {});
    if (round == 1) {
      // The connection kept alive across the restart is dead: the request
      // fails as a stale one (no answer at all), and the next one reconnects.
      ASSERT_FALSE(ok.ok());
      EXPECT_TRUE(client->stale_failure()) << ok.status();
      ok = client->Post("/v2/vectordb/collections/list", "{}", {});
    }
    ASSERT_OK(ok.status());
    EXPECT_FALSE(client->stale_failure());
    EXPECT_EQ(ok->status, 200);
    EXPECT_EQ(json::parse(ok->body)["code"], 0);
    Result<HttpReply> again = client->Post("/v2/vectordb/collections/list", "{}", {});
    ASSERT_OK(again.status());  // kept alive
    server->Stop();
    server->Wait();
  }

  // The Milvus client sends a request lost that way again at once, even
  // with no retries allowed.
  RemoteOptions remote{.url = "http://127.0.0.1:" + std::to_string(port), .retries = 0};
  auto milvus = MilvusClient::Open(remote).value();
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK_AND_ASSIGN(auto server, server::Server::Start(options, db.get()));
    SCOPED_TRACE(round);
    ASSERT_OK(milvus->Call("collections/list", "{}").status());
    server->Stop();
    server->Wait();
  }
  EXPECT_EQ(milvus->requests(), 3u);  // the second round's first attempt was lost
}

// A loopback proxy in front of the real server that injects transport
// faults: per request (counted from 1) it forwards, answers 503, or
// forwards and then closes the connection without passing the answer on
// (the request was handled, the client cannot know).
class FaultyProxy {
 public:
  enum class Fault { kPass, kUnavailable, kLoseAnswer };
  using Plan = std::function<Fault(int n, const std::string& path)>;

  FaultyProxy(uint16_t upstream, Plan plan) : upstream_(upstream), plan_(std::move(plan)) {
    listener_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(listener_, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    socklen_t len = sizeof addr;
    getsockname(listener_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
    EXPECT_EQ(listen(listener_, 16), 0);
    thread_ = std::thread([this] { Loop(); });
  }
  ~FaultyProxy() {
    shutdown(listener_, SHUT_RDWR);
    close(listener_);
    thread_.join();
  }
  uint16_t port() const { return port_; }
  std::vector<std::string> paths() {
    std::lock_guard<std::mutex> lock(mu_);
    return paths_;
  }

 private:
  void Loop() {
    while (true) {
      const int fd = accept(listener_, nullptr, nullptr);
      if (fd < 0) return;
      Serve(fd);  // one connection at a time: the client under test has one
      close(fd);
    }
  }

  // Reads one request; false when the client closed.
  static bool ReadRequest(int fd, std::string* path, std::string* body) {
    std::string data;
    char buf[65536];
    size_t header_end;
    while ((header_end = data.find("\r\n\r\n")) == std::string::npos) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      data.append(buf, static_cast<size_t>(n));
    }
    const std::string head = data.substr(0, header_end);
    const size_t sp = head.find(' ');
    *path = head.substr(sp + 1, head.find(' ', sp + 1) - sp - 1);
    size_t length = 0;
    std::string lower = head;
    for (char& c : lower) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (const size_t at = lower.find("content-length:"); at != std::string::npos) {
      length = std::stoul(head.substr(at + 15));
    }
    *body = data.substr(header_end + 4);
    while (body->size() < length) {
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) return false;
      body->append(buf, static_cast<size_t>(n));
    }
    return true;
  }

  static void WriteAll(int fd, const std::string& data) {
    size_t done = 0;
    while (done < data.size()) {
      const ssize_t n = write(fd, data.data() + done, data.size() - done);
      if (n <= 0) return;
      done += static_cast<size_t>(n);
    }
  }

  void Serve(int fd) {
    auto upstream =
        HttpClient::Open("http://127.0.0.1:" + std::to_string(upstream_), 19530, 30000).value();
    std::string path;
    std::string body;
    while (ReadRequest(fd, &path, &body)) {
      int n;
      {
        std::lock_guard<std::mutex> lock(mu_);
        paths_.push_back(path);
        n = static_cast<int>(paths_.size());
      }
      const Fault fault = plan_(n, path);
      if (fault == Fault::kUnavailable) {
        WriteAll(fd,
                 "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n"
                 "Connection: close\r\n\r\n");
        return;
      }
      Result<HttpReply> reply = upstream->Post(path, body, {{"Accept-Type-Allow-Int64", "true"}});
      if (!reply.ok() || fault == Fault::kLoseAnswer) return;
      WriteAll(fd, "HTTP/1.1 " + std::to_string(reply->status) +
                       " X\r\nContent-Type: application/json\r\nContent-Length: " +
                       std::to_string(reply->body.size()) + "\r\n\r\n" + reply->body);
    }
  }

  uint16_t upstream_;
  Plan plan_;
  int listener_ = -1;
  uint16_t port_ = 0;
  std::thread thread_;
  std::mutex mu_;
  std::vector<std::string> paths_;
};

// A lost answer to an insert is retried as an upsert (Milvus would store
// an insert twice), 503s are retried, and the copy is exact.
TEST_F(RemoteTest, TransportFaultsAreRetriedWithoutDuplicates) {
  auto source = MakeNumbered("flaky", 110);  // 99 records
  FaultyProxy proxy(server_->port(), [&](int, const std::string& path) {
    return path.ends_with("/collections/has") ? FaultyProxy::Fault::kUnavailable
                                              : FaultyProxy::Fault::kPass;
  });
  RemoteOptions flaky = remote_;
  flaky.url = "http://127.0.0.1:" + std::to_string(proxy.port());
  flaky.retries = 0;
  Result<PushSummary> no_retries = PushCollection(*source, flaky, {.batch = 20});
  ASSERT_FALSE(no_retries.ok());
  EXPECT_EQ(no_retries.status().code(), StatusCode::kIOError);
  EXPECT_NE(no_retries.status().message().find("503"), std::string::npos) << no_retries.status();

  // collections/has fails once more per call below, then passes.
  bool has_failed = false;
  int inserts = 0;
  FaultyProxy second(server_->port(), [&](int, const std::string& path) {
    if (path.ends_with("/collections/has") && !has_failed) {
      has_failed = true;
      return FaultyProxy::Fault::kUnavailable;
    }
    if (path.ends_with("/entities/insert") && ++inserts == 2) {
      return FaultyProxy::Fault::kLoseAnswer;
    }
    return FaultyProxy::Fault::kPass;
  });
  flaky.url = "http://127.0.0.1:" + std::to_string(second.port());
  flaky.retries = 2;
  ASSERT_OK_AND_ASSIGN(PushSummary pushed, PushCollection(*source, flaky, {.batch = 20}));
  EXPECT_EQ(pushed.sent, 99u);
  EXPECT_EQ(pushed.remote_rows, 99u);
  const std::vector<std::string> paths = second.paths();
  std::vector<std::string> writes;
  for (const std::string& p : paths) {
    if (p.ends_with("/entities/insert") || p.ends_with("/entities/upsert")) {
      writes.push_back(p.substr(p.rfind('/') + 1));
    }
  }
  const std::vector<std::string> expected = {"insert", "insert", "upsert",
                                             "insert", "insert", "insert"};
  EXPECT_EQ(writes, expected);
  EXPECT_EQ(pushed.requests, paths.size());  // every attempt counted

  ASSERT_OK(PullCollection(*local_, "back", remote_, {.milvus_name = "flaky"}).status());
  ExpectSameRecords(*source, *local_->GetCollection("back").value());
}

TEST(MilvusClientText, FilterLiteralsAndRawJson) {
  EXPECT_EQ(FilterStringLiteral("plain"), "\"plain\"");
  EXPECT_EQ(FilterStringLiteral("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(FilterStringLiteral("x\ny"), "\"x\\u000ay\"");
  ASSERT_OK_AND_ASSIGN(auto elements, RawArrayElements(R"( [ {"a":"]"}, 1.5e3 ,"s\"",[[]] ] )"));
  ASSERT_EQ(elements.size(), 4u);
  EXPECT_EQ(elements[0], R"({"a":"]"})");
  EXPECT_EQ(elements[1], "1.5e3");
  EXPECT_EQ(elements[2], R"("s\"")");
  EXPECT_EQ(elements[3], "[[]]");
  ASSERT_OK_AND_ASSIGN(auto members, RawObjectMembers(R"({"code":0,"data":[1,2],"m":"}"})"));
  ASSERT_EQ(members.size(), 3u);
  EXPECT_EQ(members[1].first, "data");
  EXPECT_EQ(members[1].second, "[1,2]");
  EXPECT_FALSE(RawArrayElements("[1,2").ok());
  EXPECT_FALSE(RawArrayElements("[1,2] x").ok());
  EXPECT_FALSE(RawObjectMembers("{\"a\" 1}").ok());
}

TEST(MilvusClientText, ReadsMilvus25ArrayShape) {
  RowSchema schema;
  schema.pk = {.name = "id", .type = "Int64"};
  schema.vector = {.name = "v", .type = "FloatVector"};
  schema.dim = 2;
  schema.scalars.push_back({.name = "tags", .type = "Array", .element_type = "VarChar"});
  schema.scalars.push_back({.name = "nums", .type = "Array", .element_type = "Int64"});
  const std::string row =
      R"({"id":1,"v":[0.5,1],"tags":{"Data":{"StringData":{"data":["a","b"]}}},)"
      R"("nums":{"Data":{"LongData":{}}}})";
  RowValues values;
  ASSERT_OK(ParseJsonRow(row, schema, /*milvus_output=*/true, &values));
  EXPECT_EQ(values.fields["tags"], json({"a", "b"}));
  EXPECT_EQ(values.fields["nums"], json::array());
  EXPECT_EQ(values.vector, (std::vector<float>{0.5f, 1.0f}));
  // Files follow the bulk-import rules: an array must be an array there.
  Status file_rule = ParseJsonRow(row, schema, /*milvus_output=*/false, &values);
  EXPECT_EQ(file_rule.code(), StatusCode::kInvalidArgument) << file_rule;
}

}  // namespace
}  // namespace flashembed::transfer
