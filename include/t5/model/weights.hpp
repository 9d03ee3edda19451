// ModelWeights: a checkpoint's tensors in a backend's memory, in the fused layouts the dataflow uses
// (QKV stacked by output row, cross-attention K and V stacked, GEGLU gate then up), converted once
// to the backend's activation dtype. Norm gains and bias tables stay float32.
#pragma once

#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "t5/config/policies.hpp"
#include "t5/core/dtype.hpp"
#include "t5/model/backend.hpp"
#include "t5/model/checkpoint.hpp"

namespace t5 {

template <Backend B>
struct SelfAttentionWeights {
  typename B::template Buffer<typename B::Act> qkv;  ///< [3 * inner, d_model]: q, k, v rows
  typename B::template Buffer<typename B::Act> o;    ///< [d_model, inner]
};

template <Backend B>
struct CrossAttentionWeights {
  typename B::template Buffer<typename B::Act> q;   ///< [inner, d_model]
  typename B::template Buffer<typename B::Act> kv;  ///< [2 * inner, d_model]: k rows then v rows
  typename B::template Buffer<typename B::Act> o;   ///< [d_model, inner]
};

template <Backend B>
struct FfnWeights {
  typename B::template Buffer<typename B::Act> in;   ///< [d_ff, d_model] (wi) or [2 * d_ff, d_model] (wi_0 then wi_1)
  typename B::template Buffer<typename B::Act> out;  ///< [d_model, d_ff] (wo)
};

template <Backend B>
struct EncoderLayerWeights {
  typename B::template Buffer<float> attention_norm;  ///< [1, d_model] layer.0.layer_norm
  SelfAttentionWeights<B> attention;
  typename B::template Buffer<float> ffn_norm;        ///< layer.1.layer_norm
  FfnWeights<B> ffn;
};

template <Backend B>
struct DecoderLayerWeights {
  typename B::template Buffer<float> self_attention_norm;   ///< layer.0.layer_norm
  SelfAttentionWeights<B> self_attention;
  typename B::template Buffer<float> cross_attention_norm;  ///< layer.1.layer_norm
  CrossAttentionWeights<B> cross_attention;
  typename B::template Buffer<float> ffn_norm;              ///< layer.2.layer_norm
  FfnWeights<B> ffn;
};

template <Backend B>
struct StackWeights {
  /// [num_buckets, num_heads] tables: one shared by all layers (T5: block 0's), or one per layer (UMT5).
  std::vector<typename B::template Buffer<float>> bias_tables;
  typename B::template Buffer<float> final_norm;  ///< [1, d_model]
};

template <VariantLike V, Backend B>
struct ModelWeights {
  using Act = typename B::Act;
  typename B::template Buffer<Act> embedding;  ///< [vocab, d_model] shared.weight; the LM head too when tied
  std::vector<EncoderLayerWeights<B>> encoder;
  StackWeights<B> encoder_stack;
  std::vector<DecoderLayerWeights<B>> decoder;  ///< empty for an encoder-only checkpoint
  StackWeights<B> decoder_stack;
  typename B::template Buffer<Act> lm_head;  ///< [vocab, d_model] when untied; empty when tied

