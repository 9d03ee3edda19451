// The pieces every T5 layer shares, written once over the Backend concept: the activation scratch
// of a forward pass, the residual RMSNorm step and the feed-forward sublayer.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "t5/config/hparams.hpp"
#include "t5/config/variant.hpp"
#include "t5/core/backend.hpp"
#include "t5/core/observer.hpp"
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
  const LayerObserver* observer = nullptr;      ///< shown each sublayer output when set (core/observer.hpp)
  std::vector<float> observed;                  ///< the observer's host copy
  std::vector<Act> observed_raw;               ///< its download in the activation dtype, before widening

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

/// Shows `view` to the observer as "<stack>.<name>" of `layer`, times `unscale` (which undoes an
/// FfnScales scale: a power of two, exact): nothing happens unless an observer is set.
template <Backend B, class U>
void observe(B& b, Activations<B>& act, std::string_view stack, std::string_view name, std::int64_t layer,
             MatrixView<U, typename B::Space> view, float unscale = 1.0f) {
  if (act.observer == nullptr || !*act.observer) return;
  const auto size = static_cast<std::size_t>(view.rows * view.cols);
  act.observed.resize(size);
  if constexpr (std::is_same_v<std::remove_const_t<U>, float>) {
    for (std::int64_t r = 0; r < view.rows; ++r)
      b.download(view.row(r), std::span<float>(act.observed.data() + r * view.cols, static_cast<std::size_t>(view.cols)));
  } else {
    act.observed_raw.resize(size);
    for (std::int64_t r = 0; r < view.rows; ++r)
      b.download(view.row(r), std::span<typename B::Act>(act.observed_raw.data() + r * view.cols, static_cast<std::size_t>(view.cols)));
    for (std::size_t i = 0; i < size; ++i) act.observed[i] = to_float(act.observed_raw[i]);
  }
  if (unscale != 1.0f)
    for (float& v : act.observed) v *= unscale;
  (*act.observer)(std::string(stack) + "." + std::string(name), layer, Observed{act.observed, view.rows, view.cols});
}

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

/// residual += wo(act(wi x)): HF T5DenseActDense (ReLU) or T5DenseGatedActDense (GELU(wi_0 x) * wi_1 x),
/// with the weights' FfnScales applied to what is stored in the activation dtype and undone in fp32.
template <VariantLike V, Backend B>
void feed_forward(B& b, const FfnWeights<B>& w, Activations<B>& act, ConstMatrixView<typename B::Act, typename B::Space> x,
                  MatrixView<float, typename B::Space> residual, std::string_view stack, std::int64_t layer) {
  const std::int64_t rows = x.rows;
  const FfnScales s = V::gated ? w.scales : FfnScales{w.scales.in, w.scales.in};
  auto in = act.ffn_in.view().rows_from(0, rows);  // [rows, d_ff or 2 * d_ff]
  b.linear(x, w.in, in, s.in);
  observe(b, act, stack, "ffn.in", layer, in, 1.0f / s.in);
  auto hidden = act.ffn_hidden.view().rows_from(0, rows);  // [rows, d_ff] (gated)
  if constexpr (V::gated) b.gated_gelu(in, hidden, V::gelu, s);
  else b.relu(in);
  const auto wo_input = V::gated ? hidden : in;
  observe(b, act, stack, "ffn.hidden", layer, wo_input, 1.0f / s.hidden);
  b.linear_add(wo_input, w.out, residual, 1.0f / s.hidden);
  observe(b, act, stack, "ffn.residual", layer, residual);
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
