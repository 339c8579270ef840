#include "milvus/properties.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <utility>

#include "milvus/refusal.h"

namespace flashembed::milvus {
namespace {

Field FieldFromJson(const Json& f) {
  Field field;
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

Json FieldToJson(const Field& field) {
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

Json EncodeSchema(const Schema& schema) {
  Json out{{"version", kSchemaFormatVersion},  {"description", schema.description},
           {"autoId", schema.auto_id},         {"enableDynamicField", schema.enable_dynamic},
           {"textField", schema.text_field},   {"functions", schema.functions},
           {"metricType", schema.metric_type}, {"consistencyLevel", schema.consistency_level},
           {"shardsNum", schema.shards_num},   {"encoder", schema.encoder},
           {"fields", Json::array()}};
  for (const Field& f : schema.fields) out["fields"].push_back(FieldToJson(f));
  if (schema.index.has_value()) {
    const Index& index = *schema.index;
    out["index"] = Json{{"indexName", index.index_name},
                        {"fieldName", index.field_name},
                        {"indexType", index.index_type},
                        {"metricType", index.metric_type},
                        {"params", index.params}};
  }
  return out;
}

std::string EncodeProperties(const Schema& schema) {
  return internal::Dump(Json{{"milvus", EncodeSchema(schema)}});
}

Result<Schema> DecodeSchema(const Json& value) {
  try {
    if (auto v = value.find("version"); value.is_object() && v != value.end()) {
      if (!v->is_number_integer()) {
        return Status::InvalidArgument("stored Milvus schema is malformed: version " +
                                       internal::Dump(*v) + " is not an integer");
      }
      if (v->get<int64_t>() != kSchemaFormatVersion) {
        return Status::NotSupported(
            fmt::format("stored Milvus schema has format version {}; this build reads version {}",
                        internal::Dump(*v), kSchemaFormatVersion));
      }
    }
    Schema schema;
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
      schema.index =
          Index{it->value("indexName", ""), it->value("fieldName", ""),
                it->value("indexType", "AUTOINDEX"), it->value("metricType", schema.metric_type),
                it->value("params", Json::object())};
    }
    int primaries = 0;
    int vectors = 0;
    for (const Field& f : schema.fields) {
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

Result<std::optional<Schema>> DecodeProperties(std::string_view properties) {
  if (properties.empty()) return std::optional<Schema>();
  const Json props = Json::parse(properties, nullptr, /*allow_exceptions=*/false);
  if (!props.is_object() || !props.contains("milvus")) return std::optional<Schema>();
  FE_ASSIGN_OR_RETURN(Schema schema, DecodeSchema(props["milvus"]));
  return std::optional<Schema>(std::move(schema));
}

Result<Schema> SchemaOfCollection(const CollectionInfo& info) {
  FE_ASSIGN_OR_RETURN(std::optional<Schema> stored, DecodeProperties(info.schema.properties));
  if (stored.has_value()) return std::move(*stored);
  return NativeSchema(info);
}

}  // namespace flashembed::milvus
