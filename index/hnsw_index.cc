#include "index/hnsw_index.h"

#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <exception>
#include <limits>
#include <new>
#include <queue>
#include <string>
#include <vector>

#include <fmt/format.h>

// hnswlib's headers define non-inline functions (cpuid, xgetbv, AVXCapable,
// AVX512Capable) and global function pointers in namespace hnswlib. Renaming
// them keeps this library linkable next to any other translation unit that
// includes hnswlib itself (benchmarks, or a user's own code). The namespace
// macro stays defined, so `hnswlib::` below means our private copy.
#define hnswlib flashembed_hnswlib
#define cpuid flashembed_hnswlib_cpuid
#define xgetbv flashembed_hnswlib_xgetbv
#define AVXCapable flashembed_hnswlib_AVXCapable
#define AVX512Capable flashembed_hnswlib_AVX512Capable
#include <hnswlib/hnswlib.h>
#undef cpuid
#undef xgetbv
#undef AVXCapable
#undef AVX512Capable

#include "index/snapshot_header.h"

namespace flashembed::index {
namespace {

// Serialized layout (little-endian), see index/FORMAT.md.
constexpr char kMagic[8] = {'F', 'E', 'H', 'N', 'S', 'W', '0', '1'};
constexpr uint32_t kFormatVersion = 1;
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint32_t metric;
  uint32_t m;
  uint32_t ef_construction;
  uint32_t reserved;
  uint64_t live_count;
  uint64_t payload_size;
  uint64_t payload_hash;
};
static_assert(sizeof(Header) == 56);
constexpr internal::SnapshotFormat kSnapshotFormat{"HNSW", "an HNSW snapshot", kMagic,
                                                   kFormatVersion};

// An anonymous in-memory file: hnswlib 0.6.2 saves and loads only by path, and
// /proc/self/fd/N gives one without touching the disk.
class MemFile {
 public:
  MemFile() : fd_(memfd_create("flashembed-hnsw", MFD_CLOEXEC)) {}
  ~MemFile() {
    if (fd_ >= 0) close(fd_);
  }
  MemFile(const MemFile&) = delete;
  MemFile& operator=(const MemFile&) = delete;
  bool ok() const { return fd_ >= 0; }
  std::string path() const { return fmt::format("/proc/self/fd/{}", fd_); }

  Status WriteAll(std::string_view data) {
    size_t done = 0;
    while (done < data.size()) {
      ssize_t n = pwrite(fd_, data.data() + done, data.size() - done, static_cast<off_t>(done));
      if (n <= 0) return Status::IOError("writing in-memory index file failed");
      done += static_cast<size_t>(n);
    }
    return Status::OK();
  }

  Status ReadAll(std::string* out) {
    off_t size = lseek(fd_, 0, SEEK_END);
    if (size < 0) return Status::IOError("sizing in-memory index file failed");
    out->resize(out->size() + static_cast<size_t>(size));
    char* dst = out->data() + out->size() - size;
    size_t done = 0;
    while (done < static_cast<size_t>(size)) {
      ssize_t n =
          pread(fd_, dst + done, static_cast<size_t>(size) - done, static_cast<off_t>(done));
      if (n <= 0) return Status::IOError("reading in-memory index file failed");
      done += static_cast<size_t>(n);
    }
    return Status::OK();
  }

 private:
  int fd_;
};

class HnswIndex final : public VectorIndex {
 public:
  explicit HnswIndex(const HnswOptions& options) : options_(options) {
    if (options.metric == Metric::kL2) {
      space_ = std::make_unique<hnswlib::L2Space>(options.dim);
    } else {
      space_ = std::make_unique<hnswlib::InnerProductSpace>(options.dim);
    }
  }

  Status Init() {
    try {
      hnsw_ = std::make_unique<hnswlib::HierarchicalNSW<float>>(
          space_.get(), std::max<size_t>(options_.initial_capacity, 16), options_.m,
          options_.ef_construction, options_.seed);
    } catch (const std::bad_alloc&) {
      return Status::ResourceExhausted("out of memory creating HNSW index");
    } catch (const std::exception& e) {
      return Status::Internal(std::string("creating HNSW index: ") + e.what());
    }
    return Status::OK();
  }

