// cpu::Backend<float>: the reference implementation of the Backend concept (core/backend.hpp), with
// OpenMP threads, the vectorised kernels of cpu/kernels.hpp and the products of cpu/matmul.hpp.
// Activations and the residual are float32; sums of squares in double. The products run in float32
// (the oracle the GPU backend is measured against), or with bf16 or int8 weights and inputs when
// the backend is made with that MatmulPrecision.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "t5/core/backend.hpp"
#include "t5/core/batch.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/core/memory_size.hpp"
#include "t5/core/ops.hpp"
#include "t5/core/tensor.hpp"
#include "t5/cpu/kernels.hpp"
#include "t5/cpu/matmul.hpp"
#include "t5/cpu/sampling.hpp"

namespace t5::cpu {

/// An owning [rows, cols] host matrix.
template <class T>
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::int64_t rows, std::int64_t cols) : values_(static_cast<std::size_t>(rows * cols)), rows_(rows), cols_(cols) {}

  MatrixView<T> view() { return {values_.data(), rows_, cols_}; }
  ConstMatrixView<T> view() const { return {values_.data(), rows_, cols_}; }
  T* data() { return values_.data(); }
  const T* data() const { return values_.data(); }
  std::int64_t rows() const noexcept { return rows_; }
  std::int64_t cols() const noexcept { return cols_; }
  std::size_t bytes() const noexcept { return values_.size() * sizeof(T); }

 private:
  std::vector<T> values_;
  std::int64_t rows_ = 0;
  std::int64_t cols_ = 0;
};

/// A read-only [rows, cols] host weight: the checkpoint's bytes used in place (the mapped file kept
/// alive with it), or its own converted copy.
template <class T>
class Weight {
 public:
  Weight() = default;
  Weight(std::vector<T> values, std::int64_t rows, std::int64_t cols)
      : owned_(std::move(values)), data_(owned_.data()), rows_(rows), cols_(cols) {}
  Weight(const T* in_place, std::int64_t rows, std::int64_t cols, std::shared_ptr<const MappedFile> file)
      : file_(std::move(file)), data_(in_place), rows_(rows), cols_(cols) {}
  Weight(Weight&&) noexcept = default;  // a moved vector keeps its storage, so data_ stays valid
  Weight& operator=(Weight&&) noexcept = default;
  Weight(const Weight&) = delete;
  Weight& operator=(const Weight&) = delete;

  ConstMatrixView<T> view() const { return {data_, rows_, cols_}; }
  const T* data() const { return data_; }
  std::int64_t rows() const noexcept { return rows_; }
  std::int64_t cols() const noexcept { return cols_; }

 private:
  std::vector<T> owned_;
  std::shared_ptr<const MappedFile> file_;
  const T* data_ = nullptr;
  std::int64_t rows_ = 0;
  std::int64_t cols_ = 0;
};

template <class T>
class Backend {
  static_assert(std::is_same_v<T, float>, "the CPU reference runs in float32");

 public:
  using Act = T;
  using Space = HostSpace;
  template <class U>
  using Buffer = cpu::Buffer<U>;
  template <class U>
  using Weight = cpu::Weight<U>;
  using Projection = cpu::Projection;

  /// threads = 0: OpenMP's default (OMP_NUM_THREADS or the core count).
  explicit Backend(int threads = 0, MatmulPrecision precision = MatmulPrecision::F32)
      : threads_(resolve_threads(threads)), matmul_(threads_, precision) {}

  int threads() const noexcept { return threads_; }
  MatmulPrecision precision() const noexcept { return matmul_.precision(); }

