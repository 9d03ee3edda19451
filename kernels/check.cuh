// T5_CUDA_CHECK: turns a failed CUDA runtime call into t5::Error(Cuda) with file, line and the
// status text. Internal to kernels/.
#pragma once

#include <string>

#include <cuda_runtime.h>

#include "t5/core/error.hpp"

namespace t5::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw Error(ErrorCode::Cuda, std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " +
                                   cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

}  // namespace t5::cuda::detail

#define T5_CUDA_CHECK(call)                                                               \
  do {                                                                                    \
    const cudaError_t t5_status_ = (call);                                                \
    if (t5_status_ != cudaSuccess) ::t5::cuda::detail::throw_cuda_error(t5_status_, #call, __FILE__, __LINE__); \
  } while (0)
