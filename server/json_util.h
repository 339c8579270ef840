// JSON helpers shared by the route handlers: ApiError, body parsing, and
// Milvus's request rules (milvus/request_json.h: key lookup exact first,
// then case-insensitive; typed field readers) in throwing form.
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
#include <utility>

#include <nlohmann/json.hpp>

#include "milvus/error.h"
#include "milvus/request_json.h"

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

// Key lookup as Go's encoding/json binds struct fields, ASCII
// case-insensitive equality, integers (milvus/request_json.h).
using milvus::EqualsIgnoreCase;
using milvus::FindKey;
using milvus::JsonToInt64;

// The value of a milvus/ call, or its Error thrown as an ApiError with the
// same code and message.
template <typename T>
T OrThrow(milvus::Expected<T> result) {
  if (!result.ok()) throw ApiError(result.error().code, result.error().message);
  return std::move(result).value();
}

// Typed optional fields of a Milvus request (milvus/request_json.h). A
// present value of the wrong JSON type throws ApiError 1801.
inline std::string OptString(const Json& body, std::string_view key, std::string fallback = "") {
  return OrThrow(milvus::OptString(body, key, std::move(fallback)));
}
inline bool OptBool(const Json& body, std::string_view key, bool fallback) {
  return OrThrow(milvus::OptBool(body, key, fallback));
}
inline int64_t OptInt(const Json& body, std::string_view key, int64_t fallback) {
  return OrThrow(milvus::OptInt(body, key, fallback));
}
// A required string: missing or "" throws 1802 naming `go_struct`.`go_field`
// as Milvus's validator does.
inline std::string ReqString(const Json& body, std::string_view key, std::string_view go_struct,
                             std::string_view go_field) {
  return OrThrow(milvus::ReqString(body, key, go_struct, go_field));
}

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

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_JSON_UTIL_H_
