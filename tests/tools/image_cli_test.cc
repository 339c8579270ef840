// End-to-end tests of the CLI's image paths (a collection of a CLIP model
// folder): `embed` with {"image": path} lines, `add --image`, `search
// --image` and image queries in --queries files, image records' metadata,
// re-embedding image records from their files, and the failures that must
// leave the database as it was.
#include <algorithm>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "../encoders/embedding_match.h"
#include "cli_fixture.h"

namespace {

namespace fs = std::filesystem;
using flashembed::encoders::ExpectEmbeddingMatches;
using flashembed::testing::Lines;
using flashembed::testing::OneJson;
using flashembed::testing::RunResult;
using nlohmann::json;

const std::string kClipFolder =
    std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/clip_folder";
const std::string kImages = std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/images";

// The images the collection tests copy into their temporary folder.
const std::vector<std::string> kPictures = {"png_rgb8_37x29.png", "jpeg_gray_97x61.jpg",
                                            "webp_lossy_123x77.webp", "gif_150x100.gif"};

// reference.jsonl of the CLIP folder fixture: the torch.nn reference's
// vectors of texts ("text") and of image files ("image", a name under kImages).
struct Reference {
  std::vector<std::string> texts;
  std::vector<std::vector<double>> text_vectors;
  std::vector<std::string> images;
  std::vector<std::vector<double>> image_vectors;
};

Reference ReadReference() {
  Reference r;
  std::ifstream in(kClipFolder + "/reference.jsonl");
  for (std::string line; std::getline(in, line);) {
    const json j = json::parse(line);
    if (j.contains("text")) {
      r.texts.push_back(j["text"]);
      r.text_vectors.push_back(j["vector"]);
    } else {
      r.images.push_back(j["image"]);
      r.image_vectors.push_back(j["vector"]);
    }
  }
  return r;
}

std::vector<json> JsonLines(const std::string& text) {
  std::vector<json> out;
  for (const std::string& line : Lines(text)) {
    json value = json::parse(line, nullptr, /*allow_exceptions=*/false);
    EXPECT_FALSE(value.is_discarded()) << "not JSON: " << line;
    out.push_back(std::move(value));
  }
  return out;
}

// The ids of a `search --json` result's hits, best first.
std::vector<json> HitIds(const json& result) {
  std::vector<json> ids;
  for (const json& hit : result["hits"]) ids.push_back(hit["id"]);
  return ids;
}

class ImageCliTest : public flashembed::testing::CliFixture {
 protected:
  // A path under the temporary folder (where the tool runs).
  std::string Path(const std::string& name) { return tmp_.Sub(name); }

  // Copies fixture images to pics/ in the temporary folder, so a test may
  // change them; returns their absolute paths (as records keep them).
  std::vector<std::string> CopyPictures() {
    fs::create_directories(Path("pics"));
    std::vector<std::string> paths;
    for (const std::string& name : kPictures) {
      paths.push_back(fs::path(Path("pics/" + name)).lexically_normal().string());
      fs::copy_file(kImages + "/" + name, paths.back(), fs::copy_options::overwrite_existing);
    }
    return paths;
  }

  // "pics": a CLIP collection with the four pictures (ids 1..4, added by
  // their relative paths) and two texts (ids 10 and 11).
  std::vector<std::string> CreatePics() {
    const std::vector<std::string> paths = CopyPictures();
    RunOk({"create", "--db", "db", "-c", "pics", "--model", kClipFolder});
    std::vector<std::string> add = {"add", "--db", "db", "-c", "pics"};
    for (const std::string& name : kPictures) add.insert(add.end(), {"--image", "pics/" + name});
    const RunResult added = RunOk(add);
    EXPECT_NE(added.out.find("added 4 documents to \"pics\" (automatic ids 1..4)"),
              std::string::npos)
        << added.out;
    RunOk({"add", "--db", "db", "-c", "pics", "--id", "10", "--id", "11", "a photo of a cat",
           "two dogs playing in the snow"});
    return paths;
  }

  int64_t Count(const std::string& name = "pics") {
    return OneJson(RunOk({"get", "--db", "db", "-c", name, "--json", "--count"}))["count"];
  }

