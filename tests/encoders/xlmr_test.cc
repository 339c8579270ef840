// XLM-RoBERTa folders, text in and vector out: the fixtures under
// testdata/xlmr/ are tiny random XLM-R models in the Hugging Face layout
// (sentence-transformers modules included) over a SentencePiece Unigram
// tokenizer trained here. Their reference.jsonl holds, per text, the ids of
// Hugging Face's `tokenizers` (truncated to max_seq_length) and the embedding
// of an independent PyTorch implementation (tools/fixtures/gen_xlmr_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encoders/encoder.h"
#include "tests/encoders/embedding_match.h"
#include "tests/encoders/model_folder_fixture.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

namespace fs = std::filesystem;
using flashembed::testing::TempDir;

using testing::ReadJsonFile;

std::string FixtureDir(const std::string& name) { return testing::FixtureDir("xlmr", name); }

struct Reference {
  std::string text;
  std::vector<int32_t> ids;
  std::vector<double> embedding;
};

std::vector<Reference> ReadReference(const std::string& dir) {
  std::vector<Reference> refs;
  for (const nlohmann::json& j : testing::ReadReferenceLines(dir)) {
    refs.push_back({j["text"].get<std::string>(), j["ids"].get<std::vector<int32_t>>(),
                    j["embedding"].get<std::vector<double>>()});
  }
  return refs;
}

class XlmrFixture : public ::testing::TestWithParam<std::string> {};

// Through the public path (NewTextEncoder("model:DIR")): Hugging Face's ids,
// and PyTorch's vectors whether the texts are encoded together or alone.
TEST_P(XlmrFixture, MatchesHuggingFaceIdsAndPyTorchEmbeddings) {
  const std::string dir = FixtureDir(GetParam());
  const std::vector<Reference> refs = ReadReference(dir);
  ASSERT_GE(refs.size(), 30u) << dir;
  const size_t max_seq =
      ReadJsonFile(dir + "/sentence_bert_config.json")["max_seq_length"].get<size_t>();
  ASSERT_OK_AND_ASSIGN(auto encoder, NewTextEncoder("model:" + dir, 0));
  EXPECT_TRUE(encoder->spec().starts_with("xlmr/v1;id=")) << encoder->spec();
  EXPECT_EQ(encoder->max_tokens(), max_seq);
  const int dim = encoder->dim();

  size_t truncated = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const Reference& ref = refs[i];
    const std::string what =
        GetParam() + " text " + std::to_string(i) + " " + nlohmann::json(ref.text).dump();
    ASSERT_EQ(ref.embedding.size(), static_cast<size_t>(dim)) << what;
    ASSERT_OK_AND_ASSIGN(auto tokenization, encoder->Tokenize(ref.text, max_seq));
    EXPECT_EQ(tokenization.ids, ref.ids) << what;
    ASSERT_OK_AND_ASSIGN(auto whole, encoder->Tokenize(ref.text, 0));
    if (whole.ids.size() > max_seq) ++truncated;
  }
  EXPECT_GE(truncated, 2u) << "texts longer than max_seq_length " << max_seq;

  std::vector<std::string_view> texts;
  for (const Reference& ref : refs) texts.push_back(ref.text);
  std::vector<float> all(refs.size() * dim);
  ASSERT_OK(encoder->Encode(texts, all));
  std::vector<float> one(dim);
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string what =
        GetParam() + " text " + std::to_string(i) + " " + nlohmann::json(refs[i].text).dump();
    ExpectEmbeddingMatches(std::span<const float>(all).subspan(i * dim, dim), refs[i].embedding,
                           what + " (batched)");
    ASSERT_OK(encoder->Encode(std::span(texts).subspan(i, 1), one));
    ExpectEmbeddingMatches(one, refs[i].embedding, what + " (alone)");
  }
  // The same ids given directly, without <s> and </s>: the same vectors.
  std::vector<std::vector<int32_t>> ids;
  for (const Reference& ref : refs) ids.emplace_back(ref.ids.begin() + 1, ref.ids.end() - 1);
  std::vector<float> by_ids(refs.size() * dim);
  ASSERT_OK(encoder->EncodeTokenIds(ids, by_ids));
  for (size_t i = 0; i < refs.size(); ++i) {
    ExpectEmbeddingMatches(std::span<const float>(by_ids).subspan(i * dim, dim), refs[i].embedding,
                           GetParam() + " ids of text " + std::to_string(i));
  }
}

