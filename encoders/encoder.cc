#include "encoders/encoder.h"

#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "encoders/hashing_encoder.h"

namespace flashembed::encoders {

Result<std::unique_ptr<TextEncoder>> NewTextEncoder(std::string_view name, int dim) {
  if (name == "hash") {
    HashingEncoder::Options options;
    if (dim > 0) options.dim = dim;
    FE_ASSIGN_OR_RETURN(auto encoder, HashingEncoder::Create(options));
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  return Status::InvalidArgument("unknown encoder name '" + std::string(name) + "' (known: hash)");
}

Result<std::unique_ptr<TextEncoder>> TextEncoderFromSpec(std::string_view spec) {
  // The encoder name is everything before the first '/' (or ';').
  const std::string_view name = spec.substr(0, spec.find_first_of("/;"));
  if (name == "hash") {
    FE_ASSIGN_OR_RETURN(auto encoder, HashingEncoder::FromSpec(spec));
    return std::unique_ptr<TextEncoder>(std::move(encoder));
  }
  if (name.empty()) {
    return Status::InvalidArgument("malformed encoder spec '" + std::string(spec) +
                                   "': expected '<encoder>/<version>;key=value;...'");
  }
  return Status::NotSupported("encoder spec '" + std::string(spec) + "': unknown encoder '" +
                              std::string(name) + "' (this build knows: hash)");
}

}  // namespace flashembed::encoders
