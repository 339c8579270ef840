// HTML → visible text with libxml2's HTML parser. The bytes are decoded to
// UTF-8 here (byte-order mark, the page's declared charset, or
// ReadOptions::encoding) and handed to libxml2 as UTF-8 with its own
// charset detection off, so one set of rules and error messages covers
// every format.
#include <fmt/format.h>
#include <libxml/HTMLparser.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <cctype>
#include <climits>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>

#include "ingest/extract.h"
#include "ingest/readers.h"

namespace flashembed::ingest::internal {
namespace {

bool IsHtmlSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f'; }

bool StartsWithBom(std::string_view b) {
  return b.substr(0, 3) == "\xEF\xBB\xBF" || b.substr(0, 2) == "\xFF\xFE" ||
         b.substr(0, 2) == "\xFE\xFF" || b.substr(0, 4) == std::string_view("\0\0\xFE\xFF", 4);
}

// The value after "charset" / "encoding" at `pos` of the lower-cased `tag`:
// optional spaces, '=', optional spaces and quote, then the name.
std::string ValueAfter(std::string_view tag, size_t pos) {
  while (pos < tag.size() && IsHtmlSpace(tag[pos])) ++pos;
  if (pos >= tag.size() || tag[pos] != '=') return "";
  ++pos;
  while (pos < tag.size() && (IsHtmlSpace(tag[pos]) || tag[pos] == '"' || tag[pos] == '\'')) {
    ++pos;
  }
  size_t end = pos;
  while (end < tag.size() && (std::isalnum(static_cast<unsigned char>(tag[end])) ||
                              std::strchr("-_.:", tag[end]) != nullptr)) {
    ++end;
  }
  return std::string(tag.substr(pos, end - pos));
}

// The charset a page declares in its first 8 KiB (an XML declaration's
// encoding, or a <meta charset=...> / <meta http-equiv content="...;
// charset=...">), lower-cased; "" if none. A prescan in the spirit of
// WHATWG's "prescan a byte stream to determine its encoding".
std::string DeclaredCharset(std::string_view bytes) {
  const std::string head = AsciiLower(bytes.substr(0, 8192));
  if (head.compare(0, 5, "<?xml") == 0) {
    const size_t end = head.find("?>");
    const size_t at = head.find("encoding");
    if (at != std::string::npos && (end == std::string::npos || at < end)) {
      std::string value = ValueAfter(head, at + 8);
      if (!value.empty()) return value;
    }
  }
  size_t pos = 0;
  while ((pos = head.find("<meta", pos)) != std::string::npos) {
    const size_t end = head.find('>', pos);
    const std::string_view tag = std::string_view(head).substr(
        pos, end == std::string::npos ? std::string::npos : end - pos);
    const size_t at = tag.find("charset");
    if (at != std::string_view::npos) {
      std::string value = ValueAfter(tag, at + 7);
      if (!value.empty()) return value;
    }
    if (end == std::string::npos) break;
    pos = end;
  }
  return "";
}

// Bytes → UTF-8 by the rules in readers.h.
Result<std::string> DecodeHtml(std::string_view bytes, const std::string& encoding,
                               const std::string& where) {
  if (!encoding.empty() || StartsWithBom(bytes)) return DecodeText(bytes, encoding, where);
  const std::string declared = DeclaredCharset(bytes);
  // As browsers do: a page that says UTF-16 without a byte-order mark is
  // read as UTF-8, and Latin-1 / ASCII labels mean windows-1252.
  if (declared.empty() || declared == "utf-8" || declared == "utf8" ||
      declared.compare(0, 6, "utf-16") == 0) {
    return DecodeText(bytes, "", where);
  }
  std::string from = declared;
  if (declared == "iso-8859-1" || declared == "iso8859-1" || declared == "latin1" ||
      declared == "l1" || declared == "us-ascii" || declared == "ascii") {
    from = "windows-1252";
  }
  Result<std::string> text = DecodeText(bytes, from, where);
  if (!text.ok()) {
    return Status(text.status().code(), text.status().message() + " (the page declares charset " +
                                            declared + "; pass --encoding to override)");
  }
  return text;
}

std::once_flag libxml_once;

struct DocFree {
  void operator()(xmlDoc* doc) const { xmlFreeDoc(doc); }
};

bool NameIs(const xmlNode* node, std::string_view name) {
  return node->type == XML_ELEMENT_NODE && node->name != nullptr &&
         name == reinterpret_cast<const char*>(node->name);
}

bool NameIn(std::string_view name, std::initializer_list<std::string_view> names) {
  return std::find(names.begin(), names.end(), name) != names.end();
}

// Elements whose content is not shown as text.
bool IsDropped(const xmlNode* node) {
  const std::string_view name = reinterpret_cast<const char*>(node->name);
  return NameIn(name, {"script", "style", "noscript", "template", "svg", "head", "title", "object",
                       "embed", "iframe", "canvas", "select", "datalist"}) ||
         xmlHasProp(node, reinterpret_cast<const xmlChar*>("hidden")) != nullptr;
}

// Line breaks around an element: 2 for blocks with vertical margins in a
// browser's default style sheet (paragraphs, headings, lists, tables), 1 for
// other blocks, 0 for inline elements.
int BreaksAround(std::string_view name) {
  if (NameIn(name, {"p", "h1", "h2", "h3", "h4", "h5", "h6", "pre", "blockquote", "ul", "ol", "dl",
                    "table", "hr", "figure", "menu"})) {
    return 2;
  }
  if (NameIn(name, {"div",    "section",  "article", "aside",   "header",  "footer",     "nav",
                    "main",   "address",  "li",      "dt",      "dd",      "tr",         "caption",
                    "form",   "fieldset", "legend",  "details", "summary", "figcaption", "center",
                    "option", "body",     "html",    "tbody",   "thead",   "tfoot",      "textarea",
                    "dialog", "hgroup",   "search"})) {
    return 1;
  }
  return 0;
}

// Accumulates text the way a browser lays it out, as far as plain text can.
class TextBuilder {
 public:
  void Text(std::string_view s, bool preformatted) {
    if (preformatted) {
      if (drop_pre_newline_) {
        if (s.substr(0, 2) == "\r\n")
          s.remove_prefix(2);
        else if (s.substr(0, 1) == "\n")
          s.remove_prefix(1);
      }
      drop_pre_newline_ = false;
      if (s.empty()) return;
      Flush();
      out_.append(s);
      return;
    }
    drop_pre_newline_ = false;
    for (char c : s) {
      if (IsHtmlSpace(c)) {
        if (separator_ == 0) separator_ = ' ';
        continue;
      }
      Flush();
      out_ += c;
    }
  }
  // At least `n` line breaks before the next text.
  void Break(int n) {
    breaks_ = std::max(breaks_, n);
    separator_ = 0;
  }
  void LineBreak() {  // <br>
    if (out_.empty()) return;
    TrimTrailingSpaces();
    out_ += '\n';
    separator_ = 0;
  }
  void CellBoundary() {  // around <td>: cells on one line, separated by a tab
    if (breaks_ == 0) separator_ = '\t';
  }
  void StartPre() { drop_pre_newline_ = true; }

