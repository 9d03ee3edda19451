// `t5cc inspect --model DIR`: the detected variant, the Hparams and the tensor inventory of a
// checkpoint directory. What config.json alone says is printed before the weights are opened, so
// a directory without usable weights is still described up to the point where it fails.
#include <cinttypes>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <iostream>
#include <string>
#include <system_error>

#include "commands.hpp"
#include "t5/config/hf_config.hpp"
#include "t5/config/variant.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/detect.hpp"
#include "t5/io/hf_names.hpp"

namespace t5cc {
namespace {

std::string preset_line(const t5::Policies& p) {
  const std::string_view preset = t5::preset_name(p);
  if (preset == "v1_0") return "v1_0 (T5 v1.0)";
  if (preset == "v1_1") return "v1_1 (T5 v1.1, Flan-T5, mT5)";
  if (preset == "umt5") return "umt5 (UMT5, Pile-T5)";
  return "none (a policy combination outside the presets; runs as its own Variant)";
}

void row(const std::string& key, const std::string& value) {
  std::string k = "  " + key;
  k.resize(std::max<std::size_t>(k.size() + 1, 36), ' ');
  std::cout << k << value << "\n";
}

void print_config(const t5::HfConfig& c, const t5::Detected& d) {
  const t5::Policies& p = d.policies;
  const t5::Hparams& h = d.hparams;
  std::string arch;
  for (const auto& a : c.architectures) arch += (arch.empty() ? "" : ", ") + a;
  std::cout << "config     " << c.source << "\n";
  row("model_type", c.model_type);
  if (!arch.empty()) row("architectures", arch);
  if (!c.torch_dtype.empty()) row("torch_dtype", c.torch_dtype);
  std::cout << "preset     " << preset_line(p) << "\n";
  std::cout << "policies\n";
  for (const auto& [name, value] : t5::policy_fields(p))
    row(std::string(name), std::string(value) + (name == "ffn" ? "  (" + c.activation_evidence() + ")" : ""));
  std::cout << "hparams\n";
  row("vocab_size", std::to_string(h.vocab_size));
  row("d_model", std::to_string(h.d_model));
  row("d_kv", std::to_string(h.d_kv));
  row("d_ff", std::to_string(h.d_ff));
  row("num_heads", std::to_string(h.num_heads) + "  (inner width num_heads*d_kv = " + std::to_string(h.inner_dim()) + ")");
  row("num_layers", std::to_string(h.num_layers));
  row("num_decoder_layers", std::to_string(h.num_decoder_layers));
  row("relative_attention_num_buckets", std::to_string(h.num_buckets));
  row("relative_attention_max_distance", std::to_string(h.max_distance));
  char eps[32];
  std::snprintf(eps, sizeof eps, "%g", h.eps);
  row("layer_norm_epsilon", eps);
  row("pad / eos / decoder_start", std::to_string(h.pad_id) + " / " + std::to_string(h.eos_id) + " / " + std::to_string(h.decoder_start_id));
}

void print_tensors(const t5::Checkpoint& ck) {
  const auto& weights = ck.weights();
  std::cout << "weights    " << weights.description() << "\n";
  std::cout << "model      " << (ck.detected().encoder_only ? "encoder only (no decoder tensors)" : "encoder-decoder") << "\n";

  const auto rows = ck.inventory();
  std::size_t name_width = 8;
  for (const auto& [name, ref] : weights.tensors()) name_width = std::max(name_width, name.size());
  std::cout << "tensors\n";
  std::int64_t parameters = 0;
  std::uint64_t bytes = 0;
  for (const auto& row : rows) {
    const t5::io::TensorRef& ref = *row.ref;
    std::string note;
    if (row.use) {
      note = std::string(row.name != row.use->name ? "  (the embedding)" : "") + (ref.scale ? "  (x " + ref.scale->info->name + ")" : "");
      parameters += ref.info->numel();
    } else {
      note = t5::hf::is_ignored(row.name) ? "  (unused; transformers ignores it too)" : "  (same values as the embedding; unused)";
    }
    bytes += ref.info->nbytes();
    char line[512];
    std::snprintf(line, sizeof line, "  %-*s %-5s %-14s %12" PRIu64 "  %s%s\n", static_cast<int>(name_width), row.name.c_str(),
                  ref.info->stored_as().c_str(), t5::io::shape_string(ref.info->shape).c_str(),
                  ref.info->nbytes(), ref.file->path().filename().c_str(), note.c_str());
    std::cout << line;
  }
  std::cout << "total      " << weights.size() << " tensors, " << parameters << " parameters, " << bytes << " bytes in "
            << weights.files().size() << (weights.files().size() == 1 ? " file" : " files") << "\n";
}

}  // namespace

Command add_inspect(CLI::App& app) {
  auto model = std::make_shared<std::string>();
  auto config = std::make_shared<std::string>();
  app.add_option("--model", *model, model_help())->type_name("PATH")->required()->check(non_empty());
  app.add_option("--config", *config, config_help())->type_name("FILE")->check(non_empty());
  app.footer("Reads the config and the weights of a T5, Flan-T5, mT5 or UMT5 checkpoint (a HuggingFace directory, or one\n"
             "weights file such as a diffusion pipeline's text encoder), validates every tensor against the config, and\n"
             "prints the detected preset and policies, the sizes (Hparams), which of them were inferred from the tensor\n"
             "shapes, the weights' format and any name prefix stripped, and the tensor inventory with dtypes and bytes.\n\n"
             "exit status: 0 success, 1 the checkpoint cannot be read or is invalid, 2 usage error");
  return [model, config] {
    const std::filesystem::path path = *model;
    std::cout << "checkpoint " << path.string() << "\n";
    // A directory's own config.json is described before its weights are opened (it stands even
    // if they fail); any other config is the checkpoint's, known once it is open.
    const bool own_config = t5::path_kind(path) == t5::PathKind::Directory && config->empty();
    if (own_config) {
      const t5::HfConfig own = t5::HfConfig::read(path / "config.json");
      print_config(own, t5::detect(own));
      flush_stdout();
    }
    const t5::Checkpoint ck = t5::Checkpoint::open(path, *config);
    if (!own_config) print_config(ck.config(), ck.detected());
    if (!ck.inferred().empty()) {
      std::string keys;
      for (const auto& key : ck.inferred()) keys += (keys.empty() ? "" : ", ") + key;
      std::cout << "inferred   " << keys << "\n";
    }
    print_tensors(ck);
    flush_stdout();
    return 0;
  };
}

}  // namespace t5cc
