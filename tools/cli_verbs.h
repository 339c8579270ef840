// The verbs of the flashembed command-line tool. Each Add*Verb function adds
// one subcommand with its flags to `app` and returns it with the function that
// runs it after a successful parse; that function returns the process exit
// code (cli_common.h) and has printed the verb's output or one error line.
// `global` must outlive the returned Verb; it is filled in by the parse.
#ifndef FLASHEMBED_TOOLS_CLI_VERBS_H_
#define FLASHEMBED_TOOLS_CLI_VERBS_H_

#include <functional>
#include <string>

#include <CLI/CLI.hpp>

#include "tools/cli_common.h"

namespace flashembed::cli {

struct Verb {
  CLI::App* command = nullptr;  // owned by the parent app
  std::function<int()> run;
};

// Adds --db, --json and -c/--collection to `command`, bound to `global`.
// `db_help` and `collection_help` describe the defaults; the first overload
// uses the standard ones ($FLASHEMBED_DB or ./flashembed.db, "default").
void AddGlobalOptions(CLI::App& command, GlobalOptions& global);
void AddGlobalOptions(CLI::App& command, GlobalOptions& global, const std::string& db_help,
                      const std::string& collection_help);

Verb AddCreateVerb(CLI::App& app, GlobalOptions& global);    // cli_verbs.cc
Verb AddAddVerb(CLI::App& app, GlobalOptions& global);       // cli_verbs.cc
Verb AddGetVerb(CLI::App& app, GlobalOptions& global);       // cli_verbs.cc
Verb AddDeleteVerb(CLI::App& app, GlobalOptions& global);    // cli_verbs.cc
Verb AddStatsVerb(CLI::App& app, GlobalOptions& global);     // cli_verbs.cc
Verb AddDropVerb(CLI::App& app, GlobalOptions& global);      // cli_verbs.cc
Verb AddSearchVerb(CLI::App& app, GlobalOptions& global);    // cli_search.cc
Verb AddDemoVerb(CLI::App& app, GlobalOptions& global);      // cli_demo.cc
Verb AddTokenizeVerb(CLI::App& app, GlobalOptions& global);  // cli_model.cc
Verb AddEmbedVerb(CLI::App& app, GlobalOptions& global);     // cli_model.cc
Verb AddRerankVerb(CLI::App& app, GlobalOptions& global);    // cli_model.cc
Verb AddServeVerb(CLI::App& app, GlobalOptions& global);     // cli_serve.cc
Verb AddIngestVerb(CLI::App& app, GlobalOptions& global);    // cli_docs.cc
Verb AddEvalVerb(CLI::App& app, GlobalOptions& global);      // cli_eval.cc
Verb AddReembedVerb(CLI::App& app, GlobalOptions& global);   // cli_reembed.cc
Verb AddExportVerb(CLI::App& app, GlobalOptions& global);    // cli_transfer.cc
Verb AddImportVerb(CLI::App& app, GlobalOptions& global);    // cli_transfer.cc
Verb AddPushVerb(CLI::App& app, GlobalOptions& global);      // cli_transfer.cc
Verb AddPullVerb(CLI::App& app, GlobalOptions& global);      // cli_transfer.cc
Verb AddCompactVerb(CLI::App& app, GlobalOptions& global);   // cli_maintain.cc
Verb AddBackupVerb(CLI::App& app, GlobalOptions& global);    // cli_maintain.cc
Verb AddMcpVerb(CLI::App& app, GlobalOptions& global);       // cli_mcp.cc

}  // namespace flashembed::cli

#endif  // FLASHEMBED_TOOLS_CLI_VERBS_H_
