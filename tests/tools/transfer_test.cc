// End-to-end tests of `flashembed export` and `flashembed import` (the real
// binary, FLASHEMBED_CLI_PATH): round trips in both formats that give back
// the same records bit for bit and the same search results, the exported
// files checked by numpy (transfer_check.py), files in the layout pymilvus'
// BulkWriter writes, and bad files that fail naming file and row and leave
// the target unchanged (transfer_bad_files_test.cc).
#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/tools/transfer_test_util.h"

namespace flashembed::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kCli = FLASHEMBED_CLI_PATH;
constexpr const char* kCheckScript = FLASHEMBED_TRANSFER_CHECK;

class TransferTest : public ::testing::TestWithParam<std::string> {
 protected:
  std::string Path(const std::string& name) const { return tmp_.Sub(name); }
  std::string db() const { return tmp_.Sub("db"); }
  const std::string& format() const { return format_; }

  RunResult Run(std::vector<std::string> args) {
    args.insert(args.end(), {"--db", db()});
    return RunProgram(tmp_.path(), kCli, args);
  }
  json RunOk(const std::vector<std::string>& args) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err << r.out;
    EXPECT_EQ(r.err, "");
    json out = json::parse(r.out, nullptr, false);
    return out.is_discarded() ? json() : out;
  }
  std::string RunText(const std::vector<std::string>& args) {
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << r.err;
    return r.out;
  }
  // Runs transfer_check.py on an export folder.
  void ExpectMilvusReadable(const std::string& dir) {
    RunResult r = RunProgram(tmp_.path(), "/usr/bin/python3", {kCheckScript, dir});
    EXPECT_EQ(r.exit_code, 0) << r.out << r.err;
    EXPECT_EQ(r.out.rfind("ok: ", 0), 0u) << r.out;
  }

  std::unique_ptr<Database> OpenDb() { return Database::Open({}, db()).value(); }

  TempDir tmp_;
  std::string format_ = GetParam();
};

// A metadata object exercising JSON: nesting, arrays, big integers, floats,
// unicode keys and values, null, booleans.
std::string Metadata(int i) {
  json m = {{"n", i},
            {"big", int64_t{9007199254740993} + i},
            {"neg", -i},
            {"ratio", i / 7.0},
            {"tiny", 1e-30 * i},
            {"flag", i % 2 == 0},
            {"none", nullptr},
            {"lang", i % 3 == 0 ? "en" : "de"},
            {"tags", {"a", i, json::object({{"k", "v"}})}},
            {"nested", {{"deep", {{"x", i}}}}},
            {"ключ", "значение ✓"}};
  if (i % 5 == 0) m = json::object();
  return m.dump();
}

std::string Text(int i) {
  static const char* kWords[] = {"river",       "forest",    "ocean",   "mountain",
                                 "desert",      "city",      "Ünïcödé", "quote\"s",
                                 "back\\slash", "tab\there", "日本語"};
  std::string text;
  for (int k = 0; k < 8 + i % 5; ++k) text += std::string(kWords[(i * 7 + k * 3) % 11]) + " ";
  if (i % 4 == 0) text += "\nline two";
  return text;
}

