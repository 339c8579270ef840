#include "server/metrics.h"

#include <iterator>
#include <vector>

#include <fmt/format.h>

namespace flashembed::server {
namespace {

// Label values escape backslash, double quote and newline (exposition format).
std::string EscapeLabel(const std::string& value) {
  std::string out;
  for (char c : value) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

std::string FormatDouble(double v) { return fmt::format("{:.9g}", v); }

}  // namespace

void Metrics::RecordRequest(const std::string& route, int http_status, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++requests_[{route, http_status}];
  Histogram& h = latency_[route];
  size_t bucket = 0;
  while (bucket < kBuckets.size() && seconds > kBuckets[bucket]) ++bucket;
  if (bucket < kBuckets.size()) ++h.counts[bucket];
  ++h.count;
  h.sum += seconds;
}

std::string Metrics::Render(Database* db) {
  std::string text;
  auto out = std::back_inserter(text);
  {
    std::lock_guard<std::mutex> lock(mu_);
    text +=
        "# HELP flashembed_http_requests_total HTTP requests answered, by route and status.\n"
        "# TYPE flashembed_http_requests_total counter\n";
    for (const auto& [key, n] : requests_) {
      fmt::format_to(out, "flashembed_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                     EscapeLabel(key.first), key.second, n);
    }
    text +=
        "# HELP flashembed_http_request_duration_seconds Time from a complete request to its "
        "response being written, by route.\n"
        "# TYPE flashembed_http_request_duration_seconds histogram\n";
    for (const auto& [route, h] : latency_) {
      const std::string label = EscapeLabel(route);
      uint64_t cumulative = 0;
      for (size_t i = 0; i < kBuckets.size(); ++i) {
        cumulative += h.counts[i];
        fmt::format_to(out,
                       "flashembed_http_request_duration_seconds_bucket{{route=\"{}\",le=\"{}\"}} "
                       "{}\n",
                       label, FormatDouble(kBuckets[i]), cumulative);
      }
      fmt::format_to(out,
                     "flashembed_http_request_duration_seconds_bucket{{route=\"{0}\",le=\"+Inf\"}} "
                     "{1}\n"
                     "flashembed_http_request_duration_seconds_sum{{route=\"{0}\"}} {2}\n"
                     "flashembed_http_request_duration_seconds_count{{route=\"{0}\"}} {1}\n",
                     label, h.count, FormatDouble(h.sum));
    }
  }
  fmt::format_to(out,
                 "# HELP flashembed_texts_embedded_total Texts embedded by the built-in encoders "
                 "for writes and searches.\n"
                 "# TYPE flashembed_texts_embedded_total counter\n"
                 "flashembed_texts_embedded_total {}\n"
                 "# HELP flashembed_http_connections_open Open HTTP connections.\n"
                 "# TYPE flashembed_http_connections_open gauge\n"
                 "flashembed_http_connections_open {}\n",
                 texts_embedded_.load(std::memory_order_relaxed),
                 open_connections_.load(std::memory_order_relaxed));

  // Every document holds exactly one vector, so the two gauges agree; both
  // are exported because dashboards for vector stores expect both names.
  Result<std::vector<CollectionInfo>> infos = db->ListCollections();
  if (infos.ok()) {
    text +=
        "# HELP flashembed_documents Live documents, by collection.\n"
        "# TYPE flashembed_documents gauge\n";
    for (const CollectionInfo& info : *infos) {
      fmt::format_to(out, "flashembed_documents{{collection=\"{}\"}} {}\n", EscapeLabel(info.name),
                     info.count);
    }
    text +=
        "# HELP flashembed_vectors Stored vectors, by collection.\n"
        "# TYPE flashembed_vectors gauge\n";
    for (const CollectionInfo& info : *infos) {
      fmt::format_to(out, "flashembed_vectors{{collection=\"{}\"}} {}\n", EscapeLabel(info.name),
                     info.count);
    }
    text +=
        "# HELP flashembed_vector_dim Vector dimension, by collection.\n"
        "# TYPE flashembed_vector_dim gauge\n";
    for (const CollectionInfo& info : *infos) {
      fmt::format_to(out, "flashembed_vector_dim{{collection=\"{}\"}} {}\n", EscapeLabel(info.name),
                     info.schema.dim);
    }
    text +=
        "# HELP flashembed_collection_disk_bytes Bytes of a collection's data in the database "
        "(estimated), by collection.\n"
        "# TYPE flashembed_collection_disk_bytes gauge\n";
    for (const CollectionInfo& info : *infos) {
      fmt::format_to(out, "flashembed_collection_disk_bytes{{collection=\"{}\"}} {}\n",
                     EscapeLabel(info.name), info.disk_bytes);
    }
  }
  if (Result<uint64_t> folder = db->DiskBytes(); folder.ok()) {
    fmt::format_to(out,
                   "# HELP flashembed_disk_bytes Bytes of every file in the database folder.\n"
                   "# TYPE flashembed_disk_bytes gauge\n"
                   "flashembed_disk_bytes {}\n",
                   *folder);
  }
  return text;
}

}  // namespace flashembed::server