  template <class U>
  Buffer<U> allocate(std::int64_t rows, std::int64_t cols) {
    return Buffer<U>(rows, cols);
  }
  template <class U>
  Buffer<U> upload(std::span<const U> host, std::int64_t rows, std::int64_t cols) {
    check(static_cast<std::int64_t>(host.size()) == rows * cols, "upload: size does not match the shape");
    Buffer<U> b(rows, cols);
    std::copy(host.begin(), host.end(), b.data());
    return b;
  }
  /// The [rows, cols] weight whose rows are those of `parts`, in order. A single part of a mapped
  /// file already in U and aligned for it is used in place (the weight keeps the mapping alive);
  /// otherwise the parts are converted once into the weight's own memory and their file pages released.
  template <class U>
  Weight<U> weight(std::span<const WeightSource> parts, std::int64_t rows, std::int64_t cols) {
    check(total_elements(parts) == rows * cols, "weight: the parts do not fill the shape");
    if (parts.size() == 1 && parts[0].file && parts[0].dtype == dtype_of<U>() &&
        reinterpret_cast<std::uintptr_t>(parts[0].bytes.data()) % alignof(U) == 0) {
      parts[0].check_finite();  // no conversion to check NaN/Inf during: one read of the bytes
      return Weight<U>(reinterpret_cast<const U*>(parts[0].bytes.data()), rows, cols, parts[0].file);
    }
    std::vector<U> values(static_cast<std::size_t>(rows * cols));
    convert_parts(parts, values.data());
    return Weight<U>(std::move(values), rows, cols);
  }

  /// A Linear weight [rows = out_features, cols = in_features] packed for linear(), in the
  /// backend's MatmulPrecision.
  Projection projection(std::span<const WeightSource> parts, std::int64_t rows, std::int64_t cols) { return matmul_.pack(parts, rows, cols); }

  /// Copies host values into backend memory (here: host memory).
  template <class U>
  void upload_into(std::span<const U> host, U* dst) {
    std::copy(host.begin(), host.end(), dst);
  }
  template <class U>
  void download(const U* src, std::span<U> host) {
    std::copy(src, src + host.size(), host.begin());
  }

  /// residual[i] = float(table[ids[i]]): the residual stream starts from the token embeddings.
  void embed(const std::int32_t* ids, ConstMatrixView<T> table, MatrixView<float> residual) {
    for (std::int64_t i = 0; i < residual.rows; ++i) {
      const T* src = table.row(ids[i]);
      std::copy(src, src + table.cols, residual.row(i));
    }
  }

  void rms_norm(const RmsNormParams<T>& p) {
    const Kernels& k = kernels();
    T5_OMP_PARALLEL_FOR
    for (std::int64_t r = 0; r < p.rows; ++r) {
      float* residual = p.residual + r * p.dim;
      k.residual_add(p.mode == ResidualMode::InPlace ? nullptr : p.x + r * p.dim, residual, p.dim, p.mode == ResidualMode::Start);
      const double mean_square = k.sum_squares(residual, p.dim) / static_cast<double>(p.dim);
      const auto inv_rms = static_cast<float>(1.0 / std::sqrt(mean_square + p.eps));
      k.scale_rows(residual, p.gain, inv_rms, p.residual_scale, p.out + r * p.dim, p.dim);
    }
  }

  /// out = alpha * x w^T (w is a Linear weight [out_features, in_features]).
  void linear(ConstMatrixView<T> x, const Projection& w, MatrixView<T> out, float alpha = 1.0f) { matmul_.run(x, w, out, alpha, false); }
  /// residual += alpha * x w^T: the out-projections add straight into the fp32 residual stream
  /// (alpha undoes an FfnScales hidden scale; only f16 models have one).
  void linear_add(ConstMatrixView<T> x, const Projection& w, MatrixView<float> residual, float alpha = 1.0f) {
    if (alpha == 1.0f) return matmul_.run(x, w, residual, 1.0f, true);
    grow(scaled_product_, x.rows * w.rows(), 0.0f);
    const MatrixView<float> product{scaled_product_.data(), x.rows, w.rows()};
    matmul_.run(x, w, product, alpha, false);
    for (std::int64_t r = 0; r < x.rows; ++r)
      for (std::int64_t c = 0; c < w.rows(); ++c) residual.row(r)[c] += product.row(r)[c];
  }

  void relu(MatrixView<T> x) {
    const Kernels& k = kernels();
    T5_OMP_PARALLEL_FOR
    for (std::int64_t r = 0; r < x.rows; ++r) k.relu(x.row(r), x.cols);
  }

