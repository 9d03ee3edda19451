// Token selection on device logits, one block per row: argmax (torch's tie and NaN rules) and the
// sampling draw of cpu/sampling.hpp (SamplingWarpers::apply then sample_token) without a sort:
// top-k and top-p boundaries are found by binary searches over order-preserving keys of the scores.
#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>

#include "check.cuh"
#include "t5/cuda/launch.hpp"
#include "t5/core/philox.hpp"

namespace t5::cuda {
namespace {

constexpr int max_threads = 512;
constexpr int max_warps = max_threads / 32;
constexpr unsigned full_mask = 0xffffffffu;
constexpr std::int64_t max_vocab = std::int64_t{1} << 30;  // keeps every index sum below INT_MAX

/// Threads for one row of `cols`: a multiple of 32, at most max_threads.
int threads_for(std::int64_t cols) { return static_cast<int>(std::min<std::int64_t>(max_threads, (cols + 31) / 32 * 32)); }

struct Sum {
  template <class T>
  __device__ T operator()(T a, T b) const { return a + b; }
};
struct Min {
  template <class T>
  __device__ T operator()(T a, T b) const { return a < b ? a : b; }
};
struct Max {
  template <class T>
  __device__ T operator()(T a, T b) const { return a < b ? b : a; }
};

/// op over the block (blockDim.x a multiple of 32), returned to every thread. The combination
/// order is fixed, so equal inputs give bit-identical results (this matters for the double sums:
/// every thread must take the same branch on them). Back-to-back calls are safe: warp_values is
/// read only by warp 0 before the second barrier, and `result` is rewritten only after the first
/// barrier of the next call, which every reader of the previous one has passed.
template <class T, class Op>
__device__ T block_reduce(T v, T identity, Op op) {
  __shared__ T warp_values[max_warps];
  __shared__ T result;
  for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(full_mask, v, offset));
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) warp_values[warp] = v;
  __syncthreads();
  if (warp == 0) {
    v = lane < static_cast<int>(blockDim.x >> 5) ? warp_values[lane] : identity;
    for (int offset = 16; offset > 0; offset >>= 1) v = op(v, __shfl_xor_sync(full_mask, v, offset));
    if (lane == 0) result = v;
  }
  __syncthreads();
  return result;
}

/// The sum of v over the threads before this one (thread order), and the block total in `total`.
__device__ double block_exclusive_sum(double v, double& total) {
  __shared__ double warp_totals[max_warps];
  __shared__ double block_total;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = static_cast<int>(blockDim.x >> 5);
  double inclusive = v;
  for (int offset = 1; offset < 32; offset <<= 1) {
    const double other = __shfl_up_sync(full_mask, inclusive, offset);
    if (lane >= offset) inclusive += other;
  }
  double exclusive = __shfl_up_sync(full_mask, inclusive, 1);
  if (lane == 0) exclusive = 0.0;
  if (lane == 31) warp_totals[warp] = inclusive;
  __syncthreads();
  if (warp == 0) {
    double t = lane < warps ? warp_totals[lane] : 0.0;
    for (int offset = 1; offset < 32; offset <<= 1) {
      const double other = __shfl_up_sync(full_mask, t, offset);
      if (lane >= offset) t += other;
    }
    if (lane < warps) warp_totals[lane] = t;  // now inclusive over warps
    if (lane == 31) block_total = t;
  }
  __syncthreads();
  const double before = warp == 0 ? exclusive : warp_totals[warp - 1] + exclusive;
  total = block_total;
  __syncthreads();  // a second call must not overwrite warp_totals while it is read
  return before;
}

// ---- argmax ----

/// Whether (a at index ia) wins over (b at index ib): the larger value, NaN larger than all, the
/// smaller index among equals (torch.argmax). A strict total order on distinct indices, so any
/// reduction order gives the same winner.
__device__ __forceinline__ bool beats(float a, int ia, float b, int ib) {
  const bool a_nan = a != a, b_nan = b != b;
  if (a_nan || b_nan) return a_nan && (!b_nan || ia < ib);
  return a > b || (a == b && ia < ib);
}

