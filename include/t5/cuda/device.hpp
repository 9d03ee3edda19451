// Host-side device management without CUDA headers: device discovery, RAII streams, events, a
// stream-ordered memory pool and device buffers, implemented in kernels/device.cu. Failures throw
// Error(Cuda) with file, line and the status text.
#pragma once

#include <cstddef>
#include <span>
#include <string>
#include <utility>

struct CUstream_st;   // cudaStream_t is CUstream_st*
struct CUevent_st;    // cudaEvent_t is CUevent_st*
struct CUmemPoolHandle_st;  // cudaMemPool_t

namespace t5::cuda {

using Stream = CUstream_st*;  ///< nullptr = the default stream

/// Number of usable CUDA devices; 0 when there is no GPU or no driver (never throws).
int device_count() noexcept;
/// Makes `device` current for this host thread; throws Error(Cuda) naming it if it does not exist.
void set_device(int device);
/// "NVIDIA H200 (sm_90, 139 GiB), driver 13.0" for the current device.
std::string device_description();

/// The current device's memory in bytes (what a request is measured against).
std::size_t device_memory_bytes();

/// Blocks until all work on the current device has finished; throws on an asynchronous error.
void synchronize();

/// An owning non-blocking CUDA stream.
class CudaStream {
 public:
  CudaStream();
  CudaStream(CudaStream&& o) noexcept : stream_(std::exchange(o.stream_, nullptr)) {}
  CudaStream& operator=(CudaStream&& o) noexcept {
    std::swap(stream_, o.stream_);
    return *this;
  }
  ~CudaStream();
  Stream get() const noexcept { return stream_; }
  /// Waits for the stream's work; throws Error(Cuda) if any of it failed.
  void synchronize() const;

 private:
  Stream stream_ = nullptr;
};

/// An owning CUDA event (with timing).
class CudaEvent {
 public:
  CudaEvent();
  CudaEvent(CudaEvent&& o) noexcept : event_(std::exchange(o.event_, nullptr)) {}
  CudaEvent& operator=(CudaEvent&& o) noexcept {
    std::swap(event_, o.event_);
    return *this;
  }
  ~CudaEvent();
  void record(Stream stream);
  void synchronize() const;
  /// Milliseconds from `start` to this event (both recorded and complete).
  float elapsed_ms_since(const CudaEvent& start) const;

 private:
  CUevent_st* event_ = nullptr;
};

/// A stream-ordered memory pool of the current device that keeps what it was given (release
/// threshold: unlimited): once a forward pass has run, the buffers of the next one are carved
/// from memory the pool already holds, with no driver allocation. One per model backend.
class MemoryPool {
 public:
  MemoryPool();
  MemoryPool(MemoryPool&& o) noexcept : pool_(std::exchange(o.pool_, nullptr)) {}
  MemoryPool& operator=(MemoryPool&& o) noexcept {
    std::swap(pool_, o.pool_);
    return *this;
  }
  ~MemoryPool();
  CUmemPoolHandle_st* get() const noexcept { return pool_; }
  /// Bytes the pool holds from the device (in use or cached).
  std::size_t reserved_bytes() const;

 private:
  CUmemPoolHandle_st* pool_ = nullptr;
};

/// An owning allocation of device memory: from cudaMalloc, or stream-ordered from a MemoryPool
/// (allocated and freed in the order of `stream`).
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  DeviceBuffer(std::size_t bytes, const MemoryPool& pool, Stream stream);
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)), pooled_(other.pooled_), stream_(other.stream_) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      ptr_ = std::exchange(other.ptr_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
      pooled_ = other.pooled_;
      stream_ = other.stream_;
    }
    return *this;
  }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  ~DeviceBuffer() { release(); }

  template <class T>
  T* as() const noexcept { return static_cast<T*>(ptr_); }
  std::size_t bytes() const noexcept { return bytes_; }

  /// Copies host bytes in (at most bytes()); throws Error(InvalidArgument) when too large.
  void upload(std::span<const std::byte> host);
  /// Copies the first host.size() bytes out.
  void download(std::span<std::byte> host) const;
  /// Sets every byte to `value` (used to poison outputs in tests).
  void fill_bytes(unsigned char value);

 private:
  void release() noexcept;
  void* ptr_ = nullptr;
  std::size_t bytes_ = 0;
  bool pooled_ = false;
  Stream stream_ = nullptr;
};

/// Stream-ordered copies (host memory may be pageable: uploads return once the host bytes are read).
void copy_to_device_async(void* dst, const void* src, std::size_t bytes, Stream stream);
void copy_to_host(void* dst, const void* src, std::size_t bytes, Stream stream);  ///< waits for the stream
/// rows of `row_bytes` each, `dst_pitch` / `src_pitch` bytes apart, device to device.
void copy_2d_async(void* dst, std::size_t dst_pitch, const void* src, std::size_t src_pitch, std::size_t row_bytes, std::size_t rows, Stream stream);

}  // namespace t5::cuda
