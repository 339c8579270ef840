#include "encoders/cross_encoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/utf8.h"
#include "encoders/bert_model.h"
#include "encoders/model_files.h"
#include "encoders/model_folder.h"
#include "encoders/safetensors.h"
#include "encoders/unigram_tokenizer.h"
#include "encoders/wordpiece_tokenizer.h"

namespace flashembed::encoders {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::string_view kSpecPrefix = "rerank/v1;";
// Tokens per forward call, as TransformerEncoder's.
constexpr size_t kForwardTokens = 4096;

Result<json> ReadJsonObject(const std::string& path, bool required) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (required) return Status::NotFound(path + ": no such file");
    return json::object();
  }
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(path + ": not a JSON object");
  }
  return j;
}

std::string Architecture(const json& config) {
  const auto it = config.find("architectures");
  if (it == config.end() || !it->is_array() || it->empty() || !(*it)[0].is_string()) return "";
  return (*it)[0].get<std::string>();
}

}  // namespace

// The classification head on the first token's state h:
//   BERT:  logit = out(tanh(dense(h)))  with dense = bert.pooler.dense,
//          out = classifier
//   XLM-R: logit = out(tanh(dense(h)))  with dense = classifier.dense,
//          out = classifier.out_proj
struct CrossEncoder::Head {
  int h = 0;
  std::vector<float> dense_w, dense_b;  // [h, h], [h]
  std::vector<float> out_w;             // [h]
  float out_b = 0;

  double Logit(const float* state) const {
    double logit = out_b;
    for (int i = 0; i < h; ++i) {
      double v = dense_b[static_cast<size_t>(i)];
      const float* row = dense_w.data() + static_cast<size_t>(i) * h;
      for (int k = 0; k < h; ++k) v += static_cast<double>(row[k]) * state[k];
      logit += std::tanh(v) * out_w[static_cast<size_t>(i)];
    }
    return logit;
  }
};

CrossEncoder::CrossEncoder() = default;
CrossEncoder::~CrossEncoder() = default;

bool CrossEncoder::IsCrossEncoderFolder(const std::string& dir) {
  auto config = ReadJsonObject(dir + "/config.json", /*required=*/true);
  return config.ok() && Architecture(*config).ends_with("ForSequenceClassification");
}

