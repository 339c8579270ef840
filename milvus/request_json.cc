#include "milvus/request_json.h"

#include <cmath>
#include <cstdlib>
#include <nlohmann/json.hpp>

#include "milvus/refusal.h"

namespace flashembed::milvus {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i];
    char y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

const Json* FindKey(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto exact = object.find(std::string(key));
  if (exact != object.end()) return &*exact;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (EqualsIgnoreCase(it.key(), key)) return &it.value();
  }
  return nullptr;
}

std::optional<int64_t> JsonToInt64(const Json& value) {
  if (value.is_number_integer()) {
    if (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(INT64_MAX)) {
      return std::nullopt;
    }
    return value.get<int64_t>();
  }
  if (value.is_number_float()) {
    const double d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && d >= -9.2233720368547758e18 &&
        d < 9.2233720368547758e18) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

Expected<std::string> OptString(const Json& body, std::string_view key, std::string fallback) {
  return internal::Catch([&] { return internal::OptStringOrRefuse(body, key, fallback); });
}

Expected<bool> OptBool(const Json& body, std::string_view key, bool fallback) {
  return internal::Catch([&] { return internal::OptBoolOrRefuse(body, key, fallback); });
}

Expected<int64_t> OptInt(const Json& body, std::string_view key, int64_t fallback) {
  return internal::Catch([&] { return internal::OptIntOrRefuse(body, key, fallback); });
}

Expected<std::string> ReqString(const Json& body, std::string_view key, std::string_view go_struct,
                                std::string_view go_field) {
  return internal::Catch(
      [&] { return internal::ReqStringOrRefuse(body, key, go_struct, go_field); });
}

namespace internal {

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

std::optional<int64_t> IntegerOrDecimal(const Json& value) {
  if (auto n = JsonToInt64(value)) return n;
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    char* end = nullptr;
    const long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size()) return n;
  }
  return std::nullopt;
}

std::string OptStringOrRefuse(const Json& body, std::string_view key, std::string fallback) {
  const Json* value = FindKey(body, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (!value->is_string()) {
    RefuseMalformed("json: cannot unmarshal " + std::string(value->type_name()) +
                    " into Go struct field ." + std::string(key) + " of type string");
  }
  return value->get<std::string>();
}

bool OptBoolOrRefuse(const Json& body, std::string_view key, bool fallback) {
  const Json* value = FindKey(body, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (value->is_boolean()) return value->get<bool>();
  RefuseMalformed("json: cannot unmarshal " + std::string(value->type_name()) +
                  " into Go struct field ." + std::string(key) + " of type bool");
}

int64_t OptIntOrRefuse(const Json& body, std::string_view key, int64_t fallback) {
  const Json* value = FindKey(body, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (auto n = JsonToInt64(*value); n.has_value() && value->is_number_integer()) return *n;
  RefuseMalformed("json: cannot unmarshal " + Dump(*value) + " into Go struct field ." +
                  std::string(key) + " of type int");
}

std::string ReqStringOrRefuse(const Json& body, std::string_view key, std::string_view go_struct,
                              std::string_view go_field) {
  std::string value = OptStringOrRefuse(body, key);
  if (value.empty()) {
    Refuse(kMissingParameter, "missing required parameters, error: Key: '" +
                                  std::string(go_struct) + "." + std::string(go_field) +
                                  "' Error:Field validation for '" + std::string(go_field) +
                                  "' failed on the 'required' tag");
  }
  return value;
}

std::optional<int64_t> ParamIntOrRefuse(const Json& params, std::string_view key) {
  const Json* value = FindKey(params, key);
  if (value == nullptr) return std::nullopt;
  if (auto n = IntegerOrDecimal(*value)) return n;
  Refuse(kInvalidParameter,
         "invalid parameter[" + std::string(key) + "=" + Dump(*value) + "]: expected an integer");
}

}  // namespace internal
}  // namespace flashembed::milvus