  const std::string& text() const { return out_; }
  std::string Finish() {
    while (!out_.empty() && IsHtmlSpace(out_.back())) out_.pop_back();
    return std::move(out_);
  }

 private:
  // Writes the pending line breaks or separator before new text.
  void Flush() {
    if (out_.empty()) {
      breaks_ = 0;
      separator_ = 0;
      return;
    }
    if (breaks_ > 0) {
      TrimTrailingSpaces();
      int have = 0;
      for (size_t i = out_.size(); i > 0 && out_[i - 1] == '\n'; --i) ++have;
      for (; have < breaks_; ++have) out_ += '\n';
    } else if (separator_ != 0 && out_.back() != '\n') {
      out_ += separator_;
    }
    breaks_ = 0;
    separator_ = 0;
  }
  void TrimTrailingSpaces() {
    while (!out_.empty() && (out_.back() == ' ' || out_.back() == '\t')) out_.pop_back();
  }

  std::string out_;
  int breaks_ = 0;
  char separator_ = 0;
  bool drop_pre_newline_ = false;
};

// The first <title> outside <svg> (whose <title> is a tooltip).
std::string FindTitle(xmlNode* root) {
  xmlNode* node = root;
  while (node != nullptr) {
    if (NameIs(node, "title")) {
      xmlChar* content = xmlNodeGetContent(node);
      std::string title = content ? CleanTitle(reinterpret_cast<const char*>(content)) : "";
      xmlFree(content);
      if (!title.empty()) return title;
    }
    if (node->children != nullptr && !NameIs(node, "svg")) {
      node = node->children;
      continue;
    }
    while (node != nullptr && node != root && node->next == nullptr) node = node->parent;
    if (node == nullptr || node == root) break;
    node = node->next;
  }
  return "";
}

}  // namespace

Result<ExtractedText> HtmlToText(std::string_view bytes, const std::string& encoding,
                                 const std::string& where) {
  FE_ASSIGN_OR_RETURN(const std::string utf8, DecodeHtml(bytes, encoding, where));
  if (utf8.size() > static_cast<size_t>(INT_MAX)) {
    return Status::ResourceExhausted(
        fmt::format("{}: too big for the HTML parser ({} bytes)", where, utf8.size()));
  }
  std::call_once(libxml_once, [] { xmlInitParser(); });
  // HUGE lifts libxml2's 10 MB cap on one text node (a long <pre>); the
  // tree is walked without recursion below, so depth is no concern.
  const int parse_options = HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                            HTML_PARSE_NONET | HTML_PARSE_IGNORE_ENC | XML_PARSE_HUGE;
  std::unique_ptr<xmlDoc, DocFree> doc(
      htmlReadMemory(utf8.data(), static_cast<int>(utf8.size()), nullptr, "UTF-8", parse_options));
  xmlNode* root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr) return Status::InvalidArgument(where + ": no text");

