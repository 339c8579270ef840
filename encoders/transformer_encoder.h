// TransformerEncoder: a TextEncoder over a local Hugging Face BERT-family or
// XLM-RoBERTa-family sentence-embedding model folder: WordPiece (BERT) or
// Unigram (XLM-R, tokenizer.json) tokenizer, truncating to the model's
// max_seq_length, + BertModel forward pass + pooling/Dense/normalisation.
//
// Its spec names the folder and fingerprints it:
//   "bert/v1;id=<16 hex digits>;dim=384;dir=/abs/path/to/model"
//   "xlmr/v1;id=...;dim=...;dir=..."  (config.json model_type xlm-roberta)
// where id is Hash64 over config.json, the tokenizer files,
// model.safetensors and the sentence-transformers files. Re-creating the encoder from a spec fails
// when the folder's fingerprint differs (the model changed since the spec was made), so a
// collection never mixes vectors of two models. `dir` is last and runs to the end of the spec, so
// paths may contain ';' or '='.
//
// Thread-safety: Encode is const and safe to call from many threads.
#ifndef FLASHEMBED_ENCODERS_TRANSFORMER_ENCODER_H_
#define FLASHEMBED_ENCODERS_TRANSFORMER_ENCODER_H_

#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "encoders/encoder.h"

namespace flashembed::encoders {

class BertModel;
class UnigramTokenizer;
class WordPieceTokenizer;

class TransformerEncoder final : public TextEncoder {
 public:
  // Loads the model folder `dir` (see ModelFolder::Read, BertModel::Load).
  // dim > 0 and below the model's width keeps only the first `dim`
  // dimensions of every vector (Matryoshka truncation), scaled back to unit
  // length when the model's vectors are (a Normalize module);
  // InvalidArgument for a dim above the model's width.
  static Result<std::unique_ptr<TransformerEncoder>> Open(const std::string& dir, int dim = 0);
  // Re-creates the encoder of a "bert/v1;..." or "xlmr/v1;..." spec. InvalidArgument if the
  // folder's fingerprint or dim differ from the spec's (naming both);
  // NotSupported for another version.
  static Result<std::unique_ptr<TransformerEncoder>> FromSpec(std::string_view spec);

  ~TransformerEncoder() override;

  int dim() const override;
  std::string spec() const override;
  // Texts longer than the model's max_seq_length tokens are truncated, as
  // sentence-transformers does.
  Status Encode(std::span<const std::string_view> texts, std::span<float> out) const override;
  // The tokenizer's tokens with [CLS]/[SEP] (<s>/</s>); max_tokens 0 = no
  // limit.
  Status EncodeTokenIds(std::span<const std::vector<int32_t>> ids,
                        std::span<float> out) const override;
  Result<Tokenization> Tokenize(std::string_view text, size_t max_tokens) const override;
  // [CLS] a [SEP] b [SEP] (types 0 / 1) or <s> a </s> </s> b </s>, the
  // texts as they are (as a cross-encoder reads them); max_tokens 0 = no
  // limit.
  Result<Tokenization> TokenizePair(std::string_view first, std::string_view second,
                                    size_t max_tokens) const override;
  // WordPieceTokenSpans with the folder's tokenizer and subword prefix, or
  // UnigramTokenSpans.
  Result<std::vector<TokenSpan>> TokenSpans(std::string_view text) const override;
  // sentence-transformers' max_seq_length (sentence_bert_config.json), else
  // config.json's max_position_embeddings; [CLS] and [SEP] included.
  size_t max_tokens() const override { return max_tokens_; }
  // [CLS] and [SEP] (<s> and </s>).
  size_t special_tokens() const override { return 2; }

  const std::string& dir() const { return dir_; }

 private:
  TransformerEncoder() = default;

  // Encode at the model's full width.
  // The model's full-width vectors of `count` inputs, each input's ids
  // (special tokens included) from `tokenize(i)`.
  Status EncodeFull(size_t count, std::string_view item,
                    const std::function<Result<std::vector<int32_t>>(size_t)>& tokenize,
                    std::span<float> out) const;
  // EncodeFull, then the Matryoshka cut when the encoder has one.
  Status EncodeSequences(size_t count, std::string_view item,
                         const std::function<Result<std::vector<int32_t>>(size_t)>& tokenize,
                         std::span<float> out) const;

  std::string dir_;
  uint64_t fingerprint_ = 0;
  size_t max_tokens_ = 0;
  int truncated_dim_ = 0;         // > 0: Matryoshka truncation to this many dimensions
  bool renormalize_ = false;      // ... and back to unit length
  std::string_view spec_prefix_;  // "bert/v1;" or "xlmr/v1;"
  std::string subword_prefix_;    // WordPiece continuing_subword_prefix ("##")
  // Exactly one of the two.
  std::unique_ptr<WordPieceTokenizer> tokenizer_;
  std::unique_ptr<UnigramTokenizer> unigram_;
  std::unique_ptr<BertModel> model_;
};

// The spans of `tokenizer`'s tokens of `text` (its Encoding::offsets without
// [CLS] and [SEP]). A token continues the word before it when it starts with
// `subword_prefix` (WordPiece's continuing_subword_prefix, "##" for BERT),
// whether or not it touches the token before it (a mark removed by
// strip_accents may lie between them). Cutting before any other token is safe: the
// BertPreTokenizer splits words at whitespace and punctuation and around CJK
// ideographs, and WordPiece works word by word. Cutting before a "##" piece
// leaves a text that ends early in a word, which tokenizes into the same
// pieces (greedy longest-match-first from the word's start picks the same
// prefixes), and one that starts mid-word, which may not. Several tokens made
// from one character (strip_accents NFD-splits a Hangul syllable into jamo)
// share its bytes; the later ones continue the word. Errors as
// WordPieceTokenizer::Encode.
Result<std::vector<TokenSpan>> WordPieceTokenSpans(const WordPieceTokenizer& tokenizer,
                                                   std::string_view subword_prefix,
                                                   std::string_view text);

// The spans of a Unigram tokenizer's tokens of `text` (without the special
// tokens). A token that does not start with the Metaspace mark ("▁")
// continues the word before it: Metaspace cuts the text before every mark and
// the model segments each piece on its own, so cutting before a marked token
// leaves two texts that tokenize into the same pieces. Tokens made from one
// char share its bytes; the later ones continue the word. Errors as
// UnigramTokenizer::Encode.
Result<std::vector<TokenSpan>> UnigramTokenSpans(const UnigramTokenizer& tokenizer,
                                                 std::string_view text);

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_TRANSFORMER_ENCODER_H_
