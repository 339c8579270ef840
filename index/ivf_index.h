// IvfIndex: a VectorIndex over FAISS 1.7.3's inverted-file indexes
// (IVF-Flat, IVF-SQ8, IVF-PQ), trained once enough vectors exist.
//
// Life cycle:
//   - Untrained: until `train_at` vectors were added, the index keeps the
//     vectors itself (a dense array, normalised for cosine) and answers every
//     search exactly, so small collections get exact results.
//   - Training: the Add that brings the count to `train_at` runs k-means on
//     the stored vectors (FAISS samples at most 256 per centroid; this step
//     may use every core through OpenMP and BLAS), then moves them all into
//     the inverted lists. Later adds go straight to their list.
//
// Search: `ef_search` of VectorIndex::Search means nprobe here (lists
// scanned; 0 = IvfOptions::nprobe; capped at nlist; doubled until k results
// when the lists scanned hold fewer than k, unfiltered). A single query runs on
// the calling thread, never on an OpenMP team: the nearest centroids and the
// IVF-Flat lists are scanned by our own vectorised kernels (Debian's FAISS
// is a generic, unvectorised build); SQ8/PQ codes go through FAISS's
// search_preassigned with parallel_mode 0 (serial for one query) and without
// IndexIVF::search's global statistics, which concurrent searches would race
// on. Add after training also stays on the calling thread (FAISS's add
// starts an OpenMP team per call). Results carry
// exact distances (for SQ8/PQ, the k found are re-scored from the original
// vectors). Filtered search scans the same lists with an IDSelector that
// calls the predicate, so it may return fewer than k.
//
// Remove is O(1): the slot's entry is swapped with the last entry of its
// list (and of the vector array), so there are no tombstones, no periodic
// compaction and no per-candidate liveness check in the scan.
//
// Exactness and memory per live vector (besides FAISS's centroids:
// nlist * dim * 4 bytes, and PQ codebooks):
//   IVF-Flat: 4*dim (the list entry is the vector itself; ExactSearch scans
//             the lists) + 8 (id) + ~32 (slot -> list position map).
//   IVF-SQ8:  dim (code) + 8 (id) + ~32, plus the original vectors for
//             exact search: 4*dim + 8 + ~32.
//   IVF-PQ:   pq_m * pq_nbits / 8 (code) + 8 + ~32, plus 4*dim + 8 + ~32.
// So SQ8/PQ do not save memory here: ExactSearch/ExactSearchAmong must be
// exact over the original vectors, which SQ8/PQ codes cannot give. They
// trade recall for scan speed only. Snapshots carry the same data.
//
// Thread-safety: as VectorIndex (const methods concurrently; Add/Remove
// exclusive).
#ifndef FLASHEMBED_INDEX_IVF_INDEX_H_
#define FLASHEMBED_INDEX_IVF_INDEX_H_

#include <cstdint>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "index/vector_index.h"

namespace flashembed::index {

// What the inverted lists hold. Values are persisted (index/FORMAT.md).
enum class IvfKind : uint8_t {
  kFlat = 0,  // full float vectors
  kSq8 = 1,   // 8-bit scalar-quantised residuals (dim bytes)
  kPq = 2,    // product-quantised residuals (pq_m * pq_nbits bits)
};

// "ivf_flat", "ivf_sq8", "ivf_pq".
const char* IvfKindName(IvfKind kind);

// Mirrors query/database.h's IvfParams (same names and defaults). Fields
// marked persisted are written to snapshots and checked by LoadIvfIndex.
struct IvfOptions {
  int dim = 0;                      // vector dimension; required, 1..65536; persisted
  Metric metric = Metric::kCosine;  // distance function; persisted
  IvfKind kind = IvfKind::kFlat;    // list contents; persisted
  // Inverted lists (k-means centroids); 0 = chosen at training time as
  // 4 * sqrt(vectors), clamped to 16..65536 (and to the training count).
  // Explicit: 1..65536. Persisted once trained.
  int nlist = 0;
  // Lists scanned per query when Search's ef_search is 0; 1..65536, capped
  // at nlist. Not persisted: applies to a loaded index.
  int nprobe = 16;
  // Train once this many vectors were added; 0 = max(1000, 39 * nlist)
  // (1000 when nlist is 0). Must be >= nlist (k-means needs a point per
  // centroid), >= 16 when nlist is 0, and >= 2^pq_nbits for IVF-PQ.
  // Persisted.
  int train_at = 0;
  // IVF-PQ: sub-quantizers; must divide dim. 0 = dim / 4 rounded down to a
  // divisor of dim (at least 1). Persisted.
  int pq_m = 0;
  // IVF-PQ: bits per sub-quantizer code, 4..8. Persisted.
  int pq_nbits = 8;

  Status Validate() const;
  // train_at and pq_m with their defaults applied.
  int ResolvedTrainAt() const;
  int ResolvedPqM() const;
};

// Creates an empty, untrained index. InvalidArgument if options are invalid.
Result<std::unique_ptr<VectorIndex>> NewIvfIndex(const IvfOptions& options);

// Rebuilds an index (trained or not, pending vectors included) from
// Serialize() bytes (layout in index/FORMAT.md). Corruption if the bytes are
// truncated, fail their checksum or do not parse; NotSupported for another
// format version; InvalidArgument if dim, metric, kind, (for IVF-PQ) the
// resolved pq_m / pq_nbits, (untrained) the resolved train_at, or (trained,
// when options.nlist is not 0) nlist differ from `options`, naming both
// values. `options.nprobe` applies to the loaded index.
Result<std::unique_ptr<VectorIndex>> LoadIvfIndex(const IvfOptions& options,
                                                  std::string_view bytes);

}  // namespace flashembed::index

#endif  // FLASHEMBED_INDEX_IVF_INDEX_H_
