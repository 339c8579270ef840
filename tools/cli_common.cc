#include "tools/cli_common.h"

#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <limits>

#include <fmt/format.h>

#include "base/number.h"
#include "base/utf8.h"

namespace flashembed::cli {
namespace {

using json = nlohmann::ordered_json;

constexpr size_t kDefaultWidth = 100;
constexpr size_t kMinWidth = 40;

// Decodes one UTF-8 code point at `text[*pos]` and advances `*pos`. Returns
// -1 (and advances one byte) for a byte that does not start a well-formed
// sequence (base/utf8.h: overlong forms and surrogates too), shown as '?'.
int32_t NextCodePoint(std::string_view text, size_t* pos) {
  const Utf8Char c = DecodeUtf8(text, *pos);
  *pos += c.ok() ? c.length : 1;
  return c.ok() ? static_cast<int32_t>(c.cp) : -1;
}

// Terminal columns of one code point: 2 for East Asian wide and emoji ranges
// (the common blocks of Unicode's EastAsianWidth W/F), 1 otherwise.
size_t CodePointWidth(int32_t cp) {
  const bool wide = (cp >= 0x1100 && cp <= 0x115F) || (cp >= 0x2E80 && cp <= 0xA4CF) ||
                    (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                    (cp >= 0xFE30 && cp <= 0xFE4F) || (cp >= 0xFF00 && cp <= 0xFF60) ||
                    (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0x1F300 && cp <= 0x1FAFF) ||
                    (cp >= 0x20000 && cp <= 0x3FFFD);
  return wide ? 2 : 1;
}

}  // namespace

int ReportError(std::string_view message, int exit_code) {
  std::string line(message);
  std::replace(line.begin(), line.end(), '\n', ' ');
  std::replace(line.begin(), line.end(), '\r', ' ');
  std::cout.flush();
  std::cerr << "flashembed: error: " << line << "\n";
  std::cerr.flush();
  return exit_code;
}

int ReportError(const Status& status) { return ReportError(status.message(), kExitRuntimeError); }

int ReportUsageError(std::string_view message) { return ReportError(message, kExitUsageError); }

Result<std::unique_ptr<Database>> OpenDatabase(const std::string& path, bool create_if_missing) {
  Options options;
  options.create_if_missing = create_if_missing;
  return Database::Open(options, path);
}

Result<std::unique_ptr<Database>> OpenDatabaseForReading(const std::string& path) {
  Options options;
  options.create_if_missing = false;
  // Not read_only always: a writable open keeps the folder's lock (a reader
  // never sees a writer's folder half way) and saves index snapshots.
  options.read_only_if_unwritable = true;
  Result<std::unique_ptr<Database>> opened = Database::Open(options, path);
  // Held by a writer (a serve, an add, an ingest): read beside it, seeing
  // what it acknowledged up to now.
  if (!opened.ok() && opened.status().code() == StatusCode::kIOError &&
      opened.status().message().find("is held by another process") != std::string::npos) {
    Options reader;
    reader.read_only = true;
    if (Result<std::unique_ptr<Database>> beside = Database::Open(reader, path); beside.ok()) {
      return beside;
    }
  }
  FE_ASSIGN_OR_RETURN(std::unique_ptr<Database> db, std::move(opened));
  if (db->read_only()) {
    std::string note = db->StorageHealth().message();
    std::replace(note.begin(), note.end(), '\n', ' ');
    std::cout.flush();
    std::cerr << "flashembed: note: " << note << "\n";
  }
  return db;
}

Result<Id> ParseIdArgument(std::string_view text, bool as_string) {
  if (text.empty()) return Status::InvalidArgument("an id must not be empty");
  if (as_string) return Id(text);
  const size_t digits_from = text[0] == '-' ? 1 : 0;
  const bool integer_like =
      text.size() > digits_from && std::all_of(text.begin() + digits_from, text.end(),
                                               [](char c) { return c >= '0' && c <= '9'; });
  if (!integer_like) return Id(text);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size()) {
    return Status::InvalidArgument("id " + std::string(text) +
                                   " is outside the 64-bit integer range; "
                                   "pass --string-id to use it as a string id");
  }
  return Id(value);
}

Result<Id> IdFromJson(const json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t v = value.get<uint64_t>();
    if (v > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return Status::InvalidArgument(fmt::format("id {} is outside the 64-bit range", v));
    }
    return Id(static_cast<int64_t>(v));
  }
  if (value.is_number_integer()) return Id(value.get<int64_t>());
  if (value.is_string()) {
    if (value.get_ref<const std::string&>().empty()) {
      return Status::InvalidArgument("id must not be an empty string");
    }
    return Id(value.get<std::string>());
  }
  return Status::InvalidArgument(std::string("id must be an integer or a non-empty string, got ") +
                                 (value.is_number() ? "a fractional number" : value.type_name()));
}

