// VectorIndex: the one interface every approximate or exact nearest-neighbour
// index in flashembed implements.
//
// Vectors are addressed by `slot`, a 64-bit number the caller (query/) assigns
// and never reuses. Distances follow "lower is better"; ScoreFromDistance()
// turns one into a "higher is better" score.
//
// Thread-safety: const methods (Search, Serialize, size, Contains) may run
// concurrently with each other. Add and Remove must not run concurrently with
// anything else on the same index; callers serialise them (query/ holds a
// reader-writer lock per collection).
#ifndef FLASHEMBED_INDEX_VECTOR_INDEX_H_
#define FLASHEMBED_INDEX_VECTOR_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::index {

enum class Metric : uint8_t {
  kCosine = 0,        // distance = 1 - cos(a, b); vectors are normalised on the way in
  kInnerProduct = 1,  // distance = 1 - <a, b>
  kL2 = 2,            // distance = squared Euclidean distance
};

// "cosine", "ip", "l2".
const char* MetricName(Metric metric);

// Higher is better: cosine similarity, inner product, or -squared L2.
float ScoreFromDistance(Metric metric, float distance);

struct Neighbor {
  uint64_t slot = 0;
  float distance = 0;  // lower is better; see Metric
};

// Says whether a slot may appear in results (a metadata filter, resolved by
// the caller). Called from the searching thread only; must not block.
using SlotPredicate = std::function<bool(uint64_t slot)>;

class VectorIndex {
 public:
  virtual ~VectorIndex() = default;
  VectorIndex() = default;
  VectorIndex(const VectorIndex&) = delete;
  VectorIndex& operator=(const VectorIndex&) = delete;

  virtual int dim() const = 0;
  virtual Metric metric() const = 0;

  // Number of live (not removed) vectors.
  virtual size_t size() const = 0;

  // Number of removed vectors the index still holds something of (HNSW:
  // graph nodes marked deleted, with their vectors and links; flat and IVF:
  // the slot, so it is never taken again). A rebuild from the live vectors
  // drops them all.
  virtual size_t removed() const = 0;

  // True if `slot` holds a live vector.
  virtual bool Contains(uint64_t slot) const = 0;

  // Adds `vector` under `slot`. InvalidArgument if vector.size() != dim() or a
  // value is not finite (or, for cosine, the vector is all zeros);
  // AlreadyExists if `slot` was ever added (slots are never reused). The index
  // grows as needed.
  virtual Status Add(uint64_t slot, std::span<const float> vector) = 0;

  // Removes `slot` from results. NotFound if it is not live.
  virtual Status Remove(uint64_t slot) = 0;

  // The k nearest live vectors to `query`, nearest first. `ef_search` widens
  // the candidate list (0 = the index's default); it is raised to k when
  // smaller. For IVF indexes it is nprobe instead, the inverted lists scanned
  // (0 = the index's default; capped at nlist, not raised to k, widened when
  // the lists scanned hold fewer than k), and flat indexes ignore it. Fewer
  // than k results only when fewer than k vectors are live.
  virtual Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k,
                                               size_t ef_search) const = 0;

  // The exact k nearest live vectors by a full scan, nearest first. Same
  // contract as Search; costs O(size * dim), which beats graph search on
  // small indexes and is immune to unreachable graph nodes.
  virtual Result<std::vector<Neighbor>> ExactSearch(std::span<const float> query,
                                                    size_t k) const = 0;

  // Filtered search: the k nearest live vectors whose slot `admit` accepts,
  // nearest first. Graph indexes walk through rejected vectors too (so a
  // selective filter cannot cut the graph apart) and keep ef_search admitted
  // candidates; the result is approximate and may hold fewer than k even
  // when k admitted vectors exist (very selective filters: use
  // ExactSearchAmong or ExactSearch with the same predicate instead).
  virtual Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k,
                                               size_t ef_search,
                                               const SlotPredicate& admit) const = 0;
  // Exact filtered search by a full scan; complete: fewer than k results only
  // when fewer than k live vectors are admitted.
  virtual Result<std::vector<Neighbor>> ExactSearch(std::span<const float> query, size_t k,
                                                    const SlotPredicate& admit) const = 0;
  // The exact k nearest among `slots` (slots that are not live are skipped,
  // duplicates count once); costs O(slots.size() * dim). For filters that
  // match few vectors, whose slots the caller already knows.
  virtual Result<std::vector<Neighbor>> ExactSearchAmong(std::span<const float> query, size_t k,
                                                         std::span<const uint64_t> slots) const = 0;

  // The whole index as bytes: our own versioned header (see index/FORMAT.md)
  // followed by the implementation's payload.
  virtual Result<std::string> Serialize() const = 0;
};

}  // namespace flashembed::index

#endif  // FLASHEMBED_INDEX_VECTOR_INDEX_H_
