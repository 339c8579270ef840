// MilvusApi: entities/{insert,upsert,delete,get,query,search}, and the
// conversions between Milvus rows and flashembed documents (see
// milvus/schema.h for the mapping).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <set>
#include <unordered_map>

#include <fmt/format.h>

#include "server/milvus_api.h"

namespace flashembed::server {
namespace {

constexpr int64_t kMaxTopK = 16384;
constexpr size_t kMaxJsonBytes = 64u << 10;  // common.JSONMaxLength

std::string IdKey(const Id& id) { return id.is_int() ? "i" + id.ToString() : "s" + id.as_string(); }

// Milvus-style auto ids: milliseconds since the epoch shifted left 18 bits
// (~4.7e17 today), strictly increasing within the process.
int64_t NextAutoId() {
  static std::atomic<int64_t> last{0};
  const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                          std::chrono::system_clock::now().time_since_epoch())
                          .count()
                      << 18;
  int64_t prev = last.load();
  int64_t next;
  do {
    next = std::max(prev + 1, now);
  } while (!last.compare_exchange_weak(prev, next));
  return next;
}

Json IdToJson(const Id& id, bool int64_as_string) {
  if (id.is_string()) return id.as_string();
  if (int64_as_string) return id.ToString();
  return id.as_int();
}

bool IdLess(const Id& a, const Id& b) {
  if (a.is_int() != b.is_int()) return a.is_int();
  if (a.is_int()) return a.as_int() < b.as_int();
  return a.as_string() < b.as_string();
}

// The "(offset+limit) ... but got N" error. Both come from the request as
// any int64, so the sum is formed only when it cannot overflow.
[[noreturn]] void WindowError(int64_t offset, int64_t limit) {
  int64_t sum = 0;
  const std::string got = __builtin_add_overflow(offset, limit, &sum)
                              ? fmt::format("{}+{}", offset, limit)
                              : std::to_string(sum);
  throw ApiError(65535, "(offset+limit) should be in range [1, 16384], but got " + got);
}

[[noreturn]] void InsertError(const std::string& detail) {
  throw ApiError(1804, "fail to deal the insert data, error: " + detail);
}

// A primary-key value from a row or an `id` list: Int64 pks take integers
// or decimal strings, VarChar pks strings. nullopt for anything else.
std::optional<Id> PkFromJson(const Json& value, const milvus::Field& pk) {
  if (pk.type == "VarChar") {
    if (!value.is_string() || value.get_ref<const std::string&>().empty()) return std::nullopt;
    return Id(value.get<std::string>());
  }
  if (auto n = JsonToInt64(value); n.has_value() && !value.is_number_float()) return Id(*n);
  if (value.is_string()) {
    const std::string& s = value.get_ref<const std::string&>();
    char* end = nullptr;
    errno = 0;
    const long long n = std::strtoll(s.c_str(), &end, 10);
    if (!s.empty() && end == s.c_str() + s.size() && errno == 0) return Id(int64_t{n});
  }
  return std::nullopt;
}

// One scalar field value of row `row_number`, checked and converted to what
// the metadata stores.
Json ScalarIn(const milvus::Field& field, const Json* value, size_t row_number) {
  if (value == nullptr || value->is_null()) {
    if (!field.default_value.is_null()) return field.default_value;
    if (field.nullable) return nullptr;
    if (field.type == "VarChar") return "";  // Milvus's quirk: a missing VarChar is ""
    InsertError(
        fmt::format("field {} is missing in row {}: invalid parameter", field.name, row_number));
  }
  const std::string& type = field.type;
  auto bad = [&]() -> Json {
    InsertError(fmt::format("field {} of type {} cannot take {} (row {}): invalid parameter",
                            field.name, type, Dump(*value), row_number));
  };
  if (type == "Bool") {
    if (value->is_boolean()) return *value;
    if (value->is_string() && (*value == "true" || *value == "false")) return *value == "true";
    return bad();
  }
  if (type == "Int8" || type == "Int16" || type == "Int32" || type == "Int64") {
    std::optional<int64_t> n = JsonToInt64(*value);
    if (!n.has_value() && value->is_string()) {
      std::optional<Id> parsed = PkFromJson(*value, milvus::Field{.type = "Int64"});
      if (parsed.has_value()) n = parsed->as_int();
    }
    if (!n.has_value()) return bad();
    const int64_t limit = type == "Int8"    ? 127
                          : type == "Int16" ? 32767
                          : type == "Int32" ? 2147483647
                                            : INT64_MAX;
    if (*n > limit || *n < -limit - 1) return bad();
    return *n;
  }
  if (type == "Float" || type == "Double") {
    if (!value->is_number()) return bad();
    return value->get<double>();
  }
  if (type == "VarChar") {
    if (!value->is_string()) return bad();
    const size_t max = field.max_length();
    const size_t length = value->get_ref<const std::string&>().size();
    if (max > 0 && length > max) {
      throw ApiError(1100, fmt::format("length of varchar field {} exceeds max length, row "
                                       "number: {}, length: {}, max length: {}",
                                       field.name, row_number, length, max));
    }
    return *value;
  }
  if (type == "JSON") {
    if (value->is_string()) {
      const std::string& text = value->get_ref<const std::string&>();
      if (text.size() > kMaxJsonBytes) return bad();
      std::string error;
      std::optional<Json> parsed = ParseJsonBody(text, &error);
      if (!parsed.has_value()) return bad();
      return *parsed;
    }
    if (Dump(*value).size() > kMaxJsonBytes) return bad();
    return *value;
  }
  if (type == "Array") {
    if (!value->is_array()) return bad();
    for (const Json& element : *value) {
      Json copy = element;
      milvus::Field element_field = field;
      element_field.type = field.element_type;
      element_field.nullable = false;
      element_field.default_value = nullptr;
      ScalarIn(element_field, &copy, row_number);
    }
    return *value;
  }
  return bad();
}

// A Milvus row as a flashembed document. `id` is the pk to store (generated
// for autoID collections). Counts rows that need embedding in `texts`.
Document RowToDocument(const Json& row, const milvus::Schema& schema, size_t row_number,
                       const Id& id, size_t* texts) {
  if (!row.is_object()) {
    InsertError(fmt::format("row {} is not a JSON object: {}", row_number, Dump(row)));
  }
  Document doc;
  doc.id = id;
  Json meta = Json::object();
  const milvus::Field& pk = schema.pk();
  meta[pk.name] = id.is_int() ? Json(id.as_int()) : Json(id.as_string());
  const milvus::Field& vec = schema.vector();
  for (const milvus::Field& field : schema.fields) {
    if (field.is_primary || field.is_vector()) continue;
    auto it = row.find(field.name);
    meta[field.name] = ScalarIn(field, it == row.end() ? nullptr : &*it, row_number);
  }
  for (auto it = row.begin(); it != row.end(); ++it) {
    if (schema.Find(it.key()) != nullptr) continue;
    if (it.key() == "$meta") {
      InsertError("use the invalid field name($meta) when enable dynamicField: invalid parameter");
    }
    if (!schema.enable_dynamic) {
      InsertError("field " + it.key() +
                  " is not in the schema: the collection has pass more "
                  "field without dynamic schema, please check it: invalid parameter");
    }
    if (!it.value().is_null()) meta[it.key()] = it.value();
  }
  if (!schema.text_field.empty()) {
    const Json& text = meta[schema.text_field];
    if (text.is_string()) doc.text = text.get<std::string>();
  }
  auto v = row.find(vec.name);
  if (v == row.end() || v->is_null()) {
    if (doc.text.empty()) {
      InsertError("missing vector field: " + vec.name +
                  ": invalid parameter[expected=FloatVector]"
                  "[actual=]");
    }
    ++*texts;
  } else {
    if (!v->is_array()) {
      InsertError("vector field " + vec.name + " must be an array of numbers, got " + Dump(*v));
    }
    const size_t dim = static_cast<size_t>(schema.dim());
    if (v->size() != dim) {
      InsertError(fmt::format(
          "[]float32 size {} doesn't equal to vector dimension {} of FloatVector", v->size(), dim));
    }
    doc.vector.reserve(dim);
    for (const Json& x : *v) {
      if (!x.is_number())
        InsertError("vector field " + vec.name + " holds a non-number: " + Dump(x));
      const double d = x.get<double>();
      if (!std::isfinite(d) || std::fabs(d) > 3.4e38) {
        InsertError("vector field " + vec.name + " holds a value outside float32: " + Dump(x));
      }
      doc.vector.push_back(static_cast<float>(d));
    }
  }
  doc.metadata = Dump(meta);
  return doc;
}

// Which fields a get/query/search row carries.
struct OutputSpec {
  bool all = false;          // "*"
  bool all_dynamic = false;  // "$meta"
  bool vector = false;
  std::set<std::string> names;
  bool count = false;  // "count(*)"
};

OutputSpec ParseOutputFields(const Json& body, const milvus::Schema& schema, bool default_all) {
  OutputSpec spec;
  const Json* fields = FindKey(body, "outputFields");
  if (fields == nullptr || fields->is_null() || (fields->is_array() && fields->empty())) {
    spec.all = default_all;
    spec.vector = default_all;
    return spec;
  }
  if (!fields->is_array()) {
    throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                             std::string(fields->type_name()) +
                             " into Go struct field .outputFields of type []string");
  }
  for (const Json& f : *fields) {
    if (!f.is_string()) {
      throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                               std::string(f.type_name()) +
                               " into Go struct field .outputFields of type string");
    }
    const std::string& name = f.get_ref<const std::string&>();
    if (name == "*") {
      spec.all = true;
      spec.vector = true;
    } else if (name == "$meta") {
      spec.all_dynamic = true;
    } else if (name == "count(*)") {
      spec.count = true;
    } else if (const milvus::Field* field = schema.Find(name)) {
      if (field->is_vector()) spec.vector = true;
      spec.names.insert(name);
    } else if (schema.enable_dynamic) {
      spec.names.insert(name);
    } else {
      throw ApiError(
          1100, "failed to get output fields: field " + name + " not exist: invalid parameter");
    }
  }
  return spec;
}

