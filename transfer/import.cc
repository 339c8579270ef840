// ImportCollection: resolve the schema the rows are checked against, check
// every row (pass 1, nothing written), create the collection if needed,
// then write (pass 2). Long documents are restored whole, one atomic batch
// per group of complete documents.
#include <algorithm>
#include <chrono>
#include <fstream>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>

#include "base/hash.h"
#include "transfer/export_files.h"
#include "transfer/import_layout.h"
#include "transfer/rows.h"
#include "transfer/transfer.h"

namespace flashembed::transfer {
namespace {

constexpr size_t kCheckBatch = 1024;

uint64_t IdHash(const Id& id) {
  if (id.is_int()) {
    const int64_t v = id.as_int();
    return Hash64(&v, sizeof v, 1);
  }
  return Hash64(id.as_string(), 2);
}

std::string Quote(const Id& id) {
  return id.is_int() ? id.ToString() : "\"" + id.as_string() + "\"";
}

// (document id, ordinal) when `rec` is shaped as a chunk record.
std::optional<std::pair<std::string, uint64_t>> ChunkOf(const ImportRecord& rec) {
  if (!rec.doc.id.is_string()) return std::nullopt;
  auto d = rec.metadata.find("doc");
  auto c = rec.metadata.find("chunk");
  if (d == rec.metadata.end() || c == rec.metadata.end() || !d->is_object() || !c->is_object()) {
    return std::nullopt;
  }
  auto id = d->find("id");
  auto n = c->find("n");
  if (id == d->end() || n == c->end() || !id->is_string() || !n->is_number_unsigned()) {
    return std::nullopt;
  }
  std::pair<std::string, uint64_t> out{id->get<std::string>(), n->get<uint64_t>()};
  if (rec.doc.id.as_string() != fmt::format("{}#{}", out.first, out.second)) return std::nullopt;
  return out;
}

// The document part of "<doc>#<digits>", or nullopt.
std::optional<std::string> ChunkIdPrefix(const Id& id) {
  if (!id.is_string()) return std::nullopt;
  const std::string& s = id.as_string();
  const size_t hash = s.rfind('#');
  if (hash == std::string::npos || hash == 0 || hash + 1 == s.size()) return std::nullopt;
  for (size_t i = hash + 1; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9') return std::nullopt;
  }
  return s.substr(0, hash);
}

// The long documents of flashembed-documents.jsonl: where each line is, and
// which have had all their chunks.
class DocumentIndex {
 public:
  Status Load(const std::string& path, int dim, Collection* target, bool upsert) {
    if (path.empty()) return Status::OK();
    in_.open(path, std::ios::binary);
    if (!in_) return Status::IOError("cannot read " + path);
    std::string line;
    uint64_t line_no = 0;
    while (true) {
      const uint64_t offset = static_cast<uint64_t>(in_.tellg());
      if (!std::getline(in_, line)) break;
      ++line_no;
      if (line.empty()) continue;
      auto error = [&](const std::string& what) {
        return Status::InvalidArgument(
            fmt::format("flashembed-documents.jsonl: line {}: {}", line_no, what));
      };
      Result<DocumentInfo> doc = DocumentFromLine(line);
      if (!doc.ok()) return error(doc.status().message());
      if (dim > 0 && doc->vector.size() != static_cast<size_t>(dim)) {
        return error(fmt::format("document \"{}\": pooled vector of {} values, expected {}",
                                 doc->id, doc->vector.size(), dim));
      }
      if (doc->chunks.empty()) return error("document \"" + doc->id + "\" has no chunks");
      for (size_t i = 0; i < doc->chunks.size(); ++i) {
        if (doc->chunks[i].ordinal != i) return error("chunk ordinals must be 0, 1, 2, ...");
      }
      if (!entries_.emplace(doc->id, Entry{offset, false}).second) {
        return error("document \"" + doc->id + "\" appears twice");
      }
      if (target != nullptr && !upsert && target->GetDocument(doc->id, false).ok()) {
        return Status::AlreadyExists("document \"" + doc->id +
                                     "\" is already stored in collection \"" + target->name() +
                                     "\" (use --upsert to replace it)");
      }
    }
    in_.clear();
    return Status::OK();
  }

