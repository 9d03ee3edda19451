// The CPU backend's products out (+)= alpha x w^T with a Linear weight w [out_features, in_features]:
// a Projection is the weight prepared once at load in the layout and precision its product runs
// in, and Matmul runs the products.
//
// With oneDNN (T5CC_HAVE_ONEDNN=1, which libt5cc's builds and their pkg-config flags define when
// Debian's libdnnl-dev is found) the weights are packed in oneDNN's blocked layout and the products
// run on its JIT kernels, which pick the instruction set at run time (AVX-512, AMX-BF16/AMX-INT8,
// AVX2, ...), in one of three precisions:
//   F32   float32 inputs and accumulation (the default: the oracle's numbers);
//   BF16  weights and inputs rounded to bf16, float32 accumulation and output;
//   Int8  weights int8 with a float32 scale per output channel (max |w| / 127), inputs quantised
//         per row the same way (CTranslate2's int8_float32), int32 accumulation, float32 output.
// Without oneDNN (a header-only build) the product is Eigen's, in float32 only.
//
// oneDNN 2.x has bf16 products only on AVX-512 CPUs. Elsewhere (AVX2) bf16 operands are widened to
// float32, exactly, and multiplied there: the same numbers (a product of two bf16 values is exact in
// float32, and the accumulation is float32 either way) at float32's speed, with bf16 weights held as
// float32 values. And on CPUs without VNNI (AVX2, the first AVX-512 ones) oneDNN's int8 products
// add pairs of u8 x s8 products in 16 bits, which saturate (oneDNN's "int8 computation nuances"):
// there weights are quantised to 7 bits (max |w| / 63), whose pairs always fit. `t5cc --version`
// says when either is the case.
//
// Matmul keeps one oneDNN primitive per shape with its argument handles, so a repeated product
// (every decode step) creates nothing and allocates nothing of t5cc's own.
#pragma once

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <memory>
#include <span>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
// A parallel loop over the object's threads_ (a member of every class using it).
#define T5_OMP_PARALLEL_FOR _Pragma("omp parallel for num_threads(threads_) schedule(static)")
#else
#define T5_OMP_PARALLEL_FOR
#endif
#ifndef T5CC_HAVE_ONEDNN
#define T5CC_HAVE_ONEDNN 0
#endif
#if T5CC_HAVE_ONEDNN
#include <dnnl.hpp>
#include <unordered_map>
#include <vector>
#endif

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/core/tensor.hpp"
#include "t5/cpu/kernels.hpp"

namespace t5::cpu {

enum class MatmulPrecision : std::uint8_t { F32, BF16, Int8 };

constexpr const char* precision_name(MatmulPrecision p) noexcept {
  switch (p) {
    case MatmulPrecision::F32: return "f32";
    case MatmulPrecision::BF16: return "bf16";
    case MatmulPrecision::Int8: return "int8";
  }
  return "?";
}

/// The precision of a LoadOptions dtype on the CPU: F32, BF16 or I8 (Error(InvalidArgument) otherwise).
inline MatmulPrecision matmul_precision(DType dtype) {
  switch (dtype) {
    case DType::F32: return MatmulPrecision::F32;
    case DType::BF16: return MatmulPrecision::BF16;
    case DType::I8: return MatmulPrecision::Int8;
    default:
      throw Error(ErrorCode::InvalidArgument, std::string("the CPU backend runs F32, BF16 or I8 products, not ") + std::string(dtype_name(dtype)));
  }
}

/// A Linear weight [rows = out_features, cols = in_features] prepared for Matmul::run.
class Projection {
 public:
  Projection() = default;
  std::int64_t rows() const noexcept { return rows_; }
  std::int64_t cols() const noexcept { return cols_; }
  MatmulPrecision precision() const noexcept { return precision_; }

