// MilvusApi: transport conventions (envelope, decoding, database, routing)
// and the collections/* and indexes/* routes. entities/* are in
// milvus_entities.cc.
#include "server/milvus_api.h"

#include <array>
#include <utility>

#include "milvus/create_body.h"
#include "milvus/properties.h"

namespace flashembed::server {
namespace {

constexpr std::string_view kPrefix = "/v2/vectordb/";

// Go's strconv.ParseBool, for the Accept-Type-Allow-Int64 header.
std::optional<bool> ParseGoBool(std::string_view s) {
  if (s == "1" || s == "t" || s == "T" || s == "true" || s == "TRUE" || s == "True") return true;
  if (s == "0" || s == "f" || s == "F" || s == "false" || s == "FALSE" || s == "False") {
    return false;
  }
  return std::nullopt;
}

// Routes Milvus 2.5 has and flashembed does not implement: code 10, so SDKs
// get an answer instead of a transport error.
bool IsUnimplementedMilvusRoute(std::string_view route) {
  constexpr std::array<std::string_view, 10> kCategories = {
      "partitions/",       "databases/",       "aliases/",  "users/", "roles/",
      "privilege_groups/", "resource_groups/", "segments/", "jobs/",  "collections/fields/"};
  for (std::string_view c : kCategories) {
    if (route.substr(0, c.size()) == c) return true;
  }
  constexpr std::array<std::string_view, 9> kRoutes = {
      "collections/rename",     "collections/alter_properties",     "collections/drop_properties",
      "collections/compact",    "collections/get_compaction_state", "collections/flush",
      "entities/hybrid_search", "entities/advanced_search",         "collections/add_field"};
  for (std::string_view r : kRoutes) {
    if (route == r) return true;
  }
  return false;
}

Json IndexParamsList(const milvus::Index& index) {
  Json list = Json::array();
  list.push_back({{"key", "index_type"}, {"value", index.index_type}});
  list.push_back({{"key", "metric_type"}, {"value", index.metric_type}});
  for (auto it = index.params.begin(); it != index.params.end(); ++it) {
    list.push_back(
        {{"key", it.key()},
         {"value", it.value().is_string() ? it.value().get<std::string>() : Dump(it.value())}});
  }
  return list;
}

bool SameIndex(const milvus::Index& a, const milvus::Index& b) {
  return a.field_name == b.field_name && a.index_name == b.index_name &&
         a.index_type == b.index_type && a.metric_type == b.metric_type && a.params == b.params;
}

// The flashembed index parameters that matter for search and storage.
bool SameFlashembedIndex(const CollectionSchema& a, const CollectionSchema& b) {
  return a.metric == b.metric && a.index == b.index && a.hnsw.m == b.hnsw.m &&
         a.hnsw.ef_construction == b.hnsw.ef_construction && a.hnsw.ef_search == b.hnsw.ef_search &&
         a.ivf.nlist == b.ivf.nlist && a.ivf.nprobe == b.ivf.nprobe && a.ivf.pq_m == b.ivf.pq_m &&
         a.ivf.pq_nbits == b.ivf.pq_nbits;
}

std::mutex hook_mu;
std::function<void(const std::string&)>& RecreateHook() {
  static auto* hook = new std::function<void(const std::string&)>();
  return *hook;
}

}  // namespace

void MilvusApi::SetRecreateHookForTesting(std::function<void(const std::string&)> hook) {
  std::lock_guard<std::mutex> lock(hook_mu);
  RecreateHook() = std::move(hook);
}

HttpResponse MilvusApi::Error(int code, std::string_view message, int http_status) {
  HttpResponse response;
  response.status = http_status;
  response.api_code = code;
  response.body = Dump(Json{{"code", code}, {"message", message}});
  return response;
}

HttpResponse MilvusApi::Handle(const HttpRequest& request) {
  const std::string route = request.path.substr(kPrefix.size());
  static const std::map<std::string, Handler, std::less<>> kRoutes = {
      {"collections/create", &MilvusApi::CreateCollection},
      {"collections/list", &MilvusApi::ListCollections},
      {"collections/describe", &MilvusApi::DescribeCollection},
      {"collections/has", &MilvusApi::HasCollection},
      {"collections/drop", &MilvusApi::DropCollection},
      {"collections/get_stats", &MilvusApi::GetStats},
      {"collections/load", &MilvusApi::Load},
      {"collections/refresh_load", &MilvusApi::Load},
      {"collections/release", &MilvusApi::Release},
      {"collections/get_load_state", &MilvusApi::GetLoadState},
      {"entities/insert", &MilvusApi::Insert},
      {"entities/upsert", &MilvusApi::Upsert},
      {"entities/delete", &MilvusApi::Delete},
      {"entities/get", &MilvusApi::Get},
      {"entities/query", &MilvusApi::Query},
      {"entities/search", &MilvusApi::Search},
      {"indexes/create", &MilvusApi::CreateIndex},
      {"indexes/list", &MilvusApi::ListIndexes},
      {"indexes/describe", &MilvusApi::DescribeIndex},
      {"indexes/drop", &MilvusApi::DropIndex},
  };
  auto it = kRoutes.find(route);
  const bool known = it != kRoutes.end();
  if (request.method == "OPTIONS" && (known || IsUnimplementedMilvusRoute(route))) {
    HttpResponse response;
    response.status = 204;
    response.route = request.path;
    response.headers = {{"Access-Control-Allow-Methods", "POST, OPTIONS"},
                        {"Access-Control-Allow-Headers", "*"}};
    return response;
  }
  if (request.method != "POST" || (!known && !IsUnimplementedMilvusRoute(route))) {
    // What gin answers for a path (or method) it has no route for.
    HttpResponse response;
    response.status = 404;
    response.content_type = "text/plain";
    response.body = "404 page not found";
    return response;
  }
  HttpResponse response;
  const bool is_search = route == "entities/search";
  try {
    if (!known) throw ApiError(10, "service unimplemented: " + request.path);
    Context ctx;
    if (auto allow = ParseGoBool(request.Header("accept-type-allow-int64"))) {
      ctx.int64_as_string = !*allow;
    }
    if (request.body.empty()) {
      throw ApiError(1801,
                     "can only accept json format request, the request body should be nil, "
                     "however {} is valid");
    }
    std::string parse_error;
    std::optional<Json> body = ParseJsonBody(request.body, &parse_error);
    if (!body.has_value()) {
      throw ApiError(1801, "can only accept json format request, error: " + parse_error);
    }
    if (!body->is_object()) {
      throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                               std::string(body->type_name()) + " into Go value of type request");
    }
    ctx.body = std::move(*body);
    std::string db_name = OptString(ctx.body, "dbName");
    if (db_name.empty()) db_name = std::string(request.Header("db-name"));
    if (!db_name.empty() && db_name != "default") {
      throw ApiError(800, "database not found[database=" + db_name + "]");
    }
    Json envelope = (this->*(it->second))(ctx);
    response.api_code = 0;
    response.body = Dump(envelope);
  } catch (const ApiError& e) {
    response = Error(e.code(), e.message(), e.code() == 1800 ? 401 : e.code() == 1401 ? 403 : 200);
  } catch (const Json::exception& e) {
    // A value of an unexpected JSON type reached a typed read.
    response = Error(1801, std::string("can only accept json format request, error: ") + e.what());
  } catch (const std::exception& e) {
    response = Error(65535, e.what());
  }
  if (is_search && response.api_code != 0) {
    // The Node SDK v2.5 reads res.topks.length without a null check.
    Json envelope = Json::parse(response.body);
    envelope["topks"] = Json::array();
    response.body = Dump(envelope);
  }
  response.route = request.path;
  return response;
}

