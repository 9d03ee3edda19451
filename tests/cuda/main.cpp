// main() of the cuda test executable: runs the suites on a machine with a CUDA device, and exits
// 77 (SKIP) on a build without CUDA or a machine without a GPU.
#include "t5/build_config.hpp"
#include "test_main.hpp"

#if T5CC_HAVE_CUDA
#include "t5/cuda.hpp"
#endif

int main(int argc, char** argv) {
#if T5CC_HAVE_CUDA
  return t5::test::run_or_skip(argc, argv, t5::cuda::device_count() > 0 ? "" : "no CUDA device (or driver) on this machine");
#else
  return t5::test::run_or_skip(argc, argv, "this build has no CUDA backend (-Dcuda=disabled or nvcc not found)");
#endif
}
