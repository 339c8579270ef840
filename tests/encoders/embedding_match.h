// The encoder tests' one notion of "the same vector as the reference":
// cosine >= 0.9999 and max abs error <= 1e-4 (the encoders' acceptance criterion).
#ifndef FLASHEMBED_TESTS_ENCODERS_EMBEDDING_MATCH_H_
#define FLASHEMBED_TESTS_ENCODERS_EMBEDDING_MATCH_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <span>
#include <string>
#include <vector>

namespace flashembed::encoders {

inline void ExpectEmbeddingMatches(std::span<const float> got, const std::vector<double>& want,
                                   const std::string& what) {
  ASSERT_EQ(got.size(), want.size()) << what;
  double dot = 0, ng = 0, nw = 0, max_err = 0;
  for (size_t i = 0; i < got.size(); ++i) {
    dot += got[i] * want[i];
    ng += static_cast<double>(got[i]) * got[i];
    nw += want[i] * want[i];
    max_err = std::max(max_err, std::fabs(got[i] - want[i]));
  }
  EXPECT_GE(dot / std::sqrt(ng * nw), 0.9999) << what;
  EXPECT_LE(max_err, 1e-4) << what;
}

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_TESTS_ENCODERS_EMBEDDING_MATCH_H_
