// HfConfig: the fields of a HuggingFace config.json (T5Config, MT5Config, UMT5Config) that change
// the computation, with transformers 4.49's defaults per model_type and its precedence rules.
// Unknown keys are ignored; a known key with a value of the wrong type is an error.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "t5/config/hparams.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"

namespace t5 {

struct HfConfig {
  std::string source;      ///< the file it came from, for messages
  std::string model_type;  ///< "t5", "mt5" or "umt5"
  Hparams hparams;
  std::string feed_forward_proj;  ///< as written, or the model_type's default
  std::string dense_act_fn;       ///< effective activation name (ACT2FN key)
  bool is_gated_act = false;      ///< effective
  bool activation_keys_explicit = false;  ///< dense_act_fn or is_gated_act appeared in the file
  bool tie_word_embeddings = true;
  bool scale_qk = false;          ///< non-HF key: models trained with the 1/sqrt(d_kv) attention scale
  std::string torch_dtype;        ///< informational
  std::vector<std::string> architectures;  ///< informational

  /// Parses config.json text. Throws Error(InvalidConfig) for bad values or types,
  /// Error(UnsupportedVariant) for a model_type outside the T5 family, Error(Format) for bad JSON.
  static HfConfig parse(std::string_view text, const std::string& source) { return from(parse_json_strict(text, source, "key"), source); }

  /// A config from its parsed JSON (an inferred or merged object), as parse() reads text.
  static HfConfig from(const Json& j, const std::string& source) {
    return with_json_errors(source, ErrorCode::InvalidConfig, [&] { return from_json(j, source); });
  }

  /// Reads and parses a config.json file. Throws Error(Io) when it cannot be read.
  static HfConfig read(const std::filesystem::path& path) { return parse(read_text_file(path), path.string()); }

  /// "dense_act_fn \"gelu_new\", is_gated_act true" or "feed_forward_proj \"gated-gelu\"": the
  /// evidence the activation came from, for messages.
  std::string activation_evidence() const {
    if (activation_keys_explicit)
      return "dense_act_fn " + quoted_text(dense_act_fn) + ", is_gated_act " + (is_gated_act ? "true" : "false");
    return "feed_forward_proj " + quoted_text(feed_forward_proj);
  }

