// t5cc: the command-line tool. Exit status: 0 success, 1 any error (one line on stderr),
// 2 usage error (one line on stderr, then a pointer to --help).
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "args.hpp"
#include "commands.hpp"
#include "t5/build_config.hpp"

namespace {

void print_help() {
  std::cout << "t5cc " T5CC_VERSION " - run T5-family models (T5, Flan-T5, mT5, UMT5, Pile-T5) from HuggingFace checkpoints\n\n"
               "usage: t5cc <command> [options]\n\n"
               "commands:\n"
               "  inspect    describe a checkpoint: detected variant, sizes, tensor inventory\n"
               "  tokenize   text to token ids (or pieces) with the model's SentencePiece vocabulary\n"
               "  encode     text to encoder hidden states (a safetensors file or a summary)\n"
               "  generate   text to text with greedy decoding\n\n"
               "Run 't5cc <command> --help' for the options of a command.\n"
               "  -h, --help   show this help and exit\n"
               "  --version    print the version and exit\n\n"
               "exit status: 0 success, 1 error (message on stderr), 2 usage error\n";
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> words(argv + 1, argv + argc);
  std::string command = "t5cc";
  try {
    if (words.empty()) throw t5cc::UsageError("no command given");
    command = words[0];
    if (command == "-h" || command == "--help") {
      print_help();
      return 0;
    }
    if (command == "--version") {
      std::cout << "t5cc " T5CC_VERSION << (T5CC_HAVE_CUDA ? " (CUDA backend built)" : " (CPU only)") << "\n";
      return 0;
    }
    const std::span<const std::string> rest(words.begin() + 1, words.end());
    if (command == "inspect") return t5cc::run_inspect(rest);
    if (command == "tokenize") return t5cc::run_tokenize(rest);
    if (command == "encode") return t5cc::run_encode(rest);
    if (command == "generate") return t5cc::run_generate(rest);
    command = "t5cc";
    throw t5cc::UsageError("unknown command '" + words[0] + "'");
  } catch (const t5cc::UsageError& e) {
    std::cerr << "t5cc: usage error: " << e.what() << " (see '" << (command == "t5cc" ? "t5cc" : "t5cc " + command) << " --help')\n";
    return 2;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "t5cc: error: " << e.what() << "\n";
    return 1;
  }
}