json IdToJson(const Id& id) {
  if (id.is_int()) return id.as_int();
  return id.as_string();
}

std::string QuoteId(const Id& id) {
  return id.is_int() ? std::to_string(id.as_int()) : "\"" + id.as_string() + "\"";
}

json FloatToJson(float value) { return JsonFloat(value); }

json VectorToJson(std::span<const float> vector) {
  json out = json::array();
  for (float v : vector) out.push_back(FloatToJson(v));
  return out;
}

json MetadataToJson(const std::string& metadata) {
  if (metadata.empty()) return json::object();
  json parsed = json::parse(metadata, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded()) return metadata;
  return parsed;
}

json DocumentToJson(const Document& doc, bool with_vector) {
  json out = {
      {"id", IdToJson(doc.id)}, {"text", doc.text}, {"metadata", MetadataToJson(doc.metadata)}};
  if (with_vector) out["vector"] = VectorToJson(doc.vector);
  return out;
}

json HitToJson(const Hit& hit, bool with_vector) {
  json out = {{"id", IdToJson(hit.id)},
              {"score", FloatToJson(hit.score)},
              {"text", hit.text},
              {"metadata", MetadataToJson(hit.metadata)}};
  if (with_vector) out["vector"] = VectorToJson(hit.vector);
  if (!hit.group.empty()) out["group"] = json::parse(hit.group);
  if (hit.vector_score) out["vector_score"] = FloatToJson(*hit.vector_score);
  if (hit.text_score) out["text_score"] = FloatToJson(*hit.text_score);
  if (hit.rerank_score) out["rerank_score"] = FloatToJson(*hit.rerank_score);
  return out;
}

json CollectionInfoToJson(const CollectionInfo& info) {
  return {{"name", info.name},
          {"count", info.count},
          {"documents", info.documents},
          {"dim", info.schema.dim},
          {"metric", MetricName(info.schema.metric)},
          {"encoder", EncoderName(info.schema)},
          {"encoder_spec", info.encoder_spec},
          {"index", IndexKindName(info.schema.index)},
          {"m", info.schema.hnsw.m},
          {"ef_construction", info.schema.hnsw.ef_construction},
          {"ef_search", info.schema.hnsw.ef_search},
          {"nlist", info.schema.ivf.nlist},
          {"nprobe", info.schema.ivf.nprobe},
          {"train_at", info.schema.ivf.train_at},
          {"pq_m", info.schema.ivf.pq_m},
          {"pq_nbits", info.schema.ivf.pq_nbits},
          {"text_index", info.schema.text_index},
          {"indexed_fields", info.schema.indexed_fields},
          {"query_prefix", info.schema.query_prefix},
          {"document_prefix", info.schema.document_prefix},
          {"reranker", info.schema.reranker},
          {"created_unix_ms", info.created_unix_ms},
          {"disk_bytes", info.disk_bytes}};
}

std::string DumpJson(const json& value) {
  return value.dump(-1, ' ', /*ensure_ascii=*/false, json::error_handler_t::replace);
}

std::string EncoderName(const CollectionSchema& schema) {
  return schema.encoder.empty() ? "none" : schema.encoder;
}

