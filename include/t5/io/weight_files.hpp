// WeightFiles: the weights of a checkpoint directory behind one name index: one file or sharded
// (an index.json naming the shard of each tensor), safetensors or PyTorch zip, in transformers'
// order of preference; or one weights file of any format t5cc reads (GGUF included). Each file is read by the reader its content calls for, not its name.
#pragma once

#include <algorithm>
#include <cstring>
#include <deque>
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
#include "t5/io/gguf.hpp"
#include "t5/io/pytorch.hpp"
#include "t5/io/safetensors.hpp"

namespace t5::io {

/// The weight files of a directory, as transformers looks for them: a single file, else an index.
struct WeightLayout {
  std::string_view single, index;
};
inline constexpr WeightLayout weight_layouts[] = {{"model.safetensors", "model.safetensors.index.json"},
                                                  {"pytorch_model.bin", "pytorch_model.bin.index.json"}};

/// A safetensors file's first 8 bytes (its header length) followed by '{'; `head` is 9+ bytes.
inline bool starts_like_safetensors(std::span<const std::byte> head) { return head.size() >= 9 && std::to_integer<char>(head[8]) == '{'; }

/// Opens one weights file with the reader its first bytes call for: GGUF (its magic), a PyTorch zip
/// (or the legacy pickle format, refused by name), else safetensors (whose reader names what is
/// wrong with it).
inline std::unique_ptr<TensorFile> open_tensor_file(const std::filesystem::path& path) {
  {
    const MappedFile probe(path);
    const auto head = probe.bytes().first(std::min<std::size_t>(probe.size(), 9));
    if (head.size() >= 4 && std::memcmp(head.data(), gguf::magic.data(), 4) == 0) return std::make_unique<GgufFile>(path);
    // By content; a .bin that is neither is described as a failed PyTorch file, not safetensors.
    if (starts_like_zip(head) || starts_like_pickle(head) || (path.extension() == ".bin" && !starts_like_safetensors(head)))
      return std::make_unique<PyTorchFile>(path);
    // Files people point --model at by mistake, named before the safetensors reader reads a length.
    const auto text = probe.bytes().first(std::min<std::size_t>(probe.size(), 64));
    const auto first = std::find_if(text.begin(), text.end(), [](std::byte b) { return std::string_view(" \t\r\n").find(std::to_integer<char>(b)) == std::string_view::npos; });
    if (!starts_like_safetensors(head) && first != text.end() && std::to_integer<char>(*first) == '{')
      throw Error(ErrorCode::Format, path.string() + ": a JSON file, not weights (a checkpoint is the folder holding config.json and the weights, or one weights file)");
    if (path.extension() == ".onnx")
      throw Error(ErrorCode::Format, path.string() + ": an ONNX model, which t5cc does not read (it reads safetensors, PyTorch .bin and GGUF files)");
  }
  return std::make_unique<SafetensorsFile>(path);
}

/// A tensor and the file holding it.
struct TensorRef {
  const TensorInfo* info = nullptr;
  const TensorFile* file = nullptr;
  /// ComfyUI's scaled fp8: the one-value tensor the stored values are multiplied by.
  const TensorRef* scale = nullptr;

  std::span<const std::byte> data() const { return file->data(*info); }
  /// The tensor as a backend's weight op reads it; a scaled tensor decoded to float32 (value x scale,
  /// one float32 product per element, as ComfyUI's weight.to(float32) * scale_weight computes it).
  WeightSource source() const {
    if (scale == nullptr) return file->source(*info);
    const WeightSource stored = file->source(*info), factors = scale->source();
    const auto n = static_cast<std::size_t>(info->numel());
    const float factor = element_as_float(factors.bytes, factors.dtype, 0);
    auto decoded = MappedFile::decoded(file->path(), n * sizeof(float), [&](std::span<std::byte> out) {
      for (std::size_t i = 0; i < n; ++i) {
        const float v = element_as_float(stored.bytes, stored.dtype, i) * factor;
        std::memcpy(out.data() + i * sizeof(float), &v, sizeof(float));
      }
    });
    return {decoded->bytes(), DType::F32, decoded, info->name};
  }
};

class WeightFiles {
 public:
  /// Opens the weights at `path`: a weights file itself (any format open_tensor_file reads), or a
  /// directory holding the first of model.safetensors, model.safetensors.index.json,
  /// pytorch_model.bin, pytorch_model.bin.index.json (transformers' preference). A common prefix
  /// in front of the HF names (a bundle's "text_encoders.t5xxl.transformer.") is stripped, and
  /// tensors outside it set aside (prefix(), set_aside()). Throws Error(Io) when no weights exist
  /// and Error(Format) for a malformed file or an index that disagrees with its shards.
  explicit WeightFiles(const std::filesystem::path& path) : dir_(path) {
    // path_kind, not fs::exists: a symlink loop or an unreadable directory is Error(Io), not a
    // filesystem_error. Anything present but not a regular file is refused by MappedFile.
    if (path_kind(path) != PathKind::Directory) open_single(path);
    else open_directory(path);
    strip_prefix();
    apply_scales();
  }

