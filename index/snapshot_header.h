// The header that starts every index snapshot (index/FORMAT.md), internal to
// index/. Each kind has its own Header struct, little-endian, that begins
// with 8 magic bytes and a u32 format version and ends with the live vector
// count, the payload size and the payload's Hash64; the kind's own fields
// (dim, metric, ...) lie between and are checked by the kind's loader.
#ifndef FLASHEMBED_INDEX_SNAPSHOT_HEADER_H_
#define FLASHEMBED_INDEX_SNAPSHOT_HEADER_H_

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "base/hash.h"
#include "base/status.h"
#include "index/vector_index.h"

namespace flashembed::index::internal {

// What tells one kind's snapshots apart, and names it in messages.
struct SnapshotFormat {
  const char* name;     // starts messages: "HNSW" gives "HNSW snapshot truncated: ..."
  const char* article;  // for a bad magic: "an HNSW snapshot"
  const char* magic;    // 8 bytes
  uint32_t version;     // the kind's kFormatVersion
};

// Fills the header fields every kind shares (magic, version, payload size
// and hash) into `h`, whose own fields the caller has set, and writes it
// over the first sizeof(Header) bytes of `out`, the payload following them.
// REQUIRES: out->size() >= sizeof(Header).
template <class Header>
void SealSnapshot(const SnapshotFormat& format, Header h, std::string* out) {
  std::memcpy(h.magic, format.magic, sizeof(h.magic));
  h.version = format.version;
  h.payload_size = out->size() - sizeof(Header);
  h.payload_hash = Hash64(out->data() + sizeof(Header), h.payload_size);
  std::memcpy(out->data(), &h, sizeof(h));
}

// Reads the header of snapshot `bytes` into `h` and returns the payload
// after it, once the shared fields check out. Corruption for a buffer
// shorter than the header, a bad magic, or a payload whose size or Hash64
// differs from the header's (CheckHash64); NotSupported for another format
// version.
// OpenSnapshot's messages and shared checks, out of line (snapshot_header.cc).
Status SnapshotTruncated(const SnapshotFormat& format, size_t size, size_t header_size);
Result<std::string_view> CheckSnapshotHeader(const SnapshotFormat& format, const char* magic,
                                             uint32_t version, uint64_t payload_size,
                                             uint64_t payload_hash, std::string_view payload);

template <class Header>
Result<std::string_view> OpenSnapshot(const SnapshotFormat& format, std::string_view bytes,
                                      Header* h) {
  if (bytes.size() < sizeof(Header)) return SnapshotTruncated(format, bytes.size(), sizeof(Header));
  std::memcpy(h, bytes.data(), sizeof(Header));
  return CheckSnapshotHeader(format, h->magic, h->version, h->payload_size, h->payload_hash,
                             bytes.substr(sizeof(Header)));
}

// InvalidArgument for a header field that differs from the options the index
// is opened with: "HNSW snapshot dim 8 differs from expected 4".
Status SnapshotMismatch(const SnapshotFormat& format, std::string_view field,
                        std::string_view stored, std::string_view wanted);

// Checks the dim and metric every kind's header holds against the options
// (SnapshotMismatch names the first that differs).
Status CheckSnapshotShape(const SnapshotFormat& format, uint32_t dim, uint32_t metric, int want_dim,
                          Metric want_metric);

}  // namespace flashembed::index::internal

#endif  // FLASHEMBED_INDEX_SNAPSHOT_HEADER_H_
