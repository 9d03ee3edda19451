// The bad-input corpus: every malformed checkpoint is generated here from a valid one, opened with
// Checkpoint::open, and must fail with the expected ErrorCode and a message naming the file and the
// tensor or key. Nothing may crash (the suite also runs under ASan/UBSan).
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "synthetic_checkpoint.hpp"
#include "print.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using t5::ErrorCode;
using t5::Json;
using t5::test::SyntheticModel;

const std::string q0 = "encoder.block.0.layer.0.SelfAttention.q.weight";

/// A valid tiny v1_1 checkpoint, one file, F32.
SyntheticModel base_model() { return SyntheticModel{}; }

std::string read_bytes(const fs::path& p) { return t5::read_text_file(p); }

/// The header of a safetensors file as JSON, and its data section.
std::pair<Json, std::string> split(const fs::path& p) {
  const std::string bytes = read_bytes(p);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  return {Json::parse(bytes.substr(8, n)), bytes.substr(8 + n)};
}

void rewrite(const fs::path& p, const Json& header, const std::string& data) {
  t5::test::write_raw_safetensors(p, header.dump(), std::as_bytes(std::span<const char>(data.data(), data.size())));
}

/// Edits the header of model.safetensors in `dir`, keeping its data section.
void edit_header(const fs::path& dir, const std::function<void(Json&)>& edit) {
  auto [header, data] = split(dir / "model.safetensors");
  edit(header);
  rewrite(dir / "model.safetensors", header, data);
}

/// Rewrites model.safetensors with the tensors `edit` leaves in the map (name -> (dtype, shape, bytes)).
struct Tensor {
  t5::DType dtype;
  std::vector<std::int64_t> shape;
  std::vector<std::byte> bytes;
};
void edit_tensors(const fs::path& dir, const std::function<void(std::map<std::string, Tensor>&)>& edit) {
  std::map<std::string, Tensor> tensors;
  {
    const t5::io::SafetensorsFile f(dir / "model.safetensors");
    for (const auto& t : f.tensors()) {
      const auto d = f.data(t);
      tensors[t.name] = Tensor{t.dtype, t.shape, {d.begin(), d.end()}};
    }
  }
  edit(tensors);
  t5::io::SafetensorsWriter w;
  for (const auto& [name, t] : tensors) w.add(name, t.dtype, t.shape, t.bytes);
  w.write(dir / "model.safetensors");
}

void edit_config(const fs::path& dir, const std::function<void(Json&)>& edit) {
  Json config = Json::parse(read_bytes(dir / "config.json"));
  edit(config);
  t5::test::write_text(dir / "config.json", config.dump(2));
}

void edit_index(const fs::path& dir, const std::function<void(Json&)>& edit) {
  Json index = Json::parse(read_bytes(dir / "model.safetensors.index.json"));
  edit(index);
  t5::test::write_text(dir / "model.safetensors.index.json", index.dump());
}

struct Case {
  std::string name;
  SyntheticModel model;
  std::function<void(const fs::path&)> corrupt;
  ErrorCode code;
  std::vector<std::string> message_parts;  ///< the file, the tensor or key, and what went wrong
};

