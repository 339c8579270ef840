// Declared metadata fields (CollectionSchema::indexed_fields): their stored
// indexes narrow selective filters before any metadata is loaded, and give
// exactly the results of the same filter on a twin collection without
// them, through upserts, deletes, reopen and values of every JSON type.
#include <gtest/gtest.h>

#include <random>
#include <set>

#include "query/database.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

constexpr int kDim = 8;

std::vector<int64_t> HitIds(const std::vector<Hit>& hits) {
  std::vector<int64_t> out;
  for (const Hit& h : hits) out.push_back(h.id.as_int());
  return out;
}

class FieldIndexTest : public ::testing::Test {
 protected:
  void SetUp() override { Open(); }

  void Open() {
    auto db = Database::Open({}, dir_.Sub("db"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(db).value();
    CollectionSchema schema;
    schema.encoder = "";
    schema.dim = kDim;
    auto twin = db_->GetOrCreateCollection("twin", schema);
    ASSERT_TRUE(twin.ok()) << twin.status();
    twin_ = *twin;
    schema.indexed_fields = {"lang", "n", "x[\"y\"]", "flag", "s"};
    auto indexed = db_->GetOrCreateCollection("indexed", schema);
    ASSERT_TRUE(indexed.ok()) << indexed.status();
    indexed_ = *indexed;
  }

  void Reopen() {
    twin_.reset();
    indexed_.reset();
    ASSERT_OK(db_->Close());
    db_.reset();
    Open();
  }

  // Writes the same documents to both collections.
  void Write(const std::vector<Document>& docs) {
    ASSERT_OK(twin_->Upsert({}, docs));
    ASSERT_OK(indexed_->Upsert({}, docs));
  }

  Document Doc(int64_t id, const std::string& metadata) {
    std::vector<float> v(kDim);
    for (float& x : v) x = dist_(rng_);
    return {.id = id, .metadata = metadata, .vector = v};
  }

  // The same filtered exact search on both; returns the indexed side's stats.
  SearchStats ExpectSame(const std::string& filter, size_t k = 20) {
    std::vector<float> q(kDim);
    for (float& x : q) x = dist_(rng_);
    SearchStats stats;
    SearchOptions o{.k = k, .mode = SearchMode::kExact, .filter = filter};
    auto a = twin_->Search(o, Query::Vector(q));
    o.stats = &stats;
    auto b = indexed_->Search(o, Query::Vector(q));
    EXPECT_TRUE(a.ok() && b.ok()) << filter << ": " << a.status() << " / " << b.status();
    if (a.ok() && b.ok()) {
      EXPECT_EQ(HitIds(*a), HitIds(*b)) << filter;
    }
    return stats;
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> twin_, indexed_;
  std::mt19937 rng_{11};
  std::normal_distribution<float> dist_{0.0f, 1.0f};
};

TEST_F(FieldIndexTest, NarrowsWithoutLoadingAndAgreesWithTheTwin) {
  static const char* kLangs[] = {"en", "de", "fr", "ja"};
  std::vector<Document> docs;
  for (int i = 0; i < 4000; ++i) {
    std::string meta = "{\"lang\":\"" + std::string(kLangs[i % 4]) +
                       "\",\"n\":" + std::to_string(i % 2 == 0 ? i : -i) +
                       (i % 7 == 0 ? ".5" : "") + ",\"x\":{\"y\":" + std::to_string(i % 50) +
                       "},\"flag\":" + (i % 3 == 0 ? "true" : "false") + "}";
    if (i % 11 == 0) meta = "{\"lang\":[\"en\"],\"s\":\"a\\u0000b" + std::to_string(i) + "\"}";
    docs.push_back(Doc(i, meta));
  }
  Write(docs);
  // Selective on a declared field: answered from the stored index.
  SearchStats stats = ExpectSame("n >= 100 and n < 160 and lang == \"en\"");
  EXPECT_TRUE(stats.stored_index);
  EXPECT_TRUE(stats.narrowed);
  stats = ExpectSame("x[\"y\"] == 7 and flag == true");
  EXPECT_TRUE(stats.stored_index);
  EXPECT_EQ(stats.filter_matches, 25u);                      // i % 50 == 7, i % 3 == 0, i % 11 != 0
  stats = ExpectSame("n in [-3, 4, 14.5, 3999] or n == 5");  // an or: not narrowed
  EXPECT_FALSE(stats.stored_index);
  // Negative numbers, ranges open on one side, doubles, strings with NUL.
  for (const char* f : {"n < -3900", "n > 3900", "n >= -10.5 and n <= 10", "n == 14.5",
                        "s == \"a\\u0000b22\"", "s > \"a\\u0000b3\" and s < \"a\\u0000b4\"",
                        "lang in [\"ja\"] and n > 3000", "flag == false and n < -3950"}) {
    ExpectSame(f);
  }
  // Writes keep the stored index in step: change, delete, reopen.
  Write({Doc(100, R"({"lang":"en","n":130})"), Doc(104, R"({"lang":"de","n":104})"),
         Doc(5000, R"({"lang":"en","n":150})")});
  ASSERT_OK_AND_ASSIGN(size_t gone, indexed_->Delete({}, std::vector<Id>{108, 112}));
  EXPECT_EQ(gone, 2u);
  ASSERT_OK(twin_->Delete({}, std::vector<Id>{108, 112}).status());
  ASSERT_OK_AND_ASSIGN(gone, indexed_->DeleteWhere({}, "x[\"y\"] == 16", ""));
  ASSERT_OK(twin_->DeleteWhere({}, "x[\"y\"] == 16", "").status());
  EXPECT_GT(gone, 0u);
  Reopen();
  stats = ExpectSame("n >= 100 and n < 160 and lang == \"en\"");
  EXPECT_TRUE(stats.stored_index);
  ExpectSame("x[\"y\"] == 16");
  ExpectSame("x[\"y\"] == 17 and flag == true");
}

TEST_F(FieldIndexTest, BadDeclarationsAreRefused) {
  CollectionSchema schema;
  schema.encoder = "";
  schema.dim = kDim;
  for (const std::vector<std::string>& bad :
       {std::vector<std::string>{"id"}, {"a[0]"}, {"a", "a"}, {"a +"}, {""}}) {
    schema.indexed_fields = bad;
    auto c = db_->CreateCollection("bad", schema);
    EXPECT_EQ(c.status().code(), StatusCode::kInvalidArgument) << bad[0];
  }
  schema.indexed_fields = std::vector<std::string>(33);
  for (size_t i = 0; i < 33; ++i) schema.indexed_fields[i] = "f" + std::to_string(i);
  EXPECT_EQ(db_->CreateCollection("bad", schema).status().code(), StatusCode::kInvalidArgument);
  // A different declaration is a different schema.
  schema.indexed_fields = {"lang"};
  auto mismatch = db_->GetOrCreateCollection("indexed", schema);
  EXPECT_NE(mismatch.status().message().find("indexed_fields"), std::string::npos)
      << mismatch.status();
}

}  // namespace
}  // namespace flashembed
