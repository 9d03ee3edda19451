// t5cc GPU API: device management, the CUDA launchers, the cuBLASLt wrapper and cuda::Backend (the
// GPU model is Model<V, cuda::Backend<bf16 | f16>>). Includes no CUDA header itself; a program using
// it links a libt5cc built with CUDA (t5::have_cuda() says which).
#pragma once

#include "t5/cuda/backend.hpp"
#include "t5/cuda/device.hpp"
#include "t5/cuda/gemm.hpp"
#include "t5/cuda/launch.hpp"
