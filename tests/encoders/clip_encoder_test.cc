#include "encoders/clip_encoder.h"

#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "encoders/image.h"
#include "tests/encoders/embedding_match.h"
#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

namespace fs = std::filesystem;
using testing::TempDir;

const std::string kFolder =
    std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/clip_folder";
const std::string kImages = std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/images";

// reference.jsonl of the folder fixture (tools/fixtures/gen_clip_fixtures.py
// --folder): texts with Hugging Face tokenizers' ids (truncated to 77) and
// image files with the vectors of the torch.nn reference on Pillow's
// preprocessing, bicubic ("vector") and bilinear ("bilinear").
struct Reference {
  std::vector<std::string> texts;
  std::vector<std::vector<int32_t>> ids;
  std::vector<std::vector<double>> text_vectors;
  std::vector<std::string> images;
  std::vector<std::vector<double>> image_vectors, bilinear;
};

Reference ReadReference() {
  Reference r;
  std::ifstream in(kFolder + "/reference.jsonl");
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    if (j.contains("text")) {
      r.texts.push_back(j["text"]);
      r.ids.push_back(j["ids"]);
      r.text_vectors.push_back(j["vector"]);
    } else {
      r.images.push_back(j["image"]);
      r.image_vectors.push_back(j["vector"]);
      r.bilinear.push_back(j["bilinear"]);
    }
  }
  return r;
}

double MaxAbsError(std::span<const float> got, const std::vector<double>& want) {
  double err = 0;
  for (size_t i = 0; i < got.size(); ++i) err = std::max(err, std::fabs(got[i] - want[i]));
  return err;
}

std::vector<Image> ReadImages(const std::vector<std::string>& names) {
  std::vector<Image> images;
  for (const std::string& name : names) {
    auto image = ReadImageFile(kImages + "/" + name);
    EXPECT_TRUE(image.ok()) << name << ": " << image.status();
    images.push_back(image.ok() ? std::move(image).value() : Image{});
  }
  return images;
}

// Copies the fixture folder to `dir` (a fresh folder), so a test may change it.
void CopyFolder(const std::string& dir) {
  fs::create_directories(dir);
  for (const auto& entry : fs::directory_iterator(kFolder)) {
    fs::copy_file(entry.path(), fs::path(dir) / entry.path().filename());
  }
}

// Texts: Hugging Face's ids (truncated at 77 with <|endoftext|> kept) and
// the reference's vectors. Images: decoded from the files and preprocessed
// in C++, the vectors of the reference on Pillow's preprocessing; the
// reference on bilinear resizing is far from them, so the comparison would
// catch that mistake.
TEST(ClipEncoder, TextsAndImageFilesMatchTheReference) {
  ASSERT_OK_AND_ASSIGN(auto encoder, ClipEncoder::Open(kFolder));
  const Reference ref = ReadReference();
  ASSERT_GE(ref.texts.size(), 10u);
  ASSERT_GE(ref.images.size(), 10u);
  EXPECT_TRUE(encoder->embeds_images());
  EXPECT_EQ(encoder->max_tokens(), 77u);
  const int dim = encoder->dim();
  for (size_t i = 0; i < ref.texts.size(); ++i) {
    ASSERT_OK_AND_ASSIGN(auto tokens, encoder->Tokenize(ref.texts[i], encoder->max_tokens()));
    EXPECT_EQ(tokens.ids, ref.ids[i]) << ref.texts[i];
  }
  std::vector<std::string_view> views(ref.texts.begin(), ref.texts.end());
  std::vector<float> out(views.size() * dim);
  ASSERT_OK(encoder->Encode(views, out));
  for (size_t i = 0; i < views.size(); ++i) {
    ExpectEmbeddingMatches(std::span<const float>(out).subspan(i * dim, dim), ref.text_vectors[i],
                           "text #" + std::to_string(i));
  }
  const std::vector<Image> images = ReadImages(ref.images);
  std::vector<float> image_out(images.size() * dim);
  ASSERT_OK(encoder->EncodeImages(images, image_out));
  for (size_t i = 0; i < images.size(); ++i) {
    std::span<const float> got = std::span<const float>(image_out).subspan(i * dim, dim);
    ExpectEmbeddingMatches(got, ref.image_vectors[i], ref.images[i]);
    if (images[i].width * images[i].height > 1) {
      EXPECT_GT(MaxAbsError(got, ref.bilinear[i]), 1e-3) << ref.images[i];
    }
  }
}