  Status Load(std::string_view payload) {
    MemFile file;
    if (!file.ok()) return Status::IOError("memfd_create failed while loading HNSW index");
    FE_RETURN_IF_ERROR(file.WriteAll(payload));
    try {
      hnsw_ =
          std::make_unique<hnswlib::HierarchicalNSW<float>>(space_.get(), file.path(), false, 0);
    } catch (const std::bad_alloc&) {
      return Status::ResourceExhausted("out of memory loading HNSW index");
    } catch (const std::exception& e) {
      return Status::Corruption(std::string("HNSW payload does not load: ") + e.what());
    }
    // hnswlib 0.6.2's loading constructor never zeroes num_deleted_ before
    // counting deleted marks into it; count them ourselves.
    size_t deleted = 0;
    for (size_t i = 0; i < hnsw_->cur_element_count; ++i) {
      deleted += hnsw_->isMarkedDeleted(static_cast<hnswlib::tableint>(i)) ? 1 : 0;
    }
    hnsw_->num_deleted_ = deleted;
    if (hnsw_->M_ != static_cast<size_t>(options_.m)) {
      return Status::Corruption(
          fmt::format("HNSW payload m {} disagrees with its header", hnsw_->M_));
    }
    // As hnswlib's building constructor does (the loading one leaves these as
    // saved, with the level generator unseeded).
    hnsw_->ef_construction_ = std::max<size_t>(options_.ef_construction, hnsw_->M_);
    hnsw_->level_generator_.seed(options_.seed + hnsw_->cur_element_count);
    for (const auto& [slot, id] : hnsw_->label_lookup_) RememberId(slot, id);
    return Status::OK();
  }

  int dim() const override { return options_.dim; }
  Metric metric() const override { return options_.metric; }
  size_t size() const override { return hnsw_->cur_element_count - hnsw_->num_deleted_; }
  size_t removed() const override { return hnsw_->num_deleted_; }

  bool Contains(uint64_t slot) const override {
    hnswlib::tableint id;
    return IdOf(slot, &id) && !hnsw_->isMarkedDeleted(id);
  }

  Status Add(uint64_t slot, std::span<const float> vector) override {
    FE_ASSIGN_OR_RETURN(std::vector<float> v, Prepare(vector));
    if (hnsw_->label_lookup_.count(slot) != 0) {
      return Status::AlreadyExists(fmt::format("slot {} already in the index", slot));
    }
    try {
      if (hnsw_->cur_element_count >= hnsw_->max_elements_) {
        hnsw_->resizeIndex(std::max<size_t>(2 * hnsw_->max_elements_, 1024));
      }
      hnsw_->addPoint(v.data(), slot);
      RememberId(slot, hnsw_->label_lookup_.at(slot));
    } catch (const std::bad_alloc&) {
      return Status::ResourceExhausted("out of memory growing HNSW index");
    } catch (const std::exception& e) {
      return Status::Internal(std::string("HNSW add: ") + e.what());
    }
    return Status::OK();
  }

