#include "storage/snapshot.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "base/hash.h"
#include "storage/store.h"
#include "tests/testing/test_util.h"

namespace flashembed::storage {
namespace {

using testing::TempDir;

class StoredSnapshot : public ::testing::Test {
 protected:
  void SetUp() override {
    auto opened = Store::Open(StoreOptions{}, dir_.Sub("db"));
    ASSERT_TRUE(opened.ok()) << opened.status();
    store_ = std::move(opened).value();
  }

  Status Save(uint32_t cid, uint64_t next_seq, std::string_view bytes) {
    WriteBatch batch;
    AppendSnapshot(cid, next_seq, bytes, &batch);
    return store_->Write(batch, /*sync=*/false);
  }

  Result<SnapshotHeader> Header(uint32_t cid) {
    FE_ASSIGN_OR_RETURN(std::string bytes, store_->Get(Cf::kSnapshots, SnapshotHeaderKey(cid)));
    return DecodeSnapshotHeader(bytes);
  }

  // The number of parts stored for `cid`.
  size_t Parts(uint32_t cid) {
    size_t n = 0;
    EXPECT_OK(store_->Scan(Cf::kSnapshots, SnapshotPartKey(cid, 0), CollectionEnd(cid),
                           [&](std::string_view, std::string_view) { return ++n, true; }));
    return n;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
};

// Bytes that differ in every part, so a part read twice or out of order shows.
std::string Pattern(size_t n) {
  std::string s(n, '\0');
  for (size_t i = 0; i < n; ++i) s[i] = static_cast<char>((i * 7 + i / 4096) & 0xff);
  return s;
}

TEST_F(StoredSnapshot, RoundTripsAcrossParts) {
  const std::string bytes = Pattern(2 * kSnapshotPartBytes + 123);
  ASSERT_OK(Save(3, 77, bytes));
  ASSERT_OK_AND_ASSIGN(SnapshotHeader h, Header(3));
  EXPECT_EQ(h.next_seq, 77u);
  EXPECT_EQ(h.total_bytes, bytes.size());
  EXPECT_EQ(h.parts, 3u);
  EXPECT_EQ(h.hash, Hash64(bytes));
  ASSERT_OK_AND_ASSIGN(std::string part, store_->Get(Cf::kSnapshots, SnapshotPartKey(3, 1)));
  EXPECT_EQ(part, bytes.substr(kSnapshotPartBytes, kSnapshotPartBytes));
  ASSERT_OK_AND_ASSIGN(std::string back, ReadSnapshot(*store_, 3, h));
  EXPECT_EQ(back, bytes);
  EXPECT_EQ(Parts(3), 3u);
}

TEST_F(StoredSnapshot, ASmallerSnapshotReplacesEveryOldPart) {
  ASSERT_OK(Save(3, 5, Pattern(kSnapshotPartBytes + 1)));
  ASSERT_OK(Save(4, 5, "the neighbour's"));
  ASSERT_OK(Save(3, 9, "small"));
  EXPECT_EQ(Parts(3), 1u);
  ASSERT_OK_AND_ASSIGN(SnapshotHeader h, Header(3));
  EXPECT_EQ(h.next_seq, 9u);
  ASSERT_OK_AND_ASSIGN(std::string back, ReadSnapshot(*store_, 3, h));
  EXPECT_EQ(back, "small");
  // Other collections' snapshots are left alone.
  ASSERT_OK_AND_ASSIGN(SnapshotHeader other, Header(4));
  ASSERT_OK_AND_ASSIGN(back, ReadSnapshot(*store_, 4, other));
  EXPECT_EQ(back, "the neighbour's");
}

TEST_F(StoredSnapshot, DamagedPartsOrHeaderAreCorruption) {
  const std::string bytes = Pattern(kSnapshotPartBytes + 10);
  ASSERT_OK(Save(3, 1, bytes));
  ASSERT_OK_AND_ASSIGN(const SnapshotHeader good, Header(3));

  SnapshotHeader h = good;
  h.hash ^= 1;
  Status s = ReadSnapshot(*store_, 3, h).status();
  EXPECT_TRUE(s.IsCorruption()) << s;
  EXPECT_EQ(s.message(), "index snapshot checksum mismatch");

  h = good;
  h.total_bytes += 1;
  s = ReadSnapshot(*store_, 3, h).status();
  EXPECT_TRUE(s.IsCorruption()) << s;
  EXPECT_EQ(s.message(), "index snapshot truncated: payload has " + std::to_string(bytes.size()) +
                             " bytes, header says " + std::to_string(bytes.size() + 1));

  h = good;
  h.parts = 1;  // the second part is not read: too few bytes
  EXPECT_TRUE(ReadSnapshot(*store_, 3, h).status().IsCorruption());

  // More bytes than the parts can hold is refused before any is read.
  h = good;
  h.total_bytes = uint64_t{1} << 60;
  s = ReadSnapshot(*store_, 3, h).status();
  EXPECT_TRUE(s.IsCorruption()) << s;

  // A part cut short, or one byte changed.
  WriteBatch cut;
  cut.Put(Cf::kSnapshots, SnapshotPartKey(3, 1), bytes.substr(kSnapshotPartBytes, 9));
  ASSERT_OK(store_->Write(cut, false));
  EXPECT_TRUE(ReadSnapshot(*store_, 3, good).status().IsCorruption());
  std::string flipped = bytes.substr(kSnapshotPartBytes);
  flipped[0] ^= 0x40;
  WriteBatch flip;
  flip.Put(Cf::kSnapshots, SnapshotPartKey(3, 1), flipped);
  ASSERT_OK(store_->Write(flip, false));
  EXPECT_TRUE(ReadSnapshot(*store_, 3, good).status().IsCorruption());

  // A missing part is NotFound.
  WriteBatch drop;
  drop.Delete(Cf::kSnapshots, SnapshotPartKey(3, 1));
  ASSERT_OK(store_->Write(drop, false));
  EXPECT_TRUE(ReadSnapshot(*store_, 3, good).status().IsNotFound());

  // A header cut short does not decode.
  ASSERT_OK_AND_ASSIGN(std::string header, store_->Get(Cf::kSnapshots, SnapshotHeaderKey(3)));
  for (size_t n = 0; n < header.size(); ++n) {
    EXPECT_TRUE(DecodeSnapshotHeader(header.substr(0, n)).status().IsCorruption()) << n;
  }
}

}  // namespace
}  // namespace flashembed::storage
