// The element kernels (embed, relu, gated GELU, cache block gather) and the token selection kernels
// (argmax, sampling) against the CPU ops of cpu/backend.hpp and cpu/sampling.hpp, on odd sizes,
// with poisoned outputs and padded rows whose padding must come back untouched.
#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <tuple>
#include <vector>

#include <boost/test/unit_test.hpp>

#if T5CC_HAVE_CUDA
#include "cuda_testing.hpp"
#include "t5/core/error.hpp"
#include "t5/cpu/backend.hpp"
#include "t5/cpu/sampling.hpp"
#include "t5/cuda.hpp"
#include "t5/generation/scores.hpp"

namespace {

using t5::cuda::DeviceBuffer;
using t5::test::poisoned;
using t5::test::random_values;
using t5::test::to_device;
using t5::test::to_host;
using Types = std::tuple<float, t5::f16, t5::bf16>;
using Cpu = t5::cpu::Backend<float>;
using t5::ConstMatrixView;
using t5::MatrixView;

constexpr float infinity = std::numeric_limits<float>::infinity();
constexpr float quiet_nan = std::numeric_limits<float>::quiet_NaN();

struct Shape {
  std::int64_t rows;
  std::int64_t cols;
};
// Odd sizes: one element, less than a warp, more than a block, and more rows than gridDim.y allows.
const Shape shapes[] = {{1, 1}, {3, 7}, {17, 200}, {5, 513}, {2, 4099}, {70001, 3}};

/// The value with every bit set: what poisoned() fills with.
template <class T>
T poison() {
  if constexpr (std::is_same_v<T, float>) return std::bit_cast<float>(~0u);
  else return T{0xffff};
}

template <class T>
std::vector<float> widen(const std::vector<T>& v) {
  std::vector<float> out(v.size());
  std::transform(v.begin(), v.end(), out.begin(), [](T x) { return t5::to_float(x); });
  return out;
}

/// The first index where a and b differ bit for bit, or -1.
template <class T>
std::int64_t first_difference(const std::vector<T>& a, const std::vector<T>& b) {
  if (a.size() != b.size()) return 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::memcmp(&a[i], &b[i], sizeof(T)) != 0) return static_cast<std::int64_t>(i);
  return -1;
}

/// One unit in the last place of T at |v| (subnormal spacing as the floor).
template <class T>
float ulp_of(float v) {
  const int bits = std::is_same_v<T, float> ? 24 : std::is_same_v<T, t5::f16> ? 11 : 8;
  const float floor = std::is_same_v<T, float> ? 0x1p-149f : std::is_same_v<T, t5::f16> ? 0x1p-24f : 0x1p-133f;
  int exponent = 0;
  std::frexp(v, &exponent);
  return std::max(std::ldexp(1.0f, exponent - bits), floor);
}

/// Whether f throws t5::Error(InvalidArgument).
template <class F>
bool rejected(F&& f) {
  try {
    f();
  } catch (const t5::Error& e) {
    return e.code() == t5::ErrorCode::InvalidArgument;
  }
  return false;
}

// ---- elementwise ----

// Tolerance: none. The kernel copies T to float exactly, as the CPU op does on the widened table.
template <class T>
void check_embed(std::mt19937& rng) {
  const std::int64_t vocab = 37;
  for (const auto& s : shapes) {
    BOOST_TEST_CONTEXT("rows " << s.rows << " dim " << s.cols) {
      const std::int64_t dim = s.cols, table_ld = dim + 3, residual_ld = dim + 5;
      const auto table = random_values<T>(static_cast<std::size_t>(vocab * table_ld), 2.0f, rng);
      std::vector<std::int32_t> ids(static_cast<std::size_t>(s.rows));
      std::uniform_int_distribution<std::int32_t> id(0, static_cast<std::int32_t>(vocab - 1));
      for (auto& i : ids) i = id(rng);

      const auto wide = widen(table);
      std::vector<float> want(static_cast<std::size_t>(s.rows * residual_ld), poison<float>());  // padding stays poisoned
      Cpu(1).embed(ids.data(), ConstMatrixView<float>(wide.data(), vocab, dim, table_ld), MatrixView<float>(want.data(), s.rows, dim, residual_ld));

      const auto dtable = to_device(table), dids = to_device(ids);
      const auto dres = poisoned<float>(want.size());
      t5::cuda::launch_embed(t5::cuda::EmbedParams<T>{dids.as<std::int32_t>(), dtable.template as<T>(), table_ld, dres.as<float>(), residual_ld, s.rows, dim});
      BOOST_TEST(first_difference(to_host<float>(dres, want.size()), want) == -1);
    }
  }
}

