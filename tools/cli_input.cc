#include "tools/cli_input.h"

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>
#include <optional>
#include <sstream>
#include <vector>

#include <fmt/format.h>

#include "base/json_depth.h"
#include "tools/cli_common.h"

namespace flashembed::cli {
namespace {

using json = nlohmann::ordered_json;

// Reads `path` ("-" = stdin) line by line, without line endings; calls
// `visit(line, where, number)` for every line that is not blank. Lines are
// read in blocks and never held beyond kMaxLineBytes, so input without line
// ends (a huge file, /dev/zero) ends in an error, not in exhausting memory;
// a NUL byte is refused at once, as ingest refuses binary files.
Status ForEachLine(
    const std::string& path,
    const std::function<Status(std::string_view, const std::string&, size_t)>& visit) {
  std::ifstream file;
  std::istream* in = &std::cin;
  const std::string name = path == "-" ? std::string("<stdin>") : path;
  if (path != "-") {
    file.open(path, std::ios::binary);
    if (!file) return Status::IOError("cannot read " + path + ": " + std::strerror(errno));
    in = &file;
  }
  std::vector<char> block(size_t{1} << 16);
  size_t pos = 0;
  size_t end = 0;
  std::string line;
  for (size_t number = 1;; ++number) {
    line.clear();
    bool complete = false;  // ended by '\n' (else by the end of the input)
    while (!complete) {
      if (pos == end) {
        in->read(block.data(), static_cast<std::streamsize>(block.size()));
        end = static_cast<size_t>(in->gcount());
        pos = 0;
        if (end == 0) break;
      }
      const char* from = block.data() + pos;
      const char* newline = static_cast<const char*>(std::memchr(from, '\n', end - pos));
      const size_t take = newline != nullptr ? static_cast<size_t>(newline - from) : end - pos;
      const auto where = [&] { return fmt::format("{}:{}", name, number); };
      if (const void* nul = std::memchr(from, '\0', take); nul != nullptr) {
        const size_t column =
            line.size() + static_cast<size_t>(static_cast<const char*>(nul) - from) + 1;
        return Status::InvalidArgument(
            fmt::format("{}: binary input (NUL byte at column {})", where(), column));
      }
      if (line.size() + take > kMaxLineBytes) {
        return Status::ResourceExhausted(fmt::format(
            "{}: line too long (more than {} bytes, the limit)", where(), kMaxLineBytes));
      }
      line.append(from, take);
      pos += take;
      if (newline != nullptr) {
        ++pos;
        complete = true;
      }
    }
    if (!complete && line.empty()) break;  // the end of the input
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t\f\v") == std::string::npos) continue;
    FE_RETURN_IF_ERROR(visit(line, fmt::format("{}:{}", name, number), number));
  }
  if (in->bad()) return Status::IOError("error reading " + name + ": " + std::strerror(errno));
  return Status::OK();
}

// nlohmann's "[json.exception.parse_error.101] parse error at line 1, column
// 5: syntax error ..." as "at column 5: syntax error ...".
std::string CleanParseError(const std::string& what) {
  std::string message = what;
  if (!message.empty() && message[0] == '[') {
    const size_t end = message.find("] ");
    if (end != std::string::npos) message.erase(0, end + 2);
  }
  const std::string kPrefix = "parse error at line 1, ";
  if (message.rfind(kPrefix, 0) == 0) message = "at " + message.substr(kPrefix.size());
  return message;
}

// One line as JSON. nlohmann parses iteratively but copies and dumps
// recursively, so a value nested tens of thousands of levels deep would
// crash whoever copies it: the parse drops (without building) anything
// nested deeper than the library's metadata limit, kMaxMetadataDepth, and
// the line is refused naming the top-level key it is under. A record's
// "metadata" thus gets the library's own message.
Result<json> ParseJsonLine(std::string_view line, const std::string& where) {
  std::string key;                      // the top-level key being parsed
  std::optional<std::string> too_deep;  // the key it was under, once found
  const json::parser_callback_t limit = [&](int depth, json::parse_event_t event, json& parsed) {
    if (event == json::parse_event_t::key && depth == 1) {
      key = parsed.get<std::string>();
    } else if ((event == json::parse_event_t::object_start ||
                event == json::parse_event_t::array_start) &&
               depth > kMaxMetadataDepth) {
      if (!too_deep) too_deep = key;
      return false;
    }
    return true;
  };
  json record;
  try {
    record = json::parse(line, limit);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(where + ": malformed JSON " + CleanParseError(e.what()));
  }
  if (too_deep) {
    const std::string what = too_deep->empty()         ? "JSON"
                             : *too_deep == "metadata" ? "metadata"
                                                       : "\"" + *too_deep + "\"";
    return Status::InvalidArgument(
        fmt::format("{}: {} nests deeper than {} levels", where, what, kMaxMetadataDepth));
  }
  return record;
}

std::string TypeName(const json& value) {
  if (value.is_number()) return "a number";
  return value.type_name();
}

}  // namespace

Status ForEachJsonLine(const std::string& path, const JsonLineVisitor& visit) {
  return ForEachLine(path,
                     [&](std::string_view line, const std::string& where, size_t number) -> Status {
                       FE_ASSIGN_OR_RETURN(json record, ParseJsonLine(line, where));
                       return visit(record, where, number);
                     });
}

Result<std::vector<float>> VectorFromJson(const json& value) {
  if (!value.is_array()) {
    return Status::InvalidArgument("vector must be an array of numbers, got " + TypeName(value));
  }
  std::vector<float> vector;
  vector.reserve(value.size());
  for (const json& element : value) {
    if (!element.is_number()) {
      return Status::InvalidArgument(fmt::format("vector element {} must be a number, got {}",
                                                 vector.size(), TypeName(element)));
    }
    const double v = element.get<double>();
    if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max()) {
      return Status::InvalidArgument(
          fmt::format("vector element {} is not a finite 32-bit float", vector.size()));
    }
    vector.push_back(static_cast<float>(v));
  }
  if (vector.empty()) return Status::InvalidArgument("vector is empty");
  return vector;
}

