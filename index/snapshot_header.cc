#include "index/snapshot_header.h"

#include <fmt/format.h>

namespace flashembed::index::internal {

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