__global__ void __launch_bounds__(max_threads) argmax_kernel(ArgmaxParams p) {
  __shared__ float warp_best[max_warps];
  __shared__ int warp_index[max_warps];
  const int n = static_cast<int>(p.cols);
  const float* x = p.logits + static_cast<std::int64_t>(blockIdx.x) * p.ld;
  // Index n is "no element yet": every element beats it (-inf included, by index).
  float best = -__int_as_float(0x7f800000);
  int index = n;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const float v = x[j];
    if (beats(v, j, best, index)) {
      best = v;
      index = j;
    }
  }
  const auto warp_argmax = [](float& value, int& at) {
    for (int offset = 16; offset > 0; offset >>= 1) {
      const float other = __shfl_xor_sync(full_mask, value, offset);
      const int other_at = __shfl_xor_sync(full_mask, at, offset);
      if (beats(other, other_at, value, at)) {
        value = other;
        at = other_at;
      }
    }
  };
  warp_argmax(best, index);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) {
    warp_best[warp] = best;
    warp_index[warp] = index;
  }
  __syncthreads();
  if (warp == 0) {
    const bool live = lane < static_cast<int>(blockDim.x >> 5);
    best = live ? warp_best[lane] : -__int_as_float(0x7f800000);
    index = live ? warp_index[lane] : n;
    warp_argmax(best, index);
    // The winner is NaN or +inf when the row holds one (NaN beats all): not a token.
    if (lane == 0) p.out[blockIdx.x] = isfinite(best) || index == n ? index : nonfinite_token;
  }
}

// ---- sampling ----

constexpr float minus_infinity = -__builtin_huge_valf();
constexpr std::uint32_t minus_infinity_key = 0x007fffffu;  // order_key(-inf)

/// An unsigned key in the order of the float values (non-NaN): flip all bits of negatives, the sign
/// bit of positives. -0 maps to +0's key because the two compare equal (ties are ties on the host).
__device__ __forceinline__ std::uint32_t order_key(float s) {
  const std::uint32_t bits = s == 0.0f ? 0u : __float_as_uint(s);
  return (bits & 0x80000000u) ? ~bits : bits | 0x80000000u;
}
__device__ __forceinline__ float from_order_key(std::uint32_t key) {
  return __uint_as_float((key & 0x80000000u) ? key & 0x7fffffffu : ~key);
}

/// The key of the k-th largest score, counting multiplicity (1 <= k <= n): the largest key K with
/// at least k scores >= K, built bit by bit from the top. `above` counts the scores already known
/// to lie above the candidate's group (those agreeing with it on the bits decided so far).
__device__ std::uint32_t kth_largest_key(const float* s, int n, int k) {
  std::uint32_t prefix = 0;
  int above = 0;
  for (int b = 31; b >= 0; --b) {
    const std::uint32_t bit = 1u << b, high = ~((bit << 1) - 1u);  // high: the bits above b (none for b = 31)
    int ones = 0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
      const std::uint32_t key = order_key(s[j]);
      ones += (key & high) == prefix && (key & bit);
    }
    ones = block_reduce(ones, 0, Sum{});
    if (above + ones >= k)
      prefix |= bit;  // the k-th largest has this bit set
    else
      above += ones;
  }
  return prefix;
}

