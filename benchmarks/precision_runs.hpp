// What benchmarks/bench_precision.cpp and benchmarks/layer_diff.cpp share: the inputs file both they
// and tools/hf_precision.py read, the runs they compare ("cpu:f16+fold" and the like), and the
// quantiles of |difference| they print.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "t5/core/batch.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/load.hpp"

namespace t5::bench {

/// tools/hf_precision.py's inputs: {"input_ids", "attention_mask", "decoder_input_ids",
/// "decoder_attention_mask"}, rectangular lists (the decoder pair absent for an encoder-only run).
struct PrecisionInputs {
  TokenBatch input, decoder_input;
  bool has_decoder() const { return decoder_input.batch > 0; }
};

inline PrecisionInputs read_precision_inputs(const std::filesystem::path& path) {
  const Json j = parse_json_strict(read_text_file(path), path.string(), "key");
  auto batch = [&](const char* ids, const char* mask) {
    TokenBatch t;
    if (!j.contains(ids)) return t;
    t.batch = static_cast<std::int64_t>(j[ids].size());
    t.length = t.batch ? static_cast<std::int64_t>(j[ids][0].size()) : 0;
    for (std::size_t r = 0; r < j[ids].size(); ++r) {
      if (static_cast<std::int64_t>(j[ids][r].size()) != t.length || j[mask][r].size() != j[ids][r].size())
        throw Error(ErrorCode::Format, path.string() + ": \"" + ids + "\" and \"" + mask + "\" must be rectangular and alike");
      for (std::size_t c = 0; c < j[ids][r].size(); ++c) {
        t.ids.push_back(j[ids][r][c].get<std::int32_t>());
        t.mask.push_back(j[mask][r][c].get<std::uint8_t>());
      }
    }
    return t;
  };
  return {batch("input_ids", "attention_mask"), batch("decoder_input_ids", "decoder_attention_mask")};
}

/// One way of running the model: "DEVICE:DTYPE[+fold]", DEVICE cpu or cuda, DTYPE f32, bf16 or f16.
/// On the CPU, bf16 and f16 store activations where the GPU does (cpu::Backend<bf16 | f16>).
struct RunSpec {
  std::string text;
  LoadOptions options;

  static RunSpec parse(const std::string& text) {
    RunSpec s{text, {}};
    std::string rest = text;
    if (rest.ends_with("+fold")) {
      s.options.fold_norm_gains = true;
      rest.resize(rest.size() - 5);
    }
    const auto colon = rest.find(':');
    const std::string device = colon == std::string::npos ? "cpu" : rest.substr(0, colon), dtype = rest.substr(colon == std::string::npos ? 0 : colon + 1);
    if ((device != "cpu" && device != "cuda") || (dtype != "f32" && dtype != "bf16" && dtype != "f16") || (device == "cuda" && dtype == "f32"))
      throw Error(ErrorCode::InvalidArgument, "run \"" + text + "\": expected cpu:f32|bf16|f16 or cuda:bf16|f16, optionally +fold");
    s.options.device = device == "cuda" ? Device::Cuda : Device::Cpu;
    s.options.dtype = dtype == "f32" ? DType::F32 : dtype == "bf16" ? DType::BF16 : DType::F16;
    s.options.gpu_rounding = device == "cpu" && dtype != "f32";
    return s;
  }
  std::unique_ptr<AnyModel> load(const std::filesystem::path& model, int threads, const std::filesystem::path& fp16_scales) const {
    LoadOptions o = options;
    o.threads = threads;
    if (o.dtype == DType::F16) o.fp16_scales = fp16_scales;
    return t5::load(model, o);
  }
};

/// Quantiles .5, .99, .9999 and the max of |a - b| over the rows whose mask is set ([rows, width]
/// values, one mask entry per row), or nothing when either side holds a NaN or Inf there.
struct Quantiles {
  double q50 = 0, q99 = 0, q9999 = 0, max = 0;
  std::int64_t max_row = -1;  ///< the row (batch row * length + position) holding the max
  bool finite = true;
};

inline Quantiles difference_quantiles(const std::vector<float>& a, const std::vector<float>& b, const std::vector<std::uint8_t>& mask, std::int64_t width) {
  std::vector<double> d;
  Quantiles q;
  for (std::size_t r = 0; r < mask.size(); ++r) {
    if (!mask[r]) continue;
    for (std::int64_t c = 0; c < width; ++c) {
      const std::size_t i = r * static_cast<std::size_t>(width) + static_cast<std::size_t>(c);
      if (!std::isfinite(a[i]) || !std::isfinite(b[i])) q.finite = false;
      d.push_back(std::fabs(static_cast<double>(a[i]) - b[i]));
      if (d.back() > q.max) q.max = d.back(), q.max_row = static_cast<std::int64_t>(r);
    }
  }
  if (!q.finite || d.empty()) return q;
  std::sort(d.begin(), d.end());
  // numpy's default (linear) quantile, as tools/hf_precision.py computes it.
  auto at = [&](double p) {
    const double pos = p * static_cast<double>(d.size() - 1);
    const auto lo = static_cast<std::size_t>(std::floor(pos));
    const std::size_t hi = std::min(lo + 1, d.size() - 1);
    return d[lo] + (d[hi] - d[lo]) * (pos - static_cast<double>(lo));
  };
  q.q50 = at(0.5), q.q99 = at(0.99), q.q9999 = at(0.9999);
  return q;
}

}  // namespace t5::bench
