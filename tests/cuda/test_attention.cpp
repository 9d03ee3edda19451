// The CUDA attention (kernels/attention.cu) against cpu::Backend<float>::attention on the same
// f16 / bf16 inputs: prefill and decode kernels, relative position bias, padding masks, packed
// documents, shared K/V, odd head dims and the key-split decode path, plus argument validation.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <vector>

#include <boost/test/unit_test.hpp>

#if T5CC_HAVE_CUDA
#include "cuda_testing.hpp"
#include "t5/core/error.hpp"
#include "t5/core/ops.hpp"
#include "t5/cpu/backend.hpp"
#include "t5/cuda.hpp"
#include "t5/model/relative_position.hpp"

namespace {

using t5::DeviceSpace;
using t5::HostSpace;

constexpr std::int64_t num_buckets = 32;

enum class Bias { None, Shared, PerLayer };  // PerLayer stands for a UMT5 layer's own table
enum class Mask { None, Ragged, OneRowEmpty };

struct Case {
  const char* name = "";
  std::int64_t batch = 1;
  std::int64_t q_len = 1;
  std::int64_t kv_len = 1;
  std::int64_t kv_rows = 0;  // 0: kv_len
  std::int64_t kv_share = 1;
  std::int64_t heads = 1;
  std::int64_t head_dim = 64;
  std::int64_t q_position = 0;
  bool causal = false;  // causal masking and causal (decoder) buckets; bidirectional buckets otherwise
  Bias bias = Bias::None;
  Mask mask = Mask::None;
  bool documents = false;
  float scale = 1.0f;
  std::int64_t max_distance = 128;  // the bias reach is twice this
};

const Case cases[] = {
    // Encoder self-attention: bidirectional buckets, padding masks (row 0 padded in the middle).
    {.name = "encoder len 1 (decode kernel, bidirectional)", .batch = 2, .q_len = 1, .kv_len = 1, .heads = 3, .bias = Bias::Shared},
    {.name = "encoder len 17", .batch = 3, .q_len = 17, .kv_len = 17, .heads = 5, .bias = Bias::Shared, .mask = Mask::Ragged},
    {.name = "encoder len 128 head_dim 128 per-layer table", .batch = 2, .q_len = 128, .kv_len = 128, .heads = 3, .head_dim = 128,
     .bias = Bias::PerLayer, .mask = Mask::Ragged},
    {.name = "encoder len 300 scale 1/8", .batch = 2, .q_len = 300, .kv_len = 300, .heads = 5, .bias = Bias::Shared, .mask = Mask::Ragged,
     .scale = 0.125f},
    {.name = "encoder len 1000", .batch = 2, .q_len = 1000, .kv_len = 1000, .heads = 3, .bias = Bias::Shared, .mask = Mask::Ragged},
    {.name = "encoder with an all-padding row", .batch = 3, .q_len = 17, .kv_len = 17, .heads = 3, .bias = Bias::Shared,
     .mask = Mask::OneRowEmpty},
    {.name = "encoder packed documents", .batch = 2, .q_len = 128, .kv_len = 128, .heads = 3, .bias = Bias::Shared, .mask = Mask::Ragged,
     .documents = true},
    // Head dims without a compiled kernel: the generic path (one chunk, several chunks and slices).
    {.name = "head_dim 32", .batch = 2, .q_len = 17, .kv_len = 17, .heads = 5, .head_dim = 32, .bias = Bias::Shared, .mask = Mask::Ragged},
    {.name = "head_dim 40", .batch = 2, .q_len = 300, .kv_len = 300, .heads = 3, .head_dim = 40, .bias = Bias::PerLayer,
     .mask = Mask::Ragged},
    {.name = "head_dim 7", .batch = 1, .q_len = 17, .kv_len = 17, .heads = 3, .head_dim = 7, .bias = Bias::Shared},
    {.name = "head_dim 200", .batch = 2, .q_len = 128, .kv_len = 128, .heads = 3, .head_dim = 200, .bias = Bias::Shared,
     .mask = Mask::Ragged},
    {.name = "head_dim 96 decode step", .batch = 3, .q_len = 1, .kv_len = 300, .kv_rows = 310, .heads = 5, .head_dim = 96,
     .q_position = 299, .causal = true, .bias = Bias::Shared},
    // Decoder self-attention with teacher forcing: causal buckets and mask.
    {.name = "teacher forcing 17", .batch = 3, .q_len = 17, .kv_len = 17, .heads = 5, .causal = true, .bias = Bias::Shared},
    {.name = "teacher forcing 128 head_dim 128 padded", .batch = 2, .q_len = 128, .kv_len = 128, .heads = 3, .head_dim = 128,
     .causal = true, .bias = Bias::PerLayer, .mask = Mask::Ragged},
    {.name = "teacher forcing 300 packed documents", .batch = 2, .q_len = 300, .kv_len = 300, .heads = 3, .causal = true,
     .bias = Bias::Shared, .documents = true},
    // Reach 4096, the largest accepted: a per-distance bias of 32 KiB, over 48 KiB of shared memory in all.
    {.name = "teacher forcing 300 head_dim 128 reach 4096", .batch = 1, .q_len = 300, .kv_len = 300, .heads = 3, .head_dim = 128,
     .causal = true, .bias = Bias::Shared, .max_distance = 2048},
    {.name = "decode step 1000 head_dim 128 reach 4096 (split)", .batch = 2, .q_len = 1, .kv_len = 1000, .heads = 3, .head_dim = 128,
     .q_position = 999, .causal = true, .bias = Bias::Shared, .max_distance = 2048},
    {.name = "chunked prefill after 28 cached tokens", .batch = 2, .q_len = 17, .kv_len = 45, .kv_rows = 64, .heads = 3,
     .q_position = 28, .causal = true, .bias = Bias::Shared},
    // Cross-attention: no bias, encoder padding, K/V shared by the beams of an input.
    {.name = "cross 17 x 300 kv_share 2", .batch = 4, .q_len = 17, .kv_len = 300, .kv_share = 2, .heads = 3, .mask = Mask::Ragged},
    {.name = "cross 128 x 1000 kv_share 4 head_dim 128", .batch = 4, .q_len = 128, .kv_len = 1000, .kv_share = 4, .heads = 3,
     .head_dim = 128, .mask = Mask::Ragged},
    {.name = "cross with an all-padding input", .batch = 4, .q_len = 17, .kv_len = 128, .kv_share = 2, .heads = 3,
     .mask = Mask::OneRowEmpty},
    // Decode steps: one query at the end of a cache whose unused rows hold NaN.
    {.name = "decode step 1", .batch = 3, .q_len = 1, .kv_len = 1, .kv_rows = 8, .heads = 5, .q_position = 0, .causal = true,
     .bias = Bias::Shared},
    {.name = "decode step 17 head_dim 128", .batch = 3, .q_len = 1, .kv_len = 17, .kv_rows = 32, .heads = 5, .head_dim = 128,
     .q_position = 16, .causal = true, .bias = Bias::PerLayer},
    {.name = "decode step 128 scale 1/2", .batch = 3, .q_len = 1, .kv_len = 128, .kv_rows = 140, .heads = 3, .q_position = 127,
     .causal = true, .bias = Bias::Shared, .scale = 0.5f},
    {.name = "decode step 1000 (split)", .batch = 3, .q_len = 1, .kv_len = 1000, .kv_rows = 1024, .heads = 5, .q_position = 999,
     .causal = true, .bias = Bias::Shared},
    {.name = "decode step 4000 head_dim 128 (split)", .batch = 2, .q_len = 1, .kv_len = 4000, .kv_rows = 4096, .heads = 3,
     .head_dim = 128, .q_position = 3999, .causal = true, .bias = Bias::PerLayer},
    {.name = "decode step 4000 padded (split)", .batch = 2, .q_len = 1, .kv_len = 4000, .kv_rows = 4001, .heads = 5,
     .q_position = 3999, .causal = true, .bias = Bias::Shared, .mask = Mask::Ragged},
    {.name = "cross decode 1000 kv_share 4 (split)", .batch = 8, .q_len = 1, .kv_len = 1000, .kv_share = 4, .heads = 3,
     .mask = Mask::Ragged},
    {.name = "cross decode with an all-padding input (split)", .batch = 4, .q_len = 1, .kv_len = 1000, .kv_share = 2, .heads = 3,
     .head_dim = 128, .mask = Mask::OneRowEmpty},
};

/// Element-wise bound |gpu - cpu| <= ulp_T(cpu) + 2^-14, with the reason: both sides score the
/// same T inputs in fp32 (each product q_i k_i is exact in fp32), so they differ only by fp32
/// summation order, expf and the online rescaling: a few 1e-6 in a score, which moves a softmax
/// average of values in [-1, 1] by about as much (2^-14 = 6e-5 leaves a 10x margin). The GPU then
/// rounds once to T: half an ulp of its fp32 value, at most one ulp of the reference when the
/// rounding crosses a power of two. A key wrongly masked or unmasked moves an output by about its
/// weight, far above this (bf16 ulp at 0.1 is 2^-11).
template <class T>
double allowed_difference(float reference) {
  const int bits = std::is_same_v<T, t5::f16> ? 11 : 8;  // significand bits of T
  int exponent = 0;
  std::frexp(reference, &exponent);
  return std::ldexp(1.0, exponent - bits) + 0x1p-14;
}

/// Normwise relative bound: the rounding to T is at most 2^-11 (f16) / 2^-8 (bf16) relative per
/// element (its unit roundoff), and the fp32 differences above are below 2^-12 of the norm of
/// outputs that average at least a few keys.
template <class T>
double normwise_bound() {
  return (std::is_same_v<T, t5::f16> ? 0x1p-11 : 0x1p-8) + 0x1p-12;
}

template <class T>
std::vector<float> to_floats(const std::vector<T>& v) {
  std::vector<float> f(v.size());
  std::transform(v.begin(), v.end(), f.begin(), [](T x) { return t5::to_float(x); });
  return f;
}

std::size_t size(std::int64_t n) { return static_cast<std::size_t>(n); }

/// [kv_batch, ld] key mask: row r keeps a random prefix (row 0 keeps all its keys but a span in the
/// middle); with OneRowEmpty the last row masks every key.
std::vector<std::uint8_t> make_mask(const Case& c, std::int64_t kv_batch, std::int64_t ld, std::mt19937& rng) {
  std::vector<std::uint8_t> mask(size(kv_batch * ld), 0);
  for (std::int64_t r = 0; r < kv_batch; ++r) {
    const std::int64_t length = r == 0 ? c.kv_len : std::uniform_int_distribution<std::int64_t>(1, c.kv_len)(rng);
    for (std::int64_t j = 0; j < length; ++j) mask[size(r * ld + j)] = 1;
  }
  for (std::int64_t j = c.kv_len / 3; j < c.kv_len / 3 + c.kv_len / 5; ++j) mask[size(j)] = 0;
  if (c.mask == Mask::OneRowEmpty) std::fill_n(mask.begin() + (kv_batch - 1) * ld, ld, std::uint8_t{0});
  return mask;
}

/// [batch, q_len] document ids: consecutive segments of random lengths.
std::vector<std::int32_t> make_documents(const Case& c, std::mt19937& rng) {
  std::vector<std::int32_t> docs(size(c.batch * c.q_len));
  std::uniform_int_distribution<std::int64_t> segment(1, std::max<std::int64_t>(1, c.q_len / 3));
  for (std::int64_t b = 0; b < c.batch; ++b) {
    std::int32_t id = 0;
    for (std::int64_t i = 0; i < c.q_len; ++id) {
      const std::int64_t end = std::min(c.q_len, i + segment(rng));
      for (; i < end; ++i) docs[size(b * c.q_len + i)] = id;
    }
  }
  return docs;
}


/// The size and mode fields of a case's attention call (pointers are the caller's).
template <class U, class Space>
t5::AttentionArgs<U, Space> sized_args(const Case& c, std::int64_t kv_rows) {
  t5::AttentionArgs<U, Space> a;
  a.batch = c.batch;
  a.q_len = c.q_len;
  a.kv_rows = kv_rows;
  a.kv_len = c.kv_len;
  a.kv_share = c.kv_share;
  a.heads = c.heads;
  a.head_dim = c.head_dim;
  a.q_position = c.q_position;
  a.scale = c.scale;
  a.causal = c.causal;
  return a;
}
template <class T>
void check_case(const Case& c, std::mt19937& rng) {
  const std::int64_t inner = c.heads * c.head_dim;
  const std::int64_t rows = c.batch * c.q_len;
  const std::int64_t kv_batch = c.batch / c.kv_share;
  const std::int64_t kv_rows = c.kv_rows > 0 ? c.kv_rows : c.kv_len;
  // q has padding columns and k | v are one fused [.., 2 * inner] buffer: both views have ld > cols.
  const std::int64_t q_ld = inner + 5, kv_ld = 2 * inner, out_ld = inner + 2, mask_ld = c.kv_len + 3;
  const T nan = t5::from_float<T>(std::numeric_limits<float>::quiet_NaN());

  // NaN where the kernel must not read: q's padding columns, the cache rows in [kv_len, kv_rows).
  std::vector<T> q = t5::test::random_values<T>(size(rows * q_ld), 1.0f, rng);
  for (std::int64_t r = 0; r < rows; ++r) std::fill_n(q.begin() + r * q_ld + inner, q_ld - inner, nan);
  std::vector<T> kv = t5::test::random_values<T>(size(kv_batch * kv_rows * kv_ld), 1.0f, rng);
  for (std::int64_t kb = 0; kb < kv_batch; ++kb)
    std::fill(kv.begin() + (kb * kv_rows + c.kv_len) * kv_ld, kv.begin() + (kb + 1) * kv_rows * kv_ld, nan);
  const std::vector<std::uint8_t> mask = c.mask == Mask::None ? std::vector<std::uint8_t>{} : make_mask(c, kv_batch, mask_ld, rng);
  const std::vector<std::int32_t> docs = c.documents ? make_documents(c, rng) : std::vector<std::int32_t>{};
  const t5::RelativeBuckets buckets(!c.causal, num_buckets, c.max_distance);
  const std::vector<float> table =
      t5::test::random_values<float>(size(num_buckets * c.heads), c.bias == Bias::Shared ? 3.0f : 1.5f, rng);

  // CPU reference on the same values in float.
  const std::vector<float> qf = to_floats(q), kvf = to_floats(kv);
  std::vector<float> want(size(rows * inner));
  auto ca = sized_args<float, HostSpace>(c, kv_rows);
  ca.q = {qf.data(), rows, inner, q_ld};
  ca.k = {kvf.data(), kv_batch * kv_rows, inner, kv_ld};
  ca.v = {kvf.data() + inner, kv_batch * kv_rows, inner, kv_ld};
  ca.out = {want.data(), rows, inner};
  ca.key_mask = mask.empty() ? nullptr : mask.data();
  ca.key_mask_ld = mask_ld;
  ca.documents = docs.empty() ? nullptr : docs.data();
  if (c.bias != Bias::None) ca.bias = {table.data(), buckets.table().data(), buckets.reach()};
  t5::cpu::Backend<float> cpu;
  cpu.attention(ca);

  // GPU, output and workspace poisoned (all bits set).
  using t5::cuda::DeviceBuffer;
  const DeviceBuffer dq = t5::test::to_device(q);
  const DeviceBuffer dkv = t5::test::to_device(kv);
  const DeviceBuffer dmask = mask.empty() ? DeviceBuffer() : t5::test::to_device(mask);
  const DeviceBuffer ddocs = docs.empty() ? DeviceBuffer() : t5::test::to_device(docs);
  const DeviceBuffer dtable = t5::test::to_device(table);
  const DeviceBuffer dbuckets = t5::test::to_device(buckets.table());
  const DeviceBuffer dout = t5::test::poisoned<T>(size(rows * out_ld));
  auto ga = sized_args<T, DeviceSpace>(c, kv_rows);
  ga.q = {dq.as<const T>(), rows, inner, q_ld};
  ga.k = {dkv.as<const T>(), kv_batch * kv_rows, inner, kv_ld};
  ga.v = {dkv.as<const T>() + inner, kv_batch * kv_rows, inner, kv_ld};
  ga.out = {dout.as<T>(), rows, inner, out_ld};
  ga.key_mask = mask.empty() ? nullptr : dmask.as<const std::uint8_t>();
  ga.key_mask_ld = mask_ld;
  ga.documents = docs.empty() ? nullptr : ddocs.as<const std::int32_t>();
  if (c.bias != Bias::None) ga.bias = {dtable.as<const float>(), dbuckets.as<const std::int32_t>(), buckets.reach()};
  const std::size_t workspace_bytes = t5::cuda::attention_workspace_bytes(c.batch, c.q_len, c.heads, c.head_dim, c.kv_len);
  const DeviceBuffer workspace = workspace_bytes > 0 ? t5::test::poisoned<unsigned char>(workspace_bytes) : DeviceBuffer();
  if (c.q_len == 1 && c.kv_len > 256 && (c.head_dim == 64 || c.head_dim == 128)) BOOST_TEST(workspace_bytes > 0u);  // split path
  t5::cuda::launch_attention(ga, workspace_bytes > 0 ? workspace.as<void>() : nullptr, workspace_bytes);
  const std::vector<T> out = t5::test::to_host<T>(dout, size(rows * out_ld));

  std::vector<T> got(size(rows * inner));
  std::size_t padding_written = 0, beyond_allowed = 0, empty_rows_nonzero = 0;
  for (std::int64_t r = 0; r < rows; ++r) {
    std::copy_n(out.begin() + r * out_ld, inner, got.begin() + r * inner);
    for (std::int64_t col = inner; col < out_ld; ++col) padding_written += out[size(r * out_ld + col)].bits != 0xffffu;
    const bool empty_row = c.mask == Mask::OneRowEmpty && r / c.q_len / c.kv_share == kv_batch - 1;
    for (std::int64_t col = 0; col < inner; ++col) {
      const float g = t5::to_float(got[size(r * inner + col)]), w = want[size(r * inner + col)];
      if (!(std::fabs(g - w) <= allowed_difference<T>(w))) ++beyond_allowed;  // NaN counts
      if (empty_row && g != 0.0f) ++empty_rows_nonzero;
    }
  }
  BOOST_TEST(padding_written == 0u);
  BOOST_TEST(beyond_allowed == 0u);
  BOOST_TEST(empty_rows_nonzero == 0u);  // no visible key: exactly zero, not NaN
  BOOST_TEST(t5::test::normwise_error<T>(got, want) <= normwise_bound<T>());
}

template <class T>
void run_all(std::uint32_t seed, std::int64_t max_length = INT64_MAX) {
  std::mt19937 rng(seed);
  for (const auto& c : cases) {
    if (std::max(c.q_len, c.kv_len) > max_length) continue;
    BOOST_TEST_CONTEXT(c.name) { check_case<T>(c, rng); }
  }
}

/// Small valid arguments on device buffers (a decode step that takes the split path), which the
/// rejection test breaks one field at a time.
struct SmallInputs {
  static constexpr std::int64_t batch = 2, heads = 2, head_dim = 64, kv_len = 300, inner = heads * head_dim;
  t5::cuda::DeviceBuffer q = t5::test::poisoned<t5::f16>(size(batch * inner));
  t5::cuda::DeviceBuffer kv = t5::test::poisoned<t5::f16>(size(batch * kv_len * inner));
  t5::cuda::DeviceBuffer out = t5::test::poisoned<t5::f16>(size(batch * inner));
  t5::cuda::DeviceBuffer table = t5::test::poisoned<float>(size(num_buckets * heads));
  t5::cuda::DeviceBuffer docs = t5::test::poisoned<std::int32_t>(size(batch));
  t5::RelativeBuckets buckets{false, num_buckets, 128};
  t5::cuda::DeviceBuffer bucket_table = t5::test::to_device(buckets.table());

