#include "storage/store.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <rocksdb/db.h>

#include "storage/records.h"
#include "tests/testing/test_util.h"

namespace flashembed::storage {
namespace {

using testing::TempDir;

std::unique_ptr<Store> OpenOrDie(const std::string& path) {
  auto store = Store::Open(StoreOptions{}, path);
  EXPECT_TRUE(store.ok()) << store.status();
  return std::move(store).value();
}

TEST(Store, CreatesFolderAndRoundTripsValues) {
  TempDir dir;
  std::string path = dir.Sub("db");
  {
    auto store = OpenOrDie(path);
    WriteBatch batch;
    batch.Put(Cf::kDocuments, "a", "1");
    batch.Put(Cf::kVectors, "a", "vector-bytes");
    batch.Put(Cf::kIds, "b", "2");
    EXPECT_EQ(batch.count(), 3u);
    ASSERT_OK(store->Write(batch, /*sync=*/true));
    ASSERT_OK_AND_ASSIGN(std::string v, store->Get(Cf::kDocuments, "a"));
    EXPECT_EQ(v, "1");
    // Families are separate key spaces.
    EXPECT_TRUE(store->Get(Cf::kIds, "a").status().IsNotFound());
  }
  auto store = OpenOrDie(path);
  ASSERT_OK_AND_ASSIGN(std::string v, store->Get(Cf::kVectors, "a"));
  EXPECT_EQ(v, "vector-bytes");
}

TEST(Store, MissingFolderWithoutCreateIsNotFound) {
  TempDir dir;
  StoreOptions options;
  options.create_if_missing = false;
  auto store = Store::Open(options, dir.Sub("nothing"));
  ASSERT_FALSE(store.ok());
  EXPECT_TRUE(store.status().IsNotFound()) << store.status();
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("nothing")));
}

TEST(Store, RefusesForeignFolders) {
  TempDir dir;
  // A folder holding someone else's files.
  std::filesystem::create_directories(dir.Sub("docs"));
  std::ofstream(dir.Sub("docs/readme.txt")) << "hello";
  auto not_db = Store::Open(StoreOptions{}, dir.Sub("docs"));
  ASSERT_FALSE(not_db.ok());
  EXPECT_TRUE(not_db.status().IsInvalidArgument()) << not_db.status();
  EXPECT_NE(not_db.status().message().find("holds no flashembed database"), std::string::npos);

  // A file, not a folder.
  auto file = Store::Open(StoreOptions{}, dir.Sub("docs/readme.txt"));
  ASSERT_FALSE(file.ok());
  EXPECT_TRUE(file.status().IsInvalidArgument()) << file.status();

  // A RocksDB database that flashembed did not create.
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.Sub("other"), &raw).ok());
    delete raw;
  }
  auto other = Store::Open(StoreOptions{}, dir.Sub("other"));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("did not create"), std::string::npos) << other.status();
}

TEST(Store, UnknownFormatVersionIsRefused) {
  TempDir dir;
  std::string path = dir.Sub("db");
  { OpenOrDie(path); }
  {
    // Rewrite the version marker as a future version would.
    rocksdb::Options o;
    std::vector<std::string> names;
    ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(o, path, &names).ok());
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs;
    for (auto& n : names) cfs.emplace_back(n, rocksdb::ColumnFamilyOptions());
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, path, cfs, &handles, &raw).ok());
    std::string v = {static_cast<char>(kFormatVersion + 1), 0, 0, 0};
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), "flashembed_format_version", v).ok());
    for (auto* h : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
    delete raw;
  }
  auto store = Store::Open(StoreOptions{}, path);
  ASSERT_FALSE(store.ok());
  EXPECT_EQ(store.status().code(), StatusCode::kNotSupported) << store.status();
  EXPECT_NE(store.status().message().find("format version 2"), std::string::npos)
      << store.status();
}

TEST(Store, SecondOpenOfSameFolderFailsWithLockError) {
  TempDir dir;
  auto first = OpenOrDie(dir.Sub("db"));
  auto second = Store::Open(StoreOptions{}, dir.Sub("db"));
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kIOError) << second.status();
  EXPECT_NE(second.status().message().find("lock"), std::string::npos) << second.status();
}

TEST(Store, ScanLastKeyDeleteRangeAndMultiGet) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  WriteBatch batch;
  for (uint64_t slot = 0; slot < 10; ++slot) {
    batch.Put(Cf::kVectors, SlotKey(7, slot), std::to_string(slot));
    batch.Put(Cf::kVectors, SlotKey(8, slot), "other");
  }
  ASSERT_OK(store->Write(batch, false));

  std::vector<uint64_t> seen;
  ASSERT_OK(store->Scan(Cf::kVectors, CollectionPrefix(7), CollectionEnd(7),
                        [&](std::string_view key, std::string_view) {
                          seen.push_back(SlotFromKey(key));
                          return true;
                        }));
  EXPECT_EQ(seen, (std::vector<uint64_t>{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}));

  ASSERT_OK_AND_ASSIGN(std::string last, store->LastKey(Cf::kVectors, CollectionPrefix(7),
                                                        CollectionEnd(7)));
  EXPECT_EQ(SlotFromKey(last), 9u);

  WriteBatch del;
  del.DeleteRange(Cf::kVectors, SlotKey(7, 3), SlotKey(7, 8));
  del.Delete(Cf::kVectors, SlotKey(7, 9));
  ASSERT_OK(store->Write(del, true));
  std::vector<std::string> keys = {SlotKey(7, 2), SlotKey(7, 3), SlotKey(7, 8), SlotKey(8, 5)};
  ASSERT_OK_AND_ASSIGN(auto values, store->MultiGet(Cf::kVectors, keys));
  ASSERT_EQ(values.size(), 4u);
  EXPECT_EQ(values[0], "2");
  EXPECT_FALSE(values[1].has_value());
  EXPECT_EQ(values[2], "8");
  EXPECT_EQ(values[3], "other");
  ASSERT_OK_AND_ASSIGN(last, store->LastKey(Cf::kVectors, CollectionPrefix(7), CollectionEnd(7)));
  EXPECT_EQ(SlotFromKey(last), 8u);
  EXPECT_TRUE(store->LastKey(Cf::kVectors, CollectionPrefix(9), CollectionEnd(9))
                  .status()
                  .IsNotFound());
}

}  // namespace
}  // namespace flashembed::storage
