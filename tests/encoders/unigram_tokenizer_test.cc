#include "encoders/unigram_tokenizer.h"

#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include "base/base64.h"
#include "base/status.h"
#include "tests/testing/test_util.h"

#ifndef FLASHEMBED_SOURCE_DIR
#error "FLASHEMBED_SOURCE_DIR must name the repository root"
#endif

namespace flashembed::encoders {
namespace {

using json = nlohmann::json;

// A SentencePiece Unigram model trained here, converted as transformers'
// XLMRobertaConverter does it in two layouts (legacy: the published
// multilingual-e5 files; current: today's converter), and HF tokenizers
// 0.23.2's outputs on them (tools/fixtures/gen_unigram_tokenizer*.{py,mjs}).
const std::string kDir = FLASHEMBED_SOURCE_DIR "/tests/encoders/testdata/unigram_tokenizer";

std::string ReadText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "missing " << path;
  std::ostringstream buffer;
  buffer << in.rdbuf();
  return buffer.str();
}

json VariantJson(const std::string& variant) {
  return json::parse(ReadText(kDir + "/" + variant + "/tokenizer.json"));
}

const std::map<std::string, std::unique_ptr<UnigramTokenizer>>& FixtureTokenizers() {
  static const auto* tokenizers = [] {
    auto* map = new std::map<std::string, std::unique_ptr<UnigramTokenizer>>();
    for (const char* variant : {"legacy", "current"}) {
      auto t = UnigramTokenizer::FromFile(kDir + "/" + variant + "/tokenizer.json");
      EXPECT_TRUE(t.ok()) << t.status();
      if (t.ok()) (*map)[variant] = std::move(t).value();
    }
    return map;
  }();
  return *tokenizers;
}

const UnigramTokenizer& Legacy() { return *FixtureTokenizers().at("legacy"); }

Result<std::unique_ptr<UnigramTokenizer>> FromJson(const json& j) {
  return UnigramTokenizer::FromJson(j.dump(), "test.json");
}

struct RefCase {
  int line = 0;
  std::string variant;
  std::string text;
  std::optional<std::string> text_pair;
  size_t max_length = 0;
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<std::pair<size_t, size_t>> offsets;
  std::vector<int32_t> type_ids;
  std::vector<int> sequence_ids;  // -1 special, 0 first text, 1 second text
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
    c.variant = j.at("variant").get<std::string>();
    c.text = j.at("text").get<std::string>();
    if (!j.at("text_pair").is_null()) c.text_pair = j.at("text_pair").get<std::string>();
    c.max_length = j.at("max_length").get<size_t>();
    c.ids = j.at("ids").get<std::vector<int32_t>>();
    c.tokens = j.at("tokens").get<std::vector<std::string>>();
    for (const json& offset : j.at("offsets")) {
      c.offsets.emplace_back(offset.at(0).get<size_t>(), offset.at(1).get<size_t>());
    }
    c.type_ids = j.at("type_ids").get<std::vector<int32_t>>();
    for (const json& s : j.at("sequence_ids"))
      c.sequence_ids.push_back(s.is_null() ? -1 : s.get<int>());
    cases.push_back(std::move(c));
  }
  return cases;
}

std::string Describe(const RefCase& c) {
  std::string d = "refs.jsonl line " + std::to_string(c.line) + " (" + c.variant + ", max_length " +
                  std::to_string(c.max_length) + "): " + json(c.text).dump();
  if (c.text_pair) d += " + " + json(*c.text_pair).dump();
  return d;
}

// ---------------------------------------------------------------------------
// Oracle: Hugging Face reference ids, tokens and offsets
// ---------------------------------------------------------------------------

