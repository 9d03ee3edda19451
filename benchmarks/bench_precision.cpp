// bench_precision: how far t5cc's low-precision runs land from its float32 reference, measured as
// nai-t5 published its numbers: quantiles .5, .99, .9999 and the max of |difference| of the encoder
// states and the teacher-forced logits, over the valid positions of the inputs. tools/hf_precision.py
// prints HF's bf16 and fp16 on the same model and INPUTS.json beside it (docs/precision.md).
//
//   bench_precision --model DIR --inputs INPUTS.json [--runs cpu:bf16,cpu:f16,...] [--threads N]
//                   [--fp16-scales FILE | --calibrate HEADROOM]
//
// --calibrate runs t5cc calibrate's measurement on these inputs first (float32, layer observer)
// and gives the f16 runs the scales it finds. A run whose output is non-finite prints the error.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "precision_runs.hpp"
#include "t5/model/fp16_scales.hpp"

namespace {

std::string cells(const t5::bench::Quantiles& q) {
  if (!q.finite) return "non-finite | | | ";
  char line[160];
  std::snprintf(line, sizeof line, "%.3g | %.3g | %.3g | %.3g", q.q50, q.q99, q.q9999, q.max);
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, inputs_path, runs_text = "cpu:bf16,cpu:f16,cpu:bf16+fold,cpu:f16+fold", scales_path;
  int threads = 0;
  double headroom = 0;
  CLI::App app("bench_precision: |difference| quantiles of t5cc's bf16 / f16 runs against its float32 reference");
  app.add_option("--model", model, "a checkpoint")->type_name("DIR")->required();
  app.add_option("--inputs", inputs_path, "tools/hf_precision.py's INPUTS.json")->type_name("FILE")->required();
  app.add_option("--runs", runs_text, "comma-separated DEVICE:DTYPE[+fold] (default " + runs_text + ")")->type_name("LIST");
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->type_name("N");
  auto* scales_opt = app.add_option("--fp16-scales", scales_path, "the f16 runs' scales (default: the sidecar beside the weights, if any)")->type_name("FILE");
  app.add_option("--calibrate", headroom, "calibrate the f16 scales on these inputs with this headroom (a power of two)")
      ->type_name("HEADROOM")
      ->excludes(scales_opt);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "bench_precision: usage error: " << e.what() << "\n";
    return 2;
  }
  try {
    const auto in = t5::bench::read_precision_inputs(inputs_path);
    const auto reference = t5::bench::RunSpec::parse("cpu:f32").load(model, threads, {});
    const t5::Hparams& h = reference->hparams();
    const bool decoder = in.has_decoder() && reference->has_decoder();
    t5::Fp16Calibration calibration(h.num_layers, reference->has_decoder() ? h.num_decoder_layers : 0,
                                    reference->detected().policies.ffn == t5::Ffn::GatedGelu);
    const t5::LayerObserver observe = headroom > 0 ? calibration.observer() : t5::LayerObserver{};
    const auto states = reference->encode(in.input, observe).values;
    const auto logits = decoder ? reference->logits(in.input, in.decoder_input, observe).values : std::vector<float>{};
    if (headroom > 0) {
      scales_path = (std::filesystem::temp_directory_path() / ("bench_precision_scales_" + std::to_string(::getpid()) + ".json")).string();
      std::ofstream(scales_path) << t5::fp16_scales_json(calibration.scales(headroom), calibration, headroom, in.input.batch);
    }

    std::cout << "t5cc " << t5::version() << "; " << model << "; inputs " << inputs_path << " (" << in.input.batch << " x " << in.input.length
              << (decoder ? ", decoder " + std::to_string(in.decoder_input.length) : std::string()) << "); |run - t5cc float32|"
              << (headroom > 0 ? "; f16 scales calibrated on these inputs, headroom " + std::to_string(static_cast<int>(headroom)) : "") << "\n\n"
              << "| run | enc q0.5 | enc q0.99 | enc q0.9999 | enc max | logits q0.5 | logits q0.99 | logits q0.9999 | logits max |\n"
              << "|---|---|---|---|---|---|---|---|---|\n";
    std::string where;  // the inputs and positions of each run's largest difference
    std::stringstream list(runs_text);
    for (std::string item; std::getline(list, item, ',');) {
      const auto spec = t5::bench::RunSpec::parse(item);
      std::string row = "| t5cc " + item + " | ";
      try {
        const auto m = spec.load(model, threads, scales_path);
        const auto enc = t5::bench::difference_quantiles(m->encode(in.input).values, states, in.input.mask, h.d_model);
        row += cells(enc);
        where += "  " + item + ": encoder max at input " + std::to_string(enc.max_row / in.input.length) + " position " +
                 std::to_string(enc.max_row % in.input.length);
        if (decoder) {
          const auto dec = t5::bench::difference_quantiles(m->logits(in.input, in.decoder_input).values, logits, in.decoder_input.mask, h.vocab_size);
          row += " | " + cells(dec);
          where += ", logits max at input " + std::to_string(dec.max_row / in.decoder_input.length) + " position " +
                   std::to_string(dec.max_row % in.decoder_input.length);
        } else {
          row += " | | | | ";
        }
        where += "\n";
      } catch (const t5::Error& e) {
        row += std::string("error: ") + e.what() + " | | | | | | | ";
      }
      std::cout << row << " |\n" << std::flush;
    }
    std::cout << "\nwhere the largest differences are:\n" << where;
    if (headroom > 0) std::filesystem::remove(scales_path);
  } catch (const t5::Error& e) {
    std::cerr << "bench_precision: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
