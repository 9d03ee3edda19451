// The CPU backend's elementwise and row kernels (GELU, softmax, RMSNorm, bf16 rounding, int8
// quantisation), each compiled for several x86-64 instruction sets and chosen once at run time from
// cpuid, so that one binary built for generic x86-64 runs vectorised on any machine.
//
// Every kernel is one plain loop body (namespace body) that the compiler vectorises; the ISA
// versions only change the target it is compiled for. Reductions keep a fixed number of partial
// sums combined in a fixed order, so the versions differ only where g++ fuses a * b + c into an FMA
// for targets that have one (tests/cpu/test_kernels.cpp bounds it), whatever the vector width.
//
// T5CC_CPU_ISA=sse|avx2|avx512 caps the choice (a machine cannot be made to run an ISA it lacks).
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string_view>

namespace t5::cpu {

enum class Isa : std::uint8_t { Sse, Avx2, Avx512 };

constexpr const char* isa_name(Isa isa) noexcept {
  switch (isa) {
    case Isa::Sse: return "sse";
    case Isa::Avx2: return "avx2";
    case Isa::Avx512: return "avx512";
  }
  return "?";
}

namespace body {

#if defined(__GNUC__)
#define T5_KERNEL_INLINE [[gnu::always_inline]] inline
#else
#define T5_KERNEL_INLINE inline
#endif

// Selections below compare the bits as integers: with float compares (which may trap on NaN under
// GCC's default -ftrapping-math) GCC does not if-convert the loops for AVX2, only for AVX-512.
T5_KERNEL_INLINE std::uint32_t bits_of(float x) { return std::bit_cast<std::uint32_t>(x); }
T5_KERNEL_INLINE float select(bool take_a, float a, float b) {
  const std::uint32_t mask = 0u - static_cast<std::uint32_t>(take_a);
  return std::bit_cast<float>((bits_of(a) & mask) | (bits_of(b) & ~mask));
}
constexpr std::uint32_t abs_mask = 0x7fffffffu;

/// exp(x) for x <= 0 to 2 ulp (Cephes' expf: x = n ln2 + r, a degree-6 polynomial in r, 2^n from
/// the exponent bits), written without calls or branches so that it vectorises. Below -87 (exp
/// under 1.7e-38, -inf included) it returns 0: softmax weights and GELU tails flushed.
T5_KERNEL_INLINE float exp_nonpositive(float x) {
  const bool in_range = (bits_of(x) & abs_mask) <= bits_of(87.0f);  // x <= 0, so |x| <= 87
  const float clamped = select(in_range, x, -87.0f);
  const float n = (clamped * 1.44269504088896341f + 12582912.0f) - 12582912.0f;  // round to nearest
  float r = clamped - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  const std::int32_t exponent = (static_cast<std::int32_t>(n) + 127) << 23;
  return select(in_range, p * std::bit_cast<float>(exponent), 0.0f);
}

/// out = gelu_tanh(gate) * up, gelu_tanh(x) = 0.5 x (1 + tanh(u)) = x / (1 + exp(-2u)) with
/// u = sqrt(2/pi) (x + 0.044715 x^3) (HF "gelu_new"): one exp, of a non-positive argument by symmetry.
T5_KERNEL_INLINE void gelu_tanh_mul(const float* gate, const float* up, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float x = gate[i];
    const float u = 0.7978845608028654f * (x + 0.044715f * x * x * x);
    const bool negative = (bits_of(u) >> 31) != 0;
    const float e = exp_nonpositive(std::bit_cast<float>(bits_of(u) | 0x80000000u) * 2.0f);  // exp(-2|u|)
    const float numerator = select(negative, e, 1.0f);  // sigmoid(2u) = 1 / (1 + e), or e / (1 + e) for u < 0
    out[i] = x * (numerator / (1.0f + e)) * up[i];
  }
}

T5_KERNEL_INLINE void relu(float* x, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) x[i] = std::max(x[i], 0.0f);
}

constexpr int lanes = 16;  // partial sums: one AVX-512 register of floats, two of doubles

// Float maxima through integers: GCC vectorises no float max reduction without -ffast-math, but
// does integer ones. `ordered` maps float bits to int32 in the floats' order (NaN aside), exactly.
T5_KERNEL_INLINE std::int32_t ordered(float x) {
  const auto b = static_cast<std::int32_t>(bits_of(x));
  return b ^ ((b >> 31) & 0x7fffffff);
}
T5_KERNEL_INLINE float from_ordered(std::int32_t o) { return std::bit_cast<float>(static_cast<std::uint32_t>(o ^ ((o >> 31) & 0x7fffffff))); }

