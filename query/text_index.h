// Full-text search for hybrid ranking, internal to query/: one analysis for
// documents and queries, BM25 postings in RocksDB (family `postings`, keys
// and codecs in storage/records.h, bytes in storage/FORMAT.md), and top-k
// BM25 retrieval.
//
// Analysis (AnalyzeText): NFKC + case folding (utf8proc), then terms are
// maximal runs of letters, digits and combining marks; runs of CJK
// ideographs, kana and Hangul syllables become overlapping character bigrams
// (a lone character is one term), since those scripts do not separate words
// by spaces. Terms over kMaxTermBytes are dropped. Documents and queries go
// through the same function, so a query matches the text it was written in.
//
// Scoring: Okapi BM25 with Lucene's idf, ln(1 + (N - df + 0.5) / (df + 0.5)),
// and k1 = 1.2, b = 0.75. N, the summed document length and df are those of
// the collection's live documents. A query term counts once per occurrence.
#ifndef FLASHEMBED_QUERY_TEXT_INDEX_H_
#define FLASHEMBED_QUERY_TEXT_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"
#include "storage/records.h"
#include "storage/store.h"

namespace flashembed::query {

inline constexpr size_t kMaxTermBytes = 128;

// The terms of `text`, in order, with repeats. Invalid UTF-8 is skipped
// byte by byte (the caller validates texts where it matters).
std::vector<std::string> AnalyzeText(std::string_view text);

// Live documents and their summed length in terms, stored with the postings.
using TextStats = storage::TextStats;

struct TextHit {
  uint64_t slot = 0;
  float score = 0;  // BM25, higher is better
};

class PostingCache;  // query/posting_cache.h
struct PostingList;  // query/posting_cache.h

// One collection's postings. The Append* functions only add to a batch;
// the caller writes it and then calls set_stats with the stats it passed.
//
// Posting lists are read through `cache` (a database's PostingCache; none
// when null): a search reads the lists it does not find there from one read
// view of the store and keeps them. Every write goes through the Append*
// functions and then set_stats, which erases the terms the write changed.
// From the first Append* call of a write until its set_stats, searches
// neither use nor fill the cache (they read everything from the store as
// without one), so a search sees every write acknowledged before it began
// and one point in time; a write that fails (no set_stats) leaves the cache
// unused until the next write succeeds. Scores do not depend on the cache:
// the same lists give the same floats in the same order.
//
// Thread-safety: const methods may run concurrently with each other and
// with the rest, which are called under the collection's write lock.
class TextIndex {
 public:
  TextIndex(storage::Store* store, uint32_t cid, std::shared_ptr<PostingCache> cache = nullptr);
  ~TextIndex();
  TextIndex(const TextIndex&) = delete;
  TextIndex& operator=(const TextIndex&) = delete;

  // Reads the stored statistics (zero for a new collection).
  Status Load();
  // Load() again and forget the cached lists: another process wrote the
  // collection (a read-only database catching up with its writer).
  Status Reload();

  const TextStats& stats() const { return stats_; }
  // After the write that the Append* calls since the last set_stats
  // prepared is durable: its statistics, and its terms leave the cache.
  void set_stats(const TextStats& stats);

  // Adds the postings of document `slot` with `text` to `batch`, updating
  // `stats`. Returns the number of terms.
  size_t AppendAdd(uint64_t slot, std::string_view text, storage::WriteBatch* batch,
                   TextStats* stats);
  // Removes them (text as it was added).
  void AppendRemove(uint64_t slot, std::string_view text, storage::WriteBatch* batch,
                    TextStats* stats);
  // Writes `stats` into `batch`.
  void AppendStats(const TextStats& stats, storage::WriteBatch* batch);
  // Deletes every posting of the collection (drop).
  static void AppendDropAll(uint32_t cid, storage::WriteBatch* batch);

  // Drops this collection's lists from the cache and stops caching (the
  // collection was closed or dropped).
  void ReleaseCache();
  // Bytes of this collection's lists in the cache.
  size_t cached_bytes() const;
  // Tests only, before any search: `hook` runs in every search about to put
  // what it read or computed into the cache, just before.
  void SetBeforeCachingHookForTesting(std::function<void()> hook) {
    before_caching_ = std::move(hook);
  }

  // The k best documents for `query` by BM25, best first, among those
  // `admit` accepts (all when it is empty); documents matching no query
  // term are not returned. InvalidArgument when the query has no terms.
  Result<std::vector<TextHit>> Search(std::string_view query, size_t k,
                                      const std::function<bool(uint64_t)>& admit) const;

 private:
  // A write began (from its first Append* call): the cache is off until
  // set_stats.
  void BeginWrite();
  // `term`'s postings as of `view`.
  Status ReadPostings(std::string_view term, const storage::ReadView& view,
                      PostingList* list) const;

  storage::Store* const store_;
  const uint32_t cid_;
  const std::shared_ptr<PostingCache> cache_;
  const uint64_t owner_;  // this index's key in cache_ (0 without one)
  // The statistics as written; read by the writer (under the collection's
  // write lock) and, under mu_, by searches.
  TextStats stats_;
  // Writer only: a write is in progress (BeginWrite ran), and its terms.
  bool writing_ = false;
  std::set<std::string> written_terms_;

  std::function<void()> before_caching_;

  mutable std::mutex mu_;
  // Guarded by mu_: set from a write's first Append* call to its set_stats
  // (or for good by ReleaseCache); while set, searches bypass the cache.
  bool bypass_ = false;
  bool released_ = false;
  // Guarded by mu_: advanced when a write begins; a search stores what it
  // read only if no write began since it took its read view.
  uint64_t generation_ = 0;
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_TEXT_INDEX_H_
