// hf::Pipeline: what HF `tokenizers` does to a text before its Unigram model sees it, for the
// pipelines T5's tokenizer.json files hold: added tokens split out first (leftmost-longest, with
// lstrip/rstrip), then on each remaining piece the normalisers (Precompiled, Strip, Replace) and
// the pre-tokenisers (WhitespaceSplit, Metaspace). The result is a list of words for the Unigram
// model and ids of added tokens, in order. hf::Pipeline::converted() builds the pipeline that
// transformers' T5Converter writes for a spiece.model, so a folder with only spiece.model
// tokenizes as T5TokenizerFast.from_pretrained does. Anything else in a file is refused by name.
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/tokenizer/unicode_tables.hpp"

namespace t5::hf {

namespace utf8 {

/// The code point at text[at] and its length in bytes; an invalid or truncated sequence is one
/// byte read as U+FFFD (what a Python str made from these bytes with errors="replace" holds).
struct Char {
  std::uint32_t cp;
  std::size_t bytes;
};
inline Char next(std::string_view text, std::size_t at) {
  const auto b0 = static_cast<std::uint8_t>(text[at]);
  if (b0 < 0x80) return {b0, 1};
  const std::size_t n = b0 >= 0xf0 && b0 <= 0xf4 ? 4 : b0 >= 0xe0 ? 3 : b0 >= 0xc2 && b0 <= 0xdf ? 2 : 0;
  if (n == 0 || at + n > text.size()) return {0xfffd, 1};
  std::uint32_t cp = b0 & (0xff >> (n + 1));
  for (std::size_t i = 1; i < n; ++i) {
    const auto b = static_cast<std::uint8_t>(text[at + i]);
    if ((b & 0xc0) != 0x80) return {0xfffd, 1};
    cp = (cp << 6) | (b & 0x3f);
  }
  const bool overlong = (n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000);
  if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return {0xfffd, 1};
  return {cp, n};
}
inline void append(std::string& out, std::uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}
/// `text` with every invalid sequence replaced by U+FFFD: the pipeline works on valid UTF-8 only.
inline std::string sanitized(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t at = 0; at < text.size();) {
    const Char c = next(text, at);
    if (c.cp == 0xfffd && c.bytes == 1)
      append(out, 0xfffd);
    else
      out.append(text.substr(at, c.bytes));
    at += c.bytes;
  }
  return out;
}

}  // namespace utf8

namespace unicode {

inline bool in(std::span<const t5::unicode::CodeRange> table, std::uint32_t cp) {
  const auto it = std::upper_bound(table.begin(), table.end(), cp, [](std::uint32_t v, const t5::unicode::CodeRange& r) { return v < r.first; });
  return it != table.begin() && cp <= std::prev(it)->last;
}
/// Unicode White_Space: what Rust's char::is_whitespace (Strip, WhitespaceSplit, lstrip) tests.
inline bool is_whitespace(std::uint32_t cp) {
  return (cp >= 0x09 && cp <= 0x0d) || cp == 0x20 || cp == 0x85 || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) ||
         cp == 0x2028 || cp == 0x2029 || cp == 0x202f || cp == 0x205f || cp == 0x3000;
}

enum class Hangul { None, L, V, T, LV, LVT };
inline Hangul hangul(std::uint32_t cp) {
  if ((cp >= 0x1100 && cp <= 0x115f) || (cp >= 0xa960 && cp <= 0xa97c)) return Hangul::L;
  if ((cp >= 0x1160 && cp <= 0x11a7) || (cp >= 0xd7b0 && cp <= 0xd7c6)) return Hangul::V;
  if ((cp >= 0x11a8 && cp <= 0x11ff) || (cp >= 0xd7cb && cp <= 0xd7fb)) return Hangul::T;
  if (cp >= 0xac00 && cp <= 0xd7a3) return (cp - 0xac00) % 28 == 0 ? Hangul::LV : Hangul::LVT;
  return Hangul::None;
}
/// Whether no cluster boundary lies between `a` and `b` (UAX #29 rules GB3 to GB9b). The rules
/// left out (emoji ZWJ sequences, regional indicator pairs, Indic conjuncts) only join clusters of
/// 6 bytes or more, which the Precompiled normaliser treats code point by code point anyway.
inline bool joins(std::uint32_t a, std::uint32_t b) {
  if (a == '\r') return b == '\n';
  if (in(t5::unicode::control, a) || in(t5::unicode::control, b)) return false;
  const Hangul ha = hangul(a), hb = hangul(b);
  if (ha == Hangul::L && (hb == Hangul::L || hb == Hangul::V || hb == Hangul::LV || hb == Hangul::LVT)) return true;
  if ((ha == Hangul::LV || ha == Hangul::V) && (hb == Hangul::V || hb == Hangul::T)) return true;
  if ((ha == Hangul::LVT || ha == Hangul::T) && hb == Hangul::T) return true;
  return in(t5::unicode::joins_previous, b) || in(t5::unicode::prepend, a);
}

}  // namespace unicode

