// The `tokenize` and `embed` verbs: a text model on its own, no database.
// JSON Lines in ({"text": ...} per line, from --input FILE or stdin), one JSON
// line out per input line.
#include <algorithm>
#include <iostream>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "tools/cli_input.h"
#include "tools/cli_verbs.h"

namespace flashembed::cli {
namespace {

struct ModelArgs {
  std::string model;              // Hugging Face folder, or "" with --encoder
  std::string encoder;            // "hash" (embed only)
  std::string input = "-";        // JSON Lines, "-" = stdin
  size_t max_tokens = 0;          // tokenize: truncate like HF max_length; 0 = none
  bool exif_orientation = false;  // embed: images
};

Result<std::unique_ptr<TextModel>> OpenModel(const ModelArgs& args) {
  return TextModel::Open(args.model.empty() ? args.encoder : "model:" + args.model);
}

struct InputTexts {
  std::vector<std::string> texts;
  std::vector<bool> is_image;       // texts[i] is an image file's path (embed only)
  std::vector<std::string> wheres;  // "FILE:LINE" of each text
  // tokenize: the second text of a pair line ({"text", "text_pair"}), if any.
  std::vector<std::optional<std::string>> pairs;
};

// Reads every {"text": ...} line (and with `images`, {"image": "path"}) first,
// so a bad line prints nothing.
Result<InputTexts> ReadTexts(const std::string& path, bool images) {
  InputTexts in;
  FE_RETURN_IF_ERROR(ForEachJsonLine(
      path, [&](const nlohmann::ordered_json& record, const std::string& where, size_t) -> Status {
        if (images && record.is_object() && record.contains("image") && record.contains("text")) {
          return Status::InvalidArgument(where + ": give one of \"text\" and \"image\", not both");
        }
        if (images && record.is_object() && record.contains("image")) {
          if (!record["image"].is_string() || record["image"].get<std::string>().empty()) {
            return Status::InvalidArgument(where + ": \"image\" must be a file path");
          }
          in.texts.push_back(record["image"].get<std::string>());
          in.is_image.push_back(true);
          in.wheres.push_back(where);
          return Status::OK();
        }
        if (!record.is_object() || !record.contains("text") || !record["text"].is_string()) {
          return Status::InvalidArgument(where + (images ? ": expected {\"text\": \"...\"} or "
                                                           "{\"image\": \"path\"}"
                                                         : ": expected {\"text\": \"...\"}"));
        }
        in.texts.push_back(record["text"].get<std::string>());
        in.is_image.push_back(false);
        in.wheres.push_back(where);
        in.pairs.emplace_back();
        if (record.contains("text_pair")) {
          if (images || !record["text_pair"].is_string()) {
            return Status::InvalidArgument(where +
                                           (images ? ": \"text_pair\" is for tokenize and rerank"
                                                   : ": \"text_pair\" must be a string"));
          }
          in.pairs.back() = record["text_pair"].get<std::string>();
        }
        return Status::OK();
      }));
  return in;
}

// rerank's input: {"query", "passage"} or {"text", "text_pair"} per line.
struct InputPairs {
  std::vector<std::string> queries;
  std::vector<std::string> passages;
  std::vector<std::string> wheres;
};

Result<InputPairs> ReadPairs(const std::string& path) {
  InputPairs in;
  FE_RETURN_IF_ERROR(ForEachJsonLine(
      path, [&](const nlohmann::ordered_json& record, const std::string& where, size_t) -> Status {
        const auto both = [&](const char* a, const char* b) {
          return record.is_object() && record.contains(a) && record.contains(b) &&
                 record[a].is_string() && record[b].is_string();
        };
        const char* first = both("query", "passage") ? "query" : "text";
        const char* second = both("query", "passage") ? "passage" : "text_pair";
        if (!both(first, second)) {
          return Status::InvalidArgument(
              where +
              ": expected {\"query\": \"...\", \"passage\": \"...\"} or {\"text\": "
              "\"...\", \"text_pair\": \"...\"}");
        }
        in.queries.push_back(record[first].get<std::string>());
        in.passages.push_back(record[second].get<std::string>());
        in.wheres.push_back(where);
        return Status::OK();
      }));
  return in;
}

// The error of the first text of `batch` the model refuses on its own,
// named by its input line (the model's own message names the text's place
// in the batch, "text N: ...", which means nothing to the user).
Status NameRefusedText(const TextModel& model, const std::vector<std::string>& batch,
                       const std::string* wheres, const Status& batch_error) {
  for (size_t i = 0; i < batch.size(); ++i) {
    auto one = model.Embed({batch[i]});
    if (one.ok()) continue;
    std::string message = one.status().message();
    if (message.rfind("text 0: ", 0) == 0) message.erase(0, 8);
    return Status(one.status().code(), wheres[i] + ": " + message);
  }
  return batch_error;
}

int RunTokenize(const ModelArgs& args) {
  if (args.model.empty()) return ReportUsageError("tokenize needs --model DIR");
  auto model = OpenModel(args);
  if (!model.ok()) return ReportError(model.status());
  auto input = ReadTexts(args.input, /*images=*/false);
  if (!input.ok()) return ReportError(input.status());
  for (size_t i = 0; i < input->texts.size(); ++i) {
    const std::optional<std::string>& pair = input->pairs[i];
    auto tokens = pair ? (*model)->TokenizePair(input->texts[i], *pair, args.max_tokens)
                       : (*model)->Tokenize(input->texts[i], args.max_tokens);
    if (!tokens.ok()) {
      return ReportError(
          Status(tokens.status().code(), input->wheres[i] + ": " + tokens.status().message()));
    }
    nlohmann::ordered_json out;
    out["ids"] = tokens->ids;
    out["tokens"] = tokens->tokens;
    if (pair) out["type_ids"] = tokens->type_ids;
    std::cout << DumpJson(out) << "\n";
  }
  return kExitOk;
}

int RunRerank(const ModelArgs& args) {
  if (args.model.empty()) return ReportUsageError("rerank needs --model DIR");
  auto reranker = Reranker::Open("model:" + args.model);
  if (!reranker.ok()) return ReportError(reranker.status());
  auto input = ReadPairs(args.input);
  if (!input.ok()) return ReportError(input.status());
  // Every pair is scored before the first line is printed: a bad line
  // prints nothing.
  constexpr size_t kBatch = 64;
  std::vector<std::string> lines;
  lines.reserve(input->queries.size());
  for (size_t first = 0; first < input->queries.size(); first += kBatch) {
    const size_t end = std::min(input->queries.size(), first + kBatch);
    const std::vector<std::string> queries(input->queries.begin() + first,
                                           input->queries.begin() + end);
    const std::vector<std::string> passages(input->passages.begin() + first,
                                            input->passages.begin() + end);
    auto scores = (*reranker)->ScorePairs(queries, passages);
    if (!scores.ok()) {
      // Name the input line of the pair the model refuses.
      for (size_t i = first; i < end; ++i) {
        auto one = (*reranker)->ScorePairs({input->queries[i]}, {input->passages[i]});
        if (one.ok()) continue;
        std::string message = one.status().message();
        if (message.rfind("pair 0: ", 0) == 0) message.erase(0, 8);
        return ReportError(Status(one.status().code(), input->wheres[i] + ": " + message));
      }
      return ReportError(scores.status());
    }
    for (const Reranker::Score& s : *scores) {
      nlohmann::ordered_json out;
      out["score"] = FloatToJson(s.score);
      out["logit"] = FloatToJson(s.logit);
      lines.push_back(DumpJson(out));
    }
  }
  for (const std::string& line : lines) std::cout << line << "\n";
  return kExitOk;
}

int RunEmbed(const ModelArgs& args) {
  if (args.model.empty() && args.encoder.empty()) {
    return ReportUsageError("embed needs --model DIR or --encoder hash");
  }
  auto model = OpenModel(args);
  if (!model.ok()) return ReportError(model.status());
  auto input = ReadTexts(args.input, /*images=*/true);
  if (!input.ok()) return ReportError(input.status());
  const std::vector<std::string>& texts = input->texts;
  const auto first_image = std::find(input->is_image.begin(), input->is_image.end(), true);
  if (first_image != input->is_image.end() && !(*model)->embeds_images()) {
    return ReportError(Status::InvalidArgument(
        input->wheres[first_image - input->is_image.begin()] +
        ": an image, but the model embeds texts only (images need a CLIP model folder)"));
  }
  constexpr size_t kBatch = 64;
  const size_t dim = static_cast<size_t>((*model)->dim());
  // Every line is embedded before the first is printed, so a bad line (a
  // text the model refuses, an image that does not decode) prints nothing.
  std::vector<std::string> lines;
  lines.reserve(texts.size());
  for (size_t first = 0; first < texts.size(); first += kBatch) {
    const size_t end = std::min(texts.size(), first + kBatch);
    // The batch's texts together and its images together, printed in input order.
    std::vector<std::string> batch, wheres;
    std::vector<ImageInput> images;
    for (size_t i = first; i < end; ++i) {
      if (!input->is_image[i]) {
        batch.push_back(texts[i]);
        wheres.push_back(input->wheres[i]);
        continue;
      }
      auto image = ReadImageInput(texts[i], args.exif_orientation);
      if (!image.ok()) return ReportError(image.status());
      images.push_back(std::move(*image));
    }
    auto vectors = (*model)->Embed(batch);
    if (!vectors.ok()) {
      return ReportError(NameRefusedText(**model, batch, wheres.data(), vectors.status()));
    }
    Result<std::vector<float>> image_vectors = std::vector<float>();
    if (!images.empty()) image_vectors = (*model)->EmbedImages(images);
    if (!image_vectors.ok()) return ReportError(image_vectors.status());
    size_t next_text = 0, next_image = 0;
    for (size_t i = first; i < end; ++i) {
      const std::vector<float>& from = input->is_image[i] ? *image_vectors : *vectors;
      const size_t row = input->is_image[i] ? next_image++ : next_text++;
      nlohmann::ordered_json out;
      out["vector"] = VectorToJson(std::span<const float>(from).subspan(row * dim, dim));
      lines.push_back(DumpJson(out));
    }
  }
  for (const std::string& line : lines) std::cout << line << "\n";
  return kExitOk;
}

void AddInputOptions(CLI::App& cmd, ModelArgs& args) {
  cmd.add_option("--input", args.input, "JSON Lines file of {\"text\": ...}; - for stdin")
      ->type_name("FILE")
      ->capture_default_str();
}

}  // namespace

Verb AddTokenizeVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ModelArgs>();
  CLI::App* cmd = app.add_subcommand("tokenize", "Print a model's token ids for texts.");
  cmd->footer(
      "Reads JSON Lines {\"text\": ...} and prints {\"ids\": [...], \"tokens\": [...]} per line, "
      "with [CLS] and [SEP], as Hugging Face tokenizers would. A line {\"text\": ..., "
      "\"text_pair\": ...} is encoded as a pair (the tokenizer's pair template, longest_first "
      "truncation) and also prints \"type_ids\".");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--model", args->model, "Hugging Face model folder (vocab.txt/tokenizer.json)")
      ->type_name("DIR");
  cmd->add_option("--max-tokens", args->max_tokens,
                  "truncate to N tokens, special tokens included (HF max_length); 0 = no limit")
      ->type_name("N");
  AddInputOptions(*cmd, *args);
  return {cmd, [args] { return RunTokenize(*args); }};
}

