#include "mcp/tools.h"

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <limits>
#include <optional>
#include <random>
#include <set>
#include <string_view>
#include <system_error>
#include <utility>

#include <fmt/format.h>

#include "ingest/readers.h"

namespace flashembed::mcp {
namespace fs = std::filesystem;
namespace {

[[noreturn]] void Fail(std::string message) { throw ToolError(std::move(message)); }

template <typename T>
T Check(Result<T> r) {
  if (!r.ok()) Fail(r.status().message());
  return std::move(r).value();
}

// Typed reads of a tool's arguments, each failure naming the argument.
class Args {
 public:
  Args(const Json& args, std::string_view tool, std::initializer_list<std::string_view> known)
      : args_(args) {
    for (const auto& [key, value] : args.items()) {
      if (std::find(known.begin(), known.end(), key) == known.end()) {
        std::string names;
        for (std::string_view k : known) names += (names.empty() ? "" : ", ") + std::string(k);
        Fail(fmt::format("{} has no argument \"{}\"; its arguments are {}", tool, key,
                         names.empty() ? std::string("none") : names));
      }
    }
  }

  const Json* Find(const char* key) const {
    auto it = args_.find(key);
    return it == args_.end() || it->is_null() ? nullptr : &*it;
  }

  std::optional<std::string> String(const char* key) const {
    const Json* v = Find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_string()) Fail(fmt::format("argument \"{}\" must be a string, got {}", key, Show(*v)));
    return v->get<std::string>();
  }

  std::string RequiredString(const char* key) const {
    std::optional<std::string> v = String(key);
    if (!v) Fail(fmt::format("argument \"{}\" is required", key));
    return *v;
  }

  std::optional<int64_t> Int(const char* key, int64_t lo, int64_t hi) const {
    const Json* v = Find(key);
    if (v == nullptr) return std::nullopt;
    // JSON numbers such as 5.0 are integers too (some clients send them).
    std::optional<int64_t> n;
    if (v->is_number_integer()) {
      if (v->is_number_unsigned() &&
          v->get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        n = std::numeric_limits<int64_t>::max();
      } else {
        n = v->get<int64_t>();
      }
    } else if (v->is_number_float()) {
      const double d = v->get<double>();
      if (d == static_cast<double>(static_cast<int64_t>(d))) n = static_cast<int64_t>(d);
    }
    if (!n || *n < lo || *n > hi) {
      Fail(fmt::format("argument \"{}\" must be an integer from {} to {}, got {}", key, lo, hi,
                       Show(*v)));
    }
    return n;
  }

  std::optional<bool> Bool(const char* key) const {
    const Json* v = Find(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_boolean()) Fail(fmt::format("argument \"{}\" must be true or false, got {}", key, Show(*v)));
    return v->get<bool>();
  }

  // An array of lo..hi items (nullptr when absent).
  const Json* Array(const char* key, size_t lo, size_t hi) const {
    const Json* v = Find(key);
    if (v == nullptr) return nullptr;
    if (!v->is_array() || v->size() < lo || v->size() > hi) {
      Fail(fmt::format("argument \"{}\" must be an array of {} to {} items, got {}", key, lo, hi,
                       v->is_array() ? fmt::format("{} items", v->size()) : Show(*v)));
    }
    return v;
  }

  std::vector<std::string> Strings(const char* key, size_t lo, size_t hi) const {
    std::vector<std::string> out;
    const Json* v = Array(key, lo, hi);
    if (v == nullptr) return out;
    for (const Json& s : *v) {
      if (!s.is_string()) Fail(fmt::format("argument \"{}\" must hold strings, got {}", key, Show(s)));
      out.push_back(s.get<std::string>());
    }
    return out;
  }

  // The value shown in a message, cut to a readable length.
  static std::string Show(const Json& v) {
    std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
    if (s.size() > 80) s = s.substr(0, 77) + "...";
    return s;
  }

