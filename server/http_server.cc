// The HTTP transport: the only translation unit that includes Boost.Beast
// (it compiles slowly). One thread runs all network I/O on an io_context;
// each connection is a Session on its own strand; complete requests go to a
// worker pool that runs the Router (database calls block), and the response
// comes back to the session's strand to be written.
//
// A connection's life: wait for the first byte (idle timeout; on expiry the
// connection just closes) -> read the header (read timeout from here on, a
// timer of our own so the connection stays open to answer 408; 431/413
// from the header alone) -> optional "100 Continue" -> read the body ->
// handle -> write (write timeout; Beast's tcp_stream closes the socket when
// it expires) -> again if keep-alive.
//
// A transport-level refusal (400, 408, 413, 431, 503) is sent with
// `Connection: close`; then the send side is shut down and what the client
// still sends is read and discarded for a bounded time and amount
// ("lingering close") before the socket closes. Closing at once with unread
// bytes would make the kernel reset the connection, and a client still
// uploading its body would get a send error instead of reading the answer.
#include <fmt/format.h>
#include <algorithm>
#include <atomic>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <unordered_map>
#include <utility>

#include "server/model_policy.h"
#include "server/router.h"
#include "server/server.h"

namespace flashembed::server {
namespace {

namespace beast = boost::beast;
namespace http = beast::http;
namespace net = boost::asio;
using tcp = net::ip::tcp;
using Clock = std::chrono::steady_clock;

constexpr int kAcceptBackoffMs = 50;
// Lingering close after a refusal: at most this long, this many bytes.
constexpr int kDrainMaxMs = 2000;
constexpr size_t kDrainMaxBytes = 8u << 20;
// Rejected (503) connections linger only while there are at most this many
// more than max_connections, so a flood of them cannot hold descriptors.
constexpr size_t kMaxLingeringRejected = 64;

class ServerImpl;

class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket&& socket, ServerImpl* server, bool reject);
  ~Session();

  void Start();
  // Graceful shutdown: an idle connection closes now; one in the middle of a
  // request finishes it and then closes.
  void Shutdown();

 private:
  enum class State { kIdle, kReading, kHandling, kWriting, kDraining };

  void WaitForRequest();
  void ReadHeader();
  void OnReadTimeout(beast::error_code ec, uint64_t generation);
  void OnHeader(beast::error_code ec);
  void OnBody(beast::error_code ec);
  void Handle();
  void WriteResponse(HttpResponse response, bool keep_alive);
  void OnWrite(beast::error_code ec, size_t bytes, bool keep_alive);
  // Answers a transport-level error (400, 408, 413, 431, 503) with
  // `Connection: close`, then drains and closes.
  void FailRequest(int http_status, std::string_view message);
  // Shuts down the send side, then reads and discards until the client
  // closes or the bounds are reached, then closes.
  void Drain();
  void DrainSome();
  void Close();
  // No longer counted against max_connections (idempotent).
  void StopServing();

  beast::tcp_stream stream_;
  ServerImpl* server_;
  bool reject_;
  beast::flat_buffer buffer_;
  // The read timeout of the request being read: on expiry the socket's
  // operations are cancelled (not the socket closed) so 408 can be sent.
  net::steady_timer read_timer_;
  uint64_t read_generation_ = 0;  // tells a stale timer expiry from the current one
  bool read_timed_out_ = false;
  bool head_ = false;  // the request being answered is HEAD
  bool drain_after_write_ = false;
  size_t drained_ = 0;
  bool serving_ = false;  // counted in ServerImpl::serving()
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::empty_body> continue_;
  std::shared_ptr<http::response<http::string_body>> response_;
  HttpRequest request_;  // the request being answered (for Record)
  HttpResponse answered_;
  Clock::time_point started_;
  State state_ = State::kIdle;
  bool closing_ = false;
  std::string remote_;
};