  Status Remove(uint64_t slot) override {
    if (!Contains(slot)) {
      return Status::NotFound(fmt::format("slot {} is not in the index", slot));
    }
    hnsw_->markDelete(slot);
    return Status::OK();
  }

  Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k,
                                       size_t ef_search) const override {
    return Search(query, k, ef_search, SlotPredicate());
  }

  Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k, size_t ef_search,
                                       const SlotPredicate& admit) const override {
    FE_ASSIGN_OR_RETURN(std::vector<float> q, Prepare(query));
    if (k == 0 || hnsw_->cur_element_count == 0) return std::vector<Neighbor>();
    const size_t ef =
        std::max(k, ef_search == 0 ? static_cast<size_t>(options_.ef_search) : ef_search);
    const hnswlib::tableint entry = Descend(q.data());
    auto& g = *hnsw_;
    TopQueue top;
    if (admit) {
      top = FilteredBaseLayer(entry, q.data(), ef, admit);
    } else {
      top = g.num_deleted_ != 0 ? g.searchBaseLayerST<true>(entry, q.data(), ef)
                                : g.searchBaseLayerST<false>(entry, q.data(), ef);
    }
    return Drain(&top, k);
  }

  Result<std::vector<Neighbor>> ExactSearch(std::span<const float> query, size_t k) const override {
    return ExactSearch(query, k, SlotPredicate());
  }

  Result<std::vector<Neighbor>> ExactSearch(std::span<const float> query, size_t k,
                                            const SlotPredicate& admit) const override {
    FE_ASSIGN_OR_RETURN(std::vector<float> q, Prepare(query));
    const auto& g = *hnsw_;
    TopQueue top;  // worst on top
    for (size_t i = 0; i < g.cur_element_count && k > 0; ++i) {
      auto id = static_cast<hnswlib::tableint>(i);
      if (g.isMarkedDeleted(id) || (admit && !admit(g.getExternalLabel(id)))) continue;
      Offer(&top, k, g.fstdistfunc_(q.data(), g.getDataByInternalId(id), g.dist_func_param_), id);
    }
    return Drain(&top, k);
  }

  Result<std::vector<Neighbor>> ExactSearchAmong(std::span<const float> query, size_t k,
                                                 std::span<const uint64_t> slots) const override {
    FE_ASSIGN_OR_RETURN(std::vector<float> q, Prepare(query));
    const auto& g = *hnsw_;
    std::vector<hnswlib::tableint> ids;
    ids.reserve(slots.size());
    for (uint64_t slot : slots) {
      hnswlib::tableint id;
      if (IdOf(slot, &id) && !g.isMarkedDeleted(id)) ids.push_back(id);
    }
    // Memory order, and duplicates once (slots usually come sorted, and ids
    // follow slots: then this is one pass).
    if (std::adjacent_find(ids.begin(), ids.end(), std::greater_equal<>()) != ids.end()) {
      std::sort(ids.begin(), ids.end());
      ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
    }
    TopQueue top;
    // Each vector sits in its own node block: fetch a few ahead, the scan is
    // bound by memory, not arithmetic.
    constexpr size_t kAhead = 6;
    for (size_t i = 0; i < ids.size() && k != 0; ++i) {
      if (i + kAhead < ids.size()) {
        const char* next = g.getDataByInternalId(ids[i + kAhead]);
        for (size_t b = 0; b < g.data_size_; b += 64) __builtin_prefetch(next + b);
      }
      Offer(&top, k, g.fstdistfunc_(q.data(), g.getDataByInternalId(ids[i]), g.dist_func_param_),
            ids[i]);
    }
    return Drain(&top, k);
  }

  Result<std::string> Serialize() const override {
    MemFile file;
    if (!file.ok()) return Status::IOError("memfd_create failed while saving HNSW index");
    try {
      hnsw_->saveIndex(file.path());
    } catch (const std::exception& e) {
      return Status::IOError(std::string("saving HNSW index: ") + e.what());
    }
    std::string out(sizeof(Header), '\0');
    FE_RETURN_IF_ERROR(file.ReadAll(&out));
    // hnswlib's saveIndex ignores stream errors: a payload shorter than its
    // fixed fields means nothing was written.
    constexpr size_t kHnswlibFixedFields = 9 * sizeof(size_t) + 2 * sizeof(int) + sizeof(double);
    if (out.size() - sizeof(Header) < kHnswlibFixedFields) {
      return Status::IOError(fmt::format("saving HNSW index wrote {} bytes through {}",
                                         out.size() - sizeof(Header), file.path()));
    }
    Header h{};
    h.dim = static_cast<uint32_t>(options_.dim);
    h.metric = static_cast<uint32_t>(options_.metric);
    h.m = static_cast<uint32_t>(options_.m);
    h.ef_construction = static_cast<uint32_t>(options_.ef_construction);
    h.live_count = size();
    internal::SealSnapshot(kSnapshotFormat, h, &out);
    return out;
  }

 private:
  // Farthest on top (hnswlib's own result queue type).
  using TopQueue = std::priority_queue<std::pair<float, hnswlib::tableint>,
                                       std::vector<std::pair<float, hnswlib::tableint>>,
                                       hnswlib::HierarchicalNSW<float>::CompareByFirst>;

  static void Offer(TopQueue* top, size_t k, float distance, hnswlib::tableint id) {
    if (top->size() < k) {
      top->emplace(distance, id);
    } else if (distance < top->top().first) {
      top->pop();
      top->emplace(distance, id);
    }
  }

  // The best k of `top`, nearest first, as slots.
  std::vector<Neighbor> Drain(TopQueue* top, size_t k) const {
    while (top->size() > k) top->pop();
    std::vector<Neighbor> out(top->size());
    for (size_t i = out.size(); i-- > 0;) {
      out[i] = Neighbor{hnsw_->getExternalLabel(top->top().second), top->top().first};
      top->pop();
    }
    return out;
  }

  // Greedy descent through the upper layers (as hnswlib's searchKnn does):
  // the base-layer entry point nearest to q.
  hnswlib::tableint Descend(const float* q) const {
    const auto& g = *hnsw_;
    hnswlib::tableint current = g.enterpoint_node_;
    float current_dist = g.fstdistfunc_(q, g.getDataByInternalId(current), g.dist_func_param_);
    for (int level = g.maxlevel_; level > 0; --level) {
      bool changed = true;
      while (changed) {
        changed = false;
        auto* list = reinterpret_cast<unsigned int*>(g.get_linklist(current, level));
        int count = g.getListCount(list);
        auto* neighbors = reinterpret_cast<hnswlib::tableint*>(list + 1);
        for (int i = 0; i < count; ++i) {
          hnswlib::tableint candidate = neighbors[i];
          float d = g.fstdistfunc_(q, g.getDataByInternalId(candidate), g.dist_func_param_);
          if (d < current_dist) {
            current_dist = d;
            current = candidate;
            changed = true;
          }
        }
      }
    }
    return current;
  }

  // hnswlib's base-layer best-first search, except that only live, admitted
  // nodes enter the result list while every node may be expanded: the walk
  // goes through rejected regions of the graph instead of stopping at them.
  // Until ef admitted nodes are found there is no distance bound, so the walk
  // widens until it has them (or has seen the whole connected graph).
  TopQueue FilteredBaseLayer(hnswlib::tableint entry, const float* q, size_t ef,
                             const SlotPredicate& admit) const {
    auto& g = *hnsw_;
    // Back to the pool on every exit, exceptions from `admit` included.
    struct Visited {
      hnswlib::VisitedListPool* pool;
      hnswlib::VisitedList* list;
      ~Visited() { pool->releaseVisitedList(list); }
    } visited{g.visited_list_pool_, g.visited_list_pool_->getFreeVisitedList()};
    hnswlib::vl_type* mark = visited.list->mass;
    const hnswlib::vl_type tag = visited.list->curV;
    auto admitted = [&](hnswlib::tableint id) {
      return !g.isMarkedDeleted(id) && admit(g.getExternalLabel(id));
    };
    TopQueue results;  // admitted, worst on top
    std::priority_queue<std::pair<float, hnswlib::tableint>>
        candidates;  // -distance: nearest on top
    float bound = std::numeric_limits<float>::max();
    const float d0 = g.fstdistfunc_(q, g.getDataByInternalId(entry), g.dist_func_param_);
    candidates.emplace(-d0, entry);
    if (admitted(entry)) {
      results.emplace(d0, entry);
      if (results.size() >= ef) bound = results.top().first;
    }
    mark[entry] = tag;
    while (!candidates.empty()) {
      const auto [neg_dist, node] = candidates.top();
      if (-neg_dist > bound) break;
      candidates.pop();
      auto* list = reinterpret_cast<unsigned int*>(g.get_linklist0(node));
      const int count = g.getListCount(list);
      auto* neighbors = reinterpret_cast<hnswlib::tableint*>(list + 1);
      for (int i = 0; i < count; ++i) {
        const hnswlib::tableint next = neighbors[i];
        if (mark[next] == tag) continue;
        mark[next] = tag;
        const float d = g.fstdistfunc_(q, g.getDataByInternalId(next), g.dist_func_param_);
        if (d >= bound) continue;
        candidates.emplace(-d, next);
        if (admitted(next)) {
          results.emplace(d, next);
          if (results.size() > ef) results.pop();
          if (results.size() >= ef) bound = results.top().first;
        }
      }
    }
    return results;
  }

  // Validates a vector and returns the copy hnswlib gets (normalised for cosine).
  Result<std::vector<float>> Prepare(std::span<const float> vector) const {
    if (vector.size() != static_cast<size_t>(options_.dim)) {
      return Status::InvalidArgument(
          fmt::format("dim mismatch: index has {}, vector has {}", options_.dim, vector.size()));
    }
    std::vector<float> v(vector.begin(), vector.end());
    double norm = 0;
    for (float x : v) {
      if (!std::isfinite(x)) return Status::InvalidArgument("vector has a NaN or infinite value");
      norm += static_cast<double>(x) * x;
    }
    if (options_.metric == Metric::kCosine) {
      if (norm == 0) return Status::InvalidArgument("zero vector has no cosine direction");
      float inv = static_cast<float>(1.0 / std::sqrt(norm));
      for (float& x : v) x *= inv;
    }
    return v;
  }

  HnswOptions options_;
  std::unique_ptr<hnswlib::SpaceInterface<float>> space_;  // outlives hnsw_
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw_;
  // hnswlib's id of each slot below id_of_slot_.size() (kNoId: none), a
  // flat array beside hnswlib's hash map (label_lookup_) for the scans of
  // known slots; slots far beyond the count are left to the map.
  static constexpr hnswlib::tableint kNoId = ~hnswlib::tableint{0};
  std::vector<hnswlib::tableint> id_of_slot_;

  void RememberId(uint64_t slot, hnswlib::tableint id) {
    if (slot >= id_of_slot_.size()) {
      if (slot > 4 * (hnsw_->cur_element_count + 1024)) return;  // sparse: the map serves it
      id_of_slot_.resize(std::max<size_t>(slot + 1, 2 * id_of_slot_.size()), kNoId);
    }
    id_of_slot_[slot] = id;
  }

  // hnswlib's id of `slot` (deleted or not); false when it was never added.
  bool IdOf(uint64_t slot, hnswlib::tableint* id) const {
    if (slot < id_of_slot_.size() && id_of_slot_[slot] != kNoId) {
      *id = id_of_slot_[slot];
      return true;
    }
    auto it = hnsw_->label_lookup_.find(slot);
    if (it == hnsw_->label_lookup_.end()) return false;
    *id = it->second;
    return true;
  }
};

}  // namespace

