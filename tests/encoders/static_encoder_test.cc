// model2vec folders: tiny random static models in the layout model2vec saves,
// and per text the ids model2vec averages and the vector of a NumPy
// re-implementation of StaticModel.encode (tools/fixtures/gen_model2vec_fixtures.py).
#include "encoders/static_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/encoders/embedding_match.h"
#include "tests/encoders/model_folder_fixture.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

namespace fs = std::filesystem;
using flashembed::testing::TempDir;

using testing::ReadJsonFile;

std::string FixtureDir(const std::string& name) { return testing::FixtureDir("model2vec", name); }

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

void ExpectVector(std::span<const float> got, const std::vector<double>& want,
                  const std::string& what) {
  double norm = 0;
  for (double x : want) norm += x * x;
  if (norm == 0) {
    for (float x : got) EXPECT_EQ(x, 0.0f) << what;
    return;
  }
  ExpectEmbeddingMatches(got, want, what);
}

class Model2VecFixture : public ::testing::TestWithParam<std::string> {};

TEST_P(Model2VecFixture, MatchesModel2VecIdsAndVectors) {
  const std::string dir = FixtureDir(GetParam());
  const std::vector<Reference> refs = ReadReference(dir);
  ASSERT_GE(refs.size(), 30u);
  ASSERT_TRUE(StaticEncoder::IsStaticFolder(dir));
  ASSERT_OK_AND_ASSIGN(auto encoder, NewTextEncoder("model:" + dir, 0));
  EXPECT_TRUE(encoder->spec().starts_with("model2vec/v1;id=")) << encoder->spec();
  EXPECT_EQ(encoder->special_tokens(), 0u);
  const int dim = encoder->dim();
  size_t cut = 0, empty = 0;
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string what = GetParam() + " text " + std::to_string(i) + " " +
                             nlohmann::json(refs[i].text).dump().substr(0, 80);
    ASSERT_EQ(refs[i].embedding.size(), static_cast<size_t>(dim)) << what;
    ASSERT_OK_AND_ASSIGN(auto tokens, encoder->Tokenize(refs[i].text, 0));
    EXPECT_EQ(tokens.ids, refs[i].ids) << what;
    cut += refs[i].ids.size() == encoder->max_tokens();
    empty += refs[i].ids.empty();
  }
  EXPECT_GE(cut, 1u) << "texts cut at max_length";
  EXPECT_GE(empty, 1u) << "texts with no ids";

  std::vector<std::string_view> texts;
  for (const Reference& ref : refs) texts.push_back(ref.text);
  std::vector<float> all(refs.size() * dim);
  ASSERT_OK(encoder->Encode(texts, all));
  std::vector<float> one(dim);
  for (size_t i = 0; i < refs.size(); ++i) {
    const std::string what = GetParam() + " text " + std::to_string(i);
    ExpectVector(std::span<const float>(all).subspan(i * dim, dim), refs[i].embedding,
                 what + " (batched)");
    ASSERT_OK(encoder->Encode(std::span(texts).subspan(i, 1), one));
    ExpectVector(one, refs[i].embedding, what + " (alone)");
  }
  // Many texts at once (the parallel path) give the same rows.
  std::vector<std::string_view> many;
  for (int k = 0; k < 4; ++k) many.insert(many.end(), texts.begin(), texts.end());
  std::vector<float> rows(many.size() * dim);
  ASSERT_OK(encoder->Encode(many, rows));
  for (size_t i = 0; i < many.size(); ++i) {
    EXPECT_TRUE(std::equal(rows.begin() + i * dim, rows.begin() + (i + 1) * dim,
                           all.begin() + (i % texts.size()) * dim))
        << i;
  }
  ASSERT_OK_AND_ASSIGN(auto again, TextEncoderFromSpec(encoder->spec()));
  EXPECT_EQ(again->spec(), encoder->spec());
  EXPECT_EQ(EncoderNameFromSpec(encoder->spec()), "model:" + dir);
  // The texts' ids given directly: the same rows; an id past the
  // vocabulary is refused.
  std::vector<std::vector<int32_t>> ids;
  for (const Reference& ref : refs) ids.push_back(ref.ids);
  std::vector<float> by_ids(refs.size() * dim);
  ASSERT_OK(encoder->EncodeTokenIds(ids, by_ids));
  EXPECT_EQ(by_ids, all);
  ids = {{1 << 30}};
  EXPECT_TRUE(encoder->EncodeTokenIds(ids, std::span(by_ids).first(dim)).IsInvalidArgument());
}

INSTANTIATE_TEST_SUITE_P(Model2Vec, Model2VecFixture,
                         ::testing::Values("wordpiece_norm", "unigram_weights",
                                           "wordpiece_int8_maxlen"),
                         [](const auto& info) { return info.param; });

