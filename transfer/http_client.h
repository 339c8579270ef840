// A blocking HTTP/1.1 client for one server: POST with a JSON body over a
// kept-alive connection (reopened when the server closed it). Plain HTTP
// only. This header pulls in no Boost; Beast lives in http_client.cc.
//
//   auto client = HttpClient::Open("http://127.0.0.1:19530").value();
//   auto reply = client->Post("/v2/vectordb/collections/list", "{}", {});
//
// Thread-safety: one thread at a time per client.
#ifndef FLASHEMBED_TRANSFER_HTTP_CLIENT_H_
#define FLASHEMBED_TRANSFER_HTTP_CLIENT_H_

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "base/status.h"

namespace flashembed::transfer {

struct HttpReply {
  int status = 0;
  std::string body;
};

class HttpClient {
 public:
  // Parses "http://host[:port][/prefix]" (default port `default_port`); the
  // prefix is put before every path. InvalidArgument naming what is wrong
  // (another scheme, no host, a bad port). Connects on the first request.
  static Result<std::unique_ptr<HttpClient>> Open(const std::string& url, int default_port,
                                                  int timeout_ms);
  virtual ~HttpClient() = default;

  // Sends one POST and reads the whole reply. IOError when the connection
  // cannot be made, breaks, or the request does not finish within the
  // timeout (the connection is then closed); any HTTP status is a reply.
  virtual Result<HttpReply> Post(std::string_view path, std::string_view body,
                                 const std::vector<std::pair<std::string, std::string>>& headers) = 0;

  // "host:port", for messages.
  virtual const std::string& endpoint() const = 0;
};

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_HTTP_CLIENT_H_
