#include "encoders/static_encoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/utf8.h"
#include "encoders/model_files.h"
#include "encoders/safetensors.h"
#include "encoders/transformer_encoder.h"
#include "encoders/unigram_tokenizer.h"
#include "encoders/wordpiece_tokenizer.h"

namespace flashembed::encoders {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;

constexpr std::string_view kSpecPrefix = "model2vec/v1;";
// model2vec's default max_length.
constexpr size_t kDefaultMaxLength = 512;
// Below this many texts Encode stays on the calling thread.
constexpr size_t kParallelTexts = 64;

Result<json> ReadJsonFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": no such file");
  json j = json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(path + ": not a JSON object");
  }
  return j;
}

// The first `n` code points of `text` (Python's text[:n]); all of it if
// shorter. REQUIRES: valid UTF-8.
std::string_view FirstCodePoints(std::string_view text, size_t n) {
  size_t pos = 0;
  for (size_t k = 0; k < n && pos < text.size(); ++k) pos += DecodeUtf8(text, pos).length;
  return text.substr(0, pos);
}

}  // namespace

bool StaticEncoder::IsStaticFolder(const std::string& dir) {
  auto config = ReadJsonFile(dir + "/config.json");
  if (!config.ok()) return false;
  const auto type = config->find("model_type");
  return type != config->end() && *type == "model2vec";
}

StaticEncoder::~StaticEncoder() = default;

