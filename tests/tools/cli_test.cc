// End-to-end tests of the flashembed command-line tool: each test runs the
// real binary (FLASHEMBED_CLI_PATH) in a fresh temporary folder and checks exit
// codes, stdout (JSON where the tool prints JSON) and the one-line stderr.
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

// Relative: cli_tests has no include path into the source tree (it only
// runs the binary), and these need nothing else.
#include "../testing/process_util.h"
#include "../testing/temp_dir.h"

namespace {

using nlohmann::json;

constexpr const char* kCli = FLASHEMBED_CLI_PATH;
constexpr const char* kSampleDir = FLASHEMBED_SAMPLE_DIR;

using flashembed::testing::Lines;
using flashembed::testing::ReadAll;
using flashembed::testing::RunResult;

// Each stdout line parsed as JSON; a line that is not JSON fails the test.
std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  for (const std::string& line : Lines(text)) {
    json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(value.is_discarded()) << "not JSON: " << line;
    out.push_back(std::move(value));
  }
  return out;
}

json OneJson(const RunResult& r) {
  const std::vector<json> lines = JsonLines(r.out);
  EXPECT_EQ(lines.size(), 1u) << r.out;
  return lines.empty() ? json() : lines.front();
}

class CliTest : public ::testing::Test {
 protected:
  // Runs the tool in dir_ with `args`, `input` on stdin, $FLASHEMBED_DB unset
  // unless given in `env`.
  RunResult Run(const std::vector<std::string>& args, const std::string& input = "",
                const std::vector<std::pair<std::string, std::string>>& env = {}) {
    std::vector<std::string> argv = {kCli};
    argv.insert(argv.end(), args.begin(), args.end());
    return flashembed::testing::RunProgram(dir_, std::move(argv), {.input = input, .env = env});
  }

  std::string WriteFile(const std::string& name, const std::string& content) {
    const std::string path = dir_ + "/" + name;
    std::ofstream(path, std::ios::binary) << content;
    return path;
  }

  // Runs and expects exit 0 with an empty stderr.
  RunResult RunOk(const std::vector<std::string>& args, const std::string& input = "") {
    return flashembed::testing::ExpectRunOk(Run(args, input));
  }

  // Runs and expects `exit_code` and exactly one stderr line
  // "flashembed: error: ..." containing `needle`.
  RunResult RunFails(const std::vector<std::string>& args, int exit_code, const std::string& needle,
                     const std::string& input = "") {
    return flashembed::testing::ExpectRunFails(Run(args, input), exit_code, needle);
  }

  uint64_t Count(const std::string& collection) {
    const RunResult r = RunOk({"stats", "--json", "-c", collection});
    return OneJson(r)["collections"][0]["count"].get<uint64_t>();
  }

  // Six documents: ids 1..3 from arguments, 4..5 from a text file, and
  // "rust-doc" and 100 from JSON Lines.
  void Populate() {
    RunOk({"add", "the quick brown fox jumps over the lazy dog",
           "sourdough bread needs a lively starter and patience",
           "black holes bend light near the event horizon"});
    const std::string file = WriteFile("texts.txt",
                                       "volcanoes erupt molten lava and ash\n\n"
                                       "glaciers carve deep valleys into the mountains\n");
    RunOk({"add", "--file", file});
    const std::string jsonl = WriteFile(
        "docs.jsonl",
        R"({"id": "rust-doc", "text": "the rust borrow checker enforces ownership rules", "metadata": {"lang": "en", "topic": "programming"}})"
        "\n"
        R"({"id": 100, "text": "marathon runners hit the wall near kilometre thirty"})"
        "\n");
    RunOk({"add", "--jsonl", jsonl});
  }

  flashembed::testing::TempDir tmp_;
  std::string dir_ = tmp_.path();
};

// --- the happy path -----------------------------------------------------------

TEST_F(CliTest, CreateReportsSchema) {
  const json info = OneJson(RunOk({"create", "--json", "-c", "notes", "--metric", "ip", "--m", "8",
                                   "--ef-construction", "64", "--ef-search", "32"}));
  EXPECT_EQ(info["name"], "notes");
  EXPECT_EQ(info["dim"], 384);
  EXPECT_EQ(info["metric"], "ip");
  EXPECT_EQ(info["encoder"], "hash");
  EXPECT_EQ(info["m"], 8);
  EXPECT_EQ(info["ef_construction"], 64);
  EXPECT_EQ(info["ef_search"], 32);
  EXPECT_EQ(info["count"], 0);
  RunFails({"create", "-c", "notes"}, 1, "already exists");
}

TEST_F(CliTest, AddTextsFileAndJsonl) {
  json added = OneJson(RunOk({"add", "--json", "first text", "second text"}));
  EXPECT_EQ(added["added"], 2);
  EXPECT_EQ(added["created"], true);
  EXPECT_EQ(added["first_id"], 1);
  EXPECT_EQ(added["last_id"], 2);

  // Blank lines are skipped; ids continue after the stored ones.
  const std::string file = WriteFile("t.txt", "third text\n\n  \nfourth text\r\n");
  added = OneJson(RunOk({"add", "--json", "--file", file}));
  EXPECT_EQ(added["added"], 2);
  EXPECT_EQ(added["created"], false);
  EXPECT_EQ(added["first_id"], 3);
  EXPECT_EQ(added["last_id"], 4);

  const std::string jsonl =
      WriteFile("d.jsonl", R"({"id": "s", "text": "string id", "metadata": {"k": [1, 2]}})"
                           "\n"
                           R"({"id": 50, "text": "int id"})"
                           "\n"
                           R"({"text": "automatic id"})"
                           "\n");
  added = OneJson(RunOk({"add", "--json", "--jsonl", jsonl}));
  EXPECT_EQ(added["added"], 3);
  EXPECT_EQ(added["first_id"], 5);

  // Records from stdin, and explicit ids for arguments.
  RunOk({"add", "--jsonl", "-"}, R"({"id": 60, "text": "from stdin"})"
                                 "\n");
  RunOk({"add", "--id", "70", "--id", "seventy", "x text", "y text"});
  EXPECT_EQ(Count("default"), 10u);

  const json doc = OneJson(RunOk({"get", "--json", "s"}));
  EXPECT_EQ(doc["text"], "string id");
  EXPECT_EQ(doc["metadata"], json::parse(R"({"k": [1, 2]})"));
  EXPECT_EQ(OneJson(RunOk({"get", "--json", "seventy"}))["text"], "y text");
  EXPECT_EQ(OneJson(RunOk({"get", "--json", "60"}))["text"], "from stdin");

  const RunResult human = RunOk({"add", "one more"});
  EXPECT_NE(human.out.find("added 1 document"), std::string::npos) << human.out;
}

