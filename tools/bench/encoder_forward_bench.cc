// Times BertModel::Forward alone (no tokenizer, no process start) on token ids
// given in a file, so tools/bench/encoder_bench.py can compare it with
// PyTorch and ONNX Runtime on exactly the same inputs. Also measures the
// GEMM peak of the matrix library on this machine, to report the achieved
// GFLOP/s as a fraction of it.
//
//   encoder_forward_bench --model DIR --ids FILE [--batch 32] [--repeat 3]
//                         [--out FILE] [--gemm-peak]
//
// FILE holds one JSON object per line with an "ids" array. Sequences are run
// in file order, --batch at a time. --out writes the embeddings as raw
// little-endian float32, one row per sequence. Prints one JSON line.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encoders/bert_model.h"
#include "encoders/linear.h"
#include "encoders/model_folder.h"
#include "tools/bench/bench_util.h"

namespace fe = flashembed::encoders;
namespace bench = flashembed::bench;

namespace {

// FLOPs of one forward pass over sequences of the given lengths: the linear
// layers (2 * params * tokens) plus attention (QK^T and PV: 4 * len^2 * h).
double ForwardFlops(const fe::BertConfig& c, const std::vector<std::vector<int32_t>>& seqs) {
  const double h = c.hidden_size, inter = c.intermediate_size;
  const double per_token = 2.0 * (4 * h * h + 2 * h * inter);
  double flops = 0;
  for (const auto& s : seqs) {
    const double len = static_cast<double>(s.size());
    flops += c.num_hidden_layers * (per_token * len + 4.0 * len * len * h);
  }
  return flops;
}

// Best GFLOP/s of a 4096 x 1536 x 384 product (the feed-forward shape of a
// MiniLM-sized model) through the same packed oneDNN path the model uses.
double GemmPeak() {
  const int rows = 4096, n = 1536, k = 384;
  std::vector<float> w(static_cast<size_t>(n) * k, 0.01f), b(n, 0.0f);
  std::vector<float> x(static_cast<size_t>(rows) * k, 0.5f), y(static_cast<size_t>(rows) * n);
  auto linear = fe::Linear::Create(w, b, n, k, fe::LinearAct::kNone);
  if (!linear.ok()) return 0;
  double best = 0;
  for (int r = 0; r < 10; ++r) {
    const auto t = bench::Clock::now();
    if (!linear.value()->Apply(x.data(), rows, y.data()).ok()) return 0;
    best = std::max(best, 2.0 * rows * n * k / bench::SecondsSince(t) / 1e9);
  }
  return best;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, ids_path, out_path;
  int batch = 32, repeat = 3;
  bool gemm_peak = false;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        std::cerr << "encoder_forward_bench: " << a << " needs a value\n";
        std::exit(2);
      }
      return argv[++i];
    };
    if (a == "--model")
      model_dir = next();
    else if (a == "--ids")
      ids_path = next();
    else if (a == "--out")
      out_path = next();
    else if (a == "--batch")
      batch = std::stoi(next());
    else if (a == "--repeat")
      repeat = std::stoi(next());
    else if (a == "--gemm-peak")
      gemm_peak = true;
    else {
      std::cerr << "encoder_forward_bench: unknown argument " << a << "\n";
      return 2;
    }
  }
  if (model_dir.empty() || ids_path.empty() || batch < 1 || repeat < 1) {
    std::cerr << "usage: encoder_forward_bench --model DIR --ids FILE [--batch N] [--repeat N] "
                 "[--out FILE] [--gemm-peak]\n";
    return 2;
  }
  auto folder = fe::ModelFolder::Read(model_dir);
  if (!folder.ok()) {
    std::cerr << "encoder_forward_bench: " << folder.status().ToString() << "\n";
    return 1;
  }
  auto model = fe::BertModel::Load(folder.value());
  if (!model.ok()) {
    std::cerr << "encoder_forward_bench: " << model.status().ToString() << "\n";
    return 1;
  }
  std::vector<std::vector<int32_t>> seqs;
  std::ifstream in(ids_path);
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    seqs.push_back(nlohmann::json::parse(line).at("ids").get<std::vector<int32_t>>());
  }
  size_t tokens = 0;
  for (const auto& s : seqs) tokens += s.size();
  const int dim = model.value()->dim();
  std::vector<float> out(seqs.size() * dim);
  auto run_all = [&]() {
    for (size_t b = 0; b < seqs.size(); b += batch) {
      const size_t n = std::min(seqs.size() - b, static_cast<size_t>(batch));
      auto st = model.value()->Forward(std::span(seqs).subspan(b, n),
                                       std::span(out).subspan(b * dim, n * dim));
      if (!st.ok()) {
        std::cerr << "encoder_forward_bench: " << st.ToString() << "\n";
        std::exit(1);
      }
    }
  };
  run_all();  // warm-up: first-touch of buffers, library initialisation
  std::vector<double> passes;
  for (int r = 0; r < repeat; ++r) {
    const auto t = bench::Clock::now();
    run_all();
    passes.push_back(bench::SecondsSince(t));
  }
  std::sort(passes.begin(), passes.end());
  const double best = passes.front();
  const double median = passes[passes.size() / 2];
  if (!out_path.empty()) {
    std::FILE* f = std::fopen(out_path.c_str(), "wb");
    if (f == nullptr || std::fwrite(out.data(), 4, out.size(), f) != out.size()) {
      std::cerr << "encoder_forward_bench: cannot write " << out_path << "\n";
      return 1;
    }
    std::fclose(f);
  }
  const double gflops = ForwardFlops(folder.value().config, seqs) / best / 1e9;
  nlohmann::json j = {{"sequences", seqs.size()},
                      {"tokens", tokens},
                      {"best_s", best},
                      {"median_s", median},
                      {"tokens_per_s", tokens / best},
                      {"gflops", gflops},
                      {"gemm_library", fe::Linear::LibraryInfo()}};
  if (gemm_peak) {
    const double peak = GemmPeak();
    j["gemm_peak_gflops"] = peak;
    j["fraction_of_gemm_peak"] = gflops / peak;
  }
  bench::PrintJsonLine(j.dump());
  return 0;
}
