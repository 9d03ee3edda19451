// t5::Tokenizer: T5's tokenizer from a spiece.model, a tokenizer.json or a folder holding them,
// with T5's sentinels <extra_id_N>, EOS, batch padding and truncation rules, and decoding.
// Two modes: SentencePiece (libsentencepiece on the spiece.model, sentinels appended to the
// serialized model as user-defined pieces) and HuggingFace (HF tokenizers' pipeline, from the
// tokenizer.json or as transformers converts the spiece.model, its Unigram model run by
// libsentencepiece on a model built in memory). No protobuf headers are needed.
#pragma once

#include <sentencepiece_processor.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "t5/config/hf_config.hpp"
#include "t5/core/batch.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/gguf.hpp"
#include "t5/tokenizer/hf_pipeline.hpp"
#include "t5/tokenizer/spm_model.hpp"

namespace t5 {

/// `SentencePiece`: SentencePiece with the sentinels as user-defined pieces (the reference
/// library's recommendation). `HuggingFace`: what HF tokenizers computes with the folder's
/// tokenizer.json, or without one what T5TokenizerFast.from_pretrained computes from the
/// spiece.model (transformers 4.49). A tokenizer read from a tokenizer.json alone has no
/// SentencePiece model: both modes run the tokenizer.json, which is its definition.
enum class TokenizerMode { SentencePiece, HuggingFace };

struct EncodeOptions {
  TokenizerMode mode = TokenizerMode::SentencePiece;
  bool add_eos = true;
};

struct BatchOptions {
  EncodeOptions encode;
  std::int64_t pad_to = 0;  ///< 0: pad to the longest row; N: every row N tokens (Flux: 256 or 512)
  bool truncate = false;    ///< cut rows longer than pad_to (keeping the EOS) instead of failing
};

/// Rows of token ids as one batch with its mask, right-padded with `pad_id` to the longest row or
/// to options.pad_to. A row longer than pad_to is an error naming both lengths (its `unit`:
/// "tokens", "ids"), unless options.truncate: then it is cut, its last id set to `eos_on_cut` when
/// that is >= 0.
inline TokenBatch pad_rows(std::vector<std::vector<std::int32_t>> rows, std::int32_t pad_id, const BatchOptions& options, const char* unit,
                           std::int32_t eos_on_cut = -1) {
  if (options.pad_to < 0) throw Error(ErrorCode::InvalidArgument, "pad_to must be >= 0, found " + std::to_string(options.pad_to));
  for (std::size_t i = 0; i < rows.size(); ++i) {
    auto& row = rows[i];
    if (options.pad_to == 0 || static_cast<std::int64_t>(row.size()) <= options.pad_to) continue;
    if (!options.truncate)
      throw Error(ErrorCode::InvalidArgument, "input " + std::to_string(i + 1) + " has " + std::to_string(row.size()) + " " + unit +
                                                  ", more than the padded length " + std::to_string(options.pad_to) +
                                                  " (truncation is off: turn it on to cut it: --truncate, truncate=True, BatchOptions::truncate)");
    row.resize(static_cast<std::size_t>(options.pad_to));
    if (eos_on_cut >= 0) row.back() = eos_on_cut;
  }
  return TokenBatch::from_rows(rows, pad_id, options.pad_to);
}

class Tokenizer {
 public:
  /// The tokenizer of a model directory (`for_model` with the directory's config.json).
  static Tokenizer from_model_dir(const std::filesystem::path& dir) {
    if (!has_tokenizer(dir))
      throw Error(ErrorCode::Tokenizer, dir.string() + ": no spiece.model or tokenizer.json (the tokenizer files t5cc reads)");
    const HfConfig config = HfConfig::read(dir / "config.json");
    return for_model(dir, config.model_type, config.hparams, config.source);
  }

  /// Whether `file` starts with GGUF's magic.
  static bool is_gguf(const std::filesystem::path& file) {
    const MappedFile f(file);
    return f.size() >= 4 && std::memcmp(f.bytes().data(), io::gguf::magic.data(), 4) == 0;
  }

  /// Whether `path` is a folder holding spiece.model or tokenizer.json, or a GGUF file that
  /// carries a tokenizer (tokenizer.ggml.model).
  static bool has_tokenizer(const std::filesystem::path& path) {
    const PathKind kind = path_kind(path);
    if (kind == PathKind::Directory)
      return path_kind(path / "spiece.model") != PathKind::Missing || path_kind(path / "tokenizer.json") != PathKind::Missing;
    return kind == PathKind::Regular && is_gguf(path) && io::GgufFile(path).metadata("tokenizer.ggml.model") != nullptr;
  }

