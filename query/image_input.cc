#include "query/image_input.h"

#include <fstream>
#include <span>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "base/hash.h"

namespace flashembed::query {
namespace {

constexpr size_t kMaxImageSourceBytes = 4096;

}  // namespace

std::string ImageName(const ImageInput& input) {
  if (input.source.empty()) return "image";
  return "image \"" + input.source.substr(0, 200) + "\"";
}

Result<DecodedImage> DecodeImageInput(const ImageInput& input) {
  if (input.source.size() > kMaxImageSourceBytes) {
    return Status::InvalidArgument(fmt::format("image source is {} bytes; at most {} are allowed",
                                               input.source.size(), kMaxImageSourceBytes));
  }
  const std::span<const uint8_t> bytes(reinterpret_cast<const uint8_t*>(input.bytes.data()),
                                       input.bytes.size());
  auto name = [&](const Status& s) {
    return Status(s.code(), ImageName(input) + ": " + s.message());
  };
  auto info = encoders::ProbeImage(bytes);
  if (!info.ok()) return name(info.status());
  encoders::ImageDecodeOptions options;
  options.apply_exif_orientation = input.apply_exif_orientation;
  options.max_pixels = kMaxImagePixels;
  auto image = encoders::DecodeImage(bytes, options);
  if (!image.ok()) return name(image.status());
  DecodedImage out;
  out.image = std::move(image).value();
  out.format = info->format;
  out.width = info->width;
  out.height = info->height;
  out.content_hash = Hex(Hash128(input.bytes));
  return out;
}

Result<std::string> ImageRecordMetadata(std::string_view metadata, const ImageInput& input,
                                        const DecodedImage& image) {
  nlohmann::json j = nlohmann::json::parse(metadata.empty() ? std::string_view("{}") : metadata,
                                           nullptr, /*allow_exceptions=*/false);
  if (!j.is_object()) return Status::InvalidArgument("metadata must be a JSON object");
  for (std::string_view key : kImageMetadataKeys) {
    if (j.contains(key)) {
      return Status::InvalidArgument(
          fmt::format("metadata key \"{}\" is reserved for what an image record records about "
                      "its image ({})",
                      key, fmt::join(kImageMetadataKeys, ", ")));
    }
  }
  j["kind"] = "image";
  j["source"] = input.source;
  j["content_hash"] = image.content_hash;
  j["width"] = image.width;
  j["height"] = image.height;
  j["format"] = image.format;
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Result<std::optional<StoredImage>> ReadStoredImage(std::string_view text,
                                                   std::string_view metadata) {
  if (!text.empty() || metadata.find("\"kind\":\"image\"") == std::string_view::npos) {
    return std::optional<StoredImage>();
  }
  nlohmann::json j = nlohmann::json::parse(metadata, nullptr, /*allow_exceptions=*/false);
  if (!j.is_object() || j.value("kind", "") != "image" || !j.contains("source") ||
      !j["source"].is_string()) {
    return std::optional<StoredImage>();
  }
  StoredImage stored;
  stored.image.source = j["source"].get<std::string>();
  const std::string hash = j.value("content_hash", "");
  auto refuse = [&](const std::string& why) {
    return Status::InvalidArgument(ImageName(stored.image) + ": " + why +
                                   "; an image record is embedded again from its file");
  };
  if (stored.image.source.empty()) return refuse("the record names no file");
  std::ifstream in(stored.image.source, std::ios::binary);
  if (!in) return refuse("the file cannot be opened");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in.good() && !in.eof()) return refuse("the file cannot be read");
  stored.image.bytes = std::move(bytes).str();
  if (Hex(Hash128(stored.image.bytes)) != hash) {
    return refuse("the file changed since the record was written (content hash " + hash + " then)");
  }
  for (std::string_view key : kImageMetadataKeys) j.erase(std::string(key));
  stored.metadata = j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  return std::optional<StoredImage>(std::move(stored));
}

}  // namespace flashembed::query