 private:
  const Json& args_;
};

Id ToId(const Json& v, const char* where) {
  if (v.is_number_integer() && !(v.is_number_unsigned() && v.get<uint64_t>() > static_cast<uint64_t>(
                                                               std::numeric_limits<int64_t>::max()))) {
    return Id(v.get<int64_t>());
  }
  if (v.is_string() && !v.get_ref<const std::string&>().empty()) return Id(v.get<std::string>());
  Fail(fmt::format("{} must be a non-empty string or an integer, got {}", where, Args::Show(v)));
}

Json FromId(const Id& id) { return id.is_int() ? Json(id.as_int()) : Json(id.as_string()); }

// Stored metadata (compact JSON text) as an object.
Json Metadata(const std::string& text) {
  if (text.empty()) return Json::object();
  Json m = Json::parse(text, nullptr, /*allow_exceptions=*/false);
  return m.is_object() ? m : Json::object();
}

// A random UUID (version 4) for a record given without id.
std::string NewUuid() {
  thread_local std::mt19937_64 rng{std::random_device{}() ^
                                   (static_cast<uint64_t>(std::random_device{}()) << 32)};
  uint64_t hi = rng(), lo = rng();
  hi = (hi & ~uint64_t{0xF000}) | 0x4000;                      // version 4
  lo = (lo & ~(uint64_t{0xC} << 60)) | (uint64_t{0x8} << 60);  // RFC 4122 variant
  return fmt::format("{:08x}-{:04x}-{:04x}-{:04x}-{:012x}", hi >> 32, (hi >> 16) & 0xFFFF,
                     hi & 0xFFFF, lo >> 48, lo & 0xFFFFFFFFFFFFull);
}

Ranking ParseRanking(const std::string& s) {
  if (s == "auto") return Ranking::kAuto;
  if (s == "vector") return Ranking::kVector;
  if (s == "text") return Ranking::kText;
  if (s == "hybrid") return Ranking::kHybrid;
  Fail("argument \"ranking\" must be auto, vector, text or hybrid, got \"" + s + "\"");
}

// Whether canonical `path` is `root` or below it.
bool IsWithin(const fs::path& path, const fs::path& root) {
  auto [r, p] = std::mismatch(root.begin(), root.end(), path.begin(), path.end());
  return r == root.end();
}

// `path` (which resolves inside one of `roots`) relative to its root, with
// '/' separators: lexically when it is spelled under a root, else from its
// resolved path.
std::string RootRelativeId(const fs::path& path, const std::vector<fs::path>& roots) {
  const fs::path lexical = fs::absolute(path).lexically_normal();
  for (const fs::path& root : roots) {
    if (IsWithin(lexical, root)) return lexical.lexically_relative(root).generic_string();
  }
  std::error_code ec;
  const fs::path canonical = fs::canonical(path, ec);
  for (const fs::path& root : roots) {
    if (!ec && IsWithin(canonical, root)) return canonical.lexically_relative(root).generic_string();
  }
  return path.generic_string();
}

std::string RootList(const std::vector<fs::path>& roots) {
  std::string s;
  for (const fs::path& r : roots) s += (s.empty() ? "" : ", ") + r.string();
  return s;
}

}  // namespace

Tools::Tools(Database* db, std::vector<fs::path> roots, bool read_only)
    : db_(db), roots_(std::move(roots)), list_(ToolList(read_only)) {}

bool Tools::Has(const std::string& name) const {
  return std::any_of(list_.begin(), list_.end(),
                     [&](const Json& t) { return t["name"].get_ref<const std::string&>() == name; });
}

Json Tools::Call(const std::string& name, const Json& arguments) {
  try {
    if (name == "list_collections") return ListCollections(arguments);
    if (name == "search") return Search(arguments);
    if (name == "add_texts") return AddTexts(arguments);
    if (name == "ingest_files") return IngestFiles(arguments);
    if (name == "get") return Get(arguments);
    if (name == "delete") return Delete(arguments);
  } catch (const Json::exception& e) {
    // A JSON value of an unexpected type that a check above missed.
    Fail(std::string("bad arguments: ") + e.what());
  }
  Fail("unknown tool \"" + name + "\"");
}

