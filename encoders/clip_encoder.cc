#include "encoders/clip_encoder.h"

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "encoders/bpe_tokenizer.h"
#include "encoders/clip_model.h"
#include "encoders/image.h"
#include "encoders/model_files.h"

namespace flashembed::encoders {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kSpecPrefix = "clip/v1;";
constexpr std::string_view kStClipModule = "sentence_transformers.models.CLIPModel";
// Text tokens per forward call, as for BERT: bounded activation memory.
constexpr size_t kForwardTokens = 4096;
// Images per forward call: 16 ViT-B/32 images are 800 tokens, about 40 MB of
// activations; enough rows for the products to run at full speed.
constexpr size_t kForwardImages = 16;

bool IsFile(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

Result<nlohmann::json> ReadJsonFile(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path.string() + ": no such file");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument(path.string() + ": not valid JSON");
  return j;
}

// The folder of the model files: `dir` itself, or the module folder a
// sentence-transformers modules.json names for its CLIPModel module. ""
// when `dir` is not a CLIP folder of either layout.
std::string ClipModelDir(const fs::path& dir) {
  if (IsFile(dir / "modules.json")) {
    auto modules = ReadJsonFile(dir / "modules.json");
    if (modules.ok() && modules->is_array() && !modules->empty() && (*modules)[0].is_object() &&
        (*modules)[0].value("type", "") == kStClipModule) {
      return (dir / (*modules)[0].value("path", "")).lexically_normal().string();
    }
  }
  auto config = ReadJsonFile(dir / "config.json");
  if (config.ok() && config->is_object() && config->value("model_type", "") == "clip") {
    return dir.string();
  }
  return "";
}

Result<uint64_t> Fingerprint(const std::string& dir, const std::string& model_dir) {
  const std::string files[] = {model_dir + "/config.json", model_dir + "/tokenizer.json",
                               model_dir + "/preprocessor_config.json",
                               model_dir + "/model.safetensors", dir + "/modules.json"};
  return FingerprintFiles(files);
}

}  // namespace

ClipEncoder::ClipEncoder() = default;
ClipEncoder::~ClipEncoder() = default;

bool ClipEncoder::IsClipFolder(const std::string& dir) { return !ClipModelDir(dir).empty(); }

Result<std::unique_ptr<ClipEncoder>> ClipEncoder::Open(const std::string& dir) {
  std::error_code ec;
  std::string abs = fs::absolute(dir, ec).lexically_normal().string();
  if (ec) abs = dir;
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  if (!fs::is_directory(abs, ec)) return Status::NotFound(abs + ": no such model folder");
  const std::string model_dir = ClipModelDir(abs);
  if (model_dir.empty()) {
    return Status::InvalidArgument(
        abs +
        ": not a CLIP folder (config.json with model_type \"clip\", or a modules.json whose "
        "first module is a sentence-transformers CLIPModel)");
  }
  for (const char* file : {"config.json", "tokenizer.json", "preprocessor_config.json"}) {
    if (!IsFile(model_dir + "/" + file)) {
      return Status::NotFound(model_dir + "/" + file + ": no such file (a CLIP folder needs it)");
    }
  }
  if (!IsFile(model_dir + "/model.safetensors")) {
    if (IsFile(model_dir + "/pytorch_model.bin")) {
      return Status::InvalidArgument(
          model_dir +
          ": has pytorch_model.bin but no model.safetensors; only safetensors weights are read "
          "(save the model again with safe_serialization=True)");
    }
    return Status::NotFound(model_dir + "/model.safetensors: no such file");
  }
  std::unique_ptr<ClipEncoder> e(new ClipEncoder());
  e->dir_ = abs;
  e->model_dir_ = model_dir;
  FE_ASSIGN_OR_RETURN(e->fingerprint_, Fingerprint(abs, model_dir));
  FE_ASSIGN_OR_RETURN(const ClipConfig config, ClipConfig::FromFile(model_dir + "/config.json"));
  FE_ASSIGN_OR_RETURN(e->tokenizer_, BpeTokenizer::FromFile(model_dir + "/tokenizer.json"));
  if (e->tokenizer_->vocab_size() > static_cast<size_t>(config.vocab_size)) {
    return Status::InvalidArgument(
        fmt::format("{}: the tokenizer has {} tokens but config.json declares vocab_size {}",
                    model_dir, e->tokenizer_->vocab_size(), config.vocab_size));
  }
  FE_ASSIGN_OR_RETURN(ImagePreprocessor pre,
                      ImagePreprocessor::FromFile(model_dir + "/preprocessor_config.json"));
  if (pre.out_height() != config.image_size || pre.out_width() != config.image_size ||
      config.num_channels != 3) {
    return Status::InvalidArgument(fmt::format(
        "{}/preprocessor_config.json: makes {}x{} images, but the model takes {} channels of "
        "{}x{} (config.json vision_config)",
        model_dir, pre.out_width(), pre.out_height(), config.num_channels, config.image_size,
        config.image_size));
  }
  e->preprocessor_ = std::make_unique<ImagePreprocessor>(std::move(pre));
  FE_ASSIGN_OR_RETURN(e->model_, ClipModel::Load(config, model_dir + "/model.safetensors"));
  return e;
}

