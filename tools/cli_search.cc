// The search verb: one query from the command line, or a file of queries.
#include <iostream>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli_input.h"
#include "tools/cli_verbs.h"

namespace flashembed::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kMaxIdColumn = 32;

struct SearchArgs {
  std::vector<std::string> words;
  std::string vector;
  std::string image;
  bool exif_orientation = false;
  std::string queries;
  size_t k = 10;
  size_t ef = 0;
  bool with_vector = false;
  std::string filter;
  std::string filter_params;
  bool explain = false;
  size_t nprobe = 0;
  std::string group_by;
  size_t group_size = 1;
  std::optional<float> min_score;
  std::optional<float> max_score;
  bool text = false;
  bool hybrid = false;
  std::string ranking;
  std::string keywords;
  std::string fusion;                // "": the default (SearchOptions / DocumentSearchOptions)
  std::optional<float> text_weight;  // unset: the default
  bool documents = false;
  size_t passages = 1;
  size_t neighbors = 0;
  bool pooled = false;
  std::string rerank;  // a reranker model folder
  size_t rerank_depth = 0;
};

// A passage with its score; its neighbours (`neighbor`) have none.
json PassageToJson(const Passage& p, bool neighbor = false) {
  json out = {{"chunk", p.ordinal}, {"begin", p.begin}, {"end", p.end}};
  if (!neighbor) out["score"] = FloatToJson(p.score);
  if (p.rerank_score) out["rerank_score"] = FloatToJson(*p.rerank_score);
  out["text"] = p.text;
  if (!p.before.empty() || !p.after.empty()) {
    json before = json::array(), after = json::array();
    for (const Passage& n : p.before) before.push_back(PassageToJson(n, true));
    for (const Passage& n : p.after) after.push_back(PassageToJson(n, true));
    out["before"] = std::move(before);
    out["after"] = std::move(after);
  }
  return out;
}

json DocumentHitsToJson(const std::vector<DocumentHit>& hits) {
  json out = json::array();
  for (const DocumentHit& h : hits) {
    json passages = json::array();
    for (const Passage& p : h.passages) passages.push_back(PassageToJson(p));
    json hit = {{"id", h.id}, {"score", FloatToJson(h.score)}};
    if (h.vector_score.has_value()) hit["vector_score"] = FloatToJson(*h.vector_score);
    if (h.text_score.has_value()) hit["text_score"] = FloatToJson(*h.text_score);
    if (h.rerank_score.has_value()) hit["rerank_score"] = FloatToJson(*h.rerank_score);
    hit["source"] = h.source;
    hit["title"] = h.title;
    hit["metadata"] = MetadataToJson(h.metadata);
    hit["passages"] = std::move(passages);
    out.push_back(std::move(hit));
  }
  return out;
}

// Documents with their passages: a line per document, then its passages
// indented, each cut to the terminal width.
void PrintDocumentHits(const std::vector<DocumentHit>& hits) {
  const size_t width = TerminalWidth();
  for (size_t i = 0; i < hits.size(); ++i) {
    const DocumentHit& h = hits[i];
    std::string head = fmt::format("{}. {}  {}", i + 1, FormatScore(h.score), h.id);
    if (h.rerank_score) head += "  rerank " + FormatScore(*h.rerank_score);
    if (!h.title.empty() && h.title != h.id) head += "  \"" + h.title + "\"";
    if (!h.source.empty() && h.source != h.id) head += "  (" + h.source + ")";
    std::cout << FitToWidth(head, width) << "\n";
    for (const Passage& p : h.passages) {
      auto one_line = [](const std::string& text) {  // runs of whitespace as one space
        std::string out;
        for (char c : text) {
          const bool space = c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f';
          if (!space) {
            out.push_back(c);
          } else if (!out.empty() && out.back() != ' ') {
            out.push_back(' ');
          }
        }
        return out;
      };
      std::string context;
      for (const Passage& n : p.before) context += one_line(n.text) + " ";
      const std::string rerank = p.rerank_score ? ", rerank " + FormatScore(*p.rerank_score) : "";
      std::cout << FitToWidth(fmt::format("   [chunk {}, bytes {}-{}, {}{}] {}", p.ordinal, p.begin,
                                          p.end, FormatScore(p.score), rerank, one_line(p.text)),
                              width)
                << "\n";
      if (!p.before.empty() || !p.after.empty()) {
        std::string after;
        for (const Passage& n : p.after) after += one_line(n.text) + " ";
        if (!context.empty()) std::cout << FitToWidth("      before: " + context, width) << "\n";
        if (!after.empty()) std::cout << FitToWidth("      after: " + after, width) << "\n";
      }
    }
  }
}

