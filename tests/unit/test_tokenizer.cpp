// t5::Tokenizer on the fixtures' SentencePiece models (tests/data/*/spiece.model, trained by
// tools/make_fixtures.py, whose goldens hold the ids Python's sentencepiece gave for their texts):
// sentinel ids and count rules, both modes, EOS, padding, truncation, decoding.
#include <boost/test/unit_test.hpp>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "goldens.hpp"
#include "print.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/tokenizer/tokenizer.hpp"
#include "temp_dir.hpp"

namespace {

namespace fs = std::filesystem;
using t5::test::test_data;

/// A copy of fixture `name` (config and spiece.model) with an edited vocab_size and an optional
/// tokenizer_config.json.
fs::path model_dir(const t5::test::TempDir& tmp, const std::string& name, std::int64_t vocab_size, const std::string& tokenizer_config) {
  const fs::path dir = tmp.path() / (name + std::to_string(vocab_size) + std::to_string(tokenizer_config.size()));
  fs::create_directories(dir);
  fs::copy_file(test_data() / name / "spiece.model", dir / "spiece.model");
  auto config = t5::Json::parse(t5::read_text_file(test_data() / name / "config.json"));
  config["vocab_size"] = vocab_size;
  std::ofstream(dir / "config.json") << config.dump();
  if (!tokenizer_config.empty()) std::ofstream(dir / "tokenizer_config.json") << tokenizer_config;
  return dir;
}

std::vector<std::string> fixture_texts(const std::string& name) {
  const auto fixture = t5::Json::parse(t5::read_text_file(test_data() / name / "fixture.json"));
  return fixture.at("goldens").at("encoder_texts").get<std::vector<std::string>>();
}

}  // namespace

BOOST_AUTO_TEST_SUITE(tokenizer)

// The encoder inputs of the goldens are Python sentencepiece's ids for the fixture texts, plus EOS.
BOOST_AUTO_TEST_CASE(ids_equal_python_sentencepiece) {
  for (const std::string name : {"mt5", "umt5", "v1_0_tied"}) {
    const auto tok = t5::Tokenizer::from_model_dir(test_data() / name);
    const t5::test::Goldens goldens(test_data() / name / "goldens.safetensors");
    const auto input = goldens.batch("input_ids", "attention_mask");
    const auto texts = fixture_texts(name);
    BOOST_TEST_REQUIRE(static_cast<std::int64_t>(texts.size()) == input.batch);
    const auto batch = tok.encode_batch(texts);
    BOOST_TEST(batch.ids == input.ids, boost::test_tools::per_element());
    BOOST_TEST(batch.mask == input.mask, boost::test_tools::per_element());
    for (const auto& text : texts) BOOST_TEST(tok.decode(tok.encode(text)) == text);  // round trip
  }
}

