// `flashembed import` of bad files: each fails with one error line naming
// the file and the row (or what is wrong with a .npy header), and leaves
// the target collection as it was (and creates no collection).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "tests/tools/transfer_test_util.h"
#include "transfer/npy.h"

namespace flashembed::testing {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char* kCli = FLASHEMBED_CLI_PATH;

// collection.json of the bad-file cases: Int64 pk "id", dim 4, a short text.
constexpr const char* kCollectionJson = R"({"collectionName": "t", "schema": {
  "autoID": false, "enableDynamicField": true, "fields": [
    {"fieldName": "id", "dataType": "Int64", "isPrimary": true},
    {"fieldName": "vector", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}},
    {"fieldName": "text", "dataType": "VarChar", "elementTypeParams": {"max_length": 8}}]}})";

class BadFilesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open({}, tmp_.Sub("db")).value();
    auto coll = db->CreateCollection("t", {.dim = 4, .encoder = ""}).value();
    ASSERT_OK(coll->Add({}, std::vector<Document>{{.id = 100, .vector = {1, 0, 0, 0}},
                                                  {.id = 101, .vector = {0, 1, 0, 0}},
                                                  {.id = 102, .vector = {0, 0, 1, 0}}}));
  }

  std::string Dir(const std::string& name) const { return tmp_.Sub(name); }

  // Imports `dir` into "t" (and into a new collection "fresh") expecting
  // exit 1 and an error containing every needle; checks nothing changed.
  void ExpectRefused(const std::string& dir, const std::vector<std::string>& needles,
                     const std::string& format = "milvus-json") {
    for (const std::string target : {"t", "fresh"}) {
      RunResult r =
          RunProgram(tmp_.path(), kCli,
                     {"import", "-c", target, "--format", format, dir, "--db", tmp_.Sub("db")});
      EXPECT_EQ(r.exit_code, 1) << target << ": " << r.out << r.err;
      EXPECT_EQ(r.err.rfind("flashembed: error: ", 0), 0u) << r.err;
      EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
      for (const std::string& needle : needles) {
        EXPECT_NE(r.err.find(needle), std::string::npos) << "\"" << needle << "\" not in " << r.err;
      }
    }
    auto db = Database::Open({}, tmp_.Sub("db")).value();
    EXPECT_EQ(db->GetCollection("t").value()->Count().value(), 3u) << "the target changed";
    EXPECT_TRUE(db->GetCollection("fresh").status().IsNotFound()) << "a collection was created";
  }

  // A JSON row file g/1.json holding `rows` (text of the array's content),
  // with collection.json beside it.
  std::string JsonCase(const std::string& name, const std::string& rows) {
    const std::string dir = Dir(name);
    WriteFile(dir + "/collection.json", kCollectionJson);
    WriteFile(dir + "/g/1.json", "{\"rows\": [\n" + rows + "\n]}\n");
    return dir;
  }

  TempDir tmp_;
};

std::string Row(int id, const std::string& vector = "[0.5, 0.5, 0.5, 0.5]",
                const std::string& extra = "") {
  return "{\"id\": " + std::to_string(id) + ", \"vector\": " + vector + ", \"text\": \"t\"" +
         extra + "}";
}

TEST_F(BadFilesTest, JsonWrongDimension) {
  const std::string dir = JsonCase("dim", Row(1) + ",\n" + Row(2, "[0.5, 0.5, 0.5]"));
  ExpectRefused(dir, {"g/1.json: row 2 (byte ", "field \"vector\": expected 4 numbers, got 3"});
}

TEST_F(BadFilesTest, JsonInt64AsString) {
  const std::string dir =
      JsonCase("int64", Row(1) + ",\n" + R"({"id": "2", "vector": [1, 2, 3, 4], "text": ""})");
  ExpectRefused(dir, {"g/1.json: row 2",
                      "field \"id\": expected Int64 (a JSON integer, not a "
                      "string), got string \"2\""});
}

TEST_F(BadFilesTest, JsonNaNAndOverflow) {
  ExpectRefused(JsonCase("nan", Row(1, "[NaN, 0, 0, 0]")),
                {"g/1.json: row 1", "field \"vector\": element 0 (NaN) is not a float32 number"});
  ExpectRefused(JsonCase("inf", Row(1) + "," + Row(2, "[0, 1e39, 0, 0]")),
                {"g/1.json: row 2", "element 1 (1e39)"});
}

