// MappedFile: a read-only memory map of a whole file (RAII), through which checkpoints are read in
// place, and WeightSource: one tensor's bytes in such a file, as a backend's `weight` op takes them.
#pragma once

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <new>
#include <span>
#include <string>
#include <utility>

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"

namespace t5 {

class MappedFile {
 public:
  MappedFile() = default;

  /// Maps `path` (symlinks followed) read-only. An empty file maps to an empty span. Throws Error(Io)
  /// naming the file when it cannot be opened or is not a regular file.
  explicit MappedFile(const std::filesystem::path& path) : path_(path) {
    // O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses anything that is
    // not a regular file (for which O_NONBLOCK changes nothing).
    const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC);
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
      throw Error(ErrorCode::Io, path_.string() + ": not a regular file (" + file_kind(st.st_mode) + ")");
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

  /// `size` bytes of memory of its own (an anonymous map), filled by `fill` before it is shared
  /// read-only: the decoded form of an encoded tensor, named `path` (its file) in messages.
  /// release() drops its pages for good, which is right for a buffer only one weight reads.
  template <class Fill>
  static std::shared_ptr<const MappedFile> decoded(const std::filesystem::path& path, std::size_t size, Fill&& fill) {
    auto m = std::shared_ptr<MappedFile>(new MappedFile());
    m->path_ = path;
    if (size > 0) {
      void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (p == MAP_FAILED) throw std::bad_alloc();  // as any allocation of the load would
      m->data_ = static_cast<const std::byte*>(p);
      m->size_ = size;
    }
    fill(std::span<std::byte>(const_cast<std::byte*>(m->data_), size));
    return m;
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
  static std::string file_kind(mode_t mode) {
    if (S_ISDIR(mode)) return "a directory";
    if (S_ISFIFO(mode)) return "a FIFO";
    if (S_ISCHR(mode)) return "a character device";
    if (S_ISBLK(mode)) return "a block device";
    if (S_ISSOCK(mode)) return "a socket";
    return "not a file";
  }
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
/// alignment), their dtype (a weight dtype: F32, F16, BF16 or fp8), the file and the tensor's name
/// (for messages). A backend that uses the bytes in place keeps `file` alive with the weight and calls
/// check_finite(); one that converts them calls convert_to() (which checks as it converts) and
/// release() once it has.
struct WeightSource {
  std::span<const std::byte> bytes;
  DType dtype = DType::F32;
  std::shared_ptr<const MappedFile> file;
  std::string name;

  std::int64_t elements() const { return static_cast<std::int64_t>(bytes.size() / dtype_size(dtype)); }
  /// The pages only these bytes occupy leave memory (they are read again from the file if touched).
  void release() const {
    if (file) file->release(bytes);
  }

  /// Converts the elements into dst (elements() values of U). Throws Error(Format) naming the
  /// tensor, the file and the first element that is NaN or Inf in U: a checkpoint's weights must be
  /// finite, and one NaN weight would silently turn every output into NaN.
  template <class U>
  void convert_to(U* dst) const {
    const std::size_t bad = convert_elements(bytes, dtype, dst);
    if (bad != static_cast<std::size_t>(elements())) throw non_finite(bad, dtype_of<U>());
  }

  /// The same check for bytes a backend uses in place, with no conversion (one read of the bytes).
  void check_finite() const {
    std::size_t bad = 0;
    switch (dtype) {
      case DType::F32: bad = first_non_finite_in<float>(); break;
      case DType::F16: bad = first_non_finite_in<f16>(); break;
      case DType::BF16: bad = first_non_finite_in<bf16>(); break;
      default: return;
    }
    if (bad != static_cast<std::size_t>(elements())) throw non_finite(bad, dtype);
  }

 private:
  /// Scans the bytes through a small aligned buffer: they may sit at any alignment in the file.
  template <class T>
  std::size_t first_non_finite_in() const {
    constexpr std::size_t chunk = 1024;
    T buffer[chunk];
    const std::size_t n = bytes.size() / sizeof(T);
    for (std::size_t b = 0; b < n; b += chunk) {
      const std::size_t m = std::min(chunk, n - b);
      std::memcpy(buffer, bytes.data() + b * sizeof(T), m * sizeof(T));
      if (const std::size_t bad = first_non_finite(std::span<const T>(buffer, m)); bad < m) return b + bad;
    }
    return n;
  }

  Error non_finite(std::size_t index, DType held) const {
    const float value = element_as_float(bytes, dtype, index);
    char shown[32];
    std::snprintf(shown, sizeof shown, "%.9g", static_cast<double>(value));  // "nan", "inf", "-inf", "70000"
    const std::string where = (file ? file->path().string() : std::string("(weights in memory)")) + ": tensor " + quoted_text(name, name_chars) +
                              ": element " + std::to_string(index) + " is " + shown + " (" + std::string(dtype_name(dtype)) + ")";
    if (std::isfinite(value))  // finite in the file, beyond the range of the dtype the backend holds it in
      return Error(ErrorCode::Format, where + ", beyond the range of " + std::string(dtype_name(held)) + "; weights must be finite");
    return Error(ErrorCode::Format, where + "; weights must be finite");
  }
};

/// The elements of `parts` together: the rows * cols of the weight they are stacked into.
inline std::int64_t total_elements(std::span<const WeightSource> parts) {
  std::int64_t n = 0;
  for (const auto& p : parts) n += p.elements();
  return n;
}

/// Converts the elements of `parts`, in order, into dst (total_elements(parts) values of U),
/// refusing NaN and Inf (WeightSource::convert_to), and releases each part's file pages once read.
template <class U>
void convert_parts(std::span<const WeightSource> parts, U* dst) {
  for (const auto& p : parts) {
    p.convert_to(dst);
    dst += p.elements();
    p.release();
  }
}

/// Largest file read_text_file reads: far beyond any config, index or SentencePiece model, and a
/// bound on what a file's size makes it allocate.
inline constexpr std::uint64_t max_text_file_bytes = std::uint64_t{1} << 28;

/// Reads a whole (small) regular file into a string; throws Error(Io) naming the file.
inline std::string read_text_file(const std::filesystem::path& path) {
  MappedFile file(path);
  const auto b = file.bytes();
  if (b.size() > max_text_file_bytes)
    throw Error(ErrorCode::Io, path.string() + ": " + std::to_string(b.size()) + " bytes, more than the " +
                                   std::to_string(max_text_file_bytes) + " a configuration or tokenizer file may have");
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

/// What is at a path, symlinks followed.
enum class PathKind { Missing, Regular, Directory, Other };

/// The kind of `path` (std::filesystem::status with its error_code: nothing there is Missing;
/// a symlink loop, a name too long or an unreadable parent directory is Error(Io) naming the path,
/// never a std::filesystem_error). A dangling symlink (an HF cache snapshot whose blob is missing)
/// is Other, not Missing: opening it then reports the missing target.
inline PathKind path_kind(const std::filesystem::path& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::file_status st = fs::status(path, ec);
  if (st.type() == fs::file_type::not_found) {
    std::error_code link_ec;
    return fs::symlink_status(path, link_ec).type() == fs::file_type::symlink ? PathKind::Other : PathKind::Missing;
  }
  if (ec) throw Error(ErrorCode::Io, path.string() + ": cannot stat: " + ec.message());
  if (st.type() == fs::file_type::regular) return PathKind::Regular;
  if (st.type() == fs::file_type::directory) return PathKind::Directory;
  return PathKind::Other;
}

}  // namespace t5
