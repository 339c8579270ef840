// Internal to index/: the pieces the flat and IVF indexes share.
//
//   - distance kernels written so GCC/Clang vectorise them without
//     -ffast-math (16 independent partial sums, one per lane);
//   - TopK, the k best (lowest distance) candidates;
//   - RowStore, dense rows of `dim` floats addressed by slot (swap-remove,
//     so a scan never meets a hole);
//   - PrepareVector, the validation/normalisation every index applies;
//   - ByteWriter/ByteReader for snapshot payloads (little-endian PODs,
//     bounds-checked reads).
//
// Thread-safety: const members may run concurrently; mutations need the
// caller's exclusive lock (the VectorIndex contract).
#ifndef FLASHEMBED_INDEX_ROW_STORE_H_
#define FLASHEMBED_INDEX_ROW_STORE_H_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "base/status.h"
#include "index/vector_index.h"

namespace flashembed::index::internal {

inline float Dot(const float* a, const float* b, int dim) {
  float lanes[16] = {};
  int i = 0;
  for (; i + 16 <= dim; i += 16) {
    for (int j = 0; j < 16; ++j) lanes[j] += a[i + j] * b[i + j];
  }
  float sum = 0;
  for (; i < dim; ++i) sum += a[i] * b[i];
  for (float lane : lanes) sum += lane;
  return sum;
}

inline float L2Sqr(const float* a, const float* b, int dim) {
  float lanes[16] = {};
  int i = 0;
  for (; i + 16 <= dim; i += 16) {
    for (int j = 0; j < 16; ++j) {
      const float d = a[i + j] - b[i + j];
      lanes[j] += d * d;
    }
  }
  float sum = 0;
  for (; i < dim; ++i) sum += (a[i] - b[i]) * (a[i] - b[i]);
  for (float lane : lanes) sum += lane;
  return sum;
}

// The metric's distance (lower is better). Cosine expects both sides
// normalised already.
inline float MetricDistance(Metric metric, const float* a, const float* b, int dim) {
  return metric == Metric::kL2 ? L2Sqr(a, b, dim) : 1.0f - Dot(a, b, dim);
}

// The k lowest-distance candidates seen; ties broken by the lower slot so
// results are deterministic.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) { heap_.reserve(k + 1); }
  size_t k() const { return k_; }
  bool full() const { return heap_.size() >= k_; }
  // Candidates at or above this distance cannot enter once full.
  float worst() const { return heap_.front().distance; }
  // True if (distance, slot) would enter.
  bool Accepts(float distance) const { return !full() || distance <= worst(); }
  void Offer(float distance, uint64_t slot);
  // Nearest first; leaves the collector empty.
  std::vector<Neighbor> Take();

 private:
  size_t k_;
  std::vector<Neighbor> heap_;  // max-heap by (distance, slot)
};

// Scans `n` rows (row i at rows + i * dim, under slots[i]) into `top`.
// `admit` (may be empty) is asked only about rows that would enter `top`.
void ScanRows(Metric metric, const float* query, const float* rows, const uint64_t* slots, size_t n,
              int dim, const SlotPredicate& admit, TopK* top);

// Validates `vector` against `dim` (and, for cosine, that it has a
// direction) and returns the copy indexes store: normalised for cosine.
// `what` names the argument in errors ("vector", "query").
Result<std::vector<float>> PrepareVector(Metric metric, int dim, std::span<const float> vector,
                                         const char* what);

// Dense rows of `dim` floats addressed by slot.
class RowStore {
 public:
  explicit RowStore(int dim) : dim_(dim) {}

  int dim() const { return dim_; }
  size_t size() const { return slots_.size(); }
  bool Contains(uint64_t slot) const { return row_of_.count(slot) != 0; }
  // The row of `slot`, or nullptr.
  const float* Find(uint64_t slot) const;
  const float* data() const { return data_.data(); }
  const uint64_t* slots() const { return slots_.data(); }
  // Bytes held per row, for the memory notes (data, slot, map entry).
  size_t MemoryBytes() const;

  // REQUIRES: !Contains(slot); vector has dim() floats.
  void Add(uint64_t slot, const float* vector);
  // False if `slot` is absent. The last row moves into the hole.
  bool Remove(uint64_t slot);
  void Clear();

  // Exact searches over every row (or the given slots).
  std::vector<Neighbor> Search(Metric metric, const float* query, size_t k,
                               const SlotPredicate& admit) const;
  std::vector<Neighbor> SearchAmong(Metric metric, const float* query, size_t k,
                                    std::span<const uint64_t> slots) const;

 private:
  int dim_;
  std::vector<float> data_;      // size() * dim_
  std::vector<uint64_t> slots_;  // row -> slot
  std::unordered_map<uint64_t, size_t> row_of_;
};

// Appends little-endian PODs (every supported platform is little-endian;
// FORMAT.md fixes the byte order).
class ByteWriter {
 public:
  explicit ByteWriter(std::string* out) : out_(out) {}
  template <typename T>
  void Put(T value) {
    static_assert(std::is_trivially_copyable_v<T>);
    out_->append(reinterpret_cast<const char*>(&value), sizeof(T));
  }
  void PutBytes(const void* data, size_t n) { out_->append(static_cast<const char*>(data), n); }

 private:
  std::string* out_;
};

// Bounds-checked reads; every Get returns false once the input runs short.
class ByteReader {
 public:
  explicit ByteReader(std::string_view in) : in_(in) {}
  template <typename T>
  bool Get(T* value) {
    static_assert(std::is_trivially_copyable_v<T>);
    if (in_.size() < sizeof(T)) return false;
    std::memcpy(value, in_.data(), sizeof(T));
    in_.remove_prefix(sizeof(T));
    return true;
  }
  // A view of the next n bytes.
  bool GetView(size_t n, std::string_view* view) {
    if (in_.size() < n) return false;
    *view = in_.substr(0, n);
    in_.remove_prefix(n);
    return true;
  }
  size_t remaining() const { return in_.size(); }

 private:
  std::string_view in_;
};

// RowStore payload: u64 rows, rows x u64 slot, rows x dim x f32.
void WriteRowStore(const RowStore& store, ByteWriter* out);
// Corruption (naming `what`) if the bytes are short or a slot repeats.
Status ReadRowStore(ByteReader* in, RowStore* store, const char* what);

// Slot sets (the slots removed for good): u64 count, count x u64 ascending.
void WriteSlots(const std::unordered_set<uint64_t>& slots, ByteWriter* out);
Status ReadSlots(ByteReader* in, std::unordered_set<uint64_t>* slots, const char* what);

}  // namespace flashembed::index::internal

#endif  // FLASHEMBED_INDEX_ROW_STORE_H_
