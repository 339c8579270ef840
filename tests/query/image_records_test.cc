// Images as records and queries (Document::image, Query::Image) in a
// collection of a CLIP model folder: the vectors are the model's (checked
// against the fixture's torch.nn reference), the record keeps what it says
// about its image in metadata and never the pixels, bad input writes nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "query/database.h"
#include "tests/encoders/embedding_match.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using testing::TempDir;

const std::string kModel =
    std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/clip_folder";
const std::string kImages = std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/images";

ImageInput ImageFile(const std::string& name) {
  std::ifstream in(kImages + "/" + name, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  return ImageInput{.bytes = bytes.str(), .source = kImages + "/" + name};
}

// The reference vector of an image file or a text of the fixture.
std::vector<double> ReferenceVector(const std::string& key, const std::string& value) {
  std::ifstream in(kModel + "/reference.jsonl");
  for (std::string line; std::getline(in, line);) {
    auto j = nlohmann::json::parse(line);
    if (j.value(key, "") == value) return j["vector"].get<std::vector<double>>();
  }
  ADD_FAILURE() << "no reference for " << key << " " << value;
  return {};
}

Document ImageDoc(int64_t id, const std::string& name, std::string metadata = "{}") {
  Document d;
  d.id = Id(id);
  d.image = ImageFile(name);
  d.metadata = std::move(metadata);
  return d;
}

Document TextDoc(int64_t id, std::string text) {
  Document d;
  d.id = Id(id);
  d.text = std::move(text);
  return d;
}

class ImageRecordsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto db = Database::Open({}, dir_.path());
    ASSERT_TRUE(db.ok()) << db.status();
    db_ = std::move(db).value();
    CollectionSchema schema;
    schema.encoder = "model:" + kModel;
    auto c = db_->CreateCollection("pics", schema);
    ASSERT_TRUE(c.ok()) << c.status();
    pics_ = std::move(c).value();
  }

  TempDir dir_;
  std::unique_ptr<Database> db_;
  std::shared_ptr<Collection> pics_;
};

TEST_F(ImageRecordsTest, ImagesAndTextsShareTheModelsSpace) {
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, pics_->Describe());
  EXPECT_TRUE(info.embeds_images);
  EXPECT_EQ(info.encoder_spec.rfind("clip/v1;", 0), 0u) << info.encoder_spec;
  std::vector<Document> docs = {ImageDoc(1, "jpeg_baseline_1600x1200.jpg", R"({"album": "a"})"),
                                ImageDoc(2, "png_rgba8_34x26.png"),
                                ImageDoc(3, "webp_lossy_123x77.webp"),
                                TextDoc(4, "a photo of a cat")};
  ASSERT_OK(pics_->Add({}, docs));
  ASSERT_OK_AND_ASSIGN(Document got, pics_->Get(Id(1)));
  EXPECT_EQ(got.text, "");
  const auto meta = nlohmann::json::parse(got.metadata);
  EXPECT_EQ(meta["kind"], "image");
  EXPECT_EQ(meta["album"], "a");
  EXPECT_EQ(meta["source"], kImages + "/jpeg_baseline_1600x1200.jpg");
  EXPECT_EQ(meta["width"], 1600);
  EXPECT_EQ(meta["height"], 1200);
  EXPECT_EQ(meta["format"], "jpeg");
  EXPECT_EQ(meta["content_hash"].get<std::string>().size(), 32u);
  // The stored vectors are the model's: the reference's for the file and the text.
  for (const auto& [id, key, value] : std::vector<std::tuple<int64_t, std::string, std::string>>{
           {1, "image", "jpeg_baseline_1600x1200.jpg"},
           {2, "image", "png_rgba8_34x26.png"},
           {4, "text", "a photo of a cat"}}) {
    ASSERT_OK_AND_ASSIGN(Document d, pics_->Get(Id(id)));
    ASSERT_EQ(d.vector.size(), 24u);
    encoders::ExpectEmbeddingMatches(d.vector, ReferenceVector(key, value), value);
  }
  // An image query finds its own image first, with score 1.
  SearchOptions options;
  options.k = 4;
  ASSERT_OK_AND_ASSIGN(auto hits,
                       pics_->Search(options, Query::Image(ImageFile("png_rgba8_34x26.png"))));
  ASSERT_EQ(hits.size(), 4u);
  EXPECT_EQ(hits[0].id, Id(2));
  EXPECT_NEAR(hits[0].score, 1.0, 1e-5);
  // A text query reaches images; a filter keeps only them.
  options.filter = R"(kind == "image" and format != "webp")";
  ASSERT_OK_AND_ASSIGN(hits, pics_->Search(options, Query::Text("a red bicycle")));
  ASSERT_EQ(hits.size(), 2u);
  for (const Hit& h : hits) EXPECT_TRUE(h.id == Id(1) || h.id == Id(2));
  // The pixels are not stored: the record is small whatever the image.
  EXPECT_LT(got.metadata.size(), 400u);

  // They survive a reopen with the encoder's identity.
  pics_.reset();
  ASSERT_OK(db_->Close());
  db_.reset();
  ASSERT_OK_AND_ASSIGN(db_, Database::Open({}, dir_.path()));
  ASSERT_OK_AND_ASSIGN(pics_, db_->GetCollection("pics"));
  options.filter.clear();
  ASSERT_OK_AND_ASSIGN(hits,
                       pics_->Search(options, Query::Image(ImageFile("png_rgba8_34x26.png"))));
  EXPECT_EQ(hits[0].id, Id(2));
}

