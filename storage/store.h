// Store: the RocksDB database under a flashembed folder, with one column
// family per kind of record and a format version checked on open.
//
// RocksDB holds the truth; everything in memory (the ANN index) is rebuilt
// from it. Column families and key layouts are documented in storage/FORMAT.md.
// No RocksDB type appears in this header.
//
// Thread-safety: all methods may be called concurrently (RocksDB is
// thread-safe); a WriteBatch is a plain value owned by one thread.
#ifndef FLASHEMBED_STORAGE_STORE_H_
#define FLASHEMBED_STORAGE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::storage {

// On-disk format version of the whole folder; bump on any incompatible change
// to column families, key layouts or record codecs (storage/FORMAT.md).
inline constexpr uint32_t kFormatVersion = 1;

// Column families. The order is the on-disk name table in FORMAT.md.
enum class Cf : int {
  kMeta = 0,   // "default": format version and folder-wide values
  kCatalog,    // collections and their counters
  kDocuments,  // per-document records (id, text, metadata)
  kVectors,    // raw float32 vectors
  kIds,        // external id -> slot
  kOplog,      // index operations since the last snapshot
  kSnapshots,  // index snapshots
  kPostings,   // full-text (BM25) postings and statistics
  kFields,     // indexes of declared metadata fields
  kSources,    // long documents: one record per document (its chunks are documents)
};
inline constexpr int kNumCfs = 10;
const char* CfName(Cf cf);

// An atomic group of writes; applied all-or-nothing by Store::Write.
class WriteBatch {
 public:
  WriteBatch();
  ~WriteBatch();
  WriteBatch(WriteBatch&&) noexcept;
  WriteBatch& operator=(WriteBatch&&) noexcept;

  void Put(Cf cf, std::string_view key, std::string_view value);
  void Delete(Cf cf, std::string_view key);
  // Deletes keys in [begin, end).
  void DeleteRange(Cf cf, std::string_view begin, std::string_view end);
  size_t count() const;

 private:
  friend class Store;
  struct Rep;
  std::unique_ptr<Rep> rep_;
};

// A consistent point-in-time view for reads that must agree with each other
// (an id lookup and the document it points to). Releases on destruction.
// REQUIRES: destroyed before the Store that made it.
class ReadView {
 public:
  ~ReadView();
  ReadView(ReadView&&) noexcept;
  ReadView& operator=(ReadView&&) noexcept;

  struct Rep;
  const Rep* rep() const { return rep_.get(); }

 private:
  friend class Store;
  explicit ReadView(std::unique_ptr<Rep> rep);
  std::unique_ptr<Rep> rep_;
};

struct StoreOptions {
  // Create the folder and an empty database when missing. Not persisted.
  // Ignored when opening read-only.
  bool create_if_missing = true;
  // LRU block cache shared by all column families, in bytes. Not persisted.
  size_t block_cache_bytes = 128u << 20;
  // Open without writing anything to the folder (no lock file, no info log,
  // no recovery flush): reads see every acknowledged write, writes are
  // refused with NotSupported. Works on a read-only or full filesystem, and
  // beside a process that holds the folder for writing: the store is then
  // RocksDB's secondary instance (its own files in a temporary folder,
  // removed on close), which CatchUp() brings up to the writer's
  // acknowledged writes. Where a secondary instance cannot be opened, a
  // plain read-only open (a view as of the open, no CatchUp) is used.
  bool read_only = false;
  // Without read_only: when the folder cannot be opened for writing because
  // its filesystem is read-only or out of space, open it read-only instead
  // of failing (read_only() then says so).
  bool read_only_if_unwritable = false;
};

// The process holding the write lock of the database folder `path`, as
// "pid 1234: flashembed serve --db kb" (its command line, shortened), or ""
// when none does (or it cannot be told).
std::string LockHolder(const std::string& path);