// --- shared helpers -----------------------------------------------------------

std::string MilvusApi::NameOf(const Context& ctx) {
  return ReqString(ctx.body, "collectionName", "CollectionNameReq", "CollectionName");
}

MilvusApi::Target MilvusApi::Open(const Context& ctx) {
  Target target;
  target.name = NameOf(ctx);
  Result<std::shared_ptr<Collection>> collection = db_->GetCollection(target.name);
  if (!collection.ok()) {
    if (collection.status().IsNotFound() || collection.status().IsInvalidArgument()) {
      throw ApiError(100, "collection not found[database=default][collection=" + target.name + "]");
    }
    throw ApiError(65535, collection.status().ToString());
  }
  target.collection = std::move(*collection);
  Result<CollectionInfo> info = target.collection->Describe();
  if (!info.ok()) {
    if (info.status().IsNotFound()) {
      throw ApiError(100, "collection not found[database=default][collection=" + target.name + "]");
    }
    throw ApiError(65535, info.status().ToString());
  }
  target.info = std::move(*info);
  Result<milvus::Schema> schema = milvus::SchemaOfCollection(target.info);
  if (!schema.ok()) throw ApiError(65535, schema.status().message());
  target.schema = std::move(*schema);
  LoadState state = StateOf(target.name, target.info, target.schema);
  target.loaded = state.loaded;
  target.index = std::move(state.index);
  target.index_derived = state.derived;
  return target;
}