  /// The tokenizer at `path` for a model whose config is known (perhaps inferred for a single
  /// weights file; `config_source` names it). `path` is a folder (its spiece.model, its
  /// tokenizer.json, or both: the first for SentencePiece mode, the second for HuggingFace mode;
  /// its tokenizer_config.json's extra_ids and legacy), a spiece.model or a tokenizer.json. The
  /// sentinel count: extra_ids when given, else 300 for a umt5 model whose vocab_size leaves room
  /// for 300, else 100; a tokenizer.json has its own. Pad and eos ids from the config.
  static Tokenizer for_model(const std::filesystem::path& path, const std::string& model_type, const Hparams& h, const std::string& config_source) {
    Tokenizer t = build(find_files(path), [&](std::int64_t pieces) -> std::int64_t { return model_type == "umt5" && h.vocab_size >= pieces + 300 ? 300 : 100; },
                        "the default for model_type " + quoted_text(model_type), h.vocab_size,
                        "vocab_size " + std::to_string(h.vocab_size) + " of " + config_source);
    t.pad_id_ = static_cast<std::int32_t>(h.pad_id);
    t.eos_id_ = static_cast<std::int32_t>(h.eos_id);
    return t;
  }

  /// Most sentinels from_spm adds (T5 has 100, UMT5 300): a bound on what the count builds.
  static constexpr std::int64_t max_sentinels = 1 << 20;

  /// A SentencePiece model file alone: `sentinels` sentinels (T5: 100, at most max_sentinels); pad
  /// and eos from the model (pad 0 and eos 1 when it defines none); HuggingFace mode as
  /// T5TokenizerFast converts it (legacy).
  static Tokenizer from_spm(const std::filesystem::path& file, std::int64_t sentinels = 100) {
    if (sentinels < 0 || sentinels > max_sentinels)
      throw Error(ErrorCode::InvalidArgument, file.string() + ": " + std::to_string(sentinels) + " sentinels asked for, expected 0 to " +
                                                  std::to_string(max_sentinels));
    Tokenizer t = load(file);
    t.add_sentinels(sentinels, file.string(), "asked for", std::numeric_limits<std::int32_t>::max(), "the int32 token ids");
    t.convert_spm(true);
    return t;
  }

  /// A tokenizer.json alone: its vocabulary, added tokens and pipeline; pad and eos are the ids of
  /// its "<pad>" and "</s>" tokens.
  static Tokenizer from_tokenizer_json(const std::filesystem::path& file) {
    if (path_kind(file) == PathKind::Directory) throw Error(ErrorCode::Tokenizer, file.string() + ": a folder, where a tokenizer.json file was expected");
    Files files;
    files.json = file;
    return build(files, [](std::int64_t) -> std::int64_t { return 0; }, "", std::numeric_limits<std::int32_t>::max(), "the int32 token ids");
  }

  /// A tokenizer file alone (a tokenizer.json or a spiece.model, told apart by content) or a
  /// folder (as for_model, but with 100 sentinels unless extra_ids says otherwise, and the
  /// tokenizer's own special ids).
  static Tokenizer from_path(const std::filesystem::path& path) {
    return build(find_files(path), [](std::int64_t) -> std::int64_t { return 100; }, "the default", std::numeric_limits<std::int32_t>::max(),
                 "the int32 token ids");
  }

  /// Token ids of `text` (EOS appended unless options say not).
  std::vector<std::int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const {
    std::vector<std::int32_t> out;
    if (options.mode == TokenizerMode::SentencePiece && sp_) {
      std::vector<int> ids;
      check(sp_->Encode(text, &ids), "cannot encode text");
      out.assign(ids.begin(), ids.end());
    } else {
      for (const hf::Segment& segment : hf_->split(text)) {
        if (segment.added_id >= 0) {
          out.push_back(segment.added_id);
          continue;
        }
        std::vector<int> ids;
        check(hf_model_->Encode(segment.word, &ids), "cannot encode text");
        out.insert(out.end(), ids.begin(), ids.end());
      }
    }
    if (options.add_eos) out.push_back(eos_id_);
    return out;
  }

  /// The pieces of `text`, as encode() would give their ids ("</s>" for the EOS).
  std::vector<std::string> pieces(std::string_view text, const EncodeOptions& options = {}) const {
    std::vector<std::string> out;
    for (const auto id : encode(text, options)) out.push_back(piece(id));
    return out;
  }

  /// The piece of `id` (HuggingFace mode's vocabulary when there is no SentencePiece model).
  std::string piece(std::int32_t id) const {
    if (id < 0 || id >= vocab_size()) throw Error(ErrorCode::Tokenizer, "no piece has id " + std::to_string(id) + ": the vocabulary has " + std::to_string(vocab_size()) + " ids");
    return (sp_ ? sp_ : hf_model_)->IdToPiece(id);
  }

