#include "encoders/transformer_encoder.h"

#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "encoders/bert_model.h"
#include "encoders/model_files.h"
#include "encoders/model_folder.h"
#include "encoders/wordpiece_tokenizer.h"

namespace flashembed::encoders {
namespace {

constexpr std::string_view kSpecPrefix = "bert/v1;";
// Tokens per forward call: large enough for the products to run at full
// speed, small enough to bound activation memory (about 60 MB for a
// MiniLM-sized model) whatever the batch.
constexpr size_t kForwardTokens = 4096;

// Hash64 chained over the files that define the model's output.
Result<uint64_t> Fingerprint(const ModelFolder& folder) {
  const std::string files[] = {folder.dir + "/config.json",
                               folder.vocab_path,
                               folder.tokenizer_json_path,
                               folder.weights_path,
                               folder.dir + "/1_Pooling/config.json",
                               folder.dir + "/modules.json",
                               folder.dir + "/sentence_bert_config.json"};
  FE_ASSIGN_OR_RETURN(uint64_t h, FingerprintFiles(files));
  // Without tokenizer.json, tokenizer_config.json's settings shape the
  // tokens; mixed in only when they differ from the defaults, so folders
  // whose tokens did not change keep their identity.
  if (folder.tokenizer_json_path.empty() &&
      (!folder.do_lower_case || !folder.tokenize_chinese_chars ||
       folder.strip_accents.value_or(folder.do_lower_case) != folder.do_lower_case)) {
    // Booleans as 1 / 0 ({:d}), as std::to_string wrote them: the text is hashed.
    const std::string settings = fmt::format(
        "lower={:d};accents={:d};chinese={:d}", folder.do_lower_case,
        folder.strip_accents.value_or(folder.do_lower_case), folder.tokenize_chinese_chars);
    h = Hash64(settings, h);
  }
  return h;
}

// WordPiece's continuing_subword_prefix: tokenizer.json's model setting, else
// "##" (BertWordPieceTokenizer's default, which vocab.txt folders use). The
// tokenizer has read the same file, so a parse error here is unexpected.
Result<std::string> SubwordPrefix(const ModelFolder& folder) {
  constexpr std::string_view kDefault = "##";
  if (folder.tokenizer_json_path.empty()) return std::string(kDefault);
  std::ifstream in(folder.tokenizer_json_path, std::ios::binary);
  if (!in) return Status::IOError(folder.tokenizer_json_path + ": cannot be read");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(folder.tokenizer_json_path + ": not a JSON object");
  }
  const auto model = j.find("model");
  if (model == j.end() || !model->is_object()) return std::string(kDefault);
  const auto prefix = model->find("continuing_subword_prefix");
  if (prefix == model->end() || prefix->is_null()) return std::string(kDefault);
  if (!prefix->is_string()) {
    return Status::InvalidArgument(folder.tokenizer_json_path +
                                   ": model.continuing_subword_prefix is not a string");
  }
  return prefix->get<std::string>();
}

}  // namespace

Result<std::vector<TokenSpan>> WordPieceTokenSpans(const WordPieceTokenizer& tokenizer,
                                                   std::string_view subword_prefix,
                                                   std::string_view text) {
  FE_ASSIGN_OR_RETURN(const WordPieceTokenizer::Encoding enc, tokenizer.Encode(text, 0));
  // enc is [CLS] tokens... [SEP].
  std::vector<TokenSpan> spans;
  if (enc.offsets.size() <= 2) return spans;
  spans.reserve(enc.offsets.size() - 2);
  for (size_t i = 1; i + 1 < enc.offsets.size(); ++i) {
    const auto [begin, end] = enc.offsets[i];
    // Only WordPiece's later pieces of a word carry the prefix ('#' is
    // punctuation, so no word starts with it). A piece need not touch the one
    // before: a mark strip_accents removed may lie between them. Tokens made
    // from one character (a Hangul syllable, NFD-split into jamo) share its
    // bytes.
    const bool continues_word =
        !spans.empty() &&
        (begin < spans.back().end || std::string_view(enc.tokens[i]).starts_with(subword_prefix));
    spans.push_back({begin, end, continues_word});
  }
  return spans;
}

Result<std::vector<TokenSpan>> TransformerEncoder::TokenSpans(std::string_view text) const {
  return WordPieceTokenSpans(*tokenizer_, subword_prefix_, text);
}

