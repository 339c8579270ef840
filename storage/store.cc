#include "storage/store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <deque>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <mutex>
#include <system_error>
#include <thread>

#include <fmt/format.h>
#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/listener.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/utilities/checkpoint.h>
#include <rocksdb/utilities/table_properties_collectors.h>
#include <rocksdb/write_batch.h>

namespace flashembed::storage {
namespace {

constexpr const char* kCfNames[kNumCfs] = {"default", "catalog", "documents", "vectors",
                                           "ids",     "oplog",   "snapshots", "postings",
                                           "fields",  "sources"};
constexpr std::string_view kFormatKey = "flashembed_format_version";

Status FromRocks(const rocksdb::Status& s, const std::string& context) {
  if (s.ok()) return Status::OK();
  if (s.IsNoSpace()) {
    return Status::IOError("no space left on device: " + context + " (" + s.ToString() + ")");
  }
  std::string msg = context + ": " + s.ToString();
  if (s.IsNotFound()) return Status::NotFound(msg);
  if (s.IsCorruption()) return Status::Corruption(msg);
  if (s.IsInvalidArgument()) return Status::InvalidArgument(msg);
  if (s.IsNotSupported()) return Status::NotSupported(msg);
  return Status::IOError(msg);
}

rocksdb::Slice ToSlice(std::string_view s) { return rocksdb::Slice(s.data(), s.size()); }
std::string_view ToView(const rocksdb::Slice& s) { return std::string_view(s.data(), s.size()); }

std::string EncodeU32(uint32_t v) {
  std::string out(4, '\0');
  for (int i = 0; i < 4; ++i) out[i] = static_cast<char>((v >> (8 * i)) & 0xff);
  return out;
}

// True when `path` (or the folder that would hold it) is on a filesystem
// mounted read-only.
bool OnReadOnlyFilesystem(const std::string& path) {
  std::filesystem::path p(path);
  std::error_code ec;
  while (!p.empty() && !std::filesystem::exists(p, ec)) p = p.parent_path();
  struct statvfs st {};
  return !p.empty() && statvfs(p.c_str(), &st) == 0 && (st.f_flag & ST_RDONLY) != 0;
}

// RocksDB's info log, written with plain write(2) calls whose failures are
// ignored. RocksDB's own file logger cannot be used: it writes through a
// WritableFileWriter, which in Debian's librocksdb 7.8 (built with
// assertions) aborts the process (`sync_without_flush_called_`) on the next
// line after one write failed. Once the disk is full, the next log line - at
// close, or the options dump of the next open - ended the process. Here a
// line that cannot be written is dropped. The file is LOG in the folder;
// past kMaxBytes it becomes LOG.old and a new LOG starts. With fd -1 (a
// read-only open) nothing is written.
class FolderLogger final : public rocksdb::Logger {
 public:
  static constexpr off_t kMaxBytes = 8 << 20;

  // Appends to `folder`/LOG; discards everything if it cannot be opened.
  static std::shared_ptr<FolderLogger> Open(const std::string& folder) {
    auto logger = std::make_shared<FolderLogger>(folder);
    std::lock_guard<std::mutex> lock(logger->mu_);
    logger->OpenFileLocked();
    return logger;
  }
  // Writes nothing.
  static std::shared_ptr<FolderLogger> Discarding() { return std::make_shared<FolderLogger>(""); }

  explicit FolderLogger(std::string folder)
      : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL), folder_(std::move(folder)) {}
  ~FolderLogger() override {
    if (fd_ >= 0) ::close(fd_);
  }

  using rocksdb::Logger::Logv;
  void Logv(const char* format, va_list ap) override {
    if (folder_.empty()) return;
    char line[4096];
    struct timeval now {};
    gettimeofday(&now, nullptr);
    struct tm t {};
    localtime_r(&now.tv_sec, &t);
    int n = std::snprintf(line, sizeof(line), "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %ld ",
                          t.tm_year + 1900, t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                          static_cast<long>(now.tv_usec), static_cast<long>(syscall(SYS_gettid)));
    if (n < 0) return;
    va_list copy;
    va_copy(copy, ap);
    const int m = std::vsnprintf(line + n, sizeof(line) - static_cast<size_t>(n) - 1, format, copy);
    va_end(copy);
    if (m < 0) return;
    size_t len = std::min(sizeof(line) - 2, static_cast<size_t>(n) + static_cast<size_t>(m));
    if (line[len - 1] != '\n') line[len++] = '\n';
    std::lock_guard<std::mutex> lock(mu_);
    if (fd_ < 0) return;
    const ssize_t written = ::write(fd_, line, len);
    if (written > 0) bytes_ += written;
    if (bytes_ > kMaxBytes) OpenFileLocked();
  }

