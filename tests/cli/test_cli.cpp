// The t5cc tool as a user meets it: --help, usage errors (status 2), errors (status 1) with one
// line on stderr, and `inspect` on checkpoints the test writes.
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <tuple>
#include <thread>

#include "run_command.hpp"
#include "synthetic_checkpoint.hpp"
#include "goldens.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "t5/load.hpp"
#include "t5/tokenizer/tokenizer.hpp"
#if T5CC_HAVE_CUDA
#include "t5/cuda/device.hpp"
#endif
#include "temp_dir.hpp"

namespace {

// t5cc with `args`, killed after `limit` (a hang fails the test instead of stalling the suite).
t5::test::CommandResult t5cc(std::vector<std::string> args, std::chrono::duration<double> limit = std::chrono::minutes(2)) {
  args.insert(args.begin(), t5::test::t5cc_binary());
  return t5::test::run_command(args, limit);
}

void expect_usage_error(const std::vector<std::string>& args) {
  const auto r = t5cc(args);
  BOOST_TEST(!r.timed_out);
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
  BOOST_TEST(inspect.out.find("--model PATH") != std::string::npos);
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
  BOOST_TEST(!r.timed_out);
  BOOST_TEST(r.status == status, r.err);
  BOOST_TEST(t5::test::line_count(r.err) == 1u, r.err);
  BOOST_TEST(r.err.find(fragment) != std::string::npos, "expected \"" << fragment << "\" in: " << r.err);
}

/// The last_hidden_state values of an `encode --out` file.
std::vector<float> written_states(const std::string& file) {
  const t5::io::SafetensorsFile out(file);
  const auto* states = out.find("last_hidden_state");
  BOOST_TEST_REQUIRE(states != nullptr);
  std::vector<float> values(states->nbytes() / sizeof(float));
  std::memcpy(values.data(), out.data(*states).data(), values.size() * sizeof(float));
  return values;
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
// One weights file, as a bundle ships a text encoder: inspect names the format, the prefix and the
// inferred values; encode runs it with the spiece.model beside it, as the library does.
BOOST_AUTO_TEST_CASE(single_weights_file) {
  const auto bundle = (fixture("single_file") / "bundle.safetensors").string();
  const auto r = t5cc({"inspect", "--model", bundle});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(r.out.find("bundle.safetensors (safetensors), names under the prefix \"text_encoders.t5xxl.transformer.\", 1 other tensors set aside") !=
                 std::string::npos, r.out);
  BOOST_TEST(r.out.find("(config inferred from the tensor shapes)") != std::string::npos, r.out);
  BOOST_TEST(t5::test::line_words(r.out, "inferred").size() > 10u, r.out);
  const auto q = t5::test::line_words(r.out, "encoder.block.0.layer.0.SelfAttention.q.weight");  // the HF name, prefix stripped
  BOOST_TEST_REQUIRE(q.size() > 1u, r.out);
  BOOST_TEST(q[1] == "F16");

  t5::test::TempDir tmp;
  std::ofstream(tmp / "eps.json") << R"({"layer_norm_epsilon": 0.5})";
  const auto over = t5cc({"inspect", "--model", bundle, "--config", (tmp / "eps.json").string()});
  BOOST_TEST_REQUIRE(over.status == 0, over.err);
  BOOST_TEST(t5::test::line_words(over.out, "layer_norm_epsilon") == (std::vector<std::string>{"layer_norm_epsilon", "0.5"}), boost::test_tools::per_element());

  const auto file = (tmp / "states.safetensors").string();
  const auto e = t5cc({"encode", "--model", bundle, "--out", file, "--threads", "1", "The dog."});
  BOOST_TEST_REQUIRE(e.status == 0, e.err);
  const auto tok = t5::Tokenizer::from_spm(fixture("single_file") / "spiece.model");
  const std::vector<std::string> texts = {"The dog."};
  const auto expected = t5::load(bundle, {.threads = 1})->encode(tok.encode_batch(texts));
  BOOST_TEST(written_states(file) == expected.values, boost::test_tools::per_element());
}

// GGUF files (tests/data/gguf, gguf-py's): inspect names the format and what the metadata left to
// the shapes; encode and generate run from the one file, with the spiece.model beside it.
BOOST_AUTO_TEST_CASE(gguf_files) {
  const auto mixed = (fixture("gguf") / "t5_mixed.gguf").string();
  const auto r = t5cc({"inspect", "--model", mixed});
  BOOST_TEST_REQUIRE(r.status == 0, r.err);
  BOOST_TEST(r.out.find("t5_mixed.gguf (GGUF)") != std::string::npos, r.out);
  BOOST_TEST(r.out.find("(config from the file's metadata and the tensor shapes)") != std::string::npos, r.out);
  BOOST_TEST(t5::test::line_words(r.out, "inferred") ==
                 (std::vector<std::string>{"inferred", "feed_forward_proj,", "model_type,", "relative_attention_max_distance,", "tie_word_embeddings,", "vocab_size"}),
             boost::test_tools::per_element());
  BOOST_TEST(t5::test::line_words(r.out, "num_decoder_layers") == (std::vector<std::string>{"num_decoder_layers", "3"}), boost::test_tools::per_element());
  const auto wo = t5::test::line_words(r.out, "decoder.block.0.layer.2.DenseReluDense.wo.weight");
  BOOST_TEST_REQUIRE(wo.size() > 3u, r.out);
  BOOST_TEST((wo[1] == "Q5_1" && wo[2] == "->" && wo[3] == "F32"), r.out);

  const std::vector<std::string> texts = {"The dog.", "A small bird sings near the river."};
  const auto tok = t5::Tokenizer::from_spm(fixture("gguf") / "spiece.model");
  t5::GenerationOptions options;
  options.max_new_tokens = 8;
  const auto rows = t5::load(mixed, {.threads = 1})->generate(tok.encode_batch(texts), options).token_rows();
  const auto g = t5cc({"generate", "--model", mixed, "--max-new-tokens", "8", "--show-input", "--quiet", texts[0], texts[1]});
  BOOST_TEST_REQUIRE(g.status == 0, g.err);
  const auto lines = lines_of(g.out);
  BOOST_TEST_REQUIRE(lines.size() == 2u, g.out);
  for (std::size_t i = 0; i < 2; ++i) BOOST_TEST(lines[i] == texts[i] + " -> " + tok.decode(rows[i]));

  t5::test::TempDir tmp;
  const auto kquants = (fixture("gguf") / "t5encoder_kquants.gguf").string();
  const auto file = (tmp / "states.safetensors").string();
  const auto e = t5cc({"encode", "--model", kquants, "--out", file, "--threads", "1", texts[0]});
  BOOST_TEST_REQUIRE(e.status == 0, e.err);
  const std::vector<std::string> first = {texts[0]};
  const auto expected = t5::load(kquants, {.threads = 1})->encode(tok.encode_batch(first));
  BOOST_TEST(written_states(file) == expected.values, boost::test_tools::per_element());

  // A GGUF file of another model is refused by name, exit status 1: version 3, no tensors, one key.
  const std::string key = "general.architecture", arch = "llama";
  auto u64 = [](std::uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); };
  std::ofstream(tmp / "llama.gguf", std::ios::binary) << "GGUF" << std::string("\x03\0\0\0", 4) << u64(0) << u64(1) << u64(key.size()) << key
                                                     << std::string("\x08\0\0\0", 4) << u64(arch.size()) << arch;
  const auto llama = t5cc({"inspect", "--model", (tmp / "llama.gguf").string()});
  BOOST_TEST(llama.status == 1);
  BOOST_TEST(llama.err.find("a GGUF file of architecture \"llama\", not a T5 model") != std::string::npos, llama.err);
}

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

