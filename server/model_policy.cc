#include "server/model_policy.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

namespace flashembed::server {
namespace {

namespace fs = std::filesystem;

constexpr std::string_view kModelPrefix = "model:";

// True when `path` is `dir` or lies inside it (both normalised, absolute).
bool IsWithin(const fs::path& path, const fs::path& dir) {
  auto p = path.begin();
  for (auto d = dir.begin(); d != dir.end(); ++d, ++p) {
    if (d->empty()) continue;  // a trailing separator
    if (p == path.end() || *p != *d) return false;
  }
  return true;
}

}  // namespace

Result<std::vector<std::string>> ModelPolicy::Canonicalize(const std::vector<std::string>& dirs) {
  std::vector<std::string> out;
  for (const std::string& dir : dirs) {
    std::error_code ec;
    const fs::path canonical = fs::canonical(dir, ec);
    if (ec || !fs::is_directory(canonical, ec)) {
      return Status::InvalidArgument("--allow-model \"" + dir + "\" is not an existing folder");
    }
    out.push_back(canonical.string());
  }
  return out;
}

std::string ModelPolicy::Refusal(std::string_view encoder) const {
  if (encoder.substr(0, kModelPrefix.size()) != kModelPrefix) return "";
  const std::string requested(encoder.substr(kModelPrefix.size()));
  const std::string why =
      "encoder \"" + std::string(encoder) +
      "\" is not allowed: this server reads model folders only inside folders its operator "
      "named with `flashembed serve --allow-model DIR`" +
      (dirs_.empty() ? std::string(" (none were named)") : std::string()) +
      "; use \"hash\", or ask for the folder to be allowed";
  if (requested.empty()) return why;
  std::error_code ec;
  const fs::path absolute = fs::absolute(requested, ec);
  if (ec) return why;
  const fs::path path = fs::weakly_canonical(absolute, ec);
  if (ec) return why;
  const bool allowed = std::any_of(dirs_.begin(), dirs_.end(), [&](const std::string& dir) {
    return IsWithin(path, fs::path(dir));
  });
  return allowed ? "" : why;
}

}  // namespace flashembed::server
