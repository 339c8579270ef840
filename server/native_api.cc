#include "server/native_api.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <optional>
#include <utility>

#include <fmt/format.h>

#include "base/base64.h"

namespace flashembed::server {

namespace native_detail {

// Thrown for a request the native API refuses: ApiError's code is the HTTP
// status.
[[noreturn]] void Fail(const Status& status) {
  throw ApiError(HttpStatusFor(status.code()), status.message());
}
[[noreturn]] void BadRequest(const std::string& message) { throw ApiError(400, message); }

// Native bodies are strict: a key this route does not know is an error, so
// a typo ("filer") is reported instead of silently ignored.
void CheckKeys(const Json& body, std::initializer_list<std::string_view> allowed,
               std::string_view what) {
  for (auto it = body.begin(); it != body.end(); ++it) {
    bool ok = false;
    for (std::string_view key : allowed) ok = ok || it.key() == key;
    if (!ok) {
      std::string list;
      for (std::string_view key : allowed) list += (list.empty() ? "" : ", ") + std::string(key);
      BadRequest("unknown key \"" + it.key() + "\" in " + std::string(what) + "; expected " + list);
    }
  }
}

const Json* Get(const Json& body, std::string_view key, Json::value_t type,
                std::string_view type_name) {
  auto it = body.find(std::string(key));
  if (it == body.end() || it->is_null()) return nullptr;
  const bool ok = it->type() == type ||
                  (type == Json::value_t::number_integer && it->is_number_unsigned()) ||
                  (type == Json::value_t::number_float && it->is_number());
  if (!ok) {
    BadRequest("\"" + std::string(key) + "\" must be " + std::string(type_name) + ", got " +
               it->type_name());
  }
  return &*it;
}
std::string GetString(const Json& body, std::string_view key, std::string fallback) {
  const Json* v = Get(body, key, Json::value_t::string, "a string");
  return v == nullptr ? fallback : v->get<std::string>();
}
std::optional<ImageInput> ImageFromJson(const Json& body, const std::string& where) {
  const std::string prefix = where.empty() ? "" : where + ".";
  const Json* image = Get(body, "image", Json::value_t::string, "a base64 string");
  const std::string source = GetString(body, "image_source");
  if (image == nullptr) {
    if (!source.empty()) BadRequest("\"" + prefix + "image_source\" needs an \"image\"");
    return std::nullopt;
  }
  Result<std::string> bytes = Base64Decode(image->get<std::string>());
  if (!bytes.ok()) BadRequest("\"" + prefix + "image\": " + bytes.status().message());
  if (bytes->empty()) BadRequest("\"" + prefix + "image\" is empty");
  return ImageInput{.bytes = std::move(*bytes), .source = source, .apply_exif_orientation = false};
}

Json QueryStringToJson(std::string_view query) {
  Json out = Json::object();
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    const size_t eq = pair.find('=');
    // Form encoding's '+' is a space; "%2B" is a '+' (so '+' goes first).
    auto decode = [](std::string_view part) {
      std::string spaced(part);
      for (char& c : spaced) c = c == '+' ? ' ' : c;
      return PercentDecode(spaced);
    };
    std::string key = decode(pair.substr(0, eq));
    std::string value = eq == std::string_view::npos ? "" : decode(pair.substr(eq + 1));
    // Numbers, booleans, objects and arrays as JSON; anything else a string.
    Json parsed = Json::parse(value, nullptr, /*allow_exceptions=*/false);
    if (parsed.is_discarded() || parsed.is_string() || parsed.is_null()) parsed = value;
    out[key] = std::move(parsed);
  }
  return out;
}

bool GetBool(const Json& body, std::string_view key, bool fallback) {
  const Json* v = Get(body, key, Json::value_t::boolean, "a boolean");
  return v == nullptr ? fallback : v->get<bool>();
}
int64_t GetInt(const Json& body, std::string_view key, int64_t fallback, int64_t min, int64_t max) {
  const Json* v = Get(body, key, Json::value_t::number_float, "an integer");
  if (v == nullptr) return fallback;
  std::optional<int64_t> n = JsonToInt64(*v);
  if (!n.has_value() || *n < min || *n > max) {
    BadRequest(
        fmt::format("\"{}\" must be an integer in [{}, {}], got {}", key, min, max, Dump(*v)));
  }
  return *n;
}
std::optional<float> GetFloat(const Json& body, std::string_view key) {
  const Json* v = Get(body, key, Json::value_t::number_float, "a number");
  if (v == nullptr) return std::nullopt;
  const double d = v->get<double>();
  if (!(std::fabs(d) <= 3.4e38)) {
    BadRequest("\"" + std::string(key) + "\" is out of float range: " + Dump(*v));
  }
  return static_cast<float>(d);
}

SearchMode GetMode(const Json& body) {
  const std::string mode = GetString(body, "mode", "auto");
  if (mode == "auto") return SearchMode::kAuto;
  if (mode == "exact") return SearchMode::kExact;
  if (mode == "approximate") return SearchMode::kApproximate;
  BadRequest("\"mode\" must be auto, exact or approximate, got \"" + mode + "\"");
}

void GetRanking(const Json& body, bool allow_auto, SearchOptions* options) {
  const std::string ranking = GetString(body, "ranking");
  if (ranking.empty()) {
    // options->ranking stays
  } else if (ranking == "vector") {
    options->ranking = Ranking::kVector;
  } else if (ranking == "text") {
    options->ranking = Ranking::kText;
  } else if (ranking == "hybrid") {
    options->ranking = Ranking::kHybrid;
  } else if (ranking == "auto" && allow_auto) {
    options->ranking = Ranking::kAuto;
  } else {
    BadRequest(fmt::format("\"ranking\" must be {}, got \"{}\"",
                           allow_auto ? "auto, vector, text or hybrid" : "vector, text or hybrid",
                           ranking));
  }
  options->keywords = GetString(body, "keywords");
  const std::string fusion = GetString(body, "fusion");
  if (fusion.empty()) {
    // options->fusion stays
  } else if (fusion == "rrf") {
    options->fusion = Fusion::kRrf;
  } else if (fusion == "weighted") {
    options->fusion = Fusion::kWeighted;
  } else if (fusion == "normalized") {
    options->fusion = Fusion::kNormalized;
  } else {
    BadRequest("\"fusion\" must be rrf, weighted or normalized, got \"" + fusion + "\"");
  }
  options->rrf_k = static_cast<int>(GetInt(body, "rrf_k", options->rrf_k, 1, 16384));
  if (std::optional<float> w = GetFloat(body, "text_weight")) options->text_weight = *w;
}

void GetReranker(const Json& body, const ModelPolicy& models, SearchOptions* options) {
  options->reranker = GetString(body, "reranker");
  options->rerank_depth = static_cast<size_t>(GetInt(body, "rerank_depth", 0, 0, 1000));
  if (options->reranker.empty() || options->reranker == "none") return;
  if (!options->reranker.starts_with("model:")) {
    BadRequest("\"reranker\" must be \"model:DIR\" or \"none\", got \"" + options->reranker + "\"");
  }
  // The same folders as collections' encoders: only those serve allows.
  if (const std::string refusal = models.Refusal(options->reranker); !refusal.empty()) {
    throw ApiError(403, refusal);
  }
}

std::vector<float> VectorFromJson(const Json& value, std::string_view where) {
  if (!value.is_array()) BadRequest(std::string(where) + " must be an array of numbers");
  std::vector<float> out;
  out.reserve(value.size());
  for (const Json& x : value) {
    if (!x.is_number() || !std::isfinite(x.get<double>()) || std::fabs(x.get<double>()) > 3.4e38) {
      BadRequest(std::string(where) + " holds " + Dump(x) + ", not a finite float");
    }
    out.push_back(static_cast<float>(x.get<double>()));
  }
  return out;
}

Json VectorToJson(const std::vector<float>& v) {
  Json out = Json::array();
  for (float x : v) out.push_back(FloatToJson(x));
  return out;
}

Json MetadataToJson(const std::string& metadata) {
  Json value = Json::parse(metadata, nullptr, false);
  return value.is_discarded() ? Json(metadata) : value;
}

std::string PercentDecode(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%' && i + 2 < s.size()) {
      const std::string hex(s.substr(i + 1, 2));
      char* end = nullptr;
      const long v = std::strtol(hex.c_str(), &end, 16);
      if (end == hex.c_str() + 2) {
        out += static_cast<char>(v);
        i += 2;
        continue;
      }
    }
    out += s[i];
  }
  return out;
}

}  // namespace native_detail

