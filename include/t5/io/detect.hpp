// What a checkpoint is, in one place: detect() reads the policies from config.json and checks them
// against the tensor names (through the HF name table); config/dispatch.hpp turns the result into a
// type.
#pragma once

#include <set>
#include <string>
#include <string_view>

#include "t5/config/hf_config.hpp"
#include "t5/config/variant.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/policies.hpp"
#include "t5/io/hf_names.hpp"

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
      throw Error(ErrorCode::UnsupportedVariant, c.source + ": gated activation " + quoted_text(act) + " (" + c.activation_evidence() +
                                                     ") is not supported: t5cc runs a gated GELU (gelu_new, gelu_pytorch_tanh, "
                                                     "gelu_fast, gelu_accurate, gelu, gelu_python) or a plain relu");
  } else {
    if (act != "relu")
      throw Error(ErrorCode::UnsupportedVariant, c.source + ": non-gated activation " + quoted_text(act) + " (" + c.activation_evidence() +
                                                     ") is not supported: t5cc runs a plain relu or a gated GELU");
    p.ffn = Ffn::Relu;
    p.gelu = GeluApprox::Tanh;  // unused by ReLU variants; one canonical value keeps dispatch small
  }
  p.position_bias = c.model_type == "umt5" ? PositionBias::PerLayer : PositionBias::Shared;
  p.attn_scale = c.scale_qk ? AttnScale::InvSqrtHeadDim : AttnScale::Off;
  p.lm_head = c.tie_word_embeddings ? LmHead::TiedScaled : LmHead::Untied;
  return p;
}

/// The first encoder tensor named as `part` in some block, or "".
inline std::string find_encoder_part(const TensorNames& names, hf::Part part) {
  const std::string suffix = "." + hf::block_suffix(hf::Stack::Encoder, part);
  for (auto it = names.lower_bound("encoder.block."); it != names.end() && it->starts_with("encoder.block."); ++it)
    if (it->ends_with(suffix)) return *it;
  return "";
}

/// A relative_attention_bias in a self-attention block other than 0, or "".
inline std::string per_layer_bias_evidence(const TensorNames& names) {
  for (const hf::Stack s : {hf::Stack::Encoder, hf::Stack::Decoder}) {
    const std::string prefix = std::string(hf::stack_name(s)) + ".block.";
    const std::string suffix = "." + hf::block_suffix(s, hf::Part::PositionBias);
    for (auto it = names.lower_bound(prefix); it != names.end() && it->starts_with(prefix); ++it)
      if (it->ends_with(suffix) && !std::string_view(*it).substr(prefix.size()).starts_with("0.")) return *it;
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

  const std::string gated_tensor = detail::find_encoder_part(names, hf::Part::Wi0);
  const std::string relu_tensor = detail::find_encoder_part(names, hf::Part::Wi);
  if (d.policies.ffn == Ffn::GatedGelu && gated_tensor.empty() && !relu_tensor.empty())
    throw Error(ErrorCode::InvalidConfig, src + ": the config asks for a gated FFN (" + config.activation_evidence() +
                                              ") but the weights hold " + quoted_text(relu_tensor, name_chars) + " and no wi_0/wi_1 (a non-gated FFN)");
  if (d.policies.ffn == Ffn::Relu && !gated_tensor.empty())
    throw Error(ErrorCode::InvalidConfig, src + ": the config asks for a non-gated FFN (" + config.activation_evidence() +
                                              ") but the weights hold " + quoted_text(gated_tensor, name_chars) + " (a gated FFN)");

  const std::string per_layer = detail::per_layer_bias_evidence(names);
  if (d.policies.position_bias == PositionBias::Shared && !per_layer.empty())
    throw Error(ErrorCode::InvalidConfig, src + ": model_type " + quoted_text(config.model_type) +
                                              " shares one position-bias table, but the weights hold " + quoted_text(per_layer, name_chars) +
                                              " (a per-layer table, as in umt5)");
  if (d.policies.position_bias == PositionBias::PerLayer && config.hparams.num_layers > 1 && per_layer.empty() &&
      names.contains(hf::name(hf::Stack::Encoder, 0, hf::Part::PositionBias)))
    throw Error(ErrorCode::InvalidConfig, src + ": model_type \"umt5\" has a position-bias table per layer, but the weights "
                                              "hold one only in block 0 (\"" + hf::name(hf::Stack::Encoder, 1, hf::Part::PositionBias) +
                                              "\" is absent, as in t5)");

  bool decoder = names.contains(hf::lm_head);
  for (auto it = names.lower_bound("decoder."); !decoder && it != names.end() && it->starts_with("decoder."); ++it)
    decoder = !hf::is_embedding_alias(*it) && !hf::is_ignored(*it);
  d.encoder_only = !decoder;
  return d;
}

}  // namespace t5
