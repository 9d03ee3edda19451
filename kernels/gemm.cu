// The cuBLASLt wrapper of include/t5/cuda/gemm.hpp: row-major out = alpha * x w^T + beta * out mapped
// onto cuBLASLt's column-major matmul, with one plan (descriptors, layouts, algorithm) per distinct
// shape, dtype pair, leading dimensions, beta use and pointer alignment.
#include "t5/cuda/gemm.hpp"

#include <compare>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <type_traits>

#include <cublasLt.h>
#include <cuda_runtime.h>

#include "check.cuh"
#include "t5/core/error.hpp"
#include "t5/cuda/device.hpp"

namespace t5::cuda {
namespace {

/// unique_ptr deleter for a cuBLASLt object; the status of a destroy is ignored (destructors never throw).
template <auto Destroy>
struct Destroyer {
  template <class T>
  void operator()(T* p) const noexcept { (void)Destroy(p); }
};
using HandlePtr = std::unique_ptr<std::remove_pointer_t<cublasLtHandle_t>, Destroyer<cublasLtDestroy>>;
using DescPtr = std::unique_ptr<std::remove_pointer_t<cublasLtMatmulDesc_t>, Destroyer<cublasLtMatmulDescDestroy>>;
using LayoutPtr = std::unique_ptr<std::remove_pointer_t<cublasLtMatrixLayout_t>, Destroyer<cublasLtMatrixLayoutDestroy>>;
using PreferencePtr =
    std::unique_ptr<std::remove_pointer_t<cublasLtMatmulPreference_t>, Destroyer<cublasLtMatmulPreferenceDestroy>>;

HandlePtr create_handle() {
  cublasLtHandle_t h = nullptr;
  T5_CUBLAS_CHECK(cublasLtCreate(&h));
  return HandlePtr(h);
}

/// Everything that decides the descriptors and the algorithm. The pointers' alignment is part of it
/// because the heuristic may pick a vectorised kernel only when all of A, B, C, D allow it.
struct PlanKey {
  std::int64_t m = 0, n = 0, k = 0;
  DType in_type = DType::BF16;
  DType out_type = DType::F32;
  std::int64_t x_ld = 0, w_ld = 0, out_ld = 0;
  bool accumulate = false;  // beta != 0
  std::uint32_t x_align = 0, w_align = 0, out_align = 0;
  auto operator<=>(const PlanKey&) const = default;
};

struct Plan {
  DescPtr desc;
  LayoutPtr a, b, c;  // C and D share one layout (same type, shape and ld)
  cublasLtMatmulAlgo_t algo{};
};

/// The largest power of two <= 16 that divides the address.
std::uint32_t alignment_of(const void* p) {
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const std::uintptr_t low = a & (~a + 1);
  return static_cast<std::uint32_t>(low == 0 || low > 16 ? 16 : low);
}

cudaDataType_t cuda_type(DType t) {
  switch (t) {
    case DType::F16: return CUDA_R_16F;
    case DType::BF16: return CUDA_R_16BF;
    default: return CUDA_R_32F;  // validated: F32 is the only other dtype that reaches here
  }
}

std::string describe(const PlanKey& key) {
  return "m " + std::to_string(key.m) + ", n " + std::to_string(key.n) + ", k " + std::to_string(key.k) + ", in " +
         std::string(dtype_name(key.in_type)) + ", out " + std::string(dtype_name(key.out_type)) + ", lds x " +
         std::to_string(key.x_ld) + " w " + std::to_string(key.w_ld) + " out " + std::to_string(key.out_ld) +
         ", beta " + (key.accumulate ? "!= 0" : "0") + ", alignments x " + std::to_string(key.x_align) + " w " +
         std::to_string(key.w_align) + " out " + std::to_string(key.out_align) + " bytes";
}

[[noreturn]] void invalid(const std::string& what) { throw Error(ErrorCode::InvalidArgument, "Gemm: " + what); }

void validate(const GemmArgs& a) {
  const auto shape = " (m " + std::to_string(a.m) + ", n " + std::to_string(a.n) + ", k " + std::to_string(a.k) + ")";
  if (a.in_type != DType::F16 && a.in_type != DType::BF16)
    invalid("in_type must be F16 or BF16, got " + std::string(dtype_name(a.in_type)));
  if (a.out_type != a.in_type && a.out_type != DType::F32)
    invalid("out_type must be F32 or the in_type " + std::string(dtype_name(a.in_type)) + ", got " +
            std::string(dtype_name(a.out_type)));
  if (a.m < 0) invalid("m must be >= 0, got " + std::to_string(a.m) + shape);
  if (a.n <= 0) invalid("n must be > 0, got " + std::to_string(a.n) + shape);
  if (a.k <= 0) invalid("k must be > 0, got " + std::to_string(a.k) + shape);
  if (a.x_ld < a.k) invalid("x_ld must be >= k = " + std::to_string(a.k) + ", got " + std::to_string(a.x_ld) + shape);
  if (a.w_ld < a.k) invalid("w_ld must be >= k = " + std::to_string(a.k) + ", got " + std::to_string(a.w_ld) + shape);
  if (a.out_ld < a.n) invalid("out_ld must be >= n = " + std::to_string(a.n) + ", got " + std::to_string(a.out_ld) + shape);
  // A 16-bit C would be read and rounded before the add; only the fp32 residual accumulates.
  if (a.out_type != DType::F32 && a.beta != 0.0f)
    invalid("beta must be 0 for a " + std::string(dtype_name(a.out_type)) + " out, got " + std::to_string(a.beta));
  if (a.m == 0) return;
  if (a.x == nullptr || a.w == nullptr || a.out == nullptr)
    invalid(std::string("x, w and out must be non-null, got") + (a.x == nullptr ? " x" : "") + (a.w == nullptr ? " w" : "") +
            (a.out == nullptr ? " out" : "") + " null" + shape);
  const auto in_size = static_cast<std::uint32_t>(dtype_size(a.in_type));
  const auto out_size = static_cast<std::uint32_t>(dtype_size(a.out_type));
  if (alignment_of(a.x) < in_size || alignment_of(a.w) < in_size || alignment_of(a.out) < out_size)
    invalid("x, w and out must be aligned to their element size (" + std::to_string(in_size) + ", " +
            std::to_string(in_size) + ", " + std::to_string(out_size) + " bytes), got alignments " +
            std::to_string(alignment_of(a.x)) + ", " + std::to_string(alignment_of(a.w)) + ", " +
            std::to_string(alignment_of(a.out)));
}

}  // namespace

struct Gemm::Impl {
  // Declaration order is destruction order reversed: plans, then the workspace, then the handle.
  HandlePtr handle;
  DeviceBuffer workspace;
  std::map<PlanKey, Plan> plans;

