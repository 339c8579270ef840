#include "server/router.h"

#include <chrono>
#include <cstdio>
#include <ctime>

#include <fmt/format.h>

#include "server/json_util.h"
#include "server/server.h"

namespace flashembed::server {
namespace {

bool StartsWith(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The host of an Origin header ("http://[::1]:8080" -> "::1").
std::string OriginHost(std::string_view origin) {
  if (const size_t scheme = origin.find("://"); scheme != std::string_view::npos) {
    origin.remove_prefix(scheme + 3);
  }
  if (!origin.empty() && origin.front() == '[') {
    return std::string(origin.substr(1, origin.find(']') - 1));  // an IPv6 address
  }
  return std::string(origin.substr(0, origin.find_first_of(":/")));
}

}  // namespace

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Every byte of the longer string is visited whatever the contents, so
  // the time reveals only the lengths.
  const size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    const unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= static_cast<unsigned char>(x ^ y);
  }
  return diff == 0;
}

Router::Router(Database* db, RouterOptions options)
    : db_(db),
      options_(std::move(options)),
      models_(options_.allowed_model_dirs),
      milvus_(db, &metrics_, &locks_, &models_),
      native_(db, &metrics_, &locks_, &models_, options_.backup_dir),
      openai_(db, &models_) {
  // ServerOptions::Validate checked that the roots are folders.
  Result<std::unique_ptr<mcp::McpServer>> made =
      mcp::McpServer::Create(db, {.roots = options_.mcp_roots});
  if (made.ok()) mcp_ = std::move(made).value();
}

bool Router::Authorized(const HttpRequest& request) const {
  if (options_.token.empty()) return true;
  const std::string_view header = request.Header("authorization");
  constexpr std::string_view kBearer = "Bearer ";
  if (header.size() < kBearer.size() ||
      !EqualsIgnoreCase(header.substr(0, kBearer.size()), kBearer)) {
    return false;
  }
  return ConstantTimeEquals(header.substr(kBearer.size()), options_.token);
}

HttpResponse Router::Handle(const HttpRequest& request) {
  try {
    if (request.method == "HEAD") {
      HttpRequest as_get = request;
      as_get.method = "GET";
      return Dispatch(as_get);
    }
    return Dispatch(request);
  } catch (const std::exception& e) {
    // The APIs catch their own errors; this is the last line of defence so
    // a handler bug answers 500 instead of ending the process.
    return TransportError(request.path, 500, std::string("internal error: ") + e.what());
  }
}

HttpResponse Router::Dispatch(const HttpRequest& request) {
  const bool milvus = StartsWith(request.path, "/v2/vectordb/");
  const bool openai = request.path == "/v1" || StartsWith(request.path, "/v1/");
  // CORS preflight requests carry no credentials.
  if (!Authorized(request) && request.method != "OPTIONS") {
    constexpr std::string_view kWhy = "missing or wrong bearer token (Authorization: Bearer ...)";
    HttpResponse response = milvus   ? MilvusApi::Error(1800, "user hasn't authenticated", 401)
                            : openai ? OpenAiApi::Error(401, kWhy, "", "invalid_api_key")
                                     : NativeApi::Error(401, kWhy);
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    response.route = "unauthenticated";
    return response;
  }
  if (request.path == "/mcp") return Mcp(request);
  if (milvus) return milvus_.Handle(request);
  if (openai) return openai_.Handle(request);
  if (request.path == "/api/v1" || StartsWith(request.path, "/api/v1/"))
    return native_.Handle(request);
  if (request.path == "/health" && request.method == "GET") {
    HttpResponse response;
    response.route = "/health";
    // Reads are served whatever the storage's state, so the answer stays 200;
    // "degraded" says writes fail (say, the disk is full) until the cause is
    // gone. Asking also retries resuming the storage (Database::StorageHealth).
    const Status storage = db_->StorageHealth();
    if (storage.ok()) {
      response.body = R"({"status":"ok"})";
    } else {
      // Writes are refused while the storage is read-only (a read-only
      // folder, or a write error such as a full disk); a closing database
      // is just that.
      const bool closing = storage.code() == StatusCode::kCancelled;
      response.body = Dump(Json{{"status", "degraded"},
                                {"storage", (closing ? "" : "read-only: ") + storage.message()}});
    }
    return response;
  }
  if (request.path == "/metrics" && request.method == "GET") {
    HttpResponse response;
    response.route = "/metrics";
    response.content_type = "text/plain; version=0.0.4; charset=utf-8";
    response.body = metrics_.Render(db_);
    return response;
  }
  HttpResponse response = NativeApi::Error(
      404, "no route " + request.method + " " + request.path + " (see docs/API.md)");
  return response;
}