 private:
  // (Re)opens LOG, first moving a large one to LOG.old. REQUIRES: mu_ held.
  void OpenFileLocked() {
    if (fd_ >= 0) ::close(fd_);
    const std::string log = folder_ + "/LOG";
    struct stat st {};
    if (::stat(log.c_str(), &st) == 0 && st.st_size > kMaxBytes) {
      (void)std::rename(log.c_str(), (log + ".old").c_str());  // else keep appending
    }
    fd_ = ::open(log.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    bytes_ = fd_ >= 0 && ::fstat(fd_, &st) == 0 ? st.st_size : 0;
  }

  const std::string folder_;  // "" = discard
  std::mutex mu_;
  int fd_ = -1;
  off_t bytes_ = 0;
};

}  // namespace

const char* CfName(Cf cf) { return kCfNames[static_cast<int>(cf)]; }

struct WriteBatch::Rep {
  // Column family handles belong to the Store, so ops are bound at Write().
  struct Op {
    enum Kind { kPut, kDelete, kDeleteRange } kind;
    Cf cf;
    std::string a, b;
  };
  std::vector<Op> ops;
  size_t bytes = 0;
};

WriteBatch::WriteBatch() : rep_(std::make_unique<Rep>()) {}
WriteBatch::~WriteBatch() = default;
WriteBatch::WriteBatch(WriteBatch&&) noexcept = default;
WriteBatch& WriteBatch::operator=(WriteBatch&&) noexcept = default;

void WriteBatch::Put(Cf cf, std::string_view key, std::string_view value) {
  rep_->bytes += key.size() + value.size();
  rep_->ops.push_back({Rep::Op::kPut, cf, std::string(key), std::string(value)});
}
void WriteBatch::Delete(Cf cf, std::string_view key) {
  rep_->bytes += key.size();
  rep_->ops.push_back({Rep::Op::kDelete, cf, std::string(key), {}});
}
void WriteBatch::DeleteRange(Cf cf, std::string_view begin, std::string_view end) {
  rep_->bytes += begin.size() + end.size();
  rep_->ops.push_back({Rep::Op::kDeleteRange, cf, std::string(begin), std::string(end)});
}
size_t WriteBatch::count() const { return rep_->ops.size(); }

namespace {

// The error that stopped RocksDB's writes, as its listener reported it, and
// when to try resuming next. Shared by the Store and the listener, which
// RocksDB calls from the thread whose write or flush failed.
struct WriteErrors {
  std::atomic<bool> failed{false};  // error is not OK; read without mu
  std::mutex mu;
  Status error;                                         // guarded by mu
  uint64_t generation = 0;                              // guarded by mu; counts errors
  std::chrono::steady_clock::time_point next_resume{};  // guarded by mu
};

class ErrorListener final : public rocksdb::EventListener {
 public:
  explicit ErrorListener(std::shared_ptr<WriteErrors> errors) : errors_(std::move(errors)) {}

  void OnBackgroundError(rocksdb::BackgroundErrorReason /*reason*/,
                         rocksdb::Status* bg_error) override {
    if (bg_error == nullptr || bg_error->ok()) return;
    Status error = FromRocks(*bg_error, "writes are stopped");
    std::lock_guard<std::mutex> lock(errors_->mu);
    errors_->error = std::move(error);
    ++errors_->generation;
    errors_->failed = true;
  }

  // RocksDB's own recovery from a full disk (its SstFileManager) waits until
  // the largest write_buffer_size (64 MiB by default) is free, checking every
  // 5 s, and meanwhile refuses DB::Resume() as Busy: on a small disk writes
  // never came back without a restart. Store::Health resumes instead, as
  // soon as the space needed is there.
  void OnErrorRecoveryBegin(rocksdb::BackgroundErrorReason /*reason*/, rocksdb::Status bg_error,
                            bool* auto_recovery) override {
    if (bg_error.IsNoSpace() && auto_recovery != nullptr) *auto_recovery = false;
  }

  // RocksDB recovered by itself (a retryable error).
  void OnErrorRecoveryEnd(const rocksdb::BackgroundErrorRecoveryInfo& info) override {
    if (!info.new_bg_error.ok()) return;
    std::lock_guard<std::mutex> lock(errors_->mu);
    errors_->error = Status::OK();
    errors_->failed = false;
  }

 private:
  const std::shared_ptr<WriteErrors> errors_;
};

// Resuming after a write error retries the flush that failed; on a disk that
// is still full that costs a failed SST write, so at most once this often.
constexpr auto kResumeInterval = std::chrono::milliseconds(1000);

}  // namespace

struct Store::Rep {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // every family opened, ours first
  std::shared_ptr<WriteErrors> errors = std::make_shared<WriteErrors>();
  // Not empty: opened read-only, and why (in NotSupported messages).
  std::string read_only_reason;
  // A secondary instance's own folder (its info log, OPTIONS), removed with
  // it; empty for other stores.
  std::string secondary_dir;
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles[static_cast<int>(c)]; }