Json Tools::ListCollections(const Json& args) {
  Args a(args, "list_collections", {});
  Json out = Json::array();
  for (const CollectionInfo& c : Check(db_->ListCollections())) {
    out.push_back({{"name", c.name},
                   {"count", c.count},
                   {"documents", c.documents},
                   {"dim", c.schema.dim},
                   {"metric", MetricName(c.schema.metric)},
                   {"encoder", c.schema.encoder.empty() ? std::string("none") : c.schema.encoder},
                   {"text_index", c.schema.text_index},
                   {"embeds_images", c.embeds_images},
                   {"disk_bytes", c.disk_bytes}});
  }
  return {{"collections", std::move(out)}};
}

Json Tools::Search(const Json& args) {
  Args a(args, "search",
         {"collection", "query", "k", "filter", "documents", "ranking", "passages", "neighbors"});
  const std::string name = a.RequiredString("collection");
  const std::string query = a.RequiredString("query");
  const size_t k = static_cast<size_t>(a.Int("k", 1, 1000).value_or(10));
  const std::string filter = a.String("filter").value_or("");
  const Ranking ranking = ParseRanking(a.String("ranking").value_or("auto"));
  const std::optional<int64_t> passages = a.Int("passages", 1, 64);
  const std::optional<int64_t> neighbors = a.Int("neighbors", 0, 8);
  std::optional<bool> documents = a.Bool("documents");
  auto coll = Check(db_->GetCollection(name));
  if (!documents) documents = Check(coll->CountDocuments()) > 0;
  if (!*documents && (passages || neighbors)) {
    Fail("\"passages\" and \"neighbors\" apply to document search (documents: true)");
  }

  Json hits = Json::array();
  if (*documents) {
    DocumentSearchOptions o;
    o.search.k = k;
    o.search.filter = filter;
    o.search.ranking = ranking;
    o.passages = static_cast<size_t>(passages.value_or(1));
    o.neighbors = static_cast<size_t>(neighbors.value_or(0));
    for (const DocumentHit& d : Check(coll->SearchDocuments(o, Query::Text(query)))) {
      Json ps = Json::array();
      for (const Passage& p : d.passages) {
        Json pj = {{"ordinal", p.ordinal}, {"begin", p.begin}, {"end", p.end},
                   {"score", p.score},     {"text", p.text}};
        if (o.neighbors > 0) {
          for (const char* side : {"before", "after"}) {
            Json ns = Json::array();
            for (const Passage& n : side[0] == 'b' ? p.before : p.after) {
              ns.push_back(
                  {{"ordinal", n.ordinal}, {"begin", n.begin}, {"end", n.end}, {"text", n.text}});
            }
            pj[side] = std::move(ns);
          }
        }
        ps.push_back(std::move(pj));
      }
      Json h = {{"id", d.id},         {"score", d.score},   {"title", d.title},
                {"source", d.source}, {"metadata", Metadata(d.metadata)}, {"passages", std::move(ps)}};
      if (d.vector_score) h["vector_score"] = *d.vector_score;
      if (d.text_score) h["text_score"] = *d.text_score;
      hits.push_back(std::move(h));
    }
  } else {
    SearchOptions o;
    o.k = k;
    o.filter = filter;
    o.ranking = ranking;
    for (const Hit& hit : Check(coll->Search(o, Query::Text(query)))) {
      Json h = {{"id", FromId(hit.id)},
                {"score", hit.score},
                {"text", hit.text},
                {"metadata", Metadata(hit.metadata)}};
      if (hit.vector_score) h["vector_score"] = *hit.vector_score;
      if (hit.text_score) h["text_score"] = *hit.text_score;
      hits.push_back(std::move(h));
    }
  }
  return {{"collection", name}, {"documents", *documents}, {"hits", std::move(hits)}};
}

