// Library-level tests of transfer/: .npy headers and strings, float32 text
// round trips, and export/import of a collection made through the Milvus
// API (its schema in properties.milvus, as milvus/properties.cc stores it).
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <vector>

#include "base/utf8.h"
#include "tests/tools/transfer_test_util.h"
#include "transfer/npy.h"
#include "transfer/row_schema.h"
#include "transfer/rows.h"
#include "transfer/transfer.h"

namespace flashembed::transfer {
namespace {

using flashembed::testing::CollectionDump;
using flashembed::testing::DumpCollection;
using flashembed::testing::ReadFile;
using flashembed::testing::TempDir;
using nlohmann::json;

TEST(Npy, HeaderRoundTripAndAlignment) {
  const std::vector<uint64_t> shape = {1000, 384};
  const std::string header = NpyHeaderBytes("<f4", shape);
  EXPECT_EQ(header.size() % 64, 0u);
  EXPECT_EQ(header.back(), '\n');
  ASSERT_OK_AND_ASSIGN(NpyHeader h, ParseNpyHeader(header));
  EXPECT_EQ(h.descr, "<f4");
  EXPECT_EQ(h.kind, 'f');
  EXPECT_EQ(h.item_size, 4u);
  EXPECT_EQ(h.shape, shape);
  EXPECT_EQ(h.row_bytes(), 384u * 4);
  EXPECT_EQ(h.data_offset, header.size());
  EXPECT_FALSE(h.fortran_order);
  EXPECT_EQ(h.ShapeString(), "(1000, 384)");
  ASSERT_OK_AND_ASSIGN(NpyHeader one,
                       ParseNpyHeader(NpyHeaderBytes("<U7", std::vector<uint64_t>{5})));
  EXPECT_EQ(one.kind, 'U');
  EXPECT_EQ(one.item_size, 28u);
  EXPECT_EQ(one.ShapeString(), "(5,)");
}

TEST(Npy, ParsesWhatNumpyWrites) {
  // numpy 1.24 writes '{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }' padded.
  std::string dict = "{'descr': '|b1', 'fortran_order': False, 'shape': (3,), }";
  dict.append(128 - 10 - dict.size() - 1, ' ');
  dict += '\n';
  const std::string file = std::string("\x93NUMPY\x01\x00", 8) + static_cast<char>(dict.size()) +
                           std::string(1, '\0') + dict;
  ASSERT_OK_AND_ASSIGN(NpyHeader h, ParseNpyHeader(file));
  EXPECT_EQ(h.kind, 'b');
  EXPECT_EQ(h.item_size, 1u);
  ASSERT_OK_AND_ASSIGN(NpyHeader be,
                       ParseNpyHeader(NpyHeaderBytes(">i8", std::vector<uint64_t>{2})));
  EXPECT_TRUE(be.swap);
  EXPECT_TRUE(ParseNpyHeader("not numpy").status().IsCorruption());
  EXPECT_TRUE(
      ParseNpyHeader(NpyHeaderBytes("<c16", std::vector<uint64_t>{2})).status().IsCorruption());
}

TEST(Npy, Utf32RoundTrip) {
  const std::string text = "aé日😀";
  ASSERT_EQ(Utf8Length(text), 4u);
  std::string element;
  AppendUtf32(text, 6, &element);
  EXPECT_EQ(element.size(), 24u);
  ASSERT_OK_AND_ASSIGN(std::string back, Utf32ToUtf8(element));
  EXPECT_EQ(back, text);
  EXPECT_FALSE(Utf8Length("\xC0\x80").has_value());      // overlong
  EXPECT_FALSE(Utf8Length("\xED\xA0\x80").has_value());  // surrogate
  EXPECT_FALSE(Utf8Length("\xFF").has_value());
}

TEST(Rows, FloatTextRoundTripsBitExact) {
  std::mt19937 gen(7);
  std::uniform_int_distribution<uint32_t> bits;
  int checked = 0;
  for (int i = 0; i < 200000; ++i) {
    uint32_t u = bits(gen);
    float f;
    std::memcpy(&f, &u, 4);
    if (!std::isfinite(f)) continue;
    std::string text;
    AppendFloat(f, &text);
    const std::optional<float> back = ParseFloatToken(text);
    ASSERT_TRUE(back.has_value()) << text;
    ASSERT_EQ(std::memcmp(&f, &*back, 4), 0) << text;
    ++checked;
  }
  EXPECT_GT(checked, 100000);
  EXPECT_FALSE(ParseFloatToken("NaN").has_value());
  EXPECT_FALSE(ParseFloatToken("inf").has_value());
  EXPECT_FALSE(ParseFloatToken("1e39").has_value());
  EXPECT_FALSE(ParseFloatToken("01").has_value());
  EXPECT_FALSE(ParseFloatToken("1.").has_value());
  EXPECT_EQ(ParseFloatToken("1e-50"), 0.0f);
  EXPECT_EQ(ParseFloatToken("-2.5E+1"), -25.0f);
}

TEST(Rows, JsonStringEscapes) {
  std::string out;
  AppendJsonString("a\"b\\c\n\x01é", &out);
  EXPECT_EQ(out, "\"a\\\"b\\\\c\\n\\u0001é\"");
  EXPECT_EQ(json::parse(out), "a\"b\\c\n\x01é");
}

// The stored shape of milvus/properties.cc (milvus::EncodeSchema).
json MilvusProperties() {
  auto field = [](std::string name, std::string type, json params, bool primary = false,
                  bool nullable = false, std::string element = "") {
    return json{{"name", name},           {"type", type},           {"elementType", element},
                {"params", params},       {"isPrimary", primary},   {"partitionKey", false},
                {"clusteringKey", false}, {"nullable", nullable},   {"defaultValue", nullptr},
                {"description", ""},      {"functionOutput", false}};
  };
  json milvus = {
      {"version", 1},
      {"description", "papers"},
      {"autoId", false},
      {"enableDynamicField", true},
      {"textField", ""},
      {"functions", json::array()},
      {"metricType", "IP"},
      {"consistencyLevel", "Strong"},
      {"shardsNum", 1},
      {"encoder", "hash"},
      {"fields",
       {field("doc_id", "VarChar", {{"max_length", "64"}}, true),
        field("title", "VarChar", {{"max_length", "512"}}), field("year", "Int32", json::object()),
        field("score", "Float", json::object()), field("meta", "JSON", json::object(), false, true),
        field("tags", "Array", {{"max_capacity", "4"}, {"max_length", "8"}}, false, false,
              "VarChar"),
        field("embedding", "FloatVector", {{"dim", "4"}})}}};
  return json{{"milvus", milvus}};
}

class MilvusLayoutTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open({}, tmp_.Sub("db")).value();
    CollectionSchema schema{.dim = 4,
                            .metric = Metric::kInnerProduct,
                            .encoder = "",
                            .properties = MilvusProperties().dump()};
    auto coll = db->CreateCollection("papers", schema).value();
    std::vector<Document> docs;
    for (int i = 0; i < 20; ++i) {
      const std::string id = "p" + std::to_string(i);
      json meta = {{"doc_id", id},
                   {"title", "Paper " + std::to_string(i)},
                   {"year", 2000 + i},
                   {"score", i / 4.0},
                   {"meta", i % 3 == 0 ? json(nullptr) : json{{"k", i}}},
                   {"tags", {"a", "b"}},
                   {"venue", i % 2 ? "arxiv" : "blog"}};
      if (i == 5) meta["meta"] = json::array({1, 2});  // a JSON field holding an array
      docs.push_back({.id = id,
                      .metadata = meta.dump(),
                      .vector = {0.5f, static_cast<float>(i), -0.25f, 1.0f / (i + 1)}});
    }
    ASSERT_OK(coll->Add({}, docs));
  }
  TempDir tmp_;
};

