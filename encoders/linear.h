// The matrix products of a transformer layer on oneDNN's kernels (AVX-512 /
// AVX2 JIT code chosen for the machine at run time):
//   Linear         a dense layer y = act(x W^T + b) with its weights packed
//                  once, so the forward pass never repacks them;
//   SelfAttention  softmax(Q K^T / sqrt(d)) V for every head of one sequence.
//
// oneDNN stays out of this header; only encoders/linear.cc includes it.
//
// Thread-safety: immutable after Create; Apply is const and may run from
// several threads at once (each call brings its own scratch memory). oneDNN
// uses OpenMP threads inside one Apply call.
#ifndef FLASHEMBED_ENCODERS_LINEAR_H_
#define FLASHEMBED_ENCODERS_LINEAR_H_

#include <memory>
#include <span>
#include <string>

#include "base/status.h"

namespace flashembed::encoders {

// Elementwise function fused into the GEMM's output. kQuickGelu is CLIP's
// x * sigmoid(1.702 x).
enum class LinearAct { kNone, kGelu, kGeluTanh, kRelu, kQuickGelu };

class Linear {
 public:
  // w is [n x k] row-major (as torch.nn.Linear stores it), b is [n].
  // InvalidArgument if the spans do not hold n*k and n floats.
  static Result<std::unique_ptr<Linear>> Create(std::span<const float> w, std::span<const float> b,
                                                int n, int k, LinearAct act);
  ~Linear();
  Linear(const Linear&) = delete;
  Linear& operator=(const Linear&) = delete;

  int n() const { return n_; }
  int k() const { return k_; }

  // y[rows x n] = act(x[rows x k] W^T + b), both row-major and dense.
  // Internal if oneDNN refuses the shape (it should not).
  Status Apply(const float* x, int rows, float* y) const;

  // "oneDNN <version> (<kernel>)": what runs the products on this machine.
  static std::string LibraryInfo();

 private:
  struct Impl;
  Linear(int n, int k, std::unique_ptr<Impl> impl);
  int n_, k_;
  std::unique_ptr<Impl> impl_;
};

// Multi-head self-attention over one sequence of len tokens: for each head,
// ctx = softmax(scale * Q K^T) V. Without a mask every token attends to every
// token; with `causal` token i attends to tokens 0..i only (GPT / CLIP text). qkv holds len rows of
// [query | key | value] (3 * hidden floats each, heads of hidden / heads
// floats side by side, as Linear writes them); ctx receives len rows of
// hidden floats. scores is scratch of at least heads * len * len floats.
// Runs on the calling thread alone when called inside an OpenMP parallel
// region, on all threads otherwise.
Status SelfAttention(const float* qkv, int len, int hidden, int heads, float scale, float* ctx,
                     float* scores, bool causal = false);

// y = LayerNorm(x + residual) over each of `rows` rows of h floats, with the
// weights gamma and beta (h floats each); residual may be null, y may be x.
// Rows are spread over the OpenMP threads when there are many.
void LayerNormRows(const float* x, const float* residual, int rows, int h, const float* gamma,
                   const float* beta, double eps, float* y);

}  // namespace flashembed::encoders

#endif  // FLASHEMBED_ENCODERS_LINEAR_H_
