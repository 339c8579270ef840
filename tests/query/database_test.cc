#include "query/database.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <random>
#include <thread>

#include "storage/records.h"
#include "storage/store.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

std::unique_ptr<Database> OpenDb(const std::string& path, Options options = {}) {
  auto db = Database::Open(options, path);
  EXPECT_TRUE(db.ok()) << db.status();
  return std::move(db).value();
}

std::vector<Document> SampleDocs() {
  return {
      {.id = 1,
       .text = "The Moon orbits the Earth every 27 days",
       .metadata = R"({"topic":"astro"})"},
      {.id = 2, .text = "Sourdough bread rises with wild yeast", .metadata = R"({"topic":"food"})"},
      {.id = "py", .text = "Python lists grow dynamically when you append", .metadata = "{}"},
      {.id = 4, .text = "黑洞的引力强大到连光都无法逃脱", .metadata = R"({"lang":"zh"})"},
  };
}

std::vector<float> Unit(int dim, int hot) {
  std::vector<float> v(dim, 0.01f);
  v[hot] = 1;
  return v;
}

TEST(Database, AddSearchGetDeleteCount) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("notes", {}));
  auto docs = SampleDocs();
  ASSERT_OK(c->Add({}, docs));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 4u);

  ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 2}, Query::Text("wild yeast bread")));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, Id(2));
  EXPECT_EQ(hits[0].text, docs[1].text);
  EXPECT_EQ(hits[0].metadata, R"({"topic":"food"})");
  EXPECT_GT(hits[0].score, hits[1].score);

  ASSERT_OK_AND_ASSIGN(auto zh, c->Search({.k = 1}, Query::Text("黑洞引力")));
  EXPECT_EQ(zh[0].id, Id(4));

  ASSERT_OK_AND_ASSIGN(Document got, c->Get("py"));
  EXPECT_EQ(got.text, docs[2].text);
  EXPECT_EQ(got.vector.size(), 384u);
  EXPECT_TRUE(c->Get(3).status().IsNotFound());
  EXPECT_TRUE(c->Get("1").status().IsNotFound()) << "string \"1\" is not int 1";

  std::vector<Id> del = {1, "py", 12345};
  ASSERT_OK_AND_ASSIGN(size_t removed, c->Delete({}, del));
  EXPECT_EQ(removed, 2u);
  ASSERT_OK_AND_ASSIGN(n, c->Count());
  EXPECT_EQ(n, 2u);
  ASSERT_OK_AND_ASSIGN(hits, c->Search({.k = 10}, Query::Text("Moon orbits Earth")));
  ASSERT_EQ(hits.size(), 2u) << "only two documents are left";
  for (const auto& h : hits) EXPECT_NE(h.id, Id(1));
}

// Templated texts give near-duplicate vectors, where HNSW leaves some nodes
// unreachable; small collections are scanned exactly, so every document
// still finds itself.
TEST(Database, SmallCollectionsSearchExactly) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", {}));
  std::vector<Document> docs;
  for (int i = 0; i < 600; ++i) {
    docs.push_back({.id = i,
                    .text = "document number " + std::to_string(i) + " about topic " +
                            std::to_string(i % 13)});
  }
  ASSERT_OK(c->Add({.sync = false}, docs));
  size_t approximate_misses = 0;
  for (int i = 0; i < 600; ++i) {
    ASSERT_OK_AND_ASSIGN(Document d, c->Get(i));
    ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 1}, Query::Vector(d.vector)));
    EXPECT_EQ(hits[0].id, Id(i));
    EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
    ASSERT_OK_AND_ASSIGN(auto ann,
                         c->Search({.k = 1, .ef_search = 1000, .mode = SearchMode::kApproximate},
                                   Query::Vector(d.vector)));
    approximate_misses += ann[0].id == Id(i) ? 0 : 1;
  }
  // Documents the graph limitation this guards against (not a promise).
  RecordProperty("approximate_misses", static_cast<int>(approximate_misses));
}

