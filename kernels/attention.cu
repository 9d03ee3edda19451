// Attention with T5's relative position bias (contract in include/t5/core/ops.hpp): a flash-style
// kernel for prefill and teacher forcing, and for decode steps a kernel split over the keys plus a
// combine kernel. Scores, the online softmax and the accumulators are fp32; outputs are rounded once.
#include <algorithm>
#include <climits>
#include <cstdint>
#include <string>

#include "check.cuh"
#include "dtype.cuh"
#include "t5/cuda/launch.hpp"

namespace t5::cuda {
namespace {

constexpr int warp_size = 32;
constexpr int block_threads = 128;
constexpr int block_warps = block_threads / warp_size;
constexpr int key_tile = 32;  // keys staged in shared memory per step: one per lane when scoring
constexpr int queries_per_warp = 4;
constexpr int query_tile = block_warps * queries_per_warp;  // queries of one prefill block
constexpr int generic_dim_chunk = 64;  // head dims staged at once (and written per block) when head_dim is not 64 or 128
constexpr unsigned full_mask = 0xffffffffu;

// The bias table per distance lives in shared memory: 2 * max_reach + 1 floats at most (32 KiB), so
// that every kernel's shared memory stays under the 99 KiB an sm_86 block may opt into.
constexpr std::int64_t max_reach = 4096;
// Decode: one split per split_keys keys, at most max_splits (longer caches get longer splits).
constexpr std::int64_t split_keys = 256;
constexpr std::int64_t max_splits = 32;
constexpr std::size_t default_shared_bytes = 48 * 1024;

bool has_decode_kernel(std::int64_t head_dim) { return head_dim == 64 || head_dim == 128; }

/// Key splits of a decode step; 1 (no workspace) for short caches and for head dims without a decode
/// kernel (those run the generic prefill kernel). Shared by the launcher and attention_workspace_bytes.
std::int64_t decode_splits(std::int64_t head_dim, std::int64_t kv_len) {
  if (!has_decode_kernel(head_dim) || kv_len <= split_keys) return 1;
  return std::min(max_splits, (kv_len + split_keys - 1) / split_keys);
}

/// Floats of the per-distance bias at the start of dynamic shared memory (rounded up to 4 so that
/// what follows stays 16-byte aligned); the same expression on host and device.
__host__ __device__ inline int bias_floats(bool has_table, int reach) { return has_table ? (2 * reach + 4) & ~3 : 0; }

/// The kernels' arguments: AttentionArgs flattened, in the native CUDA dtype, plus the launch shape.
template <class N>
struct Params {
  const N* q;
  const N* k;
  const N* v;
  N* out;
  std::int64_t q_ld, k_ld, v_ld, out_ld;
  std::int64_t q_len, kv_rows, kv_len;
  int kv_share, heads;  // batch * heads <= INT_MAX: the grid holds at least that many blocks
  std::int64_t q_position;
  const std::uint8_t* key_mask;
  std::int64_t key_mask_ld;
  const std::int32_t* documents;
  const float* bias_table;
  const std::int32_t* buckets;
  int reach;
  int head_dim;
  float scale;
  bool causal;
  int q_tiles;              // prefill: query tiles per (row, head)
  int slices;               // prefill: output column slices per (row, head); 1 unless head_dim is generic
  int splits;               // decode: key splits per (row, head)
  std::int64_t split_len;   // decode: keys per split
  float* partials;          // decode with splits > 1: [rows, heads, splits, 2 + head_dim] of (max, sum, acc)
};

__device__ __forceinline__ float warp_max(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v = fmaxf(v, __shfl_xor_sync(full_mask, v, offset));
  return v;
}
__device__ __forceinline__ float warp_sum(float v) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_xor_sync(full_mask, v, offset);
  return v;
}

/// bias_by_distance[d + reach] = table[buckets[d + reach], h]: one head's bias for every distance.
template <class N>
__device__ void load_bias(const Params<N>& p, std::int64_t h, float* bias_by_distance) {
  if (!p.bias_table) return;
  for (int t = threadIdx.x; t <= 2 * p.reach; t += blockDim.x)
    bias_by_distance[t] = p.bias_table[static_cast<std::int64_t>(p.buckets[t]) * p.heads + h];
}

template <class N>
__device__ __forceinline__ float bias_at(const Params<N>& p, const float* bias_by_distance, std::int64_t distance) {
  const std::int64_t d = distance < -p.reach ? -p.reach : distance > p.reach ? p.reach : distance;
  return bias_by_distance[d + p.reach];
}

/// One step of the online softmax for one query over the warp's 32 keys (one per lane): x is the
/// lane's score (-inf when invisible). Updates the running max m and sum l (uniform over the warp)
/// and returns the lane's unnormalised weight; *correction rescales the accumulator. While no key
/// has been visible, m stays -inf and nothing is rescaled (exp(-inf - -inf) would be NaN).
__device__ __forceinline__ float online_softmax_step(float x, float& m, float& l, float* correction) {
  const float new_max = fmaxf(m, warp_max(x));
  float weight = 0.0f;
  *correction = 1.0f;
  if (new_max != -INFINITY) {
    *correction = expf(m - new_max);  // 0 when m was -inf
    weight = x == -INFINITY ? 0.0f : expf(x - new_max);
  }
  l = l * *correction + warp_sum(weight);
  m = new_max;
  return weight;
}

/// Head dims staged at once and output columns per block: all of them for the compiled head dims,
/// chunks of 64 for the others (the scores are then accumulated over chunks and recomputed per slice).
template <int HEAD_DIM>
struct PrefillShape {
  static constexpr int dim_chunk = HEAD_DIM > 0 ? HEAD_DIM : generic_dim_chunk;
  static constexpr int key_stride = dim_chunk + 1;  // odd: lane-per-key reads hit distinct banks
  static constexpr int out_slice = dim_chunk;
  static constexpr int out_per_lane = out_slice / warp_size;
  // Blocks per SM the register allocation must allow: the generic kernel's chunk loop needs more
  // registers than ptxas grants by default (it spilled), the compiled head dims fit in 128.
  static constexpr int min_blocks = HEAD_DIM > 0 ? 4 : 1;
  static_assert(dim_chunk % warp_size == 0);

