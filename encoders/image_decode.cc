// Image decoding (encoders/image.h): format detection, headers, the four
// codecs (libjpeg-turbo, libpng, libwebp, giflib), conversion to RGB as Pillow
// 9.4 does it, and EXIF orientation.
//
// libjpeg and libpng report errors by longjmp. Each is driven from one
// function (RunJpeg, RunPng) that calls setjmp and holds no object with a
// destructor: the state it touches lives in a job struct owned by the caller,
// so a longjmp out of the library skips nothing that needed destroying.
#include "encoders/image.h"

#include <algorithm>
#include <array>
#include <csetjmp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <gif_lib.h>
#include <jerror.h>
#include <jpeglib.h>
#include <png.h>
#include <webp/decode.h>

namespace flashembed::encoders {
namespace {

using Bytes = std::span<const uint8_t>;

Status Invalid(std::string message) { return Status::InvalidArgument(std::move(message)); }

uint32_t ReadBe32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
uint16_t ReadLe16(const uint8_t* p) { return static_cast<uint16_t>(p[0] | (p[1] << 8)); }
uint32_t ReadLe32(const uint8_t* p) {
  return p[0] | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}

// The pixel limit, checked from the header before any pixel memory exists.
Status CheckPixels(int64_t width, int64_t height, const ImageDecodeOptions& options) {
  if (width <= 0 || height <= 0) {
    return Invalid(fmt::format("image has an empty size {}x{}", width, height));
  }
  if (width * height > options.max_pixels) {
    return Invalid(fmt::format(
        "image is {}x{} = {} pixels, over the limit of {} pixels (ImageDecodeOptions::max_pixels)",
        width, height, width * height, options.max_pixels));
  }
  return Status::OK();
}

// Allocates the output image; rgb is left uninitialised only in name (zeros).
void AllocateImage(int width, int height, Image* image) {
  image->width = width;
  image->height = height;
  image->rgb.assign(static_cast<size_t>(width) * static_cast<size_t>(height) * 3, 0);
}

// ---- Format detection --------------------------------------------------------

enum class Format { kJpeg, kPng, kWebp, kGif };

const uint8_t kPngSignature[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

bool StartsWith(Bytes bytes, std::string_view prefix, size_t at = 0) {
  return bytes.size() >= at + prefix.size() &&
         std::memcmp(bytes.data() + at, prefix.data(), prefix.size()) == 0;
}

Result<Format> DetectFormat(Bytes bytes) {
  if (bytes.empty()) return Invalid("image is empty (zero bytes)");
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) {
    return Format::kJpeg;
  }
  if (bytes.size() >= 8 && std::memcmp(bytes.data(), kPngSignature, 8) == 0) return Format::kPng;
  if (StartsWith(bytes, "RIFF") && StartsWith(bytes, "WEBP", 8)) return Format::kWebp;
  if (StartsWith(bytes, "GIF87a") || StartsWith(bytes, "GIF89a")) return Format::kGif;
  if (StartsWith(bytes, "BM")) return Invalid("BMP images are not supported");
  if (StartsWith(bytes, std::string_view("II*\0", 4)) ||
      StartsWith(bytes, std::string_view("MM\0*", 4))) {
    return Invalid("TIFF images are not supported");
  }
  if (bytes.size() < 12 && (bytes[0] == 0x89 || bytes[0] == 0xFF || StartsWith(bytes, "RIFF") ||
                            StartsWith(bytes, "GIF"))) {
    return Invalid(fmt::format("image header is truncated ({} bytes)", bytes.size()));
  }
  return Invalid("not an image: the bytes start like no supported format (JPEG, PNG, WebP, GIF)");
}

// ---- JPEG (libjpeg-turbo) ---------------------------------------------------------

struct JpegErrorManager {
  jpeg_error_mgr pub;  // first: libjpeg sees a jpeg_error_mgr*
  jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void JpegErrorExit(j_common_ptr cinfo) {
  auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, err->message);
  std::longjmp(err->jump, 1);
}

// Warnings are ignored, as Pillow ignores them, except running out of data:
// Pillow refuses a truncated file ("image file is truncated").
void JpegEmitMessage(j_common_ptr cinfo, int msg_level) {
  if (msg_level == -1 && cinfo->err->msg_code == JWRN_JPEG_EOF) {
    auto* err = reinterpret_cast<JpegErrorManager*>(cinfo->err);
    std::snprintf(err->message, sizeof(err->message), "JPEG data is truncated");
    std::longjmp(err->jump, 1);
  }
}

struct JpegJob {
  Bytes bytes;
  bool header_only = false;
  jpeg_decompress_struct cinfo{};  // zeros, so a failed create is safe to destroy
  JpegErrorManager err{};
  // From the header.
  int width = 0;
  int height = 0;
  int components = 0;
  // Output, owned by the caller: the image and a scratch row for CMYK.
  Image* image = nullptr;
  std::vector<uint8_t>* row = nullptr;
};

// CMYK with Adobe's inverted polarity to RGB as Pillow: the "CMYK;I" unpacker
// then cmyk2rgb, R = (255 - K) - MULDIV255(C, 255 - K), MULDIV255(a, b) =
// ((a * b + 128) >> 8 + a * b + 128) >> 8.
void CmykInvertedToRgb(const uint8_t* in, int width, uint8_t* out) {
  for (int x = 0; x < width; ++x, in += 4, out += 3) {
    const int nk = in[3];  // inverted: 255 - K
    for (int c = 0; c < 3; ++c) {
      const int t = (255 - in[c]) * nk + 128;
      out[c] = static_cast<uint8_t>(std::clamp(nk - (((t >> 8) + t) >> 8), 0, 255));
    }
  }
}

// Returns 0 on success, 1 after a libjpeg error (message in job->err).
int RunJpeg(JpegJob* job) {
  job->cinfo.err = jpeg_std_error(&job->err.pub);
  job->err.pub.error_exit = JpegErrorExit;
  job->err.pub.emit_message = JpegEmitMessage;
  job->err.message[0] = '\0';
  if (setjmp(job->err.jump)) {
    jpeg_destroy_decompress(&job->cinfo);
    return 1;
  }
  jpeg_create_decompress(&job->cinfo);
  jpeg_mem_src(&job->cinfo, job->bytes.data(), static_cast<unsigned long>(job->bytes.size()));
  jpeg_read_header(&job->cinfo, TRUE);
  job->width = static_cast<int>(job->cinfo.image_width);
  job->height = static_cast<int>(job->cinfo.image_height);
  job->components = job->cinfo.num_components;
  if (job->header_only) {
    jpeg_destroy_decompress(&job->cinfo);
    return 0;
  }
  // Pillow's choice of output space (JpegDecode.c): RGB for 3 components,
  // CMYK (libjpeg converts YCCK) for 4, libjpeg's own for 1 (grayscale).
  // Everything else stays at libjpeg's defaults (ISLOW, fancy upsampling).
  const bool cmyk = job->components == 4;
  if (job->components == 3) job->cinfo.out_color_space = JCS_RGB;
  if (cmyk) job->cinfo.out_color_space = JCS_CMYK;
  jpeg_start_decompress(&job->cinfo);
  const int channels = job->cinfo.output_components;
  const int width = static_cast<int>(job->cinfo.output_width);
  AllocateImage(width, static_cast<int>(job->cinfo.output_height), job->image);
  job->row->assign(static_cast<size_t>(width) * 4, 0);
  while (job->cinfo.output_scanline < job->cinfo.output_height) {
    uint8_t* dst = job->image->rgb.data() + size_t{job->cinfo.output_scanline} * width * 3;
    JSAMPROW row = (channels == 3) ? dst : job->row->data();
    jpeg_read_scanlines(&job->cinfo, &row, 1);
    if (channels == 1) {
      for (int x = 0; x < width; ++x) dst[3 * x] = dst[3 * x + 1] = dst[3 * x + 2] = row[x];
    } else if (channels == 4) {
      CmykInvertedToRgb(row, width, dst);
    }
  }
  jpeg_finish_decompress(&job->cinfo);
  jpeg_destroy_decompress(&job->cinfo);
  return 0;
}

struct JpegHeader {
  int width = 0;
  int height = 0;
};

Result<JpegHeader> ReadJpegHeader(Bytes bytes) {
  JpegJob job;
  job.bytes = bytes;
  job.header_only = true;
  if (RunJpeg(&job) != 0) return Invalid(fmt::format("corrupt JPEG: {}", job.err.message));
  if (job.components != 1 && job.components != 3 && job.components != 4) {
    return Invalid(fmt::format("JPEG with {} components is not supported", job.components));
  }
  return JpegHeader{job.width, job.height};
}

Status DecodeJpeg(Bytes bytes, const ImageDecodeOptions& options, Image* image) {
  FE_ASSIGN_OR_RETURN(JpegHeader header, ReadJpegHeader(bytes));
  FE_RETURN_IF_ERROR(CheckPixels(header.width, header.height, options));
  JpegJob job;
  std::vector<uint8_t> row;
  job.bytes = bytes;
  job.image = image;
  job.row = &row;
  if (RunJpeg(&job) != 0) return Invalid(fmt::format("corrupt JPEG: {}", job.err.message));
  return Status::OK();
}

// ---- PNG (libpng) ---------------------------------------------------------------

struct PngHeader {
  uint32_t width = 0;
  uint32_t height = 0;
  int bit_depth = 0;
  int color_type = 0;
};

Result<PngHeader> ReadPngHeader(Bytes bytes) {
  // Signature, then IHDR: length 13, "IHDR", the fields, CRC.
  if (bytes.size() < 33) return Invalid("PNG header is truncated");
  if (ReadBe32(bytes.data() + 8) != 13 || !StartsWith(bytes, "IHDR", 12)) {
    return Invalid("corrupt PNG: the first chunk is not IHDR");
  }
  PngHeader h;
  h.width = ReadBe32(bytes.data() + 16);
  h.height = ReadBe32(bytes.data() + 20);
  h.bit_depth = bytes[24];
  h.color_type = bytes[25];
  if (h.width == 0 || h.height == 0 || h.width > 0x7FFFFFFF || h.height > 0x7FFFFFFF) {
    return Invalid(fmt::format("corrupt PNG: size {}x{}", h.width, h.height));
  }
  const int d = h.bit_depth;
  bool ok = false;
  switch (h.color_type) {
    case 0: ok = d == 1 || d == 2 || d == 4 || d == 8 || d == 16; break;
    case 3: ok = d == 1 || d == 2 || d == 4 || d == 8; break;
    case 2:
    case 4:
    case 6: ok = d == 8 || d == 16; break;
    default: break;
  }
  if (!ok) {
    return Invalid(fmt::format("corrupt PNG: colour type {} with bit depth {}", h.color_type, d));
  }
  return h;
}

struct PngJob {
  Bytes bytes;
  size_t offset = 0;
  png_structp png = nullptr;
  png_infop info = nullptr;
  char message[256];
  Image* image = nullptr;
  std::vector<uint8_t>* raw = nullptr;  // the undecoded rows (one, or all if interlaced)
};

void PngError(png_structp png, png_const_charp message) {
  auto* job = static_cast<PngJob*>(png_get_error_ptr(png));
  std::snprintf(job->message, sizeof(job->message), "%s", message);
  png_longjmp(png, 1);
}

void PngWarning(png_structp, png_const_charp) {}

void PngRead(png_structp png, png_bytep out, png_size_t length) {
  auto* job = static_cast<PngJob*>(png_get_io_ptr(png));
  if (job->bytes.size() - job->offset < length) png_error(png, "PNG data is truncated");
  std::memcpy(out, job->bytes.data() + job->offset, length);
  job->offset += length;
}

// One row of raw samples to RGB, as Pillow's PNG modes and their conversion.
void PngRowToRgb(const uint8_t* in, int width, int bit_depth, int color_type,
                 const std::array<uint8_t, 768>& palette, uint8_t* out) {
  const auto gray_sample = [&](int x) -> uint8_t {
    if (bit_depth == 16)
      return static_cast<uint8_t>(std::min((in[2 * x] << 8) | in[2 * x + 1], 255));
    if (bit_depth == 8) return in[x];
    const int per_byte = 8 / bit_depth;
    const int shift = 8 - bit_depth * (x % per_byte + 1);
    const int v = (in[x / per_byte] >> shift) & ((1 << bit_depth) - 1);
    return static_cast<uint8_t>(v * (255 / ((1 << bit_depth) - 1)));
  };
  const int step = bit_depth / 8;  // bytes per 8/16-bit sample
  for (int x = 0; x < width; ++x, out += 3) {
    switch (color_type) {
      case 0:  // gray ("1", "L", or "I" whose RGB clips at 255)
        out[0] = out[1] = out[2] = gray_sample(x);
        break;
      case 3: {  // palette: out-of-range indices are gray, as Pillow's palette
        int index;
        if (bit_depth == 8) {
          index = in[x];
        } else {
          const int per_byte = 8 / bit_depth;
          index =
              (in[x / per_byte] >> (8 - bit_depth * (x % per_byte + 1))) & ((1 << bit_depth) - 1);
        }
        std::memcpy(out, &palette[3 * index], 3);
        break;
      }
      case 2:  // RGB; 16-bit keeps the high byte
        for (int c = 0; c < 3; ++c) out[c] = in[(3 * x + c) * step];
        break;
      case 4:  // gray + alpha
        out[0] = out[1] = out[2] = in[2 * x * step];
        break;
      default:  // 6: RGBA
        for (int c = 0; c < 3; ++c) out[c] = in[(4 * x + c) * step];
        break;
    }
  }
}

// Returns 0 on success, 1 after a libpng error (message in job->message).
int RunPng(PngJob* job) {
  job->png = png_create_read_struct(PNG_LIBPNG_VER_STRING, job, PngError, PngWarning);
  if (job->png == nullptr) {
    std::snprintf(job->message, sizeof(job->message), "cannot create the PNG reader");
    return 1;
  }
  job->info = png_create_info_struct(job->png);
  if (job->info == nullptr) {
    png_destroy_read_struct(&job->png, nullptr, nullptr);
    std::snprintf(job->message, sizeof(job->message), "cannot create the PNG reader");
    return 1;
  }
  if (setjmp(png_jmpbuf(job->png))) {
    png_destroy_read_struct(&job->png, &job->info, nullptr);
    return 1;
  }
  png_set_read_fn(job->png, job, PngRead);
  // Sizes were checked against max_pixels already; lift libpng's own
  // 1,000,000-pixel side limit so that check is the only one.
  png_set_user_limits(job->png, 0x7FFFFFFF, 0x7FFFFFFF);
  png_read_info(job->png, job->info);
  const int width = static_cast<int>(png_get_image_width(job->png, job->info));
  const int height = static_cast<int>(png_get_image_height(job->png, job->info));
  const int bit_depth = png_get_bit_depth(job->png, job->info);
  const int color_type = png_get_color_type(job->png, job->info);
  // Pillow's palette: the PLTE colours, then entry i = (i, i, i).
  std::array<uint8_t, 768> palette;
  for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = i;
  if (color_type == PNG_COLOR_TYPE_PALETTE) {
    png_colorp colors = nullptr;
    int count = 0;
    if (png_get_PLTE(job->png, job->info, &colors, &count) == 0)
      png_error(job->png, "missing PLTE");
    for (int i = 0; i < count && i < 256; ++i) {
      palette[3 * i] = colors[i].red;
      palette[3 * i + 1] = colors[i].green;
      palette[3 * i + 2] = colors[i].blue;
    }
  }
  const int passes = png_set_interlace_handling(job->png);
  png_read_update_info(job->png, job->info);
  const size_t rowbytes = png_get_rowbytes(job->png, job->info);
  AllocateImage(width, height, job->image);
  if (passes == 1) {
    job->raw->assign(rowbytes, 0);
    for (int y = 0; y < height; ++y) {
      png_read_row(job->png, job->raw->data(), nullptr);
      PngRowToRgb(job->raw->data(), width, bit_depth, color_type, palette,
                  job->image->rgb.data() + size_t{3} * width * y);
    }
  } else {
    // Interlaced: libpng fills in the rows pass by pass, so it needs them all.
    job->raw->assign(rowbytes * height, 0);
    for (int pass = 0; pass < passes; ++pass) {
      for (int y = 0; y < height; ++y) {
        png_read_row(job->png, job->raw->data() + rowbytes * y, nullptr);
      }
    }
    for (int y = 0; y < height; ++y) {
      PngRowToRgb(job->raw->data() + rowbytes * y, width, bit_depth, color_type, palette,
                  job->image->rgb.data() + size_t{3} * width * y);
    }
  }
  // Reads to IEND, so CRCs of the chunks after the image data are checked too.
  png_read_end(job->png, nullptr);
  png_destroy_read_struct(&job->png, &job->info, nullptr);
  return 0;
}

Status DecodePng(Bytes bytes, const ImageDecodeOptions& options, Image* image) {
  FE_ASSIGN_OR_RETURN(PngHeader header, ReadPngHeader(bytes));
  FE_RETURN_IF_ERROR(CheckPixels(header.width, header.height, options));
  PngJob job;
  std::vector<uint8_t> raw;
  job.bytes = bytes;
  job.image = image;
  job.raw = &raw;
  job.message[0] = '\0';
  if (RunPng(&job) != 0) return Invalid(fmt::format("corrupt PNG: {}", job.message));
  return Status::OK();
}

// ---- WebP (libwebp) ----------------------------------------------------------------

Result<WebPBitstreamFeatures> WebpHeader(Bytes bytes) {
  WebPBitstreamFeatures features;
  const VP8StatusCode code = WebPGetFeatures(bytes.data(), bytes.size(), &features);
  if (code == VP8_STATUS_NOT_ENOUGH_DATA) return Invalid("WebP header is truncated");
  if (code != VP8_STATUS_OK)
    return Invalid(fmt::format("corrupt WebP header (libwebp status {})", static_cast<int>(code)));
  if (features.has_animation) return Invalid("animated WebP is not supported");
  return features;
}

Status DecodeWebp(Bytes bytes, const ImageDecodeOptions& options, Image* image) {
  FE_ASSIGN_OR_RETURN(WebPBitstreamFeatures features, WebpHeader(bytes));
  FE_RETURN_IF_ERROR(CheckPixels(features.width, features.height, options));
  WebPDecoderConfig config;
  if (!WebPInitDecoderConfig(&config)) return Status::Internal("libwebp version mismatch");
  AllocateImage(features.width, features.height, image);
  // Straight into the image: RGB, non-premultiplied, as the RGB channels of
  // Pillow's RGBA decode; libwebp's default (fancy) upsampling, no dithering.
  config.output.colorspace = MODE_RGB;
  config.output.is_external_memory = 1;
  config.output.u.RGBA.rgba = image->rgb.data();
  config.output.u.RGBA.stride = 3 * features.width;
  config.output.u.RGBA.size = image->rgb.size();
  const VP8StatusCode code = WebPDecode(bytes.data(), bytes.size(), &config);
  WebPFreeDecBuffer(&config.output);
  if (code == VP8_STATUS_NOT_ENOUGH_DATA) return Invalid("WebP data is truncated");
  if (code != VP8_STATUS_OK)
    return Invalid(fmt::format("corrupt WebP (libwebp status {})", static_cast<int>(code)));
  return Status::OK();
}

// ---- GIF (giflib) -----------------------------------------------------------------

// The logical screen and the first frame's rectangle, walked by hand (the
// header of a GIF is the blocks up to the first image descriptor).
struct GifLayout {
  int screen_width = 0;
  int screen_height = 0;
  int left = 0, top = 0, frame_width = 0, frame_height = 0;
  // Pillow's image size: the screen grown to cover the first frame.
  int width() const { return std::max(screen_width, left + frame_width); }
  int height() const { return std::max(screen_height, top + frame_height); }
};

Result<GifLayout> ReadGifLayout(Bytes bytes) {
  const Status truncated = Invalid("GIF header is truncated");
  if (bytes.size() < 13) return truncated;
  GifLayout layout;
  layout.screen_width = ReadLe16(&bytes[6]);
  layout.screen_height = ReadLe16(&bytes[8]);
  size_t at = 13;
  if (bytes[10] & 0x80) at += size_t{3} << ((bytes[10] & 7) + 1);
  while (true) {
    if (at >= bytes.size()) return truncated;
    const uint8_t kind = bytes[at];
    if (kind == 0x2C) {  // image descriptor
      if (at + 10 > bytes.size()) return truncated;
      layout.left = ReadLe16(&bytes[at + 1]);
      layout.top = ReadLe16(&bytes[at + 3]);
      layout.frame_width = ReadLe16(&bytes[at + 5]);
      layout.frame_height = ReadLe16(&bytes[at + 7]);
      return layout;
    }
    if (kind == 0x21) {  // extension: label, then sub-blocks up to a zero length
      at += 2;
      while (true) {
        if (at >= bytes.size()) return truncated;
        if (bytes[at] == 0) break;
        at += size_t{1} + bytes[at];
      }
      ++at;
      continue;
    }
    if (kind == 0x3B) return Invalid("corrupt GIF: no image before the trailer");
    return Invalid(fmt::format("corrupt GIF: unexpected block 0x{:02x}", kind));
  }
}

struct GifSource {
  Bytes bytes;
  size_t offset = 0;
};

int GifRead(GifFileType* gif, GifByteType* out, int length) {
  auto* source = static_cast<GifSource*>(gif->UserData);
  const size_t n =
      std::min<size_t>(static_cast<size_t>(length), source->bytes.size() - source->offset);
  std::memcpy(out, source->bytes.data() + source->offset, n);
  source->offset += n;
  return static_cast<int>(n);
}

Status GifError(const char* what, int code) {
  const char* text = GifErrorString(code);
  return Invalid(
      fmt::format("corrupt GIF: {}: {}", what, text != nullptr ? text : "unknown error"));
}

Status DecodeGif(Bytes bytes, const ImageDecodeOptions& options, Image* image) {
  FE_ASSIGN_OR_RETURN(GifLayout layout, ReadGifLayout(bytes));
  FE_RETURN_IF_ERROR(CheckPixels(layout.width(), layout.height(), options));
  GifSource source{bytes, 0};
  int error = 0;
  GifFileType* gif = DGifOpen(&source, GifRead, &error);
  if (gif == nullptr) return GifError("open", error);
  struct Closer {
    GifFileType* gif;
    ~Closer() {
      int ignored = 0;
      DGifCloseFile(gif, &ignored);
    }
  } closer{gif};

  int transparent = -1;  // the first frame's transparent index (graphic control extension)
  while (true) {
    GifRecordType record;
    if (DGifGetRecordType(gif, &record) == GIF_ERROR) return GifError("record", gif->Error);
    if (record == TERMINATE_RECORD_TYPE) return Invalid("corrupt GIF: no image");
    if (record == EXTENSION_RECORD_TYPE) {
      int code = 0;
      GifByteType* block = nullptr;
      if (DGifGetExtension(gif, &code, &block) == GIF_ERROR)
        return GifError("extension", gif->Error);
      if (code == GRAPHICS_EXT_FUNC_CODE && block != nullptr && block[0] >= 4) {
        transparent = (block[1] & 1) ? block[4] : -1;
      }
      while (block != nullptr) {
        if (DGifGetExtensionNext(gif, &block) == GIF_ERROR)
          return GifError("extension", gif->Error);
      }
      continue;
    }
    if (record == IMAGE_DESC_RECORD_TYPE) break;
  }
  if (DGifGetImageDesc(gif) == GIF_ERROR) return GifError("image descriptor", gif->Error);
  const GifImageDesc& desc = gif->Image;
  const int frame_width = desc.Width;
  const int frame_height = desc.Height;
  // Pillow: the frame's palette (local, else global); without one, mode "L"
  // (the index is the gray level); entries past the table are gray too.
  std::array<uint8_t, 768> palette;
  for (int i = 0; i < 256; ++i) palette[3 * i] = palette[3 * i + 1] = palette[3 * i + 2] = i;
  const ColorMapObject* map = desc.ColorMap != nullptr ? desc.ColorMap : gif->SColorMap;
  if (map != nullptr) {
    for (int i = 0; i < map->ColorCount && i < 256; ++i) {
      palette[3 * i] = map->Colors[i].Red;
      palette[3 * i + 1] = map->Colors[i].Green;
      palette[3 * i + 2] = map->Colors[i].Blue;
    }
  }
  const int width = layout.width();
  const int height = layout.height();
  // Pillow fills what the first frame does not cover with its transparent
  // index, else with index 0.
  std::vector<uint8_t> indices(static_cast<size_t>(width) * height,
                               static_cast<uint8_t>(transparent >= 0 ? transparent : 0));
  std::vector<GifPixelType> line(static_cast<size_t>(std::max(frame_width, 1)));
  // Rows in file order; interlaced frames store rows 0, 8, ..., 4, 12, ...,
  // 2, 6, ..., 1, 3, ....
  std::vector<int> order;
  order.reserve(frame_height);
  if (desc.Interlace) {
    const int starts[4] = {0, 4, 2, 1}, steps[4] = {8, 8, 4, 2};
    for (int pass = 0; pass < 4; ++pass) {
      for (int y = starts[pass]; y < frame_height; y += steps[pass]) order.push_back(y);
    }
  } else {
    for (int y = 0; y < frame_height; ++y) order.push_back(y);
  }
  for (int y : order) {
    if (DGifGetLine(gif, line.data(), frame_width) == GIF_ERROR) {
      return GifError("image data", gif->Error);
    }
    std::copy(line.begin(), line.begin() + frame_width,
              indices.begin() + (static_cast<ptrdiff_t>(desc.Top + y) * width + desc.Left));
  }
  AllocateImage(width, height, image);
  for (size_t i = 0; i < indices.size(); ++i) {
    std::memcpy(&image->rgb[3 * i], &palette[3 * indices[i]], 3);
  }
  return Status::OK();
}

// ---- EXIF orientation ----------------------------------------------------------

// The EXIF (TIFF) block of a JPEG (the first APP1 "Exif\0\0"), PNG (eXIf) or
// WebP (EXIF chunk), or empty.
Bytes FindExif(Bytes bytes, Format format) {
  switch (format) {
    case Format::kJpeg: {
      size_t at = 2;
      while (at + 4 <= bytes.size() && bytes[at] == 0xFF) {
        const uint8_t marker = bytes[at + 1];
        if (marker == 0xFF) {  // fill byte
          ++at;
          continue;
        }
        if (marker == 0xDA || marker == 0xD9) break;  // start of scan, end of image
        const size_t length = (size_t{bytes[at + 2]} << 8) | bytes[at + 3];
        if (length < 2 || at + 2 + length > bytes.size()) break;
        const Bytes segment = bytes.subspan(at + 4, length - 2);
        if (marker == 0xE1 && StartsWith(segment, std::string_view("Exif\0\0", 6))) {
          return segment.subspan(6);
        }
        at += 2 + length;
      }
      return {};
    }
    case Format::kPng: {
      size_t at = 8;
      while (at + 12 <= bytes.size()) {
        const size_t length = ReadBe32(&bytes[at]);
        if (length > bytes.size() - at - 12) break;
        if (StartsWith(bytes, "eXIf", at + 4)) {
          Bytes exif = bytes.subspan(at + 8, length);
          if (StartsWith(exif, std::string_view("Exif\0\0", 6))) exif = exif.subspan(6);
          return exif;
        }
        if (StartsWith(bytes, "IEND", at + 4)) break;
        at += 12 + length;
      }
      return {};
    }
    case Format::kWebp: {
      size_t at = 12;
      while (at + 8 <= bytes.size()) {
        const size_t length = ReadLe32(&bytes[at + 4]);
        if (length > bytes.size() - at - 8) break;
        if (StartsWith(bytes, "EXIF", at)) {
          Bytes exif = bytes.subspan(at + 8, length);
          if (StartsWith(exif, std::string_view("Exif\0\0", 6))) exif = exif.subspan(6);
          return exif;
        }
        at += 8 + length + (length & 1);
      }
      return {};
    }
    case Format::kGif: return {};
  }
  return {};
}

// The Orientation tag (0x0112) of IFD0 of a TIFF block, or 1.
int ExifOrientation(Bytes tiff) {
  if (tiff.size() < 8) return 1;
  const bool little = tiff[0] == 'I' && tiff[1] == 'I';
  if (!little && !(tiff[0] == 'M' && tiff[1] == 'M')) return 1;
  const auto u16 = [&](size_t at) -> uint32_t {
    return little ? (tiff[at] | (tiff[at + 1] << 8)) : ((tiff[at] << 8) | tiff[at + 1]);
  };
  const auto u32 = [&](size_t at) -> uint32_t {
    return little ? (u16(at) | (u16(at + 2) << 16)) : ((u16(at) << 16) | u16(at + 2));
  };
  const size_t ifd = u32(4);
  if (ifd > tiff.size() - 2) return 1;
  const size_t count = u16(ifd);
  for (size_t i = 0; i < count; ++i) {
    const size_t entry = ifd + 2 + 12 * i;
    if (entry + 12 > tiff.size()) return 1;
    if (u16(entry) != 0x0112) continue;
    const uint32_t type = u16(entry + 2);
    if (type == 3) return static_cast<int>(u16(entry + 8));  // SHORT
    if (type == 4) return static_cast<int>(u32(entry + 8));  // LONG
    return 1;
  }
  return 1;
}

// ImageOps.exif_transpose: the Image.Transpose of each orientation.
Image Orient(const Image& in, int orientation) {
  if (orientation < 2 || orientation > 8) return in;
  const int w = in.width, h = in.height;
  const bool swap = orientation >= 5;
  Image out;
  AllocateImage(swap ? h : w, swap ? w : h, &out);
  for (int y = 0; y < out.height; ++y) {
    for (int x = 0; x < out.width; ++x) {
      int sx = x, sy = y;
      switch (orientation) {
        case 2: sx = w - 1 - x; break;  // FLIP_LEFT_RIGHT
        case 3:
          sx = w - 1 - x;
          sy = h - 1 - y;
          break;                        // ROTATE_180
        case 4: sy = h - 1 - y; break;  // FLIP_TOP_BOTTOM
        case 5:
          sx = y;
          sy = x;
          break;  // TRANSPOSE
        case 6:
          sx = y;
          sy = h - 1 - x;
          break;  // ROTATE_270
        case 7:
          sx = w - 1 - y;
          sy = h - 1 - x;
          break;  // TRANSVERSE
        default:
          sx = w - 1 - y;
          sy = x;
          break;  // 8: ROTATE_90
      }
      std::memcpy(&out.rgb[(size_t{3} * out.width) * y + 3 * x],
                  &in.rgb[(size_t{3} * w) * sy + 3 * sx], 3);
    }
  }
  return out;
}

const char* FormatName(Format format) {
  switch (format) {
    case Format::kJpeg: return "jpeg";
    case Format::kPng: return "png";
    case Format::kWebp: return "webp";
    case Format::kGif: return "gif";
  }
  return "";
}

}  // namespace

Result<ImageInfo> ProbeImage(std::span<const uint8_t> bytes) {
  FE_ASSIGN_OR_RETURN(Format format, DetectFormat(bytes));
  ImageInfo info;
  info.format = FormatName(format);
  switch (format) {
    case Format::kJpeg: {
      FE_ASSIGN_OR_RETURN(JpegHeader header, ReadJpegHeader(bytes));
      info.width = header.width;
      info.height = header.height;
      break;
    }
    case Format::kPng: {
      FE_ASSIGN_OR_RETURN(PngHeader header, ReadPngHeader(bytes));
      info.width = static_cast<int>(header.width);
      info.height = static_cast<int>(header.height);
      break;
    }
    case Format::kWebp: {
      FE_ASSIGN_OR_RETURN(WebPBitstreamFeatures features, WebpHeader(bytes));
      info.width = features.width;
      info.height = features.height;
      break;
    }
    case Format::kGif: {
      FE_ASSIGN_OR_RETURN(GifLayout layout, ReadGifLayout(bytes));
      info.width = layout.width();
      info.height = layout.height();
      break;
    }
  }
  return info;
}

Result<Image> DecodeImage(std::span<const uint8_t> bytes, const ImageDecodeOptions& options) {
  FE_ASSIGN_OR_RETURN(Format format, DetectFormat(bytes));
  Image image;
  switch (format) {
    case Format::kJpeg: FE_RETURN_IF_ERROR(DecodeJpeg(bytes, options, &image)); break;
    case Format::kPng: FE_RETURN_IF_ERROR(DecodePng(bytes, options, &image)); break;
    case Format::kWebp: FE_RETURN_IF_ERROR(DecodeWebp(bytes, options, &image)); break;
    case Format::kGif: FE_RETURN_IF_ERROR(DecodeGif(bytes, options, &image)); break;
  }
  if (options.apply_exif_orientation) {
    const int orientation = ExifOrientation(FindExif(bytes, format));
    if (orientation != 1) image = Orient(image, orientation);
  }
  return image;
}

Result<Image> ReadImageFile(const std::string& path, const ImageDecodeOptions& options) {
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    return Status::NotFound(fmt::format("image file {} does not exist", path));
  }
  std::ifstream in(path, std::ios::binary);
  if (!in || std::filesystem::is_directory(path, ec)) {
    return Status::IOError(fmt::format("cannot read image file {}", path));
  }
  std::vector<uint8_t> bytes((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
  if (in.bad()) return Status::IOError(fmt::format("cannot read image file {}", path));
  auto image = DecodeImage(bytes, options);
  if (!image.ok()) return image.status().WithContext(fmt::format("image file {}", path));
  return image;
}

}  // namespace flashembed::encoders
