// The `serve` verb: runs the HTTP server (server/server.h) over a database
// folder until SIGINT or SIGTERM, then shuts down gracefully (requests in
// progress finish) and closes the database (index snapshots written).
//
//   flashembed serve --db ./kb --port 0
//   {"listening":"http://127.0.0.1:43121","host":"127.0.0.1","port":43121}
#include <signal.h>

#include <cstdlib>
#include <iostream>
#include <memory>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "server/server.h"
#include "tools/cli_verbs.h"

namespace flashembed::cli {
namespace {

struct ServeArgs {
  server::ServerOptions options;
  bool no_access_log = false;
};

int RunServe(ServeArgs& args, const GlobalOptions& global) {
  if (server::IsBlankToken(args.options.token)) {
    const char* env = std::getenv("FLASHEMBED_TOKEN");
    args.options.token = env != nullptr && !server::IsBlankToken(env) ? env : "";
  }
  args.options.access_log = !args.no_access_log;
  if (Status status = args.options.Validate(); !status.ok()) {
    return ReportUsageError(status.message());
  }
  Result<std::unique_ptr<Database>> db = OpenDatabase(global.db, /*create_if_missing=*/true);
  if (!db.ok()) return ReportError(db.status());

  // Block the shutdown signals before any server thread starts (threads
  // inherit the mask), so only sigwait below receives them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  Result<std::unique_ptr<server::Server>> server = server::Server::Start(args.options, db->get());
  if (!server.ok()) return ReportError(server.status());
  const uint16_t port = (*server)->port();
  const std::string host_in_url = args.options.host.find(':') != std::string::npos
                                      ? "[" + args.options.host + "]"
                                      : args.options.host;
  nlohmann::ordered_json line;
  line["listening"] = fmt::format("http://{}:{}", host_in_url, port);
  line["host"] = args.options.host;
  line["port"] = port;
  line["db"] = global.db;
  std::cout << DumpJson(line) << std::endl;  // flushed: tests and scripts read the port

  int received = 0;
  sigwait(&signals, &received);
  std::cerr << "flashembed: " << (received == SIGINT ? "SIGINT" : "SIGTERM")
            << ": finishing requests in progress and closing the database" << std::endl;
  (*server)->Stop();
  (*server)->Wait();
  server->reset();
  if (Status status = (*db)->Close(); !status.ok()) return ReportError(status);
  return kExitOk;
}

}  // namespace

Verb AddServeVerb(CLI::App& app, GlobalOptions& global) {
  auto args = std::make_shared<ServeArgs>();
  CLI::App* cmd = app.add_subcommand(
      "serve", "Serve the database over HTTP: a JSON API and the Milvus REST v2 subset.");
  cmd->footer(
      "Prints one JSON line {\"listening\": URL, \"host\", \"port\"} once bound, then one JSON "
      "access-log line per request on stderr. SIGINT/SIGTERM stop it gracefully. Routes: "
      "/api/v1/... (docs/API.md), /v2/vectordb/... (Milvus), /v1/embeddings (OpenAI), /mcp "
      "(Model Context Protocol, docs/MCP.md), GET /health, GET /metrics.");
  AddGlobalOptions(*cmd, global);
  server::ServerOptions& o = args->options;
  o.port = 19530;
  cmd->add_option("--host", o.host, "address to listen on; a non-loopback one needs --token")
      ->capture_default_str();
  cmd->add_option("--port", o.port, "TCP port; 0 picks a free one (printed)")
      ->capture_default_str();
  cmd->add_option("--token", o.token,
                  "require 'Authorization: Bearer TOKEN' on every request (default "
                  "$FLASHEMBED_TOKEN); an empty or whitespace-only token counts as none");
  cmd->add_option("--threads", o.threads, "request handler threads, 1..256; 0 = hardware threads")
      ->capture_default_str();
  cmd->add_option("--max-body-bytes", o.max_body_bytes,
                  "largest request body, 1 KiB..1 GiB (413 beyond)")
      ->capture_default_str();
  cmd->add_option("--max-header-bytes", o.max_header_bytes,
                  "largest request header block, 1 KiB..1 MiB (431 beyond)")
      ->capture_default_str();
  cmd->add_option("--allow-model", o.allowed_model_dirs,
                  "let clients create collections whose encoder is a model folder inside DIR "
                  "(\"model:DIR/...\"); repeat for more folders. Without it only \"hash\" and "
                  "vector-only collections can be created over HTTP")
      ->allow_extra_args(false)
      ->type_name("DIR");
  cmd->add_option("--backup-dir", o.backup_dir,
                  "let clients write backups (POST /api/v1/backup {\"name\": ...}) into new "
                  "subfolders of DIR; without it backups over HTTP are refused")
      ->type_name("DIR");
  cmd->add_option("--mcp-root", o.mcp_roots,
                  "let the MCP tool ingest_files (at /mcp) read files inside DIR; repeat for "
                  "more folders. Without it, ingest_files is refused")
      ->allow_extra_args(false)
      ->type_name("DIR");
  cmd->add_option("--max-connections", o.max_connections, "open connections at most (503 beyond)")
      ->capture_default_str();
  cmd->add_option("--read-timeout-ms", o.read_timeout_ms,
                  "a request must arrive within this time of its first byte")
      ->capture_default_str();
  cmd->add_option("--idle-timeout-ms", o.idle_timeout_ms, "keep-alive idle time before closing")
      ->capture_default_str();
  cmd->add_option("--write-timeout-ms", o.write_timeout_ms, "time to write a response")
      ->capture_default_str();
  cmd->add_option("--shutdown-grace-ms", o.shutdown_grace_ms,
                  "on SIGTERM, time requests in progress get to finish")
      ->capture_default_str();
  cmd->add_flag("--no-access-log", args->no_access_log, "no JSON access-log lines on stderr");
  return {cmd, [args, &global] { return RunServe(*args, global); }};
}

}  // namespace flashembed::cli