 private:
  friend class Matmul;
  MatmulPrecision precision_ = MatmulPrecision::F32;
  std::int64_t rows_ = 0, cols_ = 0;
  std::vector<float> plain_;  // row-major [rows, cols]: Eigen's operand when there is no oneDNN
#if T5CC_HAVE_ONEDNN
  dnnl::memory packed_;       // [cols, rows] as oneDNN's matmul wants it, in its blocked layout
  std::vector<float> scales_; // Int8: the scale of each output channel
#endif
};

class Matmul {
 public:
  explicit Matmul(int threads = 1, MatmulPrecision precision = MatmulPrecision::F32) : threads_(threads), precision_(precision) {
#if T5CC_HAVE_ONEDNN
    widen_bf16_ = precision == MatmulPrecision::BF16 && !native_bf16();
#else
    if (precision != MatmulPrecision::F32)
      throw Error(ErrorCode::InvalidArgument, std::string("the CPU runs ") + precision_name(precision) +
                                                  " products only with oneDNN (this build has Eigen's float32 products alone)");
#endif
  }
  Matmul(Matmul&&) noexcept = default;
  Matmul& operator=(Matmul&&) noexcept = default;

  MatmulPrecision precision() const noexcept { return precision_; }

  /// The weight whose rows are those of `parts`, in order, converted (and quantised) into this
  /// Matmul's precision; each part's file pages are released once read.
  Projection pack(std::span<const WeightSource> parts, std::int64_t rows, std::int64_t cols) const {
    check(total_elements(parts) == rows * cols, "the parts do not fill the shape");
    std::vector<float> values(static_cast<std::size_t>(rows * cols));
    convert_parts(parts, values.data());
    Projection w;
    w.precision_ = precision_;
    w.rows_ = rows;
    w.cols_ = cols;
#if T5CC_HAVE_ONEDNN
    using dt = dnnl::memory::data_type;
    std::vector<std::int8_t> q;
    if (widen_bf16_)
      for (float& v : values) v = to_float(to_bf16(v));  // bf16's values, held as float32
    if (precision_ == MatmulPrecision::Int8) {
      q.resize(values.size());
      w.scales_.resize(static_cast<std::size_t>(rows));
      const float levels = exact_int8() ? 127.0f : 63.0f;
      for (std::int64_t r = 0; r < rows; ++r) w.scales_[r] = kernels().quantize_row(values.data() + r * cols, q.data() + r * cols, cols, levels);
    }
    const dt source_type = precision_ == MatmulPrecision::Int8 ? dt::s8 : dt::f32;  // the reorder rounds f32 to bf16 (nearest even)
    dnnl::memory src({{cols, rows}, source_type, dnnl::memory::format_tag::ba}, engine(),
                     precision_ == MatmulPrecision::Int8 ? static_cast<void*>(q.data()) : static_cast<void*>(values.data()));
    dnnl::stream s(engine());
    try {
      w.packed_ = dnnl::memory(weights_desc(rows, cols), engine());
      dnnl::reorder(src, w.packed_).execute(s, src, w.packed_);
    } catch (const dnnl::error&) {
      // No reorder into the blocked layout for this shape (seen for int8 with tiny dims): the plain
      // row-major layout, which every matmul implementation reads.
      w.packed_ = dnnl::memory({{cols, rows}, input_type(), dnnl::memory::format_tag::ba}, engine());
      dnnl::reorder(src, w.packed_).execute(s, src, w.packed_);
    }
    s.wait();
#else
    w.plain_ = std::move(values);
#endif
    return w;
  }

  /// out = alpha x w^T, or out += x w^T when `accumulate` (alpha 1).
  void run(ConstMatrixView<float> x, const Projection& w, MatrixView<float> out, float alpha, bool accumulate) {
    check(x.cols == w.cols() && out.rows == x.rows && out.cols == w.rows(), "linear: shapes do not match");
    check(alpha == 1.0f || !accumulate, "linear: a scaled product cannot accumulate");
    check(w.precision() == precision_, "linear: the weight was packed for another precision");
    if (x.rows == 0) return;
#if T5CC_HAVE_ONEDNN
    run_onednn(x, w, out, alpha, accumulate);
#else
    run_eigen(x, w, out, alpha, accumulate);
#endif
  }

  /// A 4-D strided operand of batched(): dims and strides in elements, float32 or (bf16 = true)
  /// bf16 bits.
  struct Strided {
    const void* data;
    std::array<std::int64_t, 4> dims, strides;
    bool bf16 = false;
  };

