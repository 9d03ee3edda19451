// What the t5cc commands share: usage errors, CLI11 validators that speak t5cc's messages, the
// options of the commands that run a model (inputs, batching, threads, device), reading the
// inputs, loading the model, and running the inputs in batches behind a progress bar.
#pragma once

#include <CLI/CLI.hpp>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "t5/core/batch.hpp"
#include "t5/load.hpp"
#include "t5/tokenizer/find.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace t5cc {

/// A mistake in the command line (exit status 2); every other error is status 1.
struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// A subcommand's work, called once its options were parsed; returns the exit status.
using Command = std::function<int()>;

/// The ranges of the numeric options, the true limits of what they can mean or what the tool can
/// run; every numeric option is checked against its range on its text, before CLI11 converts it.
namespace limits {
/// libgomp starts a team with one start record per thread on the caller's stack (alloca), so
/// ~10^5 threads overflow an 8 MiB stack (a segfault, not an error). 1024 is above the hardware
/// threads of any current machine (two-socket servers reach 768), and 1024 threads on 2 cores
/// still start in seconds; more threads than cores only slow a job down.
inline constexpr std::int64_t threads = 1024;
/// Inputs per batch: the library refuses a batch whose memory does not fit; 2^20 inputs is beyond
/// any batch that does, and keeps inputs x rows per input (<= 2^30) far from overflow.
inline constexpr std::int64_t batch_size = std::int64_t{1} << 20;
/// --pad-to, --max-new-tokens, --min-new-tokens, --no-repeat-ngram-size: the library's longest
/// row (t5::max_row_length, 2^24 tokens), so the tool refuses exactly what the library would; an
/// n-gram longer than any output can never repeat.
inline constexpr std::int64_t row_length = t5::max_row_length;
/// Beams and outputs per input are decoder rows of one call, each searched every step (beam search
/// ranks 2 x num_beams candidates per input): 1024 is far beyond the settings in use (1 to 64),
/// and the library checks that inputs x rows fit in memory.
inline constexpr std::int64_t num_beams = 1024;
inline constexpr std::int64_t num_return_sequences = 1024;
/// Token ids are int32: no vocabulary is larger than 2^31 - 1, and K >= vocabulary keeps all.
inline constexpr std::int64_t top_k = std::numeric_limits<std::int32_t>::max();
/// --temperature divides the scores and --repetition-penalty divides or multiplies them: within
/// [1e-6, 1e6] a score below 1e32 stays finite, and the ends already are the extremes (greedy or
/// uniform sampling; a repeat forbidden or forced).
inline constexpr double scale_min = 1e-6, scale_max = 1e6;
/// A beam scores sum_logprobs / length^L: |L| <= 10 is far beyond the settings in use (0.6 to 2)
/// and keeps length^L (length <= 2^24) finite in the double the search ranks with.
inline constexpr double length_penalty = 10.0;
/// The longest line of --input, in bytes: 1 MiB is some 250k tokens, far longer than any T5 input
/// (they train at 512); a longer line is a binary file or one without line breaks.
inline constexpr std::size_t input_line_bytes = std::size_t{1} << 20;
}  // namespace limits

// Validators for CLI11 options, checking the text before CLI11 converts it, so that "-3" never
// becomes a huge unsigned value, "2.5" a truncated integer or "1e300" an out-of-range cast. The
// message names the range: "--threads: needs an integer in [1, 1024], found '100000'".

/// A decimal integer in [min, max]; max is unsigned so that a seed's [0, 2^64) is one of them.
CLI::Validator integer_in(std::int64_t min, std::uint64_t max);
/// A finite decimal number in [min, max], or (min, max] with `open_min`, that keeps its range
/// when rounded to the float32 the options hold.
CLI::Validator number_in(double min, double max, bool open_min = false);
/// "[1, 1024]", "[0, 2^64)", "(0, 1]": a range as the validators' messages and the help write it.
std::string integer_range(std::int64_t min, std::uint64_t max);
std::string number_range(double min, double max, bool open_min = false);
CLI::Validator one_of(std::vector<std::string> values);                ///< one of `values`
CLI::Validator non_empty();                                            ///< not ""

