// The `mcp` verb: the database as a Model Context Protocol server over stdio
// (mcp/mcp_server.h, docs/MCP.md), for AI agents that start it as a
// subprocess:
//
//   flashembed mcp --db ./kb --root ~/notes
//
// stdout carries only protocol messages; the note that the server runs and
// any error go to stderr. It ends at the end of stdin (exit 0).
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>
#include <system_error>
#include <vector>

#include "mcp/mcp_server.h"
#include "tools/cli_verbs.h"

namespace flashembed::cli {
namespace {

struct McpArgs {
  std::vector<std::string> roots;
  bool read_only = false;
};

int RunMcp(const McpArgs& args, const GlobalOptions& global) {
  // Roots are checked before the database is opened or created.
  for (const std::string& root : args.roots) {
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) {
      return ReportUsageError("--root \"" + root + "\" is not an existing folder");
    }
  }
  Result<std::unique_ptr<Database>> db = args.read_only
                                             ? OpenDatabaseForReading(global.db)
                                             : OpenDatabase(global.db, /*create_if_missing=*/true);
  if (!db.ok()) return ReportError(db.status());
  Result<std::unique_ptr<mcp::McpServer>> server =
      mcp::McpServer::Create(db->get(), {.roots = args.roots, .read_only = args.read_only});
  if (!server.ok()) return ReportUsageError(server.status().message());
  std::cerr << "flashembed: MCP server on stdio for " << global.db
            << ((*db)->read_only() ? " (read-only)" : "") << std::endl;
  std::ios::sync_with_stdio(false);
  const Status served = mcp::ServeStdio(**server, std::cin, std::cout);
  server->reset();
  const Status closed = (*db)->Close();
  if (!served.ok()) return ReportError(served);
  if (!closed.ok()) return ReportError(closed);
  return kExitOk;
}

}  // namespace

Verb AddMcpVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<McpArgs>();
  CLI::App* cmd = app.add_subcommand(
      "mcp", "Serve the database to AI agents as a Model Context Protocol server over stdio.");
  cmd->footer(
      "JSON-RPC messages one per line on stdin and stdout (docs/MCP.md). Tools: "
      "list_collections, search, add_texts, ingest_files, get, delete. `flashembed serve` offers "
      "the same at /mcp over HTTP.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--root", args->roots,
                  "a folder the ingest_files tool may read files from (repeat for more); "
                  "without one, ingest_files is refused")
      ->allow_extra_args(false)
      ->type_name("DIR");
  cmd->add_flag("--read-only", args->read_only,
                "open the database for reading and offer only list_collections, search and get");
  return {cmd, [args, &global] { return RunMcp(*args, global); }};
}

}  // namespace flashembed::cli