namespace {

// The collection, created as `flashembed ingest` creates one (the hashing
// encoder, a text index) when missing. `created` says which.
std::shared_ptr<Collection> OpenOrCreate(Database* db, const std::string& name, bool* created) {
  *created = false;
  auto existing = db->GetCollection(name);
  if (existing.ok()) return *existing;
  if (existing.status().code() != StatusCode::kNotFound) Fail(existing.status().message());
  CollectionSchema schema;
  schema.encoder = "hash";
  schema.text_index = true;
  auto made = db->CreateCollection(name, schema);
  if (made.ok()) {
    *created = true;
    return *made;
  }
  // Another client created it meanwhile.
  if (made.status().code() == StatusCode::kAlreadyExists) return Check(db->GetCollection(name));
  Fail(made.status().message());
}

// Drops a collection this call created and left empty (its write failed, or
// nothing was written); returns whether it did.
bool DropIfEmpty(Database* db, std::shared_ptr<Collection> coll, bool created) {
  if (!created) return false;
  const Result<uint64_t> count = coll->Count();
  const std::string name = coll->name();
  coll.reset();
  return count.ok() && *count == 0 && db->DropCollection(name).ok();
}

}  // namespace

Json Tools::AddTexts(const Json& args) {
  Args a(args, "add_texts", {"collection", "records", "upsert"});
  const std::string name = a.RequiredString("collection");
  const Json* records = a.Array("records", 1, 1000);
  if (records == nullptr) Fail("argument \"records\" is required");
  const bool upsert = a.Bool("upsert").value_or(false);
  std::vector<Document> docs;
  Json ids = Json::array();
  for (size_t i = 0; i < records->size(); ++i) {
    const Json& r = (*records)[i];
    const std::string where = fmt::format("records[{}]", i);
    if (!r.is_object()) Fail(where + " must be an object {text, id?, metadata?}, got " + Args::Show(r));
    Document d;
    for (const auto& [key, value] : r.items()) {
      if (key == "text") {
        if (!value.is_string()) Fail(where + ".text must be a string, got " + Args::Show(value));
        d.text = value.get<std::string>();
      } else if (key == "id") {
        if (!value.is_null()) d.id = ToId(value, (where + ".id").c_str());
      } else if (key == "metadata") {
        if (!value.is_null() && !value.is_object()) {
          Fail(where + ".metadata must be an object, got " + Args::Show(value));
        }
        if (value.is_object()) d.metadata = value.dump();
      } else {
        Fail(where + " has no field \"" + key + "\"; a record is {text, id?, metadata?}");
      }
    }
    if (!r.contains("text")) Fail(where + ".text is required");
    if (!r.contains("id") || r["id"].is_null()) d.id = Id(NewUuid());
    ids.push_back(FromId(d.id));
    docs.push_back(std::move(d));
  }
  bool created = false;
  std::shared_ptr<Collection> coll = OpenOrCreate(db_, name, &created);
  const Status s = upsert ? coll->Upsert(WriteOptions{}, docs) : coll->Add(WriteOptions{}, docs);
  if (!s.ok()) {
    DropIfEmpty(db_, std::move(coll), created);
    Fail(s.code() == StatusCode::kAlreadyExists
             ? s.message() + " (nothing was written; pass \"upsert\": true to replace it)"
             : s.message() + " (nothing was written)");
  }
  return {{"collection", name}, {"created", created}, {"ids", std::move(ids)}};
}

