// cuda::Backend<bf16 | f16>: the Backend concept (core/backend.hpp) on one NVIDIA GPU. Products go
// to cuBLASLt (fp32 accumulation; the out-projections add their fp32 result straight into the fp32
// residual), everything else to the kernels/ launchers. All work is queued on the backend's stream;
// downloads wait for it. Buffers come from the backend's stream-ordered memory pool.
#pragma once

#include <algorithm>
#include <cstdint>
#include <span>
#include <string>
#include <type_traits>
#include <vector>

#include "t5/core/backend.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/core/ops.hpp"
#include "t5/core/tensor.hpp"
#include "t5/cuda/device.hpp"
#include "t5/cuda/gemm.hpp"
#include "t5/cuda/launch.hpp"

namespace t5::cuda {

/// An owning [rows, cols] device matrix from a backend's pool.
template <class U>
class Buffer {
 public:
  Buffer() = default;
  Buffer(std::int64_t rows, std::int64_t cols, const MemoryPool& pool, Stream stream)
      : memory_(static_cast<std::size_t>(rows * cols) * sizeof(U), pool, stream), rows_(rows), cols_(cols) {}

  MatrixView<U, DeviceSpace> view() { return {data(), rows_, cols_}; }
  ConstMatrixView<U, DeviceSpace> view() const { return {data(), rows_, cols_}; }
  U* data() { return memory_.as<U>(); }
  const U* data() const { return memory_.as<U>(); }
  std::int64_t rows() const noexcept { return rows_; }
  std::int64_t cols() const noexcept { return cols_; }
  std::size_t bytes() const noexcept { return memory_.bytes(); }

 private:
  DeviceBuffer memory_;
  std::int64_t rows_ = 0;
  std::int64_t cols_ = 0;
};

template <class T>
class Backend {
  static_assert(std::is_same_v<T, bf16> || std::is_same_v<T, f16>, "the CUDA backend runs in bf16 or f16");

 public:
  using Act = T;
  using Space = DeviceSpace;
  template <class U>
  using Buffer = cuda::Buffer<U>;
  template <class U>
  using Weight = cuda::Buffer<U>;  // device memory; the dataflow only reads it
  using Projection = Weight<T>;    // cuBLASLt reads Linear weights row-major as they are

  /// Runs on GPU `device` (made current for the calling thread).
  explicit Backend(int device = 0) : device_(select(device)) {}
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;
  ~Backend() {
    try {
      stream_.synchronize();
    } catch (const Error&) {  // a destructor must not throw; the error was reported by the failing call
    }
  }

  int device() const noexcept { return device_; }
  Stream stream() const noexcept { return stream_.get(); }
  const MemoryPool& pool() const noexcept { return pool_; }

  template <class U>
  Buffer<U> allocate(std::int64_t rows, std::int64_t cols) {
    return Buffer<U>(rows, cols, pool_, stream_.get());
  }
  template <class U>
  Buffer<U> upload(std::span<const U> host, std::int64_t rows, std::int64_t cols) {
    check(static_cast<std::int64_t>(host.size()) == rows * cols, "upload: size does not match the shape");
    Buffer<U> b = allocate<U>(rows, cols);
    copy_to_device_async(b.data(), host.data(), host.size_bytes(), stream_.get());
    return b;
  }
  /// The [rows, cols] weight whose rows are those of `parts`, in order, converted once on the host
  /// from the file's dtype to U (a part already in U is uploaded from the mapping as it is); the
  /// parts' file pages are released once uploaded.
  template <class U>
  Weight<U> weight(std::span<const WeightSource> parts, std::int64_t rows, std::int64_t cols) {
    check(total_elements(parts) == rows * cols, "weight: the parts do not fill the shape");
    Buffer<U> b = allocate<U>(rows, cols);
    U* dst = b.data();
    std::vector<U> staging;
    for (const auto& p : parts) {
      const auto n = static_cast<std::size_t>(p.elements());
      if (p.dtype == dtype_of<U>()) {
        p.check_finite();  // no conversion to check NaN/Inf during: one read of the bytes
        copy_to_device_async(dst, p.bytes.data(), p.bytes.size(), stream_.get());  // pageable: staged before it returns
      } else {
        staging.resize(n);
        p.convert_to(staging.data());  // refuses NaN/Inf, naming the tensor
        copy_to_device_async(dst, staging.data(), n * sizeof(U), stream_.get());
      }
      dst += n;
      p.release();
    }
    return b;
  }
  Projection projection(std::span<const WeightSource> parts, std::int64_t rows, std::int64_t cols) { return weight<T>(parts, rows, cols); }