json HitsToJson(const std::vector<Hit>& hits, bool with_vector) {
  json out = json::array();
  for (const Hit& hit : hits) out.push_back(HitToJson(hit, with_vector));
  return out;
}

// What the TEXT column shows: the text, or for an image record (no text,
// metadata kind "image") "[image] " and its source.
std::string HitText(const Hit& hit) {
  if (!hit.text.empty() || hit.metadata.find("\"kind\":\"image\"") == std::string::npos) {
    return hit.text;
  }
  const json meta = json::parse(hit.metadata, nullptr, /*allow_exceptions=*/false);
  if (!meta.is_object() || meta.value("kind", "") != "image") return hit.text;
  return "[image] " + meta.value("source", "");
}

// A ranked table: rank, score, id and the text cut to the terminal width.
// With --group-by, a GROUP column holds each hit's group value.
void PrintHitTable(const std::vector<Hit>& hits) {
  const bool grouped = !hits.empty() && !hits[0].group.empty();
  const bool reranked = !hits.empty() && hits[0].rerank_score.has_value();
  std::vector<std::vector<std::string>> rows = {{"#", "SCORE", "ID", "TEXT"}};
  if (grouped) rows[0].insert(rows[0].begin() + 1, "GROUP");
  if (reranked) rows[0].insert(rows[0].begin() + 1, "RERANK");
  for (size_t i = 0; i < hits.size(); ++i) {
    rows.push_back({std::to_string(i + 1), FormatScore(hits[i].score),
                    FitToWidth(hits[i].id.ToString(), kMaxIdColumn), HitText(hits[i])});
    if (grouped)
      rows.back().insert(rows.back().begin() + 1, FitToWidth(hits[i].group, kMaxIdColumn));
    if (reranked) {
      rows.back().insert(rows.back().begin() + 1,
                         hits[i].rerank_score ? FormatScore(*hits[i].rerank_score) : "");
    }
  }
  std::cout << FormatTable(rows, TerminalWidth());
}

// The single query given by QUERY words or --vector. Errors are usage errors.
Result<InputQuery> QueryFromArguments(const SearchArgs& args) {
  if (!args.image.empty()) {
    return InputQuery{.label = nullptr,
                      .text = {},
                      .vector = {},
                      .image = args.image,
                      .k = std::nullopt,
                      .where = ""};
  }
  if (!args.vector.empty()) {
    Result<std::vector<float>> vector = ParseVector(args.vector);
    if (!vector.ok()) return Status::InvalidArgument("--vector: " + vector.status().message());
    return InputQuery{.label = nullptr,
                      .text = {},
                      .vector = std::move(*vector),
                      .image = {},
                      .k = std::nullopt,
                      .where = ""};
  }
  std::string text;
  for (const std::string& word : args.words) text += (text.empty() ? "" : " ") + word;
  if (text.empty()) return Status::InvalidArgument("the query text is empty");
  return InputQuery{.label = nullptr,
                    .text = std::move(text),
                    .vector = {},
                    .image = {},
                    .k = std::nullopt,
                    .where = ""};
}

