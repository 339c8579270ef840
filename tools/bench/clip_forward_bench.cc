// Times ClipModel::EncodeImages and ClipModel::EncodeText alone (no image
// decoding, no tokenizer, no process start) on inputs given in files, so
// tools/bench/clip_bench.py can compare them with PyTorch and ONNX Runtime on
// exactly the same tensors.
//
//   clip_forward_bench --model DIR [--pixels FILE --count N] [--ids FILE]
//                      [--batch 32] [--repeat 3] [--out FILE] [--gemm-peak]
//
// DIR is a CLIPModel folder (config.json, model.safetensors). --pixels holds
// N preprocessed images as raw little-endian float32 pixel_values, N x
// num_channels x image_size x image_size; --ids one JSON object per line with
// an "ids" array (token ids with <|startoftext|> and <|endoftext|>). At least
// one of the two is needed. Inputs run in file order, --batch at a time (text
// sequences packed without padding). Each tower gets one warm-up pass, then
// --repeat timed passes. --out writes the vectors as raw little-endian
// float32 rows: the images' first, then the texts'. Prints one JSON line.
#include <omp.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "encoders/clip_model.h"
#include "encoders/linear.h"
#include "tools/bench/bench_util.h"

namespace fe = flashembed::encoders;
namespace bench = flashembed::bench;

namespace {

constexpr const char* kBench = "clip_forward_bench";

// FLOPs of one encoder layer stack over sequences of the given lengths: the
// linear layers (2 * params * tokens) plus attention (QK^T and PV: 4 * len^2 * h).
double LayerFlops(const fe::ClipTowerConfig& c, const std::vector<int>& lengths) {
  const double h = c.hidden_size, inter = c.intermediate_size;
  const double per_token = 2.0 * (4 * h * h + 2 * h * inter);
  double flops = 0;
  for (int len : lengths) flops += c.num_hidden_layers * (per_token * len + 4.0 * len * len * h);
  return flops;
}

// FLOPs of encoding `count` images: the patch product, the layers and the
// projection.
double ImageFlops(const fe::ClipConfig& c, int count) {
  const double patch_floats = static_cast<double>(c.num_channels) * c.patch_size * c.patch_size;
  const double patches = static_cast<double>(c.patches_per_side()) * c.patches_per_side();
  const double h = c.vision.hidden_size;
  return count * (2.0 * patches * patch_floats * h + 2.0 * h * c.projection_dim) +
         LayerFlops(c.vision, std::vector<int>(count, c.vision_tokens()));
}

double TextFlops(const fe::ClipConfig& c, const std::vector<std::vector<int32_t>>& seqs) {
  std::vector<int> lengths;
  for (const auto& s : seqs) lengths.push_back(static_cast<int>(s.size()));
  return LayerFlops(c.text, lengths) + 2.0 * seqs.size() * c.text.hidden_size * c.projection_dim;
}

// Best GFLOP/s of a 1600 x 3072 x 768 product (the vision tower's fc1 on a
// batch of 32 images) through the same packed oneDNN path the model uses.
double GemmPeak() {
  const int rows = 1600, n = 3072, k = 768;
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

// One warm-up call of `pass`, then `repeat` timed ones; returns the sorted
// pass times in seconds.
template <typename Pass>
std::vector<double> Time(int repeat, Pass pass) {
  pass();
  std::vector<double> passes;
  for (int r = 0; r < repeat; ++r) {
    const auto t = bench::Clock::now();
    pass();
    passes.push_back(bench::SecondsSince(t));
  }
  std::sort(passes.begin(), passes.end());
  return passes;
}

std::vector<float> ReadPixels(const std::string& path, size_t floats) {
  std::vector<float> pixels(floats);
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (f == nullptr) bench::Fail(kBench, "cannot open " + path);
  const size_t got = std::fread(pixels.data(), 4, floats, f);
  std::fclose(f);
  if (got != floats) {
    bench::Fail(kBench, path + " holds " + std::to_string(got) + " floats, " +
                            std::to_string(floats) + " are needed");
  }
  return pixels;
}

std::vector<std::vector<int32_t>> ReadIds(const std::string& path) {
  std::ifstream in(path);
  if (!in) bench::Fail(kBench, "cannot open " + path);
  std::vector<std::vector<int32_t>> seqs;
  for (std::string line; std::getline(in, line);) {
    if (line.empty()) continue;
    const auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    if (j.is_discarded() || !j.contains("ids") || !j["ids"].is_array()) {
      bench::Fail(kBench, path + ": line " + std::to_string(seqs.size() + 1) +
                              " is not an object with an \"ids\" array");
    }
    seqs.push_back(j["ids"].get<std::vector<int32_t>>());
  }
  if (seqs.empty()) bench::Fail(kBench, path + ": no sequences");
  return seqs;
}

void Check(const flashembed::Status& st) {
  if (!st.ok()) bench::Fail(kBench, st.ToString());
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, pixels_path, ids_path, out_path;
  int count = 0, batch = 32, repeat = 3;
  bool gemm_peak = false;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) bench::Fail(kBench, a + " needs a value", 2);
      return argv[++i];
    };
    auto number = [&]() {
      const std::string s = next();
      size_t used = 0;
      int v = 0;
      try {
        v = std::stoi(s, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != s.size() || v < 1) bench::Fail(kBench, a + " needs a positive integer", 2);
      return v;
    };
    if (a == "--model") {
      model_dir = next();
    } else if (a == "--pixels") {
      pixels_path = next();
    } else if (a == "--count") {
      count = number();
    } else if (a == "--ids") {
      ids_path = next();
    } else if (a == "--out") {
      out_path = next();
    } else if (a == "--batch") {
      batch = number();
    } else if (a == "--repeat") {
      repeat = number();
    } else if (a == "--gemm-peak") {
      gemm_peak = true;
    } else {
      bench::Fail(kBench, "unknown argument " + a, 2);
    }
  }
  if (model_dir.empty() || (pixels_path.empty() && ids_path.empty()) ||
      pixels_path.empty() != (count == 0)) {
    bench::Fail(kBench,
                "usage: clip_forward_bench --model DIR [--pixels FILE --count N] [--ids FILE] "
                "[--batch N] [--repeat N] [--out FILE] [--gemm-peak]",
                2);
  }

