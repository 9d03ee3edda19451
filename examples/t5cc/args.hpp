// Command-line parsing for the t5cc tool: `--name value`, `--name=value`, flags, `--` ending the
// options, positionals. Mistakes raise UsageError, which the tool turns into exit status 2.
#pragma once

#include <algorithm>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace t5cc {

struct UsageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct OptionSpec {
  std::string name;        ///< "model" for --model
  std::string value_name;  ///< "DIR"; empty for a flag
  std::string help;
};

class Args {
 public:
  /// Parses `args` (the words after the subcommand) against `specs`; -h / --help is always known.
  static Args parse(std::span<const std::string> args, std::span<const OptionSpec> specs) {
    Args out;
    bool options_done = false;
    for (std::size_t i = 0; i < args.size(); ++i) {
      const std::string& word = args[i];
      if (options_done || word.size() < 2 || word[0] != '-') {
        out.positionals_.push_back(word);
        continue;
      }
      if (word == "--") {
        options_done = true;
        continue;
      }
      if (word == "-h" || word == "--help") {
        out.values_.push_back({"help", ""});
        continue;
      }
      if (!word.starts_with("--")) throw UsageError("unknown option '" + word + "'");
      const auto eq = word.find('=');
      const std::string name = word.substr(2, eq == std::string::npos ? std::string::npos : eq - 2);
      const OptionSpec* spec = nullptr;
      for (const auto& s : specs)
        if (s.name == name) spec = &s;
      if (spec == nullptr) throw UsageError("unknown option '--" + name + "'");
      if (out.has(name)) throw UsageError("option '--" + name + "' given twice");
      if (spec->value_name.empty()) {
        if (eq != std::string::npos) throw UsageError("option '--" + name + "' takes no value");
        out.values_.push_back({name, ""});
      } else if (eq != std::string::npos) {
        out.values_.push_back({name, word.substr(eq + 1)});
      } else {
        if (i + 1 >= args.size()) throw UsageError("option '--" + name + "' needs a value (" + spec->value_name + ")");
        out.values_.push_back({name, args[++i]});
      }
    }
    return out;
  }

  bool has(std::string_view name) const {
    for (const auto& [n, v] : values_)
      if (n == name) return true;
    return false;
  }
  std::optional<std::string> get(std::string_view name) const {
    for (const auto& [n, v] : values_)
      if (n == name) return v;
    return std::nullopt;
  }
  /// The option's value; UsageError naming it when absent or empty.
  std::string require(std::string_view name) const {
    auto v = get(name);
    if (!v) throw UsageError("missing required option '--" + std::string(name) + "'");
    if (v->empty()) throw UsageError("option '--" + std::string(name) + "' needs a non-empty value");
    return *v;
  }
  const std::vector<std::string>& positionals() const { return positionals_; }

 private:
  std::vector<std::pair<std::string, std::string>> values_;
  std::vector<std::string> positionals_;
};

/// The options block of a --help text.
inline std::string format_options(std::span<const OptionSpec> specs) {
  std::string out = "options:\n";
  auto line = [&](const std::string& left, const std::string& help) {
    std::string l = "  " + left;
    l.resize(std::max<std::size_t>(l.size() + 2, 24), ' ');
    out += l + help + "\n";
  };
  for (const auto& s : specs) line("--" + s.name + (s.value_name.empty() ? "" : " " + s.value_name), s.help);
  line("-h, --help", "show this help and exit");
  return out;
}

}  // namespace t5cc
