#include "encoders/transformer_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "encoders/encoder.h"
#include "tests/encoders/embedding_match.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

using testing::TempDir;

std::string FixtureDir(const std::string& name) {
  return std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert/" + name;
}

// The fixture vocabularies are [PAD] [UNK] [CLS] [SEP] [MASK] w0 w1 ..., so
// the text "w3 w10" tokenizes to [CLS] 8 15 [SEP].
std::string TextFor(const std::vector<int32_t>& ids) {
  std::string text;
  for (int32_t id : ids) {
    if (id < 5) continue;  // specials are added by the tokenizer
    text += (text.empty() ? "w" : " w") + std::to_string(id - 5);
  }
  return text;
}

// Text in, PyTorch's embedding out: tokenizer and forward pass together.
TEST(TransformerEncoder, EncodesTextsLikeTheReference) {
  for (const char* name : {"mean_norm_f32", "cls_f16_prefixed", "max_bf16_relu"}) {
    ASSERT_OK_AND_ASSIGN(auto encoder, TransformerEncoder::Open(FixtureDir(name)));
    std::ifstream in(FixtureDir(name) + "/reference.jsonl");
    std::string line;
    std::vector<std::string> texts;
    std::vector<std::vector<double>> want;
    while (std::getline(in, line)) {
      auto j = nlohmann::json::parse(line);
      auto ids = j["ids"].get<std::vector<int32_t>>();
      if (ids.size() < 3) continue;  // [CLS] alone has no text
      texts.push_back(TextFor(ids));
      want.push_back(j["embedding"].get<std::vector<double>>());
    }
    ASSERT_GE(texts.size(), 5u);
    std::vector<std::string_view> views(texts.begin(), texts.end());
    std::vector<float> out(texts.size() * encoder->dim());
    ASSERT_OK(encoder->Encode(views, out));
    const size_t dim = encoder->dim();
    for (size_t i = 0; i < texts.size(); ++i) {
      ExpectEmbeddingMatches(std::span<const float>(out).subspan(i * dim, dim), want[i],
                             std::string(name) + " text " + std::to_string(i) + ": " + texts[i]);
    }
  }
}

TEST(TransformerEncoder, SpecRoundTripsAndDetectsAChangedFolder) {
  TempDir dir;
  const std::string copy = dir.Sub("model");
  std::filesystem::copy(FixtureDir("mean_norm_f32"), copy,
                        std::filesystem::copy_options::recursive);
  ASSERT_OK_AND_ASSIGN(auto made, NewTextEncoder("model:" + copy, 0));
  const std::string spec = made->spec();
  EXPECT_EQ(spec.rfind("bert/v1;id=", 0), 0u) << spec;
  EXPECT_NE(spec.find(";dim=32;dir=" + copy), std::string::npos) << spec;
  EXPECT_EQ(EncoderNameFromSpec(spec), "model:" + copy);
  ASSERT_OK_AND_ASSIGN(auto again, TextEncoderFromSpec(spec));
  EXPECT_EQ(again->spec(), spec);
  EXPECT_TRUE(NewTextEncoder("model:" + copy, 64).status().IsInvalidArgument());

  // The same path with a changed model (here: a shorter max_seq_length, which
  // changes long texts' vectors) is refused, not silently mixed.
  std::ofstream(copy + "/sentence_bert_config.json") << R"({"max_seq_length": 16})";
  auto changed = TextEncoderFromSpec(spec);
  ASSERT_FALSE(changed.ok());
  EXPECT_NE(changed.status().message().find("changed since"), std::string::npos)
      << changed.status();
  EXPECT_TRUE(TextEncoderFromSpec("bert/v1;id=0;dim=3").status().IsInvalidArgument());
}

TEST(TransformerEncoder, TruncatesLongTextsAndEmbedsBlankOnes) {
  ASSERT_OK_AND_ASSIGN(auto encoder, TransformerEncoder::Open(FixtureDir("mean_norm_f32")));
  std::string long_text;
  for (int i = 0; i < 500; ++i) long_text += "w" + std::to_string(i % 100) + " ";
  // A blank text is embedded as [CLS] [SEP], as sentence-transformers does:
  // "   ", "" and U+3000 all give that one vector, and it is a real one.
  std::string_view texts[] = {long_text, "   ", "", "\u3000"};
  const size_t dim = encoder->dim();
  std::vector<float> out(dim);
  ASSERT_OK(encoder->Encode(std::span(texts, 1), out));
  std::vector<float> all(4 * dim);
  ASSERT_OK(encoder->Encode(texts, all));
  for (size_t i = 0; i < dim; ++i) EXPECT_NEAR(all[i], out[i], 1e-5f) << i;
  double norm = 0;
  for (size_t i = 0; i < dim; ++i) {
    // The same ids in one batch; rows in different GEMM tiles may round
    // differently (AVX2 oneDNN kernels), so not bit for bit.
    EXPECT_NEAR(all[dim + i], all[2 * dim + i], 1e-6f) << i;
    EXPECT_NEAR(all[dim + i], all[3 * dim + i], 1e-6f) << i;
    norm += double(all[dim + i]) * all[dim + i];
  }
  EXPECT_NEAR(norm, 1.0, 1e-4);  // mean_norm normalizes: a real vector, not zeros
  EXPECT_TRUE(TransformerEncoder::Open(FixtureDir("no-such-model")).status().IsNotFound());
}

// Token ids in (the model's own, without [CLS] / [SEP]): the vector of the
// text they come from, bit for bit, truncated the same way when long; ids
// outside the vocabulary are refused, naming the sequence and position.
TEST(TransformerEncoder, TokenIdsEmbedAsTheirText) {
  for (int dim : {0, 8}) {
    ASSERT_OK_AND_ASSIGN(auto encoder, TransformerEncoder::Open(FixtureDir("mean_norm_f32"), dim));
    std::vector<std::vector<int32_t>> ids = {{8, 15}, {5}, {}};
    std::vector<int32_t> long_ids;
    for (int i = 0; i < 500; ++i) long_ids.push_back(5 + i % 100);
    ids.push_back(long_ids);
    std::vector<std::string> texts;
    for (const auto& seq : ids) texts.push_back(TextFor(seq));
    std::vector<std::string_view> views(texts.begin(), texts.end());
    const size_t d = encoder->dim();
    std::vector<float> by_text(ids.size() * d), by_ids(ids.size() * d);
    ASSERT_OK(encoder->Encode(views, by_text));
    ASSERT_OK(encoder->EncodeTokenIds(ids, by_ids));
    EXPECT_EQ(by_ids, by_text) << "dim " << dim;

    std::vector<std::vector<int32_t>> bad = {{8}, {8, 9, 1000000}};
    std::vector<float> out(2 * d);
    Status s = encoder->EncodeTokenIds(bad, out);
    ASSERT_TRUE(s.IsInvalidArgument()) << s;
    EXPECT_NE(s.message().find("token sequence 1"), std::string::npos) << s;
    EXPECT_NE(s.message().find("position 2"), std::string::npos) << s;
    bad = {{-1}};
    EXPECT_TRUE(encoder->EncodeTokenIds(bad, std::span(out).first(d)).IsInvalidArgument());
  }
}

}  // namespace
}  // namespace flashembed::encoders
