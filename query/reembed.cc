// Re-embedding (Database::Reembed): the rounds that fill a collection's
// hidden copy under a new encoder, and the last round before the switch.
//
// The copy is filled from consistent read views of this collection. A
// round copies the records whose slot is new since the last round (every
// write gives a record a new slot, never re-used), removes from the copy
// the records and documents deleted since, and cuts and embeds again the
// long documents whose version changed. The first round of a resumed run
// compares the copy's contents instead, so what an interrupted run copied
// is not embedded again.
#include <algorithm>
#include <chrono>
#include <limits>
#include <mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include <fmt/format.h>

#include "query/collection_impl.h"
#include "query/filter_rows.h"
#include "query/image_input.h"
#include "query/text_index.h"

namespace flashembed::query {
namespace {

// A round leaving at most this much to carry over is followed by the last
// round, with writes held back.
constexpr uint64_t kQuietRound = 256;
// Rounds before the last one is run regardless.
constexpr uint32_t kMaxOpenRounds = 8;
constexpr uint64_t kUnknownSlot = std::numeric_limits<uint64_t>::max();

// A long document's text, rebuilt from its chunks' texts at their offsets.
// The chunks cover the text from the first chunk's start to the last one's
// end without gaps (encoders/chunker.h); bytes outside them are characters
// the old encoder did not read (whitespace, mostly) and become spaces, so
// every offset stays that of the original text.
Result<std::string> RebuildText(const storage::SourceRecord& r,
                                const std::vector<std::string>& chunk_texts,
                                std::string_view doc_id) {
  std::string text(r.bytes, ' ');
  uint64_t covered = 0;
  for (size_t i = 0; i < r.chunks.size(); ++i) {
    const storage::SourceChunk& c = r.chunks[i];
    if (c.end < c.begin || c.end > r.bytes || chunk_texts[i].size() != c.end - c.begin ||
        (i > 0 && c.begin > covered)) {
      return Status::Corruption(fmt::format(
          "long document \"{}\": chunk {} does not fit the document's text", doc_id, i));
    }
    text.replace(c.begin, c.end - c.begin, chunk_texts[i]);
    covered = std::max(covered, c.end);
  }
  return text;
}

}  // namespace

struct CollectionImpl::ReembedRun {
  CollectionImpl* to = nullptr;
  const ReembedOptions* options = nullptr;
  ReembedSummary* summary = nullptr;
  std::shared_ptr<const encoders::Chunker> chunker;  // the copy's
  // Records in the copy (id part -> the slot here it was copied from;
  // kUnknownSlot: found in the copy at a resume, not compared yet).
  std::unordered_map<std::string, uint64_t> records;
  // Long documents in the copy (id -> version_hash here; "" : found in the
  // copy at a resume, not compared yet).
  std::unordered_map<std::string, std::string> documents;
  uint64_t next_slot = 0;  // records at slots below it were seen
  ReembedProgress progress;

  void Report() const {
    if (options->progress) options->progress(progress);
  }
};

namespace {

// Long documents of collection `cid` as of `view`, by id.
Status ReadSources(const storage::Store& store, uint32_t cid, const storage::ReadView* view,
                   std::unordered_map<std::string, storage::SourceRecord>* out) {
  Status inner;
  FE_RETURN_IF_ERROR(store.Scan(
      storage::Cf::kSources, storage::CollectionPrefix(cid), storage::CollectionEnd(cid),
      [&](std::string_view key, std::string_view value) {
        auto r = storage::DecodeSource(value);
        if (!r.ok()) {
          inner = r.status();
          return false;
        }
        out->emplace(std::string(storage::SourceIdFromKey(key)), std::move(r).value());
        return true;
      },
      view));
  return inner;
}

// The id parts of the chunk records of `sources`.
std::unordered_set<std::string> ChunkIdParts(
    const std::unordered_map<std::string, storage::SourceRecord>& sources) {
  std::unordered_set<std::string> out;
  for (const auto& [id, r] : sources) {
    for (size_t i = 0; i < r.chunks.size(); ++i) out.insert(IdPart(Id(ChunkIdString(id, i))));
  }
  return out;
}

// Every (id part, slot) of collection `cid` as of `view`.
Status ReadIds(const storage::Store& store, uint32_t cid, const storage::ReadView* view,
               std::unordered_map<std::string, uint64_t>* out) {
  Status inner;
  FE_RETURN_IF_ERROR(store.Scan(
      storage::Cf::kIds, storage::CollectionPrefix(cid), storage::CollectionEnd(cid),
      [&](std::string_view key, std::string_view value) {
        auto slot = storage::DecodeSlot(value);
        if (!slot.ok()) {
          inner = slot.status();
          return false;
        }
        out->emplace(std::string(storage::IdPartFromKey(key)), *slot);
        return true;
      },
      view));
  return inner;
}

// The stored records (text, metadata) of `id_parts` in collection `cid`;
// nullopt for missing ones.
Result<std::vector<std::optional<storage::DocumentRecord>>> ReadRecords(
    const storage::Store& store, uint32_t cid, const std::vector<std::string>& id_parts,
    const storage::ReadView* view) {
  std::vector<std::string> keys;
  keys.reserve(id_parts.size());
  for (const std::string& part : id_parts) keys.push_back(storage::IdKey(cid, part));
  FE_ASSIGN_OR_RETURN(auto slots, store.MultiGet(storage::Cf::kIds, keys, view));
  std::vector<std::string> slot_keys;
  std::vector<size_t> where;
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!slots[i]) continue;
    FE_ASSIGN_OR_RETURN(uint64_t slot, storage::DecodeSlot(*slots[i]));
    slot_keys.push_back(storage::SlotKey(cid, slot));
    where.push_back(i);
  }
  FE_ASSIGN_OR_RETURN(auto values, store.MultiGet(storage::Cf::kDocuments, slot_keys, view));
  std::vector<std::optional<storage::DocumentRecord>> out(id_parts.size());
  for (size_t j = 0; j < values.size(); ++j) {
    if (!values[j]) continue;
    FE_ASSIGN_OR_RETURN(out[where[j]], storage::DecodeDocument(*values[j]));
  }
  return out;
}

}  // namespace

