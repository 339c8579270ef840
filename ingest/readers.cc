#include "ingest/readers.h"

#include <errno.h>

#include <fmt/format.h>
#include <cstdio>
#include <cstring>
#include <istream>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <system_error>

#include "ingest/extract.h"

namespace flashembed::ingest {
namespace {

namespace fs = std::filesystem;
using internal::AsciiLower;
using internal::CleanTitle;
using internal::FirstLineTitle;
using internal::IsBlank;

constexpr size_t kReadChunk = size_t{1} << 16;

// `size` as text: a stream's size is only known to exceed the limit.
Status TooBig(const std::string& where, const std::string& size, size_t limit) {
  return Status::ResourceExhausted(
      fmt::format("{}: too big ({} bytes; the limit is {})", where, size, limit));
}

Result<std::string> ReadWholeFile(const fs::path& path, const std::string& where,
                                  size_t max_bytes) {
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (ec || !fs::exists(st)) {
    if (!ec || ec == std::errc::no_such_file_or_directory) {
      return Status::NotFound(where + ": no such file");
    }
    return Status::IOError(where + ": " + ec.message());
  }
  if (fs::is_directory(st)) return Status::IOError(where + ": is a folder, not a file");
  std::string bytes;
  if (fs::is_regular_file(st)) {
    const uintmax_t size = fs::file_size(path, ec);
    if (!ec && size > max_bytes) return TooBig(where, std::to_string(size), max_bytes);
    if (!ec) bytes.reserve(static_cast<size_t>(size));
  }
  std::unique_ptr<FILE, int (*)(FILE*)> file(std::fopen(path.c_str(), "rb"), &std::fclose);
  if (file == nullptr) {
    if (errno == ENOENT) return Status::NotFound(where + ": no such file");
    return Status::IOError(where + ": cannot open: " + std::strerror(errno));
  }
  // Read to the end rather than trusting the size: the file may grow, or be
  // a pipe.
  char buffer[kReadChunk];
  while (true) {
    const size_t n = std::fread(buffer, 1, sizeof(buffer), file.get());
    if (bytes.size() + n > max_bytes)
      return TooBig(where, fmt::format("more than {}", max_bytes), max_bytes);
    bytes.append(buffer, n);
    if (n < sizeof(buffer)) break;
  }
  if (std::ferror(file.get())) {
    return Status::IOError(where + ": read error: " + std::strerror(errno));
  }
  return bytes;
}

// Markdown: the title of a YAML front-matter block ("---\ntitle: X\n---").
// `*rest` is set to the text after the block.
std::string FrontMatterTitle(std::string_view text, std::string_view* rest) {
  *rest = text;
  if (text.substr(0, 4) != "---\n" && text.substr(0, 5) != "---\r\n") return "";
  text.remove_prefix(text.find('\n') + 1);
  std::string title;
  while (!text.empty()) {
    const size_t end = text.find('\n');
    std::string_view line = text.substr(0, end);
    text.remove_prefix(end == std::string_view::npos ? text.size() : end + 1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line == "---" || line == "...") {
      *rest = text;
      return title;
    }
    if (title.empty() && line.substr(0, 6) == "title:") {
      std::string value = CleanTitle(line.substr(6));
      if (value.size() >= 2 && (value.front() == '"' || value.front() == '\'') &&
          value.back() == value.front()) {
        value = value.substr(1, value.size() - 2);
      }
      title = CleanTitle(value);
    }
  }
  return "";  // no closing line: not front matter
}

// Markdown: the front-matter title, else the first ATX heading ("# Title",
// outside fenced code), else the first non-empty line.
std::string MarkdownTitle(std::string_view text) {
  std::string_view rest;
  std::string title = FrontMatterTitle(text, &rest);
  if (!title.empty()) return title;
  char fence = 0;  // '`' or '~' inside a fenced code block
  size_t fence_length = 0;
  for (std::string_view lines = rest; !lines.empty();) {
    const size_t end = lines.find('\n');
    std::string_view line = lines.substr(0, end);
    lines.remove_prefix(end == std::string_view::npos ? lines.size() : end + 1);
    size_t indent = 0;
    while (indent < line.size() && line[indent] == ' ') ++indent;
    if (indent > 3) continue;  // indented code
    line.remove_prefix(indent);
    if (!line.empty() && (line[0] == '`' || line[0] == '~')) {
      size_t run = 0;
      while (run < line.size() && line[run] == line[0]) ++run;
      if (run >= 3) {
        if (fence == 0) {
          fence = line[0];
          fence_length = run;
        } else if (fence == line[0] && run >= fence_length) {
          fence = 0;
        }
        continue;
      }
    }
    if (fence != 0) continue;
    size_t level = 0;
    while (level < line.size() && line[level] == '#') ++level;
    if (level == 0 || level > 6) continue;
    if (level < line.size() && line[level] != ' ' && line[level] != '\t' && line[level] != '\r') {
      continue;  // "#hashtag" is not a heading
    }
    std::string heading = CleanTitle(line.substr(level));
    // An optional closing sequence: "# Title ##".
    size_t cut = heading.size();
    while (cut > 0 && heading[cut - 1] == '#') --cut;
    if (cut == 0 || heading[cut - 1] == ' ') heading = CleanTitle(heading.substr(0, cut));
    if (!heading.empty()) return heading;
  }
  return FirstLineTitle(rest);
}

// The bytes of one input, whatever it came from.
Status ReadBytes(std::string_view bytes, const std::string& where, const std::string& id,
                 Format format, const ReadOptions& options, const Emit& emit,
                 const OnError& error) {
  if (IsBlank(bytes)) return Status::InvalidArgument(where + ": empty file");
  if (format == Format::kJsonl) return internal::ReadJsonl(bytes, where, options, emit, error);

  internal::ExtractedText extracted;
  if (format == Format::kHtml) {
    FE_ASSIGN_OR_RETURN(extracted, internal::HtmlToText(bytes, options.encoding, where));
  } else if (format == Format::kPdf) {
    FE_ASSIGN_OR_RETURN(extracted, internal::PdfToText(bytes, where));
  } else {
    FE_ASSIGN_OR_RETURN(extracted.text, DecodeText(bytes, options.encoding, where));
    if (IsBlank(extracted.text)) return Status::InvalidArgument(where + ": empty file");
    extracted.title = format == Format::kMarkdown ? MarkdownTitle(extracted.text)
                                                  : FirstLineTitle(extracted.text);
  }
  nlohmann::json metadata = {{"format", FormatName(format)}, {"bytes", bytes.size()}};
  if (format == Format::kPdf) metadata["pages"] = extracted.pages;

  SourceDocument doc;
  doc.id = id;
  doc.text = std::move(extracted.text);
  doc.source = where;
  doc.title = std::move(extracted.title);
  doc.metadata = metadata.dump();
  return emit(std::move(doc));
}

Format Resolve(Format requested, const fs::path& name, std::string_view bytes) {
  if (requested != Format::kAuto) return requested;
  const Format format = FormatOfPath(name);
  if (format == Format::kText && bytes.substr(0, 5) == "%PDF-") return Format::kPdf;
  return format;
}

}  // namespace

std::optional<Format> ParseFormat(std::string_view name) {
  const std::string lower = AsciiLower(name);
  if (lower == "auto") return Format::kAuto;
  if (lower == "text" || lower == "txt") return Format::kText;
  if (lower == "markdown" || lower == "md") return Format::kMarkdown;
  if (lower == "html") return Format::kHtml;
  if (lower == "pdf") return Format::kPdf;
  if (lower == "jsonl") return Format::kJsonl;
  return std::nullopt;
}

const char* FormatName(Format format) {
  switch (format) {
    case Format::kAuto: return "auto";
    case Format::kText: return "text";
    case Format::kMarkdown: return "markdown";
    case Format::kHtml: return "html";
    case Format::kPdf: return "pdf";
    case Format::kJsonl: return "jsonl";
  }
  return "unknown";
}

Format FormatOfPath(const fs::path& path) {
  const std::string ext = AsciiLower(path.extension().string());
  if (ext == ".md" || ext == ".markdown") return Format::kMarkdown;
  if (ext == ".html" || ext == ".htm" || ext == ".xhtml") return Format::kHtml;
  if (ext == ".pdf") return Format::kPdf;
  if (ext == ".jsonl" || ext == ".ndjson") return Format::kJsonl;
  return Format::kText;
}

bool IsImageFileName(std::string_view name) {
  const size_t dot = name.rfind('.');
  if (dot == std::string_view::npos) return false;
  const std::string ext = AsciiLower(name.substr(dot + 1));
  return ext == "jpg" || ext == "jpeg" || ext == "png" || ext == "webp" || ext == "gif";
}

Status ReadFile(const fs::path& path, const std::string& id, const ReadOptions& options,
                const Emit& emit, const OnError& error) {
  const std::string where = path.string();
  FE_ASSIGN_OR_RETURN(const std::string bytes, ReadWholeFile(path, where, options.max_file_bytes));
  return ReadBytes(bytes, where, id, Resolve(options.format, path, bytes), options, emit, error);
}

Status ReadStream(std::istream& in, const std::string& name, const ReadOptions& options,
                  const Emit& emit, const OnError& error) {
  if (name.empty()) return Status::InvalidArgument("ReadStream: empty name");
  std::string bytes;
  char buffer[kReadChunk];
  while (in) {
    in.read(buffer, sizeof(buffer));
    const auto n = static_cast<size_t>(in.gcount());
    if (bytes.size() + n > options.max_file_bytes) {
      return TooBig(name, fmt::format("more than {}", options.max_file_bytes),
                    options.max_file_bytes);
    }
    bytes.append(buffer, n);
  }
  if (in.bad()) return Status::IOError(name + ": read error");
  return ReadBytes(bytes, name, name, Resolve(options.format, fs::path(name), bytes), options, emit,
                   error);
}

}  // namespace flashembed::ingest
