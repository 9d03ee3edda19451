// Policies, presets and the VariantLike concept: compile-time facts checked by static_assert, plus
// the run-time names that the tool prints.
#include <boost/test/unit_test.hpp>

#include "t5/config/variant.hpp"

namespace {

template <t5::VariantLike V>
constexpr bool accepts_variant() { return true; }

// The concept admits exactly the Variant<...> instantiations.
static_assert(t5::VariantLike<t5::v1_0> && t5::VariantLike<t5::v1_1> && t5::VariantLike<t5::umt5>);
static_assert(!t5::VariantLike<int>);
static_assert(!t5::VariantLike<t5::Policies>);
struct LooksLikeAVariant {
  static constexpr t5::Ffn ffn = t5::Ffn::Relu;
};
static_assert(!t5::VariantLike<LooksLikeAVariant>);
static_assert(accepts_variant<t5::umt5>());

// Presets: the table in DESIGN section 2.
static_assert(!t5::v1_0::gated && t5::v1_0::tied_lm_head && !t5::v1_0::per_layer_bias && !t5::v1_0::scaled_attention);
static_assert(t5::v1_1::gated && !t5::v1_1::tied_lm_head && !t5::v1_1::per_layer_bias && t5::v1_1::gelu == t5::GeluApprox::Tanh);
static_assert(t5::umt5::gated && !t5::umt5::tied_lm_head && t5::umt5::per_layer_bias);
static_assert(t5::umt5::policies.position_bias == t5::PositionBias::PerLayer);
static_assert(t5::Variant<t5::Ffn::GatedGelu, t5::GeluApprox::Erf, t5::PositionBias::Shared, t5::AttnScale::InvSqrtHeadDim,
                          t5::LmHead::Untied>::scaled_attention);

}  // namespace

BOOST_AUTO_TEST_SUITE(policies)

BOOST_AUTO_TEST_CASE(preset_names_round_trip) {
  BOOST_TEST(t5::preset_name(t5::v1_0::policies) == "v1_0");
  BOOST_TEST(t5::preset_name(t5::v1_1::policies) == "v1_1");
  BOOST_TEST(t5::preset_name(t5::umt5::policies) == "umt5");
  t5::Policies custom = t5::v1_1::policies;
  custom.attn_scale = t5::AttnScale::InvSqrtHeadDim;
  BOOST_TEST(t5::preset_name(custom).empty());
}

BOOST_AUTO_TEST_SUITE_END()