// With the preprocessor set to bilinear the vectors are the reference's
// bilinear ones: the resampling filter is read and applied.
TEST(ClipEncoder, ResamplingFilterComesFromThePreprocessorConfig) {
  TempDir tmp;
  const std::string dir = tmp.Sub("model");
  CopyFolder(dir);
  std::ifstream in(dir + "/preprocessor_config.json");
  nlohmann::json pre = nlohmann::json::parse(in);
  pre["resample"] = 2;
  std::ofstream(dir + "/preprocessor_config.json") << pre.dump();
  ASSERT_OK_AND_ASSIGN(auto encoder, ClipEncoder::Open(dir));
  const Reference ref = ReadReference();
  const std::vector<Image> images = ReadImages({ref.images[0]});
  std::vector<float> out(encoder->dim());
  ASSERT_OK(encoder->EncodeImages(images, out));
  ExpectEmbeddingMatches(out, ref.bilinear[0], ref.images[0] + " bilinear");
}

// The encoder is reached by name ("model:DIR" of a CLIP folder) and by its
// spec; a changed folder no longer matches the spec.
TEST(ClipEncoder, NamedBySpecWhichNoticesAChangedFolder) {
  TempDir tmp;
  const std::string dir = tmp.Sub("model");
  CopyFolder(dir);
  ASSERT_OK_AND_ASSIGN(auto named, NewTextEncoder("model:" + dir, 0));
  EXPECT_TRUE(named->embeds_images());
  const std::string spec = named->spec();
  EXPECT_EQ(spec.rfind("clip/v1;id=", 0), 0u) << spec;
  EXPECT_NE(spec.find(";dim=24;dir=" + dir), std::string::npos) << spec;
  EXPECT_EQ(EncoderNameFromSpec(spec), "model:" + dir);
  ASSERT_OK_AND_ASSIGN(auto again, TextEncoderFromSpec(spec));
  EXPECT_EQ(again->spec(), spec);
  EXPECT_TRUE(NewTextEncoder("model:" + dir, 25).status().IsInvalidArgument());
  // Another preprocessing changes the vectors: the identity changes too.
  std::ofstream(dir + "/preprocessor_config.json", std::ios::app) << "\n";
  auto changed = TextEncoderFromSpec(spec);
  ASSERT_TRUE(changed.status().IsInvalidArgument()) << changed.status();
  EXPECT_NE(changed.status().message().find("changed since the encoder spec was made"),
            std::string::npos)
      << changed.status();
}

// The sentence-transformers layout: modules.json names a CLIPModel module
// whose folder holds the Hugging Face files. Same vectors.
TEST(ClipEncoder, ReadsTheSentenceTransformersLayout) {
  TempDir tmp;
  const std::string dir = tmp.Sub("st");
  CopyFolder(dir + "/0_CLIPModel");
  std::ofstream(dir + "/modules.json") << R"([{"idx": 0, "name": "0", "path": "0_CLIPModel",
              "type": "sentence_transformers.models.CLIPModel"}])";
  EXPECT_TRUE(ClipEncoder::IsClipFolder(dir));
  ASSERT_OK_AND_ASSIGN(auto encoder, ClipEncoder::Open(dir));
  EXPECT_EQ(encoder->model_dir(), dir + "/0_CLIPModel");
  const Reference ref = ReadReference();
  std::vector<std::string_view> views = {ref.texts[0]};
  std::vector<float> out(encoder->dim());
  ASSERT_OK(encoder->Encode(views, out));
  ExpectEmbeddingMatches(out, ref.text_vectors[0], "text #0 (sentence-transformers layout)");
  ASSERT_OK(encoder->EncodeImages(ReadImages({ref.images[1]}), out));
  ExpectEmbeddingMatches(out, ref.image_vectors[1], ref.images[1] + " (sentence-transformers)");
}

