// BertModel: the forward pass of a BERT-architecture sentence-embedding model
// (all-MiniLM-L6-v2, bge-small, e5-small, gte-small, ...) or an XLM-RoBERTa
// one (multilingual-e5, paraphrase-multilingual-*, bge-m3's dense vectors) on
// CPU, from the weights of a Hugging Face model folder
// (encoders/model_folder.h).
//
// Mirrors transformers' BertModel / XLMRobertaModel + sentence-transformers'
// Pooling/Dense/Normalize:
//   embeddings  = LayerNorm(word[id] + position[offset + i] + token_type[0])
//                 (offset 0 for BERT, pad_token_id + 1 for XLM-R)
//   per layer:    a = LayerNorm(x + Wo * MultiHeadSelfAttention(x) + bo)
//                 x = LayerNorm(a + W2 * act(W1 * a + b1) + b2)
//   pooling:      mean over tokens | the [CLS] token | max over tokens
//   Dense:        act(W p + b) per module (Identity, Tanh or ReLU)
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
  // with or without the "bert." / "roberta." prefix; F32, F16 or BF16,
  // converted to F32; other tensors, such as integer buffers and heads, are
  // ignored) and each Dense module's weights
  // and checks its shape against folder.config. InvalidArgument naming the
  // file and tensor for a missing tensor or a wrong shape.
  static Result<std::unique_ptr<BertModel>> Load(const ModelFolder& folder);

  ~BertModel();
  BertModel(const BertModel&) = delete;
  BertModel& operator=(const BertModel&) = delete;

  // Output dimension (hidden_size, or the last Dense module's out_features).
  int dim() const;
  // Longest sequence accepted, in tokens including the special ones.
  int max_tokens() const;

  // Embeds each sequence of token ids (already with [CLS] ... [SEP]) into
  // out[i*dim() .. (i+1)*dim()). InvalidArgument for an empty sequence, one
  // longer than max_tokens(), or an id outside the vocabulary (naming the
  // sequence). REQUIRES: out.size() == batch.size() * dim().
  Status Forward(std::span<const std::vector<int32_t>> batch, std::span<float> out) const;

  // The last layer's state of each sequence's first token ([CLS] / <s>),
  // what classification heads read: out[i*hidden_size() .. (i+1)*hidden_size()).
  // type_ids holds each sequence's token type ids (empty: all 0), each below
  // the model's type_vocab_size. Errors as Forward's, and InvalidArgument for
  // type ids that do not fit. REQUIRES: out.size() == batch.size() * hidden_size().
  Status FirstTokenStates(std::span<const std::vector<int32_t>> batch,
                          std::span<const std::vector<int32_t>> type_ids,
                          std::span<float> out) const;
  int hidden_size() const;

 private:
  struct Weights;
  BertModel(const ModelFolder& folder, std::unique_ptr<Weights> weights);

  // Embeddings and every layer on the packed tokens of `batch`: x holds
  // tokens x hidden_size floats, sequence s in rows [start[s], start[s+1]).
  Status RunLayers(std::span<const std::vector<int32_t>> batch,
                   std::span<const std::vector<int32_t>> type_ids, std::vector<float>* x,
                   std::vector<int>* start) const;
  // Pooling, Dense modules and Normalize of RunLayers' output into out.
  Status Pool(const std::vector<float>& x, const std::vector<int>& start,
              std::span<float> out) const;

  ModelFolder folder_;
  std::unique_ptr<Weights> w_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_BERT_MODEL_H_
