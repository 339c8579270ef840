#include "ingest/readers.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/testing/make_pdf.h"
#include "tests/testing/test_util.h"

namespace flashembed::ingest {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::MakePdf;
using testing::TempDir;

::testing::AssertionResult Contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\"" << text << "\" does not contain \"" << part << "\"";
}
#define EXPECT_CONTAINS(text, part) EXPECT_TRUE(Contains(text, part))

void WriteFile(const std::string& path, const std::string& bytes) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  ASSERT_TRUE(out.good()) << path;
}

// Collects what a reader emits and reports.
struct Collector {
  std::vector<SourceDocument> docs;
  std::vector<DocumentError> errors;

  Emit emit() {
    return [this](SourceDocument doc) {
      docs.push_back(std::move(doc));
      return Status::OK();
    };
  }
  OnError error() {
    return [this](DocumentError e) { errors.push_back(std::move(e)); };
  }
  Status Read(const std::string& path, const ReadOptions& options = {}) {
    return ReadFile(path, fs::path(path).filename().string(), options, emit(), error());
  }
  Status ReadBytes(const std::string& name, const std::string& bytes,
                   const ReadOptions& options = {}) {
    std::istringstream in(bytes);
    return ReadStream(in, name, options, emit(), error());
  }
};

// Reads `bytes` as a stream called `name` and returns the one document.
SourceDocument ReadOne(const std::string& name, const std::string& bytes,
                       const ReadOptions& options = {}) {
  Collector c;
  const Status s = c.ReadBytes(name, bytes, options);
  EXPECT_TRUE(s.ok()) << s;
  EXPECT_EQ(c.docs.size(), 1u);
  return c.docs.empty() ? SourceDocument{} : c.docs[0];
}

// The error reading `bytes` as a stream called `name`.
Status ReadError(const std::string& name, const std::string& bytes,
                 const ReadOptions& options = {}) {
  Collector c;
  const Status s = c.ReadBytes(name, bytes, options);
  EXPECT_FALSE(s.ok()) << name << " was read";
  EXPECT_TRUE(c.docs.empty());
  return s;
}

std::string Utf16(const std::u16string& text, bool big_endian) {
  std::string out = big_endian ? "\xFE\xFF" : "\xFF\xFE";
  for (char16_t c : text) {
    const char hi = static_cast<char>(c >> 8);
    const char lo = static_cast<char>(c & 0xFF);
    out += big_endian ? hi : lo;
    out += big_endian ? lo : hi;
  }
  return out;
}

// ---- formats ----

TEST(Format, ParseNameAndExtension) {
  EXPECT_EQ(ParseFormat("MD"), Format::kMarkdown);
  EXPECT_EQ(ParseFormat("txt"), Format::kText);
  EXPECT_EQ(ParseFormat("auto"), Format::kAuto);
  EXPECT_EQ(ParseFormat("jsonl"), Format::kJsonl);
  EXPECT_EQ(ParseFormat("docx"), std::nullopt);
  for (Format f : {Format::kAuto, Format::kText, Format::kMarkdown, Format::kHtml, Format::kPdf,
                   Format::kJsonl}) {
    EXPECT_EQ(ParseFormat(FormatName(f)), f);
  }
  EXPECT_EQ(FormatOfPath("a/b.MarkDown"), Format::kMarkdown);
  EXPECT_EQ(FormatOfPath("page.HTM"), Format::kHtml);
  EXPECT_EQ(FormatOfPath("x.xhtml"), Format::kHtml);
  EXPECT_EQ(FormatOfPath("paper.pdf"), Format::kPdf);
  EXPECT_EQ(FormatOfPath("rows.ndjson"), Format::kJsonl);
  EXPECT_EQ(FormatOfPath("README"), Format::kText);
  EXPECT_EQ(FormatOfPath("main.cc"), Format::kText);
}

// ---- text and Markdown ----

TEST(ReadText, TitleTextSourceMetadata) {
  TempDir dir;
  const std::string text = "\n  \r\n  The  first line \r\nsecond line\r\n";
  WriteFile(dir.Sub("notes.txt"), text);
  Collector c;
  ASSERT_OK(ReadFile(dir.Sub("notes.txt"), "docs/notes.txt", {}, c.emit(), c.error()));
  ASSERT_EQ(c.docs.size(), 1u);
  const SourceDocument& doc = c.docs[0];
  EXPECT_EQ(doc.id, "docs/notes.txt");
  EXPECT_EQ(doc.text,
            text);  // kept byte for byte (CRLF too): offsets refer to it
  EXPECT_EQ(doc.title, "The first line");
  EXPECT_EQ(doc.source, dir.Sub("notes.txt"));
  EXPECT_EQ(Json::parse(doc.metadata), Json({{"format", "text"}, {"bytes", text.size()}}));
  EXPECT_TRUE(c.errors.empty());
}

