// Round trips: checkpoints the test writes (F32, F16, BF16, sharded, encoder-only, every variant)
// are read back, detected and validated, and every tensor's bytes equal what was written; the
// writer and every committed fixture follow the reference crate's layout.
//
// The safetensors rules io/safetensors.hpp enforces, against the reference implementation
// (huggingface/safetensors, safetensors/src/tensor.rs: SafeTensors::read_metadata and
// Metadata::validate; the failing cases are in test_bad_inputs.cpp):
//   the same as the crate
//   - the file holds at least the 8-byte header length (HeaderTooSmall);
//   - header length <= 100,000,000 (HeaderTooLarge) and <= file size - 8 (InvalidHeaderLength);
//   - the header is UTF-8 (InvalidHeader): nlohmann refuses ill-formed UTF-8 in strings, and any
//     byte >= 0x80 outside them is a syntax error;
//   - the header starts with '{' (InvalidHeaderStart, enforced since the crate's 0.4): no byte
//     order mark, no leading whitespace; trailing spaces, the writers' padding, are accepted;
//   - the header is a JSON object (InvalidHeaderDeserialization), nested at most 128 deep
//     (serde_json's recursion limit; core/json.hpp);
//   - "__metadata__", when present, is an object of strings;
//   - each tensor has dtype, shape and data_offsets, with end >= begin (InvalidOffset);
//   - element count and byte size by checked multiplication, a partial product past 2^64 refused
//     (ValidationOverflow): [2^62, 4, 0] is refused, [2^62, 2, 0] holds 0 elements;
//   - end - begin == element count x dtype size (TensorInvalidInfo);
//   - sorted by data_offsets, the first tensor begins at 0 and each where the previous ended
//     (InvalidOffset): no gap, no overlap;
//   - the last tensor ends where the file ends (MetadataIncompleteBuffer): no trailing bytes;
//   - no alignment is required: a tensor at any offset is read by memcpy (core/dtype.hpp).
//   stricter in t5cc
//   - a duplicate key anywhere in the header is refused (serde_json keeps one of two equal tensor
//     names silently);
//   - dimensions and offsets must fit int64 (the crate: usize), and dtype tags are those of
//     core/dtype.hpp (recent crates also know F8_E8M0, F6_*, F4, C64: refused as unknown);
//   - a checkpoint's weights must be F32, F16, BF16, F8_E4M3 or F8_E5M2 and finite (checked as they load).
//   looser in t5cc: nothing.
#include <boost/test/unit_test.hpp>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>
#include <utility>
#include <vector>

#include <unistd.h>

#include "expect_error.hpp"
#include "synthetic_checkpoint.hpp"
#include "print.hpp"
#include "t5/core/dtype.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/hf_names.hpp"
#include "t5/io/safetensors.hpp"
#include "t5/io/safetensors_writer.hpp"
#include "temp_dir.hpp"

namespace {

using t5::test::SyntheticModel;

/// Opens what `m` wrote and checks detection and every tensor's bytes.
void check_round_trip(const SyntheticModel& m) {
  t5::test::TempDir dir;
  t5::test::write_checkpoint(dir.path(), m);
  const auto ck = t5::Checkpoint::open(dir.path());
  const auto& d = ck.detected();
  BOOST_TEST((d.policies == m.policies));
  BOOST_TEST((d.hparams == m.hparams));
  BOOST_TEST(d.encoder_only == m.encoder_only);
  BOOST_TEST(ck.weights().files().size() == static_cast<std::size_t>(m.shards));

  const auto expected = t5::hf::expected_tensors(m.hparams, m.policies, m.encoder_only);
  BOOST_TEST(ck.weights().size() == expected.size());
  for (const auto& e : expected) {
    const auto& ref = ck.tensor(e.name);
    BOOST_TEST(ref.info->shape == e.shape);
    BOOST_TEST((ref.info->dtype == m.dtype));
    const auto bytes = t5::test::encode_values(t5::test::synthetic_values(m.seed, e.name, ref.info->numel()), m.dtype);
    BOOST_TEST_REQUIRE(ref.data().size() == bytes.size());
    BOOST_TEST(std::memcmp(ref.data().data(), bytes.data(), bytes.size()) == 0, e.name);
  }
}

}  // namespace

BOOST_AUTO_TEST_SUITE(round_trip)