// Chunks of long documents cut between the tokenizer's words.
TEST(StaticEncoder, TokenSpansAreTheTokenizers) {
  ASSERT_OK_AND_ASSIGN(auto encoder, StaticEncoder::Open(FixtureDir("wordpiece_norm")));
  const std::string text = "unbelievable tokenization, twice";
  ASSERT_OK_AND_ASSIGN(auto spans, encoder->TokenSpans(text));
  ASSERT_FALSE(spans.empty());
  EXPECT_EQ(spans.front().begin, 0u);
  EXPECT_FALSE(spans.front().continues_word);
  EXPECT_EQ(spans.back().end, text.size());
  bool continued = false;
  for (const TokenSpan& s : spans) continued |= s.continues_word;
  EXPECT_TRUE(continued) << "\"tokenization\" has ## pieces";
  EXPECT_EQ(encoder->max_tokens(), 512u);
}

TEST(StaticEncoder, RefusesBadInput) {
  ASSERT_OK_AND_ASSIGN(auto encoder, StaticEncoder::Open(FixtureDir("wordpiece_norm")));
  std::string_view texts[] = {"fine", "bad \xC3\x28"};
  std::vector<float> out(2 * encoder->dim());
  const Status s = encoder->Encode(texts, out);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.message().find("text 1"), std::string::npos) << s;
  auto wrong_dim = NewTextEncoder("model:" + FixtureDir("wordpiece_norm"), 8);
  ASSERT_FALSE(wrong_dim.ok());
  EXPECT_NE(wrong_dim.status().message().find("its own width"), std::string::npos)
      << wrong_dim.status();
}

std::string CopyFixture(const TempDir& dir, const std::string& name) {
  return testing::CopyFolder(dir, FixtureDir(name), name);
}

void ExpectRefused(const std::string& folder, const std::string& needle) {
  auto e = StaticEncoder::Open(folder);
  ASSERT_FALSE(e.ok()) << folder;
  EXPECT_NE(e.status().message().find(needle), std::string::npos) << e.status();
}

// Rewrites one tensor's bytes in place (same dtype and size).
void PatchTensor(const std::string& path, const std::string& name, const std::string& bytes) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  uint64_t header_len = 0;
  f.read(reinterpret_cast<char*>(&header_len), 8);
  std::string header(header_len, '\0');
  f.read(header.data(), static_cast<std::streamsize>(header_len));
  const auto j = nlohmann::json::parse(header);
  const size_t begin = j.at(name).at("data_offsets").at(0).get<size_t>();
  f.seekp(static_cast<std::streamoff>(8 + header_len + begin));
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

TEST(StaticEncoder, RefusesMalformedFolders) {
  TempDir dir;
  {
    const std::string folder = CopyFixture(dir, "wordpiece_norm");
    auto config = ReadJsonFile(folder + "/config.json");
    config["max_length"] = "long";
    std::ofstream(folder + "/config.json") << config.dump();
    ExpectRefused(folder, "\"max_length\" must be null or an integer");
    config["max_length"] = 16;
    config["normalize"] = "yes";
    std::ofstream(folder + "/config.json") << config.dump();
    ExpectRefused(folder, "\"normalize\" must be true or false");
  }
  {
    const std::string folder = CopyFixture(dir, "wordpiece_norm");
    auto tok = ReadJsonFile(folder + "/tokenizer.json");
    tok["model"] = {{"type", "BPE"}, {"vocab", nlohmann::json::object()}, {"merges", {}}};
    std::ofstream(folder + "/tokenizer.json") << tok.dump();
    ExpectRefused(folder, "a BPE tokenizer is not supported for model2vec");
  }
  {
    // A table with fewer rows than the tokenizer has tokens (no mapping).
    const std::string folder = CopyFixture(dir, "wordpiece_int8_maxlen");
    const std::string other = FixtureDir("wordpiece_norm") + "/model.safetensors";
    fs::copy_file(other, folder + "/model.safetensors", fs::copy_options::overwrite_existing);
    ExpectRefused(folder, "rows but the tokenizer has");
  }
  {
    // A mapping entry outside the table.
    const std::string folder = CopyFixture(dir, "unigram_weights");
    const int64_t bad = 1'000'000;
    PatchTensor(folder + "/model.safetensors", "mapping",
                std::string(reinterpret_cast<const char*>(&bad), 8));
    ExpectRefused(folder, "maps token 0 to row 1000000");
  }
  {
    const std::string folder = CopyFixture(dir, "wordpiece_norm");
    fs::remove(folder + "/tokenizer.json");
    auto e = StaticEncoder::Open(folder);
    ASSERT_FALSE(e.ok());
    EXPECT_TRUE(e.status().IsNotFound()) << e.status();
  }
  {
    // A changed table changes the identity: the old spec is refused.
    const std::string folder = CopyFixture(dir, "wordpiece_norm");
    ASSERT_OK_AND_ASSIGN(auto e, StaticEncoder::Open(folder));
    const std::string spec = e->spec();
    PatchTensor(folder + "/model.safetensors", "embeddings", std::string(4, '\0'));
    auto reopened = TextEncoderFromSpec(spec);
    ASSERT_FALSE(reopened.ok());
    EXPECT_NE(reopened.status().message().find("changed since"), std::string::npos)
        << reopened.status();
  }
}

}  // namespace
}  // namespace flashembed::encoders
