// Close/reopen keeps every document, vector and delete; damaged or foreign
// state is refused or repaired, never silently wrong.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <random>

#include "query/database.h"
#include "storage/records.h"
#include "storage/store.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

std::vector<float> RandomVector(std::mt19937& rng, int dim) {
  std::normal_distribution<float> normal;
  std::vector<float> v(dim);
  for (float& x : v) x = normal(rng);
  return v;
}

// Writes `n` vector documents, deletes every 4th, upserts every 7th.
struct Workload {
  std::map<int64_t, std::vector<float>> live;
  void Run(Collection& c, int n, uint32_t seed) {
    std::mt19937 rng(seed);
    std::vector<Document> docs;
    for (int i = 0; i < n; ++i) {
      docs.push_back({.id = i,
                      .text = "doc " + std::to_string(i),
                      .metadata = "{\"i\":" + std::to_string(i) + "}",
                      .vector = RandomVector(rng, 12)});
      live[i] = docs.back().vector;
    }
    ASSERT_OK(c.Add({}, docs));
    std::vector<Id> gone;
    for (int i = 0; i < n; i += 4) {
      gone.push_back(i);
      live.erase(i);
    }
    ASSERT_OK(c.Delete({}, gone).status());
    std::vector<Document> upserts;
    for (int i = 1; i < n; i += 7) {
      upserts.push_back(
          {.id = i, .text = "new " + std::to_string(i), .vector = RandomVector(rng, 12)});
      live[i] = upserts.back().vector;
    }
    ASSERT_OK(c.Upsert({}, upserts));
  }

  void Check(Collection& c) {
    ASSERT_OK_AND_ASSIGN(uint64_t n, c.Count());
    EXPECT_EQ(n, live.size());
    for (const auto& [id, vec] : live) {
      ASSERT_OK_AND_ASSIGN(Document d, c.Get(id));
      EXPECT_EQ(d.vector, vec) << id;
      // Each document is its own nearest neighbour.
      ASSERT_OK_AND_ASSIGN(auto hits,
                           c.Search({.k = 1, .ef_search = 200, .mode = SearchMode::kApproximate},
                                    Query::Vector(vec)));
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].id, Id(id));
    }
    for (int64_t id = 0; id < 400; ++id) {
      if (live.count(id) == 0) {
        EXPECT_TRUE(c.Get(id).status().IsNotFound()) << id;
      }
    }
  }
};

TEST(Persistence, CloseReopenKeepsDocumentsVectorsAndDeletes) {
  TempDir dir;
  Workload w;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(
        auto c, db->CreateCollection("v", {.dim = 12, .metric = Metric::kL2, .encoder = ""}));
    w.Run(*c, 400, 1);
    ASSERT_OK_AND_ASSIGN(auto t, db->CreateCollection("t", {}));
    std::vector<Document> docs = {
        {.id = "x", .text = "persistent text", .metadata = R"({"k":[1,2]})"}};
    ASSERT_OK(t->Add({}, docs));
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  ASSERT_EQ(list.size(), 2u);
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("v"));
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, c->Describe());
  EXPECT_EQ(info.schema.metric, Metric::kL2);
  EXPECT_EQ(info.schema.dim, 12);
  EXPECT_EQ(info.schema.encoder, "");
  w.Check(*c);
  ASSERT_OK_AND_ASSIGN(auto t, db->GetCollection("t"));
  ASSERT_OK_AND_ASSIGN(auto hits, t->Search({.k = 1}, Query::Text("persistent")));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, Id("x"));
  EXPECT_EQ(hits[0].metadata, R"({"k":[1,2]})");
}

// Writes after a snapshot are replayed from the log on open; a later close
// snapshots again; a third open still sees everything.
TEST(Persistence, ReplaysWritesMadeAfterTheSnapshot) {
  TempDir dir;
  Workload w;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({.snapshot_every_ops = 0}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = 12, .encoder = ""}));
    w.Run(*c, 200, 2);
    ASSERT_OK(c->Snapshot());
    std::mt19937 rng(3);
    std::vector<Document> more;
    for (int i = 200; i < 400; ++i) {
      more.push_back({.id = i, .vector = RandomVector(rng, 12)});
      w.live[i] = more.back().vector;
    }
    ASSERT_OK(c->Add({}, more));
    std::vector<Id> gone = {5, 9, 204};
    for (auto& id : gone) w.live.erase(id.as_int());
    ASSERT_OK(c->Delete({}, gone).status());
  }
  for (int round = 0; round < 2; ++round) {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("v"));
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
    EXPECT_EQ(n, w.live.size());
    for (const auto& [id, vec] : w.live) {
      ASSERT_OK_AND_ASSIGN(auto hits,
                           c->Search({.k = 1, .ef_search = 200, .mode = SearchMode::kApproximate},
                                     Query::Vector(vec)));
      EXPECT_EQ(hits[0].id, Id(id));
    }
    EXPECT_TRUE(c->Get(204).status().IsNotFound());
  }
}