  // Background compactions (ScheduleCompaction): the queue, and the thread,
  // started on the first request.
  struct Range {
    Cf cf;
    std::string begin;
    std::string end;
    bool operator==(const Range&) const = default;
  };
  bool compact_flush = false;  // flush every family once the queue is done
  std::mutex compact_mu;
  std::condition_variable compact_cv;
  std::deque<Range> compact_queue;
  bool compact_running = false;
  bool compact_stop = false;
  uint64_t compact_done = 0;
  std::thread compact_thread;

  ~Rep() {
    {
      std::lock_guard<std::mutex> lock(compact_mu);
      compact_stop = true;
    }
    compact_cv.notify_all();
    if (compact_thread.joinable()) {
      db->DisableManualCompaction();  // a running CompactRange returns at once
      compact_thread.join();
    }
    if (db) {
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db->Close().PermitUncheckedError();
      db.reset();
    }
    if (!secondary_dir.empty()) {
      std::error_code ec;
      std::filesystem::remove_all(secondary_dir, ec);
    }
  }
};

Store::Store(std::string path, std::unique_ptr<Rep> rep)
    : path_(std::move(path)), rep_(std::move(rep)) {}
Store::~Store() = default;

bool Store::read_only() const { return !rep_->read_only_reason.empty(); }

namespace {

// Classifies an existing RocksDB folder without changing it: OK if it holds
// our version marker, or if it is a flashembed folder whose creation was cut
// short (only our column families, all empty, no marker yet). Otherwise
// InvalidArgument, so that a foreign database is refused untouched.
Status CheckExistingFolder(const rocksdb::Options& db_options, const std::string& path,
                           const std::vector<std::string>& names) {
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (const auto& n : names) descriptors.emplace_back(n, rocksdb::ColumnFamilyOptions());
  std::vector<rocksdb::ColumnFamilyHandle*> handles;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status s = rocksdb::DB::OpenForReadOnly(db_options, path, descriptors, &handles, &raw);
  if (!s.ok()) return FromRocks(s, "opening database " + path);
  std::unique_ptr<rocksdb::DB> db(raw);
  bool marker = false, empty = true, ours = true;
  for (size_t i = 0; i < handles.size(); ++i) {
    bool known = false;
    for (const char* k : kCfNames) known = known || names[i] == k;
    ours = ours && known;
    std::string value;
    if (names[i] == rocksdb::kDefaultColumnFamilyName &&
        db->Get(rocksdb::ReadOptions(), handles[i], ToSlice(kFormatKey), &value).ok()) {
      marker = true;
    }
    std::unique_ptr<rocksdb::Iterator> it(db->NewIterator(rocksdb::ReadOptions(), handles[i]));
    it->SeekToFirst();
    empty = empty && !it->Valid();
  }
  for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
  db->Close().PermitUncheckedError();
  if (marker || (ours && empty)) return Status::OK();
  return Status::InvalidArgument("folder " + path +
                                 " holds a RocksDB database that flashembed did not create");
}

}  // namespace

namespace {

// The options both kinds of open share.
struct OpenPlan {
  rocksdb::Options db_options;
  std::vector<std::string> names;  // families present (empty for a new folder)
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
};

OpenPlan PlanOpen(const StoreOptions& options, std::shared_ptr<rocksdb::Logger> logger) {
  OpenPlan plan;
  rocksdb::Options& db_options = plan.db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.max_total_wal_size = 256u << 20;
  db_options.info_log = std::move(logger);  // never RocksDB's own: see FolderLogger

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kLZ4Compression;
  // An SST file in which deletions are dense (half of some window of 4096
  // entries) is compacted by RocksDB on its own, so deleting many documents
  // gives their space back without a manual compaction.
  cf_options.table_properties_collector_factories.push_back(
      rocksdb::NewCompactOnDeletionCollectorFactory(4096, 2048));
  rocksdb::ColumnFamilyOptions raw_options = cf_options;  // float vectors and index bytes
  raw_options.compression = rocksdb::kNoCompression;
  for (int i = 0; i < kNumCfs; ++i) {
    Cf c = static_cast<Cf>(i);
    bool raw = c == Cf::kVectors || c == Cf::kSnapshots;
    plan.descriptors.emplace_back(kCfNames[i], raw ? raw_options : cf_options);
  }
  return plan;
}

// RocksDB must open every family present; unknown ones (a newer writer)
// are opened too and left alone.
Status AddFamiliesPresent(const std::string& path, OpenPlan* plan) {
  rocksdb::Status s = rocksdb::DB::ListColumnFamilies(plan->db_options, path, &plan->names);
  if (!s.ok()) return FromRocks(s, "listing column families of " + path);
  FE_RETURN_IF_ERROR(CheckExistingFolder(plan->db_options, path, plan->names));
  for (const auto& n : plan->names) {
    bool ours = false;
    for (const char* k : kCfNames) ours = ours || n == k;
    if (!ours) plan->descriptors.emplace_back(n, plan->descriptors[0].options);
  }
  return Status::OK();
}

// OK, or NotSupported: the format version is not ours.
Status CheckFormatVersion(const std::string& path, const std::string& version) {
  if (version.size() != 4) return Status::Corruption("format version record is malformed");
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) {
    v |= static_cast<uint32_t>(static_cast<unsigned char>(version[i])) << (8 * i);
  }
  if (v != kFormatVersion) {
    return Status::NotSupported(fmt::format(
        "database {} has format version {}; this build reads version {}", path, v, kFormatVersion));
  }
  return Status::OK();
}

}  // namespace

