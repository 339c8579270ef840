#include "encoders/clip_model.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <thread>

#include <nlohmann/json.hpp>

#include "tests/encoders/embedding_match.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

using testing::TempDir;

Status StatusOf(const Status& s) { return s; }
template <typename T>
Status StatusOf(const Result<T>& r) {
  return r.status();
}

// expr fails with `code` and a message containing `text`.
#define EXPECT_THAT_STATUS(expr, want_code, text)                      \
  do {                                                                 \
    const Status fe_s_ = StatusOf(expr);                               \
    EXPECT_EQ(fe_s_.code(), want_code) << fe_s_;                       \
    EXPECT_NE(fe_s_.message().find(text), std::string::npos) << fe_s_; \
  } while (0)

std::string FixtureDir(const std::string& name) {
  return std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/clip/" + name;
}

// One line of reference.jsonl: a text (ids) or an image (pixels) and the
// vectors of the reference, of the reference with the other activation, and
// (texts) of the reference without the causal mask.
struct Input {
  std::vector<int32_t> ids;
  std::vector<float> pixels;
  std::vector<double> vector, wrong_act, no_causal;
  bool image() const { return !pixels.empty(); }
};

std::vector<Input> ReadReference(const std::string& dir, const ClipConfig& config) {
  const size_t image_floats = 3 * config.image_size * config.image_size;
  std::ifstream bin(dir + "/pixels.bin", std::ios::binary);
  std::vector<Input> inputs;
  std::ifstream in(dir + "/reference.jsonl");
  std::string line;
  while (std::getline(in, line)) {
    auto j = nlohmann::json::parse(line);
    Input input;
    if (j.contains("ids")) {
      input.ids = j["ids"].get<std::vector<int32_t>>();
      input.no_causal = j["no_causal"].get<std::vector<double>>();
    } else {
      input.pixels.resize(image_floats);
      bin.seekg(j["pixels_index"].get<size_t>() * image_floats * sizeof(float));
      bin.read(reinterpret_cast<char*>(input.pixels.data()), image_floats * sizeof(float));
      EXPECT_TRUE(bin.good()) << dir << "/pixels.bin";
    }
    input.vector = j["vector"].get<std::vector<double>>();
    input.wrong_act = j["wrong_act"].get<std::vector<double>>();
    inputs.push_back(std::move(input));
  }
  return inputs;
}

double MaxAbsError(std::span<const float> got, const std::vector<double>& want) {
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(got[i] - want[i]));
  return err;
}

struct Loaded {
  ClipConfig config;
  std::unique_ptr<ClipModel> model;
  std::vector<Input> inputs;
};

Loaded Load(const std::string& name) {
  Loaded l;
  const std::string dir = FixtureDir(name);
  auto config = ClipConfig::FromFile(dir + "/config.json");
  EXPECT_TRUE(config.ok()) << config.status().ToString();
  l.config = *config;
  auto model = ClipModel::Load(l.config, dir + "/model.safetensors");
  EXPECT_TRUE(model.ok()) << model.status().ToString();
  if (model.ok()) l.model = std::move(model).value();
  l.inputs = ReadReference(dir, l.config);
  return l;
}

class ClipModelReference : public ::testing::TestWithParam<std::string> {};

