// Text in, vector out, on real vocabularies: the fixtures under
// testdata/bert_text/ are tiny random BERT models in the Hugging Face folder
// layout over the real bert-base-uncased and bert-base-chinese vocabularies.
// Their reference.jsonl holds, per text, the ids and tokens of Hugging Face's
// `tokenizers` (truncated to the model's max_seq_length) and the embedding of
// an independent PyTorch implementation built from torch.nn modules. See
// tools/fixtures/README.md for how they are made.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encoders/encoder.h"
#include "tests/encoders/embedding_match.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

std::string TextFixtureDir(const std::string& name) {
  return std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert_text/" + name;
}

nlohmann::json ReadJsonFile(const std::string& path) {
  std::ifstream in(path);
  return nlohmann::json::parse(in);
}

struct TextReference {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<std::string> tokens;
  std::vector<double> embedding;
};

std::vector<TextReference> ReadTextReference(const std::string& dir) {
  std::vector<TextReference> refs;
  std::ifstream in(dir + "/reference.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    refs.push_back({j["text"].get<std::string>(), j["ids"].get<std::vector<int32_t>>(),
                    j["tokens"].get<std::vector<std::string>>(),
                    j["embedding"].get<std::vector<double>>()});
  }
  return refs;
}

class TextFixture : public ::testing::TestWithParam<std::string> {};

// Through the public path (NewTextEncoder("model:DIR")): the tokenizer gives
// Hugging Face's ids and tokens, and every text's vector matches PyTorch's,
// whether the texts are encoded together or one at a time.
TEST_P(TextFixture, MatchesHuggingFaceTokensAndPyTorchEmbeddings) {
  const std::string dir = TextFixtureDir(GetParam());
  const std::vector<TextReference> refs = ReadTextReference(dir);
  ASSERT_GE(refs.size(), 20u) << dir;
  const size_t max_seq =
      ReadJsonFile(dir + "/sentence_bert_config.json")["max_seq_length"].get<size_t>();
  ASSERT_OK_AND_ASSIGN(auto encoder, NewTextEncoder("model:" + dir, 0));
  const int dim = encoder->dim();
  EXPECT_EQ(dim, ReadJsonFile(dir + "/config.json")["hidden_size"].get<int>());

  size_t truncated = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const TextReference& ref = refs[i];
    const std::string what = GetParam() + " text " + std::to_string(i) + " " +
                             nlohmann::json(ref.text).dump();
    ASSERT_EQ(ref.embedding.size(), static_cast<size_t>(dim)) << what;
    ASSERT_OK_AND_ASSIGN(auto tokenization, encoder->Tokenize(ref.text, max_seq));
    EXPECT_EQ(tokenization.ids, ref.ids) << what;
    EXPECT_EQ(tokenization.tokens, ref.tokens) << what;
    ASSERT_OK_AND_ASSIGN(auto whole, encoder->Tokenize(ref.text, 0));
    if (whole.ids.size() > max_seq) ++truncated;
  }
  EXPECT_GE(truncated, 2u) << "texts longer than max_seq_length " << max_seq;

  std::vector<std::string_view> texts;
  for (const TextReference& ref : refs) texts.push_back(ref.text);
  std::vector<float> all(refs.size() * dim);
  ASSERT_OK(encoder->Encode(texts, all));
  std::vector<float> one(dim);
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string what = GetParam() + " text " + std::to_string(i) + " " +
                             nlohmann::json(refs[i].text).dump();
    ExpectEmbeddingMatches(std::span<const float>(all).subspan(i * dim, dim), refs[i].embedding,
                  what + " (batched)");
    ASSERT_OK(encoder->Encode(std::span(texts).subspan(i, 1), one));
    ExpectEmbeddingMatches(one, refs[i].embedding, what + " (alone)");
  }
}

INSTANTIATE_TEST_SUITE_P(BertText, TextFixture,
                         ::testing::Values("uncased_mean_f16", "chinese_cls_f32",
                                           "uncased_vocab_max_bf16"),
                         [](const auto& info) { return info.param; });

// Copies the fixture `name` into a fresh folder under `dir`.
std::string CopyFixture(const TempDir& dir, const std::string& name) {
  const std::string copy = dir.Sub(name);
  fs::copy(TextFixtureDir(name), copy, fs::copy_options::recursive);
  return copy;
}

void ExpectRefused(const std::string& folder, const std::string& needle1,
                   const std::string& needle2) {
  auto encoder = NewTextEncoder("model:" + folder, 0);
  ASSERT_FALSE(encoder.ok()) << folder;
  EXPECT_TRUE(encoder.status().IsInvalidArgument()) << encoder.status();
  EXPECT_NE(encoder.status().message().find(needle1), std::string::npos) << encoder.status();
  EXPECT_NE(encoder.status().message().find(needle2), std::string::npos) << encoder.status();
}

// Cut-off weights are refused with an error naming model.safetensors.
TEST(TextFixtureErrors, RefusesTruncatedWeights) {
  TempDir dir;
  const std::string copy = CopyFixture(dir, "chinese_cls_f32");
  const std::string weights = copy + "/model.safetensors";
  ASSERT_OK(NewTextEncoder("model:" + copy, 0).status());
  fs::resize_file(weights, fs::file_size(weights) - 100);  // in the tensor data
  ExpectRefused(copy, "model.safetensors", "");
  fs::resize_file(weights, 200);  // in the JSON header
  ExpectRefused(copy, "model.safetensors", "");
  fs::resize_file(weights, 4);  // not even the header length
  ExpectRefused(copy, "model.safetensors", "");
}