using namespace native_detail;  // NOLINT(build/namespaces): the helpers above

namespace {

constexpr std::string_view kPrefix = "/api/v1/";

Id IdFromJson(const Json& value, std::string_view where) {
  if (auto n = JsonToInt64(value); n.has_value() && value.is_number_integer()) return Id(*n);
  if (value.is_string() && !value.get_ref<const std::string&>().empty()) {
    return Id(value.get<std::string>());
  }
  BadRequest(std::string(where) + ": an id is an integer or a non-empty string, got " +
             Dump(value));
}

Json IdToJson(const Id& id) { return id.is_int() ? Json(id.as_int()) : Json(id.as_string()); }

Json InfoToJson(const CollectionInfo& info) {
  return Json{{"name", info.name},
              {"count", info.count},
              {"documents", info.documents},
              {"dim", info.schema.dim},
              {"metric", MetricName(info.schema.metric)},
              {"index", IndexKindName(info.schema.index)},
              {"encoder", info.schema.encoder.empty() ? "none" : info.schema.encoder},
              {"encoder_spec", info.encoder_spec},
              {"hnsw",
               {{"m", info.schema.hnsw.m},
                {"ef_construction", info.schema.hnsw.ef_construction},
                {"ef_search", info.schema.hnsw.ef_search}}},
              {"ivf",
               {{"nlist", info.schema.ivf.nlist},
                {"nprobe", info.schema.ivf.nprobe},
                {"train_at", info.schema.ivf.train_at},
                {"pq_m", info.schema.ivf.pq_m},
                {"pq_nbits", info.schema.ivf.pq_nbits}}},
              {"query_prefix", info.schema.query_prefix},
              {"document_prefix", info.schema.document_prefix},
              {"reranker", info.schema.reranker},
              {"text_index", info.schema.text_index},
              {"text_cache_bytes", info.text_cache_bytes},
              {"embeds_images", info.embeds_images},
              {"indexed_fields", info.schema.indexed_fields},
              {"milvus", !info.schema.properties.empty()},
              {"created_unix_ms", info.created_unix_ms},
              {"disk_bytes", info.disk_bytes}};
}

const char* ErrorName(int http_status) {
  switch (http_status) {
    case 400: return "invalid_argument";
    case 401: return "unauthenticated";
    case 403: return "forbidden";
    case 404: return "not_found";
    case 405: return "method_not_allowed";
    case 408: return "request_timeout";
    case 409: return "already_exists";
    case 413: return "body_too_large";
    case 429: return "resource_exhausted";
    case 431: return "header_too_large";
    case 501: return "not_supported";
    case 503: return "unavailable";
    default: return "internal";
  }
}

}  // namespace

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kNotSupported: return 501;
    case StatusCode::kCancelled: return 503;
    case StatusCode::kCorruption:
    case StatusCode::kIOError:
    case StatusCode::kInternal: return 500;
  }
  return 500;
}