std::string LockHolder(const std::string& path) {
  // RocksDB locks the LOCK file with fcntl (F_SETLK); F_GETLK names the
  // process holding it.
  const int fd = ::open((std::filesystem::path(path) / "LOCK").c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return "";
  struct flock lock {};
  lock.l_type = F_WRLCK;
  lock.l_whence = SEEK_SET;
  const bool asked = ::fcntl(fd, F_GETLK, &lock) == 0;
  ::close(fd);
  if (!asked || lock.l_type == F_UNLCK || lock.l_pid <= 0) return "";
  std::string holder = fmt::format("pid {}", lock.l_pid);
  std::ifstream cmdline(fmt::format("/proc/{}/cmdline", lock.l_pid), std::ios::binary);
  std::string args((std::istreambuf_iterator<char>(cmdline)), std::istreambuf_iterator<char>());
  while (!args.empty() && args.back() == '\0') args.pop_back();
  if (!args.empty()) {
    std::replace(args.begin(), args.end(), '\0', ' ');
    // The program's name without its folder.
    const size_t space = args.find(' ');
    const size_t slash = args.rfind('/', space);
    if (slash != std::string::npos) args.erase(0, slash + 1);
    if (args.size() > 120) args = args.substr(0, 117) + "...";
    holder += ": " + args;
  }
  return holder;
}

namespace {

// True when RocksDB refused to open `path` because its LOCK is taken.
bool IsLockError(const Status& s) {
  return s.code() == StatusCode::kIOError &&
         (s.message().find("lock") != std::string::npos ||
          s.message().find("Resource temporarily unavailable") != std::string::npos);
}

}  // namespace

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, const std::string& path) {
  if (options.read_only) return OpenReadOnly(options, path, "it was opened read-only");
  bool no_space = false;
  Result<std::unique_ptr<Store>> store = OpenWritable(options, path, &no_space);
  if (!store.ok() && IsLockError(store.status())) {
    if (const std::string holder = LockHolder(path); !holder.empty()) {
      return Status::IOError("database " + path + " is held by another process (" + holder +
                             "); only one process may write to it at a time");
    }
  }
  if (store.ok() || store.status().code() != StatusCode::kIOError) return store;
  const bool read_only_fs = OnReadOnlyFilesystem(path);
  if (!no_space && !read_only_fs) return store;
  if (options.read_only_if_unwritable) {
    Result<std::unique_ptr<Store>> reader = OpenReadOnly(
        options, path,
        read_only_fs ? "its filesystem is read-only"
                     : "it could not be opened for writing: " + store.status().message());
    // A missing folder says more than why it could not be created.
    if (reader.ok() || reader.status().IsNotFound()) return reader;
  }
  if (read_only_fs) {
    return Status::IOError("database " + path +
                           " is on a read-only filesystem and cannot be opened for writing (" +
                           store.status().message() + ")");
  }
  return store;
}

