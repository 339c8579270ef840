// Document search: documents ranked by their best chunk (a grouped
// chunk search) or by their pooled vector (an exact scan over the documents
// of the `sources` family, kept in memory once used), with passages and
// their neighbouring chunks.
#include <algorithm>
#include <cmath>
#include <mutex>
#include <string>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "query/collection_impl.h"
#include "query/filter_rows.h"
#include "query/validate.h"

namespace flashembed::query {

struct CollectionImpl::SourceTable {
  std::vector<std::string> ids;
  std::vector<float> vectors;            // ids.size() x dim
  std::vector<nlohmann::json> metadata;  // the document's metadata + "doc"
  std::vector<uint32_t> chunks;          // chunk count
  std::unordered_map<std::string, size_t> position;
};

namespace {

constexpr size_t kMaxPassages = 64;
constexpr size_t kMaxNeighbors = 8;

float Similarity(index::Metric metric, std::span<const float> a, std::span<const float> b) {
  double dot = 0, na = 0, nb = 0, l2 = 0;
  for (size_t i = 0; i < a.size(); ++i) {
    dot += double{a[i]} * b[i];
    na += double{a[i]} * a[i];
    nb += double{b[i]} * b[i];
    const double d = double{a[i]} - b[i];
    l2 += d * d;
  }
  switch (metric) {
    case index::Metric::kCosine:
      return na > 0 && nb > 0 ? FiniteScore(dot / std::sqrt(na * nb)) : 0.0f;
    case index::Metric::kInnerProduct: return FiniteScore(dot);
    case index::Metric::kL2: return FiniteScore(-l2);
  }
  return 0.0f;
}

nlohmann::json SourceMetadata(const std::string& id, const storage::SourceRecord& r) {
  nlohmann::json meta = nlohmann::json::parse(r.metadata, nullptr, /*allow_exceptions=*/false);
  if (!meta.is_object()) meta = nlohmann::json::object();
  meta["doc"] = {{"id", id}, {"source", r.source}, {"title", r.title}};
  return meta;
}

// The passage of a chunk record (its position from its metadata), or nullopt
// for a record that is not a chunk.
std::optional<Passage> PassageOf(const std::string& metadata, std::string text, float score) {
  nlohmann::json j = nlohmann::json::parse(metadata, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return std::nullopt;
  auto it = j.find("chunk");
  if (it == j.end() || !it->is_object()) return std::nullopt;
  const nlohmann::json& c = *it;
  if (!c.contains("n") || !c["n"].is_number_unsigned() || !c.contains("begin") ||
      !c["begin"].is_number_unsigned() || !c.contains("end") || !c["end"].is_number_unsigned()) {
    return std::nullopt;
  }
  Passage p;
  p.ordinal = c["n"].get<uint32_t>();
  p.begin = c["begin"].get<uint64_t>();
  p.end = c["end"].get<uint64_t>();
  p.score = score;
  p.text = std::move(text);
  return p;
}

}  // namespace

Status CollectionImpl::EnsureSourceTable() const {
  {
    std::lock_guard<std::mutex> lock(sources_mu_);
    if (source_table_) return Status::OK();
  }
  // Writers publish into the table after their batch is durable, holding
  // write_mu_; loading under write_mu_ too means none slips in between.
  std::lock_guard<std::mutex> writer(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  std::lock_guard<std::mutex> lock(sources_mu_);
  if (source_table_) return Status::OK();
  auto table = std::make_shared<SourceTable>();
  Status decode;
  FE_RETURN_IF_ERROR(store_->Scan(
      storage::Cf::kSources, storage::CollectionPrefix(record_.cid),
      storage::CollectionEnd(record_.cid), [&](std::string_view key, std::string_view value) {
        auto r = storage::DecodeSource(value);
        if (!r.ok()) {
          decode = r.status();
          return false;
        }
        std::string id(storage::SourceIdFromKey(key));
        if (r->vector.size() != record_.dim) {
          decode = Status::Corruption(
              fmt::format("document \"{}\": pooled vector has {} values", id, r->vector.size()));
          return false;
        }
        table->position.emplace(id, table->ids.size());
        table->vectors.insert(table->vectors.end(), r->vector.begin(), r->vector.end());
        table->metadata.push_back(SourceMetadata(id, *r));
        table->chunks.push_back(static_cast<uint32_t>(r->chunks.size()));
        table->ids.push_back(std::move(id));
        return true;
      }));
  FE_RETURN_IF_ERROR(decode);
  source_count_ = static_cast<int64_t>(table->ids.size());
  source_table_ = std::move(table);
  return Status::OK();
}

void CollectionImpl::UpdateSourceTable(const std::string& id,
                                       const storage::SourceRecord* record) const {
  std::lock_guard<std::mutex> lock(sources_mu_);
  if (!source_table_) return;
  SourceTable& t = *source_table_;
  const size_t dim = record_.dim;
  auto it = t.position.find(id);
  if (record == nullptr) {
    if (it == t.position.end()) return;
    const size_t i = it->second;
    const size_t last = t.ids.size() - 1;
    if (i != last) {
      t.ids[i] = std::move(t.ids[last]);
      std::copy(t.vectors.begin() + last * dim, t.vectors.begin() + (last + 1) * dim,
                t.vectors.begin() + i * dim);
      t.metadata[i] = std::move(t.metadata[last]);
      t.chunks[i] = t.chunks[last];
      t.position[t.ids[i]] = i;
    }
    t.position.erase(id);
    t.ids.pop_back();
    t.vectors.resize(last * dim);
    t.metadata.pop_back();
    t.chunks.pop_back();
    return;
  }
  size_t i;
  if (it == t.position.end()) {
    i = t.ids.size();
    t.position.emplace(id, i);
    t.ids.push_back(id);
    t.vectors.resize((i + 1) * dim);
    t.metadata.emplace_back();
    t.chunks.push_back(0);
  } else {
    i = it->second;
  }
  std::copy(record->vector.begin(), record->vector.end(), t.vectors.begin() + i * dim);
  t.metadata[i] = SourceMetadata(id, *record);
  t.chunks[i] = static_cast<uint32_t>(record->chunks.size());
}

Result<std::vector<DocumentHit>> CollectionImpl::SearchDocuments(
    const DocumentSearchOptions& options, const Query& query) const {
  FE_RETURN_IF_ERROR(options.search.Validate());
  if (options.passages < 1 || options.passages > kMaxPassages) {
    return Status::InvalidArgument(
        fmt::format("passages must be 1..{}, got {}", kMaxPassages, options.passages));
  }
  if (options.neighbors > kMaxNeighbors) {
    return Status::InvalidArgument(
        fmt::format("neighbors must be 0..{}, got {}", kMaxNeighbors, options.neighbors));
  }
  if (options.search.ranking != Ranking::kVector) {
    return Status::InvalidArgument("document search ranks by vector similarity only");
  }
  if (!options.search.group_by.empty()) {
    return Status::InvalidArgument("document search groups by document; group_by must be empty");
  }
  FE_RETURN_IF_ERROR(CheckOpen());
  const size_t k = options.search.k;
  struct Found {
    std::string id;
    float score = 0;
    std::vector<Passage> passages;
    uint32_t chunk_count = 0;
  };
  std::vector<Found> found;

  if (!options.pooled) {
    SearchOptions so = options.search;
    so.group_by = R"(doc["id"])";
    so.group_size = options.passages;
    so.k = std::min<size_t>(k + 1, 16384);  // one group may be the records that are not chunks
    so.with_metadata = true;
    so.with_vector = false;
    FE_ASSIGN_OR_RETURN(std::vector<Hit> hits, Search(so, query));
    std::unordered_map<std::string, size_t> group_index;
    for (Hit& h : hits) {
      if (h.group == "null") continue;
      nlohmann::json g = nlohmann::json::parse(h.group, nullptr, /*allow_exceptions=*/false);
      if (!g.is_string()) continue;  // a record that is not a chunk, with a "doc" of its own
      std::optional<Passage> p = PassageOf(h.metadata, std::move(h.text), h.score);
      if (!p) continue;
      std::string id = g.get<std::string>();
      auto [it, fresh] = group_index.emplace(id, found.size());
      if (fresh) {
        if (found.size() == k) break;
        found.push_back({id, h.score, {}, 0});
      }
      found[it->second].passages.push_back(std::move(*p));
    }
  } else {
    if (options.search.min_score || options.search.max_score) {
      return Status::InvalidArgument(
          "min_score / max_score do not apply to pooled document search");
    }
    FE_ASSIGN_OR_RETURN(std::vector<float> q, QueryVector(query));
    FE_ASSIGN_OR_RETURN(PreparedFilter filter,
                        PreparedFilter::Make(options.search.filter, options.search.filter_params));
    FE_RETURN_IF_ERROR(EnsureSourceTable());
    const size_t dim = record_.dim;
    std::vector<std::pair<float, size_t>> scored;
    std::vector<Found> all;
    {
      std::lock_guard<std::mutex> lock(sources_mu_);
      const SourceTable& t = *source_table_;
      for (size_t i = 0; i < t.ids.size(); ++i) {
        if (filter.filter) {
          FilterRow row;
          row.id = std::string_view(t.ids[i]);
          row.metadata = &t.metadata[i];
          if (!filter.filter->Matches(row)) continue;
        }
        scored.emplace_back(
            Similarity(metric_, q, std::span<const float>(t.vectors).subspan(i * dim, dim)), i);
      }
      const size_t take = std::min(k, scored.size());
      std::partial_sort(
          scored.begin(), scored.begin() + take, scored.end(), [&](const auto& a, const auto& b) {
            return a.first != b.first ? a.first > b.first : t.ids[a.second] < t.ids[b.second];
          });
      scored.resize(take);
      for (const auto& [score, i] : scored) found.push_back({t.ids[i], score, {}, t.chunks[i]});
    }
    // Passages: the document's chunks most similar to the query.
    for (Found& f : found) {
      std::vector<Id> ids;
      ids.reserve(f.chunk_count);
      for (uint32_t c = 0; c < f.chunk_count; ++c) ids.emplace_back(ChunkIdString(f.id, c));
      FE_ASSIGN_OR_RETURN(std::vector<Document> chunks, GetMany(ids, /*with_vector=*/true));
      std::vector<Passage> ps;
      for (Document& d : chunks) {
        if (d.vector.size() != dim) continue;
        std::optional<Passage> p =
            PassageOf(d.metadata, options.search.with_text ? std::move(d.text) : std::string(),
                      Similarity(metric_, q, d.vector));
        if (p) ps.push_back(std::move(*p));
      }
      const size_t take = std::min(options.passages, ps.size());
      std::partial_sort(ps.begin(), ps.begin() + take, ps.end(), [](const auto& a, const auto& b) {
        return a.score != b.score ? a.score > b.score : a.ordinal < b.ordinal;
      });
      ps.resize(take);
      f.passages = std::move(ps);
    }
  }

  // The documents' records, and the neighbouring chunks.
  std::vector<std::string> keys;
  keys.reserve(found.size());
  for (const Found& f : found) keys.push_back(storage::SourceKey(record_.cid, f.id));
  FE_ASSIGN_OR_RETURN(auto records, store_->MultiGet(storage::Cf::kSources, keys));
  std::vector<DocumentHit> out;
  out.reserve(found.size());
  std::vector<Id> neighbor_ids;
  for (size_t i = 0; i < found.size(); ++i) {
    if (!records[i]) continue;  // deleted since the search read its chunks
    FE_ASSIGN_OR_RETURN(storage::SourceRecord r, storage::DecodeSource(*records[i]));
    DocumentHit hit;
    hit.id = std::move(found[i].id);
    hit.score = found[i].score;
    hit.source = std::move(r.source);
    hit.title = std::move(r.title);
    hit.metadata = std::move(r.metadata);
    hit.passages = std::move(found[i].passages);
    const size_t n_chunks = r.chunks.size();
    for (const Passage& p : hit.passages) {
      for (size_t j = 1; j <= options.neighbors; ++j) {
        if (p.ordinal >= j) neighbor_ids.emplace_back(ChunkIdString(hit.id, p.ordinal - j));
        if (p.ordinal + j < n_chunks) {
          neighbor_ids.emplace_back(ChunkIdString(hit.id, p.ordinal + j));
        }
      }
    }
    out.push_back(std::move(hit));
  }
  if (!neighbor_ids.empty()) {
    FE_ASSIGN_OR_RETURN(std::vector<Document> docs, GetMany(neighbor_ids, /*with_vector=*/false));
    std::unordered_map<std::string, Passage> by_id;
    for (Document& d : docs) {
      std::optional<Passage> p =
          PassageOf(d.metadata, options.search.with_text ? std::move(d.text) : std::string(), 0.0f);
      if (p) by_id.emplace(d.id.ToString(), std::move(*p));
    }
    for (DocumentHit& hit : out) {
      for (Passage& p : hit.passages) {
        for (size_t j = options.neighbors; j >= 1; --j) {
          if (p.ordinal < j) continue;
          auto it = by_id.find(ChunkIdString(hit.id, p.ordinal - j));
          if (it != by_id.end()) p.before.push_back(it->second);
        }
        for (size_t j = 1; j <= options.neighbors; ++j) {
          auto it = by_id.find(ChunkIdString(hit.id, p.ordinal + j));
          if (it != by_id.end()) p.after.push_back(it->second);
        }
      }
    }
  }
  return out;
}

}  // namespace flashembed::query
