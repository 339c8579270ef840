// The database's upkeep over HTTP: POST /api/v1/backup (into the folder
// serve was given with --backup-dir, refused without one), POST
// /api/v1/compact, GET /api/v1/stats and the disk gauges of /metrics.
#include <filesystem>

#include "query/database.h"
#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

class MaintenanceTest : public ServerTest {
 protected:
  void AddNotes() {
    ASSERT_EQ(Post("/api/v1/collections", {{"name", "notes"}}).status, 201);
    json docs = json::array();
    for (int i = 0; i < 50; ++i) {
      docs.push_back({{"id", i}, {"text", "note number " + std::to_string(i)}});
    }
    ASSERT_EQ(Post("/api/v1/collections/notes/documents", {{"documents", docs}}).status, 200);
  }
};

TEST_F(MaintenanceTest, BackupsGoIntoTheBackupFolderOnly) {
  Start();
  AddNotes();
  // Without --backup-dir: refused.
  Reply r = Post("/api/v1/backup", {{"name", "b1"}});
  EXPECT_EQ(r.status, 403) << r.body;
  EXPECT_NE(r.body.find("--backup-dir"), std::string::npos) << r.body;

  StopAndClose();
  std::filesystem::create_directories(dir_.Sub("backups"));
  options.backup_dir = dir_.Sub("backups");
  Start();
  r = Post("/api/v1/backup", {{"name", "nightly-1"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Json()["path"], dir_.Sub("backups") + "/nightly-1");
  EXPECT_EQ(Post("/api/v1/backup", {{"name", "nightly-1"}}).status, 409);
  for (const json& bad : {json("../escape"), json(""), json(".."), json("a/b"), json(7)}) {
    Reply refused = Post("/api/v1/backup", {{"name", bad}});
    EXPECT_EQ(refused.status, 400) << bad << ": " << refused.body;
  }
  EXPECT_EQ(Post("/api/v1/backup", {{"name", "x"}, {"path", "/tmp"}}).status, 400);
  EXPECT_FALSE(std::filesystem::exists(dir_.Sub("escape")));

  // Written after the backup: not in it.
  ASSERT_EQ(Post("/api/v1/collections/notes/documents",
                 {{"documents", {{{"id", 100}, {"text", "later"}}}}})
                .status,
            200);
  auto copy = Database::Open({}, dir_.Sub("backups") + "/nightly-1");
  ASSERT_TRUE(copy.ok()) << copy.status();
  auto notes = (*copy)->GetCollection("notes");
  ASSERT_TRUE(notes.ok()) << notes.status();
  EXPECT_EQ((*notes)->Count().value(), 50u);
  EXPECT_TRUE((*notes)->Get(Id(int64_t{100})).status().IsNotFound());
  auto hits = (*notes)->Search({}, Query::Text("note number 7"));
  ASSERT_TRUE(hits.ok()) << hits.status();
  EXPECT_EQ((*hits)[0].id, Id(int64_t{7}));
}

TEST_F(MaintenanceTest, CompactStatsAndMetricsReportDiskUse) {
  Start();
  AddNotes();
  Reply stats = Call("GET", "/api/v1/stats");
  ASSERT_EQ(stats.status, 200) << stats.body;
  const json s = stats.Json();
  EXPECT_GT(s["disk_bytes"].get<uint64_t>(), 0u);
  ASSERT_EQ(s["collections"].size(), 1u);
  EXPECT_EQ(s["collections"][0]["name"], "notes");
  EXPECT_EQ(s["collections"][0]["count"], 50);
  EXPECT_GT(s["collections"][0]["disk_bytes"].get<uint64_t>(), 0u);
  Reply described = Call("GET", "/api/v1/collections/notes");
  ASSERT_EQ(described.status, 200);
  EXPECT_TRUE(described.Json()["disk_bytes"].is_number_unsigned()) << described.body;

  json doomed = json::array();
  for (int i = 5; i < 50; ++i) doomed.push_back(i);
  ASSERT_EQ(Post("/api/v1/collections/notes/delete", {{"ids", doomed}}).status, 200);
  Reply compacted = Post("/api/v1/compact", json::object());
  ASSERT_EQ(compacted.status, 200) << compacted.body;
  EXPECT_GT(compacted.Json()["bytes_before"].get<uint64_t>(), 0u);
  EXPECT_GT(compacted.Json()["bytes_after"].get<uint64_t>(), 0u);

  Reply metrics = Call("GET", "/metrics");
  ASSERT_EQ(metrics.status, 200);
  EXPECT_NE(metrics.body.find("flashembed_collection_disk_bytes{collection=\"notes\"} "),
            std::string::npos)
      << metrics.body;
  EXPECT_NE(metrics.body.find("\nflashembed_disk_bytes "), std::string::npos);
}

TEST_F(MaintenanceTest, ABackupFolderThatDoesNotExistIsRefusedAtStart) {
  options.backup_dir = dir_.Sub("missing");
  auto db = Database::Open({}, dir_.Sub("db2"));
  ASSERT_TRUE(db.ok());
  auto server = Server::Start(options, db->get());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("missing"), std::string::npos) << server.status();
}

}  // namespace
}  // namespace flashembed::server::testing
