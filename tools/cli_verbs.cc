// The collection and document verbs: create, add, get, delete, stats, drop.
// Each verb is a flag struct, a Run function and the Add*Verb registration.
#include "tools/cli_verbs.h"

#include <iostream>
#include <memory>
#include <optional>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "tools/cli_ingest.h"
#include "tools/cli_input.h"

namespace flashembed::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr const char* kIdRule =
    "An ID made of an optional '-' and digits is an integer id, anything else a string id; "
    "--string-id makes every ID a string id (7 and \"7\" are different ids).";

Result<std::vector<Id>> ParseIdArguments(const std::vector<std::string>& texts, bool as_string) {
  std::vector<Id> ids;
  for (const std::string& text : texts) {
    FE_ASSIGN_OR_RETURN(Id id, ParseIdArgument(text, as_string));
    ids.push_back(std::move(id));
  }
  return ids;
}

std::string Plural(size_t n, const char* word) {
  return fmt::format("{} {}{}", n, word, n == 1 ? "" : "s");
}

std::string IndexedFields(const CollectionSchema& s) {
  std::string out;
  for (const std::string& f : s.indexed_fields)
    out += (out.empty() ? ", indexed fields " : " ") + f;
  return out;
}

// "auto" for 0, else the number.
std::string AutoOr(int n) { return n == 0 ? std::string("auto") : std::to_string(n); }

std::string DescribeSchema(const CollectionInfo& info) {
  const CollectionSchema& s = info.schema;
  std::string index;
  switch (s.index) {
    case IndexKind::kHnsw:
      index = fmt::format("hnsw m={} ef_construction={} ef_search={}", s.hnsw.m,
                          s.hnsw.ef_construction, s.hnsw.ef_search);
      break;
    case IndexKind::kFlat: index = "flat (exact)"; break;
    default:
      index = fmt::format("{} nlist={} nprobe={}", IndexKindName(s.index), AutoOr(s.ivf.nlist),
                          s.ivf.nprobe);
      if (s.index == IndexKind::kIvfPq) {
        index += fmt::format(" pq_m={} pq_nbits={}", AutoOr(s.ivf.pq_m), s.ivf.pq_nbits);
      }
      break;
  }
  const std::string encoder = info.encoder_spec.empty() ? "none" : info.encoder_spec;
  return fmt::format("dim {}, metric {}, encoder {}, {}{}{}", s.dim, MetricName(s.metric), encoder,
                     index, s.text_index ? ", full-text index" : "", IndexedFields(s));
}

// --- create -------------------------------------------------------------------

struct CreateArgs {
  int dim = 0;
  std::string metric = "cosine";
  HnswParams hnsw;
  std::string encoder = "hash";
  std::string model;  // a Hugging Face model folder; overrides --encoder
  std::string query_prefix;
  std::string document_prefix;
  std::string index = "hnsw";
  IvfParams ivf;
  bool text_index = false;
  std::vector<std::string> index_fields;
  std::string reranker;  // a default reranker folder
};

int RunCreate(const CreateArgs& args, const GlobalOptions& global) {
  if (args.encoder == "none" && args.dim <= 0) {
    return ReportUsageError("--encoder none needs --dim N (the vector dimension)");
  }
  CollectionSchema schema;
  schema.dim = args.dim;
  schema.metric = ParseMetric(args.metric).value_or(Metric::kCosine);
  schema.hnsw = args.hnsw;
  schema.index = ParseIndexKind(args.index).value_or(IndexKind::kHnsw);
  schema.ivf = args.ivf;
  schema.text_index = args.text_index;
  schema.indexed_fields = args.index_fields;
  schema.encoder = args.encoder == "none" ? "" : args.encoder;
  if (!args.model.empty()) schema.encoder = "model:" + args.model;
  schema.query_prefix = args.query_prefix;
  schema.document_prefix = args.document_prefix;
  if (!args.reranker.empty()) schema.reranker = "model:" + args.reranker;
  if (Status status = schema.Validate(); !status.ok()) {
    return ReportUsageError(status.message());
  }

  Result<std::unique_ptr<Database>> db = OpenDatabase(global.db, /*create_if_missing=*/true);
  if (!db.ok()) return ReportError(db.status());
  Result<std::shared_ptr<Collection>> collection =
      (*db)->CreateCollection(global.collection, schema);
  if (!collection.ok()) return ReportError(collection.status());
  Result<CollectionInfo> info = (*collection)->Describe();
  if (!info.ok()) return ReportError(info.status());
  if (global.json) {
    std::cout << DumpJson(CollectionInfoToJson(*info)) << "\n";
  } else {
    std::cout << "created collection \"" << info->name << "\": " << DescribeSchema(*info) << "\n";
  }
  return kExitOk;
}

