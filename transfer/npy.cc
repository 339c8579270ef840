#include "transfer/npy.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "base/utf8.h"

namespace flashembed::transfer {
namespace {

constexpr std::string_view kMagic = "\x93NUMPY";

// A cursor over the header's Python dictionary literal, e.g.
// {'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }
class DictParser {
 public:
  explicit DictParser(std::string_view text) : text_(text) {}

  void SkipSpace() {
    while (pos_ < text_.size() && std::isspace(static_cast<unsigned char>(text_[pos_]))) ++pos_;
  }
  bool Eat(char c) {
    SkipSpace();
    if (pos_ < text_.size() && text_[pos_] == c) {
      ++pos_;
      return true;
    }
    return false;
  }
  bool Peek(char c) {
    SkipSpace();
    return pos_ < text_.size() && text_[pos_] == c;
  }
  std::optional<std::string> String() {
    SkipSpace();
    if (pos_ >= text_.size() || (text_[pos_] != '\'' && text_[pos_] != '"')) return std::nullopt;
    const char quote = text_[pos_++];
    const size_t end = text_.find(quote, pos_);
    if (end == std::string_view::npos) return std::nullopt;
    std::string out(text_.substr(pos_, end - pos_));
    pos_ = end + 1;
    return out;
  }
  std::optional<std::string_view> Word() {
    SkipSpace();
    const size_t from = pos_;
    while (pos_ < text_.size() && std::isalnum(static_cast<unsigned char>(text_[pos_]))) ++pos_;
    if (pos_ == from) return std::nullopt;
    return text_.substr(from, pos_ - from);
  }
  std::optional<uint64_t> Integer() {
    SkipSpace();
    uint64_t value = 0;
    const auto [end, ec] = std::from_chars(text_.data() + pos_, text_.data() + text_.size(), value);
    if (ec != std::errc()) return std::nullopt;
    pos_ = static_cast<size_t>(end - text_.data());
    // Python 2 wrote long integers as "3L".
    if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
    return value;
  }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

Status BadHeader(const std::string& what) { return Status::Corruption("bad .npy header: " + what); }

// Fills kind / item_size / swap from the dtype string.
Status ParseDescr(NpyHeader* h) {
  const std::string& d = h->descr;
  if (d.size() < 2) return BadHeader("unsupported dtype '" + d + "'");
  char order = d[0];
  std::string_view rest(d);
  if (order == '<' || order == '>' || order == '|' || order == '=') {
    rest.remove_prefix(1);
  } else {
    order = '|';
  }
  if (rest.empty()) return BadHeader("unsupported dtype '" + d + "'");
  const char kind = rest[0];
  uint64_t size = 1;
  if (rest.size() > 1) {
    const auto [end, ec] = std::from_chars(rest.data() + 1, rest.data() + rest.size(), size);
    if (ec != std::errc() || end != rest.data() + rest.size()) {
      return BadHeader("unsupported dtype '" + d + "'");
    }
  } else if (kind != '?' && kind != 'b' && kind != 'B') {
    return BadHeader("unsupported dtype '" + d + "'");
  }
  switch (kind) {
    case '?':
      h->kind = 'b';
      h->item_size = 1;
      break;
    case 'b':  // "|b1" is numpy's bool; a bare 'b' is int8
      h->kind = rest.size() > 1 ? 'b' : 'i';
      h->item_size = 1;
      break;
    case 'f':
    case 'i':
    case 'u':
      if (size != 1 && size != 2 && size != 4 && size != 8) {
        return BadHeader("unsupported dtype '" + d + "'");
      }
      h->kind = kind;
      h->item_size = size;
      break;
    case 'U':
      if (size > (1u << 24)) return BadHeader("string dtype '" + d + "' is too wide");
      h->kind = 'U';
      h->item_size = 4 * size;
      break;
    case 'S':
    case 'a':
      if (size > (1u << 26)) return BadHeader("string dtype '" + d + "' is too wide");
      h->kind = 'S';
      h->item_size = size;
      break;
    default:
      return BadHeader("unsupported dtype '" + d +
                       "' (object, complex, datetime and structured "
                       "arrays cannot be imported)");
  }
  h->swap = order == '>' && (h->kind == 'U' || h->item_size > 1);
  return Status::OK();
}

}  // namespace

uint64_t NpyHeader::row_elements() const {
  uint64_t n = 1;
  for (size_t i = 1; i < shape.size(); ++i) n *= shape[i];
  return n;
}

std::string NpyHeader::ShapeString() const {
  // A 1-tuple keeps Python's trailing comma: "(3,)".
  return fmt::format("({}{})", fmt::join(shape, ", "), shape.size() == 1 ? "," : "");
}

Result<NpyHeader> ParseNpyHeader(std::string_view bytes) {
  if (bytes.size() < 10 || bytes.substr(0, kMagic.size()) != kMagic) {
    return Status::Corruption("not a .npy file (no \\x93NUMPY magic)");
  }
  const auto byte = [&](size_t i) {
    return static_cast<uint64_t>(static_cast<unsigned char>(bytes[i]));
  };
  const int major = static_cast<int>(byte(6));
  uint64_t header_len = 0;
  size_t prefix = 0;
  if (major == 1) {
    header_len = byte(8) | (byte(9) << 8);
    prefix = 10;
  } else if (major == 2 || major == 3) {
    if (bytes.size() < 12) return BadHeader("truncated");
    header_len = byte(8) | (byte(9) << 8) | (byte(10) << 16) | (byte(11) << 24);
    prefix = 12;
  } else {
    return BadHeader(fmt::format("unsupported format version {}", major));
  }
  if (bytes.size() < prefix + header_len) return BadHeader("truncated header");
  NpyHeader h;
  h.data_offset = prefix + header_len;
  DictParser p(bytes.substr(prefix, header_len));
  bool have_descr = false;
  bool have_shape = false;
  bool have_order = false;
  if (!p.Eat('{')) return BadHeader("expected a dictionary");
  while (!p.Eat('}')) {
    std::optional<std::string> key = p.String();
    if (!key.has_value() || !p.Eat(':')) return BadHeader("malformed dictionary");
    if (*key == "descr") {
      std::optional<std::string> descr = p.String();
      if (!descr.has_value()) {
        return BadHeader("structured dtypes are not supported (descr must be a string)");
      }
      h.descr = *descr;
      have_descr = true;
    } else if (*key == "fortran_order") {
      std::optional<std::string_view> word = p.Word();
      if (!word.has_value() || (*word != "True" && *word != "False")) {
        return BadHeader("fortran_order must be True or False");
      }
      h.fortran_order = *word == "True";
      have_order = true;
    } else if (*key == "shape") {
      if (!p.Eat('(')) return BadHeader("shape must be a tuple");
      while (!p.Eat(')')) {
        std::optional<uint64_t> n = p.Integer();
        if (!n.has_value()) return BadHeader("shape must hold non-negative integers");
        h.shape.push_back(*n);
        if (!p.Eat(',') && !p.Peek(')')) return BadHeader("malformed shape");
      }
      have_shape = true;
    } else {
      return BadHeader("unexpected key '" + *key + "'");
    }
    if (!p.Eat(',') && !p.Peek('}')) return BadHeader("malformed dictionary");
  }
  if (!have_descr || !have_shape || !have_order) {
    return BadHeader("needs the keys descr, fortran_order and shape");
  }
  FE_RETURN_IF_ERROR(ParseDescr(&h));
  return h;
}

Result<NpyHeader> ReadNpyHeader(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot open " + path);
  std::string head(12, '\0');
  in.read(head.data(), 12);
  head.resize(static_cast<size_t>(in.gcount()));
  if (head.size() < 10 || head.substr(0, kMagic.size()) != kMagic) {
    return Status::Corruption("not a .npy file (no \\x93NUMPY magic)");
  }
  const auto byte = [&](size_t i) {
    return static_cast<uint64_t>(static_cast<unsigned char>(head[i]));
  };
  uint64_t total = byte(6) == 1
                       ? 10 + (byte(8) | (byte(9) << 8))
                       : 12 + (byte(8) | (byte(9) << 8) | (byte(10) << 16) | (byte(11) << 24));
  if (total > (1u << 26)) return BadHeader("header too large");
  std::string header(total, '\0');
  in.seekg(0);
  in.read(header.data(), static_cast<std::streamsize>(total));
  header.resize(static_cast<size_t>(in.gcount()));
  FE_ASSIGN_OR_RETURN(NpyHeader h, ParseNpyHeader(header));
  std::error_code ec;
  const uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) return Status::IOError("cannot stat " + path + ": " + ec.message());
  uint64_t expected = h.rows();
  // Overflow-safe: refuse shapes whose byte size does not fit 64 bits.
  const uint64_t row_bytes = h.row_bytes();
  if (row_bytes != 0 && expected > (UINT64_MAX - h.data_offset) / row_bytes) {
    return BadHeader("shape " + h.ShapeString() + " is too large");
  }
  expected = h.data_offset + expected * row_bytes;
  if (size < expected) {
    return Status::Corruption(fmt::format(
        "truncated: the header announces {} of '{}' ({} bytes of data), the file holds {}",
        h.ShapeString(), h.descr, expected - h.data_offset,
        size >= h.data_offset ? size - h.data_offset : 0));
  }
  if (size > expected) {
    return Status::Corruption(
        fmt::format("the file holds {} bytes after the {} array the header announces",
                    size - expected, h.ShapeString()));
  }
  return h;
}

std::string NpyHeaderBytes(std::string_view descr, std::span<const uint64_t> shape) {
  std::string dict = fmt::format("{{'descr': '{}', 'fortran_order': False, 'shape': ({}{}), }}",
                                 descr, fmt::join(shape, ", "), shape.size() == 1 ? "," : "");
  // magic(6) + version(2) + length(2) + dict + padding + '\n' = multiple of 64.
  const size_t unpadded = 10 + dict.size() + 1;
  dict.append((64 - unpadded % 64) % 64, ' ');
  dict += '\n';
  std::string out(kMagic);
  out += '\x01';
  out += '\x00';
  out += static_cast<char>(dict.size() & 0xff);
  out += static_cast<char>((dict.size() >> 8) & 0xff);
  return out + dict;
}

void AppendUtf32(std::string_view text, size_t width, std::string* out) {
  const size_t start = out->size();
  out->resize(start + 4 * width, '\0');
  char* p = out->data() + start;
  for (size_t i = 0; i < text.size();) {
    const Utf8Char c = DecodeUtf8(text, i);
    // Valid by the contract; a stray byte would become one unit of its own.
    const uint32_t cp = c.ok() ? c.cp : static_cast<unsigned char>(text[i]);
    i += c.ok() ? c.length : 1;
    p[0] = static_cast<char>(cp & 0xff);
    p[1] = static_cast<char>((cp >> 8) & 0xff);
    p[2] = static_cast<char>((cp >> 16) & 0xff);
    p[3] = 0;
    p += 4;
  }
}

Result<std::string> Utf32ToUtf8(std::string_view element) {
  size_t units = element.size() / 4;
  const auto unit = [&](size_t k) {
    const auto* b = reinterpret_cast<const unsigned char*>(element.data() + 4 * k);
    return static_cast<uint32_t>(b[0]) | (static_cast<uint32_t>(b[1]) << 8) |
           (static_cast<uint32_t>(b[2]) << 16) | (static_cast<uint32_t>(b[3]) << 24);
  };
  while (units > 0 && unit(units - 1) == 0) --units;
  std::string out;
  out.reserve(units);
  for (size_t k = 0; k < units; ++k) {
    const uint32_t cp = unit(k);
    if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
      return Status::InvalidArgument(fmt::format("string holds an invalid code point {}", cp));
    }
    AppendUtf8(static_cast<char32_t>(cp), &out);
  }
  return out;
}

void SwapBytes(char* data, size_t size, size_t unit) {
  if (unit <= 1) return;
  for (size_t i = 0; i + unit <= size; i += unit) std::reverse(data + i, data + i + unit);
}

}  // namespace flashembed::transfer