  json Get(const std::string& id) {
    return OneJson(RunOk({"get", "--db", "db", "-c", "pics", "--json", id}));
  }

  json Search(std::vector<std::string> args) {
    args.insert(args.begin(), {"search", "--db", "db", "-c", "pics", "--json"});
    return OneJson(RunOk(args));
  }
};

// embed: one {"vector"} line per input line, in input order, texts and
// images interleaved, each the reference's vector.
TEST_F(ImageCliTest, EmbedMixesTextsAndImagesInOrderAsTheReference) {
  const Reference ref = ReadReference();
  ASSERT_GE(ref.texts.size(), 10u);
  ASSERT_GE(ref.images.size(), 10u);
  std::string input;
  std::vector<const std::vector<double>*> want;
  std::vector<std::string> what;
  for (size_t i = 0; i < std::max(ref.texts.size(), ref.images.size()); ++i) {
    if (i < ref.images.size()) {
      input += json{{"image", kImages + "/" + ref.images[i]}}.dump() + "\n";
      want.push_back(&ref.image_vectors[i]);
      what.push_back(ref.images[i]);
    }
    if (i < ref.texts.size()) {
      input += json{{"text", ref.texts[i]}}.dump() + "\n";
      want.push_back(&ref.text_vectors[i]);
      what.push_back("text #" + std::to_string(i));
    }
  }
  const std::vector<json> lines = JsonLines(RunOk({"embed", "--model", kClipFolder}, input).out);
  ASSERT_EQ(lines.size(), want.size());
  for (size_t i = 0; i < lines.size(); ++i) {
    ASSERT_EQ(lines[i].size(), 1u) << lines[i];
    const std::vector<float> got = lines[i]["vector"].get<std::vector<float>>();
    ExpectEmbeddingMatches(got, *want[i], "line " + std::to_string(i + 1) + ": " + what[i]);
  }
  // A relative path is read from the working folder.
  fs::copy_file(kImages + "/" + ref.images[0], Path("first.img"));
  const json one = OneJson(RunOk({"embed", "--model", kClipFolder}, R"({"image": "first.img"})"));
  ExpectEmbeddingMatches(one["vector"].get<std::vector<float>>(), ref.image_vectors[0],
                         "relative path");
}

TEST_F(ImageCliTest, EmbedRefusesImagesItCannotEmbedAndPrintsNoVector) {
  const std::string bert =
      std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/bert/mean_norm_f32";
  const std::string png = kImages + "/png_rgb8_37x29.png";
  const std::string lines = R"({"text": "first"})"
                            "\n" +
                            json{{"image", png}}.dump() + "\n";
  // A text-only model: the line of the first image is named.
  RunFails({"embed", "--model", bert}, 1, "<stdin>:2: an image, but the model embeds texts only",
           lines);
  // A missing file, a text file, a truncated PNG: named, no vector printed
  // (not even the text line's before it).
  WriteFile("note.txt", "just some words, not pixels\n");
  std::ifstream in(png, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  WriteFile("cut.png", bytes.substr(0, bytes.size() / 2));
  WriteFile("empty.png", "");
  const std::map<std::string, std::string> bad = {
      {"missing.png", "missing.png: no such file"},
      {"note.txt", "note.txt\": not an image"},
      {"cut.png", "cut.png\": corrupt PNG"},
      {"empty.png", "empty.png: empty file"},
      {".", ".: not a file"},
  };
  for (const auto& [file, needle] : bad) {
    SCOPED_TRACE(file);
    RunFails({"embed", "--model", kClipFolder}, 1, needle,
             R"({"text": "first"})"
             "\n" +
                 json{{"image", file}}.dump() + "\n");
  }
  // An "image" that is no path.
  RunFails({"embed", "--model", kClipFolder}, 1, "<stdin>:1: \"image\" must be a file path",
           R"({"image": 7})");
  RunFails({"embed", "--model", kClipFolder}, 1, "<stdin>:1: \"image\" must be a file path",
           R"({"image": ""})");
}

// add --image, get, search --image / text / --filter / --queries.
TEST_F(ImageCliTest, AddsImagesAndSearchesThemWithImagesAndTexts) {
  const std::vector<std::string> paths = CreatePics();
  EXPECT_EQ(Count(), 6);

  // Each image record: no text, metadata naming the file (absolute path).
  const std::vector<std::vector<int>> sizes = {{37, 29}, {97, 61}, {123, 77}, {150, 100}};
  const std::vector<std::string> formats = {"png", "jpeg", "webp", "gif"};
  std::vector<std::string> hashes;
  for (size_t i = 0; i < paths.size(); ++i) {
    SCOPED_TRACE(paths[i]);
    json doc = Get(std::to_string(i + 1));  // not const: a missing key fails, not aborts
    EXPECT_EQ(doc["text"], "") << doc;
    json& meta = doc["metadata"];
    EXPECT_EQ(meta["kind"], "image") << doc;
    EXPECT_EQ(meta["source"], paths[i]) << doc;
    EXPECT_TRUE(fs::path(meta["source"].get<std::string>()).is_absolute()) << doc;
    EXPECT_EQ(meta["width"], sizes[i][0]) << doc;
    EXPECT_EQ(meta["height"], sizes[i][1]) << doc;
    EXPECT_EQ(meta["format"], formats[i]) << doc;
    const std::string hash = meta["content_hash"];
    EXPECT_EQ(hash.size(), 32u) << doc;
    EXPECT_EQ(hash.find_first_not_of("0123456789abcdef"), std::string::npos) << doc;
    hashes.push_back(hash);
    EXPECT_EQ(meta.size(), 6u) << doc;
  }
  // Different files, different hashes; the same bytes, the same hash.
  for (size_t i = 1; i < hashes.size(); ++i) EXPECT_NE(hashes[i], hashes[0]);
  RunOk({"add", "--db", "db", "-c", "pics", "--id", "20", "--image", kImages + "/" + kPictures[0]});
  EXPECT_EQ(Get("20")["metadata"]["content_hash"], hashes[0]);
  EXPECT_EQ(Get("20")["metadata"]["source"], kImages + "/" + kPictures[0]);
  // --metadata is kept next to the image keys.
  RunOk({"add", "--db", "db", "-c", "pics", "--id", "21", "--metadata", R"({"album": "trip"})",
         "--image", "pics/" + kPictures[1]});
  EXPECT_EQ(Get("21")["metadata"]["album"], "trip");
  EXPECT_EQ(Get("21")["metadata"]["kind"], "image");
  RunOk({"delete", "--db", "db", "-c", "pics", "20", "21"});
  EXPECT_EQ(Count(), 6);

  // An image query finds its own record first, with score ~1; the hits
  // carry the record's metadata.
  for (size_t i = 0; i < paths.size(); ++i) {
    SCOPED_TRACE(paths[i]);
    json result = Search({"--image", paths[i], "-k", "3"});
    ASSERT_EQ(result["hits"].size(), 3u) << result;
    EXPECT_EQ(result["hits"][0]["id"], i + 1) << result;
    EXPECT_NEAR(result["hits"][0]["score"].get<double>(), 1.0, 1e-4) << result;
    EXPECT_LT(result["hits"][1]["score"].get<double>(), 0.999) << result;
    EXPECT_EQ(result["hits"][0]["metadata"]["source"], paths[i]) << result;
  }
  // A text query ranks texts and images in one list.
  json result = Search({"a photo of a cat", "-k", "6"});
  ASSERT_EQ(result["hits"].size(), 6u) << result;
  EXPECT_EQ(result["hits"][0]["id"], 10) << result;
  EXPECT_NEAR(result["hits"][0]["score"].get<double>(), 1.0, 1e-4) << result;
  std::vector<json> ids = HitIds(result);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<json>{1, 2, 3, 4, 10, 11})) << result;
  // A filter on the image keys.
  result = Search({"a photo of a cat", "-k", "6", "--filter", "kind == \"image\""});
  ids = HitIds(result);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<json>{1, 2, 3, 4})) << result;
  result = Search({"--image", paths[2], "--filter", "format == \"png\" or width > 140"});
  ids = HitIds(result);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(ids, (std::vector<json>{1, 4})) << result;

  // The table shows an image record as "[image] <source>".
  const std::string table =
      RunOk({"search", "--db", "db", "-c", "pics", "--image", paths[1], "-k", "1"}).out;
  EXPECT_NE(table.find("[image] " + paths[1]), std::string::npos) << table;

  // --queries: image and text lines, each with its "k" and "id".
  WriteFile("queries.jsonl", json{{"image", "pics/" + kPictures[3]}, {"k", 1}}.dump() + "\n" +
                                 json{{"id", "cat"}, {"text", "a photo of a cat"}}.dump() + "\n" +
                                 json{{"id", "dogs"}, {"image", paths[0]}, {"k", 2}}.dump() + "\n");
  const std::vector<json> answers = JsonLines(
      RunOk({"search", "--db", "db", "-c", "pics", "--queries", "queries.jsonl", "-k", "3"}).out);
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[0]["query"], 1);
  ASSERT_EQ(answers[0]["hits"].size(), 1u) << answers[0];
  EXPECT_EQ(answers[0]["hits"][0]["id"], 4) << answers[0];
  EXPECT_EQ(answers[1]["query"], "cat");
  ASSERT_EQ(answers[1]["hits"].size(), 3u) << answers[1];
  EXPECT_EQ(answers[1]["hits"][0]["id"], 10) << answers[1];
  EXPECT_EQ(answers[2]["query"], "dogs");
  ASSERT_EQ(answers[2]["hits"].size(), 2u) << answers[2];
  EXPECT_EQ(answers[2]["hits"][0]["id"], 1) << answers[2];
  // The same as the single-query form.
  EXPECT_EQ(answers[2]["hits"], Search({"--image", paths[0], "-k", "2"})["hits"]);
}