  static int shared_bytes(bool has_table, int reach) {
    return static_cast<int>(sizeof(float)) *
           (bias_floats(has_table, reach) + query_tile * dim_chunk + key_tile * key_stride + key_tile * out_slice);
  }
};

/// s_q[r, c] = q[r, d0 + c] for the tile's rows; rows past q_len and columns past D are zeros (they
/// compute harmless scores and are never written).
template <class N, int DC>
__device__ void load_q_chunk(const Params<N>& p, const N* q_rows, int queries_here, int D, int d0, float* s_q) {
  for (int e = threadIdx.x; e < query_tile * DC; e += block_threads) {
    const int r = e / DC, c = e % DC;
    s_q[e] = r < queries_here && d0 + c < D ? detail::to_f32(q_rows[r * p.q_ld + d0 + c]) : 0.0f;
  }
}

/// Prefill / teacher forcing: block = (row b, head h, output slice, tile of 16 queries); warp w owns
/// queries 4w..4w+3 of the tile. Per tile of 32 keys staged in shared memory, lane l scores key l for
/// the warp's queries, the warp updates each query's online softmax, then lane l accumulates output
/// columns l, l + 32, ... of the slice. HEAD_DIM 0: any head_dim, in chunks of 64.
template <class N, int HEAD_DIM>
__global__ void __launch_bounds__(block_threads, PrefillShape<HEAD_DIM>::min_blocks) prefill_kernel(const Params<N> p) {
  using Shape = PrefillShape<HEAD_DIM>;
  constexpr int DC = Shape::dim_chunk, KS = Shape::key_stride, OS = Shape::out_slice, OC = Shape::out_per_lane;
  constexpr int QW = queries_per_warp;
  extern __shared__ float shared[];
  const int D = HEAD_DIM > 0 ? HEAD_DIM : p.head_dim;

  // 32-bit index arithmetic (the grid is below 2^31 blocks): 64-bit division is a slow subroutine.
  int block = static_cast<int>(blockIdx.x);
  const int tile = block % p.q_tiles;
  block /= p.q_tiles;
  const int slice = block % p.slices;
  block /= p.slices;
  const std::int64_t h = block % p.heads;
  const std::int64_t b = block / p.heads;
  const std::int64_t kb = block / p.heads / p.kv_share;  // the key row this batch row reads

  float* bias_by_distance = shared;
  float* s_q = shared + bias_floats(p.bias_table != nullptr, p.reach);  // [query_tile, DC]
  float* s_k = s_q + query_tile * DC;                                    // [key_tile, KS]
  float* s_v = s_k + key_tile * KS;                                      // [key_tile, OS]

  const int lane = threadIdx.x % warp_size;
  const int warp = threadIdx.x / warp_size;
  const std::int64_t first_query = static_cast<std::int64_t>(tile) * query_tile;
  const N* q_rows = p.q + (b * p.q_len + first_query) * p.q_ld + h * D;
  const N* k_rows = p.k + kb * p.kv_rows * p.k_ld + h * D;
  const N* v_rows = p.v + kb * p.kv_rows * p.v_ld + h * D + slice * OS;
  const std::uint8_t* key_mask = p.key_mask ? p.key_mask + kb * p.key_mask_ld : nullptr;
  const std::int32_t* docs = p.documents ? p.documents + b * p.q_len : nullptr;
  const int queries_here = static_cast<int>(min(static_cast<std::int64_t>(query_tile), p.q_len - first_query));

  load_bias(p, h, bias_by_distance);
  const int chunks = (D + DC - 1) / DC;  // 1 for the compiled head dims
  const bool q_resident = chunks == 1;
  if (q_resident) load_q_chunk<N, DC>(p, q_rows, queries_here, D, 0, s_q);

  bool query_valid[QW];
  std::int64_t position[QW];
  std::int32_t query_doc[QW];
#pragma unroll
  for (int qi = 0; qi < QW; ++qi) {
    const int r = warp * QW + qi;
    query_valid[qi] = r < queries_here;
    position[qi] = p.q_position + first_query + r;
    query_doc[qi] = docs && query_valid[qi] ? docs[first_query + r] : 0;
  }

  // Keys past the last query's position are invisible to the whole tile when causal.
  std::int64_t key_end = p.kv_len;
  if (p.causal) key_end = max(static_cast<std::int64_t>(0), min(key_end, p.q_position + first_query + queries_here));

  float m[QW], l[QW], acc[QW][OC];
#pragma unroll
  for (int qi = 0; qi < QW; ++qi) {
    m[qi] = -INFINITY;
    l[qi] = 0.0f;
#pragma unroll
    for (int c = 0; c < OC; ++c) acc[qi][c] = 0.0f;
  }

  for (std::int64_t kt = 0; kt < key_end; kt += key_tile) {
    const int keys_here = static_cast<int>(min(static_cast<std::int64_t>(key_tile), key_end - kt));
    float score[QW];
#pragma unroll
    for (int qi = 0; qi < QW; ++qi) score[qi] = 0.0f;

    for (int chunk = 0; chunk < chunks; ++chunk) {
      const int d0 = chunk * DC;
      __syncthreads();  // the previous readers of s_k, s_v (and s_q) are done; publishes bias and q
      if (chunk == 0) {
        // Rows past key_end are zeros, never loaded: cache rows beyond kv_len may hold anything.
        for (int e = threadIdx.x; e < key_tile * OS; e += block_threads) {
          const int r = e / OS, c = e % OS;
          s_v[e] = r < keys_here && slice * OS + c < D ? detail::to_f32(v_rows[(kt + r) * p.v_ld + c]) : 0.0f;
        }
      }
      for (int e = threadIdx.x; e < key_tile * DC; e += block_threads) {
        const int r = e / DC, c = e % DC;
        s_k[r * KS + c] = r < keys_here && d0 + c < D ? detail::to_f32(k_rows[(kt + r) * p.k_ld + d0 + c]) : 0.0f;
      }
      if (!q_resident) load_q_chunk<N, DC>(p, q_rows, queries_here, D, d0, s_q);
      __syncthreads();
      const float* q_warp = s_q + warp * QW * DC;
      const float* k_lane = s_k + lane * KS;
#pragma unroll 8
      for (int c = 0; c < DC; ++c) {
        const float kc = k_lane[c];
#pragma unroll
        for (int qi = 0; qi < QW; ++qi) score[qi] = fmaf(q_warp[qi * DC + c], kc, score[qi]);
      }
    }

    const std::int64_t j = kt + lane;
    const bool key_ok = lane < keys_here && (!key_mask || key_mask[j] != 0);
    const std::int32_t key_doc = docs && key_ok ? docs[j] : 0;
    float weight[QW];
#pragma unroll
    for (int qi = 0; qi < QW; ++qi) {
      const bool visible = key_ok && query_valid[qi] && (!p.causal || j <= position[qi]) && (!docs || key_doc == query_doc[qi]);
      float x = -INFINITY;
      if (visible) {
        x = score[qi] * p.scale;
        if (p.bias_table) x += bias_at(p, bias_by_distance, j - position[qi]);
      }
      float correction;
      weight[qi] = online_softmax_step(x, m[qi], l[qi], &correction);
#pragma unroll
      for (int c = 0; c < OC; ++c) acc[qi][c] *= correction;
    }
#pragma unroll 4
    for (int jj = 0; jj < key_tile; ++jj) {
      float w[QW];
#pragma unroll
      for (int qi = 0; qi < QW; ++qi) w[qi] = __shfl_sync(full_mask, weight[qi], jj);
#pragma unroll
      for (int c = 0; c < OC; ++c) {
        const float vc = s_v[jj * OS + c * warp_size + lane];
#pragma unroll
        for (int qi = 0; qi < QW; ++qi) acc[qi][c] = fmaf(w[qi], vc, acc[qi][c]);
      }
    }
  }

#pragma unroll
  for (int qi = 0; qi < QW; ++qi) {
    if (!query_valid[qi]) continue;
    N* out_row = p.out + (b * p.q_len + first_query + warp * QW + qi) * p.out_ld + h * D;
    const float inv = l[qi] > 0.0f ? 1.0f / l[qi] : 0.0f;  // no visible key: zeros
#pragma unroll
    for (int c = 0; c < OC; ++c) {
      const int d = slice * OS + c * warp_size + lane;
      if (d < D) out_row[d] = detail::from_f32<N>(l[qi] > 0.0f ? acc[qi][c] * inv : 0.0f);
    }
  }
}

template <int HEAD_DIM>
struct DecodeShape {
  static constexpr int key_stride = HEAD_DIM + 1;
  static constexpr int part_dims = HEAD_DIM / block_warps;  // head dims each warp sums a key's dot over
  static_assert(HEAD_DIM % block_warps == 0 && HEAD_DIM <= block_threads);