TEST(Database, UpsertReplacesDocumentAndVector) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", {}));
  std::vector<Document> first = {{.id = "a", .text = "apples and pears"},
                                 {.id = "b", .text = "rockets and satellites"}};
  ASSERT_OK(c->Add({}, first));
  std::vector<Document> second = {
      {.id = "a", .text = "submarines under the ocean", .metadata = R"({"v":2})"}};
  EXPECT_TRUE(c->Add({}, second).IsAlreadyExists());
  ASSERT_OK(c->Upsert({}, second));
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 2u);
  ASSERT_OK_AND_ASSIGN(Document a, c->Get("a"));
  EXPECT_EQ(a.text, "submarines under the ocean");
  EXPECT_EQ(a.metadata, R"({"v":2})");
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 5}, Query::Text("submarines ocean")));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, Id("a"));
  ASSERT_OK_AND_ASSIGN(hits, c->Search({.k = 5}, Query::Text("apples pears")));
  ASSERT_EQ(hits.size(), 2u) << "the old version must not come back as a third hit";
}

TEST(Database, VectorOnlyCollectionWithEveryMetric) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  for (Metric metric : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    CollectionSchema schema{.dim = 8, .metric = metric, .encoder = ""};
    ASSERT_OK_AND_ASSIGN(auto c,
                         db->CreateCollection(std::string("v_") + MetricName(metric), schema));
    std::vector<Document> docs;
    for (int i = 0; i < 8; ++i)
      docs.push_back({.id = i, .text = "payload " + std::to_string(i), .vector = Unit(8, i)});
    ASSERT_OK(c->Add({}, docs));
    ASSERT_OK_AND_ASSIGN(auto hits,
                         c->Search({.k = 3, .with_vector = true}, Query::Vector(Unit(8, 5))));
    ASSERT_EQ(hits.size(), 3u);
    EXPECT_EQ(hits[0].id, Id(5)) << MetricName(metric);
    EXPECT_EQ(hits[0].text, "payload 5");
    EXPECT_EQ(hits[0].vector, Unit(8, 5));
    if (metric == Metric::kL2) {
      EXPECT_NEAR(hits[0].score, 0.0f, 1e-5);
    }
    if (metric == Metric::kCosine) {
      EXPECT_NEAR(hits[0].score, 1.0f, 1e-5);
    }
    // Text queries need an encoder.
    auto text = c->Search({}, Query::Text("payload"));
    EXPECT_TRUE(text.status().IsInvalidArgument());
    EXPECT_NE(text.status().message().find("no encoder"), std::string::npos) << text.status();
    // Documents need vectors.
    std::vector<Document> no_vector = {{.id = 100, .text = "just text"}};
    EXPECT_TRUE(c->Add({}, no_vector).IsInvalidArgument());
  }
}

// Bad input gets a clear error and leaves stored data untouched.
TEST(Database, BadInputIsRefusedAndChangesNothing) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", {}));
  ASSERT_OK_AND_ASSIGN(auto v, db->CreateCollection("v", {.dim = 4, .encoder = ""}));
  std::vector<Document> base = {{.id = 1, .text = "original text"}};
  ASSERT_OK(c->Add({}, base));

  struct Case {
    const char* name;
    std::vector<Document> docs;
    const char* message;
  };
  std::vector<Case> cases = {
      {"empty text",
       {{.id = 2, .text = "ok"}, {.id = 3, .text = ""}},
       "document 1 (id 3): text is empty"},
      {"whitespace text", {{.id = 2, .text = "   \n"}}, "document 0 (id 2)"},
      {"malformed metadata", {{.id = 2, .text = "ok", .metadata = "{\"a\": }"}}, "not valid JSON"},
      {"metadata not object",
       {{.id = 2, .text = "ok", .metadata = "[1,2]"}},
       "must be a JSON object, got array"},
      {"duplicate id on add",
       {{.id = 2, .text = "new"}, {.id = 1, .text = "dup"}},
       "id 1 already exists"},
      {"duplicate in batch", {{.id = 2, .text = "x"}, {.id = 2, .text = "y"}}, "appears twice"},
      {"wrong dim",
       {{.id = 2, .text = "x", .vector = {1, 2, 3}}},
       "collection has 384, vector has 3"},
      {"nan vector", {{.id = 2, .vector = std::vector<float>(384, NAN)}}, "NaN"},
      {"empty string id", {{.id = "", .text = "x"}}, "string id must be"},
      {"invalid utf8", {{.id = 2, .text = "bad \xff\xfe bytes"}}, "UTF-8"},
  };
  for (const auto& tc : cases) {
    Status s = c->Add({}, tc.docs);
    EXPECT_FALSE(s.ok()) << tc.name;
    EXPECT_NE(s.message().find(tc.message), std::string::npos) << tc.name << ": " << s;
  }
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 1u);
  EXPECT_TRUE(c->Get(2).status().IsNotFound());
  ASSERT_OK_AND_ASSIGN(Document one, c->Get(1));
  EXPECT_EQ(one.text, "original text");

  std::vector<Document> wrong = {{.id = 1, .vector = {1, 2}}};
  Status s = v->Add({}, wrong);
  EXPECT_NE(s.message().find("collection has 4, vector has 2"), std::string::npos) << s;
  EXPECT_TRUE(v->Search({}, Query::Vector({1, 2, 3})).status().IsInvalidArgument());
  EXPECT_TRUE(c->Search({}, Query{}).status().IsInvalidArgument());
  EXPECT_TRUE(c->Search({.k = 0}, Query::Text("x")).status().IsInvalidArgument());
  EXPECT_TRUE(c->Search({}, Query{"text", {1.0f}}).status().IsInvalidArgument());

  auto missing = db->GetCollection("nope");
  EXPECT_TRUE(missing.status().IsNotFound());
  EXPECT_NE(missing.status().message().find("\"nope\""), std::string::npos);
  EXPECT_TRUE(db->DropCollection("nope").IsNotFound());
  EXPECT_TRUE(db->CreateCollection("bad name!", {}).status().IsInvalidArgument());
  EXPECT_TRUE(db->CreateCollection("c", {}).status().IsAlreadyExists());
  EXPECT_TRUE(db->CreateCollection("x", {.encoder = "word2vec"}).status().IsInvalidArgument());
  EXPECT_TRUE(db->CreateCollection("x", {.dim = 0, .encoder = ""}).status().IsInvalidArgument());
  EXPECT_TRUE(db->CreateCollection("x", {.hnsw = {.m = 1}}).status().IsInvalidArgument());
  ASSERT_OK_AND_ASSIGN(auto list, db->ListCollections());
  EXPECT_EQ(list.size(), 2u);
}