TEST(UnigramTokenizer, MatchesHuggingFaceReferences) {
  const std::vector<RefCase> cases = ReadRefs();
  ASSERT_GE(cases.size(), 5000u);
  const auto& tokenizers = FixtureTokenizers();
  int id_mismatches = 0, other_mismatches = 0, pairs = 0, truncated = 0, unks = 0;
  for (const RefCase& c : cases) {
    SCOPED_TRACE(Describe(c));
    const auto it = tokenizers.find(c.variant);
    ASSERT_NE(it, tokenizers.end());
    const UnigramTokenizer& t = *it->second;
    Result<UnigramTokenizer::Encoding> got = c.text_pair
                                                 ? t.EncodePair(c.text, *c.text_pair, c.max_length)
                                                 : t.Encode(c.text, c.max_length);
    ASSERT_OK(got.status());
    const UnigramTokenizer::Encoding& e = *got;
    std::vector<int> sequence_ids(e.sequence_ids.begin(), e.sequence_ids.end());
    EXPECT_EQ(e.ids, c.ids);
    EXPECT_EQ(e.tokens, c.tokens);
    EXPECT_EQ(e.offsets, c.offsets);
    EXPECT_EQ(e.type_ids, c.type_ids);
    EXPECT_EQ(sequence_ids, c.sequence_ids);
    id_mismatches += e.ids != c.ids;
    other_mismatches += (e.tokens != c.tokens) + (e.offsets != c.offsets) +
                        (e.type_ids != c.type_ids) + (sequence_ids != c.sequence_ids);
    pairs += c.text_pair.has_value();
    truncated += c.max_length != 0 && c.ids.size() == c.max_length;
    for (int32_t id : c.ids) unks += id == 3;
  }
  EXPECT_EQ(id_mismatches, 0);
  EXPECT_EQ(other_mismatches, 0);
  EXPECT_GE(pairs, 300);
  EXPECT_GE(truncated, 1000);
  EXPECT_GE(unks, 10);
}

TEST(UnigramTokenizer, VocabularyAndSpecialTokens) {
  const UnigramTokenizer& t = Legacy();
  const json j = VariantJson("legacy");
  EXPECT_EQ(t.vocab_size(), j["model"]["vocab"].size());
  // fairseq's order: <s> <pad> </s> <unk>, the pieces, <mask> last.
  EXPECT_EQ(t.IdToToken(0), "<s>");
  EXPECT_EQ(t.IdToToken(1), "<pad>");
  EXPECT_EQ(t.IdToToken(2), "</s>");
  EXPECT_EQ(t.IdToToken(3), "<unk>");
  EXPECT_EQ(t.TokenToId("<mask>"), static_cast<int32_t>(t.vocab_size() - 1));
  EXPECT_EQ(t.TokenToId("no such piece"), std::nullopt);
  EXPECT_EQ(t.IdToToken(-1), "");
  EXPECT_EQ(t.single_special_tokens(), 2u);
  EXPECT_EQ(t.pair_special_tokens(), 4u);
  EXPECT_EQ(t.word_start(), "\u2581");
}

TEST(UnigramTokenizer, SentenceWithOffsets) {
  ASSERT_OK_AND_ASSIGN(const auto e, Legacy().Encode("Hello world"));
  ASSERT_GE(e.ids.size(), 4u);
  EXPECT_EQ(e.tokens.front(), "<s>");
  EXPECT_EQ(e.tokens.back(), "</s>");
  EXPECT_EQ(e.offsets.front(), (std::pair<size_t, size_t>{0, 0}));
  // Every word starts with the Metaspace mark; the first token's offsets
  // start at the text's first byte (the prepended mark shares them).
  EXPECT_TRUE(std::string_view(e.tokens[1]).starts_with("\u2581"));
  EXPECT_EQ(e.offsets[1].first, 0u);
  EXPECT_EQ(e.offsets[e.offsets.size() - 2].second, 11u);
}

TEST(UnigramTokenizer, EmptyAndBlankTextsAreJustTheSpecialTokens) {
  for (const char* text : {"", " ", "   \t  "}) {
    ASSERT_OK_AND_ASSIGN(const auto e, FixtureTokenizers().at("current")->Encode(text));
    EXPECT_EQ(e.ids, (std::vector<int32_t>{0, 2})) << json(text).dump();
  }
}

