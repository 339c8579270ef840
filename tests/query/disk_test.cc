// The database on full and read-only filesystems (a private tmpfs, see
// tests/testing/small_fs.h), and Options::read_only.
#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include <map>
#include <string>

#include "query/database.h"
#include "tests/testing/small_fs.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::Contains;
using testing::Listing;
using testing::SmallFs;
using testing::TempDir;

constexpr size_t kFsBytes = 8 << 20;

std::vector<Document> SmallDocs() {
  return {
      {.id = 1,
       .text = "The Moon orbits the Earth every 27 days",
       .metadata = R"({"topic":"astro"})"},
      {.id = 2, .text = "Sourdough bread rises with wild yeast", .metadata = R"({"topic":"food"})"},
      {.id = 3, .text = "Python lists grow dynamically when you append"},
      {.id = 4, .text = "Black holes bend light around them", .metadata = R"({"topic":"astro"})"},
  };
}

// Documents too big for the space a full disk has left in partly used pages.
std::vector<Document> BigDocs(int first) {
  std::vector<Document> docs;
  for (int i = 0; i < 4; ++i) {
    docs.push_back({.id = first + i,
                    .text = "big document " + std::to_string(first + i) + " " +
                            std::string(100000, 'a' + static_cast<char>(i))});
  }
  return docs;
}

Status HealthWithin(Database& db, int seconds) {
  return testing::OkWithin([&] { return db.StorageHealth(); }, seconds);
}

std::string TopHit(Collection& c, const std::string& text) {
  auto hits = c.Search({.k = 1}, Query::Text(text));
  if (!hits.ok()) return "error: " + hits.status().ToString();
  return hits->empty() ? "none" : hits->front().id.ToString();
}

TEST(DatabaseFullDisk, FailedAddChangesNothingAndWritesResumeOnceSpaceIsFreed) {
  SmallFs fs(kFsBytes);
  if (!fs.ok()) GTEST_SKIP() << fs.error();
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, fs.Sub("db")));
  ASSERT_OK_AND_ASSIGN(auto notes, db->CreateCollection("notes", {.text_index = true}));
  ASSERT_OK(notes->Add({}, SmallDocs()));
  ASSERT_OK(db->StorageHealth());

  ASSERT_TRUE(fs.Fill());
  Status full = notes->Add({}, BigDocs(100));
  ASSERT_EQ(full.code(), StatusCode::kIOError) << full;
  EXPECT_TRUE(Contains(full, "no space left on device")) << full;
  // Nothing of the failed batch is visible; the rest reads as before.
  EXPECT_EQ(notes->Count().value(), 4u);
  EXPECT_TRUE(notes->Get(100).status().IsNotFound());
  EXPECT_EQ(TopHit(*notes, "lunar orbit moon"), "1");
  const std::vector<Document> replaced = {
      {.id = 1, .text = "replaced " + std::string(300000, 'r')}};
  Status upsert = notes->Upsert({}, replaced);
  EXPECT_TRUE(Contains(upsert, "no space left on device")) << upsert;
  EXPECT_EQ(notes->Get(1).value().text, SmallDocs()[0].text);
  Status health = db->StorageHealth();
  EXPECT_EQ(health.code(), StatusCode::kIOError);
  EXPECT_TRUE(Contains(health, "no space left on device")) << health;

  fs.Free();
  ASSERT_OK(HealthWithin(*db, 15));
  ASSERT_OK(notes->Add({}, BigDocs(100)));
  EXPECT_EQ(notes->Count().value(), 8u);
  ASSERT_OK(db->Close());
  db.reset();
  notes.reset();

  ASSERT_OK_AND_ASSIGN(db, Database::Open({}, fs.Sub("db")));
  ASSERT_OK_AND_ASSIGN(notes, db->GetCollection("notes"));
  EXPECT_EQ(notes->Count().value(), 8u);
  EXPECT_EQ(notes->Get(1).value().text, SmallDocs()[0].text);
  EXPECT_EQ(notes->Get(103).value().text.substr(0, 16), "big document 103");
}

