// Reading the flashembed tool's inputs: JSON Lines records for `add --jsonl`
// and `demo`, query files for `search --queries`, text files with one text per
// line, and vectors and metadata given as flags.
//
// Every reader parses its whole input before returning, so a caller can refuse
// a file with one bad line before writing anything. Errors are InvalidArgument
// (or IOError for an unreadable file, ResourceExhausted for a line longer than
// kMaxLineBytes) whose message starts with "<file>:<line>:". Blank lines are
// skipped but still counted. "-" reads standard input. A NUL byte is refused
// (binary input). JSON lines may nest at most kMaxMetadataDepth levels
// (query/database.h) below the top level: deeper values are refused before
// they are built, naming the top-level key ("metadata nests deeper than 64
// levels").
#ifndef FLASHEMBED_TOOLS_CLI_INPUT_H_
#define FLASHEMBED_TOOLS_CLI_INPUT_H_

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/status.h"
#include "ingest/readers.h"
#include "query/database.h"

namespace flashembed::cli {

// The longest input line, as the largest input ingest reads one document
// from (ingest::kMaxInputBytes, 1 GiB); a longer line is refused once this
// much of it was read.
inline constexpr size_t kMaxLineBytes = ingest::kMaxInputBytes;

// One document to write, before automatic ids are assigned.
struct InputRecord {
  std::optional<Id> id;  // nullopt: the writer assigns one (see cli_ingest.h)
  std::string text;
  std::string metadata = "{}";  // a compact JSON object
  std::vector<float> vector;    // empty: embed `text` (or `image`)
  std::string image;            // a file to embed instead of text (add --image), read when written
  bool apply_exif_orientation = false;  // for `image`
  std::string where;                    // "<file>:<line>" or "argument <n>", for messages
};

// One query of a `search --queries` file.
struct InputQuery {
  nlohmann::ordered_json label;  // the record's "id", else its line number
  std::string text;              // exactly one of text, vector and image is set
  std::vector<float> vector;
  std::string image;        // an image file's path
  std::optional<size_t> k;  // the record's "k", else the -k flag applies
  std::string where;
};

// Calls `visit(record, where, line)` for each non-blank line of `path` in
// order, where `record` is the line parsed as JSON, `line` its 1-based number
// and `where` is "<path>:<line>". Stops at the first malformed line or the
// first error `visit` returns.
using JsonLineVisitor = std::function<Status(const nlohmann::ordered_json& record,
                                             const std::string& where, size_t line)>;
Status ForEachJsonLine(const std::string& path, const JsonLineVisitor& visit);

// OK if `path` is a regular file; NotFound ("<path>: no such file") or
// InvalidArgument ("<path>: not a file") otherwise. For checking image
// inputs before anything is written or printed.
Status CheckImageFile(const std::string& path);

// The image file at `path` as a query or record image (its bytes, with the
// absolute path as source; `apply_exif_orientation` as ImageInput has it).
// NotFound / IOError naming the path; InvalidArgument for an empty file.
Result<ImageInput> ReadImageInput(const std::string& path, bool apply_exif_orientation = false);

// The help of the verbs' --exif-orientation flag.
inline constexpr const char* kExifOrientationHelp =
    "rotate / mirror images as their EXIF Orientation tag says before embedding them (off by "
    "default, as transformers' CLIPImageProcessor does not)";

// Parses one record {"id": int|string (optional), "text": string,
// "metadata": object (optional), "vector": [numbers] (optional)}; "text" or
// "vector" is required. Other keys are ignored.
Result<InputRecord> RecordFromJson(const nlohmann::ordered_json& record, const std::string& where);

// All records of a JSON Lines file.
Result<std::vector<InputRecord>> ReadJsonlRecords(const std::string& path);

// One record per non-blank line of a text file (the line is the text, without
// its line ending), without ids; every record gets `metadata`.
Result<std::vector<InputRecord>> ReadTextLines(const std::string& path,
                                               const std::string& metadata);

// All queries of a JSON Lines file: {"text": string} or {"vector": [numbers]},
// optional "k" (positive integer) and "id" (any JSON value, echoed back).
Result<std::vector<InputQuery>> ReadQueries(const std::string& path);

// A vector given as a JSON array ("[0.1, 0.2]") or as bare comma-separated
// numbers ("0.1,0.2"). InvalidArgument for anything else, or an empty vector.
Result<std::vector<float>> ParseVector(std::string_view text);

// A JSON array of finite numbers as floats.
Result<std::vector<float>> VectorFromJson(const nlohmann::ordered_json& value);

// `text` if it is a JSON object, re-serialised compactly.
Result<std::string> ParseMetadataObject(std::string_view text);

}  // namespace flashembed::cli

#endif  // FLASHEMBED_TOOLS_CLI_INPUT_H_
