// Safetensors writer: collects tensors, then writes the file through a temporary name and a rename,
// so a failed or interrupted write never leaves a partial file under the final name.
#pragma once

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/io/safetensors.hpp"

namespace t5::io {

class SafetensorsWriter {
 public:
  /// Adds a tensor (the bytes are copied). Throws Error(InvalidArgument) on a duplicate name or
  /// when the byte count does not match shape x dtype size.
  void add(const std::string& name, DType dtype, std::vector<std::int64_t> shape, std::span<const std::byte> data) {
    const auto elements = shape_elements(shape);
    if (!elements) throw Error(ErrorCode::InvalidArgument, "safetensors writer: tensor " + quoted_text(name, name_chars) + " has a shape " + shape_string(shape) + " with a negative dimension or more than 2^64 elements");
    std::uint64_t needed = 0;
    if (__builtin_mul_overflow(*elements, dtype_size(dtype), &needed) || needed != data.size())
      throw Error(ErrorCode::InvalidArgument, "safetensors writer: tensor " + quoted_text(name, name_chars) + " of shape " + shape_string(shape) +
                                                  " needs " + std::to_string(*elements) + " x " + std::to_string(dtype_size(dtype)) + " bytes, got " +
                                                  std::to_string(data.size()));
    if (!entries_.emplace(name, Entry{dtype, std::move(shape), {data.begin(), data.end()}}).second)
      throw Error(ErrorCode::InvalidArgument, "safetensors writer: duplicate tensor name " + quoted_text(name, name_chars));
  }

  template <class T>
  void add(const std::string& name, std::vector<std::int64_t> shape, std::span<const T> values) {
    add(name, dtype_of<T>(), std::move(shape), std::as_bytes(values));
  }

  void set_metadata(const std::string& key, const std::string& value) { metadata_[key] = value; }

  /// Writes the file as the reference crate does: tensors back to back in name order from byte 0 of
  /// the data section (nothing after the last), the header padded with spaces to a multiple of 8
  /// bytes so every tensor starts 8-byte aligned. Throws Error(Io).
  void write(const std::filesystem::path& path) const {
    Json header = Json::object();
    if (!metadata_.empty()) header["__metadata__"] = metadata_;
    std::uint64_t offset = 0;
    for (const auto& [name, e] : entries_) {
      header[name] = {{"dtype", dtype_name(e.dtype)}, {"shape", e.shape}, {"data_offsets", {offset, offset + e.bytes.size()}}};
      offset += e.bytes.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');

    const std::filesystem::path tmp = path.string() + ".tmp-" + std::to_string(::getpid());
    {
      std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
      if (!out) throw Error(ErrorCode::Io, path.string() + ": cannot create " + tmp.string());
      unsigned char length[8];
      for (int i = 0; i < 8; ++i) length[i] = static_cast<unsigned char>((text.size() >> (8 * i)) & 0xffu);
      out.write(reinterpret_cast<const char*>(length), 8);
      out.write(text.data(), static_cast<std::streamsize>(text.size()));
      for (const auto& [name, e] : entries_)
        out.write(reinterpret_cast<const char*>(e.bytes.data()), static_cast<std::streamsize>(e.bytes.size()));
      out.flush();
      if (!out) {
        out.close();
        std::error_code ignored;
        std::filesystem::remove(tmp, ignored);
        throw Error(ErrorCode::Io, path.string() + ": write failed (disk full?)");
      }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
      std::error_code ignored;
      std::filesystem::remove(tmp, ignored);
      throw Error(ErrorCode::Io, path.string() + ": cannot rename the finished file into place: " + ec.message());
    }
  }

 private:
  struct Entry {
    DType dtype;
    std::vector<std::int64_t> shape;
    std::vector<std::byte> bytes;
  };
  std::map<std::string, Entry> entries_;
  std::map<std::string, std::string> metadata_;
};

}  // namespace t5::io
