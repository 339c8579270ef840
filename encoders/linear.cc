#include "encoders/linear.h"

#include <fmt/format.h>
#include <oneapi/dnnl/dnnl.hpp>

#include <omp.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

namespace flashembed::encoders {
namespace {

using dnnl::memory;
using Tag = memory::format_tag;
constexpr auto kF32 = memory::data_type::f32;

const dnnl::engine& CpuEngine() {
  static const dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

dnnl::primitive_attr Attr(LinearAct act) {
  dnnl::post_ops ops;
  switch (act) {
    case LinearAct::kNone: break;
    case LinearAct::kGelu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_erf, 0.0f, 0.0f);
      break;
    case LinearAct::kGeluTanh:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_gelu_tanh, 0.0f, 0.0f);
      break;
    case LinearAct::kRelu:
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
      break;
    case LinearAct::kQuickGelu:  // swish with alpha: x * sigmoid(alpha x)
      ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_swish, 1.702f, 0.0f);
      break;
  }
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  // Scratch memory comes from the caller, so concurrent Apply calls on the
  // same (cached) primitive never share it.
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  return attr;
}

// The matmul of `rows` rows against weights laid out as `weights`.
dnnl::matmul::primitive_desc Describe(int rows, int n, int k, const memory::desc& weights,
                                      const dnnl::primitive_attr& attr) {
  const memory::desc src({rows, k}, kF32, Tag::ab);
  const memory::desc bias({1, n}, kF32, Tag::ab);
  const memory::desc dst({rows, n}, kF32, Tag::ab);
  return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, weights, bias, dst), attr,
                                      CpuEngine());
}

// e^x for x <= 0 (softmax after subtracting the row maximum), relative error
// below 2e-7, written so the compiler vectorises it: x = n ln2 + r with
// |r| about ln2/2, e^r by its degree-7 Taylor polynomial, 2^n by exponent bits.
inline float ExpNonPositive(float x) {
  x = x < -87.0f ? -87.0f : x;
  // n = round(x / ln2): adding and removing 1.5 * 2^23 rounds to an integer
  // (a floor() call would keep the loop from vectorising).
  const float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  const float r = (x - n * 0.693359375f) + n * 2.12194440e-4f;  // ln2 split in two parts
  float p = 1.0f / 5040;
  p = p * r + 1.0f / 720;
  p = p * r + 1.0f / 120;
  p = p * r + 1.0f / 24;
  p = p * r + 1.0f / 6;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  return p * std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
}

// Each row of n floats becomes its softmax. With `causal` the rows come in
// groups of n (one group per head) and row i of a group keeps columns 0..i
// only; the others become 0, as the softmax of a -inf mask makes them.
void SoftmaxRows(float* rows, int count, int n, bool causal) {
#pragma omp parallel for schedule(static) if (!omp_in_parallel() && int64_t{count} * n >= 1 << 16)
  for (int r = 0; r < count; ++r) {
    float* p = rows + static_cast<size_t>(r) * n;
    const int cols = causal ? r % n + 1 : n;
    std::fill(p + cols, p + n, 0.0f);
    float top = p[0];
#pragma omp simd reduction(max : top)
    for (int c = 0; c < cols; ++c) top = p[c] > top ? p[c] : top;
#pragma omp simd
    for (int c = 0; c < cols; ++c) p[c] = ExpNonPositive(p[c] - top);
    float sum = 0.0f;
#pragma omp simd reduction(+ : sum)
    for (int c = 0; c < cols; ++c) sum += p[c];
    const float inv = 1.0f / sum;
#pragma omp simd
    for (int c = 0; c < cols; ++c) p[c] *= inv;
  }
}

}  // namespace

struct Linear::Impl {
  dnnl::primitive_attr attr;
  memory::desc weights_desc;  // the packed layout oneDNN asked for
  memory weights, bias;
  std::string kernel;
};

Linear::Linear(int n, int k, std::unique_ptr<Impl> impl) : n_(n), k_(k), impl_(std::move(impl)) {}
Linear::~Linear() = default;

Result<std::unique_ptr<Linear>> Linear::Create(std::span<const float> w, std::span<const float> b,
                                               int n, int k, LinearAct act) {
  if (n <= 0 || k <= 0 || w.size() != static_cast<size_t>(n) * k ||
      b.size() != static_cast<size_t>(n)) {
    return Status::InvalidArgument(
        fmt::format("linear layer {}x{} given {} weights and {} biases", n, k, w.size(), b.size()));
  }
  try {
    auto impl = std::make_unique<Impl>();
    impl->attr = Attr(act);
    // W^T is [k x n]; torch's [n x k] row-major is that matrix in layout "ba".
    const memory::desc plain({k, n}, kF32, Tag::ba);
    // Let oneDNN pick the packed layout its fastest kernel wants, for a
    // typical batch; the same layout serves every row count (checked below).
    const memory::desc any({k, n}, kF32, Tag::any);
    impl->weights_desc = Describe(256, n, k, any, impl->attr).weights_desc();
    try {
      Describe(1, n, k, impl->weights_desc, impl->attr);
    } catch (const dnnl::error&) {
      impl->weights_desc = plain;  // a kernel that cannot take the packed layout for every size
    }
    impl->weights = memory(impl->weights_desc, CpuEngine());
    memory source(plain, CpuEngine(), const_cast<float*>(w.data()));
    dnnl::stream stream(CpuEngine());
    dnnl::reorder(source, impl->weights).execute(stream, source, impl->weights);
    stream.wait();
    impl->bias = memory(memory::desc({1, n}, kF32, Tag::ab), CpuEngine());
    std::memcpy(impl->bias.get_data_handle(), b.data(), b.size() * sizeof(float));
    impl->kernel = Describe(256, n, k, impl->weights_desc, impl->attr).impl_info_str();
    return std::unique_ptr<Linear>(new Linear(n, k, std::move(impl)));
  } catch (const dnnl::error& e) {
    return Status::Internal(fmt::format("oneDNN refused a {}x{} linear layer: {}", n, k, e.what()));
  }
}

