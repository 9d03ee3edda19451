// ModelWeights: a checkpoint's tensors in a backend's memory, in the fused layouts the dataflow uses
// (QKV stacked by output row, cross-attention K and V stacked, GEGLU gate then up), converted once
// from the file's dtype to the backend's activation dtype (or used in place where the backend can).
// Norm gains and bias tables stay float32.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "t5/config/variant.hpp"
#include "t5/core/backend.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/hf_names.hpp"

namespace t5 {

template <Backend B>
using ActWeight = typename B::template Weight<typename B::Act>;
template <Backend B>
using F32Weight = typename B::template Weight<float>;
template <Backend B>
using Projection = typename B::Projection;

template <Backend B>
struct SelfAttentionWeights {
  Projection<B> qkv;  ///< [3 * inner, d_model]: q, k, v rows
  Projection<B> o;    ///< [d_model, inner]
};

template <Backend B>
struct CrossAttentionWeights {
  Projection<B> q;   ///< [inner, d_model]
  Projection<B> kv;  ///< [2 * inner, d_model]: k rows then v rows
  Projection<B> o;   ///< [d_model, inner]
};

template <Backend B>
struct FfnWeights {
  Projection<B> in;   ///< [d_ff, d_model] (wi) or [2 * d_ff, d_model] (wi_0 then wi_1)
  Projection<B> out;  ///< [d_model, d_ff] (wo)
  FfnScales scales;   ///< f16 overflow scales (model/fp16_scales.hpp); 1 elsewhere
};

template <Backend B>
struct EncoderLayerWeights {
  F32Weight<B> attention_norm;  ///< [1, d_model] layer.0.layer_norm
  SelfAttentionWeights<B> attention;
  F32Weight<B> ffn_norm;        ///< layer.1.layer_norm
  FfnWeights<B> ffn;
};

template <Backend B>
struct DecoderLayerWeights {
  F32Weight<B> self_attention_norm;   ///< layer.0.layer_norm
  SelfAttentionWeights<B> self_attention;
  F32Weight<B> cross_attention_norm;  ///< layer.1.layer_norm
  CrossAttentionWeights<B> cross_attention;
  F32Weight<B> ffn_norm;              ///< layer.2.layer_norm
  FfnWeights<B> ffn;
};

template <Backend B>
struct StackWeights {
  /// [num_buckets, num_heads] tables: one shared by all layers (T5: block 0's), or one per layer (UMT5).
  std::vector<F32Weight<B>> bias_tables;
  F32Weight<B> final_norm;  ///< [1, d_model]
};

template <VariantLike V, Backend B>
struct ModelWeights {
  using Act = typename B::Act;
  /// [vocab, d_model] shared.weight, kept in float32 on every backend: the fp32 residual starts from
  /// the checkpoint's exact values (a lookup reads d_model values per token; the tied LM head
  /// has its own Projection below).
  F32Weight<B> embedding;
  std::vector<EncoderLayerWeights<B>> encoder;
  StackWeights<B> encoder_stack;
  std::vector<DecoderLayerWeights<B>> decoder;  ///< empty for an encoder-only checkpoint
  StackWeights<B> decoder_stack;
  Projection<B> lm_head;  ///< [vocab, d_model]: lm_head.weight, or shared.weight again when tied

