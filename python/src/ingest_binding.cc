// Collection.ingest: files and folders read by ingest/ (text, Markdown,
// HTML, PDF, JSON Lines) into the collection's pipelined ingest, with an
// optional progress callback; IngestProgress and IngestSummary.
#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <pybind11/stl.h>

#include "ingest/readers.h"
#include "python/src/bindings.h"
#include "python/src/convert.h"

namespace flashembed::python {

namespace {

// What the progress callback receives.
struct PyIngestProgress {
  IngestProgress totals;
  size_t files_read = 0;
  size_t files_total = 0;
};

// Calls the progress callback at most every `interval` (and once at the
// end), taking the GIL for it; remembers the first exception it raises (or
// a pending KeyboardInterrupt), after which the ingest stops reading.
class ProgressReporter {
 public:
  ProgressReporter(py::object callback, size_t files_total)
      : callback_(std::move(callback)), files_total_(files_total) {}

  // REQUIRES: the GIL is not held.
  void Maybe(const DocumentIngest& run, size_t files_read, bool force) {
    auto now = std::chrono::steady_clock::now();
    if (!force && now - last_ < std::chrono::milliseconds(100)) return;
    last_ = now;
    py::gil_scoped_acquire acquire;
    if (error_) return;
    try {
      if (PyErr_CheckSignals() != 0) throw py::error_already_set();
      if (!callback_.is_none()) {
        callback_(PyIngestProgress{run.Progress(), files_read, files_total_});
      }
    } catch (py::error_already_set& e) {
      error_.emplace(std::move(e));
    }
  }
  bool failed() const { return error_.has_value(); }
  // REQUIRES: the GIL is held.
  void RaiseIfFailed() {
    if (error_) throw std::move(*error_);
  }
  // REQUIRES: the GIL is held (the callback is a Python object).
  ~ProgressReporter() = default;

