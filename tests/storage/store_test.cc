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

  // A RocksDB database that flashembed did not create. (An empty one is
  // indistinguishable from our own creation cut short, and is adopted.)
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.Sub("other"), &raw).ok());
    ASSERT_TRUE(raw->Put(rocksdb::WriteOptions(), "their-key", "their-value").ok());
    delete raw;
  }
  auto other = Store::Open(StoreOptions{}, dir.Sub("other"));
  ASSERT_FALSE(other.ok());
  EXPECT_NE(other.status().message().find("did not create"), std::string::npos) << other.status();
  // ... and is left exactly as it was: no column families added.
  std::vector<std::string> names;
  ASSERT_TRUE(rocksdb::DB::ListColumnFamilies(rocksdb::Options(), dir.Sub("other"), &names).ok());
  EXPECT_EQ(names, std::vector<std::string>{"default"});
}

// A crash between RocksDB creating the folder and the version marker being
// written leaves an empty RocksDB folder with (some of) our families; it
// must open, not be mistaken for a foreign database.
TEST(Store, InterruptedCreationStillOpens) {
  TempDir dir;
  {
    rocksdb::Options o;
    o.create_if_missing = true;
    o.create_missing_column_families = true;
    std::vector<rocksdb::ColumnFamilyDescriptor> cfs = {
        {"default", rocksdb::ColumnFamilyOptions()}, {"catalog", rocksdb::ColumnFamilyOptions()}};
    std::vector<rocksdb::ColumnFamilyHandle*> handles;
    rocksdb::DB* raw = nullptr;
    ASSERT_TRUE(rocksdb::DB::Open(o, dir.Sub("db"), cfs, &handles, &raw).ok());
    for (auto* h : handles) ASSERT_TRUE(raw->DestroyColumnFamilyHandle(h).ok());
    delete raw;
  }
  auto store = OpenOrDie(dir.Sub("db"));
  ASSERT_NE(store, nullptr);
  WriteBatch batch;
  batch.Put(Cf::kDocuments, "k", "v");
  ASSERT_OK(store->Write(batch, true));
}

TEST(Store, ReadViewSeesOnePointInTime) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  WriteBatch first;
  first.Put(Cf::kIds, "id", "1");
  first.Put(Cf::kDocuments, "1", "one");
  ASSERT_OK(store->Write(first, false));
  ReadView view = store->NewReadView();
  WriteBatch second;
  second.Put(Cf::kIds, "id", "2");
  second.Delete(Cf::kDocuments, "1");
  ASSERT_OK(store->Write(second, false));
  ASSERT_OK_AND_ASSIGN(std::string id, store->Get(Cf::kIds, "id", &view));
  EXPECT_EQ(id, "1");
  ASSERT_OK_AND_ASSIGN(std::string doc, store->Get(Cf::kDocuments, id, &view));
  EXPECT_EQ(doc, "one");
  std::vector<std::string> keys = {"1"};
  ASSERT_OK_AND_ASSIGN(auto values, store->MultiGet(Cf::kDocuments, keys, &view));
  EXPECT_EQ(values[0], "one");
  EXPECT_TRUE(store->Get(Cf::kDocuments, "1").status().IsNotFound());
  ASSERT_OK_AND_ASSIGN(id, store->Get(Cf::kIds, "id"));
  EXPECT_EQ(id, "2");
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
  EXPECT_NE(store.status().message().find("format version 2"), std::string::npos) << store.status();
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

  ASSERT_OK_AND_ASSIGN(std::string last,
                       store->LastKey(Cf::kVectors, CollectionPrefix(7), CollectionEnd(7)));
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
  EXPECT_TRUE(
      store->LastKey(Cf::kVectors, CollectionPrefix(9), CollectionEnd(9)).status().IsNotFound());
}

// Bytes of every file under `dir`.
uint64_t FolderBytes(const std::string& dir) {
  uint64_t total = 0;
  for (const auto& e : std::filesystem::recursive_directory_iterator(dir)) {
    if (e.is_regular_file()) total += e.file_size();
  }
  return total;
}

