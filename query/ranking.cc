#include "query/ranking.h"

#include <algorithm>
#include <cmath>
#include <unordered_map>

namespace flashembed::query {
namespace {

constexpr double kInvPi = 0.31830988618379067;

}  // namespace

size_t HybridDepth(size_t k) { return std::max<size_t>(2 * k, 100); }

size_t DocumentHybridDepth(size_t k) { return std::max<size_t>(5 * k, 50); }

double SquashVectorScore(index::Metric metric, float score) {
  switch (metric) {
    case index::Metric::kCosine: return (1.0 + score) / 2;
    case index::Metric::kInnerProduct: return 0.5 + std::atan(score) * kInvPi;
    case index::Metric::kL2: return 1.0 - 2 * kInvPi * std::atan(-score);  // score = -distance
  }
  return 0;
}

double RrfTerm(int rrf_k, size_t rank) { return 1.0 / (rrf_k + static_cast<double>(rank)); }

double WeightedVectorTerm(index::Metric metric, float text_weight, float score) {
  const double w = text_weight;
  return (1 - w) * SquashVectorScore(metric, score);
}

double WeightedTextTerm(float text_weight, float bm25) {
  const double w = text_weight;
  return w * 2 * kInvPi * std::atan(bm25);
}

double NormalizedScore(float score, double lo, double hi) {
  return hi > lo ? (score - lo) / (hi - lo) : 1.0;
}

std::vector<Ranked> Fuse(std::span<const Ranked> vector_side, std::span<const Ranked> text_side,
                         const FusionParams& params) {
  std::unordered_map<uint64_t, Ranked> fused;
  // Adds what one list contributes; the vector list first, so a document's
  // float sum is vector term + text term.
  auto add = [&](std::span<const Ranked> list, bool is_vector) {
    const double weight = is_vector ? 1.0 - params.text_weight : params.text_weight;
    double lo = 0, hi = 0;
    if (params.fusion == Fusion::kNormalized && !list.empty()) {
      auto [min, max] =
          std::minmax_element(list.begin(), list.end(),
                              [](const Ranked& a, const Ranked& b) { return a.score < b.score; });
      lo = min->score;
      hi = max->score;
    }
    for (size_t i = 0; i < list.size(); ++i) {
      const float s = list[i].score;
      Ranked& r = fused[list[i].slot];
      r.slot = list[i].slot;
      (is_vector ? r.vector_score : r.text_score) = s;
      double term = 0;
      switch (params.fusion) {
        case Fusion::kRrf: term = RrfTerm(params.rrf_k, i + 1); break;
        case Fusion::kWeighted:
          term = is_vector ? WeightedVectorTerm(params.metric, params.text_weight, s)
                           : WeightedTextTerm(params.text_weight, s);
          break;
        case Fusion::kNormalized: term = weight * NormalizedScore(s, lo, hi); break;
      }
      r.score += static_cast<float>(term);
    }
  };
  add(vector_side, /*is_vector=*/true);
  add(text_side, /*is_vector=*/false);
  std::vector<Ranked> out;
  out.reserve(fused.size());
  for (auto& [slot, r] : fused) out.push_back(r);
  auto better = [](const Ranked& a, const Ranked& b) {
    return a.score != b.score ? a.score > b.score : a.slot < b.slot;
  };
  const size_t keep = std::min(params.k, out.size());
  std::partial_sort(out.begin(), out.begin() + static_cast<std::ptrdiff_t>(keep), out.end(),
                    better);
  out.resize(keep);
  return out;
}

}  // namespace flashembed::query