Result<std::unique_ptr<Store>> Store::OpenWritable(const StoreOptions& options,
                                                   const std::string& path, bool* no_space) {
  namespace fs = std::filesystem;
  auto io_error = [&](const std::error_code& ec) {
    return Status::IOError("cannot inspect " + path + ": " + ec.message());
  };
  std::error_code ec;
  bool existed = fs::exists(path, ec);
  if (ec) return io_error(ec);
  if (existed && !fs::is_directory(path, ec)) {
    return Status::InvalidArgument("database path " + path + " exists and is not a folder");
  }
  bool has_current = existed && fs::exists(fs::path(path) / "CURRENT", ec);
  if (ec) return io_error(ec);
  if (!has_current) {
    bool empty = !existed || fs::is_empty(path, ec);
    if (ec) return io_error(ec);
    if (!empty) {
      return Status::InvalidArgument("folder " + path +
                                     " is not empty and holds no flashembed database");
    }
    if (!options.create_if_missing) {
      return Status::NotFound("no flashembed database at " + path);
    }
    fs::create_directories(path, ec);
    if (ec) {
      *no_space = ec == std::errc::no_space_on_device;
      return Status::IOError("cannot create folder " + path + ": " + ec.message());
    }
  }

  OpenPlan plan = PlanOpen(options, FolderLogger::Open(path));
  auto rep = std::make_unique<Rep>();
  plan.db_options.listeners.push_back(std::make_shared<ErrorListener>(rep->errors));
  if (has_current) FE_RETURN_IF_ERROR(AddFamiliesPresent(path, &plan));

  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s =
      rocksdb::DB::Open(plan.db_options, path, plan.descriptors, &rep->handles, &raw_db);
  if (!s.ok()) {
    *no_space = s.IsNoSpace();
    return FromRocks(s, "opening database " + path);
  }
  rep->db.reset(raw_db);

  std::string version;
  s = rep->db->Get(rocksdb::ReadOptions(), rep->cf(Cf::kMeta), ToSlice(kFormatKey), &version);
  if (s.IsNotFound()) {
    // A new folder, or one whose creation was cut short (checked above).
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = rep->db->Put(wo, rep->cf(Cf::kMeta), ToSlice(kFormatKey), EncodeU32(kFormatVersion));
    if (!s.ok()) {
      *no_space = s.IsNoSpace();
      return FromRocks(s, "writing format version");
    }
  } else if (!s.ok()) {
    return FromRocks(s, "reading format version");
  } else {
    FE_RETURN_IF_ERROR(CheckFormatVersion(path, version));
  }
  return std::unique_ptr<Store>(new Store(path, std::move(rep)));
}

Result<std::unique_ptr<Store>> Store::OpenReadOnly(const StoreOptions& options,
                                                   const std::string& path,
                                                   const std::string& reason) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const bool has_current = fs::exists(fs::path(path) / "CURRENT", ec);
  if (ec) return Status::IOError("cannot inspect " + path + ": " + ec.message());
  if (!has_current) {
    if (fs::exists(path, ec) && !fs::is_directory(path, ec)) {
      return Status::InvalidArgument("database path " + path + " exists and is not a folder");
    }
    if (fs::exists(path, ec) && !fs::is_empty(path, ec)) {
      return Status::InvalidArgument("folder " + path +
                                     " is not empty and holds no flashembed database");
    }
    return Status::NotFound("no flashembed database at " + path);
  }
  // No info log: a read-only open writes nothing (RocksDB's would rotate
  // LOG to LOG.old, which fails on a read-only filesystem).
  OpenPlan plan = PlanOpen(options, FolderLogger::Discarding());
  FE_RETURN_IF_ERROR(AddFamiliesPresent(path, &plan));
  auto rep = std::make_unique<Rep>();
  rep->read_only_reason = "database " + path + " is open read-only: " + reason;
  rocksdb::DB* raw_db = nullptr;
  // A secondary instance follows a writer (CatchUp); it keeps every table
  // file open, so the writer's compactions cannot pull one from under it.
  std::string pattern = (fs::temp_directory_path(ec) / "flashembed-reader-XXXXXX").string();
  rocksdb::Status s = rocksdb::Status::NotSupported("no temporary folder");
  if (!ec && mkdtemp(pattern.data()) != nullptr) {
    rep->secondary_dir = pattern;
    plan.db_options.max_open_files = -1;
    // Each catch-up loads the table files of every family it changed, by
    // default on up to 16 new threads each time: 50 ms a catch-up with our
    // nine families, against 0.2-0.5 ms on the calling thread (measured).
    plan.db_options.max_file_opening_threads = 1;
    s = rocksdb::DB::OpenAsSecondary(plan.db_options, path, rep->secondary_dir, plan.descriptors,
                                     &rep->handles, &raw_db);
    if (!s.ok()) {
      fs::remove_all(rep->secondary_dir, ec);
      rep->secondary_dir.clear();
      rep->handles.clear();
    }
  }
  if (!s.ok()) {
    s = rocksdb::DB::OpenForReadOnly(plan.db_options, path, plan.descriptors, &rep->handles,
                                     &raw_db, /*error_if_wal_file_exists=*/false);
  }
  if (!s.ok()) return FromRocks(s, "opening database " + path + " read-only");
  rep->db.reset(raw_db);
  std::string version;
  s = rep->db->Get(rocksdb::ReadOptions(), rep->cf(Cf::kMeta), ToSlice(kFormatKey), &version);
  // No marker: a folder whose creation was cut short, which holds nothing.
  if (s.ok()) {
    FE_RETURN_IF_ERROR(CheckFormatVersion(path, version));
  } else if (!s.IsNotFound()) {
    return FromRocks(s, "reading format version");
  }
  auto store = std::unique_ptr<Store>(new Store(path, std::move(rep)));
  // The open read the MANIFEST, then the log files: a flush the writer made
  // in between is only seen by the next catch-up.
  if (store->can_catch_up()) FE_RETURN_IF_ERROR(store->CatchUp().status());
  return store;
}

