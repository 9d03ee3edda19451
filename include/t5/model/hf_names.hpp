// The HuggingFace tensor names of a T5-family checkpoint and the shape each must have for given
// Hparams and Policies: the one table that the loader validates against and test writers follow.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "t5/config/hparams.hpp"
#include "t5/config/policies.hpp"

namespace t5::hf {

/// The token embedding, shared by encoder, decoder and (tied) LM head.
inline constexpr std::string_view embedding = "shared.weight";
inline constexpr std::string_view lm_head = "lm_head.weight";

/// Names HF writes for the same storage as shared.weight; accepted when equal to it.
inline bool is_embedding_alias(std::string_view name) {
  return name == "encoder.embed_tokens.weight" || name == "decoder.embed_tokens.weight";
}

/// Tensors some published checkpoints carry and transformers ignores on load
/// (`_keys_to_ignore_on_load_unexpected`): the original t5-* files hold a bias table in the first
/// cross-attention, which T5 never uses.
inline bool is_ignored(std::string_view name) {
  return name == "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight";
}

struct ExpectedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  std::string meaning;  ///< the shape in Hparams terms, e.g. "[num_heads*d_kv, d_model]"
};

/// Every tensor the checkpoint must hold, in model order: embedding, encoder blocks, encoder final
/// norm, then (unless encoder_only) decoder blocks, decoder final norm and an untied lm_head.
inline std::vector<ExpectedTensor> expected_tensors(const Hparams& h, const Policies& p, bool encoder_only) {
  std::vector<ExpectedTensor> out;
  auto add = [&](std::string name, std::vector<std::int64_t> shape, std::string meaning) {
    out.push_back({std::move(name), std::move(shape), std::move(meaning)});
  };
  const std::int64_t d = h.d_model, inner = h.inner_dim(), f = h.d_ff;
  auto attention = [&](const std::string& prefix, bool with_bias) {
    for (const char* w : {"q", "k", "v"}) add(prefix + w + ".weight", {inner, d}, "[num_heads*d_kv, d_model]");
    add(prefix + "o.weight", {d, inner}, "[d_model, num_heads*d_kv]");
    if (with_bias)
      add(prefix + "relative_attention_bias.weight", {h.num_buckets, h.num_heads}, "[relative_attention_num_buckets, num_heads]");
  };
  auto ffn = [&](const std::string& prefix) {
    if (p.ffn == Ffn::GatedGelu) {
      add(prefix + "wi_0.weight", {f, d}, "[d_ff, d_model]");
      add(prefix + "wi_1.weight", {f, d}, "[d_ff, d_model]");
    } else {
      add(prefix + "wi.weight", {f, d}, "[d_ff, d_model]");
    }
    add(prefix + "wo.weight", {d, f}, "[d_model, d_ff]");
  };
  auto norm = [&](const std::string& name) { add(name, {d}, "[d_model]"); };
  auto has_bias = [&](std::int64_t layer) { return layer == 0 || p.position_bias == PositionBias::PerLayer; };

  add(std::string(embedding), {h.vocab_size, d}, "[vocab_size, d_model]");
  for (std::int64_t i = 0; i < h.num_layers; ++i) {
    const std::string b = "encoder.block." + std::to_string(i) + ".layer.";
    attention(b + "0.SelfAttention.", has_bias(i));
    norm(b + "0.layer_norm.weight");
    ffn(b + "1.DenseReluDense.");
    norm(b + "1.layer_norm.weight");
  }
  norm("encoder.final_layer_norm.weight");
  if (encoder_only) return out;

  for (std::int64_t i = 0; i < h.num_decoder_layers; ++i) {
    const std::string b = "decoder.block." + std::to_string(i) + ".layer.";
    attention(b + "0.SelfAttention.", has_bias(i));
    norm(b + "0.layer_norm.weight");
    attention(b + "1.EncDecAttention.", false);
    norm(b + "1.layer_norm.weight");
    ffn(b + "2.DenseReluDense.");
    norm(b + "2.layer_norm.weight");
  }
  norm("decoder.final_layer_norm.weight");
  if (p.lm_head == LmHead::Untied) add(std::string(lm_head), {h.vocab_size, d}, "[vocab_size, d_model]");
  return out;
}

}  // namespace t5::hf