  explicit Impl(std::size_t workspace_bytes) : handle(create_handle()), workspace(workspace_bytes) {}

  Plan make_plan(const PlanKey& key) const {
    Plan plan;
    cublasLtMatmulDesc_t desc = nullptr;
    T5_CUBLAS_CHECK(cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F));
    plan.desc.reset(desc);
    const cublasOperation_t transa = CUBLAS_OP_T, transb = CUBLAS_OP_N;
    T5_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &transa, sizeof(transa)));
    T5_CUBLAS_CHECK(cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &transb, sizeof(transb)));

    // Row-major out[m, n] = x[m, k] w[n, k]^T is, read column-major, out^T (n x m) = w^T x^T:
    // A = w as a k x n column-major matrix (ld w_ld) with transa = T, B = x as k x m (ld x_ld),
    // C = D = out as n x m (ld out_ld). cuBLAS's (m, n, k) is our (n, m, k).
    const auto in = cuda_type(key.in_type), out = cuda_type(key.out_type);
    const auto u = [](std::int64_t v) { return static_cast<std::uint64_t>(v); };
    cublasLtMatrixLayout_t layout = nullptr;
    T5_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, in, u(key.k), u(key.n), key.w_ld));
    plan.a.reset(layout);
    T5_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, in, u(key.k), u(key.m), key.x_ld));
    plan.b.reset(layout);
    T5_CUBLAS_CHECK(cublasLtMatrixLayoutCreate(&layout, out, u(key.n), u(key.m), key.out_ld));
    plan.c.reset(layout);

    cublasLtMatmulPreference_t pref_raw = nullptr;
    T5_CUBLAS_CHECK(cublasLtMatmulPreferenceCreate(&pref_raw));
    const PreferencePtr pref(pref_raw);
    const std::uint64_t max_workspace = workspace.bytes();
    T5_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref_raw, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES,
                                                         &max_workspace, sizeof(max_workspace)));
    // Split-K partials must stay fp32 (DESIGN 4: every GEMM accumulates in fp32): with a 16-bit out,
    // the INPLACE and OUTPUT_TYPE schemes would sum them in f16/bf16. Unsplit algorithms are never filtered.
    const std::uint32_t schemes =
        key.out_type == DType::F32 ? std::uint32_t{CUBLASLT_REDUCTION_SCHEME_MASK} : std::uint32_t{CUBLASLT_REDUCTION_SCHEME_COMPUTE_TYPE};
    T5_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref_raw, CUBLASLT_MATMUL_PREF_REDUCTION_SCHEME_MASK, &schemes,
                                                         sizeof(schemes)));
    const std::pair<cublasLtMatmulPreferenceAttributes_t, std::uint32_t> alignments[] = {
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, key.w_align},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, key.x_align},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, key.out_align},
        {CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, key.out_align}};
    for (const auto& [attribute, bytes] : alignments)
      T5_CUBLAS_CHECK(cublasLtMatmulPreferenceSetAttribute(pref_raw, attribute, &bytes, sizeof(bytes)));

    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    const cublasStatus_t status = cublasLtMatmulAlgoGetHeuristic(handle.get(), desc, plan.a.get(), plan.b.get(), plan.c.get(),
                                                                 plan.c.get(), pref_raw, 1, &result, &found);
    if (status != CUBLAS_STATUS_SUCCESS || found == 0 || result.state != CUBLAS_STATUS_SUCCESS) {
      const cublasStatus_t shown = status != CUBLAS_STATUS_SUCCESS ? status : found == 0 ? CUBLAS_STATUS_NOT_SUPPORTED : result.state;
      throw Error(ErrorCode::Cublas, std::string(__FILE__) + ":" + std::to_string(__LINE__) +
                                         ": cublasLtMatmulAlgoGetHeuristic found no algorithm for " + describe(key) + ": " +
                                         cublasLtGetStatusName(shown) + " (" + cublasLtGetStatusString(shown) + ")");
    }
    plan.algo = result.algo;
    return plan;
  }
};

