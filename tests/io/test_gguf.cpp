// GGUF files (io/gguf.hpp, gguf_quants.hpp) written by gguf-py (tools/make_fixtures.py, tests/data/gguf):
// every decoded type equals gguf-py's dequantize bit for bit; llama.cpp's T5 names become
// transformers' (the fixtures were named by gguf-py's own tensor name map); the t5encoder Q8_0 and
// K-quant encoders and the t5 encoder-decoder compute what transformers computes from the weights
// gguf-py decodes; malformed files, built here byte by byte, are refused by name.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <bit>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include "expect_error.hpp"
#include "goldens.hpp"
#include "t5/core/json.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/gguf.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/load.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using t5::ErrorCode;

fs::path gguf_data() { return t5::test::test_data() / "gguf"; }

/// A GGUF file built field by field, to break one field at a time.
class GgufBuilder {
 public:
  std::uint32_t version = 3;
  std::string magic = "GGUF";
  std::uint64_t alignment = 32;

  GgufBuilder& u32(const std::string& key, std::uint32_t v) { return kv(key, 4, number(v, 4)); }
  GgufBuilder& i32(const std::string& key, std::int32_t v) { return kv(key, 5, number(static_cast<std::uint32_t>(v), 4)); }
  GgufBuilder& f32(const std::string& key, float v) { return kv(key, 6, number(std::bit_cast<std::uint32_t>(v), 4)); }
  GgufBuilder& str(const std::string& key, const std::string& v) { return kv(key, 8, string(v)); }
  /// A key with a raw type number and value bytes.
  GgufBuilder& kv(const std::string& key, std::uint32_t type, const std::string& value) {
    metadata_ += string(key) + number(type, 4) + value;
    ++metadata_count_;
    return *this;
  }
  /// A tensor with dims innermost first, of ggml type `type`, holding `data` at `offset` (default: next).
  GgufBuilder& tensor(const std::string& name, std::vector<std::uint64_t> dims, std::uint32_t type, const std::string& data,
                      std::int64_t offset = -1) {
    const std::uint64_t at = offset >= 0 ? static_cast<std::uint64_t>(offset) : (data_.size() + alignment - 1) / alignment * alignment;
    infos_ += string(name) + number(dims.size(), 4);
    for (auto d : dims) infos_ += number(d, 8);
    infos_ += number(type, 4) + number(at, 8);
    if (data_.size() < at + data.size()) data_.resize(at + data.size(), '\0');
    data_.replace(at, data.size(), data);
    ++tensor_count_;
    return *this;
  }
  std::uint64_t tensor_count_override = UINT64_MAX, metadata_count_override = UINT64_MAX;

  std::string bytes() const {
    std::string out = magic + number(version, 4) + number(tensor_count_override != UINT64_MAX ? tensor_count_override : tensor_count_, 8) +
                      number(metadata_count_override != UINT64_MAX ? metadata_count_override : metadata_count_, 8) + metadata_ + infos_;
    out.resize((out.size() + alignment - 1) / alignment * alignment, '\0');
    return out + data_;
  }
  fs::path write(const fs::path& path) const {
    std::ofstream(path, std::ios::binary) << bytes();
    return path;
  }

  static std::string number(std::uint64_t v, int bytes) {
    std::string s;
    for (int i = 0; i < bytes; ++i) s += static_cast<char>((v >> (8 * i)) & 0xff);
    return s;
  }
  static std::string string(const std::string& s) { return number(s.size(), 8) + s; }

 private:
  std::string metadata_, infos_, data_;
  std::uint64_t metadata_count_ = 0, tensor_count_ = 0;
};

/// A one-block Q8_0 row of 32 values: scale 0.5 (f16 0x3800), values 0..31.
std::string q8_0_block() {
  std::string b = GgufBuilder::number(0x3800, 2);
  for (int i = 0; i < 32; ++i) b += static_cast<char>(i);
  return b;
}

/// A valid t5encoder file of one tensor (token_embd, Q8_0, [2, 32]).
GgufBuilder minimal() {
  GgufBuilder g;
  g.str("general.architecture", "t5encoder");
  g.tensor("token_embd.weight", {32, 2}, 8, q8_0_block() + q8_0_block());
  return g;
}

t5::Json manifest() { return t5::Json::parse(t5::read_text_file(gguf_data() / "manifest.json")); }

}  // namespace

BOOST_AUTO_TEST_SUITE(gguf)

