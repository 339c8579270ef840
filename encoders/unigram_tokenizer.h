// UnigramTokenizer: SentencePiece Unigram tokenization from a Hugging Face
// tokenizer.json (XLM-RoBERTa and its descendants: multilingual-e5, bge-m3,
// paraphrase-multilingual-*, the XLM-R rerankers), giving exactly the ids,
// tokens and offsets of Hugging Face `tokenizers` (Rust).
//
// Pipeline, following tokenizers/src (v0.23), https://github.com/huggingface/tokenizers:
//   1. added tokens (tokenizer/added_vocabulary.rs) with "normalized": false
//      are matched on the raw text, leftmost-longest (lstrip / rstrip swallow
//      the whitespace beside them, as XLM-R's <mask> does);
//   2. normalizer, on the text between them: a Sequence (in the file's order)
//      of
//        Precompiled  SentencePiece's compiled character map (the base64
//                     precompiled_charsmap: a darts-clone double-array trie
//                     of UTF-8 keys and a pool of replacement strings),
//                     applied as spm_precompiled does it: each extended
//                     grapheme cluster shorter than 6 bytes is replaced as a
//                     whole when a key is a prefix of it (the shortest such
//                     key wins), else each char on its own;
//        Replace      a literal string, or the regex " {2,}", by a string;
//        Strip        whitespace at the left and / or right end;
//   3. pre-tokenizer Metaspace (' ' becomes the replacement, "▁"; a "▁" is
//      prepended to every section (prepend_scheme "always", the legacy
//      add_prefix_space true), to the text's first section ("first") or
//      never; with split, the text is cut before every "▁"), optionally
//      after WhitespaceSplit in a Sequence;
//   4. Unigram (models/unigram/model.rs): the Viterbi segmentation of each
//      piece that maximises the sum of the pieces' scores (ties: the first
//      path found, shorter pieces first); a char no piece covers is the unk
//      piece with score min_score - 10, and runs of unk chars fuse into one
//      token;
//   5. TemplateProcessing (or RobertaProcessing / BertProcessing): e.g.
//      "<s> $A </s>" and "<s> $A </s> </s> $B </s>"; truncation as HF's
//      max_length (longest_first for pairs) with the special tokens included.
// Grapheme clusters come from utf8proc (Unicode 15), whose extended clusters
// differ from the unicode-segmentation crate's only in Unicode 15.1's Indic
// conjuncts, which are 6 bytes or longer and so transformed char by char in
// both. Anything else in a tokenizer.json (other normalizers, pre-tokenizers,
// models or post-processors; byte_fallback; added tokens with normalized or
// single_word) is refused at load time, naming it.
//
// Thread-safety: immutable after FromFile()/FromJson(); Encode() and
// EncodePair() are const and safe to call from many threads at once.
#ifndef FLASHEMBED_ENCODERS_UNIGRAM_TOKENIZER_H_
#define FLASHEMBED_ENCODERS_UNIGRAM_TOKENIZER_H_

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

class UnigramTokenizer {
 public:
  // One encoded text or pair, special tokens included.
  struct Encoding {
    std::vector<int32_t> ids;
    // Vocabulary pieces ("▁hello"); an unk token is the normalized text it
    // stands for, as in HF.
    std::vector<std::string> tokens;
    // Byte range [first, second) of each token in its own input text (the
    // first or the second of a pair, see sequence_ids); (0, 0) for special
    // tokens. As in HF, a token spans from the original char its first
    // normalized char came from to the one its last came from; a "▁" the
    // pre-tokenizer prepended shares the next char's bytes.
    std::vector<std::pair<size_t, size_t>> offsets;
    // The template's type id of each token (0 everywhere for XLM-R).
    std::vector<int32_t> type_ids;
    // 0 or 1 for the tokens of the first or second text; -1 for special
    // tokens.
    std::vector<int8_t> sequence_ids;
  };

  // Loads a tokenizer.json (FromFile reads it from `path`; FromJson takes the
  // text, naming it `name_for_errors` in messages). Errors: NotFound /
  // IOError for the file; InvalidArgument, naming the file and the field,
  // for malformed JSON, a malformed precompiled_charsmap, a component or
  // setting this class does not implement (see the top of this file), or a
  // vocab without the unk or template tokens.
  static Result<std::unique_ptr<UnigramTokenizer>> FromFile(const std::string& path);
  static Result<std::unique_ptr<UnigramTokenizer>> FromJson(std::string_view json,
                                                            const std::string& name_for_errors);

