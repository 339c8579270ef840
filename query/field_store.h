// Indexes of a collection's declared metadata fields, stored in RocksDB
// (family `fields`, keys built by storage/records.h, bytes in
// storage/FORMAT.md), internal to query/.
//
// They answer the same lookups as the in-memory FieldIndex of
// filter_rows.h (a superset of the slots whose value satisfies a simple
// conjunct), but without loading every document's metadata first: a
// selective filter on a declared field costs its candidates from the first
// search on. Entries are written in the same batch as the documents.
#ifndef FLASHEMBED_QUERY_FIELD_STORE_H_
#define FLASHEMBED_QUERY_FIELD_STORE_H_

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "filter/filter.h"
#include "storage/store.h"

namespace flashembed::query {

class FieldStore {
 public:
  // `paths`: the declared fields' key paths, numbered by position.
  FieldStore(storage::Store* store, uint32_t cid, std::vector<std::vector<std::string>> paths)
      : store_(store), cid_(cid), paths_(std::move(paths)) {}

  const std::vector<std::vector<std::string>>& paths() const { return paths_; }

  // The declared field number of `path`, if it is one.
  std::optional<size_t> FieldOf(const std::vector<std::string>& path) const;

  // Adds (or, with AppendRemove, deletes) the entries of document `slot`
  // with parsed `metadata` to `batch`.
  void AppendAdd(uint64_t slot, const nlohmann::json& metadata, storage::WriteBatch* batch) const;
  void AppendRemove(uint64_t slot, const nlohmann::json& metadata,
                    storage::WriteBatch* batch) const;
  static void AppendDropAll(uint32_t cid, storage::WriteBatch* batch);

  // Appends to `out` the slots whose value of declared field `field` may
  // satisfy `c` (a superset; duplicates possible for `in`). Returns false
  // (out unspecified) once there would be more than `limit`.
  Result<bool> Candidates(size_t field, const FilterConjunct& c, size_t limit,
                          std::vector<uint64_t>* out) const;

 private:
  // The key of `slot` under value `v` of field `field`, or nullopt when v
  // is not a scalar.
  std::optional<std::string> Key(size_t field, const nlohmann::json& v, uint64_t slot) const;
  // The keys of document `slot` with parsed `metadata`, one per declared
  // field whose value is a scalar.
  std::vector<std::string> Keys(uint64_t slot, const nlohmann::json& metadata) const;

  storage::Store* const store_;
  const uint32_t cid_;
  const std::vector<std::vector<std::string>> paths_;
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_FIELD_STORE_H_
