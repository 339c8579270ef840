// The in-memory side of filtered search, internal to query/: every live
// document's id and parsed metadata by slot (FilterRows), ordered indexes of
// metadata paths (FieldIndex), and a small cache of filters' match sets.
// CollectionImpl owns one, loads it on the first filtered search and keeps
// it in step with its vector index (see collection_impl.h for the locking).
#ifndef FLASHEMBED_QUERY_FILTER_ROWS_H_
#define FLASHEMBED_QUERY_FILTER_ROWS_H_

#include <algorithm>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "filter/filter.h"
#include "query/database.h"

namespace flashembed::query {

// An ordered in-memory index of one metadata path's scalar values (number,
// string or bool) to slots, built on the first filter that could use it and
// kept current by writes. Lookups return a superset of the slots whose value
// satisfies a conjunct (numbers are keyed as doubles, and rounding keeps
// order, so bounds are widened to inclusive); the full filter is applied to
// every candidate afterwards.
class FieldIndex {
 public:
  // rank 0 numbers, 1 strings, 2 bools; values not scalar are not indexed
  // (they never satisfy ==, in or a range against a scalar).
  using Key = std::tuple<int, double, std::string>;

  static std::optional<Key> KeyOf(const nlohmann::json& v) {
    if (v.is_number()) return Key{0, v.get<double>(), {}};
    if (v.is_string()) return Key{1, 0.0, v.get<std::string>()};
    if (v.is_boolean()) return Key{2, v.get<bool>() ? 1.0 : 0.0, {}};
    return std::nullopt;
  }
  static Key KeyOf(const FilterScalar& v) {
    if (const auto* b = std::get_if<bool>(&v)) return Key{2, *b ? 1.0 : 0.0, {}};
    if (const auto* i = std::get_if<int64_t>(&v)) return Key{0, static_cast<double>(*i), {}};
    if (const auto* d = std::get_if<double>(&v)) return Key{0, *d, {}};
    return Key{1, 0.0, std::get<std::string>(v)};
  }

  void Add(const nlohmann::json& metadata, const std::vector<std::string>& path, uint64_t slot) {
    if (auto key = Lookup(metadata, path)) entries_.emplace(std::move(*key), slot);
  }
  void Remove(const nlohmann::json& metadata, const std::vector<std::string>& path, uint64_t slot) {
    if (auto key = Lookup(metadata, path)) entries_.erase({std::move(*key), slot});
  }

  // Appends the candidate slots of `c` to out; false (out unspecified) once
  // there would be more than `limit`.
  bool Candidates(const FilterConjunct& c, size_t limit, std::vector<uint64_t>* out) const {
    auto take = [&](const Key& lo, const Key& hi) {
      for (auto it = entries_.lower_bound({lo, 0}); it != entries_.end() && it->first <= hi; ++it) {
        if (out->size() >= limit) return false;
        out->push_back(it->second);
      }
      return true;
    };
    if (c.kind != FilterConjunct::Kind::kRange) {
      for (const FilterScalar& v : c.values) {
        const Key key = KeyOf(v);
        if (!take(key, key)) return false;
      }
      return true;
    }
    // A range orders numbers with numbers and strings with strings only.
    const FilterScalar& any = c.lower ? *c.lower : *c.upper;
    const int rank = std::get<0>(KeyOf(any));
    const Key lo =
        c.lower ? KeyOf(*c.lower) : Key{rank, -std::numeric_limits<double>::infinity(), {}};
    Key hi = c.upper ? KeyOf(*c.upper) : Key{rank, std::numeric_limits<double>::infinity(), {}};
    if (rank == 1 && !c.upper) hi = Key{2, -std::numeric_limits<double>::infinity(), {}};
    return take(lo, hi);
  }

 private:
  static std::optional<Key> Lookup(const nlohmann::json& metadata,
                                   const std::vector<std::string>& path) {
    const nlohmann::json* v = &metadata;
    for (const std::string& key : path) {
      if (!v->is_object()) return std::nullopt;
      auto it = v->find(key);
      if (it == v->end()) return std::nullopt;
      v = &*it;
    }
    return KeyOf(*v);
  }

  std::set<std::pair<Key, uint64_t>> entries_;
};

// A filter from the API (expression + params) ready for planning.
struct PreparedFilter {
  std::optional<Filter> filter;                 // unset: the filter matches everything
  std::vector<FilterConjunct> conjuncts;        // conjuncts on metadata paths (indexable)
  std::vector<std::vector<std::string>> paths;  // their paths
  std::string cache_key;                        // expression + '\0' + params