/// A SentencePiece precompiled_charsmap (a darts-clone double-array trie over UTF-8 keys, then the
/// NUL-terminated replacements) applied as tokenizers' Precompiled normaliser does: cluster by
/// cluster, a cluster under 6 bytes replaced whole by the value of its SHORTEST key prefix, else
/// code point by code point (spm_precompiled's rule, not SentencePiece's longest match).
class Charsmap {
 public:
  Charsmap(std::string_view blob, const std::string& source) {
    auto fail = [&](const std::string& what) { throw Error(ErrorCode::Tokenizer, source + ": precompiled_charsmap: " + what); };
    if (blob.size() < 4) fail("shorter than its 4-byte header");
    std::uint32_t trie_bytes = 0;
    for (int i = 3; i >= 0; --i) trie_bytes = (trie_bytes << 8) | static_cast<std::uint8_t>(blob[static_cast<std::size_t>(i)]);
    if (trie_bytes % 4 != 0 || trie_bytes > blob.size() - 4 || trie_bytes == 0)
      fail("a trie of " + std::to_string(trie_bytes) + " bytes in a blob of " + std::to_string(blob.size()));
    units_.resize(trie_bytes / 4);
    for (std::size_t u = 0; u < units_.size(); ++u)
      for (int i = 3; i >= 0; --i) units_[u] = (units_[u] << 8) | static_cast<std::uint8_t>(blob[4 + 4 * u + static_cast<std::size_t>(i)]);
    replacements_ = std::string(blob.substr(4 + trie_bytes));
    if (utf8::sanitized(replacements_) != replacements_) fail("its replacements are not UTF-8");
  }

  /// The replacement of the shortest key that prefixes `chunk`, if one does (darts-clone's
  /// common prefix search, stopped at its first result).
  std::optional<std::string_view> transform(std::string_view chunk) const {
    std::size_t node = offset(units_[0]);
    for (const char ch : chunk) {
      const auto c = static_cast<std::uint8_t>(ch);
      if (c == 0) break;
      node ^= c;
      if (node >= units_.size()) return std::nullopt;
      const std::uint32_t unit = units_[node];
      if (label(unit) != c) return std::nullopt;
      node ^= offset(unit);
      if (node >= units_.size()) return std::nullopt;
      if (has_leaf(unit)) return replacement(value(units_[node]));
    }
    return std::nullopt;
  }

  /// `text` (valid UTF-8) normalised.
  std::string normalize(std::string_view text) const {
    std::string out;
    out.reserve(text.size());
    for (std::size_t at = 0; at < text.size();) {
      std::size_t end = at;
      std::uint32_t prev = 0;
      do {  // one extended grapheme cluster
        const utf8::Char c = utf8::next(text, end);
        if (end > at && !unicode::joins(prev, c.cp)) break;
        prev = c.cp;
        end += c.bytes;
      } while (end < text.size());
      const std::string_view cluster = text.substr(at, end - at);
      const auto whole = cluster.size() < 6 ? transform(cluster) : std::nullopt;
      if (whole) {
        out += *whole;
      } else {
        for (std::size_t i = 0; i < cluster.size();) {
          const std::size_t n = utf8::next(cluster, i).bytes;
          const std::string_view part = cluster.substr(i, n);
          const auto mapped = transform(part);
          out += mapped ? *mapped : part;
          i += n;
        }
      }
      at = end;
    }
    return out;
  }

 private:
  static std::size_t offset(std::uint32_t u) { return (u >> 10) << ((u & (1u << 9)) >> 6); }
  static std::uint32_t label(std::uint32_t u) { return u & ((1u << 31) | 0xff); }
  static std::uint32_t value(std::uint32_t u) { return u & ((1u << 31) - 1); }
  static bool has_leaf(std::uint32_t u) { return ((u >> 8) & 1) == 1; }
  /// The NUL-terminated replacement at `at`; a value past the blob matches nothing.
  std::optional<std::string_view> replacement(std::uint32_t at) const {
    if (at >= replacements_.size()) return std::nullopt;
    const std::string_view rest = std::string_view(replacements_).substr(at);
    return rest.substr(0, rest.find('\0'));
  }