// Tolerance: none. max(x, 0) is exact; -0 and NaN pass through (std::max(x, 0) keeps x unless
// x < 0), both planted. The CPU op runs on the widened values, which round back to T exactly.
template <class T>
void check_relu(std::mt19937& rng) {
  for (const auto& s : shapes) {
    BOOST_TEST_CONTEXT("rows " << s.rows << " cols " << s.cols) {
      const std::int64_t ld = s.cols + 2;
      auto x = random_values<T>(static_cast<std::size_t>(s.rows * ld), 3.0f, rng);
      x[0] = t5::from_float<T>(-0.0f);
      x[static_cast<std::size_t>((s.rows - 1) * ld + s.cols - 1)] = t5::from_float<T>(quiet_nan);

      auto wide = widen(x);
      Cpu(1).relu(MatrixView<float>(wide.data(), s.rows, s.cols, ld));
      std::vector<T> want(x.size());
      std::transform(wide.begin(), wide.end(), want.begin(), [](float v) { return t5::from_float<T>(v); });

      const auto dx = to_device(x);
      t5::cuda::launch_relu(t5::cuda::ReluParams<T>{dx.template as<T>(), ld, s.rows, s.cols});
      BOOST_TEST(first_difference(to_host<T>(dx, x.size()), want) == -1);  // padding included: untouched
    }
  }
}

/// Largest |gpu - cpu| allowed for one output of GELU(x) * up whose CPU value (rounded to T) is
/// `reference`, with the reason:
///   CUDA's tanhf / erff are within 2 ulp of the true value, glibc's within 2: the two transcendental
///   results t differ by at most 4 ulp of a number below 1, 2^-22. 0.5 x (1 + t) * up carries that
///   as an absolute error of at most |x up| 2^-22 (1 + t cancels when x << 0, so a relative bound
///   would not hold); doubled for the host compiler contracting x + 0.044715 x^3 into an FMA.
///   The other fp32 products round on both sides: 4 ulp of the result.
///   f16 / bf16: both sides round such fp32 values once to T: one more ulp of T.
template <class T>
float gelu_allowed(float reference, float x_times_up) {
  const float fp32 = std::fabs(x_times_up) * 0x1p-21f + 4.0f * ulp_of<float>(reference);
  return std::is_same_v<T, float> ? fp32 : fp32 + ulp_of<T>(reference);
}

template <class T>
void check_gated_gelu(t5::GeluApprox approx, std::mt19937& rng) {
  for (const auto& s : shapes) {
    BOOST_TEST_CONTEXT("rows " << s.rows << " cols " << s.cols << " " << t5::to_string(approx)) {
      const std::int64_t cols = s.cols, in_ld = 2 * cols + 1, out_ld = cols + 3;
      const auto in = random_values<T>(static_cast<std::size_t>(s.rows * in_ld), 4.0f, rng);
      const auto wide = widen(in);
      std::vector<float> want(static_cast<std::size_t>(s.rows * out_ld));
      Cpu(1).gated_gelu(ConstMatrixView<float>(wide.data(), s.rows, 2 * cols, in_ld), MatrixView<float>(want.data(), s.rows, cols, out_ld), approx);

      const auto din = to_device(in);
      const auto dout = poisoned<T>(want.size());
      t5::cuda::launch_gated_gelu(t5::cuda::GatedGeluParams<T>{din.template as<T>(), in_ld, dout.template as<T>(), out_ld, s.rows, cols, approx});
      const auto got = to_host<T>(dout, want.size());

      const T pad = poison<T>();
      std::size_t beyond = 0, padding_written = 0;
      float worst = 0.0f;
      for (std::int64_t r = 0; r < s.rows; ++r) {
        for (std::int64_t c = 0; c < cols; ++c) {
          const auto i = static_cast<std::size_t>(r * out_ld + c);
          const float g = t5::to_float(got[i]);
          const float ref = t5::to_float(t5::from_float<T>(want[i]));
          const float x = wide[static_cast<std::size_t>(r * in_ld + c)], up = wide[static_cast<std::size_t>(r * in_ld + cols + c)];
          const float diff = std::fabs(g - ref);
          if (!(diff <= gelu_allowed<T>(ref, x * up))) ++beyond;  // NaN counts as beyond
          worst = std::max(worst, diff);
        }
        for (std::int64_t c = cols; c < out_ld; ++c) padding_written += std::memcmp(&got[static_cast<std::size_t>(r * out_ld + c)], &pad, sizeof(T)) != 0;
      }
      BOOST_TEST(beyond == 0u, "largest difference " << worst);
      BOOST_TEST(padding_written == 0u);
    }
  }
}

