// Checkpoint: a HuggingFace checkpoint directory opened, detected and validated as a whole
// (config.json + safetensors or PyTorch weights), before any weight is used.
#pragma once

#include <cstring>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "t5/config/hf_config.hpp"
#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/policies.hpp"
#include "t5/io/detect.hpp"
#include "t5/io/hf_names.hpp"
#include "t5/io/infer_config.hpp"
#include "t5/io/weight_files.hpp"

namespace t5 {

namespace detail {

/// Whether two weight tensors hold the same values (same shape assumed), across dtypes.
inline bool same_values(const io::TensorRef& a, const io::TensorRef& b) {
  const WeightSource x = a.source(), y = b.source();
  if (x.dtype == y.dtype) return std::memcmp(x.bytes.data(), y.bytes.data(), x.bytes.size()) == 0;
  const auto n = static_cast<std::size_t>(a.info->numel());
  for (std::size_t i = 0; i < n; ++i)
    if (element_as_float(x.bytes, x.dtype, i) != element_as_float(y.bytes, y.dtype, i)) return false;
  return true;
}

}  // namespace detail

class Checkpoint {
 public:
  /// Opens the checkpoint at `path`: a directory (config.json and its weights, io/weight_files.hpp)
  /// or one weights file, whose config comes from the file's own metadata (GGUF) and, for what that
  /// leaves open, from the tensor shapes (io/infer_config.hpp). `config_file`, when given, supplies
  /// the config or overrides it key by key. Detects the variant and validates every tensor against
  /// it (presence, dtype, rank, shape, no unknown names, aliases equal to the embedding). Throws
  /// t5::Error with a message naming the file and the tensor or key.
  static Checkpoint open(const std::filesystem::path& path, const std::filesystem::path& config_file = {}) {
    const PathKind kind = path_kind(path);
    if (kind == PathKind::Missing)
      throw Error(ErrorCode::Io, path.string() + ": no such file or directory (a checkpoint is a directory holding config.json and its weights, or one weights file)");
    const bool directory = kind == PathKind::Directory;
    const bool own_config = directory && (config_file.empty() || path_kind(path / "config.json") != PathKind::Missing);
    std::string source = (path / "config.json").string();
    Json base = own_config ? read_config_object(path / "config.json") : Json::object();
    // A directory's config.json is checked before its weights are opened, so a bad config is the first error.
    if (own_config) (void)HfConfig::from(base, source);
    io::WeightFiles weights(path);

    const Json over = config_file.empty() ? Json::object() : read_config_object(config_file);
    std::vector<std::string> inferred;
    if (!directory) {
      const Json embedded = weights.files().front()->embedded_config();
      base = io::infer_config(weights);
      for (const auto& [key, value] : base.items())
        if (!embedded.contains(key) && !over.contains(key)) inferred.push_back(key);
      for (const auto& [key, value] : embedded.items()) base[key] = value;
      source = path.string() + (embedded.empty() ? " (config inferred from the tensor shapes)" : " (config from the file's metadata and the tensor shapes)");
    }
    if (!config_file.empty()) source = config_file.string() + (own_config || !directory ? " over " + source : std::string());
    for (const auto& [key, value] : over.items()) base[key] = value;
    HfConfig config = HfConfig::from(base, source);
    Detected detected = detect(config, weights.names());
    Checkpoint c(std::move(config), std::move(weights), std::move(detected));
    c.inferred_ = std::move(inferred);
    c.validate();
    return c;
  }

  static Json read_config_object(const std::filesystem::path& file) {
    const Json j = parse_json_strict(read_text_file(file), file.string(), "key");
    if (!j.is_object()) throw Error(ErrorCode::InvalidConfig, file.string() + ": expected a JSON object, found " + json_type_name(j));
    return j;
  }

  /// The config keys whose values were inferred from the tensor shapes (none for a directory with
  /// its config.json).
  const std::vector<std::string>& inferred() const noexcept { return inferred_; }

  const HfConfig& config() const noexcept { return config_; }
  const io::WeightFiles& weights() const noexcept { return weights_; }
  const Detected& detected() const noexcept { return detected_; }
  /// The tensors the model uses, in model order, with shared.weight's stand-in resolved.
  const std::vector<hf::ExpectedTensor>& expected() const noexcept { return expected_; }

  /// One stored tensor, as `t5cc inspect` lists it.
  struct InventoryRow {
    std::string name;              ///< its name in the file, less the prefix the weights stripped
    const io::TensorRef* ref;
    const hf::ExpectedTensor* use;  ///< the tensor the model reads it as; null when unused
  };
  /// Every stored tensor: those the model uses, in model order, then the others in name order.
  std::vector<InventoryRow> inventory() const {
    auto hf_name = [&](const std::string& stored) { return stored.substr(stored.starts_with(weights_.prefix()) ? weights_.prefix().size() : 0); };
    std::vector<InventoryRow> rows;
    std::set<std::string, std::less<>> listed;
    for (const auto& e : expected_) {
      const io::TensorRef& ref = tensor(e.name);
      rows.push_back({hf_name(ref.info->name), &ref, &e});
      listed.insert(rows.back().name);
    }
    for (const auto& [name, ref] : weights_.tensors())
      if (!listed.contains(name)) rows.push_back({name, &ref, nullptr});
    return rows;
  }

  /// The token embedding: shared.weight, or encoder.embed_tokens.weight when a file holds only that.
  const io::TensorRef& embedding() const { return *embedding_; }
  /// A tensor by HF name; throws Error(Format) if absent.
  const io::TensorRef& tensor(std::string_view name) const {
    if (name == hf::embedding) return embedding();
    if (const io::TensorRef* ref = weights_.find(name)) return *ref;
    throw Error(ErrorCode::Format, weights_.dir().string() + ": no tensor \"" + std::string(name) + "\"");
  }

