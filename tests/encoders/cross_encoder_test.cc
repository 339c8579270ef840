// Rerankers: tiny random BertForSequenceClassification and
// XLMRobertaForSequenceClassification folders, and per (query, passage) the
// pair ids of Hugging Face's `tokenizers` and the logit and score of an
// independent PyTorch implementation (tools/fixtures/gen_cross_encoder_fixtures.py).
#include "encoders/cross_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/encoders/model_folder_fixture.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

using flashembed::testing::TempDir;

using testing::ReadJsonFile;

std::string FixtureDir(const std::string& name) {
  return testing::FixtureDir("cross_encoder", name);
}

struct Reference {
  std::string query;
  std::string passage;
  std::vector<int32_t> ids;
  std::vector<int32_t> type_ids;
  double logit = 0;
  double score = 0;
};

std::vector<Reference> ReadReference(const std::string& dir) {
  std::vector<Reference> refs;
  for (const nlohmann::json& j : testing::ReadReferenceLines(dir)) {
    refs.push_back({j["query"].get<std::string>(), j["passage"].get<std::string>(),
                    j["ids"].get<std::vector<int32_t>>(), j["type_ids"].get<std::vector<int32_t>>(),
                    j["logit"].get<double>(), j["score"].get<double>()});
  }
  return refs;
}

class CrossEncoderFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(CrossEncoderFixture, MatchesHuggingFaceIdsAndPyTorchScores) {
  const std::string dir = FixtureDir(GetParam());
  const std::vector<Reference> refs = ReadReference(dir);
  ASSERT_GE(refs.size(), 30u);
  ASSERT_TRUE(CrossEncoder::IsCrossEncoderFolder(dir));
  ASSERT_OK_AND_ASSIGN(auto reranker, CrossEncoder::Open(dir));
  EXPECT_TRUE(reranker->spec().starts_with("rerank/v1;id=")) << reranker->spec();
  size_t truncated = 0;
  std::vector<std::string_view> queries, passages;
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string what = GetParam() + " pair " + std::to_string(i);
    ASSERT_OK_AND_ASSIGN(auto tokens, reranker->TokenizePair(refs[i].query, refs[i].passage));
    EXPECT_EQ(tokens.ids, refs[i].ids) << what;
    EXPECT_EQ(tokens.type_ids, refs[i].type_ids) << what;
    truncated += refs[i].ids.size() == reranker->max_tokens();
    queries.push_back(refs[i].query);
    passages.push_back(refs[i].passage);
  }
  EXPECT_GE(truncated, 1u) << "pairs cut at max length " << reranker->max_tokens();
  std::vector<float> logits(refs.size()), scores(refs.size());
  ASSERT_OK(reranker->Score(queries, passages, logits, scores));
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string what = GetParam() + " pair " + std::to_string(i);
    EXPECT_NEAR(logits[i], refs[i].logit, 1e-4) << what;
    EXPECT_NEAR(scores[i], refs[i].score, 1e-4) << what;
    float one_logit = 0, one_score = 0;
    ASSERT_OK(reranker->Score(std::span(queries).subspan(i, 1), std::span(passages).subspan(i, 1),
                              std::span(&one_logit, 1), std::span(&one_score, 1)));
    EXPECT_NEAR(one_logit, logits[i], 1e-5) << what << " alone";
  }
  ASSERT_OK_AND_ASSIGN(auto again, CrossEncoder::FromSpec(reranker->spec()));
  EXPECT_EQ(again->spec(), reranker->spec());
}

INSTANTIATE_TEST_SUITE_P(CrossEncoders, CrossEncoderFixture,
                         ::testing::Values("bert_minilm_f32", "xlmr_f16_identity",
                                           "bert_legacy_sigmoid_bf16"),
                         [](const auto& info) { return info.param; });

TEST(CrossEncoder, ActivationFollowsTheConfig) {
  ASSERT_OK_AND_ASSIGN(auto sigmoid, CrossEncoder::Open(FixtureDir("bert_minilm_f32")));
  EXPECT_EQ(sigmoid->activation(), CrossEncoder::Activation::kSigmoid);
  ASSERT_OK_AND_ASSIGN(auto identity, CrossEncoder::Open(FixtureDir("xlmr_f16_identity")));
  EXPECT_EQ(identity->activation(), CrossEncoder::Activation::kIdentity);
}

std::string CopyFixture(const TempDir& dir, const std::string& name) {
  return testing::CopyFolder(dir, FixtureDir(name), name);
}

void ExpectRefused(const std::string& folder, const std::string& needle) {
  auto e = CrossEncoder::Open(folder);
  ASSERT_FALSE(e.ok()) << folder;
  EXPECT_TRUE(e.status().IsInvalidArgument()) << e.status();
  EXPECT_NE(e.status().message().find(needle), std::string::npos) << e.status();
}

TEST(CrossEncoder, RefusesWhatIsNoOneLabelReranker) {
  TempDir dir;
  {
    const std::string folder = CopyFixture(dir, "bert_minilm_f32");
    auto config = ReadJsonFile(folder + "/config.json");
    config["id2label"] = {{"0", "NO"}, {"1", "YES"}};
    std::ofstream(folder + "/config.json") << config.dump();
    ExpectRefused(folder, "the model has 2 labels");
    config["id2label"] = {{"0", "LABEL_0"}};
    config["sentence_transformers"] = {{"activation_fn", "torch.nn.modules.activation.ReLU"}};
    std::ofstream(folder + "/config.json") << config.dump();
    ExpectRefused(folder, "activation \"torch.nn.modules.activation.ReLU\" is not supported");
    // Tanh is one sentence-transformers allows; a path outside torch is
    // ignored (the default, Sigmoid), as it does without trust_remote_code.
    config["sentence_transformers"] = {{"activation_fn", "torch.nn.modules.activation.Tanh"}};
    std::ofstream(folder + "/config.json") << config.dump();
    ASSERT_OK_AND_ASSIGN(auto tanh, CrossEncoder::Open(folder));
    EXPECT_EQ(tanh->activation(), CrossEncoder::Activation::kTanh);
    config["sentence_transformers"] = {{"activation_fn", "mypackage.Custom"}};
    std::ofstream(folder + "/config.json") << config.dump();
    ASSERT_OK_AND_ASSIGN(auto custom, CrossEncoder::Open(folder));
    EXPECT_EQ(custom->activation(), CrossEncoder::Activation::kSigmoid);
    config.erase("sentence_transformers");
    config["architectures"] = {"BertModel"};
    std::ofstream(folder + "/config.json") << config.dump();
    ExpectRefused(folder, "architecture \"BertModel\" is not a supported reranker");
    EXPECT_FALSE(CrossEncoder::IsCrossEncoderFolder(folder));
  }
  auto missing = CrossEncoder::Open(dir.Sub("nothing_here"));
  ASSERT_FALSE(missing.ok());
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status();
}

TEST(CrossEncoder, RefusesBadPairs) {
  ASSERT_OK_AND_ASSIGN(auto reranker, CrossEncoder::Open(FixtureDir("bert_minilm_f32")));
  std::string_view queries[] = {"fine", "also fine"};
  std::string_view passages[] = {"ok", "bad \xC3\x28"};
  std::vector<float> logits(2), scores(2);
  const Status s = reranker->Score(queries, passages, logits, scores);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("pair 1"), std::string::npos) << s;
  EXPECT_NE(s.message().find("passage"), std::string::npos) << s;
  std::vector<float> short_out(1);
  EXPECT_FALSE(reranker->Score(queries, passages, short_out, scores).ok());
}

}  // namespace
}  // namespace flashembed::encoders
