#include "encoders/bert_model.h"

#include <cblas.h>

#include <algorithm>
#include <cmath>
#include <cstring>

#include "encoders/safetensors.h"

namespace flashembed::encoders {
namespace {

// y[rows x n] = x[rows x k] * W^T + b, with W stored [n x k] row-major as in
// the checkpoint (torch.nn.Linear: y = x A^T + b).
void Linear(const float* x, int rows, int k, const std::vector<float>& w,
            const std::vector<float>& b, int n, float* y) {
  for (int r = 0; r < rows; ++r) std::memcpy(y + static_cast<size_t>(r) * n, b.data(), n * 4);
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, n, k, 1.0f, x, k, w.data(), k, 1.0f,
              y, n);
}

// x = LayerNorm(x + residual) over the last dimension (residual may be null).
void AddLayerNorm(float* x, const float* residual, int rows, int h, const std::vector<float>& gamma,
                  const std::vector<float>& beta, double eps) {
  for (int r = 0; r < rows; ++r) {
    float* row = x + static_cast<size_t>(r) * h;
    if (residual != nullptr) {
      const float* res = residual + static_cast<size_t>(r) * h;
      for (int i = 0; i < h; ++i) row[i] += res[i];
    }
    double mean = 0;
    for (int i = 0; i < h; ++i) mean += row[i];
    mean /= h;
    double var = 0;
    for (int i = 0; i < h; ++i) var += (row[i] - mean) * (row[i] - mean);
    var /= h;
    const float inv = static_cast<float>(1.0 / std::sqrt(var + eps));
    const float m = static_cast<float>(mean);
    for (int i = 0; i < h; ++i) row[i] = (row[i] - m) * inv * gamma[i] + beta[i];
  }
}

void Activate(float* x, size_t n, Activation act) {
  switch (act) {
    case Activation::kGelu:  // transformers' "gelu": x * Phi(x), exact erf form
      for (size_t i = 0; i < n; ++i) x[i] = 0.5f * x[i] * (1.0f + std::erf(x[i] * 0.70710678118654752f));
      break;
    case Activation::kGeluTanh:  // "gelu_new": the tanh approximation
      for (size_t i = 0; i < n; ++i) {
        const float v = x[i];
        x[i] = 0.5f * v * (1.0f + std::tanh(0.7978845608028654f * (v + 0.044715f * v * v * v)));
      }
      break;
    case Activation::kRelu:
      for (size_t i = 0; i < n; ++i) x[i] = std::max(0.0f, x[i]);
      break;
  }
}

}  // namespace

struct BertModel::Weights {
  struct Layer {
    std::vector<float> qkv_w, qkv_b;  // query, key, value stacked: [3H x H], [3H]
    std::vector<float> attn_out_w, attn_out_b, attn_ln_w, attn_ln_b;
    std::vector<float> inter_w, inter_b, out_w, out_b, out_ln_w, out_ln_b;
  };
  std::vector<float> word, position, token_type, emb_ln_w, emb_ln_b;
  std::vector<Layer> layers;
};

BertModel::BertModel(const ModelFolder& folder, std::unique_ptr<Weights> weights)
    : folder_(folder), w_(std::move(weights)) {}
BertModel::~BertModel() = default;

int BertModel::dim() const { return folder_.config.hidden_size; }
int BertModel::max_tokens() const { return folder_.max_seq_length; }

