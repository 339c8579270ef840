// The child of ingest_crash_test.cc: ingests generated long documents
// through Collection::StartIngest until it is killed, writing the number of
// documents finished so far to ACK_FD every few milliseconds.
// Usage: ingest_crash_child DB_PATH ACK_FD DOCS
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <thread>

#include "query/database.h"
#include "tests/query/long_text.h"

int main(int argc, char** argv) {
  using namespace flashembed;
  if (argc != 4) return 2;
  const int ack_fd = std::atoi(argv[2]);
  const int docs = std::atoi(argv[3]);
  auto db = Database::Open({}, argv[1]);
  if (!db.ok()) return 10;
  auto coll = (*db)->GetOrCreateCollection("kb", {});
  if (!coll.ok()) return 11;
  IngestOptions options;
  options.chunking.chunk_tokens = testing::kCrashChunkTokens;
  options.write_batch = 2;
  auto ingest = (*coll)->StartIngest(options);
  if (!ingest.ok()) return 12;
  std::thread reporter([&] {
    for (;;) {
      const std::string line = std::to_string((*ingest)->Progress().documents) + "\n";
      if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(13);
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
  });
  for (int i = 0; i < docs; ++i) {
    if (!(*ingest)->Push(testing::CrashDocument(i)).ok()) _exit(14);
  }
  if (!(*ingest)->Finish().ok()) _exit(15);
  // Finished before the kill: keep reporting until killed.
  reporter.join();
}
