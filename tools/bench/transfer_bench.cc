// transfer_bench: export and import throughput of a vector-only
// collection with a small metadata object per row, in both Milvus
// bulk-import formats, through transfer/ as `flashembed export` / `import`
// run it; then push / pull over REST v2 to and from flashembed's own Milvus
// server, run in this process on a loopback port over a second database.
// Prints one JSON line; push_vs_export_json and pull_vs_import_json are
// the REST copies' rows/s over the file formats' (same rows, same process).
//
//   transfer_bench [--rows 100000] [--dim 384] [--index hnsw|flat] [--dir DIR]
//
// The source collection is filled once (random vectors, seed 1; metadata
// {"i": i, "tag": "t<i % 16>"}). For each format: export it to a fresh
// folder, then import that folder into a new collection, whose index is
// built as the rows are written (HNSW by default: an import's cost is then
// mostly the index; --index flat shows the files' own cost). rows/s and
// MB/s count the data files (written by export, read by import: the import
// reads them twice, checking then writing). max_rss_mb is the process's
// peak resident memory after each step: the collections' in-memory indexes
// dominate it; export and import themselves stream (a batch of rows at a
// time), so they barely move it.
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "query/database.h"
#include "server/server.h"
#include "tools/bench/bench_util.h"
#include "transfer/remote.h"
#include "transfer/transfer.h"

namespace fe = flashembed;
namespace fs = std::filesystem;
namespace bench = flashembed::bench;

