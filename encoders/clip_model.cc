#include "encoders/clip_model.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "encoders/linear.h"
#include "encoders/safetensors.h"

namespace flashembed::encoders {
namespace {

using nlohmann::json;

// Below this many floats of activations a loop runs on the calling thread.
constexpr int64_t kParallelFloats = 1 << 16;

// Reads an integer field in [min, max] of `j` (the object `where` names);
// an absent field keeps *out.
Status ReadInt(const json& j, const std::string& where, const char* key, int min, int max,
               int* out) {
  if (!j.contains(key) || j[key].is_null()) return Status::OK();
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
    return Status::InvalidArgument(fmt::format("{}: \"{}\" must be an integer in {}..{}, got {}",
                                               where, key, min, max, v.dump()));
  }
  *out = v.get<int>();
  return Status::OK();
}

// Reads a tower's shape from `j` over the defaults in *c.
Status ReadTower(const json& j, const std::string& where, ClipTowerConfig* c) {
  FE_RETURN_IF_ERROR(ReadInt(j, where, "hidden_size", 1, 65536, &c->hidden_size));
  FE_RETURN_IF_ERROR(ReadInt(j, where, "intermediate_size", 1, 1 << 20, &c->intermediate_size));
  FE_RETURN_IF_ERROR(ReadInt(j, where, "num_hidden_layers", 1, 1000, &c->num_hidden_layers));
  FE_RETURN_IF_ERROR(ReadInt(j, where, "num_attention_heads", 1, 1024, &c->num_attention_heads));
  if (c->hidden_size % c->num_attention_heads != 0) {
    return Status::InvalidArgument(
        fmt::format("{}: hidden_size {} is not a multiple of num_attention_heads {}", where,
                    c->hidden_size, c->num_attention_heads));
  }
  if (j.contains("layer_norm_eps")) {
    const json& eps = j["layer_norm_eps"];
    if (!eps.is_number() || eps.get<double>() <= 0 || eps.get<double>() > 1) {
      return Status::InvalidArgument(
          where + ": \"layer_norm_eps\" must be a number in (0, 1], got " + eps.dump());
    }
    c->layer_norm_eps = eps.get<double>();
  }
  if (j.contains("hidden_act")) {
    const json& act = j["hidden_act"];
    const std::string name = act.is_string() ? act.get<std::string>() : act.dump();
    if (name == "quick_gelu") {
      c->quick_gelu = true;
    } else if (name == "gelu") {
      c->quick_gelu = false;
    } else {
      return Status::InvalidArgument(where + ": hidden_act " + name +
                                     " is not supported (quick_gelu, gelu)");
    }
  }
  return Status::OK();
}

}  // namespace

Result<ClipConfig> ClipConfig::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": no such file");
  std::stringstream buffer;
  buffer << in.rdbuf();
  const json j = json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(path + ": not a JSON object");
  }
  if (!j.contains("model_type") || j["model_type"] != "clip") {
    return Status::InvalidArgument(
        path + ": model_type " + (j.contains("model_type") ? j["model_type"].dump() : "(absent)") +
        " is not \"clip\" (a CLIPModel folder's config.json is expected)");
  }
  for (const char* key : {"text_config", "vision_config"}) {
    if (!j.contains(key) || !j[key].is_object()) {
      return Status::InvalidArgument(path + ": missing object \"" + key + "\"");
    }
  }
  ClipConfig c;
  // transformers' defaults for what a saved config may leave out.
  c.text = {512, 2048, 12, 8, 1e-5, true};
  c.vision = {768, 3072, 12, 12, 1e-5, true};
  const json& text = j["text_config"];
  const json& vision = j["vision_config"];
  FE_RETURN_IF_ERROR(ReadInt(j, path, "projection_dim", 1, 65536, &c.projection_dim));
  FE_RETURN_IF_ERROR(ReadTower(text, path + " text_config", &c.text));
  FE_RETURN_IF_ERROR(ReadTower(vision, path + " vision_config", &c.vision));
  const std::string t = path + " text_config", v = path + " vision_config";
  FE_RETURN_IF_ERROR(ReadInt(text, t, "vocab_size", 1, 10'000'000, &c.vocab_size));
  FE_RETURN_IF_ERROR(
      ReadInt(text, t, "max_position_embeddings", 2, 1 << 20, &c.max_position_embeddings));
  FE_RETURN_IF_ERROR(ReadInt(text, t, "eos_token_id", 0, c.vocab_size - 1, &c.eos_token_id));
  FE_RETURN_IF_ERROR(ReadInt(vision, v, "image_size", 1, 1 << 14, &c.image_size));
  FE_RETURN_IF_ERROR(ReadInt(vision, v, "patch_size", 1, 1 << 14, &c.patch_size));
  FE_RETURN_IF_ERROR(ReadInt(vision, v, "num_channels", 1, 4, &c.num_channels));
  if (c.image_size % c.patch_size != 0) {
    return Status::InvalidArgument(fmt::format(
        "{}: image_size {} is not a multiple of patch_size {}", v, c.image_size, c.patch_size));
  }
  return c;
}