BOOST_AUTO_TEST_CASE(sentinel_count_and_ids) {
  const t5::test::TempDir tmp;
  const auto t5_tok = t5::Tokenizer::from_model_dir(test_data() / "mt5");  // vocab 320: 200 pieces + 100
  BOOST_TEST(t5_tok.piece_count() == 200);
  BOOST_TEST(t5_tok.sentinel_count() == 100);
  BOOST_TEST(t5_tok.sentinel_id(0) == 299);
  BOOST_TEST(t5_tok.sentinel_id(99) == 200);
  const auto sentinels = t5_tok.encode("<extra_id_0><extra_id_99>", {t5::TokenizerMode::SentencePiece, false});
  BOOST_TEST_REQUIRE(sentinels.size() >= 2u);
  BOOST_TEST(sentinels[sentinels.size() - 2] == 299);
  BOOST_TEST(sentinels.back() == 200);

  const auto umt5 = t5::Tokenizer::from_model_dir(test_data() / "umt5");  // vocab 512 leaves room for 300
  BOOST_TEST(umt5.sentinel_count() == 300);
  BOOST_TEST(umt5.sentinel_id(0) == 499);
  BOOST_TEST(umt5.sentinel_id(299) == 200);
  // A umt5 model without room for 300 falls back to 100.
  BOOST_TEST(t5::Tokenizer::from_model_dir(model_dir(tmp, "umt5", 320, "")).sentinel_count() == 100);
  // tokenizer_config.json's extra_ids wins.
  const auto extra = t5::Tokenizer::from_model_dir(model_dir(tmp, "mt5", 320, R"({"extra_ids": 20})"));
  BOOST_TEST(extra.sentinel_count() == 20);
  BOOST_TEST(extra.sentinel_id(0) == 219);
  // A SentencePiece file alone: 100.
  BOOST_TEST(t5::Tokenizer::from_spm(test_data() / "mt5" / "spiece.model").sentinel_count() == 100);
  BOOST_CHECK_THROW(extra.sentinel_id(20), t5::Error);

  // pieces + sentinels beyond vocab_size is an error naming both.
  try {
    t5::Tokenizer::from_model_dir(model_dir(tmp, "mt5", 250, ""));
    BOOST_ERROR("no error for 200 pieces + 100 sentinels in a vocab of 250");
  } catch (const t5::Error& e) {
    BOOST_TEST(e.code() == t5::ErrorCode::Tokenizer);
    BOOST_TEST(std::string(e.what()).find("200 pieces + 100 sentinels exceed vocab_size 250") != std::string::npos, e.what());
  }
}

// A SentencePiece model that holds the sentinels itself (trained with them as user-defined
// symbols, so they sit after the special pieces): they keep the model's ids, which Python's
// sentencepiece gave for texts using them, and are not added again.
BOOST_AUTO_TEST_CASE(sentinels_already_in_the_model) {
  const auto tok = t5::Tokenizer::from_spm(test_data() / "spiece_sentinels.model");
  const auto recorded = t5::Json::parse(t5::read_text_file(test_data() / "spiece_sentinels.json"));
  BOOST_TEST(tok.vocab_size() == recorded.at("pieces").get<std::int64_t>());
  BOOST_TEST(tok.sentinel_count() == 100);
  BOOST_TEST(tok.piece_count() == 200);
  BOOST_TEST(tok.sentinel_id(99) == 3);
  BOOST_TEST(tok.sentinel_id(0) == 102);
  for (const auto& [text, ids] : recorded.at("ids").items())
    BOOST_TEST(tok.encode(text, {t5::TokenizerMode::SentencePiece, false}) == ids.get<std::vector<std::int32_t>>(), text);
  BOOST_TEST(tok.decode(tok.encode("The dog <extra_id_0> the river.")) == "The dog  the river.");
}

/// The corpus and HF's ids for it (tools/make_fixtures.py build_tokenizers): per tokenizer file,
/// what `tokenizers` computed; "spm_fast" what T5TokenizerFast.from_pretrained computed on the
/// folder holding only the spiece.model.
const t5::Json& hf_ids() {
  static const t5::Json ids = t5::Json::parse(t5::read_text_file(test_data() / "tokenizers" / "ids.json"));
  return ids;
}

/// The texts where `tok` (in `mode`, EOS appended) gives other ids than `key` of ids.json records.
std::vector<std::string> mismatches(const t5::Tokenizer& tok, t5::TokenizerMode mode, const std::string& key) {
  const auto texts = hf_ids().at("texts").get<std::vector<std::string>>();
  const auto expected = hf_ids().at(key).get<std::vector<std::vector<std::int32_t>>>();
  BOOST_TEST_REQUIRE(texts.size() == 200u);
  BOOST_TEST_REQUIRE(expected.size() == texts.size());
  std::vector<std::string> wrong;
  for (std::size_t i = 0; i < texts.size(); ++i)
    if (tok.encode(texts[i], {mode, true}) != expected[i]) wrong.push_back(t5::quoted_text(texts[i]));
  return wrong;
}