// --- add ----------------------------------------------------------------------

struct AddArgs {
  std::vector<std::string> texts;
  std::vector<std::string> images;
  bool exif_orientation = false;
  std::vector<std::string> ids;
  std::string file;
  std::string jsonl;
  std::string metadata;
  bool upsert = false;
  bool string_id = false;
};

// The records given by TEXT arguments (with --id and --metadata). Errors are
// usage errors.
Result<std::vector<InputRecord>> RecordsFromArguments(const AddArgs& args,
                                                      const std::string& metadata) {
  const bool images = !args.images.empty();
  const size_t given = images ? args.images.size() : args.texts.size();
  const char* what = images ? "--image" : "TEXT";
  if (!args.ids.empty() && args.ids.size() != given) {
    return Status::InvalidArgument("got " + Plural(args.ids.size(), "--id") + " for " +
                                   Plural(given, what) + "; give one --id per " + what +
                                   " or none");
  }
  Result<std::vector<Id>> ids = ParseIdArguments(args.ids, args.string_id);
  if (!ids.ok()) return Status::InvalidArgument("--id: " + ids.status().message());
  std::vector<InputRecord> records;
  for (size_t i = 0; images && i < args.images.size(); ++i) {
    records.push_back(InputRecord{
        .id = ids->empty() ? std::nullopt : std::optional<Id>((*ids)[i]),
        .text = {},
        .metadata = metadata,
        .vector = {},
        .image = args.images[i],
        .apply_exif_orientation = args.exif_orientation,
        .where = args.images[i],
    });
  }
  for (size_t i = 0; i < args.texts.size(); ++i) {
    const std::string where = fmt::format("TEXT argument {}", i + 1);
    if (args.texts[i].empty()) return Status::InvalidArgument(where + " is empty");
    records.push_back(InputRecord{
        .id = ids->empty() ? std::nullopt : std::optional<Id>((*ids)[i]),
        .text = args.texts[i],
        .metadata = metadata,
        .vector = {},
        .where = where,
    });
  }
  return records;
}

void PrintAddResult(const IngestResult& result, bool upsert, const GlobalOptions& global) {
  if (global.json) {
    json out = {
        {"added", result.added}, {"collection", global.collection}, {"created", result.created}};
    if (result.first_auto_id) {
      out["first_id"] = *result.first_auto_id;
      out["last_id"] = *result.last_auto_id;
    }
    std::cout << DumpJson(out) << "\n";
    return;
  }
  if (result.created) {
    std::cout << "created collection \"" << global.collection
              << "\" with the default schema (hash encoder)\n";
  }
  std::cout << (upsert ? "added or replaced " : "added ") << Plural(result.added, "document")
            << (upsert ? " in \"" : " to \"") << global.collection << "\"";
  if (result.first_auto_id && *result.first_auto_id == *result.last_auto_id) {
    std::cout << " (automatic id " << *result.first_auto_id << ")";
  } else if (result.first_auto_id) {
    std::cout << " (automatic ids " << *result.first_auto_id << ".." << *result.last_auto_id << ")";
  }
  std::cout << "\n";
}

