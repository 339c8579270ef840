// The reading verbs on a read-only and on a full filesystem (a private
// tmpfs, tests/testing/small_fs.h): stats, search, get and export work
// (the database opens read-only when it cannot be opened for writing);
// writing verbs fail with one clear error line and exit 1, changing
// nothing.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../testing/process_util.h"
#include "../testing/small_fs.h"
#include "../testing/temp_dir.h"

namespace {

using flashembed::testing::Lines;
using flashembed::testing::Listing;
using flashembed::testing::RunResult;
using flashembed::testing::SmallFs;
using nlohmann::json;

constexpr const char* kCli = FLASHEMBED_CLI_PATH;
constexpr size_t kFsBytes = 8 << 20;

class CliDisk : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs_.ok()) GTEST_SKIP() << fs_.error();
    db_ = fs_.Sub("db");
    std::ofstream(dir_ + "/docs.jsonl")
        << R"({"id": 1, "text": "The Moon orbits the Earth", "metadata": {"topic": "astro"}})"
        << "\n"
        << R"({"id": 2, "text": "Sourdough rises with wild yeast", "metadata": {"topic": "food"}})"
        << "\n"
        << R"({"id": 3, "text": "Black holes bend light", "metadata": {"topic": "astro"}})"
        << "\n";
    std::ofstream(dir_ + "/big.txt") << std::string(300000, 'x') << "\n";
    const RunResult added = Run({"add", "--db", db_, "--jsonl", dir_ + "/docs.jsonl"});
    ASSERT_EQ(added.exit_code, 0) << added.err;
  }
  RunResult Run(const std::vector<std::string>& args) {
    std::vector<std::string> argv = {kCli};
    argv.insert(argv.end(), args.begin(), args.end());
    return flashembed::testing::RunProgram(dir_, std::move(argv));
  }

  // Exit 0; stderr empty or one note that the database is open read-only.
  json RunReading(const std::vector<std::string>& args) {
    const RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 0) << args[0] << ": " << r.err;
    if (!r.err.empty()) {
      EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
      EXPECT_EQ(r.err.rfind("flashembed: note: ", 0), 0u) << r.err;
      EXPECT_NE(r.err.find("is open read-only"), std::string::npos) << r.err;
    }
    const json out = json::parse(r.out, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(out.is_discarded()) << args[0] << ": " << r.out;
    return out;
  }

  // Exit 1 with one line "flashembed: error: ..." containing `needle`.
  void RunFails(const std::vector<std::string>& args, const std::string& needle) {
    const RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, 1) << args[0] << ": " << r.err;
    EXPECT_EQ(r.err.rfind("flashembed: error: ", 0), 0u) << r.err;
    EXPECT_EQ(Lines(r.err).size(), 1u) << r.err;
    EXPECT_NE(r.err.find(needle), std::string::npos)
        << "expected \"" << needle << "\" in " << r.err;
  }

  // stats, search, get (by id and by filter) and export, all by the book.
  void ExpectReadingWorks() {
    EXPECT_EQ(RunReading({"stats", "--db", db_, "--json"})["collections"][0]["count"], 3);
    const json found = RunReading({"search", "--db", db_, "--json", "-k", "1", "lunar", "moon"});
    ASSERT_FALSE(found["hits"].empty()) << found;
    EXPECT_EQ(found["hits"][0]["id"], 1);
    EXPECT_EQ(RunReading({"get", "--db", db_, "--json", "2"})["text"],
              "Sourdough rises with wild yeast");
    EXPECT_EQ(RunReading({"get", "--db", db_, "--json", "--count", "--filter",
                          R"(topic == "astro")"})["count"],
              2);
    std::filesystem::remove_all(dir_ + "/ex");
    const json exported = RunReading(
        {"export", "--db", db_, "--format", "milvus-json", "--out", dir_ + "/ex", "--json"});
    EXPECT_EQ(exported["records"], 3) << exported;
  }

  SmallFs fs_{kFsBytes};
  flashembed::testing::TempDir tmp_;
  std::string dir_ = tmp_.path();
  std::string db_;
};

TEST_F(CliDisk, ReadOnlyFilesystemReadsWorkWritesFailAndNothingChanges) {
  const auto before = Listing(db_);
  ASSERT_TRUE(fs_.SetReadOnly(true));
  ExpectReadingWorks();
  RunFails({"add", "--db", db_, "a new text"}, "read-only filesystem");
  RunFails({"delete", "--db", db_, "1"}, "read-only filesystem");
  RunFails({"drop", "--db", db_, "--yes"}, "read-only filesystem");
  RunFails({"ingest", "--db", db_, dir_ + "/big.txt"}, "read-only filesystem");
  ASSERT_TRUE(fs_.SetReadOnly(false));
  EXPECT_EQ(Listing(db_), before);
  const RunResult stats = Run({"stats", "--db", db_, "--json"});
  EXPECT_EQ(stats.err, "");  // writable again: no note
  EXPECT_EQ(json::parse(stats.out)["collections"][0]["count"], 3);
}

TEST_F(CliDisk, FullDiskReadsWorkAndAWriteFailsClearly) {
  ASSERT_TRUE(fs_.Fill());
  RunFails({"add", "--db", db_, "--file", dir_ + "/big.txt"}, "no space left on device");
  ExpectReadingWorks();
  ASSERT_TRUE(fs_.Fill());  // a writable open may have freed a little
  RunFails({"add", "--db", db_, "--file", dir_ + "/big.txt"}, "no space left on device");
  ExpectReadingWorks();
  fs_.Free();
  const RunResult added = Run({"add", "--db", db_, "--file", dir_ + "/big.txt"});
  EXPECT_EQ(added.exit_code, 0) << added.err;
  const RunResult stats = Run({"stats", "--db", db_, "--json"});
  EXPECT_EQ(json::parse(stats.out)["collections"][0]["count"], 4);
}

}  // namespace