  /// The prefix stripped from the file's names, or "".
  const std::string& prefix() const noexcept { return prefix_; }
  /// How many tensors the model does not read: those outside the prefix (a bundle's other models),
  /// and scaled fp8's markers and factors (the factors are applied to their weights).
  std::size_t set_aside() const noexcept { return set_aside_; }

  /// The path the weights were opened from (a directory or a file), for messages.
  const std::filesystem::path& dir() const noexcept { return dir_; }
  /// "model.safetensors (safetensors)" or "pytorch_model.bin.index.json (2 shards, PyTorch zip)".
  const std::string& description() const noexcept { return description_; }
  const std::vector<std::unique_ptr<TensorFile>>& files() const noexcept { return files_; }
  std::size_t size() const noexcept { return by_name_.size(); }

  const TensorRef* find(std::string_view name) const {
    auto it = by_name_.find(name);
    return it == by_name_.end() ? nullptr : &it->second;
  }

  /// Every tensor, by its HF name (the prefix stripped).
  const std::map<std::string, TensorRef, std::less<>>& tensors() const noexcept { return by_name_; }

  std::set<std::string, std::less<>> names() const {
    std::set<std::string, std::less<>> out;
    for (const auto& [name, ref] : by_name_) out.insert(name);
    return out;
  }

 private:
  void open_single(const std::filesystem::path& file) {
    files_.push_back(open_tensor_file(file));
    for (const auto& t : files_.back()->tensors()) by_name_.emplace(t.name, TensorRef{&t, files_.back().get()});
    description_ = file.filename().string() + " (" + std::string(files_.back()->format()) + ")";
  }

  void open_directory(const std::filesystem::path& dir) {
    for (const auto& layout : weight_layouts) {
      if (path_kind(dir / layout.single) != PathKind::Missing) return open_single(dir / layout.single);
      if (path_kind(dir / layout.index) != PathKind::Missing) return open_shards(dir / layout.index);
    }
    std::string names;
    for (const auto& layout : weight_layouts) names += (names.empty() ? "" : ", ") + std::string(layout.single) + ", " + std::string(layout.index);
    throw Error(ErrorCode::Io, dir.string() + ": no weights: none of " + names);
  }

  /// The one anchor every T5 checkpoint holds; what stands before it in a name is the prefix.
  static constexpr std::string_view anchor = "encoder.block.0.layer.0.SelfAttention.q.weight";

  void strip_prefix() {
    std::set<std::string> prefixes;
    for (const auto& [name, ref] : by_name_)
      if (name.ends_with(anchor)) prefixes.insert(name.substr(0, name.size() - anchor.size()));
    if (prefixes.empty() || prefixes.contains("")) return;  // HF names already, or nothing to go by
    if (prefixes.size() > 1) {
      std::string list;
      for (const auto& p : prefixes) list += (list.empty() ? "" : ", ") + quoted_text(p, name_chars);
      throw Error(ErrorCode::Format, dir_.string() + ": the file holds " + std::to_string(prefixes.size()) + " T5 encoders, under the prefixes " + list +
                                         "; t5cc loads one (extract it to a file of its own)");
    }
    prefix_ = *prefixes.begin();
    std::map<std::string, TensorRef, std::less<>> stripped;
    for (auto& [name, ref] : by_name_) {
      if (name.starts_with(prefix_)) stripped.emplace(name.substr(prefix_.size()), ref);
      else ++set_aside_;
    }
    by_name_ = std::move(stripped);
    description_ += ", names under the prefix " + quoted_text(prefix_, name_chars) +
                    (set_aside_ ? ", " + std::to_string(set_aside_) + " other tensors set aside" : std::string());
  }