TEST(UnigramTokenizer, TruncationKeepsTheSpecialTokens) {
  const UnigramTokenizer& t = Legacy();
  const std::string text = "one two three four five six seven eight nine ten eleven twelve";
  ASSERT_OK_AND_ASSIGN(const auto full, t.Encode(text));
  ASSERT_GT(full.ids.size(), 8u);
  ASSERT_OK_AND_ASSIGN(const auto cut, t.Encode(text, 8));
  ASSERT_EQ(cut.ids.size(), 8u);
  EXPECT_EQ(cut.ids.front(), 0);
  EXPECT_EQ(cut.ids.back(), 2);
  EXPECT_TRUE(std::equal(cut.ids.begin() + 1, cut.ids.end() - 1, full.ids.begin() + 1));
  ASSERT_OK_AND_ASSIGN(const auto two, t.Encode(text, 2));
  EXPECT_EQ(two.ids, (std::vector<int32_t>{0, 2}));
  // A pair shares 12 - 4 = 8 tokens: the longer text gives way first, and
  // when both are too long each keeps half.
  for (const char* other : {"a", "short", "shorter text"}) {
    ASSERT_OK_AND_ASSIGN(const auto pair, t.EncodePair(other, text, 12));
    EXPECT_EQ(pair.ids.size(), 12u) << other;
    ASSERT_OK_AND_ASSIGN(const auto alone, t.Encode(other));
    size_t first = 0, second = 0;
    for (int8_t s : pair.sequence_ids) (s == 0 ? first : second) += s >= 0;
    EXPECT_EQ(first, std::min<size_t>(alone.ids.size() - 2, 4)) << other;
    EXPECT_EQ(second, 8 - first) << other;
    EXPECT_EQ(pair.tokens[first + 1], "</s>");
    EXPECT_EQ(pair.tokens[first + 2], "</s>");
  }
}

TEST(UnigramTokenizer, RefusesBadArguments) {
  const UnigramTokenizer& t = Legacy();
  auto bad_utf8 = t.Encode("ok \xC3\x28 then");
  ASSERT_FALSE(bad_utf8.ok());
  EXPECT_TRUE(bad_utf8.status().IsInvalidArgument());
  EXPECT_NE(bad_utf8.status().message().find("byte 3"), std::string::npos) << bad_utf8.status();
  auto bad_pair = t.EncodePair("fine", "\xFF");
  ASSERT_FALSE(bad_pair.ok());
  EXPECT_NE(bad_pair.status().message().find("second text"), std::string::npos)
      << bad_pair.status();
  auto one = t.Encode("text", 1);
  ASSERT_FALSE(one.ok());
  EXPECT_NE(one.status().message().find("at least 2"), std::string::npos) << one.status();
  auto three = t.EncodePair("a", "b", 3);
  ASSERT_FALSE(three.ok());
  EXPECT_NE(three.status().message().find("at least 4"), std::string::npos) << three.status();
}

TEST(UnigramTokenizer, ConcurrentEncodesAgree) {
  const UnigramTokenizer& t = Legacy();
  const std::vector<std::string> texts = {"Grüße aus Köln", "東京都の天気", "naïve café ﬁnance",
                                          "  many   spaces  ", "emoji 👩‍👩‍👧 ok"};
  std::vector<std::vector<int32_t>> want;
  for (const std::string& text : texts) {
    ASSERT_OK_AND_ASSIGN(const auto e, t.Encode(text));
    want.push_back(e.ids);
  }
  std::vector<std::thread> threads;
  std::vector<int> failures(4, 0);
  for (int k = 0; k < 4; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 50; ++round) {
        for (size_t i = 0; i < texts.size(); ++i) {
          auto e = t.Encode(texts[i]);
          failures[k] += !e.ok() || e->ids != want[i];
        }
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int f : failures) EXPECT_EQ(f, 0);
}

// ---------------------------------------------------------------------------
// Loading: what is refused, by name
// ---------------------------------------------------------------------------

void ExpectLoadError(const json& j, const std::string& needle) {
  auto t = FromJson(j);
  ASSERT_FALSE(t.ok()) << "loaded although " << needle;
  EXPECT_TRUE(t.status().IsInvalidArgument()) << t.status();
  EXPECT_NE(t.status().message().find(needle), std::string::npos) << t.status();
}