// Checks every query against the collection before the first search, so a
// bad line of a --queries file prints no results at all. Messages start with
// the query's `where` when it has one.
Status CheckQueries(const std::vector<InputQuery>& queries, const SearchOptions& options,
                    const CollectionInfo& info) {
  for (const InputQuery& query : queries) {
    const std::string prefix = query.where.empty() ? "" : query.where + ": ";
    SearchOptions own = options;
    own.k = query.k.value_or(options.k);
    if (Status status = own.Validate(); !status.ok()) {
      return Status::InvalidArgument(prefix + status.message());
    }
    if (!query.image.empty()) {
      // The file must be there now; it is read when its turn comes.
      if (Status status = CheckImageFile(query.image); !status.ok()) {
        return Status::InvalidArgument(prefix + status.message());
      }
      if (!info.embeds_images) {
        return Status::InvalidArgument(
            prefix + "collection \"" + info.name + "\" cannot embed images: its encoder (" +
            EncoderName(info.schema) +
            ") embeds texts only; search images in a collection created with a CLIP model folder "
            "(create --model DIR)");
      }
      continue;
    }
    if (query.vector.empty() && IsBlankText(query.text)) {
      return Status::InvalidArgument(prefix +
                                     "query is empty (or only whitespace / control characters)");
    }
    if (query.vector.empty() && info.schema.encoder.empty()) {
      return Status::InvalidArgument(prefix + "collection \"" + info.name +
                                     "\" is vector-only (encoder none): search it with a vector");
    }
    if (!query.vector.empty() && query.vector.size() != static_cast<size_t>(info.schema.dim)) {
      return Status::InvalidArgument(
          fmt::format("{}dim mismatch: collection \"{}\" has {}, query vector has {}", prefix,
                      info.name, info.schema.dim, query.vector.size()));
    }
    if (!query.vector.empty()) {
      if (Status status = ValidateVector(query.vector, info.schema.metric); !status.ok()) {
        return Status::InvalidArgument(prefix + "query " + status.message());
      }
    }
  }
  return Status::OK();
}

