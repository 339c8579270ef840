// The native API's long documents (collections/{name}/long_documents: put,
// get, delete, search) over real loopback connections: outcomes, chunk
// offsets checked against the chunk records, passages and neighbours,
// pooled ranking, vector / BM25 / hybrid ranking, deletes cascading to
// chunks, and every refusal leaving the stored data unchanged.
#include <atomic>
#include <random>
#include <set>
#include <thread>

#include "tests/server/http_test_client.h"

namespace flashembed::server::testing {
namespace {

constexpr const char* kApi = "/api/v1/collections";

// Every byte outside [A-Za-z0-9-._~] as %XX (a path segment).
std::string Escape(std::string_view s) {
  static const char* hex = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

// A long text of `paragraphs` paragraphs of 4..6 sentences, words made of
// `syllables` (so two texts with different syllables share no word), with
// a few multi-byte words so offsets are bytes, not characters.
std::string LongText(uint32_t seed, const std::vector<std::string>& syllables, int paragraphs) {
  std::mt19937 rng(seed);
  auto pick = [&](size_t n) { return static_cast<size_t>(rng() % n); };
  const std::vector<std::string> extra = {"café", "naïve", "Zürich", "größer"};
  std::string text;
  for (int p = 0; p < paragraphs; ++p) {
    if (p > 0) text += "\n\n";
    const size_t sentences = 4 + pick(3);
    for (size_t s = 0; s < sentences; ++s) {
      if (s > 0) text += " ";
      const size_t words = 8 + pick(7);
      for (size_t w = 0; w < words; ++w) {
        std::string word;
        if (pick(25) == 0) {
          word = extra[pick(extra.size())];
        } else {
          const size_t parts = 2 + pick(2);
          for (size_t k = 0; k < parts; ++k) word += syllables[pick(syllables.size())];
        }
        if (w == 0) word[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(word[0])));
        text += (w > 0 ? " " : "") + word;
      }
      text += ".";
    }
  }
  return text;
}

// The sentence of `text` that starts after the `n`-th ". " (whole, with its
// full stop).
std::string SentenceAfter(const std::string& text, int n) {
  size_t pos = 0;
  for (int i = 0; i < n; ++i) pos = text.find(". ", pos) + 2;
  return text.substr(pos, text.find('.', pos) + 1 - pos);
}

class NativeDocumentsTest : public ServerTest {
 protected:
  void SetUp() override {
    ServerTest::SetUp();
    Start();
    ASSERT_EQ(Post(kApi, {{"name", "kb"}}).status, 201);
    text_a_ = LongText(1, {"ka", "lo", "mi", "ra", "tu", "ne", "si", "po"}, 30);
    text_b_ = LongText(2, {"zor", "vex", "qua", "dri", "bel", "gym", "hul", "fet"}, 30);
  }

  std::string Path(const std::string& rest) const { return std::string(kApi) + "/kb/" + rest; }
  json Doc(const std::string& id, const std::string& text,
           const json& extra = json::object()) const {
    json d = {{"id", id}, {"text", text}};
    d.update(extra);
    return d;
  }
  Reply Put(const json& body) { return Post(Path("long_documents"), body); }
  Reply GetDoc(const std::string& id, const std::string& query = "") {
    return Call("GET", Path("long_documents/" + Escape(id)) + query);
  }
  Reply SearchDocs(const json& body) { return Post(Path("long_documents/search"), body); }
  json Describe() {
    Reply r = Call("GET", std::string(kApi) + "/kb");
    EXPECT_EQ(r.status, 200) << r.body;
    return r.Json();
  }
  // Puts A ("a.txt", lang en) and B (an id with '/', ' ' and 'ü'; lang de).
  void PutBoth() {
    Reply r = Put({{"documents",
                    {Doc(kA, text_a_,
                         {{"source", "a.txt"},
                          {"title", "Alpha"},
                          {"metadata", {{"lang", "en"}, {"year", 2020}}}}),
                     Doc(kB, text_b_,
                         {{"source", "https://example.org/b"},
                          {"title", "Beta"},
                          {"metadata", {{"lang", "de"}, {"year", 2024}}}})}},
                   {"chunk_tokens", 64}});
    ASSERT_EQ(r.status, 200) << r.body;
    put_ = r.Json()["documents"];
  }

