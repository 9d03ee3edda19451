// Host-side device management without CUDA headers: device discovery, an RAII device buffer and
// copies, implemented in kernels/device.cu. Failures throw Error(Cuda) with file, line and status.
#pragma once

#include <cstddef>
#include <span>
#include <utility>

namespace t5::cuda {

/// Number of usable CUDA devices; 0 when there is no GPU or no driver (never throws).
int device_count() noexcept;

/// Blocks until all work on the current device has finished; throws on an asynchronous error.
void synchronize();

/// An owning allocation of device memory.
class DeviceBuffer {
 public:
  DeviceBuffer() = default;
  explicit DeviceBuffer(std::size_t bytes);
  DeviceBuffer(DeviceBuffer&& other) noexcept
      : ptr_(std::exchange(other.ptr_, nullptr)), bytes_(std::exchange(other.bytes_, 0)) {}
  DeviceBuffer& operator=(DeviceBuffer&& other) noexcept {
    if (this != &other) {
      release();
      ptr_ = std::exchange(other.ptr_, nullptr);
      bytes_ = std::exchange(other.bytes_, 0);
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
};

}  // namespace t5::cuda
