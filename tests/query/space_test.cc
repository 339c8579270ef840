// Disk space and backups: Database::Backup under a steady insert load always
// holds a prefix of the acknowledged writes and opens as a database;
// deleting most of a collection, dropping one and upserting the same
// records again give their space back, with Compact() at once and without
// it in the background; CollectionInfo::disk_bytes follows.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "query/database.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

constexpr int kDim = 64;

std::vector<float> RandomVector(std::mt19937& rng) {
  std::normal_distribution<float> g;
  std::vector<float> v(kDim);
  for (float& x : v) x = g(rng);
  return v;
}

std::vector<Document> Batch(std::mt19937& rng, int64_t first, int64_t n) {
  std::vector<Document> docs;
  for (int64_t i = first; i < first + n; ++i) {
    docs.push_back({.id = Id(i),
                    .text = "",
                    .metadata = "{\"i\":" + std::to_string(i) + "}",
                    .vector = RandomVector(rng)});
  }
  return docs;
}

CollectionSchema VectorsOnly() {
  CollectionSchema schema;
  schema.dim = kDim;
  schema.encoder = "";
  return schema;
}

// Polls `bytes()` until it is at most `limit` (background work settles), up
// to a minute; returns the last value.
template <typename F>
uint64_t SettlesBelow(F bytes, uint64_t limit) {
  uint64_t now = bytes();
  for (int i = 0; i < 600 && now > limit; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    now = bytes();
  }
  return now;
}

class SpaceTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_OK_AND_ASSIGN(db_, Database::Open({}, dir_.Sub("db")));
    ASSERT_OK_AND_ASSIGN(coll_, db_->CreateCollection("c", VectorsOnly()));
  }
  void Fill(int64_t n) {
    for (int64_t first = 0; first < n; first += 1000) {
      ASSERT_OK(coll_->Upsert({}, Batch(rng_, first, std::min<int64_t>(1000, n - first))));
    }
  }
  uint64_t Folder() {
    auto bytes = db_->DiskBytes();
    EXPECT_TRUE(bytes.ok()) << bytes.status();
    return bytes.ok() ? *bytes : 0;
  }

  TempDir dir_;
  std::mt19937 rng_{7};
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> coll_;
};

TEST_F(SpaceTest, CompactAfterDeletingMostShrinksTheFolderToAFifth) {
  Fill(20000);
  ASSERT_OK(db_->Compact());
  const uint64_t full = Folder();
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, coll_->Describe());
  EXPECT_GT(info.disk_bytes, 20000u * kDim * 4) << "the vectors alone";
  EXPECT_LE(info.disk_bytes, full);

  ASSERT_OK_AND_ASSIGN(size_t deleted, coll_->DeleteWhere({}, "i % 10 != 0", ""));
  EXPECT_EQ(deleted, 18000u);
  ASSERT_OK(db_->Compact());
  const uint64_t after = Folder();
  EXPECT_LE(after, full / 5) << "full " << full;
  ASSERT_OK_AND_ASSIGN(info, coll_->Describe());
  EXPECT_LE(info.disk_bytes, full / 5);
  // What is left is whole and searchable.
  EXPECT_EQ(coll_->Count().value(), 2000u);
  ASSERT_OK_AND_ASSIGN(Document kept, coll_->Get(Id(int64_t{1230})));
  ASSERT_OK_AND_ASSIGN(auto hits, coll_->Search({.k = 1}, Query{.vector = kept.vector}));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, Id(int64_t{1230}));
  EXPECT_TRUE(coll_->Get(Id(int64_t{1231})).status().IsNotFound());
}

TEST_F(SpaceTest, DeletesAndDropsGiveSpaceBackWithoutAsking) {
  Fill(20000);
  ASSERT_OK(db_->Compact());
  const uint64_t full = Folder();
  // Deleting as many as are left queues a compaction of the collection;
  // the next snapshot rebuilds its index without the removed vectors.
  ASSERT_OK(coll_->DeleteWhere({}, "i % 10 != 0", "").status());
  EXPECT_LE(SettlesBelow([&] { return Folder(); }, full / 4), full / 4) << "full " << full;

  // A dropped collection's keys are compacted away.
  ASSERT_OK_AND_ASSIGN(auto other, db_->CreateCollection("other", VectorsOnly()));
  for (int64_t first = 0; first < 20000; first += 1000) {
    ASSERT_OK(other->Add({}, Batch(rng_, first, 1000)));
  }
  ASSERT_OK(db_->Compact());
  const uint64_t both = Folder();
  ASSERT_OK(db_->DropCollection("other"));
  const uint64_t left = SettlesBelow([&] { return Folder(); }, both / 3);
  EXPECT_LE(left, both / 3) << "with both " << both;
  EXPECT_EQ(coll_->Count().value(), 2000u);
}

