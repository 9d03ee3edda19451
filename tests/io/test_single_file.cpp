// Single weights files without config.json, as diffusion pipelines ship their text encoders
// (tests/data/single_file, written by tools/make_fixtures.py): the config inferred from the shapes
// agrees with the config.json transformers wrote for the same model, the states match
// transformers' goldens, a bundle's prefix is stripped, and --config (LoadOptions::config) overrides.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <fstream>
#include <string>
#include <vector>

#include "expect_error.hpp"
#include "goldens.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "t5/load.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;

fs::path single() { return t5::test::test_data() / "single_file"; }

bool has(const std::vector<std::string>& keys, const std::string& key) { return std::find(keys.begin(), keys.end(), key) != keys.end(); }

/// The sizes and policies the shapes and transformers' config.json give must agree.
void same_model(const t5::Checkpoint& ck, const fs::path& hf_dir) {
  const t5::Detected hf = t5::detect(t5::HfConfig::read(hf_dir / "config.json"));
  const t5::Hparams &a = ck.detected().hparams, &b = hf.hparams;
  BOOST_TEST(a.vocab_size == b.vocab_size);
  BOOST_TEST(a.d_model == b.d_model);
  BOOST_TEST(a.d_kv == b.d_kv);
  BOOST_TEST(a.d_ff == b.d_ff);
  BOOST_TEST(a.num_heads == b.num_heads);
  BOOST_TEST(a.num_layers == b.num_layers);
  BOOST_TEST(a.num_buckets == b.num_buckets);
  BOOST_TEST(a.max_distance == b.max_distance);
  BOOST_TEST(a.eps == b.eps);
  BOOST_TEST(t5::describe(ck.detected().policies) == t5::describe(hf.policies));
  BOOST_TEST(ck.detected().encoder_only);
}

void write_config(const fs::path& path, const std::string& text) { std::ofstream(path) << text; }

}  // namespace

BOOST_AUTO_TEST_SUITE(single_file)

// The parity suite's tolerance and its reason (goldens.hpp).
BOOST_AUTO_TEST_CASE(f16_encoder_is_inferred_and_matches_transformers) {
  const fs::path file = single() / "t5xxl_fp16.safetensors";
  const auto ck = t5::Checkpoint::open(file);
  same_model(ck, t5::test::test_data() / "v1_1_gated");
  BOOST_TEST(ck.weights().prefix().empty());
  for (const char* key : {"model_type", "d_model", "d_kv", "d_ff", "num_heads", "num_layers", "feed_forward_proj", "layer_norm_epsilon"})
    BOOST_TEST(has(ck.inferred(), key), key);
  BOOST_TEST(ck.config().source.find("inferred from the tensor shapes") != std::string::npos, ck.config().source);
  const t5::test::Goldens goldens(single() / "goldens_fp16.safetensors");
  auto model = t5::load(file, {.threads = 1});
  BOOST_TEST(!model->has_decoder());
  const auto states = t5::test::compare(model->encode(goldens.batch("input_ids", "attention_mask")).values, goldens.floats("encoder_last_hidden_state"));
  BOOST_TEST(states.ok(), "encoder states: " << states);
}

BOOST_AUTO_TEST_CASE(bundle_prefix_is_stripped) {
  const auto ck = t5::Checkpoint::open(single() / "bundle.safetensors");
  BOOST_TEST(ck.weights().prefix() == "text_encoders.t5xxl.transformer.");
  BOOST_TEST(ck.weights().set_aside() == 1u);  // the clip_l tensor beside it
  BOOST_TEST(ck.weights().description().find("prefix \"text_encoders.t5xxl.transformer.\"") != std::string::npos, ck.weights().description());
  same_model(ck, t5::test::test_data() / "v1_1_gated");
  // The same weights as the unprefixed file: the same states, bit for bit.
  const t5::test::Goldens goldens(single() / "goldens_fp16.safetensors");
  const auto input = goldens.batch("input_ids", "attention_mask");
  BOOST_TEST(t5::load(single() / "bundle.safetensors", {.threads = 1})->encode(input).values ==
             t5::load(single() / "t5xxl_fp16.safetensors", {.threads = 1})->encode(input).values);
}

BOOST_AUTO_TEST_CASE(umt5_encoder_has_a_table_per_layer) {
  const auto ck = t5::Checkpoint::open(single() / "umt5_encoder.safetensors");
  same_model(ck, t5::test::test_data() / "umt5");
  BOOST_TEST(ck.config().model_type == "umt5");
  const t5::test::Goldens goldens(t5::test::test_data() / "umt5" / "goldens.safetensors");
  auto model = t5::load(single() / "umt5_encoder.safetensors", {.threads = 1});
  const auto states = t5::test::compare(model->encode(goldens.batch("input_ids", "attention_mask")).values, goldens.floats("encoder_last_hidden_state"));
  BOOST_TEST(states.ok(), "encoder states: " << states);
}

BOOST_AUTO_TEST_CASE(config_file_overrides_key_by_key) {
  const t5::test::TempDir tmp;
  write_config(tmp.path() / "eps.json", R"({"layer_norm_epsilon": 0.001})");
  const auto ck = t5::Checkpoint::open(single() / "t5xxl_fp16.safetensors", tmp.path() / "eps.json");
  BOOST_TEST(ck.detected().hparams.eps == 0.001);
  BOOST_TEST(!has(ck.inferred(), "layer_norm_epsilon"));
  BOOST_TEST(has(ck.inferred(), "d_model"));
  BOOST_TEST(ck.config().source.find("eps.json over ") != std::string::npos, ck.config().source);
  // Over a directory's own config.json too; a config that contradicts the shapes is refused by name.
  write_config(tmp.path() / "heads.json", R"({"num_heads": 3})");
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(t5::test::test_data() / "v1_1_gated", tmp.path() / "heads.json"); },
                         t5::ErrorCode::ShapeMismatch, "heads.json over ");
  write_config(tmp.path() / "array.json", "[1]");
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(single() / "t5xxl_fp16.safetensors", tmp.path() / "array.json"); },
                         t5::ErrorCode::InvalidConfig, "expected a JSON object");
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(single() / "t5xxl_fp16.safetensors", tmp.path() / "absent.json"); },
                         t5::ErrorCode::Io, "absent.json");
}

BOOST_AUTO_TEST_CASE(what_cannot_be_inferred_is_named) {
  const t5::test::TempDir tmp;
  const std::vector<float> m(4 * 4, 0.5f);
  {  // no position-bias table: the heads are unknown
    t5::io::SafetensorsWriter w;
    w.add<float>("shared.weight", {4, 4}, m);
    w.add<float>("encoder.block.0.layer.0.SelfAttention.q.weight", {4, 4}, m);
    w.write(tmp.path() / "no_bias.safetensors");
  }
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(tmp.path() / "no_bias.safetensors"); }, t5::ErrorCode::Format,
                         "cannot be inferred from the tensors: no tensor \"encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight\"");
  {  // two encoders under two prefixes
    t5::io::SafetensorsWriter w;
    w.add<float>("a.encoder.block.0.layer.0.SelfAttention.q.weight", {4, 4}, m);
    w.add<float>("b.encoder.block.0.layer.0.SelfAttention.q.weight", {4, 4}, m);
    w.write(tmp.path() / "two.safetensors");
  }
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(tmp.path() / "two.safetensors"); }, t5::ErrorCode::Format,
                         "2 T5 encoders, under the prefixes \"a.\", \"b.\"");
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(tmp.path() / "absent.safetensors"); }, t5::ErrorCode::Io, "no such file or directory");
}

BOOST_AUTO_TEST_SUITE_END()