/// max x[i] (-inf for n = 0); exact, so the vector width does not change it.
T5_KERNEL_INLINE float max_of(const float* x, std::int64_t n) {
  std::int32_t m = ordered(-std::numeric_limits<float>::infinity());
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, ordered(x[i]));
  return from_ordered(m);
}

/// max |x[i]| (0 for n = 0): non-negative floats order as their bits do.
T5_KERNEL_INLINE float max_abs(const float* x, std::int64_t n) {
  std::uint32_t m = 0;
  for (std::int64_t i = 0; i < n; ++i) m = std::max(m, bits_of(x[i]) & abs_mask);
  return std::bit_cast<float>(m);
}

/// s = softmax(s) over n entries, -inf entries (masked keys) giving 0; returns false (s untouched)
/// when every entry is -inf.
T5_KERNEL_INLINE bool softmax(float* s, std::int64_t n) {
  const float max = max_of(s, n);
  if (max == -std::numeric_limits<float>::infinity()) return false;
  float partial[lanes] = {};
  std::int64_t j = 0;
  for (; j + lanes <= n; j += lanes)
    for (int l = 0; l < lanes; ++l) {
      const float e = exp_nonpositive(s[j + l] - max);
      s[j + l] = e;
      partial[l] += e;
    }
  for (int l = 0; j < n; ++j, ++l) {
    s[j] = exp_nonpositive(s[j] - max);
    partial[l] += s[j];
  }
  float sum = 0.0f;
  for (int l = 0; l < lanes; ++l) sum += partial[l];
  const float inv = 1.0f / sum;
  for (std::int64_t k = 0; k < n; ++k) s[k] *= inv;
  return true;
}

/// One row of attention scores before the softmax: s[j] = scale * s[j] + bias[j] where key j is
/// visible (j < visible_end and mask[j] != 0), -inf elsewhere.
T5_KERNEL_INLINE void score_row(float* s, const float* bias, const std::uint8_t* mask, std::int64_t n, std::int64_t visible_end, float scale) {
  for (std::int64_t j = 0; j < n; ++j) {
    const bool visible = (j < visible_end) & (mask[j] != 0);
    s[j] = select(visible, s[j] * scale + bias[j], -std::numeric_limits<float>::infinity());
  }
}

/// s[j] = q . keys[j] (d values; key j at keys + j * ld), each dot in fixed-order partial sums:
/// attention scores of one query (a decode step).
T5_KERNEL_INLINE void dot_rows(const float* q, const float* keys, std::int64_t ld, std::int64_t n, std::int64_t d, float* s) {
  for (std::int64_t j = 0; j < n; ++j) {
    const float* k = keys + j * ld;
    float partial[lanes] = {};
    std::int64_t t = 0;
    for (; t + lanes <= d; t += lanes)
      for (int l = 0; l < lanes; ++l) partial[l] += q[t + l] * k[t + l];
    for (int l = 0; t < d; ++t, ++l) partial[l] += q[t] * k[t];
    float sum = 0.0f;
    for (int l = 0; l < lanes; ++l) sum += partial[l];
    s[j] = sum;
  }
}

/// out = sum_j p[j] values[j] (d values; value j at values + j * ld), in order of j.
T5_KERNEL_INLINE void weighted_rows(const float* p, const float* values, std::int64_t ld, std::int64_t n, std::int64_t d, float* out) {
  for (std::int64_t t = 0; t < d; ++t) out[t] = 0.0f;
  for (std::int64_t j = 0; j < n; ++j) {
    const float w = p[j];
    const float* v = values + j * ld;
    for (std::int64_t t = 0; t < d; ++t) out[t] += w * v[t];
  }
}

/// The sum of squares of x[0, n) in double (the oracle's accuracy), in fixed-order partial sums.
T5_KERNEL_INLINE double sum_squares(const float* x, std::int64_t n) {
  double partial[lanes] = {};
  std::int64_t i = 0;
  for (; i + lanes <= n; i += lanes)
    for (int l = 0; l < lanes; ++l) partial[l] += static_cast<double>(x[i + l]) * x[i + l];
  for (int l = 0; i < n; ++i, ++l) partial[l] += static_cast<double>(x[i]) * x[i];
  double sum = 0.0;
  for (int l = 0; l < lanes; ++l) sum += partial[l];
  return sum;
}