 private:
  Checkpoint(HfConfig config, io::WeightFiles weights, Detected detected)
      : config_(std::move(config)), weights_(std::move(weights)), detected_(std::move(detected)) {}

  static std::string where(const io::TensorRef& ref) { return ref.file->path().string(); }

  void validate() {
    const Hparams& h = detected_.hparams;
    check_block_counts(h);
    expected_ = hf::expected_tensors(h, detected_.policies, detected_.encoder_only);
    const std::string dir = weights_.dir().string();

    embedding_ = weights_.find(hf::embedding);
    if (embedding_ == nullptr) embedding_ = weights_.find("encoder.embed_tokens.weight");

    for (const auto& e : expected_) {
      const io::TensorRef* ref = e.name == hf::embedding ? embedding_ : weights_.find(e.name);
      if (ref == nullptr)
        throw Error(ErrorCode::Format, dir + ": missing tensor \"" + e.name + "\" " + io::shape_string(e.shape) + " = " +
                                           e.meaning + ", required by " + config_.source + " (" + variant_summary() + ")");
      check_shape(*ref, e);
    }

    std::set<std::string_view> expected_names;
    for (const auto& e : expected_) expected_names.insert(e.name);
    for (const auto& [name, ref] : weights_.tensors()) {
      if (expected_names.contains(name) || hf::is_ignored(name) || &ref == embedding_) continue;
      if (hf::is_embedding_alias(name)) {
        require_equal_to_embedding(ref, "transformers ties it to shared.weight", ErrorCode::Format);
      } else if (name == hf::lm_head && detected_.policies.lm_head == LmHead::TiedScaled) {
        require_equal_to_embedding(ref, config_.source + " sets tie_word_embeddings (the default for model_type \"" +
                                            config_.model_type + "\")", ErrorCode::InvalidConfig);
      } else {
        throw Error(ErrorCode::Format, where(ref) + ": unknown tensor " + quoted_text(name, name_chars) + " (not part of a " + config_.model_type +
                                           " model with " + variant_summary() + ")");
      }
    }
  }

  /// num_layers and num_decoder_layers come from config.json: bounded by the tensors present (a
  /// block holds several) before a table of that many blocks is built.
  void check_block_counts(const Hparams& h) const {
    const auto present = static_cast<std::int64_t>(weights_.size());
    auto check = [&](const char* key, std::int64_t blocks) {
      if (blocks > present)
        throw Error(ErrorCode::InvalidConfig, config_.source + ": " + key + " " + std::to_string(blocks) + " asks for more blocks than the " +
                                                  std::to_string(present) + " tensors of " + weights_.description() + " could hold");
    };
    check("num_layers", h.num_layers);
    if (!detected_.encoder_only) check("num_decoder_layers", h.num_decoder_layers);
  }

  static void check_weight_dtype(const io::TensorRef& ref) {
    if (!is_weight_dtype(ref.info->dtype))
      throw Error(ErrorCode::Format, where(ref) + ": tensor \"" + ref.info->name + "\" has dtype " +
                                         std::string(dtype_name(ref.info->dtype)) + "; weights must be F32, F16, BF16, F8_E4M3 or F8_E5M2");
  }

  void check_shape(const io::TensorRef& ref, const hf::ExpectedTensor& e) const {
    const auto& info = *ref.info;
    check_weight_dtype(ref);
    if (info.shape.size() != e.shape.size())
      throw Error(ErrorCode::ShapeMismatch, where(ref) + ": tensor \"" + info.name + "\" has rank " + std::to_string(info.shape.size()) +
                                                " " + io::shape_string(info.shape) + ", expected rank " + std::to_string(e.shape.size()) +
                                                " " + io::shape_string(e.shape) + " = " + e.meaning);
    if (info.shape != e.shape)
      throw Error(ErrorCode::ShapeMismatch, where(ref) + ": tensor \"" + info.name + "\" has shape " + io::shape_string(info.shape) +
                                                ", expected " + io::shape_string(e.shape) + " = " + e.meaning + " from " +
                                                config_.source + " (" + sizes_summary() + ")");
  }

  void require_equal_to_embedding(const io::TensorRef& ref, const std::string& why, ErrorCode code) const {
    const std::string& name = ref.info->name;
    check_weight_dtype(ref);
    if (ref.info->shape != embedding_->info->shape)
      throw Error(ErrorCode::ShapeMismatch, where(ref) + ": tensor \"" + name + "\" has shape " + io::shape_string(ref.info->shape) +
                                                ", expected the embedding's " + io::shape_string(embedding_->info->shape) + " (" + why + ")");
    if (!detail::same_values(ref, *embedding_))
      throw Error(code, where(ref) + ": tensor \"" + name + "\" differs from the embedding \"" + embedding_->info->name + "\", but " + why);
    ref.source().release();  // never read again: the embedding stands for it
  }

  std::string variant_summary() const { return describe(detected_.policies) + (detected_.encoder_only ? ", encoder only" : ""); }

  std::string sizes_summary() const {
    const Hparams& h = detected_.hparams;
    return "vocab_size " + std::to_string(h.vocab_size) + ", d_model " + std::to_string(h.d_model) + ", d_kv " + std::to_string(h.d_kv) +
           ", d_ff " + std::to_string(h.d_ff) + ", num_heads " + std::to_string(h.num_heads) + ", relative_attention_num_buckets " +
           std::to_string(h.num_buckets);
  }

  HfConfig config_;
  io::WeightFiles weights_;
  Detected detected_;
  std::vector<hf::ExpectedTensor> expected_;
  const io::TensorRef* embedding_ = nullptr;
  std::vector<std::string> inferred_;
};

}  // namespace t5
