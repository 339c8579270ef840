// The body of Milvus's POST /v2/vectordb/collections/create, both ways.
//
// Reading comes in two strictnesses over the same model (schema.h):
//   ParseCreateRequest  a request to the server: what flashembed cannot
//                       serve is refused with Milvus's code and message.
//   ReadCreateBody      a declaration that came with data (an export's or
//                       pymilvus' collection.json, a pull's describe
//                       answer): it only has to type the rows, so values of
//                       the wrong JSON type fall back to defaults and
//                       settings flashembed has no use for are ignored.
// Writing: CreateBody (custom setup), for export and push.
//
// Thread-safety: stateless functions.
#ifndef FLASHEMBED_MILVUS_CREATE_BODY_H_
#define FLASHEMBED_MILVUS_CREATE_BODY_H_

#include <nlohmann/json.hpp>
#include <string_view>

#include "base/status.h"
#include "milvus/error.h"
#include "milvus/schema.h"
#include "query/database.h"

namespace flashembed::milvus {

// Parses a collections/create request (quick or custom setup, indexParams,
// TextEmbedding functions, the params.textField extension) into a schema.
// Refused with Milvus's code (1100, 1801 or 1802) and message.
Expected<Schema> ParseCreateRequest(const Json& body);

// Parses one entry of indexParams (collections/create or indexes/create) for
// `schema`. The entry of a vector field is checked as ApplyIndex checks it.
Expected<Index> ParseIndexParam(const Json& entry, const Schema& schema);

// Reads the schema a collections/create body declares: custom setup
// (schema.fields) or quick setup (dimension, idType, primaryFieldName,
// vectorFieldName, params.max_length, params.enableDynamicField); the first
// VarChar field named `text_field` (not the primary key) becomes the
// schema's text field; the index and metric of the vector field's
// indexParams entry (else the body's metricType, default COSINE) are kept as
// given. InvalidArgument for no primary key (Int64 or VarChar), no
// FloatVector field with dim in [1, 65536], or more than one of either;
// NotSupported for another vector type. Messages name no file: callers add
// their context.
Result<Schema> ReadCreateBody(const Json& body, std::string_view text_field);

// The vector-only flashembed schema for data described by `declared` (from
// ReadCreateBody): its dim, its metric (any letter case), its index (HNSW
// M / efConstruction / ef, FLAT, IVF_* nlist / nprobe / m / nbits); an
// index type flashembed does not have (AUTOINDEX, DISKANN, SCANN, ...) is
// HNSW with default parameters. InvalidArgument for an unknown metric or a
// schema CollectionSchema::Validate refuses.
Result<CollectionSchema> CollectionSchemaForImport(const Schema& declared);

// The collections/create body (custom setup) that makes a Milvus collection
// for `schema`'s rows: ids kept (autoID false), the vector a plain
// FloatVector (no function), VarChar max_length 65535 when not set, the
// index and metric of `collection` in indexParams (build parameters only:
// HNSW M and efConstruction, FLAT, IVF_* nlist and m / nbits, AUTOINDEX when
// nlist is automatic), params.consistencyLevel and description from
// `schema`.
nlohmann::ordered_json CreateBody(std::string_view collection_name, const Schema& schema,
                                  const CollectionSchema& collection);

}  // namespace flashembed::milvus

#endif  // FLASHEMBED_MILVUS_CREATE_BODY_H_
