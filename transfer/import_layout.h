// What an import folder holds (transfer/FORMAT.md): the JSON files that
// describe it and the data file groups, in order.
#ifndef FLASHEMBED_TRANSFER_IMPORT_LAYOUT_H_
#define FLASHEMBED_TRANSFER_IMPORT_LAYOUT_H_

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "transfer/row_schema.h"
#include "transfer/transfer.h"

namespace flashembed::transfer {

struct ImportLayout {
  std::optional<Json> collection_json;  // collection.json (a collections/create body)
  std::optional<Json> flashembed_json;  // flashembed-collection.json (our export)
  std::string documents_path;           // flashembed-documents.jsonl, "" when absent
  struct Group {
    std::string display;             // for messages, relative to the folder
    std::vector<std::string> paths;  // one .json, or the .npy files of a group
  };
  std::vector<Group> groups;
};

// Finds the files of `dir` (a folder, or one JSON file) for `format`: the
// groups listed by import.json when there is one, else every .json file
// (every folder of .npy files) under `dir`, in natural order ("2.json"
// before "10.json"). NotFound when there is nothing to import, naming the
// other format's files if those are there; InvalidArgument for a
// malformed collection.json / flashembed-collection.json / import.json.
Result<ImportLayout> FindImportFiles(const std::string& dir, FileFormat format);

// The schema rows are checked against, and the collection to create.
struct ImportPlan {
  RowSchema rows;
  std::optional<CollectionSchema> create;  // set when `target` is null
};

// Resolves the row schema of an import (ImportCollection's rules) from the
// layout's collection.json / flashembed-collection.json, the options' field
// names and the existing `target` (null when the collection is missing).
// InvalidArgument naming a bad declaration or a dimension mismatch.
Result<ImportPlan> ResolveImportSchema(const ImportLayout& layout, const ImportOptions& options,
                                       const std::shared_ptr<Collection>& target);

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_IMPORT_LAYOUT_H_