  template <class U>
  void upload_into(std::span<const U> host, U* dst) {
    copy_to_device_async(dst, host.data(), host.size_bytes(), stream_.get());
  }
  /// Waits for the queued work, then copies host.size() values out.
  template <class U>
  void download(const U* src, std::span<U> host) {
    copy_to_host(host.data(), src, host.size_bytes(), stream_.get());
  }

  void embed(const std::int32_t* ids, ConstMatrixView<float, DeviceSpace> table, MatrixView<float, DeviceSpace> residual) {
    check(table.cols == residual.cols, "embed: the table and the residual differ in width");
    launch_embed(EmbedParams<float>{ids, table.data, table.ld, residual.data, residual.ld, residual.rows, residual.cols}, stream_.get());
  }

  void rms_norm(const RmsNormParams<T>& p) { launch_rms_norm(p, stream_.get()); }

  /// out = alpha * x w^T in the activation dtype (fp32 accumulation, rounded once).
  void linear(ConstMatrixView<T, DeviceSpace> x, const Projection& w, MatrixView<T, DeviceSpace> out, float alpha = 1.0f) {
    product(x, w.view(), out.data, out.ld, out.rows, out.cols, dtype_of<T>(), alpha, 0.0f);
  }
  /// out = alpha * x w^T in fp32 (the LM head's logits).
  void linear(ConstMatrixView<T, DeviceSpace> x, const Projection& w, MatrixView<float, DeviceSpace> out, float alpha = 1.0f) {
    product(x, w.view(), out.data, out.ld, out.rows, out.cols, DType::F32, alpha, 0.0f);
  }
  /// residual += alpha * x w^T, accumulated by cuBLASLt into the fp32 residual (C = D, beta = 1):
  /// the out-projection's output never exists in the activation dtype.
  void linear_add(ConstMatrixView<T, DeviceSpace> x, const Projection& w, MatrixView<float, DeviceSpace> residual, float alpha = 1.0f) {
    product(x, w.view(), residual.data, residual.ld, residual.rows, residual.cols, DType::F32, alpha, 1.0f);
  }

  void relu(MatrixView<T, DeviceSpace> x) { launch_relu(ReluParams<T>{x.data, x.ld, x.rows, x.cols}, stream_.get()); }

  void gated_gelu(ConstMatrixView<T, DeviceSpace> in, MatrixView<T, DeviceSpace> out, GeluApprox approx, FfnScales scales = {}) {
    check(in.rows == out.rows && in.cols == 2 * out.cols, "gated_gelu: in must be [rows, 2 * out.cols]");
    launch_gated_gelu(GatedGeluParams<T>{in.data, in.ld, out.data, out.ld, out.rows, out.cols, approx, scales}, stream_.get());
  }

  /// Sizes the attention workspace for calls over `batch` rows of `q_len` queries and up to `kv_len`
  /// keys, so a decode loop that reserved its final length allocates nothing per step.
  void reserve_attention(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t head_dim, std::int64_t kv_len) {
    ensure_workspace(attention_workspace_bytes(batch, q_len, heads, head_dim, kv_len));
  }
  /// What reserve_attention would hold for these sizes.
  std::uint64_t attention_scratch_bytes(std::int64_t batch, std::int64_t q_len, std::int64_t heads, std::int64_t head_dim,
                                        std::int64_t kv_len) const {
    return attention_workspace_bytes(batch, q_len, heads, head_dim, kv_len);
  }
  /// The device's memory: what a request's working memory is measured against.
  std::uint64_t memory_bytes() const { return device_memory_bytes(); }