size_t TerminalWidth() {
  size_t width = 0;
  if (const char* columns = std::getenv("COLUMNS"); columns != nullptr) {
    const std::string_view text(columns);
    std::from_chars(text.data(), text.data() + text.size(), width);
  }
  if (width == 0 && isatty(STDOUT_FILENO)) {
    winsize size{};
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &size) == 0) width = size.ws_col;
  }
  if (width == 0) width = kDefaultWidth;
  return std::max(width, kMinWidth);
}

size_t DisplayWidth(std::string_view text) {
  size_t width = 0;
  for (size_t pos = 0; pos < text.size();) {
    const int32_t cp = NextCodePoint(text, &pos);
    width += cp < 0 ? 1 : CodePointWidth(cp);
  }
  return width;
}

std::string FitToWidth(std::string_view text, size_t width) {
  constexpr std::string_view kEllipsis = "...";
  std::string out;
  size_t used = 0;
  // Width and byte length at the last point where "..." would still fit.
  size_t cut_bytes = 0;
  for (size_t pos = 0; pos < text.size();) {
    const size_t start = pos;
    const int32_t cp = NextCodePoint(text, &pos);
    const size_t w = cp < 0 ? 1 : CodePointWidth(cp);
    if (used + w > width) {
      out.resize(cut_bytes);
      // Drop trailing spaces before the ellipsis.
      while (!out.empty() && out.back() == ' ') out.pop_back();
      return out + std::string(kEllipsis);
    }
    if (cp < 0) {
      out += '?';
    } else if (cp < 0x20 || cp == 0x7F) {
      out += ' ';
    } else {
      out.append(text.substr(start, pos - start));
    }
    used += w;
    if (used + kEllipsis.size() <= width) cut_bytes = out.size();
  }
  return out;
}

std::string PadToWidth(std::string_view text, size_t width) {
  std::string out(text);
  const size_t used = DisplayWidth(text);
  if (used < width) out.append(width - used, ' ');
  return out;
}

std::string FormatTable(const std::vector<std::vector<std::string>>& rows, size_t max_width) {
  constexpr size_t kGap = 2;
  constexpr size_t kMinLastColumn = 20;
  std::vector<size_t> widths;
  for (const auto& row : rows) {
    if (row.size() > widths.size()) widths.resize(row.size(), 0);
    for (size_t i = 0; i + 1 < row.size(); ++i)
      widths[i] = std::max(widths[i], DisplayWidth(row[i]));
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      if (i + 1 < row.size()) {
        line += PadToWidth(row[i], widths[i] + kGap);
      } else if (max_width > 0) {
        const size_t used = DisplayWidth(line);
        line +=
            FitToWidth(row[i], std::max(kMinLastColumn, max_width > used ? max_width - used : 0));
      } else {
        line += row[i];
      }
    }
    while (!line.empty() && line.back() == ' ') line.pop_back();
    out += line + "\n";
  }
  return out;
}

std::string FormatScore(float score) { return fmt::format("{:.4f}", score); }

std::string FormatBytes(uint64_t bytes) {
  if (bytes < 1024) return fmt::format("{} B", bytes);
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes) / 1024;
  size_t unit = 0;
  while (value >= 1024 && unit + 1 < std::size(units)) {
    value /= 1024;
    ++unit;
  }
  return fmt::format("{:.1f} {}", value, units[unit]);
}

Result<std::shared_ptr<Collection>> OpenCollection(const GlobalOptions& global,
                                                   std::unique_ptr<Database>& db,
                                                   bool for_reading) {
  if (for_reading) {
    FE_ASSIGN_OR_RETURN(db, OpenDatabaseForReading(global.db));
  } else {
    FE_ASSIGN_OR_RETURN(db, OpenDatabase(global.db, /*create_if_missing=*/false));
  }
  return db->GetCollection(global.collection);
}

Ranking ParseRanking(std::string_view name) {
  if (name == "vector") return Ranking::kVector;
  if (name == "text") return Ranking::kText;
  if (name == "hybrid") return Ranking::kHybrid;
  return Ranking::kAuto;
}

Fusion ParseFusion(std::string_view name) {
  if (name == "weighted") return Fusion::kWeighted;
  if (name == "normalized") return Fusion::kNormalized;
  return Fusion::kRrf;
}

}  // namespace flashembed::cli
