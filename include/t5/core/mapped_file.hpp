// MappedFile: a read-only memory map of a whole file (RAII), through which checkpoints are read in
// place, and WeightSource: one tensor's bytes in such a file, as a backend's `weight` op takes them.
#pragma once

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"

namespace t5 {

class MappedFile {
 public:
  MappedFile() = default;

  /// Maps `path` read-only. An empty file maps to an empty span. Throws Error(Io) naming the file.
  explicit MappedFile(const std::filesystem::path& path) : path_(path) {
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) fail("cannot open");
    struct stat st {};
    if (::fstat(fd, &st) != 0) {
      const int saved = errno;
      ::close(fd);
      errno = saved;
      fail("cannot stat");
    }
    if (!S_ISREG(st.st_mode)) {
      ::close(fd);
      throw Error(ErrorCode::Io, path_.string() + ": not a regular file");
    }
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ > 0) {
      void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
      if (p == MAP_FAILED) {
        const int saved = errno;
        ::close(fd);
        errno = saved;
        fail("cannot map");
      }
      data_ = static_cast<const std::byte*>(p);
    }
    ::close(fd);  // the mapping keeps the file alive
  }

  MappedFile(MappedFile&& other) noexcept
      : path_(std::move(other.path_)),
        data_(std::exchange(other.data_, nullptr)),
        size_(std::exchange(other.size_, 0)) {}

  MappedFile& operator=(MappedFile&& other) noexcept {
    if (this != &other) {
      unmap();
      path_ = std::move(other.path_);
      data_ = std::exchange(other.data_, nullptr);
      size_ = std::exchange(other.size_, 0);
    }
    return *this;
  }

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile() { unmap(); }

  std::span<const std::byte> bytes() const noexcept { return {data_, size_}; }
  std::size_t size() const noexcept { return size_; }
  const std::filesystem::path& path() const noexcept { return path_; }

  /// Drops from memory the whole pages inside `range` (a part of bytes()) that were read: a weight
  /// converted into the backend's own memory no longer holds its file's pages. The mapping stays
  /// valid; a later read faults the pages in again from the file (the map is read-only, so its
  /// pages are never private copies).
  void release(std::span<const std::byte> range) const noexcept {
    const auto page = static_cast<std::uintptr_t>(::sysconf(_SC_PAGESIZE));
    const auto begin = (reinterpret_cast<std::uintptr_t>(range.data()) + page - 1) / page * page;
    const auto end = (reinterpret_cast<std::uintptr_t>(range.data()) + range.size()) / page * page;
    if (end > begin) ::madvise(reinterpret_cast<void*>(begin), end - begin, MADV_DONTNEED);  // advice only: ignore failure
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw Error(ErrorCode::Io, path_.string() + ": " + what + ": " + std::strerror(errno));
  }
  void unmap() noexcept {
    if (data_ != nullptr) ::munmap(const_cast<std::byte*>(data_), size_);
    data_ = nullptr;
  }

  std::filesystem::path path_;
  const std::byte* data_ = nullptr;
  std::size_t size_ = 0;
};

/// One checkpoint tensor as a backend's `weight` op reads it: its bytes in a mapped file (in any
/// alignment), their dtype (F32, F16 or BF16) and the file. A backend that uses the bytes in place
/// keeps `file` alive with the weight; one that converts them calls release() once it has.
struct WeightSource {
  std::span<const std::byte> bytes;
  DType dtype = DType::F32;
  std::shared_ptr<const MappedFile> file;

  std::int64_t elements() const { return static_cast<std::int64_t>(bytes.size() / dtype_size(dtype)); }
  /// The pages only these bytes occupy leave memory (they are read again from the file if touched).
  void release() const {
    if (file) file->release(bytes);
  }
};

/// The elements of `parts` together: the rows * cols of the weight they are stacked into.
inline std::int64_t total_elements(std::span<const WeightSource> parts) {
  std::int64_t n = 0;
  for (const auto& p : parts) n += p.elements();
  return n;
}

/// Converts the elements of `parts`, in order, into dst (total_elements(parts) values of U), and
/// releases each part's file pages once read.
template <class U>
void convert_parts(std::span<const WeightSource> parts, U* dst) {
  for (const auto& p : parts) {
    convert_elements(p.bytes, p.dtype, dst);
    dst += p.elements();
    p.release();
  }
}

/// Reads a whole (small) file into a string; throws Error(Io) naming the file.
inline std::string read_text_file(const std::filesystem::path& path) {
  MappedFile file(path);
  const auto b = file.bytes();
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

}  // namespace t5
