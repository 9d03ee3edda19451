// fp8 weights (F8_E4M3, F8_E5M2), widened exactly to float32 at load, against torch
// (tools/make_fixtures.py): fp8_values.safetensors holds every bit pattern and torch's float32
// value of it; fp8_e4m3/ is v1_1_gated with its projections stored as F8_E4M3, and the goldens of
// that function computed by transformers.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "expect_error.hpp"
#include "goldens.hpp"
#include "t5/core/dtype.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/load.hpp"

BOOST_AUTO_TEST_SUITE(fp8)

BOOST_AUTO_TEST_CASE(every_bit_pattern_widens_as_torch_does) {
  const t5::io::SafetensorsFile f(t5::test::test_data() / "fp8_values.safetensors");
  // torch's first non-finite value of each: e4m3 0x7f (NaN; it has no infinity), e5m2 0x7c (+inf).
  for (const auto& [name, dtype, first_bad] : {std::tuple{"e4m3", t5::DType::F8E4M3, 0x7fu}, std::tuple{"e5m2", t5::DType::F8E5M2, 0x7cu}}) {
    BOOST_TEST_CONTEXT(name) {
      const auto* bits = f.find(name);
      const auto* reference = f.find(std::string(name) + "_f32");
      BOOST_TEST_REQUIRE((bits != nullptr && reference != nullptr));
      BOOST_TEST((bits->dtype == dtype));
      BOOST_TEST_REQUIRE(bits->numel() == 256);
      for (std::size_t i = 0; i < 256; ++i) {
        float expected;
        std::memcpy(&expected, f.data(*reference).data() + 4 * i, 4);
        const float ours = t5::element_as_float(f.data(*bits), dtype, i);
        if (std::isnan(expected))
          BOOST_TEST(std::isnan(ours), "pattern " << i);
        else
          BOOST_TEST(std::bit_cast<std::uint32_t>(ours) == std::bit_cast<std::uint32_t>(expected), "pattern " << i << ": " << ours << " vs " << expected);
      }
      std::vector<float> out(256);
      BOOST_TEST(t5::convert_elements(f.data(*bits), dtype, out.data()) == first_bad);  // weights must be finite
    }
  }
}

// The parity suite's tolerance and its reason (goldens.hpp).
BOOST_AUTO_TEST_CASE(fp8_checkpoint_matches_its_goldens) {
  const auto dir = t5::test::test_data() / "fp8_e4m3";
  const auto ck = t5::Checkpoint::open(dir);
  BOOST_TEST((ck.tensor("encoder.block.0.layer.0.SelfAttention.q.weight").info->dtype == t5::DType::F8E4M3));
  BOOST_TEST((ck.tensor("shared.weight").info->dtype == t5::DType::F32));
  const t5::test::Goldens goldens(dir / "goldens.safetensors");
  const auto input = goldens.batch("input_ids", "attention_mask");
  const auto decoder_input = goldens.batch("decoder_input_ids", "decoder_attention_mask");
  auto model = t5::load(dir, {.threads = 1});
  const auto states = t5::test::compare(model->encode(input).values, goldens.floats("encoder_last_hidden_state"));
  BOOST_TEST(states.ok(), "encoder states: " << states);
  const auto logits = t5::test::compare(model->logits(input, decoder_input).values, goldens.floats("logits"));
  BOOST_TEST(logits.ok(), "logits: " << logits);
}

BOOST_AUTO_TEST_SUITE_END()