int RunAdd(const AddArgs& args, const GlobalOptions& global) {
  const int sources =
      !args.texts.empty() + !args.images.empty() + !args.file.empty() + !args.jsonl.empty();
  if (sources != 1) {
    return ReportUsageError(
        "give the documents as TEXT arguments, --image, --file or --jsonl (exactly one)");
  }
  if (!args.ids.empty() && args.texts.empty() && args.images.empty()) {
    return ReportUsageError(
        "--id applies to TEXT and --image arguments; --jsonl records carry their own ids");
  }
  if (!args.metadata.empty() && !args.jsonl.empty()) {
    return ReportUsageError(
        "--metadata applies to TEXT and --file; --jsonl records carry their own");
  }
  std::string metadata = "{}";
  if (!args.metadata.empty()) {
    Result<std::string> parsed = ParseMetadataObject(args.metadata);
    if (!parsed.ok()) return ReportUsageError("--metadata: " + parsed.status().message());
    metadata = std::move(*parsed);
  }

  std::vector<InputRecord> records;
  if (!args.texts.empty() || !args.images.empty()) {
    Result<std::vector<InputRecord>> parsed = RecordsFromArguments(args, metadata);
    if (!parsed.ok()) return ReportUsageError(parsed.status().message());
    records = std::move(*parsed);
  } else {
    // File contents are data, not usage: their errors are runtime errors.
    Result<std::vector<InputRecord>> read =
        args.file.empty() ? ReadJsonlRecords(args.jsonl) : ReadTextLines(args.file, metadata);
    if (!read.ok()) return ReportError(read.status());
    records = std::move(*read);
  }

  Result<std::unique_ptr<Database>> db = OpenDatabase(global.db, /*create_if_missing=*/true);
  if (!db.ok()) return ReportError(db.status());
  Result<IngestResult> result = Ingest(**db, global.collection, std::move(records), args.upsert);
  if (!result.ok()) return ReportError(result.status());
  PrintAddResult(*result, args.upsert, global);
  return kExitOk;
}

// --- get ----------------------------------------------------------------------

struct GetArgs {
  std::vector<std::string> ids;
  bool string_id = false;
  bool with_vector = false;
  std::string filter;
  std::string filter_params;
  size_t offset = 0;
  size_t limit = 0;
  bool count = false;
  bool documents = false;
};

// get --document: long documents' records (source, title, hash, chunks).
int RunGetDocuments(const GetArgs& args, const GlobalOptions& global) {
  std::unique_ptr<Database> db;
  Result<std::shared_ptr<Collection>> collection = OpenCollection(global, db, /*for_reading=*/true);
  if (!collection.ok()) return ReportError(collection.status());
  std::vector<DocumentInfo> infos;
  for (const std::string& id : args.ids) {
    Result<DocumentInfo> info = (*collection)->GetDocument(id, args.with_vector);
    if (!info.ok()) return ReportError(info.status());
    infos.push_back(std::move(*info));
  }
  for (size_t i = 0; i < infos.size(); ++i) {
    const DocumentInfo& d = infos[i];
    json chunks = json::array();
    for (const ChunkInfo& c : d.chunks) {
      chunks.push_back(
          {{"chunk", c.ordinal}, {"begin", c.begin}, {"end", c.end}, {"tokens", c.tokens}});
    }
    if (global.json) {
      json out = {{"id", d.id},
                  {"source", d.source},
                  {"title", d.title},
                  {"metadata", MetadataToJson(d.metadata)},
                  {"content_hash", d.content_hash},
                  {"bytes", d.bytes},
                  {"tokens", d.tokens},
                  {"chunk_tokens", d.chunk_tokens},
                  {"overlap_tokens", d.overlap_tokens},
                  {"updated_unix_ms", d.updated_unix_ms},
                  {"chunks", chunks}};
      if (args.with_vector) out["vector"] = VectorToJson(d.vector);
      std::cout << DumpJson(out) << "\n";
      continue;
    }
    if (i > 0) std::cout << "\n";
    std::cout << "document: " << d.id << "\n"
              << "source:   " << d.source << "\n"
              << "title:    " << d.title << "\n"
              << "metadata: " << DumpJson(MetadataToJson(d.metadata)) << "\n"
              << "hash:     " << d.content_hash << "\n"
              << "size:     " << d.bytes << " bytes, " << d.tokens << " tokens in "
              << Plural(d.chunks.size(), "chunk") << " of at most " << d.chunk_tokens
              << " tokens (overlap " << d.overlap_tokens << ")\n";
    if (args.with_vector) std::cout << "vector:   " << DumpJson(VectorToJson(d.vector)) << "\n";
  }
  return kExitOk;
}