  bool Contains(const std::string& id) const { return entries_.count(id) > 0; }
  size_t size() const { return entries_.size(); }

  Result<DocumentInfo> Read(const std::string& id) {
    in_.clear();
    in_.seekg(static_cast<std::streamoff>(entries_.at(id).offset));
    std::string line;
    if (!std::getline(in_, line)) return Status::IOError("cannot read flashembed-documents.jsonl");
    return DocumentFromLine(line);
  }

  bool done(const std::string& id) const { return entries_.at(id).done; }
  void set_done(const std::string& id) { entries_.at(id).done = true; }
  void ResetProgress() {
    for (auto& [id, e] : entries_) e.done = false;
  }
  // A document no chunk row completed, or "".
  std::string FirstUnfinished() const {
    for (const auto& [id, e] : entries_) {
      if (!e.done) return id;
    }
    return "";
  }

 private:
  struct Entry {
    uint64_t offset = 0;
    bool done = false;
  };
  std::unordered_map<std::string, Entry> entries_;
  std::ifstream in_;
};

// Follows the chunk rows of the documents being restored: each document's
// chunks must come in one run, every ordinal once, with the positions of
// flashembed-documents.jsonl.
class ChunkTracker {
 public:
  explicit ChunkTracker(DocumentIndex* index) : index_(index) {}

  struct Visit {
    bool chunk = false;      // the row is a chunk of a document being restored
    bool opens = false;      // ... its document's first (document() is it)
    bool completes = false;  // ... its document's last
  };

  Result<Visit> Next(const ImportRecord& rec, const std::string& where) {
    Visit v;
    const auto chunk = ChunkOf(rec);
    if (!chunk.has_value() || !index_->Contains(chunk->first)) {
      const std::optional<std::string> prefix = ChunkIdPrefix(rec.doc.id);
      if (prefix.has_value() && index_->Contains(*prefix)) {
        return Status::InvalidArgument(where + ": id " + Quote(rec.doc.id) +
                                       " names a chunk of "
                                       "document \"" +
                                       *prefix +
                                       "\" but the row has no matching "
                                       "\"doc\"/\"chunk\" metadata");
      }
      return v;
    }
    const std::string& doc_id = chunk->first;
    const uint64_t n = chunk->second;
    v.chunk = true;
    if (open_id_ != doc_id) {
      if (!open_id_.empty()) {
        return Status::InvalidArgument(
            fmt::format("{}: a chunk of document \"{}\" after {} of the {} chunks of \"{}\": a "
                        "document's chunks must follow one another",
                        where, doc_id, count_, open_.chunks.size(), open_id_));
      }
      if (index_->done(doc_id)) {
        return Status::InvalidArgument(where + ": another chunk of document \"" + doc_id +
                                       "\" after all of them: a document's chunks must follow one "
                                       "another");
      }
      FE_ASSIGN_OR_RETURN(open_, index_->Read(doc_id));
      open_id_ = doc_id;
      seen_.assign(open_.chunks.size(), false);
      count_ = 0;
      v.opens = true;
    }
    if (n >= open_.chunks.size() || seen_[n]) {
      return Status::InvalidArgument(fmt::format(
          "{}: chunk {} of document \"{}\" {}", where, n, doc_id,
          n >= open_.chunks.size() ? fmt::format("is beyond its {} chunks", open_.chunks.size())
                                   : "appears twice"));
    }
    const Json& c = rec.metadata["chunk"];
    const ChunkInfo& want = open_.chunks[n];
    if (c.value("begin", uint64_t{0}) != want.begin || c.value("end", uint64_t{0}) != want.end ||
        c.value("tokens", uint64_t{0}) != want.tokens) {
      return Status::InvalidArgument(where + ": the \"chunk\" positions of " + Quote(rec.doc.id) +
                                     " differ from flashembed-documents.jsonl");
    }
    if (rec.doc.vector.empty()) {
      return Status::InvalidArgument(where + ": chunk " + Quote(rec.doc.id) + " has no vector");
    }
    seen_[n] = true;
    if (++count_ == open_.chunks.size()) {
      index_->set_done(doc_id);
      open_id_.clear();
      v.completes = true;
    }
    return v;
  }

