// The Backend concept: every op the T5 dataflow (model/, generation/) calls, with its exact
// signature. cpu::Backend implements it with Eigen; cuda::Backend with cuBLASLt and the kernels/
// launchers. Pointers and views live in the backend's memory space.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>

#include "t5/core/mapped_file.hpp"
#include "t5/core/ops.hpp"
#include "t5/core/policies.hpp"
#include "t5/core/tensor.hpp"

namespace t5 {

/// What the dataflow needs from a backend. `Act` is the activation and weight dtype; the residual
/// stream, logits, norm gains and bias tables are float32 on every backend. `Buffer<U>` is writable
/// scratch; `Weight<U>` is a read-only weight, converted once from the checkpoint by `weight`
/// (which may use the file's bytes in place where the dtype and alignment allow). `Projection` is a
/// Linear weight as `linear` reads it, made once by `projection`: the backend chooses its layout and
/// precision (the CPU packs it for oneDNN, in float32, bf16 or int8).
template <class B>
concept Backend = requires(B& b, const B& cb, typename B::Act* act, const typename B::Act* cact, float* f32, const float* cf32,
                           const std::int32_t* ids, std::int32_t* out_ids, std::int64_t n, const typename B::Projection& w) {
  typename B::Act;
  typename B::Space;
  typename B::template Buffer<float>;
  typename B::template Weight<float>;
  typename B::Projection;
  { b.template allocate<float>(n, n) } -> std::same_as<typename B::template Buffer<float>>;
  { b.template upload<float>(std::span<const float>{}, n, n) } -> std::same_as<typename B::template Buffer<float>>;
  { b.template weight<typename B::Act>(std::span<const WeightSource>{}, n, n) } -> std::same_as<typename B::template Weight<typename B::Act>>;
  { b.template weight<float>(std::span<const WeightSource>{}, n, n) } -> std::same_as<typename B::template Weight<float>>;
  { b.projection(std::span<const WeightSource>{}, n, n) } -> std::same_as<typename B::Projection>;
  b.template download<float>(cf32, std::span<float>{});
  b.template upload_into<std::int32_t>(std::span<const std::int32_t>{}, out_ids);
  b.embed(ids, ConstMatrixView<float, typename B::Space>{}, MatrixView<float, typename B::Space>{});
  b.rms_norm(RmsNormParams<typename B::Act>{});
  b.linear(ConstMatrixView<typename B::Act, typename B::Space>{}, w, MatrixView<typename B::Act, typename B::Space>{}, 1.0f);
  b.linear(ConstMatrixView<typename B::Act, typename B::Space>{}, w, MatrixView<float, typename B::Space>{}, 1.0f);
  b.linear_add(ConstMatrixView<typename B::Act, typename B::Space>{}, w, MatrixView<float, typename B::Space>{}, 1.0f);
  b.relu(MatrixView<typename B::Act, typename B::Space>{});
  b.gated_gelu(ConstMatrixView<typename B::Act, typename B::Space>{}, MatrixView<typename B::Act, typename B::Space>{}, GeluApprox::Tanh, FfnScales{});
  b.attention(AttentionArgs<typename B::Act, typename B::Space>{});
  b.copy(ConstMatrixView<typename B::Act, typename B::Space>{}, MatrixView<typename B::Act, typename B::Space>{});
  b.gather_blocks(ConstMatrixView<typename B::Act, typename B::Space>{}, ids, n, n, MatrixView<typename B::Act, typename B::Space>{});
  b.argmax(ConstMatrixView<float, typename B::Space>{}, out_ids);
  b.sample(ConstMatrixView<float, typename B::Space>{}, SampleArgs{}, out_ids);
  b.reserve_attention(n, n, n, n, n);
};

}  // namespace t5
