// Fuzzes the text the tokenizer encodes (t5/tokenizer/tokenizer.hpp), with fixed valid models: the
// v1_0_tied fixture's (sentinels appended by t5cc), spiece_sentinels.model (sentinels inside the
// model), and three with a Precompiled charsmap (tests/data/tokenizers: a spiece.model, a
// tokenizer.json, a GGUF file). The input is encoded in both modes, with and without EOS, batched (padded, truncated) and
// decoded; its bytes are also decoded as int32 ids.
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace {

std::vector<t5::Tokenizer> tokenizers;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const auto data = t5::fuzz::data_dir();
  t5::fuzz::require_valid("the fixture tokenizers", [&] {
    tokenizers.push_back(t5::Tokenizer::from_model_dir(data / "v1_0_tied"));
    tokenizers.push_back(t5::Tokenizer::from_spm(data / "spiece_sentinels.model", 100));
    // hf mode's pipeline with a Precompiled charsmap: converted from an nmt_nfkc spiece.model, read
    // from the pre-0.14 tokenizer.json layout, and from a GGUF file's tokenizer.
    tokenizers.push_back(t5::Tokenizer::from_spm(data / "tokenizers" / "spiece_nfkc.model", 100));
    tokenizers.push_back(t5::Tokenizer::from_path(data / "tokenizers" / "old_style.json"));
    tokenizers.push_back(t5::Tokenizer::from_path(data / "tokenizers" / "tokenizer_nfkc.gguf"));
  });
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  std::vector<std::int32_t> raw_ids(size / sizeof(std::int32_t));
  if (!raw_ids.empty()) std::memcpy(raw_ids.data(), data, raw_ids.size() * sizeof(std::int32_t));
  for (const auto& tok : tokenizers) {
    for (const auto mode : {t5::TokenizerMode::SentencePiece, t5::TokenizerMode::HuggingFace})
      for (const bool eos : {true, false}) {
        std::vector<std::int32_t> ids;
        if (!t5::fuzz::expect_contract("Tokenizer::encode", [&] { ids = tok.encode(text, {.mode = mode, .add_eos = eos}); })) continue;
        for (const auto id : ids)
          if (id < 0 || id >= tok.vocab_size()) t5::fuzz::finding("Tokenizer::encode", "id " + std::to_string(id) + " outside the vocabulary");
        t5::fuzz::expect_contract("Tokenizer::decode", [&] { (void)tok.decode(ids); });
        t5::fuzz::expect_contract("Tokenizer::decode(keep special)", [&] { (void)tok.decode(ids, false); });
      }
    t5::fuzz::expect_contract("Tokenizer::pieces", [&] { (void)tok.pieces(text, {.mode = t5::TokenizerMode::HuggingFace}); });
    const std::vector<std::string> texts{text, text.substr(0, text.size() / 2)};
    for (const bool truncate : {true, false})
      t5::fuzz::expect_contract("Tokenizer::encode_batch", [&] { (void)tok.encode_batch(texts, {.pad_to = 6, .truncate = truncate}); });
    t5::fuzz::expect_contract("Tokenizer::decode(raw ids)", [&] { (void)tok.decode(raw_ids); });
    t5::fuzz::expect_contract("Tokenizer::decode(raw ids, keep special)", [&] { (void)tok.decode(raw_ids, false); });
  }
  return 0;
}
