#include "encoders/model_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/hash.h"
#include "base/utf8.h"

namespace flashembed::encoders {

Result<uint64_t> FingerprintFiles(std::span<const std::string> paths) {
  uint64_t h = 0;
  for (const std::string& path : paths) {
    std::error_code ec;
    if (path.empty() || !std::filesystem::is_regular_file(path, ec)) {
      h = Mix64(h ^ 0xab5e47ab5e47ab5eULL);  // marks an absent file
      continue;
    }
    std::ifstream in(path, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    if (!in.good() && !in.eof()) return Status::IOError(path + ": cannot be read");
    h = Hash64(bytes.str(), h);
  }
  return h;
}

std::string Hex64(uint64_t v) { return fmt::format("{:016x}", v); }

Status EncodeInTokenBatches(
    size_t count, std::string_view item, size_t dim, size_t tokens_per_call, std::span<float> out,
    const std::function<Result<std::vector<int32_t>>(size_t)>& tokenize,
    const std::function<Status(std::span<const std::vector<int32_t>>, std::span<float>)>& forward) {
  if (out.size() != count * dim) {
    return Status::InvalidArgument(fmt::format("output holds {} floats, {} {}s need {}", out.size(),
                                               count, item, count * dim));
  }
  const int n = static_cast<int>(count);
  std::vector<std::vector<int32_t>> ids(count);
  std::vector<Status> failed(count);
#pragma omp parallel for schedule(dynamic, 16) if (n >= 64)
  for (int i = 0; i < n; ++i) {
    auto enc = tokenize(static_cast<size_t>(i));
    if (!enc.ok()) {
      failed[i] = enc.status();
    } else {
      ids[i] = std::move(enc).value();
    }
  }
  for (int i = 0; i < n; ++i) {
    if (!failed[i].ok()) {
      return Status(failed[i].code(), fmt::format("{} {}: {}", item, i, failed[i].message()));
    }
  }
  for (size_t first = 0; first < count;) {
    size_t last = first, tokens = 0;
    while (last < count && (last == first || tokens + ids[last].size() <= tokens_per_call)) {
      tokens += ids[last++].size();
    }
    FE_RETURN_IF_ERROR(forward(std::span(ids).subspan(first, last - first),
                               out.subspan(first * dim, (last - first) * dim)));
    first = last;
  }
  return Status::OK();
}

std::string_view StripLikePython(std::string_view text) {
  const auto space = [](char32_t cp) {
    return (cp >= 0x09 && cp <= 0x0D) || (cp >= 0x1C && cp <= 0x20) || cp == 0x85 || cp == 0xA0 ||
           cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200A) || cp == 0x2028 || cp == 0x2029 ||
           cp == 0x202F || cp == 0x205F || cp == 0x3000;
  };
  size_t begin = 0;
  while (begin < text.size()) {
    const Utf8Char c = DecodeUtf8(text, begin);
    if (!c.ok() || !space(c.cp)) break;
    begin += c.length;
  }
  size_t end = text.size();
  while (end > begin) {
    size_t start = end - 1;
    while (start > begin && (static_cast<unsigned char>(text[start]) & 0xC0) == 0x80) --start;
    const Utf8Char c = DecodeUtf8(text, start);
    if (!c.ok() || start + c.length != end || !space(c.cp)) break;
    end = start;
  }
  return text.substr(begin, end - begin);
}

}  // namespace flashembed::encoders
