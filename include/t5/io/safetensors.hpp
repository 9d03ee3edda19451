// Safetensors reader: memory-maps one file, parses and validates its header before anything is used.
// Layout: u64 little-endian header length N, N bytes of JSON, then the data section; each tensor's
// data_offsets are [begin, end) relative to the data section.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/tensor_file.hpp"

namespace t5::io {

/// A safetensors file, validated as strictly as the reference implementation (huggingface/
/// safetensors, tensor.rs: read_metadata and Metadata::validate); tests/io/test_safetensors.cpp
/// lists each rule and where t5cc is stricter.
class SafetensorsFile : public TensorFile {
 public:
  /// Largest header accepted; the reference implementation uses the same 100 MB limit.
  static constexpr std::uint64_t max_header_bytes = 100'000'000;

  /// Maps and validates `path`: header length against the file size, a header that is a JSON
  /// object starting with '{', unique names, known dtypes, shape x dtype size (checked products)
  /// equal to each byte range, and the ranges tiling the data section: sorted by offset, the first
  /// begins at 0, each where the previous ended, the last at the section's end. Throws Error(Io) if
  /// unreadable, Error(Format) if malformed.
  explicit SafetensorsFile(const std::filesystem::path& path) : TensorFile(path, "safetensors") {
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
    // The crate's rule: no byte order mark, no leading whitespace (trailing spaces pad the header).
    if (header.empty() || header.front() != '{')
      throw Error(ErrorCode::Format, src + ": header " + describe_start(header) + ", expected '{' (a JSON object)");
    const Json root = parse_json_strict(header, src, "tensor name");  // also refuses bad UTF-8
    if (!root.is_object()) throw Error(ErrorCode::Format, src + ": header is " + json_type_name(root) + ", expected a JSON object");

    with_json_errors(src, ErrorCode::Format, [&] {
      for (const auto& [name, entry] : root.items()) {
        if (name == "__metadata__") {
          read_metadata(src, entry);
          continue;
        }
        tensors_.push_back(read_entry(src, name, entry, data_size));
      }
    });
    check_layout(src, data_size);
    index_names();
  }

  const std::map<std::string, std::string>& metadata() const noexcept { return metadata_; }

 private:
  /// "starts with a UTF-8 byte order mark" / "starts with ' '" / "is empty", for the '{' rule.
  static std::string describe_start(std::string_view header) {
    if (header.empty()) return "is empty";
    if (header.starts_with("\xef\xbb\xbf")) return "starts with a UTF-8 byte order mark";
    const auto c = static_cast<unsigned char>(header.front());
    if (c >= 0x20 && c < 0x7f) return "starts with " + quoted_text(std::string_view(header.data(), 1));
    char hex[8];
    std::snprintf(hex, sizeof hex, "0x%02x", c);
    return std::string("starts with byte ") + hex;
  }

  void read_metadata(const std::string& src, const Json& entry) {
    if (!entry.is_object()) throw Error(ErrorCode::Format, src + ": \"__metadata__\" is " + json_type_name(entry) + ", expected an object of strings");
    for (const auto& [key, value] : entry.items()) {
      if (!value.is_string())
        throw Error(ErrorCode::Format, src + ": \"__metadata__\" key " + quoted_text(key, name_chars) + " is " + json_type_name(value) +
                                           " " + json_excerpt(value) + ", expected a string");
      metadata_.emplace(key, value.get<std::string>());
    }
  }