// The --json shape of an image search: {"hits": [{id, score, text,
// metadata}]}, a vector with --with-vector.
TEST_F(ImageCliTest, ImageSearchJsonShape) {
  const std::vector<std::string> paths = CreatePics();
  // Ordered, to check the order of the keys too.
  const nlohmann::ordered_json result = nlohmann::ordered_json::parse(
      RunOk({"search", "--db", "db", "-c", "pics", "--json", "--image", paths[3], "-k", "2"}).out);
  ASSERT_TRUE(result.is_object()) << result;
  EXPECT_EQ(result.size(), 1u) << result;
  ASSERT_EQ(result["hits"].size(), 2u) << result;
  nlohmann::ordered_json best = result["hits"][0];
  std::vector<std::string> keys;
  for (const auto& [key, value] : best.items()) keys.push_back(key);
  EXPECT_EQ(keys, (std::vector<std::string>{"id", "score", "text", "metadata"})) << best;
  EXPECT_EQ(best["id"], 4);
  EXPECT_TRUE(best["score"].is_number_float()) << best;
  EXPECT_EQ(best["text"], "");
  EXPECT_EQ(best["metadata"]["format"], "gif");
  const json with_vector = Search({"--image", paths[3], "-k", "1", "--with-vector"});
  const std::vector<float> v = with_vector["hits"][0]["vector"].get<std::vector<float>>();
  ASSERT_EQ(v.size(), 24u) << with_vector;
  // The stored vector is the encoder's, as the reference computes it.
  const Reference ref = ReadReference();
  const auto at = std::find(ref.images.begin(), ref.images.end(), kPictures[3]);
  ASSERT_NE(at, ref.images.end());
  ExpectEmbeddingMatches(v, ref.image_vectors[at - ref.images.begin()], kPictures[3] + " (stored)");
}

