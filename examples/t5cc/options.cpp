// The shared parts of the t5cc commands (options.hpp).
#include "options.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <bit>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <utility>

#include "t5/core/error.hpp"
#include "t5/core/memory_size.hpp"

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

// "2^24" for a power of two from 2^16 up, else the decimal number.
std::string bound_text(std::uint64_t n) {
  if (n >= (std::uint64_t{1} << 16) && std::has_single_bit(n)) return "2^" + std::to_string(std::countr_zero(n));
  return std::to_string(n);
}

// "1e-6", "0.5", "10": a bound as a person writes it.
std::string number_text(double x) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", x);
  std::string s = text;
  for (const std::string exponent : {"e-0", "e+0", "e+"})
    if (const auto at = s.find(exponent); at != std::string::npos) s.replace(at, exponent.size(), exponent[1] == '-' ? "e-" : "e");
  return s;
}

// The user's text in a message, quoted and cut to a readable length.
std::string quoted(const std::string& v) { return "'" + (v.size() > 40 ? v.substr(0, 40) + "..." : v) + "'"; }

}  // namespace

std::string integer_range(std::int64_t min, std::uint64_t max) {
  const std::string low = min < 0 ? "-" + bound_text(0 - static_cast<std::uint64_t>(min)) : bound_text(static_cast<std::uint64_t>(min));
  if (max == std::numeric_limits<std::uint64_t>::max()) return "[" + low + ", 2^64)";
  if (max >= (std::uint64_t{1} << 16) && std::has_single_bit(max + 1)) return "[" + low + ", " + bound_text(max + 1) + ")";
  return "[" + low + ", " + bound_text(max) + "]";
}

std::string number_range(double min, double max, bool open_min) {
  return (open_min ? "(" : "[") + number_text(min) + ", " + number_text(max) + "]";
}

CLI::Validator integer_in(std::int64_t min, std::uint64_t max) {
  return validator([min, max](const std::string& v) -> std::string {
    // A leading '-' is a negative int64, anything else a uint64: every integer either bound can
    // name parses, and std::cmp_* compare the two kinds exactly.
    std::int64_t negative = 0;
    std::uint64_t positive = 0;
    const bool ok = v.starts_with("-") ? parse_all(v, negative) && std::cmp_greater_equal(negative, min) && std::cmp_less_equal(negative, max)
                                       : parse_all(v, positive) && std::cmp_greater_equal(positive, min) && std::cmp_less_equal(positive, max);
    return ok ? "" : "needs an integer in " + integer_range(min, max) + ", found " + quoted(v);
  });
}

CLI::Validator number_in(double min, double max, bool open_min) {
  return validator([min, max, open_min](const std::string& v) -> std::string {
    auto inside = [open_min](auto x, auto low, auto high) { return std::isfinite(x) && (open_min ? x > low : x >= low) && x <= high; };
    double x = 0.0;
    const std::string range = number_range(min, max, open_min);
    if (!parse_all(v, x) || !inside(x, min, max)) return "needs a number in " + range + ", found " + quoted(v);
    // The option holds a float32 (CLI11 converts after this check, |x| <= max being a float): 1e-300 would become 0.
    auto f = [](double d) { return static_cast<float>(d); };
    if (!inside(f(x), f(min), f(max))) return "needs a number in " + range + " (as a 32-bit float), found " + quoted(v);
    return "";
  });
}

