// McpServer: flashembed as a Model Context Protocol server (docs/MCP.md), so
// that AI agents keep and search memory in a database through six tools
// (list_collections, search, add_texts, ingest_files, get, delete).
//
//   auto server = mcp::McpServer::Create(db.get(), {.roots = {"/home/me/notes"}}).value();
//   std::string answer = server->Handle(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})");
//   mcp::ServeStdio(*server, std::cin, std::cout);   // flashembed mcp
//
// The protocol half (JSON-RPC 2.0, initialize, ping, tools/list, tools/call)
// is independent of the transport: `flashembed mcp` feeds it lines from
// stdin (ServeStdio), `flashembed serve` the bodies POSTed to /mcp. The
// server keeps no per-client state, so one McpServer serves every client.
//
// Thread-safety: Handle() may run on many threads at once.
#ifndef FLASHEMBED_MCP_MCP_SERVER_H_
#define FLASHEMBED_MCP_MCP_SERVER_H_

#include <iosfwd>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "query/database.h"

namespace flashembed::mcp {

// The protocol revisions answered, newest (the default) first.
inline constexpr std::string_view kProtocolVersions[] = {"2025-11-25", "2025-06-18", "2025-03-26",
                                                         "2024-11-05"};
bool IsSupportedProtocolVersion(std::string_view version);

struct McpOptions {
  // Folders inside which ingest_files may read (after resolving symbolic
  // links and ".."); empty: ingest_files is refused.
  std::vector<std::string> roots;
  // Offer only the tools that read (list_collections, search, get). Also
  // implied by a database opened read-only.
  bool read_only = false;
};

class McpServer {
 public:
  // `db` is not owned and must outlive the server. InvalidArgument naming a
  // root that is not an existing folder.
  static Result<std::unique_ptr<McpServer>> Create(Database* db, McpOptions options);

  ~McpServer();
  McpServer(const McpServer&) = delete;
  McpServer& operator=(const McpServer&) = delete;

  // Handles one JSON-RPC message (one line of stdio, one HTTP body) and
  // returns the JSON-RPC response as compact JSON on one line, or "" when
  // the message gets none (a notification, or a response to the server).
  // Never throws: malformed input gets a JSON-RPC error (id null).
  std::string Handle(std::string_view message);

 private:
  struct Impl;
  explicit McpServer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// `flashembed mcp`: reads messages one per line from `in` until its end and
// writes each answer as one line to `out`, flushed. Blank lines are skipped.
// Returns IOError if `out` fails (the client went away).
Status ServeStdio(McpServer& server, std::istream& in, std::ostream& out);

}  // namespace flashembed::mcp

#endif  // FLASHEMBED_MCP_MCP_SERVER_H_
