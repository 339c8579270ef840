// Pillow's resize and CLIPImageProcessor's preprocessing (encoders/image.h).
//
// The resampling follows Pillow 9.4's libImaging/Resample.c (the convolution
// filters) and Geometry.c (ImagingScaleAffine, what Image.resize runs for
// NEAREST), written anew from their description: what must agree bit for bit
// is the arithmetic, so every floating-point expression below is evaluated in
// the same order and precision as there, and this file is compiled with
// -ffp-contract=off (encoders/CMakeLists.txt): Pillow's baseline x86-64 build
// fuses no multiply-add, while GCC with -march=native fuses some here (no
// output changed in 3,240 resizes measured with and without, but a fused
// coefficient can round differently). Measured against Pillow 9.4: identical
// output for every filter on 3,240 random-content resizes (1..500 x 1..400
// from 211x157) besides the fixtures.
#include "encoders/image.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <fstream>
#include <iterator>
#include <numbers>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace flashembed::encoders {
namespace {

// ---- Filters (Resample.c: box_filter ... lanczos_filter) -----------------------

double BoxFilter(double x) { return (x > -0.5 && x <= 0.5) ? 1.0 : 0.0; }

double BilinearFilter(double x) {
  if (x < 0.0) x = -x;
  return x < 1.0 ? 1.0 - x : 0.0;
}

double HammingFilter(double x) {
  if (x < 0.0) x = -x;
  if (x == 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * std::numbers::pi;
  // Pillow writes the constants as floats (0.54f, 0.46f).
  return std::sin(x) / x * (static_cast<double>(0.54f) + static_cast<double>(0.46f) * std::cos(x));
}

// Keys' cubic convolution with a = -0.5.
double BicubicFilter(double x) {
  constexpr double a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

double Sinc(double x) {
  if (x == 0.0) return 1.0;
  x = x * std::numbers::pi;
  return std::sin(x) / x;
}

double LanczosFilter(double x) {
  if (-3.0 <= x && x < 3.0) return Sinc(x) * Sinc(x / 3);
  return 0.0;
}

struct Filter {
  double (*fn)(double);
  double support;
};

Filter FilterOf(Resample resample) {
  switch (resample) {
    case Resample::kBox: return {BoxFilter, 0.5};
    case Resample::kBilinear: return {BilinearFilter, 1.0};
    case Resample::kHamming: return {HammingFilter, 1.0};
    case Resample::kBicubic: return {BicubicFilter, 2.0};
    case Resample::kLanczos: return {LanczosFilter, 3.0};
    case Resample::kNearest: break;
  }
  return {BilinearFilter, 1.0};  // not reached: nearest has its own path
}

// ---- Coefficients (precompute_coeffs, normalize_coeffs_8bpc) --------------------

// 8 bits for the result, two for the overshoot of negative lobes.
constexpr int kPrecisionBits = 32 - 8 - 2;

// For each output pixel, the first input pixel and the fixed-point weights of
// the input pixels it reads.
struct Coefficients {
  int ksize = 0;
  std::vector<int> first;  // per output pixel
  std::vector<int> count;  // per output pixel
  std::vector<int32_t> k;  // out_size x ksize
};

Coefficients Precompute(int in_size, int out_size, const Filter& filter) {
  // The box is (0, in_size) in floats, as Pillow passes it.
  const float in0 = 0.0f;
  const float in1 = static_cast<float>(in_size);
  const double scale = static_cast<double>(in1 - in0) / out_size;
  const double filterscale = scale < 1.0 ? 1.0 : scale;
  // Wider support when shrinking: the filter is stretched over the source.
  const double support = filter.support * filterscale;
  Coefficients c;
  c.ksize = static_cast<int>(std::ceil(support)) * 2 + 1;
  c.first.resize(out_size);
  c.count.resize(out_size);
  c.k.assign(static_cast<size_t>(out_size) * c.ksize, 0);
  std::vector<double> weights(c.ksize);
  for (int xx = 0; xx < out_size; ++xx) {
    const double center = in0 + (xx + 0.5) * scale;
    const double ss = 1.0 / filterscale;
    int xmin = static_cast<int>(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    int xmax = static_cast<int>(center + support + 0.5);
    if (xmax > in_size) xmax = in_size;
    xmax -= xmin;
    double ww = 0.0;
    for (int x = 0; x < xmax; ++x) {
      const double w = filter.fn((x + xmin - center + 0.5) * ss);
      weights[x] = w;
      ww += w;
    }
    for (int x = 0; x < xmax; ++x) {
      if (ww != 0.0) weights[x] /= ww;
    }
    // To fixed point, rounding half away from zero by truncation.
    int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
    for (int x = 0; x < xmax; ++x) {
      k[x] = weights[x] < 0 ? static_cast<int32_t>(-0.5 + weights[x] * (1 << kPrecisionBits))
                            : static_cast<int32_t>(0.5 + weights[x] * (1 << kPrecisionBits));
    }
    c.first[xx] = xmin;
    c.count[xx] = xmax;
  }
  return c;
}

// The accumulator starts at one half (rounding) and is clipped to 0..255.
uint8_t Clip8(int64_t sum) {
  return static_cast<uint8_t>(std::clamp<int64_t>(sum >> kPrecisionBits, 0, 255));
}

// ---- Passes (ImagingResampleHorizontal_8bpc / Vertical_8bpc) --------------------

// Rows [row0, row0 + rows) of `in`, resampled horizontally to c.first.size() columns.
Image Horizontal(const Image& in, int row0, int rows, const Coefficients& c) {
  Image out;
  out.width = static_cast<int>(c.first.size());
  out.height = rows;
  out.rgb.resize(static_cast<size_t>(out.width) * rows * 3);
  for (int y = 0; y < rows; ++y) {
    const uint8_t* src = &in.rgb[static_cast<size_t>(row0 + y) * in.width * 3];
    uint8_t* dst = &out.rgb[static_cast<size_t>(y) * out.width * 3];
    for (int xx = 0; xx < out.width; ++xx) {
      const int32_t* k = &c.k[static_cast<size_t>(xx) * c.ksize];
      const uint8_t* p = src + static_cast<size_t>(c.first[xx]) * 3;
      int64_t s0 = 1 << (kPrecisionBits - 1), s1 = s0, s2 = s0;
      for (int x = 0; x < c.count[xx]; ++x, p += 3) {
        s0 += p[0] * k[x];
        s1 += p[1] * k[x];
        s2 += p[2] * k[x];
      }
      dst[3 * xx] = Clip8(s0);
      dst[3 * xx + 1] = Clip8(s1);
      dst[3 * xx + 2] = Clip8(s2);
    }
  }
  return out;
}

// `in` resampled vertically; c.first is relative to in's first row.
Image Vertical(const Image& in, const Coefficients& c) {
  Image out;
  out.width = in.width;
  out.height = static_cast<int>(c.first.size());
  out.rgb.resize(static_cast<size_t>(out.width) * out.height * 3);
  const size_t stride = static_cast<size_t>(in.width) * 3;
  for (int yy = 0; yy < out.height; ++yy) {
    const int32_t* k = &c.k[static_cast<size_t>(yy) * c.ksize];
    const uint8_t* base = &in.rgb[static_cast<size_t>(c.first[yy]) * stride];
    uint8_t* dst = &out.rgb[static_cast<size_t>(yy) * stride];
    for (size_t i = 0; i < stride; ++i) {
      int64_t s = 1 << (kPrecisionBits - 1);
      const uint8_t* p = base + i;
      for (int y = 0; y < c.count[yy]; ++y, p += stride) s += *p * k[y];
      dst[i] = Clip8(s);
    }
  }
  return out;
}

// ImagingScaleAffine: each output pixel takes the input pixel under its
// centre; positions advance by repeated addition, as there.
Image Nearest(const Image& in, int width, int height) {
  const double ax = static_cast<double>(static_cast<float>(in.width)) / width;
  const double ay = static_cast<double>(static_cast<float>(in.height)) / height;
  const auto coord = [](double v) { return v < 0.0 ? -1 : static_cast<int>(v); };
  std::vector<int> xin(width, -1);
  double xo = 0.0 + ax * 0.5;
  for (int x = 0; x < width; ++x, xo += ax) {
    const int v = coord(xo);
    if (v >= 0 && v < in.width) xin[x] = v;
  }
  Image out;
  out.width = width;
  out.height = height;
  out.rgb.assign(static_cast<size_t>(width) * height * 3, 0);
  double yo = 0.0 + ay * 0.5;
  for (int y = 0; y < height; ++y, yo += ay) {
    const int yi = coord(yo);
    if (yi < 0 || yi >= in.height) continue;
    const uint8_t* src = &in.rgb[static_cast<size_t>(yi) * in.width * 3];
    uint8_t* dst = &out.rgb[static_cast<size_t>(y) * width * 3];
    for (int x = 0; x < width; ++x) {
      if (xin[x] >= 0) std::memcpy(dst + 3 * x, src + 3 * xin[x], 3);
    }
  }
  return out;
}

// ---- preprocessor_config.json ----------------------------------------------------

constexpr int kMaxSide = 65536;

class ConfigReader {
 public:
  ConfigReader(const nlohmann::json& j, const std::string& name) : j_(j), name_(name) {}

  Status Error(const std::string& field, const std::string& what) const {
    return Status::InvalidArgument(fmt::format("{}: field \"{}\" {}", name_, field, what));
  }

  Status Bool(const char* field, bool* out) const {
    if (!j_.contains(field) || j_[field].is_null()) return Status::OK();
    if (!j_[field].is_boolean()) return Error(field, "must be true or false");
    *out = j_[field].get<bool>();
    return Status::OK();
  }

  Status Side(const std::string& field, const nlohmann::json& v, int* out) const {
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kMaxSide) {
      return Error(field, fmt::format("must be an integer in 1..{}, not {}", kMaxSide, v.dump()));
    }
    *out = static_cast<int>(v.get<int64_t>());
    return Status::OK();
  }

  // A size: an int, {"height", "width"}, or [height, width]; with
  // `shortest_edge` non-null, also {"shortest_edge"} (and an int means that).
  // *height = *width = 0 when the shortest edge was given.
  Status Size(const char* field, int* shortest_edge, int* height, int* width) const {
    if (!j_.contains(field) || j_[field].is_null()) return Status::OK();
    const nlohmann::json& v = j_[field];
    const std::string f = field;
    if (v.is_number()) {
      if (shortest_edge != nullptr) {
        *height = *width = 0;
        return Side(f, v, shortest_edge);
      }
      FE_RETURN_IF_ERROR(Side(f, v, height));
      *width = *height;
      return Status::OK();
    }
    if (v.is_array()) {
      if (v.size() != 2) return Error(f, "as a list must be [height, width]");
      FE_RETURN_IF_ERROR(Side(f + "[0]", v[0], height));
      return Side(f + "[1]", v[1], width);
    }
    if (!v.is_object()) return Error(f, "must be an integer, a list or an object");
    // CLIPImageProcessor.resize: shortest_edge wins (longest_edge is not
    // used); else height and width.
    if (shortest_edge != nullptr && v.contains("shortest_edge")) {
      *height = *width = 0;
      return Side(f + ".shortest_edge", v["shortest_edge"], shortest_edge);
    }
    if (v.contains("height") && v.contains("width")) {
      FE_RETURN_IF_ERROR(Side(f + ".height", v["height"], height));
      return Side(f + ".width", v["width"], width);
    }
    return Error(f, fmt::format("must have {}\"height\" and \"width\", not {}",
                                shortest_edge != nullptr ? "\"shortest_edge\" or " : "", v.dump()));
  }

  // A number, or a list of three (per channel).
  Status Channels(const char* field, float out[3]) const {
    if (!j_.contains(field) || j_[field].is_null()) return Status::OK();
    const nlohmann::json& v = j_[field];
    if (v.is_number()) {
      out[0] = out[1] = out[2] = v.get<float>();
      return Status::OK();
    }
    if (!v.is_array() || v.size() != 3) return Error(field, "must be a number or a list of 3");
    for (int c = 0; c < 3; ++c) {
      if (!v[c].is_number()) return Error(field, "must be a number or a list of 3 numbers");
      out[c] = v[c].get<float>();
    }
    return Status::OK();
  }

 private:
  const nlohmann::json& j_;
  const std::string& name_;
};

}  // namespace

Image ResizeImage(const Image& image, int width, int height, Resample filter) {
  if (width == image.width && height == image.height) return image;  // Pillow: a copy
  if (filter == Resample::kNearest) return Nearest(image, width, height);
  const Filter f = FilterOf(filter);
  const bool need_horizontal = width != image.width;
  const bool need_vertical = height != image.height;
  Coefficients vertical = Precompute(image.height, height, f);
  if (!need_horizontal) return Vertical(image, vertical);
  // Only the rows the vertical pass reads are resampled horizontally.
  const int first_row = vertical.first.front();
  const int last_row = vertical.first.back() + vertical.count.back();
  for (int& first : vertical.first) first -= first_row;
  Image temp =
      Horizontal(image, first_row, last_row - first_row, Precompute(image.width, width, f));
  if (!need_vertical) return temp;
  return Vertical(temp, vertical);
}

Result<ImagePreprocessor> ImagePreprocessor::FromJson(const std::string& json,
                                                      const std::string& name) {
  nlohmann::json j = nlohmann::json::parse(json, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return Status::InvalidArgument(fmt::format("{}: not a JSON object", name));
  }
  ConfigReader r(j, name);
  for (const char* field : {"image_processor_type", "feature_extractor_type"}) {
    if (!j.contains(field) || j[field].is_null()) continue;
    const std::string type = j[field].is_string() ? j[field].get<std::string>() : j[field].dump();
    if (type != "CLIPImageProcessor" && type != "CLIPFeatureExtractor") {
      return r.Error(field, fmt::format("is \"{}\"; only CLIPImageProcessor (or the older "
                                        "CLIPFeatureExtractor) preprocessing is supported",
                                        type));
    }
  }
  ImagePreprocessor p;
  FE_RETURN_IF_ERROR(r.Bool("do_convert_rgb", &p.do_convert_rgb));
  FE_RETURN_IF_ERROR(r.Bool("do_resize", &p.do_resize));
  FE_RETURN_IF_ERROR(r.Bool("do_center_crop", &p.do_center_crop));
  FE_RETURN_IF_ERROR(r.Bool("do_rescale", &p.do_rescale));
  FE_RETURN_IF_ERROR(r.Bool("do_normalize", &p.do_normalize));
  FE_RETURN_IF_ERROR(r.Size("size", &p.shortest_edge, &p.resize_height, &p.resize_width));
  FE_RETURN_IF_ERROR(r.Size("crop_size", nullptr, &p.crop_height, &p.crop_width));
  if (j.contains("resample") && !j["resample"].is_null()) {
    const nlohmann::json& v = j["resample"];
    if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() > 5) {
      return r.Error("resample",
                     fmt::format("must be a PIL resampling filter 0..5, not {}", v.dump()));
    }
    p.resample = static_cast<Resample>(v.get<int>());
  }
  if (j.contains("rescale_factor") && !j["rescale_factor"].is_null()) {
    const nlohmann::json& v = j["rescale_factor"];
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      return r.Error("rescale_factor", "must be a finite number");
    }
    p.rescale_factor = v.get<double>();
  }
  FE_RETURN_IF_ERROR(r.Channels("image_mean", p.image_mean));
  FE_RETURN_IF_ERROR(r.Channels("image_std", p.image_std));
  for (int c = 0; c < 3; ++c) {
    if (!std::isfinite(p.image_mean[c])) return r.Error("image_mean", "must be finite");
    if (!std::isfinite(p.image_std[c]) || p.image_std[c] == 0.0f) {
      return r.Error("image_std", "must be finite and non-zero");
    }
  }
  return p;
}

