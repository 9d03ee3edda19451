// t5::load and the facts of this build: the one place that turns a checkpoint's detected policies
// into a Model<V, B> (every variant on every backend, all of them compiled in libt5cc).
#include "t5/load.hpp"

#include <string>

#include "t5/config/dispatch.hpp"
#include "t5/model.hpp"
#if T5CC_HAVE_CUDA
#include "t5/cuda/backend.hpp"
#endif

namespace t5 {

bool have_cuda() noexcept { return T5CC_HAVE_CUDA != 0; }

const char* version() noexcept { return T5CC_VERSION; }

std::string cpu_kernels() { return std::string("elementwise ") + cpu::isa_name(cpu::kernels().isa) + ", products " + cpu::Matmul::describe(); }

std::unique_ptr<AnyModel> load(const std::filesystem::path& dir, const LoadOptions& options) {
  if (options.device == Device::Cuda && !have_cuda())
    throw Error(ErrorCode::InvalidArgument, "Device::Cuda: this t5cc was built without CUDA (rebuild with nvcc on PATH and -Dcuda=enabled)");
  const DType dtype = options.resolved_dtype();
  if (options.device == Device::Cuda && dtype != DType::BF16 && dtype != DType::F16)
    throw Error(ErrorCode::InvalidArgument, "the CUDA backend runs in BF16 or F16, not " + std::string(dtype_name(dtype)));
  if (options.gpu_rounding && (options.device != Device::Cpu || (dtype != DType::BF16 && dtype != DType::F16)))
    throw Error(ErrorCode::InvalidArgument, "gpu_rounding is for the CPU with dtype BF16 or F16 (it stores them where a GPU does)");
  const Checkpoint ckpt = Checkpoint::open(dir, options.config);
  return dispatch(ckpt.detected().policies, [&]<VariantLike V>() -> std::unique_ptr<AnyModel> {
#if T5CC_HAVE_CUDA
    if (options.device == Device::Cuda) {
      if (dtype == DType::F16) return std::make_unique<Model<V, cuda::Backend<f16>>>(ckpt, options);
      return std::make_unique<Model<V, cuda::Backend<bf16>>>(ckpt, options);
    }
#endif
    if (dtype == DType::F16) return std::make_unique<Model<V, cpu::Backend<f16>>>(ckpt, options);
    if (dtype == DType::BF16 && options.gpu_rounding) return std::make_unique<Model<V, cpu::Backend<bf16>>>(ckpt, options);
    return std::make_unique<Model<V>>(ckpt, options);
  });
}

}  // namespace t5