int RunSearch(const SearchArgs& args, const GlobalOptions& global) {
  const int sources =
      !args.words.empty() + !args.vector.empty() + !args.image.empty() + !args.queries.empty();
  if (sources != 1) {
    return ReportUsageError(
        "give the query as QUERY words, --vector, --image or --queries (exactly one)");
  }
  // Document search has defaults of its own (DocumentSearchOptions).
  SearchOptions options = args.documents ? DocumentSearchOptions().search : SearchOptions();
  options.k = args.k;
  options.ef_search = args.ef;
  options.with_vector = args.with_vector;
  options.filter = args.filter;
  options.filter_params = args.filter_params;
  options.nprobe = args.nprobe;
  options.group_by = args.group_by;
  options.group_size = args.group_size;
  options.min_score = args.min_score;
  options.max_score = args.max_score;
  if (args.text + args.hybrid + !args.ranking.empty() > 1) {
    return ReportUsageError("give one of --text, --hybrid and --ranking, not both");
  }
  // Unset, each search's own default: vector, or kAuto for --documents.
  if (args.text) options.ranking = Ranking::kText;
  if (args.hybrid) options.ranking = Ranking::kHybrid;
  if (!args.ranking.empty()) options.ranking = ParseRanking(args.ranking);
  options.keywords = args.keywords;
  if (!args.fusion.empty()) options.fusion = ParseFusion(args.fusion);
  if (args.text_weight) options.text_weight = *args.text_weight;
  options.reranker =
      args.rerank.empty() || args.rerank == "none" ? args.rerank : "model:" + args.rerank;
  options.rerank_depth = args.rerank_depth;
  if (Status status = options.Validate(); !status.ok()) return ReportUsageError(status.message());
  if (!args.documents && (args.pooled || args.passages != 1 || args.neighbors != 0)) {
    return ReportUsageError("--passages, --neighbors and --pooled need --documents");
  }

  const bool from_file = !args.queries.empty();
  std::vector<InputQuery> queries;
  if (from_file) {
    Result<std::vector<InputQuery>> read = ReadQueries(args.queries);
    if (!read.ok()) return ReportError(read.status());
    queries = std::move(*read);
  } else {
    Result<InputQuery> query = QueryFromArguments(args);
    if (!query.ok()) return ReportUsageError(query.status().message());
    queries.push_back(std::move(*query));
  }

  std::unique_ptr<Database> db;
  Result<std::shared_ptr<Collection>> collection = OpenCollection(global, db, /*for_reading=*/true);
  if (!collection.ok()) return ReportError(collection.status());
  Result<CollectionInfo> info = (*collection)->Describe();
  if (!info.ok()) return ReportError(info.status());
  if (Status status = CheckQueries(queries, options, *info); !status.ok()) {
    return ReportError(status);
  }

  for (const InputQuery& query : queries) {
    SearchOptions own = options;
    own.k = query.k.value_or(options.k);
    SearchStats stats;
    own.stats = &stats;
    Query q = query.vector.empty() ? Query::Text(query.text) : Query::Vector(query.vector);
    if (!query.image.empty()) {
      Result<ImageInput> image = ReadImageInput(query.image, args.exif_orientation);
      if (!image.ok()) {
        const std::string prefix = query.where.empty() ? "" : query.where + ": ";
        return ReportError(prefix + image.status().message(), kExitRuntimeError);
      }
      q = Query::Image(std::move(*image));
    }
    if (args.documents) {
      DocumentSearchOptions doc_options;
      doc_options.search = own;
      doc_options.search.stats = nullptr;
      doc_options.passages = args.passages;
      doc_options.neighbors = args.neighbors;
      doc_options.pooled = args.pooled;
      Result<std::vector<DocumentHit>> docs = (*collection)->SearchDocuments(doc_options, q);
      if (!docs.ok()) {
        const std::string prefix = query.where.empty() ? "" : query.where + ": ";
        return ReportError(prefix + docs.status().message(), kExitRuntimeError);
      }
      if (from_file) {
        std::cout << DumpJson(
                         json{{"query", query.label}, {"documents", DocumentHitsToJson(*docs)}})
                  << "\n";
      } else if (global.json) {
        std::cout << DumpJson(json{{"documents", DocumentHitsToJson(*docs)}}) << "\n";
      } else if (docs->empty()) {
        std::cout << "no results: no document matches\n";
      } else {
        PrintDocumentHits(*docs);
      }
      continue;
    }
    Result<std::vector<Hit>> hits = (*collection)->Search(own, q);
    if (!hits.ok()) {
      const std::string prefix = query.where.empty() ? "" : query.where + ": ";
      return ReportError(prefix + hits.status().message(), kExitRuntimeError);
    }
    const json explained = {{"strategy", stats.strategy}, {"filter_matches", stats.filter_matches}};
    if (from_file) {
      json line = {{"query", query.label}, {"hits", HitsToJson(*hits, args.with_vector)}};
      if (args.explain) line["explain"] = explained;
      std::cout << DumpJson(line) << "\n";
    } else if (global.json) {
      json out = {{"hits", HitsToJson(*hits, args.with_vector)}};
      if (args.explain) out["explain"] = explained;
      std::cout << DumpJson(out) << "\n";
    } else {
      if (hits->empty()) {
        std::cout << "no results: "
                  << (args.filter.empty() ? "collection \"" + global.collection + "\" is empty"
                                          : std::string("no document matches the filter"))
                  << "\n";
      } else {
        PrintHitTable(*hits);
      }
      if (args.explain) {
        std::cout << "strategy: " << stats.strategy << ", filter matches: " << stats.filter_matches
                  << "\n";
      }
    }
  }
  return kExitOk;
}

}  // namespace

