// End-to-end tests of the long-document verbs of the flashembed tool: ingest
// (files, folders, stdin), search --documents, get --document, delete
// --document and the DOCS count of stats. Each test runs the real binary
// (FLASHEMBED_CLI_PATH) in a fresh temporary folder.
#include <fcntl.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

// Relative: cli_tests has no include path into the source tree (it only
// runs the binary), and these need nothing else.
#include "../testing/make_pdf.h"
#include "../testing/process_util.h"
#include "cli_fixture.h"

namespace {

using nlohmann::json;

constexpr const char* kModelDir = FLASHEMBED_MODEL_DIR;
// Debian's base-files always ships it: 35 kB of ASCII prose.
constexpr const char* kGpl3 = "/usr/share/common-licenses/GPL-3";

using flashembed::testing::Lines;
using flashembed::testing::OneJson;
using flashembed::testing::OpenPty;
using flashembed::testing::ReadAll;
using flashembed::testing::RunResult;

// The "source" of every error of an ingest summary.
std::set<std::string> ErrorSources(const json& summary) {
  std::set<std::string> out;
  for (const json& e : summary["errors"]) out.insert(e["source"].get<std::string>());
  return out;
}

class IngestCliTest : public flashembed::testing::CliFixture {
 protected:
  // `ingest ARGS` with the JSON summary parsed.
  json Ingest(std::vector<std::string> args, const std::string& input = "") {
    args.insert(args.begin(), "ingest");
    return OneJson(RunOk(args, input));
  }

  // `ingest ARGS` where some inputs fail: exit `exit_code` (3: the others
  // are stored; 1: none is), the JSON summary on stdout, and on stderr one
  // line "flashembed: error: SOURCE: ..." per failed input, in the
  // summary's order. Returns the summary.
  json IngestWithFailures(std::vector<std::string> args, int exit_code = 3,
                          const std::string& input = "") {
    args.insert(args.begin(), "ingest");
    const RunResult r = Run(args, input);
    EXPECT_EQ(r.exit_code, exit_code) << "stderr: " << r.err << "\nstdout: " << r.out;
    const json summary = OneJson(r);
    const std::vector<std::string> lines = Lines(r.err);
    EXPECT_GT(summary.value("failed", 0), 0) << summary;
    EXPECT_EQ(lines.size(), summary.value("failed", size_t{0})) << r.err;
    for (size_t i = 0; i < lines.size() && i < summary["errors"].size(); ++i) {
      const json& e = summary["errors"][i];
      EXPECT_EQ(lines[i].rfind("flashembed: error: " + e["source"].get<std::string>() + ": ", 0),
                0u)
          << lines[i];
      EXPECT_NE(lines[i].find(e["error"].get<std::string>()), std::string::npos) << lines[i];
    }
    return summary;
  }

  // get --document --json for one id.
  json GetDocument(const std::string& id, const std::string& collection = "default") {
    return OneJson(RunOk({"get", "-c", collection, "--json", "--document", id}));
  }

  // The stats --json entry of `collection`.
  json CollectionStats(const std::string& collection) {
    const json stats = OneJson(RunOk({"stats", "--json", "-c", collection}));
    EXPECT_EQ(stats["collections"].size(), 1u) << stats;
    return stats["collections"].empty() ? json() : stats["collections"][0];
  }

  // Ids of the documents stored in `collection`: the "doc" metadata of
  // every first chunk.
  std::set<std::string> DocumentIds(const std::string& collection = "default") {
    const RunResult r = RunOk({"get", "-c", collection, "--json", "--filter", "chunk[\"n\"] == 0"});
    std::set<std::string> ids;
    for (const std::string& line : Lines(r.out)) {
      ids.insert(json::parse(line)["metadata"]["doc"]["id"].get<std::string>());
    }
    return ids;
  }

  // The text of chunk `n` of document `id` (the record "<id>#<n>").
  std::string ChunkText(const std::string& id, int n, const std::string& collection = "default") {
    const json chunk = OneJson(
        RunOk({"get", "-c", collection, "--json", "--string-id", id + "#" + std::to_string(n)}));
    return chunk.is_object() ? chunk["text"].get<std::string>() : "";
  }

  // Expects every chunk of document `id` to be `text`'s bytes [begin, end),
  // the chunks in order, overlapping or touching, from the first word to
  // the last.
  void ExpectChunksAreBytesOf(const std::string& id, const std::string& text,
                              const std::string& collection = "default") {
    const json d = GetDocument(id, collection);
    ASSERT_FALSE(d["chunks"].empty()) << d;
    EXPECT_EQ(d["bytes"], text.size());
    uint64_t last_end = 0;
    for (const json& c : d["chunks"]) {
      const uint64_t begin = c["begin"], end = c["end"];
      ASSERT_LT(begin, end) << c;
      ASSERT_LE(end, text.size()) << c;
      EXPECT_LE(begin, last_end == 0 ? text.find_first_not_of(" \n") : last_end) << c;
      EXPECT_EQ(ChunkText(id, c["chunk"], collection), text.substr(begin, end - begin)) << c;
      last_end = end;
    }
    EXPECT_GE(last_end, text.find_last_not_of(" \n") + 1);
  }

