// CollectionImpl's lifecycle: opening a collection with the index of its
// kind (HNSW, flat, IVF), loading the snapshot and replaying the oplog or
// rebuilding from the stored vectors, snapshots, close and drop.
#include <algorithm>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "encoders/learned_encoder.h"
#include "index/flat_index.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "query/collection_impl.h"
#include "query/field_store.h"
#include "query/filter_rows.h"
#include "query/text_index.h"
#include "query/text_model.h"
#include "storage/snapshot.h"

namespace flashembed::query {
namespace {

index::HnswOptions HnswOptionsOf(const storage::CollectionRecord& r) {
  index::HnswOptions o;
  o.dim = static_cast<int>(r.dim);
  o.metric = static_cast<index::Metric>(r.metric);
  o.m = static_cast<int>(r.m);
  o.ef_construction = static_cast<int>(r.ef_construction);
  o.ef_search = static_cast<int>(r.ef_search);
  return o;
}

index::IvfOptions IvfOptionsOf(const storage::CollectionRecord& r) {
  index::IvfOptions o;
  o.dim = static_cast<int>(r.dim);
  o.metric = static_cast<index::Metric>(r.metric);
  o.kind = r.index_kind == static_cast<uint8_t>(IndexKind::kIvfSq8)  ? index::IvfKind::kSq8
           : r.index_kind == static_cast<uint8_t>(IndexKind::kIvfPq) ? index::IvfKind::kPq
                                                                     : index::IvfKind::kFlat;
  o.nlist = static_cast<int>(r.nlist);
  o.nprobe = static_cast<int>(r.nprobe);
  o.train_at = static_cast<int>(r.train_at);
  if (o.kind == index::IvfKind::kPq) {
    o.pq_m = static_cast<int>(r.pq_m);
    o.pq_nbits = static_cast<int>(r.pq_nbits);
  }
  return o;
}

bool IsIvf(uint8_t kind) {
  return kind == static_cast<uint8_t>(IndexKind::kIvfFlat) ||
         kind == static_cast<uint8_t>(IndexKind::kIvfSq8) ||
         kind == static_cast<uint8_t>(IndexKind::kIvfPq);
}

// An empty index of the collection's kind.
Result<std::unique_ptr<index::VectorIndex>> NewIndexFor(const storage::CollectionRecord& r) {
  if (r.index_kind == static_cast<uint8_t>(IndexKind::kFlat)) {
    return index::NewFlatIndex(
        {.dim = static_cast<int>(r.dim), .metric = static_cast<index::Metric>(r.metric)});
  }
  if (IsIvf(r.index_kind)) return index::NewIvfIndex(IvfOptionsOf(r));
  return index::NewHnswIndex(HnswOptionsOf(r));
}

// The index of the collection's kind from snapshot bytes.
Result<std::unique_ptr<index::VectorIndex>> LoadIndexFor(const storage::CollectionRecord& r,
                                                         std::string_view bytes) {
  if (r.index_kind == static_cast<uint8_t>(IndexKind::kFlat)) {
    return index::LoadFlatIndex(
        {.dim = static_cast<int>(r.dim), .metric = static_cast<index::Metric>(r.metric)}, bytes);
  }
  if (IsIvf(r.index_kind)) return index::LoadIvfIndex(IvfOptionsOf(r), bytes);
  return index::LoadHnswIndex(HnswOptionsOf(r), bytes);
}

}  // namespace

Result<std::shared_ptr<CollectionImpl>> CollectionImpl::Open(
    storage::Store* store, const storage::CollectionRecord& record, const Options& options,
    bool is_new, std::shared_ptr<PostingCache> posting_cache) {
  std::unique_ptr<encoders::TextEncoder> encoder;
  if (encoders::EncoderNameFromSpec(record.encoder_spec) == "learned") {
    // A corpus-trained encoder: its model is stored with the collection.
    auto bytes = storage::ReadEncoderModel(*store, record.cid);
    if (!bytes.ok()) {
      return bytes.status().WithContext("collection \"" + record.name + "\": its encoder model");
    }
    FE_ASSIGN_OR_RETURN(auto learned, encoders::LearnedEncoder::Load(*bytes));
    if (learned->spec() != record.encoder_spec) {
      return Status::Corruption("collection \"" + record.name + "\": the stored encoder model is " +
                                learned->spec() + ", not " + record.encoder_spec);
    }
    encoder = std::move(learned);
  } else if (!record.encoder_spec.empty()) {
    auto made = encoders::TextEncoderFromSpec(record.encoder_spec);
    if (!made.ok()) {
      return made.status().WithContext("collection \"" + record.name +
                                       "\" was created with encoder " + record.encoder_spec);
    }
    encoder = std::move(made).value();
  }
  if (encoder) {
    if (encoder->dim() != static_cast<int>(record.dim)) {
      return Status::Corruption(
          fmt::format("collection \"{}\" has dim {} but its encoder produces {}", record.name,
                      record.dim, encoder->dim()));
    }
  }
  if (record.index_kind > static_cast<uint8_t>(IndexKind::kIvfPq)) {
    return Status::NotSupported(
        fmt::format("collection \"{}\" uses index kind {} unknown to this build", record.name,
                    record.index_kind));
  }
  std::shared_ptr<CollectionImpl> c(new CollectionImpl(store, record, options, std::move(encoder)));
  std::lock_guard<std::mutex> lock(c->write_mu_);
  if (record.text_index) {
    c->text_index_ = std::make_unique<TextIndex>(store, record.cid, std::move(posting_cache));
    if (!is_new) FE_RETURN_IF_ERROR(c->text_index_->Load());
  }
  if (!record.indexed_fields.empty()) {
    std::vector<std::vector<std::string>> paths;
    for (const std::string& field : record.indexed_fields) {
      auto path = ParseKeyPath(field, "indexed field");
      if (!path.ok()) {
        return Status::Corruption("collection \"" + record.name + "\": " + path.status().message());
      }
      paths.push_back(std::move(path).value());
    }
    c->field_store_ = std::make_unique<FieldStore>(store, record.cid, std::move(paths));
  }
  if (is_new) {
    FE_ASSIGN_OR_RETURN(c->index_, NewIndexFor(record));
    return c;
  }
  auto state = store->Get(storage::Cf::kCatalog, storage::CollectionStateKey(record.cid));
  if (!state.ok()) return state.status().WithContext("reading state of \"" + record.name + "\"");
  FE_ASSIGN_OR_RETURN(c->state_, storage::DecodeState(*state));
  c->live_count_ = c->state_.live_count;
  FE_RETURN_IF_ERROR(c->LoadIndex());
  return c;
}

// ---- index lifecycle --------------------------------------------------------

Status CollectionImpl::LoadIndex() {
  const uint32_t cid = record_.cid;
  auto header_bytes = store_->Get(storage::Cf::kSnapshots, storage::SnapshotHeaderKey(cid));
  if (header_bytes.status().IsNotFound()) return RebuildIndex();
  if (!header_bytes.ok()) return header_bytes.status();

  // A snapshot that cannot be read is not fatal: the vectors are the truth.
  auto loaded = [&]() -> Result<std::unique_ptr<index::VectorIndex>> {
    FE_ASSIGN_OR_RETURN(storage::SnapshotHeader h, storage::DecodeSnapshotHeader(*header_bytes));
    FE_ASSIGN_OR_RETURN(std::string bytes, storage::ReadSnapshot(*store_, cid, h));
    FE_ASSIGN_OR_RETURN(auto idx, LoadIndexFor(record_, bytes));
    // Replay every index operation logged after the snapshot, in order.
    uint64_t replayed = 0;
    FE_RETURN_IF_ERROR(ReplayOplog(idx.get(), h.next_seq, storage::CollectionEnd(cid), &replayed));
    ops_since_snapshot_ = replayed;
    return idx;
  }();
  if (loaded.ok() && (*loaded)->size() == state_.live_count) {
    std::unique_lock<RwMutex> lock(index_mu_);
    index_ = std::move(loaded).value();
    has_snapshot_ = true;
    return Status::OK();
  }
  return RebuildIndex();
}

Status CollectionImpl::ReplayOplog(index::VectorIndex* idx, uint64_t from, std::string_view end,
                                   uint64_t* replayed) const {
  const uint32_t cid = record_.cid;
  Status replay;
  FE_RETURN_IF_ERROR(store_->Scan(storage::Cf::kOplog, storage::OplogKey(cid, from), end,
                                  [&](std::string_view key, std::string_view value) {
                                    // Sequence numbers are consecutive: a gap is a trimmed log.
                                    if (key != storage::OplogKey(cid, from + *replayed))
                                      return false;
                                    auto op = storage::DecodeOplog(value);
                                    if (!op.ok()) {
                                      replay = op.status();
                                      return false;
                                    }
                                    ++*replayed;
                                    if (op->kind == storage::OpKind::kRemove) {
                                      if (idx->Contains(op->slot)) replay = idx->Remove(op->slot);
                                      return replay.ok();
                                    }
                                    if (idx->Contains(op->slot)) return true;
                                    auto raw = store_->Get(storage::Cf::kVectors,
                                                           storage::SlotKey(cid, op->slot));
                                    if (raw.status().IsNotFound())
                                      return true;  // removed later in the log
                                    if (!raw.ok()) {
                                      replay = raw.status();
                                      return false;
                                    }
                                    auto v = storage::DecodeVector(*raw, record_.dim);
                                    replay = v.ok() ? idx->Add(op->slot, *v) : v.status();
                                    return replay.ok();
                                  }));
  return replay;
}

Status CollectionImpl::RebuildIndex() {
  const uint32_t cid = record_.cid;
  FE_ASSIGN_OR_RETURN(auto idx, NewIndexFor(record_));
  Status add;
  FE_RETURN_IF_ERROR(
      store_->Scan(storage::Cf::kVectors, storage::CollectionPrefix(cid),
                   storage::CollectionEnd(cid), [&](std::string_view key, std::string_view value) {
                     auto v = storage::DecodeVector(value, record_.dim);
                     add = v.ok() ? idx->Add(storage::SlotFromKey(key), *v) : v.status();
                     return add.ok();
                   }));
  FE_RETURN_IF_ERROR(add);
  if (idx->size() != state_.live_count) {
    return Status::Corruption(
        fmt::format("collection \"{}\" stores {} vectors but counts {} documents", record_.name,
                    idx->size(), state_.live_count));
  }
  std::unique_lock<RwMutex> lock(index_mu_);
  index_ = std::move(idx);
  has_snapshot_ = false;
  ops_since_snapshot_ = state_.live_count;
  return Status::OK();
}

Result<std::shared_ptr<const TextModel>> CollectionImpl::Model() const {
  if (encoder_ == nullptr) {
    return Status::NotSupported("collection '" + record_.name +
                                "' is vector-only: it has no encoder to embed texts with");
  }
  // The model shares this implementation's lifetime, so it outlives a
  // re-embedding that replaces it.
  return std::shared_ptr<const TextModel>(NewTextModel(
      std::shared_ptr<const encoders::TextEncoder>(shared_from_this(), encoder_.get())));
}

// REQUIRES: write_mu_ held, after a durable write and its index update.
Status CollectionImpl::AfterIndexUpdate(const Status& index_status, uint64_t logged_ops,
                                        uint64_t removals) {
  ops_since_snapshot_ += logged_ops;
  removed_since_compaction_ += removals;
  const bool compact =
      removed_since_compaction_ >= std::max<uint64_t>(kCompactAfterRemovals, live_count_);
  if (compact) removed_since_compaction_ = 0;
  if (!index_status.ok()) {
    // The write is durable but the index no longer matches it (say, out of
    // memory half way). The stored vectors are the truth: rebuild from them;
    // the filter rows stopped where the index did, so they reload on use.
    {
      std::unique_lock<RwMutex> exclusive(index_mu_);
      rows_.reset();
    }
    Status rebuilt = RebuildIndex();
    if (!rebuilt.ok()) {
      std::unique_lock<RwMutex> exclusive(index_mu_);
      index_broken_ = Status::Internal(
          "the index of collection \"" + record_.name + "\" failed (" + index_status.ToString() +
          ") and could not be rebuilt (" + rebuilt.ToString() +
          "); every acknowledged write is stored, reopen the database to search again");
      return index_broken_;
    }
  }
  // As much removed as live: a snapshot now (which rebuilds an index that
  // holds the removed vectors, see SnapshotLocked), then a compaction of the
  // collection's keys, so the space comes back without anyone asking.
  if (options_.snapshot_every_ops != 0 &&
      (compact || (ops_since_snapshot_ >= options_.snapshot_every_ops &&
                   ops_since_snapshot_ >= live_count_ / 4))) {
    SnapshotLocked().IgnoreError();  // a failed snapshot only means more replay at open
  }
  if (compact) {
    for (int cf = 0; cf < storage::kNumCfs; ++cf) {
      store_->ScheduleCompaction(static_cast<storage::Cf>(cf),
                                 storage::CollectionPrefix(record_.cid),
                                 storage::CollectionEnd(record_.cid));
    }
  }
  return Status::OK();
}

Status CollectionImpl::CompactIndex() {
  FE_RETURN_IF_ERROR(CheckWritable());
  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  if (!index_broken_.ok()) return index_broken_;
  const size_t removed = [&] {
    std::shared_lock<RwMutex> shared(index_mu_);
    return index_->removed();
  }();
  if (removed > 0) FE_RETURN_IF_ERROR(RebuildIndex());
  return SnapshotLocked();
}

Status CollectionImpl::Snapshot() {
  FE_RETURN_IF_ERROR(CheckWritable());
  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  return SnapshotLocked();
}

// REQUIRES: write_mu_ held, so no write changes the index meanwhile.
Status CollectionImpl::SnapshotLocked() {
  if (!index_broken_.ok()) return index_broken_;
  if (has_snapshot_ && ops_since_snapshot_ == 0) return Status::OK();
  // Not serialised for nothing while the storage refuses writes (a full
  // disk): the stored snapshot and the log stay valid.
  FE_RETURN_IF_ERROR(store_->Health());
  // An index holding as much removed as live (an HNSW graph keeps removed
  // nodes) is built again from the stored vectors first, so neither memory
  // nor the snapshot grows with every pass of upserts.
  const bool bloated = [&] {
    std::shared_lock<RwMutex> lock(index_mu_);
    return index_->removed() >= std::max<uint64_t>(kCompactAfterRemovals, index_->size());
  }();
  if (bloated) FE_RETURN_IF_ERROR(RebuildIndex());
  const uint32_t cid = record_.cid;
  Result<std::string> bytes = [&] {
    std::shared_lock<RwMutex> lock(index_mu_);
    return index_->Serialize();
  }();
  if (!bytes.ok()) return bytes.status();
  storage::WriteBatch batch;
  storage::AppendSnapshot(cid, state_.next_seq, *bytes, &batch);
  // The snapshot covers every logged operation, so the log can go.
  batch.DeleteRange(storage::Cf::kOplog, storage::CollectionPrefix(cid),
                    storage::OplogKey(cid, state_.next_seq));
  FE_RETURN_IF_ERROR(store_->Write(batch, /*sync=*/true));
  has_snapshot_ = true;
  ops_since_snapshot_ = 0;
  return Status::OK();
}

Status CollectionImpl::Close() {
  std::lock_guard<std::mutex> lock(write_mu_);
  if (state_flag_ != State::kOpen) return Status::OK();
  // A broken index is not saved, nor one loaded read-only; the stored
  // snapshot and log stay valid.
  Status s = index_broken_.ok() && !store_->read_only() ? SnapshotLocked() : Status::OK();
  std::unique_lock<RwMutex> exclusive(index_mu_);
  state_flag_ = State::kClosed;
  index_.reset();
  rows_.reset();
  if (text_index_) text_index_->ReleaseCache();
  return s;
}

void CollectionImpl::AppendDrop(const storage::CollectionRecord& record,
                                storage::WriteBatch* batch) {
  batch->Delete(storage::Cf::kCatalog, storage::CollectionKey(record.name));
  AppendDropData(record, batch);
}

void CollectionImpl::AppendDropData(const storage::CollectionRecord& record,
                                    storage::WriteBatch* batch) {
  const uint32_t cid = record.cid;
  batch->Delete(storage::Cf::kCatalog, storage::CollectionStateKey(cid));
  for (storage::Cf cf : {storage::Cf::kDocuments, storage::Cf::kVectors, storage::Cf::kIds,
                         storage::Cf::kOplog, storage::Cf::kSnapshots, storage::Cf::kSources}) {
    batch->DeleteRange(cf, storage::CollectionPrefix(cid), storage::CollectionEnd(cid));
  }
  TextIndex::AppendDropAll(cid, batch);
  FieldStore::AppendDropAll(cid, batch);
}

Status CollectionImpl::Drop() { return DropWith(/*copy=*/false); }

Status CollectionImpl::DropCopy() { return DropWith(/*copy=*/true); }

Status CollectionImpl::DropWith(bool copy) {
  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  storage::WriteBatch batch;
  if (copy) {
    batch.Delete(storage::Cf::kCatalog, storage::ReembedKey(record_.name));
    AppendDropData(record_, &batch);
  } else {
    AppendDrop(record_, &batch);
  }
  FE_RETURN_IF_ERROR(store_->Write(batch, /*sync=*/true));
  MarkDroppedLocked();
  return Status::OK();
}

Result<bool> CollectionImpl::FollowWriter() {
  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  const uint32_t cid = record_.cid;
  FE_ASSIGN_OR_RETURN(std::string bytes,
                      store_->Get(storage::Cf::kCatalog, storage::CollectionStateKey(cid)));
  FE_ASSIGN_OR_RETURN(storage::CollectionState now, storage::DecodeState(bytes));
  if (now.next_seq == state_.next_seq && now.next_slot == state_.next_slot &&
      now.live_count == state_.live_count) {
    return true;
  }
  if (now.next_seq < state_.next_seq || !index_broken_.ok()) return false;
  // The operations logged since, as the writer applied them. Gone when the
  // writer snapshotted past them: load again. A failure part way leaves the
  // index between two states: load again too.
  std::unique_lock<RwMutex> exclusive(index_mu_);
  uint64_t replayed = 0;
  const Status replay =
      ReplayOplog(index_.get(), state_.next_seq, storage::OplogKey(cid, now.next_seq), &replayed);
  if (!replay.ok() || replayed != now.next_seq - state_.next_seq ||
      index_->size() != now.live_count) {
    return false;
  }
  state_ = now;
  live_count_ = now.live_count;
  // What was derived from the documents is read again when next needed.
  rows_.reset();
  source_count_ = -1;
  {
    std::lock_guard<std::mutex> sources(sources_mu_);
    source_table_.reset();
  }
  if (text_index_) FE_RETURN_IF_ERROR(text_index_->Reload());
  return true;
}

void CollectionImpl::MarkDropped() {
  std::lock_guard<std::mutex> lock(write_mu_);
  MarkDroppedLocked();
}

void CollectionImpl::MarkDroppedLocked() {
  std::unique_lock<RwMutex> exclusive(index_mu_);
  state_flag_ = State::kDropped;
  index_.reset();
  rows_.reset();
  if (text_index_) text_index_->ReleaseCache();
}

// REQUIRES: write_mu_ or index_mu_ held.
size_t CollectionImpl::IndexEffort(const SearchOptions& options) const {
  if (IsIvf(record_.index_kind)) return options.nprobe;
  return options.ef_search;
}

}  // namespace flashembed::query