TEST_F(CliTest, SearchPrintsRankedTable) {
  Populate();
  const RunResult r = RunOk({"search", "quick", "brown", "fox", "-k", "3"});
  const std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;  // header + 3 hits
  EXPECT_NE(lines[0].find("SCORE"), std::string::npos);
  std::istringstream first(lines[1]);
  std::string rank, score, id;
  first >> rank >> score >> id;
  EXPECT_EQ(rank, "1");
  EXPECT_EQ(id, "1");
  for (const std::string& line : lines) EXPECT_LE(line.size(), 100u) << line;
}

TEST_F(CliTest, SearchJsonGivesHitsWithMetadata) {
  Populate();
  const json result = OneJson(RunOk({"search", "--json", "-k", "2", "borrow checker ownership"}));
  ASSERT_EQ(result["hits"].size(), 2u);
  const json& top = result["hits"][0];
  EXPECT_EQ(top["id"], "rust-doc");
  EXPECT_EQ(top["metadata"]["topic"], "programming");
  EXPECT_GT(top["score"].get<double>(), result["hits"][1]["score"].get<double>());

  const json vector_hits = OneJson(RunOk({"search", "--json", "--ef", "50", "sourdough starter"}));
  EXPECT_EQ(vector_hits["hits"][0]["id"], 2);
  EXPECT_EQ(vector_hits["hits"].size(), 7u);  // fewer than k=10 documents
}

TEST_F(CliTest, SearchWithFilterAndExplain) {
  Populate();
  const json hits = OneJson(RunOk({"search", "--json", "--explain", "--filter",
                                   "topic == \"programming\" or id == 100", "fox"}));
  ASSERT_EQ(hits["hits"].size(), 2u);
  std::set<std::string> ids;
  for (const json& h : hits["hits"]) ids.insert(h["id"].dump());
  EXPECT_EQ(ids, (std::set<std::string>{"\"rust-doc\"", "100"}));
  EXPECT_EQ(hits["explain"]["filter_matches"], 2);
  EXPECT_EQ(hits["explain"]["strategy"], "exact-matches");
  const json templated = OneJson(RunOk({"search", "--json", "--filter", "lang in {langs}",
                                        "--filter-params", R"({"langs": ["en"]})", "fox"}));
  ASSERT_EQ(templated["hits"].size(), 1u);
  EXPECT_EQ(templated["hits"][0]["id"], "rust-doc");
  const std::string none = RunOk({"search", "--filter", "lang == \"xx\"", "fox"}).out;
  EXPECT_NE(none.find("no document matches the filter"), std::string::npos) << none;
  RunFails({"search", "--filter", "lang ==", "fox"}, 1, "column");
}

TEST_F(CliTest, GetCountAndDeleteByFilter) {
  Populate();
  const std::vector<json> found = JsonLines(RunOk({"get", "--json", "--filter", "id < 100"}).out);
  ASSERT_EQ(found.size(), 5u);  // ids 1..5, in write order
  EXPECT_EQ(found[0]["id"], 1);
  EXPECT_EQ(found[4]["id"], 5);
  const std::vector<json> page = JsonLines(
      RunOk({"get", "--json", "--filter", "id < 100", "--offset", "1", "--limit", "2"}).out);
  ASSERT_EQ(page.size(), 2u);
  EXPECT_EQ(page[0]["id"], 2);
  EXPECT_EQ(page[1]["id"], 3);
  EXPECT_EQ(OneJson(RunOk({"get", "--json", "--count"}))["count"], 7);
  EXPECT_EQ(RunOk({"get", "--count", "--filter", "topic == \"programming\""}).out, "1\n");
  RunFails({"get", "1", "--filter", "id < 3"}, 2, "not both");
  RunFails({"get", "--filter", "id <"}, 1, "column");
  RunFails({"delete"}, 2, "--filter");
  EXPECT_EQ(OneJson(RunOk({"delete", "--json", "--filter", "id >= 2 and id <= 4"}))["deleted"], 3);
  EXPECT_EQ(OneJson(RunOk({"get", "--json", "--count"}))["count"], 4);
  RunFails({"get", "3"}, 1, "no document with id 3");
}

TEST_F(CliTest, SearchGroupedAndByRange) {
  RunOk({"add", "--jsonl",
         WriteFile(
             "g.jsonl",
             R"({"id": 1, "text": "red apples and green apples", "metadata": {"kind": "fruit"}})"
             "\n"
             R"({"id": 2, "text": "apples grow on apple trees", "metadata": {"kind": "fruit"}})"
             "\n"
             R"({"id": 3, "text": "apple pie with cinnamon", "metadata": {"kind": "food"}})"
             "\n"
             R"({"id": 4, "text": "the stock market fell today", "metadata": {"kind": "news"}})"
             "\n")});
  const json grouped =
      OneJson(RunOk({"search", "--json", "apples", "-k", "2", "--group-by", "kind"}));
  ASSERT_EQ(grouped["hits"].size(), 2u);
  EXPECT_EQ(grouped["hits"][0]["group"], "fruit");
  EXPECT_NE(grouped["hits"][1]["group"], "fruit");
  const std::string table =
      RunOk({"search", "apples", "--group-by", "kind", "--group-size", "2"}).out;
  EXPECT_NE(table.find("GROUP"), std::string::npos) << table;
  // Range: every hit at or above the score, fewer than k.
  const json all = OneJson(RunOk({"search", "--json", "apples", "-k", "4"}));
  const double cut = all["hits"][1]["score"].get<double>() - 1e-4;
  const json ranged = OneJson(
      RunOk({"search", "--json", "apples", "-k", "10", "--min-score", std::to_string(cut)}));
  EXPECT_EQ(ranged["hits"].size(), 2u);
  RunFails({"search", "apples", "--min-score", "0.9", "--max-score", "0.1"}, 2, "max_score");
  RunFails({"search", "apples", "--group-by", "a[0]"}, 1, "group_by");
}

