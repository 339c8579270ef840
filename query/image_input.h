// Images as records and queries (Document::image, Query::image): decoding an
// ImageInput (query/database.h) with the encoders' decoders, and the metadata
// an image record carries. Internal to query/.
#ifndef FLASHEMBED_QUERY_IMAGE_INPUT_H_
#define FLASHEMBED_QUERY_IMAGE_INPUT_H_

#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "encoders/image.h"
#include "query/database.h"

namespace flashembed::query {

struct DecodedImage {
  encoders::Image image;      // RGB pixels, as Pillow's convert("RGB")
  std::string format;         // "jpeg", "png", ...
  int width = 0, height = 0;  // as stored in the file (before any EXIF rotation)
  std::string content_hash;   // 32 hex digits of Hash128 over the file's bytes
};

// How an image is named in errors: its source, quoted, else "image".
std::string ImageName(const ImageInput& input);

// Decodes `input` (kMaxImagePixels guards the allocation). InvalidArgument
// starting with ImageName(input) for an empty, truncated, corrupt or
// unsupported file, or a source over 4096 bytes.
Result<DecodedImage> DecodeImageInput(const ImageInput& input);

// The keys an image record's metadata gains (Document::image).
inline constexpr std::string_view kImageMetadataKeys[] = {"kind",  "source", "content_hash",
                                                          "width", "height", "format"};

// `metadata` (a normalised JSON object, NormalizeMetadata) with the image
// keys added, compactly serialised. InvalidArgument naming the key if the
// metadata already uses one of them.
Result<std::string> ImageRecordMetadata(std::string_view metadata, const ImageInput& input,
                                        const DecodedImage& image);

// A stored image record, to embed again (re-embedding): its image read
// again from the file its metadata's "source" names, and its metadata without
// the image keys (what it was written with). nullopt for a record that is not
// an image record (has text, or no "kind": "image"). InvalidArgument naming
// the file when it is gone, unreadable, or no longer the image the record
// was made from (another content hash).
struct StoredImage {
  ImageInput image;
  std::string metadata;
};
Result<std::optional<StoredImage>> ReadStoredImage(std::string_view text,
                                                   std::string_view metadata);

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_IMAGE_INPUT_H_