bool Store::can_catch_up() const { return !rep_->secondary_dir.empty(); }

Result<bool> Store::CatchUp() {
  if (!can_catch_up()) return false;
  bool changed = false;
  rocksdb::Status error;
  for (int round = 0; round < 8; ++round) {
    const rocksdb::SequenceNumber before = rep_->db->GetLatestSequenceNumber();
    rocksdb::Status s = rep_->db->TryCatchUpWithPrimary();
    if (!s.ok()) {
      // Say, a table file compacted away between reading the MANIFEST and
      // opening it: the next round reads the MANIFEST again.
      error = s;
      continue;
    }
    error = rocksdb::Status::OK();
    if (rep_->db->GetLatestSequenceNumber() == before) return changed;
    changed = true;
  }
  if (!error.ok()) return FromRocks(error, "catching up with the writer of " + path_);
  return changed;  // the writer kept writing: the next catch-up sees more
}

Status Store::Write(const WriteBatch& batch, bool sync) {
  if (read_only()) return Status::NotSupported(rep_->read_only_reason + "; writes are refused");
  // After a write error RocksDB refuses writes until resumed; resume now if
  // the time has come (else RocksDB returns the error still in force).
  if (rep_->errors->failed) Health().IgnoreError();
  rocksdb::WriteBatch wb(batch.rep_->bytes + 64 * batch.rep_->ops.size());
  for (const auto& op : batch.rep_->ops) {
    rocksdb::Status s;
    switch (op.kind) {
      case WriteBatch::Rep::Op::kPut:
        s = wb.Put(rep_->cf(op.cf), ToSlice(op.a), ToSlice(op.b));
        break;
      case WriteBatch::Rep::Op::kDelete: s = wb.Delete(rep_->cf(op.cf), ToSlice(op.a)); break;
      case WriteBatch::Rep::Op::kDeleteRange:
        s = wb.DeleteRange(rep_->cf(op.cf), ToSlice(op.a), ToSlice(op.b));
        break;
    }
    if (!s.ok()) return FromRocks(s, "building write batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  FE_RETURN_IF_ERROR(FromRocks(rep_->db->Write(wo, &wb), "writing batch"));
  for (const auto& op : batch.rep_->ops) {
    if (op.kind == WriteBatch::Rep::Op::kDeleteRange) QueueCompaction(op.cf, op.a, op.b, false);
  }
  return Status::OK();
}

struct ReadView::Rep {
  rocksdb::DB* db;
  const rocksdb::Snapshot* snapshot;
  ~Rep() {
    if (snapshot != nullptr) db->ReleaseSnapshot(snapshot);
  }
};

ReadView::ReadView(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
ReadView::~ReadView() = default;
ReadView::ReadView(ReadView&&) noexcept = default;
ReadView& ReadView::operator=(ReadView&&) noexcept = default;

ReadView Store::NewReadView() const {
  auto rep = std::make_unique<ReadView::Rep>();
  rep->db = rep_->db.get();
  // A secondary instance has no snapshots (its iterators refuse them), and
  // needs none: it changes only in CatchUp(), which no read overlaps.
  rep->snapshot = can_catch_up() ? nullptr : rep_->db->GetSnapshot();
  return ReadView(std::move(rep));
}

namespace {
rocksdb::ReadOptions ReadOptionsFor(const ReadView* view) {
  rocksdb::ReadOptions ro;
  if (view != nullptr) ro.snapshot = view->rep()->snapshot;
  return ro;
}
}  // namespace

Result<std::string> Store::Get(Cf cf, std::string_view key, const ReadView* view) const {
  std::string value;
  rocksdb::Status s = rep_->db->Get(ReadOptionsFor(view), rep_->cf(cf), ToSlice(key), &value);
  if (s.IsNotFound()) return Status::NotFound(std::string("key not found in ") + CfName(cf));
  if (!s.ok()) return FromRocks(s, std::string("reading ") + CfName(cf));
  return value;
}

Result<std::vector<std::optional<std::string>>> Store::MultiGet(Cf cf,
                                                                std::span<const std::string> keys,
                                                                const ReadView* view) const {
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const auto& k : keys) slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  rep_->db->MultiGet(ReadOptionsFor(view), rep_->cf(cf), keys.size(), slices.data(), values.data(),
                     statuses.data());
  std::vector<std::optional<std::string>> out(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    if (statuses[i].ok()) {
      out[i] = values[i].ToString();
    } else if (!statuses[i].IsNotFound()) {
      return FromRocks(statuses[i], std::string("reading ") + CfName(cf));
    }
  }
  return out;
}

Status Store::Scan(Cf cf, std::string_view begin, std::string_view end,
                   const std::function<bool(std::string_view, std::string_view)>& fn,
                   const ReadView* view) const {
  rocksdb::ReadOptions ro;
  if (view != nullptr) ro.snapshot = view->rep()->snapshot;
  rocksdb::Slice upper = ToSlice(end);
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, rep_->cf(cf)));
  for (it->Seek(ToSlice(begin)); it->Valid(); it->Next()) {
    if (!fn(ToView(it->key()), ToView(it->value()))) break;
  }
  return FromRocks(it->status(), std::string("scanning ") + CfName(cf));
}

