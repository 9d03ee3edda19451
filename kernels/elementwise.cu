// Row-wise element kernels (contracts in include/t5/cuda/launch.hpp): the embedding lookup into the
// fp32 residual, ReLU in place, the fused gated GELU of HF T5DenseGatedActDense, and the beam
// reordering of cache blocks. Each is a 2D grid: x strides over columns, y over rows.
#include <algorithm>
#include <cstdint>
#include <string>

#include "check.cuh"
#include "dtype.cuh"
#include "t5/cuda/launch.hpp"

namespace t5::cuda {
namespace {

constexpr int threads = 256;
constexpr std::int64_t max_grid_x = 1024;   // column blocks; more columns are strided over
constexpr std::int64_t max_grid_y = 65535;  // CUDA's limit on gridDim.y; more rows are strided over

/// The grid for `rows` rows of `cols` elements: enough column blocks to cover a row once (capped),
/// one block row per row (capped).
dim3 grid_for(std::int64_t rows, std::int64_t cols) {
  const std::int64_t x = std::min(max_grid_x, (cols + threads - 1) / threads);
  const std::int64_t y = std::min(max_grid_y, rows);
  return dim3(static_cast<unsigned>(x), static_cast<unsigned>(y));
}

// Every kernel below visits each (row, col) of its [rows, cols] with exactly one thread:
//   for (r = blockIdx.y; r < rows; r += gridDim.y) for (c = first_col(); c < cols; c += col_stride())
__device__ __forceinline__ std::int64_t first_col() { return static_cast<std::int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; }
__device__ __forceinline__ std::int64_t col_stride() { return static_cast<std::int64_t>(gridDim.x) * blockDim.x; }

template <class T>
__global__ void embed_kernel(EmbedParams<T> p) {
  using N = detail::native_t<T>;
  for (std::int64_t r = blockIdx.y; r < p.rows; r += gridDim.y) {
    const N* src = reinterpret_cast<const N*>(p.table) + static_cast<std::int64_t>(p.ids[r]) * p.table_ld;
    float* dst = p.residual + r * p.residual_ld;
    for (std::int64_t c = first_col(); c < p.dim; c += col_stride()) dst[c] = detail::to_f32(src[c]);
  }
}

template <class T>
__global__ void relu_kernel(ReluParams<T> p) {
  using N = detail::native_t<T>;
  for (std::int64_t r = blockIdx.y; r < p.rows; r += gridDim.y) {
    N* x = reinterpret_cast<N*>(p.x) + r * p.ld;
    // cpu::Backend::relu is std::max(x, 0): negatives become +0; -0 and NaN stay as they are.
    for (std::int64_t c = first_col(); c < p.cols; c += col_stride())
      if (detail::to_f32(x[c]) < 0.0f) x[c] = detail::from_f32<N>(0.0f);
  }
}

// cpu::Backend::gelu operation by operation; the _rn intrinsics keep nvcc from contracting a
// multiply and an add into an FMA, which the host does not do.
template <GeluApprox A>
__device__ __forceinline__ float gelu(float x) {
  if constexpr (A == GeluApprox::Tanh) {  // HF NewGELUActivation ("gelu_new")
    const float cube = __fmul_rn(__fmul_rn(__fmul_rn(0.044715f, x), x), x);
    const float inner = __fmul_rn(0.7978845608028654f, __fadd_rn(x, cube));
    return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, tanhf(inner)));
  } else {  // HF GELUActivation ("gelu")
    return __fmul_rn(__fmul_rn(0.5f, x), __fadd_rn(1.0f, erff(__fmul_rn(x, 0.7071067811865476f))));
  }
}

template <class T, GeluApprox A>
__global__ void gated_gelu_kernel(GatedGeluParams<T> p) {
  using N = detail::native_t<T>;
  for (std::int64_t r = blockIdx.y; r < p.rows; r += gridDim.y) {
    const N* gate = reinterpret_cast<const N*>(p.in) + r * p.in_ld;
    const N* up = gate + p.cols;
    N* out = reinterpret_cast<N*>(p.out) + r * p.out_ld;
    const float unscale = 1.0f / p.scales.in;  // powers of two: every product below with them is exact
    for (std::int64_t c = first_col(); c < p.cols; c += col_stride()) {
      const float g = __fmul_rn(detail::to_f32(gate[c]), unscale), u = __fmul_rn(detail::to_f32(up[c]), unscale);
      out[c] = detail::from_f32<N>(__fmul_rn(p.scales.hidden, __fmul_rn(gelu<A>(g), u)));
    }
  }
}

