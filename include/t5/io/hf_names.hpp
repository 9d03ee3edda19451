// The HuggingFace tensor names of a T5-family checkpoint, in one table: every tensor of a block by
// its role, with its name and its shape in Hparams terms. Detection reads evidence through it, the
// loader validates against it and builds the weights from it, the test writers follow it.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "t5/config/hparams.hpp"
#include "t5/core/policies.hpp"

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

enum class Stack : std::uint8_t { Encoder, Decoder };

/// Every tensor of a block, by role, in the order a block holds them.
enum class Part : std::uint8_t {
  SelfQ, SelfK, SelfV, SelfO, PositionBias, SelfNorm,  // layer.0: self-attention and its norm
  CrossQ, CrossK, CrossV, CrossO, CrossNorm,           // decoder layer.1: cross-attention
  Wi, Wi0, Wi1, Wo, FfnNorm,                           // the last layer: feed-forward (wi: ReLU; wi_0, wi_1: gated)
};

/// A dimension in Hparams terms.
enum class Dim : std::uint8_t { Vocab, DModel, Inner, DFf, Buckets, Heads };

/// The row of the table for one Part: the sublayer holding it, the name after "layer.N.", and its
/// shape ([rows, cols], or [rows] when cols is absent).
struct PartSpec {
  enum class Sublayer : std::uint8_t { SelfAttention, CrossAttention, FeedForward };
  Part part;
  Sublayer sublayer;
  std::string_view leaf;
  Dim rows;
  bool matrix;  ///< false: a vector of `rows` values (norm gains)
  Dim cols;
};

inline constexpr std::array<PartSpec, 16> parts = {{
    {Part::SelfQ, PartSpec::Sublayer::SelfAttention, "SelfAttention.q.weight", Dim::Inner, true, Dim::DModel},
    {Part::SelfK, PartSpec::Sublayer::SelfAttention, "SelfAttention.k.weight", Dim::Inner, true, Dim::DModel},
    {Part::SelfV, PartSpec::Sublayer::SelfAttention, "SelfAttention.v.weight", Dim::Inner, true, Dim::DModel},
    {Part::SelfO, PartSpec::Sublayer::SelfAttention, "SelfAttention.o.weight", Dim::DModel, true, Dim::Inner},
    {Part::PositionBias, PartSpec::Sublayer::SelfAttention, "SelfAttention.relative_attention_bias.weight", Dim::Buckets, true, Dim::Heads},
    {Part::SelfNorm, PartSpec::Sublayer::SelfAttention, "layer_norm.weight", Dim::DModel, false, Dim::DModel},
    {Part::CrossQ, PartSpec::Sublayer::CrossAttention, "EncDecAttention.q.weight", Dim::Inner, true, Dim::DModel},
    {Part::CrossK, PartSpec::Sublayer::CrossAttention, "EncDecAttention.k.weight", Dim::Inner, true, Dim::DModel},
    {Part::CrossV, PartSpec::Sublayer::CrossAttention, "EncDecAttention.v.weight", Dim::Inner, true, Dim::DModel},
    {Part::CrossO, PartSpec::Sublayer::CrossAttention, "EncDecAttention.o.weight", Dim::DModel, true, Dim::Inner},
    {Part::CrossNorm, PartSpec::Sublayer::CrossAttention, "layer_norm.weight", Dim::DModel, false, Dim::DModel},
    {Part::Wi, PartSpec::Sublayer::FeedForward, "DenseReluDense.wi.weight", Dim::DFf, true, Dim::DModel},
    {Part::Wi0, PartSpec::Sublayer::FeedForward, "DenseReluDense.wi_0.weight", Dim::DFf, true, Dim::DModel},
    {Part::Wi1, PartSpec::Sublayer::FeedForward, "DenseReluDense.wi_1.weight", Dim::DFf, true, Dim::DModel},
    {Part::Wo, PartSpec::Sublayer::FeedForward, "DenseReluDense.wo.weight", Dim::DModel, true, Dim::DFf},
    {Part::FfnNorm, PartSpec::Sublayer::FeedForward, "layer_norm.weight", Dim::DModel, false, Dim::DModel},
}};