std::string joined(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& i : items) out += i + " ";
  return out;
}

// hf mode with only a spiece.model equals T5TokenizerFast.from_pretrained on that folder, on the 200
// strings of the corpus (sentinels beside spaces and punctuation, NFKC cases, CJK, emoji, long
// whitespace runs); sp mode is SentencePiece's own, which differs from it around sentinels.
BOOST_AUTO_TEST_CASE(hf_mode_equals_t5_tokenizer_fast) {
  const auto tok = t5::Tokenizer::from_spm(test_data() / "tokenizers" / "spiece_nfkc.model");
  const auto wrong = mismatches(tok, t5::TokenizerMode::HuggingFace, "spm_fast");
  BOOST_TEST(wrong.empty(), wrong.size() << " texts differ: " << joined(wrong));
  BOOST_TEST(mismatches(tok, t5::TokenizerMode::SentencePiece, "spm_fast").size() > 10u);
  // The two strings T5TokenizerFast used to be told apart on.
  const auto fast = hf_ids().at("spm_fast").get<std::vector<std::vector<std::int32_t>>>();
  BOOST_TEST(tok.encode("Hello<extra_id_0>world", {t5::TokenizerMode::HuggingFace, true}) == fast[0]);
  BOOST_TEST(tok.encode("a <extra_id_1>b", {t5::TokenizerMode::HuggingFace, true}) == fast[1]);
  BOOST_TEST(tok.hf_source().find("T5Converter") != std::string::npos);
}

// tokenizer.json files tokenize as `tokenizers` does with them: transformers' converter output
// (Metaspace prepend "always"), its legacy=false form ("first"), and the pre-0.14 layout
// (WhitespaceSplit, then Metaspace with add_prefix_space). A tokenizer.json alone defines both modes.
BOOST_AUTO_TEST_CASE(tokenizer_json_equals_tokenizers) {
  const fs::path dir = test_data() / "tokenizers";
  for (const auto& [key, path] : {std::pair{"converted", dir / "converted"}, {"first", dir / "first" / "tokenizer.json"}, {"old_style", dir / "old_style.json"}}) {
    const auto tok = t5::Tokenizer::from_path(path);
    for (const auto mode : {t5::TokenizerMode::HuggingFace, t5::TokenizerMode::SentencePiece}) {
      const auto wrong = mismatches(tok, mode, key);
      BOOST_TEST(wrong.empty(), key << ": " << wrong.size() << " texts differ: " << joined(wrong));
    }
    BOOST_TEST(tok.sentinel_count() == 100);
    BOOST_TEST(tok.sentinel_id(0) == 399);  // 300 pieces, then <extra_id_99> .. <extra_id_0>
    BOOST_TEST(tok.pad_id() == 0);
    BOOST_TEST(tok.eos_id() == 1);
    BOOST_TEST(tok.decode(tok.encode("The dog <extra_id_0> the river.")) == "The dog the river.");
    BOOST_TEST(tok.decode(tok.encode("The dog <extra_id_0> the river."), false) == "The dog<extra_id_0> the river.</s>");
  }
}