// The weights of one encoder layer (CLIPEncoderLayer).
struct ClipModel::Tower {
  struct Layer {
    std::unique_ptr<Linear> qkv, out_proj, fc1, fc2;  // q, k, v stacked in one product
    std::vector<float> ln1_w, ln1_b, ln2_w, ln2_b;
  };
  ClipTowerConfig config;
  std::vector<Layer> layers;

  // Runs every layer over the packed rows of x (sequence s in rows
  // [start[s], start[s+1])).
  Status Run(std::vector<float>& x, const std::vector<int>& start, bool causal) const;
};

struct ClipModel::Weights {
  Tower text, vision;
  std::vector<float> token_embedding, text_position, final_ln_w, final_ln_b;
  std::vector<float> class_embedding, vision_position, pre_ln_w, pre_ln_b, post_ln_w, post_ln_b;
  std::unique_ptr<Linear> patch, text_projection, visual_projection;
};

ClipModel::ClipModel(const ClipConfig& config, std::unique_ptr<Weights> weights)
    : config_(config), w_(std::move(weights)) {}
ClipModel::~ClipModel() = default;

Result<std::unique_ptr<ClipModel>> ClipModel::Load(const ClipConfig& config,
                                                   const std::string& weights_path) {
  FE_ASSIGN_OR_RETURN(auto file, SafeTensorsFile::Open(weights_path));
  auto read = [&](const std::string& name, std::vector<int64_t> shape,
                  std::vector<float>* out) -> Status {
    auto v = file->ReadFloat32(name, shape);
    if (!v.ok()) {
      if (v.status().IsNotFound()) {
        return Status::InvalidArgument(weights_path + ": missing tensor \"" + name + "\"");
      }
      return v.status();
    }
    *out = std::move(v).value();
    for (float x : *out) {
      if (!std::isfinite(x)) {
        return Status::InvalidArgument(weights_path + ": tensor \"" + name +
                                       "\" holds a NaN or infinite value");
      }
    }
    return Status::OK();
  };
  // A linear layer from "<name>.weight" [n x k] and "<name>.bias" (zeros when
  // the layer has none).
  auto linear = [&](const std::string& name, int64_t n, int64_t k, bool bias, LinearAct act,
                    std::unique_ptr<Linear>* out) -> Status {
    std::vector<float> w, b(n, 0.0f);
    FE_RETURN_IF_ERROR(read(name + ".weight", {n, k}, &w));
    if (bias) FE_RETURN_IF_ERROR(read(name + ".bias", {n}, &b));
    FE_ASSIGN_OR_RETURN(*out, Linear::Create(w, b, n, k, act));
    return Status::OK();
  };
  auto tower = [&](const std::string& prefix, const ClipTowerConfig& c, Tower* t) -> Status {
    const int64_t h = c.hidden_size, inter = c.intermediate_size;
    t->config = c;
    t->layers.resize(c.num_hidden_layers);
    for (int i = 0; i < c.num_hidden_layers; ++i) {
      const std::string p = fmt::format("{}encoder.layers.{}.", prefix, i);
      Tower::Layer& l = t->layers[i];
      std::vector<float> qkv_w, qkv_b, part;
      for (const char* m : {"q_proj", "k_proj", "v_proj"}) {
        FE_RETURN_IF_ERROR(read(p + "self_attn." + m + ".weight", {h, h}, &part));
        qkv_w.insert(qkv_w.end(), part.begin(), part.end());
        FE_RETURN_IF_ERROR(read(p + "self_attn." + m + ".bias", {h}, &part));
        qkv_b.insert(qkv_b.end(), part.begin(), part.end());
      }
      FE_ASSIGN_OR_RETURN(l.qkv, Linear::Create(qkv_w, qkv_b, 3 * h, h, LinearAct::kNone));
      FE_RETURN_IF_ERROR(
          linear(p + "self_attn.out_proj", h, h, true, LinearAct::kNone, &l.out_proj));
      FE_RETURN_IF_ERROR(read(p + "layer_norm1.weight", {h}, &l.ln1_w));
      FE_RETURN_IF_ERROR(read(p + "layer_norm1.bias", {h}, &l.ln1_b));
      FE_RETURN_IF_ERROR(linear(p + "mlp.fc1", inter, h, true,
                                c.quick_gelu ? LinearAct::kQuickGelu : LinearAct::kGelu, &l.fc1));
      FE_RETURN_IF_ERROR(linear(p + "mlp.fc2", h, inter, true, LinearAct::kNone, &l.fc2));
      FE_RETURN_IF_ERROR(read(p + "layer_norm2.weight", {h}, &l.ln2_w));
      FE_RETURN_IF_ERROR(read(p + "layer_norm2.bias", {h}, &l.ln2_b));
    }
    return Status::OK();
  };

  const ClipConfig& c = config;
  auto w = std::make_unique<Weights>();
  const int64_t th = c.text.hidden_size, vh = c.vision.hidden_size, p = c.patch_size;
  // Text tower (CLIPTextTransformer).
  FE_RETURN_IF_ERROR(read("text_model.embeddings.token_embedding.weight", {c.vocab_size, th},
                          &w->token_embedding));
  FE_RETURN_IF_ERROR(read("text_model.embeddings.position_embedding.weight",
                          {c.max_position_embeddings, th}, &w->text_position));
  FE_RETURN_IF_ERROR(tower("text_model.", c.text, &w->text));
  FE_RETURN_IF_ERROR(read("text_model.final_layer_norm.weight", {th}, &w->final_ln_w));
  FE_RETURN_IF_ERROR(read("text_model.final_layer_norm.bias", {th}, &w->final_ln_b));
  FE_RETURN_IF_ERROR(linear("text_projection", c.projection_dim, th, false, LinearAct::kNone,
                            &w->text_projection));
  // Vision tower (CLIPVisionTransformer). The patch convolution's weight
  // [hidden, channels, p, p] is the matrix of a product over flattened
  // patches laid out (channel, row, column).
  std::vector<float> patch;
  FE_RETURN_IF_ERROR(
      read("vision_model.embeddings.patch_embedding.weight", {vh, c.num_channels, p, p}, &patch));
  FE_ASSIGN_OR_RETURN(w->patch, Linear::Create(patch, std::vector<float>(vh, 0.0f), vh,
                                               c.num_channels * p * p, LinearAct::kNone));
  FE_RETURN_IF_ERROR(read("vision_model.embeddings.class_embedding", {vh}, &w->class_embedding));
  FE_RETURN_IF_ERROR(read("vision_model.embeddings.position_embedding.weight",
                          {c.vision_tokens(), vh}, &w->vision_position));
  FE_RETURN_IF_ERROR(read("vision_model.pre_layrnorm.weight", {vh}, &w->pre_ln_w));
  FE_RETURN_IF_ERROR(read("vision_model.pre_layrnorm.bias", {vh}, &w->pre_ln_b));
  FE_RETURN_IF_ERROR(tower("vision_model.", c.vision, &w->vision));
  FE_RETURN_IF_ERROR(read("vision_model.post_layernorm.weight", {vh}, &w->post_ln_w));
  FE_RETURN_IF_ERROR(read("vision_model.post_layernorm.bias", {vh}, &w->post_ln_b));
  FE_RETURN_IF_ERROR(linear("visual_projection", c.projection_dim, vh, false, LinearAct::kNone,
                            &w->visual_projection));
  return std::unique_ptr<ClipModel>(new ClipModel(config, std::move(w)));
}

