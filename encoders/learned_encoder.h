// LearnedEncoder ("learned"): a TextEncoder made from a corpus (a
// collection's own text): static word vectors trained with fastText
// (skip-gram with negative sampling; Bojanowski et al. 2017, "Enriching Word
// Vectors with Subword Information") and the corpus' document frequencies.
//
// Text is read with the hashing encoder's rules (text_features.h): NFKC +
// case folding, words of scripts that use spaces, and every character of a
// script written without spaces (Han, kana, Thai, ...) a token of its own, so
// Chinese trains and encodes without a word segmenter; symbols are tokens
// too, punctuation only in a text that has nothing else.
//
// A row is [sqrt(1 - w) * semantic, sqrt(w) * lexical], w = lexical_weight,
// each part unit length (a part a text lacks is left out and the row is the
// other part alone):
//   * semantic (dim floats): the weighted average of the tokens' word
//     vectors, each token weighing its idf over the training texts (or SIF's
//     a / (a + p(w)); Arora et al. 2017, "A Simple but Tough-to-Beat
//     Baseline for Sentence Embeddings"), less its part along the corpus'
//     common direction (the count-weighted mean of all word vectors, which
//     SIF's first principal component lies along). A word outside the
//     vocabulary has the mean of its character n-gram vectors when the
//     model has n-grams, else none.
//   * lexical (lexical_dim floats): the hashing trick over the tokens (every
//     feature hashed to a bucket with a +-1 sign), each weighing
//     (1 + ln tf) * idf^(1/4); pairs of adjacent tokens (two words, or two
//     characters of a run without spaces) weigh pair_weight *
//     (1 + ln tf) * (idf(a) + idf(b))^(1/4), a token's character 3- to
//     5-grams lexical_char_weight times the token. So exact words and their
//     spellings keep their strength (as BM25's), and the word vectors add
//     what words are related; a word outside the vocabulary counts as one
//     in a single text.
// A text with no direction at all (no lexical part and no known token) gets
// the hashing encoder's vector at this dim. Rows are L2-normalised, so the
// dot product of two rows is their cosine.
//
// The trained model is bytes (Serialize / Load; layout in encoders/FORMAT.md)
// that the caller stores; the spec names their fingerprint:
//   "learned/v1;id=<16 hex digits>;dim=448"
// so a collection records which trained model made its vectors. The spec
// alone cannot re-create the encoder (TextEncoderFromSpec says so): Load the
// stored bytes.
//
// Determinism: with threads = 1 and a fixed seed, training the same texts
// with the same options gives the same bytes; with more threads fastText
// updates the vectors concurrently (Hogwild) and runs differ slightly. A
// given model encodes bit-identically after Serialize -> Load, on every
// thread and batch position.
//
// Measured (tools/bench/learned_encoder_bench, docs/BENCHMARKS.md) on 3,054
// English man pages (4.0M tokens; 2 threads on a 2-core machine shared with
// other builds): training with the default options (3 passes) took 126 s
// (105 CPU-seconds); the model has 23.7k words and is 6.6 MB; Encode reads
// about 2M tokens per second per thread. Documents found from their NAME
// line by their best chunk, vectors only, held-out test split: recall@10
// 0.81 and MRR@10 0.57 against the hashing encoder's 0.65 / 0.42 (1.24x);
// 723 Chinese pages (1.05M tokens, 10 passes, 72 s, 2.3 MB): 0.68 / 0.42
// against 0.69 / 0.42 (0.99x). So it beats the hashing encoder clearly in
// English but not in Chinese, and nowhere by issue 17's 1.3x.
//
// Thread-safety: Train and Load may run concurrently on different inputs.
// An encoder is immutable; Encode() is const and safe to call from many
// threads at once.
#ifndef FLASHEMBED_ENCODERS_LEARNED_ENCODER_H_
#define FLASHEMBED_ENCODERS_LEARNED_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "encoders/encoder.h"