template <class T>
void check_gather_blocks(std::mt19937& rng) {
  struct Case {
    std::int64_t blocks, block_rows, used_rows, cols;
    std::vector<std::int32_t> parents;
  };
  const Case cases[] = {
      {5, 7, 4, 37, {2, 2, 0, 4, 2}},         // repeats, a block dropped, unused rows at the end
      {5, 7, 7, 37, {0, 1, 2, 3, 4}},         // identity, every row in use
      {4, 9, 1, 300, {3, 0, 0, 1}},           // one row in use
      {3, 30000, 25000, 5, {1, 2, 1}},        // 75000 copied rows: more than gridDim.y
      {2, 3, 0, 4, {1, 0}},                   // nothing in use: nothing written
  };
  for (const auto& k : cases) {
    BOOST_TEST_CONTEXT("blocks " << k.blocks << " block_rows " << k.block_rows << " used_rows " << k.used_rows << " cols " << k.cols) {
      const std::int64_t src_ld = k.cols + 1, dst_ld = k.cols + 2, rows = k.blocks * k.block_rows;
      auto src = random_values<T>(static_cast<std::size_t>(rows * src_ld), 1.0f, rng);
      for (std::int64_t b = 0; b < k.blocks; ++b)  // rows not in use are poison: copying one shows
        for (std::int64_t i = k.used_rows; i < k.block_rows; ++i)
          std::fill_n(src.begin() + (b * k.block_rows + i) * src_ld, src_ld, poison<T>());
      const auto prior = random_values<T>(static_cast<std::size_t>(rows * dst_ld), 1.0f, rng);  // dst's contents before

      std::vector<T> want = prior;
      for (std::int64_t b = 0; b < k.blocks; ++b)
        for (std::int64_t i = 0; i < k.used_rows; ++i)
          std::copy_n(src.begin() + (k.parents[static_cast<std::size_t>(b)] * k.block_rows + i) * src_ld, k.cols,
                      want.begin() + (b * k.block_rows + i) * dst_ld);

      const auto dsrc = to_device(src), ddst = to_device(prior);
      const DeviceBuffer dparents = to_device(k.parents);
      t5::cuda::launch_gather_blocks(t5::cuda::GatherBlocksParams<T>{dsrc.template as<T>(), src_ld, ddst.template as<T>(), dst_ld, dparents.as<std::int32_t>(),
                                                                     k.blocks, k.block_rows, k.used_rows, k.cols});
      // Tolerance: none (a copy). Rows >= used_rows and the padding keep their prior contents.
      BOOST_TEST(first_difference(to_host<T>(ddst, want.size()), want) == -1);
    }
  }
}

// ---- sampling ----

struct Warping {
  float temperature;
  std::int64_t top_k;
  float top_p;
};
// The last one removes all but the few largest scores, so that ties at the top meet the rule
// that the largest token (the first of equals) is never removed.
const Warping warpings[] = {{1.0f, 0, 1.0f}, {0.7f, 5, 1.0f}, {1.3f, 0, 0.8f},   {1.0f, 8, 0.9f},
                            {2.0f, 3, 1.0f}, {1.0f, 50, 0.95f}, {1.0f, 0, 0.05f}};