// 2000 values of 4 KiB (random, so compression cannot shrink them) under
// collection 3, one batch per 100.
void FillCollection(Store* store, uint32_t cid) {
  uint64_t x = 88172645463325252ull;
  for (uint64_t batch = 0; batch < 20; ++batch) {
    WriteBatch b;
    for (uint64_t i = 0; i < 100; ++i) {
      std::string value(4096, '\0');
      for (char& c : value) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        c = static_cast<char>(x);
      }
      b.Put(Cf::kDocuments, SlotKey(cid, batch * 100 + i), value);
    }
    ASSERT_OK(store->Write(b, false));
  }
}

TEST(Store, RangeDeletesAreCompactedInTheBackground) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  FillCollection(store.get(), 3);
  FillCollection(store.get(), 4);
  ASSERT_OK(store->Flush());
  ASSERT_OK_AND_ASSIGN(uint64_t three,
                       store->ApproximateBytes(CollectionPrefix(3), CollectionEnd(3)));
  EXPECT_GT(three, 6u << 20) << "2000 x 4 KiB of random bytes";
  const uint64_t full = FolderBytes(dir.Sub("db"));
  const uint64_t done_before = store->WaitForCompactions();

  // Dropping collection 3 is one DeleteRange: its space comes back without
  // anyone asking, and the other collection stays whole.
  WriteBatch drop;
  drop.DeleteRange(Cf::kDocuments, CollectionPrefix(3), CollectionEnd(3));
  ASSERT_OK(store->Write(drop, true));
  EXPECT_GT(store->WaitForCompactions(), done_before);
  ASSERT_OK_AND_ASSIGN(three, store->ApproximateBytes(CollectionPrefix(3), CollectionEnd(3)));
  EXPECT_LT(three, 64u << 10);
  ASSERT_OK_AND_ASSIGN(uint64_t four,
                       store->ApproximateBytes(CollectionPrefix(4), CollectionEnd(4)));
  EXPECT_GT(four, 6u << 20);
  EXPECT_LT(FolderBytes(dir.Sub("db")), full * 6 / 10) << "before: " << full;
  ASSERT_OK_AND_ASSIGN(std::string last,
                       store->LastKey(Cf::kDocuments, CollectionPrefix(4), CollectionEnd(4)));
  EXPECT_EQ(SlotFromKey(last), 1999u);
}

TEST(Store, CompactGivesBackTheSpaceOfSingleDeletes) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  FillCollection(store.get(), 3);
  ASSERT_OK(store->Flush());
  const uint64_t full = FolderBytes(dir.Sub("db"));
  WriteBatch del;
  for (uint64_t slot = 0; slot < 1800; ++slot) del.Delete(Cf::kDocuments, SlotKey(3, slot));
  ASSERT_OK(store->Write(del, true));
  ASSERT_OK(store->Compact("", ""));
  EXPECT_LT(FolderBytes(dir.Sub("db")), full * 2 / 10) << "before: " << full;
  ASSERT_OK_AND_ASSIGN(
      auto values, store->MultiGet(Cf::kDocuments,
                                   std::vector<std::string>{SlotKey(3, 1799), SlotKey(3, 1800)}));
  EXPECT_FALSE(values[0].has_value());
  EXPECT_EQ(values[1]->size(), 4096u);
}

