#include "query/database.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <map>
#include <mutex>
#include <ostream>
#include <shared_mutex>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/rw_mutex.h"
#include "encoders/encoder.h"
#include "encoders/learned_encoder.h"
#include "index/hnsw_index.h"
#include "query/collection_handle.h"
#include "query/collection_impl.h"
#include "query/filter_rows.h"
#include "query/posting_cache.h"
#include "query/refresh_gate.h"
#include "storage/records.h"
#include "storage/snapshot.h"
#include "storage/store.h"

namespace flashembed {

// ---- small public helpers ---------------------------------------------------

std::string Id::ToString() const { return is_int() ? std::to_string(as_int()) : as_string(); }

std::ostream& operator<<(std::ostream& os, const Id& id) {
  if (id.is_int()) return os << id.as_int();
  return os << '"' << id.as_string() << '"';
}

namespace {
index::Metric ToIndexMetric(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return index::Metric::kCosine;
    case Metric::kInnerProduct: return index::Metric::kInnerProduct;
    case Metric::kL2: return index::Metric::kL2;
  }
  return index::Metric::kCosine;
}
}  // namespace

const char* MetricName(Metric metric) { return index::MetricName(ToIndexMetric(metric)); }

std::optional<Metric> ParseMetric(std::string_view name) {
  if (name == "cosine" || name == "COSINE") return Metric::kCosine;
  if (name == "ip" || name == "IP") return Metric::kInnerProduct;
  if (name == "l2" || name == "L2") return Metric::kL2;
  return std::nullopt;
}

namespace {
constexpr std::pair<IndexKind, const char*> kIndexKindNames[] = {
    {IndexKind::kHnsw, "hnsw"},        {IndexKind::kFlat, "flat"},
    {IndexKind::kIvfFlat, "ivf_flat"}, {IndexKind::kIvfSq8, "ivf_sq8"},
    {IndexKind::kIvfPq, "ivf_pq"},
};
}  // namespace

const char* IndexKindName(IndexKind kind) {
  for (const auto& [k, name] : kIndexKindNames) {
    if (k == kind) return name;
  }
  return "unknown";
}

std::optional<IndexKind> ParseIndexKind(std::string_view name) {
  for (const auto& [k, known] : kIndexKindNames) {
    const std::string_view s = known;
    if (s.size() == name.size() && std::equal(s.begin(), s.end(), name.begin(), [](char a, char b) {
          return a == (b >= 'A' && b <= 'Z' ? static_cast<char>(b - 'A' + 'a') : b);
        })) {
      return k;
    }
  }
  return std::nullopt;
}

Status CollectionSchema::Validate() const {
  if (encoder.empty() && (dim < 1 || dim > 65536)) {
    return Status::InvalidArgument(
        fmt::format("a collection without an encoder needs dim in 1..65536, got {}", dim));
  }
  if (dim < 0 || dim > 65536) {
    return Status::InvalidArgument(fmt::format("dim must be in 0..65536, got {}", dim));
  }
  if (!reranker.empty() && (reranker == "none" || reranker.size() > 4096)) {
    return Status::InvalidArgument(
        "reranker must be \"model:DIR\" (at most 4096 bytes) or empty for none");
  }
  if (hnsw.m < 2 || hnsw.m > 100) {
    return Status::InvalidArgument(fmt::format("hnsw m must be in 2..100, got {}", hnsw.m));
  }
  if (hnsw.ef_construction < 1 || hnsw.ef_construction > 10000) {
    return Status::InvalidArgument(
        fmt::format("hnsw ef_construction must be in 1..10000, got {}", hnsw.ef_construction));
  }
  if (hnsw.ef_search < 1 || hnsw.ef_search > 10000) {
    return Status::InvalidArgument(
        fmt::format("hnsw ef_search must be in 1..10000, got {}", hnsw.ef_search));
  }
  if (metric != Metric::kCosine && metric != Metric::kInnerProduct && metric != Metric::kL2) {
    return Status::InvalidArgument("unknown metric");
  }
  if (std::string_view(IndexKindName(index)) == "unknown") {
    return Status::InvalidArgument(fmt::format("unknown index kind {}", static_cast<int>(index)));
  }
  if (ivf.nlist < 0 || ivf.nlist > 65536) {
    return Status::InvalidArgument(
        fmt::format("ivf nlist must be in 0..65536 (0 = chosen at training), got {}", ivf.nlist));
  }
  if (ivf.nprobe < 1 || ivf.nprobe > 65536) {
    return Status::InvalidArgument(
        fmt::format("ivf nprobe must be in 1..65536, got {}", ivf.nprobe));
  }
  if (ivf.train_at < 0 || (ivf.train_at > 0 && ivf.nlist > ivf.train_at)) {
    return Status::InvalidArgument(
        fmt::format("ivf train_at must be 0 (automatic) or at least nlist ({}), got {}", ivf.nlist,
                    ivf.train_at));
  }
  if (ivf.pq_m < 0 || (ivf.pq_m > 0 && dim > 0 && dim % ivf.pq_m != 0)) {
    return Status::InvalidArgument(
        fmt::format("ivf pq_m must divide dim {}, got {}", dim, ivf.pq_m));
  }
  if (ivf.pq_nbits < 4 || ivf.pq_nbits > 8) {
    return Status::InvalidArgument(
        fmt::format("ivf pq_nbits must be in 4..8, got {}", ivf.pq_nbits));
  }
  if (indexed_fields.size() > 32) {
    return Status::InvalidArgument(
        fmt::format("at most 32 indexed_fields, got {}", indexed_fields.size()));
  }
  std::vector<std::vector<std::string>> paths;
  for (const std::string& field : indexed_fields) {
    FE_ASSIGN_OR_RETURN(std::vector<std::string> path, query::ParseKeyPath(field, "indexed field"));
    if (std::find(paths.begin(), paths.end(), path) != paths.end()) {
      return Status::InvalidArgument("indexed field \"" + field + "\" is listed twice");
    }
    paths.push_back(std::move(path));
  }
  if (properties.size() > 65536) {
    return Status::InvalidArgument(
        fmt::format("properties are limited to 65536 bytes, got {}", properties.size()));
  }
  if (!properties.empty()) {
    const nlohmann::json j = nlohmann::json::parse(properties, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.is_object()) {
      return Status::InvalidArgument("properties must be a JSON object");
    }
  }
  if (query_prefix.size() > 1024 || document_prefix.size() > 1024) {
    return Status::InvalidArgument("query_prefix and document_prefix are limited to 1024 bytes");
  }
  if (encoder.empty() && (!query_prefix.empty() || !document_prefix.empty())) {
    return Status::InvalidArgument(
        "a collection without an encoder embeds no text: prefixes need an encoder");
  }
  return Status::OK();
}

