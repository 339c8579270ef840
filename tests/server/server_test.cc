// The transport and the native API, driven over real loopback connections:
// happy paths, every refusal (malformed, wrong types, 404, 413, 431, wrong
// dim, 401, slow and idle clients, too many connections) with the stored
// data checked unchanged afterwards, concurrency and graceful shutdown.
#include <sys/resource.h>

#include <atomic>
#include <filesystem>
#include <future>
#include <set>
#include <thread>

#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kApi = "/api/v1/collections";

class NativeApiTest : public ServerTest {
 protected:
  // A vector-only collection "vec" (dim 4, l2) and a text collection "txt".
  void CreateCollections() {
    Reply r = Post(kApi, {{"name", "vec"}, {"dim", 4}, {"metric", "l2"}, {"encoder", "none"}});
    ASSERT_EQ(r.status, 201) << r.body;
    r = Post(kApi, {{"name", "txt"}});
    ASSERT_EQ(r.status, 201) << r.body;
    r = Post(std::string(kApi) + "/vec/documents",
             {{"documents",
               {{{"id", 1}, {"vector", {1, 0, 0, 0}}, {"metadata", {{"lang", "en"}, {"n", 1}}}},
                {{"id", 2}, {"vector", {0, 1, 0, 0}}, {"metadata", {{"lang", "de"}, {"n", 2}}}},
                {{"id", "three"},
                 {"vector", {0, 0, 1, 0}},
                 {"metadata", {{"lang", "en"}, {"n", 3}}}}}}});
    ASSERT_EQ(r.status, 200) << r.body;
    r = Post(
        std::string(kApi) + "/txt/documents",
        {{"documents",
          {{{"id", 1}, {"text", "the quick brown fox"}, {"metadata", {{"kind", "animal"}}}},
           {{"id", 2}, {"text", "stock markets fell sharply"}, {"metadata", {{"kind", "news"}}}},
           {{"id", 3}, {"text", "a lazy dog sleeps"}, {"metadata", {{"kind", "animal"}}}}}}});
    ASSERT_EQ(r.status, 200) << r.body;
  }
  uint64_t Count(const std::string& name) {
    Reply r = Call("GET", std::string(kApi) + "/" + name + "/stats");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json().value("count", uint64_t{0});
  }
};

TEST_F(NativeApiTest, HealthAndMetrics) {
  Start();
  Reply r = Call("GET", "/health");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Json()["status"], "ok");
  CreateCollections();
  r = Call("GET", "/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_NE(r.Header("content-type").find("text/plain"), std::string::npos);
  EXPECT_NE(r.body.find("flashembed_http_requests_total{route=\"/health\",status=\"200\"} 1"),
            std::string::npos)
      << r.body;
  EXPECT_NE(r.body.find("flashembed_documents{collection=\"vec\"} 3"), std::string::npos);
  EXPECT_NE(r.body.find("flashembed_vectors{collection=\"txt\"} 3"), std::string::npos);
  EXPECT_NE(r.body.find("flashembed_http_request_duration_seconds_bucket{route=\"/api/v1/"
                        "collections/{name}/documents\",le=\"+Inf\"} 2"),
            std::string::npos);
  EXPECT_NE(r.body.find("flashembed_texts_embedded_total 3"), std::string::npos);
}

