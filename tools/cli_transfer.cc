// The export / import verbs (a collection to and from Milvus bulk-import
// files, transfer/transfer.h) and push / pull (to and from a running Milvus
// over REST, transfer/remote.h), with a progress line on a terminal and a
// summary (JSON when stdout is not a terminal or with --json).
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli_verbs.h"
#include "transfer/remote.h"
#include "transfer/row_schema.h"
#include "transfer/transfer.h"

namespace flashembed::cli {
namespace {

using json = nlohmann::ordered_json;

std::string Megabytes(uint64_t bytes) {
  return fmt::format("{:.1f} MB", static_cast<double>(bytes) / 1e6);
}

std::string Rate(double n, double seconds, const char* unit) {
  const double r = seconds > 0 ? n / seconds : 0;
  if (r >= 1e6) return fmt::format("{:.1f}M {}", r / 1e6, unit);
  if (r >= 1e3) return fmt::format("{:.1f}k {}", r / 1e3, unit);
  return fmt::format("{:.0f} {}", r, unit);
}

double Rounded(double x) {
  return static_cast<double>(static_cast<int64_t>(x * 1000 + 0.5)) / 1000;
}

// Paints "phase [####....] 45% 45000/100000 rows 12.3k rows/s" on stderr,
// at most five times a second; Clear() erases it.
class ProgressLine {
 public:
  ProgressLine(bool show) : show_(show) {}

  transfer::ProgressFn Callback() {
    if (!show_) return nullptr;
    return [this](const transfer::Progress& p) { Paint(p); };
  }

  void Clear() {
    if (painted_) std::cerr << "\r\x1b[K" << std::flush;
    painted_ = false;
  }

 private:
  void Paint(const transfer::Progress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (phase_ != p.phase) {
      phase_ = p.phase;
      phase_start_ = now;
    } else if (now - last_ < std::chrono::milliseconds(200) && p.rows != p.rows_total) {
      return;
    }
    last_ = now;
    const double elapsed = std::chrono::duration<double>(now - phase_start_).count();
    std::string line = phase_;
    if (p.rows_total > 0) {
      const double frac =
          std::min(1.0, static_cast<double>(p.rows) / static_cast<double>(p.rows_total));
      const size_t filled = static_cast<size_t>(frac * 24);
      line += fmt::format(" [{}{}] {:3d}% {}/{} rows", std::string(filled, '#'),
                          std::string(24 - filled, '.'), static_cast<int>(frac * 100), p.rows,
                          p.rows_total);
    } else {
      line += fmt::format(" {} rows", p.rows);
    }
    if (elapsed >= 0.1) line += "  " + Rate(static_cast<double>(p.rows), elapsed, "rows/s");
    if (p.bytes > 0) line += "  " + Megabytes(p.bytes);
    const size_t width = std::max<size_t>(40, TerminalWidth());
    if (line.size() >= width) line.resize(width - 1);
    std::cerr << "\r" << line << "\x1b[K" << std::flush;
    painted_ = true;
  }

