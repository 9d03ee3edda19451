// GgufFile: a GGUF file (ggml's docs/gguf.md, versions 2 and 3, little-endian) holding a T5 model as
// llama.cpp's converter writes it (architecture "t5": encoder, decoder and `output`) or as T5 text
// encoders ship for diffusion (city96's t5-v1_1-xxl-encoder-gguf, architecture "t5encoder").
// Layout: magic "GGUF", u32 version, u64 tensor count, u64 metadata count, the metadata (key,
// typed value), the tensor infos (name, dims innermost first, ggml type, offset), then, at the
// file's alignment, the data section. Tensors are renamed to transformers' names and their dims
// reversed to HF's row-major shapes (the bytes are the same); F32, F16 and BF16 are used in place,
// block-quantised types (gguf_quants.hpp) are decoded to float32 by source().
#pragma once

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <map>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "t5/core/dtype.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/core/mapped_file.hpp"
#include "t5/io/gguf_quants.hpp"
#include "t5/io/tensor_file.hpp"

namespace t5::io {

namespace gguf {

inline constexpr std::string_view magic = "GGUF";

/// gguf_type: the type of a metadata value.
enum class ValueType : std::uint32_t { U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10, I64 = 11, F64 = 12 };

inline std::string value_type_name(ValueType t) {
  static constexpr std::string_view names[] = {"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32",
                                               "bool", "string", "array", "uint64", "int64", "float64"};
  const auto i = static_cast<std::uint32_t>(t);
  return i < std::size(names) ? std::string(names[i]) : "type " + std::to_string(i);
}

/// Bytes of one value of a fixed-size type; 0 for strings and arrays.
constexpr std::uint64_t value_size(ValueType t) noexcept {
  switch (t) {
    case ValueType::U8: case ValueType::I8: case ValueType::Bool: return 1;
    case ValueType::U16: case ValueType::I16: return 2;
    case ValueType::U32: case ValueType::I32: case ValueType::F32: return 4;
    case ValueType::U64: case ValueType::I64: case ValueType::F64: return 8;
    case ValueType::String: case ValueType::Array: return 0;
  }
  return 0;
}

/// One metadata value. Integers and booleans are held as their bits (`bits`, sign-extended for the
/// signed types), floats as `real`, strings as `text`; an array keeps its element type, its count
/// and its byte range in the file (the tokenizer's arrays are read when they are needed).
struct Value {
  ValueType type = ValueType::U8;
  std::uint64_t bits = 0;
  double real = 0;
  std::string text;
  ValueType element = ValueType::U8;
  std::uint64_t count = 0, begin = 0, end = 0;

