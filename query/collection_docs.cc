// Long documents: PutDocuments, GetDocument, DeleteDocuments,
// CountDocuments, and the chunk / encode / commit steps an ingest runs as
// pipeline stages (query/ingest.cc). Document search is in
// collection_docs_search.cc.
//
// A document's chunks are ordinary records (ids "<id>#<n>") whose metadata
// holds the document's metadata plus "doc" and "chunk"; its record in the
// `sources` family lists the chunks and holds the pooled vector. Both are
// written in one batch, so a reader never sees a document without its
// chunks or chunks of two versions of one document.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
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

constexpr size_t kMaxSourceIdBytes = 4096;
constexpr size_t kMaxSourceFieldBytes = 4096;

std::string Where(const SourceDocument& doc) {
  std::string w = "document \"" + doc.id.substr(0, 200) + "\"";
  if (!doc.source.empty() && doc.source != doc.id) w += " (" + doc.source.substr(0, 200) + ")";
  return w;
}

int64_t NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// The document id a chunk id part ('s' + "<doc>#<digits>") belongs to, or
// nullopt for any other id part.
std::optional<std::string_view> ChunkOwner(std::string_view id_part) {
  if (id_part.size() < 3 || id_part[0] != 's') return std::nullopt;
  const size_t hash = id_part.rfind('#');
  if (hash == std::string_view::npos || hash < 2 || hash + 1 == id_part.size()) {
    return std::nullopt;
  }
  for (size_t i = hash + 1; i < id_part.size(); ++i) {
    if (id_part[i] < '0' || id_part[i] > '9') return std::nullopt;
  }
  return id_part.substr(1, hash - 1);
}

}  // namespace

std::string ChunkIdString(std::string_view doc_id, size_t ordinal) {
  std::string id(doc_id);
  id += '#';
  id += std::to_string(ordinal);
  return id;
}

void PooledVector(std::span<const float> vectors, std::span<const uint32_t> tokens, size_t dim,
                  std::vector<float>* out) {
  out->assign(dim, 0.0f);
  std::vector<double> sum(dim, 0.0);
  double weight = 0;
  for (size_t c = 0; c < tokens.size(); ++c) {
    const double w = std::max<uint32_t>(tokens[c], 1);
    weight += w;
    for (size_t j = 0; j < dim; ++j) sum[j] += w * vectors[c * dim + j];
  }
  double norm = 0;
  for (double& v : sum) {
    v /= weight > 0 ? weight : 1;
    norm += v * v;
  }
  norm = std::sqrt(norm);
  for (size_t j = 0; j < dim; ++j) (*out)[j] = static_cast<float>(norm > 0 ? sum[j] / norm : 0);
}

Status CollectionImpl::RefuseChunkIds(const std::vector<std::string>& id_parts) const {
  std::vector<std::string> keys;
  std::vector<size_t> which;
  for (size_t i = 0; i < id_parts.size(); ++i) {
    auto owner = ChunkOwner(id_parts[i]);
    if (!owner) continue;
    keys.push_back(storage::SourceKey(record_.cid, *owner));
    which.push_back(i);
  }
  if (keys.empty()) return Status::OK();
  // Collections without long documents (the usual case for ids such as
  // "page#3") answer from the count, counted once.
  FE_ASSIGN_OR_RETURN(const uint64_t documents, CountSourcesLocked());
  if (documents == 0) return Status::OK();
  FE_ASSIGN_OR_RETURN(auto found, store_->MultiGet(storage::Cf::kSources, keys));
  for (size_t k = 0; k < keys.size(); ++k) {
    if (!found[k]) continue;
    const std::string& part = id_parts[which[k]];
    return Status::InvalidArgument(
        "id \"" + part.substr(1) + "\" is a chunk of document \"" +
        std::string(storage::SourceIdFromKey(keys[k])) + "\" in collection \"" + record_.name +
        "\"; chunks change only with their document (PutDocuments / DeleteDocuments)");
  }
  return Status::OK();
}

