// Full-text (BM25) and hybrid search: the analysis, BM25 scores against a
// from-scratch oracle over the same documents, postings kept in step with
// adds, upserts, deletes, drop and reopen, filters, fusion, and errors; the
// posting cache (Options::text_cache_bytes) against searches without it,
// under concurrent writes, and within its budget.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <map>
#include <random>
#include <set>
#include <string>
#include <thread>

#include "query/database.h"
#include "query/text_index.h"
#include "tests/testing/test_util.h"

namespace flashembed {
namespace {

using query::AnalyzeText;
using testing::TempDir;

TEST(AnalyzeText, WordsCaseAndWidth) {
  EXPECT_EQ(AnalyzeText("The Quick-brown fox's 42 jumps!"),
            (std::vector<std::string>{"the", "quick", "brown", "fox", "s", "42", "jumps"}));
  // NFKC folds full-width letters; case folding handles non-ASCII; accents stay.
  EXPECT_EQ(AnalyzeText("ＦＵＬＬ Straße CAFÉ"),
            (std::vector<std::string>{"full", "strasse", "café"}));
  EXPECT_EQ(AnalyzeText("  \t\n..."), std::vector<std::string>{});
  // Invalid UTF-8 bytes separate words instead of failing.
  EXPECT_EQ(AnalyzeText("ab\xff"
                        "cd"),
            (std::vector<std::string>{"ab", "cd"}));
  // Terms longer than kMaxTermBytes are dropped.
  EXPECT_EQ(AnalyzeText(std::string(query::kMaxTermBytes + 1, 'a') + " ok"),
            (std::vector<std::string>{"ok"}));
}

TEST(AnalyzeText, CjkBecomesBigrams) {
  EXPECT_EQ(AnalyzeText("北京大学"), (std::vector<std::string>{"北京", "京大", "大学"}));
  EXPECT_EQ(AnalyzeText("iPhone手机，好"), (std::vector<std::string>{"iphone", "手机", "好"}));
  EXPECT_EQ(AnalyzeText("カタカナ"), (std::vector<std::string>{"カタ", "タカ", "カナ"}));
  EXPECT_EQ(AnalyzeText("한국어 텍스트"),
            (std::vector<std::string>{"한국", "국어", "텍스", "스트"}));
}

// BM25 computed from scratch (Lucene idf, k1 1.2, b 0.75).
std::map<int64_t, double> OracleBm25(const std::map<int64_t, std::string>& docs,
                                     const std::string& query) {
  std::map<int64_t, std::vector<std::string>> terms;
  double total = 0;
  for (const auto& [id, text] : docs) {
    terms[id] = AnalyzeText(text);
    total += static_cast<double>(terms[id].size());
  }
  const double n = static_cast<double>(docs.size());
  const double avg = std::max(1.0, total / n);
  std::map<int64_t, double> scores;
  for (const std::string& q : AnalyzeText(query)) {
    double df = 0;
    for (const auto& [id, t] : terms) df += std::count(t.begin(), t.end(), q) > 0;
    if (df == 0) continue;
    const double idf = std::log(1 + (n - df + 0.5) / (df + 0.5));
    for (const auto& [id, t] : terms) {
      const double tf = static_cast<double>(std::count(t.begin(), t.end(), q));
      if (tf == 0) continue;
      const double len = static_cast<double>(t.size());
      scores[id] += idf * tf * 2.2 / (tf + 1.2 * (1 - 0.75 + 0.75 * len / avg));
    }
  }
  return scores;
}

struct TextFixture {
  TempDir dir;
  std::unique_ptr<Database> db;
  std::shared_ptr<Collection> c;
  std::map<int64_t, std::string> texts;  // what is stored, by id

