// flashembed serve: an HTTP/1.1 server over one open Database, speaking a
// native JSON API (/api/v1/..., docs/API.md), the Milvus REST v2 subset
// (/v2/vectordb/..., same document), OpenAI's embeddings API (/v1/...) and
// the Model Context Protocol (/mcp, docs/MCP.md).
//
//   auto server = flashembed::server::Server::Start(options, db.get()).value();
//   std::cout << server->port();     // the bound port (options.port 0 = any free port)
//   server->Wait();                  // until Stop() (e.g. from a signal handler thread)
//
// This header pulls in no Boost: the HTTP machinery lives in one .cc file.
//
// Thread-safety: Stop() and port() may be called from any thread; Wait()
// from one thread at a time.
#ifndef FLASHEMBED_SERVER_SERVER_H_
#define FLASHEMBED_SERVER_SERVER_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "query/database.h"

namespace flashembed::server {

struct ServerOptions {
  // Address to listen on. A host other than a loopback address (127.0.0.0/8,
  // ::1, localhost) needs a `token`: an open database must not be reachable
  // from the network by accident.
  std::string host = "127.0.0.1";
  // TCP port; 0 = any free port (read it back with Server::port()).
  uint16_t port = 19530;
  // Threads running request handlers (database calls); 1..256, or 0 = the
  // number of hardware threads (at most 256). One more thread does all
  // network I/O.
  size_t threads = 0;
  // When set, every request must carry `Authorization: Bearer <token>`
  // (compared in constant time); others get HTTP 401 and change nothing. An
  // empty or whitespace-only token counts as none (IsBlankToken).
  std::string token;
  // Largest request body accepted, in bytes (1 KiB..1 GiB); larger ones get
  // HTTP 413.
  size_t max_body_bytes = 64u << 20;
  // Largest request header block, in bytes (1 KiB..1 MiB); larger ones get
  // HTTP 431.
  size_t max_header_bytes = 16u << 10;
  // A whole request (headers and body) must arrive within this many ms of its
  // first byte, or it is answered 408 and the connection closed; a
  // keep-alive connection may sit idle this long between requests (then it
  // is closed without an answer); a response must be written within
  // write_timeout_ms (else the connection is closed). Each 1..86400000
  // (one day).
  int read_timeout_ms = 30000;
  int idle_timeout_ms = 60000;
  int write_timeout_ms = 30000;
  // Open connections at most (1..1000000); one more is answered 503 and
  // closed.
  size_t max_connections = 256;
  // One JSON line per request on stderr (method, target, route, status,
  // milvus code, bytes, latency).
  bool access_log = true;
  // Stop(): requests already being handled get this long to finish
  // (0..86400000).
  int shutdown_grace_ms = 30000;
  // Folders inside which a client may name a Hugging Face model folder as a
  // collection's encoder ("model:DIR", native `encoder` or a Milvus text
  // field's `encoder` param); others are refused (HTTP 403, Milvus code
  // 1401). Each must be an existing folder; compared after resolving
  // symbolic links and "..". Empty: no model folders ("hash" and
  // vector-only collections are always allowed).
  std::vector<std::string> allowed_model_dirs;
  // Folder in which POST /api/v1/backup writes backups, each in a new
  // subfolder named by the client; empty: backups over HTTP are refused
  // (403). Must be an existing folder.
  std::string backup_dir;
  // Folders inside which the MCP tool ingest_files (at /mcp) may read files;
  // each must be an existing folder. Empty: ingest_files is refused.
  std::vector<std::string> mcp_roots;

  Status Validate() const;
};

class Server {
 public:
  // Binds and starts serving `db` (not owned; must outlive the Server).
  // InvalidArgument for bad options (a non-loopback host without a token,
  // a value out of range, an allowed model folder that does not exist;
  // named in the message); IOError when the address cannot be bound.
  static Result<std::unique_ptr<Server>> Start(const ServerOptions& options, Database* db);

  // Stops (as Stop()) and waits.
  virtual ~Server() = default;
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // The bound TCP port.
  virtual uint16_t port() const = 0;

  // Graceful shutdown: stops accepting, closes idle connections, lets
  // requests in progress finish and send their responses (with
  // `Connection: close`), up to shutdown_grace_ms. Returns at once; Wait()
  // returns when it is done. Idempotent.
  virtual void Stop() = 0;

  // Blocks until the server has stopped.
  virtual void Wait() = 0;

 protected:
  Server() = default;
};

// True for 127.x.x.x, ::1 and "localhost".
bool IsLoopbackHost(const std::string& host);

// Whether a token is empty or only whitespace. Such a token counts as none: it
// protects nothing (`--token "$UNSET"` passes " " or ""), and HTTP drops the
// whitespace around a header value, so no client could even present it.
bool IsBlankToken(std::string_view token);

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_SERVER_H_
