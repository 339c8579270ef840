// milvus/schema.h: the model's accessors, the native layout, and the
// mapping between Milvus indexes and flashembed's.
#include "milvus/schema.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "milvus/properties.h"
#include "tests/testing/test_util.h"

namespace flashembed::milvus {
namespace {

CollectionInfo Info(CollectionSchema schema) {
  return CollectionInfo{.name = "c", .schema = std::move(schema)};
}

TEST(MilvusField, SizeParamsFromTextOrNumbers) {
  Field f{.name = "title", .type = "VarChar"};
  EXPECT_EQ(f.max_length(), 0u);
  f.set_max_length(64);
  EXPECT_EQ(f.params["max_length"], "64");  // stored as Milvus reports it
  EXPECT_EQ(f.max_length(), 64u);
  f.params["max_length"] = 128;
  EXPECT_EQ(f.max_length(), 128u);
  f.params["max_capacity"] = "8";
  EXPECT_EQ(f.max_capacity(), 8u);
  f.params["max_capacity"] = "x";
  EXPECT_EQ(f.max_capacity(), 0u);
}

TEST(MilvusSchema, NativeLayoutOfAVectorOnlyCollection) {
  const Schema s = NativeSchema(Info({.dim = 4, .metric = Metric::kL2, .encoder = ""}));
  EXPECT_TRUE(s.synthesized);
  EXPECT_TRUE(s.enable_dynamic);
  ASSERT_EQ(s.fields.size(), 2u);
  EXPECT_EQ(s.pk().name, "id");
  EXPECT_EQ(s.pk().type, "Int64");
  EXPECT_EQ(s.vector().name, "vector");
  EXPECT_EQ(s.dim(), 4);
  EXPECT_TRUE(s.text_field.empty());
  ASSERT_TRUE(s.index.has_value());
  EXPECT_EQ(s.index->index_type, "HNSW");
  EXPECT_EQ(s.metric_type, "L2");
  EXPECT_EQ(s.Find("vector"), &s.fields[1]);
  EXPECT_EQ(s.Find("text"), nullptr);
}

TEST(MilvusSchema, NativeLayoutWithAnEncoderAndOtherNames) {
  const Schema s = NativeSchema(Info({.dim = 8, .encoder = "hash"}), {"pk", "emb", "body"});
  ASSERT_EQ(s.fields.size(), 3u);
  EXPECT_EQ(s.pk().name, "pk");
  EXPECT_EQ(s.vector().name, "emb");
  EXPECT_EQ(s.text_field, "body");
  EXPECT_EQ(s.Find("body")->type, "VarChar");
  EXPECT_EQ(s.Find("body")->max_length(), 65535u);
  EXPECT_EQ(s.encoder, "hash");
  EXPECT_EQ(s.index->field_name, "emb");
}

TEST(MilvusSchema, DimIsZeroWhenNotAnInteger) {
  Schema s = NativeSchema(Info({.dim = 4, .encoder = ""}));
  s.fields[1].params["dim"] = "8.0";
  EXPECT_EQ(s.dim(), 0);
  s.fields[1].params["dim"] = 16;
  EXPECT_EQ(s.dim(), 16);
}

TEST(MilvusIndex, CollectionIndexRoundTrips) {
  std::vector<CollectionSchema> schemas = {
      {.dim = 8,
       .metric = Metric::kInnerProduct,
       .hnsw = {.m = 8, .ef_construction = 64, .ef_search = 32},
       .encoder = ""},
      {.dim = 8, .index = IndexKind::kFlat, .encoder = ""},
      {.dim = 8,
       .metric = Metric::kL2,
       .index = IndexKind::kIvfPq,
       .ivf = {.nlist = 16, .nprobe = 4, .pq_m = 2, .pq_nbits = 6},
       .encoder = ""},
      {.dim = 8, .index = IndexKind::kIvfSq8, .encoder = ""},
  };
  for (const CollectionSchema& have : schemas) {
    const Index index = IndexFromCollection(have, "v");
    EXPECT_EQ(index.field_name, "v");
    ASSERT_OK_AND_ASSIGN(CollectionSchema back,
                         ApplyIndex(index, CollectionSchema{.dim = 8, .encoder = ""}));
    EXPECT_EQ(back.metric, have.metric) << index.index_type;
    EXPECT_EQ(back.index, have.index) << index.index_type;
    EXPECT_EQ(back.hnsw.m, have.hnsw.m);
    EXPECT_EQ(back.hnsw.ef_construction, have.hnsw.ef_construction);
    EXPECT_EQ(back.hnsw.ef_search, have.hnsw.ef_search);
    EXPECT_EQ(back.ivf.nlist, have.ivf.nlist);
    EXPECT_EQ(back.ivf.nprobe, have.ivf.nprobe);
    EXPECT_EQ(back.ivf.pq_m, have.ivf.pq_m);
    EXPECT_EQ(back.ivf.pq_nbits, have.ivf.pq_nbits);
  }
  const Index pq = IndexFromCollection(schemas[2], "v");
  EXPECT_EQ(pq.index_type, "IVF_PQ");
  EXPECT_EQ(pq.metric_type, "L2");
  EXPECT_EQ(pq.params, (Json{{"nprobe", 4}, {"nlist", 16}, {"m", 2}, {"nbits", 6}}));
  // nlist chosen at training time is left out.
  EXPECT_FALSE(IndexFromCollection(schemas[3], "v").params.contains("nlist"));
}

TEST(MilvusIndex, ApplyIndexRefusesWhatFlashembedCannotServe) {
  const CollectionSchema base{.dim = 8, .encoder = ""};
  struct Case {
    Index index;
    std::string message;
  };
  const std::vector<Case> cases = {
      {{"v", "v", "DISKANN", "COSINE", Json::object()},
       "invalid parameter[index type DISKANN is not supported by flashembed; supported: "
       "AUTOINDEX, HNSW, FLAT, IVF_FLAT, IVF_SQ8, IVF_PQ]"},
      {{"v", "v", "HNSW", "HAMMING", Json::object()},
       "invalid parameter[metric type HAMMING not found or not supported, supported: [L2 IP "
       "COSINE]]"},
      {{"v", "v", "HNSW", "COSINE", {{"M", 1000}}},
       "invalid parameter[M=1000]: out of range, flashembed supports M in [2, 100]"},
      {{"v", "v", "HNSW", "COSINE", {{"efConstruction", "many"}}},
       "invalid parameter[efConstruction=\"many\"]: expected an integer"},
      {{"v", "v", "IVF_PQ", "L2", {{"m", 3}}}, ""},  // Validate: m must divide dim
  };
  for (const Case& c : cases) {
    Expected<CollectionSchema> out = ApplyIndex(c.index, base);
    ASSERT_FALSE(out.ok()) << c.index.index_type;
    EXPECT_EQ(out.error().code, 1100);
    if (!c.message.empty()) {
      EXPECT_EQ(out.error().message, c.message);
    }
    EXPECT_EQ(out.error().message.rfind("invalid parameter", 0), 0u) << out.error().message;
  }
  // Lower-case metric names are Milvus's too; numbers may come as text.
  ASSERT_OK_AND_ASSIGN(CollectionSchema ok,
                       ApplyIndex({"v", "v", "AUTOINDEX", "ip", {{"M", "12"}}}, base));
  EXPECT_EQ(ok.metric, Metric::kInnerProduct);
  EXPECT_EQ(ok.hnsw.m, 12);
}

TEST(MilvusSchema, ToCollectionSchemaCarriesTheSchemaInProperties) {
  Schema s = NativeSchema(Info({.dim = 4, .encoder = "hash"}));
  s.synthesized = false;
  s.index = Index{"vector", "vector", "FLAT", "L2", Json::object()};
  s.metric_type = "L2";
  ASSERT_OK_AND_ASSIGN(CollectionSchema out, s.ToCollectionSchema());
  EXPECT_EQ(out.dim, 4);
  EXPECT_EQ(out.index, IndexKind::kFlat);
  EXPECT_EQ(out.metric, Metric::kL2);
  EXPECT_EQ(out.encoder, "hash");
  EXPECT_EQ(out.properties, EncodeProperties(s));
  s.text_field.clear();
  ASSERT_OK_AND_ASSIGN(out, s.ToCollectionSchema());
  EXPECT_EQ(out.encoder, "");  // no text field: vector-only
}

TEST(MilvusSchema, ToCollectionSchemaRefusesWithTheServersMessages) {
  Schema s = NativeSchema(Info({.dim = 4, .encoder = ""}));
  s.fields[1].params["dim"] = "8.0";
  Result<CollectionSchema> out = s.ToCollectionSchema();
  EXPECT_EQ(out.status(),
            Status::InvalidArgument("invalid parameter[dim=\"8.0\"]: expected an integer"));
  s.fields[1].params["dim"] = "4";
  s.metric_type = "JACCARD";
  out = s.ToCollectionSchema();
  EXPECT_EQ(out.status(), Status::InvalidArgument("invalid parameter[metric type JACCARD not "
                                                  "found or not supported, supported: [L2 IP "
                                                  "COSINE]]"));
}

TEST(MilvusMetric, NamesBothWays) {
  for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    EXPECT_EQ(ParseMetricType(MetricTypeName(m)), m);
  }
  EXPECT_EQ(ParseMetricType("l2"), Metric::kL2);
  EXPECT_EQ(ParseMetricType("Cosine"), std::nullopt);
}

}  // namespace
}  // namespace flashembed::milvus
