#include "milvus/create_body.h"

#include <algorithm>
#include <array>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "milvus/refusal.h"
#include "milvus/request_json.h"

namespace flashembed::milvus {
namespace {

using internal::Dump;
using internal::OptBoolOrRefuse;
using internal::OptIntOrRefuse;
using internal::OptStringOrRefuse;
using internal::ParamIntOrRefuse;
using internal::Refuse;
using internal::RefuseMalformed;
using internal::RefuseParameter;
using internal::ReqStringOrRefuse;
using OrderedJson = nlohmann::ordered_json;

// ---- ParseCreateRequest -------------------------------------------------------

constexpr std::array<std::string_view, 15> kDataTypes = {
    "Bool",         "Int8",        "Int16",         "Int32",          "Int64",
    "Float",        "Double",      "VarChar",       "JSON",           "Array",
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

// elementTypeParams with every value as a string, as Milvus reports them
// ("dim": 4 is kept as "4"); {} for anything but an object.
Json StringifyParams(const Json& params) {
  Json out = Json::object();
  if (!params.is_object()) return out;
  for (auto it = params.begin(); it != params.end(); ++it) {
    out[it.key()] = it.value().is_string() ? it.value().get<std::string>() : Dump(it.value());
  }
  return out;
}

// elementTypeParams of a request: an object (or absent), else 1801.
Json RequestParams(const Json* params) {
  if (params == nullptr || params->is_null()) return Json::object();
  if (!params->is_object()) {
    RefuseMalformed("elementTypeParams must be an object, got " + Dump(*params));
  }
  return StringifyParams(*params);
}

void CheckConsistencyLevel(const std::string& level) {
  if (level == "Strong" || level == "Session" || level == "Bounded" || level == "Eventually" ||
      level == "Customized") {
    return;
  }
  const std::string levels = "[Strong, Session, Bounded, Eventually, Customized]";
  RefuseParameter("consistencyLevel can only be " + levels + ", default: Bounded, got " + level);
}

Index ParseIndexParamOrRefuse(const Json& entry, const Schema& schema) {
  if (!entry.is_object()) {
    RefuseMalformed("indexParams entries must be objects, got " + Dump(entry));
  }
  Index index;
  index.field_name = ReqStringOrRefuse(entry, "fieldName", "IndexParam", "FieldName");
  if (schema.Find(index.field_name) == nullptr) {
    Refuse(kMissingParameter, "missing required parameters, error: `" + index.field_name +
                                  "` hasn't defined in schema");
  }
  index.index_name = OptStringOrRefuse(entry, "indexName", index.field_name);
  const Json* params = FindKey(entry, "params");
  if (params != nullptr && !params->is_null() && !params->is_object()) {
    RefuseMalformed("params must be an object");
  }
  if (params != nullptr && params->is_object()) index.params = *params;
  index.index_type = OptStringOrRefuse(entry, "indexType");
  if (index.index_type.empty()) {
    if (const Json* t = FindKey(index.params, "index_type"); t != nullptr && t->is_string()) {
      index.index_type = t->get<std::string>();
    }
  }
  if (index.index_type.empty()) index.index_type = "AUTOINDEX";
  index.metric_type = OptStringOrRefuse(entry, "metricType");
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
  if (schema.Find(index.field_name)->is_vector()) internal::ApplyIndexOrRefuse(index, &probe);
  return index;
}

// The indexParams of a collections/create body, each checked by
// ParseIndexParam (and so by ApplyIndex); the vector field's entry becomes
// the schema's index and metric. Scalar indexes are accepted and not
// needed: filters have their own.
void ParseIndexParams(const Json& body, Schema* schema) {
  const Json* index_params = FindKey(body, "indexParams");
  if (index_params == nullptr || index_params->is_null()) return;
  if (!index_params->is_array()) {
    RefuseMalformed("indexParams must be an array");
  }
  for (const Json& entry : *index_params) {
    Index index = ParseIndexParamOrRefuse(entry, *schema);
    if (schema->Find(index.field_name)->is_vector()) {
      schema->metric_type = index.metric_type;
      schema->index = std::move(index);
    }
  }
}

// Quick setup: dimension, metricType, idType, autoID, primaryFieldName,
// vectorFieldName; params.max_length, enableDynamicField, and the
// params.textField extension (a VarChar field the built-in encoder embeds).
void ParseQuickSetup(const Json& body, const Json& p, Schema* schema) {
  const int64_t dim = OptIntOrRefuse(body, "dimension", 0);
  if (dim <= 0) {
    Refuse(kInvalidParameter,
           "dimension is required for quickly create collection(default metric "
           "type: COSINE): invalid parameter[expected=collectionName & "
           "dimension][actual=collectionName]");
  }
  if (dim > kMaxDim) {
    RefuseParameter(fmt::format("dimension must be in [1, 65536], got {}", dim));
  }
  schema->metric_type = OptStringOrRefuse(body, "metricType", "COSINE");
  internal::MetricOrRefuse(schema->metric_type);
  std::string id_type = OptStringOrRefuse(body, "idType", "Int64");
  if (id_type == "int64" || id_type.empty()) id_type = "Int64";
  if (id_type == "Varchar") id_type = "VarChar";
  if (id_type != "Int64" && id_type != "VarChar") {
    RefuseParameter("idType can only be [Int64, VarChar], default: Int64, got " + id_type);
  }
  schema->auto_id = OptBoolOrRefuse(body, "autoID", false);
  Field pk{.name = OptStringOrRefuse(body, "primaryFieldName", "id"),
           .type = id_type,
           .is_primary = true};
  if (id_type == "VarChar") {
    auto max_length = ParamIntOrRefuse(p, "max_length");
    if (!max_length.has_value()) {
      RefuseParameter("max_length should be specified for varchar field(" + pk.name + ")");
    }
    pk.params["max_length"] = std::to_string(*max_length);
  }
  Field vec{.name = OptStringOrRefuse(body, "vectorFieldName", "vector"), .type = "FloatVector"};
  vec.params["dim"] = std::to_string(dim);
  const Json* dynamic = FindKey(p, "enableDynamicField");
  schema->enable_dynamic = dynamic == nullptr || (dynamic->is_boolean() && dynamic->get<bool>()) ||
                           (dynamic->is_string() && dynamic->get<std::string>() == "true");
  schema->fields = {pk, vec};
  const std::string text = OptStringOrRefuse(p, "textField");
  if (!text.empty()) {
    Field text_field{.name = text, .type = "VarChar"};
    text_field.set_max_length(kMaxVarCharLength);
    schema->fields.push_back(text_field);
    schema->text_field = text;
    schema->fields[1].function_output = true;
    schema->encoder = OptStringOrRefuse(p, "encoder", "hash");
  }
  schema->index = Index{vec.name, vec.name, "AUTOINDEX", schema->metric_type, Json::object()};
}

// One entry of a custom setup's schema.fields.
Field ParseRequestField(const Json& f, const Schema& schema) {
  if (!f.is_object()) {
    RefuseMalformed("schema.fields entries must be objects");
  }
  Field field;
  field.name = ReqStringOrRefuse(f, "fieldName", "FieldSchema", "FieldName");
  field.type = ReqStringOrRefuse(f, "dataType", "FieldSchema", "DataType");
  if (!IsValidName(field.name)) {
    RefuseParameter(
        "the name of a field must be [A-Za-z_][A-Za-z0-9_]* and shorter than 255 characters, got " +
        field.name);
  }
  if (!IsKnownType(field.type)) {
    RefuseParameter("data type " + field.type + " is invalid(case sensitive).");
  }
  if (!field.is_vector() && !IsScalarType(field.type)) {
    RefuseParameter("data type " + field.type +
                    " is not supported by flashembed (only FloatVector vectors)");
  }
  if (schema.Find(field.name) != nullptr) {
    RefuseParameter("duplicated field name " + field.name);
  }
  field.is_primary = OptBoolOrRefuse(f, "isPrimary", false);
  field.partition_key = OptBoolOrRefuse(f, "isPartitionKey", false);
  field.clustering_key = OptBoolOrRefuse(f, "isClusteringKey", false);
  field.nullable = OptBoolOrRefuse(f, "nullable", false);
  field.description = OptStringOrRefuse(f, "description");
  field.element_type = OptStringOrRefuse(f, "elementDataType");
  if (field.type == "Array" && !IsScalarType(field.element_type)) {
    RefuseParameter("elementDataType " + field.element_type + " is invalid for Array field " +
                    field.name);
  }
  field.params = RequestParams(FindKey(f, "elementTypeParams"));
  if (const Json* d = FindKey(f, "defaultValue"); d != nullptr) field.default_value = *d;
  if (field.is_primary && field.type != "Int64" && field.type != "VarChar") {
    RefuseParameter("the data type of primary key should be Int64 or VarChar, got " + field.type);
  }
  if (field.is_vector()) {
    auto dim = ParamIntOrRefuse(field.params, "dim");
    if (!dim.has_value() || *dim <= 0 || *dim > kMaxDim) {
      RefuseParameter("dim of vector field " + field.name + " must be in [1, 65536]");
    }
  }
  return field;
}

// Functions: TextEmbedding makes the input VarChar field the text the
// built-in encoder embeds into the output vector field.
void ParseFunctions(const Json& fns, Schema* schema) {
  if (!fns.is_array()) {
    RefuseMalformed("functions must be an array");
  }
  for (const Json& fn : fns) {
    const std::string type = OptStringOrRefuse(fn, "type");
    if (type != "TextEmbedding") {
      RefuseParameter("function type " + type +
                      " is not supported by flashembed (TextEmbedding only)");
    }
    const Json* in = FindKey(fn, "inputFieldNames");
    const Json* out = FindKey(fn, "outputFieldNames");
    const Field* input = in != nullptr && in->is_array() && in->size() == 1 && (*in)[0].is_string()
                             ? schema->Find((*in)[0].get<std::string>())
                             : nullptr;
    const Field* output =
        out != nullptr && out->is_array() && out->size() == 1 && (*out)[0].is_string()
            ? schema->Find((*out)[0].get<std::string>())
            : nullptr;
    if (input == nullptr || input->type != "VarChar" || output == nullptr || !output->is_vector() ||
        !schema->text_field.empty()) {
      RefuseParameter(
          "a TextEmbedding function needs one VarChar input field and the FloatVector output field "
          "(one function)");
    }
    schema->text_field = input->name;
    const Json* fparams = FindKey(fn, "params");
    schema->encoder = fparams != nullptr ? OptStringOrRefuse(*fparams, "encoder", "hash") : "hash";
    for (Field& f : schema->fields) {
      if (f.is_vector()) f.function_output = true;
    }
    schema->functions.push_back(fn);
  }
}

// Custom setup: schema.fields (exactly one primary key and one FloatVector
// field), autoID, enableDynamicField, functions.
void ParseCustomSetup(const Json& schema_json, const Json& fields, Schema* schema) {
  schema->enable_dynamic = OptBoolOrRefuse(schema_json, "enableDynamicField", false);
  const bool auto_id = OptBoolOrRefuse(schema_json, "autoID", false);
  for (const Json& f : fields) schema->fields.push_back(ParseRequestField(f, *schema));
  int primaries = 0;
  int vectors = 0;
  for (const Field& f : schema->fields) {
    primaries += f.is_primary;
    vectors += f.is_vector();
  }
  if (primaries != 1) {
    RefuseParameter(
        fmt::format("schema must have exactly one primary key field, got {}", primaries));
  }
  if (vectors != 1) {
    RefuseParameter(
        fmt::format("flashembed collections have exactly one FloatVector field, got {}", vectors));
  }
  schema->auto_id = auto_id;
  if (auto_id && schema->pk().type != "Int64") {
    RefuseParameter("autoID is only supported for an Int64 primary key");
  }
  if (const Json* fns = FindKey(schema_json, "functions"); fns != nullptr && !fns->is_null()) {
    ParseFunctions(*fns, schema);
  }
  schema->metric_type = "COSINE";
}

Schema ParseCreateRequestOrRefuse(const Json& body) {
  Schema schema;
  ReqStringOrRefuse(body, "collectionName", "CollectionReq", "CollectionName");
  schema.description = OptStringOrRefuse(body, "description");
  const Json* params = FindKey(body, "params");
  if (params != nullptr && !params->is_null() && !params->is_object()) {
    RefuseMalformed("params must be an object");
  }
  const Json empty = Json::object();
  const Json& p = params != nullptr && params->is_object() ? *params : empty;
  schema.consistency_level = OptStringOrRefuse(p, "consistencyLevel", "Bounded");
  CheckConsistencyLevel(schema.consistency_level);
  if (auto n = ParamIntOrRefuse(p, "shardsNum")) schema.shards_num = static_cast<int>(*n);

  const Json* schema_json = FindKey(body, "schema");
  if (schema_json != nullptr && !schema_json->is_null() && !schema_json->is_object()) {
    RefuseMalformed("schema must be an object");
  }
  const Json* fields = schema_json != nullptr && schema_json->is_object()
                           ? FindKey(*schema_json, "fields")
                           : nullptr;
  if (fields != nullptr && !fields->is_null() && !fields->is_array()) {
    RefuseMalformed("schema.fields must be an array");
  }
  if (fields == nullptr || fields->is_null() || fields->empty()) {
    ParseQuickSetup(body, p, &schema);
  } else {
    ParseCustomSetup(*schema_json, *fields, &schema);
  }
  // Both setups: the same checks, so a quick setup's bad index is refused
  // (1100 naming the parameter) instead of ignored for the default one.
  ParseIndexParams(body, &schema);
  return schema;
}

// ---- ReadCreateBody -----------------------------------------------------------

// Lenient typed reads: a value of another JSON type is the fallback.
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

std::optional<int64_t> IntAt(const Json& object, std::string_view key) {
  const Json* v = FindKey(object, key);
  return v != nullptr ? internal::IntegerOrDecimal(*v) : std::nullopt;
}

// A field of a custom setup, as declared.
Field DeclaredField(const Json& f) {
  Field field;
  field.name = StringAt(f, "fieldName");
  field.type = StringAt(f, "dataType");
  field.element_type = StringAt(f, "elementDataType");
  if (const Json* params = FindKey(f, "elementTypeParams"); params != nullptr) {
    field.params = StringifyParams(*params);
  }
  field.is_primary = BoolAt(f, "isPrimary", false);
  field.nullable = BoolAt(f, "nullable", false);
  if (const Json* d = FindKey(f, "defaultValue"); d != nullptr) field.default_value = *d;
  field.partition_key = BoolAt(f, "isPartitionKey", false);
  field.clustering_key = BoolAt(f, "isClusteringKey", false);
  field.description = StringAt(f, "description");
  return field;
}

Result<Schema> ReadQuickSetup(const Json& body) {
  const std::optional<int64_t> dim = IntAt(body, "dimension");
  if (!dim.has_value() || *dim <= 0) {
    return Status::InvalidArgument("no schema.fields and no dimension");
  }
  Schema schema;
  schema.enable_dynamic = true;
  Field pk{
      .name = StringAt(body, "primaryFieldName", "id"),
      .type = EqualsIgnoreCase(StringAt(body, "idType", "Int64"), "varchar") ? "VarChar" : "Int64",
      .is_primary = true};
  if (const Json* params = FindKey(body, "params"); params != nullptr) {
    if (auto n = IntAt(*params, "max_length")) pk.set_max_length(static_cast<size_t>(*n));
    schema.enable_dynamic = BoolAt(*params, "enableDynamicField", true);
  }
  Field vec{.name = StringAt(body, "vectorFieldName", "vector"), .type = "FloatVector"};
  vec.params["dim"] = std::to_string(static_cast<int>(*dim));
  schema.fields = {std::move(pk), std::move(vec)};
  return schema;
}

Result<Schema> ReadCustomSetup(const Json& schema_json, const Json& fields,
                               std::string_view text_field) {
  Schema schema;
  schema.enable_dynamic = BoolAt(schema_json, "enableDynamicField", false);
  int primaries = 0;
  int vectors = 0;
  for (const Json& f : fields) {
    if (!f.is_object()) return Status::InvalidArgument("a field is not an object");
    Field field = DeclaredField(f);
    if (field.name.empty() || field.type.empty()) {
      return Status::InvalidArgument("every field needs fieldName and dataType");
    }
    if (field.is_primary) {
      if (field.type != "Int64" && field.type != "VarChar") {
        return Status::InvalidArgument("primary key \"" + field.name +
                                       "\" must be Int64 or VarChar, got " + field.type);
      }
      ++primaries;
    } else if (field.is_vector()) {
      const std::optional<int64_t> dim = IntAt(field.params, "dim");
      if (!dim.has_value() || *dim <= 0 || *dim > kMaxDim) {
        return Status::InvalidArgument("vector field \"" + field.name +
                                       "\" needs elementTypeParams.dim in [1, 65536]");
      }
      field.params["dim"] = std::to_string(*dim);
      ++vectors;
    } else if (field.type.find("Vector") != std::string::npos) {
      return Status::NotSupported("field \"" + field.name + "\" is a " + field.type +
                                  "; flashembed imports one FloatVector field");
    } else if (field.type == "VarChar" && field.name == text_field && schema.text_field.empty()) {
      schema.text_field = field.name;
    }
    schema.fields.push_back(std::move(field));
  }
  if (primaries != 1 || vectors != 1) {
    return Status::InvalidArgument(
        fmt::format("needs exactly one primary key and one FloatVector field, has {} and {}",
                    primaries, vectors));
  }
  return schema;
}

// The vector field's indexParams entry (the last, when there are several):
// its index type and metric, from the entry or its params, kept as given.
void ReadIndex(const Json& body, Schema* schema) {
  schema->metric_type = StringAt(body, "metricType", "COSINE");
  const Json* indexes = FindKey(body, "indexParams");
  if (indexes == nullptr || !indexes->is_array()) return;
  const std::string& vector_name = schema->vector().name;
  Json params = Json::object();
  for (const Json& entry : *indexes) {
    if (StringAt(entry, "fieldName") != vector_name) continue;
    if (const Json* p = FindKey(entry, "params"); p != nullptr && p->is_object()) params = *p;
    Index index;
    index.field_name = vector_name;
    index.index_name = StringAt(entry, "indexName", vector_name);
    index.metric_type = StringAt(entry, "metricType", StringAt(params, "metric_type", "COSINE"));
    index.index_type = StringAt(entry, "indexType", StringAt(params, "index_type", "AUTOINDEX"));
    index.params = params;
    index.params.erase("index_type");
    index.params.erase("metric_type");
    schema->metric_type = index.metric_type;
    schema->index = std::move(index);
  }
}

// ---- CreateBody ---------------------------------------------------------------

OrderedJson FieldToBody(const Field& f, int dim) {
  OrderedJson out = {{"fieldName", f.name}, {"dataType", f.type}};
  if (f.is_primary) out["isPrimary"] = true;
  if (!f.element_type.empty()) out["elementDataType"] = f.element_type;
  OrderedJson params = OrderedJson::object();
  if (f.is_vector()) params["dim"] = dim;
  if (f.type == "VarChar" || (f.type == "Array" && f.element_type == "VarChar")) {
    params["max_length"] = f.max_length() == 0 ? kMaxVarCharLength : f.max_length();
  }
  if (f.type == "Array" && f.max_capacity() > 0) params["max_capacity"] = f.max_capacity();
  if (!params.empty()) out["elementTypeParams"] = params;
  if (f.nullable) out["nullable"] = true;
  if (!f.default_value.is_null()) out["defaultValue"] = f.default_value;
  if (f.partition_key) out["isPartitionKey"] = true;
  if (f.clustering_key) out["isClusteringKey"] = true;
  if (!f.description.empty()) out["description"] = f.description;
  return out;
}

// IVF-PQ's automatic sub-quantizer count (IvfParams::pq_m = 0): dim / 4
// rounded down to a divisor of dim, at least 1.
int AutoPqM(int dim) {
  for (int m = std::max(1, dim / 4); m > 1; --m) {
    if (dim % m == 0) return m;
  }
  return 1;
}

// indexParams for `collection`'s index: IndexFromCollection's build
// parameters (ef and nprobe are search parameters in Milvus); an IVF index
// whose nlist is chosen at training time lets Milvus choose too
// (AUTOINDEX); IVF_PQ states its m even when automatic.
OrderedJson IndexParamsOf(const CollectionSchema& collection, const std::string& vector_name) {
  const Index index = IndexFromCollection(collection, vector_name);
  const bool ivf = index.index_type.rfind("IVF_", 0) == 0;
  OrderedJson params = {{"index_type", index.index_type}};
  if (ivf && !index.params.contains("nlist")) {
    params = {{"index_type", "AUTOINDEX"}};
  } else {
    for (const char* key : {"M", "efConstruction", "nlist", "m", "nbits"}) {
      if (index.params.contains(key)) {
        params[key] = index.params.at(key).get<int>();
      } else if (std::string_view(key) == "m" && index.index_type == "IVF_PQ") {
        params[key] = AutoPqM(collection.dim);
      }
    }
  }
  return OrderedJson::array({{{"fieldName", vector_name},
                              {"indexName", vector_name},
                              {"metricType", index.metric_type},
                              {"params", params}}});
}

}  // namespace

Expected<Schema> ParseCreateRequest(const Json& body) {
  return internal::Catch([&] { return ParseCreateRequestOrRefuse(body); });
}

Expected<Index> ParseIndexParam(const Json& entry, const Schema& schema) {
  return internal::Catch([&] { return ParseIndexParamOrRefuse(entry, schema); });
}

Result<Schema> ReadCreateBody(const Json& body, std::string_view text_field) {
  const Json* schema_json = FindKey(body, "schema");
  const Json* fields = schema_json != nullptr ? FindKey(*schema_json, "fields") : nullptr;
  Result<Schema> schema = fields == nullptr || !fields->is_array() || fields->empty()
                              ? ReadQuickSetup(body)
                              : ReadCustomSetup(*schema_json, *fields, text_field);
  if (!schema.ok()) return schema;
  schema->description = StringAt(body, "description");
  if (const Json* params = FindKey(body, "params"); params != nullptr) {
    schema->consistency_level = StringAt(*params, "consistencyLevel", "Bounded");
  }
  ReadIndex(body, &*schema);
  return schema;
}

Result<CollectionSchema> CollectionSchemaForImport(const Schema& declared) {
  CollectionSchema out;
  out.dim = declared.dim();
  out.encoder = "";
  const std::string& metric = declared.metric_type;
  std::optional<Metric> parsed;
  for (Metric m : {Metric::kCosine, Metric::kInnerProduct, Metric::kL2}) {
    if (EqualsIgnoreCase(metric, MetricTypeName(m))) parsed = m;
  }
  if (!parsed.has_value()) {
    return Status::InvalidArgument("metric type \"" + metric +
                                   "\" is not supported (COSINE, IP, L2)");
  }
  out.metric = *parsed;
  const std::string type = declared.index.has_value() ? declared.index->index_type : "AUTOINDEX";
  const Json params = declared.index.has_value() ? declared.index->params : Json::object();
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
  FE_RETURN_IF_ERROR(out.Validate());
  return out;
}

OrderedJson CreateBody(std::string_view collection_name, const Schema& schema,
                       const CollectionSchema& collection) {
  OrderedJson fields = OrderedJson::array();
  for (const Field& f : schema.fields) fields.push_back(FieldToBody(f, schema.dim()));
  OrderedJson body = {
      {"collectionName", std::string(collection_name)},
      {"schema",
       {{"autoID", false}, {"enableDynamicField", schema.enable_dynamic}, {"fields", fields}}},
      {"indexParams", IndexParamsOf(collection, schema.vector().name)}};
  body["params"] = {{"consistencyLevel", schema.consistency_level}};
  if (!schema.description.empty()) body["description"] = schema.description;
  return body;
}

}  // namespace flashembed::milvus
