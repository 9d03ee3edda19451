// The CPU pipeline against HuggingFace transformers' float32 goldens (tools/make_fixtures.py), one
// fixture per run: `test_parity -- FIXTURE` (meson registers parity/FIXTURE for each).
#define BOOST_TEST_MODULE t5cc parity
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
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

  static Fixture& get() {
    static Fixture f = [] {
      const auto& suite = boost::unit_test::framework::master_test_suite();
      BOOST_TEST_REQUIRE(suite.argc == 2, "usage: test_parity [boost options] -- FIXTURE");
      Fixture f;
      f.name = suite.argv[1];
      const auto dir = t5::test::test_data() / f.name;
      f.model = t5::load(dir, {.threads = 2});
      f.goldens = std::make_unique<t5::test::Goldens>(dir / "goldens.safetensors");
      f.input = f.goldens->batch("input_ids", "attention_mask");
      f.decoder_input = f.goldens->batch("decoder_input_ids", "decoder_attention_mask");
      f.steps = f.goldens->shape("generated_ids")[1] - 1;
      return f;
    }();
    return f;
  }
};

}  // namespace

BOOST_AUTO_TEST_SUITE(parity)

BOOST_AUTO_TEST_CASE(encoder_last_hidden_state) {
  auto& f = Fixture::get();
  const auto ours = f.model->encode(f.input);
  const auto agreement = compare(ours.values, f.goldens->floats("encoder_last_hidden_state"));
  BOOST_TEST_MESSAGE(f.name << " encoder states [" << f.input.batch << ", " << f.input.length << ", " << ours.shape[2] << "]: " << agreement);
  BOOST_TEST(agreement.ok(), agreement);
}

BOOST_AUTO_TEST_CASE(teacher_forced_logits) {
  auto& f = Fixture::get();
  const auto ours = f.model->logits(f.input, f.decoder_input);
  const auto agreement = compare(ours.values, f.goldens->floats("logits"));
  BOOST_TEST_MESSAGE(f.name << " logits [" << f.decoder_input.batch << ", " << f.decoder_input.length << ", " << ours.shape[2]
                            << "]: " << agreement);
  BOOST_TEST(agreement.ok(), agreement);
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
