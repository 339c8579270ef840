// ingest_bench: end-to-end ingest of a folder of long documents (read files
// → chunk → embed → write, Collection::StartIngest, as `flashembed ingest`
// runs it) against the encoder alone embedding the very same chunk texts in
// batches, in the same process. Prints one JSON line;
// "ratio" = ingest chunks/s ÷ encoder-only chunks/s (target: >= 0.9);
// the encoder alone runs batches of 32 and of 64 chunks and keeps the faster.
//
//   ingest_bench --model DIR [--docs 24] [--words 1500] [--repeat 2]
//
// --model is a Hugging Face model folder (tools/bench/make_minilm_model.py
// writes a random one shaped like all-MiniLM-L6-v2), or "hash" for the
// hashing encoder. Documents are made of the English texts of the sample
// corpus in a random order, in paragraphs, --words words each, written as
// .txt files to a temporary folder. Each repetition ingests into a fresh
// database; the best repetition of each side is kept.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "ingest/readers.h"
#include "query/database.h"
#include "tools/bench/bench_util.h"

namespace fe = flashembed;
namespace fs = std::filesystem;
namespace bench = flashembed::bench;

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "ingest_bench: " << what << "\n";
  std::exit(1);
}

std::vector<std::string> EnglishTexts() {
  std::ifstream in(std::string(FLASHEMBED_SOURCE_DIR) + "/data/sample/corpus.jsonl");
  if (!in) Fail("cannot read data/sample/corpus.jsonl");
  std::vector<std::string> texts;
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_object() && j.value("metadata", nlohmann::json::object()).value("lang", "") == "en") {
      texts.push_back(j["text"].get<std::string>());
    }
  }
  if (texts.empty()) Fail("no English texts in the sample corpus");
  return texts;
}

void WriteDocuments(const fs::path& dir, int docs, size_t words) {
  const std::vector<std::string> texts = EnglishTexts();
  std::mt19937 rng(42);
  fs::create_directories(dir);
  for (int d = 0; d < docs; ++d) {
    std::string doc = "Document " + std::to_string(d) + "\n\n";
    size_t count = 0;
    int in_paragraph = 0;
    while (count < words) {
      const std::string& t = texts[rng() % texts.size()];
      doc += t;
      count += static_cast<size_t>(std::count(t.begin(), t.end(), ' ')) + 1;
      doc += ++in_paragraph % 4 == 0 ? "\n\n" : " ";
    }
    std::ofstream(dir / ("doc" + std::to_string(d) + ".txt")) << doc;
  }
}

struct IngestRun {
  double seconds = 0;
  fe::IngestSummary summary;
  std::vector<std::string> chunk_texts;
};

IngestRun Ingest(const std::string& encoder, const fs::path& docs, const fs::path& db_dir) {
  fs::remove_all(db_dir);
  auto db = fe::Database::Open({}, db_dir.string());
  if (!db.ok()) Fail(db.status().ToString());
  auto coll = (*db)->CreateCollection("kb", {.encoder = encoder});
  if (!coll.ok()) Fail(coll.status().ToString());
  const auto t0 = bench::Clock::now();
  auto files = fe::ingest::ListFiles({docs.string()}, {});
  if (!files.ok()) Fail(files.status().ToString());
  auto run = (*coll)->StartIngest({});
  if (!run.ok()) Fail(run.status().ToString());
  for (const auto& f : *files) {
    fe::Status s = fe::ingest::ReadFile(
        f.path, f.id, {}, [&](fe::SourceDocument doc) { return (*run)->Push(std::move(doc)); },
        [&](fe::DocumentError e) { (*run)->ReportError(std::move(e)); });
    if (!s.ok()) Fail(s.ToString());
  }
  auto summary = (*run)->Finish();
  if (!summary.ok()) Fail(summary.status().ToString());
  IngestRun out;
  out.seconds = bench::SecondsSince(t0);
  out.summary = *summary;
  if (summary->totals.failed != 0) Fail(summary->errors[0].status.ToString());
  // The chunk texts, in document order, for the encoder-only side.
  for (const auto& f : *files) {
    auto info = (*coll)->GetDocument(f.id, false);
    if (!info.ok()) Fail(info.status().ToString());
    std::vector<fe::Id> ids;
    for (const auto& c : info->chunks) ids.emplace_back(f.id + "#" + std::to_string(c.ordinal));
    auto chunks = (*coll)->GetMany(ids, false);
    if (!chunks.ok()) Fail(chunks.status().ToString());
    for (auto& c : *chunks) out.chunk_texts.push_back(std::move(c.text));
  }
  return out;
}

