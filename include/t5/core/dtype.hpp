// Element types: the safetensors dtype tags, and the 16-bit float storage types bf16 and f16.
// The storage types carry bits only; arithmetic happens in float after an explicit conversion,
// which rounds to nearest even (the rounding torch and the CUDA intrinsics use).
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string_view>
#include <type_traits>

namespace t5 {

/// The dtype tags of the safetensors format. Weights must be F32, F16 or BF16; the other tags are
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

/// Dtypes a weight may be stored in.
constexpr bool is_weight_dtype(DType t) noexcept {
  return t == DType::F32 || t == DType::F16 || t == DType::BF16;
}

/// bfloat16 storage: the upper 16 bits of an IEEE float32.
struct bf16 {
  std::uint16_t bits;
};

/// IEEE 754 binary16 storage.
struct f16 {
  std::uint16_t bits;
};

static_assert(sizeof(bf16) == 2 && sizeof(f16) == 2);

constexpr float to_float(float x) noexcept { return x; }

constexpr float to_float(bf16 x) noexcept {
  return std::bit_cast<float>(static_cast<std::uint32_t>(x.bits) << 16);
}

constexpr float to_float(f16 x) noexcept {
  const std::uint32_t sign = static_cast<std::uint32_t>(x.bits & 0x8000u) << 16;
  const std::uint32_t exponent = (x.bits >> 10) & 0x1fu;
  const std::uint32_t mantissa = x.bits & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa * 2^-24, exact in float
    const float magnitude = static_cast<float>(mantissa) * 0x1p-24f;
    return std::bit_cast<float>(std::bit_cast<std::uint32_t>(magnitude) | sign);
  }
  if (exponent == 31) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));  // inf, NaN
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (mantissa << 13));
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

/// Element i of `bytes`, which hold `dtype` values (F32, F16 or BF16), as float; any alignment.
inline float element_as_float(std::span<const std::byte> bytes, DType dtype, std::size_t i) {
  auto load = [&]<class T>() {
    T v;
    std::memcpy(&v, bytes.data() + i * sizeof(T), sizeof(T));
    return to_float(v);
  };
  switch (dtype) {
    case DType::F16: return load.template operator()<f16>();
    case DType::BF16: return load.template operator()<bf16>();
    default: return load.template operator()<float>();
  }
}

template <class T>
constexpr DType dtype_of() noexcept;

/// dst[i] = element i of `bytes` (F32, F16 or BF16 values, any alignment) as T, for every element:
/// a copy when the dtypes agree, else one rounding from the exact float value.
template <class T>
void convert_elements(std::span<const std::byte> bytes, DType dtype, T* dst) {
  if (dtype == dtype_of<T>()) {
    std::memcpy(dst, bytes.data(), bytes.size());
    return;
  }
  const std::size_t n = bytes.size() / dtype_size(dtype);
  for (std::size_t i = 0; i < n; ++i) dst[i] = from_float<T>(element_as_float(bytes, dtype, i));
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
