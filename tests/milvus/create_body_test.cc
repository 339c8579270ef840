// milvus/create_body.h: collections/create bodies read strictly (server
// requests, with the codes and messages the server answers), read leniently
// (declarations that came with data), and written (export, push).
#include "milvus/create_body.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "milvus/properties.h"
#include "tests/testing/test_util.h"

namespace flashembed::milvus {
namespace {

using OrderedJson = nlohmann::ordered_json;

Json Body(const char* text) { return Json::parse(text); }

// A custom setup as pymilvus' MilvusClient sends it.
constexpr const char* kCustom = R"({
  "collectionName": "docs", "description": "d",
  "params": {"consistencyLevel": "Strong", "shardsNum": "2"},
  "schema": {"autoID": false, "enableDynamicField": true, "fields": [
    {"fieldName": "pk", "dataType": "VarChar", "isPrimary": true, "elementTypeParams": {"max_length": 32}},
    {"fieldName": "body", "dataType": "VarChar", "elementTypeParams": {"max_length": 1024}},
    {"fieldName": "year", "dataType": "Int16", "nullable": true, "defaultValue": 2000},
    {"fieldName": "tags", "dataType": "Array", "elementDataType": "VarChar",
     "elementTypeParams": {"max_capacity": 8, "max_length": 16}},
    {"fieldName": "emb", "dataType": "FloatVector", "elementTypeParams": {"dim": 8}}],
   "functions": [{"name": "f", "type": "TextEmbedding", "inputFieldNames": ["body"],
                  "outputFieldNames": ["emb"], "params": {"encoder": "hash"}}]},
  "indexParams": [{"fieldName": "emb", "metricType": "IP", "indexName": "emb_idx",
                   "params": {"index_type": "HNSW", "M": 8, "efConstruction": 64}},
                  {"fieldName": "year", "indexType": "STL_SORT"}]})";

