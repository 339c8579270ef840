// Shared pieces of the flashembed command-line tool: exit codes, the one-line
// error report, opening the database, id parsing, JSON conversion of library
// types and terminal-friendly text formatting.
//
// Thread-safety: the functions are stateless; the tool is single-threaded.
#ifndef FLASHEMBED_TOOLS_CLI_COMMON_H_
#define FLASHEMBED_TOOLS_CLI_COMMON_H_

#include <cstddef>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "query/database.h"

namespace flashembed::cli {

// Process exit codes.
inline constexpr int kExitOk = 0;
inline constexpr int kExitRuntimeError = 1;  // the database or an input file refused
inline constexpr int kExitUsageError = 2;    // bad verb, flag or argument
// `ingest`: some inputs failed (each reported on stderr), the others are stored.
inline constexpr int kExitPartialFailure = 3;

// Options every verb accepts (bound to both the top-level app and each verb).
struct GlobalOptions {
  std::string db;                      // --db: database folder
  bool json = false;                   // --json: machine-readable output
  std::string collection = "default";  // -c/--collection
  bool collection_given = false;       // -c was on the command line (set after parsing)
  bool db_given = false;               // --db was on the command line (set after parsing)
};

// Writes "flashembed: error: <message>" as one line to stderr (newlines in
// `message` become spaces) and returns `exit_code`.
int ReportError(std::string_view message, int exit_code);
// The status message, exit code kExitRuntimeError. REQUIRES: !status.ok().
int ReportError(const Status& status);
// Exit code kExitUsageError.
int ReportUsageError(std::string_view message);

// Opens the database folder `path`. Without `create_if_missing` a missing
// folder is NotFound ("no flashembed database at <path>").
Result<std::unique_ptr<Database>> OpenDatabase(const std::string& path, bool create_if_missing);
// Opens the existing database folder `path` for a verb that only reads.
// When the folder cannot be opened for writing because its filesystem is
// read-only or full, it is opened read-only instead (Options::
// read_only_if_unwritable), with a note on stderr, so reading still works.
// A folder held by another process is read beside it (Options::read_only).
Result<std::unique_ptr<Database>> OpenDatabaseForReading(const std::string& path);

// Opens the database (which must exist) into `db` and returns the
// collection `global.collection`; `for_reading`: by OpenDatabaseForReading.
Result<std::shared_ptr<Collection>> OpenCollection(const GlobalOptions& global,
                                                   std::unique_ptr<Database>& db, bool for_reading);

// A command-line id: an optional '-' and decimal digits make an integer id,
// anything else a string id; `as_string` forces a string id. InvalidArgument
// for "" and for integers outside the 64-bit range.
Result<Id> ParseIdArgument(std::string_view text, bool as_string);

// JSON values are nlohmann::ordered_json so output keeps the documented key
// order ({"query": ..., "hits": [...]}).
//
// JSON id: a number for integer ids, a string otherwise. InvalidArgument for
// other JSON types, "" and integers outside the signed 64-bit range.
Result<Id> IdFromJson(const nlohmann::ordered_json& value);
nlohmann::ordered_json IdToJson(const Id& id);
// An id for messages: 7 for integer ids, "seven" (with quotes) for string ids.
std::string QuoteId(const Id& id);

// The shortest decimal that reads back as the same float (0.1f -> 0.1, not
// 0.10000000149011612). Always a number: non-finite values are clamped to
// the float range (NaN to the lowest float).
nlohmann::ordered_json FloatToJson(float value);
nlohmann::ordered_json VectorToJson(std::span<const float> vector);
// Stored metadata text parsed back into an object (a string if unparsable).
nlohmann::ordered_json MetadataToJson(const std::string& metadata);
// {"id", "text", "metadata"[, "vector"]}: the record format `add --jsonl` reads.
nlohmann::ordered_json DocumentToJson(const Document& doc, bool with_vector);
// {"id", "score", "text", "metadata"[, "vector"]}.
nlohmann::ordered_json HitToJson(const Hit& hit, bool with_vector);
// {"name", "count", "dim", "metric", "encoder", "encoder_spec", "index", "m",
//  "ef_construction", "ef_search", "created_unix_ms"}.
nlohmann::ordered_json CollectionInfoToJson(const CollectionInfo& info);
// Compact one-line JSON; invalid UTF-8 is replaced, never thrown on.
std::string DumpJson(const nlohmann::ordered_json& value);

// "hash" style encoder name for a schema: the encoder, or "none".
std::string EncoderName(const CollectionSchema& schema);

// Bytes for people: "512 B", "3.4 KiB", "120.0 MiB", "2.1 GiB".
std::string FormatBytes(uint64_t bytes);

// Columns available for a table row: $COLUMNS, else the terminal's width when
// stdout is a terminal, else 100; at least 40.
size_t TerminalWidth();
// Columns `text` takes in a terminal (East Asian wide characters count 2).
size_t DisplayWidth(std::string_view text);
// `text` on one line (control characters become spaces), cut at a character
// boundary to at most `width` columns, ending in "..." when cut.
std::string FitToWidth(std::string_view text, size_t width);
// `text` padded with spaces to `width` columns (never cut).
std::string PadToWidth(std::string_view text, size_t width);
// Rows as a left-aligned table, columns two spaces apart, one line each. Every
// column but the last is padded to its widest cell; with `max_width` > 0 the
// last column is cut (FitToWidth) so a line takes at most `max_width` columns
// (but leaves the last column at least 20).
std::string FormatTable(const std::vector<std::vector<std::string>>& rows, size_t max_width);
// A score with four decimals ("0.8123", "-12.5000").
std::string FormatScore(float score);
// The Ranking named vector, text, hybrid or auto (anything else: auto; the
// flags check the names).
Ranking ParseRanking(std::string_view name);
// The Fusion named rrf, weighted or normalized (anything else: rrf; the
// flags check the names).
Fusion ParseFusion(std::string_view name);

}  // namespace flashembed::cli

#endif  // FLASHEMBED_TOOLS_CLI_COMMON_H_
