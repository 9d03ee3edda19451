// Declarations of the CUDA launchers compiled in kernels/ (one .cu file per op, explicitly
// instantiated there for f16 and bf16, and float where a test wants an fp32 kernel). No CUDA header
// is needed to call them: a stream is CUDA's opaque handle. Every launcher checks its sizes (throwing
// Error(InvalidArgument)), does nothing for zero rows, and throws Error(Cuda) if the launch fails.
#pragma once

#include <cstddef>
#include <cstdint>

#include "t5/core/dtype.hpp"
#include "t5/core/ops.hpp"
#include "t5/core/policies.hpp"
#include "t5/core/tensor.hpp"
#include "t5/cuda/device.hpp"

namespace t5::cuda {

/// Residual RMSNorm on device pointers, one block per row; contract in core/ops.hpp.
template <class T>
void launch_rms_norm(const RmsNormParams<T>& params, Stream stream = nullptr);

/// residual[r, :] = float(table[ids[r], :]): the fp32 residual stream starts from the embeddings.
/// Every id must be in [0, vocab) (the host validated them).
template <class T>
struct EmbedParams {
  const std::int32_t* ids = nullptr;  ///< [rows]
  const T* table = nullptr;           ///< [vocab, dim], rows table_ld apart
  std::int64_t table_ld = 0;
  float* residual = nullptr;          ///< [rows, dim], rows residual_ld apart
  std::int64_t residual_ld = 0;
  std::int64_t rows = 0;
  std::int64_t dim = 0;
};
template <class T>
void launch_embed(const EmbedParams<T>& params, Stream stream = nullptr);

/// x = max(x, 0) in place (T5DenseActDense's ReLU on the wi output).
template <class T>
struct ReluParams {
  T* x = nullptr;  ///< [rows, cols], rows ld apart
  std::int64_t ld = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
};
template <class T>
void launch_relu(const ReluParams<T>& params, Stream stream = nullptr);

/// out = GELU(gate) * up with in = [gate | up] (wi_0 then wi_1 fused, each `cols` wide), in fp32,
/// rounded once: HF T5DenseGatedActDense. approx Tanh = gelu_new, Erf = exact gelu. With scales:
/// out = scales.hidden * GELU(gate / scales.in) * up / scales.in (core/ops.hpp FfnScales).
template <class T>
struct GatedGeluParams {
  const T* in = nullptr;  ///< [rows, 2 * cols], rows in_ld apart
  std::int64_t in_ld = 0;
  T* out = nullptr;       ///< [rows, cols], rows out_ld apart
  std::int64_t out_ld = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  GeluApprox approx = GeluApprox::Tanh;
  FfnScales scales = {};
};
template <class T>
void launch_gated_gelu(const GatedGeluParams<T>& params, Stream stream = nullptr);

/// Beam reordering of a cache made of `blocks` blocks of `block_rows` rows (one block per decoder
/// row, one row per position): for every block r, rows [0, used_rows) of dst block r become rows
/// [0, used_rows) of src block parents[r]. src and dst must not overlap.
template <class T>
struct GatherBlocksParams {
  const T* src = nullptr;  ///< [blocks * block_rows, cols], rows src_ld apart
  std::int64_t src_ld = 0;
  T* dst = nullptr;        ///< same shape, rows dst_ld apart
  std::int64_t dst_ld = 0;
  const std::int32_t* parents = nullptr;  ///< [blocks], each in [0, blocks)
  std::int64_t blocks = 0;
  std::int64_t block_rows = 0;  ///< rows per block (the cache capacity)
  std::int64_t used_rows = 0;   ///< rows copied per block (the positions in use)
  std::int64_t cols = 0;
};
template <class T>
void launch_gather_blocks(const GatherBlocksParams<T>& params, Stream stream = nullptr);

/// out[r] = the first index of the largest value of row r (torch.argmax's tie rule; NaN counts as
/// the largest value, as in torch).
struct ArgmaxParams {
  const float* logits = nullptr;  ///< [rows, cols], rows ld apart
  std::int64_t ld = 0;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int32_t* out = nullptr;    ///< [rows]
};
void launch_argmax(const ArgmaxParams& params, Stream stream = nullptr);

/// One sampling draw per row from the warped scores, with the rule of cpu/sampling.hpp exactly:
/// temperature, then top-k (ties with the k-th kept), then HF's top-p, then the draw
/// u = philox_uniform(philox4x32({step, r % samples_per_key, key lo, key hi}, {seed lo, seed hi})) with
/// key = row_keys[r / samples_per_key], and the token is the first index, in vocabulary order, where the
/// running sum of exp(s - max) in double exceeds u times the total. -inf scores (processed away on
/// the host) are never drawn; a row with none left gets -1.
struct SampleParams {
  const float* logits = nullptr;  ///< [rows, vocab], rows ld apart; not modified
  std::int64_t ld = 0;
  std::int64_t rows = 0;
  std::int64_t vocab = 0;
  float temperature = 1.0f;       ///< > 0
  std::int64_t top_k = 0;         ///< 0: off
  float top_p = 1.0f;             ///< in (0, 1]; 1: off
  std::uint64_t seed = 0;
  const std::uint64_t* row_keys = nullptr;  ///< [rows / samples_per_key] device memory: each input's stream key
  std::int64_t samples_per_key = 1;
  std::int64_t step = 0;
  float* workspace = nullptr;     ///< device scratch of sample_workspace_bytes(rows, vocab)
  std::int32_t* out = nullptr;    ///< [rows]
};
std::size_t sample_workspace_bytes(std::int64_t rows, std::int64_t vocab);
void launch_sample(const SampleParams& params, Stream stream = nullptr);

/// Attention of core/ops.hpp's AttentionArgs on device views, T5's relative position bias computed
/// inside the kernel from (query, key) positions (never materialised as [heads, q, k]). Queries of
/// prefill and teacher forcing run a flash-style kernel; one query per row (decoding) runs a kernel
/// split over the keys when they are many. `workspace` holds the split partials: at least
/// attention_workspace_bytes(batch, q_len, heads, head_dim, kv_len) bytes (may be null when that is 0;
/// it is 0 unless q_len is 1).
std::size_t attention_workspace_bytes(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t head_dim, std::int64_t kv_len);
template <class T>
void launch_attention(const AttentionArgs<T, DeviceSpace>& args, void* workspace, std::size_t workspace_bytes, Stream stream = nullptr);

}  // namespace t5::cuda