Result<std::unique_ptr<StaticEncoder>> StaticEncoder::Open(const std::string& dir) {
  std::error_code ec;
  std::string abs = fs::absolute(dir, ec).lexically_normal().string();
  if (ec) abs = dir;
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  if (!fs::is_directory(abs, ec)) return Status::NotFound(abs + ": no such model folder");
  const std::string config_path = abs + "/config.json";
  const std::string tokenizer_path = abs + "/tokenizer.json";
  const std::string weights_path = abs + "/model.safetensors";
  std::unique_ptr<StaticEncoder> e(new StaticEncoder());
  e->dir_ = abs;

  // config.json: only normalize and max_length change the output.
  FE_ASSIGN_OR_RETURN(const json config, ReadJsonFile(config_path));
  if (config.value("model_type", json()) != "model2vec") {
    return Status::InvalidArgument(config_path + ": \"model_type\" is not \"model2vec\"");
  }
  const json& normalize = config.value("normalize", json(false));
  if (!normalize.is_boolean()) {
    return Status::InvalidArgument(config_path + ": \"normalize\" must be true or false");
  }
  e->normalize_ = normalize.get<bool>();
  e->max_length_ = kDefaultMaxLength;
  if (config.contains("max_length")) {
    const json& max_length = config["max_length"];
    if (max_length.is_null()) {
      e->max_length_.reset();
    } else if (max_length.is_number_integer() && max_length.get<int64_t>() >= 1 &&
               max_length.get<int64_t>() <= (int64_t{1} << 30)) {
      e->max_length_ = max_length.get<size_t>();
    } else {
      return Status::InvalidArgument(config_path +
                                     ": \"max_length\" must be null or an integer "
                                     "in 1..2^30, got " +
                                     max_length.dump());
    }
  }

  // tokenizer.json: WordPiece or Unigram.
  FE_ASSIGN_OR_RETURN(const json tokenizer, ReadJsonFile(tokenizer_path));
  const json model = tokenizer.value("model", json::object());
  // Older WordPiece files omit the type.
  const std::string type = model.is_object() ? model.value("type", std::string("WordPiece")) : "";
  std::vector<std::string_view> vocab;
  if (type == "Unigram") {
    FE_ASSIGN_OR_RETURN(e->unigram_, UnigramTokenizer::FromFile(tokenizer_path));
    e->vocab_size_ = e->unigram_->vocab_size();
    e->unk_id_ = e->unigram_->unk_id();
    for (size_t id = 0; id < e->vocab_size_; ++id) {
      vocab.push_back(e->unigram_->IdToToken(static_cast<int32_t>(id)));
    }
  } else if (type == "WordPiece") {
    FE_ASSIGN_OR_RETURN(e->wordpiece_, WordPieceTokenizer::FromFiles("", tokenizer_path));
    e->vocab_size_ = e->wordpiece_->vocab_size();
    e->unk_id_ = e->wordpiece_->unk_id();
    e->subword_prefix_ = model.value("continuing_subword_prefix", std::string("##"));
    for (size_t id = 0; id < e->vocab_size_; ++id) {
      vocab.push_back(e->wordpiece_->IdToToken(static_cast<int32_t>(id)));
    }
  } else {
    return Status::InvalidArgument(tokenizer_path + ": a " + (type.empty() ? "?" : type) +
                                   " tokenizer is not supported for model2vec models (WordPiece "
                                   "or Unigram)");
  }
  // median_token_length: numpy's median of the tokens' lengths in code
  // points (the mean of the two middle ones for an even count), rounded down.
  std::vector<size_t> lengths;
  lengths.reserve(vocab.size());
  for (std::string_view token : vocab) {
    if (token.empty()) continue;  // an id the vocabulary skips
    lengths.push_back(Utf8Length(token).value_or(token.size()));
  }
  if (lengths.empty()) return Status::InvalidArgument(tokenizer_path + ": empty vocabulary");
  std::sort(lengths.begin(), lengths.end());
  const size_t mid = lengths.size() / 2;
  e->median_token_length_ =
      lengths.size() % 2 ? lengths[mid] : (lengths[mid - 1] + lengths[mid]) / 2;

  // model.safetensors: embeddings, and the optional mapping and weights.
  FE_ASSIGN_OR_RETURN(auto file, SafeTensorsFile::Open(weights_path));
  const TensorInfo* table = file->Find("embeddings");
  if (table == nullptr) {
    return Status::InvalidArgument(weights_path + ": missing tensor \"embeddings\"");
  }
  if (table->shape.size() != 2 || table->shape[0] < 1 || table->shape[1] < 1 ||
      table->shape[1] > 65536) {
    return Status::InvalidArgument(weights_path +
                                   ": tensor \"embeddings\" must be [rows, dim] with 1 <= dim "
                                   "<= 65536");
  }
  const int64_t rows = table->shape[0];
  e->dim_ = static_cast<int>(table->shape[1]);
  FE_ASSIGN_OR_RETURN(e->embeddings_, file->ReadNumbersAsFloat32("embeddings"));
  for (float x : e->embeddings_) {
    if (!std::isfinite(x)) {
      return Status::InvalidArgument(weights_path +
                                     ": tensor \"embeddings\" holds a NaN or infinite value");
    }
  }
  const auto vocab_rows = static_cast<int64_t>(e->vocab_size_);
  if (file->Find("mapping") != nullptr) {
    FE_ASSIGN_OR_RETURN(e->mapping_, file->ReadIntegers("mapping"));
    if (static_cast<int64_t>(e->mapping_.size()) < vocab_rows) {
      return Status::InvalidArgument(
          fmt::format("{}: tensor \"mapping\" has {} entries for a vocabulary of {}", weights_path,
                      e->mapping_.size(), vocab_rows));
    }
    for (size_t id = 0; id < e->mapping_.size(); ++id) {
      if (e->mapping_[id] < 0 || e->mapping_[id] >= rows) {
        return Status::InvalidArgument(
            fmt::format("{}: tensor \"mapping\" maps token {} to row {}, outside the {} rows of "
                        "\"embeddings\"",
                        weights_path, id, e->mapping_[id], rows));
      }
    }
  } else if (rows != vocab_rows) {
    return Status::InvalidArgument(fmt::format(
        "{}: tensor \"embeddings\" has {} rows but the tokenizer has {} tokens (and there is no "
        "\"mapping\")",
        weights_path, rows, vocab_rows));
  }
  if (file->Find("weights") != nullptr) {
    FE_ASSIGN_OR_RETURN(e->weights_, file->ReadNumbersAsFloat32("weights"));
    if (static_cast<int64_t>(e->weights_.size()) < vocab_rows) {
      return Status::InvalidArgument(
          fmt::format("{}: tensor \"weights\" has {} entries for a vocabulary of {}", weights_path,
                      e->weights_.size(), vocab_rows));
    }
  }
  const std::string files[] = {config_path, tokenizer_path, weights_path};
  FE_ASSIGN_OR_RETURN(e->fingerprint_, FingerprintFiles(files));
  return e;
}