/// residual = residual + x (or x alone when `start`), in place; `x` may be null (InPlace: no add).
T5_KERNEL_INLINE void residual_add(const float* x, float* residual, std::int64_t n, bool start) {
  if (x == nullptr) return;
  if (start)
    std::memcpy(residual, x, static_cast<std::size_t>(n) * sizeof(float));
  else
    for (std::int64_t i = 0; i < n; ++i) residual[i] += x[i];
}

/// out = residual * inv_rms * gain; residual *= residual_scale.
T5_KERNEL_INLINE void scale_rows(float* residual, const float* gain, float inv_rms, float residual_scale, float* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const float s = residual[i];
    out[i] = s * inv_rms * gain[i];
    residual[i] = s * residual_scale;
  }
}

/// bf16 bits of x, rounded to nearest even (NaN stays NaN: quiet bit set).
T5_KERNEL_INLINE void to_bf16(const float* x, std::uint16_t* out, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) {
    const std::uint32_t bits = std::bit_cast<std::uint32_t>(x[i]);
    const std::uint32_t rounded = (bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16;
    out[i] = static_cast<std::uint16_t>((bits & 0x7fffffffu) > 0x7f800000u ? (bits >> 16) | 0x40u : rounded);
  }
}

/// q = round(x / scale) with scale = max|x| / levels (symmetric, per row; levels 127, or 63 for
/// weights where int8 products saturate); returns scale (0 for a zero row, whose q are 0).
T5_KERNEL_INLINE float quantize_row(const float* x, std::int8_t* q, std::int64_t n, float levels) {
  const float amax = max_abs(x, n);
  const float scale = amax / levels;
  const float inv = amax > 0.0f ? levels / amax : 0.0f;
  for (std::int64_t i = 0; i < n; ++i) {
    const float v = x[i] * inv;  // in [-levels, levels]
    q[i] = static_cast<std::int8_t>((v + 12582912.0f) - 12582912.0f);  // round half to even
  }
  return scale;
}

/// out[i] (+)= acc[i] * row_scale * col_scale[i]: the int8 product's dequantising epilogue.
T5_KERNEL_INLINE void dequantize_row(const std::int32_t* acc, float row_scale, const float* col_scale, float* out, std::int64_t n, bool accumulate) {
  if (accumulate)
    for (std::int64_t i = 0; i < n; ++i) out[i] += static_cast<float>(acc[i]) * (row_scale * col_scale[i]);
  else
    for (std::int64_t i = 0; i < n; ++i) out[i] = static_cast<float>(acc[i]) * (row_scale * col_scale[i]);
}

}  // namespace body

/// The kernels of one ISA, as plain function pointers.
struct Kernels {
  Isa isa;
  void (*gelu_tanh_mul)(const float*, const float*, float*, std::int64_t);
  void (*relu)(float*, std::int64_t);
  bool (*softmax)(float*, std::int64_t);
  void (*score_row)(float*, const float*, const std::uint8_t*, std::int64_t, std::int64_t, float);
  void (*dot_rows)(const float*, const float*, std::int64_t, std::int64_t, std::int64_t, float*);
  void (*weighted_rows)(const float*, const float*, std::int64_t, std::int64_t, std::int64_t, float*);
  double (*sum_squares)(const float*, std::int64_t);
  void (*residual_add)(const float*, float*, std::int64_t, bool);
  void (*scale_rows)(float*, const float*, float, float, float*, std::int64_t);
  void (*to_bf16)(const float*, std::uint16_t*, std::int64_t);
  float (*quantize_row)(const float*, std::int8_t*, std::int64_t, float);
  void (*dequantize_row)(const std::int32_t*, float, const float*, float*, std::int64_t, bool);
};

#if defined(__GNUC__) && defined(__x86_64__)
#define T5_ISA_TARGET(t) [[gnu::target(t)]]
#else
#define T5_ISA_TARGET(t)
#endif

