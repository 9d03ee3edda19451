// `t5cc generate --model DIR [options] TEXT...`: greedy search, sampling or beam search with
// transformers.generate's options; one line of text per output sequence.
#include <functional>
#include <iostream>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "commands.hpp"
#include "t5/core/error.hpp"
#include "t5/generation/options.hpp"

namespace t5cc {
namespace {

struct Options {
  JobOptions job;
  t5::GenerationOptions generation;
  std::vector<std::string> generation_flags;  ///< the options that set a GenerationOptions field
  std::string early_stopping = "false";
  bool stream = false;
  bool show_input = false;
  std::string output = "text";
};

/// Prints an output as its tokens arrive: the text of the tokens so far, minus what was printed
/// (SentencePiece's text of a prefix is a prefix of the text, except while a character is split).
class Streamer {
 public:
  explicit Streamer(const t5::Tokenizer& tokenizer) : tokenizer_(tokenizer) {}
  void operator()(const t5::TokenStep& step) {
    if (!step.emitted[0]) return;
    tokens_.push_back(step.tokens[0]);
    const std::string text = tokenizer_.decode(tokens_);
    if (text.size() > printed_.size() && text.compare(0, printed_.size(), printed_) == 0) {
      std::cout << text.substr(printed_.size()) << std::flush;
      printed_ = text;
    }
  }

