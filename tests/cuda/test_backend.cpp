// Every fixture of tests/data whole on the GPU (cuda::Backend in bf16 and f16, through t5::load) against
// HF's float32 goldens and the CPU reference: encoder states and teacher-forced logits within the
// dtype's bound, and generated tokens identical wherever the decision was not within the GPU's logit
// error. Also the bundled demo model's held-out set, and the beam-search / processor goldens.
#include <boost/test/unit_test.hpp>


#if T5CC_HAVE_CUDA
#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <set>
#include <string>
#include <vector>

#include "generate_cases.hpp"
#include "goldens.hpp"
#include "t5/load.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace {

const char* const fixture_names[] = {"v1_0_tied", "v1_1_gated", "mt5", "umt5", "buckets", "bf16", "sharded", "scale_qk"};

/// The bound of tests/support/goldens.hpp (low_precision_bound), with its reasoning there.
double states_bound(t5::DType d) { return t5::test::low_precision_bound(d); }
double logits_bound(t5::DType d) { return t5::test::low_precision_bound(d); }

const char* name(t5::DType d) { return d == t5::DType::BF16 ? "bf16" : "f16"; }

std::unique_ptr<t5::AnyModel> gpu_model(const std::filesystem::path& dir, t5::DType dtype) {
  t5::LoadOptions o;
  o.device = t5::Device::Cuda;
  o.dtype = dtype;
  return t5::load(dir, o);
}

/// The top-1 minus top-2 logit of a row.
float margin(std::span<const float> row) {
  float first = -std::numeric_limits<float>::infinity(), second = first;
  for (float v : row) {
    if (v > first) {
      second = first;
      first = v;
    } else if (v > second) {
      second = v;
    }
  }
  return first - second;
}

/// Token rows of a greedy golden [batch, 1 + steps] without the start token and the pad after EOS.
std::vector<std::vector<std::int32_t>> golden_rows(const t5::test::Goldens& g, std::int64_t pad, std::int64_t eos) {
  const auto shape = g.shape("generated_ids");
  const auto ids = g.ints("generated_ids");
  std::vector<std::vector<std::int32_t>> rows(static_cast<std::size_t>(shape[0]));
  for (std::int64_t b = 0; b < shape[0]; ++b) {
    bool ended = false;
    for (std::int64_t s = 1; s < shape[1] && !ended; ++s) {
      const auto t = ids[static_cast<std::size_t>(b * shape[1] + s)];
      rows[static_cast<std::size_t>(b)].push_back(static_cast<std::int32_t>(t));
      ended = t == eos;
    }
    (void)pad;
  }
  return rows;
}

