// The MCP server (mcp/mcp_server.h) message by message, as a transport hands
// them over: JSON-RPC framing and errors, initialize's version negotiation,
// the tool list, and every tool on a real database, including the refusals
// (files outside the roots, symbolic links leading out, bad arguments).
// tests/server/mcp_client drives the same server with the official SDK.
#include "mcp/mcp_server.h"

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "tests/testing/temp_dir.h"

namespace flashembed::mcp {
namespace {

using Json = nlohmann::json;
using testing::TempDir;
namespace fs = std::filesystem;

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary) << text;
}

class McpServerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    root_ = fs::path(dir_.path()) / "root";
    WriteFile(root_ / "notes" / "comets.md",
              "# Comets\n\nA comet is an icy body that releases gas when it passes close to the "
              "Sun, growing a glowing coma and a long tail.\n");
    WriteFile(root_ / "notes" / "bread.txt",
              "Sourdough bread rises with wild yeast and lactic acid bacteria kept in a starter "
              "of flour and water.\n");
    WriteFile(fs::path(dir_.path()) / "outside" / "secret.txt", "a secret outside the root\n");
    Options options;
    db_ = Database::Open(options, dir_.Sub("db")).value();
    server_ = McpServer::Create(db_.get(), {.roots = {root_.string()}}).value();
  }

  // One request; the parsed response.
  Json Request(const std::string& method, Json params = Json::object(), Json id = 7) {
    Json msg = {{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", params}};
    const std::string answer = server_->Handle(msg.dump());
    EXPECT_FALSE(answer.empty()) << method;
    EXPECT_EQ(answer.find('\n'), std::string::npos) << "one line";
    Json out = Json::parse(answer);
    EXPECT_EQ(out["jsonrpc"], "2.0");
    EXPECT_EQ(out["id"], id);
    return out;
  }

  // tools/call; the result (with isError).
  Json Call(const std::string& tool, Json arguments) {
    Json out = Request("tools/call", {{"name", tool}, {"arguments", std::move(arguments)}});
    EXPECT_TRUE(out.contains("result")) << out.dump();
    Json result = out["result"];
    EXPECT_EQ(result["content"].size(), 1u) << result.dump();
    EXPECT_EQ(result["content"][0]["type"], "text");
    if (!result["isError"].get<bool>()) {
      // The text content is the structured result itself.
      EXPECT_EQ(Json::parse(result["content"][0]["text"].get<std::string>()),
                result["structuredContent"]);
    } else {
      EXPECT_FALSE(result.contains("structuredContent"));
    }
    return result;
  }

  // A successful call's structured result.
  Json Ok(const std::string& tool, Json arguments) {
    Json r = Call(tool, std::move(arguments));
    EXPECT_FALSE(r["isError"].get<bool>()) << r["content"][0]["text"];
    return r["structuredContent"];
  }

  // A failed call's message.
  std::string Error(const std::string& tool, Json arguments) {
    Json r = Call(tool, std::move(arguments));
    EXPECT_TRUE(r["isError"].get<bool>()) << r.dump();
    return r["content"][0]["text"].get<std::string>();
  }

  std::set<std::string> CollectionNames() {
    std::set<std::string> names;
    const Json listed = Ok("list_collections", Json::object());  // outlives the loop
    for (const Json& c : listed["collections"]) names.insert(c["name"].get<std::string>());
    return names;
  }

  TempDir dir_;
  fs::path root_;
  std::unique_ptr<Database> db_;
  std::unique_ptr<McpServer> server_;
};

TEST_F(McpServerTest, InitializeNegotiatesTheProtocolVersion) {
  Json r = Request("initialize", {{"protocolVersion", "2025-06-18"},
                                  {"capabilities", Json::object()},
                                  {"clientInfo", {{"name", "t"}, {"version", "1"}}}});
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-06-18");
  EXPECT_EQ(r["result"]["serverInfo"]["name"], "flashembed");
  EXPECT_EQ(r["result"]["capabilities"]["tools"]["listChanged"], false);
  EXPECT_FALSE(r["result"]["instructions"].get<std::string>().empty());
  // An unknown (newer) revision gets the newest known one.
  r = Request("initialize", {{"protocolVersion", "2030-01-01"}});
  EXPECT_EQ(r["result"]["protocolVersion"], "2025-11-25");
  r = Request("initialize", {{"protocolVersion", "2024-11-05"}});
  EXPECT_EQ(r["result"]["protocolVersion"], "2024-11-05");
  EXPECT_EQ(Request("ping", Json::object(), "abc")["result"], Json::object());
}

TEST_F(McpServerTest, JsonRpcErrors) {
  auto error_of = [&](const std::string& message) {
    const std::string answer = server_->Handle(message);
    Json out = Json::parse(answer);
    EXPECT_TRUE(out.contains("error")) << answer;
    return out;
  };
  Json e = error_of("{not json");
  EXPECT_EQ(e["error"]["code"], -32700);
  EXPECT_TRUE(e["id"].is_null());
  e = error_of(R"([{"jsonrpc":"2.0","id":1,"method":"ping"}])");
  EXPECT_EQ(e["error"]["code"], -32600);
  EXPECT_NE(e["error"]["message"].get<std::string>().find("batches"), std::string::npos);
  e = error_of(R"({"id":1,"method":"ping"})");
  EXPECT_EQ(e["error"]["code"], -32600);
  EXPECT_EQ(e["id"], 1);
  e = error_of(R"({"jsonrpc":"2.0","id":null,"method":"ping"})");
  EXPECT_EQ(e["error"]["code"], -32600);
  e = error_of(R"("ping")");
  EXPECT_EQ(e["error"]["code"], -32600);
  e = error_of(R"({"jsonrpc":"2.0","id":"x","method":"resources/list"})");
  EXPECT_EQ(e["error"]["code"], -32601);
  EXPECT_EQ(e["id"], "x");
  e = error_of(R"({"jsonrpc":"2.0","id":2,"method":"tools/list","params":[1]})");
  EXPECT_EQ(e["error"]["code"], -32602);
  e = error_of(R"({"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"nope"}})");
  EXPECT_EQ(e["error"]["code"], -32602);
  EXPECT_NE(e["error"]["message"].get<std::string>().find("nope"), std::string::npos);
  e = error_of(R"({"jsonrpc":"2.0","id":4,"method":"tools/call",)"
               R"("params":{"name":"search","arguments":[]}})");
  EXPECT_EQ(e["error"]["code"], -32602);
  // Notifications and responses get no answer.
  EXPECT_EQ(server_->Handle(R"({"jsonrpc":"2.0","method":"notifications/initialized"})"), "");
  EXPECT_EQ(server_->Handle(R"({"jsonrpc":"2.0","method":"notifications/cancelled",)"
                            R"("params":{"requestId":1}})"),
            "");
  EXPECT_EQ(server_->Handle(R"({"jsonrpc":"2.0","id":9,"result":{}})"), "");
}

