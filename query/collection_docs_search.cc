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
#include "query/ranking.h"
#include "query/reranker.h"
#include "query/text_index.h"
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

// The passage of a chunk record (its position from its parsed metadata), or
// nullopt for a record that is not a chunk.
std::optional<Passage> PassageOfJson(const nlohmann::json& j, float score) {
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
  return p;
}

// As PassageOfJson, from the stored metadata text, with the chunk's text.
std::optional<Passage> PassageOf(const std::string& metadata, std::string text, float score) {
  std::optional<Passage> p =
      PassageOfJson(nlohmann::json::parse(metadata, nullptr, /*allow_exceptions=*/false), score);
  if (p) p->text = std::move(text);
  return p;
}

// The document id of a chunk's parsed metadata ("doc": {"id": ...}), or null.
const std::string* DocIdOf(const nlohmann::json& j) {
  if (!j.is_object()) return nullptr;
  auto doc = j.find("doc");
  if (doc == j.end() || !doc->is_object()) return nullptr;
  auto id = doc->find("id");
  if (id == doc->end() || !id->is_string()) return nullptr;
  return id->get_ptr<const std::string*>();
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

namespace {

// The chunks one ranking found, grouped by document: documents in the order
// of their best chunk (MaxP), each with at most `passages` chunks (best
// first, their text not yet read).
struct DocList {
  struct Chunk {
    uint64_t slot;
    Passage passage;
  };
  struct Doc {
    std::string id;
    float score = 0;  // the best chunk's
    std::vector<Chunk> chunks;
  };
  std::vector<Doc> docs;
  std::unordered_map<std::string, size_t> index;

  // Adds a chunk hit (hits come best first); false for a record that is not
  // a chunk, or not in `rows`.
  bool Add(const FilterRows& rows, uint64_t slot, float score, size_t passages) {
    auto row = rows.rows.find(slot);
    if (row == rows.rows.end()) return false;
    const std::string* id = DocIdOf(row->second.metadata);
    std::optional<Passage> p = PassageOfJson(row->second.metadata, score);
    if (id == nullptr || !p) return false;
    auto [it, fresh] = index.emplace(*id, docs.size());
    if (fresh) docs.push_back({*id, score, {}});
    Doc& d = docs[it->second];
    if (d.chunks.size() < passages) d.chunks.push_back({slot, std::move(*p)});
    return true;
  }
};

// Ranking::kAuto for document search: hybrid when the collection keeps a
// text index and there are words for BM25 to match (in the keywords, else
// the query text), no score range and not pooled; else by vector (so "!!!"
// still finds what its vector is near).
Ranking DocumentRanking(const DocumentSearchOptions& options, const Query& query,
                        bool has_text_index) {
  const SearchOptions& s = options.search;
  if (s.ranking != Ranking::kAuto) return s.ranking;
  if (has_text_index && !options.pooled && !s.min_score && !s.max_score &&
      !AnalyzeText(s.keywords.empty() ? query.text : s.keywords).empty()) {
    return Ranking::kHybrid;
  }
  return Ranking::kVector;
}

}  // namespace

Result<std::vector<DocumentHit>> CollectionImpl::SearchDocuments(
    const DocumentSearchOptions& options, const Query& query) const {
  FE_RETURN_IF_ERROR(options.search.Validate());
  FE_ASSIGN_OR_RETURN(
      const std::string reranker,
      EffectiveReranker(options.search, query, record_.name, record_.reranker_spec));
  if (!reranker.empty()) {
    // The first stage gives enough documents, their passages with texts;
    // the cross-encoder orders the passages and, by their best, the
    // documents.
    SearchOptions reranking = options.search;
    reranking.reranker = reranker;
    DocumentSearchOptions first = options;
    first.search.reranker = "none";
    first.search.rerank_depth = 0;
    first.search.k = std::max(options.search.k, RerankDepth(options.search));
    first.search.with_text = true;
    FE_ASSIGN_OR_RETURN(std::vector<DocumentHit> docs, SearchDocuments(first, query));
    FE_RETURN_IF_ERROR(RerankDocuments(
        reranking, query.text.empty() ? options.search.keywords : query.text, &docs));
    if (!options.search.with_text) {
      for (DocumentHit& doc : docs) {
        for (Passage& p : doc.passages) {
          p.text.clear();
          for (Passage& n : p.before) n.text.clear();
          for (Passage& n : p.after) n.text.clear();
        }
      }
    }
    return docs;
  }
  if (options.passages < 1 || options.passages > kMaxPassages) {
    return Status::InvalidArgument(
        fmt::format("passages must be 1..{}, got {}", kMaxPassages, options.passages));
  }
  if (options.neighbors > kMaxNeighbors) {
    return Status::InvalidArgument(
        fmt::format("neighbors must be 0..{}, got {}", kMaxNeighbors, options.neighbors));
  }
  if (!options.search.group_by.empty()) {
    return Status::InvalidArgument("document search groups by document; group_by must be empty");
  }
  const Ranking ranking = DocumentRanking(options, query, text_index_ != nullptr);
  if (options.pooled && ranking != Ranking::kVector) {
    return Status::InvalidArgument("pooled document search ranks by vector similarity only");
  }
  if (ranking == Ranking::kVector && !options.search.keywords.empty()) {
    return Status::InvalidArgument(
        "keywords are for full-text ranking: set ranking to text or hybrid");
  }
  FE_RETURN_IF_ERROR(CheckOpen());
  std::vector<FoundDocument> found;
  if (options.pooled) {
    FE_ASSIGN_OR_RETURN(found, SearchPooled(options, query));
  } else {
    FE_ASSIGN_OR_RETURN(found, SearchChunks(options, query, ranking));
  }

  // The documents' records, and the neighbouring chunks.
  std::vector<std::string> keys;
  keys.reserve(found.size());
  for (const FoundDocument& f : found) keys.push_back(storage::SourceKey(record_.cid, f.id));
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
    hit.vector_score = found[i].vector_score;
    hit.text_score = found[i].text_score;
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

Result<std::vector<CollectionImpl::FoundDocument>> CollectionImpl::SearchPooled(
    const DocumentSearchOptions& options, const Query& query) const {
  if (options.search.min_score || options.search.max_score) {
    return Status::InvalidArgument("min_score / max_score do not apply to pooled document search");
  }
  FE_ASSIGN_OR_RETURN(std::vector<float> q, QueryVector(query));
  FE_ASSIGN_OR_RETURN(PreparedFilter filter,
                      PreparedFilter::Make(options.search.filter, options.search.filter_params));
  FE_RETURN_IF_ERROR(EnsureSourceTable());
  const size_t dim = record_.dim;
  const size_t k = options.search.k;
  std::vector<FoundDocument> found;
  {
    std::vector<std::pair<float, size_t>> scored;
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
    for (const auto& [score, i] : scored) {
      found.push_back({.id = t.ids[i], .score = score, .chunk_count = t.chunks[i]});
    }
  }
  // Passages: the document's chunks most similar to the query.
  for (FoundDocument& f : found) {
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
  return found;
}

Result<std::vector<CollectionImpl::FoundDocument>> CollectionImpl::SearchChunks(
    const DocumentSearchOptions& options, const Query& query, Ranking ranking) const {
  const size_t k = options.search.k;
  const size_t passages = options.passages;
  SearchStats stats;
  // One ranking's documents, from the chunks it ranks, under its search's
  // lock with the in-memory rows (every chunk's document and offsets).
  auto documents = [&](Ranking side, size_t want) -> Result<DocList> {
    SearchOptions so = options.search;
    so.ranking = side;
    so.group_by.clear();
    so.stats = nullptr;
    if (side == Ranking::kVector) so.keywords.clear();
    DocList list;
    FE_RETURN_IF_ERROR(RunSearch(so, query, /*need_rows=*/true, [&](const SearchStage& stage) {
      if (side == Ranking::kVector) {
        // Grouped by document; the group of records that are not chunks
        // (no "doc") may take one place.
        SearchOptions grouped = so;
        grouped.k = std::min<size_t>(want + 1, 16384);
        grouped.group_size = passages;
        FE_ASSIGN_OR_RETURN(
            std::vector<index::Neighbor> chosen,
            SelectRangeAndGroups(grouped, {"doc", "id"}, index_->size(), stage.neighbors));
        for (const index::Neighbor& n : chosen) {
          list.Add(*stage.rows, n.slot, ScoreOf(metric_, n.distance), passages);
        }
        stats = *stage.stats;
        return Status::OK();
      }
      // BM25 over chunks, read deeper until `want` documents are found or
      // every matching chunk was seen.
      for (size_t depth = std::min<size_t>(std::max<size_t>(8 * want, 64), size_t{1} << 20);;
           depth *= 4) {
        FE_ASSIGN_OR_RETURN(std::vector<TextHit> hits,
                            text_index_->Search(stage.keywords, depth, stage.admit));
        list = DocList();
        for (const TextHit& h : hits) list.Add(*stage.rows, h.slot, h.score, passages);
        if (list.docs.size() >= want || hits.size() < depth || depth >= (size_t{1} << 20)) break;
      }
      return Status::OK();
    }));
    if (list.docs.size() > want) list.docs.resize(want);
    return list;
  };

  std::vector<FoundDocument> found;
  // The chosen chunks of each found document, to be read.
  std::vector<std::vector<DocList::Chunk>> chunks;
  if (ranking == Ranking::kVector || ranking == Ranking::kText) {
    FE_ASSIGN_OR_RETURN(DocList list, documents(ranking, k));
    for (DocList::Doc& d : list.docs) {
      FoundDocument f{.id = std::move(d.id), .score = d.score};
      if (ranking == Ranking::kText) f.text_score = d.score;
      found.push_back(std::move(f));
      chunks.push_back(std::move(d.chunks));
    }
    if (ranking == Ranking::kText) stats.strategy = "text";
  } else {
    // Hybrid: each side ranks documents by their best chunk, and the two
    // document lists are fused (ranking.h); a document's passages are the
    // chunks either side found, ordered by the same fusion of the two chunk
    // lists.
    const size_t depth = DocumentHybridDepth(k);
    FE_ASSIGN_OR_RETURN(DocList vec, documents(Ranking::kVector, depth));
    FE_ASSIGN_OR_RETURN(DocList text, documents(Ranking::kText, depth));
    std::vector<const std::string*> ids;  // the fusion's "slot" of a document
    std::unordered_map<std::string_view, size_t> number;
    auto number_of = [&](const std::string& id) {
      auto [it, fresh] = number.emplace(id, ids.size());
      if (fresh) ids.push_back(&id);
      return it->second;
    };
    std::vector<Ranked> vec_docs, text_docs;
    for (const DocList::Doc& d : vec.docs) vec_docs.push_back({number_of(d.id), d.score});
    for (const DocList::Doc& d : text.docs) text_docs.push_back({number_of(d.id), d.score});
    FusionParams params{.fusion = options.search.fusion,
                        .rrf_k = options.search.rrf_k,
                        .text_weight = options.search.text_weight,
                        .metric = metric_,
                        .k = k};
    const std::vector<Ranked> fused = Fuse(vec_docs, text_docs, params);

    // Chunk lists, numbered by slot (the same chunk on both sides is one).
    std::unordered_map<uint64_t, std::pair<size_t, const DocList::Chunk*>> by_slot;
    auto chunk_list = [&](const DocList& list) {
      std::vector<Ranked> out;
      for (const DocList::Doc& d : list.docs) {
        for (const DocList::Chunk& c : d.chunks) {
          by_slot.emplace(c.slot, std::make_pair(number.at(d.id), &c));
          out.push_back({c.slot, c.passage.score});
        }
      }
      std::stable_sort(out.begin(), out.end(),
                       [](const Ranked& a, const Ranked& b) { return a.score > b.score; });
      return out;
    };
    const std::vector<Ranked> vec_chunks = chunk_list(vec);
    const std::vector<Ranked> text_chunks = chunk_list(text);
    params.k = by_slot.size();
    std::unordered_map<size_t, std::vector<DocList::Chunk>> per_doc;
    for (const Ranked& r : Fuse(vec_chunks, text_chunks, params)) {
      const auto& [doc, chunk] = by_slot.at(r.slot);
      std::vector<DocList::Chunk>& mine = per_doc[doc];
      if (mine.size() >= passages) continue;
      mine.push_back(*chunk);
      mine.back().passage.score = r.score;
    }
    for (const Ranked& r : fused) {
      found.push_back({.id = *ids[r.slot],
                       .score = r.score,
                       .vector_score = r.vector_score,
                       .text_score = r.text_score});
      chunks.push_back(std::move(per_doc[r.slot]));
    }
    stats.strategy = "hybrid+" + stats.strategy;
  }
  if (options.search.stats != nullptr) *options.search.stats = stats;

  // The passages' texts: one read of the chosen chunks.
  std::vector<std::string> keys;
  if (options.search.with_text) {
    for (const auto& list : chunks) {
      for (const DocList::Chunk& c : list) keys.push_back(storage::SlotKey(record_.cid, c.slot));
    }
  }
  FE_ASSIGN_OR_RETURN(auto records, store_->MultiGet(storage::Cf::kDocuments, keys));
  size_t next = 0;
  for (size_t i = 0; i < found.size(); ++i) {
    for (DocList::Chunk& c : chunks[i]) {
      if (options.search.with_text) {
        const std::optional<std::string>& record = records[next++];
        if (!record) continue;  // deleted since the search
        FE_ASSIGN_OR_RETURN(storage::DocumentRecord rec, storage::DecodeDocument(*record));
        c.passage.text = std::move(rec.text);
      }
      found[i].passages.push_back(std::move(c.passage));
    }
  }
  return found;
}

}  // namespace flashembed::query
