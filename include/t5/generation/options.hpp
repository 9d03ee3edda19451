// What a generate call is asked to do (GenerationOptions) and what it returns (Generation). The
// semantics are those of transformers.generate for T5, option by option; generation/search.hpp
// implements them.
#pragma once

#include <cmath>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "t5/core/batch.hpp"
#include "t5/core/error.hpp"

namespace t5 {

/// HF's `early_stopping` for beam search. True: an input is done once num_beams hypotheses have
/// finished. False: also when no running beam can still beat the worst kept hypothesis, judged at
/// the current length. Never: judged at max_new_tokens when length_penalty > 0 (the exact bound).
enum class EarlyStopping { True, False, Never };

/// One decoding step as the streaming callback sees it: the new token of every output row.
struct TokenStep {
  std::int64_t step = 0;                   ///< 0 for the first generated token
  std::span<const std::int32_t> tokens;    ///< [rows]; pad for rows that had already finished
  std::span<const std::uint8_t> emitted;   ///< [rows]; 1 where tokens[r] is a new token of row r
};

/// Options of Model::generate. Defaults are transformers' GenerationConfig defaults, except
/// max_new_tokens. Search: greedy (the default), sampling (do_sample) or beam search (num_beams > 1).
/// Each step applies, in HF's order: repetition_penalty, no_repeat_ngram_size, min_new_tokens; then,
/// when sampling, temperature, top_k, top_p.
struct GenerationOptions {
  std::int64_t max_new_tokens = 64;
  std::int64_t min_new_tokens = 0;       ///< EOS is forbidden before this many new tokens
  std::vector<std::int32_t> eos_ids;     ///< any of them ends a row; empty: the config's eos_token_id
  std::optional<std::int32_t> decoder_start_id;  ///< unset: the config's decoder_start_token_id
  /// Outputs per input: independent samples, or the best beam hypotheses (<= num_beams). Greedy: 1.
  std::int64_t num_return_sequences = 1;

  float repetition_penalty = 1.0f;       ///< > 0; a seen token's score is divided (if > 0) or multiplied (if < 0) by it
  std::int64_t no_repeat_ngram_size = 0; ///< > 0: a token that would repeat an n-gram of the row is forbidden

  bool do_sample = false;
  float temperature = 1.0f;              ///< > 0
  std::int64_t top_k = 50;               ///< keep the top_k highest scores (ties at the k-th kept); 0: all (HF default 50)
  float top_p = 1.0f;                    ///< in (0, 1]: keep the smallest top set whose probability reaches top_p
  std::uint64_t seed = 0;
  /// The identity of each input in the random streams (cpu/sampling.hpp): a row samples the
  /// same tokens whatever batch it is in, if it keeps its key. Empty: 0, 1, ... in batch order.
  std::vector<std::uint64_t> row_keys;
  /// The stream key of input `i`.
  std::uint64_t row_key(std::int64_t i) const { return row_keys.empty() ? static_cast<std::uint64_t>(i) : row_keys[static_cast<std::size_t>(i)]; }

  std::int64_t num_beams = 1;
  float length_penalty = 1.0f;           ///< a hypothesis scores sum_logprobs / new_tokens ^ length_penalty
  EarlyStopping early_stopping = EarlyStopping::False;

  /// Greedy and sampling: compute GeneratedSequence::score (beam search always does). Without it
  /// and without processors, greedy takes the argmax on the backend and copies no logits.
  bool output_scores = false;

  /// Streaming: called after every step with each row's new token (greedy and sampling only; HF
  /// cannot stream beam search either, as the best beam is known only at the end).
  std::function<void(const TokenStep&)> on_token;
  /// Called after every step with the raw logits [rows, vocab] (row-major) before any processing.
  std::function<void(std::int64_t step, std::span<const float> logits)> on_logits;