  bool is_integer() const noexcept { return type <= ValueType::I32 || type == ValueType::U64 || type == ValueType::I64; }
  bool is_signed() const noexcept { return type == ValueType::I8 || type == ValueType::I16 || type == ValueType::I32 || type == ValueType::I64; }
};

/// The HF name of a tensor named as llama.cpp names T5's (gguf-py's MODEL_TENSOR names for the t5 and
/// t5encoder architectures; tensor_mapping.py maps them back and forth), or nullopt for a name it does
/// not know. `gated` tells which HF name ffn_up has: wi_1 beside a gate (wi_0), wi alone.
inline std::optional<std::string> hf_name(std::string_view name, bool gated) {
  if (!name.ends_with(".weight")) return std::nullopt;
  name.remove_suffix(std::string_view(".weight").size());
  if (name == "token_embd") return "shared.weight";
  if (name == "output") return "lm_head.weight";
  if (name == "enc.output_norm") return "encoder.final_layer_norm.weight";
  if (name == "dec.output_norm") return "decoder.final_layer_norm.weight";
  const bool encoder = name.starts_with("enc.blk."), decoder = name.starts_with("dec.blk.");
  if (!encoder && !decoder) return std::nullopt;
  name.remove_prefix(8);
  const auto dot = name.find('.');
  const std::string_view number = name.substr(0, dot);
  if (dot == std::string_view::npos || number.empty() || number.size() > 9 || (number.size() > 1 && number[0] == '0') ||
      !std::all_of(number.begin(), number.end(), [](char c) { return c >= '0' && c <= '9'; }))
    return std::nullopt;
  const std::string_view part = name.substr(dot + 1);
  const std::string block = std::string(encoder ? "encoder" : "decoder") + ".block." + std::string(number) + ".layer.";
  const std::string ffn = decoder ? "2" : "1";
  struct Entry {
    std::string_view gguf, hf;
    bool decoder_only;
  };
  static constexpr Entry parts[] = {
      {"attn_norm", "0.layer_norm", false},
      {"attn_q", "0.SelfAttention.q", false},
      {"attn_k", "0.SelfAttention.k", false},
      {"attn_v", "0.SelfAttention.v", false},
      {"attn_o", "0.SelfAttention.o", false},
      {"attn_rel_b", "0.SelfAttention.relative_attention_bias", false},
      {"cross_attn_norm", "1.layer_norm", true},
      {"cross_attn_q", "1.EncDecAttention.q", true},
      {"cross_attn_k", "1.EncDecAttention.k", true},
      {"cross_attn_v", "1.EncDecAttention.v", true},
      {"cross_attn_o", "1.EncDecAttention.o", true},
      {"cross_attn_rel_b", "1.EncDecAttention.relative_attention_bias", true},
  };
  for (const auto& e : parts)
    if (part == e.gguf && (decoder || !e.decoder_only)) return block + std::string(e.hf) + ".weight";
  if (part == "ffn_norm") return block + ffn + ".layer_norm.weight";
  if (part == "ffn_gate") return block + ffn + ".DenseReluDense.wi_0.weight";
  if (part == "ffn_up") return block + ffn + ".DenseReluDense." + (gated ? "wi_1" : "wi") + ".weight";
  if (part == "ffn_down") return block + ffn + ".DenseReluDense.wo.weight";
  return std::nullopt;
}

}  // namespace gguf

class GgufFile : public TensorFile {
 public:
  /// The architectures t5cc reads.
  static constexpr std::string_view architectures[] = {"t5", "t5encoder"};
  static constexpr std::uint32_t default_alignment = 32;
  /// Deepest nesting of arrays in metadata (files hold arrays of strings, never deeper than 1).
  static constexpr int max_array_depth = 8;

  /// Maps and validates `path`: header, metadata and tensor infos inside the file with every count,
  /// size and offset checked before use; known and readable ggml types, whole blocks per row,
  /// aligned, non-overlapping data inside the data section; unique names, mapped to HF names.
  /// Throws Error(Io) if unreadable, Error(Format) if malformed or of a type t5cc does not read,
  /// Error(UnsupportedVariant) for an architecture other than T5's.
  explicit GgufFile(const std::filesystem::path& path) : TensorFile(path, "GGUF"), src_(path.string()) {
    Cursor in{file_->bytes(), src_};
    const auto [tensor_count, metadata_count] = read_header(in);
    read_metadata(in, metadata_count);
    read_architecture();
    std::vector<Stored> stored = read_tensor_infos(in, tensor_count);
    const std::uint64_t alignment = read_alignment();
    data_offset_ = round_up(in.at, alignment);
    if (data_offset_ > file_->size())
      throw Error(ErrorCode::Format, src_ + ": truncated: the data section would start at byte " + std::to_string(data_offset_) + ", past the end of the " +
                                         std::to_string(file_->size()) + "-byte file");
    place_tensors(stored, alignment, file_->size() - data_offset_);
    name_tensors(stored);
    index_names();
  }