TEST_F(CliTest, FullTextAndHybridSearch) {
  const json info = OneJson(RunOk(
      {"create", "--json", "--text-index", "--index-field", "lang", "--index-field", "topic"}));
  EXPECT_EQ(info["text_index"], true);
  EXPECT_EQ(info["indexed_fields"], json::array({"lang", "topic"}));
  Populate();
  const json text = OneJson(RunOk({"search", "--json", "--text", "sourdough", "starter"}));
  ASSERT_EQ(text["hits"].size(), 1u);  // only one document has either word
  EXPECT_EQ(text["hits"][0]["id"], 2);
  EXPECT_GT(text["hits"][0]["text_score"].get<double>(), 0);
  const json hybrid = OneJson(RunOk({"search", "--json", "--hybrid", "-k", "3", "lava", "ash"}));
  ASSERT_EQ(hybrid["hits"].size(), 3u);
  EXPECT_EQ(hybrid["hits"][0]["id"], 4);  // first on both lists
  EXPECT_TRUE(hybrid["hits"][0].contains("vector_score"));
  EXPECT_TRUE(hybrid["hits"][0].contains("text_score"));
  RunFails({"search", "--text", "--hybrid", "x"}, 2, "give one of --text, --hybrid and --ranking");
  const json narrowed = OneJson(
      RunOk({"search", "--json", "--explain", "--filter", "topic == \"programming\"", "borrow"}));
  ASSERT_EQ(narrowed["hits"].size(), 1u);
  EXPECT_EQ(narrowed["hits"][0]["id"], "rust-doc");
  RunFails({"create", "-c", "bad", "--index-field", "a[0]"}, 2, "indexed field");
  RunOk({"create", "-c", "plain"});
  RunOk({"add", "-c", "plain", "some text"});
  RunFails({"search", "-c", "plain", "--text", "text"}, 1, "text index");
}

TEST_F(CliTest, SearchQueriesFilePrintsOneJsonLinePerQuery) {
  Populate();
  const std::string queries =
      WriteFile("q.jsonl", R"({"text": "quick brown fox"})"
                           "\n\n"
                           R"({"text": "sourdough starter", "k": 1, "id": "bread"})"
                           "\n"
                           R"({"text": "glaciers carve valleys"})"
                           "\n"
                           R"({"text": "marathon runners wall", "id": 9})"
                           "\n");
  const RunResult r = RunOk({"search", "--queries", queries, "-k", "2"});
  const std::vector<json> lines = JsonLines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  EXPECT_EQ(lines[0]["query"], 1);  // line number
  EXPECT_EQ(lines[0]["hits"][0]["id"], 1);
  EXPECT_EQ(lines[0]["hits"].size(), 2u);
  EXPECT_EQ(lines[1]["query"], "bread");
  EXPECT_EQ(lines[1]["hits"][0]["id"], 2);
  EXPECT_EQ(lines[1]["hits"].size(), 1u);
  EXPECT_EQ(lines[2]["query"], 4);
  EXPECT_EQ(lines[2]["hits"][0]["id"], 5);
  EXPECT_EQ(lines[3]["query"], 9);
  EXPECT_EQ(lines[3]["hits"][0]["id"], 100);

  // A bad query anywhere prints nothing and names its line.
  const std::string bad = WriteFile("bad.jsonl", R"({"text": "fox"})"
                                                 "\n"
                                                 R"({"vector": [1, 2]})"
                                                 "\n");
  const RunResult failed = RunFails({"search", "--queries", bad}, 1, "bad.jsonl:2: dim mismatch");
  EXPECT_EQ(failed.out, "");
}

TEST_F(CliTest, GetDeleteAndStats) {
  Populate();
  RunResult r = RunOk({"get", "1", "rust-doc"});
  EXPECT_NE(r.out.find("the quick brown fox"), std::string::npos);
  EXPECT_NE(r.out.find("\"topic\":\"programming\""), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("vector:"), std::string::npos);

  const json doc = OneJson(RunOk({"get", "--json", "--with-vector", "100"}));
  EXPECT_EQ(doc["id"], 100);
  EXPECT_EQ(doc["vector"].size(), 384u);

  // An integer-looking id is an integer unless --string-id.
  RunFails({"get", "--string-id", "100"}, 1, "no document with id \"100\"");
  r = RunFails({"get", "1", "404"}, 1, "no document with id 404 in collection \"default\"");
  EXPECT_EQ(r.out, "");

  EXPECT_EQ(OneJson(RunOk({"delete", "--json", "1", "404", "rust-doc"}))["deleted"], 2);
  RunFails({"get", "1"}, 1, "no document with id 1");
  r = RunOk({"delete", "2"});
  EXPECT_NE(r.out.find("deleted 1 of 1 document"), std::string::npos) << r.out;

  RunOk({"create", "-c", "vectors", "--encoder", "none", "--dim", "3", "--metric", "l2"});
  const json stats = OneJson(RunOk({"stats", "--json"}));
  ASSERT_EQ(stats["collections"].size(), 2u);
  for (const json& info : stats["collections"]) {
    if (info["name"] == "default") {
      EXPECT_EQ(info["count"], 4);
      EXPECT_EQ(info["dim"], 384);
      EXPECT_EQ(info["metric"], "cosine");
      EXPECT_NE(info["encoder_spec"].get<std::string>().find("hash"), std::string::npos);
      EXPECT_EQ(info["m"], 16);
    } else {
      EXPECT_EQ(info["name"], "vectors");
      EXPECT_EQ(info["encoder"], "none");
      EXPECT_EQ(info["dim"], 3);
    }
  }
  r = RunOk({"stats", "-c", "vectors"});
  EXPECT_NE(r.out.find("vectors"), std::string::npos);
  EXPECT_EQ(r.out.find("default"), std::string::npos) << r.out;
  EXPECT_NE(RunOk({"stats"}).out.find("EF_CONSTRUCTION"), std::string::npos);
}

TEST_F(CliTest, PersistsAcrossProcesses) {
  for (int i = 0; i < 3; ++i) RunOk({"add", "-c", "log", "entry number " + std::to_string(i)});
  EXPECT_EQ(Count("log"), 3u);
  const json hits = OneJson(RunOk({"search", "-c", "log", "--json", "-k", "1", "entry number 2"}));
  EXPECT_EQ(hits["hits"][0]["id"], 3);
  EXPECT_EQ(OneJson(RunOk({"get", "-c", "log", "--json", "1"}))["text"], "entry number 0");
}

