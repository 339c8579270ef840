// Internals shared by the readers (not part of the module's interface).
#ifndef FLASHEMBED_INGEST_EXTRACT_H_
#define FLASHEMBED_INGEST_EXTRACT_H_

#include <cstddef>
#include <string>
#include <string_view>

#include "base/status.h"
#include "ingest/readers.h"

namespace flashembed::ingest::internal {

inline constexpr size_t kMaxTitleBytes = 200;

// Replaces each byte that does not start a well-formed UTF-8 sequence
// (base/utf8.h's FindInvalidUtf8) with U+FFFD.
std::string RepairUtf8(std::string_view s);

// True when `s` holds only ASCII whitespace.
bool IsBlank(std::string_view s);

// Runs of whitespace collapsed to one space, trimmed, cut to at most
// kMaxTitleBytes at a character boundary.
std::string CleanTitle(std::string_view s);

// CleanTitle of the first line of `text` that is not blank; "" if none.
std::string FirstLineTitle(std::string_view text);

// Lower-cases ASCII letters.
std::string AsciiLower(std::string_view s);

// The "binary file" error for a NUL at `offset` of `bytes`, with a hint when
// the bytes look like UTF-16 without a byte-order mark.
Status BinaryFileError(std::string_view bytes, size_t offset, const std::string& where);

struct ExtractedText {
  std::string text;   // UTF-8
  std::string title;  // CleanTitle'd; may be ""
  int pages = 0;      // PDF only
};

// The visible text of an HTML page (see ReadFile). `encoding` as
// ReadOptions::encoding. InvalidArgument "<where>: no text" when the page
// shows none; decoding errors as DecodeText.
Result<ExtractedText> HtmlToText(std::string_view bytes, const std::string& encoding,
                                 const std::string& where);

// The text layer of a PDF, pages joined with "\n\f\n" (see ReadFile).
Result<ExtractedText> PdfToText(std::string_view bytes, const std::string& where);

// Emits one document per JSONL record of `bytes` (see ReadFile); `where`
// names the input in messages and default sources.
Status ReadJsonl(std::string_view bytes, const std::string& where, const ReadOptions& options,
                 const Emit& emit, const OnError& error);

}  // namespace flashembed::ingest::internal

#endif  // FLASHEMBED_INGEST_EXTRACT_H_