  /// The value of a metadata key, or nullptr.
  const gguf::Value* metadata(std::string_view key) const {
    auto it = metadata_.find(key);
    return it == metadata_.end() ? nullptr : &it->second;
  }
  /// The elements of array `key`: strings, numbers (as double) or raw bytes (uint8/int8 arrays);
  /// nullopt when the key is absent. Another element type is Error(Format) naming the key.
  std::optional<std::vector<std::string>> string_array(std::string_view key) const {
    return read_array<std::string>(key, {gguf::ValueType::String}, [](Cursor& in, gguf::ValueType) { return std::string(in.string()); });
  }
  std::optional<std::vector<double>> number_array(std::string_view key) const {
    using T = gguf::ValueType;
    return read_array<double>(key, {T::U8, T::I8, T::U16, T::I16, T::U32, T::I32, T::F32, T::U64, T::I64, T::F64}, [](Cursor& in, T type) {
      const std::uint64_t size = gguf::value_size(type);
      const std::uint64_t bits = in.uint(size);
      if (type == T::F32) return static_cast<double>(std::bit_cast<float>(static_cast<std::uint32_t>(bits)));
      if (type == T::F64) return std::bit_cast<double>(bits);
      const bool is_signed = type == T::I8 || type == T::I16 || type == T::I32 || type == T::I64;
      if (is_signed && size < 8 && (bits >> (8 * size - 1)) != 0) return static_cast<double>(static_cast<std::int64_t>(bits | (~std::uint64_t{0} << (8 * size))));
      return is_signed ? static_cast<double>(static_cast<std::int64_t>(bits)) : static_cast<double>(bits);
    });
  }
  std::optional<std::string> byte_array(std::string_view key) const {
    const auto v = read_array<char>(key, {gguf::ValueType::U8, gguf::ValueType::I8}, [](Cursor& in, gguf::ValueType) { return static_cast<char>(in.uint(1)); });
    if (!v) return std::nullopt;
    return std::string(v->begin(), v->end());
  }

  /// The tensor's name in the file (llama.cpp's), for messages and listings.
  const std::string& stored_name(const TensorInfo& t) const { return decoders_.at(t.name).stored_name; }

  WeightSource source(const TensorInfo& t) const override {
    const Decoder& d = decoders_.at(t.name);
    if (d.type.in_place) return TensorFile::source(t);
    const auto bytes = data(t);
    const auto blocks = static_cast<std::size_t>(t.numel()) / d.type.block_elements;
    auto decoded = MappedFile::decoded(path(), static_cast<std::size_t>(t.numel()) * sizeof(float), [&](std::span<std::byte> out) {
      float* y = reinterpret_cast<float*>(out.data());  // an anonymous map: page-aligned
      for (std::size_t b = 0; b < blocks; ++b) d.type.dequantize(bytes.data() + b * d.type.block_bytes, y + b * d.type.block_elements);
    });
    return {decoded->bytes(), DType::F32, decoded, t.name};
  }

  /// config.json keys from the metadata llama.cpp's converter writes for T5 (convert_hf_to_gguf.py's
  /// T5Model); what it does not write (the FFN, vocab_size, max distance) is inferred from the shapes.
  Json embedded_config() const override {
    const std::string arch = architecture_ + ".";
    Json c = Json::object();
    auto put = [&](const char* key, const std::string& meta, std::uint64_t max) {
      if (const auto v = unsigned_value(meta, max)) c[key] = *v;
    };
    constexpr std::uint64_t big = std::uint64_t{1} << 31;  // HfConfig bounds each size again
    put("d_model", arch + "embedding_length", big);
    put("d_ff", arch + "feed_forward_length", big);
    put("num_layers", arch + "block_count", big);
    put("num_decoder_layers", arch + "decoder_block_count", big);
    put("num_heads", arch + "attention.head_count", big);
    put("d_kv", arch + "attention.key_length", big);
    put("relative_attention_num_buckets", arch + "attention.relative_buckets_count", big);
    put("decoder_start_token_id", arch + "decoder_start_token_id", big);
    put("eos_token_id", "tokenizer.ggml.eos_token_id", big);
    put("pad_token_id", "tokenizer.ggml.padding_token_id", big);
    if (const auto v = unsigned_value(arch + "attention.value_length", big); v && c.contains("d_kv") && *v != c["d_kv"].get<std::uint64_t>())
      throw Error(ErrorCode::Format, src_ + ": " + arch + "attention.value_length " + std::to_string(*v) + " differs from key_length " +
                                         c["d_kv"].dump() + "; T5 attention has one width for both");
    for (const auto* key : {"attention.layer_norm_rms_epsilon", "attention.layer_norm_epsilon"})
      if (const auto v = real_value(arch + key)) {
        c["layer_norm_epsilon"] = *v;
        break;
      }
    return c;
  }