// A vocabulary with more tokens than config.json's vocab_size (there are no
// embedding rows for the extra ids) is refused, naming config.json and both
// sizes; so is a vocab_size that disagrees with the weights.
TEST(TextFixtureErrors, RefusesAVocabularyThatDisagreesWithTheConfig) {
  TempDir dir;
  // vocab.txt-only folder: two extra lines.
  const std::string vocab_only = CopyFixture(dir, "uncased_vocab_max_bf16");
  std::ofstream(vocab_only + "/vocab.txt", std::ios::app) << "extra1\nextra2\n";
  ExpectRefused(vocab_only, "30524 tokens", "config.json declares vocab_size 30522");

  // tokenizer.json folder: config.json claims fewer tokens than the vocab.
  const std::string with_json = CopyFixture(dir, "chinese_cls_f32");
  auto config = ReadJsonFile(with_json + "/config.json");
  config["vocab_size"] = 21000;
  std::ofstream(with_json + "/config.json") << config.dump();
  ExpectRefused(with_json, "21128 tokens", "config.json declares vocab_size 21000");

  // More ids than the weights have rows: the weights are refused.
  config["vocab_size"] = 21200;
  std::ofstream(with_json + "/config.json") << config.dump();
  ExpectRefused(with_json, "model.safetensors", "word_embeddings");
}

// Without tokenizer.json, tokenizer_config.json's do_lower_case /
// strip_accents decide the normalisation (as transformers' BertTokenizer
// does), and a change of them changes the model's identity.
TEST(TextFixtureErrors, VocabOnlyFolderFollowsTokenizerConfig) {
  TempDir dir;
  const std::string folder = CopyFixture(dir, "uncased_vocab_max_bf16");
  ASSERT_OK_AND_ASSIGN(auto lower, NewTextEncoder("model:" + folder, 0));
  ASSERT_OK_AND_ASSIGN(auto tok, lower->Tokenize("Hello Café", 0));
  EXPECT_EQ(tok.tokens, (std::vector<std::string>{"[CLS]", "hello", "cafe", "[SEP]"}));

  std::ofstream(folder + "/tokenizer_config.json") << R"({"do_lower_case": true, "strip_accents": false})";
  ASSERT_OK_AND_ASSIGN(auto accents, NewTextEncoder("model:" + folder, 0));
  ASSERT_OK_AND_ASSIGN(tok, accents->Tokenize("Hello Café", 0));
  // "café" stays accented, and the vocabulary has no piece for it.
  EXPECT_EQ(tok.tokens, (std::vector<std::string>{"[CLS]", "hello", "[UNK]", "[SEP]"}));
  EXPECT_NE(accents->spec(), lower->spec());

  std::ofstream(folder + "/tokenizer_config.json") << R"({"do_lower_case": false})";
  ASSERT_OK_AND_ASSIGN(auto cased, NewTextEncoder("model:" + folder, 0));
  ASSERT_OK_AND_ASSIGN(tok, cased->Tokenize("Hello", 0));
  EXPECT_EQ(tok.tokens, (std::vector<std::string>{"[CLS]", "[UNK]", "[SEP]"}));
  EXPECT_NE(cased->spec(), lower->spec());

  std::ofstream(folder + "/tokenizer_config.json") << R"({"do_lower_case": "yes"})";
  ExpectRefused(folder, "tokenizer_config.json", "\"do_lower_case\" must be true or false");
}

// sentence-transformers' own lowercasing (Python str.lower before the
// tokenizer) is refused, not approximated.
TEST(TextFixtureErrors, RefusesSentenceTransformersLowercasing) {
  TempDir dir;
  const std::string folder = CopyFixture(dir, "uncased_mean_f16");
  std::ofstream(folder + "/sentence_bert_config.json")
      << R"({"max_seq_length": 32, "do_lower_case": true})";
  auto encoder = NewTextEncoder("model:" + folder, 0);
  ASSERT_FALSE(encoder.ok());
  EXPECT_EQ(encoder.status().code(), StatusCode::kNotSupported) << encoder.status();
  EXPECT_NE(encoder.status().message().find("sentence_bert_config.json"), std::string::npos);
}

// Texts the normaliser empties (spaces, controls, zero-width characters)
// have nothing to encode and are refused, naming the text.
TEST(TextFixtureErrors, RefusesTextsWithNothingToEncode) {
  ASSERT_OK_AND_ASSIGN(auto encoder, NewTextEncoder("model:" + TextFixtureDir("uncased_mean_f16"), 0));
  std::vector<float> out(2 * encoder->dim());
  for (std::string_view blank : {"\u200b", "\u3000 \t", "\x01\x02"}) {
    std::string_view texts[] = {"fine", blank};
    Status s = encoder->Encode(texts, out);
    EXPECT_TRUE(s.IsInvalidArgument()) << s;
    EXPECT_NE(s.message().find("text 1: nothing to encode"), std::string::npos) << s;
  }
}

}  // namespace
}  // namespace flashembed::encoders
