// The input limits every entry point shares (query/database.h): metadata
// nesting (kMaxMetadataDepth) and vector lengths whose scores could
// overflow a float (kMaxVectorSquaredLength), through Add, Upsert,
// PutDocuments, RestoreDocuments and Search, and the public
// ValidateMetadata / ValidateVector the CLI and the servers call.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "query/database.h"
#include "query/validate.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

bool Contains(const Status& s, const std::string& text) {
  return s.message().find(text) != std::string::npos;
}

class InputLimitsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open({}, dir_.Sub("db"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(db).value();
  }
  std::shared_ptr<Collection> Vectors(const std::string& name, Metric metric) {
    auto c = db_->CreateCollection(name, {.dim = 4, .metric = metric, .encoder = ""});
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : nullptr;
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
};

TEST_F(InputLimitsTest, MetadataDepthIsLimitedEverywhere) {
  auto c = db_->CreateCollection("t", {}).value();
  const std::string deepest = testing::NestedJsonObject(kMaxMetadataDepth);
  EXPECT_OK(ValidateMetadata(deepest));
  std::vector<Document> ok = {{.id = 1, .text = "fine", .metadata = deepest}};
  ASSERT_OK(c->Add({}, ok));
  ASSERT_OK_AND_ASSIGN(Document got, c->Get(1));
  EXPECT_EQ(got.metadata, deepest);

  const std::string expected =
      "metadata nests deeper than " + std::to_string(kMaxMetadataDepth) + " levels";
  // One level too many, and 70,000 (which overflowed the stack when the
  // metadata was re-serialised): refused the same way, naming the document.
  for (size_t levels : {size_t{kMaxMetadataDepth} + 1, size_t{70000}}) {
    SCOPED_TRACE(levels);
    const std::string deep = testing::NestedJsonObject(levels);
    Status v = ValidateMetadata(deep);
    EXPECT_EQ(v.code(), StatusCode::kInvalidArgument);
    EXPECT_EQ(v.message(), expected);
    // Arrays count as levels too; brackets inside strings do not.
    const std::string arrays =
        "{\"a\":" + std::string(levels - 1, '[') + std::string(levels - 1, ']') + "}";
    EXPECT_FALSE(ValidateMetadata(arrays).ok());
    EXPECT_OK(ValidateMetadata("{\"a\":\"" + std::string(levels, '[') + "\"}"));

    std::vector<Document> docs = {{.id = 2, .text = "fine"},
                                  {.id = 3, .text = "x", .metadata = deep}};
    Status s = c->Add({}, docs);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(s, "document 1 (id 3): " + expected)) << s;
    s = c->Upsert({}, docs);
    EXPECT_TRUE(Contains(s, "document 1 (id 3): " + expected)) << s;

    std::vector<SourceDocument> long_docs = {
        {.id = "long", .text = "Some text.", .metadata = deep}};
    auto put = c->PutDocuments({}, {}, long_docs);
    EXPECT_EQ(put.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(put.status(), "\"long\"")) << put.status();
    EXPECT_TRUE(Contains(put.status(), expected)) << put.status();

    std::vector<DocumentInfo> infos(1);
    infos[0].id = "r";
    infos[0].content_hash = std::string(32, '0');
    infos[0].vector = std::vector<float>(384, 0.05f);
    infos[0].chunks = {ChunkInfo{}};
    infos[0].metadata = deep;
    Status restored = c->RestoreDocuments({}, {}, infos);
    EXPECT_TRUE(Contains(restored, expected)) << restored;
  }
  EXPECT_EQ(c->Count().value(), 1u);
  EXPECT_EQ(c->CountDocuments().value(), 0u);
}

