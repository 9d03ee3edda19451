// t5cc: the command-line tool. Exit status: 0 success, 1 any error (one line on stderr),
// 2 usage error (one line on stderr, then a pointer to --help).
#include <CLI/CLI.hpp>

#include <algorithm>
#include <exception>
#include <iostream>
#include <string>
#include <utility>
#include <vector>

#include "commands.hpp"
#include "t5/load.hpp"

int main(int argc, char** argv) {
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

  std::string command = "t5cc";
  auto usage_error = [&](const std::string& what) {
    std::cerr << "t5cc: usage error: " << what << " (see '" << command << " --help')\n";
    return 2;
  };
  try {
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
      if (e.get_exit_code() == 0) return app.exit(e);  // --help or --version
      return usage_error(e.what());
    }
    for (const auto& [sub, run] : commands)
      if (sub->parsed()) {
        command = "t5cc " + sub->get_name();
        return run();
      }
    return usage_error("no command given");
  } catch (const t5cc::UsageError& e) {
    return usage_error(e.what());
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "t5cc: error: " << e.what() << "\n";
    return 1;
  }
}
