#include "encoders/bpe_tokenizer.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/status.h"
#include "tests/testing/test_util.h"

#ifndef FLASHEMBED_SOURCE_DIR
#error "FLASHEMBED_SOURCE_DIR must name the repository root"
#endif

namespace flashembed::encoders {
namespace {

using json = nlohmann::json;

// A CLIP tokenizer in the hub's layout with a vocabulary trained here, and
// HF tokenizers 0.23.2's outputs on it (tools/fixtures/gen_clip_tokenizer*.mjs).
const std::string kDir = FLASHEMBED_SOURCE_DIR "/tests/encoders/testdata/clip_tokenizer";
const std::string kTokenizerJson = kDir + "/tokenizer.json";
constexpr size_t kMaxLength = 77;  // model_max_length of tokenizer_config.json

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << path;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

json ClipJson() { return json::parse(ReadText(kTokenizerJson)); }

// The "variant" configuration of refs.jsonl; gen_clip_tokenizer_refs.mjs's
// variantJson() makes the same changes.
json VariantJson() {
  json v = ClipJson();
  for (json& merge : v["model"]["merges"]) {
    const std::string m = merge.get<std::string>();
    const size_t space = m.find(' ');
    merge = json::array({m.substr(0, space), m.substr(space + 1)});
  }
  json& split = v["pre_tokenizer"]["pretokenizers"][0];
  std::string regex = split["pattern"]["Regex"].get<std::string>();
  const std::string specials = "<\\|startoftext\\|>|<\\|endoftext\\|>|";
  regex.erase(regex.find(specials), specials.size());
  split["pattern"]["Regex"] = regex;
  v["pre_tokenizer"]["pretokenizers"][1]["use_regex"] = false;
  for (json& added : v["added_tokens"]) added["normalized"] = false;
  return v;
}

std::unique_ptr<BpeTokenizer> FromJsonOrDie(const json& j, const std::string& name) {
  auto t = BpeTokenizer::FromJson(j.dump(), name);
  EXPECT_TRUE(t.ok()) << t.status();
  return t.ok() ? std::move(t).value() : nullptr;
}

const std::map<std::string, std::unique_ptr<BpeTokenizer>>& FixtureTokenizers() {
  static const auto* tokenizers = [] {
    auto* map = new std::map<std::string, std::unique_ptr<BpeTokenizer>>();
    auto clip = BpeTokenizer::FromFile(kTokenizerJson);
    EXPECT_TRUE(clip.ok()) << clip.status();
    if (clip.ok()) (*map)["clip"] = std::move(clip).value();
    (*map)["variant"] = FromJsonOrDie(VariantJson(), "variant");
    return map;
  }();
  return *tokenizers;
}

const BpeTokenizer& Clip() { return *FixtureTokenizers().at("clip"); }

struct Expected {
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::pair<size_t, size_t>> offsets;
};

Expected ParseExpected(const json& j) {
  Expected e;
  e.ids = j.at("ids").get<std::vector<int32_t>>();
  e.tokens = j.at("tokens").get<std::vector<std::string>>();
  for (const json& offset : j.at("offsets")) {
    e.offsets.emplace_back(offset.at(0).get<size_t>(), offset.at(1).get<size_t>());
  }
  return e;
}

struct RefCase {
  int line = 0;
  std::string config;
  std::string text;
  Expected full;
  std::optional<Expected> truncated;  // unset: same as full
};

std::vector<RefCase> ReadRefs() {
  std::ifstream in(kDir + "/refs.jsonl");
  EXPECT_TRUE(in.good()) << "missing " << kDir << "/refs.jsonl";
  std::vector<RefCase> cases;
  std::string line;
  for (int line_no = 1; std::getline(in, line); ++line_no) {
    if (line.empty()) continue;
    const json j = json::parse(line);
    RefCase c;
    c.line = line_no;
    c.config = j.at("config").get<std::string>();
    c.text = j.at("text").get<std::string>();
    c.full = ParseExpected(j);
    if (!j.at("truncated").is_null()) c.truncated = ParseExpected(j.at("truncated"));
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string Describe(const RefCase& c) {
  return "refs.jsonl line " + std::to_string(c.line) + " (" + c.config +
         "): " + json(c.text).dump();
}

// Counts the fields of `got` that differ from `want` (0 = identical).
int Mismatches(const BpeTokenizer::Encoding& got, const Expected& want) {
  EXPECT_EQ(got.ids, want.ids);
  EXPECT_EQ(got.tokens, want.tokens);
  EXPECT_EQ(got.offsets, want.offsets);
  return (got.ids != want.ids) + (got.tokens != want.tokens) + (got.offsets != want.offsets);
}

// ---------------------------------------------------------------------------
// Oracle: Hugging Face reference ids, tokens and offsets
// ---------------------------------------------------------------------------

TEST(BpeTokenizer, MatchesHuggingFaceReferences) {
  const std::vector<RefCase> cases = ReadRefs();
  ASSERT_GE(cases.size(), 400u);
  const auto& tokenizers = FixtureTokenizers();
  int mismatches = 0;
  int truncated = 0;
  for (const RefCase& c : cases) {
    SCOPED_TRACE(Describe(c));
    const auto it = tokenizers.find(c.config);
    ASSERT_NE(it, tokenizers.end());
    ASSERT_NE(it->second, nullptr);
    ASSERT_OK_AND_ASSIGN(const auto full, it->second->Encode(c.text));
    mismatches += Mismatches(full, c.full);
    ASSERT_OK_AND_ASSIGN(const auto cut, it->second->Encode(c.text, kMaxLength));
    mismatches += Mismatches(cut, c.truncated ? *c.truncated : c.full);
    if (c.truncated) {
      ++truncated;
      EXPECT_EQ(cut.ids.size(), kMaxLength);
      EXPECT_EQ(cut.ids.back(), it->second->eos_id());
    }
  }
  EXPECT_EQ(mismatches, 0);
  EXPECT_GE(truncated, 10);
}

TEST(BpeTokenizer, VocabSizesAndSpecialIds) {
  const BpeTokenizer& t = Clip();
  const json j = ClipJson();
  EXPECT_EQ(t.vocab_size(), j["model"]["vocab"].size());
  EXPECT_EQ(t.bos_id(), static_cast<int32_t>(t.vocab_size() - 2));
  EXPECT_EQ(t.eos_id(), static_cast<int32_t>(t.vocab_size() - 1));
  EXPECT_EQ(t.IdToToken(t.bos_id()), "<|startoftext|>");
  EXPECT_EQ(t.IdToToken(t.eos_id()), "<|endoftext|>");
  // CLIP's order: the 256 byte symbols, then the same with "</w>".
  EXPECT_EQ(t.IdToToken(0), "!");
  EXPECT_EQ(t.IdToToken(255), "Ń");
  EXPECT_EQ(t.IdToToken(256), "!</w>");
  EXPECT_EQ(t.TokenToId("a</w>"), 320);
  EXPECT_EQ(t.TokenToId("no such token"), std::nullopt);
  EXPECT_EQ(t.IdToToken(-1), "");
  EXPECT_EQ(t.pad_id(), std::nullopt);
  EXPECT_EQ(t.default_max_tokens(), 0u);
}

TEST(BpeTokenizer, SimpleCaptionWithOffsets) {
  ASSERT_OK_AND_ASSIGN(const auto e, Clip().Encode("A photo of a CAT"));
  EXPECT_EQ(e.tokens.front(), "<|startoftext|>");
  EXPECT_EQ(e.tokens.back(), "<|endoftext|>");
  EXPECT_EQ(e.tokens[1], "a</w>");
  EXPECT_EQ(e.offsets.front(), (std::pair<size_t, size_t>{0, 0}));
  EXPECT_EQ(e.offsets[1], (std::pair<size_t, size_t>{0, 1}));
  EXPECT_EQ(e.offsets.back(), (std::pair<size_t, size_t>{0, 0}));
}

TEST(BpeTokenizer, EmptyTextIsJustTheSpecialTokens) {
  const BpeTokenizer& t = Clip();
  for (const char* text : {"", " ", "\t\n\u3000"}) {
    ASSERT_OK_AND_ASSIGN(const auto e, t.Encode(text));
    EXPECT_EQ(e.ids, (std::vector<int32_t>{t.bos_id(), t.eos_id()})) << json(text).dump();
  }
}

TEST(BpeTokenizer, TruncationKeepsSpecialTokens) {
  const BpeTokenizer& t = Clip();
  ASSERT_OK_AND_ASSIGN(const auto two, t.Encode("a b c", 2));
  EXPECT_EQ(two.ids, (std::vector<int32_t>{t.bos_id(), t.eos_id()}));
  ASSERT_OK_AND_ASSIGN(const auto four, t.Encode("a b c", 4));
  EXPECT_EQ(four.tokens,
            (std::vector<std::string>{"<|startoftext|>", "a</w>", "b</w>", "<|endoftext|>"}));
  ASSERT_OK_AND_ASSIGN(const auto roomy, t.Encode("a b c", 100));
  EXPECT_EQ(roomy.ids.size(), 5u);
  EXPECT_TRUE(t.Encode("a b c", 1).status().IsInvalidArgument());
}

TEST(BpeTokenizer, InvalidUtf8NamesTheOffset) {
  const auto result = Clip().Encode(std::string("caf\xC3 ok", 7));
  ASSERT_FALSE(result.ok());
  EXPECT_TRUE(result.status().IsInvalidArgument());
  EXPECT_NE(result.status().message().find("byte 3"), std::string::npos) << result.status();
  EXPECT_FALSE(Clip().Encode("ok \xED\xA0\x80 surrogate").ok());
}

TEST(BpeTokenizer, ConcurrentEncodeGivesSameIds) {
  const BpeTokenizer& t = Clip();
  const std::string text = "Concurrent tokenization of naïve café text, 北京 and 😀 <|endoftext|>.";
  ASSERT_OK_AND_ASSIGN(const auto expected, t.Encode(text));
  std::vector<int> mismatches(4, 0);
  std::vector<std::thread> threads;
  for (size_t k = 0; k < mismatches.size(); ++k) {
    threads.emplace_back([&, k] {
      for (int i = 0; i < 200; ++i) {
        auto e = t.Encode(text);
        if (!e.ok() || e->ids != expected.ids) ++mismatches[k];
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  EXPECT_EQ(mismatches, std::vector<int>(4, 0));
}

// ---------------------------------------------------------------------------
// Loading failures
// ---------------------------------------------------------------------------

// Loads `j` and expects InvalidArgument whose message contains `needle`.
void ExpectRefused(const json& j, const std::string& needle) {
  auto t = BpeTokenizer::FromJson(j.dump(), "test.json");
  ASSERT_FALSE(t.ok()) << "accepted; expected an error containing " << needle;
  EXPECT_TRUE(t.status().IsInvalidArgument()) << t.status();
  EXPECT_NE(t.status().message().find("test.json"), std::string::npos) << t.status();
  EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status();
}

TEST(BpeTokenizer, MissingFileIsNotFound) {
  auto t = BpeTokenizer::FromFile(kDir + "/no-such-tokenizer.json");
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsNotFound()) << t.status();
}

TEST(BpeTokenizer, MalformedJsonIsRefused) {
  for (const char* text : {"", "{", "[1, 2]", "{\"model\": 3}", "not json"}) {
    auto t = BpeTokenizer::FromJson(text, "test.json");
    ASSERT_FALSE(t.ok()) << text;
    EXPECT_TRUE(t.status().IsInvalidArgument()) << t.status();
    EXPECT_NE(t.status().message().find("test.json"), std::string::npos) << t.status();
  }
  // Truncated file.
  const std::string whole = ReadText(kTokenizerJson);
  auto t = BpeTokenizer::FromJson(std::string_view(whole).substr(0, whole.size() / 2), "test.json");
  EXPECT_TRUE(t.status().IsInvalidArgument()) << t.status();
}

TEST(BpeTokenizer, WordPieceJsonIsRefused) {
  const json bert =
      json::parse(ReadText(FLASHEMBED_SOURCE_DIR "/tests/encoders/testdata/vocab/bert-base-uncased/"
                                                 "tokenizer.json"));
  ExpectRefused(bert, "normalizer");
  json j = ClipJson();
  j["model"] = bert["model"];
  ExpectRefused(j, "model.type");
}

TEST(BpeTokenizer, UnsupportedComponentsAreRefused) {
  {
    json j = ClipJson();
    j["normalizer"]["normalizers"][0]["type"] = "NFKC";
    ExpectRefused(j, "normalizer.normalizers[0].type");
  }
  {
    json j = ClipJson();
    j["normalizer"]["normalizers"][1]["pattern"]["Regex"] = "\\s";
    ExpectRefused(j, "normalizer.normalizers[1]");
  }
  {
    json j = ClipJson();
    j["normalizer"] = {{"type", "BertNormalizer"}};
    ExpectRefused(j, "normalizer");
  }
  {
    json j = ClipJson();
    j["pre_tokenizer"]["pretokenizers"][0]["pattern"]["Regex"] = "\\w+";
    ExpectRefused(j, "pre_tokenizer.pretokenizers[0].pattern");
  }
  {
    json j = ClipJson();
    j["pre_tokenizer"]["pretokenizers"][0]["invert"] = false;
    ExpectRefused(j, "behavior/invert");
  }
  {
    json j = ClipJson();
    j["pre_tokenizer"]["pretokenizers"][1]["add_prefix_space"] = true;
    ExpectRefused(j, "add_prefix_space");
  }
  {
    json j = ClipJson();
    j["pre_tokenizer"] = json();
    ExpectRefused(j, "pre_tokenizer");
  }
  {
    json j = ClipJson();
    j["model"]["dropout"] = 0.1;
    ExpectRefused(j, "model.dropout");
  }
  {
    json j = ClipJson();
    j["model"]["byte_fallback"] = true;
    ExpectRefused(j, "model.byte_fallback");
  }
  {
    json j = ClipJson();
    j["model"]["continuing_subword_prefix"] = "##";
    ExpectRefused(j, "model.continuing_subword_prefix");
  }
  {
    json j = ClipJson();
    j["model"]["ignore_merges"] = true;
    ExpectRefused(j, "model.ignore_merges");
  }
  {
    json j = ClipJson();
    j["post_processor"] = {{"type", "TemplateProcessing"}};
    ExpectRefused(j, "post_processor.type");
  }
  {
    json j = ClipJson();
    j["added_tokens"][0]["lstrip"] = true;
    ExpectRefused(j, "added_tokens[0].lstrip");
  }
  {
    json j = ClipJson();
    j["truncation"] = {{"max_length", 77}, {"direction", "Left"}};
    ExpectRefused(j, "truncation.direction");
  }
}

TEST(BpeTokenizer, BadVocabAndMergesAreRefused) {
  {
    json j = ClipJson();
    j["model"]["vocab"].erase("a</w>");
    ExpectRefused(j, "model.merges[");  // some merge produces or uses "a</w>"
  }
  {
    json j = ClipJson();
    j["model"]["merges"].push_back("zzzq qqqz");
    ExpectRefused(j, "\"zzzq\", which is not in model.vocab");
  }
  {
    json j = ClipJson();
    j["model"]["merges"][0] = "t h e";
    ExpectRefused(j, "model.merges[0]");
  }
  {
    json j = ClipJson();
    j["model"]["merges"][0] = json::array({"t"});
    ExpectRefused(j, "model.merges[0]");
  }
  {
    json j = ClipJson();
    j["model"]["vocab"]["x"] = -4;
    ExpectRefused(j, "has id -4");
  }
  {
    json j = ClipJson();
    j["model"]["unk_token"] = "<unk>";
    ExpectRefused(j, "model.unk_token");
  }
  {
    json j = ClipJson();
    j["model"].erase("merges");
    ExpectRefused(j, "model.merges");
  }
  {
    json j = ClipJson();
    j["post_processor"]["sep"][1] = 1 << 20;
    ExpectRefused(j, "past the vocab");
  }
}

// tokenizers >= 0.20 saves merges as pairs; both forms load to the same model.
TEST(BpeTokenizer, MergesAsStringsOrPairsAgree) {
  json pairs = ClipJson();
  for (json& merge : pairs["model"]["merges"]) {
    const std::string m = merge.get<std::string>();
    merge = json::array({m.substr(0, m.find(' ')), m.substr(m.find(' ') + 1)});
  }
  const auto t = FromJsonOrDie(pairs, "pairs");
  ASSERT_NE(t, nullptr);
  for (const RefCase& c : ReadRefs()) {
    if (c.config != "clip") continue;
    ASSERT_OK_AND_ASSIGN(const auto e, t->Encode(c.text));
    EXPECT_EQ(e.ids, c.full.ids) << Describe(c);
  }
}

TEST(BpeTokenizer, TruncationAndPaddingSettingsAreRead) {
  json j = ClipJson();
  j["truncation"] = {{"max_length", 77}, {"direction", "Right"}, {"strategy", "LongestFirst"}};
  j["padding"] = {{"pad_id", 0}, {"pad_token", "!"}};
  const auto t = FromJsonOrDie(j, "settings");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->default_max_tokens(), 77u);
  EXPECT_EQ(t->pad_id(), 0);
}

}  // namespace
}  // namespace flashembed::encoders
