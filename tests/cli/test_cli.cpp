// The t5cc tool as a user meets it: --help, usage errors (status 2), errors (status 1) with one
// line on stderr, and `inspect` on checkpoints the test writes.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>

#include "run_command.hpp"
#include "synthetic_checkpoint.hpp"
#include "goldens.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/load.hpp"
#include "t5/tokenizer/tokenizer.hpp"
#if T5CC_HAVE_CUDA
#include "t5/cuda/device.hpp"
#endif
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
  BOOST_TEST(top.out.find("greedy search, sampling or beam search") != std::string::npos);  // generate's line
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
  expect_usage_error({"inspect", "--model=", "x"});
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
  t5::GenerationOptions options;
  options.max_new_tokens = 8;
  const auto rows = model->generate(t5::TokenBatch::from_rows({{5, 6, 7, 8, 1}, {9, 10, 1}}, 0), options).token_rows();
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

namespace {

std::filesystem::path fixture(const std::string& name) { return std::filesystem::path(std::getenv("T5CC_TEST_DATA")) / name; }

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  for (std::size_t end; (end = text.find('\n', start)) != std::string::npos; start = end + 1) out.push_back(text.substr(start, end - start));
  return out;
}

void expect_error(const std::vector<std::string>& args, int status, const std::string& fragment) {
  const auto r = t5cc(args);
  BOOST_TEST(r.status == status, r.err);
  BOOST_TEST(t5::test::line_count(r.err) == 1u, r.err);
  BOOST_TEST(r.err.find(fragment) != std::string::npos, "expected \"" << fragment << "\" in: " << r.err);
}

}  // namespace

// tokenize prints Python sentencepiece's ids for the fixture texts (recorded in the goldens).
BOOST_AUTO_TEST_CASE(tokenize_on_a_fixture) {
  const auto dir = fixture("mt5").string();
  auto tok = t5::Tokenizer::from_model_dir(dir);
  const auto r = t5cc({"tokenize", "--model", dir, "The dog.", "A small bird sings."});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto lines = lines_of(r.out);
  BOOST_TEST_REQUIRE(lines.size() == 2u);
  std::string expected;
  for (const auto id : tok.encode("The dog.")) expected += (expected.empty() ? "" : " ") + std::to_string(id);
  BOOST_TEST(lines[0] == expected);
  BOOST_TEST(t5cc({"tokenize", "--model", dir, "--no-eos", ""}).out == "\n");  // an empty result is an empty line
  BOOST_TEST(t5cc({"tokenize", "--model", dir, "--pieces", "The"}).out.find("</s>\n") != std::string::npos);
  const auto hf = t5cc({"tokenize", "--spm", dir + "/spiece.model", "--mode=hf", "--", "--not-an-option"});
  BOOST_TEST(hf.status == 0, hf.err);
  BOOST_TEST(t5::test::line_count(hf.out) == 1u);
  // One input per line from stdin.
  const auto piped = t5::test::run_command({"/bin/bash", "-c", "printf 'The dog.\\nA small bird sings.\\n' | '" + t5::test::t5cc_binary() +
                                                                 "' tokenize --model '" + dir + "' --input -"});
  BOOST_TEST(piped.out == r.out);
}