TEST_F(MilvusLayoutTest, ExportsTheDeclaredSchemaAndImportsBack) {
  auto db = Database::Open({}, tmp_.Sub("db")).value();
  auto coll = db->GetCollection("papers").value();
  ExportOptions options{.format = FileFormat::kMilvusJson, .out_dir = tmp_.Sub("ex")};
  ASSERT_OK_AND_ASSIGN(ExportSummary summary, ExportCollection(*coll, options));
  EXPECT_EQ(summary.records, 20u);
  EXPECT_EQ(summary.pk_type, "VarChar");
  const json body = json::parse(ReadFile(tmp_.Sub("ex/collection.json")));
  EXPECT_EQ(body["params"]["consistencyLevel"], "Strong");
  EXPECT_EQ(body["description"], "papers");
  std::vector<std::string> names;
  for (const json& f : body["schema"]["fields"]) names.push_back(f["fieldName"]);
  EXPECT_EQ(names, (std::vector<std::string>{"doc_id", "embedding", "title", "year", "score",
                                             "meta", "tags"}));
  EXPECT_EQ(body["schema"]["fields"][0]["elementTypeParams"]["max_length"], 64);
  EXPECT_EQ(body["schema"]["fields"][5]["nullable"], true);
  EXPECT_EQ(body["schema"]["fields"][6]["elementDataType"], "VarChar");
  EXPECT_EQ(body["indexParams"][0]["metricType"], "IP");

  const json rows = json::parse(ReadFile(tmp_.Sub("ex/" + summary.groups[0][0])))["rows"];
  ASSERT_EQ(rows.size(), 20u);
  EXPECT_EQ(rows[1]["doc_id"], "p1");
  EXPECT_TRUE(rows[1]["year"].is_number_integer());
  EXPECT_EQ(rows[1]["meta"], json({{"k", 1}}));
  EXPECT_TRUE(rows[0]["meta"].is_null());
  EXPECT_EQ(rows[5]["meta"], "[1,2]") << "a JSON value that is not an object goes as JSON text";
  EXPECT_EQ(rows[1]["$meta"], json({{"venue", "arxiv"}})) << "declared fields are not repeated";

  ASSERT_OK_AND_ASSIGN(ImportSummary imported,
                       ImportCollection(*db, "copy", {.dir = tmp_.Sub("ex")}));
  EXPECT_TRUE(imported.created);
  db.reset();
  const CollectionDump a = DumpCollection(tmp_.Sub("db"), "papers");
  const CollectionDump b = DumpCollection(tmp_.Sub("db"), "copy");
  flashembed::testing::ExpectSameContents(a, b);
  EXPECT_EQ(b.info.schema.properties, a.info.schema.properties);
}