TEST(Database, GetOrCreateChecksTheSchema) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c1, db->GetOrCreateCollection("c", {.dim = 256}));
  ASSERT_OK_AND_ASSIGN(auto c2, db->GetOrCreateCollection("c", {.dim = 256}));
  EXPECT_EQ(c1.get(), c2.get());
  auto other_dim = db->GetOrCreateCollection("c", {.dim = 128});
  ASSERT_FALSE(other_dim.ok());
  EXPECT_TRUE(other_dim.status().IsInvalidArgument());
  EXPECT_NE(other_dim.status().message().find("dim=256"), std::string::npos) << other_dim.status();
  EXPECT_NE(other_dim.status().message().find("dim=128"), std::string::npos) << other_dim.status();
  auto no_encoder = db->GetOrCreateCollection("c", {.dim = 256, .encoder = ""});
  EXPECT_NE(no_encoder.status().message().find("requested none"), std::string::npos)
      << no_encoder.status();
  auto metric = db->GetOrCreateCollection("c", {.dim = 256, .metric = Metric::kL2});
  EXPECT_NE(metric.status().message().find("metric: stored cosine, requested l2"),
            std::string::npos)
      << metric.status();
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, c1->Describe());
  EXPECT_EQ(info.schema.dim, 256);
  EXPECT_EQ(info.schema.encoder, "hash");
  EXPECT_NE(info.encoder_spec.find("dim=256"), std::string::npos);
}

TEST(Database, DropRemovesEverythingAndInvalidatesHandles) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", {}));
  ASSERT_OK(c->Add({}, SampleDocs()));
  ASSERT_OK(db->DropCollection("c"));
  EXPECT_TRUE(c->Count().status().IsNotFound());
  EXPECT_TRUE(c->Search({}, Query::Text("moon")).status().IsNotFound());
  EXPECT_TRUE(c->Add({}, SampleDocs()).IsNotFound());
  EXPECT_TRUE(db->GetCollection("c").status().IsNotFound());
  // The name is free again and the new collection starts empty.
  ASSERT_OK_AND_ASSIGN(auto fresh, db->CreateCollection("c", {}));
  ASSERT_OK_AND_ASSIGN(uint64_t n, fresh->Count());
  EXPECT_EQ(n, 0u);
  EXPECT_TRUE(fresh->Get(1).status().IsNotFound());
}