HttpResponse NativeApi::Error(int http_status, std::string_view message) {
  HttpResponse response;
  response.status = http_status;
  response.body = Dump(Json{{"error", {{"code", ErrorName(http_status)}, {"message", message}}}});
  return response;
}

HttpResponse NativeApi::Handle(const HttpRequest& request) {
  // Split "/api/v1/collections/NAME/ACTION[/ID]" into segments.
  std::vector<std::string> parts;
  std::string_view rest =
      std::string_view(request.path).substr(std::min(request.path.size(), kPrefix.size()));
  while (!rest.empty()) {
    const size_t slash = rest.find('/');
    parts.push_back(PercentDecode(rest.substr(0, slash)));
    if (slash == std::string_view::npos) break;
    rest = rest.substr(slash + 1);
  }
  HttpResponse response;
  const std::string& m = request.method;
  try {
    Json body = Json::object();
    // POST .../search with an image/* body: the image is the query, the
    // other search parameters come from the query string.
    std::optional<ImageInput> raw_image;
    std::string content_type(request.Header("content-type"));
    for (char& c : content_type) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (m == "POST" && content_type.starts_with("image/")) {
      if (!(parts.size() == 3 && parts[0] == "collections" && parts[2] == "search")) {
        BadRequest("an image/* body is accepted by POST /api/v1/collections/{name}/search only");
      }
      if (request.body.empty()) BadRequest("the image/* body is empty");
      raw_image = ImageInput{.bytes = request.body, .source = "", .apply_exif_orientation = false};
      body = QueryStringToJson(request.query);
    } else if (m == "POST") {
      std::string error;
      std::optional<Json> parsed =
          ParseJsonBody(request.body.empty() ? "{}" : request.body, &error);
      if (!parsed.has_value()) BadRequest("request body is not valid JSON: " + error);
      if (!parsed->is_object()) BadRequest("request body must be a JSON object");
      body = std::move(*parsed);
    }
    Json out;
    int status = 200;
    const size_t n = parts.size();
    auto route = [&](const char* r) { response.route = std::string("/api/v1/") + r; };
    if (n == 1 && parts[0] == "compact" && m == "POST") {
      route("compact");
      out = Compact();
    } else if (n == 1 && parts[0] == "backup" && m == "POST") {
      route("backup");
      out = Backup(body);
      status = 201;
    } else if (n == 1 && parts[0] == "stats" && m == "GET") {
      route("stats");
      out = Stats();
    } else if (n == 1 && parts[0] == "collections" && m == "GET") {
      route("collections");
      out = ListCollections();
    } else if (n == 1 && parts[0] == "collections" && m == "POST") {
      route("collections");
      out = CreateCollection(body);
      status = 201;
    } else if (n == 2 && parts[0] == "collections" && m == "GET") {
      route("collections/{name}");
      out = DescribeCollection(parts[1]);
    } else if (n == 2 && parts[0] == "collections" && m == "DELETE") {
      route("collections/{name}");
      out = DropCollection(parts[1]);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "reembed" && m == "POST") {
      route("collections/{name}/reembed");
      out = Reembed(parts[1], body);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "reembed" && m == "DELETE") {
      route("collections/{name}/reembed");
      out = AbortReembed(parts[1]);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "stats" && m == "GET") {
      route("collections/{name}/stats");
      out = DescribeCollection(parts[1]);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "documents" && m == "POST") {
      route("collections/{name}/documents");
      out = AddDocuments(parts[1], body);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "search" && m == "POST") {
      route("collections/{name}/search");
      out = Search(parts[1], body, std::move(raw_image));
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "get" && m == "POST") {
      route("collections/{name}/get");
      out = GetDocuments(parts[1], body);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "delete" && m == "POST") {
      route("collections/{name}/delete");
      out = DeleteDocuments(parts[1], body);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "find" && m == "POST") {
      route("collections/{name}/find");
      out = Find(parts[1], body);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "count" && m == "POST") {
      route("collections/{name}/count");
      out = CountWhere(parts[1], body);
    } else if (n == 4 && parts[0] == "collections" && parts[2] == "documents" && m == "GET") {
      route("collections/{name}/documents/{id}");
      out = GetDocument(parts[1], parts[3], request.query);
    } else if (n == 3 && parts[0] == "collections" && parts[2] == "long_documents" && m == "POST") {
      route("collections/{name}/long_documents");
      out = PutLongDocuments(parts[1], body);
    } else if (n == 4 && parts[0] == "collections" && parts[2] == "long_documents" &&
               parts[3] == "search" && m == "POST") {
      route("collections/{name}/long_documents/search");
      out = SearchLongDocuments(parts[1], body);
    } else if (n == 4 && parts[0] == "collections" && parts[2] == "long_documents" &&
               parts[3] == "delete" && m == "POST") {
      route("collections/{name}/long_documents/delete");
      out = DeleteLongDocuments(parts[1], body);
    } else if (n == 4 && parts[0] == "collections" && parts[2] == "long_documents" && m == "GET") {
      route("collections/{name}/long_documents/{id}");
      out = GetLongDocument(parts[1], parts[3], request.query);
    } else if (n == 4 && parts[0] == "collections" && parts[2] == "long_documents" &&
               m == "DELETE") {
      route("collections/{name}/long_documents/{id}");
      out = DeleteLongDocuments(parts[1], std::vector<std::string>{parts[3]});
    } else {
      response = Error(404, "no route " + m + " " + request.path + " (see docs/API.md)");
      return response;
    }
    response.status = status;
    response.body = Dump(out);
  } catch (const ApiError& e) {
    std::string route = response.route;
    response = Error(e.code(), e.message());
    response.route = route;
  } catch (const std::exception& e) {
    std::string route = response.route;
    response = Error(500, std::string("internal error: ") + e.what());
    response.route = route;
  }
  return response;
}

