// Ranking of search results, internal to query/: a result before its
// document is read (Ranked), and the fusion of a vector hit list with a BM25
// hit list for Ranking::kHybrid (see Fusion in database.h), from plain lists
// so that it is testable without a database.
//
// Fusion: a document's score is the sum of what each list it appears in
// contributes; a document found by one list only gets nothing from the
// other. kRrf: 1 / (rrf_k + rank), rank counted from 1 in each list.
// kWeighted: (1 - text_weight) * the vector score and text_weight * the BM25
// score, each squashed to [0, 1] as Milvus's WeightedRanker does.
// kNormalized: the same weights on each list's scores min-max normalised
// over the list (its best 1, its worst 0). Results
// are ordered by score, higher first; equal scores by slot, lower first.
#ifndef FLASHEMBED_QUERY_RANKING_H_
#define FLASHEMBED_QUERY_RANKING_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "index/vector_index.h"
#include "query/database.h"

namespace flashembed::query {

// A result before its document is read: slot and scores.
struct Ranked {
  uint64_t slot = 0;
  float score = 0;                    // what results are ordered by; higher is better
  std::optional<float> vector_score;  // fused results: the vector list's score, if in it
  std::optional<float> text_score;    // full-text results: BM25, if in the text list
};

// The parameters of a fusion (the SearchOptions of the same names).
struct FusionParams {
  Fusion fusion = Fusion::kRrf;
  int rrf_k = 60;
  float text_weight = 0.5f;
  index::Metric metric = index::Metric::kCosine;  // what the vector scores are
  size_t k = 10;                                  // results kept
};

// How deep each list is read for a hybrid search of k results:
// max(2k, 100).
size_t HybridDepth(size_t k);
// How many documents each side of a hybrid document search ranks for k
// documents: max(5k, 50). Each document costs the vector side several
// chunks, so this is shallower than HybridDepth: on the man-page dev splits
// (docs/BENCHMARKS.md) 50 documents gave the recall@10 of 100 (English equal,
// Chinese +0.003) at about twice the speed; 30 lost 0.005 in English.
size_t DocumentHybridDepth(size_t k);

// A vector score of `metric` (index::ScoreFromDistance: higher is better)
// squashed to [0, 1]: cosine (1 + s) / 2; inner product 0.5 + atan(s) / pi;
// L2, where s is minus the squared distance d, 1 - 2/pi * atan(d).
double SquashVectorScore(index::Metric metric, float score);

// What one list contributes to a document's fused score.
// kRrf: 1 / (rrf_k + rank), `rank` counted from 1.
double RrfTerm(int rrf_k, size_t rank);
// kWeighted, vector list: (1 - text_weight) * SquashVectorScore.
double WeightedVectorTerm(index::Metric metric, float text_weight, float score);
// kWeighted, text list: text_weight * 2/pi * atan(bm25).
double WeightedTextTerm(float text_weight, float bm25);

// kNormalized: `score` min-max normalised over its list ([lo, hi] -> [0, 1];
// 1 when hi == lo).
double NormalizedScore(float score, double lo, double hi);

// The best params.k of the two lists fused. Each list is best first; only
// its slots and scores are read. A result's vector_score and text_score are
// its scores in the lists it appears in.
std::vector<Ranked> Fuse(std::span<const Ranked> vector_side, std::span<const Ranked> text_side,
                         const FusionParams& params);

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_RANKING_H_
