// main() of the cuda test executable: runs the suites on a machine with a CUDA device, and exits
// 77 (SKIP) on a build without CUDA or a machine without a GPU.
#include <iostream>

#include "test_main.hpp"

#if T5CC_HAVE_CUDA
#include "t5/cuda.hpp"
#endif

int main(int argc, char** argv) {
#if T5CC_HAVE_CUDA
  if (t5::cuda::device_count() == 0) return t5::test::run_or_skip(argc, argv, "no CUDA device (or driver) on this machine");
  std::cout << "device: " << t5::cuda::device_description() << "\n";  // the GPU the results belong to
  return t5::test::run_or_skip(argc, argv, "");
#else
  return t5::test::run_or_skip(argc, argv, "this build has no CUDA backend (-Dcuda=disabled or nvcc not found)");
#endif
}
