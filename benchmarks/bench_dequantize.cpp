// bench_dequantize: how fast t5cc decodes a GGUF file's block-quantised tensors at load (one thread,
// io/gguf_quants.hpp through GgufFile::source), beside the roof of that step on this machine: a
// memcpy writing the same float32 bytes into fresh memory, page faults included. Prints a Markdown
// table per tensor: values, ns per value, Mvalues/s, and the decode's time over memcpy's.
//
//   bench_dequantize --model FILE.gguf [--repeats R]
#include <CLI/CLI.hpp>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>

#include "t5/io/gguf.hpp"
#include "best_seconds.hpp"

int main(int argc, char** argv) {
  std::string model;
  int repeats = 5;
  CLI::App app("bench_dequantize: the load-time decoding rate of a GGUF file's quantised tensors, against memcpy");
  app.add_option("--model", model, "a GGUF file of architecture t5 or t5encoder")->required()->type_name("FILE");
  app.add_option("--repeats", repeats, "timed runs per tensor after a warm-up; the best is reported (default 5)")->check(CLI::Range(1, 1000));
  CLI11_PARSE(app, argc, argv);
  try {
    const t5::io::GgufFile file(model);
    std::printf("| tensor | stored as | values | ns/value | Mvalues/s | time / memcpy's |\n|---|---|---|---|---|---|\n");
    for (const auto& t : file.tensors()) {
      if (t.encoding.empty()) continue;  // used in place: nothing to decode
      const auto n = static_cast<std::size_t>(t.numel());
      const double decode = best_seconds([&] { (void)file.source(t); }, repeats);
      const t5::WeightSource decoded = file.source(t);
      const double copy = best_seconds(
          [&] {
            (void)t5::MappedFile::decoded(file.path(), decoded.bytes.size(), [&](std::span<std::byte> out) { std::memcpy(out.data(), decoded.bytes.data(), out.size()); });
          },
          repeats);
      std::printf("| %s | %s | %zu | %.2f | %.0f | %.2f |\n", t.name.c_str(), t.encoding.c_str(), n, decode * 1e9 / static_cast<double>(n),
                  static_cast<double>(n) / decode / 1e6, decode / copy);
    }
  } catch (const t5::Error& e) {
    std::fprintf(stderr, "bench_dequantize: %s\n", e.what());
    return 1;
  }
  return 0;
}
