// WeightFiles: the safetensors weights of a checkpoint directory, one file (model.safetensors) or
// sharded (model.safetensors.index.json naming the shard of each tensor), behind one name index.
#pragma once

#include <algorithm>
#include <filesystem>
#include <map>
#include <memory>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/safetensors.hpp"

namespace t5::io {

inline constexpr std::string_view single_file_name = "model.safetensors";
inline constexpr std::string_view index_file_name = "model.safetensors.index.json";

/// A tensor and the file holding it.
struct TensorRef {
  const TensorInfo* info = nullptr;
  const SafetensorsFile* file = nullptr;
  std::span<const std::byte> data() const { return file->data(*info); }
  /// The tensor as a backend's weight op reads it.
  WeightSource source() const { return {data(), info->dtype, file->mapping(), info->name}; }
};

class WeightFiles {
 public:
  /// Opens the weights in `dir`: model.safetensors if present (transformers' preference), else the
  /// shards named by model.safetensors.index.json. Throws Error(Io) when neither exists (naming a
  /// PyTorch .bin if one is there) and Error(Format) for a malformed file or an index that
  /// disagrees with its shards.
  explicit WeightFiles(const std::filesystem::path& dir) : dir_(dir) {
    namespace fs = std::filesystem;
    const fs::path single = dir / single_file_name;
    const fs::path index = dir / index_file_name;
    // path_kind, not fs::exists: a symlink loop or an unreadable directory is Error(Io), not a
    // filesystem_error. Anything present but not a regular file is refused by MappedFile.
    if (path_kind(single) != PathKind::Missing) {
      files_.push_back(std::make_unique<SafetensorsFile>(single));
      for (const auto& t : files_.back()->tensors()) by_name_.emplace(t.name, TensorRef{&t, files_.back().get()});
      description_ = std::string(single_file_name);
    } else if (path_kind(index) != PathKind::Missing) {
      open_shards(index);
    } else {
      std::string found;
      for (const char* bin : {"pytorch_model.bin", "pytorch_model.bin.index.json"})
        if (path_kind(dir / bin) != PathKind::Missing) found = std::string(" (found ") + bin + ": PyTorch checkpoints are not supported yet)";
      throw Error(ErrorCode::Io, dir.string() + ": no safetensors weights: neither " + std::string(single_file_name) + " nor " +
                                     std::string(index_file_name) + found);
    }
  }

  const std::filesystem::path& dir() const noexcept { return dir_; }
  /// "model.safetensors" or "model.safetensors.index.json (2 shards)".
  const std::string& description() const noexcept { return description_; }
  const std::vector<std::unique_ptr<SafetensorsFile>>& files() const noexcept { return files_; }
  std::size_t size() const noexcept { return by_name_.size(); }

  const TensorRef* find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &it->second;
  }

  /// Every tensor, by name.
  const std::map<std::string, TensorRef, std::less<>>& tensors() const noexcept { return by_name_; }

  std::set<std::string, std::less<>> names() const {
    std::set<std::string, std::less<>> out;
    for (const auto& [name, ref] : by_name_) out.insert(name);
    return out;
  }

 private:
  void open_shards(const std::filesystem::path& index_path) {
    const std::string src = index_path.string();
    const Json index = parse_json_strict(read_text_file(index_path), src, "key");
    if (!index.is_object() || !index.contains("weight_map") || !index.at("weight_map").is_object())
      throw Error(ErrorCode::Format, src + ": expected an object with a \"weight_map\" object");
    std::map<std::string, SafetensorsFile*> shards;
    with_json_errors(src, ErrorCode::Format, [&] {
      for (const auto& [name, shard_json] : index.at("weight_map").items()) {
        const std::string entry = src + ": weight_map entry " + quoted_text(name, name_chars);
        if (!shard_json.is_string())
          throw Error(ErrorCode::Format, entry + " is " + json_type_name(shard_json) + " " + json_excerpt(shard_json) + ", expected a file name");
        const std::string& shard = shard_json.get_ref<const std::string&>();
        // A shard is a plain file name beside the index: nothing may reach outside the directory,
        // no NUL may cut the name short as a C path, no control character split a message naming it.
        const bool plain = std::none_of(shard.begin(), shard.end(), [](char c) { return c == '/' || static_cast<unsigned char>(c) < 0x20; });
        if (shard.empty() || !plain || shard == "." || shard == "..")
          throw Error(ErrorCode::Format, entry + " names " + quoted_text(shard, name_chars) + ", expected a file name in the same directory");
        auto [it, inserted] = shards.emplace(shard, nullptr);
        if (inserted) {
          const auto path = dir_ / shard;
          if (path_kind(path) == PathKind::Missing)
            throw Error(ErrorCode::Io, src + ": shard " + quoted_text(shard, name_chars) + " (holding " + quoted_text(name, name_chars) + ") does not exist");
          files_.push_back(std::make_unique<SafetensorsFile>(path));
          it->second = files_.back().get();
        }
        const TensorInfo* info = it->second->find(name);
        if (info == nullptr)
          throw Error(ErrorCode::Format, src + ": tensor " + quoted_text(name, name_chars) + " is mapped to " + quoted_text(shard, name_chars) +
                                             ", which does not hold it");
        by_name_.emplace(name, TensorRef{info, it->second});
      }
    });
    for (const auto& file : files_)
      for (const auto& t : file->tensors()) {
        const TensorRef* ref = find(t.name);
        if (ref == nullptr || ref->file != file.get())
          throw Error(ErrorCode::Format, file->path().string() + ": tensor " + quoted_text(t.name, name_chars) + " is not mapped to this shard by " +
                                             std::string(index_file_name));
      }
    description_ = std::string(index_file_name) + " (" + std::to_string(files_.size()) + " shards)";
  }

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<SafetensorsFile>> files_;
  std::map<std::string, TensorRef, std::less<>> by_name_;
  std::string description_;
};

}  // namespace t5::io