// Closing wants to write index snapshots; on a full disk that fails with a
// clear error (it aborted the process in RocksDB's info log), and opening
// again on the still-full disk works for reading.
TEST(DatabaseFullDisk, ClosesWithAnErrorAndReopensForReadingOnTheFullDisk) {
  SmallFs fs(kFsBytes);
  if (!fs.ok()) GTEST_SKIP() << fs.error();
  Options options;
  options.snapshot_every_ops = 0;  // the snapshot is left for the close
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(options, fs.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto notes, db->CreateCollection("notes", {}));
    ASSERT_OK(notes->Add({}, SmallDocs()));
    ASSERT_TRUE(fs.Fill());
    EXPECT_FALSE(notes->Add({}, BigDocs(100)).ok());
    Status closed = db->Close();
    EXPECT_EQ(closed.code(), StatusCode::kIOError) << closed;
    EXPECT_TRUE(Contains(closed, "no space left on device")) << closed;
  }
  for (int attempt = 0; attempt < 3; ++attempt) {
    {
      // A writable open may or may not find the space it needs.
      auto writable = Database::Open(options, fs.Sub("db"));
      if (!writable.ok()) {
        EXPECT_TRUE(Contains(writable.status(), "no space left on device")) << writable.status();
      }
    }
    Options reading = options;
    reading.read_only_if_unwritable = true;
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open(reading, fs.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto notes, db->GetCollection("notes"));
    EXPECT_EQ(notes->Count().value(), 4u);
    EXPECT_EQ(TopHit(*notes, "sourdough yeast"), "2");
    if (db->read_only()) {
      EXPECT_EQ(notes->Add({}, BigDocs(100)).code(), StatusCode::kNotSupported);
      EXPECT_OK(db->Close());
    }
  }
  fs.Free();
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(options, fs.Sub("db")));
  EXPECT_FALSE(db->read_only());
  ASSERT_OK_AND_ASSIGN(auto notes, db->GetCollection("notes"));
  ASSERT_OK(notes->Add({}, BigDocs(100)));
  EXPECT_EQ(notes->Count().value(), 8u);
  EXPECT_OK(db->Close());
}

void ExpectReadOnly(const Status& s, const std::string& what) {
  EXPECT_EQ(s.code(), StatusCode::kNotSupported) << what << ": " << s;
  EXPECT_TRUE(Contains(s, "read-only")) << what << ": " << s;
}