  static constexpr const char* kA = "alpha";
  static constexpr const char* kB = "notes/b ü.md";
  std::string text_a_, text_b_;
  json put_;
};

TEST_F(NativeDocumentsTest, PutGetSearchDelete) {
  PutBoth();
  ASSERT_EQ(put_.size(), 2u) << put_;
  uint64_t chunks = 0;
  for (size_t i = 0; i < 2; ++i) {
    const json& d = put_[i];
    EXPECT_EQ(d["id"], i == 0 ? kA : kB);
    EXPECT_EQ(d["outcome"], "added") << d;
    EXPECT_GT(d["chunks"].get<uint64_t>(), 5u) << d;
    EXPECT_EQ(d["chunks_encoded"], d["chunks"]) << d;
    EXPECT_GT(d["tokens"].get<uint64_t>(), d["chunks"].get<uint64_t>()) << d;
    chunks += d["chunks"].get<uint64_t>();
  }
  // Describe, stats and list count documents and their chunks.
  json info = Describe();
  EXPECT_EQ(info["documents"], 2) << info;
  EXPECT_EQ(info["count"], chunks) << info;
  EXPECT_EQ(Call("GET", std::string(kApi) + "/kb/stats").Json()["documents"], 2);
  EXPECT_EQ(Call("GET", kApi).Json()["collections"][0]["documents"], 2);

  // The same documents again: unchanged, nothing embedded.
  PutBoth();
  for (const json& d : put_) {
    EXPECT_EQ(d["outcome"], "unchanged") << d;
    EXPECT_EQ(d["chunks_encoded"], 0) << d;
  }
  // An edited last paragraph: replaced, only the changed chunks embedded.
  const std::string edited = text_a_ + " Lomira kasitu.";
  Reply r = Put({{"documents",
                  {Doc(kA, edited,
                       {{"source", "a.txt"},
                        {"title", "Alpha"},
                        {"metadata", {{"lang", "en"}, {"year", 2020}}}})}},
                 {"chunk_tokens", 64}});
  ASSERT_EQ(r.status, 200) << r.body;
  json replaced = r.Json()["documents"][0];
  EXPECT_EQ(replaced["outcome"], "replaced") << replaced;
  EXPECT_GE(replaced["chunks_encoded"].get<uint64_t>(), 1u) << replaced;
  EXPECT_LT(replaced["chunks_encoded"].get<uint64_t>(), replaced["chunks"].get<uint64_t>())
      << replaced;
  text_a_ = edited;

  // The document record.
  r = GetDoc(kA);
  ASSERT_EQ(r.status, 200) << r.body;
  json a = r.Json();
  EXPECT_EQ(a["id"], kA);
  EXPECT_EQ(a["source"], "a.txt");
  EXPECT_EQ(a["title"], "Alpha");
  EXPECT_EQ(a["metadata"], json({{"lang", "en"}, {"year", 2020}}));
  EXPECT_EQ(a["content_hash"].get<std::string>().size(), 32u) << a["content_hash"];
  EXPECT_EQ(a["bytes"], text_a_.size());
  EXPECT_EQ(a["chunk_tokens"], 64);
  EXPECT_GT(a["overlap_tokens"].get<int>(), 0);
  EXPECT_GT(a["updated_unix_ms"].get<int64_t>(), 1600000000000);
  EXPECT_FALSE(a.contains("vector"));
  const json& a_chunks = a["chunks"];
  ASSERT_EQ(a_chunks.size(), replaced["chunks"].get<size_t>());
  uint64_t tokens = 0;
  json ids = json::array();
  for (size_t i = 0; i < a_chunks.size(); ++i) {
    EXPECT_EQ(a_chunks[i]["chunk"], i);
    EXPECT_LT(a_chunks[i]["begin"].get<uint64_t>(), a_chunks[i]["end"].get<uint64_t>());
    EXPECT_LE(a_chunks[i]["tokens"].get<uint64_t>(), 64u);
    tokens += a_chunks[i]["tokens"].get<uint64_t>();
    ids.push_back(std::string(kA) + "#" + std::to_string(i));
  }
  EXPECT_EQ(a["tokens"], tokens);
  EXPECT_EQ(a_chunks[0]["begin"], 0);
  EXPECT_EQ(a_chunks.back()["end"], text_a_.size());
  // Each chunk is a record "<id>#<n>" whose text is the document's bytes
  // [begin, end), with the document's metadata plus "doc" and "chunk".
  r = Post(Path("get"), {{"ids", ids}});
  ASSERT_EQ(r.status, 200) << r.body;
  json records = r.Json()["documents"];
  ASSERT_EQ(records.size(), a_chunks.size());
  for (size_t i = 0; i < records.size(); ++i) {
    const uint64_t begin = a_chunks[i]["begin"], end = a_chunks[i]["end"];
    EXPECT_EQ(records[i]["text"], text_a_.substr(begin, end - begin)) << i;
    EXPECT_EQ(records[i]["metadata"]["doc"]["id"], kA);
    EXPECT_EQ(records[i]["metadata"]["chunk"]["n"], i);
    EXPECT_EQ(records[i]["metadata"]["chunk"]["begin"], begin);
    EXPECT_EQ(records[i]["metadata"]["lang"], "en");
  }
  // ... also through GET .../documents/{id} ('#' escaped as %23).
  r = Call("GET", Path("documents/") + Escape(std::string(kA) + "#0"));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["text"], records[0]["text"]);

