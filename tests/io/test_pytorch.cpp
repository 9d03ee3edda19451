// PyTorch checkpoints (io/pytorch.hpp, zip.hpp, pickle.hpp) on files torch.save itself wrote
// (tools/make_fixtures.py): pytorch_tied and pytorch_sharded hold the weights of the v1_0_tied and
// v1_1_gated fixtures, written by save_pretrained(safe_serialization=False); pytorch_files holds
// small torch.save files, one valid and the others a checkpoint loader must refuse. Damaged archives are made here by editing bytes.
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <string>

#include "expect_error.hpp"
#include "goldens.hpp"
#include "t5/io/checkpoint.hpp"
#include "t5/io/pytorch.hpp"
#include "t5/load.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using t5::ErrorCode;

/// Every tensor of `bin` equals, bit for bit, the tensor of the same name in `safetensors`
/// (transformers wrote both from one model; the .bin may add the tied copies it dropped there).
void same_tensors(const t5::Checkpoint& bin, const t5::Checkpoint& safetensors) {
  for (const auto& [name, ref] : safetensors.weights().tensors()) {
    const t5::io::TensorRef* other = bin.weights().find(name);
    BOOST_TEST_REQUIRE(other != nullptr, name);
    BOOST_TEST(other->info->shape == ref.info->shape, name);
    BOOST_TEST((other->info->dtype == ref.info->dtype), name);
    const auto a = other->data(), b = ref.data();
    BOOST_TEST((a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size()) == 0), name);
  }
}

std::string read_bytes(const fs::path& p) {
  std::ifstream f(p, std::ios::binary);
  return {std::istreambuf_iterator<char>(f), {}};
}

void write_bytes(const fs::path& p, const std::string& bytes) { std::ofstream(p, std::ios::binary) << bytes; }

/// Fills `dir` with pytorch_tied's config.json and its pytorch_model.bin edited by `edit`.
void write_edited_tied(const t5::test::TempDir& dir, const std::function<void(std::string&)>& edit) {
  const fs::path src = t5::test::test_data() / "pytorch_tied";
  fs::copy_file(src / "config.json", dir / "config.json");
  std::string bytes = read_bytes(src / "pytorch_model.bin");
  edit(bytes);
  write_bytes(dir / "pytorch_model.bin", bytes);
}

void replace_once(std::string& s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  BOOST_TEST_REQUIRE(at != std::string::npos, from);
  s.replace(at, from.size(), to);
}

}  // namespace

BOOST_AUTO_TEST_SUITE(pytorch)

BOOST_AUTO_TEST_CASE(tied_storage_is_one_tensor) {
  const auto bin = t5::Checkpoint::open(t5::test::test_data() / "pytorch_tied");
  BOOST_TEST(bin.weights().description() == "pytorch_model.bin (PyTorch zip)");
  same_tensors(bin, t5::Checkpoint::open(t5::test::test_data() / "v1_0_tied"));
  // shared.weight, both embed_tokens and lm_head point at one storage: one range of the file.
  const auto* shared = bin.weights().find("shared.weight");
  BOOST_TEST_REQUIRE(shared != nullptr);
  for (const char* alias : {"encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"}) {
    const auto* ref = bin.weights().find(alias);
    BOOST_TEST_REQUIRE(ref != nullptr, alias);
    BOOST_TEST((ref->data().data() == shared->data().data()), alias);
  }
}

BOOST_AUTO_TEST_CASE(sharded_index) {
  const auto bin = t5::Checkpoint::open(t5::test::test_data() / "pytorch_sharded");
  BOOST_TEST(bin.weights().files().size() == 2u);
  BOOST_TEST(bin.weights().description() == "pytorch_model.bin.index.json (2 shards, PyTorch zip)");
  same_tensors(bin, t5::Checkpoint::open(t5::test::test_data() / "v1_1_gated"));
}

// The same weights compute the same function: the source fixture's HF goldens, and bit for bit
// what t5cc computes from the safetensors copy.
BOOST_AUTO_TEST_CASE(loaded_model_matches_the_goldens) {
  for (const auto& [bin, source] : {std::pair{"pytorch_tied", "v1_0_tied"}, std::pair{"pytorch_sharded", "v1_1_gated"}}) {
    BOOST_TEST_CONTEXT(bin) {
      const t5::test::Goldens goldens(t5::test::test_data() / source / "goldens.safetensors");
      const auto input = goldens.batch("input_ids", "attention_mask");
      auto model = t5::load(t5::test::test_data() / bin, {.threads = 1});
      const auto states = model->encode(input).values;
      const auto agreement = t5::test::compare(states, goldens.floats("encoder_last_hidden_state"));
      BOOST_TEST(agreement.ok(), "encoder states: " << agreement);
      BOOST_TEST((states == t5::load(t5::test::test_data() / source, {.threads = 1})->encode(input).values));
    }
  }
}

