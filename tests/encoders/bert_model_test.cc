#include "encoders/bert_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "encoders/model_folder.h"
#include "tests/encoders/embedding_match.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

using testing::TempDir;

std::string FixtureDir(const std::string& name) {
  return std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert/" + name;
}

struct Reference {
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<double>> embeddings;
};

Reference ReadReference(const std::string& dir) {
  Reference r;
  std::ifstream in(dir + "/reference.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    r.ids.push_back(j["ids"].get<std::vector<int32_t>>());
    r.embeddings.push_back(j["embedding"].get<std::vector<double>>());
  }
  return r;
}

class BertModelReference : public ::testing::TestWithParam<std::string> {};

// Every reference embedding (PyTorch, torch.nn modules, same weights) is
// reproduced: cosine >= 0.9999 and max abs error <= 1e-4, whether the
// sequences are embedded together (packed) or one at a time.
TEST_P(BertModelReference, MatchesPyTorchReference) {
  const std::string dir = FixtureDir(GetParam());
  ASSERT_OK_AND_ASSIGN(ModelFolder folder, ModelFolder::Read(dir));
  ASSERT_OK_AND_ASSIGN(auto model, BertModel::Load(folder));
  Reference ref = ReadReference(dir);
  ASSERT_GE(ref.ids.size(), 5u);
  const int dim = model->dim();
  std::vector<float> all(ref.ids.size() * dim);
  ASSERT_OK(model->Forward(ref.ids, all));
  for (size_t i = 0; i < ref.ids.size(); ++i) {
    std::vector<float> row(all.begin() + i * dim, all.begin() + (i + 1) * dim);
    ExpectEmbeddingMatches(row, ref.embeddings[i], GetParam() + " batched #" + std::to_string(i));
    std::vector<float> one(dim);
    ASSERT_OK(model->Forward(std::span(ref.ids).subspan(i, 1), one));
    ExpectEmbeddingMatches(one, ref.embeddings[i], GetParam() + " alone #" + std::to_string(i));
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, BertModelReference,
                         ::testing::Values("mean_norm_f32", "cls_f16_prefixed", "max_bf16_relu"));

// Forward is const and may run from several threads at once; every thread
// gets the vectors a lone caller gets.
TEST(BertModel, ConcurrentForwardCallsAgreeWithASerialOne) {
  const std::string dir = FixtureDir("mean_norm_f32");
  ASSERT_OK_AND_ASSIGN(ModelFolder folder, ModelFolder::Read(dir));
  ASSERT_OK_AND_ASSIGN(auto model, BertModel::Load(folder));
  Reference ref = ReadReference(dir);
  const size_t floats = ref.ids.size() * model->dim();
  std::vector<float> serial(floats);
  ASSERT_OK(model->Forward(ref.ids, serial));
  constexpr int kThreads = 4;
  std::vector<std::vector<float>> got(kThreads, std::vector<float>(floats));
  std::vector<Status> status(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 5 && status[t].ok(); ++round) {
        status[t] = model->Forward(ref.ids, got[t]);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int t = 0; t < kThreads; ++t) {
    ASSERT_OK(status[t]);
    for (size_t i = 0; i < floats; ++i) ASSERT_NEAR(got[t][i], serial[i], 1e-6) << t << " " << i;
  }
}

TEST(BertModel, RefusesBadInputs) {
  ASSERT_OK_AND_ASSIGN(ModelFolder folder, ModelFolder::Read(FixtureDir("mean_norm_f32")));
  ASSERT_OK_AND_ASSIGN(auto model, BertModel::Load(folder));
  EXPECT_EQ(model->max_tokens(), 48);
  std::vector<float> out(model->dim());
  std::vector<std::vector<int32_t>> empty = {{}};
  EXPECT_TRUE(model->Forward(empty, out).IsInvalidArgument());
  std::vector<std::vector<int32_t>> too_long = {std::vector<int32_t>(49, 5)};
  Status s = model->Forward(too_long, out);
  EXPECT_NE(s.message().find("has 49 tokens; 1..48"), std::string::npos) << s;
  std::vector<std::vector<int32_t>> bad_id = {{2, 120, 3}};
  s = model->Forward(bad_id, out);
  EXPECT_NE(s.message().find("token id 120 outside the vocabulary of 120"), std::string::npos) << s;
  std::vector<std::vector<int32_t>> two = {{2, 3}, {2, 3}};
  EXPECT_TRUE(model->Forward(two, out).IsInvalidArgument()) << "output too small";
}

// A folder whose config disagrees with its weights is refused, naming the
// file and the tensor.
TEST(BertModel, RefusesWeightsThatDoNotMatchTheConfig) {
  TempDir dir;
  const std::string copy = dir.Sub("model");
  std::filesystem::copy(FixtureDir("mean_norm_f32"), copy,
                        std::filesystem::copy_options::recursive);
  auto config = nlohmann::json::parse(std::ifstream(copy + "/config.json"));
  config["intermediate_size"] = 65;
  std::ofstream(copy + "/config.json") << config.dump();
  ASSERT_OK_AND_ASSIGN(ModelFolder folder, ModelFolder::Read(copy));
  auto model = BertModel::Load(folder);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("encoder.layer.0.intermediate.dense.weight"),
            std::string::npos)
      << model.status();
  EXPECT_NE(model.status().message().find("model.safetensors"), std::string::npos);

  config["intermediate_size"] = 64;
  config["num_hidden_layers"] = 3;
  std::ofstream(copy + "/config.json") << config.dump();
  ASSERT_OK_AND_ASSIGN(folder, ModelFolder::Read(copy));
  model = BertModel::Load(folder);
  ASSERT_FALSE(model.ok());
  EXPECT_NE(model.status().message().find("missing tensor \"encoder.layer.2."), std::string::npos)
      << model.status();
}

}  // namespace
}  // namespace flashembed::encoders