void PrintDocument(const Document& doc, bool with_vector) {
  std::cout << "id:       " << QuoteId(doc.id) << "\n"
            << "text:     " << doc.text << "\n"
            << "metadata: " << DumpJson(MetadataToJson(doc.metadata)) << "\n";
  if (with_vector) std::cout << "vector:   " << DumpJson(VectorToJson(doc.vector)) << "\n";
}

void PrintDocuments(const std::vector<Document>& docs, bool with_vector,
                    const GlobalOptions& global) {
  for (size_t i = 0; i < docs.size(); ++i) {
    if (global.json) {
      std::cout << DumpJson(DocumentToJson(docs[i], with_vector)) << "\n";
    } else {
      if (i > 0) std::cout << "\n";
      PrintDocument(docs[i], with_vector);
    }
  }
}

// get --filter: the matching documents in write order, paged.
int RunGetWhere(const GetArgs& args, const GlobalOptions& global) {
  std::unique_ptr<Database> db;
  Result<std::shared_ptr<Collection>> collection = OpenCollection(global, db, /*for_reading=*/true);
  if (!collection.ok()) return ReportError(collection.status());
  if (args.count) {
    Result<uint64_t> count = (*collection)->CountWhere(args.filter, args.filter_params);
    if (!count.ok()) return ReportError(count.status());
    if (global.json) {
      std::cout << DumpJson({{"count", *count}}) << "\n";
    } else {
      std::cout << *count << "\n";
    }
    return kExitOk;
  }
  FindOptions options{.filter = args.filter,
                      .filter_params = args.filter_params,
                      .offset = args.offset,
                      .limit = args.limit,
                      .with_vector = args.with_vector};
  Result<std::vector<Document>> docs = (*collection)->Find(options);
  if (!docs.ok()) return ReportError(docs.status());
  PrintDocuments(*docs, args.with_vector, global);
  return kExitOk;
}

int RunGet(const GetArgs& args, const GlobalOptions& global) {
  if (args.documents) {
    if (!args.filter.empty() || args.count || args.string_id || args.offset || args.limit) {
      return ReportUsageError("--document takes document ids only");
    }
    if (args.ids.empty()) return ReportUsageError("give one or more document ids");
    return RunGetDocuments(args, global);
  }
  if (!args.filter.empty() || args.count) {
    if (!args.ids.empty()) return ReportUsageError("give ids or --filter / --count, not both");
    return RunGetWhere(args, global);
  }
  if (args.ids.empty()) return ReportUsageError("give one or more ID arguments, or --filter");
  if (args.offset != 0 || args.limit != 0 || !args.filter_params.empty()) {
    return ReportUsageError("--offset, --limit and --filter-params go with --filter");
  }
  Result<std::vector<Id>> ids = ParseIdArguments(args.ids, args.string_id);
  if (!ids.ok()) return ReportUsageError(ids.status().message());
  std::unique_ptr<Database> db;
  Result<std::shared_ptr<Collection>> collection = OpenCollection(global, db, /*for_reading=*/true);
  if (!collection.ok()) return ReportError(collection.status());

  // Fetch everything first: a missing id fails the call before any output.
  std::vector<Document> docs;
  std::string missing;
  size_t missing_count = 0;
  for (const Id& id : *ids) {
    Result<Document> doc = (*collection)->Get(id);
    if (doc.ok()) {
      docs.push_back(std::move(*doc));
    } else if (doc.status().IsNotFound()) {
      missing += (missing.empty() ? "" : ", ") + QuoteId(id);
      ++missing_count;
    } else {
      return ReportError(doc.status());
    }
  }
  if (missing_count > 0) {
    return ReportError((missing_count == 1 ? "no document with id " : "no documents with ids ") +
                           missing + " in collection \"" + global.collection + "\"",
                       kExitRuntimeError);
  }
  PrintDocuments(docs, args.with_vector, global);
  return kExitOk;
}