TEST(UnigramTokenizer, RefusesWhatItDoesNotImplement) {
  const json base = VariantJson("legacy");
  {
    json j = base;
    j["normalizer"]["normalizers"][1] = {{"type", "Lowercase"}};
    ExpectLoadError(j, "\"Lowercase\" normalizer");
  }
  {
    json j = base;
    j["normalizer"]["normalizers"][1]["pattern"] = {{"Regex", "\\s+"}};
    ExpectLoadError(j, "is not supported (a String, or the Regex");
  }
  {
    json j = base;
    j["pre_tokenizer"] = {{"type", "Whitespace"}};
    ExpectLoadError(j, "\"Whitespace\" pre-tokenizer");
  }
  {
    json j = base;
    j["pre_tokenizer"]["prepend_scheme"] = "sometimes";
    ExpectLoadError(j, "\"sometimes\"");
  }
  {
    json j = base;
    j["model"]["byte_fallback"] = true;
    ExpectLoadError(j, "byte_fallback");
  }
  {
    json j = base;
    j["model"]["unk_id"] = nullptr;
    ExpectLoadError(j, "unk_id");
  }
  {
    json j = base;
    j["model"]["vocab"][5] = json::array({"piece"});
    ExpectLoadError(j, "model.vocab[5]");
  }
  {
    json j = base;
    j["added_tokens"][4]["normalized"] = true;
    ExpectLoadError(j, "normalized or single_word");
  }
  {
    json j = base;
    j["post_processor"] = {{"type", "ByteLevel"}};
    ExpectLoadError(j, "post_processor type \"ByteLevel\"");
  }
  {
    json j = base;
    j["model"] = {{"type", "BPE"}};
    ExpectLoadError(j, "\"BPE\"");
  }
  ExpectLoadError(json::array(), "malformed JSON");
}

TEST(UnigramTokenizer, RefusesAMalformedCharsmap) {
  const json base = VariantJson("legacy");
  auto with_charsmap = [&](const std::string& bytes) {
    json j = base;
    j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = Base64Encode(bytes);
    return j;
  };
  ExpectLoadError(with_charsmap("ab"), "shorter than its 4-byte header");
  // A trie larger than the blob.
  ExpectLoadError(with_charsmap(std::string("\x10\x00\x00\x00", 4) + "abcd"), "16-byte trie");
  // Replacements that are not UTF-8.
  ExpectLoadError(with_charsmap(std::string("\x04\x00\x00\x00", 4) + std::string(4, '\0') + "\xFF"),
                  "not UTF-8");
  json not_base64 = base;
  not_base64["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "***";
  ExpectLoadError(not_base64, "not base64");
}

TEST(UnigramTokenizer, FileErrors) {
  auto missing = UnigramTokenizer::FromFile(kDir + "/no/such/tokenizer.json");
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status();
}

// A hand-made tokenizer whose every choice is known: Viterbi picks the best
// total score, ties go to the path found first, unknown chars fuse into one
// unk token, and the prepended mark shares the first char's bytes.
TEST(UnigramTokenizer, ViterbiOnAHandMadeVocabulary) {
  json j = {
      {"added_tokens", json::array()},
      {"normalizer", nullptr},
      {"pre_tokenizer",
       {{"type", "Metaspace"},
        {"replacement", "\u2581"},
        {"prepend_scheme", "always"},
        {"split", true}}},
      {"post_processor", nullptr},
      {"model",
       {{"type", "Unigram"},
        {"unk_id", 0},
        {"vocab",
         json::array({json::array({"<unk>", 0.0}), json::array({"\u2581", -1.0}),
                      json::array({"a", -1.0}), json::array({"b", -1.0}), json::array({"ab", -1.5}),
                      json::array({"\u2581ab", -4.0}), json::array({"c", -2.0})})}}},
  };
  ASSERT_OK_AND_ASSIGN(auto t, FromJson(j));
  // "▁ab": ▁ + ab = -2.5 beats ▁ab = -4 and ▁ + a + b = -3.
  ASSERT_OK_AND_ASSIGN(auto e, t->Encode("ab"));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"\u2581", "ab"}));
  EXPECT_EQ(e.offsets, (std::vector<std::pair<size_t, size_t>>{{0, 1}, {0, 2}}));
  // x and y are unknown: one fused unk token "xy" (id 0) between known ones.
  ASSERT_OK_AND_ASSIGN(e, t->Encode("cxyc"));
  EXPECT_EQ(e.tokens, (std::vector<std::string>{"\u2581", "c", "xy", "c"}));
  EXPECT_EQ(e.ids, (std::vector<int32_t>{1, 6, 0, 6}));
  EXPECT_EQ(e.offsets[2], (std::pair<size_t, size_t>{1, 3}));
}

}  // namespace
}  // namespace flashembed::encoders