TEST_F(MilvusLayoutTest, NumpyRefusesArrayAndNullableFields) {
  auto db = Database::Open({}, tmp_.Sub("db")).value();
  auto coll = db->GetCollection("papers").value();
  ExportOptions options{.format = FileFormat::kMilvusNumpy, .out_dir = tmp_.Sub("ex")};
  Result<ExportSummary> summary = ExportCollection(*coll, options);
  ASSERT_FALSE(summary.ok());
  EXPECT_NE(summary.status().message().find("export with --format milvus-json"), std::string::npos)
      << summary.status();
  EXPECT_FALSE(std::filesystem::exists(tmp_.Sub("ex")));
}

TEST_F(MilvusLayoutTest, ImportChecksDeclaredTypes) {
  const std::string dir = tmp_.Sub("rows");
  flashembed::testing::WriteFile(
      dir + "/1.json",
      R"({"rows": [{"doc_id": "n1", "title": "t", "year": 2001, "score": 1, "meta": null,)"
      R"( "tags": ["x"], "embedding": [1, 2, 3, 4]},)"
      R"({"doc_id": "n2", "title": "t", "year": 3000000000, "score": 1, "meta": null,)"
      R"( "tags": [], "embedding": [1, 2, 3, 4]}]})");
  auto db = Database::Open({}, tmp_.Sub("db")).value();
  Result<ImportSummary> r = ImportCollection(*db, "papers", {.dir = dir});
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("1.json: row 2 (byte "), std::string::npos) << r.status();
  EXPECT_NE(r.status().message().find("field \"year\": expected Int32 (an integer in range)"),
            std::string::npos)
      << r.status();
  EXPECT_EQ(db->GetCollection("papers").value()->Count().value(), 20u);
  // Fixed, the rows are stored as the server stores them (pk in metadata).
  flashembed::testing::WriteFile(dir + "/1.json",
                                 R"([{"doc_id": "n1", "title": "t", "year": 2001,)"
                                 R"( "score": 1, "meta": "{\"a\": 1}", "tags": ["x"],)"
                                 R"( "embedding": [1, 2, 3, 4], "extra": true}])");
  ASSERT_OK(ImportCollection(*db, "papers", {.dir = dir}).status());
  const Document n1 = db->GetCollection("papers").value()->Get(Id("n1")).value();
  EXPECT_EQ(json::parse(n1.metadata),
            json::parse(R"({"doc_id": "n1", "title": "t", "year": 2001, "score": 1,
                            "meta": {"a": 1}, "tags": ["x"], "extra": true})"));
}

