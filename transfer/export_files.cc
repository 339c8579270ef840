#include "transfer/export_files.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <memory>

#include <fmt/format.h>

#include "base/utf8.h"
#include "transfer/npy.h"
#include "transfer/rows.h"

namespace flashembed::transfer {
namespace {

namespace fs = std::filesystem;

constexpr size_t kFlushBytes = 1 << 20;

// A file written through a buffer; Close() reports the first error.
class OutFile {
 public:
  Status Open(const fs::path& path) {
    path_ = path.string();
    file_ = std::fopen(path_.c_str(), "wb");
    if (file_ == nullptr)
      return Status::IOError("cannot create " + path_ + ": " + std::strerror(errno));
    return Status::OK();
  }
  ~OutFile() {
    if (file_ != nullptr) std::fclose(file_);
  }
  Status Write(std::string_view data) {
    bytes_ += data.size();
    if (std::fwrite(data.data(), 1, data.size(), file_) != data.size()) {
      return Status::IOError("cannot write " + path_ + ": " + std::strerror(errno));
    }
    return Status::OK();
  }
  Status Close() {
    std::FILE* f = file_;
    file_ = nullptr;
    if (f != nullptr && std::fclose(f) != 0) {
      return Status::IOError("cannot write " + path_ + ": " + std::strerror(errno));
    }
    return Status::OK();
  }
  uint64_t bytes() const { return bytes_; }

