// The Backend concept: every op the T5 dataflow (model/encoder.hpp, model/decoder.hpp) calls, with
// its exact signature. cpu::Backend implements it with Eigen; cuda::Backend with cuBLASLt and the
// kernels/ launchers. Pointers and views live in the backend's memory space.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>

#include "t5/config/policies.hpp"
#include "t5/core/ops.hpp"
#include "t5/core/tensor.hpp"

namespace t5 {

/// T5's relative position bias as attention reads it: bias(h, query i, key j) =
/// table[bucket(j - i), h], with the bucket from a RelativeBuckets table (model/relative_position.hpp).
struct PositionBiasArgs {
  const float* table = nullptr;           ///< [num_buckets, heads]; nullptr: no bias (cross-attention)
  const std::int32_t* buckets = nullptr;  ///< bucket of distance d at [d + reach], d in [-reach, reach]
  std::int64_t reach = 0;                 ///< farther distances clamp to +-reach
};

/// One attention call over a batch, all heads: out = softmax(scale * q k^T + bias, visible keys) v.
/// Key j of batch row b is visible to query i when key_mask[b / kv_share, j] is set, j <= its position when
/// causal, and its document equals the query's when documents are given. A query with no visible
/// key outputs zeros (HF would spread it uniformly over masked keys; no T5 input produces one).
template <class T, class Space>
struct AttentionArgs {
  ConstMatrixView<T, Space> q;  ///< [batch * q_len, heads * head_dim]; head h in columns [h * head_dim, (h + 1) * head_dim)
  ConstMatrixView<T, Space> k;  ///< [batch * kv_rows, heads * head_dim]; row b * kv_rows + j holds key j of row b
  ConstMatrixView<T, Space> v;  ///< as k
  MatrixView<T, Space> out;     ///< [batch * q_len, heads * head_dim]
  std::int64_t batch = 0;
  std::int64_t q_len = 0;
  std::int64_t kv_rows = 0;     ///< rows reserved per batch row in k and v (a cache's capacity)
  std::int64_t kv_len = 0;      ///< keys in use per batch row, <= kv_rows
  /// Consecutive batch rows that read the same keys, values and key mask: row b reads those of key
  /// row b / kv_share (the beams or samples of one input share its cross-attention K/V).
  std::int64_t kv_share = 1;
  std::int64_t heads = 0;
  std::int64_t head_dim = 0;
  std::int64_t q_position = 0;  ///< position of query 0 among the keys (the tokens already cached)
  float scale = 1.0f;           ///< T5: 1 (Google folded 1/sqrt(d_kv) into the q weights)
  bool causal = false;
  const std::uint8_t* key_mask = nullptr;   ///< [batch, key_mask_ld], 1 = visible; nullptr: all visible
  std::int64_t key_mask_ld = 0;
  const std::int32_t* documents = nullptr;  ///< [batch, q_len] packed document ids (requires q_len == kv_len); nullptr: none
  PositionBiasArgs bias;
};

/// What the dataflow needs from a backend. `Act` is the activation and weight dtype; the residual
/// stream, logits and bias tables are float32 on every backend.
template <class B>
concept Backend = requires(B& b, const B& cb, typename B::Act* act, const typename B::Act* cact, float* f32, const float* cf32,
                           const std::int32_t* ids, std::int32_t* out_ids, std::int64_t n) {
  typename B::Act;
  typename B::Space;
  typename B::template Buffer<float>;
  { b.template allocate<float>(n, n) } -> std::same_as<typename B::template Buffer<float>>;
  { b.template upload<float>(std::span<const float>{}, n, n) } -> std::same_as<typename B::template Buffer<float>>;
  b.template download<float>(cf32, std::span<float>{});
  b.template upload_into<std::int32_t>(std::span<const std::int32_t>{}, out_ids);
  b.embed(ids, ConstMatrixView<typename B::Act, typename B::Space>{}, MatrixView<float, typename B::Space>{});
  b.rms_norm(RmsNormParams<typename B::Act>{});
  b.linear(ConstMatrixView<typename B::Act, typename B::Space>{}, ConstMatrixView<typename B::Act, typename B::Space>{},
           MatrixView<typename B::Act, typename B::Space>{});
  b.linear(ConstMatrixView<typename B::Act, typename B::Space>{}, ConstMatrixView<typename B::Act, typename B::Space>{},
           MatrixView<float, typename B::Space>{}, 1.0f);
  b.linear_add(ConstMatrixView<typename B::Act, typename B::Space>{}, ConstMatrixView<typename B::Act, typename B::Space>{},
               MatrixView<float, typename B::Space>{});
  b.relu(MatrixView<typename B::Act, typename B::Space>{});
  b.gated_gelu(ConstMatrixView<typename B::Act, typename B::Space>{}, MatrixView<typename B::Act, typename B::Space>{}, GeluApprox::Tanh);
  b.attention(AttentionArgs<typename B::Act, typename B::Space>{});
  b.copy(ConstMatrixView<typename B::Act, typename B::Space>{}, MatrixView<typename B::Act, typename B::Space>{});
  b.argmax(ConstMatrixView<float, typename B::Space>{}, out_ids);
};

}  // namespace t5