TEST_F(McpServerTest, ToolListHasSchemas) {
  Json tools = Request("tools/list")["result"]["tools"];
  std::set<std::string> names;
  for (const Json& t : tools) {
    names.insert(t["name"].get<std::string>());
    EXPECT_EQ(t["inputSchema"]["type"], "object") << t["name"];
    EXPECT_EQ(t["outputSchema"]["type"], "object") << t["name"];
    EXPECT_FALSE(t["description"].get<std::string>().empty());
    EXPECT_TRUE(t["annotations"].contains("readOnlyHint"));
  }
  EXPECT_EQ(names, (std::set<std::string>{"list_collections", "search", "add_texts", "ingest_files",
                                          "get", "delete"}));

  auto reader = McpServer::Create(db_.get(), {.read_only = true}).value();
  Json list = Json::parse(reader->Handle(R"({"jsonrpc":"2.0","id":1,"method":"tools/list"})"));
  names.clear();
  for (const Json& t : list["result"]["tools"]) names.insert(t["name"].get<std::string>());
  EXPECT_EQ(names, (std::set<std::string>{"list_collections", "search", "get"}));
  // A write tool is then unknown.
  Json e = Json::parse(reader->Handle(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"add_texts",)"
      R"("arguments":{"collection":"m","records":[{"text":"x"}]}}})"));
  EXPECT_EQ(e["error"]["code"], -32602);
}

TEST_F(McpServerTest, RootsMustBeFolders) {
  auto made = McpServer::Create(db_.get(), {.roots = {dir_.Sub("missing")}});
  ASSERT_FALSE(made.ok());
  EXPECT_NE(made.status().message().find("missing"), std::string::npos);
}

