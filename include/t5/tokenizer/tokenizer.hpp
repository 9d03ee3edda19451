// t5::Tokenizer: SentencePiece (libsentencepiece) with T5's sentinels <extra_id_N>, EOS, batch
// padding and truncation rules, and decoding. Sentinels are appended to the serialized model as
// user-defined pieces, so no protobuf headers are needed.
#pragma once

#include <sentencepiece_processor.h>

#include <algorithm>
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

namespace t5 {

/// `SentencePiece`: SentencePiece with the sentinels as user-defined pieces (the reference
/// library's recommendation). `HuggingFace`: the same, minus the lone space piece directly before
/// a sentinel, which is what T5TokenizerFast produces.
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

class Tokenizer {
 public:
  /// The tokenizer of a model directory: spiece.model; the sentinel count from
  /// tokenizer_config.json's "extra_ids" when present, else 300 for a umt5 model whose vocab_size
  /// leaves room for 300, else 100; pad and eos ids from config.json.
  static Tokenizer from_model_dir(const std::filesystem::path& dir) {
    const auto spm = dir / "spiece.model";
    if (path_kind(spm) == PathKind::Missing)
      throw Error(ErrorCode::Tokenizer, dir.string() + ": no spiece.model (the tokenizer t5cc reads is SentencePiece's)");
    const HfConfig config = HfConfig::read(dir / "config.json");
    return for_model(dir, config.model_type, config.hparams, config.source);
  }

  /// The same for a model whose config is already known (perhaps inferred for a single weights
  /// file; `config_source` names it): spiece.model and tokenizer_config.json from the directory `dir`.
  static Tokenizer for_model(const std::filesystem::path& dir, const std::string& model_type, const Hparams& h, const std::string& config_source) {
    const auto spm = dir / "spiece.model";
    if (path_kind(spm) == PathKind::Missing)
      throw Error(ErrorCode::Tokenizer, (dir.empty() ? std::filesystem::path(".") : dir).string() + ": no spiece.model beside the weights (the tokenizer t5cc reads is SentencePiece's)");
    const std::optional<std::int64_t> extra_ids = read_extra_ids(dir / "tokenizer_config.json");
    Tokenizer t = load(spm);
    const std::int64_t count = extra_ids ? *extra_ids : model_type == "umt5" && h.vocab_size >= t.pieces_ + 300 ? 300 : 100;
    const std::string count_source = extra_ids ? "extra_ids of " + (dir / "tokenizer_config.json").string() : "the default for model_type " + quoted_text(model_type);
    t.add_sentinels(count, spm.string(), count_source, h.vocab_size, "vocab_size " + std::to_string(h.vocab_size) + " of " + config_source);
    t.pad_id_ = static_cast<std::int32_t>(h.pad_id);
    t.eos_id_ = static_cast<std::int32_t>(h.eos_id);
    return t;
  }

  /// Most sentinels from_spm adds (T5 has 100, UMT5 300): a bound on what the count builds.
  static constexpr std::int64_t max_sentinels = 1 << 20;

  /// A SentencePiece model file alone: `sentinels` sentinels (T5: 100, at most max_sentinels); pad
  /// and eos from the model (pad 0 and eos 1 when it defines none).
  static Tokenizer from_spm(const std::filesystem::path& file, std::int64_t sentinels = 100) {
    if (sentinels < 0 || sentinels > max_sentinels)
      throw Error(ErrorCode::InvalidArgument, file.string() + ": " + std::to_string(sentinels) + " sentinels asked for, expected 0 to " +
                                                  std::to_string(max_sentinels));
    Tokenizer t = load(file);
    t.add_sentinels(sentinels, file.string(), "asked for", std::numeric_limits<std::int32_t>::max(), "the int32 token ids");
    return t;
  }

  /// Token ids of `text` (EOS appended unless options say not).
  std::vector<std::int32_t> encode(std::string_view text, const EncodeOptions& options = {}) const {
    std::vector<int> ids;
    check(sp_->Encode(text, &ids), "cannot encode text");
    std::vector<std::int32_t> out;
    out.reserve(ids.size() + 1);
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const bool lone_space_before_sentinel = options.mode == TokenizerMode::HuggingFace && ids[i] == space_id_ && i + 1 < ids.size() &&
                                              is_sentinel(ids[i + 1]);
      if (!lone_space_before_sentinel) out.push_back(ids[i]);
    }
    if (options.add_eos) out.push_back(eos_id_);
    return out;
  }

  /// The pieces of `text`, as encode() would give their ids ("</s>" for the EOS).
  std::vector<std::string> pieces(std::string_view text, const EncodeOptions& options = {}) const {
    std::vector<std::string> out;
    for (const auto id : encode(text, options)) out.push_back(sp_->IdToPiece(id));
    return out;
  }

  /// Texts as one right-padded batch with its mask. A row longer than pad_to is an error naming
  /// both lengths, unless options.truncate.
  TokenBatch encode_batch(std::span<const std::string> texts, const BatchOptions& options = {}) const {
    if (options.pad_to < 0) throw Error(ErrorCode::InvalidArgument, "pad_to must be >= 0, found " + std::to_string(options.pad_to));
    std::vector<std::vector<std::int32_t>> rows;
    for (std::size_t i = 0; i < texts.size(); ++i) {
      auto ids = encode(texts[i], options.encode);
      if (options.pad_to > 0 && static_cast<std::int64_t>(ids.size()) > options.pad_to) {
        if (!options.truncate)
          throw Error(ErrorCode::InvalidArgument, "input " + std::to_string(i + 1) + " has " + std::to_string(ids.size()) +
                                                      " tokens, more than the padded length " + std::to_string(options.pad_to) +
                                                      " (truncation is off: pass --truncate, or set BatchOptions::truncate, to cut it)");
        ids.resize(static_cast<std::size_t>(options.pad_to));
        if (options.encode.add_eos) ids.back() = eos_id_;
      }
      rows.push_back(std::move(ids));
    }
    return TokenBatch::from_rows(rows, pad_id_, options.pad_to);
  }

