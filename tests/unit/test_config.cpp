// config.json parsing and Hparams validation, on configs shaped like the published ones
// (google-t5/t5-small, t5-3b, google/t5-v1_1-base, flan-t5-large, mt5-small, umt5-small,
// EleutherAI/pile-t5-base). Expected values are those of the published model cards and of
// transformers 4.49's config classes (defaults per model_type, dense_act_fn over feed_forward_proj).
#include <boost/test/unit_test.hpp>

#include <string>
#include <vector>

#include "print.hpp"
#include "t5/config/hf_config.hpp"
#include "t5/core/error.hpp"
#include "t5/core/policies.hpp"
#include "t5/io/detect.hpp"

namespace {

// The keys of the published config.json files (task_specific_params and other unused keys trimmed
// where they are long; unknown keys that remain must be ignored).
const char* const t5_small = R"({
  "architectures": ["T5ForConditionalGeneration"], "d_ff": 2048, "d_kv": 64, "d_model": 512,
  "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "initializer_factor": 1.0,
  "is_encoder_decoder": true, "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
  "num_heads": 8, "num_layers": 6, "output_past": true, "pad_token_id": 0,
  "relative_attention_num_buckets": 32,
  "task_specific_params": {"summarization": {"early_stopping": true, "max_length": 200, "prefix": "summarize: "}},
  "vocab_size": 32128})";

const char* const t5_3b = R"({
  "architectures": ["T5WithLMHeadModel"], "d_ff": 16384, "d_kv": 128, "d_model": 1024,
  "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "initializer_factor": 1.0,
  "is_encoder_decoder": true, "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
  "num_heads": 32, "num_layers": 24, "output_past": true, "pad_token_id": 0,
  "relative_attention_num_buckets": 32, "vocab_size": 32128})";

const char* const t5_v1_1_base = R"({
  "architectures": ["T5ForConditionalGeneration"], "d_ff": 2048, "d_kv": 64, "d_model": 768,
  "decoder_start_token_id": 0, "dropout_rate": 0.1, "eos_token_id": 1, "feed_forward_proj": "gated-gelu",
  "initializer_factor": 1.0, "is_encoder_decoder": true, "layer_norm_epsilon": 1e-06, "model_type": "t5",
  "num_decoder_layers": 12, "num_heads": 12, "num_layers": 12, "output_past": true, "pad_token_id": 0,
  "relative_attention_num_buckets": 32, "tie_word_embeddings": false, "vocab_size": 32128})";

const char* const flan_t5_large = R"({
  "architectures": ["T5ForConditionalGeneration"], "d_ff": 2816, "d_kv": 64, "d_model": 1024,
  "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1,
  "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": true,
  "is_gated_act": true, "layer_norm_epsilon": 1e-06, "model_type": "t5", "n_positions": 512,
  "num_decoder_layers": 24, "num_heads": 16, "num_layers": 24, "output_past": true, "pad_token_id": 0,
  "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
  "tie_word_embeddings": false, "torch_dtype": "float32", "transformers_version": "4.23.1",
  "use_cache": true, "vocab_size": 32128})";

const char* const mt5_small = R"({
  "_name_or_path": "/home/patrick/hugging_face/t5/mt5-small", "architectures": ["MT5ForConditionalGeneration"],
  "d_ff": 1024, "d_kv": 64, "d_model": 512, "decoder_start_token_id": 0, "dropout_rate": 0.1,
  "eos_token_id": 1, "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": true,
  "layer_norm_epsilon": 1e-06, "model_type": "mt5", "num_decoder_layers": 8, "num_heads": 6, "num_layers": 8,
  "pad_token_id": 0, "relative_attention_num_buckets": 32, "tie_word_embeddings": false,
  "tokenizer_class": "T5Tokenizer", "transformers_version": "4.10.0.dev0", "use_cache": true, "vocab_size": 250112})";

const char* const umt5_small = R"({
  "architectures": ["UMT5ForConditionalGeneration"], "d_ff": 1024, "d_kv": 64, "d_model": 512,
  "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.1, "eos_token_id": 1,
  "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": true, "is_gated_act": true,
  "layer_norm_epsilon": 1e-06, "model_type": "umt5", "num_decoder_layers": 8, "num_heads": 6, "num_layers": 8,
  "output_past": true, "pad_token_id": 0, "relative_attention_max_distance": 128,
  "relative_attention_num_buckets": 32, "scalable_attention": true, "tie_word_embeddings": false,
  "tokenizer_class": "T5Tokenizer", "transformers_version": "4.31.0", "use_cache": true, "vocab_size": 256384})";

