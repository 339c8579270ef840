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
  // cannot be made, breaks, or connecting or the exchange (sending and
  // receiving) takes longer than the timeout (each has it; the connection is
  // then closed); any HTTP status is a reply. A request whose sending fails
  // on a kept-alive connection is sent once more on a new one.
  virtual Result<HttpReply> Post(
      std::string_view path, std::string_view body,
      const std::vector<std::pair<std::string, std::string>>& headers) = 0;

  // Whether the last Post failed on a kept-alive connection that the server
  // had closed: the connection ended before any byte of an answer. The
  // server most likely closed it while idle and never read the request,
  // but cannot be sure; a caller may send it again (idempotently).
  virtual bool stale_failure() const = 0;

  // "host:port", for messages.
  virtual const std::string& endpoint() const = 0;
};

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_HTTP_CLIENT_H_
