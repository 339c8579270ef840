// The Milvus view of a flashembed collection: one model for the server's
// Milvus REST API (server/milvus_api.h) and for export, import, push and
// pull (transfer/).
//
//   Milvus                          flashembed
//   primary key (Int64 | VarChar)   Document::id (int | string), and also in
//                                   the metadata under its field name so
//                                   filters on it work
//   the one FloatVector field       Document::vector (CollectionSchema::dim)
//   scalar fields, $meta keys       top-level keys of Document::metadata
//   a text field (function          Document::text, embedded by the built-in
//   "TextEmbedding")                encoder when the row has no vector
//   everything else (names, types,  CollectionSchema::properties, as
//   params, index, ...)             {"milvus": ...} (properties.h, FORMAT.md)
//
// A collection without a stored Milvus schema (created through the native
// API, the CLI or the library) has the native layout (NativeSchema): pk "id"
// (Int64), vector "vector", text field "text" when it has an encoder,
// dynamic fields on.
//
// Thread-safety: plain values and stateless functions.
#ifndef FLASHEMBED_MILVUS_SCHEMA_H_
#define FLASHEMBED_MILVUS_SCHEMA_H_

#include <cstddef>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"
#include "milvus/error.h"
#include "query/database.h"

namespace flashembed::milvus {

using Json = nlohmann::json;

inline constexpr size_t kMaxVarCharLength = 65535;  // Milvus's max_length ceiling
inline constexpr int kMaxDim = 65536;               // flashembed's (and Milvus's) dim ceiling

// One field of a collection.
struct Field {
  std::string name;
  // Milvus dataType: "Bool", "Int8" ... "Int64", "Float", "Double",
  // "VarChar", "JSON", "Array", "FloatVector". "" only for the pk of
  // transfer's native layout, which takes integer and string ids.
  std::string type;
  std::string element_type;      // Array only
  Json params = Json::object();  // elementTypeParams, values as strings ("dim": "4")
  bool is_primary = false;
  bool partition_key = false;
  bool clustering_key = false;
  bool nullable = false;
  Json default_value;  // null = none
  std::string description;
  bool function_output = false;  // the output of the TextEmbedding function

  bool is_vector() const { return type == "FloatVector"; }
  // params' max_length (VarChar, and the elements of a VarChar Array) and
  // max_capacity (Array), as decimal text or a number; 0 = not set.
  size_t max_length() const;
  size_t max_capacity() const;
  // Sets params' max_length (as decimal text, the way Milvus reports it).
  void set_max_length(size_t bytes);
};

// A vector index, in Milvus terms.
struct Index {
  std::string index_name;
  std::string field_name;
  std::string index_type;   // as the client asked ("AUTOINDEX" when none)
  std::string metric_type;  // "COSINE", "IP", "L2"
  Json params = Json::object();
};

struct Schema {
  std::string description;
  bool auto_id = false;
  bool enable_dynamic = false;
  std::vector<Field> fields;  // in declaration order
  std::string text_field;     // Document::text; "" = none
  Json functions = Json::array();
  std::string metric_type = "COSINE";
  std::optional<Index> index;  // the vector index declared at creation
  std::string consistency_level = "Bounded";
  int shards_num = 1;
  std::string encoder = "hash";  // for a text field
  bool synthesized = false;      // not stored: NativeSchema, not a declaration

  // REQUIRES: the schema has a primary key / a FloatVector field (every
  // schema this library returns has exactly one of each).
  const Field& pk() const;
  const Field& vector() const;
  // The field named `name`; nullptr if none.
  const Field* Find(std::string_view name) const;
  // The vector field's dim param; 0 when it is not an integer.
  int dim() const;

  // The flashembed schema to create: dim, metric, index kind and params
  // (ApplyIndex of `index`), encoder (for a text field) and properties
  // (EncodeProperties). InvalidArgument with Milvus's message (code 1100)
  // for a dim, metric or index flashembed cannot serve.
  Result<CollectionSchema> ToCollectionSchema() const;
};

// The names of the native layout's fields.
struct NativeNames {
  std::string pk = "id";
  std::string vector = "vector";
  std::string text = "text";
};

// The native layout of `info` (see the header comment): pk Int64, the vector
// with the collection's dim, the text field only when the collection has an
// encoder (VarChar, max_length 65535, encoder `info.schema.encoder`),
// dynamic fields on, the index IndexFromCollection; synthesized.
Schema NativeSchema(const CollectionInfo& info, const NativeNames& names = {});

// "COSINE", "IP" or "L2".
const char* MetricTypeName(Metric metric);
// A Milvus metric type: "COSINE" / "IP" / "L2", or the same in lower case;
// nullopt otherwise.
std::optional<Metric> ParseMetricType(std::string_view name);

// The index `collection` has, in Milvus terms, named after `field_name`:
// HNSW (M, efConstruction, ef), FLAT or IVF_* (nprobe; nlist when not
// automatic; m when not automatic and nbits for IVF_PQ) with the
// collection's metric. ApplyIndex of it gives back the same flashembed index.
Index IndexFromCollection(const CollectionSchema& collection, const std::string& field_name);

// `schema` with `index` applied (type, metric, params). 1100 for an unknown
// index or metric type, and for a parameter out of flashembed's range
// (M 2..100, efConstruction and ef 1..10000, nlist and nprobe 1..65536, m
// 1..65536 dividing dim, nbits 4..8).
Expected<CollectionSchema> ApplyIndex(const Index& index, CollectionSchema schema);

}  // namespace flashembed::milvus

#endif  // FLASHEMBED_MILVUS_SCHEMA_H_
