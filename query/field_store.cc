#include "query/field_store.h"

#include "query/filter_rows.h"
#include "storage/records.h"

namespace flashembed::query {
namespace {

// The key prefix of value `v` of declared field `field` (storage/records.h).
std::string ValuePrefix(uint32_t cid, size_t field, const FilterScalar& v) {
  const auto f = static_cast<uint8_t>(field);
  if (const auto* b = std::get_if<bool>(&v)) return storage::FieldBoolPrefix(cid, f, *b);
  if (const auto* i = std::get_if<int64_t>(&v)) {
    return storage::FieldNumberPrefix(cid, f, static_cast<double>(*i));
  }
  if (const auto* d = std::get_if<double>(&v)) return storage::FieldNumberPrefix(cid, f, *d);
  return storage::FieldStringPrefix(cid, f, std::get<std::string>(v));
}

storage::FieldRank RankOf(const FilterScalar& v) {
  if (std::holds_alternative<bool>(v)) return storage::FieldRank::kBool;
  if (std::holds_alternative<std::string>(v)) return storage::FieldRank::kString;
  return storage::FieldRank::kNumber;
}

}  // namespace

std::optional<size_t> FieldStore::FieldOf(const std::vector<std::string>& path) const {
  for (size_t i = 0; i < paths_.size(); ++i) {
    if (paths_[i] == path) return i;
  }
  return std::nullopt;
}

std::optional<std::string> FieldStore::Key(size_t field, const nlohmann::json& v,
                                           uint64_t slot) const {
  const auto f = static_cast<uint8_t>(field);
  std::string prefix;
  if (v.is_number()) {
    prefix = storage::FieldNumberPrefix(cid_, f, v.get<double>());
  } else if (v.is_string()) {
    prefix = storage::FieldStringPrefix(cid_, f, v.get_ref<const std::string&>());
  } else if (v.is_boolean()) {
    prefix = storage::FieldBoolPrefix(cid_, f, v.get<bool>());
  } else {
    return std::nullopt;  // null, arrays and objects never satisfy a scalar conjunct
  }
  return storage::FieldKey(prefix, slot);
}

std::vector<std::string> FieldStore::Keys(uint64_t slot, const nlohmann::json& metadata) const {
  std::vector<std::string> keys;
  for (size_t f = 0; f < paths_.size(); ++f) {
    const nlohmann::json* v = ValueAt(metadata, paths_[f]);
    if (v == nullptr) continue;
    if (auto key = Key(f, *v, slot)) keys.push_back(std::move(*key));
  }
  return keys;
}

void FieldStore::AppendAdd(uint64_t slot, const nlohmann::json& metadata,
                           storage::WriteBatch* batch) const {
  for (const std::string& key : Keys(slot, metadata)) batch->Put(storage::Cf::kFields, key, "");
}

void FieldStore::AppendRemove(uint64_t slot, const nlohmann::json& metadata,
                              storage::WriteBatch* batch) const {
  for (const std::string& key : Keys(slot, metadata)) batch->Delete(storage::Cf::kFields, key);
}

void FieldStore::AppendDropAll(uint32_t cid, storage::WriteBatch* batch) {
  batch->DeleteRange(storage::Cf::kFields, storage::CollectionPrefix(cid),
                     storage::CollectionEnd(cid));
}

Result<bool> FieldStore::Candidates(size_t field, const FilterConjunct& c, size_t limit,
                                    std::vector<uint64_t>* out) const {
  auto value_prefix = [&](const FilterScalar& v) { return ValuePrefix(cid_, field, v); };
  bool within = true;
  Status bad;
  auto take = [&](const std::string& begin, const std::string& end) -> Status {
    return store_->Scan(storage::Cf::kFields, begin, end,
                        [&](std::string_view key, std::string_view) {
                          auto slot = storage::SlotFromFieldKey(key);
                          if (!slot.ok()) {
                            bad = slot.status();
                            return false;
                          }
                          if (out->size() >= limit) {
                            within = false;
                            return false;
                          }
                          out->push_back(*slot);
                          return true;
                        });
  };
  if (c.kind != FilterConjunct::Kind::kRange) {
    for (const FilterScalar& v : c.values) {
      const std::string p = value_prefix(v);
      FE_RETURN_IF_ERROR(take(p, storage::PrefixEnd(p)));
      FE_RETURN_IF_ERROR(bad);
      if (!within) return false;
    }
    return true;
  }
  // A range orders numbers with numbers and strings with strings only;
  // bounds are taken inclusively (a superset).
  const FilterScalar& any = c.lower ? *c.lower : *c.upper;
  const std::string rank_prefix =
      storage::FieldRankPrefix(cid_, static_cast<uint8_t>(field), RankOf(any));
  const std::string begin = c.lower ? value_prefix(*c.lower) : rank_prefix;
  const std::string end = storage::PrefixEnd(c.upper ? value_prefix(*c.upper) : rank_prefix);
  FE_RETURN_IF_ERROR(take(begin, end));
  FE_RETURN_IF_ERROR(bad);
  return within;
}

}  // namespace flashembed::query