Json ScalarOut(const milvus::Field& field, const Json& value, bool int64_as_string) {
  if (value.is_null()) return nullptr;
  if (field.type == "Int64" && int64_as_string && value.is_number_integer()) {
    return std::to_string(value.get<int64_t>());
  }
  if (field.type == "JSON") return Dump(value);  // 2.5: JSON text in a string
  if (field.type == "Float" && value.is_number()) return FloatToJson(value.get<float>());
  return value;
}

// A stored document (or hit) as a Milvus row.
Json DocumentToRow(const Id& id, const std::string& metadata, const std::vector<float>& vector,
                   const milvus::Schema& schema, const OutputSpec& spec, bool int64_as_string) {
  Json row = Json::object();
  const milvus::Field& pk = schema.pk();
  row[pk.name] = IdToJson(id, int64_as_string);
  Json meta = metadata.empty() ? Json::object() : Json::parse(metadata, nullptr, false);
  if (!meta.is_object()) meta = Json::object();
  for (const milvus::Field& field : schema.fields) {
    if (field.is_primary) continue;
    if (!spec.all && spec.names.count(field.name) == 0) continue;
    if (field.is_vector()) {
      Json v = Json::array();
      for (float x : vector) v.push_back(FloatToJson(x));
      row[field.name] = std::move(v);
      continue;
    }
    auto it = meta.find(field.name);
    row[field.name] = it == meta.end() ? Json(nullptr) : ScalarOut(field, *it, int64_as_string);
  }
  for (auto it = meta.begin(); it != meta.end(); ++it) {
    if (schema.Find(it.key()) != nullptr) continue;
    if (spec.all || spec.all_dynamic || spec.names.count(it.key()) > 0) row[it.key()] = it.value();
  }
  return row;
}

