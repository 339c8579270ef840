#include "index/ivf_index.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <faiss/IndexFlat.h>
#include <faiss/IndexIVF.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>
#include <faiss/impl/FaissException.h>
#include <faiss/impl/io.h>
#include <faiss/index_io.h>
#include <faiss/invlists/InvertedLists.h>
#include <fmt/format.h>

#include "index/row_store.h"
#include "index/snapshot_header.h"

namespace flashembed::index {
namespace {

using internal::ByteReader;
using internal::ByteWriter;
using internal::PrepareVector;
using internal::RowStore;
using internal::TopK;
using idx_t = faiss::Index::idx_t;

// Serialized layout (little-endian), see index/FORMAT.md.
constexpr char kMagic[8] = {'F', 'E', 'I', 'V', 'F', '0', '0', '1'};
constexpr uint32_t kFormatVersion = 1;
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint32_t metric;
  uint32_t kind;
  uint32_t nlist;     // 0 while untrained
  uint32_t train_at;  // resolved
  uint32_t pq_m;      // resolved (IVF-PQ), else 0
  uint32_t pq_nbits;  // IVF-PQ, else 0
  uint64_t live_count;
  uint64_t payload_size;
  uint64_t payload_hash;
};
static_assert(sizeof(Header) == 64);
constexpr internal::SnapshotFormat kSnapshotFormat{"IVF", "an IVF snapshot", kMagic,
                                                   kFormatVersion};
constexpr uint64_t kTrainedFlag = 1;

// FAISS's index_io through our buffers, without the copies that its
// VectorIOWriter/VectorIOReader (std::vector<uint8_t>) would need.
struct StringWriter final : faiss::IOWriter {
  explicit StringWriter(std::string* out) : out(out) {}
  size_t operator()(const void* ptr, size_t size, size_t nitems) override {
    if (size * nitems > 0) out->append(static_cast<const char*>(ptr), size * nitems);
    return nitems;
  }
  std::string* out;
};
struct ViewReader final : faiss::IOReader {
  explicit ViewReader(std::string_view in) : in(in) {}
  size_t operator()(void* ptr, size_t size, size_t nitems) override {
    if (size == 0) return nitems;
    const size_t n = std::min(nitems, in.size() / size);
    if (n > 0) std::memcpy(ptr, in.data(), n * size);  // FAISS passes null for empty vectors
    in.remove_prefix(n * size);
    return n;
  }
  std::string_view in;
};

// Admits the ids (slots) a SlotPredicate admits.
struct PredicateSelector final : faiss::IDSelector {
  explicit PredicateSelector(const SlotPredicate& admit) : admit(admit) {}
  bool is_member(idx_t id) const override { return admit(static_cast<uint64_t>(id)); }
  const SlotPredicate& admit;
};

faiss::MetricType FaissMetric(Metric metric) {
  return metric == Metric::kL2 ? faiss::METRIC_L2 : faiss::METRIC_INNER_PRODUCT;
}

// Converts what FAISS throws; `what` says what we were doing.
Status FromException(const char* what) {
  try {
    throw;
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted(std::string("out of memory ") + what);
  } catch (const std::exception& e) {
    return Status::Internal(std::string(what) + ": " + e.what());
  }
}

// Where a slot's entry sits in the inverted lists.
struct ListPos {
  uint32_t list;
  uint32_t offset;
};

class IvfIndex final : public VectorIndex {
 public:
  explicit IvfIndex(const IvfOptions& options)
      : options_(options), train_at_(options.ResolvedTrainAt()), rows_(options.dim) {}

  int dim() const override { return options_.dim; }
  Metric metric() const override { return options_.metric; }
  bool trained() const { return ivf_ != nullptr; }
  int nlist() const { return trained() ? static_cast<int>(ivf_->nlist) : 0; }
  int train_at() const { return train_at_; }
  size_t size() const override { return trained() ? where_.size() : rows_.size(); }
  size_t removed() const override { return removed_.size(); }

  bool Contains(uint64_t slot) const override {
    return trained() ? where_.count(slot) != 0 : rows_.Contains(slot);
  }