std::vector<Case> corpus() {
  std::vector<Case> c;
  const SyntheticModel m = base_model();
  SyntheticModel sharded = m;
  sharded.shards = 2;
  SyntheticModel tied = m;
  tied.policies = t5::v1_0::policies;

  c.push_back({"empty file", m, [](const fs::path& d) { t5::test::write_text(d / "model.safetensors", ""); },
               ErrorCode::Format, {"model.safetensors", "empty"}});
  c.push_back({"shorter than the length field", m, [](const fs::path& d) { t5::test::write_text(d / "model.safetensors", std::string("\x10\0\0", 3)); },
               ErrorCode::Format, {"model.safetensors", "truncated"}});
  c.push_back({"truncated inside the data", m,
               [](const fs::path& d) { fs::resize_file(d / "model.safetensors", fs::file_size(d / "model.safetensors") - 100); },
               ErrorCode::Format, {"model.safetensors", "shared.weight", "truncated"}});
  c.push_back({"header length beyond the file", m,
               [](const fs::path& d) {
                 auto [header, data] = split(d / "model.safetensors");
                 const std::string text = header.dump();
                 t5::test::write_raw_safetensors(d / "model.safetensors", text, {}, text.size() + 1);
               },
               ErrorCode::Format, {"model.safetensors", "header length"}});
  c.push_back({"header length absurd", m,
               [](const fs::path& d) { t5::test::write_raw_safetensors(d / "model.safetensors", "{}", {}, 1ull << 60); },
               ErrorCode::Format, {"model.safetensors", "header length"}});
  c.push_back({"invalid JSON", m,
               [](const fs::path& d) { t5::test::write_raw_safetensors(d / "model.safetensors", R"({"a": {"dtype": "F32",)", {}); },
               ErrorCode::Format, {"model.safetensors", "invalid JSON"}});
  c.push_back({"header is not an object", m,
               [](const fs::path& d) { t5::test::write_raw_safetensors(d / "model.safetensors", "[1, 2, 3]", {}); },
               ErrorCode::Format, {"model.safetensors", "JSON object"}});
  c.push_back({"duplicate tensor names", m,
               [](const fs::path& d) {
                 const std::string entry = R"("x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]})";
                 const std::string data(4, '\0');
                 t5::test::write_raw_safetensors(d / "model.safetensors", "{" + entry + ", " + entry + "}",
                                                 std::as_bytes(std::span<const char>(data.data(), 4)));
               },
               ErrorCode::Format, {"model.safetensors", "duplicate tensor name", "\"x\""}});
  c.push_back({"unknown dtype", m, [](const fs::path& d) { edit_header(d, [](Json& h) { h[q0]["dtype"] = "F13"; }); },
               ErrorCode::Format, {"model.safetensors", q0, "F13"}});
  c.push_back({"missing dtype field", m, [](const fs::path& d) { edit_header(d, [](Json& h) { h[q0].erase("dtype"); }); },
               ErrorCode::Format, {"model.safetensors", q0, "dtype"}});
  c.push_back({"shape times dtype size differs from the byte range", m,
               [](const fs::path& d) { edit_header(d, [](Json& h) { h[q0]["dtype"] = "F16"; }); }, ErrorCode::Format,
               {"model.safetensors", q0, "needs"}});
  c.push_back({"negative dimension", m, [](const fs::path& d) { edit_header(d, [](Json& h) { h[q0]["shape"][0] = -8; }); },
               ErrorCode::Format, {"model.safetensors", q0, "non-negative"}});
  c.push_back({"offsets end before they begin", m,
               [](const fs::path& d) {
                 edit_header(d, [](Json& h) {
                   auto& o = h[q0]["data_offsets"];
                   o = Json::array({o[1], o[0]});
                 });
               },
               ErrorCode::Format, {"model.safetensors", q0, "ends before it begins"}});
  c.push_back({"range outside the data section", m,
               [](const fs::path& d) {
                 edit_header(d, [](Json& h) {
                   auto& o = h[q0]["data_offsets"];
                   const std::uint64_t shift = 1u << 20;
                   o = Json::array({o[0].get<std::uint64_t>() + shift, o[1].get<std::uint64_t>() + shift});
                 });
               },
               ErrorCode::Format, {"model.safetensors", q0, "data section"}});
  c.push_back({"overlapping ranges", m,
               [](const fs::path& d) {
                 edit_header(d, [](Json& h) {
                   const std::string k0 = "encoder.block.0.layer.0.SelfAttention.k.weight";
                   h[k0]["data_offsets"] = h[q0]["data_offsets"];
                 });
               },
               ErrorCode::Format, {"model.safetensors", q0, "encoder.block.0.layer.0.SelfAttention.k.weight", "overlap"}});
  c.push_back({"missing tensor", m, [](const fs::path& d) { edit_tensors(d, [](auto& t) { t.erase(q0); }); }, ErrorCode::Format,
               {"missing tensor", q0, "config.json"}});
  c.push_back({"wrong shape for the config", m,
               [](const fs::path& d) { edit_config(d, [](Json& j) { j["d_kv"] = 6; }); }, ErrorCode::ShapeMismatch,
               {"model.safetensors", q0, "[12, 12]", "[8, 12]", "num_heads*d_kv"}});
  c.push_back({"wrong rank", m,
               [](const fs::path& d) {
                 edit_tensors(d, [](auto& t) {
                   auto& q = t[q0];
                   q.shape = {q.shape[0] * q.shape[1]};
                 });
               },
               ErrorCode::ShapeMismatch, {"model.safetensors", q0, "rank 1", "rank 2"}});
  c.push_back({"weights of an integer dtype", m,
               [](const fs::path& d) {
                 edit_tensors(d, [](auto& t) {
                   auto& q = t[q0];
                   q.dtype = t5::DType::I32;
                 });
               },
               ErrorCode::Format, {"model.safetensors", q0, "I32"}});
  c.push_back({"unknown tensor name", m,
               [](const fs::path& d) { edit_tensors(d, [](auto& t) { t["encoder.block.0.layer.0.SelfAttention.q.bias"] = t[q0]; }); },
               ErrorCode::Format, {"model.safetensors", "encoder.block.0.layer.0.SelfAttention.q.bias", "unknown tensor"}});
  c.push_back({"contradictory config: gated config, relu tensors", m,
               [](const fs::path& d) {
                 edit_tensors(d, [](auto& t) {
                   for (int layer = 0; layer < 3; ++layer)
                     for (const char* stack : {"encoder", "decoder"}) {
                       const std::string p = std::string(stack) + ".block." + std::to_string(layer) + ".layer." +
                                             (stack[0] == 'e' ? "1" : "2") + ".DenseReluDense.";
                       if (!t.contains(p + "wi_0.weight")) continue;
                       t[p + "wi.weight"] = t[p + "wi_0.weight"];
                       t.erase(p + "wi_0.weight");
                       t.erase(p + "wi_1.weight");
                     }
                 });
               },
               ErrorCode::InvalidConfig, {"config.json", "gelu_new", "encoder.block.0.layer.1.DenseReluDense.wi.weight"}});
  c.push_back({"contradictory config: t5 with per-layer bias tables", m,
               [](const fs::path& d) {
                 edit_tensors(d, [](auto& t) {
                   t["encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"] =
                       t["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"];
                 });
               },
               ErrorCode::InvalidConfig, {"config.json", "encoder.block.1.layer.0.SelfAttention.relative_attention_bias.weight"}});
  c.push_back({"tied lm_head that differs from the embedding", tied,
               [](const fs::path& d) {
                 edit_tensors(d, [](auto& t) { t["lm_head.weight"] = t["shared.weight"]; t["lm_head.weight"].bytes[0] ^= std::byte{1}; });
               },
               ErrorCode::InvalidConfig, {"model.safetensors", "lm_head.weight", "tie_word_embeddings"}});
  c.push_back({"embedding alias that differs", m,
               [](const fs::path& d) {
                 edit_tensors(d, [](auto& t) {
                   t["encoder.embed_tokens.weight"] = t["shared.weight"];
                   t["encoder.embed_tokens.weight"].bytes[5] ^= std::byte{1};
                 });
               },
               ErrorCode::Format, {"model.safetensors", "encoder.embed_tokens.weight", "differs"}});
  c.push_back({"embedding alias of an integer dtype", m,
               [](const fs::path& d) {
                 edit_tensors(d, [](auto& t) {
                   t["decoder.embed_tokens.weight"] = t["shared.weight"];
                   t["decoder.embed_tokens.weight"].dtype = t5::DType::I32;
                 });
               },
               ErrorCode::Format, {"model.safetensors", "decoder.embed_tokens.weight", "I32"}});
  c.push_back({"no config.json", m, [](const fs::path& d) { fs::remove(d / "config.json"); }, ErrorCode::Io, {"config.json"}});
  c.push_back({"config.json with a duplicate key", m,
               [](const fs::path& d) { t5::test::write_text(d / "config.json", R"({"model_type": "t5", "d_model": 12, "d_model": 16})"); },
               ErrorCode::Format, {"config.json", "d_model", "duplicate"}});
  c.push_back({"config.json value of the wrong type", m,
               [](const fs::path& d) { edit_config(d, [](Json& j) { j["num_heads"] = "2"; }); }, ErrorCode::InvalidConfig,
               {"config.json", "num_heads", "an integer"}});
  c.push_back({"no weights, only a PyTorch file", m,
               [](const fs::path& d) {
                 fs::remove(d / "model.safetensors");
                 t5::test::write_text(d / "pytorch_model.bin", "PK");
               },
               ErrorCode::Io, {"no safetensors", "pytorch_model.bin"}});
  c.push_back({"shard missing", sharded, [](const fs::path& d) { fs::remove(d / "model-00002-of-00002.safetensors"); }, ErrorCode::Io,
               {"model.safetensors.index.json", "model-00002-of-00002.safetensors"}});
  c.push_back({"index maps a tensor to a shard without it", sharded,
               [](const fs::path& d) { edit_index(d, [](Json& i) { i["weight_map"][q0] = "model-00002-of-00002.safetensors"; }); },
               ErrorCode::Format, {"model.safetensors.index.json", q0, "model-00002-of-00002.safetensors"}});
  c.push_back({"shard holds a tensor the index does not map", sharded,
               [](const fs::path& d) { edit_index(d, [](Json& i) { i["weight_map"].erase(q0); }); },
               ErrorCode::Format, {"model-00001-of-00002.safetensors", q0, "not mapped"}});
  c.push_back({"index escapes the directory", sharded,
               [](const fs::path& d) { edit_index(d, [](Json& i) { i["weight_map"][q0] = "../model-00001-of-00002.safetensors"; }); },
               ErrorCode::Format, {"model.safetensors.index.json", q0, "../"}});
  return c;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(bad_inputs)