void check_fixture(const std::string& fixture, t5::DType dtype) {
  const auto dir = t5::test::test_data() / fixture;
  const t5::test::Goldens goldens(dir / "goldens.safetensors");
  const auto input = goldens.batch("input_ids", "attention_mask");
  const auto decoder_input = goldens.batch("decoder_input_ids", "decoder_attention_mask");
  const auto cpu = t5::load(dir, {.threads = 2});
  const auto gpu = gpu_model(dir, dtype);
  const t5::Hparams& h = cpu->hparams();

  const auto states = t5::test::compare(gpu->encode(input).values, goldens.floats("encoder_last_hidden_state"));
  BOOST_TEST(states.normwise <= states_bound(dtype), "encoder states: " << states);
  const auto logits = t5::test::compare(gpu->logits(input, decoder_input).values, goldens.floats("logits"));
  BOOST_TEST(logits.normwise <= logits_bound(dtype), "logits: " << logits);
  const double logit_error = logits.max_abs_error;  // the largest logit error of this fixture and dtype

  // Greedy: the CPU reference (equal to HF within 1e-5) records each step's top-1/top-2 margin along
  // the golden path; the GPU must agree on every step up to the first margin within 4x the logit error.
  const auto steps = goldens.shape("generated_ids")[1] - 1;
  const auto expected = golden_rows(goldens, h.pad_id, h.eos_id);
  t5::GenerationOptions options;
  options.max_new_tokens = steps;
  std::vector<std::vector<float>> margins(static_cast<std::size_t>(input.batch));
  options.on_logits = [&](std::int64_t, std::span<const float> l) {
    for (std::int64_t b = 0; b < input.batch; ++b)
      margins[static_cast<std::size_t>(b)].push_back(margin(l.subspan(static_cast<std::size_t>(b * h.vocab_size), static_cast<std::size_t>(h.vocab_size))));
  };
  const auto cpu_rows = cpu->generate(input, options).token_rows();
  BOOST_TEST_REQUIRE(cpu_rows == expected, "the CPU reference must reproduce the greedy golden");
  options.on_logits = nullptr;
  const auto gpu_rows = gpu->generate(input, options).token_rows();
  std::int64_t compared = 0, skipped = 0;
  for (std::size_t b = 0; b < expected.size(); ++b) {
    std::size_t decided = 0;  // steps whose margin exceeds 4x the logit error, before the first that does not
    while (decided < expected[b].size() && margins[b][decided] > 4 * logit_error) ++decided;
    const std::vector<std::int32_t> want(expected[b].begin(), expected[b].begin() + static_cast<std::ptrdiff_t>(decided));
    const auto& got_row = gpu_rows[b];
    const std::vector<std::int32_t> got(got_row.begin(), got_row.begin() + static_cast<std::ptrdiff_t>(std::min(decided, got_row.size())));
    BOOST_TEST(got == want, "row " << b << ": the first " << decided << " tokens");
    if (decided == expected[b].size()) BOOST_TEST(got_row.size() == expected[b].size(), "row " << b << " ends where the golden ends");
    compared += static_cast<std::int64_t>(decided);
    skipped += static_cast<std::int64_t>(expected[b].size() - decided);
  }
  BOOST_TEST_MESSAGE(fixture << " " << name(dtype) << ": encoder states " << states << "; logits " << logits << "; greedy: " << compared
                             << " tokens compared, " << skipped << " after a step whose margin is within 4 x " << logit_error);

  // The generate.json goldens (beam search, early stopping, return counts, processors): a case is
  // compared when its smallest deciding gap (recorded by tools/make_fixtures.py) exceeds 4x the error
  // its decisions can carry.
  const std::set<std::string> with_generate = {"v1_0_tied", "v1_1_gated", "umt5"};
  if (!with_generate.contains(fixture)) return;
  const auto golden = t5::test::read_generate_goldens(dir / "generate.json");
  const auto batch = t5::test::generate_inputs(golden, static_cast<std::int32_t>(h.pad_id));
  int decided_cases = 0, close_cases = 0;
  for (const auto& c : golden.at("cases")) {
    const auto g = t5::test::generate_options(c.at("options"));
    const double gap = c.at("min_gap");
    const auto ours = gpu->generate(batch, g);
    const auto want = c.at("sequences").get<std::vector<std::vector<std::int32_t>>>();
    // A greedy step decides on one row's logits: 4x the logit error, as above. A beam decision compares
    // sums of log-probabilities over up to max_new_tokens steps, each off by up to twice the logit error.
    const double error = g.num_beams > 1 ? 2 * logit_error * static_cast<double>(g.max_new_tokens) : logit_error;
    if (gap <= 4 * error) {
      ++close_cases;
      continue;
    }
    ++decided_cases;
    BOOST_TEST_REQUIRE(ours.sequences.size() == want.size());
    for (std::size_t i = 0; i < want.size(); ++i)
      BOOST_TEST(ours.sequences[i].tokens == want[i], std::string(c.at("name")) << " sequence " << i);
  }
  BOOST_TEST_MESSAGE(fixture << " " << name(dtype) << " generate.json: " << decided_cases << " cases identical, " << close_cases
                             << " not compared (smallest gap within 4x the error its decisions carry)");
}

}  // namespace