BOOST_AUTO_TEST_CASE(each_weight_dtype) {
  for (auto dtype : {t5::DType::F32, t5::DType::F16, t5::DType::BF16}) {
    BOOST_TEST_CONTEXT(t5::dtype_name(dtype)) {
      SyntheticModel m;
      m.dtype = dtype;
      check_round_trip(m);
    }
  }
}

BOOST_AUTO_TEST_CASE(each_preset_and_custom_variants) {
  const t5::Policies erf_scaled{t5::Ffn::GatedGelu, t5::GeluApprox::Erf, t5::PositionBias::Shared, t5::AttnScale::InvSqrtHeadDim,
                                t5::LmHead::Untied};
  const t5::Policies relu_untied{t5::Ffn::Relu, t5::GeluApprox::Tanh, t5::PositionBias::Shared, t5::AttnScale::Off,
                                 t5::LmHead::Untied};
  for (const auto& p : {t5::v1_0::policies, t5::v1_1::policies, t5::umt5::policies, erf_scaled, relu_untied}) {
    SyntheticModel m;
    m.policies = p;
    check_round_trip(m);
  }
}

BOOST_AUTO_TEST_CASE(sharded) {
  for (int shards : {2, 3}) {
    SyntheticModel m;
    m.shards = shards;
    m.dtype = t5::DType::BF16;
    check_round_trip(m);
  }
}

BOOST_AUTO_TEST_CASE(encoder_only) {
  for (const auto& p : {t5::v1_1::policies, t5::umt5::policies, t5::v1_0::policies}) {
    SyntheticModel m;
    m.policies = p;
    m.encoder_only = true;
    check_round_trip(m);
  }
}