  void Open() {
    auto db_or = Database::Open({}, dir.Sub("db"));
    ASSERT_TRUE(db_or.ok()) << db_or.status();
    db = std::move(db_or).value();
    Create();
  }
  void Create() {
    CollectionSchema schema;
    schema.text_index = true;
    auto c_or = db->GetOrCreateCollection("t", schema);
    ASSERT_TRUE(c_or.ok()) << c_or.status();
    c = *c_or;
  }
  void Reopen() {
    c.reset();
    ASSERT_OK(db->Close());
    db.reset();
    Open();
  }
  // Random texts over a small vocabulary, so terms repeat across documents.
  void AddRandom(int first, int count, uint32_t seed) {
    static const char* kWords[] = {"river",  "mountain", "quantum", "bread", "engine",
                                   "garden", "photon",   "valley",  "yeast", "piston",
                                   "the",    "a",        "of",      "北京",  "大学"};
    std::mt19937 rng(seed);
    std::vector<Document> docs;
    for (int i = first; i < first + count; ++i) {
      std::string text;
      const int words = 3 + static_cast<int>(rng() % 20);
      for (int w = 0; w < words; ++w) text += std::string(kWords[rng() % 15]) + " ";
      texts[i] = text;
      docs.push_back({.id = i, .text = text, .metadata = "{\"n\":" + std::to_string(i) + "}"});
    }
    ASSERT_OK(c->Upsert({}, docs));
  }
  void ExpectMatchesOracle(const std::string& q, size_t k = 10, const std::string& filter = "") {
    std::map<int64_t, std::string> visible;
    for (const auto& [id, text] : texts) visible[id] = text;
    std::map<int64_t, double> oracle = OracleBm25(visible, q);
    SearchOptions o{.k = k, .filter = filter, .ranking = Ranking::kText};
    auto hits = c->Search(o, Query::Text(q));
    ASSERT_TRUE(hits.ok()) << hits.status();
    std::vector<std::pair<double, int64_t>> want;
    for (const auto& [id, score] : oracle) {
      if (filter.empty() || id % 2 == 0) want.emplace_back(score, id);
    }
    std::sort(want.begin(), want.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first > b.first : a.second < b.second;
    });
    ASSERT_EQ(hits->size(), std::min(k, want.size())) << q;
    for (size_t i = 0; i < hits->size(); ++i) {
      const Hit& h = (*hits)[i];
      ASSERT_TRUE(h.text_score.has_value());
      EXPECT_FALSE(h.vector_score.has_value());
      EXPECT_NEAR(h.score, oracle.at(h.id.as_int()), 1e-4) << q << " id " << h.id;
      EXPECT_NEAR(h.score, want[i].first, 1e-4) << q << " rank " << i;
      EXPECT_EQ(h.text, texts.at(h.id.as_int()));
    }
  }
};

TEST(TextSearch, Bm25MatchesOracleThroughWritesAndReopen) {
  TextFixture f;
  f.Open();
  f.AddRandom(0, 300, 1);
  for (const char* q :
       {"river", "quantum photon", "the bread of the valley", "北京大学", "piston"}) {
    f.ExpectMatchesOracle(q);
  }
  // Upserts replace a document's postings, deletes remove them.
  f.AddRandom(100, 50, 2);
  std::vector<Id> gone;
  for (int i = 200; i < 260; ++i) {
    gone.push_back(i);
    f.texts.erase(i);
  }
  ASSERT_OK_AND_ASSIGN(size_t removed, f.c->Delete({}, gone));
  EXPECT_EQ(removed, 60u);
  ASSERT_OK_AND_ASSIGN(removed, f.c->DeleteWhere({}, "n >= 290", ""));
  EXPECT_EQ(removed, 10u);
  for (int i = 290; i < 300; ++i) f.texts.erase(i);
  f.ExpectMatchesOracle("river mountain", 20);
  // A failed write (an id already stored) changes no posting.
  EXPECT_EQ(
      f.c->Add({}, std::vector<Document>{{.id = 1000, .text = "zebra"}, {.id = 5, .text = "zebra"}})
          .code(),
      StatusCode::kAlreadyExists);
  ASSERT_OK_AND_ASSIGN(auto none, f.c->Search({.ranking = Ranking::kText}, Query::Text("zebra")));
  EXPECT_TRUE(none.empty());
  f.Reopen();
  f.ExpectMatchesOracle("quantum yeast engine", 15);
  // With a filter: only even ids (the oracle filters the same way).
  f.ExpectMatchesOracle("garden valley", 10, "n % 2 == 0");
}

TEST(TextSearch, DropRemovesPostings) {
  TextFixture f;
  f.Open();
  f.AddRandom(0, 20, 3);
  ASSERT_OK(f.db->DropCollection("t"));
  f.texts.clear();
  f.Create();  // same name, new collection
  ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search({.ranking = Ranking::kText}, Query::Text("river")));
  EXPECT_TRUE(hits.empty());
  ASSERT_OK(f.c->Add({}, std::vector<Document>{{.id = 1, .text = "a river runs"}}));
  f.texts[1] = "a river runs";
  f.ExpectMatchesOracle("river");
}