template <class T>
__global__ void gather_blocks_kernel(GatherBlocksParams<T> p) {
  using N = detail::native_t<T>;
  // Row q of the copy is row q % used_rows of block q / used_rows.
  for (std::int64_t q = blockIdx.y; q < p.blocks * p.used_rows; q += gridDim.y) {
    const std::int64_t block = q / p.used_rows, row = q % p.used_rows;
    const std::int64_t parent = p.parents[block];
    const N* src = reinterpret_cast<const N*>(p.src) + (parent * p.block_rows + row) * p.src_ld;
    N* dst = reinterpret_cast<N*>(p.dst) + (block * p.block_rows + row) * p.dst_ld;
    for (std::int64_t c = first_col(); c < p.cols; c += col_stride()) dst[c] = src[c];
  }
}

[[noreturn]] void fail(const char* launcher, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, std::string(launcher) + ": " + what);
}

std::string str(std::int64_t v) { return std::to_string(v); }

/// The checks every [rows, cols] operand shares: non-negative rows, positive cols, ld >= cols.
void check_matrix(const char* launcher, const char* name, std::int64_t rows, std::int64_t cols, std::int64_t ld) {
  if (rows < 0 || cols <= 0)
    fail(launcher, std::string(name) + ": rows " + str(rows) + " and cols " + str(cols) + " out of range");
  if (ld < cols) fail(launcher, std::string(name) + ": ld " + str(ld) + " is less than cols " + str(cols));
}

}  // namespace

template <class T>
void launch_embed(const EmbedParams<T>& p, Stream stream) {
  check_matrix("launch_embed", "table", p.rows, p.dim, p.table_ld);
  check_matrix("launch_embed", "residual", p.rows, p.dim, p.residual_ld);
  if (p.rows == 0) return;
  if (!p.ids || !p.table || !p.residual) fail("launch_embed", "null pointer");
  embed_kernel<T><<<grid_for(p.rows, p.dim), threads, 0, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void launch_relu(const ReluParams<T>& p, Stream stream) {
  check_matrix("launch_relu", "x", p.rows, p.cols, p.ld);
  if (p.rows == 0) return;
  if (!p.x) fail("launch_relu", "null pointer");
  relu_kernel<T><<<grid_for(p.rows, p.cols), threads, 0, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void launch_gated_gelu(const GatedGeluParams<T>& p, Stream stream) {
  check_matrix("launch_gated_gelu", "out", p.rows, p.cols, p.out_ld);
  if (p.in_ld < 2 * p.cols) fail("launch_gated_gelu", "in_ld " + str(p.in_ld) + " is less than 2 * cols " + str(2 * p.cols));
  if (p.rows == 0) return;
  if (!p.in || !p.out) fail("launch_gated_gelu", "null pointer");
  const dim3 grid = grid_for(p.rows, p.cols);
  if (p.approx == GeluApprox::Tanh)
    gated_gelu_kernel<T, GeluApprox::Tanh><<<grid, threads, 0, stream>>>(p);
  else
    gated_gelu_kernel<T, GeluApprox::Erf><<<grid, threads, 0, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
}

template <class T>
void launch_gather_blocks(const GatherBlocksParams<T>& p, Stream stream) {
  const char* name = "launch_gather_blocks";
  if (p.blocks < 0 || p.block_rows < 0 || p.used_rows < 0 || p.used_rows > p.block_rows)
    fail(name, "blocks " + str(p.blocks) + ", block_rows " + str(p.block_rows) + " and used_rows " + str(p.used_rows) +
                   " out of range (used_rows must be in [0, block_rows])");
  check_matrix(name, "src", p.blocks * p.block_rows, p.cols, p.src_ld);
  check_matrix(name, "dst", p.blocks * p.block_rows, p.cols, p.dst_ld);
  if (p.blocks == 0 || p.used_rows == 0) return;
  if (!p.src || !p.dst || !p.parents) fail(name, "null pointer");
  // The copy reads every src block while writing dst: overlapping spans would race.
  const auto span_end = [&](const T* base, std::int64_t ld) { return base + ((p.blocks * p.block_rows - 1) * ld + p.cols); };
  const auto src_begin = reinterpret_cast<std::uintptr_t>(p.src), src_end = reinterpret_cast<std::uintptr_t>(span_end(p.src, p.src_ld));
  const auto dst_begin = reinterpret_cast<std::uintptr_t>(p.dst), dst_end = reinterpret_cast<std::uintptr_t>(span_end(p.dst, p.dst_ld));
  if (src_begin < dst_end && dst_begin < src_end) fail(name, "src and dst overlap");
  gather_blocks_kernel<T><<<grid_for(p.blocks * p.used_rows, p.cols), threads, 0, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
}

#define T5_INSTANTIATE(T)                                                          \
  template void launch_embed<T>(const EmbedParams<T>&, Stream);                    \
  template void launch_relu<T>(const ReluParams<T>&, Stream);                      \
  template void launch_gated_gelu<T>(const GatedGeluParams<T>&, Stream);           \
  template void launch_gather_blocks<T>(const GatherBlocksParams<T>&, Stream);
T5_INSTANTIATE(float)
T5_INSTANTIATE(f16)
T5_INSTANTIATE(bf16)
#undef T5_INSTANTIATE

}  // namespace t5::cuda