  bool show_;
  bool painted_ = false;
  std::string phase_;
  std::chrono::steady_clock::time_point phase_start_;
  std::chrono::steady_clock::time_point last_;
};

// A verb's summary: JSON when stdout is not a terminal or with --json (not
// even that with --quiet alone), else the human text.
void PrintSummary(const GlobalOptions& global, bool quiet, const json& out,
                  const std::string& human) {
  if (global.json || isatty(STDOUT_FILENO) == 0) {
    if (!quiet || global.json) std::cout << DumpJson(out) << "\n";
  } else if (!quiet) {
    std::cout << human;
  }
}

bool ShowProgress(const std::string& mode, bool quiet) {
  if (quiet || mode == "never") return false;
  return mode == "always" || isatty(STDERR_FILENO) != 0;
}

// --- export -------------------------------------------------------------------

struct ExportArgs {
  std::string format = "milvus-json";
  std::string out;
  uint64_t max_file_mb = 256;
  std::string pk_type = "auto";
  std::string milvus_name;
  std::string progress = "auto";
  bool quiet = false;
};

int RunExport(const GlobalOptions& global, const ExportArgs& args) {
  const std::optional<transfer::FileFormat> format = transfer::ParseFileFormat(args.format);
  if (!format) {
    return ReportUsageError("--format must be milvus-json or milvus-numpy, got \"" + args.format +
                            "\"");
  }
  if (args.pk_type != "auto" && args.pk_type != "int64" && args.pk_type != "varchar") {
    return ReportUsageError("--pk-type must be auto, int64 or varchar");
  }
  if (args.progress != "auto" && args.progress != "always" && args.progress != "never") {
    return ReportUsageError("--progress must be auto, always or never");
  }
  if (args.max_file_mb < 1 || args.max_file_mb > 16384) {
    return ReportUsageError("--max-file-mb must be 1..16384 (Milvus reads files of up to 16 GB)");
  }
  if (!args.milvus_name.empty() && transfer::MilvusName(args.milvus_name) != args.milvus_name) {
    return ReportUsageError(
        "--milvus-name must be letters, digits and '_', not starting with a "
        "digit, got \"" +
        args.milvus_name + "\"");
  }
  transfer::ExportOptions options;
  options.format = *format;
  options.out_dir = args.out;
  options.max_file_bytes = args.max_file_mb << 20;
  options.pk_type = args.pk_type == "int64"     ? transfer::PkType::kInt64
                    : args.pk_type == "varchar" ? transfer::PkType::kVarChar
                                                : transfer::PkType::kAuto;
  options.milvus_name = args.milvus_name;
  if (Status s = options.Validate(); !s.ok()) return ReportUsageError(s.message());

  auto db = OpenDatabaseForReading(global.db);
  if (!db.ok()) return ReportError(db.status());
  auto collection = (*db)->GetCollection(global.collection);
  if (!collection.ok()) return ReportError(collection.status());
  ProgressLine progress(ShowProgress(args.progress, args.quiet));
  options.progress = progress.Callback();
  Result<transfer::ExportSummary> summary = transfer::ExportCollection(**collection, options);
  progress.Clear();
  if (!summary.ok()) return ReportError(summary.status());
  const transfer::ExportSummary& s = *summary;
  json files = json::array();
  for (const auto& group : s.groups) files.push_back(group);
  json out = {{"collection", global.collection},
              {"milvus_collection", s.milvus_name},
              {"format", transfer::FileFormatName(*format)},
              {"out", args.out},
              {"pk_type", s.pk_type},
              {"records", s.records},
              {"documents", s.documents},
              {"files", files},
              {"bytes", s.bytes},
              {"seconds", Rounded(s.seconds)},
              {"rows_per_second", Rounded(s.seconds > 0 ? s.records / s.seconds : 0.0)},
              {"mb_per_second", Rounded(s.seconds > 0 ? s.bytes / 1e6 / s.seconds : 0.0)}};
  size_t file_count = 0;
  for (const auto& group : s.groups) file_count += group.size();
  const std::string human = fmt::format(
      "exported {} records{} of \"{}\" to {}: {} files, {} ({})\n"
      "to load it into Milvus: POST collection.json to /v2/vectordb/collections/create, upload "
      "the data folder to the bucket, POST import.json to /v2/vectordb/jobs/import/create\n",
      s.records, s.documents > 0 ? fmt::format(" and {} documents", s.documents) : "",
      global.collection, args.out, file_count, Megabytes(s.bytes),
      Rate(static_cast<double>(s.records), s.seconds, "rows/s"));
  PrintSummary(global, args.quiet, out, human);
  return kExitOk;
}

// --- import -------------------------------------------------------------------

struct ImportArgs {
  std::string format = "milvus-json";
  std::string dir;
  bool upsert = false;
  std::string pk_field = "id";
  std::string vector_field = "vector";
  std::string text_field = "text";
  std::string metric = "cosine";
  size_t batch = 1000;
  std::string progress = "auto";
  bool quiet = false;
};

int RunImport(const GlobalOptions& global, const ImportArgs& args) {
  const std::optional<transfer::FileFormat> format = transfer::ParseFileFormat(args.format);
  if (!format) {
    return ReportUsageError("--format must be milvus-json or milvus-numpy, got \"" + args.format +
                            "\"");
  }
  const std::optional<Metric> metric = ParseMetric(args.metric);
  if (!metric) return ReportUsageError("--metric must be cosine, ip or l2");
  if (args.progress != "auto" && args.progress != "always" && args.progress != "never") {
    return ReportUsageError("--progress must be auto, always or never");
  }
  transfer::ImportOptions options;
  options.format = *format;
  options.dir = args.dir;
  options.upsert = args.upsert;
  options.pk_field = args.pk_field;
  options.vector_field = args.vector_field;
  options.text_field = args.text_field;
  options.metric = *metric;
  options.batch = args.batch;
  if (Status s = options.Validate(); !s.ok()) return ReportUsageError(s.message());

  auto db = OpenDatabase(global.db, /*create_if_missing=*/true);
  if (!db.ok()) return ReportError(db.status());
  ProgressLine progress(ShowProgress(args.progress, args.quiet));
  options.progress = progress.Callback();
  Result<transfer::ImportSummary> summary =
      transfer::ImportCollection(**db, global.collection, options);
  progress.Clear();
  if (!summary.ok()) return ReportError(summary.status());
  const transfer::ImportSummary& s = *summary;
  const double seconds = s.validate_seconds + s.write_seconds;
  json out = {{"collection", global.collection},
              {"format", transfer::FileFormatName(*format)},
              {"dir", args.dir},
              {"created", s.created},
              {"rows", s.rows},
              {"documents", s.documents},
              {"files", s.files},
              {"bytes", s.bytes},
              {"validate_seconds", Rounded(s.validate_seconds)},
              {"write_seconds", Rounded(s.write_seconds)},
              {"seconds", Rounded(seconds)},
              {"rows_per_second", Rounded(seconds > 0 ? s.rows / seconds : 0.0)},
              {"mb_per_second", Rounded(seconds > 0 ? s.bytes / 1e6 / seconds : 0.0)}};
  const std::string human =
      fmt::format("imported {} records{} into {}collection \"{}\" from {} files, {} ({})\n", s.rows,
                  s.documents > 0 ? fmt::format(" ({} documents)", s.documents) : "",
                  s.created ? "new " : "", global.collection, s.files, Megabytes(s.bytes),
                  Rate(static_cast<double>(s.rows), seconds, "rows/s"));
  PrintSummary(global, args.quiet, out, human);
  return kExitOk;
}

// --- push / pull ----------------------------------------------------------------

// Ctrl-C stops a push or pull after the request in flight (what was copied
// stays, and running the command again goes on); a second Ctrl-C kills.
std::atomic<bool> g_interrupted{false};
static_assert(std::atomic<bool>::is_always_lock_free, "set from a signal handler");

extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

class InterruptScope {
 public:
  InterruptScope() {
    g_interrupted.store(false);
    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;  // the handler runs once: a second signal kills
    sigaction(SIGINT, &action, &old_int_);
    sigaction(SIGTERM, &action, &old_term_);
  }
  ~InterruptScope() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {};
  struct sigaction old_term_ {};
};

struct RemoteArgs {
  std::string url;
  std::string token;
  std::string db_name;
  double timeout_seconds = 60;
  int retries = 5;
  std::string milvus_name;
  size_t batch = 1000;
  bool upsert = false;
  std::string progress = "auto";
  bool quiet = false;
  // push
  std::string pk_type = "auto";
  uint64_t max_request_mb = 16;
  // pull
  std::string text_field = "text";
  std::string encoder;
  std::string model;
};

// The token from --token, else $MILVUS_TOKEN (kept out of the process list).
Result<transfer::RemoteOptions> RemoteOf(const RemoteArgs& args) {
  if (args.progress != "auto" && args.progress != "always" && args.progress != "never") {
    return Status::InvalidArgument("--progress must be auto, always or never");
  }
  if (!(args.timeout_seconds >= 0.001) || args.timeout_seconds > 86400) {
    return Status::InvalidArgument("--timeout must be 0.001 .. 86400 seconds");
  }
  transfer::RemoteOptions remote;
  remote.url = args.url;
  remote.token = args.token;
  if (remote.token.empty()) {
    if (const char* env = std::getenv("MILVUS_TOKEN")) remote.token = env;
  }
  remote.db_name = args.db_name;
  remote.timeout_ms = static_cast<int>(args.timeout_seconds * 1000);
  remote.retries = args.retries;
  FE_RETURN_IF_ERROR(remote.Validate());
  return remote;
}

int RunPush(const GlobalOptions& global, const RemoteArgs& args) {
  Result<transfer::RemoteOptions> remote = RemoteOf(args);
  if (!remote.ok()) return ReportUsageError(remote.status().message());
  if (args.pk_type != "auto" && args.pk_type != "int64" && args.pk_type != "varchar") {
    return ReportUsageError("--pk-type must be auto, int64 or varchar");
  }
  if (!args.milvus_name.empty() && transfer::MilvusName(args.milvus_name) != args.milvus_name) {
    return ReportUsageError(
        "--name must be letters, digits and '_', not starting with a digit, "
        "got \"" +
        args.milvus_name + "\"");
  }
  transfer::PushOptions options;
  options.milvus_name = args.milvus_name;
  options.pk_type = args.pk_type == "int64"     ? transfer::PkType::kInt64
                    : args.pk_type == "varchar" ? transfer::PkType::kVarChar
                                                : transfer::PkType::kAuto;
  if (args.max_request_mb < 1 || args.max_request_mb > 1024) {
    return ReportUsageError("--max-request-mb must be 1..1024");
  }
  options.batch = args.batch;
  options.max_request_bytes = args.max_request_mb << 20;
  options.upsert = args.upsert;
  if (Status s = options.Validate(); !s.ok()) return ReportUsageError(s.message());

  auto db = OpenDatabaseForReading(global.db);
  if (!db.ok()) return ReportError(db.status());
  auto collection = (*db)->GetCollection(global.collection);
  if (!collection.ok()) return ReportError(collection.status());
  ProgressLine progress(ShowProgress(args.progress, args.quiet));
  options.progress = progress.Callback();
  InterruptScope interrupts;
  options.cancel = &g_interrupted;
  Result<transfer::PushSummary> summary = transfer::PushCollection(**collection, *remote, options);
  progress.Clear();
  if (!summary.ok()) return ReportError(summary.status());
  const transfer::PushSummary& s = *summary;
  json out = {{"collection", global.collection},
              {"url", args.url},
              {"milvus_collection", s.milvus_name},
              {"created", s.created},
              {"pk_type", s.pk_type},
              {"records", s.records},
              {"sent", s.sent},
              {"skipped", s.skipped},
              {"remote_rows", s.remote_rows},
              {"requests", s.requests},
              {"bytes", s.bytes},
              {"seconds", Rounded(s.seconds)},
              {"rows_per_second", Rounded(s.seconds > 0 ? s.sent / s.seconds : 0.0)}};
  const std::string human = fmt::format(
      "pushed {} of {} records of \"{}\" to {}Milvus collection {} at {}{}; it holds {} rows ({}, "
      "{})\n",
      s.sent, s.records, global.collection, s.created ? "new " : "", s.milvus_name, args.url,
      s.skipped > 0 ? fmt::format(" ({} already there)", s.skipped) : "", s.remote_rows,
      Megabytes(s.bytes), Rate(static_cast<double>(s.sent), s.seconds, "rows/s"));
  PrintSummary(global, args.quiet, out, human);
  return kExitOk;
}

int RunPull(const GlobalOptions& global, const RemoteArgs& args) {
  Result<transfer::RemoteOptions> remote = RemoteOf(args);
  if (!remote.ok()) return ReportUsageError(remote.status().message());
  transfer::PullOptions options;
  options.milvus_name = args.milvus_name;
  options.text_field = args.text_field;
  options.batch = args.batch;
  options.upsert = args.upsert;
  if (!args.encoder.empty() && !args.model.empty()) {
    return ReportUsageError("give --encoder or --model, not both");
  }
  options.encoder = !args.model.empty() ? "model:" + args.model : args.encoder;
  if (Status s = options.Validate(); !s.ok()) return ReportUsageError(s.message());
  // Without -c the local collection takes the Milvus collection's name.
  const std::string local = global.collection_given ? global.collection : args.milvus_name;

  auto db = OpenDatabase(global.db, /*create_if_missing=*/true);
  if (!db.ok()) return ReportError(db.status());
  ProgressLine progress(ShowProgress(args.progress, args.quiet));
  options.progress = progress.Callback();
  InterruptScope interrupts;
  options.cancel = &g_interrupted;
  Result<transfer::PullSummary> summary = transfer::PullCollection(**db, local, *remote, options);
  progress.Clear();
  if (!summary.ok()) return ReportError(summary.status());
  const transfer::PullSummary& s = *summary;
  if (!s.warning.empty()) std::cerr << "flashembed: warning: " << s.warning << "\n";
  json out = {{"collection", local},
              {"url", args.url},
              {"milvus_collection", args.milvus_name},
              {"created", s.created},
              {"remote_rows", s.remote_rows},
              {"received", s.received},
              {"skipped", s.skipped},
              {"requests", s.requests},
              {"bytes", s.bytes},
              {"seconds", Rounded(s.seconds)},
              {"rows_per_second", Rounded(s.seconds > 0 ? s.received / s.seconds : 0.0)}};
  if (!s.warning.empty()) out["warning"] = s.warning;
  const std::string human = fmt::format(
      "pulled {} rows of Milvus collection {} at {} into {}collection \"{}\"{} ({}, {})\n",
      s.received, args.milvus_name, args.url, s.created ? "new " : "", local,
      s.skipped > 0 ? fmt::format(" ({} already there)", s.skipped) : "", Megabytes(s.bytes),
      Rate(static_cast<double>(s.received), s.seconds, "rows/s"));
  PrintSummary(global, args.quiet, out, human);
  return kExitOk;
}

void AddRemoteOptions(CLI::App& cmd, RemoteArgs& args) {
  cmd.add_option("--token", args.token,
                 "Milvus token (\"user:password\" or an API key); default $MILVUS_TOKEN");
  cmd.add_option("--db-name", args.db_name, "Milvus database (default: Milvus's default)");
  cmd.add_option("--timeout", args.timeout_seconds, "seconds per request (default 60)");
  cmd.add_option("--retries", args.retries,
                 "retries of a request that fails in transport (default 5, 0..100)");
  cmd.add_option("--batch", args.batch, "rows per request (1..16384; default 1000)");
  cmd.add_flag("-q,--quiet", args.quiet, "no progress and no summary");
  cmd.add_option("--progress", args.progress,
                 "progress line on stderr: auto (on a terminal), always, never");
}

}  // namespace

Verb AddPushVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<RemoteArgs>();
  CLI::App* cmd = app.add_subcommand(
      "push",
      "Copy a collection into a running Milvus over its REST API v2: creates the Milvus "
      "collection (the body 'export' writes to collection.json) and inserts the records in "
      "batches. Pushing into a collection that exists (an interrupted push) sends only the ids "
      "it does not hold. Long documents' chunks go as rows; their document records stay "
      "behind (use export for those).");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--to", args->url, "Milvus URL, http://host[:port] (port 19530 by default)")
      ->required();
  cmd->add_option("--name", args->milvus_name,
                  "Milvus collection (default: the collection's name, '-' as '_')");
  cmd->add_option("--pk-type", args->pk_type, "auto, int64 or varchar (as for export)");
  cmd->add_option("--max-request-mb", args->max_request_mb,
                  "largest insert request in MiB (default 16)");
  cmd->add_flag("--upsert", args->upsert,
                "send every record with entities/upsert, replacing rows of the same id");
  AddRemoteOptions(*cmd, *args);
  return {cmd, [&global, args] { return RunPush(global, *args); }};
}