  std::vector<std::uint32_t> units_;
  std::string replacements_;
};

/// An entry of tokenizer.json's added_tokens. Matched before normalisation (normalized false, as
/// every T5 file has) or in the normalised text (true); lstrip/rstrip take the whitespace beside it.
struct AddedToken {
  std::string content;
  std::int32_t id = 0;
  bool special = true, lstrip = false, rstrip = false, normalized = false;
};

/// The Strip normaliser: whitespace removed at either end.
struct Strip {
  bool left = false, right = true;
};
/// The Replace normaliser: each match of `pattern` becomes `content`. min_run 0: `pattern` is a
/// literal string; N > 0: it is one character, and runs of at least N of it match (the regexes
/// "c{N,}" and "c+", the only ones T5 files use).
struct Replace {
  std::string pattern;
  std::size_t min_run = 0;
  std::string content;
};
using Normalizer = std::variant<Charsmap, Strip, Replace>;

/// The WhitespaceSplit pre-tokeniser: words between whitespace.
struct WhitespaceSplit {};
/// The Metaspace pre-tokeniser: spaces become `replacement`, which is prepended to every piece
/// (Always), to the one that starts the text (First) or to none (Never); with `split`, the text
/// is cut before each replacement.
enum class Prepend { Always, First, Never };
struct Metaspace {
  std::string replacement = "\xe2\x96\x81";
  Prepend prepend = Prepend::Always;
  bool split = true;
};
using PreTokenizer = std::variant<WhitespaceSplit, Metaspace>;

/// A piece of the input: an added token's id, or a word for the model (added_id -1).
struct Segment {
  std::int32_t added_id = -1;
  std::string word;
};

namespace detail {

/// An int32 token id at `v` (what names it in a message); a float, a negative or a huge number is
/// Error(Tokenizer), never a conversion.
inline std::int32_t token_id(const Json& v, const std::string& what) {
  const bool ok = v.is_number_unsigned() ? v.get<std::uint64_t>() <= 0x7fffffffu : v.is_number_integer() && v.get<std::int64_t>() >= 0 &&
                                                                                        v.get<std::int64_t>() <= 0x7fffffff;
  if (!ok) throw Error(ErrorCode::Tokenizer, what + " must be a token id (an integer in [0, 2^31)), found " + json_excerpt(v));
  return static_cast<std::int32_t>(v.get<std::int64_t>());
}

inline std::string base64_decode(std::string_view text, const std::string& what) {
  auto digit = [](char c) -> int {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    return c == '+' ? 62 : c == '/' ? 63 : -1;
  };
  while (!text.empty() && text.back() == '=') text.remove_suffix(1);
  std::string out;
  std::uint32_t bits = 0;
  int held = 0;
  for (const char c : text) {
    const int d = digit(c);
    if (d < 0) throw Error(ErrorCode::Tokenizer, what + " is not base64 (found " + quoted_text(std::string(1, c)) + ")");
    bits = (bits << 6) | static_cast<std::uint32_t>(d);
    held += 6;
    if (held >= 8) {
      held -= 8;
      out += static_cast<char>((bits >> held) & 0xff);
    }
  }
  return out;
}

/// Where the code point that ends before `end` starts.
inline std::size_t previous_char(std::string_view text, std::size_t end) {
  std::size_t at = end - 1;
  while (at > 0 && end - at < 4 && (static_cast<std::uint8_t>(text[at]) & 0xc0) == 0x80) --at;
  return at;
}

inline std::string replaced_all(std::string_view text, std::string_view from, std::string_view to) {
  std::string out;
  for (std::size_t at = 0;;) {
    const std::size_t hit = from.empty() ? std::string_view::npos : text.find(from, at);
    out += text.substr(at, hit == std::string_view::npos ? std::string_view::npos : hit - at);
    if (hit == std::string_view::npos) return out;
    out += to;
    at = hit + from.size();
  }
}

}  // namespace detail