// Hybrid ranking: reciprocal rank fusion of the vector list and the BM25
// list, each hit carrying both component scores when both sides found it.
TEST(TextSearch, HybridFusesBothLists) {
  TextFixture f;
  f.Open();
  f.AddRandom(0, 200, 4);
  const std::string q = "quantum photon engine";
  SearchOptions vector_only{.k = 100, .mode = SearchMode::kExact, .with_text = false};
  ASSERT_OK_AND_ASSIGN(auto vhits, f.c->Search(vector_only, Query::Text(q)));
  ASSERT_OK_AND_ASSIGN(auto thits,
                       f.c->Search({.k = 100, .ranking = Ranking::kText}, Query::Text(q)));
  std::map<int64_t, double> rrf;
  for (size_t i = 0; i < vhits.size(); ++i) rrf[vhits[i].id.as_int()] += 1.0 / (60 + i + 1);
  for (size_t i = 0; i < thits.size(); ++i) rrf[thits[i].id.as_int()] += 1.0 / (60 + i + 1);
  std::vector<std::pair<double, int64_t>> want;
  for (const auto& [id, s] : rrf) want.emplace_back(s, id);
  std::sort(want.rbegin(), want.rend());
  SearchOptions o{.k = 10, .mode = SearchMode::kExact, .ranking = Ranking::kHybrid};
  SearchStats stats;
  o.stats = &stats;
  ASSERT_OK_AND_ASSIGN(auto hits, f.c->Search(o, Query::Text(q)));
  ASSERT_EQ(hits.size(), 10u);
  EXPECT_EQ(stats.strategy, "hybrid+exact");
  for (size_t i = 0; i < hits.size(); ++i) {
    EXPECT_NEAR(hits[i].score, want[i].first, 1e-6) << i;
    EXPECT_TRUE(hits[i].vector_score.has_value() || hits[i].text_score.has_value());
  }
  // Weighted: text_weight 1 ranks by BM25 alone.
  o.fusion = Fusion::kWeighted;
  o.text_weight = 1;
  ASSERT_OK_AND_ASSIGN(hits, f.c->Search(o, Query::Text(q)));
  for (size_t i = 0; i < hits.size(); ++i) {
    ASSERT_TRUE(hits[i].text_score.has_value());
    EXPECT_NEAR(hits[i].score, 2 / M_PI * std::atan(*hits[i].text_score), 1e-6);
    EXPECT_NEAR(*hits[i].text_score, thits[i].score, 1e-5);
  }
  // Separate keywords, and a vector query with keywords.
  o = SearchOptions{.k = 5, .ranking = Ranking::kHybrid, .keywords = "yeast"};
  ASSERT_OK_AND_ASSIGN(hits, f.c->Search(o, Query::Text("bread")));
  EXPECT_EQ(hits.size(), 5u);
}

