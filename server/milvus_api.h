// MilvusApi: the Milvus REST v2 subset (milvus-compat.md §1) under
// /v2/vectordb/: collections/{create,list,describe,has,drop,get_stats,load,
// release,refresh_load,get_load_state}, entities/{insert,upsert,delete,get,
// query,search}, indexes/{create,list,describe,drop}.
//
// Every answer is HTTP 200 with the envelope {"code":0,"data":...} or
// {"code":N,"message":"..."} (401 for a bad token, 404 for a path Milvus
// does not have, code 10 for Milvus routes flashembed does not implement).
//
// Load state and index presence are kept in memory on top of what the
// collection stores: a collection is loaded when opened if it has an index.
// A release or index drop is therefore forgotten when the server restarts.
//
// Thread-safety: Handle() may run on many threads at once.
#ifndef FLASHEMBED_SERVER_MILVUS_API_H_
#define FLASHEMBED_SERVER_MILVUS_API_H_

#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "query/database.h"
#include "server/http_message.h"
#include "server/json_util.h"
#include "server/metrics.h"
#include "server/milvus_schema.h"

namespace flashembed::server {

class MilvusApi {
 public:
  MilvusApi(Database* db, Metrics* metrics) : db_(db), metrics_(metrics) {}

  // REQUIRES: request.path starts with "/v2/vectordb/".
  HttpResponse Handle(const HttpRequest& request);

  // The envelope {"code":code,"message":message} as a response with
  // `http_status` (route "unknown" until the caller sets it).
  static HttpResponse Error(int code, std::string_view message, int http_status = 200);

 private:
  struct Context {
    Json body;
    bool int64_as_string = false;  // Accept-Type-Allow-Int64: false
  };
  // An open collection with its Milvus view and load state.
  struct Target {
    std::string name;
    std::shared_ptr<Collection> collection;
    CollectionInfo info;
    MilvusSchema schema;
    bool loaded = false;
    std::optional<MilvusIndex> index;
  };
  struct LoadState {
    bool loaded = false;
    std::optional<MilvusIndex> index;
  };
  using Handler = Json (MilvusApi::*)(const Context&);

  // Opens the body's collectionName: 1802 when missing, 100 when unknown.
  Target Open(const Context& ctx);
  LoadState StateOf(const std::string& name, const MilvusSchema& schema);
  void SetState(const std::string& name, const LoadState& state);
  void RequireLoaded(const Target& target) const;

  // milvus_api.cc: collections and indexes.
  Json CreateCollection(const Context& ctx);
  Json ListCollections(const Context& ctx);
  Json DescribeCollection(const Context& ctx);
  Json HasCollection(const Context& ctx);
  Json DropCollection(const Context& ctx);
  Json GetStats(const Context& ctx);
  Json Load(const Context& ctx);
  Json Release(const Context& ctx);
  Json GetLoadState(const Context& ctx);
  Json CreateIndex(const Context& ctx);
  Json ListIndexes(const Context& ctx);
  Json DescribeIndex(const Context& ctx);
  Json DropIndex(const Context& ctx);
  // Puts `index` on the target: a no-op when the stored index already
  // matches, a re-creation of an empty collection otherwise.
  void InstallIndex(Target& target, const MilvusIndex& index);

  // milvus_entities.cc: entities.
  Json Insert(const Context& ctx);
  Json Upsert(const Context& ctx);
  Json Write(const Context& ctx, bool upsert);
  Json Delete(const Context& ctx);
  Json Get(const Context& ctx);
  Json Query(const Context& ctx);
  Json Search(const Context& ctx);

  Database* db_;
  Metrics* metrics_;
  std::mutex mu_;
  std::map<std::string, LoadState> states_;  // guarded by mu_
  // Serialises collection create/drop/re-create so a check-then-act on the
  // catalog (create idempotency, index re-creation) is not interleaved.
  std::mutex catalog_mu_;
};

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_MILVUS_API_H_