TEST(Database, HandlesOutliveTheDatabase) {
  TempDir dir;
  std::shared_ptr<Collection> c;
  {
    auto db = OpenDb(dir.Sub("db"));
    ASSERT_OK_AND_ASSIGN(c, db->CreateCollection("c", {}));
    ASSERT_OK(c->Add({}, SampleDocs()));
  }
  EXPECT_EQ(c->Count().status().code(), StatusCode::kCancelled);
  EXPECT_EQ(c->Search({}, Query::Text("moon")).status().code(), StatusCode::kCancelled);
  // Writes too (they check the storage's health, which is gone with it).
  EXPECT_EQ(c->Add({}, SampleDocs()).code(), StatusCode::kCancelled);
  EXPECT_EQ(c->Upsert({}, SampleDocs()).code(), StatusCode::kCancelled);
  const Id one[] = {Id(1)};
  EXPECT_EQ(c->Delete({}, one).status().code(), StatusCode::kCancelled);
  EXPECT_EQ(c->DeleteWhere({}, "id > 0", "").status().code(), StatusCode::kCancelled);
  const std::string doc_ids[] = {"d1"};
  EXPECT_EQ(c->DeleteDocuments({}, doc_ids).status().code(), StatusCode::kCancelled);
  EXPECT_EQ(c->Snapshot().code(), StatusCode::kCancelled);
  // The folder is released: it opens again while the stale handle lives.
  auto db = OpenDb(dir.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto again, db->GetCollection("c"));
  ASSERT_OK_AND_ASSIGN(uint64_t n, again->Count());
  EXPECT_EQ(n, 4u);
}

// Many threads search while one thread writes: every search succeeds, sees
// only whole documents, and no write is lost.
TEST(Database, ConcurrentSearchesWhileWriting) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"), Options{.snapshot_every_ops = 500});
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", {.dim = 16, .encoder = ""}));
  std::mt19937 rng(11);
  std::normal_distribution<float> normal;
  auto random_vector = [&] {
    std::vector<float> v(16);
    for (float& x : v) x = normal(rng);
    return v;
  };
  std::vector<Document> seed_docs;
  for (int i = 0; i < 200; ++i) seed_docs.push_back({.id = i, .vector = random_vector()});
  ASSERT_OK(c->Add({}, seed_docs));
  std::vector<std::vector<float>> queries;
  for (int i = 0; i < 64; ++i) queries.push_back(random_vector());

  std::atomic<bool> done{false};
  std::atomic<int> failures{0}, searches{0};
  std::vector<std::thread> readers;
  for (int t = 0; t < 4; ++t) {
    readers.emplace_back([&, t] {
      size_t i = t;
      while (!done.load()) {
        auto hits = c->Search({.k = 10, .mode = SearchMode::kApproximate},
                              Query::Vector(queries[i++ % queries.size()]));
        if (!hits.ok() || hits->size() != 10) failures++;
        searches++;
      }
    });
  }
  int next_id = 200;
  for (int batch = 0; batch < 60; ++batch) {
    std::vector<Document> docs;
    for (int i = 0; i < 25; ++i) docs.push_back({.id = next_id++, .vector = random_vector()});
    ASSERT_OK(c->Add({.sync = false}, docs));
    std::vector<Id> gone = {batch * 3, batch * 3 + 1};
    ASSERT_OK(c->Delete({.sync = false}, gone).status());
    std::vector<Document> replace = {{.id = batch * 3 + 2, .vector = random_vector()}};
    ASSERT_OK(c->Upsert({.sync = false}, replace));
  }
  done = true;
  for (auto& t : readers) t.join();
  EXPECT_EQ(failures.load(), 0) << "of " << searches.load() << " searches";
  EXPECT_GT(searches.load(), 0);
  ASSERT_OK_AND_ASSIGN(uint64_t n, c->Count());
  EXPECT_EQ(n, 200u + 60 * 25 - 120);
}

