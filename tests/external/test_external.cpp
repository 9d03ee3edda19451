// Real third-party files (../shared/data, see its SOURCES.md), read through T5CC_EXTERNAL_DATA;
// SKIP when that variable is unset or the folder is missing. Expected sizes are those of the
// published config.json files, which t5cc's loader must reproduce and check against the tensors.
#include <cstdlib>
#include <filesystem>
#include <string>

#include "goldens.hpp"
#include "run_command.hpp"
#include "print.hpp"
#include "t5/t5.hpp"
#include "temp_dir.hpp"
#include "test_main.hpp"

namespace {

namespace fs = std::filesystem;

fs::path data_dir() { return std::getenv("T5CC_EXTERNAL_DATA"); }

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

// HF float32 goldens recorded from this checkpoint by tools/make_fixtures.py (only the numbers are
// committed, in tests/data/external); the tolerance and its reason are those of the parity suite.
BOOST_AUTO_TEST_CASE(chronos_dummy_t5_matches_hf) {
  auto model = t5::load(data_dir() / "chronos-dummy-t5", {.threads = 2});
  const t5::test::Goldens goldens(t5::test::test_data() / "external" / "chronos-dummy-t5.goldens.safetensors");
  const auto input = goldens.batch("input_ids", "attention_mask");
  const auto decoder_input = goldens.batch("decoder_input_ids", "decoder_attention_mask");
  const auto states = t5::test::compare(model->encode(input).values, goldens.floats("encoder_last_hidden_state"));
  BOOST_TEST(states.ok(), "encoder states: " << states);
  const auto logits = t5::test::compare(model->logits(input, decoder_input).values, goldens.floats("logits"));
  BOOST_TEST(logits.ok(), "logits: " << logits);
  const std::int64_t steps = goldens.shape("generated_ids")[1] - 1;
  t5::GreedyOptions options;
  options.max_new_tokens = steps;
  const auto ours = t5::test::padded(model->generate_greedy(input, options), steps, 0);
  std::vector<std::int64_t> expected;
  const auto golden = goldens.ints("generated_ids");
  for (std::int64_t b = 0; b < input.batch; ++b)
    expected.insert(expected.end(), golden.begin() + b * (steps + 1) + 1, golden.begin() + (b + 1) * (steps + 1));
  BOOST_TEST(ours == expected, boost::test_tools::per_element());
  BOOST_TEST_MESSAGE("chronos-dummy-t5: encoder " << states << "; logits " << logits);
}

BOOST_AUTO_TEST_CASE(caikit_tiny_t5_detected_from_config_but_has_no_safetensors) {
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
  try {
    (void)t5::Checkpoint::open(data_dir() / "caikit-tiny-t5");
    BOOST_ERROR("opened a checkpoint without safetensors weights");
  } catch (const t5::Error& e) {
    BOOST_TEST(t5::to_string(e.code()) == "Io");
    BOOST_TEST(std::string(e.what()).find("pytorch_model.bin") != std::string::npos, e.what());
  }
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
  BOOST_TEST(caikit.status == 1);
  BOOST_TEST(caikit.out.find("v1_0") != std::string::npos);  // described from its config first
  BOOST_TEST(caikit.err.find("pytorch_model.bin") != std::string::npos, caikit.err);
  BOOST_TEST(t5::test::line_count(caikit.err) == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

int main(int argc, char** argv) {
  const char* dir = std::getenv("T5CC_EXTERNAL_DATA");
  std::string skip;
  if (dir == nullptr || *dir == '\0') skip = "T5CC_EXTERNAL_DATA is not set";
  else if (!fs::is_directory(dir)) skip = std::string("T5CC_EXTERNAL_DATA=") + dir + " is not a directory";
  return t5::test::run_or_skip(argc, argv, skip);
}