  // B by its escaped id, with its pooled vector.
  r = GetDoc(kB, "?with_vector=true");
  ASSERT_EQ(r.status, 200) << r.body;
  json b = r.Json();
  EXPECT_EQ(b["id"], kB);
  EXPECT_EQ(b["bytes"], text_b_.size());
  ASSERT_EQ(b["vector"].size(), 384u);
  const json& b_chunks = b["chunks"];

  // A sentence from deep inside B finds B first; its best passage holds it.
  const std::string sentence = SentenceAfter(text_b_, 100);
  ASSERT_GT(text_b_.find(sentence), text_b_.size() / 2);
  r = SearchDocs({{"text", sentence}, {"k", 2}, {"passages", 2}, {"neighbors", 1}});
  ASSERT_EQ(r.status, 200) << r.body;
  json docs = r.Json()["documents"];
  ASSERT_EQ(docs.size(), 2u) << docs;
  EXPECT_EQ(docs[0]["id"], kB);
  EXPECT_EQ(docs[1]["id"], kA);
  EXPECT_EQ(docs[0]["source"], "https://example.org/b");
  EXPECT_EQ(docs[0]["title"], "Beta");
  EXPECT_EQ(docs[0]["metadata"], json({{"lang", "de"}, {"year", 2024}}));
  json passages = docs[0]["passages"];
  ASSERT_EQ(passages.size(), 2u) << passages;
  EXPECT_FLOAT_EQ(docs[0]["score"].get<float>(), passages[0]["score"].get<float>());
  EXPECT_GE(passages[0]["score"].get<float>(), passages[1]["score"].get<float>());
  EXPECT_NE(passages[0]["text"].get<std::string>().find(sentence), std::string::npos)
      << passages[0];
  for (const json& p : passages) {
    const uint64_t n = p["chunk"], begin = p["begin"], end = p["end"];
    ASSERT_LT(n, b_chunks.size());
    EXPECT_EQ(begin, b_chunks[n]["begin"]);
    EXPECT_EQ(end, b_chunks[n]["end"]);
    EXPECT_EQ(p["text"], text_b_.substr(begin, end - begin));
    // One neighbour on each side (none before chunk 0 or after the last),
    // without a score.
    ASSERT_TRUE(p.contains("before") && p.contains("after")) << p;
    ASSERT_EQ(p["before"].size(), n > 0 ? 1u : 0u) << p;
    ASSERT_EQ(p["after"].size(), n + 1 < b_chunks.size() ? 1u : 0u) << p;
    for (const char* side : {"before", "after"}) {
      const json& nb = p[side];
      if (nb.empty()) continue;
      EXPECT_EQ(nb[0]["chunk"].get<uint64_t>(), side[0] == 'b' ? n - 1 : n + 1) << p;
      EXPECT_FALSE(nb[0].contains("score")) << nb;
      const uint64_t nb_begin = nb[0]["begin"], nb_end = nb[0]["end"];
      EXPECT_EQ(nb[0]["text"], text_b_.substr(nb_begin, nb_end - nb_begin));
    }
  }
  // Filters see the chunk metadata: "doc" and the document's own keys.
  r = SearchDocs({{"text", sentence},
                  {"filter", "doc[\"source\"] == {s}"},
                  {"filter_params", {{"s", "a.txt"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.Json()["documents"].size(), 1u) << r.body;
  EXPECT_EQ(r.Json()["documents"][0]["id"], kA);
  r = SearchDocs({{"text", sentence}, {"filter", "lang == \"de\" and year > 2020"}});
  ASSERT_EQ(r.Json()["documents"].size(), 1u) << r.body;
  EXPECT_EQ(r.Json()["documents"][0]["id"], kB);
  // Without neighbours: no before/after; without text: no passage text.
  r = SearchDocs({{"text", sentence}, {"k", 1}, {"with_text", false}, {"mode", "exact"}});
  ASSERT_EQ(r.status, 200) << r.body;
  json p0 = r.Json()["documents"][0]["passages"][0];
  EXPECT_FALSE(p0.contains("before") || p0.contains("after") || p0.contains("text")) << p0;
  EXPECT_TRUE(p0.contains("score") && p0.contains("begin")) << p0;

  // Pooled: documents ranked by their pooled vector; passages = their chunks
  // most similar to the query.
  r = SearchDocs({{"text", sentence}, {"k", 2}, {"pooled", true}, {"passages", 3}});
  ASSERT_EQ(r.status, 200) << r.body;
  docs = r.Json()["documents"];
  ASSERT_EQ(docs.size(), 2u) << docs;
  EXPECT_EQ(docs[0]["id"], kB);
  EXPECT_GT(docs[0]["score"].get<float>(), docs[1]["score"].get<float>());
  passages = docs[0]["passages"];
  ASSERT_EQ(passages.size(), 3u);
  EXPECT_GE(passages[0]["score"].get<float>(), passages[1]["score"].get<float>());
  EXPECT_GE(passages[1]["score"].get<float>(), passages[2]["score"].get<float>());
  // A document's own pooled vector as the query: that document, score ~1.
  r = SearchDocs({{"vector", b["vector"]}, {"k", 1}, {"pooled", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["documents"][0]["id"], kB);
  EXPECT_NEAR(r.Json()["documents"][0]["score"].get<double>(), 1.0, 1e-4);

  // Delete A by its path: gone with its chunks.
  const uint64_t before_delete = Describe()["count"];
  r = Call("DELETE", Path("long_documents/") + Escape(kA));
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json(), json({{"deleted", 1}}));
  r = GetDoc(kA);
  EXPECT_EQ(r.status, 404) << r.body;
  EXPECT_EQ(r.Json()["error"]["code"], "not_found");
  EXPECT_EQ(Call("GET", Path("documents/") + Escape(std::string(kA) + "#0")).status, 404);
  EXPECT_TRUE(Post(Path("get"), {{"ids", ids}}).Json()["documents"].empty());
  info = Describe();
  EXPECT_EQ(info["documents"], 1);
  EXPECT_EQ(info["count"], before_delete - a_chunks.size());
  // Deleting it again deletes nothing; B and an unknown id by POST.
  EXPECT_EQ(Call("DELETE", Path("long_documents/") + Escape(kA)).Json()["deleted"], 0);
  r = Post(Path("long_documents/delete"), {{"ids", {kB, "missing"}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["deleted"], 1);
  info = Describe();
  EXPECT_EQ(info["documents"], 0);
  EXPECT_EQ(info["count"], 0);
  EXPECT_TRUE(SearchDocs({{"text", sentence}}).Json()["documents"].empty());

  // Routes are templates in the metrics.
  r = Call("GET", "/metrics");
  EXPECT_NE(r.body.find("route=\"/api/v1/collections/{name}/long_documents/search\""),
            std::string::npos);
  EXPECT_NE(r.body.find("route=\"/api/v1/collections/{name}/long_documents/{id}\""),
            std::string::npos);
}

TEST_F(NativeDocumentsTest, RefusalsChangeNothing) {
  PutBoth();
  ASSERT_EQ(Post(kApi, {{"name", "vecs"}, {"dim", 4}, {"encoder", "none"}}).status, 201);
  const json info_before = Describe();
  const json a_before = GetDoc(kA).Json();
  const std::string put = Path("long_documents");
  const std::string search = Path("long_documents/search");
  const std::string del = Path("long_documents/delete");
  const std::string text = "A short text. It has two sentences.";
  struct Case {
    std::string path;
    std::string body;  // raw, so malformed JSON can be sent
    int status;
    std::string fragment;
  };
  auto j = [](const json& v) { return v.dump(); };
  const std::vector<Case> cases = {
      // Put: types, required fields, reserved keys, atomicity.
      {put, j({{"documents", {{{"id", "x"}}}}}), 400,
       "documents[0] (id \"x\"): \"text\" is required"},
      {put, j({{"documents", {{{"id", "x"}, {"text", 5}}}}}), 400, "\"text\" must be a string"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}, {"metadata", {1, 2}}}}}}), 400,
       "\"metadata\" must be an object"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}, {"metadata", "{}"}}}}}), 400,
       "metadata"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}, {"metadata", {{"doc", 1}}}}}}}), 400,
       "doc"},
      {put, j({{"documents", {{{"text", text}}}}}), 400, "\"id\" is required"},
      {put, j({{"documents", {{{"id", 7}, {"text", text}}}}}), 400, "\"id\" must be a string"},
      {put, j({{"documents", {{{"id", ""}, {"text", text}}}}}), 400, "id"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}, {"title", false}}}}}), 400, "title"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}, {"source", {1}}}}}}), 400, "source"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}, {"vector", {1, 2}}}}}}), 400,
       "unknown key \"vector\""},
      {put, j({{"documents", {{{"id", "x"}, {"text", "   "}}}}}), 400, "x"},
      {put, j({{"documents", {"x"}}}), 400, "documents[0] must be an object"},
      {put, j({{"documents", json::array()}}), 400, "non-empty"},
      {put, j({{"documents", {{"id", "x"}}}}), 400, "\"documents\" must be an array"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}}}}, {"chunk_tokens", -1}}), 400,
       "chunk_tokens"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}}}}, {"overlap_tokens", "3"}}), 400,
       "overlap_tokens"},
      {put,
       j({{"documents", {{{"id", "x"}, {"text", text}}}},
          {"chunk_tokens", 8},
          {"overlap_tokens", 7}}),
       400, "overlap"},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}}}}, {"upsert", true}}), 400,
       "unknown key \"upsert\""},
      {put, j({{"documents", {{{"id", "x"}, {"text", text}}, {{"id", "x"}, {"text", text}}}}}), 400,
       "twice"},
      // A valid new document next to a bad one: neither is written.
      {put, j({{"documents", {{{"id", "fresh"}, {"text", text}}, {{"id", "bad"}, {"text", ""}}}}}),
       400, "bad"},
      // A document whose chunk id is taken by a plain record is refused too
      // (the record is added below).
      {put, j({{"documents", {{{"id", "taken"}, {"text", text}}}}}), 409, "taken#0"},
      {put, "{\"documents\": [", 400, "JSON"},
      {put, "[1, 2]", 400, "object"},
      {std::string(kApi) + "/nope/long_documents",
       j({{"documents", {{{"id", "x"}, {"text", text}}}}}), 404, "nope"},
      {std::string(kApi) + "/vecs/long_documents",
       j({{"documents", {{{"id", "x"}, {"text", text}}}}}), 501, "no encoder"},
      // Search.
      {search, j({{"text", "x"}, {"passages", 0}}), 400, "passages"},
      {search, j({{"text", "x"}, {"passages", 65}}), 400, "passages"},
      {search, j({{"text", "x"}, {"passages", "2"}}), 400, "passages"},
      {search, j({{"text", "x"}, {"neighbors", 9}}), 400, "neighbors"},
      {search, j({{"text", "x"}, {"pooled", 1}}), 400, "pooled"},
      {search, j({{"text", "x"}, {"pooled", true}, {"min_score", 0.5}}), 400, "min_score"},
      {search, j({{"text", "x"}, {"vector", {1, 2}}}), 400, "exactly one"},
      {search, j(json::object()), 400, "exactly one"},
      {search, j({{"vector", {1, 2}}}), 400, "dim"},
      {search, j({{"text", "x"}, {"filter", "lang =="}}), 400, "column"},
      {search, j({{"text", "x"}, {"group_by", "lang"}}), 400, "unknown key \"group_by\""},
      {search, j({{"text", "x"}, {"k", 0}}), 400, "\"k\""},
      {search, "{\"text\": ", 400, "JSON"},
      {std::string(kApi) + "/nope/long_documents/search", j({{"text", "x"}}), 404, "nope"},
      {std::string(kApi) + "/vecs/long_documents/search", j({{"text", "x"}}), 400, "no encoder"},
      // Delete.
      {del, j({{"ids", {kA, 3}}}), 400, "ids[1]"},
      {del, j({{"ids", kA}}), 400, "\"ids\" must be an array"},
      {del, j(json::object()), 400, "ids"},
      {del, j({{"ids", {kA}}, {"filter", "lang == \"en\""}}), 400, "unknown key \"filter\""},
      {std::string(kApi) + "/nope/long_documents/delete", j({{"ids", {kA}}}), 404, "nope"},
  };
  ASSERT_EQ(
      Post(Path("documents"), {{"documents", {{{"id", "taken#0"}, {"text", "a record"}}}}}).status,
      200);
  const uint64_t count = Describe()["count"];
  for (const Case& c : cases) {
    Reply r = Call("POST", c.path, c.body);
    EXPECT_EQ(r.status, c.status) << c.path << " " << c.body << " -> " << r.body;
    const std::string message = r.Json()["error"].value("message", "");
    EXPECT_NE(message.find(c.fragment), std::string::npos) << c.body << " -> " << r.body;
  }
  // GET / DELETE refusals.
  EXPECT_EQ(GetDoc("missing").status, 404);
  EXPECT_EQ(Call("GET", std::string(kApi) + "/nope/long_documents/x").status, 404);
  EXPECT_EQ(Call("DELETE", std::string(kApi) + "/nope/long_documents/x").status, 404);
  Reply r = GetDoc(kA, "?with_vector=yes");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("with_vector"), std::string::npos) << r.body;
  r = GetDoc(kA, "?vector=true");
  EXPECT_EQ(r.status, 400) << r.body;
  EXPECT_NE(r.body.find("unknown query parameter"), std::string::npos) << r.body;
  // Chunks change only with their document.
  r = Post(Path("documents"),
           {{"upsert", true}, {"documents", {{{"id", std::string(kA) + "#0"}, {"text", "x"}}}}});
  EXPECT_EQ(r.status, 400) << r.body;
  r = Post(Path("delete"), {{"ids", {std::string(kA) + "#1"}}});
  EXPECT_EQ(r.status, 400) << r.body;

  // Nothing changed.
  json info_after = Describe();
  EXPECT_EQ(info_after["documents"], info_before["documents"]);
  EXPECT_EQ(info_after["count"], count);
  EXPECT_EQ(count, info_before["count"].get<uint64_t>() + 1);  // the "taken#0" record
  EXPECT_EQ(GetDoc(kA).Json(), a_before);
  EXPECT_EQ(GetDoc("fresh").status, 404);
  EXPECT_EQ(GetDoc("x").status, 404);
  EXPECT_EQ(Call("GET", std::string(kApi) + "/vecs").Json()["documents"], 0);
}

