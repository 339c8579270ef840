// kill -9 during a pipelined ingest (ingest_crash_child.cc), then reopen:
// every stored document is whole (its record and exactly its chunks, with
// matching offsets), no chunk is orphaned, and ingesting the same documents
// again resumes — documents finished before the kill come back unchanged,
// nothing is duplicated or lost.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "query/database.h"
#include "tests/query/long_text.h"
#include "tests/testing/process_util.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

constexpr int kDocs = 60;

// Checks that the collection holds whole documents only; returns their ids.
std::set<std::string> CheckWhole(Collection& coll) {
  std::set<std::string> ids;
  uint64_t chunks = 0;
  for (int i = 0; i < kDocs; ++i) {
    const SourceDocument want = testing::CrashDocument(i);
    auto info = coll.GetDocument(want.id, false);
    if (!info.ok()) {
      EXPECT_EQ(info.status().code(), StatusCode::kNotFound) << info.status();
      continue;
    }
    ids.insert(want.id);
    chunks += info->chunks.size();
    std::vector<Id> chunk_ids;
    for (size_t c = 0; c < info->chunks.size(); ++c) {
      chunk_ids.emplace_back(want.id + "#" + std::to_string(c));
    }
    auto stored = coll.GetMany(chunk_ids, false);
    EXPECT_TRUE(stored.ok()) << stored.status();
    if (!stored.ok()) continue;
    EXPECT_EQ(stored->size(), info->chunks.size()) << want.id;
    for (size_t c = 0; c < stored->size() && c < info->chunks.size(); ++c) {
      const ChunkInfo& ci = info->chunks[c];
      EXPECT_EQ((*stored)[c].text, want.text.substr(ci.begin, ci.end - ci.begin));
    }
    // No chunk past the last one.
    EXPECT_EQ(coll.Get(Id(want.id + "#" + std::to_string(info->chunks.size()))).status().code(),
              StatusCode::kNotFound);
  }
  EXPECT_EQ(coll.Count().value(), chunks) << "chunks without their document";
  EXPECT_EQ(coll.CountDocuments().value(), ids.size());
  return ids;
}

TEST(IngestCrash, KillDuringIngestThenResume) {
  for (int round = 0; round < 2; ++round) {
    TempDir dir;
    const std::string path = dir.Sub("db");
    int fds[2];
    ASSERT_EQ(pipe(fds), 0);
    pid_t child = testing::StartWithPipe(
        FLASHEMBED_INGEST_CRASH_CHILD,
        {"ingest_crash_child", path, std::to_string(fds[1]), std::to_string(kDocs)}, fds);
    ASSERT_GE(child, 0);
    FILE* in = fdopen(fds[0], "r");
    ASSERT_NE(in, nullptr);
    // Kill once a few documents are written (more in the second round).
    long long finished = 0;
    const long long target = round == 0 ? 3 : 20;
    while (finished < target && fscanf(in, " %lld", &finished) == 1) {
    }
    ASSERT_EQ(kill(child, SIGKILL), 0);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFSIGNALED(status)) << "child exited early with code " << WEXITSTATUS(status);
    fclose(in);
    ASSERT_GE(finished, target);

    auto db = Database::Open({}, path);
    ASSERT_TRUE(db.ok()) << db.status();
    auto coll = (*db)->GetCollection("kb");
    ASSERT_TRUE(coll.ok()) << coll.status();
    const std::set<std::string> survived = CheckWhole(**coll);
    // Finished documents were written (a process crash keeps unsynced writes).
    EXPECT_GE(static_cast<long long>(survived.size()), finished);

    // Resume: the same documents again.
    IngestOptions options;
    options.chunking.chunk_tokens = testing::kCrashChunkTokens;
    ASSERT_OK_AND_ASSIGN(auto ingest, (*coll)->StartIngest(options));
    for (int i = 0; i < kDocs; ++i) ASSERT_OK(ingest->Push(testing::CrashDocument(i)));
    ASSERT_OK_AND_ASSIGN(IngestSummary summary, ingest->Finish());
    EXPECT_EQ(summary.totals.failed, 0u);
    EXPECT_EQ(summary.totals.unchanged, survived.size());
    EXPECT_EQ(summary.totals.added, kDocs - survived.size());
    EXPECT_EQ(summary.totals.replaced, 0u);
    EXPECT_EQ(CheckWhole(**coll).size(), static_cast<size_t>(kDocs));
  }
}

}  // namespace
}  // namespace flashembed