// A database error on a data-plane call as a Milvus error.
[[noreturn]] void ThrowDatabaseError(const Status& status, const std::string& filter) {
  if (status.IsNotFound()) throw ApiError(100, "collection not found[" + status.message() + "]");
  if (status.IsInvalidArgument()) {
    if (!filter.empty()) {
      throw ApiError(1100, "failed to create query plan: cannot parse expression: " + filter +
                               ", error: " + status.message() + ": invalid parameter");
    }
    throw ApiError(1100, "invalid parameter, " + status.message());
  }
  if (status.code() == StatusCode::kNotSupported) throw ApiError(65535, status.message());
  throw ApiError(65535, status.ToString());
}

// exprParams as the filter_params text the database takes ("" when none).
std::string ExprParams(const Json& body) {
  const Json* params = FindKey(body, "exprParams");
  if (params == nullptr || params->is_null()) return "";
  if (!params->is_object()) {
    throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                             std::string(params->type_name()) +
                             " into Go struct field .exprParams of type map[string]interface {}");
  }
  for (auto it = params->begin(); it != params->end(); ++it) {
    // Milvus crashes on these; answer 1100 instead (spec trap 16).
    if (it.value().is_null() || it.value().is_object() ||
        (it.value().is_array() && it.value().empty())) {
      throw ApiError(1100, "invalid parameter, exprParams value of " + it.key() +
                               " must be a scalar or a non-empty array");
    }
  }
  return Dump(*params);
}

}  // namespace

