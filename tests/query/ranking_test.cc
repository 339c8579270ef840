#include "query/ranking.h"

#include <gtest/gtest.h>

#include <cmath>
#include <numbers>
#include <vector>

namespace flashembed::query {
namespace {

// A list entry: only slot and score are read.
Ranked At(uint64_t slot, float score) { return {.slot = slot, .score = score}; }

FusionParams Rrf(size_t k, int rrf_k = 60) {
  return {.fusion = Fusion::kRrf, .rrf_k = rrf_k, .k = k};
}

FusionParams Weighted(size_t k, float text_weight, index::Metric metric) {
  return {.fusion = Fusion::kWeighted, .text_weight = text_weight, .metric = metric, .k = k};
}

FusionParams Normalized(size_t k, float text_weight,
                        index::Metric metric = index::Metric::kCosine) {
  return {.fusion = Fusion::kNormalized, .text_weight = text_weight, .metric = metric, .k = k};
}

// What Fuse adds up for a document, in its order and precision: the vector
// list's term, then the text list's, each rounded to float.
float FusedSum(double vector_term, double text_term) {
  float sum = 0;
  sum += static_cast<float>(vector_term);
  sum += static_cast<float>(text_term);
  return sum;
}

std::vector<uint64_t> Slots(const std::vector<Ranked>& results) {
  std::vector<uint64_t> out;
  for (const Ranked& r : results) out.push_back(r.slot);
  return out;
}

TEST(Ranking, DocumentHybridDepthIsFiveKAtLeastFifty) {
  EXPECT_EQ(DocumentHybridDepth(0), 50u);
  EXPECT_EQ(DocumentHybridDepth(10), 50u);
  EXPECT_EQ(DocumentHybridDepth(11), 55u);
  EXPECT_EQ(DocumentHybridDepth(100), 500u);
}

TEST(Ranking, HybridDepthIsTwiceKAtLeastOneHundred) {
  EXPECT_EQ(HybridDepth(0), 100u);
  EXPECT_EQ(HybridDepth(10), 100u);
  EXPECT_EQ(HybridDepth(50), 100u);
  EXPECT_EQ(HybridDepth(51), 102u);
  EXPECT_EQ(HybridDepth(1000), 2000u);
}

TEST(Ranking, SquashVectorScoreToUnitInterval) {
  using index::Metric;
  // Cosine: (1 + s) / 2.
  EXPECT_DOUBLE_EQ(SquashVectorScore(Metric::kCosine, 1.0f), 1.0);
  EXPECT_DOUBLE_EQ(SquashVectorScore(Metric::kCosine, 0.0f), 0.5);
  EXPECT_DOUBLE_EQ(SquashVectorScore(Metric::kCosine, -1.0f), 0.0);
  EXPECT_DOUBLE_EQ(SquashVectorScore(Metric::kCosine, 0.5f), 0.75);
  // Inner product: 0.5 + atan(s) / pi; atan(1) = pi / 4.
  EXPECT_DOUBLE_EQ(SquashVectorScore(Metric::kInnerProduct, 0.0f), 0.5);
  EXPECT_NEAR(SquashVectorScore(Metric::kInnerProduct, 1.0f), 0.75, 1e-7);
  EXPECT_NEAR(SquashVectorScore(Metric::kInnerProduct, -1.0f), 0.25, 1e-7);
  EXPECT_NEAR(SquashVectorScore(Metric::kInnerProduct, 1e30f), 1.0, 1e-7);
  // L2: the score is minus the squared distance d; 1 - 2/pi * atan(d).
  EXPECT_DOUBLE_EQ(SquashVectorScore(Metric::kL2, 0.0f), 1.0);
  EXPECT_NEAR(SquashVectorScore(Metric::kL2, -1.0f), 0.5, 1e-7);
  EXPECT_NEAR(SquashVectorScore(Metric::kL2, -1e30f), 0.0, 1e-7);
}

TEST(Ranking, FusionTerms) {
  EXPECT_DOUBLE_EQ(RrfTerm(60, 1), 1.0 / 61);
  EXPECT_DOUBLE_EQ(RrfTerm(60, 3), 1.0 / 63);
  EXPECT_DOUBLE_EQ(RrfTerm(1, 1), 0.5);
  // (1 - w) * squashed vector score; w * 2/pi * atan(bm25).
  EXPECT_NEAR(WeightedVectorTerm(index::Metric::kCosine, 0.25f, 1.0f), 0.75, 1e-7);
  EXPECT_NEAR(WeightedVectorTerm(index::Metric::kCosine, 0.3f, 0.8f), 0.7 * 0.9, 1e-7);
  EXPECT_NEAR(WeightedTextTerm(0.25f, 1.0f), 0.125, 1e-7);  // 2/pi * pi/4 = 0.5
  EXPECT_NEAR(WeightedTextTerm(0.3f, 2.0f), 0.3 * 2 / std::numbers::pi * std::atan(2.0), 1e-7);
  EXPECT_DOUBLE_EQ(WeightedTextTerm(0.0f, 5.0f), 0.0);
  EXPECT_DOUBLE_EQ(WeightedVectorTerm(index::Metric::kCosine, 1.0f, 0.9f), 0.0);
  EXPECT_DOUBLE_EQ(WeightedTextTerm(0.5f, 0.0f), 0.0);
}

TEST(Ranking, RrfSumsTheRanksOfBothLists) {
  // Vector list 1, 2, 3; text list 3, 4. Slot 3 is in both.
  const std::vector<Ranked> vec = {At(1, 0.9f), At(2, 0.8f), At(3, 0.7f)};
  const std::vector<Ranked> text = {At(3, 7.5f), At(4, 2.0f)};
  const std::vector<Ranked> out = Fuse(vec, text, Rrf(10));
  ASSERT_EQ(out.size(), 4u);
  // 3: 1/63 + 1/61; 1: 1/61; 2 and 4: 1/62 each (a tie: lower slot first).
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{3, 1, 2, 4}));
  EXPECT_FLOAT_EQ(out[0].score, static_cast<float>(1.0 / 63) + static_cast<float>(1.0 / 61));
  EXPECT_FLOAT_EQ(out[1].score, static_cast<float>(1.0 / 61));
  EXPECT_EQ(out[2].score, out[3].score);
  EXPECT_FLOAT_EQ(out[2].score, static_cast<float>(1.0 / 62));
  // Each list's own score is kept where the document was found.
  EXPECT_EQ(out[0].vector_score, 0.7f);
  EXPECT_EQ(out[0].text_score, 7.5f);
  EXPECT_EQ(out[1].vector_score, 0.9f);
  EXPECT_FALSE(out[1].text_score.has_value());
  EXPECT_FALSE(out[3].vector_score.has_value());
  EXPECT_EQ(out[3].text_score, 2.0f);
}

