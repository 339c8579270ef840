// Images for the CLIP image encoder: decoding (JPEG, PNG, WebP, GIF) to 8-bit
// RGB exactly as Pillow's Image.open(f).convert("RGB") gives it, Pillow's
// resampling filters, and the preprocessing of Hugging Face transformers'
// CLIPImageProcessor (its "slow" path, on Pillow).
//
// Reference versions: Pillow 9.4 (Debian 12's python3-pil) on the same Debian
// libraries (libjpeg-turbo 2.1, libwebp 1.2; Pillow decodes PNG and GIF
// itself, we use libpng and giflib and convert as Pillow does); transformers
// 4.4x, models/clip/image_processing_clip.py and image_transforms.py.
// tests/encoders/image_test.cc checks both against fixtures made with them
// (tools/fixtures/gen_image_fixtures.py).
//
// Decoding, per format, what Pillow gives and so what DecodeImage gives:
//   JPEG: libjpeg's defaults (ISLOW DCT, fancy upsampling); 1 component is
//     gray, 3 are converted by libjpeg (YCbCr, or RGB per the Adobe marker),
//     4 are CMYK or YCCK read as CMYK with Adobe's inverted polarity (Pillow
//     always assumes it) and converted to RGB with Pillow's formula
//     R = (255 - K) - C * (255 - K) / 255 (rounded as Pillow's MULDIV255).
//     A file that ends early is refused (Pillow: "image file is truncated");
//     libjpeg's other warnings (e.g. extraneous bytes) are ignored, as Pillow
//     does.
//   PNG: gray 1/2/4-bit scaled to 0..255; 16-bit gray is Pillow's mode "I",
//     whose conversion to RGB clips the 16-bit value at 255 (so most of such
//     an image is white); other 16-bit samples keep their high byte; palette
//     images take their palette colours (an index past a short PLTE is gray
//     (i, i, i), as in Pillow's palette); alpha and tRNS are dropped; gamma,
//     colour profiles and other ancillary chunks are ignored. Stricter than
//     Pillow, which reads through them: a bad CRC on a critical chunk, a bad
//     zlib checksum and a missing IEND are refused.
//   WebP: libwebp, lossy or lossless, alpha dropped. Animated WebP is refused.
//   GIF: the first frame with its palette (local, else global; none: gray;
//     indices past the table gray too); like Pillow, the parts of the image
//     the frame does not cover take the frame's transparent index if it has
//     one, else index 0, and a frame that extends past the logical screen
//     grows the image to cover it.
//   BMP and other formats are refused as unsupported.
//
// Thread-safety: every function is safe to call concurrently; ImagePreprocessor
// is immutable after FromFile() and Apply() is const.
#ifndef FLASHEMBED_ENCODERS_IMAGE_H_
#define FLASHEMBED_ENCODERS_IMAGE_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

// An 8-bit RGB image, rows top to bottom, pixels interleaved R,G,B (what
// Pillow's convert("RGB") gives). rgb.size() == 3 * width * height.
struct Image {
  int width = 0;
  int height = 0;
  std::vector<uint8_t> rgb;
};

// What ProbeImage reads from a header.
struct ImageInfo {
  std::string format;  // "jpeg", "png", "webp" or "gif"
  int width = 0;       // the size DecodeImage gives (before EXIF orientation)
  int height = 0;
};

struct ImageDecodeOptions {
  // Rotate / flip the image per its EXIF Orientation tag (JPEG APP1, PNG eXIf,
  // WebP EXIF), as Pillow's ImageOps.exif_transpose does. Default false: the
  // CLIPImageProcessor, given a PIL image, does not (transformers'
  // image_utils.load_image, used by its pipelines, does call exif_transpose).
  bool apply_exif_orientation = false;
  // Largest width * height decoded; larger images are refused from their
  // header, before any pixel memory is allocated. Default: the size at which
  // Pillow raises DecompressionBombError (2 * Image.MAX_IMAGE_PIXELS).
  int64_t max_pixels = 2 * int64_t{89478485};
};

// Format and size from the header only. InvalidArgument for empty input, bytes
// of no supported format (naming what they look like when known, e.g. BMP),
// or a header that is truncated or malformed.
Result<ImageInfo> ProbeImage(std::span<const uint8_t> bytes);

