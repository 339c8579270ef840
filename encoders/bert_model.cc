#include "encoders/bert_model.h"

#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include <fmt/format.h>

#include "encoders/linear.h"
#include "encoders/safetensors.h"

namespace flashembed::encoders {
namespace {

// Below this many floats of activations a loop runs on the calling thread:
// waking the OpenMP team costs more than it saves.
constexpr int64_t kParallelFloats = 1 << 16;

// x = LayerNorm(x + residual) in place (residual may be null).
void AddLayerNorm(float* x, const float* residual, int rows, int h, const std::vector<float>& gamma,
                  const std::vector<float>& beta, double eps) {
  LayerNormRows(x, residual, rows, h, gamma.data(), beta.data(), eps, x);
}

LinearAct ToLinearAct(Activation act) {
  switch (act) {
    case Activation::kGelu:  // transformers' "gelu": x * Phi(x), exact erf form
      return LinearAct::kGelu;
    case Activation::kGeluTanh:  // "gelu_new": the tanh approximation
      return LinearAct::kGeluTanh;
    case Activation::kRelu: return LinearAct::kRelu;
  }
  return LinearAct::kGelu;
}

}  // namespace

struct BertModel::Weights {
  struct Layer {
    // query, key and value stacked in one [3H x H] product.
    std::unique_ptr<Linear> qkv, attn_out, inter, out;
    std::vector<float> attn_ln_w, attn_ln_b, out_ln_w, out_ln_b;
  };
  struct Dense {
    std::unique_ptr<Linear> linear;  // the activation fused where oneDNN has it
    bool tanh = false;               // applied after the product
  };
  std::vector<float> word, position, token_type, emb_ln_w, emb_ln_b;
  std::vector<Layer> layers;
  std::vector<Dense> dense;
};

BertModel::BertModel(const ModelFolder& folder, std::unique_ptr<Weights> weights)
    : folder_(folder), w_(std::move(weights)) {}
BertModel::~BertModel() = default;

int BertModel::dim() const {
  return folder_.dense.empty() ? folder_.config.hidden_size : folder_.dense.back().out_features;
}
int BertModel::max_tokens() const { return folder_.max_seq_length; }

Result<std::unique_ptr<BertModel>> BertModel::Load(const ModelFolder& folder) {
  FE_ASSIGN_OR_RETURN(auto file, SafeTensorsFile::Open(folder.weights_path));
  // Checkpoints saved from BertModel / XLMRobertaModel have no prefix; from
  // their *For* heads they carry "bert." / "roberta.".
  std::string prefix;
  if (file->Find("embeddings.word_embeddings.weight") == nullptr) {
    for (const char* p : {"bert.", "roberta."}) {
      if (file->Find(std::string(p) + "embeddings.word_embeddings.weight") != nullptr) prefix = p;
    }
  }
  const BertConfig& c = folder.config;
  const int64_t h = c.hidden_size, inter = c.intermediate_size;
  auto read = [&](const std::string& name, std::vector<int64_t> shape,
                  std::vector<float>* out) -> Status {
    auto v = file->ReadFloat32(prefix + name, shape);
    if (!v.ok()) {
      if (v.status().IsNotFound()) {
        return Status::InvalidArgument(folder.weights_path + ": missing tensor \"" + prefix + name +
                                       "\"");
      }
      return v.status();
    }
    *out = std::move(v).value();
    for (float x : *out) {
      if (!std::isfinite(x)) {
        return Status::InvalidArgument(folder.weights_path + ": tensor \"" + prefix + name +
                                       "\" holds a NaN or infinite value");
      }
    }
    return Status::OK();
  };
  auto w = std::make_unique<Weights>();
  // Embeddings (BertEmbeddings).
  FE_RETURN_IF_ERROR(read("embeddings.word_embeddings.weight", {c.vocab_size, h}, &w->word));
  FE_RETURN_IF_ERROR(
      read("embeddings.position_embeddings.weight", {c.max_position_embeddings, h}, &w->position));
  FE_RETURN_IF_ERROR(
      read("embeddings.token_type_embeddings.weight", {c.type_vocab_size, h}, &w->token_type));
  FE_RETURN_IF_ERROR(read("embeddings.LayerNorm.weight", {h}, &w->emb_ln_w));
  FE_RETURN_IF_ERROR(read("embeddings.LayerNorm.bias", {h}, &w->emb_ln_b));
  // Encoder layers (BertLayer: BertAttention, BertIntermediate, BertOutput).
  w->layers.resize(c.num_hidden_layers);
  for (int i = 0; i < c.num_hidden_layers; ++i) {
    const std::string p = fmt::format("encoder.layer.{}.", i);
    Weights::Layer& l = w->layers[i];
    std::vector<float> qkv_w, qkv_b, part_w, part_b, lin_w, lin_b;
    for (const char* m : {"query", "key", "value"}) {
      FE_RETURN_IF_ERROR(read(p + "attention.self." + m + ".weight", {h, h}, &part_w));
      FE_RETURN_IF_ERROR(read(p + "attention.self." + m + ".bias", {h}, &part_b));
      qkv_w.insert(qkv_w.end(), part_w.begin(), part_w.end());
      qkv_b.insert(qkv_b.end(), part_b.begin(), part_b.end());
    }
    FE_ASSIGN_OR_RETURN(l.qkv, Linear::Create(qkv_w, qkv_b, 3 * h, h, LinearAct::kNone));
    FE_RETURN_IF_ERROR(read(p + "attention.output.dense.weight", {h, h}, &lin_w));
    FE_RETURN_IF_ERROR(read(p + "attention.output.dense.bias", {h}, &lin_b));
    FE_ASSIGN_OR_RETURN(l.attn_out, Linear::Create(lin_w, lin_b, h, h, LinearAct::kNone));
    FE_RETURN_IF_ERROR(read(p + "attention.output.LayerNorm.weight", {h}, &l.attn_ln_w));
    FE_RETURN_IF_ERROR(read(p + "attention.output.LayerNorm.bias", {h}, &l.attn_ln_b));
    FE_RETURN_IF_ERROR(read(p + "intermediate.dense.weight", {inter, h}, &lin_w));
    FE_RETURN_IF_ERROR(read(p + "intermediate.dense.bias", {inter}, &lin_b));
    FE_ASSIGN_OR_RETURN(l.inter, Linear::Create(lin_w, lin_b, inter, h, ToLinearAct(c.hidden_act)));
    FE_RETURN_IF_ERROR(read(p + "output.dense.weight", {h, inter}, &lin_w));
    FE_RETURN_IF_ERROR(read(p + "output.dense.bias", {h}, &lin_b));
    FE_ASSIGN_OR_RETURN(l.out, Linear::Create(lin_w, lin_b, h, inter, LinearAct::kNone));
    FE_RETURN_IF_ERROR(read(p + "output.LayerNorm.weight", {h}, &l.out_ln_w));
    FE_RETURN_IF_ERROR(read(p + "output.LayerNorm.bias", {h}, &l.out_ln_b));
  }
  // sentence-transformers Dense modules, each in its own safetensors file.
  for (const DenseModule& d : folder.dense) {
    FE_ASSIGN_OR_RETURN(auto dense_file, SafeTensorsFile::Open(d.weights_path));
    auto dense_read = [&](const char* name, std::vector<int64_t> shape,
                          std::vector<float>* out) -> Status {
      auto v = dense_file->ReadFloat32(name, shape);
      if (!v.ok()) {
        if (v.status().IsNotFound()) {
          return Status::InvalidArgument(d.weights_path + ": missing tensor \"" + name + "\"");
        }
        return v.status();
      }
      *out = std::move(v).value();
      for (float x : *out) {
        if (!std::isfinite(x)) {
          return Status::InvalidArgument(d.weights_path + ": tensor \"" + name +
                                         "\" holds a NaN or infinite value");
        }
      }
      return Status::OK();
    };
    std::vector<float> dw, db(static_cast<size_t>(d.out_features), 0.0f);
    FE_RETURN_IF_ERROR(dense_read("linear.weight", {d.out_features, d.in_features}, &dw));
    if (d.bias) FE_RETURN_IF_ERROR(dense_read("linear.bias", {d.out_features}, &db));
    Weights::Dense dense;
    dense.tanh = d.activation == DenseActivation::kTanh;
    FE_ASSIGN_OR_RETURN(dense.linear,
                        Linear::Create(dw, db, d.out_features, d.in_features,
                                       d.activation == DenseActivation::kRelu ? LinearAct::kRelu
                                                                              : LinearAct::kNone));
    w->dense.push_back(std::move(dense));
  }
  return std::unique_ptr<BertModel>(new BertModel(folder, std::move(w)));
}

int BertModel::hidden_size() const { return folder_.config.hidden_size; }

Status BertModel::Forward(std::span<const std::vector<int32_t>> batch, std::span<float> out) const {
  const int out_dim = dim();
  if (out.size() != batch.size() * static_cast<size_t>(out_dim)) {
    return Status::InvalidArgument(fmt::format("output holds {} floats, {} sequences need {}",
                                               out.size(), batch.size(), batch.size() * out_dim));
  }
  std::vector<float> x;
  std::vector<int> start;
  FE_RETURN_IF_ERROR(RunLayers(batch, {}, &x, &start));
  if (start.back() == 0) return Status::OK();
  return Pool(x, start, out);
}

Status BertModel::FirstTokenStates(std::span<const std::vector<int32_t>> batch,
                                   std::span<const std::vector<int32_t>> type_ids,
                                   std::span<float> out) const {
  const int h = folder_.config.hidden_size;
  if (out.size() != batch.size() * static_cast<size_t>(h)) {
    return Status::InvalidArgument(fmt::format("output holds {} floats, {} sequences need {}",
                                               out.size(), batch.size(), batch.size() * h));
  }
  std::vector<float> x;
  std::vector<int> start;
  FE_RETURN_IF_ERROR(RunLayers(batch, type_ids, &x, &start));
  for (size_t s = 0; s < batch.size(); ++s) {
    std::copy_n(x.data() + static_cast<size_t>(start[s]) * h, h, out.data() + s * h);
  }
  return Status::OK();
}

Status BertModel::RunLayers(std::span<const std::vector<int32_t>> batch,
                            std::span<const std::vector<int32_t>> type_ids, std::vector<float>* out,
                            std::vector<int>* starts) const {
  const BertConfig& c = folder_.config;
  const int h = c.hidden_size, heads = c.num_attention_heads, d = h / heads;
  if (!type_ids.empty() && type_ids.size() != batch.size()) {
    return Status::InvalidArgument(
        fmt::format("{} sequences but {} lists of token type ids", batch.size(), type_ids.size()));
  }
  // Pack all tokens: sequence s occupies rows [start[s], start[s+1]).
  std::vector<int>& start = *starts;
  start.assign(batch.size() + 1, 0);
  int longest = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const auto& ids = batch[s];
    if (ids.empty() || ids.size() > static_cast<size_t>(max_tokens())) {
      return Status::InvalidArgument(fmt::format("sequence {} has {} tokens; 1..{} are accepted", s,
                                                 ids.size(), max_tokens()));
    }
    for (int32_t id : ids) {
      if (id < 0 || id >= c.vocab_size) {
        return Status::InvalidArgument(fmt::format(
            "sequence {} has token id {} outside the vocabulary of {}", s, id, c.vocab_size));
      }
    }
    if (!type_ids.empty()) {
      if (type_ids[s].size() != ids.size()) {
        return Status::InvalidArgument(fmt::format(
            "sequence {} has {} tokens but {} token type ids", s, ids.size(), type_ids[s].size()));
      }
      for (int32_t t : type_ids[s]) {
        if (t < 0 || t >= c.type_vocab_size) {
          return Status::InvalidArgument(fmt::format(
              "sequence {} has token type {}; the model has {}", s, t, c.type_vocab_size));
        }
      }
    }
    start[s + 1] = start[s] + static_cast<int>(ids.size());
    longest = std::max(longest, static_cast<int>(ids.size()));
  }
  const int tokens = start.back();
  if (tokens == 0) return Status::OK();