TEST(Ranking, RrfWithASmallK) {
  // rrf_k = 1: first in one list and last in the other (1/2 + 1/4 = 0.75)
  // beats second in both (1/3 + 1/3 = 0.667).
  const std::vector<Ranked> vec = {At(10, 1), At(20, 1), At(30, 1)};
  const std::vector<Ranked> text = {At(30, 1), At(20, 1), At(10, 1)};
  const std::vector<Ranked> out = Fuse(vec, text, Rrf(3, 1));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{10, 30, 20}));  // 10 and 30 tie: lower slot
  EXPECT_FLOAT_EQ(out[0].score, 0.75f);
  EXPECT_FLOAT_EQ(out[2].score, static_cast<float>(1.0 / 3) + static_cast<float>(1.0 / 3));
}

TEST(Ranking, KeepsTheBestK) {
  const std::vector<Ranked> vec = {At(1, 0.9f), At(2, 0.8f), At(3, 0.7f)};
  const std::vector<Ranked> text = {At(3, 7.5f), At(4, 2.0f)};
  EXPECT_EQ(Slots(Fuse(vec, text, Rrf(2))), (std::vector<uint64_t>{3, 1}));
  EXPECT_EQ(Slots(Fuse(vec, text, Rrf(1))), (std::vector<uint64_t>{3}));
  EXPECT_TRUE(Fuse(vec, text, Rrf(0)).empty());
  // k larger than both lists together: every document once.
  EXPECT_EQ(Fuse(vec, text, Rrf(100)).size(), 4u);
}

