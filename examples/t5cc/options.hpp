// What the t5cc commands share: usage errors, CLI11 validators that speak t5cc's messages, the
// options of the commands that run a model (inputs, batching, threads, device), reading the
// inputs, loading the model, and running the inputs in batches behind a progress bar.
#pragma once

#include <CLI/CLI.hpp>

#include <cstdint>
#include <functional>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "t5/core/batch.hpp"
#include "t5/load.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace t5cc {

/// A mistake in the command line (exit status 2); every other error is status 1.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A subcommand's work, called once its options were parsed; returns the exit status.
using Command = std::function<int()>;

/// Validators for CLI11 options, checking the text before CLI11 converts it, so that "-3" never
/// becomes a huge unsigned value and "2.5" never a truncated integer.
CLI::Validator integer_at_least(std::int64_t min);                     ///< a decimal integer >= min (< 2^63)
CLI::Validator unsigned_integer();                                     ///< a decimal integer in [0, 2^64)
CLI::Validator finite_number();                                        ///< a finite decimal number
CLI::Validator one_of(std::vector<std::string> values);                ///< one of `values`
CLI::Validator non_empty();                                            ///< not ""

/// `message` with the snake_case name of each of `flags` (num_beams for --num-beams) written as the
/// flag, and a leading "generate: " dropped: GenerationOptions::validate names the fields it checks.
std::string in_option_terms(std::string message, const std::vector<std::string>& flags);

/// The options of `encode` and `generate` beyond their own.
struct JobOptions {
  std::string model;
  std::vector<std::string> texts;
  std::string input;  ///< --input FILE ("-": stdin)
  std::int64_t batch_size = 8;
  int threads = 0;
  std::string device = "cpu";
  std::string dtype;  ///< empty: the device's default
  bool quiet = false;
};

/// Adds --model, TEXT..., --input, --batch-size, --threads, --device, --dtype and --quiet to `app`.
void add_job_options(CLI::App& app, JobOptions& job);

/// The inputs: TEXT arguments, or the lines of --input (not both, and at least one).
std::vector<std::string> read_inputs(const std::vector<std::string>& texts, const std::string& input);

/// The model of --model on --device (--threads, --dtype), and its tokenizer. UsageError for a bad
/// combination of options, t5::Error otherwise.
struct LoadedModel {
  std::unique_ptr<t5::AnyModel> model;
  t5::Tokenizer tokenizer;
};
LoadedModel load_model(const JobOptions& job);

/// Calls run(first, count) for consecutive batches of `batch_size` of `total` inputs, with a
/// progress bar on stderr ("[#####     ] 40/100 inputs, 12.5 inputs/s", redrawn in place) shown
/// only when stderr is a terminal, `quiet` is false and the job has run for a second.
void for_each_batch(std::int64_t total, std::int64_t batch_size, bool quiet, const std::function<void(std::int64_t, std::int64_t)>& run);

/// Rows [first, first + count) of a batch.
t5::TokenBatch rows_of(const t5::TokenBatch& all, std::int64_t first, std::int64_t count);

}  // namespace t5cc