// A damaged index snapshot is not fatal: the vectors are the truth and the
// index is rebuilt from them.
TEST(Persistence, DamagedSnapshotIsRebuiltFromVectors) {
  TempDir dir;
  Workload w;
  uint32_t cid = 0;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("v", {.dim = 12, .encoder = ""}));
    w.Run(*c, 300, 4);
  }
  {
    ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(std::string rec,
                         store->Get(storage::Cf::kCatalog, storage::CollectionKey("v")));
    ASSERT_OK_AND_ASSIGN(auto record, storage::DecodeCollection(rec));
    cid = record.cid;
    ASSERT_OK_AND_ASSIGN(std::string part,
                         store->Get(storage::Cf::kSnapshots, storage::SnapshotPartKey(cid, 0)));
    part[part.size() / 2] ^= 0x40;
    storage::WriteBatch b;
    b.Put(storage::Cf::kSnapshots, storage::SnapshotPartKey(cid, 0), part);
    ASSERT_OK(store->Write(b, true));
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("v"));
  w.Check(*c);
}

// The encoder identity is stored with the collection; a build that does not
// know it refuses the collection instead of producing garbage vectors.
TEST(Persistence, UnknownEncoderIsAClearError) {
  TempDir dir;
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", {}));
    std::vector<Document> docs = {{.id = 1, .text = "hello"}};
    ASSERT_OK(c->Add({}, docs));
  }
  {
    ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(std::string rec,
                         store->Get(storage::Cf::kCatalog, storage::CollectionKey("t")));
    ASSERT_OK_AND_ASSIGN(auto record, storage::DecodeCollection(rec));
    EXPECT_EQ(record.encoder_spec.rfind("hash/v1", 0), 0u) << record.encoder_spec;
    record.encoder_spec = "hash/v9;dim=384";  // as a future build would write it
    storage::WriteBatch b;
    b.Put(storage::Cf::kCatalog, storage::CollectionKey("t"), storage::EncodeCollection(record));
    ASSERT_OK(store->Write(b, true));
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  auto c = db->GetCollection("t");
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kNotSupported) << c.status();
  EXPECT_NE(c.status().message().find("hash/v9"), std::string::npos) << c.status();
  // It can still be dropped.
  ASSERT_OK(db->DropCollection("t"));
}

// A collection embedding with a local Hugging Face model: texts in, model
// vectors stored, the model's identity checked when the collection reopens.
TEST(Persistence, ModelCollectionRoundTripAndIdentityCheck) {
  TempDir dir;
  const std::string model = dir.Sub("model");
  std::filesystem::copy(
      std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert/mean_norm_f32", model,
      std::filesystem::copy_options::recursive);
  std::vector<Document> docs = {{.id = 1, .text = "w1 w2 w3 w4"},
                                {.id = 2, .text = "w50 w60 w70"},
                                {.id = 3, .text = "w1 w2 w3 w9"}};
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("m", {.encoder = "model:" + model}));
    ASSERT_OK_AND_ASSIGN(CollectionInfo info, c->Describe());
    EXPECT_EQ(info.schema.dim, 32);
    EXPECT_EQ(info.schema.encoder, "model:" + model);
    EXPECT_EQ(info.encoder_spec.rfind("bert/v1;id=", 0), 0u) << info.encoder_spec;
    ASSERT_OK(c->Add({}, docs));
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 3}, Query::Text("w1 w2 w3 w4")));
    ASSERT_EQ(hits.size(), 3u);
    EXPECT_EQ(hits[0].id, Id(1));
    EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
    // The same schema is accepted again; another model is not.
    EXPECT_TRUE(db->GetOrCreateCollection("m", {.encoder = "model:" + model}).ok());
    auto other = db->GetOrCreateCollection("m", {});
    EXPECT_NE(other.status().message().find("encoder: stored bert/v1"), std::string::npos)
        << other.status();
  }
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("m"));
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 1}, Query::Text("w50 w60 w70")));
    EXPECT_EQ(hits[0].id, Id(2));
  }
  // The model folder changes under the collection: refused on open, naming it.
  std::ofstream(model + "/sentence_bert_config.json") << R"({"max_seq_length": 16})";
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
  auto c = db->GetCollection("m");
  ASSERT_FALSE(c.ok());
  EXPECT_NE(c.status().message().find("changed since"), std::string::npos) << c.status();
  EXPECT_NE(c.status().message().find(model), std::string::npos) << c.status();
}

TEST(Persistence, ForeignOrFutureFoldersAreRefused) {
  TempDir dir;
  auto missing = Database::Open({.create_if_missing = false}, dir.Sub("none"));
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status();
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, dir.Sub("db")));
    // Only one process (or handle) at a time.
    auto second = Database::Open({}, dir.Sub("db"));
    EXPECT_EQ(second.status().code(), StatusCode::kIOError) << second.status();
  }
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({.create_if_missing = false}, dir.Sub("db")));
}

}  // namespace
}  // namespace flashembed
