// The T5 decoder stack (HF T5Stack with is_decoder) and the LM head, written once over the Backend
// concept. Teacher forcing and incremental decoding are the same call: each call appends q_len
// tokens per row to self-attention caches allocated once (by generation/decoder_state.hpp), and
// attends causally to all of them.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

#include "t5/model/layers.hpp"

namespace t5 {

/// What a decoder call attends to, in backend memory: per layer, the self-attention cache it
/// appends to and the cross-attention K/V of the encoder output, with their masks. Views of the
/// caches generation/decoder_state.hpp allocates and owns.
template <Backend B>
struct DecoderCaches {
  using Act = typename B::Act;
  std::span<typename B::template Buffer<Act>> self_kv;         ///< per layer [rows * capacity, 2 * inner]: k | v
  std::span<const typename B::template Buffer<Act>> cross_kv;  ///< per layer [inputs * encoder_length, 2 * inner]: k | v
  const std::uint8_t* self_mask = nullptr;     ///< [rows, capacity], 1 = token
  const std::uint8_t* encoder_mask = nullptr;  ///< [inputs, encoder_length], 1 = token
  std::int64_t rows = 0;            ///< decoder rows
  std::int64_t rows_per_input = 1;  ///< consecutive rows sharing one input's cross-attention K/V (its beams or samples)
  std::int64_t capacity = 0;        ///< positions each row's self-attention cache holds
  std::int64_t length = 0;          ///< positions already cached
  std::int64_t encoder_length = 0;
};

/// kv[l] = [k | v] of decoder layer l's cross-attention for the encoder output `encoded`
/// [inputs * encoder_length, d_model]; HF computes them at the first step and reuses them.
template <Backend B>
void project_cross_kv(B& b, std::type_identity_t<std::span<const DecoderLayerWeights<B>>> layers, ConstMatrixView<typename B::Act, typename B::Space> encoded,
                      std::span<typename B::template Buffer<typename B::Act>> kv) {
  for (std::size_t l = 0; l < layers.size(); ++l) b.linear(encoded, layers[l].cross_attention.kv, kv[l].view());
}

/// Runs `q_len` new tokens per row (ids [rows, q_len] in backend memory) through the decoder at
/// positions c.length .. + q_len - 1, writes their K/V into the caches there, and writes the final
/// normed hidden states [rows * q_len, d_model] to `out`. The caches' owner then counts the q_len
/// positions as cached. `buckets` is the causal RelativeBuckets table.
template <VariantLike V, Backend B>
void run_decoder(B& b, const ModelWeights<V, B>& w, const Hparams& h, const DecoderCaches<B>& c, const std::int32_t* ids,
                 std::int64_t q_len, PositionBiasArgs buckets, Activations<B>& act, MatrixView<typename B::Act, typename B::Space> out) {
  if (c.length + q_len > c.capacity)
    throw Error(ErrorCode::InvalidArgument, "decoder: " + std::to_string(c.length + q_len) + " positions exceed the cache capacity " +
                                                std::to_string(c.capacity));
  const std::int64_t rows = c.rows * q_len, inner = h.inner_dim();
  auto residual = act.residual.view().rows_from(0, rows);  // [rows, d_model] fp32
  auto x = act.normed.view().rows_from(0, rows);           // [rows, d_model]
  auto qkv = act.qkv.view().rows_from(0, rows);            // [rows, 3 * inner]
  auto attended = act.attention.view().rows_from(0, rows); // [rows, inner]
  auto cross_q = act.cross_q.view().rows_from(0, rows);    // [rows, inner]

  constexpr std::string_view stack = "decoder";
  b.embed(ids, w.embedding.view(), residual);
  observe(b, act, stack, "embedding", -1, residual);
  for (std::size_t i = 0; i < w.decoder.size(); ++i) {
    const auto& layer = w.decoder[i];
    const auto l = static_cast<std::int64_t>(i);
    auto cache = c.self_kv[i].view();  // [rows * capacity, 2 * inner]

    norm(b, residual, layer.self_attention_norm, x, h);
    observe(b, act, stack, "self_attention.normed", l, x);
    b.linear(x, layer.self_attention.qkv, qkv);
    observe(b, act, stack, "self_attention.qkv", l, qkv);
    for (std::int64_t r = 0; r < c.rows; ++r)
      b.copy(qkv.rows_from(r * q_len, q_len).cols_from(inner, 2 * inner), cache.rows_from(r * c.capacity + c.length, q_len));
    auto self = attention_args<V, B>(h, c.rows, q_len);
    self.q = qkv.cols_from(0, inner);
    self.k = cache.cols_from(0, inner);
    self.v = cache.cols_from(inner, inner);
    self.out = attended;
    self.kv_rows = c.capacity;
    self.kv_len = c.length + q_len;
    self.q_position = c.length;
    self.causal = true;
    self.key_mask = c.self_mask;
    self.key_mask_ld = c.capacity;
    self.bias = buckets;
    self.bias.table = w.decoder_bias(i).data();
    b.attention(self);
    observe(b, act, stack, "self_attention.context", l, attended);
    b.linear_add(attended, layer.self_attention.o, residual);
    observe(b, act, stack, "self_attention.residual", l, residual);

    // Cross-attention: queries from this norm, keys and values from the encoder output; no position bias.
    norm(b, residual, layer.cross_attention_norm, x, h);
    observe(b, act, stack, "cross_attention.normed", l, x);
    b.linear(x, layer.cross_attention.q, cross_q);
    observe(b, act, stack, "cross_attention.q", l, cross_q);
    auto kv = c.cross_kv[i].view();  // [inputs * encoder_length, 2 * inner]
    auto cross = attention_args<V, B>(h, c.rows, q_len);
    cross.q = cross_q;
    cross.k = kv.cols_from(0, inner);
    cross.v = kv.cols_from(inner, inner);
    cross.out = attended;
    cross.kv_rows = cross.kv_len = c.encoder_length;
    cross.kv_share = c.rows_per_input;
    cross.key_mask = c.encoder_mask;
    cross.key_mask_ld = c.encoder_length;
    b.attention(cross);
    observe(b, act, stack, "cross_attention.context", l, attended);
    b.linear_add(attended, layer.cross_attention.o, residual);
    observe(b, act, stack, "cross_attention.residual", l, residual);

    norm(b, residual, layer.ffn_norm, x, h);
    observe(b, act, stack, "ffn.normed", l, x);
    feed_forward<V>(b, layer.ffn, act, x, residual, stack, l);
  }
  norm(b, residual, w.decoder_stack.final_norm, out, h);
  observe(b, act, stack, "final_norm", -1, out);
}

/// logits [rows, vocab] = hidden W^T: the untied lm_head, or (v1.0, tied) the embedding with the
/// hidden states scaled by d_model^-0.5 first (HF T5ForConditionalGeneration).
template <VariantLike V, Backend B>
void lm_head(B& b, const ModelWeights<V, B>& w, const Hparams& h, ConstMatrixView<typename B::Act, typename B::Space> hidden,
             MatrixView<float, typename B::Space> logits) {
  const float scale = V::tied_lm_head ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(h.d_model))) : 1.0f;
  b.linear(hidden, w.lm_head, logits, scale);
}

}  // namespace t5
