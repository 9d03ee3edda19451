// Fuzzes config.json -> HfConfig -> detect -> Hparams (t5/config/hf_config.hpp, t5/io/detect.hpp):
// the input is config.json's text. A parsed config is detected alone and against the tensor names
// of real fixtures (relu, gated, per-layer bias, and an encoder-only subset), its policies are
// dispatched, and a checkpoint directory holding it beside the bf16 fixture's weights is opened
// (Checkpoint::open validates the weights against the config's sizes).
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "t5/config/dispatch.hpp"
#include "t5/config/hf_config.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/detect.hpp"
#include "t5/io/safetensors.hpp"

namespace {

namespace fs = std::filesystem;

std::vector<t5::TensorNames> name_sets;
fs::path checkpoint_dir;

t5::TensorNames names_of(const fs::path& file) {
  t5::TensorNames names;
  const t5::io::SafetensorsFile weights(file);
  for (const auto& t : weights.tensors()) names.insert(t.name);
  return names;
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const fs::path data = t5::fuzz::data_dir();
  t5::fuzz::require_valid("fixture tensor names", [&] {
    for (const char* fixture : {"v1_0_tied", "v1_1_gated", "umt5", "bf16"}) name_sets.push_back(names_of(data / fixture / "model.safetensors"));
    t5::TensorNames encoder_only;
    for (const auto& n : name_sets.back())
      if (n.starts_with("encoder.") || n == "shared.weight") encoder_only.insert(n);
    name_sets.push_back(std::move(encoder_only));
    name_sets.emplace_back();  // no weights at all
  });
  checkpoint_dir = t5::fuzz::scratch_dir("config");
  t5::fuzz::copy_fixture(data / "bf16" / "model.safetensors", checkpoint_dir / "model.safetensors");
  t5::fuzz::copy_fixture(data / "bf16" / "config.json", checkpoint_dir / "config.json");
  t5::fuzz::require_valid("the bf16 fixture", [&] { (void)t5::Checkpoint::open(checkpoint_dir); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  t5::HfConfig config;
  if (!t5::fuzz::expect_contract("HfConfig::parse", [&] { config = t5::HfConfig::parse(text, "config.json"); })) return 0;

  t5::fuzz::expect_contract("detect(config)", [&] {
    const t5::Detected d = t5::detect(config);
    (void)d.preset();
    t5::dispatch(d.policies, []<t5::VariantLike V>() { return 0; });
  });
  for (const auto& names : name_sets)
    t5::fuzz::expect_contract("detect(config, names)", [&] {
      const t5::Detected d = t5::detect(config, names);
      t5::dispatch(d.policies, []<t5::VariantLike V>() { return 0; });
      d.hparams.validate("detected");
    });

  t5::fuzz::write_file(checkpoint_dir / "config.json", text);
  t5::fuzz::expect_contract("Checkpoint::open", [&] { (void)t5::Checkpoint::open(checkpoint_dir); });
  return 0;
}
