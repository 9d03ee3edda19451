// The bad-input corpus: every malformed checkpoint is generated here from a valid one, opened with
// Checkpoint::open (the weight corpus: loaded with t5::load; the tokenizer corpus: with
// Tokenizer::from_model_dir), and must fail with the expected ErrorCode and a short one-line
// message naming the file and the tensor or key. Nothing may crash, block or allocate without
// bound (the suite also runs under ASan/UBSan). The safetensors rules checked here, and how they
// compare with the reference crate's, are listed at the top of test_safetensors.cpp.
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <cerrno>
#include <cstdlib>
#include <tuple>
#include <cmath>
#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <functional>
#include <limits>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "synthetic_checkpoint.hpp"
#include "print.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "t5/load.hpp"
#include "t5/tokenizer/tokenizer.hpp"
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

/// Inserts `count` zero bytes into the data section at byte `at`, moving every tensor that begins
/// there or later: a gap (or, at 0, a hole before the first tensor) in an otherwise valid file.
void insert_data_bytes(const fs::path& dir, std::uint64_t at, std::size_t count) {
  auto [header, data] = split(dir / "model.safetensors");
  for (auto& [name, entry] : header.items()) {
    if (name == "__metadata__") continue;
    auto& o = entry["data_offsets"];
    if (o[0].get<std::uint64_t>() >= at) o = Json::array({o[0].get<std::uint64_t>() + count, o[1].get<std::uint64_t>() + count});
  }
  data.insert(static_cast<std::size_t>(at), std::string(count, '\0'));
  rewrite(dir / "model.safetensors", header, data);
}

/// The begin of the tensor stored last in model.safetensors.
std::uint64_t last_begin(const fs::path& dir) {
  std::uint64_t last = 0;
  const Json header = split(dir / "model.safetensors").first;
  for (const auto& [name, entry] : header.items())
    if (name != "__metadata__") last = std::max(last, entry["data_offsets"][0].get<std::uint64_t>());
  return last;
}

