#include "query/validate.h"

#include <cmath>
#include <limits>

#include <fmt/format.h>

#include "base/json_depth.h"
#include "encoders/encoder.h"

namespace flashembed {

bool IsBlankText(std::string_view text) { return encoders::IsBlankText(text); }

Status ValidateMetadata(std::string_view metadata) {
  return query::ParseMetadata(metadata).status();
}

Status ValidateVector(std::span<const float> vector, Metric metric) {
  // The squared length in double: a float sum would itself overflow for
  // the vectors this refuses.
  double squared = 0;
  for (size_t i = 0; i < vector.size(); ++i) {
    const float x = vector[i];
    if (!std::isfinite(x)) return Status::InvalidArgument("vector has a NaN or infinite value");
    squared += static_cast<double>(x) * x;
  }
  // Scores are floats computed from floats: with both vectors within this
  // squared length, |a.b| <= 1e37 and |a-b|^2 <= 4e37, well below the
  // largest float (3.4e38) even after rounding, so no score can overflow.
  if (squared > kMaxVectorSquaredLength) {
    return Status::InvalidArgument(
        fmt::format("vector is too long: its squared length is {:.3g} (at most {:.0e}), so its "
                    "scores would overflow a 32-bit float; scale it down",
                    squared, kMaxVectorSquaredLength));
  }
  if (metric == Metric::kCosine) {
    if (squared == 0) return Status::InvalidArgument("zero vector has no cosine direction");
    // Cosine vectors are scaled to length 1 by a float factor 1 / length;
    // for a length below 1 / FLT_MAX that factor is infinite and the
    // direction becomes NaN.
    if (1.0 / std::sqrt(squared) > std::numeric_limits<float>::max()) {
      return Status::InvalidArgument(
          fmt::format("vector is too short to have a cosine direction (length {:.3g}); scale it up",
                      std::sqrt(squared)));
    }
  }
  return Status::OK();
}

namespace query {

Result<nlohmann::json> ParseMetadata(std::string_view text) {
  if (text.empty()) return nlohmann::json::object();
  // Before parsing: nlohmann copies and dumps recursively, so a value nested
  // tens of thousands of levels deep would overflow the stack.
  if (JsonDepth(text, kMaxMetadataDepth) > static_cast<size_t>(kMaxMetadataDepth)) {
    return Status::InvalidArgument(
        fmt::format("metadata nests deeper than {} levels", kMaxMetadataDepth));
  }
  nlohmann::json j = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return Status::InvalidArgument("metadata is not valid JSON");
  if (!j.is_object()) {
    return Status::InvalidArgument(std::string("metadata must be a JSON object, got ") +
                                   j.type_name());
  }
  return j;
}

Result<std::string> NormalizeMetadata(std::string_view text) {
  FE_ASSIGN_OR_RETURN(nlohmann::json j, ParseMetadata(text));
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

Status CheckVector(std::span<const float> v, uint32_t dim, index::Metric metric) {
  if (v.size() != dim) {
    return Status::InvalidArgument(
        fmt::format("dim mismatch: collection has {}, vector has {}", dim, v.size()));
  }
  return ValidateVector(v, static_cast<Metric>(metric));
}

float ScoreOf(index::Metric metric, float distance) {
  return FiniteScore(index::ScoreFromDistance(metric, distance));
}

}  // namespace query
}  // namespace flashembed