class Store {
 public:
  // Opens the RocksDB database in `path`. Errors:
  //  - NotFound: no database there and !create_if_missing;
  //  - InvalidArgument: `path` exists but is not a flashembed database (a
  //    foreign RocksDB database is refused without being changed);
  //  - NotSupported: the folder's format version is not kFormatVersion;
  //  - IOError: the folder cannot be read, or RocksDB could not open it
  //    ("database ... is held by another process (pid N: its command line);
  //    only one process may write to it" for a folder held elsewhere;
  //    message from RocksDB otherwise; "no space
  //    left on device: ..." or "... is on a read-only filesystem ..." when
  //    it cannot be written).
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options, const std::string& path);

  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Applies `batch` atomically. With `sync`, the WAL is fsync'ed before
  // returning, so the batch survives a crash of the machine; without it, it
  // survives a crash of the process. A failed write changes nothing.
  // Errors: NotSupported on a read-only store; IOError "no space left on
  // device: ..." when the disk is full, and after that (RocksDB stops
  // writing after a failed write) until Health() finds the database can
  // resume.
  Status Write(const WriteBatch& batch, bool sync);

  // A view as of now, for consistent reads (CatchUp stores: the store itself).
  ReadView NewReadView() const;

  // The value under `key`, or NotFound. Reads the latest data, or `view`'s.
  Result<std::string> Get(Cf cf, std::string_view key, const ReadView* view = nullptr) const;

  // Values for many keys of one family; absent keys give nullopt.
  Result<std::vector<std::optional<std::string>>> MultiGet(Cf cf, std::span<const std::string> keys,
                                                           const ReadView* view = nullptr) const;

  // Calls fn(key, value) for keys in [begin, end) in order until fn returns
  // false. An empty `end` means "to the end of the family". Reads the latest
  // data, or `view`'s.
  Status Scan(Cf cf, std::string_view begin, std::string_view end,
              const std::function<bool(std::string_view, std::string_view)>& fn,
              const ReadView* view = nullptr) const;

  // The last key in [begin, end), or NotFound.
  Result<std::string> LastKey(Cf cf, std::string_view begin, std::string_view end) const;

  // fsyncs the write-ahead log: every Write so far, synced or not, then
  // survives a crash of the machine. Errors as Write.
  Status SyncWal();

  // Flushes memtables to SST files (used before a clean close). Does
  // nothing on a read-only store; returns the storage error, without
  // flushing, while Health() is not OK.
  Status Flush();

  // Whether writes can succeed. OK; NotSupported (with the reason) on a
  // read-only store; or the error that stopped writes: once a write failed
  // (say, the disk was full), RocksDB refuses every write until it is
  // resumed. While that is so, this call (and every Write) tries to resume,
  // at most once a second, so writes work again as soon as space is freed.
  // Reads work in every state.
  Status Health();

  bool read_only() const;

  // Read-only stores that can follow a writer (see StoreOptions::read_only):
  // reads what was written since the open or the last catch-up, and returns
  // whether anything changed. Catches up again until a round brings nothing
  // new (at most a few rounds), so that a flush the writer made during one
  // round cannot leave an earlier batch unseen while a later one is seen:
  // what is visible is always a prefix of the writer's acknowledged writes,
  // whole batches only. REQUIRES: no read of this store runs meanwhile (a
  // secondary instance's reads, snapshots included, are not isolated from a
  // catch-up; the caller excludes them). Returns false at once on other
  // stores.
  bool can_catch_up() const;
  Result<bool> CatchUp();

  // Compacts the keys in [begin, end) of every family (an empty `end`: to
  // the end of each family) down to the last level, so data deleted or
  // overwritten there leaves the disk. Blocks until done; other reads and
  // writes go on meanwhile. Errors: NotSupported on a read-only store;
  // Cancelled when the store is being destroyed; the storage error while
  // Health() is not OK.
  Status Compact(std::string_view begin, std::string_view end);

  // Space comes back without a caller waiting: every range a Write deletes
  // with DeleteRange (a dropped collection, an old index snapshot, a log
  // the snapshot replaced) is compacted on a background thread soon after,
  // and so is each range given here (say, after many single deletes; once
  // those are done every family is flushed too, so the write-ahead log
  // files holding the deleted data go as well). Ranges queue in order, a
  // range already waiting is not queued again, and a failed compaction is
  // only retried by the next request. Does nothing on a read-only store.
  // The thread stops (a running compaction cancelled) when the store is
  // destroyed.
  void ScheduleCompaction(Cf cf, std::string_view begin, std::string_view end);
  // Blocks until no background compaction is queued or running (tests,
  // benchmarks). Returns how many have finished since the open.
  uint64_t WaitForCompactions();

  // Bytes the keys in [begin, end) of every family hold in SST files and
  // memtables (RocksDB's estimate; empty `end`: to the end).
  Result<uint64_t> ApproximateBytes(std::string_view begin, std::string_view end) const;

  // A consistent point-in-time copy of the whole database in `dest`, which
  // must not exist (its parent must): every write acknowledged before the
  // call, and none begun after it returned; writes racing the call are in
  // it or not, each whole (a batch is never split). SST files are hard
  // links when `dest` is on the same filesystem, copies otherwise. The copy
  // opens as a normal database. Errors: AlreadyExists for an existing
  // `dest`; NotSupported on a read-only store; IOError from the filesystem
  // (the partial copy removed).
  Status Checkpoint(const std::string& dest);

  const std::string& path() const { return path_; }

 private:
  struct Rep;
  Store(std::string path, std::unique_ptr<Rep> rep);
  // Open's two ways. OpenWritable sets *no_space when it failed for lack of
  // space; `reason` says why the folder is opened read-only.
  static Result<std::unique_ptr<Store>> OpenWritable(const StoreOptions& options,
                                                     const std::string& path, bool* no_space);
  static Result<std::unique_ptr<Store>> OpenReadOnly(const StoreOptions& options,
                                                     const std::string& path,
                                                     const std::string& reason);
  // The background compaction thread's loop (ScheduleCompaction).
  static void RunCompactions(Rep* rep);
  // Queues [begin, end) of `cf`; `flush` asks for the flush of every family
  // once the queue is done.
  void QueueCompaction(Cf cf, std::string_view begin, std::string_view end, bool flush);

  std::string path_;
  std::unique_ptr<Rep> rep_;
};

}  // namespace flashembed::storage

#endif  // FLASHEMBED_STORAGE_STORE_H_
