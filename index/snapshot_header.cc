#include "index/snapshot_header.h"

#include <cstring>

#include <fmt/format.h>

namespace flashembed::index::internal {

Status SnapshotTruncated(const SnapshotFormat& format, size_t size, size_t header_size) {
  return Status::Corruption(fmt::format("{} snapshot truncated: {} bytes, header needs {}",
                                        format.name, size, header_size));
}

Result<std::string_view> CheckSnapshotHeader(const SnapshotFormat& format, const char* magic,
                                             uint32_t version, uint64_t payload_size,
                                             uint64_t payload_hash, std::string_view payload) {
  if (std::memcmp(magic, format.magic, 8) != 0) {
    return Status::Corruption(fmt::format("not {} (bad magic)", format.article));
  }
  if (version != format.version) {
    return Status::NotSupported(
        fmt::format("{} snapshot format version {} is not supported (this build reads {})",
                    format.name, version, format.version));
  }
  FE_RETURN_IF_ERROR(
      CheckHash64(fmt::format("{} snapshot", format.name), payload, payload_size, payload_hash));
  return payload;
}

Status SnapshotMismatch(const SnapshotFormat& format, std::string_view field,
                        std::string_view stored, std::string_view wanted) {
  return Status::InvalidArgument(fmt::format("{} snapshot {} {} differs from expected {}",
                                             format.name, field, stored, wanted));
}

Status CheckSnapshotShape(const SnapshotFormat& format, uint32_t dim, uint32_t metric, int want_dim,
                          Metric want_metric) {
  if (dim != static_cast<uint32_t>(want_dim)) {
    return SnapshotMismatch(format, "dim", std::to_string(dim), std::to_string(want_dim));
  }
  if (metric != static_cast<uint32_t>(want_metric)) {
    return SnapshotMismatch(format, "metric", MetricName(static_cast<Metric>(metric)),
                            MetricName(want_metric));
  }
  return Status::OK();
}

}  // namespace flashembed::index::internal
