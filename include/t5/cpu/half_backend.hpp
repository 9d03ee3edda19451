// cpu::Backend<f16> and cpu::Backend<bf16>: cuda::Backend<T>'s numbers on a machine without a GPU.
// Activations and weights are stored in T at exactly the points where the CUDA backend stores
// them (each Linear's output, the norm outputs, attention's q, k, v and output, the feed-forward
// hidden); every product, norm, softmax and GELU runs in float32 on the values widened from T
// (exactly), by cpu::Backend<float>, and is rounded once to T; the residual stream is float32.
// What differs from the GPU is only the order of float32 additions. So overflow, underflow and
// the f16 scales can be studied and tested here, and a GPU run compared with this one op by op.
// It is a reference for low precision, not a fast path: each op widens its inputs into scratch.
#pragma once

#include <algorithm>
#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "t5/cpu/backend.hpp"

namespace t5::cpu {

template <class T>
concept HalfFloat = std::same_as<T, f16> || std::same_as<T, bf16>;

template <HalfFloat T>
class Backend<T> {
 public:
  using Act = T;
  using Space = HostSpace;
  template <class U>
  using Buffer = cpu::Buffer<U>;
  template <class U>
  using Weight = cpu::Weight<U>;
  using Projection = cpu::Projection;  // float32 products of the weights' T values

  /// The products run in float32 on T's values: `precision` must be F32 (the argument exists so
  /// that Model makes every CPU backend alike).
  explicit Backend(int threads = 0, MatmulPrecision precision = MatmulPrecision::F32)
      : f32_(threads, MatmulPrecision::F32), threads_(f32_.threads()) {
    if (precision != MatmulPrecision::F32)
      throw Error(ErrorCode::InvalidArgument, std::string("cpu::Backend<") + std::string(dtype_name(dtype_of<T>())) +
                                                  "> runs float32 products on its values, not " + precision_name(precision));
  }

  int threads() const noexcept { return f32_.threads(); }
  MatmulPrecision precision() const noexcept { return MatmulPrecision::F32; }

  template <class U>
  Buffer<U> allocate(std::int64_t rows, std::int64_t cols) {
    return f32_.template allocate<U>(rows, cols);
  }
  template <class U>
  Buffer<U> upload(std::span<const U> host, std::int64_t rows, std::int64_t cols) {
    return f32_.template upload<U>(host, rows, cols);
  }
  template <class U>
  Weight<U> weight(std::span<const WeightSource> parts, std::int64_t rows, std::int64_t cols) {
    return f32_.template weight<U>(parts, rows, cols);
  }
  /// The weight rounded to T (an F32 value beyond f16's range is refused, naming the tensor), held
  /// as float32 for the products.
  Projection projection(std::span<const WeightSource> parts, std::int64_t rows, std::int64_t cols) {
    std::vector<T> rounded(static_cast<std::size_t>(rows * cols));
    convert_parts(parts, rounded.data());
    std::vector<float> values(rounded.size());
    std::transform(rounded.begin(), rounded.end(), values.begin(), [](T v) { return to_float(v); });
    const WeightSource source{std::as_bytes(std::span<const float>(values)), DType::F32, nullptr, parts.empty() ? "" : parts[0].name};
    return f32_.projection(std::span<const WeightSource>(&source, 1), rows, cols);
  }
  template <class U>
  void upload_into(std::span<const U> host, U* dst) {
    f32_.upload_into(host, dst);
  }
  template <class U>
  void download(const U* src, std::span<U> host) {
    f32_.download(src, host);
  }

  void embed(const std::int32_t* ids, ConstMatrixView<float> table, MatrixView<float> residual) { f32_.embed(ids, table, residual); }

  void rms_norm(const RmsNormParams<T>& p) {
    RmsNormParams<float> wide{nullptr, p.residual, p.gain, nullptr, p.rows, p.dim, p.eps, p.residual_scale, p.mode};
    if (p.mode != ResidualMode::InPlace) wide.x = widen({p.x, p.rows, p.dim}, in_).data;
    const MatrixView<float> out = scratch(out_, p.rows, p.dim);
    wide.out = out.data;
    f32_.rms_norm(wide);
    round(out, {p.out, p.rows, p.dim});
  }

  /// out = alpha * x w^T, rounded once to T.
  void linear(ConstMatrixView<T> x, const Projection& w, MatrixView<T> out, float alpha = 1.0f) {
    const MatrixView<float> product = scratch(out_, out.rows, out.cols);
    f32_.linear(widen(x, in_), w, product, alpha);
    round(product, out);
  }
  /// out = alpha * x w^T in float32 (the LM head's logits).
  void linear(ConstMatrixView<T> x, const Projection& w, MatrixView<float> out, float alpha = 1.0f) { f32_.linear(widen(x, in_), w, out, alpha); }
  /// residual += alpha * x w^T in float32: the out-projection's output never exists in T.
  void linear_add(ConstMatrixView<T> x, const Projection& w, MatrixView<float> residual, float alpha = 1.0f) {
    f32_.linear_add(widen(x, in_, alpha), w, residual);  // alpha is a power of two (FfnScales): exact on x
  }

