// JSON row files (transfer/FORMAT.md): a streaming reader that finds one
// row object at a time in blocks of the file, and a row parser that reads
// the pk, the vector and the text straight from the text (vectors are most
// of the bytes: every number is converted once, to float32 with correct
// rounding) and hands every other value to nlohmann::json.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cstring>

#include <fmt/format.h>

#include "base/utf8.h"
#include "transfer/rows.h"

namespace flashembed::transfer {
namespace {

constexpr size_t kBlock = 1 << 20;

bool IsSpace(char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; }

// Parses one row object held whole in [begin, end).
class RowParser {
 public:
  RowParser(std::string_view row, const RowSchema& schema, bool milvus_output = false)
      : row_(row), schema_(schema), milvus_output_(milvus_output) {}

  // On error, offset() is where in the row it was found.
  Status Parse(RowValues* v) {
    SkipSpace();
    if (!Eat('{')) return Malformed("a row must be a JSON object");
    SkipSpace();
    if (Eat('}')) return Status::OK();
    while (true) {
      SkipSpace();
      std::string key;
      FE_RETURN_IF_ERROR(String(&key));
      SkipSpace();
      if (!Eat(':')) return Malformed("expected ':' after a key");
      SkipSpace();
      key_ = key;
      FE_RETURN_IF_ERROR(Value(key, v));
      SkipSpace();
      if (Eat(',')) continue;
      if (Eat('}')) break;
      return Malformed("expected ',' or '}'");
    }
    SkipSpace();
    if (pos_ != row_.size()) return Malformed("unexpected text after the row");
    return Status::OK();
  }

  size_t offset() const { return pos_; }

 private:
  Status Malformed(const std::string& what) {
    return Status::InvalidArgument("malformed JSON: " + what);
  }
  void SkipSpace() {
    while (pos_ < row_.size() && IsSpace(row_[pos_])) ++pos_;
  }
  bool Eat(char c) {
    if (pos_ < row_.size() && row_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  char Peek() const { return pos_ < row_.size() ? row_[pos_] : '\0'; }

  Status Hex4(uint32_t* out) {
    if (pos_ + 4 > row_.size()) return Malformed("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = row_[pos_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return Malformed("bad \\u escape");
      }
    }
    *out = v;
    return Status::OK();
  }

  // A JSON string, unescaped, checked to be valid UTF-8.
  Status String(std::string* out) {
    if (!Eat('"')) return Malformed("expected a string");
    out->clear();
    size_t run = pos_;
    while (true) {
      if (pos_ >= row_.size()) return Malformed("unterminated string");
      const auto c = static_cast<unsigned char>(row_[pos_]);
      if (c == '"') break;
      if (c < 0x20) return Malformed("control character in a string");
      if (c != '\\') {
        ++pos_;
        continue;
      }
      out->append(row_.data() + run, pos_ - run);
      ++pos_;
      const char e = pos_ < row_.size() ? row_[pos_++] : '\0';
      switch (e) {
        case '"': out->push_back('"'); break;
        case '\\': out->push_back('\\'); break;
        case '/': out->push_back('/'); break;
        case 'b': out->push_back('\b'); break;
        case 'f': out->push_back('\f'); break;
        case 'n': out->push_back('\n'); break;
        case 'r': out->push_back('\r'); break;
        case 't': out->push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          FE_RETURN_IF_ERROR(Hex4(&cp));
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            uint32_t low = 0;
            if (!Eat('\\') || !Eat('u')) return Malformed("lone surrogate in \\u escape");
            FE_RETURN_IF_ERROR(Hex4(&low));
            if (low < 0xDC00 || low > 0xDFFF) return Malformed("lone surrogate in \\u escape");
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return Malformed("lone surrogate in \\u escape");
          }
          AppendUtf8(cp, out);
          break;
        }
        default: return Malformed("bad escape in a string");
      }
      run = pos_;
    }
    out->append(row_.data() + run, pos_ - run);
    ++pos_;
    if (!Utf8Length(*out).has_value()) return Malformed("string is not valid UTF-8");
    return Status::OK();
  }

