// CollectionLocks: one reader/writer lock per collection name, shared by the
// Milvus and the native API, so that a Milvus indexes/create that re-creates
// an empty collection (drop + create with another index kind or metric)
// cannot interleave with a write through either API.
//
//   CollectionLocks::Guard guard = locks.Shared(name);     // every write route
//   CollectionLocks::Guard guard = locks.Exclusive(name);  // the re-creation
//
// A writer takes the shared lock *before* it opens the collection, so it
// either finishes before the re-creation looks at the collection (which then
// holds its rows and is not re-created) or opens the new collection after
// it. The re-creation checks emptiness under the exclusive lock.
//
// Writers are preferred (base/rw_mutex.h): a waiting re-creation is not
// starved by a stream of inserts. Entries exist only while a guard holds
// them, so the map stays as small as the number of operations in flight.
//
// Thread-safety: safe for concurrent use. A thread must not hold two guards
// for the same name (the lock is not recursive).
#ifndef FLASHEMBED_SERVER_COLLECTION_LOCKS_H_
#define FLASHEMBED_SERVER_COLLECTION_LOCKS_H_

#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "base/rw_mutex.h"

namespace flashembed::server {

class CollectionLocks {
 public:
  // Holds the lock of one name until destroyed.
  class Guard {
   public:
    ~Guard();
    Guard(const Guard&) = delete;
    Guard& operator=(const Guard&) = delete;

   private:
    friend class CollectionLocks;
    Guard(CollectionLocks* owner, const std::string& name, bool exclusive);

    CollectionLocks* owner_;
    std::string name_;
    bool exclusive_;
    std::shared_ptr<RwMutex> mu_;
  };

  CollectionLocks() = default;
  CollectionLocks(const CollectionLocks&) = delete;
  CollectionLocks& operator=(const CollectionLocks&) = delete;

  // Blocks until the lock of `name` is held shared (writes) or exclusively
  // (re-creation).
  Guard Shared(const std::string& name) { return Guard(this, name, /*exclusive=*/false); }
  Guard Exclusive(const std::string& name) { return Guard(this, name, /*exclusive=*/true); }

  // Names with a lock in use (for tests).
  size_t size();

 private:
  std::mutex mu_;
  // A name's entry is copied only under mu_, so use_count() == 1 under mu_
  // means no guard holds it and it can go.
  std::map<std::string, std::shared_ptr<RwMutex>, std::less<>> locks_;  // guarded by mu_
};

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_COLLECTION_LOCKS_H_