Result<std::shared_ptr<const encoders::Chunker>> CollectionImpl::MakeChunker(
    const ChunkingOptions& chunking) const {
  if (!encoder_) {
    return Status::NotSupported("collection \"" + record_.name +
                                "\" has no encoder: long documents need one to be chunked and "
                                "embedded");
  }
  encoders::ChunkOptions options;
  options.chunk_tokens = chunking.chunk_tokens;
  options.overlap_tokens = chunking.overlap_tokens;
  FE_ASSIGN_OR_RETURN(encoders::Chunker chunker, encoders::Chunker::Create(*encoder_, options));
  return std::make_shared<const encoders::Chunker>(std::move(chunker));
}

std::string CollectionImpl::VersionHash(const storage::SourceRecord& r) const {
  // Everything that shapes the stored chunks, length-prefixed.
  std::string shape;
  for (std::string_view part :
       {std::string_view(r.content_hash), std::string_view(r.source), std::string_view(r.title),
        std::string_view(r.metadata), std::string_view(record_.encoder_spec),
        std::string_view(record_.document_prefix)}) {
    shape += fmt::format("{}:", part.size());
    shape += part;
  }
  shape += fmt::format("{}/{}", r.chunk_tokens, r.overlap_tokens);
  return Hash128(shape, 1);
}

DocumentInfo CollectionImpl::InfoFromRecord(std::string id, storage::SourceRecord r,
                                            bool with_vector) {
  DocumentInfo info;
  info.id = std::move(id);
  info.source = std::move(r.source);
  info.title = std::move(r.title);
  info.metadata = std::move(r.metadata);
  info.content_hash = Hex(r.content_hash);
  info.bytes = r.bytes;
  info.chunk_tokens = r.chunk_tokens;
  info.overlap_tokens = r.overlap_tokens;
  info.updated_unix_ms = r.updated_unix_ms;
  info.chunks.reserve(r.chunks.size());
  for (size_t c = 0; c < r.chunks.size(); ++c) {
    info.chunks.push_back(
        {static_cast<uint32_t>(c), r.chunks[c].begin, r.chunks[c].end, r.chunks[c].tokens});
    info.tokens += r.chunks[c].tokens;
  }
  if (with_vector) info.vector = std::move(r.vector);
  return info;
}

