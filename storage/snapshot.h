// Index snapshots in family `snapshots` (storage/FORMAT.md): the bytes of
// an index (index/FORMAT.md) cut into parts of at most kSnapshotPartBytes,
// and a SnapshotHeader (storage/records.h) that records the oplog position
// they cover, their size and Hash64.
#ifndef FLASHEMBED_STORAGE_SNAPSHOT_H_
#define FLASHEMBED_STORAGE_SNAPSHOT_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/status.h"
#include "storage/records.h"

namespace flashembed::storage {

class Store;
class WriteBatch;

inline constexpr size_t kSnapshotPartBytes = 4u << 20;

// Adds to `batch` what replaces collection `cid`'s snapshot by `bytes`,
// which hold every oplog entry with seq < next_seq: the old parts deleted,
// the new parts and header put. The caller deletes the oplog it covers.
void AppendSnapshot(uint32_t cid, uint64_t next_seq, std::string_view bytes, WriteBatch* batch);

// The bytes of collection `cid`'s snapshot, read with `header` (decoded
// from SnapshotHeaderKey(cid)). Corruption when the header counts more
// bytes than its parts can hold, or the parts' size or Hash64 differ from
// the header's; a missing part is NotFound, other read errors are the
// store's.
Result<std::string> ReadSnapshot(const Store& store, uint32_t cid, const SnapshotHeader& header);

// A collection's trained encoder model (encoders/FORMAT.md), kept like a
// snapshot: parts of at most kSnapshotPartBytes under EncoderModelPartKey
// and a header (next_seq 0) under EncoderModelHeaderKey. Written once, with
// the collection's catalog record; deleted with its data.
void AppendEncoderModel(uint32_t cid, std::string_view bytes, WriteBatch* batch);
// The model's bytes: NotFound without one; Corruption as ReadSnapshot.
Result<std::string> ReadEncoderModel(const Store& store, uint32_t cid);

}  // namespace flashembed::storage

#endif  // FLASHEMBED_STORAGE_SNAPSHOT_H_
