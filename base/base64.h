// Base64 (RFC 4648): images in JSON request bodies, vectors in base64 JSON
// responses.
#ifndef FLASHEMBED_BASE_BASE64_H_
#define FLASHEMBED_BASE_BASE64_H_

#include <string>
#include <string_view>

#include "base/status.h"

namespace flashembed {

// The standard alphabet with '=' padding.
std::string Base64Encode(std::string_view bytes);

// Decodes the standard or the URL-safe alphabet ('-' and '_' for '+' and
// '/'), with or without '=' padding; a "data:<type>;base64," prefix (a data
// URL) is skipped. InvalidArgument naming the offset of the first character
// that is not base64, or saying the length is impossible.
Result<std::string> Base64Decode(std::string_view text);

}  // namespace flashembed

#endif  // FLASHEMBED_BASE_BASE64_H_