std::shared_ptr<Collection> NativeApi::Open(const std::string& name) {
  Result<std::shared_ptr<Collection>> collection = db_->GetCollection(name);
  if (!collection.ok()) Fail(collection.status());
  return std::move(*collection);
}

Json NativeApi::CreateCollection(const Json& body) {
  CheckKeys(body,
            {"name", "dim", "metric", "encoder", "index", "hnsw", "ivf", "query_prefix",
             "document_prefix", "text_index", "indexed_fields", "reranker"},
            "a collection");
  const std::string name = GetString(body, "name");
  if (name.empty()) BadRequest("\"name\" is required");
  CollectionSchema schema;
  schema.dim = static_cast<int>(GetInt(body, "dim", 0, 0, 65536));
  const std::string metric = GetString(body, "metric", "cosine");
  std::optional<Metric> parsed_metric = ParseMetric(metric);
  if (!parsed_metric) BadRequest("\"metric\" must be cosine, ip or l2, got \"" + metric + "\"");
  schema.metric = *parsed_metric;
  const std::string index = GetString(body, "index", "hnsw");
  std::optional<IndexKind> kind = ParseIndexKind(index);
  if (!kind)
    BadRequest("\"index\" must be hnsw, flat, ivf_flat, ivf_sq8 or ivf_pq, got \"" + index + "\"");
  schema.index = *kind;
  const std::string encoder = GetString(body, "encoder", "hash");
  schema.encoder = encoder == "none" ? "" : encoder;
  if (const Json* h = Get(body, "hnsw", Json::value_t::object, "an object")) {
    CheckKeys(*h, {"m", "ef_construction", "ef_search"}, "hnsw");
    schema.hnsw.m = static_cast<int>(GetInt(*h, "m", schema.hnsw.m, 2, 100));
    schema.hnsw.ef_construction =
        static_cast<int>(GetInt(*h, "ef_construction", schema.hnsw.ef_construction, 1, 10000));
    schema.hnsw.ef_search =
        static_cast<int>(GetInt(*h, "ef_search", schema.hnsw.ef_search, 1, 10000));
  }
  if (const Json* v = Get(body, "ivf", Json::value_t::object, "an object")) {
    CheckKeys(*v, {"nlist", "nprobe", "train_at", "pq_m", "pq_nbits"}, "ivf");
    schema.ivf.nlist = static_cast<int>(GetInt(*v, "nlist", schema.ivf.nlist, 0, 65536));
    schema.ivf.nprobe = static_cast<int>(GetInt(*v, "nprobe", schema.ivf.nprobe, 1, 65536));
    schema.ivf.train_at =
        static_cast<int>(GetInt(*v, "train_at", schema.ivf.train_at, 0, INT32_MAX));
    schema.ivf.pq_m = static_cast<int>(GetInt(*v, "pq_m", schema.ivf.pq_m, 0, 65536));
    schema.ivf.pq_nbits = static_cast<int>(GetInt(*v, "pq_nbits", schema.ivf.pq_nbits, 1, 16));
  }
  schema.query_prefix = GetString(body, "query_prefix");
  schema.document_prefix = GetString(body, "document_prefix");
  schema.reranker = GetString(body, "reranker");
  if (!schema.reranker.empty()) {
    if (!schema.reranker.starts_with("model:")) {
      BadRequest("\"reranker\" must be \"model:DIR\", got \"" + schema.reranker + "\"");
    }
    if (const std::string refusal = models_->Refusal(schema.reranker); !refusal.empty()) {
      throw ApiError(403, refusal);
    }
  }
  schema.text_index = GetBool(body, "text_index", false);
  if (const Json* fields = Get(body, "indexed_fields", Json::value_t::array, "an array")) {
    for (size_t i = 0; i < fields->size(); ++i) {
      const Json& f = (*fields)[i];
      if (!f.is_string()) {
        BadRequest(fmt::format("indexed_fields[{}] must be a string, got {}", i, Dump(f)));
      }
      schema.indexed_fields.push_back(f.get<std::string>());
    }
  }
  if (Status s = schema.Validate(); !s.ok()) Fail(s);
  if (const std::string refusal = models_->Refusal(schema.encoder); !refusal.empty()) {
    throw ApiError(403, refusal);
  }
  CollectionLocks::Guard guard = locks_->Shared(name);
  Result<std::shared_ptr<Collection>> created = db_->CreateCollection(name, schema);
  if (!created.ok()) Fail(created.status());
  Result<CollectionInfo> info = (*created)->Describe();
  if (!info.ok()) Fail(info.status());
  return InfoToJson(*info);
}

