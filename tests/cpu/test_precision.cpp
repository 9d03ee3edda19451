// Low precision on the CPU: cpu::Backend<f16> and <bf16> (the GPU's rounding points) on every
// fixture, the layer observer, RMSNorm gain folding, and f16 on the "hot" fixtures (weights scaled
// as T5 v1.1 XL/XXL end up, so that HF's fp16 overflows: tools/make_fixtures.py asserts it):
// without scales an overflow is an error naming the sublayer, with calibrated scales a result
// within the f16 bound.
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <fstream>
#include <string>
#include <tuple>
#include <vector>

#include "expect_error.hpp"
#include "goldens.hpp"
#include "synthetic_checkpoint.hpp"
#include "temp_dir.hpp"
#include "t5/load.hpp"
#include "t5/config/variant.hpp"
#include "t5/model/fp16_scales.hpp"

namespace {

using t5::test::compare;
using t5::test::test_data;

const char* const fixtures[] = {"v1_0_tied", "v1_1_gated", "mt5", "umt5", "buckets", "bf16", "sharded", "scale_qk"};
const char* const hot_fixtures[] = {"hot_v1_1", "hot_v1_0"};

struct Case {
  t5::TokenBatch input, decoder_input;
  std::vector<float> states, logits;
  explicit Case(const std::string& fixture) {
    const t5::test::Goldens g(test_data() / fixture / "goldens.safetensors");
    input = g.batch("input_ids", "attention_mask");
    decoder_input = g.batch("decoder_input_ids", "decoder_attention_mask");
    states = g.floats("encoder_last_hidden_state");
    logits = g.floats("logits");
  }
};

std::unique_ptr<t5::AnyModel> load(const std::string& fixture, std::optional<t5::DType> dtype, t5::LoadOptions o = {}) {
  o.threads = 2;
  o.dtype = dtype;
  o.gpu_rounding = dtype.has_value() && *dtype != t5::DType::F32;
  return t5::load(test_data() / fixture, o);
}

/// Normwise relative error of a normwise-compared value against `golden`.
double normwise(const std::vector<float>& ours, const std::vector<float>& golden) { return compare(ours, golden).normwise; }

}  // namespace

BOOST_AUTO_TEST_SUITE(precision)

// The bound of tests/cuda/test_backend.cpp (its reasoning is in tests/support/goldens.hpp): the
// emulation stores the same values as the GPU, so it must meet the GPU's bound.
BOOST_AUTO_TEST_CASE(half_backends_meet_the_gpu_bound_on_every_fixture) {
  for (const char* fixture : fixtures) {
    const Case c(fixture);
    for (const t5::DType dtype : {t5::DType::BF16, t5::DType::F16}) {
      const auto model = load(fixture, dtype);
      const double states = normwise(model->encode(c.input).values, c.states);
      const double logits = normwise(model->logits(c.input, c.decoder_input).values, c.logits);
      BOOST_TEST_MESSAGE(fixture << " " << t5::dtype_name(dtype) << ": encoder states " << states << ", logits " << logits);
      BOOST_TEST(states <= t5::test::low_precision_bound(dtype), fixture << " " << t5::dtype_name(dtype) << " encoder states " << states);
      BOOST_TEST(logits <= t5::test::low_precision_bound(dtype), fixture << " " << t5::dtype_name(dtype) << " logits " << logits);
      // Rounding happened: the emulation is not the float32 path under another name.
      BOOST_TEST(states > 1e-6, fixture << " " << t5::dtype_name(dtype) << " is as exact as float32");
    }
  }
}