  UnigramTokenizer(const UnigramTokenizer&) = delete;
  UnigramTokenizer& operator=(const UnigramTokenizer&) = delete;
  ~UnigramTokenizer();

  // Tokenizes `text` (UTF-8) with the single template. max_tokens = 0 means
  // no limit; otherwise the result has at most max_tokens tokens including
  // the special ones (the text's tokens are cut from the end). Errors:
  // InvalidArgument for invalid UTF-8 (naming the byte offset) or a
  // max_tokens below the number of special tokens (but not 0).
  Result<Encoding> Encode(std::string_view text, size_t max_tokens = 0) const;
  // Tokenizes a pair with the pair template; max_tokens as above, shared by
  // both texts as HF's longest_first truncation does (the longer text loses
  // tokens first). Errors as Encode, naming which text is invalid.
  Result<Encoding> EncodePair(std::string_view first, std::string_view second,
                              size_t max_tokens = 0) const;
  // Token ids given by the caller (no special tokens) through the single
  // template as Encode would put a text's (<s> ids </s> for XLM-R),
  // truncated as Encode truncates; offsets (0, 0). InvalidArgument for an id
  // not in the vocabulary (naming its position) or max_tokens as Encode.
  Result<Encoding> EncodeIds(std::span<const int32_t> ids, size_t max_tokens = 0) const;

  // Special tokens the single / pair template adds (2 and 4 for XLM-R).
  size_t single_special_tokens() const;
  size_t pair_special_tokens() const;
  // Number of distinct ids (max id + 1 of the vocab and added tokens).
  size_t vocab_size() const { return id_to_token_.size(); }
  // The id of `token` (vocab or added token), if any.
  std::optional<int32_t> TokenToId(std::string_view token) const;
  // The token for `id`, or "" if out of range.
  std::string_view IdToToken(int32_t id) const;
  // model.unk_id: the id of the piece unknown chars become.
  int32_t unk_id() const { return unk_id_; }
  // The Metaspace replacement ("▁"): a token starting with it starts a word.
  const std::string& word_start() const { return replacement_; }
  // truncation.max_length of tokenizer.json, or 0 when unset. Encode does
  // not apply it by itself.
  size_t default_max_tokens() const { return default_max_tokens_; }

 private:
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
  struct NormalizerStep {
    enum class Kind { kPrecompiled, kReplaceLiteral, kReplaceSpaceRuns, kStrip } kind;
    std::string pattern;  // kReplaceLiteral
    std::string content;  // kReplace*
    bool left = false;    // kStrip
    bool right = false;   // kStrip
  };
  enum class Prepend { kAlways, kFirst, kNever };
  // One item of a post-processing template: a special token, or the first
  // (sequence 0) or second (1) text.
  struct TemplateItem {
    int sequence = -1;  // -1: special token `id`
    int32_t id = 0;
    std::string token;
    int32_t type_id = 0;
  };
  // The trie of vocabulary pieces: children of node n are
  // edges_[nodes_[n].first_edge, + nodes_[n].edge_count), sorted by byte.
  struct TrieNode {
    uint32_t first_edge = 0;
    uint32_t edge_count = 0;
    int32_t piece = -1;  // vocab id of the piece ending here
  };
  struct TrieEdge {
    uint8_t byte;
    uint32_t child;
  };

  UnigramTokenizer() = default;

  friend class UnigramTokenizerLoader;
  friend class UnigramTokenizerEncoder;

  // Normalizer
  std::vector<NormalizerStep> normalizer_;
  std::vector<uint32_t> charsmap_units_;  // darts-clone units
  std::string charsmap_pool_;             // NUL-terminated replacements
  // Pre-tokenizer
  bool whitespace_split_ = false;
  std::string replacement_ = "\u2581";
  char32_t replacement_cp_ = 0x2581;
  Prepend prepend_ = Prepend::kAlways;
  bool split_ = true;
  // Model
  std::vector<std::string> id_to_token_;
  std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>> token_to_id_;
  std::vector<double> scores_;  // by vocab id
  std::vector<TrieNode> nodes_;
  std::vector<TrieEdge> edges_;
  int32_t unk_id_ = 0;
  double unk_score_ = 0;
  // Added tokens and post-processing
  std::vector<AddedToken> added_tokens_;  // none empty
  std::vector<TemplateItem> single_;
  std::vector<TemplateItem> pair_;
  size_t default_max_tokens_ = 0;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_UNIGRAM_TOKENIZER_H_
