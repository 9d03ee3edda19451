// cpu/kernels.hpp: every ISA version the machine runs agrees with the portable (SSE2) version on odd
// sizes, and the portable version is accurate against the standard library. The versions are one
// loop body compiled per target with reductions in fixed-order partial sums, so integer results
// (int8, bf16 bits) and comparisons are bit-equal; g++ contracts a * b + c into one FMA where the
// target has it (C++'s default -ffp-contract=fast), so float results may differ by the rounding
// of the product: bounded here by 1e-6 of the row's largest value (8 ulps).
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "t5/cpu/kernels.hpp"

namespace {

using t5::cpu::Isa;
using t5::cpu::Kernels;

std::vector<Isa> supported() {
  std::vector<Isa> isas;
  for (Isa isa : {Isa::Avx2, Isa::Avx512})
    if (isa <= t5::cpu::detect_isa()) isas.push_back(isa);
  return isas;
}

std::vector<float> normal(std::size_t n, float sigma, std::uint32_t seed) {
  std::mt19937 rng(seed);
  std::normal_distribution<float> d(0.0f, sigma);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Equal up to FMA contraction: |a - b| <= 1e-6 max |a|, infinities and zeros in the same places.
bool close(const std::vector<float>& a, const std::vector<float>& b) {
  if (a.size() != b.size()) return false;
  float scale = 0.0f;
  for (float v : a)
    if (std::isfinite(v)) scale = std::max(scale, std::abs(v));
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (std::isinf(a[i]) || std::isinf(b[i]) || a[i] == 0.0f || b[i] == 0.0f) {
      if (a[i] != b[i]) return false;
    } else if (!(std::abs(a[i] - b[i]) <= 1e-6f * scale)) {
      return false;
    }
  }
  return true;
}

constexpr std::int64_t odd_sizes[] = {1, 7, 15, 16, 17, 63, 100, 1023};

}  // namespace

BOOST_AUTO_TEST_SUITE(kernels)

BOOST_AUTO_TEST_CASE(every_isa_equals_the_portable_kernels) {
  const Kernels& base = t5::cpu::kernels_for(Isa::Sse);
  BOOST_TEST_MESSAGE("this machine runs up to " << t5::cpu::isa_name(t5::cpu::detect_isa()));
  for (Isa isa : supported()) {
    const Kernels& k = t5::cpu::kernels_for(isa);
    BOOST_TEST((k.isa == isa));
    for (std::int64_t n : odd_sizes) {
      BOOST_TEST_CONTEXT(t5::cpu::isa_name(isa) << ", n = " << n) {
        const auto n_ = static_cast<std::size_t>(n);
        const auto gate = normal(n_, 4.0f, 1), up = normal(n_, 1.0f, 2);
        std::vector<float> a(n_), b(n_);
        base.gelu_tanh_mul(gate.data(), up.data(), a.data(), n);
        k.gelu_tanh_mul(gate.data(), up.data(), b.data(), n);
        BOOST_TEST(close(a, b), "gelu_tanh_mul");

        auto s1 = normal(n_, 6.0f, 3);
        s1[n_ / 2] = -std::numeric_limits<float>::infinity();
        auto s2 = s1;
        BOOST_TEST(base.softmax(s1.data(), n) == k.softmax(s2.data(), n));
        BOOST_TEST(close(s1, s2), "softmax");

        const auto x = normal(n_, 2.0f, 4);
        const double ss1 = base.sum_squares(x.data(), n), ss2 = k.sum_squares(x.data(), n);
        BOOST_TEST(std::abs(ss1 - ss2) <= 1e-14 * ss1, "sum_squares");

        std::vector<std::int8_t> q1(n_), q2(n_);
        for (const float levels : {127.0f, 63.0f}) {
          BOOST_TEST(base.quantize_row(x.data(), q1.data(), n, levels) == k.quantize_row(x.data(), q2.data(), n, levels));
          BOOST_TEST((q1 == q2), "quantize_row");
        }

        std::vector<std::uint16_t> h1(n_), h2(n_);
        base.to_bf16(x.data(), h1.data(), n);
        k.to_bf16(x.data(), h2.data(), n);
        BOOST_TEST((h1 == h2), "to_bf16");

        // Attention rows: scores of 5 keys with a row stride of n + 3, then the weighted sum.
        const std::int64_t keys = 5, ld = n + 3;
        const auto kv = normal(static_cast<std::size_t>(keys * ld), 1.0f, 5);
        std::vector<float> d1(keys), d2(keys), o1(n_), o2(n_);
        base.dot_rows(x.data(), kv.data(), ld, keys, n, d1.data());
        k.dot_rows(x.data(), kv.data(), ld, keys, n, d2.data());
        BOOST_TEST(close(d1, d2), "dot_rows");
        base.weighted_rows(d1.data(), kv.data(), ld, keys, n, o1.data());
        k.weighted_rows(d1.data(), kv.data(), ld, keys, n, o2.data());
        BOOST_TEST(close(o1, o2), "weighted_rows");

        std::vector<std::uint8_t> mask(n_);
        for (std::size_t j = 0; j < n_; ++j) mask[j] = j % 3 != 1;
        auto r1 = normal(n_, 3.0f, 6), r2 = r1;
        const auto bias = normal(n_, 1.0f, 7);
        base.score_row(r1.data(), bias.data(), mask.data(), n, n - n / 4, 0.125f);
        k.score_row(r2.data(), bias.data(), mask.data(), n, n - n / 4, 0.125f);
        BOOST_TEST(close(r1, r2), "score_row");

        std::vector<std::int32_t> acc(n_);
        for (std::size_t j = 0; j < n_; ++j) acc[j] = static_cast<std::int32_t>(j * 7919 % 20011) - 10000;
        std::vector<float> e1(n_, 1.0f), e2(n_, 1.0f);
        base.dequantize_row(acc.data(), 0.01f, up.data(), e1.data(), n, true);
        k.dequantize_row(acc.data(), 0.01f, up.data(), e2.data(), n, true);
        BOOST_TEST(close(e1, e2), "dequantize_row");
      }
    }
  }
}