// Regression: a row value nested 70,000 levels deep crashed import (stack
// overflow copying it); metadata is held to the library's
// kMaxMetadataDepth, and vectors whose scores would overflow a float are
// refused in the check pass, before anything is written.
TEST_F(BadFilesTest, JsonTooDeepAndOverlongVectors) {
  const std::string limit = "metadata nests deeper than " + std::to_string(kMaxMetadataDepth);
  for (size_t levels : {size_t{64}, size_t{70000}}) {
    const std::string deep = std::string(levels, '[') + std::string(levels, ']');
    ExpectRefused(JsonCase("deep" + std::to_string(levels),
                           Row(1) + ",\n" + Row(2, "[0, 0, 0, 1]", ", \"deep\": " + deep)),
                  {"g/1.json: row 2", "field \"deep\": " + limit});
  }
  std::string meta;
  for (int i = 0; i < 65; ++i) meta += "{\\\"a\\\":";
  meta += "1" + std::string(65, '}');
  ExpectRefused(JsonCase("meta", Row(1, "[0.5, 0.5, 0.5, 0.5]", ", \"$meta\": \"" + meta + "\"")),
                {"row 1", "field \"$meta\": " + limit});
  ExpectRefused(JsonCase("huge", Row(1) + ",\n" + Row(2, "[1e30, 1e30, 1e30, 1e30]")),
                {"g/1.json: row 2", "field \"vector\": vector is too long"});
  // One level less (63 inside a field, 64 in the metadata) imports.
  const std::string ok_dir = JsonCase(
      "ok",
      Row(1, "[0.5, 0.5, 0.5, 0.5]", ", \"deep\": " + std::string(63, '[') + std::string(63, ']')));
  RunResult r =
      RunProgram(tmp_.path(), kCli, {"import", "-c", "ok", ok_dir, "--db", tmp_.Sub("db")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(BadFilesTest, JsonMalformed) {
  ExpectRefused(JsonCase("comma", Row(1) + "\n" + Row(2)),
                {"g/1.json: byte ", "expected ',' or ']' after row 1"});
  ExpectRefused(JsonCase("colon", R"({"id" 1, "vector": [1,2,3,4]})"),
                {"g/1.json: row 1", "malformed JSON: expected ':' after a key"});
  const std::string dir = Dir("cut");
  WriteFile(dir + "/g/1.json", "{\"rows\": [" + Row(1) + ", {\"id\": 2, \"vec");
  ExpectRefused(dir, {"g/1.json: row 2", "the file ends inside the row"});
  const std::string top = Dir("top");
  WriteFile(top + "/g/1.json", R"({"data": []})");
  ExpectRefused(top, {"g/1.json: byte ", "the first key of the top-level object must be \"rows\""});
  ExpectRefused(JsonCase("notobj", Row(1) + ", [1, 2]"),
                {"g/1.json: byte", "row 2: each row must be a JSON object"});
}

TEST_F(BadFilesTest, JsonFieldRules) {
  ExpectRefused(
      JsonCase("long", Row(1) + "," + R"({"id": 2, "vector": [1,2,3,4], "text": "nine bytes"})"),
      {"g/1.json: row 2", "field \"text\": string of 10 bytes exceeds max_length 8"});
  ExpectRefused(JsonCase("dup", Row(1, "[1,2,3,4]", R"(, "lang": "en", "$meta": {"lang": "de"})")),
                {"g/1.json: row 1", "duplicated key is not allowed: \"lang\""});
  ExpectRefused(JsonCase("meta", Row(1, "[1,2,3,4]", R"(, "$meta": [1])")),
                {"g/1.json: row 1", "field \"$meta\": illegal value for the dynamic field"});
  ExpectRefused(JsonCase("missing", R"({"id": 1, "text": "x"})"),
                {"g/1.json: row 1", "value of field \"vector\" is missing"});
  ExpectRefused(
      JsonCase("float", Row(1) + ",\n" + R"({"id": 2.5, "vector": [1,2,3,4], "text": ""})"),
      {"g/1.json: row 2", "expected Int64 (a JSON integer), got number 2.5"});
}

TEST_F(BadFilesTest, RepeatedAndStoredIds) {
  ExpectRefused(JsonCase("twice", Row(1) + ",\n" + Row(2) + ",\n" + Row(1)),
                {"id 1 appears twice: g/1.json: row 1 and g/1.json: row 3"});
  // A stored id: only the existing target refuses it.
  const std::string dir = JsonCase("stored", Row(1) + ",\n" + Row(101));
  RunResult r = RunProgram(tmp_.path(), kCli, {"import", "-c", "t", dir, "--db", tmp_.Sub("db")});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_NE(r.err.find("g/1.json: row 2: id 101 is already stored in collection \"t\""),
            std::string::npos)
      << r.err;
  auto count = [&] {
    return Database::Open({}, tmp_.Sub("db")).value()->GetCollection("t").value()->Count().value();
  };
  EXPECT_EQ(count(), 3u);
  r = RunProgram(tmp_.path(), kCli, {"import", "-c", "t", "--upsert", dir, "--db", tmp_.Sub("db")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(count(), 4u);
}

// ---- NumPy -------------------------------------------------------------------

// Writes an .npy file: `descr`, `shape` and raw little-endian `data`.
void WriteNpy(const std::string& path, const std::string& descr, std::vector<uint64_t> shape,
              const std::string& data) {
  WriteFile(path, transfer::NpyHeaderBytes(descr, shape) + data);
}

template <typename T>
std::string Bytes(const std::vector<T>& values) {
  return std::string(reinterpret_cast<const char*>(values.data()), values.size() * sizeof(T));
}

// A good group g/1 of three rows: id.npy, vector.npy, text.npy.
std::string NumpyCase(const BadFilesTest* test, const std::string& dir) {
  WriteFile(dir + "/collection.json", kCollectionJson);
  WriteNpy(dir + "/g/1/id.npy", "<i8", {3}, Bytes(std::vector<int64_t>{1, 2, 3}));
  WriteNpy(dir + "/g/1/vector.npy", "<f4", {3, 4}, Bytes(std::vector<float>(12, 0.25f)));
  std::string text;
  for (int i = 0; i < 3; ++i) transfer::AppendUtf32("ab", 2, &text);
  WriteNpy(dir + "/g/1/text.npy", "<U2", {3}, text);
  (void)test;
  return dir;
}

TEST_F(BadFilesTest, NumpyGoodGroupImports) {
  const std::string dir = NumpyCase(this, Dir("good"));
  RunResult r =
      RunProgram(tmp_.path(), kCli,
                 {"import", "-c", "t", "--format", "milvus-numpy", dir, "--db", tmp_.Sub("db")});
  EXPECT_EQ(r.exit_code, 0) << r.err;
}

TEST_F(BadFilesTest, NumpyWrongDtypeAndShape) {
  std::string dir = NumpyCase(this, Dir("dtype"));
  WriteNpy(dir + "/g/1/vector.npy", "<f2", {3, 4}, std::string(24, '\0'));
  ExpectRefused(dir,
                {"g/1/vector.npy: field \"vector\" needs dtype '<f4' (or '<f8') and shape (N, 4), "
                 "the file has dtype '<f2' and shape (3, 4)"},
                "milvus-numpy");
  dir = NumpyCase(this, Dir("dim"));
  WriteNpy(dir + "/g/1/vector.npy", "<f4", {3, 3}, Bytes(std::vector<float>(9, 0.5f)));
  ExpectRefused(dir, {"g/1/vector.npy", "shape (N, 4)", "shape (3, 3)"}, "milvus-numpy");
  dir = NumpyCase(this, Dir("idtype"));
  WriteNpy(dir + "/g/1/id.npy", "<i4", {3}, Bytes(std::vector<int32_t>{1, 2, 3}));
  ExpectRefused(dir, {"g/1/id.npy: field \"id\" needs dtype '<i8'"}, "milvus-numpy");
  dir = NumpyCase(this, Dir("text"));
  WriteNpy(dir + "/g/1/text.npy", "<f8", {3}, Bytes(std::vector<double>{1, 2, 3}));
  ExpectRefused(dir, {"g/1/text.npy: field \"text\" needs dtype '<U{L}' or '|S{L}'"},
                "milvus-numpy");
  dir = NumpyCase(this, Dir("pickle"));
  WriteNpy(dir + "/g/1/text.npy", "|O", {3}, std::string(24, '\0'));
  ExpectRefused(dir, {"g/1/text.npy: bad .npy header: unsupported dtype '|O'"}, "milvus-numpy");
}

TEST_F(BadFilesTest, NumpyTruncatedAndMismatchedRows) {
  std::string dir = NumpyCase(this, Dir("cut"));
  std::string bytes = ReadFile(dir + "/g/1/vector.npy");
  bytes.resize(bytes.size() - 5);
  WriteFile(dir + "/g/1/vector.npy", bytes);
  ExpectRefused(dir,
                {"g/1/vector.npy: truncated: the header announces (3, 4) of '<f4' (48 bytes of "
                 "data), the file holds 43"},
                "milvus-numpy");
  dir = NumpyCase(this, Dir("header"));
  WriteFile(dir + "/g/1/id.npy", std::string("\x93NUMPY\x01\x00\x40\x00{'descr': '<i8', ", 25));
  ExpectRefused(dir, {"g/1/id.npy: bad .npy header"}, "milvus-numpy");
  dir = NumpyCase(this, Dir("rows"));
  WriteNpy(dir + "/g/1/id.npy", "<i8", {2}, Bytes(std::vector<int64_t>{1, 2}));
  ExpectRefused(dir, {"g/1: row counts differ", "has 2"}, "milvus-numpy");
  dir = NumpyCase(this, Dir("missing"));
  fs::remove(dir + "/g/1/vector.npy");
  ExpectRefused(dir, {"g/1: no vector.npy for field \"vector\""}, "milvus-numpy");
  dir = NumpyCase(this, Dir("extra"));
  WriteNpy(dir + "/g/1/other.npy", "<i8", {3}, Bytes(std::vector<int64_t>{1, 2, 3}));
  ExpectRefused(dir, {"g/1/other.npy: the field \"other\" is not defined in the schema"},
                "milvus-numpy");
}

TEST_F(BadFilesTest, NumpyBadValues) {
  std::string dir = NumpyCase(this, Dir("nan"));
  std::vector<float> v(12, 0.25f);
  v[9] = std::numeric_limits<float>::quiet_NaN();
  WriteNpy(dir + "/g/1/vector.npy", "<f4", {3, 4}, Bytes(v));
  ExpectRefused(dir, {"g/1/vector.npy: row 3: field \"vector\": element 1 is NaN"}, "milvus-numpy");
  dir = NumpyCase(this, Dir("long"));
  std::string text;
  for (int i = 0; i < 3; ++i) transfer::AppendUtf32(i == 1 ? "ninechars" : "a", 9, &text);
  WriteNpy(dir + "/g/1/text.npy", "<U9", {3}, text);
  ExpectRefused(dir,
                {"g/1/text.npy: row 2: field \"text\": string of 9 bytes exceeds max_length 8"},
                "milvus-numpy");
  dir = NumpyCase(this, Dir("meta"));
  std::string meta;
  for (const char* m : {"{}", "[1]", "{}"}) transfer::AppendUtf32(m, 3, &meta);
  WriteNpy(dir + "/g/1/$meta.npy", "<U3", {3}, meta);
  ExpectRefused(dir, {"g/1/$meta.npy: row 2", "not the text of a JSON object"}, "milvus-numpy");
  dir = NumpyCase(this, Dir("twice"));
  WriteNpy(dir + "/g/1/id.npy", "<i8", {3}, Bytes(std::vector<int64_t>{7, 8, 7}));
  ExpectRefused(dir, {"id 7 appears twice: g/1: row 1 and g/1: row 3"}, "milvus-numpy");
}

TEST_F(BadFilesTest, WrongFormatOrEmptyFolder) {
  const std::string dir = NumpyCase(this, Dir("npy"));
  fs::remove(dir + "/collection.json");
  ExpectRefused(dir, {"no JSON row files in", "use --format milvus-numpy"});
  fs::create_directories(Dir("empty"));
  ExpectRefused(Dir("empty"), {"no JSON row files in"});
}

}  // namespace
}  // namespace flashembed::testing
