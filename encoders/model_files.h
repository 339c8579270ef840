// What the model-folder encoders (TransformerEncoder, ClipEncoder) share:
// fingerprinting their files and running texts through a tokenizer and a
// forward pass in bounded batches. Internal to encoders/.
#ifndef FLASHEMBED_ENCODERS_MODEL_FILES_H_
#define FLASHEMBED_ENCODERS_MODEL_FILES_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace flashembed::encoders {

// Hash64 chained over the files' bytes in order; a path that is "" or not a
// regular file mixes in a fixed marker instead. Stored with collections (in
// encoder specs): never change how it is computed. IOError naming a file
// that exists but cannot be read.
Result<uint64_t> FingerprintFiles(std::span<const std::string> paths);

// 16 lower-case hex digits.
std::string Hex64(uint64_t v);

// Embeds `count` inputs into `out` (count x dim floats): each input's token
// ids from `tokenize(i)` first (in parallel on OpenMP threads when there are
// many; the first failure is returned as "<item> <i>: <message>" before any
// forward pass), then `forward` on consecutive runs of sequences holding at
// most `tokens_per_call` tokens (one sequence at least), so activation memory
// stays bounded whatever the batch. `item` names an input in errors ("text").
Status EncodeInTokenBatches(
    size_t count, std::string_view item, size_t dim, size_t tokens_per_call, std::span<float> out,
    const std::function<Result<std::vector<int32_t>>(size_t)>& tokenize,
    const std::function<Status(std::span<const std::vector<int32_t>>, std::span<float>)>& forward);

// Python's str.strip(), which sentence-transformers applies to every text
// before tokenizing: Unicode White_Space and U+001C..U+001F removed at both
// ends. REQUIRES: valid UTF-8.
std::string_view StripLikePython(std::string_view text);

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_MODEL_FILES_H_