// Token spans: in order, inside the text, and a token continues a word
// unless the token before ends with "</w>".
TEST(ClipEncoder, TokenSpansFollowTheEndOfWordSuffix) {
  ASSERT_OK_AND_ASSIGN(auto encoder, ClipEncoder::Open(kFolder));
  const std::string text = "supercalifragilistic dogs, cats!";
  ASSERT_OK_AND_ASSIGN(auto spans, encoder->TokenSpans(text));
  ASSERT_OK_AND_ASSIGN(auto tokens, encoder->Tokenize(text, 0));
  ASSERT_EQ(spans.size() + 2, tokens.tokens.size());
  size_t last_end = 0;
  for (size_t i = 0; i < spans.size(); ++i) {
    EXPECT_LE(spans[i].begin, spans[i].end);
    EXPECT_LE(spans[i].end, text.size());
    EXPECT_GE(spans[i].begin, i == 0 ? 0 : spans[i - 1].begin);
    EXPECT_EQ(spans[i].continues_word, i > 0 && !tokens.tokens[i].ends_with("</w>"))
        << tokens.tokens[i + 1];
    last_end = spans[i].end;
  }
  EXPECT_EQ(last_end, text.size());
  EXPECT_TRUE(spans[1].continues_word);  // "supercalifragilistic" is several pieces
}

// Folder problems are refused at open, naming the file.
TEST(ClipEncoder, RefusesIncompleteFoldersNamingTheFile) {
  TempDir tmp;
  const std::string dir = tmp.Sub("model");
  CopyFolder(dir);
  fs::remove(dir + "/preprocessor_config.json");
  auto missing = ClipEncoder::Open(dir);
  ASSERT_TRUE(missing.status().IsNotFound()) << missing.status();
  EXPECT_NE(missing.status().message().find("preprocessor_config.json"), std::string::npos);

  CopyFolder(tmp.Sub("bin"));
  fs::rename(tmp.Sub("bin") + "/model.safetensors", tmp.Sub("bin") + "/pytorch_model.bin");
  auto pickle = ClipEncoder::Open(tmp.Sub("bin"));
  ASSERT_TRUE(pickle.status().IsInvalidArgument()) << pickle.status();
  EXPECT_NE(pickle.status().message().find("no model.safetensors"), std::string::npos);

  CopyFolder(tmp.Sub("crop"));
  std::ofstream(tmp.Sub("crop") + "/preprocessor_config.json")
      << R"({"crop_size": {"height": 200, "width": 200}, "size": {"shortest_edge": 200}})";
  auto crop = ClipEncoder::Open(tmp.Sub("crop"));
  ASSERT_TRUE(crop.status().IsInvalidArgument()) << crop.status();
  EXPECT_NE(crop.status().message().find("makes 200x200 images, but the model takes 3 channels of "
                                         "224x224"),
            std::string::npos)
      << crop.status();

  CopyFolder(tmp.Sub("vocab"));
  std::ifstream in(tmp.Sub("vocab") + "/config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["text_config"]["vocab_size"] = 1000;
  config["text_config"]["eos_token_id"] = 2;
  std::ofstream(tmp.Sub("vocab") + "/config.json") << config.dump();
  auto vocab = ClipEncoder::Open(tmp.Sub("vocab"));
  ASSERT_TRUE(vocab.status().IsInvalidArgument()) << vocab.status();
  EXPECT_NE(vocab.status().message().find("declares vocab_size 1000"), std::string::npos);

  const std::string bert =
      std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert/mean_norm_f32";
  EXPECT_FALSE(ClipEncoder::IsClipFolder(bert));
  EXPECT_TRUE(ClipEncoder::Open(bert).status().IsInvalidArgument());
  ASSERT_OK_AND_ASSIGN(auto text_only, NewTextEncoder("model:" + bert, 0));
  EXPECT_FALSE(text_only->embeds_images());
  std::vector<float> out(text_only->dim());
  EXPECT_EQ(text_only->EncodeImages(ReadImages({"jpeg_1x1.jpg"}), out).code(),
            StatusCode::kNotSupported);
}

}  // namespace
}  // namespace flashembed::encoders