BOOST_AUTO_TEST_CASE(embedding_aliases_and_tied_lm_head_copy) {
  // transformers may write the embedding again under its tied names; equal copies are accepted.
  t5::test::TempDir dir;
  SyntheticModel m;
  m.policies = t5::v1_0::policies;
  t5::test::write_checkpoint(dir.path(), m);
  const auto values = t5::test::synthetic_values(m.seed, "shared.weight", m.hparams.vocab_size * m.hparams.d_model);
  t5::io::SafetensorsWriter w;
  for (const auto& e : t5::hf::expected_tensors(m.hparams, m.policies, false)) {
    std::int64_t n = 1;
    for (auto s : e.shape) n *= s;
    w.add(e.name, t5::DType::F32, e.shape, t5::test::encode_values(t5::test::synthetic_values(m.seed, e.name, n), t5::DType::F32));
  }
  const std::vector<std::int64_t> shape{m.hparams.vocab_size, m.hparams.d_model};
  for (const char* alias : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight"})
    w.add(alias, t5::DType::F32, shape, t5::test::encode_values(values, t5::DType::F32));
  w.add("lm_head.weight", t5::DType::BF16, shape, t5::test::encode_values(values, t5::DType::BF16));
  w.add("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight", t5::DType::F32,
        {m.hparams.num_buckets, m.hparams.num_heads},
        t5::test::encode_values(std::vector<float>(static_cast<std::size_t>(m.hparams.num_buckets * m.hparams.num_heads)), t5::DType::F32));
  w.write(dir / "model.safetensors");
  // The bf16 lm_head equals the f32 embedding only if the values survive bf16; make them so.
  BOOST_CHECK_THROW(t5::Checkpoint::open(dir.path()), t5::Error);

  t5::io::SafetensorsWriter exact;
  std::vector<float> bf16_exact(values.size());
  for (std::size_t i = 0; i < values.size(); ++i) bf16_exact[i] = t5::to_float(t5::to_bf16(values[i]));
  for (const auto& e : t5::hf::expected_tensors(m.hparams, m.policies, false)) {
    std::int64_t n = 1;
    for (auto s : e.shape) n *= s;
    auto v = e.name == "shared.weight" ? bf16_exact : t5::test::synthetic_values(m.seed, e.name, n);
    exact.add(e.name, t5::DType::F32, e.shape, t5::test::encode_values(v, t5::DType::F32));
  }
  exact.add("encoder.embed_tokens.weight", t5::DType::F32, shape, t5::test::encode_values(bf16_exact, t5::DType::F32));
  exact.add("lm_head.weight", t5::DType::BF16, shape, t5::test::encode_values(bf16_exact, t5::DType::BF16));
  exact.write(dir / "model.safetensors");
  const auto ck = t5::Checkpoint::open(dir.path());
  BOOST_TEST(ck.embedding().info->name == "shared.weight");
  BOOST_TEST(ck.detected().preset() == "v1_0");
}

BOOST_AUTO_TEST_CASE(embedding_stored_only_under_its_encoder_name) {
  t5::test::TempDir dir;
  SyntheticModel m;
  m.encoder_only = true;
  t5::test::write_checkpoint(dir.path(), m);
  t5::io::SafetensorsWriter w;
  for (const auto& e : t5::hf::expected_tensors(m.hparams, m.policies, true)) {
    std::int64_t n = 1;
    for (auto s : e.shape) n *= s;
    const std::string name = e.name == "shared.weight" ? "encoder.embed_tokens.weight" : e.name;
    w.add(name, t5::DType::F16, e.shape, t5::test::encode_values(t5::test::synthetic_values(m.seed, e.name, n), t5::DType::F16));
  }
  w.write(dir / "model.safetensors");
  const auto ck = t5::Checkpoint::open(dir.path());
  BOOST_TEST(ck.embedding().info->name == "encoder.embed_tokens.weight");
  BOOST_TEST(ck.detected().encoder_only);
}

// The HuggingFace cache layout: snapshots/REV/NAME is a relative symlink to blobs/HASH. Every
// file is opened through its link (the regular-file check applies to the target).
BOOST_AUTO_TEST_CASE(hf_cache_symlinks_are_followed) {
  t5::test::TempDir dir;
  SyntheticModel m;
  m.shards = 2;
  t5::test::write_checkpoint(dir / "blobs", m);
  const auto snapshot = dir.path() / "snapshots" / "rev";
  std::filesystem::create_directories(snapshot);
  for (const auto& entry : std::filesystem::directory_iterator(dir / "blobs"))
    std::filesystem::create_symlink(std::filesystem::path("../../blobs") / entry.path().filename(), snapshot / entry.path().filename());
  const auto ck = t5::Checkpoint::open(snapshot);
  BOOST_TEST(ck.weights().files().size() == 2u);
  BOOST_TEST((ck.detected().hparams == m.hparams));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(safetensors_format)

BOOST_AUTO_TEST_CASE(writer_layout_metadata_and_alignment) {
  t5::test::TempDir dir;
  t5::io::SafetensorsWriter w;
  const std::vector<float> a{1.0f, -2.0f, 3.5f};
  const std::vector<std::int64_t> ids{7, 8, 9, 10};
  w.add<float>("a", {3}, a);
  w.add<std::int64_t>("ids", {2, 2}, ids);
  w.add("empty", t5::DType::F32, {0, 4}, {});
  w.add("scalar", t5::DType::F32, {}, std::as_bytes(std::span<const float>(a.data(), 1)));
  w.set_metadata("format", "pt");
  w.write(dir / "x.safetensors");
  BOOST_TEST(!std::filesystem::exists(dir.path() / ("x.safetensors.tmp-" + std::to_string(::getpid()))));

  const t5::io::SafetensorsFile f(dir / "x.safetensors");
  BOOST_TEST(f.metadata().at("format") == "pt");
  BOOST_TEST(f.tensors().size() == 4u);
  const auto* ids_info = f.find("ids");
  BOOST_TEST_REQUIRE(ids_info != nullptr);
  BOOST_TEST((ids_info->dtype == t5::DType::I64));
  std::int64_t back[4];
  std::memcpy(back, f.data(*ids_info).data(), sizeof back);
  BOOST_TEST(back[3] == 10);
  BOOST_TEST(f.find("empty")->nbytes() == 0u);
  BOOST_TEST(f.find("scalar")->numel() == 1);
  BOOST_TEST(reinterpret_cast<std::uintptr_t>(f.data(*f.find("a")).data()) % 8 == 0u);  // header padded to 8 bytes

  BOOST_CHECK_THROW(w.add("a", t5::DType::F32, {1}, std::as_bytes(std::span<const float>(a.data(), 1))), t5::Error);
  BOOST_CHECK_THROW(w.add("b", t5::DType::F32, {2}, std::as_bytes(std::span<const float>(a.data(), 1))), t5::Error);
}

namespace {
/// The header length and the header of a safetensors file.
std::pair<std::uint64_t, std::string> raw_header(const std::filesystem::path& p) {
  const std::string bytes = t5::read_text_file(p);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = (n << 8) | static_cast<unsigned char>(bytes[static_cast<std::size_t>(i)]);
  return {n, bytes.substr(8, n)};
}
}  // namespace

// What the crate writes: the header padded with spaces to a multiple of 8 bytes, the tensors back to
// back from byte 0 of the data section, nothing after the last (the reader refuses anything else).
BOOST_AUTO_TEST_CASE(writer_and_fixtures_follow_the_crate_layout) {
  t5::test::TempDir dir;
  SyntheticModel m;
  m.shards = 2;
  m.dtype = t5::DType::F16;
  t5::test::write_checkpoint(dir.path(), m);
  std::vector<std::filesystem::path> files{dir / "model-00001-of-00002.safetensors", dir / "model-00002-of-00002.safetensors"};
  for (const char* variable : {"T5CC_TEST_DATA", "T5CC_DEMO_MODEL"}) {
    const char* root = std::getenv(variable);
    BOOST_TEST_REQUIRE(root != nullptr, variable << " is not set (meson sets it)");
    for (const auto& entry : std::filesystem::recursive_directory_iterator(root))
      if (entry.path().extension() == ".safetensors") files.push_back(entry.path());
  }
  BOOST_TEST(files.size() >= 20u);
  for (const auto& file : files) {
    BOOST_TEST_CONTEXT(file.string()) {
      const auto [length, header] = raw_header(file);
      BOOST_TEST(length % 8 == 0u);
      BOOST_TEST(header.front() == '{');
      BOOST_TEST(header.find_last_not_of(' ') == header.rfind('}'));  // only spaces after the object
      const t5::io::SafetensorsFile f(file);  // contiguous from 0 to the end, or it throws
      std::uint64_t bytes = 0;
      for (const auto& t : f.tensors()) bytes += t.nbytes();
      BOOST_TEST(8 + length + bytes == f.file_size());
    }
  }
}

BOOST_AUTO_TEST_CASE(zero_element_shapes_with_huge_dimensions) {
  t5::test::TempDir dir;
  const std::string four(4, '\0');
  const auto data = std::as_bytes(std::span<const char>(four.data(), four.size()));
  // [2^62, 2, 0]: every partial product fits 64 bits, the count is 0 (the crate accepts it too).
  t5::test::write_raw_safetensors(dir / "a.safetensors",
                                  R"({"empty": {"dtype": "F32", "shape": [4611686018427387904, 2, 0], "data_offsets": [0, 0]},)"
                                  R"( "one": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}})",
                                  data);
  const t5::io::SafetensorsFile f(dir / "a.safetensors");
  BOOST_TEST(f.find("empty")->numel() == 0);
  BOOST_TEST(f.find("empty")->nbytes() == 0u);
  BOOST_TEST(f.find("one")->numel() == 1);
  // [2^62, 4, 0]: 2^64 on the way, refused like the crate's ValidationOverflow.
  t5::test::write_raw_safetensors(dir / "b.safetensors",
                                  R"({"x": {"dtype": "F32", "shape": [4611686018427387904, 4, 0], "data_offsets": [0, 0]}})", {});
  t5::test::expect_error([&] { t5::io::SafetensorsFile{dir / "b.safetensors"}; }, t5::ErrorCode::Format, "more than 2^64");
  // A hand-made TensorInfo never overflows silently.
  t5::io::TensorInfo huge{"h", t5::DType::F32, {std::int64_t{1} << 32, std::int64_t{1} << 32}, 0, 0};
  t5::test::expect_error([&] { (void)huge.numel(); }, t5::ErrorCode::InvalidArgument, "\"h\"");
  BOOST_CHECK_THROW(t5::io::SafetensorsWriter().add("w", t5::DType::F32, {std::int64_t{1} << 32, std::int64_t{1} << 32, 1}, {}), t5::Error);
  // No tensor at all: a valid file when nothing follows the header.
  t5::test::write_raw_safetensors(dir / "c.safetensors", "{}      ", {});
  BOOST_TEST(t5::io::SafetensorsFile(dir / "c.safetensors").tensors().empty());
  t5::test::write_raw_safetensors(dir / "d.safetensors", "{}", data);
  t5::test::expect_error([&] { t5::io::SafetensorsFile{dir / "d.safetensors"}; }, t5::ErrorCode::Format, "4 unused bytes after the header");
}

BOOST_AUTO_TEST_CASE(writer_into_a_missing_directory_fails_cleanly) {
  t5::io::SafetensorsWriter w;
  try {
    w.write("/nonexistent-t5cc-dir/x.safetensors");
    BOOST_FAIL("expected Error(Io)");
  } catch (const t5::Error& e) {
    BOOST_TEST((e.code() == t5::ErrorCode::Io));
  }
}

BOOST_AUTO_TEST_SUITE_END()