Verb AddPullVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<RemoteArgs>();
  CLI::App* cmd = app.add_subcommand(
      "pull",
      "Copy a collection of a running Milvus into a local collection over REST v2, in pages by "
      "primary key, into collection -c (default: the Milvus name), created from the Milvus "
      "description when missing. "
      "Every row is checked as 'import' checks files; each page is written atomically, and "
      "pulling into a collection that exists (an interrupted pull) fetches only the rows it "
      "does not hold.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--from", args->url, "Milvus URL, http://host[:port] (port 19530 by default)")
      ->required();
  cmd->add_option("--name", args->milvus_name, "Milvus collection to copy")->required();
  cmd->add_option("--text-field", args->text_field,
                  "VarChar field kept as the records' text (default text; \"\" for none)");
  cmd->add_flag("--upsert", args->upsert,
                "replace local records of the same id instead of skipping them");
  cmd->add_option("--encoder", args->encoder,
                  "built-in encoder of a collection the pull creates (hash), so text queries "
                  "work; it must be the one that made the vectors (default: vector-only)");
  cmd->add_option("--model", args->model,
                  "Hugging Face model folder as the encoder of a collection the pull creates");
  AddRemoteOptions(*cmd, *args);
  return {cmd, [&global, args] { return RunPull(global, *args); }};
}

