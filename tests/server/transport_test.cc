// The HTTP transport's edges: 408 for a request that
// does not arrive in time (and a silent close for an idle keep-alive
// connection), the lingering close that lets a client still uploading read
// a 413 or 503, HEAD without a body, and the bounds of ServerOptions.
#include <filesystem>
#include <thread>

#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

using std::chrono::milliseconds;

TEST_F(ServerTest, RequestNotReceivedInTimeGets408) {
  options.read_timeout_ms = 300;
  options.idle_timeout_ms = 600;
  Start();
  // Half a header.
  Connection header(port());
  ASSERT_TRUE(header.SendRaw("POST /api/v1/collections HTTP/1.1\r\nHost: x\r\nContent-Le"));
  Reply r = header.ReadReply(5000);
  EXPECT_EQ(r.status, 408) << r.body;
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_EQ(r.Json()["error"]["code"], "request_timeout");
  EXPECT_TRUE(header.ClosedWithin(5000));
  // A whole header and half the body.
  Connection body(port());
  ASSERT_TRUE(
      body.SendRaw("POST /api/v1/collections HTTP/1.1\r\nHost: x\r\nContent-Length: "
                   "40\r\n\r\n{\"name\": "));
  const auto start = std::chrono::steady_clock::now();
  r = body.ReadReply(5000);
  EXPECT_EQ(r.status, 408) << r.body;
  EXPECT_GE(std::chrono::steady_clock::now() - start, milliseconds(200));
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("300 ms"), std::string::npos);
  EXPECT_TRUE(body.ClosedWithin(5000));
  // On a Milvus route the answer is the Milvus envelope.
  Connection milvus(port());
  ASSERT_TRUE(
      milvus.SendRaw("POST /v2/vectordb/collections/list HTTP/1.1\r\nHost: x\r\n"
                     "Content-Length: 10\r\n\r\n{"));
  r = milvus.ReadReply(5000);
  EXPECT_EQ(r.status, 408);
  EXPECT_EQ(r.Json()["code"], 1801);
  // Nothing was created by the half requests.
  EXPECT_EQ(Call("GET", "/api/v1/collections").Json()["collections"], json::array());
}

TEST_F(ServerTest, IdleConnectionsCloseWithoutAnAnswer) {
  options.read_timeout_ms = 300;
  options.idle_timeout_ms = 400;
  Start();
  // Connected, nothing sent.
  Connection silent(port());
  EXPECT_TRUE(silent.ClosedWithin(5000));
  EXPECT_EQ(silent.buffered(), "");
  // Keep-alive after a complete request: one answer, then a silent close.
  Connection kept(port());
  EXPECT_EQ(kept.Request("GET", "/health", "").status, 200);
  EXPECT_TRUE(kept.ClosedWithin(5000));
  EXPECT_EQ(kept.buffered(), "");
}

// Sends `total` body bytes in pieces of 16 KiB, `pause` apart; false as soon
// as a send fails (the server reset or closed the connection).
bool UploadSlowly(Connection& c, size_t total, milliseconds pause) {
  const std::string piece(16 << 10, 'x');
  for (size_t sent = 0; sent < total; sent += piece.size()) {
    if (!c.SendRaw(piece)) return false;
    std::this_thread::sleep_for(pause);
  }
  return true;
}

// 413 comes from Content-Length alone while the client is still sending.
// The server used to close at once with the body unread, so the kernel
// reset the connection and the client's next send failed before it looked
// for an answer.
TEST_F(ServerTest, ClientStillUploadingReadsThe413) {
  options.max_body_bytes = 64 << 10;
  Start();
  Connection c(port());
  ASSERT_TRUE(
      c.SendRaw("POST /api/v1/collections/x/documents HTTP/1.1\r\nHost: x\r\n"
                "Content-Length: 4000000\r\n\r\n"));
  EXPECT_TRUE(UploadSlowly(c, 512 << 10, milliseconds(5))) << "the server reset the upload";
  Reply r = c.ReadReply(5000);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.Header("connection"), "close");
  EXPECT_EQ(r.Json()["error"]["code"], "body_too_large");
  c.ShutdownWrite();
  EXPECT_TRUE(c.ClosedWithin(5000));
  EXPECT_FALSE(c.was_reset());
  EXPECT_EQ(Call("GET", "/health").status, 200);
}