// --- writes -------------------------------------------------------------------

Json MilvusApi::Insert(const Context& ctx) { return Write(ctx, /*upsert=*/false); }
Json MilvusApi::Upsert(const Context& ctx) { return Write(ctx, /*upsert=*/true); }

Json MilvusApi::Write(const Context& ctx, bool upsert) {
  // Held from before the collection is opened until the write is done, so
  // an indexes/create re-creation either sees these rows or runs first.
  CollectionLocks::Guard guard = locks_->Shared(NameOf(ctx));
  Target t = Open(ctx);
  const Json* data = FindKey(ctx.body, "data");
  if (data == nullptr || data->is_null() || (data->is_array() && data->empty())) {
    throw ApiError(1802,
                   "missing required parameters, error: Key: 'CollectionDataReq.Data' "
                   "Error:Field validation for 'Data' failed on the 'required' tag");
  }
  if (!data->is_array() && !data->is_object()) {
    throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                             std::string(data->type_name()) + " into Go struct field .data");
  }
  const Json rows = data->is_array() ? *data : Json::array({*data});
  const milvus::Field& pk = t.schema.pk();
  std::vector<Document> docs;
  std::vector<Id> old_ids;  // upsert on autoID: the rows' pks, replaced by new ones
  docs.reserve(rows.size());
  size_t texts = 0;
  for (size_t i = 0; i < rows.size(); ++i) {
    const Json& row = rows[i];
    const Json* given = row.is_object() && row.contains(pk.name) ? &row[pk.name] : nullptr;
    Id id;
    if (t.schema.auto_id && !upsert) {
      if (given != nullptr) {
        InsertError("no need to pass pk field(" + pk.name +
                    ") when autoid==true in insert: "
                    "invalid parameter");
      }
      id = NextAutoId();
    } else {
      if (given == nullptr) InsertError(fmt::format("row {} does not has field {}", i, pk.name));
      std::optional<Id> parsed = PkFromJson(*given, pk);
      if (!parsed.has_value()) {
        InsertError(fmt::format("the primary key {} must be {}, got {} (row {})", pk.name,
                                pk.type == "VarChar" ? "a non-empty string" : "an integer",
                                Dump(*given), i));
      }
      if (t.schema.auto_id) {
        old_ids.push_back(*parsed);
        id = NextAutoId();
      } else {
        id = std::move(*parsed);
      }
    }
    Json copy = row;
    if (copy.is_object()) copy.erase(pk.name);
    docs.push_back(RowToDocument(copy, t.schema, i, id, &texts));
  }
  Json ids = Json::array();
  for (const Document& doc : docs) ids.push_back(IdToJson(doc.id, ctx.int64_as_string));
  // Milvus does not enforce unique pks; flashembed keeps one copy per pk
  // (the last one written), so repeats within a batch keep the last row.
  std::unordered_map<std::string, size_t> last;
  for (size_t i = 0; i < docs.size(); ++i) last[IdKey(docs[i].id)] = i;
  std::vector<Document> unique;
  unique.reserve(last.size());
  for (size_t i = 0; i < docs.size(); ++i) {
    if (last[IdKey(docs[i].id)] == i) unique.push_back(std::move(docs[i]));
  }
  const Status status = t.collection->Upsert(WriteOptions{}, unique);
  if (!status.ok()) {
    if (status.IsInvalidArgument()) InsertError(status.message());
    ThrowDatabaseError(status, "");
  }
  metrics_->AddTextsEmbedded(texts);
  if (!old_ids.empty()) {
    // The new rows are durable before the old ones go, so a crash between
    // the two leaves a duplicate rather than losing the row.
    Result<size_t> deleted = t.collection->Delete(WriteOptions{}, old_ids);
    if (!deleted.ok()) ThrowDatabaseError(deleted.status(), "");
  }
  const size_t n = rows.size();
  if (upsert) return {{"code", 0}, {"cost", 0}, {"data", {{"upsertCount", n}, {"upsertIds", ids}}}};
  return {{"code", 0}, {"cost", 0}, {"data", {{"insertCount", n}, {"insertIds", ids}}}};
}

