// BM25 full-text search through the public API (Collection::Search with
// Ranking::kText) on a synthetic corpus: documents of words drawn from a
// Zipf distribution (as natural text is), queries of a few words drawn the
// same way. Single thread, ids and scores only.
//
//   uncached: Options::text_cache_bytes = 0, every search reads its terms'
//             posting lists from RocksDB (what every search did before the
//             posting cache);
//   first:    the first pass over the queries with the cache, starting
//             empty (a term's first query reads it, later ones do not);
//   warm:     the second pass, every list in memory.
// All three must give identical hits (same ids, bit-identical scores).
//
//   text_search_bench [--n 40000] [--vocabulary 30000] [--words 200]
//                     [--queries 2000] [--query-words 5] [--k 10]
//                     [--cache-mb 256]
//
// Prints one JSON line with searches/s per pass, warm / uncached, and the
// cache's bytes after the runs (CollectionInfo::text_cache_bytes).
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "query/database.h"
#include "tools/bench/bench_util.h"

namespace {

using flashembed::bench::Clock;
using flashembed::bench::SecondsSince;

struct Args {
  size_t n = 40000;
  size_t vocabulary = 30000;
  size_t words = 200;  // mean words per document (uniform in [words/4, 7 words/4])
  size_t queries = 2000;
  size_t query_words = 5;
  size_t k = 10;
  double cache_mb = 256;
};

constexpr char kBench[] = "text_search_bench";

Args Parse(int argc, char** argv) {
  Args a;
  auto set = [&a](std::string_view flag, double v) {
    auto count = [v] { return static_cast<size_t>(v); };
    if (flag == "--n")
      a.n = count();
    else if (flag == "--vocabulary")
      a.vocabulary = count();
    else if (flag == "--words")
      a.words = count();
    else if (flag == "--queries")
      a.queries = count();
    else if (flag == "--query-words")
      a.query_words = count();
    else if (flag == "--k")
      a.k = count();
    else if (flag == "--cache-mb")
      a.cache_mb = v;
    else
      return false;
    return true;
  };
  flashembed::bench::ParseNumberFlags(argc, argv, kBench, /*allow_zero=*/false, set);
  if (a.n == 0 || a.vocabulary == 0 || a.words < 4 || a.queries == 0 || a.query_words == 0 ||
      a.k == 0 || a.k > 16384) {
    flashembed::bench::Fail(kBench,
                            "--n, --vocabulary, --queries, --query-words >= 1, --words >= 4, "
                            "--k in 1..16384",
                            2);
  }
  return a;
}

// Word ranks 0..vocabulary-1 with P(rank r) proportional to 1 / (r + 1).
class Zipf {
 public:
  explicit Zipf(size_t vocabulary) : cumulative_(vocabulary) {
    double sum = 0;
    for (size_t r = 0; r < vocabulary; ++r)
      cumulative_[r] = sum += 1.0 / static_cast<double>(r + 1);
    for (double& c : cumulative_) c /= sum;
  }
  size_t operator()(std::mt19937_64& rng) const {
    const double u = std::uniform_real_distribution<double>(0, 1)(rng);
    const auto it = std::lower_bound(cumulative_.begin(), cumulative_.end(), u);
    return std::min<size_t>(static_cast<size_t>(it - cumulative_.begin()), cumulative_.size() - 1);
  }