  static TensorInfo read_entry(const std::string& src, const std::string& name, const Json& entry, std::uint64_t data_size) {
    const std::string where = src + ": tensor " + quoted_text(name, name_chars);
    auto fail = [&](const std::string& what) -> Error { return Error(ErrorCode::Format, where + ": " + what); };
    if (!entry.is_object()) throw fail("entry is " + json_type_name(entry) + ", expected an object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
      if (!entry.contains(field)) throw fail(std::string("missing \"") + field + "\"");

    TensorInfo t;
    t.name = name;
    const Json& dtype = entry.at("dtype");
    if (!dtype.is_string()) throw fail("\"dtype\" is " + json_type_name(dtype) + " " + json_excerpt(dtype) + ", expected a string");
    const auto parsed = parse_dtype(dtype.get<std::string>());
    if (!parsed) throw fail("unknown dtype " + quoted_text(dtype.get<std::string>()));
    t.dtype = *parsed;

    const Json& shape = entry.at("shape");
    if (!shape.is_array()) throw fail("\"shape\" is " + json_type_name(shape) + " " + json_excerpt(shape) + ", expected an array");
    for (const auto& dim : shape) {
      if (!dim.is_number_unsigned())  // nlohmann stores every non-negative integer as unsigned
        throw fail("\"shape\" holds " + json_excerpt(dim) + ", expected non-negative integers");
      const auto d = dim.get<std::uint64_t>();
      if (d > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max())) throw fail("shape dimension " + json_excerpt(dim) + " is too large");
      t.shape.push_back(static_cast<std::int64_t>(d));
    }
    const auto elements = shape_elements(t.shape);

    const Json& offsets = entry.at("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() || !offsets[1].is_number_unsigned())
      throw fail("\"data_offsets\" is " + json_excerpt(offsets) + ", expected [begin, end] with non-negative integers");
    t.begin = offsets[0].get<std::uint64_t>();
    t.end = offsets[1].get<std::uint64_t>();
    if (t.end < t.begin) throw fail("\"data_offsets\" " + json_excerpt(offsets) + " ends before it begins");

    const std::uint64_t size = dtype_size(t.dtype);
    std::uint64_t needed = 0;
    const bool overflow = !elements || __builtin_mul_overflow(*elements, size, &needed);
    if (overflow || needed != t.nbytes()) {
      throw fail("shape " + shape_string(t.shape) + " of " + std::string(dtype_name(t.dtype)) + " needs " +
                 (overflow ? std::string("more than 2^64") : std::to_string(needed)) + " bytes but data_offsets " +
                 json_excerpt(offsets) + " span " + std::to_string(t.nbytes()));
    }
    if (t.end > data_size)
      throw fail("data_offsets " + json_excerpt(offsets) + " run past the " + std::to_string(data_size) +
                 "-byte data section (truncated file?)");
    return t;
  }

  /// The crate's Metadata::validate: sorted by data_offsets, the ranges tile the data section with
  /// no overlap, no gap, nothing before the first and nothing after the last.
  void check_layout(const std::string& src, std::uint64_t data_size) const {
    std::vector<const TensorInfo*> by_offset;
    for (const auto& t : tensors_) by_offset.push_back(&t);
    std::sort(by_offset.begin(), by_offset.end(), [](auto* a, auto* b) { return std::pair(a->begin, a->end) < std::pair(b->begin, b->end); });
    auto range = [](const TensorInfo& t) {
      return "tensor " + quoted_text(t.name, name_chars) + " [" + std::to_string(t.begin) + ", " + std::to_string(t.end) + ")";
    };
    // Overlaps first: a range copied from another tensor also leaves a gap, and "overlap" says why.
    for (std::size_t i = 1; i < by_offset.size(); ++i)
      if (by_offset[i]->begin < by_offset[i - 1]->end)
        throw Error(ErrorCode::Format, src + ": " + range(*by_offset[i - 1]) + " and " + range(*by_offset[i]) + " overlap");
    std::uint64_t expected_begin = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo* t : by_offset) {
      if (t->begin != expected_begin)
        throw Error(ErrorCode::Format, src + ": " + std::to_string(t->begin - expected_begin) + " unused bytes before " + range(*t) +
                                           (previous ? ", after " + range(*previous) : std::string(", the first in the data section")) +
                                           "; tensors must be stored back to back from byte 0");
      expected_begin = t->end;
      previous = t;
    }
    if (expected_begin != data_size)
      throw Error(ErrorCode::Format, src + ": " + std::to_string(data_size - expected_begin) + " unused bytes after " +
                                         (previous ? "the last " + range(*previous) : std::string("the header, which lists no tensor")) +
                                         " (the data section must end where the last tensor ends)");
  }

  std::map<std::string, std::string> metadata_;
};

}  // namespace t5::io
