// Safetensors reader: memory-maps one file, parses and validates its header before anything is used.
// Layout: u64 little-endian header length N, N bytes of JSON, then the data section; each tensor's
// data_offsets are [begin, end) relative to the data section.
#pragma once

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
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

/// One tensor as its header describes it.
struct TensorInfo {
  std::string name;
  DType dtype = DType::F32;
  std::vector<std::int64_t> shape;
  std::uint64_t begin = 0;  ///< byte offset in the data section
  std::uint64_t end = 0;

  std::int64_t numel() const {
    std::int64_t n = 1;
    for (auto d : shape) n *= d;
    return n;
  }
  std::uint64_t nbytes() const { return end - begin; }
};

class SafetensorsFile {
 public:
  /// Largest header accepted; the reference implementation uses the same 100 MB limit.
  static constexpr std::uint64_t max_header_bytes = 100'000'000;

  /// Maps and validates `path`: header length against the file size, JSON syntax, unique names,
  /// known dtypes, shape x dtype size equal to each byte range, ranges inside the data section and
  /// not overlapping. Throws Error(Io) if unreadable, Error(Format) if malformed.
  explicit SafetensorsFile(const std::filesystem::path& path) : file_(std::make_shared<const MappedFile>(path)) {
    const std::string src = path.string();
    const auto bytes = file_->bytes();
    if (bytes.empty())
      throw Error(ErrorCode::Format, src + ": file is empty (a safetensors file starts with an 8-byte header length)");
    if (bytes.size() < 8)
      throw Error(ErrorCode::Format, src + ": truncated: " + std::to_string(bytes.size()) +
                                         " bytes, shorter than the 8-byte header length");
    std::uint64_t header_len = 0;
    for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | std::to_integer<std::uint64_t>(bytes[i]);
    if (header_len > max_header_bytes)
      throw Error(ErrorCode::Format, src + ": header length " + std::to_string(header_len) +
                                         " exceeds the 100 MB limit (not a safetensors file?)");
    if (header_len > bytes.size() - 8)
      throw Error(ErrorCode::Format, src + ": header length " + std::to_string(header_len) +
                                         " runs past the end of the " + std::to_string(bytes.size()) +
                                         "-byte file (truncated?)");
    data_offset_ = 8 + header_len;
    const std::uint64_t data_size = bytes.size() - data_offset_;
    const std::string_view header(reinterpret_cast<const char*>(bytes.data() + 8), header_len);
    const Json root = parse_json_strict(header, src, "tensor name");
    if (!root.is_object()) throw Error(ErrorCode::Format, src + ": header is " + json_type_name(root) + ", expected a JSON object");

    for (const auto& [name, entry] : root.items()) {
      if (name == "__metadata__") {
        read_metadata(src, entry);
        continue;
      }
      tensors_.push_back(read_entry(src, name, entry, data_size));
    }
    check_overlaps(src);
    for (std::size_t i = 0; i < tensors_.size(); ++i) by_name_.emplace(tensors_[i].name, i);
  }