TEST_F(SpaceTest, RepeatedUpsertsOfTheSameRecordsDoNotGrowTheFolder) {
  Fill(6000);
  // The first pass as it stands once its index snapshot is written.
  ASSERT_OK(db_->Compact());
  const uint64_t first_pass = Folder();
  for (int pass = 0; pass < 3; ++pass) Fill(6000);
  const uint64_t settled = SettlesBelow([&] { return Folder(); }, first_pass * 3 / 2);
  EXPECT_LE(settled, first_pass * 3 / 2) << "after the first pass " << first_pass;
  EXPECT_EQ(coll_->Count().value(), 6000u);
  // Reopened, the rebuilt index and the data agree.
  coll_.reset();
  ASSERT_OK(db_->Close());
  ASSERT_OK_AND_ASSIGN(db_, Database::Open({}, dir_.Sub("db")));
  ASSERT_OK_AND_ASSIGN(coll_, db_->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(Document d, coll_->Get(Id(int64_t{77})));
  ASSERT_OK_AND_ASSIGN(auto hits, coll_->Search({.k = 1}, Query{.vector = d.vector}));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_EQ(hits[0].id, Id(int64_t{77}));
}

// Backups taken while one thread inserts: each holds exactly the records
// 0..n-1 for an n between the writes acknowledged before it began and
// those begun before it returned, and opens and searches as a database.
TEST_F(SpaceTest, BackupsUnderInsertLoadHoldAPrefixOfTheAcknowledgedWrites) {
  std::atomic<int64_t> acked{0};
  std::atomic<bool> stop{false};
  Status writer_status;
  std::thread writer([&] {
    std::mt19937 rng(11);
    for (int64_t i = 0; !stop.load(); ++i) {
      Status s = coll_->Add({}, Batch(rng, i, 1));
      if (!s.ok()) {
        writer_status = s;
        return;
      }
      acked.store(i + 1);
    }
  });
  struct Taken {
    std::string path;
    int64_t before;
    int64_t after;
  };
  std::vector<Taken> backups;
  for (int k = 0; k < 8; ++k) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    Taken t{dir_.Sub("backup" + std::to_string(k)), acked.load(), 0};
    ASSERT_OK(db_->Backup(t.path));
    t.after = acked.load();
    backups.push_back(t);
  }
  stop = true;
  writer.join();
  ASSERT_OK(writer_status);
  EXPECT_TRUE(db_->Backup(backups[0].path).IsAlreadyExists());

  for (const Taken& t : backups) {
    ASSERT_OK_AND_ASSIGN(auto copy, Database::Open({}, t.path));
    ASSERT_OK_AND_ASSIGN(auto c, copy->GetCollection("c"));
    ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
    EXPECT_GE(static_cast<int64_t>(n), t.before) << t.path;
    EXPECT_LE(static_cast<int64_t>(n), t.after + 1) << t.path;  // one write was in flight
    std::vector<Id> ids;
    for (int64_t i = 0; i < static_cast<int64_t>(n) + 5; ++i) ids.push_back(Id(i));
    ASSERT_OK_AND_ASSIGN(auto docs, c->GetMany(ids, /*with_vector=*/true));
    ASSERT_EQ(docs.size(), n) << "a prefix: 0.." << n - 1 << " and nothing after";
    for (size_t i = 0; i < docs.size(); ++i) EXPECT_EQ(docs[i].id, Id(static_cast<int64_t>(i)));
    if (n > 0) {
      ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 1}, Query{.vector = docs.back().vector}));
      ASSERT_EQ(hits.size(), 1u);
      EXPECT_EQ(hits[0].id, docs.back().id);
    }
  }
  EXPECT_GT(backups.back().after, backups.front().before) << "the writer made progress";
}

TEST_F(SpaceTest, ReadOnlyDatabasesNeitherCompactNorBackUp) {
  Fill(10);
  coll_.reset();
  ASSERT_OK(db_->Close());
  Options options;
  options.read_only = true;
  ASSERT_OK_AND_ASSIGN(db_, Database::Open(options, dir_.Sub("db")));
  EXPECT_TRUE(db_->Compact().code() == StatusCode::kNotSupported);
  EXPECT_TRUE(db_->Backup(dir_.Sub("b")).code() == StatusCode::kNotSupported);
  EXPECT_GT(Folder(), 0u);
}

}  // namespace
}  // namespace flashembed