TEST(ReadText, MarkdownTitleIsFirstHeadingOutsideCode) {
  const std::string md =
      "Intro line\n\n```bash\n# not a "
      "heading\n```\n#hashtag\n    # indented code\n"
      "## Getting  started ##\n\n# Later\n";
  const SourceDocument doc = ReadOne("guide.md", md);
  EXPECT_EQ(doc.title, "Getting started");
  EXPECT_EQ(doc.text, md);  // Markdown is not stripped
  EXPECT_EQ(Json::parse(doc.metadata)["format"], "markdown");

  EXPECT_EQ(ReadOne("a.md", "---\ntitle: \"Front matter\"\ndate: 2024\n---\n# Heading\n").title,
            "Front matter");
  EXPECT_EQ(ReadOne("b.md", "---\nauthor: x\n---\n\nNo heading here\n").title, "No heading here");
  EXPECT_EQ(ReadOne("c.md", "# \n\n   ### Third level\n").title, "Third level");
}

TEST(ReadText, TitleCutAt200BytesOnACharacterBoundary) {
  std::string line;
  for (int i = 0; i < 150; ++i) line += "\xC3\xA9";  // é: 300 bytes
  const SourceDocument doc = ReadOne("long.txt", line + "\nrest");
  EXPECT_EQ(doc.title.size(), 200u);
  EXPECT_EQ(doc.title, line.substr(0, 200));
  line = "x" + line;  // the 200th byte now starts a character
  EXPECT_EQ(ReadOne("long.txt", line).title, line.substr(0, 199));
}

TEST(ReadText, Utf8ByteOrderMarkDropped) {
  const SourceDocument doc = ReadOne("bom.txt", "\xEF\xBB\xBFHello caf\xC3\xA9\n");
  EXPECT_EQ(doc.text, "Hello caf\xC3\xA9\n");
  EXPECT_EQ(doc.title, "Hello caf\xC3\xA9");
}

TEST(ReadText, Utf16WithByteOrderMarkConverted) {
  const std::u16string text = u"Gr\u00FC\u00DFe, \u4E16\u754C \U0001F600\nline two";
  const std::string utf8 =
      "Gr\xC3\xBC\xC3\x9F"
      "e, \xE4\xB8\x96\xE7\x95\x8C \xF0\x9F\x98\x80\nline two";
  EXPECT_EQ(ReadOne("le.txt", Utf16(text, false)).text, utf8);
  EXPECT_EQ(ReadOne("be.txt", Utf16(text, true)).text, utf8);
  // An odd number of bytes cannot be UTF-16.
  const Status s = ReadError("odd.txt", Utf16(text, false) + "x");
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_CONTAINS(s.message(), "odd.txt: not valid UTF-16LE");
}

TEST(ReadText, Latin1WithEncoding) {
  const std::string bytes =
      "caf\xE9 cr\xE8me br\xFBl\xE9"
      "e\n";
  const SourceDocument doc = ReadOne("fr.txt", bytes, {.encoding = "latin1"});
  EXPECT_EQ(doc.text,
            "caf\xC3\xA9 cr\xC3\xA8me br\xC3\xBBl\xC3\xA9"
            "e\n");
  EXPECT_EQ(Json::parse(doc.metadata)["bytes"], bytes.size());
}

TEST(ReadText, InvalidUtf8RefusedNamingByteAndOffset) {
  TempDir dir;
  WriteFile(dir.Sub("docs/a.txt"), std::string(1234, 'a') + "\xE9t\xE9");
  Collector c;
  const Status s = c.Read(dir.Sub("docs/a.txt"));
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message(), dir.Sub("docs/a.txt") +
                             ": not UTF-8 (byte 0xE9 at offset 1234); pass --encoding, e.g. "
                             "--encoding latin1");
  EXPECT_TRUE(c.docs.empty());
  // Ill-formed sequences that look almost right: overlong, surrogate, too big,
  // truncated.
  for (const std::string bad : {"\xC0\xAF", "\xED\xA0\x80", "\xF4\x90\x80\x80", "ok\xE4\xB8"}) {
    EXPECT_CONTAINS(ReadError("b.txt", bad).message(), "not UTF-8") << bad;
  }
}