Status CollectionImpl::ReembedRecords(ReembedRun* run, const storage::ReadView& view,
                                      const std::unordered_set<std::string>& chunk_parts,
                                      const std::unordered_map<std::string, uint64_t>& ids) {
  CollectionImpl* to = run->to;
  const uint32_t cid = record_.cid;
  const WriteOptions no_sync{.sync = false};
  // Copies deleted here since: in the copy, not (or at another slot, then
  // re-copied below) in this collection.
  std::vector<Id> doomed;
  for (const auto& [part, slot] : run->records) {
    if (ids.count(part) == 0) {
      FE_ASSIGN_OR_RETURN(Id id, IdFromPart(part));
      doomed.push_back(std::move(id));
    }
  }
  run->progress.records = 0;
  for (const auto& [part, slot] : ids) {
    if (slot >= run->next_slot && chunk_parts.count(part) == 0) ++run->progress.records;
  }
  run->Report();
  for (size_t i = 0; i < doomed.size(); i += run->options->batch) {
    const size_t n = std::min(run->options->batch, doomed.size() - i);
    std::span<const Id> some(doomed.data() + i, n);
    FE_RETURN_IF_ERROR(to->Delete(no_sync, some).status());
    for (const Id& id : some) run->records.erase(IdPart(id));
    run->summary->removed += n;
  }
  // Records at new slots, streamed in slot order, a batch at a time.
  std::vector<std::pair<uint64_t, storage::DocumentRecord>> fresh;
  auto flush = [&]() -> Status {
    // A resumed run's copies: equal text and metadata need no new vector.
    std::vector<std::string> unknown;
    for (const auto& [slot, r] : fresh) {
      auto it = run->records.find(r.id_key);
      if (it != run->records.end() && it->second == kUnknownSlot) unknown.push_back(r.id_key);
    }
    std::unordered_set<std::string> same;
    if (!unknown.empty()) {
      FE_ASSIGN_OR_RETURN(auto copies, ReadRecords(*store_, to->record_.cid, unknown, nullptr));
      std::unordered_map<std::string_view, const storage::DocumentRecord*> by_id;
      for (const auto& [slot, r] : fresh) by_id.emplace(r.id_key, &r);
      for (size_t u = 0; u < unknown.size(); ++u) {
        const storage::DocumentRecord* r = by_id.at(unknown[u]);
        if (copies[u] && r->text == copies[u]->text && r->metadata == copies[u]->metadata) {
          same.insert(unknown[u]);
        }
      }
    }
    std::vector<Document> docs;
    for (auto& [slot, r] : fresh) {
      if (same.count(r.id_key) != 0) {
        run->records[r.id_key] = slot;
        ++run->summary->resumed;
        continue;
      }
      FE_ASSIGN_OR_RETURN(Id id, IdFromPart(r.id_key));
      FE_ASSIGN_OR_RETURN(std::optional<StoredImage> image, ReadStoredImage(r.text, r.metadata));
      if (image) {
        Document d;
        d.id = std::move(id);
        d.metadata = std::move(image->metadata);
        d.image = std::move(image->image);
        docs.push_back(std::move(d));
        continue;
      }
      if (IsBlankText(r.text)) {
        return Status::InvalidArgument("record " + QuoteId(id) +
                                       " has no text to embed again (it was written with a "
                                       "vector only); delete it or give it a text first");
      }
      Document d;
      d.id = std::move(id);
      d.text = std::move(r.text);
      d.metadata = std::move(r.metadata);
      docs.push_back(std::move(d));
    }
    if (!docs.empty()) {
      FE_RETURN_IF_ERROR(to->Upsert(no_sync, docs));
      for (const auto& [slot, r] : fresh) {
        if (same.count(r.id_key) == 0) run->records[r.id_key] = slot;
      }
      run->summary->records += docs.size();
    }
    run->progress.records_done += fresh.size();
    run->Report();
    fresh.clear();
    return Status::OK();
  };
  uint64_t max_slot = run->next_slot;
  Status inner;
  FE_RETURN_IF_ERROR(store_->Scan(
      storage::Cf::kDocuments, storage::SlotKey(cid, run->next_slot), storage::CollectionEnd(cid),
      [&](std::string_view key, std::string_view value) {
        const uint64_t slot = storage::SlotFromKey(key);
        max_slot = std::max(max_slot, slot + 1);
        auto r = storage::DecodeDocument(value);
        if (!r.ok()) {
          inner = r.status();
          return false;
        }
        if (chunk_parts.count(r->id_key) != 0) return true;
        fresh.emplace_back(slot, std::move(r).value());
        if (fresh.size() < run->options->batch) return true;
        inner = flush();
        return inner.ok();
      },
      &view));
  FE_RETURN_IF_ERROR(inner);
  FE_RETURN_IF_ERROR(flush());
  run->next_slot = max_slot;
  return Status::OK();
}

