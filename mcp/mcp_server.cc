#include "mcp/mcp_server.h"

#include <algorithm>
#include <filesystem>
#include <istream>
#include <ostream>
#include <system_error>
#include <utility>

#include "mcp/tools.h"

#ifndef FLASHEMBED_VERSION
#define FLASHEMBED_VERSION "0"
#endif

namespace flashembed::mcp {
namespace fs = std::filesystem;
namespace {

// JSON-RPC 2.0 error codes.
constexpr int kParseError = -32700;
constexpr int kInvalidRequest = -32600;
constexpr int kMethodNotFound = -32601;
constexpr int kInvalidParams = -32602;
constexpr int kInternalError = -32603;

constexpr const char* kInstructions =
    "flashembed is a vector database. Use list_collections to see what is stored, search to find "
    "records or long documents by meaning (with optional metadata filters), add_texts to remember "
    "short texts, ingest_files to read files under the allowed folders, get and delete by id.";

std::string Response(const Json& id, Json result) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"result", std::move(result)}}.dump(
      -1, ' ', false, Json::error_handler_t::replace);
}

std::string ErrorResponse(const Json& id, int code, const std::string& message) {
  return Json{{"jsonrpc", "2.0"}, {"id", id}, {"error", {{"code", code}, {"message", message}}}}
      .dump(-1, ' ', false, Json::error_handler_t::replace);
}

}  // namespace

bool IsSupportedProtocolVersion(std::string_view version) {
  return std::find(std::begin(kProtocolVersions), std::end(kProtocolVersions), version) !=
         std::end(kProtocolVersions);
}

struct McpServer::Impl {
  Impl(Database* db, std::vector<fs::path> roots, bool read_only)
      : tools(db, std::move(roots), read_only) {}

  std::string Handle(std::string_view message);
  Json Initialize(const Json& params) const;
  Json CallTool(const Json& params);

  Tools tools;
};

Result<std::unique_ptr<McpServer>> McpServer::Create(Database* db, McpOptions options) {
  std::vector<fs::path> roots;
  for (const std::string& r : options.roots) {
    std::error_code ec;
    const fs::path canonical = fs::canonical(r, ec);
    if (ec || !fs::is_directory(canonical, ec)) {
      return Status::InvalidArgument("root \"" + r + "\" is not an existing folder" +
                                     (ec ? ": " + ec.message() : ""));
    }
    roots.push_back(canonical);
  }
  const bool read_only = options.read_only || db->read_only();
  return std::unique_ptr<McpServer>(
      new McpServer(std::make_unique<Impl>(db, std::move(roots), read_only)));
}

McpServer::McpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
McpServer::~McpServer() = default;

std::string McpServer::Handle(std::string_view message) { return impl_->Handle(message); }

std::string McpServer::Impl::Handle(std::string_view message) {
  Json msg = Json::parse(message, nullptr, /*allow_exceptions=*/false);
  if (msg.is_discarded()) return ErrorResponse(nullptr, kParseError, "parse error: not valid JSON");
  if (msg.is_array()) {
    return ErrorResponse(nullptr, kInvalidRequest,
                         "batches (JSON arrays of messages) are not supported: send one message "
                         "at a time");
  }
  if (!msg.is_object()) {
    return ErrorResponse(nullptr, kInvalidRequest, "invalid request: a message is a JSON object");
  }
  // A request's id is a string or an integer (MCP: never null).
  Json id = nullptr;
  auto id_it = msg.find("id");
  const bool has_id = id_it != msg.end();
  if (has_id && (id_it->is_string() || id_it->is_number_integer())) id = *id_it;
  auto jsonrpc = msg.find("jsonrpc");
  if (jsonrpc == msg.end() || *jsonrpc != "2.0") {
    return ErrorResponse(id, kInvalidRequest, "invalid request: \"jsonrpc\" must be \"2.0\"");
  }
  auto method_it = msg.find("method");
  if (method_it == msg.end()) {
    // A response to a request of ours: the server sends none, so there is
    // nothing to match it with.
    if (has_id && (msg.contains("result") || msg.contains("error"))) return "";
    return ErrorResponse(id, kInvalidRequest, "invalid request: no \"method\"");
  }
  if (!method_it->is_string()) {
    return ErrorResponse(id, kInvalidRequest, "invalid request: \"method\" must be a string");
  }
  const std::string& method = method_it->get_ref<const std::string&>();
  if (!has_id) return "";  // a notification: initialized, cancelled, ... need no answer
  if (id.is_null()) {
    return ErrorResponse(nullptr, kInvalidRequest,
                         "invalid request: \"id\" must be a string or an integer");
  }
  Json params = Json::object();
  if (auto p = msg.find("params"); p != msg.end() && !p->is_null()) {
    if (!p->is_object()) return ErrorResponse(id, kInvalidParams, "\"params\" must be an object");
    params = *p;
  }
  try {
    if (method == "initialize") return Response(id, Initialize(params));
    if (method == "ping") return Response(id, Json::object());
    if (method == "tools/list") return Response(id, {{"tools", tools.List()}});
    if (method == "tools/call") {
      auto name = params.find("name");
      if (name == params.end() || !name->is_string()) {
        return ErrorResponse(id, kInvalidParams, "tools/call needs \"name\", a string");
      }
      if (!tools.Has(name->get<std::string>())) {
        return ErrorResponse(id, kInvalidParams,
                             "unknown tool \"" + name->get<std::string>() +
                                 "\" (tools/list names the tools)");
      }
      auto args = params.find("arguments");
      if (args != params.end() && !args->is_null() && !args->is_object()) {
        return ErrorResponse(id, kInvalidParams, "tools/call \"arguments\" must be an object");
      }
      return Response(id, CallTool(params));
    }
  } catch (const std::exception& e) {
    return ErrorResponse(id, kInternalError, std::string("internal error: ") + e.what());
  }
  return ErrorResponse(id, kMethodNotFound, "method not found: \"" + method + "\"");
}

Json McpServer::Impl::Initialize(const Json& params) const {
  std::string version(kProtocolVersions[0]);
  if (auto v = params.find("protocolVersion"); v != params.end() && v->is_string()) {
    if (IsSupportedProtocolVersion(v->get<std::string>())) version = v->get<std::string>();
  }
  return {{"protocolVersion", version},
          {"capabilities", {{"tools", {{"listChanged", false}}}}},
          {"serverInfo",
           {{"name", "flashembed"}, {"title", "flashembed"}, {"version", FLASHEMBED_VERSION}}},
          {"instructions", kInstructions}};
}

Json McpServer::Impl::CallTool(const Json& params) {
  const std::string name = params["name"].get<std::string>();
  Json args = Json::object();
  if (auto a = params.find("arguments"); a != params.end() && a->is_object()) args = *a;
  try {
    Json result = tools.Call(name, args);
    return {{"content",
             Json::array({{{"type", "text"},
                           {"text", result.dump(-1, ' ', false, Json::error_handler_t::replace)}}})},
            {"structuredContent", std::move(result)},
            {"isError", false}};
  } catch (const ToolError& e) {
    return {{"content", Json::array({{{"type", "text"}, {"text", e.what()}}})}, {"isError", true}};
  }
}

Status ServeStdio(McpServer& server, std::istream& in, std::ostream& out) {
  std::string line;
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.find_first_not_of(" \t") == std::string::npos) continue;
    const std::string answer = server.Handle(line);
    if (answer.empty()) continue;
    out << answer << '\n' << std::flush;
    if (!out) return Status::IOError("cannot write to the MCP client (stdout closed)");
  }
  return Status::OK();
}

}  // namespace flashembed::mcp