class ServerImpl final : public Server {
 public:
  // REQUIRES: options.allowed_model_dirs canonical (Server::Start).
  ServerImpl(const ServerOptions& options, Database* db)
      : options_(options),
        router_(db, RouterOptions{IsBlankToken(options.token) ? std::string() : options.token,
                                  options.access_log, options.allowed_model_dirs,
                                  options.backup_dir, options.mcp_roots}),
        workers_(options.threads) {}
  ~ServerImpl() override {
    Stop();
    Wait();
  }

  Status Listen();
  uint16_t port() const override { return port_; }
  void Stop() override;
  void Wait() override;

  const ServerOptions& options() const { return options_; }
  Router& router() { return router_; }
  net::thread_pool& workers() { return workers_; }
  bool stopping() const { return stopping_.load(); }

  void Register(Session* session, const std::shared_ptr<Session>& shared) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_[session] = shared;
    router_.metrics().SetOpenConnections(static_cast<int64_t>(sessions_.size()));
  }
  void Unregister(Session* session) {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    sessions_.erase(session);
    router_.metrics().SetOpenConnections(static_cast<int64_t>(sessions_.size()));
    if (sessions_.empty()) sessions_cv_.notify_all();
  }
  size_t connections() {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    return sessions_.size();
  }
  // Connections counted against max_connections: not rejected ones, and
  // not ones lingering after a refusal (they only discard input).
  void CountServing(int delta) { serving_.fetch_add(static_cast<size_t>(delta)); }
  size_t serving() const { return serving_.load(); }

 private:
  void Accept();
  void RunStop();

  ServerOptions options_;
  Router router_;
  uint16_t port_ = 0;
  std::atomic<bool> stopping_{false};
  std::atomic<size_t> serving_{0};
  std::mutex sessions_mu_;
  std::condition_variable sessions_cv_;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions_;  // guarded by sessions_mu_
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopped_ = false;  // guarded by stop_mu_
  std::thread stopper_;   // guarded by stop_mu_
  std::once_flag stop_once_;
  // Declared last so it is destroyed first: destroying it destroys pending
  // handlers and with them Sessions, whose destructors use the members above.
  net::thread_pool workers_;
  net::io_context ioc_{1};
  // Keeps ioc_.run() going while every connection waits on the worker pool
  // (no I/O pending) after the acceptor has closed during shutdown.
  net::executor_work_guard<net::io_context::executor_type> work_{ioc_.get_executor()};
  std::optional<tcp::acceptor> acceptor_;
  // Delays the next accept after a failed one (see Accept()).
  net::steady_timer accept_backoff_{ioc_};
  std::thread io_thread_;
};

// --- Session ------------------------------------------------------------------

Session::Session(tcp::socket&& socket, ServerImpl* server, bool reject)
    : stream_(std::move(socket)),
      server_(server),
      reject_(reject),
      read_timer_(stream_.get_executor()) {
  beast::error_code ec;
  const tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
  if (!ec) remote_ = fmt::format("{}:{}", peer.address().to_string(), peer.port());
}

Session::~Session() {
  StopServing();
  server_->Unregister(this);
}

void Session::StopServing() {
  if (!serving_) return;
  serving_ = false;
  server_->CountServing(-1);
}

void Session::Start() {
  server_->Register(this, shared_from_this());
  if (!reject_) {
    serving_ = true;
    server_->CountServing(+1);
  }
  net::dispatch(stream_.get_executor(), [self = shared_from_this()] {
    if (self->reject_) {
      self->FailRequest(503, "too many open connections; retry later");
    } else {
      self->WaitForRequest();
    }
  });
}

void Session::Shutdown() {
  net::post(stream_.get_executor(), [self = shared_from_this()] {
    self->closing_ = true;
    if (self->state_ == State::kIdle || self->state_ == State::kDraining) self->stream_.cancel();
  });
}