Status CollectionImpl::ReembedDocuments(
    ReembedRun* run, const storage::ReadView& view,
    const std::unordered_map<std::string, storage::SourceRecord>& sources) {
  CollectionImpl* to = run->to;
  const uint32_t cid = record_.cid;
  const WriteOptions no_sync{.sync = false};
  std::vector<std::string> doomed;
  for (const auto& [id, version] : run->documents) {
    if (sources.count(id) == 0) doomed.push_back(id);
  }
  std::vector<const std::pair<const std::string, storage::SourceRecord>*> changed;
  for (const auto& entry : sources) {
    auto it = run->documents.find(entry.first);
    if (it == run->documents.end() || it->second != entry.second.version_hash) {
      changed.push_back(&entry);
    }
  }
  // Sorted, so rounds and resumes go through documents in one order.
  std::sort(changed.begin(), changed.end(),
            [](const auto* a, const auto* b) { return a->first < b->first; });
  run->progress.documents = changed.size();
  run->progress.documents_done = 0;
  run->Report();
  if (!doomed.empty()) {
    FE_RETURN_IF_ERROR(to->DeleteDocuments(no_sync, doomed).status());
    for (const std::string& id : doomed) run->documents.erase(id);
    run->summary->removed += doomed.size();
  }
  const size_t batch = std::max<size_t>(1, run->options->batch / 4);
  for (size_t i = 0; i < changed.size(); i += batch) {
    const size_t n = std::min(batch, changed.size() - i);
    std::vector<PreparedSource> prepared;
    for (size_t j = i; j < i + n; ++j) {
      const std::string& id = changed[j]->first;
      const storage::SourceRecord& r = changed[j]->second;
      auto known = run->documents.find(id);
      if (known != run->documents.end() && known->second.empty()) {
        // Resumed: the copy holds this version if its content is the same.
        auto copy = to->store_->Get(storage::Cf::kSources, storage::SourceKey(to->record_.cid, id));
        if (copy.ok()) {
          FE_ASSIGN_OR_RETURN(storage::SourceRecord c, storage::DecodeSource(*copy));
          if (c.content_hash == r.content_hash && c.metadata == r.metadata && c.title == r.title &&
              c.source == r.source && c.chunk_tokens == run->chunker->chunk_tokens() &&
              c.overlap_tokens == run->chunker->overlap_tokens()) {
            known->second = r.version_hash;
            ++run->summary->resumed;
            continue;
          }
        } else if (!copy.status().IsNotFound()) {
          return copy.status();
        }
      }
      std::vector<std::string> parts;
      for (size_t c = 0; c < r.chunks.size(); ++c) {
        parts.push_back(IdPart(Id(ChunkIdString(id, c))));
      }
      FE_ASSIGN_OR_RETURN(auto chunk_records, ReadRecords(*store_, cid, parts, &view));
      std::vector<std::string> texts;
      for (size_t c = 0; c < chunk_records.size(); ++c) {
        if (!chunk_records[c]) {
          return Status::Corruption(
              fmt::format("long document \"{}\": chunk {} is missing", id, c));
        }
        texts.push_back(std::move(chunk_records[c]->text));
      }
      FE_ASSIGN_OR_RETURN(std::string text, RebuildText(r, texts, id));
      SourceDocument doc;
      doc.id = id;
      doc.text = std::move(text);
      doc.source = r.source;
      doc.title = r.title;
      doc.metadata = r.metadata;
      FE_ASSIGN_OR_RETURN(PreparedSource p, to->PrepareSource(std::move(doc), *run->chunker));
      // The text's identity is the original's (the rebuilt text may hold
      // spaces where the original had characters no chunk covers).
      p.record.content_hash = r.content_hash;
      p.record.version_hash = to->VersionHash(p.record);
      prepared.push_back(std::move(p));
    }
    if (!prepared.empty()) {
      std::vector<PreparedSource*> ptrs;
      for (PreparedSource& p : prepared) ptrs.push_back(&p);
      FE_RETURN_IF_ERROR(to->EncodeSources(ptrs));
      FE_RETURN_IF_ERROR(to->CommitSources(no_sync, *run->chunker, ptrs));
      run->summary->documents += prepared.size();
    }
    for (size_t j = i; j < i + n; ++j) {
      run->documents[changed[j]->first] = changed[j]->second.version_hash;
    }
    run->progress.documents_done += n;
    run->Report();
  }
  return Status::OK();
}

