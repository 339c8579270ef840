// Reranking search results with a cross-encoder (encoders/cross_encoder.h):
// SearchOptions::reranker. Internal to query/.
//
// Thread-safety: LoadReranker may be called from many threads; the
// cross-encoders it returns are immutable.
#ifndef FLASHEMBED_QUERY_RERANKER_H_
#define FLASHEMBED_QUERY_RERANKER_H_

#include <cstddef>
#include <memory>
#include <span>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "query/database.h"

namespace flashembed {

namespace encoders {
class CrossEncoder;
}  // namespace encoders

// The cross-encoder `name` names ("model:DIR" or DIR), loaded on first use
// and kept for the life of the process (one per folder). Errors: those of
// CrossEncoder::Open, and InvalidArgument for a folder that is not a
// sequence-classification model.
Result<std::shared_ptr<const encoders::CrossEncoder>> LoadReranker(std::string_view name);

// The reranker a search runs: options.reranker, else the collection's
// default (`default_spec`, "" for none; checked against its folder, which
// must not have changed since the collection named it) when the search has
// words to rerank with (a query text, or keywords) and no group_by; "" for
// none (also for options.reranker "none"). InvalidArgument for a
// rerank_depth without a reranker, or a changed default folder (naming the
// collection).
Result<std::string> EffectiveReranker(const SearchOptions& options, const Query& query,
                                      std::string_view collection, const std::string& default_spec);

// "model:DIR" of a "rerank/v1;...;dir=DIR" spec, "" for "".
std::string RerankerNameFromSpec(std::string_view spec);

// How many first-stage results are reranked: rerank_depth, or max(k, 20).
size_t RerankDepth(const SearchOptions& options);

// Reranks the first RerankDepth(options) of `hits` (ranked by the first
// stage, with their texts) against `query_text`: sets their rerank_score,
// orders them by it (ties keep their order) ahead of the rest, and keeps the
// best options.k.
Status RerankHits(const SearchOptions& options, std::string_view query_text,
                  std::vector<Hit>* hits);

// The same for documents: their passages (in order, up to the depth) are
// scored, each document's passages ordered by that score, and the documents
// by their best passage's score (DocumentHit::rerank_score); the best k stay.
Status RerankDocuments(const SearchOptions& options, std::string_view query_text,
                       std::vector<DocumentHit>* docs);

}  // namespace flashembed

#endif  // FLASHEMBED_QUERY_RERANKER_H_
