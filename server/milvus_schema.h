// How a Milvus collection maps onto a flashembed collection, and back.
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
//   params, index, ...)             {"milvus": MilvusSchema::ToJson()}
//
// A collection created through the native API has no Milvus schema; Milvus
// routes see it as pk "id" (Int64), vector "vector", text field "text",
// dynamic fields on.
#ifndef FLASHEMBED_SERVER_MILVUS_SCHEMA_H_
#define FLASHEMBED_SERVER_MILVUS_SCHEMA_H_

#include <optional>
#include <string>
#include <vector>

#include "query/database.h"
#include "server/json_util.h"

namespace flashembed::server {

struct MilvusField {
  std::string name;
  std::string type;          // "Int64", "VarChar", "FloatVector", ...
  std::string element_type;  // Array only
  Json params = Json::object();  // elementTypeParams, values as strings
  bool is_primary = false;
  bool partition_key = false;
  bool clustering_key = false;
  bool nullable = false;
  Json default_value;  // null = none
  std::string description;
  bool function_output = false;

  bool is_vector() const { return type == "FloatVector"; }
  // max_length of a VarChar (0 = not set).
  size_t max_length() const;
};

struct MilvusIndex {
  std::string index_name;
  std::string field_name;
  std::string index_type;   // as the client asked ("AUTOINDEX" when none)
  std::string metric_type;  // "COSINE", "IP", "L2"
  Json params = Json::object();
};

struct MilvusSchema {
  std::string description;
  bool auto_id = false;
  bool enable_dynamic = false;
  std::vector<MilvusField> fields;
  std::string text_field;    // "" = none
  Json functions = Json::array();
  std::string metric_type = "COSINE";
  std::optional<MilvusIndex> index;  // the vector index declared at creation
  std::string consistency_level = "Bounded";
  int shards_num = 1;
  std::string encoder = "hash";  // for a text field
  bool synthesized = false;      // not stored: made up for a native collection

  const MilvusField& pk() const;
  const MilvusField& vector() const;
  const MilvusField* Find(std::string_view name) const;
  int dim() const;

  Json ToJson() const;
  // The inverse of ToJson; InvalidArgument if `value` is not one.
  static Result<MilvusSchema> FromJson(const Json& value);
  // The Milvus view of a stored collection (see the header comment).
  static Result<MilvusSchema> FromCollection(const CollectionInfo& info);

  // The flashembed schema to create: dim, metric, index kind and params,
  // encoder (for a text field) and properties.
  Result<CollectionSchema> ToCollectionSchema() const;
};

// Parses a collections/create body (quick or custom setup) into a schema.
// Throws ApiError with the Milvus code and message for bad input.
MilvusSchema ParseCreateRequest(const Json& body);

// Parses one entry of indexParams (create or indexes/create) for `schema`.
// Throws ApiError.
MilvusIndex ParseIndexParam(const Json& entry, const MilvusSchema& schema);

// The index a stored collection has, in Milvus terms, named after
// `field_name`: HNSW (M, efConstruction, ef), FLAT or IVF_* (nlist, nprobe,
// m, nbits) with the collection's metric and parameters. ApplyIndex of it
// gives back the same flashembed index.
MilvusIndex IndexFromCollection(const CollectionInfo& info, const std::string& field_name);

// Applies `index` (type, metric, params) to a flashembed schema. Throws
// ApiError 1100 for an unknown index or metric type, and for a parameter
// out of flashembed's range (M 2..100, efConstruction and ef 1..10000,
// nlist and nprobe 1..65536, m 1..65536 dividing dim, nbits 4..8).
void ApplyIndex(const MilvusIndex& index, CollectionSchema* schema);

// Reads typed optional fields of a Milvus request (case-insensitive keys).
// A present value of the wrong JSON type throws ApiError 1801.
std::string OptString(const Json& body, std::string_view key, std::string fallback = "");
bool OptBool(const Json& body, std::string_view key, bool fallback);
int64_t OptInt(const Json& body, std::string_view key, int64_t fallback);
// A required string: missing or "" throws 1802 naming `go_struct`.`go_field`
// as Milvus's validator does.
std::string ReqString(const Json& body, std::string_view key, std::string_view go_struct,
                      std::string_view go_field);

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_MILVUS_SCHEMA_H_
