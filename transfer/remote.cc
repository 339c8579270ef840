// PushCollection and PullCollection (transfer/remote.h) over MilvusClient.
//
// Push: the export's survey fixes the row schema and collection.json's
// create body; the target is created with it, or an existing one is
// compared with it; then the records are scanned in write order and sent in
// batches of JSON rows (the export's row text, dynamic keys flattened as
// REST insert wants them). Resume: for a target that existed, each batch's
// ids are first looked up (entities/get, pk only) and the ones held are
// not sent.
//
// Pull: the remote's describe (and indexes/describe) becomes a create body,
// which types the rows exactly as an import of collection.json would; pages
// of rows come by ascending pk (entities/query with `pk > last`), each
// written in one atomic batch. Resume: for a local collection that existed,
// a page asks only for ids, and the rows missing locally are fetched with
// entities/get.
#include "transfer/remote.h"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <thread>
#include <unordered_set>

#include <fmt/format.h>

#include "transfer/export_files.h"
#include "transfer/import_layout.h"
#include "transfer/milvus_client.h"
#include "transfer/rows.h"

namespace flashembed::transfer {
namespace {

double Since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

bool Cancelled(const std::atomic<bool>* cancel) {
  return cancel != nullptr && cancel->load(std::memory_order_relaxed);
}

std::string Quote(const Id& id) {
  return id.is_int() ? id.ToString() : "\"" + id.as_string() + "\"";
}

// Milvus's pk order: numbers ascending; strings byte by byte.
bool IdBefore(const Id& a, const Id& b) {
  if (a.is_int() != b.is_int()) return a.is_int();
  return a.is_int() ? a.as_int() < b.as_int() : a.as_string() < b.as_string();
}

Json IdJson(const Id& id) { return id.is_int() ? Json(id.as_int()) : Json(id.as_string()); }

// describe's "params": [{"key":"dim","value":"4"}] as {"dim":"4"}.
Json KeyValues(const Json* list) {
  Json out = Json::object();
  if (list == nullptr || !list->is_array()) return out;
  for (const Json& kv : *list) {
    if (!kv.is_object()) continue;
    const auto k = kv.find("key");
    const auto v = kv.find("value");
    if (k == kv.end() || v == kv.end() || !k->is_string()) continue;
    out[k->get<std::string>()] = *v;
  }
  return out;
}

const Json* Member(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

std::string StringMember(const Json& object, const char* key) {
  const Json* v = Member(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : "";
}

bool BoolMember(const Json& object, const char* key) {
  const Json* v = Member(object, key);
  return v != nullptr && v->is_boolean() && v->get<bool>();
}

// A collections/create body equivalent to a collections/describe answer
// (`index`: the vector index's indexes/describe entry, or null).
Json CreateBodyOfDescribe(const std::string& name, const Json& d, const Json& index) {
  Json fields = Json::array();
  std::string vector_name;
  if (const Json* list = Member(d, "fields"); list != nullptr && list->is_array()) {
    for (const Json& f : *list) {
      Json field = {{"fieldName", StringMember(f, "name")},
                    {"dataType", StringMember(f, "type")},
                    {"isPrimary", BoolMember(f, "primaryKey")},
                    {"isPartitionKey", BoolMember(f, "partitionKey")},
                    {"isClusteringKey", BoolMember(f, "clusteringKey")},
                    {"nullable", BoolMember(f, "nullable")},
                    {"elementTypeParams", KeyValues(Member(f, "params"))}};
      if (const std::string e = StringMember(f, "elementType"); !e.empty()) {
        field["elementDataType"] = e;
      }
      if (const Json* dv = Member(f, "defaultValue"); dv != nullptr && !dv->is_null()) {
        field["defaultValue"] = *dv;
      }
      if (const std::string desc = StringMember(f, "description"); !desc.empty()) {
        field["description"] = desc;
      }
      if (StringMember(f, "type") == "FloatVector" && vector_name.empty()) {
        vector_name = StringMember(f, "name");
      }
      fields.push_back(std::move(field));
    }
  }
  Json body = {{"collectionName", name},
               {"schema",
                {{"autoID", BoolMember(d, "autoId")},
                 {"enableDynamicField", BoolMember(d, "enableDynamicField")},
                 {"fields", fields}}}};
  std::string metric;
  if (const Json* list = Member(d, "indexes"); list != nullptr && list->is_array()) {
    for (const Json& i : *list) {
      if (StringMember(i, "fieldName") == vector_name) metric = StringMember(i, "metricType");
    }
  }
  Json params = Json::object();
  if (index.is_object()) {
    params = KeyValues(Member(index, "indexParams"));
    const std::string type = StringMember(index, "indexType");
    if (!type.empty()) params["index_type"] = type;
    if (metric.empty()) metric = StringMember(index, "metricType");
    params.erase("metric_type");
    // Some versions put the build parameters in one "params" entry of JSON
    // text ({"M":16,"efConstruction":200}).
    if (const auto it = params.find("params"); it != params.end()) {
      const Json inner =
          it->is_string() ? Json::parse(it->get<std::string>(), nullptr, false) : *it;
      params.erase(it);
      if (inner.is_object()) {
        for (const auto& [k, v] : inner.items()) {
          if (!params.contains(k)) params[k] = v;
        }
      }
    }
  }
  if (!vector_name.empty() && !metric.empty()) {
    body["indexParams"] =
        Json::array({{{"fieldName", vector_name}, {"metricType", metric}, {"params", params}}});
  }
  return body;
}

// Differences between the rows a push sends (`ours`) and an existing
// Milvus collection (`theirs`, from its describe); "" when compatible.
std::string Incompatibility(const RowSchema& ours, const RowSchema& theirs, bool auto_id) {
  if (theirs.pk.name != ours.pk.name || theirs.pk.type != ours.pk.type) {
    std::string why = "its primary key is " + theirs.pk.name + " (" + theirs.pk.type +
                      "), the rows' is " + ours.pk.name + " (" + ours.pk.type + ")";
    if (theirs.pk.name == ours.pk.name && theirs.pk.type == "VarChar") {
      why += "; --pk-type varchar sends integer ids as strings";
    }
    return why;
  }
  if (auto_id) return "its primary key is autoID, so the rows' ids could not be kept";
  if (theirs.vector.name != ours.vector.name || theirs.dim != ours.dim) {
    return fmt::format("its vector field is {} of dim {}, the rows' is {} of dim {}",
                       theirs.vector.name, theirs.dim, ours.vector.name, ours.dim);
  }
  if (ours.text.has_value()) {
    const Field* t = theirs.text.has_value() && theirs.text->name == ours.text->name
                         ? &*theirs.text
                         : theirs.FindScalar(ours.text->name);
    if (t == nullptr || t->type != "VarChar") {
      return "it has no VarChar field \"" + ours.text->name + "\" for the text";
    }
  }
  for (const Field& f : ours.scalars) {
    const Field* t = theirs.FindScalar(f.name);
    if (t == nullptr && theirs.text.has_value() && theirs.text->name == f.name) t = &*theirs.text;
    if (t == nullptr) {
      if (!theirs.dynamic) return "it has no field \"" + f.name + "\" and no dynamic fields";
      continue;
    }
    if (t->type != f.type || t->element_type != f.element_type) {
      return "its field \"" + f.name + "\" is " + t->type + ", the rows' is " + f.type;
    }
  }
  // Fields the rows do not carry must be optional there (a missing VarChar
  // becomes "" in Milvus).
  for (const Field& f : theirs.scalars) {
    const bool carried =
        ours.FindScalar(f.name) != nullptr || (ours.text.has_value() && ours.text->name == f.name);
    if (!carried && !f.nullable && f.default_value.is_null() && f.type != "VarChar") {
      return "its field \"" + f.name + "\" (" + f.type +
             ") is required and the rows do not have it";
    }
  }
  return "";
}

// A row's dynamic keys go as top-level keys of an insert: they must not be
// the name of a field (ours, or the target's) and need dynamic fields.
Status CheckDynamicKeys(const PreparedRow& row, const RowSchema& ours, const RowSchema* theirs,
                        bool dynamic) {
  if (row.meta.empty()) return Status::OK();
  if (!dynamic) {
    return Status::InvalidArgument("the metadata key \"" + row.meta.begin().key() +
                                   "\" has no field in the target and it has no dynamic fields");
  }
  for (const auto& [key, value] : row.meta.items()) {
    if (key == "$meta" || ours.IsField(key) || (theirs != nullptr && theirs->IsField(key))) {
      return Status::InvalidArgument("the metadata key \"" + key +
                                     "\" is also the name of a field of the target; a row "
                                     "cannot carry both");
    }
  }
  return Status::OK();
}

// Waits until `name` is loaded (Milvus loads asynchronously), asking it to
// load first when it is not.
Status EnsureLoaded(MilvusClient& client, const std::string& name, int timeout_ms, bool may_load) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
  bool asked = false;
  while (true) {
    FE_ASSIGN_OR_RETURN(Json state,
                        client.CallJson("collections/get_load_state", client.Body(name)));
    const std::string s = StringMember(state, "loadState");
    if (s == "LoadStateLoaded") return Status::OK();
    if (s == "LoadStateNotLoad" && !asked) {
      if (!may_load) {
        return Status::InvalidArgument("Milvus collection " + name +
                                       " is not loaded; load it (collections/load) and try again");
      }
      FE_RETURN_IF_ERROR(client.CallJson("collections/load", client.Body(name)).status());
      asked = true;
      continue;
    }
    if (std::chrono::steady_clock::now() > deadline) {
      return Status::IOError(fmt::format(
          "Milvus collection {} did not load within {} ms (state {})", name, timeout_ms, s));
    }
    if (client.cancelled()) {
      return Status::Cancelled("stopped while waiting for Milvus collection " + name + " to load");
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

Result<uint64_t> RemoteCount(MilvusClient& client, const std::string& name) {
  OrderedJson body = client.Body(name);
  body["filter"] = "";
  body["outputFields"] = {"count(*)"};
  body["consistencyLevel"] = "Strong";
  FE_ASSIGN_OR_RETURN(Json data, client.CallJson("entities/query", body));
  if (data.is_array() && data.size() == 1 && data[0].is_object()) {
    const Json* n = Member(data[0], "count(*)");
    if (n != nullptr && n->is_number_unsigned()) return n->get<uint64_t>();
    if (n != nullptr && n->is_string()) {
      const std::string& text = n->get_ref<const std::string&>();
      uint64_t v = 0;
      const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (ec == std::errc() && end == text.data() + text.size()) return v;
    }
  }
  return Status::IOError("Milvus at " + client.url() + ": count(*) of " + name +
                         " is not a number: " + data.dump().substr(0, 200));
}

// The ids in the rows of a get/query answer (each row carries the pk).
Result<std::vector<Id>> IdsOfRows(std::string_view data, const std::string& pk,
                                  const std::string& where) {
  Json rows = Json::parse(data, nullptr, false);
  if (!rows.is_array()) return Status::IOError(where + ": \"data\" is not an array of rows");
  std::vector<Id> ids;
  ids.reserve(rows.size());
  for (const Json& row : rows) {
    const Json* v = Member(row, pk.c_str());
    if (v != nullptr && v->is_number_integer()) {
      ids.emplace_back(v->get<int64_t>());
    } else if (v != nullptr && v->is_string()) {
      ids.emplace_back(v->get<std::string>());
    } else {
      return Status::IOError(where + ": a row without its primary key " + pk);
    }
  }
  return ids;
}

// ---- push ------------------------------------------------------------------

class Pusher {
 public:
  Pusher(const Collection& collection, MilvusClient& client, const PushOptions& options,
         const RemoteOptions& remote)
      : collection_(collection), client_(client), options_(options), remote_(remote) {}

  Result<PushSummary> Run() {
    const auto t0 = std::chrono::steady_clock::now();
    FE_ASSIGN_OR_RETURN(CollectionInfo info, collection_.Describe());
    FE_ASSIGN_OR_RETURN(RowSchema schema, SchemaOfCollection(info, "id", "vector", "text",
                                                             /*with_text=*/false));
    ExportOptions survey{.format = FileFormat::kMilvusJson,
                         .out_dir = "",
                         .pk_type = options_.pk_type,
                         .batch = std::min<size_t>(options_.batch, 65536),
                         .progress = options_.progress};
    plan_.format = FileFormat::kMilvusJson;
    plan_.max_file_bytes = options_.max_request_bytes;
    plan_.schema = std::move(schema);
    FE_RETURN_IF_ERROR(SurveyRecords(collection_, info, survey, &plan_));
    name_ = options_.milvus_name.empty() ? MilvusName(info.name) : options_.milvus_name;
    summary_.milvus_name = name_;
    summary_.pk_type = plan_.schema.pk.type;
    summary_.records = plan_.records;

    FE_RETURN_IF_ERROR(DescribeTarget());
    FE_RETURN_IF_ERROR(CheckRecords());
    FE_RETURN_IF_ERROR(PrepareTarget(info));
    FE_RETURN_IF_ERROR(SendRecords());
    // Milvus loads a created collection asynchronously; count(*) needs it.
    FE_RETURN_IF_ERROR(EnsureLoaded(client_, name_, remote_.timeout_ms, /*may_load=*/true));
    FE_ASSIGN_OR_RETURN(summary_.remote_rows, RemoteCount(client_, name_));
    if (summary_.created && summary_.remote_rows != plan_.records) {
      return Status::Internal(
          fmt::format("Milvus collection {} counts {} rows after the push of {} records", name_,
                      summary_.remote_rows, plan_.records));
    }
    summary_.requests = client_.requests();
    summary_.seconds = Since(t0);
    return summary_;
  }

 private:
  // An existing target: compared with the rows (nothing is created or
  // sent when they do not fit), and its fields and dynamic setting kept.
  Status DescribeTarget() {
    FE_ASSIGN_OR_RETURN(Json has, client_.CallJson("collections/has", client_.Body(name_)));
    if (!BoolMember(has, "has")) return Status::OK();
    FE_ASSIGN_OR_RETURN(Json described,
                        client_.CallJson("collections/describe", client_.Body(name_)));
    const Json body = CreateBodyOfDescribe(name_, described, Json());
    Result<RowSchema> theirs = SchemaOfCreateBody(
        body, plan_.schema.text.has_value() ? plan_.schema.text->name : std::string_view("text"));
    if (!theirs.ok()) {
      return Status::InvalidArgument(
          "Milvus collection " + name_ +
          " exists and cannot take these rows: " + theirs.status().message());
    }
    const std::string why = Incompatibility(plan_.schema, *theirs, BoolMember(described, "autoId"));
    if (!why.empty()) {
      return Status::InvalidArgument(
          "Milvus collection " + name_ + " exists and does not match collection \"" +
          collection_.name() + "\": " + why + " (or push under another --name)");
    }
    theirs_ = std::move(theirs).value();
    // Rows are written with the target's view of dynamic fields.
    plan_.schema.dynamic = theirs_->dynamic;
    return Status::OK();
  }

  // Every record checked as a row (without vectors) before anything is
  // created or sent.
  Status CheckRecords() {
    PreparedRow row;
    ScanOptions scan{.with_vector = false, .batch = std::min<size_t>(options_.batch, 65536)};
    return collection_.ScanRecords(scan, [&](std::span<const Document> docs) -> Status {
      for (const Document& doc : docs) {
        FE_RETURN_IF_ERROR(
            Context(doc.id, PrepareRow(plan_.schema, plan_.ids_as_strings, doc, &row)));
        FE_RETURN_IF_ERROR(
            Context(doc.id, CheckDynamicKeys(row, plan_.schema, theirs_ ? &*theirs_ : nullptr,
                                             plan_.schema.dynamic)));
      }
      return Status::OK();
    });
  }

  Status PrepareTarget(const CollectionInfo& info) {
    if (!theirs_.has_value()) {
      const OrderedJson create = CreateBody(name_, plan_.schema, info);
      FE_RETURN_IF_ERROR(client_.Call("collections/create", create.dump()).status());
      summary_.created = true;
      return Status::OK();
    }
    return EnsureLoaded(client_, name_, remote_.timeout_ms, /*may_load=*/true);
  }

  Status SendRecords() {
    PreparedRow row;
    std::string text;
    ScanOptions scan{.batch = std::min<size_t>(options_.batch, 65536)};
    uint64_t scanned = 0;
    Status status = collection_.ScanRecords(scan, [&](std::span<const Document> docs) -> Status {
      for (const Document& doc : docs) {
        if (++scanned > plan_.records) {
          return Status::Internal("the collection changed during the push; push again");
        }
        FE_RETURN_IF_ERROR(
            Context(doc.id, PrepareRow(plan_.schema, plan_.ids_as_strings, doc, &row)));
        if (doc.vector.size() != static_cast<size_t>(plan_.schema.dim)) {
          return Status::Internal(fmt::format("record {}: vector of {} values, dim {}",
                                              Quote(doc.id), doc.vector.size(), plan_.schema.dim));
        }
        for (const float x : doc.vector) {
          if (!std::isfinite(x)) {
            return Status::InvalidArgument("record " + Quote(doc.id) +
                                           ": the vector holds NaN or Inf, which Milvus refuses");
          }
        }
        text.clear();
        FE_RETURN_IF_ERROR(Context(doc.id, AppendJsonRow(plan_.schema, row, doc.vector,
                                                         /*flat_meta=*/true, &text)));
        if (!rows_.empty() && (rows_.size() >= options_.batch ||
                               bytes_ + text.size() + 1 > options_.max_request_bytes)) {
          FE_RETURN_IF_ERROR(Flush());
        }
        ids_.push_back(row.id);
        bytes_ += text.size() + 1;
        rows_.push_back(std::move(text));
        text = std::string();
      }
      return Status::OK();
    });
    FE_RETURN_IF_ERROR(status);
    FE_RETURN_IF_ERROR(Flush());
    if (scanned != plan_.records) {
      return Status::Internal("the collection changed during the push; push again");
    }
    return Status::OK();
  }

  static Status Context(const Id& id, Status s) {
    if (s.ok()) return s;
    return Status(s.code(), "record " + Quote(id) + ": " + s.message());
  }

  // Sends the batch (less the ids the target holds, unless upserting).
  Status Flush() {
    if (rows_.empty()) return Status::OK();
    if (Cancelled(options_.cancel)) {
      return Status::Cancelled(fmt::format("push stopped after {} rows; push again to go on",
                                           summary_.sent + summary_.skipped));
    }
    std::vector<bool> keep(rows_.size(), true);
    size_t held = 0;
    if (!summary_.created && !options_.upsert) {
      OrderedJson body = client_.Body(name_);
      Json ids = Json::array();
      for (const Id& id : ids_) ids.push_back(IdJson(id));
      body["id"] = std::move(ids);
      body["outputFields"] = {plan_.schema.pk.name};
      body["consistencyLevel"] = "Strong";
      FE_ASSIGN_OR_RETURN(MilvusReply reply, client_.Call("entities/get", body.dump()));
      FE_ASSIGN_OR_RETURN(std::vector<Id> present,
                          IdsOfRows(reply.data(), plan_.schema.pk.name, "entities/get"));
      std::unordered_set<std::string> found;
      for (const Id& id : present) found.insert(Quote(id));
      for (size_t i = 0; i < ids_.size(); ++i) {
        if (found.count(Quote(ids_[i])) > 0) {
          keep[i] = false;
          ++held;
        }
      }
    }
    const size_t sending = rows_.size() - held;
    if (sending > 0) {
      std::string body = client_.Body(name_).dump();
      body.pop_back();  // '}'
      body += ",\"data\":[";
      bool first = true;
      for (size_t i = 0; i < rows_.size(); ++i) {
        if (!keep[i]) continue;
        if (!first) body += ',';
        body += rows_[i];
        first = false;
      }
      body += "]}";
      const char* route = options_.upsert ? "entities/upsert" : "entities/insert";
      FE_ASSIGN_OR_RETURN(MilvusReply reply, client_.Call(route, body, "entities/upsert"));
      const Json data = Json::parse(reply.data(), nullptr, false);
      const Json* n = Member(data, "insertCount");
      if (n == nullptr) n = Member(data, "upsertCount");
      if (n == nullptr || !n->is_number_unsigned() || n->get<uint64_t>() != sending) {
        return Status::IOError(fmt::format(
            "Milvus at {}: a write ({}, or its retry as an upsert) of {} rows answered {}",
            client_.url(), route, sending, reply.data().substr(0, 200)));
      }
      summary_.bytes += body.size();
    }
    summary_.sent += sending;
    summary_.skipped += held;
    rows_.clear();
    ids_.clear();
    bytes_ = 0;
    if (options_.progress) {
      options_.progress({"push", summary_.sent + summary_.skipped, plan_.records, summary_.bytes});
    }
    return Status::OK();
  }

  const Collection& collection_;
  MilvusClient& client_;
  const PushOptions& options_;
  const RemoteOptions& remote_;
  ExportPlan plan_;
  std::string name_;
  std::optional<RowSchema> theirs_;  // the target's rows when it existed
  PushSummary summary_;
  std::vector<std::string> rows_;  // the batch: JSON row objects
  std::vector<Id> ids_;
  uint64_t bytes_ = 0;
};

// ---- pull ------------------------------------------------------------------

class Puller {
 public:
  Puller(Database& db, std::string name, MilvusClient& client, const PullOptions& options,
         const RemoteOptions& remote)
      : db_(db), name_(std::move(name)), client_(client), options_(options), remote_(remote) {}

  Result<PullSummary> Run() {
    const auto t0 = std::chrono::steady_clock::now();
    const std::string& remote_name = options_.milvus_name;
    FE_ASSIGN_OR_RETURN(Json described,
                        client_.CallJson("collections/describe", client_.Body(remote_name)));
    Json index;
    if (const Json* list = Member(described, "indexes"); list != nullptr && list->is_array()) {
      for (const Json& i : *list) {
        OrderedJson body = client_.Body(remote_name);
        body["indexName"] = StringMember(i, "indexName");
        Result<Json> d = client_.CallJson("indexes/describe", body);
        if (d.ok() && d->is_array() && !d->empty()) index = (*d)[0];
        break;
      }
    }
    ImportLayout layout;
    layout.collection_json = CreateBodyOfDescribe(remote_name, described, index);
    std::shared_ptr<Collection> target;
    if (Result<std::shared_ptr<Collection>> got = db_.GetCollection(name_); got.ok()) {
      target = *got;
    } else if (!got.status().IsNotFound()) {
      return got.status();
    }
    // No text field: a name no Milvus field can have ([A-Za-z_][A-Za-z0-9_]*).
    ImportOptions import{
        .dir = "-",
        .text_field = options_.text_field.empty() ? std::string("\x01") : options_.text_field};
    Result<ImportPlan> plan = ResolveImportSchema(layout, import, target);
    if (!plan.ok()) {
      return Status(plan.status().code(),
                    "Milvus collection " + remote_name + ": " + plan.status().message());
    }
    schema_ = std::move(plan->rows);
    FE_RETURN_IF_ERROR(EnsureLoaded(client_, remote_name, remote_.timeout_ms, /*may_load=*/false));
    FE_ASSIGN_OR_RETURN(summary_.remote_rows, RemoteCount(client_, remote_name));
    if (target == nullptr) {
      CollectionSchema create = *plan->create;
      create.dim = schema_.dim;
      create.encoder = options_.encoder;
      FE_ASSIGN_OR_RETURN(target, db_.CreateCollection(name_, create));
      summary_.created = true;
    }
    target_ = target.get();
    const bool check_local = !summary_.created && !options_.upsert;
    std::optional<Id> last;
    while (true) {
      if (Cancelled(options_.cancel)) {
        return Status::Cancelled(fmt::format("pull stopped after {} rows; pull again to go on",
                                             summary_.received + summary_.skipped));
      }
      size_t got = 0;
      FE_RETURN_IF_ERROR(check_local ? MissingPage(last, &got) : FullPage(last, &got));
      if (got == 0) break;
      if (options_.progress) {
        options_.progress(
            {"pull", summary_.received + summary_.skipped, summary_.remote_rows, summary_.bytes});
      }
    }
    if (summary_.received + summary_.skipped != summary_.remote_rows) {
      // Milvus does not keep primary keys unique: count(*) counts every
      // copy, a query returns one.
      summary_.warning = fmt::format(
          "Milvus collection {} counted {} rows at the start and its pages held {} distinct ids: "
          "it holds repeated primary keys (one copy of each was pulled), or it changed during the "
          "pull (pull again to fetch rows added meanwhile)",
          remote_name, summary_.remote_rows, summary_.received + summary_.skipped);
    }
    summary_.requests = client_.requests();
    summary_.seconds = Since(t0);
    return summary_;
  }

 private:
  OrderedJson PageBody(const std::optional<Id>& last) const {
    OrderedJson body = client_.Body(options_.milvus_name);
    std::string filter;
    if (last.has_value()) {
      filter = schema_.pk.name + " > " +
               (last->is_int() ? last->ToString() : FilterStringLiteral(last->as_string()));
    }
    body["filter"] = filter;
    body["limit"] = options_.batch;
    body["consistencyLevel"] = "Strong";
    return body;
  }

  // The ids of a page must be ascending and after `last`.
  Status CheckOrder(const std::vector<Id>& ids, std::optional<Id>* last) {
    for (const Id& id : ids) {
      if (last->has_value() && !IdBefore(**last, id)) {
        return Status::IOError("Milvus at " + client_.url() +
                               ": entities/query returned rows out of primary-key order (" +
                               Quote(id) + " after " + Quote(**last) + "); cannot page");
      }
      *last = id;
    }
    return Status::OK();
  }

  // A page of whole rows, written.
  Status FullPage(std::optional<Id>& last, size_t* got) {
    OrderedJson body = PageBody(last);
    body["outputFields"] = {"*"};
    FE_ASSIGN_OR_RETURN(MilvusReply reply, client_.Call("entities/query", body.dump()));
    summary_.bytes += reply.body.size();
    FE_ASSIGN_OR_RETURN(
        std::vector<Document> docs,
        Rows(reply.data(), "the page after " + (last ? Quote(*last) : "the start")));
    std::vector<Id> ids;
    ids.reserve(docs.size());
    for (const Document& d : docs) ids.push_back(d.id);
    FE_RETURN_IF_ERROR(CheckOrder(ids, &last));
    *got = docs.size();
    return Write(docs);
  }

  // A page of ids; the rows missing locally fetched and written.
  Status MissingPage(std::optional<Id>& last, size_t* got) {
    OrderedJson body = PageBody(last);
    body["outputFields"] = {schema_.pk.name};
    FE_ASSIGN_OR_RETURN(MilvusReply reply, client_.Call("entities/query", body.dump()));
    summary_.bytes += reply.body.size();
    FE_ASSIGN_OR_RETURN(std::vector<Id> ids,
                        IdsOfRows(reply.data(), schema_.pk.name, "entities/query"));
    FE_RETURN_IF_ERROR(CheckOrder(ids, &last));
    *got = ids.size();
    if (ids.empty()) return Status::OK();
    FE_ASSIGN_OR_RETURN(std::vector<Document> held, target_->GetMany(ids, /*with_vector=*/false));
    std::unordered_set<std::string> local;
    for (const Document& d : held) local.insert(Quote(d.id));
    Json missing = Json::array();
    for (const Id& id : ids) {
      if (local.count(Quote(id)) == 0) missing.push_back(IdJson(id));
    }
    summary_.skipped += ids.size() - missing.size();
    if (missing.empty()) return Status::OK();
    OrderedJson get = client_.Body(options_.milvus_name);
    const size_t want = missing.size();
    get["id"] = std::move(missing);
    get["outputFields"] = {"*"};
    get["consistencyLevel"] = "Strong";
    FE_ASSIGN_OR_RETURN(MilvusReply rows, client_.Call("entities/get", get.dump()));
    summary_.bytes += rows.body.size();
    FE_ASSIGN_OR_RETURN(std::vector<Document> docs,
                        Rows(rows.data(), "entities/get of the rows missing locally"));
    if (docs.size() != want) {
      return Status::IOError(fmt::format("Milvus at {}: entities/get of {} ids returned {} rows",
                                         client_.url(), want, docs.size()));
    }
    return Write(docs);
  }

  // The rows of a reply, checked as an import checks a JSON file's rows
  // (`what` names the request in messages).
  Result<std::vector<Document>> Rows(std::string_view data, const std::string& what) {
    Result<std::vector<std::string_view>> raw = RawArrayElements(data);
    if (!raw.ok()) {
      return Status::IOError("Milvus at " + client_.url() + ": " + what +
                             ": \"data\" is not an array of rows (" + raw.status().message() + ")");
    }
    const std::vector<std::string_view>& rows = *raw;
    std::vector<Document> docs;
    docs.reserve(rows.size());
    RowValues values;
    for (size_t i = 0; i < rows.size(); ++i) {
      ImportRecord rec;
      Status s = ParseJsonRow(rows[i], schema_, /*milvus_output=*/true, &values);
      if (s.ok()) s = AssembleRecord(schema_, std::move(values), &rec);
      if (!s.ok()) {
        return Status::InvalidArgument(fmt::format("Milvus collection {}: {}, row {} of {}: {}",
                                                   options_.milvus_name, what, i + 1, rows.size(),
                                                   s.message()));
      }
      rec.doc.metadata = rec.metadata.dump(-1, ' ', false, Json::error_handler_t::replace);
      docs.push_back(std::move(rec.doc));
    }
    return docs;
  }

  Status Write(std::vector<Document>& docs) {
    if (docs.empty()) return Status::OK();
    const WriteOptions w{.sync = true};
    FE_RETURN_IF_ERROR(options_.upsert ? target_->Upsert(w, docs) : target_->Add(w, docs));
    summary_.received += docs.size();
    return Status::OK();
  }

  Database& db_;
  std::string name_;
  MilvusClient& client_;
  const PullOptions& options_;
  const RemoteOptions& remote_;
  RowSchema schema_;
  Collection* target_ = nullptr;
  PullSummary summary_;
};

}  // namespace

Status PushOptions::Validate() const {
  if (!milvus_name.empty() && MilvusName(milvus_name) != milvus_name) {
    return Status::InvalidArgument(
        "the Milvus collection name must be letters, digits and '_', "
        "not starting with a digit");
  }
  if (batch == 0 || batch > 16384) return Status::InvalidArgument("batch must be 1..16384");
  if (max_request_bytes < (uint64_t{64} << 10) || max_request_bytes > (uint64_t{1} << 30)) {
    return Status::InvalidArgument("the request size limit must be 64 KiB .. 1 GiB");
  }
  return Status::OK();
}

Status PullOptions::Validate() const {
  if (milvus_name.empty()) return Status::InvalidArgument("no Milvus collection name given");
  if (MilvusName(milvus_name) != milvus_name) {
    return Status::InvalidArgument(
        "the Milvus collection name must be letters, digits and '_', "
        "not starting with a digit");
  }
  if (batch == 0 || batch > 16384) return Status::InvalidArgument("batch must be 1..16384");
  return Status::OK();
}

Result<PushSummary> PushCollection(const Collection& collection, const RemoteOptions& remote,
                                   const PushOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  FE_ASSIGN_OR_RETURN(std::unique_ptr<MilvusClient> client, MilvusClient::Open(remote));
  client->set_cancel(options.cancel);
  Pusher pusher(collection, *client, options, remote);
  return pusher.Run();
}

Result<PullSummary> PullCollection(Database& db, const std::string& name,
                                   const RemoteOptions& remote, const PullOptions& options) {
  FE_RETURN_IF_ERROR(options.Validate());
  if (name.empty()) return Status::InvalidArgument("no local collection name given");
  FE_ASSIGN_OR_RETURN(std::unique_ptr<MilvusClient> client, MilvusClient::Open(remote));
  client->set_cancel(options.cancel);
  Puller puller(db, name, *client, options, remote);
  return puller.Run();
}

}  // namespace flashembed::transfer
