// A database opened read-only beside a writer (Options::read_only while
// another Database holds the folder; RocksDB's secondary instance): reads
// catch up with the writer within a bounded delay, see whole batches only
// (always a prefix of the acknowledged writes), follow collections the
// writer creates, drops and changes, and keep working while it writes.
// tests/server/shared_folder_test.cc does the same across real processes,
// with the writer killed by SIGKILL.
#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "query/database.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;
constexpr int kBatch = 50;

std::vector<Document> Batch(int b) {
  std::vector<Document> docs;
  for (int i = b * kBatch; i < (b + 1) * kBatch; ++i) {
    docs.push_back({.id = i,
                    .text = "record " + std::to_string(i) + " of batch " + std::to_string(b) +
                            " about topic " + std::to_string(i % 7)});
  }
  return docs;
}

// Waits up to `ms` for pred().
template <typename Pred>
bool Eventually(Pred pred, int ms = 5000) {
  const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  while (!pred()) {
    if (std::chrono::steady_clock::now() > until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return true;
}

TEST(BesideWriter, ReaderCatchesUpWithCreatesWritesAndDrops) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  ASSERT_OK_AND_ASSIGN(auto writer, Database::Open({}, path));
  ASSERT_OK_AND_ASSIGN(auto notes, writer->CreateCollection("notes", {.text_index = true}));
  ASSERT_OK(notes->Add({}, Batch(0)));

  Options reading;
  reading.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto reader, Database::Open(reading, path));
  EXPECT_TRUE(reader->read_only());
  ASSERT_OK_AND_ASSIGN(auto seen, reader->GetCollection("notes"));
  EXPECT_EQ(seen->Count().value(), static_cast<uint64_t>(kBatch));

  // Later writes show within the catch-up interval (100 ms), in the index
  // (search), the records (get) and the text index (BM25).
  ASSERT_OK(notes->Add({}, Batch(1)));
  const auto acked = std::chrono::steady_clock::now();
  ASSERT_TRUE(Eventually([&] { return seen->Count().value() == 2u * kBatch; }));
  const double delay =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - acked).count();
  EXPECT_LT(delay, 2.0);
  EXPECT_EQ(seen->Get(kBatch + 3).value().text, Batch(1)[3].text);
  auto hits = seen->Search({.k = 1, .mode = SearchMode::kExact}, Query::Text(Batch(1)[7].text));
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(hits->front().id, Id(kBatch + 7));
  hits = seen->Search({.k = 1, .ranking = Ranking::kText}, Query::Text("record 63"));
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(hits->front().id, Id(63));

  // Deletes and a collection created after the reader opened.
  const std::vector<Id> gone = {0, 1, 2};
  ASSERT_OK(notes->Delete({}, gone).status());
  ASSERT_OK_AND_ASSIGN(auto later, writer->CreateCollection("later", {}));
  ASSERT_OK(later->Add({}, Batch(0)));
  ASSERT_TRUE(Eventually([&] { return seen->Count().value() == 2u * kBatch - 3; }));
  EXPECT_TRUE(seen->Get(1).status().IsNotFound());
  ASSERT_TRUE(Eventually([&] { return reader->ListCollections().value().size() == 2; }));
  ASSERT_OK_AND_ASSIGN(auto later_seen, reader->GetCollection("later"));
  EXPECT_EQ(later_seen->Count().value(), static_cast<uint64_t>(kBatch));

  // Long documents.
  const std::vector<SourceDocument> guide = {
      {.id = "guide", .text = "To reset the device, hold the button for ten seconds."}};
  ASSERT_OK(notes->PutDocuments({}, {}, guide).status());
  ASSERT_TRUE(Eventually([&] { return seen->CountDocuments().value() == 1u; }));
  EXPECT_EQ(seen->GetDocument("guide", false).value().chunks.size(), 1u);

  // The writer snapshots its index past what the reader applied (its log
  // is trimmed): the reader loads the collection again.
  ASSERT_OK(notes->Add({}, Batch(2)));
  ASSERT_OK(notes->Snapshot());
  ASSERT_EQ(notes->Count().value(), 3u * kBatch - 3 + 1);  // the guide's chunk too
  ASSERT_TRUE(Eventually([&] { return seen->Count().value() == 3u * kBatch - 3 + 1; }))
      << seen->Count().value();
  hits = seen->Search({.k = 1, .mode = SearchMode::kApproximate}, Query::Text(Batch(2)[4].text));
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ(hits->front().id, Id(2 * kBatch + 4));

  // Dropped and created again under the same name: the reader's handle
  // follows to the new collection.
  ASSERT_OK(writer->DropCollection("later"));
  ASSERT_OK_AND_ASSIGN(later, writer->CreateCollection("later", {}));
  ASSERT_OK(later->Add({}, Batch(3)));
  ASSERT_TRUE(Eventually([&] { return later_seen->Get(3 * kBatch).ok(); }));
  EXPECT_TRUE(later_seen->Get(0).status().IsNotFound());

  // A drop: the reader's handle then answers NotFound, as the writer's.
  ASSERT_OK(writer->DropCollection("later"));
  ASSERT_TRUE(Eventually([&] { return later_seen->Count().status().IsNotFound(); }))
      << later_seen->Count().status();
  EXPECT_TRUE(reader->GetCollection("later").status().IsNotFound());
  // Writes through the reader are still refused.
  EXPECT_EQ(seen->Add({}, Batch(9)).code(), StatusCode::kNotSupported);
  EXPECT_OK(reader->Close());
  EXPECT_OK(writer->Close());
}