  // Embeddings: word + position + token type, then LayerNorm.
  std::vector<float>& x = *out;
  x.assign(static_cast<size_t>(tokens) * h, 0.0f);
  const int sequences = static_cast<int>(batch.size());
  const bool parallel = int64_t{tokens} * h >= kParallelFloats;
#pragma omp parallel for schedule(static) if (parallel)
  for (int s = 0; s < sequences; ++s) {
    int position = c.position_offset;
    for (size_t j = 0; j < batch[s].size(); ++j) {
      float* row = x.data() + static_cast<size_t>(start[s] + j) * h;
      const float* word = w_->word.data() + static_cast<size_t>(batch[s][j]) * h;
      // XLM-R: a pad token sits at position pad_token_id and the others
      // count on without it.
      const int at = batch[s][j] == c.pad_token_id ? c.pad_token_id : position++;
      const float* pos = w_->position.data() + static_cast<size_t>(at) * h;
      const float* type =
          w_->token_type.data() +
          (type_ids.empty() ? 0 : static_cast<size_t>(type_ids[s][j]) * static_cast<size_t>(h));
#pragma omp simd
      for (int i = 0; i < h; ++i) row[i] = word[i] + pos[i] + type[i];
    }
  }
  AddLayerNorm(x.data(), nullptr, tokens, h, w_->emb_ln_w, w_->emb_ln_b, c.layer_norm_eps);