// A read-only open beside the writer that holds the folder: the index is
// the stored snapshot plus the writes logged since, replayed in memory and
// never written back; every write is refused; no file changes.
TEST(DatabaseReadOnly, LoadsTheIndexInMemoryAndRefusesEveryWrite) {
  TempDir dir;
  const std::string path = dir.Sub("db");
  Options options;
  options.snapshot_every_ops = 0;
  ASSERT_OK_AND_ASSIGN(auto writer, Database::Open(options, path));
  ASSERT_OK_AND_ASSIGN(auto notes, writer->CreateCollection("notes", {}));
  std::vector<Document> docs = SmallDocs();
  ASSERT_OK(notes->Add({}, std::span<const Document>(docs).first(2)));
  ASSERT_OK(notes->Snapshot());
  ASSERT_OK(notes->Add({}, std::span<const Document>(docs).subspan(2)));  // only in the log
  const std::vector<SourceDocument> guide = {{.id = "guide", .text = "How to reset the device."}};
  ASSERT_OK(notes->PutDocuments({}, {}, guide).status());
  // The writer's background compactions (of the ranges its snapshot
  // replaced) settle first: the listing must stand still for 300 ms.
  auto before = Listing(path);
  for (int i = 0; i < 100; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300));
    auto now = Listing(path);
    if (now == before) break;
    before = std::move(now);
  }

  Options read_only = options;
  read_only.read_only = true;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(read_only, path));
  EXPECT_TRUE(db->read_only());
  ExpectReadOnly(db->StorageHealth(), "StorageHealth");
  ASSERT_OK_AND_ASSIGN(auto c, db->GetCollection("notes"));
  EXPECT_EQ(c->Count().value(), 5u);
  auto hits =
      c->Search({.k = 1, .mode = SearchMode::kApproximate}, Query::Text("black holes light"));
  ASSERT_TRUE(hits.ok()) << hits.status();
  ASSERT_EQ(hits->size(), 1u);
  EXPECT_EQ(hits->front().id, Id(4));
  EXPECT_EQ(c->GetDocument("guide", false).value().id, "guide");
  EXPECT_EQ(db->ListCollections().value().size(), 1u);

  const std::vector<Id> ids = {1};
  const std::vector<Document> added = {{.id = 9, .text = "new"}};
  const std::vector<Document> changed = {{.id = 1, .text = "changed"}};
  const std::vector<SourceDocument> sources = {{.id = "d", .text = "text"}};
  const std::vector<std::string> source_ids = {"guide"};
  ExpectReadOnly(c->Add({}, added), "Add");
  ExpectReadOnly(c->Upsert({}, changed), "Upsert");
  ExpectReadOnly(c->Delete({}, ids).status(), "Delete");
  ExpectReadOnly(c->DeleteWhere({}, "id >= 0", "").status(), "DeleteWhere");
  ExpectReadOnly(c->PutDocuments({}, {}, sources).status(), "PutDocuments");
  ExpectReadOnly(c->DeleteDocuments({}, source_ids).status(), "DeleteDocuments");
  ExpectReadOnly(c->StartIngest({}).status(), "StartIngest");
  ExpectReadOnly(c->Snapshot(), "Snapshot");
  ExpectReadOnly(db->CreateCollection("other", {}).status(), "CreateCollection");
  ExpectReadOnly(db->GetOrCreateCollection("other", {}).status(), "GetOrCreateCollection");
  ExpectReadOnly(db->DropCollection("notes"), "DropCollection");
  EXPECT_EQ(c->Get(1).value().text, docs[0].text);
  EXPECT_OK(db->Close());
  db.reset();
  // The same files, unchanged; RocksDB's info LOG only by name: it is the
  // open writer's, whose background jobs may still be appending to it.
  auto without_log_size = [](std::map<std::string, std::pair<uintmax_t, int64_t>> files) {
    if (auto log = files.find("LOG"); log != files.end()) log->second = {};
    return files;
  };
  EXPECT_EQ(without_log_size(Listing(path)), without_log_size(before));
  EXPECT_EQ(notes->Count().value(), 5u);
}

TEST(DatabaseReadOnly, OpensOnAReadOnlyFilesystem) {
  SmallFs fs(kFsBytes);
  if (!fs.ok()) GTEST_SKIP() << fs.error();
  {
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, fs.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto notes, db->CreateCollection("notes", {}));
    ASSERT_OK(notes->Add({}, SmallDocs()));
  }
  ASSERT_TRUE(fs.SetReadOnly(true));
  auto writable = Database::Open({}, fs.Sub("db"));
  ASSERT_FALSE(writable.ok());
  EXPECT_TRUE(Contains(writable.status(), "read-only filesystem")) << writable.status();

  Options reading;
  reading.read_only_if_unwritable = true;
  ASSERT_OK_AND_ASSIGN(auto db, Database::Open(reading, fs.Sub("db")));
  EXPECT_TRUE(db->read_only());
  EXPECT_TRUE(Contains(db->StorageHealth(), "filesystem is read-only")) << db->StorageHealth();
  ASSERT_OK_AND_ASSIGN(auto notes, db->GetCollection("notes"));
  EXPECT_EQ(TopHit(*notes, "lunar orbit moon"), "1");
  const std::vector<Document> added = {{.id = 9, .text = "new"}};
  ExpectReadOnly(notes->Add({}, added), "Add");
  EXPECT_OK(db->Close());
}

}  // namespace
}  // namespace flashembed