double EncodeOnly(const fe::TextModel& model, const std::vector<std::string>& texts, size_t batch) {
  const auto t0 = bench::Clock::now();
  for (size_t i = 0; i < texts.size(); i += batch) {
    std::vector<std::string> part(texts.begin() + i,
                                  texts.begin() + std::min(texts.size(), i + batch));
    auto v = model.Embed(part);
    if (!v.ok()) Fail(v.status().ToString());
  }
  return bench::SecondsSince(t0);
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir;
  int docs = 24, repeat = 2;
  size_t words = 1500;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) Fail("missing value after " + a);
      return argv[++i];
    };
    if (a == "--model") {
      model_dir = next();
    } else if (a == "--docs") {
      docs = std::atoi(next().c_str());
    } else if (a == "--words") {
      words = static_cast<size_t>(std::atol(next().c_str()));
    } else if (a == "--repeat") {
      repeat = std::atoi(next().c_str());
    } else {
      Fail("usage: ingest_bench --model DIR|hash [--docs N] [--words N] [--repeat N]");
    }
  }
  if (model_dir.empty() || docs < 1 || words < 1 || repeat < 1) {
    Fail("usage: ingest_bench --model DIR|hash [--docs N] [--words N] [--repeat N]");
  }
  const std::string encoder = model_dir == "hash" ? "hash" : "model:" + model_dir;
  const fs::path tmp =
      fs::temp_directory_path() / ("flashembed-ingest-bench-" + std::to_string(::getpid()));
  fs::create_directories(tmp);
  WriteDocuments(tmp / "docs", docs, words);

  auto model = fe::TextModel::Open(encoder);
  if (!model.ok()) Fail(model.status().ToString());
  // The encoder alone gets the better of the ingest's batch size and twice
  // it (the ingest's batches hold whole documents, so they run a little over).
  const size_t batch = fe::IngestOptions{}.encode_batch;

  double best_ingest = 1e300, best_encode = 1e300;
  IngestRun last;
  for (int r = 0; r < repeat; ++r) {
    last = Ingest(encoder, tmp / "docs", tmp / "db");
    best_ingest = std::min(best_ingest, last.seconds);
    best_encode = std::min(best_encode, EncodeOnly(**model, last.chunk_texts, batch));
    best_encode = std::min(best_encode, EncodeOnly(**model, last.chunk_texts, 2 * batch));
  }
  fs::remove_all(tmp);

  const double chunks = static_cast<double>(last.summary.totals.chunks);
  const double tokens = static_cast<double>(last.summary.totals.tokens_encoded);
  nlohmann::ordered_json out = {
      {"bench", "ingest"},
      {"commit", bench::Commit()},
      {"build", bench::BuildType()},
      {"encoder", model_dir == "hash" ? "hash" : "model folder"},
      {"documents", docs},
      {"words_per_document", words},
      {"chunks", last.summary.totals.chunks},
      {"tokens", last.summary.totals.tokens_encoded},
      {"ingest_seconds", best_ingest},
      {"ingest_chunks_per_s", chunks / best_ingest},
      {"ingest_tokens_per_s", tokens / best_ingest},
      {"encoder_only_seconds", best_encode},
      {"encoder_only_chunks_per_s", chunks / best_encode},
      {"encoder_only_tokens_per_s", tokens / best_encode},
      {"encoder_busy_in_ingest", last.summary.encode_seconds / last.seconds},
      {"ratio", best_encode / best_ingest},
  };
  bench::PrintJsonLine(out.dump());
}
