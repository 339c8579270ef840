// NativeApi: flashembed's own JSON API under /api/v1/ (docs/API.md).
//
// Errors are {"error":{"code":"<status code name>","message":"..."}} with
// one HTTP status per flashembed StatusCode (HttpStatusFor): invalid_argument
// 400, not_found 404, already_exists 409, resource_exhausted 429,
// not_supported 501, cancelled 503, everything else 500; and 403 forbidden
// for a model folder the server does not allow (ModelPolicy).
//
// Writes (documents, delete) and collection create/drop hold the
// collection's shared lock (CollectionLocks; see MilvusApi).
//
// Thread-safety: Handle() may run on many threads at once.
#ifndef FLASHEMBED_SERVER_NATIVE_API_H_
#define FLASHEMBED_SERVER_NATIVE_API_H_

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
  NativeApi(Database* db, Metrics* metrics, CollectionLocks* locks, const ModelPolicy* models)
      : db_(db), metrics_(metrics), locks_(locks), models_(models) {}

  // REQUIRES: request.path starts with "/api/v1/" or is "/api/v1".
  HttpResponse Handle(const HttpRequest& request);

  // {"error":{"code":name,"message":message}} with `http_status`.
  static HttpResponse Error(int http_status, std::string_view message);

 private:
  Json CreateCollection(const Json& body);
  Json DescribeCollection(const std::string& name);
  Json ListCollections();
  Json DropCollection(const std::string& name);
  Json AddDocuments(const std::string& name, const Json& body);
  Json Search(const std::string& name, const Json& body);
  Json Find(const std::string& name, const Json& body);
  Json CountWhere(const std::string& name, const Json& body);
  Json GetDocuments(const std::string& name, const Json& body);
  Json GetDocument(const std::string& name, const std::string& id_text, const std::string& query);
  Json DeleteDocuments(const std::string& name, const Json& body);

  std::shared_ptr<Collection> Open(const std::string& name);

  Database* db_;
  Metrics* metrics_;
  CollectionLocks* locks_;
  const ModelPolicy* models_;
};

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_NATIVE_API_H_
