// Generation beyond the HF goldens (tests/parity checks those): the sampling stream and its
// distribution, the logits processors on hand-made rows, and the search guarantees on a model:
// degenerate sampling equals greedy, seeds reproduce, a row gives the same result alone and in a
// ragged batch, for greedy, sampling and beam search.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cmath>
#include <map>
#include <numeric>
#include <vector>

#include "goldens.hpp"
#include "print.hpp"
#include "t5/cpu/sampling.hpp"
#include "t5/generation/scores.hpp"
#include "t5/model.hpp"

namespace {

using t5::test::test_data;

/// Upper critical values of the chi-square distribution at p = 0.001, for 1..10 degrees of freedom
/// (NIST/SEMATECH e-Handbook of Statistical Methods, table 1.3.6.7.4).
constexpr double chi_square_critical_0_001[] = {10.828, 13.816, 16.266, 18.467, 20.515, 22.458,
                                                24.322, 26.124, 27.877, 29.588, 31.264, 32.909};

/// Fixed logits with well separated probabilities (no top-k or top-p boundary is near a tie).
const std::vector<float> logits = {1.0f, -0.5f, 2.2f, 0.3f, -2.0f, 1.7f, 0.9f, -1.1f, 2.9f, 0.0f, -0.8f, 1.3f};

/// softmax(logits / T) over the top-k tokens, then the smallest most likely prefix reaching top_p,
/// renormalised: the sampling distribution written from its definition, in double.
std::map<int, double> expected_distribution(double temperature, int top_k, double top_p) {
  std::vector<int> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [](int a, int b) { return logits[a] > logits[b]; });
  if (top_k > 0) order.resize(static_cast<std::size_t>(std::min<int>(top_k, static_cast<int>(order.size()))));
  std::vector<double> p;
  for (int i : order) p.push_back(std::exp(logits[i] / temperature));
  double total = std::accumulate(p.begin(), p.end(), 0.0);
  std::size_t kept = 0;
  for (double cumulative = 0.0; kept < p.size() && cumulative < top_p;) cumulative += p[kept++] / total;
  total = std::accumulate(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(kept), 0.0);
  std::map<int, double> out;
  for (std::size_t j = 0; j < kept; ++j) out[order[j]] = p[j] / total;
  return out;
}

std::unique_ptr<t5::Model<t5::v1_1>> v1_1() {
  return std::make_unique<t5::Model<t5::v1_1>>(t5::Model<t5::v1_1>::load(test_data() / "v1_1_gated", {.threads = 2}));
}

/// Four inputs of different lengths, each ending with EOS: the fixture's golden sentences (greedy
/// stops one of them at EOS early) and a row of arbitrary ids.
std::vector<std::vector<std::int32_t>> ragged_rows() {
  const t5::test::Goldens goldens(test_data() / "v1_1_gated" / "goldens.safetensors");
  const auto batch = goldens.batch("input_ids", "attention_mask");
  std::vector<std::vector<std::int32_t>> rows;
  for (std::int64_t b = 0; b < batch.batch; ++b) rows.push_back(t5::test::row_alone(batch, b).ids);
  rows.push_back({17, 45, 99, 3, 150, 8, 1});
  return rows;
}