TEST_F(CliTest, AutomaticIdsSkipStoredIdsAfterDelete) {
  RunOk({"add", "a1", "a2", "a3", "a4"});
  RunOk({"delete", "2"});  // 3 documents left: 1, 3, 4
  const json added = OneJson(RunOk({"add", "--json", "b1", "b2"}));
  EXPECT_EQ(added["first_id"], 5);  // 4 is taken, so the run starts after it
  EXPECT_EQ(added["last_id"], 6);
  EXPECT_EQ(OneJson(RunOk({"get", "--json", "4"}))["text"], "a4");
  EXPECT_EQ(OneJson(RunOk({"get", "--json", "6"}))["text"], "b2");
  EXPECT_EQ(Count("default"), 5u);
}

TEST_F(CliTest, GlobalOptionsBeforeVerbAndFromEnvironment) {
  RunOk({"--db", "other.db", "-c", "x", "add", "hello"});
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/other.db"));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/flashembed.db"));
  const RunResult r = Run({"stats", "--json"}, "", {{"FLASHEMBED_DB", dir_ + "/other.db"}});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(OneJson(r)["collections"][0]["name"], "x");
  // No database at the default path: stats does not create one.
  RunFails({"stats"}, 1, "no flashembed database");
}

// A collection that embeds with a local Hugging Face model folder (a tiny
// test model whose vocabulary is w0, w1, ...).
TEST_F(CliTest, ModelCollection) {
  const json info =
      OneJson(RunOk({"create", "-c", "m", "--json", "--model", FLASHEMBED_MODEL_DIR}));
  EXPECT_EQ(info["dim"], 32);
  RunOk({"add", "-c", "m", "--id", "1", "--id", "2", "w1 w2 w3 w4", "w50 w60 w70"});
  json hits = OneJson(RunOk({"search", "-c", "m", "--json", "-k", "2", "w50", "w60", "w70"}));
  ASSERT_EQ(hits["hits"].size(), 2u);
  EXPECT_EQ(hits["hits"][0]["id"], 2);
  const json prefixed =
      OneJson(RunOk({"create", "-c", "e5", "--json", "--model", FLASHEMBED_MODEL_DIR,
                     "--query-prefix", "query: ", "--document-prefix", "passage: "}));
  EXPECT_EQ(prefixed["query_prefix"], "query: ");
  EXPECT_EQ(prefixed["document_prefix"], "passage: ");
  RunFails({"create", "-c", "x", "--model", "/no/such/model"}, 1, "no such model folder");
  RunFails({"create", "-c", "y", "--model", FLASHEMBED_MODEL_DIR, "--encoder", "hash"}, 2,
           "excludes");
}

// An XLM-RoBERTa folder (Unigram tokenizer, Dense module) works the same
// way from the CLI, and --dim below its width truncates (Matryoshka).
TEST_F(CliTest, XlmrModelCollectionAndMatryoshkaDim) {
  const std::string xlmr =
      std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/xlmr/cls_dense_f16_prefixed";
  json info = OneJson(RunOk({"create", "-c", "ml", "--json", "--model", xlmr}));
  EXPECT_EQ(info["dim"], 24);  // the Dense module's out_features
  EXPECT_TRUE(info["encoder_spec"].get<std::string>().starts_with("xlmr/v1;")) << info;
  RunOk({"add", "-c", "ml", "--id", "1", "--id", "2", "--id", "3", "Grüße aus Köln",
         "東京の天気は晴れ", "the quick brown fox"});
  for (const auto& [query, id] :
       std::vector<std::pair<std::string, int>>{{"Grüße aus Köln", 1}, {"東京の天気は晴れ", 2}}) {
    const json hits = OneJson(RunOk({"search", "-c", "ml", "--json", "-k", "1", query}));
    ASSERT_EQ(hits["hits"].size(), 1u);
    EXPECT_EQ(hits["hits"][0]["id"], id) << query;
  }
  // The ids are Hugging Face's (reference.jsonl of the fixture).
  std::map<std::string, std::vector<int>> reference;
  {
    std::ifstream in(xlmr + "/reference.jsonl");
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line);
      reference[j["text"].get<std::string>()] = j["ids"].get<std::vector<int>>();
    }
  }
  ASSERT_TRUE(reference.count(" ")) << "the fixture has a blank text";
  const RunResult r = RunOk({"tokenize", "--model", xlmr}, "{\"text\": \" \"}\n");
  EXPECT_EQ(OneJson(r)["ids"], json(reference.at(" ")));

  info = OneJson(RunOk({"create", "-c", "small", "--json", "--model", xlmr, "--dim", "8"}));
  EXPECT_EQ(info["dim"], 8);
  RunOk({"add", "-c", "small", "--id", "1", "Grüße aus Köln"});
  const json got = OneJson(RunOk({"get", "-c", "small", "--json", "--with-vector", "1"}));
  const std::vector<double> cut = got["vector"].get<std::vector<double>>();
  const std::vector<double> full =
      OneJson(RunOk({"embed", "--model", xlmr}, "{\"text\": \"Grüße aus Köln\"}\n"))["vector"]
          .get<std::vector<double>>();
  ASSERT_EQ(cut.size(), 8u) << got;
  ASSERT_EQ(full.size(), 24u);
  double norm = 0;
  for (size_t d = 0; d < 8; ++d) norm += full[d] * full[d];
  for (size_t d = 0; d < 8; ++d) EXPECT_NEAR(cut[d], full[d] / std::sqrt(norm), 1e-5) << d;
  RunFails({"create", "-c", "wide", "--model", xlmr, "--dim", "25"}, 1,
           "larger than the model's 24");
}