// Views of one storage at offsets (w[1] starts at element 4), and the three weight dtypes, read as
// torch wrote them: w = arange(12).reshape(3, 4).
BOOST_AUTO_TEST_CASE(views_and_dtypes) {
  const t5::io::PyTorchFile f(t5::test::test_data() / "pytorch_files" / "shared_storage.bin");
  BOOST_TEST(f.tensors().size() == 5u);
  auto values = [&](const char* name) {
    const auto* t = f.find(name);
    BOOST_TEST_REQUIRE(t != nullptr, name);
    std::vector<float> out(static_cast<std::size_t>(t->numel()));
    t5::convert_elements(f.data(*t), t->dtype, out.data());
    return out;
  };
  std::vector<float> w(12);
  for (int i = 0; i < 12; ++i) w[static_cast<std::size_t>(i)] = static_cast<float>(i);
  BOOST_TEST(values("w") == w, boost::test_tools::per_element());
  BOOST_TEST(values("row") == (std::vector<float>{4, 5, 6, 7}), boost::test_tools::per_element());
  BOOST_TEST(values("col0") == (std::vector<float>{0, 4, 8}), boost::test_tools::per_element());
  BOOST_TEST(values("half") == w, boost::test_tools::per_element());
  BOOST_TEST(values("bf16") == w, boost::test_tools::per_element());
  BOOST_TEST((f.find("half")->dtype == t5::DType::F16));
  BOOST_TEST((f.find("bf16")->dtype == t5::DType::BF16));
  BOOST_TEST((f.data(*f.find("row")).data() == f.data(*f.find("w")).data() + 16));  // the same storage
  BOOST_TEST(f.find("row")->shape == (std::vector<std::int64_t>{4}));
}

BOOST_AUTO_TEST_CASE(refused_by_name) {
  const fs::path bad = t5::test::test_data() / "pytorch_files";
  auto open = [](const fs::path& p) { return [p] { t5::io::PyTorchFile{p}; }; };
  t5::test::expect_error(open(bad / "noncontiguous.bin"), ErrorCode::Format, "is not contiguous");
  t5::test::expect_error(open(bad / "int64.bin"), ErrorCode::Format, "refuses the global \"torch.LongStorage\"");
  t5::test::expect_error(open(bad / "float64.bin"), ErrorCode::Format, "refuses the global \"torch.DoubleStorage\"");
  t5::test::expect_error(open(bad / "not_a_tensor.bin"), ErrorCode::Format, "tensor \"epoch\" is an int, expected a tensor");
  t5::test::expect_error(open(bad / "legacy.bin"), ErrorCode::Format, "legacy format");
}

// Damaged or hostile archives: each is Error(Format) naming the file and what is wrong.
BOOST_AUTO_TEST_CASE(damaged_archives) {
  struct Case {
    const char* name;
    std::function<void(std::string&)> edit;
    const char* fragment;
  };
  const std::vector<Case> cases = {
      {"a global that runs code",  // the same length: the archive stays intact
       [](std::string& b) { replace_once(b, "torch._utils\n_rebuild_tensor_v2", "posix\nsystem\n_rebuild_tensor_v2"); },
       "refuses the global \"posix.system\""},
      {"an unknown storage type", [](std::string& b) { replace_once(b, "FloatStorage", "FloatStoragf"); }, "torch.FloatStoragf"},
      {"truncated", [](std::string& b) { b.resize(b.size() - 100); }, "end-of-central-directory"},
      {"cut in the middle", [](std::string& b) { b.resize(b.size() / 2); }, "zip archive"},
      {"a compressed entry",
       [](std::string& b) {
         const auto at = b.find("PK\x01\x02");
         BOOST_TEST_REQUIRE(at != std::string::npos);
         b[at + 10] = 8;  // method: deflate
       },
       "is compressed"},
      {"a storage missing", [](std::string& b) {
         // Both headers of entry data/0 renamed: the pickle's storage "0" is then absent.
         for (std::size_t at = 0; (at = b.find("pytorch_model/data/0", at)) != std::string::npos; at += 20)
           if (at + 20 < b.size() && (b[at + 20] < '0' || b[at + 20] > '9')) b[at + 19] = 'x';
       },
       "its storage \"0\" is not in the archive"},
      {"an opcode torch.save never writes",
       [](std::string& b) { replace_once(b, std::string("}q\x00(X", 5), std::string("}q\x00(\xff", 5)); }, "opcode 0xff"},
  };
  for (const auto& c : cases) {
    BOOST_TEST_CONTEXT(c.name) {
      const t5::test::TempDir dir;
      write_edited_tied(dir, c.edit);
      t5::test::expect_error([&] { (void)t5::Checkpoint::open(dir.path()); }, ErrorCode::Format, c.fragment);
      t5::test::expect_error([&] { (void)t5::Checkpoint::open(dir.path()); }, ErrorCode::Format, "pytorch_model.bin");
    }
  }
}

BOOST_AUTO_TEST_SUITE_END()