// --- delete -------------------------------------------------------------------

struct DeleteArgs {
  std::vector<std::string> ids;
  bool string_id = false;
  std::string filter;
  std::string filter_params;
  bool documents = false;
};

int RunDelete(const DeleteArgs& args, const GlobalOptions& global) {
  if (args.documents) {
    if (!args.filter.empty() || args.string_id) {
      return ReportUsageError("--document takes document ids only");
    }
    if (args.ids.empty()) return ReportUsageError("give one or more document ids");
    std::unique_ptr<Database> db;
    Result<std::shared_ptr<Collection>> collection =
        OpenCollection(global, db, /*for_reading=*/false);
    if (!collection.ok()) return ReportError(collection.status());
    Result<size_t> deleted = (*collection)->DeleteDocuments({}, args.ids);
    if (!deleted.ok()) return ReportError(deleted.status());
    if (global.json) {
      std::cout << DumpJson({{"deleted_documents", *deleted}}) << "\n";
    } else {
      std::cout << "deleted " << *deleted << " of " << Plural(args.ids.size(), "document")
                << " (with their chunks) from \"" << global.collection << "\"\n";
    }
    return kExitOk;
  }
  if (!args.filter.empty() && !args.ids.empty()) {
    return ReportUsageError("give ids or --filter, not both");
  }
  if (args.filter.empty() && args.ids.empty()) {
    return ReportUsageError("give one or more ID arguments, or --filter");
  }
  Result<std::vector<Id>> ids = ParseIdArguments(args.ids, args.string_id);
  if (!ids.ok()) return ReportUsageError(ids.status().message());
  std::unique_ptr<Database> db;
  Result<std::shared_ptr<Collection>> collection =
      OpenCollection(global, db, /*for_reading=*/false);
  if (!collection.ok()) return ReportError(collection.status());
  if (!args.filter.empty()) {
    Result<size_t> deleted = (*collection)->DeleteWhere({}, args.filter, args.filter_params);
    if (!deleted.ok()) return ReportError(deleted.status());
    if (global.json) {
      std::cout << DumpJson({{"deleted", *deleted}}) << "\n";
    } else {
      std::cout << "deleted " << Plural(*deleted, "document") << " matching the filter from \""
                << global.collection << "\"\n";
    }
    return kExitOk;
  }
  Result<size_t> deleted = (*collection)->Delete({}, *ids);
  if (!deleted.ok()) return ReportError(deleted.status());
  if (global.json) {
    std::cout << DumpJson({{"deleted", *deleted}}) << "\n";
  } else {
    std::cout << "deleted " << *deleted << " of " << Plural(ids->size(), "document") << " from \""
              << global.collection << "\"\n";
  }
  return kExitOk;
}

// --- stats --------------------------------------------------------------------

void PrintCollectionTable(const std::vector<CollectionInfo>& infos) {
  std::vector<std::vector<std::string>> rows = {{"NAME", "COUNT", "DOCS", "DISK", "DIM", "METRIC",
                                                 "INDEX", "M", "EF_CONSTRUCTION", "EF_SEARCH",
                                                 "ENCODER"}};
  for (const CollectionInfo& info : infos) {
    rows.push_back({info.name, std::to_string(info.count), std::to_string(info.documents),
                    FormatBytes(info.disk_bytes), std::to_string(info.schema.dim),
                    MetricName(info.schema.metric), IndexKindName(info.schema.index),
                    std::to_string(info.schema.hnsw.m),
                    std::to_string(info.schema.hnsw.ef_construction),
                    std::to_string(info.schema.hnsw.ef_search),
                    info.encoder_spec.empty() ? "none (vector-only)" : info.encoder_spec});
  }
  std::cout << FormatTable(rows, /*max_width=*/0);
}