// A write that fails in the write pass (here: another writer stores an id
// of the files between the check and its batch) leaves no rows of the
// import behind, in an existing collection and in one it created.
TEST(ImportWriteFailure, IsUndone) {
  TempDir tmp;
  auto db = Database::Open({}, tmp.Sub("db")).value();
  CollectionSchema schema{.dim = 4, .index = IndexKind::kFlat, .encoder = ""};
  auto source = db->CreateCollection("source", schema).value();
  std::vector<Document> docs;
  for (int i = 0; i < 3000; ++i) {
    docs.push_back({.id = Id(int64_t{i}),
                    .metadata = json{{"i", i}}.dump(),
                    .vector = {1.0f, static_cast<float>(i), 0.5f, -1.0f}});
  }
  ASSERT_OK(source->Add({}, docs));
  ASSERT_OK(ExportCollection(*source, {.out_dir = tmp.Sub("ex")}).status());

  for (const bool existing : {true, false}) {
    SCOPED_TRACE(existing ? "existing collection" : "collection created by the import");
    const std::string name = existing ? "target" : "fresh";
    if (existing) {
      auto target = db->CreateCollection(name, schema).value();
      const std::vector<Document> before = {{.id = Id(int64_t{100000}), .vector = {1, 2, 3, 4}}};
      ASSERT_OK(target->Add({}, before));
    }
    bool raced = false;
    ImportOptions options{.dir = tmp.Sub("ex"), .batch = 500};
    options.progress = [&](const Progress& p) {
      if (std::string(p.phase) != "write" || raced || p.rows == 0) return;
      raced = true;
      auto target = db->GetCollection(name).value();
      const std::vector<Document> late = {{.id = Id(int64_t{2500}), .vector = {0, 0, 0, 1}}};
      EXPECT_OK(target->Add({}, late));
    };
    Result<ImportSummary> r = ImportCollection(*db, name, options);
    ASSERT_TRUE(raced);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), StatusCode::kAlreadyExists) << r.status();
    if (existing) {
      EXPECT_NE(r.status().message().find("deleted again"), std::string::npos) << r.status();
      auto target = db->GetCollection(name).value();
      EXPECT_EQ(target->Count().value(), 2u);  // its own record and the racing one
      EXPECT_OK(target->Get(Id(int64_t{100000})).status());
      EXPECT_OK(target->Get(Id(int64_t{2500})).status());
      EXPECT_FALSE(target->Get(Id(int64_t{0})).ok());
    } else {
      EXPECT_NE(r.status().message().find("dropped"), std::string::npos) << r.status();
      EXPECT_TRUE(db->GetCollection(name).status().IsNotFound());
    }
  }
}

// A Milvus-API collection with a text field and every scalar type NumPy
// carries: the groups hold one file per declared field, typed as declared.
TEST(MilvusLayoutNumpy, TypedColumnsRoundTrip) {
  TempDir tmp;
  auto field = [](std::string name, std::string type, json params, bool primary = false) {
    return json{{"name", name}, {"type", type}, {"params", params}, {"isPrimary", primary}};
  };
  const json milvus = {
      {"description", ""},
      {"autoId", false},
      {"enableDynamicField", true},
      {"textField", "abstract"},
      {"fields",
       {field("pk", "Int64", json::object(), true),
        field("abstract", "VarChar", {{"max_length", "100"}}),
        field("year", "Int16", json::object()), field("score", "Double", json::object()),
        field("ok", "Bool", json::object()), field("info", "JSON", json::object()),
        field("emb", "FloatVector", {{"dim", "3"}})}}};
  {
    auto db = Database::Open({}, tmp.Sub("db")).value();
    CollectionSchema schema{.dim = 3, .encoder = "", .properties = json{{"milvus", milvus}}.dump()};
    auto coll = db->CreateCollection("m", schema).value();
    std::vector<Document> docs;
    for (int i = 0; i < 10; ++i) {
      const std::string text = "abstract " + std::to_string(i) + (i == 3 ? " é日" : "");
      json meta = {{"pk", i},          {"abstract", text},   {"year", 1990 + i}, {"score", i * 0.5},
                   {"ok", i % 2 == 0}, {"info", {{"i", i}}}, {"extra", "x"}};
      docs.push_back({.id = i,
                      .text = text,
                      .metadata = meta.dump(),
                      .vector = {1.0f, static_cast<float>(i), 0.5f}});
    }
    ASSERT_OK(coll->Add({}, docs));
    ExportOptions options{.format = FileFormat::kMilvusNumpy, .out_dir = tmp.Sub("ex")};
    ASSERT_OK_AND_ASSIGN(ExportSummary summary, ExportCollection(*coll, options));
    ASSERT_EQ(summary.groups.size(), 1u);
    std::map<std::string, std::string> descr;
    for (const std::string& f : summary.groups[0]) {
      ASSERT_OK_AND_ASSIGN(NpyHeader h, ReadNpyHeader(tmp.Sub("ex/" + f)));
      EXPECT_EQ(h.rows(), 10u) << f;
      descr[std::filesystem::path(f).stem().string()] = h.descr;
    }
    EXPECT_EQ(descr, (std::map<std::string, std::string>{{"pk", "<i8"},
                                                         {"emb", "<f4"},
                                                         {"abstract", "<U13"},
                                                         {"year", "<i2"},
                                                         {"score", "<f8"},
                                                         {"ok", "|b1"},
                                                         {"info", "<U7"},
                                                         {"$meta", "<U13"}}));
    ASSERT_OK(
        ImportCollection(*db, "m2", {.format = FileFormat::kMilvusNumpy, .dir = tmp.Sub("ex")})
            .status());
  }
  flashembed::testing::ExpectSameContents(DumpCollection(tmp.Sub("db"), "m"),
                                          DumpCollection(tmp.Sub("db"), "m2"));
}

}  // namespace
}  // namespace flashembed::transfer
