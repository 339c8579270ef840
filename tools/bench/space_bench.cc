// Disk space given back (issue: "space is given back"), on --n records of
// --dim random clustered float vectors in a vector-only HNSW collection:
//
//   delete:  the folder after Database::Compact() with every record stored
//            (the baseline), then after deleting 90 % of them: once settled
//            without asking (background compactions and the index rebuilt at
//            the next snapshot), then after Compact(). Ratios to the baseline.
//   upsert:  the folder after one pass of upserts of all records and a
//            Compact() that writes its index snapshot (the baseline), then
//            after each further pass of upserts of the same
//            ids; the largest ratio seen at the end of a pass, and the ratio
//            once settled after the last.
//
// Prints one JSON line. Usage:
//   space_bench [--n 100000] [--dim 384] [--passes 3] [--batch 1000]
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <filesystem>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "query/database.h"
#include "tools/bench/bench_util.h"

namespace {

using flashembed::bench::Clock;
using flashembed::bench::SecondsSince;

constexpr char kBench[] = "space_bench";

struct Args {
  size_t n = 100000;
  int dim = 384;
  size_t passes = 3;
  size_t batch = 1000;
};

template <typename T>
T OrDie(flashembed::Result<T> r, std::string_view what) {
  if (!r.ok()) flashembed::bench::Fail(kBench, std::string(what) + ": " + r.status().ToString());
  return std::move(r).value();
}
void OrDie(const flashembed::Status& s, std::string_view what) {
  if (!s.ok()) flashembed::bench::Fail(kBench, std::string(what) + ": " + s.ToString());
}

// Clustered vectors: 64 centres, each record near one.
class Vectors {
 public:
  explicit Vectors(int dim) : dim_(dim), rng_(42) {
    std::normal_distribution<float> g;
    for (int c = 0; c < 64; ++c) {
      std::vector<float> v(dim);
      for (float& x : v) x = g(rng_);
      centres_.push_back(std::move(v));
    }
  }
  std::vector<float> Next() {
    std::normal_distribution<float> g(0, 0.3f);
    const auto& c = centres_[rng_() % centres_.size()];
    std::vector<float> v(dim_);
    for (int i = 0; i < dim_; ++i) v[i] = c[i] + g(rng_);
    return v;
  }

 private:
  int dim_;
  std::mt19937 rng_;
  std::vector<std::vector<float>> centres_;
};

void UpsertAll(flashembed::Collection& c, Vectors& vectors, const Args& a) {
  for (size_t first = 0; first < a.n; first += a.batch) {
    std::vector<flashembed::Document> docs;
    for (size_t i = first; i < std::min(a.n, first + a.batch); ++i) {
      docs.push_back({.id = flashembed::Id(static_cast<int64_t>(i)),
                      .text = "",
                      .metadata = "{\"i\":" + std::to_string(i) + "}",
                      .vector = vectors.Next()});
    }
    OrDie(c.Upsert({}, docs), "upsert");
  }
}

// The folder's size once it stopped changing for 3 s (background work done),
// waiting at most 5 minutes.
uint64_t Settled(flashembed::Database& db) {
  uint64_t last = OrDie(db.DiskBytes(), "size");
  auto stable_since = Clock::now();
  const auto start = Clock::now();
  while (SecondsSince(stable_since) < 3 && SecondsSince(start) < 300) {
    std::this_thread::sleep_for(std::chrono::milliseconds(250));
    const uint64_t now = OrDie(db.DiskBytes(), "size");
    if (now != last) {
      last = now;
      stable_since = Clock::now();
    }
  }
  return last;
}

flashembed::CollectionSchema Schema(int dim) {
  flashembed::CollectionSchema schema;
  schema.dim = dim;
  schema.encoder = "";
  return schema;
}

}  // namespace

int main(int argc, char** argv) {
  Args a;
  flashembed::bench::ParseNumberFlags(argc, argv, kBench, false, [&](std::string_view f, double v) {
    if (f == "--n")
      a.n = static_cast<size_t>(v);
    else if (f == "--dim")
      a.dim = static_cast<int>(v);
    else if (f == "--passes")
      a.passes = static_cast<size_t>(v);
    else if (f == "--batch")
      a.batch = static_cast<size_t>(v);
    else
      return false;
    return true;
  });
  const std::string root = std::filesystem::temp_directory_path() /
                           ("flashembed-space-bench-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  nlohmann::ordered_json out;
  out["bench"] = kBench;
  out["n"] = a.n;
  out["dim"] = a.dim;
  Vectors vectors(a.dim);

  {  // delete 90 %
    auto db = OrDie(flashembed::Database::Open({}, root + "/delete"), "open");
    auto c = OrDie(db->CreateCollection("c", Schema(a.dim)), "create");
    auto start = Clock::now();
    UpsertAll(*c, vectors, a);
    out["insert_s"] = SecondsSince(start);
    OrDie(db->Compact(), "compact");
    const uint64_t full = OrDie(db->DiskBytes(), "size");
    start = Clock::now();
    const size_t deleted = OrDie(c->DeleteWhere({}, "i % 10 != 0", ""), "delete");
    out["delete_s"] = SecondsSince(start);
    const uint64_t background = Settled(*db);
    start = Clock::now();
    OrDie(db->Compact(), "compact");
    out["compact_s"] = SecondsSince(start);
    const uint64_t compacted = OrDie(db->DiskBytes(), "size");
    out["deleted"] = deleted;
    out["full_bytes"] = full;
    out["after_delete_settled_ratio"] = static_cast<double>(background) / full;
    out["after_delete_compact_ratio"] = static_cast<double>(compacted) / full;
  }
  {  // repeated upserts
    auto db = OrDie(flashembed::Database::Open({}, root + "/upsert"), "open");
    auto c = OrDie(db->CreateCollection("c", Schema(a.dim)), "create");
    auto start = Clock::now();
    UpsertAll(*c, vectors, a);
    // The first pass as it stands once its index snapshot is written.
    OrDie(db->Compact(), "compact");
    const uint64_t first = OrDie(db->DiskBytes(), "size");
    double worst = 1;
    for (size_t pass = 1; pass < a.passes; ++pass) {
      UpsertAll(*c, vectors, a);
      worst = std::max(worst, static_cast<double>(OrDie(db->DiskBytes(), "size")) / first);
    }
    out["upsert_passes"] = a.passes;
    out["upsert_s"] = SecondsSince(start);
    out["first_pass_bytes"] = first;
    out["upsert_worst_pass_ratio"] = worst;
    out["upsert_settled_ratio"] = static_cast<double>(Settled(*db)) / first;
  }
  std::filesystem::remove_all(root);
  out["max_rss_mb"] = flashembed::bench::MaxRssMb();
  flashembed::bench::AddRunInfo(out);
  flashembed::bench::PrintJsonLine(out.dump());
  return 0;
}