  Status Add(uint64_t slot, std::span<const float> vector) override {
    FE_ASSIGN_OR_RETURN(std::vector<float> v,
                        PrepareVector(options_.metric, options_.dim, vector, "vector"));
    if (slot > static_cast<uint64_t>(INT64_MAX)) {
      return Status::InvalidArgument(
          fmt::format("slot {} is above 2^63 - 1, the largest FAISS id", slot));
    }
    if (Contains(slot) || removed_.count(slot) != 0) {
      return Status::AlreadyExists(fmt::format("slot {} already in the index", slot));
    }
    if (trained()) return AddToList(slot, v.data());
    rows_.Add(slot, v.data());
    if (rows_.size() >= static_cast<size_t>(train_at_)) {
      Status trained = Train();
      if (!trained.ok()) {
        // Not added: the index stays untrained and tries again next time.
        (void)rows_.Remove(slot);
        return trained;
      }
    }
    return Status::OK();
  }

  Status Remove(uint64_t slot) override {
    if (!trained()) {
      if (!rows_.Remove(slot)) return NotFound(slot);
      removed_.insert(slot);
      return Status::OK();
    }
    auto it = where_.find(slot);
    if (it == where_.end()) return NotFound(slot);
    const ListPos pos = it->second;
    faiss::InvertedLists* lists = ivf_->invlists;
    try {
      // Swap-remove inside the list: the last entry takes the hole.
      const size_t last = lists->list_size(pos.list) - 1;
      if (pos.offset != last) {
        const idx_t moved = lists->get_single_id(pos.list, last);
        faiss::InvertedLists::ScopedCodes code(lists, pos.list, last);
        lists->update_entry(pos.list, pos.offset, moved, code.get());
        where_[static_cast<uint64_t>(moved)].offset = pos.offset;
      }
      lists->resize(pos.list, last);
    } catch (...) {
      return FromException("removing from an IVF list");
    }
    ivf_->ntotal -= 1;
    where_.erase(slot);
    if (StoresRows()) (void)rows_.Remove(slot);
    removed_.insert(slot);
    return Status::OK();
  }

  Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k,
                                       size_t ef_search) const override {
    return Search(query, k, ef_search, SlotPredicate());
  }

  Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k, size_t nprobe,
                                       const SlotPredicate& admit) const override {
    FE_ASSIGN_OR_RETURN(std::vector<float> q,
                        PrepareVector(options_.metric, options_.dim, query, "query"));
    if (!trained()) return rows_.Search(options_.metric, q.data(), k, admit);
    k = std::min(k, size());
    if (k == 0) return std::vector<Neighbor>();
    if (nprobe == 0) nprobe = static_cast<size_t>(options_.nprobe);
    nprobe = std::min(nprobe, ivf_->nlist);
    try {
      for (;;) {
        std::vector<idx_t> lists(nprobe);
        std::vector<float> coarse(nprobe);
        Coarse(q.data(), nprobe, lists.data(), coarse.data());
        std::vector<Neighbor> hits = options_.kind == IvfKind::kFlat
                                         ? ScanFlatLists(q.data(), k, lists, admit)
                                         : SearchCodes(q.data(), k, lists, coarse, admit);
        // Unfiltered, the contract is k results whenever k are live: when
        // the lists scanned held fewer, scan twice as many.
        if (admit || hits.size() >= k || nprobe >= ivf_->nlist) return hits;
        nprobe = std::min(2 * nprobe, ivf_->nlist);
      }
    } catch (...) {
      return FromException("IVF search");
    }
  }

  Result<std::vector<Neighbor>> ExactSearch(std::span<const float> query, size_t k) const override {
    return ExactSearch(query, k, SlotPredicate());
  }

  Result<std::vector<Neighbor>> ExactSearch(std::span<const float> query, size_t k,
                                            const SlotPredicate& admit) const override {
    FE_ASSIGN_OR_RETURN(std::vector<float> q,
                        PrepareVector(options_.metric, options_.dim, query, "query"));
    if (StoresRows()) return rows_.Search(options_.metric, q.data(), k, admit);
    std::vector<idx_t> all(ivf_->nlist);
    for (size_t i = 0; i < all.size(); ++i) all[i] = static_cast<idx_t>(i);
    return ScanFlatLists(q.data(), std::min(k, size()), all, admit);
  }

  Result<std::vector<Neighbor>> ExactSearchAmong(std::span<const float> query, size_t k,
                                                 std::span<const uint64_t> slots) const override {
    FE_ASSIGN_OR_RETURN(std::vector<float> q,
                        PrepareVector(options_.metric, options_.dim, query, "query"));
    if (StoresRows()) return rows_.SearchAmong(options_.metric, q.data(), k, slots);
    std::vector<uint64_t> live;
    live.reserve(slots.size());
    for (uint64_t slot : slots) {
      if (where_.count(slot) != 0) live.push_back(slot);
    }
    std::sort(live.begin(), live.end());  // duplicates once
    live.erase(std::unique(live.begin(), live.end()), live.end());
    TopK top(std::min(k, live.size()));
    if (top.k() == 0) return top.Take();
    for (uint64_t slot : live) {
      const float d = options_.metric == Metric::kL2
                          ? internal::L2Sqr(q.data(), FlatEntry(slot), options_.dim)
                          : 1.0f - internal::Dot(q.data(), FlatEntry(slot), options_.dim);
      if (top.Accepts(d)) top.Offer(d, slot);
    }
    return top.Take();
  }

  Result<std::string> Serialize() const override {
    std::string out(sizeof(Header), '\0');
    ByteWriter writer(&out);
    writer.Put<uint64_t>(trained() ? kTrainedFlag : 0);
    internal::WriteSlots(removed_, &writer);
    internal::WriteRowStore(rows_, &writer);
    if (trained()) {
      const size_t size_at = out.size();
      writer.Put<uint64_t>(0);
      try {
        StringWriter faiss_out(&out);
        faiss::write_index(ivf_.get(), &faiss_out);
      } catch (...) {
        return FromException("writing the FAISS index");
      }
      const uint64_t faiss_size = out.size() - size_at - sizeof(uint64_t);
      std::memcpy(out.data() + size_at, &faiss_size, sizeof(faiss_size));
    }
    Header h{};
    h.dim = static_cast<uint32_t>(options_.dim);
    h.metric = static_cast<uint32_t>(options_.metric);
    h.kind = static_cast<uint32_t>(options_.kind);
    h.nlist = static_cast<uint32_t>(nlist());
    h.train_at = static_cast<uint32_t>(train_at_);
    if (options_.kind == IvfKind::kPq) {
      h.pq_m = static_cast<uint32_t>(options_.ResolvedPqM());
      h.pq_nbits = static_cast<uint32_t>(options_.pq_nbits);
    }
    h.live_count = size();
    internal::SealSnapshot(kSnapshotFormat, h, &out);
    return out;
  }

  // REQUIRES: a fresh index; `payload` passed its checksum.
  Status Load(std::string_view payload, uint32_t nlist) {
    ByteReader reader(payload);
    uint64_t flags = 0;
    if (!reader.Get(&flags) || (flags & ~kTrainedFlag) != 0) {
      return Status::Corruption("IVF snapshot flags unreadable");
    }
    FE_RETURN_IF_ERROR(internal::ReadSlots(&reader, &removed_, "IVF snapshot"));
    FE_RETURN_IF_ERROR(internal::ReadRowStore(&reader, &rows_, "IVF snapshot"));
    if ((flags & kTrainedFlag) != 0) {
      uint64_t faiss_size = 0;
      std::string_view faiss_bytes;
      if (!reader.Get(&faiss_size) || !reader.GetView(faiss_size, &faiss_bytes)) {
        return Status::Corruption("IVF snapshot: FAISS index truncated");
      }
      if (options_.kind == IvfKind::kFlat && rows_.size() != 0) {
        return Status::Corruption("trained IVF-Flat snapshot also carries vector rows");
      }
      FE_RETURN_IF_ERROR(LoadFaiss(faiss_bytes, nlist));
    } else if (nlist != 0) {
      return Status::Corruption(
          fmt::format("IVF snapshot header has nlist {} but no trained index", nlist));
    }
    if (reader.remaining() != 0) {
      return Status::Corruption(
          fmt::format("IVF snapshot has {} unexpected bytes at its end", reader.remaining()));
    }
    return Status::OK();
  }

 private:
  static Status NotFound(uint64_t slot) {
    return Status::NotFound(fmt::format("slot {} is not in the index", slot));
  }

  // Whether rows_ holds every live vector: always before training, and for
  // SQ8/PQ after it (their codes are lossy; exact search needs originals).
  bool StoresRows() const { return !trained() || options_.kind != IvfKind::kFlat; }

  // IVF-Flat: the stored (normalised) vector of a live slot. The lists are
  // ArrayInvertedLists (LoadFaiss checks), whose codes stay put until the
  // next Add/Remove, so no ScopedCodes is needed.
  const float* FlatEntry(uint64_t slot) const {
    const ListPos pos = where_.at(slot);
    return reinterpret_cast<const float*>(ivf_->invlists->get_codes(pos.list)) +
           static_cast<size_t>(pos.offset) * options_.dim;
  }

  int ResolvedNlist(size_t n) const {
    if (options_.nlist != 0) return options_.nlist;
    const int auto_nlist = static_cast<int>(4 * std::sqrt(static_cast<double>(n)));
    return std::min({std::clamp(auto_nlist, 16, 65536), static_cast<int>(n)});
  }

  // k-means on the stored vectors, then every stored vector into its list.
  Status Train() {
    const size_t n = rows_.size();
    const int nlist = ResolvedNlist(n);
    const faiss::MetricType metric = FaissMetric(options_.metric);
    try {
      auto quantizer = std::make_unique<faiss::IndexFlat>(options_.dim, metric);
      std::unique_ptr<faiss::IndexIVF> ivf;
      switch (options_.kind) {
        case IvfKind::kFlat:
          ivf = std::make_unique<faiss::IndexIVFFlat>(quantizer.get(), options_.dim, nlist, metric);
          break;
        case IvfKind::kSq8:
          ivf = std::make_unique<faiss::IndexIVFScalarQuantizer>(
              quantizer.get(), options_.dim, nlist, faiss::ScalarQuantizer::QT_8bit, metric,
              /*encode_residual=*/true);
          break;
        case IvfKind::kPq: {
          auto pq = std::make_unique<faiss::IndexIVFPQ>(quantizer.get(), options_.dim, nlist,
                                                        options_.ResolvedPqM(), options_.pq_nbits,
                                                        metric);
          // FAISS prints a warning to stderr below 39 training points per
          // centroid; a library must not write to stderr, and the caller
          // chose train_at knowingly (IvfOptions documents it).
          pq->pq.cp.min_points_per_centroid = 1;
          ivf = std::move(pq);
          break;
        }
      }
      ivf->own_fields = true;
      quantizer.release();
      ivf->cp.min_points_per_centroid = 1;  // as above
      // Cosine vectors are unit length: keep the centroids on the sphere too.
      ivf->cp.spherical = options_.metric == Metric::kCosine;
      ivf->train(static_cast<idx_t>(n), rows_.data());
      std::vector<idx_t> ids(rows_.slots(), rows_.slots() + n);
      ivf->add_with_ids(static_cast<idx_t>(n), rows_.data(), ids.data());
      ivf_ = std::move(ivf);
    } catch (...) {
      return FromException("training the IVF index");
    }
    Status indexed = PrepareEncoders();
    if (indexed.ok()) indexed = IndexLists();
    if (!indexed.ok()) {  // back to untrained, rows intact
      ivf_.reset();
      sq_encoder_.reset();
      where_.clear();
      return indexed;
    }
    if (options_.kind == IvfKind::kFlat) rows_.Clear();  // the lists hold them now
    return Status::OK();
  }

  // One vector into its list, on this thread. IndexIVF::add_with_ids (and
  // IVF-PQ's encode_vectors) start an OpenMP team per call, and libgomp's
  // spinning workers made one IVF-PQ add cost 2.7 ms instead of ~0.05 ms on
  // a busy 2-core machine; so the code is computed here as FAISS would
  // (residual to the centroid, then the SQ / PQ encoder of one vector).
  Status AddToList(uint64_t slot, const float* v) {
    try {
      idx_t list = -1;
      float coarse = 0;
      Coarse(v, 1, &list, &coarse);
      std::vector<uint8_t> code(ivf_->code_size, 0);  // SQ encoders expect zeros
      std::vector<float> residual(v, v + options_.dim);
      const float* centroid = Centroids() + static_cast<size_t>(list) * options_.dim;
      switch (options_.kind) {
        case IvfKind::kFlat: std::memcpy(code.data(), v, options_.dim * sizeof(float)); break;
        case IvfKind::kSq8: {
          const auto& sq = static_cast<const faiss::IndexIVFScalarQuantizer&>(*ivf_);
          if (sq.by_residual) {
            for (int j = 0; j < options_.dim; ++j) residual[j] -= centroid[j];
          }
          sq_encoder_->encode_vector(residual.data(), code.data());
          break;
        }
        case IvfKind::kPq: {
          const auto& pq = static_cast<const faiss::IndexIVFPQ&>(*ivf_);
          if (pq.by_residual) {
            for (int j = 0; j < options_.dim; ++j) residual[j] -= centroid[j];
          }
          pq.pq.compute_code(residual.data(), code.data());
          break;
        }
      }
      const size_t offset = ivf_->invlists->add_entry(static_cast<size_t>(list),
                                                      static_cast<idx_t>(slot), code.data());
      ivf_->ntotal += 1;
      where_[slot] = ListPos{static_cast<uint32_t>(list), static_cast<uint32_t>(offset)};
    } catch (...) {
      return FromException("adding to the IVF index");
    }
    if (StoresRows()) rows_.Add(slot, v);
    return Status::OK();
  }

  const float* Centroids() const {
    return static_cast<const faiss::IndexFlat*>(ivf_->quantizer)->get_xb();
  }

  // The `count` nearest centroids to `v`, nearest first, with FAISS's coarse
  // distances (inner product for cosine/ip, squared L2 for l2), computed by
  // our vectorised kernels on this thread (FAISS's generic build scans the
  // centroids unvectorised). -1 pads when count > nlist.
  void Coarse(const float* v, size_t count, idx_t* lists, float* distances) const {
    const size_t nlist = ivf_->nlist;
    const float* centroids = Centroids();
    const bool l2 = options_.metric == Metric::kL2;
    // Lower is better in `scored` for both metrics.
    std::vector<std::pair<float, idx_t>> scored(nlist);
    for (size_t c = 0; c < nlist; ++c) {
      const float* centroid = centroids + c * options_.dim;
      scored[c] = {l2 ? internal::L2Sqr(v, centroid, options_.dim)
                      : -internal::Dot(v, centroid, options_.dim),
                   static_cast<idx_t>(c)};
    }
    const size_t n = std::min(count, nlist);
    std::partial_sort(scored.begin(), scored.begin() + n, scored.end());
    for (size_t i = 0; i < count; ++i) {
      lists[i] = i < n ? scored[i].second : -1;
      distances[i] = i < n ? (l2 ? scored[i].first : -scored[i].first) : 0;
    }
  }

  // After training or loading: the per-kind encoders AddToList uses.
  Status PrepareEncoders() {
    auto* quantizer = dynamic_cast<const faiss::IndexFlat*>(ivf_->quantizer);
    if (quantizer == nullptr || quantizer->ntotal != static_cast<idx_t>(ivf_->nlist) ||
        quantizer->d != options_.dim) {
      return Status::Corruption("IVF coarse quantizer is not a flat index of nlist centroids");
    }
    if (options_.kind == IvfKind::kSq8) {
      sq_encoder_.reset(
          static_cast<const faiss::IndexIVFScalarQuantizer&>(*ivf_).sq.select_quantizer());
    }
    return Status::OK();
  }

  // Rebuilds where_ from the lists; Corruption if an id is bad or repeats,
  // or (SQ8/PQ) the lists and the original vectors disagree.
  Status IndexLists() {
    where_.clear();
    where_.reserve(static_cast<size_t>(ivf_->ntotal));
    const faiss::InvertedLists* lists = ivf_->invlists;
    for (size_t list = 0; list < ivf_->nlist; ++list) {
      const size_t count = lists->list_size(list);
      faiss::InvertedLists::ScopedIds ids(lists, list);
      for (size_t i = 0; i < count; ++i) {
        const idx_t id = ids[i];
        const auto slot = static_cast<uint64_t>(id);
        if (id < 0 || removed_.count(slot) != 0 ||
            !where_.emplace(slot, ListPos{static_cast<uint32_t>(list), static_cast<uint32_t>(i)})
                 .second) {
          return Status::Corruption(fmt::format("IVF lists hold a bad or repeated slot {}", id));
        }
        if (options_.kind != IvfKind::kFlat && !rows_.Contains(slot)) {
          return Status::Corruption(fmt::format("IVF list slot {} has no original vector", slot));
        }
      }
    }
    if (where_.size() != static_cast<size_t>(ivf_->ntotal)) {
      return Status::Corruption(
          fmt::format("IVF lists hold {} vectors, the index says {}", where_.size(), ivf_->ntotal));
    }
    if (options_.kind != IvfKind::kFlat && rows_.size() != where_.size()) {
      return Status::Corruption(fmt::format(
          "IVF snapshot has {} original vectors for {} list entries", rows_.size(), where_.size()));
    }
    return Status::OK();
  }

  Status LoadFaiss(std::string_view bytes, uint32_t nlist) {
    std::unique_ptr<faiss::Index> index;
    try {
      ViewReader reader(bytes);
      index.reset(faiss::read_index(&reader));
    } catch (const std::bad_alloc&) {
      return Status::Corruption("IVF snapshot: FAISS index does not load (out of memory)");
    } catch (const std::exception& e) {
      return Status::Corruption(std::string("IVF snapshot: FAISS index does not load: ") +
                                e.what());
    }
    auto* ivf = dynamic_cast<faiss::IndexIVF*>(index.get());
    bool kind_ok = false;
    switch (options_.kind) {
      case IvfKind::kFlat: kind_ok = dynamic_cast<faiss::IndexIVFFlat*>(ivf) != nullptr; break;
      case IvfKind::kSq8:
        kind_ok = dynamic_cast<faiss::IndexIVFScalarQuantizer*>(ivf) != nullptr;
        break;
      case IvfKind::kPq: kind_ok = dynamic_cast<faiss::IndexIVFPQ*>(ivf) != nullptr; break;
    }
    if (!kind_ok || !ivf->is_trained || ivf->d != options_.dim ||
        ivf->metric_type != FaissMetric(options_.metric) || ivf->nlist != nlist ||
        dynamic_cast<faiss::ArrayInvertedLists*>(ivf->invlists) == nullptr) {
      return Status::Corruption(
          fmt::format("IVF snapshot: FAISS index is not a trained {} of dim {} and nlist {}",
                      IvfKindName(options_.kind), options_.dim, nlist));
    }
    index.release();
    ivf_.reset(ivf);
    FE_RETURN_IF_ERROR(PrepareEncoders());
    return IndexLists();
  }

  // IVF-Flat: our kernel over the given lists (their entries are the vectors).
  std::vector<Neighbor> ScanFlatLists(const float* q, size_t k, const std::vector<idx_t>& lists,
                                      const SlotPredicate& admit) const {
    TopK top(k);
    const faiss::InvertedLists* il = ivf_->invlists;
    for (idx_t list : lists) {
      if (list < 0) continue;  // fewer centroids than nprobe
      const size_t count = il->list_size(static_cast<size_t>(list));
      if (count == 0) continue;
      faiss::InvertedLists::ScopedCodes codes(il, static_cast<size_t>(list));
      faiss::InvertedLists::ScopedIds ids(il, static_cast<size_t>(list));
      // Slots are below 2^63, so FAISS's int64 ids are the slots' bits.
      internal::ScanRows(options_.metric, q, reinterpret_cast<const float*>(codes.get()),
                         reinterpret_cast<const uint64_t*>(ids.get()), count, options_.dim, admit,
                         &top);
    }
    return top.Take();
  }

  // SQ8/PQ: FAISS's scanners over the codes, then exact distances for the k.
  std::vector<Neighbor> SearchCodes(const float* q, size_t k, const std::vector<idx_t>& lists,
                                    const std::vector<float>& coarse,
                                    const SlotPredicate& admit) const {
    PredicateSelector selector(admit);
    faiss::SearchParametersIVF params;
    params.nprobe = lists.size();
    params.sel = admit ? &selector : nullptr;
    std::vector<float> distances(k);
    std::vector<idx_t> ids(k);
    // parallel_mode 0 and one query: the scan runs on this thread. No
    // IndexIVFStats: the global one would be a data race between searches.
    ivf_->search_preassigned(1, q, static_cast<idx_t>(k), lists.data(), coarse.data(),
                             distances.data(), ids.data(), /*store_pairs=*/false, &params,
                             /*stats=*/nullptr);
    TopK top(k);
    for (idx_t id : ids) {
      if (id < 0) continue;
      const float* v = rows_.Find(static_cast<uint64_t>(id));
      if (v == nullptr) continue;  // cannot happen: lists and rows agree
      top.Offer(internal::MetricDistance(options_.metric, q, v, options_.dim),
                static_cast<uint64_t>(id));
    }
    return top.Take();
  }

  IvfOptions options_;
  int train_at_;
  // Every live vector before training; the originals for SQ8/PQ after it;
  // empty for IVF-Flat after it.
  RowStore rows_;
  std::unique_ptr<faiss::IndexIVF> ivf_;                            // null until trained
  std::unique_ptr<faiss::ScalarQuantizer::SQuantizer> sq_encoder_;  // IVF-SQ8, once trained
  std::unordered_map<uint64_t, ListPos> where_;  // live slot -> list entry (trained)
  std::unordered_set<uint64_t> removed_;         // slots removed for good (never reused)
};

}  // namespace