Status SearchOptions::Validate() const {
  if (k < 1 || k > 16384) {
    return Status::InvalidArgument(fmt::format("k must be in 1..16384, got {}", k));
  }
  if (ef_search > 100000) {
    return Status::InvalidArgument(
        fmt::format("ef_search must be at most 100000, got {}", ef_search));
  }
  if (nprobe > 65536) {
    return Status::InvalidArgument(fmt::format("nprobe must be at most 65536, got {}", nprobe));
  }
  if ((min_score && std::isnan(*min_score)) || (max_score && std::isnan(*max_score))) {
    return Status::InvalidArgument("min_score and max_score must be numbers, not NaN");
  }
  if (min_score && max_score && *min_score > *max_score) {
    return Status::InvalidArgument(
        fmt::format("min_score {:f} is above max_score {:f}", *min_score, *max_score));
  }
  if (group_size < 1 || group_size > 1024) {
    return Status::InvalidArgument(
        fmt::format("group_size must be in 1..1024, got {}", group_size));
  }
  if (rerank_depth > 1000) {
    return Status::InvalidArgument(
        fmt::format("rerank_depth must be at most 1000, got {}", rerank_depth));
  }
  if (!reranker.empty() && reranker != "none" && !group_by.empty()) {
    return Status::InvalidArgument("reranking and group_by cannot be combined");
  }
  if (reranker == "none" && rerank_depth != 0) {
    return Status::InvalidArgument("rerank_depth needs a reranker, and reranker is \"none\"");
  }
  if (rrf_k < 1 || rrf_k > 16384) {
    return Status::InvalidArgument(fmt::format("rrf_k must be in 1..16384, got {}", rrf_k));
  }
  if (!(text_weight >= 0 && text_weight <= 1)) {
    return Status::InvalidArgument(
        fmt::format("text_weight must be in 0..1, got {:f}", text_weight));
  }
  if (ranking == Ranking::kVector && !keywords.empty()) {
    return Status::InvalidArgument(
        "keywords are for full-text ranking: set ranking to text or hybrid");
  }
  if ((ranking == Ranking::kText || ranking == Ranking::kHybrid) &&
      (!group_by.empty() || min_score || max_score)) {
    return Status::InvalidArgument(
        "group_by, min_score and max_score work with vector ranking only");
  }
  if (!group_by.empty() && k * group_size > 16384 * 16) {
    return Status::InvalidArgument(
        fmt::format("k * group_size must be at most 262144, got {}", k * group_size));
  }
  return Status::OK();
}

Status FindOptions::Validate() const {
  if (offset > (uint64_t{1} << 40) || limit > (uint64_t{1} << 40)) {
    return Status::InvalidArgument("offset and limit must be at most 2^40");
  }
  return Status::OK();
}

Status Options::Validate() const {
  if (block_cache_bytes < (1u << 20)) {
    return Status::InvalidArgument("block_cache_bytes must be at least 1 MiB");
  }
  return Status::OK();
}