  const auto load_start = bench::Clock::now();
  auto config = fe::ClipConfig::FromFile(model_dir + "/config.json");
  Check(config.status());
  auto loaded = fe::ClipModel::Load(config.value(), model_dir + "/model.safetensors");
  Check(loaded.status());
  const double load_s = bench::SecondsSince(load_start);
  const fe::ClipModel& model = *loaded.value();
  const fe::ClipConfig& c = model.config();
  const int dim = model.dim();

  nlohmann::ordered_json j;
  j["bench"] = "clip_forward";
  j["threads"] = omp_get_max_threads();
  std::vector<float> vectors;
  if (!pixels_path.empty()) {
    const size_t image_floats =
        static_cast<size_t>(c.num_channels) * c.image_size * static_cast<size_t>(c.image_size);
    const std::vector<float> pixels = ReadPixels(pixels_path, image_floats * count);
    std::vector<float> out(static_cast<size_t>(count) * dim);
    const auto passes = Time(repeat, [&] {
      for (int b = 0; b < count; b += batch) {
        const int n = std::min(count - b, batch);
        Check(model.EncodeImages(
            std::span(pixels).subspan(b * image_floats, n * image_floats), n,
            std::span(out).subspan(static_cast<size_t>(b) * dim, static_cast<size_t>(n) * dim)));
      }
    });
    vectors.insert(vectors.end(), out.begin(), out.end());
    j["images"] = {{"count", count},
                   {"batch", batch},
                   {"best_s", passes.front()},
                   {"median_s", passes[passes.size() / 2]},
                   {"images_per_s", count / passes.front()},
                   {"gflops", ImageFlops(c, count) / passes.front() / 1e9}};
  }
  if (!ids_path.empty()) {
    const auto seqs = ReadIds(ids_path);
    size_t tokens = 0;
    for (const auto& s : seqs) tokens += s.size();
    std::vector<float> out(seqs.size() * dim);
    const auto passes = Time(repeat, [&] {
      for (size_t b = 0; b < seqs.size(); b += batch) {
        const size_t n = std::min(seqs.size() - b, static_cast<size_t>(batch));
        Check(model.EncodeText(std::span(seqs).subspan(b, n),
                               std::span(out).subspan(b * dim, n * dim)));
      }
    });
    vectors.insert(vectors.end(), out.begin(), out.end());
    j["text"] = {{"sequences", seqs.size()},
                 {"tokens", tokens},
                 {"batch", batch},
                 {"best_s", passes.front()},
                 {"median_s", passes[passes.size() / 2]},
                 {"sequences_per_s", seqs.size() / passes.front()},
                 {"tokens_per_s", tokens / passes.front()},
                 {"gflops", TextFlops(c, seqs) / passes.front() / 1e9}};
  }
  if (!out_path.empty()) {
    std::FILE* f = std::fopen(out_path.c_str(), "wb");
    if (f == nullptr || std::fwrite(vectors.data(), 4, vectors.size(), f) != vectors.size()) {
      bench::Fail(kBench, "cannot write " + out_path);
    }
    std::fclose(f);
  }
  j["repeat"] = repeat;
  j["load_s"] = load_s;
  j["gemm_library"] = fe::Linear::LibraryInfo();
  if (gemm_peak) j["gemm_peak_gflops"] = GemmPeak();
  j["max_rss_mb"] = bench::MaxRssMb();
  bench::AddRunInfo(j);
  bench::PrintJsonLine(j.dump());
  return 0;
}