 private:
  /// A tensor as its info describes it, before it is named and placed.
  struct Stored {
    std::string name;
    std::vector<std::int64_t> dims;  ///< innermost first, as stored
    ggml::TypeInfo type;
    std::uint64_t offset = 0, bytes = 0;
  };
  struct Decoder {
    ggml::TypeInfo type;
    std::string stored_name;
  };

  /// Reads little-endian values from the file, each bounds-checked; `at` is the byte offset.
  struct Cursor {
    std::span<const std::byte> bytes;
    const std::string& src;
    std::uint64_t at = 0;
    std::string what = "the header";  ///< what is being read, for the truncation message

    std::uint64_t left() const noexcept { return bytes.size() - at; }
    void need(std::uint64_t n) const {
      if (n > left())
        throw Error(ErrorCode::Format, src + ": truncated: " + what + " needs " + std::to_string(n) + " bytes at byte " + std::to_string(at) + " of the " +
                                           std::to_string(bytes.size()) + "-byte file");
    }
    std::uint64_t uint(std::uint64_t n) {
      need(n);
      std::uint64_t v = 0;
      for (std::uint64_t i = n; i-- > 0;) v = (v << 8) | std::to_integer<std::uint64_t>(bytes[at + i]);
      at += n;
      return v;
    }
    std::uint32_t u32() { return static_cast<std::uint32_t>(uint(4)); }
    std::uint64_t u64() { return uint(8); }
    void skip(std::uint64_t n) {
      need(n);
      at += n;
    }
    std::string_view string() {
      const std::uint64_t n = u64();
      need(n);
      const std::string_view s(reinterpret_cast<const char*>(bytes.data() + at), n);
      at += n;
      return s;
    }
  };

  static std::uint64_t round_up(std::uint64_t x, std::uint64_t alignment) { return (x + alignment - 1) / alignment * alignment; }

  /// Checks the magic and the version; returns the tensor and metadata counts.
  std::pair<std::uint64_t, std::uint64_t> read_header(Cursor& in) {
    if (in.left() < 4 || std::memcmp(in.bytes.data(), gguf::magic.data(), 4) != 0)
      throw Error(ErrorCode::Format, src_ + ": not a GGUF file (no \"GGUF\" magic)");
    in.skip(4);
    const std::uint32_t version = in.u32();
    if (version == 1)
      throw Error(ErrorCode::Format, src_ + ": GGUF version 1 (2023's first format, with 32-bit counts), which t5cc does not read: convert it again with a current llama.cpp");
    if (const std::uint32_t swapped = __builtin_bswap32(version); swapped >= 1 && swapped <= 3)
      throw Error(ErrorCode::Format, src_ + ": a big-endian GGUF file (version " + std::to_string(swapped) + "); t5cc reads little-endian ones");
    if (version != 2 && version != 3)
      throw Error(ErrorCode::Format, src_ + ": GGUF version " + std::to_string(version) + "; t5cc reads versions 2 and 3");
    in.what = "the tensor and metadata counts";
    const std::uint64_t tensor_count = in.u64();
    return {tensor_count, in.u64()};
  }

  void read_metadata(Cursor& in, std::uint64_t count) {
    // Each key-value pair takes at least 13 bytes (key length, type, one byte): a count beyond that
    // is refused before anything is read or reserved.
    if (count > in.left() / 13)
      throw Error(ErrorCode::Format, src_ + ": the header counts " + std::to_string(count) + " metadata pairs, more than the " +
                                         std::to_string(in.left()) + " bytes after it could hold");
    for (std::uint64_t k = 0; k < count; ++k) {
      in.what = "metadata pair " + std::to_string(k) + "'s key";
      std::string key(in.string());
      in.what = "metadata " + quoted_text(key, name_chars);
      gguf::Value value;
      value.type = static_cast<gguf::ValueType>(in.u32());
      read_value(in, key, value, 0);
      if (!metadata_.emplace(key, std::move(value)).second) throw Error(ErrorCode::Format, src_ + ": metadata key " + quoted_text(key, name_chars) + " appears twice");
    }
  }