/// Positions of `count` distinct tokens of [0, vocab).
std::vector<std::int64_t> distinct_positions(std::int64_t count, std::int64_t vocab, std::mt19937& rng) {
  std::vector<std::int64_t> all(static_cast<std::size_t>(vocab));
  for (std::int64_t j = 0; j < vocab; ++j) all[static_cast<std::size_t>(j)] = j;
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(static_cast<std::size_t>(std::min(count, vocab)));
  return all;
}

/// Logits [rows, ld] whose rows cycle through the cases the sampler must get right:
///   0: plain normal scores;
///   1: 40% of tokens at -inf, as the logits processors leave banned tokens;
///   2: ties at the top-k boundary: tokens below the k-th largest raised to exactly its value;
///   3: ties at the top-p boundary: 60 tokens tied at 0 holding ~90% of the mass, three above,
///      the rest negligible, so the cut falls inside the tie group (removed by descending index);
///   4: three tokens tied at the maximum, far above the rest, and 20% at -inf;
///   5: every score -inf (the draw gives -1) when r % 12 == 5, else a single finite token.
std::vector<float> sampling_logits(std::int64_t rows, std::int64_t vocab, std::int64_t ld, std::int64_t top_k, std::mt19937& rng) {
  std::normal_distribution<float> normal(0.0f, 2.5f);
  std::uniform_real_distribution<float> unit(0.0f, 1.0f);
  std::vector<float> logits(static_cast<std::size_t>(rows * ld), quiet_nan);  // padding: NaN, never read
  for (std::int64_t r = 0; r < rows; ++r) {
    float* row = logits.data() + r * ld;
    for (std::int64_t j = 0; j < vocab; ++j) row[j] = normal(rng);
    switch (r % 6) {
      case 0: break;
      case 1:
        for (std::int64_t j = 0; j < vocab; ++j)
          if (unit(rng) < 0.4f) row[j] = -infinity;
        break;
      case 2: {
        const std::int64_t k = top_k > 0 ? top_k : 5;
        std::vector<std::int64_t> order(static_cast<std::size_t>(vocab));
        for (std::int64_t j = 0; j < vocab; ++j) order[static_cast<std::size_t>(j)] = j;
        std::sort(order.begin(), order.end(), [&](std::int64_t a, std::int64_t b) { return row[a] > row[b]; });
        const float kth = row[order[static_cast<std::size_t>(k - 1)]];
        std::uniform_int_distribution<std::size_t> below(static_cast<std::size_t>(k), order.size() - 1);
        for (int t = 0; t < 4; ++t) row[order[below(rng)]] = kth;
        break;
      }
      case 3: {
        std::uniform_real_distribution<float> low(-40.0f, -16.0f);
        for (std::int64_t j = 0; j < vocab; ++j) row[j] = low(rng);
        const auto at = distinct_positions(63, vocab, rng);
        for (std::size_t t = 0; t < at.size(); ++t) row[at[t]] = t == 0 ? 1.0f : t == 1 ? 0.5f : t == 2 ? 0.2f : 0.0f;
        break;
      }
      case 4: {
        for (std::int64_t j = 0; j < vocab; ++j)
          if (unit(rng) < 0.2f) row[j] = -infinity;
        for (std::int64_t j : distinct_positions(3, vocab, rng)) row[j] = 20.0f;
        break;
      }
      case 5: {
        const std::int64_t keep = r % 12 == 5 ? -1 : std::uniform_int_distribution<std::int64_t>(0, vocab - 1)(rng);
        for (std::int64_t j = 0; j < vocab; ++j)
          if (j != keep) row[j] = -infinity;
        break;
      }
    }
  }
  return logits;
}

