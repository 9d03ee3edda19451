// `t5cc encode --model DIR [--pad-to N] [--truncate] [--pool none|mean] [--out FILE] TEXT...`: the
// encoder's last hidden state of each input, written to a safetensors file or summarised.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "t5/io/safetensors_writer.hpp"

namespace t5cc {
namespace {

struct Options {
  JobOptions job;
  std::int64_t pad_to = 0;
  bool truncate = false;
  std::string pool = "none", out;
};

int run(const Options& o);

}  // namespace

Command add_encode(CLI::App& app) {
  auto o = std::make_shared<Options>();
  add_job_options(app, o->job);
  app.add_option("--pad-to", o->pad_to, "pad every input to N tokens (Flux: 256 or 512); default: the longest input")
      ->type_name("N")
      ->check(integer_at_least(1));
  app.add_flag("--truncate", o->truncate, "cut inputs longer than --pad-to (keeping the EOS) instead of failing");
  app.add_option("--pool", o->pool, "none: every position (default); mean: the mean over each input's tokens")
      ->type_name("none|mean")
      ->check(one_of({"none", "mean"}));
  app.add_option("--out", o->out, "write a .safetensors file instead of printing a summary")->type_name("FILE")->check(non_empty());
  app.footer("Runs the encoder on each input (tokenized with EOS, right-padded with the pad id).\n"
             "With --out, writes FILE (through a temporary name, renamed when complete) holding\n"
             "  last_hidden_state  F32 [inputs, length, d_model]   (--pool mean: F32 [inputs, d_model])\n"
             "  attention_mask     I64 [inputs, length]            1 = token, 0 = padding\n"
             "  input_ids          I64 [inputs, length]\n"
             "Padded positions hold what HF computes there (they attend to the input's tokens).\n"
             "Without --out, prints one line per input: tokens, shape, mean, std and the first values.\n\n"
             "exit status: 0 success, 1 error, 2 usage error");
  return [o] { return run(*o); };
}

namespace {

int run(const Options& o) {
  if (o.truncate && o.pad_to == 0) throw UsageError("--truncate needs --pad-to N");
  const auto texts = read_inputs(o.job.texts, o.job.input);
  t5::BatchOptions batching;
  batching.pad_to = o.pad_to;
  batching.truncate = o.truncate;
  LoadedModel m = load_model(o.job);

  // One tokenization for all inputs, so that every batch has the file's common length.
  const t5::TokenBatch all = m.tokenizer.encode_batch(texts, batching);
  const std::int64_t n = all.batch, length = all.length, d = m.model->hparams().d_model;
  const bool mean = o.pool == "mean";
  std::vector<float> states(static_cast<std::size_t>(n * (mean ? 1 : length) * d));
  for_each_batch(n, o.job.batch_size, o.job.quiet, [&](std::int64_t first, std::int64_t count) {
    const t5::HostTensor out = m.model->encode(rows_of(all, first, count));
    for (std::int64_t b = 0; b < count; ++b) {
      float* dst = states.data() + (first + b) * (mean ? 1 : length) * d;
      if (!mean) {
        std::copy_n(out.values.begin() + b * length * d, length * d, dst);
        continue;
      }
      std::int64_t tokens = 0;
      for (std::int64_t s = 0; s < length; ++s) {
        if (!all.mask[static_cast<std::size_t>((first + b) * length + s)]) continue;
        ++tokens;
        for (std::int64_t k = 0; k < d; ++k) dst[k] += out.at(b, s, k);
      }
      for (std::int64_t k = 0; k < d; ++k) dst[k] /= static_cast<float>(std::max<std::int64_t>(tokens, 1));
    }
  });

  if (!o.out.empty()) {
    std::vector<std::int64_t> ids(all.ids.begin(), all.ids.end()), mask(all.mask.begin(), all.mask.end());
    t5::io::SafetensorsWriter writer;
    writer.add<float>("last_hidden_state", mean ? std::vector<std::int64_t>{n, d} : std::vector<std::int64_t>{n, length, d}, states);
    writer.add<std::int64_t>("attention_mask", {n, length}, mask);
    writer.add<std::int64_t>("input_ids", {n, length}, ids);
    writer.write(o.out);
    return 0;
  }
  for (std::int64_t b = 0; b < n; ++b) {
    std::int64_t tokens = 0;
    for (std::int64_t s = 0; s < length; ++s) tokens += all.mask[static_cast<std::size_t>(b * length + s)];
    // Statistics over the input's own tokens (padding left out), or over the pooled vector.
    const std::int64_t rows = mean ? 1 : tokens;
    const float* v = states.data() + b * (mean ? 1 : length) * d;
    double sum = 0, sum2 = 0;
    for (std::int64_t i = 0; i < rows * d; ++i) {
      sum += v[i];
      sum2 += static_cast<double>(v[i]) * v[i];
    }
    const double count = static_cast<double>(rows * d), mu = sum / count;
    char line[256];
    std::snprintf(line, sizeof line, "input %lld: %lld tokens, %s [%lld, %lld], mean %.6f, std %.6f, first %.5f %.5f %.5f %.5f",
                  static_cast<long long>(b + 1), static_cast<long long>(tokens), mean ? "mean state" : "states", static_cast<long long>(rows),
                  static_cast<long long>(d), mu, std::sqrt(std::max(0.0, sum2 / count - mu * mu)), v[0], d > 1 ? v[1] : 0.0f,
                  d > 2 ? v[2] : 0.0f, d > 3 ? v[3] : 0.0f);
    std::cout << line << "\n";
  }
  return 0;
}

}  // namespace
}  // namespace t5cc
