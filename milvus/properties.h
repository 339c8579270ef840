// The properties.milvus codec: how a Milvus schema is kept with a
// collection, in CollectionSchema::properties, as {"milvus": {...}}. The
// JSON and its version are described in milvus/FORMAT.md.
//
// The server writes it when a collection is created through the Milvus API
// (Schema::ToCollectionSchema); the server and transfer/ read it back
// (SchemaOfCollection). The text is compared byte for byte to make
// collections/create idempotent, so EncodeProperties of a decoded schema
// gives back the text an earlier build wrote.
//
// Thread-safety: stateless functions.
#ifndef FLASHEMBED_MILVUS_PROPERTIES_H_
#define FLASHEMBED_MILVUS_PROPERTIES_H_

#include <nlohmann/json_fwd.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "base/status.h"
#include "milvus/schema.h"
#include "query/database.h"

namespace flashembed::milvus {

// The "version" this build writes and the only one it reads (a stored
// schema without "version" is version 1).
inline constexpr int kSchemaFormatVersion = 1;

// The stored form of `schema` (the value of "milvus").
Json EncodeSchema(const Schema& schema);
// {"milvus": EncodeSchema(schema)} as compact text: what
// CollectionSchema::properties holds.
std::string EncodeProperties(const Schema& schema);

// The inverse of EncodeSchema. InvalidArgument when `value` is not one
// (missing keys, values of the wrong type, not exactly one primary key and
// one FloatVector field); NotSupported for a version other than
// kSchemaFormatVersion.
Result<Schema> DecodeSchema(const Json& value);
// The Milvus schema kept in `properties`: nullopt when there is none ("",
// not a JSON object, or no "milvus" key); DecodeSchema's errors otherwise.
Result<std::optional<Schema>> DecodeProperties(std::string_view properties);

// The Milvus view of a stored collection: its stored schema, else the
// native layout (NativeSchema).
Result<Schema> SchemaOfCollection(const CollectionInfo& info);

}  // namespace flashembed::milvus

#endif  // FLASHEMBED_MILVUS_PROPERTIES_H_
