// T5_CUDA_CHECK / T5_CUBLAS_CHECK: turn a failed CUDA runtime or cuBLASLt call into t5::Error(Cuda)
// or t5::Error(Cublas) with file, line, the call and the status text. Internal to kernels/.
#pragma once

#include <string>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "t5/core/error.hpp"

namespace t5::cuda::detail {

[[noreturn]] inline void throw_cuda_error(cudaError_t status, const char* call, const char* file, int line) {
  throw Error(ErrorCode::Cuda, std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " +
                                   cudaGetErrorName(status) + " (" + cudaGetErrorString(status) + ")");
}

[[noreturn]] inline void throw_cublas_error(cublasStatus_t status, const char* call, const char* file, int line) {
  throw Error(ErrorCode::Cublas, std::string(file) + ":" + std::to_string(line) + ": " + call + " failed: " +
                                     cublasLtGetStatusName(status) + " (" + cublasLtGetStatusString(status) + ")");
}

}  // namespace t5::cuda::detail

#define T5_CUDA_CHECK(call)                                                               \
  do {                                                                                    \
    const cudaError_t t5_status_ = (call);                                                \
    if (t5_status_ != cudaSuccess) ::t5::cuda::detail::throw_cuda_error(t5_status_, #call, __FILE__, __LINE__); \
  } while (0)

#define T5_CUBLAS_CHECK(call)                                                             \
  do {                                                                                    \
    const cublasStatus_t t5_status_ = (call);                                             \
    if (t5_status_ != CUBLAS_STATUS_SUCCESS) ::t5::cuda::detail::throw_cublas_error(t5_status_, #call, __FILE__, __LINE__); \
  } while (0)
