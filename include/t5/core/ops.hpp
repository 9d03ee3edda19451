// Parameter structs of the element-wise ops that both backends implement: the CPU version in
// cpu/, the CUDA launcher in cuda/launch.hpp (kernels/). Pointers are host or device memory
// according to the backend that receives the struct.
#pragma once

#include <cstdint>

namespace t5 {

/// Whether the norm starts the fp32 residual stream (from the embeddings), adds a sublayer's output
/// to it, or finds the sum already there (an out-projection that accumulated into the residual).
enum class ResidualMode : std::uint8_t { Start, Update, InPlace };

/// RMSNorm that manages the fp32 residual (HF T5LayerNorm, with the residual add folded in):
///   s        = float(x) (Start), residual + float(x) (Update) or residual (InPlace, x unused)
///   out      = T(s * rsqrt(mean(s^2) + eps) * gain), computed in fp32 and rounded once
///   residual = s * residual_scale          (the norm uses the unscaled s)
/// T is the activation dtype (float, f16 or bf16). T5 has no mean subtraction and no bias.
template <class T>
struct RmsNormParams {
  const T* x = nullptr;        ///< [rows, dim] sublayer output or embeddings; unused by InPlace
  float* residual = nullptr;   ///< [rows, dim] fp32 residual stream, read (Update) and written
  const float* gain = nullptr; ///< [dim]
  T* out = nullptr;            ///< [rows, dim] normalised activations
  std::int64_t rows = 0;
  std::int64_t dim = 0;
  float eps = 1e-6f;
  float residual_scale = 1.0f;  ///< power-of-two fp16 scaling of the residual; 1 = none
  ResidualMode mode = ResidualMode::Update;
};

}  // namespace t5