  /// out = GELU(gate) * up, with in = [gate | up] (HF wi_0 then wi_1, fused) of width 2 * out.cols;
  /// with scales, out = s.hidden * GELU(gate / s.in) * up / s.in (FfnScales).
  void gated_gelu(ConstMatrixView<T> in, MatrixView<T> out, GeluApprox approx, FfnScales s = {}) {
    const std::int64_t f = out.cols;
    const Kernels& k = kernels();
    const float unscale = 1.0f / s.in;
    T5_OMP_PARALLEL_FOR
    for (std::int64_t r = 0; r < out.rows; ++r) {
      const T* gate = in.row(r);
      const T* up = gate + f;
      T* o = out.row(r);
      if (approx == GeluApprox::Tanh && s == FfnScales{})
        k.gelu_tanh_mul(gate, up, o, f);
      else
        for (std::int64_t c = 0; c < f; ++c) o[c] = s.hidden * gelu(gate[c] * unscale, approx) * (up[c] * unscale);
    }
  }

  static float gelu(float x, GeluApprox approx) {
    if (approx == GeluApprox::Tanh)  // HF NewGELUActivation ("gelu_new")
      return 0.5f * x * (1.0f + std::tanh(0.7978845608028654f * (x + 0.044715f * x * x * x)));
    return 0.5f * x * (1.0f + std::erf(x * 0.7071067811865476f));  // HF GELUActivation ("gelu")
  }

  void copy(ConstMatrixView<T> src, MatrixView<T> dst) {
    check(src.rows == dst.rows && src.cols == dst.cols, "copy: shapes differ");
    for (std::int64_t r = 0; r < src.rows; ++r) std::copy(src.row(r), src.row(r) + src.cols, dst.row(r));
  }

  /// For every block r of `block_rows` rows, the first `used_rows` rows of dst's block r become those
  /// of src's block parents[r]: beam search's cache reorder (src and dst do not overlap).
  void gather_blocks(ConstMatrixView<T> src, const std::int32_t* parents, std::int64_t block_rows, std::int64_t used_rows, MatrixView<T> dst) {
    check(src.rows == dst.rows && src.cols == dst.cols && block_rows > 0 && src.rows % block_rows == 0, "gather_blocks: shapes differ");
    for (std::int64_t r = 0; r < src.rows / block_rows; ++r) copy(src.rows_from(parents[r] * block_rows, used_rows), dst.rows_from(r * block_rows, used_rows));
  }

  /// out[r] = the first index of the largest value of row r (torch.argmax's tie rule).
  void argmax(ConstMatrixView<float> logits, std::int32_t* out) {
    for (std::int64_t r = 0; r < logits.rows; ++r) {
      const std::span<const float> row(logits.row(r), static_cast<std::size_t>(logits.cols));
      out[r] = first_nonfinite_row(row, logits.cols) >= 0 ? nonfinite_token
                                                          : static_cast<std::int32_t>(std::max_element(row.begin(), row.end()) - row.begin());
    }
  }

  /// out[r] = a sampling draw from row r: cpu/sampling.hpp's warpers, then sample_token (which
  /// throws Error(InvalidArgument) when the warpers leave no token).
  void sample(ConstMatrixView<float> logits, const SampleArgs& a, std::int32_t* out) {
    if (warpers_.vocab() < logits.cols) {  // the first draw of this width sizes the scratch
      warpers_ = SamplingWarpers(logits.cols);
      sample_row_.resize(static_cast<std::size_t>(logits.cols));
    }
    const std::span<float> row(sample_row_.data(), static_cast<std::size_t>(logits.cols));
    for (std::int64_t r = 0; r < logits.rows; ++r) {
      std::copy(logits.row(r), logits.row(r) + logits.cols, row.begin());
      if (first_nonfinite_row(row, logits.cols) >= 0) {
        out[r] = nonfinite_token;
        continue;
      }
      out[r] = warp_and_sample(warpers_, row, a, a.row_keys[r / a.samples_per_key], r % a.samples_per_key);
    }
  }

  /// Sizes the attention scratch for calls up to these sizes, so that a decode loop that reserved
  /// its final length allocates nothing per step.
  void reserve_attention(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t /*head_dim*/, std::int64_t kv_len) {
    const std::int64_t n = std::max<std::int64_t>(kv_len, 1);
    grow(scores_, score_rows(batch, q_len, heads, n) * n, 0.0f);
    grow(relative_, heads * (n + q_len), 0.0f);
    grow(zeros_, n, 0.0f);
    grow(ones_, n, std::uint8_t{1});
  }