Json NativeApi::DescribeCollection(const std::string& name) {
  Result<CollectionInfo> info = Open(name)->Describe();
  if (!info.ok()) Fail(info.status());
  return InfoToJson(*info);
}

Json NativeApi::ListCollections() {
  Result<std::vector<CollectionInfo>> infos = db_->ListCollections();
  if (!infos.ok()) Fail(infos.status());
  Json list = Json::array();
  for (const CollectionInfo& info : *infos) list.push_back(InfoToJson(info));
  return {{"collections", list}};
}

Json NativeApi::DropCollection(const std::string& name) {
  CollectionLocks::Guard guard = locks_->Shared(name);
  if (Status s = db_->DropCollection(name); !s.ok()) Fail(s);
  return {{"dropped", name}};
}

Json NativeApi::Compact() {
  const auto start = std::chrono::steady_clock::now();
  Result<uint64_t> before = db_->DiskBytes();
  if (!before.ok()) Fail(before.status());
  if (Status s = db_->Compact(); !s.ok()) Fail(s);
  Result<uint64_t> after = db_->DiskBytes();
  if (!after.ok()) Fail(after.status());
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {{"bytes_before", *before}, {"bytes_after", *after}, {"seconds", seconds}};
}

Json NativeApi::Backup(const Json& body) {
  CheckKeys(body, {"name"}, "a backup request");
  if (backup_dir_.empty()) {
    throw ApiError(403,
                   "backups over HTTP are off: start the server with `flashembed serve "
                   "--backup-dir DIR` to let clients write backups into DIR");
  }
  const std::string name = GetString(body, "name");
  const bool valid =
      !name.empty() && name.size() <= 255 && name != "." && name != ".." &&
      std::all_of(name.begin(), name.end(), [](char c) {
        return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
      });
  if (!valid) {
    BadRequest("\"name\" must be 1..255 characters of [A-Za-z0-9_.-] (not . or ..), got " +
               Dump(body.value("name", Json())));
  }
  const std::string path = (std::filesystem::path(backup_dir_) / name).string();
  const auto start = std::chrono::steady_clock::now();
  if (Status s = db_->Backup(path); !s.ok()) Fail(s);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return {{"backup", name}, {"path", path}, {"seconds", seconds}};
}

