// FlatIndex: a VectorIndex without an index structure. Every search is an
// exact scan over a dense array of the vectors (normalised for cosine), so
// Search == ExactSearch and recall is 1. Cost per search: O(size * dim)
// floats read, vectorised; it beats a graph up to tens of thousands of
// vectors and needs no training or tuning.
//
// Memory per vector: 4 * dim bytes of floats + 8 (slot) + about 32 (hash map
// entry and bucket). Removed slots are remembered (8 bytes each, about 40 in
// memory) so that re-adding one is AlreadyExists, as the interface requires.
//
// Thread-safety: as VectorIndex (const methods concurrently; Add/Remove
// exclusive).
#ifndef FLASHEMBED_INDEX_FLAT_INDEX_H_
#define FLASHEMBED_INDEX_FLAT_INDEX_H_

#include <memory>
#include <string_view>

#include "base/status.h"
#include "index/vector_index.h"

namespace flashembed::index {

struct FlatOptions {
  int dim = 0;                      // vector dimension; required, 1..65536
  Metric metric = Metric::kCosine;  // distance function

  Status Validate() const;
};

// Creates an empty index. InvalidArgument if options are invalid.
Result<std::unique_ptr<VectorIndex>> NewFlatIndex(const FlatOptions& options);

// Rebuilds an index from Serialize() bytes (layout in index/FORMAT.md).
// Corruption if the bytes are truncated, fail their checksum or do not
// parse; NotSupported for another format version; InvalidArgument if dim or
// metric differ from `options` (both values named).
Result<std::unique_ptr<VectorIndex>> LoadFlatIndex(const FlatOptions& options,
                                                   std::string_view bytes);

}  // namespace flashembed::index

#endif  // FLASHEMBED_INDEX_FLAT_INDEX_H_