TEST(Store, CheckpointIsAConsistentCopyThatOpens) {
  TempDir dir;
  auto store = OpenOrDie(dir.Sub("db"));
  FillCollection(store.get(), 3);
  WriteBatch last;  // in the memtable when the checkpoint starts
  last.Put(Cf::kCatalog, "k", "v");
  ASSERT_OK(store->Write(last, false));
  ASSERT_OK(store->Checkpoint(dir.Sub("copy")));
  EXPECT_TRUE(store->Checkpoint(dir.Sub("copy")).IsAlreadyExists());
  EXPECT_FALSE(store->Checkpoint(dir.Sub("no/such/parent")).ok());
  EXPECT_FALSE(std::filesystem::exists(dir.Sub("no/such/parent")));
  WriteBatch after;
  after.Put(Cf::kCatalog, "k", "changed");
  ASSERT_OK(store->Write(after, true));

  auto copy = OpenOrDie(dir.Sub("copy"));
  ASSERT_OK_AND_ASSIGN(std::string v, copy->Get(Cf::kCatalog, "k"));
  EXPECT_EQ(v, "v");
  ASSERT_OK_AND_ASSIGN(std::string last_key,
                       copy->LastKey(Cf::kDocuments, CollectionPrefix(3), CollectionEnd(3)));
  EXPECT_EQ(SlotFromKey(last_key), 1999u);

  StoreOptions read_only;
  read_only.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto reader, Store::Open(read_only, dir.Sub("db")));
  EXPECT_TRUE(reader->Checkpoint(dir.Sub("copy2")).code() == StatusCode::kNotSupported);
}

// A read-only store beside a writer (RocksDB's secondary instance): sees what
// was written before the open, then each later batch whole after CatchUp(),
// across the writer's flushes and compactions; writes nothing to the folder
// and removes its own temporary folder on close.
TEST(Store, ReaderBesideAWriterCatchesUp) {
  TempDir dir;
  auto writer = OpenOrDie(dir.Sub("db"));
  auto put = [&](int from, int to) {
    WriteBatch b;
    for (int i = from; i < to; ++i) b.Put(Cf::kDocuments, SlotKey(1, i), "v" + std::to_string(i));
    b.Put(Cf::kCatalog, "last", std::to_string(to));
    ASSERT_OK(writer->Write(b, /*sync=*/false));
  };
  put(0, 100);
  StoreOptions read_only;
  read_only.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto reader, Store::Open(read_only, dir.Sub("db")));
  ASSERT_TRUE(reader->can_catch_up());
  EXPECT_FALSE(writer->can_catch_up());
  EXPECT_EQ(reader->Get(Cf::kCatalog, "last").value(), "100");
  EXPECT_FALSE(reader->CatchUp().value()) << "nothing new";

  auto count = [&] {
    size_t n = 0;
    EXPECT_OK(reader->Scan(Cf::kDocuments, CollectionPrefix(1), CollectionEnd(1),
                           [&](std::string_view, std::string_view) { return ++n > 0; }));
    return n;
  };
  put(100, 200);
  ASSERT_OK(writer->Flush());  // the first batches leave the log for a table file
  put(200, 300);
  EXPECT_TRUE(reader->CatchUp().value());
  EXPECT_EQ(reader->Get(Cf::kCatalog, "last").value(), "300");
  EXPECT_EQ(count(), 300u);
  ASSERT_OK(writer->Compact("", ""));
  put(300, 400);
  EXPECT_TRUE(reader->CatchUp().value());
  EXPECT_EQ(count(), 400u);
  EXPECT_EQ(reader->Get(Cf::kDocuments, SlotKey(1, 5)).value(), "v5");
  EXPECT_EQ(reader->Write(WriteBatch(), true).code(), StatusCode::kNotSupported);
  // Its own files live in a temporary folder ($TMPDIR), gone with it.
  reader.reset();
  const std::string tmp = dir.Sub("tmp");
  std::filesystem::create_directories(tmp);
  const char* old_tmpdir = getenv("TMPDIR");
  const std::string saved = old_tmpdir != nullptr ? old_tmpdir : "";
  setenv("TMPDIR", tmp.c_str(), 1);
  ASSERT_OK_AND_ASSIGN(reader, Store::Open(read_only, dir.Sub("db")));
  EXPECT_TRUE(reader->can_catch_up());
  EXPECT_EQ(std::distance(std::filesystem::directory_iterator(tmp),
                          std::filesystem::directory_iterator()),
            1);
  reader.reset();
  EXPECT_TRUE(std::filesystem::is_empty(tmp));
  if (old_tmpdir != nullptr) {
    setenv("TMPDIR", saved.c_str(), 1);
  } else {
    unsetenv("TMPDIR");
  }
}

}  // namespace
}  // namespace flashembed::storage