Json NativeApi::Stats() {
  Result<std::vector<CollectionInfo>> infos = db_->ListCollections();
  if (!infos.ok()) Fail(infos.status());
  Result<uint64_t> folder = db_->DiskBytes();
  if (!folder.ok()) Fail(folder.status());
  Json list = Json::array();
  for (const CollectionInfo& info : *infos) {
    list.push_back({{"name", info.name},
                    {"count", info.count},
                    {"documents", info.documents},
                    {"disk_bytes", info.disk_bytes}});
  }
  return {{"disk_bytes", *folder}, {"collections", std::move(list)}};
}

Json NativeApi::Reembed(const std::string& name, const Json& body) {
  CheckKeys(body,
            {"encoder", "dim", "query_prefix", "document_prefix", "chunk_tokens", "overlap_tokens"},
            "a re-embedding");
  ReembedOptions options;
  options.encoder = GetString(body, "encoder");
  if (options.encoder.empty() || options.encoder == "none") {
    BadRequest("\"encoder\" is required: \"hash\" or \"model:DIR\"");
  }
  if (const std::string refusal = models_->Refusal(options.encoder); !refusal.empty()) {
    throw ApiError(403, refusal);
  }
  options.dim = static_cast<int>(GetInt(body, "dim", 0, 0, 65536));
  if (body.contains("query_prefix")) options.query_prefix = GetString(body, "query_prefix");
  if (body.contains("document_prefix")) {
    options.document_prefix = GetString(body, "document_prefix");
  }
  options.chunking.chunk_tokens = static_cast<size_t>(GetInt(body, "chunk_tokens", 0, 0, 1 << 20));
  if (body.contains("overlap_tokens")) {
    options.chunking.overlap_tokens =
        static_cast<size_t>(GetInt(body, "overlap_tokens", 0, 0, 1 << 20));
  }
  // Shared: the collection's other routes go on while it runs.
  CollectionLocks::Guard guard = locks_->Shared(name);
  Result<ReembedSummary> summary = db_->Reembed(name, options);
  if (!summary.ok()) Fail(summary.status());
  return {{"collection", name},
          {"encoder", summary->encoder_spec},
          {"rounds", summary->rounds},
          {"records", summary->records},
          {"documents", summary->documents},
          {"removed", summary->removed},
          {"resumed", summary->resumed},
          {"seconds", summary->seconds}};
}

Json NativeApi::AbortReembed(const std::string& name) {
  CollectionLocks::Guard guard = locks_->Shared(name);
  if (Status s = db_->AbortReembed(name); !s.ok()) Fail(s);
  return {{"collection", name}, {"aborted", true}};
}

Json NativeApi::AddDocuments(const std::string& name, const Json& body) {
  CheckKeys(body, {"documents", "upsert"}, "an add request");
  const Json* docs_json = Get(body, "documents", Json::value_t::array, "an array");
  if (docs_json == nullptr || docs_json->empty())
    BadRequest("\"documents\" must be a non-empty array");
  const bool upsert = GetBool(body, "upsert", false);
  std::vector<Document> docs;
  docs.reserve(docs_json->size());
  size_t texts = 0;
  for (size_t i = 0; i < docs_json->size(); ++i) {
    const Json& d = (*docs_json)[i];
    const std::string where = fmt::format("documents[{}]", i);
    if (!d.is_object()) BadRequest(where + " must be an object");
    CheckKeys(d, {"id", "text", "metadata", "vector", "image", "image_source"}, where);
    Document doc;
    auto id = d.find("id");
    if (id == d.end()) BadRequest(where + ".id is required");
    doc.id = IdFromJson(*id, where + ".id");
    doc.text = GetString(d, "text");
    if (const Json* meta = Get(d, "metadata", Json::value_t::object, "an object"))
      doc.metadata = Dump(*meta);
    if (auto v = d.find("vector"); v != d.end() && !v->is_null()) {
      doc.vector = VectorFromJson(*v, where + ".vector");
    }
    doc.image = ImageFromJson(d, where);
    if (doc.vector.empty()) ++texts;
    docs.push_back(std::move(doc));
  }
  // Held from before the collection is opened (see CollectionLocks).
  CollectionLocks::Guard guard = locks_->Shared(name);
  std::shared_ptr<Collection> collection = Open(name);
  const Status s =
      upsert ? collection->Upsert(WriteOptions{}, docs) : collection->Add(WriteOptions{}, docs);
  if (!s.ok()) Fail(s);
  metrics_->AddTextsEmbedded(texts);
  return {{"written", docs.size()}};
}

