#include "index/row_store.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

namespace flashembed::index::internal {

void TopK::Offer(float distance, uint64_t slot) {
  auto less = [](const Neighbor& a, const Neighbor& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.slot < b.slot);
  };
  const Neighbor candidate{slot, distance};
  if (heap_.size() < k_) {
    heap_.push_back(candidate);
    std::push_heap(heap_.begin(), heap_.end(), less);
  } else if (k_ > 0 && less(candidate, heap_.front())) {
    std::pop_heap(heap_.begin(), heap_.end(), less);
    heap_.back() = candidate;
    std::push_heap(heap_.begin(), heap_.end(), less);
  }
}

std::vector<Neighbor> TopK::Take() {
  std::sort_heap(heap_.begin(), heap_.end(), [](const Neighbor& a, const Neighbor& b) {
    return a.distance < b.distance || (a.distance == b.distance && a.slot < b.slot);
  });
  return std::move(heap_);
}

void ScanRows(Metric metric, const float* query, const float* rows, const uint64_t* slots, size_t n,
              int dim, const SlotPredicate& admit, TopK* top) {
  if (top->k() == 0) return;
  // Distances of a block first, then the (branchy) selection: the distance
  // loop stays a tight vectorised kernel and the block's rows stay in cache.
  constexpr size_t kBlock = 256;
  float distances[kBlock];
  for (size_t start = 0; start < n; start += kBlock) {
    const size_t count = std::min(kBlock, n - start);
    const float* block = rows + start * static_cast<size_t>(dim);
    if (metric == Metric::kL2) {
      for (size_t i = 0; i < count; ++i) distances[i] = L2Sqr(query, block + i * dim, dim);
    } else {
      for (size_t i = 0; i < count; ++i) distances[i] = 1.0f - Dot(query, block + i * dim, dim);
    }
    for (size_t i = 0; i < count; ++i) {
      if (!top->Accepts(distances[i])) continue;
      const uint64_t slot = slots[start + i];
      if (admit && !admit(slot)) continue;
      top->Offer(distances[i], slot);
    }
  }
}

Result<std::vector<float>> PrepareVector(Metric metric, int dim, std::span<const float> vector,
                                         const char* what) {
  if (vector.size() != static_cast<size_t>(dim)) {
    return Status::InvalidArgument(
        fmt::format("dim mismatch: index has {}, {} has {}", dim, what, vector.size()));
  }
  std::vector<float> v(vector.begin(), vector.end());
  double norm = 0;
  for (float x : v) {
    if (!std::isfinite(x)) {
      return Status::InvalidArgument(std::string(what) + " has a NaN or infinite value");
    }
    norm += static_cast<double>(x) * x;
  }
  if (metric == Metric::kCosine) {
    if (norm == 0) {
      return Status::InvalidArgument(std::string("zero ") + what + " has no cosine direction");
    }
    const float inv = static_cast<float>(1.0 / std::sqrt(norm));
    for (float& x : v) x *= inv;
  }
  return v;
}

const float* RowStore::Find(uint64_t slot) const {
  auto it = row_of_.find(slot);
  return it == row_of_.end() ? nullptr : data_.data() + it->second * dim_;
}

size_t RowStore::MemoryBytes() const {
  // An unordered_map node holds a next pointer, the key and the value; the
  // bucket array adds a pointer per bucket.
  return data_.capacity() * sizeof(float) + slots_.capacity() * sizeof(uint64_t) +
         row_of_.size() * (sizeof(void*) + sizeof(uint64_t) + sizeof(size_t)) +
         row_of_.bucket_count() * sizeof(void*);
}

void RowStore::Add(uint64_t slot, const float* vector) {
  row_of_.emplace(slot, slots_.size());
  slots_.push_back(slot);
  data_.insert(data_.end(), vector, vector + dim_);
}

bool RowStore::Remove(uint64_t slot) {
  auto it = row_of_.find(slot);
  if (it == row_of_.end()) return false;
  const size_t row = it->second, last = slots_.size() - 1;
  row_of_.erase(it);
  if (row != last) {
    std::copy_n(data_.begin() + last * dim_, dim_, data_.begin() + row * dim_);
    slots_[row] = slots_[last];
    row_of_[slots_[row]] = row;
  }
  slots_.pop_back();
  data_.resize(last * dim_);
  return true;
}