TEST(ParseCreateRequest, QuickSetup) {
  ASSERT_OK_AND_ASSIGN(
      Schema s,
      ParseCreateRequest(Body(
          R"({"collectionName": "q", "dimension": 4, "metricType": "L2", "idType": "Varchar",
          "params": {"max_length": 20, "textField": "text"}})")));
  ASSERT_EQ(s.fields.size(), 3u);
  EXPECT_EQ(s.pk().name, "id");
  EXPECT_EQ(s.pk().type, "VarChar");
  EXPECT_EQ(s.pk().max_length(), 20u);
  EXPECT_EQ(s.vector().name, "vector");
  EXPECT_TRUE(s.vector().function_output);
  EXPECT_EQ(s.dim(), 4);
  EXPECT_EQ(s.text_field, "text");
  EXPECT_EQ(s.encoder, "hash");
  EXPECT_TRUE(s.enable_dynamic);
  EXPECT_EQ(s.metric_type, "L2");
  ASSERT_TRUE(s.index.has_value());
  EXPECT_EQ(s.index->index_type, "AUTOINDEX");
  ASSERT_OK_AND_ASSIGN(CollectionSchema fe, s.ToCollectionSchema());
  EXPECT_EQ(fe.dim, 4);
  EXPECT_EQ(fe.metric, Metric::kL2);
  EXPECT_EQ(fe.encoder, "hash");
}

TEST(ParseCreateRequest, CustomSetup) {
  ASSERT_OK_AND_ASSIGN(Schema s, ParseCreateRequest(Body(kCustom)));
  EXPECT_EQ(s.description, "d");
  EXPECT_EQ(s.consistency_level, "Strong");
  EXPECT_EQ(s.shards_num, 2);
  EXPECT_TRUE(s.enable_dynamic);
  ASSERT_EQ(s.fields.size(), 5u);
  EXPECT_EQ(s.pk().name, "pk");
  EXPECT_EQ(s.Find("pk")->params, (Json{{"max_length", "32"}}));  // values as text
  EXPECT_EQ(s.Find("year")->default_value, 2000);
  EXPECT_TRUE(s.Find("year")->nullable);
  EXPECT_EQ(s.Find("tags")->element_type, "VarChar");
  EXPECT_EQ(s.Find("tags")->max_capacity(), 8u);
  EXPECT_EQ(s.text_field, "body");
  EXPECT_EQ(s.dim(), 8);
  EXPECT_EQ(s.functions.size(), 1u);
  EXPECT_EQ(s.metric_type, "IP");
  ASSERT_TRUE(s.index.has_value());
  EXPECT_EQ(s.index->index_name, "emb_idx");
  EXPECT_EQ(s.index->index_type, "HNSW");
  EXPECT_EQ(s.index->params, (Json{{"M", 8}, {"efConstruction", 64}}));
  // What the server stores reads back as the same schema.
  ASSERT_OK_AND_ASSIGN(CollectionSchema fe, s.ToCollectionSchema());
  EXPECT_EQ(fe.hnsw.m, 8);
  ASSERT_OK_AND_ASSIGN(std::optional<Schema> stored, DecodeProperties(fe.properties));
  EXPECT_EQ(EncodeSchema(*stored), EncodeSchema(s));
}

struct Refusal {
  const char* body;
  int code;
  std::string message;
};

// The server's answers to bad collections/create bodies (the server suite
// checks them over HTTP too).
TEST(ParseCreateRequest, RefusalsCarryMilvusCodesAndMessages) {
  const std::vector<Refusal> cases = {
      {R"({})", 1802,
       "missing required parameters, error: Key: 'CollectionReq.CollectionName' "
       "Error:Field validation for 'CollectionName' failed on the 'required' tag"},
      {R"({"collectionName": "x"})", 1100,
       "dimension is required for quickly create collection(default metric type: COSINE): "
       "invalid parameter[expected=collectionName & dimension][actual=collectionName]"},
      {R"({"collectionName": "x", "dimension": "4"})", 1801,
       "can only accept json format request, error: json: cannot unmarshal \"4\" into Go struct "
       "field .dimension of type int"},
      {R"({"collectionName": "x", "dimension": 70000})", 1100,
       "invalid parameter, dimension must be in [1, 65536], got 70000"},
      {R"({"collectionName": "x", "dimension": 4, "metricType": "HAMMING"})", 1100,
       "invalid parameter[metric type HAMMING not found or not supported, supported: [L2 IP "
       "COSINE]]"},
      {R"({"collectionName": "x", "dimension": 4, "idType": "VarChar"})", 1100,
       "invalid parameter, max_length should be specified for varchar field(id)"},
      {R"({"collectionName": "x", "dimension": 4, "params": 3})", 1801,
       "can only accept json format request, error: params must be an object"},
      {R"({"collectionName": "x", "dimension": 4, "params": {"consistencyLevel": "Now"}})", 1100,
       "invalid parameter, consistencyLevel can only be [Strong, Session, Bounded, Eventually, "
       "Customized], default: Bounded, got Now"},
      {R"({"collectionName": "x", "schema": {"fields": {}}})", 1801,
       "can only accept json format request, error: schema.fields must be an array"},
      {R"({"collectionName": "x", "schema": {"fields": [
          {"fieldName": "a", "dataType": "int64", "isPrimary": true}]}})",
       1100, "invalid parameter, data type int64 is invalid(case sensitive)."},
      {R"({"collectionName": "x", "schema": {"fields": [
          {"fieldName": "a", "dataType": "Int64", "isPrimary": "true"}]}})",
       1801,
       "can only accept json format request, error: json: cannot unmarshal string into Go struct "
       "field .isPrimary of type bool"},
      {R"({"collectionName": "x", "schema": {"fields": [
          {"fieldName": "a", "dataType": "Int64", "isPrimary": true},
          {"fieldName": "v", "dataType": "FloatVector"}]}})",
       1100, "invalid parameter, dim of vector field v must be in [1, 65536]"},
      {R"({"collectionName": "x", "schema": {"fields": [
          {"fieldName": "a", "dataType": "Int64", "isPrimary": true},
          {"fieldName": "v", "dataType": "BinaryVector", "elementTypeParams": {"dim": 8}}]}})",
       1100,
       "invalid parameter, data type BinaryVector is not supported by flashembed (only "
       "FloatVector vectors)"},
      {R"({"collectionName": "x", "schema": {"fields": [
          {"fieldName": "a", "dataType": "Int64", "isPrimary": true},
          {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}},
          {"fieldName": "w", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}}]}})",
       1100, "invalid parameter, flashembed collections have exactly one FloatVector field, got 2"},
      {R"({"collectionName": "x", "schema": {"fields": [
          {"fieldName": "a", "dataType": "Int64", "isPrimary": true},
          {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": 4}}]},
          "indexParams": [{"fieldName": "w"}]})",
       1802, "missing required parameters, error: `w` hasn't defined in schema"},
      {R"({"collectionName": "x", "dimension": 4,
          "indexParams": [{"fieldName": "vector", "params": {"index_type": "IVF_FLAT",
                                                             "nlist": 0}}]})",
       1100, "invalid parameter[nlist=0]: out of range, flashembed supports nlist in [1, 65536]"},
  };
  for (const Refusal& c : cases) {
    Expected<Schema> s = ParseCreateRequest(Body(c.body));
    ASSERT_FALSE(s.ok()) << c.body;
    EXPECT_EQ(s.error().code, c.code) << c.body;
    EXPECT_EQ(s.error().message, c.message) << c.body;
  }
}

