// Round trips: checkpoints the test writes (F32, F16, BF16, sharded, encoder-only, every variant)
// are read back, detected and validated, and every tensor's bytes equal what was written.
#include <boost/test/unit_test.hpp>

#include <cstring>
#include <string>

#include <unistd.h>

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
