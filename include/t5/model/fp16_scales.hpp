// The feed-forward scales that keep an f16 model finite (core/ops.hpp FfnScales), found by
// calibration and kept in a sidecar file beside the checkpoint.
//
// Why these two sites: in t5cc the out-projections accumulate into the fp32 residual, so the
// residual and the out-projection outputs (where HF and nai-t5 overflow) never exist in f16. What
// is stored in f16 and grows with the model is the feed-forward: its wi output and its hidden (the
// wo input, GELU(gate) * up), which trained T5 v1.1 XL/XXL push past 65504. Each gets a power of
// two, applied where it is rounded to f16 and undone in fp32: exact, unless a scaled value lands
// among f16's subnormals (below 6.1e-5), and such values are at least 2^-16 of the largest one.
//
// Why calibration: a bound from the weights (|x w| <= sum_i |w_i g_i| sqrt(d), the norm's output
// being at most sqrt(d) times its gain) holds for every input but is loose: on the hot v1.1 fixture
// (d_model 64) it is 14-17x the largest wi output seen and 450-580x the largest hidden, and it
// grows with sqrt(d). Scaling the hot layer's hidden to it (2^-16) would put every hidden value
// below 4 among f16's subnormals. The largest |value| each site reaches on real
// prompts in a float32 run is what the scale must cover; `headroom` (a power of two, default 8)
// leaves room for prompts that go further than the calibration set, and an input that still
// overflows is an Error(NonFinite) naming the sublayer, never a result.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/core/observer.hpp"
#include "t5/core/ops.hpp"

namespace t5 {

/// f16's largest finite value.
inline constexpr double f16_max = 65504.0;

/// The file name `t5::load` looks for in the checkpoint's folder (LoadOptions::fp16_scales).
inline constexpr std::string_view fp16_scales_file = "t5cc.fp16_scales.json";

/// Per layer of each stack, the scales of its feed-forward.
struct Fp16Scales {
  std::vector<FfnScales> encoder;
  std::vector<FfnScales> decoder;
};

/// The largest |value| each sublayer output reached over the float32 runs it observed, per stack
/// and layer: the feed-forward sites the scales cover and every other output stored in f16.
class Fp16Calibration {
 public:
  /// `gated`: a GEGLU feed-forward, whose hidden gets a scale of its own; a ReLU one's hidden is its
  /// wi output, clamped, so it keeps the wi output's scale.
  Fp16Calibration(std::int64_t encoder_layers, std::int64_t decoder_layers, bool gated)
      : encoder_(static_cast<std::size_t>(encoder_layers)), decoder_(static_cast<std::size_t>(decoder_layers)), gated_(gated) {}

  /// An observer (core/observer.hpp) that records into this calibration.
  LayerObserver observer() {
    return [this](std::string_view name, std::int64_t layer, const Observed& v) { record(name, layer, v); };
  }

  /// The largest power of two s <= 1 with max * s * headroom <= f16_max, for each site.
  Fp16Scales scales(double headroom) const {
    if (!(headroom >= 1.0) || std::exp2(std::round(std::log2(headroom))) != headroom)
      throw Error(ErrorCode::InvalidArgument, "fp16 calibration: the headroom must be a power of two >= 1, not " + std::to_string(headroom));
    auto pick = [headroom](double max) {
      const double limit = f16_max / headroom;
      return static_cast<float>(max <= limit ? 1.0 : std::exp2(std::floor(std::log2(limit / max))));
    };
    auto site = [&](const Sites& l) { return FfnScales{pick(l.ffn_in), gated_ ? pick(l.ffn_hidden) : pick(l.ffn_in)}; };
    Fp16Scales s;
    for (const auto& l : encoder_) s.encoder.push_back(site(l));
    for (const auto& l : decoder_) s.decoder.push_back(site(l));
    return s;
  }

  struct Sites {
    double ffn_in = 0, ffn_hidden = 0;  ///< the scaled sites
    double other = 0;                   ///< the largest other f16 output of the layer
    std::string other_name;
  };
  const std::vector<Sites>& encoder() const noexcept { return encoder_; }
  const std::vector<Sites>& decoder() const noexcept { return decoder_; }

