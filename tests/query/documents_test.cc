// Long documents through the public API: PutDocuments (chunks, offsets,
// pooled vector, re-ingest skipping and replacing), DeleteDocuments,
// SearchDocuments (best chunk and pooled, passages, neighbours), chunk ids
// guarded against plain writes, errors that write nothing, reopen.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "query/database.h"
#include "storage/store.h"
#include "tests/query/long_text.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

using testing::LongText;

class DocumentsTest : public ::testing::Test {
 protected:
  void SetUp() override { Reopen(); }
  void Reopen() {
    coll_.reset();
    db_.reset();
    auto db = Database::Open({}, dir_.Sub("db"));
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(db).value();
    auto c = db_->GetOrCreateCollection("kb", {});
    ASSERT_TRUE(c.ok()) << c.status();
    coll_ = std::move(c).value();
  }
  std::vector<PutDocumentResult> Put(std::vector<SourceDocument> docs,
                                     ChunkingOptions chunking = {.chunk_tokens = 64}) {
    auto r = coll_->PutDocuments({}, chunking, docs);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : std::vector<PutDocumentResult>{};
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> coll_;
};

TEST_F(DocumentsTest, ChunksKeepOffsetsMetadataAndAPooledVector) {
  const std::string text = LongText(1, 600);
  auto results = Put({{.id = "manual",
                       .text = text,
                       .source = "docs/manual.txt",
                       .title = "The Manual",
                       .metadata = R"({"lang":"en","year":2024})"}});
  ASSERT_EQ(results.size(), 1u);
  EXPECT_EQ(results[0].outcome, PutDocumentResult::Outcome::kAdded);
  ASSERT_GT(results[0].chunks, 5u);
  EXPECT_EQ(results[0].chunks_encoded, results[0].chunks);

  ASSERT_OK_AND_ASSIGN(DocumentInfo info, coll_->GetDocument("manual", /*with_vector=*/true));
  EXPECT_EQ(info.source, "docs/manual.txt");
  EXPECT_EQ(info.title, "The Manual");
  EXPECT_EQ(info.metadata, R"({"lang":"en","year":2024})");
  EXPECT_EQ(info.bytes, text.size());
  EXPECT_EQ(info.content_hash.size(), 32u);
  EXPECT_EQ(info.chunk_tokens, 64u);
  ASSERT_EQ(info.chunks.size(), results[0].chunks);
  EXPECT_EQ(coll_->Count().value(), info.chunks.size());
  EXPECT_EQ(coll_->CountDocuments().value(), 1u);

  // Every chunk is a record whose text is the document's bytes at its offsets.
  std::vector<Id> ids;
  for (const ChunkInfo& c : info.chunks) ids.emplace_back("manual#" + std::to_string(c.ordinal));
  ASSERT_OK_AND_ASSIGN(auto chunks, coll_->GetMany(ids, /*with_vector=*/true));
  ASSERT_EQ(chunks.size(), info.chunks.size());
  size_t dim = chunks[0].vector.size();
  std::vector<double> mean(dim, 0.0);
  double weight = 0;
  uint64_t prev_begin = 0;
  for (size_t c = 0; c < chunks.size(); ++c) {
    const ChunkInfo& ci = info.chunks[c];
    EXPECT_EQ(chunks[c].text, text.substr(ci.begin, ci.end - ci.begin)) << c;
    if (c > 0) {
      EXPECT_GT(ci.begin, prev_begin);
    }
    if (c > 0) {
      EXPECT_LT(ci.begin, info.chunks[c - 1].end) << "chunks overlap";
    }
    prev_begin = ci.begin;
    auto meta = nlohmann::json::parse(chunks[c].metadata);
    EXPECT_EQ(meta["lang"], "en");
    EXPECT_EQ(meta["doc"]["id"], "manual");
    EXPECT_EQ(meta["doc"]["title"], "The Manual");
    EXPECT_EQ(meta["chunk"]["n"], c);
    EXPECT_EQ(meta["chunk"]["begin"], ci.begin);
    EXPECT_EQ(meta["chunk"]["end"], ci.end);
    EXPECT_EQ(meta["chunk"]["tokens"], ci.tokens);
    EXPECT_LE(ci.tokens, 64u);
    for (size_t j = 0; j < dim; ++j)
      mean[j] += static_cast<double>(ci.tokens) * chunks[c].vector[j];
    weight += ci.tokens;
  }
  EXPECT_EQ(info.chunks.front().begin, 0u);
  EXPECT_EQ(info.chunks.back().end, text.find_last_not_of(" \n") + 1);
  // The pooled vector: token-weighted mean of the chunk vectors, length 1.
  double norm = 0;
  for (double& v : mean) norm += (v / weight) * (v / weight);
  norm = std::sqrt(norm);
  ASSERT_EQ(info.vector.size(), dim);
  for (size_t j = 0; j < dim; ++j) EXPECT_NEAR(info.vector[j], mean[j] / weight / norm, 1e-5);
}

TEST_F(DocumentsTest, ReingestSkipsUnchangedAndReplacesChanged) {
  const std::string text = LongText(2, 800);
  Put({{.id = "a", .text = text}, {.id = "b", .text = LongText(3, 300)}});
  ASSERT_OK_AND_ASSIGN(DocumentInfo before, coll_->GetDocument("a", false));
  const uint64_t count = coll_->Count().value();

  auto again = Put({{.id = "a", .text = text}, {.id = "b", .text = LongText(3, 300)}});
  EXPECT_EQ(again[0].outcome, PutDocumentResult::Outcome::kUnchanged);
  EXPECT_EQ(again[1].outcome, PutDocumentResult::Outcome::kUnchanged);
  EXPECT_EQ(again[0].chunks_encoded, 0u);
  EXPECT_EQ(again[0].chunks, before.chunks.size());
  EXPECT_EQ(coll_->GetDocument("a", false)->updated_unix_ms, before.updated_unix_ms);

  // Change the last paragraph only: the chunks before it keep their vectors.
  std::string edited = text;
  const size_t last_par = edited.rfind("\n\n");
  ASSERT_NE(last_par, std::string::npos);
  edited.replace(last_par + 2, std::string::npos, "A brand new closing paragraph. It is short.");
  auto replaced = Put({{.id = "a", .text = edited}});
  EXPECT_EQ(replaced[0].outcome, PutDocumentResult::Outcome::kReplaced);
  EXPECT_GT(replaced[0].chunks_encoded, 0u);
  EXPECT_LT(replaced[0].chunks_encoded, replaced[0].chunks / 2);

  // Same stored state as ingesting the edited text into a fresh collection.
  auto twin = db_->CreateCollection("twin", {}).value();
  ASSERT_TRUE(twin->PutDocuments({}, {.chunk_tokens = 64},
                                 std::vector<SourceDocument>{{.id = "a", .text = edited}})
                  .ok());
  ASSERT_OK_AND_ASSIGN(DocumentInfo mine, coll_->GetDocument("a", true));
  ASSERT_OK_AND_ASSIGN(DocumentInfo theirs, twin->GetDocument("a", true));
  ASSERT_EQ(mine.chunks.size(), theirs.chunks.size());
  for (size_t c = 0; c < mine.chunks.size(); ++c) {
    Id id("a#" + std::to_string(c));
    ASSERT_OK_AND_ASSIGN(Document x, coll_->Get(id));
    ASSERT_OK_AND_ASSIGN(Document y, twin->Get(id));
    EXPECT_EQ(x.text, y.text);
    EXPECT_EQ(x.metadata, y.metadata);
    EXPECT_EQ(x.vector, y.vector) << c;
  }
  EXPECT_EQ(mine.vector, theirs.vector);
  EXPECT_EQ(mine.content_hash, theirs.content_hash);
  EXPECT_NE(mine.content_hash, before.content_hash);
  EXPECT_EQ(coll_->Count().value(), count - before.chunks.size() + mine.chunks.size());

  // Shrinking removes the surplus chunks.
  auto shrunk = Put({{.id = "a", .text = "Just one sentence now."}});
  EXPECT_EQ(shrunk[0].chunks, 1u);
  EXPECT_EQ(coll_->Count().value(), count - before.chunks.size() + 1);
  EXPECT_EQ(coll_->Get(Id("a#1")).status().code(), StatusCode::kNotFound);

  // Metadata only: chunks rewritten, nothing embedded.
  auto meta = Put({{.id = "b", .text = LongText(3, 300), .metadata = R"({"tag":"x"})"}});
  EXPECT_EQ(meta[0].outcome, PutDocumentResult::Outcome::kReplaced);
  EXPECT_EQ(meta[0].chunks_encoded, 0u);
  EXPECT_EQ(coll_->CountWhere(R"(tag == "x")", "").value(), meta[0].chunks);
}

TEST_F(DocumentsTest, DeleteCascadesToChunks) {
  Put({{.id = "a", .text = LongText(4, 500)}, {.id = "b", .text = LongText(5, 500)}});
  ASSERT_OK(coll_->Add({}, std::vector<Document>{{.id = 7, .text = "a plain record"}}));
  const uint64_t b_chunks = coll_->GetDocument("b", false)->chunks.size();
  std::vector<std::string> ids = {"a", "missing"};
  ASSERT_OK_AND_ASSIGN(size_t removed, coll_->DeleteDocuments({}, ids));
  EXPECT_EQ(removed, 1u);
  EXPECT_EQ(coll_->GetDocument("a", false).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(coll_->Count().value(), b_chunks + 1);
  EXPECT_EQ(coll_->CountWhere(R"(doc["id"] == "a")", "").value(), 0u);
  EXPECT_EQ(coll_->CountDocuments().value(), 1u);
  Reopen();
  EXPECT_EQ(coll_->Count().value(), b_chunks + 1);
  EXPECT_EQ(coll_->CountDocuments().value(), 1u);
}

TEST_F(DocumentsTest, DropRemovesDocuments) {
  Put({{.id = "a", .text = LongText(8, 300)}});
  coll_.reset();
  ASSERT_OK(db_->DropCollection("kb"));
  auto again = db_->CreateCollection("kb", {}).value();
  EXPECT_EQ(again->CountDocuments().value(), 0u);
  EXPECT_EQ(again->GetDocument("a", false).status().code(), StatusCode::kNotFound);
  ASSERT_OK_AND_ASSIGN(auto infos, db_->ListCollections());
  ASSERT_EQ(infos.size(), 1u);
  EXPECT_EQ(infos[0].documents, 0u);
  auto put = again->PutDocuments({}, {}, std::vector<SourceDocument>{{.id = "a", .text = "x y"}});
  ASSERT_TRUE(put.ok()) << put.status();
  EXPECT_EQ((*put)[0].outcome, PutDocumentResult::Outcome::kAdded);
  EXPECT_EQ(db_->ListCollections().value()[0].documents, 1u);
  EXPECT_EQ(again->Describe().value().documents, 1u);
  // The dropped collection left nothing in the sources family: one record,
  // the new collection's.
  again.reset();
  db_.reset();
  ASSERT_OK_AND_ASSIGN(auto store, storage::Store::Open({}, dir_.Sub("db")));
  size_t records = 0;
  ASSERT_OK(store->Scan(storage::Cf::kSources, "", "", [&](std::string_view, std::string_view) {
    ++records;
    return true;
  }));
  EXPECT_EQ(records, 1u);
}

TEST_F(DocumentsTest, ChunkIdsAreGuardedAndErrorsWriteNothing) {
  Put({{.id = "a", .text = LongText(6, 300)}});
  const uint64_t count = coll_->Count().value();
  // Plain writes of chunk ids are refused.
  EXPECT_EQ(coll_->Upsert({}, std::vector<Document>{{.id = "a#0", .text = "x"}}).code(),
            StatusCode::kInvalidArgument);
  std::vector<Id> chunk0 = {Id("a#0")};
  EXPECT_EQ(coll_->Delete({}, chunk0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(coll_->DeleteWhere({}, R"(doc["id"] == "a")", "").status().code(),
            StatusCode::kInvalidArgument);
  // An id taken by a plain record blocks the document whose chunk it would be.
  ASSERT_OK(coll_->Add({}, std::vector<Document>{{.id = "z#0", .text = "plain"}}));
  auto taken =
      coll_->PutDocuments({}, {}, std::vector<SourceDocument>{{.id = "z", .text = "hello"}});
  EXPECT_EQ(taken.status().code(), StatusCode::kAlreadyExists) << taken.status();
  // Bad documents: nothing of the call is written.
  struct Case {
    SourceDocument doc;
    const char* needle;
  };
  std::vector<Case> cases = {
      {{.id = "", .text = "x"}, "document id"},
      {{.id = "e", .text = "   \n "}, "no words"},
      {{.id = "e", .text = std::string("bad \xff utf8")}, "UTF-8"},
      {{.id = "e", .text = "ok", .metadata = "[1]"}, "JSON object"},
      {{.id = "e", .text = "ok", .metadata = "{"}, "not valid JSON"},
      {{.id = "e", .text = "ok", .metadata = R"({"doc":1})"}, "reserved"},
      {{.id = std::string("n\0ul", 4), .text = "ok"}, "NUL"},
  };
  for (const Case& c : cases) {
    std::vector<SourceDocument> docs = {{.id = "fine", .text = "a good document"}, c.doc};
    auto r = coll_->PutDocuments({}, {}, docs);
    ASSERT_FALSE(r.ok()) << c.needle;
    EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument) << r.status();
    EXPECT_NE(r.status().message().find(c.needle), std::string::npos) << r.status();
  }
  std::vector<SourceDocument> twice = {{.id = "d", .text = "one"}, {.id = "d", .text = "two"}};
  EXPECT_EQ(coll_->PutDocuments({}, {}, twice).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(coll_->PutDocuments({}, {.chunk_tokens = 100000}, twice).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(coll_->Count().value(), count + 1);
  EXPECT_EQ(coll_->CountDocuments().value(), 1u);
  EXPECT_EQ(coll_->GetDocument("fine", false).status().code(), StatusCode::kNotFound);

  auto vec = db_->CreateCollection("vec", {.dim = 4, .encoder = ""}).value();
  EXPECT_EQ(vec->PutDocuments({}, {}, std::vector<SourceDocument>{{.id = "a", .text = "x"}})
                .status()
                .code(),
            StatusCode::kNotSupported);
  EXPECT_EQ(vec->StartIngest({}).status().code(), StatusCode::kNotSupported);
}

// Real multi-page documents every Debian system has (package base-files):
// the license texts. The answer to each query lies past the first 512 tokens.
TEST_F(DocumentsTest, DeepPassageOfARealDocumentComesBack) {
  const std::filesystem::path licenses = "/usr/share/common-licenses";
  std::vector<SourceDocument> docs;
  for (const char* name : {"GPL-3", "Apache-2.0", "LGPL-2.1", "MPL-2.0", "Artistic", "GPL-2"}) {
    std::ifstream in(licenses / name, std::ios::binary);
    if (!in) continue;
    std::stringstream ss;
    ss << in.rdbuf();
    docs.push_back(
        {.id = name, .text = ss.str(), .source = (licenses / name).string(), .title = name});
  }
  ASSERT_GE(docs.size(), 4u) << "license texts missing from " << licenses;
  auto results = Put(docs, {});
  for (const auto& r : results) EXPECT_GT(r.chunks, 4u);

  struct Probe {
    const char* doc;
    const char* query;   // words from one passage deep in the document
    const char* answer;  // text the returned passage must contain
  };
  const Probe probes[] = {
      {"GPL-3",
       "If you convey an object code work under this section in, or with, or "
       "specifically for use in, a User Product",
       "User Product"},
      {"Apache-2.0",
       "While redistributing the Work or Derivative Works thereof, You may choose "
       "to offer, and charge a fee for, acceptance of support, warranty, indemnity",
       "charge a fee for"},
      {"GPL-3",
       "Termination. You may not propagate or modify a covered work except as "
       "expressly provided under this License",
       "propagate or modify a covered work"},
  };
  for (const Probe& probe : probes) {
    bool present = false;
    for (const auto& d : docs) present = present || d.id == probe.doc;
    if (!present) continue;
    const std::string& full = std::find_if(docs.begin(), docs.end(), [&](const auto& d) {
                                return d.id == probe.doc;
                              })->text;
    const size_t at = full.find(probe.answer);
    ASSERT_NE(at, std::string::npos);
    ASSERT_GT(at, 3000u) << "the probe should lie deep in the document";
    DocumentSearchOptions o;
    o.search.k = 3;
    o.passages = 2;
    o.neighbors = 1;
    ASSERT_OK_AND_ASSIGN(auto hits, coll_->SearchDocuments(o, Query::Text(probe.query)));
    ASSERT_FALSE(hits.empty());
    EXPECT_EQ(hits[0].id, probe.doc) << probe.query;
    EXPECT_EQ(hits[0].title, probe.doc);
    ASSERT_FALSE(hits[0].passages.empty());
    const Passage& best = hits[0].passages[0];
    EXPECT_NE(best.text.find(probe.answer), std::string::npos) << best.text;
    EXPECT_EQ(best.text, full.substr(best.begin, best.end - best.begin));
    EXPECT_GT(best.begin, 1000u);
    ASSERT_EQ(best.before.size(), 1u);
    EXPECT_EQ(best.before[0].ordinal + 1, best.ordinal);
    EXPECT_EQ(best.before[0].text,
              full.substr(best.before[0].begin, best.before[0].end - best.before[0].begin));
    if (!best.after.empty()) {
      EXPECT_EQ(best.after[0].ordinal, best.ordinal + 1);
    }
    // Documents are distinct and ordered by score; passages too.
    std::set<std::string> seen;
    for (size_t i = 0; i < hits.size(); ++i) {
      EXPECT_TRUE(seen.insert(hits[i].id).second);
      if (i > 0) {
        EXPECT_LE(hits[i].score, hits[i - 1].score);
      }
      EXPECT_EQ(hits[i].score, hits[i].passages[0].score);
      for (size_t p = 1; p < hits[i].passages.size(); ++p) {
        EXPECT_LE(hits[i].passages[p].score, hits[i].passages[p - 1].score);
      }
    }
  }

  // A filter over the document fields the chunks carry.
  DocumentSearchOptions o;
  o.search.k = 5;
  o.search.filter = R"(doc["title"] != "GPL-3")";
  ASSERT_OK_AND_ASSIGN(auto hits, coll_->SearchDocuments(o, Query::Text(probes[0].query)));
  for (const auto& h : hits) EXPECT_NE(h.id, "GPL-3");

  // Pooled: every document once, scores equal the pooled vector's similarity.
  o = {};
  o.search.k = 10;
  o.pooled = true;
  o.passages = 1;
  ASSERT_OK_AND_ASSIGN(auto pooled, coll_->SearchDocuments(o, Query::Text("software license")));
  EXPECT_EQ(pooled.size(), docs.size());
  ASSERT_OK_AND_ASSIGN(auto model, TextModel::Open("hash"));
  ASSERT_OK_AND_ASSIGN(auto q, model->Embed({"software license"}));
  for (size_t i = 0; i < pooled.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(DocumentInfo info, coll_->GetDocument(pooled[i].id, true));
    double dot = 0, nq = 0, nv = 0;
    for (size_t j = 0; j < q.size(); ++j) {
      dot += double{q[j]} * info.vector[j];
      nq += double{q[j]} * q[j];
      nv += double{info.vector[j]} * info.vector[j];
    }
    EXPECT_NEAR(pooled[i].score, dot / std::sqrt(nq * nv), 1e-4);
    if (i > 0) {
      EXPECT_LE(pooled[i].score, pooled[i - 1].score);
    }
    ASSERT_EQ(pooled[i].passages.size(), 1u);
  }
  o.search.filter = R"(doc["id"] in ["GPL-3", "GPL-2"])";
  ASSERT_OK_AND_ASSIGN(pooled, coll_->SearchDocuments(o, Query::Text("software license")));
  for (const auto& h : pooled) EXPECT_TRUE(h.id == "GPL-3" || h.id == "GPL-2") << h.id;

  // Still there after reopening.
  Reopen();
  DocumentSearchOptions again;
  again.search.k = 1;
  ASSERT_OK_AND_ASSIGN(auto after, coll_->SearchDocuments(again, Query::Text(probes[0].query)));
  ASSERT_EQ(after.size(), 1u);
  EXPECT_EQ(after[0].id, probes[0].doc);

  // Bad options.
  DocumentSearchOptions bad;
  bad.passages = 0;
  EXPECT_EQ(coll_->SearchDocuments(bad, Query::Text("x")).status().code(),
            StatusCode::kInvalidArgument);
  bad = {};
  bad.neighbors = 9;
  EXPECT_EQ(coll_->SearchDocuments(bad, Query::Text("x")).status().code(),
            StatusCode::kInvalidArgument);
  bad = {};
  bad.search.group_by = "lang";
  EXPECT_EQ(coll_->SearchDocuments(bad, Query::Text("x")).status().code(),
            StatusCode::kInvalidArgument);
}

TEST_F(DocumentsTest, ScanAndRestoreRoundTrip) {
  ASSERT_OK(coll_->Add(
      {}, std::vector<Document>{{.id = 1, .text = "plain one"}, {.id = "s", .text = "plain two"}}));
  Put({{.id = "a", .text = LongText(20, 400), .title = "A", .metadata = R"({"k":1})"},
       {.id = "b", .text = LongText(21, 250), .source = "b.txt"}});
  std::vector<Id> gone = {Id(1)};
  ASSERT_OK(coll_->Delete({}, gone).status());

  // Records in write order, in batches, with vectors.
  std::vector<Document> records;
  size_t visits = 0;
  ASSERT_OK(coll_->ScanRecords({.batch = 3}, [&](std::span<const Document> batch) {
    EXPECT_LE(batch.size(), 3u);
    ++visits;
    records.insert(records.end(), batch.begin(), batch.end());
    return Status::OK();
  }));
  ASSERT_EQ(records.size(), coll_->Count().value());
  EXPECT_EQ(visits, (records.size() + 2) / 3);
  EXPECT_EQ(records[0].id, Id("s"));
  EXPECT_EQ(records[1].id, Id("a#0"));
  for (const Document& d : records) {
    ASSERT_OK_AND_ASSIGN(Document stored, coll_->Get(d.id));
    EXPECT_EQ(d.text, stored.text);
    EXPECT_EQ(d.metadata, stored.metadata);
    EXPECT_EQ(d.vector, stored.vector);
  }
  size_t seen = 0;
  Status stop = coll_->ScanRecords({.batch = 2}, [&](std::span<const Document>) {
    ++seen;
    return Status::Cancelled("enough");
  });
  EXPECT_EQ(stop.code(), StatusCode::kCancelled);
  EXPECT_EQ(seen, 1u);
  EXPECT_EQ(coll_->ScanRecords({.batch = 0}, [](auto) { return Status::OK(); }).code(),
            StatusCode::kInvalidArgument);

  std::vector<DocumentInfo> infos;
  ASSERT_OK(coll_->ScanDocuments(true, [&](const DocumentInfo& info) {
    infos.push_back(info);
    return Status::OK();
  }));
  ASSERT_EQ(infos.size(), 2u);
  EXPECT_EQ(infos[0].id, "a");
  EXPECT_EQ(infos[1].id, "b");

  // Restore into a twin: same documents, same search results.
  auto twin = db_->CreateCollection("twin", {}).value();
  std::vector<Document> plain, chunks;
  for (const Document& d : records) {
    (d.id.is_string() && d.id.as_string().find('#') != std::string::npos ? chunks : plain)
        .push_back(d);
  }
  // Bad restores write nothing.
  std::vector<Document> missing(chunks.begin() + 1, chunks.end());
  EXPECT_EQ(twin->RestoreDocuments({}, missing, infos).code(), StatusCode::kInvalidArgument);
  std::vector<Document> wrong = chunks;
  wrong[0].metadata = R"({"doc":{"id":"a"},"chunk":{"n":0,"begin":1,"end":5}})";
  EXPECT_EQ(twin->RestoreDocuments({}, wrong, infos).code(), StatusCode::kInvalidArgument);
  std::vector<DocumentInfo> bad_hash = infos;
  bad_hash[0].content_hash = "xyz";
  EXPECT_EQ(twin->RestoreDocuments({}, chunks, bad_hash).code(), StatusCode::kInvalidArgument);
  std::vector<DocumentInfo> only_a = {infos[0]};
  EXPECT_EQ(twin->RestoreDocuments({}, chunks, only_a).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(twin->Count().value(), 0u);

  ASSERT_OK(twin->Add({}, plain));
  ASSERT_OK(twin->RestoreDocuments({}, chunks, infos));
  EXPECT_EQ(twin->Count().value(), coll_->Count().value());
  EXPECT_EQ(twin->CountDocuments().value(), 2u);
  for (const DocumentInfo& info : infos) {
    ASSERT_OK_AND_ASSIGN(DocumentInfo back, twin->GetDocument(info.id, true));
    EXPECT_EQ(back.content_hash, info.content_hash);
    EXPECT_EQ(back.vector, info.vector);
    EXPECT_EQ(back.chunks.size(), info.chunks.size());
    EXPECT_EQ(back.updated_unix_ms, info.updated_unix_ms);
  }
  DocumentSearchOptions o;
  o.search.k = 2;
  o.passages = 2;
  ASSERT_OK_AND_ASSIGN(auto mine, coll_->SearchDocuments(o, Query::Text("harbor lantern")));
  ASSERT_OK_AND_ASSIGN(auto theirs, twin->SearchDocuments(o, Query::Text("harbor lantern")));
  ASSERT_EQ(mine.size(), theirs.size());
  for (size_t i = 0; i < mine.size(); ++i) {
    EXPECT_EQ(mine[i].id, theirs[i].id);
    EXPECT_EQ(mine[i].score, theirs[i].score);
  }
  // A restored document is re-ingested as unchanged (same version hash).
  auto again = twin->PutDocuments(
      {}, {.chunk_tokens = 64},
      std::vector<SourceDocument>{{.id = "b", .text = LongText(21, 250), .source = "b.txt"}});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].outcome, PutDocumentResult::Outcome::kUnchanged);
}

TEST_F(DocumentsTest, IngestPipelineMatchesPutDocumentsAndResumes) {
  std::vector<SourceDocument> docs;
  for (uint32_t i = 0; i < 40; ++i) {
    docs.push_back({.id = "d" + std::to_string(i),
                    .text = LongText(100 + i, 50 + 37 * (i % 9)),
                    .metadata = R"({"i":)" + std::to_string(i) + "}"});
  }
  docs[7].text = "";                             // no words: reported, the rest continue
  docs[11].text = std::string("bad \xfe text");  // invalid UTF-8
  IngestOptions options;
  options.chunking.chunk_tokens = 48;
  options.queue_documents = 4;  // small queues: the stages must block and resume
  options.encode_batch = 8;
  options.write_batch = 3;
  ASSERT_OK_AND_ASSIGN(auto ingest, coll_->StartIngest(options));
  for (const auto& d : docs) ASSERT_OK(ingest->Push(d));
  ingest->ReportError({"unreadable.bin", "unreadable.bin", Status::InvalidArgument("binary")});
  ASSERT_OK_AND_ASSIGN(IngestSummary summary, ingest->Finish());
  EXPECT_EQ(ingest->Push(docs[0]).code(), StatusCode::kCancelled);
  EXPECT_EQ(summary.totals.documents, 41u);
  EXPECT_EQ(summary.totals.added, 38u);
  EXPECT_EQ(summary.totals.failed, 3u);
  ASSERT_EQ(summary.errors.size(), 3u);
  std::set<std::string> failed;
  for (const auto& e : summary.errors) failed.insert(e.id);
  EXPECT_EQ(failed, (std::set<std::string>{"d7", "d11", "unreadable.bin"}));
  EXPECT_EQ(coll_->CountDocuments().value(), 38u);
  EXPECT_EQ(summary.totals.chunks, coll_->Count().value());
  EXPECT_EQ(summary.totals.chunks_encoded, summary.totals.chunks);

  // The same documents through PutDocuments give the same stored state.
  auto twin = db_->CreateCollection("twin", {}).value();
  for (const auto& d : docs) {
    if (d.id == "d7" || d.id == "d11") continue;
    ASSERT_TRUE(twin->PutDocuments({}, {.chunk_tokens = 48}, std::vector<SourceDocument>{d}).ok());
  }
  for (const auto& d : docs) {
    if (d.id == "d7" || d.id == "d11") continue;
    ASSERT_OK_AND_ASSIGN(DocumentInfo a, coll_->GetDocument(d.id, true));
    ASSERT_OK_AND_ASSIGN(DocumentInfo b, twin->GetDocument(d.id, true));
    EXPECT_EQ(a.chunks.size(), b.chunks.size());
    EXPECT_EQ(a.vector, b.vector);
    EXPECT_EQ(a.content_hash, b.content_hash);
  }

  // Ingesting again: everything unchanged, nothing embedded; one edit.
  docs[3].text += " An extra closing sentence.";
  ASSERT_OK_AND_ASSIGN(ingest, coll_->StartIngest(options));
  for (const auto& d : docs) ASSERT_OK(ingest->Push(d));
  ASSERT_OK_AND_ASSIGN(summary, ingest->Finish());
  EXPECT_EQ(summary.totals.unchanged, 37u);
  EXPECT_EQ(summary.totals.replaced, 1u);
  EXPECT_EQ(summary.totals.failed, 2u);
  EXPECT_LE(summary.totals.chunks_encoded, 2u);

  IngestOptions bad;
  bad.encode_batch = 0;
  EXPECT_EQ(coll_->StartIngest(bad).status().code(), StatusCode::kInvalidArgument);
  bad = {};
  bad.chunking.overlap_tokens = 1000;
  EXPECT_EQ(coll_->StartIngest(bad).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace flashembed