BOOST_AUTO_TEST_CASE(every_type_decodes_as_gguf_py_does) {
  const t5::io::GgufFile file(gguf_data() / "quant_values.gguf");
  const t5::io::SafetensorsFile reference(gguf_data() / "quant_values.safetensors");
  int checked = 0;
  const t5::Json types = manifest().at("files").at("quant_values.gguf");
  for (const auto& [name, type] : types.items()) {
    BOOST_TEST_CONTEXT(name) {
      const auto* t = file.find(name);
      const auto* expected = reference.find(type.get<std::string>());
      BOOST_TEST_REQUIRE((t != nullptr && expected != nullptr));
      BOOST_TEST(t->shape == (std::vector<std::int64_t>{4, 256}));
      const t5::WeightSource s = file.source(*t);
      BOOST_TEST_REQUIRE(s.elements() == 1024);
      std::size_t differing = 0;
      for (std::size_t i = 0; i < 1024; ++i) {
        float want;
        std::memcpy(&want, reference.data(*expected).data() + 4 * i, 4);
        differing += std::bit_cast<std::uint32_t>(t5::element_as_float(s.bytes, s.dtype, i)) != std::bit_cast<std::uint32_t>(want);
      }
      BOOST_TEST(differing == 0u, differing << " of 1024 values differ from gguf-py's");
      ++checked;
    }
  }
  BOOST_TEST(checked == 12);
}

// The fixtures' names come from gguf-py's tensor name map (HF -> llama.cpp); reading them back must
// give transformers' names, each with the type gguf-py stored.
BOOST_AUTO_TEST_CASE(names_and_types_are_read_as_written) {
  const t5::Json files = manifest().at("files");
  for (const auto& [file_name, tensors] : files.items()) {
    BOOST_TEST_CONTEXT(file_name) {
      const t5::io::GgufFile file(gguf_data() / file_name);
      BOOST_TEST(file.tensors().size() == tensors.size());
      for (const auto& t : file.tensors()) {
        const std::string stored = file.stored_name(t);
        BOOST_TEST_REQUIRE(tensors.contains(stored), stored);
        const std::string type = tensors.at(stored).get<std::string>();
        BOOST_TEST((t.encoding.empty() ? std::string(t5::dtype_name(t.dtype)) : t.encoding) == type, stored);
      }
    }
  }
  // The map: both FFN in-projections, the decoder's three sublayers, the LM head.
  BOOST_TEST(t5::io::gguf::hf_name("enc.blk.3.ffn_up.weight", false).value() == "encoder.block.3.layer.1.DenseReluDense.wi.weight");
  BOOST_TEST(t5::io::gguf::hf_name("enc.blk.3.ffn_up.weight", true).value() == "encoder.block.3.layer.1.DenseReluDense.wi_1.weight");
  BOOST_TEST(t5::io::gguf::hf_name("dec.blk.11.cross_attn_k.weight", true).value() == "decoder.block.11.layer.1.EncDecAttention.k.weight");
  BOOST_TEST(t5::io::gguf::hf_name("dec.blk.0.ffn_down.weight", true).value() == "decoder.block.0.layer.2.DenseReluDense.wo.weight");
  BOOST_TEST(t5::io::gguf::hf_name("output.weight", true).value() == "lm_head.weight");
  BOOST_TEST(!t5::io::gguf::hf_name("enc.blk.0.cross_attn_q.weight", true));  // the encoder has no cross-attention
  BOOST_TEST(!t5::io::gguf::hf_name("enc.blk.01.attn_q.weight", true));
  BOOST_TEST(!t5::io::gguf::hf_name("blk.0.attn_q.weight", true));
}

// The parity suite's tolerance and its reason (goldens.hpp), on transformers' states from the
// weights gguf-py decodes.
BOOST_AUTO_TEST_CASE(encoders_match_transformers) {
  for (const auto& [file, goldens_file, d_model] :
       {std::tuple{"t5encoder_q8_0.gguf", "goldens_q8_0.safetensors", 64}, std::tuple{"t5encoder_kquants.gguf", "goldens_kquants.safetensors", 256}}) {
    BOOST_TEST_CONTEXT(file) {
      const auto ck = t5::Checkpoint::open(gguf_data() / file);
      BOOST_TEST(ck.detected().encoder_only);
      BOOST_TEST(ck.detected().hparams.d_model == d_model);
      BOOST_TEST(ck.config().source.find("config from the file's metadata") != std::string::npos, ck.config().source);
      // What the metadata gives is not listed as inferred; what it lacks is.
      const auto inferred = [&](const std::string& key) { return std::find(ck.inferred().begin(), ck.inferred().end(), key) != ck.inferred().end(); };
      for (const char* key : {"d_model", "d_ff", "num_heads", "d_kv", "num_layers", "layer_norm_epsilon"}) BOOST_TEST(!inferred(key), key);
      BOOST_TEST(inferred("feed_forward_proj"));
      BOOST_TEST(ck.detected().hparams.eps == 1e-6);
      const t5::test::Goldens goldens(gguf_data() / goldens_file);
      auto model = t5::load(gguf_data() / file, {.threads = 1});
      const auto states = t5::test::compare(model->encode(goldens.batch("input_ids", "attention_mask")).values, goldens.floats("encoder_last_hidden_state"));
      BOOST_TEST(states.ok(), "encoder states: " << states);
    }
  }
}