  static int shared_bytes(bool has_table, int reach) {
    return static_cast<int>(sizeof(float)) *
           (bias_floats(has_table, reach) + HEAD_DIM + key_tile * key_stride + key_tile * HEAD_DIM + block_warps * key_tile);
  }
};

/// Decode (one query per row): block = (row b, head h, split of the keys). Per tile of 32 keys,
/// warp w computes the dots of all 32 keys over its quarter of the head dims, every warp then sums
/// the four parts in the same order and runs the same online softmax (so all warps agree), and
/// thread t accumulates output column t. Writes the output (one split) or the split's partial.
template <class N, int HEAD_DIM>
__global__ void __launch_bounds__(block_threads) decode_kernel(const Params<N> p) {
  using Shape = DecodeShape<HEAD_DIM>;
  constexpr int D = HEAD_DIM, KS = Shape::key_stride, PART = Shape::part_dims;
  extern __shared__ float shared[];

  int block = static_cast<int>(blockIdx.x);
  const int split = block % p.splits;
  block /= p.splits;
  const std::int64_t h = block % p.heads;
  const std::int64_t b = block / p.heads;
  const std::int64_t kb = block / p.heads / p.kv_share;

  float* bias_by_distance = shared;
  float* s_q = shared + bias_floats(p.bias_table != nullptr, p.reach);  // [D]
  float* s_k = s_q + D;                                                  // [key_tile, KS]
  float* s_v = s_k + key_tile * KS;                                      // [key_tile, D]
  float* s_part = s_v + key_tile * D;                                    // [block_warps, key_tile]

  const int tid = threadIdx.x;
  const int lane = tid % warp_size;
  const int warp = tid / warp_size;
  const N* k_rows = p.k + kb * p.kv_rows * p.k_ld + h * D;
  const N* v_rows = p.v + kb * p.kv_rows * p.v_ld + h * D;
  const std::uint8_t* key_mask = p.key_mask ? p.key_mask + kb * p.key_mask_ld : nullptr;
  const std::int32_t* docs = p.documents ? p.documents + b * p.q_len : nullptr;
  const std::int64_t position = p.q_position;
  const std::int32_t query_doc = docs ? docs[0] : 0;

  load_bias(p, h, bias_by_distance);
  for (int d = tid; d < D; d += block_threads) s_q[d] = detail::to_f32(p.q[b * p.q_ld + h * D + d]);

  const std::int64_t key_begin = split * p.split_len;
  std::int64_t key_end = min(p.kv_len, key_begin + p.split_len);
  if (p.causal) key_end = min(key_end, position + 1);

  float m = -INFINITY, l = 0.0f, acc = 0.0f;
  for (std::int64_t kt = key_begin; kt < key_end; kt += key_tile) {
    const int keys_here = static_cast<int>(min(static_cast<std::int64_t>(key_tile), key_end - kt));
    __syncthreads();  // the previous readers of s_k, s_v, s_part are done; publishes bias and q
    for (int e = tid; e < key_tile * D; e += block_threads) {
      const int r = e / D, c = e % D;
      const bool in = r < keys_here;
      s_k[r * KS + c] = in ? detail::to_f32(k_rows[(kt + r) * p.k_ld + c]) : 0.0f;
      s_v[e] = in ? detail::to_f32(v_rows[(kt + r) * p.v_ld + c]) : 0.0f;
    }
    __syncthreads();
    float partial = 0.0f;
#pragma unroll
    for (int c = warp * PART; c < (warp + 1) * PART; ++c) partial = fmaf(s_q[c], s_k[lane * KS + c], partial);
    s_part[warp * key_tile + lane] = partial;
    __syncthreads();
    float dot = 0.0f;
#pragma unroll
    for (int w = 0; w < block_warps; ++w) dot += s_part[w * key_tile + lane];

    const std::int64_t j = kt + lane;
    const bool visible = lane < keys_here && (!key_mask || key_mask[j] != 0) && (!p.causal || j <= position) &&
                         (!docs || docs[j] == query_doc);
    float x = -INFINITY;
    if (visible) {
      x = dot * p.scale;
      if (p.bias_table) x += bias_at(p, bias_by_distance, j - position);
    }
    float correction;
    const float weight = online_softmax_step(x, m, l, &correction);
    acc *= correction;
    if (tid < D) {  // warp-uniform: D is a multiple of 32
#pragma unroll 8
      for (int jj = 0; jj < key_tile; ++jj) acc = fmaf(__shfl_sync(full_mask, weight, jj), s_v[jj * D + tid], acc);
    }
  }

  if (p.splits == 1) {
    if (tid < D) p.out[b * p.out_ld + h * D + tid] = detail::from_f32<N>(l > 0.0f ? acc / l : 0.0f);
    return;
  }
  float* partial = p.partials + ((b * p.heads + h) * p.splits + split) * (2 + D);
  if (tid == 0) {
    partial[0] = m;
    partial[1] = l;
  }
  if (tid < D) partial[2 + tid] = acc;
}

/// Decode with splits: out = sum_s exp(m_s - M) acc_s / sum_s exp(m_s - M) l_s over the splits
/// that saw a visible key (m_s > -inf); zeros when none did. One block per (row, head).
template <class N>
__global__ void __launch_bounds__(block_threads) combine_kernel(const Params<N> p) {
  const int block = static_cast<int>(blockIdx.x);
  const std::int64_t h = block % p.heads;
  const std::int64_t b = block / p.heads;
  const int D = p.head_dim;
  const std::int64_t stride = 2 + D;
  const float* partials = p.partials + (b * p.heads + h) * p.splits * stride;
  float top = -INFINITY;
  for (int s = 0; s < p.splits; ++s) top = fmaxf(top, partials[s * stride]);
  for (int d = threadIdx.x; d < D; d += blockDim.x) {
    float sum = 0.0f, value = 0.0f;
    if (top != -INFINITY) {
      for (int s = 0; s < p.splits; ++s) {
        const float m = partials[s * stride];
        if (m == -INFINITY) continue;
        const float w = expf(m - top);
        sum = fmaf(partials[s * stride + 1], w, sum);
        value = fmaf(partials[s * stride + 2 + d], w, value);
      }
    }
    p.out[b * p.out_ld + h * D + d] = detail::from_f32<N>(sum > 0.0f ? value / sum : 0.0f);
  }
}

[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorCode::InvalidArgument, "launch_attention: " + what); }

