// Whole-collection streaming for export and import: ScanRecords,
// ScanDocuments, RestoreDocuments.
#include <chrono>
#include <cmath>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "query/collection_impl.h"
#include "query/validate.h"

namespace flashembed::query {
namespace {

constexpr size_t kMaxScanBatch = 65536;

// 32 hex digits -> 16 bytes; nullopt for anything else.
std::optional<std::string> FromHex(std::string_view hex) {
  if (hex.size() != 32) return std::nullopt;
  std::string out(16, '\0');
  for (size_t i = 0; i < 32; ++i) {
    const char c = hex[i];
    int v = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
    if (v < 0) return std::nullopt;
    out[i / 2] = static_cast<char>(out[i / 2] | (i % 2 == 0 ? v << 4 : v));
  }
  return out;
}

}  // namespace

Status CollectionImpl::ScanRecords(
    const ScanOptions& options,
    const std::function<Status(std::span<const Document>)>& visit) const {
  FE_RETURN_IF_ERROR(options.Validate());
  {
    std::shared_lock<RwMutex> lock(index_mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
  }
  const uint32_t cid = record_.cid;
  const storage::ReadView view = store_->NewReadView();
  std::vector<Document> batch;
  std::vector<std::string> slot_keys;
  batch.reserve(options.batch);
  auto flush = [&]() -> Status {
    if (batch.empty()) return Status::OK();
    if (options.with_vector) {
      FE_ASSIGN_OR_RETURN(auto vecs, store_->MultiGet(storage::Cf::kVectors, slot_keys, &view));
      for (size_t i = 0; i < batch.size(); ++i) {
        if (!vecs[i]) {
          return Status::Corruption("collection \"" + record_.name + "\": document " +
                                    QuoteId(batch[i].id) + " has no vector");
        }
        FE_ASSIGN_OR_RETURN(batch[i].vector, storage::DecodeVector(*vecs[i], record_.dim));
      }
    }
    FE_RETURN_IF_ERROR(visit(batch));
    batch.clear();
    slot_keys.clear();
    return Status::OK();
  };
  Status inner;
  FE_RETURN_IF_ERROR(store_->Scan(
      storage::Cf::kDocuments, storage::CollectionPrefix(cid), storage::CollectionEnd(cid),
      [&](std::string_view key, std::string_view value) {
        auto rec = storage::DecodeDocument(value);
        if (!rec.ok()) {
          inner = rec.status();
          return false;
        }
        auto id = IdFromPart(rec->id_key);
        if (!id.ok()) {
          inner = id.status();
          return false;
        }
        Document d;
        d.id = std::move(id).value();
        if (options.with_text) d.text = std::move(rec->text);
        d.metadata = options.with_metadata ? std::move(rec->metadata) : std::string("{}");
        batch.push_back(std::move(d));
        slot_keys.emplace_back(key);
        if (batch.size() < options.batch) return true;
        inner = flush();
        return inner.ok();
      },
      &view));
  FE_RETURN_IF_ERROR(inner);
  return flush();
}

Status CollectionImpl::ScanDocuments(
    bool with_vector, const std::function<Status(const DocumentInfo&)>& visit) const {
  {
    std::shared_lock<RwMutex> lock(index_mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
  }
  const uint32_t cid = record_.cid;
  const storage::ReadView view = store_->NewReadView();
  Status inner;
  FE_RETURN_IF_ERROR(store_->Scan(
      storage::Cf::kSources, storage::CollectionPrefix(cid), storage::CollectionEnd(cid),
      [&](std::string_view key, std::string_view value) {
        auto rec = storage::DecodeSource(value);
        if (!rec.ok()) {
          inner = rec.status();
          return false;
        }
        inner = visit(InfoFromRecord(std::string(storage::SourceIdFromKey(key)),
                                     std::move(rec).value(), with_vector));
        return inner.ok();
      },
      &view));
  return inner;
}

Status CollectionImpl::RestoreDocuments(const WriteOptions& options,
                                        std::span<const Document> chunks,
                                        std::span<const DocumentInfo> documents) {
  if (chunks.empty() && documents.empty()) return Status::OK();
  FE_RETURN_IF_ERROR(CheckWritable());
  const uint32_t cid = record_.cid;
  const size_t dim = record_.dim;
  // Which record is which chunk.
  std::unordered_map<std::string, size_t> by_id;
  for (size_t i = 0; i < chunks.size(); ++i) {
    if (!chunks[i].id.is_string()) {
      return Status::InvalidArgument("record " + QuoteId(chunks[i].id) +
                                     " is not a chunk: chunk ids are strings \"<document>#<n>\"");
    }
    if (!by_id.emplace(chunks[i].id.as_string(), i).second) {
      return Status::InvalidArgument("chunk " + QuoteId(chunks[i].id) + " appears twice");
    }
    if (chunks[i].vector.size() != dim) {
      return Status::InvalidArgument(
          fmt::format("chunk {} needs its vector of {} values", QuoteId(chunks[i].id), dim));
    }
  }
  std::vector<storage::SourceRecord> records(documents.size());
  std::unordered_set<std::string_view> doc_ids;
  size_t claimed = 0;
  for (size_t d = 0; d < documents.size(); ++d) {
    const DocumentInfo& info = documents[d];
    const std::string where = "document \"" + info.id.substr(0, 200) + "\"";
    if (info.id.empty() || info.id.size() > 4096 || info.id.find('\0') != std::string::npos) {
      return Status::InvalidArgument(where + ": bad document id");
    }
    if (!doc_ids.insert(info.id).second) {
      return Status::InvalidArgument(where + ": appears twice");
    }
    auto hash = FromHex(info.content_hash);
    if (!hash) return Status::InvalidArgument(where + ": content_hash must be 32 hex digits");
    if (info.vector.size() != dim) {
      return Status::InvalidArgument(fmt::format("{}: its pooled vector needs {} values, got {}",
                                                 where, dim, info.vector.size()));
    }
    // Pooled vectors are scored against queries like any other vector.
    if (Status s = ValidateVector(info.vector, SchemaOf(record_).metric); !s.ok()) {
      return Status::InvalidArgument(where + ": its pooled " + s.message());
    }
    if (info.chunks.empty()) return Status::InvalidArgument(where + ": has no chunks");
    Result<nlohmann::json> parsed = ParseMetadata(info.metadata);
    if (!parsed.ok()) return Status::InvalidArgument(where + ": " + parsed.status().message());
    const nlohmann::json meta = std::move(parsed).value();
    if (meta.contains("doc") || meta.contains("chunk")) {
      return Status::InvalidArgument(where +
                                     ": metadata must be a JSON object without the "
                                     "reserved keys \"doc\" and \"chunk\"");
    }
    storage::SourceRecord& r = records[d];
    r.source = info.source;
    r.title = info.title;
    r.metadata = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    r.content_hash = *hash;
    r.bytes = info.bytes;
    r.chunk_tokens = info.chunk_tokens;
    r.overlap_tokens = info.overlap_tokens;
    r.updated_unix_ms = info.updated_unix_ms != 0
                            ? info.updated_unix_ms
                            : std::chrono::duration_cast<std::chrono::milliseconds>(
                                  std::chrono::system_clock::now().time_since_epoch())
                                  .count();
    r.vector = info.vector;
    for (size_t c = 0; c < info.chunks.size(); ++c) {
      const ChunkInfo& ci = info.chunks[c];
      const std::string chunk_id = ChunkIdString(info.id, c);
      auto it = by_id.find(chunk_id);
      if (ci.ordinal != c || it == by_id.end()) {
        return Status::InvalidArgument(where + ": chunk \"" + chunk_id + "\" is missing");
      }
      const Document& chunk = chunks[it->second];
      Result<nlohmann::json> chunk_meta = ParseMetadata(chunk.metadata);
      if (!chunk_meta.ok()) {
        return Status::InvalidArgument("chunk \"" + chunk_id +
                                       "\": " + chunk_meta.status().message());
      }
      nlohmann::json& cm = *chunk_meta;
      const bool matches = cm.contains("doc") && cm["doc"].is_object() &&
                           cm["doc"].value("id", nlohmann::json()) == info.id &&
                           cm.contains("chunk") && cm["chunk"].is_object() &&
                           cm["chunk"].value("n", nlohmann::json()) == c &&
                           cm["chunk"].value("begin", nlohmann::json()) == ci.begin &&
                           cm["chunk"].value("end", nlohmann::json()) == ci.end;
      if (!matches || ci.end < ci.begin || ci.end > info.bytes) {
        return Status::InvalidArgument(
            fmt::format("chunk \"{}\": its metadata \"doc\" / \"chunk\" do not match {}'s chunk {}",
                        chunk_id, where, c));
      }
      r.chunks.push_back({ci.begin, ci.end, ci.tokens, Hash64(chunk.text)});
      ++claimed;
    }
    r.version_hash = VersionHash(r);
  }
  if (claimed != chunks.size()) {
    for (const Document& chunk : chunks) {
      const std::string& id = chunk.id.as_string();
      const size_t hash = id.rfind('#');
      if (hash == std::string::npos || !doc_ids.count(std::string_view(id).substr(0, hash))) {
        return Status::InvalidArgument("record \"" + id +
                                       "\" is not a chunk of any of the documents restored");
      }
    }
  }
  FE_ASSIGN_OR_RETURN(StagedWrite staged, Stage(chunks));

  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  FE_RETURN_IF_ERROR(index_broken_);
  std::vector<std::string> keys;
  for (const DocumentInfo& info : documents) keys.push_back(storage::SourceKey(cid, info.id));
  FE_ASSIGN_OR_RETURN(auto current, store_->MultiGet(storage::Cf::kSources, keys));
  ChunkIdChanges changes;
  size_t added = 0;
  for (size_t d = 0; d < documents.size(); ++d) {
    size_t old_chunks = 0;
    if (current[d]) {
      FE_ASSIGN_OR_RETURN(storage::SourceRecord old, storage::DecodeSource(*current[d]));
      old_chunks = old.chunks.size();
    } else {
      ++added;
    }
    AddChunkIdChanges(documents[d].id, old_chunks, documents[d].chunks.size(), &changes);
  }
  FE_RETURN_IF_ERROR(CheckNewChunkIdsFree(changes));
  auto extra = [&](storage::WriteBatch* batch) {
    for (size_t d = 0; d < documents.size(); ++d) {
      batch->Put(storage::Cf::kSources, keys[d], storage::EncodeSource(records[d]));
    }
  };
  FE_RETURN_IF_ERROR(
      CommitLocked(options, chunks, staged, /*upsert=*/true, changes.remove_parts, extra));
  if (source_count_.load() >= 0) source_count_ += static_cast<int64_t>(added);
  for (size_t d = 0; d < documents.size(); ++d) UpdateSourceTable(documents[d].id, &records[d]);
  return Status::OK();
}

}  // namespace flashembed::query

namespace flashembed {

Status ScanOptions::Validate() const {
  if (batch < 1 || batch > query::kMaxScanBatch) {
    return Status::InvalidArgument(
        fmt::format("ScanOptions::batch must be 1..{}, got {}", query::kMaxScanBatch, batch));
  }
  return Status::OK();
}

}  // namespace flashembed
