// RwMutex: a reader-writer lock that prefers writers.
//
// std::shared_mutex on glibc prefers readers, so a steady stream of searches
// can starve a writer forever. This wraps pthread_rwlock_t with
// PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP: once a writer waits, new
// readers queue behind it. Meets the SharedMutex requirements, so
// std::shared_lock and std::unique_lock work with it. Not recursive.
#ifndef FLASHEMBED_BASE_RW_MUTEX_H_
#define FLASHEMBED_BASE_RW_MUTEX_H_

#include <pthread.h>

namespace flashembed {

class RwMutex {
 public:
  RwMutex() {
    pthread_rwlockattr_t attr;
    pthread_rwlockattr_init(&attr);
    pthread_rwlockattr_setkind_np(&attr, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(&lock_, &attr);
    pthread_rwlockattr_destroy(&attr);
  }
  ~RwMutex() { pthread_rwlock_destroy(&lock_); }
  RwMutex(const RwMutex&) = delete;
  RwMutex& operator=(const RwMutex&) = delete;

  void lock() { pthread_rwlock_wrlock(&lock_); }
  bool try_lock() { return pthread_rwlock_trywrlock(&lock_) == 0; }
  void unlock() { pthread_rwlock_unlock(&lock_); }
  void lock_shared() { pthread_rwlock_rdlock(&lock_); }
  bool try_lock_shared() { return pthread_rwlock_tryrdlock(&lock_) == 0; }
  void unlock_shared() { pthread_rwlock_unlock(&lock_); }

 private:
  pthread_rwlock_t lock_;
};

}  // namespace flashembed

#endif  // FLASHEMBED_BASE_RW_MUTEX_H_
