// SpmModel: the part of SentencePiece's ModelProto (sentencepiece_model.proto) a T5 tokenizer
// uses, read from and written to the protobuf wire format by hand (Debian ships no protobuf
// headers for SentencePiece). Reading a spiece.model gives the pieces and the precompiled
// normaliser that HF's converter turns into tokenizer.json; writing one builds, in memory, the
// model libsentencepiece runs for a tokenizer.json's or a GGUF file's vocabulary.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <vector>

#include "t5/core/error.hpp"

namespace t5::spm {

/// SentencePiece.Type.
enum class PieceType : std::int32_t { Normal = 1, Unknown = 2, Control = 3, UserDefined = 4, Unused = 5, Byte = 6 };

struct Piece {
  std::string piece;
  float score = 0.0f;
  PieceType type = PieceType::Normal;
};

/// The fields t5cc reads or writes; the defaults are the proto's.
struct Model {
  std::vector<Piece> pieces;
  std::int32_t model_type = 1;  ///< TrainerSpec.model_type: 1 UNIGRAM, 2 BPE, 3 WORD, 4 CHAR
  bool byte_fallback = false;
  std::int32_t unk_id = 0, bos_id = 1, eos_id = 2, pad_id = -1;
  std::string unk_piece = "<unk>";
  std::string normalizer_name = "nmt_nfkc";
  std::string precompiled_charsmap;  ///< empty: no character normalisation
  bool add_dummy_prefix = true, remove_extra_whitespaces = true, escape_whitespaces = true;
};

namespace detail {

/// A bounds-checked cursor over protobuf wire bytes; every error names `source`.
class Reader {
 public:
  Reader(std::string_view bytes, const std::string& source) : bytes_(bytes), source_(source) {}
  bool done() const { return at_ == bytes_.size(); }
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (at_ == bytes_.size()) fail("a varint runs past the end");
      const auto b = static_cast<std::uint8_t>(bytes_[at_++]);
      v |= static_cast<std::uint64_t>(b & 0x7f) << shift;
      if ((b & 0x80) == 0) return v;
    }
    fail("a varint is longer than 10 bytes");
  }
  std::string_view bytes(std::uint64_t n) {
    if (n > bytes_.size() - at_) fail("a field of " + std::to_string(n) + " bytes runs past the end");
    const std::string_view out = bytes_.substr(at_, static_cast<std::size_t>(n));
    at_ += static_cast<std::size_t>(n);
    return out;
  }
  float fixed32_float() {
    const std::string_view b = bytes(4);
    std::uint32_t u = 0;
    for (int i = 3; i >= 0; --i) u = (u << 8) | static_cast<std::uint8_t>(b[static_cast<std::size_t>(i)]);
    float f;
    std::memcpy(&f, &u, 4);
    return f;
  }
  /// Skips a field of wire type `wire` t5cc does not read.
  void skip(std::uint32_t wire) {
    switch (wire) {
      case 0: varint(); return;
      case 1: bytes(8); return;
      case 2: bytes(varint()); return;
      case 5: bytes(4); return;
      default: fail("wire type " + std::to_string(wire) + " (groups or a corrupt tag)");
    }
  }
  [[noreturn]] void fail(const std::string& what) const {
    throw Error(ErrorCode::Tokenizer, source_ + ": not a SentencePiece model (" + what + " at byte " + std::to_string(at_) + ")");
  }

 private:
  std::string_view bytes_;
  const std::string& source_;
  std::size_t at_ = 0;
};

/// Calls field(number, wire, reader) for each field of the message in `bytes`.
template <class Field>
void for_each_field(std::string_view bytes, const std::string& source, Field&& field) {
  Reader r(bytes, source);
  while (!r.done()) {
    const std::uint64_t tag = r.varint();
    const auto number = static_cast<std::uint32_t>(tag >> 3), wire = static_cast<std::uint32_t>(tag & 7);
    if (number == 0 || tag >> 32 != 0) r.fail("field number " + std::to_string(tag >> 3));
    field(number, wire, r);
  }
}

inline void expect_wire(Reader& r, std::uint32_t wire, std::uint32_t expected, const char* field) {
  if (wire != expected) r.fail(std::string(field) + " has wire type " + std::to_string(wire));
}
inline std::int32_t int32_of(std::uint64_t v) { return static_cast<std::int32_t>(static_cast<std::uint32_t>(v)); }

inline void put_varint(std::string& out, std::uint64_t v) {
  do {
    out += static_cast<char>((v & 0x7f) | (v > 0x7f ? 0x80 : 0));
    v >>= 7;
  } while (v != 0);
}
inline void put_tag(std::string& out, std::uint32_t number, std::uint32_t wire) { put_varint(out, (std::uint64_t{number} << 3) | wire); }
inline void put_bytes(std::string& out, std::uint32_t number, std::string_view bytes) {
  put_tag(out, number, 2);
  put_varint(out, bytes.size());
  out += bytes;
}
/// int32 fields are varints of the sign-extended 64-bit value (negative ids take 10 bytes).
inline void put_int32(std::string& out, std::uint32_t number, std::int32_t v) {
  put_tag(out, number, 0);
  put_varint(out, static_cast<std::uint64_t>(static_cast<std::int64_t>(v)));
}
inline void put_bool(std::string& out, std::uint32_t number, bool v) {
  put_tag(out, number, 0);
  put_varint(out, v ? 1 : 0);
}
inline void put_float(std::string& out, std::uint32_t number, float v) {
  put_tag(out, number, 5);
  std::uint32_t u;
  std::memcpy(&u, &v, 4);
  for (int i = 0; i < 4; ++i) out += static_cast<char>((u >> (8 * i)) & 0xff);
}

}  // namespace detail