TEST_P(TransferTest, RoundTripKeepsRecordsMetadataAndDeletes) {
  {
    auto database = OpenDb();
    auto coll = database->CreateCollection("src", {}).value();
    std::vector<Document> docs;
    for (int i = 1; i <= 300; ++i) {
      Document d{.id = i, .text = Text(i), .metadata = Metadata(i)};
      if (i % 50 == 0) {  // a few records with their own vector
        d.vector.assign(384, 0.0f);
        d.vector[i % 384] = 0.1f * static_cast<float>(i);
        d.vector[(i * 3) % 384] = -1.0f / 3.0f;
      }
      docs.push_back(std::move(d));
    }
    ASSERT_OK(coll->Add({}, docs));
    std::vector<Id> gone = {10, 11, 12, 13, 14, 15, 16, 17, 18, 19};
    ASSERT_EQ(coll->Delete({}, gone).value(), 10u);
    ASSERT_OK(coll->Upsert(
        {},
        std::vector<Document>{{.id = 5, .text = "replaced text five", .metadata = R"({"v": 2})"}}));
  }
  const json exported = RunOk({"export", "-c", "src", "--format", format(), "--out", "ex"});
  EXPECT_EQ(exported["records"], 290);
  EXPECT_EQ(exported["pk_type"], "Int64");
  EXPECT_EQ(exported["documents"], 0);
  ExpectMilvusReadable(Path("ex"));
  const json imported = RunOk({"import", "-c", "dst", "--format", format(), "ex"});
  EXPECT_EQ(imported["created"], true);
  EXPECT_EQ(imported["rows"], 290);

  const CollectionDump src = DumpCollection(db(), "src");
  const CollectionDump dst = DumpCollection(db(), "dst");
  ASSERT_EQ(src.records.size(), 290u);
  ExpectSameContents(src, dst);
  EXPECT_EQ(dst.info.schema.dim, src.info.schema.dim);
  EXPECT_EQ(dst.info.encoder_spec, src.info.encoder_spec);
  EXPECT_EQ(dst.info.schema.metric, src.info.schema.metric);
  EXPECT_EQ(dst.info.schema.index, src.info.schema.index);
  for (const std::string q : {"river forest", "日本語 ocean", "replaced text"}) {
    EXPECT_EQ(RunText({"search", "--json", "-c", "src", q, "-k", "15"}),
              RunText({"search", "--json", "-c", "dst", q, "-k", "15"}));
    EXPECT_EQ(RunText({"search", "--json", "-c", "src", q, "--filter", "lang == \"en\""}),
              RunText({"search", "--json", "-c", "dst", q, "--filter", "lang == \"en\""}));
  }
  // Importing again is refused (ids stored) unless --upsert.
  RunResult again = Run({"import", "-c", "dst", "--format", format(), "ex"});
  EXPECT_EQ(again.exit_code, 1);
  EXPECT_NE(again.err.find("is already stored in collection \"dst\" (use --upsert"),
            std::string::npos)
      << again.err;
  EXPECT_EQ(RunOk({"import", "-c", "dst", "--format", format(), "--upsert", "ex"})["rows"], 290);
  ExpectSameContents(src, DumpCollection(db(), "dst"));
}

TEST_P(TransferTest, RoundTripKeepsLongDocuments) {
  for (int d = 0; d < 4; ++d) {
    std::string text;
    for (int p = 0; p < 6; ++p) {
      text += "Paragraph " + std::to_string(p) + " of document " + std::to_string(d) + ". ";
      for (int w = 0; w < 40; ++w) text += Text(d * 31 + p * 7 + w) + (w % 9 == 8 ? ". " : "");
      text += "\n\n";
    }
    WriteFile(Path("docs/doc" + std::to_string(d) + ".txt"), text);
  }
  RunOk({"ingest", "--json", "-c", "kb", "docs", "--chunk-tokens", "48"});
  // A plain record beside the documents; with an automatic (integer) id the
  // ids would be mixed, which needs --pk-type varchar (MixedIdsNeedVarcharPk).
  RunOk({"add", "--json", "-c", "kb", "--id", "note-1", "a plain record beside the documents"});
  const json exported = RunOk({"export", "-c", "kb", "--format", format(), "--out", "ex"});
  ASSERT_TRUE(exported.is_object());
  EXPECT_EQ(exported["documents"], 4);
  EXPECT_EQ(exported["pk_type"], "VarChar") << "chunk ids are strings: the plain id must be too";
  EXPECT_TRUE(fs::exists(Path("ex/flashembed-documents.jsonl")));
  ExpectMilvusReadable(Path("ex"));

  const json imported = RunOk({"import", "-c", "kb2", "--format", format(), "ex"});
  EXPECT_EQ(imported["documents"], 4);
  const CollectionDump a = DumpCollection(db(), "kb");
  const CollectionDump b = DumpCollection(db(), "kb2");
  EXPECT_EQ(a.documents.size(), 4u);
  ExpectSameContents(a, b);
  for (const std::string q : {"river ocean", "document 2 mountain"}) {
    EXPECT_EQ(RunText({"search", "--json", "-c", "kb", q, "--documents", "--passages", "2"}),
              RunText({"search", "--json", "-c", "kb2", q, "--documents", "--passages", "2"}));
    EXPECT_EQ(RunText({"search", "--json", "-c", "kb", q, "--documents", "--pooled"}),
              RunText({"search", "--json", "-c", "kb2", q, "--documents", "--pooled"}));
  }
  EXPECT_EQ(RunText({"get", "--json", "-c", "kb", "--document", "doc1.txt"}),
            RunText({"get", "--json", "-c", "kb2", "--document", "doc1.txt"}));
  // The chunks are also ordinary Milvus rows: the document, ordinal and
  // offsets travel in $meta.
  if (format() == "milvus-json") {
    const json rows =
        json::parse(ReadFile(Path("ex/" + exported["files"][0][0].get<std::string>())));
    const json& first = rows["rows"][0];
    EXPECT_TRUE(first["id"].is_string());
    EXPECT_TRUE(first["$meta"]["doc"].contains("id"));
    EXPECT_TRUE(first["$meta"]["chunk"].contains("begin"));
  }
}