 private:
  static HfConfig from_json(const Json& j, const std::string& source) {
    if (!j.is_object()) throw Error(ErrorCode::InvalidConfig, source + ": expected a JSON object, found " + json_type_name(j));
    auto fail = [&](const std::string& key, const std::string& what) -> Error {
      return Error(ErrorCode::InvalidConfig, source + ": key \"" + key + "\" " + what);
    };
    auto type_error = [&](const std::string& key, const char* expected) -> Error {
      return fail(key, std::string("must be ") + expected + ", found " + json_type_name(j.at(key)) + " " + json_excerpt(j.at(key)));
    };
    auto get_int = [&](const char* key, std::int64_t fallback) -> std::int64_t {
      if (!j.contains(key)) return fallback;
      const auto& v = j.at(key);
      if (v.is_number_unsigned() && v.get<std::uint64_t>() > static_cast<std::uint64_t>(INT64_MAX)) throw type_error(key, "an integer below 2^63");
      if (!v.is_number_integer()) throw type_error(key, "an integer");
      return v.get<std::int64_t>();
    };
    auto get_optional_int = [&](const char* key) -> std::optional<std::int64_t> {
      if (!j.contains(key) || j.at(key).is_null()) return std::nullopt;  // null means "None" in transformers
      return get_int(key, 0);
    };
    auto get_string = [&](const char* key, std::string fallback) -> std::string {
      if (!j.contains(key)) return fallback;
      if (!j.at(key).is_string()) throw type_error(key, "a string");
      return j.at(key).get<std::string>();
    };
    auto get_bool = [&](const char* key, bool fallback) -> bool {
      if (!j.contains(key)) return fallback;
      if (!j.at(key).is_boolean()) throw type_error(key, "true or false");
      return j.at(key).get<bool>();
    };

    HfConfig c;
    c.source = source;
    if (!j.contains("model_type"))
      throw Error(ErrorCode::InvalidConfig, source + ": no \"model_type\" key (expected \"t5\", \"mt5\" or \"umt5\")");
    c.model_type = get_string("model_type", "");
    const bool t5 = c.model_type == "t5";
    if (!t5 && c.model_type != "mt5" && c.model_type != "umt5")
      throw Error(ErrorCode::UnsupportedVariant, source + ": model_type " + quoted_text(c.model_type) +
                                                     " is not supported (t5cc runs \"t5\", \"mt5\" and \"umt5\")");

    // Defaults: T5Config, MT5Config and UMT5Config constructors in transformers 4.49.
    Hparams& h = c.hparams;
    h.vocab_size = get_int("vocab_size", t5 ? 32128 : 250112);
    h.d_model = get_int("d_model", 512);
    h.d_kv = get_int("d_kv", 64);
    h.d_ff = get_int("d_ff", t5 ? 2048 : 1024);
    h.num_layers = get_int("num_layers", t5 ? 6 : 8);
    h.num_decoder_layers = get_optional_int("num_decoder_layers").value_or(h.num_layers);
    h.num_heads = get_int("num_heads", t5 ? 8 : 6);
    h.num_buckets = get_int("relative_attention_num_buckets", 32);
    h.max_distance = get_int("relative_attention_max_distance", 128);
    if (j.contains("layer_norm_epsilon")) {
      if (!j.at("layer_norm_epsilon").is_number()) throw type_error("layer_norm_epsilon", "a number");
      h.eps = j.at("layer_norm_epsilon").get<double>();
    }
    if (j.contains("pad_token_id") && j.at("pad_token_id").is_null()) throw fail("pad_token_id", "must be a token id, found null");
    if (j.contains("eos_token_id") && j.at("eos_token_id").is_null()) throw fail("eos_token_id", "must be a token id, found null");
    h.pad_id = get_int("pad_token_id", 0);
    h.eos_id = get_int("eos_token_id", 1);
    // T5Config has no decoder_start_token_id default; T5 starts decoding from the pad id (0 in
    // every published checkpoint), which MT5Config and UMT5Config make explicit.
    h.decoder_start_id = get_optional_int("decoder_start_token_id").value_or(h.pad_id);

    // Activation, as T5Config.__init__ derives it from feed_forward_proj ("relu", "gated-gelu", ...);
    // explicit dense_act_fn / is_gated_act keys are applied afterwards by PretrainedConfig and win.
    c.feed_forward_proj = get_string("feed_forward_proj", t5 ? "relu" : "gated-gelu");
    const auto dash = c.feed_forward_proj.find('-');
    const bool gated_prefix = dash != std::string::npos && c.feed_forward_proj.substr(0, dash) == "gated";
    if (c.feed_forward_proj.empty() || (dash != std::string::npos && (!gated_prefix || c.feed_forward_proj.find('-', dash + 1) != std::string::npos)))
      throw fail("feed_forward_proj", "must be \"ACT\" or \"gated-ACT\" (for example \"relu\" or \"gated-gelu\"), found " + quoted_text(c.feed_forward_proj));
    c.is_gated_act = gated_prefix;
    c.dense_act_fn = gated_prefix ? c.feed_forward_proj.substr(dash + 1) : c.feed_forward_proj;
    if (c.feed_forward_proj == "gated-gelu") c.dense_act_fn = "gelu_new";  // transformers' backward-compatibility rule
    c.activation_keys_explicit = j.contains("dense_act_fn") || j.contains("is_gated_act");
    c.dense_act_fn = get_string("dense_act_fn", c.dense_act_fn);
    c.is_gated_act = get_bool("is_gated_act", c.is_gated_act);

    c.tie_word_embeddings = get_bool("tie_word_embeddings", c.model_type != "mt5");
    c.scale_qk = get_bool("scale_qk", false);
    c.torch_dtype = j.contains("torch_dtype") && j.at("torch_dtype").is_string() ? j.at("torch_dtype").get<std::string>() : "";
    if (j.contains("architectures") && j.at("architectures").is_array())
      for (const auto& a : j.at("architectures"))
        if (a.is_string()) c.architectures.push_back(a.get<std::string>());

    h.validate(source);
    return c;
  }
};

}  // namespace t5