// The chunker's view of the tokens: byte spans in order, and a token
// continues a word exactly when it lacks the word-start mark.
TEST_P(XlmrFixture, TokenSpansFollowTheWordStartMark) {
  ASSERT_OK_AND_ASSIGN(auto encoder, NewTextEncoder("model:" + FixtureDir(GetParam()), 0));
  const std::string text = "Grüße aus Köln: the quick brown fox — 東京の天気は晴れ。";
  ASSERT_OK_AND_ASSIGN(auto spans, encoder->TokenSpans(text));
  ASSERT_OK_AND_ASSIGN(auto tokenization, encoder->Tokenize(text, 0));
  ASSERT_EQ(spans.size() + 2, tokenization.tokens.size());
  EXPECT_EQ(encoder->special_tokens(), 2u);
  for (size_t i = 0; i < spans.size(); ++i) {
    const std::string& token = tokenization.tokens[i + 1];
    EXPECT_LE(spans[i].begin, spans[i].end);
    EXPECT_LE(spans[i].end, text.size());
    if (i > 0) {
      EXPECT_GE(spans[i].begin, spans[i - 1].begin);
    }
    if (i > 0 && spans[i].begin >= spans[i - 1].end) {
      EXPECT_EQ(spans[i].continues_word, !std::string_view(token).starts_with("\u2581")) << token;
    }
  }
  EXPECT_FALSE(spans[0].continues_word);
}

INSTANTIATE_TEST_SUITE_P(Xlmr, XlmrFixture,
                         ::testing::Values("mean_norm_f32", "cls_dense_f16_prefixed", "max_bf16",
                                           "mean_dense_identity_f32"),
                         [](const auto& info) { return info.param; });

std::string CopyFixture(const TempDir& dir, const std::string& name) {
  return testing::CopyFolder(dir, FixtureDir(name), name);
}

void ExpectRefused(const std::string& folder, StatusCode code, const std::string& needle1,
                   const std::string& needle2 = "") {
  auto encoder = NewTextEncoder("model:" + folder, 0);
  ASSERT_FALSE(encoder.ok()) << folder;
  EXPECT_EQ(encoder.status().code(), code) << encoder.status();
  EXPECT_NE(encoder.status().message().find(needle1), std::string::npos) << encoder.status();
  EXPECT_NE(encoder.status().message().find(needle2), std::string::npos) << encoder.status();
}

// The Dense module's output width is the encoder's; a collection's spec
// pins the module's files, so a changed Dense weight is refused on reopen.
TEST(XlmrDense, WidthAndIdentity) {
  TempDir dir;
  const std::string folder = CopyFixture(dir, "cls_dense_f16_prefixed");
  const auto dense_config = ReadJsonFile(folder + "/2_Dense/config.json");
  ASSERT_OK_AND_ASSIGN(auto encoder, NewTextEncoder("model:" + folder, 0));
  EXPECT_EQ(encoder->dim(), dense_config["out_features"].get<int>());
  EXPECT_NE(encoder->dim(), ReadJsonFile(folder + "/config.json")["hidden_size"].get<int>());
  const std::string spec = encoder->spec();
  ASSERT_OK(TextEncoderFromSpec(spec).status());
  {
    std::fstream f(folder + "/2_Dense/model.safetensors",
                   std::ios::in | std::ios::out | std::ios::binary);
    f.seekg(-1, std::ios::end);
    const char last = static_cast<char>(f.get());
    f.seekp(-1, std::ios::end);
    f.put(static_cast<char>(last ^ 0x01));
  }
  auto reopened = TextEncoderFromSpec(spec);
  ASSERT_FALSE(reopened.ok());
  EXPECT_NE(reopened.status().message().find("changed since"), std::string::npos)
      << reopened.status();
}

