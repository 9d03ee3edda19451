// The t5cc tool as a user meets it: --help, usage errors (status 2), errors (status 1) with one
// line on stderr, and `inspect` on checkpoints the test writes.
#define BOOST_TEST_MODULE t5cc command-line tests
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <filesystem>
#include <string>

#include "run_command.hpp"
#include "synthetic_checkpoint.hpp"
#include "t5/t5.hpp"
#include "temp_dir.hpp"

namespace {

t5::test::CommandResult t5cc(std::vector<std::string> args) {
  args.insert(args.begin(), t5::test::t5cc_binary());
  return t5::test::run_command(args);
}

void expect_usage_error(const std::vector<std::string>& args) {
  const auto r = t5cc(args);
  BOOST_TEST(r.status == 2, r.err);
  BOOST_TEST(t5::test::line_count(r.err) == 1u, r.err);
  BOOST_TEST(r.err.find("usage error") != std::string::npos, r.err);
  BOOST_TEST(r.out.empty());
}

}  // namespace

BOOST_AUTO_TEST_SUITE(cli)

BOOST_AUTO_TEST_CASE(help_and_version) {
  const auto top = t5cc({"--help"});
  BOOST_TEST(top.status == 0);
  BOOST_TEST(top.out.find("inspect") != std::string::npos);
  const auto inspect = t5cc({"inspect", "--help"});
  BOOST_TEST(inspect.status == 0);
  BOOST_TEST(inspect.out.find("--model DIR") != std::string::npos);
  BOOST_TEST(t5cc({"--version"}).out.find("t5cc ") == 0u);
}

BOOST_AUTO_TEST_CASE(usage_errors_exit_2) {
  expect_usage_error({});
  expect_usage_error({"frobnicate"});
  expect_usage_error({"inspect"});
  expect_usage_error({"inspect", "--model"});
  expect_usage_error({"inspect", "--model="});
  expect_usage_error({"inspect", "--model", "a", "--model", "b"});
  expect_usage_error({"inspect", "--bogus", "x"});
  expect_usage_error({"inspect", "--model", "a", "extra"});
}

BOOST_AUTO_TEST_CASE(inspect_describes_a_checkpoint) {
  t5::test::TempDir dir;
  t5::test::SyntheticModel m;
  m.shards = 2;
  m.dtype = t5::DType::BF16;
  t5::test::write_checkpoint(dir.path(), m);
  for (const std::string& form : {"--model=" + dir.path().string(), std::string("--model")}) {
    std::vector<std::string> args{"inspect", form};
    if (form == "--model") args.push_back(dir.path().string());
    const auto r = t5cc(args);
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.err.empty());
    BOOST_TEST(r.out.find("v1_1") != std::string::npos);
    using Words = std::vector<std::string>;
    BOOST_TEST(t5::test::line_words(r.out, "d_model") == (Words{"d_model", "12"}), boost::test_tools::per_element());
    BOOST_TEST(t5::test::line_words(r.out, "d_kv") == (Words{"d_kv", "4"}), boost::test_tools::per_element());
    BOOST_TEST(t5::test::line_words(r.out, "num_decoder_layers") == (Words{"num_decoder_layers", "3"}), boost::test_tools::per_element());
    BOOST_TEST(r.out.find("2 shards") != std::string::npos);
    // One inventory line per tensor, with dtype, shape, bytes and the shard holding it.
    const std::string q = "encoder.block.0.layer.0.SelfAttention.q.weight";
    BOOST_TEST(t5::test::line_words(r.out, q) == (Words{q, "BF16", "[8,", "12]", "192", "model-00001-of-00002.safetensors"}),
               boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(inspect_errors_exit_1_with_one_line) {
  t5::test::TempDir dir;
  t5::test::write_checkpoint(dir.path(), t5::test::SyntheticModel{});
  std::filesystem::resize_file(dir / "model.safetensors", std::filesystem::file_size(dir / "model.safetensors") / 2);
  const auto truncated = t5cc({"inspect", "--model", dir.path().string()});
  BOOST_TEST(truncated.status == 1);
  BOOST_TEST(t5::test::line_count(truncated.err) == 1u, truncated.err);
  BOOST_TEST(truncated.err.find("model.safetensors") != std::string::npos, truncated.err);

  const auto missing = t5cc({"inspect", "--model", (dir / "absent").string()});
  BOOST_TEST(missing.status == 1);
  BOOST_TEST(missing.err.find("absent") != std::string::npos);
  BOOST_TEST(t5::test::line_count(missing.err) == 1u);
}

// examples/compile_time_model.cpp, the README's API example: it prints what the library computes
// for its batch, and refuses a checkpoint of another variant with one line.
BOOST_AUTO_TEST_CASE(compile_time_example) {
  const char* bin = std::getenv("T5CC_EXAMPLE_BIN");
  BOOST_TEST_REQUIRE(bin != nullptr, "T5CC_EXAMPLE_BIN is not set (meson sets it)");
  const std::filesystem::path data = std::getenv("T5CC_TEST_DATA");
  const auto ok = t5::test::run_command({bin, (data / "v1_1_gated").string()});
  BOOST_TEST_REQUIRE(ok.status == 0, ok.err);
  BOOST_TEST(t5::test::line_count(ok.out) == 3u, ok.out);
  BOOST_TEST(ok.out.find("encoder states [2, 5, 48]") == 0u, ok.out);

  auto model = t5::load(data / "v1_1_gated", {.threads = 1});
  t5::GreedyOptions options;
  options.max_new_tokens = 8;
  const auto rows = model->generate_greedy(t5::TokenBatch::from_rows({{5, 6, 7, 8, 1}, {9, 10, 1}}, 0), options);
  for (std::size_t r = 0; r < rows.size(); ++r) {
    std::string line = "row " + std::to_string(r) + " generated:";
    for (const auto id : rows[r]) line += " " + std::to_string(id);
    BOOST_TEST(ok.out.find(line + "\n") != std::string::npos, "expected \"" << line << "\" in\n" << ok.out);
  }

  const auto refused = t5::test::run_command({bin, (data / "v1_0_tied").string()});
  BOOST_TEST(refused.status == 1);
  BOOST_TEST(t5::test::line_count(refused.err) == 1u, refused.err);
  BOOST_TEST(refused.err.find("use t5::load") != std::string::npos, refused.err);
}

BOOST_AUTO_TEST_SUITE_END()
