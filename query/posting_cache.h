// PostingCache: the BM25 posting lists of a database's collections decoded
// in memory, so that full-text and hybrid searches read a term's postings
// from RocksDB once and then from memory. Internal to query/.
//
// One cache per database (Options::text_cache_bytes), shared by the text
// indexes of its collections; each TextIndex registers as an owner and keys
// its terms by that owner. Least recently used terms are evicted first, so
// the entries' bytes (PostingCache::bytes) never exceed the capacity; a list
// a search still holds stays alive until that search ends. A list bigger
// than the capacity is not kept.
//
// The cache only stores what it is given: TextIndex (text_index.h) decides
// which lists are current and erases a term's list when a write changes it.
//
// Thread-safety: every method may be called concurrently. Lists are
// immutable once published; Get hands out shared pointers.
#ifndef FLASHEMBED_QUERY_POSTING_CACHE_H_
#define FLASHEMBED_QUERY_POSTING_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace flashembed::query {

// One term's postings in slot order, as stored (storage/records.h Posting),
// tf and length narrowed to 32 bits.
struct PostingList {
  std::vector<uint64_t> slots;   // ascending
  std::vector<uint32_t> tf;      // occurrences of the term in the document
  std::vector<uint32_t> length;  // the document's length in terms

  size_t size() const { return slots.size(); }
};

// The BM25 term-frequency part of every posting of a list (text_index.cc
// TfPart), for one average document length: the part of a score that does
// not depend on the query.
struct PostingParts {
  double avg_length = 0;
  std::vector<float> values;  // one per posting, in list order
};

// A cached term: its list and the parts last computed for it (never null
// in the cache).
struct CachedPostings {
  std::shared_ptr<const PostingList> list;
  std::shared_ptr<const PostingParts> parts;
};

class PostingCache {
 public:
  // `capacity_bytes` 0 keeps nothing.
  explicit PostingCache(size_t capacity_bytes) : capacity_(capacity_bytes) {}
  PostingCache(const PostingCache&) = delete;
  PostingCache& operator=(const PostingCache&) = delete;

  size_t capacity() const { return capacity_; }

  // A new owner id (one per TextIndex), never given out twice.
  uint64_t NewOwner();

  // The cached postings of `term`, marked most recently used; null lists
  // when not cached.
  CachedPostings Get(uint64_t owner, std::string_view term);
  // Stores (or replaces) `term`'s postings, evicting least recently used
  // terms to stay within the capacity. Not stored if they alone exceed it.
  // REQUIRES: both pointers set, parts->values.size() == list->size().
  void Put(uint64_t owner, std::string_view term, CachedPostings postings);
  // Replaces the parts of `term` if its cached list is still `list` (the
  // same size, so the bytes do not change).
  void SetParts(uint64_t owner, std::string_view term, const PostingList* list,
                std::shared_ptr<const PostingParts> parts);
  void Erase(uint64_t owner, std::string_view term);
  // Erases each of `terms` of `owner` (one lock; nothing to do when the
  // owner has nothing cached).
  void EraseTerms(uint64_t owner, const std::set<std::string>& terms);
  // Erases every term of `owner`.
  void EraseOwner(uint64_t owner);

  // Bytes of the cached entries (lists, parts, keys and bookkeeping), all
  // owners together or those of one owner.
  size_t bytes() const;
  size_t bytes(uint64_t owner) const;
  size_t entries() const;

  // What an entry of `postings` under a term of `term_bytes` bytes counts.
  static size_t EntryBytes(const CachedPostings& postings, size_t term_bytes);

 private:
  struct Entry {
    std::string key;  // owner (8 bytes) + term
    uint64_t owner = 0;
    CachedPostings postings;
    size_t bytes = 0;
  };
  using Lru = std::list<Entry>;  // most recently used first

  static std::string Key(uint64_t owner, std::string_view term);
  // REQUIRES: mu_ held.
  void EraseLocked(Lru::iterator it);

  const size_t capacity_;
  mutable std::mutex mu_;
  uint64_t next_owner_ = 1;                                  // guarded by mu_
  Lru lru_;                                                  // guarded by mu_
  std::unordered_map<std::string_view, Lru::iterator> map_;  // keys point into lru_; by mu_
  std::unordered_map<uint64_t, size_t> owner_bytes_;         // guarded by mu_
  size_t bytes_ = 0;                                         // guarded by mu_
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_POSTING_CACHE_H_