  ExtractedText result;
  result.title = FindTitle(root);
  TextBuilder builder;
  int pre_depth = 0;
  const xmlNode* h1 = nullptr;  // the first <h1>, while inside it
  size_t h1_begin = 0;
  std::string h1_title;

  // Depth-first walk without recursion (pages can nest deeply), calling
  // leave() for every element that was entered.
  auto enter = [&](xmlNode* node) -> bool {
    if (node->type == XML_TEXT_NODE || node->type == XML_CDATA_SECTION_NODE) {
      if (node->content != nullptr) {
        builder.Text(reinterpret_cast<const char*>(node->content), pre_depth > 0);
      }
      return false;
    }
    if (node->type != XML_ELEMENT_NODE || node->name == nullptr) return false;
    if (IsDropped(node)) return false;
    const std::string_view name = reinterpret_cast<const char*>(node->name);
    if (name == "br") {
      builder.LineBreak();
      return false;
    }
    if (const int n = BreaksAround(name); n > 0) builder.Break(n);
    if (name == "td" || name == "th") builder.CellBoundary();  // also a stray cell
    if (name == "pre" || name == "textarea" || name == "listing" || name == "plaintext") {
      ++pre_depth;
      builder.StartPre();
    }
    if (name == "h1" && h1_title.empty() && h1 == nullptr) {
      h1 = node;
      h1_begin = builder.text().size();
    }
    return true;
  };
  auto leave = [&](xmlNode* node) {
    const std::string_view name = reinterpret_cast<const char*>(node->name);
    if (const int n = BreaksAround(name); n > 0) builder.Break(n);
    if (name == "td" || name == "th") builder.CellBoundary();
    if (name == "pre" || name == "textarea" || name == "listing" || name == "plaintext") {
      --pre_depth;
    }
    if (node == h1) {
      h1_title = CleanTitle(
          std::string_view(builder.text()).substr(std::min(h1_begin, builder.text().size())));
      h1 = nullptr;
    }
  };
  xmlNode* node = root;
  while (node != nullptr) {
    if (enter(node) && node->children != nullptr) {
      node = node->children;
      continue;
    }
    // No children to visit: leave this node and every ancestor whose last
    // child it was, then move to the next sibling.
    while (true) {
      const bool entered_element = node->type == XML_ELEMENT_NODE && node->name != nullptr &&
                                   !IsDropped(node) && !NameIs(node, "br");
      if (entered_element) leave(node);
      if (node == root) {
        node = nullptr;
        break;
      }
      if (node->next != nullptr) {
        node = node->next;
        break;
      }
      node = node->parent;
      if (node == nullptr) break;
    }
  }

  result.text = builder.Finish();
  if (IsBlank(result.text)) return Status::InvalidArgument(where + ": no text");
  if (result.title.empty()) result.title = h1_title;
  if (result.title.empty()) result.title = FirstLineTitle(result.text);
  return result;
}

}  // namespace flashembed::ingest::internal