TEST(Ranking, EmptyLists) {
  const std::vector<Ranked> none;
  const std::vector<Ranked> vec = {At(5, 0.5f), At(6, 0.4f)};
  const std::vector<Ranked> text = {At(7, 3.0f)};
  EXPECT_TRUE(Fuse(none, none, Rrf(10)).empty());
  EXPECT_TRUE(Fuse(none, none, Weighted(10, 0.5f, index::Metric::kCosine)).empty());

  const std::vector<Ranked> only_vec = Fuse(vec, none, Rrf(10));
  EXPECT_EQ(Slots(only_vec), (std::vector<uint64_t>{5, 6}));
  EXPECT_FLOAT_EQ(only_vec[0].score, static_cast<float>(1.0 / 61));
  EXPECT_FALSE(only_vec[0].text_score.has_value());

  const std::vector<Ranked> only_text =
      Fuse(none, text, Weighted(10, 0.5f, index::Metric::kCosine));
  ASSERT_EQ(only_text.size(), 1u);
  EXPECT_EQ(only_text[0].slot, 7u);
  EXPECT_FLOAT_EQ(only_text[0].score,
                  static_cast<float>(0.5 * 2 / std::numbers::pi * std::atan(3.0)));
  EXPECT_FALSE(only_text[0].vector_score.has_value());
  EXPECT_EQ(only_text[0].text_score, 3.0f);
}

TEST(Ranking, WeightedFusionOfSquashedScores) {
  // Cosine, text_weight 0.3: vector s -> 0.7 * (1 + s) / 2, BM25 b ->
  // 0.3 * 2/pi * atan(b).
  const std::vector<Ranked> vec = {At(1, 0.8f), At(2, 0.2f)};
  const std::vector<Ranked> text = {At(2, 10.0f), At(3, 1.0f)};
  const std::vector<Ranked> out = Fuse(vec, text, Weighted(10, 0.3f, index::Metric::kCosine));
  ASSERT_EQ(out.size(), 3u);
  const double inv_pi = 1 / std::numbers::pi;
  const double one = 0.7 * 0.9;                                       // 0.63
  const double two = 0.7 * 0.6 + 0.3 * 2 * inv_pi * std::atan(10.0);  // 0.42 + 0.2811
  const double three = 0.3 * 2 * inv_pi * std::atan(1.0);             // 0.15
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{2, 1, 3}));
  EXPECT_NEAR(out[0].score, two, 1e-6);
  EXPECT_NEAR(out[1].score, one, 1e-6);
  EXPECT_NEAR(out[2].score, three, 1e-6);
  EXPECT_EQ(out[0].vector_score, 0.2f);
  EXPECT_EQ(out[0].text_score, 10.0f);
}