TEST_F(NativeApiTest, CollectionsDocumentsSearchGetDelete) {
  Start();
  CreateCollections();
  Reply r = Call("GET", kApi);
  ASSERT_EQ(r.status, 200);
  ASSERT_EQ(r.Json()["collections"].size(), 2u);
  r = Call("GET", std::string(kApi) + "/vec");
  EXPECT_EQ(r.Json()["dim"], 4);
  EXPECT_EQ(r.Json()["metric"], "l2");
  EXPECT_EQ(r.Json()["count"], 3);

  // Vector search with a filter.
  r = Post(std::string(kApi) + "/vec/search",
           {{"vector", {0, 0, 0.9, 0}}, {"k", 2}, {"filter", "lang == \"en\""}});
  ASSERT_EQ(r.status, 200) << r.body;
  json hits = r.Json()["hits"];
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]["id"], "three");
  EXPECT_EQ(hits[1]["id"], 1);
  EXPECT_EQ(hits[0]["metadata"]["n"], 3);

  // Text search.
  r = Post(std::string(kApi) + "/txt/search", {{"text", "quick fox"}, {"k", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["hits"][0]["id"], 1);
  EXPECT_EQ(r.Json()["hits"][0]["text"], "the quick brown fox");

  // Grouping: the best hit per "lang".
  r = Post(std::string(kApi) + "/vec/search",
           {{"vector", {1, 0, 0, 0}}, {"k", 5}, {"group_by", "lang"}});
  ASSERT_EQ(r.status, 200) << r.body;
  hits = r.Json()["hits"];
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0]["group"], "en");
  EXPECT_EQ(hits[1]["group"], "de");

  // Get many and one.
  r = Post(std::string(kApi) + "/vec/get", {{"ids", {2, "three", 99}}, {"with_vector", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json()["documents"].size(), 2u);
  EXPECT_EQ(r.Json()["documents"][0]["vector"], json({0, 1, 0, 0}));
  r = Call("GET", std::string(kApi) + "/vec/documents/three");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.Json()["metadata"]["lang"], "en");
  r = Call("GET", std::string(kApi) + "/vec/documents/42");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.Json()["error"]["code"], "not_found");

  // Delete by ids and by filter.
  r = Post(std::string(kApi) + "/vec/delete", {{"ids", {2}}});
  EXPECT_EQ(r.Json()["deleted"], 1);
  r = Post(std::string(kApi) + "/vec/delete", {{"filter", "n >= 3"}});
  EXPECT_EQ(r.Json()["deleted"], 1);
  EXPECT_EQ(Count("vec"), 1u);

  r = Call("DELETE", std::string(kApi) + "/txt");
  EXPECT_EQ(r.status, 200);
  r = Call("GET", std::string(kApi) + "/txt");
  EXPECT_EQ(r.status, 404);
}