Verb AddSearchVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<SearchArgs>();
  CLI::App* cmd = app.add_subcommand("search", "Find the documents most similar to a query.");
  cmd->footer(
      "Give the query as QUERY words (joined by spaces), --vector, or --queries FILE.\n"
      "Scores: higher is better (cosine similarity, inner product, or minus the squared L2 "
      "distance). Human output is a ranked table; --json prints {\"hits\": [{\"id\", \"score\", "
      "\"text\", \"metadata\"}, ...]}.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("QUERY", args->words, "query text (the words are joined by spaces)")
      ->type_name("");
  cmd->add_option("--vector", args->vector, "query vector, e.g. \"[0.1, 0.2, 0.3]\"")
      ->type_name("VECTOR");
  cmd->add_option("--image", args->image,
                  "query image file (JPEG, PNG, WebP, GIF), for a collection of a CLIP model")
      ->type_name("FILE");
  cmd->add_flag("--exif-orientation", args->exif_orientation, kExifOrientationHelp);
  cmd->add_option("--queries", args->queries,
                  "JSON Lines file of queries {\"text\": ...}, {\"vector\": [...]} or "
                  "{\"image\": \"path\"}, optional "
                  "\"k\" and \"id\"; - = stdin. Always prints one JSON line per query: "
                  "{\"query\": the \"id\" or else the 1-based line number, \"hits\": [...]}. "
                  "The whole file is checked before the first search.")
      ->type_name("FILE");
  cmd->add_option("-k", args->k, "number of results (1..16384)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--ef", args->ef, "HNSW candidate list; 0 = the collection's ef_search")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_flag("--with-vector", args->with_vector, "include each hit's vector in JSON output");
  cmd->add_option("--filter", args->filter,
                  "Milvus filter expression over metadata keys and id, e.g. "
                  "'lang == \"en\" and year >= 2020'")
      ->type_name("EXPR");
  cmd->add_option("--filter-params", args->filter_params,
                  "JSON object for the filter's {name} templates, e.g. '{\"langs\": [\"en\"]}'")
      ->type_name("JSON");
  cmd->add_flag("--explain", args->explain,
                "also print how the search ran (strategy, documents the filter matched)");
  cmd->add_option("--nprobe", args->nprobe, "IVF lists searched; 0 = the collection's nprobe")
      ->type_name("N");
  cmd->add_option("--group-by", args->group_by,
                  "return the k best groups of documents sharing this metadata key (or path, "
                  "a[\"b\"]), best group first")
      ->type_name("KEY");
  cmd->add_option("--group-size", args->group_size, "documents per group with --group-by (1..1024)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--min-score", args->min_score,
                  "range search: only hits scoring at least this (still at most k)")
      ->type_name("SCORE");
  cmd->add_option("--max-score", args->max_score, "range search: only hits scoring at most this")
      ->type_name("SCORE");
  cmd->add_flag("--text", args->text,
                "rank by BM25 full-text relevance instead of vectors (collection made with "
                "create --text-index)");
  cmd->add_flag("--hybrid", args->hybrid,
                "rank by vectors and BM25 together (--fusion); JSON hits carry vector_score and "
                "text_score");
  cmd->add_option("--ranking", args->ranking,
                  "auto, vector, text or hybrid. auto (the default): by vector, except document "
                  "search on a collection with a text index, which ranks hybrid")
      ->check(CLI::IsMember({"auto", "vector", "text", "hybrid"}))
      ->type_name("R");
  cmd->add_option("--keywords", args->keywords,
                  "with --text/--hybrid: the full-text query, if not the QUERY words")
      ->type_name("TEXT");
  cmd->add_option("--fusion", args->fusion,
                  "with --hybrid: rrf (reciprocal rank fusion), weighted or normalized (both with "
                  "--text-weight); default rrf, for --documents normalized")
      ->check(CLI::IsMember({"rrf", "weighted", "normalized"}));
  cmd->add_flag("--documents", args->documents,
                "rank long documents (see ingest) by their best chunk (vector, BM25 or both: "
                "--ranking) and show the passages");
  cmd->add_option("--passages", args->passages, "with --documents: passages per document (1..64)");
  cmd->add_option("--neighbors", args->neighbors,
                  "with --documents: chunks shown before and after each passage (0..8)");
  cmd->add_flag("--pooled", args->pooled,
                "with --documents: rank by each document's pooled vector instead");
  cmd->add_option("--rerank", args->rerank,
                  "rerank the first --rerank-depth results with this cross-encoder folder (a "
                  "Hugging Face BERT or XLM-RoBERTa sequence-classification model); hits carry "
                  "rerank_score beside score. Default: the collection's reranker (create "
                  "--reranker), if any; none: no reranking")
      ->type_name("DIR");
  cmd->add_option("--rerank-depth", args->rerank_depth,
                  "with --rerank: first-stage results reranked (default max(k, 20), at most 1000)")
      ->type_name("N");
  cmd->add_option("--text-weight", args->text_weight,
                  "with --fusion weighted or normalized: BM25's weight, 0..1 (default 0.5, for "
                  "--documents 0.8)")
      ->type_name("W");
  return {cmd, [args, &global] { return RunSearch(*args, global); }};
}

}  // namespace flashembed::cli
