// WordPieceTokenizer: BERT tokenization that gives exactly the ids of Hugging
// Face `tokenizers` (Rust) for BERT-family models.
//
// Pipeline, following tokenizers/src (v0.23), https://github.com/huggingface/tokenizers:
//   1. added tokens (tokenizer/added_vocabulary.rs): tokens such as "[SEP]"
//      written in the input are matched on the raw text, leftmost-longest,
//      and become single tokens (lstrip/rstrip swallow adjacent whitespace);
//   2. BertNormalizer (normalizers/bert.rs), on the text between them:
//      clean_text (drop U+0000, U+FFFD and Cc/Cf/Co code points except
//      \t \n \r; whitespace -> ' '), handle_chinese_chars (spaces around the
//      CJK ideograph ranges of is_chinese_char), strip_accents (NFD, then drop
//      Mn; null means "same as lowercase"), lowercase (Rust char::to_lowercase);
//   3. BertPreTokenizer (pre_tokenizers/bert.rs): split on whitespace, every
//      punctuation char (Unicode P* or ASCII punctuation) is its own word;
//   4. WordPiece (models/wordpiece/mod.rs): greedy longest-match-first with
//      the continuing-subword prefix ("##"); a word over
//      max_input_chars_per_word chars, or one that cannot be covered, becomes
//      one unk token;
//   5. BertProcessing / TemplateProcessing: [CLS] tokens [SEP]; truncation as
//      HF's max_length with the two special tokens included.
// The character classes are those of the `tokenizers` 0.23.2 binary, which
// takes categories from older Unicode data than utf8proc (it keeps unassigned
// code points, and some recent punctuation and marks are ordinary letters to
// it); the .cc carries them as tables measured on every code point, and
// patches utf8proc's lowercase and NFD where they differ. Only the BERT
// components above are supported; other normalizer / pre-tokenizer / model /
// post-processor types, and added tokens with normalized or single_word set,
// are refused at load time.
//
// Thread-safety: immutable after FromFiles(); Encode() is const and safe to
// call from many threads at once.
#ifndef FLASHEMBED_ENCODERS_WORDPIECE_TOKENIZER_H_
#define FLASHEMBED_ENCODERS_WORDPIECE_TOKENIZER_H_

#include <bitset>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

namespace hf {
struct Piece;  // hf_tokenizer_common.h
}  // namespace hf

class WordPieceTokenizer {
 public:
  // One encoded text: [CLS], the text's tokens, [SEP]; or a pair: [CLS], the
  // first text's tokens, [SEP], the second's, [SEP].
  struct Encoding {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
    // Byte range [first, second) of each token in its original text (the
    // first or second of a pair, see sequence_ids); (0, 0) for [CLS] and
    // [SEP]. As in HF, a token made from a normalized char covers the whole
    // original char it came from, and chars the normalizer removed
    // (controls, stripped accents) at a token's edge are not included.
    std::vector<std::pair<size_t, size_t>> offsets;
    // Token type ids: 0, and 1 for the second text of a pair and its [SEP].
    std::vector<int32_t> type_ids;
    // 0 or 1 for the tokens of the first or second text, -1 for [CLS] and
    // [SEP].
    std::vector<int8_t> sequence_ids;
  };

  // Loads a tokenizer.
  //   vocab_path: vocab.txt, one token per line (split on '\n' only, trailing
  //     whitespace trimmed as HF does), id = line index. May be empty when
  //     tokenizer_json_path embeds model.vocab.
  //   tokenizer_json_path: HF tokenizer.json (may be empty). Supplies the
  //     normalizer settings, unk token, subword prefix, max chars per word,
  //     added tokens and [CLS]/[SEP]. When it embeds model.vocab, that vocab
  //     is used and vocab_path is ignored.
  // Without tokenizer.json the settings are those of HF's
  // BertWordPieceTokenizer: clean_text, handle_chinese_chars, lowercase,
  // strip_accents = lowercase, unk "[UNK]", prefix "##", 100 chars per word,
  // and [PAD] [UNK] [CLS] [SEP] [MASK] (those in the vocab) as special tokens.
  // Errors: NotFound if a file is missing; InvalidArgument (naming the file)
  // for malformed JSON or vocab, a vocab without the unk/[CLS]/[SEP] tokens,
  // or an unsupported component type or setting.
  //
  // vocab_settings replaces those BertWordPieceTokenizer defaults when there
  // is no tokenizer.json (transformers' BertTokenizer reads them from
  // tokenizer_config.json: do_lower_case, strip_accents,
  // tokenize_chinese_chars); a tokenizer.json's own settings always win.
  struct VocabSettings {
    bool lowercase = true;
    std::optional<bool> strip_accents;  // unset: same as lowercase
    bool handle_chinese_chars = true;
  };
  static Result<std::unique_ptr<WordPieceTokenizer>> FromFiles(
      const std::string& vocab_path, const std::string& tokenizer_json_path,
      const VocabSettings& vocab_settings);
  static Result<std::unique_ptr<WordPieceTokenizer>> FromFiles(
      const std::string& vocab_path, const std::string& tokenizer_json_path) {
    return FromFiles(vocab_path, tokenizer_json_path, VocabSettings());
  }

