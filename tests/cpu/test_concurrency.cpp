// One loaded model called from several threads at once (each call gets exactly its single-threaded
// result: the weights are shared, the scratch is per call), requests refused before they allocate
// what the machine does not have, and outputs holding NaN or Inf refused with the input row named.
// CI also runs the concurrency suite under ThreadSanitizer (tools/run_tests.sh, build-tsan).
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <optional>
#include <cmath>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include "expect_error.hpp"
#include "goldens.hpp"
#include "synthetic_checkpoint.hpp"
#include "temp_dir.hpp"
#include "t5/load.hpp"

namespace {

using t5::test::expect_error;
using t5::test::test_data;

/// Rows of `n` ids each (n from `lengths`), varied per seed, ending with EOS.
t5::TokenBatch rows_for(std::int64_t vocab, int seed, std::initializer_list<int> lengths) {
  std::vector<std::vector<std::int32_t>> rows;
  for (int len : lengths) {
    std::vector<std::int32_t> r;
    for (int i = 0; i < len - 1; ++i) r.push_back(static_cast<std::int32_t>(3 + (i * 37 + len * 11 + seed * 101) % (vocab - 3)));
    r.push_back(1);
    rows.push_back(r);
  }
  return t5::TokenBatch::from_rows(rows, 0);
}

/// One call of the mixed workload and what it returned: states, or generated token rows.
struct Call {
  t5::TokenBatch input;
  std::optional<t5::GenerationOptions> generate;  // unset: encode
};
using Result = std::variant<std::vector<float>, std::vector<std::vector<std::int32_t>>>;

Result run(t5::AnyModel& model, const Call& call) {
  if (!call.generate) return model.encode(call.input).values;
  return model.generate(call.input, *call.generate).token_rows();
}

/// Encodes, greedy, sampling and beam search over inputs of different shapes.
std::vector<Call> mixed_calls(std::int64_t vocab, int count) {
  std::vector<Call> calls;
  for (int i = 0; i < count; ++i) {
    Call c{rows_for(vocab, i, {3 + i % 5, 9, 2 + i % 3}), std::nullopt};
    if (i % 4 != 0) {
      t5::GenerationOptions o;
      o.max_new_tokens = 6 + i % 4;
      if (i % 4 == 2) o.do_sample = true, o.seed = static_cast<std::uint64_t>(i), o.top_k = 5;
      if (i % 4 == 3) o.num_beams = 3;
      c.generate = o;
    }
    calls.push_back(std::move(c));
  }
  return calls;
}


}  // namespace

BOOST_AUTO_TEST_SUITE(concurrency)

