// bench_encode: times the encoder (AnyModel::encode, any variant t5::load reads) on a batch of
// fixed-length inputs and prints one JSON line. tools/bench_peers.py runs it beside its peers on the
// same checkpoint, inputs and thread count.
//
//   bench_encode --model DIR --batch B --length S [--dtype f32|bf16|int8] [--threads N] [--repeats R] [--ids FILE]
//                [--fold-norm-gains] [--save FILE]
//
// Inputs: the first B lines of FILE (space-separated ids, cut or padded to S), or without --ids
// random ids in [2, vocab) from a fixed seed, every position valid. --save writes the states as raw
// float32 [B, S, d_model] (for the peer script's error column). Reported: the median of R timed
// runs after one warm-up, tokens/s = B * S / median, and the process's peak RSS.
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <fstream>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "t5/core/batch.hpp"
#include "t5/core/error.hpp"
#include "t5/load.hpp"

namespace {

std::vector<std::vector<std::int32_t>> inputs(const std::string& path, std::int64_t batch, std::int64_t length, std::int64_t vocab, std::int32_t pad) {
  std::vector<std::vector<std::int32_t>> rows;
  if (path.empty()) {
    std::mt19937 rng(1234);
    std::uniform_int_distribution<std::int32_t> id(2, static_cast<std::int32_t>(vocab - 1));
    for (std::int64_t b = 0; b < batch; ++b) {
      rows.emplace_back(static_cast<std::size_t>(length));
      for (auto& v : rows.back()) v = id(rng);
    }
    return rows;
  }
  std::ifstream in(path);
  if (!in) throw t5::Error(t5::ErrorCode::Io, path + ": cannot open");
  for (std::string line; static_cast<std::int64_t>(rows.size()) < batch && std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::int32_t> row;
    for (std::int32_t v; words >> v;) row.push_back(v);
    row.resize(static_cast<std::size_t>(length), pad);
    rows.push_back(row);
  }
  if (static_cast<std::int64_t>(rows.size()) < batch) throw t5::Error(t5::ErrorCode::Io, path + " holds fewer than " + std::to_string(batch) + " inputs");
  return rows;
}

double peak_rss_mib() {
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  return static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, ids_path, dtype = "f32", save_path;
  std::int64_t batch = 0, length = 0, repeats = 5;
  int threads = 0;
  bool fold = false;
  CLI::App app("bench_encode: times the encoder of a checkpoint on B inputs of S tokens; prints one JSON line");
  app.add_option("--model", model_dir, "a checkpoint directory (config.json and safetensors)")->type_name("DIR")->required();
  app.add_option("--batch", batch, "inputs per encode call")->type_name("B")->required()->check(CLI::Range(1, 1 << 16));
  app.add_option("--length", length, "tokens per input")->type_name("S")->required()->check(CLI::Range(1, 1 << 16));
  app.add_option("--dtype", dtype, "the products' dtype (default f32; f16: the GPU's f16 numbers on the CPU)")
      ->type_name("f32|bf16|int8|f16")
      ->check(CLI::IsMember({"f32", "bf16", "int8", "f16"}));
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->type_name("N")->check(CLI::Range(1, 1 << 10));
  app.add_option("--repeats", repeats, "timed runs after one warm-up; the median is reported (default 5)")->type_name("R")->check(CLI::Range(1, 1000));
  app.add_option("--ids", ids_path, "inputs, one per line as space-separated token ids (default: random ids, fixed seed)")->type_name("FILE");
  app.add_flag("--fold-norm-gains", fold, "fold the layer norms' gains into the next projections at load");
  app.add_option("--save", save_path, "write the last run's states to FILE, raw float32 [B, S, d_model]")->type_name("FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "bench_encode: usage error: " << e.what() << " (see 'bench_encode --help')\n";
    return 2;
  }
  try {
    t5::LoadOptions options;
    options.threads = threads;
    options.fold_norm_gains = fold;
    options.dtype = dtype == "bf16" ? t5::DType::BF16 : dtype == "int8" ? t5::DType::I8 : dtype == "f16" ? t5::DType::F16 : t5::DType::F32;
    const auto load_start = std::chrono::steady_clock::now();
    auto model = t5::load(model_dir, options);
    const std::chrono::duration<double> load_seconds = std::chrono::steady_clock::now() - load_start;
    const auto& h = model->hparams();
    const auto input = t5::TokenBatch::from_rows(inputs(ids_path, batch, length, h.vocab_size, static_cast<std::int32_t>(h.pad_id)),
                                                 static_cast<std::int32_t>(h.pad_id));
    t5::HostTensor states;
    auto run = [&] {
      const auto start = std::chrono::steady_clock::now();
      states = model->encode(input);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      return took.count();
    };
    run();  // warm-up: first-shape primitive creation, page faults of the scratch
    std::vector<double> times;
    for (std::int64_t r = 0; r < repeats; ++r) times.push_back(run());
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    if (!save_path.empty()) {
      std::ofstream out(save_path, std::ios::binary);
      out.write(reinterpret_cast<const char*>(states.values.data()), static_cast<std::streamsize>(states.values.size() * sizeof(float)));
      if (!out) throw t5::Error(t5::ErrorCode::Io, save_path + ": cannot write the states");
    }
    std::cout << "{\"batch\": " << batch << ", \"length\": " << length << ", \"dtype\": \"" << dtype << "\", \"fold_norm_gains\": " << (fold ? "true" : "false") << ", \"threads\": " << threads
              << ", \"seconds\": " << median << ", \"tokens_per_second\": " << static_cast<double>(batch * length) / median
              << ", \"load_seconds\": " << load_seconds.count() << ", \"peak_rss_mib\": " << peak_rss_mib() << ", \"kernels\": \""
              << t5::cpu_kernels() << "\"}\n";
  } catch (const t5::Error& e) {
    std::cerr << "bench_encode: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