TEST_F(NativeApiTest, BadRequestsChangeNothing) {
  Start();
  CreateCollections();
  const std::string docs = std::string(kApi) + "/vec/documents";
  struct Case {
    std::string method, path, body;
    int status;
  };
  const std::vector<Case> cases = {
      {"POST", docs, "{\"documents\": [", 400},                                     // malformed
      {"POST", docs, "[1,2]", 400},                                                 // not an object
      {"POST", docs, R"({"documents": "x"})", 400},                                 // wrong type
      {"POST", docs, R"({"documents": [{"id": 9, "vector": [1,2,3]}]})", 400},      // wrong dim
      {"POST", docs, R"({"documents": [{"id": 9, "vector": [1,2,3,"a"]}]})", 400},  // not numbers
      {"POST", docs, R"({"documents": [{"id": 1.5, "vector": [1,2,3,4]}]})", 400},  // bad id
      {"POST", docs, R"({"documents": [{"id": 1, "vector": [1,2,3,4]}]})", 409},    // exists
      {"POST", docs, R"({"documents": [{"id": 9, "vector": [1,2,3,4]}], "upsrt": true})", 400},
      {"POST", docs,  // an atomic batch: the good first document is not written either
       R"({"documents": [{"id": 10, "vector": [1,2,3,4]}, {"id": 11, "vector": [1]}]})", 400},
      {"POST", std::string(kApi) + "/vec/search", R"({"vector": [1,2], "k": 1})", 400},
      {"POST", std::string(kApi) + "/vec/search", R"({"vector": [1,2,3,4], "k": "1"})", 400},
      {"POST", std::string(kApi) + "/vec/search", R"({"vector": [1,2,3,4], "filter": "n >"})", 400},
      {"POST", std::string(kApi) + "/vec/search", R"({"text": "hi"})", 400},  // vector-only
      {"POST", std::string(kApi) + "/nope/search", R"({"vector": [1,2,3,4]})", 404},
      {"POST", std::string(kApi) + "/vec/delete", R"({"filter": "lang =="})", 400},
      {"POST", kApi, R"({"name": "vec", "dim": 4, "encoder": "none"})", 409},
      {"POST", kApi, R"({"name": "bad name!", "dim": 4})", 400},
      {"GET", "/api/v1/nothing", "", 404},
      {"GET", "/nothing/at/all", "", 404},
      {"PUT", std::string(kApi) + "/vec", "{}", 404},
  };
  for (const Case& c : cases) {
    Reply r = Call(c.method, c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.method << " " << c.path << " " << c.body << " -> " << r.body;
    if (r.status >= 400) {
      const json e = r.Json();
      EXPECT_TRUE(e.contains("error") && e["error"].contains("message")) << r.body;
    }
  }
  EXPECT_EQ(Count("vec"), 3u);
  Reply r = Post(std::string(kApi) + "/vec/get",
                 {{"ids", {1, 2, "three", 9, 10}}, {"with_vector", true}});
  ASSERT_EQ(r.Json()["documents"].size(), 3u);
  EXPECT_EQ(r.Json()["documents"][0]["vector"], json({1, 0, 0, 0}));
}

TEST_F(NativeApiTest, BodyAndHeaderLimits) {
  options.max_body_bytes = 64 << 10;
  options.max_header_bytes = 4096;
  Start();
  CreateCollections();
  Connection c(port());
  // Refused from Content-Length alone, before the body is read.
  Reply r = c.Request("POST", std::string(kApi) + "/vec/documents", std::string(100 << 10, ' '));
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(r.Json()["error"]["code"], "body_too_large");
  // Chunked bodies have no Content-Length: refused while reading.
  Connection chunked(port());
  std::string req =
      "POST /api/v1/collections/vec/documents HTTP/1.1\r\nHost: x\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  for (int i = 0; i < 20; ++i) req += "1000\r\n" + std::string(4096, ' ') + "\r\n";
  req += "0\r\n\r\n";
  chunked.SendRaw(req);
  EXPECT_EQ(chunked.ReadReply().status, 413);
  r = Call("GET", "/health", "", {{"X-Big", std::string(8000, 'a')}});
  EXPECT_EQ(r.status, 431);
  // A Milvus route gets the Milvus envelope.
  r = Call("POST", "/v2/vectordb/entities/insert", std::string(100 << 10, ' '));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Json()["code"], 1801);
  Connection garbage(port());
  garbage.SendRaw("THIS IS NOT HTTP\r\n\r\n");
  EXPECT_EQ(garbage.ReadReply().status, 400);
  EXPECT_EQ(Count("vec"), 3u);
  EXPECT_EQ(Call("GET", "/health").status, 200);
}

TEST_F(NativeApiTest, SlowAndIdleClientsAreDisconnected) {
  options.read_timeout_ms = 500;
  options.idle_timeout_ms = 800;
  Start();
  CreateCollections();
  // Half a request, then silence: closed after the read timeout.
  Connection slow(port());
  ASSERT_TRUE(
      slow.SendRaw("POST /api/v1/collections/vec/documents HTTP/1.1\r\nContent-Length: "
                   "100\r\n\r\n{\"documents\": [{\"id\": 77, "));
  // Others are served meanwhile.
  EXPECT_EQ(Call("GET", "/health").status, 200);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_TRUE(slow.ClosedWithin(5000));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_LT(waited, std::chrono::milliseconds(3000));
  EXPECT_EQ(slow.buffered().substr(0, 12), "HTTP/1.1 408") << slow.buffered();
  // A keep-alive connection that sits idle is closed too, after the idle timeout.
  Connection idle(port());
  EXPECT_EQ(idle.Request("GET", "/health", "").status, 200);
  EXPECT_FALSE(idle.ClosedWithin(300));
  EXPECT_TRUE(idle.ClosedWithin(5000));
  EXPECT_EQ(Count("vec"), 3u);
}

