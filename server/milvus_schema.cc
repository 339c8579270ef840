#include "server/milvus_schema.h"

#include <array>
#include <cstdlib>

namespace flashembed::server {
namespace {

constexpr std::array<std::string_view, 15> kDataTypes = {
    "Bool",   "Int8",  "Int16",        "Int32",       "Int64",
    "Float",  "Double", "VarChar",     "JSON",        "Array",
    "BinaryVector", "FloatVector", "Float16Vector", "BFloat16Vector", "SparseFloatVector"};

bool IsKnownType(std::string_view type) {
  for (std::string_view t : kDataTypes) {
    if (t == type) return true;
  }
  return false;
}

bool IsScalarType(std::string_view type) {
  return type == "Bool" || type == "Int8" || type == "Int16" || type == "Int32" ||
         type == "Int64" || type == "Float" || type == "Double" || type == "VarChar" ||
         type == "JSON" || type == "Array";
}

bool IsValidName(std::string_view name) {
  if (name.empty() || name.size() >= 255) return false;
  auto alpha = [](char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_'; };
  if (!alpha(name[0])) return false;
  for (char c : name) {
    if (!alpha(c) && !(c >= '0' && c <= '9')) return false;
  }
  return true;
}

// An integer parameter given as a number or a decimal string ("16").
std::optional<int64_t> ParamInt(const Json& params, std::string_view key) {
  const Json* value = FindKey(params, key);
  if (value == nullptr) return std::nullopt;
  if (auto n = JsonToInt64(*value)) return n;
  if (value->is_string()) {
    const std::string& s = value->get_ref<const std::string&>();
    char* end = nullptr;
    const long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size()) return n;
  }
  throw ApiError(1100, "invalid parameter[" + std::string(key) + "=" + Dump(*value) +
                           "]: expected an integer");
}

// An index parameter in [min, max] (flashembed's range); 1100 naming the
// parameter, its value and the range otherwise.
std::optional<int> ParamIntIn(const Json& params, std::string_view key, int min, int max) {
  std::optional<int64_t> n = ParamInt(params, key);
  if (!n.has_value()) return std::nullopt;
  if (*n < min || *n > max) {
    throw ApiError(1100, "invalid parameter[" + std::string(key) + "=" + std::to_string(*n) +
                             "]: out of range, flashembed supports " + std::string(key) + " in [" +
                             std::to_string(min) + ", " + std::to_string(max) + "]");
  }
  return static_cast<int>(*n);
}

// Type params are stored as strings, as Milvus reports them.
Json StringifyParams(const Json* params) {
  Json out = Json::object();
  if (params == nullptr || params->is_null()) return out;
  if (!params->is_object()) {
    throw ApiError(1801, "can only accept json format request, error: elementTypeParams must be "
                         "an object, got " + Dump(*params));
  }
  for (auto it = params->begin(); it != params->end(); ++it) {
    out[it.key()] = it.value().is_string() ? it.value().get<std::string>() : Dump(it.value());
  }
  return out;
}

void CheckConsistencyLevel(const std::string& level) {
  if (level == "Strong" || level == "Session" || level == "Bounded" || level == "Eventually" ||
      level == "Customized") {
    return;
  }
  throw ApiError(1100, "invalid parameter, consistencyLevel can only be [Strong, Session, "
                       "Bounded, Eventually, Customized], default: Bounded, got " + level);
}

Metric ParseMetricType(const std::string& metric) {
  if (metric == "COSINE" || metric == "cosine") return Metric::kCosine;
  if (metric == "IP" || metric == "ip") return Metric::kInnerProduct;
  if (metric == "L2" || metric == "l2") return Metric::kL2;
  throw ApiError(1100, "invalid parameter[metric type " + metric +
                           " not found or not supported, supported: [L2 IP COSINE]]");
}

MilvusField FieldFromJson(const Json& f) {
  MilvusField field;
  field.name = f.value("name", "");
  field.type = f.value("type", "");
  field.element_type = f.value("elementType", "");
  field.params = f.value("params", Json::object());
  field.is_primary = f.value("isPrimary", false);
  field.partition_key = f.value("partitionKey", false);
  field.clustering_key = f.value("clusteringKey", false);
  field.nullable = f.value("nullable", false);
  field.default_value = f.value("defaultValue", Json());
  field.description = f.value("description", "");
  field.function_output = f.value("functionOutput", false);
  return field;
}

Json FieldToJson(const MilvusField& field) {
  return Json{{"name", field.name},
              {"type", field.type},
              {"elementType", field.element_type},
              {"params", field.params},
              {"isPrimary", field.is_primary},
              {"partitionKey", field.partition_key},
              {"clusteringKey", field.clustering_key},
              {"nullable", field.nullable},
              {"defaultValue", field.default_value},
              {"description", field.description},
              {"functionOutput", field.function_output}};
}

}  // namespace

std::string OptString(const Json& body, std::string_view key, std::string fallback) {
  const Json* value = FindKey(body, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (!value->is_string()) {
    throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                             std::string(value->type_name()) + " into Go struct field ." +
                             std::string(key) + " of type string");
  }
  return value->get<std::string>();
}

bool OptBool(const Json& body, std::string_view key, bool fallback) {
  const Json* value = FindKey(body, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (value->is_boolean()) return value->get<bool>();
  throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                           std::string(value->type_name()) + " into Go struct field ." +
                           std::string(key) + " of type bool");
}

int64_t OptInt(const Json& body, std::string_view key, int64_t fallback) {
  const Json* value = FindKey(body, key);
  if (value == nullptr || value->is_null()) return fallback;
  if (auto n = JsonToInt64(*value); n.has_value() && value->is_number_integer()) return *n;
  throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                           Dump(*value) + " into Go struct field ." + std::string(key) +
                           " of type int");
}

