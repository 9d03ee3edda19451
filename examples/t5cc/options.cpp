// The shared parts of the t5cc commands (options.hpp).
#include "options.hpp"

#include <unistd.h>

#include <cctype>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>

#include "t5/core/error.hpp"

namespace t5cc {
namespace {

// The whole of `text` as a T (std::from_chars: no sign for unsigned, no spaces, no partial parse).
template <class T>
bool parse_all(const std::string& text, T& value) {
  const char* end = text.data() + text.size();
  const auto [ptr, ec] = std::from_chars(text.data(), end, value);
  return ec == std::errc() && ptr == end && !text.empty();
}

CLI::Validator validator(std::function<std::string(const std::string&)> check) {
  return CLI::Validator([check = std::move(check)](std::string& value) { return check(value); }, "");
}

}  // namespace

CLI::Validator integer_at_least(std::int64_t min) {
  return validator([min](const std::string& v) -> std::string {
    std::int64_t n = 0;
    if (parse_all(v, n) && n >= min) return "";
    return "needs an integer >= " + std::to_string(min) + ", found '" + v + "'";
  });
}

CLI::Validator unsigned_integer() {
  return validator([](const std::string& v) -> std::string {
    std::uint64_t n = 0;
    return parse_all(v, n) ? "" : "needs an integer in [0, 2^64), found '" + v + "'";
  });
}

CLI::Validator finite_number() {
  return validator([](const std::string& v) -> std::string {
    double x = 0.0;
    return parse_all(v, x) && std::isfinite(x) ? "" : "needs a finite number, found '" + v + "'";
  });
}

CLI::Validator one_of(std::vector<std::string> values) {
  return validator([values = std::move(values)](const std::string& v) -> std::string {
    std::string list;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (v == values[i]) return "";
      list += (i == 0 ? "" : i + 1 == values.size() ? " or " : ", ") + values[i];
    }
    return "must be " + list + ", found '" + v + "'";
  });
}

CLI::Validator non_empty() {
  return validator([](const std::string& v) -> std::string { return v.empty() ? "needs a non-empty value" : ""; });
}

std::string in_option_terms(std::string message, const std::vector<std::string>& flags) {
  if (message.starts_with("generate: ")) message.erase(0, 10);
  auto word_char = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-'; };
  for (const std::string& flag : flags) {
    std::string snake = flag.substr(2);
    for (char& c : snake) c = c == '-' ? '_' : c;
    for (std::size_t at = message.find(snake); at != std::string::npos; at = message.find(snake, at)) {
      const std::size_t end = at + snake.size();
      if ((at > 0 && word_char(message[at - 1])) || (end < message.size() && word_char(message[end]))) {
        at = end;
        continue;
      }
      message.replace(at, snake.size(), flag);
      at += flag.size();
    }
  }
  return message;
}

void add_job_options(CLI::App& app, JobOptions& job) {
  app.add_option("--model", job.model, "checkpoint directory with config.json, safetensors weights and spiece.model")
      ->type_name("DIR")
      ->required()
      ->check(non_empty());
  app.add_option("text", job.texts, "the inputs (or --input)")->type_name("TEXT");
  app.add_option("--input", job.input, "read the inputs from FILE, one per line ('-' for stdin), instead of TEXT arguments")
      ->type_name("FILE")
      ->check(non_empty());
  app.add_option("--batch-size", job.batch_size, "inputs per batch (default 8)")->type_name("N")->check(integer_at_least(1));
  app.add_option("--threads", job.threads, "CPU threads (default: all cores)")->type_name("N")->check(integer_at_least(1));
  app.add_option("--device", job.device, "where the model runs (default cpu; cuda: the first GPU, needs a build with CUDA)")
      ->type_name("cpu|cuda")
      ->check(one_of({"cpu", "cuda"}));
  app.add_option("--dtype", job.dtype,
                 "the products' dtype: on the CPU f32 (default), bf16 or int8 (weights and inputs; float32 accumulation, "
                 "activations and residual); on a GPU bf16 (default) or f16 weights and activations (float32 residual)")
      ->type_name("f32|bf16|int8|f16")
      ->check(one_of({"f32", "bf16", "int8", "f16"}));
  app.add_flag("--quiet", job.quiet, "no progress bar");
}

