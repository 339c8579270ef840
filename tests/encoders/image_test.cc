// Image decoding and CLIP preprocessing against Pillow 9.4: the fixtures under
// testdata/images/ (tools/fixtures/gen_image_fixtures.py) hold image files of
// every supported kind, what Pillow's Image.open(f).convert("RGB") makes of
// each, the tensors of transformers' CLIPImageProcessor re-done on Pillow, and
// Pillow's Image.resize with each filter; manifest.json lists them.
#include "encoders/image.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <iostream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "tests/testing/test_util.h"

namespace flashembed::encoders {
namespace {

using testing::Contains;
using testing::TempDir;

std::string ImagesDir() {
  return std::string(FLASHEMBED_SOURCE_DIR) + "/tests/encoders/testdata/images/";
}

std::vector<uint8_t> ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

const nlohmann::json& Manifest() {
  static const nlohmann::json manifest = [] {
    std::ifstream in(ImagesDir() + "manifest.json");
    return nlohmann::json::parse(in);
  }();
  return manifest;
}

const nlohmann::json* FindImage(const std::string& file) {
  for (const auto& entry : Manifest()["images"]) {
    if (entry["file"] == file) return &entry;
  }
  return nullptr;
}

uint64_t Fnv1a64(const std::vector<uint8_t>& bytes) {
  uint64_t h = 0xCBF29CE484222325ull;
  for (uint8_t b : bytes) h = (h ^ b) * 0x100000001B3ull;
  return h;
}

// Checks `image` against a manifest RGB reference: full bytes, or hash and
// sample pixels. Returns the largest difference seen (samples only when
// hashed).
int ExpectRgbMatches(const Image& image, const nlohmann::json& ref) {
  EXPECT_EQ(image.width, ref["width"].get<int>());
  EXPECT_EQ(image.height, ref["height"].get<int>());
  if (image.width != ref["width"].get<int>() || image.height != ref["height"].get<int>()) {
    return 255;
  }
  int max_diff = 0;
  if (ref.contains("file")) {
    const std::vector<uint8_t> expected = ReadBytes(ImagesDir() + ref["file"].get<std::string>());
    EXPECT_EQ(expected.size(), image.rgb.size());
    if (expected.size() != image.rgb.size()) return 255;
    size_t differing = 0;
    for (size_t i = 0; i < expected.size(); ++i) {
      const int d = std::abs(int{expected[i]} - int{image.rgb[i]});
      max_diff = std::max(max_diff, d);
      differing += d != 0;
    }
    EXPECT_EQ(differing, 0u) << "max difference " << max_diff;
    return max_diff;
  }
  for (const auto& s : ref["samples"]) {
    const int x = s[0], y = s[1];
    for (int c = 0; c < 3; ++c) {
      const int got = image.rgb[(static_cast<size_t>(y) * image.width + x) * 3 + c];
      max_diff = std::max(max_diff, std::abs(got - s[2 + c].get<int>()));
    }
  }
  char hash[17];
  std::snprintf(hash, sizeof(hash), "%016llx", static_cast<unsigned long long>(Fnv1a64(image.rgb)));
  EXPECT_EQ(std::string(hash), ref["fnv1a64"].get<std::string>())
      << "max difference on the samples " << max_diff;
  return max_diff;
}

TEST(ImageDecode, MatchesPillowOnEveryFixture) {
  int files = 0;
  for (const auto& entry : Manifest()["images"]) {
    const std::string file = entry["file"];
    SCOPED_TRACE(file);
    ASSERT_OK_AND_ASSIGN(Image image, ReadImageFile(ImagesDir() + file));
    EXPECT_EQ(ExpectRgbMatches(image, entry["rgb"]), 0);
    ++files;
  }
  EXPECT_GE(files, 50);
}

TEST(ImageDecode, ProbeGivesFormatAndDecodedSize) {
  for (const auto& entry : Manifest()["images"]) {
    const std::string file = entry["file"];
    SCOPED_TRACE(file);
    const std::vector<uint8_t> bytes = ReadBytes(ImagesDir() + file);
    ASSERT_OK_AND_ASSIGN(ImageInfo info, ProbeImage(bytes));
    EXPECT_EQ(info.format, entry["format"].get<std::string>());
    EXPECT_EQ(info.width, entry["rgb"]["width"].get<int>());
    EXPECT_EQ(info.height, entry["rgb"]["height"].get<int>());
  }
}

TEST(ImageDecode, ExifOrientationOnlyWithTheOption) {
  int files = 0;
  for (const auto& entry : Manifest()["images"]) {
    if (!entry.contains("exif_orientation")) continue;
    const std::string file = entry["file"];
    SCOPED_TRACE(file);
    ASSERT_OK_AND_ASSIGN(Image plain, ReadImageFile(ImagesDir() + file));
    EXPECT_EQ(ExpectRgbMatches(plain, entry["rgb"]), 0);
    ASSERT_OK_AND_ASSIGN(Image oriented,
                         ReadImageFile(ImagesDir() + file, {.apply_exif_orientation = true}));
    EXPECT_EQ(ExpectRgbMatches(oriented, entry["rgb_exif_transposed"]), 0);
    if (entry["exif_orientation"] == 6 || entry["exif_orientation"] == 8) {
      EXPECT_EQ(oriented.width, plain.height);
    }
    ++files;
  }
  EXPECT_GE(files, 5);  // JPEG 3, 6, 8; PNG eXIf 6; WebP EXIF 8
}

// ---- Preprocessing -------------------------------------------------------------

struct Agreement {
  size_t values = 0;
  size_t within = 0;  // within kTolerance
  size_t exact = 0;
  double max_error = 0;
  void Add(double got, double want) {
    const double e = std::abs(got - want);
    ++values;
    within += e <= kTolerance;
    exact += got == want;
    max_error = std::max(max_error, e);
  }
  double within_fraction() const { return values ? double(within) / double(values) : 1.0; }
  static constexpr double kTolerance = 2.0 / 255;
};

// The reference tensor of one fixture: stored floats, or for the 224 configs
// computed from the stored uint8 crop the way transformers does (float64
// rescale, float32 normalize).
std::vector<float> ReferenceTensor(const nlohmann::json& pre, const ImagePreprocessor& p) {
  if (pre.contains("tensor_f32")) {
    const std::vector<uint8_t> bytes =
        ReadBytes(ImagesDir() + pre["tensor_f32"].get<std::string>());
    std::vector<float> out(bytes.size() / 4);
    std::memcpy(out.data(), bytes.data(), out.size() * 4);  // little-endian host
    return out;
  }
  const std::vector<uint8_t> crop = ReadBytes(ImagesDir() + pre["crop_u8"].get<std::string>());
  const int h = pre["shape"][1], w = pre["shape"][2];
  std::vector<float> out(crop.size());
  for (int c = 0; c < 3; ++c) {
    for (int i = 0; i < h * w; ++i) {
      float v = static_cast<float>(crop[static_cast<size_t>(i) * 3 + c] * p.rescale_factor);
      out[static_cast<size_t>(c) * h * w + i] = (v - p.image_mean[c]) / p.image_std[c];
    }
  }
  return out;
}

ImagePreprocessor LoadConfig(const std::string& name) {
  auto p =
      ImagePreprocessor::FromFile(ImagesDir() + Manifest()["configs"][name].get<std::string>());
  EXPECT_TRUE(p.ok()) << p.status();
  return p.ok() ? *p : ImagePreprocessor{};
}

// Runs one fixture's preprocessing with `p` and scores it against the reference.
Agreement Score(const Image& image, const nlohmann::json& pre, const ImagePreprocessor& p) {
  Agreement a;
  const std::vector<float> want = ReferenceTensor(pre, p);
  const int h = pre["shape"][1], w = pre["shape"][2];
  EXPECT_EQ(p.OutputHeight(image), h);
  EXPECT_EQ(p.OutputWidth(image), w);
  std::vector<float> got(static_cast<size_t>(3) * h * w);
  EXPECT_EQ(want.size(), got.size());
  if (want.size() != got.size()) return a;
  const Status s = p.Apply(image, got);
  EXPECT_TRUE(s.ok()) << s;
  for (size_t i = 0; i < got.size(); ++i) a.Add(got[i], want[i]);
  return a;
}

TEST(ImagePreprocess, MatchesClipImageProcessorOnEveryFixture) {
  Agreement all;
  int cases = 0;
  for (const auto& entry : Manifest()["images"]) {
    const std::string file = entry["file"];
    ASSERT_OK_AND_ASSIGN(Image image, ReadImageFile(ImagesDir() + file));
    for (const auto& pre : entry["preprocessed"]) {
      const std::string config = pre["config"];
      SCOPED_TRACE(file + " with config " + config);
      const ImagePreprocessor p = LoadConfig(config);
      const Agreement a = Score(image, pre, p);
      EXPECT_GE(a.within_fraction(), 0.999) << "max error " << a.max_error;
      all.values += a.values;
      all.within += a.within;
      all.exact += a.exact;
      all.max_error = std::max(all.max_error, a.max_error);
      ++cases;
    }
  }
  EXPECT_GE(cases, 50);
  std::cout << "[ image    ] preprocessing: " << cases << " cases, " << all.values
            << " values, max |error| " << all.max_error
            << ", within 2/255: " << all.within_fraction()
            << ", bit-identical: " << double(all.exact) / double(all.values) << "\n";
  EXPECT_EQ(all.exact, all.values);  // measured: every value bit-identical
}

// The filter matters: bilinear instead of CLIP's bicubic fails the tolerance
// the test above holds the real filter to.
TEST(ImagePreprocess, BilinearDoesNotPassForBicubic) {
  const nlohmann::json* entry = FindImage("jpeg_baseline_1600x1200.jpg");
  ASSERT_NE(entry, nullptr);
  ASSERT_OK_AND_ASSIGN(Image image, ReadImageFile(ImagesDir() + "jpeg_baseline_1600x1200.jpg"));
  for (const auto& pre : (*entry)["preprocessed"]) {
    SCOPED_TRACE(pre["config"].get<std::string>());
    ImagePreprocessor p = LoadConfig(pre["config"]);
    ASSERT_EQ(p.resample, Resample::kBicubic);
    EXPECT_GE(Score(image, pre, p).within_fraction(), 0.999);
    p.resample = Resample::kBilinear;
    const Agreement bilinear = Score(image, pre, p);
    EXPECT_LT(bilinear.within_fraction(), 0.999) << "max error " << bilinear.max_error;
    std::cout << "[ image    ] bilinear for " << pre["config"].get<std::string>()
              << ": within 2/255: " << bilinear.within_fraction() << ", max |error| "
              << bilinear.max_error << "\n";
  }
}

TEST(ImagePreprocess, ReadsConfigs) {
  // openai/clip-vit-base-patch32's file: legacy int sizes.
  const ImagePreprocessor clip = LoadConfig("clip224");
  EXPECT_EQ(clip.shortest_edge, 224);
  EXPECT_EQ(clip.resize_height, 0);
  EXPECT_EQ(clip.crop_height, 224);
  EXPECT_EQ(clip.crop_width, 224);
  EXPECT_EQ(clip.out_height(), 224);
  EXPECT_EQ(clip.resample, Resample::kBicubic);
  const ImagePreprocessor exact = LoadConfig("exact");
  EXPECT_EQ(exact.resize_height, 20);
  EXPECT_EQ(exact.resize_width, 28);
  EXPECT_FALSE(exact.do_center_crop);
  EXPECT_EQ(exact.out_height(), 20);
  EXPECT_EQ(exact.out_width(), 28);
  EXPECT_EQ(exact.resample, Resample::kLanczos);
  const ImagePreprocessor nonsquare = LoadConfig("nonsquare");
  EXPECT_EQ(nonsquare.crop_height, 18);
  EXPECT_EQ(nonsquare.crop_width, 22);
  ASSERT_OK_AND_ASSIGN(auto defaults, ImagePreprocessor::FromJson("{}", "x.json"));
  EXPECT_EQ(defaults.shortest_edge, 224);
  EXPECT_FLOAT_EQ(defaults.image_std[2], 0.27577711f);
  ASSERT_OK_AND_ASSIGN(auto list, ImagePreprocessor::FromJson(R"({"size": [30, 40]})", "x"));
  EXPECT_EQ(list.resize_height, 30);
  EXPECT_EQ(list.resize_width, 40);
}

TEST(ImagePreprocess, RefusesUnsupportedConfigs) {
  const struct {
    const char* json;
    const char* field;
  } cases[] = {
      {R"({"image_processor_type": "SiglipImageProcessor"})", "image_processor_type"},
      {R"({"feature_extractor_type": "ViTFeatureExtractor"})", "feature_extractor_type"},
      {R"({"resample": 7})", "resample"},
      {R"({"size": {"longest_edge": 300}})", "size"},
      {R"({"size": 0})", "size"},
      {R"({"crop_size": {"height": 10}})", "crop_size"},
      {R"({"image_std": [0.1, 0, 0.2]})", "image_std"},
      {R"({"image_mean": [0.1, 0.2]})", "image_mean"},
      {R"({"do_resize": "yes"})", "do_resize"},
      {R"({"rescale_factor": "1/255"})", "rescale_factor"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.json);
    auto p = ImagePreprocessor::FromJson(c.json, "cfg.json");
    ASSERT_FALSE(p.ok());
    EXPECT_TRUE(p.status().IsInvalidArgument()) << p.status();
    EXPECT_TRUE(Contains(p.status(), "cfg.json")) << p.status();
    EXPECT_TRUE(Contains(p.status(), c.field)) << p.status();
  }
  auto malformed = ImagePreprocessor::FromJson("{\"size\": ", "cfg.json");
  EXPECT_TRUE(malformed.status().IsInvalidArgument());
  auto missing = ImagePreprocessor::FromFile("/nonexistent/preprocessor_config.json");
  EXPECT_TRUE(missing.status().IsNotFound()) << missing.status();
  EXPECT_TRUE(Contains(missing.status(), "/nonexistent/preprocessor_config.json"));
}

TEST(ImagePreprocess, RefusesAWrongOutputSize) {
  ASSERT_OK_AND_ASSIGN(Image image, ReadImageFile(ImagesDir() + "png_rgb8_37x29.png"));
  const ImagePreprocessor p = LoadConfig("small");
  std::vector<float> out(3 * 24 * 24 - 1);
  const Status s = p.Apply(image, out);
  EXPECT_TRUE(s.IsInvalidArgument()) << s;
  EXPECT_TRUE(p.Apply(Image{}, out).IsInvalidArgument());
}

// ---- Resize ----------------------------------------------------------------------

TEST(ImageResize, MatchesPillowForEveryFilter) {
  const nlohmann::json& resize = Manifest()["resize"];
  Image src;
  src.width = resize["width"];
  src.height = resize["height"];
  src.rgb = ReadBytes(ImagesDir() + resize["source"].get<std::string>());
  int cases = 0;
  for (const auto& c : resize["cases"]) {
    const int w = c["width"], h = c["height"], filter = c["filter"];
    SCOPED_TRACE("filter " + std::to_string(filter) + " to " + std::to_string(w) + "x" +
                 std::to_string(h));
    const Image out = ResizeImage(src, w, h, static_cast<Resample>(filter));
    ASSERT_EQ(out.width, w);
    ASSERT_EQ(out.height, h);
    const std::vector<uint8_t> want = ReadBytes(ImagesDir() + c["file"].get<std::string>());
    ASSERT_EQ(out.rgb.size(), want.size());
    int max_diff = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      max_diff = std::max(max_diff, std::abs(int{out.rgb[i]} - int{want[i]}));
    }
    EXPECT_EQ(max_diff, 0);
    ++cases;
  }
  EXPECT_EQ(cases, 42);  // 6 filters x 7 sizes, down, up, one axis, 1x1, same size
}

// ---- Failure paths -----------------------------------------------------------------

void ExpectInvalid(std::span<const uint8_t> bytes, const std::string& text) {
  auto image = DecodeImage(bytes);
  ASSERT_FALSE(image.ok()) << "decoded " << image->width << "x" << image->height;
  EXPECT_TRUE(image.status().IsInvalidArgument()) << image.status();
  EXPECT_TRUE(Contains(image.status(), text)) << image.status();
}

TEST(ImageDecode, RefusesEmptyAndNonImages) {
  ExpectInvalid({}, "empty");
  EXPECT_TRUE(ProbeImage({}).status().IsInvalidArgument());
  const std::string text = "This is a text file, not an image.\n";
  ExpectInvalid({reinterpret_cast<const uint8_t*>(text.data()), text.size()}, "not an image");
  std::mt19937 rng(7);
  std::vector<uint8_t> noise(4096);
  for (auto& b : noise) b = static_cast<uint8_t>(rng());
  noise[0] = 0x42;  // not by chance a JPEG / PNG signature
  ExpectInvalid(noise, "not an image");
  const uint8_t bmp[] = {'B', 'M', 0x36, 0, 0, 0, 0, 0, 0, 0, 0x36, 0, 0, 0};
  ExpectInvalid(bmp, "BMP");
}

TEST(ImageDecode, RefusesTruncatedFiles) {
  for (const char* file :
       {"jpeg_progressive_301x199.jpg", "jpeg_baseline_1600x1200.jpg", "png_rgb8_37x29.png",
        "png_interlaced_rgb8_53x41.png", "webp_lossy_123x77.webp", "webp_lossless_71x49.webp",
        "gif_150x100.gif", "jpeg_cmyk_64x48.jpg"}) {
    SCOPED_TRACE(file);
    const std::vector<uint8_t> bytes = ReadBytes(ImagesDir() + file);
    for (size_t keep : {bytes.size() / 2, bytes.size() - 20, size_t{40}, size_t{12}, size_t{5}}) {
      SCOPED_TRACE(keep);
      const std::span<const uint8_t> head(bytes.data(), keep);
      auto image = DecodeImage(head);
      ASSERT_FALSE(image.ok());
      EXPECT_TRUE(image.status().IsInvalidArgument()) << image.status();
    }
  }
  const std::vector<uint8_t> jpeg = ReadBytes(ImagesDir() + "jpeg_progressive_301x199.jpg");
  ExpectInvalid(std::span(jpeg.data(), jpeg.size() / 2), "truncated");
  const std::vector<uint8_t> png = ReadBytes(ImagesDir() + "png_rgb8_37x29.png");
  ExpectInvalid(std::span(png.data(), png.size() / 2), "truncated");
}

size_t FindChunk(const std::vector<uint8_t>& png, const char* type) {
  for (size_t at = 8; at + 8 <= png.size();) {
    const size_t length =
        (size_t{png[at]} << 24) | (png[at + 1] << 16) | (png[at + 2] << 8) | png[at + 3];
    if (std::memcmp(&png[at + 4], type, 4) == 0) return at;
    at += 12 + length;
  }
  return 0;
}

TEST(ImageDecode, RefusesPngWithBadCrc) {
  const std::vector<uint8_t> png = ReadBytes(ImagesDir() + "png_rgb8_37x29.png");
  // The first IDAT chunk's CRC.
  const size_t idat = FindChunk(png, "IDAT");
  const size_t length =
      (size_t{png[idat]} << 24) | (png[idat + 1] << 16) | (png[idat + 2] << 8) | png[idat + 3];
  std::vector<uint8_t> bad_crc = png;
  bad_crc[idat + 8 + length] ^= 0x01;
  ExpectInvalid(bad_crc, "CRC");
  // A changed data byte: zlib or the CRC check notices, whichever comes first.
  std::vector<uint8_t> bad_data = png;
  bad_data[idat + 8 + length / 2] ^= 0x01;
  ExpectInvalid(bad_data, "corrupt PNG");
  std::vector<uint8_t> bad_header_crc = png;
  bad_header_crc[8 + 8 + 13] ^= 0x80;  // IHDR's CRC
  ExpectInvalid(bad_header_crc, "CRC");
}

uint32_t Crc32(const uint8_t* data, size_t n) {
  uint32_t crc = 0xFFFFFFFFu;
  for (size_t i = 0; i < n; ++i) {
    crc ^= data[i];
    for (int k = 0; k < 8; ++k) crc = (crc >> 1) ^ (0xEDB88320u & (0u - (crc & 1)));
  }
  return ~crc;
}

// A PNG signature and an IHDR (with a valid CRC) for a width x height RGB
// image, and nothing else.
std::vector<uint8_t> PngHeaderOnly(uint32_t width, uint32_t height) {
  std::vector<uint8_t> out = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n',
                              0,    0,   0,   13,  'I',  'H',  'D',  'R'};
  for (uint32_t v : {width, height}) {
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(v >> s));
  }
  for (uint8_t b : {8, 2, 0, 0, 0}) out.push_back(b);
  const uint32_t crc = Crc32(&out[12], 17);
  for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(crc >> s));
  return out;
}