// create --dim N below the model's width: the first N dimensions, unit
// length again when the model normalises; the spec records N and re-creates
// the same encoder; a width above the model's is refused.
TEST(XlmrMatryoshka, TruncatesAndRenormalises) {
  const std::vector<std::string_view> texts = {"query: how cold is it", "passage: 東京は寒い",
                                               "Grüße"};
  for (const char* name : {"mean_norm_f32", "max_bf16"}) {
    const std::string dir = FixtureDir(name);
    const bool normalizes = std::string(name) == "mean_norm_f32";
    ASSERT_OK_AND_ASSIGN(auto full, NewTextEncoder("model:" + dir, 0));
    const int width = full->dim();
    const int cut = width / 2;
    ASSERT_OK_AND_ASSIGN(auto small, NewTextEncoder("model:" + dir, cut));
    EXPECT_EQ(small->dim(), cut);
    EXPECT_NE(small->spec().find(";dim=" + std::to_string(cut) + ";"), std::string::npos)
        << small->spec();
    ASSERT_OK_AND_ASSIGN(auto again, TextEncoderFromSpec(small->spec()));
    EXPECT_EQ(again->dim(), cut);
    std::vector<float> a(texts.size() * width), b(texts.size() * cut), c(texts.size() * cut);
    ASSERT_OK(full->Encode(texts, a));
    ASSERT_OK(small->Encode(texts, b));
    ASSERT_OK(again->Encode(texts, c));
    EXPECT_EQ(b, c);
    for (size_t i = 0; i < texts.size(); ++i) {
      double norm = 0;
      for (int k = 0; k < cut; ++k)
        norm += static_cast<double>(a[i * width + k]) * a[i * width + k];
      const double scale = normalizes ? 1.0 / std::sqrt(norm) : 1.0;
      double got_norm = 0;
      for (int k = 0; k < cut; ++k) {
        EXPECT_NEAR(b[i * cut + k], a[i * width + k] * scale, 1e-6) << name << " " << k;
        got_norm += static_cast<double>(b[i * cut + k]) * b[i * cut + k];
      }
      if (normalizes) {
        EXPECT_NEAR(got_norm, 1.0, 1e-5);
      }
    }
    ASSERT_OK_AND_ASSIGN(auto same, NewTextEncoder("model:" + dir, width));
    EXPECT_EQ(same->spec(), full->spec());
    auto wider = NewTextEncoder("model:" + dir, width + 1);
    ASSERT_FALSE(wider.ok());
    EXPECT_NE(wider.status().message().find("larger than the model's " + std::to_string(width)),
              std::string::npos)
        << wider.status();
  }
}

TEST(XlmrErrors, RefusesWhatItCannotRun) {
  TempDir dir;
  {
    // Only the SentencePiece model, no tokenizer.json.
    const std::string folder = CopyFixture(dir, "mean_norm_f32");
    fs::remove(folder + "/tokenizer.json");
    std::ofstream(folder + "/vocab.txt") << "<s>\n<pad>\n</s>\n<unk>\n";
    ExpectRefused(folder, StatusCode::kInvalidArgument, "xlm-roberta",
                  "needs a tokenizer.json with a Unigram model");
  }
  {
    // A byte-level BPE tokenizer.json (RoBERTa's) is named, not guessed at.
    const std::string folder = CopyFixture(dir, "max_bf16");
    auto tok = ReadJsonFile(folder + "/tokenizer.json");
    tok["model"] = {{"type", "BPE"}, {"vocab", nlohmann::json::object()}, {"merges", {}}};
    std::ofstream(folder + "/tokenizer.json") << tok.dump();
    ExpectRefused(folder, StatusCode::kInvalidArgument, "a BPE tokenizer is not supported");
  }
  {
    // 512 tokens is the most an XLM-R with 514 positions can take.
    const std::string folder = CopyFixture(dir, "mean_norm_f32");
    const int max_pos = ReadJsonFile(folder + "/config.json")["max_position_embeddings"].get<int>();
    auto sbert = ReadJsonFile(folder + "/sentence_bert_config.json");
    sbert["max_seq_length"] = max_pos - 1;
    std::ofstream(folder + "/sentence_bert_config.json") << sbert.dump();
    ExpectRefused(folder, StatusCode::kInvalidArgument, "max_seq_length",
                  std::to_string(max_pos - 2));
  }
  {
    // Dense weights only as pytorch_model.bin (older sentence-transformers).
    const std::string folder = CopyFixture(dir, "cls_dense_f16_prefixed");
    fs::rename(folder + "/2_Dense/model.safetensors", folder + "/2_Dense/pytorch_model.bin");
    ExpectRefused(folder, StatusCode::kNotFound, "2_Dense/model.safetensors", "safetensors format");
  }
  {
    const std::string folder = CopyFixture(dir, "cls_dense_f16_prefixed");
    auto config = ReadJsonFile(folder + "/2_Dense/config.json");
    config["activation_function"] = "torch.nn.modules.activation.Sigmoid";
    std::ofstream(folder + "/2_Dense/config.json") << config.dump();
    ExpectRefused(folder, StatusCode::kInvalidArgument, "Sigmoid", "Identity, Tanh, ReLU");
    config["activation_function"] = "torch.nn.modules.activation.Tanh";
    config["in_features"] = config["in_features"].get<int>() + 1;
    std::ofstream(folder + "/2_Dense/config.json") << config.dump();
    ExpectRefused(folder, StatusCode::kInvalidArgument, "in_features");
  }
  {
    const std::string folder = CopyFixture(dir, "max_bf16");
    auto config = ReadJsonFile(folder + "/config.json");
    config["model_type"] = "deberta-v2";
    std::ofstream(folder + "/config.json") << config.dump();
    ExpectRefused(folder, StatusCode::kInvalidArgument, "model_type \"deberta-v2\"",
                  "bert and xlm-roberta");
  }
}

}  // namespace
}  // namespace flashembed::encoders