BOOST_AUTO_TEST_CASE(observer_sees_every_sublayer_once_in_order) {
  const Case c("v1_1_gated");
  const auto model = load("v1_1_gated", std::nullopt);
  const t5::Hparams& h = model->hparams();
  std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> seen;  // name, layer, cols
  std::vector<float> final_states, observed_logits;
  const auto logits = model->logits(c.input, c.decoder_input, [&](std::string_view name, std::int64_t layer, const t5::Observed& v) {
    seen.emplace_back(std::string(name), layer, v.cols);
    BOOST_TEST(static_cast<std::int64_t>(v.values.size()) == v.rows * v.cols);
    if (name == "encoder.final_norm") final_states.assign(v.values.begin(), v.values.end());
    if (name == "decoder.logits") observed_logits.assign(v.values.begin(), v.values.end());
  });

  const std::int64_t d = h.d_model, inner = h.inner_dim(), f = h.d_ff;
  std::vector<std::tuple<std::string, std::int64_t, std::int64_t>> expected{{"encoder.embedding", -1, d}};
  for (std::int64_t l = 0; l < h.num_layers; ++l)
    for (auto [name, cols] : {std::pair{"attention.normed", d}, {"attention.qkv", 3 * inner}, {"attention.context", inner}, {"attention.residual", d},
                              {"ffn.normed", d}, {"ffn.in", 2 * f}, {"ffn.hidden", f}, {"ffn.residual", d}})
      expected.emplace_back(std::string("encoder.") + name, l, cols);
  expected.emplace_back("encoder.final_norm", -1, d);
  expected.emplace_back("decoder.embedding", -1, d);
  for (std::int64_t l = 0; l < h.num_decoder_layers; ++l)
    for (auto [name, cols] : {std::pair{"self_attention.normed", d}, {"self_attention.qkv", 3 * inner}, {"self_attention.context", inner},
                              {"self_attention.residual", d}, {"cross_attention.normed", d}, {"cross_attention.q", inner},
                              {"cross_attention.context", inner}, {"cross_attention.residual", d}, {"ffn.normed", d}, {"ffn.in", 2 * f},
                              {"ffn.hidden", f}, {"ffn.residual", d}})
      expected.emplace_back(std::string("decoder.") + name, l, cols);
  expected.emplace_back("decoder.final_norm", -1, d);
  expected.emplace_back("decoder.logits", -1, h.vocab_size);
  BOOST_TEST_REQUIRE(seen.size() == expected.size());
  for (std::size_t i = 0; i < seen.size(); ++i)
    BOOST_TEST((seen[i] == expected[i]), "call " << i << ": " << std::get<0>(seen[i]) << " " << std::get<1>(seen[i]) << ", expected "
                                                 << std::get<0>(expected[i]) << " " << std::get<1>(expected[i]));
  // What it shows is what the call computes, and observing changes nothing.
  BOOST_TEST((final_states == model->encode(c.input).values));
  BOOST_TEST((observed_logits == logits.values));
  BOOST_TEST((logits.values == model->logits(c.input, c.decoder_input).values));
}

// W (g * n) = (W diag(g)) n: exact in real arithmetic; in float32 each folded weight is one
// rounding of W g (2^-24 relative) where the norm rounded g * n, so the outputs move by float32
// noise, ~1e-7 relative after a few layers: 1e-6 normwise bounds it with margin.
BOOST_AUTO_TEST_CASE(folding_norm_gains_is_exact_in_float32) {
  // Synthetic checkpoints: every gain random in [-1, 1), so each folded pair (q|k|v, wi, the
  // cross-attention q) is exercised; the HF fixtures' layer gains are ones, the hot ones' are not.
  for (const t5::Policies policies : {t5::v1_0::policies, t5::v1_1::policies, t5::umt5::policies}) {
    t5::test::TempDir dir;
    t5::test::SyntheticModel m;
    m.policies = policies;
    t5::test::write_checkpoint(dir.path(), m);
    const t5::TokenBatch input = t5::TokenBatch::from_rows({{5, 9, 3, 17, 1}, {22, 4, 1}}, 0);
    const t5::TokenBatch decoder = t5::TokenBatch::from_rows({{0, 7, 30, 2}, {0, 11}}, 0);
    const auto plain = t5::load(dir.path(), {.threads = 2});
    const auto folded = t5::load(dir.path(), {.threads = 2, .fold_norm_gains = true});
    const double states = normwise(folded->encode(input).values, plain->encode(input).values);
    const double logits = normwise(folded->logits(input, decoder).values, plain->logits(input, decoder).values);
    BOOST_TEST_MESSAGE(t5::describe(policies) << " synthetic, folded vs not: encoder states " << states << ", logits " << logits);
    BOOST_TEST(states <= 1e-6, t5::describe(policies) << " encoder states " << states);
    BOOST_TEST(logits <= 1e-6, t5::describe(policies) << " logits " << logits);
  }
  for (const char* fixture : {"v1_0_tied", "v1_1_gated", "umt5", "hot_v1_1", "hot_v1_0"}) {
    const Case c(fixture);
    const auto plain = load(fixture, std::nullopt);
    const auto folded = load(fixture, std::nullopt, {.fold_norm_gains = true});
    const double states = normwise(folded->encode(c.input).values, plain->encode(c.input).values);
    const double logits = normwise(folded->logits(c.input, c.decoder_input).values, plain->logits(c.input, c.decoder_input).values);
    BOOST_TEST_MESSAGE(fixture << " folded vs not: encoder states " << states << ", logits " << logits);
    BOOST_TEST(states <= 1e-6, fixture << " encoder states " << states);
    BOOST_TEST(logits <= 1e-6, fixture << " logits " << logits);
    BOOST_TEST(compare(folded->logits(c.input, c.decoder_input).values, c.logits).ok());
  }
}

