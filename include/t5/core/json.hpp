// Strict JSON parsing for the files t5cc reads (safetensors headers, index files, config.json,
// tokenizer_config.json): syntax errors, duplicate keys in any object and nesting deeper than
// max_json_depth are errors, every nlohmann exception becomes a t5::Error naming the file, and
// messages quote untrusted text only as a short one-line excerpt.
#pragma once

#include <cstddef>
#include <set>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "t5/core/error.hpp"

namespace t5 {

using Json = nlohmann::json;

/// Deepest nesting of arrays and objects accepted: serde_json's default recursion limit (128), which
/// the reference safetensors crate parses its headers with. The limit keeps dump(), copies and
/// every recursive walk of a parsed value far from the stack's end.
inline constexpr int max_json_depth = 128;

/// Most characters of an untrusted value a message quotes; tensor and key names get name_chars.
inline constexpr std::size_t quote_chars = 40;
inline constexpr std::size_t name_chars = 160;

namespace detail {

/// `text` cut to at most `max_chars` bytes, not inside a UTF-8 sequence; `cut` says whether it was.
inline std::string_view utf8_prefix(std::string_view text, std::size_t max_chars, bool& cut) {
  cut = text.size() > max_chars;
  if (!cut) return text;
  std::size_t n = max_chars;
  while (n > 0 && (static_cast<unsigned char>(text[n]) & 0xc0u) == 0x80u) --n;  // a continuation byte
  return text.substr(0, n);
}

/// Appends a JSON serialisation of `value`, stopping soon after `out` exceeds `max_chars`: a huge
/// array or string is never serialised whole. Recursion is bounded by max_json_depth.
inline void append_excerpt(std::string& out, const Json& value, std::size_t max_chars) {
  if (out.size() > max_chars) return;
  switch (value.type()) {
    case Json::value_t::string: {
      bool cut = false;
      const auto part = utf8_prefix(value.get_ref<const std::string&>(), max_chars + 1, cut);
      // dump() escapes control characters (one line); replace: a cut never makes it throw.
      out += Json(std::string(part)).dump(-1, ' ', false, Json::error_handler_t::replace);
      if (cut) out.pop_back();  // no closing quote: the string goes on
      break;
    }
    case Json::value_t::array: {
      out += '[';
      bool first = true;
      for (const auto& element : value) {
        if (out.size() > max_chars) return;
        if (!std::exchange(first, false)) out += ", ";
        append_excerpt(out, element, max_chars);
      }
      out += ']';
      break;
    }
    case Json::value_t::object: {
      out += '{';
      bool first = true;
      for (const auto& [key, element] : value.items()) {
        if (out.size() > max_chars) return;
        if (!std::exchange(first, false)) out += ", ";
        append_excerpt(out, Json(key), max_chars);
        out += ": ";
        append_excerpt(out, element, max_chars);
      }
      out += '}';
      break;
    }
    default: out += value.dump(); break;  // numbers, booleans, null: short
  }
}

}  // namespace detail

/// A JSON value as a message quotes it: serialised on one line, at most `max_chars` characters and
/// "..." when cut. Use it for every value read from a file, never dump().
inline std::string json_excerpt(const Json& value, std::size_t max_chars = quote_chars) {
  std::string out;
  detail::append_excerpt(out, value, max_chars);
  bool cut = false;
  std::string text(detail::utf8_prefix(out, max_chars, cut));
  return cut ? text + "..." : text;
}

/// A string from a file (a value; a key, tensor or file name with max_chars = name_chars) as a
/// message quotes it: in double quotes, control characters escaped (one line), at most `max_chars`
/// characters and "..." when cut.
inline std::string quoted_text(std::string_view text, std::size_t max_chars = quote_chars) {
  bool cut = false;
  const auto part = detail::utf8_prefix(text, max_chars, cut);
  const std::string q = Json(std::string(part)).dump(-1, ' ', false, Json::error_handler_t::replace);
  return cut ? q.substr(0, q.size() - 1) + "...\"" : q;
}

/// What an nlohmann exception says, without its "[json.exception.type_error.302] " prefix and cut
/// to one short line (a parse error quotes the token it read, which may be the whole input).
inline std::string json_exception_text(const Json::exception& e) {
  std::string_view what = e.what();
  if (auto pos = what.find("] "); pos != std::string_view::npos) what.remove_prefix(pos + 2);
  std::string text;
  for (const char c : what) text += static_cast<unsigned char>(c) < 0x20 ? ' ' : c;
  bool cut = false;
  std::string out(detail::utf8_prefix(text, 160, cut));
  return cut ? out + "..." : out;
}

/// Runs `read` (a reader walking a parsed value with at(), get<>() ...), turning any nlohmann
/// exception it lets escape into Error(code) naming `source`.
template <class F>
decltype(auto) with_json_errors(const std::string& source, ErrorCode code, F&& read) {
  try {
    return std::forward<F>(read)();
  } catch (const Json::exception& e) {
    throw Error(code, source + ": " + json_exception_text(e));
  }
}

namespace detail {

/// Builds the DOM as nlohmann's own SAX DOM parser does, plus the strict rules: nesting deeper than
/// max_json_depth and duplicate keys are errors, and every parse error becomes t5::Error. (The
/// callback parser, the obvious way to add the rules, rescans the parent container after every
/// nested value: quadratic in the entries of a safetensors header.)
class StrictJsonBuilder {
 public:
  StrictJsonBuilder(Json& root, const std::string& source, std::string_view key_kind, ErrorCode code)
      : root_(root), source_(source), key_kind_(key_kind), code_(code) {}