  bool has_decoder() const noexcept { return !decoder.empty(); }
  const F32Weight<B>& encoder_bias(std::size_t layer) const { return encoder_stack.bias_tables[V::per_layer_bias ? layer : 0]; }
  const F32Weight<B>& decoder_bias(std::size_t layer) const { return decoder_stack.bias_tables[V::per_layer_bias ? layer : 0]; }
};

/// Reads every tensor of `ckpt` into backend memory, by the names of io/hf_names.hpp. The checkpoint
/// must have been detected as V (Model checks this before calling). With `fold_norm_gains`, each
/// layer norm's gain is multiplied into the input columns of the projection that reads its output
/// (in float32, then converted once to the backend's dtype) and the norm keeps a gain of ones:
/// W (g * n) = (W diag(g)) n. The final norms keep their gains (their outputs leave the stack).
template <VariantLike V, Backend B>
ModelWeights<V, B> load_weights(const Checkpoint& ckpt, B& backend, bool fold_norm_gains = false) {
  using hf::Part;
  using hf::Stack;
  const Hparams& h = ckpt.detected().hparams;
  // The float32 values of the named tensors, rows stacked.
  auto values = [&](const std::vector<std::string>& names) {
    std::vector<WeightSource> parts;
    for (const auto& name : names) parts.push_back(ckpt.tensor(name).source());
    std::vector<float> out(static_cast<std::size_t>(total_elements(parts)));
    convert_parts(std::span<const WeightSource>(parts), out.data());
    return out;
  };
  auto source = [](const std::vector<float>& v, const std::string& name) {
    return WeightSource{std::as_bytes(std::span<const float>(v)), DType::F32, nullptr, name};
  };
  // The rows of the named HF tensors, stacked into one [rows, cols] weight of element type U, or
  // into a Projection for U = void.
  auto stacked = [&]<class U>(const std::vector<std::string>& names) {
    std::vector<WeightSource> parts;
    std::int64_t rows = 0, cols = 0;
    for (const auto& name : names) {
      const io::TensorRef& ref = ckpt.tensor(name);
      parts.push_back(ref.source());
      rows += ref.info->shape.size() == 2 ? ref.info->shape[0] : 1;
      cols = ref.info->shape.back();
    }
    if constexpr (std::is_void_v<U>) return backend.projection(parts, rows, cols);
    else return backend.template weight<U>(parts, rows, cols);
  };
  // A projection, with the gain of norm `folded` (a Part) folded into its columns when asked.
  auto weight = [&](Stack s, std::int64_t block, std::initializer_list<Part> parts, std::optional<Part> folded = std::nullopt) {
    std::vector<std::string> names;
    for (Part p : parts) names.push_back(hf::name(s, block, p));
    if (!fold_norm_gains || !folded) return stacked.template operator()<void>(names);
    std::vector<float> w = values(names);
    const std::vector<float> g = values({hf::name(s, block, *folded)});
    const auto cols = static_cast<std::int64_t>(g.size());
    for (std::size_t i = 0; i < w.size(); ++i) w[i] *= g[i % static_cast<std::size_t>(cols)];
    const WeightSource folded_source = source(w, names[0]);
    return backend.projection(std::span<const WeightSource>(&folded_source, 1), static_cast<std::int64_t>(w.size()) / cols, cols);
  };
  auto gain = [&](const std::string& name) { return stacked.template operator()<float>({name}); };
  // A layer norm's gain, or ones when it was folded into the next projection.
  auto layer_gain = [&](Stack s, std::int64_t block, Part norm) {
    if (!fold_norm_gains) return gain(hf::name(s, block, norm));
    const std::vector<float> ones(static_cast<std::size_t>(h.d_model), 1.0f);
    const WeightSource ones_source = source(ones, hf::name(s, block, norm));
    return backend.template weight<float>(std::span<const WeightSource>(&ones_source, 1), 1, h.d_model);
  };
  auto ffn = [&](Stack s, std::int64_t block) {
    if constexpr (V::gated) return FfnWeights<B>{weight(s, block, {Part::Wi0, Part::Wi1}, Part::FfnNorm), weight(s, block, {Part::Wo}), {}};
    else return FfnWeights<B>{weight(s, block, {Part::Wi}, Part::FfnNorm), weight(s, block, {Part::Wo}), {}};
  };
  auto self_attention = [&](Stack s, std::int64_t block) {
    return SelfAttentionWeights<B>{weight(s, block, {Part::SelfQ, Part::SelfK, Part::SelfV}, Part::SelfNorm), weight(s, block, {Part::SelfO})};
  };
  auto stack = [&](Stack s, std::int64_t blocks) {
    StackWeights<B> out;
    for (std::int64_t b = 0; b < (V::per_layer_bias ? blocks : 1); ++b) out.bias_tables.push_back(gain(hf::name(s, b, Part::PositionBias)));
    out.final_norm = gain(hf::final_norm(s));
    return out;
  };

  ModelWeights<V, B> w;
  w.embedding = gain(std::string(hf::embedding));
  for (std::int64_t b = 0; b < h.num_layers; ++b)
    w.encoder.push_back({layer_gain(Stack::Encoder, b, Part::SelfNorm), self_attention(Stack::Encoder, b),
                         layer_gain(Stack::Encoder, b, Part::FfnNorm), ffn(Stack::Encoder, b)});
  w.encoder_stack = stack(Stack::Encoder, h.num_layers);
  if (ckpt.detected().encoder_only) return w;

  for (std::int64_t b = 0; b < h.num_decoder_layers; ++b)
    w.decoder.push_back({layer_gain(Stack::Decoder, b, Part::SelfNorm), self_attention(Stack::Decoder, b),
                         layer_gain(Stack::Decoder, b, Part::CrossNorm),
                         CrossAttentionWeights<B>{weight(Stack::Decoder, b, {Part::CrossQ}, Part::CrossNorm),
                                                  weight(Stack::Decoder, b, {Part::CrossK, Part::CrossV}), weight(Stack::Decoder, b, {Part::CrossO})},
                         layer_gain(Stack::Decoder, b, Part::FfnNorm), ffn(Stack::Decoder, b)});
  w.decoder_stack = stack(Stack::Decoder, h.num_decoder_layers);
  // Tied: the embedding table is read a second time, as a Projection in the backend's layout.
  w.lm_head = stacked.template operator()<void>({std::string(V::tied_lm_head ? hf::embedding : hf::lm_head)});
  return w;
}

}  // namespace t5
