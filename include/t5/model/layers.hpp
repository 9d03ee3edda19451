// The pieces every T5 layer shares, written once over the Backend concept: the activation scratch
// of a forward pass, the residual RMSNorm step and the feed-forward sublayer.
#pragma once

#include <cmath>
#include <cstdint>

#include "t5/config/hparams.hpp"
#include "t5/config/variant.hpp"
#include "t5/core/backend.hpp"
#include "t5/model/weights.hpp"

namespace t5 {

/// Scratch for one forward pass over up to `capacity` token rows, allocated once (a decode loop
/// sizes it for one step of the whole batch and reuses it). Views are taken over the rows in use.
template <Backend B>
struct Activations {
  using Act = typename B::Act;
  std::int64_t capacity = 0;
  typename B::template Buffer<float> residual;  ///< [rows, d_model] the fp32 residual stream
  typename B::template Buffer<Act> normed;      ///< [rows, d_model] a norm's output, a sublayer's input
  typename B::template Buffer<Act> qkv;         ///< [rows, 3 * inner] fused self-attention projections
  typename B::template Buffer<Act> attention;   ///< [rows, inner] attention output before o
  typename B::template Buffer<Act> cross_q;     ///< [rows, inner] cross-attention queries
  typename B::template Buffer<Act> ffn_in;      ///< [rows, d_ff or 2 * d_ff] wi (or wi_0 | wi_1) output
  typename B::template Buffer<Act> ffn_hidden;  ///< [rows, d_ff] GELU(gate) * up (gated FFNs)

  Activations(B& b, const Hparams& h, bool gated, std::int64_t rows)
      : capacity(rows),
        residual(b.template allocate<float>(rows, h.d_model)),
        normed(b.template allocate<Act>(rows, h.d_model)),
        qkv(b.template allocate<Act>(rows, 3 * h.inner_dim())),
        attention(b.template allocate<Act>(rows, h.inner_dim())),
        cross_q(b.template allocate<Act>(rows, h.inner_dim())),
        ffn_in(b.template allocate<Act>(rows, (gated ? 2 : 1) * h.d_ff)),
        ffn_hidden(b.template allocate<Act>(gated ? rows : 0, h.d_ff)) {}
};

/// normed = RMSNorm(residual) * gain, the residual already holding the sum (out-projections add
/// into it). HF T5LayerNorm: no mean subtraction, no bias.
template <Backend B>
void norm(B& b, MatrixView<float, typename B::Space> residual, const F32Weight<B>& gain,
          MatrixView<typename B::Act, typename B::Space> normed, const Hparams& h) {
  RmsNormParams<typename B::Act> p;
  p.residual = residual.data;
  p.gain = gain.data();
  p.out = normed.data;
  p.rows = residual.rows;
  p.dim = residual.cols;
  p.eps = static_cast<float>(h.eps);
  p.mode = ResidualMode::InPlace;
  b.rms_norm(p);
}

/// residual += wo(act(wi x)): HF T5DenseActDense (ReLU) or T5DenseGatedActDense (GELU(wi_0 x) * wi_1 x).
template <VariantLike V, Backend B>
void feed_forward(B& b, const FfnWeights<B>& w, Activations<B>& act, ConstMatrixView<typename B::Act, typename B::Space> x,
                  MatrixView<float, typename B::Space> residual) {
  const std::int64_t rows = x.rows;
  auto in = act.ffn_in.view().rows_from(0, rows);  // [rows, d_ff or 2 * d_ff]
  b.linear(x, w.in, in);
  if constexpr (V::gated) {
    auto hidden = act.ffn_hidden.view().rows_from(0, rows);  // [rows, d_ff]
    b.gated_gelu(in, hidden, V::gelu);
    b.linear_add(hidden, w.out, residual);
  } else {
    b.relu(in);
    b.linear_add(in, w.out, residual);
  }
}

/// The fields every attention call of the model shares: batch, queries per row, heads, head size
/// and the scale (1, or 1/sqrt(d_kv) by the attention-scale policy).
template <VariantLike V, Backend B>
AttentionArgs<typename B::Act, typename B::Space> attention_args(const Hparams& h, std::int64_t batch, std::int64_t q_len) {
  AttentionArgs<typename B::Act, typename B::Space> a;
  a.batch = batch;
  a.q_len = q_len;
  a.heads = h.num_heads;
  a.head_dim = h.d_kv;
  a.scale = V::scaled_attention ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(h.d_kv))) : 1.0f;
  return a;
}

}  // namespace t5