  const DocumentInfo& document() const { return open_; }

  Status Finish() {
    if (!open_id_.empty()) {
      return Status::InvalidArgument(
          fmt::format("document \"{}\": only {} of its {} chunks are in the data files", open_id_,
                      count_, open_.chunks.size()));
    }
    const std::string missing = index_->FirstUnfinished();
    if (!missing.empty()) {
      return Status::InvalidArgument("document \"" + missing +
                                     "\" of flashembed-documents.jsonl "
                                     "has no chunk rows in the data files");
    }
    return Status::OK();
  }

 private:
  DocumentIndex* index_;
  std::string open_id_;
  DocumentInfo open_;
  std::vector<bool> seen_;
  size_t count_ = 0;
};

// Every row of every group, assembled, in order.
class RowWalker {
 public:
  RowWalker(const ImportLayout& layout, const RowSchema& schema)
      : layout_(layout), schema_(schema) {}

  // Calls fn(record, source) for each row until it returns an error.
  template <typename Fn>
  Status ForEach(FileFormat format, Fn&& fn) {
    bytes_ = 0;
    RowValues values;
    ImportRecord rec;
    for (const ImportLayout::Group& g : layout_.groups) {
      FE_ASSIGN_OR_RETURN(std::unique_ptr<RowSource> source,
                          format == FileFormat::kMilvusJson
                              ? OpenJsonRows(g.paths.front(), g.display, &schema_)
                              : OpenNumpyGroup(g.paths, g.display, &schema_));
      while (true) {
        FE_ASSIGN_OR_RETURN(bool more, source->Next(&values));
        if (!more) break;
        Status s = AssembleRecord(schema_, std::move(values), &rec);
        if (!s.ok()) return Status::InvalidArgument(source->Where() + ": " + s.message());
        FE_RETURN_IF_ERROR(fn(rec, *source));
      }
      bytes_ += source->bytes();
    }
    return Status::OK();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  const ImportLayout& layout_;
  const RowSchema& schema_;
  uint64_t bytes_ = 0;
};

Result<ImportPlan> ResolveSchema(const ImportLayout& layout, const ImportOptions& o,
                                 const std::shared_ptr<Collection>& target) {
  ImportPlan plan;
  std::string pk = o.pk_field;
  std::string vector = o.vector_field;
  std::string text = o.text_field;
  if (layout.flashembed_json.has_value()) {
    const auto v = layout.flashembed_json->find("version");
    const int version =
        v != layout.flashembed_json->end() && v->is_number_integer() ? v->get<int>() : 0;
    if (version < 1 || version > kExportFormatVersion) {
      return Status::NotSupported(fmt::format(
          "flashembed-collection.json has format version {}; this build reads version {}", version,
          kExportFormatVersion));
    }
    const auto f = layout.flashembed_json->find("fields");
    if (f != layout.flashembed_json->end() && f->is_object()) {
      if (f->contains("pk") && (*f)["pk"].is_string()) pk = (*f)["pk"];
      if (f->contains("vector") && (*f)["vector"].is_string()) vector = (*f)["vector"];
      if (f->contains("text") && (*f)["text"].is_string()) text = (*f)["text"];
    }
  }
  std::optional<RowSchema> declared;
  if (layout.collection_json.has_value()) {
    FE_ASSIGN_OR_RETURN(declared, SchemaOfCreateBody(*layout.collection_json, text));
  }
  CollectionInfo info;
  if (target != nullptr) {
    FE_ASSIGN_OR_RETURN(info, target->Describe());
    // Vectors another model made would not match this collection's queries.
    std::string exported_spec;
    if (layout.flashembed_json.has_value()) {
      const auto it = layout.flashembed_json->find("encoder_spec");
      if (it != layout.flashembed_json->end() && it->is_string()) exported_spec = *it;
    }
    if (!exported_spec.empty() && !info.encoder_spec.empty() &&
        exported_spec != info.encoder_spec) {
      return Status::InvalidArgument("the exported vectors were embedded by encoder " +
                                     exported_spec + ", collection \"" + info.name +
                                     "\" embeds with " + info.encoder_spec);
    }
  } else if (layout.flashembed_json.has_value() && layout.flashembed_json->contains("schema")) {
    Result<CollectionSchema> schema = CollectionSchemaFromJson((*layout.flashembed_json)["schema"]);
    if (!schema.ok()) {
      return Status::InvalidArgument("flashembed-collection.json: " + schema.status().message());
    }
    plan.create = std::move(schema).value();
    info.schema = *plan.create;
  } else if (declared.has_value()) {
    FE_ASSIGN_OR_RETURN(plan.create, CollectionSchemaOfCreateBody(*layout.collection_json));
    info.schema = *plan.create;
  } else {
    plan.create = CollectionSchema{.dim = 0, .metric = o.metric, .encoder = ""};
    info.schema = *plan.create;
  }
  if (declared.has_value() && declared->pk.name != pk) pk = declared->pk.name;
  if (declared.has_value() && declared->vector.name != vector) vector = declared->vector.name;
  FE_ASSIGN_OR_RETURN(plan.rows, SchemaOfCollection(info, pk, vector, text, /*with_text=*/true));
  if (!plan.rows.milvus_layout && declared.has_value()) {
    // The files' own declaration types the rows, as Milvus would check them
    // against a collection made from it.
    const bool vector_optional = plan.rows.vector_optional;
    plan.rows = std::move(*declared);
    plan.rows.vector_optional = vector_optional;
    if (!plan.rows.text.has_value() && !plan.rows.IsField(text)) {
      plan.rows.text = Field{.name = text, .type = "VarChar"};
      plan.rows.text_optional = true;
    }
  }
  const int dim = info.schema.dim;
  if (dim > 0 && plan.rows.dim > 0 && plan.rows.dim != dim) {
    return Status::InvalidArgument(fmt::format(
        "dimension mismatch: collection has dim {}, the files declare {}", dim, plan.rows.dim));
  }
  if (dim > 0) plan.rows.dim = dim;
  return plan;
}

// The dim of the first row's vector (0 when there are no rows).
Result<int> FirstRowDim(const ImportLayout& layout, const RowSchema& schema, FileFormat format) {
  RowWalker walker(layout, schema);
  int dim = 0;
  Status s = walker.ForEach(format, [&](const ImportRecord& rec, RowSource&) -> Status {
    dim = static_cast<int>(rec.doc.vector.size());
    return Status::Cancelled("first row read");
  });
  if (!s.ok() && s.code() != StatusCode::kCancelled) return s;
  return dim;
}

// Looks up batches of ids in the target: stored ones are AlreadyExists.
class StoredIdCheck {
 public:
  StoredIdCheck(Collection* target, bool upsert) : target_(target), upsert_(upsert) {}
  Status Add(const Id& id, const RowSource& source) {
    if (target_ == nullptr || upsert_) return Status::OK();
    ids_.push_back(id);
    wheres_.push_back(source.Where());
    return ids_.size() >= kCheckBatch ? Flush() : Status::OK();
  }
  Status Flush() {
    if (ids_.empty()) return Status::OK();
    FE_ASSIGN_OR_RETURN(std::vector<Document> found, target_->GetMany(ids_, false));
    if (!found.empty()) {
      const size_t i =
          static_cast<size_t>(std::find(ids_.begin(), ids_.end(), found.front().id) - ids_.begin());
      return Status::AlreadyExists(wheres_[std::min(i, wheres_.size() - 1)] + ": id " +
                                   Quote(found.front().id) + " is already stored in collection \"" +
                                   target_->name() + "\" (use --upsert to replace it)");
    }
    ids_.clear();
    wheres_.clear();
    return Status::OK();
  }

