// Fuzzes tokenizer_config.json as Tokenizer::from_model_dir reads it (t5/tokenizer/tokenizer.hpp):
// the input is the file, in a scratch directory beside the v1_0_tied fixture's spiece.model and
// config.json. A tokenizer that loads encodes (both modes), batches and decodes a fixed text.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
fs::path model_dir;
const std::string text = "The dog <extra_id_0> the river <extra_id_1>. <extra_id_99>A small bird sings.";

void exercise(const t5::Tokenizer& tok) {
  for (const auto mode : {t5::TokenizerMode::SentencePiece, t5::TokenizerMode::HuggingFace}) {
    const auto ids = tok.encode(text, {.mode = mode});
    (void)tok.pieces(text, {.mode = mode, .add_eos = false});
    (void)tok.decode(ids);
    (void)tok.decode(ids, false);
  }
  const std::vector<std::string> texts{text, "", "x"};
  (void)tok.encode_batch(texts, {.pad_to = 8, .truncate = true});
  if (tok.sentinel_count() > 0) (void)tok.sentinel_id(tok.sentinel_count() - 1);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const fs::path fixture = t5::fuzz::data_dir() / "v1_0_tied";
  model_dir = t5::fuzz::scratch_dir("tokenizer-config");
  t5::fuzz::copy_fixture(fixture / "spiece.model", model_dir / "spiece.model");
  t5::fuzz::copy_fixture(fixture / "config.json", model_dir / "config.json");
  t5::fuzz::require_valid("the v1_0_tied tokenizer", [&] { exercise(t5::Tokenizer::from_model_dir(model_dir)); });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  t5::fuzz::write_file(model_dir / "tokenizer_config.json", data, size);
  t5::fuzz::expect_contract("Tokenizer::from_model_dir", [&] { exercise(t5::Tokenizer::from_model_dir(model_dir)); });
  return 0;
}
