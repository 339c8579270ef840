#include "query/field_store.h"

#include <bit>
#include <cstring>

#include "query/filter_rows.h"
#include "storage/records.h"

namespace flashembed::query {
namespace {

enum Rank : char { kNumber = 0, kString = 1, kBool = 2 };

void PutBigEndian(std::string* out, uint64_t v) {
  for (int shift = 56; shift >= 0; shift -= 8) out->push_back(static_cast<char>((v >> shift) & 0xff));
}

// Order-preserving bytes of a double (see storage/FORMAT.md).
void PutNumber(std::string* out, double d) {
  if (d == 0) d = 0;  // -0.0 and 0.0 are one value
  uint64_t bits = std::bit_cast<uint64_t>(d);
  bits = (bits >> 63) != 0 ? ~bits : bits ^ (uint64_t{1} << 63);
  PutBigEndian(out, bits);
}

void PutString(std::string* out, std::string_view s) {
  for (char c : s) {
    out->push_back(c);
    if (c == '\0') out->push_back('\1');
  }
  out->push_back('\0');
  out->push_back('\0');
}

// The first string greater than every string that starts with `s`.
std::string Successor(std::string s) {
  while (!s.empty()) {
    auto& last = reinterpret_cast<unsigned char&>(s.back());
    if (last != 0xff) {
      ++last;
      return s;
    }
    s.pop_back();
  }
  return s;
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
  std::string key = storage::CollectionPrefix(cid_);
  key.push_back(static_cast<char>(field));
  if (v.is_number()) {
    key.push_back(kNumber);
    PutNumber(&key, v.get<double>());
  } else if (v.is_string()) {
    key.push_back(kString);
    PutString(&key, v.get_ref<const std::string&>());
  } else if (v.is_boolean()) {
    key.push_back(kBool);
    key.push_back(v.get<bool>() ? '\1' : '\0');
  } else {
    return std::nullopt;  // null, arrays and objects never satisfy a scalar conjunct
  }
  PutBigEndian(&key, slot);
  return key;
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
  std::string field_prefix = storage::CollectionPrefix(cid_);
  field_prefix.push_back(static_cast<char>(field));
  // The key prefix of one value (everything before the slot).
  auto value_prefix = [&](const FilterScalar& v) {
    std::string p = field_prefix;
    if (const auto* b = std::get_if<bool>(&v)) {
      p.push_back(kBool);
      p.push_back(*b ? '\1' : '\0');
    } else if (const auto* i = std::get_if<int64_t>(&v)) {
      p.push_back(kNumber);
      PutNumber(&p, static_cast<double>(*i));
    } else if (const auto* d = std::get_if<double>(&v)) {
      p.push_back(kNumber);
      PutNumber(&p, *d);
    } else {
      p.push_back(kString);
      PutString(&p, std::get<std::string>(v));
    }
    return p;
  };
  bool within = true;
  Status bad;
  auto take = [&](const std::string& begin, const std::string& end) -> Status {
    return store_->Scan(storage::Cf::kFields, begin, end,
                        [&](std::string_view key, std::string_view) {
                          if (key.size() < 8) {
                            bad = Status::Corruption("field index key is too short");
                            return false;
                          }
                          if (out->size() >= limit) {
                            within = false;
                            return false;
                          }
                          uint64_t slot = 0;
                          for (char ch : key.substr(key.size() - 8)) {
                            slot = (slot << 8) | static_cast<unsigned char>(ch);
                          }
                          out->push_back(slot);
                          return true;
                        });
  };
  if (c.kind != FilterConjunct::Kind::kRange) {
    for (const FilterScalar& v : c.values) {
      const std::string p = value_prefix(v);
      FE_RETURN_IF_ERROR(take(p, Successor(p)));
      FE_RETURN_IF_ERROR(bad);
      if (!within) return false;
    }
    return true;
  }
  // A range orders numbers with numbers and strings with strings only;
  // bounds are taken inclusively (a superset).
  const FilterScalar& any = c.lower ? *c.lower : *c.upper;
  std::string rank_prefix = value_prefix(any).substr(0, field_prefix.size() + 1);
  const std::string begin = c.lower ? value_prefix(*c.lower) : rank_prefix;
  const std::string end = c.upper ? Successor(value_prefix(*c.upper)) : Successor(rank_prefix);
  FE_RETURN_IF_ERROR(take(begin, end));
  FE_RETURN_IF_ERROR(bad);
  return within;
}

}  // namespace flashembed::query
