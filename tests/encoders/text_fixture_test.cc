// Text in, vector out, on real vocabularies: the fixtures under
// testdata/bert_text/ are tiny random BERT models in the Hugging Face folder
// layout over the real bert-base-uncased and bert-base-chinese vocabularies.
// Their reference.jsonl holds, per text, the ids and tokens of Hugging Face's
// `tokenizers` (truncated to the model's max_seq_length) and the embedding of
// an independent PyTorch implementation built from torch.nn modules. See
// tools/fixtures/README.md for how they are made.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <tuple>
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
    const std::string what =
        GetParam() + " text " + std::to_string(i) + " " + nlohmann::json(ref.text).dump();
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
    const std::string what =
        GetParam() + " text " + std::to_string(i) + " " + nlohmann::json(refs[i].text).dump();
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

// Rewrites `folder`/model.safetensors with `extra` tensors appended: each is
// (name, dtype, shape, raw little-endian bytes). Returns the word-embedding
// tensor's name prefix ("" or "bert.").
std::string AddTensors(
    const std::string& folder,
    const std::vector<std::tuple<std::string, std::string, std::vector<int64_t>, std::string>>&
        extra) {
  const std::string path = folder + "/model.safetensors";
  std::string bytes;
  {
    std::ifstream in(path, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_len));
  std::string data = bytes.substr(8 + header_len);
  for (const auto& [name, dtype, shape, raw] : extra) {
    header[name] = {{"dtype", dtype},
                    {"shape", shape},
                    {"data_offsets", {data.size(), data.size() + raw.size()}}};
    data += raw;
  }
  std::string text = header.dump();
  uint64_t n = text.size();
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(&n), 8);
  out << text << data;
  return header.contains("bert.embeddings.word_embeddings.weight") ? "bert." : "";
}

template <typename T>
std::string RawBytes(const std::vector<T>& values) {
  std::string out(values.size() * sizeof(T), '\0');
  std::memcpy(out.data(), values.data(), out.size());
  return out;
}

