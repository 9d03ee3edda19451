// The Model<V, B> instantiations libt5cc compiles: every variant dispatch() reaches
// (config/dispatch.hpp), on the CPU backends (float, and bf16 / f16 with the GPU's rounding) and, in a CUDA build, on cuda::Backend<bf16> and <f16>.
// A program built against libt5cc (its 't5cc' dependency defines T5CC_PREBUILT_MODELS, and
// T5CC_PREBUILT_CUDA_MODELS with CUDA) sees them declared extern and compiles none of them. Without
// those macros (the header-only path) a program instantiates the variants it names.
#pragma once

#include "t5/config/dispatch.hpp"
#include "t5/cpu/backend.hpp"
#if T5CC_PREBUILT_CUDA_MODELS
#include "t5/cuda/backend.hpp"
#endif

/// `template class Model<Variant<...>, BACKEND>;` for one T5_DISPATCHABLE_VARIANTS entry.
#define T5_MODEL_INSTANCE(F, G, P, A, L, BACKEND) template class ::t5::Model<T5_VARIANT(F, G, P, A, L), BACKEND>;
#define T5_EXTERN_MODEL_INSTANCE(F, G, P, A, L, BACKEND) extern T5_MODEL_INSTANCE(F, G, P, A, L, BACKEND)

#if T5CC_PREBUILT_MODELS
T5_DISPATCHABLE_VARIANTS(T5_EXTERN_MODEL_INSTANCE, ::t5::cpu::Backend<float>)
T5_DISPATCHABLE_VARIANTS(T5_EXTERN_MODEL_INSTANCE, ::t5::cpu::Backend<::t5::bf16>)
T5_DISPATCHABLE_VARIANTS(T5_EXTERN_MODEL_INSTANCE, ::t5::cpu::Backend<::t5::f16>)
#endif
#if T5CC_PREBUILT_CUDA_MODELS
T5_DISPATCHABLE_VARIANTS(T5_EXTERN_MODEL_INSTANCE, ::t5::cuda::Backend<::t5::bf16>)
T5_DISPATCHABLE_VARIANTS(T5_EXTERN_MODEL_INSTANCE, ::t5::cuda::Backend<::t5::f16>)
#endif