Result<std::unique_ptr<BertModel>> BertModel::Load(const ModelFolder& folder) {
  FE_ASSIGN_OR_RETURN(auto file, SafeTensorsFile::Open(folder.weights_path));
  // Checkpoints saved from BertModel have no prefix; from BertFor*/AutoModel
  // heads they carry "bert.".
  const std::string prefix =
      file->Find("embeddings.word_embeddings.weight") == nullptr &&
              file->Find("bert.embeddings.word_embeddings.weight") != nullptr
          ? "bert."
          : "";
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
    const std::string p = "encoder.layer." + std::to_string(i) + ".";
    Weights::Layer& l = w->layers[i];
    std::vector<float> part_w, part_b;
    for (const char* m : {"query", "key", "value"}) {
      FE_RETURN_IF_ERROR(read(p + "attention.self." + m + ".weight", {h, h}, &part_w));
      FE_RETURN_IF_ERROR(read(p + "attention.self." + m + ".bias", {h}, &part_b));
      l.qkv_w.insert(l.qkv_w.end(), part_w.begin(), part_w.end());
      l.qkv_b.insert(l.qkv_b.end(), part_b.begin(), part_b.end());
    }
    FE_RETURN_IF_ERROR(read(p + "attention.output.dense.weight", {h, h}, &l.attn_out_w));
    FE_RETURN_IF_ERROR(read(p + "attention.output.dense.bias", {h}, &l.attn_out_b));
    FE_RETURN_IF_ERROR(read(p + "attention.output.LayerNorm.weight", {h}, &l.attn_ln_w));
    FE_RETURN_IF_ERROR(read(p + "attention.output.LayerNorm.bias", {h}, &l.attn_ln_b));
    FE_RETURN_IF_ERROR(read(p + "intermediate.dense.weight", {inter, h}, &l.inter_w));
    FE_RETURN_IF_ERROR(read(p + "intermediate.dense.bias", {inter}, &l.inter_b));
    FE_RETURN_IF_ERROR(read(p + "output.dense.weight", {h, inter}, &l.out_w));
    FE_RETURN_IF_ERROR(read(p + "output.dense.bias", {h}, &l.out_b));
    FE_RETURN_IF_ERROR(read(p + "output.LayerNorm.weight", {h}, &l.out_ln_w));
    FE_RETURN_IF_ERROR(read(p + "output.LayerNorm.bias", {h}, &l.out_ln_b));
  }
  return std::unique_ptr<BertModel>(new BertModel(folder, std::move(w)));
}