TEST_F(ServerTest, RejectedConnectionStillReadsThe503) {
  options.max_connections = 1;
  Start();
  Connection held(port());
  ASSERT_EQ(held.Request("GET", "/health", "").status, 200);
  Connection extra(port());
  ASSERT_TRUE(
      extra.SendRaw("POST /api/v1/collections HTTP/1.1\r\nHost: x\r\n"
                    "Content-Length: 300000\r\n\r\n"));
  EXPECT_TRUE(UploadSlowly(extra, 256 << 10, milliseconds(5))) << "the server reset the upload";
  Reply r = extra.ReadReply(5000);
  EXPECT_EQ(r.status, 503) << r.body;
  EXPECT_EQ(r.Header("connection"), "close");
  extra.ShutdownWrite();
  EXPECT_TRUE(extra.ClosedWithin(5000));
  EXPECT_FALSE(extra.was_reset());
  EXPECT_EQ(held.Request("GET", "/health", "").status, 200);
}

// A lingering close is bounded: a client that keeps sending is cut off.
TEST_F(ServerTest, LingeringCloseIsBounded) {
  options.max_body_bytes = 64 << 10;
  options.read_timeout_ms = 400;  // the drain lasts at most this long
  Start();
  Connection c(port());
  ASSERT_TRUE(
      c.SendRaw("POST /api/v1/collections HTTP/1.1\r\nHost: x\r\n"
                "Content-Length: 100000000\r\n\r\n"));
  EXPECT_EQ(c.ReadReply(5000).status, 413);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(UploadSlowly(c, 100 << 20, milliseconds(2)));
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
}

TEST_F(ServerTest, HeadResponsesHaveNoBody) {
  Start();
  ASSERT_EQ(Post("/api/v1/collections", {{"name", "c"}, {"dim", 2}, {"encoder", "none"}}).status,
            201);
  const std::string list = Call("GET", "/api/v1/collections").body;
  Connection c(port());
  Reply r = c.Head("/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), "15");  // {"status":"ok"}
  EXPECT_EQ(r.body, "");
  r = c.Head("/api/v1/collections");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Header("content-length"), std::to_string(list.size()));
  r = c.Head("/no/such/route");
  EXPECT_EQ(r.status, 404);
  // No body bytes were sent: the next response on the connection parses.
  EXPECT_EQ(c.buffered(), "");
  r = c.Request("GET", "/health", "");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Json()["status"], "ok");
  EXPECT_EQ(c.buffered(), "");
}

TEST(ServerOptionsTest, ValuesOutOfRangeAreRefused) {
  auto refused = [](auto change, const std::string& name) {
    ServerOptions options;
    change(options);
    const Status status = options.Validate();
    EXPECT_TRUE(status.IsInvalidArgument()) << name;
    EXPECT_NE(status.message().find(name), std::string::npos) << status;
  };
  refused([](ServerOptions& o) { o.threads = 257; }, "threads");
  refused([](ServerOptions& o) { o.max_body_bytes = 100; }, "max_body_bytes");
  refused([](ServerOptions& o) { o.max_body_bytes = size_t{2} << 30; }, "max_body_bytes");
  refused([](ServerOptions& o) { o.max_header_bytes = 512; }, "max_header_bytes");
  refused([](ServerOptions& o) { o.max_header_bytes = 2u << 20; }, "max_header_bytes");
  refused([](ServerOptions& o) { o.read_timeout_ms = 0; }, "read_timeout_ms");
  refused([](ServerOptions& o) { o.idle_timeout_ms = 86400001; }, "idle_timeout_ms");
  refused([](ServerOptions& o) { o.write_timeout_ms = -5; }, "write_timeout_ms");
  refused([](ServerOptions& o) { o.max_connections = 0; }, "max_connections");
  refused([](ServerOptions& o) { o.shutdown_grace_ms = -1; }, "shutdown_grace_ms");
  refused([](ServerOptions& o) { o.allowed_model_dirs = {"/no/such/folder/anywhere"}; },
          "--allow-model");
  ServerOptions edge;
  edge.threads = 256;
  edge.max_body_bytes = 1u << 30;
  edge.max_header_bytes = 1u << 20;
  edge.max_connections = 1;
  edge.shutdown_grace_ms = 0;
  edge.allowed_model_dirs = {std::filesystem::temp_directory_path().string()};
  EXPECT_TRUE(edge.Validate().ok()) << edge.Validate();
}

}  // namespace
}  // namespace flashembed::server::testing