const char* IvfKindName(IvfKind kind) {
  switch (kind) {
    case IvfKind::kFlat: return "ivf_flat";
    case IvfKind::kSq8: return "ivf_sq8";
    case IvfKind::kPq: return "ivf_pq";
  }
  return "unknown";
}

int IvfOptions::ResolvedTrainAt() const {
  if (train_at != 0) return train_at;
  return nlist == 0 ? 1000 : std::max(1000, 39 * nlist);
}

int IvfOptions::ResolvedPqM() const {
  if (pq_m != 0) return pq_m;
  int m = std::max(1, dim / 4);
  while (dim % m != 0) --m;
  return m;
}

Status IvfOptions::Validate() const {
  if (dim < 1 || dim > 65536) {
    return Status::InvalidArgument(fmt::format("dim must be in 1..65536, got {}", dim));
  }
  if (metric != Metric::kCosine && metric != Metric::kInnerProduct && metric != Metric::kL2) {
    return Status::InvalidArgument(fmt::format("unknown metric {}", static_cast<int>(metric)));
  }
  if (kind != IvfKind::kFlat && kind != IvfKind::kSq8 && kind != IvfKind::kPq) {
    return Status::InvalidArgument(fmt::format("unknown IVF kind {}", static_cast<int>(kind)));
  }
  if (nlist < 0 || nlist > 65536) {
    return Status::InvalidArgument(
        fmt::format("nlist must be 0 (auto) or 1..65536, got {}", nlist));
  }
  if (nprobe < 1 || nprobe > 65536) {
    return Status::InvalidArgument(fmt::format("nprobe must be in 1..65536, got {}", nprobe));
  }
  if (train_at < 0) {
    return Status::InvalidArgument(
        fmt::format("train_at must be 0 (auto) or positive, got {}", train_at));
  }
  if (kind == IvfKind::kPq) {
    if (pq_nbits < 4 || pq_nbits > 8) {
      return Status::InvalidArgument(fmt::format("pq_nbits must be in 4..8, got {}", pq_nbits));
    }
    if (pq_m < 0 || pq_m > dim || (pq_m != 0 && dim % pq_m != 0)) {
      return Status::InvalidArgument(
          fmt::format("pq_m must be 0 (auto) or divide dim {}, got {}", dim, pq_m));
    }
  }
  const int at = ResolvedTrainAt();
  if (nlist != 0 && at < nlist) {
    return Status::InvalidArgument(
        fmt::format("train_at {} is below nlist {} (k-means needs a vector per list)", at, nlist));
  }
  if (nlist == 0 && at < 16) {
    return Status::InvalidArgument(
        fmt::format("train_at {} is below 16, the smallest automatic nlist", at));
  }
  if (kind == IvfKind::kPq && at < (1 << pq_nbits)) {
    return Status::InvalidArgument(
        fmt::format("train_at {} is below 2^pq_nbits = {} (PQ training needs a vector per code)",
                    at, 1 << pq_nbits));
  }
  return Status::OK();
}

