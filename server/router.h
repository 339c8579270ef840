// Router: the transport-independent half of the server. Checks the bearer
// token, dispatches a request to the Milvus REST v2 handlers (/v2/vectordb/*),
// the native API (/api/v1/*), the OpenAI API (/v1/*), the MCP server (/mcp),
// /health or /metrics, and records every answered request in the metrics and
// the access log.
//
// Thread-safety: Handle() and Record() may run on many threads at once.
#ifndef FLASHEMBED_SERVER_ROUTER_H_
#define FLASHEMBED_SERVER_ROUTER_H_

#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "mcp/mcp_server.h"
#include "query/database.h"
#include "server/collection_locks.h"
#include "server/http_message.h"
#include "server/metrics.h"
#include "server/milvus_api.h"
#include "server/model_policy.h"
#include "server/native_api.h"
#include "server/openai_api.h"

namespace flashembed::server {

struct RouterOptions {
  std::string token;       // "" = no authentication
  bool access_log = true;  // one JSON line per request on stderr
  // Canonical folders clients may name models in (see ModelPolicy).
  std::vector<std::string> allowed_model_dirs;
  // Where POST /api/v1/backup writes ("" = refused).
  std::string backup_dir;
  // Folders the MCP tool ingest_files may read (none: it is refused).
  std::vector<std::string> mcp_roots;
};

class Router {
 public:
  Router(Database* db, RouterOptions options);

  // Answers one request. Never throws; handler failures become error
  // responses (HTTP 500 / Milvus code 65535). HEAD is answered as GET; the
  // transport sends no body with it.
  HttpResponse Handle(const HttpRequest& request);

  // A transport-level error (413, 431, 400, 503) in the shape the request's
  // path expects: the Milvus envelope under /v2/, OpenAI's error under /v1/,
  // {"error":...} elsewhere.
  HttpResponse TransportError(std::string_view path, int http_status, std::string_view message);

  // Counts the answered request in the metrics and writes its access-log line.
  void Record(const HttpRequest& request, const HttpResponse& response, size_t bytes_out,
              double seconds);

  Metrics& metrics() { return metrics_; }

 private:
  bool Authorized(const HttpRequest& request) const;
  HttpResponse Dispatch(const HttpRequest& request);
  // MCP's streamable HTTP transport at /mcp (docs/MCP.md).
  HttpResponse Mcp(const HttpRequest& request);

  Database* db_;
  RouterOptions options_;
  Metrics metrics_;
  CollectionLocks locks_;  // shared by both APIs
  ModelPolicy models_;
  MilvusApi milvus_;
  NativeApi native_;
  OpenAiApi openai_;
  std::unique_ptr<mcp::McpServer> mcp_;  // null if its roots were refused
  std::mutex log_mu_;                    // one access-log line at a time
};

// Equal strings in time that depends only on their lengths.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_ROUTER_H_
