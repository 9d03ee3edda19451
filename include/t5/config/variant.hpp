// The T5 family's architectural knobs (core/policies.hpp) as compile-time types: Variant<...>
// carrying them as constants, the VariantLike concept, and the named presets. Sizes (d_model,
// layers, ...) are run-time values: see hparams.hpp.
#pragma once

#include <concepts>
#include <string_view>

#include "t5/core/policies.hpp"

namespace t5 {

/// A model variant. Inside the dataflow some knobs turn into run-time values where they reach an op
/// (GeluApprox is the gated_gelu op's argument, AttnScale the attention scale, LmHead the LM head's
/// alpha and weight view, PositionBias the index of the bias table read); Ffn alone changes the
/// weights' layout and the code run. They stay types here because the variant is the model's type.
template <Ffn F, GeluApprox G, PositionBias P, AttnScale A, LmHead L>
struct Variant {
  static_assert(F == Ffn::GatedGelu || G == GeluApprox::Tanh,
                "a ReLU variant carries GeluApprox::Tanh: the GELU knob only exists for gated FFNs");
  static constexpr Ffn ffn = F;
  static constexpr GeluApprox gelu = G;
  static constexpr PositionBias position_bias = P;
  static constexpr AttnScale attn_scale = A;
  static constexpr LmHead lm_head = L;

  static constexpr bool gated = F == Ffn::GatedGelu;
  static constexpr bool per_layer_bias = P == PositionBias::PerLayer;
  static constexpr bool scaled_attention = A == AttnScale::InvSqrtHeadDim;
  static constexpr bool tied_lm_head = L == LmHead::TiedScaled;
  static constexpr Policies policies{F, G, P, A, L};
};

namespace detail {
template <class T>
inline constexpr bool is_variant = false;
template <Ffn F, GeluApprox G, PositionBias P, AttnScale A, LmHead L>
inline constexpr bool is_variant<Variant<F, G, P, A, L>> = true;
}  // namespace detail

/// Guards every model template: only a Variant<...> is accepted.
template <class V>
concept VariantLike = detail::is_variant<V>;

/// T5 v1.0 (google-t5/t5-*): ReLU FFN, shared bias, tied embedding with the d_model^-0.5 rescale.
using v1_0 = Variant<Ffn::Relu, GeluApprox::Tanh, PositionBias::Shared, AttnScale::Off, LmHead::TiedScaled>;
/// T5 v1.1, Flan-T5 and mT5: GEGLU (tanh GELU), shared bias, untied lm_head.
using v1_1 = Variant<Ffn::GatedGelu, GeluApprox::Tanh, PositionBias::Shared, AttnScale::Off, LmHead::Untied>;
/// UMT5 and Pile-T5: as v1_1 with one relative-bias table per layer.
using umt5 = Variant<Ffn::GatedGelu, GeluApprox::Tanh, PositionBias::PerLayer, AttnScale::Off, LmHead::Untied>;

/// The preset name ("v1_0", "v1_1", "umt5") whose policies equal `p`, or "" when none does.
constexpr std::string_view preset_name(const Policies& p) {
  if (p == v1_0::policies) return "v1_0";
  if (p == v1_1::policies) return "v1_1";
  if (p == umt5::policies) return "umt5";
  return "";
}

}  // namespace t5