class Pipeline {
 public:
  /// The pipeline transformers' T5Converter (4.49) writes for a spiece.model: Precompiled (when the
  /// model has a charsmap), Strip right, Replace " {2,}" by the replacement; Metaspace prepending
  /// Always (legacy, the default) or First (tokenizer_config.json "legacy": false).
  static Pipeline converted(std::optional<Charsmap> charsmap, std::vector<AddedToken> added, bool legacy) {
    Pipeline p;
    if (charsmap) p.normalizers_.emplace_back(std::move(*charsmap));
    p.normalizers_.emplace_back(Strip{false, true});
    p.normalizers_.emplace_back(Replace{" ", 2, "\xe2\x96\x81"});
    p.pre_tokenizers_.emplace_back(Metaspace{"\xe2\x96\x81", legacy ? Prepend::Always : Prepend::First, true});
    p.set_added(std::move(added));
    return p;
  }

  /// The pipeline of a tokenizer.json (its "added_tokens", "normalizer" and "pre_tokenizer").
  /// Error(Tokenizer) naming `source` and the part for anything t5cc does not run.
  static Pipeline from_json(const Json& root, const std::string& source) {
    Pipeline p;
    std::vector<AddedToken> added;
    if (root.contains("added_tokens") && !root.at("added_tokens").is_null()) {
      for (const Json& t : root.at("added_tokens")) {
        AddedToken a;
        a.content = t.at("content").get<std::string>();
        a.id = detail::token_id(t.at("id"), source + ": an added token's id");
        const auto id = a.id;
        a.special = t.value("special", false);
        a.lstrip = t.value("lstrip", false);
        a.rstrip = t.value("rstrip", false);
        a.normalized = t.value("normalized", !a.special);
        if (t.value("single_word", false))
          throw Error(ErrorCode::Tokenizer, source + ": added token " + quoted_text(a.content) + " is single_word, which t5cc does not run");
        if (a.content.empty()) throw Error(ErrorCode::Tokenizer, source + ": an added token (id " + std::to_string(id) + ") is empty");
        added.push_back(std::move(a));
      }
    }
    p.set_added(std::move(added));
    if (root.contains("normalizer")) p.read_normalizer(root.at("normalizer"), source);
    if (root.contains("pre_tokenizer")) p.read_pre_tokenizer(root.at("pre_tokenizer"), source);
    return p;
  }

  const std::vector<AddedToken>& added_tokens() const noexcept { return added_; }

  /// Whether decoding strips the space that Metaspace prepended to the first word.
  bool prepends() const {
    for (const auto& step : pre_tokenizers_)
      if (const auto* m = std::get_if<Metaspace>(&step); m && m->prepend != Prepend::Never) return true;
    return false;
  }
  /// The replacement Metaspace writes for a space ("" without Metaspace).
  std::string replacement() const {
    for (const auto& step : pre_tokenizers_)
      if (const auto* m = std::get_if<Metaspace>(&step)) return m->replacement;
    return "";
  }

  /// `text` as added tokens and words, in order.
  std::vector<Segment> split(std::string_view raw) const {
    const std::string text = utf8::sanitized(raw);
    std::vector<Segment> out;
    for_each_part(text, false, [&](std::string_view part, std::int32_t id, bool at_start) {
      if (id >= 0) return out.push_back({id, {}});
      const std::string normalized = normalize(part);
      for_each_part(normalized, true, [&](std::string_view sub, std::int32_t sub_id, bool sub_start) {
        if (sub_id >= 0) return out.push_back({sub_id, {}});
        for (auto& word : pre_tokenize(sub, at_start && sub_start)) out.push_back({-1, std::move(word)});
      });
    });
    return out;
  }

 private:
  void set_added(std::vector<AddedToken> added) {
    added_ = std::move(added);
    for (auto& bucket : by_first_byte_) bucket.clear();
    for (std::size_t i = 0; i < added_.size(); ++i) by_first_byte_[static_cast<std::uint8_t>(added_[i].content[0])].push_back(i);
  }

  /// Calls part(text, id, at_start) for the added tokens (normalized == `normalized`) matched in
  /// `text` leftmost-longest, and for the text between them (id -1); empty parts are left out.
  template <class Part>
  void for_each_part(std::string_view text, bool normalized, Part&& part) const {
    std::size_t done = 0;
    for (std::size_t at = 0; at < text.size();) {
      const AddedToken* best = nullptr;
      for (const std::size_t i : by_first_byte_[static_cast<std::uint8_t>(text[at])]) {
        const AddedToken& t = added_[i];
        if (t.normalized == normalized && text.substr(at).starts_with(t.content) && (!best || t.content.size() > best->content.size())) best = &t;
      }
      if (!best) {
        ++at;
        continue;
      }
      std::size_t start = at, end = at + best->content.size();
      while (best->lstrip && start > done) {
        const std::size_t prev = detail::previous_char(text, start);
        if (!unicode::is_whitespace(utf8::next(text, prev).cp)) break;
        start = prev;
      }
      while (best->rstrip && end < text.size()) {
        const utf8::Char c = utf8::next(text, end);
        if (!unicode::is_whitespace(c.cp)) break;
        end += c.bytes;
      }
      if (start > done) part(text.substr(done, start - done), -1, done == 0);
      part(text.substr(start, end - start), best->id, start == 0);
      done = at = end;
    }
    if (done < text.size()) part(text.substr(done), -1, done == 0);
  }

