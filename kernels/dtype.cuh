// Mapping between t5's 16-bit storage types and CUDA's, plus fp32 load/store helpers.
// t5::f16 / t5::bf16 have the same size and bit layout as __half / __nv_bfloat16.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include "t5/core/dtype.hpp"

namespace t5::cuda::detail {

template <class T>
struct Native {
  using type = T;
};
template <>
struct Native<f16> {
  using type = __half;
};
template <>
struct Native<bf16> {
  using type = __nv_bfloat16;
};
template <class T>
using native_t = typename Native<T>::type;

static_assert(sizeof(__half) == sizeof(f16) && sizeof(__nv_bfloat16) == sizeof(bf16));

__device__ __forceinline__ float to_f32(float v) { return v; }
__device__ __forceinline__ float to_f32(__half v) { return __half2float(v); }
__device__ __forceinline__ float to_f32(__nv_bfloat16 v) { return __bfloat162float(v); }

/// Rounds to nearest even, as t5::from_float does on the host.
template <class N>
__device__ __forceinline__ N from_f32(float v);
template <>
__device__ __forceinline__ float from_f32<float>(float v) { return v; }
template <>
__device__ __forceinline__ __half from_f32<__half>(float v) { return __float2half_rn(v); }
template <>
__device__ __forceinline__ __nv_bfloat16 from_f32<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }

}  // namespace t5::cuda::detail