// Every reference vector (PyTorch, torch.nn modules, same weights) is
// reproduced, for texts and images, embedded together or one at a time. The
// references of the same model with the other activation (GELU for
// quick_gelu) and without the causal mask are not: the comparison is tight
// enough to catch either mistake.
TEST_P(ClipModelReference, MatchesPyTorchReference) {
  Loaded l = Load(GetParam());
  ASSERT_NE(l.model, nullptr);
  const int dim = l.model->dim();
  std::vector<std::vector<int32_t>> texts;
  std::vector<float> pixels;
  for (const Input& in : l.inputs) {
    if (in.image()) {
      pixels.insert(pixels.end(), in.pixels.begin(), in.pixels.end());
    } else {
      texts.push_back(in.ids);
    }
  }
  const int images = static_cast<int>(l.inputs.size() - texts.size());
  ASSERT_GE(texts.size(), 5u);
  ASSERT_GE(images, 3);
  std::vector<float> text_out(texts.size() * dim), image_out(images * dim);
  ASSERT_OK(l.model->EncodeText(texts, text_out));
  ASSERT_OK(l.model->EncodeImages(pixels, images, image_out));
  size_t t = 0, i = 0;
  for (const Input& in : l.inputs) {
    const std::string what =
        GetParam() + (in.image() ? " image #" + std::to_string(i) : " text #" + std::to_string(t));
    std::span<const float> batched(
        in.image() ? image_out.data() + i * dim : text_out.data() + t * dim, dim);
    ExpectEmbeddingMatches(batched, in.vector, what + " batched");
    std::vector<float> one(dim);
    if (in.image()) {
      ASSERT_OK(l.model->EncodeImages(in.pixels, 1, one));
      ++i;
    } else {
      ASSERT_OK(l.model->EncodeText(std::span(&in.ids, 1), one));
      ++t;
      EXPECT_GT(MaxAbsError(one, in.no_causal), 1e-3) << what << ": no causal mask would pass";
    }
    ExpectEmbeddingMatches(one, in.vector, what + " alone");
    EXPECT_GT(MaxAbsError(one, in.wrong_act), 1e-3) << what << ": the other activation would pass";
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, ClipModelReference,
                         ::testing::Values("tiny_quickgelu_f32", "tiny_gelu_f16_legacy_eos"),
                         [](const auto& info) { return info.param; });

// Encode calls are const and may run from several threads at once; every
// thread gets the vectors a lone caller gets.
TEST(ClipModel, ConcurrentCallsAgreeWithASerialOne) {
  Loaded l = Load("tiny_quickgelu_f32");
  ASSERT_NE(l.model, nullptr);
  const Input& image = l.inputs.back();
  ASSERT_TRUE(image.image());
  std::vector<std::vector<int32_t>> texts;
  for (const Input& in : l.inputs) {
    if (!in.image()) texts.push_back(in.ids);
  }
  const int dim = l.model->dim();
  std::vector<float> text_serial(texts.size() * dim), image_serial(dim);
  ASSERT_OK(l.model->EncodeText(texts, text_serial));
  ASSERT_OK(l.model->EncodeImages(image.pixels, 1, image_serial));
  constexpr int kThreads = 4;
  std::vector<std::vector<float>> text_got(kThreads, std::vector<float>(text_serial.size()));
  std::vector<std::vector<float>> image_got(kThreads, std::vector<float>(dim));
  std::vector<Status> status(2 * kThreads);
  std::vector<std::thread> threads;
  for (int k = 0; k < kThreads; ++k) {
    threads.emplace_back([&, k] {
      for (int round = 0; round < 5; ++round) {
        status[2 * k] = l.model->EncodeText(texts, text_got[k]);
        status[2 * k + 1] = l.model->EncodeImages(image.pixels, 1, image_got[k]);
      }
    });
  }
  for (auto& th : threads) th.join();
  for (int k = 0; k < kThreads; ++k) {
    ASSERT_OK(status[2 * k]);
    ASSERT_OK(status[2 * k + 1]);
    EXPECT_EQ(text_got[k], text_serial) << "thread " << k;
    EXPECT_EQ(image_got[k], image_serial) << "thread " << k;
  }
}

TEST(ClipModel, RefusesBadInputsNamingThem) {
  Loaded l = Load("tiny_quickgelu_f32");
  ASSERT_NE(l.model, nullptr);
  const int dim = l.model->dim();
  std::vector<float> out(dim);
  std::vector<std::vector<int32_t>> empty = {{}};
  EXPECT_THAT_STATUS(l.model->EncodeText(empty, out), StatusCode::kInvalidArgument,
                     "sequence 0 has 0 tokens");
  std::vector<std::vector<int32_t>> too_long = {std::vector<int32_t>(21, 5)};
  EXPECT_THAT_STATUS(l.model->EncodeText(too_long, out), StatusCode::kInvalidArgument,
                     "21 tokens; 1..20");
  std::vector<std::vector<int32_t>> bad_id = {{298, 300, 299}};
  EXPECT_THAT_STATUS(l.model->EncodeText(bad_id, out), StatusCode::kInvalidArgument,
                     "token id 300 outside the vocabulary of 300");
  std::vector<float> pixels(3 * 32 * 32 - 1);
  EXPECT_THAT_STATUS(l.model->EncodeImages(pixels, 1, out), StatusCode::kInvalidArgument,
                     "3072 pixel values");
}

// Config and weights problems are refused at load, naming the file and what
// is wrong.
TEST(ClipModel, RefusesBadFoldersNamingTheProblem) {
  TempDir tmp;
  const std::string src = FixtureDir("tiny_quickgelu_f32");
  auto config_json = [&] {
    std::ifstream in(src + "/config.json");
    return nlohmann::json::parse(in);
  };
  auto write = [&](const nlohmann::json& j) {
    std::ofstream(tmp.path() + "/config.json") << j.dump();
    return tmp.path() + "/config.json";
  };
  nlohmann::json j = config_json();
  j["model_type"] = "bert";
  EXPECT_THAT_STATUS(ClipConfig::FromFile(write(j)), StatusCode::kInvalidArgument,
                     "model_type \"bert\" is not \"clip\"");
  j = config_json();
  j["vision_config"]["hidden_act"] = "relu";
  EXPECT_THAT_STATUS(ClipConfig::FromFile(write(j)), StatusCode::kInvalidArgument,
                     "vision_config: hidden_act relu is not supported");
  j = config_json();
  j["vision_config"]["patch_size"] = 7;
  EXPECT_THAT_STATUS(ClipConfig::FromFile(write(j)), StatusCode::kInvalidArgument,
                     "image_size 32 is not a multiple of patch_size 7");
  j = config_json();
  j["text_config"]["num_attention_heads"] = 5;
  EXPECT_THAT_STATUS(ClipConfig::FromFile(write(j)), StatusCode::kInvalidArgument,
                     "text_config: hidden_size 32 is not a multiple of num_attention_heads 5");
  j = config_json();
  j.erase("text_config");
  EXPECT_THAT_STATUS(ClipConfig::FromFile(write(j)), StatusCode::kInvalidArgument,
                     "missing object \"text_config\"");
  EXPECT_THAT_STATUS(ClipConfig::FromFile(tmp.path() + "/none.json"), StatusCode::kNotFound,
                     "none.json");
  // A config that does not match the weights: the tensor is named.
  j = config_json();
  j["projection_dim"] = 25;
  ASSERT_OK_AND_ASSIGN(ClipConfig wrong, ClipConfig::FromFile(write(j)));
  EXPECT_THAT_STATUS(ClipModel::Load(wrong, src + "/model.safetensors"),
                     StatusCode::kInvalidArgument, "text_projection.weight");
  // Weights of another architecture.
  ASSERT_OK_AND_ASSIGN(ClipConfig right, ClipConfig::FromFile(src + "/config.json"));
  EXPECT_THAT_STATUS(
      ClipModel::Load(right, std::string(FLASHEMBED_SOURCE_DIR) +
                                 "/tests/encoders/testdata/bert/mean_norm_f32/model.safetensors"),
      StatusCode::kInvalidArgument,
      "missing tensor \"text_model.embeddings.token_embedding.weight\"");
}

}  // namespace
}  // namespace flashembed::encoders
