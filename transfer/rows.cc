#include "transfer/rows.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

#include <fmt/format.h>

#include "base/json_depth.h"

namespace flashembed::transfer {
namespace {

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// True if `t` is exactly one JSON number (RFC 8259 §6).
bool IsJsonNumber(std::string_view t) {
  size_t i = 0;
  const size_t n = t.size();
  if (i < n && t[i] == '-') ++i;
  if (i >= n) return false;
  if (t[i] == '0') {
    ++i;
  } else if (IsDigit(t[i])) {
    while (i < n && IsDigit(t[i])) ++i;
  } else {
    return false;
  }
  if (i < n && t[i] == '.') {
    ++i;
    if (i >= n || !IsDigit(t[i])) return false;
    while (i < n && IsDigit(t[i])) ++i;
  }
  if (i < n && (t[i] == 'e' || t[i] == 'E')) {
    ++i;
    if (i < n && (t[i] == '+' || t[i] == '-')) ++i;
    if (i >= n || !IsDigit(t[i])) return false;
    while (i < n && IsDigit(t[i])) ++i;
  }
  return i == n;
}

Status Missing(const std::string& name) {
  return Status::InvalidArgument("value of field \"" + name + "\" is missing");
}

}  // namespace

void RowValues::Clear() {
  pk.reset();
  has_vector = false;
  vector.clear();
  text.reset();
  fields = Json::object();
  dynamic = Json::object();
  meta.reset();
}

Status CheckValueDepth(std::string_view text, const std::string& field, bool is_meta) {
  const size_t allowed = static_cast<size_t>(kMaxMetadataDepth) - (is_meta ? 0 : 1);
  if (JsonDepth(text, allowed) <= allowed) return Status::OK();
  return Status::InvalidArgument(
      fmt::format("field \"{}\": metadata nests deeper than {} levels", field, kMaxMetadataDepth));
}

Status AssembleRecord(const RowSchema& schema, RowValues&& values, ImportRecord* out) {
  out->doc = Document();
  out->metadata = Json::object();
  if (!values.pk.has_value()) return Missing(schema.pk.name);
  out->doc.id = std::move(*values.pk);
  if (values.text.has_value()) {
    out->doc.text = std::move(*values.text);
  } else if (schema.text.has_value()) {
    if (schema.text->default_value.is_string()) {
      out->doc.text = schema.text->default_value.get<std::string>();
    } else if (!schema.text_optional && !schema.text->nullable) {
      return Missing(schema.text->name);
    }
  }
  if (values.has_vector) {
    out->doc.vector = std::move(values.vector);
  } else if (!schema.vector_optional || out->doc.text.empty()) {
    return Missing(schema.vector.name);
  }
  Json& meta = out->metadata;
  if (schema.milvus_layout) {
    meta[schema.pk.name] =
        out->doc.id.is_int() ? Json(out->doc.id.as_int()) : Json(out->doc.id.as_string());
    if (schema.text.has_value()) meta[schema.text->name] = out->doc.text;
  }
  for (const Field& f : schema.scalars) {
    auto it = values.fields.find(f.name);
    if (it != values.fields.end()) {
      meta[f.name] = std::move(*it);
    } else if (!f.default_value.is_null()) {
      meta[f.name] = f.default_value;
    } else if (f.nullable) {
      meta[f.name] = nullptr;
    } else {
      return Missing(f.name);
    }
  }
  if (values.meta.has_value()) {
    for (auto it = values.meta->begin(); it != values.meta->end(); ++it) {
      if (values.dynamic.contains(it.key())) {
        return Status::InvalidArgument("duplicated key is not allowed: \"" + it.key() +
                                       "\" is both a key of the row and of $meta");
      }
      values.dynamic[it.key()] = std::move(it.value());
    }
  }
  for (auto it = values.dynamic.begin(); it != values.dynamic.end(); ++it) {
    if (meta.contains(it.key())) {
      return Status::InvalidArgument("dynamic key \"" + it.key() +
                                     "\" has the name of a field of the collection");
    }
    meta[it.key()] = std::move(it.value());
  }
  return Status::OK();
}

void AppendJsonString(std::string_view text, std::string* out) {
  static constexpr char kHex[] = "0123456789abcdef";
  out->push_back('"');
  size_t run = 0;  // start of the pending run of bytes that need no escape
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    out->append(text.data() + run, i - run);
    run = i + 1;
    switch (c) {
      case '"': out->append("\\\""); break;
      case '\\': out->append("\\\\"); break;
      case '\n': out->append("\\n"); break;
      case '\r': out->append("\\r"); break;
      case '\t': out->append("\\t"); break;
      case '\b': out->append("\\b"); break;
      case '\f': out->append("\\f"); break;
      default:
        out->append("\\u00");
        out->push_back(kHex[c >> 4]);
        out->push_back(kHex[c & 15]);
    }
  }
  out->append(text.data() + run, text.size() - run);
  out->push_back('"');
}

void AppendFloat(float value, std::string* out) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value);
  (void)ec;  // 32 bytes always suffice for a float
  std::string_view text(buf, static_cast<size_t>(end - buf));
  // to_chars writes "1e+20": JSON allows the '+'; it never writes a bare
  // "." or "inf" for the finite values we write.
  out->append(text);
}

void AppendFloatArray(std::span<const float> values, std::string* out) {
  out->push_back('[');
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) out->push_back(',');
    AppendFloat(values[i], out);
  }
  out->push_back(']');
}

std::optional<float> ParseFloatToken(std::string_view token) {
  if (!IsJsonNumber(token)) return std::nullopt;
  float value = 0;
  const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), value);
  if (ec == std::errc()) return value;
  if (ec != std::errc::result_out_of_range) return std::nullopt;
  // Out of range: overflow is refused (Milvus too), underflow rounds to 0.
  const double d = std::strtod(std::string(token).c_str(), nullptr);
  if (std::isinf(d) || std::fabs(d) > 1.0) return std::nullopt;
  return std::signbit(d) ? -0.0f : 0.0f;
}

}  // namespace flashembed::transfer
