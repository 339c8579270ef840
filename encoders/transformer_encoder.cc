#include "encoders/transformer_encoder.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "base/hash.h"
#include "base/utf8.h"
#include "encoders/bert_model.h"
#include "encoders/model_files.h"
#include "encoders/model_folder.h"
#include "encoders/unigram_tokenizer.h"
#include "encoders/wordpiece_tokenizer.h"

namespace flashembed::encoders {
namespace {

constexpr std::string_view kSpecPrefix = "bert/v1;";
constexpr std::string_view kXlmrSpecPrefix = "xlmr/v1;";
// Tokens per forward call: large enough for the products to run at full
// speed, small enough to bound activation memory (about 60 MB for a
// MiniLM-sized model) whatever the batch.
constexpr size_t kForwardTokens = 4096;

// Hash64 chained over the files that define the model's output.
Result<uint64_t> Fingerprint(const ModelFolder& folder) {
  std::vector<std::string> files = {folder.dir + "/config.json",
                                    folder.vocab_path,
                                    folder.tokenizer_json_path,
                                    folder.weights_path,
                                    folder.dir + "/1_Pooling/config.json",
                                    folder.dir + "/modules.json",
                                    folder.dir + "/sentence_bert_config.json"};
  // Dense modules' files only when there are any, so that folders without
  // them keep the identity they had before Dense was supported.
  for (const DenseModule& dense : folder.dense) {
    const std::string module_dir = dense.weights_path.substr(0, dense.weights_path.rfind('/'));
    files.push_back(module_dir + "/config.json");
    files.push_back(dense.weights_path);
  }
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

// tokenizer.json's model.type ("" without a tokenizer.json; WordPiece files
// may omit it).
Result<std::string> TokenizerModelType(const ModelFolder& folder) {
  if (folder.tokenizer_json_path.empty()) return std::string();
  std::ifstream in(folder.tokenizer_json_path, std::ios::binary);
  if (!in) return Status::IOError(folder.tokenizer_json_path + ": cannot be read");
  const nlohmann::json j = nlohmann::json::parse(in, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(folder.tokenizer_json_path + ": not a JSON object");
  }
  const auto model = j.find("model");
  if (model == j.end() || !model->is_object()) return std::string();
  const auto type = model->find("type");
  if (type == model->end() || !type->is_string()) return std::string();
  return type->get<std::string>();
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

Result<std::vector<TokenSpan>> UnigramTokenSpans(const UnigramTokenizer& tokenizer,
                                                 std::string_view text) {
  FE_ASSIGN_OR_RETURN(const UnigramTokenizer::Encoding enc, tokenizer.Encode(text, 0));
  std::vector<TokenSpan> spans;
  spans.reserve(enc.offsets.size());
  for (size_t i = 0; i < enc.offsets.size(); ++i) {
    if (enc.sequence_ids[i] < 0) continue;  // special tokens
    const auto [begin, end] = enc.offsets[i];
    // Metaspace cuts the normalized text before every word-start mark, and
    // the model segments each piece on its own; a token without the mark
    // continues the word before it. Tokens from one char share its bytes.
    const bool continues_word =
        !spans.empty() && (begin < spans.back().end ||
                           !std::string_view(enc.tokens[i]).starts_with(tokenizer.word_start()));
    spans.push_back({begin, end, continues_word});
  }
  return spans;
}

Result<std::vector<TokenSpan>> TransformerEncoder::TokenSpans(std::string_view text) const {
  if (unigram_) return UnigramTokenSpans(*unigram_, text);
  return WordPieceTokenSpans(*tokenizer_, subword_prefix_, text);
}

TransformerEncoder::~TransformerEncoder() = default;

Result<std::unique_ptr<TransformerEncoder>> TransformerEncoder::Open(const std::string& dir,
                                                                     int dim) {
  std::error_code ec;
  std::string abs = std::filesystem::absolute(dir, ec).lexically_normal().string();
  if (ec) abs = dir;
  while (abs.size() > 1 && abs.back() == '/') abs.pop_back();
  FE_ASSIGN_OR_RETURN(ModelFolder folder, ModelFolder::Read(abs));
  std::unique_ptr<TransformerEncoder> e(new TransformerEncoder());
  e->dir_ = abs;
  FE_ASSIGN_OR_RETURN(e->fingerprint_, Fingerprint(folder));
  FE_ASSIGN_OR_RETURN(const std::string tokenizer_type, TokenizerModelType(folder));
  size_t vocab_size = 0;
  if (tokenizer_type == "Unigram") {
    FE_ASSIGN_OR_RETURN(e->unigram_, UnigramTokenizer::FromFile(folder.tokenizer_json_path));
    vocab_size = e->unigram_->vocab_size();
  } else if (!tokenizer_type.empty() && tokenizer_type != "WordPiece") {
    return Status::InvalidArgument(folder.tokenizer_json_path + ": a " + tokenizer_type +
                                   " tokenizer is not supported for text models (WordPiece, as "
                                   "BERT has, or Unigram, as XLM-RoBERTa has)");
  } else if (folder.config.model_type == "xlm-roberta") {
    return Status::InvalidArgument(
        abs + ": an xlm-roberta model needs a tokenizer.json with a Unigram model" +
        (folder.tokenizer_json_path.empty() ? std::string(" (the folder has none)") : ""));
  } else {
    WordPieceTokenizer::VocabSettings vocab_settings;
    vocab_settings.lowercase = folder.do_lower_case;
    vocab_settings.strip_accents = folder.strip_accents;
    vocab_settings.handle_chinese_chars = folder.tokenize_chinese_chars;
    FE_ASSIGN_OR_RETURN(e->tokenizer_,
                        WordPieceTokenizer::FromFiles(folder.vocab_path, folder.tokenizer_json_path,
                                                      vocab_settings));
    vocab_size = e->tokenizer_->vocab_size();
    FE_ASSIGN_OR_RETURN(e->subword_prefix_, SubwordPrefix(folder));
  }
  if (vocab_size > static_cast<size_t>(folder.config.vocab_size)) {
    return Status::InvalidArgument(
        fmt::format("{}: the tokenizer has {} tokens but config.json declares vocab_size {}", abs,
                    vocab_size, folder.config.vocab_size));
  }
  e->spec_prefix_ = folder.config.model_type == "xlm-roberta" ? kXlmrSpecPrefix : kSpecPrefix;
  FE_ASSIGN_OR_RETURN(e->model_, BertModel::Load(folder));
  e->max_tokens_ = static_cast<size_t>(e->model_->max_tokens());
  if (dim > e->model_->dim()) {
    return Status::InvalidArgument(fmt::format(
        "dim {} is larger than the model's {} ({}); a Matryoshka model can be cut to fewer "
        "dimensions, never more",
        dim, e->model_->dim(), abs));
  }
  if (dim > 0 && dim < e->model_->dim()) {
    e->truncated_dim_ = dim;
    e->renormalize_ = folder.normalize;
  }
  return e;
}

Result<std::unique_ptr<TransformerEncoder>> TransformerEncoder::FromSpec(std::string_view spec) {
  if (!spec.starts_with(kSpecPrefix) && !spec.starts_with(kXlmrSpecPrefix)) {
    return Status::NotSupported("encoder spec '" + std::string(spec) +
                                "': this build reads bert/v1 and xlmr/v1 only");
  }
  const size_t dir_at = spec.find(";dir=");
  const size_t id_at = spec.find(";id=");
  const size_t dim_at = spec.find(";dim=");
  if (dir_at == std::string_view::npos || id_at == std::string_view::npos ||
      dim_at == std::string_view::npos) {
    return Status::InvalidArgument("malformed encoder spec '" + std::string(spec) +
                                   "': expected bert/v1 or xlmr/v1;id=...;dim=...;dir=...");
  }
  const std::string dir(spec.substr(dir_at + 5));
  const std::string_view id = spec.substr(id_at + 4, 16);
  int dim = 0;
  const std::string_view dim_text = spec.substr(dim_at + 5, dir_at - dim_at - 5);
  for (const char c : dim_text) {
    if (c < '0' || c > '9' || dim > (1 << 20)) {
      return Status::InvalidArgument("malformed encoder spec '" + std::string(spec) +
                                     "': dim is not a number");
    }
    dim = dim * 10 + (c - '0');
  }
  FE_ASSIGN_OR_RETURN(auto e, Open(dir, dim));
  const std::string want = std::string(spec), got = e->spec();
  if (got != want) {
    return Status::InvalidArgument(
        "model folder " + dir + " changed since the encoder spec was made (id " + std::string(id) +
        " then, " + Hex64(e->fingerprint_) + " now); vectors of two different models must not mix");
  }
  return e;
}

int TransformerEncoder::dim() const { return truncated_dim_ > 0 ? truncated_dim_ : model_->dim(); }

std::string TransformerEncoder::spec() const {
  return fmt::format("{}id={};dim={};dir={}", spec_prefix_, Hex64(fingerprint_), dim(), dir_);
}

Result<TextEncoder::Tokenization> TransformerEncoder::Tokenize(std::string_view text,
                                                               size_t max_tokens) const {
  if (FindInvalidUtf8(text) == std::string_view::npos) text = StripLikePython(text);
  if (unigram_) {
    FE_ASSIGN_OR_RETURN(auto enc, unigram_->Encode(text, max_tokens));
    return Tokenization{std::move(enc.ids), std::move(enc.tokens)};
  }
  FE_ASSIGN_OR_RETURN(auto enc, tokenizer_->Encode(text, max_tokens));
  return Tokenization{std::move(enc.ids), std::move(enc.tokens)};
}

Result<TextEncoder::Tokenization> TransformerEncoder::TokenizePair(std::string_view first,
                                                                   std::string_view second,
                                                                   size_t max_tokens) const {
  // As the tokenizer encodes a pair (a cross-encoder's input): not stripped.
  if (unigram_) {
    FE_ASSIGN_OR_RETURN(auto enc, unigram_->EncodePair(first, second, max_tokens));
    return Tokenization{std::move(enc.ids), std::move(enc.tokens), std::move(enc.type_ids)};
  }
  FE_ASSIGN_OR_RETURN(auto enc, tokenizer_->EncodePair(first, second, max_tokens));
  return Tokenization{std::move(enc.ids), std::move(enc.tokens), std::move(enc.type_ids)};
}

Status TransformerEncoder::Encode(std::span<const std::string_view> texts,
                                  std::span<float> out) const {
  // A text the normaliser empties (empty, whitespace, controls, zero-width
  // characters) is [CLS] [SEP] (<s> </s>) and embedded as such, as
  // sentence-transformers and Hugging Face do.
  return EncodeSequences(
      texts.size(), "text",
      [&](size_t i) -> Result<std::vector<int32_t>> {
        std::string_view text = texts[i];
        // Invalid UTF-8 is left for the tokenizer to name, at its offset.
        if (FindInvalidUtf8(text) == std::string_view::npos) text = StripLikePython(text);
        if (unigram_) {
          FE_ASSIGN_OR_RETURN(auto enc, unigram_->Encode(text, max_tokens_));
          return std::move(enc.ids);
        }
        FE_ASSIGN_OR_RETURN(auto enc, tokenizer_->Encode(text, max_tokens_));
        return std::move(enc.ids);
      },
      out);
}

Status TransformerEncoder::EncodeTokenIds(std::span<const std::vector<int32_t>> ids,
                                          std::span<float> out) const {
  return EncodeSequences(
      ids.size(), "token sequence",
      [&](size_t i) -> Result<std::vector<int32_t>> {
        if (unigram_) {
          FE_ASSIGN_OR_RETURN(auto enc, unigram_->EncodeIds(ids[i], max_tokens_));
          return std::move(enc.ids);
        }
        FE_ASSIGN_OR_RETURN(auto enc, tokenizer_->EncodeIds(ids[i], max_tokens_));
        return std::move(enc.ids);
      },
      out);
}

Status TransformerEncoder::EncodeSequences(
    size_t count, std::string_view item,
    const std::function<Result<std::vector<int32_t>>(size_t)>& tokenize,
    std::span<float> out) const {
  if (truncated_dim_ == 0) return EncodeFull(count, item, tokenize, out);
  // Matryoshka: the model's first truncated_dim_ dimensions, unit length
  // again if the model's own vectors are.
  const auto full = static_cast<size_t>(model_->dim());
  const auto cut = static_cast<size_t>(truncated_dim_);
  if (out.size() != count * cut) {
    return Status::InvalidArgument(fmt::format("output holds {} floats, {} {}s need {}", out.size(),
                                               count, item, count * cut));
  }
  std::vector<float> rows(count * full);
  FE_RETURN_IF_ERROR(EncodeFull(count, item, tokenize, rows));
  for (size_t i = 0; i < count; ++i) {
    float* dst = out.data() + i * cut;
    std::copy_n(rows.data() + i * full, cut, dst);
    if (!renormalize_) continue;
    double norm = 0;
    for (size_t k = 0; k < cut; ++k) norm += static_cast<double>(dst[k]) * dst[k];
    const float inv = static_cast<float>(1.0 / std::max(std::sqrt(norm), 1e-12));
    for (size_t k = 0; k < cut; ++k) dst[k] *= inv;
  }
  return Status::OK();
}

Status TransformerEncoder::EncodeFull(
    size_t count, std::string_view item,
    const std::function<Result<std::vector<int32_t>>(size_t)>& tokenize,
    std::span<float> out) const {
  return EncodeInTokenBatches(count, item, static_cast<size_t>(model_->dim()), kForwardTokens, out,
                              tokenize,
                              [&](std::span<const std::vector<int32_t>> ids,
                                  std::span<float> rows) { return model_->Forward(ids, rows); });
}

}  // namespace flashembed::encoders
