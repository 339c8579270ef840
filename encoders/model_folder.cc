#include "encoders/model_folder.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace flashembed::encoders {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

// Parses `path` as JSON of the type of `absent` (an object or an array).
// NotFound if missing and `required`, else `absent`; InvalidArgument naming
// the file if malformed or of another type.
Result<json> ReadJson(const fs::path& path, bool required, json absent = json::object()) {
  if (!IsFile(path)) {
    if (!required) return absent;
    return Status::NotFound(path.string() + ": no such file");
  }
  std::ifstream in(path, std::ios::binary);
  std::stringstream buffer;
  buffer << in.rdbuf();
  if (!in.good() && !in.eof()) return Status::IOError(path.string() + ": cannot be read");
  json j = json::parse(buffer.str(), nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(path.string() + ": not valid JSON");
  if (j.type() != absent.type()) {
    return Status::InvalidArgument(path.string() + ": must be a JSON " +
                                   (absent.is_array() ? "array" : "object"));
  }
  return j;
}

// Reads an integer field in [min, max]; absent optional fields keep `*out`.
Status ReadInt(const json& j, const fs::path& file, const char* key, bool required, int min,
               int max, int* out) {
  if (!j.contains(key)) {
    if (!required) return Status::OK();
    return Status::InvalidArgument(file.string() + ": missing \"" + key + "\"");
  }
  const json& v = j[key];
  if (!v.is_number_integer() || v.get<int64_t>() < min || v.get<int64_t>() > max) {
    return Status::InvalidArgument(fmt::format("{}: \"{}\" must be an integer in {}..{}, got {}",
                                               file.string(), key, min, max, v.dump()));
  }
  *out = v.get<int>();
  return Status::OK();
}

Result<BertConfig> ReadConfig(const fs::path& path) {
  FE_ASSIGN_OR_RETURN(json j, ReadJson(path, /*required=*/true));
  auto bad = [&](const std::string& what) {
    return Status::InvalidArgument(path.string() + ": " + what);
  };
  BertConfig c;
  if (j.contains("model_type") && j["model_type"].is_string()) {
    c.model_type = j["model_type"].get<std::string>();
    if (c.model_type != "bert" && c.model_type != "xlm-roberta") {
      return bad("model_type \"" + c.model_type +
                 "\" is not supported (bert and xlm-roberta architectures only)");
    }
  }
  if (c.model_type == "xlm-roberta") {
    // XLMRobertaEmbeddings: positions start after the padding index.
    c.pad_token_id = 1;
    FE_RETURN_IF_ERROR(ReadInt(j, path, "pad_token_id", false, 0, 1 << 20, &c.pad_token_id));
    c.position_offset = c.pad_token_id + 1;
    c.type_vocab_size = 1;
  }
  FE_RETURN_IF_ERROR(ReadInt(j, path, "vocab_size", true, 1, 10'000'000, &c.vocab_size));
  FE_RETURN_IF_ERROR(ReadInt(j, path, "hidden_size", true, 1, 65536, &c.hidden_size));
  FE_RETURN_IF_ERROR(ReadInt(j, path, "num_hidden_layers", true, 1, 1000, &c.num_hidden_layers));
  FE_RETURN_IF_ERROR(
      ReadInt(j, path, "num_attention_heads", true, 1, 1024, &c.num_attention_heads));
  FE_RETURN_IF_ERROR(ReadInt(j, path, "intermediate_size", true, 1, 1 << 20, &c.intermediate_size));
  FE_RETURN_IF_ERROR(
      ReadInt(j, path, "max_position_embeddings", true, 1, 1 << 20, &c.max_position_embeddings));
  FE_RETURN_IF_ERROR(ReadInt(j, path, "type_vocab_size", false, 1, 1024, &c.type_vocab_size));
  if (c.max_position_embeddings <= c.position_offset + 1) {
    return bad(
        fmt::format("max_position_embeddings {} leaves no room after the {} positions "
                    "an {} model skips",
                    c.max_position_embeddings, c.position_offset, c.model_type));
  }
  if (c.hidden_size % c.num_attention_heads != 0) {
    return bad(fmt::format("hidden_size {} is not a multiple of num_attention_heads {}",
                           c.hidden_size, c.num_attention_heads));
  }
  if (j.contains("layer_norm_eps")) {
    const json& eps = j["layer_norm_eps"];
    if (!eps.is_number() || eps.get<double>() <= 0 || eps.get<double>() > 1) {
      return bad("\"layer_norm_eps\" must be a number in (0, 1], got " + eps.dump());
    }
    c.layer_norm_eps = eps.get<double>();
  }
  if (j.contains("hidden_act")) {
    const json& act = j["hidden_act"];
    const std::string name = act.is_string() ? act.get<std::string>() : act.dump();
    if (name == "gelu")
      c.hidden_act = Activation::kGelu;
    else if (name == "gelu_new" || name == "gelu_pytorch_tanh")
      c.hidden_act = Activation::kGeluTanh;
    else if (name == "relu")
      c.hidden_act = Activation::kRelu;
    else
      return bad("hidden_act " + name + " is not supported (gelu, gelu_new, relu)");
  }
  if (j.contains("position_embedding_type") && j["position_embedding_type"] != "absolute") {
    return bad("position_embedding_type " + j["position_embedding_type"].dump() +
               " is not supported (absolute only)");
  }
  return c;
}

// A sentence-transformers Dense module's folder: config.json and the
// weights (model.safetensors; the older pytorch_model.bin is refused).
Result<DenseModule> ReadDense(const fs::path& dir) {
  const fs::path config_path = dir / "config.json";
  FE_ASSIGN_OR_RETURN(json j, ReadJson(config_path, /*required=*/true));
  DenseModule d;
  FE_RETURN_IF_ERROR(ReadInt(j, config_path, "in_features", true, 1, 1 << 20, &d.in_features));
  FE_RETURN_IF_ERROR(ReadInt(j, config_path, "out_features", true, 1, 1 << 20, &d.out_features));
  if (j.contains("bias")) {
    if (!j["bias"].is_boolean()) {
      return Status::InvalidArgument(config_path.string() + ": \"bias\" must be true or false");
    }
    d.bias = j["bias"].get<bool>();
  }
  const std::string act = j.value("activation_function", "torch.nn.modules.activation.Tanh");
  if (act == "torch.nn.modules.linear.Identity") {
    d.activation = DenseActivation::kIdentity;
  } else if (act == "torch.nn.modules.activation.Tanh") {
    d.activation = DenseActivation::kTanh;
  } else if (act == "torch.nn.modules.activation.ReLU") {
    d.activation = DenseActivation::kRelu;
  } else {
    return Status::InvalidArgument(config_path.string() + ": activation_function \"" + act +
                                   "\" is not supported (Identity, Tanh, ReLU)");
  }
  if (!IsFile(dir / "model.safetensors")) {
    return Status::NotFound((dir / "model.safetensors").string() +
                            ": no such file (Dense weights must be in safetensors format)");
  }
  d.weights_path = (dir / "model.safetensors").string();
  return d;
}

// Pooling, Dense and normalisation from sentence-transformers' files, if
// present.
Status ReadSentenceTransformers(const fs::path& dir, ModelFolder* m) {
  FE_ASSIGN_OR_RETURN(json modules,
                      ReadJson(dir / "modules.json", /*required=*/false, json::array()));
  std::string pooling_dir = "1_Pooling";
  const std::string modules_path = (dir / "modules.json").string();
  for (const json& mod : modules) {
    if (!mod.is_object() || !mod.contains("type") || !mod["type"].is_string()) {
      return Status::InvalidArgument(modules_path + ": every module needs a \"type\" string");
    }
    const std::string type = mod["type"].get<std::string>();
    const std::string path = mod.contains("path") && mod["path"].is_string()
                                 ? mod["path"].get<std::string>()
                                 : std::string();
    if (m->normalize) {
      return Status::InvalidArgument(modules_path + ": module " + type +
                                     " after Normalize is not supported");
    }
    if (type == "sentence_transformers.models.Normalize") m->normalize = true;
    if (type == "sentence_transformers.models.Pooling" && !path.empty()) pooling_dir = path;
    if (type == "sentence_transformers.models.Dense") {
      FE_ASSIGN_OR_RETURN(DenseModule dense, ReadDense(dir / path));
      m->dense.push_back(std::move(dense));
    }
  }
  int width = m->config.hidden_size;
  for (const DenseModule& dense : m->dense) {
    if (dense.in_features != width) {
      return Status::InvalidArgument(
          fmt::format("{}: in_features {} does not match the {} floats it is given",
                      dense.weights_path, dense.in_features, width));
    }
    width = dense.out_features;
  }
  const fs::path pooling_path = dir / pooling_dir / "config.json";
  FE_ASSIGN_OR_RETURN(json pooling, ReadJson(pooling_path, /*required=*/false));
  auto flag = [&](const char* key) {
    return pooling.contains(key) && pooling[key].is_boolean() && pooling[key].get<bool>();
  };
  const int modes = flag("pooling_mode_mean_tokens") + flag("pooling_mode_cls_token") +
                    flag("pooling_mode_max_tokens");
  for (const char* unsupported : {"pooling_mode_mean_sqrt_len_tokens",
                                  "pooling_mode_weightedmean_tokens", "pooling_mode_lasttoken"}) {
    if (flag(unsupported)) {
      return Status::InvalidArgument(pooling_path.string() + ": " + unsupported +
                                     " is not supported (mean, cls or max)");
    }
  }
  if (modes > 1) {
    return Status::InvalidArgument(pooling_path.string() +
                                   ": more than one pooling mode is set; use exactly one");
  }
  if (flag("pooling_mode_cls_token")) m->pooling = Pooling::kCls;
  if (flag("pooling_mode_max_tokens")) m->pooling = Pooling::kMax;

  const fs::path sbert_path = dir / "sentence_bert_config.json";
  FE_ASSIGN_OR_RETURN(json sbert, ReadJson(sbert_path, /*required=*/false));
  FE_RETURN_IF_ERROR(ReadInt(sbert, sbert_path, "max_seq_length", false, 2,
                             m->config.max_position_embeddings - m->config.position_offset,
                             &m->max_seq_length));
  // sentence-transformers would lowercase the text with Python's str.lower()
  // before tokenizing; refused rather than approximated.
  if (sbert.is_object() && sbert.contains("do_lower_case") && sbert["do_lower_case"] == true) {
    return Status::NotSupported(sbert_path.string() +
                                ": \"do_lower_case\": true is not supported (lowercase in the "
                                "tokenizer's settings instead)");
  }
  return Status::OK();
}

// transformers' BertTokenizer settings, if tokenizer_config.json is present.
Status ReadTokenizerConfig(const fs::path& dir, ModelFolder* m) {
  const fs::path path = dir / "tokenizer_config.json";
  FE_ASSIGN_OR_RETURN(json j, ReadJson(path, /*required=*/false));
  if (!j.is_object()) return Status::OK();
  auto flag = [&](const char* key, bool* out) -> Status {
    if (!j.contains(key) || j[key].is_null()) return Status::OK();
    if (!j[key].is_boolean()) {
      return Status::InvalidArgument(path.string() + ": \"" + key +
                                     "\" must be true or false, got " + j[key].dump());
    }
    *out = j[key].get<bool>();
    return Status::OK();
  };
  FE_RETURN_IF_ERROR(flag("do_lower_case", &m->do_lower_case));
  FE_RETURN_IF_ERROR(flag("tokenize_chinese_chars", &m->tokenize_chinese_chars));
  if (j.contains("strip_accents") && !j["strip_accents"].is_null()) {
    bool strip = false;
    FE_RETURN_IF_ERROR(flag("strip_accents", &strip));
    m->strip_accents = strip;
  }
  return Status::OK();
}

}  // namespace

