// `t5cc tokenize (--model DIR | --spm FILE) [--mode sp|hf] [--no-eos] [--pieces] TEXT...`: one line
// of ids (or pieces) per text.
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include "commands.hpp"
#include "t5/tokenizer/tokenizer.hpp"

namespace t5cc {
namespace {

struct Options {
  std::string model, spm, tokenizer, mode = "sp", input;
  bool no_eos = false, pieces = false;
  std::vector<std::string> texts;
};

int run(const Options& o) {
  if (!o.model.empty() + !o.spm.empty() + !o.tokenizer.empty() != 1) throw UsageError("give exactly one of --model DIR, --spm FILE and --tokenizer PATH");
  const auto texts = read_inputs(o.texts, o.input);
  const t5::Tokenizer tokenizer = !o.model.empty() ? t5::Tokenizer::from_model_dir(o.model)
                                  : !o.spm.empty() ? t5::Tokenizer::from_spm(o.spm)
                                                   : t5::Tokenizer::from_path(o.tokenizer);
  t5::EncodeOptions options;
  options.mode = o.mode == "hf" ? t5::TokenizerMode::HuggingFace : t5::TokenizerMode::SentencePiece;
  options.add_eos = !o.no_eos;
  for (const auto& text : texts) {
    std::string line;
    if (o.pieces) {
      for (const auto& piece : tokenizer.pieces(text, options)) line += (line.empty() ? "" : " ") + piece;
    } else {
      for (const auto id : tokenizer.encode(text, options)) line += (line.empty() ? "" : " ") + std::to_string(id);
    }
    std::cout << line << "\n";
  }
  flush_stdout();
  return 0;
}

}  // namespace

Command add_tokenize(CLI::App& app) {
  auto o = std::make_shared<Options>();
  app.add_option("text", o->texts, "the texts (or --input)")->type_name("TEXT");
  app.add_option("--model", o->model, "the model's tokenizer: DIR/spiece.model, sentinels and special ids from DIR's config")
      ->type_name("DIR")
      ->check(non_empty());
  app.add_option("--spm", o->spm, "a SentencePiece model alone, with T5's 100 sentinels <extra_id_0..99>")->type_name("FILE")->check(non_empty());
  app.add_option("--tokenizer", o->tokenizer,
                 "a spiece.model, a tokenizer.json or a folder holding them (with its tokenizer_config.json), with the tokenizer's own "
                 "special ids")
      ->type_name("PATH")
      ->check(non_empty());
  app.add_option("--mode", o->mode,
                 "sp: SentencePiece with the sentinels as pieces (default); hf: as HF tokenizers with the tokenizer.json, or as "
                 "T5TokenizerFast converts the spiece.model (a tokenizer.json alone runs as hf in both modes)")
      ->type_name("sp|hf")
      ->check(one_of({"sp", "hf"}));
  app.add_flag("--no-eos", o->no_eos, "do not append the EOS id");
  app.add_flag("--pieces", o->pieces, "print the pieces instead of the ids");
  app.add_option("--input", o->input, input_help())->type_name("FILE")->check(non_empty());
  app.footer("Prints one line per text: its token ids separated by spaces (the pieces with --pieces); an\n"
             "empty result is an empty line. <extra_id_N> in a text is T5's sentinel N, id pieces + 99 - N.\n\n"
             "exit status: 0 success, 1 error, 2 usage error");
  return [o] { return run(*o); };
}

}  // namespace t5cc
