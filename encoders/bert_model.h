// BertModel: the forward pass of a BERT-architecture sentence-embedding model
// (all-MiniLM-L6-v2, bge-small, e5-small, gte-small, ...) on CPU, from the
// weights of a Hugging Face model folder (encoders/model_folder.h).
//
// Mirrors transformers' BertModel + sentence-transformers' Pooling/Normalize:
//   embeddings  = LayerNorm(word[id] + position[i] + token_type[0])
//   per layer:    a = LayerNorm(x + Wo * MultiHeadSelfAttention(x) + bo)
//                 x = LayerNorm(a + W2 * act(W1 * a + b1) + b2)
//   pooling:      mean over tokens | the [CLS] token | max over tokens
//   optional L2 normalisation.
// Sequences are packed without padding: the linear layers run on all tokens
// of a batch at once (one oneDNN product each, weights packed at load, the
// activation fused into the first feed-forward product), attention runs per
// sequence, so no padding mask is needed and padding costs nothing.
// Activations take (6 * hidden + intermediate) floats per token plus
// heads * longest^2 floats of attention scores per thread.
//
// Threading: one Forward call uses every OpenMP thread (OMP_NUM_THREADS,
// default: all cores) for large batches and stays on the calling thread for
// tiny ones.
//
// Thread-safety: immutable after Load; Forward is const and may run from
// several threads at once (each call allocates its own activations).
#ifndef FLASHEMBED_ENCODERS_BERT_MODEL_H_
#define FLASHEMBED_ENCODERS_BERT_MODEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"
#include "encoders/model_folder.h"

namespace flashembed::encoders {

class BertModel {
 public:
  // Reads every tensor the forward pass needs from folder.weights_path (names
  // with or without the "bert." prefix; F32, F16 or BF16, converted to F32)
  // and checks its shape against folder.config. InvalidArgument naming the
  // file and tensor for a missing tensor or a wrong shape.
  static Result<std::unique_ptr<BertModel>> Load(const ModelFolder& folder);

  ~BertModel();
  BertModel(const BertModel&) = delete;
  BertModel& operator=(const BertModel&) = delete;

  // Output dimension (hidden_size).
  int dim() const;
  // Longest sequence accepted, in tokens including [CLS] and [SEP].
  int max_tokens() const;

  // Embeds each sequence of token ids (already with [CLS] ... [SEP]) into
  // out[i*dim() .. (i+1)*dim()). InvalidArgument for an empty sequence, one
  // longer than max_tokens(), or an id outside the vocabulary (naming the
  // sequence). REQUIRES: out.size() == batch.size() * dim().
  Status Forward(std::span<const std::vector<int32_t>> batch, std::span<float> out) const;

 private:
  struct Weights;
  BertModel(const ModelFolder& folder, std::unique_ptr<Weights> weights);

  ModelFolder folder_;
  std::unique_ptr<Weights> w_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_BERT_MODEL_H_