Json NativeApi::Search(const std::string& name, const Json& body,
                       std::optional<ImageInput> raw_image) {
  CheckKeys(body, {"text",          "vector",        "image",    "image_source", "k",
                   "filter",        "filter_params", "group_by", "group_size",   "min_score",
                   "max_score",     "ef_search",     "nprobe",   "mode",         "with_text",
                   "with_metadata", "with_vector",   "ranking",  "keywords",     "fusion",
                   "rrf_k",         "text_weight",   "reranker", "rerank_depth"},
            "a search request");
  SearchOptions options;
  SearchStats stats;
  options.stats = &stats;
  GetRanking(body, /*allow_auto=*/false, &options);
  GetReranker(body, *models_, &options);
  const std::string text = GetString(body, "text");
  std::vector<float> vector;
  if (auto v = body.find("vector"); v != body.end() && !v->is_null())
    vector = VectorFromJson(*v, "vector");
  std::optional<ImageInput> image = raw_image ? std::move(raw_image) : ImageFromJson(body, "");
  if (options.ranking == Ranking::kText) {
    // BM25 needs words only: "keywords", or else "text".
    if (!vector.empty() || image)
      BadRequest(
          "ranking \"text\" uses no \"vector\" or \"image\"; give \"text\" or "
          "\"keywords\"");
  } else if (!text.empty() + !vector.empty() + image.has_value() != 1) {
    BadRequest(raw_image ? "an image body is the query: give no \"text\" or \"vector\""
                         : "give exactly one of \"text\", \"vector\" and \"image\"");
  }
  options.k = static_cast<size_t>(GetInt(body, "k", 10, 1, 16384));
  options.filter = GetString(body, "filter");
  if (const Json* p = Get(body, "filter_params", Json::value_t::object, "an object")) {
    options.filter_params = Dump(*p);
  }
  options.group_by = GetString(body, "group_by");
  options.group_size = static_cast<size_t>(GetInt(body, "group_size", 1, 1, 1024));
  options.min_score = GetFloat(body, "min_score");
  options.max_score = GetFloat(body, "max_score");
  options.ef_search = static_cast<size_t>(GetInt(body, "ef_search", 0, 0, 10000));
  options.nprobe = static_cast<size_t>(GetInt(body, "nprobe", 0, 0, 65536));
  options.mode = GetMode(body);
  options.with_text = GetBool(body, "with_text", true);
  options.with_metadata = GetBool(body, "with_metadata", true);
  options.with_vector = GetBool(body, "with_vector", false);
  const Query query = image            ? Query::Image(std::move(*image))
                      : vector.empty() ? Query::Text(text)
                                       : Query::Vector(std::move(vector));
  Result<std::vector<Hit>> hits = Open(name)->Search(options, query);
  if (!hits.ok()) Fail(hits.status());
  if (!text.empty() && options.ranking != Ranking::kText) metrics_->AddTextsEmbedded(1);
  Json list = Json::array();
  for (const Hit& hit : *hits) {
    Json h{{"id", IdToJson(hit.id)}, {"score", FloatToJson(hit.score)}};
    if (hit.vector_score.has_value()) h["vector_score"] = FloatToJson(*hit.vector_score);
    if (hit.text_score.has_value()) h["text_score"] = FloatToJson(*hit.text_score);
    if (hit.rerank_score.has_value()) h["rerank_score"] = FloatToJson(*hit.rerank_score);
    if (options.with_text) h["text"] = hit.text;
    if (options.with_metadata) h["metadata"] = MetadataToJson(hit.metadata);
    if (options.with_vector) h["vector"] = VectorToJson(hit.vector);
    if (!options.group_by.empty()) h["group"] = MetadataToJson(hit.group);
    list.push_back(std::move(h));
  }
  return {{"hits", list},
          {"stats",
           {{"strategy", stats.strategy},
            {"filter_matches", stats.filter_matches},
            {"narrowed", stats.narrowed},
            {"cached", stats.cached}}}};
}