// encode --out writes the documented tensors, equal to the library's encoder output; without
// --out one summary line per input.
BOOST_AUTO_TEST_CASE(encode_on_a_fixture) {
  const auto dir = fixture("v1_1_gated").string();
  t5::test::TempDir tmp;
  const auto file = (tmp / "states.safetensors").string();
  const auto r = t5cc({"encode", "--model", dir, "--pad-to", "16", "--out", file, "--threads", "1", "--batch-size", "2", "The dog.",
                       "A small bird sings.", "Today"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(r.out.empty());
  const t5::io::SafetensorsFile out(file);
  BOOST_TEST_REQUIRE(out.find("last_hidden_state") != nullptr);
  BOOST_TEST(out.find("last_hidden_state")->shape == (std::vector<std::int64_t>{3, 16, 48}));
  BOOST_TEST((out.find("attention_mask")->dtype == t5::DType::I64));
  BOOST_TEST(out.find("input_ids")->shape == (std::vector<std::int64_t>{3, 16}));

  const auto tok = t5::Tokenizer::from_model_dir(dir);
  auto model = t5::load(dir, {.threads = 1});
  const std::vector<std::string> texts = {"The dog.", "A small bird sings.", "Today"};
  t5::BatchOptions batching;
  batching.pad_to = 16;
  const auto expected = model->encode(tok.encode_batch(texts, batching));
  std::vector<float> written(expected.values.size());
  std::memcpy(written.data(), out.data(*out.find("last_hidden_state")).data(), written.size() * sizeof(float));
  BOOST_TEST(t5::test::compare(written, expected.values).ok());

  const auto summary = t5cc({"encode", "--model", dir, "--pool", "mean", "The dog.", "Today"});
  BOOST_TEST(summary.status == 0, summary.err);
  BOOST_TEST(t5::test::line_count(summary.out) == 2u, summary.out);
  BOOST_TEST(summary.out.find("input 2: ") != std::string::npos);
}

// generate prints exactly one line per input: the library's greedy tokens, decoded.
BOOST_AUTO_TEST_CASE(generate_on_a_fixture) {
  const auto dir = fixture("v1_1_gated").string();
  const std::vector<std::string> texts = {"The dog.", "A small bird sings near the river.", "Today"};
  const auto r = t5cc({"generate", "--model", dir, "--max-new-tokens", "12", "--show-input", texts[0], texts[1], texts[2]});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto tok = t5::Tokenizer::from_model_dir(dir);
  auto model = t5::load(dir, {.threads = 1});
  t5::GenerationOptions options;
  options.max_new_tokens = 12;
  const auto rows = model->generate(tok.encode_batch(texts), options).token_rows();
  const auto lines = lines_of(r.out);
  BOOST_TEST_REQUIRE(lines.size() == 3u, r.out);
  std::size_t at_limit = 0;
  for (std::size_t i = 0; i < 3; ++i) {
    BOOST_TEST(lines[i] == texts[i] + " -> " + tok.decode(rows[i]));
    at_limit += rows[i].back() != tok.eos_id();
  }
  // Reaching the limit warns on stderr only.
  BOOST_TEST((r.err.find("reached --max-new-tokens 12") != std::string::npos) == (at_limit > 0), r.err);
}

// The search options: K lines per input equal to the library's sequences; sampled outputs that do
// not depend on --batch-size (each input keeps its stream); --stream prints what a plain run prints.
BOOST_AUTO_TEST_CASE(generate_search_options) {
  const auto dir = fixture("v1_1_gated").string();
  const std::vector<std::string> texts = {"The dog.", "A small bird sings near the river.", "Today"};
  const auto tok = t5::Tokenizer::from_model_dir(dir);
  auto model = t5::load(dir, {.threads = 1});
  t5::GenerationOptions beams;
  beams.max_new_tokens = 12;
  beams.num_beams = 4;
  beams.num_return_sequences = 2;
  beams.length_penalty = 0.6f;
  beams.early_stopping = t5::EarlyStopping::Never;
  const auto expected = model->generate(tok.encode_batch(texts), beams);
  const auto r = t5cc({"generate", "--model", dir, "--max-new-tokens", "12", "--num-beams", "4", "--num-return-sequences", "2",
                       "--length-penalty", "0.6", "--early-stopping", "never", "--quiet", texts[0], texts[1], texts[2]});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  const auto lines = lines_of(r.out);
  BOOST_TEST_REQUIRE(lines.size() == 6u, r.out);
  for (std::size_t i = 0; i < 6; ++i) BOOST_TEST(lines[i] == tok.decode(expected.sequences[i].tokens));

  const std::vector<std::string> sample = {"generate", "--model", dir, "--do-sample", "--top-k", "0", "--temperature", "1.5",
                                           "--seed", "1234", "--num-return-sequences", "3", "--quiet", texts[0], texts[1], texts[2]};
  auto one_by_one = sample, together = sample;
  one_by_one.insert(one_by_one.end(), {"--batch-size", "1"});
  const auto a = t5cc(one_by_one), b = t5cc(together);
  BOOST_TEST_REQUIRE(a.status == 0, a.err);
  BOOST_TEST(lines_of(a.out).size() == 9u, a.out);
  BOOST_TEST(a.out == b.out);
  auto other_seed = sample;
  other_seed[9] = "4321";
  BOOST_TEST(t5cc(other_seed).out != a.out);

  const auto plain = t5cc({"generate", "--model", dir, "--max-new-tokens", "12", "--show-input", "--quiet", texts[0], texts[1], texts[2]});
  const auto streamed = t5cc({"generate", "--model", dir, "--max-new-tokens", "12", "--show-input", "--stream", texts[0], texts[1], texts[2]});
  BOOST_TEST_REQUIRE(streamed.status == 0, streamed.err);
  BOOST_TEST(streamed.out == plain.out);
}

BOOST_AUTO_TEST_CASE(generate_option_ranges_are_usage_errors) {
  const auto dir = fixture("v1_1_gated").string();
  auto usage = [&](std::vector<std::string> options, const std::string& fragment) {
    options.insert(options.begin(), {"generate", "--model", dir});
    options.push_back("x");
    expect_error(options, 2, fragment);
  };
  usage({"--do-sample", "--temperature", "0"}, "--temperature must be > 0");
  usage({"--do-sample", "--temperature", "-1"}, "--temperature must be > 0");
  usage({"--do-sample", "--top-p", "0"}, "--top-p must be in (0, 1]");
  usage({"--do-sample", "--top-p", "1.01"}, "--top-p must be in (0, 1]");
  usage({"--do-sample", "--top-k", "-1"}, "--top-k: needs an integer >= 0");
  usage({"--do-sample", "--top-k", "2.5"}, "--top-k: needs an integer >= 0");
  usage({"--num-beams", "2", "--num-return-sequences", "3"}, "--num-return-sequences 3 exceeds --num-beams 2");
  usage({"--min-new-tokens", "9", "--max-new-tokens", "8"}, "--min-new-tokens must be in [0, --max-new-tokens 8], found 9");
  usage({"--num-beams", "2", "--early-stopping", "sometimes"}, "true, false or never");
  usage({"--temperature", "0.5"}, "add --do-sample");
  usage({"--length-penalty", "2"}, "add --num-beams");
  usage({"--num-return-sequences", "2"}, "needs --do-sample or --num-beams");
  usage({"--num-beams", "2", "--do-sample"}, "beam sampling");
  usage({"--num-beams", "2", "--stream"}, "--stream does not work with beam search");
  usage({"--stream", "--batch-size", "4"}, "--batch-size 1");
  usage({"--do-sample", "--seed", "-3"}, "--seed: needs an integer in [0, 2^64)");
  usage({"--do-sample", "--seed", "18446744073709551616"}, "--seed: needs an integer in [0, 2^64)");
  usage({"--repetition-penalty", "0"}, "--repetition-penalty must be a finite number > 0");
  usage({"--repetition-penalty", "inf"}, "--repetition-penalty: needs a finite number");
  usage({"--no-repeat-ngram-size", "-2"}, "needs an integer >= 0");
}

BOOST_AUTO_TEST_CASE(encode_and_generate_errors) {
  const auto dir = fixture("v1_1_gated").string();
  t5::test::TempDir tmp;
  expect_error({"generate", "--model", (tmp / "absent").string(), "x"}, 1, "absent");
  std::filesystem::copy(dir, tmp / "corrupt");
  std::filesystem::resize_file(tmp / "corrupt" / "model.safetensors", 1000);
  expect_error({"generate", "--model", (tmp / "corrupt").string(), "x"}, 1, "model.safetensors");
  expect_error({"encode", "--model", dir, "--frobnicate", "x"}, 2, "not expected: --frobnicate");
  expect_error({"encode", "--model", dir, "--batch-size", "0", "x"}, 2, "--batch-size");
  expect_error({"generate", "--model", dir}, 2, "no input");
  expect_error({"generate", "--model", dir, "--input", (tmp / "nope.txt").string()}, 1, "nope.txt");
  expect_error({"encode", "--model", dir, "--pad-to", "3", "The dog sings."}, 1, "more than the padded length 3");
  expect_error({"generate", "--model", dir, "--device", "tpu", "x"}, 2, "cpu or cuda");
  // A failing encode --out leaves no file behind.
  const auto file = tmp / "out.safetensors";
  expect_error({"encode", "--model", dir, "--pad-to", "3", "--out", file.string(), "The dog sings."}, 1, "padded length");
  BOOST_TEST(!std::filesystem::exists(file));
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) BOOST_TEST(entry.path().filename() != "out.safetensors.tmp");
}

// --device cuda --dtype: refused with a clear error where the build or the machine has no GPU; on a
// GPU, the demo's output in bf16 and f16 equals the CPU's (its margins are >= 14.4), and encode runs.
BOOST_AUTO_TEST_CASE(device_cuda) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  expect_error({"generate", "--model", demo, "--dtype", "f16", "x"}, 2, "--dtype f16 is for --device cuda");
  expect_error({"generate", "--model", demo, "--device", "cuda", "--dtype", "f32", "x"}, 2, "bf16 or f16");
  const std::vector<std::string> inputs = {"42", "1999", "31415"};
  std::vector<std::string> args = {"generate", "--model", demo, "--quiet", "--device", "cuda"};
  args.insert(args.end(), inputs.begin(), inputs.end());
#if T5CC_HAVE_CUDA
  const bool gpu = t5::cuda::device_count() > 0;
#else
  const bool gpu = false;
#endif
  if (!gpu) {
    expect_error(args, 1, T5CC_HAVE_CUDA ? "CUDA device 0 does not exist" : "built without CUDA");
    return;
  }
  std::vector<std::string> cpu_args = {"generate", "--model", demo, "--quiet"};
  cpu_args.insert(cpu_args.end(), inputs.begin(), inputs.end());
  const auto cpu = t5cc(cpu_args);
  BOOST_TEST_REQUIRE(cpu.status == 0, cpu.err);
  for (const char* dtype : {"bf16", "f16"}) {
    auto with_dtype = args;
    with_dtype.insert(with_dtype.begin() + 6, {"--dtype", dtype});
    const auto r = t5cc(with_dtype);
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    BOOST_TEST(r.out == cpu.out, dtype);
  }
  const auto enc = t5cc({"encode", "--model", demo, "--quiet", "--device", "cuda", "42"});
  BOOST_TEST(enc.status == 0, enc.err);
}

