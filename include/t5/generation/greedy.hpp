// Greedy search bookkeeping, backend-agnostic: which rows have finished, what each row emitted.
// HF semantics: a row stops at its first EOS and emits pad afterwards; the search ends when every
// row has stopped or at max_new_tokens.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <vector>

namespace t5 {

struct GreedyOptions {
  std::int64_t max_new_tokens = 64;
  /// Called after each step with that step's logits [batch, vocab] (host copy, row-major), before
  /// the argmax is taken. Unset: no copy is made.
  std::function<void(std::int64_t step, std::span<const float> logits)> on_step;
};

/// The tokens of each row, after the decoder start token and up to and including its EOS.
using GeneratedRows = std::vector<std::vector<std::int32_t>>;

class GreedySearch {
 public:
  GreedySearch(std::int64_t batch, std::int64_t max_new_tokens, std::int32_t eos_id, std::int32_t pad_id)
      : eos_(eos_id), pad_(pad_id), finished_(static_cast<std::size_t>(batch), false), rows_(static_cast<std::size_t>(batch)) {
    for (auto& r : rows_) r.reserve(static_cast<std::size_t>(max_new_tokens));  // no growth inside the loop
  }

  /// Takes one step's argmax per row; rewrites the tokens of finished rows to pad (the next step's
  /// decoder input) and returns whether every row has now finished.
  bool push(std::span<std::int32_t> next) {
    bool all = true;
    for (std::size_t r = 0; r < rows_.size(); ++r) {
      if (finished_[r]) {
        next[r] = pad_;
        continue;
      }
      rows_[r].push_back(next[r]);
      if (next[r] == eos_) finished_[r] = true;
      all = all && finished_[r];
    }
    return all;
  }

  GeneratedRows take() { return std::move(rows_); }

 private:
  std::int32_t eos_;
  std::int32_t pad_;
  std::vector<bool> finished_;
  GeneratedRows rows_;
};

}  // namespace t5