  SmallInputs() {
    q.fill_bytes(0);
    kv.fill_bytes(0);
    table.fill_bytes(0);
  }

  t5::AttentionArgs<t5::f16, DeviceSpace> args() const {
    t5::AttentionArgs<t5::f16, DeviceSpace> a;
    a.q = {q.as<const t5::f16>(), batch, inner};
    a.k = {kv.as<const t5::f16>(), batch * kv_len, inner};
    a.v = a.k;
    a.out = {out.as<t5::f16>(), batch, inner};
    a.batch = batch;
    a.q_len = 1;
    a.kv_rows = kv_len;
    a.kv_len = kv_len;
    a.heads = heads;
    a.head_dim = head_dim;
    a.q_position = kv_len - 1;
    a.causal = true;
    a.bias = {table.as<const float>(), bucket_table.as<const std::int32_t>(), buckets.reach()};
    return a;
  }
};

bool invalid_argument(const t5::Error& e) { return e.code() == t5::ErrorCode::InvalidArgument; }

}  // namespace

BOOST_AUTO_TEST_SUITE(attention)

// Tolerances: see allowed_difference and normwise_bound.
BOOST_AUTO_TEST_CASE(float16_against_cpu) { run_all<t5::f16>(11); }
BOOST_AUTO_TEST_CASE(bfloat16_against_cpu) { run_all<t5::bf16>(12); }
// The compute-sanitizer list (tools/gpu_check.sh): every case of at most 128 queries and keys, once.
BOOST_AUTO_TEST_CASE(sanitizer_cases) { run_all<t5::bf16>(13, 128); }