namespace {

[[noreturn]] void Fail(const std::string& what) {
  std::cerr << "transfer_bench: " << what << "\n";
  std::exit(1);
}

template <typename T>
T Check(fe::Result<T> r, const char* what) {
  if (!r.ok()) Fail(std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}

double Round(double x) { return static_cast<double>(static_cast<int64_t>(x * 100 + 0.5)) / 100; }

nlohmann::ordered_json Rates(uint64_t rows, uint64_t bytes, double seconds) {
  return {{"seconds", Round(seconds)},
          {"rows_per_second", Round(rows / seconds)},
          {"mb_per_second", Round(bytes / 1e6 / seconds)},
          {"bytes", bytes}};
}

}  // namespace

int main(int argc, char** argv) {
  size_t rows = 100000;
  int dim = 384;
  std::string index = "hnsw";
  std::string dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--rows") {
      rows = std::stoul(argv[i + 1]);
    } else if (flag == "--dim") {
      dim = std::stoi(argv[i + 1]);
    } else if (flag == "--index") {
      index = argv[i + 1];
    } else if (flag == "--dir") {
      dir = argv[i + 1];
    } else {
      Fail("unknown flag " + flag);
    }
  }
  if (dir.empty()) {
    std::string pattern = (fs::temp_directory_path() / "transfer-bench-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) Fail("mkdtemp failed");
    dir = pattern;
  }
  const std::optional<fe::IndexKind> kind = fe::ParseIndexKind(index);
  if (!kind) Fail("--index must be hnsw or flat");

  auto db = Check(fe::Database::Open({}, dir + "/db"), "open");
  fe::CollectionSchema schema{.dim = dim, .index = *kind, .encoder = ""};
  auto source = Check(db->CreateCollection("source", schema), "create");
  const auto t_fill = bench::Clock::now();
  std::mt19937 gen(1);
  std::normal_distribution<float> normal;
  for (size_t start = 0; start < rows; start += 1000) {
    std::vector<fe::Document> batch;
    for (size_t i = start; i < std::min(rows, start + 1000); ++i) {
      fe::Document d{
          .id = static_cast<int64_t>(i),
          .metadata = nlohmann::json{{"i", i}, {"tag", "t" + std::to_string(i % 16)}}.dump()};
      d.vector.resize(static_cast<size_t>(dim));
      for (float& x : d.vector) x = normal(gen);
      batch.push_back(std::move(d));
    }
    const fe::Status s = source->Add({.sync = false}, batch);
    if (!s.ok()) Fail("add: " + s.ToString());
  }
  const double fill_seconds = bench::SecondsSince(t_fill);

  nlohmann::ordered_json out = {{"bench", "transfer"},
                                {"rows", rows},
                                {"dim", dim},
                                {"index", index},
                                {"fill_seconds", Round(fill_seconds)},
                                {"max_rss_mb_after_fill", Round(bench::MaxRssMb())}};
  for (const fe::transfer::FileFormat format :
       {fe::transfer::FileFormat::kMilvusJson, fe::transfer::FileFormat::kMilvusNumpy}) {
    const std::string name = fe::transfer::FileFormatName(format);
    const std::string out_dir = dir + "/export-" + name;
    fs::remove_all(out_dir);
    const auto t_export = bench::Clock::now();
    const fe::transfer::ExportSummary exported = Check(
        fe::transfer::ExportCollection(*source, {.format = format, .out_dir = out_dir}), "export");
    const double export_seconds = bench::SecondsSince(t_export);
    const double rss_after_export = bench::MaxRssMb();
    if (exported.records != rows)
      Fail("export wrote " + std::to_string(exported.records) + " rows");

    const auto t_import = bench::Clock::now();
    const fe::transfer::ImportSummary imported = Check(
        fe::transfer::ImportCollection(*db, "copy-" + name, {.format = format, .dir = out_dir}),
        "import");
    const double import_seconds = bench::SecondsSince(t_import);
    if (imported.rows != rows) Fail("import wrote " + std::to_string(imported.rows) + " rows");
    nlohmann::ordered_json import_json = Rates(rows, imported.bytes, import_seconds);
    import_json["validate_seconds"] = Round(imported.validate_seconds);
    import_json["write_seconds"] = Round(imported.write_seconds);
    nlohmann::ordered_json export_json = Rates(rows, exported.bytes, export_seconds);
    export_json["max_rss_mb"] = Round(rss_after_export);
    import_json["max_rss_mb"] = Round(bench::MaxRssMb());
    out[name == "milvus-json" ? "json" : "numpy"] = {
        {"files", exported.groups.size()}, {"export", export_json}, {"import", import_json}};
    fs::remove_all(out_dir);
    const fe::Status dropped = db->DropCollection("copy-" + name);
    if (!dropped.ok()) Fail("drop: " + dropped.ToString());
  }

  // Push to and pull from a Milvus REST v2 server (flashembed serve, here
  // in-process): the same rows, the server's collection indexed as the
  // source is (collection.json's indexParams).
  {
    auto remote_db = Check(fe::Database::Open({}, dir + "/remote"), "open remote");
    fe::server::ServerOptions options;
    options.port = 0;
    options.access_log = false;
    auto server = Check(fe::server::Server::Start(options, remote_db.get()), "serve");
    fe::transfer::RemoteOptions remote;
    remote.url = "http://127.0.0.1:" + std::to_string(server->port());
    const auto t_push = bench::Clock::now();
    const fe::transfer::PushSummary pushed =
        Check(fe::transfer::PushCollection(*source, remote, {}), "push");
    const double push_seconds = bench::SecondsSince(t_push);
    if (pushed.remote_rows != rows) Fail("push left " + std::to_string(pushed.remote_rows));
    const auto t_pull = bench::Clock::now();
    const fe::transfer::PullSummary pulled = Check(
        fe::transfer::PullCollection(*db, "pulled", remote, {.milvus_name = "source"}), "pull");
    const double pull_seconds = bench::SecondsSince(t_pull);
    if (pulled.received != rows) Fail("pull got " + std::to_string(pulled.received));
    nlohmann::ordered_json push_json = Rates(rows, pushed.bytes, push_seconds);
    push_json["requests"] = pushed.requests;
    nlohmann::ordered_json pull_json = Rates(rows, pulled.bytes, pull_seconds);
    pull_json["requests"] = pulled.requests;
    out["push"] = push_json;
    out["pull"] = pull_json;
    const double export_rate = out["json"]["export"]["rows_per_second"].get<double>();
    const double import_rate = out["json"]["import"]["rows_per_second"].get<double>();
    out["push_vs_export_json"] = Round(rows / push_seconds / export_rate);
    out["pull_vs_import_json"] = Round(rows / pull_seconds / import_rate);
    server->Stop();
    server->Wait();
  }
  out["max_rss_mb"] = Round(bench::MaxRssMb());
  bench::AddRunInfo(out);
  out["threads"] = 1;
  bench::PrintJsonLine(out.dump());
  db.reset();
  fs::remove_all(dir);
  return 0;
}