Result<std::unique_ptr<StaticEncoder>> StaticEncoder::FromSpec(std::string_view spec) {
  if (!spec.starts_with(kSpecPrefix)) {
    return Status::NotSupported("encoder spec '" + std::string(spec) +
                                "': this build reads model2vec/v1 only");
  }
  const size_t dir_at = spec.find(";dir=");
  const size_t id_at = spec.find(";id=");
  if (dir_at == std::string_view::npos || id_at == std::string_view::npos) {
    return Status::InvalidArgument("malformed encoder spec '" + std::string(spec) +
                                   "': expected model2vec/v1;id=...;dim=...;dir=...");
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

std::string StaticEncoder::spec() const {
  return fmt::format("{}id={};dim={};dir={}", kSpecPrefix, Hex64(fingerprint_), dim_, dir_);
}

Result<std::vector<int32_t>> StaticEncoder::Ids(std::string_view text) const {
  if (const size_t bad = FindInvalidUtf8(text); bad != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("invalid UTF-8 at byte {} of a {}-byte text", bad, text.size()));
  }
  if (max_length_) text = FirstCodePoints(text, *max_length_ * median_token_length_);
  std::vector<int32_t> ids;
  if (unigram_) {
    FE_ASSIGN_OR_RETURN(const UnigramTokenizer::Encoding enc, unigram_->Encode(text, 0));
    for (size_t i = 0; i < enc.ids.size(); ++i) {
      if (enc.sequence_ids[i] >= 0 && enc.ids[i] != unk_id_) ids.push_back(enc.ids[i]);
    }
  } else {
    FE_ASSIGN_OR_RETURN(const WordPieceTokenizer::Encoding enc, wordpiece_->Encode(text, 0));
    // Without [CLS] and [SEP] (model2vec tokenizes without special tokens).
    for (size_t i = 1; i + 1 < enc.ids.size(); ++i) {
      if (enc.ids[i] != unk_id_) ids.push_back(enc.ids[i]);
    }
  }
  if (max_length_ && ids.size() > *max_length_) ids.resize(*max_length_);
  return ids;
}

Result<TextEncoder::Tokenization> StaticEncoder::Tokenize(std::string_view text,
                                                          size_t max_tokens) const {
  FE_ASSIGN_OR_RETURN(std::vector<int32_t> ids, Ids(text));
  if (max_tokens != 0 && ids.size() > max_tokens) ids.resize(max_tokens);
  Tokenization t;
  t.tokens.reserve(ids.size());
  for (int32_t id : ids) {
    t.tokens.emplace_back(unigram_ ? unigram_->IdToToken(id) : wordpiece_->IdToToken(id));
  }
  t.ids = std::move(ids);
  return t;
}

Result<std::vector<TokenSpan>> StaticEncoder::TokenSpans(std::string_view text) const {
  if (unigram_) return UnigramTokenSpans(*unigram_, text);
  return WordPieceTokenSpans(*wordpiece_, subword_prefix_, text);
}

Status StaticEncoder::Encode(std::span<const std::string_view> texts, std::span<float> out) const {
  return EncodeIds(
      texts.size(), "text", [&](size_t i) { return Ids(texts[i]); }, out);
}

Status StaticEncoder::EncodeTokenIds(std::span<const std::vector<int32_t>> ids,
                                     std::span<float> out) const {
  return EncodeIds(
      ids.size(), "token sequence",
      [&](size_t i) -> Result<std::vector<int32_t>> {
        std::vector<int32_t> seq = ids[i];
        for (size_t k = 0; k < seq.size(); ++k) {
          if (seq[k] < 0 || static_cast<size_t>(seq[k]) >= vocab_size_) {
            return Status::InvalidArgument(
                fmt::format("token id {} at position {} is not in the vocabulary (ids 0..{})",
                            seq[k], k, vocab_size_ - 1));
          }
        }
        if (max_length_ && seq.size() > *max_length_) seq.resize(*max_length_);
        return seq;
      },
      out);
}

Status StaticEncoder::EncodeIds(size_t count, std::string_view item,
                                const std::function<Result<std::vector<int32_t>>(size_t)>& get_ids,
                                std::span<float> out) const {
  const auto d = static_cast<size_t>(dim_);
  if (out.size() != count * d) {
    return Status::InvalidArgument(
        fmt::format("output holds {} floats, {} {}s need {}", out.size(), count, item, count * d));
  }
  std::vector<Status> failed(count);
  const auto n = static_cast<int64_t>(count);
#pragma omp parallel for schedule(dynamic, 16) if (count >= kParallelTexts)
  for (int64_t i = 0; i < n; ++i) {
    auto ids = get_ids(static_cast<size_t>(i));
    float* row = out.data() + static_cast<size_t>(i) * d;
    if (!ids.ok()) {
      failed[static_cast<size_t>(i)] = ids.status();
      continue;
    }
    std::vector<double> sum(d, 0.0);
    for (int32_t id : *ids) {
      const auto token = static_cast<size_t>(id);
      const size_t r = mapping_.empty() ? token : static_cast<size_t>(mapping_[token]);
      const double w = weights_.empty() ? 1.0 : weights_[token];
      const float* v = embeddings_.data() + r * d;
      for (size_t k = 0; k < d; ++k) sum[k] += w * v[k];
    }
    // The mean (zeros for no ids), then model2vec's normalisation.
    const double mean_of = ids->empty() ? 1.0 : static_cast<double>(ids->size());
    double norm = 0;
    for (size_t k = 0; k < d; ++k) {
      sum[k] /= mean_of;
      norm += sum[k] * sum[k];
    }
    const double scale = normalize_ ? 1.0 / (std::sqrt(norm) + 1e-32) : 1.0;
    for (size_t k = 0; k < d; ++k) row[k] = static_cast<float>(sum[k] * scale);
  }
  for (size_t i = 0; i < failed.size(); ++i) {
    if (!failed[i].ok()) {
      return Status::InvalidArgument(fmt::format("{} {}: {}", item, i, failed[i].message()));
    }
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
