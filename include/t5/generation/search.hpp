// The search strategies of Model::generate, on host logits, backend-agnostic: TokenSearch (greedy and
// sampling, HF's _sample) and BeamSearch (HF's _beam_search with BeamSearchScorer). The model's decode
// loop feeds each step's logits [rows, vocab] and reads back the next token of every row and, for
// beams, the row each beam continues (its cache is reordered accordingly). Everything a step touches
// is allocated in the constructors.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "t5/generation/options.hpp"
#include "t5/generation/scores.hpp"

namespace t5 {

/// The special ids of a generate call, resolved from the options and the config.
struct SpecialIds {
  std::int32_t decoder_start = 0;
  std::int32_t pad = 0;
  std::vector<std::int32_t> eos;
  bool is_eos(std::int32_t t) const { return std::find(eos.begin(), eos.end(), t) != eos.end(); }
};

/// What a search's step consumes: the backend's argmax of every row, the backend's sampling draw of
/// every row (SampleArgs from sample_args()), or the logits themselves on the host.
enum class StepInput : std::uint8_t { Argmax, Sample, HostLogits };

class Search {
 public:
  virtual ~Search() = default;
  /// Argmax and Sample: the backend chooses the tokens (step_tokens), and no logits are copied.
  virtual StepInput step_input() const = 0;
  /// Consumes one step's logits [rows, vocab] (modified in place); returns whether generation ends.
  virtual bool step(std::span<float> logits) = 0;
  /// Consumes the backend's choice of every row (argmax or sampling draw); returns whether generation ends.
  virtual bool step_tokens(std::span<const std::int32_t> tokens) = 0;
  /// The draw of the next step when step_input() is Sample (row_keys left for the caller to place).
  virtual SampleArgs sample_args() const { return {}; }
  /// The next decoder input of every row.
  virtual std::span<const std::int32_t> tokens() const = 0;
  /// The row whose cache and history each row continues from now on; empty when rows never move.
  virtual std::span<const std::int32_t> parents() const { return {}; }
  virtual std::vector<GeneratedSequence> finish() = 0;
};

/// Token histories [rows, 1 + max_new_tokens], the decoder start token first (HF's input_ids).
class Histories {
 public:
  Histories(std::int64_t rows, std::int64_t max_new_tokens, std::int32_t start)
      : width_(1 + max_new_tokens), ids_(static_cast<std::size_t>(rows * width_), start), lengths_(static_cast<std::size_t>(rows), 1) {}
  std::span<const std::int32_t> row(std::int64_t r) const { return {ids_.data() + r * width_, lengths_[static_cast<std::size_t>(r)]}; }
  /// The generated part: the row without its decoder start token.
  std::span<const std::int32_t> generated(std::int64_t r) const { return row(r).subspan(1); }
  void push(std::int64_t r, std::int32_t token) { ids_[static_cast<std::size_t>(r * width_) + lengths_[static_cast<std::size_t>(r)]++] = token; }
  /// Row r becomes a copy of row from.row(parent).
  void assign(std::int64_t r, const Histories& from, std::int64_t parent) {
    const auto src = from.row(parent);
    std::copy(src.begin(), src.end(), ids_.begin() + r * width_);
    lengths_[static_cast<std::size_t>(r)] = src.size();
  }

 private:
  std::int64_t width_;
  std::vector<std::int32_t> ids_;
  std::vector<std::size_t> lengths_;
};

/// Greedy search and sampling: every row runs on its own until one of the EOS ids, then emits pad.
class TokenSearch final : public Search {
 public:
  TokenSearch(const GenerationOptions& o, const SpecialIds& ids, std::int64_t inputs, std::int64_t vocab)
      : options_(o), ids_(ids), per_input_(o.num_return_sequences), rows_(inputs * per_input_), vocab_(vocab),
        processors_(o, ids_.eos), warpers_(o.do_sample ? vocab : 0), history_(rows_, o.max_new_tokens, ids.decoder_start),
        tokens_(static_cast<std::size_t>(rows_), ids.decoder_start), emitted_(static_cast<std::size_t>(rows_), 0),
        finished_(static_cast<std::size_t>(rows_), 0), scores_(static_cast<std::size_t>(rows_), 0.0f) {}

  StepInput step_input() const override {
    if (options_.output_scores || processors_.active()) return StepInput::HostLogits;
    return options_.do_sample ? StepInput::Sample : StepInput::Argmax;
  }

