#include "encoders/encoder.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <utf8proc.h>

#include "base/utf8.h"
#include "encoders/clip_encoder.h"
#include "encoders/hashing_encoder.h"
#include "encoders/static_encoder.h"
#include "encoders/transformer_encoder.h"

namespace flashembed::encoders {

Status TextEncoder::EncodeTokenIds(std::span<const std::vector<int32_t>>, std::span<float>) const {
  return Status::NotSupported("encoder " + spec() +
                              " takes texts only, not token ids (it has no vocabulary of its own "
                              "a caller could give ids of)");
}

Result<TextEncoder::Tokenization> TextEncoder::Tokenize(std::string_view, size_t) const {
  return Status::NotSupported("encoder " + spec() + " has no vocabulary to tokenize with");
}

Result<TextEncoder::Tokenization> TextEncoder::TokenizePair(std::string_view, std::string_view,
                                                            size_t) const {
  return Status::NotSupported("encoder " + spec() + " has no pair template");
}

Result<std::vector<TokenSpan>> TextEncoder::TokenSpans(std::string_view) const {
  return Status::NotSupported("encoder " + spec() + " cannot report token spans");
}

bool IsBlankText(std::string_view text) {
  for (size_t pos = 0; pos < text.size();) {
    const Utf8Char c = DecodeUtf8(text, pos);
    if (!c.ok()) return false;
    switch (utf8proc_category(static_cast<utf8proc_int32_t>(c.cp))) {
      case UTF8PROC_CATEGORY_ZS:
      case UTF8PROC_CATEGORY_ZL:
      case UTF8PROC_CATEGORY_ZP:
      case UTF8PROC_CATEGORY_CC:
      case UTF8PROC_CATEGORY_CF: break;
      default: return false;
    }
    pos += c.length;
  }
  return true;
}

size_t TextEncoder::max_tokens() const { return 0; }

size_t TextEncoder::special_tokens() const { return 0; }

bool TextEncoder::embeds_images() const { return false; }

Status TextEncoder::EncodeImages(std::span<const Image>, std::span<float>) const {
  return Status::NotSupported("encoder " + spec() +
                              " embeds texts only; images need a CLIP model (--model DIR)");
}

Result<std::unique_ptr<TextEncoder>> NewTextEncoder(std::string_view name, int dim) {
  if (name == "hash") {
    HashingEncoder::Options options;
    if (dim > 0) options.dim = dim;
    FE_ASSIGN_OR_RETURN(auto encoder, HashingEncoder::Create(options));
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name.substr(0, 6) == "model:" && ClipEncoder::IsClipFolder(std::string(name.substr(6)))) {
    FE_ASSIGN_OR_RETURN(auto encoder, ClipEncoder::Open(std::string(name.substr(6))));
    if (dim > 0 && dim != encoder->dim()) {
      return Status::InvalidArgument(
          fmt::format("dim {} differs from the model's {} ({})", dim, encoder->dim(), name));
    }
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name.substr(0, 6) == "model:" && StaticEncoder::IsStaticFolder(std::string(name.substr(6)))) {
    FE_ASSIGN_OR_RETURN(auto encoder, StaticEncoder::Open(std::string(name.substr(6))));
    if (dim > 0 && dim != encoder->dim()) {
      return Status::InvalidArgument(fmt::format(
          "dim {} differs from the model's {} ({}); a model2vec model is used at its own width",
          dim, encoder->dim(), name));
    }
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name.substr(0, 6) == "model:") {
    // A dim below the model's width truncates its vectors (Matryoshka).
    FE_ASSIGN_OR_RETURN(auto encoder, TransformerEncoder::Open(std::string(name.substr(6)), dim));
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name == "learned") {
    return Status::InvalidArgument(
        "the learned encoder is trained on a collection's own texts: create the collection with "
        "another encoder, add its texts, then re-embed it with encoder learned (flashembed "
        "reembed --encoder learned)");
  }
  return Status::InvalidArgument("unknown encoder name '" + std::string(name) +
                                 "' (known: hash, model:DIR)");
}

std::string EncoderNameFromSpec(std::string_view spec) {
  const size_t dir_at = spec.find(";dir=");
  if ((spec.starts_with("bert/") || spec.starts_with("xlmr/") || spec.starts_with("clip/") ||
       spec.starts_with("model2vec/")) &&
      dir_at != std::string_view::npos) {
    return "model:" + std::string(spec.substr(dir_at + 5));
  }
  return std::string(spec.substr(0, spec.find_first_of("/;")));
}

Result<std::unique_ptr<TextEncoder>> TextEncoderFromSpec(std::string_view spec) {
  // The encoder name is everything before the first '/' (or ';').
  const std::string_view name = spec.substr(0, spec.find_first_of("/;"));
  if (name == "hash") {
    FE_ASSIGN_OR_RETURN(auto encoder, HashingEncoder::FromSpec(spec));
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name == "bert" || name == "xlmr") {
    FE_ASSIGN_OR_RETURN(auto encoder, TransformerEncoder::FromSpec(spec));
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name == "clip") {
    FE_ASSIGN_OR_RETURN(auto encoder, ClipEncoder::FromSpec(spec));
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name == "model2vec") {
    FE_ASSIGN_OR_RETURN(auto encoder, StaticEncoder::FromSpec(spec));
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name == "learned") {
    // The spec names the trained model by fingerprint; the model itself is
    // bytes the caller stores and hands to LearnedEncoder::Load.
    return Status::NotSupported("encoder spec '" + std::string(spec) +
                                "': a learned encoder is loaded from its stored model "
                                "(LearnedEncoder::Load), not from its spec");
  }
  if (name.empty()) {
    return Status::InvalidArgument("malformed encoder spec '" + std::string(spec) +
                                   "': expected '<encoder>/<version>;key=value;...'");
  }
  return Status::NotSupported("encoder spec '" + std::string(spec) + "': unknown encoder '" +
                              std::string(name) +
                              "' (this build knows: hash, bert, xlmr, clip, model2vec)");
}

}  // namespace flashembed::encoders
