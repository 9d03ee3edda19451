// t5cc calibrate: finds the f16 feed-forward scales of a checkpoint (model/fp16_scales.hpp). It runs
// the inputs in float32 with a layer observer, the encoder and, for a model with a decoder, the
// decoder teacher-forced on its own greedy output, records the largest |value| of each layer's
// feed-forward input and hidden, and writes the powers of two that keep them `headroom` below
// f16's 65504 to the sidecar that t5::load reads for --dtype f16.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <string>
#include <vector>

#include "commands.hpp"
#include "output_file.hpp"
#include "t5/core/error.hpp"
#include "t5/generation/options.hpp"
#include "t5/model/fp16_scales.hpp"

namespace t5cc {
namespace {

struct Options {
  JobOptions job;
  std::string out;  ///< empty: the checkpoint folder's t5cc.fp16_scales.json
  double headroom = 8;
  std::int64_t max_new_tokens = 32;
};

void print_stack(const char* stack, const std::vector<t5::Fp16Calibration::Sites>& sites, const std::vector<t5::FfnScales>& scales, double headroom) {
  for (std::size_t l = 0; l < sites.size(); ++l) {
    const auto& s = sites[l];
    char line[320];
    std::snprintf(line, sizeof line, "%-7s %3zu  %12.4g %12.4g   %-8g %-8g  %12.4g %s", stack, l, s.ffn_in, s.ffn_hidden,
                  static_cast<double>(scales[l].in), static_cast<double>(scales[l].hidden), s.other, s.other_name.c_str());
    std::cout << line;
    if (s.other * headroom > t5::f16_max) std::cout << "  (beyond f16 / headroom: not a scaled site)";
    std::cout << "\n";
  }
}

int run(const Options& o) {
  const auto texts = read_inputs(o.job.texts, o.job.input);
  LoadedModel m = load_model(o.job);
  const t5::TokenBatch all = m.batch(texts, {});
  const t5::Hparams& h = m.model->hparams();
  const bool decoder = m.model->has_decoder();
  t5::Fp16Calibration calibration(h.num_layers, decoder ? h.num_decoder_layers : 0, m.model->detected().policies.ffn == t5::Ffn::GatedGelu);
  const t5::LayerObserver observer = calibration.observer();
  t5::GenerationOptions greedy;
  greedy.max_new_tokens = o.max_new_tokens;
  for_each_batch(all.batch, o.job.batch_size, o.job.quiet, [&](std::int64_t first, std::int64_t count) {
    const t5::TokenBatch rows = rows_of(all, first, count);
    if (!decoder) {
      m.model->encode(rows, observer);
      return;
    }
    // The decoder sees what it would generate: its greedy output, after the start token.
    const t5::Generation g = m.model->generate(rows, greedy);
    std::vector<std::vector<std::int32_t>> targets;
    for (const auto& s : g.sequences) {
      targets.push_back({static_cast<std::int32_t>(h.decoder_start_id)});
      targets.back().insert(targets.back().end(), s.tokens.begin(), s.tokens.end());
    }
    m.model->logits(rows, t5::TokenBatch::from_rows(targets, static_cast<std::int32_t>(h.pad_id)), observer);
  });
  const t5::Fp16Scales scales = calibration.scales(o.headroom);

  std::filesystem::path out = o.out;
  if (out.empty()) {
    const std::filesystem::path model = o.job.model;
    out = (std::filesystem::is_directory(model) ? model : model.parent_path()) / t5::fp16_scales_file;
  }
  const std::string text = t5::fp16_scales_json(scales, calibration, o.headroom, all.batch);
  OutputFile file(out.string(), text.size());
  file.write(std::as_bytes(std::span<const char>(text)));
  file.commit();

  std::cout << "largest |value| in float32 over " << all.batch << " inputs; scales keep them below 65504 / " << o.headroom << "\n"
            << "stack  layer        ffn.in   ffn.hidden   s.in     s.hidden   other max    other site\n";
  print_stack("encoder", calibration.encoder(), scales.encoder, o.headroom);
  print_stack("decoder", calibration.decoder(), scales.decoder, o.headroom);
  std::cout << "wrote " << out.string() << " (used by --dtype f16 runs of this checkpoint)\n";
  return 0;
}

}  // namespace

Command add_calibrate(CLI::App& app) {
  auto o = std::make_shared<Options>();
  add_job_options(app, o->job);
  // The measurement is the float32 CPU reference's: the options that choose another run do not apply.
  for (const char* name : {"--device", "--dtype", "--fp16-scales", "--fold-norm-gains"}) app.remove_option(app.get_option(name));
  app.add_option("--out", o->out, "where to write the scales (default: t5cc.fp16_scales.json in the checkpoint's folder, which t5::load reads)")
      ->type_name("FILE")
      ->check(non_empty());
  app.add_option("--headroom", o->headroom, "how far below 65504 the largest calibrated value must stay: a power of two in [1, 65536] (default 8)")
      ->type_name("N")
      ->check(CLI::Validator(
          [](std::string& value) {
            const double v = std::strtod(value.c_str(), nullptr);
            int exponent = 0;
            return v >= 1 && v <= 65536 && std::frexp(v, &exponent) == 0.5 ? std::string() : "must be a power of two in [1, 65536]: " + value;
          },
          "", "power of two"));
  app.add_option("--max-new-tokens", o->max_new_tokens, "greedy tokens generated per input for the decoder to see (default 32)")
      ->type_name("N")
      ->check(integer_in(1, 4096));
  app.footer(
      "Runs the inputs (text or --ids lines; use prompts like the ones the model will see) through the float32 model and writes the "
      "power-of-two feed-forward scales that keep an f16 run finite. An input that still overflows in f16 is an error naming the layer.");
  return [o] { return run(*o); };
}

}  // namespace t5cc