BOOST_AUTO_TEST_CASE(corpus_gives_precise_errors) {
  const auto cases = corpus();
  BOOST_TEST(cases.size() >= 13u);
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      t5::test::TempDir dir;
      t5::test::write_checkpoint(dir.path(), c.model);
      BOOST_REQUIRE_NO_THROW(t5::Checkpoint::open(dir.path()));  // valid before the corruption
      c.corrupt(dir.path());
      try {
        (void)t5::Checkpoint::open(dir.path());
        BOOST_ERROR("opened without an error");
      } catch (const t5::Error& e) {
        const std::string message = e.what();
        BOOST_TEST(t5::to_string(e.code()) == t5::to_string(c.code), message);
        for (const auto& part : c.message_parts) BOOST_TEST(message.find(part) != std::string::npos, "'" << part << "' in: " << message);
        BOOST_TEST(message.find('\n') == std::string::npos);
      }
    }
  }
}

BOOST_AUTO_TEST_CASE(not_a_directory) {
  t5::test::TempDir dir;
  try {
    (void)t5::Checkpoint::open(dir / "absent");
    BOOST_ERROR("opened without an error");
  } catch (const t5::Error& e) {
    BOOST_TEST(t5::to_string(e.code()) == "Io");
    BOOST_TEST(std::string(e.what()).find("absent") != std::string::npos);
  }
}

BOOST_AUTO_TEST_SUITE_END()
