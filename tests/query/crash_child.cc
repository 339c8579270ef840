// The child of crash_test.cc: ingests into a database until it is killed.
// Usage: crash_child DB_PATH ACK_FD
#include <unistd.h>

#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "query/database.h"

namespace flashembed {
namespace {

constexpr int kBatch = 20;
constexpr int kDim = 16;

std::vector<float> VectorFor(int64_t id) {
  std::mt19937 rng(static_cast<uint32_t>(id) * 2654435761u + 1);
  std::normal_distribution<float> normal;
  std::vector<float> v(kDim);
  for (float& x : v) x = normal(rng);
  return v;
}

// Distinct texts: eight pseudo-random words from a 500-word vocabulary.
std::string TextFor(int64_t id) {
  std::mt19937 rng(static_cast<uint32_t>(id) + 7);
  std::string text = "doc";
  for (int i = 0; i < 8; ++i) text += " w" + std::to_string(rng() % 500);
  return text;
}

// Child: adds batches of kBatch ids (text and vector documents alternately),
// deletes the first id of the previous batch, and after each call returns
// writes one line to `ack_fd`: "A <first id>" or "D <id>". Never returns.
[[noreturn]] void Ingest(const std::string& path, int ack_fd) {
  auto db = Database::Open({.snapshot_every_ops = 150}, path);
  if (!db.ok()) _exit(10);
  auto text = (*db)->GetOrCreateCollection("text", {});
  auto vec = (*db)->GetOrCreateCollection("vec", {.dim = kDim, .encoder = ""});
  if (!text.ok() || !vec.ok()) _exit(11);
  for (int64_t first = 0;; first += kBatch) {
    std::vector<Document> docs;
    for (int64_t id = first; id < first + kBatch; ++id) {
      docs.push_back({.id = id,
                      .text = TextFor(id),
                      .vector = (first / kBatch) % 2 ? VectorFor(id) : std::vector<float>{}});
    }
    Collection& target = (first / kBatch) % 2 ? **vec : **text;
    if (!target.Add({}, docs).ok()) _exit(12);
    std::string line = "A " + std::to_string(first) + "\n";
    if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(13);
    if (first >= 2 * kBatch) {
      int64_t victim = first - 2 * kBatch;  // same collection as this batch
      std::vector<Id> gone = {victim};
      auto removed = target.Delete({}, gone);
      if (!removed.ok() || *removed != 1) _exit(14);
      line = "D " + std::to_string(victim) + "\n";
      if (write(ack_fd, line.data(), line.size()) != static_cast<ssize_t>(line.size())) _exit(15);
    }
  }
}

}  // namespace
}  // namespace flashembed

int main(int argc, char** argv) {
  if (argc != 3) return 2;
  flashembed::Ingest(argv[1], std::atoi(argv[2]));
}