 private:
  std::vector<double> cumulative_;
};

std::string Word(size_t rank) {
  std::string word = "w";  // (not "w" + ...: GCC 12's -Wrestrict false positive at -O3)
  word += std::to_string(rank);
  return word;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace flashembed;
  const Args args = Parse(argc, argv);
  std::mt19937_64 rng(7);
  const Zipf zipf(args.vocabulary);

  const std::string path = std::filesystem::temp_directory_path() /
                           ("flashembed-text-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(path);
  auto open = [&](size_t cache_bytes) {
    auto db = Database::Open({.text_cache_bytes = cache_bytes, .snapshot_every_ops = 0}, path);
    if (!db.ok()) flashembed::bench::Fail(kBench, db.status().ToString());
    return std::move(db).value();
  };

  // Load: records with a constant 4-d vector (the bench measures BM25 only).
  const auto load_start = Clock::now();
  uint64_t total_words = 0;
  {
    auto db = open(0);
    auto c = db->CreateCollection("bench", {.dim = 4, .encoder = "", .text_index = true});
    if (!c.ok()) flashembed::bench::Fail(kBench, c.status().ToString());
    std::uniform_int_distribution<size_t> length(args.words / 4, args.words * 7 / 4);
    std::vector<Document> batch;
    for (size_t i = 0; i < args.n; ++i) {
      std::string text;
      for (size_t w = 0, m = length(rng); w < m; ++w) text += Word(zipf(rng)) + " ";
      total_words += std::count(text.begin(), text.end(), ' ');
      batch.push_back({.id = static_cast<int64_t>(i),
                       .text = std::move(text),
                       .metadata = "{}",
                       .vector = {1, 0, 0, 0}});
      if (batch.size() == 1000 || i + 1 == args.n) {
        Status s = (*c)->Add({.sync = false}, batch);
        if (!s.ok()) flashembed::bench::Fail(kBench, s.ToString());
        batch.clear();
      }
    }
  }
  const double load_s = SecondsSince(load_start);
  std::vector<std::string> queries(args.queries);
  for (std::string& q : queries) {
    for (size_t w = 0; w < args.query_words; ++w) q += Word(zipf(rng)) + " ";
  }

  using Results = std::vector<std::vector<Hit>>;
  const SearchOptions options{
      .k = args.k, .with_text = false, .with_metadata = false, .ranking = Ranking::kText};
  // One pass over the queries: searches/s.
  auto pass = [&](Collection& c, Results* results) {
    results->assign(queries.size(), {});
    const auto start = Clock::now();
    for (size_t i = 0; i < queries.size(); ++i) {
      auto hits = c.Search(options, Query::Text(queries[i]));
      if (!hits.ok()) flashembed::bench::Fail(kBench, hits.status().ToString());
      (*results)[i] = std::move(hits).value();
    }
    return static_cast<double>(queries.size()) / SecondsSince(start);
  };
  auto same = [](const Results& a, const Results& b) {
    if (a.size() != b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
      if (a[i].size() != b[i].size()) return false;
      for (size_t j = 0; j < a[i].size(); ++j) {
        if (a[i][j].id != b[i][j].id || a[i][j].score != b[i][j].score) return false;
      }
    }
    return true;
  };

  Results uncached, first, warm;
  double uncached_qps = 0;
  {
    auto db = open(0);
    auto c = db->GetCollection("bench");
    if (!c.ok()) flashembed::bench::Fail(kBench, c.status().ToString());
    uncached_qps = pass(**c, &uncached);
  }
  const size_t cache_bytes = static_cast<size_t>(args.cache_mb * (1 << 20));
  auto db = open(cache_bytes);
  auto c = db->GetCollection("bench");
  if (!c.ok()) flashembed::bench::Fail(kBench, c.status().ToString());
  const double first_qps = pass(**c, &first);
  const double warm_qps = pass(**c, &warm);
  auto info = (*c)->Describe();
  if (!info.ok()) flashembed::bench::Fail(kBench, info.status().ToString());

  nlohmann::ordered_json out = {
      {"bench", "text_search"},
      {"n", args.n},
      {"vocabulary", args.vocabulary},
      {"mean_words", static_cast<double>(total_words) / static_cast<double>(args.n)},
      {"queries", args.queries},
      {"query_words", args.query_words},
      {"k", args.k},
      {"load_s", load_s},
      {"uncached_qps", uncached_qps},
      {"first_qps", first_qps},
      {"warm_qps", warm_qps},
      {"warm_vs_uncached", warm_qps / uncached_qps},
      {"identical", same(uncached, first) && same(uncached, warm)},
      {"cache_limit_bytes", cache_bytes},
      {"cache_bytes", info->text_cache_bytes},
      {"max_rss_mb", flashembed::bench::MaxRssMb()},
      {"threads", 1}};
  flashembed::bench::AddRunInfo(out);
  flashembed::bench::PrintJsonLine(out.dump());
  c->reset();
  db.reset();
  std::filesystem::remove_all(path);
  return 0;
}
