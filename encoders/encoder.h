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

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

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
  // Returns InvalidArgument naming the index of a text that is empty or has
  // nothing to encode (only whitespace / control characters) or is not valid
  // UTF-8; `out` is unspecified on error.
  virtual Status Encode(std::span<const std::string_view> texts, std::span<float> out) const = 0;

  struct Tokenization {
    std::vector<int32_t> ids;
    std::vector<std::string> tokens;
  };
  // The model tokens of `text` (with special tokens); `max_tokens` > 0
  // truncates. NotSupported for encoders without a vocabulary.
  virtual Result<Tokenization> Tokenize(std::string_view text, size_t max_tokens) const;
};

// Creates an encoder by name. Known names: "hash" (HashingEncoder) and
// "model:DIR" (TransformerEncoder over the Hugging Face model folder DIR).
// `dim` <= 0 picks the encoder's default dimension. InvalidArgument for an
// unknown name or a dimension the encoder cannot produce; the model folder's
// own errors for "model:DIR".
Result<std::unique_ptr<TextEncoder>> NewTextEncoder(std::string_view name, int dim);

// The name NewTextEncoder would take to make the encoder of `spec`: "hash"
// or "model:DIR"; "" for an empty spec.
std::string EncoderNameFromSpec(std::string_view spec);

// Re-creates the encoder described by `spec` (as returned by spec()). Returns
// NotSupported, naming the spec, when this build does not know that encoder or
// version.
Result<std::unique_ptr<TextEncoder>> TextEncoderFromSpec(std::string_view spec);

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_ENCODER_H_
