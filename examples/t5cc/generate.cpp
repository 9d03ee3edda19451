// `t5cc generate --model DIR [--max-new-tokens N] [--show-input] TEXT...`: greedy generation, one
// line of text per input.
#include <iostream>

#include "args.hpp"
#include "commands.hpp"
#include "jobs.hpp"
#include "t5/t5.hpp"

namespace t5cc {
namespace {

std::vector<OptionSpec> generate_options() {
  std::vector<OptionSpec> o = {
      {"model", "DIR", "checkpoint directory with config.json, safetensors weights and spiece.model"},
      {"max-new-tokens", "N", "stop an output after N tokens (default 64); reaching it warns on stderr"},
      {"show-input", "", "print 'INPUT -> OUTPUT' instead of OUTPUT"},
  };
  o.insert(o.end(), job_options.begin(), job_options.end());
  return o;
}

void print_help() {
  std::cout << "usage: t5cc generate --model DIR [--max-new-tokens N] [--show-input] TEXT...\n\n"
               "Greedy decoding: each input (tokenized with EOS) is encoded, then the decoder emits the most\n"
               "likely token from the decoder start token until EOS or --max-new-tokens. Prints exactly one\n"
               "line per input, in input order: the generated text, special tokens and sentinels left out.\n"
               "Inputs are batched (--batch-size); a row's output does not depend on its batch.\n\n"
            << format_options(generate_options()) << "\nexit status: 0 success, 1 error, 2 usage error\n";
}

}  // namespace

int run_generate(std::span<const std::string> words) {
  const auto specs = generate_options();
  const Args args = Args::parse(words, specs);
  if (args.has("help")) {
    print_help();
    return 0;
  }
  const auto texts = read_inputs(args);
  const std::int64_t batch_size = positive_option(args, "batch-size", 8);
  t5::GreedyOptions options;
  options.max_new_tokens = positive_option(args, "max-new-tokens", 64);
  LoadedModel m = load_model(args);

  Progress progress(static_cast<std::int64_t>(texts.size()), args.has("quiet"));
  std::int64_t at_limit = 0;
  for (std::size_t first = 0; first < texts.size(); first += static_cast<std::size_t>(batch_size)) {
    const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(batch_size), texts.size() - first);
    const std::span<const std::string> batch_texts(texts.data() + first, count);
    const auto rows = m.model->generate_greedy(m.tokenizer.encode_batch(batch_texts), options);
    for (std::size_t r = 0; r < count; ++r) {
      const auto& ids = rows[r];
      if (ids.empty() || ids.back() != m.tokenizer.eos_id()) ++at_limit;
      const std::string text = m.tokenizer.decode(ids);
      if (args.has("show-input"))
        std::cout << batch_texts[r] << " -> " << text << "\n";
      else
        std::cout << text << "\n";
    }
    std::cout.flush();
    progress.advance(static_cast<std::int64_t>(first + count));
  }
  if (at_limit > 0)
    std::cerr << "t5cc: warning: " << at_limit << " of " << texts.size() << " outputs reached --max-new-tokens " << options.max_new_tokens
              << " without EOS (cut short)\n";
  return 0;
}

}  // namespace t5cc