const char* const pile_t5_base = R"({
  "architectures": ["UMT5ForConditionalGeneration"], "d_ff": 2048, "d_kv": 64, "d_model": 768,
  "decoder_start_token_id": 0, "dense_act_fn": "gelu_new", "dropout_rate": 0.0, "eos_token_id": 2,
  "feed_forward_proj": "gated-gelu", "initializer_factor": 1.0, "is_encoder_decoder": true, "is_gated_act": true,
  "layer_norm_epsilon": 1e-06, "model_type": "umt5", "num_decoder_layers": 12, "num_heads": 12, "num_layers": 12,
  "pad_token_id": 0, "relative_attention_max_distance": 128, "relative_attention_num_buckets": 32,
  "scalable_attention": true, "tie_word_embeddings": false, "torch_dtype": "float32", "use_cache": true,
  "vocab_size": 32128})";

t5::Detected detect_text(const std::string& text) { return t5::detect(t5::HfConfig::parse(text, "config.json")); }

/// The error parsing `text` raises; fails the test when it parses.
t5::Error error_of(const std::string& text) {
  try {
    (void)detect_text(text);
  } catch (const t5::Error& e) {
    return e;
  }
  BOOST_FAIL("expected t5::Error for " << text);
  return t5::Error(t5::ErrorCode::InvalidArgument, "");
}

t5::ErrorCode code_of(const std::string& text) { return error_of(text).code(); }
std::string message_of(const std::string& text) { return error_of(text).what(); }

}  // namespace

BOOST_AUTO_TEST_SUITE(config)

BOOST_AUTO_TEST_CASE(t5_small_is_v1_0) {
  const auto d = detect_text(t5_small);
  BOOST_TEST(d.preset() == "v1_0");
  BOOST_TEST(d.hparams.d_model == 512);
  BOOST_TEST(d.hparams.d_ff == 2048);
  BOOST_TEST(d.hparams.num_heads == 8);
  BOOST_TEST(d.hparams.num_layers == 6);
  BOOST_TEST(d.hparams.num_decoder_layers == 6);  // absent: defaults to num_layers
  BOOST_TEST(d.hparams.max_distance == 128);      // absent: T5Config default
  BOOST_TEST(d.hparams.vocab_size == 32128);
}

BOOST_AUTO_TEST_CASE(t5_3b_inner_width_differs_from_d_model) {
  const auto d = detect_text(t5_3b);
  BOOST_TEST(d.preset() == "v1_0");
  BOOST_TEST(d.hparams.d_model == 1024);
  BOOST_TEST(d.hparams.d_kv == 128);
  BOOST_TEST(d.hparams.inner_dim() == 4096);
}

BOOST_AUTO_TEST_CASE(t5_v1_1_and_flan_are_v1_1) {
  for (const char* text : {t5_v1_1_base, flan_t5_large}) {
    const auto d = detect_text(text);
    BOOST_TEST(d.preset() == "v1_1");
    BOOST_TEST(d.policies.gelu == t5::GeluApprox::Tanh);  // "gated-gelu" means gelu_new
  }
  BOOST_TEST(detect_text(flan_t5_large).hparams.d_ff == 2816);
}

BOOST_AUTO_TEST_CASE(mt5_is_v1_1_with_its_defaults) {
  const auto d = detect_text(mt5_small);
  BOOST_TEST(d.preset() == "v1_1");
  BOOST_TEST(d.hparams.vocab_size == 250112);
  // MT5Config defaults: untied, gated-gelu, 8 layers, 6 heads, d_ff 1024.
  const auto bare = detect_text(R"({"model_type": "mt5"})");
  BOOST_TEST(bare.preset() == "v1_1");
  BOOST_TEST(bare.hparams.num_layers == 8);
  BOOST_TEST(bare.hparams.num_heads == 6);
  BOOST_TEST(bare.hparams.d_ff == 1024);
}

BOOST_AUTO_TEST_CASE(umt5_and_pile_t5_are_umt5) {
  const auto u = detect_text(umt5_small);
  BOOST_TEST(u.preset() == "umt5");
  BOOST_TEST(u.hparams.vocab_size == 256384);
  const auto p = detect_text(pile_t5_base);
  BOOST_TEST(p.preset() == "umt5");
  BOOST_TEST(p.hparams.eos_id == 2);  // Llama tokenizer ids
  BOOST_TEST(p.hparams.pad_id == 0);
  // "scalable_attention" is in these files and ignored by transformers: no attention scale.
  BOOST_TEST(p.policies.attn_scale == t5::AttnScale::Off);
}

