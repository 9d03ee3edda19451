// The sampling rule of t5cc, on host float32 rows: HF's warpers (temperature, top-k, top-p) and the
// keyed Philox draw. This is the CPU's sample op and the definition the CUDA sampling kernel
// reproduces exactly; the host searches use it when they sample from processed scores.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <vector>

#include "t5/core/error.hpp"
#include "t5/core/ops.hpp"
#include "t5/core/philox.hpp"

namespace t5 {

inline constexpr float minus_infinity = -std::numeric_limits<float>::infinity();

/// HF's sampling warpers, in their order: TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper
/// (min_tokens_to_keep 1), with the settings of SampleArgs. Removed tokens get -inf. The scratch holds
/// rows of up to `vocab` scores.
class SamplingWarpers {
 public:
  explicit SamplingWarpers(std::int64_t vocab = 0) : values_(static_cast<std::size_t>(vocab)), order_(values_.size()) {}

  std::int64_t vocab() const noexcept { return static_cast<std::int64_t>(values_.size()); }

  void apply(std::span<float> scores, const SampleArgs& a) {
    if (a.temperature != 1.0f)
      for (float& s : scores) s /= a.temperature;
    if (a.top_k > 0 && a.top_k < static_cast<std::int64_t>(scores.size())) keep_top_k(scores, a.top_k);
    if (a.top_p < 1.0f) keep_top_p(scores, a.top_p);
  }

 private:
  // Scores below the k-th largest are removed; ties with it stay (HF: scores < topk(...)[-1]).
  void keep_top_k(std::span<float> scores, std::int64_t top_k) {
    std::copy(scores.begin(), scores.end(), values_.begin());
    const auto kth = values_.begin() + (top_k - 1);
    std::nth_element(values_.begin(), kth, values_.begin() + static_cast<std::ptrdiff_t>(scores.size()), std::greater<float>());
    const float threshold = *kth;
    for (float& s : scores)
      if (s < threshold) s = minus_infinity;
  }

  // HF: sort ascending, cumulative softmax; remove the tokens whose cumulative probability is
  // <= 1 - top_p, always keeping the largest. Only tokens still in play are sorted.
  void keep_top_p(std::span<float> scores, float top_p) {
    std::size_t n = 0;
    for (std::size_t i = 0; i < scores.size(); ++i)
      if (scores[i] != minus_infinity) order_[n++] = static_cast<std::int32_t>(i);
    if (n == 0) return;
    const auto score = [&](std::int32_t i) { return scores[static_cast<std::size_t>(i)]; };
    std::sort(order_.begin(), order_.begin() + static_cast<std::ptrdiff_t>(n),
              [&](std::int32_t a, std::int32_t b) { return score(a) < score(b) || (score(a) == score(b) && a > b); });
    const float max = score(order_[n - 1]);
    double total = 0.0;
    for (std::size_t j = 0; j < n; ++j) total += std::exp(static_cast<double>(score(order_[j]) - max));
    const double cut = 1.0 - static_cast<double>(top_p);
    double cumulative = 0.0;
    for (std::size_t j = 0; j + 1 < n; ++j) {
      cumulative += std::exp(static_cast<double>(score(order_[j]) - max)) / total;
      if (cumulative > cut) break;
      scores[static_cast<std::size_t>(order_[j])] = minus_infinity;
    }
  }

  std::vector<float> values_;
  std::vector<std::int32_t> order_;
};

/// The sampling stream of one output row. Draw `step` of the row numbered `sample` among the
/// outputs of the input keyed `row_key` is
///   u = philox_uniform(philox4x32({step, sample, row_key low 32 bits, row_key high 32 bits},
///                                 {seed low 32 bits, seed high 32 bits}))
/// and the token is the first index j (in vocabulary order) at which the running sum of
/// exp(s_i - max s) over i <= j, in double, exceeds u times the total. It depends only on the seed,
/// the row's key, its sample number and the step: never on the batch around it.
inline std::int32_t sample_token(std::span<const float> scores, std::uint64_t seed, std::uint64_t row_key, std::int64_t sample,
                                 std::int64_t step) {
  const PhiloxCounter counter = {static_cast<std::uint32_t>(step), static_cast<std::uint32_t>(sample), static_cast<std::uint32_t>(row_key),
                                 static_cast<std::uint32_t>(row_key >> 32)};
  const double u = philox_uniform(philox4x32(counter, {static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32)}));
  const float max = *std::max_element(scores.begin(), scores.end());
  if (max == minus_infinity) throw Error(ErrorCode::InvalidArgument, "generate: every token was excluded at a sampling step");
  double total = 0.0;
  for (float s : scores) total += std::exp(static_cast<double>(s - max));
  const double target = u * total;
  double running = 0.0;
  std::int32_t last = 0;
  for (std::size_t j = 0; j < scores.size(); ++j) {
    if (scores[j] == minus_infinity) continue;
    running += std::exp(static_cast<double>(scores[j] - max));
    last = static_cast<std::int32_t>(j);
    if (running > target) return last;
  }
  return last;  // rounding left target at the very end
}

/// The whole draw of one row: the warpers on `scores` (in place), then sample_token at a.step.
inline std::int32_t warp_and_sample(SamplingWarpers& warpers, std::span<float> scores, const SampleArgs& a, std::uint64_t row_key,
                                    std::int64_t sample) {
  warpers.apply(scores, a);
  return sample_token(scores, a.seed, row_key, sample, a.step);
}

}  // namespace t5