// sp mode equals Python sentencepiece with the sentinels appended as user-defined pieces, on the
// spiece.model and on the same vocabulary as a GGUF file carries it (llama.cpp's converter layout:
// sentinels user-defined, [PADn] unused, the charsmap and normaliser flags as metadata); the GGUF
// tokenizer's hf mode equals T5TokenizerFast on the spiece.model.
BOOST_AUTO_TEST_CASE(gguf_tokenizer_equals_sentencepiece) {
  const auto spm = t5::Tokenizer::from_spm(test_data() / "tokenizers" / "spiece_nfkc.model");
  auto wrong = mismatches(spm, t5::TokenizerMode::SentencePiece, "sentencepiece");
  BOOST_TEST(wrong.empty(), "spiece.model: " << wrong.size() << " texts differ: " << joined(wrong));
  const auto gguf = t5::Tokenizer::from_path(test_data() / "tokenizers" / "tokenizer_nfkc.gguf");
  wrong = mismatches(gguf, t5::TokenizerMode::SentencePiece, "sentencepiece");
  BOOST_TEST(wrong.empty(), "GGUF, sp mode: " << wrong.size() << " texts differ: " << joined(wrong));
  wrong = mismatches(gguf, t5::TokenizerMode::HuggingFace, "spm_fast");
  BOOST_TEST(wrong.empty(), "GGUF, hf mode: " << wrong.size() << " texts differ: " << joined(wrong));
  BOOST_TEST(gguf.sentinel_id(0) == 399);
  BOOST_TEST(gguf.sentinel_count() == 100);
  BOOST_TEST(gguf.vocab_size() == 448);  // 300 pieces, 100 sentinels, 48 [PADn] rows
  BOOST_TEST(gguf.decode(gguf.encode("The dog <extra_id_0> the river.")) == spm.decode(spm.encode("The dog <extra_id_0> the river.")));
  BOOST_TEST(t5::Tokenizer::has_tokenizer(test_data() / "tokenizers" / "tokenizer_nfkc.gguf"));
  // Another tokenizer model (llama's BPE, say) is refused by name.
  const t5::test::TempDir tmp;
  std::string bytes = t5::read_text_file(test_data() / "tokenizers" / "tokenizer_nfkc.gguf");
  const std::string key = "tokenizer.ggml.model";
  const auto at = bytes.find(key);
  BOOST_TEST_REQUIRE(at != std::string::npos);
  BOOST_TEST_REQUIRE(bytes.substr(at + key.size() + 12, 2) == "t5");  // type (4 bytes), length (8), "t5"
  bytes.replace(at + key.size() + 12, 2, "ll");
  std::ofstream(tmp.path() / "ll.gguf", std::ios::binary) << bytes;
  try {
    (void)t5::Tokenizer::from_path(tmp.path() / "ll.gguf");
    BOOST_ERROR("no error for tokenizer.ggml.model \"ll\"");
  } catch (const t5::Error& e) {
    BOOST_TEST(std::string(e.what()).find("tokenizer.ggml.model is \"ll\", not \"t5\"") != std::string::npos, e.what());
  }
}

// What a tokenizer.json holds that t5cc does not run is an error naming it, never a silent guess.
BOOST_AUTO_TEST_CASE(tokenizer_json_refusals) {
  const t5::test::TempDir tmp;
  const auto base = t5::Json::parse(t5::read_text_file(test_data() / "tokenizers" / "converted" / "tokenizer.json"));
  auto refused = [&](const std::string& name, auto edit, const std::string& fragment) {
    t5::Json j = base;
    edit(j);
    const fs::path file = tmp.path() / (name + ".json");
    std::ofstream(file) << j.dump();
    try {
      (void)t5::Tokenizer::from_path(file);
      BOOST_ERROR(name << ": no error");
    } catch (const t5::Error& e) {
      BOOST_TEST(e.code() == t5::ErrorCode::Tokenizer);
      BOOST_TEST(std::string(e.what()).find(fragment) != std::string::npos, name << ": " << e.what());
    }
  };
  refused("bpe", [](t5::Json& j) { j["model"]["type"] = "BPE"; }, "is not Unigram");
  refused("nfd", [](t5::Json& j) { j["normalizer"] = {{"type", "NFD"}}; }, "normalizer \"NFD\" is not one t5cc runs");
  refused("regex", [](t5::Json& j) { j["normalizer"]["normalizers"][2]["pattern"]["Regex"] = "\\s+"; }, "Replace regex");
  refused("bert", [](t5::Json& j) { j["pre_tokenizer"] = {{"type", "BertPreTokenizer"}}; }, "pre_tokenizer \"BertPreTokenizer\"");
  refused("single_word", [](t5::Json& j) { j["added_tokens"][0]["single_word"] = true; }, "single_word");
  refused("no_unk", [](t5::Json& j) { j["model"]["unk_id"] = nullptr; }, "no unk_id");
  refused("charsmap", [](t5::Json& j) { j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "AAAA"; }, "precompiled_charsmap");
  refused("base64", [](t5::Json& j) { j["normalizer"]["normalizers"][0]["precompiled_charsmap"] = "AA*A"; }, "not base64");
  refused("sentinel_order", [](t5::Json& j) { j["added_tokens"][3]["content"] = "<extra_id_5>"; }, "is not where T5 puts it");
  refused("not_json", [](t5::Json& j) { j = t5::Json::array(); }, "not a tokenizer.json");
}