  std::vector<float> qkv(static_cast<size_t>(tokens) * 3 * h);
  std::vector<float> ctx(static_cast<size_t>(tokens) * h);
  std::vector<float> attn(static_cast<size_t>(tokens) * h);
  std::vector<float> inter(static_cast<size_t>(tokens) * c.intermediate_size);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (const Weights::Layer& l : w_->layers) {
    // BertSelfAttention: one product for query, key and value of every
    // token, then attention within each sequence (all heads at once); no
    // mask, no padding.
    FE_RETURN_IF_ERROR(l.qkv->Apply(x.data(), tokens, qkv.data()));
    if (parallel && sequences >= omp_get_max_threads()) {
      // Many sequences: one per thread at a time, each product on one core.
      Status failed;
#pragma omp parallel
      {
        std::vector<float> scores(static_cast<size_t>(heads) * longest * longest);
#pragma omp for schedule(dynamic, 1)
        for (int s = 0; s < sequences; ++s) {
          Status st = SelfAttention(qkv.data() + static_cast<size_t>(start[s]) * 3 * h,
                                    start[s + 1] - start[s], h, heads, scale,
                                    ctx.data() + static_cast<size_t>(start[s]) * h, scores.data());
          if (!st.ok()) {
#pragma omp critical
            failed = st;
          }
        }
      }
      FE_RETURN_IF_ERROR(failed);
    } else {
      // Few (long) sequences: each product uses every thread (oneDNN
      // decides how many a small product deserves).
      std::vector<float> scores(static_cast<size_t>(heads) * longest * longest);
      for (int s = 0; s < sequences; ++s) {
        FE_RETURN_IF_ERROR(SelfAttention(
            qkv.data() + static_cast<size_t>(start[s]) * 3 * h, start[s + 1] - start[s], h, heads,
            scale, ctx.data() + static_cast<size_t>(start[s]) * h, scores.data()));
      }
    }
    // BertSelfOutput: dense, residual, LayerNorm.
    FE_RETURN_IF_ERROR(l.attn_out->Apply(ctx.data(), tokens, attn.data()));
    AddLayerNorm(attn.data(), x.data(), tokens, h, l.attn_ln_w, l.attn_ln_b, c.layer_norm_eps);
    // BertIntermediate + BertOutput: dense with the activation fused, dense,
    // residual, LayerNorm.
    FE_RETURN_IF_ERROR(l.inter->Apply(attn.data(), tokens, inter.data()));
    FE_RETURN_IF_ERROR(l.out->Apply(inter.data(), tokens, x.data()));
    AddLayerNorm(x.data(), attn.data(), tokens, h, l.out_ln_w, l.out_ln_b, c.layer_norm_eps);
  }
  return Status::OK();
}

