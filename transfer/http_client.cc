// HttpClient over Boost.Beast. Each operation is started asynchronously on
// a private io_context and run to completion, so Beast's tcp_stream timer
// bounds connect, write and read together (blocking Beast calls have no
// timeout).
#include "transfer/http_client.h"

#include <fmt/format.h>
#include <boost/asio/connect.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <charconv>
#include <chrono>
#include <optional>

namespace flashembed::transfer {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

// The largest reply accepted (a page of Milvus rows is far smaller).
constexpr uint64_t kMaxReplyBytes = uint64_t{1} << 30;

class BeastClient : public HttpClient {
 public:
  BeastClient(std::string host, std::string port, std::string prefix, int timeout_ms)
      : host_(std::move(host)),
        port_(std::move(port)),
        prefix_(std::move(prefix)),
        endpoint_(host_ + ":" + port_),
        timeout_(timeout_ms),
        stream_(ioc_) {}

  ~BeastClient() override { Close(); }

  Result<HttpReply> Post(std::string_view path, std::string_view body,
                         const std::vector<std::pair<std::string, std::string>>& headers) override {
    http::request<http::string_body> req{http::verb::post, prefix_ + std::string(path), 11};
    req.set(http::field::host, host_);
    req.set(http::field::user_agent, "flashembed");
    req.set(http::field::content_type, "application/json");
    req.set(http::field::accept, "application/json");
    for (const auto& [name, value] : headers) req.set(name, value);
    req.body() = std::string(body);
    req.keep_alive(true);
    req.prepare_payload();

    // A kept-alive connection the server closed meanwhile fails on first
    // use without the server having seen the request: try once more on a
    // fresh connection then.
    const bool reused = open_;
    stale_ = false;
    Result<HttpReply> reply = Exchange(req);
    if (!reply.ok() && reused && !sent_any_) reply = Exchange(req);
    stale_ = !reply.ok() && reused && silent_end_;
    return reply;
  }

  bool stale_failure() const override { return stale_; }

  const std::string& endpoint() const override { return endpoint_; }

 private:
  void Close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
    open_ = false;
  }

  Status Failed(const char* what, const beast::error_code& ec) {
    Close();
    std::string why = ec == beast::error::timeout
                          ? fmt::format("no answer within {} ms", timeout_.count())
                          : ec.message();
    return Status::IOError(std::string(what) + " " + endpoint_ + " failed: " + why);
  }

  // Runs the io_context until the started operation completes.
  void Run() {
    ioc_.restart();
    ioc_.run();
  }

  Status Connect() {
    beast::error_code ec;
    tcp::resolver resolver(ioc_);
    const auto addresses = resolver.resolve(host_, port_, ec);
    if (ec) return Status::IOError("cannot resolve host " + host_ + ": " + ec.message());
    stream_.expires_after(timeout_);
    stream_.async_connect(addresses, [&](beast::error_code e, const tcp::endpoint&) { ec = e; });
    Run();
    if (ec) {
      Close();
      return Status::IOError(
          "cannot connect to " + endpoint_ + ": " +
          (ec == beast::error::timeout ? std::string("timed out") : ec.message()));
    }
    stream_.socket().set_option(tcp::no_delay(true), ec);
    open_ = true;
    return Status::OK();
  }

  Result<HttpReply> Exchange(http::request<http::string_body>& req) {
    sent_any_ = false;
    silent_end_ = false;
    if (!open_) FE_RETURN_IF_ERROR(Connect());
    beast::error_code ec;
    stream_.expires_after(timeout_);
    http::async_write(stream_, req, [&](beast::error_code e, size_t n) {
      ec = e;
      sent_any_ = n > 0 && !e;
    });
    Run();
    if (ec) return Failed("sending to", ec);
    sent_any_ = true;
    http::response_parser<http::string_body> parser;
    parser.body_limit(kMaxReplyBytes);
    buffer_.clear();
    http::async_read(stream_, buffer_, parser, [&](beast::error_code e, size_t) { ec = e; });
    Run();
    if (ec) {
      // The request may or may not have been handled.
      silent_end_ = !parser.got_some() && buffer_.size() == 0 &&
                    (ec == http::error::end_of_stream || ec == asio::error::connection_reset ||
                     ec == asio::error::eof || ec == asio::error::broken_pipe);
      return Failed("reading the answer of", ec);
    }
    http::response<http::string_body> res = parser.release();
    HttpReply reply{static_cast<int>(res.result_int()), std::move(res.body())};
    if (!res.keep_alive()) Close();
    return reply;
  }

  std::string host_;
  std::string port_;
  std::string prefix_;
  std::string endpoint_;
  std::chrono::milliseconds timeout_;
  asio::io_context ioc_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  bool open_ = false;
  bool sent_any_ = false;
  bool silent_end_ = false;  // the last exchange's connection ended before any answer
  bool stale_ = false;
};

}  // namespace

Result<std::unique_ptr<HttpClient>> HttpClient::Open(const std::string& url, int default_port,
                                                     int timeout_ms) {
  std::string_view rest = url;
  if (rest.starts_with("https://")) {
    return Status::InvalidArgument("https is not supported (" + url +
                                   "); use http:// (through a TLS proxy if the server needs TLS)");
  }
  if (!rest.starts_with("http://")) {
    return Status::InvalidArgument("the URL must start with http://, got \"" + url + "\"");
  }
  rest.remove_prefix(7);
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  std::string prefix = slash == std::string_view::npos ? "" : std::string(rest.substr(slash));
  while (!prefix.empty() && prefix.back() == '/') prefix.pop_back();
  if (authority.find('@') != std::string_view::npos) {
    return Status::InvalidArgument("put credentials in the token, not in the URL: " + url);
  }
  std::string host;
  std::string_view port_text;
  if (authority.starts_with("[")) {  // [v6]:port
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) return Status::InvalidArgument("bad IPv6 host in " + url);
    host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return Status::InvalidArgument("bad host in " + url);
      port_text = after.substr(1);
    }
  } else {
    const size_t colon = authority.rfind(':');
    host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (host.empty()) return Status::InvalidArgument("no host in the URL \"" + url + "\"");
  int port = default_port;
  if (!port_text.empty()) {
    const auto [end, ec] =
        std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || port < 1 ||
        port > 65535) {
      return Status::InvalidArgument("bad port \"" + std::string(port_text) + "\" in " + url);
    }
  }
  if (timeout_ms < 1) return Status::InvalidArgument("the timeout must be positive");
  return std::unique_ptr<HttpClient>(
      new BeastClient(std::move(host), std::to_string(port), std::move(prefix), timeout_ms));
}

}  // namespace flashembed::transfer