CLI::Validator one_of(std::vector<std::string> values) {
  return validator([values = std::move(values)](const std::string& v) -> std::string {
    std::string list;
    for (std::size_t i = 0; i < values.size(); ++i) {
      if (v == values[i]) return "";
      list += (i == 0 ? "" : i + 1 == values.size() ? " or " : ", ") + values[i];
    }
    return "must be " + list + ", found " + quoted(v);
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

std::string model_help() {
  return "the checkpoint: a directory with config.json and weights (safetensors, PyTorch .bin, or a sharded index); "
         "or one weights file (safetensors or .bin, a text encoder as ComfyUI ships it, or a GGUF file of llama.cpp's t5 or "
         "t5encoder architecture), whose config comes from its metadata (GGUF) and its tensor shapes unless --config gives it; "
         "the tokenizer is a GGUF file's own, else spiece.model or tokenizer.json beside the weights, see --tokenizer";
}

std::string config_help() {
  return "a config.json for the model: the config of a weights file given alone, or keys that override the checkpoint's own";
}

void add_job_options(CLI::App& app, JobOptions& job) {
  app.add_option("--model", job.model, model_help())->type_name("PATH")->required()->check(non_empty());
  app.add_option("--config", job.config, config_help())->type_name("FILE")->check(non_empty());
  app.add_option("text", job.texts, "the inputs (or --input)")->type_name("TEXT");
  app.add_option("--input", job.input, input_help())->type_name("FILE")->check(non_empty());
  app.add_option("--batch-size", job.batch_size, "inputs per batch, in " + integer_range(1, limits::batch_size) + " (default 8)")
      ->type_name("N")
      ->check(integer_in(1, limits::batch_size));
  app.add_option("--threads", job.threads, "CPU threads, in " + integer_range(1, limits::threads) + " (default: all cores)")
      ->type_name("N")
      ->check(integer_in(1, limits::threads));
  app.add_option("--device", job.device, "where the model runs (default cpu; cuda: the first GPU, needs a build with CUDA)")
      ->type_name("cpu|cuda")
      ->check(one_of({"cpu", "cuda"}));
  app.add_option("--dtype", job.dtype,
                 "the products' dtype: on the CPU f32 (default), bf16 or int8 (weights and inputs; float32 accumulation, "
                 "activations and residual) or f16 (the GPU's f16 numbers, emulated at 0.75x f32's speed); on a GPU bf16 (default) or f16 "
                 "weights and activations (float32 residual)")
      ->type_name("f32|bf16|int8|f16")
      ->check(one_of({"f32", "bf16", "int8", "f16"}));
  app.add_flag("--fold-norm-gains", job.fold_norm_gains, "fold each layer norm's gain into the projection after it, at load");
  app.add_option("--fp16-scales", job.fp16_scales,
                 "f16: the feed-forward scales `t5cc calibrate` wrote (default: t5cc.fp16_scales.json beside the weights, if any)")
      ->type_name("FILE")
      ->check(non_empty());
  app.add_flag("--quiet", job.quiet, "no progress bar");
  app.add_option("--tokenizer", job.tokenizer,
                 "the tokenizer: a spiece.model, a tokenizer.json, a GGUF file or a folder holding them (default: a GGUF file's own, "
                 "else beside the weights, else the "
                 "diffusers sibling folder: text_encoder_2/ -> tokenizer_2/, text_encoder/ -> tokenizer/, text_encoder_3/ -> tokenizer_3/)")
      ->type_name("PATH")
      ->check(non_empty());
  app.add_option("--mode", job.mode,
                 "sp: SentencePiece with the sentinels as pieces (default); hf: as HF tokenizers with the tokenizer.json, or as "
                 "T5TokenizerFast converts the spiece.model")
      ->type_name("sp|hf")
      ->check(one_of({"sp", "hf"}));
  app.add_flag("--ids", job.ids, "each input is a line of token ids separated by spaces, used as given (no EOS added); no tokenizer needed");
}

std::string input_help() {
  return "read the inputs from FILE, one per line (LF or CR LF), instead of TEXT arguments: '-' is stdin, a FIFO streams as stdin does; "
         "a line is text of at most " + std::to_string(limits::input_line_bytes >> 20) + " MiB without NUL bytes";
}

namespace {

// A file descriptor, closed at scope exit unless it is stdin.
class InputFile {
 public:
  explicit InputFile(const std::string& path) : fd_(path == "-" ? STDIN_FILENO : ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY)), owned_(path != "-") {}
  InputFile(const InputFile&) = delete;
  InputFile& operator=(const InputFile&) = delete;
  ~InputFile() {
    if (owned_ && fd_ >= 0) ::close(fd_);
  }
  int fd() const { return fd_; }

 private:
  int fd_;
  bool owned_;
};

// The lines of `fd` (`name` in messages), read in blocks so that a stream without line breaks
// (/dev/zero) ends at its first over-long line instead of filling the memory.
std::vector<std::string> read_lines(int fd, const std::string& name) {
  std::vector<std::string> lines;
  std::string line;
  std::uint64_t held = 0;  // the bytes the lines take, their strings included
  const std::uint64_t budget = t5::host_memory_bytes() / 2;
  auto fail = [&](const std::string& what) { throw t5::Error(t5::ErrorCode::Io, name + ":" + std::to_string(lines.size() + 1) + ": " + what); };
  const std::string too_long = "a line longer than " + std::to_string(limits::input_line_bytes >> 20) + " MiB (the limit of an input)";
  auto end_line = [&] {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.size() > limits::input_line_bytes) fail(too_long);
    held += line.size() + sizeof(std::string);
    if (held > budget) fail("the inputs so far take " + t5::human_bytes(held) + ", half of this machine's memory: split the input");
    lines.push_back(std::move(line));
    line.clear();
  };
  std::vector<char> block(std::size_t{1} << 16);
  bool open_line = false;  // bytes read since the last line break
  for (;;) {
    const ssize_t got = ::read(fd, block.data(), block.size());
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) fail(std::string("read error: ") + std::strerror(errno));
    if (got == 0) break;
    for (const char *p = block.data(), *end = p + got; p < end;) {
      const auto* newline = static_cast<const char*>(std::memchr(p, '\n', static_cast<std::size_t>(end - p)));
      const char* stop = newline != nullptr ? newline : end;
      const auto bytes = static_cast<std::size_t>(stop - p);
      if (std::memchr(p, '\0', bytes) != nullptr) fail("a NUL byte: --input takes UTF-8 text, one input per line (a binary or UTF-16 file?)");
      if (line.size() + bytes > limits::input_line_bytes + 1) fail(too_long);  // + 1: a CR before the LF
      line.append(p, stop);
      open_line = newline == nullptr;
      if (newline == nullptr) break;
      end_line();
      p = newline + 1;
    }
  }
  if (open_line) end_line();  // a last line without a line break
  return lines;
}

}  // namespace