Status ClipModel::Tower::Run(std::vector<float>& x, const std::vector<int>& start,
                             bool causal) const {
  const int h = config.hidden_size, heads = config.num_attention_heads;
  const int sequences = static_cast<int>(start.size()) - 1, tokens = start.back();
  int longest = 0;
  for (int s = 0; s < sequences; ++s) longest = std::max(longest, start[s + 1] - start[s]);
  const bool parallel = int64_t{tokens} * h >= kParallelFloats;
  const float scale = 1.0f / std::sqrt(static_cast<float>(h / heads));
  std::vector<float> normed(static_cast<size_t>(tokens) * h);
  std::vector<float> qkv(static_cast<size_t>(tokens) * 3 * h);
  std::vector<float> ctx(static_cast<size_t>(tokens) * h);
  std::vector<float> inter(static_cast<size_t>(tokens) * config.intermediate_size);
  for (const Layer& l : layers) {
    // x = x + out_proj(Attention(LayerNorm1(x)))
    LayerNormRows(x.data(), nullptr, tokens, h, l.ln1_w.data(), l.ln1_b.data(),
                  config.layer_norm_eps, normed.data());
    FE_RETURN_IF_ERROR(l.qkv->Apply(normed.data(), tokens, qkv.data()));
    auto attend = [&](int s, float* scores) {
      return SelfAttention(qkv.data() + static_cast<size_t>(start[s]) * 3 * h,
                           start[s + 1] - start[s], h, heads, scale,
                           ctx.data() + static_cast<size_t>(start[s]) * h, scores, causal);
    };
    if (parallel && sequences >= omp_get_max_threads()) {
      // Many sequences: one per thread at a time.
      Status failed;
#pragma omp parallel
      {
        std::vector<float> scores(static_cast<size_t>(heads) * longest * longest);
#pragma omp for schedule(dynamic, 1)
        for (int s = 0; s < sequences; ++s) {
          Status st = attend(s, scores.data());
          if (!st.ok()) {
#pragma omp critical
            failed = st;
          }
        }
      }
      FE_RETURN_IF_ERROR(failed);
    } else {
      std::vector<float> scores(static_cast<size_t>(heads) * longest * longest);
      for (int s = 0; s < sequences; ++s) FE_RETURN_IF_ERROR(attend(s, scores.data()));
    }
    FE_RETURN_IF_ERROR(l.out_proj->Apply(ctx.data(), tokens, normed.data()));
    float* xs = x.data();
    const float* add = normed.data();
#pragma omp parallel for simd schedule(static) if (parallel)
    for (size_t i = 0; i < x.size(); ++i) xs[i] += add[i];
    // x = x + fc2(act(fc1(LayerNorm2(x))))
    LayerNormRows(x.data(), nullptr, tokens, h, l.ln2_w.data(), l.ln2_b.data(),
                  config.layer_norm_eps, normed.data());
    FE_RETURN_IF_ERROR(l.fc1->Apply(normed.data(), tokens, inter.data()));
    FE_RETURN_IF_ERROR(l.fc2->Apply(inter.data(), tokens, normed.data()));
#pragma omp parallel for simd schedule(static) if (parallel)
    for (size_t i = 0; i < x.size(); ++i) xs[i] += add[i];
  }
  return Status::OK();
}

