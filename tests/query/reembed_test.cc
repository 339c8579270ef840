// Database::Reembed: every record and long document embedded again by the
// new encoder (checked against the encoder itself), writes made meanwhile
// carried over, handles kept valid, searches and writes running throughout,
// kill -9 resumed or aborted, bad input refused with the collection as it was.
#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "encoders/encoder.h"
#include "encoders/learned_encoder.h"
#include "query/database.h"
#include "storage/records.h"
#include "storage/snapshot.h"
#include "storage/store.h"
#include "tests/query/long_text.h"
#include "tests/testing/process_util.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

constexpr int kOldDim = 64;
constexpr int kNewDim = 96;

std::string RecordText(int i) {
  return "record " + std::to_string(i) + " about " + testing::LongText(1000 + i, 12);
}

std::string Meta(int i) { return "{\"i\":" + std::to_string(i) + "}"; }

SourceDocument LongDoc(int i) {
  SourceDocument d;
  d.id = "doc" + std::to_string(i);
  // Leading and trailing whitespace: bytes no chunk covers.
  d.text = "\n  " + testing::LongText(50 + i, 400) + "\n\n";
  d.title = "Title " + std::to_string(i);
  d.source = "/src/" + d.id + ".txt";
  d.metadata = "{\"lang\":\"en\"}";
  return d;
}

std::vector<float> Embed(const encoders::TextEncoder& e, const std::string& text) {
  std::vector<float> out(e.dim());
  std::string_view v = text;
  EXPECT_TRUE(e.Encode({&v, 1}, out).ok());
  return out;
}

void ExpectNear(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i) ASSERT_NEAR(a[i], b[i], 1e-5) << what << " [" << i << "]";
}

class ReembedTest : public ::testing::Test {
 protected:
  void SetUp() override {
    Open();
    CollectionSchema schema;
    schema.dim = kOldDim;
    schema.text_index = true;
    auto c = db_->CreateCollection("c", schema);
    ASSERT_TRUE(c.ok()) << c.status();
    coll_ = *c;
  }

  void Open() {
    auto db = Database::Open({}, dir_.path());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(db).value();
  }

  void Reopen() {
    coll_.reset();
    ASSERT_TRUE(db_->Close().ok());
    db_.reset();
    Open();
    auto c = db_->GetCollection("c");
    ASSERT_TRUE(c.ok()) << c.status();
    coll_ = *c;
  }

  void AddRecords(int from, int to) {
    std::vector<Document> docs;
    for (int i = from; i < to; ++i) docs.push_back({Id(int64_t{i}), RecordText(i), Meta(i), {}});
    ASSERT_TRUE(coll_->Add({}, docs).ok());
  }

  // The collection holds exactly `records` (id -> text) and `documents`, every
  // vector the new encoder's.
  void ExpectReembedded(const std::map<int64_t, std::string>& records,
                        const std::set<int>& documents) {
    auto encoder = encoders::NewTextEncoder("hash", kNewDim);
    ASSERT_TRUE(encoder.ok());
    auto info = coll_->Describe();
    ASSERT_TRUE(info.ok()) << info.status();
    EXPECT_EQ(info->encoder_spec, (*encoder)->spec());
    EXPECT_EQ(info->schema.dim, kNewDim);
    EXPECT_TRUE(info->schema.text_index);
    std::vector<Id> ids;
    for (const auto& [id, text] : records) ids.emplace_back(id);
    auto got = coll_->GetMany(ids, /*with_vector=*/true);
    ASSERT_TRUE(got.ok()) << got.status();
    ASSERT_EQ(got->size(), records.size());
    for (const Document& d : *got) {
      EXPECT_EQ(d.text, records.at(d.id.as_int()));
      ExpectNear(d.vector, Embed(**encoder, d.text), "record " + d.id.ToString());
    }
    uint64_t chunks = 0;
    for (int i : documents) {
      const SourceDocument want = LongDoc(i);
      auto doc = coll_->GetDocument(want.id, /*with_vector=*/false);
      ASSERT_TRUE(doc.ok()) << doc.status();
      EXPECT_EQ(doc->bytes, want.text.size());
      EXPECT_EQ(doc->title, want.title);
      EXPECT_EQ(doc->source, want.source);
      ASSERT_FALSE(doc->chunks.empty());
      for (const ChunkInfo& c : doc->chunks) {
        auto chunk = coll_->GetMany(std::vector<Id>{Id(want.id + "#" + std::to_string(c.ordinal))},
                                    /*with_vector=*/true);
        ASSERT_TRUE(chunk.ok() && chunk->size() == 1);
        const Document& cd = (*chunk)[0];
        // Offsets are the original text's.
        EXPECT_EQ(cd.text, want.text.substr(c.begin, c.end - c.begin));
        ExpectNear(cd.vector, Embed(**encoder, cd.text), cd.id.ToString());
      }
      chunks += doc->chunks.size();
    }
    EXPECT_EQ(coll_->CountDocuments().value(), documents.size());
    EXPECT_EQ(coll_->Count().value(), records.size() + chunks);
  }