TEST_P(TransferTest, VectorOnlyStringIdsAndIvfIndex) {
  {
    auto database = OpenDb();
    CollectionSchema schema{.dim = 16,
                            .metric = Metric::kL2,
                            .index = IndexKind::kIvfFlat,
                            .ivf = {.nlist = 4, .nprobe = 2, .train_at = 64},
                            .encoder = ""};
    auto coll = database->CreateCollection("vec", schema).value();
    std::vector<Document> docs;
    for (int i = 0; i < 200; ++i) {
      Document d{.id = "item-" + std::to_string(i) + std::string(i % 7, 'x')};
      for (int k = 0; k < 16; ++k)
        d.vector.push_back(static_cast<float>((i * 31 + k * 17) % 97) / 97.0f - 0.5f);
      d.metadata = json{{"group", i % 4}}.dump();
      docs.push_back(std::move(d));
    }
    ASSERT_OK(coll->Add({}, docs));
  }
  RunOk({"export", "-c", "vec", "--format", format(), "--out", "ex"});
  ExpectMilvusReadable(Path("ex"));
  const json body = json::parse(ReadFile(Path("ex/collection.json")));
  const json& fields = body["schema"]["fields"];
  ASSERT_EQ(fields.size(), 2u) << "no text field for a vector-only collection without texts";
  EXPECT_EQ(fields[0]["dataType"], "VarChar");
  EXPECT_GE(fields[0]["elementTypeParams"]["max_length"].get<int>(), 14);
  EXPECT_EQ(fields[1]["elementTypeParams"]["dim"], 16);
  EXPECT_EQ(body["indexParams"][0]["metricType"], "L2");
  EXPECT_EQ(body["indexParams"][0]["params"]["index_type"], "IVF_FLAT");
  EXPECT_EQ(body["indexParams"][0]["params"]["nlist"], 4);

  RunOk({"import", "-c", "vec2", "--format", format(), "ex"});
  const CollectionDump a = DumpCollection(db(), "vec");
  const CollectionDump b = DumpCollection(db(), "vec2");
  ExpectSameContents(a, b);
  EXPECT_EQ(b.info.schema.index, IndexKind::kIvfFlat);
  EXPECT_EQ(b.info.schema.ivf.nlist, 4);
  const std::string query = "[0.1,0.2,0.3,0.4,0.5,0.1,0.2,0.3,0.4,0.5,0.1,0.2,0.3,0.4,0.5,0.0]";
  EXPECT_EQ(RunText({"search", "--json", "-c", "vec", "--vector", query, "-k", "20"}),
            RunText({"search", "--json", "-c", "vec2", "--vector", query, "-k", "20"}));

  // Without flashembed-collection.json, collection.json alone creates an
  // equivalent vector-only collection.
  fs::remove(Path("ex/flashembed-collection.json"));
  RunOk({"import", "-c", "vec3", "--format", format(), "ex"});
  const CollectionDump c = DumpCollection(db(), "vec3");
  ExpectSameContents(a, c);
  EXPECT_EQ(c.info.schema.metric, Metric::kL2);
  EXPECT_EQ(c.info.schema.index, IndexKind::kIvfFlat);
}

