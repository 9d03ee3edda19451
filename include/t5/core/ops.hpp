// Parameter structs of the ops that both backends implement (norm, attention, sampling): the CPU
// version in cpu/, the CUDA launcher in cuda/launch.hpp (kernels/). Pointers are host or device
// memory according to the backend that receives the struct.
#pragma once

#include <cstdint>

#include "t5/core/tensor.hpp"

namespace t5 {

/// Whether the norm starts the fp32 residual stream (from the embeddings), adds a sublayer's output
/// to it, or finds the sum already there (an out-projection that accumulated into the residual).
enum class ResidualMode : std::uint8_t { Start, Update, InPlace };

/// RMSNorm that manages the fp32 residual (HF T5LayerNorm, with the residual add folded in):
///   s        = float(x) (Start), residual + float(x) (Update) or residual (InPlace, x unused)
///   out      = T(s * rsqrt(mean(s^2) + eps) * gain), computed in fp32 and rounded once
///   residual = s * residual_scale          (the norm uses the unscaled s)
/// T is the activation dtype (float, f16 or bf16). T5 has no mean subtraction and no bias.
template <class T>
struct RmsNormParams {
  const T* x = nullptr;        ///< [rows, dim] sublayer output or embeddings; unused by InPlace
  float* residual = nullptr;   ///< [rows, dim] fp32 residual stream, read (Update) and written
  const float* gain = nullptr; ///< [dim]
  T* out = nullptr;            ///< [rows, dim] normalised activations
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  float eps = 1e-6f;
  float residual_scale = 1.0f;  ///< power-of-two fp16 scaling of the residual; 1 = none
  ResidualMode mode = ResidualMode::Update;
};

/// Power-of-two scales that keep a feed-forward finite in f16 (model/fp16_scales.hpp finds them; 1:
/// none). The wi output is stored times `in`, the hidden (the wo input: GELU(gate) * up, or the
/// ReLU output) times `hidden`; both are undone in fp32, where no rounding to f16 happens: GELU sees
/// the true gate, and the out-projection adds 1 / hidden times its product to the fp32 residual.
/// ReLU commutes with the scale, so a ReLU feed-forward's hidden scale is its `in`.
struct FfnScales {
  float in = 1.0f;
  float hidden = 1.0f;
  bool operator==(const FfnScales&) const = default;
};

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

/// The token argmax and sample write for a row whose logits hold a NaN or an infinity (a draw
/// that leaves no token writes -1): the generation loop turns it into Error(NonFinite).
inline constexpr std::int32_t nonfinite_token = -2;

/// One sampling draw per row of [rows, vocab] logits, on the backend: cpu/sampling.hpp's
/// warpers (temperature, top-k, top-p) and its draw. Row r is sample r % samples_per_key of the input
/// keyed row_keys[r / samples_per_key]; `step` is the draw's step.
struct SampleArgs {
  float temperature = 1.0f;
  std::int64_t top_k = 0;  ///< 0: off
  float top_p = 1.0f;      ///< 1: off
  std::uint64_t seed = 0;
  const std::uint64_t* row_keys = nullptr;  ///< [rows / samples_per_key], backend memory
  std::int64_t samples_per_key = 1;
  std::int64_t step = 0;
};

}  // namespace t5