constexpr const PartSpec& spec(Part p) { return parts[static_cast<std::size_t>(p)]; }
static_assert([] {
  for (std::size_t i = 0; i < parts.size(); ++i)
    if (parts[i].part != static_cast<Part>(i)) return false;
  return true;
}(), "the table is in Part order");

constexpr std::string_view stack_name(Stack s) { return s == Stack::Encoder ? "encoder" : "decoder"; }

/// "layer.1.DenseReluDense.wo.weight": the name of `p` inside a block of stack `s` (the decoder's
/// feed-forward is its third sublayer, the encoder's its second).
inline std::string block_suffix(Stack s, Part p) {
  const PartSpec& e = spec(p);
  const int sublayer = e.sublayer == PartSpec::Sublayer::SelfAttention    ? 0
                       : e.sublayer == PartSpec::Sublayer::CrossAttention ? 1
                                                                          : (s == Stack::Encoder ? 1 : 2);
  return "layer." + std::to_string(sublayer) + "." + std::string(e.leaf);
}

/// "encoder.block.3.layer.0.SelfAttention.q.weight".
inline std::string name(Stack s, std::int64_t block, Part p) {
  return std::string(stack_name(s)) + ".block." + std::to_string(block) + "." + block_suffix(s, p);
}

/// "encoder.final_layer_norm.weight".
inline std::string final_norm(Stack s) { return std::string(stack_name(s)) + ".final_layer_norm.weight"; }

/// Whether block `block` of stack `s` holds `p` in a model with policies `policies`.
constexpr bool holds(Stack s, std::int64_t block, Part p, const Policies& policies) {
  switch (p) {
    case Part::PositionBias: return block == 0 || policies.position_bias == PositionBias::PerLayer;
    case Part::CrossQ: case Part::CrossK: case Part::CrossV: case Part::CrossO: case Part::CrossNorm: return s == Stack::Decoder;
    case Part::Wi: return policies.ffn == Ffn::Relu;
    case Part::Wi0: case Part::Wi1: return policies.ffn == Ffn::GatedGelu;
    default: return true;
  }
}

constexpr std::int64_t extent(Dim d, const Hparams& h) {
  switch (d) {
    case Dim::Vocab: return h.vocab_size;
    case Dim::DModel: return h.d_model;
    case Dim::Inner: return h.inner_dim();
    case Dim::DFf: return h.d_ff;
    case Dim::Buckets: return h.num_buckets;
    case Dim::Heads: return h.num_heads;
  }
  return 0;
}

constexpr std::string_view dim_name(Dim d) {
  switch (d) {
    case Dim::Vocab: return "vocab_size";
    case Dim::DModel: return "d_model";
    case Dim::Inner: return "num_heads*d_kv";
    case Dim::DFf: return "d_ff";
    case Dim::Buckets: return "relative_attention_num_buckets";
    case Dim::Heads: return "num_heads";
  }
  return "?";
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
  auto add = [&](std::string tensor, Dim rows, bool matrix, Dim cols) {
    std::vector<std::int64_t> shape{extent(rows, h)};
    std::string meaning = "[" + std::string(dim_name(rows));
    if (matrix) {
      shape.push_back(extent(cols, h));
      meaning += ", " + std::string(dim_name(cols));
    }
    out.push_back({std::move(tensor), std::move(shape), meaning + "]"});
  };
  add(std::string(embedding), Dim::Vocab, true, Dim::DModel);
  for (const Stack s : {Stack::Encoder, Stack::Decoder}) {
    if (s == Stack::Decoder && encoder_only) break;
    const std::int64_t blocks = s == Stack::Encoder ? h.num_layers : h.num_decoder_layers;
    for (std::int64_t b = 0; b < blocks; ++b)
      for (const PartSpec& e : parts)
        if (holds(s, b, e.part, p)) add(name(s, b, e.part), e.rows, e.matrix, e.cols);
    add(final_norm(s), Dim::DModel, false, Dim::DModel);
  }
  if (!encoder_only && p.lm_head == LmHead::Untied) add(std::string(lm_head), Dim::Vocab, true, Dim::DModel);
  return out;
}

}  // namespace t5::hf
