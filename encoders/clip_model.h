// ClipModel: the forward pass of a CLIP model (openai/clip-vit-*, LAION's
// CLIP-ViT-*, sentence-transformers' clip-ViT-*) on CPU, from a Hugging Face
// CLIPModel folder's config.json and model.safetensors. Texts and images go
// into one vector space: both towers end in a projection to projection_dim.
//
// Mirrors transformers' CLIPModel.get_text_features / get_image_features:
//   text:    x = token_embedding[id] + position_embedding[i]
//            pre-LayerNorm encoder layers with a causal mask
//            final_layer_norm; the row of the end-of-text token (the first
//            eos_token_id, or the largest id for the configs that say
//            eos_token_id 2, as transformers does); text_projection
//   vision:  patches of patch_size^2 pixels (one matrix product over all
//            patches: the convolution's stride equals its size), class
//            embedding first, + position_embedding, pre_layrnorm, the
//            encoder layers (no mask), post_layernorm of the class token;
//            visual_projection
//   layer:   x = x + out_proj(Attention(LayerNorm1(x)))
//            x = x + fc2(act(fc1(LayerNorm2(x))))
// with act as hidden_act says (quick_gelu: x * sigmoid(1.702 x); gelu).
// Vectors are returned as the projections give them (not normalised), as
// get_*_features does; cosine similarity compares them.
//
// The products, attention and threads are the BERT path's (encoders/linear.h);
// sequences are packed without padding, as in BertModel.
//
// Thread-safety: immutable after Load; the Encode* methods are const and may
// run from several threads at once.
#ifndef FLASHEMBED_ENCODERS_CLIP_MODEL_H_
#define FLASHEMBED_ENCODERS_CLIP_MODEL_H_

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

// One tower's shape (text_config or vision_config). Missing fields take
// transformers' CLIPTextConfig / CLIPVisionConfig defaults.
struct ClipTowerConfig {
  int hidden_size = 0;
  int intermediate_size = 0;
  int num_hidden_layers = 0;
  int num_attention_heads = 0;
  double layer_norm_eps = 1e-5;
  bool quick_gelu = true;  // hidden_act "quick_gelu"; false: "gelu" (exact erf form)
};

struct ClipConfig {
  ClipTowerConfig text, vision;
  int projection_dim = 512;
  // text_config
  int vocab_size = 49408;
  int max_position_embeddings = 77;
  int eos_token_id = 49407;
  // vision_config
  int image_size = 224;
  int patch_size = 32;
  int num_channels = 3;

  int patches_per_side() const { return image_size / patch_size; }
  // Class token + patches.
  int vision_tokens() const { return patches_per_side() * patches_per_side() + 1; }

  // Reads a CLIPModel config.json. InvalidArgument naming the file and field
  // for a missing or malformed field, another model_type, an activation other
  // than quick_gelu / gelu, or sizes that do not fit together (hidden sizes
  // not divisible by the head counts, image_size not divisible by patch_size).
  static Result<ClipConfig> FromFile(const std::string& path);
};

class ClipModel {
 public:
  // Reads every tensor both towers need from `weights_path` (safetensors;
  // F32, F16 or BF16; names as CLIPModel saves them, other tensors such as
  // the integer position_ids buffers and logit_scale ignored) and checks its
  // shape against `config`. InvalidArgument naming the file and tensor for a
  // missing tensor, a wrong shape or a non-finite value.
  static Result<std::unique_ptr<ClipModel>> Load(const ClipConfig& config,
                                                 const std::string& weights_path);

  ~ClipModel();
  ClipModel(const ClipModel&) = delete;
  ClipModel& operator=(const ClipModel&) = delete;

  const ClipConfig& config() const { return config_; }
  // Output dimension of both towers (projection_dim).
  int dim() const { return config_.projection_dim; }

  // Embeds each sequence of token ids (already with <|startoftext|> and
  // <|endoftext|>) into out[i*dim() .. (i+1)*dim()). InvalidArgument for an
  // empty sequence, one longer than max_position_embeddings, or an id outside
  // the vocabulary (naming the sequence). REQUIRES out.size() == batch.size() * dim().
  Status EncodeText(std::span<const std::vector<int32_t>> batch, std::span<float> out) const;

  // Embeds `count` images given as pixel_values: count x num_channels x
  // image_size x image_size floats, channel-major, already preprocessed
  // (encoders/image.h). InvalidArgument when the spans' sizes do not match.
  Status EncodeImages(std::span<const float> pixels, int count, std::span<float> out) const;

 private:
  struct Tower;
  struct Weights;
  ClipModel(const ClipConfig& config, std::unique_ptr<Weights> weights);

  ClipConfig config_;
  std::unique_ptr<Weights> w_;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_CLIP_MODEL_H_