/// `message` with the snake_case name of each of `flags` (num_beams for --num-beams) written as the
/// flag, and a leading "generate: " dropped: GenerationOptions::validate names the fields it checks.
std::string in_option_terms(std::string message, const std::vector<std::string>& flags);

/// The options of `encode` and `generate` beyond their own.
struct JobOptions {
  std::string model;
  std::string config;  ///< --config FILE
  std::vector<std::string> texts;
  std::string input;  ///< --input FILE ("-": stdin)
  std::int64_t batch_size = 8;
  int threads = 0;
  std::string device = "cpu";
  std::string dtype;  ///< empty: the device's default
  bool quiet = false;
  std::string tokenizer;  ///< --tokenizer PATH; empty: found beside the weights
  std::string mode = "sp";  ///< --mode sp|hf
  bool ids = false;         ///< --ids: the inputs are lines of token ids
  bool fold_norm_gains = false;  ///< --fold-norm-gains
  std::string fp16_scales;       ///< --fp16-scales FILE
};

/// The help of --model and --config (encode, generate, inspect).
std::string model_help();
std::string config_help();

/// The help of --input (encode, generate, tokenize).
std::string input_help();

/// Adds --model, --config, --tokenizer, --mode, --ids, TEXT..., --input, --batch-size, --threads,
/// --device, --dtype and --quiet to `app`.
void add_job_options(CLI::App& app, JobOptions& job);

/// The inputs: TEXT arguments, or the lines of --input (not both, and at least one). --input is a
/// file, '-' (stdin) or a FIFO, read as a stream: each line at most limits::input_line_bytes (a CR
/// before its LF dropped), no NUL byte (a binary or UTF-16 file), and all of them in half of this
/// machine's memory; invalid UTF-8 goes to the tokenizer, which reads it as <unk>. A directory
/// is an error; t5::Error(Io) names the file and the line.
std::vector<std::string> read_inputs(const std::vector<std::string>& texts, const std::string& input);

/// The model of --model on --device (--threads, --dtype), and its tokenizer (--tokenizer, else
/// found as t5::find_tokenizer finds it). The weights are loaded first; a missing tokenizer is an
/// error only when a command needs one (text in or out), naming where it looked. UsageError
/// for a bad combination of options, t5::Error otherwise.
struct LoadedModel {
  std::unique_ptr<t5::AnyModel> model;
  t5::FoundTokenizer tokenizer_search;
  const JobOptions* job = nullptr;

  const t5::Tokenizer& tokenizer() const;
  t5::TokenizerMode mode() const { return job->mode == "hf" ? t5::TokenizerMode::HuggingFace : t5::TokenizerMode::SentencePiece; }
  /// The inputs as one batch: each a line of ids with --ids (taken as given, no EOS added; each id
  /// inside the model's vocabulary), else text tokenized with `options`.
  t5::TokenBatch batch(std::span<const std::string> inputs, t5::BatchOptions options) const;
};
LoadedModel load_model(const JobOptions& job);

/// Flushes std::cout; t5::Error(Io) when the output could not be written (a full disk, a closed
/// stdout), so a job stops instead of computing what nobody receives.
void flush_stdout();

/// Calls run(first, count) for consecutive batches of `batch_size` of `total` inputs, with a
/// progress bar on stderr ("[#####     ] 40/100 inputs, 12.5 inputs/s", redrawn in place) shown
/// only when stderr is a terminal, `quiet` is false and the job has run for a second.
void for_each_batch(std::int64_t total, std::int64_t batch_size, bool quiet, const std::function<void(std::int64_t, std::int64_t)>& run);

/// Rows [first, first + count) of a batch.
t5::TokenBatch rows_of(const t5::TokenBatch& all, std::int64_t first, std::int64_t count);

}  // namespace t5cc
