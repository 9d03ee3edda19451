// A T5 v1.1 model selected at compile time: encode a padded batch of token ids and decode greedily.
//   compile_time_model DIR    (DIR: a T5 v1.1 / Flan-T5 / mT5 checkpoint, e.g. tests/data/mt5)
#include <iostream>

#include <t5/t5.hpp>

int main(int argc, char** argv) {
  if (argc != 2) {
    std::cerr << "usage: compile_time_model DIR\n";
    return 2;
  }
  try {
    // The variant is a type: a checkpoint of another variant is refused with a one-line error.
    auto model = t5::Model<t5::v1_1>::load(argv[1], {.threads = 2});
    const t5::Hparams& h = model.hparams();

    // Two rows of token ids (each ending with EOS), right-padded into one batch with a mask.
    const auto eos = static_cast<std::int32_t>(h.eos_id);
    const auto input = t5::TokenBatch::from_rows({{5, 6, 7, 8, eos}, {9, 10, eos}}, static_cast<std::int32_t>(h.pad_id));

    const t5::HostTensor states = model.encode(input);  // [batch, length, d_model] float32
    std::cout << "encoder states [" << states.shape[0] << ", " << states.shape[1] << ", " << states.shape[2]
              << "], row 1, position 0, first value " << states.at(1, 0, 0) << "\n";

    t5::GenerationOptions options;  // greedy; num_beams, do_sample etc. as in transformers.generate
    options.max_new_tokens = 8;
    const t5::Generation generated = model.generate(input, options);
    for (std::int64_t r = 0; r < input.batch; ++r) {
      std::cout << "row " << r << " generated:";
      for (const std::int32_t id : generated.at(r).tokens) std::cout << ' ' << id;
      std::cout << "\n";
    }
  } catch (const t5::Error& e) {
    std::cerr << "compile_time_model: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
