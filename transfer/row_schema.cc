#include "transfer/row_schema.h"

#include <cctype>
#include <cfloat>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <limits>

#include "base/json_depth.h"

namespace flashembed::transfer {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

// Milvus binds request keys case-insensitively.
const Json* FindKey(const Json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  auto exact = object.find(std::string(key));
  if (exact != object.end()) return &*exact;
  for (auto it = object.begin(); it != object.end(); ++it) {
    if (EqualsIgnoreCase(it.key(), key)) return &*it;
  }
  return nullptr;
}

std::string StringAt(const Json& object, std::string_view key, std::string fallback = "") {
  const Json* v = FindKey(object, key);
  return v != nullptr && v->is_string() ? v->get<std::string>() : fallback;
}

bool BoolAt(const Json& object, std::string_view key, bool fallback) {
  const Json* v = FindKey(object, key);
  if (v == nullptr) return fallback;
  if (v->is_boolean()) return v->get<bool>();
  if (v->is_string()) return v->get<std::string>() == "true";
  return fallback;
}

// An integer parameter given as a number or a decimal string.
std::optional<int64_t> IntAt(const Json& object, std::string_view key) {
  const Json* v = FindKey(object, key);
  if (v == nullptr) return std::nullopt;
  if (v->is_number_integer()) return v->get<int64_t>();
  if (v->is_string()) {
    const std::string& s = v->get_ref<const std::string&>();
    char* end = nullptr;
    const long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size()) return n;
  }
  return std::nullopt;
}

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

// A field of a stored Milvus schema (properties.milvus, server/milvus_schema.cc).
Field StoredField(const Json& f) {
  Field field;
  field.name = f.value("name", "");
  field.type = f.value("type", "");
  field.element_type = f.value("elementType", "");
  const Json params = f.value("params", Json::object());
  if (auto n = IntAt(params, "max_length")) field.max_length = static_cast<size_t>(*n);
  if (auto n = IntAt(params, "max_capacity")) field.max_capacity = static_cast<size_t>(*n);
  field.nullable = f.value("nullable", false);
  field.default_value = f.value("defaultValue", Json());
  field.partition_key = f.value("partitionKey", false);
  field.clustering_key = f.value("clusteringKey", false);
  field.description = f.value("description", "");
  return field;
}

// A field of a collections/create body (custom setup).
Field BodyField(const Json& f) {
  Field field;
  field.name = StringAt(f, "fieldName");
  field.type = StringAt(f, "dataType");
  field.element_type = StringAt(f, "elementDataType");
  if (const Json* params = FindKey(f, "elementTypeParams"); params != nullptr) {
    if (auto n = IntAt(*params, "max_length")) field.max_length = static_cast<size_t>(*n);
    if (auto n = IntAt(*params, "max_capacity")) field.max_capacity = static_cast<size_t>(*n);
  }
  field.nullable = BoolAt(f, "nullable", false);
  if (const Json* d = FindKey(f, "defaultValue"); d != nullptr) field.default_value = *d;
  field.partition_key = BoolAt(f, "isPartitionKey", false);
  field.clustering_key = BoolAt(f, "isClusteringKey", false);
  field.description = StringAt(f, "description");
  return field;
}

OrderedJson FieldToBody(const Field& f, bool primary, int dim) {
  OrderedJson out = {{"fieldName", f.name}, {"dataType", f.type}};
  if (primary) out["isPrimary"] = true;
  if (!f.element_type.empty()) out["elementDataType"] = f.element_type;
  OrderedJson params = OrderedJson::object();
  if (f.type == "FloatVector") params["dim"] = dim;
  if (f.type == "VarChar" || (f.type == "Array" && f.element_type == "VarChar")) {
    params["max_length"] = f.max_length == 0 ? kMaxVarCharLength : f.max_length;
  }
  if (f.type == "Array" && f.max_capacity > 0) params["max_capacity"] = f.max_capacity;
  if (!params.empty()) out["elementTypeParams"] = params;
  if (f.nullable) out["nullable"] = true;
  if (!f.default_value.is_null()) out["defaultValue"] = f.default_value;
  if (f.partition_key) out["isPartitionKey"] = true;
  if (f.clustering_key) out["isClusteringKey"] = true;
  if (!f.description.empty()) out["description"] = f.description;
  return out;
}