  bool null() { return put(nullptr); }
  bool boolean(bool value) { return put(value); }
  bool number_integer(Json::number_integer_t value) { return put(value); }
  bool number_unsigned(Json::number_unsigned_t value) { return put(value); }
  bool number_float(Json::number_float_t value, const std::string&) { return put(value); }
  bool string(std::string& value) { return put(std::move(value)); }
  bool binary(Json::binary_t& value) { return put(Json::binary(std::move(value))); }

  bool start_object(std::size_t) { return open(Json::value_t::object); }
  bool start_array(std::size_t) { return open(Json::value_t::array); }
  bool end_object() { return close(); }
  bool end_array() { return close(); }

  bool key(std::string& key) {
    Frame& frame = open_.back();
    last_key_ = key.substr(0, name_chars + 1);
    if (!frame.keys.insert(key).second) {
      const std::string kind = open_.size() == 1 ? std::string(key_kind_) : "key";
      throw Error(code_, source_ + ": duplicate " + kind + " " + quoted_text(key, name_chars) + " in JSON");
    }
    member_ = &(*frame.value)[key];
    return true;
  }

  // Syntax errors, bad UTF-8 and out_of_range (a number beyond a double, such as 1e400).
  bool parse_error(std::size_t, const std::string&, const Json::exception& e) { throw Error(code_, invalid() + json_exception_text(e)); }

 private:
  struct Frame {
    Json* value;
    std::set<std::string> keys;  // objects only
  };

  std::string invalid() const {
    return source_ + ": invalid JSON" + (last_key_.empty() ? "" : " (after key " + quoted_text(last_key_, name_chars) + ")") + ": ";
  }

  /// Places `value` where the parse is: the root, the end of the open array or the open object's
  /// last key. Only closed values move when an array grows, so the open frames' pointers stay valid.
  template <class V>
  Json* place(V&& value) {
    if (open_.empty()) {
      root_ = Json(std::forward<V>(value));
      return &root_;
    }
    Json& parent = *open_.back().value;
    if (parent.is_array()) {
      parent.get_ref<Json::array_t&>().emplace_back(std::forward<V>(value));
      return &parent.get_ref<Json::array_t&>().back();
    }
    *member_ = Json(std::forward<V>(value));
    return member_;
  }

  template <class V>
  bool put(V&& value) {
    place(std::forward<V>(value));
    return true;
  }

  bool open(Json::value_t type) {
    // open_.size() counts the containers around this one; checked before the DOM grows deeper.
    if (open_.size() >= static_cast<std::size_t>(max_json_depth))
      throw Error(code_, invalid() + "arrays and objects nested more than " + std::to_string(max_json_depth) + " deep");
    open_.push_back(Frame{place(type), {}});
    return true;
  }

  bool close() {
    open_.pop_back();
    return true;
  }

  Json& root_;
  const std::string& source_;
  std::string_view key_kind_;
  ErrorCode code_;
  std::vector<Frame> open_;
  Json* member_ = nullptr;  // the value of the open object's last key
  std::string last_key_;    // names the key a bad value follows
};

}  // namespace detail

/// Parses `text`. `source` names the file in messages; `key_kind` says what a top-level key is
/// ("tensor name", "key") so a duplicate is reported in the reader's terms. Throws Error(code).
inline Json parse_json_strict(std::string_view text, const std::string& source, std::string_view key_kind,
                              ErrorCode code = ErrorCode::Format) {
  Json root;
  detail::StrictJsonBuilder builder(root, source, key_kind, code);
  Json::sax_parse(text.begin(), text.end(), &builder);  // strict: text after the value is an error
  return root;
}

/// A short name for a JSON value's type, for messages ("found a string").
inline std::string json_type_name(const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return "null";
    case Json::value_t::boolean: return "a boolean";
    case Json::value_t::number_integer:
    case Json::value_t::number_unsigned: return "an integer";
    case Json::value_t::number_float: return "a floating-point number";
    case Json::value_t::string: return "a string";
    case Json::value_t::array: return "an array";
    case Json::value_t::object: return "an object";
    default: return "an unexpected value";
  }
}

}  // namespace t5