TEST(ReadText, BinaryFileRefused) {
  std::string png = "\x89PNG\r\n\x1A\n";
  png += std::string("\0\0\0\rIHDR", 8);
  const Status s = ReadError("image.txt", png);
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_EQ(s.message(), "image.txt: binary file (NUL byte at offset 8)");
  // UTF-16 without a byte-order mark: the error says what to pass.
  const std::string utf16 = Utf16(u"plain ascii text here", false).substr(2);
  EXPECT_CONTAINS(ReadError("u16.txt", utf16).message(),
                  "binary file (NUL byte at offset 1); if it is UTF-16 text without a "
                  "byte-order mark, pass --encoding UTF-16LE");
  EXPECT_EQ(ReadOne("u16.txt", utf16, {.encoding = "UTF-16LE"}).text, "plain ascii text here");
  // A NUL that only shows up after conversion is binary too.
  EXPECT_CONTAINS(ReadError("nul.txt", std::string("ab\0c", 4), {.encoding = "latin1"}).message(),
                  "binary file (NUL character at offset 2");
}

TEST(ReadText, EmptyFileRefused) {
  TempDir dir;
  WriteFile(dir.Sub("empty.txt"), "");
  WriteFile(dir.Sub("blank.md"), " \n\t\r\n");
  for (const char* name : {"empty.txt", "blank.md"}) {
    Collector c;
    const Status s = c.Read(dir.Sub(name));
    EXPECT_TRUE(s.IsInvalidArgument());
    EXPECT_EQ(s.message(), dir.Sub(name) + ": empty file");
  }
  EXPECT_EQ(ReadError("u16.txt", Utf16(u" \n ", true)).message(), "u16.txt: empty file");
  EXPECT_EQ(ReadError("e.html", "").message(), "e.html: empty file");
  EXPECT_EQ(ReadError("e.jsonl", "\n\n").message(), "e.jsonl: empty file");
}

TEST(ReadText, EncodingErrors) {
  Status s = ReadError("a.txt", "abc", {.encoding = "no-such-encoding"});
  EXPECT_TRUE(s.IsInvalidArgument());
  EXPECT_CONTAINS(s.message(), "a.txt: unknown encoding 'no-such-encoding'");
  s = ReadError("a.txt", "abc\xE9", {.encoding = "ascii"});
  EXPECT_EQ(s.message(), "a.txt: not valid ascii (byte 0xE9 at offset 3)");
  s = ReadError("a.txt", "ab\x82", {.encoding = "shift_jis"});
  EXPECT_CONTAINS(s.message(), "incomplete character at offset 2");
}

TEST(DecodeText, DetectsAndConverts) {
  ASSERT_OK_AND_ASSIGN(std::string s, DecodeText("", "", "x"));
  EXPECT_EQ(s, "");
  ASSERT_OK_AND_ASSIGN(s, DecodeText("\xEF\xBB\xBF", "", "x"));
  EXPECT_EQ(s, "");
  ASSERT_OK_AND_ASSIGN(s, DecodeText(std::string("\xFF\xFE\0\0A\0\0\0", 8), "", "x"));
  EXPECT_EQ(s, "A");  // UTF-32LE, not UTF-16LE
  ASSERT_OK_AND_ASSIGN(s, DecodeText("\x93quoted\x94", "windows-1252", "x"));
  EXPECT_EQ(s, "\xE2\x80\x9Cquoted\xE2\x80\x9D");
  ASSERT_OK_AND_ASSIGN(s, DecodeText(std::string("\xFF\xFEh\0i\0", 6), "UTF-16", "x"));
  EXPECT_EQ(s, "hi");  // an explicit encoding's byte-order mark is dropped too
  EXPECT_CONTAINS(DecodeText("\xFF", "", "where").status().message(),
                  "where: not UTF-8 (byte 0xFF at offset 0)");
}

TEST(ReadFile, MissingFileFolderAndTooBig) {
  TempDir dir;
  Collector c;
  Status s = c.Read(dir.Sub("nope.txt"));
  EXPECT_TRUE(s.IsNotFound()) << s;
  EXPECT_EQ(s.message(), dir.Sub("nope.txt") + ": no such file");
  fs::create_directory(dir.Sub("folder.txt"));
  s = c.Read(dir.Sub("folder.txt"));
  EXPECT_EQ(s.code(), StatusCode::kIOError) << s;
  WriteFile(dir.Sub("big.txt"), std::string(1000, 'a'));
  s = c.Read(dir.Sub("big.txt"), {.max_file_bytes = 999});
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(s.message(), dir.Sub("big.txt") + ": too big (1000 bytes; the limit is 999)");
  EXPECT_OK(c.Read(dir.Sub("big.txt"), {.max_file_bytes = 1000}));
  s = ReadError("-", std::string(200000, 'a'), {.max_file_bytes = 100000});
  EXPECT_EQ(s.code(), StatusCode::kResourceExhausted) << s;
  EXPECT_EQ(c.docs.size(), 1u);
}