TEST_F(McpServerTest, AddGetSearchDelete) {
  Json added =
      Ok("add_texts", {{"collection", "memory"},
                       {"records",
                        {{{"id", "fact-1"},
                          {"text", "The user's cat is called Miso and likes tuna."},
                          {"metadata", {{"kind", "fact"}}}},
                         {{"text", "Meeting with Ana moved to Thursday at noon."},
                          {"metadata", {{"kind", "event"}}}},
                         {{"id", 42}, {"text", "Preferred editor: vim with a dark theme."}}}}});
  EXPECT_TRUE(added["created"].get<bool>());
  ASSERT_EQ(added["ids"].size(), 3u);
  EXPECT_EQ(added["ids"][0], "fact-1");
  EXPECT_TRUE(std::regex_match(added["ids"][1].get<std::string>(),
                               std::regex("[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-"
                                          "[0-9a-f]{12}")))
      << added["ids"][1];
  EXPECT_EQ(added["ids"][2], 42);
  const Json uuid = added["ids"][1];

  // The collection as `ingest` creates it: hashing encoder, a text index.
  Json list = Ok("list_collections", Json::object())["collections"];
  ASSERT_EQ(list.size(), 1u);
  EXPECT_EQ(list[0]["name"], "memory");
  EXPECT_EQ(list[0]["count"], 3);
  EXPECT_EQ(list[0]["encoder"], "hash");
  EXPECT_EQ(list[0]["text_index"], true);

  // An id stored already: refused whole, nothing written.
  std::string why =
      Error("add_texts",
            {{"collection", "memory"},
             {"records",
              {{{"text", "another new one"}}, {{"id", "fact-1"}, {"text", "The cat is Pixel."}}}}});
  EXPECT_NE(why.find("fact-1"), std::string::npos) << why;
  EXPECT_NE(why.find("upsert"), std::string::npos) << why;
  EXPECT_EQ(Ok("list_collections", Json::object())["collections"][0]["count"], 3);
  Ok("add_texts", {{"collection", "memory"},
                   {"records", {{{"id", "fact-1"}, {"text", "The cat is Pixel."}}}},
                   {"upsert", true}});

  Json got = Ok("get", {{"collection", "memory"}, {"ids", {"fact-1", 42, "nope", 7}}});
  ASSERT_EQ(got["records"].size(), 2u);
  EXPECT_EQ(got["records"][0]["id"], "fact-1");
  EXPECT_EQ(got["records"][0]["text"], "The cat is Pixel.");
  EXPECT_EQ(got["records"][0]["metadata"], Json::object());
  EXPECT_EQ(got["records"][1]["id"], 42);
  EXPECT_EQ(got["missing"], Json::array({"nope", 7}));
  EXPECT_EQ(got["documents"], Json::array());

  // Record search (no long documents): the meeting ranks first.
  Json found = Ok("search", {{"collection", "memory"}, {"query", "when is the meeting with Ana"}});
  EXPECT_FALSE(found["documents"].get<bool>());
  ASSERT_EQ(found["hits"].size(), 3u);
  EXPECT_EQ(found["hits"][0]["id"], uuid);
  EXPECT_EQ(found["hits"][0]["metadata"]["kind"], "event");
  found = Ok("search", {{"collection", "memory"},
                        {"query", "when is the meeting with Ana"},
                        {"filter", "kind == \"fact\""},
                        {"ranking", "hybrid"}});
  EXPECT_EQ(found["hits"].size(), 0u) << "fact-1 lost its metadata when it was replaced";
  found =
      Ok("search", {{"collection", "memory"}, {"query", "editor"}, {"k", 1}, {"ranking", "text"}});
  ASSERT_EQ(found["hits"].size(), 1u);
  EXPECT_EQ(found["hits"][0]["id"], 42);
  EXPECT_TRUE(found["hits"][0].contains("text_score"));

  // Refusals name what was wrong.
  EXPECT_NE(Error("search", {{"collection", "nothere"}, {"query", "x"}}).find("nothere"),
            std::string::npos);
  EXPECT_NE(Error("search", {{"collection", "memory"}, {"query", "x"}, {"filter", "kind =="}})
                .find("filter"),
            std::string::npos);
  EXPECT_NE(Error("search", {{"collection", "memory"}, {"query", "x"}, {"k", 0}}).find("\"k\""),
            std::string::npos);
  EXPECT_NE(Error("search", {{"collection", "memory"}, {"query", "x"}, {"topk", 3}}).find("topk"),
            std::string::npos);
  EXPECT_NE(Error("search", {{"collection", "memory"}}).find("query"), std::string::npos);
  EXPECT_NE(Error("search", {{"collection", "memory"}, {"query", "x"}, {"ranking", "best"}})
                .find("ranking"),
            std::string::npos);
  EXPECT_NE(
      Error("search", {{"collection", "memory"}, {"query", "x"}, {"passages", 2}}).find("passages"),
      std::string::npos);

  // Delete: exactly one of ids and filter.
  EXPECT_NE(Error("delete", {{"collection", "memory"}}).find("exactly one"), std::string::npos);
  EXPECT_NE(Error("delete", {{"collection", "memory"}, {"ids", {42}}, {"filter", "id == 42"}})
                .find("exactly one"),
            std::string::npos);
  Json del = Ok("delete", {{"collection", "memory"}, {"ids", {42, "nope"}}});
  EXPECT_EQ(del["deleted"], 1);
  EXPECT_EQ(del["documents_deleted"], 0);
  del = Ok("delete", {{"collection", "memory"}, {"filter", "kind == \"event\""}});
  EXPECT_EQ(del["deleted"], 1);
  got = Ok("get", {{"collection", "memory"}, {"ids", {42, uuid, "fact-1"}}});
  EXPECT_EQ(got["missing"], Json::array({42, uuid}));
}