// The split rule is part of the contract callers size their workspace with: one split per 256
// keys, at most 32, partials of (max, sum, head_dim accumulators) in fp32; none for short caches
// and for head dims without a decode kernel.
BOOST_AUTO_TEST_CASE(workspace_sizes) {
  using t5::cuda::attention_workspace_bytes;
  BOOST_TEST(attention_workspace_bytes(3, 1, 5, 64, 256) == 0u);
  BOOST_TEST(attention_workspace_bytes(3, 1, 5, 64, 257) == 3u * 5u * 2u * 66u * 4u);
  BOOST_TEST(attention_workspace_bytes(3, 1, 5, 64, 1000) == 3u * 5u * 4u * 66u * 4u);
  BOOST_TEST(attention_workspace_bytes(2, 1, 3, 128, 4000) == 2u * 3u * 16u * 130u * 4u);
  BOOST_TEST(attention_workspace_bytes(1, 1, 1, 64, 100000) == 32u * 66u * 4u);
  BOOST_TEST(attention_workspace_bytes(3, 1, 5, 96, 4000) == 0u);
  BOOST_TEST(attention_workspace_bytes(0, 1, 5, 64, 4000) == 0u);
  BOOST_TEST(attention_workspace_bytes(3, 2, 5, 64, 4000) == 0u);  // prefill never splits
}

