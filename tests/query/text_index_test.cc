// TextIndex with a PostingCache, driven as CollectionImpl drives it (the
// postings and statistics of a write in one batch, then set_stats), with
// the interleavings forced: a search that read before a write must not
// cache what it read, a search during a write must not mix the cache with
// the store, a failed write leaves the cache unused, and a changed average
// length recomputes cached parts. Results are compared with an index
// without a cache over the same store.
#include "query/text_index.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "query/posting_cache.h"
#include "storage/store.h"
#include "tests/testing/test_util.h"

namespace flashembed::query {
namespace {

using testing::TempDir;

constexpr uint32_t kCid = 7;

struct IndexFixture {
  TempDir dir;
  std::unique_ptr<storage::Store> store;
  std::shared_ptr<PostingCache> cache = std::make_shared<PostingCache>(1 << 20);
  std::unique_ptr<TextIndex> index;

  void Open() {
    auto opened = storage::Store::Open({}, dir.Sub("db"));
    ASSERT_TRUE(opened.ok()) << opened.status();
    store = std::move(opened).value();
    index = std::make_unique<TextIndex>(store.get(), kCid, cache);
    ASSERT_OK(index->Load());
  }
  // Adds `text` as document `slot`; with `finish`, calls set_stats as a
  // collection does once the batch is durable.
  TextStats Add(uint64_t slot, const std::string& text, bool finish = true) {
    TextStats stats = index->stats();
    storage::WriteBatch batch;
    index->AppendAdd(slot, text, &batch, &stats);
    index->AppendStats(stats, &batch);
    EXPECT_OK(store->Write(batch, /*sync=*/false));
    if (finish) index->set_stats(stats);
    return stats;
  }
  std::vector<TextHit> Search(const TextIndex& on, const std::string& query) {
    auto hits = on.Search(query, 100, {});
    EXPECT_TRUE(hits.ok()) << hits.status();
    return hits.ok() ? *hits : std::vector<TextHit>();
  }
  // The index's hits equal those of an index without a cache reading the
  // store now (slots and bit-identical scores).
  void ExpectAsStored(const std::string& query) {
    TextIndex plain(store.get(), kCid);
    ASSERT_OK(plain.Load());
    const std::vector<TextHit> want = Search(plain, query);
    const std::vector<TextHit> got = Search(*index, query);
    ASSERT_EQ(got.size(), want.size()) << query;
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(got[i].slot, want[i].slot) << query << " rank " << i;
      EXPECT_EQ(got[i].score, want[i].score) << query << " rank " << i;
    }
  }
};

TEST(TextIndex, SearchThatReadBeforeAWriteDoesNotCacheWhatItRead) {
  IndexFixture f;
  f.Open();
  f.Add(0, "river valley");
  // The write lands after this search read "river" and before it caches it.
  bool wrote = false;
  f.index->SetBeforeCachingHookForTesting([&] {
    if (!wrote) f.Add(1, "river");
    wrote = true;
  });
  EXPECT_EQ(f.Search(*f.index, "river").size(), 1u);  // its point in time
  ASSERT_TRUE(wrote);
  const std::vector<TextHit> hits = f.Search(*f.index, "river");
  ASSERT_EQ(hits.size(), 2u);
  f.ExpectAsStored("river");
  f.ExpectAsStored("river valley");
  EXPECT_GT(f.index->cached_bytes(), 0u);
}

TEST(TextIndex, SearchDuringAWriteReadsTheStoreOnly) {
  IndexFixture f;
  f.Open();
  f.Add(0, "river moss");
  f.Add(1, "river");
  f.ExpectAsStored("river");  // "river" cached
  // Written, set_stats not yet called: "river" from the cache and "moss"
  // from the store would mix two points in time.
  const TextStats stats = f.Add(2, "river moss moss", /*finish=*/false);
  f.ExpectAsStored("river moss");
  f.ExpectAsStored("river");
  const size_t cached = f.index->cached_bytes();
  f.ExpectAsStored("valley");  // nothing cached meanwhile
  EXPECT_EQ(f.index->cached_bytes(), cached);
  f.index->set_stats(stats);
  f.ExpectAsStored("river moss");
  f.ExpectAsStored("valley");
  EXPECT_GT(f.index->cached_bytes(), cached);
}

TEST(TextIndex, FailedWriteLeavesTheCacheUnusedUntilTheNextWrite) {
  IndexFixture f;
  f.Open();
  f.Add(0, "river");
  f.ExpectAsStored("river");
  const size_t cached = f.index->cached_bytes();
  // A write prepared and never written (say the disk was full): no
  // set_stats follows.
  {
    TextStats stats = f.index->stats();
    storage::WriteBatch batch;
    f.index->AppendAdd(1, "river moss", &batch, &stats);
    f.index->AppendStats(stats, &batch);
  }
  f.ExpectAsStored("river");
  f.ExpectAsStored("moss");
  EXPECT_EQ(f.index->cached_bytes(), cached);
  f.Add(2, "valley");
  f.ExpectAsStored("river moss valley");
  EXPECT_GT(f.index->cached_bytes(), cached);
}

TEST(TextIndex, ChangedAverageLengthRecomputesCachedParts) {
  IndexFixture f;
  f.Open();
  f.Add(0, "river");
  f.Add(1, "river river valley");
  f.ExpectAsStored("river");
  // Only "moss" changes, but every document's length now weighs differently.
  f.Add(2, "moss moss moss moss moss moss moss moss");
  f.ExpectAsStored("river");
  f.ExpectAsStored("river");  // with the parts cached for the new average
  f.ExpectAsStored("river moss");
}

TEST(TextIndex, ReleasedCacheHoldsNothing) {
  IndexFixture f;
  f.Open();
  f.Add(0, "river");
  f.ExpectAsStored("river");
  EXPECT_GT(f.index->cached_bytes(), 0u);
  f.index->ReleaseCache();
  EXPECT_EQ(f.index->cached_bytes(), 0u);
  EXPECT_EQ(f.cache->bytes(), 0u);
  f.ExpectAsStored("river");
  EXPECT_EQ(f.cache->bytes(), 0u);
}

}  // namespace
}  // namespace flashembed::query
