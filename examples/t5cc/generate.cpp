// `t5cc generate --model DIR [options] TEXT...`: greedy search, sampling or beam search with
// transformers.generate's options; one line of text per output sequence.
#include <cmath>
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
      {"min-new-tokens", "N", "forbid EOS before N new tokens (default 0; at most --max-new-tokens)"},
      {"do-sample", "", "sample each token instead of taking the most likely one"},
      {"temperature", "T", "sampling: divide the scores by T > 0 (default 1)"},
      {"top-k", "K", "sampling: keep the K most likely tokens, 0 for all (default 50, as transformers)"},
      {"top-p", "P", "sampling: keep the smallest most likely set reaching probability P in (0, 1] (default 1)"},
      {"seed", "S", "sampling: the seed of the random streams (default 0); an input's samples depend only on"
                    " S and its position among all inputs"},
      {"repetition-penalty", "R", "divide (multiply if negative) the score of every token already in the output by R > 0 (default 1)"},
      {"no-repeat-ngram-size", "N", "forbid any N-gram from appearing twice in an output (default 0: off)"},
      {"num-beams", "N", "beam search with N beams (default 1: no beam search)"},
      {"length-penalty", "L", "beam search: a hypothesis scores sum of log-probabilities / length^L (default 1)"},
      {"early-stopping", "true|false|never", "beam search: when an input is done (default false; see transformers)"},
      {"num-return-sequences", "K", "print K outputs per input, as K consecutive lines: samples, or the K best beams (K <= --num-beams)"},
      {"stream", "", "print each output token by token as it is generated (one input at a time; not with beams)"},
      {"show-input", "", "print 'INPUT -> OUTPUT' instead of OUTPUT"},
  };
  o.insert(o.end(), job_options.begin(), job_options.end());
  return o;
}

void print_help() {
  std::cout << "usage: t5cc generate --model DIR [options] TEXT...\n\n"
               "Each input (tokenized with EOS) is encoded, then the decoder generates from the decoder start token\n"
               "until EOS or --max-new-tokens, as transformers.generate does with the same options: greedy search by\n"
               "default, sampling with --do-sample, beam search with --num-beams. Prints --num-return-sequences lines\n"
               "per input, in input order: the generated text, special tokens and sentinels left out. Inputs are\n"
               "batched (--batch-size); an output does not depend on its batch, sampled ones included.\n\n"
            << format_options(generate_options()) << "\nexit status: 0 success, 1 error, 2 usage error\n";
}

