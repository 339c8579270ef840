// flashembed eval: scores a collection against a test set in the BEIR layout
// (corpus.jsonl ingested into the collection, queries.jsonl, qrels/SPLIT.tsv)
// with recall@k, MRR@10 and nDCG@10 for each ranking, side by side.
#include <algorithm>
#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <unordered_map>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli_input.h"
#include "tools/cli_verbs.h"

namespace flashembed::cli {
namespace {

using json = nlohmann::ordered_json;

struct EvalArgs {
  std::string data;
  std::string split = "test";
  size_t k = 10;
  std::vector<std::string> rankings;
  std::string fusion;  // "": the default (DocumentSearchOptions / SearchOptions)
  std::optional<int> rrf_k;
  std::optional<float> text_weight;
  size_t limit = 0;
};

// qrels: query id -> (document id -> relevance > 0).
using Qrels = std::map<std::string, std::unordered_map<std::string, int>>;

// Reads a BEIR qrels file: "query-id<TAB>corpus-id<TAB>score" per line, an
// optional header line first. Lines with score <= 0 are not relevant.
Result<Qrels> ReadQrels(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(path + ": cannot open the qrels file");
  Qrels qrels;
  std::string line;
  size_t number = 0;
  while (std::getline(in, line)) {
    ++number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    std::vector<std::string> fields;
    size_t start = 0;
    while (true) {
      const size_t tab = line.find('\t', start);
      fields.push_back(line.substr(start, tab == std::string::npos ? tab : tab - start));
      if (tab == std::string::npos) break;
      start = tab + 1;
    }
    if (number == 1 && !fields.empty() && fields[0] == "query-id") continue;
    const std::string where = fmt::format("{}:{}", path, number);
    if (fields.size() != 3 || fields[0].empty() || fields[1].empty()) {
      return Status::InvalidArgument(where + ": expected query-id<TAB>corpus-id<TAB>score, got \"" +
                                     line + "\"");
    }
    int score = 0;
    try {
      size_t used = 0;
      score = std::stoi(fields[2], &used);
      if (used != fields[2].size()) throw std::invalid_argument("trailing");
    } catch (const std::exception&) {
      return Status::InvalidArgument(where + ": score \"" + fields[2] + "\" is not an integer");
    }
    if (score > 0) qrels[fields[0]][fields[1]] = score;
  }
  if (in.bad()) return Status::IOError(path + ": read error");
  return qrels;
}

// The texts of the queries that have relevant documents.
Result<std::map<std::string, std::string>> ReadQueryTexts(const std::string& path,
                                                          const Qrels& qrels) {
  std::map<std::string, std::string> texts;
  FE_RETURN_IF_ERROR(
      ForEachJsonLine(path, [&](const json& record, const std::string& where, size_t) -> Status {
        const auto fail = [&](const std::string& message) {
          return Status::InvalidArgument(where + ": " + message);
        };
        if (!record.is_object()) return fail("expected a JSON object");
        const auto id = record.find("_id") != record.end() ? record.find("_id") : record.find("id");
        if (id == record.end()) return fail("missing \"_id\"");
        const std::string key = id->is_string() ? id->get<std::string>() : id->dump();
        const auto text = record.find("text");
        if (text == record.end() || !text->is_string()) return fail("missing \"text\" string");
        if (qrels.contains(key)) texts[key] = text->get<std::string>();
        return Status::OK();
      }));
  return texts;
}

// The ranking metrics of one query's result list.
struct Scores {
  double recall = 0;  // at k
  double mrr = 0;     // at 10
  double ndcg = 0;    // at 10
};

Scores Score(const std::vector<std::string>& ranked,
             const std::unordered_map<std::string, int>& relevant, size_t k) {
  Scores s;
  size_t found = 0;
  for (size_t i = 0; i < ranked.size() && i < k; ++i) found += relevant.contains(ranked[i]);
  s.recall = relevant.empty() ? 0.0 : static_cast<double>(found) / relevant.size();
  double dcg = 0;
  for (size_t i = 0; i < ranked.size() && i < 10; ++i) {
    auto it = relevant.find(ranked[i]);
    if (it == relevant.end()) continue;
    if (s.mrr == 0) s.mrr = 1.0 / static_cast<double>(i + 1);
    dcg += it->second / std::log2(static_cast<double>(i + 2));
  }
  std::vector<int> gains;
  for (const auto& [id, rel] : relevant) gains.push_back(rel);
  std::sort(gains.rbegin(), gains.rend());
  double ideal = 0;
  for (size_t i = 0; i < gains.size() && i < 10; ++i) {
    ideal += gains[i] / std::log2(static_cast<double>(i + 2));
  }
  s.ndcg = ideal > 0 ? dcg / ideal : 0.0;
  return s;
}

int RunEval(const EvalArgs& args, const GlobalOptions& global) {
  if (args.k < 1 || args.k > 1000) return ReportUsageError("-k must be 1..1000");
  const std::filesystem::path data(args.data);
  Result<Qrels> qrels = ReadQrels((data / "qrels" / (args.split + ".tsv")).string());
  if (!qrels.ok()) return ReportError(qrels.status());
  if (qrels->empty()) {
    return ReportError(
        fmt::format("{}: no relevant documents in split \"{}\"", args.data, args.split),
        kExitRuntimeError);
  }
  Result<std::map<std::string, std::string>> texts =
      ReadQueryTexts((data / "queries.jsonl").string(), *qrels);
  if (!texts.ok()) return ReportError(texts.status());
  if (texts->empty()) {
    return ReportError(args.data + ": no query of the qrels is in queries.jsonl",
                       kExitRuntimeError);
  }

  std::unique_ptr<Database> db;
  Result<std::shared_ptr<Collection>> collection = OpenCollection(global, db, /*for_reading=*/true);
  if (!collection.ok()) return ReportError(collection.status());
  Result<CollectionInfo> info = (*collection)->Describe();
  if (!info.ok()) return ReportError(info.status());
  if (info->schema.encoder.empty()) {
    return ReportError("collection \"" + global.collection +
                           "\" is vector-only (encoder none): eval needs an encoder for the "
                           "query texts",
                       kExitRuntimeError);
  }
  Result<uint64_t> documents = (*collection)->CountDocuments();
  if (!documents.ok()) return ReportError(documents.status());
  // Long documents are searched with SearchDocuments; a collection of plain
  // records with Search, their ids being the corpus ids.
  const bool by_document = *documents > 0;

  std::vector<std::string> rankings = args.rankings;
  if (rankings.empty()) {
    rankings = {"vector"};
    if (info->schema.text_index) rankings.insert(rankings.end(), {"text", "hybrid"});
  }
  for (const std::string& r : rankings) {
    if (r != "vector" && !info->schema.text_index) {
      return ReportError("collection \"" + global.collection + "\" has no text index: ranking " +
                             r + " needs one (ingest keeps one unless --no-text-index)",
                         kExitRuntimeError);
    }
  }

  std::vector<std::pair<std::string, std::string>> queries(texts->begin(), texts->end());
  if (args.limit > 0 && queries.size() > args.limit) queries.resize(args.limit);
  // Relevant documents of the scored queries that the collection does not
  // hold (counted, not fatal: they count as missed).
  std::set<std::string> wanted;
  for (const auto& [q, text] : queries) {
    for (const auto& [d, score] : qrels->at(q)) wanted.insert(d);
  }
  size_t absent = 0;
  for (const std::string& d : wanted) {
    Status status;
    if (by_document) {
      status = (*collection)->GetDocument(d, /*with_vector=*/false).status();
    } else {
      // A string id, or an integer one written in digits.
      status = (*collection)->Get(Id(d)).status();
      Result<Id> number = ParseIdArgument(d, /*as_string=*/false);
      if (status.IsNotFound() && number.ok() && !number->is_string()) {
        status = (*collection)->Get(*number).status();
      }
    }
    if (!status.ok()) {
      if (!status.IsNotFound()) return ReportError(status);
      ++absent;
    }
  }

  const size_t depth = std::max<size_t>(args.k, 10);
  json results = json::array();
  std::vector<std::vector<std::string>> table = {
      {"ranking", fmt::format("recall@{}", args.k), "MRR@10", "nDCG@10", "queries/s"}};
  for (const std::string& name : rankings) {
    SearchOptions options = by_document ? DocumentSearchOptions().search : SearchOptions();
    options.k = depth;
    options.ranking = ParseRanking(name);
    if (!args.fusion.empty()) options.fusion = ParseFusion(args.fusion);
    if (args.rrf_k) options.rrf_k = *args.rrf_k;
    if (args.text_weight) options.text_weight = *args.text_weight;
    options.with_text = false;
    options.with_metadata = false;
    Scores sum;
    const auto start = std::chrono::steady_clock::now();
    for (const auto& [qid, text] : queries) {
      std::vector<std::string> ranked;
      if (by_document) {
        DocumentSearchOptions doc_options;
        doc_options.search = options;
        Result<std::vector<DocumentHit>> hits =
            (*collection)->SearchDocuments(doc_options, Query::Text(text));
        if (!hits.ok()) {
          return ReportError("query " + qid + ": " + hits.status().message(), kExitRuntimeError);
        }
        for (const DocumentHit& h : *hits) ranked.push_back(h.id);
      } else {
        Result<std::vector<Hit>> hits = (*collection)->Search(options, Query::Text(text));
        if (!hits.ok()) {
          return ReportError("query " + qid + ": " + hits.status().message(), kExitRuntimeError);
        }
        for (const Hit& h : *hits) ranked.push_back(h.id.ToString());
      }
      const Scores s = Score(ranked, qrels->at(qid), args.k);
      sum.recall += s.recall;
      sum.mrr += s.mrr;
      sum.ndcg += s.ndcg;
    }
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    const double n = static_cast<double>(queries.size());
    const double qps = seconds > 0 ? n / seconds : 0.0;
    results.push_back({{"ranking", name},
                       {fmt::format("recall@{}", args.k), sum.recall / n},
                       {"mrr@10", sum.mrr / n},
                       {"ndcg@10", sum.ndcg / n},
                       {"queries_per_second", qps}});
    table.push_back({name, fmt::format("{:.4f}", sum.recall / n),
                     fmt::format("{:.4f}", sum.mrr / n), fmt::format("{:.4f}", sum.ndcg / n),
                     fmt::format("{:.0f}", qps)});
  }

  if (global.json) {
    json out = {{"collection", global.collection},
                {"data", args.data},
                {"split", args.split},
                {"searched", by_document ? "documents" : "records"},
                {"queries", queries.size()},
                {"relevant_not_in_collection", absent},
                {"results", std::move(results)}};
    std::cout << DumpJson(out) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format(
      "collection \"{}\" ({}) on {}, split {}: {} queries{}\n", global.collection,
      by_document ? "long documents" : "records", args.data, args.split, queries.size(),
      absent > 0 ? fmt::format(", {} relevant documents not in the collection", absent) : "");
  std::cout << FormatTable(table, TerminalWidth());
  return kExitOk;
}

}  // namespace

Verb AddEvalVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<EvalArgs>();
  CLI::App* cmd = app.add_subcommand(
      "eval", "Score search quality against a test set (BEIR layout) for each ranking.");
  cmd->footer(
      "DIR holds queries.jsonl ({\"_id\", \"text\"} per line) and qrels/SPLIT.tsv "
      "(query-id, corpus-id, score; a header line is allowed); its corpus.jsonl ({\"_id\", "
      "\"title\", \"text\"}) must be ingested into the collection first, e.g. flashembed ingest "
      "-c C DIR/corpus.jsonl. Long documents are ranked with search --documents, a collection "
      "of plain records by its records' ids. Prints recall@k, MRR@10 and nDCG@10 (means over "
      "the queries of the split that have relevant documents) for vector, text and hybrid "
      "ranking (the last two when the collection keeps a text index).");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("DIR", args->data, "the test set's folder")->required();
  cmd->add_option("--split", args->split, "qrels file to score: DIR/qrels/SPLIT.tsv")
      ->capture_default_str();
  cmd->add_option("-k", args->k, "recall@k's k (1..1000); at least 10 results are read")
      ->capture_default_str();
  cmd->add_option("--ranking", args->rankings,
                  "rankings to score (repeatable): vector, text, hybrid")
      ->check(CLI::IsMember({"vector", "text", "hybrid"}));
  cmd->add_option("--fusion", args->fusion,
                  "hybrid fusion: rrf, weighted or normalized (default: as search, normalized "
                  "for long documents)")
      ->check(CLI::IsMember({"rrf", "weighted", "normalized"}));
  cmd->add_option("--rrf-k", args->rrf_k, "with --fusion rrf: its k (1..16384, default 60)");
  cmd->add_option("--text-weight", args->text_weight,
                  "with --fusion weighted or normalized: BM25's weight, 0..1 (default: as "
                  "search)");
  cmd->add_option("--limit", args->limit, "score only the first N queries (by id); 0 = all")
      ->capture_default_str();
  return {cmd, [args, &global] { return RunEval(*args, global); }};
}

}  // namespace flashembed::cli