Result<std::unique_ptr<CrossEncoder>> CrossEncoder::Open(const std::string& dir) {
  std::error_code ec;
  std::string abs = fs::absolute(dir, ec).lexically_normal().string();
  if (ec) abs = dir;
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  FE_ASSIGN_OR_RETURN(ModelFolder folder, ModelFolder::Read(abs));
  const std::string config_path = abs + "/config.json";
  FE_ASSIGN_OR_RETURN(const json config, ReadJsonObject(config_path, /*required=*/true));
  const std::string arch = Architecture(config);
  const bool bert = arch == "BertForSequenceClassification";
  if (!bert && arch != "XLMRobertaForSequenceClassification") {
    return Status::InvalidArgument(config_path + ": architecture \"" + arch +
                                   "\" is not a supported reranker "
                                   "(BertForSequenceClassification, "
                                   "XLMRobertaForSequenceClassification)");
  }
  size_t labels = 2;  // transformers' PretrainedConfig default
  if (config.contains("id2label") && config["id2label"].is_object()) {
    labels = config["id2label"].size();
  } else if (config.contains("num_labels") && config["num_labels"].is_number_integer()) {
    labels = config["num_labels"].get<size_t>();
  }
  if (labels != 1) {
    return Status::InvalidArgument(
        fmt::format("{}: the model has {} labels; a reranker has one (a relevance logit)",
                    config_path, labels));
  }
  std::unique_ptr<CrossEncoder> e(new CrossEncoder());
  e->dir_ = abs;

  // The activation on the logit, as sentence-transformers picks it: v4's
  // sentence_transformers.activation_fn, else the older
  // sbert_ce_default_activation_function when not null, else Sigmoid (one
  // label). A path outside torch is ignored, as sentence-transformers does
  // without trust_remote_code.
  std::string activation = "torch.nn.modules.activation.Sigmoid";
  const auto named = [](const json& v) { return v.is_string() && v.get<std::string>() != ""; };
  if (config.contains("sentence_transformers") && config["sentence_transformers"].is_object() &&
      config["sentence_transformers"].contains("activation_fn") &&
      named(config["sentence_transformers"]["activation_fn"])) {
    activation = config["sentence_transformers"]["activation_fn"].get<std::string>();
  } else if (config.contains("sbert_ce_default_activation_function") &&
             named(config["sbert_ce_default_activation_function"])) {
    activation = config["sbert_ce_default_activation_function"].get<std::string>();
  }
  if (!activation.starts_with("torch.")) activation = "torch.nn.modules.activation.Sigmoid";
  if (activation == "torch.nn.modules.activation.Sigmoid") {
    e->activation_ = Activation::kSigmoid;
  } else if (activation == "torch.nn.modules.linear.Identity") {
    e->activation_ = Activation::kIdentity;
  } else if (activation == "torch.nn.modules.activation.Tanh") {
    e->activation_ = Activation::kTanh;
  } else {
    return Status::InvalidArgument(config_path + ": activation \"" + activation +
                                   "\" is not supported (Sigmoid, Identity, Tanh)");
  }

  // The pair tokenizer.
  size_t vocab = 0;
  if (!folder.tokenizer_json_path.empty()) {
    FE_ASSIGN_OR_RETURN(const json tok, ReadJsonObject(folder.tokenizer_json_path, true));
    const json model = tok.value("model", json::object());
    if (model.is_object() && model.value("type", std::string()) == "Unigram") {
      FE_ASSIGN_OR_RETURN(e->unigram_, UnigramTokenizer::FromFile(folder.tokenizer_json_path));
      vocab = e->unigram_->vocab_size();
    }
  }
  if (!e->unigram_) {
    if (!bert) {
      return Status::InvalidArgument(abs +
                                     ": an XLM-RoBERTa reranker needs a tokenizer.json with a "
                                     "Unigram model");
    }
    WordPieceTokenizer::VocabSettings settings;
    settings.lowercase = folder.do_lower_case;
    settings.strip_accents = folder.strip_accents;
    settings.handle_chinese_chars = folder.tokenize_chinese_chars;
    FE_ASSIGN_OR_RETURN(
        e->wordpiece_,
        WordPieceTokenizer::FromFiles(folder.vocab_path, folder.tokenizer_json_path, settings));
    vocab = e->wordpiece_->vocab_size();
  }
  if (vocab > static_cast<size_t>(folder.config.vocab_size)) {
    return Status::InvalidArgument(
        fmt::format("{}: the tokenizer has {} tokens but config.json declares vocab_size {}", abs,
                    vocab, folder.config.vocab_size));
  }

  // The max length: the tokenizer's model_max_length (where
  // sentence-transformers v4 saves CrossEncoder(max_length=...)), within the
  // positions the model has.
  const size_t positions =
      static_cast<size_t>(folder.config.max_position_embeddings - folder.config.position_offset);
  size_t max_length = positions;
  FE_ASSIGN_OR_RETURN(const json tokenizer_config,
                      ReadJsonObject(abs + "/tokenizer_config.json", /*required=*/false));
  if (tokenizer_config.contains("model_max_length") &&
      tokenizer_config["model_max_length"].is_number_integer() &&
      tokenizer_config["model_max_length"].get<int64_t>() >= 4) {
    max_length = std::min(max_length, tokenizer_config["model_max_length"].get<size_t>());
  }
  e->max_tokens_ = max_length;
  folder.max_seq_length = static_cast<int>(max_length);
  FE_ASSIGN_OR_RETURN(e->model_, BertModel::Load(folder));

  // The head.
  FE_ASSIGN_OR_RETURN(auto file, SafeTensorsFile::Open(folder.weights_path));
  const int64_t h = folder.config.hidden_size;
  auto read = [&](const std::string& name, std::vector<int64_t> shape,
                  std::vector<float>* out) -> Status {
    auto v = file->ReadFloat32(name, shape);
    if (!v.ok()) {
      if (v.status().IsNotFound()) {
        return Status::InvalidArgument(folder.weights_path + ": missing tensor \"" + name +
                                       "\" of the " + arch + " head");
      }
      return v.status();
    }
    *out = std::move(v).value();
    for (float x : *out) {
      if (!std::isfinite(x)) {
        return Status::InvalidArgument(folder.weights_path + ": tensor \"" + name +
                                       "\" holds a NaN or infinite value");
      }
    }
    return Status::OK();
  };
  auto head = std::make_unique<Head>();
  head->h = static_cast<int>(h);
  std::vector<float> out_b;
  if (bert) {
    const std::string prefix = file->Find("bert.pooler.dense.weight") != nullptr ? "bert." : "";
    FE_RETURN_IF_ERROR(read(prefix + "pooler.dense.weight", {h, h}, &head->dense_w));
    FE_RETURN_IF_ERROR(read(prefix + "pooler.dense.bias", {h}, &head->dense_b));
    FE_RETURN_IF_ERROR(read("classifier.weight", {1, h}, &head->out_w));
    FE_RETURN_IF_ERROR(read("classifier.bias", {1}, &out_b));
  } else {
    FE_RETURN_IF_ERROR(read("classifier.dense.weight", {h, h}, &head->dense_w));
    FE_RETURN_IF_ERROR(read("classifier.dense.bias", {h}, &head->dense_b));
    FE_RETURN_IF_ERROR(read("classifier.out_proj.weight", {1, h}, &head->out_w));
    FE_RETURN_IF_ERROR(read("classifier.out_proj.bias", {1}, &out_b));
  }
  head->out_b = out_b[0];
  e->head_ = std::move(head);

  const std::string files[] = {config_path, folder.vocab_path, folder.tokenizer_json_path,
                               abs + "/tokenizer_config.json", folder.weights_path};
  FE_ASSIGN_OR_RETURN(e->fingerprint_, FingerprintFiles(files));
  return e;
}

