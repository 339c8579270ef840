// The OpenAI-compatible embeddings API (/v1/embeddings, /v1/models) on the
// real server: vectors of a model folder checked against the PyTorch
// reference of its fixture (tests/encoders/testdata/bert_text), token-id
// input against text input, base64 against float, a collection's encoder
// against the vectors it stored, and every refusal in OpenAI's error shape.
#include <cmath>
#include <cstring>
#include <fstream>

#include "base/base64.h"
#include "query/database.h"
#include "tests/encoders/embedding_match.h"
#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

const std::string kFolders =
    std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert_text";
const std::string kModel = "uncased_mean_f16";  // a folder inside kFolders

struct Reference {
  std::string text;
  std::vector<int32_t> ids;  // with [CLS] and [SEP]
  std::vector<double> embedding;
};

std::vector<Reference> LoadReferences() {
  std::ifstream in(kFolders + "/" + kModel + "/reference.jsonl");
  std::vector<Reference> out;
  std::string line;
  while (std::getline(in, line)) {
    const json j = json::parse(line);
    out.push_back({j["text"], j["ids"].get<std::vector<int32_t>>(),
                   j["embedding"].get<std::vector<double>>()});
  }
  return out;
}

class OpenAiApiTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    options.allowed_model_dirs = {kFolders};
    Start();
  }
  Reply Embed(const json& body,
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Post("/v1/embeddings", body, headers);
  }
  // The vectors of a 200 answer, decoded from floats or base64.
  static std::vector<std::vector<float>> Vectors(const Reply& r) {
    std::vector<std::vector<float>> out;
    const json body = r.Json();
    for (size_t i = 0; i < body["data"].size(); ++i) {
      const json& item = body["data"][i];
      EXPECT_EQ(item["object"], "embedding");
      EXPECT_EQ(item["index"], i);
      if (item["embedding"].is_string()) {
        auto bytes = Base64Decode(item["embedding"].get<std::string>());
        EXPECT_TRUE(bytes.ok()) << bytes.status();
        std::vector<float> v(bytes->size() / sizeof(float));
        std::memcpy(v.data(), bytes->data(), v.size() * sizeof(float));
        out.push_back(std::move(v));
      } else {
        out.push_back(item["embedding"].get<std::vector<float>>());
      }
    }
    return out;
  }
  // The error object of an OpenAI error answer, after checking its shape.
  static json Error(const Reply& r, int status) {
    EXPECT_EQ(r.status, status) << r.body;
    const json body = json::parse(r.body, nullptr, /*allow_exceptions=*/false);
    EXPECT_TRUE(body.is_object() && body.contains("error")) << r.body;
    if (!body.is_object() || !body.contains("error")) return json::object();
    const json& e = body["error"];
    EXPECT_TRUE(e["message"].is_string()) << r.body;
    EXPECT_TRUE(e["type"].is_string()) << r.body;
    EXPECT_TRUE(e.contains("param")) << r.body;
    EXPECT_TRUE(e.contains("code")) << r.body;
    return e;
  }
};

TEST_F(OpenAiApiTest, TextsOfAFolderMatchThePyTorchReferenceInOneBatch) {
  const std::vector<Reference> refs = LoadReferences();
  ASSERT_GE(refs.size(), 3u);
  json input = json::array();
  size_t tokens = 0;
  for (const Reference& ref : refs) {
    input.push_back(ref.text);
    tokens += ref.ids.size();
  }
  Reply r = Embed({{"model", kModel}, {"input", input}});
  ASSERT_EQ(r.status, 200) << r.body;
  const json body = r.Json();
  EXPECT_EQ(body["object"], "list");
  EXPECT_EQ(body["model"], kModel);
  EXPECT_EQ(body["usage"]["prompt_tokens"], tokens);
  EXPECT_EQ(body["usage"]["total_tokens"], tokens);
  const auto vectors = Vectors(r);
  ASSERT_EQ(vectors.size(), refs.size());
  for (size_t i = 0; i < refs.size(); ++i) {
    encoders::ExpectEmbeddingMatches(vectors[i], refs[i].embedding, refs[i].text);
  }
  // The same folder by "model:DIR" and by its absolute path; one string.
  for (const std::string& name : {"model:" + kFolders + "/" + kModel, kFolders + "/" + kModel}) {
    r = Embed({{"model", name}, {"input", refs[0].text}});
    ASSERT_EQ(r.status, 200) << name << ": " << r.body;
    EXPECT_EQ(r.Json()["model"], name);
    encoders::ExpectEmbeddingMatches(Vectors(r).at(0), refs[0].embedding, name);
  }
}

