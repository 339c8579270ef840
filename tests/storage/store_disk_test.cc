// The Store on full and read-only filesystems (a private tmpfs, see
// tests/testing/small_fs.h): a write that finds no space fails cleanly and
// writes resume once space is freed; closing and reopening on a full disk do
// not abort; a read-only filesystem opens read-only.
#include <gtest/gtest.h>

#include <chrono>
#include <map>
#include <string>
#include <thread>

#include "storage/store.h"
#include "tests/testing/small_fs.h"
#include "tests/testing/test_util.h"

namespace flashembed::storage {
namespace {

using testing::Contains;
using testing::Listing;
using testing::SmallFs;
using testing::TempDir;

constexpr size_t kFsBytes = 8 << 20;

// A batch too big for any partly used page: it needs fresh blocks.
WriteBatch BigBatch(const std::string& key) {
  WriteBatch batch;
  batch.Put(Cf::kDocuments, key, std::string(256 << 10, 'x'));
  return batch;
}

WriteBatch SmallBatch(const std::string& key, const std::string& value) {
  WriteBatch batch;
  batch.Put(Cf::kDocuments, key, value);
  return batch;
}

// Polls Health() until it is OK, for at most `seconds`.
Status HealthWithin(Store& store, int seconds) {
  return testing::OkWithin([&] { return store.Health(); }, seconds);
}

TEST(StoreFullDisk, FailedWriteChangesNothingAndWritesResumeOnceSpaceIsFreed) {
  SmallFs fs(kFsBytes);
  if (!fs.ok()) GTEST_SKIP() << fs.error();
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({}, fs.Sub("db")));
  ASSERT_OK(store->Write(SmallBatch("kept", "1"), /*sync=*/true));
  ASSERT_OK(store->Health());

  ASSERT_TRUE(fs.Fill());
  Status full = store->Write(BigBatch("big"), /*sync=*/true);
  ASSERT_EQ(full.code(), StatusCode::kIOError) << full;
  EXPECT_TRUE(Contains(full, "no space left on device")) << full;
  // Syncing the log now returns the error (DB::SyncWAL aborted on the log
  // file whose append failed).
  Status sync = store->SyncWal();
  EXPECT_TRUE(Contains(sync, "no space left on device")) << sync;
  EXPECT_TRUE(store->Get(Cf::kDocuments, "big").status().IsNotFound());
  ASSERT_OK_AND_ASSIGN(std::string kept, store->Get(Cf::kDocuments, "kept"));
  EXPECT_EQ(kept, "1");
  // RocksDB stops writing after the failure: even a small write fails, with
  // the same clear error, and Health() says why.
  Status small = store->Write(SmallBatch("small", "2"), /*sync=*/true);
  EXPECT_TRUE(Contains(small, "no space left on device")) << small;
  Status health = store->Health();
  EXPECT_TRUE(Contains(health, "no space left on device")) << health;

  // Once space is back, the store resumes by itself (RocksDB's own recovery
  // waits for 64 MiB free, which this disk never has).
  fs.Free();
  ASSERT_OK(HealthWithin(*store, 15));
  ASSERT_OK(store->Write(SmallBatch("after", "3"), /*sync=*/true));
  ASSERT_OK(store->SyncWal());
  store.reset();

  ASSERT_OK_AND_ASSIGN(store, Store::Open({}, fs.Sub("db")));
  EXPECT_EQ(store->Get(Cf::kDocuments, "kept").value(), "1");
  EXPECT_EQ(store->Get(Cf::kDocuments, "after").value(), "3");
  EXPECT_TRUE(store->Get(Cf::kDocuments, "big").status().IsNotFound());
}

// RocksDB's own info log aborted the process (assertion
// `sync_without_flush_called_`) on the first line after one it could not
// write: the close after a failed write, or any later open on the full disk.
TEST(StoreFullDisk, ClosingAndReopeningOnAFullDiskDoNotAbort) {
  SmallFs fs(kFsBytes);
  if (!fs.ok()) GTEST_SKIP() << fs.error();
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open({}, fs.Sub("db")));
    for (int i = 0; i < 8; ++i) {
      ASSERT_OK(store->Write(SmallBatch("k" + std::to_string(i), std::string(4000, 'v')), true));
    }
    ASSERT_TRUE(fs.Fill());
    EXPECT_FALSE(store->Write(BigBatch("big"), /*sync=*/true).ok());
    EXPECT_FALSE(store->Flush().ok());
  }  // closed on the full disk
  for (int attempt = 0; attempt < 3; ++attempt) {
    // A writable open may or may not find the space it needs; it fails
    // cleanly if not.
    {
      auto writable = Store::Open({}, fs.Sub("db"));
      if (!writable.ok()) {
        EXPECT_TRUE(Contains(writable.status(), "no space left on device")) << writable.status();
      }
    }
    StoreOptions options;
    options.read_only_if_unwritable = true;
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(options, fs.Sub("db")));
    for (int i = 0; i < 8; ++i) {
      auto value = store->Get(Cf::kDocuments, "k" + std::to_string(i));
      ASSERT_TRUE(value.ok()) << i << ": " << value.status();
      EXPECT_EQ(value->size(), 4000u);
    }
  }
  fs.Free();
  ASSERT_OK_AND_ASSIGN(auto store, Store::Open({}, fs.Sub("db")));
  EXPECT_FALSE(store->read_only());
  ASSERT_OK(store->Write(BigBatch("big"), /*sync=*/true));
}