void Session::WaitForRequest() {
  state_ = State::kIdle;
  // stopping(): a connection accepted just as Stop() took its snapshot of
  // the sessions gets no Shutdown() call; it must not sit idle for the
  // whole grace period.
  if (closing_ || server_->stopping()) return Close();
  if (buffer_.size() > 0) return ReadHeader();  // pipelined bytes already here
  stream_.expires_after(std::chrono::milliseconds(server_->options().idle_timeout_ms));
  stream_.async_read_some(buffer_.prepare(4096),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            if (ec) return self->Close();
                            self->buffer_.commit(n);
                            self->ReadHeader();
                          });
}

void Session::ReadHeader() {
  state_ = State::kReading;
  parser_.emplace();
  parser_->header_limit(static_cast<uint32_t>(server_->options().max_header_bytes));
  parser_->body_limit(server_->options().max_body_bytes);
  stream_.expires_never();
  read_timed_out_ = false;
  const uint64_t generation = ++read_generation_;
  read_timer_.expires_after(std::chrono::milliseconds(server_->options().read_timeout_ms));
  read_timer_.async_wait([self = shared_from_this(), generation](beast::error_code ec) {
    self->OnReadTimeout(ec, generation);
  });
  http::async_read_header(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code ec, size_t) { self->OnHeader(ec); });
}

void Session::OnReadTimeout(beast::error_code ec, uint64_t generation) {
  if (ec || generation != read_generation_ || state_ != State::kReading) return;
  // The pending read completes with operation_aborted and sees the flag.
  read_timed_out_ = true;
  beast::error_code ignored;
  stream_.socket().cancel(ignored);
}

void Session::OnHeader(beast::error_code ec) {
  if (read_timed_out_) {
    return FailRequest(
        408, fmt::format("request not received within {} ms", server_->options().read_timeout_ms));
  }
  if (ec == http::error::header_limit) {
    return FailRequest(431, fmt::format("request header larger than {} bytes",
                                        server_->options().max_header_bytes));
  }
  if (ec == http::error::body_limit) {
    return FailRequest(
        413, fmt::format("request body larger than {} bytes", server_->options().max_body_bytes));
  }
  if (ec) {
    // A malformed request line or header gets 400; a closed or timed-out
    // connection has nobody to answer.
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return FailRequest(400, "malformed HTTP request: " + ec.message());
    }
    return Close();
  }
  // curl and others wait up to a second for "100 Continue" before sending a
  // large body; answer at once.
  const auto& header = parser_->get();
  auto expect = header.find(http::field::expect);
  if (expect != header.end() && beast::iequals(expect->value(), "100-continue") &&
      !parser_->is_done()) {
    continue_ = http::response<http::empty_body>(http::status::continue_, header.version());
    http::async_write(
        stream_, continue_, [self = shared_from_this()](beast::error_code wec, size_t) {
          if (wec) return self->Close();
          http::async_read(self->stream_, self->buffer_, *self->parser_,
                           [self](beast::error_code rec, size_t) { self->OnBody(rec); });
        });
    return;
  }
  http::async_read(
      stream_, buffer_, *parser_,
      [self = shared_from_this()](beast::error_code rec, size_t) { self->OnBody(rec); });
}

void Session::OnBody(beast::error_code ec) {
  if (read_timed_out_) {
    return FailRequest(408, fmt::format("request body not received within {} ms",
                                        server_->options().read_timeout_ms));
  }
  if (ec == http::error::body_limit) {
    return FailRequest(
        413, fmt::format("request body larger than {} bytes", server_->options().max_body_bytes));
  }
  if (ec) {
    if (ec.category() == http::make_error_code(http::error::bad_target).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message) {
      return FailRequest(400, "malformed HTTP request: " + ec.message());
    }
    return Close();
  }
  Handle();
}