int RunStats(const GlobalOptions& global) {
  Result<std::unique_ptr<Database>> db = OpenDatabaseForReading(global.db);
  if (!db.ok()) return ReportError(db.status());
  std::vector<CollectionInfo> infos;
  if (global.collection_given) {
    Result<std::shared_ptr<Collection>> collection = (*db)->GetCollection(global.collection);
    if (!collection.ok()) return ReportError(collection.status());
    Result<CollectionInfo> info = (*collection)->Describe();
    if (!info.ok()) return ReportError(info.status());
    infos.push_back(std::move(*info));
  } else {
    Result<std::vector<CollectionInfo>> all = (*db)->ListCollections();
    if (!all.ok()) return ReportError(all.status());
    infos = std::move(*all);
  }

  Result<uint64_t> folder = (*db)->DiskBytes();
  if (!folder.ok()) return ReportError(folder.status());
  if (global.json) {
    json list = json::array();
    for (const CollectionInfo& info : infos) list.push_back(CollectionInfoToJson(info));
    std::cout << DumpJson({{"collections", list}, {"disk_bytes", *folder}}) << "\n";
  } else if (infos.empty()) {
    std::cout << "no collections in " << global.db << " (" << FormatBytes(*folder) << ")\n";
  } else {
    PrintCollectionTable(infos);
    std::cout << "folder " << global.db << ": " << FormatBytes(*folder) << "\n";
  }
  return kExitOk;
}

// --- drop ---------------------------------------------------------------------

int RunDrop(bool yes, const GlobalOptions& global) {
  if (!yes) {
    return ReportUsageError("drop deletes collection \"" + global.collection +
                            "\" and all its documents; add --yes to confirm");
  }
  Result<std::unique_ptr<Database>> db = OpenDatabase(global.db, /*create_if_missing=*/false);
  if (!db.ok()) return ReportError(db.status());
  if (Status status = (*db)->DropCollection(global.collection); !status.ok()) {
    return ReportError(status);
  }
  if (global.json) {
    std::cout << DumpJson({{"dropped", global.collection}}) << "\n";
  } else {
    std::cout << "dropped collection \"" << global.collection << "\"\n";
  }
  return kExitOk;
}

}  // namespace

void AddGlobalOptions(CLI::App& command, GlobalOptions& global) {
  AddGlobalOptions(command, global,
                   "database folder (default: $FLASHEMBED_DB, else ./flashembed.db)",
                   "collection to use (default: \"default\")");
}

void AddGlobalOptions(CLI::App& command, GlobalOptions& global, const std::string& db_help,
                      const std::string& collection_help) {
  command.add_option("--db", global.db, db_help)->type_name("PATH");
  command.add_flag("--json", global.json, "print machine-readable JSON instead of text");
  command.add_option("-c,--collection", global.collection, collection_help)->type_name("NAME");
}

