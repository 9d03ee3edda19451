// The CUDA residual RMSNorm against the CPU reference (cpu/rms_norm.hpp), for float, f16 and bf16,
// on odd sizes (not multiples of the block or warp size), the three residual modes, with and without a
// residual scale. Outputs are poisoned with NaN before the launch so an unwritten element fails.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#if T5CC_HAVE_CUDA
#include "t5/core/error.hpp"
#include "t5/cpu/rms_norm.hpp"
#include "t5/cuda.hpp"

namespace {

struct Shape {
  std::int64_t rows;
  std::int64_t dim;
};
// Odd sizes: one element, less than a warp, more than a block, not multiples of 32 or 256.
const Shape shapes[] = {{1, 1}, {3, 7}, {37, 200}, {5, 513}, {17, 1000}, {2, 4099}};

template <class T>
std::vector<T> random_activations(std::size_t n, float scale, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-scale, scale);
  std::vector<T> v(n);
  for (auto& x : v) x = t5::from_float<T>(u(rng));
  return v;
}

/// Largest element-wise difference allowed, in units in the last place of the reference value:
///   float: 64 ulps (~8e-6 relative), room for the GPU's fp32 tree sum and rsqrtf (2 ulp) against
///          the CPU's double sum;
///   f16 / bf16: 1 ulp: both sides round a nearly equal fp32 value once, so at worst they land on
///          neighbouring values (f16 subnormals have a fixed spacing of 2^-24).
template <class T>
float allowed_difference(float reference) {
  const int bits = std::is_same_v<T, float> ? 24 : std::is_same_v<T, t5::f16> ? 11 : 8;
  int exponent = 0;
  std::frexp(reference, &exponent);
  const float ulp = std::ldexp(1.0f, exponent - bits);
  if constexpr (std::is_same_v<T, float>) return 64.0f * ulp;
  else if constexpr (std::is_same_v<T, t5::f16>) return std::max(ulp, 0x1p-24f);
  else return ulp;
}

/// Normwise relative error bound on `out`, with the reason:
///   float: the GPU sums squares in fp32 in tree order and uses rsqrtf (2 ulp); the CPU sums in
///          double. Both are ~1e-6 relative; 4e-6 leaves room and still catches any real bug.
///   f16 / bf16: elements differ by at most one unit of the dtype (2^-10 / 2^-7 relative at
///          worst) and only where the rounding flips, which is rare; normwise, half the worst case.
template <class T>
double normwise_bound() {
  if constexpr (std::is_same_v<T, float>) return 4e-6;
  else if constexpr (std::is_same_v<T, t5::f16>) return 0x1p-11;
  else return 0x1p-8;
}

template <class T>
void check_against_cpu(const Shape& s, t5::ResidualMode mode, float residual_scale, std::mt19937& rng) {
  const auto n = static_cast<std::size_t>(s.rows * s.dim);
  const auto x = random_activations<T>(n, 3.0f, rng);
  const auto residual_in = random_activations<float>(n, 5.0f, rng);
  std::vector<float> gain = random_activations<float>(static_cast<std::size_t>(s.dim), 1.0f, rng);
  for (auto& g : gain) g += 1.0f;

  // CPU reference.
  std::vector<float> cpu_residual = residual_in;
  std::vector<T> cpu_out(n);
  t5::cpu::rms_norm(t5::RmsNormParams<T>{x.data(), cpu_residual.data(), gain.data(), cpu_out.data(), s.rows, s.dim, 1e-6f,
                                         residual_scale, mode});

  // GPU, outputs poisoned (all bits set is NaN in float, f16 and bf16).
  t5::cuda::DeviceBuffer dx(n * sizeof(T)), dres(n * sizeof(float)), dgain(gain.size() * sizeof(float)), dout(n * sizeof(T));
  dx.upload(std::as_bytes(std::span(x)));
  dres.upload(std::as_bytes(std::span(residual_in)));
  dgain.upload(std::as_bytes(std::span(gain)));
  dout.fill_bytes(0xff);
  t5::cuda::launch_rms_norm(t5::RmsNormParams<T>{dx.as<T>(), dres.as<float>(), dgain.as<float>(), dout.as<T>(), s.rows, s.dim,
                                                 1e-6f, residual_scale, mode});
  t5::cuda::synchronize();
  std::vector<T> gpu_out(n);
  std::vector<float> gpu_residual(n);
  dout.download(std::as_writable_bytes(std::span(gpu_out)));
  dres.download(std::as_writable_bytes(std::span(gpu_residual)));

  // The residual is one fp32 add and a power-of-two multiply on both sides: bit-identical.
  BOOST_TEST(std::memcmp(gpu_residual.data(), cpu_residual.data(), n * sizeof(float)) == 0);

  double diff2 = 0.0, ref2 = 0.0;
  std::size_t non_finite = 0, beyond_allowed = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float g = t5::to_float(gpu_out[i]);
    const float c = t5::to_float(cpu_out[i]);
    if (!std::isfinite(g)) ++non_finite;
    if (std::fabs(g - c) > allowed_difference<T>(c)) ++beyond_allowed;
    diff2 += static_cast<double>(g - c) * (g - c);
    ref2 += static_cast<double>(c) * c;
  }
  BOOST_TEST(non_finite == 0u);
  BOOST_TEST(beyond_allowed == 0u);
  BOOST_TEST(std::sqrt(diff2 / ref2) <= normwise_bound<T>());
}

template <class T>
void run_all(std::uint32_t seed) {
  std::mt19937 rng(seed);
  for (const auto& s : shapes)
    for (auto mode : {t5::ResidualMode::Start, t5::ResidualMode::Update, t5::ResidualMode::InPlace})
      for (float scale : {1.0f, 0.25f}) {
        BOOST_TEST_CONTEXT("rows " << s.rows << " dim " << s.dim << " mode " << static_cast<int>(mode) << " scale " << scale) {
          check_against_cpu<T>(s, mode, scale, rng);
        }
      }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(rms_norm)
BOOST_AUTO_TEST_CASE(float32) { run_all<float>(1); }
BOOST_AUTO_TEST_CASE(float16) { run_all<t5::f16>(2); }
BOOST_AUTO_TEST_CASE(bfloat16) { run_all<t5::bf16>(3); }
BOOST_AUTO_TEST_CASE(rejects_bad_sizes) {
  t5::RmsNormParams<float> p;
  p.rows = 1;
  p.dim = 0;
  BOOST_CHECK_THROW(t5::cuda::launch_rms_norm(p), t5::Error);
}
BOOST_AUTO_TEST_SUITE_END()

#endif