Result<ModelFolder> ModelFolder::Read(const std::string& dir_name) {
  const fs::path dir(dir_name);
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) return Status::NotFound(dir_name + ": no such model folder");
  ModelFolder m;
  m.dir = dir_name;
  FE_ASSIGN_OR_RETURN(m.config, ReadConfig(dir / "config.json"));
  if (IsFile(dir / "vocab.txt")) m.vocab_path = (dir / "vocab.txt").string();
  if (IsFile(dir / "tokenizer.json")) m.tokenizer_json_path = (dir / "tokenizer.json").string();
  if (m.vocab_path.empty() && m.tokenizer_json_path.empty()) {
    return Status::NotFound(dir_name + ": neither vocab.txt nor tokenizer.json is present");
  }
  if (!IsFile(dir / "model.safetensors")) {
    return Status::NotFound((dir / "model.safetensors").string() +
                            ": no such file (weights must be in safetensors format)");
  }
  m.weights_path = (dir / "model.safetensors").string();
  m.max_seq_length = m.config.max_position_embeddings - m.config.position_offset;
  FE_RETURN_IF_ERROR(ReadSentenceTransformers(dir, &m));
  FE_RETURN_IF_ERROR(ReadTokenizerConfig(dir, &m));
  return m;
}

}  // namespace flashembed::encoders
