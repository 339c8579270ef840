// The nesting depth of JSON text, counted without parsing and without
// recursion. nlohmann::json parses iteratively but copies, compares and
// serialises recursively, one stack frame per level, so a value nested a
// few tens of thousands of levels deep crashes whoever copies or dumps it;
// every reader of untrusted JSON checks the depth with this first.
#ifndef FLASHEMBED_BASE_JSON_DEPTH_H_
#define FLASHEMBED_BASE_JSON_DEPTH_H_

#include <cstddef>
#include <string_view>

namespace flashembed {

// The deepest nesting of arrays and objects in `text`: 0 for a scalar, 1 for
// [1] or {"a": 1}, 2 for {"a": [1]}. Brackets inside strings do not count.
// Stops at the first level beyond `limit` and returns limit + 1, so the
// cost is bounded by the text, never by the nesting. For text that is not
// valid JSON the result is what the brackets say (it may then be larger
// than what a parser would reach before failing).
inline size_t JsonDepth(std::string_view text, size_t limit) {
  size_t depth = 0;
  size_t deepest = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > deepest) {
        deepest = depth;
        if (deepest > limit) return limit + 1;
      }
    } else if ((c == ']' || c == '}') && depth > 0) {
      --depth;
    }
  }
  return deepest;
}

}  // namespace flashembed

#endif  // FLASHEMBED_BASE_JSON_DEPTH_H_