TEST(Ranking, WeightedFusionAtTheEndsOfTheWeight) {
  const std::vector<Ranked> vec = {At(1, 0.9f), At(2, 0.1f)};
  const std::vector<Ranked> text = {At(2, 50.0f), At(1, 0.1f)};
  // text_weight 0: the vector order; 1: the text order.
  EXPECT_EQ(Slots(Fuse(vec, text, Weighted(2, 0.0f, index::Metric::kCosine))),
            (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(Slots(Fuse(vec, text, Weighted(2, 1.0f, index::Metric::kCosine))),
            (std::vector<uint64_t>{2, 1}));
}

TEST(Ranking, WeightedFusionSquashesByMetric) {
  // L2 scores are minus squared distances: distance 1 squashes to 0.5,
  // distance 0 to 1. Inner product 1 squashes to 0.75.
  const std::vector<Ranked> l2 = {At(1, 0.0f), At(2, -1.0f)};
  const std::vector<Ranked> out = Fuse(l2, {}, Weighted(10, 0.5f, index::Metric::kL2));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_NEAR(out[0].score, 0.5, 1e-6);
  EXPECT_NEAR(out[1].score, 0.25, 1e-6);
  const std::vector<Ranked> ip = {At(1, 1.0f)};
  EXPECT_NEAR(Fuse(ip, {}, Weighted(10, 0.0f, index::Metric::kInnerProduct))[0].score, 0.75, 1e-6);
}

TEST(Ranking, EqualScoresOrderByLowerSlot) {
  // Two slots first in one list (1/61 each), two second (1/62 each).
  const std::vector<Ranked> vec = {At(40, 1), At(7, 1)};
  const std::vector<Ranked> text = {At(9, 1), At(3, 1)};
  EXPECT_EQ(Slots(Fuse(vec, text, Rrf(4))), (std::vector<uint64_t>{9, 40, 3, 7}));
}

TEST(Ranking, NormalizedScoreMapsTheListRangeToTheUnitInterval) {
  EXPECT_DOUBLE_EQ(NormalizedScore(5.0f, 0, 10), 0.5);
  EXPECT_DOUBLE_EQ(NormalizedScore(0.0f, 0, 10), 0.0);
  EXPECT_DOUBLE_EQ(NormalizedScore(10.0f, 0, 10), 1.0);
  EXPECT_DOUBLE_EQ(NormalizedScore(-3.0f, -4, 0), 0.25);  // negative scores (L2)
  // A list whose scores are all equal: every entry is its best.
  EXPECT_DOUBLE_EQ(NormalizedScore(3.0f, 3, 3), 1.0);
  EXPECT_DOUBLE_EQ(NormalizedScore(0.0f, 0, 0), 1.0);
}

TEST(Ranking, NormalizedFusionHandComputed) {
  // Vector list 1.0, 0.5, 0.0 (min 0, max 1): normalised 1, 0.5, 0.
  // Text list 10, 6, 2 (min 2, max 10): normalised 1, 0.5, 0.
  const std::vector<Ranked> vec = {At(1, 1.0f), At(2, 0.5f), At(3, 0.0f)};
  const std::vector<Ranked> text = {At(3, 10.0f), At(4, 6.0f), At(1, 2.0f)};
  const float w = 0.3f;
  const double tw = w, vw = 1.0 - tw;  // the weights as Fuse computes them
  const std::vector<Ranked> out = Fuse(vec, text, Normalized(10, w));
  ASSERT_EQ(out.size(), 4u);
  // 1: 0.7 * 1 + 0.3 * 0 = 0.7; 2: 0.7 * 0.5 = 0.35; 3: 0.7 * 0 + 0.3 * 1
  // = 0.3; 4: 0.3 * 0.5 = 0.15.
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(out[0].score, FusedSum(vw * 1.0, tw * 0.0));
  EXPECT_EQ(out[1].score, FusedSum(vw * 0.5, 0));
  EXPECT_EQ(out[2].score, FusedSum(vw * 0.0, tw * 1.0));
  EXPECT_EQ(out[3].score, FusedSum(0, tw * 0.5));
  EXPECT_NEAR(out[0].score, 0.7, 1e-6);
  EXPECT_NEAR(out[1].score, 0.35, 1e-6);
  EXPECT_NEAR(out[2].score, 0.3, 1e-6);
  EXPECT_NEAR(out[3].score, 0.15, 1e-6);
  // The raw scores of each list are kept, not the normalised ones.
  EXPECT_EQ(out[0].vector_score, 1.0f);
  EXPECT_EQ(out[0].text_score, 2.0f);
  EXPECT_EQ(out[2].vector_score, 0.0f);
  EXPECT_EQ(out[2].text_score, 10.0f);
  EXPECT_FALSE(out[1].text_score.has_value());
  EXPECT_FALSE(out[3].vector_score.has_value());
  EXPECT_EQ(out[3].text_score, 6.0f);

  // Unlike RRF, scores count, not only ranks: the same text order, with
  // slot 4 near the top or near the bottom of the text list's range.
  const std::vector<Ranked> near_top = {At(3, 10.0f), At(4, 9.0f), At(1, 2.0f)};
  const std::vector<Ranked> near_bottom = {At(3, 10.0f), At(4, 2.5f), At(1, 2.0f)};
  // 1: 0.5; 3: 0.5; 2: 0.25; 4: 0.5 * 7/8 = 0.4375, or 0.5 * 1/16.
  EXPECT_EQ(Slots(Fuse(vec, near_top, Normalized(10, 0.5f))), (std::vector<uint64_t>{1, 3, 4, 2}));
  const std::vector<Ranked> low = Fuse(vec, near_bottom, Normalized(10, 0.5f));
  EXPECT_EQ(Slots(low), (std::vector<uint64_t>{1, 3, 2, 4}));
  EXPECT_EQ(low[3].score, 0.03125f);
  EXPECT_EQ(Slots(Fuse(vec, near_top, Rrf(10))), Slots(Fuse(vec, near_bottom, Rrf(10))));
}

TEST(Ranking, NormalizedFusionIsScaleFree) {
  // Scaling and shifting either list changes nothing: min-max normalisation
  // sees only where a score lies between its list's best and worst.
  const std::vector<Ranked> vec = {At(1, 0.75f), At(2, 0.5f), At(3, 0.25f)};
  const std::vector<Ranked> text = {At(2, 4.0f), At(3, 3.0f), At(4, 1.0f)};
  std::vector<Ranked> vec2, text2;
  for (const Ranked& r : vec) vec2.push_back(At(r.slot, r.score * 4 - 3));  // 0, -1, -2
  for (const Ranked& r : text) text2.push_back(At(r.slot, r.score * 8 + 16));
  const std::vector<Ranked> a = Fuse(vec, text, Normalized(10, 0.4f));
  const std::vector<Ranked> b = Fuse(vec2, text2, Normalized(10, 0.4f, index::Metric::kL2));
  ASSERT_EQ(a.size(), 4u);
  ASSERT_EQ(b.size(), 4u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].slot, b[i].slot) << i;
    EXPECT_EQ(a[i].score, b[i].score) << i;
  }
  // 2: 0.6 * 0.5 + 0.4 * 1 = 0.7; 1: 0.6; 3: 0.4 * 2/3; 4: 0.
  EXPECT_EQ(Slots(a), (std::vector<uint64_t>{2, 1, 3, 4}));
  EXPECT_NEAR(a[0].score, 0.7, 1e-6);
  EXPECT_NEAR(a[2].score, 0.4 * 2 / 3, 1e-6);
  EXPECT_EQ(a[3].score, 0.0f);
}

