// The `reembed` verb: Database::Reembed with a progress line on a terminal
// and a summary; `--abort` deletes an interrupted run's copy.
#include <unistd.h>

#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli_verbs.h"

namespace flashembed::cli {
namespace {

struct ReembedArgs {
  std::string encoder;
  std::string model;
  int dim = 0;
  std::optional<std::string> query_prefix;
  std::optional<std::string> document_prefix;
  size_t chunk_tokens = 0;
  std::optional<size_t> overlap_tokens;
  bool abort = false;
  bool quiet = false;
  std::string progress = "auto";
};

// One progress line: the round's bar, then its records and documents.
std::string ProgressLine(const ReembedProgress& p) {
  const uint64_t total = p.records + p.documents;
  const double frac = p.training  ? p.trained
                      : total > 0 ? double(p.records_done + p.documents_done) / double(total)
                                  : 1.0;
  constexpr size_t kBar = 30;
  const size_t filled = static_cast<size_t>(frac * kBar);
  if (p.training) {
    return fmt::format("[{}{}] {:3d}%  training the encoder on the collection's texts",
                       std::string(filled, '#'), std::string(kBar - filled, '.'),
                       static_cast<int>(frac * 100));
  }
  std::string line =
      fmt::format("[{}{}] {:3d}%  round {}{}: {}/{} records", std::string(filled, '#'),
                  std::string(kBar - filled, '.'), static_cast<int>(frac * 100), p.round,
                  p.switching ? " (last, writes wait)" : "", p.records_done, p.records);
  if (p.documents > 0) line += fmt::format(", {}/{} documents", p.documents_done, p.documents);
  return line;
}

int RunReembed(const GlobalOptions& global, const ReembedArgs& args) {
  if (args.progress != "auto" && args.progress != "always" && args.progress != "never") {
    return ReportUsageError("--progress must be auto, always or never");
  }
  if (!args.encoder.empty() && !args.model.empty()) {
    return ReportUsageError("give --encoder or --model, not both");
  }
  const std::string encoder = !args.model.empty() ? "model:" + args.model : args.encoder;
  if (args.abort && !encoder.empty()) {
    return ReportUsageError("--abort takes no encoder: it deletes an interrupted run's copy");
  }
  if (!args.abort && encoder.empty()) {
    return ReportUsageError("reembed needs the new encoder: --encoder hash or --model DIR");
  }
  if (encoder == "none") {
    return ReportUsageError("--encoder none embeds nothing: re-embedding needs an encoder");
  }
  auto db = OpenDatabase(global.db, /*create_if_missing=*/false);
  if (!db.ok()) return ReportError(db.status());
  if (args.abort) {
    Status s = (*db)->AbortReembed(global.collection);
    if (!s.ok()) return ReportError(s);
    if (global.json) {
      std::cout << DumpJson({{"collection", global.collection}, {"aborted", true}}) << "\n";
    } else {
      std::cout << "deleted the copy of the interrupted re-embedding of \"" << global.collection
                << "\"\n";
    }
    return kExitOk;
  }
  ReembedOptions options;
  options.encoder = encoder;
  options.dim = args.dim;
  options.query_prefix = args.query_prefix;
  options.document_prefix = args.document_prefix;
  options.chunking.chunk_tokens = args.chunk_tokens;
  options.chunking.overlap_tokens = args.overlap_tokens;
  const bool tty = isatty(STDERR_FILENO) != 0;
  const bool show = !args.quiet && (args.progress == "always" || (args.progress == "auto" && tty));
  if (show) {
    options.progress = [](const ReembedProgress& p) {
      std::cerr << "\r" << ProgressLine(p) << "\x1b[K" << std::flush;
    };
  }
  auto summary = (*db)->Reembed(global.collection, options);
  if (show) std::cerr << "\n";
  if (!summary.ok()) {
    const Status& s = summary.status();
    if (s.code() == StatusCode::kCancelled) {
      return ReportError(s.message() + " (run the same command again to resume)",
                         kExitRuntimeError);
    }
    return ReportError(s);
  }
  if (args.quiet) return kExitOk;
  if (global.json) {
    std::cout << DumpJson({{"collection", global.collection},
                           {"encoder", summary->encoder_spec},
                           {"rounds", summary->rounds},
                           {"records", summary->records},
                           {"documents", summary->documents},
                           {"removed", summary->removed},
                           {"resumed", summary->resumed},
                           {"seconds", summary->seconds}})
              << "\n";
  } else {
    std::cout << fmt::format(
        "re-embedded \"{}\" with {}: {} records and {} documents in {} rounds, {:.1f} s{}\n",
        global.collection, summary->encoder_spec, summary->records, summary->documents,
        summary->rounds, summary->seconds,
        summary->resumed > 0 ? fmt::format(" ({} kept from the interrupted run)", summary->resumed)
                             : "");
  }
  return kExitOk;
}

}  // namespace

Verb AddReembedVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ReembedArgs>();
  CLI::App* cmd = app.add_subcommand(
      "reembed",
      "Embed every record and long document of a collection again with a new encoder, then "
      "switch the collection to it.");
  cmd->footer(
      "Long documents are cut again for the new encoder. The old vectors stay in use until the "
      "switch, which is one atomic write; in a server (POST /v1/collections/reembed) searches "
      "and writes go on meanwhile and writes are carried over. Interrupted (Ctrl-C, kill -9), "
      "the collection is unchanged: run the same command again to resume, or --abort to delete "
      "the partial copy. Records stored with a vector and no text cannot be embedded again and "
      "stop the run.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--encoder", args->encoder,
                  "the new encoder: hash, or learned (trained first on the collection's own "
                  "texts, its model stored with the collection; see docs/BENCHMARKS.md)");
  cmd->add_option("--model", args->model, "the new encoder: a local Hugging Face model folder")
      ->type_name("DIR");
  cmd->add_option("--dim", args->dim, "dimension of the new encoder (0 = its default)");
  cmd->add_option("--query-prefix", args->query_prefix,
                  "new text prepended to queries before embedding (default: keep)");
  cmd->add_option("--document-prefix", args->document_prefix,
                  "new text prepended to documents before embedding (default: keep)");
  cmd->add_option("--chunk-tokens", args->chunk_tokens,
                  "model tokens per chunk of long documents; 0 = the model's maximum, at most 256");
  cmd->add_option("--overlap-tokens", args->overlap_tokens,
                  "tokens consecutive chunks share (default 15% of --chunk-tokens)");
  cmd->add_flag("--abort", args->abort,
                "delete the copy an interrupted re-embedding left (the collection is unchanged)");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress and no summary");
  cmd->add_option("--progress", args->progress,
                  "progress line on stderr: auto (on a terminal), always, never");
  return {cmd, [&global, args] { return RunReembed(global, *args); }};
}

}  // namespace flashembed::cli
