// ggml's tensor types as GGUF files store them: each type's block (elements and bytes, ggml-common.h's
// block_q* structs) and, for the types t5cc reads, the dequantisation of one block to float32, value
// for value as ggml's dequantize_row_* and gguf-py's quants.py compute it.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

#include "t5/core/dtype.hpp"

// Each value is a product rounded to float32, then a sum rounded again, as ggml's reference C and
// numpy compute it: a fused multiply-add would round once and differ in the last bit. GCC contracts
// across statements even with -std=c++20, clang within an expression: both are switched off here.
#if defined(__clang__)
#define T5_NO_FP_CONTRACT _Pragma("clang fp contract(off)")
#else
#define T5_NO_FP_CONTRACT
#endif

namespace t5::io::ggml {

/// ggml_type, the numbers GGUF tensor infos carry.
enum class Type : std::uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23,
  I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30, TQ1_0 = 34, TQ2_0 = 35,
};

/// Dequantises one block (block_elements values) from its bytes, at any alignment.
using DequantizeBlock = void (*)(const std::byte* block, float* out);

namespace blocks {

inline float half(const std::byte* p) {
  std::uint16_t bits;
  std::memcpy(&bits, p, 2);
  return to_float(f16{bits});
}
inline std::uint8_t byte(const std::byte* p, std::size_t i) { return std::to_integer<std::uint8_t>(p[i]); }

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

// block_q8_0 {half d; int8 qs[32]}: d * q.
inline void q8_0(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const float d = half(b);
  for (int i = 0; i < 32; ++i) y[i] = static_cast<float>(static_cast<std::int8_t>(byte(b, 2 + i))) * d;
}

// block_q4_0 {half d; u8 qs[16]}: low nibbles are elements 0..15, high nibbles 16..31; d * (q - 8).
inline void q4_0(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const float d = half(b);
  for (int i = 0; i < 16; ++i) {
    y[i] = d * static_cast<float>((byte(b, 2 + i) & 0x0F) - 8);
    y[i + 16] = d * static_cast<float>((byte(b, 2 + i) >> 4) - 8);
  }
}

// block_q4_1 {half d, m; u8 qs[16]}: d * q + m.
inline void q4_1(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const float d = half(b), m = half(b + 2);
  for (int i = 0; i < 16; ++i) {
    y[i] = d * static_cast<float>(byte(b, 4 + i) & 0x0F) + m;
    y[i + 16] = d * static_cast<float>(byte(b, 4 + i) >> 4) + m;
  }
}

// The fifth bit of element j of a q5 block: bit j of the little-endian u32 qh.
inline std::uint32_t high_bits(const std::byte* p) {
  return std::uint32_t{byte(p, 0)} | std::uint32_t{byte(p, 1)} << 8 | std::uint32_t{byte(p, 2)} << 16 | std::uint32_t{byte(p, 3)} << 24;
}

// block_q5_0 {half d; u8 qh[4]; u8 qs[16]}: d * (q - 16).
inline void q5_0(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const float d = half(b);
  const std::uint32_t qh = high_bits(b + 2);
  for (int i = 0; i < 16; ++i) {
    const int lo = (byte(b, 6 + i) & 0x0F) | static_cast<int>((qh >> i) & 1u) << 4;
    const int hi = (byte(b, 6 + i) >> 4) | static_cast<int>((qh >> (i + 16)) & 1u) << 4;
    y[i] = d * static_cast<float>(lo - 16);
    y[i + 16] = d * static_cast<float>(hi - 16);
  }
}

// block_q5_1 {half d, m; u8 qh[4]; u8 qs[16]}: d * q + m.
inline void q5_1(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const float d = half(b), m = half(b + 2);
  const std::uint32_t qh = high_bits(b + 4);
  for (int i = 0; i < 16; ++i) {
    const int lo = (byte(b, 8 + i) & 0x0F) | static_cast<int>((qh >> i) & 1u) << 4;
    const int hi = (byte(b, 8 + i) >> 4) | static_cast<int>((qh >> (i + 16)) & 1u) << 4;
    y[i] = d * static_cast<float>(lo) + m;
    y[i + 16] = d * static_cast<float>(hi) + m;
  }
}

// The 6-bit scale and min of sub-block j (0..7) of a Q4_K / Q5_K block, packed in 12 bytes
// (ggml's get_scale_min_k4).
inline std::array<std::uint8_t, 2> scale_min_k4(int j, const std::byte* s) {
  if (j < 4) return {static_cast<std::uint8_t>(byte(s, j) & 63), static_cast<std::uint8_t>(byte(s, j + 4) & 63)};
  return {static_cast<std::uint8_t>((byte(s, j + 4) & 0x0F) | ((byte(s, j - 4) >> 6) << 4)),
          static_cast<std::uint8_t>((byte(s, j + 4) >> 4) | ((byte(s, j) >> 6) << 4))};
}

// block_q4_K {half d, dmin; u8 scales[12]; u8 qs[128]} and block_q5_K {half d, dmin; u8 scales[12];
// u8 qh[32]; u8 qs[128]}: 256 values in 8 sub-blocks of 32, sub-block j is (d * scale_j) * q -
// (dmin * min_j). qs byte l of sub-block pair p holds sub-block 2p in its low nibble and 2p + 1 in
// its high one; Q5_K's fifth bit of value l of sub-block j is bit j of qh[l].
template <bool FifthBit>
void k_quant(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const float d = half(b), dmin = half(b + 2);
  const std::byte* scales = b + 4;
  const std::byte* qh = b + 16;
  const std::byte* qs = FifthBit ? b + 48 : b + 16;
  for (int j = 0; j < 8; ++j) {
    const auto [sc, mn] = scale_min_k4(j, scales);
    const float dj = d * static_cast<float>(sc), mj = dmin * static_cast<float>(mn);
    const int shift = (j % 2) * 4;
    for (int l = 0; l < 32; ++l) {
      int q = (byte(qs, 32 * (j / 2) + l) >> shift) & 0x0F;
      if constexpr (FifthBit) q |= ((byte(qh, l) >> j) & 1) << 4;
      y[32 * j + l] = dj * static_cast<float>(q) - mj;
    }
  }
}

// The 2 low bits of value p (0..255) of a Q2_K / Q3_K block's qs[64]: per 128-value half, byte l
// of its 32 holds values l, l + 32, l + 64, l + 96 at shifts 0, 2, 4, 6.
inline int two_bits(const std::byte* qs, int p) { return (byte(qs, 32 * (p / 128) + p % 32) >> (2 * ((p % 128) / 32))) & 3; }

// block_q2_K {u8 scales[16]; u8 qs[64]; half d, dmin}: 16 sub-blocks of 16, sub-block i is
// (d * (scales[i] & 15)) * q - (dmin * (scales[i] >> 4)).
inline void q2_k(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const float d = half(b + 80), dmin = half(b + 82);
  for (int p = 0; p < 256; ++p) {
    const int sc = byte(b, p / 16);
    const float dl = d * static_cast<float>(sc & 0x0F), ml = dmin * static_cast<float>(sc >> 4);
    y[p] = dl * static_cast<float>(two_bits(b + 16, p)) - ml;
  }
}

// block_q3_K {u8 hmask[32]; u8 qs[64]; u8 scales[12]; half d}: 16 sub-blocks of 16, sub-block i is
// (d * (scale_i - 32)) * q, scale_i 6 bits (low 4 from byte i % 8, nibble i / 8; high 2 from byte
// 8 + i % 4 at shift 2 * (i / 4)), q = two_bits minus 4 where bit p / 32 of hmask[p % 32] is clear.
inline void q3_k(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const std::byte* hmask = b;
  const std::byte* scales = b + 96;
  const float d = half(b + 108);
  for (int p = 0; p < 256; ++p) {
    const int i = p / 16;
    const int scale = (((byte(scales, i % 8) >> (4 * (i / 8))) & 0x0F) | ((byte(scales, 8 + i % 4) >> (2 * (i / 4))) & 3) << 4) - 32;
    const int q = two_bits(b + 32, p) - ((byte(hmask, p % 32) >> (p / 32)) & 1 ? 0 : 4);
    y[p] = (d * static_cast<float>(scale)) * static_cast<float>(q);
  }
}

// block_q6_K {u8 ql[128]; u8 qh[64]; int8 scales[16]; half d}: value p is (d * scales[p / 16]) *
// (q - 32), q's low 4 bits from ql and high 2 from qh, interleaved per 128-value half as ggml does.
inline void q6_k(const std::byte* b, float* y) {
  T5_NO_FP_CONTRACT
  const std::byte* ql = b;
  const std::byte* qh = b + 128;
  const std::byte* scales = b + 192;
  const float d = half(b + 208);
  for (int n = 0; n < 2; ++n) {
    for (int l = 0; l < 32; ++l) {
      const int h = byte(qh, 32 * n + l);
      const int q[4] = {(byte(ql, 64 * n + l) & 0x0F) | ((h >> 0) & 3) << 4, (byte(ql, 64 * n + l + 32) & 0x0F) | ((h >> 2) & 3) << 4,
                        (byte(ql, 64 * n + l) >> 4) | ((h >> 4) & 3) << 4, (byte(ql, 64 * n + l + 32) >> 4) | ((h >> 6) & 3) << 4};
      for (int k = 0; k < 4; ++k) {
        const int p = 128 * n + 32 * k + l;
        const float scale = d * static_cast<float>(static_cast<std::int8_t>(byte(scales, p / 16)));
        y[p] = scale * static_cast<float>(q[k] - 32);
      }
    }
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif

}  // namespace blocks

/// What t5cc knows of a ggml type: its name, and for the types it reads the block (elements, bytes)
/// and either the dtype it is used in place as (F32, F16, BF16) or its block decoder.
struct TypeInfo {
  std::string_view name;
  std::uint32_t block_elements = 0;  ///< 0: a type t5cc does not read
  std::uint32_t block_bytes = 0;
  std::optional<DType> in_place = std::nullopt;
  DequantizeBlock dequantize = nullptr;

  bool readable() const noexcept { return block_elements != 0; }
};

inline constexpr std::string_view readable_types = "F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q2_K, Q3_K, Q4_K, Q5_K, Q6_K";

/// The type numbered `code`, or nullopt for a number ggml does not define.
inline std::optional<TypeInfo> type_info(std::uint32_t code) {
  switch (static_cast<Type>(code)) {
    case Type::F32: return TypeInfo{"F32", 1, 4, DType::F32};
    case Type::F16: return TypeInfo{"F16", 1, 2, DType::F16};
    case Type::BF16: return TypeInfo{"BF16", 1, 2, DType::BF16};
    case Type::Q8_0: return TypeInfo{"Q8_0", 32, 34, std::nullopt, blocks::q8_0};
    case Type::Q4_0: return TypeInfo{"Q4_0", 32, 18, std::nullopt, blocks::q4_0};
    case Type::Q4_1: return TypeInfo{"Q4_1", 32, 20, std::nullopt, blocks::q4_1};
    case Type::Q5_0: return TypeInfo{"Q5_0", 32, 22, std::nullopt, blocks::q5_0};
    case Type::Q5_1: return TypeInfo{"Q5_1", 32, 24, std::nullopt, blocks::q5_1};
    case Type::Q4_K: return TypeInfo{"Q4_K", 256, 144, std::nullopt, blocks::k_quant<false>};
    case Type::Q5_K: return TypeInfo{"Q5_K", 256, 176, std::nullopt, blocks::k_quant<true>};
    case Type::Q6_K: return TypeInfo{"Q6_K", 256, 210, std::nullopt, blocks::q6_k};
    case Type::Q8_1: return TypeInfo{"Q8_1"};
    case Type::Q2_K: return TypeInfo{"Q2_K", 256, 84, std::nullopt, blocks::q2_k};
    case Type::Q3_K: return TypeInfo{"Q3_K", 256, 110, std::nullopt, blocks::q3_k};
    case Type::Q8_K: return TypeInfo{"Q8_K"};
    case Type::IQ2_XXS: return TypeInfo{"IQ2_XXS"};
    case Type::IQ2_XS: return TypeInfo{"IQ2_XS"};
    case Type::IQ3_XXS: return TypeInfo{"IQ3_XXS"};
    case Type::IQ1_S: return TypeInfo{"IQ1_S"};
    case Type::IQ4_NL: return TypeInfo{"IQ4_NL"};
    case Type::IQ3_S: return TypeInfo{"IQ3_S"};
    case Type::IQ2_S: return TypeInfo{"IQ2_S"};
    case Type::IQ4_XS: return TypeInfo{"IQ4_XS"};
    case Type::I8: return TypeInfo{"I8"};
    case Type::I16: return TypeInfo{"I16"};
    case Type::I32: return TypeInfo{"I32"};
    case Type::I64: return TypeInfo{"I64"};
    case Type::F64: return TypeInfo{"F64"};
    case Type::IQ1_M: return TypeInfo{"IQ1_M"};
    case Type::TQ1_0: return TypeInfo{"TQ1_0"};
    case Type::TQ2_0: return TypeInfo{"TQ2_0"};
  }
  return std::nullopt;
}

}  // namespace t5::io::ggml

#undef T5_NO_FP_CONTRACT
