// Helpers of the export/import tests (transfer_tests): running the real
// flashembed binary in a temporary folder, reading a whole collection back
// through the library, and comparing two collections bit for bit.
#ifndef FLASHEMBED_TESTS_TOOLS_TRANSFER_TEST_UTIL_H_
#define FLASHEMBED_TESTS_TOOLS_TRANSFER_TEST_UTIL_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "query/database.h"
#include "tests/testing/process_util.h"
#include "tests/testing/test_util.h"

namespace flashembed::testing {

inline void WriteFile(const std::string& path, std::string_view content) {
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  std::ofstream(path, std::ios::binary) << content;
}

// Runs `program args...` in `dir` with stdout/stderr captured (never a
// terminal), $FLASHEMBED_DB unset, one OpenMP thread.
inline RunResult RunProgram(const std::string& dir, const std::string& program,
                            const std::vector<std::string>& args) {
  std::vector<std::string> argv = {program};
  argv.insert(argv.end(), args.begin(), args.end());
  return RunProgram(dir, std::move(argv), {.env = {{"OMP_NUM_THREADS", "1"}}});
}

// Everything a collection holds, as the library reads it.
struct CollectionDump {
  CollectionInfo info;
  std::vector<Document> records;        // write order
  std::vector<DocumentInfo> documents;  // id order, with pooled vectors
};

inline CollectionDump DumpCollection(const std::string& db_path, const std::string& name) {
  CollectionDump dump;
  auto db = Database::Open({.create_if_missing = false}, db_path);
  EXPECT_TRUE(db.ok()) << db.status();
  if (!db.ok()) return dump;
  auto coll = (*db)->GetCollection(name);
  EXPECT_TRUE(coll.ok()) << coll.status();
  if (!coll.ok()) return dump;
  dump.info = (*coll)->Describe().value();
  EXPECT_TRUE((*coll)
                  ->ScanRecords({},
                                [&](std::span<const Document> docs) {
                                  dump.records.insert(dump.records.end(), docs.begin(), docs.end());
                                  return Status::OK();
                                })
                  .ok());
  EXPECT_TRUE((*coll)
                  ->ScanDocuments(true,
                                  [&](const DocumentInfo& d) {
                                    dump.documents.push_back(d);
                                    return Status::OK();
                                  })
                  .ok());
  return dump;
}

inline bool SameFloats(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() &&
         (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// Records (ids, texts, metadata, vectors bit-exact, write order) and long
// documents (everything) equal.
inline void ExpectSameContents(const CollectionDump& a, const CollectionDump& b) {
  ASSERT_EQ(a.records.size(), b.records.size());
  for (size_t i = 0; i < a.records.size(); ++i) {
    const Document& x = a.records[i];
    const Document& y = b.records[i];
    EXPECT_EQ(x.id, y.id) << "record " << i;
    EXPECT_EQ(x.text, y.text) << "record " << x.id;
    EXPECT_EQ(x.metadata, y.metadata) << "record " << x.id;
    EXPECT_TRUE(SameFloats(x.vector, y.vector)) << "vector of record " << x.id;
  }
  ASSERT_EQ(a.documents.size(), b.documents.size());
  for (size_t i = 0; i < a.documents.size(); ++i) {
    const DocumentInfo& x = a.documents[i];
    const DocumentInfo& y = b.documents[i];
    EXPECT_EQ(x.id, y.id);
    EXPECT_EQ(x.source, y.source);
    EXPECT_EQ(x.title, y.title);
    EXPECT_EQ(x.metadata, y.metadata);
    EXPECT_EQ(x.content_hash, y.content_hash);
    EXPECT_EQ(x.bytes, y.bytes);
    EXPECT_EQ(x.tokens, y.tokens);
    EXPECT_EQ(x.chunk_tokens, y.chunk_tokens);
    EXPECT_EQ(x.overlap_tokens, y.overlap_tokens);
    EXPECT_EQ(x.updated_unix_ms, y.updated_unix_ms);
    ASSERT_EQ(x.chunks.size(), y.chunks.size());
    for (size_t c = 0; c < x.chunks.size(); ++c) {
      EXPECT_EQ(x.chunks[c].begin, y.chunks[c].begin);
      EXPECT_EQ(x.chunks[c].end, y.chunks[c].end);
      EXPECT_EQ(x.chunks[c].tokens, y.chunks[c].tokens);
    }
    EXPECT_TRUE(SameFloats(x.vector, y.vector)) << "pooled vector of " << x.id;
  }
}

}  // namespace flashembed::testing

#endif  // FLASHEMBED_TESTS_TOOLS_TRANSFER_TEST_UTIL_H_