 private:
  std::string path_;
  std::FILE* file_ = nullptr;
  uint64_t bytes_ = 0;
};

std::string Dump(const Json& value) {
  return value.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The string a scalar is written as in a NumPy "<U" column.
std::string ScalarText(const Json& value) {
  return value.is_string() ? value.get<std::string>() : Dump(value);
}

size_t Width(std::string_view s) { return Utf8Length(s).value_or(s.size()); }

std::string Context(const Id& id) {
  return "record " + (id.is_int() ? id.ToString() : "\"" + id.as_string() + "\"") + ": ";
}

// NumPy bytes of one row with the given widths, counting every column that
// may be written (a string column at least one code point).
uint64_t RowBytes(const ExportPlan& plan, const std::vector<size_t>& w) {
  const RowSchema& s = plan.schema;
  uint64_t bytes = (s.pk.type == "Int64" ? 8 : 4 * std::max<size_t>(1, w[kIdWidth])) +
                   4 * static_cast<uint64_t>(s.dim) + 4 * std::max<size_t>(1, w[kTextWidth]);
  for (size_t i = 0; i < s.scalars.size(); ++i) {
    const std::string& type = s.scalars[i].type;
    if (type == "VarChar" || type == "JSON") {
      bytes += 4 * std::max<size_t>(1, w[kFirstScalarWidth + i]);
    } else {
      bytes += type == "Bool" || type == "Int8"     ? 1
               : type == "Int16"                    ? 2
               : type == "Int32" || type == "Float" ? 4
                                                    : 8;
    }
  }
  return bytes + 4 * std::max<size_t>(1, w.back());
}

std::string ScalarDescr(const Field& f, size_t width) {
  const std::string& t = f.type;
  if (t == "VarChar" || t == "JSON") return fmt::format("<U{}", std::max<size_t>(1, width));
  if (t == "Bool") return "|b1";
  if (t == "Int8") return "|i1";
  if (t == "Int16") return "<i2";
  if (t == "Int32") return "<i4";
  if (t == "Int64") return "<i8";
  if (t == "Float") return "<f4";
  return "<f8";
}

template <typename T>
void Put(std::string* out, T value) {
  out->append(reinterpret_cast<const char*>(&value), sizeof value);
}

void PutScalar(const Field& f, const Json& v, size_t width, std::string* out) {
  const std::string& t = f.type;
  if (t == "VarChar" || t == "JSON") {
    AppendUtf32(ScalarText(v), std::max<size_t>(1, width), out);
  } else if (t == "Bool") {
    out->push_back(v.get<bool>() ? 1 : 0);
  } else if (t == "Int8") {
    Put(out, static_cast<int8_t>(v.get<int64_t>()));
  } else if (t == "Int16") {
    Put(out, static_cast<int16_t>(v.get<int64_t>()));
  } else if (t == "Int32") {
    Put(out, static_cast<int32_t>(v.get<int64_t>()));
  } else if (t == "Int64") {
    Put(out, v.get<int64_t>());
  } else if (t == "Float") {
    Put(out, static_cast<float>(v.get<double>()));
  } else {
    Put(out, v.get<double>());
  }
}

// ---- JSON rows ---------------------------------------------------------------

class JsonWriter {
 public:
  JsonWriter(const ExportPlan& plan, fs::path dir, std::string rel, ExportSummary* summary)
      : plan_(plan), dir_(std::move(dir)), rel_(std::move(rel)), summary_(summary) {}

  Status Add(const PreparedRow& row, const Document& doc) {
    line_.clear();
    FE_RETURN_IF_ERROR(AppendJsonRow(plan_.schema, row, doc.vector, /*flat_meta=*/false, &line_));
    if (file_rows_ > 0 && file_bytes_ + line_.size() + 8 > plan_.max_file_bytes) {
      FE_RETURN_IF_ERROR(CloseFile());
    }
    if (file_ == nullptr) FE_RETURN_IF_ERROR(OpenFile());
    buffer_ += file_rows_ == 0 ? "\n" : ",\n";
    buffer_ += line_;
    file_bytes_ += line_.size() + 2;
    ++file_rows_;
    if (buffer_.size() >= kFlushBytes) FE_RETURN_IF_ERROR(Flush());
    return Status::OK();
  }

  Status Finish() { return file_ != nullptr ? CloseFile() : Status::OK(); }

 private:
  Status OpenFile() {
    ++n_;
    const std::string name = fmt::format("{}.json", n_);
    file_ = std::make_unique<OutFile>();
    FE_RETURN_IF_ERROR(file_->Open(dir_ / name));
    summary_->groups.push_back({rel_ + "/" + name});
    buffer_ = "{\"rows\":[";
    file_bytes_ = buffer_.size() + 4;
    file_rows_ = 0;
    return Status::OK();
  }
  Status Flush() {
    FE_RETURN_IF_ERROR(file_->Write(buffer_));
    buffer_.clear();
    return Status::OK();
  }
  Status CloseFile() {
    buffer_ += "\n]}\n";
    FE_RETURN_IF_ERROR(Flush());
    summary_->bytes += file_->bytes();
    FE_RETURN_IF_ERROR(file_->Close());
    file_.reset();
    return Status::OK();
  }

  const ExportPlan& plan_;
  fs::path dir_;
  std::string rel_;
  ExportSummary* summary_;
  std::unique_ptr<OutFile> file_;
  std::string buffer_;
  std::string line_;
  uint64_t file_bytes_ = 0;
  uint64_t file_rows_ = 0;
  int n_ = 0;
};

// ---- NumPy groups ------------------------------------------------------------

class NumpyWriter {
 public:
  NumpyWriter(const ExportPlan& plan, fs::path dir, std::string rel, ExportSummary* summary)
      : plan_(plan), dir_(std::move(dir)), rel_(std::move(rel)), summary_(summary) {}

  Status Add(const PreparedRow& row, const Document& doc) {
    const RowSchema& s = plan_.schema;
    if (group_ == 0 || rows_ == plan_.groups[group_ - 1].rows) {
      FE_RETURN_IF_ERROR(CloseGroup());
      FE_RETURN_IF_ERROR(OpenGroup());
    }
    const std::vector<size_t>& w = plan_.groups[group_ - 1].widths;
    auto changed = [] {
      return Status::Internal("the collection changed during the export; run it again");
    };
    size_t c = 0;
    if (s.pk.type == "Int64") {
      if (!row.id.is_int()) return changed();
      Put(&columns_[c].buffer, row.id.as_int());
    } else {
      const std::string& id = row.id.as_string();
      if (Width(id) > std::max<size_t>(1, w[kIdWidth])) return changed();
      AppendUtf32(id, std::max<size_t>(1, w[kIdWidth]), &columns_[c].buffer);
    }
    ++c;
    columns_[c++].buffer.append(reinterpret_cast<const char*>(doc.vector.data()),
                                doc.vector.size() * sizeof(float));
    if (s.text.has_value()) {
      if (Width(row.text) > std::max<size_t>(1, w[kTextWidth])) return changed();
      AppendUtf32(row.text, std::max<size_t>(1, w[kTextWidth]), &columns_[c++].buffer);
    }
    for (size_t i = 0; i < s.scalars.size(); ++i) {
      const size_t width = w[kFirstScalarWidth + i];
      if ((s.scalars[i].type == "VarChar" || s.scalars[i].type == "JSON") &&
          Width(ScalarText(row.scalars[i])) > std::max<size_t>(1, width)) {
        return changed();
      }
      PutScalar(s.scalars[i], row.scalars[i], width, &columns_[c++].buffer);
    }
    if (s.dynamic) {
      if (Width(row.meta_text) > std::max<size_t>(1, w.back())) return changed();
      AppendUtf32(row.meta_text, std::max<size_t>(1, w.back()), &columns_[c++].buffer);
    }
    ++rows_;
    for (Column& col : columns_) {
      if (col.buffer.size() >= kFlushBytes) {
        FE_RETURN_IF_ERROR(col.file.Write(col.buffer));
        col.buffer.clear();
      }
    }
    return Status::OK();
  }

  Status Finish() {
    FE_RETURN_IF_ERROR(CloseGroup());
    if (group_ != plan_.groups.size()) {
      return Status::Internal("the collection changed during the export; run it again");
    }
    return Status::OK();
  }

 private:
  struct Column {
    OutFile file;
    std::string buffer;
  };

  Status OpenGroup() {
    if (group_ >= plan_.groups.size()) {
      return Status::Internal("the collection changed during the export; run it again");
    }
    const GroupPlan& g = plan_.groups[group_++];
    const RowSchema& s = plan_.schema;
    const std::string rel = fmt::format("{}/{}", rel_, group_);
    std::error_code ec;
    fs::create_directories(dir_ / std::to_string(group_), ec);
    if (ec) return Status::IOError("cannot create " + (dir_ / std::to_string(group_)).string());
    std::vector<std::pair<std::string, std::string>> specs;  // name, descr
    const uint64_t n = g.rows;
    specs.emplace_back(s.pk.name,
                       s.pk.type == "Int64"
                           ? "<i8"
                           : fmt::format("<U{}", std::max<size_t>(1, g.widths[kIdWidth])));
    specs.emplace_back(s.vector.name, "<f4");
    if (s.text.has_value()) {
      specs.emplace_back(s.text->name,
                         fmt::format("<U{}", std::max<size_t>(1, g.widths[kTextWidth])));
    }
    for (size_t i = 0; i < s.scalars.size(); ++i) {
      specs.emplace_back(s.scalars[i].name,
                         ScalarDescr(s.scalars[i], g.widths[kFirstScalarWidth + i]));
    }
    if (s.dynamic)
      specs.emplace_back("$meta", fmt::format("<U{}", std::max<size_t>(1, g.widths.back())));
    columns_ = std::vector<Column>(specs.size());
    std::vector<std::string> files;
    for (size_t i = 0; i < specs.size(); ++i) {
      const std::string name = specs[i].first + ".npy";
      FE_RETURN_IF_ERROR(columns_[i].file.Open(dir_ / std::to_string(group_) / name));
      std::vector<uint64_t> shape = {n};
      if (i == 1) shape.push_back(static_cast<uint64_t>(s.dim));
      columns_[i].buffer = NpyHeaderBytes(specs[i].second, shape);
      files.push_back(rel + "/" + name);
    }
    summary_->groups.push_back(std::move(files));
    rows_ = 0;
    return Status::OK();
  }

  Status CloseGroup() {
    if (columns_.empty()) return Status::OK();
    if (rows_ != plan_.groups[group_ - 1].rows) {
      return Status::Internal("the collection changed during the export; run it again");
    }
    for (Column& col : columns_) {
      FE_RETURN_IF_ERROR(col.file.Write(col.buffer));
      summary_->bytes += col.file.bytes();
      FE_RETURN_IF_ERROR(col.file.Close());
    }
    columns_.clear();
    return Status::OK();
  }

  const ExportPlan& plan_;
  fs::path dir_;
  std::string rel_;
  ExportSummary* summary_;
  std::vector<Column> columns_;
  size_t group_ = 0;   // groups opened
  uint64_t rows_ = 0;  // rows in the open group
};

}  // namespace

Status SurveyRecords(const Collection& collection, const CollectionInfo& info,
                     const ExportOptions& options, ExportPlan* plan) {
  RowSchema& s = plan->schema;
  const bool numpy = plan->format == FileFormat::kMilvusNumpy;
  if (numpy) {
    for (const Field& f : s.scalars) {
      if (f.type == "Array" || f.nullable) {
        return Status::InvalidArgument(
            "field \"" + f.name + "\" is " + (f.nullable ? "nullable" : "an Array") +
            ", which Milvus cannot import from NumPy files; export with --format milvus-json");
      }
    }
  }
  const bool declared_pk = !s.pk.type.empty();
  if (!declared_pk && options.pk_type == PkType::kInt64) s.pk.type = "Int64";
  if (!declared_pk && options.pk_type == PkType::kVarChar) s.pk.type = "VarChar";
  plan->ids_as_strings = !declared_pk && options.pk_type == PkType::kVarChar;
  // The text field of a vector-only collection is kept when any record has
  // a text; until the survey ends, assume it is (widths count it anyway).
  const bool had_text = s.text.has_value();
  if (!had_text && !s.milvus_layout) s.text = Field{.name = "text", .type = "VarChar"};
  size_t max_id = 0;
  size_t max_text = 0;
  bool any_text = false;
  bool any_dynamic = false;
  std::optional<Id> first_int;
  std::optional<Id> first_string;
  const size_t width_slots = kFirstScalarWidth + s.scalars.size() + 1;
  std::vector<size_t> widths(width_slots, 0);
  std::vector<size_t> row_widths(width_slots, 0);
  GroupPlan group{0, std::vector<size_t>(width_slots, 0)};
  PreparedRow row;
  uint64_t seen = 0;

  ScanOptions scan{
      .with_text = true, .with_metadata = true, .with_vector = false, .batch = options.batch};
  Status status = collection.ScanRecords(scan, [&](std::span<const Document> docs) -> Status {
    for (const Document& doc : docs) {
      if (doc.id.is_int() && !first_int) first_int = doc.id;
      if (doc.id.is_string() && !first_string) first_string = doc.id;
      if (s.pk.type.empty()) s.pk.type = doc.id.is_int() ? "Int64" : "VarChar";
      if (first_int && first_string && !plan->ids_as_strings) {
        return Status::InvalidArgument("the collection has integer ids (" + first_int->ToString() +
                                       ") and string ids (\"" + first_string->as_string() +
                                       "\"); a Milvus primary key is Int64 or VarChar: export "
                                       "with --pk-type varchar to write every id as a string");
      }
      if ((s.pk.type == "Int64") != doc.id.is_int() && !plan->ids_as_strings) {
        return Status::InvalidArgument(Context(doc.id) + "the primary key \"" + s.pk.name +
                                       "\" is " + s.pk.type + " but this id is " +
                                       (doc.id.is_int() ? "an integer" : "a string"));
      }
      Status st = PrepareRow(s, plan->ids_as_strings, doc, &row);
      if (!st.ok()) return Status::InvalidArgument(Context(doc.id) + st.message());
      const std::string id_text = row.id.ToString();
      max_id = std::max(max_id, id_text.size());
      max_text = std::max(max_text, row.text.size());
      any_text = any_text || !row.text.empty();
      any_dynamic = any_dynamic || !row.meta.empty();
      if (numpy) {
        row_widths[kIdWidth] = row.id.is_int() ? 0 : Width(id_text);
        row_widths[kTextWidth] = Width(row.text);
        for (size_t i = 0; i < s.scalars.size(); ++i) {
          row_widths[kFirstScalarWidth + i] = Width(ScalarText(row.scalars[i]));
        }
        row_widths.back() = Width(row.meta_text);
        for (size_t i = 0; i < width_slots; ++i)
          widths[i] = std::max(group.widths[i], row_widths[i]);
        if (group.rows > 0 && (group.rows + 1) * RowBytes(*plan, widths) > plan->max_file_bytes) {
          plan->groups.push_back(group);
          group = GroupPlan{0, row_widths};
        } else {
          group.widths = widths;
        }
        ++group.rows;
      }
      ++seen;
    }
    if (options.progress) options.progress({"survey", seen, info.count, 0});
    return Status::OK();
  });
  FE_RETURN_IF_ERROR(status);
  if (group.rows > 0) plan->groups.push_back(group);
  plan->records = seen;
  if (s.pk.type.empty()) s.pk.type = "Int64";  // an empty collection
  if (!declared_pk && s.pk.type == "VarChar") s.pk.set_max_length(RoundMaxLength(max_id));
  if (!had_text && !any_text) s.text.reset();
  if (!s.milvus_layout && s.text.has_value()) s.text->set_max_length(RoundMaxLength(max_text));
  if (any_dynamic) s.dynamic = true;
  return Status::OK();
}

Status WriteRecords(const Collection& collection, const ExportOptions& options,
                    const ExportPlan& plan, const fs::path& out, const std::string& uuid,
                    ExportSummary* summary) {
  std::error_code ec;
  fs::create_directories(out / uuid, ec);
  if (ec) return Status::IOError("cannot create " + (out / uuid).string() + ": " + ec.message());
  JsonWriter json_writer(plan, out / uuid, uuid, summary);
  NumpyWriter numpy_writer(plan, out / uuid, uuid, summary);
  const bool numpy = plan.format == FileFormat::kMilvusNumpy;
  PreparedRow row;
  ScanOptions scan{.batch = options.batch};
  Status status = collection.ScanRecords(scan, [&](std::span<const Document> docs) -> Status {
    for (const Document& doc : docs) {
      if (summary->records >= plan.records) {
        return Status::Internal("the collection changed during the export; run it again");
      }
      FE_RETURN_IF_ERROR(PrepareRow(plan.schema, plan.ids_as_strings, doc, &row));
      if (doc.vector.size() != static_cast<size_t>(plan.schema.dim)) {
        return Status::Internal(fmt::format("{}vector of {} values in a collection of dim {}",
                                            Context(doc.id), doc.vector.size(), plan.schema.dim));
      }
      for (float x : doc.vector) {
        if (!std::isfinite(x)) {
          return Status::InvalidArgument(Context(doc.id) +
                                         "the vector holds NaN or Inf, which Milvus refuses");
        }
      }
      FE_RETURN_IF_ERROR(numpy ? numpy_writer.Add(row, doc) : json_writer.Add(row, doc));
      ++summary->records;
    }
    if (options.progress) {
      options.progress({"export", summary->records, plan.records, summary->bytes});
    }
    return Status::OK();
  });
  FE_RETURN_IF_ERROR(status);
  FE_RETURN_IF_ERROR(numpy ? numpy_writer.Finish() : json_writer.Finish());
  if (summary->records != plan.records) {
    return Status::Internal("the collection changed during the export; run it again");
  }
  return Status::OK();
}

Status PrepareRow(const RowSchema& schema, bool ids_as_strings, const Document& doc,
                  PreparedRow* row) {
  row->id = ids_as_strings && doc.id.is_int() ? Id(doc.id.ToString()) : doc.id;
  if (row->id.is_string() && !Utf8Length(row->id.as_string()).has_value()) {
    return Status::InvalidArgument("the id is not valid UTF-8, which a Milvus VarChar needs");
  }
  row->text = doc.text;
  Json meta = Json::parse(doc.metadata.empty() ? "{}" : doc.metadata, nullptr, false);
  if (!meta.is_object()) meta = Json::object();
  if (schema.text.has_value()) {
    if (row->text.empty() && schema.milvus_layout) {
      auto it = meta.find(schema.text->name);
      if (it != meta.end() && it->is_string()) {
        row->text_owned = it->get<std::string>();  // the key is erased below
        row->text = row->text_owned;
      }
    }
    if (!Utf8Length(row->text).has_value()) {
      return Status::InvalidArgument("the text is not valid UTF-8");
    }
    const size_t max =
        schema.text->max_length() == 0 ? kMaxVarCharLength : schema.text->max_length();
    if (row->text.size() > max) {
      return Status::InvalidArgument(
          fmt::format("the text has {} bytes, more than the {} bytes of VarChar field \"{}\"",
                      row->text.size(), max, schema.text->name));
    }
  }
  row->scalars.resize(schema.scalars.size());
  for (size_t i = 0; i < schema.scalars.size(); ++i) {
    const Field& f = schema.scalars[i];
    auto it = meta.find(f.name);
    FE_RETURN_IF_ERROR(ExportScalar(f, it == meta.end() ? nullptr : &*it, &row->scalars[i]));
    if (it != meta.end()) meta.erase(it);
  }
  if (schema.milvus_layout) {
    meta.erase(schema.pk.name);
    if (schema.text.has_value()) meta.erase(schema.text->name);
  }
  row->meta = std::move(meta);
  row->meta_text = Dump(row->meta);
  return Status::OK();
}

Status AppendJsonRow(const RowSchema& s, const PreparedRow& row, std::span<const float> vector,
                     bool flat_meta, std::string* out) {
  out->push_back('{');
  AppendJsonString(s.pk.name, out);
  out->push_back(':');
  if (row.id.is_int()) {
    *out += row.id.ToString();
  } else {
    AppendJsonString(row.id.as_string(), out);
  }
  out->push_back(',');
  AppendJsonString(s.vector.name, out);
  out->push_back(':');
  AppendFloatArray(vector, out);
  if (s.text.has_value()) {
    out->push_back(',');
    AppendJsonString(s.text->name, out);
    out->push_back(':');
    AppendJsonString(row.text, out);
  }
  for (size_t i = 0; i < s.scalars.size(); ++i) {
    out->push_back(',');
    AppendJsonString(s.scalars[i].name, out);
    out->push_back(':');
    *out += Dump(row.scalars[i]);
  }
  if (s.dynamic && !flat_meta) {
    *out += ",\"$meta\":";
    *out += row.meta_text;
  } else if (s.dynamic) {
    for (const auto& [key, value] : row.meta.items()) {
      if (key == "$meta" || s.IsField(key)) {
        return Status::InvalidArgument("the metadata key \"" + key +
                                       "\" is also the name of a field; a row cannot carry both");
      }
      out->push_back(',');
      AppendJsonString(key, out);
      out->push_back(':');
      *out += Dump(value);
    }
  } else if (!row.meta.empty()) {
    return Status::InvalidArgument("the metadata key \"" + row.meta.begin().key() +
                                   "\" has no field and dynamic fields are off");
  }
  out->push_back('}');
  return Status::OK();
}

std::string DocumentToLine(const DocumentInfo& d) {
  Json chunks = Json::array();
  for (const ChunkInfo& c : d.chunks) chunks.push_back({c.ordinal, c.begin, c.end, c.tokens});
  Json meta = Json::parse(d.metadata.empty() ? "{}" : d.metadata, nullptr, false);
  nlohmann::ordered_json line = {{"id", d.id},
                                 {"source", d.source},
                                 {"title", d.title},
                                 {"metadata", meta.is_discarded() ? Json::object() : meta},
                                 {"content_hash", d.content_hash},
                                 {"bytes", d.bytes},
                                 {"tokens", d.tokens},
                                 {"chunk_tokens", d.chunk_tokens},
                                 {"overlap_tokens", d.overlap_tokens},
                                 {"chunks", chunks},
                                 {"updated_unix_ms", d.updated_unix_ms}};
  std::string text = line.dump(-1, ' ', false, Json::error_handler_t::replace);
  text.pop_back();  // '}': the vector goes last, written exactly
  text += ",\"vector\":";
  AppendFloatArray(d.vector, &text);
  text += '}';
  return text;
}

Result<DocumentInfo> DocumentFromLine(std::string_view line) {
  // The vector is written last; its numbers are read from their text so
  // every float comes back bit-exact (not through a double).
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.remove_suffix(1);
  const size_t at = line.rfind(",\"vector\":[");
  if (at == std::string_view::npos || line.size() < at + 12 ||
      line.substr(line.size() - 2) != "]}") {
    return Status::InvalidArgument("no \"vector\" array at the end of the line");
  }
  DocumentInfo d;
  std::string_view numbers = line.substr(at + 11, line.size() - 2 - (at + 11));
  while (!numbers.empty()) {
    const size_t comma = numbers.find(',');
    const std::optional<float> f = ParseFloatToken(numbers.substr(0, comma));
    if (!f.has_value()) return Status::InvalidArgument("bad vector value");
    d.vector.push_back(*f);
    if (comma == std::string_view::npos) break;
    numbers.remove_prefix(comma + 1);
  }
  std::string rest(line.substr(0, at));
  rest += '}';
  Json j = Json::parse(rest, nullptr, false);
  if (!j.is_object()) return Status::InvalidArgument("not a JSON object");
  try {
    d.id = j.at("id").get<std::string>();
    d.source = j.value("source", "");
    d.title = j.value("title", "");
    d.metadata = Dump(j.value("metadata", Json::object()));
    d.content_hash = j.at("content_hash").get<std::string>();
    d.bytes = j.value("bytes", uint64_t{0});
    d.tokens = j.value("tokens", uint64_t{0});
    d.chunk_tokens = j.value("chunk_tokens", 0u);
    d.overlap_tokens = j.value("overlap_tokens", 0u);
    for (const Json& c : j.at("chunks")) {
      d.chunks.push_back({c.at(0).get<uint32_t>(), c.at(1).get<uint64_t>(), c.at(2).get<uint64_t>(),
                          c.at(3).get<uint32_t>()});
    }
    d.updated_unix_ms = j.value("updated_unix_ms", int64_t{0});
  } catch (const Json::exception& e) {
    return Status::InvalidArgument(std::string("malformed document: ") + e.what());
  }
  if (d.id.empty()) return Status::InvalidArgument("empty document id");
  return d;
}

Status WriteDocuments(const Collection& collection, const ExportOptions& options,
                      const fs::path& out, ExportSummary* summary) {
  OutFile file;
  FE_RETURN_IF_ERROR(file.Open(out / "flashembed-documents.jsonl"));
  std::string buffer;
  Status status = collection.ScanDocuments(true, [&](const DocumentInfo& doc) -> Status {
    buffer += DocumentToLine(doc);
    buffer += '\n';
    ++summary->documents;
    if (buffer.size() >= kFlushBytes) {
      FE_RETURN_IF_ERROR(file.Write(buffer));
      buffer.clear();
      if (options.progress) options.progress({"documents", summary->documents, 0, file.bytes()});
    }
    return Status::OK();
  });
  FE_RETURN_IF_ERROR(status);
  FE_RETURN_IF_ERROR(file.Write(buffer));
  return file.Close();
}

Status WriteTextFile(const fs::path& path, std::string_view text) {
  OutFile file;
  FE_RETURN_IF_ERROR(file.Open(path));
  FE_RETURN_IF_ERROR(file.Write(text));
  return file.Close();
}

}  // namespace flashembed::transfer