TEST(ParseIndexParam, AgainstASchema) {
  ASSERT_OK_AND_ASSIGN(Schema s, ParseCreateRequest(Body(kCustom)));
  ASSERT_OK_AND_ASSIGN(Index index, ParseIndexParam(Body(R"({"fieldName": "emb",
      "params": {"index_type": "IVF_PQ", "metric_type": "L2", "nlist": 16, "m": 2}})"),
                                                    s));
  EXPECT_EQ(index.index_name, "emb");
  EXPECT_EQ(index.index_type, "IVF_PQ");
  EXPECT_EQ(index.metric_type, "L2");
  EXPECT_EQ(index.params, (Json{{"nlist", 16}, {"m", 2}}));
  // A scalar field's index is not checked as a vector index.
  EXPECT_TRUE(ParseIndexParam(Body(R"({"fieldName": "year", "indexType": "STL_SORT"})"), s).ok());
  Expected<Index> bad = ParseIndexParam(Body("[1]"), s);
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().code, 1801);
  EXPECT_EQ(bad.error().message,
            "can only accept json format request, error: indexParams "
            "entries must be objects, got [1]");
}

TEST(ReadCreateBody, CustomSetupTypesTheRows) {
  ASSERT_OK_AND_ASSIGN(Schema s, ReadCreateBody(Body(kCustom), "body"));
  EXPECT_EQ(s.text_field, "body");
  EXPECT_EQ(s.pk().name, "pk");
  EXPECT_EQ(s.pk().max_length(), 32u);
  EXPECT_EQ(s.dim(), 8);
  EXPECT_EQ(s.Find("tags")->max_length(), 16u);
  EXPECT_EQ(s.Find("tags")->max_capacity(), 8u);
  EXPECT_EQ(s.Find("year")->default_value, 2000);
  EXPECT_TRUE(s.enable_dynamic);
  EXPECT_EQ(s.description, "d");
  EXPECT_EQ(s.consistency_level, "Strong");
  EXPECT_EQ(s.metric_type, "IP");
  ASSERT_TRUE(s.index.has_value());
  EXPECT_EQ(s.index->index_type, "HNSW");
  // No text field unless one is named.
  ASSERT_OK_AND_ASSIGN(Schema no_text, ReadCreateBody(Body(kCustom), "text"));
  EXPECT_TRUE(no_text.text_field.empty());
}

TEST(ReadCreateBody, LenientWhereTheServerIsStrict) {
  // Wrong JSON types fall back, functions and unknown scalar types are not
  // the rows' business, and booleans may be "true".
  ASSERT_OK_AND_ASSIGN(Schema s, ReadCreateBody(Body(R"({"collectionName": 5,
      "schema": {"enableDynamicField": "true", "functions": 3, "fields": [
        {"fieldName": "id", "dataType": "Int64", "isPrimary": "true"},
        {"fieldName": "geo", "dataType": "Geometry"},
        {"fieldName": "v", "dataType": "FloatVector", "elementTypeParams": {"dim": "3"}}]}})"),
                                                "text"));
  EXPECT_TRUE(s.enable_dynamic);
  EXPECT_EQ(s.pk().name, "id");
  EXPECT_EQ(s.Find("geo")->type, "Geometry");
  EXPECT_EQ(s.dim(), 3);
  EXPECT_EQ(s.metric_type, "COSINE");
  EXPECT_FALSE(s.index.has_value());
}