  // Every key of the per-collection families belongs to the one live
  // collection, and no "r/" key is left.
  void ExpectOnlyLiveData() {
    coll_.reset();
    ASSERT_TRUE(db_->Close().ok());
    db_.reset();
    auto store = storage::Store::Open({}, dir_.path());
    ASSERT_TRUE(store.ok()) << store.status();
    auto record = (*store)->Get(storage::Cf::kCatalog, storage::CollectionKey("c"));
    ASSERT_TRUE(record.ok());
    const uint32_t cid = storage::DecodeCollection(*record)->cid;
    for (storage::Cf cf :
         {storage::Cf::kDocuments, storage::Cf::kVectors, storage::Cf::kIds, storage::Cf::kSources,
          storage::Cf::kPostings, storage::Cf::kSnapshots}) {
      ASSERT_TRUE((*store)
                      ->Scan(cf, "", "",
                             [&](std::string_view key, std::string_view) {
                               EXPECT_EQ(key.substr(0, 4), storage::CollectionPrefix(cid));
                               return true;
                             })
                      .ok());
    }
    EXPECT_TRUE(
        (*store)->Get(storage::Cf::kCatalog, storage::ReembedKey("c")).status().IsNotFound());
    store->reset();
    Open();
    coll_ = db_->GetCollection("c").value();
  }

  ReembedOptions NewEncoder() {
    ReembedOptions options;
    options.encoder = "hash";
    options.dim = kNewDim;
    options.batch = 16;
    options.chunking.chunk_tokens = testing::kCrashChunkTokens;
    return options;
  }