/// 80,000 nested arrays (160 kB): far past any stack a recursive walk of them would need.
std::string deep_nesting() { return std::string(80'000, '[') + std::string(80'000, ']'); }

/// Checks that `e` has `code` and a short one-line message holding each of `parts`.
void check_error(const t5::Error& e, ErrorCode code, const std::vector<std::string>& parts) {
  const std::string message = e.what();
  BOOST_TEST_MESSAGE(t5::to_string(e.code()) << ": " << message);  // --log_level=message shows every message
  BOOST_TEST(t5::to_string(e.code()) == t5::to_string(code), message);
  for (const auto& part : parts) BOOST_TEST(message.find(part) != std::string::npos, "'" << part << "' in: " << message);
  BOOST_TEST(message.find('\n') == std::string::npos, "not one line: " << message);
  BOOST_TEST(message.size() < 1000u, "too long (" << message.size() << " bytes): " << message.substr(0, 300));
}

/// `open` must throw a t5::Error as check_error() describes.
void expect_failure(const std::function<void()>& open, ErrorCode code, const std::vector<std::string>& parts) {
  try {
    open();
    BOOST_ERROR("opened without an error");
  } catch (const t5::Error& e) {
    check_error(e, code, parts);
  }
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
  c.push_back({"no weights", m, [](const fs::path& d) { fs::remove(d / "model.safetensors"); }, ErrorCode::Io,
               {"no weights", "model.safetensors", "pytorch_model.bin"}});
  c.push_back({"pytorch_model.bin that is not a zip", m,
               [](const fs::path& d) {
                 fs::remove(d / "model.safetensors");
                 t5::test::write_text(d / "pytorch_model.bin", "PK");
               },
               ErrorCode::Format, {"pytorch_model.bin", "not a PyTorch zip"}});
  c.push_back({"pytorch_model.bin in the legacy format", m,
               [](const fs::path& d) {
                 fs::remove(d / "model.safetensors");
                 t5::test::write_text(d / "pytorch_model.bin", std::string("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19.", 15));
               },
               ErrorCode::Format, {"pytorch_model.bin", "legacy format"}});
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
  c.push_back({"index names a shard with a control character", sharded,
               [](const fs::path& d) { edit_index(d, [](Json& i) { i["weight_map"][q0] = "model-00001-of-00002\n.safetensors"; }); },
               ErrorCode::Format, {"model.safetensors.index.json", q0, "\\n.safetensors"}});
  c.push_back({"index that is not JSON", sharded,
               [](const fs::path& d) { t5::test::write_text(d / "model.safetensors.index.json", R"({"weight_map": {"a": 1e400}})"); },
               ErrorCode::Format, {"model.safetensors.index.json", "overflow"}});

  // JSON: numbers beyond a double, nesting beyond the stack, values too long to quote whole.
  c.push_back({"config.json: a number beyond a double", m,
               [](const fs::path& d) { t5::test::write_text(d / "config.json", R"({"model_type": "t5", "layer_norm_epsilon": 1e400})"); },
               ErrorCode::Format, {"config.json", "layer_norm_epsilon", "overflow"}});
  c.push_back({"header: a number beyond a double", m,
               [](const fs::path& d) {
                 auto [header, data] = split(d / "model.safetensors");
                 std::string text = header.dump();
                 const auto shape = text.find("\"shape\":[", text.find(q0));
                 text.insert(shape + 9, "1e400,");
                 t5::test::write_raw_safetensors(d / "model.safetensors", text, std::as_bytes(std::span<const char>(data.data(), data.size())));
               },
               ErrorCode::Format, {"model.safetensors", "shape", "overflow"}});
  c.push_back({"config.json nested 80,000 deep", m,
               [](const fs::path& d) { t5::test::write_text(d / "config.json", R"({"model_type": "t5", "task_specific_params": )" + deep_nesting() + "}"); },
               ErrorCode::Format, {"config.json", "task_specific_params", "nested more than 128"}});
  c.push_back({"config.json: a known key nested 80,000 deep (its message once dumped it: stack overflow)", m,
               [](const fs::path& d) { t5::test::write_text(d / "config.json", R"({"model_type": "t5", "num_heads": )" + deep_nesting() + "}"); },
               ErrorCode::Format, {"config.json", "num_heads", "nested more than 128"}});
  c.push_back({"header nested 80,000 deep", m,
               [](const fs::path& d) { t5::test::write_raw_safetensors(d / "model.safetensors", R"({"__metadata__": )" + deep_nesting() + "}", {}); },
               ErrorCode::Format, {"model.safetensors", "__metadata__", "nested more than 128"}});
  c.push_back({"config.json value too long to quote whole", m,
               [](const fs::path& d) { edit_config(d, [](Json& j) { j["num_heads"] = std::string(100'000, 'x'); }); },
               ErrorCode::InvalidConfig, {"config.json", "num_heads", "\"xxxxxxxxxx", "..."}});
  c.push_back({"tensor name with a newline", m,
               [](const fs::path& d) { edit_tensors(d, [](auto& t) { t["x\ny"] = t[q0]; }); },
               ErrorCode::Format, {"model.safetensors", "unknown tensor", "\"x\\ny\""}});

  // Special files: the checks that need no FIFO (the FIFO cases are timed, below).
  c.push_back({"config.json is a symlink loop", m,
               [](const fs::path& d) {
                 fs::remove(d / "config.json");
                 fs::create_symlink("config.json", d / "config.json");
               },
               ErrorCode::Io, {"config.json", "symbolic links"}});
  c.push_back({"model.safetensors is a symlink loop", m,
               [](const fs::path& d) {
                 fs::remove(d / "model.safetensors");
                 fs::create_symlink("model.safetensors", d / "model.safetensors");
               },
               ErrorCode::Io, {"model.safetensors", "symbolic links"}});
  c.push_back({"model.safetensors is a dangling symlink (a cache blob missing)", m,
               [](const fs::path& d) {
                 fs::remove(d / "model.safetensors");
                 fs::create_symlink("../blobs/absent", d / "model.safetensors");
               },
               ErrorCode::Io, {"model.safetensors", "No such file"}});
  c.push_back({"model.safetensors is a directory", m,
               [](const fs::path& d) {
                 fs::remove(d / "model.safetensors");
                 fs::create_directory(d / "model.safetensors");
               },
               ErrorCode::Io, {"model.safetensors", "not a regular file (a directory)"}});

  // Sizes from config.json bounded by the checkpoint before anything is built from them.
  c.push_back({"num_layers 2^31 - 1", m, [](const fs::path& d) { edit_config(d, [](Json& j) { j["num_layers"] = 2147483647; }); },
               ErrorCode::InvalidConfig, {"config.json", "num_layers 2147483647", "tensors"}});
  c.push_back({"num_decoder_layers 2^31 - 1", m, [](const fs::path& d) { edit_config(d, [](Json& j) { j["num_decoder_layers"] = 2147483647; }); },
               ErrorCode::InvalidConfig, {"config.json", "num_decoder_layers 2147483647", "tensors"}});
  c.push_back({"num_heads x d_kv x d_model beyond 2^62", m,
               [](const fs::path& d) {
                 edit_config(d, [](Json& j) {
                   j["num_heads"] = 1 << 20;
                   j["d_kv"] = 1 << 10;
                   j["d_model"] = 2147483647;
                 });
               },
               ErrorCode::InvalidConfig, {"config.json", "3 x num_heads x d_kv", "too large"}});

  // Safetensors layout: the reference crate's rules (test_safetensors.cpp lists them).
  c.push_back({"header with a byte order mark", m,
               [](const fs::path& d) {
                 auto [header, data] = split(d / "model.safetensors");
                 t5::test::write_raw_safetensors(d / "model.safetensors", "\xef\xbb\xbf" + header.dump(),
                                                 std::as_bytes(std::span<const char>(data.data(), data.size())));
               },
               ErrorCode::Format, {"model.safetensors", "byte order mark", "'{'"}});
  c.push_back({"header with leading whitespace", m,
               [](const fs::path& d) {
                 auto [header, data] = split(d / "model.safetensors");
                 t5::test::write_raw_safetensors(d / "model.safetensors", "  " + header.dump(),
                                                 std::as_bytes(std::span<const char>(data.data(), data.size())));
               },
               ErrorCode::Format, {"model.safetensors", "starts with \" \"", "'{'"}});
  c.push_back({"gap between two tensors", m, [](const fs::path& d) { insert_data_bytes(d, last_begin(d), 4); }, ErrorCode::Format,
               {"model.safetensors", "4 unused bytes before tensor \"shared.weight\"", "after tensor"}});
  c.push_back({"bytes after the last tensor", m,
               [](const fs::path& d) {
                 auto [header, data] = split(d / "model.safetensors");
                 rewrite(d / "model.safetensors", header, data + std::string(8, '\0'));
               },
               ErrorCode::Format, {"model.safetensors", "8 unused bytes after the last tensor \"shared.weight\""}});
  c.push_back({"first tensor not at byte 0", m, [](const fs::path& d) { insert_data_bytes(d, 0, 8); }, ErrorCode::Format,
               {"model.safetensors", "8 unused bytes before", "the first in the data section"}});
  c.push_back({"shape [2^62, 2, 0]: zero elements, no overflow", m,
               [](const fs::path& d) {
                 edit_tensors(d, [](auto& t) {
                   t[q0].shape = {std::int64_t{1} << 62, 2, 0};
                   t[q0].bytes.clear();
                 });
               },
               ErrorCode::ShapeMismatch, {"model.safetensors", q0, "[4611686018427387904, 2, 0]"}});
  c.push_back({"shape [2^62, 4, 0]: a partial product beyond 2^64", m,
               [](const fs::path& d) { edit_header(d, [](Json& h) { h[q0]["shape"] = Json::array({std::uint64_t{1} << 62, 4, 0}); }); },
               ErrorCode::Format, {"model.safetensors", q0, "more than 2^64"}});
  return c;
}

/// A FIFO in place of `path`. A reader that opened it blocking would wait for a writer forever:
/// this one opens it for writing after `patience`, so such a reader returns and the test fails
/// on its time instead of hanging.
class Fifo {
 public:
  Fifo(const fs::path& path, std::chrono::milliseconds patience) : path_(path) {
    std::error_code ignored;
    fs::remove(path, ignored);
    BOOST_TEST_REQUIRE(::mkfifo(path.c_str(), 0600) == 0, "mkfifo " << path.string() << ": " << std::strerror(errno));
    guard_ = std::thread([this, patience] {
      std::unique_lock lock(mutex_);
      if (done_cv_.wait_for(lock, patience, [this] { return done_; })) return;
      const int fd = ::open(path_.c_str(), O_WRONLY | O_NONBLOCK);
      if (fd >= 0) ::close(fd);
    });
  }
  ~Fifo() {
    {
      std::lock_guard lock(mutex_);
      done_ = true;
    }
    done_cv_.notify_all();
    guard_.join();
  }

 private:
  fs::path path_;
  std::mutex mutex_;
  std::condition_variable done_cv_;
  bool done_ = false;
  std::thread guard_;
};

/// `open` must fail as expect_failure() says, within a second, with `fifo` a FIFO.
void expect_fifo_refused(const fs::path& fifo, const std::function<void()>& open, ErrorCode code, std::vector<std::string> parts) {
  const Fifo f(fifo, std::chrono::milliseconds(3000));
  const auto start = std::chrono::steady_clock::now();
  expect_failure(open, code, parts);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  BOOST_TEST(seconds < 1.0, "took " << seconds << " s: a FIFO must be refused, not read");
}

/// A model directory the tokenizer reads: the mt5 fixture's spiece.model and config.json.
void write_tokenizer_dir(const fs::path& dir) {
  const char* data = std::getenv("T5CC_TEST_DATA");
  BOOST_TEST_REQUIRE(data != nullptr, "T5CC_TEST_DATA is not set (meson sets it)");
  for (const char* name : {"spiece.model", "config.json"}) fs::copy_file(fs::path(data) / "mt5" / name, dir / name);
}

/// Rewrites model.safetensors in `dir` with its header padded so that the data section, and so
/// every F32 tensor, starts 2 bytes past a 4-byte boundary (the format requires no alignment).
void misalign(const fs::path& dir) {
  auto [header, data] = split(dir / "model.safetensors");
  std::string text = header.dump();
  text.append((8 + 8 - (8 + text.size()) % 8 + 2) % 8, ' ');  // 8 + header length = 2 (mod 8)
  t5::test::write_raw_safetensors(dir / "model.safetensors", text, std::as_bytes(std::span<const char>(data.data(), data.size())));
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
      expect_failure([&] { (void)t5::Checkpoint::open(dir.path()); }, c.code, c.message_parts);
    }
  }
}

// Weights are checked for NaN and Inf as they are loaded (converted, or read once where the CPU
// uses F32 bytes in place): the checkpoint is refused naming the tensor, the file and the element.
BOOST_AUTO_TEST_CASE(non_finite_weights_are_refused_at_load) {
  struct WeightCase {
    std::string name;
    t5::DType dtype;
    std::string tensor;
    std::size_t index;
    float value;
    std::vector<std::string> parts;
  };
  const float nan = std::numeric_limits<float>::quiet_NaN(), inf = std::numeric_limits<float>::infinity();
  const std::vector<WeightCase> cases = {
      {"NaN in an F32 embedding used in place", t5::DType::F32, "shared.weight", 5, nan, {"element 5 is nan (F32)"}},
      {"NaN in an F32 projection", t5::DType::F32, q0, 7, nan, {"element 7 is nan (F32)"}},
      {"Inf in an F16 projection", t5::DType::F16, q0, 3, inf, {"element 3 is inf (F16)"}},
      {"-Inf in an F16 norm gain", t5::DType::F16, "encoder.final_layer_norm.weight", 0, -inf, {"element 0 is -inf (F16)"}},
      {"NaN in a BF16 bias table", t5::DType::BF16, "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", 9, nan,
       {"element 9 is nan (BF16)"}},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      t5::test::TempDir dir;
      SyntheticModel m = base_model();
      m.dtype = c.dtype;
      m.edit = [&](const std::string& name, std::vector<float>& values) {
        if (name == c.tensor) values[c.index] = c.value;
      };
      t5::test::write_checkpoint(dir.path(), m);
      BOOST_REQUIRE_NO_THROW(t5::Checkpoint::open(dir.path()));  // the structure is valid
      auto parts = c.parts;
      parts.insert(parts.end(), {"model.safetensors", "\"" + c.tensor + "\"", "finite"});
      expect_failure([&] { (void)t5::load(dir.path(), {.threads = 1}); }, ErrorCode::Format, parts);
    }
  }
}

// A tensor at an offset not aligned for its dtype is read by memcpy (the CPU copies it instead of
// using it in place): the model computes exactly what the aligned file gives.
BOOST_AUTO_TEST_CASE(misaligned_f32_tensors_load_with_equal_values) {
  t5::test::TempDir dir;
  t5::test::write_checkpoint(dir.path(), base_model());
  const auto input = t5::TokenBatch::from_rows({{3, 7, 11, 1}, {5, 1}}, 0);
  const auto aligned = t5::load(dir.path(), {.threads = 1})->encode(input);

  misalign(dir.path());
  const auto ck = t5::Checkpoint::open(dir.path());
  const auto& q = ck.tensor(q0);
  BOOST_TEST_REQUIRE(reinterpret_cast<std::uintptr_t>(q.data().data()) % alignof(float) != 0u);  // the test's premise
  std::vector<float> values(static_cast<std::size_t>(q.info->numel()));
  q.source().convert_to(values.data());
  BOOST_TEST(values == t5::test::synthetic_values(1, q0, q.info->numel()), boost::test_tools::per_element());
  const auto misaligned = t5::load(dir.path(), {.threads = 1})->encode(input);
  BOOST_TEST(misaligned.shape == aligned.shape, boost::test_tools::per_element());
  BOOST_TEST(misaligned.values == aligned.values, boost::test_tools::per_element());
}

// A FIFO where a file is expected is refused at once (opened without blocking, then fstat), never
// waited on: as config.json, as the weights and as spiece.model.
BOOST_AUTO_TEST_CASE(fifo_instead_of_a_file_fails_within_a_second) {
  for (const char* name : {"config.json", "model.safetensors"}) {
    BOOST_TEST_CONTEXT(name) {
      t5::test::TempDir dir;
      t5::test::write_checkpoint(dir.path(), base_model());
      expect_fifo_refused(dir / name, [&] { (void)t5::Checkpoint::open(dir.path()); }, ErrorCode::Io, {name, "not a regular file (a FIFO)"});
    }
  }
  for (const char* name : {"spiece.model", "tokenizer_config.json", "config.json"}) {
    BOOST_TEST_CONTEXT(name) {
      t5::test::TempDir dir;
      write_tokenizer_dir(dir.path());
      expect_fifo_refused(dir / name, [&] { (void)t5::Tokenizer::from_model_dir(dir.path()); }, ErrorCode::Io, {name, "not a regular file (a FIFO)"});
    }
  }
}

// Paths the file system refuses to resolve are Error(Io) naming them, never a filesystem_error.
BOOST_AUTO_TEST_CASE(unresolvable_paths_are_io_errors) {
  t5::test::TempDir dir;
  const std::string long_name(300, 'n');  // beyond NAME_MAX (255): ENAMETOOLONG
  expect_failure([&] { (void)t5::Checkpoint::open(dir / long_name); }, ErrorCode::Io, {long_name.substr(0, 100), "name too long"});
  fs::create_symlink("loop", dir / "loop");
  expect_failure([&] { (void)t5::Checkpoint::open(dir / "loop"); }, ErrorCode::Io, {"loop", "symbolic links"});
  expect_failure([&] { (void)t5::Tokenizer::from_model_dir(dir / "loop"); }, ErrorCode::Io, {"loop", "symbolic links"});
}

boost::test_tools::assertion_result not_root(boost::unit_test::test_unit_id) {
  boost::test_tools::assertion_result result(::geteuid() != 0);
  result.message() << "running as root, which reads a directory whatever its mode";
  return result;
}

BOOST_AUTO_TEST_CASE(unreadable_directory_is_an_io_error, *boost::unit_test::precondition(not_root)) {
  t5::test::TempDir dir;
  t5::test::write_checkpoint(dir / "model", base_model());
  fs::permissions(dir / "model", fs::perms::none);
  struct Restore {
    fs::path p;
    ~Restore() { fs::permissions(p, fs::perms::owner_all); }
  } restore{dir / "model"};
  expect_failure([&] { (void)t5::Checkpoint::open(dir / "model"); }, ErrorCode::Io, {"config.json", "Permission denied"});
  expect_failure([&] { (void)t5::Tokenizer::from_model_dir(dir / "model"); }, ErrorCode::Io, {"spiece.model", "Permission denied"});
}

// tokenizer_config.json is read with the same rules: bad JSON, and an extra_ids count checked
// against the vocabulary before a single sentinel is built.
BOOST_AUTO_TEST_CASE(tokenizer_config_corpus) {
  const std::vector<std::tuple<std::string, std::string, ErrorCode, std::vector<std::string>>> cases = {
      {"extra_ids 9.2e18", R"({"extra_ids": 9200000000000000000})", ErrorCode::Tokenizer,
       {"spiece.model", "9200000000000000000 sentinels", "extra_ids of", "tokenizer_config.json", "vocab_size 320"}},
      {"extra_ids beyond int64", R"({"extra_ids": 18446744073709551615})", ErrorCode::Tokenizer,
       {"tokenizer_config.json", "extra_ids", "18446744073709551615"}},
      {"extra_ids negative", R"({"extra_ids": -1})", ErrorCode::Tokenizer, {"tokenizer_config.json", "extra_ids", "-1"}},
      {"extra_ids one too many", R"({"extra_ids": 121})", ErrorCode::Tokenizer, {"spiece.model", "121 sentinels", "vocab_size 320"}},
      {"a number beyond a double", R"({"extra_ids": 100, "model_max_length": 1e400})", ErrorCode::Format,
       {"tokenizer_config.json", "model_max_length", "overflow"}},
      {"nested 80,000 deep", R"({"added_tokens_decoder": )" + deep_nesting() + "}", ErrorCode::Format,
       {"tokenizer_config.json", "nested more than 128"}},
  };
  for (const auto& [name, text, code, parts] : cases) {
    BOOST_TEST_CONTEXT(name) {
      t5::test::TempDir dir;
      write_tokenizer_dir(dir.path());
      t5::test::write_text(dir / "tokenizer_config.json", R"({"extra_ids": 120})");
      BOOST_REQUIRE_NO_THROW(t5::Tokenizer::from_model_dir(dir.path()));  // 200 pieces + 120 sentinels = vocab_size 320
      t5::test::write_text(dir / "tokenizer_config.json", text);
      expect_failure([&] { (void)t5::Tokenizer::from_model_dir(dir.path()); }, code, parts);
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
