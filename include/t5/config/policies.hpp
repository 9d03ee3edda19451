// The T5 family's architectural variants as compile-time policies: one scoped enum per knob,
// Variant<...> carrying them as constants, the VariantLike concept, and the named presets.
// Sizes (d_model, layers, ...) are run-time values: see hparams.hpp.
#pragma once

#include <concepts>
#include <string_view>

namespace t5 {

/// Feed-forward block. HF `T5DenseActDense` (wi, relu, wo) or `T5DenseGatedActDense`
/// (gelu(wi_0 x) * wi_1 x, then wo).
enum class Ffn { Relu, GatedGelu };
/// GELU formula in the gated FFN: HF `gelu_new` (tanh approximation) or `gelu` (erf, exact).
/// Meaningless for Ffn::Relu, whose variants always carry Tanh.
enum class GeluApprox { Tanh, Erf };
/// One relative-position bias table shared by all layers (T5: computed in block 0 and reused) or one
/// table per layer (UMT5).
enum class PositionBias { Shared, PerLayer };
/// Attention logits q.k^T unscaled (T5: Google folded 1/sqrt(d_kv) into the q weights) or scaled
/// by 1/sqrt(d_kv) (models trained with the textbook scale; config key "scale_qk": true).
enum class AttnScale { Off, InvSqrtHeadDim };
/// LM head tied to the token embedding, with the decoder output scaled by d_model^-0.5 first
/// (HF, when tie_word_embeddings), or a separate lm_head.weight and no rescale.
enum class LmHead { TiedScaled, Untied };

/// The five knobs as run-time values, as `detect()` reports them.
struct Policies {
  Ffn ffn = Ffn::GatedGelu;
  GeluApprox gelu = GeluApprox::Tanh;
  PositionBias position_bias = PositionBias::Shared;
  AttnScale attn_scale = AttnScale::Off;
  LmHead lm_head = LmHead::Untied;
  friend constexpr bool operator==(const Policies&, const Policies&) = default;
};

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

constexpr std::string_view to_string(Ffn v) { return v == Ffn::Relu ? "relu" : "gated-gelu"; }
constexpr std::string_view to_string(GeluApprox v) { return v == GeluApprox::Tanh ? "tanh" : "erf"; }
constexpr std::string_view to_string(PositionBias v) { return v == PositionBias::Shared ? "shared" : "per-layer"; }
constexpr std::string_view to_string(AttnScale v) { return v == AttnScale::Off ? "off" : "1/sqrt(d_kv)"; }
constexpr std::string_view to_string(LmHead v) { return v == LmHead::TiedScaled ? "tied, scaled by d_model^-0.5" : "untied"; }

/// The preset name ("v1_0", "v1_1", "umt5") whose policies equal `p`, or "" when none does.
constexpr std::string_view preset_name(const Policies& p) {
  if (p == v1_0::policies) return "v1_0";
  if (p == v1_1::policies) return "v1_1";
  if (p == umt5::policies) return "umt5";
  return "";
}

}  // namespace t5
