// Internal to milvus/*.cc (not for other folders): how a parse refuses
// input from deep inside, and helpers the .cc files share.
//
// Why an exception here when the library's interface reports errors as
// values: a create body is decoded through dozens of optional, nested,
// typed fields, any of which may refuse the request, and nlohmann::json
// throws on misuse anyway. A Refusal is thrown only inside milvus/ and
// caught at every public entry point that can refuse (Catch), which returns
// it as an Error; it never leaves the library.
#ifndef FLASHEMBED_MILVUS_REFUSAL_H_
#define FLASHEMBED_MILVUS_REFUSAL_H_

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <utility>

#include "milvus/error.h"
#include "milvus/schema.h"
#include "query/database.h"

namespace flashembed::milvus::internal {

using Json = nlohmann::json;

struct Refusal {
  int code;
  std::string message;
};

[[noreturn]] inline void Refuse(int code, std::string message) {
  throw Refusal{code, std::move(message)};
}
// 1801 "can only accept json format request, error: <detail>".
[[noreturn]] inline void RefuseMalformed(const std::string& detail) {
  Refuse(kMalformedRequest, "can only accept json format request, error: " + detail);
}
// 1100 "invalid parameter, <detail>".
[[noreturn]] inline void RefuseParameter(const std::string& detail) {
  Refuse(kInvalidParameter, "invalid parameter, " + detail);
}

// Runs `body`, returning its value or the Refusal it threw as an Error. A
// nlohmann::json exception (a typed read of a value of another type) is a
// 1801, worded as the server words one that reaches a route.
template <typename F>
auto Catch(F&& body) -> Expected<std::invoke_result_t<F>> {
  try {
    return body();
  } catch (const Refusal& r) {
    return Error{r.code, r.message};
  } catch (const Json::exception& e) {
    return Error{kMalformedRequest,
                 std::string("can only accept json format request, error: ") + e.what()};
  }
}

// Compact JSON text; invalid UTF-8 in strings is replaced, never thrown on.
std::string Dump(const Json& value);

// An integer given as a JSON number (an integer within int64, also 3.0) or
// as a decimal string ("16"); nullopt otherwise.
std::optional<int64_t> IntegerOrDecimal(const Json& value);

// request_json.h's readers, refusing by throwing.
std::string OptStringOrRefuse(const Json& body, std::string_view key, std::string fallback = "");
bool OptBoolOrRefuse(const Json& body, std::string_view key, bool fallback);
int64_t OptIntOrRefuse(const Json& body, std::string_view key, int64_t fallback);
std::string ReqStringOrRefuse(const Json& body, std::string_view key, std::string_view go_struct,
                              std::string_view go_field);
// An integer parameter (IntegerOrDecimal) of `params`: nullopt when absent,
// 1100 "invalid parameter[key=value]: expected an integer" otherwise.
std::optional<int64_t> ParamIntOrRefuse(const Json& params, std::string_view key);

// schema.h's ParseMetricType, refusing 1100 "invalid parameter[metric type
// X not found or not supported, supported: [L2 IP COSINE]]".
Metric MetricOrRefuse(const std::string& metric);
// schema.h's ApplyIndex, refusing by throwing.
void ApplyIndexOrRefuse(const Index& index, CollectionSchema* schema);

}  // namespace flashembed::milvus::internal

#endif  // FLASHEMBED_MILVUS_REFUSAL_H_