  // The tool streams the file itself, batch by batch: its bytes are what the library's writer makes
  // of the same tensors, and the ids and mask are the tokenizer's.
  t5::io::SafetensorsWriter library;
  for (const char* name : {"attention_mask", "input_ids", "last_hidden_state"})
    library.add(name, out.find(name)->dtype, out.find(name)->shape, out.data(*out.find(name)));
  library.write(tmp / "library.safetensors");
  BOOST_TEST((t5::read_text_file(tmp / "library.safetensors") == t5::read_text_file(file)));
  const auto batch = tok.encode_batch(texts, batching);
  std::vector<std::int64_t> ids(batch.ids.size()), mask(batch.mask.size());
  std::memcpy(ids.data(), out.data(*out.find("input_ids")).data(), ids.size() * sizeof(std::int64_t));
  std::memcpy(mask.data(), out.data(*out.find("attention_mask")).data(), mask.size() * sizeof(std::int64_t));
  BOOST_TEST(ids == std::vector<std::int64_t>(batch.ids.begin(), batch.ids.end()), boost::test_tools::per_element());
  BOOST_TEST(mask == std::vector<std::int64_t>(batch.mask.begin(), batch.mask.end()), boost::test_tools::per_element());

  // --pool mean --out: the mean of each input's token states.
  const auto pooled_file = (tmp / "pooled.safetensors").string();
  const auto p = t5cc({"encode", "--model", dir, "--pad-to", "16", "--pool", "mean", "--out", pooled_file, "--threads", "1", "--batch-size", "2",
                       texts[0], texts[1], texts[2]});
  BOOST_TEST_REQUIRE(p.status == 0, p.err);
  const t5::io::SafetensorsFile pooled(pooled_file);
  BOOST_TEST_REQUIRE(pooled.find("last_hidden_state")->shape == (std::vector<std::int64_t>{3, 48}), boost::test_tools::per_element());
  std::vector<float> means(3 * 48), expected_means(3 * 48, 0.0f);
  std::memcpy(means.data(), pooled.data(*pooled.find("last_hidden_state")).data(), means.size() * sizeof(float));
  for (std::size_t b = 0; b < 3; ++b) {
    float tokens = 0;
    for (std::size_t s = 0; s < 16; ++s) {
      if (mask[b * 16 + s] == 0) continue;
      tokens += 1;
      for (std::size_t k = 0; k < 48; ++k) expected_means[b * 48 + k] += written[(b * 16 + s) * 48 + k];
    }
    for (std::size_t k = 0; k < 48; ++k) expected_means[b * 48 + k] /= tokens;
  }
  BOOST_TEST(t5::test::compare(means, expected_means).ok());

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
  usage({"--do-sample", "--temperature", "0"}, "--temperature: needs a number in [1e-6, 1e6], found '0'");
  usage({"--do-sample", "--temperature", "-1"}, "--temperature: needs a number in [1e-6, 1e6], found '-1'");
  usage({"--do-sample", "--top-p", "0"}, "--top-p: needs a number in (0, 1], found '0'");
  usage({"--do-sample", "--top-p", "1.01"}, "--top-p: needs a number in (0, 1], found '1.01'");
  usage({"--do-sample", "--top-k", "-1"}, "--top-k: needs an integer in [0, 2^31), found '-1'");
  usage({"--do-sample", "--top-k", "2.5"}, "--top-k: needs an integer in [0, 2^31), found '2.5'");
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
  usage({"--repetition-penalty", "0"}, "--repetition-penalty: needs a number in [1e-6, 1e6], found '0'");
  usage({"--repetition-penalty", "inf"}, "--repetition-penalty: needs a number in [1e-6, 1e6], found 'inf'");
  usage({"--no-repeat-ngram-size", "-2"}, "--no-repeat-ngram-size: needs an integer in [0, 2^24], found '-2'");
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
  // A failing encode --out leaves no file behind (no temporary file either: the folder holds only the corrupt copy).
  const auto file = tmp / "out.safetensors";
  expect_error({"encode", "--model", dir, "--pad-to", "3", "--out", file.string(), "The dog sings."}, 1, "padded length");
  BOOST_TEST(!std::filesystem::exists(file));
  for (const auto& entry : std::filesystem::directory_iterator(tmp.path())) BOOST_TEST(entry.path().filename() == "corrupt", entry.path());
}

