// main() of the cli test executable: suite `benchmark` (meson test cli/benchmark) reports SKIP
// (exit status 77) in a build without the benchmark programs (-Dbenchmarks=false, as the ASan build).
#include <cstdlib>
#include <string_view>

#include "test_main.hpp"

int main(int argc, char** argv) {
  bool benchmark = false;
  for (int i = 1; i < argc; ++i) benchmark = benchmark || std::string_view(argv[i]) == "--run_test=benchmark";
  const bool built = std::getenv("T5CC_BENCH_GENERATE") != nullptr;
  return t5::test::run_or_skip(argc, argv, benchmark && !built ? "the benchmark programs are not built (-Dbenchmarks=false)" : "");
}
