// IVF indexes (index/ivf_index.h) against raw FAISS 1.7.3 with identical
// parameters, and against our HNSW and flat indexes, on the same clustered
// vectors in the same run. One thread; single-query searches.
//
//   per IVF kind (flat, sq8, pq): QPS and recall@10 of IvfIndex::Search vs
//     faiss::IndexIVF::search (same nlist, nprobe, k-means settings and
//     training vectors: the first train_at), ratio ours / raw (target >= 0.9);
//     build time (ours: one Add per vector, training included; raw: train +
//     one batch add).
//   hnsw: our HnswIndex at the smallest ef_search (from a ladder) whose recall
//     reaches IVF-Flat's, with its QPS; flat: exact scan QPS (recall 1).
//
// Prints one JSON line. Usage:
//   ivf_bench [--n 100000] [--dim 128] [--queries 1000] [--nlist 256]
//             [--nprobe 16] [--clusters 2000]
#include <faiss/IndexFlat.h>
#include <faiss/IndexIVFFlat.h>
#include <faiss/IndexIVFPQ.h>
#include <faiss/IndexScalarQuantizer.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "index/flat_index.h"
#include "index/hnsw_index.h"
#include "index/ivf_index.h"
#include "tools/bench/bench_util.h"

namespace {

using namespace flashembed::index;
using flashembed::bench::Clock;
using flashembed::bench::SecondsSince;
using idx_t = faiss::Index::idx_t;

struct Args {
  size_t n = 100000;
  int dim = 128;
  size_t queries = 1000;
  int nlist = 256;
  int nprobe = 16;
  int clusters = 2000;
};

constexpr char kBench[] = "ivf_bench";

Args Parse(int argc, char** argv) {
  Args a;
  auto set = [&a](std::string_view flag, double v) {
    if (flag == "--n")
      a.n = static_cast<size_t>(v);
    else if (flag == "--dim")
      a.dim = static_cast<int>(v);
    else if (flag == "--queries")
      a.queries = static_cast<size_t>(v);
    else if (flag == "--nlist")
      a.nlist = static_cast<int>(v);
    else if (flag == "--nprobe")
      a.nprobe = static_cast<int>(v);
    else if (flag == "--clusters")
      a.clusters = static_cast<int>(v);
    else
      return false;
    return true;
  };
  flashembed::bench::ParseNumberFlags(argc, argv, kBench, /*allow_zero=*/false, set);
  return a;
}

// Unit vectors around `clusters` centres with a decaying spectrum (as in
// tests/index/ivf_index_test.cc); the metric is cosine.
std::vector<float> ClusteredUnitVectors(size_t n, int dim, int clusters, uint32_t seed) {
  std::mt19937 rng(seed), centre_rng(12345);
  std::normal_distribution<float> normal;
  std::vector<float> scale(dim);
  for (int j = 0; j < dim; ++j) scale[j] = 1.0f / std::sqrt(1.0f + j / 4.0f);
  std::vector<float> centres(static_cast<size_t>(clusters) * dim);
  for (size_t i = 0; i < centres.size(); ++i)
    centres[i] = 2.0f * scale[i % dim] * normal(centre_rng);
  std::uniform_int_distribution<int> pick(0, clusters - 1);
  std::vector<float> out(n * dim);
  for (size_t i = 0; i < n; ++i) {
    const int c = pick(rng);
    double norm = 0;
    for (int j = 0; j < dim; ++j) {
      float& x = out[i * dim + j];
      x = centres[c * dim + j] + scale[j] * normal(rng);
      norm += static_cast<double>(x) * x;
    }
    for (int j = 0; j < dim; ++j) out[i * dim + j] /= static_cast<float>(std::sqrt(norm));
  }
  return out;
}

using Answers = std::vector<std::vector<uint64_t>>;

Answers GroundTruth(const std::vector<float>& data, const std::vector<float>& queries, int dim,
                    size_t k) {
  const size_t n = data.size() / dim, nq = queries.size() / dim;
  Answers truth(nq);
  std::vector<std::pair<float, uint64_t>> scored(n);
  for (size_t q = 0; q < nq; ++q) {
    for (size_t i = 0; i < n; ++i) {
      double dot = 0;
      for (int j = 0; j < dim; ++j) dot += data[i * dim + j] * queries[q * dim + j];
      scored[i] = {static_cast<float>(-dot), i};
    }
    std::partial_sort(scored.begin(), scored.begin() + k, scored.end());
    for (size_t i = 0; i < k; ++i) truth[q].push_back(scored[i].second);
  }
  return truth;
}

double Recall(const Answers& truth, const Answers& got) {
  size_t hit = 0, wanted = 0;
  for (size_t q = 0; q < got.size(); ++q) {
    std::set<uint64_t> t(truth[q].begin(), truth[q].end());
    for (uint64_t s : got[q]) hit += t.count(s);
    wanted += truth[q].size();
  }
  return static_cast<double>(hit) / wanted;
}

// Seconds for all queries through `search`, best of `rounds`; fills `got`.
template <typename Fn>
double TimeSearches(size_t nq, Fn&& search, Answers* got) {
  got->assign(nq, {});
  auto start = Clock::now();
  for (size_t q = 0; q < nq; ++q) search(q, &(*got)[q]);
  return SecondsSince(start);
}

std::unique_ptr<faiss::IndexIVF> RawIvf(IvfKind kind, int dim, int nlist, const IvfOptions& o) {
  auto* quantizer = new faiss::IndexFlat(dim, faiss::METRIC_INNER_PRODUCT);
  std::unique_ptr<faiss::IndexIVF> ivf;
  switch (kind) {
    case IvfKind::kFlat:
      ivf =
          std::make_unique<faiss::IndexIVFFlat>(quantizer, dim, nlist, faiss::METRIC_INNER_PRODUCT);
      break;
    case IvfKind::kSq8:
      ivf = std::make_unique<faiss::IndexIVFScalarQuantizer>(quantizer, dim, nlist,
                                                             faiss::ScalarQuantizer::QT_8bit,
                                                             faiss::METRIC_INNER_PRODUCT, true);
      break;
    case IvfKind::kPq: {
      auto pq = std::make_unique<faiss::IndexIVFPQ>(quantizer, dim, nlist, o.ResolvedPqM(),
                                                    o.pq_nbits, faiss::METRIC_INNER_PRODUCT);
      pq->pq.cp.min_points_per_centroid = 1;
      ivf = std::move(pq);
      break;
    }
  }
  ivf->own_fields = true;
  // The settings IvfIndex uses for cosine.
  ivf->cp.min_points_per_centroid = 1;
  ivf->cp.spherical = true;
  return ivf;
}

}  // namespace

