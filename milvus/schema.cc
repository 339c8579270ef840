#include "milvus/schema.h"

#include <cstdlib>
#include <string>
#include <utility>

#include <fmt/format.h>

#include "milvus/properties.h"
#include "milvus/refusal.h"
#include "milvus/request_json.h"

namespace flashembed::milvus {
namespace {

using internal::Refuse;
using internal::RefuseParameter;

// A size param (max_length, max_capacity): decimal text (read as strtoull
// does) or a non-negative integer; 0 when absent or neither.
size_t SizeParam(const Json& params, const char* key) {
  auto it = params.find(key);
  if (it == params.end()) return 0;
  if (it->is_string()) {
    return static_cast<size_t>(
        std::strtoull(it->get_ref<const std::string&>().c_str(), nullptr, 10));
  }
  if (it->is_number_unsigned()) return static_cast<size_t>(it->get<uint64_t>());
  if (it->is_number_integer() && it->get<int64_t>() >= 0) {
    return static_cast<size_t>(it->get<int64_t>());
  }
  return 0;
}

// An index parameter in [min, max] (flashembed's range); 1100 naming the
// parameter, its value and the range otherwise.
std::optional<int> ParamIntIn(const Json& params, std::string_view key, int min, int max) {
  std::optional<int64_t> n = internal::ParamIntOrRefuse(params, key);
  if (!n.has_value()) return std::nullopt;
  if (*n < min || *n > max) {
    Refuse(kInvalidParameter,
           fmt::format(
               "invalid parameter[{0}={1}]: out of range, flashembed supports {0} in [{2}, {3}]",
               key, *n, min, max));
  }
  return static_cast<int>(*n);
}

}  // namespace

namespace internal {

Metric MetricOrRefuse(const std::string& metric) {
  if (std::optional<Metric> m = ParseMetricType(metric)) return *m;
  Refuse(kInvalidParameter, "invalid parameter[metric type " + metric +
                                " not found or not supported, supported: [L2 IP COSINE]]");
}

void ApplyIndexOrRefuse(const Index& index, CollectionSchema* schema) {
  schema->metric = MetricOrRefuse(index.metric_type);
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
    Refuse(kInvalidParameter, "invalid parameter[index type " + type +
                                  " is not supported by flashembed; supported: AUTOINDEX, HNSW, "
                                  "FLAT, IVF_FLAT, IVF_SQ8, IVF_PQ]");
  }
  const Status status = schema->Validate();
  if (!status.ok()) RefuseParameter(status.message());
}

}  // namespace internal

size_t Field::max_length() const { return SizeParam(params, "max_length"); }

size_t Field::max_capacity() const { return SizeParam(params, "max_capacity"); }

void Field::set_max_length(size_t bytes) { params["max_length"] = std::to_string(bytes); }

const Field& Schema::pk() const {
  for (const Field& f : fields) {
    if (f.is_primary) return f;
  }
  FE_CHECK(false) << "Milvus schema without a primary key";
  return fields.front();
}

const Field& Schema::vector() const {
  for (const Field& f : fields) {
    if (f.is_vector()) return f;
  }
  FE_CHECK(false) << "Milvus schema without a vector field";
  return fields.front();
}

const Field* Schema::Find(std::string_view name) const {
  for (const Field& f : fields) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

int Schema::dim() const {
  const Json* value = FindKey(vector().params, "dim");
  std::optional<int64_t> n = value != nullptr ? internal::IntegerOrDecimal(*value) : std::nullopt;
  return n.has_value() ? static_cast<int>(*n) : 0;
}

Result<CollectionSchema> Schema::ToCollectionSchema() const {
  Expected<CollectionSchema> out = internal::Catch([&] {
    CollectionSchema out;
    std::optional<int64_t> dim = internal::ParamIntOrRefuse(vector().params, "dim");
    out.dim = dim.has_value() ? static_cast<int>(*dim) : 0;
    out.encoder = text_field.empty() ? "" : encoder;
    out.metric = internal::MetricOrRefuse(metric_type);
    if (index.has_value()) internal::ApplyIndexOrRefuse(*index, &out);
    out.properties = EncodeProperties(*this);
    return out;
  });
  if (!out.ok()) return out.status();
  return std::move(out).value();
}

Schema NativeSchema(const CollectionInfo& info, const NativeNames& names) {
  Schema schema;
  schema.synthesized = true;
  schema.enable_dynamic = true;
  Field pk{.name = names.pk, .type = "Int64", .is_primary = true};
  Field vec{.name = names.vector, .type = "FloatVector"};
  vec.params["dim"] = std::to_string(info.schema.dim);
  schema.fields = {pk, vec};
  if (!info.schema.encoder.empty()) {
    Field text{.name = names.text, .type = "VarChar"};
    text.set_max_length(kMaxVarCharLength);
    schema.fields.push_back(text);
    schema.text_field = names.text;
    schema.encoder = info.schema.encoder;
  }
  schema.index = IndexFromCollection(info.schema, names.vector);
  schema.metric_type = schema.index->metric_type;
  return schema;
}

const char* MetricTypeName(Metric metric) {
  switch (metric) {
    case Metric::kCosine: return "COSINE";
    case Metric::kInnerProduct: return "IP";
    case Metric::kL2: return "L2";
  }
  return "COSINE";
}

std::optional<Metric> ParseMetricType(std::string_view name) {
  if (name == "COSINE" || name == "cosine") return Metric::kCosine;
  if (name == "IP" || name == "ip") return Metric::kInnerProduct;
  if (name == "L2" || name == "l2") return Metric::kL2;
  return std::nullopt;
}

Index IndexFromCollection(const CollectionSchema& s, const std::string& field_name) {
  Index index;
  index.index_name = field_name;
  index.field_name = field_name;
  index.metric_type = MetricTypeName(s.metric);
  switch (s.index) {
    case IndexKind::kHnsw:
      index.index_type = "HNSW";
      index.params = {
          {"M", s.hnsw.m}, {"efConstruction", s.hnsw.ef_construction}, {"ef", s.hnsw.ef_search}};
      break;
    case IndexKind::kFlat: index.index_type = "FLAT"; break;
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

Expected<CollectionSchema> ApplyIndex(const Index& index, CollectionSchema schema) {
  return internal::Catch([&] {
    internal::ApplyIndexOrRefuse(index, &schema);
    return schema;
  });
}

}  // namespace flashembed::milvus
