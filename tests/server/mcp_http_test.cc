// MCP's streamable HTTP transport at /mcp on the real server: requests
// answered 200 with JSON, notifications 202 without a body, GET / DELETE 405,
// the MCP-Protocol-Version header, the Origin check against DNS rebinding
// (without a token) and the token (with one), and the tools reaching the
// same database as the other APIs. The SDK client's run over this transport
// is tests/server/mcp_client.
#include <filesystem>
#include <fstream>

#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

json Rpc(const std::string& method, json params = json::object(), json id = 1) {
  return {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
}

class McpHttpTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    std::filesystem::create_directories(dir_.Sub("notes"));
    std::ofstream(dir_.Sub("notes/tea.md"))
        << "# Tea\n\nGreen tea is steamed, black tea oxidised.\n";
    options.mcp_roots = {dir_.Sub("notes")};
  }
};

TEST_F(McpHttpTest, RequestsNotificationsAndMethods) {
  Start();
  Reply r = Post("/mcp", Rpc("initialize", {{"protocolVersion", "2025-11-25"}}));
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Header("content-type").substr(0, 16), "application/json");
  EXPECT_EQ(r.Json()["result"]["protocolVersion"], "2025-11-25");
  EXPECT_TRUE(r.Header("mcp-session-id").empty()) << "stateless: no session";

  r = Post("/mcp", {{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
  EXPECT_EQ(r.status, 202);
  EXPECT_EQ(r.body, "");

  for (const char* method : {"GET", "DELETE"}) {
    r = Call(method, "/mcp");
    EXPECT_EQ(r.status, 405) << method;
    EXPECT_EQ(r.Header("allow"), "POST");
  }
  // Malformed JSON and a batch: JSON-RPC errors without an id, HTTP 400.
  r = Call("POST", "/mcp", "{oops");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], -32700);
  r = Call("POST", "/mcp", R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.Json()["error"]["code"], -32600);
  // An unknown method is a request answered with an error: HTTP 200.
  r = Post("/mcp", Rpc("sampling/createMessage"));
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Json()["error"]["code"], -32601);

  r = Post("/mcp", Rpc("ping"), {{"MCP-Protocol-Version", "2025-06-18"}});
  EXPECT_EQ(r.status, 200);
  r = Post("/mcp", Rpc("ping"), {{"MCP-Protocol-Version", "1999-01-01"}});
  EXPECT_EQ(r.status, 400);
  EXPECT_NE(r.Json()["error"]["message"].get<std::string>().find("1999-01-01"), std::string::npos);
}

TEST_F(McpHttpTest, ForeignOriginsAreRefusedWithoutAToken) {
  Start();
  for (const char* origin : {"http://localhost:3000", "http://127.0.0.1", "http://[::1]:8080"}) {
    Reply r = Post("/mcp", Rpc("ping"), {{"Origin", origin}});
    EXPECT_EQ(r.status, 200) << origin << ": " << r.body;
  }
  for (const char* origin : {"http://evil.example", "https://localhost.evil.example:443",
                             "http://127.0.0.1.evil.example"}) {
    Reply r = Post("/mcp", Rpc("ping"), {{"Origin", origin}});
    EXPECT_EQ(r.status, 403) << origin;
    EXPECT_NE(r.body.find("Origin"), std::string::npos) << r.body;
  }
}

TEST_F(McpHttpTest, TokenGuardsMcpAndAllowsOtherOrigins) {
  options.token = "s3cret";
  Start();
  Reply r = Post("/mcp", Rpc("tools/list"));
  EXPECT_EQ(r.status, 401);
  const std::vector<std::pair<std::string, std::string>> auth = {{"Authorization", "Bearer s3cret"},
                                                                 {"Origin", "https://app.example"}};
  r = Post("/mcp", Rpc("tools/list"), auth);
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["result"]["tools"].size(), 6u);
}

TEST_F(McpHttpTest, ToolsSeeTheSameDatabase) {
  Start();
  Reply r =
      Post("/mcp", Rpc("tools/call", {{"name", "ingest_files"},
                                      {"arguments", {{"collection", "kb"}, {"paths", {"."}}}}}));
  ASSERT_EQ(r.status, 200) << r.body;
  json result = r.Json()["result"];
  ASSERT_FALSE(result["isError"].get<bool>()) << result.dump();
  EXPECT_EQ(result["structuredContent"]["added"], 1);
  // The native API sees the document.
  r = Call("GET", "/api/v1/collections/kb");
  EXPECT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["documents"], 1) << r.body;
  // A path outside --mcp-root is a tool error, not an HTTP one.
  r = Post("/mcp", Rpc("tools/call",
                       {{"name", "ingest_files"},
                        {"arguments", {{"collection", "kb"}, {"paths", {"/etc/hostname"}}}}}));
  EXPECT_EQ(r.status, 200);
  EXPECT_TRUE(r.Json()["result"]["isError"].get<bool>());
}

TEST_F(McpHttpTest, MissingRootIsRefusedAtStart) {
  options.mcp_roots = {dir_.Sub("nowhere")};
  auto db = Database::Open({}, dir_.Sub("db2"));
  ASSERT_TRUE(db.ok());
  auto server = Server::Start(options, db->get());
  ASSERT_FALSE(server.ok());
  EXPECT_NE(server.status().message().find("nowhere"), std::string::npos);
}

}  // namespace
}  // namespace flashembed::server::testing