// The bundled demo model (examples/models/numbers, tools/train_demo.py) writes held-out numbers in
// words: at least 95% of heldout.tsv must come out exactly right through our tokenizer, encoder
// and greedy decoder (the library; the tool on a few lines, which must agree).
// --dtype bf16 and int8 on the CPU: the demo model's words equal float32's (its greedy margins are
// >= 14.4 logits, far above the products' rounding), on a model small enough that oneDNN keeps
// some int8 weights in the plain layout.
BOOST_AUTO_TEST_CASE(cpu_low_precision_on_the_demo) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  const std::vector<std::string> args = {"generate", "--model", demo, "--quiet", "42", "1999", "700017"};
  const auto f32 = t5cc(args);
  BOOST_TEST_REQUIRE(f32.status == 0, f32.err);
  for (const char* dtype : {"bf16", "int8"}) {
    auto with_dtype = args;
    with_dtype.insert(with_dtype.begin() + 3, {"--dtype", dtype});
    const auto r = t5cc(with_dtype);
    BOOST_TEST(r.status == 0, dtype << ": " << r.err);
    BOOST_TEST(r.out == f32.out, dtype);
  }
}

BOOST_AUTO_TEST_CASE(demo_model_heldout_exact_match) {
  const std::filesystem::path dir = std::getenv("T5CC_DEMO_MODEL");
  std::vector<std::string> inputs, expected;
  for (const auto& line : lines_of(t5::read_text_file(dir / "heldout.tsv"))) {
    const auto tab = line.find('\t');
    BOOST_TEST_REQUIRE(tab != std::string::npos, line);
    inputs.push_back(line.substr(0, tab));
    expected.push_back(line.substr(tab + 1));
  }
  BOOST_TEST_REQUIRE(inputs.size() == 200u);
  const auto tok = t5::Tokenizer::from_model_dir(dir);
  auto model = t5::load(dir, {.threads = 2});
  std::size_t right = 0;
  std::vector<std::string> outputs;
  for (std::size_t first = 0; first < inputs.size(); first += 25) {
    const std::span<const std::string> batch(inputs.data() + first, 25);
    for (const auto& s : model->generate(tok.encode_batch(batch)).sequences) outputs.push_back(tok.decode(s.tokens));
  }
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    right += outputs[i] == expected[i];
    if (outputs[i] != expected[i]) BOOST_TEST_MESSAGE("wrong: " << inputs[i] << " -> " << outputs[i] << " (expected " << expected[i] << ")");
  }
  const double rate = static_cast<double>(right) / static_cast<double>(inputs.size());
  BOOST_TEST_MESSAGE("demo model: " << right << " of " << inputs.size() << " held-out examples exactly right (" << 100.0 * rate << "%)");
  BOOST_TEST(rate >= 0.95);

  const auto r = t5cc({"generate", "--model", dir.string(), "--quiet", inputs[0], inputs[1], inputs[2]});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(lines_of(r.out) == std::vector<std::string>(outputs.begin(), outputs.begin() + 3), boost::test_tools::per_element());

  // The other commands on the demo: its vocabulary splits digits (train_demo.py: split_digits, a
  // dummy prefix), it is a v1.1 model, and encode describes every input.
  BOOST_TEST(t5cc({"tokenize", "--model", dir.string(), "--pieces", "1999"}).out == "\u2581 1 9 9 9 </s>\n");
  const auto inspect = t5cc({"inspect", "--model", dir.string()});
  BOOST_TEST(inspect.out.find("preset     v1_1") != std::string::npos, inspect.out);
  const auto encode = t5cc({"encode", "--model", dir.string(), "42", "1999"});
  BOOST_TEST(encode.status == 0, encode.err);
  BOOST_TEST(encode.out.find("input 2: 6 tokens, states [6, 128]") != std::string::npos, encode.out);
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(benchmark)