BOOST_AUTO_TEST_SUITE(fixtures)

BOOST_AUTO_TEST_CASE(bfloat16) {
  for (const char* f : fixture_names) BOOST_TEST_CONTEXT(f << " bf16") { check_fixture(f, t5::DType::BF16); }
}

BOOST_AUTO_TEST_CASE(float16) {
  for (const char* f : fixture_names) BOOST_TEST_CONTEXT(f << " f16") { check_fixture(f, t5::DType::F16); }
}

// Sampling in the decode loop: the GPU's sample kernel (plain sampling) and the CPU's draw on the
// downloaded GPU logits (taken when scores are asked for) see the same logits, so they pick the same
// tokens (GPU decoding is deterministic; the draws differ only within ~1e-15 of a CDF boundary).
BOOST_AUTO_TEST_CASE(sampling_in_the_loop) {
  const auto dir = t5::test::test_data() / "v1_1_gated";
  const t5::test::Goldens goldens(dir / "goldens.safetensors");
  const auto input = goldens.batch("input_ids", "attention_mask");
  for (auto dtype : {t5::DType::BF16, t5::DType::F16}) {
    const auto gpu = gpu_model(dir, dtype);
    t5::GenerationOptions o;
    o.do_sample = true;
    o.seed = 5;
    o.top_k = 20;
    o.top_p = 0.9f;
    o.temperature = 1.3f;
    o.num_return_sequences = 2;
    o.max_new_tokens = 24;
    const auto in_kernel = gpu->generate(input, o).token_rows();
    o.output_scores = true;
    BOOST_TEST(gpu->generate(input, o).token_rows() == in_kernel, name(dtype));
  }
}

// The fixture compute-sanitizer runs (tools/gpu_check.sh): one v1.1 model whole, sequences <= 128.
BOOST_AUTO_TEST_CASE(sanitizer_case) { check_fixture("v1_1_gated", t5::DType::BF16); }

// The demo model's held-out numbers (every top-1/top-2 margin >= 14.4 in transformers): the GPU's
// greedy output and best beam (4 beams, the beam reorder on the GPU) equal the CPU's on every line,
// in both dtypes.
BOOST_AUTO_TEST_CASE(demo_heldout) {
  const char* demo = std::getenv("T5CC_DEMO_MODEL");
  BOOST_TEST_REQUIRE(demo != nullptr, "T5CC_DEMO_MODEL is not set (meson sets it)");
  const auto tokenizer = t5::Tokenizer::from_model_dir(demo);
  std::ifstream in(std::filesystem::path(demo) / "heldout.tsv");
  std::vector<std::vector<std::int32_t>> rows;
  for (std::string line; std::getline(in, line);) rows.push_back(tokenizer.encode(line.substr(0, line.find('\t'))));
  BOOST_TEST_REQUIRE(rows.size() >= 100u);
  const auto cpu = t5::load(demo, {.threads = 2});
  const auto batch = t5::TokenBatch::from_rows(rows, static_cast<std::int32_t>(cpu->hparams().pad_id));
  t5::GenerationOptions options;
  options.max_new_tokens = 48;
  t5::GenerationOptions beams = options;
  beams.num_beams = 4;
  for (const auto& o : {options, beams}) {
    const auto want = cpu->generate(batch, o).token_rows();
    for (auto dtype : {t5::DType::BF16, t5::DType::F16}) {
      const auto got = gpu_model(demo, dtype)->generate(batch, o).token_rows();
      std::size_t same = 0;
      for (std::size_t i = 0; i < want.size(); ++i) same += got[i] == want[i];
      BOOST_TEST(same == want.size(), name(dtype) << ", " << o.num_beams << " beam(s): " << same << " of " << want.size()
                                                  << " held-out lines equal the CPU's");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

#endif