Status BertModel::Pool(const std::vector<float>& x, const std::vector<int>& start,
                       std::span<float> out) const {
  const int h = folder_.config.hidden_size;
  const int out_dim = dim();
  const int sequences = static_cast<int>(start.size()) - 1;
  const bool parallel = int64_t{start.back()} * h >= kParallelFloats;
  // sentence-transformers Pooling (every token is attended: no padding), then
  // the Dense modules and the optional Normalize module.
  std::vector<float> pooled;
  if (!w_->dense.empty()) pooled.resize(static_cast<size_t>(sequences) * h);
  float* const pool_out = w_->dense.empty() ? out.data() : pooled.data();
#pragma omp parallel for schedule(static) if (parallel)
  for (int s = 0; s < sequences; ++s) {
    float* dst = pool_out + static_cast<size_t>(s) * h;
    const float* first = x.data() + static_cast<size_t>(start[s]) * h;
    const int len = start[s + 1] - start[s];
    std::copy(first, first + h, dst);
    switch (folder_.pooling) {
      case Pooling::kCls: break;
      case Pooling::kMean: {
        std::vector<double> sum(dst, dst + h);
        for (int t = 1; t < len; ++t) {
          const float* row = first + static_cast<size_t>(t) * h;
#pragma omp simd
          for (int i = 0; i < h; ++i) sum[i] += row[i];
        }
        for (int i = 0; i < h; ++i) dst[i] = static_cast<float>(sum[i] / len);
        break;
      }
      case Pooling::kMax:
        for (int t = 1; t < len; ++t) {
          const float* row = first + static_cast<size_t>(t) * h;
#pragma omp simd
          for (int i = 0; i < h; ++i) dst[i] = std::max(dst[i], row[i]);
        }
        break;
    }
  }
  for (size_t k = 0; k < w_->dense.size(); ++k) {
    const Weights::Dense& dense = w_->dense[k];
    const bool last = k + 1 == w_->dense.size();
    std::vector<float> next;
    if (!last) next.resize(static_cast<size_t>(sequences) * folder_.dense[k].out_features);
    float* y = last ? out.data() : next.data();
    FE_RETURN_IF_ERROR(dense.linear->Apply(pooled.data(), sequences, y));
    if (dense.tanh) {
      const size_t n = static_cast<size_t>(sequences) * folder_.dense[k].out_features;
      for (size_t i = 0; i < n; ++i) y[i] = std::tanh(y[i]);
    }
    if (!last) pooled = std::move(next);
  }
  if (folder_.normalize) {
    for (int s = 0; s < sequences; ++s) {
      float* dst = out.data() + static_cast<size_t>(s) * out_dim;
      double norm = 0;
      for (int i = 0; i < out_dim; ++i) norm += static_cast<double>(dst[i]) * dst[i];
      // torch.nn.functional.normalize clamps the norm at eps = 1e-12.
      const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
      for (int i = 0; i < out_dim; ++i) dst[i] *= inv;
    }
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