Json NativeApi::Find(const std::string& name, const Json& body) {
  CheckKeys(
      body,
      {"filter", "filter_params", "offset", "limit", "with_text", "with_metadata", "with_vector"},
      "a find request");
  FindOptions options;
  options.filter = GetString(body, "filter");
  if (const Json* p = Get(body, "filter_params", Json::value_t::object, "an object")) {
    options.filter_params = Dump(*p);
  }
  options.offset = static_cast<size_t>(GetInt(body, "offset", 0, 0, int64_t{1} << 40));
  options.limit = static_cast<size_t>(GetInt(body, "limit", 100, 1, 16384));
  options.with_text = GetBool(body, "with_text", true);
  options.with_metadata = GetBool(body, "with_metadata", true);
  options.with_vector = GetBool(body, "with_vector", false);
  Result<std::vector<Document>> docs = Open(name)->Find(options);
  if (!docs.ok()) Fail(docs.status());
  Json list = Json::array();
  for (const Document& doc : *docs) {
    Json d{{"id", IdToJson(doc.id)}};
    if (options.with_text) d["text"] = doc.text;
    if (options.with_metadata) d["metadata"] = MetadataToJson(doc.metadata);
    if (options.with_vector) d["vector"] = VectorToJson(doc.vector);
    list.push_back(std::move(d));
  }
  return {{"documents", list}};
}

Json NativeApi::CountWhere(const std::string& name, const Json& body) {
  CheckKeys(body, {"filter", "filter_params"}, "a count request");
  const std::string filter = GetString(body, "filter");
  std::string params;
  if (const Json* p = Get(body, "filter_params", Json::value_t::object, "an object"))
    params = Dump(*p);
  Result<uint64_t> count = Open(name)->CountWhere(filter, params);
  if (!count.ok()) Fail(count.status());
  return {{"count", *count}};
}

Json NativeApi::GetDocuments(const std::string& name, const Json& body) {
  CheckKeys(body, {"ids", "with_vector"}, "a get request");
  const Json* ids_json = Get(body, "ids", Json::value_t::array, "an array");
  if (ids_json == nullptr || ids_json->empty()) BadRequest("\"ids\" must be a non-empty array");
  std::vector<Id> ids;
  for (size_t i = 0; i < ids_json->size(); ++i) {
    ids.push_back(IdFromJson((*ids_json)[i], fmt::format("ids[{}]", i)));
  }
  const bool with_vector = GetBool(body, "with_vector", false);
  Result<std::vector<Document>> docs = Open(name)->GetMany(ids, with_vector);
  if (!docs.ok()) Fail(docs.status());
  Json list = Json::array();
  for (const Document& doc : *docs) {
    Json d{
        {"id", IdToJson(doc.id)}, {"text", doc.text}, {"metadata", MetadataToJson(doc.metadata)}};
    if (with_vector) d["vector"] = VectorToJson(doc.vector);
    list.push_back(std::move(d));
  }
  return {{"documents", list}};
}

Json NativeApi::GetDocument(const std::string& name, const std::string& id_text,
                            const std::string& query) {
  // An id of digits (with an optional '-') is an integer id unless the query
  // says ?string_id=true, as on the command line.
  const bool as_string = query.find("string_id=true") != std::string::npos;
  Id id = id_text;
  if (!as_string && !id_text.empty()) {
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(id_text.c_str(), &end, 10);
    if (end == id_text.c_str() + id_text.size() && errno == 0) id = Id(int64_t{n});
  }
  if (id_text.empty()) BadRequest("empty document id");
  Result<Document> doc = Open(name)->Get(id);
  if (!doc.ok()) Fail(doc.status());
  return {{"id", IdToJson(doc->id)},
          {"text", doc->text},
          {"metadata", MetadataToJson(doc->metadata)},
          {"vector", VectorToJson(doc->vector)}};
}

Json NativeApi::DeleteDocuments(const std::string& name, const Json& body) {
  CheckKeys(body, {"ids", "filter", "filter_params"}, "a delete request");
  const Json* ids_json = Get(body, "ids", Json::value_t::array, "an array");
  const std::string filter = GetString(body, "filter");
  if ((ids_json == nullptr) == filter.empty())
    BadRequest("give exactly one of \"ids\" and \"filter\"");
  CollectionLocks::Guard guard = locks_->Shared(name);
  std::shared_ptr<Collection> collection = Open(name);
  if (ids_json != nullptr) {
    std::vector<Id> ids;
    for (size_t i = 0; i < ids_json->size(); ++i) {
      ids.push_back(IdFromJson((*ids_json)[i], fmt::format("ids[{}]", i)));
    }
    Result<size_t> deleted = collection->Delete(WriteOptions{}, ids);
    if (!deleted.ok()) Fail(deleted.status());
    return {{"deleted", *deleted}};
  }
  std::string params;
  if (const Json* p = Get(body, "filter_params", Json::value_t::object, "an object"))
    params = Dump(*p);
  Result<size_t> deleted = collection->DeleteWhere(WriteOptions{}, filter, params);
  if (!deleted.ok()) Fail(deleted.status());
  return {{"deleted", *deleted}};
}

}  // namespace flashembed::server