TEST_P(TransferTest, MaxFileSizeSplitsIntoGroups) {
  {
    auto database = OpenDb();
    auto coll = database->CreateCollection("big", {.dim = 256, .encoder = ""}).value();
    std::vector<Document> docs;
    for (int i = 0; i < 3000; ++i) {
      Document d{.id = i, .metadata = json{{"i", i}}.dump()};
      for (int k = 0; k < 256; ++k) d.vector.push_back(std::sin(static_cast<float>(i * 256 + k)));
      docs.push_back(std::move(d));
    }
    ASSERT_OK(coll->Add({}, docs));
  }
  const json exported =
      RunOk({"export", "-c", "big", "--format", format(), "--out", "ex", "--max-file-mb", "1"});
  ASSERT_GE(exported["files"].size(), 3u);
  for (const json& group : exported["files"]) {
    uint64_t bytes = 0;
    for (const json& f : group) bytes += fs::file_size(Path("ex/" + f.get<std::string>()));
    EXPECT_LE(bytes, uint64_t{1} << 20);
  }
  ExpectMilvusReadable(Path("ex"));
  RunOk({"import", "-c", "big2", "--format", format(), "ex"});
  ExpectSameContents(DumpCollection(db(), "big"), DumpCollection(db(), "big2"));
}

