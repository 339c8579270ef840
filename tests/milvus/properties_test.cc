// milvus/properties.h: the properties.milvus codec (milvus/FORMAT.md).
#include "milvus/properties.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "milvus/create_body.h"
#include "tests/testing/test_util.h"

namespace flashembed::milvus {
namespace {

// A small declared schema: VarChar pk, a text field embedded by "hash", a
// nullable Array, the vector, an HNSW index.
Schema Papers() {
  Schema s;
  s.description = "papers";
  s.enable_dynamic = true;
  s.fields = {
      Field{.name = "doc", .type = "VarChar", .params = {{"max_length", "64"}}, .is_primary = true},
      Field{.name = "abstract", .type = "VarChar", .params = {{"max_length", "512"}}},
      Field{.name = "tags",
            .type = "Array",
            .element_type = "Int32",
            .params = {{"max_capacity", "4"}},
            .nullable = true},
      Field{.name = "v", .type = "FloatVector", .params = {{"dim", "4"}}, .function_output = true}};
  s.text_field = "abstract";
  s.functions = Json::array({{{"type", "TextEmbedding"},
                              {"inputFieldNames", {"abstract"}},
                              {"outputFieldNames", {"v"}}}});
  s.metric_type = "IP";
  s.index = Index{"v_index", "v", "HNSW", "IP", {{"M", 8}, {"efConstruction", 64}}};
  s.consistency_level = "Strong";
  return s;
}

void ExpectSame(const Schema& a, const Schema& b) {
  EXPECT_EQ(EncodeSchema(a), EncodeSchema(b));
  EXPECT_EQ(a.synthesized, b.synthesized);
}

// The stored text, byte for byte, of a quick setup (dimension 4) as the
// server stores it: the example of milvus/FORMAT.md. collections/create is
// idempotent by comparing it with what an earlier build stored, so it must
// not drift.
TEST(MilvusProperties, EncodingIsStable) {
  ASSERT_OK_AND_ASSIGN(Schema s,
                       ParseCreateRequest(Json{{"collectionName", "x"}, {"dimension", 4}}));
  ASSERT_OK_AND_ASSIGN(CollectionSchema fe, s.ToCollectionSchema());
  EXPECT_EQ(fe.properties, EncodeProperties(s));
  EXPECT_EQ(fe.properties,
            R"({"milvus":{"autoId":false,"consistencyLevel":"Bounded","description":"",)"
            R"("enableDynamicField":true,"encoder":"hash","fields":[{"clusteringKey":false,)"
            R"("defaultValue":null,"description":"","elementType":"","functionOutput":false,)"
            R"("isPrimary":true,"name":"id","nullable":false,"params":{},"partitionKey":false,)"
            R"("type":"Int64"},{"clusteringKey":false,"defaultValue":null,"description":"",)"
            R"("elementType":"","functionOutput":false,"isPrimary":false,"name":"vector",)"
            R"("nullable":false,"params":{"dim":"4"},"partitionKey":false,)"
            R"("type":"FloatVector"}],"functions":[],"index":{"fieldName":"vector",)"
            R"("indexName":"vector","indexType":"AUTOINDEX","metricType":"COSINE","params":{}},)"
            R"("metricType":"COSINE","shardsNum":1,"textField":"","version":1}})");
}

TEST(MilvusProperties, RoundTrip) {
  const Schema s = Papers();
  ASSERT_OK_AND_ASSIGN(Schema back, DecodeSchema(EncodeSchema(s)));
  ExpectSame(back, s);
  EXPECT_EQ(back.pk().name, "doc");
  EXPECT_EQ(back.Find("tags")->max_capacity(), 4u);
  EXPECT_EQ(back.dim(), 4);
  // And the text: decoding then encoding gives back the stored bytes.
  const std::string text = EncodeProperties(s);
  ASSERT_OK_AND_ASSIGN(std::optional<Schema> stored, DecodeProperties(text));
  ASSERT_TRUE(stored.has_value());
  EXPECT_EQ(EncodeProperties(*stored), text);
}

// Version 1 is the shape of every build so far; a record without "version"
// (hand-written, as tests and tools write them) is version 1 too, and keys
// after "fields" may be missing.
TEST(MilvusProperties, ReadsRecordsWithoutVersionOrOptionalKeys) {
  const Json minimal = {{"description", ""},
                        {"autoId", false},
                        {"enableDynamicField", true},
                        {"fields",
                         {{{"name", "pk"}, {"type", "Int64"}, {"isPrimary", true}},
                          {{"name", "emb"}, {"type", "FloatVector"}, {"params", {{"dim", "3"}}}}}}};
  ASSERT_OK_AND_ASSIGN(Schema s, DecodeSchema(minimal));
  EXPECT_EQ(s.pk().name, "pk");
  EXPECT_EQ(s.dim(), 3);
  EXPECT_EQ(s.metric_type, "COSINE");
  EXPECT_EQ(s.consistency_level, "Bounded");
  EXPECT_EQ(s.encoder, "hash");
  EXPECT_EQ(s.shards_num, 1);
  EXPECT_FALSE(s.index.has_value());
  Json v1 = minimal;
  v1["version"] = 1;
  ASSERT_OK_AND_ASSIGN(Schema same, DecodeSchema(v1));
  ExpectSame(same, s);
}

TEST(MilvusProperties, RefusesOtherVersions) {
  Json value = EncodeSchema(Papers());
  value["version"] = 2;
  Result<Schema> newer = DecodeSchema(value);
  EXPECT_EQ(newer.status().code(), StatusCode::kNotSupported) << newer.status();
  EXPECT_EQ(newer.status().message(),
            "stored Milvus schema has format version 2; this build reads version 1");
  value["version"] = "1";
  EXPECT_EQ(DecodeSchema(value).status().code(), StatusCode::kInvalidArgument);
}

TEST(MilvusProperties, RefusesMalformedSchemas) {
  const Json good = EncodeSchema(Papers());
  Json no_auto_id = good;
  no_auto_id.erase("autoId");
  Json bad_type = good;
  bad_type["enableDynamicField"] = "yes";
  Json two_vectors = good;
  two_vectors["fields"].push_back(good["fields"][3]);
  Json no_primary = good;
  no_primary["fields"][0]["isPrimary"] = false;
  Json field_not_object = good;
  field_not_object["fields"].push_back(7);
  for (const Json& value : {no_auto_id, bad_type, Json::array(), field_not_object}) {
    Result<Schema> s = DecodeSchema(value);
    ASSERT_FALSE(s.ok()) << value;
    EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(s.status().message().rfind("stored Milvus schema is malformed: ", 0), 0u)
        << s.status();
  }
  for (const Json& value : {two_vectors, no_primary}) {
    EXPECT_EQ(DecodeSchema(value).status(),
              Status::InvalidArgument("stored Milvus schema needs one primary and one vector "
                                      "field"));
  }
}

TEST(MilvusProperties, PropertiesWithoutASchema) {
  for (const char* properties : {"", "not json", "[1]", R"({"app": {"x": 1}})"}) {
    ASSERT_OK_AND_ASSIGN(std::optional<Schema> s, DecodeProperties(properties));
    EXPECT_FALSE(s.has_value()) << properties;
  }
  EXPECT_FALSE(DecodeProperties(R"({"milvus": 5})").ok());
}

TEST(MilvusProperties, SchemaOfCollectionStoredOrNative) {
  CollectionInfo info{.name = "c", .schema = {.dim = 4, .encoder = ""}};
  ASSERT_OK_AND_ASSIGN(Schema native, SchemaOfCollection(info));
  EXPECT_TRUE(native.synthesized);
  EXPECT_EQ(native.pk().name, "id");
  info.schema.properties = EncodeProperties(Papers());
  ASSERT_OK_AND_ASSIGN(Schema stored, SchemaOfCollection(info));
  EXPECT_FALSE(stored.synthesized);
  ExpectSame(stored, Papers());
  info.schema.properties = R"({"milvus": {"fields": []}})";
  EXPECT_EQ(SchemaOfCollection(info).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace flashembed::milvus
