// Checkpoints written by transformers itself (tests/data, built by tools/make_fixtures.py): each
// must open, validate, and be detected as fixture.json says the script built it.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "print.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/checkpoint.hpp"

namespace {

namespace fs = std::filesystem;

fs::path test_data() {
  const char* dir = std::getenv("T5CC_TEST_DATA");
  BOOST_TEST_REQUIRE(dir != nullptr, "T5CC_TEST_DATA is not set (meson sets it)");
  return dir;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(hf_fixtures)

BOOST_AUTO_TEST_CASE(every_fixture_is_detected_as_built) {
  int fixtures = 0;
  for (const auto& entry : fs::directory_iterator(test_data())) {
    if (!fs::exists(entry.path() / "fixture.json")) continue;
    ++fixtures;
    BOOST_TEST_CONTEXT(entry.path().filename().string()) {
      const auto fixture = t5::Json::parse(t5::read_text_file(entry.path() / "fixture.json"));
      const auto& expect = fixture.at("expect");
      const auto ck = t5::Checkpoint::open(entry.path());
      const auto& p = ck.detected().policies;
      BOOST_TEST(std::string(ck.detected().preset()) == expect.at("preset").get<std::string>());
      BOOST_TEST(std::string(t5::to_string(p.ffn)) == expect.at("ffn").get<std::string>());
      BOOST_TEST(std::string(t5::to_string(p.position_bias)) == expect.at("position_bias").get<std::string>());
      BOOST_TEST(std::string(t5::to_string(p.attn_scale)) == expect.at("attn_scale").get<std::string>());
      BOOST_TEST((p.lm_head == (expect.at("lm_head") == "tied" ? t5::LmHead::TiedScaled : t5::LmHead::Untied)));
      BOOST_TEST(ck.detected().encoder_only == expect.at("encoder_only").get<bool>());
      BOOST_TEST(ck.weights().files().size() == expect.at("weight_files").get<std::size_t>());
      for (const auto& [name, ref] : ck.weights().tensors())
        BOOST_TEST(std::string(t5::dtype_name(ref.info->dtype)) == expect.at("weight_dtype").get<std::string>(), name);
      // transformers writes exactly the tensors the model uses (tied copies are deduplicated).
      BOOST_TEST(ck.weights().size() == ck.expected().size());
    }
  }
  BOOST_TEST(fixtures >= 8);
}

BOOST_AUTO_TEST_CASE(sizes_match_the_script) {
  const auto tied = t5::Checkpoint::open(test_data() / "v1_0_tied");
  BOOST_TEST(tied.detected().hparams.num_layers == 2);
  BOOST_TEST(tied.detected().hparams.num_decoder_layers == 3);
  const auto gated = t5::Checkpoint::open(test_data() / "v1_1_gated");
  BOOST_TEST(gated.detected().hparams.d_kv == 32);
  BOOST_TEST(gated.detected().hparams.inner_dim() == 64);
  BOOST_TEST(gated.detected().hparams.d_model == 48);
  const auto buckets = t5::Checkpoint::open(test_data() / "buckets");
  BOOST_TEST(buckets.detected().hparams.num_buckets == 16);
  BOOST_TEST(buckets.detected().hparams.max_distance == 24);
  const auto umt5 = t5::Checkpoint::open(test_data() / "umt5");
  BOOST_TEST(umt5.detected().hparams.vocab_size == 512);
  BOOST_TEST(umt5.weights().find("decoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight") != nullptr);
}

BOOST_AUTO_TEST_SUITE_END()
