#include "transfer/row_schema.h"

#include <cctype>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "base/json_depth.h"
#include "milvus/create_body.h"
#include "milvus/properties.h"

namespace flashembed::transfer {
namespace {

std::optional<int64_t> IntegerValue(const Json& value) {
  if (value.is_number_unsigned()) {
    const uint64_t u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) return std::nullopt;
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) return value.get<int64_t>();
  return std::nullopt;
}

Status Expected(const Field& field, const std::string& what, const Json& value) {
  std::string shown = value.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  return Status::InvalidArgument("field \"" + field.name + "\": expected " + field.type + " (" +
                                 what + "), got " + JsonTypeName(value) + " " + shown);
}

// The row view of a Milvus schema: its pk, vector and text field, the other
// fields as scalars in declaration order.
RowSchema RowsOf(const milvus::Schema& schema) {
  RowSchema rows;
  rows.dim = schema.dim();
  rows.dynamic = schema.enable_dynamic;
  for (const Field& f : schema.fields) {
    if (f.is_primary) {
      rows.pk = f;
    } else if (f.is_vector()) {
      rows.vector = f;
    } else if (!schema.text_field.empty() && f.name == schema.text_field && !rows.text) {
      rows.text = f;
    } else {
      rows.scalars.push_back(f);
    }
  }
  return rows;
}

// The schema a collections/create body declares, errors naming the file.
Result<milvus::Schema> DeclaredSchema(const Json& body, std::string_view text_name) {
  if (!body.is_object()) return Status::InvalidArgument("collection.json is not a JSON object");
  Result<milvus::Schema> declared = milvus::ReadCreateBody(body, text_name);
  if (!declared.ok()) return declared.status().WithContext("collection.json");
  return declared;
}

bool IsIntType(std::string_view type) {
  return type == "Int8" || type == "Int16" || type == "Int32" || type == "Int64";
}

}  // namespace

const Field* RowSchema::FindScalar(std::string_view name) const {
  for (const Field& f : scalars) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

bool RowSchema::IsField(std::string_view name) const {
  return name == pk.name || name == vector.name || (text.has_value() && name == text->name) ||
         FindScalar(name) != nullptr;
}

std::string JsonTypeName(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "integer";
    case Json::value_t::number_float: return "number";
    case Json::value_t::string: return "string";
    case Json::value_t::array: return "array";
    case Json::value_t::object: return "object";
    default: return "value";
  }
}

size_t RoundMaxLength(size_t bytes) {
  size_t n = 16;
  while (n < bytes) n *= 2;
  return std::min(n, kMaxVarCharLength);
}

std::string MilvusName(std::string_view name) {
  std::string out;
  for (char c : name) {
    out += std::isalnum(static_cast<unsigned char>(c)) || c == '_' ? c : '_';
  }
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "_" + out;
  return out;
}

Result<RowSchema> SchemaOfCollection(const CollectionInfo& info, std::string_view pk_name,
                                     std::string_view vector_name, std::string_view text_name,
                                     bool with_text) {
  const bool has_encoder = !info.schema.encoder.empty();
  Result<std::optional<milvus::Schema>> stored = milvus::DecodeProperties(info.schema.properties);
  if (!stored.ok()) return stored.status().WithContext("collection \"" + info.name + "\"");
  if (stored->has_value()) {
    RowSchema schema = RowsOf(**stored);
    schema.dim = info.schema.dim;
    schema.milvus_layout = true;
    schema.vector_optional = has_encoder && schema.text.has_value();
    return schema;
  }
  RowSchema schema = RowsOf(milvus::NativeSchema(
      info, {std::string(pk_name), std::string(vector_name), std::string(text_name)}));
  schema.pk.type = "";  // a native collection holds integer and string ids alike
  if (!schema.text.has_value() && with_text) {
    schema.text = Field{.name = std::string(text_name), .type = "VarChar"};
  }
  schema.text_optional = true;
  schema.vector_optional = has_encoder;
  return schema;
}