TransformerEncoder::~TransformerEncoder() = default;

Result<std::unique_ptr<TransformerEncoder>> TransformerEncoder::Open(const std::string& dir) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(dir, ec).lexically_normal().string();
  if (ec) abs = dir;
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  FE_ASSIGN_OR_RETURN(ModelFolder folder, ModelFolder::Read(abs));
  std::unique_ptr<TransformerEncoder> e(new TransformerEncoder());
  e->dir_ = abs;
  FE_ASSIGN_OR_RETURN(e->fingerprint_, Fingerprint(folder));
  WordPieceTokenizer::VocabSettings vocab_settings;
  vocab_settings.lowercase = folder.do_lower_case;
  vocab_settings.strip_accents = folder.strip_accents;
  vocab_settings.handle_chinese_chars = folder.tokenize_chinese_chars;
  FE_ASSIGN_OR_RETURN(
      e->tokenizer_,
      WordPieceTokenizer::FromFiles(folder.vocab_path, folder.tokenizer_json_path, vocab_settings));
  if (e->tokenizer_->vocab_size() > static_cast<size_t>(folder.config.vocab_size)) {
    return Status::InvalidArgument(
        fmt::format("{}: the tokenizer has {} tokens but config.json declares vocab_size {}", abs,
                    e->tokenizer_->vocab_size(), folder.config.vocab_size));
  }
  FE_ASSIGN_OR_RETURN(e->subword_prefix_, SubwordPrefix(folder));
  FE_ASSIGN_OR_RETURN(e->model_, BertModel::Load(folder));
  e->max_tokens_ = static_cast<size_t>(e->model_->max_tokens());
  return e;
}

Result<std::unique_ptr<TransformerEncoder>> TransformerEncoder::FromSpec(std::string_view spec) {
  if (spec.substr(0, kSpecPrefix.size()) != kSpecPrefix) {
    return Status::NotSupported("encoder spec '" + std::string(spec) +
                                "': this build reads bert/v1 only");
  }
  const size_t dir_at = spec.find(";dir=");
  const size_t id_at = spec.find(";id=");
  const size_t dim_at = spec.find(";dim=");
  if (dir_at == std::string_view::npos || id_at == std::string_view::npos ||
      dim_at == std::string_view::npos) {
    return Status::InvalidArgument("malformed encoder spec '" + std::string(spec) +
                                   "': expected bert/v1;id=...;dim=...;dir=...");
  }
  const std::string dir(spec.substr(dir_at + 5));
  const std::string_view id = spec.substr(id_at + 4, 16);
  FE_ASSIGN_OR_RETURN(auto e, Open(dir));
  const std::string want = std::string(spec), got = e->spec();
  if (got != want) {
    return Status::InvalidArgument(
        "model folder " + dir + " changed since the encoder spec was made (id " + std::string(id) +
        " then, " + Hex64(e->fingerprint_) + " now); vectors of two different models must not mix");
  }
  return e;
}

int TransformerEncoder::dim() const { return model_->dim(); }

std::string TransformerEncoder::spec() const {
  return fmt::format("{}id={};dim={};dir={}", kSpecPrefix, Hex64(fingerprint_), dim(), dir_);
}

Result<TextEncoder::Tokenization> TransformerEncoder::Tokenize(std::string_view text,
                                                               size_t max_tokens) const {
  FE_ASSIGN_OR_RETURN(auto enc, tokenizer_->Encode(text, max_tokens));
  return Tokenization{std::move(enc.ids), std::move(enc.tokens)};
}

Status TransformerEncoder::Encode(std::span<const std::string_view> texts,
                                  std::span<float> out) const {
  // A text the normaliser empties (empty, whitespace, controls, zero-width
  // characters) is [CLS] [SEP] and embedded as such, as sentence-transformers
  // and Hugging Face do.
  return EncodeInTokenBatches(
      texts, static_cast<size_t>(dim()), kForwardTokens, out,
      [&](std::string_view text) -> Result<std::vector<int32_t>> {
        FE_ASSIGN_OR_RETURN(auto enc, tokenizer_->Encode(text, max_tokens_));
        return std::move(enc.ids);
      },
      [&](std::span<const std::vector<int32_t>> ids, std::span<float> rows) {
        return model_->Forward(ids, rows);
      });
}

}  // namespace flashembed::encoders
