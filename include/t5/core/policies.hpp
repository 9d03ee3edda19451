// The T5 family's architectural knobs as values: one scoped enum per knob, Policies holding all
// five, and their one description (used by messages and `t5cc inspect`). config/variant.hpp makes
// them compile-time types; kernels and op parameters use the enums alone.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <utility>

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

/// The five knobs as run-time values, as detection reports them.
struct Policies {
  Ffn ffn = Ffn::GatedGelu;
  GeluApprox gelu = GeluApprox::Tanh;
  PositionBias position_bias = PositionBias::Shared;
  AttnScale attn_scale = AttnScale::Off;
  LmHead lm_head = LmHead::Untied;
  friend constexpr bool operator==(const Policies&, const Policies&) = default;
};

constexpr std::string_view to_string(Ffn v) { return v == Ffn::Relu ? "relu" : "gated-gelu"; }
constexpr std::string_view to_string(GeluApprox v) { return v == GeluApprox::Tanh ? "tanh" : "erf"; }
constexpr std::string_view to_string(PositionBias v) { return v == PositionBias::Shared ? "shared" : "per-layer"; }
constexpr std::string_view to_string(AttnScale v) { return v == AttnScale::Off ? "off" : "1/sqrt(d_kv)"; }
constexpr std::string_view to_string(LmHead v) { return v == LmHead::TiedScaled ? "tied, scaled by d_model^-0.5" : "untied"; }

/// Each knob's name and value, in order ("gelu" is "-" for a ReLU FFN, where it means nothing).
constexpr std::array<std::pair<std::string_view, std::string_view>, 5> policy_fields(const Policies& p) {
  return {{{"ffn", to_string(p.ffn)},
           {"gelu", p.ffn == Ffn::Relu ? "-" : to_string(p.gelu)},
           {"position_bias", to_string(p.position_bias)},
           {"attn_scale", to_string(p.attn_scale)},
           {"lm_head", to_string(p.lm_head)}}};
}

/// "ffn gated-gelu, gelu tanh, position_bias shared, attn_scale off, lm_head untied": the one line
/// every message describing a variant uses.
inline std::string describe(const Policies& p) {
  std::string s;
  for (const auto& [name, value] : policy_fields(p)) {
    if (value == "-") continue;
    s += (s.empty() ? "" : ", ") + std::string(name) + " " + std::string(value);
  }
  return s;
}

}  // namespace t5