// One namespace of wrappers per ISA: the bodies above, inlined into functions compiled for it.
#define T5_CPU_KERNELS_FOR(ns, target, isa_value)                                                                                    \
  namespace ns {                                                                                                                    \
  T5_ISA_TARGET(target) inline void gelu_tanh_mul(const float* g, const float* u, float* o, std::int64_t n) { body::gelu_tanh_mul(g, u, o, n); } \
  T5_ISA_TARGET(target) inline void relu(float* x, std::int64_t n) { body::relu(x, n); }                                          \
  T5_ISA_TARGET(target) inline bool softmax(float* s, std::int64_t n) { return body::softmax(s, n); }                             \
  T5_ISA_TARGET(target) inline void score_row(float* s, const float* b, const std::uint8_t* m, std::int64_t n, std::int64_t e, float c) { \
    body::score_row(s, b, m, n, e, c);                                                                                              \
  }                                                                                                                                 \
  T5_ISA_TARGET(target) inline void dot_rows(const float* q, const float* k, std::int64_t ld, std::int64_t n, std::int64_t d, float* s) { \
    body::dot_rows(q, k, ld, n, d, s);                                                                                              \
  }                                                                                                                                 \
  T5_ISA_TARGET(target) inline void weighted_rows(const float* p, const float* v, std::int64_t ld, std::int64_t n, std::int64_t d, float* o) { \
    body::weighted_rows(p, v, ld, n, d, o);                                                                                         \
  }                                                                                                                                 \
  T5_ISA_TARGET(target) inline double sum_squares(const float* x, std::int64_t n) { return body::sum_squares(x, n); }             \
  T5_ISA_TARGET(target) inline void residual_add(const float* x, float* r, std::int64_t n, bool s) { body::residual_add(x, r, n, s); } \
  T5_ISA_TARGET(target) inline void scale_rows(float* r, const float* g, float i, float s, float* o, std::int64_t n) {           \
    body::scale_rows(r, g, i, s, o, n);                                                                                             \
  }                                                                                                                                 \
  T5_ISA_TARGET(target) inline void to_bf16(const float* x, std::uint16_t* o, std::int64_t n) { body::to_bf16(x, o, n); }         \
  T5_ISA_TARGET(target) inline float quantize_row(const float* x, std::int8_t* q, std::int64_t n, float l) { return body::quantize_row(x, q, n, l); } \
  T5_ISA_TARGET(target) inline void dequantize_row(const std::int32_t* a, float r, const float* c, float* o, std::int64_t n, bool acc) { \
    body::dequantize_row(a, r, c, o, n, acc);                                                                                       \
  }                                                                                                                                 \
  inline constexpr Kernels kernels{isa_value, gelu_tanh_mul, relu, softmax, score_row, dot_rows, weighted_rows, sum_squares, residual_add, scale_rows, to_bf16, quantize_row, dequantize_row}; \
  }

T5_CPU_KERNELS_FOR(sse_kernels, "default", Isa::Sse)
#if defined(__GNUC__) && defined(__x86_64__)
T5_CPU_KERNELS_FOR(avx2_kernels, "avx2,fma,f16c,bmi,bmi2", Isa::Avx2)
T5_CPU_KERNELS_FOR(avx512_kernels, "avx512f,avx512bw,avx512dq,avx512vl,avx2,fma,f16c,bmi,bmi2,prefer-vector-width=512", Isa::Avx512)
#endif
#undef T5_CPU_KERNELS_FOR

/// The best ISA this CPU runs, capped by T5CC_CPU_ISA when set.
inline Isa detect_isa() {
  Isa best = Isa::Sse;
#if defined(__GNUC__) && defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) best = Isa::Avx2;
  if (best == Isa::Avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vl"))
    best = Isa::Avx512;
#endif
  if (const char* cap = std::getenv("T5CC_CPU_ISA")) {
    const std::string_view c(cap);
    const Isa wanted = c == "sse" ? Isa::Sse : c == "avx2" ? Isa::Avx2 : Isa::Avx512;
    best = std::min(best, wanted);
  }
  return best;
}

inline const Kernels& kernels_for(Isa isa) {
  switch (isa) {
#if defined(__GNUC__) && defined(__x86_64__)
    case Isa::Avx512: return avx512_kernels::kernels;
    case Isa::Avx2: return avx2_kernels::kernels;
#endif
    default: return sse_kernels::kernels;
  }
}

/// The kernels chosen for this process (once, at first use).
inline const Kernels& kernels() {
  static const Kernels& chosen = kernels_for(detect_isa());
  return chosen;
}

}  // namespace t5::cpu