  std::string normalize(std::string_view text) const {
    std::string s(text);
    for (const auto& step : normalizers_) {
      if (const auto* map = std::get_if<Charsmap>(&step)) {
        s = map->normalize(s);
      } else if (const auto* strip = std::get_if<Strip>(&step)) {
        std::size_t begin = 0, end = s.size();
        while (strip->left && begin < end && unicode::is_whitespace(utf8::next(s, begin).cp)) begin += utf8::next(s, begin).bytes;
        while (strip->right && end > begin && unicode::is_whitespace(utf8::next(s, detail::previous_char(s, end)).cp))
          end = detail::previous_char(s, end);
        s = s.substr(begin, end - begin);
      } else {
        const auto& r = std::get<Replace>(step);
        if (r.min_run == 0) {
          s = detail::replaced_all(s, r.pattern, r.content);
          continue;
        }
        std::string out;
        for (std::size_t at = 0; at < s.size();) {
          std::size_t run = 0, end = at;
          while (s.compare(end, r.pattern.size(), r.pattern) == 0) ++run, end += r.pattern.size();
          if (run >= r.min_run) {
            out += r.content;
            at = end;
          } else if (run > 0) {
            out.append(s, at, end - at);
            at = end;
          } else {
            const std::size_t n = utf8::next(s, at).bytes;
            out.append(s, at, n);
            at += n;
          }
        }
        s = std::move(out);
      }
    }
    return s;
  }

  std::vector<std::string> pre_tokenize(std::string_view text, bool at_start) const {
    struct Word {
      std::string text;
      bool at_start;
    };
    std::vector<Word> words{{std::string(text), at_start}};
    for (const auto& step : pre_tokenizers_) {
      std::vector<Word> next;
      if (std::holds_alternative<WhitespaceSplit>(step)) {
        for (const Word& w : words) {
          for (std::size_t at = 0; at < w.text.size();) {
            std::size_t end = at;
            while (end < w.text.size() && !unicode::is_whitespace(utf8::next(w.text, end).cp)) end += utf8::next(w.text, end).bytes;
            if (end > at) next.push_back({w.text.substr(at, end - at), w.at_start && at == 0});
            at = end;
            while (at < w.text.size() && unicode::is_whitespace(utf8::next(w.text, at).cp)) at += utf8::next(w.text, at).bytes;
          }
        }
      } else {
        const auto& m = std::get<Metaspace>(step);
        for (const Word& w : words) {
          std::string s = detail::replaced_all(w.text, " ", m.replacement);
          const bool prepend = m.prepend == Prepend::Always || (m.prepend == Prepend::First && w.at_start);
          if (prepend && !s.starts_with(m.replacement)) s = m.replacement + s;
          if (!m.split) {
            next.push_back({std::move(s), w.at_start});
            continue;
          }
          for (std::size_t at = 0; at < s.size();) {  // each replacement starts a new word
            std::size_t end = s.find(m.replacement, at + (s.compare(at, m.replacement.size(), m.replacement) == 0 ? m.replacement.size() : 0));
            if (end == std::string::npos) end = s.size();
            next.push_back({s.substr(at, end - at), w.at_start && at == 0});
            at = end;
          }
        }
      }
      words = std::move(next);
    }
    std::vector<std::string> out;
    for (auto& w : words)
      if (!w.text.empty()) out.push_back(std::move(w.text));
    return out;
  }

  void read_normalizer(const Json& n, const std::string& source) {
    if (n.is_null()) return;
    const std::string type = n.at("type").get<std::string>();
    if (type == "Sequence") {
      for (const Json& step : n.at("normalizers")) read_normalizer(step, source);
    } else if (type == "Precompiled") {
      const Json& map = n.at("precompiled_charsmap");
      if (map.is_null()) return;  // tokenizers: no charsmap, no change
      normalizers_.emplace_back(Charsmap(detail::base64_decode(map.get<std::string>(), source + ": precompiled_charsmap"), source));
    } else if (type == "Strip") {
      normalizers_.emplace_back(Strip{n.value("strip_left", false), n.value("strip_right", false)});
    } else if (type == "Replace") {
      normalizers_.emplace_back(read_replace(n, source));
    } else {
      throw Error(ErrorCode::Tokenizer, source + ": normalizer " + quoted_text(type) +
                                            " is not one t5cc runs (it runs Precompiled, Strip and Replace, in a Sequence)");
    }
  }