  /// ComfyUI's scaled fp8 files: each scaled weight `L.weight` has a float32 factor `L.scale_weight`
  /// (older files, marked by a `scaled_fp8` tensor) or `L.weight_scale` (newer ones, with a
  /// `L.comfy_quant` JSON tensor naming the format), one value per tensor. The weight is read as
  /// value x factor; the markers, the format tensors and `scale_input` / `input_scale` (which
  /// quantise activations for fp8 products, not used when the products run wider) are set aside.
  void apply_scales() {
    static constexpr std::string_view factor_suffixes[] = {".scale_weight", ".weight_scale"};
    static constexpr std::string_view unused_suffixes[] = {".scale_input", ".input_scale", ".comfy_quant"};
    std::vector<std::string> unused;
    for (auto& [name, ref] : by_name_) {
      if (name == "scaled_fp8") unused.push_back(name);
      if (name.ends_with(".comfy_quant")) check_quant_format(name, ref);
      for (const auto suffix : unused_suffixes)
        if (name.ends_with(suffix)) unused.push_back(name);
      for (const auto suffix : factor_suffixes) {
        if (!name.ends_with(suffix)) continue;
        const std::string weight = name.substr(0, name.size() - suffix.size()) + ".weight";
        auto it = by_name_.find(weight);
        const std::string what = dir_.string() + ": scale " + quoted_text(name, name_chars);
        if (it == by_name_.end()) throw Error(ErrorCode::Format, what + " scales no tensor (no " + quoted_text(weight, name_chars) + ")");
        if (ref.info->dtype != DType::F32 && ref.info->dtype != DType::F16 && ref.info->dtype != DType::BF16)
          throw Error(ErrorCode::Format, what + " has dtype " + std::string(dtype_name(ref.info->dtype)) + ", expected F32, F16 or BF16");
        if (ref.info->numel() != 1)
          throw Error(ErrorCode::Format, what + " has shape " + shape_string(ref.info->shape) + ", expected one value (a scale per tensor)");
        if (it->second.scale != nullptr) throw Error(ErrorCode::Format, what + ": " + quoted_text(weight, name_chars) + " has two scales");
        it->second.scale = &scales_.emplace_back(ref);
        unused.push_back(name);
      }
    }
    for (const auto& name : unused) by_name_.erase(name);
    set_aside_ += unused.size();
    if (!scales_.empty()) description_ += ", " + std::to_string(scales_.size()) + " weights scaled (ComfyUI scaled fp8)";
  }

  /// A newer scaled file's per-layer format, the JSON {"format": ...} as U8 bytes: fp8 is read,
  /// other formats (nvfp4) are refused by name.
  void check_quant_format(const std::string& name, const TensorRef& ref) const {
    const std::string what = dir_.string() + ": " + quoted_text(name, name_chars);
    if (ref.info->dtype != DType::U8) throw Error(ErrorCode::Format, what + " has dtype " + std::string(dtype_name(ref.info->dtype)) + ", expected U8 (JSON bytes)");
    const auto bytes = ref.data();
    const Json conf = parse_json_strict(std::string_view(reinterpret_cast<const char*>(bytes.data()), bytes.size()), what, "key");
    const std::string format = conf.is_object() && conf.contains("format") && conf.at("format").is_string() ? conf.at("format").get<std::string>() : "";
    if (format != "float8_e4m3fn" && format != "float8_e5m2")
      throw Error(ErrorCode::Format, what + " gives the quantisation format " + quoted_text(format.empty() ? json_excerpt(conf) : format, name_chars) +
                                         "; t5cc reads the fp8 ones (float8_e4m3fn, float8_e5m2)");
  }

  void open_shards(const std::filesystem::path& index_path) {
    const std::string src = index_path.string();
    const Json index = parse_json_strict(read_text_file(index_path), src, "key");
    if (!index.is_object() || !index.contains("weight_map") || !index.at("weight_map").is_object())
      throw Error(ErrorCode::Format, src + ": expected an object with a \"weight_map\" object");
    std::map<std::string, TensorFile*> shards;
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
          files_.push_back(open_tensor_file(path));
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
                                             index_path.filename().string());
      }
    description_ = index_path.filename().string() + " (" + std::to_string(files_.size()) + " shards" +
                   (files_.empty() ? std::string() : ", " + std::string(files_.front()->format())) + ")";
  }

  std::filesystem::path dir_;
  std::vector<std::unique_ptr<TensorFile>> files_;
  std::map<std::string, TensorRef, std::less<>> by_name_;
  std::string description_;
  std::string prefix_;
  std::size_t set_aside_ = 0;
  std::deque<TensorRef> scales_;  ///< the factors of scaled weights (stable addresses)
};

}  // namespace t5::io
