// MilvusApi: the Milvus REST v2 subset (docs/API.md) under
// /v2/vectordb/: collections/{create,list,describe,has,drop,get_stats,load,
// release,refresh_load,get_load_state}, entities/{insert,upsert,delete,get,
// query,search}, indexes/{create,list,describe,drop}.
//
// Every answer is HTTP 200 with the envelope {"code":0,"data":...} or
// {"code":N,"message":"..."} (401 for a bad token, 404 for a path Milvus
// does not have, code 10 for Milvus routes flashembed does not implement).
//
// Load state and index presence are kept in memory on top of what the
// collection stores. A collection this server has not seen since it started
// (e.g. after a restart, or one created through the native API) is loaded,
// and its index is the one declared in its stored Milvus schema or, when
// none was declared, one derived from the collection's index kind, metric
// and parameters (flashembed always indexes). A release or index drop is
// therefore forgotten when the server restarts. A state belongs to one
// incarnation of a name (CollectionInfo::created_unix_ms): a collection
// dropped and created again elsewhere does not inherit it.
//
// Writes (insert, upsert, delete) hold the collection's shared lock
// (CollectionLocks); indexes/create holds it exclusively, so re-creating an
// empty collection cannot lose a write acknowledged meanwhile.
//
// Thread-safety: Handle() may run on many threads at once.
#ifndef FLASHEMBED_SERVER_MILVUS_API_H_
#define FLASHEMBED_SERVER_MILVUS_API_H_

#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "milvus/schema.h"
#include "query/database.h"
#include "server/collection_locks.h"
#include "server/http_message.h"
#include "server/json_util.h"
#include "server/metrics.h"
#include "server/model_policy.h"

namespace flashembed::server {

class MilvusApi {
 public:
  // `locks` and `models` are not owned and must outlive this object.
  MilvusApi(Database* db, Metrics* metrics, CollectionLocks* locks, const ModelPolicy* models)
      : db_(db), metrics_(metrics), locks_(locks), models_(models) {}

  // REQUIRES: request.path starts with "/v2/vectordb/".
  HttpResponse Handle(const HttpRequest& request);

  // The envelope {"code":code,"message":message} as a response with
  // `http_status` (route "unknown" until the caller sets it).
  static HttpResponse Error(int code, std::string_view message, int http_status = 200);

  // Tests only: called with the collection's name when indexes/create is
  // about to re-create an empty collection (its exclusive lock held, the
  // emptiness checked). Pass {} to remove. Not for concurrent use with
  // running servers.
  static void SetRecreateHookForTesting(std::function<void(const std::string&)> hook);

 private:
  struct Context {
    Json body;
    bool int64_as_string = false;  // Accept-Type-Allow-Int64: false
  };
  // An open collection with its Milvus view and load state.
  struct LoadState {
    bool loaded = false;
    std::optional<milvus::Index> index;
    // `index` was derived from the stored collection, not declared by a
    // client: indexes/create may replace it by an equivalent declaration.
    bool derived = false;
    int64_t created_unix_ms = 0;  // the incarnation this state is about
  };
  struct Target {
    std::string name;
    std::shared_ptr<Collection> collection;
    CollectionInfo info;
    milvus::Schema schema;
    bool loaded = false;
    std::optional<milvus::Index> index;
    bool index_derived = false;  // LoadState::derived
  };
  using Handler = Json (MilvusApi::*)(const Context&);

  // The body's collectionName: 1802 when missing.
  static std::string NameOf(const Context& ctx);
  // Opens the body's collectionName: 1802 when missing, 100 when unknown.
  Target Open(const Context& ctx);
  LoadState StateOf(const std::string& name, const CollectionInfo& info,
                    const milvus::Schema& schema);
  void SetState(const std::string& name, const LoadState& state);
  // 1401 (HTTP 403) when a client may not use `encoder` (ModelPolicy).
  void CheckEncoderAllowed(const std::string& encoder) const;
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
  void InstallIndex(Target& target, const milvus::Index& index);

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
  CollectionLocks* locks_;
  const ModelPolicy* models_;
  std::mutex mu_;
  std::map<std::string, LoadState> states_;  // guarded by mu_
  // Serialises collection create/drop/re-create so a check-then-act on the
  // catalog (create idempotency, index re-creation) is not interleaved.
  std::mutex catalog_mu_;
};

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_MILVUS_API_H_
