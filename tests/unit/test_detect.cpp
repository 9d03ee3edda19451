// detect() against tensor-name evidence, and dispatch() over every combination detect() reports.
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "synthetic_checkpoint.hpp"
#include "print.hpp"
#include "t5/config/dispatch.hpp"
#include "t5/config/hf_config.hpp"
#include "t5/io/detect.hpp"
#include "t5/io/hf_names.hpp"

namespace {

t5::TensorNames names_of(const t5::Hparams& h, const t5::Policies& p, bool encoder_only = false) {
  t5::TensorNames names;
  for (const auto& t : t5::hf::expected_tensors(h, p, encoder_only)) names.insert(t.name);
  return names;
}

t5::HfConfig config_of(const t5::Policies& p, const t5::Hparams& h = t5::test::SyntheticModel::tiny_hparams()) {
  const std::string model_type = p.position_bias == t5::PositionBias::PerLayer ? "umt5" : "t5";
  return t5::HfConfig::parse(t5::test::hf_config_json(model_type, h, p).dump(), "dir/config.json");
}

std::vector<t5::Policies> every_detectable_policy() {
  std::vector<t5::Policies> out;
  for (auto ffn : {t5::Ffn::Relu, t5::Ffn::GatedGelu})
    for (auto gelu : {t5::GeluApprox::Tanh, t5::GeluApprox::Erf})
      for (auto bias : {t5::PositionBias::Shared, t5::PositionBias::PerLayer})
        for (auto scale : {t5::AttnScale::Off, t5::AttnScale::InvSqrtHeadDim})
          for (auto head : {t5::LmHead::TiedScaled, t5::LmHead::Untied})
            if (ffn == t5::Ffn::GatedGelu || gelu == t5::GeluApprox::Tanh) out.push_back({ffn, gelu, bias, scale, head});
  return out;
}

std::string error_message(auto&& f) {
  try {
    f();
  } catch (const t5::Error& e) {
    BOOST_TEST((e.code() == t5::ErrorCode::InvalidConfig));
    return e.what();
  }
  BOOST_FAIL("expected t5::Error");
  return "";
}

}  // namespace

BOOST_AUTO_TEST_SUITE(detect)

BOOST_AUTO_TEST_CASE(config_and_tensors_agree_for_every_combination) {
  const auto h = t5::test::SyntheticModel::tiny_hparams();
  const auto all = every_detectable_policy();
  BOOST_TEST(all.size() == 24u);
  for (const auto& p : all) {
    for (bool encoder_only : {false, true}) {
      const auto d = t5::detect(config_of(p), names_of(h, p, encoder_only));
      BOOST_TEST((d.policies == p));
      BOOST_TEST(d.encoder_only == encoder_only);
      BOOST_TEST((d.hparams == h));
    }
  }
}

BOOST_AUTO_TEST_CASE(gated_config_with_relu_tensors_is_refused) {
  const auto h = t5::test::SyntheticModel::tiny_hparams();
  const auto msg = error_message([&] { (void)t5::detect(config_of(t5::v1_1::policies), names_of(h, t5::v1_0::policies)); });
  // Both pieces of evidence are named: the config's keys and a tensor.
  BOOST_TEST(msg.find("dir/config.json") != std::string::npos);
  BOOST_TEST(msg.find("gelu_new") != std::string::npos);
  BOOST_TEST(msg.find("DenseReluDense.wi.weight") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(relu_config_with_gated_tensors_is_refused) {
  const auto h = t5::test::SyntheticModel::tiny_hparams();
  const auto msg = error_message([&] { (void)t5::detect(config_of(t5::v1_0::policies), names_of(h, t5::v1_1::policies)); });
  BOOST_TEST(msg.find("relu") != std::string::npos);
  BOOST_TEST(msg.find("wi_0") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bias_tables_must_match_model_type) {
  const auto h = t5::test::SyntheticModel::tiny_hparams();
  const auto shared = error_message([&] { (void)t5::detect(config_of(t5::v1_1::policies), names_of(h, t5::umt5::policies)); });
  BOOST_TEST(shared.find("block.1.layer.0.SelfAttention.relative_attention_bias") != std::string::npos);
  BOOST_TEST(shared.find("\"t5\"") != std::string::npos);
  const auto per_layer = error_message([&] { (void)t5::detect(config_of(t5::umt5::policies), names_of(h, t5::v1_1::policies)); });
  BOOST_TEST(per_layer.find("umt5") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(single_layer_umt5_needs_no_extra_tables) {
  auto h = t5::test::SyntheticModel::tiny_hparams();
  h.num_layers = 1;
  h.num_decoder_layers = 1;
  const auto d = t5::detect(config_of(t5::umt5::policies, h), names_of(h, t5::umt5::policies));
  BOOST_TEST(d.preset() == "umt5");
}

BOOST_AUTO_TEST_CASE(lm_head_alone_does_not_make_a_model_untied) {
  // A tied checkpoint may carry lm_head.weight (a copy of the embedding); config decides.
  const auto h = t5::test::SyntheticModel::tiny_hparams();
  auto names = names_of(h, t5::v1_0::policies);
  names.insert("lm_head.weight");
  BOOST_TEST((t5::detect(config_of(t5::v1_0::policies), names).policies.lm_head == t5::LmHead::TiedScaled));
}

BOOST_AUTO_TEST_CASE(embedding_aliases_do_not_make_a_decoder) {
  const auto h = t5::test::SyntheticModel::tiny_hparams();
  auto names = names_of(h, t5::v1_1::policies, true);
  names.insert("encoder.embed_tokens.weight");
  names.insert("decoder.embed_tokens.weight");
  BOOST_TEST(t5::detect(config_of(t5::v1_1::policies), names).encoder_only);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(dispatch)

BOOST_AUTO_TEST_CASE(every_combination_reaches_its_variant) {
  for (const auto& p : every_detectable_policy()) {
    const t5::Policies seen = t5::dispatch(p, []<t5::VariantLike V>() { return V::policies; });
    BOOST_TEST((seen == p));
  }
}

BOOST_AUTO_TEST_CASE(presets_dispatch_to_the_preset_types) {
  auto name = []<t5::VariantLike V>() -> std::string {
    if constexpr (std::is_same_v<V, t5::v1_0>) return "v1_0";
    else if constexpr (std::is_same_v<V, t5::v1_1>) return "v1_1";
    else if constexpr (std::is_same_v<V, t5::umt5>) return "umt5";
    else return "other";
  };
  BOOST_TEST(t5::dispatch(t5::v1_0::policies, name) == "v1_0");
  BOOST_TEST(t5::dispatch(t5::v1_1::policies, name) == "v1_1");
  BOOST_TEST(t5::dispatch(t5::umt5::policies, name) == "umt5");
}

BOOST_AUTO_TEST_CASE(relu_with_erf_is_not_a_variant) {
  const t5::Policies p{t5::Ffn::Relu, t5::GeluApprox::Erf, t5::PositionBias::Shared, t5::AttnScale::Off, t5::LmHead::TiedScaled};
  BOOST_CHECK_THROW(t5::dispatch(p, []<t5::VariantLike V>() { return 0; }), t5::Error);
}

BOOST_AUTO_TEST_SUITE_END()
