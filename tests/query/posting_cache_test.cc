// PostingCache: least recently used eviction within the byte budget, owners
// kept apart, erasing, and parts replaced only for the list they belong to.
#include "query/posting_cache.h"

#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <string>

namespace flashembed::query {
namespace {

// A list of `n` postings with its parts.
CachedPostings Postings(size_t n, double avg_length = 1) {
  auto list = std::make_shared<PostingList>();
  for (size_t i = 0; i < n; ++i) {
    list->slots.push_back(i);
    list->tf.push_back(1);
    list->length.push_back(3);
  }
  auto parts = std::make_shared<PostingParts>();
  parts->avg_length = avg_length;
  parts->values.assign(n, 1.0f);
  return {.list = std::move(list), .parts = std::move(parts)};
}

TEST(PostingCache, EvictsLeastRecentlyUsedWithinBudget) {
  const size_t entry = PostingCache::EntryBytes(Postings(100), 1);
  PostingCache cache(3 * entry);
  const uint64_t owner = cache.NewOwner();
  cache.Put(owner, "a", Postings(100));
  cache.Put(owner, "b", Postings(100));
  cache.Put(owner, "c", Postings(100));
  EXPECT_EQ(cache.entries(), 3u);
  EXPECT_EQ(cache.bytes(), 3 * entry);
  // "a" used: "b" is now the least recently used and goes first.
  EXPECT_NE(cache.Get(owner, "a").list, nullptr);
  cache.Put(owner, "d", Postings(100));
  EXPECT_EQ(cache.Get(owner, "b").list, nullptr);
  EXPECT_NE(cache.Get(owner, "a").list, nullptr);
  EXPECT_NE(cache.Get(owner, "c").list, nullptr);
  EXPECT_NE(cache.Get(owner, "d").list, nullptr);
  EXPECT_LE(cache.bytes(), cache.capacity());
  // A list bigger than the whole budget is not kept, and evicts nothing.
  cache.Put(owner, "e", Postings(10000));
  EXPECT_EQ(cache.Get(owner, "e").list, nullptr);
  EXPECT_EQ(cache.entries(), 3u);
  // Replacing a term keeps one entry for it.
  cache.Put(owner, "a", Postings(50));
  EXPECT_EQ(cache.Get(owner, "a").list->size(), 50u);
  EXPECT_LE(cache.bytes(), cache.capacity());
}

TEST(PostingCache, OwnersAreKeptApart) {
  PostingCache cache(1 << 20);
  const uint64_t one = cache.NewOwner();
  const uint64_t two = cache.NewOwner();
  EXPECT_NE(one, two);
  cache.Put(one, "river", Postings(10));
  cache.Put(two, "river", Postings(20));
  cache.Put(two, "valley", Postings(5));
  EXPECT_EQ(cache.Get(one, "river").list->size(), 10u);
  EXPECT_EQ(cache.Get(two, "river").list->size(), 20u);
  EXPECT_EQ(cache.bytes(one) + cache.bytes(two), cache.bytes());
  EXPECT_EQ(cache.bytes(one), PostingCache::EntryBytes(Postings(10), 5));
  cache.Erase(two, "river");
  EXPECT_EQ(cache.Get(two, "river").list, nullptr);
  cache.Put(two, "moss", Postings(5));
  cache.EraseTerms(two, {"moss", "river", "lantern"});
  EXPECT_EQ(cache.Get(two, "moss").list, nullptr);
  EXPECT_NE(cache.Get(two, "valley").list, nullptr);
  EXPECT_NE(cache.Get(one, "river").list, nullptr);
  cache.EraseOwner(one);
  EXPECT_EQ(cache.bytes(one), 0u);
  EXPECT_EQ(cache.entries(), 1u);
  EXPECT_NE(cache.Get(two, "valley").list, nullptr);
  // A term of another owner is not a prefix match.
  EXPECT_EQ(cache.Get(two, "valle").list, nullptr);
}

TEST(PostingCache, ZeroCapacityKeepsNothing) {
  PostingCache cache(0);
  const uint64_t owner = cache.NewOwner();
  cache.Put(owner, "a", Postings(1));
  EXPECT_EQ(cache.Get(owner, "a").list, nullptr);
  EXPECT_EQ(cache.bytes(), 0u);
}

TEST(PostingCache, PartsReplacedOnlyForTheirList) {
  PostingCache cache(1 << 20);
  const uint64_t owner = cache.NewOwner();
  CachedPostings first = Postings(10, 1);
  cache.Put(owner, "a", first);
  const size_t bytes = cache.bytes();
  auto parts = std::make_shared<PostingParts>();
  parts->avg_length = 2;
  parts->values.assign(10, 0.5f);
  cache.SetParts(owner, "a", first.list.get(), parts);
  EXPECT_EQ(cache.Get(owner, "a").parts->avg_length, 2);
  EXPECT_EQ(cache.bytes(), bytes);
  // The term's list was replaced meanwhile: parts of the old one are dropped.
  cache.Put(owner, "a", Postings(10, 3));
  cache.SetParts(owner, "a", first.list.get(), parts);
  EXPECT_EQ(cache.Get(owner, "a").parts->avg_length, 3);
  // A list still held by a search outlives its eviction.
  CachedPostings held = cache.Get(owner, "a");
  cache.Erase(owner, "a");
  EXPECT_EQ(held.list->size(), 10u);
}

}  // namespace
}  // namespace flashembed::query