Verb AddCreateVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<CreateArgs>();
  CLI::App* cmd = app.add_subcommand("create", "Create a collection (fails if it exists).");
  cmd->footer(
      "The schema is fixed at creation. --encoder hash embeds texts with the built-in hashing "
      "encoder; --encoder none makes a vector-only collection that takes vectors of --dim values "
      "(add --jsonl with \"vector\" fields, search --vector).");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--dim", args->dim,
                  "vector dimension; 0 = the encoder's default (384 for hash, the model's "
                  "width for --model); below a text model's width it keeps that many leading "
                  "dimensions (Matryoshka models); required with --encoder none")
      ->type_name("N");
  cmd->add_option("--metric", args->metric, "similarity: cosine, ip (inner product) or l2")
      ->check(CLI::IsMember({"cosine", "ip", "l2"}))
      ->capture_default_str();
  cmd->add_option("--m", args->hnsw.m, "HNSW graph degree (2..100)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--ef-construction", args->hnsw.ef_construction,
                  "HNSW candidate list while inserting (1..10000)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--ef-search", args->hnsw.ef_search,
                  "default HNSW candidate list while searching (1..10000)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--index", args->index,
                  "vector index: hnsw (graph), flat (exact scans), ivf_flat, ivf_sq8 or ivf_pq "
                  "(FAISS inverted lists, trained once the collection holds --train-at vectors; "
                  "exact scans until then)")
      ->check(CLI::IsMember({"hnsw", "flat", "ivf_flat", "ivf_sq8", "ivf_pq"}))
      ->capture_default_str();
  cmd->add_option("--nlist", args->ivf.nlist, "IVF lists (0 = 4*sqrt(vectors) at training)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--nprobe", args->ivf.nprobe, "IVF lists searched per query by default")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--train-at", args->ivf.train_at,
                  "train the IVF index once this many vectors exist (0 = max(1000, 39*nlist))")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--pq-m", args->ivf.pq_m, "IVF-PQ sub-quantizers, a divisor of dim (0 = dim/4)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_option("--pq-nbits", args->ivf.pq_nbits, "IVF-PQ bits per code (4..8)")
      ->type_name("N")
      ->capture_default_str();
  cmd->add_flag("--text-index", args->text_index,
                "also keep a BM25 full-text index of the texts (search --text, --hybrid)");
  cmd->add_option("--index-field", args->index_fields,
                  "index this metadata key (or path, a[\"b\"]) in the database, so selective "
                  "filters on it need no metadata in memory; repeat for more (at most 32)")
      ->type_name("KEY");
  cmd->add_option("--encoder", args->encoder,
                  "text encoder: hash (built-in hashing encoder), or none for a vector-only "
                  "collection (needs --dim)")
      ->check(CLI::IsMember({"hash", "none"}))
      ->capture_default_str();
  cmd->add_option("--model", args->model,
                  "embed texts with the BERT-family sentence-embedding model in this local "
                  "Hugging Face folder (config.json, vocab.txt or tokenizer.json, "
                  "model.safetensors); the model's identity is stored with the collection")
      ->type_name("DIR")
      ->excludes(cmd->get_option("--encoder"));
  cmd->add_option("--query-prefix", args->query_prefix,
                  "prepended to every query text before embedding (e5: \"query: \")")
      ->type_name("TEXT");
  cmd->add_option("--reranker", args->reranker,
                  "a default reranker: searches that name none (search --rerank) rerank with this "
                  "cross-encoder folder; its identity is stored with the collection")
      ->type_name("DIR");
  cmd->add_option("--document-prefix", args->document_prefix,
                  "prepended to every document text before embedding, not stored (e5: "
                  "\"passage: \")")
      ->type_name("TEXT");
  return {cmd, [args, &global] { return RunCreate(*args, global); }};
}

Verb AddAddVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<AddArgs>();
  CLI::App* cmd =
      app.add_subcommand("add", "Add documents from TEXT arguments, --image, --file or --jsonl.");
  cmd->footer(
      "A missing collection is created with the default schema (hash encoder); records with a "
      "vector need an existing collection (create --encoder none --dim N).\n"
      "Automatic ids: documents without an id get consecutive integer ids, the first run of free "
      "integers at or after (documents in the collection + 1); they never collide with stored "
      "ids, but an id freed by delete may be reused. The ids given are printed.\n"
      "All input is read and checked (format, dim, duplicate and existing ids) before the first "
      "write, so a bad line adds nothing; documents are then written in batches of 1000.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("TEXT", args->texts, "texts to add, one document each")->type_name("");
  cmd->add_option("--image", args->images,
                  "image files to add, one record each (JPEG, PNG, WebP, GIF; the collection "
                  "must have a CLIP model: create --model DIR). The record keeps the path, "
                  "content hash, size and format in its metadata (kind \"image\"), not the pixels")
      ->type_name("FILE");
  cmd->add_flag("--exif-orientation", args->exif_orientation, kExifOrientationHelp);
  cmd->add_option("--id", args->ids,
                  "id of each TEXT, in order (repeat: --id 1 --id 2); default: automatic ids. " +
                      std::string(kIdRule))
      ->allow_extra_args(false)
      ->type_name("ID");
  cmd->add_flag("--string-id", args->string_id, "treat every --id as a string id");
  cmd->add_option("--file", args->file,
                  "text file, one document per line (blank lines skipped), automatic ids; "
                  "- = stdin")
      ->type_name("FILE");
  cmd->add_option("--jsonl", args->jsonl,
                  "JSON Lines file, one record per line: {\"id\": int or string (optional: "
                  "automatic), \"text\": ..., \"metadata\": {...}, \"vector\": [...]} with text or "
                  "vector required; blank lines skipped; - = stdin")
      ->type_name("FILE");
  cmd->add_option("--metadata", args->metadata,
                  "JSON object stored with every TEXT, --image or --file line, e.g. "
                  "'{\"lang\": \"en\"}'")
      ->type_name("JSON");
  cmd->add_flag("--upsert", args->upsert, "replace documents whose id exists instead of failing");
  return {cmd, [args, &global] { return RunAdd(*args, global); }};
}