int main(int argc, char** argv) {
  const Args a = Parse(argc, argv);
  const size_t k = 10;
  const int dim = a.dim;
  const auto data = ClusteredUnitVectors(a.n, dim, a.clusters, 1);
  const auto queries = ClusteredUnitVectors(a.queries, dim, a.clusters, 2);
  const Answers truth = GroundTruth(data, queries, dim, k);
  auto query = [&](size_t q) { return std::span<const float>(queries).subspan(q * dim, dim); };
  auto collect = [](const std::vector<Neighbor>& hits, std::vector<uint64_t>* out) {
    for (const Neighbor& h : hits) out->push_back(h.slot);
  };

  nlohmann::json out = {{"bench", "ivf"},
                        {"n", a.n},
                        {"dim", dim},
                        {"queries", a.queries},
                        {"k", k},
                        {"metric", "cosine"},
                        {"nlist", a.nlist},
                        {"nprobe", a.nprobe},
                        {"clusters", a.clusters}};
  double ivf_flat_recall = 0;
  for (IvfKind kind : {IvfKind::kFlat, IvfKind::kSq8, IvfKind::kPq}) {
    IvfOptions o{
        .dim = dim, .metric = Metric::kCosine, .kind = kind, .nlist = a.nlist, .nprobe = a.nprobe};
    const size_t train_at = static_cast<size_t>(o.ResolvedTrainAt());
    if (train_at > a.n)
      flashembed::bench::Fail(kBench, "--n is below train_at " + std::to_string(train_at));

    auto t0 = Clock::now();
    auto ours = NewIvfIndex(o);
    if (!ours.ok()) flashembed::bench::Fail(kBench, ours.status().ToString());
    for (size_t i = 0; i < a.n; ++i) {
      flashembed::Status s = (*ours)->Add(i, std::span<const float>(data).subspan(i * dim, dim));
      if (!s.ok()) flashembed::bench::Fail(kBench, s.ToString());
    }
    const double our_build_s = SecondsSince(t0);

    t0 = Clock::now();
    auto raw = RawIvf(kind, dim, a.nlist, o);
    raw->train(static_cast<idx_t>(train_at), data.data());
    std::vector<idx_t> ids(a.n);
    for (size_t i = 0; i < a.n; ++i) ids[i] = static_cast<idx_t>(i);
    raw->add_with_ids(static_cast<idx_t>(a.n), data.data(), ids.data());
    const double raw_build_s = SecondsSince(t0);

    faiss::SearchParametersIVF params;
    params.nprobe = static_cast<size_t>(a.nprobe);
    auto raw_search = [&](size_t q, std::vector<uint64_t>* got) {
      float distances[k];
      idx_t labels[k];
      raw->search(1, queries.data() + q * dim, k, distances, labels, &params);
      for (idx_t l : labels) {
        if (l >= 0) got->push_back(static_cast<uint64_t>(l));
      }
    };
    auto our_search = [&](size_t q, std::vector<uint64_t>* got) {
      auto hits = (*ours)->Search(query(q), k, 0);
      if (!hits.ok()) flashembed::bench::Fail(kBench, hits.status().ToString());
      collect(*hits, got);
    };
    // Alternate the sides and keep each one's best round (shared machine).
    Answers raw_got, our_got;
    double raw_s = 1e30, our_s = 1e30;
    for (int round = 0; round < 3; ++round) {
      raw_s = std::min(raw_s, TimeSearches(a.queries, raw_search, &raw_got));
      our_s = std::min(our_s, TimeSearches(a.queries, our_search, &our_got));
    }
    const double our_recall = Recall(truth, our_got), raw_recall = Recall(truth, raw_got);
    if (kind == IvfKind::kFlat) ivf_flat_recall = our_recall;
    out[IvfKindName(kind)] = {{"our_qps", a.queries / our_s}, {"raw_qps", a.queries / raw_s},
                              {"qps_ratio", raw_s / our_s},   {"our_recall", our_recall},
                              {"raw_recall", raw_recall},     {"our_build_s", our_build_s},
                              {"raw_build_s", raw_build_s},   {"train_at", train_at},
                              {"code_bytes", raw->code_size}};
  }

  // Our HNSW at the smallest ef whose recall reaches IVF-Flat's.
  {
    HnswOptions o{.dim = dim, .metric = Metric::kCosine, .m = 16, .ef_construction = 200};
    auto t0 = Clock::now();
    auto hnsw = NewHnswIndex(o);
    if (!hnsw.ok()) flashembed::bench::Fail(kBench, hnsw.status().ToString());
    for (size_t i = 0; i < a.n; ++i) {
      flashembed::Status s = (*hnsw)->Add(i, std::span<const float>(data).subspan(i * dim, dim));
      if (!s.ok()) flashembed::bench::Fail(kBench, s.ToString());
    }
    const double build_s = SecondsSince(t0);
    Answers got;
    size_t ef = 0;
    double seconds = 0, recall = 0;
    for (size_t candidate : {10, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512}) {
      ef = candidate;
      auto search = [&](size_t q, std::vector<uint64_t>* hits) {
        collect(*(*hnsw)->Search(query(q), k, ef), hits);
      };
      seconds = TimeSearches(a.queries, search, &got);
      seconds = std::min(seconds, TimeSearches(a.queries, search, &got));
      recall = Recall(truth, got);
      if (recall >= ivf_flat_recall) break;
    }
    out["hnsw"] = {{"ef_search", ef},  {"qps", a.queries / seconds},
                   {"recall", recall}, {"build_s", build_s},
                   {"m", 16},          {"ef_construction", 200}};
  }
  // Exact scan (FlatIndex).
  {
    auto flat = NewFlatIndex({.dim = dim, .metric = Metric::kCosine});
    if (!flat.ok()) flashembed::bench::Fail(kBench, flat.status().ToString());
    for (size_t i = 0; i < a.n; ++i) {
      flashembed::Status s = (*flat)->Add(i, std::span<const float>(data).subspan(i * dim, dim));
      if (!s.ok()) flashembed::bench::Fail(kBench, s.ToString());
    }
    Answers got;
    const size_t nq = std::min<size_t>(a.queries, 200);
    auto search = [&](size_t q, std::vector<uint64_t>* hits) {
      collect(*(*flat)->Search(query(q), k, 0), hits);
    };
    const double seconds = TimeSearches(nq, search, &got);
    got.resize(nq);
    Answers head(truth.begin(), truth.begin() + nq);
    out["flat"] = {{"qps", nq / seconds}, {"recall", Recall(head, got)}};
  }
  flashembed::bench::AddRunInfo(out);
  out["search_threads"] = 1;  // training (both sides) uses every core
  flashembed::bench::PrintJsonLine(out.dump());
  return 0;
}