Json Tools::IngestFiles(const Json& args) {
  Args a(args, "ingest_files", {"collection", "paths", "include", "exclude"});
  const std::string name = a.RequiredString("collection");
  const std::vector<std::string> paths = a.Strings("paths", 1, 1000);
  if (paths.empty()) Fail("argument \"paths\" is required");
  ingest::WalkOptions walk{.include = a.Strings("include", 0, 1000),
                           .exclude = a.Strings("exclude", 0, 1000)};
  if (roots_.empty()) {
    Fail("ingest_files reads no files: no folder was allowed (start the server with --root DIR, "
         "or flashembed serve with --mcp-root DIR)");
  }
  // Every path, and then every file found, must lie under a root once
  // symbolic links and ".." are resolved; nothing is read before all are
  // checked.
  auto check_within = [&](const fs::path& path, const std::string& shown) {
    std::error_code ec;
    const fs::path canonical = fs::canonical(path, ec);
    if (ec) Fail(fmt::format("cannot resolve \"{}\": {}", shown, ec.message()));
    for (const fs::path& root : roots_) {
      if (IsWithin(canonical, root)) return;
    }
    Fail(fmt::format("\"{}\" leads outside the allowed roots ({}): it resolves to {}; nothing "
                     "was read",
                     shown, RootList(roots_), canonical.string()));
  };
  std::vector<std::string> resolved;
  for (const std::string& p : paths) {
    if (p.empty()) Fail("argument \"paths\" holds an empty path");
    std::optional<fs::path> found;
    if (fs::path(p).is_absolute()) {
      found = fs::path(p);
    } else {
      for (const fs::path& root : roots_) {
        std::error_code ec;
        if (fs::symlink_status(root / p, ec).type() != fs::file_type::not_found && !ec) {
          found = root / p;
          break;
        }
      }
      if (!found) Fail(fmt::format("\"{}\" is in none of the allowed roots ({})", p, RootList(roots_)));
    }
    check_within(*found, p);
    resolved.push_back(found->string());
  }
  std::vector<ingest::InputFile> listed = Check(ingest::ListFiles(resolved, walk));
  // Each file's id is its path relative to the root it lies in, however it
  // was named ("notes/a.md" from "notes", "notes/a.md" or an absolute
  // path), so ids do not depend on the call; a file named twice is read once.
  std::vector<ingest::InputFile> files;
  std::set<std::string> ids;
  for (ingest::InputFile& f : listed) {
    check_within(f.path, f.path.string());
    f.id = RootRelativeId(f.path, roots_);
    if (ids.insert(f.id).second) files.push_back(std::move(f));
  }

  bool created = false;
  std::shared_ptr<Collection> coll = OpenOrCreate(db_, name, &created);
  auto started = coll->StartIngest(IngestOptions{});
  if (!started.ok()) {
    DropIfEmpty(db_, std::move(coll), created);
    Fail(started.status().message());
  }
  std::unique_ptr<DocumentIngest> run = std::move(started).value();
  Json errors = Json::array();
  size_t image_files = 0;
  Status fatal;
  auto emit = [&](SourceDocument doc) {
    Status s = run->Push(std::move(doc));
    if (!s.ok()) fatal = s;
    return s;
  };
  auto on_error = [&](DocumentError e) { run->ReportError(std::move(e)); };
  for (const ingest::InputFile& f : files) {
    if (ingest::IsImageFileName(f.path.filename().string())) {
      ++image_files;
      errors.push_back({{"id", f.id},
                        {"source", f.path.string()},
                        {"error", "an image: ingest_files reads text documents only (flashembed "
                                  "ingest embeds images into a collection of a CLIP model)"}});
      continue;
    }
    Status s = ingest::ReadFile(f.path, f.id, ingest::ReadOptions{}, emit, on_error);
    if (!fatal.ok()) break;
    if (!s.ok()) run->ReportError({f.id, f.path.string(), s});
  }
  Result<IngestSummary> summary = run->Finish();
  run.reset();
  if (!summary.ok() || !fatal.ok()) {
    DropIfEmpty(db_, std::move(coll), created);
    Fail((!summary.ok() ? summary.status() : fatal).message());
  }
  for (const DocumentError& e : summary->errors) {
    errors.push_back({{"id", e.id}, {"source", e.source}, {"error", e.status.message()}});
  }
  const IngestProgress& t = summary->totals;
  // Every file failed: a collection made for them is not left behind.
  if (t.added + t.replaced + t.unchanged == 0 && DropIfEmpty(db_, std::move(coll), created)) {
    created = false;
  }
  return {{"collection", name},  {"created", created},     {"files", files.size()},
          {"added", t.added},    {"replaced", t.replaced}, {"unchanged", t.unchanged},
          {"failed", t.failed + image_files}, {"chunks", t.chunks}, {"errors", std::move(errors)}};
}

