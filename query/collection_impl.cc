#include "query/collection_impl.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <limits>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string_view>
#include <thread>
#include <tuple>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "filter/filter.h"
#include "query/field_store.h"
#include "query/filter_rows.h"
#include "query/image_input.h"
#include "query/planner.h"
#include "query/reranker.h"
#include "query/text_index.h"
#include "query/validate.h"

namespace flashembed::query {
namespace {

constexpr size_t kMaxIdBytes = 65535;

// Encoders name a text's position in the batch they were given ("text 0:
// ..."); when they were given one text, that position means nothing.
std::string OneTextMessage(const Status& s) {
  const std::string& m = s.message();
  return m.rfind("text 0: ", 0) == 0 ? m.substr(8) : m;
}

std::string Quote(const Id& id) { return QuoteId(id); }

}  // namespace

std::string IdPart(const Id& id) {
  return id.is_int() ? storage::IntIdPart(id.as_int()) : storage::StringIdPart(id.as_string());
}

Result<Id> IdFromPart(std::string_view part) {
  FE_ASSIGN_OR_RETURN(storage::ParsedId p, storage::DecodeIdPart(part));
  if (p.is_int) return Id(p.int_value);
  return Id(std::move(p.string_value));
}

std::string QuoteId(const Id& id) {
  return id.is_int() ? id.ToString() : "\"" + id.as_string() + "\"";
}

CollectionImpl::~CollectionImpl() = default;

CollectionImpl::CollectionImpl(storage::Store* store, storage::CollectionRecord record,
                               const Options& options,
                               std::unique_ptr<encoders::TextEncoder> encoder)
    : store_(store),
      record_(std::move(record)),
      options_(options),
      encoder_(std::move(encoder)),
      metric_(static_cast<index::Metric>(record_.metric)) {}

CollectionSchema CollectionImpl::SchemaOf(const storage::CollectionRecord& r) {
  CollectionSchema s;
  s.dim = static_cast<int>(r.dim);
  s.metric = static_cast<Metric>(r.metric);
  s.index = static_cast<IndexKind>(r.index_kind);
  s.hnsw.m = static_cast<int>(r.m);
  s.hnsw.ef_construction = static_cast<int>(r.ef_construction);
  s.hnsw.ef_search = static_cast<int>(r.ef_search);
  s.encoder = encoders::EncoderNameFromSpec(r.encoder_spec);
  s.query_prefix = r.query_prefix;
  s.document_prefix = r.document_prefix;
  if (r.nprobe != 0) {  // an IVF kind
    s.ivf.nlist = static_cast<int>(r.nlist);
    s.ivf.nprobe = static_cast<int>(r.nprobe);
    s.ivf.train_at = static_cast<int>(r.train_at);
  }
  if (r.pq_nbits != 0) {
    s.ivf.pq_m = static_cast<int>(r.pq_m);
    s.ivf.pq_nbits = static_cast<int>(r.pq_nbits);
  }
  s.properties = r.properties;
  s.text_index = r.text_index;
  s.indexed_fields = r.indexed_fields;
  s.reranker = RerankerNameFromSpec(r.reranker_spec);
  return s;
}

Status CollectionImpl::CheckOpen() const {
  switch (state_flag_.load()) {
    case State::kOpen: return Status::OK();
    case State::kClosed: return Status::Cancelled("database is closed");
    case State::kDropped:
      return Status::NotFound("collection \"" + record_.name + "\" was dropped");
    case State::kReplaced:
      return Status::Cancelled("collection \"" + record_.name +
                               "\" was switched to a new encoder by a re-embedding: get it again");
  }
  return Status::Internal("bad collection state");
}

Status CollectionImpl::CheckWritable() const {
  // Open first: once the database is closed, store_ is gone.
  FE_RETURN_IF_ERROR(CheckOpen());
  return store_->read_only() ? store_->Health() : Status::OK();
}

// ---- reads ------------------------------------------------------------------

Result<CollectionInfo> CollectionImpl::Describe() const {
  // Before index_mu_: counting the first time takes write_mu_, which is
  // always taken before index_mu_.
  FE_ASSIGN_OR_RETURN(const uint64_t documents, CountDocuments());
  std::shared_lock<RwMutex> lock(index_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  CollectionInfo info;
  info.documents = documents;
  info.name = record_.name;
  info.schema = SchemaOf(record_);
  info.encoder_spec = record_.encoder_spec;
  info.reranker_spec = record_.reranker_spec;
  info.count = live_count_.load();
  info.created_unix_ms = record_.created_unix_ms;
  if (text_index_) info.text_cache_bytes = text_index_->cached_bytes();
  info.embeds_images = encoder_ && encoder_->embeds_images();
  FE_ASSIGN_OR_RETURN(info.disk_bytes, DiskBytes(*store_, record_.cid));
  return info;
}

Result<uint64_t> CollectionImpl::DiskBytes(const storage::Store& store, uint32_t cid) {
  return store.ApproximateBytes(storage::CollectionPrefix(cid), storage::CollectionEnd(cid));
}

Result<uint64_t> CollectionImpl::Count() const {
  std::shared_lock<RwMutex> lock(index_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  return live_count_.load();
}

Result<Document> CollectionImpl::Get(const Id& id) const {
  std::shared_lock<RwMutex> lock(index_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  const uint32_t cid = record_.cid;
  // One point-in-time view: a concurrent upsert moves the id to a new slot
  // and deletes the old one, which must not look like a missing document.
  const storage::ReadView view = store_->NewReadView();
  auto slot_bytes = store_->Get(storage::Cf::kIds, storage::IdKey(cid, IdPart(id)), &view);
  if (slot_bytes.status().IsNotFound()) {
    return Status::NotFound("no document with id " + Quote(id) + " in collection \"" +
                            record_.name + "\"");
  }
  if (!slot_bytes.ok()) return slot_bytes.status();
  FE_ASSIGN_OR_RETURN(uint64_t slot, storage::DecodeSlot(*slot_bytes));
  auto doc_bytes = store_->Get(storage::Cf::kDocuments, storage::SlotKey(cid, slot), &view);
  auto vec_bytes = store_->Get(storage::Cf::kVectors, storage::SlotKey(cid, slot), &view);
  if (doc_bytes.status().IsNotFound() || vec_bytes.status().IsNotFound()) {
    return Status::Corruption("document with id " + Quote(id) + " in collection \"" + record_.name +
                              "\" has an id record but no " +
                              (doc_bytes.ok() ? "vector" : "document record"));
  }
  if (!doc_bytes.ok()) return doc_bytes.status();
  if (!vec_bytes.ok()) return vec_bytes.status();
  FE_ASSIGN_OR_RETURN(storage::DocumentRecord rec, storage::DecodeDocument(*doc_bytes));
  FE_ASSIGN_OR_RETURN(std::vector<float> vec, storage::DecodeVector(*vec_bytes, record_.dim));
  Document doc;
  doc.id = id;
  doc.text = std::move(rec.text);
  doc.metadata = std::move(rec.metadata);
  doc.vector = std::move(vec);
  return doc;
}

std::string CollectionImpl::ImagesRefused() const {
  return "collection \"" + record_.name + "\" cannot embed images: its encoder (" +
         (record_.encoder_spec.empty() ? std::string("none") : record_.encoder_spec) +
         ") embeds texts only; images need a collection created with a CLIP model folder "
         "(--model DIR)";
}

Result<std::vector<float>> CollectionImpl::QueryVector(const Query& query) const {
  if (query.image) {
    if (!query.vector.empty() || !query.text.empty()) {
      return Status::InvalidArgument("query has an image and " +
                                     std::string(query.text.empty() ? "a vector" : "text") +
                                     "; give one");
    }
    if (!encoder_ || !encoder_->embeds_images()) {
      return Status::InvalidArgument("query image: " + ImagesRefused());
    }
    auto decoded = DecodeImageInput(*query.image);
    if (!decoded.ok()) {
      return Status(decoded.status().code(), "query " + decoded.status().message());
    }
    std::vector<float> v(record_.dim);
    Status s = encoder_->EncodeImages(std::span(&decoded->image, 1), v);
    if (!s.ok()) return Status(s.code(), "query " + ImageName(*query.image) + ": " + s.message());
    return v;
  }
  if (!query.vector.empty()) {
    if (!query.text.empty()) {
      return Status::InvalidArgument("query has both text and a vector; give one");
    }
    Status s = CheckVector(query.vector, record_.dim, metric_);
    if (!s.ok()) return Status(s.code(), "query " + s.message());
    return query.vector;
  }
  if (encoders::IsBlankText(query.text)) {
    return Status::InvalidArgument(
        "query is empty (or only whitespace / control characters): give text or a vector");
  }
  if (!encoder_) {
    return Status::InvalidArgument("collection \"" + record_.name +
                                   "\" has no encoder: search it with a vector");
  }
  std::vector<float> v(record_.dim);
  const std::string prefixed = record_.query_prefix + query.text;
  std::string_view text = prefixed;
  Status s = encoder_->Encode(std::span<const std::string_view>(&text, 1), v);
  if (!s.ok()) return Status(s.code(), "query text: " + OneTextMessage(s));
  return v;
}

bool CollectionImpl::FilterRowsReady(const std::vector<std::vector<std::string>>& paths) const {
  if (!rows_) return false;
  for (const auto& path : paths) {
    if (rows_->fields.count(path) == 0) return false;
  }
  return true;
}

Status CollectionImpl::EnsureFilterRows(const std::vector<std::vector<std::string>>& paths) const {
  auto ready = [&] { return FilterRowsReady(paths); };
  {
    std::shared_lock<RwMutex> lock(index_mu_);
    if (ready()) return Status::OK();
  }
  // No write is in flight while write_mu_ is held, so the documents read
  // here are exactly the live ones, and later writes update rows_ in step
  // with the index.
  std::lock_guard<std::mutex> writer(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  bool loaded = false;
  {
    std::shared_lock<RwMutex> lock(index_mu_);
    if (ready()) return Status::OK();
    loaded = rows_ != nullptr;
  }
  std::unique_ptr<FilterRows> rows;
  if (!loaded) {
    rows = std::make_unique<FilterRows>();
    rows->rows.reserve(state_.live_count);
    Status bad;
    FE_RETURN_IF_ERROR(store_->Scan(
        storage::Cf::kDocuments, storage::CollectionPrefix(record_.cid),
        storage::CollectionEnd(record_.cid), [&](std::string_view key, std::string_view value) {
          auto rec = storage::DecodeDocument(value);
          if (!rec.ok()) {
            bad = rec.status();
            return false;
          }
          auto id = IdFromPart(rec->id_key);
          bad = id.ok() ? rows->Put(storage::SlotFromKey(key), std::move(id).value(), rec->metadata)
                        : id.status();
          return bad.ok();
        }));
    FE_RETURN_IF_ERROR(bad);
  }
  std::unique_lock<RwMutex> exclusive(index_mu_);
  if (rows) rows_ = std::move(rows);
  for (const auto& path : paths) rows_->Field(path);
  return Status::OK();
}

Status CollectionImpl::LockWithRows(bool need_rows,
                                    const std::vector<std::vector<std::string>>& paths,
                                    std::shared_lock<RwMutex>* lock) const {
  for (;;) {
    if (need_rows) FE_RETURN_IF_ERROR(EnsureFilterRows(paths));
    lock->lock();
    FE_RETURN_IF_ERROR(CheckOpen());
    // A writer may have dropped rows_ between the two (it never does unless
    // a stored record fails to decode): load again.
    if (!need_rows || FilterRowsReady(paths)) return Status::OK();
    lock->unlock();
  }
}

Result<std::shared_ptr<const std::vector<uint64_t>>> CollectionImpl::MatchesFromFieldStore(
    const PreparedFilter& prepared, size_t limit) const {
  std::optional<std::vector<uint64_t>> best;
  for (const FilterConjunct& c : prepared.conjuncts) {
    const std::optional<size_t> field = field_store_->FieldOf(c.field.keys);
    if (!field) continue;
    std::vector<uint64_t> candidates;
    FE_ASSIGN_OR_RETURN(
        bool within, field_store_->Candidates(*field, c, best ? best->size() : limit, &candidates));
    if (within) best = std::move(candidates);
  }
  if (!best) return std::shared_ptr<const std::vector<uint64_t>>();
  std::sort(best->begin(), best->end());
  best->erase(std::unique(best->begin(), best->end()), best->end());
  // The full filter on each candidate's stored metadata.
  std::vector<std::string> keys;
  keys.reserve(best->size());
  for (uint64_t slot : *best) keys.push_back(storage::SlotKey(record_.cid, slot));
  FE_ASSIGN_OR_RETURN(auto docs, store_->MultiGet(storage::Cf::kDocuments, keys));
  auto matches = std::make_shared<std::vector<uint64_t>>();
  for (size_t i = 0; i < keys.size(); ++i) {
    if (!docs[i]) continue;  // deleted meanwhile
    FE_ASSIGN_OR_RETURN(storage::DocumentRecord rec, storage::DecodeDocument(*docs[i]));
    FE_ASSIGN_OR_RETURN(Id id, IdFromPart(rec.id_key));
    nlohmann::json meta = nlohmann::json::parse(rec.metadata, nullptr, false);
    if (meta.is_discarded()) {
      return Status::Corruption(
          fmt::format("collection \"{}\": stored metadata of slot {} is not valid JSON",
                      record_.name, (*best)[i]));
    }
    if (FilterRows::Matches(*prepared.filter, FilterRows::Row{std::move(id), std::move(meta)})) {
      matches->push_back((*best)[i]);
    }
  }
  return std::shared_ptr<const std::vector<uint64_t>>(std::move(matches));
}

// One search's state, shared by Search's steps.
struct CollectionImpl::SearchRun {
  const SearchOptions& options;
  const PreparedFilter& prepared;
  std::span<const float> q;
  SearchPlanner planner;
  size_t effort;           // IndexEffort(options)
  const FilterRows* rows;  // null until the filter or grouping loaded them
  // Every slot the filter matches, once known.
  std::shared_ptr<const FilterRows::MatchSet> set;
  SearchStats stats;

  // Whether `slot` passes the filter: by the match set once known, else by
  // testing its row.
  bool Admits(uint64_t slot) const {
    if (set) return slot < set->bitmap.size() && set->bitmap[slot];
    auto it = rows->rows.find(slot);
    return it != rows->rows.end() && FilterRows::Matches(*prepared.filter, it->second);
  }
};

Result<std::vector<Hit>> CollectionImpl::Search(const SearchOptions& options,
                                                const Query& query) const {
  FE_ASSIGN_OR_RETURN(const std::string reranker,
                      EffectiveReranker(options, query, record_.name, record_.reranker_spec));
  if (!reranker.empty()) {
    // The first stage gives rerank_depth hits with their texts; the
    // cross-encoder orders them.
    FE_RETURN_IF_ERROR(options.Validate());
    SearchOptions reranking = options;
    reranking.reranker = reranker;
    SearchOptions first = options;
    first.reranker = "none";
    first.rerank_depth = 0;
    first.k = std::max(options.k, RerankDepth(options));
    first.with_text = true;
    FE_ASSIGN_OR_RETURN(std::vector<Hit> hits, Search(first, query));
    FE_RETURN_IF_ERROR(
        RerankHits(reranking, query.text.empty() ? options.keywords : query.text, &hits));
    if (!options.with_text) {
      for (Hit& hit : hits) hit.text.clear();
    }
    return hits;
  }
  if (options.ranking == Ranking::kAuto) {  // Search ranks by vector
    SearchOptions by_vector = options;
    by_vector.ranking = Ranking::kVector;
    return Search(by_vector, query);
  }
  std::vector<std::string> group_path;
  const bool grouped = !options.group_by.empty();
  if (grouped) {
    FE_ASSIGN_OR_RETURN(group_path, ParseKeyPath(options.group_by, "group_by"));
  }
  std::vector<Hit> hits;
  FE_RETURN_IF_ERROR(RunSearch(options, query, grouped, [&](const SearchStage& stage) -> Status {
    // 4. The stages after the plan: full-text or hybrid ranking, range
    // search and grouping, or the plain k nearest.
    if (options.ranking != Ranking::kVector) {
      FE_ASSIGN_OR_RETURN(
          std::vector<Ranked> ranked,
          RankWithText(options, stage.keywords, stage.admit,
                       options.ranking == Ranking::kHybrid ? stage.neighbors : NeighborSource()));
      stage.stats->strategy =
          options.ranking == Ranking::kText ? "text" : "hybrid+" + stage.stats->strategy;
      if (options.stats != nullptr) *options.stats = *stage.stats;
      FE_ASSIGN_OR_RETURN(hits, HitsFor(options, ranked, {}));
      return Status::OK();
    }
    if (grouped || options.min_score.has_value() || options.max_score.has_value()) {
      FE_ASSIGN_OR_RETURN(
          std::vector<index::Neighbor> chosen,
          SelectRangeAndGroups(options, group_path, index_->size(), stage.neighbors));
      if (options.stats != nullptr) *options.stats = *stage.stats;
      FE_ASSIGN_OR_RETURN(hits, HitsFor(options, RankedFrom(chosen), group_path));
      return Status::OK();
    }
    FE_ASSIGN_OR_RETURN(hits, NearestHits(options, stage.neighbors, *stage.stats));
    return Status::OK();
  }));
  return hits;
}

Status CollectionImpl::RunSearch(const SearchOptions& options, const Query& query, bool need_rows,
                                 const std::function<Status(const SearchStage&)>& last) const {
  // 1. Outside locks: options, filter, keywords, query vector.
  FE_RETURN_IF_ERROR(options.Validate());
  FE_ASSIGN_OR_RETURN(PreparedFilter prepared,
                      PreparedFilter::Make(options.filter, options.filter_params));
  const std::string& keywords = options.keywords.empty() ? query.text : options.keywords;
  if (options.ranking != Ranking::kVector) {
    if (!text_index_) {
      return Status::InvalidArgument("collection \"" + record_.name +
                                     "\" has no text index: full-text and hybrid ranking need "
                                     "one (create the collection with text_index)");
    }
    if (keywords.find_first_not_of(" \t\r\n") == std::string::npos) {
      return Status::InvalidArgument("full-text ranking needs keywords or a query text");
    }
  }
  std::vector<float> q;
  if (options.ranking != Ranking::kText) {
    FE_ASSIGN_OR_RETURN(q, QueryVector(query));
  }

  // 2. index_mu_ shared, with what the filter and grouping need.
  std::shared_lock<RwMutex> lock(index_mu_, std::defer_lock);
  FE_ASSIGN_OR_RETURN(std::shared_ptr<const std::vector<uint64_t>> stored_matches,
                      LockForSearch(prepared, options.k, need_rows, &lock));
  FE_RETURN_IF_ERROR(index_broken_);

  // 3. The plan (planner.h): the filter's match set, or a lazy walk.
  SearchRun run{
      .options = options,
      .prepared = prepared,
      .q = q,
      .planner = SearchPlanner(
          {.filtered = prepared.filter.has_value(),
           .mode = options.mode,
           .k = options.k,
           .ef_search = options.ef_search != 0 ? options.ef_search : size_t{record_.ef_search},
           .live = index_->size(),
           .exact_search_below = options_.exact_search_below}),
      .effort = IndexEffort(options),
      .rows = rows_.get(),
  };
  run.stats.filter_matches = index_->size();
  PlanMatches(&run, std::move(stored_matches));
  const NeighborSource neighbors = [&](size_t k, bool exact) { return Neighbors(&run, k, exact); };
  std::function<bool(uint64_t)> admit;
  if (prepared.filter) admit = [&run](uint64_t slot) { return run.Admits(slot); };
  return last(SearchStage{.neighbors = neighbors,
                          .admit = admit,
                          .keywords = keywords,
                          .rows = rows_.get(),
                          .stats = &run.stats});
}

Result<std::shared_ptr<const std::vector<uint64_t>>> CollectionImpl::LockForSearch(
    const PreparedFilter& prepared, size_t k, bool grouped, std::shared_lock<RwMutex>* lock) const {
  // A selective conjunct on a declared field narrows through the stored
  // field index, without loading the documents' metadata; other filters,
  // and grouping, need the in-memory rows.
  FE_RETURN_IF_ERROR(LockWithRows(grouped, {}, lock));
  std::shared_ptr<const std::vector<uint64_t>> stored_matches;
  if (prepared.filter && field_store_ && !FilterRowsReady(prepared.paths)) {
    const size_t limit = SearchPlanner::CandidateLimit(k, live_count_.load());
    FE_ASSIGN_OR_RETURN(stored_matches, MatchesFromFieldStore(prepared, limit));
  }
  if (prepared.filter && !stored_matches && !FilterRowsReady(prepared.paths)) {
    lock->unlock();
    FE_RETURN_IF_ERROR(LockWithRows(true, prepared.paths, lock));
  }
  return stored_matches;
}

void CollectionImpl::PlanMatches(SearchRun* run,
                                 std::shared_ptr<const std::vector<uint64_t>> stored) const {
  SearchStats& stats = run->stats;
  if (stored) {
    stats.narrowed = true;
    stats.stored_index = true;
    auto fresh = std::make_shared<FilterRows::MatchSet>();
    for (uint64_t slot : *stored) fresh->Add(slot);
    run->set = std::move(fresh);
    stats.filter_matches = run->set->slots.size();
    return;
  }
  const PreparedFilter& prepared = run->prepared;
  if (!prepared.filter) return;
  // Match sets are cached per filter text until the next write. Else the
  // narrowest conjunct with few enough candidates (a selective filter then
  // costs its candidates, not the collection); testing them costs about
  // what scanning the matches does, so the next search with this filter
  // starts from the set.
  bool seen_before = false;
  run->set = rows_->Recall(prepared.cache_key, &seen_before);
  if (run->set) {
    stats.cached = true;
  } else if (auto best = rows_->Candidates(
                 prepared, SearchPlanner::CandidateLimit(run->options.k, index_->size()))) {
    stats.narrowed = true;
    run->set = rows_->MatchesAmong(*prepared.filter, *best);
    rows_->Remember(prepared.cache_key, run->set);
  } else if (run->planner.ShouldSample(seen_before, rows_->rows.size())) {
    const auto [seen, passed] = rows_->SamplePasses(*prepared.filter, kPassRateSample);
    if (run->planner.TakeSample(seen, passed)) {
      stats.filter_matches = run->planner.EstimatedMatches(seen, passed);  // an estimate
      rows_->Remember(prepared.cache_key, nullptr);  // a second use scans and caches
    }
  }
  if (!run->planner.walk_lazily()) EnsureMatchSet(run);
}

void CollectionImpl::EnsureMatchSet(SearchRun* run) const {
  if (!run->set) run->set = rows_->AllMatches(run->prepared);
  run->stats.filter_matches = run->set->slots.size();
}

Result<std::vector<index::Neighbor>> CollectionImpl::Neighbors(SearchRun* run, size_t k,
                                                               bool exact) const {
  const SearchPlanner& planner = run->planner;
  if (planner.NeedsMatchSet(exact)) EnsureMatchSet(run);
  const std::optional<size_t> matches =
      run->set ? std::optional<size_t>(run->set->slots.size()) : std::nullopt;
  Strategy strategy = planner.Choose(k, exact, matches);
  run->stats.strategy = StrategyName(strategy);
  switch (strategy) {
    case Strategy::kExact: return index_->ExactSearch(run->q, k);
    case Strategy::kGraph: return index_->Search(run->q, k, run->effort);
    case Strategy::kExactMatches: return index_->ExactSearchAmong(run->q, k, run->set->slots);
    case Strategy::kNone: return std::vector<index::Neighbor>();
    case Strategy::kFilteredGraph: break;
  }
  // Admitting the matches (by the set when known, else by testing the rows
  // the walk visits).
  const index::SlotPredicate admit = [run](uint64_t slot) { return run->Admits(slot); };
  FE_ASSIGN_OR_RETURN(std::vector<index::Neighbor> nn,
                      index_->Search(run->q, k, run->effort, admit));
  if (!SearchPlanner::WalkCameBackShort(k, nn.size(), matches)) return nn;
  EnsureMatchSet(run);
  strategy = SearchPlanner::AfterShortWalk(run->set->slots.size());
  run->stats.strategy = StrategyName(strategy);
  if (strategy == Strategy::kNone) return std::vector<index::Neighbor>();
  return index_->ExactSearchAmong(run->q, k, run->set->slots);
}

Result<std::vector<Hit>> CollectionImpl::NearestHits(const SearchOptions& options,
                                                     const NeighborSource& neighbors,
                                                     const SearchStats& stats) const {
  // A concurrent delete removes the stored document before it leaves the
  // index; a hit whose document is gone is skipped and the search widened.
  const uint32_t cid = record_.cid;
  size_t k = options.k;
  for (int attempt = 0;; ++attempt) {
    FE_ASSIGN_OR_RETURN(std::vector<index::Neighbor> nn, neighbors(k, false));
    if (options.stats != nullptr) *options.stats = stats;
    std::vector<std::string> keys;
    keys.reserve(nn.size());
    for (const auto& n : nn) keys.push_back(storage::SlotKey(cid, n.slot));
    FE_ASSIGN_OR_RETURN(auto docs, store_->MultiGet(storage::Cf::kDocuments, keys));
    std::vector<std::optional<std::string>> vecs;
    if (options.with_vector) {
      FE_ASSIGN_OR_RETURN(vecs, store_->MultiGet(storage::Cf::kVectors, keys));
    }
    std::vector<Hit> hits;
    hits.reserve(std::min(nn.size(), options.k));
    size_t missing = 0;
    for (size_t i = 0; i < nn.size() && hits.size() < options.k; ++i) {
      if (!docs[i] || (options.with_vector && !vecs[i])) {
        ++missing;
        continue;
      }
      FE_ASSIGN_OR_RETURN(storage::DocumentRecord rec, storage::DecodeDocument(*docs[i]));
      Hit hit;
      FE_ASSIGN_OR_RETURN(hit.id, IdFromPart(rec.id_key));
      hit.score = ScoreOf(metric_, nn[i].distance);
      if (options.with_text) hit.text = std::move(rec.text);
      if (options.with_metadata) hit.metadata = std::move(rec.metadata);
      if (options.with_vector) {
        FE_ASSIGN_OR_RETURN(hit.vector, storage::DecodeVector(*vecs[i], record_.dim));
      }
      hits.push_back(std::move(hit));
    }
    if (missing == 0 || hits.size() >= options.k || nn.size() < k || attempt >= 3) return hits;
    k += missing;
  }
}

// ---- writes -----------------------------------------------------------------

Status CollectionImpl::Add(const WriteOptions& options, std::span<const Document> docs) {
  return Write(options, docs, /*upsert=*/false);
}

Status CollectionImpl::Upsert(const WriteOptions& options, std::span<const Document> docs) {
  return Write(options, docs, /*upsert=*/true);
}

Status CollectionImpl::Write(const WriteOptions& options, std::span<const Document> docs,
                             bool upsert) {
  if (docs.empty()) return Status::OK();
  FE_RETURN_IF_ERROR(CheckWritable());
  FE_ASSIGN_OR_RETURN(StagedWrite staged, Stage(docs));
  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  FE_RETURN_IF_ERROR(index_broken_);
  FE_RETURN_IF_ERROR(RefuseChunkIds(staged.id_parts));
  return CommitLocked(options, docs, staged, upsert, {}, nullptr);
}

Result<CollectionImpl::StagedWrite> CollectionImpl::Stage(std::span<const Document> docs) const {
  const size_t dim = record_.dim;
  StagedWrite staged;
  std::vector<std::string>& id_parts = staged.id_parts;
  std::vector<std::string>& metadata = staged.metadata;
  std::vector<float>& vectors = staged.vectors;
  id_parts.resize(docs.size());
  metadata.resize(docs.size());
  vectors.resize(docs.size() * dim);
  // Validate and embed outside the lock: encoding is the expensive part and
  // may run in several writer threads at once.
  std::vector<size_t> to_encode;
  std::vector<size_t> image_docs;  // documents with an image
  std::unordered_set<std::string_view> seen;
  for (size_t i = 0; i < docs.size(); ++i) {
    const Document& d = docs[i];
    auto where = [&] { return fmt::format("document {} (id {})", i, Quote(d.id)); };
    if (d.id.is_string() && (d.id.as_string().empty() || d.id.as_string().size() > kMaxIdBytes)) {
      return Status::InvalidArgument(
          fmt::format("document {}: string id must be 1..65535 bytes", i));
    }
    id_parts[i] = IdPart(d.id);
    if (!seen.insert(id_parts[i]).second) {
      return Status::InvalidArgument(where() + ": id appears twice in the batch");
    }
    auto meta = NormalizeMetadata(d.metadata);
    if (!meta.ok()) return Status(meta.status().code(), where() + ": " + meta.status().message());
    metadata[i] = std::move(meta).value();
    if (d.image) {
      if (!d.vector.empty() || !d.text.empty()) {
        return Status::InvalidArgument(where() + ": has an image and " +
                                       (d.text.empty() ? "a vector" : "a text") +
                                       "; an image record is embedded from its image alone");
      }
      if (!encoder_ || !encoder_->embeds_images()) {
        return Status::InvalidArgument(where() + ": " + ImagesRefused());
      }
      image_docs.push_back(i);
    } else if (!d.vector.empty()) {
      Status s = CheckVector(d.vector, record_.dim, metric_);
      if (!s.ok()) return Status(s.code(), where() + ": " + s.message());
      std::copy(d.vector.begin(), d.vector.end(), vectors.begin() + i * dim);
    } else if (!encoder_) {
      return Status::InvalidArgument(where() + ": collection \"" + record_.name +
                                     "\" has no encoder, so every document needs a vector");
    } else if (encoders::IsBlankText(d.text)) {
      // Encoders embed such a text ([CLS] [SEP]), but as a stored document
      // it is almost always a mistake in the input.
      return Status::InvalidArgument(
          where() +
          ": text is empty (or only whitespace / control characters) and no vector is given");
    } else {
      to_encode.push_back(i);
    }
  }
  if (!to_encode.empty()) {
    // The collection's document prefix is part of what is embedded, not of
    // what is stored.
    std::vector<std::string> prefixed;
    std::vector<std::string_view> texts;
    texts.reserve(to_encode.size());
    if (record_.document_prefix.empty()) {
      for (size_t i : to_encode) texts.push_back(docs[i].text);
    } else {
      prefixed.reserve(to_encode.size());
      for (size_t i : to_encode) prefixed.push_back(record_.document_prefix + docs[i].text);
      texts.assign(prefixed.begin(), prefixed.end());
    }
    std::vector<float> encoded(to_encode.size() * dim);
    Status s = encoder_->Encode(texts, encoded);
    if (!s.ok()) {
      // Name the document at fault: find the first text that fails alone.
      for (size_t j = 0; j < to_encode.size(); ++j) {
        Status one = encoder_->Encode(std::span<const std::string_view>(&texts[j], 1),
                                      std::span<float>(encoded).subspan(0, dim));
        if (!one.ok()) {
          const size_t i = to_encode[j];
          return Status(one.code(), fmt::format("document {} (id {}): {}", i, Quote(docs[i].id),
                                                OneTextMessage(one)));
        }
      }
      return s;
    }
    for (size_t j = 0; j < to_encode.size(); ++j) {
      std::copy(encoded.begin() + j * dim, encoded.begin() + (j + 1) * dim,
                vectors.begin() + to_encode[j] * dim);
    }
  }
  // Images a few at a time: decoded pixels take up to kMaxImagePixels * 3
  // bytes each, so only a group is held at once.
  constexpr size_t kImageGroup = 8;
  for (size_t first = 0; first < image_docs.size(); first += kImageGroup) {
    const size_t count = std::min(kImageGroup, image_docs.size() - first);
    // Decoding (JPEG's inverse DCT, PNG's inflate) on every core, one image
    // per thread at a time.
    std::vector<Result<DecodedImage>> decoded(count, Status::Internal("not decoded"));
    {
      std::atomic<size_t> next{0};
      auto work = [&] {
        for (size_t j; (j = next.fetch_add(1)) < count;) {
          decoded[j] = DecodeImageInput(*docs[image_docs[first + j]].image);
        }
      };
      const size_t threads =
          std::min<size_t>(count, std::max(1u, std::thread::hardware_concurrency()));
      std::vector<std::thread> pool;
      for (size_t t = 1; t < threads; ++t) pool.emplace_back(work);
      work();
      for (std::thread& t : pool) t.join();
    }
    std::vector<encoders::Image> images;
    for (size_t j = 0; j < count; ++j) {
      const size_t i = image_docs[first + j];
      auto where = [&] { return fmt::format("document {} (id {})", i, Quote(docs[i].id)); };
      if (!decoded[j].ok()) {
        return Status(decoded[j].status().code(), where() + ": " + decoded[j].status().message());
      }
      auto meta = ImageRecordMetadata(metadata[i], *docs[i].image, *decoded[j]);
      if (!meta.ok()) return Status(meta.status().code(), where() + ": " + meta.status().message());
      metadata[i] = std::move(meta).value();
      images.push_back(std::move(decoded[j]->image));
    }
    decoded.clear();
    std::vector<float> encoded(count * dim);
    Status s = encoder_->EncodeImages(images, encoded);
    if (!s.ok()) return Status(s.code(), "images: " + s.message());
    for (size_t j = 0; j < count; ++j) {
      std::copy(encoded.begin() + j * dim, encoded.begin() + (j + 1) * dim,
                vectors.begin() + image_docs[first + j] * dim);
    }
  }

  return staged;
}

// Under the write lock: resolve ids, assign slots, write one batch.
Status CollectionImpl::CommitLocked(const WriteOptions& options, std::span<const Document> docs,
                                    const StagedWrite& staged, bool upsert,
                                    const std::vector<std::string>& remove_parts,
                                    const std::function<void(storage::WriteBatch*)>& extra) {
  const uint32_t cid = record_.cid;
  const size_t dim = record_.dim;
  const std::vector<std::string>& id_parts = staged.id_parts;
  const std::vector<std::string>& metadata = staged.metadata;
  const std::vector<float>& vectors = staged.vectors;
  std::vector<std::string> id_keys(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) id_keys[i] = storage::IdKey(cid, id_parts[i]);
  FE_ASSIGN_OR_RETURN(auto existing, store_->MultiGet(storage::Cf::kIds, id_keys));

  storage::CollectionState next = state_;
  storage::WriteBatch batch;
  std::vector<uint64_t> new_slots(docs.size());
  std::vector<std::optional<uint64_t>> old_slots(docs.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    if (existing[i]) {
      if (!upsert) {
        return Status::AlreadyExists(
            fmt::format("document {}: id {} already exists in collection \"{}\"", i,
                        Quote(docs[i].id), record_.name));
      }
      FE_ASSIGN_OR_RETURN(uint64_t old, storage::DecodeSlot(*existing[i]));
      old_slots[i] = old;
      batch.Delete(storage::Cf::kDocuments, storage::SlotKey(cid, old));
      batch.Delete(storage::Cf::kVectors, storage::SlotKey(cid, old));
      batch.Put(storage::Cf::kOplog, storage::OplogKey(cid, next.next_seq++),
                storage::EncodeOplog({storage::OpKind::kRemove, old}));
      --next.live_count;
    }
    uint64_t slot = next.next_slot++;
    new_slots[i] = slot;
    std::string slot_key = storage::SlotKey(cid, slot);
    batch.Put(storage::Cf::kIds, id_keys[i], storage::EncodeSlot(slot));
    batch.Put(storage::Cf::kDocuments, slot_key,
              storage::EncodeDocument({id_parts[i], docs[i].text, metadata[i]}));
    batch.Put(storage::Cf::kVectors, slot_key,
              storage::EncodeVector(std::span<const float>(vectors).subspan(i * dim, dim)));
    batch.Put(storage::Cf::kOplog, storage::OplogKey(cid, next.next_seq++),
              storage::EncodeOplog({storage::OpKind::kAdd, slot}));
    ++next.live_count;
  }
  // Removals (records of ids not written above).
  std::vector<uint64_t> removed;
  if (!remove_parts.empty()) {
    std::vector<std::string> remove_keys;
    remove_keys.reserve(remove_parts.size());
    for (const std::string& part : remove_parts) remove_keys.push_back(storage::IdKey(cid, part));
    FE_ASSIGN_OR_RETURN(auto stored, store_->MultiGet(storage::Cf::kIds, remove_keys));
    for (size_t i = 0; i < remove_keys.size(); ++i) {
      if (!stored[i]) continue;
      FE_ASSIGN_OR_RETURN(uint64_t slot, storage::DecodeSlot(*stored[i]));
      batch.Delete(storage::Cf::kIds, remove_keys[i]);
      batch.Delete(storage::Cf::kDocuments, storage::SlotKey(cid, slot));
      batch.Delete(storage::Cf::kVectors, storage::SlotKey(cid, slot));
      batch.Put(storage::Cf::kOplog, storage::OplogKey(cid, next.next_seq++),
                storage::EncodeOplog({storage::OpKind::kRemove, slot}));
      --next.live_count;
      removed.push_back(slot);
    }
  }
  if (extra) extra(&batch);
  batch.Put(storage::Cf::kCatalog, storage::CollectionStateKey(cid), storage::EncodeState(next));
  TextStats text_stats;
  if (text_index_ || field_store_) {
    if (text_index_) text_stats = text_index_->stats();
    std::vector<uint64_t> replaced = removed;
    for (const auto& old : old_slots) {
      if (old) replaced.push_back(*old);
    }
    FE_RETURN_IF_ERROR(AppendSecondaryRemovals(replaced, &batch, &text_stats));
    for (size_t i = 0; i < docs.size(); ++i) {
      if (text_index_) text_index_->AppendAdd(new_slots[i], docs[i].text, &batch, &text_stats);
      if (field_store_) {
        field_store_->AppendAdd(new_slots[i], nlohmann::json::parse(metadata[i]), &batch);
      }
    }
    if (text_index_) text_index_->AppendStats(text_stats, &batch);
  }
  FE_RETURN_IF_ERROR(store_->Write(batch, options.sync));
  if (text_index_) text_index_->set_stats(text_stats);
  const uint64_t logged_ops = next.next_seq - state_.next_seq;
  state_ = next;

  // 3. Durable: now make it visible. One exclusive section per document keeps
  // searches flowing during large batches.
  Status index_status;
  for (size_t i = 0; i < docs.size() && index_status.ok(); ++i) {
    std::unique_lock<RwMutex> exclusive(index_mu_);
    index_status = index_->Add(new_slots[i], std::span<const float>(vectors).subspan(i * dim, dim));
    if (index_status.ok() && old_slots[i]) index_status = index_->Remove(*old_slots[i]);
    if (rows_) {
      if (old_slots[i]) rows_->Erase(*old_slots[i]);
      Status put = rows_->Put(new_slots[i], docs[i].id, metadata[i]);
      if (!put.ok()) rows_.reset();  // cannot happen (validated above); reload on next use
    }
    live_count_ = next.live_count;
  }
  if (!removed.empty() && index_status.ok()) {
    std::unique_lock<RwMutex> exclusive(index_mu_);
    for (uint64_t slot : removed) {
      Status s = index_->Remove(slot);
      if (index_status.ok()) index_status = s;
      if (rows_) rows_->Erase(slot);
    }
  }
  live_count_ = next.live_count;
  const auto replaced = static_cast<uint64_t>(std::count_if(
      old_slots.begin(), old_slots.end(), [](const auto& s) { return s.has_value(); }));
  return AfterIndexUpdate(index_status, logged_ops, replaced + removed.size());
}

Result<size_t> CollectionImpl::Delete(const WriteOptions& options, std::span<const Id> ids) {
  if (ids.empty()) return size_t{0};
  FE_RETURN_IF_ERROR(CheckWritable());
  const uint32_t cid = record_.cid;
  std::vector<std::string> id_keys;
  id_keys.reserve(ids.size());
  std::unordered_set<std::string> seen;
  for (const Id& id : ids) {
    std::string key = storage::IdKey(cid, IdPart(id));
    if (seen.insert(key).second) id_keys.push_back(std::move(key));
  }

  std::lock_guard<std::mutex> lock(write_mu_);
  FE_RETURN_IF_ERROR(CheckOpen());
  FE_RETURN_IF_ERROR(index_broken_);
  FE_ASSIGN_OR_RETURN(auto existing, store_->MultiGet(storage::Cf::kIds, id_keys));
  std::vector<std::pair<std::string, uint64_t>> doomed;
  for (size_t i = 0; i < id_keys.size(); ++i) {
    if (!existing[i]) continue;
    FE_ASSIGN_OR_RETURN(uint64_t slot, storage::DecodeSlot(*existing[i]));
    doomed.emplace_back(std::move(id_keys[i]), slot);
  }
  return RemoveLocked(options, doomed);
}

Status CollectionImpl::AppendSecondaryRemovals(const std::vector<uint64_t>& slots,
                                               storage::WriteBatch* batch, TextStats* stats) const {
  if (slots.empty() || (!text_index_ && !field_store_)) return Status::OK();
  std::vector<std::string> keys;
  keys.reserve(slots.size());
  for (uint64_t slot : slots) keys.push_back(storage::SlotKey(record_.cid, slot));
  FE_ASSIGN_OR_RETURN(auto docs, store_->MultiGet(storage::Cf::kDocuments, keys));
  for (size_t i = 0; i < slots.size(); ++i) {
    if (!docs[i]) {
      return Status::Corruption(fmt::format(
          "collection \"{}\": slot {} has an id but no document record", record_.name, slots[i]));
    }
    FE_ASSIGN_OR_RETURN(storage::DocumentRecord rec, storage::DecodeDocument(*docs[i]));
    if (text_index_) text_index_->AppendRemove(slots[i], rec.text, batch, stats);
    if (field_store_) {
      const nlohmann::json meta =
          nlohmann::json::parse(rec.metadata, nullptr, /*allow_exceptions=*/false);
      if (meta.is_discarded()) {
        return Status::Corruption(
            fmt::format("collection \"{}\": stored metadata of slot {} is not valid JSON",
                        record_.name, slots[i]));
      }
      field_store_->AppendRemove(slots[i], meta, batch);
    }
  }
  return Status::OK();
}

Result<size_t> CollectionImpl::RemoveLocked(
    const WriteOptions& options, const std::vector<std::pair<std::string, uint64_t>>& doomed) {
  if (doomed.empty()) return size_t{0};
  {
    std::vector<std::string> parts;
    parts.reserve(doomed.size());
    for (const auto& entry : doomed) parts.emplace_back(storage::IdPartFromKey(entry.first));
    FE_RETURN_IF_ERROR(RefuseChunkIds(parts));
  }
  const uint32_t cid = record_.cid;
  storage::CollectionState next = state_;
  storage::WriteBatch batch;
  std::vector<uint64_t> removed;
  for (const auto& [id_key, slot] : doomed) {
    batch.Delete(storage::Cf::kIds, id_key);
    batch.Delete(storage::Cf::kDocuments, storage::SlotKey(cid, slot));
    batch.Delete(storage::Cf::kVectors, storage::SlotKey(cid, slot));
    batch.Put(storage::Cf::kOplog, storage::OplogKey(cid, next.next_seq++),
              storage::EncodeOplog({storage::OpKind::kRemove, slot}));
    --next.live_count;
    removed.push_back(slot);
  }
  batch.Put(storage::Cf::kCatalog, storage::CollectionStateKey(cid), storage::EncodeState(next));
  TextStats text_stats;
  if (text_index_) text_stats = text_index_->stats();
  FE_RETURN_IF_ERROR(AppendSecondaryRemovals(removed, &batch, &text_stats));
  if (text_index_) text_index_->AppendStats(text_stats, &batch);
  FE_RETURN_IF_ERROR(store_->Write(batch, options.sync));
  if (text_index_) text_index_->set_stats(text_stats);
  state_ = next;
  Status index_status;
  {
    std::unique_lock<RwMutex> exclusive(index_mu_);
    for (uint64_t slot : removed) {
      Status s = index_->Remove(slot);
      if (index_status.ok()) index_status = s;
      if (rows_) rows_->Erase(slot);
    }
    live_count_ = next.live_count;
  }
  FE_RETURN_IF_ERROR(AfterIndexUpdate(index_status, removed.size(), removed.size()));
  return removed.size();
}

}  // namespace flashembed::query
