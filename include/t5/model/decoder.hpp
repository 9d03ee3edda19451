// The T5 decoder stack (HF T5Stack with is_decoder) and the LM head, written once over the Backend
// concept. Teacher forcing and incremental decoding are the same call: each call appends q_len
// tokens per row to a self-attention cache allocated once, and attends causally to all of it.
#pragma once

#include <cmath>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "t5/model/layers.hpp"

namespace t5 {

/// How decoder rows map onto encoder rows, and the cache they need.
struct DecoderLayout {
  std::int64_t inputs = 0;          ///< encoder rows
  std::int64_t rows_per_input = 1;  ///< decoder rows per encoder row (beams or samples), sharing its cross-attention K/V
  std::int64_t capacity = 0;        ///< positions the self-attention cache holds per decoder row
  bool reorderable = false;         ///< allocate the scratch reorder_cache needs (beam search)
  std::int64_t rows() const { return inputs * rows_per_input; }
};

/// What the decoder keeps across calls for one batch: the self-attention K/V cache of every layer
/// (allocated once for `capacity` positions per decoder row), the cross-attention K/V of every layer
/// (computed once per encoder row, shared by its decoder rows), and the masks.
template <Backend B>
struct DecoderState {
  using Act = typename B::Act;
  DecoderLayout layout;
  std::int64_t batch = 0;     ///< decoder rows
  std::int64_t capacity = 0;  ///< positions the self-attention cache holds per row
  std::int64_t length = 0;    ///< positions already in the cache
  std::int64_t encoder_length = 0;
  std::vector<typename B::template Buffer<Act>> self_kv;   ///< per layer [batch * capacity, 2 * inner]: k | v
  std::vector<typename B::template Buffer<Act>> cross_kv;  ///< per layer [inputs * encoder_length, 2 * inner]: k | v
  typename B::template Buffer<Act> reorder_scratch;        ///< [batch * capacity, 2 * inner] when reorderable
  typename B::template Buffer<std::int32_t> parents;       ///< [batch, 1] reorder_cache's parents, when reorderable
  typename B::template Buffer<std::uint8_t> self_mask;     ///< [batch, capacity] decoder padding, 1 = token
  typename B::template Buffer<std::uint8_t> encoder_mask;  ///< [inputs, encoder_length], 1 = token

