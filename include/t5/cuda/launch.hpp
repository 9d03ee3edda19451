// Declarations of the CUDA launchers compiled in kernels/ (explicitly instantiated there for
// float, f16 and bf16). No CUDA header is needed to call them: a stream is CUDA's opaque handle.
#pragma once

#include "t5/core/dtype.hpp"
#include "t5/core/ops.hpp"

struct CUstream_st;  // cudaStream_t is CUstream_st*

namespace t5::cuda {

using Stream = CUstream_st*;  ///< nullptr = the default stream

/// Residual RMSNorm on device pointers, one block per row; contract in core/ops.hpp.
/// Throws Error(Cuda) if the launch fails.
template <class T>
void launch_rms_norm(const RmsNormParams<T>& params, Stream stream = nullptr);

extern template void launch_rms_norm<float>(const RmsNormParams<float>&, Stream);
extern template void launch_rms_norm<f16>(const RmsNormParams<f16>&, Stream);
extern template void launch_rms_norm<bf16>(const RmsNormParams<bf16>&, Stream);

}  // namespace t5::cuda