TEST_F(NativeApiTest, KeepAliveServesManyRequestsOnOneConnection) {
  Start();
  CreateCollections();
  Connection c(port());
  for (int i = 0; i < 50; ++i) {
    Reply r =
        c.Request("POST", std::string(kApi) + "/vec/search", R"({"vector": [1,0,0,0], "k": 1})");
    ASSERT_EQ(r.status, 200) << i;
    EXPECT_EQ(r.Json()["hits"][0]["id"], 1);
  }
}

TEST_F(NativeApiTest, TooManyConnectionsGet503) {
  options.max_connections = 3;
  Start();
  std::vector<std::unique_ptr<Connection>> held;
  for (int i = 0; i < 3; ++i) {
    held.push_back(std::make_unique<Connection>(port()));
    ASSERT_EQ(held.back()->Request("GET", "/health", "").status, 200);
  }
  Connection extra(port());
  EXPECT_EQ(extra.ReadReply(5000).status, 503);
  held.pop_back();
  // The freed slot is usable again (the close reaches the server first).
  bool served = false;
  for (int attempt = 0; attempt < 50 && !served; ++attempt) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    served = Call("GET", "/health").status == 200;
  }
  EXPECT_TRUE(served);
}

TEST_F(NativeApiTest, BlankTokenOnLoopbackMeansNoAuthentication) {
  options.token = "  ";
  Start();
  Reply r = Post(kApi, {{"name", "vec"}, {"dim", 4}, {"encoder", "none"}});
  EXPECT_EQ(r.status, 201) << r.body;
}

TEST_F(NativeApiTest, BearerTokenIsRequiredWhenConfigured) {
  options.token = "s3cret-token";
  Start();
  const std::vector<std::pair<std::string, std::string>> good = {
      {"Authorization", "Bearer s3cret-token"}};
  Reply r = Post(kApi, {{"name", "vec"}, {"dim", 4}, {"encoder", "none"}}, good);
  ASSERT_EQ(r.status, 201) << r.body;
  const std::string docs = std::string(kApi) + "/vec/documents";
  const json add = {{"documents", {{{"id", 1}, {"vector", {1, 0, 0, 0}}}}}};
  for (const auto& headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
           {},
           {{"Authorization", "Bearer wrong"}},
           {{"Authorization", "Bearer "}},
           {{"Authorization", "s3cret-token"}},
           {{"Authorization", "Bearer s3cret-token2"}}}) {
    r = Post(docs, add, headers);
    EXPECT_EQ(r.status, 401) << r.body;
    EXPECT_EQ(r.Json()["error"]["code"], "unauthenticated");
    json m = json::parse(
        Post("/v2/vectordb/entities/insert",
             {{"collectionName", "vec"}, {"data", {{{"id", 5}, {"vector", {1, 0, 0, 0}}}}}},
             headers)
            .body);
    EXPECT_EQ(m["code"], 1800);
    EXPECT_EQ(Call("GET", "/metrics", "", headers).status, 401);
  }
  r = Call("GET", std::string(kApi) + "/vec", "", good);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(r.Json()["count"], 0);
  EXPECT_EQ(Post(docs, add, good).status, 200);
}

TEST(ServerOptionsTest, NonLoopbackHostNeedsToken) {
  ServerOptions options;
  options.host = "0.0.0.0";
  Status status = options.Validate();
  EXPECT_TRUE(status.IsInvalidArgument());
  EXPECT_NE(status.message().find("without a token"), std::string::npos) << status;
  options.token = "t";
  EXPECT_TRUE(options.Validate().ok());
  // A blank token is no token, for library callers as for the CLI.
  for (const char* blank : {" ", "\t \n", ""}) {
    options.token = blank;
    EXPECT_TRUE(options.Validate().IsInvalidArgument()) << "[" << blank << "]";
    EXPECT_TRUE(IsBlankToken(blank));
  }
  EXPECT_FALSE(IsBlankToken(" t "));
  options.token = "";
  options.host = "::1";
  EXPECT_TRUE(options.Validate().ok());
  options.host = "localhost";
  EXPECT_TRUE(options.Validate().ok());
  EXPECT_TRUE(IsLoopbackHost("127.0.0.2"));
  EXPECT_FALSE(IsLoopbackHost("10.0.0.1"));
}