TEST(ReadFile, ExplicitFormatAndPdfSniffing) {
  TempDir dir;
  WriteFile(dir.Sub("page.txt"), "<p>Hello <b>there</b></p>");
  WriteFile(dir.Sub("paper"), MakePdf({{"Sniffed PDF"}}));
  Collector c;
  ASSERT_OK(c.Read(dir.Sub("page.txt"), {.format = Format::kHtml}));
  ASSERT_OK(c.Read(dir.Sub("page.txt")));
  ASSERT_OK(c.Read(dir.Sub("paper")));
  ASSERT_EQ(c.docs.size(), 3u);
  EXPECT_EQ(c.docs[0].text, "Hello there");
  EXPECT_EQ(c.docs[1].text, "<p>Hello <b>there</b></p>");
  EXPECT_EQ(c.docs[2].text, "Sniffed PDF");
}

TEST(ReadFile, EmitErrorStopsAndIsReturned) {
  int calls = 0;
  std::istringstream in("{\"id\":1,\"text\":\"a\"}\n{\"id\":2,\"text\":\"b\"}\n");
  const Status s = ReadStream(
      in, "rows.jsonl", {},
      [&](SourceDocument) {
        ++calls;
        return Status::Cancelled("stop");
      },
      [](DocumentError) {});
  EXPECT_EQ(s, Status::Cancelled("stop"));
  EXPECT_EQ(calls, 1);
}

TEST(ReadStream, StdinLikeStreams) {
  SourceDocument doc = ReadOne("-", "piped text\nmore\n");
  EXPECT_EQ(doc.id, "-");
  EXPECT_EQ(doc.source, "-");
  EXPECT_EQ(doc.title, "piped text");
  EXPECT_EQ(Json::parse(doc.metadata)["format"], "text");
  doc = ReadOne("stdin.md", "# Piped markdown\nbody");
  EXPECT_EQ(doc.title, "Piped markdown");
  doc = ReadOne("-", "<h1>Hi</h1>", {.format = Format::kHtml});
  EXPECT_EQ(doc.text, "Hi");
  Collector c;
  ASSERT_OK(c.ReadBytes("-", "{\"id\":\"a\",\"text\":\"x\"}\n", {.format = Format::kJsonl}));
  ASSERT_EQ(c.docs.size(), 1u);
  EXPECT_EQ(c.docs[0].source, "-:1");
  EXPECT_EQ(ReadError("", "text").code(), StatusCode::kInvalidArgument);
}

// ---- HTML ----

TEST(ReadHtml, VisibleTextOnly) {
  const std::string html = R"(<!DOCTYPE html>
<html><head><title>  The   page title </title>
<style>body { color: red }</style><script>var x = "<p>not text</p>";</script>
<meta name="description" content="not text either"></head>
<body>
<noscript>enable JS</noscript><template><p>template</p></template>
<svg><title>tooltip</title><text>svg text</text></svg>
<h1>Main   heading</h1>
<p>First
   paragraph with <b>bold</b> and <a href="#">a link</a>.</p>
<p>Caf&eacute; &amp; cr&#232;me &lt;tag&gt; &#x1F600;</p>
<div>line one<br>line two<br/><br>line four</div>
<ul><li>one</li><li>two</li></ul>
<pre>
  keep   this
    indented</pre>
<table><tr><th>k</th><td>v</td></tr><tr><td>1</td><td>2</td></tr></table>
<p hidden>hidden text</p><!-- a comment -->
<p>Last</p>
</body></html>)";
  const SourceDocument doc = ReadOne("page.html", html);
  EXPECT_EQ(doc.title, "The page title");
  EXPECT_EQ(doc.text,
            "Main heading\n\n"
            "First paragraph with bold and a link.\n\n"
            "Caf\xC3\xA9 & cr\xC3\xA8me <tag> \xF0\x9F\x98\x80\n\n"
            "line one\nline two\n\nline four\n\n"
            "one\ntwo\n\n"
            "  keep   this\n    indented\n\n"
            "k\tv\n1\t2\n\n"
            "Last");
  EXPECT_EQ(Json::parse(doc.metadata), Json({{"format", "html"}, {"bytes", html.size()}}));
}

TEST(ReadHtml, TitleFallsBackToFirstH1ThenFirstLine) {
  EXPECT_EQ(ReadOne("a.html", "<body><p>intro</p><h1>The <i>H1</i></h1><h1>Other</h1>").title,
            "The H1");
  EXPECT_EQ(ReadOne("b.html", "<body><p>Just a paragraph</p><p>more</p>").title,
            "Just a paragraph");
}