TEST_F(OpenAiApiTest, TokenIdsAndBase64GiveTheSameVectors) {
  const std::vector<Reference> refs = LoadReferences();
  json sequences = json::array();
  json texts = json::array();
  size_t ids = 0;
  for (const Reference& ref : refs) {
    if (ref.ids.size() <= 2) continue;  // a blank text: no ids to send
    // The model's ids without [CLS] / [SEP]: the server adds them.
    sequences.push_back(std::vector<int32_t>(ref.ids.begin() + 1, ref.ids.end() - 1));
    texts.push_back(ref.text);
    ids += ref.ids.size() - 2;
  }
  Reply by_text = Embed({{"model", kModel}, {"input", texts}});
  Reply by_ids = Embed({{"model", kModel}, {"input", sequences}, {"encoding_format", "base64"}});
  ASSERT_EQ(by_text.status, 200) << by_text.body;
  ASSERT_EQ(by_ids.status, 200) << by_ids.body;
  EXPECT_TRUE(by_ids.Json()["data"][0]["embedding"].is_string());
  EXPECT_EQ(by_ids.Json()["usage"]["prompt_tokens"], ids);
  const auto a = Vectors(by_text);
  const auto b = Vectors(by_ids);
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) EXPECT_EQ(a[i], b[i]) << i;  // bit for bit
  // One flat array is one sequence.
  Reply one = Embed({{"model", kModel}, {"input", sequences[0]}});
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(Vectors(one).at(0), a[0]);
}

TEST_F(OpenAiApiTest, DimensionsTruncateAFolderAndSizeHash) {
  Reply full = Embed({{"model", kModel}, {"input", "the quick brown fox"}});
  Reply cut = Embed({{"model", kModel}, {"input", "the quick brown fox"}, {"dimensions", 8}});
  ASSERT_EQ(full.status, 200) << full.body;
  ASSERT_EQ(cut.status, 200) << cut.body;
  const auto f = Vectors(full).at(0);
  const auto c = Vectors(cut).at(0);
  ASSERT_EQ(c.size(), 8u);
  // This folder normalises, so the cut is the first 8 values at unit length.
  double norm = 0;
  for (size_t k = 0; k < 8; ++k) norm += static_cast<double>(f[k]) * f[k];
  for (size_t k = 0; k < 8; ++k) EXPECT_NEAR(c[k], f[k] / std::sqrt(norm), 1e-6) << k;
  // Wider than the model: refused, naming its width.
  json e = Error(Embed({{"model", kModel}, {"input", "x"}, {"dimensions", 64}}), 400);
  EXPECT_NE(e["message"].get<std::string>().find("16"), std::string::npos) << e;
  EXPECT_EQ(e["param"], "dimensions");

  Reply hash = Embed({{"model", "hash"}, {"input", {"alpha beta", "gamma"}}, {"dimensions", 64}});
  ASSERT_EQ(hash.status, 200) << hash.body;
  const auto hv = Vectors(hash);
  ASSERT_EQ(hv.size(), 2u);
  EXPECT_EQ(hv[0].size(), 64u);
  EXPECT_EQ(hash.Json()["usage"]["prompt_tokens"], 3);  // the words hashed
  auto model = TextModel::Open("hash", 64);
  ASSERT_TRUE(model.ok()) << model.status();
  auto want = (*model)->Embed({"alpha beta"});
  ASSERT_TRUE(want.ok()) << want.status();
  EXPECT_EQ(hv[0], *want);
}

