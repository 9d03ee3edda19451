// cpu::Backend<float>: the reference implementation of the Backend concept (core/backend.hpp),
// with Eigen products on row-major maps and OpenMP threads. Float32 throughout; sums of squares in
// double. This is the oracle the GPU backend is measured against.
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

#ifdef _OPENMP
#include <omp.h>
// A parallel loop over the backend's threads_ (a member of every class using it).
#define T5_OMP_PARALLEL_FOR _Pragma("omp parallel for num_threads(threads_) schedule(static)")
#else
#define T5_OMP_PARALLEL_FOR
#endif

#include "t5/core/backend.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/core/ops.hpp"
#include "t5/core/tensor.hpp"
#include "t5/cpu/rms_norm.hpp"
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

  /// threads = 0: OpenMP's default (OMP_NUM_THREADS or the core count).
  explicit Backend(int threads = 0) {
#ifdef _OPENMP
    threads_ = threads > 0 ? threads : omp_get_max_threads();
#else
    threads_ = 1;
    (void)threads;
#endif
  }

  int threads() const noexcept { return threads_; }

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
  /// The [rows, cols] weight whose rows are those of `parts`, in order. A single part already in U
  /// and aligned for it is used in place, from the mapping; otherwise the parts are converted once
  /// into the weight's own memory and their file pages released.
  template <class U>
  Weight<U> weight(std::span<const WeightSource> parts, std::int64_t rows, std::int64_t cols) {
    check(total_elements(parts) == rows * cols, "weight: the parts do not fill the shape");
    if (parts.size() == 1 && parts[0].dtype == dtype_of<U>() && reinterpret_cast<std::uintptr_t>(parts[0].bytes.data()) % alignof(U) == 0)
      return Weight<U>(reinterpret_cast<const U*>(parts[0].bytes.data()), rows, cols, parts[0].file);
    std::vector<U> values(static_cast<std::size_t>(rows * cols));
    U* dst = values.data();
    for (const auto& p : parts) {
      convert_elements(p.bytes, p.dtype, dst);
      dst += p.elements();
      p.release();
    }
    return Weight<U>(std::move(values), rows, cols);
  }

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

  void rms_norm(const RmsNormParams<T>& p) { cpu::rms_norm(p); }

  /// out = alpha * x w^T (w is a Linear weight [out_features, in_features]).
  void linear(ConstMatrixView<T> x, ConstMatrixView<T> w, MatrixView<T> out, float alpha = 1.0f) {
    product(x, w, out, alpha, false);
  }
  /// residual += x w^T: the out-projections add straight into the fp32 residual stream.
  void linear_add(ConstMatrixView<T> x, ConstMatrixView<T> w, MatrixView<float> residual) { product(x, w, residual, 1.0f, true); }

  void relu(MatrixView<T> x) {
    for (std::int64_t r = 0; r < x.rows; ++r)
      for (std::int64_t c = 0; c < x.cols; ++c) x.row(r)[c] = std::max(x.row(r)[c], T(0));
  }

  /// out = GELU(gate) * up, with in = [gate | up] (HF wi_0 then wi_1, fused) of width 2 * out.cols.
  void gated_gelu(ConstMatrixView<T> in, MatrixView<T> out, GeluApprox approx) {
    const std::int64_t f = out.cols;
    T5_OMP_PARALLEL_FOR
    for (std::int64_t r = 0; r < out.rows; ++r) {
      const T* gate = in.row(r);
      const T* up = gate + f;
      T* o = out.row(r);
      for (std::int64_t c = 0; c < f; ++c) o[c] = gelu(gate[c], approx) * up[c];
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
      const float* row = logits.row(r);
      out[r] = static_cast<std::int32_t>(std::max_element(row, row + logits.cols) - row);
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
      out[r] = warp_and_sample(warpers_, row, a, a.row_keys[r / a.samples_per_key], r % a.samples_per_key);
    }
  }

  /// Sizes the per-thread score scratch for attention calls up to kv_len keys, so that a decode
  /// loop that reserved its final length allocates nothing per step.
  void reserve_attention(std::int64_t /*batch*/, std::int64_t /*q_len*/, std::int64_t /*heads*/, std::int64_t /*head_dim*/, std::int64_t kv_len) {
    const auto need = static_cast<std::size_t>(threads_ * q_block * std::max<std::int64_t>(kv_len, 1));
    if (scores_.size() < need) scores_.resize(need);
  }

  void attention(const AttentionArgs<T, HostSpace>& a) {
    check(a.kv_len <= a.kv_rows && a.q.cols == a.heads * a.head_dim && a.out.cols == a.q.cols, "attention: inconsistent sizes");
    check(a.documents == nullptr || a.q_len == a.kv_len, "attention: packed documents need q_len == kv_len");
    check(a.kv_share >= 1 && a.batch % a.kv_share == 0, "attention: kv_share must divide the batch");
    reserve_attention(a.batch, a.q_len, a.heads, a.head_dim, a.kv_len);
    const std::int64_t blocks = (a.q_len + q_block - 1) / q_block;
    const std::int64_t tasks = a.batch * a.heads * blocks;
    T5_OMP_PARALLEL_FOR
    for (std::int64_t task = 0; task < tasks; ++task) attention_block(a, task / (a.heads * blocks), task / blocks % a.heads, task % blocks);
  }

 private:
  using RowMajor = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  static constexpr std::int64_t q_block = 64;
  // Up to this many rows a product runs as one matrix-vector product per row, split over threads
  // by blocks of weight rows: no GEMM packing buffers (Eigen allocates them on every GEMM, so a
  // decode step of up to 64 rows, beams included, allocates nothing), and each weight block is read
  // while it is in cache. Measured on flan-t5-small's shapes, 2 threads: 10% faster than Eigen's GEMM
  // at 32 rows, 4% slower at 64.
  static constexpr std::int64_t gemv_rows = 64;

  static void check(bool ok, const char* what) {
    if (!ok) throw Error(ErrorCode::InvalidArgument, std::string("cpu::Backend ") + what);
  }

  static ConstMap map(ConstMatrixView<T> m) { return {m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)}; }
  static Map map(MatrixView<T> m) { return {m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)}; }

  // out (+)= x w^T, then out *= alpha. Eigen turns alpha * (x * w^T) into (alpha * x) * w^T and
  // materialises alpha * x in a heap temporary; scaling the result instead allocates nothing.
  void product(ConstMatrixView<T> x, ConstMatrixView<T> w, MatrixView<float> out, float alpha, bool accumulate) {
    check(x.cols == w.cols && out.rows == x.rows && out.cols == w.rows, "linear: shapes do not match");
    check(alpha == 1.0f || !accumulate, "linear: a scaled product cannot accumulate");
    if (x.rows <= gemv_rows) {
      constexpr std::int64_t block = 256;
      const std::int64_t blocks = (w.rows + block - 1) / block;
      T5_OMP_PARALLEL_FOR
      for (std::int64_t blk = 0; blk < blocks; ++blk) {
        const std::int64_t first = blk * block, count = std::min(block, w.rows - first);
        const auto wb = map(w.rows_from(first, count));
        for (std::int64_t r = 0; r < x.rows; ++r) {
          auto dst = map(out.rows_from(r, 1).cols_from(first, count));
          if (accumulate)
            dst.noalias() += map(x.rows_from(r, 1)) * wb.transpose();
          else
            dst.noalias() = map(x.rows_from(r, 1)) * wb.transpose();
          if (alpha != 1.0f) dst *= alpha;
        }
      }
      return;
    }
    Eigen::setNbThreads(threads_);
    auto dst = map(out);
    if (accumulate)
      dst.noalias() += map(x) * map(w).transpose();
    else
      dst.noalias() = map(x) * map(w).transpose();
    if (alpha != 1.0f) dst *= alpha;
  }

  void attention_block(const AttentionArgs<T, HostSpace>& a, std::int64_t b, std::int64_t h, std::int64_t blk) {
    const std::int64_t first = blk * q_block, count = std::min(q_block, a.q_len - first);
    const std::int64_t d = a.head_dim, n = a.kv_len;
#ifdef _OPENMP
    const int thread = omp_get_thread_num();
#else
    const int thread = 0;
#endif
    float* scores_data = scores_.data() + static_cast<std::size_t>(thread) * q_block * std::max<std::int64_t>(n, 1);
    Eigen::Map<RowMajor> scores(scores_data, count, n);
    const auto q = map(a.q.rows_from(b * a.q_len + first, count).cols_from(h * d, d));
    const std::int64_t kb = b / a.kv_share;  // the key row this batch row reads
    const auto k = map(a.k.rows_from(kb * a.kv_rows, n).cols_from(h * d, d));
    const auto v = map(a.v.rows_from(kb * a.kv_rows, n).cols_from(h * d, d));
    scores.noalias() = q * k.transpose();  // scaled below: see product()
    if (a.scale != 1.0f) scores *= a.scale;

    const std::uint8_t* key_mask = a.key_mask ? a.key_mask + kb * a.key_mask_ld : nullptr;
    const std::int32_t* docs = a.documents ? a.documents + b * a.q_len : nullptr;
    for (std::int64_t i = 0; i < count; ++i) {
      const std::int64_t position = a.q_position + first + i;
      float* s = scores_data + i * n;
      float max = -std::numeric_limits<float>::infinity();
      for (std::int64_t j = 0; j < n; ++j) {
        const bool visible = (!key_mask || key_mask[j]) && (!a.causal || j <= position) && (!docs || docs[j] == docs[first + i]);
        if (!visible) {
          s[j] = -std::numeric_limits<float>::infinity();
          continue;
        }
        if (a.bias.table) s[j] += a.bias.table[a.bias.buckets[std::clamp(j - position, -a.bias.reach, a.bias.reach) + a.bias.reach] * a.heads + h];
        max = std::max(max, s[j]);
      }
      if (max == -std::numeric_limits<float>::infinity()) {  // no visible key: zeros
        std::fill(s, s + n, 0.0f);
        continue;
      }
      float sum = 0.0f;
      for (std::int64_t j = 0; j < n; ++j) {
        s[j] = s[j] == -std::numeric_limits<float>::infinity() ? 0.0f : std::exp(s[j] - max);
        sum += s[j];
      }
      const float inv = 1.0f / sum;
      for (std::int64_t j = 0; j < n; ++j) s[j] *= inv;
    }
    map(a.out.rows_from(b * a.q_len + first, count).cols_from(h * d, d)).noalias() = scores * v;
  }

  int threads_ = 1;
  std::vector<float> scores_;
  SamplingWarpers warpers_;
  std::vector<float> sample_row_;
};

static_assert(t5::Backend<Backend<float>>);

}  // namespace t5::cpu