Status HnswOptions::Validate() const {
  if (dim < 1 || dim > 65536) {
    return Status::InvalidArgument(fmt::format("dim must be in 1..65536, got {}", dim));
  }
  if (m < 2 || m > 100) {
    return Status::InvalidArgument(fmt::format("m must be in 2..100, got {}", m));
  }
  if (ef_construction < 1) {
    return Status::InvalidArgument(
        fmt::format("ef_construction must be >= 1, got {}", ef_construction));
  }
  if (ef_search < 1) {
    return Status::InvalidArgument(fmt::format("ef_search must be >= 1, got {}", ef_search));
  }
  if (metric != Metric::kCosine && metric != Metric::kInnerProduct && metric != Metric::kL2) {
    return Status::InvalidArgument("unknown metric");
  }
  return Status::OK();
}

const char* MetricName(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return "cosine";
    case Metric::kInnerProduct: return "ip";
    case Metric::kL2: return "l2";
  }
  return "unknown";
}

float ScoreFromDistance(Metric metric, float distance) {
  return metric == Metric::kL2 ? -distance : 1.0f - distance;
}

Result<std::unique_ptr<VectorIndex>> NewHnswIndex(const HnswOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  auto index = std::make_unique<HnswIndex>(options);
  FE_RETURN_IF_ERROR(index->Init());
  return std::unique_ptr<VectorIndex>(std::move(index));
}

Result<std::unique_ptr<VectorIndex>> LoadHnswIndex(const HnswOptions& options,
                                                   std::string_view bytes) {
  FE_RETURN_IF_ERROR(options.Validate());
  Header h;
  FE_ASSIGN_OR_RETURN(std::string_view payload, internal::OpenSnapshot(kSnapshotFormat, bytes, &h));
  FE_RETURN_IF_ERROR(
      internal::CheckSnapshotShape(kSnapshotFormat, h.dim, h.metric, options.dim, options.metric));
  if (h.m != static_cast<uint32_t>(options.m)) {
    return internal::SnapshotMismatch(kSnapshotFormat, "m", std::to_string(h.m),
                                      std::to_string(options.m));
  }
  auto index = std::make_unique<HnswIndex>(options);
  FE_RETURN_IF_ERROR(index->Load(payload));
  if (index->size() != h.live_count) {
    return Status::Corruption(fmt::format("HNSW snapshot holds {} live vectors, header says {}",
                                          index->size(), h.live_count));
  }
  return std::unique_ptr<VectorIndex>(std::move(index));
}

}  // namespace flashembed::index