Status BertModel::Forward(std::span<const std::vector<int32_t>> batch, std::span<float> out) const {
  const BertConfig& c = folder_.config;
  const int h = c.hidden_size, heads = c.num_attention_heads, d = h / heads;
  if (out.size() != batch.size() * static_cast<size_t>(h)) {
    return Status::InvalidArgument("output holds " + std::to_string(out.size()) + " floats, " +
                                   std::to_string(batch.size()) + " sequences need " +
                                   std::to_string(batch.size() * h));
  }
  // Pack all tokens: sequence s occupies rows [start[s], start[s+1]).
  std::vector<int> start(batch.size() + 1, 0);
  int longest = 0;
  for (size_t s = 0; s < batch.size(); ++s) {
    const auto& ids = batch[s];
    if (ids.empty() || ids.size() > static_cast<size_t>(max_tokens())) {
      return Status::InvalidArgument("sequence " + std::to_string(s) + " has " +
                                     std::to_string(ids.size()) + " tokens; 1.." +
                                     std::to_string(max_tokens()) + " are accepted");
    }
    for (int32_t id : ids) {
      if (id < 0 || id >= c.vocab_size) {
        return Status::InvalidArgument("sequence " + std::to_string(s) + " has token id " +
                                       std::to_string(id) + " outside the vocabulary of " +
                                       std::to_string(c.vocab_size));
      }
    }
    start[s + 1] = start[s] + static_cast<int>(ids.size());
    longest = std::max(longest, static_cast<int>(ids.size()));
  }
  const int tokens = start.back();
  if (tokens == 0) return Status::OK();

  // Embeddings: word + position + token type 0, then LayerNorm.
  std::vector<float> x(static_cast<size_t>(tokens) * h);
  for (size_t s = 0; s < batch.size(); ++s) {
    for (size_t j = 0; j < batch[s].size(); ++j) {
      float* row = x.data() + static_cast<size_t>(start[s] + j) * h;
      const float* word = w_->word.data() + static_cast<size_t>(batch[s][j]) * h;
      const float* pos = w_->position.data() + j * h;
      for (int i = 0; i < h; ++i) row[i] = word[i] + pos[i] + w_->token_type[i];
    }
  }
  AddLayerNorm(x.data(), nullptr, tokens, h, w_->emb_ln_w, w_->emb_ln_b, c.layer_norm_eps);

  std::vector<float> qkv(static_cast<size_t>(tokens) * 3 * h);
  std::vector<float> ctx(static_cast<size_t>(tokens) * h);
  std::vector<float> attn(static_cast<size_t>(tokens) * h);
  std::vector<float> inter(static_cast<size_t>(tokens) * c.intermediate_size);
  std::vector<float> scores(static_cast<size_t>(longest) * longest);
  const float scale = 1.0f / std::sqrt(static_cast<float>(d));
  for (const Weights::Layer& l : w_->layers) {
    // BertSelfAttention: one GEMM for query, key and value of every token.
    Linear(x.data(), tokens, h, l.qkv_w, l.qkv_b, 3 * h, qkv.data());
    for (size_t s = 0; s < batch.size(); ++s) {
      const int len = start[s + 1] - start[s];
      const float* base = qkv.data() + static_cast<size_t>(start[s]) * 3 * h;
      for (int head = 0; head < heads; ++head) {
        const float* q = base + head * d;
        const float* k = base + h + head * d;
        const float* v = base + 2 * h + head * d;
        // scores = softmax(q k^T / sqrt(d)) over keys; no mask (no padding).
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, len, len, d, scale, q, 3 * h, k,
                    3 * h, 0.0f, scores.data(), len);
        for (int r = 0; r < len; ++r) {
          float* row = scores.data() + static_cast<size_t>(r) * len;
          const float top = *std::max_element(row, row + len);
          float sum = 0;
          for (int i = 0; i < len; ++i) sum += (row[i] = std::exp(row[i] - top));
          const float inv = 1.0f / sum;
          for (int i = 0; i < len; ++i) row[i] *= inv;
        }
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, len, d, len, 1.0f, scores.data(),
                    len, v, 3 * h, 0.0f, ctx.data() + static_cast<size_t>(start[s]) * h + head * d,
                    h);
      }
    }
    // BertSelfOutput: dense, residual, LayerNorm.
    Linear(ctx.data(), tokens, h, l.attn_out_w, l.attn_out_b, h, attn.data());
    AddLayerNorm(attn.data(), x.data(), tokens, h, l.attn_ln_w, l.attn_ln_b, c.layer_norm_eps);
    // BertIntermediate + BertOutput: dense, activation, dense, residual, LayerNorm.
    Linear(attn.data(), tokens, h, l.inter_w, l.inter_b, c.intermediate_size, inter.data());
    Activate(inter.data(), inter.size(), c.hidden_act);
    Linear(inter.data(), tokens, c.intermediate_size, l.out_w, l.out_b, h, x.data());
    AddLayerNorm(x.data(), attn.data(), tokens, h, l.out_ln_w, l.out_ln_b, c.layer_norm_eps);
  }

  // sentence-transformers Pooling (every token is attended: no padding), then
  // the optional Normalize module.
  for (size_t s = 0; s < batch.size(); ++s) {
    float* dst = out.data() + s * h;
    const float* first = x.data() + static_cast<size_t>(start[s]) * h;
    const int len = start[s + 1] - start[s];
    switch (folder_.pooling) {
      case Pooling::kCls:
        std::copy(first, first + h, dst);
        break;
      case Pooling::kMean:
        for (int i = 0; i < h; ++i) {
          double sum = 0;
          for (int t = 0; t < len; ++t) sum += first[static_cast<size_t>(t) * h + i];
          dst[i] = static_cast<float>(sum / len);
        }
        break;
      case Pooling::kMax:
        for (int i = 0; i < h; ++i) {
          float m = first[i];
          for (int t = 1; t < len; ++t) m = std::max(m, first[static_cast<size_t>(t) * h + i]);
          dst[i] = m;
        }
        break;
    }
    if (folder_.normalize) {
      double norm = 0;
      for (int i = 0; i < h; ++i) norm += static_cast<double>(dst[i]) * dst[i];
      // torch.nn.functional.normalize clamps the norm at eps = 1e-12.
      const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
      for (int i = 0; i < h; ++i) dst[i] *= inv;
    }
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
