// The child of reembed_test.cc's kill -9 test: re-embeds collection "c" of
// the database DB_PATH with the hashing encoder at DIM dimensions (or, with
// DIM "learned", with an encoder trained on the collection) and kills
// itself with SIGKILL once the first round has embedded KILL_AFTER records
// again (or, with KILL_AFTER 0, at the start of the last round, before the
// switch).
// Usage: reembed_crash_child DB_PATH DIM|learned KILL_AFTER
#include <signal.h>

#include <cstdlib>
#include <string>

#include "query/database.h"

int main(int argc, char** argv) {
  using namespace flashembed;
  if (argc != 4) return 2;
  const std::string dim = argv[2];
  const uint64_t kill_after = std::strtoull(argv[3], nullptr, 10);
  auto db = Database::Open({}, argv[1]);
  if (!db.ok()) return 10;
  ReembedOptions options;
  options.encoder = dim == "learned" ? "learned" : "hash";
  options.dim = dim == "learned" ? 0 : std::atoi(dim.c_str());
  options.batch = 16;
  options.progress = [&](const ReembedProgress& p) {
    if (kill_after == 0 ? p.switching : p.round == 1 && p.records_done >= kill_after) {
      raise(SIGKILL);
    }
  };
  auto summary = (*db)->Reembed("c", options);
  return summary.ok() ? 0 : 11;
}
