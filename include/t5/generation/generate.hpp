// The decode loop of transformers.generate, once for any model on a backend: every step runs each
// row's next token through a decoder step (the model's decoder and LM head), lets the search choose
// the next tokens (on the backend when an argmax or a sampling draw is all it needs, so no logits
// are copied), and reorders beam search's self-attention caches. Everything a step touches is
// allocated before the first step.
#pragma once

#include <algorithm>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "t5/config/hparams.hpp"
#include "t5/core/backend.hpp"
#include "t5/core/error.hpp"
#include "t5/generation/decoder_state.hpp"
#include "t5/generation/options.hpp"
#include "t5/generation/search.hpp"

namespace t5 {

/// One decoder step of every row: ids [rows] in backend memory -> logits [rows, vocab] float32,
/// appending one position to the caches (DecoderState::length counts it afterwards).
template <Backend B>
using DecoderStep = std::function<void(const std::int32_t* ids, MatrixView<float, typename B::Space> logits)>;

/// The special ids of a generate call: the options' where given, else the config's. Throws
/// Error(InvalidArgument) for an id outside the vocabulary.
inline SpecialIds special_ids(const GenerationOptions& o, const Hparams& h) {
  SpecialIds ids{o.decoder_start_id.value_or(static_cast<std::int32_t>(h.decoder_start_id)), static_cast<std::int32_t>(h.pad_id), o.eos_ids};
  if (ids.eos.empty()) ids.eos.push_back(static_cast<std::int32_t>(h.eos_id));
  for (std::int32_t id : ids.eos)
    if (id < 0 || id >= h.vocab_size) throw Error(ErrorCode::InvalidArgument, "generate: EOS id " + std::to_string(id) + " is outside the vocabulary");
  if (ids.decoder_start < 0 || ids.decoder_start >= h.vocab_size)
    throw Error(ErrorCode::InvalidArgument, "generate: decoder start id " + std::to_string(ids.decoder_start) + " is outside the vocabulary");
  return ids;
}

/// Runs the search `options` selects (options.validate(inputs) passed) over `state` (start_decoder's
/// caches for state.layout, empty), from the decoder start token until every row has ended or
/// max_new_tokens steps have run.
template <Backend B>
Generation generate_tokens(B& b, DecoderState<B>& state, const GenerationOptions& options, const SpecialIds& ids, std::int64_t vocab,
                           const DecoderStep<B>& step) {
  const std::int64_t inputs = state.layout.inputs, rows = state.layout.rows();
  auto logits = b.template allocate<float>(rows, vocab);
  auto next = b.template allocate<std::int32_t>(rows, 1);
  const std::unique_ptr<Search> search = make_search(options, ids, inputs, vocab);
  const StepInput step_input = search->step_input();
  const bool host_logits_needed = step_input == StepInput::HostLogits || static_cast<bool>(options.on_logits);
  std::vector<float> host_logits(host_logits_needed ? static_cast<std::size_t>(rows * vocab) : 0);
  std::vector<std::int32_t> chosen(step_input == StepInput::HostLogits ? 0 : static_cast<std::size_t>(rows));
  std::vector<std::uint64_t> keys;
  for (std::int64_t i = 0; i < inputs; ++i) keys.push_back(options.row_key(i));
  const auto row_keys = b.template upload<std::uint64_t>(keys, inputs, 1);

  const auto nonfinite = [&](std::int64_t step, std::int64_t row) {
    throw Error(ErrorCode::NonFinite, "generate: the logits of input row " + std::to_string(row / state.layout.rows_per_input) +
                                          " hold NaN or Inf at step " + std::to_string(step));
  };
  Generation out;
  out.per_input = options.num_return_sequences;
  out.cache_bytes = state.cache_bytes();
  for (bool done = false; !done && out.steps < options.max_new_tokens; ++out.steps) {
    b.upload_into(search->tokens(), next.data());
    step(next.data(), logits.view());
    ++state.length;
    if (host_logits_needed) b.download(logits.data(), std::span<float>(host_logits));
    if (options.on_logits) options.on_logits(out.steps, host_logits);
    if (host_logits_needed)
      if (const std::int64_t row = first_nonfinite_row(host_logits, vocab); row >= 0) nonfinite(out.steps, row);
    if (step_input == StepInput::HostLogits) {
      done = search->step(host_logits);
    } else {
      if (step_input == StepInput::Sample) {
        SampleArgs draw = search->sample_args();
        draw.row_keys = row_keys.data();
        b.sample(logits.view(), draw, next.data());
      } else {
        b.argmax(logits.view(), next.data());
      }
      b.download(next.data(), std::span<std::int32_t>(chosen));
      if (const auto bad = std::find(chosen.begin(), chosen.end(), nonfinite_token); bad != chosen.end()) nonfinite(out.steps, bad - chosen.begin());
      if (std::any_of(chosen.begin(), chosen.end(), [](std::int32_t t) { return t < 0; }))
        throw Error(ErrorCode::InvalidArgument, "generate: every token was excluded at a sampling step");
      done = search->step_tokens(chosen);
    }
    if (!search->parents().empty()) reorder_cache(b, state, search->parents());
  }
  out.sequences = search->finish();
  return out;
}

}  // namespace t5