TEST(TextSearch, ErrorsNameTheProblem) {
  TextFixture f;
  f.Open();
  f.AddRandom(0, 10, 5);
  auto r = f.c->Search({.ranking = Ranking::kText}, Query::Text("..."));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = f.c->Search({.ranking = Ranking::kText}, Query::Vector({}));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = f.c->Search({.keywords = "river"}, Query::Text("river"));
  EXPECT_NE(r.status().message().find("ranking"), std::string::npos) << r.status();
  r = f.c->Search({.group_by = "n", .ranking = Ranking::kHybrid}, Query::Text("river"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  r = f.c->Search({.ranking = Ranking::kHybrid, .rrf_k = 0}, Query::Text("river"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  // A collection without a text index.
  ASSERT_OK_AND_ASSIGN(auto plain, f.db->CreateCollection("plain", {}));
  ASSERT_OK(plain->Add({}, std::vector<Document>{{.id = 1, .text = "river"}}));
  r = plain->Search({.ranking = Ranking::kText}, Query::Text("river"));
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("text index"), std::string::npos) << r.status();
  // GetOrCreate with a different text_index setting names it.
  auto mismatch = f.db->GetOrCreateCollection("plain", CollectionSchema{.text_index = true});
  EXPECT_NE(mismatch.status().message().find("text_index"), std::string::npos);
}

// ---- the posting cache ------------------------------------------------------

// Two databases given the same writes: `cached` keeps posting lists in
// memory (with `cache_bytes`), `plain` reads them from storage on every
// search. Every search must give the same hits with bit-identical scores.
struct TwinFixture {
  TempDir dir;
  size_t cache_bytes = Options{}.text_cache_bytes;
  CollectionSchema schema{.text_index = true};
  std::unique_ptr<Database> cached_db, plain_db;
  std::shared_ptr<Collection> cached, plain;

  static std::unique_ptr<Database> OpenDb(const std::string& path, size_t cache_bytes) {
    auto db = Database::Open({.text_cache_bytes = cache_bytes}, path);
    EXPECT_TRUE(db.ok()) << db.status();
    return db.ok() ? std::move(db).value() : nullptr;
  }
  std::shared_ptr<Collection> Get(Database& db) const {
    auto c = db.GetOrCreateCollection("t", schema);
    EXPECT_TRUE(c.ok()) << c.status();
    return c.ok() ? *c : nullptr;
  }
  void Open() {
    cached_db = OpenDb(dir.Sub("cached"), cache_bytes);
    plain_db = OpenDb(dir.Sub("plain"), 0);
    ASSERT_TRUE(cached_db && plain_db);
    cached = Get(*cached_db);
    plain = Get(*plain_db);
    ASSERT_TRUE(cached && plain);
  }
  void ReopenCached() {
    cached.reset();
    ASSERT_OK(cached_db->Close());
    cached_db = OpenDb(dir.Sub("cached"), cache_bytes);
    ASSERT_TRUE(cached_db);
    cached = Get(*cached_db);
    ASSERT_TRUE(cached);
  }
  // Applies `write` to both collections; both must agree on the outcome.
  template <typename Write>
  void Both(Write write) {
    const Status a = write(*cached);
    const Status b = write(*plain);
    EXPECT_EQ(a.code(), b.code()) << a << " / " << b;
  }
  void ExpectSame(const std::string& q, size_t k = 50, const std::string& filter = "") {
    const SearchOptions o{.k = k, .filter = filter, .ranking = Ranking::kText};
    auto a = cached->Search(o, Query::Text(q));
    auto b = plain->Search(o, Query::Text(q));
    ASSERT_TRUE(a.ok() && b.ok()) << a.status() << " / " << b.status();
    ASSERT_EQ(a->size(), b->size()) << q;
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].id, (*b)[i].id) << q << " rank " << i;
      EXPECT_EQ((*a)[i].score, (*b)[i].score) << q << " rank " << i;  // bit-identical
      EXPECT_EQ((*a)[i].text, (*b)[i].text) << q << " rank " << i;
    }
  }
  void ExpectSameDocuments(const std::string& q) {
    DocumentSearchOptions o;
    o.search.k = 20;
    o.search.ranking = Ranking::kText;
    o.passages = 3;
    auto a = cached->SearchDocuments(o, Query::Text(q));
    auto b = plain->SearchDocuments(o, Query::Text(q));
    ASSERT_TRUE(a.ok() && b.ok()) << a.status() << " / " << b.status();
    ASSERT_EQ(a->size(), b->size()) << q;
    for (size_t i = 0; i < a->size(); ++i) {
      EXPECT_EQ((*a)[i].id, (*b)[i].id) << q << " rank " << i;
      EXPECT_EQ((*a)[i].score, (*b)[i].score) << q << " rank " << i;
      ASSERT_EQ((*a)[i].passages.size(), (*b)[i].passages.size());
      for (size_t p = 0; p < (*a)[i].passages.size(); ++p) {
        EXPECT_EQ((*a)[i].passages[p].ordinal, (*b)[i].passages[p].ordinal);
        EXPECT_EQ((*a)[i].passages[p].score, (*b)[i].passages[p].score);
      }
    }
  }
};