TEST_F(McpServerTest, AFailedFirstWriteLeavesNoCollection) {
  std::string why = Error("add_texts", {{"collection", "fresh"}, {"records", {{{"text", "  "}}}}});
  EXPECT_FALSE(why.empty());
  EXPECT_EQ(CollectionNames().count("fresh"), 0u);
  why = Error("add_texts", {{"collection", "fresh"}, {"records", {{{"txt", "typo"}}}}});
  EXPECT_NE(why.find("txt"), std::string::npos) << why;
  why = Error("add_texts", {{"collection", "fresh"}, {"records", Json::array()}});
  EXPECT_NE(why.find("records"), std::string::npos) << why;
  why = Error("add_texts", {{"collection", "bad name!"}, {"records", {{{"text", "x"}}}}});
  EXPECT_FALSE(why.empty());
  EXPECT_TRUE(CollectionNames().empty());
}

TEST_F(McpServerTest, IngestFilesReadsOnlyUnderTheRoots) {
  Json r = Ok("ingest_files", {{"collection", "notes"}, {"paths", {"notes"}}});
  EXPECT_TRUE(r["created"].get<bool>());
  EXPECT_EQ(r["files"], 2);
  EXPECT_EQ(r["added"], 2);
  EXPECT_EQ(r["failed"], 0);
  EXPECT_GE(r["chunks"].get<int>(), 2);
  // Again, named otherwise (absolute, and one file twice): the same ids,
  // nothing changed, nothing embedded.
  r = Ok("ingest_files",
         {{"collection", "notes"}, {"paths", {(root_ / "notes").string(), "notes/bread.txt"}}});
  EXPECT_FALSE(r["created"].get<bool>());
  EXPECT_EQ(r["files"], 2);
  EXPECT_EQ(r["unchanged"], 2);
  EXPECT_EQ(r["added"], 0);

  // Document search by default on a collection of documents.
  Json found = Ok("search", {{"collection", "notes"},
                             {"query", "icy comet tail near the Sun"},
                             {"passages", 1},
                             {"neighbors", 1}});
  EXPECT_TRUE(found["documents"].get<bool>());
  ASSERT_GE(found["hits"].size(), 1u);
  const Json& hit = found["hits"][0];
  EXPECT_EQ(hit["id"], "notes/comets.md");
  EXPECT_EQ(hit["title"], "Comets");
  ASSERT_EQ(hit["passages"].size(), 1u);
  EXPECT_NE(hit["passages"][0]["text"].get<std::string>().find("icy body"), std::string::npos);
  EXPECT_TRUE(hit["passages"][0].contains("before"));
  Json got = Ok("get", {{"collection", "notes"}, {"ids", {"notes/comets.md"}}});
  ASSERT_EQ(got["documents"].size(), 1u);
  EXPECT_EQ(got["documents"][0]["title"], "Comets");
  EXPECT_GE(got["documents"][0]["chunks"].get<int>(), 1);

  // Outside the roots: by absolute path, by "..", by a symbolic link, and a
  // folder holding such a link; each refused before anything is read.
  const std::string outside = (fs::path(dir_.path()) / "outside" / "secret.txt").string();
  std::string why = Error("ingest_files", {{"collection", "leak"}, {"paths", {outside}}});
  EXPECT_NE(why.find("outside the allowed roots"), std::string::npos) << why;
  why = Error("ingest_files", {{"collection", "leak"}, {"paths", {"../outside/secret.txt"}}});
  EXPECT_NE(why.find("outside the allowed roots"), std::string::npos) << why;
  fs::create_directories(root_ / "links");
  fs::create_symlink(outside, root_ / "links" / "secret.txt");
  WriteFile(root_ / "links" / "fine.txt", "an ordinary note\n");
  why = Error("ingest_files", {{"collection", "leak"}, {"paths", {"links/secret.txt"}}});
  EXPECT_NE(why.find("outside the allowed roots"), std::string::npos) << why;
  why = Error("ingest_files", {{"collection", "leak"}, {"paths", {"links"}}});
  EXPECT_NE(why.find("secret.txt"), std::string::npos) << why;
  why = Error("ingest_files", {{"collection", "leak"}, {"paths", {"/etc"}}});
  EXPECT_NE(why.find("outside the allowed roots"), std::string::npos) << why;
  why = Error("ingest_files", {{"collection", "leak"}, {"paths", {"no/such/file"}}});
  EXPECT_NE(why.find("none of the allowed roots"), std::string::npos) << why;
  EXPECT_EQ(CollectionNames().count("leak"), 0u);
  // Excluding the link lets the folder in.
  r = Ok("ingest_files",
         {{"collection", "leak"}, {"paths", {"links"}}, {"exclude", {"secret.txt"}}});
  EXPECT_EQ(r["added"], 1);

  // Image files are reported, the others read.
  WriteFile(root_ / "mixed" / "photo.png", "\x89PNG not really");
  WriteFile(root_ / "mixed" / "a.txt", "plain words\n");
  r = Ok("ingest_files", {{"collection", "mixed"}, {"paths", {"mixed"}}});
  EXPECT_EQ(r["added"], 1);
  EXPECT_EQ(r["failed"], 1);
  ASSERT_EQ(r["errors"].size(), 1u);
  EXPECT_EQ(r["errors"][0]["id"], "mixed/photo.png");
  // Nothing readable: a collection made for the call is not left behind.
  r = Ok("ingest_files", {{"collection", "pictures"}, {"paths", {"mixed/photo.png"}}});
  EXPECT_EQ(r["failed"], 1);
  EXPECT_FALSE(r["created"].get<bool>());
  EXPECT_EQ(CollectionNames().count("pictures"), 0u);

  // Deleting a document by id removes it with its chunks.
  Json del = Ok("delete", {{"collection", "notes"}, {"ids", {"notes/comets.md"}}});
  EXPECT_EQ(del["documents_deleted"], 1);
  got = Ok("get", {{"collection", "notes"}, {"ids", {"notes/comets.md", "notes/comets.md#0"}}});
  EXPECT_EQ(got["missing"], Json::array({"notes/comets.md", "notes/comets.md#0"}));
}