// A cross-encoder from the CLI: `rerank` scores pairs as the PyTorch
// reference does, `tokenize` encodes pairs, and `search --rerank` reorders
// the first stage by the same scores.
TEST_F(CliTest, RerankPairsAndSearch) {
  const std::string reranker =
      std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/cross_encoder/bert_minilm_f32";
  std::vector<json> reference;
  {
    std::ifstream in(reranker + "/reference.jsonl");
    for (std::string line; std::getline(in, line);) reference.push_back(json::parse(line));
  }
  ASSERT_GE(reference.size(), 3u);
  std::string input, pair_input;
  for (size_t i = 0; i < 3; ++i) {
    json line = {{"query", reference[i]["query"]}, {"passage", reference[i]["passage"]}};
    if (i == 1) line = {{"text", reference[i]["query"]}, {"text_pair", reference[i]["passage"]}};
    input += line.dump() + "\n";
    pair_input +=
        json({{"text", reference[i]["query"]}, {"text_pair", reference[i]["passage"]}}).dump() +
        "\n";
  }
  RunResult r = RunOk({"rerank", "--model", reranker}, input);
  std::vector<std::string> lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (size_t i = 0; i < 3; ++i) {
    const json got = json::parse(lines[i]);
    EXPECT_NEAR(got["score"].get<double>(), reference[i]["score"].get<double>(), 1e-4) << i;
    EXPECT_NEAR(got["logit"].get<double>(), reference[i]["logit"].get<double>(), 1e-4) << i;
  }
  r = RunOk({"tokenize", "--model", reranker}, pair_input);
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 3u) << r.out;
  for (size_t i = 0; i < 3; ++i) {
    const json got = json::parse(lines[i]);
    EXPECT_EQ(got["type_ids"], reference[i]["type_ids"]) << i;
    // Without --max-tokens the pair is not cut; the reference is cut at the
    // reranker's max length.
    const auto want = reference[i]["ids"].get<std::vector<int>>();
    const auto ids = got["ids"].get<std::vector<int>>();
    if (ids.size() == want.size()) {
      EXPECT_EQ(ids, want) << i;
    }
  }
  RunFails({"rerank", "--model", reranker}, 1, "<stdin>:4: expected {\"query\"",
           input + "{\"query\": \"only\"}\n");
  RunFails({"rerank", "--model", FLASHEMBED_MODEL_DIR}, 1, "not a supported reranker", input);
  RunFails({"rerank"}, 2, "--model");

  RunOk({"create", "-c", "r"});
  RunOk({"add", "-c", "r", "--id", "1", "--id", "2", "--id", "3", "Berlin is a big city",
         "bread needs yeast", "people live in Berlin"});
  const json hits = OneJson(RunOk({"search", "-c", "r", "--json", "-k", "2", "--rerank", reranker,
                                   "--rerank-depth", "3", "who lives in Berlin"}));
  ASSERT_EQ(hits["hits"].size(), 2u) << hits;
  EXPECT_GE(hits["hits"][0]["rerank_score"].get<double>(),
            hits["hits"][1]["rerank_score"].get<double>());
  EXPECT_TRUE(hits["hits"][0].contains("score"));
  const RunResult table = RunOk({"search", "-c", "r", "--rerank", reranker, "who lives in Berlin"});
  EXPECT_NE(table.out.find("RERANK"), std::string::npos) << table.out;
  RunFails({"search", "-c", "r", "--rerank-depth", "3", "x"}, 1, "has no default");

  // A default reranker, stored by identity: a changed folder is refused by
  // the next process that searches (a process loads a reranker once).
  const std::string copy = WriteFile("placeholder", "");
  std::filesystem::remove(copy);
  std::filesystem::copy(reranker, copy, std::filesystem::copy_options::recursive);
  json info = OneJson(RunOk({"create", "-c", "d", "--json", "--reranker", copy}));
  EXPECT_EQ(info["reranker"], "model:" + copy) << info;
  RunOk({"add", "-c", "d", "--id", "1", "--id", "2", "Berlin is a big city", "bread needs yeast"});
  json ranked = OneJson(RunOk({"search", "-c", "d", "--json", "Berlin"}));
  EXPECT_TRUE(ranked["hits"][0].contains("rerank_score")) << ranked;
  std::ofstream(copy + "/tokenizer_config.json", std::ios::app) << "\n";
  RunFails({"search", "-c", "d", "Berlin"}, 1, "changed since the collection named it");
  ranked = OneJson(RunOk({"search", "-c", "d", "--json", "--rerank", reranker, "Berlin"}));
  EXPECT_TRUE(ranked["hits"][0].contains("rerank_score")) << ranked;
}

TEST_F(CliTest, TokenizeAndEmbedWithoutADatabase) {
  RunResult r = RunOk({"tokenize", "--model", FLASHEMBED_MODEL_DIR},
                      "{\"text\": \"w1 w2 w3\"}\n{\"text\": \"w1 w2 w3 w4 w5\"}\n");
  auto lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 2u);
  json first = json::parse(lines[0]);
  EXPECT_EQ(first["ids"], json({2, 6, 7, 8, 3}));
  EXPECT_EQ(first["tokens"], json({"[CLS]", "w1", "w2", "w3", "[SEP]"}));
  r = RunOk({"tokenize", "--model", FLASHEMBED_MODEL_DIR, "--max-tokens", "4"},
            "{\"text\": \"w1 w2 w3 w4 w5\"}\n");
  EXPECT_EQ(OneJson(r)["ids"], json({2, 6, 7, 3}));

  r = RunOk({"embed", "--model", FLASHEMBED_MODEL_DIR}, "{\"text\": \"w1 w2\"}\n");
  std::vector<double> v = OneJson(r)["vector"].get<std::vector<double>>();
  ASSERT_EQ(v.size(), 32u);
  double norm = 0;
  for (double x : v) norm += x * x;
  EXPECT_NEAR(norm, 1.0, 1e-5) << "the fixture model normalises";
  r = RunOk({"embed", "--encoder", "hash"}, "{\"text\": \"hello\"}\n");
  EXPECT_EQ(OneJson(r)["vector"].size(), 384u);

  // A text with nothing to encode is [CLS] [SEP] for a model (Hugging Face's
  // answer, reference.jsonl of the text fixture) and fails no other line.
  const std::string text_model =
      std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert_text/uncased_mean_f16";
  std::map<std::string, std::vector<double>> reference;
  {
    std::ifstream in(text_model + "/reference.jsonl");
    for (std::string line; std::getline(in, line);) {
      json j = json::parse(line);
      reference[j["text"].get<std::string>()] = j["embedding"].get<std::vector<double>>();
    }
  }
  ASSERT_TRUE(reference.count("") && reference.count(" ") && reference.count("x"));
  r = RunOk(
      {"embed", "--model", text_model},
      "{\"text\": \"x\"}\n{\"text\": \"\"}\n{\"text\": \" \"}\n{\"text\": \"\\u3000\\t\\n\"}\n");
  lines = Lines(r.out);
  ASSERT_EQ(lines.size(), 4u) << r.out;
  const std::string texts[] = {"x", "", " ", "\u3000\t\n"};
  for (size_t i = 0; i < 4; ++i) {
    const std::vector<double> got = json::parse(lines[i])["vector"].get<std::vector<double>>();
    const std::vector<double>& want = reference.at(texts[i]);
    ASSERT_EQ(got.size(), want.size());
    for (size_t d = 0; d < got.size(); ++d) EXPECT_NEAR(got[d], want[d], 1e-5) << i << " " << d;
  }
  // The hashing encoder has no feature to hash in such a text: refused,
  // naming the input line.
  RunFails({"embed", "--encoder", "hash"}, 1, "<stdin>:2: nothing to encode",
           "{\"text\": \"a\"}\n{\"text\": \" \"}\n");

  RunFails({"tokenize"}, 2, "--model");
  RunFails({"embed", "--encoder", "hash"}, 1, "<stdin>:2", "{\"text\": \"a\"}\n{\"txt\": 1}\n");
  RunFails({"tokenize", "--model", "/no/such/model"}, 1, "no such model folder",
           "{\"text\": \"a\"}\n");
}