Result<uint64_t> CollectionImpl::ReembedRound(ReembedRun* run) {
  const uint64_t before = run->summary->records + run->summary->documents + run->summary->removed;
  run->progress.records = run->progress.records_done = 0;
  run->progress.documents = run->progress.documents_done = 0;
  // One view for the round: records, their ids and the documents agree.
  const storage::ReadView view = store_->NewReadView();
  std::unordered_map<std::string, storage::SourceRecord> sources;
  FE_RETURN_IF_ERROR(ReadSources(*store_, record_.cid, &view, &sources));
  const std::unordered_set<std::string> chunk_parts = ChunkIdParts(sources);
  std::unordered_map<std::string, uint64_t> ids;
  FE_RETURN_IF_ERROR(ReadIds(*store_, record_.cid, &view, &ids));
  FE_RETURN_IF_ERROR(ReembedRecords(run, view, chunk_parts, ids));
  FE_RETURN_IF_ERROR(ReembedDocuments(run, view, sources));
  ++run->summary->rounds;
  return run->summary->records + run->summary->documents + run->summary->removed - before;
}

Status CollectionImpl::ReembedInto(CollectionImpl* to, const ReembedOptions& options,
                                   std::mutex* db_mu, const std::function<Status()>& commit,
                                   ReembedSummary* summary) {
  ReembedRun run;
  run.to = to;
  run.options = &options;
  run.summary = summary;
  FE_ASSIGN_OR_RETURN(run.chunker, to->MakeChunker(options.chunking));
  {
    // What an interrupted run left in the copy is compared, not trusted.
    std::unordered_map<std::string, storage::SourceRecord> sources;
    FE_RETURN_IF_ERROR(ReadSources(*store_, to->record_.cid, nullptr, &sources));
    const std::unordered_set<std::string> chunk_parts = ChunkIdParts(sources);
    std::unordered_map<std::string, uint64_t> ids;
    FE_RETURN_IF_ERROR(ReadIds(*store_, to->record_.cid, nullptr, &ids));
    for (const auto& [part, slot] : ids) {
      if (chunk_parts.count(part) == 0) run.records.emplace(part, kUnknownSlot);
    }
    for (const auto& [id, r] : sources) run.documents.emplace(id, "");
  }
  for (uint32_t round = 1;; ++round) {
    run.progress.round = round;
    FE_ASSIGN_OR_RETURN(uint64_t copied, ReembedRound(&run));
    if (copied <= kQuietRound || round >= kMaxOpenRounds) break;
  }
  // The last round, with writes held back; then the switch.
  std::lock_guard<std::mutex> db_lock(*db_mu);
  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  run.progress.round = summary->rounds + 1;
  run.progress.switching = true;
  FE_RETURN_IF_ERROR(ReembedRound(&run).status());
  FE_RETURN_IF_ERROR(to->SyncWrites());
  {
    // No search or read runs here from now on; the ones that come retry on
    // the copy (CollectionHandle) once the switch is written.
    std::unique_lock<RwMutex> exclusive(index_mu_);
    state_flag_ = State::kReplaced;
  }
  Status switched = commit();
  std::unique_lock<RwMutex> exclusive(index_mu_);
  if (!switched.ok()) {
    state_flag_ = State::kOpen;
    return switched;
  }
  index_.reset();
  rows_.reset();
  if (text_index_) text_index_->ReleaseCache();
  return Status::OK();
}

}  // namespace flashembed::query