/// HF TopPLogitsWarper as SamplingWarpers::keep_top_p does it, without the sort. The tokens still in
/// play are ordered by score ascending, ties by index descending; that order is the order of the
/// unique 64-bit key (order_key(s) << index_bits) | (n - 1 - j). A token is removed iff the mass of
/// the tokens up to it in that order, over the total, is <= 1 - top_p (the host's cumulative sum
/// is monotone, so its early stop removes exactly these), except the last token, which stays. The
/// last removed key is found bit by bit: `below` is the mass of the tokens known to precede the
/// candidate's group, and each probe adds the mass of the group's half with the bit clear.
__device__ void keep_top_p(float* s, int n, float max_score, std::uint32_t max_key, float top_p) {
  const int index_bits = n > 1 ? 32 - __clz(n - 1) : 0;
  const auto order = [&](float v, int j) { return (std::uint64_t{order_key(v)} << index_bits) | static_cast<std::uint64_t>(n - 1 - j); };
  const auto weight = [&](float v) { return exp(static_cast<double>(v - max_score)); };  // as the host: fp32 difference, double exp

  double total = 0.0;
  int first_max = n;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const float v = s[j];
    if (v == minus_infinity) continue;
    total += weight(v);
    if (order_key(v) == max_key) first_max = min(first_max, j);
  }
  total = block_reduce(total, 0.0, Sum{});
  first_max = block_reduce(first_max, n, Min{});
  const std::uint64_t last = order(max_score, first_max);  // never removed (min_tokens_to_keep 1)
  const double cut = 1.0 - static_cast<double>(top_p);

  std::uint64_t boundary = 0;
  double below = 0.0;
  for (int b = 31 + index_bits; b >= 0; --b) {
    const std::uint64_t bit = std::uint64_t{1} << b, high = ~((bit << 1) - 1u);
    double mass = 0.0;
    for (int j = threadIdx.x; j < n; j += blockDim.x) {
      const float v = s[j];
      if (v == minus_infinity) continue;
      const std::uint64_t o = order(v, j);
      if ((o & high) == boundary && !(o & bit)) mass += weight(v);
    }
    mass = block_reduce(mass, 0.0, Sum{});  // the same value in every thread: a uniform branch
    if ((below + mass) / total <= cut) {
      below += mass;
      boundary |= bit;
    }
  }
  // Every token before `boundary` is removed; `below` is their mass; the token at `boundary`
  // (if any) is removed when its own mass keeps the sum within the cut.
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const float v = s[j];
    if (v == minus_infinity) continue;
    const std::uint64_t o = order(v, j);
    if (o != last && (o < boundary || (o == boundary && (below + weight(v)) / total <= cut))) s[j] = minus_infinity;
  }
}

// Two blocks per SM: at three (ptxas's default target for 512 threads) it spills in the top-p loop.
__global__ void __launch_bounds__(max_threads, 2) sample_kernel(SampleParams p) {
  const int n = static_cast<int>(p.vocab);
  const std::int64_t row = blockIdx.x;
  const float* logits = p.logits + row * p.ld;
  float* s = p.workspace + row * p.vocab;  // the warped scores

  // TemperatureLogitsWarper: a correctly rounded fp32 division, as on the host.
  std::uint32_t max_key = 0;
  for (int j = threadIdx.x; j < n; j += blockDim.x) {
    const float v = p.temperature != 1.0f ? __fdiv_rn(logits[j], p.temperature) : logits[j];
    s[j] = v;
    max_key = max(max_key, order_key(v));
  }
  max_key = block_reduce(max_key, 0u, Max{});
  if (max_key <= minus_infinity_key) {  // every token excluded (uniform: max_key is the block's)
    if (threadIdx.x == 0) p.out[row] = -1;
    return;
  }
  const float max_score = from_order_key(max_key);  // neither warper removes the largest score

  // Until the draw, each thread reads and writes only its own elements j = threadIdx.x + i * blockDim.x.
  if (p.top_k > 0 && p.top_k < p.vocab) {  // TopKLogitsWarper: below the k-th largest -> -inf
    const std::uint32_t kth = kth_largest_key(s, n, static_cast<int>(p.top_k));
    for (int j = threadIdx.x; j < n; j += blockDim.x)
      if (order_key(s[j]) < kth) s[j] = minus_infinity;
  }
  if (p.top_p < 1.0f) keep_top_p(s, n, max_score, max_key, p.top_p);
  __syncthreads();  // the draw reads contiguous segments, written by other threads

  // The draw: the first j whose running sum of weights (vocabulary order) exceeds u * total. Each
  // thread owns a contiguous segment; an exclusive scan of the segment sums gives each its start.
  const std::uint64_t key = p.row_keys[row / p.samples_per_key];
  const PhiloxCounter counter = {static_cast<std::uint32_t>(p.step), static_cast<std::uint32_t>(row % p.samples_per_key),
                                 static_cast<std::uint32_t>(key), static_cast<std::uint32_t>(key >> 32)};
  const double u = philox_uniform(philox4x32(counter, {static_cast<std::uint32_t>(p.seed), static_cast<std::uint32_t>(p.seed >> 32)}));
  const int per_thread = (n + static_cast<int>(blockDim.x) - 1) / static_cast<int>(blockDim.x);
  const int begin = min(n, static_cast<int>(threadIdx.x) * per_thread), end = min(n, begin + per_thread);
  const auto weight = [&](float v) { return exp(static_cast<double>(v - max_score)); };
  double segment = 0.0;
  int last = -1;  // the last token in play: the host's fallback when rounding leaves the target at the end
  for (int j = begin; j < end; ++j) {
    const float v = s[j];
    if (v == minus_infinity) continue;
    segment += weight(v);
    last = j;
  }
  double total = 0.0;
  double running = block_exclusive_sum(segment, total);
  last = block_reduce(last, -1, Max{});
  const double target = u * total;
  int token = n;
  for (int j = begin; j < end; ++j) {
    const float v = s[j];
    if (v == minus_infinity) continue;
    running += weight(v);
    if (running > target) {
      token = j;
      break;
    }
  }
  token = block_reduce(token, n, Min{});
  if (threadIdx.x == 0) p.out[row] = token < n ? token : last;
}