TEST(ReadHtml, DeclaredCharsetHonoured) {
  // An ISO-8859-1 page (read as windows-1252, as browsers do).
  const std::string latin1 =
      "<html><head><meta "
      "charset=\"ISO-8859-1\"><title>R\xE9sum\xE9</title></head>"
      "<body><p>Cr\xE8me br\xFBl\xE9"
      "e \x93quoted\x94</p></body></html>";
  SourceDocument doc = ReadOne("fr.html", latin1);
  EXPECT_EQ(doc.title, "R\xC3\xA9sum\xC3\xA9");
  EXPECT_EQ(doc.text,
            "Cr\xC3\xA8me br\xC3\xBBl\xC3\xA9"
            "e \xE2\x80\x9Cquoted\xE2\x80\x9D");
  // The http-equiv form.
  doc = ReadOne("old.htm",
                "<meta http-equiv=\"Content-Type\" "
                "content=\"text/html; charset=windows-1251\">"
                "<p>\xCF\xF0\xE8\xE2\xE5\xF2</p>");
  EXPECT_EQ(doc.text,
            "\xD0\x9F\xD1\x80\xD0\xB8\xD0\xB2\xD0\xB5\xD1\x82");  // Привет
  // ReadOptions::encoding overrides the declaration.
  doc = ReadOne("wrong.html", "<meta charset=\"utf-8\"><p>caf\xE9</p>", {.encoding = "latin1"});
  EXPECT_EQ(doc.text, "caf\xC3\xA9");
  // A UTF-16 page with a byte-order mark.
  doc = ReadOne("u16.html", Utf16(u"<p>\u00E9t\u00E9</p>", false));
  EXPECT_EQ(doc.text, "\xC3\xA9t\xC3\xA9");
}

TEST(ReadHtml, UndeclaredNonUtf8AndNoTextRefused) {
  Status s = ReadError("x.html", "<p>caf\xE9</p>");
  EXPECT_CONTAINS(s.message(), "x.html: not UTF-8 (byte 0xE9 at offset 6)");
  s = ReadError("bad.html", "<meta charset=\"no-such-charset\"><p>x</p>");
  EXPECT_CONTAINS(s.message(), "unknown encoding 'no-such-charset'");
  EXPECT_CONTAINS(s.message(), "the page declares charset no-such-charset");
  s = ReadError("empty.html",
                "<html><head><title>T</title><script>x()</script></head>"
                "<body> <p>  </p> </body></html>");
  EXPECT_EQ(s.message(), "empty.html: no text");
  EXPECT_EQ(ReadError("bin.html", std::string("<p>\0</p>", 8)).message(),
            "bin.html: binary file (NUL byte at offset 3)");
}

TEST(ReadHtml, DeepNestingAndTagSoup) {
  std::string deep;
  for (int i = 0; i < 100000; ++i) deep += "<div><span>";
  deep += "bottom";
  EXPECT_EQ(ReadOne("deep.html", deep).text, "bottom");
  EXPECT_EQ(ReadOne("soup.html", "<p>one<p>two</b></i><li>three<td>four</table>").text,
            "one\n\ntwo\n\nthree\tfour");
}

TEST(ReadHtml, TextOver10MBNotTruncated) {
  // libxml2 cuts text nodes at 10 MB unless told otherwise.
  std::string words;
  while (words.size() < (11u << 20)) words += "word ";
  words += "end";
  EXPECT_EQ(ReadOne("long.html", "<p>" + words + "</p>").text.size(), words.size());
}

// ---- PDF ----

TEST(ReadPdf, PagesTitleAndMetadata) {
  TempDir dir;
  const std::string pdf =
      MakePdf({{"First page (one)", "second line \\ here"}, {"Second page"}, {"Third page"}},
              "A PDF title");
  WriteFile(dir.Sub("paper.pdf"), pdf);
  Collector c;
  ASSERT_OK(c.Read(dir.Sub("paper.pdf")));
  ASSERT_EQ(c.docs.size(), 1u);
  const SourceDocument& doc = c.docs[0];
  EXPECT_EQ(doc.text, "First page (one)\nsecond line \\ here\n\f\nSecond page\n\f\nThird page");
  EXPECT_EQ(doc.title, "A PDF title");
  EXPECT_EQ(doc.id, "paper.pdf");
  EXPECT_EQ(Json::parse(doc.metadata),
            Json({{"format", "pdf"}, {"bytes", pdf.size()}, {"pages", 3}}));
}

TEST(ReadPdf, NoTitleUsesFirstLineAndEmptyPagesKeepTheirPlace) {
  const SourceDocument doc = ReadOne("p.pdf", MakePdf({{"Opening line"}, {}, {"Last"}}));
  EXPECT_EQ(doc.title, "Opening line");
  EXPECT_EQ(doc.text, "Opening line\n\f\n\n\f\nLast");
}

