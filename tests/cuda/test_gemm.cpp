// cuda::Gemm (cuBLASLt) against a double-precision host product of the same rounded inputs: odd
// sizes, bf16 and f16 in, out in the input dtype or fp32, alpha != 1, beta = 1 into an fp32 residual,
// column views of wider matrices as x and out; plus the plan cache and argument validation.
#include <cmath>
#include <cstring>
#include <random>
#include <span>
#include <vector>

#include <boost/test/unit_test.hpp>

#if T5CC_HAVE_CUDA
#include "cuda_testing.hpp"
#include "t5/core/error.hpp"
#include "t5/cuda.hpp"
#include "t5/cuda/gemm.hpp"

namespace {

using t5::cuda::Gemm;
using t5::cuda::GemmArgs;

/// One product. x is a column block [x_col, x_col + k) of a [m, x_cols] matrix (a q/k/v view of a fused
/// projection), w a [n, k] weight with rows w_ld apart, out a column block [out_col, out_col + n) of
/// a [m, out_cols] matrix. Offsets by odd counts leave the pointers only 2- (or 4-) byte aligned.
struct Case {
  std::int64_t m, n, k;
  std::int64_t x_cols, x_col;
  std::int64_t w_ld;
  std::int64_t out_cols, out_col;
  float alpha;
};

const float tied_scale = 1.0f / std::sqrt(512.0f);  // v1.0's d_model^-0.5 before the tied LM head

const Case cases[] = {
    {1, 1, 1, 1, 0, 1, 1, 0, 1.0f},
    {3, 65, 17, 17, 0, 17, 65, 0, 1.0f},
    {3, 65, 17, 3 * 17, 17, 17, 65 + 6, 3, tied_scale},  // the k block of a fused [rows, 3 * 17] qkv
    {33, 391, 130, 130, 0, 130, 391, 0, tied_scale},
    {33, 391, 130, 3 * 130, 2 * 130 + 0, 131, 391 + 9, 5, -0.75f},
    {257, 65, 1000, 1000, 0, 1000, 65, 0, 1.0f},
    {257, 1, 17, 2 * 17, 17, 17, 3, 1, 0.5f},
    {1, 391, 1000, 2 * 1000 + 1, 1001, 1000, 391, 0, tied_scale},
    {33, 65, 1, 3, 1, 1, 65 + 1, 1, 2.0f},
    {257, 391, 130, 130, 0, 130, 391, 0, 1.0f},
};

/// Normwise relative error bound for an out of type Out and reduction length k, with the reason:
///   f32: products of two 16-bit values are exact in fp32, so the only differences from the double
///        reference are the fp32 accumulation (order and rounding of about k additions), one rounding
///        each for alpha, the beta add and the float reference. Rounding errors of partial sums of
///        random signs random-walk: about 0.4 * u * sqrt(k) relative (u = 2^-24); doubled for the
///        tensor cores' truncating adders gives ~u sqrt(k). The bound is 8 u sqrt(k) + 16 u (1.6e-5 at
///        k = 1000): room for any summation order and split, while a value rounded through bf16
///        (~2^-9) or f16 (~2^-12) anywhere on the way fails it.
///   bf16 / f16: the fp32 result (error above) is rounded once, to nearest: at most half an ulp, which
///        is at most u = 2^-8 / 2^-11 relative per element (the unit roundoff of 8 / 11 significant
///        bits), so normwise too; typical (RMS) values are about 0.4 u (~2^-9.3 / 2^-12.3). The bound is
///        u plus the f32 bound: it cannot fail on a correct result, and a 16-bit intermediate anywhere
///        in the k sum (errors growing with k) or a wrong element (O(1)) exceeds it.
template <class Out>
double normwise_bound(std::int64_t k) {
  const double f32 = 0x1p-24 * (8.0 * std::sqrt(static_cast<double>(k)) + 16.0);
  if constexpr (std::is_same_v<Out, float>) return f32;
  else if constexpr (std::is_same_v<Out, t5::f16>) return 0x1p-11 + f32;
  else return 0x1p-8 + f32;
}

/// Runs `c` with inputs T and out Out (beta = 1 onto a random fp32 residual when `accumulate`) and
/// checks the view against the double product and every element outside the view for being untouched.
template <class T, class Out>
void check_case(Gemm& gemm, const Case& c, bool accumulate, std::mt19937& rng) {
  const auto x = t5::test::random_values<T>(static_cast<std::size_t>(c.m * c.x_cols), 1.0f, rng);
  const auto w = t5::test::random_values<T>(static_cast<std::size_t>(c.n * c.w_ld), 1.0f, rng);
  const auto out_size = static_cast<std::size_t>(c.m * c.out_cols);

  // Initial out: all bits set (NaN) everywhere; with beta = 1 the view holds the residual instead.
  std::vector<Out> out_before(out_size);
  std::memset(out_before.data(), 0xff, out_size * sizeof(Out));
  std::vector<float> want(static_cast<std::size_t>(c.m * c.n));
  std::uniform_real_distribution<float> residual(-4.0f, 4.0f);
  for (std::int64_t i = 0; i < c.m; ++i)
    for (std::int64_t j = 0; j < c.n; ++j) {
      double sum = 0.0;
      for (std::int64_t l = 0; l < c.k; ++l)
        sum += static_cast<double>(t5::to_float(x[i * c.x_cols + c.x_col + l])) * t5::to_float(w[j * c.w_ld + l]);
      double old = 0.0;
      if constexpr (std::is_same_v<Out, float>) {
        if (accumulate) {
          old = residual(rng);
          out_before[i * c.out_cols + c.out_col + j] = static_cast<float>(old);
        }
      }
      want[i * c.n + j] = static_cast<float>(c.alpha * sum + old);
    }

  const t5::cuda::DeviceBuffer dx = t5::test::to_device(x);
  const t5::cuda::DeviceBuffer dw = t5::test::to_device(w);
  const t5::cuda::DeviceBuffer dout = accumulate ? t5::test::to_device(out_before) : t5::test::poisoned<Out>(out_size);
  GemmArgs args;
  args.x = dx.as<T>() + c.x_col;
  args.x_ld = c.x_cols;
  args.w = dw.as<T>();
  args.w_ld = c.w_ld;
  args.in_type = t5::dtype_of<T>();
  args.out = dout.as<Out>() + c.out_col;
  args.out_ld = c.out_cols;
  args.out_type = t5::dtype_of<Out>();
  args.m = c.m;
  args.n = c.n;
  args.k = c.k;
  args.alpha = c.alpha;
  args.beta = accumulate ? 1.0f : 0.0f;
  gemm.run(args, nullptr);
  const auto out_after = t5::test::to_host<Out>(dout, out_size);

  std::vector<Out> got(want.size());
  std::size_t touched_outside = 0;
  for (std::int64_t i = 0; i < c.m; ++i)
    for (std::int64_t col = 0; col < c.out_cols; ++col) {
      const auto at = static_cast<std::size_t>(i * c.out_cols + col);
      if (col >= c.out_col && col < c.out_col + c.n) got[i * c.n + (col - c.out_col)] = out_after[at];
      else if (std::memcmp(&out_after[at], &out_before[at], sizeof(Out)) != 0) ++touched_outside;
    }
  BOOST_TEST(touched_outside == 0u);
  BOOST_TEST(t5::test::normwise_error(std::span<const Out>(got), std::span<const float>(want)) <= normwise_bound<Out>(c.k));
}

template <class T>
void run_all(std::uint32_t seed) {
  std::mt19937 rng(seed);
  Gemm gemm;
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT("m " << c.m << " n " << c.n << " k " << c.k << " x_ld " << c.x_cols << "+" << c.x_col << " w_ld "
                            << c.w_ld << " out_ld " << c.out_cols << "+" << c.out_col << " alpha " << c.alpha) {
      BOOST_TEST_CONTEXT("out in the input dtype") { check_case<T, T>(gemm, c, false, rng); }
      BOOST_TEST_CONTEXT("out f32") { check_case<T, float>(gemm, c, false, rng); }
      BOOST_TEST_CONTEXT("out f32, beta = 1 onto a residual") { check_case<T, float>(gemm, c, true, rng); }
    }
  }
}

