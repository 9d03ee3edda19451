// t5cc GPU API: device management, the CUDA launchers, the cuBLASLt wrapper and cuda::Backend.
// Requires a build with T5CC_HAVE_CUDA (link against t5cc_cuda); includes no CUDA header itself.
#pragma once

#include "t5/build_config.hpp"

#if !T5CC_HAVE_CUDA
#error "t5/cuda.hpp: this t5cc build has no CUDA backend (configure with -Dcuda=enabled and nvcc on PATH)"
#endif

#include "t5/cuda/backend.hpp"
#include "t5/cuda/device.hpp"
#include "t5/cuda/gemm.hpp"
#include "t5/cuda/launch.hpp"
