// ClipEncoder: a TextEncoder that also embeds images, over a local Hugging
// Face CLIP folder, so texts and pictures share one vector space:
//   texts:   CLIP's byte-level BPE (encoders/bpe_tokenizer.h), truncated to
//            max_position_embeddings tokens as transformers does, then the
//            text tower (encoders/clip_model.h);
//   images:  CLIPImageProcessor's preprocessing (encoders/image.h), then the
//            vision tower.
//
// A folder is either what CLIPModel.save_pretrained and
// CLIPProcessor.save_pretrained write (config.json with model_type "clip",
// model.safetensors, tokenizer.json, preprocessor_config.json), or the
// sentence-transformers CLIP layout: a modules.json whose first module is a
// sentence_transformers.models.CLIPModel, with those files in its folder
// (e.g. 0_CLIPModel/).
//
// Its spec names the folder and fingerprints it, as TransformerEncoder's does:
//   "clip/v1;id=<16 hex digits>;dim=512;dir=/abs/path/to/model"
// where id is Hash64 over config.json, tokenizer.json,
// preprocessor_config.json, model.safetensors and modules.json.
//
// Thread-safety: Encode and EncodeImages are const and safe to call from
// many threads.
#ifndef FLASHEMBED_ENCODERS_CLIP_ENCODER_H_
#define FLASHEMBED_ENCODERS_CLIP_ENCODER_H_

#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "encoders/encoder.h"

namespace flashembed::encoders {

class BpeTokenizer;
class ClipModel;
struct ImagePreprocessor;

class ClipEncoder final : public TextEncoder {
 public:
  // True if `dir` holds a CLIP folder of either layout (judged by its
  // config.json's model_type or its modules.json); ModelFolder-style errors
  // are left to Open.
  static bool IsClipFolder(const std::string& dir);

  // Loads the CLIP folder `dir`. NotFound naming a missing file;
  // InvalidArgument naming the file and field of anything unsupported or
  // inconsistent (a tokenizer larger than vocab_size, a preprocessor whose
  // output is not image_size square, a pytorch_model.bin without
  // model.safetensors).
  static Result<std::unique_ptr<ClipEncoder>> Open(const std::string& dir);
  // Re-creates the encoder of a "clip/v1;..." spec. InvalidArgument if the
  // folder changed since (naming both fingerprints).
  static Result<std::unique_ptr<ClipEncoder>> FromSpec(std::string_view spec);

  ~ClipEncoder() override;

  int dim() const override;
  std::string spec() const override;
  // Texts longer than max_tokens() are truncated (the last token stays
  // <|endoftext|>), as transformers' CLIPProcessor does with truncation.
  Status Encode(std::span<const std::string_view> texts, std::span<float> out) const override;
  // BPE tokens with <|startoftext|> and <|endoftext|>; max_tokens 0 = no limit.
  Result<Tokenization> Tokenize(std::string_view text, size_t max_tokens) const override;
  // A token continues the word of the one before it unless that one ends
  // with the end-of-word suffix "</w>".
  Result<std::vector<TokenSpan>> TokenSpans(std::string_view text) const override;
  // max_position_embeddings (77 for every released CLIP).
  size_t max_tokens() const override;
  size_t special_tokens() const override { return 2; }

  bool embeds_images() const override { return true; }
  // Preprocesses (in parallel) and embeds the images.
  Status EncodeImages(std::span<const Image> images, std::span<float> out) const override;

  // The folder that holds the model files (the module folder of a
  // sentence-transformers layout).
  const std::string& model_dir() const { return model_dir_; }

 private:
  ClipEncoder();

  std::string dir_, model_dir_;
  uint64_t fingerprint_ = 0;
  std::unique_ptr<BpeTokenizer> tokenizer_;
  std::unique_ptr<ImagePreprocessor> preprocessor_;
  std::unique_ptr<ClipModel> model_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_CLIP_ENCODER_H_