  /// What reserve_attention and attention hold for these sizes: the score rows, the bias rows and,
  /// with bf16 attention operands, their copies (an upper bound on the key rows they copy).
  std::uint64_t attention_scratch_bytes(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t head_dim,
                                        std::int64_t kv_len) const {
    const std::int64_t n = std::max<std::int64_t>(kv_len, 1);
    // Every score of the call in int64 bounds the products score_rows forms.
    if (checked_product(checked_product(batch, heads), checked_product(q_len, n)) < 0) return Bytes::saturated;
    Bytes bytes;
    bytes.add({score_rows(batch, q_len, heads, n), n, 4 + 2}).add({heads, n + q_len, 4}).add({n, 5});
    if (precision() != MatmulPrecision::F32) bytes.add({batch, q_len + 2 * n, heads, head_dim, 2});
    return bytes.total();
  }
  /// The machine's physical memory: what a request's working memory is measured against.
  std::uint64_t memory_bytes() const { return host_memory_bytes(); }

  void attention(const AttentionArgs<T, HostSpace>& a) {
    check(a.kv_len <= a.kv_rows && a.q.cols == a.heads * a.head_dim && a.out.cols == a.q.cols, "attention: inconsistent sizes");
    check(a.documents == nullptr || a.q_len == a.kv_len, "attention: packed documents need q_len == kv_len");
    check(a.kv_share >= 1 && a.batch % a.kv_share == 0, "attention: kv_share must divide the batch");
    reserve_attention(a.batch, a.q_len, a.heads, a.head_dim, a.kv_len);
    if (a.kv_len == 0) {  // no key at all: every query sees none, so zeros
      for (std::int64_t r = 0; r < a.out.rows; ++r) std::fill(a.out.row(r), a.out.row(r) + a.out.cols, 0.0f);
      return;
    }
    relative_bias(a);
    if (a.q_len == 1) {  // a decode step: one query per (row, head), its keys growing every step
      const Kernels& k = kernels();
      const std::int64_t n = a.kv_len, d = a.head_dim, tasks = a.batch * a.heads;
      T5_OMP_PARALLEL_FOR
      for (std::int64_t t = 0; t < tasks; ++t) {
        const std::int64_t b = t / a.heads, h = t % a.heads, kb = b / a.kv_share;
        float* s = scores_.data() + t * n;
        k.dot_rows(a.q.row(b) + h * d, a.k.row(kb * a.kv_rows) + h * d, a.k.ld, n, d, s);
        finish_scores(a, b, h, 0, s);
        k.weighted_rows(s, a.v.row(kb * a.kv_rows) + h * d, a.v.ld, n, d, a.out.row(b) + h * d);
      }
      return;
    }
#if T5CC_HAVE_ONEDNN
    // Batched over (groups of batch rows sharing keys) x heads: q k^T and p v as two oneDNN products
    // on strided views of q, k, v, the score rows finished in between; groups in chunks whose scores
    // fit the scratch. With bf16 or int8 products, the attention products take bf16 inputs too
    // (q, k, v and the probabilities rounded once; float32 accumulation, scores and output).
    const std::int64_t group_rows = a.kv_share * a.q_len, groups = a.batch / a.kv_share, n = a.kv_len, d = a.head_dim, h = a.heads;
    grow(scores_, h * group_rows * n, 0.0f);  // one group at least (reserve_attention does not know kv_share)
    const auto chunk = static_cast<std::int64_t>(scores_.size()) / (h * group_rows * n);
    const bool bf16 = precision() != MatmulPrecision::F32;
    Operand q{a.q.data, a.q.ld}, k{a.k.data, a.k.ld}, v{a.v.data, a.v.ld};
    if (bf16) {
      q = to_bf16(a.q, q16_);
      k = to_bf16(a.k.rows_from(0, groups * a.kv_rows), k16_);
      v = to_bf16(a.v.rows_from(0, groups * a.kv_rows), v16_);
      grow(p16_, static_cast<std::int64_t>(scores_.size()), std::uint16_t{0});
    }
    const Kernels& kern = kernels();
    for (std::int64_t g0 = 0; g0 < groups; g0 += chunk) {
      const std::int64_t gc = std::min(chunk, groups - g0);
      const std::array<std::int64_t, 4> score_dims{gc, h, group_rows, n}, score_strides{h * group_rows * n, group_rows * n, n, 1};
      matmul_.batched({q.at(g0 * group_rows, bf16), {gc, h, group_rows, d}, {group_rows * q.ld, d, q.ld, 1}, bf16},
                      {k.at(g0 * a.kv_rows, bf16), {gc, h, d, n}, {a.kv_rows * k.ld, d, 1, k.ld}, bf16}, {scores_.data(), score_dims, score_strides});
      const std::int64_t rows = gc * h * group_rows;
      T5_OMP_PARALLEL_FOR
      for (std::int64_t r = 0; r < rows; ++r) {
        const std::int64_t g = g0 + r / (h * group_rows), head = r / group_rows % h, row = r % group_rows;
        float* s = scores_.data() + r * n;
        finish_scores(a, g * a.kv_share + row / a.q_len, head, row % a.q_len, s);
        if (bf16) kern.to_bf16(s, p16_.data() + r * n, n);
      }
      const Matmul::Strided p = bf16 ? Matmul::Strided{p16_.data(), score_dims, score_strides, true} : Matmul::Strided{scores_.data(), score_dims, score_strides};
      matmul_.batched(p, {v.at(g0 * a.kv_rows, bf16), {gc, h, n, d}, {a.kv_rows * v.ld, d, v.ld, 1}, bf16},
                      {a.out.data + g0 * group_rows * a.out.ld, {gc, h, group_rows, d}, {group_rows * a.out.ld, d, a.out.ld, 1}});
    }
#else
    const std::int64_t blocks = (a.q_len + q_block - 1) / q_block;
    const std::int64_t tasks = a.batch * a.heads * blocks;
    T5_OMP_PARALLEL_FOR
    for (std::int64_t task = 0; task < tasks; ++task) attention_block(a, task / (a.heads * blocks), task / blocks % a.heads, task % blocks);
#endif
  }