namespace query {
namespace {

Status ValidateName(const std::string& name) {
  if (name.empty() || name.size() > 255) {
    return Status::InvalidArgument(
        fmt::format("collection name must be 1..255 characters, got {}", name.size()));
  }
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '-';
    if (!ok) {
      return Status::InvalidArgument("collection name \"" + name +
                                     "\" may only use letters, digits, '_' and '-'");
    }
  }
  return Status::OK();
}

// Resolves a schema into the record it would be stored as (cid unset).
Result<storage::CollectionRecord> RecordFor(const std::string& name,
                                            const CollectionSchema& schema) {
  FE_RETURN_IF_ERROR(schema.Validate());
  storage::CollectionRecord r;
  r.name = name;
  r.dim = static_cast<uint32_t>(schema.dim);
  if (!schema.encoder.empty()) {
    FE_ASSIGN_OR_RETURN(auto encoder, encoders::NewTextEncoder(schema.encoder, schema.dim));
    r.encoder_spec = encoder->spec();
    r.dim = static_cast<uint32_t>(encoder->dim());
  }
  r.metric = static_cast<uint8_t>(ToIndexMetric(schema.metric));
  r.index_kind = static_cast<uint8_t>(schema.index);
  if (schema.index == IndexKind::kIvfFlat || schema.index == IndexKind::kIvfSq8 ||
      schema.index == IndexKind::kIvfPq) {
    r.nlist = static_cast<uint32_t>(schema.ivf.nlist);
    r.nprobe = static_cast<uint32_t>(schema.ivf.nprobe);
    r.train_at = static_cast<uint32_t>(schema.ivf.train_at);
    if (schema.index == IndexKind::kIvfPq) {
      if (schema.ivf.pq_m > 0 && r.dim % static_cast<uint32_t>(schema.ivf.pq_m) != 0) {
        return Status::InvalidArgument(
            fmt::format("ivf pq_m must divide dim {}, got {}", r.dim, schema.ivf.pq_m));
      }
      r.pq_m = static_cast<uint32_t>(schema.ivf.pq_m);
      r.pq_nbits = static_cast<uint32_t>(schema.ivf.pq_nbits);
    }
  }
  r.properties = schema.properties;
  r.text_index = schema.text_index;
  r.indexed_fields = schema.indexed_fields;
  r.m = static_cast<uint32_t>(schema.hnsw.m);
  r.ef_construction = static_cast<uint32_t>(schema.hnsw.ef_construction);
  r.ef_search = static_cast<uint32_t>(schema.hnsw.ef_search);
  r.query_prefix = schema.query_prefix;
  r.document_prefix = schema.document_prefix;
  if (!schema.reranker.empty()) {
    FE_ASSIGN_OR_RETURN(auto reranker, Reranker::Open(schema.reranker));
    r.reranker_spec = reranker->spec();
  }
  return r;
}

// Names the first difference between two records, or returns "".
std::string Difference(const storage::CollectionRecord& stored,
                       const storage::CollectionRecord& wanted) {
  auto diff = [](std::string_view what, const auto& a, const auto& b) {
    return fmt::format("{}: stored {}, requested {}", what, a, b);
  };
  if (stored.encoder_spec != wanted.encoder_spec) {
    return diff("encoder", stored.encoder_spec.empty() ? "none" : stored.encoder_spec,
                wanted.encoder_spec.empty() ? "none" : wanted.encoder_spec);
  }
  if (stored.reranker_spec != wanted.reranker_spec) {
    return diff("reranker", stored.reranker_spec.empty() ? "none" : stored.reranker_spec,
                wanted.reranker_spec.empty() ? "none" : wanted.reranker_spec);
  }
  if (stored.dim != wanted.dim) {
    return diff("dim", stored.dim, wanted.dim);
  }
  if (stored.metric != wanted.metric) {
    return diff("metric", index::MetricName(static_cast<index::Metric>(stored.metric)),
                index::MetricName(static_cast<index::Metric>(wanted.metric)));
  }
  if (stored.index_kind != wanted.index_kind) {
    return diff("index", IndexKindName(static_cast<IndexKind>(stored.index_kind)),
                IndexKindName(static_cast<IndexKind>(wanted.index_kind)));
  }
  if (stored.nlist != wanted.nlist || stored.nprobe != wanted.nprobe ||
      stored.train_at != wanted.train_at || stored.pq_m != wanted.pq_m ||
      stored.pq_nbits != wanted.pq_nbits) {
    auto ivf = [](const storage::CollectionRecord& r) {
      return fmt::format("nlist {} nprobe {} train_at {} pq_m {} pq_nbits {}", r.nlist, r.nprobe,
                         r.train_at, r.pq_m, r.pq_nbits);
    };
    return diff("ivf", ivf(stored), ivf(wanted));
  }
  if (stored.text_index != wanted.text_index) {
    return diff("text_index", stored.text_index ? "true" : "false",
                wanted.text_index ? "true" : "false");
  }
  if (stored.indexed_fields != wanted.indexed_fields) {
    auto list = [](const std::vector<std::string>& fields) {
      std::string out = "[";
      for (const std::string& f : fields) out += (out.size() > 1 ? ", " : "") + f;
      return out + "]";
    };
    return diff("indexed_fields", list(stored.indexed_fields), list(wanted.indexed_fields));
  }
  if (stored.properties != wanted.properties) {
    return diff("properties", stored.properties.empty() ? "none" : stored.properties,
                wanted.properties.empty() ? "none" : wanted.properties);
  }
  if (stored.m != wanted.m) return diff("hnsw m", stored.m, wanted.m);
  if (stored.ef_construction != wanted.ef_construction) {
    return diff("hnsw ef_construction", stored.ef_construction, wanted.ef_construction);
  }
  if (stored.query_prefix != wanted.query_prefix) {
    return diff("query_prefix", "\"" + stored.query_prefix + "\"",
                "\"" + wanted.query_prefix + "\"");
  }
  if (stored.document_prefix != wanted.document_prefix) {
    return diff("document_prefix", "\"" + stored.document_prefix + "\"",
                "\"" + wanted.document_prefix + "\"");
  }
  if (stored.ef_search != wanted.ef_search) {
    return diff("hnsw ef_search", stored.ef_search, wanted.ef_search);
  }
  return "";
}

class DatabaseImpl final : public Database {
 public:
  DatabaseImpl(const Options& options, std::unique_ptr<storage::Store> store)
      : options_(options),
        read_only_(store->read_only()),
        posting_cache_(std::make_shared<PostingCache>(options.text_cache_bytes)),
        store_(std::move(store)) {
    if (store_->can_catch_up()) {
      gate_ = std::make_shared<RefreshGate>([this] { return CatchUp(); });
    }
  }
  ~DatabaseImpl() override {
    if (gate_) gate_->Disable();  // handles may outlive the database
    Close().IgnoreError();
  }