MilvusApi::LoadState MilvusApi::StateOf(const std::string& name, const CollectionInfo& info,
                                        const milvus::Schema& schema) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = states_.find(name);
  if (it != states_.end() && it->second.created_unix_ms == info.created_unix_ms) return it->second;
  // First seen by this server (or created again elsewhere since): loaded,
  // with its declared index or the one it has.
  LoadState state;
  state.loaded = true;
  state.created_unix_ms = info.created_unix_ms;
  if (schema.index.has_value() && !schema.synthesized) {
    state.index = schema.index;
  } else {
    state.index = milvus::IndexFromCollection(info.schema, schema.vector().name);
    state.derived = true;
  }
  states_[name] = state;
  return state;
}

void MilvusApi::CheckEncoderAllowed(const std::string& encoder) const {
  const std::string refusal = models_->Refusal(encoder);
  if (!refusal.empty()) throw ApiError(1401, "privilege not permitted: " + refusal);
}

void MilvusApi::SetState(const std::string& name, const LoadState& state) {
  std::lock_guard<std::mutex> lock(mu_);
  states_[name] = state;
}

void MilvusApi::RequireLoaded(const Target& target) const {
  if (!target.loaded) {
    throw ApiError(101, "collection not loaded[collection=" + target.name + "]");
  }
}

// --- collections --------------------------------------------------------------

Json MilvusApi::CreateCollection(const Context& ctx) {
  milvus::Schema schema = OrThrow(milvus::ParseCreateRequest(ctx.body));
  const std::string name = OptString(ctx.body, "collectionName");
  Result<CollectionSchema> fe_schema = schema.ToCollectionSchema();
  if (!fe_schema.ok()) throw ApiError(1100, fe_schema.status().message());
  CheckEncoderAllowed(fe_schema->encoder);
  std::lock_guard<std::mutex> lock(catalog_mu_);
  Result<std::shared_ptr<Collection>> created = db_->CreateCollection(name, *fe_schema);
  if (!created.ok()) {
    if (created.status().IsAlreadyExists()) {
      // Idempotent when the schema is identical (Milvus's rule).
      Result<std::shared_ptr<Collection>> existing = db_->GetCollection(name);
      if (existing.ok()) {
        Result<CollectionInfo> info = (*existing)->Describe();
        if (info.ok() && info->schema.properties == fe_schema->properties)
          return {{"code", 0}, {"data", Json::object()}};
      }
      throw ApiError(65535,
                     "create duplicate collection with different parameters, collection: " + name);
    }
    if (created.status().IsInvalidArgument()) {
      throw ApiError(1100, "invalid parameter, " + created.status().message());
    }
    throw ApiError(65535, created.status().message());
  }
  // Quick setup and custom setup with an index load at once; custom setup
  // without one is created unloaded, as in Milvus.
  if (Result<CollectionInfo> info = (*created)->Describe(); info.ok()) {
    SetState(name, LoadState{schema.index.has_value(), schema.index, false, info->created_unix_ms});
  }
  return {{"code", 0}, {"data", Json::object()}};
}

