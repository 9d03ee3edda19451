// t5cc: the command-line tool. Exit status: 0 success, 1 any error (one line on stderr),
// 2 usage error (one line on stderr, ending with a pointer to --help). Whatever a command throws
// ends here as that one line: t5::Error in the library's words, the standard library's and the
// parsers' exceptions in t5cc's.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <cstdio>
#include <exception>
#include <filesystem>
#include <ios>
#include <iostream>
#include <new>
#include <stdexcept>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "t5/core/error.hpp"
#include "t5/core/json.hpp"
#include "t5/load.hpp"

namespace {

// `text` as one line: a control character (a newline in a file name, say) is written as an escape,
// so that every message is exactly one line on stderr.
std::string one_line(std::string_view text) {
  std::string line;
  for (const char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '\n') line += "\\n";
    else if (c == '\r') line += "\\r";
    else if (c == '\t') line += "\\t";
    else if (u < 0x20 || u == 0x7f) {
      char escape[5];
      std::snprintf(escape, sizeof escape, "\\x%02x", u);
      line += escape;
    } else line += c;
  }
  while (!line.empty() && line.back() == ' ') line.pop_back();
  return line;
}

int error(const std::string& what) {
  std::cout.flush();
  std::cerr << "t5cc: error: " << one_line(what) << "\n";
  return 1;
}

// What an exception from below t5cc (the standard library, a parser) means, in t5cc's words.
std::string filesystem_message(const std::filesystem::filesystem_error& e) {
  std::string paths = e.path1().string();
  if (!e.path2().empty()) paths += " -> " + e.path2().string();
  return (paths.empty() ? std::string("a file operation failed") : paths + ": cannot access") + ": " + e.code().message();
}

std::string json_message(const nlohmann::json::exception& e) {
  std::string what = e.what();  // "[json.exception.type_error.302] type must be number, but is string"
  if (what.starts_with("[json.exception.")) what.erase(0, what.find("] ") == std::string::npos ? 0 : what.find("] ") + 2);
  return "malformed JSON: " + what;
}

}  // namespace

int main(int argc, char** argv) {
  std::string command = "t5cc";
  auto usage_error = [&](const std::string& what) {
    std::cerr << "t5cc: usage error: " << one_line(what) << " (see '" << command << " --help')\n";
    return 2;
  };
  try {
    CLI::App app("t5cc " + std::string(t5::version()) +
                 " - run T5-family models (T5, Flan-T5, mT5, UMT5, Pile-T5) from HuggingFace checkpoints");
    app.name("t5cc");
    app.set_version_flag("--version", "t5cc " + std::string(t5::version()) + (t5::have_cuda() ? " (CUDA backend built)" : " (CPU only)") +
                                          "\nCPU kernels: " + t5::cpu_kernels());
    app.require_subcommand(1);
    app.footer("Run 't5cc <command> --help' for the options of a command.\n\nexit status: 0 success, 1 error (message on stderr), 2 usage error");
    std::vector<std::pair<CLI::App*, t5cc::Command>> commands;
    auto add = [&](const char* name, const char* description, t5cc::Command (*add_command)(CLI::App&)) {
      CLI::App* sub = app.add_subcommand(name, description);
      commands.emplace_back(sub, add_command(*sub));
    };
    add("inspect", "describe a checkpoint: detected variant, sizes, tensor inventory", t5cc::add_inspect);
    add("tokenize", "text to token ids (or pieces) with the model's SentencePiece vocabulary", t5cc::add_tokenize);
    add("encode", "text to encoder hidden states (a safetensors file or a summary)", t5cc::add_encode);
    add("generate", "text to text: greedy search, sampling or beam search, as transformers.generate", t5cc::add_generate);
    add("calibrate", "find the feed-forward scales that keep --dtype f16 finite (a sidecar beside the checkpoint)", t5cc::add_calibrate);

    const std::vector<std::string> words(argv + 1, argv + argc);
    if (!words.empty() && !words[0].starts_with("-") &&
        std::none_of(commands.begin(), commands.end(), [&](const auto& c) { return c.first->get_name() == words[0]; }))
      return usage_error("unknown command '" + words[0] + "'");
    for (const std::string& word : words) {
      if (word == "--") break;
      if (word.starts_with("--") && word.ends_with("="))  // CLI11 would take the next word as the value
        return usage_error("option '" + word.substr(0, word.size() - 1) + "' needs a non-empty value");
    }
    try {
      app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
      for (const auto& c : commands)
        if (c.first->parsed()) command = "t5cc " + c.first->get_name();
      if (e.get_exit_code() != 0) return usage_error(e.what());
      const int status = app.exit(e);  // --help or --version
      t5cc::flush_stdout();
      return status;
    }
    for (const auto& [sub, run] : commands)
      if (sub->parsed()) {
        command = "t5cc " + sub->get_name();
        const int status = run();
        t5cc::flush_stdout();
        return status;
      }
    return usage_error("no command given");
  } catch (const t5cc::UsageError& e) {
    return usage_error(e.what());
  } catch (const t5::Error& e) {
    return error(e.what());
  } catch (const std::bad_alloc&) {
    return error("out of memory: the job needs more memory than this machine gives it (fewer, shorter inputs or a smaller --batch-size need less)");
  } catch (const std::length_error&) {
    return error("out of memory: the job asks for a size beyond what can be allocated");
  } catch (const std::filesystem::filesystem_error& e) {
    return error(filesystem_message(e));
  } catch (const std::ios_base::failure&) {
    return error("reading or writing a file failed");
  } catch (const std::system_error& e) {
    return error("a system call failed: " + e.code().message());
  } catch (const nlohmann::json::exception& e) {
    return error(json_message(e));
  } catch (const CLI::Error& e) {
    return error(std::string("internal error in the command line's setup: ") + e.what());
  } catch (const std::logic_error& e) {  // std::invalid_argument, std::out_of_range (stoi, at): a value nobody checked
    return error(std::string("internal error: a value out of range (") + e.what() + ")");
  } catch (const std::exception& e) {
    return error(e.what());
  } catch (...) {
    return error("internal error: an unknown exception");
  }
}