 private:
  py::object callback_;
  size_t files_total_;
  std::chrono::steady_clock::time_point last_{};
  std::optional<py::error_already_set> error_;
};

py::object ProgressCallback(py::handle progress) {
  if (progress.is_none() || (PyBool_Check(progress.ptr()) && !progress.cast<bool>())) {
    return py::none();
  }
  if (PyBool_Check(progress.ptr())) {
    // True: a tqdm bar when tqdm is installed, else nothing.
    return py::module_::import("flashembed._convert").attr("tqdm_progress")();
  }
  if (!PyCallable_Check(progress.ptr())) throw py::type_error("progress must be callable");
  return py::reinterpret_borrow<py::object>(progress);
}

IngestSummary Ingest(Collection& coll, py::handle paths, py::handle include, py::handle exclude,
                     bool hidden, const std::string& format, const std::string& encoding,
                     size_t chunk_tokens, std::optional<size_t> overlap_tokens, size_t encode_batch,
                     size_t write_batch, py::handle progress) {
  std::vector<std::string> roots = ToStrings(paths, "paths");
  if (roots.empty()) ThrowInvalid("no paths to ingest");
  ingest::WalkOptions walk{.include = ToStrings(include, "include"),
                           .exclude = ToStrings(exclude, "exclude"),
                           .hidden = hidden};
  std::optional<ingest::Format> parsed_format = ingest::ParseFormat(format);
  if (!parsed_format) {
    ThrowInvalid("unknown format \"" + format +
                 "\" (expected auto, text, markdown, html, pdf, "
                 "jsonl)");
  }
  ingest::ReadOptions read{.format = *parsed_format, .encoding = encoding};
  IngestOptions options{
      .chunking = {.chunk_tokens = chunk_tokens, .overlap_tokens = overlap_tokens},
      .encode_batch = encode_batch,
      .write_batch = write_batch};
  py::object callback = ProgressCallback(progress);

  std::vector<ingest::InputFile> files;
  {
    py::gil_scoped_release release;
    files = Unwrap(ingest::ListFiles(roots, walk));
  }
  ProgressReporter reporter(callback, files.size());
  Result<IngestSummary> summary = Status::Internal("not finished");
  Status fatal;
  {
    py::gil_scoped_release release;
    std::unique_ptr<DocumentIngest> run = Unwrap(coll.StartIngest(options));
    size_t files_read = 0;
    // A failing Push means the ingest itself failed (say, the disk is
    // full): stop reading; Finish() reports why.
    auto emit = [&](SourceDocument doc) {
      Status s = run->Push(std::move(doc));
      if (!s.ok()) fatal = s;
      reporter.Maybe(*run, files_read, false);
      if (reporter.failed()) return Status::Cancelled("ingest stopped by the progress callback");
      return s;
    };
    auto on_error = [&](DocumentError e) { run->ReportError(std::move(e)); };
    for (const ingest::InputFile& f : files) {
      if (!fatal.ok() || reporter.failed()) break;
      Status s = ingest::ReadFile(f.path, f.id, read, emit, on_error);
      if (!s.ok() && fatal.ok() && !reporter.failed()) run->ReportError({f.id, f.path.string(), s});
      ++files_read;
      reporter.Maybe(*run, files_read, false);
    }
    summary = run->Finish();
    if (summary.ok()) reporter.Maybe(*run, files_read, true);
  }
  reporter.RaiseIfFailed();
  ThrowIfError(fatal);
  return Unwrap(std::move(summary));
}

// The IngestProgress counters of IngestProgress and IngestSummary.
template <typename T>
void DefineTotals(py::class_<T>& c, IngestProgress T::*totals) {
  auto field = [&](const char* name, uint64_t IngestProgress::*member, const char* doc) {
    c.def_property_readonly(
        name, [totals, member](const T& t) { return (t.*totals).*member; }, doc);
  };
  field("documents", &IngestProgress::documents,
        "documents finished (written, unchanged or failed)");
  field("added", &IngestProgress::added, "new documents");
  field("replaced", &IngestProgress::replaced, "documents whose text or details changed");
  field("unchanged", &IngestProgress::unchanged, "documents left alone (nothing changed)");
  field("failed", &IngestProgress::failed, "documents refused (see IngestSummary.errors)");
  field("chunks", &IngestProgress::chunks, "chunks written");
  field("chunks_encoded", &IngestProgress::chunks_encoded, "chunks embedded");
  field("tokens_encoded", &IngestProgress::tokens_encoded, "model tokens embedded");
  field("bytes", &IngestProgress::bytes, "text bytes of finished documents");
}

void DefineProgress(py::module_& m) {
  py::class_<PyIngestProgress> progress(m, "IngestProgress",
                                        "Progress of an ingest, passed to the progress callback.");
  DefineTotals(progress, &PyIngestProgress::totals);
  progress.def_readonly("files_read", &PyIngestProgress::files_read)
      .def_readonly("files_total", &PyIngestProgress::files_total)
      .def("__repr__", [](const PyIngestProgress& p) {
        return "IngestProgress(files_read=" + std::to_string(p.files_read) + "/" +
               std::to_string(p.files_total) + ", documents=" + std::to_string(p.totals.documents) +
               ")";
      });

  py::class_<IngestSummary> summary(m, "IngestSummary", "What an ingest did.");
  DefineTotals(summary, &IngestSummary::totals);
  summary.def_readonly("seconds", &IngestSummary::seconds)
      .def_readonly("encode_seconds", &IngestSummary::encode_seconds)
      .def_property_readonly(
          "errors",
          [](const IngestSummary& s) {
            py::list out;
            for (const DocumentError& e : s.errors) {
              out.append(py::make_tuple(e.id, e.source, e.status.ToString()));
            }
            return out;
          },
          "documents refused: (id, source, \"<code>: <message>\") tuples")
      .def("__repr__", [](const IngestSummary& s) {
        return "IngestSummary(documents=" + std::to_string(s.totals.documents) +
               ", added=" + std::to_string(s.totals.added) +
               ", replaced=" + std::to_string(s.totals.replaced) +
               ", unchanged=" + std::to_string(s.totals.unchanged) +
               ", failed=" + std::to_string(s.totals.failed) + ")";
      });
}

}  // namespace

void DefineIngest(py::module_& m) {
  DefineProgress(m);
  py::class_<Collection, std::shared_ptr<Collection>> c =
      py::reinterpret_borrow<py::class_<Collection, std::shared_ptr<Collection>>>(
          m.attr("Collection"));
  c.def("ingest", &Ingest, py::arg("paths"), py::kw_only(), py::arg("include") = py::none(),
        py::arg("exclude") = py::none(), py::arg("hidden") = false, py::arg("format") = "auto",
        py::arg("encoding") = "", py::arg("chunk_tokens") = 0,
        py::arg("overlap_tokens") = py::none(), py::arg("encode_batch") = 32,
        py::arg("write_batch") = 16, py::arg("progress") = py::none(),
        "Reads files and folders (text, Markdown, HTML, PDF, JSON Lines) into long documents, "
        "as `flashembed ingest` does. progress: a callable receiving IngestProgress, or True "
        "for a tqdm bar when tqdm is installed. Returns an IngestSummary; files that could "
        "not be read are in its errors.");
}

}  // namespace flashembed::python