TEST(ReadPdf, NoTextLayerRefused) {
  const Status s = ReadError("scan.pdf", MakePdf({{}, {}}, "Scanned"));
  EXPECT_TRUE(s.IsInvalidArgument()) << s;
  EXPECT_EQ(s.message(), "scan.pdf: no text layer (a scanned PDF?)");
}

TEST(ReadPdf, TruncatedOrGarbageGivesErrorNotCrash) {
  Status s = ReadError("garbage.pdf", "%PDF-1.4\nthis is not a pdf at all\n");
  EXPECT_TRUE(s.IsCorruption()) << s;
  EXPECT_EQ(s.message(), "garbage.pdf: not a readable PDF (damaged or truncated)");
  const std::string pdf = MakePdf({{"Some text on page one"}, {"And page two"}}, "T");
  s = ReadError("half.pdf", pdf.substr(0, pdf.size() / 2));
  EXPECT_CONTAINS(s.message(), "half.pdf: ");
  // Every cut and a few corruptions: an error or a document, never a crash.
  std::mt19937 rng(7);
  for (size_t cut = 0; cut < pdf.size(); cut += 13) {
    Collector c;
    c.ReadBytes("cut.pdf", pdf.substr(0, cut), {.format = Format::kPdf}).IgnoreError();
    std::string damaged = pdf;
    for (int k = 0; k < 8; ++k) damaged[rng() % damaged.size()] = static_cast<char>(rng());
    c.ReadBytes("damaged.pdf", damaged, {.format = Format::kPdf}).IgnoreError();
  }
}

// ---- JSON Lines ----

TEST(ReadJsonl, GoodRecordsEmittedBadOnesReported) {
  TempDir dir;
  const std::string path = dir.Sub("rows.jsonl");
  WriteFile(path,
            "{\"id\": \"a\", \"text\": \"alpha\", \"title\": \"A\", \"lang\": "
            "\"en\", \"n\": 2}\n"
            "\n"
            "{\"id\": 42, \"text\": \"forty-two\", \"source\": \"http://x\", "
            "\"metadata\": {\"k\": [1, 2]}, \"ignored\": true}\r\n"
            "{\"text\": \"no id\"}\n"
            "{\"id\": \"b\"}\n"
            "{\"id\": 1.5, \"text\": \"x\"}\n"
            "{\"id\": \"c\", \"text\": 7}\n"
            "{\"id\": \"d\", \"text\": \"x\", \"metadata\": [1]}\n"
            "[1, 2]\n"
            "{\"id\": \"e\", \"text\": \"x\"\n"
            "{\"id\": \"f\", \"text\": \"caf\xE9\"}\n"
            "{\"id\": -7, \"text\": \"negative\"}\n");
  Collector c;
  ASSERT_OK(c.Read(path));
  ASSERT_EQ(c.docs.size(), 3u);
  EXPECT_EQ(c.docs[0].id, "a");
  EXPECT_EQ(c.docs[0].text, "alpha");
  EXPECT_EQ(c.docs[0].title, "A");
  EXPECT_EQ(c.docs[0].source, path + ":1");
  EXPECT_EQ(Json::parse(c.docs[0].metadata), Json({{"lang", "en"}, {"n", 2}}));
  EXPECT_EQ(c.docs[1].id, "42");
  EXPECT_EQ(c.docs[1].source, "http://x");
  EXPECT_EQ(Json::parse(c.docs[1].metadata), Json::parse(R"({"k": [1, 2]})"));
  EXPECT_EQ(c.docs[2].id, "-7");
  EXPECT_EQ(c.docs[2].metadata, "{}");

  ASSERT_EQ(c.errors.size(), 8u);
  const std::vector<std::pair<int, std::string>> expected = {
      {4, "missing \"id\""},
      {5, "missing \"text\""},
      {6, "\"id\" must be a string or an integer, not number"},
      {7, "\"text\" must be a string, not number"},
      {8, "\"metadata\" must be an object, not array"},
      {9, "a record must be a JSON object, not array"},
      {10, "bad JSON (column "},
      {11, "not UTF-8 (byte 0xE9 at column 25)"},
  };
  for (size_t i = 0; i < expected.size(); ++i) {
    const std::string at = path + ":" + std::to_string(expected[i].first);
    EXPECT_EQ(c.errors[i].source, at);
    EXPECT_TRUE(c.errors[i].status.IsInvalidArgument());
    EXPECT_CONTAINS(c.errors[i].status.message(), at + ": " + expected[i].second);
  }
  EXPECT_EQ(c.errors[1].id, "b");  // the id is known once it parsed
  EXPECT_EQ(c.errors[0].id, "");
}