Result<ImagePreprocessor> ImagePreprocessor::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::NotFound(fmt::format("preprocessor config {} does not exist", path));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return FromJson(text, path);
}

namespace {

// The resize target (height, width) of CLIPImageProcessor.resize, in 64 bits.
std::pair<int64_t, int64_t> ResizeTarget(const ImagePreprocessor& p, const Image& image) {
  if (p.resize_height > 0 && p.resize_width > 0) return {p.resize_height, p.resize_width};
  // get_resize_output_image_size(default_to_square=False): the short side
  // becomes shortest_edge, the long side int(shortest_edge * long / short).
  const int64_t w = image.width, h = image.height;
  const int64_t shorter = std::min(w, h), longer = std::max(w, h);
  const int64_t new_long = static_cast<int64_t>(static_cast<double>(p.shortest_edge * longer) /
                                                static_cast<double>(shorter));
  return w <= h ? std::pair{new_long, int64_t{p.shortest_edge}}
                : std::pair{int64_t{p.shortest_edge}, new_long};
}

std::pair<int64_t, int64_t> OutputSize(const ImagePreprocessor& p, const Image& image) {
  if (p.do_center_crop) return {p.crop_height, p.crop_width};
  if (p.do_resize) return ResizeTarget(p, image);
  return {image.height, image.width};
}

}  // namespace