Json MilvusApi::Delete(const Context& ctx) {
  CollectionLocks::Guard guard = locks_->Shared(NameOf(ctx));
  Target t = Open(ctx);
  const std::string filter = ReqString(ctx.body, "filter", "CollectionFilterReq", "Filter");
  const std::string params = ExprParams(ctx.body);
  Result<size_t> deleted = t.collection->DeleteWhere(WriteOptions{}, filter, params);
  if (!deleted.ok()) ThrowDatabaseError(deleted.status(), filter);
  return {{"code", 0}, {"cost", 0}, {"data", {{"deleteCount", *deleted}}}};
}

// --- reads --------------------------------------------------------------------

Json MilvusApi::Get(const Context& ctx) {
  Target t = Open(ctx);
  RequireLoaded(t);
  const Json* id_json = FindKey(ctx.body, "id");
  if (id_json == nullptr || id_json->is_null() || (id_json->is_array() && id_json->empty())) {
    throw ApiError(1802,
                   "missing required parameters, error: Key: 'CollectionIDReq.ID' "
                   "Error:Field validation for 'ID' failed on the 'required' tag");
  }
  const Json list = id_json->is_array() ? *id_json : Json::array({*id_json});
  std::vector<Id> ids;
  for (const Json& value : list) {
    std::optional<Id> id = PkFromJson(value, t.schema.pk());
    if (!id.has_value()) {
      throw ApiError(1806,
                     "please check the primary key and its' type can only in [int, "
                     "string], error: " +
                         Dump(value));
    }
    ids.push_back(std::move(*id));
  }
  const OutputSpec spec = ParseOutputFields(ctx.body, t.schema, /*default_all=*/true);
  Result<std::vector<Document>> docs = t.collection->GetMany(ids, spec.vector);
  if (!docs.ok()) ThrowDatabaseError(docs.status(), "");
  std::sort(docs->begin(), docs->end(),
            [](const Document& a, const Document& b) { return IdLess(a.id, b.id); });
  Json rows = Json::array();
  for (const Document& doc : *docs) {
    rows.push_back(
        DocumentToRow(doc.id, doc.metadata, doc.vector, t.schema, spec, ctx.int64_as_string));
  }
  return {{"code", 0}, {"cost", 0}, {"data", rows}};
}

Json MilvusApi::Query(const Context& ctx) {
  Target t = Open(ctx);
  RequireLoaded(t);
  const std::string filter = OptString(ctx.body, "filter");
  const std::string params = ExprParams(ctx.body);
  const OutputSpec spec = ParseOutputFields(ctx.body, t.schema, /*default_all=*/true);
  if (spec.count) {
    Result<uint64_t> count = t.collection->CountWhere(filter, params);
    if (!count.ok()) ThrowDatabaseError(count.status(), filter);
    return {{"code", 0}, {"cost", 0}, {"data", Json::array({{{"count(*)", *count}}})}};
  }
  const int64_t limit = OptInt(ctx.body, "limit", 100);
  const int64_t offset = OptInt(ctx.body, "offset", 0);
  // Checked without forming offset + limit, which can overflow.
  if (limit <= 0 || limit > kMaxTopK || offset < 0 || offset > kMaxTopK - limit) {
    WindowError(offset, limit);
  }
  // Milvus orders query results by pk so offset pages are stable: find
  // every match's id, sort, then read just the page.
  FindOptions find;
  find.filter = filter;
  find.filter_params = params;
  find.with_text = false;
  find.with_metadata = false;
  Result<std::vector<Document>> matches = t.collection->Find(find);
  if (!matches.ok()) ThrowDatabaseError(matches.status(), filter);
  std::vector<Id> ids;
  ids.reserve(matches->size());
  for (Document& doc : *matches) ids.push_back(std::move(doc.id));
  std::sort(ids.begin(), ids.end(), IdLess);
  const size_t begin = std::min(ids.size(), static_cast<size_t>(offset));
  const size_t end = std::min(ids.size(), begin + static_cast<size_t>(limit));
  std::vector<Id> page(ids.begin() + static_cast<ptrdiff_t>(begin),
                       ids.begin() + static_cast<ptrdiff_t>(end));
  Result<std::vector<Document>> docs = t.collection->GetMany(page, spec.vector);
  if (!docs.ok()) ThrowDatabaseError(docs.status(), filter);
  Json rows = Json::array();
  for (const Document& doc : *docs) {
    rows.push_back(
        DocumentToRow(doc.id, doc.metadata, doc.vector, t.schema, spec, ctx.int64_as_string));
  }
  return {{"code", 0}, {"cost", 0}, {"data", rows}};
}