// 8 clients mix Milvus inserts and searches; every write is acknowledged
// and every id is there at the end.
TEST_F(ServerTest, ConcurrentClientsLoseNoWrites) {
  Start();
  json created = Milvus("collections/create", {{"collectionName", "c"}, {"dimension", 8}});
  ASSERT_EQ(created["code"], 0) << created;
  constexpr int kThreads = 8;
  constexpr int kBatches = 10;
  constexpr int kPerBatch = 5;
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Connection c(port());
      for (int b = 0; b < kBatches; ++b) {
        json rows = json::array();
        for (int i = 0; i < kPerBatch; ++i) {
          const int id = t * 1000 + b * kPerBatch + i;
          json v = json::array();
          for (int d = 0; d < 8; ++d) v.push_back(((id * 7 + d * 3) % 11) / 10.0 + 0.01);
          rows.push_back({{"id", id}, {"vector", v}, {"thread", t}});
        }
        Reply r = c.Request("POST", "/v2/vectordb/entities/insert",
                            json{{"collectionName", "c"}, {"data", rows}}.dump());
        if (r.status != 200 || json::parse(r.body)["code"] != 0) ++errors;
        r = c.Request("POST", "/v2/vectordb/entities/search",
                      json{{"collectionName", "c"},
                           {"data", {{1, 0, 0, 0, 0, 0, 0, 1}}},
                           {"limit", 5},
                           {"filter", "thread == " + std::to_string(t)}}
                          .dump());
        if (r.status != 200 || json::parse(r.body)["code"] != 0 ||
            json::parse(r.body)["topks"][0].get<int>() != std::min(5, (b + 1) * kPerBatch)) {
          ++errors;
        }
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(errors.load(), 0);
  json stats = Milvus("collections/get_stats", {{"collectionName", "c"}});
  EXPECT_EQ(stats["data"]["rowCount"], kThreads * kBatches * kPerBatch);
  json ids = json::array();
  for (int t = 0; t < kThreads; ++t) {
    for (int i = 0; i < kBatches * kPerBatch; ++i) ids.push_back(t * 1000 + i);
  }
  json got =
      Milvus("entities/get", {{"collectionName", "c"}, {"id", ids}, {"outputFields", {"thread"}}});
  ASSERT_EQ(got["data"].size(), ids.size());
  std::set<int64_t> seen;
  for (const json& row : got["data"]) {
    seen.insert(row["id"].get<int64_t>());
    EXPECT_EQ(row["thread"], row["id"].get<int64_t>() / 1000);
  }
  EXPECT_EQ(seen.size(), ids.size());
}

// Stop() and Wait() on different threads, as server.h allows (a signal
// thread stops, main waits). Stop() used to assign the stopper thread
// handle while Wait() could already read and join it: a data race TSan
// reports.
TEST_F(ServerTest, StopAndWaitOnDifferentThreads) {
  for (int round = 0; round < 3; ++round) {
    Start();
    EXPECT_EQ(Call("GET", "/health").status, 200);
    std::atomic<bool> waited{false};
    std::thread waiter([&] {
      server_->Wait();
      waited = true;
    });
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    EXPECT_FALSE(waited.load());
    server_->Stop();
    waiter.join();
    EXPECT_TRUE(waited.load());
    server_.reset();
  }
}

// CPU time (user + system) this process has used so far.
std::chrono::microseconds ProcessCpuTime() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return std::chrono::seconds(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
         std::chrono::microseconds(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec);
}

// When accept() fails for want of file descriptors the pending connection
// stays in the backlog; the server used to retry at once, forever, pinning
// the I/O thread. It now backs off, and serves the connection once
// descriptors are free again.
TEST_F(ServerTest, AcceptFailureBacksOffAndRecovers) {
  Start();
  // Read before descriptors run out: UBSan's first dynamic-type check of a
  // call site needs one and reports a false vptr error without it.
  const uint16_t server_port = port();
  rlimit saved{};
  ASSERT_EQ(getrlimit(RLIMIT_NOFILE, &saved), 0);
  int highest = 0;
  for (const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) {
    highest = std::max(highest, std::atoi(entry.path().filename().c_str()));
  }
  // Room for exactly one more descriptor: fill every free slot below the
  // new limit, then give one back for the client's socket.
  rlimit tight = saved;
  tight.rlim_cur = static_cast<rlim_t>(highest) + 2;
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &tight), 0);
  std::vector<int> hoard;
  for (int fd; (fd = dup(STDERR_FILENO)) >= 0;) hoard.push_back(fd);
  if (hoard.empty()) {
    setrlimit(RLIMIT_NOFILE, &saved);
    FAIL() << "no descriptor could be reserved";
  }
  close(hoard.back());
  hoard.pop_back();
  Connection client(server_port);  // completes in the kernel; the server cannot accept it
  const bool connected = client.connected();
  const auto cpu_before = ProcessCpuTime();
  std::this_thread::sleep_for(std::chrono::milliseconds(500));
  const auto cpu_used = ProcessCpuTime() - cpu_before;
  for (int fd : hoard) close(fd);
  ASSERT_EQ(setrlimit(RLIMIT_NOFILE, &saved), 0);
  ASSERT_TRUE(connected);
  EXPECT_LT(cpu_used, std::chrono::milliseconds(100)) << "the I/O thread spun on accept()";
  EXPECT_EQ(client.Request("GET", "/health", "", {}, 5000).status, 200);
  EXPECT_EQ(Call("GET", "/health").status, 200);
}

