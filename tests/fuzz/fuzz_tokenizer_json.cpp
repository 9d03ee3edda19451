// Fuzzes tokenizer.json as Tokenizer::from_path reads it (t5/tokenizer/tokenizer.hpp and
// hf_pipeline.hpp): the model's vocabulary, the added tokens, the normalisers (a Precompiled
// charsmap's base64 and trie included) and the pre-tokenisers. A tokenizer that loads encodes a
// fixed text in both modes, batches it and decodes the ids; every id must lie in its vocabulary.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace {

namespace fs = std::filesystem;
fs::path file;
const std::string text = "The dog <extra_id_0> the  river<extra_id_1>. \xef\xac\x81ne caf\xc3\xa9 e\xcc\x81 \xef\xbd\xb1\xef\xbe\x9e\r\n </s>x";

void exercise(const t5::Tokenizer& tok) {
  for (const auto mode : {t5::TokenizerMode::SentencePiece, t5::TokenizerMode::HuggingFace}) {
    const auto ids = tok.encode(text, {.mode = mode});
    for (const auto id : ids)
      if (id < 0 || id >= tok.vocab_size()) t5::fuzz::finding("Tokenizer::encode", "id " + std::to_string(id) + " outside the vocabulary");
    (void)tok.pieces(text, {.mode = mode, .add_eos = false});
    (void)tok.decode(ids);
    (void)tok.decode(ids, false);
  }
  const std::vector<std::string> texts{text, "", "x"};
  (void)tok.encode_batch(texts, {.pad_to = 8, .truncate = true});
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  file = t5::fuzz::scratch_dir("tokenizer-json") / "tokenizer.json";
  t5::fuzz::require_valid("the converted fixture tokenizer.json", [&] {
    exercise(t5::Tokenizer::from_path(t5::fuzz::data_dir() / "tokenizers" / "converted" / "tokenizer.json"));
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  t5::fuzz::write_file(file, data, size);
  t5::fuzz::expect_contract("Tokenizer::from_path(tokenizer.json)", [&] { exercise(t5::Tokenizer::from_path(file)); });
  return 0;
}
