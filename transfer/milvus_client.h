// Calls of the Milvus REST API v2 for push and pull: the {"code":..,
// "data":..} envelope, retries of transport failures, and reading a
// reply's rows without parsing them into JSON values (their floats are
// read from the text, bit-exact).
//
// Thread-safety: one thread at a time per client.
#ifndef FLASHEMBED_TRANSFER_MILVUS_CLIENT_H_
#define FLASHEMBED_TRANSFER_MILVUS_CLIENT_H_

#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "transfer/http_client.h"
#include "transfer/remote.h"
#include "transfer/row_schema.h"

namespace flashembed::transfer {

// A reply whose code was 0: its whole text and where its "data" is.
struct MilvusReply {
  std::string body;
  size_t data_offset = 0;
  size_t data_size = 0;  // 0 when the reply has no "data"

  // The raw text of "data" (a view into body).
  std::string_view data() const { return std::string_view(body).substr(data_offset, data_size); }
};

class MilvusClient {
 public:
  static Result<std::unique_ptr<MilvusClient>> Open(const RemoteOptions& options);

  // POSTs `body` to /v2/vectordb/<route>. Transport failures, HTTP 408 /
  // 429 / 5xx and Milvus code 1807 are retried (options.retries) after a
  // growing pause (Cancelled when the cancel flag is set meanwhile); a
  // request lost on a kept-alive connection the server had closed is sent
  // again at once. Attempts after the first go to `retry_route` when it is
  // given (an insert retried as an upsert). Errors: IOError (unreachable,
  // not a Milvus REST v2 endpoint, retries spent), InvalidArgument (HTTP
  // 401/403: the token), NotFound (Milvus code 100), Internal for other
  // Milvus codes: "<route>: Milvus code <n>: <message>".
  Result<MilvusReply> Call(std::string_view route, const std::string& body,
                           std::string_view retry_route = {});

  // Call with a small body given as JSON and the data parsed.
  Result<Json> CallJson(std::string_view route, const OrderedJson& body);

  // The body fields every request carries ({"collectionName": name} plus
  // "dbName" when set), to add the rest to.
  OrderedJson Body(const std::string& collection) const;

  // Polled while waiting to retry (and by callers between requests); not
  // owned; may be null.
  void set_cancel(const std::atomic<bool>* cancel) { cancel_ = cancel; }
  bool cancelled() const { return cancel_ != nullptr && cancel_->load(std::memory_order_relaxed); }

  uint64_t requests() const { return requests_; }
  const std::string& url() const { return url_; }

 private:
  MilvusClient(std::unique_ptr<HttpClient> http, const RemoteOptions& options);

  std::unique_ptr<HttpClient> http_;
  std::string url_;
  std::string db_name_;
  int retries_;
  std::vector<std::pair<std::string, std::string>> headers_;
  uint64_t requests_ = 0;
  const std::atomic<bool>* cancel_ = nullptr;
};

// The elements of the JSON array `text` as raw text spans (into `text`),
// or the members of the JSON object `text` as key / raw value pairs.
// InvalidArgument for text that is not one array / object.
Result<std::vector<std::string_view>> RawArrayElements(std::string_view text);
Result<std::vector<std::pair<std::string, std::string_view>>> RawObjectMembers(
    std::string_view text);

// `value` as a string literal of a Milvus filter expression: double
// quotes, with '"', '\' and control characters escaped.
std::string FilterStringLiteral(std::string_view value);

}  // namespace flashembed::transfer

#endif  // FLASHEMBED_TRANSFER_MILVUS_CLIENT_H_