void RowStore::Clear() {
  std::vector<float>().swap(data_);
  std::vector<uint64_t>().swap(slots_);
  std::unordered_map<uint64_t, size_t>().swap(row_of_);
}

std::vector<Neighbor> RowStore::Search(Metric metric, const float* query, size_t k,
                                       const SlotPredicate& admit) const {
  TopK top(std::min(k, size()));
  ScanRows(metric, query, data_.data(), slots_.data(), size(), dim_, admit, &top);
  return top.Take();
}

std::vector<Neighbor> RowStore::SearchAmong(Metric metric, const float* query, size_t k,
                                            std::span<const uint64_t> slots) const {
  std::vector<size_t> rows;
  rows.reserve(slots.size());
  for (uint64_t slot : slots) {
    auto it = row_of_.find(slot);
    if (it != row_of_.end()) rows.push_back(it->second);
  }
  std::sort(rows.begin(), rows.end());  // memory order, and duplicates once
  rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
  TopK top(std::min(k, rows.size()));
  if (top.k() == 0) return {};
  for (size_t row : rows) {
    const float d = MetricDistance(metric, query, data_.data() + row * dim_, dim_);
    if (top.Accepts(d)) top.Offer(d, slots_[row]);
  }
  return top.Take();
}

void WriteRowStore(const RowStore& store, ByteWriter* out) {
  out->Put<uint64_t>(store.size());
  out->PutBytes(store.slots(), store.size() * sizeof(uint64_t));
  out->PutBytes(store.data(), store.size() * store.dim() * sizeof(float));
}

Status ReadRowStore(ByteReader* in, RowStore* store, const char* what) {
  uint64_t rows = 0;
  std::string_view slots, data;
  const uint64_t row_bytes = sizeof(uint64_t) + static_cast<uint64_t>(store->dim()) * sizeof(float);
  if (!in->Get(&rows) || rows > in->remaining() / row_bytes ||
      !in->GetView(rows * sizeof(uint64_t), &slots) ||
      !in->GetView(rows * store->dim() * sizeof(float), &data)) {
    return Status::Corruption(std::string(what) + ": vector rows truncated");
  }
  store->Clear();
  std::vector<float> row(store->dim());
  for (uint64_t i = 0; i < rows; ++i) {
    uint64_t slot;
    std::memcpy(&slot, slots.data() + i * sizeof(uint64_t), sizeof(slot));
    if (store->Contains(slot)) {
      return Status::Corruption(fmt::format("{}: slot {} stored twice", what, slot));
    }
    std::memcpy(row.data(), data.data() + i * row.size() * sizeof(float),
                row.size() * sizeof(float));
    store->Add(slot, row.data());
  }
  return Status::OK();
}

void WriteSlots(const std::unordered_set<uint64_t>& slots, ByteWriter* out) {
  std::vector<uint64_t> sorted(slots.begin(), slots.end());
  std::sort(sorted.begin(), sorted.end());
  out->Put<uint64_t>(sorted.size());
  out->PutBytes(sorted.data(), sorted.size() * sizeof(uint64_t));
}

Status ReadSlots(ByteReader* in, std::unordered_set<uint64_t>* slots, const char* what) {
  uint64_t count = 0;
  std::string_view bytes;
  if (!in->Get(&count) || count > in->remaining() / sizeof(uint64_t) ||
      !in->GetView(count * sizeof(uint64_t), &bytes)) {
    return Status::Corruption(std::string(what) + ": removed-slot list truncated");
  }
  slots->clear();
  slots->reserve(count);
  for (uint64_t i = 0; i < count; ++i) {
    uint64_t slot;
    std::memcpy(&slot, bytes.data() + i * sizeof(uint64_t), sizeof(slot));
    slots->insert(slot);
  }
  return Status::OK();
}

}  // namespace flashembed::index::internal