  Result<std::shared_ptr<Collection>> CreateCollection(const std::string& name,
                                                       const CollectionSchema& schema) override {
    FE_RETURN_IF_ERROR(ValidateName(name));
    FE_ASSIGN_OR_RETURN(storage::CollectionRecord record, RecordFor(name, schema));
    std::lock_guard<std::mutex> lock(mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
    FE_RETURN_IF_ERROR(CheckWritable());
    auto existing = store_->Get(storage::Cf::kCatalog, storage::CollectionKey(name));
    if (existing.ok()) return Status::AlreadyExists("collection \"" + name + "\" already exists");
    if (!existing.status().IsNotFound()) return existing.status();
    return CreateLocked(std::move(record));
  }

  Result<std::shared_ptr<Collection>> GetCollection(const std::string& name) override {
    FE_RETURN_IF_ERROR(ValidateName(name));
    if (gate_) gate_->MaybeRefresh();
    std::lock_guard<std::mutex> lock(mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
    FE_ASSIGN_OR_RETURN(auto c, GetLocked(name));
    return std::shared_ptr<Collection>(std::move(c));
  }

  Result<std::shared_ptr<Collection>> GetOrCreateCollection(
      const std::string& name, const CollectionSchema& schema) override {
    FE_RETURN_IF_ERROR(ValidateName(name));
    FE_ASSIGN_OR_RETURN(storage::CollectionRecord wanted, RecordFor(name, schema));
    std::lock_guard<std::mutex> lock(mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
    auto existing = store_->Get(storage::Cf::kCatalog, storage::CollectionKey(name));
    if (existing.status().IsNotFound()) return CreateLocked(std::move(wanted));
    if (!existing.ok()) return existing.status();
    FE_ASSIGN_OR_RETURN(storage::CollectionRecord stored, storage::DecodeCollection(*existing));
    std::string diff = Difference(stored, wanted);
    if (!diff.empty()) {
      return Status::InvalidArgument("collection \"" + name +
                                     "\" exists with a different schema (" + diff + ")");
    }
    FE_ASSIGN_OR_RETURN(auto c, GetLocked(name));
    return std::shared_ptr<Collection>(std::move(c));
  }

  Result<std::vector<CollectionInfo>> ListCollections() override {
    if (gate_) gate_->MaybeRefresh();
    std::lock_guard<std::mutex> lock(mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
    std::vector<storage::CollectionRecord> records;
    FE_RETURN_IF_ERROR(ScanCatalog(&records));
    std::vector<CollectionInfo> out;
    for (const auto& r : records) {
      CollectionInfo info;
      info.name = r.name;
      info.schema = CollectionImpl::SchemaOf(r);
      info.encoder_spec = r.encoder_spec;
      info.reranker_spec = r.reranker_spec;
      info.created_unix_ms = r.created_unix_ms;
      auto state = store_->Get(storage::Cf::kCatalog, storage::CollectionStateKey(r.cid));
      if (!state.ok()) return state.status();
      FE_ASSIGN_OR_RETURN(storage::CollectionState s, storage::DecodeState(*state));
      info.count = s.live_count;
      FE_ASSIGN_OR_RETURN(info.disk_bytes, CollectionImpl::DiskBytes(*store_, r.cid));
      // An open collection knows its count; others are counted.
      auto open = open_.find(r.name);
      if (open != open_.end()) {
        FE_ASSIGN_OR_RETURN(info.documents, open->second->impl()->CountDocuments());
      } else {
        FE_ASSIGN_OR_RETURN(info.documents, CollectionImpl::CountSources(*store_, r.cid));
      }
      out.push_back(std::move(info));
    }
    return out;
  }

  Status DropCollection(const std::string& name) override {
    FE_RETURN_IF_ERROR(ValidateName(name));
    std::lock_guard<std::mutex> lock(mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
    FE_RETURN_IF_ERROR(CheckWritable());
    auto existing = store_->Get(storage::Cf::kCatalog, storage::CollectionKey(name));
    if (existing.status().IsNotFound()) {
      return Status::NotFound("collection \"" + name + "\" does not exist");
    }
    if (!existing.ok()) return existing.status();
    FE_ASSIGN_OR_RETURN(storage::CollectionRecord record, storage::DecodeCollection(*existing));
    auto it = open_.find(name);
    if (it != open_.end()) {
      // Waits for the collection's in-flight writes, so none lands after the drop.
      FE_RETURN_IF_ERROR(it->second->impl()->Drop());
      open_.erase(it);
      return DropCopyLocked(name);
    }
    // Not open (perhaps it cannot be: an encoder this build lacks), so no
    // writer can race with the drop while mu_ is held.
    storage::WriteBatch batch;
    CollectionImpl::AppendDrop(record, &batch);
    FE_RETURN_IF_ERROR(store_->Write(batch, /*sync=*/true));
    return DropCopyLocked(name);
  }

  Result<ReembedSummary> Reembed(const std::string& name, const ReembedOptions& options) override {
    const auto start = std::chrono::steady_clock::now();
    FE_RETURN_IF_ERROR(ValidateName(name));
    if (options.encoder.empty()) {
      return Status::InvalidArgument("re-embedding needs an encoder (\"hash\", \"model:DIR\")");
    }
    if (options.batch < 1 || options.batch > 65536) {
      return Status::InvalidArgument(
          fmt::format("re-embedding batch must be in 1..65536, got {}", options.batch));
    }
    const bool learned = options.encoder == "learned";
    if (learned && options.dim != 0) {
      return Status::InvalidArgument(
          "the learned encoder's dimension is fixed by its options: leave dim 0");
    }
    std::shared_ptr<CollectionHandle> handle;
    std::shared_ptr<CollectionImpl> old;
    std::shared_ptr<CollectionImpl> copy;
    ReembedSummary summary;
    // A learned encoder is trained on the collection's texts first, without
    // holding mu_ (unless an interrupted run's copy is resumed).
    std::unique_ptr<encoders::LearnedEncoder> trained;
    if (learned) {
      bool pending = false;
      {
        std::lock_guard<std::mutex> lock(mu_);
        FE_RETURN_IF_ERROR(CheckOpen());
        FE_RETURN_IF_ERROR(CheckWritable());
        FE_ASSIGN_OR_RETURN(handle, GetLocked(name));
        old = handle->impl();
        auto stored = store_->Get(storage::Cf::kCatalog, storage::ReembedKey(name));
        if (!stored.ok() && !stored.status().IsNotFound()) return stored.status();
        pending = stored.ok();
      }
      if (!pending) {
        FE_ASSIGN_OR_RETURN(trained, TrainOn(*old, options));
      }
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      FE_RETURN_IF_ERROR(CheckOpen());
      FE_RETURN_IF_ERROR(CheckWritable());
      if (reembeds_.count(name) != 0) {
        return Status::InvalidArgument("a re-embedding of collection \"" + name +
                                       "\" is running already");
      }
      FE_ASSIGN_OR_RETURN(auto current, GetLocked(name));
      if (old && current->impl() != old) {
        return Status::InvalidArgument("collection \"" + name +
                                       "\" was re-embedded or re-created while the encoder "
                                       "trained on it: run again");
      }
      handle = std::move(current);
      old = handle->impl();
      auto pending = store_->Get(storage::Cf::kCatalog, storage::ReembedKey(name));
      if (!pending.ok() && !pending.status().IsNotFound()) return pending.status();
      std::optional<storage::CollectionRecord> stored;
      if (pending.ok()) {
        FE_ASSIGN_OR_RETURN(stored, storage::DecodeCollection(*pending));
      }
      CollectionSchema schema = CollectionImpl::SchemaOf(old->record());
      schema.encoder = learned ? "hash" : options.encoder;
      schema.dim = options.dim;
      if (options.query_prefix) schema.query_prefix = *options.query_prefix;
      if (options.document_prefix) schema.document_prefix = *options.document_prefix;
      // The default reranker carries over as it is stored (not loaded again).
      schema.reranker.clear();
      std::string learned_spec;
      if (learned) {
        // Checked as a hashing encoder of the same dimension (index
        // parameters that need a dimension), then named as the model.
        const bool resumed =
            stored && encoders::EncoderNameFromSpec(stored->encoder_spec) == "learned";
        if (!trained && !stored) {
          return Status::InvalidArgument("the interrupted re-embedding of collection \"" + name +
                                         "\" was aborted meanwhile: run again");
        }
        if (!trained && !resumed) {
          return Status::InvalidArgument(
              "an interrupted re-embedding of collection \"" + name + "\" to encoder " +
              stored->encoder_spec +
              " is pending with other options (encoder: requested learned): run it again with "
              "the same options to resume it, or abort it first");
        }
        learned_spec = trained ? trained->spec() : stored->encoder_spec;
        schema.dim = trained ? trained->dim() : static_cast<int>(stored->dim);
      }
      FE_ASSIGN_OR_RETURN(storage::CollectionRecord wanted, RecordFor(name, schema));
      if (learned) wanted.encoder_spec = learned_spec;
      wanted.reranker_spec = old->record().reranker_spec;
      if (stored) {
        const std::string diff = Difference(*stored, wanted);
        if (!diff.empty()) {
          return Status::InvalidArgument(
              "an interrupted re-embedding of collection \"" + name + "\" to encoder " +
              stored->encoder_spec + " is pending with other options (" + diff +
              "): run it again with the same options to resume it, or abort it first");
        }
        wanted = *stored;
      } else {
        wanted.created_unix_ms = old->record().created_unix_ms;
        FE_ASSIGN_OR_RETURN(wanted.cid, NextCid());
        storage::WriteBatch batch;
        batch.Put(storage::Cf::kCatalog, storage::ReembedKey(name),
                  storage::EncodeCollection(wanted));
        batch.Put(storage::Cf::kCatalog, storage::CollectionStateKey(wanted.cid),
                  storage::EncodeState(storage::CollectionState{}));
        batch.Put(storage::Cf::kCatalog, storage::kNextCollectionIdKey,
                  storage::EncodeNextCollectionId(wanted.cid + 1));
        if (trained) storage::AppendEncoderModel(wanted.cid, trained->Serialize(), &batch);
        FE_RETURN_IF_ERROR(store_->Write(batch, /*sync=*/true));
      }
      auto opened = CollectionImpl::Open(store_.get(), wanted, options_,
                                         /*is_new=*/!stored.has_value(), posting_cache_);
      if (!opened.ok()) {
        if (!stored) DropCopyLocked(name).IgnoreError();
        return opened.status();
      }
      copy = std::move(opened).value();
      reembeds_.emplace(name, copy);
    }
    // Runs holding mu_ (ReembedInto's last step).
    auto commit = [&]() -> Status {
      FE_RETURN_IF_ERROR(CheckOpen());
      storage::WriteBatch batch;
      CollectionImpl::AppendDropData(old->record(), &batch);
      batch.Delete(storage::Cf::kCatalog, storage::ReembedKey(name));
      batch.Put(storage::Cf::kCatalog, storage::CollectionKey(name),
                storage::EncodeCollection(copy->record()));
      FE_RETURN_IF_ERROR(store_->Write(batch, /*sync=*/true));
      handle->Switch(copy);
      reembeds_.erase(name);
      return Status::OK();
    };
    Status s = old->ReembedInto(copy.get(), options, &mu_, commit, &summary);
    if (!s.ok()) {
      std::lock_guard<std::mutex> lock(mu_);
      reembeds_.erase(name);
      // Closed meanwhile: the copy stays for a resume. Otherwise it goes
      // (a drop has deleted it already).
      if (s.code() != StatusCode::kCancelled && store_) copy->DropCopy().IgnoreError();
      return s;
    }
    summary.encoder_spec = copy->record().encoder_spec;
    summary.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    return summary;
  }

  Status AbortReembed(const std::string& name) override {
    FE_RETURN_IF_ERROR(ValidateName(name));
    std::lock_guard<std::mutex> lock(mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
    FE_RETURN_IF_ERROR(CheckWritable());
    if (reembeds_.count(name) != 0) {
      return Status::InvalidArgument("a re-embedding of collection \"" + name +
                                     "\" is running: it cannot be aborted from here");
    }
    auto pending = store_->Get(storage::Cf::kCatalog, storage::ReembedKey(name));
    if (pending.status().IsNotFound()) {
      return Status::NotFound("no interrupted re-embedding of collection \"" + name + "\"");
    }
    if (!pending.ok()) return pending.status();
    return DropCopyLocked(name);
  }

  Status Compact() override {
    std::shared_lock<RwMutex> alive(close_mu_);
    std::vector<std::shared_ptr<CollectionImpl>> open;
    {
      std::lock_guard<std::mutex> lock(mu_);
      FE_RETURN_IF_ERROR(CheckOpen());
      if (read_only_) return store_->Health();
      // Every collection, not only the open ones: an index snapshot that
      // still holds removed vectors is rebuilt whoever removed them.
      std::vector<storage::CollectionRecord> records;
      FE_RETURN_IF_ERROR(ScanCatalog(&records));
      for (const auto& r : records) {
        auto c = GetLocked(r.name);
        // One that cannot open (an encoder this build lacks) keeps its
        // snapshot; its keys are compacted below all the same.
        if (c.ok()) open.push_back((*c)->impl());
      }
    }
    for (const auto& c : open) {
      Status s = c->CompactIndex();
      // Dropped or re-embedded meanwhile: its keys go with the compaction.
      if (!s.ok() && !c->replaced() && !s.IsNotFound()) return s;
    }
    return store_->Compact("", "");
  }

  Status Backup(const std::string& dest) override {
    std::shared_lock<RwMutex> alive(close_mu_);
    {
      std::lock_guard<std::mutex> lock(mu_);
      FE_RETURN_IF_ERROR(CheckOpen());
    }
    return store_->Checkpoint(dest);
  }

  Result<uint64_t> DiskBytes() const override {
    namespace fs = std::filesystem;
    std::error_code ec;
    uint64_t total = 0;
    for (auto it = fs::recursive_directory_iterator(path_, ec);
         !ec && it != fs::recursive_directory_iterator(); it.increment(ec)) {
      std::error_code file_ec;
      if (it->is_regular_file(file_ec)) {
        const uintmax_t size = it->file_size(file_ec);
        if (!file_ec) total += size;  // a file RocksDB deleted meanwhile counts nothing
      }
    }
    if (ec) return Status::IOError("measuring " + path_ + ": " + ec.message());
    return total;
  }

  Status Close() override {
    // Waits for a running Compact() or Backup(), which use the store
    // without holding mu_.
    std::unique_lock<RwMutex> closing(close_mu_);
    std::lock_guard<std::mutex> lock(mu_);
    if (!store_) return Status::OK();
    Status first;
    for (auto& [name, c] : reembeds_) c->Close().IgnoreError();
    reembeds_.clear();
    for (auto& [name, c] : open_) {
      Status s = c->impl()->Close();
      if (first.ok() && !s.ok()) first = s.WithContext("snapshotting \"" + name + "\"");
    }
    open_.clear();
    records_.clear();
    Status flushed = store_->Flush();
    if (first.ok()) first = flushed;
    store_.reset();
    return first;
  }

  Status StorageHealth() override {
    std::lock_guard<std::mutex> lock(mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
    return store_->Health();
  }

  bool read_only() const override { return read_only_; }

  const std::string& path() const override { return path_; }
  void set_path(std::string p) { path_ = std::move(p); }

 private:
  Status CheckOpen() const {
    return store_ ? Status::OK() : Status::Cancelled("database is closed");
  }

  // NotSupported on a read-only database, before any work is done.
  Status CheckWritable() const { return read_only_ ? store_->Health() : Status::OK(); }

  Status ScanCatalog(std::vector<storage::CollectionRecord>* out) const {
    const std::string end = storage::PrefixEnd(storage::kCollectionKeyPrefix);
    Status decode;
    FE_RETURN_IF_ERROR(store_->Scan(storage::Cf::kCatalog, storage::kCollectionKeyPrefix, end,
                                    [&](std::string_view, std::string_view value) {
                                      auto r = storage::DecodeCollection(value);
                                      if (!r.ok())
                                        decode = r.status();
                                      else
                                        out->push_back(std::move(r).value());
                                      return decode.ok();
                                    }));
    return decode;
  }

  // A learned encoder trained on the texts of `c`'s records (a long
  // document's chunks included), reporting as round 0 of a re-embedding.
  static Result<std::unique_ptr<encoders::LearnedEncoder>> TrainOn(const CollectionImpl& c,
                                                                   const ReembedOptions& options) {
    ReembedProgress progress;
    progress.round = 0;
    progress.training = true;
    auto report = [&](const encoders::LearnedProgress& p) {
      if (!options.progress) return;
      progress.trained = p.stage == encoders::LearnedProgress::Stage::kReading    ? 0.0
                         : p.stage == encoders::LearnedProgress::Stage::kTraining ? p.fraction
                                                                                  : 1.0;
      options.progress(progress);
    };
    encoders::TextSource texts = [&](const std::function<Status(std::string_view)>& visit) {
      ScanOptions scan;
      scan.with_metadata = false;
      scan.with_vector = false;
      return c.ScanRecords(scan, [&](std::span<const Document> docs) {
        for (const Document& d : docs) FE_RETURN_IF_ERROR(visit(d.text));
        return Status::OK();
      });
    };
    auto made = encoders::LearnedEncoder::Train(texts, encoders::LearnedOptions{}, report);
    if (!made.ok()) {
      return made.status().WithContext("training the learned encoder on collection \"" + c.name() +
                                       "\"");
    }
    return made;
  }

  // Deletes the copy of a running or interrupted re-embedding of `name`,
  // if any. REQUIRES: mu_ held.
  Status DropCopyLocked(const std::string& name) {
    auto running = reembeds_.find(name);
    if (running != reembeds_.end()) {
      Status s = running->second->DropCopy();
      reembeds_.erase(running);
      return s.IsNotFound() ? Status::OK() : s;
    }
    auto pending = store_->Get(storage::Cf::kCatalog, storage::ReembedKey(name));
    if (pending.status().IsNotFound()) return Status::OK();
    if (!pending.ok()) return pending.status();
    FE_ASSIGN_OR_RETURN(storage::CollectionRecord copy, storage::DecodeCollection(*pending));
    storage::WriteBatch batch;
    batch.Delete(storage::Cf::kCatalog, storage::ReembedKey(name));
    CollectionImpl::AppendDropData(copy, &batch);
    return store_->Write(batch, /*sync=*/true);
  }

  // The next collection id (not yet taken). REQUIRES: mu_ held.
  Result<uint32_t> NextCid() {
    uint32_t cid = 1;
    auto next = store_->Get(storage::Cf::kCatalog, storage::kNextCollectionIdKey);
    if (next.ok()) {
      FE_ASSIGN_OR_RETURN(cid, storage::DecodeNextCollectionId(*next));
    } else if (!next.status().IsNotFound()) {
      return next.status();
    }
    if (cid >= 0xfffffffeu) return Status::ResourceExhausted("collection ids exhausted");
    return cid;
  }

  // REQUIRES: mu_ held.
  Result<std::shared_ptr<CollectionHandle>> GetLocked(const std::string& name) {
    auto it = open_.find(name);
    if (it != open_.end()) return it->second;
    auto bytes = store_->Get(storage::Cf::kCatalog, storage::CollectionKey(name));
    if (bytes.status().IsNotFound()) {
      return Status::NotFound("collection \"" + name + "\" does not exist");
    }
    if (!bytes.ok()) return bytes.status();
    FE_ASSIGN_OR_RETURN(storage::CollectionRecord record, storage::DecodeCollection(*bytes));
    FE_ASSIGN_OR_RETURN(auto c, CollectionImpl::Open(store_.get(), record, options_,
                                                     /*is_new=*/false, posting_cache_));
    auto handle = std::make_shared<CollectionHandle>(std::move(c), gate_);
    open_.emplace(name, handle);
    if (gate_) records_[name] = *bytes;
    return handle;
  }

  // The gate's catch-up (see query/refresh_gate.h), run with every read
  // through a handle excluded: reads what the writer acknowledged since,
  // then brings each open collection up to it: the writes logged since are
  // applied to its index, or, when its catalog record changed (a
  // re-embedding's switch, a drop and create) or its log no longer reaches
  // back, it is opened again and its handle switched; one the writer dropped
  // is marked dropped.
  Status CatchUp() {
    std::lock_guard<std::mutex> lock(mu_);
    if (!store_) return Status::OK();
    FE_ASSIGN_OR_RETURN(const bool changed, store_->CatchUp());
    if (!changed) return Status::OK();
    for (auto it = open_.begin(); it != open_.end();) {
      const std::string& name = it->first;
      auto bytes = store_->Get(storage::Cf::kCatalog, storage::CollectionKey(name));
      if (bytes.status().IsNotFound()) {
        it->second->impl()->MarkDropped();
        records_.erase(name);
        it = open_.erase(it);
        continue;
      }
      if (!bytes.ok()) return bytes.status();
      bool current = *bytes == records_[name];
      if (current) {
        FE_ASSIGN_OR_RETURN(current, it->second->impl()->FollowWriter());
      }
      if (!current) {
        FE_ASSIGN_OR_RETURN(storage::CollectionRecord record, storage::DecodeCollection(*bytes));
        FE_ASSIGN_OR_RETURN(auto c, CollectionImpl::Open(store_.get(), record, options_,
                                                         /*is_new=*/false, posting_cache_));
        it->second->Switch(std::move(c));
        records_[name] = *bytes;
      }
      ++it;
    }
    return Status::OK();
  }

  // REQUIRES: mu_ held and no collection named record.name.
  Result<std::shared_ptr<Collection>> CreateLocked(storage::CollectionRecord record) {
    FE_RETURN_IF_ERROR(CheckWritable());
    FE_ASSIGN_OR_RETURN(const uint32_t cid, NextCid());
    record.cid = cid;
    record.created_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch())
                                 .count();
    // Everything that can fail comes before the catalog write.
    FE_ASSIGN_OR_RETURN(auto c, CollectionImpl::Open(store_.get(), record, options_,
                                                     /*is_new=*/true, posting_cache_));
    storage::WriteBatch batch;
    batch.Put(storage::Cf::kCatalog, storage::CollectionKey(record.name),
              storage::EncodeCollection(record));
    batch.Put(storage::Cf::kCatalog, storage::CollectionStateKey(cid),
              storage::EncodeState(storage::CollectionState{}));
    batch.Put(storage::Cf::kCatalog, storage::kNextCollectionIdKey,
              storage::EncodeNextCollectionId(cid + 1));
    FE_RETURN_IF_ERROR(store_->Write(batch, /*sync=*/true));
    // A copy a re-embedding left under this name belonged to a collection
    // dropped by a build that did not know copies.
    FE_RETURN_IF_ERROR(DropCopyLocked(record.name));
    auto handle = std::make_shared<CollectionHandle>(std::move(c));
    open_.emplace(record.name, handle);
    return std::shared_ptr<Collection>(std::move(handle));
  }

  const Options options_;
  const bool read_only_;
  // The BM25 posting lists of every collection (Options::text_cache_bytes).
  const std::shared_ptr<PostingCache> posting_cache_;
  std::string path_;
  // Held shared by Compact() and Backup(), which use store_ without mu_;
  // Close() takes it exclusively before it destroys store_.
  mutable RwMutex close_mu_;
  std::mutex mu_;                          // guards the catalog, open_ and store_ lifetime
  std::unique_ptr<storage::Store> store_;  // null once closed
  std::map<std::string, std::shared_ptr<CollectionHandle>> open_;
  // The hidden copies of running re-embeddings, by collection name.
  std::map<std::string, std::shared_ptr<CollectionImpl>> reembeds_;
  // Read-only beside a writer (the store can catch up): the gate every
  // read passes, and each open collection's catalog record as loaded.
  std::shared_ptr<RefreshGate> gate_;
  std::map<std::string, std::string> records_;
};

}  // namespace
}  // namespace query

Result<std::unique_ptr<Database>> Database::Open(const Options& options, const std::string& path) {
  FE_RETURN_IF_ERROR(options.Validate());
  storage::StoreOptions so;
  so.create_if_missing = options.create_if_missing;
  so.block_cache_bytes = options.block_cache_bytes;
  so.read_only = options.read_only;
  so.read_only_if_unwritable = options.read_only_if_unwritable;
  FE_ASSIGN_OR_RETURN(auto store, storage::Store::Open(so, path));
  auto db = std::make_unique<query::DatabaseImpl>(options, std::move(store));
  db->set_path(path);
  return std::unique_ptr<Database>(std::move(db));
}

}  // namespace flashembed