// The listing once it has not changed for 300 ms (at most 10 s): a freshly
// opened writer's background threads still append to its LOG for a moment
// (seen under TSan), which is not what a test of another opener looks for.
std::map<std::string, std::pair<uintmax_t, int64_t>> QuietListing(const std::string& folder) {
  auto last = Listing(folder);
  int unchanged = 0;
  for (int i = 0; i < 100 && unchanged < 3; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    auto now = Listing(folder);
    unchanged = now == last ? unchanged + 1 : 0;
    last = std::move(now);
  }
  return last;
}

TEST(StoreReadOnly, ReadOnlyFilesystemOpensReadOnlyAndRefusesWrites) {
  SmallFs fs(kFsBytes);
  if (!fs.ok()) GTEST_SKIP() << fs.error();
  {
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open({}, fs.Sub("db")));
    ASSERT_OK(store->Write(SmallBatch("a", "1"), /*sync=*/true));
    // Unflushed: a read-only open must replay the log to see it.
    ASSERT_OK(store->Write(SmallBatch("b", "2"), /*sync=*/true));
  }
  ASSERT_TRUE(fs.SetReadOnly(true));

  auto writable = Store::Open({}, fs.Sub("db"));
  ASSERT_FALSE(writable.ok());
  EXPECT_EQ(writable.status().code(), StatusCode::kIOError);
  EXPECT_TRUE(Contains(writable.status(), "read-only filesystem")) << writable.status();

  for (bool fallback : {false, true}) {
    StoreOptions options;
    options.read_only = !fallback;
    options.read_only_if_unwritable = fallback;
    ASSERT_OK_AND_ASSIGN(auto store, Store::Open(options, fs.Sub("db")));
    EXPECT_TRUE(store->read_only());
    EXPECT_EQ(store->Get(Cf::kDocuments, "a").value(), "1");
    EXPECT_EQ(store->Get(Cf::kDocuments, "b").value(), "2");
    Status write = store->Write(SmallBatch("c", "3"), /*sync=*/true);
    EXPECT_EQ(write.code(), StatusCode::kNotSupported) << write;
    EXPECT_TRUE(Contains(write, "read-only")) << write;
    EXPECT_EQ(store->SyncWal().code(), StatusCode::kNotSupported);
    EXPECT_EQ(store->Health().code(), StatusCode::kNotSupported);
    EXPECT_OK(store->Flush());
  }
  // Nothing there: NotFound, as for a writable open without creation.
  StoreOptions options;
  options.read_only_if_unwritable = true;
  options.create_if_missing = true;
  EXPECT_TRUE(Store::Open(options, fs.Sub("none")).status().IsNotFound());
}

TEST(StoreReadOnly, ReadOnlyOpenWritesNothingBesideAWriter) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  ASSERT_OK_AND_ASSIGN(auto writer, Store::Open({}, path));
  ASSERT_OK(writer->Write(SmallBatch("a", "1"), /*sync=*/true));
  const auto before = QuietListing(path);
  {
    StoreOptions options;
    options.read_only = true;
    ASSERT_OK_AND_ASSIGN(auto reader, Store::Open(options, path));
    EXPECT_EQ(reader->Get(Cf::kDocuments, "a").value(), "1");
    EXPECT_EQ(reader->Write(SmallBatch("x", "y"), true).code(), StatusCode::kNotSupported);
  }
  EXPECT_EQ(Listing(path), before);
  EXPECT_TRUE(writer->Get(Cf::kDocuments, "x").status().IsNotFound());
  // The writer keeps the folder: a second writable open is still refused.
  EXPECT_FALSE(Store::Open({}, path).ok());
}

}  // namespace
}  // namespace flashembed::storage