// Finite vectors whose squared L2 distance or inner product overflows a
// float used to be stored and then scored inf / NaN ("score": null over
// HTTP). They are refused for every metric, stored and queried alike.
TEST_F(InputLimitsTest, VectorsWhoseScoresWouldOverflowAreRefused) {
  for (Metric metric : {Metric::kL2, Metric::kInnerProduct, Metric::kCosine}) {
    SCOPED_TRACE(MetricName(metric));
    auto c = Vectors(std::string("v_") + MetricName(metric), metric);
    ASSERT_NE(c, nullptr);
    const std::vector<float> huge(4, 1e30f);
    Status v = ValidateVector(huge, metric);
    EXPECT_EQ(v.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(v, "too long")) << v;

    std::vector<Document> docs = {{.id = 1, .vector = {1, 0, 0, 0}}, {.id = 2, .vector = huge}};
    Status s = c->Add({}, docs);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(s, "document 1 (id 2): vector is too long")) << s;
    EXPECT_FALSE(c->Upsert({}, docs).ok());
    EXPECT_EQ(c->Count().value(), 0u) << "a refused batch writes nothing";
    auto q = c->Search({}, Query::Vector(huge));
    EXPECT_EQ(q.status().code(), StatusCode::kInvalidArgument);
    EXPECT_TRUE(Contains(q.status(), "too long")) << q.status();

    // The largest vectors allowed score finitely against each other, in
    // the worst case: opposite directions.
    const float edge = static_cast<float>(std::sqrt(kMaxVectorSquaredLength / 4) * 0.999);
    std::vector<Document> big = {{.id = 3, .vector = {edge, edge, edge, edge}},
                                 {.id = 4, .vector = {-edge, -edge, -edge, -edge}}};
    ASSERT_OK(c->Add({}, big));
    for (auto mode : {SearchMode::kExact, SearchMode::kApproximate}) {
      ASSERT_OK_AND_ASSIGN(
          auto hits, c->Search({.k = 2, .mode = mode}, Query::Vector({edge, edge, edge, edge})));
      ASSERT_EQ(hits.size(), 2u);
      for (const Hit& h : hits) EXPECT_TRUE(std::isfinite(h.score)) << h.id << " " << h.score;
    }
  }
}

TEST_F(InputLimitsTest, CosineVectorsTooShortToNormaliseAreRefused) {
  auto c = Vectors("cos", Metric::kCosine);
  // 1 / length overflows a float, so the normalised vector would be NaN.
  const std::vector<float> tiny = {1e-39f, 0, 0, 0};
  std::vector<Document> docs = {{.id = 1, .vector = tiny}};
  Status s = c->Add({}, docs);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(Contains(s, "too short")) << s;
  EXPECT_FALSE(c->Search({}, Query::Vector(tiny)).ok());
  // L2 and inner product need no direction.
  EXPECT_OK(ValidateVector(tiny, Metric::kL2));
  // Small but normalisable vectors are fine.
  std::vector<Document> small = {{.id = 2, .vector = {1e-30f, 0, 0, 0}}};
  ASSERT_OK(c->Add({}, small));
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search({}, Query::Vector({1, 0, 0, 0})));
  ASSERT_EQ(hits.size(), 1u);
  EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
}

// The safety net for vectors stored before the limit: a score is finite.
TEST(FiniteScore, ClampsToTheFloatRange) {
  const float max = std::numeric_limits<float>::max();
  EXPECT_EQ(query::FiniteScore(1.5), 1.5f);
  EXPECT_EQ(query::FiniteScore(1e39), max);
  EXPECT_EQ(query::FiniteScore(-1e39), -max);
  EXPECT_EQ(query::FiniteScore(std::numeric_limits<double>::infinity()), max);
  EXPECT_EQ(query::FiniteScore(-std::numeric_limits<double>::infinity()), -max);
  EXPECT_EQ(query::FiniteScore(std::nan("")), -max);
  EXPECT_EQ(query::ScoreOf(index::Metric::kL2, std::numeric_limits<float>::infinity()), -max);
}

}  // namespace
}  // namespace flashembed