  /// dst[a, b] = src[a, b] x weights[a, b] for every (a, b) of the two batch dimensions, float32
  /// accumulation and output (attention's q k^T and p v on views of the projections' outputs).
  /// Only with oneDNN.
  void batched(const Strided& src, const Strided& weights, const Strided& dst) {
#if T5CC_HAVE_ONEDNN
    if ((src.bf16 || weights.bf16) && !native_bf16())  // widened exactly: the same products in float32
      return batched(widened(src, wide_src_), widened(weights, wide_weights_), dst);
    std::array<std::int64_t, 25> key{};
    std::size_t i = 0;
    for (const Strided* t : {&src, &weights, &dst})
      for (int d = 0; d < 4; ++d) {
        key[i++] = t->dims[d];
        key[i++] = t->strides[d];
      }
    key[i] = (src.bf16 ? 1 : 0) | (weights.bf16 ? 2 : 0);
    auto it = batched_.find(key);
    if (it == batched_.end()) {
      auto desc = [](const Strided& t) {
        return dnnl::memory::desc(dnnl::memory::dims(t.dims.begin(), t.dims.end()), t.bf16 ? dt::bf16 : dt::f32,
                                  dnnl::memory::dims(t.strides.begin(), t.strides.end()));
      };
      dnnl::primitive_attr attr;
      attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(desc(src), desc(weights), desc(dst)), attr, engine());
      Product p;
      p.primitive = dnnl::matmul(pd);
      p.src = dnnl::memory(pd.src_desc(), engine(), DNNL_MEMORY_NONE);
      p.weights = dnnl::memory(pd.weights_desc(), engine(), DNNL_MEMORY_NONE);
      p.dst = dnnl::memory(pd.dst_desc(), engine(), DNNL_MEMORY_NONE);
      p.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine());
      p.args = {{DNNL_ARG_SRC, p.src.get()}, {DNNL_ARG_WEIGHTS, p.weights.get()}, {DNNL_ARG_DST, p.dst.get()}, {DNNL_ARG_SCRATCHPAD, p.scratchpad.get()}};
      it = batched_.emplace(key, std::move(p)).first;
    }
    Product& p = it->second;
    p.src.set_data_handle(const_cast<void*>(src.data));
    p.weights.set_data_handle(const_cast<void*>(weights.data));
    p.dst.set_data_handle(const_cast<void*>(dst.data));
    execute(p);
#else
    (void)src, (void)weights, (void)dst;
    throw Error(ErrorCode::InvalidArgument, "Matmul::batched needs oneDNN");
#endif
  }

  /// What runs the products, for `t5cc --version`: "oneDNN 2.6.3 (isa: ...)" or "Eigen 3.4.0".
  static std::string describe() {
#if T5CC_HAVE_ONEDNN
    const dnnl_version_t* v = dnnl_version();
    std::string isa;
    switch (dnnl::get_effective_cpu_isa()) {
      case dnnl::cpu_isa::avx512_core_amx: isa = "avx512_core_amx (AMX-BF16, AMX-INT8)"; break;
      case dnnl::cpu_isa::avx512_core_bf16: isa = "avx512_core_bf16"; break;
      case dnnl::cpu_isa::avx512_core_vnni: isa = "avx512_core_vnni"; break;
      case dnnl::cpu_isa::avx512_core: isa = "avx512_core"; break;
      case dnnl::cpu_isa::avx2_vnni: isa = "avx2_vnni"; break;
      case dnnl::cpu_isa::avx2: isa = "avx2"; break;
      case dnnl::cpu_isa::avx: isa = "avx"; break;
      case dnnl::cpu_isa::sse41: isa = "sse41"; break;
      default: isa = "other"; break;
    }
    return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." + std::to_string(v->patch) + " (" + isa +
           (native_bf16() ? "" : "; bf16 products widened to float32: no AVX-512") +
           (exact_int8() ? "" : "; int8 weights 7-bit: no VNNI") + ")";
#else
    return "Eigen " + std::to_string(EIGEN_WORLD_VERSION) + "." + std::to_string(EIGEN_MAJOR_VERSION) + "." + std::to_string(EIGEN_MINOR_VERSION);
#endif
  }

 private:
  static void check(bool ok, const char* what) {
    if (!ok) throw Error(ErrorCode::InvalidArgument, std::string("cpu::Backend ") + what);
  }

#if T5CC_HAVE_ONEDNN
  using dt = dnnl::memory::data_type;

  static dnnl::engine& engine() {
    static dnnl::engine e(dnnl::engine::kind::cpu, 0);
    return e;
  }

  /// Whether oneDNN runs bf16 products on this CPU (it needs AVX-512 in oneDNN 2.x): asked once.
  static bool native_bf16() {
    static const bool native = [] {
      try {
        const dnnl::memory::desc a({1, 1}, dt::bf16, dnnl::memory::format_tag::ab), c({1, 1}, dt::f32, dnnl::memory::format_tag::ab);
        (void)dnnl::matmul::primitive_desc(dnnl::matmul::desc(a, a, c), engine());
        return true;
      } catch (const dnnl::error&) {
        return false;
      }
    }();
    return native;
  }

  /// Whether oneDNN's int8 products are exact for full-range int8 operands on this CPU (with VNNI
  /// they are; without, pairs of products saturate at 16 bits): measured once, on a product that
  /// saturates where they do.
  static bool exact_int8() {
    static const bool exact = [] {
      constexpr std::int64_t m = 8, k = 64, n = 8;
      std::vector<std::int8_t> a(m * k, 127), b(k * n, 127);
      std::vector<std::int32_t> c(m * n, 0);
      const dnnl::memory::desc src({m, k}, dt::s8, dnnl::memory::format_tag::ab), wei({k, n}, dt::s8, dnnl::memory::format_tag::ab),
          dst({m, n}, dt::s32, dnnl::memory::format_tag::ab);
      const dnnl::matmul::primitive_desc pd(dnnl::matmul::desc(src, wei, dst), engine());
      dnnl::memory sa(src, engine(), a.data()), sb(wei, engine(), b.data()), sc(dst, engine(), c.data());
      dnnl::stream s(engine());
      dnnl::matmul(pd).execute(s, {{DNNL_ARG_SRC, sa}, {DNNL_ARG_WEIGHTS, sb}, {DNNL_ARG_DST, sc}});
      s.wait();
      return std::all_of(c.begin(), c.end(), [](std::int32_t v) { return v == k * 127 * 127; });
    }();
    return exact;
  }

  /// `t` itself when it is float32; otherwise its elements widened to float32 in `buffer`, at the
  /// same strides (every element from the first to the last one addressed is converted).
  static Strided widened(const Strided& t, std::vector<float>& buffer) {
    if (!t.bf16) return t;
    std::int64_t extent = 1;
    for (int d = 0; d < 4; ++d) extent += (t.dims[d] - 1) * t.strides[d];
    buffer.resize(static_cast<std::size_t>(extent));
    const auto* bits = static_cast<const std::uint16_t*>(t.data);
    for (std::int64_t i = 0; i < extent; ++i) buffer[i] = std::bit_cast<float>(static_cast<std::uint32_t>(bits[i]) << 16);
    return {buffer.data(), t.dims, t.strides, false};
  }

  dt input_type() const {
    if (precision_ == MatmulPrecision::Int8) return dt::s8;
    return precision_ == MatmulPrecision::BF16 && !widen_bf16_ ? dt::bf16 : dt::f32;
  }
  dt output_type() const { return precision_ == MatmulPrecision::Int8 ? dt::s32 : dt::f32; }

  dnnl::matmul::primitive_desc describe_product(std::int64_t m, std::int64_t k, std::int64_t n, dnnl::memory::dims src_strides,
                                                dnnl::memory::dims dst_strides, const dnnl::memory::desc& wei, float alpha,
                                                bool accumulate) const {
    const dnnl::memory::desc src({m, k}, input_type(), src_strides);
    const dnnl::memory::desc dst({m, n}, output_type(), dst_strides);
    dnnl::primitive_attr attr;
    attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
    if (alpha != 1.0f) attr.set_output_scales(0, {alpha});
    if (accumulate) {
      dnnl::post_ops ops;
      ops.append_sum(1.0f);
      attr.set_post_ops(ops);
    }
    return dnnl::matmul::primitive_desc(dnnl::matmul::desc(src, wei, dst), attr, engine());
  }

  /// The packed layout oneDNN chooses for [cols, rows] weights (measured: the same for every row
  /// count M of the product; each product is then made for the layout the weight has).
  dnnl::memory::desc weights_desc(std::int64_t rows, std::int64_t cols) const {
    constexpr std::int64_t typical_m = 64;
    const dnnl::memory::desc any({cols, rows}, input_type(), dnnl::memory::format_tag::any);
    return describe_product(typical_m, cols, rows, {cols, 1}, {rows, 1}, any, 1.0f, false).weights_desc();
  }

  struct Key {
    std::int64_t m, k, n, x_ld, out_ld;
    std::uint32_t alpha_bits;
    bool accumulate;
    bool operator==(const Key&) const = default;
  };
  struct KeyHash {
    std::size_t operator()(const Key& k) const noexcept {
      std::size_t h = 1469598103934665603ull;
      for (std::int64_t v : {k.m, k.k, k.n, k.x_ld, k.out_ld, static_cast<std::int64_t>(k.alpha_bits), static_cast<std::int64_t>(k.accumulate)})
        h = (h ^ static_cast<std::size_t>(v)) * 1099511628211ull;
      return h;
    }
  };
  // One shape's primitive and the memory handles its arguments are bound to (their data pointers
  // set per call). The arguments are kept in the C API's form: the C++ execute() builds a vector of
  // them on every call.
  struct Product {
    dnnl::matmul primitive;
    dnnl::memory src, weights, dst, scratchpad;  // weights: batched() only
    std::vector<dnnl_exec_arg_t> args;  // src, weights, dst, scratchpad
  };
  struct ArrayHash {
    std::size_t operator()(const std::array<std::int64_t, 25>& a) const noexcept {
      std::size_t h = 1469598103934665603ull;
      for (std::int64_t v : a) h = (h ^ static_cast<std::size_t>(v)) * 1099511628211ull;
      return h;
    }
  };

  void execute(Product& p) {
#ifdef _OPENMP
    omp_set_num_threads(threads_);
#endif
    dnnl::stream& s = engine_stream();
    dnnl::error::wrap_c_api(dnnl_primitive_execute(p.primitive.get(), s.get(), static_cast<int>(p.args.size()), p.args.data()), "oneDNN matmul");
    s.wait();
  }

  Product& product_for(const Key& key, const Projection& w) {
    auto it = products_.find(key);
    if (it != products_.end()) return it->second;
    const bool int8 = precision_ == MatmulPrecision::Int8;  // its accumulators are compact [m, n]
    const auto pd = describe_product(key.m, key.k, key.n, {key.x_ld, 1}, {int8 ? key.n : key.out_ld, 1},
                                     w.packed_.get_desc(), std::bit_cast<float>(key.alpha_bits), key.accumulate);
    Product p;
    p.primitive = dnnl::matmul(pd);
    p.src = dnnl::memory(pd.src_desc(), engine(), DNNL_MEMORY_NONE);
    p.dst = dnnl::memory(pd.dst_desc(), engine(), DNNL_MEMORY_NONE);
    p.scratchpad = dnnl::memory(pd.scratchpad_desc(), engine());
    p.args = {{DNNL_ARG_SRC, p.src.get()}, {DNNL_ARG_WEIGHTS, nullptr}, {DNNL_ARG_DST, p.dst.get()}, {DNNL_ARG_SCRATCHPAD, p.scratchpad.get()}};
    return products_.emplace(key, std::move(p)).first->second;
  }

  void run_onednn(ConstMatrixView<float> x, const Projection& w, MatrixView<float> out, float alpha, bool accumulate) {
    const std::int64_t m = x.rows, k = x.cols, n = w.rows();
    const bool int8 = precision_ == MatmulPrecision::Int8;
    const Kernels& kern = kernels();
    const void* src = x.data;  // the rows as the product reads them, with row stride src_ld
    std::int64_t src_ld = x.ld;
    if (precision_ == MatmulPrecision::BF16) {
      const std::int64_t wide_offset = (m * k * 2 + 63) / 64 * 64;  // the widened rows, after the bf16 ones
      stage(input_, widen_bf16_ ? wide_offset + m * k * 4 : m * k * 2);
      auto* staged = reinterpret_cast<std::uint16_t*>(input_.data());
      auto* wide = reinterpret_cast<std::uint32_t*>(input_.data() + wide_offset);
      T5_OMP_PARALLEL_FOR
      for (std::int64_t r = 0; r < m; ++r) {
        kern.to_bf16(x.row(r), staged + r * k, k);
        if (widen_bf16_)
          for (std::int64_t c = 0; c < k; ++c) wide[r * k + c] = static_cast<std::uint32_t>(staged[r * k + c]) << 16;
      }
      src = widen_bf16_ ? static_cast<const void*>(wide) : staged;
      src_ld = k;
    } else if (int8) {
      stage(input_, m * k);
      row_scales_.resize(static_cast<std::size_t>(m));  // no allocation once the largest m was seen
      auto* staged = reinterpret_cast<std::int8_t*>(input_.data());
      T5_OMP_PARALLEL_FOR
      for (std::int64_t r = 0; r < m; ++r) row_scales_[r] = kern.quantize_row(x.row(r), staged + r * k, k, 127.0f);
      src = staged;
      src_ld = k;
    }
    // Int8: the int32 accumulators of up to `chunk` rows at a time (1 MiB per thread), dequantised
    // by the epilogue while they are still in cache; the others in one product.
    const std::int64_t chunk = int8 ? std::max<std::int64_t>(16, threads_ * (std::int64_t{1} << 18) / n) : m;
    if (int8) stage(accumulators_, std::min(chunk, m) * n * 4);
    const std::size_t element = input_type() == dt::f32 ? 4 : input_type() == dt::bf16 ? 2 : 1;
    for (std::int64_t r0 = 0; r0 < m; r0 += chunk) {
      const std::int64_t rows = std::min(chunk, m - r0);
      // Int8 scales are applied by the epilogue, not by oneDNN.
      const Key key{rows, k, n, src_ld, out.ld, std::bit_cast<std::uint32_t>(int8 ? 1.0f : alpha), int8 ? false : accumulate};
      Product& p = product_for(key, w);
      p.src.set_data_handle(const_cast<std::byte*>(static_cast<const std::byte*>(src) + static_cast<std::size_t>(r0 * src_ld) * element));
      p.dst.set_data_handle(int8 ? static_cast<void*>(accumulators_.data()) : static_cast<void*>(out.row(r0)));
      p.args[1].memory = w.packed_.get();
      execute(p);
      if (int8) {
        const auto* acc = reinterpret_cast<const std::int32_t*>(accumulators_.data());
        T5_OMP_PARALLEL_FOR
        for (std::int64_t r = 0; r < rows; ++r)
          kern.dequantize_row(acc + r * n, row_scales_[r0 + r] * alpha, w.scales_.data(), out.row(r0 + r), n, accumulate);
      }
    }
  }


  static dnnl::stream& engine_stream() {
    static thread_local dnnl::stream s(engine());
    return s;
  }

  static void stage(std::vector<std::uint8_t>& buffer, std::int64_t bytes) {
    if (buffer.size() < static_cast<std::size_t>(bytes)) buffer.resize(static_cast<std::size_t>(bytes));
  }

  std::unordered_map<Key, Product, KeyHash> products_;
  std::unordered_map<std::array<std::int64_t, 25>, Product, ArrayHash> batched_;
  std::vector<std::uint8_t> input_, accumulators_;
  std::vector<float> row_scales_;
  std::vector<float> wide_src_, wide_weights_;  // batched()'s bf16 operands widened, without native bf16
  bool widen_bf16_ = false;                     // BF16 products run as float32 on widened operands
#else
  using RowMajor = Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;
  using Map = Eigen::Map<RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  using ConstMap = Eigen::Map<const RowMajor, Eigen::Unaligned, Eigen::OuterStride<>>;
  static ConstMap map(ConstMatrixView<float> m) { return {m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)}; }
  static Map map(MatrixView<float> m) { return {m.data, m.rows, m.cols, Eigen::OuterStride<>(m.ld)}; }

  // Up to this many rows a product runs as one matrix-vector product per row, split over threads
  // by blocks of weight rows: no GEMM packing buffers (Eigen allocates them on every GEMM), and each
  // weight block is read while it is in cache.
  static constexpr std::int64_t gemv_rows = 64;

  // out (+)= x w^T, then out *= alpha (Eigen would materialise alpha * x in a heap temporary).
  void run_eigen(ConstMatrixView<float> x, const Projection& wp, MatrixView<float> out, float alpha, bool accumulate) {
    const ConstMatrixView<float> w{wp.plain_.data(), wp.rows(), wp.cols()};
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
#endif

  int threads_ = 1;
  MatmulPrecision precision_ = MatmulPrecision::F32;
};

}  // namespace t5::cpu