  /// Output rows per input row: num_beams for beam search, num_return_sequences otherwise.
  std::int64_t rows_per_input() const { return num_beams > 1 ? num_beams : num_return_sequences; }

  /// Throws Error(InvalidArgument) naming the first option out of range, or row_keys whose count
  /// is not `inputs` (when inputs >= 0).
  void validate(std::int64_t inputs = -1) const {
    auto fail = [](const std::string& msg) { throw Error(ErrorCode::InvalidArgument, "generate: " + msg); };
    auto str = [](auto v) { return std::to_string(v); };
    if (inputs >= 0 && !row_keys.empty() && static_cast<std::int64_t>(row_keys.size()) != inputs)
      fail(str(row_keys.size()) + " row_keys for " + str(inputs) + " inputs");
    if (max_new_tokens <= 0 || max_new_tokens > max_row_length)
      fail("max_new_tokens must be in [1, " + str(max_row_length) + "], found " + str(max_new_tokens));
    if (min_new_tokens < 0 || min_new_tokens > max_new_tokens)
      fail("min_new_tokens must be in [0, max_new_tokens " + str(max_new_tokens) + "], found " + str(min_new_tokens));
    if (num_beams < 1) fail("num_beams must be at least 1, found " + str(num_beams));
    if (num_return_sequences < 1) fail("num_return_sequences must be at least 1, found " + str(num_return_sequences));
    if (num_beams > 1 && num_return_sequences > num_beams)
      fail("num_return_sequences " + str(num_return_sequences) + " exceeds num_beams " + str(num_beams));
    if (num_beams == 1 && !do_sample && num_return_sequences > 1)
      fail("num_return_sequences > 1 needs do_sample or num_beams > 1 (greedy search returns one sequence per input)");
    if (num_beams > 1 && do_sample) fail("beam sampling (do_sample with num_beams > 1) is not supported");
    if (num_beams > 1 && on_token) fail("streaming (on_token) is not available with beam search");
    if (!(repetition_penalty > 0.0f) || !std::isfinite(repetition_penalty))
      fail("repetition_penalty must be a finite number > 0, found " + str(repetition_penalty));
    if (no_repeat_ngram_size < 0) fail("no_repeat_ngram_size must be >= 0, found " + str(no_repeat_ngram_size));
    if (!std::isfinite(length_penalty)) fail("length_penalty must be finite");
    if (do_sample) {
      if (!(temperature > 0.0f) || !std::isfinite(temperature)) fail("temperature must be > 0 when sampling, found " + str(temperature));
      if (top_k < 0) fail("top_k must be >= 0, found " + str(top_k));
      if (!(top_p > 0.0f && top_p <= 1.0f)) fail("top_p must be in (0, 1], found " + str(top_p));
    }
  }
};

/// One output sequence.
struct GeneratedSequence {
  std::vector<std::int32_t> tokens;  ///< after the decoder start token, through its EOS when it has one
  /// Beam search: HF's sequences_scores, sum_logprobs / new_tokens ^ length_penalty. Greedy and
  /// sampling: the sum of the log-probabilities of the tokens under the processed (and warped) scores.
  float score = 0.0f;
};

struct Generation {
  std::int64_t per_input = 1;                ///< sequences per input (num_return_sequences)
  std::vector<GeneratedSequence> sequences;  ///< input-major: input i's k-th sequence at i * per_input + k
  std::int64_t steps = 0;                    ///< decoder steps run
  std::size_t cache_bytes = 0;               ///< self- and cross-attention K/V held during the call

  const GeneratedSequence& at(std::int64_t input, std::int64_t k = 0) const { return sequences.at(static_cast<std::size_t>(input * per_input + k)); }
  /// The token lists of all sequences, in order.
  std::vector<std::vector<std::int32_t>> token_rows() const {
    std::vector<std::vector<std::int32_t>> rows;
    for (const auto& s : sequences) rows.push_back(s.tokens);
    return rows;
  }
};

}  // namespace t5
