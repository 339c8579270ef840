// Roots (files and folders) → the sorted list of files to read, filtered by
// include / exclude globs.
#include <algorithm>
#include <filesystem>
#include <string>
#include <string_view>
#include <system_error>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "ingest/readers.h"

namespace flashembed::ingest {
namespace {

namespace fs = std::filesystem;

struct Token {
  enum Kind { kChar, kAnyChar, kClass, kStar, kGlobstar, kGlobstarSlash } kind;
  char c = 0;
  bool negate = false;                                          // kClass
  std::vector<std::pair<unsigned char, unsigned char>> ranges;  // kClass
};

// Parses "[...]" starting at glob[*i] == '['; false (and *i unchanged) when
// there is no closing ']', in which case '[' is an ordinary character.
bool ParseClass(std::string_view glob, size_t* i, Token* token) {
  size_t j = *i + 1;
  token->kind = Token::kClass;
  if (j < glob.size() && (glob[j] == '!' || glob[j] == '^')) {
    token->negate = true;
    ++j;
  }
  bool first = true;
  while (j < glob.size() && (glob[j] != ']' || first)) {
    first = false;
    unsigned char lo = static_cast<unsigned char>(glob[j]);
    if (lo == '\\' && j + 1 < glob.size()) lo = static_cast<unsigned char>(glob[++j]);
    unsigned char hi = lo;
    if (j + 2 < glob.size() && glob[j + 1] == '-' && glob[j + 2] != ']') {
      j += 2;
      hi = static_cast<unsigned char>(glob[j]);
      if (hi == '\\' && j + 1 < glob.size()) hi = static_cast<unsigned char>(glob[++j]);
    }
    token->ranges.emplace_back(lo, hi);
    ++j;
  }
  if (j >= glob.size()) return false;
  *i = j;  // at the closing ']'
  return true;
}

std::vector<Token> Tokenize(std::string_view glob) {
  std::vector<Token> tokens;
  for (size_t i = 0; i < glob.size(); ++i) {
    const char c = glob[i];
    Token token{Token::kChar};
    if (c == '\\' && i + 1 < glob.size()) {
      token.c = glob[++i];
    } else if (c == '?') {
      token.kind = Token::kAnyChar;
    } else if (c == '*') {
      size_t run = 1;
      while (i + run < glob.size() && glob[i + run] == '*') ++run;
      const bool starts_component = i == 0 || glob[i - 1] == '/';
      i += run - 1;
      if (run == 1) {
        token.kind = Token::kStar;
      } else if (starts_component && i + 1 < glob.size() && glob[i + 1] == '/') {
        token.kind = Token::kGlobstarSlash;  // "**/": zero or more folders
        ++i;
      } else {
        token.kind = Token::kGlobstar;
      }
    } else if (c == '[') {
      Token cls{Token::kClass};
      if (ParseClass(glob, &i, &cls)) {
        token = std::move(cls);
      } else {
        token.c = c;
      }
    } else {
      token.c = c;
    }
    tokens.push_back(std::move(token));
  }
  return tokens;
}

bool InClass(const Token& token, unsigned char c) {
  bool in = false;
  for (const auto& [lo, hi] : token.ranges) in = in || (c >= lo && c <= hi);
  return in != token.negate;
}

// Bytes in the UTF-8 character starting with `c` (1 for a stray byte).
size_t CharLength(unsigned char c) {
  if (c >= 0xF0 && c <= 0xF4) return 4;
  if (c >= 0xE0) return c <= 0xEF ? 3 : 1;
  if (c >= 0xC2) return 2;
  return 1;
}

// Dynamic programming over (token, position), from the back: linear in
// the product of the lengths, whatever the stars.
bool Match(const std::vector<Token>& tokens, std::string_view text) {
  const size_t n = text.size();
  std::vector<char> next(n + 1,
                         0);  // next[j]: tokens after this one match text[j..]
  std::vector<char> cur(n + 1, 0);
  next[n] = 1;
  for (size_t t = tokens.size(); t-- > 0;) {
    const Token& token = tokens[t];
    cur[n] = (token.kind == Token::kStar || token.kind == Token::kGlobstar ||
              token.kind == Token::kGlobstarSlash) &&
             next[n];
    bool slash_ahead = false;  // kGlobstarSlash: some text[m] == '/', m >= j, with next[m + 1]
    for (size_t j = n; j-- > 0;) {
      const auto c = static_cast<unsigned char>(text[j]);
      switch (token.kind) {
        case Token::kChar: cur[j] = text[j] == token.c && next[j + 1]; break;
        case Token::kAnyChar: {
          const size_t len = std::min(CharLength(c), n - j);
          cur[j] = c != '/' && next[j + len];
          break;
        }
        case Token::kClass: cur[j] = c != '/' && InClass(token, c) && next[j + 1]; break;
        case Token::kStar: cur[j] = next[j] || (c != '/' && cur[j + 1]); break;
        case Token::kGlobstar: cur[j] = next[j] || cur[j + 1]; break;
        case Token::kGlobstarSlash:
          slash_ahead = slash_ahead || (c == '/' && next[j + 1]);
          cur[j] = next[j] || slash_ahead;
          break;
      }
    }
    std::swap(cur, next);
  }
  return next[0] != 0;
}

// A glob's effective pattern: a leading '/' dropped, a trailing '/' meaning
// everything below.
std::string Normalize(std::string_view glob) {
  if (!glob.empty() && glob.front() == '/') glob.remove_prefix(1);
  std::string pattern(glob);
  if (!pattern.empty() && pattern.back() == '/') pattern += "**";
  return pattern;
}

bool AnyMatches(const std::vector<std::string>& globs, std::string_view rel) {
  for (const std::string& glob : globs) {
    if (GlobMatches(glob, rel)) return true;
  }
  return false;
}

struct Walk {
  const WalkOptions& options;
  std::vector<InputFile> files;
  std::unordered_set<std::string> seen;  // absolute, normalised paths

