// `flashembed ingest` of folders holding images, into a collection of the
// CLIP fixture: one record per image file, unchanged files skipped, changed
// ones replaced, bad ones reported alone, a killed ingest resumed.
#include <signal.h>

#include <gtest/gtest.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <set>
#include <string>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_fixture.h"

namespace flashembed::testing {
namespace {

namespace fs = std::filesystem;

const std::string kModel =
    std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/clip_folder";
const std::string kImages = std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/images";

class ImageIngestCliTest : public CliFixture {
 protected:
  // A folder of images (and one text file) under the temporary folder.
  std::string MakeFolder() {
    const std::string dir = tmp_.Sub("photos");
    fs::create_directories(dir + "/sub");
    for (const char* name : {"jpeg_baseline_1600x1200.jpg", "png_rgb8_37x29.png"}) {
      fs::copy_file(kImages + "/" + name, dir + "/" + name);
    }
    for (const char* name : {"webp_lossy_123x77.webp", "gif_150x100.gif", "jpeg_gray_97x61.jpg"}) {
      fs::copy_file(kImages + "/" + name, dir + "/sub/" + name);
    }
    WriteFile("photos/notes.txt", "Notes about the photos: a cat, a bicycle and the sea.\n");
    return dir;
  }

  nlohmann::json Ingest(const std::vector<std::string>& extra, int exit_code = 0) {
    std::vector<std::string> args = {"ingest", "--db", "db", "-c", "pics", "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    RunResult r = Run(args);
    EXPECT_EQ(r.exit_code, exit_code) << r.err << r.out;
    return OneJson(r);
  }

  std::set<std::string> StoredIds() {
    RunResult r = RunOk({"get", "--db", "db", "-c", "pics", "--filter", "kind == \"image\"",
                         "--limit", "1000", "--json"});
    std::set<std::string> ids;
    for (const std::string& line : Lines(r.out)) {
      auto j = nlohmann::json::parse(line);
      for (const auto& d : j.is_array() ? j : nlohmann::json::array({j})) ids.insert(d["id"]);
    }
    return ids;
  }
};

TEST_F(ImageIngestCliTest, ImagesBecomeRecordsAndIngestingAgainSkipsOrReplaces) {
  const std::string dir = MakeFolder();
  nlohmann::json first = Ingest({"--model", kModel, dir});
  EXPECT_EQ(first["images"]["added"], 5);
  EXPECT_EQ(first["images"]["failed"], 0);
  EXPECT_EQ(first["documents"], 1);  // notes.txt, a long document
  EXPECT_EQ(StoredIds(), (std::set<std::string>{"jpeg_baseline_1600x1200.jpg", "png_rgb8_37x29.png",
                                                "sub/webp_lossy_123x77.webp", "sub/gif_150x100.gif",
                                                "sub/jpeg_gray_97x61.jpg"}));
  RunResult got =
      RunOk({"get", "--db", "db", "-c", "pics", "--string-id", "sub/gif_150x100.gif", "--json"});
  auto record = nlohmann::json::parse(Lines(got.out).at(0));
  EXPECT_EQ(record["metadata"]["source"], fs::path(dir + "/sub/gif_150x100.gif").string());
  EXPECT_EQ(record["metadata"]["format"], "gif");
  EXPECT_EQ(record["metadata"]["width"], 150);

  nlohmann::json again = Ingest({dir});
  EXPECT_EQ(again["images"]["unchanged"], 5);
  EXPECT_EQ(again["images"]["added"], 0);
  EXPECT_EQ(again["unchanged"], 1);

  // One file changes, one is added, --include picks the files.
  fs::copy_file(kImages + "/jpeg_1x1.jpg", dir + "/png_rgb8_37x29.png",
                fs::copy_options::overwrite_existing);
  fs::copy_file(kImages + "/png_rgba8_34x26.png", dir + "/new.png");
  nlohmann::json third = Ingest({dir, "--include", "*.png"});
  EXPECT_EQ(third["images"]["replaced"], 1);
  EXPECT_EQ(third["images"]["added"], 1);
  EXPECT_EQ(third["images"]["unchanged"], 0);
  EXPECT_EQ(third["documents"], 0);
  got = RunOk({"get", "--db", "db", "-c", "pics", "--string-id", "png_rgb8_37x29.png", "--json"});
  record = nlohmann::json::parse(Lines(got.out).at(0));
  EXPECT_EQ(record["metadata"]["format"], "jpeg");  // the new content
  // An image query finds the new file's record first.
  RunResult hits = RunOk({"search", "--db", "db", "-c", "pics", "--image",
                          kImages + "/png_rgba8_34x26.png", "-k", "1", "--json"});
  EXPECT_EQ(OneJson(hits)["hits"][0]["id"], "new.png");
}

TEST_F(ImageIngestCliTest, BadFilesFailAloneAndTextCollectionsRefuseImages) {
  const std::string dir = MakeFolder();
  WriteFile("photos/broken.jpg", "this is no JPEG");
  const std::string truncated = ReadAll(kImages + "/png_rgb8_37x29.png");
  WriteFile("photos/sub/truncated.png", truncated.substr(0, truncated.size() / 2));
  RunResult r = Run({"ingest", "--db", "db", "-c", "pics", "--json", "--model", kModel, dir});
  EXPECT_EQ(r.exit_code, 3) << r.err;  // some inputs failed, the others are stored
  EXPECT_NE(r.err.find(dir + "/broken.jpg: not an image"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find(dir + "/sub/truncated.png: "), std::string::npos) << r.err;
  nlohmann::json out = OneJson(r);
  EXPECT_EQ(out["images"]["added"], 5);
  EXPECT_EQ(out["images"]["failed"], 2);
  EXPECT_EQ(out["errors"].size(), 2u);
  EXPECT_EQ(StoredIds().size(), 5u);

  // A hash collection ingests the text and refuses the images by name.
  r = Run({"ingest", "--db", "db", "-c", "words", "--json", dir});
  EXPECT_EQ(r.exit_code, 3) << r.err;
  EXPECT_NE(r.err.find("an image, but collection \"words\" embeds texts only"), std::string::npos)
      << r.err;
  out = OneJson(r);
  EXPECT_EQ(out["added"], 1);
  EXPECT_EQ(out["images"]["failed"], 7);
}

// --exif-orientation: off by default (as transformers), on it rotates an
// image with an EXIF Orientation tag and leaves others as they are; the
// same flag on add and search makes an image find itself.
TEST_F(ImageIngestCliTest, ExifOrientationIsAnOption) {
  const std::string rotated = kImages + "/jpeg_exif6_40x30.jpg";
  const std::string plain = kImages + "/png_rgb8_37x29.png";
  const std::string input =
      R"({"image": ")" + rotated + "\"}\n" + R"({"image": ")" + plain + "\"}\n";
  const std::vector<std::string> off = Lines(RunOk({"embed", "--model", kModel}, input).out);
  const std::vector<std::string> on =
      Lines(RunOk({"embed", "--model", kModel, "--exif-orientation"}, input).out);
  ASSERT_EQ(off.size(), 2u);
  ASSERT_EQ(on.size(), 2u);
  EXPECT_NE(off[0], on[0]);  // turned by 90 degrees: another vector
  EXPECT_EQ(off[1], on[1]);  // no EXIF: the same
  RunOk({"create", "--db", "db", "-c", "pics", "--model", kModel});
  RunOk({"add", "--db", "db", "-c", "pics", "--image", rotated, "--exif-orientation"});
  RunOk({"add", "--db", "db", "-c", "pics", "--image", rotated, plain, "--id", "2", "--id", "3"});
  auto first = [&](const std::vector<std::string>& extra) {
    std::vector<std::string> args = {"search",  "--db",  "db", "-c", "pics",
                                     "--image", rotated, "-k", "1",  "--json"};
    args.insert(args.end(), extra.begin(), extra.end());
    return OneJson(RunOk(args))["hits"][0];
  };
  EXPECT_EQ(first({"--exif-orientation"})["id"], 1);
  EXPECT_NEAR(first({"--exif-orientation"})["score"].get<double>(), 1.0, 1e-5);
  EXPECT_EQ(first({})["id"], 2);
}

// SIGKILL in the middle of an ingest of many images: what was written is
// whole, and ingesting again adds exactly the rest.
TEST_F(ImageIngestCliTest, AKilledIngestResumes) {
  const std::string dir = tmp_.Sub("many");
  fs::create_directories(dir);
  constexpr int kFiles = 240;
  for (int i = 0; i < kFiles; ++i) {
    fs::copy_file(kImages + "/jpeg_progressive_301x199.jpg",
                  dir + "/" + std::to_string(i) + ".jpg");
  }
  // Different contents: append a byte after the JPEG's end marker (decoders
  // ignore it; the content hash changes).
  for (int i = 0; i < kFiles; ++i) {
    std::ofstream(dir + "/" + std::to_string(i) + ".jpg", std::ios::app) << static_cast<char>(i);
  }
  // How long a whole ingest takes here, to kill the next one about halfway.
  const auto t0 = std::chrono::steady_clock::now();
  ExpectRunOk(Run({"ingest", "--db", "timing", "-c", "pics", "--model", kModel, "--quiet", dir}));
  const auto whole = std::chrono::steady_clock::now() - t0;
  ExpectRunOk(Run({"create", "--db", "db", "-c", "pics", "--model", kModel}));
  const pid_t pid = StartProgram(
      {FLASHEMBED_CLI_PATH, "ingest", "--db", tmp_.Sub("db"), "-c", "pics", "--json", dir},
      tmp_.path());
  ASSERT_GT(pid, 0);
  std::this_thread::sleep_for(whole / 2);
  kill(pid, SIGKILL);
  WaitExit(pid);
  const size_t before = StoredIds().size();
  std::cout << "killed after " << before << " of " << kFiles << " images were stored\n";
  EXPECT_LE(before, static_cast<size_t>(kFiles));
  // Batches of 32 images (kImageBatchSize) are written whole; the last one
  // is smaller.
  EXPECT_TRUE(before % 32 == 0 || before == kFiles) << before;
  nlohmann::json out = Ingest({dir});
  EXPECT_EQ(out["images"]["unchanged"], static_cast<int>(before));
  EXPECT_EQ(out["images"]["added"], kFiles - static_cast<int>(before));
  EXPECT_EQ(StoredIds().size(), static_cast<size_t>(kFiles));
}

}  // namespace
}  // namespace flashembed::testing