std::vector<std::string> read_inputs(const std::vector<std::string>& texts, const std::string& input) {
  if (!input.empty() && !texts.empty()) throw UsageError("give inputs as TEXT arguments or with --input, not both");
  if (input.empty()) {
    if (texts.empty()) throw UsageError("no input: give TEXT arguments or --input FILE");
    return texts;
  }
  std::ifstream stream;
  if (input != "-") {
    stream.open(input);
    if (!stream) throw t5::Error(t5::ErrorCode::Io, input + ": cannot open the input file");
  }
  std::istream& in = input == "-" ? std::cin : stream;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(line);
  }
  if (in.bad()) throw t5::Error(t5::ErrorCode::Io, input + ": read error");
  if (lines.empty()) throw UsageError("no input: " + (input == "-" ? std::string("stdin") : input) + " holds no line");
  return lines;
}

LoadedModel load_model(const JobOptions& job) {
  const bool cuda = job.device == "cuda";
  if (cuda && (job.dtype == "f32" || job.dtype == "int8")) throw UsageError("--dtype " + job.dtype + " is for the CPU; a GPU runs bf16 or f16");
  if (!cuda && job.dtype == "f16") throw UsageError("--dtype f16 is for --device cuda; the CPU runs f32, bf16 or int8");
  t5::LoadOptions options;
  options.threads = job.threads;
  options.device = cuda ? t5::Device::Cuda : t5::Device::Cpu;
  if (job.dtype == "f32") options.dtype = t5::DType::F32;
  if (job.dtype == "bf16") options.dtype = t5::DType::BF16;
  if (job.dtype == "int8") options.dtype = t5::DType::I8;
  if (job.dtype == "f16") options.dtype = t5::DType::F16;
  t5::Tokenizer tokenizer = t5::Tokenizer::from_model_dir(job.model);
  return {t5::load(job.model, options), std::move(tokenizer)};
}

void for_each_batch(std::int64_t total, std::int64_t batch_size, bool quiet, const std::function<void(std::int64_t, std::int64_t)>& run) {
  using Clock = std::chrono::steady_clock;
  const bool enabled = !quiet && isatty(STDERR_FILENO);
  const Clock::time_point start = Clock::now();
  bool shown = false;
  for (std::int64_t first = 0; first < total; first += batch_size) {
    const std::int64_t count = std::min(batch_size, total - first), done = first + count;
    run(first, count);
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    if (!enabled || (seconds < 1.0 && !shown)) continue;
    shown = true;
    constexpr int width = 30;
    const int filled = static_cast<int>(width * done / std::max<std::int64_t>(total, 1));
    std::fprintf(stderr, "\r[%s%s] %lld/%lld inputs, %.1f inputs/s", std::string(static_cast<std::size_t>(filled), '#').c_str(),
                 std::string(static_cast<std::size_t>(width - filled), ' ').c_str(), static_cast<long long>(done),
                 static_cast<long long>(total), static_cast<double>(done) / std::max(seconds, 1e-9));
    std::fflush(stderr);
  }
  if (shown) std::fputc('\n', stderr);
}

t5::TokenBatch rows_of(const t5::TokenBatch& all, std::int64_t first, std::int64_t count) {
  t5::TokenBatch b;
  b.batch = count;
  b.length = all.length;
  const auto begin = static_cast<std::ptrdiff_t>(first * all.length), end = static_cast<std::ptrdiff_t>((first + count) * all.length);
  b.ids.assign(all.ids.begin() + begin, all.ids.begin() + end);
  b.mask.assign(all.mask.begin() + begin, all.mask.begin() + end);
  return b;
}

}  // namespace t5cc