  bool has_decoder() const noexcept { return !decoder.empty(); }
  ConstMatrixView<Act, typename B::Space> lm_head_view() const { return V::tied_lm_head ? embedding.view() : lm_head.view(); }
  const typename B::template Buffer<float>& encoder_bias(std::size_t layer) const { return encoder_stack.bias_tables[V::per_layer_bias ? layer : 0]; }
  const typename B::template Buffer<float>& decoder_bias(std::size_t layer) const { return decoder_stack.bias_tables[V::per_layer_bias ? layer : 0]; }
};

namespace detail {

/// The values of a weight tensor as float32 (checked F32 / F16 / BF16 by Checkpoint::open).
inline void append_as_float(const io::TensorRef& ref, std::vector<float>& out) {
  const auto bytes = ref.data();
  const auto n = static_cast<std::size_t>(ref.info->numel());
  const std::size_t first = out.size();
  out.resize(first + n);
  switch (ref.info->dtype) {
    case DType::F32: std::memcpy(out.data() + first, bytes.data(), n * sizeof(float)); break;
    default:
      for (std::size_t i = 0; i < n; ++i) out[first + i] = element_as_float(bytes, ref.info->dtype, i);
  }
}

}  // namespace detail

/// Reads every tensor of `ckpt` into backend memory. The checkpoint must have been detected as V
/// (Model checks this before calling).
template <VariantLike V, Backend B>
ModelWeights<V, B> load_weights(const Checkpoint& ckpt, B& backend) {
  using Act = typename B::Act;
  const Hparams& h = ckpt.detected().hparams;
  // Rows of one or more HF tensors stacked into one [rows, cols] matrix, converted to T.
  auto matrix = [&]<class T>(std::initializer_list<std::string> names) {
    std::vector<float> values;
    std::int64_t rows = 0, cols = 0;
    for (const auto& name : names) {
      const io::TensorRef& ref = ckpt.tensor(name);
      detail::append_as_float(ref, values);
      rows += ref.info->shape.size() == 2 ? ref.info->shape[0] : 1;
      cols = ref.info->shape.back();
    }
    if constexpr (std::is_same_v<T, float>) {
      return backend.template upload<float>(values, rows, cols);
    } else {
      std::vector<T> converted(values.size());
      for (std::size_t i = 0; i < values.size(); ++i) converted[i] = from_float<T>(values[i]);
      return backend.template upload<T>(converted, rows, cols);
    }
  };
  auto weight = [&](auto... names) { return matrix.template operator()<Act>({std::string(names)...}); };
  auto gain = [&](const std::string& name) { return matrix.template operator()<float>({name}); };
  auto ffn = [&](const std::string& p) {
    FfnWeights<B> f;
    if constexpr (V::gated)
      f.in = weight(p + "wi_0.weight", p + "wi_1.weight");
    else
      f.in = weight(p + "wi.weight");
    f.out = weight(p + "wo.weight");
    return f;
  };
  auto self_attention = [&](const std::string& p) {
    return SelfAttentionWeights<B>{weight(p + "q.weight", p + "k.weight", p + "v.weight"), weight(p + "o.weight")};
  };
  auto bias_tables = [&](const std::string& stack, std::int64_t layers) {
    std::vector<typename B::template Buffer<float>> tables;
    for (std::int64_t i = 0; i < (V::per_layer_bias ? layers : 1); ++i)
      tables.push_back(gain(stack + ".block." + std::to_string(i) + ".layer.0.SelfAttention.relative_attention_bias.weight"));
    return tables;
  };

  ModelWeights<V, B> w;
  w.embedding = weight(std::string(hf::embedding));
  for (std::int64_t i = 0; i < h.num_layers; ++i) {
    const std::string b = "encoder.block." + std::to_string(i) + ".layer.";
    w.encoder.push_back({gain(b + "0.layer_norm.weight"), self_attention(b + "0.SelfAttention."), gain(b + "1.layer_norm.weight"),
                         ffn(b + "1.DenseReluDense.")});
  }
  w.encoder_stack = {bias_tables("encoder", h.num_layers), gain("encoder.final_layer_norm.weight")};
  if (ckpt.detected().encoder_only) return w;

  for (std::int64_t i = 0; i < h.num_decoder_layers; ++i) {
    const std::string b = "decoder.block." + std::to_string(i) + ".layer.";
    const std::string x = b + "1.EncDecAttention.";
    w.decoder.push_back({gain(b + "0.layer_norm.weight"), self_attention(b + "0.SelfAttention."), gain(b + "1.layer_norm.weight"),
                         CrossAttentionWeights<B>{weight(x + "q.weight"), weight(x + "k.weight", x + "v.weight"), weight(x + "o.weight")},
                         gain(b + "2.layer_norm.weight"), ffn(b + "2.DenseReluDense.")});
  }
  w.decoder_stack = {bias_tables("decoder", h.num_decoder_layers), gain("decoder.final_layer_norm.weight")};
  if constexpr (!V::tied_lm_head) w.lm_head = weight(std::string(hf::lm_head));
  return w;
}

}  // namespace t5