TEST(ReadCreateBody, QuickSetup) {
  ASSERT_OK_AND_ASSIGN(Schema s, ReadCreateBody(Body(R"({"dimension": "5", "idType": "VARCHAR",
      "primaryFieldName": "key", "vectorFieldName": "emb", "metricType": "ip",
      "params": {"max_length": 40, "enableDynamicField": false}})"),
                                                "text"));
  ASSERT_EQ(s.fields.size(), 2u);
  EXPECT_EQ(s.pk().name, "key");
  EXPECT_EQ(s.pk().type, "VarChar");
  EXPECT_EQ(s.pk().max_length(), 40u);
  EXPECT_EQ(s.vector().name, "emb");
  EXPECT_EQ(s.dim(), 5);
  EXPECT_FALSE(s.enable_dynamic);
  ASSERT_OK_AND_ASSIGN(CollectionSchema fe, CollectionSchemaForImport(s));
  EXPECT_EQ(fe.metric, Metric::kInnerProduct);  // any letter case
  EXPECT_EQ(fe.index, IndexKind::kHnsw);
  EXPECT_EQ(fe.dim, 5);
  EXPECT_EQ(fe.encoder, "");
}

TEST(ReadCreateBody, Refusals) {
  struct Case {
    const char* body;
    Status status;
  };
  const std::vector<Case> cases = {
      {R"({"collectionName": "x"})", Status::InvalidArgument("no schema.fields and no dimension")},
      {R"({"schema": {"fields": [7]}})", Status::InvalidArgument("a field is not an object")},
      {R"({"schema": {"fields": [{"fieldName": "a"}]}})",
       Status::InvalidArgument("every field needs fieldName and dataType")},
      {R"({"schema": {"fields": [{"fieldName": "a", "dataType": "Float", "isPrimary": true}]}})",
       Status::InvalidArgument("primary key \"a\" must be Int64 or VarChar, got Float")},
      {R"({"schema": {"fields": [{"fieldName": "v", "dataType": "FloatVector",
                                  "elementTypeParams": {"dim": 0}}]}})",
       Status::InvalidArgument("vector field \"v\" needs elementTypeParams.dim in [1, 65536]")},
      {R"({"schema": {"fields": [{"fieldName": "s", "dataType": "SparseFloatVector"}]}})",
       Status::NotSupported("field \"s\" is a SparseFloatVector; flashembed imports one "
                            "FloatVector field")},
      {R"({"schema": {"fields": [{"fieldName": "a", "dataType": "Int64", "isPrimary": true}]}})",
       Status::InvalidArgument("needs exactly one primary key and one FloatVector field, has 1 "
                               "and 0")},
  };
  for (const Case& c : cases) {
    EXPECT_EQ(ReadCreateBody(Body(c.body), "text").status(), c.status) << c.body;
  }
}

TEST(CollectionSchemaForImport, IndexesFlashembedHasAndHasNot) {
  ASSERT_OK_AND_ASSIGN(Schema ivf, ReadCreateBody(Body(R"({"dimension": 8,
      "indexParams": [{"fieldName": "vector", "metricType": "l2", "indexType": "IVF_PQ",
                       "params": {"nlist": "32", "nprobe": 4, "m": 2, "nbits": 6}}]})"),
                                                  ""));
  ASSERT_OK_AND_ASSIGN(CollectionSchema fe, CollectionSchemaForImport(ivf));
  EXPECT_EQ(fe.metric, Metric::kL2);
  EXPECT_EQ(fe.index, IndexKind::kIvfPq);
  EXPECT_EQ(fe.ivf.nlist, 32);
  EXPECT_EQ(fe.ivf.nprobe, 4);
  EXPECT_EQ(fe.ivf.pq_m, 2);
  EXPECT_EQ(fe.ivf.pq_nbits, 6);
  // DISKANN is HNSW with default parameters; the metric may come in params.
  ASSERT_OK_AND_ASSIGN(Schema diskann, ReadCreateBody(Body(R"({"dimension": 8,
      "indexParams": [{"fieldName": "vector",
                       "params": {"index_type": "DISKANN", "metric_type": "IP", "M": 4}}]})"),
                                                      ""));
  ASSERT_OK_AND_ASSIGN(fe, CollectionSchemaForImport(diskann));
  EXPECT_EQ(fe.index, IndexKind::kHnsw);
  EXPECT_EQ(fe.metric, Metric::kInnerProduct);
  EXPECT_EQ(fe.hnsw.m, HnswParams{}.m);
  // Unknown metrics and values flashembed refuses.
  diskann.metric_type = "JACCARD";
  EXPECT_EQ(CollectionSchemaForImport(diskann).status(),
            Status::InvalidArgument("metric type \"JACCARD\" is not supported (COSINE, IP, L2)"));
  ivf.index->params["nbits"] = 12;
  EXPECT_EQ(CollectionSchemaForImport(ivf).status().code(), StatusCode::kInvalidArgument);
}