TEST_F(NativeDocumentsTest, RankingsOfTheSearch) {
  // "kb" without a text index, "kt" with one, the same documents in both.
  PutBoth();
  ASSERT_EQ(Post(kApi, {{"name", "kt"}, {"text_index", true}}).status, 201);
  const std::string kt = std::string(kApi) + "/kt/long_documents";
  Reply r = Post(kt, {{"documents", {Doc(kA, text_a_), Doc(kB, text_b_)}}, {"chunk_tokens", 64}});
  ASSERT_EQ(r.status, 200) << r.body;
  auto search_kt = [&](const json& body) { return Post(kt + "/search", body); };
  auto documents = [](const Reply& reply) {
    EXPECT_EQ(reply.status, 200) << reply.body;
    return reply.Json()["documents"];
  };
  // A sentence of B: its words are B's syllables only.
  const std::string sentence = SentenceAfter(text_b_, 40);

  // Text: BM25 over the chunks; only documents holding a query word.
  json text = documents(search_kt({{"text", sentence}, {"ranking", "text"}, {"passages", 2}}));
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text[0]["id"], kB) << text;
  for (const json& d : text) {
    EXPECT_EQ(d["text_score"], d["score"]) << d;
    EXPECT_FALSE(d.contains("vector_score")) << d;
    EXPECT_EQ(d["passages"][0]["score"], d["score"]) << d;
  }
  EXPECT_NE(text[0]["passages"][0]["text"].get<std::string>().find(sentence), std::string::npos);
  // "keywords" alone are a text query.
  json keywords =
      documents(search_kt({{"keywords", sentence}, {"ranking", "text"}, {"passages", 2}}));
  EXPECT_EQ(keywords, text);

  // Hybrid: both documents (the vectors find every one), with the vector
  // side's score, and BM25's where it found the document.
  const json hybrid = documents(search_kt({{"text", sentence}, {"ranking", "hybrid"}}));
  ASSERT_EQ(hybrid.size(), 2u) << hybrid;
  EXPECT_EQ(hybrid[0]["id"], kB);
  EXPECT_EQ(hybrid[0]["text_score"], text[0]["score"]);
  for (const json& d : hybrid) {
    EXPECT_TRUE(d.contains("vector_score")) << d;
    // Normalized fusion (the default here), BM25 weighted 0.8: in [0, 1].
    EXPECT_LE(d["score"].get<double>(), 1.0 + 1e-6) << d;
    EXPECT_GE(d["score"].get<double>(), 0.0) << d;
  }
  // auto (the default) is hybrid on "kt", vector on "kb".
  EXPECT_EQ(documents(search_kt({{"text", sentence}})), hybrid);
  EXPECT_EQ(documents(search_kt({{"text", sentence}, {"ranking", "auto"}})), hybrid);
  const json vector = documents(SearchDocs({{"text", sentence}, {"ranking", "vector"}}));
  ASSERT_EQ(vector.size(), 2u);
  EXPECT_EQ(documents(SearchDocs({{"text", sentence}})), vector);
  EXPECT_EQ(documents(SearchDocs({{"text", sentence}, {"ranking", "auto"}})), vector);
  for (const json& d : vector) {
    EXPECT_FALSE(d.contains("vector_score") || d.contains("text_score")) << d;
  }
  for (const json& d : hybrid) {
    for (const json& v : vector) {
      if (v["id"] == d["id"]) {
        EXPECT_EQ(v["score"], d["vector_score"]) << d;
      }
    }
  }
  // Fusion parameters: rrf_k, normalized with the weight on BM25.
  json rrf1 = documents(search_kt({{"text", sentence}, {"ranking", "hybrid"}, {"rrf_k", 1}}));
  ASSERT_FALSE(rrf1.empty());
  EXPECT_GT(rrf1[0]["score"].get<double>(), 2.0 / 61) << rrf1;
  json normalized = documents(search_kt(
      {{"text", sentence}, {"ranking", "hybrid"}, {"fusion", "normalized"}, {"text_weight", 1}}));
  ASSERT_FALSE(normalized.empty());
  EXPECT_EQ(normalized[0]["id"], kB);
  EXPECT_EQ(normalized[0]["score"], 1.0) << normalized;
  // Filters apply to both sides.
  json filtered = documents(search_kt({{"text", sentence},
                                       {"ranking", "hybrid"},
                                       {"filter", "doc[\"id\"] == {id}"},
                                       {"filter_params", {{"id", kA}}}}));
  ASSERT_EQ(filtered.size(), 1u) << filtered;
  EXPECT_EQ(filtered[0]["id"], kA);
  EXPECT_FALSE(filtered[0].contains("text_score")) << "BM25 finds no word of B in A";

  // Refusals: 400 naming the key or the conflict.
  struct Case {
    std::string collection;
    json body;
    std::string fragment;
  };
  const std::vector<Case> cases = {
      {"kt",
       {{"text", "x"}, {"ranking", "bm25"}},
       "\"ranking\" must be auto, vector, text or hybrid, got \"bm25\""},
      {"kt", {{"text", "x"}, {"ranking", 1}}, "ranking"},
      {"kt",
       {{"text", "x"}, {"ranking", "hybrid"}, {"fusion", "max"}},
       "\"fusion\" must be rrf, weighted or normalized"},
      {"kt", {{"text", "x"}, {"ranking", "hybrid"}, {"rrf_k", 0}}, "rrf_k"},
      {"kt",
       {{"text", "x"}, {"ranking", "hybrid"}, {"fusion", "normalized"}, {"text_weight", 1.5}},
       "text_weight"},
      {"kt", {{"text", "x"}, {"ranking", "hybrid"}, {"text_weight", "x"}}, "text_weight"},
      {"kt",
       {{"vector", json::array({1, 2})}, {"ranking", "text"}, {"keywords", "x"}},
       "ranking \"text\" uses no \"vector\""},
      {"kt", {{"ranking", "text"}}, "keywords or a query text"},
      {"kt", {{"ranking", "hybrid"}, {"keywords", "x"}}, "exactly one of \"text\" and \"vector\""},
      {"kt", {{"text", "x"}, {"ranking", "vector"}, {"keywords", "x"}}, "keywords"},
      {"kt", {{"text", "x"}, {"ranking", "text"}, {"pooled", true}}, "pooled"},
      {"kt", {{"text", "x"}, {"ranking", "hybrid"}, {"min_score", 0.1}}, "min_score"},
      {"kb", {{"text", "x"}, {"ranking", "text"}}, "text index"},
      {"kb", {{"text", "x"}, {"ranking", "hybrid"}}, "text index"},
      {"kb", {{"text", "x"}, {"keywords", "x"}}, "keywords"},
  };
  for (const Case& c : cases) {
    r = Post(std::string(kApi) + "/" + c.collection + "/long_documents/search", c.body);
    EXPECT_EQ(r.status, 400) << c.body << " -> " << r.body;
    const std::string message = r.Json()["error"].value("message", "");
    EXPECT_NE(message.find(c.fragment), std::string::npos) << c.body << " -> " << r.body;
  }
}