TEST_P(TransferTest, MixedIdsNeedVarcharPk) {
  {
    auto database = OpenDb();
    auto coll = database->CreateCollection("mixed", {}).value();
    ASSERT_OK(coll->Add(
        {}, std::vector<Document>{{.id = 1, .text = "one"}, {.id = "two", .text = "two"}}));
  }
  RunResult r = Run({"export", "-c", "mixed", "--format", format(), "--out", "ex"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("integer ids (1) and string ids (\"two\")"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("--pk-type varchar"), std::string::npos) << r.err;
  EXPECT_FALSE(fs::exists(Path("ex"))) << "a failed export leaves nothing behind";
  const json exported =
      RunOk({"export", "-c", "mixed", "--format", format(), "--out", "ex", "--pk-type", "varchar"});
  EXPECT_EQ(exported["pk_type"], "VarChar");
  RunOk({"import", "-c", "copy", "--format", format(), "ex"});
  const CollectionDump copy = DumpCollection(db(), "copy");
  ASSERT_EQ(copy.records.size(), 2u);
  EXPECT_EQ(copy.records[0].id, Id("1"));
  EXPECT_EQ(copy.records[1].id, Id("two"));
  // An existing, non-empty folder is refused.
  r = Run({"export", "-c", "mixed", "--format", format(), "--out", "ex", "--pk-type", "varchar"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("is not empty"), std::string::npos) << r.err;
}

TEST_P(TransferTest, RefusesAnotherEncoderOrDimension) {
  {
    auto database = OpenDb();
    auto coll = database->CreateCollection("src", {}).value();
    ASSERT_OK(
        coll->Add({}, std::vector<Document>{{.id = 1, .text = "one"}, {.id = 2, .text = "two"}}));
    ASSERT_TRUE(database->CreateCollection("hash128", {.dim = 128}).ok());
    ASSERT_TRUE(database->CreateCollection("vec16", {.dim = 16, .encoder = ""}).ok());
  }
  RunOk({"export", "-c", "src", "--format", format(), "--out", "ex"});
  RunResult r = Run({"import", "-c", "hash128", "--format", format(), "ex"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("the exported vectors were embedded by encoder hash/v1;dim=384"),
            std::string::npos)
      << r.err;
  r = Run({"import", "-c", "vec16", "--format", format(), "ex"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("dimension mismatch: collection has dim 16, the files declare 384"),
            std::string::npos)
      << r.err;
}

INSTANTIATE_TEST_SUITE_P(Formats, TransferTest, ::testing::Values("milvus-json", "milvus-numpy"),
                         [](const auto& info) {
                           return info.param == "milvus-json" ? std::string("Json")
                                                              : std::string("Numpy");
                         });

// Files shaped as pymilvus' LocalBulkWriter writes them, with a custom
// schema: a VarChar pk "pk", "embedding", scalar fields, dynamic keys.
class PymilvusLayoutTest : public ::testing::Test {
 protected:
  TempDir tmp_;
  RunResult Run(std::vector<std::string> args) {
    args.insert(args.end(), {"--db", tmp_.Sub("db")});
    return RunProgram(tmp_.path(), kCli, args);
  }
  void WriteCollectionJson(const std::string& dir) {
    WriteFile(dir + "/collection.json", R"({"collectionName": "docs", "schema": {
      "autoID": false, "enableDynamicField": true, "fields": [
        {"fieldName": "pk", "dataType": "VarChar", "isPrimary": true, "elementTypeParams": {"max_length": 16}},
        {"fieldName": "title", "dataType": "VarChar", "elementTypeParams": {"max_length": 64}},
        {"fieldName": "year", "dataType": "Int32"},
        {"fieldName": "embedding", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}}]},
      "indexParams": [{"fieldName": "embedding", "metricType": "IP",
                       "params": {"index_type": "HNSW", "M": 8, "efConstruction": 64}}]})");
  }
};

TEST_F(PymilvusLayoutTest, JsonRowsBothTopLevelShapes) {
  const std::string dir = tmp_.Sub("bw");
  WriteCollectionJson(dir);
  // pymilvus writes {"rows": [...]} with indent 2; a bare array is accepted too.
  WriteFile(dir + "/5d3c/1.json", R"({
  "rows": [
    {"pk": "a1", "title": "Intro to HNSW", "year": 2016,
     "embedding": [0.01, 0.02, 0.03, 0.04], "$meta": {"source": "arxiv"}},
    {"pk": "b2", "title": "IVF revisited", "year": 2019,
     "embedding": [0.11, 0.02, -0.3, 0.5], "source": "blog", "$meta": "{\"lang\": \"en\"}"}
  ]
})");
  WriteFile(dir + "/5d3c/2.json", R"([{"pk": "c3", "title": "", "year": -1,
    "embedding": [1e-3, 2, 3, 4], "$meta": {}}])");
  RunResult r = Run({"import", "-c", "docs", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const CollectionDump d = DumpCollection(tmp_.Sub("db"), "docs");
  EXPECT_EQ(d.info.schema.dim, 4);
  EXPECT_EQ(d.info.schema.metric, Metric::kInnerProduct);
  EXPECT_EQ(d.info.schema.hnsw.m, 8);
  ASSERT_EQ(d.records.size(), 3u);
  EXPECT_EQ(d.records[0].id, Id("a1"));
  EXPECT_EQ(json::parse(d.records[0].metadata),
            json::parse(R"({"title": "Intro to HNSW", "year": 2016, "source": "arxiv"})"));
  EXPECT_EQ(
      json::parse(d.records[1].metadata),
      json::parse(R"({"title": "IVF revisited", "year": 2019, "source": "blog", "lang": "en"})"));
  EXPECT_EQ(d.records[1].vector, (std::vector<float>{0.11f, 0.02f, -0.3f, 0.5f}));
  EXPECT_EQ(d.records[2].id, Id("c3"));
}

TEST_F(PymilvusLayoutTest, NumpyGroupsWrittenByNumpy) {
  const std::string dir = tmp_.Sub("bw");
  WriteCollectionJson(dir);
  // As pymilvus' Buffer._persist_npy writes them: np.save of each column.
  const std::string script = R"(
import json, os, sys
import numpy as np
d = sys.argv[1]
for n, rows in ((1, range(0, 3)), (2, range(3, 5))):
    g = os.path.join(d, "7f2e", str(n))
    os.makedirs(g)
    np.save(os.path.join(g, "pk.npy"), np.array(["id%d" % i for i in rows]))
    np.save(os.path.join(g, "title.npy"), np.array(["Title \u00e9 %d" % i for i in rows]))
    np.save(os.path.join(g, "year.npy"), np.array([2000 + i for i in rows], dtype=np.int32))
    np.save(os.path.join(g, "embedding.npy"), np.array([[i, 0.5, -0.25, 1 / 3] for i in rows], dtype=np.float32))
    np.save(os.path.join(g, "$meta.npy"), np.array([json.dumps({"i": i, "s": "\u65e5"}) for i in rows]))
)";
  RunResult py = RunProgram(tmp_.path(), "/usr/bin/python3", {"-c", script, dir});
  ASSERT_EQ(py.exit_code, 0) << py.err;
  RunResult r = Run({"import", "-c", "docs", "--format", "milvus-numpy", dir});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const CollectionDump d = DumpCollection(tmp_.Sub("db"), "docs");
  ASSERT_EQ(d.records.size(), 5u);
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(d.records[i].id, Id("id" + std::to_string(i)));
    EXPECT_EQ(d.records[i].vector,
              (std::vector<float>{static_cast<float>(i), 0.5f, -0.25f, 1.0f / 3}));
    EXPECT_EQ(json::parse(d.records[i].metadata),
              json({{"title", "Title \u00e9 " + std::to_string(i)},
                    {"year", 2000 + i},
                    {"i", i},
                    {"s", "\u65e5"}}));
  }
}

}  // namespace
}  // namespace flashembed::testing
