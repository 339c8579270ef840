// RefreshGate: how a database opened read-only beside a writer (another
// process holding the folder) sees that writer's later writes. Every read
// through a collection handle, and every catalog read, first lets the gate
// catch up when kRefreshIntervalMs have passed since the last time, then
// runs holding the gate shared; a catch-up (the store's CatchUp, then the
// database reloading the collections whose records changed) holds it
// exclusively. So a read sees one state of the writer's data from start to
// end, never a batch in part, and writes become visible within about
// kRefreshIntervalMs of being acknowledged, or four times the last catch-up's
// duration when that was longer (a changed collection is loaded again whole:
// its index snapshot and the writes logged since). Internal to query/.
//
// Thread-safety: all members may be used from any thread.
#ifndef FLASHEMBED_QUERY_REFRESH_GATE_H_
#define FLASHEMBED_QUERY_REFRESH_GATE_H_

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <shared_mutex>

#include "base/status.h"

namespace flashembed::query {

class RefreshGate {
 public:
  static constexpr int64_t kRefreshIntervalMs = 100;
  static constexpr int64_t kRetryMs = 20;

  // `refresh` runs with the gate held exclusively; it must not read through
  // the gate itself.
  explicit RefreshGate(std::function<Status()> refresh) : refresh_(std::move(refresh)) {}

  // Held shared around each read. libstdc++'s shared mutex prefers readers
  // (glibc's default), so a read nested in another (a visit callback that
  // reads) never waits for a catch-up queued between them.
  std::shared_lock<std::shared_timed_mutex> Read() {
    MaybeRefresh();
    return std::shared_lock<std::shared_timed_mutex>(mu_);
  }

  // Catches up when due. Waits a little for reads in progress to finish,
  // else leaves it to a later call (reads go on with what they see). A
  // failed catch-up is retried by the next call that is due.
  void MaybeRefresh() {
    const int64_t now = NowMs();
    if (now < next_ms_.load(std::memory_order_relaxed)) return;
    std::unique_lock<std::mutex> running(refresh_mu_, std::try_to_lock);
    if (!running.owns_lock() || !refresh_) return;
    std::unique_lock<std::shared_timed_mutex> exclusive(mu_, std::chrono::milliseconds(50));
    // Busy or failed: the next attempt a little later, not at every read.
    const int64_t start = NowMs();
    const bool done = exclusive.owns_lock() && refresh_().ok();
    // A catch-up that loaded large collections again waits four times as
    // long as it took before the next, so reads get at least 80% of the time.
    const int64_t took = NowMs() - start;
    next_ms_.store(NowMs() + (done ? std::max(kRefreshIntervalMs, 4 * took) : kRetryMs),
                   std::memory_order_relaxed);
  }

  // No catch-up from now on (the database is being destroyed); waits for a
  // running one.
  void Disable() {
    std::lock_guard<std::mutex> running(refresh_mu_);
    refresh_ = nullptr;
  }

 private:
  static int64_t NowMs() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
  }

  std::shared_timed_mutex mu_;
  std::mutex refresh_mu_;  // one catch-up at a time; guards refresh_
  std::function<Status()> refresh_;
  std::atomic<int64_t> next_ms_{0};
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_REFRESH_GATE_H_
