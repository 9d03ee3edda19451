// Device discovery, streams, events, the memory pool, device buffers and copies (declared in
// include/t5/cuda/device.hpp).
#include "t5/cuda/device.hpp"

#include <cstdint>
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

void set_device(int device) {
  const int count = device_count();
  if (device < 0 || device >= count)
    throw Error(ErrorCode::Cuda, "CUDA device " + std::to_string(device) + " does not exist (this machine has " + std::to_string(count) +
                                     (count == 1 ? " device)" : " devices)"));
  T5_CUDA_CHECK(cudaSetDevice(device));
}

std::string device_description() {
  int device = 0, driver = 0;
  T5_CUDA_CHECK(cudaGetDevice(&device));
  cudaDeviceProp prop{};
  T5_CUDA_CHECK(cudaGetDeviceProperties(&prop, device));
  T5_CUDA_CHECK(cudaDriverGetVersion(&driver));
  return std::string(prop.name) + " (sm_" + std::to_string(prop.major) + std::to_string(prop.minor) + ", " +
         std::to_string(prop.totalGlobalMem >> 30) + " GiB), CUDA driver " + std::to_string(driver / 1000) + "." +
         std::to_string(driver % 1000 / 10);
}

std::size_t device_memory_bytes() {
  std::size_t free = 0, total = 0;
  T5_CUDA_CHECK(cudaMemGetInfo(&free, &total));
  return total;
}

void synchronize() { T5_CUDA_CHECK(cudaDeviceSynchronize()); }

CudaStream::CudaStream() { T5_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking)); }
CudaStream::~CudaStream() {
  if (stream_ != nullptr) (void)cudaStreamDestroy(stream_);
}
void CudaStream::synchronize() const { T5_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

CudaEvent::CudaEvent() { T5_CUDA_CHECK(cudaEventCreate(&event_)); }
CudaEvent::~CudaEvent() {
  if (event_ != nullptr) (void)cudaEventDestroy(event_);
}
void CudaEvent::record(Stream stream) { T5_CUDA_CHECK(cudaEventRecord(event_, stream)); }
void CudaEvent::synchronize() const { T5_CUDA_CHECK(cudaEventSynchronize(event_)); }
float CudaEvent::elapsed_ms_since(const CudaEvent& start) const {
  float ms = 0.0f;
  T5_CUDA_CHECK(cudaEventElapsedTime(&ms, start.event_, event_));
  return ms;
}

MemoryPool::MemoryPool() {
  int device = 0;
  T5_CUDA_CHECK(cudaGetDevice(&device));
  cudaMemPoolProps props{};
  props.allocType = cudaMemAllocationTypePinned;
  props.handleTypes = cudaMemHandleTypeNone;
  props.location.type = cudaMemLocationTypeDevice;
  props.location.id = device;
  T5_CUDA_CHECK(cudaMemPoolCreate(&pool_, &props));
  std::uint64_t keep_everything = UINT64_MAX;
  T5_CUDA_CHECK(cudaMemPoolSetAttribute(pool_, cudaMemPoolAttrReleaseThreshold, &keep_everything));
}
MemoryPool::~MemoryPool() {
  if (pool_ != nullptr) (void)cudaMemPoolDestroy(pool_);
}
std::size_t MemoryPool::reserved_bytes() const {
  std::uint64_t bytes = 0;
  T5_CUDA_CHECK(cudaMemPoolGetAttribute(pool_, cudaMemPoolAttrReservedMemCurrent, &bytes));
  return static_cast<std::size_t>(bytes);
}

DeviceBuffer::DeviceBuffer(std::size_t bytes) : bytes_(bytes) {
  if (bytes > 0) T5_CUDA_CHECK(cudaMalloc(&ptr_, bytes));
}

DeviceBuffer::DeviceBuffer(std::size_t bytes, const MemoryPool& pool, Stream stream) : bytes_(bytes), pooled_(true), stream_(stream) {
  if (bytes > 0) T5_CUDA_CHECK(cudaMallocFromPoolAsync(&ptr_, bytes, pool.get(), stream));
}

void DeviceBuffer::release() noexcept {
  if (ptr_ != nullptr) (void)(pooled_ ? cudaFreeAsync(ptr_, stream_) : cudaFree(ptr_));
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

void copy_to_device_async(void* dst, const void* src, std::size_t bytes, Stream stream) {
  if (bytes > 0) T5_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream));
}

void copy_to_host(void* dst, const void* src, std::size_t bytes, Stream stream) {
  if (bytes == 0) return;
  T5_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream));
  T5_CUDA_CHECK(cudaStreamSynchronize(stream));
}

void copy_2d_async(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch, std::size_t row_bytes, std::size_t rows,
                   Stream stream) {
  if (row_bytes > 0 && rows > 0)
    T5_CUDA_CHECK(cudaMemcpy2DAsync(dst, dst_pitch, src, src_pitch, row_bytes, rows, cudaMemcpyDeviceToDevice, stream));
}

}  // namespace t5::cuda