  void Add(fs::path path, std::string id) {
    std::error_code ec;
    fs::path absolute = fs::absolute(path, ec);
    std::string key = (ec ? path : absolute).lexically_normal().generic_string();
    if (!seen.insert(std::move(key)).second) return;
    files.push_back(InputFile{std::move(path), std::move(id)});
  }

  Status Folder(const std::string& root) {
    // Entries are root + '/' + relative path; the id is the relative part.
    const size_t prefix = root.back() == '/' ? root.size() : root.size() + 1;
    std::error_code ec;
    fs::recursive_directory_iterator it(root, fs::directory_options::skip_permission_denied, ec);
    if (ec) return Status::IOError(root + ": cannot read the folder: " + ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      if (ec) break;
      const fs::directory_entry& entry = *it;
      const std::string path = entry.path().string();
      if (path.size() <= prefix) continue;
      const std::string rel = fs::path(path.substr(prefix)).generic_string();
      const std::string name = entry.path().filename().string();
      std::error_code type_ec;
      const bool real_folder = entry.is_directory(type_ec) && !entry.is_symlink(type_ec);
      if (!options.hidden && !name.empty() && name[0] == '.') {
        if (real_folder) it.disable_recursion_pending();
        continue;
      }
      if (real_folder) {
        if (AnyMatches(options.exclude, rel) || AnyMatches(options.exclude, rel + "/")) {
          it.disable_recursion_pending();
        }
        continue;
      }
      if (!entry.is_regular_file(type_ec)) continue;  // follows symlinks to files
      if (!options.include.empty() && !AnyMatches(options.include, rel)) continue;
      if (AnyMatches(options.exclude, rel)) continue;
      Add(entry.path(), rel);
    }
    if (ec) return Status::IOError(root + ": walking the folder: " + ec.message());
    return Status::OK();
  }
};

}  // namespace

bool GlobMatches(std::string_view glob, std::string_view relative_path) {
  const std::string pattern = Normalize(glob);
  std::string_view text = relative_path;
  if (pattern.find('/') == std::string::npos) {
    const size_t slash = text.rfind('/');
    if (slash != std::string_view::npos) text.remove_prefix(slash + 1);
  }
  return Match(Tokenize(pattern), text);
}

Result<std::vector<InputFile>> ListFiles(const std::vector<std::string>& roots,
                                         const WalkOptions& options) {
  for (const auto* globs : {&options.include, &options.exclude}) {
    for (const std::string& glob : *globs) {
      if (glob.empty() || glob == "/") return Status::InvalidArgument("empty glob");
    }
  }
  Walk walk{options, {}, {}};
  for (const std::string& root : roots) {
    if (root.empty()) return Status::InvalidArgument("empty path");
    std::error_code ec;
    const fs::file_status st = fs::status(root, ec);
    if (!fs::exists(st)) {
      if (ec && ec != std::errc::no_such_file_or_directory) {
        return Status::IOError(root + ": " + ec.message());
      }
      return Status::NotFound(root + ": no such file or folder");
    }
    if (fs::is_directory(st)) {
      FE_RETURN_IF_ERROR(walk.Folder(root));
    } else {
      walk.Add(fs::path(root), root);
    }
  }

  std::vector<InputFile> files = std::move(walk.files);
  std::sort(files.begin(), files.end(), [](const InputFile& a, const InputFile& b) {
    return a.path.generic_string() < b.path.generic_string();
  });
  std::unordered_map<std::string, const InputFile*> by_id;
  for (const InputFile& file : files) {
    const auto [it, inserted] = by_id.emplace(file.id, &file);
    if (!inserted) {
      return Status::InvalidArgument(
          it->second->path.string() + " and " + file.path.string() + " would both have id \"" +
          file.id + "\" (files from different folders); read the folders separately");
    }
  }
  return files;
}

}  // namespace flashembed::ingest
