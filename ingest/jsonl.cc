// JSON Lines → one SourceDocument per record; a bad record is reported and
// skipped.
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "base/json_depth.h"
#include "base/utf8.h"
#include "ingest/extract.h"

namespace flashembed::ingest::internal {
namespace {

using Json = nlohmann::json;

// nlohmann copies and serialises recursively, one frame per nesting level:
// deeper records are refused before parsing (JsonDepth).
constexpr size_t kMaxJsonDepth = 256;

// Parse errors name the column: "syntax error while parsing value -
// invalid literal; last read: 'x'".
std::string ParseError(std::string_view line) {
  try {
    const Json unused = Json::parse(line);
    (void)unused;
    return "malformed JSON";
  } catch (const Json::exception& e) {
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] parse error at
    // line 1, column 5: " down to "column 5: ...".
    const size_t column = what.find("column ");
    if (column != std::string::npos) what = what.substr(column);
    return "bad JSON (" + what + ")";
  }
}

// A string field, absent (or null) → nullopt in *value; wrong type → error.
bool OptionalString(const Json& record, const char* key, std::string* value, std::string* problem) {
  const auto it = record.find(key);
  if (it == record.end() || it->is_null()) return true;
  if (!it->is_string()) {
    *problem = std::string("\"") + key + "\" must be a string, not " + it->type_name();
    return false;
  }
  *value = it->get<std::string>();
  return true;
}

// Turns one parsed line into a document, or says what is wrong with it.
bool ToDocument(const Json& record, const std::string& default_source, SourceDocument* doc,
                std::string* problem) {
  if (!record.is_object()) {
    *problem = std::string("a record must be a JSON object, not ") + record.type_name();
    return false;
  }
  // BEIR's corpus.jsonl names the id "_id".
  const char* id_key = record.contains("id") || !record.contains("_id") ? "id" : "_id";
  const auto id = record.find(id_key);
  if (id == record.end() || id->is_null()) {
    *problem = "missing \"id\"";
    return false;
  }
  if (id->is_string()) {
    doc->id = id->get<std::string>();
  } else if (id->is_number_unsigned()) {
    doc->id = std::to_string(id->get<uint64_t>());
  } else if (id->is_number_integer()) {
    doc->id = std::to_string(id->get<int64_t>());
  } else {
    *problem =
        fmt::format("\"{}\" must be a string or an integer, not {}", id_key, id->type_name());
    return false;
  }
  if (doc->id.empty()) {
    *problem = fmt::format("empty \"{}\"", id_key);
    return false;
  }
  const auto text = record.find("text");
  if (text == record.end() || text->is_null()) {
    *problem = "missing \"text\"";
    return false;
  }
  if (!text->is_string()) {
    *problem = std::string("\"text\" must be a string, not ") + text->type_name();
    return false;
  }
  doc->text = text->get<std::string>();
  if (!OptionalString(record, "title", &doc->title, problem)) return false;
  doc->source = default_source;
  if (!OptionalString(record, "source", &doc->source, problem)) return false;

  Json metadata = Json::object();
  const auto given = record.find("metadata");
  if (given != record.end() && !given->is_null()) {
    if (!given->is_object()) {
      *problem = std::string("\"metadata\" must be an object, not ") + given->type_name();
      return false;
    }
    metadata = *given;
  } else {
    for (auto it = record.begin(); it != record.end(); ++it) {
      const std::string& key = it.key();
      if (key != id_key && key != "text" && key != "title" && key != "source" &&
          key != "metadata") {
        metadata[key] = it.value();
      }
    }
  }
  doc->metadata = metadata.dump(-1, ' ', false, Json::error_handler_t::replace);
  return true;
}

}  // namespace

Status ReadJsonl(std::string_view bytes, const std::string& where, const ReadOptions& options,
                 const Emit& emit, const OnError& error) {
  // Without a byte-order mark or an explicit encoding the file is checked
  // line by line, so that one bad byte costs one record, not the file.
  std::string decoded;
  std::string_view text = bytes;
  const bool has_bom = bytes.substr(0, 2) == "\xFF\xFE" || bytes.substr(0, 2) == "\xFE\xFF" ||
                       bytes.substr(0, 4) == std::string_view("\0\0\xFE\xFF", 4);
  if (!options.encoding.empty() || has_bom) {
    FE_ASSIGN_OR_RETURN(decoded, DecodeText(bytes, options.encoding, where));
    text = decoded;
  } else {
    if (text.substr(0, 3) == "\xEF\xBB\xBF") text.remove_prefix(3);
    const size_t nul = bytes.find('\0');
    if (nul != std::string_view::npos) return BinaryFileError(bytes, nul, where);
  }
  if (IsBlank(text)) return Status::InvalidArgument(where + ": empty file");

  size_t line_number = 0;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (IsBlank(line)) continue;

    const std::string at = fmt::format("{}:{}", where, line_number);
    SourceDocument doc;
    std::string problem;
    if (const size_t bad = FindInvalidUtf8(line); bad != std::string_view::npos) {
      problem = fmt::format(
          "not UTF-8 (byte 0x{:02X} at column {}); pass --encoding if the file is in another "
          "encoding",
          static_cast<unsigned char>(line[bad]), bad + 1);
    } else if (JsonDepth(line, kMaxJsonDepth) > kMaxJsonDepth) {
      problem = fmt::format("JSON nested deeper than {} levels", kMaxJsonDepth);
    } else {
      const Json record = Json::parse(line, nullptr, /*allow_exceptions=*/false);
      if (record.is_discarded()) {
        problem = ParseError(line);
      } else {
        ToDocument(record, at, &doc, &problem);
      }
    }
    if (!problem.empty()) {
      if (error) error(DocumentError{doc.id, at, Status::InvalidArgument(at + ": " + problem)});
      continue;
    }
    FE_RETURN_IF_ERROR(emit(std::move(doc)));
  }
  return Status::OK();
}

}  // namespace flashembed::ingest::internal