TEST(ReadJsonl, EncodingsAndDeepNesting) {
  Collector c;
  ASSERT_OK(
      c.ReadBytes("l1.jsonl", "{\"id\":\"x\",\"text\":\"caf\xE9\"}\n", {.encoding = "latin1"}));
  ASSERT_OK(c.ReadBytes("u16.jsonl", Utf16(u"{\"id\":\"y\",\"text\":\"\u00E9\"}", true)));
  ASSERT_OK(c.ReadBytes("deep.jsonl",
                        "{\"id\":\"z\",\"text\":\"t\",\"m\":" + std::string(100000, '[') + "}\n"));
  ASSERT_EQ(c.docs.size(), 2u);
  EXPECT_EQ(c.docs[0].text, "caf\xC3\xA9");
  EXPECT_EQ(c.docs[1].text, "\xC3\xA9");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_CONTAINS(c.errors[0].status.message(), "deep.jsonl:1: JSON nested deeper");
  EXPECT_CONTAINS(ReadError("b.jsonl", std::string("{\"id\":\0", 7)).message(), "binary file");
}

// ---- robustness ----

TEST(Readers, RandomBytesNeverCrash) {
  std::mt19937 rng(1234);
  const std::vector<std::string> seeds = {
      "<html><body><p>x</p><pre>y</pre></body></html>",
      "{\"id\":1,\"text\":\"x\",\"metadata\":{\"a\":[1,{\"b\":null}]}}\n",
      "# Title\n\n```\ncode\n```\n",
      MakePdf({{"fuzz"}}),
  };
  for (int round = 0; round < 300; ++round) {
    std::string bytes = seeds[round % seeds.size()];
    const int edits = 1 + static_cast<int>(rng() % 6);
    for (int k = 0; k < edits; ++k) {
      const size_t at = rng() % (bytes.size() + 1);
      switch (rng() % 3) {
        case 0: bytes.insert(at, 1, static_cast<char>(rng())); break;
        case 1:
          if (at < bytes.size()) bytes.erase(at, 1);
          break;
        default:
          if (at < bytes.size()) bytes[at] = static_cast<char>(rng());
          break;
      }
    }
    for (Format f :
         {Format::kText, Format::kMarkdown, Format::kHtml, Format::kPdf, Format::kJsonl}) {
      Collector c;
      const Status s = c.ReadBytes("fuzz", bytes, {.format = f});
      if (!s.ok()) {
        EXPECT_CONTAINS(s.message(), "fuzz");
      }
    }
  }
}

// ---- folders ----

class ListFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    for (const char* rel : {"a.txt", "b.md", "sub/c.md", "sub/deep/d.html", "sub/deep/e.txt",
                            ".hidden/h.txt", "sub/.dot.md", "node_modules/x/m.md"}) {
      WriteFile(dir_.Sub("root/" + std::string(rel)), "x");
    }
  }
  std::string Root() const { return dir_.Sub("root"); }

  std::vector<std::string> List(const WalkOptions& options) {
    auto files = ListFiles({Root()}, options);
    EXPECT_TRUE(files.ok()) << files.status();
    std::vector<std::string> ids;
    if (!files.ok()) return ids;
    for (const InputFile& f : *files) {
      EXPECT_EQ(f.path, fs::path(Root()) / f.id);
      ids.push_back(f.id);
    }
    return ids;
  }

  TempDir dir_;
};

using Ids = std::vector<std::string>;

TEST_F(ListFilesTest, RecursiveSortedSkipsHidden) {
  EXPECT_EQ(List({}), (Ids{"a.txt", "b.md", "node_modules/x/m.md", "sub/c.md", "sub/deep/d.html",
                           "sub/deep/e.txt"}));
  EXPECT_EQ(List({.hidden = true}),
            (Ids{".hidden/h.txt", "a.txt", "b.md", "node_modules/x/m.md", "sub/.dot.md", "sub/c.md",
                 "sub/deep/d.html", "sub/deep/e.txt"}));
  // A trailing '/' on the root changes nothing.
  ASSERT_OK_AND_ASSIGN(auto files, ListFiles({Root() + "/"}, {}));
  ASSERT_EQ(files.size(), 6u);
  EXPECT_EQ(files[0].id, "a.txt");
}

TEST_F(ListFilesTest, IncludeExcludeGlobs) {
  EXPECT_EQ(List({.include = {"*.md"}}), (Ids{"b.md", "node_modules/x/m.md", "sub/c.md"}));
  EXPECT_EQ(List({.include = {"*.md"}, .exclude = {"node_modules"}}), (Ids{"b.md", "sub/c.md"}));
  EXPECT_EQ(List({.include = {"sub/**"}}), (Ids{"sub/c.md", "sub/deep/d.html", "sub/deep/e.txt"}));
  EXPECT_EQ(List({.include = {"sub/*"}}), (Ids{"sub/c.md"}));
  EXPECT_EQ(List({.include = {"**/deep/*.txt", "/a.*"}}), (Ids{"a.txt", "sub/deep/e.txt"}));
  EXPECT_EQ(List({.include = {"*.{md}"}}), Ids{});
  EXPECT_EQ(List({.exclude = {"sub/", "*.txt", "node_modules/**"}}), (Ids{"b.md"}));
  EXPECT_EQ(List({.include = {"[ab].*"}, .exclude = {"[!a]*"}}), (Ids{"a.txt"}));
  EXPECT_TRUE(ListFiles({Root()}, {.include = {""}}).status().IsInvalidArgument());
}