  SampleArgs sample_args() const override {
    return {options_.temperature, options_.top_k, options_.top_p, options_.seed, nullptr, per_input_, step_};
  }

  bool step(std::span<float> logits) override {
    for (std::int64_t r = 0; r < rows_; ++r) {
      if (finished_[static_cast<std::size_t>(r)]) continue;
      auto s = logits.subspan(static_cast<std::size_t>(r * vocab_), static_cast<std::size_t>(vocab_));
      processors_.apply(s, history_.row(r));
      std::int32_t token;
      if (options_.do_sample) {
        token = warp_and_sample(warpers_, s, sample_args(), options_.row_key(r / per_input_), r % per_input_);
      } else {
        token = argmax(s);
      }
      if (options_.output_scores) {
        log_softmax(s);
        scores_[static_cast<std::size_t>(r)] += s[static_cast<std::size_t>(token)];
      }
      tokens_[static_cast<std::size_t>(r)] = token;
    }
    return advance();
  }

  bool step_tokens(std::span<const std::int32_t> chosen) override {
    std::copy(chosen.begin(), chosen.end(), tokens_.begin());
    return advance();
  }

  std::span<const std::int32_t> tokens() const override { return tokens_; }

  std::vector<GeneratedSequence> finish() override {
    std::vector<GeneratedSequence> out;
    for (std::int64_t r = 0; r < rows_; ++r) {
      const auto g = history_.generated(r);
      out.push_back({{g.begin(), g.end()}, scores_[static_cast<std::size_t>(r)]});
    }
    return out;
  }

 private:
  // Records this step's tokens (pad for finished rows), streams them, and reports whether all ended.
  bool advance() {
    bool all = true;
    for (std::size_t r = 0; r < tokens_.size(); ++r) {
      emitted_[r] = !finished_[r];
      if (finished_[r]) {
        tokens_[r] = ids_.pad;
        continue;
      }
      history_.push(static_cast<std::int64_t>(r), tokens_[r]);
      finished_[r] = ids_.is_eos(tokens_[r]);
      all = all && finished_[r];
    }
    if (options_.on_token) options_.on_token({step_, tokens_, emitted_});
    ++step_;
    return all;
  }

  const GenerationOptions& options_;
  const SpecialIds& ids_;
  std::int64_t per_input_, rows_, vocab_;
  LogitsProcessors processors_;
  SamplingWarpers warpers_;
  Histories history_;
  std::vector<std::int32_t> tokens_;
  std::vector<std::uint8_t> emitted_, finished_;
  std::vector<float> scores_;
  std::int64_t step_ = 0;
};

/// The finished hypotheses of one input (HF BeamHypotheses), in fixed storage: num_beams + 1 slots
/// whose token vectors are reserved once.
class BeamHypotheses {
 public:
  BeamHypotheses(std::int64_t num_beams, const GenerationOptions& o)
      : beams_(static_cast<std::size_t>(num_beams)), length_penalty_(o.length_penalty), early_(o.early_stopping),
        max_new_tokens_(o.max_new_tokens), slots_(beams_ + 1) {
    for (auto& s : slots_) s.tokens.reserve(static_cast<std::size_t>(o.max_new_tokens));
    order_.reserve(beams_ + 1);
  }

  /// A hypothesis of `prefix` then `last` (-1: none) whose log-probabilities sum to sum_logprobs;
  /// it scores sum_logprobs / length ^ length_penalty, length counting its generated tokens.
  void add(std::span<const std::int32_t> prefix, std::int32_t last, float sum_logprobs) {
    const auto length = static_cast<double>(prefix.size() + (last >= 0 ? 1 : 0));
    const double score = static_cast<double>(sum_logprobs) / std::pow(length, static_cast<double>(length_penalty_));
    if (order_.size() >= beams_ && score <= worst_) return;
    std::size_t free = 0;
    while (std::find(order_.begin(), order_.end(), free) != order_.end()) ++free;
    Slot& slot = slots_[free];
    slot.score = score;
    slot.tokens.assign(prefix.begin(), prefix.end());
    if (last >= 0) slot.tokens.push_back(last);
    order_.push_back(free);
    if (order_.size() > beams_) {  // drop the worst, the earliest of equals (HF sorts (score, index))
      auto worst = std::min_element(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) { return slots_[a].score < slots_[b].score; });
      order_.erase(worst);
      worst_ = slots_[*std::min_element(order_.begin(), order_.end(), [&](std::size_t a, std::size_t b) { return slots_[a].score < slots_[b].score; })].score;
    } else {
      worst_ = std::min(score, worst_);
    }
  }

