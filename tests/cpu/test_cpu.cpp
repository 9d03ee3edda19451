// The CPU pipeline's own guarantees, beyond agreement with the HF goldens (tests/parity):
// exact relative-position buckets, packed documents, cached decoding equal to teacher forcing,
// no allocation per decode step, and clear errors for bad calls.
#define BOOST_TEST_MODULE t5cc cpu
#include <boost/test/unit_test.hpp>

#include <cmath>
#include <random>
#include <string>
#include <vector>

#include "allocation_counter.hpp"
#include "expect_error.hpp"
#include "goldens.hpp"
#include "print.hpp"
#include "synthetic_checkpoint.hpp"
#include "temp_dir.hpp"
#include "t5/cpu/backend.hpp"
#include "t5/load.hpp"
#include "t5/model.hpp"
#include "t5/model/relative_position.hpp"

namespace {

using t5::test::compare;
using t5::test::expect_error;
using t5::test::test_data;

std::unique_ptr<t5::AnyModel> load(const std::string& fixture) { return t5::load(test_data() / fixture, {.threads = 2}); }

/// Three rows of different lengths (each ending with EOS), right-padded.
t5::TokenBatch sample_input(std::int64_t vocab) {
  std::vector<std::vector<std::int32_t>> rows;
  for (int len : {7, 3, 12}) {
    std::vector<std::int32_t> r;
    for (int i = 0; i < len - 1; ++i) r.push_back(static_cast<std::int32_t>(3 + (i * 37 + len * 11) % (vocab - 3)));
    r.push_back(1);
    rows.push_back(r);
  }
  return t5::TokenBatch::from_rows(rows, 0);
}


}  // namespace

BOOST_AUTO_TEST_SUITE(buckets)

// HF's own T5Attention._relative_position_bucket for distances -300..300 (make_fixtures.py).
BOOST_AUTO_TEST_CASE(equal_hf_tables_exactly) {
  const t5::test::Goldens tables(test_data() / "relative_buckets.safetensors");
  const auto rel = tables.ints("relative_position");
  BOOST_TEST_REQUIRE(rel.size() == 601u);
  for (const auto& [nb, md] : std::vector<std::pair<int, int>>{{32, 128}, {16, 24}}) {
    for (const bool bidirectional : {true, false}) {
      const std::string name = std::string(bidirectional ? "bidirectional_" : "causal_") + std::to_string(nb) + "_" + std::to_string(md);
      BOOST_TEST_CONTEXT(name) {
        const auto golden = tables.ints(name);
        const t5::RelativeBuckets table(bidirectional, nb, md);
        std::vector<std::int64_t> direct, looked_up;
        for (const auto r : rel) {
          direct.push_back(t5::relative_position_bucket(r, bidirectional, nb, md));
          looked_up.push_back(table(r));
        }
        BOOST_TEST(direct == golden, boost::test_tools::per_element());
        BOOST_TEST(looked_up == golden, boost::test_tools::per_element());
      }
    }
  }
}

