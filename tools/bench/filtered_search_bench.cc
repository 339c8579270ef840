// Filtered search through the public API, at metadata-filter pass rates from
// 0.1 % to 100 % (clustered random vectors, a metadata key hashed from the id), against unfiltered
// search on the same collection in the same run: single-thread QPS, recall@k against the exact
// filtered oracle (brute force over the generated vectors), and the plan the database chose.
//
//   filtered_search_bench [--n 100000] [--dim 128] [--queries 300] [--k 10]
//                         [--ef 64]
//
// Prints one JSON line: per pass rate {pass_rate, strategy, qps, recall,
// qps_vs_unfiltered}. Targets: recall >= 0.95 at every pass rate;
// QPS at 1 % >= 0.5x unfiltered.
#include <stdlib.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "query/database.h"
#include "tools/bench/bench_util.h"

namespace {

using flashembed::bench::Clock;
using flashembed::bench::SecondsSince;

struct Args {
  size_t n = 100000;
  int dim = 128;
  size_t queries = 300;
  size_t k = 10;
  size_t ef = 64;
};

constexpr char kBench[] = "filtered_search_bench";

Args Parse(int argc, char** argv) {
  Args a;
  auto set = [&a](std::string_view flag, double v) {
    if (flag == "--n")
      a.n = static_cast<size_t>(v);
    else if (flag == "--dim")
      a.dim = static_cast<int>(v);
    else if (flag == "--queries")
      a.queries = static_cast<decltype(a.queries)>(v);
    else if (flag == "--k")
      a.k = static_cast<decltype(a.k)>(v);
    else if (flag == "--ef")
      a.ef = static_cast<decltype(a.ef)>(v);
    else
      return false;
    return true;
  };
  flashembed::bench::ParseNumberFlags(argc, argv, kBench, /*allow_zero=*/false, set);
  return a;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace flashembed;
  const Args args = Parse(argc, argv);
  std::mt19937 rng(42);
  std::normal_distribution<float> normal(0.0f, 1.0f);
  // Clustered data (as embeddings are): 1000 random centres, each point a
  // centre plus noise; queries drawn the same way.
  const size_t centres = 1000;
  std::vector<float> centre(centres * args.dim);
  for (float& x : centre) x = normal(rng);
  std::vector<float> data(args.n * args.dim), queries(args.queries * args.dim);
  auto draw = [&](float* v) {
    const size_t c = rng() % centres;
    for (int j = 0; j < args.dim; ++j) v[j] = centre[c * args.dim + j] + 0.5f * normal(rng);
  };
  for (size_t i = 0; i < args.n; ++i) draw(&data[i * args.dim]);
  for (size_t i = 0; i < args.queries; ++i) draw(&queries[i * args.dim]);
  // Unit vectors, so cosine = dot for the oracle.
  auto normalize = [&](float* v) {
    double s = 0;
    for (int i = 0; i < args.dim; ++i) s += v[i] * v[i];
    const float inv = static_cast<float>(1.0 / std::sqrt(s));
    for (int i = 0; i < args.dim; ++i) v[i] *= inv;
  };
  for (size_t i = 0; i < args.n; ++i) normalize(&data[i * args.dim]);
  for (size_t i = 0; i < args.queries; ++i) normalize(&queries[i * args.dim]);

  const std::string path = std::filesystem::temp_directory_path() /
                           ("flashembed-filtered-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(path);
  auto db = Database::Open({.snapshot_every_ops = 0, .exact_search_below = 0}, path);
  if (!db.ok()) flashembed::bench::Fail(kBench, db.status().ToString());
  auto c = (*db)->CreateCollection("bench", {.dim = args.dim, .encoder = ""});
  if (!c.ok()) flashembed::bench::Fail(kBench, c.status().ToString());
  // bucket = a hash of the id in 0..99999, so "bucket < X" passes X / 100000
  // of the documents with no relation to their vectors.
  std::vector<uint32_t> bucket(args.n);
  const auto load_start = Clock::now();
  std::vector<Document> batch;
  for (size_t i = 0; i < args.n; ++i) {
    uint64_t h = (i + 1) * 0x9E3779B97F4A7C15ULL;
    h ^= h >> 29;
    bucket[i] = static_cast<uint32_t>(h % 100000);
    batch.push_back({.id = static_cast<int64_t>(i),
                     .metadata = "{\"bucket\": " + std::to_string(bucket[i]) + "}",
                     .vector = std::vector<float>(&data[i * args.dim], &data[(i + 1) * args.dim])});
    if (batch.size() == 2000 || i + 1 == args.n) {
      Status s = (*c)->Add({.sync = false}, batch);
      if (!s.ok()) flashembed::bench::Fail(kBench, s.ToString());
      batch.clear();
    }
  }
  const double load_s = SecondsSince(load_start);

  auto oracle = [&](const float* q, uint32_t below) {
    std::vector<std::pair<float, int64_t>> all;
    for (size_t i = 0; i < args.n; ++i) {
      if (bucket[i] >= below) continue;
      float dot = 0;
      for (int j = 0; j < args.dim; ++j) dot += q[j] * data[i * args.dim + j];
      all.emplace_back(-dot, static_cast<int64_t>(i));
    }
    const size_t m = std::min(args.k, all.size());
    std::partial_sort(all.begin(), all.begin() + m, all.end());
    std::set<int64_t> out;
    for (size_t i = 0; i < m; ++i) out.insert(all[i].second);
    return out;
  };

  struct Run {
    double qps = 0, recall = 0;
    std::string strategy;
    uint64_t matches = 0;
  };
  auto run = [&](const std::string& filter, uint32_t below) {
    Run r;
    std::vector<std::vector<Hit>> results(args.queries);
    SearchStats stats;
    // One warm-up query (the first filtered search loads the metadata).
    SearchOptions options{.k = args.k,
                          .ef_search = args.ef,
                          .with_text = false,
                          .with_metadata = false,
                          .filter = filter,
                          .stats = &stats};
    auto warm = (*c)->Search(
        options, Query::Vector(std::vector<float>(queries.begin(), queries.begin() + args.dim)));
    if (!warm.ok()) flashembed::bench::Fail(kBench, warm.status().ToString());
    const auto start = Clock::now();
    for (size_t qi = 0; qi < args.queries; ++qi) {
      auto hits =
          (*c)->Search(options, Query::Vector(std::vector<float>(&queries[qi * args.dim],
                                                                 &queries[(qi + 1) * args.dim])));
      if (!hits.ok()) flashembed::bench::Fail(kBench, hits.status().ToString());
      results[qi] = std::move(*hits);
    }
    r.qps = args.queries / SecondsSince(start);
    r.strategy = stats.strategy;
    r.matches = stats.filter_matches;
    size_t found = 0, wanted = 0;
    for (size_t qi = 0; qi < args.queries; ++qi) {
      const auto truth = oracle(&queries[qi * args.dim], below);
      for (const Hit& h : results[qi]) found += truth.count(h.id.as_int());
      wanted += truth.size();
    }
    r.recall = wanted == 0 ? 1.0 : static_cast<double>(found) / wanted;
    return r;
  };

  const Run unfiltered = run("", 100000);
  nlohmann::ordered_json out = {{"bench", "filtered_search"},
                                {"n", args.n},
                                {"dim", args.dim},
                                {"queries", args.queries},
                                {"k", args.k},
                                {"ef", args.ef},
                                {"load_s", load_s},
                                {"unfiltered",
                                 {{"strategy", unfiltered.strategy},
                                  {"qps", unfiltered.qps},
                                  {"recall", unfiltered.recall}}}};
  nlohmann::ordered_json rates = nlohmann::ordered_json::array();
  for (uint32_t below : {100u, 1000u, 10000u, 50000u, 100000u}) {
    const Run r = run("bucket < " + std::to_string(below), below);
    rates.push_back({{"pass_rate", below / 100000.0},
                     {"matches", r.matches},
                     {"strategy", r.strategy},
                     {"qps", r.qps},
                     {"recall", r.recall},
                     {"qps_vs_unfiltered", r.qps / unfiltered.qps}});
  }
  out["filtered"] = rates;
  flashembed::bench::PrintJsonLine(out.dump());
  db->reset();
  std::filesystem::remove_all(path);
  return 0;
}