// Published checkpoints carry buffers the model never reads, in integer or
// other dtypes: transformers releases that kept `position_ids` (and
// `token_type_ids`) persistent saved them as I64 [1, max_position_embeddings].
// Such folders load, and their vectors equal the reference's exactly as
// before; a tensor the model does read must still be a float.
TEST_P(TextFixture, IgnoresUnusedTensorsOfAnyDtype) {
  TempDir dir;
  const std::string folder = dir.Sub("checkpoint");
  fs::copy(TextFixtureDir(GetParam()), folder, fs::copy_options::recursive);
  const int64_t max_pos =
      ReadJsonFile(folder + "/config.json")["max_position_embeddings"].get<int64_t>();
  std::vector<int64_t> positions(max_pos);
  for (int64_t i = 0; i < max_pos; ++i) positions[i] = i;
  const std::string prefix = AddTensors(folder, {});
  AddTensors(folder,
             {
                 {prefix + "embeddings.position_ids", "I64", {1, max_pos}, RawBytes(positions)},
                 {prefix + "embeddings.token_type_ids",
                  "I64",
                  {1, max_pos},
                  RawBytes(std::vector<int64_t>(max_pos, 0))},
                 {"extra.mask", "BOOL", {3}, RawBytes(std::vector<uint8_t>{1, 0, 1})},
                 {"extra.i32", "I32", {2}, RawBytes(std::vector<int32_t>{5, 6})},
                 {"extra.u8", "U8", {1}, RawBytes(std::vector<uint8_t>{9})},
                 {"extra.f64", "F64", {1}, RawBytes(std::vector<double>{0.25})},
             });
  const std::vector<TextReference> refs = ReadTextReference(folder);
  ASSERT_OK_AND_ASSIGN(auto encoder, NewTextEncoder("model:" + folder, 0));
  ASSERT_OK_AND_ASSIGN(auto original, NewTextEncoder("model:" + TextFixtureDir(GetParam()), 0));
  std::vector<std::string_view> texts;
  for (const TextReference& ref : refs) texts.push_back(ref.text);
  const size_t dim = static_cast<size_t>(encoder->dim());
  std::vector<float> got(texts.size() * dim), want(texts.size() * dim);
  ASSERT_OK(encoder->Encode(texts, got));
  ASSERT_OK(original->Encode(texts, want));
  EXPECT_EQ(got, want);
  for (size_t i = 0; i < refs.size(); ++i) {
    ExpectEmbeddingMatches(std::span<const float>(got).subspan(i * dim, dim), refs[i].embedding,
                           GetParam() + " text " + std::to_string(i));
  }

  // The model reads the LayerNorm weight: as an integer it is refused, named.
  const std::string used = dir.Sub("used_int");
  fs::copy(TextFixtureDir(GetParam()), used, fs::copy_options::recursive);
  std::string bytes;
  {
    std::ifstream in(used + "/model.safetensors", std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  nlohmann::json header = nlohmann::json::parse(bytes.substr(8, header_len));
  const std::string ln = prefix + "embeddings.LayerNorm.weight";
  ASSERT_TRUE(header.contains(ln)) << ln;
  // An integer dtype of the same width, so only the dtype is wrong.
  const std::string int_dtype = header[ln]["dtype"] == "F32" ? "I32" : "I16";
  header[ln]["dtype"] = int_dtype;
  std::string text = header.dump();
  uint64_t n = text.size();
  {
    std::ofstream out(used + "/model.safetensors", std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(&n), 8);
    out << text << bytes.substr(8 + header_len);
  }
  ExpectRefused(used, "\"" + ln + "\" has dtype " + int_dtype, "must be F32, F16 or BF16");
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

  std::ofstream(folder + "/tokenizer_config.json")
      << R"({"do_lower_case": true, "strip_accents": false})";
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
// are [CLS] [SEP] and embedded as such, as sentence-transformers does (their
// vectors against PyTorch are in reference.jsonl, checked above); one such
// text in a batch does not fail the others.
TEST(TextFixtureBlank, EmbedsTextsWithNothingToEncodeAsClsSep) {
  ASSERT_OK_AND_ASSIGN(auto encoder,
                       NewTextEncoder("model:" + TextFixtureDir("uncased_mean_f16"), 0));
  const size_t dim = static_cast<size_t>(encoder->dim());
  std::vector<float> empty(dim);
  std::string_view nothing[] = {""};
  ASSERT_OK(encoder->Encode(nothing, empty));
  std::vector<float> fine(dim);
  std::string_view fine_text[] = {"fine"};
  ASSERT_OK(encoder->Encode(fine_text, fine));
  for (std::string_view blank : {"\u200b", "\u3000 \t", "\x01\x02", " "}) {
    ASSERT_OK_AND_ASSIGN(auto tokens, encoder->Tokenize(blank, 0));
    EXPECT_EQ(tokens.tokens, (std::vector<std::string>{"[CLS]", "[SEP]"}));
    std::string_view texts[] = {"fine", blank};
    std::vector<float> out(2 * dim);
    ASSERT_OK(encoder->Encode(texts, out));
    // Batched with another text: the same vectors, but not bit for bit
    // (rows in different GEMM tiles may round differently on AVX2).
    for (size_t k = 0; k < dim; ++k) {
      EXPECT_NEAR(out[k], fine[k], 1e-5f) << k;
      EXPECT_NEAR(out[dim + k], empty[k], 1e-5f) << k;
    }
  }
  EXPECT_TRUE(IsBlankText(""));
  EXPECT_TRUE(IsBlankText(" \t\r\n\u3000\u00a0\u2028\u200b\ufeff\x01\x7f"));
  EXPECT_FALSE(IsBlankText("\u3000x"));
  EXPECT_FALSE(IsBlankText("\ue000"));     // private use: the tokenizer keeps it ([UNK])
  EXPECT_FALSE(IsBlankText("\xff \xfe"));  // invalid UTF-8: the encoder names it
}

}  // namespace
}  // namespace flashembed::encoders