  // The characters of a number or literal (true, false, null, NaN...).
  std::string_view Token() {
    const size_t from = pos_;
    while (pos_ < row_.size()) {
      const char c = row_[pos_];
      if (IsSpace(c) || c == ',' || c == ']' || c == '}' || c == ':') break;
      ++pos_;
    }
    return row_.substr(from, pos_ - from);
  }

  // The extent of any value, for nlohmann::json to parse.
  Status RawValue(std::string_view* raw) {
    const size_t from = pos_;
    const char c = Peek();
    if (c == '"') {
      std::string ignored;
      FE_RETURN_IF_ERROR(String(&ignored));
    } else if (c == '{' || c == '[') {
      int depth = 0;
      bool in_string = false;
      for (; pos_ < row_.size(); ++pos_) {
        const char ch = row_[pos_];
        if (in_string) {
          if (ch == '\\') {
            ++pos_;
          } else if (ch == '"') {
            in_string = false;
          }
        } else if (ch == '"') {
          in_string = true;
        } else if (ch == '{' || ch == '[') {
          ++depth;
        } else if (ch == '}' || ch == ']') {
          if (--depth == 0) {
            ++pos_;
            break;
          }
        }
      }
      if (depth != 0) return Malformed("unbalanced brackets");
    } else {
      if (Token().empty()) return Malformed("expected a value");
    }
    *raw = row_.substr(from, pos_ - from);
    return Status::OK();
  }

  Status ParsedValue(Json* out) {
    const size_t from = pos_;
    std::string_view raw;
    FE_RETURN_IF_ERROR(RawValue(&raw));
    if (Status deep = CheckValueDepth(raw, key_, key_ == "$meta"); !deep.ok()) {
      pos_ = from;
      return deep;
    }
    *out = Json::parse(raw, nullptr, /*allow_exceptions=*/false);
    if (out->is_discarded()) {
      pos_ = from;
      return Malformed("invalid value " + std::string(raw.substr(0, 40)) +
                       (raw.size() > 40 ? "..." : "") +
                       " (NaN, Infinity and other non-JSON values are not allowed)");
    }
    return Status::OK();
  }

  Status Value(const std::string& key, RowValues* v) {
    if (key == schema_.pk.name) return Pk(v);
    if (key == schema_.vector.name) return Vector(v);
    if (schema_.text.has_value() && key == schema_.text->name) {
      Json value;
      if (Peek() == '"') {
        std::string text;
        FE_RETURN_IF_ERROR(String(&text));
        value = std::move(text);
      } else {
        FE_RETURN_IF_ERROR(ParsedValue(&value));
        if (value.is_null() && (schema_.text->nullable || schema_.text_optional)) {
          return Status::OK();
        }
      }
      Json stored;
      FE_RETURN_IF_ERROR(CheckScalar(*schema_.text, value, &stored));
      v->text = std::move(stored.get_ref<std::string&>());
      return Status::OK();
    }
    Json value;
    FE_RETURN_IF_ERROR(ParsedValue(&value));
    if (const Field* field = schema_.FindScalar(key)) {
      if (milvus_output_ && field->type == "Array") UnwrapProtoArray(&value);
      Json stored;
      FE_RETURN_IF_ERROR(CheckScalar(*field, value, &stored));
      v->fields[key] = std::move(stored);
      return Status::OK();
    }
    if (!schema_.dynamic) {
      return Status::InvalidArgument("the field \"" + key +
                                     "\" is not defined in the schema (dynamic fields are off)");
    }
    if (key == "$meta") {
      if (value.is_string()) {
        FE_RETURN_IF_ERROR(CheckValueDepth(value.get_ref<const std::string&>(), key, true));
        value = Json::parse(value.get<std::string>(), nullptr, false);
        if (!value.is_object()) {
          return Status::InvalidArgument(
              "field \"$meta\": illegal value for the dynamic field, "
              "not the text of a JSON object");
        }
      } else if (!value.is_object()) {
        return Status::InvalidArgument(
            "field \"$meta\": illegal value for the dynamic field, "
            "expected an object, got " +
            JsonTypeName(value));
      }
      v->meta = std::move(value);
      return Status::OK();
    }
    v->dynamic[key] = std::move(value);
    return Status::OK();
  }

