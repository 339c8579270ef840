// HnswIndex: a VectorIndex over hnswlib's HierarchicalNSW graph.
//
// hnswlib 0.6.2 (Debian's) has no per-query ef, no filter hook and saves only
// to file paths; this adapter adds a per-query ef (its own upper-layer descent
// then hnswlib's base-layer search), filtered search (its own base-layer walk
// that expands rejected nodes but returns only admitted ones), grows capacity
// on demand, and serialises through an in-memory file with our own header
// (index/FORMAT.md).
#ifndef FLASHEMBED_INDEX_HNSW_INDEX_H_
#define FLASHEMBED_INDEX_HNSW_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

#include "base/status.h"
#include "index/vector_index.h"

namespace flashembed::index {

struct HnswOptions {
  int dim = 0;                      // vector dimension; required, 1..65536
  Metric metric = Metric::kCosine;  // distance function
  int m = 16;                       // graph degree (hnswlib M); 2..100
  int ef_construction = 200;        // candidate list size while building; >= 1
  int ef_search = 64;               // default candidate list size while searching; >= 1
  size_t initial_capacity = 1024;   // first allocation, in vectors; grows by doubling
  uint64_t seed = 100;              // level generator seed (deterministic builds)

  Status Validate() const;
};

// Creates an empty index. InvalidArgument if options are invalid.
Result<std::unique_ptr<VectorIndex>> NewHnswIndex(const HnswOptions& options);

// Rebuilds an index from Serialize() bytes. Corruption if the bytes are
// truncated, fail their checksum or do not parse; InvalidArgument if they hold
// an index whose dim, metric or m differ from `options` (both values named).
// `options.ef_search` applies to the loaded index.
Result<std::unique_ptr<VectorIndex>> LoadHnswIndex(const HnswOptions& options,
                                                   std::string_view bytes);

}  // namespace flashembed::index

#endif  // FLASHEMBED_INDEX_HNSW_INDEX_H_