BOOST_AUTO_TEST_CASE(umt5_defaults_to_tied) {
  // UMT5Config's own default is tie_word_embeddings=True (and HF then rescales by d_model^-0.5).
  const auto d = detect_text(R"({"model_type": "umt5"})");
  BOOST_TEST(d.policies.lm_head == t5::LmHead::TiedScaled);
  BOOST_TEST(d.policies.position_bias == t5::PositionBias::PerLayer);
  BOOST_TEST(d.preset().empty());
}

BOOST_AUTO_TEST_CASE(explicit_activation_keys_win_over_feed_forward_proj) {
  // PretrainedConfig applies dense_act_fn / is_gated_act after T5Config derives them.
  const auto relu = detect_text(R"({"model_type": "umt5", "feed_forward_proj": "gated-gelu", "dense_act_fn": "relu", "is_gated_act": false})");
  BOOST_TEST(relu.policies.ffn == t5::Ffn::Relu);
  const auto erf = detect_text(R"({"model_type": "t5", "feed_forward_proj": "gated-gelu", "dense_act_fn": "gelu"})");
  BOOST_TEST(erf.policies.ffn == t5::Ffn::GatedGelu);
  BOOST_TEST(erf.policies.gelu == t5::GeluApprox::Erf);
  const auto gated_from_proj = detect_text(R"({"model_type": "t5", "feed_forward_proj": "gated-gelu_pytorch_tanh"})");
  BOOST_TEST(gated_from_proj.policies.gelu == t5::GeluApprox::Tanh);
  const auto erf_from_proj = detect_text(R"({"model_type": "t5", "feed_forward_proj": "gated-gelu_python"})");
  BOOST_TEST(erf_from_proj.policies.gelu == t5::GeluApprox::Erf);
}

BOOST_AUTO_TEST_CASE(scale_qk_turns_on_the_attention_scale) {
  const auto d = detect_text(R"({"model_type": "t5", "scale_qk": true})");
  BOOST_TEST(d.policies.attn_scale == t5::AttnScale::InvSqrtHeadDim);
}

BOOST_AUTO_TEST_CASE(decoder_start_defaults_to_pad) {
  BOOST_TEST(detect_text(R"({"model_type": "t5", "pad_token_id": 5})").hparams.decoder_start_id == 5);
  BOOST_TEST(detect_text(R"({"model_type": "t5", "decoder_start_token_id": null})").hparams.decoder_start_id == 0);
  BOOST_TEST(detect_text(R"({"model_type": "t5", "num_decoder_layers": null, "num_layers": 3})").hparams.num_decoder_layers == 3);
}

BOOST_AUTO_TEST_CASE(unsupported_models_and_activations) {
  BOOST_TEST(code_of(R"({"model_type": "longt5"})") == t5::ErrorCode::UnsupportedVariant);
  BOOST_TEST(message_of(R"({"model_type": "longt5"})").find("longt5") != std::string::npos);
  BOOST_TEST(code_of(R"({"model_type": "t5", "feed_forward_proj": "gated-silu"})") == t5::ErrorCode::UnsupportedVariant);
  BOOST_TEST(message_of(R"({"model_type": "t5", "feed_forward_proj": "gated-silu"})").find("silu") != std::string::npos);
  BOOST_TEST(code_of(R"({"model_type": "t5", "feed_forward_proj": "gelu"})") == t5::ErrorCode::UnsupportedVariant);
  BOOST_TEST(code_of(R"({"model_type": "t5", "dense_act_fn": "quick_gelu", "is_gated_act": true})") == t5::ErrorCode::UnsupportedVariant);
}