  void read_value(Cursor& in, const std::string& key, gguf::Value& v, int depth) {
    using gguf::ValueType;
    const auto fail = [&](const std::string& what) { return Error(ErrorCode::Format, src_ + ": metadata " + quoted_text(key, name_chars) + ": " + what); };
    switch (v.type) {
      case ValueType::U8: case ValueType::U16: case ValueType::U32: case ValueType::U64:
      case ValueType::I8: case ValueType::I16: case ValueType::I32: case ValueType::I64: {
        const std::uint64_t size = gguf::value_size(v.type);
        v.bits = in.uint(size);
        if (v.is_signed() && size < 8 && (v.bits >> (8 * size - 1)) != 0) v.bits |= ~std::uint64_t{0} << (8 * size);  // sign-extend
        break;
      }
      case ValueType::F32: v.real = std::bit_cast<float>(static_cast<std::uint32_t>(in.uint(4))); break;
      case ValueType::F64: v.real = std::bit_cast<double>(in.uint(8)); break;
      case ValueType::Bool: {
        const auto b = in.uint(1);
        if (b > 1) throw fail("boolean byte " + std::to_string(b) + ", expected 0 or 1");
        v.bits = b;
        break;
      }
      case ValueType::String: v.text = std::string(in.string()); break;
      case ValueType::Array: {
        if (depth >= max_array_depth) throw fail("arrays nested deeper than " + std::to_string(max_array_depth));
        v.element = static_cast<ValueType>(in.u32());
        v.count = in.u64();
        v.begin = in.at;
        const std::uint64_t size = gguf::value_size(v.element);
        if (size > 0) {
          if (v.count > in.left() / size) in.need(in.left() + 1);  // a truncation, said as one
          in.skip(v.count * size);
        } else if (v.element == ValueType::String || v.element == ValueType::Array) {
          // Each element takes at least 8 bytes: the count is bounded by the file before the loop.
          if (v.count > in.left() / 8) in.need(in.left() + 1);
          for (std::uint64_t i = 0; i < v.count; ++i) {
            gguf::Value element;
            element.type = v.element;
            if (element.type == ValueType::String) in.string();
            else read_value(in, key, element, depth + 1);
          }
        } else {
          throw fail("array of unknown value type " + std::to_string(static_cast<std::uint32_t>(v.element)));
        }
        v.end = in.at;
        break;
      }
      default: throw fail("unknown value type " + std::to_string(static_cast<std::uint32_t>(v.type)));
    }
  }

  template <class T, class Read>
  std::optional<std::vector<T>> read_array(std::string_view key, std::initializer_list<gguf::ValueType> types, Read&& read) const {
    const gguf::Value* v = metadata(key);
    if (v == nullptr) return std::nullopt;
    auto wrong = [&](const std::string& found) {
      return Error(ErrorCode::Format, src_ + ": metadata " + quoted_text(std::string(key), name_chars) + " is " + found + ", not the array t5cc expects");
    };
    if (v->type != gguf::ValueType::Array) throw wrong("a " + gguf::value_type_name(v->type));
    if (std::find(types.begin(), types.end(), v->element) == types.end()) throw wrong("an array of " + gguf::value_type_name(v->element));
    Cursor in{file_->bytes().first(v->end), src_, v->begin, "metadata " + std::string(key)};
    std::vector<T> out;
    out.reserve(v->count);
    for (std::uint64_t i = 0; i < v->count; ++i) out.push_back(read(in, v->element));
    return out;
  }

  /// An integer metadata value in [0, max], or nullopt when absent; any other type or value is
  /// Error(Format) naming the key.
  std::optional<std::uint64_t> unsigned_value(const std::string& key, std::uint64_t max) const {
    const gguf::Value* v = metadata(key);
    if (v == nullptr) return std::nullopt;
    if (!v->is_integer()) throw Error(ErrorCode::Format, src_ + ": metadata " + quoted_text(key, name_chars) + " is a " + gguf::value_type_name(v->type) + ", expected an integer");
    const bool negative = v->is_signed() && static_cast<std::int64_t>(v->bits) < 0;
    if (negative || v->bits > max)
      throw Error(ErrorCode::Format, src_ + ": metadata " + quoted_text(key, name_chars) + " is " +
                                         (negative ? std::to_string(static_cast<std::int64_t>(v->bits)) : std::to_string(v->bits)) + ", expected 0 to " + std::to_string(max));
    return v->bits;
  }