  void relu(MatrixView<T> x) {
    for (std::int64_t r = 0; r < x.rows; ++r)
      for (T* v = x.row(r); v != x.row(r) + x.cols; ++v)
        if (to_float(*v) < 0.0f) *v = T{0};
  }

  void gated_gelu(ConstMatrixView<T> in, MatrixView<T> out, GeluApprox approx, FfnScales s = {}) {
    const MatrixView<float> hidden = scratch(out_, out.rows, out.cols);
    f32_.gated_gelu(widen(in, in_), hidden, approx, s);
    round(hidden, out);
  }

  void attention(const AttentionArgs<T, HostSpace>& a) {
    const std::int64_t key_rows = a.batch / std::max<std::int64_t>(a.kv_share, 1) * a.kv_rows;
    AttentionArgs<float, HostSpace> wide;
    wide.q = widen(a.q, q_), wide.k = widen(a.k.rows_from(0, key_rows), k_), wide.v = widen(a.v.rows_from(0, key_rows), v_);
    wide.out = scratch(out_, a.out.rows, a.out.cols);
    wide.batch = a.batch, wide.q_len = a.q_len, wide.kv_rows = a.kv_rows, wide.kv_len = a.kv_len, wide.kv_share = a.kv_share;
    wide.heads = a.heads, wide.head_dim = a.head_dim, wide.q_position = a.q_position, wide.scale = a.scale, wide.causal = a.causal;
    wide.key_mask = a.key_mask, wide.key_mask_ld = a.key_mask_ld, wide.documents = a.documents, wide.bias = a.bias;
    f32_.attention(wide);
    round(wide.out, a.out);
  }

  void copy(ConstMatrixView<T> src, MatrixView<T> dst) {
    if (src.rows != dst.rows || src.cols != dst.cols) throw Error(ErrorCode::InvalidArgument, "cpu::Backend copy: shapes differ");
    for (std::int64_t r = 0; r < src.rows; ++r) std::copy(src.row(r), src.row(r) + src.cols, dst.row(r));
  }
  void gather_blocks(ConstMatrixView<T> src, const std::int32_t* parents, std::int64_t block_rows, std::int64_t used_rows, MatrixView<T> dst) {
    if (src.rows != dst.rows || src.cols != dst.cols || block_rows <= 0 || src.rows % block_rows != 0)
      throw Error(ErrorCode::InvalidArgument, "cpu::Backend gather_blocks: shapes differ");
    for (std::int64_t r = 0; r < src.rows / block_rows; ++r) copy(src.rows_from(parents[r] * block_rows, used_rows), dst.rows_from(r * block_rows, used_rows));
  }

  void argmax(ConstMatrixView<float> logits, std::int32_t* out) { f32_.argmax(logits, out); }
  void sample(ConstMatrixView<float> logits, const SampleArgs& a, std::int32_t* out) { f32_.sample(logits, a, out); }
  void reserve_attention(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t head_dim, std::int64_t kv_len) {
    f32_.reserve_attention(batch, q_len, heads, head_dim, kv_len);
  }
  /// The float32 backend's scratch plus the widened q, k, v and output.
  std::uint64_t attention_scratch_bytes(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t head_dim,
                                        std::int64_t kv_len) const {
    Bytes bytes;
    bytes.add_bytes(f32_.attention_scratch_bytes(batch, q_len, heads, head_dim, kv_len)).add({batch, 2 * q_len + 2 * kv_len, heads, head_dim, 4});
    return bytes.total();
  }
  std::uint64_t memory_bytes() const { return f32_.memory_bytes(); }

 private:
  static MatrixView<float> scratch(std::vector<float>& buffer, std::int64_t rows, std::int64_t cols) {
    if (buffer.size() < static_cast<std::size_t>(rows * cols)) buffer.resize(static_cast<std::size_t>(rows * cols));
    return {buffer.data(), rows, cols};
  }
  /// `view` widened to float32 (times `scale`, a power of two) in `buffer`, rows packed.
  MatrixView<float> widen(ConstMatrixView<T> view, std::vector<float>& buffer, float scale = 1.0f) {
    const MatrixView<float> wide = scratch(buffer, view.rows, view.cols);
    T5_OMP_PARALLEL_FOR
    for (std::int64_t r = 0; r < view.rows; ++r)
      std::transform(view.row(r), view.row(r) + view.cols, wide.row(r), [scale](T v) { return to_float(v) * scale; });
    return wide;
  }
  /// out = float32 `values` rounded to nearest T (beyond f16's range: infinity, as on the GPU).
  void round(ConstMatrixView<float> values, MatrixView<T> out) {
    T5_OMP_PARALLEL_FOR
    for (std::int64_t r = 0; r < values.rows; ++r)
      std::transform(values.row(r), values.row(r) + values.cols, out.row(r), [](float v) { return from_float<T>(v); });
  }

  Backend<float> f32_;
  int threads_;  // T5_OMP_PARALLEL_FOR's
  std::vector<float> in_, out_, q_, k_, v_;  // widened operands and float32 results
};

static_assert(t5::Backend<Backend<f16>>);
static_assert(t5::Backend<Backend<bf16>>);

}  // namespace t5::cpu
