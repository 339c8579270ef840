// The ingest verb: files, folders and stdin of long documents into a
// collection through the pipelined ingest (Collection::StartIngest), with a
// progress line on a terminal and a summary.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "ingest/readers.h"
#include "tools/cli_ingest.h"
#include "tools/cli_verbs.h"

namespace flashembed::cli {
namespace {

using json = nlohmann::ordered_json;

struct IngestArgs {
  std::vector<std::string> paths;
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  bool hidden = false;
  std::string format = "auto";
  std::string encoding;
  size_t chunk_tokens = 0;
  std::optional<size_t> overlap_tokens;
  std::string encoder;  // "" = not given
  std::string model;
  bool no_text_index = false;
  bool exif_orientation = false;
  bool quiet = false;
  std::string progress = "auto";
};

std::string HumanRate(double per_second) {
  if (per_second >= 1e6) return fmt::format("{:.1f}M", per_second / 1e6);
  if (per_second >= 1e3) return fmt::format("{:.1f}k", per_second / 1e3);
  return fmt::format("{:.0f}", per_second);
}

std::string Duration(double seconds) {
  if (!(seconds >= 0) || seconds > 359999) return "--:--";
  const long s = static_cast<long>(seconds + 0.5);
  if (s >= 3600) return fmt::format("{}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60);
  return fmt::format("{:02}:{:02}", s / 60, s % 60);
}

// One progress line: bar, files, chunks, tokens/s, ETA (from bytes read).
std::string ProgressLine(const IngestProgress& p, size_t files_total, uint64_t bytes_total,
                         double elapsed, size_t width) {
  const double frac = bytes_total > 0 ? std::min(1.0, double(p.bytes) / double(bytes_total))
                                      : (files_total > 0 ? double(p.documents) / files_total : 0);
  const double rate = elapsed > 0 ? p.tokens_encoded / elapsed : 0;
  const double eta = frac > 0.001 ? elapsed * (1 - frac) / frac : -1;
  std::string tail = fmt::format(" {}/{} docs  {} chunks  {} tok/s  ETA {}", p.documents,
                                 files_total, p.chunks, HumanRate(rate), Duration(eta));
  if (p.failed > 0) tail += fmt::format("  {} failed", p.failed);
  const size_t bar = width > tail.size() + 12 ? std::min<size_t>(30, width - tail.size() - 10) : 0;
  std::string line;
  if (bar > 0) {
    const size_t filled = static_cast<size_t>(frac * bar);
    line = fmt::format("[{}{}] {:3d}%", std::string(filled, '#'), std::string(bar - filled, '.'),
                       static_cast<int>(frac * 100));
  }
  line += tail;
  if (line.size() > width && width > 0) line.resize(width);
  return line;
}

// Whether a collection's encoder ("hash", "model:DIR") is `wanted`; model
// folders compare as canonical paths.
bool SameEncoder(const std::string& stored, const std::string& wanted) {
  if (stored == wanted) return true;
  if (stored.rfind("model:", 0) != 0 || wanted.rfind("model:", 0) != 0) return false;
  std::error_code a, b;
  const auto x = std::filesystem::weakly_canonical(stored.substr(6), a);
  const auto y = std::filesystem::weakly_canonical(wanted.substr(6), b);
  return !a && !b && x == y;
}

int RunIngest(const GlobalOptions& global, const IngestArgs& args) {
  auto format = ingest::ParseFormat(args.format);
  if (!format) {
    return ReportUsageError("--format must be auto, text, markdown, html, pdf or jsonl, got \"" +
                            args.format + "\"");
  }
  if (args.progress != "auto" && args.progress != "always" && args.progress != "never") {
    return ReportUsageError("--progress must be auto, always or never");
  }
  // Every input is listed (and every missing path refused) before anything
  // is opened or written.
  std::vector<std::string> roots;
  bool use_stdin = false;
  for (const std::string& p : args.paths) {
    if (p == "-") {
      use_stdin = true;
    } else {
      roots.push_back(p);
    }
  }
  std::vector<ingest::InputFile> files;
  if (!roots.empty()) {
    auto listed = ingest::ListFiles(
        roots, {.include = args.include, .exclude = args.exclude, .hidden = args.hidden});
    if (!listed.ok()) return ReportError(listed.status());
    files = std::move(listed).value();
  }
  uint64_t bytes_total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(f.path, ec);
    if (!ec) bytes_total += size;
  }

  if (args.encoder == "none") {
    return ReportUsageError(
        "long documents are embedded: --encoder none cannot ingest; use "
        "--encoder hash or --model DIR");
  }
  // The encoder asked for ("" = none asked for; hash when creating).
  const std::string wanted = !args.model.empty() ? "model:" + args.model : args.encoder;
  auto db = OpenDatabase(global.db, /*create_if_missing=*/true);
  if (!db.ok()) return ReportError(db.status());
  auto existing = (*db)->GetCollection(global.collection);
  std::shared_ptr<Collection> coll;
  bool created = false;
  if (existing.ok()) {
    coll = *existing;
    auto info = coll->Describe();
    if (!info.ok()) return ReportError(info.status());
    if (!wanted.empty() && !SameEncoder(info->schema.encoder, wanted)) {
      return ReportError("collection \"" + global.collection + "\" embeds with " +
                             EncoderName(info->schema) + ", not " + wanted +
                             "; --encoder / --model choose the encoder of a collection ingest "
                             "creates (use another -c)",
                         kExitRuntimeError);
    }
    if (args.no_text_index && info->schema.text_index) {
      return ReportError("collection \"" + global.collection +
                             "\" keeps a text index; --no-text-index applies to a collection "
                             "ingest creates (use another -c)",
                         kExitRuntimeError);
    }
  } else if (existing.status().code() == StatusCode::kNotFound) {
    CollectionSchema schema;
    schema.encoder = wanted.empty() ? "hash" : wanted;
    schema.text_index = !args.no_text_index;
    auto made = (*db)->CreateCollection(global.collection, schema);
    if (!made.ok()) return ReportError(made.status());
    coll = *made;
    created = true;
  } else {
    return ReportError(existing.status());
  }

  // Image files become image records when the collection embeds images;
  // a text-only collection reports them as failed inputs instead of
  // reading their bytes as text.
  auto described = coll->Describe();
  if (!described.ok()) return ReportError(described.status());
  const bool embeds_images = described->embeds_images;
  std::vector<std::string> image_ids, image_paths;
  std::vector<ImageIngestError> image_errors;
  ImageIngestCounts images;
  std::erase_if(files, [&](const ingest::InputFile& f) {
    if (!ingest::IsImageFileName(f.path.filename().string())) return false;
    if (embeds_images) {
      image_ids.push_back(f.id);
      image_paths.push_back(f.path.string());
    } else {
      image_errors.push_back(
          {f.id, f.path.string(),
           "an image, but collection \"" + global.collection + "\" embeds texts only (" +
               EncoderName(described->schema) +
               "); images need a collection of a CLIP model folder (--model DIR)"});
      ++images.failed;
    }
    return true;
  });

  IngestOptions options;
  options.chunking.chunk_tokens = args.chunk_tokens;
  options.chunking.overlap_tokens = args.overlap_tokens;
  auto started = coll->StartIngest(options);
  if (!started.ok()) {
    // Refused before anything was read: leave no empty collection behind.
    if (created) {
      coll.reset();
      (*db)->DropCollection(global.collection).IgnoreError();
    }
    return ReportError(started.status());
  }
  std::unique_ptr<DocumentIngest> run = std::move(started).value();

  // Progress goes to stderr when it is a terminal; the summary is for humans
  // when stdout is a terminal and JSON otherwise (pipes, files).
  const bool tty = isatty(STDERR_FILENO) != 0;
  const bool human = isatty(STDOUT_FILENO) != 0;
  const bool show = !args.quiet && (args.progress == "always" || (args.progress == "auto" && tty));
  const size_t width = tty ? std::max<size_t>(40, TerminalWidth()) : 100;
  const auto t0 = std::chrono::steady_clock::now();
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  std::thread painter;
  if (show) {
    painter = std::thread([&] {
      std::unique_lock<std::mutex> lock(mu);
      while (!cv.wait_for(lock, std::chrono::milliseconds(200), [&] { return done; })) {
        const double elapsed =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        std::cerr << "\r"
                  << ProgressLine(run->Progress(), files.size() + (use_stdin ? 1 : 0), bytes_total,
                                  elapsed, width)
                  << "\x1b[K" << std::flush;
      }
    });
  }

  // Images first: records of their own, written batch by batch.
  Status image_status = IngestImages(*coll, image_ids, image_paths, &images, args.exif_orientation,
                                     &image_errors, /*progress=*/nullptr);

  ingest::ReadOptions read_options{.format = *format, .encoding = args.encoding};
  // A failing Push means the ingest itself failed (say, the disk is full):
  // stop reading; Finish() reports why. A file that cannot be read is
  // reported with the others and the rest go on.
  Status fatal;
  auto emit = [&](SourceDocument doc) {
    Status s = run->Push(std::move(doc));
    if (!s.ok()) fatal = s;
    return s;
  };
  auto on_error = [&](DocumentError e) { run->ReportError(std::move(e)); };
  if (!image_status.ok()) fatal = image_status;
  for (const ingest::InputFile& f : files) {
    if (!fatal.ok()) break;
    Status s = ingest::ReadFile(f.path, f.id, read_options, emit, on_error);
    if (!fatal.ok()) break;
    if (!s.ok()) run->ReportError({f.id, f.path.string(), s});
  }
  if (fatal.ok() && use_stdin) {
    Status s = ingest::ReadStream(std::cin, "stdin", read_options, emit, on_error);
    if (fatal.ok() && !s.ok()) run->ReportError({"stdin", "stdin", s});
  }
  auto summary = run->Finish();
  {
    std::lock_guard<std::mutex> lock(mu);
    done = true;
  }
  cv.notify_all();
  if (painter.joinable()) {
    painter.join();
    std::cerr << "\r\x1b[K" << std::flush;
  }
  // A collection this ingest created and left empty is dropped when the
  // ingest failed, as when it is refused before reading anything.
  auto drop_if_empty = [&] {
    if (!created) return;
    run.reset();
    const Result<uint64_t> count = coll->Count();
    if (!count.ok() || *count != 0) return;
    coll.reset();
    (*db)->DropCollection(global.collection).IgnoreError();
  };
  if (!summary.ok() || !fatal.ok()) {
    drop_if_empty();
    return ReportError(!summary.ok() ? summary.status() : fatal);
  }
  const IngestSummary& sum = *summary;
  const IngestProgress& t = sum.totals;
  // Every input that failed: one error line each on stderr (the summary
  // lists them too), whatever the output format and --quiet say.
  for (const ImageIngestError& e : image_errors) {
    ReportError(e.path + ": " + e.message, kExitRuntimeError);
  }
  for (const DocumentError& e : sum.errors) {
    // Reader errors already start with the file's name.
    const std::string& message = e.status.message();
    ReportError(message.rfind(e.source, 0) == 0 ? message : e.source + ": " + message,
                kExitRuntimeError);
  }
  if (t.failed + images.failed > 0) drop_if_empty();
  if (global.json || !human) {
    if (!args.quiet || global.json) {
      json errors = json::array();
      for (const auto& e : sum.errors) {
        errors.push_back({{"id", e.id}, {"source", e.source}, {"error", e.status.message()}});
      }
      for (const auto& e : image_errors) {
        errors.push_back({{"id", e.id}, {"source", e.path}, {"error", e.message}});
      }
      json out = {{"collection", global.collection},
                  {"documents", t.documents},
                  {"added", t.added},
                  {"replaced", t.replaced},
                  {"unchanged", t.unchanged},
                  {"failed", t.failed},
                  {"chunks", t.chunks},
                  {"chunks_encoded", t.chunks_encoded},
                  {"tokens_encoded", t.tokens_encoded},
                  {"bytes", t.bytes},
                  {"seconds", sum.seconds},
                  {"encode_seconds", sum.encode_seconds},
                  {"tokens_per_second", sum.seconds > 0 ? t.tokens_encoded / sum.seconds : 0.0},
                  {"images",
                   {{"added", images.added},
                    {"replaced", images.replaced},
                    {"unchanged", images.unchanged},
                    {"failed", images.failed},
                    {"bytes", images.bytes}}},
                  {"errors", errors}};
      std::cout << DumpJson(out) << "\n";
    }
  } else if (!args.quiet) {
    std::cout << "ingested " << t.documents << " documents into \"" << global.collection << "\" in "
              << Duration(sum.seconds) << ": " << t.added << " added, " << t.replaced
              << " replaced, " << t.unchanged << " unchanged, " << t.failed << " failed; "
              << t.chunks << " chunks written, " << t.chunks_encoded << " embedded ("
              << HumanRate(sum.seconds > 0 ? t.tokens_encoded / sum.seconds : 0) << " tokens/s)\n";
    const size_t image_files = images.added + images.replaced + images.unchanged + images.failed;
    if (image_files > 0) {
      std::cout << "images: " << image_files << " files: " << images.added << " added, "
                << images.replaced << " replaced, " << images.unchanged << " unchanged, "
                << images.failed << " failed\n";
    }
  }
  // Any failed input makes the exit code non-zero: 1 when every input
  // failed (nothing is stored), 3 when others are stored (added, replaced
  // or unchanged), so a script can tell a partial ingest from a clean one.
  const size_t failed = t.failed + images.failed;
  const size_t inputs =
      t.documents + images.added + images.replaced + images.unchanged + images.failed;
  if (failed == 0) return kExitOk;
  return failed == inputs ? kExitRuntimeError : kExitPartialFailure;
}

}  // namespace

Verb AddIngestVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<IngestArgs>();
  CLI::App* cmd = app.add_subcommand(
      "ingest",
      "Ingest long documents: files (text, Markdown, HTML, PDF, JSON Lines), folders "
      "(recursively) or - for stdin. Each document is cut into overlapping chunks that end at "
      "sentence ends, every chunk embedded and stored with its offsets. Ingesting again skips "
      "unchanged documents and replaces changed ones, so an interrupted ingest resumes by "
      "running it again. In a collection of a CLIP model (--model DIR), image files (.jpg, "
      ".jpeg, .png, .webp, .gif) become image records, one per file, with the file's path as "
      "id; unchanged files (same content hash) are skipped the same way.");
  cmd->footer(
      "Every input that fails (unreadable, empty, binary, not UTF-8 without --encoding, a PDF "
      "without text, a bad JSONL record) is skipped and reported on stderr as one line "
      "'flashembed: error: FILE: REASON'; the summary goes to stdout. Exit codes: 0 every input "
      "stored; 3 some inputs failed, the others are stored; 1 every input failed, or the ingest "
      "itself failed (a collection it created is then not left behind empty); 2 usage error.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("PATH", args->paths, "files, folders, or - for standard input")->required();
  cmd->add_option("--include", args->include,
                  "only files matching this glob (repeatable; without '/' it matches the file "
                  "name, with '/' the path under the folder; ** spans folders)");
  cmd->add_option("--exclude", args->exclude, "skip files matching this glob (repeatable)");
  cmd->add_flag("--hidden", args->hidden, "also read files and folders whose name starts with .");
  cmd->add_option("--format", args->format,
                  "auto (by extension), text, markdown, html, pdf or jsonl");
  cmd->add_option("--encoding", args->encoding,
                  "text encoding of the inputs (an iconv name such as latin1); default: UTF-8 "
                  "or UTF-16 with a byte order mark, anything else refused");
  cmd->add_option("--chunk-tokens", args->chunk_tokens,
                  "model tokens per chunk; 0 = the model's maximum, at most 256");
  cmd->add_option("--overlap-tokens", args->overlap_tokens,
                  "tokens consecutive chunks share (default 15% of --chunk-tokens)");
  cmd->add_option("--encoder", args->encoder,
                  "encoder of a collection created by this ingest: hash (the default); an "
                  "existing collection must already use it");
  cmd->add_option("--model", args->model,
                  "create the collection with this local Hugging Face model folder as encoder (an "
                  "existing collection must already use it)");
  cmd->add_flag("--no-text-index", args->no_text_index,
                "create the collection without a BM25 full-text index (by default one is kept, "
                "and search --documents ranks hybrid: vectors and BM25 together)");
  cmd->add_flag("--exif-orientation", args->exif_orientation,
                std::string(kExifOrientationHelp) +
                    "; applies to the image files this run embeds (unchanged files are skipped)");
  cmd->add_flag("-q,--quiet", args->quiet,
                "no progress and no summary (errors still go to stderr)");
  cmd->add_option("--progress", args->progress,
                  "progress line on stderr: auto (on a terminal), always, never");
  return {cmd, [&global, args] { return RunIngest(global, *args); }};
}

}  // namespace flashembed::cli
