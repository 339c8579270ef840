#include "transfer/import_layout.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

namespace flashembed::transfer {
namespace {

namespace fs = std::filesystem;

// "2.json" before "10.json": digit runs compare as numbers.
bool NaturalLess(const std::string& a, const std::string& b) {
  size_t i = 0;
  size_t j = 0;
  while (i < a.size() && j < b.size()) {
    if (std::isdigit(static_cast<unsigned char>(a[i])) &&
        std::isdigit(static_cast<unsigned char>(b[j]))) {
      size_t ie = i;
      size_t je = j;
      while (ie < a.size() && std::isdigit(static_cast<unsigned char>(a[ie]))) ++ie;
      while (je < b.size() && std::isdigit(static_cast<unsigned char>(b[je]))) ++je;
      std::string_view na(a.data() + i, ie - i);
      std::string_view nb(b.data() + j, je - j);
      while (na.size() > 1 && na[0] == '0') na.remove_prefix(1);
      while (nb.size() > 1 && nb[0] == '0') nb.remove_prefix(1);
      if (na.size() != nb.size()) return na.size() < nb.size();
      if (na != nb) return na < nb;
      i = ie;
      j = je;
    } else {
      if (a[i] != b[j]) return a[i] < b[j];
      ++i;
      ++j;
    }
  }
  return a.size() - i < b.size() - j;
}

Result<std::optional<Json>> ReadJsonFile(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec)) return std::optional<Json>();
  std::ifstream in(path, std::ios::binary);
  if (!in) return Status::IOError("cannot read " + path.string());
  std::stringstream text;
  text << in.rdbuf();
  Json value = Json::parse(text.str(), nullptr, false);
  if (!value.is_object()) {
    return Status::InvalidArgument(path.filename().string() + " is not a JSON object");
  }
  return std::optional<Json>(std::move(value));
}

bool IsDescriptionFile(const fs::path& rel) {
  const std::string name = rel.generic_string();
  return name == "collection.json" || name == "import.json" || name == "flashembed-collection.json";
}

// The groups import.json lists, resolved against `dir`.
Result<std::vector<ImportLayout::Group>> GroupsOfImportJson(const fs::path& dir, const Json& body,
                                                            FileFormat format) {
  const Json* files = nullptr;
  for (auto it = body.begin(); it != body.end(); ++it) {
    std::string key = it.key();
    std::transform(key.begin(), key.end(), key.begin(), ::tolower);
    if (key == "files") files = &*it;
  }
  if (files == nullptr || !files->is_array()) {
    return Status::InvalidArgument("import.json: \"files\" must be a list of file groups");
  }
  std::vector<ImportLayout::Group> groups;
  const std::string ext = format == FileFormat::kMilvusJson ? ".json" : ".npy";
  for (const Json& g : *files) {
    if (!g.is_array() || g.empty()) {
      return Status::InvalidArgument(
          "import.json: every entry of \"files\" must be a non-empty list");
    }
    ImportLayout::Group group;
    for (const Json& f : g) {
      if (!f.is_string()) return Status::InvalidArgument("import.json: file names must be strings");
      std::string rel = f.get<std::string>();
      while (!rel.empty() && rel[0] == '/') rel.erase(0, 1);
      const fs::path path = dir / rel;
      if (path.extension() != ext) {
        return Status::InvalidArgument("import.json lists " + rel + ", not a " + ext +
                                       " file: is --format " + FileFormatName(format) + " right?");
      }
      std::error_code ec;
      if (!fs::is_regular_file(path, ec)) {
        return Status::NotFound("import.json lists " + rel + ", which is not in " + dir.string());
      }
      group.paths.push_back(path.string());
    }
    if (format == FileFormat::kMilvusJson && group.paths.size() != 1) {
      return Status::InvalidArgument("import.json: a JSON file group holds exactly one file");
    }
    const fs::path first = fs::path(group.paths.front()).lexically_relative(dir);
    group.display = format == FileFormat::kMilvusJson ? first.generic_string()
                                                      : first.parent_path().generic_string();
    groups.push_back(std::move(group));
  }
  return groups;
}

}  // namespace

Result<ImportLayout> FindImportFiles(const std::string& dir_name, FileFormat format) {
  ImportLayout layout;
  const fs::path dir(dir_name);
  std::error_code ec;
  if (fs::is_regular_file(dir, ec)) {
    if (format != FileFormat::kMilvusJson || dir.extension() != ".json") {
      return Status::InvalidArgument(dir_name +
                                     ": give a folder (or one .json file with "
                                     "--format milvus-json)");
    }
    layout.groups.push_back({dir.filename().string(), {dir.string()}});
    return layout;
  }
  if (!fs::is_directory(dir, ec)) return Status::NotFound("no such folder: " + dir_name);
  FE_ASSIGN_OR_RETURN(layout.collection_json, ReadJsonFile(dir / "collection.json"));
  FE_ASSIGN_OR_RETURN(layout.flashembed_json, ReadJsonFile(dir / "flashembed-collection.json"));
  if (fs::is_regular_file(dir / "flashembed-documents.jsonl", ec)) {
    layout.documents_path = (dir / "flashembed-documents.jsonl").string();
  }
  FE_ASSIGN_OR_RETURN(std::optional<Json> import_json, ReadJsonFile(dir / "import.json"));
  if (import_json.has_value()) {
    FE_ASSIGN_OR_RETURN(layout.groups, GroupsOfImportJson(dir, *import_json, format));
    return layout;
  }

  std::vector<std::string> json_files;
  std::map<std::string, std::vector<std::string>> npy_groups;  // folder -> files
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_regular_file(ec)) continue;
    const fs::path rel = it->path().lexically_relative(dir);
    if (it->path().extension() == ".json" && !IsDescriptionFile(rel)) {
      json_files.push_back(rel.generic_string());
    } else if (it->path().extension() == ".npy") {
      npy_groups[rel.parent_path().generic_string()].push_back(it->path().string());
    }
  }
  if (ec) return Status::IOError("cannot list " + dir_name + ": " + ec.message());
  if (format == FileFormat::kMilvusJson) {
    std::sort(json_files.begin(), json_files.end(), NaturalLess);
    for (const std::string& rel : json_files)
      layout.groups.push_back({rel, {(dir / rel).string()}});
  } else {
    std::vector<std::string> folders;
    for (const auto& [folder, files] : npy_groups) folders.push_back(folder);
    std::sort(folders.begin(), folders.end(), NaturalLess);
    for (const std::string& folder : folders) {
      std::vector<std::string> files = npy_groups[folder];
      std::sort(files.begin(), files.end());
      layout.groups.push_back({folder.empty() ? "." : folder, std::move(files)});
    }
  }
  if (layout.groups.empty() && !layout.collection_json.has_value()) {
    const bool other =
        format == FileFormat::kMilvusJson ? !npy_groups.empty() : !json_files.empty();
    return Status::NotFound(
        std::string("no ") + (format == FileFormat::kMilvusJson ? "JSON row files" : ".npy files") +
        " in " + dir_name +
        (other ? std::string(" (it holds ") + (format == FileFormat::kMilvusJson
                                                   ? ".npy files: use --format milvus-numpy)"
                                                   : ".json files: use --format milvus-json)")
               : ""));
  }
  return layout;
}

}  // namespace flashembed::transfer