BOOST_AUTO_TEST_CASE(rejects_bad_arguments) {
  const SmallInputs in;
  const std::size_t need = t5::cuda::attention_workspace_bytes(SmallInputs::batch, 1, SmallInputs::heads, SmallInputs::head_dim,
                                                               SmallInputs::kv_len);
  BOOST_TEST_REQUIRE(need > 0u);
  const auto workspace = t5::test::poisoned<unsigned char>(need);
  void* ws = workspace.as<void>();
  BOOST_CHECK_NO_THROW(t5::cuda::launch_attention(in.args(), ws, need));
  BOOST_CHECK_NO_THROW(t5::cuda::synchronize());

  const auto rejects = [&](auto&& breaks, void* w, std::size_t bytes) {
    auto a = in.args();
    breaks(a);
    BOOST_CHECK_EXCEPTION(t5::cuda::launch_attention(a, w, bytes), t5::Error, invalid_argument);
  };
  using Args = t5::AttentionArgs<t5::f16, DeviceSpace>;
  rejects([](Args&) {}, ws, need - 1);      // workspace too small
  rejects([](Args&) {}, nullptr, need);     // no workspace
  rejects([](Args& a) { a.q.cols -= 1; a.q.ld -= 1; }, ws, need);
  rejects([](Args& a) { a.out.cols += 1; a.out.ld += 1; }, ws, need);
  rejects([](Args& a) { a.k.cols -= 2; }, ws, need);
  rejects([](Args& a) { a.kv_len = a.kv_rows + 1; }, ws, need);
  rejects([](Args& a) { a.kv_share = 0; }, ws, need);
  rejects([](Args& a) { a.kv_share = 3; }, ws, need);  // does not divide the batch of 2
  rejects([&](Args& a) { a.documents = in.docs.as<const std::int32_t>(); }, ws, need);  // q_len 1 != kv_len 300
  rejects([](Args& a) { a.heads = 0; }, ws, need);
  rejects([](Args& a) { a.head_dim = 0; }, ws, need);
  rejects([](Args& a) { a.bias.buckets = nullptr; }, ws, need);
  rejects([](Args& a) { a.bias.reach = 5000; }, ws, need);  // the per-distance bias would not fit in shared memory
  rejects([&](Args& a) { a.key_mask = in.docs.as<const std::uint8_t>(); a.key_mask_ld = a.kv_len - 1; }, ws, need);

  // No rows: nothing to do, whatever the pointers.
  BOOST_CHECK_NO_THROW(t5::cuda::launch_attention([&] {
    auto a = in.args();
    a.batch = 0;
    a.q.rows = a.out.rows = 0;
    return a;
  }(), nullptr, 0));
}

BOOST_AUTO_TEST_SUITE_END()

#endif