Status ClipModel::EncodeText(std::span<const std::vector<int32_t>> batch,
                             std::span<float> out) const {
  const ClipConfig& c = config_;
  const int h = c.text.hidden_size;
  if (out.size() != batch.size() * static_cast<size_t>(dim())) {
    return Status::InvalidArgument(fmt::format("output holds {} floats, {} texts need {}",
                                               out.size(), batch.size(), batch.size() * dim()));
  }
  if (batch.empty()) return Status::OK();
  std::vector<int> start(batch.size() + 1, 0);
  for (size_t s = 0; s < batch.size(); ++s) {
    const auto& ids = batch[s];
    if (ids.empty() || ids.size() > static_cast<size_t>(c.max_position_embeddings)) {
      return Status::InvalidArgument(fmt::format("sequence {} has {} tokens; 1..{} are accepted", s,
                                                 ids.size(), c.max_position_embeddings));
    }
    for (int32_t id : ids) {
      if (id < 0 || id >= c.vocab_size) {
        return Status::InvalidArgument(fmt::format(
            "sequence {} has token id {} outside the vocabulary of {}", s, id, c.vocab_size));
      }
    }
    start[s + 1] = start[s] + static_cast<int>(ids.size());
  }
  const int tokens = start.back(), sequences = static_cast<int>(batch.size());
  std::vector<float> x(static_cast<size_t>(tokens) * h);
#pragma omp parallel for schedule(static) if (int64_t{tokens} * h >= kParallelFloats)
  for (int s = 0; s < sequences; ++s) {
    for (size_t j = 0; j < batch[s].size(); ++j) {
      float* row = x.data() + static_cast<size_t>(start[s] + j) * h;
      const float* tok = w_->token_embedding.data() + static_cast<size_t>(batch[s][j]) * h;
      const float* pos = w_->text_position.data() + j * h;
#pragma omp simd
      for (int i = 0; i < h; ++i) row[i] = tok[i] + pos[i];
    }
  }
  FE_RETURN_IF_ERROR(w_->text.Run(x, start, /*causal=*/true));
  // The end-of-text row of each sequence: transformers takes the first
  // eos_token_id, or, for configs from before that field was right
  // (eos_token_id 2), the position of the largest id.
  std::vector<float> pooled(static_cast<size_t>(sequences) * h);
  for (int s = 0; s < sequences; ++s) {
    const auto& ids = batch[s];
    size_t at;
    if (c.eos_token_id == 2) {
      at = std::max_element(ids.begin(), ids.end()) - ids.begin();
    } else {
      at = std::find(ids.begin(), ids.end(), c.eos_token_id) - ids.begin();
      if (at == ids.size()) at = ids.size() - 1;  // no end-of-text: the last token
    }
    const float* row = x.data() + static_cast<size_t>(start[s] + at) * h;
    std::copy(row, row + h, pooled.begin() + static_cast<size_t>(s) * h);
  }
  LayerNormRows(pooled.data(), nullptr, sequences, h, w_->final_ln_w.data(), w_->final_ln_b.data(),
                c.text.layer_norm_eps, pooled.data());
  return w_->text_projection->Apply(pooled.data(), sequences, out.data());
}