Verb AddGetVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<GetArgs>();
  CLI::App* cmd = app.add_subcommand("get", "Print documents by id, or those a filter matches.");
  cmd->footer(
      "Prints text and metadata (and the vector with --with-vector); with --json one record per "
      "line, in the format add --jsonl reads. If an id is missing, fails and prints nothing.\n" +
      std::string(kIdRule));
  AddGlobalOptions(*cmd, global);
  cmd->add_option("ID", args->ids, "ids of the documents")->type_name("");
  cmd->add_flag("--string-id", args->string_id, "treat every ID as a string id");
  cmd->add_flag("--with-vector", args->with_vector, "also print the stored vector");
  cmd->add_option("--filter", args->filter,
                  "instead of ids: every document this Milvus filter expression matches, in "
                  "the order they were written")
      ->type_name("EXPR");
  cmd->add_option("--filter-params", args->filter_params,
                  "JSON object for the filter's {name} templates")
      ->type_name("JSON");
  cmd->add_option("--offset", args->offset, "with --filter: skip this many matches")
      ->type_name("N");
  cmd->add_option("--limit", args->limit, "with --filter: print at most this many (0 = all)")
      ->type_name("N");
  cmd->add_flag("--document", args->documents,
                "the IDs are long documents (see ingest): print their records and chunk offsets");
  cmd->add_flag("--count", args->count,
                "print only how many documents match --filter (all documents without one)");
  return {cmd, [args, &global] { return RunGet(*args, global); }};
}

Verb AddDeleteVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<DeleteArgs>();
  CLI::App* cmd =
      app.add_subcommand("delete", "Delete documents by id, or those a filter matches.");
  cmd->footer("Prints how many documents were deleted; ids not stored are ignored.\n" +
              std::string(kIdRule));
  AddGlobalOptions(*cmd, global);
  cmd->add_option("ID", args->ids, "ids of the documents")->type_name("");
  cmd->add_flag("--string-id", args->string_id, "treat every ID as a string id");
  cmd->add_option("--filter", args->filter,
                  "instead of ids: delete every document this Milvus filter expression matches "
                  "(atomically)")
      ->type_name("EXPR");
  cmd->add_option("--filter-params", args->filter_params,
                  "JSON object for the filter's {name} templates")
      ->type_name("JSON");
  cmd->add_flag("--document", args->documents,
                "the IDs are long documents (see ingest): delete them with all their chunks");
  return {cmd, [args, &global] { return RunDelete(*args, global); }};
}

Verb AddStatsVerb(CLI::App& app, GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "stats", "List collections: document count, dim, metric, encoder, HNSW parameters.");
  cmd->footer("Lists all collections, or only the one named with -c.");
  AddGlobalOptions(*cmd, global, "database folder (default: $FLASHEMBED_DB, else ./flashembed.db)",
                   "show only this collection (default: all)");
  return {cmd, [&global] { return RunStats(global); }};
}

Verb AddDropVerb(CLI::App& app, GlobalOptions& global) {
  auto yes = std::make_shared<bool>(false);
  CLI::App* cmd =
      app.add_subcommand("drop", "Delete a collection and all its documents (needs --yes).");
  AddGlobalOptions(*cmd, global);
  cmd->add_flag("--yes", *yes, "confirm: really delete the collection");
  return {cmd, [yes, &global] { return RunDrop(*yes, global); }};
}

}  // namespace flashembed::cli