  std::map<int64_t, std::string> Expected(int from, int to) {
    std::map<int64_t, std::string> out;
    for (int i = from; i < to; ++i) out[i] = RecordText(i);
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> coll_;
};

TEST_F(ReembedTest, EmbedsRecordsAndDocumentsAgainAndSwitches) {
  AddRecords(0, 100);
  ChunkingOptions chunking;
  chunking.chunk_tokens = testing::kCrashChunkTokens;
  std::vector<SourceDocument> docs = {LongDoc(0), LongDoc(1), LongDoc(2)};
  ASSERT_TRUE(coll_->PutDocuments({}, chunking, docs).ok());
  const std::string old_hash = coll_->GetDocument("doc1", false)->content_hash;

  std::vector<ReembedProgress> seen;
  ReembedOptions options = NewEncoder();
  options.progress = [&](const ReembedProgress& p) { seen.push_back(p); };
  auto summary = db_->Reembed("c", options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_EQ(summary->records, 100u);
  EXPECT_EQ(summary->documents, 3u);
  EXPECT_EQ(summary->removed, 0u);
  EXPECT_EQ(summary->resumed, 0u);
  EXPECT_EQ(summary->rounds, 2u);  // everything, then the last (empty) round
  ASSERT_FALSE(seen.empty());
  EXPECT_EQ(seen.front().round, 1u);
  EXPECT_EQ(seen.front().records, 100u);
  EXPECT_TRUE(seen.back().switching);

  // The handle taken before the switch serves the new encoder.
  ExpectReembedded(Expected(0, 100), {0, 1, 2});
  EXPECT_EQ(coll_->GetDocument("doc1", false)->content_hash, old_hash);
  EXPECT_EQ(summary->encoder_spec, coll_->Describe()->encoder_spec);
  // Vector and BM25 search run on the new data.
  auto hits = coll_->Search({}, Query{RecordText(42), {}});
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ((*hits)[0].id, Id(int64_t{42}));
  SearchOptions text;
  text.ranking = Ranking::kText;
  auto words = coll_->Search(text, Query{"record 42", {}});
  ASSERT_TRUE(words.ok()) << words.status();
  EXPECT_FALSE(words->empty());
  // Ingesting a document again finds it unchanged under the new encoder.
  auto again = coll_->PutDocuments({}, chunking, std::vector<SourceDocument>{LongDoc(1)});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ((*again)[0].outcome, PutDocumentResult::Outcome::kUnchanged);

  Reopen();
  ExpectReembedded(Expected(0, 100), {0, 1, 2});
  auto list = db_->ListCollections();
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_EQ((*list)[0].count, coll_->Count().value());
  ExpectOnlyLiveData();
  ExpectReembedded(Expected(0, 100), {0, 1, 2});
}

// Collection::Model: the collection's encoder, embedding as the stored
// vectors were embedded; after a switch the handle lends the new one, and a
// model taken before stays usable (the old encoder).
TEST_F(ReembedTest, ModelLendsTheCurrentEncoder) {
  AddRecords(0, 3);
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const TextModel> before, coll_->Model());
  EXPECT_EQ(before->dim(), kOldDim);
  EXPECT_EQ(before->spec(), coll_->Describe()->encoder_spec);
  ASSERT_OK_AND_ASSIGN(Document stored, coll_->Get(Id(int64_t{1})));
  ASSERT_OK_AND_ASSIGN(std::vector<float> again, before->Embed({RecordText(1)}));
  EXPECT_EQ(again, stored.vector);
  ASSERT_OK_AND_ASSIGN(size_t words, before->CountTokens("three little words"));
  EXPECT_EQ(words, 3u);
  EXPECT_TRUE(before->EmbedTokenIds({{1, 2}}).status().code() == StatusCode::kNotSupported);

  ASSERT_TRUE(db_->Reembed("c", NewEncoder()).ok());
  ASSERT_OK_AND_ASSIGN(std::shared_ptr<const TextModel> after, coll_->Model());
  EXPECT_EQ(after->dim(), kNewDim);
  ASSERT_OK_AND_ASSIGN(stored, coll_->Get(Id(int64_t{1})));
  ASSERT_OK_AND_ASSIGN(again, after->Embed({RecordText(1)}));
  EXPECT_EQ(again, stored.vector);
  ASSERT_OK_AND_ASSIGN(again, before->Embed({RecordText(1)}));
  EXPECT_EQ(again.size(), static_cast<size_t>(kOldDim));

  CollectionSchema vectors_only;
  vectors_only.dim = 4;
  vectors_only.encoder = "";
  ASSERT_OK_AND_ASSIGN(auto raw, db_->CreateCollection("raw", vectors_only));
  EXPECT_TRUE(raw->Model().status().code() == StatusCode::kNotSupported);
}

TEST_F(ReembedTest, CarriesOverWritesMadeMeanwhile) {
  AddRecords(0, 200);
  ChunkingOptions chunking;
  chunking.chunk_tokens = testing::kCrashChunkTokens;
  ASSERT_TRUE(
      coll_->PutDocuments({}, chunking, std::vector<SourceDocument>{LongDoc(0), LongDoc(1)}).ok());
  std::map<int64_t, std::string> expected = Expected(0, 200);
  bool wrote = false;
  ReembedOptions options = NewEncoder();
  options.progress = [&](const ReembedProgress& p) {
    // Once, in the middle of the first round (writes from here would wait
    // for themselves in the last round).
    if (wrote || p.switching || p.round != 1 || p.records_done < 64) return;
    wrote = true;
    AddRecords(200, 260);
    for (int i = 200; i < 260; ++i) expected[i] = RecordText(i);
    // A copied record changes, one not copied yet changes, some go.
    std::vector<Document> changed = {{Id(int64_t{3}), "changed three", "{}", {}},
                                     {Id(int64_t{150}), "changed one fifty", "{}", {}}};
    ASSERT_TRUE(coll_->Upsert({}, changed).ok());
    expected[3] = "changed three";
    expected[150] = "changed one fifty";
    std::vector<Id> gone = {Id(int64_t{5}), Id(int64_t{6}), Id(int64_t{190})};
    ASSERT_EQ(coll_->Delete({}, gone).value(), 3u);
    for (const Id& id : gone) expected.erase(id.as_int());
    ASSERT_TRUE(coll_->PutDocuments({}, chunking, std::vector<SourceDocument>{LongDoc(2)}).ok());
    ASSERT_EQ(coll_->DeleteDocuments({}, std::vector<std::string>{"doc0"}).value(), 1u);
  };
  auto summary = db_->Reembed("c", options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(wrote);
  // Round 1 copied its view (records 150 and 190 and doc0 as they were); the
  // last round carried over the 60 new records, the 2 changed ones and the
  // new document, and removed 5, 6, 190 and doc0.
  EXPECT_EQ(summary->rounds, 2u);
  EXPECT_EQ(summary->records, 200u + 60u + 2u);
  EXPECT_EQ(summary->documents, 3u);
  EXPECT_EQ(summary->removed, 4u);
  ExpectReembedded(expected, {1, 2});
  // Writes after the switch use the new encoder.
  AddRecords(300, 310);
  for (int i = 300; i < 310; ++i) expected[i] = RecordText(i);
  ExpectReembedded(expected, {1, 2});
  Reopen();
  ExpectReembedded(expected, {1, 2});
}

TEST_F(ReembedTest, SearchesAndWritesRunThroughout) {
  AddRecords(0, 1500);
  std::atomic<bool> done{false};
  std::atomic<int> searches{0}, written{0};
  std::thread searcher([&] {
    while (!done) {
      auto hits = coll_->Search({}, Query{RecordText(7), {}});
      ASSERT_TRUE(hits.ok()) << hits.status();
      ASSERT_FALSE(hits->empty());
      auto one = coll_->Get(Id(int64_t{7}));
      ASSERT_TRUE(one.ok()) << one.status();
      ++searches;
    }
  });
  std::thread writer([&] {
    for (int i = 2000; !done; ++i) {
      std::vector<Document> d = {{Id(int64_t{i}), RecordText(i), Meta(i), {}}};
      ASSERT_TRUE(coll_->Add({.sync = false}, d).ok());
      written = i - 2000 + 1;
    }
  });
  auto summary = db_->Reembed("c", NewEncoder());
  done = true;
  searcher.join();
  writer.join();
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_GT(searches.load(), 0);
  std::map<int64_t, std::string> expected = Expected(0, 1500);
  for (int i = 2000; i < 2000 + written.load(); ++i) expected[i] = RecordText(i);
  ExpectReembedded(expected, {});
}

// A read that races with the switch never answers from an implementation
// whose data the switch deleted under it: document searches and reads find
// the document in every call, across several switches.
TEST_F(ReembedTest, DocumentReadsNeverComeBackEmptyAcrossSwitches) {
  ChunkingOptions chunking;
  chunking.chunk_tokens = testing::kCrashChunkTokens;
  ASSERT_TRUE(
      coll_->PutDocuments({}, chunking, std::vector<SourceDocument>{LongDoc(0), LongDoc(1)}).ok());
  const std::string query = LongDoc(1).text.substr(200, 120);
  std::atomic<bool> done{false};
  std::atomic<int> searches{0};
  std::thread searcher([&] {
    while (!done) {
      DocumentSearchOptions options;
      options.search.k = 1;
      auto hits = coll_->SearchDocuments(options, Query{query, {}});
      ASSERT_TRUE(hits.ok()) << hits.status();
      ASSERT_EQ(hits->size(), 1u) << "after " << searches.load() << " searches";
      EXPECT_EQ((*hits)[0].id, "doc1");
      auto doc = coll_->GetDocument("doc1", false);
      ASSERT_TRUE(doc.ok()) << doc.status();
      auto count = coll_->CountDocuments();
      ASSERT_TRUE(count.ok()) << count.status();
      ASSERT_EQ(*count, 2u);
      ++searches;
    }
  });
  for (int i = 0; i < 6; ++i) {
    ReembedOptions options = NewEncoder();
    options.dim = kNewDim + 8 * (i % 2);
    auto summary = db_->Reembed("c", options);
    ASSERT_TRUE(summary.ok()) << summary.status();
    EXPECT_EQ(summary->documents, 2u);
  }
  done = true;
  searcher.join();
  EXPECT_GT(searches.load(), 0);
}

TEST_F(ReembedTest, RefusesBadInputAndLeavesTheCollectionAsItWas) {
  AddRecords(0, 40);
  const std::string spec = coll_->Describe()->encoder_spec;
  ReembedOptions none;
  EXPECT_EQ(db_->Reembed("c", none).status().code(), StatusCode::kInvalidArgument);
  ReembedOptions unknown = NewEncoder();
  unknown.encoder = "nope";
  EXPECT_EQ(db_->Reembed("c", unknown).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(db_->Reembed("missing", NewEncoder()).status().code(), StatusCode::kNotFound);
  ReembedOptions bad_batch = NewEncoder();
  bad_batch.batch = 0;
  EXPECT_EQ(db_->Reembed("c", bad_batch).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(db_->AbortReembed("c").code(), StatusCode::kNotFound);

  // A record written with a vector only cannot be embedded again.
  std::vector<Document> bare = {{Id("vector-only"), "", "{}", std::vector<float>(kOldDim, 0.5f)}};
  ASSERT_TRUE(coll_->Add({}, bare).ok());
  auto refused = db_->Reembed("c", NewEncoder());
  ASSERT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(testing::Contains(refused.status(), "\"vector-only\" has no text"))
      << refused.status();
  EXPECT_EQ(coll_->Describe()->encoder_spec, spec);
  EXPECT_EQ(coll_->Count().value(), 41u);
  // No copy is left behind.
  EXPECT_EQ(db_->AbortReembed("c").code(), StatusCode::kNotFound);
  ASSERT_EQ(coll_->Delete({}, std::vector<Id>{Id("vector-only")}).value(), 1u);
  ExpectOnlyLiveData();
  ASSERT_TRUE(db_->Reembed("c", NewEncoder()).ok());
  ExpectReembedded(Expected(0, 40), {});
}

TEST_F(ReembedTest, ReadOnlyDatabaseRefuses) {
  AddRecords(0, 10);
  coll_.reset();
  ASSERT_TRUE(db_->Close().ok());
  Options ro;
  ro.read_only = true;
  auto db = Database::Open(ro, dir_.path());
  ASSERT_TRUE(db.ok()) << db.status();
  EXPECT_EQ((*db)->Reembed("c", NewEncoder()).status().code(), StatusCode::kNotSupported);
}

TEST_F(ReembedTest, DropDeletesAPendingCopy) {
  AddRecords(0, 100);
  coll_.reset();
  ASSERT_TRUE(db_->Close().ok());
  db_.reset();
  auto killed = testing::RunProgram(
      dir_.path(), {FLASHEMBED_REEMBED_CRASH_CHILD, dir_.path(), std::to_string(kNewDim), "32"});
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.err;
  Open();
  ASSERT_TRUE(db_->DropCollection("c").ok());
  // Nothing of either is left.
  ASSERT_TRUE(db_->Close().ok());
  db_.reset();
  auto store = storage::Store::Open({}, dir_.path());
  ASSERT_TRUE(store.ok());
  for (storage::Cf cf : {storage::Cf::kDocuments, storage::Cf::kVectors, storage::Cf::kIds,
                         storage::Cf::kPostings}) {
    int keys = 0;
    ASSERT_TRUE((*store)
                    ->Scan(cf, "", "",
                           [&](std::string_view, std::string_view) {
                             ++keys;
                             return true;
                           })
                    .ok());
    EXPECT_EQ(keys, 0);
  }
  EXPECT_TRUE((*store)->Get(storage::Cf::kCatalog, storage::ReembedKey("c")).status().IsNotFound());
}

// kill -9 in the first round and just before the switch: the collection is
// untouched; a second run resumes (what was copied is not embedded again),
// or the copy is aborted.
TEST_F(ReembedTest, KilledRunsResumeOrAbort) {
  AddRecords(0, 300);
  ChunkingOptions chunking;
  chunking.chunk_tokens = testing::kCrashChunkTokens;
  ASSERT_TRUE(
      coll_->PutDocuments({}, chunking, std::vector<SourceDocument>{LongDoc(0), LongDoc(1)}).ok());
  const std::string spec = coll_->Describe()->encoder_spec;
  const uint64_t count = coll_->Count().value();
  coll_.reset();
  ASSERT_TRUE(db_->Close().ok());
  db_.reset();
  auto kill_after = [&](const std::string& n) {
    auto r = testing::RunProgram(
        dir_.path(), {FLASHEMBED_REEMBED_CRASH_CHILD, dir_.path(), std::to_string(kNewDim), n});
    EXPECT_EQ(r.exit_code, 128 + SIGKILL) << r.err;
  };
  kill_after("96");
  Open();
  coll_ = db_->GetCollection("c").value();
  EXPECT_EQ(coll_->Describe()->encoder_spec, spec);
  EXPECT_EQ(coll_->Count().value(), count);
  auto hits = coll_->Search({}, Query{RecordText(9), {}});
  ASSERT_TRUE(hits.ok());
  EXPECT_EQ((*hits)[0].id, Id(int64_t{9}));
  // Other options than the interrupted run's: refused, naming the way out.
  ReembedOptions other = NewEncoder();
  other.dim = 128;
  auto refused = db_->Reembed("c", other);
  ASSERT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(testing::Contains(refused.status(), "abort")) << refused.status();
  ReembedOptions learned;
  learned.encoder = "learned";
  auto not_learned = db_->Reembed("c", learned);
  ASSERT_EQ(not_learned.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(testing::Contains(not_learned.status(), "requested learned")) << not_learned.status();
  // A write between the runs is carried over too.
  std::vector<Document> changed = {{Id(int64_t{1}), "changed one", "{}", {}}};
  ASSERT_TRUE(coll_->Upsert({}, changed).ok());
  auto resumed = db_->Reembed("c", NewEncoder());
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_GE(resumed->resumed, 95u);
  EXPECT_LE(resumed->records, 300u - 95u);
  std::map<int64_t, std::string> expected = Expected(0, 300);
  expected[1] = "changed one";
  ExpectReembedded(expected, {0, 1});

  // Killed just before the switch, then aborted: the collection keeps the
  // encoder it has; the copy is gone.
  ASSERT_TRUE(db_->Close().ok());
  coll_.reset();
  db_.reset();
  kill_after("0");
  Open();
  coll_ = db_->GetCollection("c").value();
  ExpectReembedded(expected, {0, 1});
  ASSERT_TRUE(db_->AbortReembed("c").ok());
  EXPECT_EQ(db_->AbortReembed("c").code(), StatusCode::kNotFound);
  ExpectOnlyLiveData();
  ExpectReembedded(expected, {0, 1});
}

// Encoder "learned": trained on the collection's own texts first, its model
// stored with the collection (the vectors are the stored model's, after a
// reopen too); a killed run resumes with the model it trained; too little
// text is refused with nothing left behind.
TEST_F(ReembedTest, TrainsALearnedEncoderAndStoresItsModel) {
  AddRecords(0, 300);
  ChunkingOptions chunking;
  chunking.chunk_tokens = testing::kCrashChunkTokens;
  ASSERT_TRUE(
      coll_->PutDocuments({}, chunking, std::vector<SourceDocument>{LongDoc(0), LongDoc(1)}).ok());
  ReembedOptions options;
  options.encoder = "learned";
  options.dim = 8;
  EXPECT_EQ(db_->Reembed("c", options).status().code(), StatusCode::kInvalidArgument);
  options.dim = 0;
  options.chunking.chunk_tokens = testing::kCrashChunkTokens;
  double trained = 0;
  bool saw_training = false;
  options.progress = [&](const ReembedProgress& p) {
    if (p.training) {
      saw_training = true;
      EXPECT_EQ(p.round, 0u);
      trained = p.trained;
    }
  };
  auto summary = db_->Reembed("c", options);
  ASSERT_TRUE(summary.ok()) << summary.status();
  EXPECT_TRUE(saw_training);
  EXPECT_EQ(trained, 1.0);
  EXPECT_EQ(summary->records, 300u);
  EXPECT_EQ(summary->documents, 2u);
  EXPECT_EQ(summary->encoder_spec.rfind("learned/v1;id=", 0), 0u) << summary->encoder_spec;
  auto info = coll_->Describe();
  ASSERT_TRUE(info.ok());
  EXPECT_EQ(info->encoder_spec, summary->encoder_spec);
  EXPECT_EQ(info->schema.encoder, "learned");

  // The stored model is the collection's encoder: its vectors are the
  // stored model's, and survive a reopen.
  auto check = [&] {
    coll_.reset();
    ASSERT_TRUE(db_->Close().ok());
    db_.reset();
    std::unique_ptr<encoders::LearnedEncoder> model;
    {
      auto store = storage::Store::Open({}, dir_.path());
      ASSERT_TRUE(store.ok()) << store.status();
      auto record = (*store)->Get(storage::Cf::kCatalog, storage::CollectionKey("c"));
      ASSERT_TRUE(record.ok());
      auto bytes = storage::ReadEncoderModel(**store, storage::DecodeCollection(*record)->cid);
      ASSERT_TRUE(bytes.ok()) << bytes.status();
      auto loaded = encoders::LearnedEncoder::Load(*bytes);
      ASSERT_TRUE(loaded.ok()) << loaded.status();
      model = std::move(loaded).value();
    }
    Open();
    coll_ = db_->GetCollection("c").value();
    EXPECT_EQ(model->spec(), summary->encoder_spec);
    std::vector<Id> ids = {Id(int64_t{0}), Id(int64_t{123}), Id("doc1#2")};
    auto got = coll_->GetMany(ids, /*with_vector=*/true);
    ASSERT_TRUE(got.ok() && got->size() == 3);
    for (const Document& d : *got) ExpectNear(d.vector, Embed(*model, d.text), d.id.ToString());
    auto hits = coll_->Search({}, Query{RecordText(123), {}});
    ASSERT_TRUE(hits.ok()) << hits.status();
    EXPECT_EQ((*hits)[0].id, Id(int64_t{123}));
  };
  check();
  ExpectOnlyLiveData();

  // Killed after training: the run resumes with the model it trained.
  coll_.reset();
  ASSERT_TRUE(db_->Close().ok());
  db_.reset();
  auto killed = testing::RunProgram(dir_.path(),
                                    {FLASHEMBED_REEMBED_CRASH_CHILD, dir_.path(), "learned", "32"});
  ASSERT_EQ(killed.exit_code, 128 + SIGKILL) << killed.err;
  Open();
  coll_ = db_->GetCollection("c").value();
  EXPECT_EQ(coll_->Describe()->encoder_spec, summary->encoder_spec);
  options.progress = [&](const ReembedProgress& p) { EXPECT_FALSE(p.training); };
  auto resumed = db_->Reembed("c", options);
  ASSERT_TRUE(resumed.ok()) << resumed.status();
  EXPECT_GE(resumed->resumed, 32u);
  EXPECT_NE(resumed->encoder_spec, summary->encoder_spec);  // another training
  summary = resumed;
  check();
  ExpectOnlyLiveData();
}

TEST_F(ReembedTest, LearnedNeedsEnoughText) {
  AddRecords(0, 3);
  ReembedOptions options;
  options.encoder = "learned";
  auto refused = db_->Reembed("c", options);
  ASSERT_EQ(refused.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(testing::Contains(refused.status(), "not enough text")) << refused.status();
  EXPECT_EQ(db_->AbortReembed("c").code(), StatusCode::kNotFound);
  EXPECT_EQ(coll_->Describe()->schema.dim, kOldDim);
  // A collection cannot be created with it: there is no text to train on yet.
  CollectionSchema schema;
  schema.encoder = "learned";
  auto created = db_->CreateCollection("l", schema);
  ASSERT_EQ(created.status().code(), StatusCode::kInvalidArgument);
  EXPECT_TRUE(testing::Contains(created.status(), "reembed --encoder learned")) << created.status();
}

}  // namespace
}  // namespace flashembed