TEST(Ranking, NormalizedFusionTiesOrderByLowerSlot) {
  // Each first in one list and last in the other, equal weights: 0.5 each.
  const std::vector<Ranked> vec = {At(9, 0.8f), At(5, 0.2f)};
  const std::vector<Ranked> text = {At(5, 7.0f), At(9, 1.0f)};
  std::vector<Ranked> out = Fuse(vec, text, Normalized(10, 0.5f));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[0].score, out[1].score);
  EXPECT_FLOAT_EQ(out[0].score, 0.5f);
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{5, 9}));
  // Equal scores within a list all normalise to 1: with text_weight 0.25,
  // every vector hit is worth 0.75 and every text hit 0.25.
  const std::vector<Ranked> flat_vec = {At(30, 0.5f), At(10, 0.5f), At(20, 0.5f)};
  const std::vector<Ranked> flat_text = {At(40, 2.0f), At(20, 2.0f)};
  out = Fuse(flat_vec, flat_text, Normalized(10, 0.25f));
  ASSERT_EQ(out.size(), 4u);
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{20, 10, 30, 40}));
  EXPECT_FLOAT_EQ(out[0].score, 1.0f);
  EXPECT_FLOAT_EQ(out[1].score, 0.75f);
  EXPECT_FLOAT_EQ(out[2].score, 0.75f);
  EXPECT_FLOAT_EQ(out[3].score, 0.25f);
}