  // Milvus 2.5's REST output of an Array field: {"Data":{"LongData":{"data":
  // [1,2]}}}, the "data" key left out when empty.
  static void UnwrapProtoArray(Json* value) {
    if (!value->is_object() || value->size() != 1 || !value->contains("Data")) return;
    const Json& data = (*value)["Data"];
    if (!data.is_object() || data.size() != 1) return;
    const Json& typed = data.begin().value();
    if (!typed.is_object()) return;
    const auto it = typed.find("data");
    Json plain = it == typed.end() ? Json::array() : *it;
    *value = std::move(plain);
  }

  Status Pk(RowValues* v) {
    const Field& pk = schema_.pk;
    if (Peek() == '"') {
      std::string s;
      FE_RETURN_IF_ERROR(String(&s));
      if (pk.type == "Int64") {
        return Status::InvalidArgument("field \"" + pk.name +
                                       "\": expected Int64 (a JSON integer, not a string), got "
                                       "string \"" +
                                       s.substr(0, 40) + "\"");
      }
      if (s.empty()) return Status::InvalidArgument("field \"" + pk.name + "\": empty string id");
      const size_t max = pk.max_length() == 0 ? kMaxVarCharLength : pk.max_length();
      if (s.size() > max) {
        return Status::InvalidArgument(fmt::format(
            "field \"{}\": string of {} bytes exceeds max_length {}", pk.name, s.size(), max));
      }
      v->pk = Id(std::move(s));
      return Status::OK();
    }
    const size_t from = pos_;
    const std::string_view token = Token();
    int64_t n = 0;
    const auto [end, ec] = std::from_chars(token.data(), token.data() + token.size(), n);
    const bool integer = !token.empty() && ec == std::errc() &&
                         end == token.data() + token.size() &&
                         !(token.size() > 1 && token[0] == '0') &&
                         !(token.size() > 2 && token[0] == '-' && token[1] == '0');
    if (pk.type == "VarChar" || !integer) {
      pos_ = from;
      Json value;
      FE_RETURN_IF_ERROR(ParsedValue(&value));
      const std::string want = pk.type == "VarChar" ? "VarChar (a string)"
                               : pk.type.empty()    ? "an integer or a string"
                                                    : "Int64 (a JSON integer)";
      std::string detail = JsonTypeName(value) + " " + value.dump();
      if (ec == std::errc::result_out_of_range) detail += " (outside the Int64 range)";
      return Status::InvalidArgument("field \"" + pk.name + "\": expected " + want + ", got " +
                                     detail);
    }
    v->pk = Id(n);
    return Status::OK();
  }

  Status Vector(RowValues* v) {
    const std::string& name = schema_.vector.name;
    if (!Eat('[')) {
      Json value;
      FE_RETURN_IF_ERROR(ParsedValue(&value));
      if (value.is_null() && schema_.vector_optional) return Status::OK();
      return Status::InvalidArgument("field \"" + name +
                                     "\": expected FloatVector (an array of numbers), got " +
                                     JsonTypeName(value));
    }
    v->vector.clear();
    if (schema_.dim > 0) v->vector.reserve(static_cast<size_t>(schema_.dim));
    SkipSpace();
    if (!Eat(']')) {
      while (true) {
        SkipSpace();
        const size_t from = pos_;
        const std::string_view token = Token();
        const std::optional<float> x = ParseFloatToken(token);
        if (!x.has_value()) {
          pos_ = from;
          const std::string shown(token.substr(0, 24));
          return Status::InvalidArgument(fmt::format(
              "field \"{}\": element {} ({}) is not a float32 number (NaN, Infinity, strings and "
              "values beyond float32 are refused)",
              name, v->vector.size(), shown.empty() ? std::string(1, Peek()) : shown));
        }
        v->vector.push_back(*x);
        SkipSpace();
        if (Eat(',')) continue;
        if (Eat(']')) break;
        return Malformed("expected ',' or ']' in field \"" + name + "\"");
      }
    }
    if (schema_.dim > 0 && v->vector.size() != static_cast<size_t>(schema_.dim)) {
      return Status::InvalidArgument(fmt::format("field \"{}\": expected {} numbers, got {}", name,
                                                 schema_.dim, v->vector.size()));
    }
    if (v->vector.empty()) {
      return Status::InvalidArgument("field \"" + name + "\": empty vector");
    }
    v->has_vector = true;
    return Status::OK();
  }

