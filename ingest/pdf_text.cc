// PDF → text with poppler-cpp: the text layer of each page in reading order.
#include <poppler-document.h>
#include <poppler-global.h>
#include <poppler-page.h>

#include <climits>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "ingest/extract.h"

namespace flashembed::ingest::internal {
namespace {

// Page separator: a form feed on a line of its own, which the chunker
// treats as a paragraph break.
constexpr std::string_view kPageBreak = "\n\f\n";

std::once_flag poppler_once;

// poppler reports damaged files on stderr by default; the reader returns
// its own error instead.
void IgnorePopplerMessage(const std::string& /*message*/, void* /*closure*/) {}

std::string ToUtf8(const poppler::ustring& s) {
  const poppler::byte_array bytes = s.to_utf8();
  return std::string(bytes.begin(), bytes.end());
}

// A page's text, valid UTF-8 without control characters other than tab
// and line breaks (a PDF's font maps can produce anything), trailing
// whitespace removed.
std::string CleanPageText(std::string_view raw) {
  std::string text = RepairUtf8(raw);
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t' && c != '\n') {
      if (c == '\r') out += '\n';
      continue;
    }
    out += c;
  }
  while (!out.empty() && (out.back() == ' ' || out.back() == '\t' || out.back() == '\n')) {
    out.pop_back();
  }
  return out;
}

Result<ExtractedText> Extract(std::string_view bytes, const std::string& where) {
  std::unique_ptr<poppler::document> doc(
      poppler::document::load_from_raw_data(bytes.data(), static_cast<int>(bytes.size())));
  if (doc == nullptr) {
    // poppler returns no document both for a damaged file and for one that
    // needs a user password; tell them apart by the /Encrypt entry.
    if (bytes.find("/Encrypt") != std::string_view::npos) {
      return Status::NotSupported(where + ": encrypted PDF (it needs a password)");
    }
    return Status::Corruption(where + ": not a readable PDF (damaged or truncated)");
  }
  if (doc->is_locked()) {
    return Status::NotSupported(where + ": encrypted PDF (it needs a password)");
  }
  ExtractedText result;
  result.pages = doc->pages();
  bool any_text = false;
  for (int i = 0; i < result.pages; ++i) {
    if (i > 0) result.text += kPageBreak;
    std::unique_ptr<poppler::page> page(doc->create_page(i));
    if (page == nullptr) continue;
    // The default layout orders text the way it reads (columns one after
    // the other); physical_layout pads with spaces to keep positions and
    // raw_order_layout follows the content stream, which is often jumbled.
    const std::string text = CleanPageText(
        ToUtf8(page->text(poppler::rectf(), poppler::page::non_raw_non_physical_layout)));
    if (!IsBlank(text)) any_text = true;
    result.text += text;
  }
  if (!any_text) {
    return Status::InvalidArgument(where + ": no text layer (a scanned PDF?)");
  }
  result.title = CleanTitle(RepairUtf8(ToUtf8(doc->get_title())));
  if (result.title.empty()) result.title = FirstLineTitle(result.text);
  return result;
}

}  // namespace

Result<ExtractedText> PdfToText(std::string_view bytes, const std::string& where) {
  if (bytes.size() > static_cast<size_t>(INT_MAX)) {
    return Status::ResourceExhausted(
        fmt::format("{}: too big for the PDF reader ({} bytes)", where, bytes.size()));
  }
  std::call_once(poppler_once,
                 [] { poppler::set_debug_error_function(IgnorePopplerMessage, nullptr); });
  // poppler-cpp does not throw by contract, but allocation can.
  try {
    return Extract(bytes, where);
  } catch (const std::exception& e) {
    return Status::Internal(where + ": reading the PDF failed: " + e.what());
  }
}

}  // namespace flashembed::ingest::internal
