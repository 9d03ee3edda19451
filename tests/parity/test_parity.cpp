// The CPU pipeline against HuggingFace transformers' float32 goldens (tools/make_fixtures.py), one
// fixture per run: `test_parity -- FIXTURE [DTYPE]` (meson registers parity/FIXTURE for each, and
// parity/bf16/FIXTURE, parity/int8/FIXTURE for the low-precision products, which run the encoder
// and logits cases only).
#define BOOST_TEST_MODULE t5cc parity
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "generate_cases.hpp"
#include "goldens.hpp"
#include "t5/load.hpp"

namespace {

using t5::test::compare;

/// The fixture named on the command line, its model and goldens, loaded once.
struct Fixture {
  std::string name;
  std::unique_ptr<t5::AnyModel> model;
  std::unique_ptr<t5::test::Goldens> goldens;
  t5::TokenBatch input;
  t5::TokenBatch decoder_input;
  std::int64_t steps = 0;
  t5::DType dtype = t5::DType::F32;

  static Fixture& get() {
    static Fixture f = [] {
      const auto& suite = boost::unit_test::framework::master_test_suite();
      BOOST_TEST_REQUIRE((suite.argc == 2 || suite.argc == 3), "usage: test_parity [boost options] -- FIXTURE [f32|bf16|int8]");
      Fixture f;
      f.name = suite.argv[1];
      const std::string dtype = suite.argc == 3 ? suite.argv[2] : "f32";
      f.dtype = dtype == "bf16" ? t5::DType::BF16 : dtype == "int8" ? t5::DType::I8 : t5::DType::F32;
      const auto dir = t5::test::test_data() / f.name;
      f.model = t5::load(dir, {.threads = 2, .dtype = f.dtype});
      f.goldens = std::make_unique<t5::test::Goldens>(dir / "goldens.safetensors");
      f.input = f.goldens->batch("input_ids", "attention_mask");
      f.decoder_input = f.goldens->batch("decoder_input_ids", "decoder_attention_mask");
      f.steps = f.goldens->shape("generated_ids")[1] - 1;
      return f;
    }();
    return f;
  }
};

/// The normwise bound of a low-precision run against the float32 goldens, {encoder states, logits}.
/// bf16: HF transformers' own error running the fixture wholly in bf16 (tools/hf_low_precision.py,
/// the table in docs/performance.md): t5cc rounds only the products' inputs and keeps activations
/// and the residual in float32, so it must not be worse. int8: 5%, from the quantisation step: each
/// product's inputs and weights carry up to 1/254 of their row's max |value| of error (about 2^-9
/// normwise for the model's near-Gaussian rows, each of them), compounded over the fixtures' 2-3
/// layers of 4-6 products and amplified by the softmax and GELU; CTranslate2's int8 on the benchmark
/// model (docs/performance.md) sits at the same scale.
std::pair<double, double> normwise_bound(const std::string& fixture, t5::DType dtype) {
  if (dtype == t5::DType::I8) return {5e-2, 5e-2};
  static const std::map<std::string, std::pair<double, double>> hf_bf16 = {
      {"v1_0_tied", {6.17e-3, 7.49e-3}}, {"v1_1_gated", {7.00e-3, 8.96e-3}}, {"mt5", {8.37e-3, 8.86e-3}}, {"umt5", {7.98e-3, 9.49e-3}},
      {"buckets", {8.94e-3, 9.53e-3}},   {"bf16", {6.44e-3, 8.49e-3}},       {"sharded", {6.90e-3, 9.89e-3}}};
  const auto it = hf_bf16.find(fixture);
  BOOST_TEST_REQUIRE((it != hf_bf16.end()), "no recorded HF bf16 error for fixture " << fixture);
  return it->second;
}

/// Float32: the exact agreement; bf16 and int8: the normwise bound of their case (0 encoder, 1 logits).
void check_agreement(const Fixture& f, const t5::test::Agreement& agreement, int which) {
  if (f.dtype == t5::DType::F32) {
    BOOST_TEST(agreement.ok(), agreement);
    return;
  }
  const auto [encoder, logits] = normwise_bound(f.name, f.dtype);
  const double bound = which == 0 ? encoder : logits;
  BOOST_TEST_MESSAGE(f.name << " " << t5::dtype_name(f.dtype) << ": normwise " << agreement.normwise << ", bound " << bound);
  BOOST_TEST((agreement.normwise <= bound && std::isfinite(agreement.max_abs_error)), agreement.normwise << " > " << bound);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(parity)

BOOST_AUTO_TEST_CASE(encoder_last_hidden_state) {
  auto& f = Fixture::get();
  const auto ours = f.model->encode(f.input);
  const auto agreement = compare(ours.values, f.goldens->floats("encoder_last_hidden_state"));
  BOOST_TEST_MESSAGE(f.name << " encoder states [" << f.input.batch << ", " << f.input.length << ", " << ours.shape[2] << "]: " << agreement);
  check_agreement(f, agreement, 0);
}

BOOST_AUTO_TEST_CASE(teacher_forced_logits) {
  auto& f = Fixture::get();
  const auto ours = f.model->logits(f.input, f.decoder_input);
  const auto agreement = compare(ours.values, f.goldens->floats("logits"));
  BOOST_TEST_MESSAGE(f.name << " logits [" << f.decoder_input.batch << ", " << f.decoder_input.length << ", " << ours.shape[2]
                            << "]: " << agreement);
  check_agreement(f, agreement, 1);
}

BOOST_AUTO_TEST_CASE(greedy_generation) {
  auto& f = Fixture::get();
  t5::GenerationOptions options;
  options.max_new_tokens = f.steps;
  const auto rows = f.model->generate(f.input, options).token_rows();
  auto golden = f.goldens->ints("generated_ids");  // [batch, 1 + steps], starting with the decoder start id
  std::vector<std::int64_t> expected;
  for (std::int64_t b = 0; b < f.input.batch; ++b) {
    BOOST_TEST(golden[static_cast<std::size_t>(b * (f.steps + 1))] == f.model->hparams().decoder_start_id);
    expected.insert(expected.end(), golden.begin() + b * (f.steps + 1) + 1, golden.begin() + (b + 1) * (f.steps + 1));
  }
  const auto ours = t5::test::padded(rows, f.steps, f.model->hparams().pad_id);
  BOOST_TEST(ours == expected, boost::test_tools::per_element());
  std::int64_t early = 0, full = 0;
  for (const auto& r : rows) (static_cast<std::int64_t>(r.size()) < f.steps ? early : full) += 1;
  BOOST_TEST_MESSAGE(f.name << " greedy: " << f.input.batch << " rows, " << f.steps << " steps, " << early << " stopped at EOS, " << full
                            << " ran to the limit");
}

// Padding must not change a row: each row alone (without its padding) gives the batch's values on
// its valid positions, and the same generated tokens.
BOOST_AUTO_TEST_CASE(padded_rows_equal_rows_alone) {
  auto& f = Fixture::get();
  const auto states = f.model->encode(f.input);
  const auto logits = f.model->logits(f.input, f.decoder_input);
  t5::GenerationOptions options;
  options.max_new_tokens = f.steps;
  const auto generated = f.model->generate(f.input, options).token_rows();
  for (std::int64_t b = 0; b < f.input.batch; ++b) {
    BOOST_TEST_CONTEXT("row " << b) {
      const auto input = t5::test::row_alone(f.input, b);
      const auto decoder_input = t5::test::row_alone(f.decoder_input, b);
      const auto enc = compare(f.model->encode(input).values, t5::test::slice(states, b, input.length));
      BOOST_TEST(enc.ok(), "encoder: " << enc);
      const auto dec = compare(f.model->logits(input, decoder_input).values, t5::test::slice(logits, b, decoder_input.length));
      BOOST_TEST(dec.ok(), "logits: " << dec);
      const auto alone = f.model->generate(input, options).at(0).tokens;
      BOOST_TEST(alone == generated[static_cast<std::size_t>(b)], boost::test_tools::per_element());
    }
  }
}

// transformers.generate on a ragged batch (generate.json, tools/make_fixtures.py): beam search over
// length penalties, early stopping modes and return counts, and the logits processors, with beams
// and greedy. The script checked that every step's deciding gap is >= 1e-4, so the token ids must be
// identical; sequence scores (sums of float32 log-probabilities over <= 30 steps) agree within 1e-4.
// Its own meson test (parity/generate/FIXTURE), registered for the fixtures that have the goldens.
BOOST_AUTO_TEST_CASE(generate_options) {
  auto& f = Fixture::get();
  const auto path = t5::test::test_data() / f.name / "generate.json";
  BOOST_TEST_REQUIRE(std::filesystem::exists(path), path.string() + " does not exist");
  const auto golden = t5::test::read_generate_goldens(path);
  const auto input = t5::test::generate_inputs(golden, static_cast<std::int32_t>(f.model->hparams().pad_id));
  for (const auto& c : golden.at("cases")) {
    auto options = t5::test::generate_options(c.at("options"));
    options.output_scores = true;
    const std::string name = c.at("name");
    BOOST_TEST_CONTEXT(f.name << " " << name) {
      const auto ours = f.model->generate(input, options);
      const auto expected = c.at("sequences").get<std::vector<std::vector<std::int32_t>>>();
      const auto scores = c.at("scores").get<std::vector<double>>();
      BOOST_TEST_REQUIRE(ours.sequences.size() == expected.size());
      double worst = 0.0;
      for (std::size_t i = 0; i < expected.size(); ++i) {
        BOOST_TEST(ours.sequences[i].tokens == expected[i], boost::test_tools::per_element());
        worst = std::max(worst, std::abs(static_cast<double>(ours.sequences[i].score) - scores[i]));
      }
      BOOST_TEST(worst <= 1e-4, "largest score difference " << worst);
      std::ostringstream lengths;
      for (const auto& s : ours.sequences) lengths << " " << s.tokens.size();
      BOOST_TEST_MESSAGE(f.name << " " << name << ": " << expected.size() << " sequences, lengths" << lengths.str() << ", steps " << ours.steps
                                << ", largest score difference " << worst);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