Status ClipModel::EncodeImages(std::span<const float> pixels, int count,
                               std::span<float> out) const {
  const ClipConfig& c = config_;
  const int h = c.vision.hidden_size, side = c.image_size, p = c.patch_size;
  const int per_side = c.patches_per_side(), patches = per_side * per_side;
  const int seq = c.vision_tokens(), patch_floats = c.num_channels * p * p;
  const size_t image_floats = static_cast<size_t>(c.num_channels) * side * side;
  if (count < 0 || pixels.size() != image_floats * count ||
      out.size() != static_cast<size_t>(count) * dim()) {
    return Status::InvalidArgument(fmt::format(
        "{} images of {}x{}x{} need {} pixel values and {} output floats; got {} and {}", count,
        c.num_channels, side, side, image_floats * count, static_cast<size_t>(count) * dim(),
        pixels.size(), out.size()));
  }
  if (count == 0) return Status::OK();
  // Every patch as one row (channel, row, column), so the convolution is one
  // product over all patches of all images.
  std::vector<float> rows(static_cast<size_t>(count) * patches * patch_floats);
  const bool parallel = int64_t{count} * seq * h >= kParallelFloats;
#pragma omp parallel for schedule(static) if (parallel)
  for (int q = 0; q < count * patches; ++q) {
    const int image = q / patches, py = q % patches / per_side, px = q % per_side;
    float* dst = rows.data() + static_cast<size_t>(q) * patch_floats;
    for (int ch = 0; ch < c.num_channels; ++ch) {
      const float* plane =
          pixels.data() + image * image_floats + static_cast<size_t>(ch) * side * side;
      for (int y = 0; y < p; ++y) {
        const float* src = plane + static_cast<size_t>(py * p + y) * side + px * p;
        std::copy(src, src + p, dst + (ch * p + y) * p);
      }
    }
  }
  std::vector<float> embedded(static_cast<size_t>(count) * patches * h);
  FE_RETURN_IF_ERROR(w_->patch->Apply(rows.data(), count * patches, embedded.data()));
  rows = {};
  // [class, patches...] + position embeddings, then pre_layrnorm.
  std::vector<float> x(static_cast<size_t>(count) * seq * h);
#pragma omp parallel for schedule(static) if (parallel)
  for (int r = 0; r < count * seq; ++r) {
    const int image = r / seq, t = r % seq;
    const float* src = t == 0
                           ? w_->class_embedding.data()
                           : embedded.data() + (static_cast<size_t>(image) * patches + t - 1) * h;
    const float* pos = w_->vision_position.data() + static_cast<size_t>(t) * h;
    float* dst = x.data() + static_cast<size_t>(r) * h;
#pragma omp simd
    for (int i = 0; i < h; ++i) dst[i] = src[i] + pos[i];
  }
  embedded = {};
  LayerNormRows(x.data(), nullptr, count * seq, h, w_->pre_ln_w.data(), w_->pre_ln_b.data(),
                c.vision.layer_norm_eps, x.data());
  std::vector<int> start(count + 1);
  for (int i = 0; i <= count; ++i) start[i] = i * seq;
  FE_RETURN_IF_ERROR(w_->vision.Run(x, start, /*causal=*/false));
  // post_layernorm of each class token, then the projection.
  std::vector<float> pooled(static_cast<size_t>(count) * h);
  for (int i = 0; i < count; ++i) {
    const float* row = x.data() + static_cast<size_t>(i) * seq * h;
    std::copy(row, row + h, pooled.begin() + static_cast<size_t>(i) * h);
  }
  LayerNormRows(pooled.data(), nullptr, count, h, w_->post_ln_w.data(), w_->post_ln_b.data(),
                c.vision.layer_norm_eps, pooled.data());
  return w_->visual_projection->Apply(pooled.data(), count, out.data());
}

}  // namespace flashembed::encoders
