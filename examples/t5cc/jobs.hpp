// What `t5cc encode` and `t5cc generate` share: the common options, reading the inputs (arguments,
// or one per line from --input FILE or stdin), loading model and tokenizer for --device, and the
// progress bar on stderr.
#pragma once

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "args.hpp"
#include "t5/build_config.hpp"
#include "t5/t5.hpp"

namespace t5cc {

inline const std::vector<OptionSpec> job_options = {
    {"input", "FILE", "read the inputs from FILE, one per line ('-' for stdin), instead of TEXT arguments"},
    {"batch-size", "N", "inputs per batch (default 8)"},
    {"threads", "N", "CPU threads (default: all cores)"},
    {"device", "cpu|cuda", "where the model runs (default cpu; cuda: the first GPU, needs a build with CUDA)"},
    {"dtype", "bf16|f16", "GPU weights and activations (default bf16; the residual stream stays float32)"},
    {"quiet", "", "no progress bar"},
};

/// A positive integer option, or `fallback` when absent; UsageError otherwise.
inline std::int64_t positive_option(const Args& args, const std::string& name, std::int64_t fallback) {
  const auto v = args.get(name);
  if (!v) return fallback;
  std::size_t used = 0;
  long long n = 0;
  try {
    n = std::stoll(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v->size() || n <= 0) throw UsageError("option '--" + name + "' needs a positive integer, found '" + *v + "'");
  return n;
}

/// The inputs: TEXT arguments, or the lines of --input (not both, and at least one).
inline std::vector<std::string> read_inputs(const Args& args) {
  const auto file = args.get("input");
  if (file && !args.positionals().empty()) throw UsageError("give inputs as TEXT arguments or with --input, not both");
  if (!file) {
    if (args.positionals().empty()) throw UsageError("no input: give TEXT arguments or --input FILE");
    return args.positionals();
  }
  if (file->empty()) throw UsageError("option '--input' needs a file name or '-'");
  std::ifstream stream;
  if (*file != "-") {
    stream.open(*file);
    if (!stream) throw t5::Error(t5::ErrorCode::Io, *file + ": cannot open the input file");
  }
  std::istream& in = *file == "-" ? std::cin : stream;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  if (in.bad()) throw t5::Error(t5::ErrorCode::Io, *file + ": read error");
  if (lines.empty()) throw UsageError("no input: " + (*file == "-" ? std::string("stdin") : *file) + " holds no line");
  return lines;
}

/// The model of --model on --device, and its tokenizer.
struct LoadedModel {
  std::unique_ptr<t5::AnyModel> model;
  t5::Tokenizer tokenizer;
};

/// Loads --model on --device (--threads); UsageError for a bad option, t5::Error otherwise.
/// Defined in jobs.cpp, so that the model templates of every variant are compiled once.
LoadedModel load_model(const Args& args);

/// "[#####     ] 40/100 inputs, 12.5 inputs/s" on stderr, redrawn in place, shown only when stderr
/// is a terminal, --quiet is absent and the job has run for a second.
class Progress {
 public:
  Progress(std::int64_t total, bool quiet) : total_(total), enabled_(!quiet && isatty(STDERR_FILENO)), start_(Clock::now()) {}
  ~Progress() {
    if (shown_) std::cerr << "\n";
  }

  void advance(std::int64_t done) {
    if (!enabled_) return;
    const double seconds = std::chrono::duration<double>(Clock::now() - start_).count();
    if (seconds < 1.0 && !shown_) return;
    shown_ = true;
    constexpr int width = 30;
    const int filled = static_cast<int>(width * done / std::max<std::int64_t>(total_, 1));
    char line[160];
    std::snprintf(line, sizeof line, "\r[%s%s] %lld/%lld inputs, %.1f inputs/s", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                  std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), static_cast<long long>(done),
                  static_cast<long long>(total_), static_cast<double>(done) / std::max(seconds, 1e-9));
    std::cerr << line << std::flush;
  }

 private:
  using Clock = std::chrono::steady_clock;
  std::int64_t total_;
  bool enabled_;
  bool shown_ = false;
  Clock::time_point start_;
};

/// Rows [first, first + count) of a batch.
inline t5::TokenBatch rows_of(const t5::TokenBatch& all, std::int64_t first, std::int64_t count) {
  t5::TokenBatch b;
  b.batch = count;
  b.length = all.length;
  const auto begin = static_cast<std::size_t>(first * all.length), end = static_cast<std::size_t>((first + count) * all.length);
  b.ids.assign(all.ids.begin() + static_cast<std::ptrdiff_t>(begin), all.ids.begin() + static_cast<std::ptrdiff_t>(end));
  b.mask.assign(all.mask.begin() + static_cast<std::ptrdiff_t>(begin), all.mask.begin() + static_cast<std::ptrdiff_t>(end));
  return b;
}

}  // namespace t5cc
