// Element types: the safetensors dtype tags, and the 16-bit float storage types bf16 and f16.
// The storage types carry bits only; arithmetic happens in float after an explicit conversion,
// which rounds to nearest even (the rounding torch and the CUDA intrinsics use).
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace t5 {

/// The dtype tags of the safetensors format. Weights must be F32, F16, BF16 or fp8; the other tags are
/// recognised so that a file holding them is described precisely instead of refused as garbage.
enum class DType : std::uint8_t { Bool, U8, I8, I16, U16, I32, U32, I64, U64, F8E4M3, F8E5M2, F16, BF16, F32, F64 };

constexpr std::size_t dtype_size(DType t) noexcept {
  switch (t) {
    case DType::Bool: case DType::U8: case DType::I8: case DType::F8E4M3: case DType::F8E5M2: return 1;
    case DType::I16: case DType::U16: case DType::F16: case DType::BF16: return 2;
    case DType::I32: case DType::U32: case DType::F32: return 4;
    case DType::I64: case DType::U64: case DType::F64: return 8;
  }
  return 0;
}

/// The tag as written in a safetensors header.
constexpr std::string_view dtype_name(DType t) noexcept {
  switch (t) {
    case DType::Bool: return "BOOL";
    case DType::U8: return "U8";
    case DType::I8: return "I8";
    case DType::I16: return "I16";
    case DType::U16: return "U16";
    case DType::I32: return "I32";
    case DType::U32: return "U32";
    case DType::I64: return "I64";
    case DType::U64: return "U64";
    case DType::F8E4M3: return "F8_E4M3";
    case DType::F8E5M2: return "F8_E5M2";
    case DType::F16: return "F16";
    case DType::BF16: return "BF16";
    case DType::F32: return "F32";
    case DType::F64: return "F64";
  }
  return "?";
}

constexpr std::optional<DType> parse_dtype(std::string_view name) noexcept {
  for (int i = 0; i <= static_cast<int>(DType::F64); ++i) {
    auto t = static_cast<DType>(i);
    if (dtype_name(t) == name) return t;
  }
  return std::nullopt;
}

/// Dtypes a weight may be stored in (the fp8 ones are widened exactly at load).
constexpr bool is_weight_dtype(DType t) noexcept {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16 || t == DType::F8E4M3 || t == DType::F8E5M2;
}

/// bfloat16 storage: the upper 16 bits of an IEEE float32.
struct bf16 {
  std::uint16_t bits;
};

/// IEEE 754 binary16 storage.
struct f16 {
  std::uint16_t bits;
};

/// fp8 storage, as torch's float8_e4m3fn (bias 7, no infinities, S.1111.111 is NaN) and
/// float8_e5m2 (bias 15: the upper byte of an IEEE binary16) define them.
struct f8e4m3 {
  std::uint8_t bits;
};
struct f8e5m2 {
  std::uint8_t bits;
};

static_assert(sizeof(bf16) == 2 && sizeof(f16) == 2 && sizeof(f8e4m3) == 1 && sizeof(f8e5m2) == 1);

constexpr float to_float(float x) noexcept { return x; }

constexpr float to_float(bf16 x) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(x.bits) << 16);
}

/// A binary float of E exponent bits (bias 2^(E-1) - 1) and M mantissa bits, widened exactly, for
/// the codes that are numbers: each format handles its reserved codes (infinities, NaN) first.
template <int E, int M>
constexpr float widen_number(std::uint32_t bits) noexcept {
  constexpr std::uint32_t bias = (1u << (E - 1)) - 1;
  const std::uint32_t sign = ((bits >> (E + M)) & 1u) << 31;
  const std::uint32_t exponent = (bits >> M) & ((1u << E) - 1);
  const std::uint32_t mantissa = bits & ((1u << M) - 1);
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^(1 - bias - M), exact in float
    constexpr float unit = std::bit_cast<float>((127u + 1u - bias - M) << 23);
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(static_cast<float>(mantissa) * unit) | sign);
  }
  return std::bit_cast<float>(sign | ((exponent + 127u - bias) << 23) | (mantissa << (23 - M)));
}

constexpr float to_float(f16 x) noexcept {
  if ((x.bits & 0x7c00u) == 0x7c00u)  // inf, NaN
    return std::bit_cast<float>((static_cast<std::uint32_t>(x.bits & 0x8000u) << 16) | 0x7f800000u | ((x.bits & 0x3ffu) << 13));
  return widen_number<5, 10>(x.bits);
}

constexpr float to_float(f8e5m2 x) noexcept { return to_float(f16{static_cast<std::uint16_t>(x.bits << 8)}); }

constexpr float to_float(f8e4m3 x) noexcept {
  if ((x.bits & 0x7fu) == 0x7fu) return std::bit_cast<float>((static_cast<std::uint32_t>(x.bits & 0x80u) << 24) | 0x7fc00000u);  // NaN
  return widen_number<4, 3>(x.bits);
}

constexpr bf16 to_bf16(float f) noexcept {
  const std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  if ((x & 0x7fffffffu) > 0x7f800000u) return bf16{static_cast<std::uint16_t>((x >> 16) | 0x40u)};  // quiet NaN
  const std::uint32_t rounding = 0x7fffu + ((x >> 16) & 1u);  // nearest, ties to even
  return bf16{static_cast<std::uint16_t>((x + rounding) >> 16)};
}

