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

// One collection's postings. The Append* functions only add to a batch;
// the caller writes it and then calls set_stats with the stats it passed.
// Thread-safety: const methods may run concurrently; the rest are called
// under the collection's write lock.
class TextIndex {
 public:
  TextIndex(storage::Store* store, uint32_t cid) : store_(store), cid_(cid) {}

  // Reads the stored statistics (zero for a new collection).
  Status Load();

  const TextStats& stats() const { return stats_; }
  void set_stats(const TextStats& stats) { stats_ = stats; }

  // Adds the postings of document `slot` with `text` to `batch`, updating
  // `stats`. Returns the number of terms.
  size_t AppendAdd(uint64_t slot, std::string_view text, storage::WriteBatch* batch,
                   TextStats* stats) const;
  // Removes them (text as it was added).
  void AppendRemove(uint64_t slot, std::string_view text, storage::WriteBatch* batch,
                    TextStats* stats) const;
  // Writes `stats` into `batch`.
  void AppendStats(const TextStats& stats, storage::WriteBatch* batch) const;
  // Deletes every posting of the collection (drop).
  static void AppendDropAll(uint32_t cid, storage::WriteBatch* batch);

  // The k best documents for `query` by BM25, best first, among those
  // `admit` accepts (all when it is empty); documents matching no query
  // term are not returned. InvalidArgument when the query has no terms.
  Result<std::vector<TextHit>> Search(std::string_view query, size_t k,
                                      const std::function<bool(uint64_t)>& admit) const;

 private:
  storage::Store* const store_;
  const uint32_t cid_;
  TextStats stats_;
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_TEXT_INDEX_H_
