// layer_diff: runs a model two ways on the same inputs and prints, for every sublayer output the
// layer observer shows (core/observer.hpp), the normwise error of run B against run A and the max
// |value| of each: where a low-precision (or GPU) run starts to depart from the reference, and where
// values approach f16's 65504. Also how the first GPU run gets debugged:
//
//   layer_diff --model DIR --inputs INPUTS.json [--a cpu:f32] [--b cpu:f16] [--threads N] [--fp16-scales FILE]
//              [--rows NAME:LAYER]
//
// --rows prints that one sublayer output row by row (a row is a token: batch row * length + position).
//
// Runs are DEVICE:DTYPE[+fold] (benchmarks/precision_runs.hpp). With decoder inputs the call is
// the teacher-forced logits (encoder, then decoder), else the encoder alone.
#include <CLI/CLI.hpp>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "precision_runs.hpp"

namespace {

struct Seen {
  std::string name;
  std::int64_t layer;
  std::int64_t rows;
  std::vector<float> values;
};

std::vector<Seen> observe(t5::AnyModel& m, const t5::bench::PrecisionInputs& in, std::string& error) {
  std::vector<Seen> seen;
  const t5::LayerObserver record = [&](std::string_view name, std::int64_t layer, const t5::Observed& v) {
    seen.push_back({std::string(name), layer, v.rows, std::vector<float>(v.values.begin(), v.values.end())});
  };
  try {
    if (in.has_decoder() && m.has_decoder()) m.logits(in.input, in.decoder_input, record);
    else m.encode(in.input, record);
  } catch (const t5::Error& e) {
    error = e.what();  // a non-finite result: the table shows where it began
  }
  return seen;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model, inputs_path, a_text = "cpu:f32", b_text = "cpu:f16", scales, rows_of;
  int threads = 0;
  CLI::App app("layer_diff: per-sublayer normwise error of run B against run A, and the max |value| of each");
  app.add_option("--model", model, "a checkpoint")->type_name("DIR")->required();
  app.add_option("--inputs", inputs_path, "tools/hf_precision.py's INPUTS.json")->type_name("FILE")->required();
  app.add_option("--a", a_text, "the reference run (default cpu:f32)")->type_name("RUN");
  app.add_option("--b", b_text, "the compared run (default cpu:f16)")->type_name("RUN");
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->type_name("N");
  app.add_option("--fp16-scales", scales, "f16 runs' scales (default: the sidecar beside the weights, if any)")->type_name("FILE");
  app.add_option("--rows", rows_of, "also print this sublayer output's error row by row (token by token), e.g. encoder.attention.normed:2")
      ->type_name("NAME:LAYER");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "layer_diff: usage error: " << e.what() << "\n";
    return 2;
  }
  try {
    const auto in = t5::bench::read_precision_inputs(inputs_path);
    std::string a_error, b_error;
    const auto a = observe(*t5::bench::RunSpec::parse(a_text).load(model, threads, scales), in, a_error);
    const auto b = observe(*t5::bench::RunSpec::parse(b_text).load(model, threads, scales), in, b_error);
    std::cout << "A = " << a_text << ", B = " << b_text << "; " << model << "; every row of the inputs, padding included\n\n"
              << "| sublayer | layer | normwise |B - A| / |A| | max |A| | max |B| |\n|---|---|---|---|---|\n";
    for (std::size_t i = 0; i < a.size() && i < b.size(); ++i) {
      double diff2 = 0, ref2 = 0, max_a = 0, max_b = 0;
      for (std::size_t k = 0; k < a[i].values.size(); ++k) {
        const double x = a[i].values[k], y = b[i].values[k];
        diff2 += (y - x) * (y - x);
        ref2 += x * x;
        max_a = std::max(max_a, std::fabs(x));
        max_b = std::isfinite(y) ? std::max(max_b, std::fabs(y)) : INFINITY;
      }
      char line[256];
      std::snprintf(line, sizeof line, "| %s | %s | %.3g | %.4g | %.4g |", a[i].name.c_str(), a[i].layer < 0 ? "" : std::to_string(a[i].layer).c_str(),
                    ref2 > 0 ? std::sqrt(diff2 / ref2) : std::sqrt(diff2), max_a, max_b);
      std::cout << line << "\n";
    }
    for (std::size_t i = 0; !rows_of.empty() && i < a.size() && i < b.size(); ++i) {
      if (a[i].name + ":" + std::to_string(a[i].layer) != rows_of) continue;
      const std::size_t cols = a[i].values.size() / static_cast<std::size_t>(a[i].rows);
      std::cout << "\n" << rows_of << " by row:\n\n| row | normwise |B - A| / |A| | |A| | max |B - A| |\n|---|---|---|---|\n";
      for (std::int64_t r = 0; r < a[i].rows; ++r) {
        double diff2 = 0, ref2 = 0, worst = 0;
        for (std::size_t k = r * cols; k < (r + 1) * cols; ++k) {
          const double x = a[i].values[k], y = b[i].values[k];
          diff2 += (y - x) * (y - x), ref2 += x * x, worst = std::max(worst, std::fabs(y - x));
        }
        char line[160];
        std::snprintf(line, sizeof line, "| %lld | %.3g | %.4g | %.4g |", static_cast<long long>(r), std::sqrt(diff2 / std::max(ref2, 1e-300)), std::sqrt(ref2), worst);
        std::cout << line << "\n";
      }
    }
    for (const auto& [run, error] : {std::pair{a_text, a_error}, {b_text, b_error}})
      if (!error.empty()) std::cout << "\n" << run << ": " << error << "\n";
  } catch (const t5::Error& e) {
    std::cerr << "layer_diff: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