BOOST_AUTO_TEST_CASE(padding_and_truncation) {
  const auto tok = t5::Tokenizer::from_model_dir(test_data() / "mt5");
  const std::vector<std::string> texts = {"The dog.", "A small bird sings near the old river today."};
  const auto a = tok.encode(texts[0]), b = tok.encode(texts[1]);
  const auto longest = tok.encode_batch(texts);
  BOOST_TEST(longest.length == static_cast<std::int64_t>(b.size()));
  BOOST_TEST(longest.ids[a.size()] == tok.pad_id());
  BOOST_TEST(longest.mask[a.size() - 1] == 1);
  BOOST_TEST(longest.mask[a.size()] == 0);

  t5::BatchOptions fixed;
  fixed.pad_to = 40;
  const auto padded = tok.encode_batch(texts, fixed);
  BOOST_TEST(padded.length == 40);
  BOOST_TEST(padded.ids.size() == 80u);
  std::int64_t tokens = 0;
  for (const auto m : padded.mask) tokens += m;
  BOOST_TEST(tokens == static_cast<std::int64_t>(a.size() + b.size()));

  const auto n = static_cast<std::int64_t>(a.size());  // the first input fits exactly, the second not
  fixed.pad_to = n;
  try {
    tok.encode_batch(texts, fixed);
    BOOST_ERROR("no error for an input longer than pad_to");
  } catch (const t5::Error& e) {
    const std::string what = e.what();
    BOOST_TEST(what.find("input 2 has " + std::to_string(b.size()) + " tokens, more than the padded length " + std::to_string(n)) !=
                   std::string::npos,
               what);
  }
  fixed.truncate = true;
  const auto cut = tok.encode_batch(texts, fixed);
  BOOST_TEST(cut.length == n);
  BOOST_TEST(std::vector<std::int32_t>(cut.ids.begin(), cut.ids.begin() + n) == a);
  BOOST_TEST(cut.ids[static_cast<std::size_t>(2 * n - 1)] == tok.eos_id());  // EOS kept at the end of the cut row
  BOOST_TEST(std::vector<std::int32_t>(cut.ids.begin() + n, cut.ids.begin() + 2 * n - 1) ==
             std::vector<std::int32_t>(b.begin(), b.begin() + n - 1));
}

BOOST_AUTO_TEST_CASE(bad_files_are_tokenizer_errors) {
  const t5::test::TempDir tmp;
  BOOST_CHECK_THROW(t5::Tokenizer::from_model_dir(tmp.path()), t5::Error);  // no spiece.model
  std::ofstream(tmp.path() / "junk.model") << "not a sentencepiece model";
  try {
    t5::Tokenizer::from_spm(tmp.path() / "junk.model");
    BOOST_ERROR("no error for a junk model");
  } catch (const t5::Error& e) {
    BOOST_TEST(e.code() == t5::ErrorCode::Tokenizer);
    BOOST_TEST(std::string(e.what()).find("junk.model") != std::string::npos, e.what());
  }
}

BOOST_AUTO_TEST_SUITE_END()