TEST(ImageDecode, RefusesTooManyPixelsBeforeAllocating) {
  // 10^10 pixels would be 30 GB: refused from the header, and the test only
  // stays fast because nothing that size is allocated.
  const std::vector<uint8_t> huge = PngHeaderOnly(100000, 100000);
  ASSERT_OK_AND_ASSIGN(ImageInfo info, ProbeImage(huge));
  EXPECT_EQ(info.width, 100000);
  ExpectInvalid(huge, "100000x100000");
  ExpectInvalid(huge, "max_pixels");
  ExpectInvalid(huge, "178956970");
  // The limit is the option's, for every format.
  for (const char* file : {"png_rgb8_37x29.png", "jpeg_444_45x37.jpg", "webp_lossless_71x49.webp",
                           "gif_trns_47x31.gif"}) {
    SCOPED_TRACE(file);
    const std::vector<uint8_t> bytes = ReadBytes(ImagesDir() + file);
    auto image = DecodeImage(bytes, {.max_pixels = 1000});
    EXPECT_TRUE(image.status().IsInvalidArgument()) << image.status();
    EXPECT_TRUE(Contains(image.status(), "limit of 1000 pixels")) << image.status();
  }
}

TEST(ImageDecode, FileErrorsNameThePath) {
  const std::string missing = "/nonexistent/folder/cat.jpg";
  auto image = ReadImageFile(missing);
  EXPECT_TRUE(image.status().IsNotFound()) << image.status();
  EXPECT_TRUE(Contains(image.status(), missing));
  TempDir dir;
  const std::string text = dir.Sub("notes.jpg");
  std::ofstream(text) << "plain text\n";
  image = ReadImageFile(text);
  EXPECT_TRUE(image.status().IsInvalidArgument()) << image.status();
  EXPECT_TRUE(Contains(image.status(), text)) << image.status();
  const std::string empty = dir.Sub("empty.png");
  std::ofstream{empty};
  image = ReadImageFile(empty);
  EXPECT_TRUE(image.status().IsInvalidArgument()) << image.status();
  EXPECT_TRUE(Contains(image.status(), empty)) << image.status();
  image = ReadImageFile(dir.path());
  EXPECT_FALSE(image.ok());
  EXPECT_TRUE(Contains(image.status(), dir.path())) << image.status();
}