/// A number option, or `fallback` when absent; UsageError when it is not a finite number.
double number_option(const Args& args, const std::string& name, double fallback) {
  const auto v = args.get(name);
  if (!v) return fallback;
  std::size_t used = 0;
  double x = 0.0;
  try {
    x = std::stod(*v, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (used == 0 || used != v->size() || !std::isfinite(x)) throw UsageError("option '--" + name + "' needs a number, found '" + *v + "'");
  return x;
}

/// A non-negative integer option, or `fallback` when absent.
std::int64_t count_option(const Args& args, const std::string& name, std::int64_t fallback) {
  const auto v = args.get(name);
  if (!v) return fallback;
  if (v->empty() || v->size() > 18 || v->find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("option '--" + name + "' needs an integer >= 0, found '" + *v + "'");
  return std::stoll(*v);
}

t5::GenerationOptions parse_generation(const Args& args) {
  t5::GenerationOptions o;
  o.max_new_tokens = positive_option(args, "max-new-tokens", 64);
  o.min_new_tokens = count_option(args, "min-new-tokens", 0);
  if (o.min_new_tokens > o.max_new_tokens)
    throw UsageError("--min-new-tokens " + std::to_string(o.min_new_tokens) + " is above --max-new-tokens " + std::to_string(o.max_new_tokens));
  o.do_sample = args.has("do-sample");
  for (const char* name : {"temperature", "top-k", "top-p", "seed"})
    if (args.has(name) && !o.do_sample) throw UsageError(std::string("--") + name + " applies to sampling: add --do-sample");
  o.temperature = static_cast<float>(number_option(args, "temperature", 1.0));
  if (!(o.temperature > 0.0f)) throw UsageError("--temperature must be > 0, found " + *args.get("temperature"));
  const double top_k = number_option(args, "top-k", 50);
  if (top_k < 0 || top_k != std::floor(top_k)) throw UsageError("--top-k must be an integer >= 0, found " + *args.get("top-k"));
  o.top_k = static_cast<std::int64_t>(top_k);
  o.top_p = static_cast<float>(number_option(args, "top-p", 1.0));
  if (!(o.top_p > 0.0f && o.top_p <= 1.0f)) throw UsageError("--top-p must be in (0, 1], found " + *args.get("top-p"));
  const std::string seed = args.get("seed").value_or("0");
  if (seed.empty() || seed.size() > 19 || seed.find_first_not_of("0123456789") != std::string::npos)
    throw UsageError("--seed must be an integer in [0, 10^19), found '" + seed + "'");
  o.seed = std::stoull(seed);
  o.repetition_penalty = static_cast<float>(number_option(args, "repetition-penalty", 1.0));
  if (!(o.repetition_penalty > 0.0f)) throw UsageError("--repetition-penalty must be > 0, found " + *args.get("repetition-penalty"));
  o.no_repeat_ngram_size = count_option(args, "no-repeat-ngram-size", 0);
  o.num_beams = positive_option(args, "num-beams", 1);
  for (const char* name : {"length-penalty", "early-stopping"})
    if (args.has(name) && o.num_beams == 1) throw UsageError(std::string("--") + name + " applies to beam search: add --num-beams N (N > 1)");
  o.length_penalty = static_cast<float>(number_option(args, "length-penalty", 1.0));
  const std::string early = args.get("early-stopping").value_or("false");
  if (early == "true")
    o.early_stopping = t5::EarlyStopping::True;
  else if (early == "never")
    o.early_stopping = t5::EarlyStopping::Never;
  else if (early != "false")
    throw UsageError("--early-stopping must be true, false or never, found '" + early + "'");
  o.num_return_sequences = positive_option(args, "num-return-sequences", 1);
  if (o.num_beams > 1 && o.num_return_sequences > o.num_beams)
    throw UsageError("--num-return-sequences " + std::to_string(o.num_return_sequences) + " is above --num-beams " + std::to_string(o.num_beams));
  if (o.num_beams == 1 && !o.do_sample && o.num_return_sequences > 1)
    throw UsageError("--num-return-sequences above 1 needs --do-sample or --num-beams (greedy search has one output)");
  if (o.num_beams > 1 && o.do_sample) throw UsageError("--do-sample with --num-beams (beam sampling) is not supported");
  if (args.has("stream")) {
    if (o.num_beams > 1) throw UsageError("--stream does not work with beam search: the best beam is known only at the end");
    if (o.num_return_sequences > 1) throw UsageError("--stream prints one output at a time: it needs --num-return-sequences 1");
    if (positive_option(args, "batch-size", 1) != 1) throw UsageError("--stream decodes one input at a time: it needs --batch-size 1");
  }
  try {
    o.validate();  // anything the checks above missed is still a usage error
  } catch (const t5::Error& e) {
    throw UsageError(e.what());
  }
  return o;
}

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

}  // namespace

int run_generate(std::span<const std::string> words) {
  const auto specs = generate_options();
  const Args args = Args::parse(words, specs);
  if (args.has("help")) {
    print_help();
    return 0;
  }
  const auto texts = read_inputs(args);
  t5::GenerationOptions options = parse_generation(args);
  const bool stream = args.has("stream");
  const std::int64_t batch_size = stream ? 1 : positive_option(args, "batch-size", 8);
  LoadedModel m = load_model(args);

  Progress progress(static_cast<std::int64_t>(texts.size()), args.has("quiet") || stream);
  std::int64_t at_limit = 0, outputs = 0;
  for (std::size_t first = 0; first < texts.size(); first += static_cast<std::size_t>(batch_size)) {
    const std::size_t count = std::min<std::size_t>(static_cast<std::size_t>(batch_size), texts.size() - first);
    const std::span<const std::string> batch_texts(texts.data() + first, count);
    options.row_keys.resize(count);
    for (std::size_t r = 0; r < count; ++r) options.row_keys[r] = first + r;  // the input's place among all inputs
    Streamer streamer(m.tokenizer);
    if (stream) {
      options.on_token = std::ref(streamer);
      if (args.has("show-input")) std::cout << batch_texts[0] << " -> " << std::flush;
    }
    const t5::Generation generated = m.model->generate(m.tokenizer.encode_batch(batch_texts), options);
    for (std::size_t r = 0; r < count; ++r)
      for (std::int64_t k = 0; k < generated.per_input; ++k) {
        const auto& ids = generated.at(static_cast<std::int64_t>(r), k).tokens;
        ++outputs;
        if (ids.empty() || ids.back() != m.tokenizer.eos_id()) ++at_limit;
        if (stream) {  // the text is out already; end its line
          std::cout << "\n";
          continue;
        }
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
    std::cerr << "t5cc: warning: " << at_limit << " of " << outputs << " outputs reached --max-new-tokens " << options.max_new_tokens
              << " without EOS (cut short)\n";
  return 0;
}

}  // namespace t5cc