Result<std::unique_ptr<ClipEncoder>> ClipEncoder::FromSpec(std::string_view spec) {
  if (spec.substr(0, kSpecPrefix.size()) != kSpecPrefix) {
    return Status::NotSupported("encoder spec '" + std::string(spec) +
                                "': this build reads clip/v1 only");
  }
  const size_t dir_at = spec.find(";dir=");
  const size_t id_at = spec.find(";id=");
  if (dir_at == std::string_view::npos || id_at == std::string_view::npos ||
      spec.find(";dim=") == std::string_view::npos) {
    return Status::InvalidArgument("malformed encoder spec '" + std::string(spec) +
                                   "': expected clip/v1;id=...;dim=...;dir=...");
  }
  const std::string dir(spec.substr(dir_at + 5));
  FE_ASSIGN_OR_RETURN(auto e, Open(dir));
  if (e->spec() != spec) {
    return Status::InvalidArgument(
        "model folder " + dir + " changed since the encoder spec was made (id " +
        std::string(spec.substr(id_at + 4, 16)) + " then, " + Hex64(e->fingerprint_) +
        " now); vectors of two different models must not mix");
  }
  return e;
}

int ClipEncoder::dim() const { return model_->dim(); }

std::string ClipEncoder::spec() const {
  return fmt::format("{}id={};dim={};dir={}", kSpecPrefix, Hex64(fingerprint_), dim(), dir_);
}

size_t ClipEncoder::max_tokens() const {
  return static_cast<size_t>(model_->config().max_position_embeddings);
}

Result<TextEncoder::Tokenization> ClipEncoder::Tokenize(std::string_view text,
                                                        size_t max_tokens) const {
  FE_ASSIGN_OR_RETURN(auto enc, tokenizer_->Encode(text, max_tokens));
  return Tokenization{std::move(enc.ids), std::move(enc.tokens)};
}

Result<std::vector<TokenSpan>> ClipEncoder::TokenSpans(std::string_view text) const {
  FE_ASSIGN_OR_RETURN(const auto enc, tokenizer_->Encode(text, 0));
  std::vector<TokenSpan> spans;
  // enc is <|startoftext|> tokens... <|endoftext|>.
  for (size_t i = 1; i + 1 < enc.offsets.size(); ++i) {
    const bool continues_word = !spans.empty() && !enc.tokens[i - 1].ends_with("</w>");
    spans.push_back({enc.offsets[i].first, enc.offsets[i].second, continues_word});
  }
  return spans;
}

Status ClipEncoder::Encode(std::span<const std::string_view> texts, std::span<float> out) const {
  return EncodeInTokenBatches(
      texts.size(), "text", static_cast<size_t>(dim()), kForwardTokens, out,
      [&](size_t i) -> Result<std::vector<int32_t>> {
        FE_ASSIGN_OR_RETURN(auto enc, tokenizer_->Encode(texts[i], max_tokens()));
        return std::move(enc.ids);
      },
      [&](std::span<const std::vector<int32_t>> ids, std::span<float> rows) {
        return model_->EncodeText(ids, rows);
      });
}

Status ClipEncoder::EncodeImages(std::span<const Image> images, std::span<float> out) const {
  const size_t d = static_cast<size_t>(dim());
  if (out.size() != images.size() * d) {
    return Status::InvalidArgument(fmt::format("output holds {} floats, {} images need {}",
                                               out.size(), images.size(), images.size() * d));
  }
  const size_t side = static_cast<size_t>(model_->config().image_size);
  const size_t floats = 3 * side * side;
  std::vector<float> pixels;
  for (size_t first = 0; first < images.size(); first += kForwardImages) {
    const int count = static_cast<int>(std::min(kForwardImages, images.size() - first));
    pixels.resize(count * floats);
    std::vector<Status> failed(count);
#pragma omp parallel for schedule(dynamic, 1) if (count > 1)
    for (int i = 0; i < count; ++i) {
      failed[i] =
          preprocessor_->Apply(images[first + i], std::span(pixels).subspan(i * floats, floats));
    }
    for (int i = 0; i < count; ++i) {
      if (!failed[i].ok()) {
        return Status(failed[i].code(),
                      fmt::format("image {}: {}", first + i, failed[i].message()));
      }
    }
    FE_RETURN_IF_ERROR(model_->EncodeImages(pixels, count, out.subspan(first * d, count * d)));
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