 private:
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  static constexpr std::int64_t q_block = 64;
  static void check(bool ok, const char* what) {
    if (!ok) throw Error(ErrorCode::InvalidArgument, std::string("cpu::Backend ") + what);
  }

  static ConstMap map(ConstMatrixView<T> m) { return {m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)}; }
  static Map map(MatrixView<T> m) { return {m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)}; }

  // Score rows the scratch holds: a decode step one per (batch row, head); oneDNN's path keeps whole groups of batch rows (all heads, all
  // queries) up to 4M scores (16 MiB), at least one group; Eigen's path one q_block per thread.
  std::int64_t score_rows(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t n) const {
    if (q_len == 1) return batch * heads;  // decode steps: one row per (batch row, head)
#if T5CC_HAVE_ONEDNN
    constexpr std::int64_t budget = std::int64_t{1} << 22;
    const std::int64_t per_batch_row = heads * q_len;
    return std::min(batch, std::max<std::int64_t>(1, budget / (per_batch_row * n))) * per_batch_row;
#else
    (void)batch, (void)q_len, (void)heads, (void)n;
    return threads_ * q_block;
#endif
  }

#if T5CC_HAVE_ONEDNN
  // An attention operand: float32 rows of the projections' output, or their bf16 copy.
  struct Operand {
    const void* data;
    std::int64_t ld;
    const void* at(std::int64_t row, bool bf16) const {
      return static_cast<const std::byte*>(data) + static_cast<std::size_t>(row * ld) * (bf16 ? 2 : 4);
    }
  };
  // The bf16 copy of a float32 view, rows packed (ld = cols), in `buffer`.
  Operand to_bf16(ConstMatrixView<T> view, std::vector<std::uint16_t>& buffer) {
    grow(buffer, view.rows * view.cols, std::uint16_t{0});
    const Kernels& k = kernels();
    T5_OMP_PARALLEL_FOR
    for (std::int64_t r = 0; r < view.rows; ++r) k.to_bf16(view.row(r), buffer.data() + r * view.cols, view.cols);
    return {buffer.data(), view.cols};
  }
