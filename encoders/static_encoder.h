// StaticEncoder: a TextEncoder over a model2vec static embedding folder (the
// "potion" family: potion-base-8M, potion-retrieval-32M,
// potion-multilingual-128M, M2V_base_output, ...): no network at all, one
// table lookup per token.
//
// Follows model2vec's StaticModel.encode (model2vec/model.py):
//   1. the text is cut to its first max_length * median_token_length code
//      points (median_token_length: the median, in code points, of the
//      vocabulary's token strings, added tokens included, rounded down);
//   2. tokenized with the folder's tokenizer.json (WordPiece or Unigram, the
//      tokenizers flashembed implements) without special tokens; the unknown
//      token's id is removed; the first max_length ids are kept;
//   3. the mean of embeddings[mapping[id]] * weights[id] over those ids
//      (mapping and weights only where model.safetensors has them), or zeros
//      for no ids;
//   4. divided by (L2 norm + 1e-32) when config.json's "normalize" is true.
// max_length is config.json's "max_length": absent means 512, null means no
// cut at all. The embeddings may be F32, F16, BF16, F64 or I8 (a quantized
// table, used as stored, as model2vec does).
//
// Spec: "model2vec/v1;id=<Hash64 of config.json, tokenizer.json and
// model.safetensors>;dim=N;dir=DIR"; re-creating it from a changed folder is
// refused, as for the transformer encoders.
//
// Thread-safety: immutable after Open; Encode is const and safe to call from
// many threads.
#ifndef FLASHEMBED_ENCODERS_STATIC_ENCODER_H_
#define FLASHEMBED_ENCODERS_STATIC_ENCODER_H_

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "encoders/encoder.h"

namespace flashembed::encoders {

class UnigramTokenizer;
class WordPieceTokenizer;

class StaticEncoder final : public TextEncoder {
 public:
  // Whether `dir` holds a model2vec folder (config.json with "model_type"
  // "model2vec").
  static bool IsStaticFolder(const std::string& dir);
  // Loads the folder. NotFound for a missing file; InvalidArgument naming the
  // file and field for anything malformed or unsupported (a tokenizer type
  // other than WordPiece or Unigram, a mapping outside the table, a table
  // whose rows do not match the vocabulary, weights of the wrong length).
  static Result<std::unique_ptr<StaticEncoder>> Open(const std::string& dir);
  // Re-creates the encoder of a "model2vec/v1;..." spec; InvalidArgument if
  // the folder changed since (naming both fingerprints).
  static Result<std::unique_ptr<StaticEncoder>> FromSpec(std::string_view spec);

  ~StaticEncoder() override;

  int dim() const override { return dim_; }
  std::string spec() const override;
  Status Encode(std::span<const std::string_view> texts, std::span<float> out) const override;
  // Ids as given (no unk removal), cut at max_length as a text's are.
  Status EncodeTokenIds(std::span<const std::vector<int32_t>> ids,
                        std::span<float> out) const override;
  // The tokenizer's tokens without special tokens (what is averaged, before
  // the unknown token is removed); max_tokens 0 = no limit.
  Result<Tokenization> Tokenize(std::string_view text, size_t max_tokens) const override;
  Result<std::vector<TokenSpan>> TokenSpans(std::string_view text) const override;
  // model2vec's max_length (512 by default), the chunker's window; 512 when
  // the folder sets no limit.
  size_t max_tokens() const override { return max_length_ ? *max_length_ : 512; }
  size_t special_tokens() const override { return 0; }

  const std::string& dir() const { return dir_; }
  size_t median_token_length() const { return median_token_length_; }

 private:
  StaticEncoder() = default;

  // The ids model2vec averages for `text` (steps 1 and 2 above).
  Result<std::vector<int32_t>> Ids(std::string_view text) const;
  // out[i*dim ..] = the vector of ids(i), for `count` inputs; `item` names
  // an input in errors.
  Status EncodeIds(size_t count, std::string_view item,
                   const std::function<Result<std::vector<int32_t>>(size_t)>& ids,
                   std::span<float> out) const;

  std::string dir_;
  uint64_t fingerprint_ = 0;
  int dim_ = 0;
  bool normalize_ = false;
  std::optional<size_t> max_length_;  // unset: no cut
  size_t median_token_length_ = 0;
  int32_t unk_id_ = -1;                // -1: none
  std::string subword_prefix_ = "##";  // WordPiece's, for TokenSpans
  std::vector<float> embeddings_;      // rows x dim
  std::vector<int64_t> mapping_;       // by token id; empty: identity
  std::vector<float> weights_;         // by token id; empty: all 1
  size_t vocab_size_ = 0;
  // Exactly one of the two.
  std::unique_ptr<WordPieceTokenizer> wordpiece_;
  std::unique_ptr<UnigramTokenizer> unigram_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_STATIC_ENCODER_H_
