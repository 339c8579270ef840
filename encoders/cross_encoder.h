// CrossEncoder: scores (query, passage) pairs with a local Hugging Face
// sequence-classification folder of one label: a reranker such as
// cross-encoder/ms-marco-MiniLM-L-6-v2 (BertForSequenceClassification) or
// BAAI/bge-reranker-base / -v2-m3 (XLMRobertaForSequenceClassification).
//
// As sentence-transformers' CrossEncoder.predict (v4) does it:
//   1. both texts, as they are, tokenized as a pair: BERT [CLS] q [SEP] p
//      [SEP] with token types 0 / 1, XLM-R <s> q </s> </s> p </s> with type
//      0; truncated longest_first to the folder's max length (the rule of
//      Hugging Face tokenizers up to 0.22);
//   2. the model's layers (BertModel) and its head on the first token:
//        BERT:  logit = classifier(tanh(pooler.dense(h)))
//        XLM-R: logit = classifier.out_proj(tanh(classifier.dense(h)))
//   3. score = activation(logit): Sigmoid unless config.json names another
//      (sentence-transformers v4+: "sentence_transformers": {"activation_fn":
//      ...}; 2.x / 3.x: "sbert_ce_default_activation_function"); Sigmoid,
//      Identity and Tanh are supported (cross-encoder/ms-marco-MiniLM-L-6-v2
//      names Identity: its scores are the raw logits).
// The max length is tokenizer_config.json's model_max_length (where v4 saves
// a CrossEncoder's max_length), capped by the model's positions.
//
// Spec: "rerank/v1;id=<Hash64 of config.json, the tokenizer files and
// model.safetensors>;dir=DIR"; re-creating it from a changed folder is
// refused.
//
// Thread-safety: immutable after Open; Score is const and safe to call from
// many threads.
#ifndef FLASHEMBED_ENCODERS_CROSS_ENCODER_H_
#define FLASHEMBED_ENCODERS_CROSS_ENCODER_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

class BertModel;
class UnigramTokenizer;
class WordPieceTokenizer;

class CrossEncoder {
 public:
  enum class Activation { kSigmoid, kIdentity, kTanh };

  // A pair's tokens as the model sees them.
  struct PairTokens {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
    std::vector<int32_t> type_ids;
  };

  // Whether `dir`'s config.json names a *ForSequenceClassification
  // architecture.
  static bool IsCrossEncoderFolder(const std::string& dir);
  // Loads the folder. NotFound for missing files; InvalidArgument naming the
  // file and field for another architecture, more than one label, an
  // unsupported activation, missing head tensors or a wrong shape.
  static Result<std::unique_ptr<CrossEncoder>> Open(const std::string& dir);
  // Re-creates the reranker of a "rerank/v1;..." spec; InvalidArgument if the
  // folder changed since.
  static Result<std::unique_ptr<CrossEncoder>> FromSpec(std::string_view spec);

  ~CrossEncoder();
  CrossEncoder(const CrossEncoder&) = delete;
  CrossEncoder& operator=(const CrossEncoder&) = delete;

  std::string spec() const;
  const std::string& dir() const { return dir_; }
  Activation activation() const { return activation_; }
  // Longest pair, in tokens with the special ones.
  size_t max_tokens() const { return max_tokens_; }

  // Scores queries[i] against passages[i]: logits[i] is the head's output,
  // scores[i] the activation of it. InvalidArgument naming the pair for
  // invalid UTF-8. REQUIRES: all four spans have the same length.
  Status Score(std::span<const std::string_view> queries,
               std::span<const std::string_view> passages, std::span<float> logits,
               std::span<float> scores) const;
  // The tokens of a pair (truncated to max_tokens(), or to `max_tokens` when
  // it is smaller and not 0).
  Result<PairTokens> TokenizePair(std::string_view query, std::string_view passage,
                                  size_t max_tokens = 0) const;

 private:
  struct Head;
  CrossEncoder();

  std::string dir_;
  uint64_t fingerprint_ = 0;
  size_t max_tokens_ = 0;
  Activation activation_ = Activation::kSigmoid;
  std::unique_ptr<WordPieceTokenizer> wordpiece_;  // exactly one of the two
  std::unique_ptr<UnigramTokenizer> unigram_;
  std::unique_ptr<BertModel> model_;
  std::unique_ptr<Head> head_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_CROSS_ENCODER_H_