int ImagePreprocessor::out_height() const {
  if (do_center_crop) return crop_height;
  if (do_resize && resize_height > 0 && resize_width > 0) return resize_height;
  return 0;
}

int ImagePreprocessor::out_width() const {
  if (do_center_crop) return crop_width;
  if (do_resize && resize_height > 0 && resize_width > 0) return resize_width;
  return 0;
}

int ImagePreprocessor::OutputHeight(const Image& image) const {
  return static_cast<int>(std::min<int64_t>(OutputSize(*this, image).first, INT32_MAX));
}

int ImagePreprocessor::OutputWidth(const Image& image) const {
  return static_cast<int>(std::min<int64_t>(OutputSize(*this, image).second, INT32_MAX));
}

Status ImagePreprocessor::Apply(const Image& image, std::span<float> out) const {
  if (image.width <= 0 || image.height <= 0 ||
      image.rgb.size() != static_cast<size_t>(image.width) * image.height * 3) {
    return Status::InvalidArgument(fmt::format("image {}x{} with {} bytes is not a valid RGB image",
                                               image.width, image.height, image.rgb.size()));
  }
  // Resize.
  const Image* source = &image;
  Image resized;
  if (do_resize) {
    const auto [h, w] = ResizeTarget(*this, image);
    // Pillow would try to allocate it; we refuse what an image decode would.
    if (h * w > ImageDecodeOptions{}.max_pixels) {
      return Status::InvalidArgument(fmt::format(
          "resizing the {}x{} image to {}x{} would make {} pixels, over the limit of {}",
          image.width, image.height, w, h, h * w, ImageDecodeOptions{}.max_pixels));
    }
    if (h != image.height || w != image.width) {
      resized = ResizeImage(image, static_cast<int>(w), static_cast<int>(h), resample);
      source = &resized;
    }
  }
  const auto [out_h, out_w] = OutputSize(*this, *source);
  if (out.size() != static_cast<size_t>(3 * out_h * out_w)) {
    return Status::InvalidArgument(fmt::format("output has {} floats; 3 x {} x {} = {} needed",
                                               out.size(), out_h, out_w, 3 * out_h * out_w));
  }
  // Center crop (image_transforms.center_crop): Python's floor division, and
  // zeros where the crop reaches past the image.
  const auto floor_half = [](int64_t v) { return v >= 0 ? v / 2 : -((-v + 1) / 2); };
  const int64_t top = do_center_crop ? floor_half(source->height - out_h) : 0;
  const int64_t left = do_center_crop ? floor_half(source->width - out_w) : 0;
  for (int c = 0; c < 3; ++c) {
    float* plane = out.data() + static_cast<size_t>(c) * out_h * out_w;
    for (int64_t y = 0; y < out_h; ++y) {
      const int64_t sy = y + top;
      for (int64_t x = 0; x < out_w; ++x) {
        const int64_t sx = x + left;
        const bool inside = sy >= 0 && sy < source->height && sx >= 0 && sx < source->width;
        const uint8_t pixel =
            inside ? source->rgb[(static_cast<size_t>(sy) * source->width + sx) * 3 + c] : 0;
        // rescale: image.astype(float64) * scale, then float32; normalize in
        // float32 (uint8 input is first made float32).
        float v = do_rescale ? static_cast<float>(static_cast<double>(pixel) * rescale_factor)
                             : static_cast<float>(pixel);
        if (do_normalize) v = (v - image_mean[c]) / image_std[c];
        plane[y * out_w + x] = v;
      }
    }
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