namespace {

/// Whether `text` is one line "t5cc: ...", in t5cc's words rather than a library's raw text.
void expect_one_line_in_t5cc_words(const t5::test::CommandResult& r, const std::string& what) {
  BOOST_TEST(!r.timed_out, what);
  BOOST_TEST(t5::test::line_count(r.err) == 1u, what << ": " << r.err);
  BOOST_TEST(r.err.starts_with("t5cc: "), what << ": " << r.err);
  for (const char* raw : {"filesystem error", "basic_", "std::", "vector::", "json.exception", "what()"})
    BOOST_TEST(r.err.find(raw) == std::string::npos, what << ": " << r.err);
}

std::vector<std::string> names_in(const std::filesystem::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) names.push_back(entry.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

// A writer (or reader) of a FIFO, as a shell command running beside the t5cc under test.
t5::test::RunningCommand shell(const std::string& script) { return t5::test::RunningCommand({"/bin/bash", "-c", script}); }

}  // namespace

// Every numeric option is checked on its text against its true range before it is converted:
// values that used to crash (--threads in libgomp), overflow (--pad-to, --top-k's cast) or run out
// of memory (the search sizes) are usage errors with one line naming the range.
BOOST_AUTO_TEST_CASE(numeric_options_are_range_checked) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  auto usage = [&](const std::string& command, std::vector<std::string> options, const std::string& fragment) {
    options.insert(options.begin(), {command, "--model", demo});
    options.push_back("42");
    expect_error(options, 2, fragment);
  };
  for (const char* command : {"encode", "generate"}) {
    usage(command, {"--threads", "100000"}, "--threads: needs an integer in [1, 1024], found '100000'");
    usage(command, {"--threads", "0"}, "--threads: needs an integer in [1, 1024], found '0'");
    usage(command, {"--threads", "-4"}, "--threads: needs an integer in [1, 1024], found '-4'");
    usage(command, {"--batch-size", "1.5"}, "--batch-size: needs an integer in [1, 2^20], found '1.5'");
    usage(command, {"--batch-size", "0x10"}, "--batch-size: needs an integer in [1, 2^20], found '0x10'");
    usage(command, {"--batch-size", "99999999999999999999999"}, "--batch-size: needs an integer in [1, 2^20]");
  }
  usage("encode", {"--pad-to", "4611686018427387904"}, "--pad-to: needs an integer in [1, 2^24], found '4611686018427387904'");
  usage("encode", {"--pad-to", "-1"}, "--pad-to: needs an integer in [1, 2^24], found '-1'");
  usage("encode", {"--pad-to", "16.0"}, "--pad-to: needs an integer in [1, 2^24], found '16.0'");
  usage("generate", {"--do-sample", "--top-k", "1e300"}, "--top-k: needs an integer in [0, 2^31), found '1e300'");
  usage("generate", {"--max-new-tokens", "1000000000"}, "--max-new-tokens: needs an integer in [1, 2^24], found '1000000000'");
  usage("generate", {"--max-new-tokens", "0"}, "--max-new-tokens: needs an integer in [1, 2^24], found '0'");
  usage("generate", {"--min-new-tokens", "-1"}, "--min-new-tokens: needs an integer in [0, 2^24], found '-1'");
  usage("generate", {"--num-beams", "1000000"}, "--num-beams: needs an integer in [1, 1024], found '1000000'");
  usage("generate", {"--num-beams", "2.5"}, "--num-beams: needs an integer in [1, 1024], found '2.5'");
  usage("generate", {"--do-sample", "--num-return-sequences", "1000000000"}, "--num-return-sequences: needs an integer in [1, 1024]");
  usage("generate", {"--do-sample", "--num-return-sequences", "-2"}, "--num-return-sequences: needs an integer in [1, 1024], found '-2'");
  usage("generate", {"--no-repeat-ngram-size", "100000000000"}, "--no-repeat-ngram-size: needs an integer in [0, 2^24]");
  usage("generate", {"--do-sample", "--temperature", "1e300"}, "--temperature: needs a number in [1e-6, 1e6], found '1e300'");
  usage("generate", {"--do-sample", "--temperature", "nan"}, "--temperature: needs a number in [1e-6, 1e6], found 'nan'");
  usage("generate", {"--do-sample", "--top-p", "1e-300"}, "--top-p: needs a number in (0, 1] (as a 32-bit float), found '1e-300'");
  usage("generate", {"--num-beams", "2", "--length-penalty", "-11"}, "--length-penalty: needs a number in [-10, 10], found '-11'");
  usage("generate", {"--repetition-penalty", "1e7"}, "--repetition-penalty: needs a number in [1e-6, 1e6], found '1e7'");

  // The ends of the ranges are accepted (the sizes that cost nothing on the demo model).
  const auto ends = t5cc({"generate", "--model", demo, "--quiet", "--threads", "1", "--do-sample", "--seed", "18446744073709551615", "--top-k",
                          "2147483647", "--top-p", "1e-45", "--temperature", "1e-6", "--repetition-penalty", "1e6", "--no-repeat-ngram-size",
                          "16777216", "--batch-size", "1048576", "42"});
  BOOST_TEST(ends.status == 0, ends.err);
  BOOST_TEST(t5::test::line_count(ends.out) == 1u, ends.out);
  const auto beams = t5cc({"generate", "--model", demo, "--quiet", "--threads", "1", "--num-beams", "2", "--length-penalty", "-10", "42"});
  BOOST_TEST(beams.status == 0, beams.err);

  // --help says the ranges.
  const auto help = t5cc({"generate", "--help"});
  for (const char* range : {"N in [1, 1024]", "K in [1, 1024]", "K in [0, 2^31)", "T in [1e-6, 1e6]", "L in [-10, 10]", "CPU threads, in [1, 1024]"})
    BOOST_TEST(help.out.find(range) != std::string::npos, range);
  BOOST_TEST(t5cc({"encode", "--help"}).out.find("N in [1, 2^24]") != std::string::npos);
}