  /// Texts as one right-padded batch with its mask. A row longer than pad_to is an error naming
  /// both lengths, unless options.truncate (the cut row keeps its EOS).
  TokenBatch encode_batch(std::span<const std::string> texts, const BatchOptions& options = {}) const {
    std::vector<std::vector<std::int32_t>> rows;
    for (const auto& text : texts) rows.push_back(encode(text, options.encode));
    return pad_rows(std::move(rows), pad_id_, options, "tokens", options.encode.add_eos ? eos_id_ : -1);
  }

  /// Text of `ids`. With skip_special, pad, eos, unk, sentinels and a tokenizer.json's special
  /// tokens are left out (as HF's skip_special_tokens), and so are ids beyond the tokenizer's
  /// vocabulary (the unused rows a model's vocab_size is padded with); without it such an id is an
  /// error. A tokenizer.json alone decodes as its Metaspace decoder does.
  std::string decode(std::span<const std::int32_t> ids, bool skip_special = true) const {
    std::vector<int> kept;
    for (const auto id : ids) {
      const bool known = id >= 0 && id < static_cast<std::int32_t>(vocab_size());
      if (skip_special && (!known || is_special(id))) continue;
      if (!known) throw Error(ErrorCode::Tokenizer, "cannot decode id " + std::to_string(id) + ": the vocabulary has " + std::to_string(vocab_size()) + " ids");
      kept.push_back(id);
    }
    std::string text;
    if (sp_) {
      check(sp_->Decode(kept, &text), "cannot decode ids");
      return text;
    }
    const std::string replacement = hf_->replacement();
    for (const int id : kept) text += replacement.empty() ? hf_model_->IdToPiece(id) : hf::detail::replaced_all(hf_model_->IdToPiece(id), replacement, " ");
    if (hf_->prepends() && text.starts_with(' ')) text.erase(0, 1);
    return text;
  }

  std::int32_t pad_id() const noexcept { return pad_id_; }
  std::int32_t eos_id() const noexcept { return eos_id_; }
  std::int32_t unk_id() const noexcept { return unk_id_; }
  /// Pieces of the vocabulary other than the sentinels.
  std::int64_t piece_count() const noexcept { return pieces_; }
  std::int64_t sentinel_count() const noexcept { return sentinels_; }
  /// Ids this tokenizer produces: pieces + sentinels.
  std::int64_t vocab_size() const noexcept { return pieces_ + sentinels_; }
  /// The id of <extra_id_n>: pieces + (count - 1) - n when t5cc appended them (T5's layout).
  std::int32_t sentinel_id(std::int64_t n) const {
    if (n < 0 || n >= sentinels_) throw Error(ErrorCode::InvalidArgument, "no sentinel <extra_id_" + std::to_string(n) + ">");
    return static_cast<std::int32_t>(first_sentinel_ + (sentinels_ - 1) - n);
  }
  /// Where HuggingFace mode's pipeline comes from: a tokenizer.json, or the spiece.model converted.
  const std::string& hf_source() const noexcept { return hf_source_; }

 private:
  Tokenizer() = default;

  /// The tokenizer files of `path`: a folder's spiece.model, tokenizer.json and
  /// tokenizer_config.json (each empty when absent), or one file, told apart by its first byte.
  struct Files {
    std::filesystem::path spm, json, config, gguf;
  };

  static Files find_files(const std::filesystem::path& path) {
    Files f;
    const PathKind kind = path_kind(path);
    if (kind == PathKind::Missing) throw Error(ErrorCode::Tokenizer, path.string() + ": no such file or directory (the tokenizer)");
    if (kind == PathKind::Directory) {
      if (path_kind(path / "spiece.model") != PathKind::Missing) f.spm = path / "spiece.model";
      if (path_kind(path / "tokenizer.json") != PathKind::Missing) f.json = path / "tokenizer.json";
      if (path_kind(path / "tokenizer_config.json") != PathKind::Missing) f.config = path / "tokenizer_config.json";
      if (f.spm.empty() && f.json.empty())
        throw Error(ErrorCode::Tokenizer, path.string() + ": a folder with no spiece.model or tokenizer.json (the tokenizer files t5cc reads)");
      return f;
    }
    if (is_gguf(path)) {
      f.gguf = path;
      return f;
    }
    MappedFile file(path);
    const auto bytes = file.bytes();
    const auto first = std::find_if(bytes.begin(), bytes.end(), [](std::byte b) { return std::string_view(" \n\r\t").find(static_cast<char>(b)) == std::string_view::npos; });
    const bool json = first != bytes.end() && (static_cast<char>(*first) == '{' || static_cast<char>(*first) == '[');
    (json ? f.json : f.spm) = path;
    return f;
  }