Verb AddExportVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ExportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "export",
      "Export a collection as Milvus bulk-import files: collection.json (the collections/create "
      "body), import.json (the jobs/import/create body), the rows as JSON files or NumPy "
      "groups under a random folder name, and flashembed-collection.json / "
      "flashembed-documents.jsonl so that 'flashembed import' restores it exactly.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--format", args->format, "milvus-json (default) or milvus-numpy");
  cmd->add_option("--out", args->out, "folder to write (new, or empty)")->required();
  cmd->add_option("--max-file-mb", args->max_file_mb,
                  "close a JSON file / NumPy group at this size in MiB (1..16384; default 256)");
  cmd->add_option("--pk-type", args->pk_type,
                  "auto (Int64 for integer ids, VarChar for string ids), int64, or varchar "
                  "(integer ids written as strings; needed when ids are mixed)");
  cmd->add_option("--milvus-name", args->milvus_name,
                  "collection name in collection.json (default: the collection's, '-' as '_')");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress and no summary");
  cmd->add_option("--progress", args->progress,
                  "progress line on stderr: auto (on a terminal), always, never");
  return {cmd, [&global, args] { return RunExport(global, *args); }};
}

Verb AddImportVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ImportArgs>();
  CLI::App* cmd = app.add_subcommand(
      "import",
      "Import Milvus bulk-import files into a collection: a folder written by 'flashembed "
      "export' or by pymilvus' BulkWriter (JSON row files or NumPy groups), or one JSON file. "
      "Every row is checked first, with Milvus's typing rules; the first bad row is reported "
      "with its file and position and nothing is written. A missing collection is created "
      "from the folder's description (or the data).");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("DIR", args->dir, "folder (or JSON file) to import")->required();
  cmd->add_option("--format", args->format, "milvus-json (default) or milvus-numpy");
  cmd->add_flag("--upsert", args->upsert,
                "replace records (and documents) whose id is stored; otherwise a stored id fails "
                "the import");
  cmd->add_option("--pk-field", args->pk_field,
                  "primary key field when nothing declares it (default id)");
  cmd->add_option("--vector-field", args->vector_field,
                  "vector field when nothing declares it (default vector)");
  cmd->add_option("--text-field", args->text_field,
                  "VarChar field kept as the record's text (default text)");
  cmd->add_option("--metric", args->metric,
                  "metric of a collection created without collection.json: cosine, ip, l2");
  cmd->add_option("--batch", args->batch, "records per atomic write (default 1000)");
  cmd->add_flag("-q,--quiet", args->quiet, "no progress and no summary");
  cmd->add_option("--progress", args->progress,
                  "progress line on stderr: auto (on a terminal), always, never");
  return {cmd, [&global, args] { return RunImport(global, *args); }};
}

}  // namespace flashembed::cli
