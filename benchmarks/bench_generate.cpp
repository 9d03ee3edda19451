// bench_generate: times Model::generate on a v1.1-policy checkpoint (T5 v1.1 / Flan-T5 shape) for a
// fixed number of new tokens, and prints one JSON line. tools/bench_generate.py runs it beside
// transformers.generate on the same checkpoint, inputs and thread count.
//
//   bench_generate --model DIR --ids FILE --batch N [--num-beams K] [--new-tokens T] [--dtype f32|bf16|int8]
//                  [--threads N] [--repeats R] [--print-ids]
//
// FILE holds one input per line as space-separated token ids; the first N lines are used. Every
// output runs exactly T tokens (min_new_tokens = max_new_tokens = T, as the peer is told too).
// Reported: the median over R timed runs after one warm-up, tokens/s = N * T / median seconds.
#include <sys/resource.h>

#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "t5/config/variant.hpp"
#include "t5/core/batch.hpp"
#include "t5/core/error.hpp"
#include "t5/model.hpp"

namespace {

std::vector<std::vector<std::int32_t>> read_ids(const std::string& path, std::size_t count) {
  std::ifstream in(path);
  if (!in) throw t5::Error(t5::ErrorCode::Io, path + ": cannot open");
  std::vector<std::vector<std::int32_t>> rows;
  for (std::string line; rows.size() < count && std::getline(in, line);) {
    std::istringstream words(line);
    std::vector<std::int32_t> row;
    for (std::int32_t id; words >> id;) row.push_back(id);
    if (!row.empty()) rows.push_back(row);
  }
  if (rows.size() < count) throw t5::Error(t5::ErrorCode::Io, path + " holds fewer than " + std::to_string(count) + " inputs");
  return rows;
}

}  // namespace

int main(int argc, char** argv) {
  std::string model_dir, ids_path, dtype = "f32";
  std::int64_t batch = 0, beams = 1, new_tokens = 64, repeats = 3;
  int threads = 0;
  bool print_ids = false;
  CLI::App app("bench_generate: times Model<t5::v1_1>::generate for a fixed number of new tokens; prints one JSON line");
  app.add_option("--model", model_dir, "a T5 v1.1 / Flan-T5 checkpoint directory")->type_name("DIR")->required();
  app.add_option("--ids", ids_path, "inputs, one per line as space-separated token ids")->type_name("FILE")->required();
  app.add_option("--batch", batch, "inputs per generate call (the first N lines of FILE)")->type_name("N")->required()->check(CLI::Range(1, 1 << 20));
  app.add_option("--num-beams", beams, "beam search with K beams (default 1: greedy)")->type_name("K")->check(CLI::Range(1, 1 << 10));
  app.add_option("--new-tokens", new_tokens, "new tokens per output, exactly (default 64)")->type_name("T")->check(CLI::Range(1, 1 << 20));
  app.add_option("--dtype", dtype, "the products' dtype (default f32)")->type_name("f32|bf16|int8")->check(CLI::IsMember({"f32", "bf16", "int8"}));
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->type_name("N")->check(CLI::Range(1, 1 << 10));
  app.add_option("--repeats", repeats, "timed runs after one warm-up; the median is reported (default 3)")->type_name("R")->check(CLI::Range(1, 1000));
  app.add_flag("--print-ids", print_ids, "add the generated ids of every output (\"ids\") to the JSON line");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);
    std::cerr << "bench_generate: usage error: " << e.what() << " (see 'bench_generate --help')\n";
    return 2;
  }
  try {
    const t5::DType products = dtype == "bf16" ? t5::DType::BF16 : dtype == "int8" ? t5::DType::I8 : t5::DType::F32;
    auto model = t5::Model<t5::v1_1>::load(model_dir, {.threads = threads, .dtype = products});
    const auto input = t5::TokenBatch::from_rows(read_ids(ids_path, static_cast<std::size_t>(batch)), static_cast<std::int32_t>(model.hparams().pad_id));
    t5::GenerationOptions options;
    options.max_new_tokens = options.min_new_tokens = new_tokens;
    options.num_beams = beams;
    std::size_t cache_bytes = 0;
    std::vector<std::vector<std::int32_t>> rows;
    auto run = [&] {
      const auto start = std::chrono::steady_clock::now();
      const auto out = model.generate(input, options);
      const std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
      if (out.steps != new_tokens) throw t5::Error(t5::ErrorCode::InvalidArgument, "ran " + std::to_string(out.steps) + " steps");
      cache_bytes = out.cache_bytes;
      rows = out.token_rows();
      return took.count();
    };
    run();  // warm-up
    std::vector<double> times;
    for (std::int64_t r = 0; r < repeats; ++r) times.push_back(run());
    std::sort(times.begin(), times.end());
    const double median = times[times.size() / 2];
    std::cout << "{\"batch\": " << batch << ", \"dtype\": \"" << dtype << "\", \"num_beams\": " << beams << ", \"new_tokens\": " << new_tokens << ", \"threads\": "
              << t5::cpu::Backend<float>(threads).threads() << ", \"seconds\": " << median << ", \"tokens_per_second\": "
              << static_cast<double>(batch * new_tokens) / median << ", \"cache_bytes\": " << cache_bytes;
    rusage usage{};
    getrusage(RUSAGE_SELF, &usage);
    std::cout << ", \"peak_rss_mib\": " << static_cast<double>(usage.ru_maxrss) / 1024.0;  // KiB on Linux
    if (print_ids) {
      std::cout << ", \"ids\": [";
      for (std::size_t r = 0; r < rows.size(); ++r) {
        std::cout << (r ? ", [" : "[");
        for (std::size_t t = 0; t < rows[r].size(); ++t) std::cout << (t ? ", " : "") << rows[r][t];
        std::cout << "]";
      }
      std::cout << "]";
    }
    std::cout << "}\n";
  } catch (const t5::Error& e) {
    std::cerr << "bench_generate: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