  std::string key_;  // the row key whose value is being read
  std::string_view row_;
  const RowSchema& schema_;
  bool milvus_output_;
  size_t pos_ = 0;
};

class JsonRowSource : public RowSource {
 public:
  JsonRowSource(int fd, std::string display, const RowSchema* schema)
      : fd_(fd), display_(std::move(display)), schema_(schema), buf_(kBlock) {}
  ~JsonRowSource() override { close(fd_); }

  Result<bool> Next(RowValues* values) override {
    values->Clear();
    if (done_) return false;
    if (!started_) {
      FE_RETURN_IF_ERROR(Start());
      started_ = true;
    }
    FE_ASSIGN_OR_RETURN(int c, PeekNonSpace());
    if (rows_ > 0) {
      if (c == ']') {
        ++pos_;
        FE_RETURN_IF_ERROR(Finish());
        return false;
      }
      if (c != ',') return Error(fmt::format("expected ',' or ']' after row {}", rows_));
      ++pos_;
      FE_ASSIGN_OR_RETURN(c, PeekNonSpace());
    } else if (c == ']') {
      ++pos_;
      FE_RETURN_IF_ERROR(Finish());
      return false;
    }
    ++rows_;
    row_offset_ = base_ + pos_;
    if (c != '{') {
      return Error(fmt::format("row {}: each row must be a JSON object {}", rows_,
                               c < 0 ? "(the file ends early)" : "with field names as keys"));
    }
    FE_ASSIGN_OR_RETURN(size_t length, RowExtent());
    const std::string_view row(buf_.data() + pos_, length);
    RowParser parser(row, *schema_);
    Status s = parser.Parse(values);
    if (!s.ok()) {
      const uint64_t at = row_offset_ + parser.offset();
      return Status::InvalidArgument(
          fmt::format("{}: row {} (byte {}): {}", display_, rows_, at, s.message()));
    }
    pos_ += length;
    return true;
  }

  std::string Where() const override { return fmt::format("{}: row {}", display_, rows_); }
  uint64_t bytes() const override { return base_ + end_; }

 private:
  Status Error(const std::string& what) {
    return Status::InvalidArgument(fmt::format("{}: byte {}: {}", display_, base_ + pos_, what));
  }

  // Reads more of the file after end_, first moving the unread part to the
  // front (and growing the buffer when a row fills it). False at the end.
  Result<bool> Fill() {
    if (eof_) return false;
    if (pos_ > 0) {
      std::memmove(buf_.data(), buf_.data() + pos_, end_ - pos_);
      base_ += pos_;
      end_ -= pos_;
      pos_ = 0;
    }
    if (end_ == buf_.size()) buf_.resize(buf_.size() * 2);
    ssize_t n = 0;
    do {
      n = read(fd_, buf_.data() + end_, buf_.size() - end_);
    } while (n < 0 && errno == EINTR);
    if (n < 0) return Status::IOError(display_ + ": read failed: " + std::strerror(errno));
    if (n == 0) {
      eof_ = true;
      return false;
    }
    end_ += static_cast<size_t>(n);
    return true;
  }

  // The next non-space character (not consumed), or -1 at the end.
  Result<int> PeekNonSpace() {
    while (true) {
      while (pos_ < end_ && IsSpace(buf_[pos_])) ++pos_;
      if (pos_ < end_) return static_cast<unsigned char>(buf_[pos_]);
      FE_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) return -1;
    }
  }