Result<std::string> Store::LastKey(Cf cf, std::string_view begin, std::string_view end) const {
  rocksdb::ReadOptions ro;
  rocksdb::Slice lower = ToSlice(begin);
  rocksdb::Slice upper = ToSlice(end);
  ro.iterate_lower_bound = &lower;
  if (!end.empty()) ro.iterate_upper_bound = &upper;
  std::unique_ptr<rocksdb::Iterator> it(rep_->db->NewIterator(ro, rep_->cf(cf)));
  if (end.empty()) {
    it->SeekToLast();
  } else {
    it->SeekForPrev(upper);
    if (it->Valid() && it->key().compare(upper) >= 0) it->Prev();
  }
  if (!it->status().ok()) return FromRocks(it->status(), std::string("scanning ") + CfName(cf));
  if (!it->Valid()) return Status::NotFound(std::string("no key in range of ") + CfName(cf));
  return std::string(ToView(it->key()));
}

Status Store::SyncWal() {
  if (read_only()) return Status::NotSupported(rep_->read_only_reason + "; writes are refused");
  if (rep_->errors->failed) Health().IgnoreError();
  // Not DB::SyncWAL(): after a failed WAL append, librocksdb 7.8 (built with
  // assertions) aborts in SyncWAL on the failed file. An empty batch written
  // with sync fsyncs the same log through the write path, which returns the
  // error that stopped writes instead.
  rocksdb::WriteBatch empty;
  rocksdb::WriteOptions wo;
  wo.sync = true;
  return FromRocks(rep_->db->Write(wo, &empty), "syncing the write-ahead log");
}

Status Store::Health() {
  if (read_only()) return Status::NotSupported(rep_->read_only_reason);
  WriteErrors& e = *rep_->errors;
  std::unique_lock<std::mutex> lock(e.mu);
  if (e.error.ok()) return Status::OK();
  const auto now = std::chrono::steady_clock::now();
  if (now < e.next_resume) return e.error;
  e.next_resume = now + kResumeInterval;
  const uint64_t generation = e.generation;
  // Resume() calls the listener (which takes mu) when it fails again.
  lock.unlock();
  rocksdb::Status s = rep_->db->Resume();
  lock.lock();
  // An error reported meanwhile (by another write) stands.
  if (s.ok() && e.generation == generation) {
    e.error = Status::OK();
    e.failed = false;
  }
  return e.error;
}

Status Store::Flush() {
  if (read_only()) return Status::OK();
  FE_RETURN_IF_ERROR(Health());
  rocksdb::FlushOptions fo;
  fo.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> ours(rep_->handles.begin(),
                                                 rep_->handles.begin() + kNumCfs);
  return FromRocks(rep_->db->Flush(fo, ours), "flushing");
}

namespace {

// A manual compaction down to the last level even when the range's files
// already sit there, so their tombstones and overwritten values are dropped;
// other compactions go on meanwhile.
rocksdb::CompactRangeOptions ToLastLevel() {
  rocksdb::CompactRangeOptions co;
  co.bottommost_level_compaction = rocksdb::BottommostLevelCompaction::kForceOptimized;
  co.exclusive_manual_compaction = false;
  return co;
}

}  // namespace

Status Store::Compact(std::string_view begin, std::string_view end) {
  if (read_only()) return Status::NotSupported(rep_->read_only_reason + "; writes are refused");
  FE_RETURN_IF_ERROR(Health());
  const rocksdb::CompactRangeOptions co = ToLastLevel();
  const rocksdb::Slice b = ToSlice(begin);
  const rocksdb::Slice e = ToSlice(end);
  for (int i = 0; i < kNumCfs; ++i) {
    const rocksdb::Status st =
        rep_->db->CompactRange(co, rep_->handles[i], &b, end.empty() ? nullptr : &e);
    if (st.IsIncomplete() && st.subcode() == rocksdb::Status::kManualCompactionPaused) {
      return Status::Cancelled("compaction cancelled: the database is closing");
    }
    FE_RETURN_IF_ERROR(FromRocks(st, std::string("compacting ") + CfName(static_cast<Cf>(i))));
  }
  return Status::OK();
}

