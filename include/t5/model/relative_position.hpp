// T5's relative position buckets (HF T5Attention._relative_position_bucket), as a lookup table by
// distance: the attention ops of both backends read it instead of evaluating logarithms per pair.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

namespace t5 {

/// The bucket of relative distance `rel` = key position - query position. Bidirectional (encoder):
/// half the buckets for keys before the query, half (offset by num_buckets/2) for keys after it.
/// Causal (decoder): keys after the query fall in bucket 0 (they are masked anyway). Within a half,
/// distances below half of it are exact and the rest are log-spaced up to max_distance, beyond
/// which all share the last bucket. The log branch repeats HF's float32 arithmetic step by step
/// (float log of n / max_exact, divided by the float of the double log(max_distance / max_exact),
/// times the bucket count, truncated), so the integer results equal HF's for every distance.
inline std::int32_t relative_position_bucket(std::int64_t rel, bool bidirectional, std::int64_t num_buckets, std::int64_t max_distance) {
  std::int64_t bucket = 0;
  std::int64_t n = 0;
  if (bidirectional) {
    num_buckets /= 2;
    if (rel > 0) bucket += num_buckets;
    n = rel < 0 ? -rel : rel;
  } else {
    n = rel < 0 ? -rel : 0;
  }
  const std::int64_t max_exact = num_buckets / 2;
  if (n < max_exact) return static_cast<std::int32_t>(bucket + n);
  const float ratio = static_cast<float>(n) / static_cast<float>(max_exact);
  const float log_range = static_cast<float>(std::log(static_cast<double>(max_distance) / static_cast<double>(max_exact)));
  const float scaled = std::log(ratio) / log_range * static_cast<float>(num_buckets - max_exact);
  const std::int64_t large = std::min<std::int64_t>(max_exact + static_cast<std::int64_t>(scaled), num_buckets - 1);
  return static_cast<std::int32_t>(bucket + large);
}

/// Buckets of every distance in [-reach, reach] with reach = 2 * max_distance. All farther
/// distances share the last bucket of their side (the log branch reaches it at max_distance, give
/// or take one float32 rounding, and clamps there), so clamping a distance into the table is exact.
class RelativeBuckets {
 public:
  RelativeBuckets(bool bidirectional, std::int64_t num_buckets, std::int64_t max_distance) : reach_(2 * max_distance) {
    table_.resize(static_cast<std::size_t>(2 * reach_ + 1));
    for (std::int64_t rel = -reach_; rel <= reach_; ++rel)
      table_[static_cast<std::size_t>(rel + reach_)] = relative_position_bucket(rel, bidirectional, num_buckets, max_distance);
  }

  std::int32_t operator()(std::int64_t rel) const { return table_[static_cast<std::size_t>(std::clamp(rel, -reach_, reach_) + reach_)]; }
  /// [2 * reach + 1] buckets for distances -reach..reach.
  const std::vector<std::int32_t>& table() const noexcept { return table_; }
  std::int64_t reach() const noexcept { return reach_; }

 private:
  std::int64_t reach_;
  std::vector<std::int32_t> table_;
};

}  // namespace t5