  /// The tokenizer of `files`: the spiece.model with its sentinels (extra_ids, else
  /// default_count(pieces), named by `default_source`); the tokenizer.json for HuggingFace mode,
  /// else the spiece.model converted. The vocabulary must fit `max_vocab` (`limit` says whose).
  template <class DefaultCount>
  static Tokenizer build(const Files& files, DefaultCount&& default_count, const std::string& default_source, std::int64_t max_vocab,
                         const std::string& limit) {
    Tokenizer t;
    if (!files.gguf.empty()) {
      t = from_gguf_file(files.gguf);
      t.add_sentinels(default_count(t.pieces_), files.gguf.string(), default_source, max_vocab, limit);
      t.convert_spm(true);
      return t;
    }
    if (!files.spm.empty()) {
      const std::optional<std::int64_t> extra_ids = files.config.empty() ? std::nullopt : read_extra_ids(files.config);
      t = load(files.spm);
      t.add_sentinels(extra_ids ? *extra_ids : default_count(t.pieces_), files.spm.string(),
                      extra_ids ? "extra_ids of " + files.config.string() : default_source, max_vocab, limit);
    }
    if (files.json.empty())
      t.convert_spm(files.config.empty() || read_legacy(files.config));
    else
      t.read_tokenizer_json(files.json, max_vocab, limit, !files.spm.empty());
    return t;
  }