Result<CollectionImpl::PreparedSource> CollectionImpl::PrepareSource(
    SourceDocument doc, const encoders::Chunker& chunker) const {
  FE_RETURN_IF_ERROR(CheckOpen());
  if (doc.id.empty() || doc.id.size() > kMaxSourceIdBytes) {
    return Status::InvalidArgument(
        fmt::format("document id must be 1..{} bytes, got {}", kMaxSourceIdBytes, doc.id.size()));
  }
  if (doc.id.find('\0') != std::string::npos) {
    return Status::InvalidArgument(Where(doc) + ": document id contains a NUL byte");
  }
  if (doc.source.size() > kMaxSourceFieldBytes || doc.title.size() > kMaxSourceFieldBytes) {
    return Status::InvalidArgument(fmt::format("{}: source and title may have at most {} bytes",
                                               Where(doc), kMaxSourceFieldBytes));
  }
  Result<nlohmann::json> parsed = ParseMetadata(doc.metadata);
  if (!parsed.ok()) {
    return Status(parsed.status().code(), Where(doc) + ": " + parsed.status().message());
  }
  nlohmann::json meta = std::move(parsed).value();
  for (const char* reserved : {"doc", "chunk"}) {
    if (meta.contains(reserved)) {
      return Status::InvalidArgument(Where(doc) + ": metadata key \"" + reserved +
                                     "\" is reserved for the chunks' document and position");
    }
  }
  const uint32_t cid = record_.cid;
  const size_t dim = record_.dim;
  PreparedSource p;
  storage::SourceRecord& r = p.record;
  r.source = doc.source;
  r.title = doc.title;
  r.metadata = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  r.content_hash = Hash128(doc.text, 0);
  r.bytes = doc.text.size();
  r.chunk_tokens = static_cast<uint32_t>(chunker.chunk_tokens());
  r.overlap_tokens = static_cast<uint32_t>(chunker.overlap_tokens());
  r.version_hash = VersionHash(r);

  // The stored version, if any.
  std::optional<storage::SourceRecord> old;
  {
    auto bytes = store_->Get(storage::Cf::kSources, storage::SourceKey(cid, doc.id));
    if (bytes.ok()) {
      FE_ASSIGN_OR_RETURN(old, storage::DecodeSource(*bytes));
      p.had_old = true;
      p.old_version = old->version_hash;
      p.old_chunks = static_cast<uint32_t>(old->chunks.size());
    } else if (bytes.status().code() != StatusCode::kNotFound) {
      return bytes.status();
    }
  }
  if (old && old->version_hash == r.version_hash) {
    p.result.outcome = PutDocumentResult::Outcome::kUnchanged;
    p.result.chunks = old->chunks.size();
    for (const auto& c : old->chunks) p.result.tokens += c.tokens;
    p.doc = std::move(doc);
    return p;
  }

  auto chunks = chunker.Split(doc.text);
  if (!chunks.ok()) {
    return Status(chunks.status().code(), Where(doc) + ": " + chunks.status().message());
  }
  p.chunks = std::move(chunks).value();
  if (p.chunks.empty()) {
    return Status::InvalidArgument(Where(doc) + ": the text has no words (empty or whitespace)");
  }
  r.chunks.resize(p.chunks.size());
  for (size_t c = 0; c < p.chunks.size(); ++c) {
    const encoders::Chunk& chunk = p.chunks[c];
    r.chunks[c] = {chunk.begin, chunk.end, static_cast<uint32_t>(chunk.token_count),
                   Hash64(chunk.text)};
    p.result.tokens += chunk.token_count;
  }
  p.result.outcome =
      old ? PutDocumentResult::Outcome::kReplaced : PutDocumentResult::Outcome::kAdded;
  p.result.chunks = p.chunks.size();

  // Vectors of stored chunks with the same text are re-used: the chunk text
  // alone (with the collection's fixed prefix and encoder) makes the vector.
  p.vectors.assign(p.chunks.size() * dim, 0.0f);
  std::vector<bool> have(p.chunks.size(), false);
  if (old) {
    std::unordered_multimap<uint64_t, size_t> by_hash;  // old text hash -> old ordinal
    for (size_t o = 0; o < old->chunks.size(); ++o) by_hash.emplace(old->chunks[o].text_hash, o);
    std::vector<Id> wanted;
    std::vector<size_t> for_chunk;
    for (size_t c = 0; c < r.chunks.size(); ++c) {
      auto it = by_hash.find(r.chunks[c].text_hash);
      if (it == by_hash.end()) continue;
      wanted.emplace_back(ChunkIdString(doc.id, it->second));
      for_chunk.push_back(c);
    }
    if (!wanted.empty()) {
      // GetMany skips repeats: map each distinct id back to its chunks.
      FE_ASSIGN_OR_RETURN(auto stored, GetMany(wanted, /*with_vector=*/true));
      std::unordered_map<std::string, const Document*> by_id;
      for (const Document& d : stored) by_id.emplace(d.id.ToString(), &d);
      for (size_t w = 0; w < wanted.size(); ++w) {
        auto it = by_id.find(wanted[w].as_string());
        const size_t c = for_chunk[w];
        if (it == by_id.end() || it->second->text != p.chunks[c].text ||
            it->second->vector.size() != dim) {
          continue;  // a hash collision, or the chunk is gone: encode it
        }
        std::copy(it->second->vector.begin(), it->second->vector.end(),
                  p.vectors.begin() + c * dim);
        have[c] = true;
      }
    }
  }
  for (size_t c = 0; c < p.chunks.size(); ++c) {
    if (!have[c]) p.to_encode.push_back(c);
  }
  p.doc = std::move(doc);
  return p;
}

