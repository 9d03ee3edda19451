// Hparams: the run-time sizes of a T5 checkpoint, named as in HF's T5Config, with validation.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "t5/core/error.hpp"
#include "t5/core/memory_size.hpp"

namespace t5 {

struct Hparams {
  std::int64_t vocab_size = 32128;
  std::int64_t d_model = 512;
  std::int64_t d_kv = 64;   ///< per-head width; num_heads * d_kv need not equal d_model (t5-3b: 32 x 128 vs 1024)
  std::int64_t d_ff = 2048;
  std::int64_t num_heads = 8;
  std::int64_t num_layers = 6;          ///< encoder layers
  std::int64_t num_decoder_layers = 6;  ///< decoder layers (HF defaults it to num_layers)
  std::int64_t num_buckets = 32;        ///< relative_attention_num_buckets
  std::int64_t max_distance = 128;      ///< relative_attention_max_distance
  double eps = 1e-6;                    ///< layer_norm_epsilon
  std::int64_t pad_id = 0;
  std::int64_t eos_id = 1;
  std::int64_t decoder_start_id = 0;

  /// Width of the attention projections' output, num_heads * d_kv.
  std::int64_t inner_dim() const noexcept { return num_heads * d_kv; }

  friend bool operator==(const Hparams&, const Hparams&) = default;

  /// Throws Error(InvalidConfig) naming `source` and the offending key when a value cannot describe
  /// a working model.
  void validate(const std::string& source) const {
    auto fail = [&](const std::string& key, const std::string& what) {
      throw Error(ErrorCode::InvalidConfig, source + ": " + key + " " + what);
    };
    // Each size stays below 2^31 so that products of two of them fit comfortably in 64 bits.
    constexpr std::int64_t limit = std::numeric_limits<std::int32_t>::max();
    auto positive = [&](const char* key, std::int64_t v) {
      if (v <= 0 || v > limit) fail(key, "must be between 1 and " + std::to_string(limit) + ", found " + std::to_string(v));
    };
    positive("vocab_size", vocab_size);
    positive("d_model", d_model);
    positive("d_kv", d_kv);
    positive("d_ff", d_ff);
    positive("num_heads", num_heads);
    positive("num_layers", num_layers);
    positive("num_decoder_layers", num_decoder_layers);
    if (inner_dim() > limit) fail("num_heads x d_kv", "is " + std::to_string(inner_dim()) + ", too large");
    // The largest stacked weights, checked once here so that no product of sizes overflows later:
    // [3 * num_heads*d_kv, d_model] (self-attention QKV), [2 * d_ff, d_model] (gated FFN),
    // [vocab_size, d_model] (embedding), each below 2^62 elements.
    constexpr std::int64_t max_elements = std::int64_t{1} << 62;
    auto matrix = [&](const char* what, std::int64_t rows) {
      const std::int64_t n = checked_product(rows, d_model);
      if (n < 0 || n >= max_elements) fail(what, "x d_model is too large (a weight of 2^62 elements or more)");
    };
    matrix("3 x num_heads x d_kv", 3 * inner_dim());
    matrix("2 x d_ff", 2 * d_ff);
    matrix("vocab_size", vocab_size);
    // The bidirectional bucket function halves num_buckets and keeps half of that for exact
    // distances; fewer than 4 buckets leaves no exact bucket and divides by log(1) = 0.
    if (num_buckets < 4 || num_buckets > 4096)
      fail("relative_attention_num_buckets", "must be between 4 and 4096, found " + std::to_string(num_buckets));
    // Buckets beyond the exact range are log-spaced up to max_distance; the causal exact range is
    // num_buckets / 2, and max_distance must lie beyond it (else log(max_distance / exact) <= 0).
    // The bucket lookup table spans +-2 * max_distance; 2^20 is far beyond any trained value (128).
    if (max_distance <= num_buckets / 2 || max_distance > (std::int64_t{1} << 20))
      fail("relative_attention_max_distance", "must exceed relative_attention_num_buckets / 2 (" +
                                                  std::to_string(num_buckets / 2) + ") and be at most 1048576, found " +
                                                  std::to_string(max_distance));
    if (!(eps > 0.0) || !std::isfinite(eps)) fail("layer_norm_epsilon", "must be a positive finite number");
    auto token = [&](const char* key, std::int64_t id) {
      if (id < 0 || id >= vocab_size)
        fail(key, "must be a token id in [0, vocab_size " + std::to_string(vocab_size) + "), found " + std::to_string(id));
    };
    token("pad_token_id", pad_id);
    token("eos_token_id", eos_id);
    token("decoder_start_token_id", decoder_start_id);
  }
};

}  // namespace t5