void Session::Handle() {
  state_ = State::kHandling;
  read_timer_.cancel();
  started_ = Clock::now();
  http::request<http::string_body> message = parser_->release();
  head_ = message.method() == http::verb::head;
  request_ = HttpRequest{};
  request_.method = std::string(message.method_string());
  const std::string_view target = message.target();
  const size_t question = target.find('?');
  request_.path = std::string(target.substr(0, question));
  if (question != std::string_view::npos) request_.query = std::string(target.substr(question + 1));
  for (const auto& field : message) {
    std::string name(field.name_string());
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    request_.headers.emplace_back(std::move(name), std::string(field.value()));
  }
  request_.body = std::move(message.body());
  request_.remote = remote_;
  const bool keep_alive = message.keep_alive();
  // The database call may block for a while: run it on the worker pool, then
  // come back to this connection's strand to write.
  net::post(server_->workers(), [self = shared_from_this(), keep_alive] {
    HttpResponse response = self->server_->router().Handle(self->request_);
    net::post(self->stream_.get_executor(),
              [self, keep_alive, response = std::move(response)]() mutable {
                self->WriteResponse(std::move(response), keep_alive);
              });
  });
}

void Session::FailRequest(int http_status, std::string_view message) {
  state_ = State::kHandling;  // a late read timeout must not cancel the write
  read_timer_.cancel();
  started_ = Clock::now();
  head_ = false;
  if (parser_.has_value()) {
    const std::string_view target = parser_->get().target();
    request_.method = std::string(parser_->get().method_string());
    request_.path = std::string(target.substr(0, target.find('?')));
    head_ = parser_->is_header_done() && parser_->get().method() == http::verb::head;
  }
  drain_after_write_ = !reject_ || server_->connections() <=
                                       server_->options().max_connections + kMaxLingeringRejected;
  request_.remote = remote_;
  WriteResponse(server_->router().TransportError(request_.path, http_status, message),
                /*keep_alive=*/false);
}

void Session::WriteResponse(HttpResponse response, bool keep_alive) {
  state_ = State::kWriting;
  keep_alive = keep_alive && !closing_ && !server_->stopping();
  auto res = std::make_shared<http::response<http::string_body>>(
      static_cast<http::status>(response.status), 11);
  res->set(http::field::server, "flashembed");
  if (!response.content_type.empty()) res->set(http::field::content_type, response.content_type);
  res->set(http::field::access_control_allow_origin, "*");
  for (const auto& [name, value] : response.headers) res->set(name, value);
  res->keep_alive(keep_alive);
  res->body() = std::move(response.body);
  res->prepare_payload();
  // HEAD: the headers a GET would get (Content-Length included), no body.
  if (head_) res->body().clear();
  response.body.clear();
  answered_ = std::move(response);
  response_ = res;
  stream_.expires_after(std::chrono::milliseconds(server_->options().write_timeout_ms));
  http::async_write(stream_, *res,
                    [self = shared_from_this(), keep_alive](beast::error_code ec, size_t n) {
                      self->OnWrite(ec, n, keep_alive);
                    });
}

void Session::OnWrite(beast::error_code ec, size_t bytes, bool keep_alive) {
  const double seconds = std::chrono::duration<double>(Clock::now() - started_).count();
  server_->router().Record(request_, answered_, bytes, seconds);
  response_.reset();
  if (!ec && drain_after_write_) return Drain();
  if (ec || !keep_alive) return Close();
  WaitForRequest();
}

void Session::Drain() {
  state_ = State::kDraining;
  StopServing();
  drained_ = 0;
  beast::error_code ec;
  // The client reads the response, then end-of-stream.
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec || closing_ || server_->stopping()) return Close();
  stream_.expires_after(
      std::chrono::milliseconds(std::min(kDrainMaxMs, server_->options().read_timeout_ms)));
  buffer_.consume(buffer_.size());
  DrainSome();
}

void Session::DrainSome() {
  stream_.async_read_some(buffer_.prepare(16384),
                          [self = shared_from_this()](beast::error_code ec, size_t n) {
                            self->drained_ += n;
                            self->buffer_.consume(self->buffer_.size());
                            if (ec || self->drained_ >= kDrainMaxBytes || self->closing_) {
                              return self->Close();
                            }
                            self->DrainSome();
                          });
}