Status CollectionImpl::EncodeSources(std::span<PreparedSource* const> docs) const {
  const size_t dim = record_.dim;
  std::vector<std::string> prefixed;
  std::vector<std::string_view> texts;
  for (PreparedSource* p : docs) {
    for (size_t c : p->to_encode) {
      if (record_.document_prefix.empty()) {
        texts.push_back(p->chunks[c].text);
      } else {
        prefixed.push_back(record_.document_prefix + p->chunks[c].text);
      }
    }
  }
  if (!record_.document_prefix.empty()) texts.assign(prefixed.begin(), prefixed.end());
  if (!texts.empty()) {
    std::vector<float> encoded(texts.size() * dim);
    Status s = encoder_->Encode(texts, encoded);
    if (!s.ok()) {
      // Chunks are valid UTF-8 with words, so this is rare: name a document.
      for (PreparedSource* p : docs) {
        if (!p->to_encode.empty()) return Status(s.code(), Where(p->doc) + ": " + s.message());
      }
      return s;
    }
    size_t row = 0;
    for (PreparedSource* p : docs) {
      for (size_t c : p->to_encode) {
        std::copy(encoded.begin() + row * dim, encoded.begin() + (row + 1) * dim,
                  p->vectors.begin() + c * dim);
        ++row;
      }
      p->result.chunks_encoded = p->to_encode.size();
    }
  }
  for (PreparedSource* p : docs) {
    p->to_encode.clear();
    if (p->result.outcome == PutDocumentResult::Outcome::kUnchanged) continue;
    std::vector<uint32_t> tokens;
    tokens.reserve(p->record.chunks.size());
    for (const auto& c : p->record.chunks) tokens.push_back(c.tokens);
    PooledVector(p->vectors, tokens, dim, &p->record.vector);
  }
  return Status::OK();
}

Status CollectionImpl::CommitSources(const WriteOptions& options, const encoders::Chunker& chunker,
                                     std::span<PreparedSource* const> docs) {
  const uint32_t cid = record_.cid;
  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  FE_RETURN_IF_ERROR(index_broken_);
  {
    std::unordered_set<std::string_view> seen;
    for (PreparedSource* p : docs) {
      if (!seen.insert(p->doc.id).second) {
        return Status::InvalidArgument(Where(p->doc) + ": appears twice in one write");
      }
    }
  }
  // Re-check what each document was prepared against: another writer may
  // have changed it since. Such a document is prepared again, here.
  std::vector<std::string> source_keys;
  source_keys.reserve(docs.size());
  for (PreparedSource* p : docs) source_keys.push_back(storage::SourceKey(cid, p->doc.id));
  FE_ASSIGN_OR_RETURN(auto current, store_->MultiGet(storage::Cf::kSources, source_keys));
  for (size_t i = 0; i < docs.size(); ++i) {
    PreparedSource* p = docs[i];
    std::optional<storage::SourceRecord> now;
    if (current[i]) {
      FE_ASSIGN_OR_RETURN(now, storage::DecodeSource(*current[i]));
    }
    const bool same =
        now.has_value() == p->had_old && (!now || now->version_hash == p->old_version);
    if (same) continue;
    // Changed by another writer since it was prepared: prepare it again, here
    // (rare; encoding under the write lock holds other writers meanwhile).
    FE_ASSIGN_OR_RETURN(PreparedSource again, PrepareSource(p->doc, chunker));
    PreparedSource* one[] = {&again};
    FE_RETURN_IF_ERROR(EncodeSources(one));
    *p = std::move(again);
  }

  std::vector<Document> chunk_docs;
  ChunkIdChanges changes;
  std::vector<const PreparedSource*> written;
  const int64_t now_ms = NowMs();
  for (PreparedSource* p : docs) {
    if (p->result.outcome == PutDocumentResult::Outcome::kUnchanged) continue;
    written.push_back(p);
    p->record.updated_unix_ms = now_ms;
    nlohmann::json meta = nlohmann::json::parse(p->record.metadata);
    meta["doc"] = {{"id", p->doc.id}, {"source", p->record.source}, {"title", p->record.title}};
    for (size_t c = 0; c < p->chunks.size(); ++c) {
      encoders::Chunk& chunk = p->chunks[c];
      meta["chunk"] = {
          {"n", c}, {"begin", chunk.begin}, {"end", chunk.end}, {"tokens", chunk.token_count}};
      Document d;
      d.id = ChunkIdString(p->doc.id, c);
      d.text = std::move(chunk.text);
      d.metadata = meta.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
      d.vector.assign(p->vectors.begin() + c * record_.dim,
                      p->vectors.begin() + (c + 1) * record_.dim);
      chunk_docs.push_back(std::move(d));
    }
    AddChunkIdChanges(p->doc.id, p->old_chunks, p->chunks.size(), &changes);
  }
  if (written.empty()) return Status::OK();
  FE_RETURN_IF_ERROR(CheckNewChunkIdsFree(changes));
  FE_ASSIGN_OR_RETURN(StagedWrite staged, Stage(chunk_docs));
  size_t added = 0;
  auto extra = [&](storage::WriteBatch* batch) {
    for (const PreparedSource* p : written) {
      batch->Put(storage::Cf::kSources, storage::SourceKey(cid, p->doc.id),
                 storage::EncodeSource(p->record));
      if (!p->had_old) ++added;
    }
  };
  FE_RETURN_IF_ERROR(
      CommitLocked(options, chunk_docs, staged, /*upsert=*/true, changes.remove_parts, extra));
  if (source_count_.load() >= 0) source_count_ += static_cast<int64_t>(added);
  for (const PreparedSource* p : written) UpdateSourceTable(p->doc.id, &p->record);
  return Status::OK();
}

