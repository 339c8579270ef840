// End-to-end tests of `flashembed eval` (tools/cli_eval.cc) on a hand-made
// test set in the BEIR layout, small enough that BM25's results, and so
// recall@k, MRR@10 and nDCG@10 of --ranking text, are known by hand; the
// --json shape, the table, and the errors. Also BEIR's corpus.jsonl ("_id")
// through ingest.
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"

namespace {

using flashembed::testing::Lines;
using flashembed::testing::OneJson;
using nlohmann::json;

// Five one-sentence documents. Each query word is in exactly one of them,
// so BM25 finds exactly the documents holding a query word.
constexpr const char* kCorpus =
    R"({"_id": "c1", "title": "Marsupial", "text": "The quokka is a small wallaby living on Rottnest island."})"
    "\n"
    R"({"_id": "c2", "title": "Baking", "text": "Sourdough bread rises with a lively starter and patience."})"
    "\n"
    R"({"_id": "c3", "title": "Ice", "text": "Glaciers carve deep valleys into mountains over centuries."})"
    "\n"
    R"({"_id": "c4", "title": "Fire", "text": "Volcanoes erupt molten lava while ash clouds travel far."})"
    "\n"
    R"({"_id": "c5", "title": "Port", "text": "The harbor lantern guides ships into the harbor at night."})"
    "\n";

// q1: c1 only, first. q2: c3 only, first. q3: c4 (relevance 2) first; c2
// (relevance 1) holds no query word, so is never found. q4: c5 holds
// "harbor" twice, c1 "wallaby" once (same length, same idf): c5 then c1, the
// relevant c1 second. q5: its relevant document is not in the collection.
// q6 and q7 are for the dev split.
constexpr const char* kQueries = R"({"_id": "q1", "text": "quokka island"})"
                                 "\n"
                                 R"({"_id": "q2", "text": "glaciers valleys"})"
                                 "\n"
                                 R"({"_id": "q3", "text": "lava ash"})"
                                 "\n"
                                 R"({"_id": "q4", "text": "harbor wallaby"})"
                                 "\n"
                                 R"({"_id": "q5", "text": "penguin colony"})"
                                 "\n"
                                 R"({"_id": "q6", "text": "sourdough starter"})"
                                 "\n"
                                 R"({"_id": "unused", "text": "not in any qrels"})"
                                 "\n";

constexpr const char* kTestQrels =
    "query-id\tcorpus-id\tscore\n"
    "q1\tc1\t1\n"
    "q2\tc3\t1\n"
    "q2\tc5\t0\n"  // not relevant
    "q3\tc4\t2\n"
    "q3\tc2\t1\n"
    "q4\tc1\t1\n"
    "q5\tc9\t1\n";

// Hand-computed for --ranking text (means over q1..q5).
// recall@10: 1, 1, 1/2, 1, 0. MRR@10: 1, 1, 1, 1/2, 0.
// nDCG@10: 1, 1, 2 / (2 + 1/log2(3)), (1/log2(3)) / 1, 0.
const double kRecall10 = (1 + 1 + 0.5 + 1 + 0) / 5;
const double kMrr = (1 + 1 + 1 + 0.5 + 0) / 5;
const double kNdcg = (1 + 1 + 2 / (2 + 1 / std::log2(3.0)) + 1 / std::log2(3.0) + 0) / 5;
// recall@1: q4's relevant document is second.
const double kRecall1 = (1 + 1 + 0.5 + 0 + 0) / 5;

class EvalCliTest : public flashembed::testing::CliFixture {
 protected:
  void SetUp() override {
    WriteFile("set/corpus.jsonl", kCorpus);
    WriteFile("set/queries.jsonl", kQueries);
    WriteFile("set/qrels/test.tsv", kTestQrels);
    // No header; a query (q7) queries.jsonl does not hold is left out.
    WriteFile("set/qrels/dev.tsv", "q1\tc1\t1\nq6\tc2\t1\nq7\tc3\t1\n");
    data_ = tmp_.Sub("set");
  }

  // `ingest -c C corpus.jsonl EXTRA...`; expects the five documents added.
  void IngestCorpus(const std::string& collection, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"ingest", "-c", collection, data_ + "/corpus.jsonl"};
    args.insert(args.end(), extra.begin(), extra.end());
    const json summary = OneJson(RunOk(args));
    EXPECT_EQ(summary["added"], 5) << summary;
  }