void Session::Close() {
  read_timer_.cancel();
  beast::error_code ec;
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream_.socket().close(ec);
}

// --- ServerImpl ---------------------------------------------------------------

Status ServerImpl::Listen() {
  const std::string host = options_.host == "localhost" ? "127.0.0.1" : options_.host;
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  if (ec) return Status::InvalidArgument("--host \"" + options_.host + "\" is not an IP address");
  const tcp::endpoint endpoint(address, options_.port);
  acceptor_.emplace(ioc_);
  const std::string where = fmt::format("{}:{}", options_.host, options_.port);
  if (acceptor_->open(endpoint.protocol(), ec); ec) {
    return Status::IOError("cannot open a socket for " + where + ": " + ec.message());
  }
  if (acceptor_->set_option(net::socket_base::reuse_address(true), ec); ec) {
    return Status::IOError("cannot set SO_REUSEADDR on " + where + ": " + ec.message());
  }
  if (acceptor_->bind(endpoint, ec); ec) {
    return Status::IOError("cannot listen on " + where + ": " + ec.message());
  }
  if (acceptor_->listen(net::socket_base::max_listen_connections, ec); ec) {
    return Status::IOError("cannot listen on " + where + ": " + ec.message());
  }
  port_ = acceptor_->local_endpoint(ec).port();
  Accept();
  io_thread_ = std::thread([this] { ioc_.run(); });
  return Status::OK();
}

void ServerImpl::Accept() {
  acceptor_->async_accept(net::make_strand(ioc_), [this](beast::error_code ec, tcp::socket socket) {
    if (ec == net::error::operation_aborted || stopping_.load()) return;
    if (ec && ec != net::error::connection_aborted) {
      // Out of file descriptors (EMFILE) and the like: the pending
      // connection stays in the backlog, so accepting again at once fails
      // at once, pinning the I/O thread. Retry shortly instead.
      accept_backoff_.expires_after(std::chrono::milliseconds(kAcceptBackoffMs));
      accept_backoff_.async_wait([this](beast::error_code wec) {
        if (!wec && !stopping_.load()) Accept();
      });
      return;
    }
    if (!ec) {
      // Sessions start here, on the I/O thread, so the count cannot grow
      // between this check and Session::Start.
      const bool reject = serving() >= options_.max_connections;
      std::make_shared<Session>(std::move(socket), this, reject)->Start();
    }
    Accept();
  });
}

void ServerImpl::Stop() {
  std::call_once(stop_once_, [this] {
    stopping_.store(true);
    // Assigned under stop_mu_, which RunStop takes before it announces
    // stopped_: a Wait() on another thread reads and joins stopper_ only
    // after this assignment has finished.
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopper_ = std::thread([this] { RunStop(); });
  });
}

void ServerImpl::RunStop() {
  net::post(ioc_, [this] {
    beast::error_code ec;
    if (acceptor_.has_value()) acceptor_->close(ec);
    accept_backoff_.cancel();
  });
  std::vector<std::shared_ptr<Session>> live;
  {
    std::lock_guard<std::mutex> lock(sessions_mu_);
    for (auto& [raw, weak] : sessions_) {
      if (auto session = weak.lock()) live.push_back(std::move(session));
    }
  }
  for (auto& session : live) session->Shutdown();
  live.clear();
  {
    std::unique_lock<std::mutex> lock(sessions_mu_);
    sessions_cv_.wait_for(lock, std::chrono::milliseconds(options_.shutdown_grace_ms),
                          [this] { return sessions_.empty(); });
  }
  // Requests still running after the grace period finish on the workers
  // (join), but their connections are dropped with the io_context.
  work_.reset();
  ioc_.stop();
  if (io_thread_.joinable()) io_thread_.join();
  workers_.join();
  std::lock_guard<std::mutex> lock(stop_mu_);
  stopped_ = true;
  stop_cv_.notify_all();
}