Status Linear::Apply(const float* x, int rows, float* y) const {
  if (rows <= 0) return Status::OK();
  try {
    // oneDNN's primitive cache makes this cheap after the first call with a
    // given row count (a lookup, no code generation).
    const auto pd = Describe(rows, n_, k_, impl_->weights_desc, impl_->attr);
    thread_local std::vector<char> scratch;
    const size_t need = pd.scratchpad_desc().get_size();
    if (scratch.size() < need) scratch.resize(need);
    const dnnl::engine& engine = CpuEngine();
    memory src(pd.src_desc(), engine, const_cast<float*>(x));
    memory dst(pd.dst_desc(), engine, y);
    memory pad(pd.scratchpad_desc(), engine, scratch.data());
    dnnl::stream stream(engine);
    dnnl::matmul(pd).execute(stream, {{DNNL_ARG_SRC, src},
                                      {DNNL_ARG_WEIGHTS, impl_->weights},
                                      {DNNL_ARG_BIAS, impl_->bias},
                                      {DNNL_ARG_DST, dst},
                                      {DNNL_ARG_SCRATCHPAD, pad}});
    stream.wait();
    return Status::OK();
  } catch (const dnnl::error& e) {
    return Status::Internal(fmt::format("oneDNN matmul of {} rows: {}", rows, e.what()));
  }
}

Status SelfAttention(const float* qkv, int len, int hidden, int heads, float scale, float* ctx,
                     float* scores, bool causal) {
  if (len <= 0) return Status::OK();
  const memory::dim l = len, h = hidden, nh = heads, d = hidden / heads;
  try {
    const dnnl::engine& engine = CpuEngine();
    // Per head (the batch dimension): Q [len x d] and V [len x d] are
    // strided views into qkv, K^T [d x len] a transposed view, so nothing is
    // copied; scores are dense [heads x len x len].
    const memory::desc q_desc({nh, l, d}, kF32, {d, 3 * h, 1});
    const memory::desc kt_desc({nh, d, l}, kF32, {d, 1, 3 * h});
    const memory::desc v_desc({nh, l, d}, kF32, {d, 3 * h, 1});
    const memory::desc s_desc({nh, l, l}, kF32, {l * l, l, 1});
    const memory::desc ctx_desc({nh, l, d}, kF32, {d, h, 1});
    dnnl::primitive_attr scaled;
    scaled.set_output_scales(0, {scale});
    const dnnl::matmul::primitive_desc qk(dnnl::matmul::desc(q_desc, kt_desc, s_desc), scaled,
                                          engine);
    const dnnl::matmul::primitive_desc pv(dnnl::matmul::desc(s_desc, v_desc, ctx_desc), engine);
    float* base = const_cast<float*>(qkv);
    memory q(q_desc, engine, base), k(kt_desc, engine, base + h), v(v_desc, engine, base + 2 * h);
    memory s(s_desc, engine, scores), c(ctx_desc, engine, ctx);
    dnnl::stream stream(engine);
    dnnl::matmul(qk).execute(stream, {{DNNL_ARG_SRC, q}, {DNNL_ARG_WEIGHTS, k}, {DNNL_ARG_DST, s}});
    stream.wait();
    SoftmaxRows(scores, heads * len, len, causal);
    dnnl::matmul(pv).execute(stream, {{DNNL_ARG_SRC, s}, {DNNL_ARG_WEIGHTS, v}, {DNNL_ARG_DST, c}});
    stream.wait();
    return Status::OK();
  } catch (const dnnl::error& e) {
    return Status::Internal(fmt::format("oneDNN attention over {} tokens: {}", len, e.what()));
  }
}

void LayerNormRows(const float* x, const float* residual, int rows, int h, const float* gamma,
                   const float* beta, double eps, float* y) {
#pragma omp parallel for schedule(static) if (int64_t{rows} * h >= 1 << 16)
  for (int r = 0; r < rows; ++r) {
    const float* in = x + static_cast<size_t>(r) * h;
    float* row = y + static_cast<size_t>(r) * h;
    if (residual != nullptr) {
      const float* res = residual + static_cast<size_t>(r) * h;
#pragma omp simd
      for (int i = 0; i < h; ++i) row[i] = in[i] + res[i];
    } else if (row != in) {
      std::copy(in, in + h, row);
    }
    float sum = 0;
#pragma omp simd reduction(+ : sum)
    for (int i = 0; i < h; ++i) sum += row[i];
    const float mean = sum / h;
    float var = 0;
#pragma omp simd reduction(+ : var)
    for (int i = 0; i < h; ++i) var += (row[i] - mean) * (row[i] - mean);
    const float inv = static_cast<float>(1.0 / std::sqrt(static_cast<double>(var) / h + eps));
#pragma omp simd
    for (int i = 0; i < h; ++i) row[i] = (row[i] - mean) * inv * gamma[i] + beta[i];
  }
}

std::string Linear::LibraryInfo() {
  const dnnl_version_t* v = dnnl_version();
  std::string info = fmt::format("oneDNN {}.{}.{}", v->major, v->minor, v->patch);
  try {
    const memory::desc any({384, 384}, kF32, Tag::any);
    info += " (" +
            std::string(Describe(256, 384, 384, any, Attr(LinearAct::kNone)).impl_info_str()) + ")";
  } catch (const dnnl::error&) {
  }
  return info;
}

}  // namespace flashembed::encoders