  const std::filesystem::path& path() const noexcept { return file_->path(); }
  /// All tensors, in name order.
  const std::vector<TensorInfo>& tensors() const noexcept { return tensors_; }
  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }
  std::uint64_t file_size() const noexcept { return file_->size(); }
  /// The mapping, shared with weights used in place.
  const std::shared_ptr<const MappedFile>& mapping() const noexcept { return file_; }

  const TensorInfo* find(std::string_view name) const {
    auto it = by_name_.find(std::string(name));
    return it == by_name_.end() ? nullptr : &tensors_[it->second];
  }

  /// The tensor's bytes, in place in the mapping (valid while this object lives).
  std::span<const std::byte> data(const TensorInfo& t) const {
    return file_->bytes().subspan(data_offset_ + t.begin, t.nbytes());
  }

 private:
  void read_metadata(const std::string& src, const Json& entry) {
    if (!entry.is_object()) throw Error(ErrorCode::Format, src + ": \"__metadata__\" is " + json_type_name(entry) + ", expected an object of strings");
    for (const auto& [key, value] : entry.items()) {
      if (!value.is_string())
        throw Error(ErrorCode::Format, src + ": \"__metadata__\" key \"" + key + "\" is " + json_type_name(value) + ", expected a string");
      metadata_.emplace(key, value.get<std::string>());
    }
  }

  static TensorInfo read_entry(const std::string& src, const std::string& name, const Json& entry, std::uint64_t data_size) {
    const std::string where = src + ": tensor \"" + name + "\"";
    auto fail = [&](const std::string& what) -> Error { return Error(ErrorCode::Format, where + ": " + what); };
    if (!entry.is_object()) throw fail("entry is " + json_type_name(entry) + ", expected an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(field)) throw fail(std::string("missing \"") + field + "\"");

    TensorInfo t;
    t.name = name;
    const Json& dtype = entry["dtype"];
    if (!dtype.is_string()) throw fail("\"dtype\" is " + json_type_name(dtype) + ", expected a string");
    const auto parsed = parse_dtype(dtype.get<std::string>());
    if (!parsed) throw fail("unknown dtype \"" + dtype.get<std::string>() + "\"");
    t.dtype = *parsed;

    const Json& shape = entry["shape"];
    if (!shape.is_array()) throw fail("\"shape\" is " + json_type_name(shape) + ", expected an array");
    std::uint64_t elements = 1;
    bool overflow = false;
    for (const auto& dim : shape) {
      if (!dim.is_number_unsigned())  // nlohmann stores every non-negative integer as unsigned
        throw fail("\"shape\" holds " + dim.dump() + ", expected non-negative integers");
      const auto d = dim.get<std::uint64_t>();
      if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) throw fail("shape dimension " + dim.dump() + " is too large");
      t.shape.push_back(static_cast<std::int64_t>(d));
      if (d != 0 && elements > std::numeric_limits<std::uint64_t>::max() / d) overflow = true;
      elements *= d;
    }

    const Json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      throw fail("\"data_offsets\" is " + offsets.dump() + ", expected [begin, end] with non-negative integers");
    t.begin = offsets[0].get<std::uint64_t>();
    t.end = offsets[1].get<std::uint64_t>();
    if (t.end < t.begin) throw fail("\"data_offsets\" " + offsets.dump() + " ends before it begins");

    const std::uint64_t size = dtype_size(t.dtype);
    if (overflow || elements > std::numeric_limits<std::uint64_t>::max() / size || elements * size != t.nbytes()) {
      throw fail("shape " + shape_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) + " needs " +
                 (overflow ? std::string("more than 2^64") : std::to_string(elements * size)) + " bytes but data_offsets " +
                 offsets.dump() + " span " + std::to_string(t.nbytes()));
    }
    if (t.end > data_size)
      throw fail("data_offsets " + offsets.dump() + " run past the " + std::to_string(data_size) +
                 "-byte data section (truncated file?)");
    return t;
  }

  void check_overlaps(const std::string& src) const {
    std::vector<const TensorInfo*> by_offset;
    for (const auto& t : tensors_)
      if (t.nbytes() > 0) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return a->begin < b->begin; });
    for (std::size_t i = 1; i < by_offset.size(); ++i) {
      const TensorInfo& prev = *by_offset[i - 1];
      const TensorInfo& cur = *by_offset[i];
      if (cur.begin < prev.end)
        throw Error(ErrorCode::Format, src + ": tensors \"" + prev.name + "\" [" + std::to_string(prev.begin) + ", " +
                                           std::to_string(prev.end) + ") and \"" + cur.name + "\" [" +
                                           std::to_string(cur.begin) + ", " + std::to_string(cur.end) + ") overlap");
    }
  }

  std::shared_ptr<const MappedFile> file_;
  std::uint64_t data_offset_ = 0;
  std::vector<TensorInfo> tensors_;
  std::map<std::string, std::size_t> by_name_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace t5::io