// A request within the ranges whose memory cannot fit is refused by the library with what it
// needs (status 1, one line), and one the library lets through but the allocator does not (a
// memory limit below the machine's) ends as one "out of memory" line, not std::bad_alloc.
BOOST_AUTO_TEST_CASE(requests_too_large_for_memory_are_one_line) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  const auto huge = t5cc({"generate", "--model", demo, "--threads", "1", "--num-beams", "1024", "--max-new-tokens", "16777216", "42"});
  BOOST_TEST(huge.status == 1, huge.err);
  expect_one_line_in_t5cc_words(huge, "generate 1024 beams x 2^24 tokens");
  BOOST_TEST(huge.err.find("needs") != std::string::npos, huge.err);
  const auto long_rows = t5cc({"encode", "--model", demo, "--threads", "1", "--pad-to", "16777216", "42"});
  BOOST_TEST(long_rows.status == 1, long_rows.err);
  expect_one_line_in_t5cc_words(long_rows, "encode --pad-to 2^24");

#if defined(__SANITIZE_ADDRESS__)
  BOOST_TEST_MESSAGE("the ulimit -v case is left out: AddressSanitizer reserves terabytes of address space and cannot start under it");
#else
  const auto limited = t5::test::run_command({"/bin/bash", "-c", "ulimit -v 2000000; exec '" + t5::test::t5cc_binary() + "' encode --model '" + demo +
                                                                 "' --threads 1 --pad-to 20000 42"});
  BOOST_TEST(limited.status == 1, limited.err);
  expect_one_line_in_t5cc_words(limited, "encode under ulimit -v");
  BOOST_TEST((limited.err.find("out of memory") != std::string::npos || limited.err.find("needs") != std::string::npos), limited.err);
#endif
}

// --input is read line by line with a bounded line: a stream without line breaks ends at once,
// a directory is an error, a FIFO streams, CR LF is LF, NUL bytes are refused, and invalid UTF-8
// goes to the tokenizer (<unk>) without harm.
BOOST_AUTO_TEST_CASE(input_files_are_read_with_bounds) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  t5::test::TempDir tmp;
  for (const char* command : {"tokenize", "generate"}) {
    const auto zero = t5cc({command, "--model", demo, "--input", "/dev/zero"}, std::chrono::seconds(10));
    BOOST_TEST(zero.status == 1, zero.err);
    expect_one_line_in_t5cc_words(zero, "--input /dev/zero");
    BOOST_TEST(zero.err.find("/dev/zero:1: ") != std::string::npos, zero.err);
    BOOST_TEST(zero.seconds < 5.0);
  }
  {
    std::ofstream(tmp / "long.txt") << "42\n" << std::string((1u << 20) + 1, '7') << "\n";
    const auto r = t5cc({"tokenize", "--model", demo, "--input", (tmp / "long.txt").string()});
    BOOST_TEST(r.status == 1, r.err);
    expect_one_line_in_t5cc_words(r, "a long line");
    BOOST_TEST(r.err.find("long.txt:2: a line longer than 1 MiB") != std::string::npos, r.err);
  }
  const auto dir = t5cc({"tokenize", "--model", demo, "--input", tmp.path().string()});
  BOOST_TEST(dir.status == 1, dir.err);
  expect_one_line_in_t5cc_words(dir, "--input DIR");
  BOOST_TEST(dir.err.find("is a directory") != std::string::npos, dir.err);

  const auto plain = t5cc({"tokenize", "--model", demo, "42", "1999"});
  BOOST_TEST_REQUIRE(plain.status == 0, plain.err);
  {
    std::ofstream(tmp / "crlf.txt", std::ios::binary) << "42\r\n1999";
    const auto r = t5cc({"tokenize", "--model", demo, "--input", (tmp / "crlf.txt").string()});
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == plain.out);
  }
  {
    const auto fifo = tmp / "inputs.fifo";
    BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    auto writer = shell("printf '42\\n1999\\n' > '" + fifo.string() + "'");
    const auto r = t5cc({"tokenize", "--model", demo, "--input", fifo.string()}, std::chrono::seconds(20));
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.out == plain.out);
    BOOST_TEST(writer.wait(std::chrono::seconds(5)).status == 0);
  }
  {
    std::ofstream(tmp / "nul.txt", std::ios::binary) << "42\n19" << '\0' << "99\n";
    const auto r = t5cc({"generate", "--model", demo, "--input", (tmp / "nul.txt").string()});
    BOOST_TEST(r.status == 1, r.err);
    expect_one_line_in_t5cc_words(r, "a NUL byte");
    BOOST_TEST(r.err.find("nul.txt:2: a NUL byte") != std::string::npos, r.err);
  }
  {
    std::ofstream(tmp / "latin1.txt", std::ios::binary) << "4\xff" "2\n\xc3\n\xed\xa0\x80x\n";
    const auto r = t5cc({"generate", "--model", demo, "--quiet", "--input", (tmp / "latin1.txt").string()});
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(t5::test::line_count(r.out) == 3u, r.out);
  }
}