  /// HF BeamHypotheses.is_done, with best_sum_logprobs the best candidate score of this step and
  /// `length` the generated length the running beams reach with it.
  bool is_done(float best_sum_logprobs, std::int64_t length) const {
    if (order_.size() < beams_) return false;
    if (early_ == EarlyStopping::True) return true;
    const std::int64_t judged_at = early_ == EarlyStopping::Never && length_penalty_ > 0.0f ? max_new_tokens_ : length;
    const double best = static_cast<double>(best_sum_logprobs) / std::pow(static_cast<double>(judged_at), static_cast<double>(length_penalty_));
    return worst_ >= best;
  }

  /// The best `count` hypotheses, best first (HF's order among equal scores: the later one first).
  void best(std::int64_t count, std::vector<GeneratedSequence>& out) const {
    std::vector<std::size_t> ranked(order_.rbegin(), order_.rend());
    std::stable_sort(ranked.begin(), ranked.end(), [&](std::size_t a, std::size_t b) { return slots_[a].score > slots_[b].score; });
    for (std::int64_t k = 0; k < count; ++k) {
      const Slot& s = slots_[ranked[static_cast<std::size_t>(k)]];
      out.push_back({s.tokens, static_cast<float>(s.score)});
    }
  }

 private:
  struct Slot {
    double score = 0.0;
    std::vector<std::int32_t> tokens;
  };
  std::size_t beams_;
  float length_penalty_;
  EarlyStopping early_;
  std::int64_t max_new_tokens_;
  std::vector<Slot> slots_;
  std::vector<std::size_t> order_;  // slots in use, in insertion order (HF's list order)
  double worst_ = 1e9;              // HF's initial worst_score
};

/// Beam search (HF _beam_search + BeamSearchScorer): rows are input-major, num_beams per input.
/// Each step: scores = log_softmax(logits), processed, plus the beam's running score; the best
/// max(2, 1 + #eos) * num_beams candidates of each input, in order, either finish a hypothesis (an
/// EOS ranked among the first num_beams) or continue as the next beams. A finished input feeds pad.
class BeamSearch final : public Search {
 public:
  BeamSearch(const GenerationOptions& o, const SpecialIds& ids, std::int64_t inputs, std::int64_t vocab)
      : options_(o), ids_(ids), inputs_(inputs), beams_(o.num_beams), rows_(inputs * beams_), vocab_(vocab),
        keep_(std::max<std::int64_t>(2, 1 + static_cast<std::int64_t>(ids.eos.size())) * beams_), processors_(o, ids_.eos),
        history_(rows_, o.max_new_tokens, ids.decoder_start), next_history_(rows_, o.max_new_tokens, ids.decoder_start),
        beam_scores_(static_cast<std::size_t>(rows_), 0.0f), next_scores_(beam_scores_.size()), tokens_(beam_scores_.size(), ids.decoder_start),
        parents_(beam_scores_.size()), done_(static_cast<std::size_t>(inputs), 0) {
    for (std::int64_t r = 0; r < rows_; ++r)
      if (r % beams_ != 0) beam_scores_[static_cast<std::size_t>(r)] = -1e9f;  // only beam 0 expands at the first step
    hypotheses_.reserve(static_cast<std::size_t>(inputs));
    for (std::int64_t i = 0; i < inputs; ++i) hypotheses_.emplace_back(beams_, o);
    candidates_.reserve(static_cast<std::size_t>(keep_ + 1));
  }

  StepInput step_input() const override { return StepInput::HostLogits; }
  bool step_tokens(std::span<const std::int32_t>) override { throw Error(ErrorCode::InvalidArgument, "beam search needs the logits"); }
  std::span<const std::int32_t> tokens() const override { return tokens_; }
  std::span<const std::int32_t> parents() const override { return parents_; }