  // InvalidArgument for a bad expression, or params that are not a JSON
  // object.
  static Result<PreparedFilter> Make(std::string_view expr, std::string_view params);
};

// The metadata key path that `expr` names (`a`, `a["b"]`, `$meta["a"]`), as
// a filter would resolve it; InvalidArgument for anything else (the id, a
// path with array indexes, not a path). `what` names the option in errors.
Result<std::vector<std::string>> ParseKeyPath(std::string_view expr, std::string_view what);

// The value at `path` in `metadata`, or nullptr when a key is missing.
const nlohmann::json* ValueAt(const nlohmann::json& metadata, const std::vector<std::string>& path);

struct FilterRows {
  struct Row {
    Id id;
    nlohmann::json metadata;
  };
  std::unordered_map<uint64_t, Row> rows;
  // Indexes of metadata paths, by path.
  std::map<std::vector<std::string>, FieldIndex> fields;

  // The documents one filter matches: their slots, and a bitmap by slot.
  struct MatchSet {
    std::vector<uint64_t> slots;
    std::vector<bool> bitmap;
    void Add(uint64_t slot) {
      slots.push_back(slot);
      if (bitmap.size() <= slot) bitmap.resize(std::max<size_t>(slot + 1, bitmap.size() * 2));
      bitmap[slot] = true;
    }
  };
  // Recently used filters (text + params) and their match sets (null: seen
  // once, not yet computed). Searches share the rows under a shared lock,
  // so the cache has its own mutex; any change of rows clears it.
  static constexpr size_t kCachedFilters = 16;
  mutable std::mutex cache_mu;
  mutable std::vector<std::pair<std::string, std::shared_ptr<const MatchSet>>>
      cache;  // newest last

  std::shared_ptr<const MatchSet> Recall(const std::string& key, bool* seen) const {
    std::lock_guard<std::mutex> lock(cache_mu);
    for (auto it = cache.begin(); it != cache.end(); ++it) {
      if (it->first != key) continue;
      *seen = true;
      auto entry = std::move(*it);
      cache.erase(it);
      cache.push_back(std::move(entry));
      return cache.back().second;
    }
    *seen = false;
    return nullptr;
  }
  void Remember(const std::string& key, std::shared_ptr<const MatchSet> set) const {
    std::lock_guard<std::mutex> lock(cache_mu);
    for (auto it = cache.begin(); it != cache.end(); ++it) {
      if (it->first == key) {
        cache.erase(it);
        break;
      }
    }
    if (cache.size() >= kCachedFilters) cache.erase(cache.begin());
    cache.emplace_back(key, std::move(set));
  }
  void Forget() {
    std::lock_guard<std::mutex> lock(cache_mu);
    cache.clear();
  }

  // Adds or replaces the row of `slot`; Corruption if metadata is not JSON.
  Status Put(uint64_t slot, Id id, std::string_view metadata) {
    nlohmann::json meta =
        metadata.empty() ? nlohmann::json::object()
                         : nlohmann::json::parse(metadata, nullptr, /*allow_exceptions=*/false);
    if (meta.is_discarded()) {
      return Status::Corruption("stored metadata of slot " + std::to_string(slot) +
                                " is not valid JSON");
    }
    Erase(slot);
    Forget();
    for (auto& [path, index] : fields) index.Add(meta, path, slot);
    rows[slot] = Row{std::move(id), std::move(meta)};
    return Status::OK();
  }

  void Erase(uint64_t slot) {
    auto it = rows.find(slot);
    if (it == rows.end()) return;
    Forget();
    for (auto& [path, index] : fields) index.Remove(it->second.metadata, path, slot);
    rows.erase(it);
  }

  // Whether `row` satisfies `filter`.
  static bool Matches(const Filter& filter, const Row& row);

  // Every slot `f` matches, ascending: from the cache, else from the
  // narrowest conjunct's index candidates, else by testing every row; the
  // result is remembered in the cache. REQUIRES: f.filter set, the indexes
  // of f.paths built (Field), shared access at least.
  std::shared_ptr<const MatchSet> AllMatches(const PreparedFilter& f) const;

  // The candidates of the narrowest conjunct of `f` that has at most `limit`
  // (from the index of its path), ascending and once each (an `in` list may
  // name one value twice: 1 and 1.0); nullopt when no conjunct is that
  // narrow. They may not all match. REQUIRES: as AllMatches.
  std::optional<std::vector<uint64_t>> Candidates(const PreparedFilter& f, size_t limit) const;
  // The rows among `slots` (ascending, once each) that `filter` matches.
  std::shared_ptr<MatchSet> MatchesAmong(const Filter& filter,
                                         const std::vector<uint64_t>& slots) const;
  // Tests `filter` on about `sample` rows spread evenly over the slots (a
  // hash bucket holds the slots equal modulo the bucket count, so old and
  // new documents are both represented). Returns {rows tested, rows that
  // passed}.
  std::pair<size_t, size_t> SamplePasses(const Filter& filter, size_t sample) const;

  // The index of `path`, built on first use. REQUIRES: exclusive access.
  const FieldIndex& Field(const std::vector<std::string>& path) {
    auto [it, inserted] = fields.try_emplace(path);
    if (inserted) {
      for (const auto& [slot, row] : rows) it->second.Add(row.metadata, path, slot);
    }
    return it->second;
  }
};

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_FILTER_ROWS_H_