// A FIFO in place of a model's config.json (or its vocabulary) fails at once instead of blocking
// in open(2) for a writer that never comes. This is the library's file opening (io/); the hard time
// limit makes a hang a failure here.
BOOST_AUTO_TEST_CASE(fifo_in_a_model_directory_fails_fast) {
  const std::filesystem::path demo = std::getenv("T5CC_DEMO_MODEL");
  for (const char* name : {"config.json", "spiece.model"}) {
    t5::test::TempDir model;
    for (const auto& entry : std::filesystem::directory_iterator(demo))
      if (entry.path().filename() != name) std::filesystem::create_symlink(std::filesystem::absolute(entry.path()), model / entry.path().filename().string());
    BOOST_TEST_REQUIRE(::mkfifo((model / name).c_str(), 0600) == 0);
    for (const auto& args : {std::vector<std::string>{"inspect", "--model", model.path().string()},
                                                 std::vector<std::string>{"tokenize", "--model", model.path().string(), "42"},
                                                 std::vector<std::string>{"generate", "--model", model.path().string(), "42"}}) {
      if (args[0] == "inspect" && std::string(name) == "spiece.model") continue;  // inspect does not read the vocabulary
      const auto r = t5cc(args, std::chrono::seconds(5));
      const std::string what = args[0] + " with a FIFO as " + name;
      BOOST_TEST(!r.timed_out, what << " hung (killed after 5 s)");
      BOOST_TEST(r.status == 1, what << ": " << r.err);
      expect_one_line_in_t5cc_words(r, what);
      BOOST_TEST(r.err.find(name) != std::string::npos, what << ": " << r.err);
      BOOST_TEST(r.seconds < 2.0, what << " took " << r.seconds << " s");
    }
  }
}

namespace {

// Whether this process may make device nodes (root, outside a user namespace that forbids it).
boost::test_tools::assertion_result can_make_device_nodes(boost::unit_test::test_unit_id) {
  t5::test::TempDir probe;
  if (::mknod((probe / "null").c_str(), S_IFCHR | 0666, ::makedev(1, 3)) == 0) return true;
  boost::test_tools::assertion_result no(false);
  no.message() << "mknod of a character device failed (" << std::strerror(errno) << "): it needs root (CAP_MKNOD)";
  return no;
}

}  // namespace

// encode --out onto a character device writes through it: the device stays a device (the tool used
// to rename a regular file over it, replacing /dev/null when run as root). The nodes are made
// here, never the machine's own /dev entries, so that a regression cannot harm the machine.
BOOST_AUTO_TEST_CASE(out_onto_a_device_node, *boost::unit_test::precondition(can_make_device_nodes)) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  t5::test::TempDir tmp;
  const auto node = tmp / "null";
  BOOST_TEST_REQUIRE(::mknod(node.c_str(), S_IFCHR | 0666, ::makedev(1, 3)) == 0);
  const int probe = ::open(node.c_str(), O_WRONLY);  // a file system mounted nodev refuses to open it
  if (probe >= 0) ::close(probe);
  const auto r = t5cc({"encode", "--model", demo, "--out", node.string(), "42", "1999"});
  if (probe >= 0) {
    BOOST_TEST(r.status == 0, r.err);
    BOOST_TEST(r.err.empty(), r.err);
  } else {
    BOOST_TEST(r.status == 1, r.err);
    expect_one_line_in_t5cc_words(r, "--out on a nodev device");
  }
  struct stat st {};
  BOOST_TEST_REQUIRE(::lstat(node.c_str(), &st) == 0);
  BOOST_TEST(S_ISCHR(st.st_mode));
  BOOST_TEST((st.st_rdev == ::makedev(1, 3)));

  // /dev/full's numbers: the write fails with one line, and the device stays.
  const auto full = tmp / "full";
  BOOST_TEST_REQUIRE(::mknod(full.c_str(), S_IFCHR | 0666, ::makedev(1, 7)) == 0);
  const auto r_full = t5cc({"encode", "--model", demo, "--out", full.string(), "42"});
  BOOST_TEST(r_full.status == 1, r_full.err);
  expect_one_line_in_t5cc_words(r_full, "--out on /dev/full's device");
  if (probe >= 0) BOOST_TEST(r_full.err.find("No space left on device") != std::string::npos, r_full.err);
  BOOST_TEST_REQUIRE(::lstat(full.c_str(), &st) == 0);
  BOOST_TEST(S_ISCHR(st.st_mode));
  BOOST_TEST(names_in(tmp.path()) == (std::vector<std::string>{"full", "null"}), boost::test_tools::per_element());
}

// The other targets of --out: a FIFO is written straight through (the bytes a regular file gets);
// a directory is refused and left alone; a symbolic link keeps pointing at the file it names,
// which gets the new output; a failed job leaves the previous output as it was.
BOOST_AUTO_TEST_CASE(out_targets_are_never_replaced_by_something_else) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  t5::test::TempDir tmp;
  auto encode = [&](const std::filesystem::path& out, const std::string& text) {
    return t5cc({"encode", "--model", demo, "--threads", "1", "--out", out.string(), text, "1999"});
  };
  const auto regular = tmp / "regular.safetensors";
  BOOST_TEST_REQUIRE(encode(regular, "42").status == 0);
  const std::string bytes = t5::read_text_file(regular);
  BOOST_TEST_REQUIRE(bytes.size() > 1000u);

  const auto fifo = tmp / "states.fifo";
  BOOST_TEST_REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
  auto reader = shell("cat '" + fifo.string() + "' > '" + (tmp / "from_fifo").string() + "'");
  const auto through = t5cc({"encode", "--model", demo, "--threads", "1", "--out", fifo.string(), "42", "1999"}, std::chrono::seconds(30));
  BOOST_TEST(through.status == 0, through.err);
  BOOST_TEST(reader.wait(std::chrono::seconds(10)).status == 0);
  BOOST_TEST(std::filesystem::is_fifo(std::filesystem::symlink_status(fifo)));
  BOOST_TEST((t5::read_text_file(tmp / "from_fifo") == bytes));

  std::filesystem::create_directory(tmp / "folder");
  std::ofstream(tmp / "folder" / "kept") << "kept";
  for (const std::string& out : {(tmp / "folder").string(), (tmp / "folder").string() + "/"}) {
    const auto r = t5cc({"encode", "--model", demo, "--out", out, "42"});
    BOOST_TEST(r.status == 1, r.err);
    expect_one_line_in_t5cc_words(r, "--out DIR");
  }
  BOOST_TEST(names_in(tmp / "folder") == std::vector<std::string>{"kept"}, boost::test_tools::per_element());

  const auto target = tmp / "target.safetensors", link = tmp / "link.safetensors";
  std::ofstream(target) << "old";
  std::filesystem::create_symlink(target.filename(), link);
  BOOST_TEST(encode(link, "42").status == 0);
  BOOST_TEST(std::filesystem::is_symlink(link));
  BOOST_TEST((t5::read_text_file(target) == bytes));

  // A job that fails before its output is opened (an input longer than --pad-to), one that fails
  // while writing it (a file size limit of 4 KiB, below the file's size) and one the tool refuses
  // (--out naming the model's own weights) leave every file as it was.
  const auto too_long = t5cc({"encode", "--model", demo, "--pad-to", "3", "--out", regular.string(), "42", "1999 1999 1999"});
  BOOST_TEST(too_long.status == 1, too_long.err);
  BOOST_TEST((t5::read_text_file(regular) == bytes));
  BOOST_TEST_REQUIRE(bytes.size() > 4096u);
  const auto limited = t5::test::run_command({"/bin/bash", "-c", "ulimit -f 4; exec '" + t5::test::t5cc_binary() + "' encode --model '" + demo +
                                                                 "' --threads 1 --out '" + regular.string() + "' 7 1999"});
  BOOST_TEST(limited.status == 1, limited.err);
  expect_one_line_in_t5cc_words(limited, "--out under ulimit -f");
  BOOST_TEST(limited.err.find("write failed: File too large") != std::string::npos, limited.err);
  BOOST_TEST((t5::read_text_file(regular) == bytes));
  const auto weights = std::filesystem::path(demo) / "model.safetensors";
  const std::string weight_bytes = t5::read_text_file(weights);
  const auto own = t5cc({"encode", "--model", demo, "--out", weights.string(), "42"});
  BOOST_TEST(own.status == 2, own.err);
  BOOST_TEST(own.err.find("of the model") != std::string::npos, own.err);
  BOOST_TEST((t5::read_text_file(weights) == weight_bytes));
  BOOST_TEST(names_in(tmp.path()) == (std::vector<std::string>{"folder", "from_fifo", "link.safetensors", "regular.safetensors", "states.fifo",
                                                                "target.safetensors"}),
             boost::test_tools::per_element());
}

