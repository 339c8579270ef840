#include "storage/snapshot.h"

#include <functional>

#include <fmt/format.h>

#include "base/hash.h"
#include "storage/store.h"

namespace flashembed::storage {

void AppendSnapshot(uint32_t cid, uint64_t next_seq, std::string_view bytes, WriteBatch* batch) {
  // From the first part to the end of the collection's range: every part,
  // not the header ('h' sorts before 'p'), which the Put below replaces.
  batch->DeleteRange(Cf::kSnapshots, SnapshotPartKey(cid, 0), CollectionEnd(cid));
  SnapshotHeader h;
  h.next_seq = next_seq;
  h.total_bytes = bytes.size();
  h.hash = Hash64(bytes);
  for (size_t off = 0; off < bytes.size(); off += kSnapshotPartBytes) {
    batch->Put(Cf::kSnapshots, SnapshotPartKey(cid, h.parts++),
               bytes.substr(off, kSnapshotPartBytes));
  }
  batch->Put(Cf::kSnapshots, SnapshotHeaderKey(cid), EncodeSnapshotHeader(h));
}

namespace {

// The parts `header` counts, read with `part_key` and checked; `what` names
// them in errors.
Result<std::string> ReadParts(const Store& store, const SnapshotHeader& header,
                              const std::function<std::string(uint32_t)>& part_key,
                              std::string_view what) {
  // Checked before anything is reserved, so a damaged header cannot ask for
  // more memory than its parts could hold.
  if (header.total_bytes > uint64_t{header.parts} * kSnapshotPartBytes) {
    return Status::Corruption(fmt::format("{} header counts {} bytes in {} parts of at most {}",
                                          what, header.total_bytes, header.parts,
                                          kSnapshotPartBytes));
  }
  std::string bytes;
  bytes.reserve(header.total_bytes);
  for (uint32_t p = 0; p < header.parts; ++p) {
    FE_ASSIGN_OR_RETURN(std::string part, store.Get(Cf::kSnapshots, part_key(p)));
    bytes += part;
  }
  FE_RETURN_IF_ERROR(CheckHash64(what, bytes, header.total_bytes, header.hash));
  return bytes;
}

}  // namespace

Result<std::string> ReadSnapshot(const Store& store, uint32_t cid, const SnapshotHeader& header) {
  return ReadParts(
      store, header, [cid](uint32_t p) { return SnapshotPartKey(cid, p); }, "index snapshot");
}

void AppendEncoderModel(uint32_t cid, std::string_view bytes, WriteBatch* batch) {
  SnapshotHeader h;
  h.total_bytes = bytes.size();
  h.hash = Hash64(bytes);
  for (size_t off = 0; off < bytes.size(); off += kSnapshotPartBytes) {
    batch->Put(Cf::kSnapshots, EncoderModelPartKey(cid, h.parts++),
               bytes.substr(off, kSnapshotPartBytes));
  }
  batch->Put(Cf::kSnapshots, EncoderModelHeaderKey(cid), EncodeSnapshotHeader(h));
}

Result<std::string> ReadEncoderModel(const Store& store, uint32_t cid) {
  FE_ASSIGN_OR_RETURN(std::string header_bytes,
                      store.Get(Cf::kSnapshots, EncoderModelHeaderKey(cid)));
  FE_ASSIGN_OR_RETURN(SnapshotHeader header, DecodeSnapshotHeader(header_bytes));
  return ReadParts(
      store, header, [cid](uint32_t p) { return EncoderModelPartKey(cid, p); }, "encoder model");
}

}  // namespace flashembed::storage