  /// A float metadata value, or nullopt when absent. A float32 becomes the shortest decimal that
  /// reads back as the same float32 (1e-06, not 9.99999997e-07): what config.json would say.
  std::optional<double> real_value(const std::string& key) const {
    const gguf::Value* v = metadata(key);
    if (v == nullptr) return std::nullopt;
    if (v->type != gguf::ValueType::F32 && v->type != gguf::ValueType::F64)
      throw Error(ErrorCode::Format, src_ + ": metadata " + quoted_text(key, name_chars) + " is a " + gguf::value_type_name(v->type) + ", expected a float");
    if (v->type == gguf::ValueType::F32 && std::isfinite(v->real))
      for (int digits = 1; digits <= 9; ++digits) {
        char text[32];
        std::snprintf(text, sizeof text, "%.*g", digits, v->real);
        if (std::strtof(text, nullptr) == static_cast<float>(v->real)) return std::strtod(text, nullptr);
      }
    return v->real;
  }

  void read_architecture() {
    const gguf::Value* arch = metadata("general.architecture");
    if (arch == nullptr) throw Error(ErrorCode::Format, src_ + ": no general.architecture in the GGUF metadata");
    if (arch->type != gguf::ValueType::String)
      throw Error(ErrorCode::Format, src_ + ": general.architecture is a " + gguf::value_type_name(arch->type) + ", expected a string");
    if (std::find(std::begin(architectures), std::end(architectures), arch->text) == std::end(architectures))
      throw Error(ErrorCode::UnsupportedVariant, src_ + ": a GGUF file of architecture " + quoted_text(arch->text, name_chars) +
                                                     ", not a T5 model (t5cc reads \"t5\" and \"t5encoder\")");
    architecture_ = arch->text;
  }

  std::uint64_t read_alignment() const {
    const gguf::Value* v = metadata("general.alignment");
    if (v == nullptr) return default_alignment;
    if (v->type != gguf::ValueType::U32) throw Error(ErrorCode::Format, src_ + ": general.alignment is a " + gguf::value_type_name(v->type) + ", expected a uint32");
    const std::uint64_t a = v->bits;
    if (a == 0 || (a & (a - 1)) != 0) throw Error(ErrorCode::Format, src_ + ": general.alignment " + std::to_string(a) + " is not a power of two");
    return a;
  }

  std::vector<Stored> read_tensor_infos(Cursor& in, std::uint64_t count) {
    // Each info takes at least 28 bytes (name length, dim count, one dim, type, offset).
    if (count > in.left() / 28)
      throw Error(ErrorCode::Format, src_ + ": the header counts " + std::to_string(count) + " tensors, more than the " +
                                         std::to_string(in.left()) + " bytes left could describe");
    std::vector<Stored> stored;
    stored.reserve(static_cast<std::size_t>(count));
    for (std::uint64_t k = 0; k < count; ++k) {
      in.what = "tensor info " + std::to_string(k);
      Stored t;
      t.name = std::string(in.string());
      in.what = "tensor " + quoted_text(t.name, name_chars);
      const std::string where = src_ + ": tensor " + quoted_text(t.name, name_chars);
      const std::uint32_t rank = in.u32();
      if (rank == 0 || rank > 4) throw Error(ErrorCode::Format, where + ": " + std::to_string(rank) + " dimensions, expected 1 to 4");
      for (std::uint32_t d = 0; d < rank; ++d) {
        const std::uint64_t n = in.u64();
        if (n > static_cast<std::uint64_t>(INT64_MAX)) throw Error(ErrorCode::Format, where + ": dimension " + std::to_string(n) + " is too large");
        t.dims.push_back(static_cast<std::int64_t>(n));
      }
      const std::uint32_t code = in.u32();
      const auto type = ggml::type_info(code);
      if (!type) throw Error(ErrorCode::Format, where + ": unknown ggml type " + std::to_string(code));
      if (!type->readable())
        throw Error(ErrorCode::Format, where + " has type " + std::string(type->name) + ", which t5cc does not read (it reads " + std::string(ggml::readable_types) + ")");
      t.type = *type;
      t.offset = in.u64();
      const auto elements = shape_elements(t.dims);
      if (t.dims[0] % type->block_elements != 0)
        throw Error(ErrorCode::Format, where + ": rows of " + std::to_string(t.dims[0]) + " values are not whole " + std::string(type->name) + " blocks of " +
                                           std::to_string(type->block_elements));
      if (!elements || __builtin_mul_overflow(*elements / type->block_elements, std::uint64_t{type->block_bytes}, &t.bytes))
        throw Error(ErrorCode::Format, where + ": dims " + shape_string(t.dims) + " hold more than 2^64 bytes");
      stored.push_back(std::move(t));
    }
    return stored;
  }