// A job killed while it writes its output (SIGTERM, SIGINT) leaves no temporary file next to the
// target, and the previous output byte for byte.
BOOST_AUTO_TEST_CASE(killed_job_leaves_the_previous_output) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  t5::test::TempDir tmp, work;
  {
    std::ofstream inputs(work / "inputs.txt");
    for (int i = 0; i < 20000; ++i) inputs << i * 7919 << " " << i << "\n";  // some 5 s of encoding on one thread
  }
  const auto out = tmp / "states.safetensors";
  BOOST_TEST_REQUIRE(t5cc({"encode", "--model", demo, "--threads", "1", "--out", out.string(), "42"}).status == 0);
  const std::string previous = t5::read_text_file(out);
  for (const int signal : {SIGTERM, SIGINT}) {
    t5::test::RunningCommand job(
        {t5::test::t5cc_binary(), "encode", "--model", demo, "--threads", "1", "--input", (work / "inputs.txt").string(), "--out", out.string()});
    bool writing = false;  // the temporary file is there and the job still runs
    for (auto until = std::chrono::steady_clock::now() + std::chrono::seconds(30); !writing && job.running() && std::chrono::steady_clock::now() < until;) {
      for (const auto& name : names_in(tmp.path())) writing = writing || name.find(".t5cc-tmp-") != std::string::npos;
      if (!writing) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    BOOST_TEST_REQUIRE(writing, "the job never wrote a temporary file while it ran");
    job.signal(signal);
    const auto r = job.wait(std::chrono::seconds(30));
    BOOST_TEST(r.status == 128 + signal, "killed while running: status " << r.status << " " << r.err);
    BOOST_TEST((t5::read_text_file(out) == previous));
    BOOST_TEST_REQUIRE(names_in(tmp.path()) == std::vector<std::string>{"states.safetensors"}, boost::test_tools::per_element());
  }
}

// Whatever fails below the tool (the file system, the standard library, a full stdout) is one line
// in t5cc's words, never the raw text of an exception.
BOOST_AUTO_TEST_CASE(errors_from_below_are_one_line_in_t5cc_words) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  t5::test::TempDir tmp;
  std::filesystem::create_symlink(tmp / "loop_b", tmp / "loop_a");
  std::filesystem::create_symlink(tmp / "loop_a", tmp / "loop_b");
  const std::string too_long(300, 'x');
  const std::vector<std::vector<std::string>> cases = {
      {"inspect", "--model", too_long},
      {"inspect", "--model", (tmp / "loop_a").string()},
      {"generate", "--model", (tmp / "loop_a").string(), "42"},
      {"tokenize", "--model", too_long, "42"},
      {"tokenize", "--spm", (tmp / "loop_a").string(), "42"},
      {"generate", "--model", demo, "--input", "a\nb"},
      {"generate", "--model", demo, "--input", too_long},
      {"encode", "--model", demo, "--out", (tmp / "loop_a").string(), "42"},
      {"encode", "--model", demo, "--out", (tmp / too_long).string(), "42"},
      {"encode", "--model", demo, "--out", (tmp / "absent" / "x").string(), "42"},
  };
  for (const auto& args : cases) {
    const auto r = t5cc(args, std::chrono::seconds(30));
    std::string what;
    for (const auto& a : args) what += (what.empty() ? "" : " ") + a.substr(0, 60);
    BOOST_TEST(r.status == 1, what << ": " << r.err);
    expect_one_line_in_t5cc_words(r, what);
  }
  const auto full = t5::test::run_command({"/bin/bash", "-c", "exec '" + t5::test::t5cc_binary() + "' tokenize --model '" + demo + "' 42 > /dev/full"});
  BOOST_TEST(full.status == 1, full.err);
  expect_one_line_in_t5cc_words(full, "stdout on /dev/full");
  BOOST_TEST(full.err.find("No space left on device") != std::string::npos, full.err);
}