BOOST_AUTO_TEST_CASE(encoder_decoder_matches_transformers) {
  const auto ck = t5::Checkpoint::open(gguf_data() / "t5_mixed.gguf");
  BOOST_TEST(!ck.detected().encoder_only);
  BOOST_TEST(ck.detected().hparams.num_decoder_layers == 3);  // t5.decoder_block_count
  BOOST_TEST((ck.detected().policies.lm_head == t5::LmHead::Untied));  // output.weight is the lm_head
  const t5::test::Goldens goldens(gguf_data() / "goldens_t5_mixed.safetensors");
  const auto input = goldens.batch("input_ids", "attention_mask");
  auto model = t5::load(gguf_data() / "t5_mixed.gguf", {.threads = 1});
  const auto states = t5::test::compare(model->encode(input).values, goldens.floats("encoder_last_hidden_state"));
  BOOST_TEST(states.ok(), "encoder states: " << states);
  const auto logits = t5::test::compare(model->logits(input, goldens.batch("decoder_input_ids", "decoder_attention_mask")).values, goldens.floats("logits"));
  BOOST_TEST(logits.ok(), "logits: " << logits);
  // Greedy ids exactly (every step decided by 1e-3 or more, asserted by the script).
  const auto golden_ids = goldens.ints("generated_ids");
  const std::int64_t steps = static_cast<std::int64_t>(golden_ids.size()) / input.batch - 1;
  t5::GenerationOptions options;
  options.max_new_tokens = steps;
  const auto rows = model->generate(input, options).token_rows();
  std::vector<std::int64_t> expected;
  for (std::int64_t b = 0; b < input.batch; ++b) expected.insert(expected.end(), golden_ids.begin() + b * (steps + 1) + 1, golden_ids.begin() + (b + 1) * (steps + 1));
  BOOST_TEST(t5::test::padded(rows, steps, 0) == expected, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(metadata_and_layout_are_checked) {
  const t5::test::TempDir tmp;
  const auto path = tmp.path() / "bad.gguf";
  auto refused = [&](const GgufBuilder& g, ErrorCode code, const std::string& fragment) {
    // embedded_config() reads the hparams' metadata, as Checkpoint::open does.
    BOOST_TEST_CONTEXT(fragment) { t5::test::expect_error([&] { (void)t5::io::GgufFile(g.write(path)).embedded_config(); }, code, fragment); }
  };
  (void)t5::io::GgufFile(minimal().write(path));  // the base every case breaks
  {
    GgufBuilder g = minimal();
    g.version = 1;
    refused(g, ErrorCode::Format, "GGUF version 1");
    g.version = 4;
    refused(g, ErrorCode::Format, "GGUF version 4; t5cc reads versions 2 and 3");
    g.version = 0x03000000;
    refused(g, ErrorCode::Format, "a big-endian GGUF file (version 3)");
    g.version = 2;
    (void)t5::io::GgufFile(g.write(path));
  }
  {
    GgufBuilder g = minimal();
    g.tensor_count_override = std::uint64_t{1} << 60;
    refused(g, ErrorCode::Format, "counts 1152921504606846976 tensors");
    g = minimal();
    g.metadata_count_override = 1000;
    refused(g, ErrorCode::Format, "counts 1000 metadata pairs");
  }
  refused(GgufBuilder().str("general.architecture", "llama"), ErrorCode::UnsupportedVariant, "architecture \"llama\", not a T5 model");
  refused(GgufBuilder().u32("general.architecture", 5), ErrorCode::Format, "general.architecture is a uint32, expected a string");
  refused(GgufBuilder().u32("general.alignment", 32), ErrorCode::Format, "no general.architecture");
  refused(minimal().u32("general.alignment", 48), ErrorCode::Format, "general.alignment 48 is not a power of two");
  refused(minimal().str("general.alignment", "32"), ErrorCode::Format, "general.alignment is a string, expected a uint32");
  refused(minimal().str("general.name", "a").str("general.name", "b"), ErrorCode::Format, "metadata key \"general.name\" appears twice");
  refused(minimal().kv("x", 13, ""), ErrorCode::Format, "metadata \"x\": unknown value type 13");
  refused(minimal().kv("x", 7, std::string(1, '\2')), ErrorCode::Format, "boolean byte 2");
  refused(minimal().kv("x", 9, GgufBuilder::number(4, 4) + GgufBuilder::number(std::uint64_t{1} << 62, 8)), ErrorCode::Format, "truncated");
  {
    std::string nested = GgufBuilder::number(9, 4) + GgufBuilder::number(1, 8);  // an array of one array of ...
    std::string value;
    for (int i = 0; i < 12; ++i) value += nested;
    refused(minimal().kv("x", 9, value), ErrorCode::Format, "arrays nested deeper than 8");
  }
  refused(minimal().str("t5encoder.embedding_length", "64"), ErrorCode::Format, "\"t5encoder.embedding_length\" is a string, expected an integer");
  refused(minimal().i32("t5encoder.attention.head_count", -2), ErrorCode::Format, "\"t5encoder.attention.head_count\" is -2, expected 0 to");
  refused(minimal().u32("t5encoder.attention.key_length", 64).u32("t5encoder.attention.value_length", 32), ErrorCode::Format,
          "value_length 32 differs from key_length 64");
  refused(minimal().u32("t5encoder.attention.layer_norm_rms_epsilon", 1), ErrorCode::Format, "is a uint32, expected a float");

  const std::string block = q8_0_block();
  auto with = [](const std::function<void(GgufBuilder&)>& add) {
    GgufBuilder g;
    g.str("general.architecture", "t5");
    add(g);
    return g;
  };
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {32}, 99, block); }), ErrorCode::Format, "tensor \"a.weight\": unknown ggml type 99");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {256}, 16, block); }), ErrorCode::Format,
          "tensor \"a.weight\" has type IQ2_XXS, which t5cc does not read (it reads F32, F16, BF16, Q8_0");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {}, 8, block); }), ErrorCode::Format, "0 dimensions, expected 1 to 4");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {32, 1, 1, 1, 1}, 8, block); }), ErrorCode::Format, "5 dimensions");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {16, 2}, 8, block); }), ErrorCode::Format, "rows of 16 values are not whole Q8_0 blocks of 32");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {32, std::uint64_t{1} << 62}, 8, block); }), ErrorCode::Format, "hold more than 2^64 bytes");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {32, 4}, 8, block); }), ErrorCode::Format, "run past the");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {32}, 8, block, 8); }), ErrorCode::Format, "offset 8 is not a multiple of the alignment 32");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {32}, 8, block).tensor("b.weight", {64}, 8, block + block, 0); }), ErrorCode::Format,
          "overlap in the data section");
  refused(with([&](GgufBuilder& g) { g.tensor("a.weight", {32}, 8, block).tensor("a.weight", {32}, 8, block); }), ErrorCode::Format,
          "tensor \"a.weight\" appears twice");
  refused(with([&](GgufBuilder& g) { g.tensor("token_embd.weight", {32}, 8, block).tensor("shared.weight", {32}, 8, block); }), ErrorCode::Format,
          "tensors \"token_embd.weight\" and \"shared.weight\" both stand for \"shared.weight\"");

  // Every truncation of a valid file is refused, never read past its end.
  const std::string whole = minimal().str("general.name", "tiny").bytes();
  for (std::size_t n = 0; n < whole.size(); ++n) {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << whole.substr(0, n);
    BOOST_CHECK_THROW((void)t5::io::GgufFile(path), t5::Error);
  }
}