TEST(TextModel, EmbedsAndTokenizesWithoutADatabase) {
  ASSERT_OK_AND_ASSIGN(auto hash, TextModel::Open("hash", 64));
  EXPECT_EQ(hash->dim(), 64);
  ASSERT_OK_AND_ASSIGN(auto v, hash->Embed({"one text", "another text"}));
  EXPECT_EQ(v.size(), 128u);
  EXPECT_EQ(hash->Tokenize("x", 0).status().code(), StatusCode::kNotSupported);
  EXPECT_TRUE(hash->Embed({"fine", ""}).status().IsInvalidArgument());

  const std::string dir =
      std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert/mean_norm_f32";
  ASSERT_OK_AND_ASSIGN(auto model, TextModel::Open("model:" + dir));
  EXPECT_EQ(model->dim(), 32);
  ASSERT_OK_AND_ASSIGN(auto tokens, model->Tokenize("w0 w99", 0));
  EXPECT_EQ(tokens.ids, (std::vector<int32_t>{2, 5, 104, 3}));
  // The database embeds exactly as the stand-alone model does.
  TempDir tmp;
  auto db = OpenDb(tmp.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("m", {.encoder = "model:" + dir}));
  std::vector<Document> docs = {{.id = 1, .text = "w3 w4 w5"}};
  ASSERT_OK(c->Add({}, docs));
  ASSERT_OK_AND_ASSIGN(Document stored, c->Get(1));
  ASSERT_OK_AND_ASSIGN(auto direct, model->Embed({"w3 w4 w5"}));
  EXPECT_EQ(stored.vector, direct);

  // A text with nothing to encode is [CLS] [SEP] for a model, as in
  // sentence-transformers, and fails nothing else in its batch; the database
  // still refuses it as a document or a query, naming it.
  ASSERT_OK_AND_ASSIGN(auto empty, model->Embed({""}));
  ASSERT_OK_AND_ASSIGN(auto batch, model->Embed({"w3 w4 w5", " ", "\u3000\u200b"}));
  // The same vectors as alone, within rounding (rows in different GEMM
  // tiles may round differently on AVX2).
  for (size_t k = 0; k < 32; ++k) {
    EXPECT_NEAR(batch[k], direct[k], 1e-5f) << k;
    EXPECT_NEAR(batch[32 + k], empty[k], 1e-5f) << k;
    EXPECT_NEAR(batch[64 + k], empty[k], 1e-5f) << k;
  }
  for (const char* blank : {"", " ", "\u3000", "\u200b\t"}) {
    std::vector<Document> bad = {{.id = 2, .text = "w1"}, {.id = 3, .text = blank}};
    Status s = c->Add({}, bad);
    EXPECT_TRUE(s.IsInvalidArgument()) << s;
    EXPECT_NE(s.message().find("document 1 (id 3): text is empty"), std::string::npos) << s;
    auto q = c->Search({}, Query::Text(blank));
    EXPECT_TRUE(q.status().IsInvalidArgument()) << q.status();
    EXPECT_NE(q.status().message().find("query is empty"), std::string::npos) << q.status();
  }
  ASSERT_OK_AND_ASSIGN(uint64_t count, c->Count());
  EXPECT_EQ(count, 1u);

  EXPECT_TRUE(TextModel::Open("").status().IsInvalidArgument());
  EXPECT_TRUE(TextModel::Open("model:/no/such/model").status().IsNotFound());
  EXPECT_TRUE(TextModel::Open("word2vec").status().IsInvalidArgument());
}

// Prefixes are part of what is embedded, not of what is stored.
TEST(Database, QueryAndDocumentPrefixesAreApplied) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  CollectionSchema schema{.query_prefix = "query: ", .document_prefix = "passage: "};
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("p", schema));
  std::vector<Document> docs = {{.id = 1, .text = "lunar orbit and tides"}};
  ASSERT_OK(c->Add({}, docs));
  ASSERT_OK_AND_ASSIGN(Document stored, c->Get(1));
  EXPECT_EQ(stored.text, "lunar orbit and tides");
  ASSERT_OK_AND_ASSIGN(auto model, TextModel::Open("hash"));
  ASSERT_OK_AND_ASSIGN(auto want_doc, model->Embed({"passage: lunar orbit and tides"}));
  EXPECT_EQ(stored.vector, want_doc);
  ASSERT_OK_AND_ASSIGN(auto hits, c->Search({.k = 1}, Query::Text("tides")));
  ASSERT_OK_AND_ASSIGN(auto want_query, model->Embed({"query: tides"}));
  double dot = 0;
  for (size_t i = 0; i < want_query.size(); ++i) dot += want_query[i] * want_doc[i];
  EXPECT_NEAR(hits[0].score, dot, 1e-5);
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, c->Describe());
  EXPECT_EQ(info.schema.query_prefix, "query: ");
  EXPECT_EQ(info.schema.document_prefix, "passage: ");
  auto other =
      db->GetOrCreateCollection("p", {.query_prefix = "q: ", .document_prefix = "passage: "});
  EXPECT_NE(other.status().message().find("query_prefix: stored \"query: \", requested \"q: \""),
            std::string::npos)
      << other.status();
  // A prefix does not make blank text acceptable.
  std::vector<Document> blank = {{.id = 2, .text = "  "}};
  EXPECT_TRUE(c->Add({}, blank).IsInvalidArgument());
  EXPECT_TRUE(c->Search({}, Query::Text(" ")).status().IsInvalidArgument());
  EXPECT_TRUE(db->CreateCollection("v", {.dim = 4, .encoder = "", .query_prefix = "q: "})
                  .status()
                  .IsInvalidArgument());
}

