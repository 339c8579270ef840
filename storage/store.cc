#include "storage/store.h"

#include <filesystem>
#include <system_error>

#include <rocksdb/cache.h>
#include <rocksdb/db.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

namespace flashembed::storage {
namespace {

constexpr const char* kCfNames[kNumCfs] = {
    "default", "catalog", "documents", "vectors", "ids", "oplog", "snapshots", "postings", "fields",
    "sources"};
constexpr std::string_view kFormatKey = "flashembed_format_version";

Status FromRocks(const rocksdb::Status& s, const std::string& context) {
  if (s.ok()) return Status::OK();
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

struct Store::Rep {
  std::unique_ptr<rocksdb::DB> db;
  std::vector<rocksdb::ColumnFamilyHandle*> handles;  // every family opened, ours first
  rocksdb::ColumnFamilyHandle* cf(Cf c) const { return handles[static_cast<int>(c)]; }
  ~Rep() {
    if (db) {
      for (auto* h : handles) db->DestroyColumnFamilyHandle(h).PermitUncheckedError();
      db->Close().PermitUncheckedError();
    }
  }
};

Store::Store(std::string path, std::unique_ptr<Rep> rep)
    : path_(std::move(path)), rep_(std::move(rep)) {}
Store::~Store() = default;

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

Result<std::unique_ptr<Store>> Store::Open(const StoreOptions& options, const std::string& path) {
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
    if (ec) return Status::IOError("cannot create folder " + path + ": " + ec.message());
  }

  rocksdb::Options db_options;
  db_options.create_if_missing = true;
  db_options.create_missing_column_families = true;
  db_options.max_background_jobs = 2;
  db_options.keep_log_file_num = 3;
  db_options.max_total_wal_size = 256u << 20;

  rocksdb::BlockBasedTableOptions table;
  table.block_cache = rocksdb::NewLRUCache(options.block_cache_bytes);
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  rocksdb::ColumnFamilyOptions cf_options;
  cf_options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  cf_options.compression = rocksdb::kLZ4Compression;
  rocksdb::ColumnFamilyOptions raw_options = cf_options;  // float vectors and index bytes
  raw_options.compression = rocksdb::kNoCompression;

  // RocksDB must open every family present; unknown ones (a newer writer)
  // are opened too and left alone.
  std::vector<std::string> names;
  if (has_current) {
    rocksdb::Status s = rocksdb::DB::ListColumnFamilies(db_options, path, &names);
    if (!s.ok()) return FromRocks(s, "listing column families of " + path);
    FE_RETURN_IF_ERROR(CheckExistingFolder(db_options, path, names));
  }
  std::vector<rocksdb::ColumnFamilyDescriptor> descriptors;
  for (int i = 0; i < kNumCfs; ++i) {
    Cf c = static_cast<Cf>(i);
    bool raw = c == Cf::kVectors || c == Cf::kSnapshots;
    descriptors.emplace_back(kCfNames[i], raw ? raw_options : cf_options);
  }
  for (const auto& n : names) {
    bool ours = false;
    for (const char* k : kCfNames) ours = ours || n == k;
    if (!ours) descriptors.emplace_back(n, cf_options);
  }

  auto rep = std::make_unique<Rep>();
  rocksdb::DB* raw_db = nullptr;
  rocksdb::Status s = rocksdb::DB::Open(db_options, path, descriptors, &rep->handles, &raw_db);
  if (!s.ok()) return FromRocks(s, "opening database " + path);
  rep->db.reset(raw_db);

  std::string version;
  s = rep->db->Get(rocksdb::ReadOptions(), rep->cf(Cf::kMeta), ToSlice(kFormatKey), &version);
  if (s.IsNotFound()) {
    // A new folder, or one whose creation was cut short (checked above).
    rocksdb::WriteOptions wo;
    wo.sync = true;
    s = rep->db->Put(wo, rep->cf(Cf::kMeta), ToSlice(kFormatKey), EncodeU32(kFormatVersion));
    if (!s.ok()) return FromRocks(s, "writing format version");
  } else if (!s.ok()) {
    return FromRocks(s, "reading format version");
  } else {
    if (version.size() != 4) return Status::Corruption("format version record is malformed");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      v |= static_cast<uint32_t>(static_cast<unsigned char>(version[i])) << (8 * i);
    }
    if (v != kFormatVersion) {
      return Status::NotSupported("database " + path + " has format version " + std::to_string(v) +
                                  "; this build reads version " + std::to_string(kFormatVersion));
    }
  }
  return std::unique_ptr<Store>(new Store(path, std::move(rep)));
}

Status Store::Write(const WriteBatch& batch, bool sync) {
  rocksdb::WriteBatch wb(batch.rep_->bytes + 64 * batch.rep_->ops.size());
  for (const auto& op : batch.rep_->ops) {
    rocksdb::Status s;
    switch (op.kind) {
      case WriteBatch::Rep::Op::kPut: s = wb.Put(rep_->cf(op.cf), ToSlice(op.a), ToSlice(op.b)); break;
      case WriteBatch::Rep::Op::kDelete: s = wb.Delete(rep_->cf(op.cf), ToSlice(op.a)); break;
      case WriteBatch::Rep::Op::kDeleteRange:
        s = wb.DeleteRange(rep_->cf(op.cf), ToSlice(op.a), ToSlice(op.b));
        break;
    }
    if (!s.ok()) return FromRocks(s, "building write batch");
  }
  rocksdb::WriteOptions wo;
  wo.sync = sync;
  return FromRocks(rep_->db->Write(wo, &wb), "writing batch");
}

struct ReadView::Rep {
  rocksdb::DB* db;
  const rocksdb::Snapshot* snapshot;
  ~Rep() { db->ReleaseSnapshot(snapshot); }
};

ReadView::ReadView(std::unique_ptr<Rep> rep) : rep_(std::move(rep)) {}
ReadView::~ReadView() = default;
ReadView::ReadView(ReadView&&) noexcept = default;
ReadView& ReadView::operator=(ReadView&&) noexcept = default;

ReadView Store::NewReadView() const {
  auto rep = std::make_unique<ReadView::Rep>();
  rep->db = rep_->db.get();
  rep->snapshot = rep_->db->GetSnapshot();
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

Result<std::vector<std::optional<std::string>>> Store::MultiGet(
    Cf cf, std::span<const std::string> keys, const ReadView* view) const {
  std::vector<rocksdb::Slice> slices;
  slices.reserve(keys.size());
  for (const auto& k : keys) slices.emplace_back(k);
  std::vector<rocksdb::PinnableSlice> values(keys.size());
  std::vector<rocksdb::Status> statuses(keys.size());
  rep_->db->MultiGet(ReadOptionsFor(view), rep_->cf(cf), keys.size(), slices.data(),
                     values.data(), statuses.data());
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

Status Store::SyncWal() { return FromRocks(rep_->db->SyncWAL(), "syncing the write-ahead log"); }

Status Store::Flush() {
  rocksdb::FlushOptions fo;
  fo.wait = true;
  std::vector<rocksdb::ColumnFamilyHandle*> ours(rep_->handles.begin(),
                                                 rep_->handles.begin() + kNumCfs);
  return FromRocks(rep_->db->Flush(fo, ours), "flushing");
}

}  // namespace flashembed::storage
