// How Milvus reads the JSON of a request, for every Milvus-facing reader
// (the server's routes, create-body parsing in create_body.h).
//
// Milvus decodes request bodies with Go's encoding/json: an object key binds
// to a field by an exact match, else by a match ignoring ASCII case
// ("autoId", "autoID" and "AutoID" all bind); a value of the wrong JSON type
// refuses the request with code 1801; a required string that is missing or
// empty refuses it with code 1802, naming the Go struct field as Milvus's
// validator does.
//
// Thread-safety: stateless functions.
#ifndef FLASHEMBED_MILVUS_REQUEST_JSON_H_
#define FLASHEMBED_MILVUS_REQUEST_JSON_H_

#include <cstdint>
#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "milvus/error.h"

namespace flashembed::milvus {

using Json = nlohmann::json;

// ASCII case-insensitive equality.
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// The value of `key` in object `object`: an exact match, else the first key
// equal ignoring ASCII case (as Go's encoding/json binds struct fields);
// nullptr when absent or when `object` is not an object.
const Json* FindKey(const Json& object, std::string_view key);

// A JSON number that is an integer within int64 (also 3.0); nullopt otherwise.
std::optional<int64_t> JsonToInt64(const Json& value);

// Typed optional fields of a request (keys found by FindKey). Absent or null
// gives `fallback`; a present value of another JSON type is 1801 ("json:
// cannot unmarshal number into Go struct field .key of type string").
Expected<std::string> OptString(const Json& body, std::string_view key, std::string fallback = "");
Expected<bool> OptBool(const Json& body, std::string_view key, bool fallback);
// Integers only (3.0 is refused as Go refuses it).
Expected<int64_t> OptInt(const Json& body, std::string_view key, int64_t fallback);
// A required string: missing or "" is 1802 naming `go_struct`.`go_field`
// ("Key: 'CollectionReq.CollectionName' Error:Field validation for
// 'CollectionName' failed on the 'required' tag").
Expected<std::string> ReqString(const Json& body, std::string_view key, std::string_view go_struct,
                                std::string_view go_field);

}  // namespace flashembed::milvus

#endif  // FLASHEMBED_MILVUS_REQUEST_JSON_H_
