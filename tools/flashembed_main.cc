// flashembed: the command-line tool over the embedded database.
//
//   flashembed create -c notes --metric cosine
//   flashembed add -c notes "the quick brown fox" "a lazy dog"
//   flashembed search -c notes quick fox -k 5
//
// Exit codes: 0 success, 1 runtime error (database or input file), 2 usage
// error, 3 `ingest` with some inputs failed and others stored. Every error
// is one line on stderr: "flashembed: error: <what>".
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "tools/cli_common.h"
#include "tools/cli_verbs.h"

namespace {

using flashembed::cli::GlobalOptions;
using flashembed::cli::kExitRuntimeError;
using flashembed::cli::ReportError;
using flashembed::cli::ReportUsageError;
using flashembed::cli::Verb;

constexpr const char* kVerbList =
    "create, add, ingest, search, get, delete, stats, drop, demo, tokenize, embed, rerank, "
    "serve, mcp, export, import, push, pull, eval, reembed, compact, backup";

// How many times option `name` of `command` was given.
size_t OptionCount(const CLI::App& command, const std::string& name) {
  const CLI::Option* option = command.get_option_no_throw(name);
  return option == nullptr ? 0 : option->count();
}

// One error line for a failed parse; returns the exit code.
int ReportParseError(const CLI::App& app, const CLI::ParseError& error) {
  const std::vector<CLI::App*> chosen = app.get_subcommands();
  if (chosen.empty()) {
    const std::vector<std::string> extras = app.remaining();
    if (!extras.empty() && !extras.front().empty() && extras.front()[0] != '-') {
      return ReportUsageError("unknown verb \"" + extras.front() + "\"; expected one of " +
                              kVerbList);
    }
    if (dynamic_cast<const CLI::RequiredError*>(&error) != nullptr && extras.empty()) {
      return ReportUsageError(std::string("no verb given; expected one of ") + kVerbList +
                              " (see flashembed --help)");
    }
    return ReportUsageError(std::string(error.what()) + " (see flashembed --help)");
  }
  return ReportUsageError(std::string(error.what()) + " (see flashembed " +
                          chosen.front()->get_name() + " --help)");
}

int Run(int argc, char** argv) {
  GlobalOptions global;
  const char* env_db = std::getenv("FLASHEMBED_DB");
  global.db = env_db != nullptr && *env_db != '\0' ? env_db : "./flashembed.db";

  CLI::App app(
      "flashembed: an embedded vector database (RocksDB + HNSW) with a built-in text "
      "encoder.",
      "flashembed");
  app.require_subcommand(1);
  flashembed::cli::AddGlobalOptions(app, global);

  const std::vector<Verb> verbs = {
      flashembed::cli::AddCreateVerb(app, global), flashembed::cli::AddAddVerb(app, global),
      flashembed::cli::AddIngestVerb(app, global), flashembed::cli::AddSearchVerb(app, global),
      flashembed::cli::AddGetVerb(app, global),    flashembed::cli::AddDeleteVerb(app, global),
      flashembed::cli::AddStatsVerb(app, global),  flashembed::cli::AddDropVerb(app, global),
      flashembed::cli::AddDemoVerb(app, global),   flashembed::cli::AddTokenizeVerb(app, global),
      flashembed::cli::AddEmbedVerb(app, global),  flashembed::cli::AddServeVerb(app, global),
      flashembed::cli::AddExportVerb(app, global), flashembed::cli::AddImportVerb(app, global),
      flashembed::cli::AddPushVerb(app, global),   flashembed::cli::AddPullVerb(app, global),
      flashembed::cli::AddEvalVerb(app, global),   flashembed::cli::AddReembedVerb(app, global),
      flashembed::cli::AddRerankVerb(app, global), flashembed::cli::AddCompactVerb(app, global),
      flashembed::cli::AddBackupVerb(app, global), flashembed::cli::AddMcpVerb(app, global),
  };
  // Set after the verbs were added, which would otherwise inherit it.
  app.footer(
      "Global options (--db, --json, -c) work before or after the verb.\n"
      "Run 'flashembed VERB --help' for a verb's options. Exit codes: 0 success, 1 runtime "
      "error, 2 usage error, 3 ingest stored some inputs and others failed; errors are one "
      "line each on stderr.");

  try {
    app.parse(argc, argv);
  } catch (const CLI::Success& success) {  // --help
    return app.exit(success);
  } catch (const CLI::ParseError& error) {
    return ReportParseError(app, error);
  }

  for (const Verb& verb : verbs) {
    if (!verb.command->parsed()) continue;
    global.collection_given =
        OptionCount(app, "--collection") + OptionCount(*verb.command, "--collection") > 0;
    global.db_given = OptionCount(app, "--db") + OptionCount(*verb.command, "--db") > 0;
    return verb.run();
  }
  return ReportUsageError(std::string("no verb given; expected one of ") + kVerbList);
}

}  // namespace

int main(int argc, char** argv) {
  // The library reports errors as Status; this only catches what should never
  // happen (e.g. out of memory) so the user gets one line, not an abort.
  try {
    return Run(argc, argv);
  } catch (const std::exception& e) {
    return ReportError(std::string("internal error: ") + e.what(), kExitRuntimeError);
  }
}