TEST(Ranking, NormalizedFusionOfOneElementAndEmptyLists) {
  const std::vector<Ranked> none;
  EXPECT_TRUE(Fuse(none, none, Normalized(10, 0.5f)).empty());
  // A one-element list: its only entry is its best (1), whatever its score.
  const std::vector<Ranked> one_vec = {At(7, -123.0f)};
  const std::vector<Ranked> one_text = {At(8, 0.001f)};
  std::vector<Ranked> out = Fuse(one_vec, one_text, Normalized(10, 0.25f));
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{7, 8}));
  EXPECT_FLOAT_EQ(out[0].score, 0.75f);
  EXPECT_FLOAT_EQ(out[1].score, 0.25f);
  EXPECT_EQ(out[0].vector_score, -123.0f);
  EXPECT_EQ(out[1].text_score, 0.001f);
  // The same document alone on both sides: 1 on each, so 1 in all.
  out = Fuse(one_vec, std::vector<Ranked>{At(7, 5.0f)}, Normalized(10, 0.25f));
  ASSERT_EQ(out.size(), 1u);
  EXPECT_FLOAT_EQ(out[0].score, 1.0f);

  // One side empty: the other's normalised scores times its weight.
  const std::vector<Ranked> vec = {At(1, 0.9f), At(2, 0.6f), At(3, 0.3f)};
  out = Fuse(vec, none, Normalized(10, 0.2f));
  ASSERT_EQ(out.size(), 3u);
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{1, 2, 3}));
  const double vw = 1.0 - double{0.2f};
  EXPECT_EQ(out[0].score, static_cast<float>(vw * 1.0));
  EXPECT_NEAR(out[1].score, vw * 0.5, 1e-6);
  EXPECT_EQ(out[2].score, 0.0f);
  for (const Ranked& r : out) EXPECT_FALSE(r.text_score.has_value());
  const std::vector<Ranked> text = {At(4, 9.0f), At(5, 3.0f)};
  out = Fuse(none, text, Normalized(1, 0.2f));
  ASSERT_EQ(out.size(), 1u);  // k = 1
  EXPECT_EQ(out[0].slot, 4u);
  EXPECT_EQ(out[0].score, static_cast<float>(double{0.2f}));
  EXPECT_FALSE(out[0].vector_score.has_value());
}

TEST(Ranking, NormalizedFusionAtTheEndsOfTheWeight) {
  const std::vector<Ranked> vec = {At(1, 0.9f), At(2, 0.1f), At(3, 0.05f)};
  const std::vector<Ranked> text = {At(2, 50.0f), At(1, 0.1f), At(4, 0.01f)};
  // text_weight 0: the vector order, the text-only document last with 0;
  // 1: the text order, the vector-only document last with 0.
  std::vector<Ranked> out = Fuse(vec, text, Normalized(4, 0.0f));
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{1, 2, 3, 4}));
  EXPECT_EQ(out[2].score, 0.0f);
  EXPECT_EQ(out[3].score, 0.0f);
  out = Fuse(vec, text, Normalized(4, 1.0f));
  EXPECT_EQ(Slots(out), (std::vector<uint64_t>{2, 1, 3, 4}));
  EXPECT_EQ(out[2].score, 0.0f);
  EXPECT_EQ(out[3].score, 0.0f);
}

}  // namespace
}  // namespace flashembed::query
