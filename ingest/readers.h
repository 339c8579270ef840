// Readers for long-document ingest: files, folders and streams turned into
// SourceDocument values (query/database.h), ready for Collection::StartIngest.
//
//   FE_ASSIGN_OR_RETURN(auto files, ingest::ListFiles({"docs/"}, {.include =
//   {"*.md"}})); for (const auto& f : files) {
//     Status s = ingest::ReadFile(f.path, f.id, {}, push, report);
//     if (!s.ok()) report({.id = f.id, .source = f.path.string(), .status =
//     s});
//   }
//
// Formats: plain text and Markdown (kept as written), HTML (visible text:
// scripts, styles and <head> dropped, blocks as line breaks), PDF (the text
// layer, pages separated by "\n\f\n"), and JSON Lines (one document per
// record: "id" (or BEIR's "_id"), "text", optional "title", "source",
// "metadata"; other keys become metadata). Every text handed out is valid UTF-8; input in another
// encoding is converted when its encoding is known (a byte-order mark, an HTML charset declaration,
// ReadOptions::encoding) and refused otherwise, never guessed.
//
// Thread-safety: all functions may be called concurrently (on different
// streams). The first HTML or PDF read initialises libxml2 / poppler and
// routes poppler's diagnostics away from stderr, process-wide.
#ifndef FLASHEMBED_INGEST_READERS_H_
#define FLASHEMBED_INGEST_READERS_H_

#include <cstddef>
#include <filesystem>
#include <functional>
#include <iosfwd>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "query/database.h"