// Stop() with requests in flight: each gets its complete response, the
// database closes cleanly and holds every acknowledged write.
TEST_F(ServerTest, GracefulShutdownFinishesRequestsInFlight) {
  options.shutdown_grace_ms = 10000;
  options.access_log = getenv("FE_DEBUG") != nullptr;
  Start();
  ASSERT_EQ(Milvus("collections/create", {{"collectionName", "c"}, {"dimension", 16}})["code"], 0);
  constexpr int kClients = 6;
  std::vector<std::future<std::pair<int, int>>> results;  // (HTTP status, rows written)
  std::atomic<int> started{0};
  for (int t = 0; t < kClients; ++t) {
    results.push_back(std::async(std::launch::async, [&, t] {
      json rows = json::array();
      for (int i = 0; i < 400; ++i) {
        json v = json::array();
        for (int d = 0; d < 16; ++d) v.push_back((i * 13 + d * 7 + t) % 17 + 1);
        rows.push_back({{"id", t * 10000 + i}, {"vector", v}});
      }
      Connection c(port());
      const std::string body = json{{"collectionName", "c"}, {"data", rows}}.dump();
      ++started;
      Reply r = c.Request("POST", "/v2/vectordb/entities/insert", body);
      const bool ok = r.status == 200 && json::parse(r.body)["code"] == 0;
      return std::make_pair(r.status, ok ? 400 : 0);
    }));
  }
  while (started.load() < kClients) std::this_thread::yield();
  std::this_thread::sleep_for(std::chrono::milliseconds(30));
  server_->Stop();
  int written = 0;
  for (auto& f : results) {
    auto [status, rows] = f.get();
    // A request either completed (200) or never reached the server before
    // the listener closed (status 0); none is cut off half-way.
    EXPECT_TRUE(status == 200 || status == 0) << status;
    written += rows;
  }
  server_->Wait();
  EXPECT_GT(written, 0);
  StopAndClose();
  auto db = Database::Open({}, dir_.Sub("db"));
  ASSERT_TRUE(db.ok()) << db.status();
  auto c = (*db)->GetCollection("c");
  ASSERT_TRUE(c.ok());
  auto count = (*c)->Count();
  ASSERT_TRUE(count.ok());
  EXPECT_EQ(*count, static_cast<uint64_t>(written));
}

}  // namespace
}  // namespace flashembed::server::testing
