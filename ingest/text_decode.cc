// Bytes to UTF-8: byte-order marks, strict UTF-8 validation (base/utf8.h), iconv for
// everything else, and the small text helpers the readers share.
#include <errno.h>
#include <iconv.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "base/utf8.h"
#include "ingest/extract.h"
#include "ingest/readers.h"

namespace flashembed::ingest {
namespace internal {

std::string RepairUtf8(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  while (!s.empty()) {
    const size_t bad = FindInvalidUtf8(s);
    if (bad == std::string_view::npos) {
      out.append(s);
      break;
    }
    out.append(s.substr(0, bad));
    out.append("\xEF\xBF\xBD");
    s.remove_prefix(bad + 1);
  }
  return out;
}

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != '\v') return false;
  }
  return true;
}

std::string CleanTitle(std::string_view s) {
  std::string out;
  bool space = false;
  for (char c : s) {
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  if (out.size() > kMaxTitleBytes) {
    size_t cut = kMaxTitleBytes;
    // Back up over continuation bytes to the start of the cut character.
    while (cut > 0 && (static_cast<unsigned char>(out[cut]) & 0xC0) == 0x80) --cut;
    out.resize(cut);
    while (!out.empty() && out.back() == ' ') out.pop_back();
  }
  return out;
}

std::string FirstLineTitle(std::string_view text) {
  while (!text.empty()) {
    const size_t end = text.find('\n');
    const std::string_view line = text.substr(0, end);
    if (!IsBlank(line)) return CleanTitle(line);
    if (end == std::string_view::npos) break;
    text.remove_prefix(end + 1);
  }
  return "";
}

std::string AsciiLower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

Status BinaryFileError(std::string_view bytes, size_t offset, const std::string& where) {
  // UTF-16 text without a byte-order mark has a NUL in every other byte
  // while it is ASCII; say so rather than only "binary".
  const size_t probe = std::min<size_t>(bytes.size() & ~size_t{1}, 64);
  size_t even_nul = 0;
  size_t odd_nul = 0;
  for (size_t i = 0; i < probe; ++i) {
    if (bytes[i] == '\0') ++(i % 2 == 0 ? even_nul : odd_nul);
  }
  std::string hint;
  if (probe >= 4 && (odd_nul == probe / 2) != (even_nul == probe / 2)) {
    hint = odd_nul == probe / 2 ? "; if it is UTF-16 text without a byte-order mark, pass "
                                  "--encoding UTF-16LE"
                                : "; if it is UTF-16 text without a byte-order mark, pass "
                                  "--encoding UTF-16BE";
  }
  return Status::InvalidArgument(
      fmt::format("{}: binary file (NUL byte at offset {}){}", where, offset, hint));
}

}  // namespace internal

namespace {

std::string HexByte(unsigned char c) { return fmt::format("0x{:02X}", c); }

// Converts with iconv from `from` to UTF-8. `skip` leading bytes (a
// byte-order mark) are not converted; offsets in messages count them.
Result<std::string> Iconv(std::string_view bytes, size_t skip, const std::string& from,
                          const std::string& where) {
  iconv_t cd = iconv_open("UTF-8", from.c_str());
  if (cd == reinterpret_cast<iconv_t>(-1)) {
    return Status::InvalidArgument(where + ": unknown encoding '" + from +
                                   "' (use a name iconv knows, e.g. latin1, windows-1252, "
                                   "UTF-16LE, shift_jis)");
  }
  std::string out;
  out.resize(bytes.size() - skip + bytes.size() / 2 + 16);
  // iconv's interface is not const-correct; it does not write the input.
  char* in = const_cast<char*>(bytes.data()) + skip;
  size_t in_left = bytes.size() - skip;
  size_t used = 0;
  Status status;
  while (in_left > 0) {
    char* out_ptr = out.data() + used;
    size_t out_left = out.size() - used;
    const size_t rc = iconv(cd, &in, &in_left, &out_ptr, &out_left);
    used = static_cast<size_t>(out_ptr - out.data());
    if (rc != static_cast<size_t>(-1)) continue;
    const size_t offset = static_cast<size_t>(in - bytes.data());
    if (errno == E2BIG) {
      out.resize(out.size() * 2);
    } else if (errno == EILSEQ) {
      status = Status::InvalidArgument(fmt::format("{}: not valid {} (byte {} at offset {})", where,
                                                   from, HexByte(static_cast<unsigned char>(*in)),
                                                   offset));
      break;
    } else if (errno == EINVAL) {
      status = Status::InvalidArgument(
          fmt::format("{}: not valid {} (incomplete character at offset {}, the end of the input)",
                      where, from, offset));
      break;
    } else {
      status = Status::Internal(where + ": converting from " + from + ": " + std::strerror(errno));
      break;
    }
  }
  iconv_close(cd);
  if (!status.ok()) return status;
  out.resize(used);
  if (out.compare(0, 3, "\xEF\xBB\xBF") == 0) out.erase(0, 3);  // a BOM iconv passed on
  const size_t nul = out.find('\0');
  if (nul != std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("{}: binary file (NUL character at offset {} of the text decoded from {})",
                    where, nul, from));
  }
  // iconv's own output is UTF-8, but check rather than trust every
  // converter (a few pass through lone surrogates).
  const size_t bad = FindInvalidUtf8(out);
  if (bad != std::string::npos) {
    return Status::InvalidArgument(
        fmt::format("{}: not valid {} (converting gave ill-formed UTF-8 at offset {} of the text)",
                    where, from, bad));
  }
  return out;
}

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

}  // namespace

Result<std::string> DecodeText(std::string_view bytes, const std::string& encoding,
                               const std::string& where) {
  if (!encoding.empty()) return Iconv(bytes, 0, encoding, where);
  // UTF-32 marks first: FF FE 00 00 also starts with UTF-16LE's FF FE.
  if (StartsWith(bytes, std::string_view("\xFF\xFE\0\0", 4))) {
    return Iconv(bytes, 4, "UTF-32LE", where);
  }
  if (StartsWith(bytes, std::string_view("\0\0\xFE\xFF", 4))) {
    return Iconv(bytes, 4, "UTF-32BE", where);
  }
  if (StartsWith(bytes, "\xFF\xFE")) return Iconv(bytes, 2, "UTF-16LE", where);
  if (StartsWith(bytes, "\xFE\xFF")) return Iconv(bytes, 2, "UTF-16BE", where);
  const size_t skip = StartsWith(bytes, "\xEF\xBB\xBF") ? 3 : 0;
  const size_t nul = bytes.find('\0');
  if (nul != std::string_view::npos) return internal::BinaryFileError(bytes, nul, where);
  const std::string_view text = bytes.substr(skip);
  const size_t bad = FindInvalidUtf8(text);
  if (bad != std::string_view::npos) {
    return Status::InvalidArgument(
        fmt::format("{}: not UTF-8 (byte {} at offset {}); pass --encoding, e.g. --encoding latin1",
                    where, HexByte(static_cast<unsigned char>(text[bad])), bad + skip));
  }
  return std::string(text);
}

}  // namespace flashembed::ingest