  /// Offsets are relative to the data section: aligned, inside it, and no two tensors overlap.
  void place_tensors(std::vector<Stored>& stored, std::uint64_t alignment, std::uint64_t data_size) const {
    std::vector<const Stored*> by_offset;
    for (const auto& t : stored) {
      const std::string where = src_ + ": tensor " + quoted_text(t.name, name_chars);
      if (t.offset % alignment != 0) throw Error(ErrorCode::Format, where + ": offset " + std::to_string(t.offset) + " is not a multiple of the alignment " + std::to_string(alignment));
      if (t.offset > data_size || t.bytes > data_size - t.offset)
        throw Error(ErrorCode::Format, where + ": its " + std::to_string(t.bytes) + " bytes at offset " + std::to_string(t.offset) + " run past the " +
                                           std::to_string(data_size) + "-byte data section (truncated file?)");
      by_offset.push_back(&t);
    }
    std::sort(by_offset.begin(), by_offset.end(), [](const Stored* a, const Stored* b) { return a->offset < b->offset; });
    for (std::size_t i = 1; i < by_offset.size(); ++i)
      if (by_offset[i]->offset < by_offset[i - 1]->offset + by_offset[i - 1]->bytes)
        throw Error(ErrorCode::Format, src_ + ": tensors " + quoted_text(by_offset[i - 1]->name, name_chars) + " and " + quoted_text(by_offset[i]->name, name_chars) +
                                           " overlap in the data section");
  }

  /// Names each tensor as transformers does; a name the map does not know is kept as it is (the
  /// checkpoint's validation then names it as an unknown tensor).
  void name_tensors(std::vector<Stored>& stored) {
    std::set<std::string, std::less<>> names;
    for (const auto& t : stored)
      if (!names.insert(t.name).second) throw Error(ErrorCode::Format, src_ + ": tensor " + quoted_text(t.name, name_chars) + " appears twice");
    for (auto& t : stored) {
      // ffn_up is wi_1 where the block also has a gate (T5 v1.1's GEGLU), wi where it has not.
      std::string gate = t.name;
      if (const auto at = gate.rfind(".ffn_up."); at != std::string::npos) gate.replace(at, 8, ".ffn_gate.");
      const bool gated = gate != t.name && names.contains(gate);
      TensorInfo info;
      info.name = gguf::hf_name(t.name, gated).value_or(t.name);
      info.shape.assign(t.dims.rbegin(), t.dims.rend());
      info.dtype = t.type.in_place.value_or(DType::F32);
      info.encoding = t.type.in_place ? std::string() : std::string(t.type.name);
      info.begin = t.offset;
      info.end = t.offset + t.bytes;
      if (!decoders_.emplace(info.name, Decoder{t.type, t.name}).second)
        throw Error(ErrorCode::Format, src_ + ": tensors " + quoted_text(decoders_.at(info.name).stored_name, name_chars) + " and " + quoted_text(t.name, name_chars) +
                                           " both stand for " + quoted_text(info.name, name_chars));
      tensors_.push_back(std::move(info));
    }
  }

  std::string src_;
  std::map<std::string, gguf::Value, std::less<>> metadata_;
  std::string architecture_;
  std::map<std::string, Decoder, std::less<>> decoders_;
};

}  // namespace t5::io