// 4 threads x 20 mixed calls on one model, against the same calls run one by one first. The
// threads start together and interleave their calls, so scratch shared between calls would show as
// a wrong result (before the backend pool, 9 of 30 concurrent encodes differed).
BOOST_AUTO_TEST_CASE(threads_share_one_model_and_get_single_threaded_results) {
  for (const char* fixture : {"v1_1_gated", "umt5"}) {
    BOOST_TEST_CONTEXT(fixture) {
      auto model = t5::load(test_data() / fixture, {.threads = 1});
      constexpr int threads = 4, per_thread = 20;
      const auto calls = mixed_calls(model->hparams().vocab_size, threads * per_thread);
      std::vector<Result> expected;
      for (const auto& c : calls) expected.push_back(run(*model, c));

      std::vector<Result> got(calls.size());
      std::vector<std::string> errors(threads);
      std::atomic<int> ready{0};
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t)
        pool.emplace_back([&, t] {
          ++ready;
          while (ready.load() < threads) std::this_thread::yield();
          try {
            for (int i = 0; i < per_thread; ++i) {
              const std::size_t k = static_cast<std::size_t>(i * threads + t);  // neighbours run the other kinds of call
              got[k] = run(*model, calls[k]);
            }
          } catch (const std::exception& e) {
            errors[static_cast<std::size_t>(t)] = e.what();
          }
        });
      for (auto& th : pool) th.join();
      for (int t = 0; t < threads; ++t) BOOST_TEST(errors[static_cast<std::size_t>(t)].empty(), "thread " << t << ": " << errors[t]);
      int differing = 0;
      for (std::size_t k = 0; k < calls.size(); ++k) differing += got[k] != expected[k];
      BOOST_TEST(differing == 0, differing << " of " << calls.size() << " concurrent calls differ from their single-threaded result");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(request_limits)

// Sizes whose products overflow, or whose working memory exceeds the machine's, are refused by the
// library before it allocates, with the amount needed (the CLI bounds its options further).
BOOST_AUTO_TEST_CASE(requests_that_cannot_fit_are_refused_up_front) {
  auto model = t5::load(test_data() / "v1_1_gated", {.threads = 1});
  const auto input = rows_for(model->hparams().vocab_size, 0, {5, 3});
  t5::GenerationOptions o;
  o.num_beams = std::int64_t{1} << 40;
  expect_error([&] { model->generate(input, o); }, t5::ErrorCode::InvalidArgument, "of working memory, more than the");
  o = {};
  o.do_sample = true;
  o.num_return_sequences = std::int64_t{1} << 62;
  expect_error([&] { model->generate(input, o); }, t5::ErrorCode::InvalidArgument, "more than 16 EiB");
  o = {};
  o.max_new_tokens = std::int64_t{1} << 24;
  o.num_beams = 4096;
  expect_error([&] { model->generate(input, o); }, t5::ErrorCode::InvalidArgument, "of working memory");
  o.max_new_tokens = (std::int64_t{1} << 24) + 1;
  expect_error([&] { model->generate(input, o); }, t5::ErrorCode::InvalidArgument, "max_new_tokens must be in [1, 16777216]");
  o.max_new_tokens = 0;
  expect_error([&] { model->generate(input, o); }, t5::ErrorCode::InvalidArgument, "max_new_tokens must be in [1, 16777216], found 0");

  expect_error([] { t5::TokenBatch::from_rows({{1, 2}}, 0, std::int64_t{1} << 40); }, t5::ErrorCode::InvalidArgument,
               "longer than the limit of 16777216");
  expect_error([] { t5::TokenBatch::from_rows(std::vector<std::vector<std::int32_t>>(1 << 14, {1}), 0, std::int64_t{1} << 24); },
               t5::ErrorCode::InvalidArgument, "more than this machine's");
  t5::TokenBatch lying{std::int64_t{1} << 62, 4, {1, 2, 3, 4}, {}, {}};  // batch x length overflows int64
  expect_error([&] { model->encode(lying); }, t5::ErrorCode::InvalidArgument, "4 ids for 4611686018427387904 x 4");
  // A request that fits still runs after the refusals (nothing was left half-allocated).
  BOOST_TEST(model->encode(input).values.size() == static_cast<std::size_t>(2 * 5 * model->hparams().d_model));
}

// Finite weights whose products overflow float32 (a final norm gain of 3e38) give infinite states
// and logits: an error naming the first such input row, never a result.
BOOST_AUTO_TEST_CASE(outputs_with_nan_or_inf_are_errors) {
  const t5::test::TempDir tmp;
  for (const std::string norm : {"encoder.final_layer_norm.weight", "decoder.final_layer_norm.weight"}) {
    t5::test::SyntheticModel m;
    m.edit = [&](const std::string& name, std::vector<float>& values) {
      if (name == norm) values.assign(values.size(), 3e38f);
    };
    const auto dir = tmp.path() / norm;
    t5::test::write_checkpoint(dir, m);
    auto model = t5::load(dir, {.threads = 1});
    const auto input = rows_for(model->hparams().vocab_size, 0, {5, 3});
    t5::GenerationOptions greedy, beams, sampled;
    beams.num_beams = 2;
    sampled.do_sample = true;
    if (norm.starts_with("encoder")) {
      expect_error([&] { model->encode(input); }, t5::ErrorCode::NonFinite, "encode: the encoder states of input row 0 hold NaN or Inf");
    } else {
      BOOST_TEST(model->encode(input).values.size() > 0u);
      for (const auto* o : {&greedy, &beams, &sampled})
        expect_error([&] { model->generate(input, *o); }, t5::ErrorCode::NonFinite, "generate: the logits of input row 0 hold NaN or Inf at step 0");
      expect_error([&] { model->logits(input, t5::TokenBatch::from_rows({{0, 4}, {0, 5}}, 0)); }, t5::ErrorCode::NonFinite,
                   "logits: the logits of input row 0 hold NaN or Inf");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