TEST_F(ImageRecordsTest, UpsertOfAnotherImageReplacesItsMetadata) {
  ASSERT_OK(pics_->Add({}, std::vector<Document>{ImageDoc(7, "gif_150x100.gif")}));
  ASSERT_OK_AND_ASSIGN(Document before, pics_->Get(Id(7)));
  ASSERT_OK(pics_->Upsert({}, std::vector<Document>{ImageDoc(7, "jpeg_gray_97x61.jpg")}));
  ASSERT_OK_AND_ASSIGN(Document after, pics_->Get(Id(7)));
  const auto a = nlohmann::json::parse(before.metadata), b = nlohmann::json::parse(after.metadata);
  EXPECT_EQ(a["format"], "gif");
  EXPECT_EQ(b["format"], "jpeg");
  EXPECT_EQ(b["width"], 97);
  EXPECT_NE(a["content_hash"], b["content_hash"]);
  EXPECT_NE(before.vector, after.vector);
  ASSERT_OK_AND_ASSIGN(uint64_t count, pics_->Count());
  EXPECT_EQ(count, 1u);
}

// Every refusal names the document and what is wrong, and writes nothing of
// the batch.
TEST_F(ImageRecordsTest, BadImagesAreRefusedAndNothingIsWritten) {
  ASSERT_OK(pics_->Add({}, std::vector<Document>{TextDoc(1, "already here")}));
  auto expect_refused = [&](std::vector<Document> docs, const std::string& text) {
    Status s = pics_->Add({}, docs);
    EXPECT_TRUE(s.IsInvalidArgument()) << s;
    EXPECT_NE(s.message().find(text), std::string::npos) << s;
    auto count = pics_->Count();
    ASSERT_TRUE(count.ok());
    EXPECT_EQ(*count, 1u) << text;
  };
  Document truncated = ImageDoc(3, "jpeg_baseline_1600x1200.jpg");
  truncated.image->bytes.resize(truncated.image->bytes.size() / 2);
  expect_refused({ImageDoc(2, "png_rgb8_37x29.png"), truncated},
                 "document 1 (id 3): image \"" + kImages + "/jpeg_baseline_1600x1200.jpg\"");
  Document not_image = ImageDoc(4, "png_rgb8_37x29.png");
  not_image.image->bytes = "just some text, no picture";
  expect_refused({not_image}, "not an image");
  Document empty = ImageDoc(5, "png_rgb8_37x29.png");
  empty.image->bytes.clear();
  expect_refused({empty}, "document 0 (id 5)");
  Document both = ImageDoc(6, "png_rgb8_37x29.png");
  both.text = "a caption";
  expect_refused({both}, "has an image and a text");
  expect_refused({ImageDoc(8, "png_rgb8_37x29.png", R"({"kind": "photo"})")},
                 "metadata key \"kind\" is reserved");
  // A decompression bomb: a PNG header claiming 100000 x 100000 pixels.
  Document bomb = ImageDoc(9, "png_1x1.png");
  ASSERT_GE(bomb.image->bytes.size(), 24u);
  for (int at : {16, 20}) {  // IHDR width and height, big-endian
    bomb.image->bytes[at] = 0;
    bomb.image->bytes[at + 1] = 0x01;
    bomb.image->bytes[at + 2] = static_cast<char>(0x86);
    bomb.image->bytes[at + 3] = static_cast<char>(0xa0);
  }
  expect_refused({bomb}, "document 0 (id 9)");
  expect_refused({bomb}, "178956970");  // the pixel limit, judged from the header
}