TEST_F(CliTest, VectorOnlyCollection) {
  RunOk({"create", "-c", "v", "--encoder", "none", "--dim", "4", "--metric", "l2"});
  const std::string jsonl =
      WriteFile("v.jsonl", R"({"id": 1, "vector": [1, 0, 0, 0], "text": "east"})"
                           "\n"
                           R"({"id": 2, "vector": [0, 1, 0, 0], "metadata": {"dir": "north"}})"
                           "\n"
                           R"({"id": "up", "vector": [0, 0, 1, 0]})"
                           "\n");
  EXPECT_EQ(OneJson(RunOk({"add", "-c", "v", "--json", "--jsonl", jsonl}))["added"], 3);

  json hits =
      OneJson(RunOk({"search", "-c", "v", "--json", "-k", "2", "--vector", "[0.1, 0.9, 0, 0]"}));
  ASSERT_EQ(hits["hits"].size(), 2u);
  EXPECT_EQ(hits["hits"][0]["id"], 2);
  EXPECT_EQ(hits["hits"][0]["metadata"]["dir"], "north");
  hits = OneJson(RunOk({"search", "-c", "v", "--json", "--vector", "0,0,0.8,0.1"}));
  EXPECT_EQ(hits["hits"][0]["id"], "up");

  RunFails({"search", "-c", "v", "east"}, 1, "vector-only");
  RunFails({"add", "-c", "v", "some text"}, 1, "vector-only");
  RunFails({"create", "-c", "w", "--encoder", "none"}, 2, "--dim");
}

TEST_F(CliTest, AddVectorWithoutCollectionExplainsCreate) {
  const std::string jsonl = WriteFile("v.jsonl", R"({"id": 1, "vector": [0.5, 0.5]})"
                                                 "\n");
  RunFails({"add", "-c", "fresh", "--jsonl", jsonl}, 1, "create -c fresh --encoder none --dim 2");
  RunFails({"stats", "-c", "fresh"}, 1, "does not exist");
}

// --- failures -----------------------------------------------------------------

TEST_F(CliTest, UnknownCollectionFails) {
  RunOk({"add", "something"});
  RunFails({"search", "-c", "nope", "query"}, 1, "collection \"nope\" does not exist");
  RunFails({"get", "-c", "nope", "1"}, 1, "collection \"nope\" does not exist");
  RunFails({"delete", "-c", "nope", "1"}, 1, "collection \"nope\" does not exist");
  RunFails({"stats", "-c", "nope"}, 1, "collection \"nope\" does not exist");
  RunFails({"drop", "-c", "nope", "--yes"}, 1, "collection \"nope\" does not exist");
}

TEST_F(CliTest, BadJsonlLineNamesLineAndAddsNothing) {
  RunOk({"add", "-c", "docs", "existing document"});
  const std::string good = R"({"id": "a", "text": "fine"})"
                           "\n"
                           R"({"id": "b", "text": "also fine"})"
                           "\n";
  const std::vector<std::pair<std::string, std::string>> cases = {
      {R"({"id": "c", "text": "broken)", "malformed JSON"},
      {R"({"id": "c", "metadata": {}})", "record needs a \"text\" or a \"vector\""},
      {R"({"id": 1.5, "text": "x"})", "id must be an integer or a non-empty string"},
      {R"({"id": true, "text": "x"})", "id must be an integer or a non-empty string"},
      {R"({"id": "c", "text": "x", "metadata": [1]})", "\"metadata\" must be a JSON object"},
      {R"({"id": "c", "text": ""})", "\"text\" is empty"},
      {R"({"id": "c", "text": "\u3000\u200b "})",
       "text is empty (or only whitespace / control characters)"},
      {R"([1, 2])", "expected a JSON object"},
      {R"({"id": "a", "text": "again"})", "id \"a\" is given twice (first at "},
  };
  for (const auto& [line, message] : cases) {
    SCOPED_TRACE(line);
    const std::string path = WriteFile("bad.jsonl", good + "\n" + line + "\n");
    RunFails({"add", "-c", "docs", "--jsonl", path}, 1, "bad.jsonl:4: " + message);
    EXPECT_EQ(Count("docs"), 1u);
  }
  // The same for a collection that does not exist yet: it is not created.
  const std::string path = WriteFile("bad.jsonl", good + R"({"id": [1], "text": "x"})"
                                                         "\n");
  RunFails({"add", "-c", "newone", "--jsonl", path}, 1, "bad.jsonl:3:");
  RunFails({"stats", "-c", "newone"}, 1, "does not exist");
}

// Regression: a line whose metadata nests 70,000 levels crashed `add`
// (SIGSEGV in the JSON serializer). Every JSON line reader refuses values
// nested deeper than the library's kMaxMetadataDepth (64) before building
// them, with the library's message for metadata.
TEST_F(CliTest, DeepJsonLinesAreRefusedNotCrashed) {
  auto nested = [](size_t levels) {
    std::string out;
    for (size_t i = 1; i < levels; ++i) out += "{\"a\":";
    return out + "{}" + std::string(levels - 1, '}');
  };
  const std::string good = R"({"id": 1, "text": "fine"})"
                           "\n";
  RunOk({"add", "-c", "ok", "--jsonl", "-"},
        R"({"id": 1, "text": "x", "metadata": )" + nested(64) + "}\n");
  for (size_t levels : {size_t{65}, size_t{70000}}) {
    const std::string path = WriteFile(
        "deep.jsonl", good + R"({"id": 2, "text": "x", "metadata": )" + nested(levels) + "}\n");
    const RunResult r = RunFails({"add", "-c", "deep", "--jsonl", path}, 1,
                                 "deep.jsonl:2: metadata nests deeper than 64 levels");
    EXPECT_EQ(r.out, "");
  }
  RunFails({"stats", "-c", "deep"}, 1, "does not exist");
  // Other keys, other readers, the --metadata flag.
  RunFails({"add", "-c", "deep", "--jsonl", "-"}, 1, "<stdin>:1: \"vector\" nests deeper than 64",
           R"({"vector": )" + std::string(70000, '[') + std::string(70000, ']') + "}\n");
  RunFails({"search", "-c", "ok", "--queries", "-"}, 1, "<stdin>:1: \"id\" nests deeper than 64",
           R"({"text": "x", "id": )" + std::string(70000, '[') + std::string(70000, ']') + "}\n");
  RunFails({"embed", "--encoder", "hash"}, 1, "<stdin>:1: JSON nests deeper than 64",
           std::string(70000, '[') + std::string(70000, ']') + "\n");
  // (An argument is at most 128 KiB.)
  RunFails({"add", "-c", "deep", "--metadata", "{\"a\":" + std::string(100000, '['), "text"}, 2,
           "metadata nests deeper than 64 levels");
}