Json MilvusApi::ListCollections(const Context&) {
  Result<std::vector<CollectionInfo>> infos = db_->ListCollections();
  if (!infos.ok()) throw ApiError(65535, infos.status().ToString());
  Json names = Json::array();
  for (const CollectionInfo& info : *infos) names.push_back(info.name);
  return {{"code", 0}, {"data", names}};
}

Json MilvusApi::DescribeCollection(const Context& ctx) {
  Target t = Open(ctx);
  Json fields = Json::array();
  int64_t id = 100;
  for (const milvus::Field& f : t.schema.fields) {
    Json field{{"name", f.name},
               {"id", id++},
               {"type", f.type},
               {"primaryKey", f.is_primary},
               {"partitionKey", f.partition_key},
               {"clusteringKey", f.clustering_key},
               {"autoId", f.is_primary && t.schema.auto_id},
               {"nullable", f.nullable},
               {"description", f.description}};
    if (!f.params.empty()) {
      Json params = Json::array();
      for (auto it = f.params.begin(); it != f.params.end(); ++it) {
        params.push_back({{"key", it.key()}, {"value", it.value()}});
      }
      field["params"] = params;
    }
    if (!f.element_type.empty()) field["elementType"] = f.element_type;
    if (!f.default_value.is_null()) field["defaultValue"] = f.default_value;
    if (f.function_output) field["isFunctionOutput"] = true;
    fields.push_back(std::move(field));
  }
  Json indexes = Json::array();
  if (t.index.has_value()) {
    indexes.push_back({{"fieldName", t.index->field_name},
                       {"indexName", t.index->index_name},
                       {"metricType", t.index->metric_type}});
  }
  Json data{{"collectionName", t.name},
            {"collectionID", t.info.created_unix_ms},
            {"description", t.schema.description},
            {"autoId", t.schema.auto_id},
            {"fields", fields},
            {"functions", t.schema.functions},
            {"aliases", Json::array()},
            {"indexes", indexes},
            {"load", t.loaded ? "LoadStateLoaded" : "LoadStateNotLoad"},
            {"shardsNum", t.schema.shards_num},
            {"partitionsNum", 1},
            {"consistencyLevel", t.schema.consistency_level},
            {"enableDynamicField", t.schema.enable_dynamic},
            {"properties", Json::array()}};
  return {{"code", 0}, {"message", ""}, {"data", data}};
}

Json MilvusApi::HasCollection(const Context& ctx) {
  const std::string name =
      ReqString(ctx.body, "collectionName", "CollectionNameReq", "CollectionName");
  Result<std::shared_ptr<Collection>> collection = db_->GetCollection(name);
  if (!collection.ok() && !collection.status().IsNotFound() &&
      !collection.status().IsInvalidArgument()) {
    throw ApiError(65535, collection.status().ToString());
  }
  return {{"code", 0}, {"data", {{"has", collection.ok()}}}};
}

Json MilvusApi::DropCollection(const Context& ctx) {
  const std::string name =
      ReqString(ctx.body, "collectionName", "CollectionNameReq", "CollectionName");
  std::lock_guard<std::mutex> lock(catalog_mu_);
  const Status status = db_->DropCollection(name);
  // Idempotent: dropping a missing collection succeeds.
  if (!status.ok() && !status.IsNotFound() && !status.IsInvalidArgument()) {
    throw ApiError(65535, status.ToString());
  }
  std::lock_guard<std::mutex> state_lock(mu_);
  states_.erase(name);
  return {{"code", 0}, {"data", Json::object()}};
}