  /// Bytes of K/V held: the self-attention caches, the cross-attention K/V and the reorder scratch.
  std::size_t cache_bytes() const {
    std::size_t n = reorder_scratch.bytes();
    for (const auto& kv : self_kv) n += kv.bytes();
    for (const auto& kv : cross_kv) n += kv.bytes();
    return n;
  }
};

/// Allocates the caches and computes the cross-attention K/V of every layer from the encoder
/// output `encoded` [inputs * encoder_length, d_model] (HF computes them at the first step and
/// reuses them). `encoder_mask` and `self_mask` are host vectors [inputs, encoder_length] and
/// [decoder rows, capacity].
template <VariantLike V, Backend B>
DecoderState<B> start_decoder(B& b, const ModelWeights<V, B>& w, const Hparams& h, ConstMatrixView<typename B::Act, typename B::Space> encoded,
                              const DecoderLayout& layout, std::span<const std::uint8_t> encoder_mask, std::span<const std::uint8_t> self_mask) {
  using Act = typename B::Act;
  DecoderState<B> s;
  s.layout = layout;
  s.batch = layout.rows();
  s.capacity = layout.capacity;
  s.encoder_length = encoded.rows / layout.inputs;
  const std::int64_t inner = h.inner_dim();
  for (const auto& layer : w.decoder) {
    s.self_kv.push_back(b.template allocate<Act>(s.batch * s.capacity, 2 * inner));
    s.cross_kv.push_back(b.template allocate<Act>(encoded.rows, 2 * inner));
    b.linear(encoded, layer.cross_attention.kv.view(), s.cross_kv.back().view());
  }
  if (layout.reorderable) {
    s.reorder_scratch = b.template allocate<Act>(s.batch * s.capacity, 2 * inner);
    s.parents = b.template allocate<std::int32_t>(s.batch, 1);
  }
  s.encoder_mask = b.template upload<std::uint8_t>(encoder_mask, layout.inputs, s.encoder_length);
  s.self_mask = b.template upload<std::uint8_t>(self_mask, s.batch, s.capacity);
  return s;
}

/// Beam search: row r continues from row parents[r], so its self-attention cache becomes a copy of
/// that row's: one gather per layer into the preallocated scratch, which then becomes the layer's
/// cache (the old cache is the next layer's scratch). Nothing moves when every row keeps its own.
template <Backend B>
void reorder_cache(B& b, DecoderState<B>& s, std::span<const std::int32_t> parents) {
  bool moved = false;
  for (std::size_t r = 0; r < parents.size(); ++r) moved = moved || parents[r] != static_cast<std::int32_t>(r);
  if (s.length == 0 || !moved) return;
  b.upload_into(parents, s.parents.data());
  for (auto& kv : s.self_kv) {
    b.gather_blocks(kv.view(), s.parents.data(), s.capacity, s.length, s.reorder_scratch.view());
    std::swap(kv, s.reorder_scratch);
  }
}

/// Runs `q_len` new tokens per row (ids [batch, q_len] in backend memory) through the decoder at
/// positions state.length .. + q_len - 1, appends their K/V to the cache, and writes the final
/// normed hidden states [batch * q_len, d_model] to `out`. `buckets` is the causal RelativeBuckets
/// table.
template <VariantLike V, Backend B>
void run_decoder(B& b, const ModelWeights<V, B>& w, const Hparams& h, DecoderState<B>& state, const std::int32_t* ids,
                 std::int64_t q_len, PositionBiasArgs buckets, Activations<B>& act, MatrixView<typename B::Act, typename B::Space> out) {
  if (state.length + q_len > state.capacity)
    throw Error(ErrorCode::InvalidArgument, "decoder: " + std::to_string(state.length + q_len) + " positions exceed the cache capacity " +
                                                std::to_string(state.capacity));
  const std::int64_t rows = state.batch * q_len, inner = h.inner_dim();
  auto residual = act.residual.view().rows_from(0, rows);  // [rows, d_model] fp32
  auto x = act.normed.view().rows_from(0, rows);           // [rows, d_model]
  auto qkv = act.qkv.view().rows_from(0, rows);            // [rows, 3 * inner]
  auto attended = act.attention.view().rows_from(0, rows); // [rows, inner]
  auto cross_q = act.cross_q.view().rows_from(0, rows);    // [rows, inner]

  b.embed(ids, w.embedding.view(), residual);
  for (std::size_t l = 0; l < w.decoder.size(); ++l) {
    const auto& layer = w.decoder[l];
    auto cache = state.self_kv[l].view();  // [batch * capacity, 2 * inner]

    norm(b, residual, layer.self_attention_norm, x, h);
    b.linear(x, layer.self_attention.qkv.view(), qkv);
    for (std::int64_t r = 0; r < state.batch; ++r)
      b.copy(qkv.rows_from(r * q_len, q_len).cols_from(inner, 2 * inner), cache.rows_from(r * state.capacity + state.length, q_len));
    auto self = attention_args<V, B>(h, state.batch, q_len);
    self.q = qkv.cols_from(0, inner);
    self.k = cache.cols_from(0, inner);
    self.v = cache.cols_from(inner, inner);
    self.out = attended;
    self.kv_rows = state.capacity;
    self.kv_len = state.length + q_len;
    self.q_position = state.length;
    self.causal = true;
    self.key_mask = state.self_mask.data();
    self.key_mask_ld = state.capacity;
    self.bias = buckets;
    self.bias.table = w.decoder_bias(l).data();
    b.attention(self);
    b.linear_add(attended, layer.self_attention.o.view(), residual);

    // Cross-attention: queries from this norm, keys and values from the encoder output; no position bias.
    norm(b, residual, layer.cross_attention_norm, x, h);
    b.linear(x, layer.cross_attention.q.view(), cross_q);
    auto kv = state.cross_kv[l].view();  // [batch * encoder_length, 2 * inner]
    auto cross = attention_args<V, B>(h, state.batch, q_len);
    cross.q = cross_q;
    cross.k = kv.cols_from(0, inner);
    cross.v = kv.cols_from(inner, inner);
    cross.out = attended;
    cross.kv_rows = cross.kv_len = state.encoder_length;
    cross.kv_share = state.layout.rows_per_input;
    cross.key_mask = state.encoder_mask.data();
    cross.key_mask_ld = state.encoder_length;
    b.attention(cross);
    b.linear_add(attended, layer.cross_attention.o.view(), residual);

    norm(b, residual, layer.ffn_norm, x, h);
    feed_forward<V>(b, layer.ffn, act, x, residual);
  }
  norm(b, residual, w.decoder_stack.final_norm, out, h);
  state.length += q_len;
}

/// logits [rows, vocab] = hidden W^T: the untied lm_head, or (v1.0, tied) the embedding with the
/// hidden states scaled by d_model^-0.5 first (HF T5ForConditionalGeneration).
template <VariantLike V, Backend B>
void lm_head(B& b, const ModelWeights<V, B>& w, const Hparams& h, ConstMatrixView<typename B::Act, typename B::Space> hidden,
             MatrixView<float, typename B::Space> logits) {
  const float scale = V::tied_lm_head ? static_cast<float>(1.0 / std::sqrt(static_cast<double>(h.d_model))) : 1.0f;
  b.linear(hidden, w.lm_head_view(), logits, scale);
}

}  // namespace t5