// Every prefix and many single-byte corruptions of small files of each format
// decode or fail cleanly (run under ASan in CI).
TEST(ImageDecode, CorruptInputNeverCrashes) {
  std::mt19937 rng(11);
  for (const char* file :
       {"jpeg_444_45x37.jpg", "png_interlaced_gray2_11x9.png", "png_pal4_30x22.png",
        "webp_1x1.webp", "webp_lossless_alpha_57x43.webp", "gif_trns_47x31.gif",
        "gif_offset_frame_40x30.gif", "jpeg_cmyk_64x48.jpg"}) {
    SCOPED_TRACE(file);
    const std::vector<uint8_t> bytes = ReadBytes(ImagesDir() + file);
    const auto check = [](const Result<Image>& image) {
      if (image.ok()) {
        EXPECT_EQ(image->rgb.size(), size_t{3} * image->width * image->height);
      } else {
        EXPECT_TRUE(image.status().IsInvalidArgument()) << image.status();
      }
    };
    for (size_t n = 0; n < bytes.size(); n += 1 + bytes.size() / 300) {
      check(DecodeImage(std::span(bytes.data(), n)));
    }
    for (int trial = 0; trial < 300; ++trial) {
      std::vector<uint8_t> bad = bytes;
      bad[rng() % bad.size()] = static_cast<uint8_t>(rng());
      check(DecodeImage(bad, {.max_pixels = 1 << 22}));
    }
  }
}

}  // namespace
}  // namespace flashembed::encoders