  void attention(const AttentionArgs<T, DeviceSpace>& a) {
    ensure_workspace(attention_workspace_bytes(a.batch, a.q_len, a.heads, a.head_dim, a.kv_len));
    launch_attention(a, workspace_.data(), workspace_.bytes(), stream_.get());
  }

  void copy(ConstMatrixView<T, DeviceSpace> src, MatrixView<T, DeviceSpace> dst) {
    check(src.rows == dst.rows && src.cols == dst.cols, "copy: shapes differ");
    copy_2d_async(dst.data, static_cast<std::size_t>(dst.ld) * sizeof(T), src.data, static_cast<std::size_t>(src.ld) * sizeof(T),
                  static_cast<std::size_t>(src.cols) * sizeof(T), static_cast<std::size_t>(src.rows), stream_.get());
  }

  /// For every block r of `block_rows` rows, the first `used_rows` rows of dst's block r become those
  /// of src's block parents[r] (parents in backend memory): beam search's cache reorder.
  void gather_blocks(ConstMatrixView<T, DeviceSpace> src, const std::int32_t* parents, std::int64_t block_rows, std::int64_t used_rows,
                     MatrixView<T, DeviceSpace> dst) {
    check(src.rows == dst.rows && src.cols == dst.cols && block_rows > 0 && src.rows % block_rows == 0, "gather_blocks: shapes differ");
    launch_gather_blocks(GatherBlocksParams<T>{src.data, src.ld, dst.data, dst.ld, parents, src.rows / block_rows, block_rows, used_rows, src.cols},
                         stream_.get());
  }

  void argmax(ConstMatrixView<float, DeviceSpace> logits, std::int32_t* out) {
    launch_argmax(ArgmaxParams{logits.data, logits.ld, logits.rows, logits.cols, out}, stream_.get());
  }

  /// out[r] = a sampling draw from row r (the CPU's rule, kernels/sampling.cu), or -1 when the
  /// warpers leave no token.
  void sample(ConstMatrixView<float, DeviceSpace> logits, const SampleArgs& a, std::int32_t* out) {
    const std::size_t need = sample_workspace_bytes(logits.rows, logits.cols);
    if (need > sample_workspace_.bytes()) sample_workspace_ = allocate<float>(1, static_cast<std::int64_t>((need + sizeof(float) - 1) / sizeof(float)));
    launch_sample(SampleParams{logits.data, logits.ld, logits.rows, logits.cols, a.temperature, a.top_k, a.top_p, a.seed, a.row_keys,
                               a.samples_per_key, a.step, sample_workspace_.data(), out},
                  stream_.get());
  }

 private:
  static int select(int device) {
    set_device(device);
    return device;
  }

  static void check(bool ok, const char* what) {
    if (!ok) throw Error(ErrorCode::InvalidArgument, std::string("cuda::Backend ") + what);
  }

  void product(ConstMatrixView<T, DeviceSpace> x, ConstMatrixView<T, DeviceSpace> w, void* out, std::int64_t out_ld, std::int64_t out_rows,
               std::int64_t out_cols, DType out_type, float alpha, float beta) {
    check(x.cols == w.cols && out_rows == x.rows && out_cols == w.rows, "linear: shapes do not match");
    gemm_.run(GemmArgs{x.data, x.ld, w.data, w.ld, dtype_of<T>(), out, out_ld, out_type, x.rows, w.rows, x.cols, alpha, beta}, stream_.get());
  }

  void ensure_workspace(std::size_t bytes) {
    if (bytes > workspace_.bytes()) workspace_ = allocate<std::uint8_t>(1, static_cast<std::int64_t>(bytes));
  }

  int device_;
  CudaStream stream_;
  MemoryPool pool_;
  Gemm gemm_;
  Buffer<std::uint8_t> workspace_;   // attention split partials
  Buffer<float> sample_workspace_;   // warped scores of a sampling step
};

static_assert(t5::Backend<Backend<bf16>>);
static_assert(t5::Backend<Backend<f16>>);

}  // namespace t5::cuda
