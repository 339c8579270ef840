// The native API's images over real loopback connections: a collection of a
// CLIP model folder (allowed with --allow-model), image records sent as
// base64 "image" with "image_source", image queries as base64 JSON or as a
// raw image/* body with the other parameters in the query string, and the
// refusals (bad base64, an image and text, images on a text-only
// collection, image/* bodies elsewhere, oversized bodies) writing nothing.
#include <fstream>
#include <iterator>
#include <set>

#include "base/base64.h"
#include "tests/encoders/embedding_match.h"
#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kApi = "/api/v1/collections";
const std::string kTestdata = std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata";
const std::string kClipFolder = kTestdata + "/clip_folder";

std::string ReadImage(const std::string& name) {
  std::ifstream in(kTestdata + "/images/" + name, std::ios::binary);
  EXPECT_TRUE(in.good()) << name;
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

// The reference's vector of the image file `name` (clip_folder/reference.jsonl).
std::vector<double> ReferenceVector(const std::string& name) {
  std::ifstream in(kClipFolder + "/reference.jsonl");
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    if (j.value("image", "") == name) return j["vector"];
  }
  ADD_FAILURE() << "no reference vector for " << name;
  return {};
}

// Base64 with the URL-safe alphabet and no padding.
std::string UrlSafe(std::string b64) {
  while (!b64.empty() && b64.back() == '=') b64.pop_back();
  for (char& c : b64) c = c == '+' ? '-' : c == '/' ? '_' : c;
  return b64;
}

class NativeImagesTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    options.allowed_model_dirs = {kTestdata};
    Start();
    png_ = ReadImage("png_rgb8_37x29.png");
    jpeg_ = ReadImage("jpeg_gray_97x61.jpg");
    webp_ = ReadImage("webp_lossy_123x77.webp");
  }

  // "pics": the CLIP folder's collection with three images (ids 1..3, the
  // PNG, JPEG and WebP; the JPEG as a data URL, the WebP in the URL-safe
  // alphabet) and two texts ("cat", "dogs").
  void CreatePics() {
    Reply r = Post(kApi, {{"name", "pics"}, {"encoder", "model:" + kClipFolder}});
    ASSERT_EQ(r.status, 201) << r.body;
    EXPECT_EQ(r.Json()["embeds_images"], true) << r.body;
    EXPECT_EQ(r.Json()["dim"], 24) << r.body;
    r = Post(Docs("pics"),
             {{"documents",
               {{{"id", 1}, {"image", Base64Encode(png_)}, {"image_source", "photos/a.png"}},
                {{"id", 2},
                 {"image", "data:image/jpeg;base64," + Base64Encode(jpeg_)},
                 {"metadata", {{"album", "trip"}}}},
                {{"id", 3}, {"image", UrlSafe(Base64Encode(webp_))}},
                {{"id", "cat"}, {"text", "a photo of a cat"}},
                {{"id", "dogs"}, {"text", "two dogs playing in the snow"}}}}});
    ASSERT_EQ(r.status, 200) << r.body;
    EXPECT_EQ(r.Json()["written"], 5);
  }

  static std::string Docs(const std::string& name) {
    return std::string(kApi) + "/" + name + "/documents";
  }
  static std::string SearchPath(const std::string& name) {
    return std::string(kApi) + "/" + name + "/search";
  }
  int64_t Count(const std::string& name) {
    return Call("GET", std::string(kApi) + "/" + name + "/stats").Json()["count"];
  }
  // POST .../search with a raw image body and `query` as the query string.
  Reply RawSearch(const std::string& name, const std::string& query, const std::string& bytes,
                  const std::string& type = "image/png") {
    return Call("POST", SearchPath(name) + (query.empty() ? "" : "?" + query), bytes,
                {{"Content-Type", type}});
  }
  // The message of an error reply.
  static std::string Message(const Reply& r) {
    const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    if (!body.is_object() || !body.contains("error")) return "";
    return body["error"].value("message", "");
  }
  static std::vector<json> Ids(const Reply& r) {
    json body = r.Json();  // not const: a missing key fails, not aborts
    std::vector<json> ids;
    for (json& hit : body["hits"]) ids.push_back(hit["id"]);
    return ids;
  }

  std::string png_, jpeg_, webp_;
};