  // The length of the object starting at pos_, read into the buffer whole.
  Result<size_t> RowExtent() {
    size_t i = pos_;
    int depth = 0;
    bool in_string = false;
    bool escape = false;
    while (true) {
      for (; i < end_; ++i) {
        const char c = buf_[i];
        if (in_string) {
          if (escape) {
            escape = false;
          } else if (c == '\\') {
            escape = true;
          } else if (c == '"') {
            in_string = false;
          }
        } else if (c == '"') {
          in_string = true;
        } else if (c == '{' || c == '[') {
          ++depth;
        } else if (c == '}' || c == ']') {
          if (--depth == 0) return i + 1 - pos_;
        }
      }
      const size_t offset = i - pos_;
      FE_ASSIGN_OR_RETURN(bool more, Fill());
      if (!more) {
        return Status::InvalidArgument(
            fmt::format("{}: row {} (byte {}): malformed JSON: the file ends inside the row",
                        display_, rows_, row_offset_));
      }
      i = pos_ + offset;
    }
  }

  // The top level: '[' or {"rows": [ (the first key, any case).
  Status Start() {
    FE_ASSIGN_OR_RETURN(int c, PeekNonSpace());
    if (c == 0xEF && end_ - pos_ >= 3 && buf_[pos_ + 1] == '\xBB' && buf_[pos_ + 2] == '\xBF') {
      pos_ += 3;  // UTF-8 byte order mark
      FE_ASSIGN_OR_RETURN(c, PeekNonSpace());
    }
    if (c == '[') {
      ++pos_;
      return Status::OK();
    }
    if (c != '{') {
      return Error(c < 0 ? "empty file: expected {\"rows\": [...]} or [...]"
                         : "expected {\"rows\": [...]} or an array of rows");
    }
    ++pos_;
    object_form_ = true;
    FE_ASSIGN_OR_RETURN(c, PeekNonSpace());
    std::string key;
    if (c == '"') {
      ++pos_;
      while (true) {
        if (pos_ >= end_) {
          FE_ASSIGN_OR_RETURN(bool more, Fill());
          if (!more || key.size() > 64) break;
          continue;
        }
        const char ch = buf_[pos_++];
        if (ch == '"') break;
        key.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(ch))));
      }
    }
    if (key != "rows") return Error("the first key of the top-level object must be \"rows\"");
    FE_ASSIGN_OR_RETURN(c, PeekNonSpace());
    if (c != ':') return Error("expected ':' after \"rows\"");
    ++pos_;
    FE_ASSIGN_OR_RETURN(c, PeekNonSpace());
    if (c != '[') return Error("\"rows\" must hold an array of rows");
    ++pos_;
    return Status::OK();
  }

  // After the rows array: '}' for the object form, then only whitespace.
  Status Finish() {
    done_ = true;
    FE_ASSIGN_OR_RETURN(int c, PeekNonSpace());
    if (object_form_) {
      if (c != '}') return Error("expected '}' after the rows (other keys are not supported)");
      ++pos_;
      FE_ASSIGN_OR_RETURN(c, PeekNonSpace());
    }
    if (c >= 0) return Error("unexpected text after the rows");
    return Status::OK();
  }

  int fd_;
  std::string display_;
  const RowSchema* schema_;
  std::vector<char> buf_;
  size_t pos_ = 0;     // next unread byte in buf_
  size_t end_ = 0;     // end of the data in buf_
  uint64_t base_ = 0;  // file offset of buf_[0]
  bool eof_ = false;
  bool started_ = false;
  bool done_ = false;
  bool object_form_ = false;
  uint64_t rows_ = 0;
  uint64_t row_offset_ = 0;
};

}  // namespace

Status ParseJsonRow(std::string_view row, const RowSchema& schema, bool milvus_output,
                    RowValues* values) {
  values->Clear();
  RowParser parser(row, schema, milvus_output);
  Status s = parser.Parse(values);
  if (!s.ok()) {
    return Status::InvalidArgument(fmt::format("byte {}: {}", parser.offset(), s.message()));
  }
  return Status::OK();
}

Result<std::unique_ptr<RowSource>> OpenJsonRows(const std::string& path, const std::string& display,
                                                const RowSchema* schema) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return Status::IOError(display + ": cannot open: " + std::strerror(errno));
  return std::unique_ptr<RowSource>(new JsonRowSource(fd, display, schema));
}

}  // namespace flashembed::transfer
