// PyTorchFile: a pytorch_model.bin as torch.save (>= 1.6) writes it: a zip archive holding
// <archive>/data.pkl (the state dict, pickled, its tensors pointing into storages by key) and one
// entry <archive>/data/<key> per storage, the raw little-endian elements. The pickle is read by
// pickle.hpp's restricted unpickler, which executes nothing; each tensor becomes a byte range of
// its storage's entry, in place in the mapping. Tensors sharing a storage (tied embeddings) share
// their bytes. The legacy format (torch < 1.6, or _use_new_zipfile_serialization=False) is refused.
#pragma once

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/io/pickle.hpp"
#include "t5/io/tensor_file.hpp"
#include "t5/io/zip.hpp"

namespace t5::io {

/// The first bytes of a pickle (a PROTO opcode), such as the legacy torch.save format.
inline bool starts_like_pickle(std::span<const std::byte> bytes) {
  return bytes.size() >= 2 && std::to_integer<int>(bytes[0]) == 0x80 && std::to_integer<int>(bytes[1]) >= 2 && std::to_integer<int>(bytes[1]) <= 5;
}

class PyTorchFile : public TensorFile {
 public:
  /// Maps and reads `path`. Throws Error(Io) if unreadable, Error(Format) for a file that is not a
  /// torch.save zip of float32/float16/bfloat16 tensors (naming what it holds instead).
  explicit PyTorchFile(const std::filesystem::path& path) : TensorFile(path, "PyTorch zip") {
    const std::string src = path.string();
    const auto bytes = file_->bytes();
    if (!starts_like_zip(bytes)) {
      if (starts_like_pickle(bytes))
        throw Error(ErrorCode::Format, src + ": a PyTorch file in the legacy format (torch < 1.6, or saved with "
                                             "_use_new_zipfile_serialization=False), which t5cc does not read: re-save it with a current torch.save, "
                                             "or as safetensors");
      throw Error(ErrorCode::Format, src + ": not a PyTorch zip checkpoint (no zip header)");
    }
    const ZipArchive zip(bytes, src);
    const std::string prefix = archive_prefix(zip);
    if (const auto* order = zip.find(prefix + "byteorder")) {
      const auto b = zip.data(*order);
      if (std::string_view(reinterpret_cast<const char*>(b.data()), b.size()) != "little")
        throw Error(ErrorCode::Format, src + ": tensors stored big-endian (byteorder " + quoted_text(std::string_view(reinterpret_cast<const char*>(b.data()), b.size())) + ")");
    }
    // The archive's folder name is the file's to choose (a newline included): quoted in messages.
    const pickle::Ref root = pickle::Unpickler(zip.data(*zip.find(prefix + "data.pkl")), src + " (" + quoted_text(prefix + "data.pkl", name_chars) + ")").load();
    if (root->kind != pickle::Value::Kind::Dict)
      throw Error(ErrorCode::Format, src + ": holds " + pickle::describe(*root) + ", expected a state dict (names to tensors)");
    std::set<std::string, std::less<>> names;
    for (std::size_t i = 0; i < root->items.size(); i += 2) {
      const pickle::Value& key = *root->items[i];
      const pickle::Value& value = *root->items[i + 1];
      if (key.kind != pickle::Value::Kind::String) throw Error(ErrorCode::Format, src + ": a state-dict key is " + pickle::describe(key) + ", expected a name");
      const std::string where = src + ": tensor " + quoted_text(key.text, name_chars);
      if (value.kind != pickle::Value::Kind::Tensor) throw Error(ErrorCode::Format, where + " is " + pickle::describe(value) + ", expected a tensor");
      if (!names.insert(key.text).second) throw Error(ErrorCode::Format, where + " is in the state dict twice");
      tensors_.push_back(locate(zip, prefix, where, key.text, *value.tensor));
    }
    index_names();
  }

 private:
  /// The archive's folder ("archive/", or the name torch.save was given): the one holding data.pkl.
  static std::string archive_prefix(const ZipArchive& zip) {
    std::string prefix;
    int found = 0;
    for (const auto& [name, entry] : zip.entries()) {
      const auto slash = name.find('/');
      if (slash != std::string::npos && name.substr(slash + 1) == "data.pkl") {
        prefix = name.substr(0, slash + 1);
        ++found;
      }
    }
    if (found != 1)
      throw Error(ErrorCode::Format, zip.source() + ": a zip archive with " + (found ? "several" : "no") + " <archive>/data.pkl (" +
                                         (found ? "not one torch.save checkpoint" : "not a torch.save checkpoint") + ")");
    return prefix;
  }

  /// The tensor's bytes within its storage's entry: contiguous (row-major strides), inside the
  /// storage, the storage inside its entry; every product checked.
  static TensorInfo locate(const ZipArchive& zip, const std::string& prefix, const std::string& where, const std::string& name,
                           const pickle::Tensor& t) {
    const pickle::Storage& s = *t.storage;
    const auto* entry = zip.find(prefix + "data/" + s.key);
    if (entry == nullptr) throw Error(ErrorCode::Format, where + ": its storage " + quoted_text(s.key) + " is not in the archive");
    const std::uint64_t element = dtype_size(s.dtype);
    std::uint64_t storage_bytes = 0;
    if (__builtin_mul_overflow(static_cast<std::uint64_t>(s.numel), element, &storage_bytes) || storage_bytes > entry->size)
      throw Error(ErrorCode::Format, where + ": its storage " + quoted_text(s.key) + " of " + std::to_string(s.numel) + " elements is larger than its " +
                                         std::to_string(entry->size) + "-byte entry");
    const auto elements = shape_elements(t.shape);
    std::uint64_t expected_stride = 1;
    for (std::size_t d = t.shape.size(); d-- > 0;) {
      if (t.shape[d] != 1 && static_cast<std::uint64_t>(t.stride[d]) != expected_stride)
        throw Error(ErrorCode::Format, where + ": shape " + shape_string(t.shape) + " with strides " + shape_string(t.stride) +
                                           " is not contiguous (save a .contiguous() copy)");
      if (__builtin_mul_overflow(expected_stride, static_cast<std::uint64_t>(t.shape[d]), &expected_stride)) break;
    }
    std::uint64_t end = 0;
    if (!elements || __builtin_add_overflow(static_cast<std::uint64_t>(t.offset), *elements, &end) || end > static_cast<std::uint64_t>(s.numel))
      throw Error(ErrorCode::Format, where + ": shape " + shape_string(t.shape) + " at offset " + std::to_string(t.offset) + " runs past its storage of " +
                                         std::to_string(s.numel) + " elements");
    TensorInfo info;
    info.name = name;
    info.dtype = s.dtype;
    info.shape = t.shape;
    info.begin = entry->offset + static_cast<std::uint64_t>(t.offset) * element;
    info.end = entry->offset + end * element;
    return info;
  }
};

}  // namespace t5::io
