#include "server/collection_locks.h"

namespace flashembed::server {

CollectionLocks::Guard::Guard(CollectionLocks* owner, const std::string& name, bool exclusive)
    : owner_(owner), name_(name), exclusive_(exclusive) {
  {
    std::lock_guard<std::mutex> lock(owner_->mu_);
    std::shared_ptr<RwMutex>& entry = owner_->locks_[name_];
    if (entry == nullptr) entry = std::make_shared<RwMutex>();
    mu_ = entry;
  }
  // Blocking happens outside mu_, so other names are not held up.
  if (exclusive_) {
    mu_->lock();
  } else {
    mu_->lock_shared();
  }
}

CollectionLocks::Guard::~Guard() {
  if (exclusive_) {
    mu_->unlock();
  } else {
    mu_->unlock_shared();
  }
  std::lock_guard<std::mutex> lock(owner_->mu_);
  mu_.reset();
  auto it = owner_->locks_.find(name_);
  if (it != owner_->locks_.end() && it->second.use_count() == 1) owner_->locks_.erase(it);
}

size_t CollectionLocks::size() {
  std::lock_guard<std::mutex> lock(mu_);
  return locks_.size();
}

}  // namespace flashembed::server
