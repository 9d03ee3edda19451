// TensorFile: one file of weights as a table of named tensors whose bytes lie in place in the
// file's mapping. Each format's reader (safetensors, PyTorch zip) derives from it and fills the
// table after validating the file; loading reads only this table.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"

namespace t5::io {

/// "[a, b, c]" for messages.
inline std::string shape_string(std::span<const std::int64_t> shape) {
  std::string s = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) s += (i ? ", " : "") + std::to_string(shape[i]);
  return s + "]";
}

/// The element count of `shape` by checked multiplication, as the reference crate counts it (its
/// try_fold of checked_mul): nullopt when a dimension is negative or a partial product passes
/// 2^64, so [2^62, 4, 0] is refused although its product is 0, and [2^62, 2, 0] holds 0 elements.
inline std::optional<std::uint64_t> shape_elements(std::span<const std::int64_t> shape) {
  std::uint64_t n = 1;
  for (const auto d : shape)
    if (d < 0 || __builtin_mul_overflow(n, static_cast<std::uint64_t>(d), &n)) return std::nullopt;
  return n;
}

/// One tensor as its header describes it.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  ///< byte range in the file's data section (a safetensors file's, after the
  std::uint64_t end = 0;    ///< header; the whole file for the other formats)
  /// How the bytes are stored when they are not plain `dtype` elements ("Q8_0", "F8_E4M3 x scale"):
  /// the reader's source() decodes them into `dtype`. Empty for tensors used as stored.
  std::string encoding = {};

  /// The element count. The reader has checked it against the byte range (so it fits), a
  /// hand-made TensorInfo whose shape overflows is Error(InvalidArgument).
  std::int64_t numel() const {
    const auto n = shape_elements(shape);
    if (!n || *n > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
      throw Error(ErrorCode::InvalidArgument, "tensor " + quoted_text(name, name_chars) + ": shape " + shape_string(shape) + " has no int64 element count");
    return static_cast<std::int64_t>(*n);
  }
  std::uint64_t nbytes() const { return end - begin; }
  /// "F32", or "Q8_0 -> F32" for a decoded tensor, for listings.
  std::string stored_as() const { return encoding.empty() ? std::string(dtype_name(dtype)) : encoding + " -> " + std::string(dtype_name(dtype)); }
};

class TensorFile {
 public:
  TensorFile(const TensorFile&) = delete;
  TensorFile& operator=(const TensorFile&) = delete;
  virtual ~TensorFile() = default;

  const std::filesystem::path& path() const noexcept { return file_->path(); }
  /// "safetensors", "PyTorch zip".
  std::string_view format() const noexcept { return format_; }
  /// All tensors, in name order.
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  std::uint64_t file_size() const noexcept { return file_->size(); }
  /// The mapping, shared with weights used in place.
  const std::shared_ptr<const MappedFile>& mapping() const noexcept { return file_; }

  const TensorInfo* find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &tensors_[it->second];
  }

  /// The tensor's bytes, in place in the mapping (valid while this object lives), at whatever
  /// alignment the file gives them: read them by memcpy (dtype.hpp's conversions do), never
  /// through a cast pointer.
  std::span<const std::byte> data(const TensorInfo& t) const { return file_->bytes().subspan(data_offset_ + t.begin, t.nbytes()); }

  /// The tensor as a backend's weight op reads it: `dtype` elements, in place in the mapping, or,
  /// for a tensor with an encoding, decoded into memory of its own that the source keeps alive
  /// (each call decodes anew, so releasing one source's pages never touches another's).
  virtual WeightSource source(const TensorInfo& t) const { return {data(t), t.dtype, file_, t.name}; }

  /// What the file itself says about the model (GGUF metadata), as config.json keys; an empty
  /// object when it says nothing.
  virtual Json embedded_config() const { return Json::object(); }

 protected:
  TensorFile(const std::filesystem::path& path, std::string_view format)
      : file_(std::make_shared<const MappedFile>(path)), format_(format) {}

  /// Sorts the table by name and indexes it (names are unique: each reader has checked).
  void index_names() {
    std::sort(tensors_.begin(), tensors_.end(), [](const TensorInfo& a, const TensorInfo& b) { return a.name < b.name; });
    for (std::size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
  }

  std::shared_ptr<const MappedFile> file_;
  std::string_view format_;
  std::uint64_t data_offset_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t, std::less<>> by_name_;
};

}  // namespace t5::io