Result<RowSchema> SchemaOfCreateBody(const Json& body, std::string_view text_name) {
  FE_ASSIGN_OR_RETURN(milvus::Schema declared, DeclaredSchema(body, text_name));
  return RowsOf(declared);
}

Result<CollectionSchema> CollectionSchemaOfCreateBody(const Json& body) {
  FE_ASSIGN_OR_RETURN(milvus::Schema declared, DeclaredSchema(body, ""));
  Result<CollectionSchema> schema = milvus::CollectionSchemaForImport(declared);
  if (!schema.ok()) return schema.status().WithContext("collection.json");
  return schema;
}

OrderedJson CreateBody(const std::string& milvus_name, const RowSchema& rows,
                       const CollectionInfo& info) {
  milvus::Schema schema;
  // A Milvus-API collection keeps its description and consistency level.
  Result<std::optional<milvus::Schema>> stored = milvus::DecodeProperties(info.schema.properties);
  if (stored.ok() && stored->has_value()) {
    schema.description = (*stored)->description;
    schema.consistency_level = (*stored)->consistency_level;
  }
  schema.enable_dynamic = rows.dynamic;
  schema.fields.push_back(rows.pk);
  schema.fields.push_back(rows.vector);
  schema.fields.back().params["dim"] = std::to_string(rows.dim);
  if (rows.text.has_value()) schema.fields.push_back(*rows.text);
  for (const Field& f : rows.scalars) schema.fields.push_back(f);
  for (Field& f : schema.fields) f.is_primary = false;
  schema.fields.front().is_primary = true;
  return milvus::CreateBody(milvus_name, schema, info.schema);
}

OrderedJson CollectionSchemaToJson(const CollectionSchema& s) {
  return OrderedJson{{"dim", s.dim},
                     {"metric", MetricName(s.metric)},
                     {"index", IndexKindName(s.index)},
                     {"hnsw",
                      {{"m", s.hnsw.m},
                       {"ef_construction", s.hnsw.ef_construction},
                       {"ef_search", s.hnsw.ef_search}}},
                     {"ivf",
                      {{"nlist", s.ivf.nlist},
                       {"nprobe", s.ivf.nprobe},
                       {"train_at", s.ivf.train_at},
                       {"pq_m", s.ivf.pq_m},
                       {"pq_nbits", s.ivf.pq_nbits}}},
                     {"encoder", s.encoder},
                     {"query_prefix", s.query_prefix},
                     {"document_prefix", s.document_prefix},
                     {"text_index", s.text_index},
                     {"indexed_fields", s.indexed_fields},
                     {"properties", s.properties}};
}

Result<CollectionSchema> CollectionSchemaFromJson(const Json& v) {
  CollectionSchema s;
  try {
    s.dim = v.at("dim").get<int>();
    const std::optional<Metric> metric = ParseMetric(v.at("metric").get<std::string>());
    const std::optional<IndexKind> index = ParseIndexKind(v.at("index").get<std::string>());
    if (!metric.has_value() || !index.has_value()) {
      return Status::InvalidArgument("unknown metric or index kind");
    }
    s.metric = *metric;
    s.index = *index;
    const Json& h = v.at("hnsw");
    s.hnsw = {h.at("m").get<int>(), h.at("ef_construction").get<int>(),
              h.at("ef_search").get<int>()};
    const Json& i = v.at("ivf");
    s.ivf = {i.at("nlist").get<int>(), i.at("nprobe").get<int>(), i.at("train_at").get<int>(),
             i.at("pq_m").get<int>(), i.at("pq_nbits").get<int>()};
    s.encoder = v.at("encoder").get<std::string>();
    s.query_prefix = v.value("query_prefix", "");
    s.document_prefix = v.value("document_prefix", "");
    s.text_index = v.value("text_index", false);
    s.indexed_fields = v.value("indexed_fields", std::vector<std::string>{});
    s.properties = v.value("properties", "");
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string("malformed schema: ") + e.what());
  }
  FE_RETURN_IF_ERROR(s.Validate());
  return s;
}

