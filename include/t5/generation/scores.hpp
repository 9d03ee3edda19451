// The per-row score transforms of a generation step, on host float32 rows of vocabulary size, in
// transformers' semantics: the logits processors (repetition penalty, no-repeat n-grams, minimum
// length), log-softmax and argmax. The sampling warpers and draw are the sample op's own rule
// (cpu/sampling.hpp). Nothing here allocates after construction.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <span>
#include <vector>

#include "t5/cpu/sampling.hpp"
#include "t5/generation/options.hpp"

namespace t5 {

/// The processors every search applies (HF _get_logits_processor order). `history` is the row's
/// decoder ids so far, the decoder start token first, as HF's input_ids.
class LogitsProcessors {
 public:
  LogitsProcessors(const GenerationOptions& o, std::span<const std::int32_t> eos_ids)
      : repetition_penalty_(o.repetition_penalty), ngram_(o.no_repeat_ngram_size), min_new_tokens_(o.min_new_tokens), eos_ids_(eos_ids) {}

  bool active() const { return repetition_penalty_ != 1.0f || ngram_ > 0 || min_new_tokens_ > 0; }

  void apply(std::span<float> scores, std::span<const std::int32_t> history) const {
    if (repetition_penalty_ != 1.0f) penalise_repeats(scores, history);
    if (ngram_ > 0) ban_repeated_ngrams(scores, history);
    // HF MinNewTokensLengthLogitsProcessor: new tokens = history minus the decoder start token.
    if (static_cast<std::int64_t>(history.size()) - 1 < min_new_tokens_)
      for (std::int32_t eos : eos_ids_) scores[static_cast<std::size_t>(eos)] = minus_infinity;
  }

 private:
  // HF RepetitionPenaltyLogitsProcessor: once per distinct token of the history (start token included).
  // (Histories are short: the quadratic look-back costs less than a vocabulary-sized marker array.)
  void penalise_repeats(std::span<float> scores, std::span<const std::int32_t> history) const {
    for (auto t = history.begin(); t != history.end(); ++t) {
      if (std::find(history.begin(), t, *t) != t) continue;
      float& s = scores[static_cast<std::size_t>(*t)];
      s = s < 0.0f ? s * repetition_penalty_ : s / repetition_penalty_;
    }
  }

  // HF NoRepeatNGramLogitsProcessor: the tokens that followed an earlier occurrence of the last n-1
  // tokens are banned.
  void ban_repeated_ngrams(std::span<float> scores, std::span<const std::int32_t> history) const {
    const auto len = static_cast<std::int64_t>(history.size()), n = ngram_;
    if (len + 1 < n) return;
    const std::int32_t* tail = history.data() + (len - n + 1);  // the last n - 1 tokens
    for (std::int64_t start = 0; start + n <= len; ++start)
      if (std::equal(tail, tail + (n - 1), history.data() + start)) scores[static_cast<std::size_t>(history[start + n - 1])] = minus_infinity;
  }

  float repetition_penalty_;
  std::int64_t ngram_;
  std::int64_t min_new_tokens_;
  std::span<const std::int32_t> eos_ids_;
};

/// scores = log_softmax(scores) in place (the max subtracted first, the sum in double).
inline void log_softmax(std::span<float> scores) {
  const float max = *std::max_element(scores.begin(), scores.end());
  if (max == minus_infinity) return;
  double sum = 0.0;
  for (float s : scores) sum += std::exp(static_cast<double>(s - max));
  const auto log_sum = static_cast<float>(std::log(sum));
  for (float& s : scores) s = s - max - log_sum;
}

/// The first index of the largest score (torch.argmax's tie rule).
inline std::int32_t argmax(std::span<const float> scores) {
  return static_cast<std::int32_t>(std::max_element(scores.begin(), scores.end()) - scores.begin());
}

}  // namespace t5