// Regression: `add --jsonl /dev/zero` read forever into memory. Lines are
// read in blocks and refused beyond 1 GiB (ingest's limit for one input),
// and a NUL byte is refused at once as binary input.
TEST_F(CliTest, LinesHaveASizeLimitAndNoNulBytes) {
  // Lines below the limit are fine, with or without a final line end.
  RunOk({"add", "-c", "small", "--file", "-"}, "first line\n" + std::string(100000, 'y'));
  EXPECT_EQ(Count("small"), 2u);

  // (timeout: without the checks these reads do not end.)
  RunResult r = flashembed::testing::RunProgram(
      dir_, {"/bin/sh", "-c", "timeout 20 " + std::string(kCli) + " add --jsonl /dev/zero"});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err, "flashembed: error: /dev/zero:1: binary input (NUL byte at column 1)\n");
  RunFails({"add", "--file", "-"}, 1, "<stdin>:2: binary input (NUL byte at column 3)",
           std::string("one line\nab\0c\n", 13));
  // A line of 1 GiB + 1 byte without a line end, through a pipe: refused
  // once the limit is passed, naming the line.
  const std::string command = "head -c 1073741825 /dev/zero | tr '\\0' x | timeout 60 " +
                              std::string(kCli) + " add -c big --file -";
  r = flashembed::testing::RunProgram(dir_, {"/bin/sh", "-c", command});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_EQ(r.err,
            "flashembed: error: <stdin>:1: line too long (more than 1073741824 bytes, "
            "the limit)\n");
  RunFails({"stats", "-c", "big"}, 1, "does not exist");
}

// Regression: finite vectors whose scores overflow a float were stored and
// then scored null. `add` refuses them before writing any batch, and
// `search` before printing any result.
TEST_F(CliTest, VectorsWhoseScoresWouldOverflowAreRefused) {
  RunOk({"create", "-c", "v", "--encoder", "none", "--dim", "4", "--metric", "l2"});
  const std::string jsonl = WriteFile("v.jsonl", R"({"id": 1, "vector": [1, 0, 0, 0]})"
                                                 "\n"
                                                 R"({"id": 2, "vector": [1e30, 1e30, 1e30, 1e30]})"
                                                 "\n");
  RunFails({"add", "-c", "v", "--jsonl", jsonl}, 1, "v.jsonl:2: vector is too long");
  EXPECT_EQ(Count("v"), 0u);
  RunOk({"add", "-c", "v", "--jsonl", "-"}, R"({"id": 1, "vector": [1e18, 1e18, 1e18, 1e18]})"
                                            "\n");
  RunFails({"search", "-c", "v", "--vector", "[1e30, 1e30, 1e30, 1e30]"}, 1,
           "query vector is too long");
  const RunResult r =
      RunFails({"search", "-c", "v", "--queries", "-"}, 1, "<stdin>:2: query vector is too long",
               R"({"vector": [1, 1, 1, 1]})"
               "\n"
               R"({"vector": [1e30, 1e30, 1e30, 1e30]})"
               "\n");
  EXPECT_EQ(r.out, "");
  const json hits =
      OneJson(RunOk({"search", "-c", "v", "--json", "--vector", "[-1e18, -1e18, -1e18, -1e18]"}));
  ASSERT_EQ(hits["hits"].size(), 1u) << hits;
  EXPECT_TRUE(hits["hits"][0]["score"].is_number()) << hits;
}

TEST_F(CliTest, WrongVectorDimFails) {
  RunOk({"create", "-c", "v", "--encoder", "none", "--dim", "3"});
  const std::string jsonl = WriteFile("v.jsonl", R"({"id": 1, "vector": [1, 0, 0]})"
                                                 "\n"
                                                 R"({"id": 2, "vector": [1, 0]})"
                                                 "\n");
  RunFails({"add", "-c", "v", "--jsonl", jsonl}, 1,
           "v.jsonl:2: dim mismatch: collection \"v\" has 3, vector has 2");
  EXPECT_EQ(Count("v"), 0u);
  RunOk({"add", "-c", "v", "--jsonl", "-"}, R"({"id": 1, "vector": [1, 0, 0]})"
                                            "\n");
  RunFails({"search", "-c", "v", "--vector", "[1, 0, 0, 0]"}, 1, "dim mismatch");
  RunFails({"search", "-c", "v", "--vector", "[1, x]"}, 2, "--vector");
}

TEST_F(CliTest, EmptyTextIsRejected) {
  RunFails({"add", "fine", ""}, 2, "TEXT argument 2 is empty");
  RunFails({"search", ""}, 2, "empty");
  RunFails({"stats"}, 1, "no flashembed database");  // nothing was created
}

TEST_F(CliTest, DuplicateIdNeedsUpsert) {
  RunOk({"add", "--id", "7", "old text"});
  RunFails({"add", "--id", "7", "new text"}, 1,
           "id 7 already exists in collection \"default\" (use --upsert");
  EXPECT_EQ(OneJson(RunOk({"get", "--json", "7"}))["text"], "old text");
  RunOk({"add", "--upsert", "--id", "7", "new text"});
  EXPECT_EQ(OneJson(RunOk({"get", "--json", "7"}))["text"], "new text");
  EXPECT_EQ(Count("default"), 1u);
  // String id "7" is a different id.
  RunOk({"add", "--string-id", "--id", "7", "string seven"});
  EXPECT_EQ(Count("default"), 2u);
}

