// TextEncoder: turns texts into fixed-size float vectors, in process.
//
// Encoders are identified by a spec string that names the algorithm, its
// version and every parameter that changes its output (for example
// "hash/v1;dim=384;..."). The database stores the spec with a collection and
// refuses to reopen the collection with an encoder whose spec differs, so
// vectors never silently change meaning.
//
// Thread-safety: Encode() is const and safe to call from many threads at once.
#ifndef FLASHEMBED_ENCODERS_ENCODER_H_
#define FLASHEMBED_ENCODERS_ENCODER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

struct Image;  // encoders/image.h

// Where one model token lies in a text: the bytes [begin, end). A token made
// from a character the tokenizer normalised covers that whole original
// character, so both ends always fall between UTF-8 sequences.
struct TokenSpan {
  size_t begin = 0;
  size_t end = 0;
  // True when the token continues the word of the token before it (a
  // WordPiece "##" piece, or the next piece of an over-long word): the text
  // between them is no word boundary, and a text that starts with this token
  // may tokenize differently from how it did inside the longer text.
  bool continues_word = false;

  friend bool operator==(const TokenSpan&, const TokenSpan&) = default;
};

class TextEncoder {
 public:
  virtual ~TextEncoder() = default;

  // Output dimension of every vector.
  virtual int dim() const = 0;

  // Stable identity: algorithm, version and all output-changing parameters.
  // Two encoders with equal specs produce identical vectors.
  virtual std::string spec() const = 0;

  // Encodes texts[i] into out[i*dim() .. (i+1)*dim()) (row-major n x dim).
  // REQUIRES: out.size() == texts.size() * dim().
  // Returns InvalidArgument naming the index of a text that is not valid
  // UTF-8; `out` is unspecified on error. A text with nothing to encode
  // (empty, only whitespace / control characters) is embedded as the model's
  // reference does it where there is one (TransformerEncoder: [CLS] [SEP],
  // as sentence-transformers and Hugging Face do); the HashingEncoder, which
  // would have no feature to hash, refuses it with InvalidArgument naming it.
  // The database refuses such texts as documents and queries (IsBlankText).
  virtual Status Encode(std::span<const std::string_view> texts, std::span<float> out) const = 0;

  // Embeds sequences of the model's own token ids (ids of its vocabulary,
  // without special tokens: the encoder adds them and truncates to
  // max_tokens() as it does a text's tokens) into out[i*dim() ..
  // (i+1)*dim()). REQUIRES: out.size() == ids.size() * dim(). InvalidArgument
  // naming the sequence and position of an id outside the vocabulary. The
  // default returns NotSupported (encoders without a vocabulary, CLIP).
  virtual Status EncodeTokenIds(std::span<const std::vector<int32_t>> ids,
                                std::span<float> out) const;

  struct Tokenization {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
    std::vector<int32_t> type_ids;  // TokenizePair only
  };
  // The model tokens of `text` (with special tokens); `max_tokens` > 0
  // truncates. NotSupported for encoders without a vocabulary.
  virtual Result<Tokenization> Tokenize(std::string_view text, size_t max_tokens) const;
  // A pair through the tokenizer's pair template, truncated longest_first
  // (max_tokens 0: no limit), with token type ids. NotSupported by default.
  virtual Result<Tokenization> TokenizePair(std::string_view first, std::string_view second,
                                            size_t max_tokens) const;

  // The byte range of every model token of `text`, in order, without special
  // tokens and without truncation (see TokenSpan). Spans are non-empty, lie
  // inside `text`, and their begins and ends never decrease; a span overlaps
  // the one before it only when both come from one character (WordPiece
  // splitting an NFD-decomposed Hangul syllable into jamo), and then has
  // continues_word set. They hold no leading or trailing whitespace except
  // where a tokenizer rule makes a token swallow it (HF added tokens with
  // lstrip / rstrip). Cutting `text` just before a token whose continues_word
  // is false leaves each side tokenizing into exactly its own tokens.
  // InvalidArgument naming the byte offset for invalid UTF-8. The default
  // returns NotSupported.
  virtual Result<std::vector<TokenSpan>> TokenSpans(std::string_view text) const;

  // The longest token sequence, special tokens included, that Encode reads in
  // full; it truncates longer texts. An encoder without a limit returns the
  // window it suggests for chunking (HashingEncoder: 256 of its words) and
  // reads texts of any length. The default returns 0: unknown.
  virtual size_t max_tokens() const;

  // How many special tokens the encoder adds to every sequence ([CLS] and
  // [SEP] for BERT: 2). The default returns 0.
  virtual size_t special_tokens() const;

  // True for encoders that embed images into the same space as texts
  // (ClipEncoder). The default returns false.
  virtual bool embeds_images() const;

  // Embeds decoded images (encoders/image.h) into out[i*dim() ..
  // (i+1)*dim()). REQUIRES out.size() == images.size() * dim(). The default
  // returns NotSupported.
  virtual Status EncodeImages(std::span<const Image> images, std::span<float> out) const;
};

// True when `text` holds no character but whitespace (Unicode Zs/Zl/Zp),
// controls (Cc) and format characters (Cf, e.g. zero-width spaces): nothing a
// tokenizer keeps. False for invalid UTF-8 (the encoder names that error).
bool IsBlankText(std::string_view text);

// Creates an encoder by name. Known names: "hash" (HashingEncoder) and
// "model:DIR" (over the Hugging Face model folder DIR: ClipEncoder for a CLIP
// folder (ClipEncoder::IsClipFolder), StaticEncoder for a model2vec folder
// (StaticEncoder::IsStaticFolder), TransformerEncoder otherwise).
// `dim` <= 0 picks the encoder's default dimension; for a transformer text
// model a `dim` below the model's width keeps the first `dim` dimensions
// (Matryoshka truncation, re-normalised when the model normalises).
// InvalidArgument for an unknown name or a dimension the encoder cannot
// produce; the model folder's own errors for "model:DIR".
Result<std::unique_ptr<TextEncoder>> NewTextEncoder(std::string_view name, int dim);

// The name NewTextEncoder would take to make the encoder of `spec`: "hash"
// or "model:DIR"; "" for an empty spec.
std::string EncoderNameFromSpec(std::string_view spec);

// Re-creates the encoder described by `spec` (as returned by spec()). Returns
// NotSupported, naming the spec, when this build does not know that encoder or
// version, and for "learned/..." specs, whose model is bytes stored apart
// (LearnedEncoder::Load).
Result<std::unique_ptr<TextEncoder>> TextEncoderFromSpec(std::string_view spec);

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_ENCODER_H_