  // `eval --json -c C DIR EXTRA...`.
  json Eval(const std::string& collection, const std::vector<std::string>& extra = {}) {
    std::vector<std::string> args = {"eval", "--json", "-c", collection, data_};
    args.insert(args.end(), extra.begin(), extra.end());
    return OneJson(RunOk(args));
  }

  // The entry of `ranking` in an eval's "results".
  static json Result(const json& eval, const std::string& ranking) {
    for (const json& r : eval["results"]) {
      if (r["ranking"] == ranking) return r;
    }
    ADD_FAILURE() << "no " << ranking << " in " << eval;
    return json();
  }

  std::string data_;
};

TEST_F(EvalCliTest, CorpusWithBeirIdsIngests) {
  IngestCorpus("beir");
  const json doc = OneJson(RunOk({"get", "-c", "beir", "--json", "--document", "c3"}));
  EXPECT_EQ(doc["id"], "c3");
  EXPECT_EQ(doc["title"], "Ice");
  EXPECT_EQ(doc["metadata"], json::object()) << "\"_id\" is the id, not metadata";
  // "id" wins over "_id" (which is then metadata); an integer "_id" is its
  // decimal string; a bad "_id" is named.
  WriteFile("ids.jsonl", R"({"id": "x1", "_id": "y1", "text": "Both ids given."})"
                         "\n"
                         R"({"_id": 42, "text": "A number id."})"
                         "\n");
  const json summary = OneJson(RunOk({"ingest", "-c", "ids", tmp_.Sub("ids.jsonl")}));
  EXPECT_EQ(summary["added"], 2) << summary;
  EXPECT_EQ(OneJson(RunOk({"get", "-c", "ids", "--json", "--document", "x1"}))["metadata"],
            json({{"_id", "y1"}}));
  EXPECT_EQ(OneJson(RunOk({"get", "-c", "ids", "--json", "--document", "42"}))["id"], "42");
  WriteFile("bad.jsonl", R"({"_id": ["c1"], "text": "An array id."})"
                         "\n"
                         R"({"_id": "", "text": "An empty id."})"
                         "\n");
  const flashembed::testing::RunResult r = Run({"ingest", "-c", "bad", tmp_.Sub("bad.jsonl")});
  EXPECT_EQ(r.exit_code, 1) << r.err;
  EXPECT_NE(r.err.find("\"_id\" must be a string or an integer"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("empty \"_id\""), std::string::npos) << r.err;
}

TEST_F(EvalCliTest, TextRankingScoresAsComputedByHand) {
  IngestCorpus("beir");
  json out = Eval("beir", {"--ranking", "text"});
  EXPECT_EQ(out["collection"], "beir");
  EXPECT_EQ(out["data"], data_);
  EXPECT_EQ(out["split"], "test");
  EXPECT_EQ(out["searched"], "documents");
  EXPECT_EQ(out["queries"], 5);
  EXPECT_EQ(out["relevant_not_in_collection"], 1);
  ASSERT_EQ(out["results"].size(), 1u) << out;
  json text = out["results"][0];
  EXPECT_EQ(text["ranking"], "text");
  EXPECT_NEAR(text["recall@10"].get<double>(), kRecall10, 1e-9) << text;
  EXPECT_NEAR(text["mrr@10"].get<double>(), kMrr, 1e-9) << text;
  EXPECT_NEAR(text["ndcg@10"].get<double>(), kNdcg, 1e-9) << text;
  EXPECT_GT(text["queries_per_second"].get<double>(), 0) << text;
  EXPECT_EQ(text.size(), 5u) << text;

  // -k changes recall's cut only; MRR and nDCG stay at 10.
  out = Eval("beir", {"--ranking", "text", "-k", "1"});
  text = out["results"][0];
  EXPECT_FALSE(text.contains("recall@10")) << text;
  EXPECT_NEAR(text["recall@1"].get<double>(), kRecall1, 1e-9) << text;
  EXPECT_NEAR(text["mrr@10"].get<double>(), kMrr, 1e-9) << text;
  EXPECT_NEAR(text["ndcg@10"].get<double>(), kNdcg, 1e-9) << text;

  // The dev split: q1 and q6, both found first (q7 is not a query).
  out = Eval("beir", {"--ranking", "text", "--split", "dev"});
  EXPECT_EQ(out["split"], "dev");
  EXPECT_EQ(out["queries"], 2);
  EXPECT_EQ(out["relevant_not_in_collection"], 0);
  text = out["results"][0];
  EXPECT_DOUBLE_EQ(text["recall@10"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(text["mrr@10"].get<double>(), 1.0);
  EXPECT_DOUBLE_EQ(text["ndcg@10"].get<double>(), 1.0);

  // --limit: the first queries by id (q1).
  out = Eval("beir", {"--ranking", "text", "--limit", "1"});
  EXPECT_EQ(out["queries"], 1);
  EXPECT_EQ(out["relevant_not_in_collection"], 0) << "only the scored queries' documents count";
  EXPECT_DOUBLE_EQ(out["results"][0]["recall@10"].get<double>(), 1.0);
}

TEST_F(EvalCliTest, EveryRankingSideBySide) {
  IngestCorpus("beir");
  // Without --ranking: vector, text and hybrid (the collection keeps a text
  // index), each a mean in [0, 1].
  const json out = Eval("beir");
  ASSERT_EQ(out["results"].size(), 3u) << out;
  const std::vector<std::string> names = {"vector", "text", "hybrid"};
  for (size_t i = 0; i < names.size(); ++i) {
    const json& r = out["results"][i];
    EXPECT_EQ(r["ranking"], names[i]);
    for (const char* metric : {"recall@10", "mrr@10", "ndcg@10"}) {
      const double v = r[metric].get<double>();
      EXPECT_GE(v, 0.0) << r;
      EXPECT_LE(v, 1.0) << r;
    }
  }
  EXPECT_NEAR(Result(out, "text")["recall@10"].get<double>(), kRecall10, 1e-9);
  // Vector and hybrid rankings return every document, so only the two
  // relevant documents BM25 cannot find or that are absent are missed:
  // recall@10 = (1 + 1 + 1 + 1 + 0) / 5.
  EXPECT_NEAR(Result(out, "vector")["recall@10"].get<double>(), 0.8, 1e-9);
  EXPECT_NEAR(Result(out, "hybrid")["recall@10"].get<double>(), 0.8, 1e-9);
  // Repeated --ranking, in the order given, with a fusion.
  const json two = Eval("beir", {"--ranking", "hybrid", "--ranking", "text", "--fusion",
                                 "normalized", "--text-weight", "0.9"});
  ASSERT_EQ(two["results"].size(), 2u) << two;
  EXPECT_EQ(two["results"][0]["ranking"], "hybrid");
  EXPECT_EQ(two["results"][1]["ranking"], "text");
  EXPECT_NEAR(two["results"][0]["recall@10"].get<double>(), 0.8, 1e-9) << two;

  // The table: a header line, then the rankings.
  const std::vector<std::string> lines = Lines(RunOk({"eval", "-c", "beir", data_}).out);
  ASSERT_EQ(lines.size(), 5u) << RunOk({"eval", "-c", "beir", data_}).out;
  EXPECT_NE(lines[0].find("collection \"beir\" (long documents)"), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("5 queries, 1 relevant documents not in the collection"),
            std::string::npos)
      << lines[0];
  for (const char* column : {"ranking", "recall@10", "MRR@10", "nDCG@10", "queries/s"}) {
    EXPECT_NE(lines[1].find(column), std::string::npos) << lines[1];
  }
  for (size_t i = 0; i < names.size(); ++i) {
    EXPECT_EQ(lines[2 + i].rfind(names[i], 0), 0u) << lines[2 + i];
  }

  // A collection without a text index: vector only by default.
  IngestCorpus("plain", {"--no-text-index"});
  const json plain = Eval("plain");
  ASSERT_EQ(plain["results"].size(), 1u) << plain;
  json same = plain["results"][0];
  json vector = Result(out, "vector");
  EXPECT_EQ(same["ranking"], "vector");
  same.erase("queries_per_second");
  vector.erase("queries_per_second");
  EXPECT_EQ(same, vector) << "the same documents rank the same by vector";
}

TEST_F(EvalCliTest, PlainRecordsAreScoredByTheirIds) {
  // Records added one per document, ids the corpus ids: ranked by Search.
  RunOk({"create", "-c", "records", "--text-index"});
  WriteFile("records.jsonl",
            R"({"id": "c1", "text": "The quokka is a small wallaby living on Rottnest island."})"
            "\n"
            R"({"id": "c3", "text": "Glaciers carve deep valleys into mountains over centuries."})"
            "\n"
            R"({"id": "c4", "text": "Volcanoes erupt molten lava while ash clouds travel far."})"
            "\n"
            R"({"id": "c5", "text": "The harbor lantern guides ships into the harbor at night."})"
            "\n");
  RunOk({"add", "-c", "records", "--jsonl", tmp_.Sub("records.jsonl")});
  const json out = Eval("records", {"--ranking", "text"});
  EXPECT_EQ(out["searched"], "records");
  EXPECT_EQ(out["queries"], 5);
  EXPECT_EQ(out["relevant_not_in_collection"], 2) << "c2 and c9 are no record";
  const json& text = out["results"][0];
  EXPECT_NEAR(text["recall@10"].get<double>(), kRecall10, 1e-9) << text;
  EXPECT_NEAR(text["mrr@10"].get<double>(), kMrr, 1e-9) << text;
  EXPECT_NEAR(text["ndcg@10"].get<double>(), kNdcg, 1e-9) << text;
}

TEST_F(EvalCliTest, Errors) {
  IngestCorpus("beir");
  IngestCorpus("plain", {"--no-text-index"});
  // The test set: qrels/SPLIT.tsv, named with the line at fault.
  struct BadSplit {
    std::string split;
    std::string qrels;  // "" = no such file
    std::string needle;
  };
  const std::vector<BadSplit> splits = {
      {"nope", "", "qrels/nope.tsv: cannot open the qrels file"},
      {"short", "query-id\tcorpus-id\tscore\nq1\tc1\t1\nq2\tc3\n",
       "qrels/short.tsv:3: expected query-id<TAB>corpus-id<TAB>score, got \"q2\tc3\""},
      {"score", "q1\tc1\t1\nq2\tc3\thigh\n", "qrels/score.tsv:2: score \"high\" is not an integer"},
      {"empty_id", "q1\t\t1\n", "qrels/empty_id.tsv:1: expected"},
      {"zero", "q1\tc1\t0\n", "no relevant documents in split \"zero\""},
      {"orphans", "x1\tc1\t1\nx2\tc2\t1\n", "no query of the qrels is in queries.jsonl"},
  };
  for (const BadSplit& b : splits) {
    if (!b.qrels.empty()) WriteFile("set/qrels/" + b.split + ".tsv", b.qrels);
    RunFails({"eval", "-c", "beir", data_, "--split", b.split}, 1, b.needle);
  }
  WriteFile("broken/queries.jsonl", "{\"_id\": \"q1\"}\n");
  WriteFile("broken/qrels/test.tsv", "q1\tc1\t1\n");
  RunOk({"create", "-c", "vectors", "--encoder", "none", "--dim", "4"});

  struct Case {
    std::vector<std::string> args;  // after "eval"
    int exit_code;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"-c", "beir", tmp_.Sub("broken")}, 1, "missing \"text\" string"},
      {{"-c", "beir", tmp_.Sub("missing")}, 1, "cannot open the qrels file"},
      // The collection.
      {{"-c", "plain", data_, "--ranking", "text"},
       1,
       "collection \"plain\" has no text index: ranking text needs one"},
      {{"-c", "plain", data_, "--ranking", "vector", "--ranking", "hybrid"},
       1,
       "ranking hybrid needs one"},
      {{"-c", "nope", data_}, 1, "nope"},
      {{"-c", "vectors", data_}, 1, "eval needs an encoder"},
      {{"-c", "beir", data_, "--ranking", "hybrid", "--text-weight", "2"},
       1,
       "text_weight must be in 0..1"},
      // Usage.
      {{"-c", "beir", data_, "-k", "0"}, 2, "-k must be 1..1000"},
      {{"-c", "beir", data_, "--ranking", "bm25"}, 2, "--ranking"},
      {{"-c", "beir", data_, "--fusion", "max"}, 2, "--fusion"},
      {{"-c", "beir"}, 2, "DIR"},
  };
  for (const Case& c : cases) {
    std::vector<std::string> args = {"eval"};
    args.insert(args.end(), c.args.begin(), c.args.end());
    RunFails(args, c.exit_code, c.needle);
  }
}

}  // namespace