Result<std::vector<PutDocumentResult>> CollectionImpl::PutDocuments(
    const WriteOptions& options, const ChunkingOptions& chunking,
    std::span<const SourceDocument> docs) {
  FE_RETURN_IF_ERROR(CheckOpen());
  FE_RETURN_IF_ERROR(CheckWritable());
  FE_ASSIGN_OR_RETURN(auto chunker, MakeChunker(chunking));
  {
    std::unordered_set<std::string_view> seen;
    for (const SourceDocument& d : docs) {
      if (!seen.insert(d.id).second) {
        return Status::InvalidArgument(Where(d) + ": appears twice in the call");
      }
    }
  }
  std::vector<PreparedSource> prepared;
  prepared.reserve(docs.size());
  for (const SourceDocument& d : docs) {
    FE_ASSIGN_OR_RETURN(PreparedSource p, PrepareSource(d, *chunker));
    prepared.push_back(std::move(p));
  }
  std::vector<PreparedSource*> ptrs;
  for (PreparedSource& p : prepared) ptrs.push_back(&p);
  FE_RETURN_IF_ERROR(EncodeSources(ptrs));
  FE_RETURN_IF_ERROR(CommitSources(options, *chunker, ptrs));
  std::vector<PutDocumentResult> results;
  results.reserve(prepared.size());
  for (const PreparedSource& p : prepared) results.push_back(p.result);
  return results;
}

Result<DocumentInfo> CollectionImpl::GetDocument(std::string_view id, bool with_vector) const {
  FE_RETURN_IF_ERROR(CheckOpen());
  auto bytes = store_->Get(storage::Cf::kSources, storage::SourceKey(record_.cid, id));
  if (!bytes.ok()) {
    if (bytes.status().code() == StatusCode::kNotFound) {
      return Status::NotFound("no document \"" + std::string(id) + "\" in collection \"" +
                              record_.name + "\"");
    }
    return bytes.status();
  }
  FE_ASSIGN_OR_RETURN(storage::SourceRecord r, storage::DecodeSource(*bytes));
  return InfoFromRecord(std::string(id), std::move(r), with_vector);
}

