#include "query/reranker.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <mutex>
#include <string>

#include <fmt/format.h>

#include "encoders/cross_encoder.h"

namespace flashembed {
namespace {

// Scores the passages against the query.
Result<std::vector<float>> Scores(const encoders::CrossEncoder& reranker,
                                  std::string_view query_text,
                                  std::span<const std::string_view> passages) {
  std::vector<std::string_view> queries(passages.size(), query_text);
  std::vector<float> logits(passages.size()), scores(passages.size());
  FE_RETURN_IF_ERROR(reranker.Score(queries, passages, logits, scores));
  return scores;
}

Status CheckQuery(std::string_view query_text) {
  if (query_text.find_first_not_of(" \t\r\n") == std::string_view::npos) {
    return Status::InvalidArgument(
        "reranking needs a query text (the cross-encoder reads the query beside each result)");
  }
  return Status::OK();
}

}  // namespace

Result<std::shared_ptr<const encoders::CrossEncoder>> LoadReranker(std::string_view name) {
  std::string dir(name.starts_with("model:") ? name.substr(6) : name);
  if (dir.empty()) return Status::InvalidArgument("reranker: empty model folder name");
  std::error_code ec;
  const std::string abs = std::filesystem::absolute(dir, ec).lexically_normal().string();
  if (!ec) dir = abs;
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  static std::mutex mu;
  static auto* cache = new std::map<std::string, std::shared_ptr<const encoders::CrossEncoder>>();
  // One load at a time: a second search for the same folder waits for the
  // first instead of loading it again.
  std::lock_guard<std::mutex> lock(mu);
  if (auto it = cache->find(dir); it != cache->end()) return it->second;
  // Open names what is missing, and refuses a folder that is no reranker.
  FE_ASSIGN_OR_RETURN(std::unique_ptr<encoders::CrossEncoder> loaded,
                      encoders::CrossEncoder::Open(dir));
  std::shared_ptr<const encoders::CrossEncoder> shared(std::move(loaded));
  cache->emplace(dir, shared);
  return shared;
}

namespace {

class RerankerImpl final : public Reranker {
 public:
  explicit RerankerImpl(std::shared_ptr<const encoders::CrossEncoder> model)
      : model_(std::move(model)) {}

  std::string spec() const override { return model_->spec(); }

  Result<std::vector<Score>> ScorePairs(const std::vector<std::string>& queries,
                                        const std::vector<std::string>& passages) const override {
    if (queries.size() != passages.size()) {
      return Status::InvalidArgument(
          fmt::format("{} queries but {} passages", queries.size(), passages.size()));
    }
    std::vector<std::string_view> q(queries.begin(), queries.end());
    std::vector<std::string_view> p(passages.begin(), passages.end());
    std::vector<float> logits(q.size()), scores(q.size());
    FE_RETURN_IF_ERROR(model_->Score(q, p, logits, scores));
    std::vector<Score> out(q.size());
    for (size_t i = 0; i < out.size(); ++i) out[i] = {scores[i], logits[i]};
    return out;
  }

  Result<TextModel::Tokens> TokenizePair(std::string_view query, std::string_view passage,
                                         size_t max_tokens) const override {
    FE_ASSIGN_OR_RETURN(auto t, model_->TokenizePair(query, passage, max_tokens));
    return TextModel::Tokens{std::move(t.ids), std::move(t.tokens), std::move(t.type_ids)};
  }