Json MilvusApi::Search(const Context& ctx) {
  Target t = Open(ctx);
  const Json* data = FindKey(ctx.body, "data");
  if (data == nullptr || data->is_null() || (data->is_array() && data->empty())) {
    throw ApiError(1802,
                   "missing required parameters, error: Key: 'SearchReqV2.Data' "
                   "Error:Field validation for 'Data' failed on the 'required' tag");
  }
  if (!data->is_array()) {
    throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                             std::string(data->type_name()) +
                             " into Go struct field SearchReqV2.data of type []interface {}");
  }
  const milvus::Field& vec = t.schema.vector();
  const std::string anns = OptString(ctx.body, "annsField");
  if (!anns.empty() && anns != vec.name) {
    throw ApiError(1100, "invalid parameter, annsField " + anns +
                             " is not a vector field; the "
                             "collection's vector field is " +
                             vec.name);
  }
  const size_t dim = static_cast<size_t>(t.schema.dim());
  std::vector<flashembed::Query> queries;
  for (const Json& item : *data) {
    if (item.is_string()) {
      if (t.schema.text_field.empty()) {
        throw ApiError(1801,
                       "can only accept json format request, error: a text query needs a "
                       "collection with a text field (a TextEmbedding function); " +
                           t.name + " has none");
      }
      queries.push_back(flashembed::Query::Text(item.get<std::string>()));
      continue;
    }
    if (!item.is_array()) {
      throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                               std::string(item.type_name()) + " into Go value of type []float32");
    }
    if (item.size() != dim) {
      throw ApiError(1801, fmt::format("can only accept json format request, error: dimension: {}, "
                                       "but length of []float: {}: invalid "
                                       "parameter[expected=FloatVector][actual={}]",
                                       dim, item.size(), Dump(item)));
    }
    std::vector<float> v;
    v.reserve(dim);
    for (const Json& x : item) {
      if (!x.is_number() || !std::isfinite(x.get<double>()) ||
          std::fabs(x.get<double>()) > 3.4e38) {
        throw ApiError(1801, "can only accept json format request, error: json: cannot unmarshal " +
                                 Dump(x) + " into Go value of type float32");
      }
      v.push_back(static_cast<float>(x.get<double>()));
    }
    queries.push_back(flashembed::Query::Vector(std::move(v)));
  }
  if (queries.size() > static_cast<size_t>(kMaxTopK)) {
    throw ApiError(1100, fmt::format("invalid parameter, nq should be in range [1, 16384], but "
                                     "got {}",
                                     queries.size()));
  }
  const int64_t limit = OptInt(ctx.body, "limit", 100);
  const int64_t offset = OptInt(ctx.body, "offset", 0);
  if (limit <= 0 || limit > kMaxTopK) {
    throw ApiError(65535, fmt::format("topk [{0}] is invalid, it should be in range [1, 16384], "
                                      "but got {0}",
                                      limit));
  }
  if (offset < 0 || offset > kMaxTopK - limit) WindowError(offset, limit);
  SearchOptions options;
  options.k = static_cast<size_t>(offset + limit);
  options.filter = OptString(ctx.body, "filter");
  options.filter_params = ExprParams(ctx.body);
  options.group_by = OptString(ctx.body, "groupingField");
  if (!options.group_by.empty()) {
    const milvus::Field* field = t.schema.Find(options.group_by);
    if (field == nullptr && !t.schema.enable_dynamic) {
      throw ApiError(1700, "groupBy field not found in schema: field not found[field=" +
                               options.group_by + "]");
    }
    const int64_t group_size = OptInt(ctx.body, "groupSize", 1);
    if (group_size < 1 || group_size > 1024) {
      throw ApiError(1100, fmt::format("invalid parameter, groupSize must be in [1, 1024], got {}",
                                       group_size));
    }
    options.group_size = static_cast<size_t>(group_size);
  }
  const bool l2 = t.info.schema.metric == Metric::kL2;
  if (const Json* sp = FindKey(ctx.body, "searchParams"); sp != nullptr && !sp->is_null()) {
    if (!sp->is_object()) {
      throw ApiError(1801,
                     "can only accept json format request, error: searchParams must be an "
                     "object");
    }
    // Keys in searchParams.params and directly in searchParams are merged.
    Json merged = Json::object();
    for (auto it = sp->begin(); it != sp->end(); ++it) {
      if (it.key() != "params") merged[it.key()] = it.value();
    }
    if (const Json* p = FindKey(*sp, "params"); p != nullptr && p->is_object()) {
      for (auto it = p->begin(); it != p->end(); ++it) {
        if (merged.contains(it.key()) && merged[it.key()] != it.value()) {
          throw ApiError(1100, "invalid parameter, ambiguous parameter: " + it.key());
        }
        merged[it.key()] = it.value();
      }
    }
    if (const Json* m = FindKey(merged, "metric_type"); m != nullptr && m->is_string() &&
                                                        !m->get<std::string>().empty() &&
                                                        *m != t.schema.metric_type) {
      throw ApiError(1100, "invalid parameter, metric type not match: invalid parameter[expected=" +
                               t.schema.metric_type + "][actual=" + m->get<std::string>() + "]");
    }
    auto number = [&](std::string_view key) -> std::optional<double> {
      const Json* v = FindKey(merged, key);
      if (v == nullptr || v->is_null()) return std::nullopt;
      if (!v->is_number()) {
        throw ApiError(1100, "invalid parameter, search param " + std::string(key) +
                                 " must be a number, got " + Dump(*v));
      }
      return v->get<double>();
    };
    // Out of range or fractional is an error, not silently ignored or
    // truncated.
    auto ranged = [&](std::string_view key, double max) -> std::optional<size_t> {
      std::optional<double> v = number(key);
      if (!v.has_value()) return std::nullopt;
      if (!(*v >= 1 && *v <= max) || *v != std::floor(*v)) {
        throw ApiError(1100,
                       fmt::format("invalid parameter[{0}={1}]: out of range, flashembed "
                                   "supports {0} in [1, {2}]",
                                   key, Dump(*FindKey(merged, key)), static_cast<int64_t>(max)));
      }
      return static_cast<size_t>(*v);
    };
    if (auto ef = ranged("ef", 32768)) options.ef_search = *ef;
    if (auto np = ranged("nprobe", 65536)) options.nprobe = *np;
    // Range search: L2 keeps range_filter <= d < radius, IP/COSINE keeps
    // radius < s <= range_filter; Hit::score is -d for L2.
    std::optional<double> radius = number("radius");
    std::optional<double> range_filter = number("range_filter");
    if (l2) {
      if (radius) options.min_score = static_cast<float>(-*radius);
      if (range_filter) options.max_score = static_cast<float>(-*range_filter);
    } else {
      if (radius) options.min_score = static_cast<float>(*radius);
      if (range_filter) options.max_score = static_cast<float>(*range_filter);
    }
  }
  const OutputSpec spec = ParseOutputFields(ctx.body, t.schema, /*default_all=*/false);
  options.with_text = false;
  options.with_metadata = spec.all || spec.all_dynamic || !spec.names.empty();
  options.with_vector = spec.vector;
  RequireLoaded(t);
  Json rows = Json::array();
  Json topks = Json::array();
  for (const flashembed::Query& query : queries) {
    Result<std::vector<Hit>> hits = t.collection->Search(options, query);
    if (!hits.ok()) ThrowDatabaseError(hits.status(), options.filter);
    if (!query.text.empty()) metrics_->AddTextsEmbedded(1);
    size_t n = 0;
    for (size_t i = static_cast<size_t>(offset); i < hits->size(); ++i) {
      const Hit& hit = (*hits)[i];
      Json row =
          DocumentToRow(hit.id, hit.metadata, hit.vector, t.schema, spec, ctx.int64_as_string);
      // Milvus reports the raw metric: squared L2 (smaller is better) or
      // the IP/cosine similarity. Hit::score is -squared L2 for L2.
      row["distance"] = FloatToJson(l2 ? -hit.score : hit.score);
      rows.push_back(std::move(row));
      ++n;
    }
    topks.push_back(n);
  }
  return {{"code", 0}, {"cost", 0}, {"data", rows}, {"topks", topks}};
}

}  // namespace flashembed::server