 private:
  const t5::Tokenizer& tokenizer_;
  std::vector<std::int32_t> tokens_;
  std::string printed_;
};

/// The checks of options that only the command line can get wrong (an option given without the
/// search it belongs to, --stream's limits); GenerationOptions::validate checks the values.
void check_combinations(const Options& o, const CLI::App& app) {
  const t5::GenerationOptions& g = o.generation;
  for (const char* name : {"--temperature", "--top-k", "--top-p", "--seed"})
    if (app.count(name) > 0 && !g.do_sample) throw UsageError(std::string(name) + " applies to sampling: add --do-sample");
  for (const char* name : {"--length-penalty", "--early-stopping"})
    if (app.count(name) > 0 && g.num_beams == 1) throw UsageError(std::string(name) + " applies to beam search: add --num-beams N (N > 1)");
  if (o.stream) {
    if (o.output == "ids") throw UsageError("--stream prints text: it does not go with --output ids");
    if (g.num_beams > 1) throw UsageError("--stream does not work with beam search: the best beam is known only at the end");
    if (g.num_return_sequences > 1) throw UsageError("--stream prints one output at a time: it needs --num-return-sequences 1");
    if (app.count("--batch-size") > 0 && o.job.batch_size != 1) throw UsageError("--stream decodes one input at a time: it needs --batch-size 1");
  }
}

int run(Options& o, const CLI::App& app) {
  t5::GenerationOptions& options = o.generation;
  options.early_stopping = o.early_stopping == "true"    ? t5::EarlyStopping::True
                           : o.early_stopping == "never" ? t5::EarlyStopping::Never
                                                         : t5::EarlyStopping::False;
  check_combinations(o, app);
  try {
    options.validate();
  } catch (const t5::Error& e) {
    throw UsageError(in_option_terms(e.what(), o.generation_flags));
  }
  const auto texts = read_inputs(o.job.texts, o.job.input);
  const std::int64_t batch_size = o.stream ? 1 : o.job.batch_size;
  LoadedModel m = load_model(o.job);

  std::int64_t at_limit = 0, outputs = 0;
  for_each_batch(static_cast<std::int64_t>(texts.size()), batch_size, o.job.quiet || o.stream, [&](std::int64_t first, std::int64_t count) {
    const std::span<const std::string> batch_texts(texts.data() + first, static_cast<std::size_t>(count));
    options.row_keys.resize(static_cast<std::size_t>(count));
    for (std::int64_t r = 0; r < count; ++r) options.row_keys[static_cast<std::size_t>(r)] = static_cast<std::uint64_t>(first + r);  // the input's place among all inputs
    std::optional<Streamer> streamer;
    if (o.stream) {
      options.on_token = std::ref(streamer.emplace(m.tokenizer()));
      if (o.show_input) std::cout << batch_texts[0] << " -> " << std::flush;
    }
    const t5::Generation generated = m.model->generate(m.batch(batch_texts, {}), options);
    for (std::int64_t r = 0; r < count; ++r)
      for (std::int64_t k = 0; k < generated.per_input; ++k) {
        const auto& ids = generated.at(r, k).tokens;
        ++outputs;
        if (ids.empty() || ids.back() != m.model->hparams().eos_id) ++at_limit;
        if (o.stream) {  // the text is out already; end its line
          std::cout << "\n";
          continue;
        }
        std::string text;
        if (o.output == "ids") {
          for (const auto id : ids) text += (text.empty() ? "" : " ") + std::to_string(id);
        } else {
          text = m.tokenizer().decode(ids);
        }
        if (o.show_input)
          std::cout << batch_texts[static_cast<std::size_t>(r)] << " -> " << text << "\n";
        else
          std::cout << text << "\n";
      }
    flush_stdout();
  });
  if (at_limit > 0)
    std::cerr << "t5cc: warning: " << at_limit << " of " << outputs << " outputs reached --max-new-tokens " << options.max_new_tokens
              << " without EOS (cut short)\n";
  return 0;
}

}  // namespace

Command add_generate(CLI::App& app) {
  auto o = std::make_shared<Options>();
  t5::GenerationOptions& g = o->generation;
  add_job_options(app, o->job);
  // An option that sets a GenerationOptions field of the same name (validate's messages use it).
  auto field = [&](const std::string& flag, auto& value, const std::string& help) {
    o->generation_flags.push_back(flag);
    return app.add_option(flag, value, help);
  };
  field("--max-new-tokens", g.max_new_tokens,
        "stop an output after N tokens, N in " + integer_range(1, limits::row_length) + " (default 64); reaching it warns on stderr")
      ->type_name("N")
      ->check(integer_in(1, limits::row_length));
  field("--min-new-tokens", g.min_new_tokens, "forbid EOS before N new tokens, N in [0, --max-new-tokens] (default 0)")
      ->type_name("N")
      ->check(integer_in(0, limits::row_length));
  o->generation_flags.push_back("--do-sample");
  app.add_flag("--do-sample", g.do_sample, "sample each token instead of taking the most likely one");
  field("--temperature", g.temperature,
        "sampling: divide the scores by T, T in " + number_range(limits::scale_min, limits::scale_max) + " (default 1)")
      ->type_name("T")
      ->check(number_in(limits::scale_min, limits::scale_max));
  field("--top-k", g.top_k,
        "sampling: keep the K most likely tokens, 0 for all, K in " + integer_range(0, limits::top_k) + " (default 50, as transformers)")
      ->type_name("K")
      ->check(integer_in(0, limits::top_k));
  field("--top-p", g.top_p, "sampling: keep the smallest most likely set reaching probability P in " + number_range(0, 1, true) + " (default 1)")
      ->type_name("P")
      ->check(number_in(0, 1, true));
  field("--seed", g.seed,
        "sampling: the seed of the random streams, S in " + integer_range(0, std::numeric_limits<std::uint64_t>::max()) +
            " (default 0); an input's samples depend only on S and its position among all inputs")
      ->type_name("S")
      ->check(integer_in(0, std::numeric_limits<std::uint64_t>::max()));
  field("--repetition-penalty", g.repetition_penalty,
        "divide (multiply if negative) the score of every token already in the output by R, R in " +
            number_range(limits::scale_min, limits::scale_max) + " (default 1)")
      ->type_name("R")
      ->check(number_in(limits::scale_min, limits::scale_max));
  field("--no-repeat-ngram-size", g.no_repeat_ngram_size,
        "forbid any N-gram from appearing twice in an output, N in " + integer_range(0, limits::row_length) + " (default 0: off)")
      ->type_name("N")
      ->check(integer_in(0, limits::row_length));
  field("--num-beams", g.num_beams, "beam search with N beams, N in " + integer_range(1, limits::num_beams) + " (default 1: no beam search)")
      ->type_name("N")
      ->check(integer_in(1, limits::num_beams));
  field("--length-penalty", g.length_penalty,
        "beam search: a hypothesis scores sum of log-probabilities / length^L, L in " +
            number_range(-limits::length_penalty, limits::length_penalty) + " (default 1)")
      ->type_name("L")
      ->check(number_in(-limits::length_penalty, limits::length_penalty));
  app.add_option("--early-stopping", o->early_stopping, "beam search: when an input is done (default false; see transformers)")
      ->type_name("true|false|never")
      ->check(one_of({"true", "false", "never"}));
  field("--num-return-sequences", g.num_return_sequences,
        "print K outputs per input, as K consecutive lines: samples, or the K best beams (K <= --num-beams), K in " +
            integer_range(1, limits::num_return_sequences))
      ->type_name("K")
      ->check(integer_in(1, limits::num_return_sequences));
  app.add_flag("--stream", o->stream, "print each output token by token as it is generated (one input at a time; not with beams)");
  app.add_flag("--show-input", o->show_input, "print 'INPUT -> OUTPUT' instead of OUTPUT");
  app.add_option("--output", o->output, "text: each output decoded (default); ids: its token ids, separated by spaces (no tokenizer needed)")
      ->type_name("text|ids")
      ->check(one_of({"text", "ids"}));
  app.footer("Each input (tokenized with EOS) is encoded, then the decoder generates from the decoder start token\n"
             "until EOS or --max-new-tokens, as transformers.generate does with the same options: greedy search by\n"
             "default, sampling with --do-sample, beam search with --num-beams. Prints --num-return-sequences lines\n"
             "per input, in input order: the generated text, special tokens and sentinels left out. Inputs are\n"
             "batched (--batch-size); an output does not depend on its batch, sampled ones included.\n\n"
             "exit status: 0 success, 1 error, 2 usage error");
  return [o, &app] { return run(*o, app); };
}

}  // namespace t5cc