Json MilvusApi::GetStats(const Context& ctx) {
  Target t = Open(ctx);
  Result<uint64_t> count = t.collection->Count();
  if (!count.ok()) throw ApiError(65535, count.status().ToString());
  return {{"code", 0}, {"data", {{"rowCount", *count}}}};
}

Json MilvusApi::Load(const Context& ctx) {
  Target t = Open(ctx);
  if (!t.index.has_value()) {
    throw ApiError(65535, "there is no vector index on field: [" + t.schema.vector().name +
                              "], please create index firstly");
  }
  SetState(t.name, LoadState{true, t.index, t.index_derived, t.info.created_unix_ms});
  return {{"code", 0}, {"data", Json::object()}};
}

Json MilvusApi::Release(const Context& ctx) {
  Target t = Open(ctx);
  SetState(t.name, LoadState{false, t.index, t.index_derived, t.info.created_unix_ms});
  return {{"code", 0}, {"data", Json::object()}};
}

Json MilvusApi::GetLoadState(const Context& ctx) {
  Target t = Open(ctx);
  if (!t.loaded) return {{"code", 0}, {"data", {{"loadState", "LoadStateNotLoad"}}}};
  return {{"code", 0},
          {"message", ""},
          {"data", {{"loadProgress", 100}, {"loadState", "LoadStateLoaded"}}}};
}

// --- indexes ------------------------------------------------------------------

void MilvusApi::InstallIndex(Target& t, const milvus::Index& index) {
  const CollectionSchema wanted = OrThrow(milvus::ApplyIndex(index, t.info.schema));
  const CollectionSchema& have = t.info.schema;
  const bool same = SameFlashembedIndex(wanted, have);
  // The index kind, metric and parameters are fixed when a flashembed
  // collection is created. An empty collection can simply be re-created
  // (also when its index already matches, so the declaration is stored and
  // survives a restart); a non-empty one would need every vector
  // re-indexed, which this server does not do behind the client's back.
  // The caller holds the collection's exclusive lock: no write can land
  // between this count and the re-creation (and be lost with it).
  Result<uint64_t> count = t.collection->Count();
  if (!count.ok()) throw ApiError(65535, count.status().ToString());
  if (same && (*count > 0 || t.schema.synthesized)) return;
  if (*count > 0 || t.schema.synthesized) {
    throw ApiError(65535, "flashembed cannot change the index of a collection that holds data (" +
                              std::to_string(*count) + " rows, index " + IndexKindName(have.index) +
                              "/" + MetricName(have.metric) + ", asked " + index.index_type + "/" +
                              index.metric_type +
                              "); create the index before inserting, or in collections/create");
  }
  milvus::Schema schema = t.schema;
  schema.index = index;
  schema.metric_type = index.metric_type;
  Result<CollectionSchema> fe_schema = schema.ToCollectionSchema();
  if (!fe_schema.ok()) throw ApiError(1100, fe_schema.status().message());
  {
    std::lock_guard<std::mutex> lock(hook_mu);
    if (RecreateHook()) RecreateHook()(t.name);
  }
  std::lock_guard<std::mutex> lock(catalog_mu_);
  const Status dropped = db_->DropCollection(t.name);
  if (!dropped.ok()) throw ApiError(65535, dropped.ToString());
  Result<std::shared_ptr<Collection>> created = db_->CreateCollection(t.name, *fe_schema);
  if (!created.ok()) throw ApiError(65535, created.status().ToString());
  Result<CollectionInfo> info = (*created)->Describe();
  if (!info.ok()) throw ApiError(65535, info.status().ToString());
  t.collection = std::move(*created);
  t.info = std::move(*info);
  t.schema = std::move(schema);
}