std::string ReqString(const Json& body, std::string_view key, std::string_view go_struct,
                      std::string_view go_field) {
  std::string value = OptString(body, key);
  if (value.empty()) {
    throw ApiError(1802, "missing required parameters, error: Key: '" + std::string(go_struct) +
                             "." + std::string(go_field) + "' Error:Field validation for '" +
                             std::string(go_field) + "' failed on the 'required' tag");
  }
  return value;
}

size_t MilvusField::max_length() const {
  auto it = params.find("max_length");
  if (it == params.end() || !it->is_string()) return 0;
  return static_cast<size_t>(std::strtoull(it->get_ref<const std::string&>().c_str(), nullptr, 10));
}

const MilvusField& MilvusSchema::pk() const {
  for (const MilvusField& f : fields) {
    if (f.is_primary) return f;
  }
  FE_CHECK(false) << "Milvus schema without a primary key";
  return fields.front();
}

const MilvusField& MilvusSchema::vector() const {
  for (const MilvusField& f : fields) {
    if (f.is_vector()) return f;
  }
  FE_CHECK(false) << "Milvus schema without a vector field";
  return fields.front();
}

const MilvusField* MilvusSchema::Find(std::string_view name) const {
  for (const MilvusField& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

int MilvusSchema::dim() const {
  auto n = ParamInt(vector().params, "dim");
  return n.has_value() ? static_cast<int>(*n) : 0;
}

Json MilvusSchema::ToJson() const {
  Json out{{"version", 1},
           {"description", description},
           {"autoId", auto_id},
           {"enableDynamicField", enable_dynamic},
           {"textField", text_field},
           {"functions", functions},
           {"metricType", metric_type},
           {"consistencyLevel", consistency_level},
           {"shardsNum", shards_num},
           {"encoder", encoder},
           {"fields", Json::array()}};
  for (const MilvusField& f : fields) out["fields"].push_back(FieldToJson(f));
  if (index.has_value()) {
    out["index"] = Json{{"indexName", index->index_name},
                        {"fieldName", index->field_name},
                        {"indexType", index->index_type},
                        {"metricType", index->metric_type},
                        {"params", index->params}};
  }
  return out;
}

Result<MilvusSchema> MilvusSchema::FromJson(const Json& value) {
  try {
    MilvusSchema schema;
    schema.description = value.at("description").get<std::string>();
    schema.auto_id = value.at("autoId").get<bool>();
    schema.enable_dynamic = value.at("enableDynamicField").get<bool>();
    schema.text_field = value.value("textField", "");
    schema.functions = value.value("functions", Json::array());
    schema.metric_type = value.value("metricType", "COSINE");
    schema.consistency_level = value.value("consistencyLevel", "Bounded");
    schema.shards_num = value.value("shardsNum", 1);
    schema.encoder = value.value("encoder", "hash");
    for (const Json& f : value.at("fields")) schema.fields.push_back(FieldFromJson(f));
    if (auto it = value.find("index"); it != value.end() && it->is_object()) {
      schema.index = MilvusIndex{it->value("indexName", ""), it->value("fieldName", ""),
                                 it->value("indexType", "AUTOINDEX"),
                                 it->value("metricType", schema.metric_type),
                                 it->value("params", Json::object())};
    }
    int primaries = 0;
    int vectors = 0;
    for (const MilvusField& f : schema.fields) {
      primaries += f.is_primary;
      vectors += f.is_vector();
    }
    if (primaries != 1 || vectors != 1) {
      return Status::InvalidArgument("stored Milvus schema needs one primary and one vector field");
    }
    return schema;
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string("stored Milvus schema is malformed: ") + e.what());
  }
}

Result<MilvusSchema> MilvusSchema::FromCollection(const CollectionInfo& info) {
  if (!info.schema.properties.empty()) {
    Json props = Json::parse(info.schema.properties, nullptr, false);
    if (props.is_object() && props.contains("milvus")) return FromJson(props["milvus"]);
  }
  MilvusSchema schema;
  schema.synthesized = true;
  schema.enable_dynamic = true;
  MilvusField pk{.name = "id", .type = "Int64", .is_primary = true};
  MilvusField vec{.name = "vector", .type = "FloatVector"};
  vec.params["dim"] = std::to_string(info.schema.dim);
  schema.fields = {pk, vec};
  if (!info.schema.encoder.empty()) {
    MilvusField text{.name = "text", .type = "VarChar"};
    text.params["max_length"] = "65535";
    schema.fields.push_back(text);
    schema.text_field = "text";
    schema.encoder = info.schema.encoder;
  }
  schema.index = IndexFromCollection(info, "vector");
  schema.metric_type = schema.index->metric_type;
  return schema;
}

MilvusIndex IndexFromCollection(const CollectionInfo& info, const std::string& field_name) {
  const CollectionSchema& s = info.schema;
  MilvusIndex index;
  index.index_name = field_name;
  index.field_name = field_name;
  index.metric_type = s.metric == Metric::kCosine         ? "COSINE"
                      : s.metric == Metric::kInnerProduct ? "IP"
                                                          : "L2";
  switch (s.index) {
    case IndexKind::kHnsw:
      index.index_type = "HNSW";
      index.params = {
          {"M", s.hnsw.m}, {"efConstruction", s.hnsw.ef_construction}, {"ef", s.hnsw.ef_search}};
      break;
    case IndexKind::kFlat:
      index.index_type = "FLAT";
      break;
    case IndexKind::kIvfFlat:
    case IndexKind::kIvfSq8:
    case IndexKind::kIvfPq:
      index.index_type = s.index == IndexKind::kIvfFlat  ? "IVF_FLAT"
                         : s.index == IndexKind::kIvfSq8 ? "IVF_SQ8"
                                                         : "IVF_PQ";
      index.params = {{"nprobe", s.ivf.nprobe}};
      if (s.ivf.nlist > 0) index.params["nlist"] = s.ivf.nlist;
      if (s.index == IndexKind::kIvfPq) {
        if (s.ivf.pq_m > 0) index.params["m"] = s.ivf.pq_m;
        index.params["nbits"] = s.ivf.pq_nbits;
      }
      break;
  }
  return index;
}

Result<CollectionSchema> MilvusSchema::ToCollectionSchema() const {
  CollectionSchema out;
  out.dim = dim();
  out.encoder = text_field.empty() ? "" : encoder;
  try {
    out.metric = ParseMetricType(metric_type);
    if (index.has_value()) ApplyIndex(*index, &out);
  } catch (const ApiError& e) {
    return Status::InvalidArgument(e.message());
  }
  out.properties = Dump(Json{{"milvus", ToJson()}});
  return out;
}

void ApplyIndex(const MilvusIndex& index, CollectionSchema* schema) {
  schema->metric = ParseMetricType(index.metric_type);
  const std::string& type = index.index_type;
  const Json& p = index.params;
  // Ranges are flashembed's (CollectionSchema::Validate), checked before
  // the narrowing to int so a huge value is refused, not wrapped.
  if (type == "AUTOINDEX" || type == "HNSW") {
    schema->index = IndexKind::kHnsw;
    if (auto m = ParamIntIn(p, "M", 2, 100)) schema->hnsw.m = *m;
    if (auto ef = ParamIntIn(p, "efConstruction", 1, 10000)) schema->hnsw.ef_construction = *ef;
    if (auto ef = ParamIntIn(p, "ef", 1, 10000)) schema->hnsw.ef_search = *ef;
  } else if (type == "FLAT") {
    schema->index = IndexKind::kFlat;
  } else if (type == "IVF_FLAT" || type == "IVF_SQ8" || type == "IVF_PQ") {
    schema->index = type == "IVF_FLAT"  ? IndexKind::kIvfFlat
                    : type == "IVF_SQ8" ? IndexKind::kIvfSq8
                                        : IndexKind::kIvfPq;
    if (auto n = ParamIntIn(p, "nlist", 1, 65536)) schema->ivf.nlist = *n;
    if (auto n = ParamIntIn(p, "nprobe", 1, 65536)) schema->ivf.nprobe = *n;
    if (auto n = ParamIntIn(p, "m", 1, 65536)) schema->ivf.pq_m = *n;
    if (auto n = ParamIntIn(p, "nbits", 4, 8)) schema->ivf.pq_nbits = *n;
  } else {
    throw ApiError(1100, "invalid parameter[index type " + type +
                             " is not supported by flashembed; supported: AUTOINDEX, HNSW, FLAT, "
                             "IVF_FLAT, IVF_SQ8, IVF_PQ]");
  }
  const Status status = schema->Validate();
  if (!status.ok()) throw ApiError(1100, "invalid parameter, " + status.message());
}

MilvusIndex ParseIndexParam(const Json& entry, const MilvusSchema& schema) {
  if (!entry.is_object()) {
    throw ApiError(1801, "can only accept json format request, error: indexParams entries must "
                         "be objects, got " + Dump(entry));
  }
  MilvusIndex index;
  index.field_name = ReqString(entry, "fieldName", "IndexParam", "FieldName");
  if (schema.Find(index.field_name) == nullptr) {
    throw ApiError(1802, "missing required parameters, error: `" + index.field_name +
                             "` hasn't defined in schema");
  }
  index.index_name = OptString(entry, "indexName", index.field_name);
  const Json* params = FindKey(entry, "params");
  if (params != nullptr && !params->is_null() && !params->is_object()) {
    throw ApiError(1801, "can only accept json format request, error: params must be an object");
  }
  if (params != nullptr && params->is_object()) index.params = *params;
  index.index_type = OptString(entry, "indexType");
  if (index.index_type.empty()) {
    if (const Json* t = FindKey(index.params, "index_type"); t != nullptr && t->is_string()) {
      index.index_type = t->get<std::string>();
    }
  }
  if (index.index_type.empty()) index.index_type = "AUTOINDEX";
  index.metric_type = OptString(entry, "metricType");
  if (index.metric_type.empty()) {
    if (const Json* m = FindKey(index.params, "metric_type"); m != nullptr && m->is_string()) {
      index.metric_type = m->get<std::string>();
    }
  }
  if (index.metric_type.empty()) index.metric_type = schema.metric_type;
  index.params.erase("index_type");
  index.params.erase("metric_type");
  // Check the type and metric now so a bad one fails the request.
  CollectionSchema probe;
  probe.dim = 8;
  probe.encoder = "";
  if (schema.Find(index.field_name)->is_vector()) ApplyIndex(index, &probe);
  return index;
}

namespace {

// The indexParams of a collections/create body, each checked by
// ParseIndexParam (and so by ApplyIndex); the vector field's entry becomes
// the schema's index and metric. Scalar indexes are accepted and not
// needed: filters have their own.
void ParseIndexParams(const Json& body, MilvusSchema* schema) {
  const Json* index_params = FindKey(body, "indexParams");
  if (index_params == nullptr || index_params->is_null()) return;
  if (!index_params->is_array()) {
    throw ApiError(1801, "can only accept json format request, error: indexParams must be an "
                         "array");
  }
  for (const Json& entry : *index_params) {
    MilvusIndex index = ParseIndexParam(entry, *schema);
    if (schema->Find(index.field_name)->is_vector()) {
      schema->metric_type = index.metric_type;
      schema->index = std::move(index);
    }
  }
}

}  // namespace

MilvusSchema ParseCreateRequest(const Json& body) {
  MilvusSchema schema;
  const std::string name = ReqString(body, "collectionName", "CollectionReq", "CollectionName");
  schema.description = OptString(body, "description");
  const Json* params = FindKey(body, "params");
  if (params != nullptr && !params->is_null() && !params->is_object()) {
    throw ApiError(1801, "can only accept json format request, error: params must be an object");
  }
  const Json empty = Json::object();
  const Json& p = params != nullptr && params->is_object() ? *params : empty;
  schema.consistency_level = OptString(p, "consistencyLevel", "Bounded");
  CheckConsistencyLevel(schema.consistency_level);
  if (auto n = ParamInt(p, "shardsNum")) schema.shards_num = static_cast<int>(*n);

  const Json* schema_json = FindKey(body, "schema");
  if (schema_json != nullptr && !schema_json->is_null() && !schema_json->is_object()) {
    throw ApiError(1801, "can only accept json format request, error: schema must be an object");
  }
  const Json* fields =
      schema_json != nullptr && schema_json->is_object() ? FindKey(*schema_json, "fields") : nullptr;
  if (fields != nullptr && !fields->is_null() && !fields->is_array()) {
    throw ApiError(1801, "can only accept json format request, error: schema.fields must be an "
                         "array");
  }

  if (fields == nullptr || fields->is_null() || fields->empty()) {
    // Quick setup.
    const int64_t dim = OptInt(body, "dimension", 0);
    if (dim <= 0) {
      throw ApiError(1100, "dimension is required for quickly create collection(default metric "
                           "type: COSINE): invalid parameter[expected=collectionName & "
                           "dimension][actual=collectionName]");
    }
    if (dim > 65536) {
      throw ApiError(1100, "invalid parameter, dimension must be in [1, 65536], got " +
                               std::to_string(dim));
    }
    schema.metric_type = OptString(body, "metricType", "COSINE");
    ParseMetricType(schema.metric_type);
    std::string id_type = OptString(body, "idType", "Int64");
    if (id_type == "int64" || id_type.empty()) id_type = "Int64";
    if (id_type == "Varchar") id_type = "VarChar";
    if (id_type != "Int64" && id_type != "VarChar") {
      throw ApiError(1100, "invalid parameter, idType can only be [Int64, VarChar], default: "
                           "Int64, got " + id_type);
    }
    schema.auto_id = OptBool(body, "autoID", false);
    MilvusField pk{.name = OptString(body, "primaryFieldName", "id"), .type = id_type,
                   .is_primary = true};
    if (id_type == "VarChar") {
      auto max_length = ParamInt(p, "max_length");
      if (!max_length.has_value()) {
        throw ApiError(1100, "invalid parameter, max_length should be specified for varchar "
                             "field(" + pk.name + ")");
      }
      pk.params["max_length"] = std::to_string(*max_length);
    }
    MilvusField vec{.name = OptString(body, "vectorFieldName", "vector"), .type = "FloatVector"};
    vec.params["dim"] = std::to_string(dim);
    const Json* dynamic = FindKey(p, "enableDynamicField");
    schema.enable_dynamic = dynamic == nullptr || (dynamic->is_boolean() && dynamic->get<bool>()) ||
                            (dynamic->is_string() && dynamic->get<std::string>() == "true");
    schema.fields = {pk, vec};
    // Extension: params.textField adds a VarChar field the built-in encoder
    // embeds into the vector field.
    const std::string text = OptString(p, "textField");
    if (!text.empty()) {
      MilvusField text_field{.name = text, .type = "VarChar"};
      text_field.params["max_length"] = "65535";
      schema.fields.push_back(text_field);
      schema.text_field = text;
      schema.fields[1].function_output = true;
      schema.encoder = OptString(p, "encoder", "hash");
    }
    schema.index = MilvusIndex{vec.name, vec.name, "AUTOINDEX", schema.metric_type,
                               Json::object()};
  } else {
    // Custom setup.
    schema.enable_dynamic = OptBool(*schema_json, "enableDynamicField", false);
    const bool auto_id = OptBool(*schema_json, "autoID", false);
    for (const Json& f : *fields) {
      if (!f.is_object()) {
        throw ApiError(1801, "can only accept json format request, error: schema.fields entries "
                             "must be objects");
      }
      MilvusField field;
      field.name = ReqString(f, "fieldName", "FieldSchema", "FieldName");
      field.type = ReqString(f, "dataType", "FieldSchema", "DataType");
      if (!IsValidName(field.name)) {
        throw ApiError(1100, "invalid parameter, the name of a field must be [A-Za-z_][A-Za-z0-9_]* "
                             "and shorter than 255 characters, got " + field.name);
      }
      if (!IsKnownType(field.type)) {
        throw ApiError(1100, "invalid parameter, data type " + field.type +
                                 " is invalid(case sensitive).");
      }
      if (!field.is_vector() && !IsScalarType(field.type)) {
        throw ApiError(1100, "invalid parameter, data type " + field.type +
                                 " is not supported by flashembed (only FloatVector vectors)");
      }
      if (schema.Find(field.name) != nullptr) {
        throw ApiError(1100, "invalid parameter, duplicated field name " + field.name);
      }
      field.is_primary = OptBool(f, "isPrimary", false);
      field.partition_key = OptBool(f, "isPartitionKey", false);
      field.clustering_key = OptBool(f, "isClusteringKey", false);
      field.nullable = OptBool(f, "nullable", false);
      field.description = OptString(f, "description");
      field.element_type = OptString(f, "elementDataType");
      if (field.type == "Array" && !IsScalarType(field.element_type)) {
        throw ApiError(1100, "invalid parameter, elementDataType " + field.element_type +
                                 " is invalid for Array field " + field.name);
      }
      field.params = StringifyParams(FindKey(f, "elementTypeParams"));
      if (const Json* d = FindKey(f, "defaultValue"); d != nullptr) field.default_value = *d;
      if (field.is_primary && field.type != "Int64" && field.type != "VarChar") {
        throw ApiError(1100, "invalid parameter, the data type of primary key should be Int64 or "
                             "VarChar, got " + field.type);
      }
      if (field.is_vector()) {
        auto dim = ParamInt(field.params, "dim");
        if (!dim.has_value() || *dim <= 0 || *dim > 65536) {
          throw ApiError(1100, "invalid parameter, dim of vector field " + field.name +
                                   " must be in [1, 65536]");
        }
      }
      schema.fields.push_back(std::move(field));
    }
    int primaries = 0;
    int vectors = 0;
    for (const MilvusField& f : schema.fields) {
      primaries += f.is_primary;
      vectors += f.is_vector();
    }
    if (primaries != 1) {
      throw ApiError(1100, "invalid parameter, schema must have exactly one primary key field, "
                           "got " + std::to_string(primaries));
    }
    if (vectors != 1) {
      throw ApiError(1100, "invalid parameter, flashembed collections have exactly one "
                           "FloatVector field, got " + std::to_string(vectors));
    }
    schema.auto_id = auto_id;
    if (auto_id && schema.pk().type != "Int64") {
      throw ApiError(1100, "invalid parameter, autoID is only supported for an Int64 primary key");
    }
    // Functions: TextEmbedding makes the input VarChar field the text the
    // built-in encoder embeds into the output vector field.
    if (const Json* fns = FindKey(*schema_json, "functions"); fns != nullptr && !fns->is_null()) {
      if (!fns->is_array()) {
        throw ApiError(1801, "can only accept json format request, error: functions must be an "
                             "array");
      }
      for (const Json& fn : *fns) {
        const std::string type = OptString(fn, "type");
        if (type != "TextEmbedding") {
          throw ApiError(1100, "invalid parameter, function type " + type +
                                   " is not supported by flashembed (TextEmbedding only)");
        }
        const Json* in = FindKey(fn, "inputFieldNames");
        const Json* out = FindKey(fn, "outputFieldNames");
        const MilvusField* input = in != nullptr && in->is_array() && in->size() == 1 &&
                                           (*in)[0].is_string()
                                       ? schema.Find((*in)[0].get<std::string>())
                                       : nullptr;
        const MilvusField* output = out != nullptr && out->is_array() && out->size() == 1 &&
                                            (*out)[0].is_string()
                                        ? schema.Find((*out)[0].get<std::string>())
                                        : nullptr;
        if (input == nullptr || input->type != "VarChar" || output == nullptr ||
            !output->is_vector() || !schema.text_field.empty()) {
          throw ApiError(1100, "invalid parameter, a TextEmbedding function needs one VarChar "
                               "input field and the FloatVector output field (one function)");
        }
        schema.text_field = input->name;
        const Json* fparams = FindKey(fn, "params");
        schema.encoder = fparams != nullptr ? OptString(*fparams, "encoder", "hash") : "hash";
        for (MilvusField& f : schema.fields) {
          if (f.is_vector()) f.function_output = true;
        }
        schema.functions.push_back(fn);
      }
    }
    schema.metric_type = "COSINE";
  }
  // Both setups: the same checks, so a quick setup's bad index is refused
  // (1100 naming the parameter) instead of ignored for the default one.
  ParseIndexParams(body, &schema);
  return schema;
}

}  // namespace flashembed::server