const char* const kCacheWords[] = {"river",  "mountain", "quantum", "bread", "engine",
                                   "garden", "photon",   "valley",  "yeast", "piston",
                                   "the",    "a",        "of",      "北京",  "大学",
                                   "zebra",  "lantern",  "copper",  "orbit", "moss"};
constexpr size_t kCacheWordCount = std::size(kCacheWords);
const std::vector<std::string> kCacheQueries = {"river",
                                                "quantum photon",
                                                "the bread of the valley",
                                                "北京大学",
                                                "zebra lantern copper",
                                                "orbit moss orbit",
                                                "a",
                                                "engine piston garden yeast mountain"};

std::vector<Document> RandomDocs(std::mt19937& rng, int first, int count, int vocabulary) {
  std::vector<Document> docs;
  for (int i = first; i < first + count; ++i) {
    std::string text;
    const int words = 1 + static_cast<int>(rng() % 25);
    for (int w = 0; w < words; ++w) text += std::string(kCacheWords[rng() % vocabulary]) + " ";
    docs.push_back({.id = i, .text = text, .metadata = "{\"n\":" + std::to_string(i) + "}"});
  }
  return docs;
}

TEST(TextSearchCache, SameResultsAsWithoutThroughWritesReopenAndDrop) {
  TwinFixture f;
  f.Open();
  std::mt19937 rng(11);
  auto search_all = [&] {
    for (const std::string& q : kCacheQueries) f.ExpectSame(q);
    f.ExpectSame("river garden", 10, "n % 3 == 0");
  };
  // Words 15.. ("zebra" ...) appear only once the vocabulary grows: queries
  // for them first cache empty lists.
  auto docs = RandomDocs(rng, 0, 200, 15);
  f.Both([&](Collection& c) { return c.Add({}, docs); });
  search_all();
  search_all();  // from the cache
  for (int round = 0; round < 12; ++round) {
    const int op = round % 4;
    if (op == 0) {  // upserts: new and replaced ids, the whole vocabulary
      docs = RandomDocs(rng, static_cast<int>(rng() % 250), 30, kCacheWordCount);
      f.Both([&](Collection& c) { return c.Upsert({}, docs); });
    } else if (op == 1) {  // deletes by id
      std::vector<Id> ids;
      for (int i = 0; i < 20; ++i) ids.push_back(static_cast<int64_t>(rng() % 300));
      f.Both([&](Collection& c) { return c.Delete({}, ids).status(); });
    } else if (op == 2) {  // deletes by filter
      const int from = static_cast<int>(rng() % 280);
      const std::string filter =
          "n >= " + std::to_string(from) + " and n < " + std::to_string(from + 10);
      f.Both([&](Collection& c) { return c.DeleteWhere({}, filter, "").status(); });
    } else {  // a failed write changes nothing
      docs = RandomDocs(rng, 1000, 2, kCacheWordCount);
      docs.push_back({.id = 1000, .text = "duplicate"});
      f.Both([&](Collection& c) { return c.Add({}, docs); });
    }
    search_all();
    search_all();
  }
  // A fresh cache after reopening.
  f.ReopenCached();
  search_all();
  search_all();
  // Long documents: chunks are records with postings too.
  std::vector<SourceDocument> sources;
  for (int d = 0; d < 6; ++d) {
    std::string text;
    for (int w = 0; w < 400; ++w) text += std::string(kCacheWords[rng() % kCacheWordCount]) + " ";
    sources.push_back({.id = "doc" + std::to_string(d), .text = text});
  }
  f.Both([&](Collection& c) { return c.PutDocuments({}, {.chunk_tokens = 64}, sources).status(); });
  for (const std::string& q : kCacheQueries) f.ExpectSameDocuments(q);
  search_all();
  f.Both([&](Collection& c) {
    return c.DeleteDocuments({}, std::vector<std::string>{"doc1", "doc4"}).status();
  });
  for (const std::string& q : kCacheQueries) f.ExpectSameDocuments(q);
  search_all();
  // Drop and create again under the same name.
  ASSERT_OK(f.cached_db->DropCollection("t"));
  ASSERT_OK(f.plain_db->DropCollection("t"));
  f.cached = f.Get(*f.cached_db);
  f.plain = f.Get(*f.plain_db);
  docs = RandomDocs(rng, 0, 50, kCacheWordCount);
  f.Both([&](Collection& c) { return c.Add({}, docs); });
  search_all();
  search_all();
  ASSERT_OK_AND_ASSIGN(CollectionInfo info, f.cached->Describe());
  EXPECT_GT(info.text_cache_bytes, 0u);
  ASSERT_OK_AND_ASSIGN(info, f.plain->Describe());
  EXPECT_EQ(info.text_cache_bytes, 0u);
}

