// Metrics: request counters and latency histograms for GET /metrics
// (Prometheus text exposition format 0.0.4).
//
// Thread-safety: all methods may be called concurrently.
#ifndef FLASHEMBED_SERVER_METRICS_H_
#define FLASHEMBED_SERVER_METRICS_H_

#include <array>
#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <utility>

#include "query/database.h"

namespace flashembed::server {

class Metrics {
 public:
  // Upper bounds (seconds) of the latency histogram buckets; +Inf is implied.
  static constexpr std::array<double, 12> kBuckets = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
                                                      0.05,   0.1,   0.25,   0.5,   1.0,  5.0};

  // One answered request: its route template, HTTP status and latency.
  void RecordRequest(const std::string& route, int http_status, double seconds);
  // Texts the built-in encoder embedded for a write or a search.
  void AddTextsEmbedded(uint64_t n) { texts_embedded_.fetch_add(n, std::memory_order_relaxed); }
  // Open connections, maintained by the transport.
  void SetOpenConnections(int64_t n) { open_connections_.store(n, std::memory_order_relaxed); }

  // The exposition text: the counters above plus, read from `db` now,
  // documents per collection. A collection that fails to open is skipped.
  std::string Render(Database* db);

 private:
  struct Histogram {
    std::array<uint64_t, kBuckets.size()> counts{};  // not cumulative
    uint64_t count = 0;
    double sum = 0;
  };

  std::mutex mu_;
  std::map<std::pair<std::string, int>, uint64_t> requests_;  // guarded by mu_
  std::map<std::string, Histogram> latency_;                  // guarded by mu_
  std::atomic<uint64_t> texts_embedded_{0};
  std::atomic<int64_t> open_connections_{0};
};

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_METRICS_H_