/// Small valid arguments on the given buffers: x [4, 8], w [6, 8], out [4, 6] f32.
GemmArgs small_args(const t5::cuda::DeviceBuffer& x, const t5::cuda::DeviceBuffer& w, const t5::cuda::DeviceBuffer& out) {
  GemmArgs a;
  a.x = x.as<t5::bf16>();
  a.x_ld = 8;
  a.w = w.as<t5::bf16>();
  a.w_ld = 8;
  a.in_type = t5::DType::BF16;
  a.out = out.as<float>();
  a.out_ld = 6;
  a.out_type = t5::DType::F32;
  a.m = 4;
  a.n = 6;
  a.k = 8;
  return a;
}

bool invalid_argument(const t5::Error& e) { return e.code() == t5::ErrorCode::InvalidArgument; }

}  // namespace

BOOST_AUTO_TEST_SUITE(gemm)
BOOST_AUTO_TEST_CASE(bfloat16) { run_all<t5::bf16>(11); }
BOOST_AUTO_TEST_CASE(float16) { run_all<t5::f16>(12); }

BOOST_AUTO_TEST_CASE(plan_cache) {
  std::mt19937 rng(13);
  auto x = t5::test::to_device(t5::test::random_values<t5::bf16>(4 * 16, 1.0f, rng));
  auto w = t5::test::to_device(t5::test::random_values<t5::bf16>(6 * 8, 1.0f, rng));
  auto out = t5::test::poisoned<float>(4 * 6);
  Gemm gemm;
  BOOST_TEST(gemm.plans() == 0u);
  auto args = small_args(x, w, out);
  gemm.run(args, nullptr);
  BOOST_TEST(gemm.plans() == 1u);
  gemm.run(args, nullptr);  // same shape, dtypes, lds and alignment: the cached plan
  BOOST_TEST(gemm.plans() == 1u);
  args.x_ld = 16;  // another leading dimension: another layout
  gemm.run(args, nullptr);
  BOOST_TEST(gemm.plans() == 2u);
  args.m = 0;  // nothing to do, no plan, pointers not looked at
  args.x = nullptr;
  gemm.run(args, nullptr);
  BOOST_TEST(gemm.plans() == 2u);
  t5::cuda::synchronize();
}