TEST_F(CliTest, UsageErrorsExitTwo) {
  RunFails({"frobnicate"}, 2, "unknown verb \"frobnicate\"");
  RunFails({}, 2, "no verb given");
  RunFails({"search", "--bogus", "x"}, 2, "--bogus");
  RunFails({"--bogus", "stats"}, 2, "--bogus");
  RunFails({"create", "--metric", "manhattan"}, 2, "--metric");
  RunFails({"create", "--m", "1"}, 2, "hnsw m must be in 2..100");
  RunFails({"create", "--dim", "many"}, 2, "--dim");
  RunFails({"search", "-k", "0", "x"}, 2, "k must be in 1..16384");
  RunFails({"add"}, 2, "exactly one");
  RunFails({"add", "--file", "a.txt", "text"}, 2, "exactly one");
  RunFails({"add", "--id", "1", "a", "b"}, 2, "one --id per TEXT");
  RunFails({"get"}, 2, "ID");
  RunFails({"drop"}, 2, "--yes");
  RunFails({"add", "--file", "missing.txt"}, 1, "cannot read missing.txt");
}

TEST_F(CliTest, HelpWorksForEveryVerb) {
  for (const std::string verb :
       {"create", "add", "search", "get", "delete", "stats", "drop", "demo", "compact", "backup"}) {
    SCOPED_TRACE(verb);
    const RunResult r = RunOk({verb, "--help"});
    EXPECT_NE(r.out.find("Usage: flashembed " + verb), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("--db"), std::string::npos);
    EXPECT_NE(r.out.find("--json"), std::string::npos);
    EXPECT_NE(r.out.find("--collection"), std::string::npos);
  }
  EXPECT_NE(RunOk({"--help"}).out.find("demo"), std::string::npos);
  EXPECT_NE(RunOk({"add", "--help"}).out.find("Automatic ids"), std::string::npos);
}

TEST_F(CliTest, DropNeedsYes) {
  RunOk({"add", "-c", "tmp", "doomed"});
  RunFails({"drop", "-c", "tmp"}, 2, "add --yes to confirm");
  EXPECT_EQ(Count("tmp"), 1u);
  EXPECT_EQ(OneJson(RunOk({"drop", "-c", "tmp", "--yes", "--json"}))["dropped"], "tmp");
  RunFails({"stats", "-c", "tmp"}, 1, "does not exist");
}

// --- compact, backup, disk use ------------------------------------------------

TEST_F(CliTest, CompactGivesSpaceBackAndBackupCopies) {
  std::string jsonl;
  for (int i = 0; i < 3000; ++i) {
    jsonl += "{\"id\": " + std::to_string(i) + ", \"text\": \"record number " + std::to_string(i) +
             " about things\", \"metadata\": {\"i\": " + std::to_string(i) + "}}\n";
  }
  WriteFile("in.jsonl", jsonl);
  RunOk({"add", "-c", "big", "--jsonl", "in.jsonl"});
  nlohmann::json stats = OneJson(RunOk({"stats", "--json"}));
  ASSERT_EQ(stats["collections"].size(), 1u);
  EXPECT_GT(stats["collections"][0]["disk_bytes"].get<uint64_t>(), 0u);
  EXPECT_GE(stats["disk_bytes"].get<uint64_t>(),
            stats["collections"][0]["disk_bytes"].get<uint64_t>());
  const std::vector<std::string> table = Lines(RunOk({"stats"}).out);
  EXPECT_NE(table[0].find("DISK"), std::string::npos) << table[0];
  EXPECT_EQ(table.back().rfind("folder ", 0), 0u) << table.back();

  RunOk({"delete", "-c", "big", "--filter", "i >= 300"});
  const nlohmann::json compacted = OneJson(RunOk({"compact", "--json"}));
  EXPECT_LT(compacted["bytes_after"].get<uint64_t>(), compacted["bytes_before"].get<uint64_t>() / 2)
      << compacted;
  EXPECT_EQ(Count("big"), 300u);

  const nlohmann::json backup = OneJson(RunOk({"backup", "--out", "copy", "--json"}));
  EXPECT_EQ(backup["backup"], "copy");
  RunOk({"add", "-c", "big", "one more after the backup"});
  const nlohmann::json copied = OneJson(RunOk({"stats", "--db", "copy", "--json", "-c", "big"}));
  EXPECT_EQ(copied["collections"][0]["count"], 300);
  RunFails({"backup", "--out", "copy"}, 1, "exists");
  RunFails({"backup", "--db", "nothing-here", "--out", "x"}, 1, "no flashembed database");
  RunFails({"backup"}, 2, "--out");
  EXPECT_NE(RunOk({"compact"}).out.find("compacted"), std::string::npos);
}

// --- demo ---------------------------------------------------------------------

TEST_F(CliTest, DemoReportsAllSampleQueries) {
  size_t sample_queries = 0;
  for (const std::string& line : Lines(ReadAll(std::string(kSampleDir) + "/queries.jsonl"))) {
    if (!line.empty()) ++sample_queries;
  }
  ASSERT_GT(sample_queries, 0u);

  const RunResult r = RunOk({"demo"});
  EXPECT_TRUE(std::filesystem::exists(dir_ + "/flashembed-demo.db"));
  EXPECT_NE(r.out.find("summary: 122 documents ingested in"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("/" + std::to_string(sample_queries) +
                       " queries ranked the expected document first"),
            std::string::npos)
      << r.out;
  EXPECT_NE(
      r.out.find("[" + std::to_string(sample_queries) + "/" + std::to_string(sample_queries) + "]"),
      std::string::npos);

  // A second run recreates the collection instead of failing on existing ids.
  const json summary = OneJson(RunOk({"demo", "--json", "--corpus", kSampleDir}));
  EXPECT_EQ(summary["docs"], 122);
  EXPECT_EQ(summary["queries"], sample_queries);
  EXPECT_EQ(summary["results"].size(), sample_queries);
  EXPECT_LE(summary["correct"].get<size_t>(), sample_queries);
  EXPECT_EQ(summary["results"][0]["hits"].size(), 3u);
  EXPECT_EQ(summary["results"][0]["query"],
            json::parse(Lines(ReadAll(std::string(kSampleDir) + "/queries.jsonl"))[0])["text"]);

  // The demo database holds the corpus; the default database was not touched.
  const RunResult stats = RunOk({"stats", "--json", "--db", "flashembed-demo.db", "-c", "demo"});
  EXPECT_EQ(OneJson(stats)["collections"][0]["count"], 122);
  RunFails({"stats"}, 1, "no flashembed database");
}

}  // namespace