  bool step(std::span<float> logits) override {
    bool all_done = true;
    for (std::int64_t i = 0; i < inputs_; ++i) {
      if (!done_[static_cast<std::size_t>(i)]) select(i, logits);
      if (done_[static_cast<std::size_t>(i)])  // HF: score 0, pad; its rows stay where they are
        for (std::int64_t r = i * beams_; r < (i + 1) * beams_; ++r) {
          next_scores_[static_cast<std::size_t>(r)] = 0.0f;
          tokens_[static_cast<std::size_t>(r)] = ids_.pad;
          parents_[static_cast<std::size_t>(r)] = static_cast<std::int32_t>(r);
        }
      all_done = all_done && done_[static_cast<std::size_t>(i)];
    }
    for (std::int64_t r = 0; r < rows_; ++r) {
      next_history_.assign(r, history_, parents_[static_cast<std::size_t>(r)]);
      next_history_.push(r, tokens_[static_cast<std::size_t>(r)]);
    }
    std::swap(history_, next_history_);
    std::swap(beam_scores_, next_scores_);
    ++steps_;
    return all_done;
  }

  /// HF finalize: inputs still running add their beams as hypotheses; each input returns its best
  /// num_return_sequences.
  std::vector<GeneratedSequence> finish() override {
    std::vector<GeneratedSequence> out;
    for (std::int64_t i = 0; i < inputs_; ++i) {
      auto& hyps = hypotheses_[static_cast<std::size_t>(i)];
      if (!done_[static_cast<std::size_t>(i)])
        for (std::int64_t r = i * beams_; r < (i + 1) * beams_; ++r) hyps.add(history_.generated(r), -1, beam_scores_[static_cast<std::size_t>(r)]);
      hyps.best(options_.num_return_sequences, out);
    }
    return out;
  }

 private:
  struct Candidate {
    float score;
    std::int32_t token;
    std::int32_t row;  // the beam row it extends
  };

  void select(std::int64_t input, std::span<float> logits) {
    candidates_.clear();
    for (std::int64_t r = input * beams_; r < (input + 1) * beams_; ++r) {
      auto s = logits.subspan(static_cast<std::size_t>(r * vocab_), static_cast<std::size_t>(vocab_));
      log_softmax(s);
      processors_.apply(s, history_.row(r));
      const float beam_score = beam_scores_[static_cast<std::size_t>(r)];
      for (std::int64_t v = 0; v < vocab_; ++v) {
        const float score = s[static_cast<std::size_t>(v)] + beam_score;  // float32, as HF
        if (static_cast<std::int64_t>(candidates_.size()) == keep_ && !(score > candidates_.back().score)) continue;
        // Insert in descending order; an equal score stays behind the earlier (lower flat index) one.
        auto at = std::upper_bound(candidates_.begin(), candidates_.end(), score, [](float x, const Candidate& c) { return x > c.score; });
        candidates_.insert(at, {score, static_cast<std::int32_t>(v), static_cast<std::int32_t>(r)});
        if (static_cast<std::int64_t>(candidates_.size()) > keep_) candidates_.pop_back();
      }
    }
    auto& hyps = hypotheses_[static_cast<std::size_t>(input)];
    std::int64_t next = input * beams_;
    for (std::size_t rank = 0; rank < candidates_.size() && next < (input + 1) * beams_; ++rank) {
      const Candidate& c = candidates_[rank];
      if (ids_.is_eos(c.token)) {
        if (static_cast<std::int64_t>(rank) < beams_) hyps.add(history_.generated(c.row), c.token, c.score);
        continue;
      }
      next_scores_[static_cast<std::size_t>(next)] = c.score;
      tokens_[static_cast<std::size_t>(next)] = c.token;
      parents_[static_cast<std::size_t>(next)] = c.row;
      ++next;
    }
    if (next < (input + 1) * beams_) throw Error(ErrorCode::InvalidArgument, "beam search: too few non-EOS candidates to continue the beams");
    done_[static_cast<std::size_t>(input)] = hyps.is_done(candidates_.front().score, steps_ + 1);
  }

  const GenerationOptions& options_;
  const SpecialIds& ids_;
  std::int64_t inputs_, beams_, rows_, vocab_, keep_;
  LogitsProcessors processors_;
  Histories history_, next_history_;
  std::vector<float> beam_scores_, next_scores_;
  std::vector<std::int32_t> tokens_, parents_;
  std::vector<std::uint8_t> done_;
  std::vector<BeamHypotheses> hypotheses_;
  std::vector<Candidate> candidates_;
  std::int64_t steps_ = 0;
};

inline std::unique_ptr<Search> make_search(const GenerationOptions& o, const SpecialIds& ids, std::int64_t inputs, std::int64_t vocab) {
  if (o.num_beams > 1) return std::make_unique<BeamSearch>(o, ids, inputs, vocab);
  return std::make_unique<TokenSearch>(o, ids, inputs, vocab);
}

}  // namespace t5
