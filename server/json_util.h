// JSON helpers shared by the route handlers: key lookup with Go's
// encoding/json rules (exact match first, then case-insensitive), typed
// field readers, and ApiError.
//
// Why an exception here when flashembed reports errors as Status: a handler
// decodes dozens of optional, nested, typed fields, and nlohmann::json throws
// on misuse anyway, so handlers must be exception-safe regardless. ApiError
// is thrown only inside server/ route code and caught in exactly one place
// (Router::Handle, via the APIs' Handle methods), which turns it into the
// response; it never crosses a module boundary.
#ifndef FLASHEMBED_SERVER_JSON_UTIL_H_
#define FLASHEMBED_SERVER_JSON_UTIL_H_

#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace flashembed::server {

using Json = nlohmann::json;

// An error answer. `code` is the Milvus envelope code on /v2/ routes and
// the HTTP status on native routes (see the API classes).
class ApiError : public std::runtime_error {
 public:
  ApiError(int code, std::string message)
      : std::runtime_error(message), code_(code), message_(std::move(message)) {}
  int code() const { return code_; }
  const std::string& message() const { return message_; }

 private:
  int code_;
  std::string message_;
};

// The value of `key` in object `object`: an exact match, else the first key
// equal ignoring ASCII case (as Go's encoding/json binds struct fields);
// nullptr when absent or when `object` is not an object.
const Json* FindKey(const Json& object, std::string_view key);

// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Parses `body` as JSON; nullopt (and `error` set to the parser's message)
// when malformed. Nesting deeper than 256 levels is refused so a hostile body
// cannot exhaust the stack, and a number beyond double's range (1e999) is
// refused like any other malformed input; both errors name where they are
// ("number 1e999 is out of range at documents[0].vector[0]").
std::optional<Json> ParseJsonBody(std::string_view body, std::string* error);

// Compact JSON text; invalid UTF-8 in strings is replaced, never thrown on.
std::string Dump(const Json& value);

// The shortest decimal text that reads back as the same float, as a JSON
// number (0.1f -> 0.1, not 0.10000000149011612). Always a number: a
// non-finite value (which the library never returns as a score) is clamped
// to the float range, NaN to the lowest float.
Json FloatToJson(float value);

// A JSON number that is an integer within int64 (also 3.0); nullopt otherwise.
std::optional<int64_t> JsonToInt64(const Json& value);

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_JSON_UTIL_H_