// Slots far apart (many written since a term's first document): the lists
// are scored without a dense array over their range.
TEST(TextSearchCache, SparseSlots) {
  TwinFixture f;
  f.schema = {.dim = 2, .encoder = "", .text_index = true};  // vectors given: no encoding
  f.Open();
  std::vector<Document> docs = {{.id = 0, .text = "lantern copper", .vector = {1, 0}}};
  for (int i = 1; i <= 5000; ++i) docs.push_back({.id = i, .text = "river", .vector = {1, 0}});
  docs.push_back({.id = 5001, .text = "lantern copper", .vector = {1, 0}});
  docs.push_back({.id = 5002, .text = "lantern lantern moss", .vector = {1, 0}});
  f.Both([&](Collection& c) { return c.Add({.sync = false}, docs); });
  for (int pass = 0; pass < 2; ++pass) {
    f.ExpectSame("lantern");
    f.ExpectSame("lantern copper moss");
  }
  ASSERT_OK_AND_ASSIGN(auto hits,
                       f.cached->Search({.ranking = Ranking::kText}, Query::Text("copper")));
  ASSERT_EQ(hits.size(), 2u);
  EXPECT_EQ(hits[0].id, Id(0));  // a tie goes to the lower slot
  EXPECT_EQ(hits[1].id, Id(5001));
  EXPECT_EQ(hits[0].score, hits[1].score);
}

TEST(TextSearchCache, StaysWithinItsBudget) {
  TwinFixture f;
  f.cache_bytes = 48 << 10;
  f.schema = {.dim = 2, .encoder = "", .text_index = true};
  f.Open();
  // 3000 documents over 2000 words: lists of tens of postings, many terms.
  std::mt19937 rng(5);
  std::vector<Document> docs;
  for (int i = 0; i < 3000; ++i) {
    std::string text;
    for (int w = 0; w < 12; ++w) text += "w" + std::to_string(rng() % 2000) + " ";
    docs.push_back({.id = i, .text = text, .vector = {1, 0}});
  }
  f.Both([&](Collection& c) { return c.Add({.sync = false}, docs); });
  size_t most = 0;
  for (int q = 0; q < 300; ++q) {
    const std::string query = "w" + std::to_string(rng() % 2000) + " w" +
                              std::to_string(rng() % 2000) + " w" + std::to_string(q);
    f.ExpectSame(query, 20);
    ASSERT_OK_AND_ASSIGN(CollectionInfo info, f.cached->Describe());
    EXPECT_LE(info.text_cache_bytes, f.cache_bytes);
    most = std::max<size_t>(most, info.text_cache_bytes);
  }
  EXPECT_GT(most, f.cache_bytes / 2);  // it was used, and evicted to stay within
}

