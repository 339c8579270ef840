// BpeTokenizer: CLIP's text tokenization, giving exactly the ids, tokens and
// offsets of Hugging Face `tokenizers` (Rust) for a CLIP tokenizer.json (as
// transformers' CLIPTokenizerFast saves it, e.g. openai/clip-vit-base-patch32).
//
// Pipeline, following tokenizers/src (v0.23), https://github.com/huggingface/tokenizers:
//   1. added tokens (tokenizer/added_vocabulary.rs): tokens with
//      "normalized": false (CLIP's <|endoftext|>) are matched on the raw text,
//      leftmost-longest; the text between them is normalized, and tokens with
//      "normalized": true (CLIP's <|startoftext|>) are then matched on the
//      normalized text (so "<|STARTOFTEXT|>" is one token too);
//   2. normalizer, a Sequence of (in the file's order) NFC
//      (normalizers/unicode.rs), Replace of the regex \s+ by " "
//      (normalizers/replace.rs) and Lowercase (Rust char::to_lowercase);
//   3. pre-tokenizer Split (pre_tokenizers/split.rs, behavior Removed, invert)
//      with CLIP's regex
//        <\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+
//      (or the same without the two special-token alternatives), matched by
//      hand with Oniguruma's semantics (ordered alternation, greedy runs),
//      then ByteLevel (pre_tokenizers/byte_level.rs; GPT-2's bytes_to_unicode,
//      with or without its split regex);
//   4. BPE (models/bpe/model.rs, word.rs): each word's byte symbols, the last
//      one with end_of_word_suffix ("</w>"), merged by merge rank (lowest
//      first, leftmost first); symbols not in the vocab become unk_token;
//   5. RobertaProcessing: <|startoftext|> tokens <|endoftext|>.
// The character classes are those of the `tokenizers` 0.23.2 binary: \s,
// \p{L} and \p{N} as its Oniguruma sees them (newer Unicode than utf8proc),
// canonical combining classes and compositions from older Unicode data; the
// .cc carries the differences from utf8proc, measured on every code point.
// Anything else in a tokenizer.json (other normalizers, pre-tokenizers,
// models or post-processors; dropout, byte_fallback, a continuing-subword
// prefix, ignore_merges; added tokens with lstrip, rstrip or single_word) is
// refused at load time.
//
// Thread-safety: immutable after FromFile()/FromJson(); Encode() is const
// and safe to call from many threads at once.
#ifndef FLASHEMBED_ENCODERS_BPE_TOKENIZER_H_
#define FLASHEMBED_ENCODERS_BPE_TOKENIZER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

class BpeTokenizer {
 public:
  // One encoded text: <|startoftext|>, the text's tokens, <|endoftext|>.
  struct Encoding {
    std::vector<int32_t> ids;
    // Vocabulary strings: byte-level symbols ("Ġ" = byte 0x20 ...), "</w>"
    // on the last token of each word.
    std::vector<std::string> tokens;
    // Byte range [first, second) of each token in the original text; (0, 0)
    // for the two special tokens. As in HF, a token covers whole original
    // chars (a token holding some bytes of a char covers all of it), and a
    // char the NFC normalizer composed maps to its first original char.
    std::vector<std::pair<size_t, size_t>> offsets;
  };

  // Loads a tokenizer.json (FromFile reads it from `path`; FromJson takes the
  // text, naming it `name_for_errors` in messages).
  // Errors: NotFound / IOError for the file; InvalidArgument, naming the file
  // and the field, for malformed JSON, a component or setting this class
  // does not implement (see the top of this file), a merge whose tokens or
  // result are not in the vocab, or a vocab without the unk / special tokens.
  static Result<std::unique_ptr<BpeTokenizer>> FromFile(const std::string& path);
  static Result<std::unique_ptr<BpeTokenizer>> FromJson(std::string_view json,
                                                        const std::string& name_for_errors);

  BpeTokenizer(const BpeTokenizer&) = delete;
  BpeTokenizer& operator=(const BpeTokenizer&) = delete;
  ~BpeTokenizer();

  // Tokenizes `text` (UTF-8). max_tokens = 0 means no limit; otherwise the
  // result has at most max_tokens entries including the two special tokens
  // (text tokens are dropped from the end, the last token stays
  // <|endoftext|>: transformers' truncation=True, max_length=max_tokens).
  // Errors: InvalidArgument for invalid UTF-8 (names the byte offset) or
  // max_tokens == 1.
  Result<Encoding> Encode(std::string_view text, size_t max_tokens = 0) const;

  int32_t bos_id() const { return bos_id_; }  // post_processor.cls, <|startoftext|>
  int32_t eos_id() const { return eos_id_; }  // post_processor.sep, <|endoftext|>
  // padding.pad_id of tokenizer.json, if it sets padding (CLIP's does not;
  // transformers then pads with tokenizer_config.json's pad_token, which
  // TokenToId can look up).
  std::optional<int32_t> pad_id() const { return pad_id_; }
  // Number of distinct ids (max id + 1 of the vocab and added tokens).
  size_t vocab_size() const { return id_to_token_.size(); }
  // The id of `token` (vocab or added token), if any.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The token for `id`, or "" if out of range.
  std::string_view IdToToken(int32_t id) const;
  // truncation.max_length of tokenizer.json, or 0 when unset. Encode does not
  // apply it by itself; pass it as max_tokens to get HF's behaviour.
  size_t default_max_tokens() const { return default_max_tokens_; }

 private:
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct AddedToken {
    std::string content;  // as matched: raw, or normalized if `normalized`
    int32_t id = 0;
    bool normalized = false;
  };
  enum class NormalizerStep { kNfc, kCollapseWhitespace, kLowercase };
  struct Settings {
    std::vector<NormalizerStep> normalizer;
    bool split_special_alternatives = true;  // <|startoftext|>|<|endoftext|>| in the Split regex
    bool byte_level_regex = true;            // ByteLevel use_regex
    std::optional<std::string> unk_token;
    std::string end_of_word_suffix;
    bool fuse_unk = false;
    std::string bos_token;
    std::string eos_token;
  };
  struct Merge {
    uint32_t rank;
    int32_t new_id;
  };

  BpeTokenizer() = default;

  // Both live in the .cc: the loader fills the members, the encoder reads them.
  friend class BpeTokenizerLoader;
  friend class BpeTokenizerEncoder;

  Settings settings_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_to_id_;
  // (left id << 32 | right id) -> rank and id of the merged token.
  std::unordered_map<uint64_t, Merge> merges_;
  std::vector<AddedToken> added_tokens_;  // none empty
  int32_t bos_id_ = 0;
  int32_t eos_id_ = 0;
  std::optional<int32_t> unk_id_;
  std::optional<int32_t> pad_id_;
  size_t default_max_tokens_ = 0;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_BPE_TOKENIZER_H_
