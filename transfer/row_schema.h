// How a flashembed collection looks as Milvus rows, and back.
//
//   Milvus row                         flashembed record
//   primary key (Int64 | VarChar)      Document::id (integer | string)
//   the FloatVector field              Document::vector
//   the text field (VarChar)           Document::text
//   other scalar fields                top-level keys of Document::metadata
//   $meta (dynamic fields)             the other keys of Document::metadata
//
// The schema itself is the Milvus model of milvus/schema.h (a Field here is
// a milvus::Field); a RowSchema is its row view, with what import and export
// need on top. A collection made through the Milvus REST API (flashembed
// serve) keeps its Milvus schema in CollectionSchema::properties
// ({"milvus": {...}}, milvus/properties.h); its rows use that schema's names
// and types, and its records keep the pk and every scalar field in the
// metadata too (the "Milvus layout"). Any other collection is pk "id",
// "vector", "text" and everything else dynamic (the "native layout",
// milvus::NativeSchema).
//
// Thread-safety: plain values and stateless functions.
#ifndef FLASHEMBED_TRANSFER_ROW_SCHEMA_H_
#define FLASHEMBED_TRANSFER_ROW_SCHEMA_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "milvus/schema.h"
#include "query/database.h"

namespace flashembed::transfer {

// Metadata objects: sorted keys, as the database stores them.
using Json = nlohmann::json;
// Files people read (collection.json, ...) keep their keys in a natural order.
using OrderedJson = nlohmann::ordered_json;

using milvus::kMaxVarCharLength;                // Milvus's max_length ceiling
inline constexpr size_t kMaxJsonBytes = 65536;  // Milvus's JSON field limit

// One Milvus field. The pk of a native collection has type "" (integer and
// string ids both accepted); a VarChar's max_length() (UTF-8 bytes) 0 means
// 65535, an Array's max_capacity() 0 means unchecked.
using Field = milvus::Field;

struct RowSchema {
  Field pk;
  Field vector;  // type "FloatVector"
  int dim = 0;   // 0 = not known yet (taken from the first row)
  std::optional<Field> text;
  bool text_optional = false;  // a missing text is "" (native layout without a declaration)
  std::vector<Field> scalars;  // every other field, in declaration order
  bool dynamic = true;
  // Records keep the pk and the text field in the metadata as well (Milvus
  // layout, as the server writes them).
  bool milvus_layout = false;
  // A row without a vector is embedded from its text (the collection has an
  // encoder). Milvus itself requires the vector.
  bool vector_optional = false;

  const Field* FindScalar(std::string_view name) const;
  // pk, vector, text or a scalar field.
  bool IsField(std::string_view name) const;
};

// The row view of a stored collection: the Milvus schema in its properties
// if any (milvus::DecodeProperties; its errors name the collection), else
// the native layout with these names for pk, vector and text (pk type "" =
// either; the text field only when the collection has an encoder or
// `with_text`).
Result<RowSchema> SchemaOfCollection(const CollectionInfo& info, std::string_view pk_name,
                                     std::string_view vector_name, std::string_view text_name,
                                     bool with_text);

// The row view declared by a collections/create body (custom or quick
// setup; milvus::ReadCreateBody): field names and types; a VarChar field
// named `text_name` becomes the text; everything else a scalar.
// InvalidArgument ("collection.json: ...") for a body without one primary
// key and one FloatVector field.
Result<RowSchema> SchemaOfCreateBody(const Json& body, std::string_view text_name);

// dim, metric and index (HNSW M/efConstruction/ef, FLAT, IVF_* nlist/m/nbits,
// AUTOINDEX = HNSW defaults) of a collections/create body, for a
// vector-only collection (milvus::CollectionSchemaForImport).
// InvalidArgument ("collection.json: ...") naming a bad value.
Result<CollectionSchema> CollectionSchemaOfCreateBody(const Json& body);

// The collections/create body (milvus::CreateBody: custom setup, ids kept,
// the vector a plain FloatVector, no functions) for `schema`, with
// indexParams from the collection's index kind and metric, and the
// description and consistency level of its stored Milvus schema if any.
OrderedJson CreateBody(const std::string& milvus_name, const RowSchema& schema,
                       const CollectionInfo& info);

// A collection name Milvus accepts ([A-Za-z_][A-Za-z0-9_]*): '-' and other
// characters become '_', a leading digit gets a '_' prefix.
std::string MilvusName(std::string_view name);

// The flashembed schema as JSON (flashembed-collection.json) and back.
OrderedJson CollectionSchemaToJson(const CollectionSchema& schema);
Result<CollectionSchema> CollectionSchemaFromJson(const Json& value);

// Checks a JSON value for `field` with the strict typing of Milvus bulk
// import (transfer/FORMAT.md): Int* are JSON integers in range (never
// strings), Float/Double numbers, Bool booleans, VarChar strings within
// max_length, JSON an object or a string of JSON text (parsed), Array an
// array of the element type within max_capacity, null only when nullable.
// `*stored` receives the value to keep in the metadata. InvalidArgument
// saying what was expected and what was found.
Status CheckScalar(const Field& field, const Json& value, Json* stored);

// A scalar's stored metadata value as it is written to a JSON row: typed as
// declared (JSON fields as objects when objects, else as JSON text).
// InvalidArgument when the stored value does not fit the declared type;
// `missing` is true when the value is absent and there is nothing to write.
Status ExportScalar(const Field& field, const Json* stored, Json* out);

// The Milvus type name for messages: "Int64 (a JSON integer)".
std::string JsonTypeName(const Json& value);

// Rounds a VarChar length up to a declared max_length: the next power of
// two, at least 16, at most 65535.
size_t RoundMaxLength(size_t bytes);

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_ROW_SCHEMA_H_
