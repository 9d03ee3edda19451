// The 16-bit storage conversions against independent references: the compiler's _Float16
// (IEEE binary16 with round-to-nearest-even) and a bf16 rounding written with nextafter.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include "t5/core/dtype.hpp"

namespace {

std::uint16_t reference_f16_bits(float f) { return std::bit_cast<std::uint16_t>(static_cast<_Float16>(f)); }

/// Nearest bf16 by comparing the two bf16 neighbours of f in double; ties to the even mantissa.
/// The neighbour past the largest finite bf16 stands for 2^128, the value IEEE rounding treats as
/// the overflow threshold's far end.
std::uint16_t reference_bf16_bits(float f) {
  const std::uint32_t down = std::bit_cast<std::uint32_t>(f) & 0xffff0000u;
  auto value = [](std::uint32_t bits) {
    if ((bits & 0x7f800000u) == 0x7f800000u) return std::copysign(std::ldexp(1.0, 128), std::bit_cast<float>(bits));
    return static_cast<double>(std::bit_cast<float>(bits));
  };
  const double dlo = std::fabs(static_cast<double>(f) - value(down));
  const double dhi = std::fabs(static_cast<double>(f) - value(down + 0x10000u));
  const auto lo_bits = static_cast<std::uint16_t>(down >> 16);
  if (dlo < dhi) return lo_bits;
  if (dhi < dlo) return static_cast<std::uint16_t>(lo_bits + 1);
  return (lo_bits & 1u) ? static_cast<std::uint16_t>(lo_bits + 1) : lo_bits;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(dtype)

BOOST_AUTO_TEST_CASE(every_f16_widens_and_narrows_back_exactly) {
  for (std::uint32_t bits = 0; bits < 0x10000u; ++bits) {
    const t5::f16 h{static_cast<std::uint16_t>(bits)};
    const float wide = t5::to_float(h);
    const float reference = static_cast<float>(std::bit_cast<_Float16>(static_cast<std::uint16_t>(bits)));
    if (std::isnan(reference)) {
      BOOST_TEST(std::isnan(wide));
      BOOST_TEST(std::isnan(t5::to_float(t5::to_f16(wide))));
      continue;
    }
    BOOST_TEST(std::bit_cast<std::uint32_t>(wide) == std::bit_cast<std::uint32_t>(reference));
    BOOST_TEST(t5::to_f16(wide).bits == bits);
  }
}

BOOST_AUTO_TEST_CASE(float_to_f16_rounds_like_the_compiler) {
  std::mt19937 rng(7);
  std::uniform_int_distribution<std::uint32_t> any_bits;
  int mismatches = 0;
  for (int i = 0; i < 2'000'000; ++i) {
    // Random bit patterns cover every exponent; half of them are narrowed to the f16 range.
    std::uint32_t x = any_bits(rng);
    if (i % 2) x = (x & 0x807fffffu) | ((100u + (x >> 23) % 60u) << 23);
    const float f = std::bit_cast<float>(x);
    if (std::isnan(f)) continue;
    if (t5::to_f16(f).bits != reference_f16_bits(f)) ++mismatches;
  }
  // Exact ties and the overflow/subnormal borders.
  for (float f : {65504.0f, 65519.99f, 65520.0f, 1e-8f, 2.9802322e-8f, 5.9604645e-8f, 6.1035156e-5f, 6.1e-5f, 1.00048828125f,
                  1.00146484375f, -0.0f, INFINITY, -INFINITY})
    if (t5::to_f16(f).bits != reference_f16_bits(f)) ++mismatches;
  BOOST_TEST(mismatches == 0);
}

BOOST_AUTO_TEST_CASE(float_to_bf16_rounds_to_nearest_even) {
  std::mt19937 rng(11);
  std::uniform_int_distribution<std::uint32_t> any_bits;
  int mismatches = 0;
  for (int i = 0; i < 2'000'000; ++i) {
    const std::uint32_t x = any_bits(rng);
    const float f = std::bit_cast<float>(x);
    if (std::isnan(f) || std::isinf(f)) continue;
    if (t5::to_bf16(f).bits != reference_bf16_bits(f)) ++mismatches;
  }
  BOOST_TEST(mismatches == 0);
  BOOST_TEST(std::isnan(t5::to_float(t5::to_bf16(NAN))));
  BOOST_TEST(t5::to_float(t5::to_bf16(1.0f + 0x1p-8f)) == 1.0f);          // tie, even mantissa stays
  BOOST_TEST(t5::to_float(t5::to_bf16(1.0f + 3 * 0x1p-8f)) == 1.0f + 0x1p-6f);  // tie, odd mantissa rounds up
}

// convert_elements checks each converted block for NaN/Inf (the loader's one pass over a weight)
// and returns the first bad index; it reads the bytes at any alignment.
BOOST_AUTO_TEST_CASE(conversion_finds_the_first_non_finite_element) {
  const std::size_t n = 3 * t5::convert_block + 17;  // several blocks and a partial one
  std::vector<float> values(n);
  for (std::size_t i = 0; i < n; ++i) values[i] = static_cast<float>(i % 101) - 50.0f;
  for (const std::size_t bad : {std::size_t{0}, std::size_t{255}, std::size_t{256}, t5::convert_block + 3, n - 1}) {
    for (const float x : {NAN, INFINITY, -INFINITY}) {
      BOOST_TEST_CONTEXT("index " << bad << ", value " << x) {
        auto v = values;
        if (bad + 1 < n) v[n - 1] = NAN;  // a later bad value must not be the one reported
        v[bad] = x;
        std::vector<std::byte> f32(n * 4 + 1);  // +1: read the values at an odd address
        std::memcpy(f32.data() + 1, v.data(), n * 4);
        const std::span<const std::byte> bytes(f32.data() + 1, n * 4);
        std::vector<float> to_f32(n);
        std::vector<t5::bf16> to_bf16(n);
        std::vector<t5::f16> to_f16(n);
        BOOST_TEST(t5::convert_elements(bytes, t5::DType::F32, to_f32.data()) == bad);
        BOOST_TEST(t5::convert_elements(bytes, t5::DType::F32, to_bf16.data()) == bad);
        BOOST_TEST(t5::convert_elements(bytes, t5::DType::F32, to_f16.data()) == bad);
        std::vector<std::byte> f16_bytes(n * 2);
        std::memcpy(f16_bytes.data(), to_f16.data(), n * 2);
        BOOST_TEST(t5::convert_elements(std::span<const std::byte>(f16_bytes), t5::DType::F16, to_f32.data()) == bad);
      }
    }
  }
  std::vector<float> out(n);
  BOOST_TEST(t5::convert_elements(std::as_bytes(std::span<const float>(values)), t5::DType::F32, out.data()) == n);
  BOOST_TEST(out == values);
  // A finite F32 beyond F16's range becomes Inf in F16: found too.
  values[42] = 70000.0f;
  std::vector<t5::f16> halves(n);
  BOOST_TEST(t5::convert_elements(std::as_bytes(std::span<const float>(values)), t5::DType::F32, halves.data()) == 42u);
  BOOST_TEST(t5::convert_elements(std::as_bytes(std::span<const float>(values)), t5::DType::F32, out.data()) == n);
  BOOST_TEST(t5::first_non_finite(std::span<const t5::bf16>()) == 0u);
}

BOOST_AUTO_TEST_CASE(dtype_names_round_trip) {
  for (int i = 0; i <= static_cast<int>(t5::DType::F64); ++i) {
    const auto t = static_cast<t5::DType>(i);
    BOOST_TEST((t5::parse_dtype(t5::dtype_name(t)) == t));
    BOOST_TEST(t5::dtype_size(t) > 0u);
  }
  BOOST_TEST(!t5::parse_dtype("F13").has_value());
  BOOST_TEST(!t5::parse_dtype("f32").has_value());  // the tags are case-sensitive
}

BOOST_AUTO_TEST_SUITE_END()
