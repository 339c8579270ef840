// What every write and search checks about its input, in one place: the
// metadata of records and long documents (kMaxMetadataDepth), and vectors
// (finite, within kMaxVectorSquaredLength, a cosine direction). The public
// ValidateMetadata / ValidateVector (query/database.h) are these checks.
// Internal to query/.
#ifndef FLASHEMBED_QUERY_VALIDATE_H_
#define FLASHEMBED_QUERY_VALIDATE_H_

#include <span>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "base/number.h"
#include "index/vector_index.h"
#include "query/database.h"

namespace flashembed::query {

// `text` parsed, if it is a JSON object nested at most kMaxMetadataDepth
// levels ("" counts as {}). The depth is checked before parsing, without
// recursion, so any input is safe. InvalidArgument otherwise:
// "metadata nests deeper than 64 levels", "metadata is not valid JSON",
// "metadata must be a JSON object, got array".
Result<nlohmann::json> ParseMetadata(std::string_view text);

// ParseMetadata, re-serialised compactly (invalid UTF-8 replaced).
Result<std::string> NormalizeMetadata(std::string_view text);

// ValidateVector for a collection of `dim` dimensions, plus the dim:
// "dim mismatch: collection has 4, vector has 3".
Status CheckVector(std::span<const float> v, uint32_t dim, index::Metric metric);

// `score` as a finite float. ValidateVector keeps every score finite, but
// vectors stored before it refused overlong ones can still overflow: such
// a score becomes the largest float (+inf) or the lowest (-inf, NaN), so it
// ranks where it belongs and is never written out as JSON null
// (base/number.h's FiniteFloat).
inline float FiniteScore(double score) { return FiniteFloat(score); }

// index::ScoreFromDistance, made finite by FiniteScore: the score of every
// hit, by the collection's metric.
float ScoreOf(index::Metric metric, float distance);

}  // namespace flashembed::query

#endif  // FLASHEMBED_QUERY_VALIDATE_H_