BOOST_AUTO_TEST_CASE(bad_values_name_their_key) {
  struct Case {
    const char* text;
    t5::ErrorCode code;
    const char* key;
  };
  const Case cases[] = {
      {R"({"d_model": 512})", t5::ErrorCode::InvalidConfig, "model_type"},
      {R"({"model_type": "t5", "d_model": "512"})", t5::ErrorCode::InvalidConfig, "d_model"},
      {R"({"model_type": "t5", "d_model": 512.5})", t5::ErrorCode::InvalidConfig, "d_model"},
      {R"({"model_type": "t5", "num_heads": 0})", t5::ErrorCode::InvalidConfig, "num_heads"},
      {R"({"model_type": "t5", "d_kv": -64})", t5::ErrorCode::InvalidConfig, "d_kv"},
      {R"({"model_type": "t5", "num_decoder_layers": 0})", t5::ErrorCode::InvalidConfig, "num_decoder_layers"},
      {R"({"model_type": "t5", "vocab_size": 99999999999})", t5::ErrorCode::InvalidConfig, "vocab_size"},
      {R"({"model_type": "t5", "relative_attention_num_buckets": 2})", t5::ErrorCode::InvalidConfig, "relative_attention_num_buckets"},
      {R"({"model_type": "t5", "relative_attention_max_distance": 16})", t5::ErrorCode::InvalidConfig, "relative_attention_max_distance"},
      {R"({"model_type": "t5", "layer_norm_epsilon": 0})", t5::ErrorCode::InvalidConfig, "layer_norm_epsilon"},
      {R"({"model_type": "t5", "eos_token_id": 40000})", t5::ErrorCode::InvalidConfig, "eos_token_id"},
      {R"({"model_type": "t5", "pad_token_id": null})", t5::ErrorCode::InvalidConfig, "pad_token_id"},
      {R"({"model_type": "t5", "tie_word_embeddings": 1})", t5::ErrorCode::InvalidConfig, "tie_word_embeddings"},
      {R"({"model_type": "t5", "feed_forward_proj": "gelu-gated"})", t5::ErrorCode::InvalidConfig, "feed_forward_proj"},
      {R"({"model_type": "t5", "feed_forward_proj": "gated-gelu-new"})", t5::ErrorCode::InvalidConfig, "feed_forward_proj"},
      {R"({"model_type": "t5", "d_model": 512, "d_model": 768})", t5::ErrorCode::Format, "d_model"},
      {R"({"model_type": "t5", )", t5::ErrorCode::Format, "invalid JSON"},
      {R"([1, 2])", t5::ErrorCode::InvalidConfig, "JSON object"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.text) {
      BOOST_TEST(code_of(c.text) == c.code);
      const std::string message = message_of(c.text);
      BOOST_TEST(message.find("config.json") != std::string::npos);
      BOOST_TEST(message.find(c.key) != std::string::npos, message);
    }
  }
}

