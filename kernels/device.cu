// Device discovery, device buffers and copies (declared in include/t5/cuda/device.hpp).
#include "t5/cuda/device.hpp"

#include <string>

#include <cuda_runtime.h>

#include "check.cuh"

namespace t5::cuda {

int device_count() noexcept {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    (void)cudaGetLastError();  // clear the sticky "no driver" / "no device" status
    return 0;
  }
  return count;
}

void synchronize() { T5_CUDA_CHECK(cudaDeviceSynchronize()); }

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) T5_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
}

void DeviceBuffer::release() noexcept {
  if (ptr_ != nullptr) (void)cudaFree(ptr_);
  ptr_ = nullptr;
  bytes_ = 0;
}

void DeviceBuffer::upload(std::span<const std::byte> host) {
  if (host.size() > bytes_)
    throw Error(ErrorCode::InvalidArgument, "DeviceBuffer::upload: " + std::to_string(host.size()) + " bytes into a " +
                                                std::to_string(bytes_) + "-byte buffer");
  if (!host.empty()) T5_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), host.size(), cudaMemcpyHostToDevice));
}

void DeviceBuffer::download(std::span<std::byte> host) const {
  if (host.size() > bytes_)
    throw Error(ErrorCode::InvalidArgument, "DeviceBuffer::download: " + std::to_string(host.size()) + " bytes from a " +
                                                std::to_string(bytes_) + "-byte buffer");
  if (!host.empty()) T5_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, host.size(), cudaMemcpyDeviceToHost));
}

void DeviceBuffer::fill_bytes(unsigned char value) {
  if (bytes_ > 0) T5_CUDA_CHECK(cudaMemset(ptr_, value, bytes_));
}

}  // namespace t5::cuda
