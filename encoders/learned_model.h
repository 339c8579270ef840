// The corpus-trained encoder's model, shared by its training and encoding
// (learned_encoder.cc) and its byte format (learned_model_format.cc).
// Internal to encoders/; fastText's types are only declared here (its headers
// stay in the two .cc files).

#ifndef FLASHEMBED_ENCODERS_LEARNED_MODEL_H_
#define FLASHEMBED_ENCODERS_LEARNED_MODEL_H_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "encoders/hashing_encoder.h"
#include "encoders/learned_encoder.h"

namespace fasttext {
class Args;
class Dictionary;
}  // namespace fasttext

namespace flashembed::encoders::internal {

// Status::Corruption naming the learned encoder model and `why`.
Status Corrupt(const std::string& why);

// The model: fastText's dictionary (vocabulary, n-gram hashing) and the rows
// of its input matrix that any vocabulary word uses, plus the document frequencies.
struct LearnedModel {
  LearnedOptions options;
  size_t dim = 0;  // word vectors (the semantic part)
  uint64_t texts = 0;
  uint64_t tokens = 0;  // fastText's count, which includes one end-of-line per text

  std::string fasttext_section;  // Args::save + Dictionary::save bytes
  std::shared_ptr<fasttext::Args> args;
  std::unique_ptr<fasttext::Dictionary> dict;
  size_t nwords = 0;

  std::vector<uint32_t> df;          // nwords: training texts that contain the word
  std::vector<float> word_rows;      // nwords x dim: input matrix rows 0..nwords-1
  std::vector<uint32_t> bucket_ids;  // n-gram buckets some word uses, ascending
  std::vector<float> bucket_rows;    // bucket_ids.size() x dim

  // Derived by Prepare().
  size_t out_dim = 0;                        // dim + lexical_dim
  std::vector<int32_t> bucket_slot;          // bucket -> index into bucket_ids, or -1
  std::vector<float> word_vectors;           // nwords x dim: fastText's word vectors
  std::vector<float> semantic_weight;        // nwords: SIF or idf
  std::vector<float> idf;                    // nwords
  float unknown_semantic_weight = 1;         // of a word seen once
  float unknown_idf = 1;                     // of a word in one text
  std::vector<double> common;                // dim: unit vector, or zeros (none removed)
  std::unique_ptr<HashingEncoder> fallback;  // texts with no direction at all
  uint64_t fingerprint = 0;

  // Adds fastText's vector of the word or n-gram row `id` times `weight`.
  void AddRow(int32_t id, double weight, double* acc) const {
    const float* row = nullptr;
    if (static_cast<size_t>(id) < nwords) {
      row = &word_rows[static_cast<size_t>(id) * dim];
    } else {
      const int32_t slot = bucket_slot[static_cast<size_t>(id) - nwords];
      if (slot < 0) return;  // an n-gram no vocabulary word has: untrained, taken as zero
      row = &bucket_rows[static_cast<size_t>(slot) * dim];
    }
    for (size_t j = 0; j < dim; ++j) acc[j] += weight * row[j];
  }

  // BM25's idf (Lucene's, never negative) of a token in `df` of `texts`.
  static double Idf(double df, double texts) {
    return std::log(1.0 + std::max(texts - df + 0.5, 0.5) / (df + 0.5));
  }

  // Derives everything below "Derived" from the stored fields. Corruption
  // when a word's n-gram row is missing.
  Status Prepare();  // learned_encoder.cc

  ~LearnedModel();  // where fastText's types are complete
};

// Reads the fastText section into `m->args` and `m->dict` (after the section
// was checked against the model's options: learned_model_format.cc).
Status LoadFastTextSection(LearnedModel* m);

}  // namespace flashembed::encoders::internal

#endif  // FLASHEMBED_ENCODERS_LEARNED_MODEL_H_