namespace flashembed::encoders {

namespace internal {
struct LearnedModel;  // learned_encoder.cc
}  // namespace internal

// Options. Every field except `threads` and `temp_dir` is stored in the
// model (LearnedEncoder::options() after Load). The training fields (dim to
// temp_dir) cannot change a trained model; the encoding fields (sif_a to the
// end) can, through LearnedEncoder::Reconfigured.
struct LearnedOptions {
  // --- Training ---
  // Word vector dimension: the semantic part of each row. [8, 1024].
  // Default 64 (128 trains about twice as long; man pages, English, 3
  // passes: dev recall@10 0.812 against 0.807).
  int dim = 64;
  // Passes over the corpus; 0 = automatic: kAutoEpochTokens / tokens
  // rounded, at least 1 and at most kMaxAutoEpochs, so small corpora get more
  // passes and training costs about the same up to a few million tokens
  // (measured: 4.0M tokens, 3 passes, 105 CPU-seconds; about a minute on two
  // idle cores); beyond kAutoEpochTokens, time grows with the corpus. More
  // passes learn better vectors (1 pass: dev recall@10 0.781, 3: 0.812, at
  // dim 128). [0, 100]. Stored resolved.
  int epochs = 0;
  // A word is in the vocabulary when it occurs at least this often; rarer
  // words have no word vector of their own (see char_ngram_min). [1, 1000].
  // Default 3.
  int min_count = 3;
  // Character n-gram lengths in code points, over each word padded with
  // fastText's "<" and ">", for fastText's subword vectors. 1 <=
  // char_ngram_min <= char_ngram_max <= 8, or both 0 for none (then words
  // outside the vocabulary have no word vector). Default none: n-grams make
  // each pass 2-3 times slower, and in equal time more passes without them
  // learned better vectors; the lexical part has its own n-grams for
  // spelling (lexical_char_weight).
  int char_ngram_min = 0;
  int char_ngram_max = 0;
  // Hash buckets for character n-grams. [1000, 10'000'000]. Default 200'000
  // (fastText's is 2'000'000). Training holds buckets x dim floats; the
  // model stores only the buckets some vocabulary word uses, so its size
  // follows the vocabulary, not this number. Fewer buckets would merge more
  // unrelated n-grams: of 67k n-grams of 3k man pages about a quarter share
  // a bucket at 200k buckets, 49% at 100k.
  int buckets = 200'000;
  // Largest distance between a word and a context word. [1, 20]. Default 5.
  int window = 5;
  // Negative samples per context word. [1, 50]. Default 5.
  int negatives = 5;
  // Initial learning rate, decaying linearly to 0. (0, 1]. Default 0.1
  // (fastText's is 0.05): with the few passes a large corpus gets, 0.1
  // learned measurably better vectors.
  double learning_rate = 0.1;
  // Frequent-word subsampling threshold t: a word of frequency f is skipped
  // with probability 1 - sqrt(t/f) - t/f. (0, 1]. Default 1e-4 (1e-5 halves
  // the training time but learned far worse vectors in as many passes).
  double subsample = 1e-4;
  // Training threads; 0 = hardware threads. [0, 256]. Only threads = 1 is
  // deterministic. Not stored.
  int threads = 0;
  // Seed of fastText's random numbers. Default 1.
  int seed = 1;
  // Folder for the temporary corpus file fastText reads (removed before
  // Train returns); "" = the system's temporary folder ($TMPDIR or /tmp).
  // It needs about the size of the training text. Not stored.
  std::string temp_dir;

  // --- Encoding (see the file comment) ---
  // How the semantic part weighs a token: kSif = a / (a + p(w)), p(w) the
  // word's frequency in the training texts; kIdf = its idf (as the lexical
  // part, without its square root). Default kIdf (measured: +7% recall@10
  // on the semantic part alone).
  enum class Weighting { kSif = 0, kIdf = 1 };
  Weighting semantic_weighting = Weighting::kIdf;
  // SIF smoothing a. (0, 1]. Default 1e-3.
  double sif_a = 1e-3;
  // Remove the corpus' common direction from the semantic part. Default true.
  bool remove_common = true;
  // Buckets of the lexical part (hashed, idf-weighted features); 0 = none
  // (rows are the semantic part alone). [0, 16384]. Default 384, as the
  // hashing encoder's dim; more buckets mean fewer collisions (1024: +1.5%
  // recall@10 in English, +5% in Chinese) at a larger vector.
  int lexical_dim = 384;
  // The lexical part's share of a row's squared length: rows are
  // [sqrt(1 - w) * semantic, sqrt(w) * lexical], both parts unit length.
  // [0, 1]. Default 0.7. Ignored without a lexical part.
  double lexical_weight = 0.7;
  // Weight of pairs of adjacent tokens in the lexical part, relative to
  // single tokens (Chinese words are pairs of characters): two words, or two
  // characters of one run of a script without spaces. [0, 1]. 0 = no pairs.
  // Default 1.
  double pair_weight = 1;
  // Weight of a token's character n-grams (3 to 5 code points, as the
  // hashing encoder's) in the lexical part, relative to the token, so
  // "directory" and "directories" share most features. [0, 1]. 0 = none.
  // Default 0.5.
  double lexical_char_weight = 0.5;