Gemm::Gemm(std::size_t workspace_bytes) : impl_(std::make_unique<Impl>(workspace_bytes)) {}
Gemm::~Gemm() = default;
Gemm::Gemm(Gemm&&) noexcept = default;
Gemm& Gemm::operator=(Gemm&&) noexcept = default;

void Gemm::run(const GemmArgs& args, Stream stream) {
  if (!impl_) invalid("run on a moved-from Gemm");
  validate(args);
  if (args.m == 0) return;
  const PlanKey key{args.m,    args.n,    args.k,      args.in_type,      args.out_type,
                    args.x_ld, args.w_ld, args.out_ld, args.beta != 0.0f, alignment_of(args.x),
                    alignment_of(args.w), alignment_of(args.out)};
  auto it = impl_->plans.find(key);
  if (it == impl_->plans.end()) it = impl_->plans.emplace(key, impl_->make_plan(key)).first;
  const Plan& plan = it->second;
  // A = w, B = x (see make_plan); C = D = out, which cuBLASLt does not read when beta == 0.
  T5_CUBLAS_CHECK(cublasLtMatmul(impl_->handle.get(), plan.desc.get(), &args.alpha, args.w, plan.a.get(), args.x, plan.b.get(),
                                 &args.beta, args.out, plan.c.get(), args.out, plan.c.get(), &plan.algo,
                                 impl_->workspace.as<void>(), impl_->workspace.bytes(), stream));
}

std::size_t Gemm::plans() const noexcept { return impl_ ? impl_->plans.size() : 0; }

}  // namespace t5::cuda