 private:
  Collection* target_;
  bool upsert_;
  std::vector<Id> ids_;
  std::vector<std::string> wheres_;
};

// Finds the rows behind repeated id hashes; InvalidArgument naming both
// places of the first id that really is repeated (equal hashes of
// different ids pass).
Status ReportRepeatedIds(RowWalker& walker, FileFormat format, std::vector<uint64_t>& hashes) {
  std::sort(hashes.begin(), hashes.end());
  std::unordered_set<uint64_t> repeated;
  for (size_t i = 1; i < hashes.size(); ++i) {
    if (hashes[i] == hashes[i - 1]) repeated.insert(hashes[i]);
  }
  if (repeated.empty()) return Status::OK();
  std::unordered_map<uint64_t, std::vector<std::pair<Id, std::string>>> seen;
  return walker.ForEach(format, [&](const ImportRecord& rec, RowSource& source) -> Status {
    const uint64_t h = IdHash(rec.doc.id);
    if (repeated.count(h) == 0) return Status::OK();
    for (const auto& [id, where] : seen[h]) {
      if (id == rec.doc.id) {
        return Status::InvalidArgument("id " + Quote(id) + " appears twice: " + where + " and " +
                                       source.Where());
      }
    }
    seen[h].emplace_back(rec.doc.id, source.Where());
    return Status::OK();
  });
}

// After a failed write pass: drops the collection the import created, or
// deletes the rows and documents it added to an existing one (`written`:
// which rows of the files, by position, were written). Upserted rows
// replaced stored ones and cannot be taken back. Returns what happened, for
// the error message.
std::string UndoWrites(Database& db, const std::string& name, Collection* target,
                       const ImportSummary& summary, const std::vector<bool>& written,
                       const ImportLayout& layout, const RowSchema& schema,
                       const DocumentIndex& documents, const ImportOptions& options) {
  if (summary.created) {
    const Status dropped = db.DropCollection(name);
    return dropped.ok() ? "the collection it created was dropped"
                        : "dropping the collection it created failed too: " + dropped.ToString();
  }
  if (summary.rows == 0) return "nothing was written";
  if (options.upsert) {
    return fmt::format("the {} rows upserted before it stay (an upsert replaces stored rows)",
                       summary.rows);
  }
  RowWalker walker(layout, schema);
  std::vector<Id> ids;
  std::vector<std::string> docs;
  uint64_t at = 0;
  auto flush = [&]() -> Status {
    if (!ids.empty()) FE_RETURN_IF_ERROR(target->Delete({}, ids).status());
    if (!docs.empty()) FE_RETURN_IF_ERROR(target->DeleteDocuments({}, docs).status());
    ids.clear();
    docs.clear();
    return Status::OK();
  };
  Status walked =
      walker.ForEach(options.format, [&](const ImportRecord& rec, RowSource&) -> Status {
        const uint64_t position = at++;
        if (position >= written.size()) return Status::Cancelled("past the rows checked");
        if (!written[position]) return Status::OK();
        const auto chunk = ChunkOf(rec);
        if (chunk.has_value() && documents.Contains(chunk->first)) {
          if (docs.empty() || docs.back() != chunk->first) docs.push_back(chunk->first);
        } else {
          ids.push_back(rec.doc.id);
        }
        return ids.size() + docs.size() >= kCheckBatch ? flush() : Status::OK();
      });
  if (walked.ok() || walked.code() == StatusCode::kCancelled) walked = flush();
  return walked.ok() ? fmt::format("the {} rows written before it were deleted again", summary.rows)
                     : fmt::format("deleting the {} rows written before it failed too: {}",
                                   summary.rows, walked.ToString());
}

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

Result<ImportPlan> ResolveImportSchema(const ImportLayout& layout, const ImportOptions& options,
                                       const std::shared_ptr<Collection>& target) {
  return ResolveSchema(layout, options, target);
}

Status ImportOptions::Validate() const {
  if (dir.empty()) return Status::InvalidArgument("no folder to import given");
  if (batch == 0 || batch > 65536) return Status::InvalidArgument("batch must be 1..65536");
  if (pk_field.empty() || vector_field.empty() || text_field.empty()) {
    return Status::InvalidArgument("field names must not be empty");
  }
  return Status::OK();
}

Result<ImportSummary> ImportCollection(Database& db, const std::string& name,
                                       const ImportOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  FE_ASSIGN_OR_RETURN(ImportLayout layout, FindImportFiles(options.dir, options.format));
  std::shared_ptr<Collection> target;
  if (Result<std::shared_ptr<Collection>> got = db.GetCollection(name); got.ok()) {
    target = *got;
  } else if (!got.status().IsNotFound()) {
    return got.status();
  }
  FE_ASSIGN_OR_RETURN(ImportPlan plan, ResolveSchema(layout, options, target));
  RowSchema& schema = plan.rows;
  ImportSummary summary;
  for (const auto& g : layout.groups) summary.files += g.paths.size();
  if (schema.dim == 0) {
    FE_ASSIGN_OR_RETURN(schema.dim, FirstRowDim(layout, schema, options.format));
    if (schema.dim == 0) {
      return Status::InvalidArgument(
          "nothing tells the vector dimension: no rows and no "
          "collection.json in " +
          options.dir);
    }
  }

  // The metric the vectors will be scored by (ValidateVector's rule).
  Metric metric = plan.create.has_value() ? plan.create->metric : Metric::kCosine;
  if (target != nullptr) {
    FE_ASSIGN_OR_RETURN(const CollectionInfo info, target->Describe());
    metric = info.schema.metric;
  }

  // Pass 1: check everything.
  const auto t0 = std::chrono::steady_clock::now();
  DocumentIndex documents;
  FE_RETURN_IF_ERROR(
      documents.Load(layout.documents_path, schema.dim, target.get(), options.upsert));
  RowWalker walker(layout, schema);
  ChunkTracker tracker(&documents);
  StoredIdCheck stored(target.get(), options.upsert);
  std::vector<uint64_t> hashes;
  uint64_t rows = 0;
  Status checked =
      walker.ForEach(options.format, [&](const ImportRecord& rec, RowSource& source) -> Status {
        FE_ASSIGN_OR_RETURN(ChunkTracker::Visit visit, tracker.Next(rec, source.Where()));
        if (!visit.chunk && target != nullptr) {
          // Add and Upsert refuse the chunk ids of a stored document.
          if (const auto prefix = ChunkIdPrefix(rec.doc.id);
              prefix.has_value() && target->GetDocument(*prefix, false).ok()) {
            return Status::InvalidArgument(source.Where() + ": id " + Quote(rec.doc.id) +
                                           " belongs to the stored document \"" + *prefix + "\"");
          }
        }
        // What the library would refuse on write, found before anything
        // is written.
        if (!rec.doc.vector.empty()) {
          if (Status s = ValidateVector(rec.doc.vector, metric); !s.ok()) {
            return Status::InvalidArgument(source.Where() + ": field \"" + schema.vector.name +
                                           "\": " + s.message());
          }
        }
        FE_RETURN_IF_ERROR(stored.Add(rec.doc.id, source));
        hashes.push_back(IdHash(rec.doc.id));
        if (++rows % kCheckBatch == 0 && options.progress) {
          options.progress({"validate", rows, 0, walker.bytes() + source.bytes()});
        }
        return Status::OK();
      });
  FE_RETURN_IF_ERROR(checked);
  FE_RETURN_IF_ERROR(stored.Flush());
  FE_RETURN_IF_ERROR(tracker.Finish());
  FE_RETURN_IF_ERROR(ReportRepeatedIds(walker, options.format, hashes));
  hashes = std::vector<uint64_t>();
  summary.bytes = walker.bytes();
  summary.validate_seconds = Since(t0);
  if (options.progress) options.progress({"validate", rows, rows, summary.bytes});

  // Pass 2: write.
  const auto t1 = std::chrono::steady_clock::now();
  if (target == nullptr) {
    CollectionSchema create = *plan.create;
    create.dim = schema.dim;
    FE_ASSIGN_OR_RETURN(target, db.CreateCollection(name, create));
    summary.created = true;
  }
  documents.ResetProgress();
  ChunkTracker writer_tracker(&documents);
  std::vector<Document> plain;
  std::vector<Document> chunks;
  std::vector<DocumentInfo> infos;
  size_t complete_chunks = 0;  // chunks of the complete documents in `chunks`
  // Which rows (by position in the files) are written, for the undo: plain
  // rows inside a document's run of chunks are written before it.
  std::vector<bool> written_rows(rows, false);
  std::vector<uint64_t> plain_at;
  std::vector<uint64_t> chunks_at;
  uint64_t at = 0;
  auto flush_plain = [&](bool sync) -> Status {
    if (plain.empty()) return Status::OK();
    const WriteOptions w{.sync = sync};
    FE_RETURN_IF_ERROR(options.upsert ? target->Upsert(w, plain) : target->Add(w, plain));
    summary.rows += plain.size();
    for (const uint64_t i : plain_at) written_rows[i] = true;
    plain.clear();
    plain_at.clear();
    return Status::OK();
  };
  auto flush_documents = [&](bool sync) -> Status {
    if (infos.empty()) return Status::OK();
    FE_RETURN_IF_ERROR(target->RestoreDocuments(WriteOptions{.sync = sync}, chunks, infos));
    summary.rows += chunks.size();
    summary.documents += infos.size();
    for (const uint64_t i : chunks_at) written_rows[i] = true;
    chunks.clear();
    chunks_at.clear();
    infos.clear();
    complete_chunks = 0;
    return Status::OK();
  };
  Status written =
      walker.ForEach(options.format, [&](ImportRecord& rec, RowSource& source) -> Status {
        if (at >= rows) return Status::Internal("the files changed during the import");
        const uint64_t position = at++;
        FE_ASSIGN_OR_RETURN(ChunkTracker::Visit visit, writer_tracker.Next(rec, source.Where()));
        rec.doc.metadata = rec.metadata.dump(-1, ' ', false, Json::error_handler_t::replace);
        // Records are written in the order of the files (the order they were
        // written in at the source, so indexes are built alike): a buffer is
        // flushed when the other kind of row comes, or when it is full and
        // another row comes (so the last write of the import is the one that
        // syncs).
        if (visit.chunk) {
          if (visit.opens) {
            FE_RETURN_IF_ERROR(flush_plain(false));
            if (complete_chunks >= options.batch) FE_RETURN_IF_ERROR(flush_documents(false));
            infos.push_back(writer_tracker.document());
          }
          chunks.push_back(std::move(rec.doc));
          chunks_at.push_back(position);
          if (visit.completes) complete_chunks = chunks.size();
        } else {
          // Chunks of an unfinished document wait; finished documents go first.
          if (!chunks.empty() && complete_chunks == chunks.size()) {
            FE_RETURN_IF_ERROR(flush_documents(false));
          }
          if (plain.size() >= options.batch) FE_RETURN_IF_ERROR(flush_plain(false));
          plain.push_back(std::move(rec.doc));
          plain_at.push_back(position);
        }
        if (options.progress && (summary.rows + plain.size() + chunks.size()) % kCheckBatch == 0) {
          options.progress({"write", summary.rows + plain.size() + chunks.size(), rows,
                            walker.bytes() + source.bytes()});
        }
        return Status::OK();
      });
  if (written.ok()) written = flush_documents(/*sync=*/plain.empty());
  if (written.ok()) written = flush_plain(/*sync=*/true);
  if (!written.ok()) {
    // Every row passed the check, so this is the database failing (or a
    // concurrent writer): take back what this import wrote.
    return Status(written.code(), written.message() + "; " +
                                      UndoWrites(db, name, target.get(), summary, written_rows,
                                                 layout, schema, documents, options));
  }
  summary.write_seconds = Since(t1);
  if (options.progress) options.progress({"write", summary.rows, rows, summary.bytes});
  return summary;
}

}  // namespace flashembed::transfer
