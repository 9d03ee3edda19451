// Real third-party files (../shared/data, see its SOURCES.md), read through T5CC_EXTERNAL_DATA;
// SKIP when that variable is unset or the folder is missing. Expected sizes are those of the
// published config.json files, which t5cc's loader must reproduce and check against the tensors.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "goldens.hpp"
#include "run_command.hpp"
#include "print.hpp"
#include "t5/config/hf_config.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/detect.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/load.hpp"
#include "t5/tokenizer/tokenizer.hpp"
#include "temp_dir.hpp"
#include "test_main.hpp"

namespace {

namespace fs = std::filesystem;

fs::path data_dir() { return std::getenv("T5CC_EXTERNAL_DATA"); }

/// The model in `dir` against the HF float32 goldens recorded from checkpoint `name` by
/// tools/make_fixtures.py (only the numbers are committed, in tests/data/external), with the parity
/// suite's tolerance and its reason: encoder states, teacher-forced logits, and greedy ids up to the
/// first step of a row whose margin (top-1 minus top-2 logit) is below 1e-4 of the largest |logit|,
/// where float32 summation order may decide.
void matches_hf(const fs::path& dir, const std::string& name) {
  auto model = t5::load(dir, {.threads = 2});
  const t5::test::Goldens goldens(t5::test::test_data() / "external" / (name + ".goldens.safetensors"));
  const auto input = goldens.batch("input_ids", "attention_mask");
  const auto decoder_input = goldens.batch("decoder_input_ids", "decoder_attention_mask");
  const auto states = t5::test::compare(model->encode(input).values, goldens.floats("encoder_last_hidden_state"));
  BOOST_TEST(states.ok(), "encoder states: " << states);
  const auto logits = t5::test::compare(model->logits(input, decoder_input).values, goldens.floats("logits"));
  BOOST_TEST(logits.ok(), "logits: " << logits);
  const std::int64_t steps = goldens.shape("generated_ids")[1] - 1;
  t5::GenerationOptions options;
  options.max_new_tokens = steps;
  const auto ours = model->generate(input, options).token_rows();
  const auto golden = goldens.ints("generated_ids");
  const auto margins = goldens.floats("greedy_margins");
  float scale = 0;
  for (const float v : goldens.floats("logits")) scale = std::max(scale, std::abs(v));
  std::int64_t compared = 0;
  for (std::int64_t b = 0; b < input.batch; ++b)
    for (std::int64_t s = 0; s < steps && margins[b * steps + s] >= 1e-4f * scale; ++s, ++compared) {
      BOOST_TEST_REQUIRE(static_cast<std::int64_t>(ours[b].size()) > s);
      BOOST_TEST(ours[b][s] == golden[b * (steps + 1) + 1 + s], "row " << b << " step " << s);
    }
  BOOST_TEST(compared > 0);
  BOOST_TEST_MESSAGE(name << ": encoder " << states << "; logits " << logits << "; " << compared << " greedy steps compared");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(external)

BOOST_AUTO_TEST_CASE(chronos_dummy_t5_is_v1_0) {
  const auto ck = t5::Checkpoint::open(data_dir() / "chronos-dummy-t5");
  const auto& d = ck.detected();
  BOOST_TEST(d.preset() == "v1_0");
  BOOST_TEST(!d.encoder_only);
  BOOST_TEST(d.hparams.d_model == 64);
  BOOST_TEST(d.hparams.num_heads == 1);
  BOOST_TEST(d.hparams.d_kv == 16);
  BOOST_TEST(d.hparams.inner_dim() == 16);  // != d_model
  BOOST_TEST(d.hparams.d_ff == 32);
  BOOST_TEST(d.hparams.vocab_size == 32);
  // Every tensor has the shape its config implies (Checkpoint::open checks), and the file holds
  // the expected set plus the two embedding aliases older transformers wrote (equal to
  // shared.weight, which the loader verified); the tied lm_head is not stored.
  BOOST_TEST(ck.weights().size() == ck.expected().size() + 2);
  BOOST_TEST(ck.weights().find("encoder.embed_tokens.weight") != nullptr);
  BOOST_TEST(ck.weights().find("decoder.embed_tokens.weight") != nullptr);
  BOOST_TEST(ck.weights().find("lm_head.weight") == nullptr);
  for (const auto& e : ck.expected()) {
    BOOST_TEST(ck.tensor(e.name).info->shape == e.shape, e.name);
    BOOST_TEST((ck.tensor(e.name).info->dtype == t5::DType::F32));
  }
  BOOST_TEST(ck.tensor("encoder.block.0.layer.0.SelfAttention.q.weight").info->shape == (std::vector<std::int64_t>{16, 64}));
}

// Every greedy margin of this checkpoint is above 1e-2: all 24 steps of each row are compared.
BOOST_AUTO_TEST_CASE(chronos_dummy_t5_matches_hf) { matches_hf(data_dir() / "chronos-dummy-t5", "chronos-dummy-t5"); }

// Google's T5 vocabulary (t5-small ... flan-t5, FLUX's T5): the documented sentinel sentence in
// both modes (hf: as T5TokenizerFast), and sentences whose ids Python's sentencepiece 0.2.3 gave.
BOOST_AUTO_TEST_CASE(google_t5_vocabulary) {
  const auto tok = t5::Tokenizer::from_spm(data_dir() / "t5-spiece" / "spiece.model");
  BOOST_TEST(tok.piece_count() == 32000);
  BOOST_TEST(tok.sentinel_id(0) == 32099);
  const std::string sentence = "Today is a fine <extra_id_0> on which to walk my <extra_id_1> in the park.";
  BOOST_TEST(tok.encode(sentence) ==
                 (std::vector<std::int32_t>{1960, 19, 3, 9, 1399, 3, 32099, 30, 84, 12, 1482, 82, 3, 32098, 16, 8, 2447, 5, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(tok.encode(sentence, {t5::TokenizerMode::HuggingFace, true}) ==
                 (std::vector<std::int32_t>{1960, 19, 3, 9, 1399, 32099, 30, 84, 12, 1482, 82, 32098, 16, 8, 2447, 5, 1}),
             boost::test_tools::per_element());
  BOOST_TEST(tok.encode("zzz") == (std::vector<std::int32_t>{3, 172, 5271, 1}), boost::test_tools::per_element());
  BOOST_TEST(tok.encode(":zzz") == (std::vector<std::int32_t>{3, 10, 5271, 172, 1}), boost::test_tools::per_element());

  const std::vector<std::pair<std::string, std::vector<std::int32_t>>> python = {
      {"translate English to German: The house is wonderful.", {13959, 1566, 12, 2968, 10, 37, 629, 19, 1627, 5}},
      {"summarize: state authorities dispatched emergency crews tuesday to survey the damage.",
       {21603, 10, 538, 5779, 17648, 15, 26, 3583, 4627, 7, 3, 17, 76, 15, 7, 1135, 12, 3719, 8, 1783, 5}},
      {"The quick brown fox jumps over the lazy dog.", {37, 1704, 4216, 3, 20400, 4418, 7, 147, 8, 19743, 1782, 5}},
      {"Caf\u00e9 d\u00e9j\u00e0 vu, na\u00efve fa\u00e7ade.", {18131, 4315, 9056, 6, 3, 29, 9, 2, 162, 24369, 5}},
      {"\uff26\uff55\uff4c\uff4c\uff57\uff49\uff44\uff54\uff48 \uff21\uff22\uff23 \uff11\uff12\uff13", {4043, 12018, 189, 14213, 3, 14574}},
      {"The \ufb01rst \ufb02oor costs \u20ac1,234.56 (approx.)", {37, 166, 1501, 1358, 3416, 4347, 2773, 12451, 948, 41, 12497, 226, 5, 61}},
      {"  leading and   multiple   spaces  ", {1374, 11, 1317, 4856}},
      {"Line one\ttab separated", {4919, 80, 3808, 12494}},
      {"E = mc\u00b2 and H\u2082O", {262, 3274, 3, 51, 75, 357, 11, 454, 357, 667}},
      {"\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8", {3, 2}},
      {"email: someone@example.com, url: https://t5cc.dev/docs?x=1",
       {791, 10, 841, 1741, 994, 9, 9208, 5, 287, 6, 3, 16137, 10, 4893, 1303, 17, 755, 75, 75, 5, 9776, 87, 7171, 7, 58, 226, 2423, 536}},
      {"A photo of a cat wearing a tiny wizard hat, 4k, highly detailed",
       {71, 1202, 13, 3, 9, 1712, 5119, 3, 9, 5103, 25027, 3, 547, 6, 314, 157, 6, 1385, 3117}},
  };
  for (const auto& [text, ids] : python)
    BOOST_TEST(tok.encode(text, {t5::TokenizerMode::SentencePiece, false}) == ids, text);
  BOOST_TEST(tok.decode(tok.encode("The quick brown fox jumps over the lazy dog.")) == "The quick brown fox jumps over the lazy dog.");
}

// transformers' test vocabulary has another special-id layout (unk 0, bos 1, eos 2, no pad):
// the EOS appended is the model's own.
BOOST_AUTO_TEST_CASE(another_special_id_layout) {
  const auto tok = t5::Tokenizer::from_spm(data_dir() / "hf-test-spiece" / "test_sentencepiece.model");
  BOOST_TEST(tok.eos_id() == 2);
  BOOST_TEST(tok.unk_id() == 0);
  BOOST_TEST(tok.piece_count() == 1000);
  BOOST_TEST(tok.encode("This is a test").back() == 2);
  BOOST_TEST(tok.sentinel_id(0) == 1099);
}

BOOST_AUTO_TEST_CASE(caikit_tiny_t5_detected_from_config) {
  const auto config = t5::HfConfig::read(data_dir() / "caikit-tiny-t5" / "config.json");
  const auto d = t5::detect(config);
  BOOST_TEST(d.preset() == "v1_0");
  BOOST_TEST(d.hparams.d_model == 32);
  BOOST_TEST(d.hparams.d_ff == 37);
  BOOST_TEST(d.hparams.d_kv == 8);
  BOOST_TEST(d.hparams.num_heads == 4);
  BOOST_TEST(d.hparams.num_layers == 5);
  BOOST_TEST(d.hparams.num_decoder_layers == 5);
  BOOST_TEST(d.hparams.num_buckets == 8);
  BOOST_TEST(d.hparams.vocab_size == 1302);
}

// caikit-tiny-t5 ships only pytorch_model.bin, in which shared, both embed_tokens and lm_head are one
// storage: it loads as one tensor and computes what transformers computed from the same file. Its
// weights are tiny (initializer_factor 0.002), so are its logits (~1e-8) and their margins, hence
// matches_hf's margin relative to the largest |logit|.
BOOST_AUTO_TEST_CASE(caikit_tiny_t5_pytorch_bin_matches_hf) {
  const auto ck = t5::Checkpoint::open(data_dir() / "caikit-tiny-t5");
  BOOST_TEST(ck.weights().description() == "pytorch_model.bin (PyTorch zip)");
  const auto* shared = ck.weights().find("shared.weight");
  BOOST_TEST_REQUIRE(shared != nullptr);
  for (const char* alias : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"})
    if (const auto* ref = ck.weights().find(alias)) BOOST_TEST((ref->data().data() == shared->data().data()), alias);

  matches_hf(data_dir() / "caikit-tiny-t5", "caikit-tiny-t5");
}

// chronos-dummy-t5's pytorch_model.bin holds the same weights as its model.safetensors, in bf16:
// widened, each equals the safetensors tensor bit for bit, and the model computes the same goldens.
BOOST_AUTO_TEST_CASE(chronos_dummy_t5_bf16_pytorch_bin) {
  t5::test::TempDir bin;
  for (const char* f : {"config.json", "pytorch_model.bin"}) fs::copy_file(data_dir() / "chronos-dummy-t5" / f, bin / f);
  const auto from_bin = t5::Checkpoint::open(bin.path());
  const auto from_safetensors = t5::Checkpoint::open(data_dir() / "chronos-dummy-t5");
  for (const auto& [name, ref] : from_safetensors.weights().tensors()) {
    const auto* other = from_bin.weights().find(name);
    BOOST_TEST_REQUIRE(other != nullptr, name);
    BOOST_TEST((other->info->dtype == t5::DType::BF16), name);
    BOOST_TEST(other->info->shape == ref.info->shape, name);
    const auto n = static_cast<std::size_t>(ref.info->numel());
    std::size_t equal = 0;
    for (std::size_t i = 0; i < n; ++i)
      equal += t5::element_as_float(other->data(), t5::DType::BF16, i) == t5::element_as_float(ref.data(), t5::DType::F32, i);
    BOOST_TEST(equal == n, name);
  }
  matches_hf(bin.path(), "chronos-dummy-t5");
}

BOOST_AUTO_TEST_CASE(t5cc_inspect_on_the_real_files) {
  const std::string bin = t5::test::t5cc_binary();
  const auto chronos = t5::test::run_command({bin, "inspect", "--model", (data_dir() / "chronos-dummy-t5").string()});
  BOOST_TEST(chronos.status == 0, chronos.err);
  BOOST_TEST(chronos.out.find("v1_0 (T5 v1.0)") != std::string::npos);
  BOOST_TEST(t5::test::line_words(chronos.out, "d_model") == (std::vector<std::string>{"d_model", "64"}), boost::test_tools::per_element());
  BOOST_TEST(t5::test::line_words(chronos.out, "d_kv") == (std::vector<std::string>{"d_kv", "16"}), boost::test_tools::per_element());

  // A truncated copy is refused with status 1 and one line naming the file.
  t5::test::TempDir copy;
  for (const char* f : {"config.json", "model.safetensors"}) fs::copy_file(data_dir() / "chronos-dummy-t5" / f, copy / f);
  fs::permissions(copy / "model.safetensors", fs::perms::owner_write, fs::perm_options::add);
  fs::resize_file(copy / "model.safetensors", fs::file_size(copy / "model.safetensors") - 1000);
  const auto truncated = t5::test::run_command({bin, "inspect", "--model", copy.path().string()});
  BOOST_TEST(truncated.status == 1);
  BOOST_TEST(t5::test::line_count(truncated.err) == 1u, truncated.err);
  BOOST_TEST(truncated.err.find("model.safetensors") != std::string::npos);

  const auto caikit = t5::test::run_command({bin, "inspect", "--model", (data_dir() / "caikit-tiny-t5").string()});
  BOOST_TEST(caikit.status == 0, caikit.err);
  BOOST_TEST(caikit.out.find("v1_0 (T5 v1.0)") != std::string::npos);
  BOOST_TEST(caikit.out.find("pytorch_model.bin (PyTorch zip)") != std::string::npos);
}

// Third-party tokenizer files against HF's ids on the tokenizer corpus (tests/data/external/
// tokenizer_ids.json, made by tools/make_fixtures.py): Google's T5 spiece.model in hf mode equals
// T5TokenizerFast on a folder holding only it (transformers' converter output, t5/flan-t5's
// tokenizer.json), and caikit-tiny-t5's shipped tokenizer.json (the pre-0.14 layout, its sentinels
// at ids 3..102) equals `tokenizers` with it.
BOOST_AUTO_TEST_CASE(tokenizer_files) {
  if (std::getenv("T5CC_EXTERNAL_DATA") == nullptr || !fs::is_directory(data_dir() / "t5-spiece")) {
    BOOST_TEST_MESSAGE("SKIP: T5CC_EXTERNAL_DATA is unset or has no t5-spiece");
    return;
  }
  const auto recorded = t5::Json::parse(t5::read_text_file(t5::test::test_data() / "external" / "tokenizer_ids.json"));
  const auto texts = recorded.at("texts").get<std::vector<std::string>>();
  const std::vector<std::pair<std::string, t5::Tokenizer>> cases = {
      {"t5-spiece", t5::Tokenizer::from_spm(data_dir() / "t5-spiece" / "spiece.model")},
      {"caikit-tiny-t5", t5::Tokenizer::from_path(data_dir() / "caikit-tiny-t5" / "tokenizer.json")}};
  for (const auto& [name, tok] : cases) {
    const auto expected = recorded.at(name).get<std::vector<std::vector<std::int32_t>>>();
    BOOST_TEST_REQUIRE(expected.size() == texts.size());
    std::size_t differ = 0;
    for (std::size_t i = 0; i < texts.size(); ++i)
      if (tok.encode(texts[i], {t5::TokenizerMode::HuggingFace, true}) != expected[i]) ++differ;
    BOOST_TEST(differ == 0u, name << ": " << differ << " of " << texts.size() << " texts differ");
  }
  BOOST_TEST(cases[1].second.sentinel_id(99) == 3);
}

BOOST_AUTO_TEST_SUITE_END()

int main(int argc, char** argv) {
  const char* dir = std::getenv("T5CC_EXTERNAL_DATA");
  std::string skip;
  if (dir == nullptr || *dir == '\0') skip = "T5CC_EXTERNAL_DATA is not set";
  else if (!fs::is_directory(dir)) skip = std::string("T5CC_EXTERNAL_DATA=") + dir + " is not a directory";
  return t5::test::run_or_skip(argc, argv, skip);
}
