// CollectionImpl's reads without a query vector (GetMany, Find, CountWhere),
// DeleteWhere, and the range / grouping and full-text / hybrid stages of
// Search.
#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include <nlohmann/json.hpp>

#include "query/collection_impl.h"
#include "query/filter_rows.h"
#include "query/ranking.h"
#include "query/text_index.h"
#include "query/validate.h"

namespace flashembed::query {
namespace {

// Documents read per MultiGet while answering Find and GetMany.
constexpr size_t kReadBatch = 1024;

// The group value of a row as compact JSON; "null" when the path is missing.
std::string GroupOf(const FilterRows& rows, uint64_t slot, const std::vector<std::string>& path) {
  auto it = rows.rows.find(slot);
  if (it == rows.rows.end()) return "null";
  const nlohmann::json* v = ValueAt(it->second.metadata, path);
  return v == nullptr ? "null" : v->dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace

// ---- range search and grouping -------------------------------------------

Result<std::vector<index::Neighbor>> CollectionImpl::SelectRangeAndGroups(
    const SearchOptions& options, const std::vector<std::string>& group_path, size_t live,
    const NeighborSource& neighbors) const {
  const bool grouped = !group_path.empty();
  auto in_range = [&](float score) {
    return (!options.min_score || score >= *options.min_score) &&
           (!options.max_score || score <= *options.max_score);
  };
  // Start with what would do if every candidate counted, then widen 4x:
  // each round costs about as much as all the rounds before it together.
  size_t want = grouped ? options.k * options.group_size : options.k;
  size_t k = std::max<size_t>(want, 16);
  for (;;) {
    // Near the whole collection a scan is as cheap and is complete.
    const bool exact = k >= live / 4;
    if (exact) k = std::max<size_t>(live, 1);
    FE_ASSIGN_OR_RETURN(std::vector<index::Neighbor> nn, neighbors(k, exact));
    // Past min_score nothing further can qualify (neighbours come best first).
    bool below_min = false;
    std::vector<index::Neighbor> chosen;
    if (!grouped) {
      for (const index::Neighbor& n : nn) {
        const float score = ScoreOf(metric_, n.distance);
        if (options.min_score && score < *options.min_score) {
          below_min = true;
          break;
        }
        if (in_range(score)) chosen.push_back(n);
        if (chosen.size() == options.k) break;
      }
      if (chosen.size() == options.k || below_min || exact || nn.size() < k) return chosen;
    } else {
      // Groups in order of their best hit; the first k groups seen are the
      // k best, and they are settled once each is full.
      std::vector<std::string> order;
      std::unordered_map<std::string, std::vector<index::Neighbor>> groups;
      size_t full = 0;
      for (const index::Neighbor& n : nn) {
        const float score = ScoreOf(metric_, n.distance);
        if (options.min_score && score < *options.min_score) {
          below_min = true;
          break;
        }
        if (!in_range(score)) continue;
        std::string g = GroupOf(*rows_, n.slot, group_path);
        auto it = groups.find(g);
        if (it == groups.end()) {
          if (order.size() == options.k) continue;  // not among the k best groups
          order.push_back(g);
          it = groups.emplace(std::move(g), std::vector<index::Neighbor>()).first;
        }
        if (it->second.size() < options.group_size) {
          it->second.push_back(n);
          if (it->second.size() == options.group_size) ++full;
        }
        if (full == options.k) break;
      }
      if (full == options.k || below_min || exact || nn.size() < k) {
        for (const std::string& g : order) {
          for (const index::Neighbor& n : groups[g]) chosen.push_back(n);
        }
        return chosen;
      }
    }
    k *= 4;
  }
}

// ---- full-text and hybrid ranking ------------------------------------------

std::vector<Ranked> CollectionImpl::RankedFrom(const std::vector<index::Neighbor>& nn) const {
  std::vector<Ranked> out;
  out.reserve(nn.size());
  for (const index::Neighbor& n : nn) {
    out.push_back({.slot = n.slot, .score = ScoreOf(metric_, n.distance)});
  }
  return out;
}

Result<std::vector<Ranked>> CollectionImpl::RankWithText(const SearchOptions& options,
                                                         const std::string& keywords,
                                                         const std::function<bool(uint64_t)>& admit,
                                                         const NeighborSource& vector_side) const {
  const bool hybrid = static_cast<bool>(vector_side);
  const size_t depth = hybrid ? HybridDepth(options.k) : options.k;
  FE_ASSIGN_OR_RETURN(std::vector<TextHit> text, text_index_->Search(keywords, depth, admit));
  std::vector<Ranked> text_side;
  text_side.reserve(text.size());
  for (const TextHit& t : text) text_side.push_back({t.slot, t.score, std::nullopt, t.score});
  if (!hybrid) return text_side;
  FE_ASSIGN_OR_RETURN(std::vector<index::Neighbor> nn, vector_side(depth, false));
  return Fuse(RankedFrom(nn), text_side,
              {.fusion = options.fusion,
               .rrf_k = options.rrf_k,
               .text_weight = options.text_weight,
               .metric = metric_,
               .k = options.k});
}

Result<std::vector<Hit>> CollectionImpl::HitsFor(const SearchOptions& options,
                                                 const std::vector<Ranked>& chosen,
                                                 const std::vector<std::string>& group_path) const {
  const uint32_t cid = record_.cid;
  std::vector<std::string> keys;
  keys.reserve(chosen.size());
  for (const auto& n : chosen) keys.push_back(storage::SlotKey(cid, n.slot));
  FE_ASSIGN_OR_RETURN(auto docs, store_->MultiGet(storage::Cf::kDocuments, keys));
  std::vector<std::optional<std::string>> vecs;
  if (options.with_vector) {
    FE_ASSIGN_OR_RETURN(vecs, store_->MultiGet(storage::Cf::kVectors, keys));
  }
  std::vector<Hit> hits;
  hits.reserve(chosen.size());
  for (size_t i = 0; i < chosen.size(); ++i) {
    // Deleted after the index answered (its delete is durable): skip it.
    if (!docs[i] || (options.with_vector && !vecs[i])) continue;
    FE_ASSIGN_OR_RETURN(storage::DocumentRecord rec, storage::DecodeDocument(*docs[i]));
    Hit hit;
    FE_ASSIGN_OR_RETURN(hit.id, IdFromPart(rec.id_key));
    hit.score = chosen[i].score;
    hit.vector_score = chosen[i].vector_score;
    hit.text_score = chosen[i].text_score;
    if (options.with_text) hit.text = std::move(rec.text);
    if (options.with_metadata) hit.metadata = std::move(rec.metadata);
    if (options.with_vector) {
      FE_ASSIGN_OR_RETURN(hit.vector, storage::DecodeVector(*vecs[i], record_.dim));
    }
    if (!group_path.empty()) hit.group = GroupOf(*rows_, chosen[i].slot, group_path);
    hits.push_back(std::move(hit));
  }
  return hits;
}

// ---- reads without a query vector ----------------------------------------

Result<std::vector<Document>> CollectionImpl::GetMany(std::span<const Id> ids,
                                                      bool with_vector) const {
  std::shared_lock<RwMutex> lock(index_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  const uint32_t cid = record_.cid;
  const storage::ReadView view = store_->NewReadView();
  std::vector<Document> out;
  std::unordered_set<std::string> seen;
  for (size_t start = 0; start < ids.size(); start += kReadBatch) {
    const size_t end = std::min(ids.size(), start + kReadBatch);
    std::vector<std::string> id_keys;
    std::vector<const Id*> wanted;
    for (size_t i = start; i < end; ++i) {
      std::string key = storage::IdKey(cid, IdPart(ids[i]));
      if (!seen.insert(key).second) continue;
      id_keys.push_back(std::move(key));
      wanted.push_back(&ids[i]);
    }
    FE_ASSIGN_OR_RETURN(auto slots, store_->MultiGet(storage::Cf::kIds, id_keys, &view));
    std::vector<std::string> slot_keys;
    std::vector<const Id*> found;
    for (size_t i = 0; i < slots.size(); ++i) {
      if (!slots[i]) continue;
      FE_ASSIGN_OR_RETURN(uint64_t slot, storage::DecodeSlot(*slots[i]));
      slot_keys.push_back(storage::SlotKey(cid, slot));
      found.push_back(wanted[i]);
    }
    FE_ASSIGN_OR_RETURN(auto docs, store_->MultiGet(storage::Cf::kDocuments, slot_keys, &view));
    std::vector<std::optional<std::string>> vecs;
    if (with_vector) {
      FE_ASSIGN_OR_RETURN(vecs, store_->MultiGet(storage::Cf::kVectors, slot_keys, &view));
    }
    for (size_t i = 0; i < found.size(); ++i) {
      if (!docs[i] || (with_vector && !vecs[i])) {
        return Status::Corruption("document with id " + QuoteId(*found[i]) + " in collection \"" +
                                  record_.name + "\" has an id record but no " +
                                  (docs[i] ? "vector" : "document record"));
      }
      FE_ASSIGN_OR_RETURN(storage::DocumentRecord rec, storage::DecodeDocument(*docs[i]));
      Document doc;
      doc.id = *found[i];
      doc.text = std::move(rec.text);
      doc.metadata = std::move(rec.metadata);
      if (with_vector) {
        FE_ASSIGN_OR_RETURN(doc.vector, storage::DecodeVector(*vecs[i], record_.dim));
      }
      out.push_back(std::move(doc));
    }
  }
  return out;
}

Result<std::vector<Document>> CollectionImpl::Find(const FindOptions& options) const {
  FE_RETURN_IF_ERROR(options.Validate());
  FE_ASSIGN_OR_RETURN(PreparedFilter prepared,
                      PreparedFilter::Make(options.filter, options.filter_params));
  std::shared_lock<RwMutex> lock(index_mu_, std::defer_lock);
  FE_RETURN_IF_ERROR(LockWithRows(prepared.filter.has_value(), prepared.paths, &lock));
  const uint32_t cid = record_.cid;
  const size_t limit = options.limit == 0 ? SIZE_MAX : options.limit;
  std::vector<Document> out;
  // One document and (if asked) vector record into `out`.
  auto append = [&](std::string_view doc_bytes,
                    const std::optional<std::string>& vec_bytes) -> Status {
    FE_ASSIGN_OR_RETURN(storage::DocumentRecord rec, storage::DecodeDocument(doc_bytes));
    Document doc;
    FE_ASSIGN_OR_RETURN(doc.id, IdFromPart(rec.id_key));
    if (options.with_text) doc.text = std::move(rec.text);
    doc.metadata = options.with_metadata ? std::move(rec.metadata) : std::string();
    if (options.with_vector) {
      if (!vec_bytes)
        return Status::Corruption("a document of \"" + record_.name + "\" has no vector");
      FE_ASSIGN_OR_RETURN(doc.vector, storage::DecodeVector(*vec_bytes, record_.dim));
    }
    out.push_back(std::move(doc));
    return Status::OK();
  };
  if (!prepared.filter) {
    // Slot order is write order: scan the documents family.
    const storage::ReadView view = store_->NewReadView();
    size_t skipped = 0;
    Status bad;
    FE_RETURN_IF_ERROR(store_->Scan(
        storage::Cf::kDocuments, storage::CollectionPrefix(cid), storage::CollectionEnd(cid),
        [&](std::string_view key, std::string_view value) {
          if (skipped < options.offset) {
            ++skipped;
            return true;
          }
          std::optional<std::string> vec;
          if (options.with_vector) {
            auto v = store_->Get(storage::Cf::kVectors, key, &view);
            if (!v.ok() && !v.status().IsNotFound()) {
              bad = v.status();
              return false;
            }
            if (v.ok()) vec = std::move(v).value();
          }
          bad = append(value, vec);
          return bad.ok() && out.size() < limit;
        },
        &view));
    FE_RETURN_IF_ERROR(bad);
    return out;
  }
  std::shared_ptr<const FilterRows::MatchSet> set = rows_->AllMatches(prepared);
  const std::vector<uint64_t>& slots = set->slots;  // ascending
  const size_t first = std::min<size_t>(options.offset, slots.size());
  const size_t last = first + std::min<size_t>(limit, slots.size() - first);
  const storage::ReadView view = store_->NewReadView();
  for (size_t start = first; start < last; start += kReadBatch) {
    const size_t end = std::min(last, start + kReadBatch);
    std::vector<std::string> keys;
    for (size_t i = start; i < end; ++i) keys.push_back(storage::SlotKey(cid, slots[i]));
    FE_ASSIGN_OR_RETURN(auto docs, store_->MultiGet(storage::Cf::kDocuments, keys, &view));
    std::vector<std::optional<std::string>> vecs(keys.size());
    if (options.with_vector) {
      FE_ASSIGN_OR_RETURN(vecs, store_->MultiGet(storage::Cf::kVectors, keys, &view));
    }
    for (size_t i = 0; i < keys.size(); ++i) {
      // rows_ is in step with the index under our lock, but a delete's
      // durable write precedes its index update: that document is gone.
      if (!docs[i]) continue;
      FE_RETURN_IF_ERROR(append(*docs[i], vecs[i]));
    }
  }
  return out;
}

Result<uint64_t> CollectionImpl::CountWhere(std::string_view filter,
                                            std::string_view filter_params) const {
  FE_ASSIGN_OR_RETURN(PreparedFilter prepared, PreparedFilter::Make(filter, filter_params));
  if (!prepared.filter) return Count();
  std::shared_lock<RwMutex> lock(index_mu_, std::defer_lock);
  FE_RETURN_IF_ERROR(LockWithRows(true, prepared.paths, &lock));
  return rows_->AllMatches(prepared)->slots.size();
}

Result<size_t> CollectionImpl::DeleteWhere(const WriteOptions& options, std::string_view filter,
                                           std::string_view filter_params) {
  FE_RETURN_IF_ERROR(CheckWritable());
  FE_ASSIGN_OR_RETURN(PreparedFilter prepared, PreparedFilter::Make(filter, filter_params));
  if (!prepared.filter) {
    return Status::InvalidArgument(
        "DeleteWhere needs a filter; to remove every document drop the collection or use a "
        "filter that matches them all (`id >= 0` for integer ids)");
  }
  for (;;) {
    FE_RETURN_IF_ERROR(EnsureFilterRows(prepared.paths));
    std::lock_guard<std::mutex> writer(write_mu_);
    FE_RETURN_IF_ERROR(CheckOpen());
    FE_RETURN_IF_ERROR(index_broken_);
    std::vector<std::pair<std::string, uint64_t>> doomed;
    {
      std::shared_lock<RwMutex> lock(index_mu_);
      if (!FilterRowsReady(prepared.paths)) continue;  // dropped meanwhile: reload
      // No write is in flight (write_mu_), so the rows are the stored documents.
      for (uint64_t slot : rows_->AllMatches(prepared)->slots) {
        doomed.emplace_back(storage::IdKey(record_.cid, IdPart(rows_->rows.at(slot).id)), slot);
      }
    }
    return RemoveLocked(options, doomed);
  }
}

}  // namespace flashembed::query
