// Residual RMSNorm (contract in include/t5/core/ops.hpp): one block per row; the fp32 sum of
// squares is reduced across the block, the norm and gain are applied in fp32 and the result is
// rounded once to the activation dtype.
#include <algorithm>
#include <climits>
#include <string>

#include "check.cuh"
#include "dtype.cuh"
#include "t5/cuda/launch.hpp"

namespace t5::cuda {
namespace {

constexpr int max_threads = 256;

/// Sum over the block (blockDim.x a multiple of 32), returned to every thread.
__device__ float block_sum(float v) {
  __shared__ float warp_sums[max_threads / 32];
  __shared__ float total;
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31;
  const int warp = threadIdx.x >> 5;
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? warp_sums[lane] : 0.0f;
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(0xffffffffu, v, offset);
    if (lane == 0) total = v;
  }
  __syncthreads();
  return total;
}

template <class T>
__global__ void rms_norm_kernel(RmsNormParams<T> p) {
  using N = detail::native_t<T>;
  const std::int64_t row = blockIdx.x;
  const N* x = p.mode == ResidualMode::InPlace ? nullptr : reinterpret_cast<const N*>(p.x) + row * p.dim;
  float* residual = p.residual + row * p.dim;
  N* out = reinterpret_cast<N*>(p.out) + row * p.dim;

  // Each thread revisits in the second loop exactly the elements it wrote in the first.
  float sum_squares = 0.0f;
  for (std::int64_t i = threadIdx.x; i < p.dim; i += blockDim.x) {
    const float s = p.mode == ResidualMode::Start    ? detail::to_f32(x[i])
                    : p.mode == ResidualMode::Update ? residual[i] + detail::to_f32(x[i])
                                                     : residual[i];
    residual[i] = s;
    sum_squares += s * s;
  }
  const float inv_rms = rsqrtf(block_sum(sum_squares) / static_cast<float>(p.dim) + p.eps);
  for (std::int64_t i = threadIdx.x; i < p.dim; i += blockDim.x) {
    const float s = residual[i];
    out[i] = detail::from_f32<N>(s * inv_rms * p.gain[i]);
    if (p.residual_scale != 1.0f) residual[i] = s * p.residual_scale;
  }
}

}  // namespace

template <class T>
void launch_rms_norm(const RmsNormParams<T>& p, Stream stream) {
  if (p.rows < 0 || p.dim <= 0 || p.rows > INT_MAX)
    throw Error(ErrorCode::InvalidArgument, "launch_rms_norm: rows " + std::to_string(p.rows) + " and dim " +
                                                std::to_string(p.dim) + " out of range");
  if (p.rows == 0) return;
  const int threads = static_cast<int>(std::min<std::int64_t>(max_threads, (p.dim + 31) / 32 * 32));
  rms_norm_kernel<T><<<static_cast<unsigned>(p.rows), threads, 0, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
}

template void launch_rms_norm<float>(const RmsNormParams<float>&, Stream);
template void launch_rms_norm<f16>(const RmsNormParams<f16>&, Stream);
template void launch_rms_norm<bf16>(const RmsNormParams<bf16>&, Stream);

}  // namespace t5::cuda