  /// Text of `ids`. With skip_special, pad, eos, unk and sentinels are left out (as HF's
  /// skip_special_tokens), and so are ids beyond the tokenizer's vocabulary (the unused rows a
  /// model's vocab_size is padded with); without it such an id is an error.
  std::string decode(std::span<const std::int32_t> ids, bool skip_special = true) const {
    std::vector<int> kept;
    for (const auto id : ids) {
      const bool special = id == pad_id_ || id == eos_id_ || id == sp_->unk_id() || is_sentinel(id);
      const bool known = id >= 0 && id < static_cast<std::int32_t>(vocab_size());
      if (skip_special && (special || !known)) continue;
      if (!known) throw Error(ErrorCode::Tokenizer, "cannot decode id " + std::to_string(id) + ": the vocabulary has " + std::to_string(vocab_size()) + " ids");
      kept.push_back(id);
    }
    std::string text;
    check(sp_->Decode(kept, &text), "cannot decode ids");
    return text;
  }

  std::int32_t pad_id() const noexcept { return pad_id_; }
  std::int32_t eos_id() const noexcept { return eos_id_; }
  std::int32_t unk_id() const { return sp_->unk_id(); }
  /// Pieces of the SentencePiece model other than the sentinels.
  std::int64_t piece_count() const noexcept { return pieces_; }
  std::int64_t sentinel_count() const noexcept { return sentinels_; }
  /// Ids this tokenizer produces: pieces + sentinels.
  std::int64_t vocab_size() const noexcept { return pieces_ + sentinels_; }
  /// The id of <extra_id_n>: pieces + (count - 1) - n when t5cc appended them (T5's layout).
  std::int32_t sentinel_id(std::int64_t n) const {
    if (n < 0 || n >= sentinels_) throw Error(ErrorCode::InvalidArgument, "no sentinel <extra_id_" + std::to_string(n) + ">");
    return static_cast<std::int32_t>(first_sentinel_ + (sentinels_ - 1) - n);
  }

 private:
  Tokenizer() : sp_(std::make_shared<sentencepiece::SentencePieceProcessor>()) {}

  /// tokenizer_config.json's "extra_ids", when the file exists and has the key.
  static std::optional<std::int64_t> read_extra_ids(const std::filesystem::path& path) {
    if (path_kind(path) == PathKind::Missing) return std::nullopt;
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

  /// The model's bytes, read by t5cc (a FIFO or a device is refused before anything blocks) and
  /// handed to SentencePiece as a serialized proto: SentencePiece never opens a path itself.
  static Tokenizer load(const std::filesystem::path& file) {
    Tokenizer t;
    t.source_ = file.string();
    t.serialized_ = read_text_file(file);
    check(t.sp_->LoadFromSerializedProto(t.serialized_), file.string() + ": not a SentencePiece model");
    t.pieces_ = t.sp_->GetPieceSize();
    t.pad_id_ = t.sp_->pad_id() >= 0 ? t.sp_->pad_id() : 0;
    t.eos_id_ = t.sp_->eos_id() >= 0 ? t.sp_->eos_id() : 1;
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
      check(sp_->LoadFromSerializedProto(bytes), where + ": cannot add the sentinels");
      first_sentinel_ = pieces_;
      sentinels_ = count;
    }
    const int space = sp_->PieceToId("\xe2\x96\x81");  // "▁", SentencePiece's word boundary
    space_id_ = sp_->IdToPiece(space) == "\xe2\x96\x81" ? space : -1;
  }

  /// One ModelProto.pieces entry (field 1): SentencePiece{piece = 1, score = 2 (0.0f), type = 3 (USER_DEFINED = 4)}.
  static std::string sentinel_entry(const std::string& piece) {
    std::string body;
    body += '\x0a';
    append_varint(body, piece.size());
    body += piece;
    body += std::string("\x15\x00\x00\x00\x00", 5);
    body += "\x18\x04";
    std::string entry = "\x0a";
    append_varint(entry, body.size());
    return entry + body;
  }
  static void append_varint(std::string& out, std::uint64_t v) {
    do {
      out += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
      v >>= 7;
    } while (v != 0);
  }

  bool is_sentinel(std::int64_t id) const { return id >= first_sentinel_ && id < first_sentinel_ + sentinels_; }

  static void check(const sentencepiece::util::Status& status, const std::string& what) {
    if (!status.ok()) throw Error(ErrorCode::Tokenizer, what + ": " + status.ToString());
  }

  std::shared_ptr<sentencepiece::SentencePieceProcessor> sp_;
  std::string source_;
  std::string serialized_;
  std::int64_t pieces_ = 0;
  std::int64_t sentinels_ = 0;
  std::int64_t first_sentinel_ = 0;
  int space_id_ = -1;
  std::int32_t pad_id_ = 0;
  std::int32_t eos_id_ = 1;
};

}  // namespace t5