// Readers on several threads while the writer adds batches: every count a
// whole number of batches, never below what was acknowledged before the
// read began by more than the catch-up delay allows, and never going back.
TEST(BesideWriter, ConcurrentReadersSeeWholeBatchesOnly) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  ASSERT_OK_AND_ASSIGN(auto writer, Database::Open({}, path));
  ASSERT_OK_AND_ASSIGN(auto coll, writer->CreateCollection("c", {}));
  ASSERT_OK(coll->Add({}, Batch(0)));
  Options reading;
  reading.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto reader, Database::Open(reading, path));
  ASSERT_OK_AND_ASSIGN(auto seen, reader->GetCollection("c"));

  constexpr int kBatches = 40;
  std::atomic<int> acked{1};
  std::atomic<bool> failed{false};
  std::thread write([&] {
    for (int b = 1; b < kBatches; ++b) {
      if (!coll->Add({.sync = false}, Batch(b)).ok()) failed = true;
      acked = b + 1;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  std::vector<std::thread> readers;
  std::atomic<int> checks{0};
  for (int t = 0; t < 3; ++t) {
    readers.emplace_back([&] {
      uint64_t last = 0;
      const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
      while (acked.load() < kBatches || last < static_cast<uint64_t>(kBatches) * kBatch) {
        if (std::chrono::steady_clock::now() > deadline) {
          failed = true;  // never caught up with the last batch
          return;
        }
        auto n = seen->Count();
        if (!n.ok() || *n % kBatch != 0 || *n < last) {
          failed = true;
          return;
        }
        last = *n;
        // The records of the last batch counted are all there.
        const int batches = static_cast<int>(*n / kBatch);
        std::vector<Id> ids;
        for (int i = (batches - 1) * kBatch; i < batches * kBatch; ++i) ids.push_back(i);
        auto got = seen->GetMany(ids, false);
        if (!got.ok() || got->size() < ids.size()) {
          failed = true;
          return;
        }
        auto hits = seen->Search({.k = 5}, Query::Text("about topic 3"));
        if (!hits.ok()) {
          failed = true;
          return;
        }
        ++checks;
      }
    });
  }
  write.join();
  for (auto& r : readers) r.join();
  EXPECT_FALSE(failed.load());
  EXPECT_GT(checks.load(), 10);
  EXPECT_EQ(seen->Count().value(), static_cast<uint64_t>(kBatches) * kBatch);
}

}  // namespace
}  // namespace flashembed