BOOST_AUTO_TEST_CASE(rejects_bad_arguments) {
  std::mt19937 rng(14);
  auto x = t5::test::to_device(t5::test::random_values<t5::bf16>(4 * 8, 1.0f, rng));
  auto w = t5::test::to_device(t5::test::random_values<t5::bf16>(6 * 8, 1.0f, rng));
  auto out = t5::test::poisoned<float>(4 * 6);
  Gemm gemm;
  const auto rejected = [&](auto change) {
    auto a = small_args(x, w, out);
    change(a);
    BOOST_CHECK_EXCEPTION(gemm.run(a, nullptr), t5::Error, invalid_argument);
  };
  rejected([](GemmArgs& a) { a.k = 0; });
  rejected([](GemmArgs& a) { a.n = 0; });
  rejected([](GemmArgs& a) { a.m = -1; });
  rejected([](GemmArgs& a) { a.x_ld = 7; });
  rejected([](GemmArgs& a) { a.w_ld = 7; });
  rejected([](GemmArgs& a) { a.out_ld = 5; });
  rejected([](GemmArgs& a) { a.out_type = t5::DType::F16; });  // bf16 in, f16 out
  rejected([](GemmArgs& a) { a.in_type = t5::DType::F32; });
  rejected([](GemmArgs& a) {  // a 16-bit out cannot accumulate
    a.out_type = t5::DType::BF16;
    a.out_ld = 6;
    a.beta = 1.0f;
  });
  rejected([](GemmArgs& a) { a.w = nullptr; });
  BOOST_TEST(gemm.plans() == 0u);
}
BOOST_AUTO_TEST_SUITE_END()

#endif