// Get reads one point in time: an upsert racing with it never makes a stored
// document look missing.
TEST(Database, GetDuringUpsertsNeverMissesTheDocument) {
  TempDir dir;
  auto db = OpenDb(dir.Sub("db"));
  ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", {.dim = 4, .encoder = ""}));
  std::vector<Document> doc = {{.id = 1, .text = "v0", .vector = {1, 0, 0, 0}}};
  ASSERT_OK(c->Add({}, doc));
  std::atomic<bool> done{false};
  std::atomic<int> bad{0}, gets{0};
  std::thread reader([&] {
    while (!done.load()) {
      auto got = c->Get(1);
      if (!got.ok() || got->vector.size() != 4) bad++;
      gets++;
    }
  });
  for (int i = 1; i <= 3000; ++i) {
    doc[0].text = "v" + std::to_string(i);
    doc[0].vector = {1, static_cast<float>(i), 0, 0};
    ASSERT_OK(c->Upsert({.sync = false}, doc));
  }
  done = true;
  reader.join();
  EXPECT_EQ(bad.load(), 0) << "of " << gets.load() << " gets";
  ASSERT_OK_AND_ASSIGN(Document last, c->Get(1));
  EXPECT_EQ(last.text, "v3000");
}

// A drop waits for in-flight writes: nothing the collection owned survives
// it, and no write is acknowledged after it.
TEST(Database, DropRacingWithWritesLeavesNothingBehind) {
  TempDir dir;
  std::atomic<int> acknowledged_after_drop{0};
  {
    auto db = OpenDb(dir.Sub("db"), Options{.snapshot_every_ops = 50});
    CollectionSchema schema{.dim = 4, .encoder = "", .text_index = true};
    schema.indexed_fields = {"k"};
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("c", schema));
    std::atomic<bool> dropped{false};
    std::thread writer([&] {
      for (int i = 0;; ++i) {
        std::vector<Document> docs = {{.id = i,
                                       .text = "word " + std::to_string(i),
                                       .metadata = "{\"k\": " + std::to_string(i) + "}",
                                       .vector = {1, static_cast<float>(i), 0, 0}}};
        // An Add that starts once the drop returned must fail (one that
        // started before may still have been acknowledged first).
        const bool after_drop = dropped.load();
        Status s = c->Add({}, docs);
        if (!s.ok()) {
          EXPECT_TRUE(s.IsNotFound()) << s;
          return;
        }
        if (after_drop) acknowledged_after_drop++;
      }
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    ASSERT_OK(db->DropCollection("c"));
    dropped = true;
    writer.join();
  }
  EXPECT_EQ(acknowledged_after_drop.load(), 0);
  ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open({}, dir.Sub("db")));
  for (storage::Cf cf :
       {storage::Cf::kDocuments, storage::Cf::kVectors, storage::Cf::kIds, storage::Cf::kOplog,
        storage::Cf::kSnapshots, storage::Cf::kPostings, storage::Cf::kFields}) {
    int keys = 0;
    ASSERT_OK(store->Scan(cf, "", "", [&](std::string_view, std::string_view) {
      ++keys;
      return true;
    }));
    EXPECT_EQ(keys, 0) << storage::CfName(cf);
  }
  int catalog = 0;
  ASSERT_OK(store->Scan(storage::Cf::kCatalog, "", "", [&](std::string_view key, std::string_view) {
    catalog += key != storage::kNextCollectionIdKey;
    return true;
  }));
  EXPECT_EQ(catalog, 0);
}

}  // namespace
}  // namespace flashembed