 private:
  std::shared_ptr<const encoders::CrossEncoder> model_;
};

}  // namespace

Result<std::unique_ptr<Reranker>> Reranker::Open(std::string_view name) {
  FE_ASSIGN_OR_RETURN(auto model, LoadReranker(name));
  return std::unique_ptr<Reranker>(new RerankerImpl(std::move(model)));
}

std::string RerankerNameFromSpec(std::string_view spec) {
  const size_t dir = spec.find(";dir=");
  if (dir == std::string_view::npos) return "";
  return "model:" + std::string(spec.substr(dir + 5));
}

Result<std::string> EffectiveReranker(const SearchOptions& options, const Query& query,
                                      std::string_view collection,
                                      const std::string& default_spec) {
  if (options.reranker == "none") return std::string();
  if (!options.reranker.empty()) return options.reranker;
  if (default_spec.empty()) {
    if (options.rerank_depth != 0) {
      return Status::InvalidArgument("rerank_depth needs a reranker, and collection \"" +
                                     std::string(collection) + "\" has no default one");
    }
    return std::string();
  }
  // The default applies where it can: a search with words to read and no
  // grouping.
  const bool has_text =
      !query.text.empty() || (!options.keywords.empty() && !query.image.has_value());
  if (!has_text || !options.group_by.empty()) return std::string();
  const std::string name = RerankerNameFromSpec(default_spec);
  FE_ASSIGN_OR_RETURN(auto reranker, LoadReranker(name));
  if (reranker->spec() != default_spec) {
    return Status::InvalidArgument(
        "the default reranker of collection \"" + std::string(collection) + "\" (" +
        name.substr(6) + ") changed since the collection named it (stored " + default_spec +
        ", now " + reranker->spec() + "); name a reranker for the search, or \"none\"");
  }
  return name;
}

size_t RerankDepth(const SearchOptions& options) {
  return options.rerank_depth != 0 ? options.rerank_depth : std::max<size_t>(options.k, 20);
}

Status RerankHits(const SearchOptions& options, std::string_view query_text,
                  std::vector<Hit>* hits) {
  FE_RETURN_IF_ERROR(CheckQuery(query_text));
  FE_ASSIGN_OR_RETURN(auto reranker, LoadReranker(options.reranker));
  const size_t n = std::min(RerankDepth(options), hits->size());
  std::vector<std::string_view> texts;
  texts.reserve(n);
  for (size_t i = 0; i < n; ++i) texts.push_back((*hits)[i].text);
  FE_ASSIGN_OR_RETURN(std::vector<float> scores, Scores(*reranker, query_text, texts));
  for (size_t i = 0; i < n; ++i) (*hits)[i].rerank_score = scores[i];
  std::stable_sort(hits->begin(), hits->begin() + static_cast<std::ptrdiff_t>(n),
                   [](const Hit& a, const Hit& b) { return *a.rerank_score > *b.rerank_score; });
  if (hits->size() > options.k) hits->resize(options.k);
  return Status::OK();
}

Status RerankDocuments(const SearchOptions& options, std::string_view query_text,
                       std::vector<DocumentHit>* docs) {
  FE_RETURN_IF_ERROR(CheckQuery(query_text));
  FE_ASSIGN_OR_RETURN(auto reranker, LoadReranker(options.reranker));
  const size_t depth = RerankDepth(options);
  std::vector<Passage*> passages;
  std::vector<std::string_view> texts;
  for (DocumentHit& doc : *docs) {
    for (Passage& p : doc.passages) {
      if (passages.size() == depth) break;
      passages.push_back(&p);
      texts.push_back(p.text);
    }
  }
  FE_ASSIGN_OR_RETURN(std::vector<float> scores, Scores(*reranker, query_text, texts));
  for (size_t i = 0; i < passages.size(); ++i) passages[i]->rerank_score = scores[i];
  for (DocumentHit& doc : *docs) {
    // Scored passages first, best first; the rest keep their order.
    std::stable_sort(doc.passages.begin(), doc.passages.end(),
                     [](const Passage& a, const Passage& b) {
                       if (a.rerank_score.has_value() != b.rerank_score.has_value()) {
                         return a.rerank_score.has_value();
                       }
                       return a.rerank_score.has_value() && *a.rerank_score > *b.rerank_score;
                     });
    if (!doc.passages.empty()) doc.rerank_score = doc.passages.front().rerank_score;
  }
  std::stable_sort(docs->begin(), docs->end(), [](const DocumentHit& a, const DocumentHit& b) {
    if (a.rerank_score.has_value() != b.rerank_score.has_value()) {
      return a.rerank_score.has_value();
    }
    return a.rerank_score.has_value() && *a.rerank_score > *b.rerank_score;
  });
  if (docs->size() > options.k) docs->resize(options.k);
  return Status::OK();
}

}  // namespace flashembed