  WordPieceTokenizer(const WordPieceTokenizer&) = delete;
  WordPieceTokenizer& operator=(const WordPieceTokenizer&) = delete;
  ~WordPieceTokenizer();

  // Tokenizes `text` (UTF-8). max_tokens = 0 means no limit; otherwise the
  // result has at most max_tokens entries including [CLS] and [SEP] (text
  // tokens are dropped from the end, as HF's max_length truncation does).
  // Errors: InvalidArgument for invalid UTF-8 (names the byte offset) or
  // max_tokens == 1 (HF would return 3 tokens there; see the .cc).
  Result<Encoding> Encode(std::string_view text, size_t max_tokens) const;
  // Tokenizes a pair as BertProcessing does: [CLS] A [SEP] B [SEP], type ids
  // 0 ... 0 1 ... 1. max_tokens = 0 means no limit; otherwise HF's
  // longest_first truncation (the longer text gives way first) keeps at most
  // max_tokens including the three special tokens. Errors: InvalidArgument
  // for invalid UTF-8 (naming the text and byte) or max_tokens 1 or 2.
  Result<Encoding> EncodePair(std::string_view first, std::string_view second,
                              size_t max_tokens) const;
  // Token ids given by the caller (no special tokens) as Encode would give
  // them for a text: [CLS] ids [SEP], truncated to max_tokens as Encode
  // does; offsets (0, 0). InvalidArgument for an id not in the vocabulary
  // (naming its position) or max_tokens == 1.
  Result<Encoding> EncodeIds(std::span<const int32_t> ids, size_t max_tokens) const;

  int32_t pad_id() const { return pad_id_; }  // [PAD]; 0 if the vocab has none
  int32_t cls_id() const { return cls_id_; }
  int32_t sep_id() const { return sep_id_; }
  int32_t unk_id() const { return unk_id_; }
  // Number of distinct ids (lines of vocab.txt, or max id + 1 of the JSON
  // vocab and added tokens).
  size_t vocab_size() const { return id_to_token_.size(); }
  // The token for `id`, or "" if out of range.
  std::string_view IdToToken(int32_t id) const;
  // truncation.max_length of tokenizer.json, or 0 when unset. Encode does not
  // apply it by itself; pass it as max_tokens to get HF's default behaviour.
  size_t default_max_tokens() const { return default_max_tokens_; }

 private:
  // [CLS] pieces [SEP], truncated to max_tokens (REQUIRES: not 1).
  Encoding Single(std::vector<hf::Piece> pieces, size_t max_tokens) const;
  struct StringHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct AddedToken {
    std::string content;
    int32_t id = 0;
    bool lstrip = false;
    bool rstrip = false;
  };
  struct Settings {
    bool clean_text = true;
    bool handle_chinese_chars = true;
    bool strip_accents = true;
    bool lowercase = true;
    std::string unk_token = "[UNK]";
    std::string continuing_subword_prefix = "##";
    size_t max_input_chars_per_word = 100;
    std::string cls_token = "[CLS]";
    std::string sep_token = "[SEP]";
  };

  WordPieceTokenizer() = default;

  // Both live in the .cc: the loader fills the members, the encoder reads them.
  friend class WordPieceTokenizerLoader;
  friend class WordPieceTokenizerEncoder;

  Settings settings_;
  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_to_id_;
  std::vector<AddedToken> added_tokens_;  // none empty
  std::bitset<256> added_first_bytes_;    // first bytes of added_tokens_
  int32_t pad_id_ = 0;
  int32_t cls_id_ = 0;
  int32_t sep_id_ = 0;
  int32_t unk_id_ = 0;
  size_t default_max_tokens_ = 0;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_WORDPIECE_TOKENIZER_H_