void Store::ScheduleCompaction(Cf cf, std::string_view begin, std::string_view end) {
  QueueCompaction(cf, begin, end, /*flush=*/true);
}

void Store::QueueCompaction(Cf cf, std::string_view begin, std::string_view end, bool flush) {
  if (read_only()) return;
  Rep& r = *rep_;
  std::lock_guard<std::mutex> lock(r.compact_mu);
  if (r.compact_stop) return;
  r.compact_flush = r.compact_flush || flush;
  Rep::Range range{cf, std::string(begin), std::string(end)};
  if (std::find(r.compact_queue.begin(), r.compact_queue.end(), range) != r.compact_queue.end()) {
    return;
  }
  r.compact_queue.push_back(std::move(range));
  if (!r.compact_thread.joinable()) {
    r.compact_thread = std::thread([rep = rep_.get()] { RunCompactions(rep); });
  }
  r.compact_cv.notify_all();
}

void Store::RunCompactions(Rep* rep) {
  Rep& r = *rep;
  std::unique_lock<std::mutex> lock(r.compact_mu);
  while (true) {
    r.compact_cv.wait(lock, [&] { return r.compact_stop || !r.compact_queue.empty(); });
    if (r.compact_stop) break;
    Rep::Range range = std::move(r.compact_queue.front());
    r.compact_queue.pop_front();
    r.compact_running = true;
    lock.unlock();
    const rocksdb::CompactRangeOptions co = ToLastLevel();
    const rocksdb::Slice b = ToSlice(range.begin);
    const rocksdb::Slice e = ToSlice(range.end);
    // A failure (a full disk, the store closing) leaves the space for the
    // next compaction, RocksDB's own or a later request.
    r.db->CompactRange(co, r.cf(range.cf), &b, range.end.empty() ? nullptr : &e)
        .PermitUncheckedError();
    lock.lock();
    if (r.compact_queue.empty() && !r.compact_stop && r.compact_flush) {
      // The log files go only once every family's memtable is flushed: the
      // catalog's, written by every batch, would otherwise keep them (up to
      // max_total_wal_size) although the compacted data is gone.
      r.compact_flush = false;
      lock.unlock();
      rocksdb::FlushOptions fo;
      fo.wait = true;
      fo.allow_write_stall = true;
      std::vector<rocksdb::ColumnFamilyHandle*> ours(r.handles.begin(),
                                                     r.handles.begin() + kNumCfs);
      r.db->Flush(fo, ours).PermitUncheckedError();
      lock.lock();
    }
    r.compact_running = false;
    ++r.compact_done;
    r.compact_cv.notify_all();
  }
}

uint64_t Store::WaitForCompactions() {
  Rep& r = *rep_;
  std::unique_lock<std::mutex> lock(r.compact_mu);
  r.compact_cv.wait(
      lock, [&] { return r.compact_stop || (r.compact_queue.empty() && !r.compact_running); });
  return r.compact_done;
}

Result<uint64_t> Store::ApproximateBytes(std::string_view begin, std::string_view end) const {
  const std::string limit = end.empty() ? std::string(64, '\xff') : std::string(end);
  const rocksdb::Range range(ToSlice(begin), ToSlice(limit));
  rocksdb::SizeApproximationOptions so;
  so.include_files = true;
  so.include_memtables = true;
  uint64_t total = 0;
  for (int i = 0; i < kNumCfs; ++i) {
    uint64_t bytes = 0;
    FE_RETURN_IF_ERROR(
        FromRocks(rep_->db->GetApproximateSizes(so, rep_->handles[i], &range, 1, &bytes),
                  std::string("estimating the size of ") + CfName(static_cast<Cf>(i))));
    total += bytes;
  }
  return total;
}

Status Store::Checkpoint(const std::string& dest) {
  namespace fs = std::filesystem;
  if (read_only()) {
    return Status::NotSupported(rep_->read_only_reason +
                                "; a backup needs the process that holds the folder");
  }
  std::error_code ec;
  if (fs::exists(dest, ec)) return Status::AlreadyExists("backup destination " + dest + " exists");
  FE_RETURN_IF_ERROR(Health());
  rocksdb::Checkpoint* raw = nullptr;
  FE_RETURN_IF_ERROR(FromRocks(rocksdb::Checkpoint::Create(rep_->db.get(), &raw),
                               "preparing a backup of " + path_));
  std::unique_ptr<rocksdb::Checkpoint> checkpoint(raw);
  // log_size_for_flush 0: memtables are flushed first, so the copy holds
  // SST files plus the short log written during the flush.
  const rocksdb::Status s = checkpoint->CreateCheckpoint(dest, /*log_size_for_flush=*/0);
  if (!s.ok()) {
    fs::remove_all(dest, ec);
    return FromRocks(s, "writing a backup of " + path_ + " to " + dest);
  }
  return Status::OK();
}

}  // namespace flashembed::storage