// The portable kernels against the formulas they replace (HF's gelu_new with std::tanh, std::exp).
BOOST_AUTO_TEST_CASE(portable_kernels_are_accurate) {
  const Kernels& k = t5::cpu::kernels_for(Isa::Sse);
  const std::size_t n = 20000;
  const auto gate = normal(n, 4.0f, 11), up = normal(n, 1.0f, 12);
  std::vector<float> out(n);
  k.gelu_tanh_mul(gate.data(), up.data(), out.data(), static_cast<std::int64_t>(n));
  double worst = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const double x = gate[i];
    const double want = 0.5 * x * (1.0 + std::tanh(0.7978845608028654 * (x + 0.044715 * x * x * x))) * up[i];
    // Relative to the size of the operands: the float32 reference formula itself loses bits to
    // cancellation in 1 + tanh for large negative x, where the sigmoid form does not.
    worst = std::max(worst, std::abs(out[i] - want) / (std::abs(x * up[i]) + 1e-30));
  }
  BOOST_TEST(worst < 1e-6, "gelu_tanh_mul: worst error relative to |gate * up| " << worst);

  // Softmax: sums to 1, a masked key gets exactly 0, the order of values is kept.
  std::vector<float> s = {1.0f, -std::numeric_limits<float>::infinity(), 3.0f, -90.0f, 2.5f};
  BOOST_TEST(k.softmax(s.data(), 5));
  double sum = 0;
  for (float v : s) sum += v;
  BOOST_TEST(std::abs(sum - 1.0) < 1e-6);
  BOOST_TEST(s[1] == 0.0f);
  const double e = std::exp(1.0 - 3.0) + 1 + std::exp(2.5 - 3.0) + std::exp(-93.0);
  BOOST_TEST(std::abs(s[2] - 1.0 / e) < 1e-7);
  std::vector<float> none = {-std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()};
  BOOST_TEST(!k.softmax(none.data(), 2));

  // bf16 rounding: to nearest even, NaN kept a NaN.
  const std::vector<float> x = {1.0f, 1.00390625f, 1.01171875f, std::numeric_limits<float>::quiet_NaN(), -3.0e38f};
  std::vector<std::uint16_t> h(x.size());
  k.to_bf16(x.data(), h.data(), static_cast<std::int64_t>(x.size()));
  BOOST_TEST(h[0] == 0x3f80);
  BOOST_TEST(h[1] == 0x3f80);  // halfway, the even neighbour
  BOOST_TEST(h[2] == 0x3f82);  // halfway, rounds up to the even one
  BOOST_TEST((h[3] & 0x7f80) == 0x7f80);
  BOOST_TEST((h[3] & 0x007f) != 0);

  // int8: max |x| maps to 127, halves round to even, a zero row has scale 0.
  const std::vector<float> row = {0.5f, -1.0f, 0.25f, 1.0f / 254.0f * 3.0f};
  std::vector<std::int8_t> q(row.size());
  const float scale = k.quantize_row(row.data(), q.data(), 4, 127.0f);
  BOOST_TEST(scale == 1.0f / 127.0f);
  BOOST_TEST(q[1] == -127);
  BOOST_TEST(q[0] == 64);  // 63.5 to even
  BOOST_TEST(k.quantize_row(row.data(), q.data(), 4, 63.0f) == 1.0f / 63.0f);  // 7-bit weights
  BOOST_TEST(q[1] == -63);
  BOOST_TEST(q[0] == 32);  // 31.5 to even
  const std::vector<float> zeros(3, 0.0f);
  std::vector<std::int8_t> qz(3, 5);
  BOOST_TEST(k.quantize_row(zeros.data(), qz.data(), 3, 127.0f) == 0.0f);
  BOOST_TEST((qz == std::vector<std::int8_t>(3, 0)));
}

BOOST_AUTO_TEST_SUITE_END()