BOOST_AUTO_TEST_CASE(hot_fixtures_overflow_f16_without_scales_and_say_where) {
  // hot.json (make_fixtures.py): encoder layer 1's feed-forward is heated; v1_1 overflows in its
  // hidden (GELU(gate) * up, each factor < 2^13), v1_0 already in its wi output (> 2^17).
  for (const auto& [fixture, site] : {std::pair{"hot_v1_1", "encoder layer 1's ffn.hidden"}, {"hot_v1_0", "encoder layer 1's ffn.in"}}) {
    const Case c(fixture);
    const auto model = load(fixture, t5::DType::F16);
    t5::test::expect_error([&] { model->encode(c.input); }, t5::ErrorCode::NonFinite, site);
    t5::test::expect_error([&] { model->logits(c.input, c.decoder_input); }, t5::ErrorCode::NonFinite, site);
    t5::test::expect_error([&] { model->encode(c.input); }, t5::ErrorCode::NonFinite, "t5cc calibrate");
    t5::GenerationOptions four;
    four.max_new_tokens = 4;
    t5::test::expect_error([&] { model->generate(c.input, four); }, t5::ErrorCode::NonFinite, site);
    // The float32 reference is finite and equal to HF there: the overflow is f16's.
    BOOST_TEST(compare(load(fixture, std::nullopt)->encode(c.input).values, c.states).ok());
  }
}

BOOST_AUTO_TEST_CASE(calibrated_f16_is_finite_and_within_the_f16_bound) {
  for (const char* fixture : hot_fixtures) {
    const Case c(fixture);
    const auto reference = load(fixture, std::nullopt);
    const t5::Hparams& h = reference->hparams();
    t5::Fp16Calibration calibration(h.num_layers, h.num_decoder_layers, reference->detected().policies.ffn == t5::Ffn::GatedGelu);
    reference->logits(c.input, c.decoder_input, calibration.observer());
    const t5::Fp16Scales scales = calibration.scales(8);
    // Only the heated layers get a scale below 1.
    int scaled = 0;
    for (const auto& s : scales.encoder) scaled += s.in < 1 || s.hidden < 1;
    for (const auto& s : scales.decoder) scaled += s.in < 1 || s.hidden < 1;
    BOOST_TEST(scaled == 2, fixture << ": " << scaled << " scaled feed-forwards");

    t5::test::TempDir dir;
    const auto sidecar = dir.path() / "scales.json";
    std::ofstream(sidecar) << t5::fp16_scales_json(scales, calibration, 8, c.input.batch);
    const auto model = load(fixture, t5::DType::F16, {.fp16_scales = sidecar});
    const auto states = model->encode(c.input).values;
    const auto logits = model->logits(c.input, c.decoder_input).values;
    const double s = normwise(states, c.states), l = normwise(logits, c.logits);
    BOOST_TEST_MESSAGE(fixture << " f16 with scales: encoder states " << s << ", logits " << l);
    BOOST_TEST(s <= t5::test::low_precision_bound(t5::DType::F16), fixture << " encoder states " << s);
    BOOST_TEST(l <= t5::test::low_precision_bound(t5::DType::F16), fixture << " logits " << l);
  }
}

BOOST_AUTO_TEST_CASE(bad_scale_files_are_refused_by_name) {
  t5::test::TempDir dir;
  const auto path = dir.path() / "scales.json";
  auto refused = [&](const std::string& text, const std::string& fragment) {
    std::ofstream(path) << text;
    t5::test::expect_error([&] { load("hot_v1_1", t5::DType::F16, {.fp16_scales = path}); }, t5::ErrorCode::Format, fragment);
  };
  const std::string layer = R"({"in": 1, "hidden": 0.5})";
  auto layers = [&](int n, const std::string& entry) {
    std::string out = "[";
    for (int i = 0; i < n; ++i) out += (i ? "," : "") + entry;
    return out + "]";
  };
  refused(R"({"format": "other", "version": 1})", "not a t5cc.fp16_scales file");
  refused(R"({"format": "t5cc.fp16_scales", "version": 1, "encoder": )" + layers(3, layer) + R"(, "decoder": )" + layers(3, layer) + "}",
          "\"encoder\" must list 4 layers");
  refused(R"({"format": "t5cc.fp16_scales", "version": 1, "encoder": )" + layers(4, R"({"in": 0.3, "hidden": 1})") +
              R"(, "decoder": )" + layers(3, layer) + "}",
          "encoder layer 0: \"in\" must be a power of two");
  refused(R"({"format": "t5cc.fp16_scales", "version": 1, "encoder": )" + layers(4, R"({"in": 2, "hidden": 1})") +
              R"(, "decoder": )" + layers(3, layer) + "}",
          "must be a power of two in [2^-24, 1]");
  t5::test::expect_error([&] { load("hot_v1_1", std::nullopt, {.fp16_scales = path}); }, t5::ErrorCode::InvalidArgument, "are for an F16 model");
}

BOOST_AUTO_TEST_SUITE_END()