// POST collections/{name}/reembed: the collection switches to the new
// encoder while document searches keep answering; DELETE aborts a pending
// copy (none here); refusals name the problem.
TEST_F(NativeDocumentsTest, ReembedWhileSearching) {
  PutBoth();
  const std::string sentence = SentenceAfter(text_b_, 40);
  std::atomic<bool> done{false};
  std::atomic<int> answered{0};
  std::thread searcher([&] {
    while (!done) {
      Reply r = SearchDocs({{"text", sentence}, {"k", 1}});
      ASSERT_EQ(r.status, 200) << r.body;
      ASSERT_EQ(r.Json()["documents"][0]["id"], kB) << r.body;
      ++answered;
    }
  });
  Reply r = Post(Path("reembed"), {{"encoder", "hash"}, {"dim", 128}, {"chunk_tokens", 64}});
  done = true;
  searcher.join();
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.Json()["documents"], 2) << r.body;
  EXPECT_EQ(r.Json()["records"], 0) << r.body;
  const json info = Describe();
  EXPECT_EQ(info["dim"], 128) << info;
  EXPECT_EQ(info["encoder_spec"], r.Json()["encoder"]) << info;
  Reply after = SearchDocs({{"text", sentence}, {"k", 1}});
  ASSERT_EQ(after.status, 200) << after.body;
  EXPECT_EQ(after.Json()["documents"][0]["id"], kB);
  EXPECT_GT(answered.load(), 0);

  EXPECT_EQ(Call("DELETE", Path("reembed")).status, 404);
  EXPECT_EQ(Post(Path("reembed"), json::object()).status, 400);
  EXPECT_EQ(Post(Path("reembed"), {{"encoder", "hash"}, {"colour", 1}}).status, 400);
  EXPECT_EQ(Post(Path("reembed"), {{"encoder", "nope"}}).status, 400);
  EXPECT_EQ(Post(std::string(kApi) + "/nope/reembed", {{"encoder", "hash"}}).status, 404);
  EXPECT_EQ(Describe()["dim"], 128);
}

TEST_F(NativeDocumentsTest, BodyLimitAndConcurrentPuts) {
  // A body over --max-body-bytes (1 MiB here) is refused whole.
  const std::string big(options.max_body_bytes + 1000, 'a');
  Reply r = Put({{"documents", {Doc("big", big)}}});
  EXPECT_EQ(r.status, 413) << r.body.substr(0, 200);
  EXPECT_EQ(GetDoc("big").status, 404);
  EXPECT_EQ(Describe()["documents"], 0);

  // Writers from several threads share the collection's lock.
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 3; ++i) {
        const std::string id = "t" + std::to_string(t) + "-" + std::to_string(i);
        Reply put = Put({{"documents", {Doc(id, LongText(10 * t + i, {"ba", "co", "du"}, 3))}}});
        if (put.status != 200 || put.Json()["documents"][0]["outcome"] != "added") ++failures;
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(Describe()["documents"], 12);
  r = SearchDocs({{"text", "bacodu"}, {"k", 20}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::set<std::string> ids;
  const json docs = r.Json()["documents"];
  for (const json& d : docs) ids.insert(d["id"].get<std::string>());
  EXPECT_EQ(ids.size(), 12u) << r.body;
}

}  // namespace
}  // namespace flashembed::server::testing
