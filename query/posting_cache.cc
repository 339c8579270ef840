#include "query/posting_cache.h"

#include <utility>

namespace flashembed::query {
namespace {

// Per entry beyond its vectors and key: the list node, the map's node and
// bucket, the two shared objects' control blocks and headers.
constexpr size_t kEntryOverhead = 256;

}  // namespace

std::string PostingCache::Key(uint64_t owner, std::string_view term) {
  std::string key(sizeof owner, '\0');
  for (size_t i = 0; i < sizeof owner; ++i) key[i] = static_cast<char>(owner >> (8 * i));
  key.append(term);
  return key;
}

size_t PostingCache::EntryBytes(const CachedPostings& postings, size_t term_bytes) {
  const PostingList& list = *postings.list;
  return kEntryOverhead + sizeof(uint64_t) + term_bytes + list.slots.capacity() * sizeof(uint64_t) +
         list.tf.capacity() * sizeof(uint32_t) + list.length.capacity() * sizeof(uint32_t) +
         postings.parts->values.capacity() * sizeof(float);
}

uint64_t PostingCache::NewOwner() {
  std::lock_guard<std::mutex> lock(mu_);
  return next_owner_++;
}

CachedPostings PostingCache::Get(uint64_t owner, std::string_view term) {
  const std::string key = Key(owner, term);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end()) return {};
  lru_.splice(lru_.begin(), lru_, it->second);
  return it->second->postings;
}

void PostingCache::Put(uint64_t owner, std::string_view term, CachedPostings postings) {
  const size_t bytes = EntryBytes(postings, term.size());
  std::string key = Key(owner, term);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = map_.find(key); it != map_.end()) EraseLocked(it->second);
  if (bytes > capacity_) return;
  while (bytes_ + bytes > capacity_) EraseLocked(std::prev(lru_.end()));
  lru_.push_front(Entry{
      .key = std::move(key), .owner = owner, .postings = std::move(postings), .bytes = bytes});
  map_.emplace(lru_.front().key, lru_.begin());
  bytes_ += bytes;
  owner_bytes_[owner] += bytes;
}

void PostingCache::SetParts(uint64_t owner, std::string_view term, const PostingList* list,
                            std::shared_ptr<const PostingParts> parts) {
  const std::string key = Key(owner, term);
  std::lock_guard<std::mutex> lock(mu_);
  auto it = map_.find(key);
  if (it == map_.end() || it->second->postings.list.get() != list) return;
  // The same list, so as many values; the reserved sizes may differ.
  const size_t before = it->second->postings.parts->values.capacity();
  if (parts->values.capacity() != before) return;
  it->second->postings.parts = std::move(parts);
}

void PostingCache::Erase(uint64_t owner, std::string_view term) {
  const std::string key = Key(owner, term);
  std::lock_guard<std::mutex> lock(mu_);
  if (auto it = map_.find(key); it != map_.end()) EraseLocked(it->second);
}

void PostingCache::EraseTerms(uint64_t owner, const std::set<std::string>& terms) {
  std::string key = Key(owner, "");
  const size_t prefix = key.size();
  std::lock_guard<std::mutex> lock(mu_);
  for (const std::string& term : terms) {
    if (!owner_bytes_.contains(owner)) return;
    key.resize(prefix);
    key.append(term);
    if (auto it = map_.find(key); it != map_.end()) EraseLocked(it->second);
  }
}

void PostingCache::EraseOwner(uint64_t owner) {
  std::lock_guard<std::mutex> lock(mu_);
  if (!owner_bytes_.contains(owner)) return;
  for (auto it = lru_.begin(); it != lru_.end();) {
    auto next = std::next(it);
    if (it->owner == owner) EraseLocked(it);
    it = next;
  }
}

void PostingCache::EraseLocked(Lru::iterator it) {
  bytes_ -= it->bytes;
  auto owned = owner_bytes_.find(it->owner);
  owned->second -= it->bytes;
  if (owned->second == 0) owner_bytes_.erase(owned);
  map_.erase(it->key);
  lru_.erase(it);
}

size_t PostingCache::bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return bytes_;
}

size_t PostingCache::bytes(uint64_t owner) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = owner_bytes_.find(owner);
  return it == owner_bytes_.end() ? 0 : it->second;
}

size_t PostingCache::entries() const {
  std::lock_guard<std::mutex> lock(mu_);
  return lru_.size();
}

}  // namespace flashembed::query