HttpResponse Router::Mcp(const HttpRequest& request) {
  auto rpc_error = [](int http_status, int code, std::string_view message) {
    HttpResponse response;
    response.status = http_status;
    response.route = "/mcp";
    response.body = Dump(Json{
        {"jsonrpc", "2.0"}, {"id", nullptr}, {"error", {{"code", code}, {"message", message}}}});
    return response;
  };
  if (request.method != "POST") {
    // Stateless: no server-initiated stream (GET) and no session to end
    // (DELETE).
    HttpResponse response =
        rpc_error(405, -32000, "method not allowed: /mcp takes POST (no server-initiated stream)");
    response.headers.emplace_back("Allow", "POST");
    return response;
  }
  // DNS rebinding: a page of another site whose name resolves to this
  // machine must not reach an open server. An Origin naming a loopback host
  // passes; another passes only when a token guards the server.
  if (const std::string_view origin = request.Header("origin");
      !origin.empty() && origin != "null" && options_.token.empty() &&
      !IsLoopbackHost(OriginHost(origin))) {
    return rpc_error(403, -32000,
                     "forbidden: Origin \"" + std::string(origin) +
                         "\" is not a loopback address (start serve with --token to allow other "
                         "origins)");
  }
  if (const std::string_view version = request.Header("mcp-protocol-version");
      !version.empty() && !mcp::IsSupportedProtocolVersion(version)) {
    std::string known;
    for (std::string_view v : mcp::kProtocolVersions)
      known += (known.empty() ? "" : ", ") + std::string(v);
    return rpc_error(400, -32600,
                     "unsupported MCP-Protocol-Version \"" + std::string(version) +
                         "\" (supported: " + known + ")");
  }
  if (mcp_ == nullptr) return rpc_error(500, -32603, "the MCP server did not start");
  HttpResponse response;
  response.route = "/mcp";
  response.body = mcp_->Handle(request.body);
  if (response.body.empty()) {
    // A notification or a response: accepted, nothing to answer.
    response.status = 202;
    response.content_type.clear();
    return response;
  }
  // A message that is not a valid request (no id to answer) is a 400.
  const Json answer = Json::parse(response.body, nullptr, /*allow_exceptions=*/false);
  if (answer.is_object() && answer.contains("error") && answer.value("id", Json()).is_null()) {
    response.status = 400;
  }
  return response;
}

HttpResponse Router::TransportError(std::string_view path, int http_status,
                                    std::string_view message) {
  HttpResponse response;
  if (StartsWith(path, "/v2/")) {
    response = MilvusApi::Error(
        1801, "can only accept json format request, error: " + std::string(message), http_status);
  } else if (path == "/v1" || StartsWith(path, "/v1/")) {
    response = OpenAiApi::Error(http_status, message);
  } else {
    response = NativeApi::Error(http_status, message);
  }
  response.route = "transport";
  return response;
}

void Router::Record(const HttpRequest& request, const HttpResponse& response, size_t bytes_out,
                    double seconds) {
  metrics_.RecordRequest(response.route, response.status, seconds);
  if (!options_.access_log) return;
  const auto now = std::chrono::system_clock::now();
  const int64_t ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count();
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&secs, &tm);
  const std::string ts =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", tm.tm_year + 1900, tm.tm_mon + 1,
                  tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, static_cast<int>(ms % 1000));
  Json line{{"ts", ts},
            {"remote", request.remote},
            {"method", request.method},
            {"path", request.path},
            {"route", response.route},
            {"status", response.status},
            {"bytes_in", request.body.size()},
            {"bytes_out", bytes_out},
            {"ms", static_cast<double>(static_cast<int64_t>(seconds * 1e6)) / 1e3}};
  if (response.api_code >= 0) line["code"] = response.api_code;
  const std::string text = Dump(line) + "\n";
  std::lock_guard<std::mutex> lock(log_mu_);
  std::fwrite(text.data(), 1, text.size(), stderr);
}

}  // namespace flashembed::server
