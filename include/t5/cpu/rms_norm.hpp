// CPU reference of the residual RMSNorm (see RmsNormParams in core/ops.hpp for the contract).
#pragma once

#include <cmath>
#include <cstdint>

#include "t5/core/dtype.hpp"
#include "t5/core/ops.hpp"

namespace t5::cpu {

/// Host pointers. The sum of squares is accumulated in double: this is the oracle the GPU kernel
/// is measured against, so it should not carry a reduction-order error of its own.
template <class T>
void rms_norm(const RmsNormParams<T>& p) {
  for (std::int64_t r = 0; r < p.rows; ++r) {
    const T* x = p.mode == ResidualMode::InPlace ? nullptr : p.x + r * p.dim;
    float* residual = p.residual + r * p.dim;
    T* out = p.out + r * p.dim;
    double sum_squares = 0.0;
    for (std::int64_t i = 0; i < p.dim; ++i) {
      const float s = p.mode == ResidualMode::Start    ? to_float(x[i])
                      : p.mode == ResidualMode::Update ? residual[i] + to_float(x[i])
                                                       : residual[i];
      residual[i] = s;
      sum_squares += static_cast<double>(s) * s;
    }
    const float inv_rms = static_cast<float>(1.0 / std::sqrt(sum_squares / static_cast<double>(p.dim) + p.eps));
    for (std::int64_t i = 0; i < p.dim; ++i) {
      const float s = residual[i];
      out[i] = from_float<T>(s * inv_rms * p.gain[i]);
      residual[i] = s * p.residual_scale;
    }
  }
}

}  // namespace t5::cpu