std::string str(std::int64_t v) { return std::to_string(v); }

template <class T>
void check_view(const ConstMatrixView<T, DeviceSpace>& m, const char* name, std::int64_t min_rows, std::int64_t cols) {
  if (m.cols != cols || m.rows < min_rows || m.ld < m.cols)
    invalid(std::string(name) + " is [" + str(m.rows) + ", " + str(m.cols) + "] with ld " + str(m.ld) + ", expected at least " +
            str(min_rows) + " rows of " + str(cols) + " columns and ld >= cols");
  if (min_rows > 0 && m.data == nullptr) invalid(std::string(name) + " is null");
}

/// The dynamic shared memory of `kernel`, opting in beyond the default 48 KiB when needed.
template <class Kernel>
void reserve_shared(Kernel kernel, int bytes) {
  if (static_cast<std::size_t>(bytes) > default_shared_bytes)
    T5_CUDA_CHECK(cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, bytes));
}

template <class N, int HEAD_DIM>
void launch_prefill(Params<N> p, std::int64_t batch, Stream stream) {
  using Shape = PrefillShape<HEAD_DIM>;
  p.q_tiles = static_cast<int>((p.q_len + query_tile - 1) / query_tile);
  p.slices = static_cast<int>((p.head_dim + Shape::out_slice - 1) / Shape::out_slice);
  const std::int64_t blocks = batch * p.heads * p.slices * p.q_tiles;
  if (blocks > INT_MAX) invalid(str(blocks) + " blocks exceed the grid limit");
  const int bytes = Shape::shared_bytes(p.bias_table != nullptr, p.reach);
  reserve_shared(prefill_kernel<N, HEAD_DIM>, bytes);
  prefill_kernel<N, HEAD_DIM><<<static_cast<unsigned>(blocks), block_threads, bytes, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
}