  // OK, or InvalidArgument naming the first field out of range.
  Status Validate() const;
};

// Progress of LearnedEncoder::Train.
struct LearnedProgress {
  enum class Stage {
    kReading,    // writing the corpus file: texts / tokens so far
    kTraining,   // fastText: fraction of the training done
    kFinishing,  // word vectors and weights from the trained model: 0, then 1
  };
  Stage stage = Stage::kReading;
  double fraction = 0;  // of the stage, in [0, 1]; reading: 0, then 1 at its end
  uint64_t texts = 0;   // texts read so far; from training on, those with a token
  uint64_t tokens = 0;  // tokens read so far (0 while finishing)
};
// Called from the thread that runs Train while reading and finishing and
// from fastText's training threads while training, never concurrently;
// `fraction` never decreases within a stage. Must not throw.
using LearnedProgressFn = std::function<void(const LearnedProgress&)>;

// Gives every training text to `visit` once, in any order, and returns OK,
// the first error of `visit` (then it stops), or its own error.
using TextSource = std::function<Status(const std::function<Status(std::string_view)>& visit)>;

class LearnedEncoder final : public TextEncoder {
 public:
  static constexpr int kFormatVersion = 1;
  // The least training text: tokens (after cutting) and distinct words that
  // reach min_count. Less gives InvalidArgument ("not enough text to train").
  static constexpr uint64_t kMinTrainingTokens = 1000;
  static constexpr uint64_t kMinVocabulary = 20;
  // Automatic epochs: about this many tokens of training in all.
  static constexpr uint64_t kAutoEpochTokens = 12'000'000;
  static constexpr int kMaxAutoEpochs = 10;

  // Trains an encoder on every text of `source`. Errors: InvalidArgument for
  // invalid options, a text that is not valid UTF-8 (naming its position)
  // or not enough text ("not enough text to train: ..."); IOError when the
  // temporary file cannot be written; ResourceExhausted when memory runs
  // out; Internal for any other failure of fastText (its message). Blank
  // texts are skipped.
  static Result<std::unique_ptr<LearnedEncoder>> Train(const TextSource& source,
                                                       const LearnedOptions& options,
                                                       const LearnedProgressFn& progress = {});
  static Result<std::unique_ptr<LearnedEncoder>> Train(std::span<const std::string_view> texts,
                                                       const LearnedOptions& options,
                                                       const LearnedProgressFn& progress = {});

  // Re-creates an encoder from Serialize()'s bytes. Corruption for bytes
  // that are not a complete, intact model of a known format (wrong magic,
  // truncated, checksum mismatch, inconsistent fields); NotSupported for a
  // newer format version.
  static Result<std::unique_ptr<LearnedEncoder>> Load(std::string_view bytes);

  ~LearnedEncoder() override;
  LearnedEncoder(const LearnedEncoder&) = delete;
  LearnedEncoder& operator=(const LearnedEncoder&) = delete;

  // The model's bytes (encoders/FORMAT.md); Load(Serialize()) encodes
  // bit-identically. Equal for equal models.
  std::string Serialize() const;

  // This trained model with the encoding fields of `options` (sif_a and
  // those after it; the training fields are this model's, whatever
  // `options` says): a different encoder, with its own spec, made without
  // training again (for choosing those fields, e.g. by
  // tools/bench/learned_encoder_bench). InvalidArgument for invalid options.
  Result<std::unique_ptr<LearnedEncoder>> Reconfigured(const LearnedOptions& options) const;

  // options().dim + options().lexical_dim.
  int dim() const override;
  // "learned/v1;id=<16 hex digits of fingerprint()>;dim=<dim>".
  std::string spec() const override;
  // See TextEncoder::Encode. Also InvalidArgument if out.size() is not
  // texts.size() * dim(), and for a blank text (no token: only whitespace,
  // control, unassigned or private-use characters), naming the text index
  // ("text 3: ..."). A text none of whose tokens the model knows (only
  // punctuation, or unknown words sharing no trained n-gram) gets the
  // hashing encoder's vector at this dim, so every other text has a
  // direction.
  Status Encode(std::span<const std::string_view> texts, std::span<float> out) const override;
  // The hashing encoder's units (WordTokenSpans).
  Result<std::vector<TokenSpan>> TokenSpans(std::string_view text) const override;
  // The chunk window suggested, in TokenSpans units, as for the hashing
  // encoder; Encode reads texts of any length.
  size_t max_tokens() const override;

  // Hash64 of Serialize()'s bytes.
  uint64_t fingerprint() const;
  // The options the model was trained with (threads and temp_dir as default).
  const LearnedOptions& options() const;
  // Words in the vocabulary (fastText's end-of-line token included), the
  // training texts that had a token, and the tokens as fastText counts them
  // (one end-of-line per text included).
  size_t vocabulary_size() const;
  uint64_t training_texts() const;
  uint64_t training_tokens() const;

  // The tokens Encode and Train see in `text`, in order (normalised words,
  // characters of scripts without spaces, symbols; punctuation only when
  // there is nothing else). InvalidArgument for invalid UTF-8.
  static Result<std::vector<std::string>> Tokens(std::string_view text);

 private:
  explicit LearnedEncoder(std::unique_ptr<internal::LearnedModel> model);

  std::unique_ptr<internal::LearnedModel> model_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_LEARNED_ENCODER_H_
