// A tiny blocking HTTP/1.1 client over POSIX sockets for the server tests,
// and a fixture that runs a real Server on a loopback port over a database in
// a temporary folder. Raw sockets (not Beast) so the tests can also send
// malformed, oversized, partial and slow requests byte by byte.
#ifndef FLASHEMBED_TESTS_SERVER_HTTP_TEST_CLIENT_H_
#define FLASHEMBED_TESTS_SERVER_HTTP_TEST_CLIENT_H_

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "server/server.h"
#include "tests/testing/test_util.h"

namespace flashembed::server::testing {

using nlohmann::json;

struct Reply {
  int status = 0;  // 0: no (complete) response, e.g. the server closed
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased
  std::string body;

  std::string Header(const std::string& lower_name) const {
    for (const auto& [k, v] : headers) {
      if (k == lower_name) return v;
    }
    return "";
  }
  // The body as JSON; a body that is not JSON is a failed expectation and
  // returns a discarded value.
  json Json() const {
    json value = json::parse(body, nullptr, false);
    EXPECT_FALSE(value.is_discarded()) << "not JSON: " << body.substr(0, 300);
    return value;
  }
};

class Connection {
 public:
  explicit Connection(uint16_t port) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  }
  ~Connection() {
    if (fd_ >= 0) close(fd_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  bool connected() const { return connected_; }

  bool SendRaw(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }

  // Sends one request (Content-Length framing) and reads its response.
  Reply Request(const std::string& method, const std::string& path, const std::string& body,
                const std::vector<std::pair<std::string, std::string>>& headers = {},
                int timeout_ms = 30000) {
    std::string req = method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n";
    for (const auto& [k, v] : headers) req += k + ": " + v + "\r\n";
    if (method != "GET" || !body.empty()) {
      req += "Content-Length: " + std::to_string(body.size()) + "\r\n";
    }
    req += "\r\n" + body;
    if (!SendRaw(req)) return {};
    return ReadReply(timeout_ms);
  }

  // Sends HEAD and reads the response's headers only (a HEAD response has
  // no body, whatever its Content-Length says).
  Reply Head(const std::string& path, int timeout_ms = 30000) {
    if (!SendRaw("HEAD " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")) return {};
    return ReadReply(timeout_ms, /*head_only=*/true);
  }

  // No more bytes from this side (the server reads end-of-stream).
  void ShutdownWrite() { shutdown(fd_, SHUT_WR); }

  // Bytes received and not yet consumed by ReadReply.
  const std::string& buffered() const { return buffer_; }
  // After ClosedWithin returned true: the server reset the connection
  // (ECONNRESET) instead of closing it in order.
  bool was_reset() const { return reset_; }

  // Reads one response: status line, headers, and (unless `head_only`) the
  // Content-Length body.
  Reply ReadReply(int timeout_ms = 30000, bool head_only = false) {
    Reply reply;
    size_t header_end;
    while ((header_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
      if (!Fill(timeout_ms)) return reply;
    }
    const std::string head = buffer_.substr(0, header_end);
    size_t line_end = head.find("\r\n");
    const std::string status_line = head.substr(0, line_end);
    if (status_line.size() < 12) return reply;
    reply.status = std::atoi(status_line.substr(9, 3).c_str());
    size_t content_length = 0;
    while (line_end != std::string::npos) {
      const size_t next = head.find("\r\n", line_end + 2);
      const std::string line = head.substr(
          line_end + 2, next == std::string::npos ? std::string::npos : next - line_end - 2);
      const size_t colon = line.find(':');
      if (colon != std::string::npos) {
        std::string name = line.substr(0, colon);
        for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
        std::string value = line.substr(colon + 1);
        while (!value.empty() && value.front() == ' ') value.erase(0, 1);
        if (name == "content-length") content_length = std::strtoull(value.c_str(), nullptr, 10);
        reply.headers.emplace_back(name, value);
      }
      line_end = next;
    }
    buffer_.erase(0, header_end + 4);
    if (reply.status == 100) return ReadReply(timeout_ms, head_only);  // interim response
    if (head_only) return reply;
    while (buffer_.size() < content_length) {
      if (!Fill(timeout_ms)) {
        reply.status = 0;
        return reply;
      }
    }
    reply.body = buffer_.substr(0, content_length);
    buffer_.erase(0, content_length);
    return reply;
  }

  // True when the server closed the connection (read returns 0 or an error)
  // within `timeout_ms`.
  bool ClosedWithin(int timeout_ms) {
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (std::chrono::steady_clock::now() < deadline) {
      pollfd p{fd_, POLLIN, 0};
      const int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                            deadline - std::chrono::steady_clock::now())
                                            .count());
      if (poll(&p, 1, std::max(1, left)) <= 0) continue;
      char buf[4096];
      const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
      if (n < 0) reset_ = errno == ECONNRESET;
      if (n <= 0) return true;
      buffer_.append(buf, static_cast<size_t>(n));
    }
    return false;
  }

 private:
  bool Fill(int timeout_ms) {
    pollfd p{fd_, POLLIN, 0};
    if (poll(&p, 1, timeout_ms) <= 0) return false;
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof(buf), 0);
    if (n <= 0) return false;
    buffer_.append(buf, static_cast<size_t>(n));
    return true;
  }

  int fd_ = -1;
  bool connected_ = false;
  bool reset_ = false;
  std::string buffer_;
};

// A database in a temporary folder with a running server on a free loopback
// port. Tests adjust `options` in their body and call Start().
class ServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    options.host = "127.0.0.1";
    options.port = 0;
    options.threads = 4;
    options.access_log = false;
    options.max_body_bytes = 1u << 20;
  }
  void TearDown() override {
    server_.reset();
    db_.reset();
  }

  void Start() {
    if (db_ == nullptr) {
      auto db = Database::Open({}, dir_.Sub("db"));
      ASSERT_TRUE(db.ok()) << db.status();
      db_ = std::move(*db);
    }
    auto server = Server::Start(options, db_.get());
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(*server);
  }
  // Stops the server and closes the database (as `flashembed serve` on SIGTERM).
  void StopAndClose() {
    if (server_) {
      server_->Stop();
      server_->Wait();
      server_.reset();
    }
    if (db_) {
      EXPECT_TRUE(db_->Close().ok());
      db_.reset();
    }
  }

  uint16_t port() const { return server_->port(); }

  // One request on a fresh connection.
  Reply Call(const std::string& method, const std::string& path, const std::string& body = "",
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    Connection c(port());
    EXPECT_TRUE(c.connected());
    return c.Request(method, path, body, headers);
  }
  Reply Post(const std::string& path, const json& body,
             const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    return Call("POST", path, body.dump(), headers);
  }
  // A Milvus route: POST /v2/vectordb/<route>, HTTP 200, envelope parsed.
  json Milvus(const std::string& route, const json& body,
              const std::vector<std::pair<std::string, std::string>>& headers = {}) {
    Reply r = Post("/v2/vectordb/" + route, body, headers);
    EXPECT_EQ(r.status, 200) << route << ": " << r.body;
    return r.Json();
  }

  flashembed::testing::TempDir dir_;
  ServerOptions options;
  std::unique_ptr<Database> db_;
  std::unique_ptr<Server> server_;
};

}  // namespace flashembed::server::testing

#endif  // FLASHEMBED_TESTS_SERVER_HTTP_TEST_CLIENT_H_