TEST(CreateBody, CustomSetupForAMilvusCollection) {
  ASSERT_OK_AND_ASSIGN(Schema s, ReadCreateBody(Body(kCustom), "body"));
  const CollectionSchema collection{.dim = 8,
                                    .metric = Metric::kInnerProduct,
                                    .hnsw = {.m = 8, .ef_construction = 64},
                                    .encoder = ""};
  const OrderedJson body = CreateBody("docs", s, collection);
  EXPECT_EQ(body.dump(),
            R"({"collectionName":"docs","schema":{"autoID":false,"enableDynamicField":true,)"
            R"("fields":[{"fieldName":"pk","dataType":"VarChar","isPrimary":true,)"
            R"("elementTypeParams":{"max_length":32}},{"fieldName":"body","dataType":"VarChar",)"
            R"("elementTypeParams":{"max_length":1024}},{"fieldName":"year","dataType":"Int16",)"
            R"("nullable":true,"defaultValue":2000},{"fieldName":"tags","dataType":"Array",)"
            R"("elementDataType":"VarChar","elementTypeParams":{"max_length":16,)"
            R"("max_capacity":8}},{"fieldName":"emb","dataType":"FloatVector",)"
            R"("elementTypeParams":{"dim":8}}]},"indexParams":[{"fieldName":"emb",)"
            R"("indexName":"emb","metricType":"IP","params":{"index_type":"HNSW","M":8,)"
            R"("efConstruction":64}}],"params":{"consistencyLevel":"Strong"},"description":"d"})");
  // Read back, it declares the same rows.
  ASSERT_OK_AND_ASSIGN(Schema back, ReadCreateBody(Json::parse(body.dump()), "body"));
  ASSERT_EQ(back.fields.size(), s.fields.size());
  for (size_t i = 0; i < s.fields.size(); ++i) {
    EXPECT_EQ(back.fields[i].name, s.fields[i].name);
    EXPECT_EQ(back.fields[i].type, s.fields[i].type);
    EXPECT_EQ(back.fields[i].params, s.fields[i].params) << s.fields[i].name;
  }
  ASSERT_OK_AND_ASSIGN(CollectionSchema fe, CollectionSchemaForImport(back));
  EXPECT_EQ(fe.hnsw.m, 8);
  EXPECT_EQ(fe.metric, Metric::kInnerProduct);
}

TEST(CreateBody, IndexParamsAreBuildParametersOnly) {
  Schema s;
  s.fields = {Field{.name = "id", .type = "Int64", .is_primary = true},
              Field{.name = "v", .type = "FloatVector", .params = {{"dim", "16"}}},
              Field{.name = "t", .type = "VarChar"}};
  auto params = [&](const CollectionSchema& c) {
    return CreateBody("x", s, c)["indexParams"][0]["params"].dump();
  };
  EXPECT_EQ(params({.dim = 16, .encoder = ""}),
            R"({"index_type":"HNSW","M":16,"efConstruction":200})");
  EXPECT_EQ(params({.dim = 16, .index = IndexKind::kFlat, .encoder = ""}),
            R"({"index_type":"FLAT"})");
  // nlist chosen at training time: Milvus chooses too.
  EXPECT_EQ(params({.dim = 16, .index = IndexKind::kIvfFlat, .encoder = ""}),
            R"({"index_type":"AUTOINDEX"})");
  // IVF_PQ states m even when automatic (dim / 4).
  EXPECT_EQ(params({.dim = 16, .index = IndexKind::kIvfPq, .ivf = {.nlist = 64}, .encoder = ""}),
            R"({"index_type":"IVF_PQ","nlist":64,"m":4,"nbits":8})");
  const OrderedJson body = CreateBody("x", s, {.dim = 16, .encoder = ""});
  EXPECT_EQ(body["schema"]["fields"][2].dump(),
            R"({"fieldName":"t","dataType":"VarChar","elementTypeParams":{"max_length":65535}})");
  EXPECT_EQ(body["params"].dump(), R"({"consistencyLevel":"Bounded"})");
  EXPECT_FALSE(body.contains("description"));
}

}  // namespace
}  // namespace flashembed::milvus
