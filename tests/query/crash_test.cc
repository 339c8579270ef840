// A child process (crash_child.cc) ingests and is killed with SIGKILL at a random moment; the
// parent reopens the folder and checks that every acknowledged write is there
// and nothing half-written is.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <random>
#include <set>
#include <thread>

#include "query/database.h"
#include "tests/testing/process_util.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

constexpr int kBatch = 20;  // as in crash_child.cc

TEST(Crash, KillDuringIngestLosesNothingAcknowledged) {
  for (int round = 0; round < 3; ++round) {
    TempDir dir;
    const std::string path = dir.Sub("db");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = testing::StartWithPipe(FLASHEMBED_CRASH_CHILD,
                                         {"crash_child", path, std::to_string(fds[1])}, fds);
    ASSERT_GE(child, 0);
    FILE* in = fdopen(fds[0], "r");
    ASSERT_NE(in, nullptr);
    std::set<int64_t> acked_batches, acked_deletes;
    auto read_one = [&] {
      char kind;
      long long id;
      if (fscanf(in, " %c %lld", &kind, &id) != 2) return false;
      (kind == 'A' ? acked_batches : acked_deletes).insert(id);
      return true;
    };
    // Wait until the child has acknowledged a few batches (however slow the
    // machine, e.g. under a sanitizer), let it run a different while each
    // round, then kill -9 it mid-ingest.
    while (acked_batches.size() < 3 && read_one()) {
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50 + 200 * round));
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with code " << WEXITSTATUS(status);
    while (read_one()) {
    }
    fclose(in);
    ASSERT_GT(acked_batches.size(), 2u) << "the child did too little before the kill";

    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({}, path));
    ASSERT_OK_AND_ASSIGN(auto text, db->GetCollection("text"));
    ASSERT_OK_AND_ASSIGN(auto vec, db->GetCollection("vec"));
    uint64_t expected_live = 0;
    int64_t last = *acked_batches.rbegin();
    // Every acknowledged batch is complete; the one in flight is all or nothing.
    for (int64_t first = 0; first <= last + kBatch; first += kBatch) {
      Collection& c = (first / kBatch) % 2 ? *vec : *text;
      int present = 0;
      for (int64_t id = first; id < first + kBatch; ++id) {
        auto got = c.Get(id);
        if (!got.ok()) {
          ASSERT_TRUE(got.status().IsNotFound()) << got.status();
          continue;
        }
        ++present;
        // The stored vector finds its document by exact scan and through the
        // recovered HNSW index.
        ASSERT_OK_AND_ASSIGN(
            auto exact, c.Search({.k = 1, .mode = SearchMode::kExact}, Query::Vector(got->vector)));
        ASSERT_FALSE(exact.empty());
        EXPECT_EQ(exact[0].id, Id(id));
        ASSERT_OK_AND_ASSIGN(auto hits,
                             c.Search({.k = 1, .ef_search = 400, .mode = SearchMode::kApproximate},
                                      Query::Vector(got->vector)));
        ASSERT_FALSE(hits.empty());
        EXPECT_EQ(hits[0].id, Id(id))
            << "index and documents disagree after the crash: got \"" << hits[0].text
            << "\" (score " << hits[0].score << ") for \"" << got->text << "\"";
      }
      bool acked = acked_batches.count(first) != 0;
      int deleted = acked_deletes.count(first) ? 1 : 0;
      if (acked) {
        // Its first id may be deleted (acknowledged or in flight).
        EXPECT_GE(present, kBatch - 1) << "acknowledged batch " << first << " lost documents";
        EXPECT_LE(present, kBatch - deleted) << "acknowledged delete of " << first << " undone";
      } else {
        EXPECT_TRUE(present == 0 || present == kBatch) << "half a batch at " << first;
      }
      expected_live += present;
    }
    ASSERT_OK_AND_ASSIGN(uint64_t nt, text->Count());
    ASSERT_OK_AND_ASSIGN(uint64_t nv, vec->Count());
    EXPECT_EQ(nt + nv, expected_live);
    // The reopened database takes writes again.
    std::vector<Document> more = {{.id = -1, .text = "after the crash"}};
    ASSERT_OK(text->Add({}, more));
  }
}

}  // namespace
}  // namespace flashembed
