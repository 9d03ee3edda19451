// The config of a weights file that comes without one (ComfyUI's t5xxl_fp16.safetensors, a bundle's
// text encoder): every key config.json would hold, read from the tensor names and shapes. What the
// shapes cannot tell (relative_attention_max_distance, layer_norm_epsilon, the special ids) keeps
// transformers' default for every published T5-family checkpoint.
#pragma once

#include <cstdint>
#include <string>

#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/io/hf_names.hpp"
#include "t5/io/weight_files.hpp"

namespace t5::io {

/// The number of blocks of `stack`: one past the highest N of "<stack>.block.N." (0 when none).
inline std::int64_t block_count(const WeightFiles& w, hf::Stack stack) {
  const std::string prefix = std::string(hf::stack_name(stack)) + ".block.";
  std::int64_t count = 0;
  for (auto it = w.tensors().lower_bound(prefix); it != w.tensors().end() && it->first.starts_with(prefix); ++it) {
    const std::string_view rest = std::string_view(it->first).substr(prefix.size());
    std::int64_t n = 0;
    std::size_t digits = 0;
    // Bounded by the tensor count: a block holds several tensors, so a larger N names a gap the
    // validator reports as a missing tensor, and no number can overflow or allocate a huge table.
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9' && n <= static_cast<std::int64_t>(w.size())) n = n * 10 + (rest[digits++] - '0');
    if (digits > 0 && digits < rest.size() && rest[digits] == '.') count = std::max(count, n + 1);
  }
  return count;
}

/// config.json keys inferred from the shapes of `w`'s tensors. Throws Error(Format) naming the
/// tensor that is missing or the shapes that disagree, and what to pass instead (--config).
inline Json infer_config(const WeightFiles& w) {
  const std::string src = w.dir().string();
  auto fail = [&](const std::string& what) {
    return Error(ErrorCode::Format, src + ": no config.json, and the config cannot be inferred from the tensors: " + what +
                                        " (give one with --config FILE / LoadOptions::config)");
  };
  auto shape_of = [&](std::string_view name) -> const std::vector<std::int64_t>* {
    const TensorRef* ref = w.find(name);
    return ref ? &ref->info->shape : nullptr;
  };
  auto matrix = [&](std::string_view name, bool required) -> const std::vector<std::int64_t>* {
    const auto* shape = shape_of(name);
    if (shape == nullptr && required) throw fail("no tensor " + quoted_text(name, name_chars));
    if (shape != nullptr && (shape->size() != 2 || (*shape)[0] <= 0 || (*shape)[1] <= 0))
      throw fail("tensor " + quoted_text(name, name_chars) + " has shape " + shape_string(*shape) + ", expected a matrix");
    return shape;
  };

  const auto* embedding = matrix(hf::embedding, false);
  if (embedding == nullptr) embedding = matrix("encoder.embed_tokens.weight", true);
  const std::int64_t vocab = (*embedding)[0], d_model = (*embedding)[1];
  const auto& q = *matrix(hf::name(hf::Stack::Encoder, 0, hf::Part::SelfQ), true);
  const auto& bias = *matrix(hf::name(hf::Stack::Encoder, 0, hf::Part::PositionBias), true);
  const std::int64_t buckets = bias[0], heads = bias[1];
  if (q[0] % heads != 0)
    throw fail("the query width " + std::to_string(q[0]) + " is not a multiple of the " + std::to_string(heads) + " heads of the position-bias table");
  const auto* gate = matrix(hf::name(hf::Stack::Encoder, 0, hf::Part::Wi0), false);
  const auto* wi = gate ? gate : matrix(hf::name(hf::Stack::Encoder, 0, hf::Part::Wi), true);
  const bool per_layer_bias = w.find(hf::name(hf::Stack::Encoder, 1, hf::Part::PositionBias)) != nullptr;
  const std::int64_t decoder_blocks = block_count(w, hf::Stack::Decoder);

  Json c = Json::object();
  // umt5 is the one family with a table per layer; its other defaults are given explicitly below.
  c["model_type"] = per_layer_bias ? "umt5" : "t5";
  c["vocab_size"] = vocab;
  c["d_model"] = d_model;
  c["num_heads"] = heads;
  c["d_kv"] = q[0] / heads;
  c["d_ff"] = (*wi)[0];
  c["feed_forward_proj"] = gate ? "gated-gelu" : "relu";
  c["num_layers"] = block_count(w, hf::Stack::Encoder);
  if (decoder_blocks > 0) c["num_decoder_layers"] = decoder_blocks;
  c["relative_attention_num_buckets"] = buckets;
  c["relative_attention_max_distance"] = 128;
  c["layer_norm_epsilon"] = 1e-6;
  // A decoder without its own lm_head reads the embedding (T5 v1.0); one with it does not, nor do
  // the encoders (v1.1 and later) that ship alone.
  c["tie_word_embeddings"] = decoder_blocks > 0 && w.find(hf::lm_head) == nullptr;
  c["pad_token_id"] = 0;
  c["eos_token_id"] = 1;
  c["decoder_start_token_id"] = 0;
  return c;
}

}  // namespace t5::io
