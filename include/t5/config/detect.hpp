// From a checkpoint to a type, in one place: detect() reads the policies from config.json and checks
// them against the tensor names; dispatch() calls a templated lambda with the matching Variant.
#pragma once

#include <cstdlib>
#include <set>
#include <string>
#include <string_view>
#include <utility>

#include "t5/config/hf_config.hpp"
#include "t5/config/policies.hpp"
#include "t5/core/error.hpp"
#include "t5/model/hf_names.hpp"

namespace t5 {

/// What a checkpoint is: its policies, its sizes, and whether it holds a decoder.
struct Detected {
  std::string model_type;
  Policies policies;
  Hparams hparams;
  bool encoder_only = false;  ///< only shared.weight and encoder.* (how diffusion text encoders ship)

  /// "v1_0", "v1_1", "umt5", or "" when the policies match no preset.
  std::string_view preset() const { return preset_name(policies); }
};

using TensorNames = std::set<std::string, std::less<>>;

namespace detail {

inline Policies policies_from_config(const HfConfig& c) {
  Policies p;
  const std::string& act = c.dense_act_fn;
  if (c.is_gated_act) {
    p.ffn = Ffn::GatedGelu;
    if (act == "gelu_new" || act == "gelu_pytorch_tanh" || act == "gelu_fast" || act == "gelu_accurate") p.gelu = GeluApprox::Tanh;
    else if (act == "gelu" || act == "gelu_python") p.gelu = GeluApprox::Erf;
    else
      throw Error(ErrorCode::UnsupportedVariant, c.source + ": gated activation \"" + act + "\" (" + c.activation_evidence() +
                                                     ") is not supported: t5cc runs a gated GELU (gelu_new, gelu_pytorch_tanh, "
                                                     "gelu_fast, gelu_accurate, gelu, gelu_python) or a plain relu");
  } else {
    if (act != "relu")
      throw Error(ErrorCode::UnsupportedVariant, c.source + ": non-gated activation \"" + act + "\" (" + c.activation_evidence() +
                                                     ") is not supported: t5cc runs a plain relu or a gated GELU");
    p.ffn = Ffn::Relu;
    p.gelu = GeluApprox::Tanh;  // unused by ReLU variants; one canonical value keeps dispatch small
  }
  p.position_bias = c.model_type == "umt5" ? PositionBias::PerLayer : PositionBias::Shared;
  p.attn_scale = c.scale_qk ? AttnScale::InvSqrtHeadDim : AttnScale::Off;
  p.lm_head = c.tie_word_embeddings ? LmHead::TiedScaled : LmHead::Untied;
  return p;
}

/// The first name under `prefix` that ends with `suffix`, or "".
inline std::string find_name(const TensorNames& names, std::string_view prefix, std::string_view suffix) {
  for (auto it = names.lower_bound(prefix); it != names.end() && it->starts_with(prefix); ++it)
    if (it->ends_with(suffix)) return *it;
  return "";
}

/// A relative_attention_bias in a self-attention block other than 0, or "".
inline std::string per_layer_bias_evidence(const TensorNames& names) {
  for (std::string_view stack : {"encoder.block.", "decoder.block."}) {
    for (auto it = names.lower_bound(stack); it != names.end() && it->starts_with(stack); ++it) {
      const std::string_view rest = std::string_view(*it).substr(stack.size());
      if (rest.ends_with(".layer.0.SelfAttention.relative_attention_bias.weight") && !rest.starts_with("0."))
        return *it;
    }
  }
  return "";
}

}  // namespace detail

/// Policies and sizes from config.json alone (no weights at hand).
/// Throws Error(UnsupportedVariant) for an activation t5cc does not run.
inline Detected detect(const HfConfig& config) {
  return Detected{config.model_type, detail::policies_from_config(config), config.hparams, false};
}

/// Policies and sizes from config.json, checked against the checkpoint's tensor names: the FFN kind
/// (wi vs wi_0/wi_1), the bias tables (block 0 only vs every block) and whether a decoder exists.
/// Throws Error(InvalidConfig) naming both pieces of evidence when they disagree.
inline Detected detect(const HfConfig& config, const TensorNames& names) {
  Detected d = detect(config);
  const std::string src = config.source;

  const std::string gated_tensor = detail::find_name(names, "encoder.block.", ".DenseReluDense.wi_0.weight");
  const std::string relu_tensor = detail::find_name(names, "encoder.block.", ".DenseReluDense.wi.weight");
  if (d.policies.ffn == Ffn::GatedGelu && gated_tensor.empty() && !relu_tensor.empty())
    throw Error(ErrorCode::InvalidConfig, src + ": the config asks for a gated FFN (" + config.activation_evidence() +
                                              ") but the weights hold \"" + relu_tensor + "\" and no wi_0/wi_1 (a non-gated FFN)");
  if (d.policies.ffn == Ffn::Relu && !gated_tensor.empty())
    throw Error(ErrorCode::InvalidConfig, src + ": the config asks for a non-gated FFN (" + config.activation_evidence() +
                                              ") but the weights hold \"" + gated_tensor + "\" (a gated FFN)");

  const std::string per_layer = detail::per_layer_bias_evidence(names);
  if (d.policies.position_bias == PositionBias::Shared && !per_layer.empty())
    throw Error(ErrorCode::InvalidConfig, src + ": model_type \"" + config.model_type +
                                              "\" shares one position-bias table, but the weights hold \"" + per_layer +
                                              "\" (a per-layer table, as in umt5)");
  if (d.policies.position_bias == PositionBias::PerLayer && config.hparams.num_layers > 1 && per_layer.empty() &&
      names.contains("encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"))
    throw Error(ErrorCode::InvalidConfig, src + ": model_type \"umt5\" has a position-bias table per layer, but the weights "
                                              "hold one only in block 0 (\"encoder.block.1.layer.0.SelfAttention."
                                              "relative_attention_bias.weight\" is absent, as in t5)");

  bool decoder = names.contains(hf::lm_head);
  for (auto it = names.lower_bound("decoder."); !decoder && it != names.end() && it->starts_with("decoder."); ++it)
    decoder = !hf::is_embedding_alias(*it) && !hf::is_ignored(*it);
  d.encoder_only = !decoder;
  return d;
}

namespace detail {

/// Calls f.template operator()<Value>() for the Value among Values that equals `value`.
template <auto First, auto... Rest, class F>
decltype(auto) select(decltype(First) value, F&& f) {
  if constexpr (sizeof...(Rest) == 0) {
    if (value != First) throw Error(ErrorCode::InvalidArgument, "dispatch: policy value outside its enum");
    return f.template operator()<First>();
  } else {
    if (value == First) return f.template operator()<First>();
    return select<Rest...>(value, std::forward<F>(f));
  }
}

}  // namespace detail

/// Calls `f.template operator()<V>()` with the Variant whose policies equal `p`, e.g.
/// `dispatch(detected.policies, [&]<VariantLike V>() { return Model<V>(...); })`. Every combination
/// detect() reports is instantiated: ReLU variants carry GeluApprox::Tanh (the GELU knob is unused
/// there), so 8 ReLU and 16 gated-GELU variants. All instantiations must return the same type.
template <class F>
decltype(auto) dispatch(const Policies& p, F&& f) {
  return detail::select<Ffn::Relu, Ffn::GatedGelu>(p.ffn, [&]<Ffn FF>() -> decltype(auto) {
    auto rest = [&]<GeluApprox G>() -> decltype(auto) {
      return detail::select<PositionBias::Shared, PositionBias::PerLayer>(p.position_bias, [&]<PositionBias P>() -> decltype(auto) {
        return detail::select<AttnScale::Off, AttnScale::InvSqrtHeadDim>(p.attn_scale, [&]<AttnScale A>() -> decltype(auto) {
          return detail::select<LmHead::TiedScaled, LmHead::Untied>(p.lm_head, [&]<LmHead L>() -> decltype(auto) {
            return f.template operator()<Variant<FF, G, P, A, L>>();
          });
        });
      });
    };
    if constexpr (FF == Ffn::Relu) {
      if (p.gelu != GeluApprox::Tanh)
        throw Error(ErrorCode::InvalidArgument, "dispatch: a ReLU variant carries GeluApprox::Tanh (the GELU knob is unused)");
      return rest.template operator()<GeluApprox::Tanh>();
    } else {
      return detail::select<GeluApprox::Tanh, GeluApprox::Erf>(p.gelu, rest);
    }
  });
}

}  // namespace t5