Json Tools::Get(const Json& args) {
  Args a(args, "get", {"collection", "ids"});
  const std::string name = a.RequiredString("collection");
  const Json* given = a.Array("ids", 1, 1000);
  if (given == nullptr) Fail("argument \"ids\" is required");
  std::vector<Id> ids;
  for (size_t i = 0; i < given->size(); ++i) {
    ids.push_back(ToId((*given)[i], fmt::format("ids[{}]", i).c_str()));
  }
  auto coll = Check(db_->GetCollection(name));
  std::vector<Document> found = Check(coll->GetMany(ids, /*with_vector=*/false));
  Json records = Json::array(), documents = Json::array(), missing = Json::array();
  std::set<std::string> seen;
  for (const Document& d : found) {
    seen.insert(d.id.ToString());
    records.push_back({{"id", FromId(d.id)}, {"text", d.text}, {"metadata", Metadata(d.metadata)}});
  }
  for (const Id& id : ids) {
    if (seen.count(id.ToString()) > 0) continue;
    if (id.is_string()) {
      Result<DocumentInfo> doc = coll->GetDocument(id.as_string(), /*with_vector=*/false);
      if (doc.ok()) {
        documents.push_back({{"id", doc->id},
                             {"title", doc->title},
                             {"source", doc->source},
                             {"metadata", Metadata(doc->metadata)},
                             {"bytes", doc->bytes},
                             {"tokens", doc->tokens},
                             {"chunks", doc->chunks.size()}});
        seen.insert(id.ToString());
        continue;
      }
      if (doc.status().code() != StatusCode::kNotFound) Fail(doc.status().message());
    }
    missing.push_back(FromId(id));
    seen.insert(id.ToString());
  }
  return {{"collection", name},
          {"records", std::move(records)},
          {"documents", std::move(documents)},
          {"missing", std::move(missing)}};
}

Json Tools::Delete(const Json& args) {
  Args a(args, "delete", {"collection", "ids", "filter"});
  const std::string name = a.RequiredString("collection");
  const Json* given = a.Array("ids", 1, 1000);
  const std::optional<std::string> filter = a.String("filter");
  if ((given == nullptr) == !filter.has_value()) {
    Fail("give exactly one of \"ids\" and \"filter\"");
  }
  auto coll = Check(db_->GetCollection(name));
  size_t deleted = 0, documents_deleted = 0;
  if (filter) {
    if (filter->empty()) Fail("argument \"filter\" is empty");
    deleted = Check(coll->DeleteWhere(WriteOptions{}, *filter, ""));
  } else {
    std::vector<Id> ids;
    std::vector<std::string> names;
    for (size_t i = 0; i < given->size(); ++i) {
      ids.push_back(ToId((*given)[i], fmt::format("ids[{}]", i).c_str()));
      if (ids.back().is_string()) names.push_back(ids.back().as_string());
    }
    // Long documents first (their chunks go with them), then records.
    if (!names.empty()) documents_deleted = Check(coll->DeleteDocuments(WriteOptions{}, names));
    deleted = Check(coll->Delete(WriteOptions{}, ids));
  }
  return {{"collection", name}, {"deleted", deleted}, {"documents_deleted", documents_deleted}};
}

}  // namespace flashembed::mcp