// Failures name the file or key and write nothing.
TEST_F(ImageCliTest, RefusedImagesWriteNothing) {
  const std::vector<std::string> paths = CreatePics();
  const std::string png = paths[0];
  std::ifstream in(png, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  WriteFile("cut.png", bytes.substr(0, bytes.size() - 40));
  WriteFile("note.txt", "just some words, not pixels\n");
  std::string garbage = bytes;
  for (size_t i = 60; i < garbage.size(); i += 7) garbage[i] = static_cast<char>(~garbage[i]);
  WriteFile("garbage.png", garbage);

  struct Case {
    std::vector<std::string> files;
    std::string needle;
  };
  const std::vector<Case> cases = {
      {{"cut.png"}, "image \"" + Path("cut.png") + "\": corrupt PNG"},
      {{"note.txt"}, "image \"" + Path("note.txt") + "\": not an image"},
      {{"garbage.png"}, "image \"" + Path("garbage.png") + "\""},
      // A good image before the bad one is not written either.
      {{png, "note.txt"}, "note.txt\": not an image"},
      {{png, "missing.png"}, "missing.png: no such file"},
      {{png, "pics"}, "pics: not a file"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.needle);
    std::vector<std::string> args = {"add", "--db", "db", "-c", "pics"};
    for (const std::string& file : c.files) args.insert(args.end(), {"--image", file});
    RunFails(args, 1, c.needle);
    EXPECT_EQ(Count(), 6);
  }
  // An id that is stored.
  RunFails({"add", "--db", "db", "-c", "pics", "--id", "3", "--image", png}, 1, "3");
  RunFails({"add", "--db", "db", "-c", "pics", "--id", "1", "--image", png}, 1, "1");
  // --id count must match.
  RunFails({"add", "--db", "db", "-c", "pics", "--id", "30", "--image", png, "--image", png}, 2,
           "got 1 --id for 2 --image");
  EXPECT_EQ(Count(), 6);

  // The image keys of the metadata are reserved, each named.
  for (const std::string key : {"kind", "source", "content_hash", "width", "height", "format"}) {
    RunFails({"add", "--db", "db", "-c", "pics", "--image", png, "--metadata",
              json{{key, "photo"}}.dump()},
             1, "metadata key \"" + key + "\" is reserved");
  }
  EXPECT_EQ(Count(), 6);

  // A collection of a text-only encoder, and a missing one (not created).
  RunOk({"add", "--db", "db", "-c", "notes", "some words"});
  RunFails({"add", "--db", "db", "-c", "notes", "--image", png}, 1,
           "collection \"notes\" cannot embed images: its encoder (hash) embeds texts only");
  EXPECT_EQ(Count("notes"), 1);
  RunFails({"add", "--db", "db", "-c", "nowhere", "--image", png}, 1,
           "collection \"nowhere\" cannot embed images: it does not exist");
  const json stats = OneJson(RunOk({"stats", "--db", "db", "--json"}));
  for (const json& c : stats["collections"]) EXPECT_NE(c["name"], "nowhere") << stats;
  EXPECT_EQ(stats["collections"].size(), 2u) << stats;

  // Image queries on a text-only collection; bad query images.
  RunFails({"search", "--db", "db", "-c", "notes", "--image", png}, 1,
           "collection \"notes\" cannot embed images");
  WriteFile("q.jsonl", R"({"text": "words"})"
                       "\n" +
                           json{{"image", png}}.dump() + "\n");
  RunFails({"search", "--db", "db", "-c", "notes", "--queries", "q.jsonl"}, 1,
           "q.jsonl:2: collection \"notes\" cannot embed images");
  RunFails({"search", "--db", "db", "-c", "pics", "--image", "note.txt"}, 1,
           "query image \"" + Path("note.txt") + "\": not an image");
  RunFails({"search", "--db", "db", "-c", "pics", "--image", "missing.png"}, 1,
           "missing.png: no such file");
  RunFails({"search", "--db", "db", "-c", "pics", "--image", png, "a", "cat"}, 2, "exactly one");
  WriteFile("both.jsonl", json{{"text", "x"}, {"image", png}}.dump() + "\n");
  RunFails({"search", "--db", "db", "-c", "pics", "--queries", "both.jsonl"}, 1,
           "exactly one of \"text\", \"vector\" and \"image\"");
}

// Re-embedding reads each image record's file again: the same model gives
// the same results; a changed file stops the run and changes nothing.
TEST_F(ImageCliTest, ReembedReadsTheImagesAgainAndRefusesChangedFiles) {
  const std::vector<std::string> paths = CreatePics();
  RunOk({"add", "--db", "db", "-c", "pics", "--id", "12", "--metadata", R"({"album": "trip"})",
         "--image", paths[2]});
  const auto snapshot = [&] {
    std::vector<json> out;
    for (const std::string& path : paths) out.push_back(Search({"--image", path, "-k", "7"}));
    out.push_back(Search({"a photo of a cat", "-k", "7"}));
    for (const std::string id : {"1", "2", "3", "4", "10", "11", "12"}) out.push_back(Get(id));
    return out;
  };
  const std::vector<json> before = snapshot();
  const json summary =
      OneJson(RunOk({"reembed", "--db", "db", "-c", "pics", "--model", kClipFolder, "--json"}));
  EXPECT_EQ(summary["records"], 7) << summary;
  std::vector<json> after = snapshot();
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 0; i < before.size(); ++i) {
    if (before[i].contains("hits")) {
      // Each hit again with its score and metadata. Records 3 and 12 hold
      // the same image, so their tie may break either way.
      ASSERT_EQ(after[i]["hits"].size(), before[i]["hits"].size()) << after[i];
      for (size_t h = 0; h < before[i]["hits"].size(); ++h) {
        const json& want = before[i]["hits"][h];
        const json* got = nullptr;
        for (const json& hit : after[i]["hits"]) {
          if (hit["id"] == want["id"]) got = &hit;
        }
        ASSERT_NE(got, nullptr) << want["id"] << " missing from " << after[i];
        EXPECT_NEAR((*got)["score"].get<double>(), want["score"].get<double>(), 1e-5) << after[i];
        EXPECT_NEAR(after[i]["hits"][h]["score"].get<double>(), want["score"].get<double>(), 1e-5)
            << "the order: " << after[i];
        EXPECT_EQ((*got)["metadata"], want["metadata"]);
      }
    } else {
      EXPECT_EQ(after[i], before[i]);  // get: text and metadata as they were
    }
  }
  EXPECT_EQ(after.back()["metadata"]["album"], "trip");

  // One file overwritten: the run fails naming it, nothing changes.
  fs::copy_file(kImages + "/png_1x1.png", paths[1], fs::copy_options::overwrite_existing);
  RunFails({"reembed", "--db", "db", "-c", "pics", "--model", kClipFolder}, 1,
           "image \"" + paths[1] + "\": the file changed since the record was written");
  EXPECT_EQ(Count(), 7);
  EXPECT_EQ(Get("2"), after[6]);
  // Searches by the unchanged files, and by text, answer as after the
  // successful run.
  for (size_t i : {0, 2, 3}) EXPECT_EQ(Search({"--image", paths[i], "-k", "7"}), after[i]);
  EXPECT_EQ(Search({"a photo of a cat", "-k", "7"}), after[4]);
  RunFails({"reembed", "--db", "db", "-c", "pics", "--abort"}, 1, "no interrupted re-embedding");
  // A file that is gone is named too.
  fs::copy_file(kImages + "/" + kPictures[1], paths[1], fs::copy_options::overwrite_existing);
  fs::remove(paths[3]);
  RunFails({"reembed", "--db", "db", "-c", "pics", "--model", kClipFolder}, 1,
           "image \"" + paths[3] + "\"");
  EXPECT_EQ(Count(), 7);
}

// `search --queries` checks the whole file before the first search: an
// image file that does not exist prints no results of the lines before it.
TEST_F(ImageCliTest, QueriesFileNamingAMissingImagePrintsNothing) {
  CreatePics();
  WriteFile("q.jsonl", R"({"text": "a photo of a cat"})"
                       "\n"
                       R"({"image": "missing.png"})"
                       "\n");
  RunFails({"search", "--db", "db", "-c", "pics", "--queries", "q.jsonl"}, 1,
           "q.jsonl:2: missing.png: no such file");
}

// `embed` embeds every line before it prints: an image file that does not
// exist, in a later batch of 64 lines, prints no vectors of the batches
// before it.
TEST_F(ImageCliTest, EmbedPrintsNothingWhenAnImageOfALaterBatchIsMissing) {
  std::string input;
  for (int i = 0; i < 64; ++i)
    input += R"({"text": "words"})"
             "\n";
  input += R"({"image": "missing.png"})"
           "\n";
  RunFails({"embed", "--model", kClipFolder}, 1, "missing.png: no such file", input);
}

}  // namespace
