// NativeApi: flashembed's own JSON API under /api/v1/ (docs/API.md).
//
// Errors are {"error":{"code":"<status code name>","message":"..."}} with
// one HTTP status per flashembed StatusCode (HttpStatusFor): invalid_argument
// 400, not_found 404, already_exists 409, resource_exhausted 429,
// not_supported 501, cancelled 503, everything else 500; and 403 forbidden
// for a model folder the server does not allow (ModelPolicy).
//
// Writes (documents, delete, long_documents and its delete) and collection
// create/drop hold the collection's shared lock (CollectionLocks; see
// MilvusApi). Long documents (PutDocuments & co.) live under
// collections/{name}/long_documents (native_documents.cc).
//
// Thread-safety: Handle() may run on many threads at once.
#ifndef FLASHEMBED_SERVER_NATIVE_API_H_
#define FLASHEMBED_SERVER_NATIVE_API_H_

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "query/database.h"
#include "server/collection_locks.h"
#include "server/http_message.h"
#include "server/json_util.h"
#include "server/metrics.h"
#include "server/model_policy.h"

namespace flashembed::server {

// The HTTP status for a flashembed error.
int HttpStatusFor(StatusCode code);

class NativeApi {
 public:
  // `locks` and `models` are not owned and must outlive this object.
  // `backup_dir`: where POST /api/v1/backup writes ("" = refused, 403).
  NativeApi(Database* db, Metrics* metrics, CollectionLocks* locks, const ModelPolicy* models,
            std::string backup_dir = "")
      : db_(db),
        metrics_(metrics),
        locks_(locks),
        models_(models),
        backup_dir_(std::move(backup_dir)) {}

  // REQUIRES: request.path starts with "/api/v1/" or is "/api/v1".
  HttpResponse Handle(const HttpRequest& request);

  // {"error":{"code":name,"message":message}} with `http_status`.
  static HttpResponse Error(int http_status, std::string_view message);

 private:
  Json CreateCollection(const Json& body);
  Json DescribeCollection(const std::string& name);
  Json ListCollections();
  Json DropCollection(const std::string& name);
  // POST /api/v1/compact and /api/v1/backup (Database::Compact / Backup);
  // GET /api/v1/stats (the folder's size and each collection's).
  Json Compact();
  Json Backup(const Json& body);
  Json Stats();
  Json Reembed(const std::string& name, const Json& body);
  Json AbortReembed(const std::string& name);
  Json AddDocuments(const std::string& name, const Json& body);
  // `raw_image`: the image of an image/* request body, the query.
  Json Search(const std::string& name, const Json& body, std::optional<ImageInput> raw_image = {});
  Json Find(const std::string& name, const Json& body);
  Json CountWhere(const std::string& name, const Json& body);
  Json GetDocuments(const std::string& name, const Json& body);
  Json GetDocument(const std::string& name, const std::string& id_text, const std::string& query);
  Json DeleteDocuments(const std::string& name, const Json& body);
  // Long documents (native_documents.cc).
  Json PutLongDocuments(const std::string& name, const Json& body);
  Json GetLongDocument(const std::string& name, const std::string& id, const std::string& query);
  Json DeleteLongDocuments(const std::string& name, std::vector<std::string> ids);
  Json DeleteLongDocuments(const std::string& name, const Json& body);
  Json SearchLongDocuments(const std::string& name, const Json& body);

  std::shared_ptr<Collection> Open(const std::string& name);

  Database* db_;
  Metrics* metrics_;
  CollectionLocks* locks_;
  const ModelPolicy* models_;
  const std::string backup_dir_;
};

// Request decoding shared by native_api.cc and native_documents.cc. The
// functions throw ApiError (the HTTP status as its code), which
// NativeApi::Handle turns into the error response.
namespace native_detail {

// ApiError with HttpStatusFor(status.code()) and the status's message.
[[noreturn]] void Fail(const Status& status);
// ApiError 400 with `message`.
[[noreturn]] void BadRequest(const std::string& message);
// 400 for a key of `body` not in `allowed`, naming it and `what`.
void CheckKeys(const Json& body, std::initializer_list<std::string_view> allowed,
               std::string_view what);
// `body[key]`; nullptr when absent or null; 400 when not of `type`
// (number_float accepts any number, number_integer unsigned ones too).
const Json* Get(const Json& body, std::string_view key, Json::value_t type,
                std::string_view type_name);
std::string GetString(const Json& body, std::string_view key, std::string fallback = "");
bool GetBool(const Json& body, std::string_view key, bool fallback);
// An integer in [min, max] (400 otherwise).
int64_t GetInt(const Json& body, std::string_view key, int64_t fallback, int64_t min, int64_t max);
std::optional<float> GetFloat(const Json& body, std::string_view key);
// "mode": auto | exact | approximate.
SearchMode GetMode(const Json& body);
// "ranking" (vector | text | hybrid, and auto where `allow_auto`),
// "keywords", "fusion" (rrf | weighted | normalized), "rrf_k" and
// "text_weight" into `options`; an absent key leaves its field as it is.
void GetRanking(const Json& body, bool allow_auto, SearchOptions* options);
// "reranker" ("model:DIR", allowed by the serve's ModelPolicy, else 403; or
// "none": not even the collection's default) and "rerank_depth" of a search
// body.
void GetReranker(const Json& body, const ModelPolicy& models, SearchOptions* options);
// The image of `body`'s "image" (base64, standard or URL-safe, or a data URL)
// and "image_source" keys; nullopt without "image". 400 for bad base64.
// `where` ("documents[3]") prefixes the key names in messages.
std::optional<ImageInput> ImageFromJson(const Json& body, const std::string& where);
// A URL query string (k=5&filter=...) as a JSON object: each value
// percent-decoded ('+' as space) and read as JSON if it is a number, a
// boolean, an object or an array, else kept as a string.
Json QueryStringToJson(std::string_view query);
// An array of finite floats; 400 naming `where` otherwise.
std::vector<float> VectorFromJson(const Json& value, std::string_view where);
Json VectorToJson(const std::vector<float>& v);
// Stored metadata text as JSON (the text itself when it does not parse).
Json MetadataToJson(const std::string& metadata);
// %XX decoded (a '%' not followed by two hex digits is kept).
std::string PercentDecode(std::string_view s);

}  // namespace native_detail

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_NATIVE_API_H_