  // docs/: six documents in five formats that read well, and three inputs
  // that fail (an empty file, a binary file, a bad JSONL line).
  void WriteMixedFolder() {
    WriteFile("docs/plain.txt",
              "Tide pools hold anemones and small crabs. The water warms at low tide.\n");
    WriteFile("docs/notes/guide.md",
              "# Sourdough Guide\n\nFeed the starter flour and water every day. Bake when it "
              "doubles.\n");
    WriteFile("docs/notes/web/page.html",
              "<html><head><title>Glacier Page</title><style>p{}</style></head><body><h1>"
              "Glaciers</h1><p>Glaciers carve deep valleys into mountains.</p></body></html>");
    ASSERT_TRUE(flashembed::testing::WritePdf(
        tmp_.Sub("docs/report.pdf"),
        {{"Volcanoes erupt molten lava.", "Ash clouds travel far."},
         {"The second page talks about geysers.", "Hot springs bubble."}},
        "Volcano Report"));
    WriteFile("docs/records.jsonl",
              "{\"id\": \"rec-1\", \"text\": \"Marathon runners hit the wall near kilometre "
              "thirty.\", \"title\": \"Running\"}\n"
              "{\"id\": \"rec-2\", \"text\": oops}\n"
              "{\"id\": \"rec-3\", \"text\": \"The borrow checker enforces ownership rules.\"}\n");
    WriteFile("docs/empty.txt", "");
    WriteFile("docs/notes/blob.bin", std::string("PK\x03\x04\x14\0\0\0", 8));
  }
};

// --- a folder of mixed formats --------------------------------------------------

TEST_F(IngestCliTest, FolderOfMixedFormats) {
  WriteMixedFolder();
  const json s = IngestWithFailures({"docs"});
  EXPECT_EQ(s["collection"], "default");
  EXPECT_EQ(s["added"], 6) << s;  // txt, md, html, pdf, 2 JSONL records
  EXPECT_EQ(s["replaced"], 0);
  EXPECT_EQ(s["unchanged"], 0);
  EXPECT_EQ(s["failed"], 3) << s;  // empty, binary, JSONL line 2
  EXPECT_EQ(s["documents"], 9);
  EXPECT_GE(s["chunks"].get<int>(), 6);
  EXPECT_EQ(s["chunks_encoded"], s["chunks"]);
  EXPECT_GT(s["tokens_encoded"].get<int>(), 0);
  EXPECT_GT(s["bytes"].get<int>(), 0);
  ASSERT_EQ(s["errors"].size(), 3u) << s;
  EXPECT_EQ(ErrorSources(s), (std::set<std::string>{"docs/empty.txt", "docs/notes/blob.bin",
                                                    "docs/records.jsonl:2"}));
  for (const json& e : s["errors"]) {
    const std::string source = e["source"], error = e["error"];
    const std::string expected = source == "docs/empty.txt"        ? "empty file"
                                 : source == "docs/notes/blob.bin" ? "binary file"
                                                                   : "bad JSON";
    EXPECT_NE(error.find(expected), std::string::npos) << e;
  }

  // Ids are paths under the folder; JSONL records keep their own ids.
  EXPECT_EQ(DocumentIds(),
            (std::set<std::string>{"plain.txt", "notes/guide.md", "notes/web/page.html",
                                   "report.pdf", "rec-1", "rec-3"}));
  EXPECT_EQ(GetDocument("notes/guide.md")["title"], "Sourdough Guide");
  EXPECT_EQ(GetDocument("notes/web/page.html")["title"], "Glacier Page");
  const json pdf = GetDocument("report.pdf");
  EXPECT_EQ(pdf["title"], "Volcano Report");
  EXPECT_EQ(pdf["metadata"]["format"], "pdf");
  EXPECT_EQ(pdf["metadata"]["pages"], 2);
  const json rec = GetDocument("rec-1");
  EXPECT_EQ(rec["title"], "Running");
  EXPECT_EQ(rec["source"], "docs/records.jsonl:1");

  // Both PDF pages made it into the text, separated by a form feed.
  const json chunk = OneJson(RunOk({"get", "--json", "--string-id", "report.pdf#0"}));
  const std::string text = chunk["text"];
  EXPECT_NE(text.find("Volcanoes erupt molten lava."), std::string::npos) << text;
  EXPECT_NE(text.find("\n\f\n"), std::string::npos) << text;
  EXPECT_NE(text.find("geysers"), std::string::npos) << text;

  // The HTML's script/style/head are gone; its visible text is there.
  const json html = OneJson(RunOk({"get", "--json", "--string-id", "notes/web/page.html#0"}));
  EXPECT_NE(html["text"].get<std::string>().find("carve deep valleys"), std::string::npos);
  EXPECT_EQ(html["text"].get<std::string>().find("p{}"), std::string::npos) << html;
}

// With stdout and stderr not terminals the summary is JSON even without
// --json; --quiet silences it unless --json asks for it.
TEST_F(IngestCliTest, SummaryFormats) {
  WriteFile("docs/a.txt", "One short document about tide pools.\n");
  RunResult r = RunOk({"ingest", "--quiet", "docs"});
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(OneJson(RunOk({"ingest", "--quiet", "--json", "docs"}))["unchanged"], 1);

  // On a terminal: a human summary, and the failures.
  std::string slave;
  const int pty = OpenPty(&slave);
  if (pty < 0) GTEST_SKIP() << "no pseudo-terminal for the human summary";
  close(pty);
  WriteFile("docs/empty.md", " \n");
  // The failure is an error line (stderr, first), then the summary.
  r = Run({"ingest", "--progress", "never", "docs"}, "", /*terminal=*/true);
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_EQ(r.out.rfind("flashembed: error: docs/empty.md: empty file", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("ingested 2 documents into \"default\""), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("0 added, 0 replaced, 1 unchanged, 1 failed"), std::string::npos) << r.out;
  // --json wins over the terminal.
  r = Run({"ingest", "--json", "--progress", "never", "docs"}, "", /*terminal=*/true);
  EXPECT_EQ(r.exit_code, 3) << r.out;
  EXPECT_EQ(json::parse(Lines(r.out).back())["unchanged"], 1);
  // --quiet silences the summary, not the errors.
  r = Run({"ingest", "--quiet", "docs"});
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "flashembed: error: docs/empty.md: empty file\n");
}

// Regression: a failed input used to be reported only inside the JSON summary
// (exit 1 with an empty stderr), a folder where most files failed exited 0,
// and a failed ingest into a new collection left it behind, empty.
TEST_F(IngestCliTest, FailedInputsAreErrorsAndLeaveNoEmptyCollection) {
  // Six PDFs, four of them broken: fake, truncated, empty, binary junk.
  std::filesystem::create_directories(tmp_.Sub("docs"));
  for (const char* name : {"docs/good1.pdf", "docs/good2.pdf"}) {
    ASSERT_TRUE(flashembed::testing::WritePdf(tmp_.Sub(name),
                                              {{"Lava flows downhill.", "Ash falls."}}, "Volcano"));
  }
  const std::string pdf = ReadAll(tmp_.Sub("docs/good1.pdf"));
  WriteFile("docs/fake.pdf", "%PDF-1.4 this is not really a PDF");
  WriteFile("docs/truncated.pdf", pdf.substr(0, pdf.size() / 2));
  WriteFile("docs/empty.pdf", "");
  WriteFile("docs/junk.pdf", std::string("\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16));
  json s = IngestWithFailures({"-c", "pdfs", "docs"});
  EXPECT_EQ(s["added"], 2) << s;
  EXPECT_EQ(s["failed"], 4) << s;
  EXPECT_EQ(ErrorSources(s), (std::set<std::string>{"docs/fake.pdf", "docs/truncated.pdf",
                                                    "docs/empty.pdf", "docs/junk.pdf"}));

  // Only failing inputs, into new collections: exit 1, every failure on
  // stderr, and no collection left behind.
  WriteFile("bad/binary.txt", std::string("a\0b", 3));
  WriteFile("bad/empty.txt", "");
  WriteFile("bad/latin.txt", "caf\xE9\n");
  s = IngestWithFailures({"-c", "fresh", "bad"}, 1);
  EXPECT_EQ(s["failed"], 3) << s;
  s = IngestWithFailures({"-c", "fresh_pdf", "docs/fake.pdf", "docs/truncated.pdf"}, 1);
  EXPECT_EQ(s["failed"], 2) << s;
  IngestWithFailures({"-c", "fresh_stdin", "-"}, 1, "");
  std::set<std::string> names;
  const json stats = OneJson(RunOk({"stats", "--json"}));
  for (const json& c : stats["collections"]) names.insert(c["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"pdfs"})) << "a failed ingest left a collection behind";

  // An existing collection stays, whatever fails.
  s = IngestWithFailures({"-c", "pdfs", "bad"}, 1);
  EXPECT_EQ(CollectionStats("pdfs")["documents"], 2);
  // With -q the errors still go to stderr.
  const RunResult quiet = Run({"ingest", "-q", "-c", "pdfs", "bad/empty.txt"});
  EXPECT_EQ(quiet.exit_code, 1);
  EXPECT_EQ(quiet.out, "");
  EXPECT_EQ(quiet.err, "flashembed: error: bad/empty.txt: empty file\n");
}

// --- incremental re-ingest --------------------------------------------------------

TEST_F(IngestCliTest, ReingestSkipsUnchangedAndReplacesEdited) {
  WriteMixedFolder();
  const json first = IngestWithFailures({"docs"});
  ASSERT_EQ(first["added"], 6) << first;

  // Same inputs: nothing embedded, nothing written; the bad inputs still fail.
  json s = IngestWithFailures({"docs"});
  EXPECT_EQ(s["added"], 0) << s;
  EXPECT_EQ(s["replaced"], 0);
  EXPECT_EQ(s["unchanged"], 6);
  EXPECT_EQ(s["failed"], 3);
  EXPECT_EQ(s["chunks"], 0);
  EXPECT_EQ(s["chunks_encoded"], 0);
  EXPECT_EQ(s["tokens_encoded"], 0);

  const std::string before = GetDocument("plain.txt")["content_hash"];
  WriteFile("docs/plain.txt",
            "Tide pools hold anemones and small crabs. The water cools at high tide.\n");
  s = IngestWithFailures({"docs"});
  EXPECT_EQ(s["added"], 0) << s;
  EXPECT_EQ(s["replaced"], 1);
  EXPECT_EQ(s["unchanged"], 5);
  EXPECT_GT(s["chunks_encoded"].get<int>(), 0);
  EXPECT_NE(GetDocument("plain.txt")["content_hash"], before);

  // delete --document removes the document with its chunks; ingest brings it back.
  const uint64_t count = CollectionStats("default")["count"];
  EXPECT_EQ(
      OneJson(RunOk({"delete", "--json", "--document", "notes/guide.md"}))["deleted_documents"], 1);
  const json after_delete = CollectionStats("default");
  EXPECT_EQ(after_delete["documents"], 5);
  EXPECT_LT(after_delete["count"].get<uint64_t>(), count);
  RunFails({"get", "--document", "notes/guide.md"}, 1, "no document \"notes/guide.md\"");
  RunFails({"get", "--string-id", "notes/guide.md#0"}, 1, "no document");
  // Unknown ids are ignored.
  EXPECT_EQ(OneJson(RunOk({"delete", "--json", "--document", "nope"}))["deleted_documents"], 0);
  const RunResult human = RunOk({"delete", "--document", "nope"});
  EXPECT_EQ(human.out, "deleted 0 of 1 document (with their chunks) from \"default\"\n");

  s = IngestWithFailures({"docs"});
  EXPECT_EQ(s["added"], 1) << s;
  EXPECT_EQ(s["unchanged"], 5);
  EXPECT_EQ(CollectionStats("default")["count"], count);
  RunFails({"delete", "--document"}, 2, "document ids");
}

// --- search --documents -----------------------------------------------------------

class IngestSearchTest : public IngestCliTest {
 protected:
  void SetUp() override {
    gpl_ = ReadAll(kGpl3);
    ASSERT_GT(gpl_.size(), 30000u) << kGpl3 << " is missing (Debian's base-files ships it)";
    WriteFile("docs/gpl-3.txt", gpl_);
    WriteFile("docs/bread.txt", "Sourdough bread needs a lively starter and patience.\n");
    WriteFile("docs/space.md", "# Space\n\nBlack holes bend light near the event horizon.\n");
    const json s = Ingest({"docs"});
    ASSERT_EQ(s["added"], 3) << s;
  }

  // The document hits of `search --documents --json EXTRA... QUERY`.
  json SearchDocuments(const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"search", "--documents", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(kQuery);
    const json out = OneJson(RunOk(args));
    EXPECT_TRUE(out.contains("documents")) << out;
    return out["documents"];
  }

  // A passage's text must be the file's bytes [begin, end) (the file is
  // ASCII, so the decoded text is the file).
  void ExpectFileBytes(const json& passage) {
    const uint64_t begin = passage["begin"], end = passage["end"];
    ASSERT_LT(begin, end) << passage;
    ASSERT_LE(end, gpl_.size()) << passage;
    EXPECT_EQ(passage["text"].get<std::string>(), gpl_.substr(begin, end - begin)) << passage;
  }

  // Words of section 7 of the license, about 20 kB into the text.
  static constexpr const char* kQuery =
      "license document contains a further restriction but permits relicensing";
  std::string gpl_;
};

TEST_F(IngestSearchTest, FindsDeepPassageWithExactOffsets) {
  const size_t phrase = gpl_.find("permits relicensing");
  ASSERT_GT(phrase, 3000u);

  const json docs = SearchDocuments({});
  ASSERT_FALSE(docs.empty());
  EXPECT_EQ(docs[0]["id"], "gpl-3.txt") << docs;
  EXPECT_EQ(docs[0]["source"], "docs/gpl-3.txt");
  EXPECT_EQ(docs[0]["title"], "GNU GENERAL PUBLIC LICENSE");
  EXPECT_EQ(docs[0]["metadata"]["format"], "text");
  ASSERT_EQ(docs[0]["passages"].size(), 1u) << docs[0];
  const json& best = docs[0]["passages"][0];
  EXPECT_EQ(docs[0]["score"], best["score"]);
  EXPECT_GT(best["begin"].get<uint64_t>(), 3000u) << best;
  EXPECT_NE(best["text"].get<std::string>().find("permits relicensing"), std::string::npos);
  ExpectFileBytes(best);
  EXPECT_FALSE(best.contains("before"));
  // Documents come best first.
  for (size_t i = 1; i < docs.size(); ++i) {
    EXPECT_GE(docs[i - 1]["score"].get<double>(), docs[i]["score"].get<double>());
  }

  // The chunk agrees with get --document's offsets.
  const json info = GetDocument("gpl-3.txt");
  const json& chunk = info["chunks"][best["chunk"].get<size_t>()];
  EXPECT_EQ(chunk["begin"], best["begin"]);
  EXPECT_EQ(chunk["end"], best["end"]);

  // Human output: the document line, then its passage.
  const RunResult human = RunOk({"search", "--documents", kQuery});
  const std::vector<std::string> lines = Lines(human.out);
  ASSERT_GE(lines.size(), 2u) << human.out;
  EXPECT_EQ(lines[0].rfind("1. ", 0), 0u) << human.out;
  EXPECT_NE(lines[0].find("gpl-3.txt"), std::string::npos) << human.out;
  EXPECT_NE(lines[1].find("[chunk " + std::to_string(best["chunk"].get<int>()) + ", bytes " +
                          std::to_string(best["begin"].get<uint64_t>()) + "-"),
            std::string::npos)
      << human.out;
}

TEST_F(IngestSearchTest, NeighborsAreTheAdjacentChunks) {
  const json docs = SearchDocuments({"--neighbors", "1"});
  ASSERT_FALSE(docs.empty());
  ASSERT_EQ(docs[0]["id"], "gpl-3.txt");
  const json& p = docs[0]["passages"][0];
  const int ordinal = p["chunk"];
  const size_t chunks = GetDocument("gpl-3.txt")["chunks"].size();
  ASSERT_GT(ordinal, 0) << "the passage is deep in the text";
  ASSERT_LT(static_cast<size_t>(ordinal) + 1, chunks) << "and not its last chunk";
  ASSERT_EQ(p["before"].size(), 1u) << p;
  ASSERT_EQ(p["after"].size(), 1u) << p;
  const json& before = p["before"][0];
  const json& after = p["after"][0];
  EXPECT_EQ(before["chunk"], ordinal - 1);
  EXPECT_EQ(after["chunk"], ordinal + 1);
  ExpectFileBytes(p);
  ExpectFileBytes(before);
  ExpectFileBytes(after);
  // Consecutive chunks overlap or touch, never leave a gap.
  EXPECT_LE(before["begin"].get<uint64_t>(), p["begin"].get<uint64_t>());
  EXPECT_GE(before["end"].get<uint64_t>(), p["begin"].get<uint64_t>());
  EXPECT_LE(p["begin"].get<uint64_t>(), after["begin"].get<uint64_t>());
  EXPECT_GE(p["end"].get<uint64_t>(), after["begin"].get<uint64_t>());
  // Neighbours are not scored (database.h: their scores are 0).
  EXPECT_EQ(before.value("score", 0.0), 0.0) << before;
  EXPECT_EQ(after.value("score", 0.0), 0.0) << after;

  // The first chunk has no chunk before it.
  const json first = SearchDocuments({"--neighbors", "2", "--passages", "64"});
  bool saw_first = false;
  for (const json& q : first[0]["passages"]) {
    if (q["chunk"] == 0) {
      saw_first = true;
      EXPECT_TRUE(q["before"].empty()) << q;
      EXPECT_EQ(q["after"].size(), 2u) << q;
    }
  }
  EXPECT_TRUE(saw_first) << "with 64 passages every chunk of the license is a passage";
}

TEST_F(IngestSearchTest, PassagesPooledAndUsageErrors) {
  const json two = SearchDocuments({"--passages", "2"});
  ASSERT_FALSE(two.empty());
  EXPECT_EQ(two[0]["id"], "gpl-3.txt");
  EXPECT_EQ(two[0]["passages"].size(), 2u) << two[0];
  for (const json& d : two) {
    EXPECT_LE(d["passages"].size(), 2u) << d;
    EXPECT_GE(d["passages"].size(), 1u) << d;
    if (d["passages"].size() == 2) {
      EXPECT_GE(d["passages"][0]["score"].get<double>(), d["passages"][1]["score"].get<double>());
      EXPECT_NE(d["passages"][0]["chunk"], d["passages"][1]["chunk"]);
    }
  }
  for (const json& p : two[0]["passages"]) ExpectFileBytes(p);

  const json pooled = SearchDocuments({"--pooled", "-k", "3"});
  ASSERT_EQ(pooled.size(), 3u) << pooled;
  std::set<std::string> ids;
  for (const json& d : pooled) {
    ids.insert(d["id"].get<std::string>());
    EXPECT_FALSE(d["passages"].empty()) << d;
  }
  EXPECT_EQ(ids, (std::set<std::string>{"gpl-3.txt", "bread.txt", "space.md"}));
  for (const json& d : pooled) {
    if (d["id"] == "gpl-3.txt") {
      ExpectFileBytes(d["passages"][0]);
    }
  }
  EXPECT_EQ(SearchDocuments({"-k", "1"}).size(), 1u);

  RunFails({"search", "--passages", "2", kQuery}, 2, "need --documents");
  RunFails({"search", "--neighbors", "1", kQuery}, 2, "need --documents");
  RunFails({"search", "--pooled", kQuery}, 2, "need --documents");
  RunFails({"search", "--documents", "--passages", "0", kQuery}, 1, "passages must be 1..64");
  RunFails({"search", "--documents", "--neighbors", "9", kQuery}, 1, "neighbors must be 0..8");
}

// --- rankings of search --documents ---------------------------------------------

// Four short documents: BM25 and the hashing vectors disagree on the query
// (the rare "quokka" against the repeated "harbor lantern"); bread.txt
// holds no query word.
class IngestRankingTest : public IngestCliTest {
 protected:
  void SetUp() override {
    WriteFile("docs/quokka.txt", "A quokka smiled at the harbor.\n");
    WriteFile("docs/dense.txt", "Harbor lantern. The harbor lantern glows over the harbor.\n");
    WriteFile("docs/river.txt", "The river runs past the old mill and a lantern.\n");
    WriteFile("docs/bread.txt", "Sourdough bread needs a lively starter.\n");
  }
  // The document hits of `search --documents --json -c C EXTRA... QUERY`.
  json Search(const std::string& collection, const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"search", "--documents", "--json", "-c", collection};
    args.insert(args.end(), extra.begin(), extra.end());
    args.push_back(kQuery);
    const json out = OneJson(RunOk(args));
    EXPECT_TRUE(out.contains("documents")) << out;
    return out["documents"];
  }
  static std::vector<std::string> Ids(const json& docs) {
    std::vector<std::string> out;
    for (const json& d : docs) out.push_back(d["id"]);
    return out;
  }
  static constexpr const char* kQuery = "quokka harbor lantern";
};

TEST_F(IngestRankingTest, IngestKeepsATextIndexUnlessTold) {
  EXPECT_EQ(Ingest({"docs"})["added"], 4);
  EXPECT_EQ(CollectionStats("default")["text_index"], true);
  EXPECT_EQ(Ingest({"-c", "plain", "--no-text-index", "docs"})["added"], 4);
  EXPECT_EQ(CollectionStats("plain")["text_index"], false);
  // Ingesting into an existing collection keeps its schema.
  WriteFile("more/extra.txt", "One more document about a harbor.\n");
  EXPECT_EQ(Ingest({"-c", "plain", "more"})["added"], 1);
  EXPECT_EQ(CollectionStats("plain")["text_index"], false);
  // A collection made by create has none unless asked.
  RunOk({"create", "-c", "made"});
  EXPECT_EQ(Ingest({"-c", "made", "docs"})["added"], 4);
  EXPECT_EQ(CollectionStats("made")["text_index"], false);
  RunOk({"create", "-c", "made_text", "--text-index"});
  EXPECT_EQ(Ingest({"-c", "made_text", "docs"})["added"], 4);
  EXPECT_EQ(CollectionStats("made_text")["text_index"], true);
  // --no-text-index cannot take an existing collection's index away.
  RunFails({"ingest", "-c", "made_text", "--no-text-index", "more"}, 1,
           "keeps a text index; --no-text-index applies to a collection ingest creates");
  EXPECT_EQ(CollectionStats("made_text")["text_index"], true);
}

TEST_F(IngestRankingTest, SearchDocumentsByEveryRanking) {
  ASSERT_EQ(Ingest({"docs"})["added"], 4);
  ASSERT_EQ(Ingest({"-c", "plain", "--no-text-index", "docs"})["added"], 4);

  // Text: the documents holding a query word, BM25 first, scored by BM25.
  const json text = Search("default", {"--ranking", "text"});
  ASSERT_EQ(text.size(), 3u) << text;
  EXPECT_EQ(text[0]["id"], "quokka.txt") << text;
  for (size_t i = 0; i < text.size(); ++i) {
    EXPECT_NE(text[i]["id"], "bread.txt");
    EXPECT_EQ(text[i]["text_score"], text[i]["score"]) << text[i];
    EXPECT_FALSE(text[i].contains("vector_score")) << text[i];
    EXPECT_EQ(text[i]["passages"][0]["score"], text[i]["score"]) << text[i];
    if (i > 0) {
      EXPECT_GE(text[i - 1]["score"].get<double>(), text[i]["score"].get<double>());
    }
  }
  EXPECT_EQ(Search("default", {"--text"}), text);  // --text is --ranking text

  // Vector: every document, no component scores; not BM25's order.
  const json vector = Search("default", {"--ranking", "vector"});
  ASSERT_EQ(vector.size(), 4u) << vector;
  EXPECT_EQ(vector[0]["id"], "dense.txt") << vector;
  for (const json& d : vector) {
    EXPECT_FALSE(d.contains("vector_score") || d.contains("text_score")) << d;
  }
  EXPECT_EQ(Search("plain", {"--ranking", "vector"}), vector);

  // Hybrid (document search's default fusion: normalized, BM25 weighted
  // 0.8): every document with its vector score; a text score where BM25
  // found it; the fused score in [0, 1].
  const json hybrid = Search("default", {"--ranking", "hybrid"});
  ASSERT_EQ(hybrid.size(), 4u) << hybrid;
  for (const json& d : hybrid) {
    EXPECT_TRUE(d.contains("vector_score")) << d;
    EXPECT_EQ(d.contains("text_score"), d["id"] != "bread.txt") << d;
    EXPECT_LE(d["score"].get<double>(), 1.0 + 1e-6) << d;
    EXPECT_GE(d["score"].get<double>(), 0.0) << d;
    for (const json& v : vector) {
      if (v["id"] == d["id"]) {
        EXPECT_EQ(v["score"], d["vector_score"]) << d;
      }
    }
    for (const json& t : text) {
      if (t["id"] == d["id"]) {
        EXPECT_EQ(t["score"], d["text_score"]) << d;
      }
    }
  }
  EXPECT_EQ(hybrid.back()["id"], "bread.txt");
  EXPECT_EQ(Search("default", {"--hybrid"}), hybrid);
  // The default (auto) is hybrid on a collection with a text index, vector
  // on one without.
  EXPECT_EQ(Search("default", {}), hybrid);
  EXPECT_EQ(Search("default", {"--ranking", "auto"}), hybrid);
  EXPECT_EQ(Search("plain", {}), vector);

  // Normalised fusion at the ends of the weight: one side's order.
  const json by_text =
      Search("default", {"--ranking", "hybrid", "--fusion", "normalized", "--text-weight", "1"});
  ASSERT_EQ(by_text.size(), 4u);
  EXPECT_EQ(by_text[0]["id"], text[0]["id"]);
  EXPECT_EQ(by_text[0]["score"], 1.0);
  const json by_vector =
      Search("default", {"--ranking", "hybrid", "--fusion", "normalized", "--text-weight", "0"});
  EXPECT_EQ(Ids(by_vector), Ids(vector));
  EXPECT_EQ(by_vector[0]["score"], 1.0);

  // Keywords for BM25, the query for the vectors.
  const json keywords =
      Search("default", {"--ranking", "text", "--keywords", "sourdough", "--passages", "2"});
  ASSERT_EQ(keywords.size(), 1u) << keywords;
  EXPECT_EQ(keywords[0]["id"], "bread.txt");
  // The human output ranks the same way.
  const std::vector<std::string> lines =
      Lines(RunOk({"search", "--documents", "--ranking", "text", kQuery}).out);
  ASSERT_EQ(lines.size(), 6u) << "three documents, one passage each";
  EXPECT_EQ(lines[0].rfind("1. ", 0), 0u) << lines[0];
  EXPECT_NE(lines[0].find("quokka.txt"), std::string::npos) << lines[0];
  // Plain (chunk) search ranks by vector by default, and by BM25 when asked.
  const json chunks = OneJson(RunOk({"search", "--json", "--ranking", "text", kQuery}));
  ASSERT_EQ(chunks["hits"].size(), 3u) << chunks;
  EXPECT_EQ(chunks["hits"][0]["id"], "quokka.txt#0");
  EXPECT_TRUE(chunks["hits"][0].contains("text_score"));
  const json chunks_auto = OneJson(RunOk({"search", "--json", kQuery}));
  EXPECT_EQ(chunks_auto["hits"].size(), 4u) << chunks_auto;
  EXPECT_FALSE(chunks_auto["hits"][0].contains("text_score"));
}

TEST_F(IngestRankingTest, RankingErrors) {
  ASSERT_EQ(Ingest({"docs"})["added"], 4);
  ASSERT_EQ(Ingest({"-c", "plain", "--no-text-index", "docs"})["added"], 4);
  struct Case {
    std::vector<std::string> flags;  // of search --documents ... QUERY
    int exit_code;
    std::string needle;
  };
  const std::string one_of = "give one of --text, --hybrid and --ranking";
  const std::vector<Case> cases = {
      // Usage errors (exit 2), before any search.
      {{"--text", "--ranking", "text"}, 2, one_of},
      {{"--hybrid", "--ranking", "vector"}, 2, one_of},
      {{"--text", "--hybrid"}, 2, one_of},
      {{"--ranking", "bm25"}, 2, "--ranking"},
      {{"--ranking", "hybrid", "--fusion", "max"}, 2, "--fusion"},
      {{"--ranking", "vector", "--keywords", "quokka"}, 2, "keywords are for full-text ranking"},
      {{"--ranking", "text", "--min-score", "0.1"}, 2, "vector ranking only"},
      {{"--ranking", "hybrid", "--fusion", "normalized", "--text-weight", "2"}, 2, "text_weight"},
      // Runtime errors (exit 1).
      {{"--ranking", "text", "--pooled"}, 1, "pooled document search ranks by vector similarity"},
      {{"--ranking", "text", "-c", "plain"}, 1, "has no text index"},
      {{"--ranking", "hybrid", "-c", "plain"}, 1, "has no text index"},
      {{"--keywords", "quokka", "-c", "plain"}, 1, "keywords are for full-text ranking"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"search", "--documents"};
    args.insert(args.end(), c.flags.begin(), c.flags.end());
    args.push_back(kQuery);
    RunFails(args, c.exit_code, c.needle);
  }
  // Pooled search under auto ranks by vector.
  const json pooled = Search("default", {"--pooled"});
  EXPECT_EQ(pooled.size(), 4u) << pooled;
  EXPECT_FALSE(pooled[0].contains("text_score")) << pooled;
}

// --- get --document ---------------------------------------------------------------

TEST_F(IngestCliTest, GetDocumentFields) {
  const std::string text =
      "# Field Notes\n\nThe heron waits in the shallows. It strikes fast.\n\n"
      "Later the tide turns and the mudflats vanish under grey water.\n";
  WriteFile("docs/field.md", text);
  WriteFile("docs/other.txt", "Another document, about kites.\n");
  ASSERT_EQ(Ingest({"docs"})["added"], 2);

  const json d = GetDocument("field.md");
  EXPECT_EQ(d["id"], "field.md");
  EXPECT_EQ(d["source"], "docs/field.md");
  EXPECT_EQ(d["title"], "Field Notes");
  EXPECT_EQ(d["metadata"]["format"], "markdown");
  EXPECT_EQ(d["metadata"]["bytes"], text.size());
  EXPECT_TRUE(std::regex_match(d["content_hash"].get<std::string>(), std::regex("[0-9a-f]{32}")))
      << d["content_hash"];
  EXPECT_EQ(d["bytes"], text.size());
  EXPECT_EQ(d["chunk_tokens"], 256);  // the hashing encoder's default
  EXPECT_GT(d["tokens"].get<int>(), 0);
  EXPECT_GT(d["updated_unix_ms"].get<int64_t>(), 0);
  EXPECT_FALSE(d.contains("vector"));
  ASSERT_EQ(d["chunks"].size(), 1u) << d;
  const json& c = d["chunks"][0];
  EXPECT_EQ(c["chunk"], 0);
  EXPECT_EQ(c["begin"], 0);
  EXPECT_LE(c["end"].get<size_t>(), text.size());
  EXPECT_GE(c["end"].get<size_t>(), text.rfind("water.") + 6);
  EXPECT_EQ(c["tokens"], d["tokens"]);

  // The chunk record: the document's bytes and the reserved metadata keys.
  const json chunk = OneJson(RunOk({"get", "--json", "--string-id", "field.md#0"}));
  EXPECT_EQ(chunk["text"], text.substr(0, c["end"].get<size_t>()));
  EXPECT_EQ(chunk["metadata"]["doc"]["id"], "field.md");
  EXPECT_EQ(chunk["metadata"]["doc"]["source"], "docs/field.md");
  EXPECT_EQ(chunk["metadata"]["chunk"]["n"], 0);
  EXPECT_EQ(chunk["metadata"]["chunk"]["end"], c["end"]);

  // Several ids: a JSON line each, in order; --with-vector adds the pooled vector.
  const RunResult two = RunOk({"get", "--json", "--document", "other.txt", "field.md"});
  const std::vector<std::string> lines = Lines(two.out);
  ASSERT_EQ(lines.size(), 2u) << two.out;
  EXPECT_EQ(json::parse(lines[0])["id"], "other.txt");
  EXPECT_EQ(json::parse(lines[1])["id"], "field.md");
  const json v = OneJson(RunOk({"get", "--json", "--with-vector", "--document", "field.md"}));
  EXPECT_EQ(v["vector"].size(), 384u);

  // Human output.
  const RunResult human = RunOk({"get", "--document", "field.md"});
  EXPECT_NE(human.out.find("document: field.md\n"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("title:    Field Notes\n"), std::string::npos) << human.out;
  EXPECT_NE(human.out.find("hash:     " + d["content_hash"].get<std::string>()), std::string::npos)
      << human.out;

  // Errors: an unknown id prints nothing at all, even after a known one.
  RunFails({"get", "--document", "nope.md"}, 1, "no document \"nope.md\" in collection");
  RunFails({"get", "--document", "field.md", "nope.md"}, 1, "no document \"nope.md\"");
  RunFails({"get", "--document"}, 2, "document ids");
  RunFails({"get", "--document", "--filter", "id > 0", "x"}, 2, "--document takes document ids");
  RunFails({"get", "-c", "absent", "--document", "field.md"}, 1, "absent");
}

// --- which files are read ---------------------------------------------------------

TEST_F(IngestCliTest, IncludeExcludeAndHidden) {
  WriteFile("tree/a.md", "Alpha document in markdown.\n");
  WriteFile("tree/b.txt", "Bravo document in plain text.\n");
  WriteFile("tree/sub/c.md", "Charlie document, one folder down.\n");
  WriteFile("tree/skip/d.md", "Delta document in a skipped folder.\n");
  WriteFile("tree/.hidden/e.md", "Echo document in a hidden folder.\n");
  WriteFile("tree/.f.md", "Foxtrot document, a hidden file.\n");

  EXPECT_EQ(Ingest({"-c", "all", "tree"})["added"], 4);
  EXPECT_EQ(DocumentIds("all"), (std::set<std::string>{"a.md", "b.txt", "sub/c.md", "skip/d.md"}));

  EXPECT_EQ(Ingest({"-c", "md", "--include", "*.md", "tree"})["added"], 3);
  EXPECT_EQ(DocumentIds("md"), (std::set<std::string>{"a.md", "sub/c.md", "skip/d.md"}));

  EXPECT_EQ(Ingest({"-c", "md2", "--include", "*.md", "--exclude", "skip/", "tree"})["added"], 2);
  EXPECT_EQ(DocumentIds("md2"), (std::set<std::string>{"a.md", "sub/c.md"}));

  EXPECT_EQ(Ingest({"-c", "sub", "--include", "sub/**", "--include", "b.txt", "tree"})["added"], 2);
  EXPECT_EQ(DocumentIds("sub"), (std::set<std::string>{"b.txt", "sub/c.md"}));

  EXPECT_EQ(Ingest({"-c", "hidden", "--hidden", "--exclude", "*.txt", "tree"})["added"], 5);
  EXPECT_EQ(DocumentIds("hidden"),
            (std::set<std::string>{"a.md", "sub/c.md", "skip/d.md", ".hidden/e.md", ".f.md"}));

  // A file given by name is read whatever the globs say; its id is the path as given.
  EXPECT_EQ(Ingest({"-c", "named", "--exclude", "*.md", "tree/.f.md"})["added"], 1);
  EXPECT_EQ(DocumentIds("named"), (std::set<std::string>{"tree/.f.md"}));

  // Globs that match nothing: nothing to do, not an error.
  const json none = Ingest({"-c", "none", "--include", "*.rst", "tree"});
  EXPECT_EQ(none["documents"], 0);
  EXPECT_EQ(none["added"], 0);
}

TEST_F(IngestCliTest, MissingPathWritesNothing) {
  WriteFile("docs/a.txt", "A document that is never read.\n");
  // No database yet: none is created.
  RunFails({"ingest", "docs", "no/such/path"}, 1, "no/such/path");
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("flashembed.db")));
  RunFails({"stats"}, 1, "no flashembed database");

  // An existing database: the collection is neither created nor changed.
  ASSERT_EQ(Ingest({"-c", "kept", "docs"})["added"], 1);
  WriteFile("docs/b.txt", "A second document.\n");
  RunFails({"ingest", "-c", "kept", "docs", "missing.txt"}, 1, "missing.txt: no such file");
  RunFails({"ingest", "-c", "new", "missing.txt", "docs"}, 1, "missing.txt");
  const json stats = OneJson(RunOk({"stats", "--json"}));
  ASSERT_EQ(stats["collections"].size(), 1u) << stats;
  EXPECT_EQ(stats["collections"][0]["name"], "kept");
  EXPECT_EQ(stats["collections"][0]["documents"], 1);

  RunFails({"ingest"}, 2, "PATH");
  RunFails({"ingest", "--include", "", "docs"}, 1, "empty glob");
  RunFails({"ingest", "--format", "rtf", "docs"}, 2, "--format must be");
}

// --- stdin ------------------------------------------------------------------------

TEST_F(IngestCliTest, StdinIsOneDocument) {
  const json s = Ingest({"-"}, "Text piped in on standard input. Two sentences.\n");
  EXPECT_EQ(s["added"], 1) << s;
  EXPECT_EQ(s["failed"], 0);
  const json d = GetDocument("stdin");
  EXPECT_EQ(d["source"], "stdin");
  EXPECT_EQ(d["title"], "Text piped in on standard input. Two sentences.");
  EXPECT_EQ(d["metadata"]["format"], "text");
  ExpectChunksAreBytesOf("stdin", "Text piped in on standard input. Two sentences.\n");

  // Files and stdin together; the same stdin again is unchanged.
  WriteFile("docs/a.txt", "A file next to standard input.\n");
  const json both = Ingest({"docs", "-"}, "Text piped in on standard input. Two sentences.\n");
  EXPECT_EQ(both["added"], 1) << both;
  EXPECT_EQ(both["unchanged"], 1);

  // Every input failed: exit 1, the summary still printed, the error on
  // stderr.
  const json failed = IngestWithFailures({"-"}, 1, "");
  EXPECT_EQ(failed["failed"], 1);
  EXPECT_EQ(ErrorSources(failed), (std::set<std::string>{"stdin"}));
}

// --- encodings --------------------------------------------------------------------

TEST_F(IngestCliTest, Latin1NeedsEncoding) {
  // "Crème brûlée au café." in ISO 8859-1.
  WriteFile("docs/latin.txt", "Cr\xE8me br\xFBl\xE9\x65 au caf\xE9. Dessert for two.\n");
  WriteFile("docs/ascii.txt", "Plain ASCII reads in any encoding.\n");

  const json s = IngestWithFailures({"docs"});
  EXPECT_EQ(s["added"], 1) << s;
  EXPECT_EQ(s["failed"], 1);
  ASSERT_EQ(s["errors"].size(), 1u);
  EXPECT_EQ(s["errors"][0]["id"], "latin.txt");
  EXPECT_EQ(s["errors"][0]["source"], "docs/latin.txt");
  const std::string error = s["errors"][0]["error"];
  EXPECT_NE(error.find("not UTF-8"), std::string::npos) << error;
  EXPECT_NE(error.find("--encoding"), std::string::npos) << error;

  const json fixed = Ingest({"--encoding", "latin1", "docs"});
  EXPECT_EQ(fixed["added"], 1) << fixed;
  EXPECT_EQ(fixed["unchanged"], 1);
  EXPECT_EQ(fixed["failed"], 0);
  // Stored as UTF-8; offsets count the UTF-8 bytes.
  const std::string utf8 =
      "Cr\xC3\xA8me br\xC3\xBBl\xC3\xA9\x65 au caf\xC3\xA9. Dessert for two.\n";
  ExpectChunksAreBytesOf("latin.txt", utf8);
  EXPECT_EQ(GetDocument("latin.txt")["metadata"]["bytes"], utf8.size() - 4);  // the file's size

  // Every input failed: exit 1, the summary and stderr say why.
  const json bad = IngestWithFailures({"-c", "x", "--encoding", "no-such-charset", "docs"}, 1);
  EXPECT_EQ(bad["failed"], 2);
  EXPECT_NE(bad["errors"][0]["error"].get<std::string>().find("unknown encoding"),
            std::string::npos)
      << bad;
}

// --- chunking options -------------------------------------------------------------

TEST_F(IngestCliTest, ChunkTokensAndOverlap) {
  WriteFile("docs/gpl-3.txt", ReadAll(kGpl3));
  ASSERT_EQ(Ingest({"docs"})["added"], 1);
  ASSERT_EQ(Ingest({"-c", "small", "--chunk-tokens", "32", "docs"})["added"], 1);
  const json normal = GetDocument("gpl-3.txt");
  const json small = GetDocument("gpl-3.txt", "small");
  EXPECT_EQ(small["chunk_tokens"], 32);
  EXPECT_EQ(small["overlap_tokens"], 4);  // 15% of 32
  EXPECT_GT(small["chunks"].size(), 2 * normal["chunks"].size());
  for (const json& c : small["chunks"]) EXPECT_LE(c["tokens"].get<int>(), 32) << c;
  EXPECT_EQ(small["content_hash"], normal["content_hash"]);

  // Other chunking re-cuts a stored document.
  const json recut = Ingest({"--chunk-tokens", "32", "--overlap-tokens", "8", "docs"});
  EXPECT_EQ(recut["replaced"], 1) << recut;
  EXPECT_EQ(GetDocument("gpl-3.txt")["overlap_tokens"], 8);

  // An overlap above half the chunk is refused, and nothing is written.
  const RunResult r =
      Run({"ingest", "-c", "bad", "--overlap-tokens", "100", "--chunk-tokens", "32", "docs"});
  EXPECT_TRUE(r.exit_code == 1 || r.exit_code == 2) << r.exit_code;
  EXPECT_EQ(r.out, "");
  EXPECT_NE(r.err.find("overlap"), std::string::npos) << r.err;
  EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
  RunFails({"ingest", "--overlap-tokens", "100", "--chunk-tokens", "32", "docs"}, r.exit_code,
           "overlap");
  EXPECT_EQ(GetDocument("gpl-3.txt")["overlap_tokens"], 8);
  // Nothing written: no collection "bad", not even an empty one.
  const json stats = OneJson(RunOk({"stats", "--json"}));
  std::set<std::string> names;
  for (const json& c : stats["collections"]) {
    names.insert(c["name"].get<std::string>());
    if (c["name"] == "bad") {
      EXPECT_EQ(c["documents"], 0);
      EXPECT_EQ(c["count"], 0);
    }
  }
  EXPECT_EQ(names, (std::set<std::string>{"default", "small"}))
      << "a refused ingest created collection \"bad\"";
}

// --- a model collection -----------------------------------------------------------

// The test model's vocabulary is w0, w1, ... (max 64 positions).
TEST_F(IngestCliTest, ModelCollection) {
  WriteFile("docs/low.txt", "w1 w2 w3 w4 w5. w6 w7 w8 w9.\n");
  WriteFile("docs/high.txt", "w50 w60 w70 w80. w90 w91 w92.\n");
  const json s = Ingest({"-c", "m", "--model", kModelDir, "docs"});
  EXPECT_EQ(s["added"], 2) << s;

  const json info = CollectionStats("m");
  EXPECT_EQ(info["dim"], 32);
  EXPECT_EQ(info["encoder"], std::string("model:") + kModelDir);
  EXPECT_EQ(info["documents"], 2);
  const json d = GetDocument("high.txt", "m");
  EXPECT_EQ(d["chunk_tokens"], 46);  // max_seq_length 48 minus [CLS] and [SEP]
  ExpectChunksAreBytesOf("high.txt", "w50 w60 w70 w80. w90 w91 w92.\n", "m");

  const json out =
      OneJson(RunOk({"search", "-c", "m", "--documents", "--json", "w50", "w60", "w70"}));
  ASSERT_EQ(out["documents"].size(), 2u) << out;
  EXPECT_EQ(out["documents"][0]["id"], "high.txt");
  EXPECT_EQ(out["documents"][0]["passages"][0]["text"], "w50 w60 w70 w80. w90 w91 w92.");
  RunFails({"ingest", "-c", "m2", "--model", kModelDir, "--chunk-tokens", "60", "docs"}, 1,
           "chunk_tokens 60 exceeds the 46 text tokens");
  const json pooled =
      OneJson(RunOk({"search", "-c", "m", "--documents", "--pooled", "--json", "w50", "w60"}));
  EXPECT_EQ(pooled["documents"][0]["id"], "high.txt") << pooled;

  // The second ingest uses the stored encoder: nothing to re-embed.
  const json again = Ingest({"-c", "m", "docs"});
  EXPECT_EQ(again["unchanged"], 2) << again;
  EXPECT_EQ(again["chunks_encoded"], 0);
  // Naming the stored encoder is fine; another one is refused, naming both.
  EXPECT_EQ(Ingest({"-c", "m", "--model", kModelDir, "docs"})["unchanged"], 2);
  RunFails({"ingest", "-c", "m", "--encoder", "hash", "docs"}, 1,
           std::string("embeds with model:") + kModelDir + ", not hash");
  RunFails({"ingest", "-c", "h", "--encoder", "none", "docs"}, 2, "--encoder none cannot ingest");
}

// --- stats ------------------------------------------------------------------------

TEST_F(IngestCliTest, StatsShowsDocumentCount) {
  WriteFile("docs/a.txt", "First document about tide pools.\n");
  WriteFile("docs/b.txt", "Second document about glaciers.\n");
  WriteFile("docs/c.md", "# Third\n\nThird document about volcanoes.\n");
  ASSERT_EQ(Ingest({"-c", "long", "docs"})["added"], 3);
  RunOk({"add", "-c", "short", "a short record", "another short record"});

  const json stats = OneJson(RunOk({"stats", "--json"}));
  ASSERT_EQ(stats["collections"].size(), 2u) << stats;
  for (const json& c : stats["collections"]) {
    if (c["name"] == "long") {
      EXPECT_EQ(c["documents"], 3);
      EXPECT_EQ(c["count"], 3);  // one chunk each
    } else {
      EXPECT_EQ(c["documents"], 0);
      EXPECT_EQ(c["count"], 2);
    }
  }

  // The table's DOCS column.
  std::vector<std::string> lines = Lines(RunOk({"stats"}).out);
  ASSERT_EQ(lines.size(), 4u);  // the header, two collections, the folder's size
  EXPECT_EQ(lines.back().rfind("folder ", 0), 0u) << lines.back();
  lines.pop_back();
  auto words = [](const std::string& line) {
    std::vector<std::string> out;
    std::istringstream in(line);
    for (std::string w; in >> w;) out.push_back(w);
    return out;
  };
  const std::vector<std::string> header = words(lines[0]);
  const size_t docs = std::find(header.begin(), header.end(), "DOCS") - header.begin();
  ASSERT_LT(docs, header.size()) << lines[0];
  for (size_t i = 1; i < lines.size(); ++i) {
    const std::vector<std::string> row = words(lines[i]);
    ASSERT_GT(row.size(), docs);
    EXPECT_EQ(row[docs], row[0] == "long" ? "3" : "0") << lines[i];
  }

  RunOk({"delete", "-c", "long", "--document", "a.txt"});
  const json after_delete = CollectionStats("long");
  EXPECT_EQ(after_delete["documents"], 2);
  EXPECT_EQ(after_delete["count"], 2);
}

}  // namespace