TEST_F(ImageRecordsTest, QueriesAndTextCollectionsRefuseWhatTheyCannotEmbed) {
  SearchOptions options;
  Query both = Query::Image(ImageFile("png_rgb8_37x29.png"));
  both.text = "and words";
  auto hits = pics_->Search(options, both);
  EXPECT_TRUE(hits.status().IsInvalidArgument()) << hits.status();
  Query broken = Query::Image(ImageInput{.bytes = "GIF89a", .source = "q.gif"});
  hits = pics_->Search(options, broken);
  ASSERT_TRUE(hits.status().IsInvalidArgument()) << hits.status();
  EXPECT_NE(hits.status().message().find("query image \"q.gif\""), std::string::npos)
      << hits.status();

  ASSERT_OK_AND_ASSIGN(auto words, db_->CreateCollection("words", CollectionSchema{}));
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, words->Describe());
  EXPECT_FALSE(info.embeds_images);
  Status s = words->Add({}, std::vector<Document>{ImageDoc(1, "png_rgb8_37x29.png")});
  EXPECT_TRUE(s.IsInvalidArgument()) << s;
  EXPECT_NE(s.message().find("embeds texts only"), std::string::npos) << s;
  hits = words->Search(options, Query::Image(ImageFile("png_rgb8_37x29.png")));
  EXPECT_TRUE(hits.status().IsInvalidArgument()) << hits.status();

  // TextModel: the same model without a database.
  ASSERT_OK_AND_ASSIGN(auto model, TextModel::Open("model:" + kModel));
  EXPECT_TRUE(model->embeds_images());
  std::vector<ImageInput> inputs = {ImageFile("jpeg_1x1.jpg"), ImageInput{.bytes = "x"}};
  auto vectors = model->EmbedImages(inputs);
  ASSERT_TRUE(vectors.status().IsInvalidArgument()) << vectors.status();
  EXPECT_NE(vectors.status().message().find("image 1:"), std::string::npos) << vectors.status();
  inputs.pop_back();
  ASSERT_OK_AND_ASSIGN(std::vector<float> one, model->EmbedImages(inputs));
  encoders::ExpectEmbeddingMatches(one, ReferenceVector("image", "jpeg_1x1.jpg"), "jpeg_1x1.jpg");
  ASSERT_OK_AND_ASSIGN(auto hash, TextModel::Open("hash"));
  EXPECT_FALSE(hash->embeds_images());
  EXPECT_EQ(hash->EmbedImages(inputs).status().code(), StatusCode::kNotSupported);
}

// Re-embedding reads each image record's file again; a file that changed
// since is refused by name and the collection stays as it was.
TEST_F(ImageRecordsTest, ReembedReadsTheFilesAgainAndRefusesChangedOnes) {
  TempDir files;
  const std::string copy = files.Sub("cat.png");
  std::filesystem::copy_file(kImages + "/png_rgb8_37x29.png", copy);
  ImageInput image = ImageFile("png_rgb8_37x29.png");
  image.source = copy;
  Document d;
  d.id = Id(1);
  d.image = image;
  ASSERT_OK(pics_->Add({}, std::vector<Document>{d, TextDoc(2, "a caption")}));
  ASSERT_OK_AND_ASSIGN(Document before, pics_->Get(Id(1)));
  ReembedOptions options;
  options.encoder = "model:" + kModel;
  ASSERT_OK_AND_ASSIGN(ReembedSummary summary, db_->Reembed("pics", options));
  EXPECT_EQ(summary.records, 2u);
  ASSERT_OK_AND_ASSIGN(Document again, pics_->Get(Id(1)));
  EXPECT_EQ(again.metadata, before.metadata);
  EXPECT_EQ(again.vector, before.vector);

  std::filesystem::copy_file(kImages + "/jpeg_1x1.jpg", copy,
                             std::filesystem::copy_options::overwrite_existing);
  auto changed = db_->Reembed("pics", options);
  ASSERT_TRUE(changed.status().IsInvalidArgument()) << changed.status();
  EXPECT_NE(changed.status().message().find(copy), std::string::npos) << changed.status();
  EXPECT_NE(changed.status().message().find("changed since the record was written"),
            std::string::npos)
      << changed.status();
  ASSERT_OK_AND_ASSIGN(Document after, pics_->Get(Id(1)));
  EXPECT_EQ(after.metadata, before.metadata);
  EXPECT_EQ(after.vector, before.vector);
  // To a text-only encoder: refused, naming why.
  options.encoder = "hash";
  std::filesystem::copy_file(kImages + "/png_rgb8_37x29.png", copy,
                             std::filesystem::copy_options::overwrite_existing);
  auto text_only = db_->Reembed("pics", options);
  ASSERT_TRUE(text_only.status().IsInvalidArgument()) << text_only.status();
  EXPECT_NE(text_only.status().message().find("embeds texts only"), std::string::npos)
      << text_only.status();
}

}  // namespace
}  // namespace flashembed
