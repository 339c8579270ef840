#include "index/flat_index.h"

#include <string>
#include <unordered_set>
#include <vector>

#include <fmt/format.h>

#include "index/row_store.h"
#include "index/snapshot_header.h"

namespace flashembed::index {
namespace {

using internal::ByteReader;
using internal::ByteWriter;
using internal::PrepareVector;
using internal::RowStore;

// Serialized layout (little-endian), see index/FORMAT.md.
constexpr char kMagic[8] = {'F', 'E', 'F', 'L', 'A', 'T', '0', '1'};
constexpr uint32_t kFormatVersion = 1;
struct Header {
  char magic[8];
  uint32_t version;
  uint32_t dim;
  uint32_t metric;
  uint32_t reserved;
  uint64_t live_count;
  uint64_t payload_size;
  uint64_t payload_hash;
};
static_assert(sizeof(Header) == 48);
constexpr internal::SnapshotFormat kSnapshotFormat{"flat", "a flat index snapshot", kMagic,
                                                   kFormatVersion};

class FlatIndex final : public VectorIndex {
 public:
  explicit FlatIndex(const FlatOptions& options) : options_(options), rows_(options.dim) {}

  int dim() const override { return options_.dim; }
  Metric metric() const override { return options_.metric; }
  size_t size() const override { return rows_.size(); }
  size_t removed() const override { return removed_.size(); }
  bool Contains(uint64_t slot) const override { return rows_.Contains(slot); }

  Status Add(uint64_t slot, std::span<const float> vector) override {
    FE_ASSIGN_OR_RETURN(std::vector<float> v,
                        PrepareVector(options_.metric, options_.dim, vector, "vector"));
    if (rows_.Contains(slot) || removed_.count(slot) != 0) {
      return Status::AlreadyExists(fmt::format("slot {} already in the index", slot));
    }
    rows_.Add(slot, v.data());
    return Status::OK();
  }

  Status Remove(uint64_t slot) override {
    if (!rows_.Remove(slot)) {
      return Status::NotFound(fmt::format("slot {} is not in the index", slot));
    }
    removed_.insert(slot);
    return Status::OK();
  }

  Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k,
                                       size_t /*ef_search*/) const override {
    return ExactSearch(query, k, SlotPredicate());
  }
  Result<std::vector<Neighbor>> Search(std::span<const float> query, size_t k, size_t /*ef_search*/,
                                       const SlotPredicate& admit) const override {
    return ExactSearch(query, k, admit);
  }
  Result<std::vector<Neighbor>> ExactSearch(std::span<const float> query, size_t k) const override {
    return ExactSearch(query, k, SlotPredicate());
  }

  Result<std::vector<Neighbor>> ExactSearch(std::span<const float> query, size_t k,
                                            const SlotPredicate& admit) const override {
    FE_ASSIGN_OR_RETURN(std::vector<float> q,
                        PrepareVector(options_.metric, options_.dim, query, "query"));
    return rows_.Search(options_.metric, q.data(), k, admit);
  }

  Result<std::vector<Neighbor>> ExactSearchAmong(std::span<const float> query, size_t k,
                                                 std::span<const uint64_t> slots) const override {
    FE_ASSIGN_OR_RETURN(std::vector<float> q,
                        PrepareVector(options_.metric, options_.dim, query, "query"));
    return rows_.SearchAmong(options_.metric, q.data(), k, slots);
  }

  Result<std::string> Serialize() const override {
    std::string out(sizeof(Header), '\0');
    ByteWriter writer(&out);
    internal::WriteSlots(removed_, &writer);
    internal::WriteRowStore(rows_, &writer);
    Header h{};
    h.dim = static_cast<uint32_t>(options_.dim);
    h.metric = static_cast<uint32_t>(options_.metric);
    h.live_count = size();
    internal::SealSnapshot(kSnapshotFormat, h, &out);
    return out;
  }

  Status Load(std::string_view payload) {
    ByteReader reader(payload);
    FE_RETURN_IF_ERROR(internal::ReadSlots(&reader, &removed_, "flat snapshot"));
    FE_RETURN_IF_ERROR(internal::ReadRowStore(&reader, &rows_, "flat snapshot"));
    if (reader.remaining() != 0) {
      return Status::Corruption(
          fmt::format("flat snapshot has {} bytes after its rows", reader.remaining()));
    }
    return Status::OK();
  }

 private:
  FlatOptions options_;
  RowStore rows_;
  std::unordered_set<uint64_t> removed_;  // slots removed for good (never reused)
};

}  // namespace

Status FlatOptions::Validate() const {
  if (dim < 1 || dim > 65536) {
    return Status::InvalidArgument(fmt::format("dim must be in 1..65536, got {}", dim));
  }
  if (metric != Metric::kCosine && metric != Metric::kInnerProduct && metric != Metric::kL2) {
    return Status::InvalidArgument(fmt::format("unknown metric {}", static_cast<int>(metric)));
  }
  return Status::OK();
}

Result<std::unique_ptr<VectorIndex>> NewFlatIndex(const FlatOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  return std::unique_ptr<VectorIndex>(std::make_unique<FlatIndex>(options));
}

Result<std::unique_ptr<VectorIndex>> LoadFlatIndex(const FlatOptions& options,
                                                   std::string_view bytes) {
  FE_RETURN_IF_ERROR(options.Validate());
  Header h;
  FE_ASSIGN_OR_RETURN(std::string_view payload, internal::OpenSnapshot(kSnapshotFormat, bytes, &h));
  FE_RETURN_IF_ERROR(
      internal::CheckSnapshotShape(kSnapshotFormat, h.dim, h.metric, options.dim, options.metric));
  auto index = std::make_unique<FlatIndex>(options);
  FE_RETURN_IF_ERROR(index->Load(payload));
  if (index->size() != h.live_count) {
    return Status::Corruption(
        fmt::format("flat snapshot holds {} vectors, header says {}", index->size(), h.live_count));
  }
  return std::unique_ptr<VectorIndex>(std::move(index));
}

}  // namespace flashembed::index