[[noreturn]] void fail(const char* launcher, const std::string& what) {
  throw Error(ErrorCode::InvalidArgument, std::string(launcher) + ": " + what);
}

}  // namespace

void launch_argmax(const ArgmaxParams& p, Stream stream) {
  if (p.rows < 0 || p.rows > INT_MAX || p.cols <= 0 || p.cols > max_vocab)
    fail("launch_argmax", "rows " + std::to_string(p.rows) + " and cols " + std::to_string(p.cols) + " out of range");
  if (p.ld < p.cols) fail("launch_argmax", "ld " + std::to_string(p.ld) + " is less than cols " + std::to_string(p.cols));
  if (p.rows == 0) return;
  if (!p.logits || !p.out) fail("launch_argmax", "null pointer");
  argmax_kernel<<<static_cast<unsigned>(p.rows), threads_for(p.cols), 0, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
}

std::size_t sample_workspace_bytes(std::int64_t rows, std::int64_t vocab) {
  return rows > 0 && vocab > 0 ? static_cast<std::size_t>(rows) * static_cast<std::size_t>(vocab) * sizeof(float) : 0;
}

void launch_sample(const SampleParams& p, Stream stream) {
  const char* name = "launch_sample";
  if (p.rows < 0 || p.rows > INT_MAX || p.vocab <= 0 || p.vocab > max_vocab)
    fail(name, "rows " + std::to_string(p.rows) + " and vocab " + std::to_string(p.vocab) + " out of range");
  if (p.ld < p.vocab) fail(name, "ld " + std::to_string(p.ld) + " is less than vocab " + std::to_string(p.vocab));
  if (!(p.temperature > 0.0f) || !std::isfinite(p.temperature))
    fail(name, "temperature must be positive and finite, found " + std::to_string(p.temperature));
  if (p.top_k < 0) fail(name, "top_k must be >= 0, found " + std::to_string(p.top_k));
  if (!(p.top_p > 0.0f && p.top_p <= 1.0f)) fail(name, "top_p must be in (0, 1], found " + std::to_string(p.top_p));
  if (p.samples_per_key < 1 || p.rows % p.samples_per_key != 0)
    fail(name, "samples_per_key " + std::to_string(p.samples_per_key) + " must be positive and divide rows " + std::to_string(p.rows));
  if (p.rows == 0) return;
  if (!p.logits || !p.row_keys || !p.workspace || !p.out) fail(name, "null pointer");
  sample_kernel<<<static_cast<unsigned>(p.rows), threads_for(p.vocab), 0, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
}

}  // namespace t5::cuda
