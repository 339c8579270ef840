// An application of the installed library: tests/install/install_test.sh
// builds it against an installed tree twice (with CMake's find_package and
// with pkg-config) and runs it. It opens a database in a temporary folder,
// creates a collection with the hashing encoder, adds two texts and
// searches; any wrong result exits 1 with a message.
#include <flashembed/database.h>

#include <stdlib.h>

#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

namespace {

int Fail(const std::string& what) {
  std::fprintf(stderr, "consumer: %s\n", what.c_str());
  return 1;
}

int Run(const std::string& folder) {
  using namespace flashembed;
  auto db = Database::Open({}, folder + "/db");
  if (!db.ok()) return Fail("open: " + db.status().ToString());
  auto notes = (*db)->CreateCollection("notes", {});  // hashing encoder, cosine, HNSW
  if (!notes.ok()) return Fail("create: " + notes.status().ToString());
  const std::vector<Document> docs = {
      {.id = 1, .text = "The Moon orbits the Earth once a month"},
      {.id = "bread", .text = "Sourdough bread rises with wild yeast"},
  };
  if (Status s = (*notes)->Add({}, docs); !s.ok()) return Fail("add: " + s.ToString());
  if (Status again = (*notes)->Add({}, docs); !again.IsAlreadyExists()) {
    return Fail("adding the same ids again: " + again.ToString() + ", expected AlreadyExists");
  }
  auto count = (*notes)->Count();
  if (!count.ok() || *count != 2) return Fail("count is not 2");

  auto hits = (*notes)->Search({.k = 2}, Query::Text("wild yeast bread"));
  if (!hits.ok()) return Fail("search: " + hits.status().ToString());
  if (hits->size() != 2)
    return Fail("search found " + std::to_string(hits->size()) + " hits, not 2");
  const Hit& best = (*hits)[0];
  if (!(best.id == Id("bread")) || best.text != docs[1].text) {
    return Fail("best hit is " + best.id.ToString() + ", expected \"bread\"");
  }
  if (!((*hits)[1].id == Id(1)) || !(best.score > (*hits)[1].score)) {
    return Fail("second hit or score order is wrong");
  }
  if (Status s = (*db)->Close(); !s.ok()) return Fail("close: " + s.ToString());
  return 0;
}

}  // namespace

int main() {
  std::string folder = (std::filesystem::temp_directory_path() / "flashembed-consumer-XXXXXX");
  if (mkdtemp(folder.data()) == nullptr) return Fail("cannot make a temporary folder");
  const int status = Run(folder);
  std::filesystem::remove_all(folder);
  if (status == 0) std::printf("consumer: ok\n");
  return status;
}