Result<std::unique_ptr<VectorIndex>> NewIvfIndex(const IvfOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<VectorIndex>(std::make_unique<IvfIndex>(options));
}

Result<std::unique_ptr<VectorIndex>> LoadIvfIndex(const IvfOptions& options,
                                                  std::string_view bytes) {
  FE_RETURN_IF_ERROR(options.Validate());
  Header h;
  FE_ASSIGN_OR_RETURN(std::string_view payload, internal::OpenSnapshot(kSnapshotFormat, bytes, &h));
  auto mismatch = [](std::string_view field, const std::string& stored, const std::string& wanted) {
    return internal::SnapshotMismatch(kSnapshotFormat, field, stored, wanted);
  };
  FE_RETURN_IF_ERROR(
      internal::CheckSnapshotShape(kSnapshotFormat, h.dim, h.metric, options.dim, options.metric));
  if (h.kind != static_cast<uint32_t>(options.kind)) {
    return mismatch("kind", h.kind <= 2 ? IvfKindName(static_cast<IvfKind>(h.kind)) : "unknown",
                    IvfKindName(options.kind));
  }
  if (options.kind == IvfKind::kPq) {
    if (h.pq_m != static_cast<uint32_t>(options.ResolvedPqM())) {
      return mismatch("pq_m", std::to_string(h.pq_m), std::to_string(options.ResolvedPqM()));
    }
    if (h.pq_nbits != static_cast<uint32_t>(options.pq_nbits)) {
      return mismatch("pq_nbits", std::to_string(h.pq_nbits), std::to_string(options.pq_nbits));
    }
  }
  if (h.nlist == 0 && h.train_at != static_cast<uint32_t>(options.ResolvedTrainAt())) {
    return mismatch("train_at", std::to_string(h.train_at),
                    std::to_string(options.ResolvedTrainAt()));
  }
  if (h.nlist != 0 && options.nlist != 0 && h.nlist != static_cast<uint32_t>(options.nlist)) {
    return mismatch("nlist", std::to_string(h.nlist), std::to_string(options.nlist));
  }
  IvfOptions loaded = options;
  loaded.train_at = static_cast<int>(h.train_at);
  auto index = std::make_unique<IvfIndex>(loaded);
  FE_RETURN_IF_ERROR(index->Load(payload, h.nlist));
  if (index->size() != h.live_count) {
    return Status::Corruption(fmt::format("IVF snapshot holds {} live vectors, header says {}",
                                          index->size(), h.live_count));
  }
  return std::unique_ptr<VectorIndex>(std::move(index));
}

}  // namespace flashembed::index
