// HashingEncoder: the default text encoder. Needs no model files.
//
// Each text is normalised (NFKC + Unicode case folding, default-ignorable code
// points removed), cut into features, and every feature is hashed into one of
// `dim` buckets with a +1/-1 sign (the "hashing trick"). Bucket values are
// sub-linear term weights (1 + ln tf) times a fixed per-family weight; the row
// is then L2-normalised, so the dot product of two rows is their cosine.
//
// Features (all counted per text):
//   * word n-grams, n in [1, word_ngram_max], over words of scripts that use
//     spaces. A word is a run of letters, digits and marks; anything else
//     (spaces, punctuation, symbols) separates words. Word n-grams join
//     consecutive words and ignore what lies between them.
//   * character n-grams, n in [char_ngram_min, char_ngram_max] code points,
//     over each word padded with begin/end markers (fastText style), so
//     "learning" and "learned" share features.
//   * for scripts written without spaces (Han, Hiragana, Katakana, Bopomofo,
//     Yi, Thai, Lao, Khmer, Myanmar, Tai scripts, Javanese, Balinese, Tangut),
//     every character (with its combining marks) is a unigram, and
//     n-grams up to cjk_ngram_max join consecutive such characters, so
//     "机器学习" and "深度学习" share "学", "习" and "学习".
//   * symbols (math, currency, emoji: Unicode S*) are one feature each.
//   * punctuation is used only when a text has no other feature, so "!!!" and
//     "???" still encode (and differ), while "hello" and "hello!" are equal.
// Texts with none of these (empty, only whitespace / control / unassigned /
// private-use code points) are rejected with InvalidArgument.
//
// Determinism: the hash is our own fixed-seed 64-bit mix over code points,
// and bucket sums are exact fixed-point integers (weights rounded to 2^-24),
// so equal specs give bit-identical vectors on every run, thread, batch
// position and platform with IEEE doubles. (The one libm call, log(tf), is
// rounded to 2^-24 before use.) Output can change only for code points whose
// Unicode data differs between utf8proc versions (e.g. newly assigned ones).
//
// Cost: about 1-3 us for a short sentence at dim 384, ~35 ns per byte for
// long ASCII text. Scratch memory is O(distinct features + segment_bytes).
//
// Thread-safety: immutable after Create(); Encode() is const and safe to call
// from many threads at once. Scratch memory is thread-local and reused; each
// thread keeps at most a few MiB of it between calls.
#ifndef FLASHEMBED_ENCODERS_HASHING_ENCODER_H_
#define FLASHEMBED_ENCODERS_HASHING_ENCODER_H_

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "encoders/encoder.h"

namespace flashembed::encoders {

class HashingEncoder final : public TextEncoder {
 public:
  static constexpr int kDefaultDim = 384;
  static constexpr int kMinDim = 8;
  static constexpr int kMaxDim = 65536;
  static constexpr int kMaxCharNgram = 8;
  static constexpr int kMaxWordNgram = 3;
  static constexpr int kMaxCjkNgram = 3;

  // Every field except segment_bytes changes the output and is part of
  // spec(); the database persists the spec, so those cannot change after a
  // collection is created. segment_bytes may differ from run to run.
  struct Options {
    // Output dimension = number of hash buckets. [kMinDim, kMaxDim].
    // Default 384. In spec().
    int dim = kDefaultDim;
    // Character n-gram lengths in code points, over each word padded with
    // begin/end markers. 1 <= char_ngram_min <= char_ngram_max <= kMaxCharNgram.
    // Default 3..5. In spec().
    int char_ngram_min = 3;
    int char_ngram_max = 5;
    // Longest word n-gram: 1 = words only, 2 = + bigrams, 3 = + trigrams.
    // [1, kMaxWordNgram]. Default 2. In spec().
    int word_ngram_max = 2;
    // Longest n-gram over consecutive characters of scripts written without
    // spaces (see the file comment): 1 = characters only, 2 = + bigrams.
    // [1, kMaxCjkNgram]. Default 2. In spec().
    int cjk_ngram_max = 2;
    // Tuning only, never changes the output and is not in spec(): texts
    // longer than this many bytes are normalised in pieces of about this
    // size, which bounds scratch memory for huge inputs. >= 1. Default 64 KiB.
    size_t segment_bytes = 64 * 1024;

    // OK, or InvalidArgument naming the first field out of range.
    Status Validate() const;
  };

  // InvalidArgument if `options` is invalid.
  static Result<std::unique_ptr<HashingEncoder>> Create(const Options& options);

  // Parses a spec as produced by spec(): "hash/v1;dim=384;char=3-5;word=1-2;
  // cjk=1-2". Keys may come in any order; a missing key takes its v1 default.
  // NotSupported (naming the spec) for another algorithm, another version or
  // an unknown key; InvalidArgument for a malformed spec, a repeated key or a
  // value out of range.
  static Result<Options> ParseSpec(std::string_view spec);
  static Result<std::unique_ptr<HashingEncoder>> FromSpec(std::string_view spec);

  HashingEncoder(const HashingEncoder&) = delete;
  HashingEncoder& operator=(const HashingEncoder&) = delete;

  int dim() const override { return options_.dim; }
  // Canonical: "hash/v1;dim=<dim>;char=<min>-<max>;word=1-<max>;cjk=1-<max>".
  std::string spec() const override;
  // See TextEncoder::Encode. Also InvalidArgument if out.size() is not
  // texts.size() * dim(). Error messages name the text index ("text 3: ...").
  Status Encode(std::span<const std::string_view> texts, std::span<float> out) const override;

  // TokenSpans units, found on the raw text (before normalisation): a word
  // (a run of letters, digits and marks, as for features) is one token, cut
  // into pieces of kWordPieceCodePoints letters/digits when longer (the
  // later pieces have continues_word set); every character of a script
  // without spaces, every symbol (emoji, math, currency) and every
  // punctuation character is one token. Combining marks, variation
  // selectors, emoji modifiers, tag characters, the second regional indicator
  // of a flag, and a ZERO WIDTH JOINER with what follows it stay in the token
  // before them, so emoji sequences are not split. Whitespace, controls and other
  // separators belong to no token. Cutting before any token, continues_word
  // or not, gives pieces that tokenize into exactly their own tokens.
  static constexpr size_t kWordPieceCodePoints = 64;
  // What max_tokens() returns: the chunk window suggested for this encoder,
  // in TokenSpans units. Encode itself reads texts of any length.
  static constexpr size_t kWindowTokens = 256;

  // See TextEncoder::TokenSpans and kWordPieceCodePoints. InvalidArgument
  // ("invalid UTF-8 at byte N") for invalid UTF-8.
  Result<std::vector<TokenSpan>> TokenSpans(std::string_view text) const override;
  // kWindowTokens; no special tokens.
  size_t max_tokens() const override { return kWindowTokens; }

  const Options& options() const { return options_; }

 private:
  explicit HashingEncoder(const Options& options) : options_(options) {}

  const Options options_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_HASHING_ENCODER_H_