/// The fields of `bytes` (a serialized ModelProto) that Model holds; other fields are skipped.
/// Error(Tokenizer) naming `source` for bytes that are not a well-formed message.
inline Model parse(std::string_view bytes, const std::string& source) {
  using namespace detail;
  Model m;
  for_each_field(bytes, source, [&](std::uint32_t number, std::uint32_t wire, Reader& r) {
    if (number == 1) {  // pieces
      expect_wire(r, wire, 2, "a piece");
      Piece p;
      for_each_field(r.bytes(r.varint()), source, [&](std::uint32_t n, std::uint32_t w, Reader& pr) {
        if (n == 1) {
          expect_wire(pr, w, 2, "a piece's text");
          p.piece = std::string(pr.bytes(pr.varint()));
        } else if (n == 2) {
          expect_wire(pr, w, 5, "a piece's score");
          p.score = pr.fixed32_float();
        } else if (n == 3) {
          expect_wire(pr, w, 0, "a piece's type");
          const std::uint64_t t = pr.varint();
          if (t < 1 || t > 6) pr.fail("piece type " + std::to_string(t));
          p.type = static_cast<PieceType>(t);
        } else {
          pr.skip(w);
        }
      });
      m.pieces.push_back(std::move(p));
    } else if (number == 2) {  // trainer_spec
      expect_wire(r, wire, 2, "trainer_spec");
      for_each_field(r.bytes(r.varint()), source, [&](std::uint32_t n, std::uint32_t w, Reader& tr) {
        if (n == 3 || n == 35 || n == 40 || n == 41 || n == 42 || n == 43) {
          expect_wire(tr, w, 0, "a trainer_spec number");
          const std::uint64_t v = tr.varint();
          if (n == 3) m.model_type = int32_of(v);
          if (n == 35) m.byte_fallback = v != 0;
          if (n == 40) m.unk_id = int32_of(v);
          if (n == 41) m.bos_id = int32_of(v);
          if (n == 42) m.eos_id = int32_of(v);
          if (n == 43) m.pad_id = int32_of(v);
        } else if (n == 45) {
          expect_wire(tr, w, 2, "unk_piece");
          m.unk_piece = std::string(tr.bytes(tr.varint()));
        } else {
          tr.skip(w);
        }
      });
    } else if (number == 3) {  // normalizer_spec
      expect_wire(r, wire, 2, "normalizer_spec");
      for_each_field(r.bytes(r.varint()), source, [&](std::uint32_t n, std::uint32_t w, Reader& nr) {
        if (n == 1 || n == 2) {
          expect_wire(nr, w, 2, "a normalizer_spec string");
          (n == 1 ? m.normalizer_name : m.precompiled_charsmap) = std::string(nr.bytes(nr.varint()));
        } else if (n >= 3 && n <= 5) {
          expect_wire(nr, w, 0, "a normalizer_spec flag");
          const bool v = nr.varint() != 0;
          (n == 3 ? m.add_dummy_prefix : n == 4 ? m.remove_extra_whitespaces : m.escape_whitespaces) = v;
        } else {
          nr.skip(w);
        }
      });
    } else {
      r.skip(wire);
    }
  });
  return m;
}

/// `m` as a serialized ModelProto that SentencePieceProcessor::LoadFromSerializedProto reads.
inline std::string serialize(const Model& m) {
  using namespace detail;
  std::string out;
  for (const Piece& p : m.pieces) {
    std::string body;
    put_bytes(body, 1, p.piece);
    put_float(body, 2, p.score);
    put_int32(body, 3, static_cast<std::int32_t>(p.type));
    put_bytes(out, 1, body);
  }
  std::string trainer;
  put_int32(trainer, 3, m.model_type);
  put_int32(trainer, 4, static_cast<std::int32_t>(m.pieces.size()));
  put_bool(trainer, 35, m.byte_fallback);
  put_int32(trainer, 40, m.unk_id);
  put_int32(trainer, 41, m.bos_id);
  put_int32(trainer, 42, m.eos_id);
  put_int32(trainer, 43, m.pad_id);
  put_bytes(trainer, 45, m.unk_piece);
  put_bytes(out, 2, trainer);
  std::string normalizer;
  put_bytes(normalizer, 1, m.normalizer_name);
  if (!m.precompiled_charsmap.empty()) put_bytes(normalizer, 2, m.precompiled_charsmap);
  put_bool(normalizer, 3, m.add_dummy_prefix);
  put_bool(normalizer, 4, m.remove_extra_whitespaces);
  put_bool(normalizer, 5, m.escape_whitespaces);
  put_bytes(out, 3, normalizer);
  return out;
}

}  // namespace t5::spm