Status CheckScalar(const Field& field, const Json& value, Json* stored) {
  const std::string& type = field.type;
  if (value.is_null()) {
    if (field.nullable) {
      *stored = nullptr;
      return Status::OK();
    }
    return Expected(field, "not nullable", value);
  }
  if (type == "Bool") {
    if (!value.is_boolean()) return Expected(field, "true or false", value);
  } else if (IsIntType(type)) {
    const std::optional<int64_t> n = IntegerValue(value);
    if (!n.has_value()) return Expected(field, "a JSON integer, not a string", value);
    const int64_t limit = type == "Int8"    ? 127
                          : type == "Int16" ? 32767
                          : type == "Int32" ? 2147483647
                                            : std::numeric_limits<int64_t>::max();
    if (*n > limit || *n < -limit - 1) return Expected(field, "an integer in range", value);
  } else if (type == "Float" || type == "Double") {
    if (!value.is_number()) return Expected(field, "a JSON number", value);
    if (type == "Float" && std::fabs(value.get<double>()) > FLT_MAX) {
      return Expected(field, "a number within float32 range", value);
    }
  } else if (type == "VarChar") {
    if (!value.is_string()) return Expected(field, "a string", value);
    const size_t max = field.max_length() == 0 ? kMaxVarCharLength : field.max_length();
    const size_t length = value.get_ref<const std::string&>().size();
    if (length > max) {
      return Status::InvalidArgument("field \"" + field.name + "\": string of " +
                                     std::to_string(length) + " bytes exceeds max_length " +
                                     std::to_string(max));
    }
  } else if (type == "JSON") {
    if (value.is_string()) {
      const std::string& text = value.get_ref<const std::string&>();
      if (JsonDepth(text, kMaxMetadataDepth - 1) > static_cast<size_t>(kMaxMetadataDepth - 1)) {
        return Status::InvalidArgument("field \"" + field.name + "\": metadata nests deeper than " +
                                       std::to_string(kMaxMetadataDepth) + " levels");
      }
      Json parsed = Json::parse(text, nullptr, /*allow_exceptions=*/false);
      if (parsed.is_discarded())
        return Expected(field, "an object or a string of JSON text", value);
      if (text.size() > kMaxJsonBytes) return Expected(field, "at most 64 KiB of JSON", value);
      *stored = std::move(parsed);
      return Status::OK();
    }
    if (!value.is_object()) return Expected(field, "an object or a string of JSON text", value);
    if (value.dump().size() > kMaxJsonBytes)
      return Expected(field, "at most 64 KiB of JSON", value);
  } else if (type == "Array") {
    if (!value.is_array()) return Expected(field, "an array", value);
    if (field.max_capacity() > 0 && value.size() > field.max_capacity()) {
      return Status::InvalidArgument(
          "field \"" + field.name + "\": array of " + std::to_string(value.size()) +
          " elements exceeds max_capacity " + std::to_string(field.max_capacity()));
    }
    Field element{.name = field.name, .type = field.element_type};
    if (const size_t max_length = field.max_length(); max_length > 0) {
      element.set_max_length(max_length);
    }
    Json ignored;
    for (const Json& e : value) FE_RETURN_IF_ERROR(CheckScalar(element, e, &ignored));
  } else {
    return Status::NotSupported("field \"" + field.name + "\": type " + type +
                                " is not supported by flashembed");
  }
  *stored = value;
  return Status::OK();
}

Status ExportScalar(const Field& field, const Json* stored, Json* out) {
  if (stored == nullptr || stored->is_null()) {
    if (field.nullable) {
      *out = nullptr;
    } else if (!field.default_value.is_null()) {
      *out = field.default_value;
    } else if (field.type == "VarChar") {
      *out = "";  // what Milvus stores for a missing VarChar on insert
    } else {
      return Status::InvalidArgument("field \"" + field.name + "\" (" + field.type +
                                     ") is missing and not nullable");
    }
    return Status::OK();
  }
  if (field.type == "JSON") {
    *out = stored->is_object() ? *stored
                               : Json(stored->dump(-1, ' ', false, Json::error_handler_t::replace));
    return Status::OK();
  }
  return CheckScalar(field, *stored, out);
}

}  // namespace flashembed::transfer