template <class N, int HEAD_DIM>
void launch_decode(Params<N> p, std::int64_t rows, Stream stream) {
  using Shape = DecodeShape<HEAD_DIM>;
  const std::int64_t blocks = rows * p.heads * p.splits;
  if (blocks > INT_MAX) invalid(str(blocks) + " blocks exceed the grid limit");
  const int bytes = Shape::shared_bytes(p.bias_table != nullptr, p.reach);
  reserve_shared(decode_kernel<N, HEAD_DIM>, bytes);
  decode_kernel<N, HEAD_DIM><<<static_cast<unsigned>(blocks), block_threads, bytes, stream>>>(p);
  T5_CUDA_CHECK(cudaGetLastError());
  if (p.splits > 1) {
    combine_kernel<N><<<static_cast<unsigned>(rows * p.heads), block_threads, 0, stream>>>(p);
    T5_CUDA_CHECK(cudaGetLastError());
  }
}

}  // namespace

std::size_t attention_workspace_bytes(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t head_dim, std::int64_t kv_len) {
  if (batch <= 0 || q_len != 1 || heads <= 0 || head_dim <= 0) return 0;  // only decode steps split
  const std::int64_t splits = decode_splits(head_dim, kv_len);
  if (splits == 1) return 0;
  return static_cast<std::size_t>(batch * heads * splits * (2 + head_dim)) * sizeof(float);
}