TEST_F(OpenAiApiTest, ACollectionNameEmbedsAsTheCollectionDoes) {
  ASSERT_EQ(
      Post("/api/v1/collections", {{"name", "notes"}, {"encoder", "hash"}, {"dim", 32}}).status,
      201);
  ASSERT_EQ(Post("/api/v1/collections/notes/documents",
                 {{"documents", {{{"id", 1}, {"text", "remember the milk"}}}}})
                .status,
            200);
  Reply stored = Post("/api/v1/collections/notes/get", {{"ids", {1}}, {"with_vector", true}});
  ASSERT_EQ(stored.status, 200) << stored.body;
  const auto want = stored.Json()["documents"][0]["vector"].get<std::vector<float>>();
  Reply r = Embed({{"model", "notes"}, {"input", "remember the milk"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(Vectors(r).at(0), want);
  // Its own width only.
  json e = Error(Embed({{"model", "notes"}, {"input", "x"}, {"dimensions", 16}}), 400);
  EXPECT_EQ(e["param"], "dimensions");
  // A vector-only collection has no encoder to lend.
  ASSERT_EQ(Post("/api/v1/collections", {{"name", "raw"}, {"dim", 4}, {"encoder", "none"}}).status,
            201);
  Error(Embed({{"model", "raw"}, {"input", "x"}}), 400);

  // Listed beside "hash" and the allowed folders; retrievable one by one.
  Reply models = Call("GET", "/v1/models");
  ASSERT_EQ(models.status, 200) << models.body;
  std::vector<std::string> ids;
  const json listed = models.Json();
  for (const json& m : listed["data"]) {
    EXPECT_EQ(m["object"], "model");
    ids.push_back(m["id"]);
  }
  for (const char* id : {"hash", "notes", "uncased_mean_f16", "chinese_cls_f32"}) {
    EXPECT_NE(std::find(ids.begin(), ids.end(), id), ids.end()) << id << " in " << models.body;
  }
  EXPECT_EQ(std::find(ids.begin(), ids.end(), "raw"), ids.end()) << models.body;
  Reply one = Call("GET", "/v1/models/notes");
  ASSERT_EQ(one.status, 200) << one.body;
  EXPECT_EQ(one.Json()["id"], "notes");
  EXPECT_EQ(Error(Call("GET", "/v1/models/nope"), 404)["code"], "model_not_found");
}

TEST_F(OpenAiApiTest, BadRequestsAreRefusedInOpenAisShape) {
  // Unknown models: 404 model_not_found; a folder outside the allowed: 403.
  EXPECT_EQ(Error(Embed({{"model", "text-embedding-3-small"}, {"input", "x"}}), 404)["code"],
            "model_not_found");
  EXPECT_EQ(Error(Embed({{"model", "model:/etc"}, {"input", "x"}}), 403)["param"], "model");
  EXPECT_EQ(Error(Embed({{"model", kModel + "/../../clip_folder"}, {"input", "x"}}), 403)["param"],
            "model");
  // Inputs of the wrong shape, each naming "input".
  for (const json& input :
       {json(nullptr), json(7), json::array(), json({"a", 1}), json({json::array({1, 2}), "a"}),
        json({json::array()}), json({-1}), json({1.5})}) {
    json e = Error(Embed({{"model", "hash"}, {"input", input}}), 400);
    EXPECT_EQ(e["param"], "input") << input;
    EXPECT_EQ(e["type"], "invalid_request_error");
  }
  json too_many = json::array();
  for (size_t i = 0; i <= 2048; ++i) too_many.push_back("x");  // OpenAiApi::kMaxInputs + 1
  Error(Embed({{"model", "hash"}, {"input", too_many}}), 400);
  // An id outside the vocabulary, named with its sequence and position.
  json e = Error(
      Embed({{"model", kModel}, {"input", {json::array({7592}), json::array({1, 99999})}}}), 400);
  EXPECT_NE(e["message"].get<std::string>().find("token sequence 1"), std::string::npos) << e;
  EXPECT_NE(e["message"].get<std::string>().find("99999"), std::string::npos) << e;
  // The hashing encoder has no vocabulary: token ids are refused.
  Error(Embed({{"model", "hash"}, {"input", {1, 2}}}), 400);
  // Other fields.
  EXPECT_EQ(
      Error(Embed({{"model", "hash"}, {"input", "x"}, {"encoding_format", "int8"}}), 400)["param"],
      "encoding_format");
  EXPECT_EQ(Error(Embed({{"model", "hash"}, {"input", "x"}, {"temperature", 1}}), 400)["param"],
            "temperature");
  EXPECT_EQ(Error(Embed({{"input", "x"}}), 400)["param"], "model");
  Error(Call("POST", "/v1/embeddings", "{not json"), 400);
  Error(Call("POST", "/v1/chat/completions", "{}"), 404);
  // "user" is accepted and ignored.
  EXPECT_EQ(Embed({{"model", "hash"}, {"input", "x"}, {"user", "u1"}}).status, 200);
}

TEST_F(OpenAiApiTest, TheBearerTokenGuardsIt) {
  StopAndClose();
  options.token = "s3cret";
  Start();
  json e = Error(Embed({{"model", "hash"}, {"input", "x"}}), 401);
  EXPECT_EQ(e["code"], "invalid_api_key");
  Error(Call("GET", "/v1/models"), 401);
  Reply ok = Embed({{"model", "hash"}, {"input", "x"}}, {{"Authorization", "Bearer s3cret"}});
  EXPECT_EQ(ok.status, 200) << ok.body;
}

}  // namespace
}  // namespace flashembed::server::testing
