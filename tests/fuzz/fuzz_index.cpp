// Fuzzes the sharded-weights index (t5/io/weight_files.hpp): the input is
// model.safetensors.index.json, in a scratch directory holding the sharded fixture's three shards
// and config.json. WeightFiles opens it (every tensor's bytes are read on success), then
// Checkpoint::open validates the whole directory.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/weight_files.hpp"

namespace {

namespace fs = std::filesystem;
fs::path checkpoint_dir;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const fs::path fixture = t5::fuzz::data_dir() / "sharded";
  checkpoint_dir = t5::fuzz::scratch_dir("index");
  for (const char* file : {"config.json", "model.safetensors.index.json", "model-00001-of-00003.safetensors",
                           "model-00002-of-00003.safetensors", "model-00003-of-00003.safetensors"})
    t5::fuzz::copy_fixture(fixture / file, checkpoint_dir / file);
  t5::fuzz::require_valid("the sharded fixture", [&] { (void)t5::Checkpoint::open(checkpoint_dir); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  t5::fuzz::write_file(checkpoint_dir / t5::io::weight_layouts[0].index, data, size);
  const bool opened = t5::fuzz::expect_contract("WeightFiles", [&] {
    const t5::io::WeightFiles weights(checkpoint_dir);
    std::uint8_t sum = 0;
    for (const auto& [name, ref] : weights.tensors()) {
      const auto bytes = ref.data();
      if (!bytes.empty()) sum = static_cast<std::uint8_t>(sum + std::to_integer<std::uint8_t>(bytes.front()) +
                                                         std::to_integer<std::uint8_t>(bytes.back()));
      if (weights.find(name) != &ref) t5::fuzz::finding("WeightFiles::find", "find(\"" + name + "\") is not the listed tensor");
    }
    (void)weights.names();
    t5::fuzz::sink = sum;
  });
  if (opened) t5::fuzz::expect_contract("Checkpoint::open", [&] { (void)t5::Checkpoint::open(checkpoint_dir); });
  return 0;
}