// core/json.hpp: the rules every JSON file t5cc reads is parsed with.
BOOST_AUTO_TEST_CASE(json_depth_limit_and_excerpts) {
  auto nested = [](int depth) { return std::string(static_cast<std::size_t>(depth), '[') + std::string(static_cast<std::size_t>(depth), ']'); };
  BOOST_CHECK_NO_THROW(t5::parse_json_strict(nested(t5::max_json_depth), "x.json", "key"));  // serde_json's limit, reached
  for (const std::string& text : {nested(t5::max_json_depth + 1), R"({"a": )" + nested(80'000) + "}"}) {
    try {
      (void)t5::parse_json_strict(text, "x.json", "key");
      BOOST_ERROR("no error for nesting of " << text.size() / 2);
    } catch (const t5::Error& e) {
      BOOST_TEST(e.code() == t5::ErrorCode::Format);
      BOOST_TEST(std::string(e.what()).find("x.json: invalid JSON") == 0u, e.what());
      BOOST_TEST(std::string(e.what()).find("nested more than 128") != std::string::npos, e.what());
    }
  }
  // Every nlohmann exception of a parse becomes t5::Error(code), one short line.
  for (const std::string& text : std::vector<std::string>{R"({"a": 1e400})", R"({"a": -1e400})", "{\"a\": \"" + std::string(100'000, 'y') + "\n\"}", "\xff"}) {
    try {
      (void)t5::parse_json_strict(text, "x.json", "key", t5::ErrorCode::InvalidConfig);
      BOOST_ERROR("no error for " << text.substr(0, 40));
    } catch (const t5::Error& e) {
      BOOST_TEST(e.code() == t5::ErrorCode::InvalidConfig);
      BOOST_TEST(std::string(e.what()).find('\n') == std::string::npos, e.what());
      BOOST_TEST(std::string(e.what()).size() < 300u, e.what());
    }
  }
  // Accessors: a type_error or out_of_range escaping a reader names the file.
  try {
    t5::with_json_errors("x.json", t5::ErrorCode::Format, [] { return t5::Json::parse(R"({"a": "s"})").at("a").get<int>(); });
    BOOST_ERROR("no error for get<int> of a string");
  } catch (const t5::Error& e) {
    BOOST_TEST(e.code() == t5::ErrorCode::Format);
    BOOST_TEST(std::string(e.what()).find("x.json: type must be number") == 0u, e.what());
  }
  BOOST_CHECK_THROW(t5::with_json_errors("x.json", t5::ErrorCode::Format, [] { return t5::Json::object().at("missing"); }), t5::Error);

  // Excerpts: short, one line, cut on a UTF-8 boundary, never a whole serialisation.
  BOOST_TEST(t5::json_excerpt(t5::Json::parse("[1, 2]")) == "[1, 2]");
  BOOST_TEST(t5::json_excerpt(t5::Json("a\nb")) == "\"a\\nb\"");
  const auto long_array = t5::Json(std::vector<int>(1'000'000, 7));
  const std::string array_excerpt = t5::json_excerpt(long_array);
  std::string first_40 = "[7";
  for (int i = 0; i < 12; ++i) first_40 += ", 7";
  BOOST_TEST(array_excerpt == first_40 + ", ...");  // 40 characters, then the cut
  std::string e_acute;  // "\xc3\xa9" pairs: a cut must not split one
  for (int i = 0; i < 50; ++i) e_acute += "\xc3\xa9";
  const std::string cut = t5::quoted_text(e_acute);
  BOOST_TEST(cut.size() <= t5::quote_chars + 5);
  BOOST_TEST(cut.substr(cut.size() - 4) == "...\"");
  BOOST_TEST(t5::Json::parse(cut).get<std::string>().ends_with("..."));  // still valid UTF-8
  BOOST_TEST(t5::quoted_text("plain") == "\"plain\"");
}

// The strict parser builds the same value as nlohmann's plain parse, and in time linear in the
// entries: a safetensors header of 100k tensors (the callback parser it replaced rescanned the
// parent after every nested object: 1.7 s for 20k at -O2, minutes for this under the sanitizers,
// past the suite's timeout).
BOOST_AUTO_TEST_CASE(json_strict_parse_builds_the_plain_value) {
  std::string header = R"({"__metadata__": {"format": "pt"})";
  for (int i = 0; i < 100'000; ++i) {
    header += R"(, "encoder.block.)" + std::to_string(i) + R"(.weight": {"dtype": "F32", "shape": [[)" + std::to_string(i % 7) +
              R"(, [], {}], 2.5, null, true], "data_offsets": [)" + std::to_string(8 * i) + ", " + std::to_string(8 * i + 8) + "]}";
  }
  header += "}";
  const t5::Json strict = t5::parse_json_strict(header, "x.safetensors", "tensor name");
  BOOST_TEST(strict.size() == 100'001u);
  BOOST_TEST((strict == t5::Json::parse(header)));
  for (const std::string text : {"0", "-3", "\"s\"", "[]", "{}", "[[1], [2, [3, {\"a\": [4]}]], 5]", "{\"a\": {\"b\": {}}, \"c\": [{}, []]}"})
    BOOST_TEST((t5::parse_json_strict(text, "x.json", "key") == t5::Json::parse(text)), text);
  for (const std::string text : {"", "[1] 2", "{\"a\" 1}", "[1,]", "{\"a\": {\"b\": 1, \"b\": 2}}"})
    BOOST_CHECK_THROW(t5::parse_json_strict(text, "x.json", "key"), t5::Error);
}

BOOST_AUTO_TEST_CASE(config_values_are_quoted_briefly) {
  const std::string text = R"({"model_type": ")" + std::string(10'000, 'm') + "\"}";
  const std::string message = message_of(text);
  BOOST_TEST(code_of(text) == t5::ErrorCode::UnsupportedVariant);
  BOOST_TEST(message.size() < 200u, message);
  BOOST_TEST(message.find("mmmm...\"") != std::string::npos, message);
  BOOST_TEST(message_of(R"({"model_type": "t5", "d_model": [)" + std::string(5000, '1') + "]}").size() < 300u);
}

BOOST_AUTO_TEST_CASE(hparams_validate_direct) {
  t5::Hparams h;
  BOOST_CHECK_NO_THROW(h.validate("x"));
  h.max_distance = h.num_buckets / 2;
  BOOST_CHECK_THROW(h.validate("x"), t5::Error);
  h = t5::Hparams{};
  h.decoder_start_id = -1;
  BOOST_CHECK_THROW(h.validate("x"), t5::Error);
}

BOOST_AUTO_TEST_SUITE_END()