void ServerImpl::Wait() {
  {
    std::unique_lock<std::mutex> lock(stop_mu_);
    stop_cv_.wait(lock, [this] { return stopped_; });
  }
  std::lock_guard<std::mutex> lock(stop_mu_);
  if (stopper_.joinable() && stopper_.get_id() != std::this_thread::get_id()) stopper_.join();
}

}  // namespace

bool IsLoopbackHost(const std::string& host) {
  if (host == "localhost") return true;
  beast::error_code ec;
  const net::ip::address address = net::ip::make_address(host, ec);
  return !ec && address.is_loopback();
}

bool IsBlankToken(std::string_view token) {
  return token.find_first_not_of(" \t\r\n\f\v") == std::string_view::npos;
}

Status ServerOptions::Validate() const {
  if (!IsBlankToken(token) || IsLoopbackHost(host)) {
    // fine
  } else {
    return Status::InvalidArgument("refusing to listen on non-loopback host \"" + host +
                                   "\" without a token: anyone on the network could read and "
                                   "change the database; pass --token or set FLASHEMBED_TOKEN");
  }
  auto out_of_range = [](std::string_view what, auto value, std::string_view range) {
    return Status::InvalidArgument(fmt::format("{} must be in {}, got {}", what, range, value));
  };
  if (threads > 256) return out_of_range("threads", threads, "1..256 (0 = hardware threads)");
  if (max_body_bytes < 1024 || max_body_bytes > (size_t{1} << 30)) {
    return out_of_range("max_body_bytes", max_body_bytes, "1024..1073741824 (1 KiB..1 GiB)");
  }
  if (max_header_bytes < 1024 || max_header_bytes > (size_t{1} << 20)) {
    return out_of_range("max_header_bytes", max_header_bytes, "1024..1048576 (1 KiB..1 MiB)");
  }
  constexpr int kDayMs = 86400000;
  for (const auto& [name, value] :
       {std::pair<std::string_view, int>{"read_timeout_ms", read_timeout_ms},
        {"idle_timeout_ms", idle_timeout_ms},
        {"write_timeout_ms", write_timeout_ms}}) {
    if (value < 1 || value > kDayMs) return out_of_range(name, value, "1..86400000 (one day)");
  }
  if (max_connections < 1 || max_connections > 1000000) {
    return out_of_range("max_connections", max_connections, "1..1000000");
  }
  if (shutdown_grace_ms < 0 || shutdown_grace_ms > kDayMs) {
    return out_of_range("shutdown_grace_ms", shutdown_grace_ms, "0..86400000 (one day)");
  }
  if (Result<std::vector<std::string>> dirs = ModelPolicy::Canonicalize(allowed_model_dirs);
      !dirs.ok()) {
    return dirs.status();
  }
  if (!backup_dir.empty()) {
    std::error_code ec;
    if (!std::filesystem::is_directory(backup_dir, ec)) {
      return Status::InvalidArgument("backup folder \"" + backup_dir +
                                     "\" is not an existing folder");
    }
  }
  for (const std::string& root : mcp_roots) {
    std::error_code ec;
    if (!std::filesystem::is_directory(root, ec)) {
      return Status::InvalidArgument("MCP root \"" + root + "\" is not an existing folder");
    }
  }
  return Status::OK();
}

Result<std::unique_ptr<Server>> Server::Start(const ServerOptions& options, Database* db) {
  FE_RETURN_IF_ERROR(options.Validate());
  ServerOptions resolved = options;
  if (resolved.threads == 0) {
    resolved.threads = std::clamp(std::thread::hardware_concurrency(), 1u, 256u);
  }
  FE_ASSIGN_OR_RETURN(resolved.allowed_model_dirs,
                      ModelPolicy::Canonicalize(options.allowed_model_dirs));
  auto server = std::make_unique<ServerImpl>(resolved, db);
  FE_RETURN_IF_ERROR(server->Listen());
  return std::unique_ptr<Server>(std::move(server));
}

}  // namespace flashembed::server
