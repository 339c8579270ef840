#include "query/collection_handle.h"

#include <thread>
#include <utility>

#include "query/collection_impl.h"
#include "query/refresh_gate.h"

namespace flashembed::query {

CollectionHandle::CollectionHandle(std::shared_ptr<CollectionImpl> impl,
                                   std::shared_ptr<RefreshGate> gate)
    : name_(impl->name()), gate_(std::move(gate)), impl_(std::move(impl)) {}

CollectionHandle::~CollectionHandle() = default;

std::shared_ptr<CollectionImpl> CollectionHandle::impl() const {
  std::lock_guard<std::mutex> lock(mu_);
  return impl_;
}

void CollectionHandle::Switch(std::shared_ptr<CollectionImpl> impl) {
  std::lock_guard<std::mutex> lock(mu_);
  impl_ = std::move(impl);
}

template <typename F>
auto CollectionHandle::Run(bool read, F&& f) const -> decltype(f(std::declval<CollectionImpl&>())) {
  // Beside a writer: no catch-up while the call runs (it may switch impl_).
  RefreshGate::ReadLock gate;
  if (gate_) gate = gate_->Read();
  for (;;) {
    std::shared_ptr<CollectionImpl> current = impl();
    auto result = f(*current);
    // A write that succeeded took effect before the switch (the replaced
    // implementation refuses every call from the switch on). A read may
    // finish part of its work outside the index lock (document search reads
    // the documents' records after ranking their chunks), so it can succeed
    // with what the switch deleted under it missing; the state turns
    // kReplaced before the switch deletes anything, so a read that sees it
    // open afterwards read nothing the switch changed.
    if (!current->replaced() || (result.ok() && !read)) return result;
    // Replaced: the switch is being written, or was; wait until the handle
    // points to the new implementation, or the switch failed and the old
    // one is open again.
    while (impl() == current && current->replaced()) std::this_thread::yield();
  }
}

template <typename F>
auto CollectionHandle::Call(F&& f) const -> decltype(f(std::declval<CollectionImpl&>())) {
  return Run(/*read=*/false, std::forward<F>(f));
}

template <typename F>
auto CollectionHandle::Read(F&& f) const -> decltype(f(std::declval<CollectionImpl&>())) {
  return Run(/*read=*/true, std::forward<F>(f));
}

Result<CollectionInfo> CollectionHandle::Describe() const {
  return Read([&](CollectionImpl& c) { return c.Describe(); });
}

Result<uint64_t> CollectionHandle::Count() const {
  return Read([&](CollectionImpl& c) { return c.Count(); });
}

Status CollectionHandle::Add(const WriteOptions& options, std::span<const Document> docs) {
  return Call([&](CollectionImpl& c) { return c.Add(options, docs); });
}

Status CollectionHandle::Upsert(const WriteOptions& options, std::span<const Document> docs) {
  return Call([&](CollectionImpl& c) { return c.Upsert(options, docs); });
}

Result<size_t> CollectionHandle::Delete(const WriteOptions& options, std::span<const Id> ids) {
  return Call([&](CollectionImpl& c) { return c.Delete(options, ids); });
}

Result<Document> CollectionHandle::Get(const Id& id) const {
  return Read([&](CollectionImpl& c) { return c.Get(id); });
}

Result<std::vector<Document>> CollectionHandle::GetMany(std::span<const Id> ids,
                                                        bool with_vector) const {
  return Read([&](CollectionImpl& c) { return c.GetMany(ids, with_vector); });
}

Result<std::vector<Document>> CollectionHandle::Find(const FindOptions& options) const {
  return Read([&](CollectionImpl& c) { return c.Find(options); });
}

Result<uint64_t> CollectionHandle::CountWhere(std::string_view filter,
                                              std::string_view filter_params) const {
  return Read([&](CollectionImpl& c) { return c.CountWhere(filter, filter_params); });
}

Result<size_t> CollectionHandle::DeleteWhere(const WriteOptions& options, std::string_view filter,
                                             std::string_view filter_params) {
  return Call([&](CollectionImpl& c) { return c.DeleteWhere(options, filter, filter_params); });
}

Result<std::vector<Hit>> CollectionHandle::Search(const SearchOptions& options,
                                                  const Query& query) const {
  return Read([&](CollectionImpl& c) { return c.Search(options, query); });
}

Status CollectionHandle::Snapshot() {
  return Call([&](CollectionImpl& c) { return c.Snapshot(); });
}

Result<std::shared_ptr<const TextModel>> CollectionHandle::Model() const { return impl()->Model(); }

Result<std::vector<PutDocumentResult>> CollectionHandle::PutDocuments(
    const WriteOptions& options, const ChunkingOptions& chunking,
    std::span<const SourceDocument> docs) {
  return Call([&](CollectionImpl& c) { return c.PutDocuments(options, chunking, docs); });
}

Result<DocumentInfo> CollectionHandle::GetDocument(std::string_view id, bool with_vector) const {
  return Read([&](CollectionImpl& c) { return c.GetDocument(id, with_vector); });
}

Result<size_t> CollectionHandle::DeleteDocuments(const WriteOptions& options,
                                                 std::span<const std::string> ids) {
  return Call([&](CollectionImpl& c) { return c.DeleteDocuments(options, ids); });
}

Result<uint64_t> CollectionHandle::CountDocuments() const {
  return Read([&](CollectionImpl& c) { return c.CountDocuments(); });
}

Result<std::vector<DocumentHit>> CollectionHandle::SearchDocuments(
    const DocumentSearchOptions& options, const Query& query) const {
  return Read([&](CollectionImpl& c) { return c.SearchDocuments(options, query); });
}

Result<std::unique_ptr<DocumentIngest>> CollectionHandle::StartIngest(
    const IngestOptions& options) {
  return Call([&](CollectionImpl& c) { return c.StartIngest(options); });
}

Status CollectionHandle::ScanRecords(
    const ScanOptions& options,
    const std::function<Status(std::span<const Document>)>& visit) const {
  // Run again only if nothing was visited: the visitor must not see a
  // record twice.
  bool visited = false;
  auto once = [&](std::span<const Document> docs) {
    visited = true;
    return visit(docs);
  };
  for (;;) {
    std::shared_ptr<CollectionImpl> current = impl();
    Status s = current->ScanRecords(options, once);
    if (s.ok() || visited || !current->replaced()) return s;
    while (impl() == current && current->replaced()) std::this_thread::yield();
  }
}

Status CollectionHandle::ScanDocuments(
    bool with_vector, const std::function<Status(const DocumentInfo&)>& visit) const {
  bool visited = false;
  auto once = [&](const DocumentInfo& info) {
    visited = true;
    return visit(info);
  };
  for (;;) {
    std::shared_ptr<CollectionImpl> current = impl();
    Status s = current->ScanDocuments(with_vector, once);
    if (s.ok() || visited || !current->replaced()) return s;
    while (impl() == current && current->replaced()) std::this_thread::yield();
  }
}

Status CollectionHandle::RestoreDocuments(const WriteOptions& options,
                                          std::span<const Document> chunks,
                                          std::span<const DocumentInfo> documents) {
  return Call([&](CollectionImpl& c) { return c.RestoreDocuments(options, chunks, documents); });
}

}  // namespace flashembed::query