constexpr f16 to_f16(float f) noexcept {
  std::uint32_t x = std::bit_cast<std::uint32_t>(f);
  const auto sign = static_cast<std::uint16_t>((x >> 16) & 0x8000u);
  x &= 0x7fffffffu;
  if (x > 0x7f800000u) return f16{static_cast<std::uint16_t>(sign | 0x7e00u | ((x >> 13) & 0x3ffu))};  // NaN
  if (x >= 0x477ff000u) return f16{static_cast<std::uint16_t>(sign | 0x7c00u)};  // >= 65520 rounds to inf
  if (x < 0x38800000u) {
    // Below the smallest normal half (2^-14): adding 0.5 makes the float's own rounding land on the
    // 2^-24 grid of half subnormals, ties to even; the low bits are then the half's mantissa.
    const float sum = std::bit_cast<float>(x) + 0.5f;
    return f16{static_cast<std::uint16_t>(sign | (std::bit_cast<std::uint32_t>(sum) - 0x3f000000u))};
  }
  const std::uint32_t odd = (x >> 13) & 1u;
  x += 0xc8000fffu + odd;  // rebias the exponent (127 -> 15) and round to nearest even at bit 13
  return f16{static_cast<std::uint16_t>(sign | (x >> 13))};
}

template <class T>
constexpr T from_float(float f) noexcept {
  if constexpr (std::is_same_v<T, bf16>) return to_bf16(f);
  else if constexpr (std::is_same_v<T, f16>) return to_f16(f);
  else return static_cast<T>(f);
}

/// Element i of `bytes`, which hold `dtype` values (a weight dtype), as float; any alignment.
inline float element_as_float(std::span<const std::byte> bytes, DType dtype, std::size_t i) {
  auto load = [&]<class T>() {
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    return to_float(v);
  };
  switch (dtype) {
    case DType::F16: return load.template operator()<f16>();
    case DType::BF16: return load.template operator()<bf16>();
    case DType::F8E4M3: return load.template operator()<f8e4m3>();
    case DType::F8E5M2: return load.template operator()<f8e5m2>();
    default: return load.template operator()<float>();
  }
}

template <class T>
constexpr DType dtype_of() noexcept;

/// Whether a value of a float dtype is NaN or +-Inf (every exponent bit set), from its bits.
constexpr bool is_non_finite(float x) noexcept { return (std::bit_cast<std::uint32_t>(x) & 0x7f800000u) == 0x7f800000u; }
constexpr bool is_non_finite(f16 x) noexcept { return (x.bits & 0x7c00u) == 0x7c00u; }
constexpr bool is_non_finite(bf16 x) noexcept { return (x.bits & 0x7f80u) == 0x7f80u; }

/// The index of the first NaN or Inf in `values`, or values.size() when all are finite. Blocks
/// are scanned with a branch-free OR (a loop the compiler vectorises); only a block holding a bad
/// value is scanned again for its index.
template <class T>
std::size_t first_non_finite(std::span<const T> values) noexcept {
  if constexpr (std::is_same_v<T, float> || std::is_same_v<T, f16> || std::is_same_v<T, bf16>) {
    constexpr std::size_t block = 256;
    auto any_in = [&](std::size_t b, std::size_t m) {
      unsigned any = 0;
      for (std::size_t i = 0; i < m; ++i) any |= is_non_finite(values[b + i]) ? 1u : 0u;
      return any != 0;
    };
    for (std::size_t b = 0; b < values.size(); b += block) {
      const std::size_t m = std::min(block, values.size() - b);
      if (m == block ? any_in(b, block) : any_in(b, m))  // a constant trip count for full blocks
        for (std::size_t i = b; i < b + m; ++i)
          if (is_non_finite(values[i])) return i;
    }
  }
  return values.size();  // integer types hold no NaN
}

/// Elements converted per block by convert_elements: the block is checked for NaN/Inf while it is
/// still in L1, so the check adds no pass over memory.
inline constexpr std::size_t convert_block = 4096;

/// dst[i] = element i of `bytes` (values of a weight dtype, any alignment: read by memcpy, never
/// through a cast pointer) as T, for every element: a copy when the dtypes agree, else one rounding
/// from the exact float value. Returns the index of the first element of dst that is NaN or Inf
/// (stored in the file, or an F32 value beyond F16's range), or the element count when there is
/// none; the elements after a bad one are left unconverted.
template <class T>
std::size_t convert_elements(std::span<const std::byte> bytes, DType dtype, T* dst) {
  const std::size_t n = bytes.size() / dtype_size(dtype);
  for (std::size_t b = 0; b < n; b += convert_block) {
    const std::size_t m = std::min(convert_block, n - b);
    if (dtype == dtype_of<T>()) {
      std::memcpy(dst + b, bytes.data() + b * sizeof(T), m * sizeof(T));
    } else {
      for (std::size_t i = b; i < b + m; ++i) dst[i] = from_float<T>(element_as_float(bytes, dtype, i));
    }
    // A second, vectorised loop over the block just written (in L1): folding the test into the
    // conversion loop measured slower, as it stops that loop from vectorising.
    if (const std::size_t bad = first_non_finite(std::span<const T>(dst + b, m)); bad < m) return b + bad;
  }
  return n;
}

template <class T>
constexpr DType dtype_of() noexcept {
  if constexpr (std::is_same_v<T, float>) return DType::F32;
  else if constexpr (std::is_same_v<T, f16>) return DType::F16;
  else if constexpr (std::is_same_v<T, bf16>) return DType::BF16;
  else if constexpr (std::is_same_v<T, double>) return DType::F64;
  else if constexpr (std::is_same_v<T, std::int64_t>) return DType::I64;
  else if constexpr (std::is_same_v<T, std::int32_t>) return DType::I32;
  else static_assert(sizeof(T) == 0, "no safetensors dtype for this type");
}

}  // namespace t5
