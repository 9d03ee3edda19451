// `t5cc encode --model DIR [--pad-to N] [--truncate] [--pool none|mean] [--out FILE] TEXT...`: the
// encoder's last hidden state of each input, written to a safetensors file or summarised.
#include <sys/stat.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "commands.hpp"
#include "output_file.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/json.hpp"
#include "t5/core/memory_size.hpp"
#include "t5/tokenizer/convention.hpp"

namespace t5cc {
namespace {

struct Options {
  JobOptions job;
  std::int64_t pad_to = 0;
  bool truncate = false;
  std::string pool = "none", out;
  std::string mask = "tokens", preset;
};

int run(const Options& o, const CLI::App& app);

}  // namespace

Command add_encode(CLI::App& app) {
  auto o = std::make_shared<Options>();
  add_job_options(app, o->job);
  app.add_option("--pad-to", o->pad_to,
                 "pad every input to N tokens, N in " + integer_range(1, limits::row_length) + " (Flux: 256 or 512); default: the longest input")
      ->type_name("N")
      ->check(integer_in(1, limits::row_length));
  app.add_flag("--truncate", o->truncate, "cut inputs longer than --pad-to (keeping the EOS) instead of failing");
  app.add_option("--pool", o->pool, "none: every position (default); mean: the mean over each input's tokens")
      ->type_name("none|mean")
      ->check(one_of({"none", "mean"}));
  app.add_option("--mask", o->mask,
                 "tokens: the encoder attends to each input's tokens only (default; PixArt, Wan); none: to every position, padding "
                 "included, as Flux and SD3 run T5 (no attention mask)")
      ->type_name("tokens|none")
      ->check(one_of({"tokens", "none"}));
  app.add_option("--preset", o->preset,
                 "encode as a diffusion pipeline does (sets --mode hf, --pad-to, --truncate and --mask): flux-dev (512, no mask), "
                 "flux-schnell (256, no mask), sd3 (256, no mask), pixart-sigma (300, mask), wan (512, mask, states past the prompt "
                 "zeroed)")
      ->type_name("NAME")
      ->check(one_of(t5::EncodeConvention::preset_names()));
  app.add_option("--out", o->out, "write a .safetensors file instead of printing a summary (see below)")->type_name("FILE")->check(non_empty());
  app.footer("Runs the encoder on each input (tokenized with EOS, right-padded with the pad id).\n"
             "With --out, writes FILE holding\n"
             "  last_hidden_state  F32 [inputs, length, d_model]   (--pool mean: F32 [inputs, d_model])\n"
             "  attention_mask     I64 [inputs, length]            1 = token, 0 = padding\n"
             "  input_ids          I64 [inputs, length]\n"
             "Padded positions hold what HF computes there (they attend to the input's tokens; with --mask none to every\n"
             "position; wan zeroes them). attention_mask marks the inputs' tokens whatever --mask says.\n"
             "--preset leaves text preprocessing to you: PixArt lowercases and strips prompts, Wan cleans them (ftfy).\n"
             "A new or regular FILE is written under a temporary name in its directory and renamed over\n"
             "FILE only when complete (a failed or interrupted job leaves FILE as it was); a character\n"
             "device or a FIFO is written straight through; a directory or a block device is refused.\n"
             "Without --out, prints one line per input: tokens, shape, mean, std and the first values.\n\n"
             "exit status: 0 success, 1 error, 2 usage error");
  return [o, &app] { return run(*o, app); };
}

namespace {

// The safetensors layout of --out, as t5::io::SafetensorsWriter lays it out (tensors in name
// order, the header padded with spaces to 8 bytes), written here as a stream: the states go to
// the file batch by batch, so an encode of any number of inputs holds one batch of them.
struct Tensor {
  const char* name;
  t5::DType dtype;
  std::vector<std::int64_t> shape;
  std::uint64_t bytes;
};

std::string safetensors_header(const std::vector<Tensor>& tensors) {
  t5::Json header = t5::Json::object();
  std::uint64_t offset = 0;
  for (const Tensor& t : tensors) {
    header[t.name] = {{"dtype", std::string(t5::dtype_name(t.dtype))}, {"shape", t.shape}, {"data_offsets", {offset, offset + t.bytes}}};
    offset += t.bytes;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::string file(8, '\0');
  for (int i = 0; i < 8; ++i) file[static_cast<std::size_t>(i)] = static_cast<char>((text.size() >> (8 * i)) & 0xffu);
  return file + text;
}

// `values` as I64, in blocks.
template <class T>
void write_as_i64(OutputFile& out, std::span<const T> values) {
  std::vector<std::int64_t> block;
  for (std::size_t first = 0; first < values.size(); first += std::size_t{1} << 16) {
    const auto part = values.subspan(first, std::min(values.size() - first, std::size_t{1} << 16));
    block.assign(part.begin(), part.end());
    out.write(std::as_bytes(std::span<const std::int64_t>(block)));
  }
}

// --out naming a file the job reads (its --input, a file of --model) would replace it.
void refuse_own_files(const Options& o) {
  struct stat out {};
  if (::stat(o.out.c_str(), &out) != 0 || !S_ISREG(out.st_mode)) return;
  auto same = [&](const std::string& path) {
    struct stat st {};
    return ::stat(path.c_str(), &st) == 0 && st.st_dev == out.st_dev && st.st_ino == out.st_ino;
  };
  if (!o.job.input.empty() && o.job.input != "-" && same(o.job.input)) throw UsageError("--out " + o.out + " is the --input file");
  std::error_code ec;
  for (std::filesystem::directory_iterator it(o.job.model, ec), end; !ec && it != end; it.increment(ec))
    if (same(it->path().string())) throw UsageError("--out " + o.out + " is " + it->path().filename().string() + " of the model");
}

// One line per input: tokens, shape, mean, std and the first values of its states (its own tokens,
// padding left out) or of its pooled vector.
void print_summary(std::int64_t input, std::int64_t tokens, bool mean, std::span<const float> v, std::int64_t d) {
  double sum = 0, sum2 = 0;
  for (const float x : v) {
    sum += x;
    sum2 += static_cast<double>(x) * x;
  }
  const double count = static_cast<double>(v.size()), mu = sum / count;
  char line[256];
  std::snprintf(line, sizeof line, "input %lld: %lld tokens, %s [%lld, %lld], mean %.6f, std %.6f, first %.5f %.5f %.5f %.5f",
                static_cast<long long>(input), static_cast<long long>(tokens), mean ? "mean state" : "states",
                static_cast<long long>(mean ? 1 : tokens), static_cast<long long>(d), mu, std::sqrt(std::max(0.0, sum2 / count - mu * mu)),
                v[0], d > 1 ? v[1] : 0.0f, d > 2 ? v[2] : 0.0f, d > 3 ? v[3] : 0.0f);
  std::cout << line << "\n";
}

int run(const Options& o, const CLI::App& app) {
  t5::EncodeConvention convention;
  JobOptions job = o.job;
  if (!o.preset.empty()) {
    for (const char* flag : {"--pad-to", "--truncate", "--mask", "--mode"})
      if (app.count(flag) > 0) throw UsageError(std::string("--preset sets ") + flag + "; give one or the other");
    convention = t5::EncodeConvention::preset(o.preset);
    job.mode = "hf";
  } else {
    if (o.truncate && o.pad_to == 0) throw UsageError("--truncate needs --pad-to N");
    convention.pad_to = o.pad_to;
    convention.truncate = o.truncate;
    convention.attend_padding = o.mask == "none";
  }
  if (!o.out.empty()) refuse_own_files(o);
  const auto texts = read_inputs(o.job.texts, o.job.input);
  LoadedModel m = load_model(job);

  // One tokenization for all inputs, so that every batch has the file's common length.
  const t5::TokenBatch all = m.batch(texts, convention.batch_options());
  const std::int64_t n = all.batch, length = all.length, d = m.model->hparams().d_model;
  const bool mean = o.pool == "mean";
  const std::int64_t positions = mean ? 1 : length;  // state rows per input
  auto tokens_of = [&](std::int64_t input) {
    const auto row = std::span<const std::uint8_t>(all.mask).subspan(static_cast<std::size_t>(input * length), static_cast<std::size_t>(length));
    return static_cast<std::int64_t>(std::count(row.begin(), row.end(), std::uint8_t{1}));
  };

  std::unique_ptr<OutputFile> file;
  if (!o.out.empty()) {
    const auto token_bytes = t5::Bytes().add({n, length, 8}).total(), state_bytes = t5::Bytes().add({n, positions, d, 4}).total();
    using t5::DType;
    const std::string header = safetensors_header({{"attention_mask", DType::I64, {n, length}, token_bytes},
                                                   {"input_ids", DType::I64, {n, length}, token_bytes},
                                                   {"last_hidden_state", DType::F32, mean ? std::vector<std::int64_t>{n, d} : std::vector<std::int64_t>{n, length, d}, state_bytes}});
    const std::uint64_t file_bytes = t5::Bytes().add_bytes(header.size()).add_bytes(token_bytes).add_bytes(token_bytes).add_bytes(state_bytes).total();
    file = std::make_unique<OutputFile>(o.out, file_bytes);
    file->write(std::as_bytes(std::span<const char>(header)));
    write_as_i64(*file, std::span<const std::uint8_t>(all.mask));
    write_as_i64(*file, std::span<const std::int32_t>(all.ids));
  }
  std::vector<float> pooled;
  for_each_batch(n, o.job.batch_size, o.job.quiet, [&](std::int64_t first, std::int64_t count) {
    t5::HostTensor out = m.model->encode(convention.encoder_input(rows_of(all, first, count)));
    convention.finish(out.values, all, first, d);
    std::span<const float> states(out.values);  // [count, positions, d]
    if (mean) {
      pooled.assign(static_cast<std::size_t>(count * d), 0.0f);
      for (std::int64_t b = 0; b < count; ++b) {
        float* dst = pooled.data() + b * d;
        for (std::int64_t s = 0; s < length; ++s)
          if (all.mask[static_cast<std::size_t>((first + b) * length + s)])
            for (std::int64_t k = 0; k < d; ++k) dst[k] += out.at(b, s, k);
        for (std::int64_t k = 0; k < d; ++k) dst[k] /= static_cast<float>(std::max<std::int64_t>(tokens_of(first + b), 1));
      }
      states = pooled;
    }
    if (file) {
      file->write(std::as_bytes(states));
      return;
    }
    for (std::int64_t b = 0; b < count; ++b) {
      const std::int64_t tokens = tokens_of(first + b);
      print_summary(first + b + 1, tokens, mean, states.subspan(static_cast<std::size_t>(b * positions * d), static_cast<std::size_t>((mean ? 1 : tokens) * d)), d);
    }
    flush_stdout();
  });
  if (file) file->commit();
  return 0;
}

}  // namespace
}  // namespace t5cc