Result<InputRecord> RecordFromJson(const json& record, const std::string& where) {
  const auto fail = [&](const std::string& message) {
    return Status::InvalidArgument(where + ": " + message);
  };
  if (!record.is_object()) return fail("expected a JSON object, got " + TypeName(record));
  InputRecord out;
  out.where = where;
  if (auto it = record.find("id"); it != record.end()) {
    Result<Id> id = IdFromJson(*it);
    if (!id.ok()) return fail(id.status().message());
    out.id = std::move(*id);
  }
  if (auto it = record.find("text"); it != record.end()) {
    if (!it->is_string()) return fail("\"text\" must be a string, got " + TypeName(*it));
    out.text = it->get<std::string>();
  }
  if (auto it = record.find("vector"); it != record.end()) {
    Result<std::vector<float>> vector = VectorFromJson(*it);
    if (!vector.ok()) return fail(vector.status().message());
    out.vector = std::move(*vector);
  }
  if (auto it = record.find("metadata"); it != record.end()) {
    if (!it->is_object()) return fail("\"metadata\" must be a JSON object, got " + TypeName(*it));
    out.metadata = DumpJson(*it);
  }
  if (out.text.empty() && out.vector.empty()) {
    return fail(record.contains("text") ? "\"text\" is empty and no \"vector\" is given"
                                        : "record needs a \"text\" or a \"vector\"");
  }
  return out;
}

Result<std::vector<InputRecord>> ReadJsonlRecords(const std::string& path) {
  std::vector<InputRecord> records;
  FE_RETURN_IF_ERROR(
      ForEachJsonLine(path, [&](const json& value, const std::string& where, size_t) {
        FE_ASSIGN_OR_RETURN(InputRecord record, RecordFromJson(value, where));
        records.push_back(std::move(record));
        return Status::OK();
      }));
  return records;
}

Result<std::vector<InputRecord>> ReadTextLines(const std::string& path,
                                               const std::string& metadata) {
  std::vector<InputRecord> records;
  FE_RETURN_IF_ERROR(
      ForEachLine(path, [&](std::string_view line, const std::string& where, size_t) {
        records.push_back(InputRecord{.id = std::nullopt,
                                      .text = std::string(line),
                                      .metadata = metadata,
                                      .vector = {},
                                      .where = where});
        return Status::OK();
      }));
  return records;
}

