#include "encoders/model_files.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "base/hash.h"

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
    std::span<const std::string_view> texts, size_t dim, size_t tokens_per_call,
    std::span<float> out,
    const std::function<Result<std::vector<int32_t>>(std::string_view)>& tokenize,
    const std::function<Status(std::span<const std::vector<int32_t>>, std::span<float>)>& forward) {
  if (out.size() != texts.size() * dim) {
    return Status::InvalidArgument(fmt::format("output holds {} floats, {} texts need {}",
                                               out.size(), texts.size(), texts.size() * dim));
  }
  const int n = static_cast<int>(texts.size());
  std::vector<std::vector<int32_t>> ids(texts.size());
  std::vector<Status> failed(texts.size());
#pragma omp parallel for schedule(dynamic, 16) if (n >= 64)
  for (int i = 0; i < n; ++i) {
    auto enc = tokenize(texts[i]);
    if (!enc.ok()) {
      failed[i] = enc.status();
    } else {
      ids[i] = std::move(enc).value();
    }
  }
  for (int i = 0; i < n; ++i) {
    if (!failed[i].ok()) {
      return Status(failed[i].code(), fmt::format("text {}: {}", i, failed[i].message()));
    }
  }
  for (size_t first = 0; first < texts.size();) {
    size_t last = first, tokens = 0;
    while (last < texts.size() && (last == first || tokens + ids[last].size() <= tokens_per_call)) {
      tokens += ids[last++].size();
    }
    FE_RETURN_IF_ERROR(forward(std::span(ids).subspan(first, last - first),
                               out.subspan(first * dim, (last - first) * dim)));
    first = last;
  }
  return Status::OK();
}

}  // namespace flashembed::encoders