Json MilvusApi::CreateIndex(const Context& ctx) {
  // Exclusive: writes through either API wait until the index is in place
  // (see InstallIndex), and the collection is opened under the lock.
  CollectionLocks::Guard guard = locks_->Exclusive(NameOf(ctx));
  Target t = Open(ctx);
  const Json* params = FindKey(ctx.body, "indexParams");
  if (params == nullptr || !params->is_array() || params->empty()) {
    throw ApiError(1802,
                   "missing required parameters, error: Key: 'IndexParamReq.IndexParams' "
                   "Error:Field validation for 'IndexParams' failed on the 'required' tag");
  }
  // Every entry is parsed and checked before anything changes, so a request
  // with one bad entry fails with nothing installed. An index derived from
  // the stored collection (see the header) may be replaced by a declared
  // one; InstallIndex refuses a different one on a collection with data.
  const std::optional<milvus::Index> declared = t.index_derived ? std::nullopt : t.index;
  std::optional<milvus::Index> wanted;
  for (const Json& entry : *params) {
    milvus::Index index = OrThrow(milvus::ParseIndexParam(entry, t.schema));
    if (!t.schema.Find(index.field_name)->is_vector()) continue;  // scalar: filters need none
    if ((wanted.has_value() && !SameIndex(*wanted, index)) ||
        (declared.has_value() && !SameIndex(*declared, index))) {
      throw ApiError(65535, "CreateIndex failed: at most one distinct index is allowed per field");
    }
    wanted = std::move(index);
  }
  if (wanted.has_value() && !declared.has_value()) {
    InstallIndex(t, *wanted);
    t.index = std::move(wanted);
    SetState(t.name, LoadState{t.loaded, t.index, false, t.info.created_unix_ms});
  }
  return {{"code", 0}, {"data", Json::object()}};
}

Json MilvusApi::ListIndexes(const Context& ctx) {
  Target t = Open(ctx);
  Json names = Json::array();
  if (t.index.has_value()) names.push_back(t.index->index_name);
  return {{"code", 0}, {"data", names}};
}

Json MilvusApi::DescribeIndex(const Context& ctx) {
  Target t = Open(ctx);
  const std::string name = ReqString(ctx.body, "indexName", "IndexReq", "IndexName");
  if (!t.index.has_value() || t.index->index_name != name) {
    throw ApiError(700, "index not found[indexName=" + name + "]");
  }
  Result<uint64_t> count = t.collection->Count();
  if (!count.ok()) throw ApiError(65535, count.status().ToString());
  Json entry{{"indexName", t.index->index_name},
             {"fieldName", t.index->field_name},
             {"indexType", t.index->index_type},
             {"metricType", t.index->metric_type},
             {"indexState", "Finished"},
             {"totalRows", *count},
             {"indexedRows", *count},
             {"pendingRows", 0},
             {"failReason", ""},
             {"mmap.enabled", ""},
             {"indexoffsetcache.enabled", ""},
             {"minIndexVersion", 0},
             {"maxIndexVersion", 0},
             {"indexParams", IndexParamsList(*t.index)}};
  return {{"code", 0}, {"data", Json::array({entry})}};
}

Json MilvusApi::DropIndex(const Context& ctx) {
  Target t = Open(ctx);
  const std::string name = ReqString(ctx.body, "indexName", "IndexReq", "IndexName");
  if (!t.index.has_value() || t.index->index_name != name) {
    throw ApiError(700, "index not found[indexName=" + name + "]");
  }
  if (t.loaded) {
    throw ApiError(65535, "index cannot be dropped, collection is loaded, please release it first");
  }
  // The stored index stays (flashembed always indexes); the collection just
  // reports none until an index is created again.
  SetState(t.name, LoadState{false, std::nullopt, false, t.info.created_unix_ms});
  return {{"code", 0}, {"data", Json::object()}};
}

}  // namespace flashembed::server
