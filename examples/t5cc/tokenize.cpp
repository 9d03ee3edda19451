// `t5cc tokenize (--model DIR | --spm FILE) [--mode sp|hf] [--no-eos] [--pieces] TEXT...`: one line
// of ids (or pieces) per text.
#include <iostream>

#include "args.hpp"
#include "commands.hpp"
#include "jobs.hpp"
#include "t5/t5.hpp"

namespace t5cc {
namespace {

const OptionSpec tokenize_options[] = {
    {"model", "DIR", "the model's tokenizer: DIR/spiece.model, sentinels and special ids from DIR's config"},
    {"spm", "FILE", "a SentencePiece model alone, with T5's 100 sentinels <extra_id_0..99>"},
    {"mode", "sp|hf", "sp: SentencePiece with the sentinels as pieces (default); hf: as T5TokenizerFast"},
    {"no-eos", "", "do not append the EOS id"},
    {"pieces", "", "print the pieces instead of the ids"},
    {"input", "FILE", "read the texts from FILE, one per line ('-' for stdin), instead of TEXT arguments"},
};

void print_help() {
  std::cout << "usage: t5cc tokenize (--model DIR | --spm FILE) [--mode sp|hf] [--no-eos] [--pieces] TEXT...\n\n"
               "Prints one line per text: its token ids separated by spaces (the pieces with --pieces); an\n"
               "empty result is an empty line. <extra_id_N> in a text is T5's sentinel N, id pieces + 99 - N.\n\n"
            << format_options(tokenize_options) << "\nexit status: 0 success, 1 error, 2 usage error\n";
}

}  // namespace

int run_tokenize(std::span<const std::string> words) {
  const Args args = Args::parse(words, tokenize_options);
  if (args.has("help")) {
    print_help();
    return 0;
  }
  if (args.has("model") == args.has("spm")) throw UsageError("give exactly one of --model DIR and --spm FILE");
  const std::string mode = args.get("mode").value_or("sp");
  if (mode != "sp" && mode != "hf") throw UsageError("option '--mode' must be sp or hf, found '" + mode + "'");
  const auto texts = read_inputs(args);
  const t5::Tokenizer tokenizer =
      args.has("model") ? t5::Tokenizer::from_model_dir(args.require("model")) : t5::Tokenizer::from_spm(args.require("spm"));
  t5::EncodeOptions options;
  options.mode = mode == "hf" ? t5::TokenizerMode::HuggingFace : t5::TokenizerMode::SentencePiece;
  options.add_eos = !args.has("no-eos");
  for (const auto& text : texts) {
    std::string line;
    if (args.has("pieces")) {
      for (const auto& piece : tokenizer.pieces(text, options)) line += (line.empty() ? "" : " ") + piece;
    } else {
      for (const auto id : tokenizer.encode(text, options)) line += (line.empty() ? "" : " ") + std::to_string(id);
    }
    std::cout << line << "\n";
  }
  return 0;
}

}  // namespace t5cc