BOOST_AUTO_TEST_CASE(loading_refuses_what_the_model_cannot_use) {
  const t5::test::TempDir tmp;
  // A non-finite block scale (f16 0x7e00, NaN) decodes to NaN weights: refused at load, by name.
  GgufBuilder g;
  g.str("general.architecture", "t5encoder");
  std::string nan_block = q8_0_block();
  nan_block[0] = '\0';
  nan_block[1] = '\x7e';
  g.tensor("token_embd.weight", {32, 2}, 8, q8_0_block() + nan_block);
  const auto dir = tmp.path();
  t5::test::expect_error([&] { (void)t5::Checkpoint::open(g.write(dir / "nan.gguf")); }, ErrorCode::Format,
                         "no tensor \"encoder.block.0.layer.0.SelfAttention.q.weight\"");
  const auto nan_source = [&] {
    const t5::io::GgufFile f(dir / "nan.gguf");
    std::vector<float> out(64);
    f.source(*f.find("shared.weight")).convert_to(out.data());
  };
  t5::test::expect_error(nan_source, ErrorCode::Format, "tensor \"shared.weight\": element 32 is nan");
  // A GGUF file is read by content, whatever its name.
  fs::copy_file(gguf_data() / "t5encoder_q8_0.gguf", dir / "encoder.bin");
  BOOST_TEST(t5::Checkpoint::open(dir / "encoder.bin").weights().description() == "encoder.bin (GGUF)");
}

BOOST_AUTO_TEST_SUITE_END()
