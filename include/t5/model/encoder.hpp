// The T5 encoder stack (HF T5Stack without is_decoder), written once over the Backend concept.
#pragma once

#include <cstdint>
#include <string_view>

#include "t5/model/layers.hpp"

namespace t5 {

/// An encoder input in backend memory.
template <Backend B>
struct EncoderInput {
  std::int64_t batch = 0;
  std::int64_t length = 0;
  const std::int32_t* ids = nullptr;        ///< [batch, length]
  const std::uint8_t* mask = nullptr;       ///< [batch, length], 1 = token, 0 = padding
  const std::int32_t* documents = nullptr;  ///< [batch, length] packed documents, or nullptr
};

/// out = the encoder's last hidden state [batch * length, d_model], every position included (pad
/// queries attend to the valid keys, as in HF). `buckets` is the bidirectional RelativeBuckets table.
template <VariantLike V, Backend B>
void run_encoder(B& b, const ModelWeights<V, B>& w, const Hparams& h, const EncoderInput<B>& in, PositionBiasArgs buckets,
                 Activations<B>& act, MatrixView<typename B::Act, typename B::Space> out) {
  const std::int64_t rows = in.batch * in.length, inner = h.inner_dim();
  auto residual = act.residual.view().rows_from(0, rows);  // [rows, d_model] fp32
  auto x = act.normed.view().rows_from(0, rows);           // [rows, d_model]
  auto qkv = act.qkv.view().rows_from(0, rows);            // [rows, 3 * inner]
  auto attended = act.attention.view().rows_from(0, rows); // [rows, inner]

  constexpr std::string_view stack = "encoder";
  b.embed(in.ids, w.embedding.view(), residual);  // T5 does not scale embeddings
  observe(b, act, stack, "embedding", -1, residual);
  for (std::size_t i = 0; i < w.encoder.size(); ++i) {
    const auto& layer = w.encoder[i];
    const auto l = static_cast<std::int64_t>(i);
    norm(b, residual, layer.attention_norm, x, h);
    observe(b, act, stack, "attention.normed", l, x);
    b.linear(x, layer.attention.qkv, qkv);
    observe(b, act, stack, "attention.qkv", l, qkv);
    auto a = attention_args<V, B>(h, in.batch, in.length);
    a.q = qkv.cols_from(0, inner);
    a.k = qkv.cols_from(inner, inner);
    a.v = qkv.cols_from(2 * inner, inner);
    a.out = attended;
    a.kv_rows = a.kv_len = in.length;
    a.key_mask = in.mask;
    a.key_mask_ld = in.length;
    a.documents = in.documents;
    a.bias = buckets;
    a.bias.table = w.encoder_bias(i).data();  // block 0's table for every layer, or this layer's (UMT5)
    b.attention(a);
    observe(b, act, stack, "attention.context", l, attended);
    b.linear_add(attended, layer.attention.o, residual);
    observe(b, act, stack, "attention.residual", l, residual);

    norm(b, residual, layer.ffn_norm, x, h);
    observe(b, act, stack, "ffn.normed", l, x);
    feed_forward<V>(b, layer.ffn, act, x, residual, stack, l);
  }
  norm(b, residual, w.encoder_stack.final_norm, out, h);
  observe(b, act, stack, "final_norm", -1, out);
}

}  // namespace t5
