// CollectionImpl: one collection's write path, search path and index
// lifecycle (load snapshot, replay the oplog, snapshot). Internal to query/.
#ifndef FLASHEMBED_QUERY_COLLECTION_IMPL_H_
#define FLASHEMBED_QUERY_COLLECTION_IMPL_H_

#include <atomic>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/rw_mutex.h"
#include "encoders/chunker.h"
#include "encoders/encoder.h"
#include "index/vector_index.h"
#include "query/database.h"
#include "query/ranking.h"
#include "storage/records.h"
#include "storage/store.h"

namespace flashembed::query {

struct FilterRows;                     // query/filter_rows.h
class TextIndex;                       // query/text_index.h
class PostingCache;                    // query/posting_cache.h
class FieldStore;                      // query/field_store.h
struct PreparedFilter;                 // query/filter_rows.h
using TextStats = storage::TextStats;  // as query/text_index.h names it

// Id <-> the id part of its ids-family key (storage/records.h).
std::string IdPart(const Id& id);
Result<Id> IdFromPart(std::string_view part);
// An id for messages: 7 or "7".
std::string QuoteId(const Id& id);
// The id of chunk `ordinal` of long document `doc_id`: "<doc_id>#<ordinal>".
std::string ChunkIdString(std::string_view doc_id, size_t ordinal);
// The token-weighted mean of `tokens.size()` rows of `vectors` (dim each),
// scaled to length 1 (all zeros if the mean is zero).
void PooledVector(std::span<const float> vectors, std::span<const uint32_t> tokens, size_t dim,
                  std::vector<float>* out);

// REQUIRES for every method: the owning DatabaseImpl outlives the object's
// open state; Close(), Drop() and MarkDropped() end it.
class CollectionImpl final : public Collection,
                             public std::enable_shared_from_this<CollectionImpl> {
 public:
  // Opens a stored collection: loads its index from the snapshot plus the
  // oplog, or rebuilds it from the stored vectors when there is no usable
  // snapshot. With `is_new`, reads nothing and starts empty (the caller
  // writes the catalog records once this succeeded). A text index reads its
  // posting lists through `posting_cache` (the database's; may be null).
  static Result<std::shared_ptr<CollectionImpl>> Open(
      storage::Store* store, const storage::CollectionRecord& record, const Options& options,
      bool is_new, std::shared_ptr<PostingCache> posting_cache = nullptr);

  const std::string& name() const override { return record_.name; }
  Result<CollectionInfo> Describe() const override;
  Result<uint64_t> Count() const override;
  Status Add(const WriteOptions& options, std::span<const Document> docs) override;
  Status Upsert(const WriteOptions& options, std::span<const Document> docs) override;
  Result<size_t> Delete(const WriteOptions& options, std::span<const Id> ids) override;
  Result<Document> Get(const Id& id) const override;
  Result<std::vector<Document>> GetMany(std::span<const Id> ids, bool with_vector) const override;
  Result<std::vector<Document>> Find(const FindOptions& options) const override;
  Result<uint64_t> CountWhere(std::string_view filter,
                              std::string_view filter_params) const override;
  Result<size_t> DeleteWhere(const WriteOptions& options, std::string_view filter,
                             std::string_view filter_params) override;
  Result<std::vector<Hit>> Search(const SearchOptions& options, const Query& query) const override;
  Status Snapshot() override;
  Result<std::shared_ptr<const TextModel>> Model() const override;
  // Rebuilds the index from the stored vectors when it still holds removed
  // ones, then snapshots it (Database::Compact).
  Status CompactIndex();

  // Long documents (collection_docs.cc, ingest.cc).
  Result<std::vector<PutDocumentResult>> PutDocuments(
      const WriteOptions& options, const ChunkingOptions& chunking,
      std::span<const SourceDocument> docs) override;
  Result<DocumentInfo> GetDocument(std::string_view id, bool with_vector) const override;
  Result<size_t> DeleteDocuments(const WriteOptions& options,
                                 std::span<const std::string> ids) override;
  Result<uint64_t> CountDocuments() const override;
  Result<std::vector<DocumentHit>> SearchDocuments(const DocumentSearchOptions& options,
                                                   const Query& query) const override;
  Result<std::unique_ptr<DocumentIngest>> StartIngest(const IngestOptions& options) override;
  Status ScanRecords(const ScanOptions& options,
                     const std::function<Status(std::span<const Document>)>& visit) const override;
  Status ScanDocuments(bool with_vector,
                       const std::function<Status(const DocumentInfo&)>& visit) const override;
  Status RestoreDocuments(const WriteOptions& options, std::span<const Document> chunks,
                          std::span<const DocumentInfo> documents) override;

  // One document after the chunk stage of PutDocuments / an ingest: chunked,
  // compared with the stored version, its re-usable chunk vectors found.
  struct PreparedSource {
    SourceDocument doc;            // text moved out once chunked
    storage::SourceRecord record;  // to store (vector filled by EncodeSources)
    bool had_old = false;          // a version was stored when prepared ...
    std::string old_version;       // ... with this version_hash
    uint32_t old_chunks = 0;       // ... and this many chunks
    std::vector<encoders::Chunk> chunks;
    std::vector<float> vectors;     // chunks x dim; rows of to_encode unset
    std::vector<size_t> to_encode;  // chunks without a re-usable vector
    PutDocumentResult result;
  };
  // The chunker for `chunking` (InvalidArgument for impossible sizes;
  // NotSupported for a vector-only collection).
  Result<std::shared_ptr<const encoders::Chunker>> MakeChunker(
      const ChunkingOptions& chunking) const;
  Result<PreparedSource> PrepareSource(SourceDocument doc, const encoders::Chunker& chunker) const;
  // Embeds the chunks of `docs` that need it, in one encoder call.
  Status EncodeSources(std::span<PreparedSource* const> docs) const;
  // Writes prepared (and encoded) documents in one atomic batch; a document
  // changed by another writer since it was prepared is prepared again.
  // Fills each document's result.
  Status CommitSources(const WriteOptions& options, const encoders::Chunker& chunker,
                       std::span<PreparedSource* const> docs);
  // The record ids that change when a document's `old_chunks` chunks become
  // `new_chunks`: surplus chunks to remove (id parts) and chunk ids it did
  // not have (ids-family keys), which must be free.
  struct ChunkIdChanges {
    std::vector<std::string> remove_parts;
    std::vector<std::string> new_keys;
  };
  void AddChunkIdChanges(std::string_view doc_id, size_t old_chunks, size_t new_chunks,
                         ChunkIdChanges* changes) const;
  // AlreadyExists if a record that is not the document's chunk holds one of
  // changes.new_keys (it is not overwritten). REQUIRES: write_mu_ held.
  Status CheckNewChunkIdsFree(const ChunkIdChanges& changes) const;
  // The version_hash of `r` in this collection (see storage::SourceRecord).
  std::string VersionHash(const storage::SourceRecord& r) const;
  static DocumentInfo InfoFromRecord(std::string id, storage::SourceRecord r, bool with_vector);
  // Makes every write so far durable (fsyncs the write-ahead log).
  Status SyncWrites();

  // Snapshots if anything changed, then makes every later call fail with
  // Cancelled. Idempotent.
  Status Close();
  // Adds the deletion of all of a collection's data to `batch`; works for a
  // collection that cannot load (say, its encoder is unknown to this build).
  static void AppendDrop(const storage::CollectionRecord& record, storage::WriteBatch* batch);
  // Deletes all the collection's data after in-flight writes finish; later
  // calls fail with NotFound.
  Status Drop();
  // As Drop() without writing: another process dropped the collection (a
  // read-only database that caught up with its writer).
  void MarkDropped();
  // A read-only database that caught up with its writer (Store::CatchUp):
  // applies the index operations the writer logged since to the index and
  // forgets what was derived from the documents (filter metadata, long
  // document tables, BM25 statistics and cached postings). False when the
  // log no longer reaches back that far (the writer snapshotted since): the
  // caller opens the collection again. REQUIRES: no other call of this
  // collection runs meanwhile (query/refresh_gate.h).
  Result<bool> FollowWriter();

  const storage::CollectionRecord& record() const { return record_; }
  // Long documents stored in collection `cid`, counted by a scan of their
  // keys (for collections that are not open).
  static Result<uint64_t> CountSources(const storage::Store& store, uint32_t cid);
  // Bytes of collection `cid`'s keys on disk and in memtables (estimated).
  static Result<uint64_t> DiskBytes(const storage::Store& store, uint32_t cid);
  // Removed vectors that make a collection compact its keys (with at least
  // as many removed as live) and rebuild its index at the next snapshot.
  static constexpr uint64_t kCompactAfterRemovals = 4096;
  ~CollectionImpl() override;
  static CollectionSchema SchemaOf(const storage::CollectionRecord& record);

  // ---- Re-embedding (reembed.cc; see Database::Reembed) ----
  // Once a re-embedding switched the collection to its copy, every call
  // fails with Cancelled, and CollectionHandle runs it again on the copy.
  bool replaced() const { return state_flag_.load() == State::kReplaced; }
  // Fills `to`, the hidden copy under the new encoder, with this
  // collection's records and long documents in rounds; then, holding
  // `db_mu` (the database's) and write_mu_, runs the last round, marks this
  // collection replaced and calls `commit` (the catalog switch, which makes
  // `to` the collection). If `commit` fails, this collection stays open as
  // it was. What `to` already holds (an interrupted run) is compared with
  // this collection's contents, and kept where equal.
  Status ReembedInto(CollectionImpl* to, const ReembedOptions& options, std::mutex* db_mu,
                     const std::function<Status()>& commit, ReembedSummary* summary);
  // Adds the deletion of every key of the collection's data (not its
  // catalog record) to `batch`.
  static void AppendDropData(const storage::CollectionRecord& record, storage::WriteBatch* batch);
  // Drop() of a re-embedding's hidden copy: its data and its "r/" catalog
  // key are deleted; later calls fail with NotFound.
  Status DropCopy();

 private:
  enum class State { kOpen, kClosed, kDropped, kReplaced };
  CollectionImpl(storage::Store* store, storage::CollectionRecord record, const Options& options,
                 std::unique_ptr<encoders::TextEncoder> encoder);

  Status CheckOpen() const;
  // CheckOpen(), then NotSupported on a read-only database. Checked first by
  // the calls that write, before they embed or read anything.
  Status CheckWritable() const;
  // Loads every live document's id and metadata for filter evaluation, once,
  // and indexes of the given metadata paths; writes keep them current
  // afterwards. Takes write_mu_ (no write in flight while the documents are
  // read), then index_mu_ to install.
  Status EnsureFilterRows(const std::vector<std::vector<std::string>>& paths) const;
  // rows_ is loaded with indexes of all `paths`. REQUIRES: index_mu_ held.
  bool FilterRowsReady(const std::vector<std::vector<std::string>>& paths) const;
  // Takes `lock` (on index_mu_) with the collection open and, if
  // `need_rows`, rows_ loaded with indexes of `paths`.
  Status LockWithRows(bool need_rows, const std::vector<std::vector<std::string>>& paths,
                      std::shared_lock<RwMutex>* lock) const;
  // The per-query effort knob the index takes: HNSW's ef, IVF's nprobe.
  size_t IndexEffort(const SearchOptions& options) const;
  // Search's steps (collection_impl.cc). One search's filter, plan, match
  // set and statistics:
  struct SearchRun;
  // Takes `lock` (on index_mu_) with the rows that grouping and the filter
  // need; a filter narrowed through the stored index of a declared field
  // needs none, and its matches are returned (else null).
  Result<std::shared_ptr<const std::vector<uint64_t>>> LockForSearch(
      const PreparedFilter& prepared, size_t k, bool grouped,
      std::shared_lock<RwMutex>* lock) const;
  // The match set of run's filter, or the decision to walk it lazily
  // (planner.h). REQUIRES: LockForSearch's lock.
  void PlanMatches(SearchRun* run, std::shared_ptr<const std::vector<uint64_t>> stored) const;
  // Computes run's match set unless known. REQUIRES: as PlanMatches.
  void EnsureMatchSet(SearchRun* run) const;
  // The k nearest (matching) neighbours by run's plan; `exact` forces a
  // complete scan. REQUIRES: as PlanMatches.
  Result<std::vector<index::Neighbor>> Neighbors(SearchRun* run, size_t k, bool exact) const;
  // Range search and grouping (collection_find.cc): widens `neighbors` (k,
  // exact) until options.k hits or groups are settled, and returns the
  // chosen neighbours in result order. REQUIRES: index_mu_ held; rows_
  // loaded when grouping.
  using NeighborSource = std::function<Result<std::vector<index::Neighbor>>(size_t k, bool exact)>;
  Result<std::vector<index::Neighbor>> SelectRangeAndGroups(
      const SearchOptions& options, const std::vector<std::string>& group_path, size_t live,
      const NeighborSource& neighbors) const;
  // What the last stage of a search sees, under the search's lock (see
  // RunSearch).
  struct SearchStage {
    const NeighborSource& neighbors;  // the plan's nearest (matching) neighbours
    // The filter's test of a slot; empty without a filter.
    const std::function<bool(uint64_t)>& admit;
    const std::string& keywords;  // the full-text query (keywords, else the query text)
    const FilterRows* rows;       // loaded when RunSearch was asked for them
    SearchStats* stats;           // how the plan ran
  };
  // Search's steps 1-3 (options, filter, keywords and query vector checked;
  // index_mu_ taken shared with rows_ loaded if `need_rows`; the plan), then
  // `last` with the plan, under the lock.
  Status RunSearch(const SearchOptions& options, const Query& query, bool need_rows,
                   const std::function<Status(const SearchStage&)>& last) const;
  // `nn` as results scored by the collection's metric.
  std::vector<Ranked> RankedFrom(const std::vector<index::Neighbor>& nn) const;
  // Full-text and hybrid ranking (collection_find.cc): BM25 matches among
  // those `admit` accepts (all if empty), fused with `vector_side` for
  // kHybrid. REQUIRES: index_mu_ held.
  Result<std::vector<Ranked>> RankWithText(const SearchOptions& options,
                                           const std::string& keywords,
                                           const std::function<bool(uint64_t)>& admit,
                                           const NeighborSource& vector_side) const;
  // The options.k nearest hits from `neighbors`; a hit whose document was
  // deleted meanwhile is skipped and the search widened (at most 3 more
  // times). Copies `stats` to options.stats after each search.
  // REQUIRES: index_mu_ held.
  Result<std::vector<Hit>> NearestHits(const SearchOptions& options,
                                       const NeighborSource& neighbors,
                                       const SearchStats& stats) const;
  // The hits of `chosen`, with the fields options asks for; documents
  // deleted meanwhile are skipped. REQUIRES: index_mu_ held.
  Result<std::vector<Hit>> HitsFor(const SearchOptions& options, const std::vector<Ranked>& chosen,
                                   const std::vector<std::string>& group_path) const;
  // Adds the removal of the full-text postings and field index entries of
  // `slots` (stored documents) to `batch`. REQUIRES: write_mu_ held.
  Status AppendSecondaryRemovals(const std::vector<uint64_t>& slots, storage::WriteBatch* batch,
                                 TextStats* stats) const;
  // The documents `prepared` matches, found through the stored index of a
  // declared field when one of its conjuncts has at most `limit`
  // candidates; null otherwise. REQUIRES: index_mu_ held.
  Result<std::shared_ptr<const std::vector<uint64_t>>> MatchesFromFieldStore(
      const PreparedFilter& prepared, size_t limit) const;
  // Removes the documents (ids-family key, slot) in one batch.
  // REQUIRES: write_mu_ held; each pair is stored.
  Result<size_t> RemoveLocked(const WriteOptions& options,
                              const std::vector<std::pair<std::string, uint64_t>>& doomed);
  Status Write(const WriteOptions& options, std::span<const Document> docs, bool upsert);
  // Write's first step, without a lock: validated ids and metadata, and the
  // vectors (given, or embedded).
  struct StagedWrite {
    std::vector<std::string> id_parts;
    std::vector<std::string> metadata;  // normalised JSON
    std::vector<float> vectors;         // docs.size() x dim
  };
  Result<StagedWrite> Stage(std::span<const Document> docs) const;
  // Write's second step: one batch writing `docs` (replacing stored ids
  // with `upsert`, else AlreadyExists), removing the records of
  // `remove_parts` (id parts; missing ones ignored) and whatever `extra`
  // appends; then the index update. REQUIRES: write_mu_ held.
  Status CommitLocked(const WriteOptions& options, std::span<const Document> docs,
                      const StagedWrite& staged, bool upsert,
                      const std::vector<std::string>& remove_parts,
                      const std::function<void(storage::WriteBatch*)>& extra);
  // CountDocuments, counting on first use. REQUIRES: write_mu_ held.
  Result<uint64_t> CountSourcesLocked() const;
  // InvalidArgument if one of the ids (id parts) is a chunk of a stored
  // long document. REQUIRES: write_mu_ held.
  Status RefuseChunkIds(const std::vector<std::string>& id_parts) const;
  // Documents of the sources family, by id, with their pooled vectors: for
  // DocumentSearchOptions::pooled. Loaded on first use, kept current by
  // CommitSources / DeleteDocuments.
  struct SourceTable;
  Status EnsureSourceTable() const;
  // A document SearchDocuments found, before its record is read.
  struct FoundDocument {
    std::string id;
    float score = 0;
    std::optional<float> vector_score;
    std::optional<float> text_score;
    std::vector<Passage> passages;
    uint32_t chunk_count = 0;  // pooled search: the document's chunks
  };
  // SearchDocuments by pooled vectors, and by chunks under `ranking`
  // (resolved: not kAuto).
  Result<std::vector<FoundDocument>> SearchPooled(const DocumentSearchOptions& options,
                                                  const Query& query) const;
  Result<std::vector<FoundDocument>> SearchChunks(const DocumentSearchOptions& options,
                                                  const Query& query, Ranking ranking) const;
  void UpdateSourceTable(const std::string& id, const storage::SourceRecord* record) const;
  // Re-embedding's steps (reembed.cc): one round over a read view, its
  // records and its long documents. A round returns what it copied or
  // removed.
  struct ReembedRun;
  Result<uint64_t> ReembedRound(ReembedRun* run);
  Status ReembedRecords(ReembedRun* run, const storage::ReadView& view,
                        const std::unordered_set<std::string>& chunk_parts,
                        const std::unordered_map<std::string, uint64_t>& ids);
  Status ReembedDocuments(ReembedRun* run, const storage::ReadView& view,
                          const std::unordered_map<std::string, storage::SourceRecord>& sources);
  Status DropWith(bool copy);
  // REQUIRES: write_mu_ held.
  void MarkDroppedLocked();
  Status LoadIndex();
  // Applies to `idx` the index operations logged from sequence number
  // `from` up to key `end` of the oplog family, in order, counting them in
  // *replayed; stops at a gap (a log trimmed by a snapshot).
  Status ReplayOplog(index::VectorIndex* idx, uint64_t from, std::string_view end,
                     uint64_t* replayed) const;
  Status RebuildIndex();
  Status SnapshotLocked();
  // After a durable write that logged `logged_ops` index operations, of
  // which `removals` removed a stored vector: repairs a failed index update,
  // snapshots when due, and queues a compaction of the collection's keys
  // once the data removed since the last one matches the live data (at
  // least kCompactAfterRemovals vectors), so deleted and replaced documents
  // give their disk space back.
  Status AfterIndexUpdate(const Status& index_status, uint64_t logged_ops, uint64_t removals);
  Result<std::vector<float>> QueryVector(const Query& query) const;
  // Why this collection refuses images (its encoder embeds texts only).
  std::string ImagesRefused() const;

  storage::Store* const store_;
  const storage::CollectionRecord record_;
  const Options options_;
  const std::unique_ptr<encoders::TextEncoder> encoder_;  // null: vector-only
  const index::Metric metric_;
  // BM25 postings when the collection keeps a text index, else null. Its
  // in-memory statistics are written under write_mu_.
  std::unique_ptr<TextIndex> text_index_;
  // Stored indexes of the declared metadata fields; null when none.
  std::unique_ptr<FieldStore> field_store_;

  // Serialises writers, snapshots, close and drop.
  mutable std::mutex write_mu_;
  storage::CollectionState state_;         // guarded by write_mu_
  uint64_t ops_since_snapshot_ = 0;        // guarded by write_mu_
  uint64_t removed_since_compaction_ = 0;  // guarded by write_mu_
  bool has_snapshot_ = false;              // guarded by write_mu_

  // Readers (search, get) share it; index changes and state changes take it
  // exclusively.
  mutable RwMutex index_mu_;
  std::unique_ptr<index::VectorIndex> index_;  // guarded by index_mu_
  // Parsed metadata of every live document, by slot, for filters; null
  // until the first filtered search. Guarded by index_mu_ (installed under
  // write_mu_ too), updated together with index_.
  mutable std::unique_ptr<FilterRows> rows_;
  // Written holding both write_mu_ and index_mu_ (exclusive), so either
  // lock suffices to read it.
  // Atomic: the long-document calls check it before taking a lock.
  std::atomic<State> state_flag_{State::kOpen};
  // Not OK once an index update failed and the rebuild failed too: searches
  // and snapshots return it. Written under write_mu_ and index_mu_.
  Status index_broken_;
  std::atomic<uint64_t> live_count_{0};
  // Long documents stored (sources family): -1 until counted.
  mutable std::atomic<int64_t> source_count_{-1};
  mutable std::mutex sources_mu_;                      // guards source_table_
  mutable std::shared_ptr<SourceTable> source_table_;  // shared_ptr: SourceTable is incomplete here
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_COLLECTION_IMPL_H_