/// The CPU's tokens: SamplingWarpers::apply then sample_token; -1 for a row with nothing left.
std::vector<std::int32_t> cpu_tokens(const std::vector<std::vector<float>>& warped, std::uint64_t seed, const std::vector<std::uint64_t>& keys,
                                     std::int64_t samples_per_key, std::int64_t step) {
  std::vector<std::int32_t> tokens;
  for (std::size_t r = 0; r < warped.size(); ++r) {
    const auto& row = warped[r];
    const bool empty = std::all_of(row.begin(), row.end(), [](float s) { return s == -infinity; });
    const auto rr = static_cast<std::int64_t>(r);
    tokens.push_back(empty ? -1 : t5::sample_token(row, seed, keys[static_cast<std::size_t>(rr / samples_per_key)], rr % samples_per_key, step));
  }
  return tokens;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(elementwise)

BOOST_AUTO_TEST_CASE_TEMPLATE(embed, T, Types) {
  std::mt19937 rng(11);
  check_embed<T>(rng);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(relu, T, Types) {
  std::mt19937 rng(12);
  check_relu<T>(rng);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(gated_gelu_tanh, T, Types) {
  std::mt19937 rng(13);
  check_gated_gelu<T>(t5::GeluApprox::Tanh, rng);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(gated_gelu_erf, T, Types) {
  std::mt19937 rng(14);
  check_gated_gelu<T>(t5::GeluApprox::Erf, rng);
}

BOOST_AUTO_TEST_CASE_TEMPLATE(gather_blocks, T, Types) {
  std::mt19937 rng(15);
  check_gather_blocks<T>(rng);
}

// Real buffers everywhere, so that only the size named in each comment can be what is rejected.
BOOST_AUTO_TEST_CASE(rejects_bad_sizes) {
  namespace cu = t5::cuda;
  const auto a = poisoned<float>(64), b = poisoned<float>(64);
  const std::vector<std::int32_t> ids = {0, 1};
  const auto dids = to_device(ids);
  const auto* table = reinterpret_cast<const t5::f16*>(a.as<float>());
  cu::EmbedParams<t5::f16> embed{dids.as<std::int32_t>(), table, 8, b.as<float>(), 8, 2, 8};
  BOOST_CHECK_NO_THROW(cu::launch_embed(embed));
  embed.dim = 0;
  BOOST_TEST(rejected([&] { cu::launch_embed(embed); }));
  embed.dim = 8;
  embed.residual_ld = 7;
  BOOST_TEST(rejected([&] { cu::launch_embed(embed); }));  // residual_ld < dim

  cu::ReluParams<float> relu{a.as<float>(), 10, 1, 10};
  BOOST_CHECK_NO_THROW(cu::launch_relu(relu));
  relu.ld = 9;
  BOOST_TEST(rejected([&] { cu::launch_relu(relu); }));  // ld < cols
  relu = {a.as<float>(), 10, -1, 10};
  BOOST_TEST(rejected([&] { cu::launch_relu(relu); }));  // negative rows

  cu::GatedGeluParams<float> gelu{a.as<float>(), 8, b.as<float>(), 4, 1, 4, t5::GeluApprox::Tanh};
  BOOST_CHECK_NO_THROW(cu::launch_gated_gelu(gelu));
  gelu.in_ld = 7;
  BOOST_TEST(rejected([&] { cu::launch_gated_gelu(gelu); }));  // in_ld < 2 cols

  cu::GatherBlocksParams<float> gather{a.as<float>(), 2, b.as<float>(), 2, dids.as<std::int32_t>(), 2, 3, 2, 2};
  BOOST_CHECK_NO_THROW(cu::launch_gather_blocks(gather));
  gather.used_rows = 4;
  BOOST_TEST(rejected([&] { cu::launch_gather_blocks(gather); }));  // used_rows > block_rows
  gather.used_rows = 2;
  gather.dst = a.as<float>() + 1;
  BOOST_TEST(rejected([&] { cu::launch_gather_blocks(gather); }));  // src and dst overlap

  embed = {nullptr, nullptr, 8, nullptr, 8, 0, 8};
  BOOST_CHECK_NO_THROW(cu::launch_embed(embed));  // zero rows: nothing to do, even with null pointers
  t5::cuda::synchronize();
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(sampling)

// Tolerance: none (a comparison). Ties go to the first index; NaN counts as the largest value and
// the first NaN wins (torch.argmax). t5::argmax (std::max_element) has no NaN rule, so NaN rows are
// checked against the first NaN's index.
BOOST_AUTO_TEST_CASE(argmax) {
  std::mt19937 rng(21);
  for (const std::int64_t cols : {1, 33, 1000, 32128}) {
    BOOST_TEST_CONTEXT("cols " << cols) {
      const std::int64_t rows = 37, ld = cols + 7;
      auto logits = random_values<float>(static_cast<std::size_t>(rows * ld), 10.0f, rng);
      std::vector<std::int32_t> want(static_cast<std::size_t>(rows));
      std::uniform_int_distribution<std::int64_t> position(0, cols - 1);
      for (std::int64_t r = 0; r < rows; ++r) {
        float* row = logits.data() + r * ld;
        const std::span<const float> scores(row, static_cast<std::size_t>(cols));
        std::int64_t first_nan = -1;
        switch (r % 6) {
          case 1: {  // the maximum copied to random places, some before it
            const float max = *std::max_element(row, row + cols);
            for (int t = 0; t < 3; ++t) row[position(rng)] = max;
            break;
          }
          case 2: std::fill_n(row, cols, 0.25f); break;  // all tied: index 0
          case 3: std::fill_n(row, cols, -infinity); break;   // all -inf: index 0
          case 4:                                         // one NaN
            first_nan = position(rng);
            row[first_nan] = quiet_nan;
            break;
          case 5: {  // two NaNs and a +inf
            const std::int64_t a = position(rng), b = position(rng);
            row[position(rng)] = infinity;
            row[a] = quiet_nan;
            row[b] = quiet_nan;
            first_nan = std::min(a, b);
            break;
          }
          default: break;
        }
        want[static_cast<std::size_t>(r)] = first_nan >= 0 ? static_cast<std::int32_t>(first_nan) : t5::argmax(scores);
      }
      const auto dlogits = to_device(logits);
      const auto dout = poisoned<std::int32_t>(want.size());
      t5::cuda::launch_argmax(t5::cuda::ArgmaxParams{dlogits.as<float>(), ld, rows, cols, dout.as<std::int32_t>()});
      const auto got = to_host<std::int32_t>(dout, want.size());
      BOOST_TEST(got == want, boost::test_tools::per_element());
    }
  }
}

// Tolerance: none: the tokens must be identical. The GPU sums the double weights exp(s - max) in
// another order than the CPU, so the two differ only when u * total lies within ~1e-15 (relative)
// of a CDF step, or a top-p cumulative sum within as much of 1 - top_p: the cases below keep clear
// of that (random mass everywhere, tie groups whose steps are ~1% of the mass), and a random u hits
// such a window with probability ~1e-15 per draw.
BOOST_AUTO_TEST_CASE(sample_matches_cpu) {
  std::mt19937 rng(22);
  std::mt19937_64 rng64(23);
  const std::uint64_t seed = 0x9E3779B97F4A7C15ull;  // both 32-bit halves matter
  const std::int64_t rows = 36;
  for (const std::int64_t vocab : {176, 1000, 32128}) {
    for (const std::int64_t samples_per_key : {1, 3}) {
      for (const auto& w : warpings) {
        BOOST_TEST_CONTEXT("vocab " << vocab << " samples_per_key " << samples_per_key << " T " << w.temperature << " k " << w.top_k << " p " << w.top_p) {
          const std::int64_t ld = vocab + 3;
          const auto logits = sampling_logits(rows, vocab, ld, w.top_k, rng);
          std::vector<std::uint64_t> keys(static_cast<std::size_t>(rows / samples_per_key));
          for (auto& k : keys) k = rng64();  // distinct with certainty in practice

          t5::SampleArgs settings;
          settings.temperature = w.temperature;
          settings.top_k = w.top_k;
          settings.top_p = w.top_p;
          t5::SamplingWarpers warpers(vocab);
          std::vector<std::vector<float>> warped;
          for (std::int64_t r = 0; r < rows; ++r) {
            warped.emplace_back(logits.begin() + r * ld, logits.begin() + r * ld + vocab);
            warpers.apply(warped.back(), settings);
          }

          const auto dlogits = to_device(logits), dkeys = to_device(keys);
          const auto workspace = poisoned<float>(t5::cuda::sample_workspace_bytes(rows, vocab) / sizeof(float));
          auto dout = poisoned<std::int32_t>(static_cast<std::size_t>(rows));
          for (const std::int64_t step : {0, 1, 2, 977}) {
            BOOST_TEST_CONTEXT("step " << step) {
              t5::cuda::SampleParams p;
              p.logits = dlogits.as<float>();
              p.ld = ld;
              p.rows = rows;
              p.vocab = vocab;
              p.temperature = w.temperature;
              p.top_k = w.top_k;
              p.top_p = w.top_p;
              p.seed = seed;
              p.row_keys = dkeys.as<std::uint64_t>();
              p.samples_per_key = samples_per_key;
              p.step = step;
              p.workspace = workspace.as<float>();
              p.out = dout.as<std::int32_t>();
              dout.fill_bytes(0xff);
              t5::cuda::launch_sample(p);
              const auto got = to_host<std::int32_t>(dout, static_cast<std::size_t>(rows));
              const auto want = cpu_tokens(warped, seed, keys, samples_per_key, step);
              BOOST_TEST(got == want, boost::test_tools::per_element());
              t5::cuda::launch_sample(p);  // deterministic: a second launch draws the same tokens
              BOOST_TEST(to_host<std::int32_t>(dout, static_cast<std::size_t>(rows)) == got, boost::test_tools::per_element());
            }
          }
          BOOST_TEST(first_difference(to_host<float>(dlogits, logits.size()), logits) == -1);  // the logits are not modified
        }
      }
    }
  }
}

// Real buffers everywhere, so that only the size named in each check can be what is rejected.
BOOST_AUTO_TEST_CASE(rejects_bad_sizes) {
  namespace cu = t5::cuda;
  auto logits = poisoned<float>(60);
  const auto workspace = poisoned<float>(60);
  const auto out = poisoned<std::int32_t>(6);
  const std::vector<float> zeros(60, 0.0f);
  logits.upload(std::as_bytes(std::span(zeros)));
  const std::vector<std::uint64_t> keys = {1, 2, 3, 4, 5, 6};
  const auto dkeys = to_device(keys);

  cu::ArgmaxParams am{logits.as<float>(), 10, 6, 10, out.as<std::int32_t>()};
  BOOST_CHECK_NO_THROW(cu::launch_argmax(am));
  am.cols = 0;
  BOOST_TEST(rejected([&] { cu::launch_argmax(am); }));
  am.cols = 11;
  BOOST_TEST(rejected([&] { cu::launch_argmax(am); }));  // ld < cols

  cu::SampleParams good;
  good.logits = logits.as<float>();
  good.ld = good.vocab = 10;
  good.rows = 6;
  good.row_keys = dkeys.as<std::uint64_t>();
  good.workspace = workspace.as<float>();
  good.out = out.as<std::int32_t>();
  BOOST_REQUIRE(t5::cuda::sample_workspace_bytes(6, 10) <= workspace.bytes());
  BOOST_CHECK_NO_THROW(cu::launch_sample(good));
  const auto bad = [&](auto change) {
    cu::SampleParams p = good;
    change(p);
    return rejected([&] { cu::launch_sample(p); });
  };
  BOOST_TEST(bad([](cu::SampleParams& p) { p.vocab = 0; }));
  BOOST_TEST(bad([](cu::SampleParams& p) { p.ld = 9; }));
  BOOST_TEST(bad([](cu::SampleParams& p) { p.temperature = 0.0f; }));
  BOOST_TEST(bad([](cu::SampleParams& p) { p.temperature = quiet_nan; }));
  BOOST_TEST(bad([](cu::SampleParams& p) { p.top_k = -1; }));
  BOOST_TEST(bad([](cu::SampleParams& p) { p.top_p = 0.0f; }));
  BOOST_TEST(bad([](cu::SampleParams& p) { p.top_p = 1.5f; }));
  BOOST_TEST(bad([](cu::SampleParams& p) { p.samples_per_key = 4; }));  // does not divide 6 rows
  BOOST_TEST(bad([](cu::SampleParams& p) { p.samples_per_key = 0; }));
  t5::cuda::synchronize();
}

BOOST_AUTO_TEST_SUITE_END()

#endif
