// Strict JSON parsing for the files t5cc reads (safetensors headers, index files, config.json,
// tokenizer_config.json): syntax errors and duplicate keys in any object are errors. nlohmann_json
// alone would keep the last of two duplicate keys silently, so a parse callback watches every
// object's keys.
#pragma once

#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "t5/core/error.hpp"

namespace t5 {

using Json = nlohmann::json;

/// Parses `text`. `source` names the file in messages; `key_kind` says what a top-level key is
/// ("tensor name", "key") so a duplicate is reported in the reader's terms. Throws Error(code).
inline Json parse_json_strict(std::string_view text, const std::string& source, std::string_view key_kind,
                              ErrorCode code = ErrorCode::Format) {
  std::vector<std::set<std::string>> open_objects;
  auto watch_keys = [&](int depth, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start: open_objects.emplace_back(); break;
      case Json::parse_event_t::object_end: open_objects.pop_back(); break;
      case Json::parse_event_t::key: {
        const auto& key = parsed.get_ref<const std::string&>();
        if (!open_objects.back().insert(key).second) {
          const std::string kind = depth == 1 ? std::string(key_kind) : "key";
          throw Error(code, source + ": duplicate " + kind + " \"" + key + "\" in JSON");
        }
        break;
      }
      default: break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), watch_keys);
  } catch (const Json::parse_error& e) {
    // e.what() reads "[json.exception.parse_error.101] parse error at line 1, column 3: ..."
    std::string what = e.what();
    if (auto pos = what.find("] "); pos != std::string::npos) what.erase(0, pos + 2);
    throw Error(code, source + ": invalid JSON: " + what);
  }
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