TEST_F(McpServerTest, IngestFilesWithoutRootsIsRefused) {
  auto no_roots = McpServer::Create(db_.get(), {}).value();
  Json r = Json::parse(no_roots->Handle(
      R"({"jsonrpc":"2.0","id":1,"method":"tools/call","params":{"name":"ingest_files",)"
      R"("arguments":{"collection":"x","paths":["notes"]}}})"));
  EXPECT_TRUE(r["result"]["isError"].get<bool>());
  EXPECT_NE(r["result"]["content"][0]["text"].get<std::string>().find("--root"), std::string::npos);
}

TEST_F(McpServerTest, ServeStdioAnswersLineByLine) {
  std::istringstream in(
      "{\"jsonrpc\":\"2.0\",\"id\":1,\"method\":\"initialize\",\"params\":{}}\r\n"
      "\n"
      "{\"jsonrpc\":\"2.0\",\"method\":\"notifications/initialized\"}\n"
      "{\"jsonrpc\":\"2.0\",\"id\":2,\"method\":\"tools/list\"}\n"
      "oops\n");
  std::ostringstream out;
  ASSERT_TRUE(ServeStdio(*server_, in, out).ok());
  std::istringstream lines(out.str());
  std::string line;
  std::vector<Json> answers;
  while (std::getline(lines, line)) answers.push_back(Json::parse(line));
  ASSERT_EQ(answers.size(), 3u) << out.str();
  EXPECT_EQ(answers[0]["id"], 1);
  EXPECT_EQ(answers[1]["id"], 2);
  EXPECT_EQ(answers[1]["result"]["tools"].size(), 6u);
  EXPECT_EQ(answers[2]["error"]["code"], -32700);
}

}  // namespace
}  // namespace flashembed::mcp
