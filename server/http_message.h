// The request and response passed between the HTTP transport (http_server.cc,
// the only file that includes Beast) and the route handlers, which never see
// Beast types and so compile quickly.
#ifndef FLASHEMBED_SERVER_HTTP_MESSAGE_H_
#define FLASHEMBED_SERVER_HTTP_MESSAGE_H_

#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace flashembed::server {

struct HttpRequest {
  std::string method;  // "GET", "POST", ...
  std::string path;    // the target before '?', not percent-decoded
  std::string query;   // the target after '?', "" if none
  // Header names in lower case, values as sent, in arrival order.
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::string remote;  // peer address, for the access log

  // The first value of header `lower_name` ("" when absent).
  std::string_view Header(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return value;
    }
    return {};
  }
  bool HasHeader(std::string_view lower_name) const {
    for (const auto& [name, value] : headers) {
      if (name == lower_name) return true;
    }
    return false;
  }
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "application/json; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // extra headers
  // For metrics and the access log: the route template that answered
  // ("/v2/vectordb/entities/search", "/api/v1/collections/{name}/search",
  // "unknown"), and the Milvus envelope code (-1 for non-Milvus routes).
  std::string route = "unknown";
  int api_code = -1;
};

}  // namespace flashembed::server

#endif  // FLASHEMBED_SERVER_HTTP_MESSAGE_H_
