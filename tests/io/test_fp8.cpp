// fp8 weights (F8_E4M3, F8_E5M2), widened exactly to float32 at load, against torch
// (tools/make_fixtures.py): fp8_values.safetensors holds every bit pattern and torch's float32
// value of it; fp8_e4m3/ is v1_1_gated with its projections stored as F8_E4M3, and the goldens of
// that function computed by transformers; scaled_fp8/ holds v1_1_gated's encoder in ComfyUI's two
// scaled fp8 layouts (a float32 scale per tensor) and transformers' states from the dequantised weights.
#include <boost/test/unit_test.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "expect_error.hpp"
#include "goldens.hpp"
#include "t5/core/dtype.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "t5/load.hpp"
#include "temp_dir.hpp"

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

// The parity suite's tolerance and its reason (goldens.hpp).
BOOST_AUTO_TEST_CASE(comfyui_scaled_fp8_matches_its_goldens) {
  const auto dir = t5::test::test_data() / "scaled_fp8";
  const t5::test::Goldens goldens(dir / "goldens.safetensors");
  const auto input = goldens.batch("input_ids", "attention_mask");
  for (const char* file : {"t5xxl_fp8_e4m3fn_scaled.safetensors", "t5xxl_fp8_mixed.safetensors"}) {
    BOOST_TEST_CONTEXT(file) {
      const auto ck = t5::Checkpoint::open(dir / file);
      // 2 blocks x (q, k, v, o, wi_0, wi_1, wo); the markers, factors and input scales set aside.
      BOOST_TEST(ck.weights().description().find("14 weights scaled (ComfyUI scaled fp8)") != std::string::npos, ck.weights().description());
      const auto& q = ck.tensor("encoder.block.0.layer.0.SelfAttention.q.weight");
      BOOST_TEST((q.info->dtype == t5::DType::F8E4M3));
      BOOST_TEST_REQUIRE(q.scale != nullptr);
      BOOST_TEST((q.source().dtype == t5::DType::F32));
      BOOST_TEST(ck.detected().hparams.d_model == 48);
      auto model = t5::load(dir / file, {.threads = 1});
      const auto states = t5::test::compare(model->encode(input).values, goldens.floats("encoder_last_hidden_state"));
      BOOST_TEST(states.ok(), "encoder states: " << states);
    }
  }
}

BOOST_AUTO_TEST_CASE(bad_scales_are_named) {
  const t5::test::TempDir tmp;
  auto write = [&](const std::string& file, const std::function<void(t5::io::SafetensorsWriter&)>& add) {
    t5::io::SafetensorsWriter w;
    const std::vector<std::uint8_t> fp8(16, 0x38);  // 1.0 in E4M3
    w.add("encoder.block.0.layer.0.SelfAttention.q.weight", t5::DType::F8E4M3, {4, 4}, std::as_bytes(std::span(fp8)));
    add(w);
    w.write(tmp.path() / file);
    return tmp.path() / file;
  };
  const std::vector<float> two{1.0f, 2.0f}, one{0.5f};
  const auto rows = write("rows.safetensors", [&](auto& w) { w.template add<float>("encoder.block.0.layer.0.SelfAttention.q.scale_weight", {2}, two); });
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(rows); }, t5::ErrorCode::Format, "has shape [2], expected one value (a scale per tensor)");
  const auto orphan = write("orphan.safetensors", [&](auto& w) { w.template add<float>("encoder.block.0.layer.0.SelfAttention.k.weight_scale", {}, one); });
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(orphan); }, t5::ErrorCode::Format,
                         "scales no tensor (no \"encoder.block.0.layer.0.SelfAttention.k.weight\")");
  const std::string nvfp4 = R"({"format": "nvfp4"})";
  const auto other = write("nvfp4.safetensors", [&](auto& w) {
    w.add("encoder.block.0.layer.0.SelfAttention.q.comfy_quant", t5::DType::U8, {static_cast<std::int64_t>(nvfp4.size())}, std::as_bytes(std::span(nvfp4)));
  });
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(other); }, t5::ErrorCode::Format, "the quantisation format \"nvfp4\"; t5cc reads the fp8 ones");
}

BOOST_AUTO_TEST_SUITE_END()
