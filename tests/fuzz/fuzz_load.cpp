// Fuzzes checkpoint open -> t5::load -> encode (t5/load.hpp, libt5cc built into this harness with
// the fuzzer's instrumentation): the input is model.safetensors of a scratch checkpoint directory
// whose config.json is the bf16 fixture's (the smallest). A model that loads encodes one short row
// and, with a decoder, computes teacher-forced logits for two decoder positions.
//
// The committed seeds are only the headers of valid files (a valid file of this config is
// 100-280 KB); with T5CC_FUZZ_EMIT_SEEDS=DIR the harness first writes two valid files into DIR
// (the fixture's weights, and an encoder-only file made from them), which tools/fuzz.sh points at
// its copy of the corpus. Both are loaded and run once at start-up either way.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "t5/core/batch.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "t5/load.hpp"

namespace {

namespace fs = std::filesystem;
fs::path checkpoint_dir;

void load_and_run() {
  const auto model = t5::load(checkpoint_dir, {.threads = 1});
  const t5::TokenBatch input = t5::TokenBatch::from_rows({{37, 5, 101, 1}}, 0);
  (void)model->encode(input);
  if (model->has_decoder()) (void)model->logits(input, t5::TokenBatch::from_rows({{0, 37}}, 0));
}

/// The fixture's shared.weight and encoder tensors alone: the smallest valid file of its config.
void write_encoder_only(const fs::path& from, const fs::path& to) {
  const t5::io::SafetensorsFile file(from);
  t5::io::SafetensorsWriter writer;
  for (const auto& t : file.tensors())
    if (t.name.starts_with("encoder.") || t.name == "shared.weight") writer.add(t.name, t.dtype, t.shape, file.data(t));
  for (const auto& [key, value] : file.metadata()) writer.set_metadata(key, value);
  writer.write(to);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const fs::path fixture = t5::fuzz::data_dir() / "bf16";
  const fs::path scratch = t5::fuzz::scratch_dir("load");
  checkpoint_dir = scratch / "checkpoint";
  fs::create_directories(checkpoint_dir);
  t5::fuzz::copy_fixture(fixture / "config.json", checkpoint_dir / "config.json");

  const fs::path full = scratch / "valid-full.safetensors";
  const fs::path encoder_only = scratch / "valid-encoder-only.safetensors";
  t5::fuzz::copy_fixture(fixture / "model.safetensors", full);
  t5::fuzz::require_valid("writing the encoder-only file", [&] { write_encoder_only(full, encoder_only); });
  for (const fs::path& valid : {full, encoder_only}) {
    t5::fuzz::copy_fixture(valid, checkpoint_dir / "model.safetensors");
    t5::fuzz::require_valid(valid.filename().c_str(), load_and_run);
  }
  if (const char* emit = std::getenv("T5CC_FUZZ_EMIT_SEEDS"); emit != nullptr && *emit != '\0') {
    fs::create_directories(emit);
    for (const fs::path& valid : {full, encoder_only}) t5::fuzz::copy_fixture(valid, fs::path(emit) / valid.filename());
  }
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  t5::fuzz::write_file(checkpoint_dir / "model.safetensors", data, size);
  t5::fuzz::expect_contract("t5::load + encode", load_and_run);
  return 0;
}
