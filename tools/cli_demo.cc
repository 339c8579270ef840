// The demo verb: ingest the bundled sample corpus and run its queries.
#include <chrono>
#include <iostream>
#include <memory>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli_ingest.h"
#include "tools/cli_input.h"
#include "tools/cli_verbs.h"

#ifndef FLASHEMBED_SAMPLE_DIR
#define FLASHEMBED_SAMPLE_DIR "data/sample"
#endif

namespace flashembed::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kDemoDb = "./flashembed-demo.db";
constexpr const char* kDemoCollection = "demo";
constexpr size_t kDemoK = 3;

// A query of queries.jsonl: {"text": ..., "expect": id of the best document}.
struct DemoQuery {
  std::string text;
  Id expect;
};

Result<std::vector<DemoQuery>> ReadDemoQueries(const std::string& path) {
  std::vector<DemoQuery> queries;
  FE_RETURN_IF_ERROR(
      ForEachJsonLine(path, [&](const json& record, const std::string& where, size_t) {
        if (!record.is_object() || !record.contains("text") || !record["text"].is_string() ||
            !record.contains("expect")) {
          return Status::InvalidArgument(where + ": expected {\"text\": string, \"expect\": id}");
        }
        Result<Id> expect = IdFromJson(record["expect"]);
        if (!expect.ok())
          return Status::InvalidArgument(where + ": \"expect\": " + expect.status().message());
        queries.push_back(DemoQuery{record["text"].get<std::string>(), std::move(*expect)});
        return Status::OK();
      }));
  return queries;
}

std::string FormatMs(double ms) { return fmt::format("{:.1f} ms", ms); }

// 1-based rank of `id` among `hits`; 0 if absent.
size_t RankOf(const std::vector<Hit>& hits, const Id& id) {
  for (size_t r = 0; r < hits.size(); ++r) {
    if (hits[r].id == id) return r + 1;
  }
  return 0;
}

// The human report of query `index` (0-based) of `total`.
void PrintDemoQuery(size_t index, size_t total, const DemoQuery& query,
                    const std::vector<Hit>& hits) {
  std::cout << "\n[" << index + 1 << "/" << total << "] " << query.text << "\n";
  std::vector<std::vector<std::string>> rows;
  for (size_t r = 0; r < hits.size(); ++r) {
    rows.push_back({fmt::format("  {}.", r + 1), FormatScore(hits[r].score), hits[r].id.ToString(),
                    hits[r].text});
  }
  std::cout << FormatTable(rows, TerminalWidth());
  const size_t rank = RankOf(hits, query.expect);
  std::cout << "  expected " << query.expect.ToString() << ": "
            << (rank == 1   ? std::string("ranked first")
                : rank == 0 ? fmt::format("NOT in the top {}", kDemoK)
                            : fmt::format("NOT first (rank {})", rank))
            << "\n";
}

// Drops and re-creates the collection from `records`; returns the ingest
// time in milliseconds.
Result<double> Reload(Database& db, const std::string& name, std::vector<InputRecord> records) {
  if (Status status = db.DropCollection(name); !status.ok() && !status.IsNotFound()) {
    return status;
  }
  const auto start = std::chrono::steady_clock::now();
  Result<IngestResult> ingested = Ingest(db, name, std::move(records), /*upsert=*/false);
  if (!ingested.ok()) return ingested.status();
  return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
      .count();
}

// Runs the demo and prints as it goes; returns the exit code.
int RunDemo(const GlobalOptions& global, const std::string& corpus_dir) {
  const std::string corpus_path = corpus_dir + "/corpus.jsonl";
  const std::string queries_path = corpus_dir + "/queries.jsonl";
  Result<std::vector<InputRecord>> records = ReadJsonlRecords(corpus_path);
  if (!records.ok()) return ReportError(records.status());
  Result<std::vector<DemoQuery>> queries = ReadDemoQueries(queries_path);
  if (!queries.ok()) return ReportError(queries.status());
  const size_t doc_count = records->size();

  Result<std::unique_ptr<Database>> db = OpenDatabase(global.db, /*create_if_missing=*/true);
  if (!db.ok()) return ReportError(db.status());
  if (!global.json) {
    std::cout << "flashembed demo: " << doc_count << " documents from " << corpus_path << " into "
              << global.db << " (collection \"" << global.collection << "\")\n";
  }
  Result<double> ingest_ms = Reload(**db, global.collection, std::move(*records));
  if (!ingest_ms.ok()) return ReportError(ingest_ms.status());
  Result<std::shared_ptr<Collection>> collection = (*db)->GetCollection(global.collection);
  if (!collection.ok()) return ReportError(collection.status());
  if (!global.json) {
    std::cout << "ingested " << doc_count << " documents in " << FormatMs(*ingest_ms) << "\n";
  }

  size_t correct = 0;
  json results = json::array();
  for (size_t i = 0; i < queries->size(); ++i) {
    const DemoQuery& query = (*queries)[i];
    SearchOptions options;
    options.k = kDemoK;
    Result<std::vector<Hit>> hits = (*collection)->Search(options, Query::Text(query.text));
    if (!hits.ok()) {
      return ReportError(
          fmt::format("{}: query {}: {}", queries_path, i + 1, hits.status().message()),
          kExitRuntimeError);
    }
    const bool first = RankOf(*hits, query.expect) == 1;
    if (first) ++correct;
    if (global.json) {
      json list = json::array();
      for (const Hit& hit : *hits) list.push_back(HitToJson(hit, /*with_vector=*/false));
      results.push_back({{"query", query.text},
                         {"expect", IdToJson(query.expect)},
                         {"correct", first},
                         {"hits", list}});
    } else {
      PrintDemoQuery(i, queries->size(), query, *hits);
    }
  }

  if (global.json) {
    std::cout << DumpJson({{"docs", doc_count},
                           {"ingest_ms", *ingest_ms},
                           {"queries", queries->size()},
                           {"correct", correct},
                           {"db", global.db},
                           {"collection", global.collection},
                           {"results", results}})
              << "\n";
  } else {
    std::cout << "\nsummary: " << doc_count << " documents ingested in " << FormatMs(*ingest_ms)
              << "; " << correct << "/" << queries->size()
              << " queries ranked the expected document first\n";
  }
  return kExitOk;
}

}  // namespace

Verb AddDemoVerb(CLI::App& app, GlobalOptions& global) {
  auto corpus = std::make_shared<std::string>(FLASHEMBED_SAMPLE_DIR);
  CLI::App* cmd =
      app.add_subcommand("demo", "Ingest the bundled sample corpus and run its queries.");
  cmd->footer(
      "Loads corpus.jsonl into a fresh collection (recreated on every run), runs every query of "
      "queries.jsonl and shows its top 3 hits and whether the expected document ranked first, "
      "then totals: documents, ingest time, queries answered correctly.");
  AddGlobalOptions(
      *cmd, global,
      std::string("database folder (default: ") + kDemoDb + "; $FLASHEMBED_DB is not used)",
      std::string("collection to recreate (default: \"") + kDemoCollection + "\")");
  cmd->add_option("--corpus", *corpus, "folder with corpus.jsonl and queries.jsonl")
      ->type_name("DIR")
      ->capture_default_str();

  return {cmd, [corpus, &global]() -> int {
            GlobalOptions demo = global;
            if (!demo.db_given) demo.db = kDemoDb;
            if (!demo.collection_given) demo.collection = kDemoCollection;
            return RunDemo(demo, *corpus);
          }};
}

}  // namespace flashembed::cli
