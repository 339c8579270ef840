// RefreshGate: how a database opened read-only beside a writer (another
// process holding the folder) sees that writer's later writes. Every read
// through a collection handle, and every catalog read, first lets the gate
// catch up when kRefreshIntervalMs have passed since the last time, then
// runs holding the gate shared; a catch-up (the store's CatchUp, then each
// open collection following the writer's log, or loaded again) holds it
// exclusively. So a read sees one state of the writer's data from start to
// end, never a batch in part, and writes become visible within about
// kRefreshIntervalMs of being acknowledged, or four times the last catch-up's
// duration when that was longer (at most kMaxBackoffMs). Internal to query/.
//
// The lock prefers the catch-up: while one waits, new reads wait too, so a
// stream of overlapping reads cannot hold it off. It waits at most
// kWaitMs, then gives up until kRetryMs later; so a read nested in another on
// the same thread (a visit callback that reads) is held up by kWaitMs at
// most, never deadlocked.
//
// Thread-safety: all members may be used from any thread.
#ifndef FLASHEMBED_QUERY_REFRESH_GATE_H_
#define FLASHEMBED_QUERY_REFRESH_GATE_H_

#include <pthread.h>
#include <time.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <utility>

#include "base/status.h"

namespace flashembed::query {

class RefreshGate {
 public:
  static constexpr int64_t kRefreshIntervalMs = 100;
  static constexpr int64_t kWaitMs = 50;
  static constexpr int64_t kRetryMs = 20;
  static constexpr int64_t kMaxBackoffMs = 1000;

  // Holds the gate shared until destroyed (empty when default-constructed).
  class ReadLock {
   public:
    ReadLock() = default;
    explicit ReadLock(pthread_rwlock_t* lock) : lock_(lock) {}
    ReadLock(ReadLock&& other) noexcept : lock_(std::exchange(other.lock_, nullptr)) {}
    ReadLock& operator=(ReadLock&& other) noexcept {
      if (this != &other) {
        Release();
        lock_ = std::exchange(other.lock_, nullptr);
      }
      return *this;
    }
    ~ReadLock() { Release(); }

   private:
    void Release() {
      if (lock_ != nullptr) pthread_rwlock_unlock(lock_);
      lock_ = nullptr;
    }
    pthread_rwlock_t* lock_ = nullptr;
  };

  // `refresh` runs with the gate held exclusively; it must not read through
  // the gate itself.
  explicit RefreshGate(std::function<Status()> refresh) : refresh_(std::move(refresh)) {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&mu_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~RefreshGate() { pthread_rwlock_destroy(&mu_); }
  RefreshGate(const RefreshGate&) = delete;
  RefreshGate& operator=(const RefreshGate&) = delete;

  // Catches up when due, then holds the gate shared.
  ReadLock Read() {
    MaybeRefresh();
    pthread_rwlock_rdlock(&mu_);
    return ReadLock(&mu_);
  }

  // Catches up when due: waits up to kWaitMs for the reads in flight, else
  // leaves it to a call kRetryMs later. A failed catch-up is retried then
  // too.
  void MaybeRefresh() {
    if (NowMs() < next_ms_.load(std::memory_order_relaxed)) return;
    std::unique_lock<std::mutex> running(refresh_mu_, std::try_to_lock);
    if (!running.owns_lock() || !refresh_) return;
    timespec deadline{};
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_nsec += kWaitMs * 1000000;
    deadline.tv_sec += deadline.tv_nsec / 1000000000;
    deadline.tv_nsec %= 1000000000;
    bool done = false;
    int64_t took = 0;
    if (pthread_rwlock_timedwrlock(&mu_, &deadline) == 0) {
      const int64_t start = NowMs();
      done = refresh_().ok();
      took = NowMs() - start;
      pthread_rwlock_unlock(&mu_);
    }
    // A catch-up that had much to do waits four times as long as it took
    // (at most kMaxBackoffMs) before the next, so reads get most of the time.
    next_ms_.store(
        NowMs() + (done ? std::clamp(4 * took, kRefreshIntervalMs, kMaxBackoffMs) : kRetryMs),
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

  pthread_rwlock_t mu_;
  std::mutex refresh_mu_;  // one catch-up at a time; guards refresh_
  std::function<Status()> refresh_;
  std::atomic<int64_t> next_ms_{0};
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_REFRESH_GATE_H_