Result<std::vector<InputQuery>> ReadQueries(const std::string& path) {
  std::vector<InputQuery> queries;
  FE_RETURN_IF_ERROR(ForEachJsonLine(
      path, [&](const json& record, const std::string& where, size_t line) -> Status {
        const auto fail = [&](const std::string& message) {
          return Status::InvalidArgument(where + ": " + message);
        };
        if (!record.is_object()) return fail("expected a JSON object, got " + TypeName(record));
        InputQuery query;
        query.where = where;
        query.label = record.contains("id") ? record["id"] : json(line);
        const auto text = record.find("text");
        const auto vector = record.find("vector");
        const auto image = record.find("image");
        if ((text != record.end()) + (vector != record.end()) + (image != record.end()) != 1) {
          return fail("a query needs exactly one of \"text\", \"vector\" and \"image\"");
        }
        if (image != record.end()) {
          if (!image->is_string() || image->get<std::string>().empty()) {
            return fail("\"image\" must be a file path, got " + DumpJson(*image));
          }
          query.image = image->get<std::string>();
        } else if (text != record.end()) {
          if (!text->is_string()) return fail("\"text\" must be a string, got " + TypeName(*text));
          query.text = text->get<std::string>();
          if (query.text.empty()) return fail("\"text\" is empty");
        } else {
          Result<std::vector<float>> parsed = VectorFromJson(*vector);
          if (!parsed.ok()) return fail(parsed.status().message());
          query.vector = std::move(*parsed);
        }
        if (const auto k = record.find("k"); k != record.end()) {
          if (!k->is_number_integer() || k->get<int64_t>() <= 0) {
            return fail("\"k\" must be a positive integer, got " + DumpJson(*k));
          }
          query.k = k->get<size_t>();
        }
        queries.push_back(std::move(query));
        return Status::OK();
      }));
  return queries;
}

Status CheckImageFile(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_regular_file(path, ec)) return Status::OK();
  if (std::filesystem::exists(path, ec)) return Status::InvalidArgument(path + ": not a file");
  return Status::NotFound(path + ": no such file");
}

Result<ImageInput> ReadImageInput(const std::string& path, bool apply_exif_orientation) {
  FE_RETURN_IF_ERROR(CheckImageFile(path));
  std::error_code ec;
  std::ifstream in(path, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) return Status::IOError(path + ": cannot be read");
  ImageInput image;
  image.bytes = std::move(bytes).str();
  if (image.bytes.empty()) return Status::InvalidArgument(path + ": empty file, not an image");
  // The absolute path, so the record names its file from anywhere (and can
  // be embedded again from it, see Database::Reembed).
  image.source = std::filesystem::absolute(path, ec).lexically_normal().string();
  if (ec) image.source = path;
  image.apply_exif_orientation = apply_exif_orientation;
  return image;
}

Result<std::vector<float>> ParseVector(std::string_view text) {
  const size_t first = text.find_first_not_of(" \t\n");
  const bool bracketed = first != std::string_view::npos && text[first] == '[';
  const std::string source = bracketed ? std::string(text) : "[" + std::string(text) + "]";
  const json parsed = json::parse(source, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) {
    return Status::InvalidArgument("expected a vector such as [0.1, 0.2] or 0.1,0.2, got \"" +
                                   std::string(text) + "\"");
  }
  return VectorFromJson(parsed);
}

Result<std::string> ParseMetadataObject(std::string_view text) {
  // The depth first: the parse below would build (and the dump recurse
  // through) however deep the text nests.
  if (JsonDepth(text, kMaxMetadataDepth) > static_cast<size_t>(kMaxMetadataDepth)) {
    return Status::InvalidArgument(
        fmt::format("metadata nests deeper than {} levels", kMaxMetadataDepth));
  }
  const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return Status::InvalidArgument(
        "metadata must be a JSON object such as {\"lang\": \"en\"}, got " + std::string(text));
  }
  return DumpJson(parsed);
}

}  // namespace flashembed::cli