  static Replace read_replace(const Json& n, const std::string& source) {
    Replace r;
    r.content = n.at("content").get<std::string>();
    const Json& pattern = n.at("pattern");
    if (pattern.contains("String")) {
      r.pattern = pattern.at("String").get<std::string>();
      if (r.pattern.empty()) throw Error(ErrorCode::Tokenizer, source + ": a Replace normalizer has an empty pattern");
      return r;
    }
    const std::string regex = pattern.at("Regex").get<std::string>();
    std::string_view rest = regex;
    if (rest.starts_with("\\") && rest.size() > 1) rest.remove_prefix(1);
    const std::size_t n_char = rest.empty() ? 0 : utf8::next(rest, 0).bytes;
    const std::string_view c = rest.substr(0, n_char), quantifier = rest.substr(n_char);
    std::size_t min_run = 0;
    if (quantifier == "+") min_run = 1;
    if (quantifier.starts_with("{") && quantifier.ends_with(",}") && quantifier.size() > 3) {
      const std::string_view digits = quantifier.substr(1, quantifier.size() - 3);
      if (digits.size() <= 6 && std::all_of(digits.begin(), digits.end(), [](char d) { return d >= '0' && d <= '9'; }))
        min_run = static_cast<std::size_t>(std::stoul(std::string(digits)));
    }
    // A literal character: not a regex metacharacter, or an escaped one (an escaped letter, \\s or \\d, is a class).
    const bool escaped = regex.starts_with("\\");
    const bool meta = c.size() == 1 && std::string_view(".^$|()[]{}*+?\\").find(c[0]) != std::string_view::npos;
    const bool plain = !c.empty() && (escaped ? meta : !meta);
    if (min_run == 0 || !plain)
      throw Error(ErrorCode::Tokenizer, source + ": Replace regex " + quoted_text(regex) +
                                            " is not one t5cc runs (it runs literal strings and runs of one character, \"c{N,}\" or \"c+\")");
    r.pattern = std::string(c);
    r.min_run = min_run;
    return r;
  }

  void read_pre_tokenizer(const Json& n, const std::string& source) {
    if (n.is_null()) return;
    const std::string type = n.at("type").get<std::string>();
    if (type == "Sequence") {
      for (const Json& step : n.at("pretokenizers")) read_pre_tokenizer(step, source);
    } else if (type == "WhitespaceSplit") {
      pre_tokenizers_.emplace_back(WhitespaceSplit{});
    } else if (type == "Metaspace") {
      Metaspace m;
      m.replacement = n.at("replacement").get<std::string>();
      if (m.replacement.empty() || utf8::next(m.replacement, 0).bytes != m.replacement.size())
        throw Error(ErrorCode::Tokenizer, source + ": Metaspace replacement " + quoted_text(m.replacement) + " is not one character");
      if (n.contains("prepend_scheme")) {
        const std::string scheme = n.at("prepend_scheme").get<std::string>();
        if (scheme != "always" && scheme != "first" && scheme != "never")
          throw Error(ErrorCode::Tokenizer, source + ": Metaspace prepend_scheme " + quoted_text(scheme) + " is not always, first or never");
        m.prepend = scheme == "always" ? Prepend::Always : scheme == "first" ? Prepend::First : Prepend::Never;
      } else {  // files before tokenizers 0.14: add_prefix_space
        m.prepend = n.value("add_prefix_space", true) ? Prepend::Always : Prepend::Never;
      }
      m.split = n.value("split", true);
      pre_tokenizers_.emplace_back(std::move(m));
    } else {
      throw Error(ErrorCode::Tokenizer, source + ": pre_tokenizer " + quoted_text(type) +
                                            " is not one t5cc runs (it runs WhitespaceSplit and Metaspace, in a Sequence)");
    }
  }

  std::vector<AddedToken> added_;
  std::array<std::vector<std::size_t>, 256> by_first_byte_;
  std::vector<Normalizer> normalizers_;
  std::vector<PreTokenizer> pre_tokenizers_;
};

}  // namespace t5::hf