// Searches run while a writer adds, upserts and deletes documents. Every
// document has the same length and holds "common" and "filler" once, so in
// any one state of the collection a search for both words scores every
// document the same, by how many there are; a search mixing the lists or
// statistics of two states would not. (Hits deleted after the BM25 ranking
// are dropped when their documents are read, so a search may return fewer
// than it counted.) A document acknowledged before a search began must be
// found by it.
TEST(TextSearchCache, ConsistentUnderConcurrentWrites) {
  for (size_t cache_bytes : {Options{}.text_cache_bytes, size_t{0}}) {
    SCOPED_TRACE(cache_bytes);
    TempDir dir;
    ASSERT_OK_AND_ASSIGN(auto db, Database::Open({.text_cache_bytes = cache_bytes}, dir.Sub("db")));
    ASSERT_OK_AND_ASSIGN(auto c, db->CreateCollection("t", {.text_index = true}));
    auto text_of = [](int i) { return "common filler tok" + std::to_string(i); };
    constexpr int kWrites = 300;
    std::atomic<int> acknowledged{-1};  // the highest id added so far
    std::atomic<int> writes{0};         // acknowledged writes
    std::atomic<bool> done{false};
    std::atomic<int> mixed{0}, missed{0}, errors{0}, searches{0};
    auto score_of = [](size_t documents) {
      // As query/text_index.cc computes it: both words have df = n, tf 1,
      // and every document the average length 3.
      constexpr float kK1 = 1.2f, kB = 0.75f;
      const double n = static_cast<double>(documents), df = n, avg_length = 3, t = 1;
      const float idf = static_cast<float>(std::log(1 + (n - df + 0.5) / (df + 0.5)));
      const double norm = kK1 * (1 - kB + kB * 3.0 / avg_length);
      const float part = static_cast<float>(t * (kK1 + 1) / (t + norm));
      float score = 0;
      score += idf * part;  // "common"
      score += idf * part;  // "filler"
      return score;
    };
    auto reader = [&] {
      while (!done.load()) {
        const int latest = acknowledged.load();
        const int writes_before = writes.load();
        auto hits = c->Search(
            {.k = 16384, .with_text = false, .with_metadata = false, .ranking = Ranking::kText},
            Query::Text("common filler"));
        if (!hits.ok()) {
          ++errors;
          continue;
        }
        // Every hit scored alike, as one of the counts from the hits found
        // to those plus the documents written away meanwhile.
        const int during = writes.load() - writes_before + 1;
        bool consistent = true;
        if (!hits->empty()) {
          const float score = (*hits)[0].score;
          for (const Hit& h : *hits) consistent = consistent && h.score == score;
          bool counted = false;
          for (int extra = 0; extra <= 2 * during && !counted; ++extra) {
            counted = score == score_of(hits->size() + static_cast<size_t>(extra));
          }
          consistent = consistent && counted;
        }
        if (!consistent) ++mixed;
        if (latest >= 0) {
          auto found =
              c->Search({.ranking = Ranking::kText}, Query::Text("tok" + std::to_string(latest)));
          // Found, unless replaced (upsert, 10 ids later) or deleted since.
          if (!found.ok()) {
            ++errors;
          } else if ((found->size() != 1 || (*found)[0].id != Id(latest)) &&
                     acknowledged.load() < latest + 10) {
            ++missed;
          }
        }
        ++searches;
      }
    };
    std::thread r1(reader), r2(reader);
    int deleted_below = 0;
    for (int i = 0; i < kWrites; ++i) {
      ASSERT_OK(c->Add({.sync = false}, std::vector<Document>{{.id = i, .text = text_of(i)}}));
      acknowledged.store(i);
      ++writes;
      if (i % 3 == 0 && i >= 10) {
        // Replace an older document: a new slot, the same text.
        ASSERT_OK(c->Upsert({.sync = false},
                            std::vector<Document>{{.id = i - 10, .text = text_of(i - 10)}}));
        ++writes;
      }
      if (i % 5 == 0 && i >= 20) {
        std::vector<Id> ids = {deleted_below, deleted_below + 1};
        deleted_below += 2;
        ASSERT_OK(c->Delete({.sync = false}, ids).status());
        ++writes;
      }
    }
    // Let the readers see the final state too.
    const int seen = searches.load();
    while (searches.load() < seen + 4) std::this_thread::yield();
    done.store(true);
    r1.join();
    r2.join();
    EXPECT_EQ(mixed.load(), 0);
    EXPECT_EQ(missed.load(), 0);
    EXPECT_EQ(errors.load(), 0);
    EXPECT_GT(searches.load(), 0);
  }
}

}  // namespace
}  // namespace flashembed
