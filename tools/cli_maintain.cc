// `flashembed compact` and `flashembed backup`: giving disk space back now,
// and a consistent copy of the database (Database::Compact / Backup).
#include <chrono>
#include <cmath>
#include <iostream>
#include <memory>
#include <string>

#include <fmt/format.h>

#include "tools/cli_common.h"
#include "tools/cli_verbs.h"

namespace flashembed::cli {
namespace {

double SecondsSince(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

int RunCompact(const GlobalOptions& global) {
  Result<std::unique_ptr<Database>> db = OpenDatabase(global.db, /*create_if_missing=*/false);
  if (!db.ok()) return ReportError(db.status());
  Result<uint64_t> before = (*db)->DiskBytes();
  if (!before.ok()) return ReportError(before.status());
  const auto start = std::chrono::steady_clock::now();
  if (Status s = (*db)->Compact(); !s.ok()) return ReportError(s);
  const double seconds = SecondsSince(start);
  // Closed first: the close writes the snapshots' last bytes, and RocksDB
  // deletes the files compaction made obsolete.
  if (Status s = (*db)->Close(); !s.ok()) return ReportError(s);
  db->reset();
  Result<std::unique_ptr<Database>> again = OpenDatabaseForReading(global.db);
  if (!again.ok()) return ReportError(again.status());
  Result<uint64_t> after = (*again)->DiskBytes();
  if (!after.ok()) return ReportError(after.status());
  if (global.json) {
    std::cout << DumpJson({{"bytes_before", *before},
                           {"bytes_after", *after},
                           {"seconds", std::round(seconds * 1000) / 1000}})
              << "\n";
  } else {
    std::cout << fmt::format("compacted {}: {} -> {} in {:.1f} s\n", global.db,
                             FormatBytes(*before), FormatBytes(*after), seconds);
  }
  return kExitOk;
}

int RunBackup(const std::string& out, const GlobalOptions& global) {
  Result<std::unique_ptr<Database>> db = OpenDatabase(global.db, /*create_if_missing=*/false);
  if (!db.ok()) {
    return ReportError(
        db.status().message() +
            (db.status().message().find("held by another process") != std::string::npos
                 ? "; while `flashembed serve` holds the folder, ask it for the "
                   "backup: POST /api/v1/backup"
                 : ""),
        kExitRuntimeError);
  }
  const auto start = std::chrono::steady_clock::now();
  if (Status s = (*db)->Backup(out); !s.ok()) return ReportError(s);
  const double seconds = SecondsSince(start);
  if (global.json) {
    std::cout << DumpJson({{"backup", out}, {"seconds", std::round(seconds * 1000) / 1000}})
              << "\n";
  } else {
    std::cout << fmt::format("backed up {} to {} in {:.1f} s\n", global.db, out, seconds);
  }
  return kExitOk;
}

}  // namespace

Verb AddCompactVerb(CLI::App& app, GlobalOptions& global) {
  CLI::App* cmd = app.add_subcommand(
      "compact", "Give back now the disk space of deleted, replaced and dropped data.");
  cmd->footer(
      "Rebuilds indexes that still hold removed vectors and compacts the whole database; "
      "prints the folder's size before and after. Without it the space comes back in the "
      "background (after drops, and once a collection removed as much as it holds).");
  AddGlobalOptions(*cmd, global);
  return {cmd, [&global] { return RunCompact(global); }};
}

Verb AddBackupVerb(CLI::App& app, GlobalOptions& global) {
  auto out = std::make_shared<std::string>();
  CLI::App* cmd =
      app.add_subcommand("backup", "Write a consistent copy of the database to a new folder.");
  cmd->footer(
      "The copy holds every write acknowledged before the backup began and opens as a normal "
      "database (--db DEST). Files are hard links on the same filesystem, copies elsewhere. "
      "While `flashembed serve` holds the database, use its POST /api/v1/backup instead.");
  AddGlobalOptions(*cmd, global);
  cmd->add_option("--out", *out, "destination folder (must not exist)")
      ->type_name("DEST")
      ->required();
  return {cmd, [out, &global] { return RunBackup(*out, global); }};
}

}  // namespace flashembed::cli