Result<size_t> CollectionImpl::DeleteDocuments(const WriteOptions& options,
                                               std::span<const std::string> ids) {
  if (ids.empty()) return size_t{0};
  FE_RETURN_IF_ERROR(CheckWritable());
  const uint32_t cid = record_.cid;
  std::vector<std::string> keys;
  {
    std::unordered_set<std::string_view> seen;
    for (const std::string& id : ids) {
      if (seen.insert(id).second) keys.push_back(storage::SourceKey(cid, id));
    }
  }
  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  FE_RETURN_IF_ERROR(index_broken_);
  FE_ASSIGN_OR_RETURN(auto found, store_->MultiGet(storage::Cf::kSources, keys));
  ChunkIdChanges changes;
  std::vector<std::string> doomed;
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!found[i]) continue;
    FE_ASSIGN_OR_RETURN(storage::SourceRecord r, storage::DecodeSource(*found[i]));
    AddChunkIdChanges(storage::SourceIdFromKey(keys[i]), r.chunks.size(), 0, &changes);
    doomed.push_back(keys[i]);
  }
  if (doomed.empty()) return size_t{0};
  auto extra = [&](storage::WriteBatch* batch) {
    for (const std::string& key : doomed) batch->Delete(storage::Cf::kSources, key);
  };
  FE_RETURN_IF_ERROR(
      CommitLocked(options, {}, StagedWrite{}, /*upsert=*/true, changes.remove_parts, extra));
  if (source_count_.load() >= 0) source_count_ -= static_cast<int64_t>(doomed.size());
  for (const std::string& key : doomed) {
    UpdateSourceTable(std::string(storage::SourceIdFromKey(key)), nullptr);
  }
  return doomed.size();
}

void CollectionImpl::AddChunkIdChanges(std::string_view doc_id, size_t old_chunks,
                                       size_t new_chunks, ChunkIdChanges* changes) const {
  for (size_t c = new_chunks; c < old_chunks; ++c) {
    changes->remove_parts.push_back(IdPart(Id(ChunkIdString(doc_id, c))));
  }
  for (size_t c = old_chunks; c < new_chunks; ++c) {
    changes->new_keys.push_back(storage::IdKey(record_.cid, IdPart(Id(ChunkIdString(doc_id, c)))));
  }
}

Status CollectionImpl::CheckNewChunkIdsFree(const ChunkIdChanges& changes) const {
  FE_ASSIGN_OR_RETURN(auto taken, store_->MultiGet(storage::Cf::kIds, changes.new_keys));
  for (size_t i = 0; i < taken.size(); ++i) {
    if (!taken[i]) continue;
    return Status::AlreadyExists("id \"" + changes.new_keys[i].substr(5) + "\" in collection \"" +
                                 record_.name +
                                 "\" is taken by a record that is not a chunk of its document");
  }
  return Status::OK();
}

Status CollectionImpl::SyncWrites() {
  FE_RETURN_IF_ERROR(CheckOpen());
  return store_->SyncWal();
}

Result<uint64_t> CollectionImpl::CountDocuments() const {
  FE_RETURN_IF_ERROR(CheckOpen());
  const int64_t known = source_count_.load();
  if (known >= 0) return static_cast<uint64_t>(known);
  // Counted once, holding the writers off so no write slips between the
  // scan and publishing the count; writes keep it current afterwards.
  std::lock_guard<std::mutex> lock(write_mu_);
  return CountSourcesLocked();
}

Result<uint64_t> CollectionImpl::CountSourcesLocked() const {
  if (source_count_.load() >= 0) return static_cast<uint64_t>(source_count_.load());
  FE_ASSIGN_OR_RETURN(const uint64_t n, CountSources(*store_, record_.cid));
  source_count_ = static_cast<int64_t>(n);
  return n;
}

Result<uint64_t> CollectionImpl::CountSources(const storage::Store& store, uint32_t cid) {
  uint64_t n = 0;
  FE_RETURN_IF_ERROR(store.Scan(storage::Cf::kSources, storage::CollectionPrefix(cid),
                                storage::CollectionEnd(cid),
                                [&](std::string_view, std::string_view) {
                                  ++n;
                                  return true;
                                }));
  return n;
}

}  // namespace flashembed::query