 private:
  void record(std::string_view name, std::int64_t layer, const Observed& v) {
    double max = 0;
    for (float x : v.values) max = std::max(max, static_cast<double>(std::fabs(x)));
    const bool encoder = name.starts_with("encoder.");
    std::vector<Sites>& stack = encoder ? encoder_ : decoder_;
    if (layer < 0 || layer >= static_cast<std::int64_t>(stack.size())) return;  // embeddings, final norms, logits
    const std::string_view site = name.substr(name.find('.') + 1);
    Sites& s = stack[static_cast<std::size_t>(layer)];
    if (site == "ffn.in") s.ffn_in = std::max(s.ffn_in, max);
    else if (site == "ffn.hidden") s.ffn_hidden = std::max(s.ffn_hidden, max);
    else if (!site.ends_with(".residual") && max > s.other) {  // the residual is float32
      s.other = max;
      s.other_name = std::string(site);
    }
  }

  std::vector<Sites> encoder_, decoder_;
  bool gated_;
};

namespace detail {
inline Json scales_json(const std::vector<FfnScales>& layers) {
  Json out = Json::array();
  for (const FfnScales& s : layers) out.push_back({{"in", s.in}, {"hidden", s.hidden}});
  return out;
}
}  // namespace detail

/// The sidecar's text: the scales, with the calibration's maxima as evidence.
inline std::string fp16_scales_json(const Fp16Scales& s, const Fp16Calibration& c, double headroom, std::int64_t inputs) {
  auto maxima = [](const std::vector<Fp16Calibration::Sites>& layers) {
    Json out = Json::array();
    for (const auto& l : layers) out.push_back({{"ffn.in", l.ffn_in}, {"ffn.hidden", l.ffn_hidden}, {"other", l.other}, {"other_site", l.other_name}});
    return out;
  };
  const Json j = {{"format", "t5cc.fp16_scales"},
                  {"version", 1},
                  {"encoder", detail::scales_json(s.encoder)},
                  {"decoder", detail::scales_json(s.decoder)},
                  {"calibration", {{"headroom", headroom}, {"inputs", inputs}, {"encoder_max", maxima(c.encoder())}, {"decoder_max", maxima(c.decoder())}}}};
  return j.dump(1) + "\n";
}

/// Reads a sidecar for a model of these layer counts; every scale must be a power of two in
/// [2^-24, 1]. Throws Error(Format) naming the file and the entry.
inline Fp16Scales read_fp16_scales(const std::filesystem::path& path, std::int64_t encoder_layers, std::int64_t decoder_layers) {
  const Json j = parse_json_strict(read_text_file(path), path.string(), "key");
  auto fail = [&](const std::string& what) { return Error(ErrorCode::Format, path.string() + ": " + what); };
  if (!j.is_object() || j.value("format", "") != "t5cc.fp16_scales" || j.value("version", 0) != 1)
    throw fail("not a t5cc.fp16_scales file of version 1 (write one with `t5cc calibrate`)");
  auto layers = [&](const char* stack, std::int64_t expected) {
    std::vector<FfnScales> out;
    if (!j.contains(stack) || !j[stack].is_array() || static_cast<std::int64_t>(j[stack].size()) != expected)
      throw fail(std::string("\"") + stack + "\" must list " + std::to_string(expected) + " layers, as this model has");
    for (std::size_t l = 0; l < j[stack].size(); ++l) {
      FfnScales s;
      for (auto [key, value] : {std::pair{"in", &s.in}, std::pair{"hidden", &s.hidden}}) {
        const Json& e = j[stack][l];
        const bool number = e.is_object() && e.contains(key) && e[key].is_number();
        const double v = number ? e[key].get<double>() : 0.0;
        int exponent = 0;
        if (!number || !(v > 0 && v <= 1) || std::frexp(v, &exponent) != 0.5 || exponent < -23)
          throw fail(std::string(stack) + " layer " + std::to_string(l) + ": \"" + key + "\" must be a power of two in [2^-24, 1]");
        *value = static_cast<float>(v);
      }
      out.push_back(s);
    }
    return out;
  };
  return {layers("encoder", encoder_layers), layers("decoder", decoder_layers)};
}

}  // namespace t5