#endif

  template <class U>
  static void grow(std::vector<U>& v, std::int64_t size, U fill) {
    if (static_cast<std::int64_t>(v.size()) < size) v.resize(static_cast<std::size_t>(size), fill);
  }

  // relative_[h * span + t] = the bias of head h at distance t - (q_position + q_len - 1), for every
  // distance a query of this call sees, so that each score row adds a contiguous slice.
  void relative_bias(const AttentionArgs<T, HostSpace>& a) {
    if (!a.bias.table) return;
    const std::int64_t span = a.kv_len + a.q_len, offset = a.q_position + a.q_len - 1;
    for (std::int64_t h = 0; h < a.heads; ++h)
      for (std::int64_t t = 0; t < span; ++t)
        relative_[h * span + t] = a.bias.table[a.bias.buckets[std::clamp(t - offset, -a.bias.reach, a.bias.reach) + a.bias.reach] * a.heads + h];
  }

  // The score row s of query i (of q_len) of batch row b, head h: scale, bias and visibility, then
  // the softmax.
  void finish_scores(const AttentionArgs<T, HostSpace>& a, std::int64_t b, std::int64_t h, std::int64_t i, float* s) const {
    const std::int64_t n = a.kv_len, position = a.q_position + i;
    const std::int64_t span = a.kv_len + a.q_len, offset = a.q_position + a.q_len - 1;
    const float* bias = a.bias.table ? relative_.data() + h * span + (offset - position) : zeros_.data();
    const std::uint8_t* mask = a.key_mask ? a.key_mask + (b / a.kv_share) * a.key_mask_ld : ones_.data();
    const Kernels& k = kernels();
    k.score_row(s, bias, mask, n, a.causal ? std::min(position + 1, n) : n, a.scale);
    if (a.documents) {
      const std::int32_t* docs = a.documents + b * a.q_len;
      for (std::int64_t j = 0; j < n; ++j)
        if (docs[j] != docs[i]) s[j] = -std::numeric_limits<float>::infinity();
    }
    if (!k.softmax(s, n)) std::fill(s, s + n, 0.0f);  // no visible key: zeros
  }

#if !T5CC_HAVE_ONEDNN
  void attention_block(const AttentionArgs<T, HostSpace>& a, std::int64_t b, std::int64_t h, std::int64_t blk) {
    const std::int64_t first = blk * q_block, count = std::min(q_block, a.q_len - first);
    const std::int64_t d = a.head_dim, n = a.kv_len;
#ifdef _OPENMP
    const int thread = omp_get_thread_num();
#else
    const int thread = 0;
#endif
    float* scores_data = scores_.data() + static_cast<std::size_t>(thread) * q_block * n;
    Eigen::Map<RowMajor> scores(scores_data, count, n);
    const auto q = map(a.q.rows_from(b * a.q_len + first, count).cols_from(h * d, d));
    const std::int64_t kb = b / a.kv_share;  // the key row this batch row reads
    const auto k = map(a.k.rows_from(kb * a.kv_rows, n).cols_from(h * d, d));
    const auto v = map(a.v.rows_from(kb * a.kv_rows, n).cols_from(h * d, d));
    scores.noalias() = q * k.transpose();  // scaled by finish_scores (Eigen would copy q to scale it)
    for (std::int64_t i = 0; i < count; ++i) finish_scores(a, b, h, first + i, scores_data + i * n);
    map(a.out.rows_from(b * a.q_len + first, count).cols_from(h * d, d)).noalias() = scores * v;
  }
#endif


  static int resolve_threads(int threads) {
#ifdef _OPENMP
    return threads > 0 ? threads : omp_get_max_threads();
#else
    (void)threads;
    return 1;
#endif
  }

  int threads_ = 1;
  Matmul matmul_;
  std::vector<float> scores_;       // attention scores (see score_rows)
  std::vector<float> relative_;     // relative_bias()
  std::vector<float> zeros_;        // the bias row of attention without one
  std::vector<std::uint8_t> ones_;  // the key mask of attention without one
  std::vector<std::uint16_t> q16_, k16_, v16_, p16_;  // bf16 attention operands (bf16 and int8 products)
  SamplingWarpers warpers_;
  std::vector<float> sample_row_;
  std::vector<float> scaled_product_;  // linear_add with alpha != 1
};

static_assert(t5::Backend<Backend<float>>);

}  // namespace t5::cpu

#include "t5/cpu/half_backend.hpp"  // cpu::Backend<f16> and <bf16>, over this one
