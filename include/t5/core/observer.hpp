// The layer observer: an optional callback the dataflow (model/) hands each sublayer's output to,
// in order, as float32 host values. Unset, it costs one branch per sublayer; set, each output is
// downloaded (from the GPU) and widened. Parity and precision tools use it to compare two runs
// layer by layer (benchmarks/layer_diff.cpp), calibration to measure the f16 scales
// (model/fp16_scales.hpp), and a model to name the first sublayer of a non-finite result.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string_view>

namespace t5 {

/// One sublayer output: [rows, cols] float32, row-major, on the host. Values an FfnScales scale
/// multiplied are shown unscaled, so runs with and without scales compare directly.
struct Observed {
  std::span<const float> values;
  std::int64_t rows = 0;
  std::int64_t cols = 0;
};

/// Called as observer(name, layer, values) with names such as "encoder.ffn.hidden": per layer, for
/// each sublayer, its normed input ("...normed"), its projections ("attention.qkv", "ffn.in",
/// "cross_attention.q"), its output before the out-projection ("attention.context",
/// "ffn.hidden") and the residual after it ("...residual"); per stack (layer -1) "encoder.embedding",
/// "encoder.final_norm", and for the decoder "decoder.logits" last. Each at most once per call.
using LayerObserver = std::function<void(std::string_view name, std::int64_t layer, const Observed& values)>;

}  // namespace t5