namespace flashembed::ingest {

enum class Format { kAuto, kText, kMarkdown, kHtml, kPdf, kJsonl };

// "auto", "text" (or "txt"), "markdown" (or "md"), "html", "pdf", "jsonl"
// (case-insensitive); nullopt for anything else.
std::optional<Format> ParseFormat(std::string_view name);
// "auto", "text", "markdown", "html", "pdf", "jsonl".
const char* FormatName(Format format);
// By extension, case-insensitive: .txt .text → kText, .md .markdown →
// kMarkdown, .html .htm .xhtml → kHtml, .pdf → kPdf, .jsonl .ndjson →
// kJsonl; anything else (no extension included) kText.
Format FormatOfPath(const std::filesystem::path& path);

// The largest input one document may come from (ReadOptions::max_file_bytes
// by default); `flashembed add` holds each input line to the same limit.
inline constexpr size_t kMaxInputBytes = size_t{1} << 30;

struct ReadOptions {
  // kAuto: by extension (FormatOfPath), except that input it calls text
  // which starts with "%PDF-" is read as PDF.
  Format format = Format::kAuto;
  // "" = detect: UTF-8 (a UTF-8 byte-order mark is dropped), or UTF-16 /
  // UTF-32 with a byte-order mark; HTML also honours its <meta charset>.
  // Otherwise an iconv name ("latin1", "windows-1252", "shift_jis", ...)
  // the bytes are converted from: for text, Markdown and JSONL files, and
  // for HTML in place of the page's declared charset. Unused for PDF.
  std::string encoding;
  // Larger inputs are refused (ResourceExhausted). Default 1 GiB.
  size_t max_file_bytes = kMaxInputBytes;
};

// Receives each document read. A non-OK status stops reading; the reader
// returns it.
using Emit = std::function<Status(SourceDocument doc)>;
// Receives each JSONL record that is refused (DocumentError::source is
// "<file>:<line>", status InvalidArgument "<file>:<line>: <problem>"); the
// reader continues with the next record.
using OnError = std::function<void(DocumentError error)>;

// Reads one file and emits its documents: one for text, Markdown, HTML and
// PDF (id `id`, source path.string(), metadata {"format": ..., "bytes":
// file size} plus "pages" for PDF), one per record for JSONL (the record's
// id; source, title and metadata from the record). `id` is what the caller
// calls the file (InputFile::id). Titles: Markdown's first ATX heading
// (or front-matter title), HTML's <title> (else its first <h1>), the PDF's
// Title entry, else the first non-empty line; at most 200 bytes.
//
// OK once the file was read, even when some JSONL records were refused
// (each went to `error`). Otherwise nothing or only the records before the
// failure were emitted, and the message starts with path.string():
//   NotFound            no such file
//   IOError             unreadable (permissions, a folder, a read error)
//   ResourceExhausted   larger than options.max_file_bytes
//   InvalidArgument     empty or whitespace only; binary (a NUL byte);
//                       not UTF-8 (names the byte and its offset and
//                       suggests --encoding); not valid in
//                       options.encoding (names the offset); an unknown
//                       encoding; HTML or PDF without any text (a PDF
//                       without a text layer, e.g. scanned)
//   Corruption          not a readable PDF (truncated, garbage)
//   NotSupported        an encrypted PDF that needs a password
// or the first non-OK status `emit` returned.
Status ReadFile(const std::filesystem::path& path, const std::string& id,
                const ReadOptions& options, const Emit& emit, const OnError& error);

// As ReadFile for the bytes of `in` (e.g. std::cin, read to its end):
// `name` is the document's id and source and prefixes error messages.
// Format kAuto means by the extension of `name` (text if it has none).
Status ReadStream(std::istream& in, const std::string& name, const ReadOptions& options,
                  const Emit& emit, const OnError& error);

// True for the file names `ingest` treats as images, not text: .jpg .jpeg
// .png .webp .gif (case-insensitive).
bool IsImageFileName(std::string_view name);

// Converts `bytes` to UTF-8 as ReadFile does for text: `encoding` "" detects
// (see ReadOptions::encoding), otherwise iconv converts from it. A leading
// byte-order mark is dropped. InvalidArgument, prefixed with "<where>: ",
// for a NUL byte / character ("binary file (NUL byte at offset N)"),
// invalid UTF-8 (the byte and its offset), a sequence invalid in
// `encoding` (its offset) or an encoding iconv does not know. Empty input
// gives "" (emptiness is the caller's concern).
Result<std::string> DecodeText(std::string_view bytes, const std::string& encoding,
                               const std::string& where);

struct WalkOptions {
  // Globs; empty = every file. A glob without '/' matches the file name, one
  // with '/' the path relative to the root folder ('/' separators; a leading
  // '/' anchors nothing more). '*' and '?' do not cross '/', "**" does
  // ("a/**/b.md" also matches "a/b.md"); "[a-z]", "[!a-z]" are classes and
  // '\' escapes. A trailing '/' means "everything below".
  std::vector<std::string> include;
  // Same syntax; wins over include. A folder matching an exclude glob is
  // not entered.
  std::vector<std::string> exclude;
  // Also list files and enter folders whose name starts with '.' (skipped
  // by default: .git, .cache, ...). Roots themselves are always used.
  bool hidden = false;
};

struct InputFile {
  std::filesystem::path path;  // to open: root / relative path, or the root as given
  std::string id;              // path relative to its root folder ('/' separators), or
                               // the root as given when it is a file
};

// Expands roots (files or folders) into the files to read, sorted by path,
// each file once. Folders are walked recursively; symlinked folders are not
// entered (no loops), symlinked files are listed, other special files
// (sockets, FIFOs) inside folders are skipped, as are subfolders that cannot
// be opened. A root given as a file is listed whatever the globs and
// `hidden` say. Errors: NotFound naming a root that does not exist;
// InvalidArgument for an empty root or glob, or two different files with
// the same id (e.g. a/x.txt and b/x.txt from roots a and b); IOError when
// a root folder cannot be read.
Result<std::vector<InputFile>> ListFiles(const std::vector<std::string>& roots,
                                         const WalkOptions& options);

// Whether `glob` (WalkOptions syntax) matches `relative_path` ('/'
// separators): on the last path component when the glob has no '/'.
// Exposed for tests.
bool GlobMatches(std::string_view glob, std::string_view relative_path);

}  // namespace flashembed::ingest

#endif  // FLASHEMBED_INGEST_READERS_H_
