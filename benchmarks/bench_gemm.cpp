// bench_gemm: the machine's GEMM roof per dtype on the model's shapes: GFLOP/s of oneDNN's matmul
// (float32, bf16, int8 with int32 accumulation) and of Eigen's float32 product, for out = x w^T with
// x [M, K] and the weight packed once, as cpu/matmul.hpp runs them. Prints a Markdown table;
// docs/performance.md compares the encoder's GEMM time with it.
//
//   bench_gemm [--threads N] [--repeats R]
#include <CLI/CLI.hpp>
#include <Eigen/Core>
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <vector>

#include "t5/core/mapped_file.hpp"
#include "t5/cpu/matmul.hpp"
#include "best_seconds.hpp"

int main(int argc, char** argv) {
  int threads = 0, repeats = 20;
  CLI::App app("bench_gemm: GFLOP/s of the CPU products on T5's shapes, per dtype");
  app.add_option("--threads", threads, "CPU threads (default: all cores)")->type_name("N")->check(CLI::Range(1, 1 << 10));
  app.add_option("--repeats", repeats, "timed runs per cell after a warm-up; the best is reported (default 20)")->check(CLI::Range(1, 10000));
  CLI11_PARSE(app, argc, argv);
#ifdef _OPENMP
  if (threads == 0) threads = omp_get_max_threads();
#else
  threads = 1;
#endif
  // (M, K, N): flan-t5-small's and -base's encoder projections at B x S = 1024 rows (qkv, wi_0|wi_1,
  // wo), and decode-step row counts against base's fused FFN in-projection.
  const std::vector<std::array<std::int64_t, 3>> shapes = {{1024, 512, 1152}, {1024, 512, 2048}, {1024, 1024, 512}, {1024, 768, 2304},
                                                           {1024, 768, 4096}, {1024, 2048, 768}, {1, 768, 4096},    {8, 768, 4096},
                                                           {32, 768, 4096},   {64, 768, 4096}};
  const t5::cpu::MatmulPrecision precisions[] = {t5::cpu::MatmulPrecision::F32, t5::cpu::MatmulPrecision::BF16, t5::cpu::MatmulPrecision::Int8};
  std::printf("%d threads; %s\n\n| M | K | N | Eigen f32 | oneDNN f32 | oneDNN bf16 | oneDNN int8 |\n|---|---|---|---|---|---|---|\n", threads,
              t5::cpu::Matmul::describe().c_str());
  for (const auto& [m, k, n] : shapes) {
    std::vector<float> x(static_cast<std::size_t>(m * k)), w(static_cast<std::size_t>(n * k)), out(static_cast<std::size_t>(m * n));
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(i % 17) * 0.01f - 0.08f;
    for (std::size_t i = 0; i < w.size(); ++i) w[i] = static_cast<float>(i % 13) * 0.01f - 0.06f;
    const double flop = 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
    using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
    const Eigen::Map<const RowMajor> ex(x.data(), m, k), ew(w.data(), n, k);
    Eigen::Map<RowMajor> eo(out.data(), m, n);
    Eigen::setNbThreads(threads);
    std::printf("| %lld | %lld | %lld | %.0f", static_cast<long long>(m), static_cast<long long>(k), static_cast<long long>(n),
                flop / best_seconds([&] { eo.noalias() = ex * ew.transpose(); }, repeats) / 1e9);
    for (const auto p : precisions) {
      try {
        t5::cpu::Matmul matmul(threads, p);
        const t5::WeightSource part{std::as_bytes(std::span<const float>(w)), t5::DType::F32, nullptr, "w"};
        const auto packed = matmul.pack(std::span<const t5::WeightSource>(&part, 1), n, k);
        const t5::ConstMatrixView<float> xv{x.data(), m, k};
        const t5::MatrixView<float> ov{out.data(), m, n};
        std::printf(" | %.0f", flop / best_seconds([&] { matmul.run(xv, packed, ov, 1.0f, false); }, repeats) / 1e9);
      } catch (const t5::Error& e) {
        std::printf(" | - (%s)", e.what());
      }
    }
    std::printf(" |\n");
  }
  return 0;
}