// Decodes `bytes` and converts to RGB as described at the top. InvalidArgument
// with a message saying what is wrong for: zero bytes, not an image or an
// unsupported format, truncated or corrupt data (including a PNG CRC
// mismatch), and an image of more than options.max_pixels pixels (checked
// from the header, before allocating; the message names the limit).
Result<Image> DecodeImage(std::span<const uint8_t> bytes, const ImageDecodeOptions& options = {});

// Reads the file at `path` and decodes it. NotFound if it does not exist;
// IOError if it cannot be read; otherwise as DecodeImage. Every message names
// the path.
Result<Image> ReadImageFile(const std::string& path, const ImageDecodeOptions& options = {});

// Pillow's resampling filters (PIL.Image.Resampling values 0..5).
enum class Resample {
  kNearest = 0,
  kLanczos = 1,
  kBilinear = 2,
  kBicubic = 3,
  kBox = 4,
  kHamming = 5
};

// Pillow's Image.resize((width, height), filter) of an RGB image, bit for bit:
// kNearest samples the pixel under each output pixel's centre (Pillow's
// affine "scale" path); the others are Pillow's separable two-pass convolution
// (horizontal first) with the filter's support widened by the scale factor
// when shrinking (so it antialiases), coefficients normalised to sum 1 and
// applied in 22-bit fixed point with rounding and clipping to 0..255. The same
// size returns a copy, as Pillow does.
// REQUIRES: width >= 1, height >= 1, image non-empty and consistent.
Image ResizeImage(const Image& image, int width, int height, Resample filter);

// CLIPImageProcessor's settings (preprocessor_config.json) and its
// preprocess(): convert to RGB (a decoded Image already is) -> resize ->
// center crop -> rescale -> normalize, giving pixel_values[0].
//   resize: with `shortest_edge`, the short side becomes shortest_edge and the
//     long side int(shortest_edge * long / short) (truncated); with an exact
//     size, resize_height x resize_width. Pillow's resize with `resample`.
//   center crop: top = floor((h - crop_height) / 2), left likewise; where the
//     image is smaller than the crop, zeros (before rescaling) pad it.
//   rescale: float32(double(value) * rescale_factor).
//   normalize: (x - mean) / std in float32, per channel.
struct ImagePreprocessor {
  bool do_convert_rgb = true;  // no effect: an Image is RGB
  bool do_resize = true;
  bool do_center_crop = true;
  bool do_rescale = true;
  bool do_normalize = true;
  // size: {"shortest_edge": N} (or a legacy int N) sets shortest_edge;
  // {"height": H, "width": W} (or [H, W]) sets resize_height / resize_width,
  // which win when > 0.
  int shortest_edge = 224;
  int resize_height = 0;
  int resize_width = 0;
  // crop_size: {"height", "width"} or a legacy int (square).
  int crop_height = 224;
  int crop_width = 224;
  Resample resample = Resample::kBicubic;
  double rescale_factor = 1.0 / 255;
  // OPENAI_CLIP_MEAN / OPENAI_CLIP_STD of transformers.
  float image_mean[3] = {0.48145466f, 0.4578275f, 0.40821073f};
  float image_std[3] = {0.26862954f, 0.26130258f, 0.27577711f};

  // Reads a preprocessor_config.json. Fields absent take the defaults above
  // (CLIPImageProcessor's); unknown fields are ignored. NotFound if the file
  // does not exist. InvalidArgument, naming the file and the field, for
  // malformed JSON, a field of the wrong type or out of range (sizes must be
  // 1..65536, resample 0..5, std non-zero), a size without shortest_edge or
  // height + width, or an image_processor_type / feature_extractor_type other
  // than CLIPImageProcessor / CLIPFeatureExtractor (other processors
  // preprocess differently).
  static Result<ImagePreprocessor> FromFile(const std::string& path);
  // The same from the JSON text; `name` is what messages call it.
  static Result<ImagePreprocessor> FromJson(const std::string& json, const std::string& name);

  // Output size when it does not depend on the image (do_center_crop, or
  // do_resize with an exact size); else 0.
  int out_height() const;
  int out_width() const;
  // Output size for `image` (always known).
  int OutputHeight(const Image& image) const;
  int OutputWidth(const Image& image) const;

  // Writes the model input for `image`: 3 x OutputHeight x OutputWidth floats,
  // channel-major (CHW), pixel_values[0] of transformers. InvalidArgument if
  // the image is empty or inconsistent, or if out.size() is not
  // 3 * OutputHeight(image) * OutputWidth(image).
  Status Apply(const Image& image, std::span<float> out) const;
};

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_IMAGE_H_