TEST_F(NativeImagesTest, ImageRecordsCarryTheirImageMetadata) {
  CreatePics();
  EXPECT_EQ(Call("GET", std::string(kApi) + "/pics").Json()["embeds_images"], true);
  ASSERT_EQ(Post(kApi, {{"name", "plain"}}).status, 201);
  EXPECT_EQ(Call("GET", std::string(kApi) + "/plain").Json()["embeds_images"], false);

  Reply r =
      Post(std::string(kApi) + "/pics/get", {{"ids", {1, 2, 3, "cat"}}, {"with_vector", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  json docs = r.Json()["documents"];
  ASSERT_EQ(docs.size(), 4u) << r.body;
  const struct {
    std::string source, format;
    int width, height;
  } want[] = {{"photos/a.png", "png", 37, 29}, {"", "jpeg", 97, 61}, {"", "webp", 123, 77}};
  std::set<std::string> hashes;
  for (size_t i = 0; i < 3; ++i) {
    SCOPED_TRACE(i);
    json& meta = docs[i]["metadata"];
    EXPECT_EQ(docs[i]["id"], i + 1);
    EXPECT_EQ(docs[i]["text"], "") << docs[i];
    EXPECT_EQ(meta["kind"], "image") << meta;
    EXPECT_EQ(meta["source"], want[i].source) << meta;
    EXPECT_EQ(meta["format"], want[i].format) << meta;
    EXPECT_EQ(meta["width"], want[i].width) << meta;
    EXPECT_EQ(meta["height"], want[i].height) << meta;
    const std::string hash = meta["content_hash"];
    EXPECT_EQ(hash.size(), 32u) << meta;
    hashes.insert(hash);
  }
  EXPECT_EQ(hashes.size(), 3u);
  EXPECT_EQ(docs[1]["metadata"]["album"], "trip");
  EXPECT_EQ(docs[3]["metadata"], json::object());
  // The stored vectors are the reference's (the pixels themselves are not kept).
  encoders::ExpectEmbeddingMatches(docs[0]["vector"].get<std::vector<float>>(),
                                   ReferenceVector("png_rgb8_37x29.png"), "PNG over HTTP");
  encoders::ExpectEmbeddingMatches(docs[1]["vector"].get<std::vector<float>>(),
                                   ReferenceVector("jpeg_gray_97x61.jpg"), "JPEG data URL");
  encoders::ExpectEmbeddingMatches(docs[2]["vector"].get<std::vector<float>>(),
                                   ReferenceVector("webp_lossy_123x77.webp"), "WebP URL-safe");
  EXPECT_EQ(r.body.find(Base64Encode(png_).substr(0, 40)), std::string::npos);
  // The same bytes again: the same content hash.
  r = Post(Docs("pics"), {{"documents", {{{"id", 9}, {"image", Base64Encode(png_)}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Call("GET", Docs("pics") + "/9").Json()["metadata"]["content_hash"],
            docs[0]["metadata"]["content_hash"]);
  // Filters see the image keys.
  r = Post(std::string(kApi) + "/pics/count", {{"filter", "kind == \"image\" and width > 50"}});
  EXPECT_EQ(r.Json()["count"], 2) << r.body;
}

TEST_F(NativeImagesTest, SearchesByImageInJsonAndAsARawBody) {
  CreatePics();
  // JSON: base64 "image"; the identical image first with score ~1.
  const struct {
    const std::string* bytes;
    int id;
  } queries[] = {{&png_, 1}, {&jpeg_, 2}, {&webp_, 3}};
  for (const auto& q : queries) {
    SCOPED_TRACE(q.id);
    Reply r = Post(SearchPath("pics"), {{"image", Base64Encode(*q.bytes)}, {"k", 5}});
    ASSERT_EQ(r.status, 200) << r.body;
    const json hits = r.Json()["hits"];
    ASSERT_EQ(hits.size(), 5u) << r.body;
    EXPECT_EQ(hits[0]["id"], q.id) << r.body;
    EXPECT_NEAR(hits[0]["score"].get<double>(), 1.0, 1e-4) << r.body;
    EXPECT_LT(hits[1]["score"].get<double>(), 0.999) << r.body;
    EXPECT_EQ(hits[0]["metadata"]["kind"], "image") << r.body;
  }
  // A text query ranks texts and images together.
  Reply text = Post(SearchPath("pics"), {{"text", "a photo of a cat"}, {"k", 5}});
  ASSERT_EQ(text.status, 200) << text.body;
  std::vector<json> ids = Ids(text);
  ASSERT_EQ(ids.size(), 5u) << text.body;
  EXPECT_EQ(ids[0], "cat");
  EXPECT_EQ(std::set<json>(ids.begin(), ids.end()), (std::set<json>{1, 2, 3, "cat", "dogs"}));

  // A raw image/png body: the same answer as the JSON form.
  const Reply json_form = Post(SearchPath("pics"), {{"image", Base64Encode(png_)}, {"k", 5}});
  Reply r = RawSearch("pics", "", png_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["hits"], json_form.Json()["hits"]);
  // Parameters in the query string: k and a percent-encoded filter.
  r = RawSearch("pics", "k=2&filter=kind%20%3D%3D%20%22image%22", png_);
  ASSERT_EQ(r.status, 200) << r.body;
  ids = Ids(r);
  ASSERT_EQ(ids.size(), 2u) << r.body;
  EXPECT_EQ(ids[0], 1);
  json image_hits = r.Json()["hits"];
  for (json& hit : image_hits) EXPECT_EQ(hit["metadata"]["kind"], "image") << r.body;
  // The filter excludes texts: without it, k=5 reaches them.
  r = RawSearch("pics", "k=5&filter=kind+%3D%3D+%22image%22&with_metadata=false", jpeg_,
                "image/jpeg");
  ASSERT_EQ(r.status, 200) << r.body;
  ids = Ids(r);
  EXPECT_EQ(std::set<json>(ids.begin(), ids.end()), (std::set<json>{1, 2, 3})) << r.body;
  EXPECT_EQ(ids[0], 2) << r.body;
  EXPECT_FALSE(r.Json()["hits"][0].contains("metadata")) << r.body;
  // A raw WebP body (the Content-Type's subtype is not trusted: the bytes say).
  r = RawSearch("pics", "k=1", webp_, "image/png");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Ids(r), (std::vector<json>{3})) << r.body;
}

TEST_F(NativeImagesTest, RefusalsNameTheProblemAndWriteNothing) {
  CreatePics();
  ASSERT_EQ(Post(kApi, {{"name", "plain"}}).status, 201);
  ASSERT_EQ(Post(Docs("plain"), {{"documents", {{{"id", 1}, {"text", "a fox"}}}}}).status, 200);
  const std::string good = Base64Encode(png_);
  const std::string cut = Base64Encode(png_.substr(0, png_.size() / 2));

  struct Case {
    std::string path;
    json body;
    int status;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      // Search.
      {SearchPath("pics"), {{"image", "not*base64!"}}, 400, "\"image\": not base64"},
      {SearchPath("pics"), {{"image", "QUJDR"}}, 400, "\"image\": base64 text"},
      {SearchPath("pics"), {{"image", ""}}, 400, "\"image\" is empty"},
      {SearchPath("pics"), {{"image", 5}}, 400, "image"},
      {SearchPath("pics"), {{"image", good}, {"text", "cat"}}, 400, "exactly one of"},
      {SearchPath("pics"),
       {{"image", good}, {"vector", std::vector<float>(24, 0.5f)}},
       400,
       "exactly one of"},
      {SearchPath("pics"),
       {{"image_source", "x.png"}, {"text", "cat"}},
       400,
       "\"image_source\" needs an \"image\""},
      {SearchPath("pics"), {{"image", cut}}, 400, "corrupt PNG"},
      {SearchPath("pics"), {{"image", Base64Encode("just words")}}, 400, "not an image"},
      {SearchPath("pics"), {{"ranking", "text"}, {"image", good}}, 400, "\"image\""},
      {SearchPath("plain"), {{"image", good}}, 400, "cannot embed images"},
      {SearchPath("missing"), {{"image", good}}, 404, "missing"},
      // Documents: a bad one among good ones writes none of them.
      {Docs("pics"),
       {{"documents", {{{"id", 20}, {"image", good}}, {{"id", 21}, {"image", "%%%"}}}}},
       400,
       "documents[1].image"},
      {Docs("pics"),
       {{"documents",
         {{{"id", 20}, {"image", good}}, {{"id", 21}, {"image", cut}, {"image_source", "c.png"}}}}},
       400,
       "image \"c.png\": corrupt PNG"},
      {Docs("pics"),
       {{"documents",
         {{{"id", 20}, {"image", good}}, {{"id", 21}, {"image", good}, {"text", "x"}}}}},
       400,
       "has an image and a text"},
      {Docs("pics"),
       {{"documents", {{{"id", 20}, {"image_source", "a.png"}}}}},
       400,
       "documents[0].image_source\" needs an \"image\""},
      {Docs("pics"),
       {{"documents", {{{"id", 20}, {"image", good}, {"metadata", {{"kind", "photo"}}}}}}},
       400,
       "metadata key \"kind\" is reserved"},
      {Docs("pics"),
       {{"documents", {{{"id", 20}, {"image", good}, {"image_source", std::string(5000, 'a')}}}}},
       400,
       "image source is 5000 bytes"},
      {Docs("pics"), {{"documents", {{{"id", 1}, {"image", good}}}}}, 409, "1"},
      {Docs("plain"),
       {{"documents", {{{"id", 2}, {"image", good}}}}},
       400,
       "collection \"plain\" cannot embed images"},
  };
  for (const Case& c : cases) {
    Reply r = Post(c.path, c.body);
    const std::string shown = c.path + " " + c.body.dump().substr(0, 200) + " -> " + r.body;
    EXPECT_EQ(r.status, c.status) << shown;
    EXPECT_NE(Message(r).find(c.fragment), std::string::npos) << shown;
  }
  EXPECT_EQ(Count("pics"), 5);
  EXPECT_EQ(Count("plain"), 1);
  EXPECT_EQ(Call("GET", Docs("pics") + "/20").status, 404);

  // Raw image/* bodies: on search only, not empty, not with a text query.
  Reply r = Call("POST", Docs("pics"), png_, {{"Content-Type", "image/png"}});
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(
      Message(r).find("an image/* body is accepted by POST /api/v1/collections/{name}/search"),
      std::string::npos)
      << r.body;
  r = Call("POST", std::string(kApi) + "/pics/count", png_, {{"Content-Type", "image/png"}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = RawSearch("pics", "k=2", "");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("the image/* body is empty"), std::string::npos) << r.body;
  r = RawSearch("pics", "text=cat", png_);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("an image body is the query"), std::string::npos) << r.body;
  r = RawSearch("pics", "k=0", png_);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("\"k\""), std::string::npos) << r.body;
  r = RawSearch("pics", "sparkle=1", png_);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("sparkle"), std::string::npos) << r.body;
  r = RawSearch("plain", "k=1", png_);
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(Message(r).find("cannot embed images"), std::string::npos) << r.body;
  r = RawSearch("pics", "", "GIF89a but not really", "image/gif");
  EXPECT_EQ(r.status, 400) << r.body;
  // A body over max_body_bytes (1 MiB here): 413, whatever its type.
  r = RawSearch("pics", "k=1", png_ + std::string(options.max_body_bytes, '\0'));
  EXPECT_EQ(r.status, 413) << r.body;
  r = Post(Docs("pics"),
           {{"documents", {{{"id", 30}, {"image", Base64Encode(std::string(900'000, 'x'))}}}}});
  EXPECT_EQ(r.status, 413) << r.body.substr(0, 300);
  EXPECT_EQ(Count("pics"), 5);
  // The server still answers.
  EXPECT_EQ(RawSearch("pics", "k=1", png_).status, 200);
}

// The query string of a raw image search: '+' is a space, "%2B" a '+'.
// And the media type is matched whatever its case.
TEST_F(NativeImagesTest, QueryStringKeepsAPercentEncodedPlus) {
  CreatePics();
  Reply r = Post(
      Docs("pics"),
      {{"documents", {{{"id", 7}, {"image", Base64Encode(png_)}, {"image_source", "a+b.png"}}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  r = RawSearch("pics", "k=5&filter=source%20%3D%3D%20%22a%2Bb.png%22", png_);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Ids(r), (std::vector<json>{7})) << r.body;
  r = RawSearch("pics", "k=5&filter=source+%3D%3D+%22a%2Bb.png%22", png_, "Image/PNG");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Ids(r), (std::vector<json>{7})) << r.body;
}

}  // namespace
}  // namespace flashembed::server::testing