t5::GenerationOptions sampled(std::uint64_t seed) {
  t5::GenerationOptions o;
  o.do_sample = true;
  o.top_k = 0;
  o.seed = seed;
  o.max_new_tokens = 24;
  return o;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(sampling)

// Random123's known-answer vectors for philox4x32_10 (kat_vectors in the Random123 distribution).
BOOST_AUTO_TEST_CASE(philox_known_answers) {
  BOOST_TEST((t5::philox4x32({0, 0, 0, 0}, {0, 0}) == t5::PhiloxCounter{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}));
  BOOST_TEST((t5::philox4x32({~0u, ~0u, ~0u, ~0u}, {~0u, ~0u}) == t5::PhiloxCounter{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}));
  BOOST_TEST((t5::philox4x32({0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, {0xa4093822, 0x299f31d0}) ==
              t5::PhiloxCounter{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}));
}

// 20000 draws (one per step of one stream) follow softmax(logits / T) restricted to the top-k /
// top-p set, by a chi-square test at p > 0.001, and never leave that set.
BOOST_AUTO_TEST_CASE(draws_follow_the_warped_softmax) {
  struct Case {
    float temperature;
    int top_k;
    float top_p;
  };
  for (const Case c : {Case{1.0f, 0, 1.0f}, Case{0.7f, 5, 1.0f}, Case{1.3f, 0, 0.8f}, Case{1.0f, 8, 0.9f}, Case{2.0f, 3, 1.0f}}) {
    BOOST_TEST_CONTEXT("temperature " << c.temperature << ", top_k " << c.top_k << ", top_p " << c.top_p) {
      t5::SampleArgs settings;
      settings.temperature = c.temperature;
      settings.top_k = c.top_k;
      settings.top_p = c.top_p;
      t5::SamplingWarpers warpers(static_cast<std::int64_t>(logits.size()));
      std::vector<float> scores = logits;
      warpers.apply(scores, settings);
      const auto expected = expected_distribution(c.temperature, c.top_k, c.top_p);
      for (std::size_t i = 0; i < scores.size(); ++i) BOOST_TEST((scores[i] != t5::minus_infinity) == expected.contains(static_cast<int>(i)));
      constexpr int draws = 20000;
      std::vector<int> counts(logits.size(), 0);
      for (int step = 0; step < draws; ++step) ++counts[static_cast<std::size_t>(t5::sample_token(scores, 42, 7, 0, step))];
      double chi2 = 0.0;
      for (std::size_t i = 0; i < counts.size(); ++i) {
        if (!expected.contains(static_cast<int>(i))) {
          BOOST_TEST(counts[i] == 0, "token " << i << " is outside the kept set");
          continue;
        }
        const double e = draws * expected.at(static_cast<int>(i));
        chi2 += (counts[i] - e) * (counts[i] - e) / e;
      }
      const std::size_t dof = expected.size() - 1;
      BOOST_TEST_MESSAGE("chi-square " << chi2 << " with " << dof << " degrees of freedom over " << expected.size() << " kept tokens");
      if (dof > 0) BOOST_TEST(chi2 < chi_square_critical_0_001[dof - 1]);
    }
  }
}

// The stream is a function of (seed, row key, sample number, step) only.
BOOST_AUTO_TEST_CASE(streams_are_keyed) {
  const std::vector<float> flat(64, 0.0f);
  auto draws = [&](std::uint64_t seed, std::uint64_t key, std::int64_t sample) {
    std::vector<std::int32_t> out;
    for (int step = 0; step < 32; ++step) out.push_back(t5::sample_token(flat, seed, key, sample, step));
    return out;
  };
  BOOST_TEST(draws(1, 2, 0) == draws(1, 2, 0));
  BOOST_TEST(draws(1, 2, 0) != draws(2, 2, 0));
  BOOST_TEST(draws(1, 2, 0) != draws(1, 3, 0));
  BOOST_TEST(draws(1, 2, 0) != draws(1, 2, 1));
  BOOST_TEST(draws(1, 2, 0) != draws(1, 2ull << 32, 0));  // the key's high word counts too
}

// The processors on a hand-made row, against values worked out from HF's definitions.
BOOST_AUTO_TEST_CASE(processors_follow_hf) {
  t5::GenerationOptions o;
  o.repetition_penalty = 2.0f;
  o.no_repeat_ngram_size = 2;
  o.min_new_tokens = 4;
  const std::vector<std::int32_t> eos = {1, 5};
  const t5::LogitsProcessors processors(o, eos);
  std::vector<float> scores = {1.0f, 2.0f, -3.0f, 4.0f, -1.0f, 0.5f, 6.0f, 8.0f};
  // history: start 0, then 3 7 2 3 (4 new tokens: EOS allowed again). Penalised once each: 0, 3, 7, 2.
  // Bigrams seen: (0,3) (3,7) (7,2) (2,3); the last token is 3, so 7 is banned.
  processors.apply(scores, std::vector<std::int32_t>{0, 3, 7, 2, 3});
  const std::vector<float> expected = {0.5f, 2.0f, -6.0f, 2.0f, -1.0f, 0.5f, 6.0f, t5::minus_infinity};
  BOOST_TEST(scores == expected, boost::test_tools::per_element());
  // Three new tokens: both EOS ids are still forbidden.
  std::vector<float> early = {1.0f, 2.0f, -3.0f, 4.0f, -1.0f, 0.5f, 6.0f, 8.0f};
  processors.apply(early, std::vector<std::int32_t>{0, 4, 6, 4});
  BOOST_TEST(early[1] == t5::minus_infinity);
  BOOST_TEST(early[5] == t5::minus_infinity);
  BOOST_TEST(early[4] == -2.0f);                 // penalised
  BOOST_TEST(early[6] == t5::minus_infinity);  // the bigram (4, 6) was seen and 4 is last
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(generation)

// Sampling that leaves one candidate is greedy search: top-k 1, a tiny top-p, a temperature near 0.
BOOST_AUTO_TEST_CASE(degenerate_sampling_is_greedy) {
  auto model = v1_1();
  const auto input = t5::TokenBatch::from_rows(ragged_rows(), 0);
  t5::GenerationOptions greedy;
  greedy.max_new_tokens = 24;
  const auto expected = model->generate(input, greedy).token_rows();
  auto top_k_1 = sampled(3), tiny_top_p = sampled(4), cold = sampled(5);
  top_k_1.top_k = 1;
  tiny_top_p.top_p = 1e-6f;
  cold.temperature = 1e-5f;  // greedy margins here exceed 1e-3: other tokens get probability < e^-100
  for (const auto& options : std::vector{top_k_1, tiny_top_p, cold}) BOOST_TEST(model->generate(input, options).token_rows() == expected);
}

BOOST_AUTO_TEST_CASE(seeds_reproduce_and_differ) {
  auto model = v1_1();
  const auto input = t5::TokenBatch::from_rows(ragged_rows(), 0);
  const auto a = model->generate(input, sampled(11)).token_rows();
  BOOST_TEST(model->generate(input, sampled(11)).token_rows() == a);
  BOOST_TEST(model->generate(input, sampled(12)).token_rows() != a);
  auto two = sampled(11);
  two.num_return_sequences = 2;
  const auto pairs = model->generate(input, two);
  std::size_t differ = 0;  // sample 1 is another stream (two samples may still agree, e.g. both stop at once)
  for (std::size_t i = 0; i < a.size(); ++i) {
    BOOST_TEST(pairs.at(static_cast<std::int64_t>(i), 0).tokens == a[i]);  // sample 0 of each input is the same stream
    differ += pairs.at(static_cast<std::int64_t>(i), 1).tokens != a[i];
  }
  BOOST_TEST(differ > 0u);
}

// The two places a draw can happen give the same tokens: the backend's sample op (plain sampling,
// the path the GPU takes) and the search on host logits (taken when scores are asked for), with
// top-k, top-p, temperature and two samples per input.
BOOST_AUTO_TEST_CASE(backend_draws_equal_host_draws) {
  auto model = v1_1();
  const auto input = t5::TokenBatch::from_rows(ragged_rows(), 0);
  auto o = sampled(5);
  o.top_k = 20;
  o.top_p = 0.9f;
  o.temperature = 1.3f;
  o.num_return_sequences = 2;
  const auto on_backend = model->generate(input, o).token_rows();
  o.output_scores = true;
  BOOST_TEST(model->generate(input, o).token_rows() == on_backend);
}

// Every input of a ragged batch gives what it gives alone, when it keeps its row key.
BOOST_AUTO_TEST_CASE(rows_alone_equal_rows_in_a_ragged_batch) {
  auto model = v1_1();
  const auto rows = ragged_rows();
  const auto batch = t5::TokenBatch::from_rows(rows, 0);
  t5::GenerationOptions greedy, beams, samples = sampled(99);
  greedy.max_new_tokens = 24;
  greedy.output_scores = true;
  beams.max_new_tokens = 24;
  beams.num_beams = 4;
  beams.num_return_sequences = 2;
  beams.length_penalty = 0.6f;
  samples.num_return_sequences = 2;
  samples.top_p = 0.9f;
  samples.output_scores = true;
  for (auto [name, options] : {std::pair{"greedy", greedy}, std::pair{"beam search", beams}, std::pair{"sampling", samples}}) {
    BOOST_TEST_CONTEXT(name) {
      const auto together = model->generate(batch, options);
      std::int64_t ended_early = 0;
      for (std::size_t i = 0; i < rows.size(); ++i) {
        auto alone_options = options;
        alone_options.row_keys = {i};
        const auto alone = model->generate(t5::TokenBatch::from_rows({rows[i]}, 0), alone_options);
        for (std::int64_t k = 0; k < together.per_input; ++k) {
          const auto& in_batch = together.at(static_cast<std::int64_t>(i), k);
          BOOST_TEST(alone.at(0, k).tokens == in_batch.tokens, "input " << i << ", sequence " << k);
          BOOST_TEST(std::abs(alone.at(0, k).score - in_batch.score) <= 1e-4f, "input " << i << ", sequence " << k);
          ended_early += static_cast<std::int64_t>(in_batch.tokens.size()) < options.max_new_tokens;
        }
      }
      BOOST_TEST_MESSAGE(name << ": " << ended_early << " of " << together.sequences.size() << " sequences ended before the limit");
    }
  }
}

// Beam search returns each input's hypotheses best first, and num_return_sequences of them.
BOOST_AUTO_TEST_CASE(beam_outputs_are_ranked) {
  auto model = v1_1();
  t5::GenerationOptions o;
  o.max_new_tokens = 16;
  o.num_beams = 5;
  o.num_return_sequences = 5;
  const auto out = model->generate(t5::TokenBatch::from_rows(ragged_rows(), 0), o);
  BOOST_TEST_REQUIRE(out.sequences.size() == 4u * 5u);
  for (std::int64_t i = 0; i < 4; ++i)
    for (std::int64_t k = 1; k < 5; ++k) BOOST_TEST(out.at(i, k - 1).score >= out.at(i, k).score);
}

BOOST_AUTO_TEST_CASE(streaming_sees_every_token) {
  auto model = v1_1();
  const auto input = t5::TokenBatch::from_rows(ragged_rows(), 0);
  auto o = sampled(5);
  std::vector<std::vector<std::int32_t>> streamed(4);
  std::int64_t calls = 0;
  o.on_token = [&](const t5::TokenStep& s) {
    BOOST_TEST(s.step == calls++);
    for (std::size_t r = 0; r < streamed.size(); ++r)
      if (s.emitted[r]) streamed[r].push_back(s.tokens[r]);
  };
  const auto out = model->generate(input, o);
  BOOST_TEST(streamed == out.token_rows());
  BOOST_TEST(calls == out.steps);
}

// Several EOS ids: a row ends at the first of any of them. A decoder start id: the first step's
// logits are those of teacher forcing from that token.
BOOST_AUTO_TEST_CASE(eos_ids_and_decoder_start) {
  auto model = v1_1();
  const auto input = t5::TokenBatch::from_rows(ragged_rows(), 0);
  t5::GenerationOptions o;
  o.max_new_tokens = 24;
  const auto plain = model->generate(input, o);
  const std::int32_t third = plain.at(3).tokens.at(2);  // input 3 runs long enough to have a third token
  o.eos_ids = {1, third};
  const auto stopped = model->generate(input, o);
  for (std::int64_t i = 0; i < 4; ++i) {
    const auto& full = plain.at(i).tokens;
    auto end = std::find_if(full.begin(), full.end(), [&](std::int32_t t) { return t == 1 || t == third; });
    const std::vector<std::int32_t> expected(full.begin(), end == full.end() ? end : end + 1);
    BOOST_TEST(stopped.at(i).tokens == expected, "input " << i);
  }
  BOOST_TEST(stopped.at(3).tokens.size() <= 3u);

  t5::GenerationOptions start;
  start.max_new_tokens = 1;
  start.decoder_start_id = 42;
  std::vector<float> first;
  start.on_logits = [&](std::int64_t, std::span<const float> logits) { first.assign(logits.begin(), logits.end()); };
  model->generate(input, start);
  const auto forced = model->logits(input, t5::TokenBatch::from_rows({{42}, {42}, {42}, {42}}, 0));
  const auto agreement = t5::test::compare(first, forced.values);
  BOOST_TEST(agreement.ok(), agreement);
}

// Beams share their input's cross-attention K/V: the K/V bytes held are the self-attention cache of
// every beam (and its reorder scratch), plus the cross-attention K/V of each input once.
BOOST_AUTO_TEST_CASE(beams_share_cross_attention) {
  auto model = v1_1();
  const auto input = t5::TokenBatch::from_rows(ragged_rows(), 0);
  const t5::Hparams& h = model->hparams();
  t5::GenerationOptions o;
  o.max_new_tokens = 10;
  o.num_beams = 3;
  const auto out = model->generate(input, o);
  const std::size_t row_bytes = static_cast<std::size_t>(2 * h.inner_dim()) * sizeof(float);
  const auto layers = static_cast<std::size_t>(h.num_decoder_layers);
  const auto beams = static_cast<std::size_t>(input.batch * o.num_beams * o.max_new_tokens);
  const std::size_t self = layers * beams * row_bytes, scratch = beams * row_bytes;
  const std::size_t cross = layers * static_cast<std::size_t>(input.batch * input.length) * row_bytes;
  BOOST_TEST(out.cache_bytes == self + scratch + cross);
}

BOOST_AUTO_TEST_CASE(bad_options_are_clear_errors) {
  auto model = v1_1();
  const auto input = t5::TokenBatch::from_rows(ragged_rows(), 0);
  auto expect = [&](const t5::GenerationOptions& o, const std::string& fragment) {
    try {
      model->generate(input, o);
      BOOST_ERROR("no error; expected \"" << fragment << "\"");
    } catch (const t5::Error& e) {
      BOOST_TEST(e.code() == t5::ErrorCode::InvalidArgument);
      BOOST_TEST(std::string(e.what()).find(fragment) != std::string::npos, e.what());
    }
  };
  t5::GenerationOptions o;
  o.min_new_tokens = 100;
  expect(o, "min_new_tokens must be in [0, max_new_tokens 64]");
  o = {};
  o.num_beams = 2;
  o.num_return_sequences = 3;
  expect(o, "num_return_sequences 3 exceeds num_beams 2");
  o = sampled(0);
  o.temperature = 0.0f;
  expect(o, "temperature must be > 0");
  o = sampled(0);
  o.top_p = 1.5f;
  expect(o, "top_p must be in (0, 1]");
  o = sampled(0);
  o.top_k = -1;
  expect(o, "top_k must be >= 0");
  o = {};
  o.num_return_sequences = 2;
  expect(o, "greedy search returns one sequence");
  o = {};
  o.row_keys = {1, 2};
  expect(o, "2 row_keys for 4 inputs");
  o = {};
  o.eos_ids = {100000};
  expect(o, "EOS id 100000 is outside the vocabulary");
}

BOOST_AUTO_TEST_SUITE_END()