template <class T>
void launch_attention(const AttentionArgs<T, DeviceSpace>& a, void* workspace, std::size_t workspace_bytes, Stream stream) {
  using N = detail::native_t<T>;
  if (a.heads <= 0 || a.head_dim <= 0 || a.head_dim > INT_MAX / 2)
    invalid("heads " + str(a.heads) + " and head_dim " + str(a.head_dim) + " must be positive (head_dim below 2^30)");
  if (a.batch < 0 || a.q_len < 0 || a.kv_len < 0 || a.q_position < 0)
    invalid("negative size: batch " + str(a.batch) + ", q_len " + str(a.q_len) + ", kv_len " + str(a.kv_len) + ", q_position " +
            str(a.q_position));
  if (a.kv_len > a.kv_rows) invalid("kv_len " + str(a.kv_len) + " exceeds kv_rows " + str(a.kv_rows));
  if (a.kv_share < 1 || a.batch % a.kv_share != 0)
    invalid("kv_share " + str(a.kv_share) + " must be >= 1 and divide the batch " + str(a.batch));
  if (a.documents && a.q_len != a.kv_len)
    invalid("packed documents need q_len == kv_len (got " + str(a.q_len) + " and " + str(a.kv_len) + ")");
  const std::int64_t inner = a.heads * a.head_dim;
  if (a.q.cols != inner || a.out.cols != inner)
    invalid("q has " + str(a.q.cols) + " and out " + str(a.out.cols) + " columns, expected heads * head_dim = " + str(inner));
  const std::int64_t rows = a.batch * a.q_len;
  const std::int64_t kv_rows_total = a.batch / a.kv_share * a.kv_rows;
  check_view(a.q, "q", rows, inner);
  check_view(ConstMatrixView<T, DeviceSpace>(a.out), "out", rows, inner);
  check_view(a.k, "k", a.kv_len > 0 ? kv_rows_total : 0, inner);
  check_view(a.v, "v", a.kv_len > 0 ? kv_rows_total : 0, inner);
  if (a.key_mask && a.key_mask_ld < a.kv_len) invalid("key_mask_ld " + str(a.key_mask_ld) + " is below kv_len " + str(a.kv_len));
  if (a.bias.table) {
    if (!a.bias.buckets) invalid("a bias table needs its buckets");
    if (a.bias.reach < 0 || a.bias.reach > max_reach)
      invalid("bias reach " + str(a.bias.reach) + " is outside [0, " + str(max_reach) +
              "]: the per-distance bias must fit in shared memory");
  }
  if (rows == 0) return;
  if (a.heads > INT_MAX / a.batch) invalid("batch " + str(a.batch) + " times heads " + str(a.heads) + " exceeds the grid limit");

  Params<N> p{};
  p.q = reinterpret_cast<const N*>(a.q.data);
  p.k = reinterpret_cast<const N*>(a.k.data);
  p.v = reinterpret_cast<const N*>(a.v.data);
  p.out = reinterpret_cast<N*>(a.out.data);
  p.q_ld = a.q.ld;
  p.k_ld = a.k.ld;
  p.v_ld = a.v.ld;
  p.out_ld = a.out.ld;
  p.q_len = a.q_len;
  p.kv_rows = a.kv_rows;
  p.kv_len = a.kv_len;
  p.kv_share = static_cast<int>(a.kv_share);
  p.heads = static_cast<int>(a.heads);
  p.q_position = a.q_position;
  p.key_mask = a.key_mask;
  p.key_mask_ld = a.key_mask_ld;
  p.documents = a.documents;
  p.bias_table = a.bias.table;
  p.buckets = a.bias.table ? a.bias.buckets : nullptr;
  p.reach = a.bias.table ? static_cast<int>(a.bias.reach) : 0;
  p.head_dim = static_cast<int>(a.head_dim);
  p.scale = a.scale;
  p.causal = a.causal;
  p.q_tiles = 1;
  p.slices = 1;
  p.splits = 1;
  p.split_len = a.kv_len;

  if (a.q_len == 1 && has_decode_kernel(a.head_dim)) {
    p.splits = static_cast<int>(decode_splits(a.head_dim, a.kv_len));
    p.split_len = (a.kv_len + p.splits - 1) / p.splits;
    const std::size_t need = attention_workspace_bytes(a.batch, 1, a.heads, a.head_dim, a.kv_len);
    if (workspace_bytes < need || (need > 0 && workspace == nullptr))
      invalid("the workspace holds " + std::to_string(workspace_bytes) + " bytes, this decode step needs " + std::to_string(need) +
              " (attention_workspace_bytes)");
    p.partials = static_cast<float*>(workspace);
    if (a.head_dim == 64) launch_decode<N, 64>(p, rows, stream);
    else launch_decode<N, 128>(p, rows, stream);
    return;
  }
  if (a.head_dim == 64) launch_prefill<N, 64>(p, a.batch, stream);
  else if (a.head_dim == 128) launch_prefill<N, 128>(p, a.batch, stream);
  else launch_prefill<N, 0>(p, a.batch, stream);
}

template void launch_attention<f16>(const AttentionArgs<f16, DeviceSpace>&, void*, std::size_t, Stream);
template void launch_attention<bf16>(const AttentionArgs<bf16, DeviceSpace>&, void*, std::size_t, Stream);

}  // namespace t5::cuda