const char* MetricTypeName(Metric metric) {
  switch (metric) {
    case Metric::kCosine:
      return "COSINE";
    case Metric::kInnerProduct:
      return "IP";
    case Metric::kL2:
      return "L2";
  }
  return "COSINE";
}

// IVF-PQ's automatic sub-quantizer count (IvfParams::pq_m = 0): dim / 4
// rounded down to a divisor of dim, at least 1.
int AutoPqM(int dim) {
  for (int m = std::max(1, dim / 4); m > 1; --m) {
    if (dim % m == 0) return m;
  }
  return 1;
}

OrderedJson IndexParams(const CollectionInfo& info, const std::string& vector_name) {
  const CollectionSchema& s = info.schema;
  OrderedJson params = OrderedJson::object();
  switch (s.index) {
    case IndexKind::kHnsw:
      params = {
          {"index_type", "HNSW"}, {"M", s.hnsw.m}, {"efConstruction", s.hnsw.ef_construction}};
      break;
    case IndexKind::kFlat:
      params = {{"index_type", "FLAT"}};
      break;
    case IndexKind::kIvfFlat:
    case IndexKind::kIvfSq8:
    case IndexKind::kIvfPq:
      if (s.ivf.nlist == 0) {
        // nlist chosen at training time: let Milvus choose too.
        params = {{"index_type", "AUTOINDEX"}};
        break;
      }
      params = {{"index_type", s.index == IndexKind::kIvfFlat  ? "IVF_FLAT"
                               : s.index == IndexKind::kIvfSq8 ? "IVF_SQ8"
                                                               : "IVF_PQ"},
                {"nlist", s.ivf.nlist}};
      if (s.index == IndexKind::kIvfPq) {
        params["m"] = s.ivf.pq_m > 0 ? s.ivf.pq_m : AutoPqM(s.dim);
        params["nbits"] = s.ivf.pq_nbits;
      }
      break;
  }
  return OrderedJson::array({{{"fieldName", vector_name},
                              {"indexName", vector_name},
                              {"metricType", MetricTypeName(s.metric)},
                              {"params", params}}});
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
    case Json::value_t::null:
      return "null";
    case Json::value_t::boolean:
      return "boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned:
      return "integer";
    case Json::value_t::number_float:
      return "number";
    case Json::value_t::string:
      return "string";
    case Json::value_t::array:
      return "array";
    case Json::value_t::object:
      return "object";
    default:
      return "value";
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

namespace {

Result<RowSchema> SchemaOfCollectionOrThrow(const CollectionInfo& info, std::string_view pk_name,
                                            std::string_view vector_name,
                                            std::string_view text_name, bool with_text) {
  RowSchema schema;
  schema.dim = info.schema.dim;
  const bool has_encoder = !info.schema.encoder.empty();
  if (!info.schema.properties.empty()) {
    const Json props = Json::parse(info.schema.properties, nullptr, false);
    if (props.is_object() && props.contains("milvus") && props["milvus"].is_object()) {
      const Json& m = props["milvus"];
      const std::string text_field = m.value("textField", "");
      schema.dynamic = m.value("enableDynamicField", false);
      schema.milvus_layout = true;
      bool have_pk = false;
      bool have_vector = false;
      for (const Json& f : m.value("fields", Json::array())) {
        if (!f.is_object()) continue;
        Field field = StoredField(f);
        if (f.value("isPrimary", false)) {
          schema.pk = std::move(field);
          have_pk = true;
        } else if (field.type == "FloatVector") {
          schema.vector = std::move(field);
          have_vector = true;
        } else if (!text_field.empty() && field.name == text_field) {
          schema.text = std::move(field);
        } else {
          schema.scalars.push_back(std::move(field));
        }
      }
      if (!have_pk || !have_vector) {
        return Status::InvalidArgument("collection \"" + info.name +
                                       "\": its stored Milvus schema has no primary key or no "
                                       "FloatVector field");
      }
      schema.vector_optional = has_encoder && schema.text.has_value();
      return schema;
    }
  }
  schema.pk.name = pk_name;
  schema.vector.name = vector_name;
  schema.vector.type = "FloatVector";
  if (has_encoder || with_text) {
    schema.text = Field{.name = std::string(text_name), .type = "VarChar"};
  }
  schema.text_optional = true;
  schema.dynamic = true;
  schema.vector_optional = has_encoder;
  return schema;
}

}  // namespace

Result<RowSchema> SchemaOfCollection(const CollectionInfo& info, std::string_view pk_name,
                                     std::string_view vector_name, std::string_view text_name,
                                     bool with_text) {
  try {
    return SchemaOfCollectionOrThrow(info, pk_name, vector_name, text_name, with_text);
  } catch (const Json::exception& e) {
    return Status::InvalidArgument("collection \"" + info.name +
                                   "\": malformed Milvus schema in its properties: " + e.what());
  }
}

Result<RowSchema> SchemaOfCreateBody(const Json& body, std::string_view text_name) {
  if (!body.is_object()) return Status::InvalidArgument("collection.json is not a JSON object");
  RowSchema schema;
  const Json* schema_json = FindKey(body, "schema");
  const Json* fields = schema_json != nullptr ? FindKey(*schema_json, "fields") : nullptr;
  if (fields == nullptr || !fields->is_array() || fields->empty()) {
    // Quick setup: pk + vector, dynamic fields on by default.
    const std::optional<int64_t> dim = IntAt(body, "dimension");
    if (!dim.has_value() || *dim <= 0) {
      return Status::InvalidArgument("collection.json: no schema.fields and no dimension");
    }
    schema.dim = static_cast<int>(*dim);
    schema.pk.name = StringAt(body, "primaryFieldName", "id");
    std::string id_type = StringAt(body, "idType", "Int64");
    schema.pk.type = EqualsIgnoreCase(id_type, "varchar") ? "VarChar" : "Int64";
    const Json* params = FindKey(body, "params");
    if (params != nullptr) {
      if (auto n = IntAt(*params, "max_length")) schema.pk.max_length = static_cast<size_t>(*n);
      schema.dynamic = BoolAt(*params, "enableDynamicField", true);
    }
    schema.vector.name = StringAt(body, "vectorFieldName", "vector");
    schema.vector.type = "FloatVector";
    return schema;
  }
  schema.dynamic = BoolAt(*schema_json, "enableDynamicField", false);
  int primaries = 0;
  int vectors = 0;
  for (const Json& f : *fields) {
    if (!f.is_object()) return Status::InvalidArgument("collection.json: a field is not an object");
    Field field = BodyField(f);
    if (field.name.empty() || field.type.empty()) {
      return Status::InvalidArgument("collection.json: every field needs fieldName and dataType");
    }
    if (BoolAt(f, "isPrimary", false)) {
      if (field.type != "Int64" && field.type != "VarChar") {
        return Status::InvalidArgument("collection.json: primary key \"" + field.name +
                                       "\" must be Int64 or VarChar, got " + field.type);
      }
      schema.pk = std::move(field);
      ++primaries;
    } else if (field.type == "FloatVector") {
      const Json* params = FindKey(f, "elementTypeParams");
      const std::optional<int64_t> dim = params != nullptr ? IntAt(*params, "dim") : std::nullopt;
      if (!dim.has_value() || *dim <= 0 || *dim > 65536) {
        return Status::InvalidArgument("collection.json: vector field \"" + field.name +
                                       "\" needs elementTypeParams.dim in [1, 65536]");
      }
      schema.dim = static_cast<int>(*dim);
      schema.vector = std::move(field);
      ++vectors;
    } else if (field.type.find("Vector") != std::string::npos) {
      return Status::NotSupported("collection.json: field \"" + field.name + "\" is a " +
                                  field.type + "; flashembed imports one FloatVector field");
    } else if (field.type == "VarChar" && field.name == text_name && !schema.text.has_value()) {
      schema.text = std::move(field);
    } else {
      schema.scalars.push_back(std::move(field));
    }
  }
  if (primaries != 1 || vectors != 1) {
    return Status::InvalidArgument(
        "collection.json: needs exactly one primary key and one "
        "FloatVector field, has " +
        std::to_string(primaries) + " and " + std::to_string(vectors));
  }
  return schema;
}

Result<CollectionSchema> CollectionSchemaOfCreateBody(const Json& body) {
  FE_ASSIGN_OR_RETURN(RowSchema rows, SchemaOfCreateBody(body, ""));
  CollectionSchema out;
  out.dim = rows.dim;
  out.encoder = "";
  std::string metric = StringAt(body, "metricType", "COSINE");
  std::string type = "AUTOINDEX";
  Json params = Json::object();
  if (const Json* indexes = FindKey(body, "indexParams");
      indexes != nullptr && indexes->is_array()) {
    for (const Json& index : *indexes) {
      if (StringAt(index, "fieldName") != rows.vector.name) continue;
      if (const Json* p = FindKey(index, "params"); p != nullptr && p->is_object()) params = *p;
      metric = StringAt(index, "metricType", StringAt(params, "metric_type", "COSINE"));
      type = StringAt(index, "indexType", StringAt(params, "index_type", "AUTOINDEX"));
    }
  }
  if (EqualsIgnoreCase(metric, "cosine")) {
    out.metric = Metric::kCosine;
  } else if (EqualsIgnoreCase(metric, "ip")) {
    out.metric = Metric::kInnerProduct;
  } else if (EqualsIgnoreCase(metric, "l2")) {
    out.metric = Metric::kL2;
  } else {
    return Status::InvalidArgument("collection.json: metric type \"" + metric +
                                   "\" is not supported (COSINE, IP, L2)");
  }
  // Any index type we do not have (DISKANN, SCANN, GPU_*...) becomes our
  // default HNSW: the data and the metric are what matter for search.
  out.index = IndexKind::kHnsw;
  if (type == "FLAT") {
    out.index = IndexKind::kFlat;
  } else if (type == "IVF_FLAT" || type == "IVF_SQ8" || type == "IVF_PQ") {
    out.index = type == "IVF_FLAT"  ? IndexKind::kIvfFlat
                : type == "IVF_SQ8" ? IndexKind::kIvfSq8
                                    : IndexKind::kIvfPq;
    if (auto n = IntAt(params, "nlist")) out.ivf.nlist = static_cast<int>(*n);
    if (auto n = IntAt(params, "nprobe")) out.ivf.nprobe = static_cast<int>(*n);
    if (auto n = IntAt(params, "m")) out.ivf.pq_m = static_cast<int>(*n);
    if (auto n = IntAt(params, "nbits")) out.ivf.pq_nbits = static_cast<int>(*n);
  } else if (type == "HNSW") {
    if (auto n = IntAt(params, "M")) out.hnsw.m = static_cast<int>(*n);
    if (auto n = IntAt(params, "efConstruction")) out.hnsw.ef_construction = static_cast<int>(*n);
    if (auto n = IntAt(params, "ef")) out.hnsw.ef_search = static_cast<int>(*n);
  }
  if (Status s = out.Validate(); !s.ok()) {
    return Status::InvalidArgument("collection.json: " + s.message());
  }
  return out;
}

OrderedJson CreateBody(const std::string& milvus_name, const RowSchema& schema,
                       const CollectionInfo& info) {
  OrderedJson fields = OrderedJson::array();
  fields.push_back(FieldToBody(schema.pk, true, 0));
  fields.push_back(FieldToBody(schema.vector, false, schema.dim));
  if (schema.text.has_value()) fields.push_back(FieldToBody(*schema.text, false, 0));
  for (const Field& f : schema.scalars) fields.push_back(FieldToBody(f, false, 0));
  OrderedJson body = {
      {"collectionName", milvus_name},
      {"schema", {{"autoID", false}, {"enableDynamicField", schema.dynamic}, {"fields", fields}}},
      {"indexParams", IndexParams(info, schema.vector.name)}};
  std::string consistency = "Bounded";
  std::string description;
  const Json props =
      Json::parse(info.schema.properties.empty() ? "{}" : info.schema.properties, nullptr, false);
  if (props.is_object() && props.contains("milvus") && props["milvus"].is_object()) {
    consistency = StringAt(props["milvus"], "consistencyLevel", consistency);
    description = StringAt(props["milvus"], "description");
  }
  body["params"] = {{"consistencyLevel", consistency}};
  if (!description.empty()) body["description"] = description;
  return body;
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
    const size_t max = field.max_length == 0 ? kMaxVarCharLength : field.max_length;
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
    if (field.max_capacity > 0 && value.size() > field.max_capacity) {
      return Status::InvalidArgument(
          "field \"" + field.name + "\": array of " + std::to_string(value.size()) +
          " elements exceeds max_capacity " + std::to_string(field.max_capacity));
    }
    Field element{.name = field.name, .type = field.element_type, .max_length = field.max_length};
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