// The generation benchmark runs and reports what tools/bench_generate.py reads (a benchmark is not
// a test; this only keeps the program working). Its own meson test, cli/benchmark, which main.cpp
// reports as SKIP in a build without benchmarks.
BOOST_AUTO_TEST_CASE(generation_benchmark_runs) {
  const char* bin = std::getenv("T5CC_BENCH_GENERATE");
  BOOST_TEST_REQUIRE(bin != nullptr, "T5CC_BENCH_GENERATE is not set");
  t5::test::TempDir tmp;
  const auto ids = tmp / "ids.txt";
  std::ofstream(ids) << "5 6 7 8 1\n9 10 1\n";
  const auto r = t5::test::run_command({bin, "--model", cli::fixture("v1_1_gated").string(), "--ids", ids.string(), "--batch", "2",
                                        "--num-beams", "2", "--new-tokens", "3", "--threads", "1", "--repeats", "1"});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  for (const char* key : {"\"tokens_per_second\": ", "\"cache_bytes\": ", "\"new_tokens\": 3", "\"num_beams\": 2"})
    BOOST_TEST(r.out.find(key) != std::string::npos, key << " in " << r.out);
  const auto bad = t5::test::run_command({bin, "--model", cli::fixture("v1_1_gated").string()});
  BOOST_TEST(bad.status == 2, bad.err);
}

BOOST_AUTO_TEST_SUITE_END()
