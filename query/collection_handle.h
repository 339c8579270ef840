// CollectionHandle: the Collection that Database hands out. It forwards
// every call to the collection's current CollectionImpl, so a handle stays
// valid when a re-embedding (Database::Reembed) switches the collection to
// a new CollectionImpl. Internal to query/.
#ifndef FLASHEMBED_QUERY_COLLECTION_HANDLE_H_
#define FLASHEMBED_QUERY_COLLECTION_HANDLE_H_

#include <memory>
#include <mutex>
#include <string>

#include "query/database.h"

namespace flashembed::query {

class CollectionImpl;
class RefreshGate;

// A call that fails on an implementation a re-embedding has replaced meanwhile
// runs again on the new one (the replaced one refuses every call from the
// switch on, before it changed anything, so a call never takes effect twice).
// A read runs again whenever its implementation was replaced by the time it
// returned, even if it succeeded: it may have missed what the switch deleted.
// A DocumentIngest started before the switch is not moved: it fails with
// Cancelled at the switch.
class CollectionHandle final : public Collection {
 public:
  // `gate` (may be null): a read-only database's catch-up with a writer,
  // held shared around every call (query/refresh_gate.h).
  explicit CollectionHandle(std::shared_ptr<CollectionImpl> impl,
                            std::shared_ptr<RefreshGate> gate = nullptr);
  ~CollectionHandle() override;

  // The current implementation.
  std::shared_ptr<CollectionImpl> impl() const;
  // Makes `impl` the current implementation. REQUIRES: the old one is being
  // replaced (its calls fail from now on).
  void Switch(std::shared_ptr<CollectionImpl> impl);

  const std::string& name() const override { return name_; }
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

 private:
  // f(impl) on the current implementation, again on the next one while the
  // one it ran on was replaced by the time it returned and the call failed,
  // or (`read`) whether or not it failed.
  template <typename F>
  auto Run(bool read, F&& f) const -> decltype(f(std::declval<CollectionImpl&>()));
  template <typename F>
  auto Call(F&& f) const -> decltype(f(std::declval<CollectionImpl&>()));  // writes
  template <typename F>
  auto Read(F&& f) const -> decltype(f(std::declval<CollectionImpl&>()));  // reads

  const std::string name_;
  const std::shared_ptr<RefreshGate> gate_;
  mutable std::mutex mu_;  // guards impl_
  std::shared_ptr<CollectionImpl> impl_;
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_COLLECTION_HANDLE_H_