// --device cuda --dtype: refused with a clear error where the build or the machine has no GPU; on a
// GPU, the demo's output in bf16 and f16 equals the CPU's (its margins are >= 14.4), and encode runs.
BOOST_AUTO_TEST_CASE(device_cuda) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  expect_error({"generate", "--model", demo, "--fp16-scales", "s.json", "x"}, 2, "--fp16-scales is for --dtype f16");
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
// --dtype bf16, int8 and f16 (the GPU's numbers, emulated) on the CPU: the demo model's words equal
// float32's (its greedy margins are >= 14.4 logits, far above the products' rounding), on a model
// small enough that oneDNN keeps some int8 weights in the plain layout.
BOOST_AUTO_TEST_CASE(cpu_low_precision_on_the_demo) {
  const std::string demo = std::getenv("T5CC_DEMO_MODEL");
  const std::vector<std::string> args = {"generate", "--model", demo, "--quiet", "42", "1999", "700017"};
  const auto f32 = t5cc(args);
  BOOST_TEST_REQUIRE(f32.status == 0, f32.err);
  for (const char* dtype : {"bf16", "int8", "f16"}) {
    auto with_dtype = args;
    with_dtype.insert(with_dtype.begin() + 3, {"--dtype", dtype});
    const auto r = t5cc(with_dtype);
    BOOST_TEST(r.status == 0, dtype << ": " << r.err);
    BOOST_TEST(r.out == f32.out, dtype);
  }
}