Result<std::unique_ptr<CrossEncoder>> CrossEncoder::FromSpec(std::string_view spec) {
  if (!spec.starts_with(kSpecPrefix)) {
    return Status::NotSupported("reranker spec '" + std::string(spec) +
                                "': this build reads rerank/v1 only");
  }
  const size_t dir_at = spec.find(";dir=");
  const size_t id_at = spec.find("id=");
  if (dir_at == std::string_view::npos || id_at == std::string_view::npos) {
    return Status::InvalidArgument("malformed reranker spec '" + std::string(spec) +
                                   "': expected rerank/v1;id=...;dir=...");
  }
  const std::string dir(spec.substr(dir_at + 5));
  FE_ASSIGN_OR_RETURN(auto e, Open(dir));
  if (e->spec() != spec) {
    return Status::InvalidArgument(
        "reranker folder " + dir + " changed since the spec was made (id " +
        std::string(spec.substr(id_at + 3, 16)) + " then, " + Hex64(e->fingerprint_) + " now)");
  }
  return e;
}

std::string CrossEncoder::spec() const {
  return fmt::format("{}id={};dir={}", kSpecPrefix, Hex64(fingerprint_), dir_);
}

Result<CrossEncoder::PairTokens> CrossEncoder::TokenizePair(std::string_view query,
                                                            std::string_view passage,
                                                            size_t max_tokens) const {
  for (const auto& [text, which] : {std::pair{query, "query"}, std::pair{passage, "passage"}}) {
    if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
      return Status::InvalidArgument(fmt::format("invalid UTF-8 at byte {} of the {}", bad, which));
    }
  }
  const size_t limit = max_tokens == 0 ? max_tokens_ : std::min(max_tokens, max_tokens_);
  // Not stripped: sentence-transformers v4 hands the texts to the tokenizer
  // as they are (2.x / 3.x stripped them).
  PairTokens t;
  if (unigram_) {
    FE_ASSIGN_OR_RETURN(auto enc, unigram_->EncodePair(query, passage, limit));
    t = {std::move(enc.ids), std::move(enc.tokens), std::move(enc.type_ids)};
  } else {
    FE_ASSIGN_OR_RETURN(auto enc, wordpiece_->EncodePair(query, passage, limit));
    t = {std::move(enc.ids), std::move(enc.tokens), std::move(enc.type_ids)};
  }
  return t;
}

Status CrossEncoder::Score(std::span<const std::string_view> queries,
                           std::span<const std::string_view> passages, std::span<float> logits,
                           std::span<float> scores) const {
  const size_t n = queries.size();
  if (passages.size() != n || logits.size() != n || scores.size() != n) {
    return Status::InvalidArgument(
        fmt::format("{} queries, {} passages, {} logits and {} scores: they must be as many",
                    queries.size(), passages.size(), logits.size(), scores.size()));
  }
  std::vector<std::vector<int32_t>> ids(n), types(n);
  std::vector<Status> failed(n);
  const auto count = static_cast<int64_t>(n);
#pragma omp parallel for schedule(dynamic, 4) if (n >= 16)
  for (int64_t i = 0; i < count; ++i) {
    auto t = TokenizePair(queries[static_cast<size_t>(i)], passages[static_cast<size_t>(i)]);
    if (!t.ok()) {
      failed[static_cast<size_t>(i)] = t.status();
      continue;
    }
    ids[static_cast<size_t>(i)] = std::move(t->ids);
    types[static_cast<size_t>(i)] = std::move(t->type_ids);
  }
  for (size_t i = 0; i < n; ++i) {
    if (!failed[i].ok()) {
      return Status::InvalidArgument(fmt::format("pair {}: {}", i, failed[i].message()));
    }
  }
  const auto h = static_cast<size_t>(model_->hidden_size());
  std::vector<float> states;
  for (size_t first = 0; first < n;) {
    size_t last = first, tokens = 0;
    while (last < n && (last == first || tokens + ids[last].size() <= kForwardTokens)) {
      tokens += ids[last].size();
      ++last;
    }
    states.assign((last - first) * h, 0.0f);
    FE_RETURN_IF_ERROR(model_->FirstTokenStates(std::span(ids).subspan(first, last - first),
                                                std::span(types).subspan(first, last - first),
                                                states));
    for (size_t i = first; i < last; ++i) {
      const double logit = head_->Logit(states.data() + (i - first) * h);
      logits[i] = static_cast<float>(logit);
      double score = logit;
      if (activation_ == Activation::kSigmoid) score = 1.0 / (1.0 + std::exp(-logit));
      if (activation_ == Activation::kTanh) score = std::tanh(logit);
      scores[i] = static_cast<float>(score);
    }
    first = last;
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
