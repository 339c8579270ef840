// The MCP server's tools (docs/MCP.md, "Tools"): their descriptions with
// input and output schemas, and the calls. Internal to mcp/.
//
// A tool that fails throws ToolError; McpServer turns it into a result with
// isError (the model reads the reason and may try again). Exceptions never
// leave mcp/.
//
// Thread-safety: List() and Call() may run on many threads at once.
#ifndef FLASHEMBED_MCP_TOOLS_H_
#define FLASHEMBED_MCP_TOOLS_H_

#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "query/database.h"

namespace flashembed::mcp {

using Json = nlohmann::json;

class ToolError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// The descriptions of the tools offered (tool_schemas.cc): the reading ones
// only with `read_only`.
Json ToolList(bool read_only);

class Tools {
 public:
  // `roots`: canonical folders ingest_files may read. `read_only`: offer the
  // reading tools only.
  Tools(Database* db, std::vector<std::filesystem::path> roots, bool read_only);

  // The "tools" array of a tools/list result.
  const Json& List() const { return list_; }
  // Whether `name` is a tool offered here.
  bool Has(const std::string& name) const;
  // Runs tool `name` (REQUIRES: Has(name)) with `arguments` (an object) and
  // returns its structured result. Throws ToolError.
  Json Call(const std::string& name, const Json& arguments);

 private:
  Json ListCollections(const Json& args);
  Json Search(const Json& args);
  Json AddTexts(const Json& args);
  Json IngestFiles(const Json& args);
  Json Get(const Json& args);
  Json Delete(const Json& args);

  Database* db_;
  std::vector<std::filesystem::path> roots_;
  Json list_;
};

}  // namespace flashembed::mcp

#endif  // FLASHEMBED_MCP_TOOLS_H_