  /// tokenizer_config.json's "extra_ids", when the file exists and has the key.
  static std::optional<std::int64_t> read_extra_ids(const std::filesystem::path& path) {
    const std::string src = path.string();
    const Json j = parse_json_strict(read_text_file(path), src, "key");
    return with_json_errors(src, ErrorCode::Tokenizer, [&]() -> std::optional<std::int64_t> {
      if (!j.is_object() || !j.contains("extra_ids")) return std::nullopt;
      const Json& v = j.at("extra_ids");
      if (!v.is_number_unsigned() || v.get<std::uint64_t>() > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw Error(ErrorCode::Tokenizer, src + ": extra_ids must be a non-negative integer below 2^63, found " + json_excerpt(v));
      return v.get<std::int64_t>();
    });
  }

  /// tokenizer_config.json's "legacy" (T5Tokenizer's default, true, when absent or null).
  static bool read_legacy(const std::filesystem::path& path) {
    const std::string src = path.string();
    const Json j = parse_json_strict(read_text_file(path), src, "key");
    return with_json_errors(src, ErrorCode::Tokenizer, [&] {
      if (!j.is_object() || !j.contains("legacy") || j.at("legacy").is_null()) return true;
      if (!j.at("legacy").is_boolean()) throw Error(ErrorCode::Tokenizer, src + ": legacy must be true or false, found " + json_excerpt(j.at("legacy")));
      return j.at("legacy").get<bool>();
    });
  }

  /// The model's bytes, read by t5cc (a FIFO or a device is refused before anything blocks) and
  /// handed to SentencePiece as a serialized proto: SentencePiece never opens a path itself.
  static Tokenizer load(const std::filesystem::path& file) {
    return from_serialized(read_text_file(file), file.string(),
                           file.string() + ": not a SentencePiece model (the tokenizer files t5cc reads: spiece.model, tokenizer.json, a GGUF file's own)");
  }

  /// A tokenizer over the serialized ModelProto `bytes` (from `source`); pad and eos from the
  /// model (0 and 1 when it defines none). `failure` is the message when SentencePiece refuses it.
  static Tokenizer from_serialized(std::string bytes, std::string source, const std::string& failure) {
    Tokenizer t;
    t.sp_ = std::make_shared<sentencepiece::SentencePieceProcessor>();
    t.source_ = std::move(source);
    t.serialized_ = std::move(bytes);
    if (const auto status = load_proto(*t.sp_, t.serialized_); !status.ok()) throw Error(ErrorCode::Tokenizer, failure);
    t.pieces_ = t.sp_->GetPieceSize();
    t.pad_id_ = t.sp_->pad_id() >= 0 ? t.sp_->pad_id() : 0;
    t.eos_id_ = t.sp_->eos_id() >= 0 ? t.sp_->eos_id() : 1;
    t.unk_id_ = t.sp_->unk_id();
    return t;
  }

  /// The tokenizer a GGUF file carries, as llama.cpp's converter writes T5's (convert_hf_to_gguf.py,
  /// T5Model.set_vocab): tokenizer.ggml.model "t5", the pieces' tokens, scores and types (SentencePiece's
  /// own type numbers), the precompiled charsmap and the normaliser flags of the spiece.model it came
  /// from, and the special ids. Rebuilt as that SentencePiece model, which is what llama.cpp runs.
  static Tokenizer from_gguf_file(const std::filesystem::path& path) {
    const io::GgufFile file(path);
    const std::string src = path.string();
    auto fail = [&](const std::string& what) { return Error(ErrorCode::Tokenizer, src + ": " + what); };
    const io::gguf::Value* model = file.metadata("tokenizer.ggml.model");
    if (model == nullptr) throw fail("the GGUF file carries no tokenizer (no tokenizer.ggml.model); pass --tokenizer");
    if (model->type != io::gguf::ValueType::String || model->text != "t5")
      throw fail("tokenizer.ggml.model is " + (model->type == io::gguf::ValueType::String ? quoted_text(model->text) : std::string("not a string")) +
                 ", not \"t5\" (T5's SentencePiece unigram)");
    const auto tokens = file.string_array("tokenizer.ggml.tokens");
    if (!tokens || tokens->empty()) throw fail("tokenizer.ggml.tokens is missing or empty");
    const auto scores = file.number_array("tokenizer.ggml.scores");
    const auto types = file.number_array("tokenizer.ggml.token_type");
    for (const auto* a : {&scores, &types})
      if (*a && (*a)->size() != tokens->size())
        throw fail("tokenizer.ggml." + std::string(a == &scores ? "scores" : "token_type") + " has " + std::to_string((*a)->size()) +
                   " entries for " + std::to_string(tokens->size()) + " tokens");
    spm::Model m;
    for (std::size_t i = 0; i < tokens->size(); ++i) {
      const double type = types ? (*types)[i] : 1.0;
      if (!(type >= 1 && type <= 6) || type != static_cast<int>(type)) throw fail("token " + std::to_string(i) + " has type " + std::to_string(type) + ", expected 1 to 6");
      const double score = scores ? (*scores)[i] : 0.0;
      if (!(std::abs(score) <= std::numeric_limits<float>::max())) throw fail("token " + std::to_string(i) + " has a score that is not a finite float32");
      m.pieces.push_back({(*tokens)[i], static_cast<float>(score), static_cast<spm::PieceType>(static_cast<int>(type))});
    }
    auto id = [&](const char* key, std::int32_t fallback) {
      const io::gguf::Value* v = file.metadata(key);
      if (v == nullptr) return fallback;
      if (!v->is_integer() || v->bits >= tokens->size()) throw fail(std::string(key) + " is not a token id of its " + std::to_string(tokens->size()) + " tokens");
      return static_cast<std::int32_t>(v->bits);
    };
    auto flag = [&](const char* key, bool fallback) {
      const io::gguf::Value* v = file.metadata(key);
      if (v == nullptr) return fallback;
      if (v->type != io::gguf::ValueType::Bool) throw fail(std::string(key) + " is not a boolean");
      return v->bits != 0;
    };
    std::int32_t unk = -1;
    for (std::size_t i = 0; i < m.pieces.size() && unk < 0; ++i)
      if (m.pieces[i].type == spm::PieceType::Unknown) unk = static_cast<std::int32_t>(i);
    check_pieces(m, src);
    m.unk_id = id("tokenizer.ggml.unknown_token_id", unk);
    if (m.unk_id < 0) throw fail("no unknown token (tokenizer.ggml.unknown_token_id, or a token of type UNKNOWN)");
    m.pieces[static_cast<std::size_t>(m.unk_id)].type = spm::PieceType::Unknown;
    m.unk_piece = m.pieces[static_cast<std::size_t>(m.unk_id)].piece;
    m.eos_id = id("tokenizer.ggml.eos_token_id", -1);
    m.pad_id = id("tokenizer.ggml.padding_token_id", -1);
    m.bos_id = id("tokenizer.ggml.bos_token_id", -1);
    if (const auto charsmap = file.byte_array("tokenizer.ggml.precompiled_charsmap")) m.precompiled_charsmap = *charsmap;
    m.normalizer_name = m.precompiled_charsmap.empty() ? "identity" : "nmt_nfkc";
    m.add_dummy_prefix = flag("tokenizer.ggml.add_space_prefix", true);
    m.remove_extra_whitespaces = flag("tokenizer.ggml.remove_extra_whitespaces", true);
    Tokenizer t = from_serialized(spm::serialize(m), src + " (its tokenizer)", src + ": its tokenizer is not a SentencePiece model");
    t.pad_id_ = m.pad_id >= 0 ? m.pad_id : 0;
    t.eos_id_ = m.eos_id >= 0 ? m.eos_id : 1;
    t.unk_id_ = m.unk_id;
    return t;
  }

  /// Appends `count` user-defined pieces, <extra_id_{count-1}> first and <extra_id_0> last, unless
  /// the model has them already (then they keep their ids, wherever the model put them, and must be
  /// consecutive in that order). The vocabulary that results must fit `max_vocab` (`limit` says
  /// whose); the count (from `count_source`) is checked against it before any sentinel is built.
  void add_sentinels(std::int64_t count, const std::string& where, const std::string& count_source, std::int64_t max_vocab,
                     const std::string& limit) {
    const std::int64_t model_pieces = sp_->GetPieceSize();
    const std::string first = "<extra_id_" + std::to_string(count - 1) + ">";
    const bool present = count > 0 && sp_->IdToPiece(sp_->PieceToId(first)) == first;
    const bool fits = present ? count <= model_pieces && model_pieces <= max_vocab : count <= max_vocab - model_pieces;
    if (!fits)
      throw Error(ErrorCode::Tokenizer, where + ": " + std::to_string(present ? model_pieces - std::min(count, model_pieces) : model_pieces) +
                                            " pieces + " + std::to_string(count) + " sentinels exceed " + limit + " (the sentinel count: " +
                                            count_source + ")");
    if (present) {
      first_sentinel_ = sp_->PieceToId(first);
      for (std::int64_t n = 0; n < count; ++n) {
        const std::string piece = "<extra_id_" + std::to_string(n) + ">";
        if (sp_->PieceToId(piece) != first_sentinel_ + (count - 1) - n)
          throw Error(ErrorCode::Tokenizer, where + ": the model holds sentinels, but " + piece + " is not where T5 puts it");
      }
      pieces_ = model_pieces - count;
      sentinels_ = count;
    } else {
      std::string bytes = serialized_;
      for (std::int64_t n = count - 1; n >= 0; --n) bytes += sentinel_entry("<extra_id_" + std::to_string(n) + ">");
      check(load_proto(*sp_, bytes), where + ": cannot add the sentinels");
      first_sentinel_ = pieces_;
      sentinels_ = count;
    }
  }

  /// One ModelProto.pieces entry (field 1): SentencePiece{piece = 1, score = 2 (0.0f), type = 3 (USER_DEFINED = 4)}.
  static std::string sentinel_entry(const std::string& piece) {
    std::string body;
    spm::detail::put_bytes(body, 1, piece);
    spm::detail::put_float(body, 2, 0.0f);
    spm::detail::put_int32(body, 3, static_cast<std::int32_t>(spm::PieceType::UserDefined));
    std::string entry;
    spm::detail::put_bytes(entry, 1, body);
    return entry;
  }

  /// HuggingFace mode for a spiece.model alone, as transformers' T5Converter builds it: the pieces
  /// (and the sentinels) as the Unigram vocabulary; its control and user-defined pieces, the unk
  /// piece and the sentinels as added tokens; the converter's normalisers and Metaspace.
  void convert_spm(bool legacy) {
    const spm::Model model = spm::parse(serialized_, source_);
    std::vector<hf::AddedToken> added;
    spm::Model vocab;
    for (std::size_t id = 0; id < model.pieces.size(); ++id) {
      const spm::Piece& p = model.pieces[id];
      if (p.type == spm::PieceType::Control || p.type == spm::PieceType::UserDefined || p.type == spm::PieceType::Unknown)
        added.push_back({p.piece, static_cast<std::int32_t>(id), p.type != spm::PieceType::UserDefined || is_sentinel(static_cast<std::int64_t>(id)), false, false, false});
      // Unused pieces ([PADn] rows of a GGUF vocabulary) stay unused: no HF vocabulary holds them.
      const bool kept = p.type == spm::PieceType::Unknown || p.type == spm::PieceType::Unused;
      vocab.pieces.push_back({p.piece, p.score, kept ? p.type : spm::PieceType::Normal});
    }
    if (first_sentinel_ == static_cast<std::int64_t>(model.pieces.size()))  // t5cc appended them
      for (std::int64_t n = sentinels_ - 1; n >= 0; --n) {
        const std::string piece = "<extra_id_" + std::to_string(n) + ">";
        added.push_back({piece, static_cast<std::int32_t>(vocab.pieces.size()), true, false, false, false});
        vocab.pieces.push_back({piece, 0.0f, spm::PieceType::Normal});
      }
    std::optional<hf::Charsmap> charsmap;
    if (!model.precompiled_charsmap.empty()) charsmap.emplace(model.precompiled_charsmap, source_);
    hf_ = std::make_shared<const hf::Pipeline>(hf::Pipeline::converted(std::move(charsmap), std::move(added), legacy));
    hf_source_ = source_ + " (as transformers' T5Converter converts it" + (legacy ? "" : ", legacy false") + ")";
    load_hf_model(std::move(vocab), source_);
  }

  /// The Unigram model of HuggingFace mode: `vocab` run by SentencePiece with no normalisation of
  /// its own (the pipeline has done it) and the unk piece the only special one, as tokenizers'
  /// Unigram treats every piece of its vocabulary.
  void load_hf_model(spm::Model vocab, const std::string& source) {
    vocab.normalizer_name = "identity";
    vocab.add_dummy_prefix = vocab.remove_extra_whitespaces = vocab.escape_whitespaces = false;
    vocab.bos_id = vocab.eos_id = vocab.pad_id = -1;
    vocab.unk_id = -1;
    check_pieces(vocab, source);
    for (std::size_t i = 0; i < vocab.pieces.size(); ++i)
      if (vocab.pieces[i].type == spm::PieceType::Unknown) {
        vocab.unk_id = static_cast<std::int32_t>(i);
        vocab.unk_piece = vocab.pieces[i].piece;
      }
    if (vocab.unk_id < 0) throw Error(ErrorCode::Tokenizer, source + ": the vocabulary has no unk token (a Unigram model needs one)");
    hf_model_ = std::make_shared<sentencepiece::SentencePieceProcessor>();
    check(load_proto(*hf_model_, spm::serialize(vocab)), source + ": cannot build its Unigram model");
  }

  /// HuggingFace mode from a tokenizer.json: its pipeline and Unigram vocabulary. With
  /// `beside_spm`, the spiece.model already set the pieces, sentinels and ids, and the file must
  /// agree with them; alone, the file sets them. Its vocabulary must fit `max_vocab` (`limit`).
  void read_tokenizer_json(const std::filesystem::path& file, std::int64_t max_vocab, const std::string& limit, bool beside_spm) {
    const std::string src = file.string();
    const Json root = parse_json_strict(read_text_file(file), src, "key", ErrorCode::Tokenizer);
    spm::Model vocab;
    with_json_errors(src, ErrorCode::Tokenizer, [&] {
      if (!root.is_object() || !root.contains("model")) throw Error(ErrorCode::Tokenizer, src + ": not a tokenizer.json (no \"model\")");
      const Json& model = root.at("model");
      const std::string type = model.value("type", "");
      if (type != "Unigram")
        throw Error(ErrorCode::Tokenizer, src + ": model type " + quoted_text(type) + " is not Unigram (the model of T5's tokenizers)");
      if (model.value("byte_fallback", false)) throw Error(ErrorCode::Tokenizer, src + ": byte_fallback is on, which T5's tokenizers never use and t5cc does not run");
      if (!model.contains("unk_id") || model.at("unk_id").is_null()) throw Error(ErrorCode::Tokenizer, src + ": the Unigram model has no unk_id");
      const std::int64_t unk = hf::detail::token_id(model.at("unk_id"), src + ": unk_id");
      const Json& entries = model.at("vocab");
      if (unk < 0 || unk >= static_cast<std::int64_t>(entries.size()))
        throw Error(ErrorCode::Tokenizer, src + ": unk_id " + std::to_string(unk) + " is outside the vocabulary of " + std::to_string(entries.size()));
      for (const Json& e : entries) {
        if (!e.is_array() || e.size() != 2) throw Error(ErrorCode::Tokenizer, src + ": a vocab entry is not [piece, score]: " + json_excerpt(e));
        const double score = e.at(1).get<double>();  // a float32 in the model SentencePiece runs
        if (!(std::abs(score) <= std::numeric_limits<float>::max()))
          throw Error(ErrorCode::Tokenizer, src + ": the score of vocab entry " + json_excerpt(e.at(0)) + " is not a finite float32: " + json_excerpt(e.at(1)));
        vocab.pieces.push_back({e.at(0).get<std::string>(), static_cast<float>(score), spm::PieceType::Normal});
      }
      vocab.pieces[static_cast<std::size_t>(unk)].type = spm::PieceType::Unknown;
      hf_ = std::make_shared<const hf::Pipeline>(hf::Pipeline::from_json(root, src));
    });
    const auto n = static_cast<std::int64_t>(vocab.pieces.size());
    // Added tokens beyond the Unigram vocabulary (tokenizers appends them) follow it, in id order;
    // unused pieces to SentencePiece, so that the model never produces them from text.
    std::vector<hf::AddedToken> extra;
    for (const auto& a : hf_->added_tokens())
      if (a.id >= n) extra.push_back(a);
    std::sort(extra.begin(), extra.end(), [](const auto& a, const auto& b) { return a.id < b.id; });
    for (const auto& a : extra) {
      if (a.id != static_cast<std::int32_t>(vocab.pieces.size()))
        throw Error(ErrorCode::Tokenizer, src + ": added token " + quoted_text(a.content) + " has id " + std::to_string(a.id) + ", leaving a gap after the vocabulary");
      vocab.pieces.push_back({a.content, 0.0f, spm::PieceType::Unused});
    }
    const auto total = static_cast<std::int64_t>(vocab.pieces.size());
    if (total > max_vocab) throw Error(ErrorCode::Tokenizer, src + ": its " + std::to_string(total) + " ids exceed " + limit);
    // The sentinels: the added tokens <extra_id_N>, consecutive and in T5's order.
    std::int64_t count = 0, first = -1;
    for (const auto& a : hf_->added_tokens())
      if (a.content.starts_with("<extra_id_")) ++count;
    for (const auto& a : hf_->added_tokens())
      if (a.content == "<extra_id_" + std::to_string(count - 1) + ">") first = a.id;
    for (std::int64_t k = 0; k < count; ++k) {
      const std::string name = "<extra_id_" + std::to_string(k) + ">";
      const bool at = std::any_of(hf_->added_tokens().begin(), hf_->added_tokens().end(),
                                  [&](const auto& a) { return a.content == name && a.id == first + (count - 1) - k; });
      if (!at) throw Error(ErrorCode::Tokenizer, src + ": " + name + " is not where T5 puts it (the sentinels must be consecutive, <extra_id_0> last)");
    }
    hf_source_ = src;
    load_hf_model(std::move(vocab), src);
    for (const auto& a : hf_->added_tokens())
      if (a.special) special_.push_back(a.id);
    if (beside_spm) {
      if (total != vocab_size() || count != sentinels_ || (count > 0 && first != first_sentinel_))
        throw Error(ErrorCode::Tokenizer, src + ": " + std::to_string(total) + " ids with " + std::to_string(count) +
                                              " sentinels, but the spiece.model beside it gives " + std::to_string(vocab_size()) + " with " +
                                              std::to_string(sentinels_));
      return;
    }
    sentinels_ = count;
    first_sentinel_ = count > 0 ? first : total;
    pieces_ = total - count;
    unk_id_ = hf_model_->unk_id();
    const int pad = hf_model_->PieceToId("<pad>"), eos = hf_model_->PieceToId("</s>");
    pad_id_ = hf_model_->IdToPiece(pad) == "<pad>" ? pad : 0;
    eos_id_ = hf_model_->IdToPiece(eos) == "</s>" ? eos : 1;
  }

  bool is_sentinel(std::int64_t id) const { return id >= first_sentinel_ && id < first_sentinel_ + sentinels_; }
  bool is_special(std::int32_t id) const {
    return id == pad_id_ || id == eos_id_ || id == unk_id_ || is_sentinel(id) || std::find(special_.begin(), special_.end(), id) != special_.end();
  }

  /// Pieces SentencePiece can hold: not empty, no NUL byte (its trie ends keys there).
  static void check_pieces(const spm::Model& m, const std::string& source) {
    for (std::size_t i = 0; i < m.pieces.size(); ++i)
      if (m.pieces[i].piece.empty() || m.pieces[i].piece.find('\0') != std::string::npos)
        throw Error(ErrorCode::Tokenizer, source + ": piece " + std::to_string(i) + " " + quoted_text(m.pieces[i].piece) +
                                              " is empty or holds a NUL byte, which no SentencePiece vocabulary can");
  }

  /// SentencePiece's load as a Status: what it throws itself (darts-clone refuses an empty piece
  /// with an exception) becomes an error status.
  static sentencepiece::util::Status load_proto(sentencepiece::SentencePieceProcessor& sp, std::string_view bytes) {
    try {
      return sp.LoadFromSerializedProto(bytes);
    } catch (const std::exception& e) {
      return sentencepiece::util::Status(sentencepiece::util::StatusCode::kInvalidArgument, e.what());
    }
  }

  static void check(const sentencepiece::util::Status& status, const std::string& what) {
    if (!status.ok()) throw Error(ErrorCode::Tokenizer, what + ": " + status.ToString());
  }

  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp_;        ///< SentencePiece mode; null for a tokenizer.json alone
  std::shared_ptr<const hf::Pipeline> hf_;                           ///< HuggingFace mode's pipeline
  std::shared_ptr<sentencepiece::SentencePieceProcessor> hf_model_;  ///< and its Unigram model
  std::string source_, hf_source_;
  std::string serialized_;
  std::vector<std::int32_t> special_;  ///< a tokenizer.json's special added tokens
  std::int64_t pieces_ = 0;
  std::int64_t sentinels_ = 0;
  std::int64_t first_sentinel_ = 0;
  std::int32_t pad_id_ = 0;
  std::int32_t eos_id_ = 1;
  std::int32_t unk_id_ = -1;
};

}  // namespace t5
