// The cuBLASLt wrapper: one handle and one workspace per Gemm, matmul plans (descriptors, layouts
// and the heuristic's algorithm) cached by everything that decides them. Implemented in
// kernels/gemm.cu; no CUDA header here. Failures throw Error(Cublas) with file, line and status text.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "t5/core/dtype.hpp"
#include "t5/cuda/launch.hpp"

namespace t5::cuda {

/// out = alpha * x w^T + beta * out, all row-major (x [m, k], w [n, k] a Linear weight, out [m, n]),
/// accumulated in fp32. x and w are F16 or BF16 (the same); out is their dtype or F32. beta = 1 with
/// an F32 out adds the product to it in fp32: the out-projections write straight into the residual.
struct GemmArgs {
  const void* x = nullptr;
  std::int64_t x_ld = 0;
  const void* w = nullptr;
  std::int64_t w_ld = 0;
  DType in_type = DType::BF16;
  void* out = nullptr;
  std::int64_t out_ld = 0;
  DType out_type = DType::F32;
  std::int64_t m = 0;
  std::int64_t n = 0;
  std::int64_t k = 0;
  float alpha = 1.0f;
  float beta = 0.0f;
};

class Gemm {
 public:
  /// Creates the handle and a workspace of `workspace_bytes` on the current device.
  explicit Gemm(std::size_t workspace_bytes = std::size_t{32} << 20);
  ~Gemm();
  Gemm(Gemm&&) noexcept;
  Gemm& operator=(Gemm&&) noexcept;
  Gemm(const Gemm&) = delete;
  Gemm& operator=(const Gemm&) = delete;

  /// Enqueues the product on `stream`. Throws Error(InvalidArgument) for inconsistent sizes or
  /// dtypes, Error(Cublas) when cuBLASLt finds no algorithm or fails.
  void run(const GemmArgs& args, Stream stream);
  /// Plans made so far (one per distinct shape, dtype, leading dimensions and pointer alignment).
  std::size_t plans() const noexcept;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace t5::cuda
