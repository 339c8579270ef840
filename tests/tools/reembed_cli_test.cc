// End-to-end tests of `flashembed reembed` (tools/cli_reembed.cc): the
// switch, its JSON summary and human line, --abort, and the usage errors.
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "cli_fixture.h"

namespace {

using flashembed::testing::OneJson;
using nlohmann::json;

class ReembedCliTest : public flashembed::testing::CliFixture {
 protected:
  void SetUp() override {
    WriteFile("docs/a.txt", "Glaciers carve deep valleys into mountains over centuries.\n");
    WriteFile("docs/b.txt", "Sourdough bread rises with a lively starter and patience.\n");
    RunOk({"ingest", "--db", "db", "-c", "kb", "docs", "-q"});
    RunOk({"add", "--db", "db", "-c", "kb", "--id", "7", "the harbor lantern guides ships"});
  }
  json Stats(const std::string& name = "kb") {
    const json all = OneJson(RunOk({"stats", "--db", "db", "-c", name, "--json"}));
    for (const json& c : all["collections"]) {
      if (c["name"] == name) return c;
    }
    ADD_FAILURE() << "no collection " << name << " in " << all;
    return json();
  }
};

TEST_F(ReembedCliTest, SwitchesTheEncoder) {
  const json before = Stats();
  EXPECT_NE(before.dump().find("dim=384"), std::string::npos) << before;
  const json summary = OneJson(
      RunOk({"reembed", "--db", "db", "-c", "kb", "--encoder", "hash", "--dim", "128", "--json"}));
  EXPECT_EQ(summary["records"], 1) << summary;
  EXPECT_EQ(summary["documents"], 2) << summary;
  EXPECT_EQ(summary["resumed"], 0) << summary;
  EXPECT_NE(summary["encoder"].get<std::string>().find("dim=128"), std::string::npos) << summary;
  const json after = Stats();
  EXPECT_NE(after.dump().find("dim=128"), std::string::npos) << after;
  EXPECT_EQ(after["count"], before["count"]) << after;
  // Search embeds with the new encoder and finds the document.
  const auto found = RunOk(
      {"search", "--db", "db", "-c", "kb", "--documents", "--json", "glaciers carving valleys"});
  EXPECT_NE(found.out.find("a.txt"), std::string::npos) << found.out;
  // The progress bar goes to stderr when asked for.
  const auto shown = Run({"reembed", "--db", "db", "-c", "kb", "--encoder", "hash", "--dim", "64",
                          "--progress", "always"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.err.find("] 100%  round 1: 1/1 records, 2/2 documents"), std::string::npos)
      << shown.err;
  // The human summary.
  const auto line = RunOk({"reembed", "--db", "db", "-c", "kb", "--encoder", "hash"});
  EXPECT_NE(line.out.find("re-embedded \"kb\" with hash/v1;dim=384"), std::string::npos)
      << line.out;
}

TEST_F(ReembedCliTest, TrainsALearnedEncoder) {
  // About 3000 words over a few dozen distinct ones: enough to train on.
  const char* words[] = {"river",   "engine", "garden", "signal",  "copper",  "winter",
                         "lantern", "harbor", "meadow", "circuit", "granite", "violin",
                         "orbit",   "canyon", "pepper", "falcon",  "quartz",  "ribbon",
                         "tunnel",  "saddle", "marble", "thunder", "walnut",  "beacon"};
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    text += words[(i * 7 + i / 24) % 24];
    text += i % 12 == 11 ? ".\n" : " ";
  }
  WriteFile("docs/long.txt", text);
  RunOk({"ingest", "--db", "db", "-c", "kb", "docs", "-q"});
  const auto shown = Run({"reembed", "--db", "db", "-c", "kb", "--encoder", "learned", "--progress",
                          "always", "--json"});
  EXPECT_EQ(shown.exit_code, 0) << shown.err;
  EXPECT_NE(shown.err.find("100%  training the encoder"), std::string::npos) << shown.err;
  const json summary = OneJson(shown);
  EXPECT_EQ(summary["encoder"].get<std::string>().rfind("learned/v1;id=", 0), 0u) << summary;
  EXPECT_EQ(Stats()["encoder"], "learned");
  const auto found = RunOk(
      {"search", "--db", "db", "-c", "kb", "--documents", "--json", "glaciers carving valleys"});
  EXPECT_NE(found.out.find("a.txt"), std::string::npos) << found.out;
}

TEST_F(ReembedCliTest, UsageAndRuntimeErrors) {
  RunFails({"reembed", "--db", "db", "-c", "kb"}, 2, "needs the new encoder");
  RunFails({"reembed", "--db", "db", "-c", "kb", "--encoder", "hash", "--model", "m"}, 2,
           "not both");
  RunFails({"reembed", "--db", "db", "-c", "kb", "--encoder", "none"}, 2, "needs an encoder");
  RunFails({"reembed", "--db", "db", "-c", "kb", "--abort", "--encoder", "hash"}, 2,
           "--abort takes no encoder");
  RunFails({"reembed", "--db", "db", "-c", "kb", "--encoder", "hash", "--progress", "x"}, 2,
           "--progress");
  RunFails({"reembed", "--db", "db", "-c", "kb", "--abort"}, 1, "no interrupted re-embedding");
  RunFails({"reembed", "--db", "db", "-c", "kb", "--encoder", "learned"}, 1, "not enough text");
  RunFails({"reembed", "--db", "db", "-c", "nope", "--encoder", "hash"}, 1, "nope");
  RunFails({"reembed", "--db", "db", "-c", "kb", "--encoder", "sparkle"}, 1, "sparkle");
  RunFails({"reembed", "--db", "missing", "-c", "kb", "--encoder", "hash"}, 1, "missing");
  // A record stored with a vector only stops the run; nothing changes.
  RunOk({"create", "--db", "db", "-c", "v", "--encoder", "hash", "--dim", "8"});
  RunOk({"add", "--db", "db", "-c", "v", "--jsonl", "-"},
        R"({"id": 1, "vector": [1, 0, 0, 0, 0, 0, 0, 0]})");
  RunFails({"reembed", "--db", "db", "-c", "v", "--encoder", "hash", "--dim", "16"}, 1,
           "has no text");
  EXPECT_EQ(Stats("v")["dim"], 8);
  RunFails({"reembed", "--db", "db", "-c", "v", "--abort"}, 1, "no interrupted re-embedding");
}

}  // namespace
