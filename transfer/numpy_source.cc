// NumPy groups (transfer/FORMAT.md): one .npy per field, read in blocks
// of rows from every file at once, each element checked as Milvus does.
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>

#include <fmt/format.h>

#include "base/utf8.h"
#include "transfer/npy.h"
#include "transfer/rows.h"

namespace flashembed::transfer {
namespace {

constexpr uint64_t kBlockRows = 1024;

enum class Role { kPk, kVector, kText, kScalar, kMeta };

struct Column {
  std::string display;  // "<group>/<field>.npy"
  std::string name;     // the field
  Role role = Role::kScalar;
  const Field* field = nullptr;  // kPk, kText, kScalar
  NpyHeader header;
  std::ifstream in;
  std::string block;  // the current block of rows
};

bool IsString(const NpyHeader& h) { return h.kind == 'U' || h.kind == 'S'; }

// The dtype Milvus requires for a scalar type (§3.4), or "" for none.
std::string_view ScalarDescr(const std::string& type) {
  if (type == "Bool") return "|b1";
  if (type == "Int8") return "|i1";
  if (type == "Int16") return "<i2";
  if (type == "Int32") return "<i4";
  if (type == "Int64") return "<i8";
  if (type == "Float") return "<f4";
  if (type == "Double") return "<f8";
  return "";
}

bool Matches(const NpyHeader& h, std::string_view descr) {
  const char kind = descr[1] == 'b' ? 'b' : descr[1];
  const size_t size = static_cast<size_t>(descr[2] - '0');
  return h.kind == kind && h.item_size == size;
}

Status CheckColumn(const Column& c, const RowSchema& schema) {
  const NpyHeader& h = c.header;
  auto bad = [&](const std::string& want) {
    return Status::InvalidArgument(c.display + ": field \"" + c.name + "\" needs " + want +
                                   ", the file has dtype '" + h.descr + "' and shape " +
                                   h.ShapeString());
  };
  if (h.fortran_order)
    return Status::InvalidArgument(c.display + ": Fortran-ordered arrays are not supported");
  if (c.role == Role::kVector) {
    const bool dtype_ok = h.kind == 'f' && (h.item_size == 4 || h.item_size == 8);
    const bool shape_ok =
        h.shape.size() == 2 && (schema.dim == 0 || h.shape[1] == static_cast<uint64_t>(schema.dim));
    if (!dtype_ok || !shape_ok) {
      return bad(fmt::format("dtype '<f4' (or '<f8') and shape (N, {})",
                             schema.dim > 0 ? std::to_string(schema.dim) : "dim"));
    }
    if (h.shape[1] == 0) return bad("a vector dimension above 0");
    return Status::OK();
  }
  if (h.shape.size() != 1) return bad("a one-dimensional array (N,)");
  switch (c.role) {
    case Role::kPk:
      if (c.field->type == "Int64" && !(h.kind == 'i' && h.item_size == 8))
        return bad("dtype '<i8'");
      if (c.field->type == "VarChar" && !IsString(h)) return bad("dtype '<U{L}' or '|S{L}'");
      if (c.field->type.empty() && !(h.kind == 'i' && h.item_size == 8) && !IsString(h)) {
        return bad("dtype '<i8', '<U{L}' or '|S{L}'");
      }
      return Status::OK();
    case Role::kText:
    case Role::kMeta: return IsString(h) ? Status::OK() : bad("dtype '<U{L}' or '|S{L}'");
    case Role::kScalar: {
      const std::string& type = c.field->type;
      if (type == "VarChar" || type == "JSON") {
        return IsString(h) ? Status::OK() : bad("dtype '<U{L}' or '|S{L}'");
      }
      const std::string_view descr = ScalarDescr(type);
      if (descr.empty()) {
        return Status::InvalidArgument(c.display + ": field \"" + c.name + "\" of type " + type +
                                       " cannot be imported from NumPy (use JSON rows)");
      }
      return Matches(h, descr) ? Status::OK() : bad("dtype '" + std::string(descr) + "'");
    }
    default: return Status::OK();
  }
}

template <typename T>
T Load(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

class NumpyGroupSource : public RowSource {
 public:
  NumpyGroupSource(std::string display, std::vector<Column> columns, uint64_t rows)
      : display_(std::move(display)), columns_(std::move(columns)), rows_(rows) {
    for (const Column& c : columns_) bytes_ += c.header.data_offset;
  }

  Result<bool> Next(RowValues* v) override {
    v->Clear();
    if (row_ >= rows_) return false;
    if (row_ >= block_start_ + block_rows_) FE_RETURN_IF_ERROR(ReadBlock());
    const uint64_t k = row_ - block_start_;
    ++row_;
    for (Column& c : columns_) {
      Status s = Decode(c, c.block.data() + k * c.header.row_bytes(), v);
      if (!s.ok()) {
        return Status::InvalidArgument(fmt::format("{}: row {}: {}", c.display, row_, s.message()));
      }
    }
    return true;
  }

  std::string Where() const override { return fmt::format("{}: row {}", display_, row_); }
  uint64_t bytes() const override { return bytes_; }

 private:
  Status ReadBlock() {
    block_start_ = row_;
    block_rows_ = std::min(kBlockRows, rows_ - row_);
    for (Column& c : columns_) {
      const size_t size = static_cast<size_t>(block_rows_ * c.header.row_bytes());
      c.block.resize(size);
      c.in.read(c.block.data(), static_cast<std::streamsize>(size));
      if (static_cast<size_t>(c.in.gcount()) != size) {
        return Status::IOError(c.display + ": read failed (was the file changed?)");
      }
      if (c.header.swap) {
        SwapBytes(c.block.data(), size, c.header.kind == 'U' ? 4 : c.header.item_size);
      }
      bytes_ += size;
    }
    return Status::OK();
  }

  static Result<std::string> StringAt(const NpyHeader& h, const char* p) {
    if (h.kind == 'U') return Utf32ToUtf8(std::string_view(p, h.item_size));
    size_t n = h.item_size;
    while (n > 0 && p[n - 1] == '\0') --n;
    std::string s(p, n);
    if (!Utf8Length(s).has_value()) return Status::InvalidArgument("string is not valid UTF-8");
    return s;
  }

  // The element of one row at `p` into `v`.
  Status Decode(const Column& c, const char* p, RowValues* v) const {
    const NpyHeader& h = c.header;
    const std::string field = "field \"" + c.name + "\": ";
    switch (c.role) {
      case Role::kPk: {
        if (h.kind == 'i') {
          v->pk = Id(Load<int64_t>(p));
          return Status::OK();
        }
        FE_ASSIGN_OR_RETURN(std::string s, StringAt(h, p));
        if (s.empty()) return Status::InvalidArgument(field + "empty string id");
        const size_t max = c.field->max_length() == 0 ? kMaxVarCharLength : c.field->max_length();
        if (s.size() > max) {
          return Status::InvalidArgument(
              fmt::format("{}string of {} bytes exceeds max_length {}", field, s.size(), max));
        }
        v->pk = Id(std::move(s));
        return Status::OK();
      }
      case Role::kVector: {
        const size_t dim = static_cast<size_t>(h.shape[1]);
        v->vector.resize(dim);
        for (size_t i = 0; i < dim; ++i) {
          const double x = h.item_size == 4 ? static_cast<double>(Load<float>(p + 4 * i))
                                            : Load<double>(p + 8 * i);
          const float f = static_cast<float>(x);
          if (!std::isfinite(f)) {
            return Status::InvalidArgument(
                fmt::format("{}element {} is {}; vectors must hold finite float32 values", field, i,
                            (std::isnan(x)   ? "NaN"
                             : std::isinf(x) ? "infinite"
                                             : "beyond float32")));
          }
          v->vector[i] = f;
        }
        v->has_vector = true;
        return Status::OK();
      }
      case Role::kText: {
        FE_ASSIGN_OR_RETURN(std::string s, StringAt(h, p));
        Json stored;
        FE_RETURN_IF_ERROR(CheckScalar(*c.field, Json(std::move(s)), &stored));
        v->text = std::move(stored.get_ref<std::string&>());
        return Status::OK();
      }
      case Role::kMeta: {
        FE_ASSIGN_OR_RETURN(std::string s, StringAt(h, p));
        FE_RETURN_IF_ERROR(CheckValueDepth(s, "$meta", /*is_meta=*/true));
        Json meta = Json::parse(s, nullptr, false);
        if (!meta.is_object()) {
          return Status::InvalidArgument(field +
                                         "illegal value for the dynamic field, not the "
                                         "text of a JSON object");
        }
        v->meta = std::move(meta);
        return Status::OK();
      }
      case Role::kScalar: break;
    }
    const std::string& type = c.field->type;
    Json value;
    if (type == "VarChar" || type == "JSON") {
      FE_ASSIGN_OR_RETURN(std::string s, StringAt(h, p));
      value = std::move(s);
    } else if (type == "Bool") {
      value = p[0] != 0;
    } else if (type == "Int8") {
      value = Load<int8_t>(p);
    } else if (type == "Int16") {
      value = Load<int16_t>(p);
    } else if (type == "Int32") {
      value = Load<int32_t>(p);
    } else if (type == "Int64") {
      value = Load<int64_t>(p);
    } else {
      const double x = type == "Float" ? static_cast<double>(Load<float>(p)) : Load<double>(p);
      if (!std::isfinite(x)) return Status::InvalidArgument(field + "NaN and Inf are not allowed");
      value = x;
    }
    Json stored;
    FE_RETURN_IF_ERROR(CheckScalar(*c.field, value, &stored));
    v->fields[c.name] = std::move(stored);
    return Status::OK();
  }

  std::string display_;
  std::vector<Column> columns_;
  uint64_t rows_ = 0;
  uint64_t row_ = 0;  // rows returned
  uint64_t block_start_ = 0;
  uint64_t block_rows_ = 0;
  uint64_t bytes_ = 0;
};

}  // namespace

Result<std::unique_ptr<RowSource>> OpenNumpyGroup(const std::vector<std::string>& paths,
                                                  const std::string& display,
                                                  const RowSchema* schema) {
  std::vector<Column> columns;
  std::map<std::string, size_t> by_name;
  for (const std::string& path : paths) {
    Column c;
    c.name = std::filesystem::path(path).stem().string();
    c.display = display + "/" + c.name + ".npy";
    if (c.name == schema->pk.name) {
      c.role = Role::kPk;
      c.field = &schema->pk;
    } else if (c.name == schema->vector.name) {
      c.role = Role::kVector;
    } else if (schema->text.has_value() && c.name == schema->text->name) {
      c.role = Role::kText;
      c.field = &*schema->text;
    } else if (const Field* f = schema->FindScalar(c.name)) {
      c.role = Role::kScalar;
      c.field = f;
    } else if (c.name == "$meta" && schema->dynamic) {
      c.role = Role::kMeta;
    } else {
      return Status::InvalidArgument(c.display + ": the field \"" + c.name +
                                     "\" is not defined in the schema" +
                                     (c.name == "$meta" ? " (dynamic fields are off)" : ""));
    }
    if (by_name.count(c.name) > 0) {
      return Status::InvalidArgument(display + ": two files for field \"" + c.name + "\"");
    }
    Result<NpyHeader> header = ReadNpyHeader(path);
    if (!header.ok()) return Status::InvalidArgument(c.display + ": " + header.status().message());
    c.header = std::move(header).value();
    FE_RETURN_IF_ERROR(CheckColumn(c, *schema));
    c.in.open(path, std::ios::binary);
    if (!c.in) return Status::IOError(c.display + ": cannot open");
    c.in.seekg(static_cast<std::streamoff>(c.header.data_offset));
    by_name[c.name] = columns.size();
    columns.push_back(std::move(c));
  }
  auto missing = [&](const std::string& name) {
    return Status::InvalidArgument(display + ": no " + name + ".npy for field \"" + name + "\"");
  };
  if (by_name.count(schema->pk.name) == 0) return missing(schema->pk.name);
  if (by_name.count(schema->vector.name) == 0 && !schema->vector_optional) {
    return missing(schema->vector.name);
  }
  if (schema->text.has_value() && by_name.count(schema->text->name) == 0 &&
      !schema->text_optional && !schema->text->nullable && schema->text->default_value.is_null()) {
    return missing(schema->text->name);
  }
  for (const Field& f : schema->scalars) {
    if (by_name.count(f.name) == 0 && !f.nullable && f.default_value.is_null())
      return missing(f.name);
  }
  const uint64_t rows = columns.front().header.rows();
  for (const Column& c : columns) {
    if (c.header.rows() != rows) {
      return Status::InvalidArgument(fmt::format("{}: row counts differ: {} has {} rows, {} has {}",
                                                 display, columns.front().display, rows, c.display,
                                                 c.header.rows()));
    }
  }
  return std::unique_ptr<RowSource>(new NumpyGroupSource(display, std::move(columns), rows));
}

}  // namespace flashembed::transfer