Verb AddRerankVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ModelArgs>();
  CLI::App* cmd =
      app.add_subcommand("rerank", "Score (query, passage) pairs with a cross-encoder.");
  cmd->footer(
      "Reads JSON Lines {\"query\": ..., \"passage\": ...} (or {\"text\": ..., \"text_pair\": "
      "...}) and prints {\"score\": s, \"logit\": l} per line, in order: the model's logit and "
      "its activation (Sigmoid unless the folder's config names Identity), as "
      "sentence-transformers' CrossEncoder.predict gives. The model is a Hugging Face "
      "BertForSequenceClassification or XLMRobertaForSequenceClassification folder of one label "
      "(ms-marco-MiniLM, bge-reranker, ...). Nothing is printed if any line fails.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--model", args->model, "Hugging Face reranker folder")->type_name("DIR");
  AddInputOptions(*cmd, *args);
  return {cmd, [args] { return RunRerank(*args); }};
}

Verb AddEmbedVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ModelArgs>();
  CLI::App* cmd = app.add_subcommand("embed", "Print embedding vectors for texts and images.");
  cmd->footer(
      "Reads JSON Lines {\"text\": ...} (or, with a CLIP model folder, {\"image\": \"path\"}) and "
      "prints {\"vector\": [...]} per line, in order. Texts longer than the model's "
      "max_seq_length are truncated, as sentence-transformers does; images are preprocessed as "
      "the folder's preprocessor_config.json says (CLIPImageProcessor), without EXIF rotation.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--model", args->model, "Hugging Face model folder")->type_name("DIR");
  cmd->add_option("--encoder", args->encoder, "built-in encoder instead of a model: hash")
      ->check(CLI::IsMember({"hash"}))
      ->excludes(cmd->get_option("--model"));
  cmd->add_flag("--exif-orientation", args->exif_orientation, kExifOrientationHelp);
  AddInputOptions(*cmd, *args);
  return {cmd, [args] { return RunEmbed(*args); }};
}

}  // namespace flashembed::cli