TEST_F(ListFilesTest, FileRootsDeduplicationAndErrors) {
  // A file root keeps the id it was given, even hidden and whatever the globs
  // say.
  ASSERT_OK_AND_ASSIGN(auto files,
                       ListFiles({Root() + "/.hidden/h.txt", Root() + "/sub", Root() + "/sub/c.md"},
                                 {.include = {"*.html"}}));
  ASSERT_EQ(files.size(), 3u);
  EXPECT_EQ(files[0].id, Root() + "/.hidden/h.txt");
  EXPECT_EQ(files[1].id, Root() + "/sub/c.md");
  EXPECT_EQ(files[2].id, "deep/d.html");
  // The same file through two roots is listed once.
  ASSERT_OK_AND_ASSIGN(files, ListFiles({Root() + "/sub/deep", Root() + "/sub/deep/./e.txt"}, {}));
  ASSERT_EQ(files.size(), 2u);

  const auto missing = ListFiles({Root(), dir_.Sub("nope")}, {});
  EXPECT_TRUE(missing.status().IsNotFound());
  EXPECT_EQ(missing.status().message(), dir_.Sub("nope") + ": no such file or folder");
  // Two folders holding the same relative path would give one id twice.
  WriteFile(dir_.Sub("other/a.txt"), "y");
  const auto clash = ListFiles({Root(), dir_.Sub("other")}, {});
  EXPECT_TRUE(clash.status().IsInvalidArgument());
  EXPECT_CONTAINS(clash.status().message(), "both have id \"a.txt\"");
}

TEST_F(ListFilesTest, SymlinkedFoldersNotFollowedFilesAre) {
  fs::create_directory_symlink(Root(), Root() + "/sub/loop");
  fs::create_symlink(Root() + "/a.txt", Root() + "/link.txt");
  fs::create_symlink(Root() + "/missing", Root() + "/dangling.txt");
  EXPECT_EQ(List({}), (Ids{"a.txt", "b.md", "link.txt", "node_modules/x/m.md", "sub/c.md",
                           "sub/deep/d.html", "sub/deep/e.txt"}));
}

TEST(GlobMatches, Syntax) {
  EXPECT_TRUE(GlobMatches("*.md", "a/b/c.md"));
  EXPECT_FALSE(GlobMatches("*.md", "a/b/c.mdx"));
  EXPECT_TRUE(GlobMatches("a/*.md", "a/c.md"));
  EXPECT_FALSE(GlobMatches("a/*.md", "a/b/c.md"));
  EXPECT_TRUE(GlobMatches("a/**/c.md", "a/c.md"));
  EXPECT_TRUE(GlobMatches("a/**/c.md", "a/x/y/c.md"));
  EXPECT_FALSE(GlobMatches("a/**/c.md", "ab/c.md"));
  EXPECT_TRUE(GlobMatches("**/c.md", "c.md"));
  EXPECT_TRUE(GlobMatches("a/**", "a/x/y"));
  EXPECT_TRUE(GlobMatches("x/a**", "x/ab/c"));  // "**" not a whole component
  EXPECT_FALSE(GlobMatches("a**", "ab/c"));     // no '/': the file name only
  EXPECT_TRUE(GlobMatches("docs/", "docs/x/y.txt"));
  EXPECT_TRUE(GlobMatches("?.txt", "\xC3\xA9.txt"));  // '?' is one character
  EXPECT_FALSE(GlobMatches("a?b", "a/b"));
  EXPECT_TRUE(GlobMatches("[a-c]x", "bx"));
  EXPECT_FALSE(GlobMatches("[!a-c]x", "bx"));
  EXPECT_TRUE(GlobMatches("[]]", "]"));
  EXPECT_TRUE(GlobMatches("[x", "[x"));
  EXPECT_TRUE(GlobMatches("\\*", "*"));
  EXPECT_FALSE(GlobMatches("\\*", "a"));
  // Many stars cost no more than a table over (pattern, text).
  EXPECT_FALSE(GlobMatches("a*a*a*a*a*a*a*a*a*a*a*b", std::string(5000, 'a')));
}

}  // namespace
}  // namespace flashembed::ingest