// t5cc calibrate on a hot fixture (tests/data/hot_v1_1: HF's fp16 overflows on it): before, an f16
// run fails naming the layer; calibrate writes the sidecar beside the weights; after, the f16 run
// succeeds, and --fold-norm-gains runs too.
BOOST_AUTO_TEST_CASE(calibrate_makes_f16_finite) {
  t5::test::TempDir dir;
  for (const char* file : {"config.json", "model.safetensors", "spiece.model"})
    std::filesystem::copy_file(std::filesystem::path(std::getenv("T5CC_TEST_DATA")) / "hot_v1_1" / file, dir.path() / file);
  const std::string model = dir.path().string();
  const std::vector<std::string> texts = {"The quick brown fox jumps over the lazy dog.", "Translate English to German: How old are you?"};
  auto with = [&](std::vector<std::string> args) {
    args.insert(args.end(), texts.begin(), texts.end());
    return args;
  };
  expect_error(with({"encode", "--model", model, "--quiet", "--dtype", "f16"}), 1, "first non-finite in encoder layer 1's ffn.hidden");
  const auto calibrated = t5cc(with({"calibrate", "--model", model, "--quiet", "--max-new-tokens", "8"}));
  BOOST_TEST_REQUIRE(calibrated.status == 0, calibrated.err);
  BOOST_TEST(std::filesystem::exists(dir.path() / "t5cc.fp16_scales.json"));
  BOOST_TEST(calibrated.out.find("wrote ") != std::string::npos, calibrated.out);
  for (const std::vector<std::string>& extra : {std::vector<std::string>{}, {"--fold-norm-gains"}}) {
    auto args = with({"generate", "--model", model, "--quiet", "--dtype", "f16", "--max-new-tokens", "4"});
    args.insert(args.begin() + 6, extra.begin(), extra.end());
    const auto r = t5cc(args);
    BOOST_TEST(r.status == 0, r.err);
  }
  expect_error(with({"calibrate", "--model", model, "--dtype", "bf16"}), 2, "--dtype");
  expect_error(with({"calibrate", "--model", model, "--headroom", "3"}), 2, "must be a power of two");
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


// Each --preset on a diffusers-layout fixture (encoder and tokenizer in sibling folders, as
// save_pretrained lays them out) equals the prompt embeddings diffusers' own code computed
// (tools/make_fixtures.py build_diffusers), within the parity tolerance; the tokenizer is found in
// the sibling folder whether --model names the encoder folder or its weights file.
BOOST_AUTO_TEST_CASE(presets_equal_diffusers) {
  const t5::test::TempDir tmp;
  const std::filesystem::path root = t5::test::test_data() / "diffusers";
  const auto prompts = t5::Json::parse(t5::read_text_file(root / "diffusers.json")).at("prompts").get<std::vector<std::string>>();
  const std::vector<std::tuple<std::string, std::string, std::string>> cases = {
      {"flux-dev", "flux", "text_encoder_2"}, {"flux-schnell", "flux", "text_encoder_2/model.safetensors"}, {"sd3", "sd3", "text_encoder_3"},
      {"pixart-sigma", "pixart", "text_encoder"}, {"wan", "wan", "text_encoder"}};
  for (const auto& [preset, pipe, encoder] : cases) {
    const std::string file = (tmp.path() / (preset + ".safetensors")).string();
    std::vector<std::string> args = {"encode", "--model", (root / pipe / encoder).string(), "--preset", preset, "--out", file, "--threads", "1"};
    args.insert(args.end(), prompts.begin(), prompts.end());
    const auto r = t5cc(args);
    BOOST_TEST_REQUIRE(r.status == 0, preset << ": " << r.err);
    const t5::test::Goldens goldens(root / pipe / "goldens.safetensors");
    const auto agreement = t5::test::compare(written_states(file), goldens.floats(preset));
    BOOST_TEST(agreement.ok(), preset << ": " << agreement);
    if (preset == "pixart-sigma") {
      const t5::io::SafetensorsFile out(file);
      const auto* mask = out.find("attention_mask");
      BOOST_TEST_REQUIRE(mask != nullptr);
      std::vector<std::int64_t> ours(mask->nbytes() / 8);
      std::memcpy(ours.data(), out.data(*mask).data(), mask->nbytes());
      BOOST_TEST(ours == goldens.ints("pixart-sigma_mask"), boost::test_tools::per_element());
    }
  }
  // A preset and the flags it sets do not go together.
  const auto both = t5cc({"encode", "--model", (root / "flux" / "text_encoder_2").string(), "--preset", "sd3", "--pad-to", "8", "x"});
  BOOST_TEST(both.status == 2);
  BOOST_TEST(both.err.find("--preset sets --pad-to") != std::string::npos, both.err);
}

// --mask none changes the states exactly at the padding of the shorter input (the tokens of the
// longest input attend to no padding either way); --ids of the tokenizer's ids gives the states of
// the text; generate --output ids prints ids that --ids reads back.
BOOST_AUTO_TEST_CASE(mask_none_and_ids) {
  const t5::test::TempDir tmp;
  const std::string dir = fixture("v1_1_gated").string();
  const auto tok = t5::Tokenizer::from_model_dir(dir);
  const std::vector<std::string> texts = {"The dog.", "A small bird sings near the old river today."};
  auto states = [&](std::vector<std::string> extra, std::vector<std::string> inputs) {
    const std::string file = (tmp.path() / "s.safetensors").string();
    std::vector<std::string> args = {"encode", "--model", dir, "--out", file, "--threads", "1"};
    args.insert(args.end(), extra.begin(), extra.end());
    args.insert(args.end(), inputs.begin(), inputs.end());
    const auto r = t5cc(args);
    BOOST_TEST_REQUIRE(r.status == 0, r.err);
    return written_states(file);
  };
  const auto masked = states({}, texts), unmasked = states({"--mask", "none"}, texts);
  const auto a = static_cast<std::int64_t>(tok.encode(texts[0]).size()), b = static_cast<std::int64_t>(tok.encode(texts[1]).size());
  const std::int64_t d = 48;
  BOOST_TEST_REQUIRE(masked.size() == static_cast<std::size_t>(2 * b * d));
  for (std::int64_t row = 0; row < 2; ++row)
    for (std::int64_t s = 0; s < b; ++s) {
      bool differs = false;
      for (std::int64_t k = 0; k < d; ++k) differs |= masked[static_cast<std::size_t>((row * b + s) * d + k)] != unmasked[static_cast<std::size_t>((row * b + s) * d + k)];
      const bool padded_row = row == 0;  // only input 1 has padding, and with it every position of input 1 attends to more
      BOOST_TEST(differs == padded_row, "row " << row << " position " << s << " (input 1 has " << a << " tokens)");
    }
  std::vector<std::string> id_lines;
  for (const auto& t : texts) {
    std::string line;
    for (const auto id : tok.encode(t)) line += (line.empty() ? "" : " ") + std::to_string(id);
    id_lines.push_back(line);
  }
  BOOST_TEST(states({"--ids"}, id_lines) == masked, boost::test_tools::per_element());
  const auto bad = t5cc({"encode", "--model", dir, "--ids", "5 x 7"});
  BOOST_TEST(bad.status == 1);
  BOOST_TEST(bad.err.find("input 1: \"x\" is not a token id of this model") != std::string::npos, bad.err);
  const auto gen = t5cc({"generate", "--model", dir, "--ids", "--output", "ids", "--max-new-tokens", "4", id_lines[0]});
  BOOST_TEST_REQUIRE(gen.status == 0, gen.err);
  const auto text = t5cc({"generate", "--model", dir, "--max-new-tokens", "4", texts[0]});
  BOOST_TEST(tok.decode([&] {
    std::vector<std::int32_t> ids;
    std::istringstream in(gen.out);
    for (std::int32_t id; in >> id;) ids.push_back(id);
    return ids;
  }()) + "\n" == text.out);
}

// A folder of weights without a tokenizer loads; the error comes only when text is needed, after
// the weights were read, and names where t5cc looked and what to pass.
BOOST_AUTO_TEST_CASE(missing_tokenizer_is_reported_when_needed) {
  const t5::test::TempDir tmp;
  const std::filesystem::path lone = tmp.path() / "text_encoder_2";
  std::filesystem::create_directories(lone);
  for (const char* f : {"config.json", "model.safetensors"}) std::filesystem::copy_file(fixture("v1_1_gated") / f, lone / f);
  const auto ids = t5cc({"encode", "--model", lone.string(), "--ids", "5 6 7 1"});
  BOOST_TEST(ids.status == 0, ids.err);
  const auto text = t5cc({"encode", "--model", lone.string(), "The dog."});
  BOOST_TEST(text.status == 1);
  BOOST_TEST(text.err.find("no tokenizer: no spiece.model or tokenizer.json in " + lone.string() + " or in " + (tmp.path() / "tokenizer_2").string()) !=
                 std::string::npos,
             text.err);
  const auto given = t5cc({"encode", "--model", lone.string(), "--tokenizer", (fixture("v1_1_gated") / "spiece.model").string(), "The dog."});
  BOOST_TEST(given.status == 0, given.err);
  const auto json = t5cc({"encode", "--model", (lone / "config.json").string(), "x"});
  BOOST_TEST(json.err.find("a JSON file, not weights") != std::string::npos, json.err);
  // A GGUF encoder runs from its single file with the tokenizer it carries, as with its spiece.model.
  const std::filesystem::path gguf = tmp.path() / "alone" / "t5encoder_q8_0.gguf";
  std::filesystem::create_directories(gguf.parent_path());
  std::filesystem::copy_file(fixture("gguf") / "t5encoder_q8_0.gguf", gguf);
  const std::string own = (tmp.path() / "own.safetensors").string(), beside = (tmp.path() / "beside.safetensors").string();
  const auto a = t5cc({"encode", "--model", gguf.string(), "--out", own, "--threads", "1", "The dog <extra_id_0> the river.", "A bird."});
  BOOST_TEST_REQUIRE(a.status == 0, a.err);
  const auto b = t5cc({"encode", "--model", gguf.string(), "--tokenizer", (fixture("gguf") / "spiece.model").string(), "--out", beside, "--threads",
                       "1", "The dog <extra_id_0> the river.", "A bird."});
  BOOST_TEST_REQUIRE(b.status == 0, b.err);
  BOOST_TEST(written_states(own) == written_states(beside), boost::test_tools::per_element());
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