// The table clamps distances beyond its reach: they must share the last bucket of their side.
BOOST_AUTO_TEST_CASE(clamping_beyond_the_table_is_exact) {
  for (const auto& [nb, md] : std::vector<std::pair<int, int>>{{32, 128}, {16, 24}, {8, 5}, {64, 256}}) {
    for (const bool bidirectional : {true, false}) {
      const t5::RelativeBuckets table(bidirectional, nb, md);
      for (const std::int64_t r : {-100000, -5000, -4 * md - 1, 4 * md + 1, 5000, 100000})
        BOOST_TEST(table(r) == t5::relative_position_bucket(r, bidirectional, nb, md), "nb " << nb << " md " << md << " rel " << r);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(attention)

namespace {

/// The attention contract of core/ops.hpp evaluated in double, one (row, head, query) at a time.
std::vector<double> naive_attention(const t5::AttentionArgs<float, t5::HostSpace>& a) {
  std::vector<double> out(static_cast<std::size_t>(a.batch * a.q_len * a.heads * a.head_dim), 0.0);
  for (std::int64_t b = 0; b < a.batch; ++b)
    for (std::int64_t h = 0; h < a.heads; ++h)
      for (std::int64_t i = 0; i < a.q_len; ++i) {
        const std::int64_t pos = a.q_position + i;
        std::vector<double> w(static_cast<std::size_t>(a.kv_len), 0.0);
        double max = -INFINITY, sum = 0;
        for (std::int64_t j = 0; j < a.kv_len; ++j) {
          const bool visible = (!a.key_mask || a.key_mask[b * a.key_mask_ld + j]) && (!a.causal || j <= pos) &&
                               (!a.documents || a.documents[b * a.q_len + j] == a.documents[b * a.q_len + i]);
          if (!visible) { w[static_cast<std::size_t>(j)] = -INFINITY; continue; }
          double s = 0;
          for (std::int64_t d = 0; d < a.head_dim; ++d) s += double(a.q.row(b * a.q_len + i)[h * a.head_dim + d]) * a.k.row(b * a.kv_rows + j)[h * a.head_dim + d];
          s *= a.scale;
          if (a.bias.table) s += a.bias.table[t5::relative_position_bucket(j - pos, !a.causal, 8, 20) * a.heads + h];
          w[static_cast<std::size_t>(j)] = s;
          max = std::max(max, s);
        }
        if (max == -INFINITY) continue;
        for (auto& x : w) { x = x == -INFINITY ? 0 : std::exp(x - max); sum += x; }
        for (std::int64_t j = 0; j < a.kv_len; ++j)
          for (std::int64_t d = 0; d < a.head_dim; ++d)
            out[static_cast<std::size_t>((b * a.q_len + i) * a.heads * a.head_dim + h * a.head_dim + d)] +=
                w[static_cast<std::size_t>(j)] / sum * a.v.row(b * a.kv_rows + j)[h * a.head_dim + d];
      }
  return out;
}

}  // namespace

// cpu::Backend::attention against the contract evaluated in double: padding anywhere, packed
// documents, causal queries behind a cache, bias through the bucket table, a row with no visible
// key (zeros), on sizes that are not multiples of the 64-query block.
BOOST_AUTO_TEST_CASE(backend_attention_equals_the_contract_in_double) {
  t5::cpu::Backend<float> backend(2);
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  const t5::RelativeBuckets bidirectional(true, 8, 20), causal(false, 8, 20);
  for (const bool is_causal : {false, true}) {
    for (const std::int64_t q_len : {1, 5, 70, 131}) {
      const std::int64_t batch = 3, heads = 2, d = 6, kv_rows = is_causal ? q_len + 9 : q_len;
      const std::int64_t kv_len = is_causal ? q_len + 4 : q_len, inner = heads * d;
      std::vector<float> q(static_cast<std::size_t>(batch * q_len * inner)), kv(static_cast<std::size_t>(batch * kv_rows * 2 * inner));
      std::vector<float> table(8 * heads), out(q.size(), NAN);
      for (auto* v : {&q, &kv, &table}) for (auto& x : *v) x = normal(rng);
      std::vector<std::uint8_t> mask(static_cast<std::size_t>(batch * kv_rows), 1);
      for (std::int64_t j = 0; j < kv_len; ++j) mask[static_cast<std::size_t>(kv_rows + j)] = (j % 3) != 1;  // row 1: holes
      for (std::int64_t j = 0; j < kv_rows; ++j) mask[static_cast<std::size_t>(2 * kv_rows + j)] = 0;        // row 2: none visible
      std::vector<std::int32_t> docs(static_cast<std::size_t>(batch * q_len));
      for (std::size_t i = 0; i < docs.size(); ++i) docs[i] = static_cast<std::int32_t>((i % static_cast<std::size_t>(q_len)) * 3 / static_cast<std::size_t>(q_len));
      t5::AttentionArgs<float, t5::HostSpace> a;
      a.q = t5::ConstMatrixView<float>(q.data(), batch * q_len, inner);
      a.k = t5::ConstMatrixView<float>(kv.data(), batch * kv_rows, inner, 2 * inner);
      a.v = t5::ConstMatrixView<float>(kv.data() + inner, batch * kv_rows, inner, 2 * inner);
      a.out = t5::MatrixView<float>(out.data(), batch * q_len, inner);
      a.batch = batch;
      a.q_len = q_len;
      a.kv_rows = kv_rows;
      a.kv_len = kv_len;
      a.heads = heads;
      a.head_dim = d;
      a.q_position = kv_len - q_len;
      a.scale = 0.5f;
      a.causal = is_causal;
      a.key_mask = mask.data();
      a.key_mask_ld = kv_rows;
      a.documents = is_causal ? nullptr : docs.data();
      const auto& buckets = is_causal ? causal : bidirectional;
      a.bias = {table.data(), buckets.table().data(), buckets.reach()};
      backend.attention(a);
      const auto expected = naive_attention(a);
      BOOST_TEST_CONTEXT((is_causal ? "causal" : "bidirectional") << " q_len " << q_len) {
        double worst = 0;
        for (std::size_t i = 0; i < out.size(); ++i) worst = std::max(worst, std::abs(out[i] - expected[i]));
        BOOST_TEST(worst <= 1e-5);  // float32 sums of a few hundred O(1) terms
        for (std::size_t i = static_cast<std::size_t>(2 * q_len * inner); i < out.size(); ++i) BOOST_TEST_REQUIRE(out[i] == 0.0f);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(packing)

// Documents packed into one row, with per-token document ids, give each document's values as if
// it ran alone: attention never crosses documents, and the bias depends only on j - i.
BOOST_AUTO_TEST_CASE(packed_documents_equal_documents_alone) {
  for (const std::string fixture : {"v1_1_gated", "umt5", "v1_0_tied"}) {
    BOOST_TEST_CONTEXT(fixture) {
      auto model = load(fixture);
      const auto docs = sample_input(model->hparams().vocab_size);
      t5::TokenBatch packed;
      packed.batch = 1;
      std::vector<std::int64_t> offsets;
      for (std::int64_t b = 0; b < docs.batch; ++b) {
        const auto doc = t5::test::row_alone(docs, b);
        offsets.push_back(packed.length);
        packed.ids.insert(packed.ids.end(), doc.ids.begin(), doc.ids.end());
        packed.documents.insert(packed.documents.end(), doc.ids.size(), static_cast<std::int32_t>(b));
        packed.length += doc.length;
      }
      for (int pad = 0; pad < 4; ++pad) {  // trailing padding, in a document of its own
        packed.ids.push_back(0);
        packed.documents.push_back(99);
        ++packed.length;
      }
      packed.mask.assign(packed.ids.size(), 1);
      std::fill(packed.mask.end() - 4, packed.mask.end(), 0);
      const auto together = model->encode(packed);
      for (std::int64_t b = 0; b < docs.batch; ++b) {
        const auto alone = model->encode(t5::test::row_alone(docs, b));
        std::vector<float> part(together.values.begin() + offsets[static_cast<std::size_t>(b)] * together.shape[2],
                                together.values.begin() + (offsets[static_cast<std::size_t>(b)] + alone.shape[1]) * together.shape[2]);
        const auto agreement = compare(part, alone.values);
        BOOST_TEST(agreement.ok(), "document " << b << ": " << agreement);
      }
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(decoding)

// Each step of cached greedy decoding equals the teacher-forced logits of the tokens it fed, at
// every position; the buckets fixture runs past max_distance so the far buckets are exercised.
BOOST_AUTO_TEST_CASE(cached_steps_equal_teacher_forcing) {
  for (const std::string fixture : {"buckets", "v1_0_tied", "umt5", "scale_qk"}) {
    BOOST_TEST_CONTEXT(fixture) {
      auto model = load(fixture);
      const auto& h = model->hparams();
      const auto input = sample_input(h.vocab_size);
      const std::int64_t steps = h.max_distance + 12;
      std::vector<float> step_logits;
      t5::GenerationOptions options;
      options.max_new_tokens = steps;
      options.on_logits = [&](std::int64_t, std::span<const float> logits) { step_logits.insert(step_logits.end(), logits.begin(), logits.end()); };
      const auto rows = model->generate(input, options).token_rows();
      const auto taken = static_cast<std::int64_t>(step_logits.size()) / (input.batch * h.vocab_size);

      // The decoder input the loop fed: start token, then each row's tokens, pad after its EOS.
      std::vector<std::vector<std::int32_t>> fed;
      for (const auto& r : rows) {
        std::vector<std::int32_t> f{static_cast<std::int32_t>(h.decoder_start_id)};
        for (std::int64_t t = 0; t + 1 < taken; ++t)
          f.push_back(t < static_cast<std::int64_t>(r.size()) ? r[static_cast<std::size_t>(t)] : static_cast<std::int32_t>(h.pad_id));
        fed.push_back(f);
      }
      auto decoder_input = t5::TokenBatch::from_rows(fed, 0);
      decoder_input.mask.clear();  // generation attends to every fed token, pads included
      const auto forced = model->logits(input, decoder_input);
      BOOST_TEST_REQUIRE(forced.shape[1] == taken);
      for (std::int64_t t = 0; t < taken; ++t) {
        std::vector<float> cached, teacher;
        for (std::int64_t b = 0; b < input.batch; ++b)
          for (std::int64_t v = 0; v < h.vocab_size; ++v) {
            cached.push_back(step_logits[static_cast<std::size_t>((t * input.batch + b) * h.vocab_size + v)]);
            teacher.push_back(forced.at(b, t, v));
          }
        const auto agreement = compare(cached, teacher);
        BOOST_TEST(agreement.ok(), "step " << t << ": " << agreement);
      }
      BOOST_TEST(taken >= std::min<std::int64_t>(steps, 2));
    }
  }
}

// Everything the decode loop needs is allocated before its first step: a longer generation makes
// exactly as many heap allocations as a short one (counting operator new and malloc, Eigen's too),
// for every search: the caches, the beam hypotheses and the sampling scratch are allocated once.
BOOST_AUTO_TEST_CASE(no_allocation_per_step) {
  auto model = load("v1_1_gated");
  const auto input = sample_input(model->hparams().vocab_size);
  struct Search {
    const char* name;
    t5::GenerationOptions options;
  };
  std::vector<Search> searches(4);
  searches[0].name = "greedy";
  searches[1].name = "greedy with processors and scores";
  searches[1].options.repetition_penalty = 1.3f;
  searches[1].options.no_repeat_ngram_size = 2;
  searches[1].options.output_scores = true;
  searches[2].name = "sampling, top-p, 2 per input";
  searches[2].options.do_sample = true;
  searches[2].options.top_p = 0.9f;
  searches[2].options.num_return_sequences = 2;
  searches[3].name = "beam search, 16 beams (48 rows), 2 returned";
  searches[3].options.num_beams = 16;
  searches[3].options.num_return_sequences = 2;
  searches[3].options.early_stopping = t5::EarlyStopping::Never;
  for (auto& [name, options] : searches) {
    BOOST_TEST_CONTEXT(name) {
      auto count = [&](std::int64_t steps, std::int64_t& taken) {
        options.max_new_tokens = steps;
        options.min_new_tokens = steps;  // every run takes all its steps
        const std::int64_t before = t5::test::allocations();
        const auto generated = model->generate(input, options);
        const std::int64_t after = t5::test::allocations();
        taken = generated.steps;
        return after - before;
      };
      std::int64_t short_steps = 0, long_steps = 0;
      count(40, long_steps);  // warm-up: first-use allocations of the OpenMP runtime
      const auto short_run = count(3, short_steps);
      const auto long_run = count(40, long_steps);
      BOOST_TEST_MESSAGE(name << ": allocations: " << short_run << " for " << short_steps << " steps, " << long_run << " for " << long_steps
                              << " steps");
      BOOST_TEST_REQUIRE(long_steps == 40);
      BOOST_TEST(short_run > 0);  // the counter does count this code's allocations
      BOOST_TEST(long_run == short_run);
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(model_api)

BOOST_AUTO_TEST_CASE(thread_count_does_not_change_results) {
  auto one = t5::load(test_data() / "mt5", {.threads = 1});
  auto two = t5::load(test_data() / "mt5", {.threads = 2});
  const auto input = sample_input(one->hparams().vocab_size);
  const auto agreement = compare(one->encode(input).values, two->encode(input).values);
  BOOST_TEST(agreement.ok(), agreement);
  t5::GenerationOptions options;
  options.max_new_tokens = 10;
  BOOST_CHECK(one->generate(input, options).token_rows() == two->generate(input, options).token_rows());
}

BOOST_AUTO_TEST_CASE(compile_time_model_equals_runtime_selection) {
  auto runtime = load("mt5");
  auto typed = t5::Model<t5::v1_1>::load(test_data() / "mt5", {.threads = 2});
  const auto input = sample_input(typed.hparams().vocab_size);
  BOOST_TEST(typed.encode(input).values == runtime->encode(input).values);
}

BOOST_AUTO_TEST_CASE(bad_calls_are_clear_errors) {
  auto model = load("v1_0_tied");
  const auto& h = model->hparams();
  auto input = sample_input(h.vocab_size);
  expect_error([&] { t5::Model<t5::v1_1>::load(test_data() / "v1_0_tied"); }, t5::ErrorCode::UnsupportedVariant, "this Model type is ffn gated-gelu");
  expect_error([&] { t5::Model<t5::v1_1>::load(test_data() / "umt5"); }, t5::ErrorCode::UnsupportedVariant, "position_bias per-layer");

  auto bad = input;
  bad.ids[4] = static_cast<std::int32_t>(h.vocab_size);
  expect_error([&] { model->encode(bad); }, t5::ErrorCode::InvalidArgument, "token id 320 at row 0, position 4");
  bad = input;
  bad.ids[2] = -1;
  expect_error([&] { model->encode(bad); }, t5::ErrorCode::InvalidArgument, "outside the vocabulary");
  bad = input;
  bad.mask.pop_back();
  expect_error([&] { model->encode(bad); }, t5::ErrorCode::InvalidArgument, "mask has");
  bad = input;
  bad.mask[0] = 2;
  expect_error([&] { model->encode(bad); }, t5::ErrorCode::InvalidArgument, "0 or 1");
  expect_error([&] { model->encode(t5::TokenBatch{}); }, t5::ErrorCode::InvalidArgument, "empty batch");

  auto decoder = t5::TokenBatch::from_rows({{0, 5}, {0, 6}}, 0);
  expect_error([&] { model->logits(input, decoder); }, t5::ErrorCode::InvalidArgument, "decoder input has 2 rows, the input 3");
  t5::GenerationOptions options;
  options.max_new_tokens = 0;
  expect_error([&] { model->generate(input, options); }, t5::ErrorCode::InvalidArgument, "max_new_tokens must be in [1, 16777216], found 0");
}

// An encoder-only checkpoint (how diffusion text encoders ship) encodes exactly as the full model
// with the same encoder tensors, and refuses decoder calls; for variants outside the HF fixtures too.
BOOST_AUTO_TEST_CASE(encoder_only_checkpoints) {
  using erf_gelu = t5::Variant<t5::Ffn::GatedGelu, t5::GeluApprox::Erf, t5::PositionBias::Shared, t5::AttnScale::Off, t5::LmHead::Untied>;
  const t5::test::TempDir tmp;
  for (const auto& policies : {t5::v1_1::policies, t5::umt5::policies, erf_gelu::policies}) {
    t5::test::SyntheticModel m;
    m.policies = policies;
    t5::test::write_checkpoint(tmp.path() / "full", m);
    m.encoder_only = true;
    t5::test::write_checkpoint(tmp.path() / "encoder", m);
    auto full = t5::load(tmp.path() / "full", {.threads = 2});
    auto encoder = t5::load(tmp.path() / "encoder", {.threads = 2});
    BOOST_TEST(full->has_decoder());
    BOOST_TEST(!encoder->has_decoder());
    const auto input = sample_input(m.hparams.vocab_size);
    BOOST_TEST(encoder->encode(input).values == full->encode(input).values);
    expect_error([&] { encoder->logits(input, input); }, t5::ErrorCode::InvalidArgument, "holds only an encoder");
    expect_error([&] { encoder->generate(input); }, t5::ErrorCode::InvalidArgument, "holds only an encoder");
    std::filesystem::remove_all(tmp.path() / "full");
    std::filesystem::remove_all(tmp.path() / "encoder");
  }
}

// An input row that is all padding has no visible key: its outputs are defined (attention gives
// zeros), finite, and the other rows are unaffected.
BOOST_AUTO_TEST_CASE(a_fully_padded_row_is_finite_and_isolated) {
  auto model = load("v1_1_gated");
  auto input = sample_input(model->hparams().vocab_size);
  const auto reference = model->encode(input);
  std::fill(input.mask.begin(), input.mask.begin() + input.length, 0);
  const auto states = model->encode(input);
  for (const float v : states.values) BOOST_TEST_REQUIRE(std::isfinite(v));
  for (std::int64_t b = 1; b < input.batch; ++b)
    BOOST_TEST(t5::test::slice(states, b, input.length) == t5::test::slice(reference, b, input.length));
}

BOOST_AUTO_TEST_SUITE_END()