std::vector<std::string> read_inputs(const std::vector<std::string>& texts, const std::string& input) {
  if (!input.empty() && !texts.empty()) throw UsageError("give inputs as TEXT arguments or with --input, not both");
  if (input.empty()) {
    if (texts.empty()) throw UsageError("no input: give TEXT arguments or --input FILE");
    return texts;
  }
  const std::string name = input == "-" ? std::string("stdin") : input;
  const InputFile file(input);  // a FIFO opens once a writer does
  if (file.fd() < 0) throw t5::Error(t5::ErrorCode::Io, name + ": cannot open the input file: " + std::strerror(errno));
  struct stat st {};
  if (::fstat(file.fd(), &st) != 0) throw t5::Error(t5::ErrorCode::Io, name + ": cannot read the input file: " + std::strerror(errno));
  if (S_ISDIR(st.st_mode)) throw t5::Error(t5::ErrorCode::Io, name + ": is a directory, not a file of inputs");
  std::vector<std::string> lines = read_lines(file.fd(), name);
  if (lines.empty()) throw UsageError("no input: " + name + " holds no line");
  return lines;
}

LoadedModel load_model(const JobOptions& job) {
  const bool cuda = job.device == "cuda";
  if (cuda && (job.dtype == "f32" || job.dtype == "int8")) throw UsageError("--dtype " + job.dtype + " is for the CPU; a GPU runs bf16 or f16");
  if (!job.fp16_scales.empty() && job.dtype != "f16") throw UsageError("--fp16-scales is for --dtype f16");
  t5::LoadOptions options;
  options.threads = job.threads;
  options.device = cuda ? t5::Device::Cuda : t5::Device::Cpu;
  if (job.dtype == "f32") options.dtype = t5::DType::F32;
  if (job.dtype == "bf16") options.dtype = t5::DType::BF16;
  if (job.dtype == "int8") options.dtype = t5::DType::I8;
  if (job.dtype == "f16") options.dtype = t5::DType::F16;
  options.config = job.config;
  options.fold_norm_gains = job.fold_norm_gains;
  options.fp16_scales = job.fp16_scales;
  const std::filesystem::path path = job.model;
  LoadedModel m;
  m.job = &job;
  m.model = t5::load(path, options);  // the weights first: their problems are reported before the tokenizer's
  m.tokenizer_search = t5::find_tokenizer(path, m.model->detected(), job.tokenizer);
  return m;
}

const t5::Tokenizer& LoadedModel::tokenizer() const {
  return tokenizer_search.get("pass --tokenizer PATH: a spiece.model, a tokenizer.json or a folder holding them; or give token ids with --ids");
}

t5::TokenBatch LoadedModel::batch(std::span<const std::string> inputs, t5::BatchOptions options) const {
  if (!job->ids) {
    options.encode.mode = mode();
    return tokenizer().encode_batch(inputs, options);
  }
  const std::int64_t vocab = model->hparams().vocab_size;
  std::vector<std::vector<std::int32_t>> rows;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::vector<std::int32_t> row;
    const std::string& line = inputs[i];
    for (std::size_t at = line.find_first_not_of(" \t"); at != std::string::npos; at = line.find_first_not_of(" \t", at)) {
      const std::size_t end = std::min(line.find_first_of(" \t", at), line.size());
      const std::string word = line.substr(at, end - at);
      std::int64_t id = -1;
      const auto [ptr, ec] = std::from_chars(word.data(), word.data() + word.size(), id);
      if (ec != std::errc() || ptr != word.data() + word.size() || id < 0 || id >= vocab)
        throw t5::Error(t5::ErrorCode::InvalidArgument, "input " + std::to_string(i + 1) + ": " + t5::quoted_text(word) +
                                                            " is not a token id of this model (an integer in [0, " + std::to_string(vocab) + "))");
      row.push_back(static_cast<std::int32_t>(id));
      at = end;
    }
    if (row.empty()) throw t5::Error(t5::ErrorCode::InvalidArgument, "input " + std::to_string(i + 1) + ": no token ids on the line");
    rows.push_back(std::move(row));
  }
  return t5::pad_rows(std::move(rows), static_cast<std::int32_t>(model->hparams().pad_id), options, "ids");
}

void flush_stdout() {
  errno = 0;
  if (std::cout.flush()) return;
  const int error = errno;
  throw t5::Error(t5::ErrorCode::Io, std::string("cannot write the output to stdout") + (error != 0 ? std::string(": ") + std::strerror(error) : ""));
}

void for_each_batch(std::int64_t total, std::int64_t batch_size, bool quiet, const std::function<void(std::int64_t, std::int64_t)>& run) {
  using Clock = std::chrono::steady_clock;
  const bool enabled = !quiet && isatty(STDERR_FILENO);
  const Clock::time_point start = Clock::now();
  bool shown = false;
  struct EndLine {  // the bar's line ends however the loop does, so that an error starts a line of its own
    const bool& shown;
    ~EndLine() {
      if (shown) std::fputc('\n', stderr);
    }
  } end_line{shown};
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
