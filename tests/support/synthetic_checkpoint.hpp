// Writers of synthetic HuggingFace-style checkpoints for the tests: config.json as transformers
// writes it, and safetensors weights (one file or sharded, F32 / F16 / BF16, encoder-only) holding
// deterministic pseudo-random values, laid out by the same name table the loader checks.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <fstream>
#include <span>
#include <string>
#include <vector>

#include "t5/config/hparams.hpp"
#include "t5/config/variant.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/json.hpp"
#include "t5/core/policies.hpp"
#include "t5/io/hf_names.hpp"
#include "t5/io/safetensors_writer.hpp"

namespace t5::test {

struct SyntheticModel {
  Hparams hparams = tiny_hparams();
  Policies policies = v1_1::policies;
  DType dtype = DType::F32;
  bool encoder_only = false;
  int shards = 1;  ///< > 1 writes model-0000k-of-0000n.safetensors and the index
  std::uint32_t seed = 1;
  /// Changes a tensor's values (by HF name) before they are written, for hand-made faults.
  std::function<void(const std::string& name, std::vector<float>& values)> edit;

  std::string model_type() const { return policies.position_bias == PositionBias::PerLayer ? "umt5" : "t5"; }

  /// Small sizes with num_heads * d_kv != d_model, so a swapped dimension cannot go unnoticed.
  static Hparams tiny_hparams() {
    Hparams h;
    h.vocab_size = 40;
    h.d_model = 12;
    h.d_kv = 4;
    h.num_heads = 2;
    h.d_ff = 20;
    h.num_layers = 2;
    h.num_decoder_layers = 3;
    h.num_buckets = 8;
    h.max_distance = 20;
    return h;
  }
};

/// Deterministic values in [-1, 1) for a tensor, a function of (seed, name, index) only.
inline std::vector<float> synthetic_values(std::uint32_t seed, const std::string& name, std::int64_t count) {
  std::uint64_t state = 0x9e3779b97f4a7c15ull ^ seed;
  for (char c : name) state = (state ^ static_cast<unsigned char>(c)) * 0x100000001b3ull;
  std::vector<float> out(static_cast<std::size_t>(count));
  for (auto& v : out) {
    state = state * 6364136223846793005ull + 1442695040888963407ull;
    v = static_cast<float>(static_cast<std::int64_t>(state >> 40) - (1 << 23)) / static_cast<float>(1 << 23);
  }
  return out;
}

/// `values` converted to `dtype`, as raw bytes.
inline std::vector<std::byte> encode_values(std::span<const float> values, DType dtype) {
  std::vector<std::byte> bytes(values.size() * dtype_size(dtype));
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (dtype == DType::F32) {
      std::memcpy(bytes.data() + 4 * i, &values[i], 4);
    } else if (dtype == DType::F16) {
      const f16 h = to_f16(values[i]);
      std::memcpy(bytes.data() + 2 * i, &h, 2);
    } else if (dtype == DType::BF16) {
      const bf16 b = to_bf16(values[i]);
      std::memcpy(bytes.data() + 2 * i, &b, 2);
    } else {
      throw std::invalid_argument("encode_values: F32, F16 or BF16 only");
    }
  }
  return bytes;
}

/// config.json content as transformers 4.49 writes it for these sizes and policies.
inline Json hf_config_json(const std::string& model_type, const Hparams& h, const Policies& p) {
  const bool gated = p.ffn == Ffn::GatedGelu;
  Json j = {
      {"architectures", {model_type == "umt5" ? "UMT5ForConditionalGeneration" : "T5ForConditionalGeneration"}},
      {"model_type", model_type},
      {"vocab_size", h.vocab_size},
      {"d_model", h.d_model},
      {"d_kv", h.d_kv},
      {"d_ff", h.d_ff},
      {"num_heads", h.num_heads},
      {"num_layers", h.num_layers},
      {"num_decoder_layers", h.num_decoder_layers},
      {"relative_attention_num_buckets", h.num_buckets},
      {"relative_attention_max_distance", h.max_distance},
      {"layer_norm_epsilon", h.eps},
      {"pad_token_id", h.pad_id},
      {"eos_token_id", h.eos_id},
      {"decoder_start_token_id", h.decoder_start_id},
      {"feed_forward_proj", gated ? "gated-gelu" : "relu"},
      {"dense_act_fn", gated ? (p.gelu == GeluApprox::Tanh ? "gelu_new" : "gelu") : "relu"},
      {"is_gated_act", gated},
      {"tie_word_embeddings", p.lm_head == LmHead::TiedScaled},
      {"dropout_rate", 0.1},
      {"is_encoder_decoder", true},
      {"transformers_version", "4.49.0"},
  };
  if (p.attn_scale == AttnScale::InvSqrtHeadDim) j["scale_qk"] = true;
  return j;
}

inline void write_text(const std::filesystem::path& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out << text;
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

/// Writes config.json and the weights of `m` into `dir` (created if needed).
inline void write_checkpoint(const std::filesystem::path& dir, const SyntheticModel& m) {
  std::filesystem::create_directories(dir);
  write_text(dir / "config.json", hf_config_json(m.model_type(), m.hparams, m.policies).dump(2));
  const auto tensors = hf::expected_tensors(m.hparams, m.policies, m.encoder_only);
  std::vector<io::SafetensorsWriter> shards(static_cast<std::size_t>(m.shards));
  Json weight_map = Json::object();
  auto shard_name = [&](std::size_t k) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05d.safetensors", k + 1, m.shards);
    return std::string(name);
  };
  for (std::size_t i = 0; i < tensors.size(); ++i) {
    const auto& t = tensors[i];
    std::int64_t count = 1;
    for (auto d : t.shape) count *= d;
    auto values = synthetic_values(m.seed, t.name, count);
    if (m.edit) m.edit(t.name, values);
    const std::size_t k = i * shards.size() / tensors.size();  // contiguous runs, in model order
    shards[k].add(t.name, m.dtype, t.shape, encode_values(values, m.dtype));
    weight_map[t.name] = shard_name(k);
  }
  if (m.shards == 1) {
    shards[0].write(dir / "model.safetensors");
    return;
  }
  for (std::size_t k = 0; k < shards.size(); ++k) shards[k].write(dir / shard_name(k));
  write_text(dir / "model.safetensors.index.json", Json{{"metadata", {{"total_size", 0}}}, {"weight_map", weight_map}}.dump(2));
}

/// Writes a safetensors file byte by byte from a header text and a data section, for malformed inputs.
inline void write_raw_safetensors(const std::filesystem::path& path, const std::string& header, std::span<const std::byte> data,
                                  std::uint64_t declared_header_length) {
  std::string bytes(8, '\0');
  for (int i = 0; i < 8; ++i) bytes[static_cast<std::size_t>(i)] = static_cast<char>((declared_header_length >> (8 * i)) & 0xff);
  bytes += header;
  bytes.append(reinterpret_cast<const char*>(data.data()), data.size());
  write_text(path, bytes);
}

inline void write_raw_safetensors(const std::filesystem::path& path, const std::string& header, std::span<const std::byte> data) {
  write_raw_safetensors(path, header, data, header.size());
}

}  // namespace t5::test
