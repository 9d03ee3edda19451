// Uses t5cc through its installed headers, as README.md shows: loads the checkpoint directory
// argv[1] with its variant selected at run time, prints the preset, then encodes and generates.
#include <iostream>

#include <t5/t5.hpp>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto model = t5::load(argv[1]);  // reads, validates, detects, loads
  std::cout << model->detected().preset() << "\n";
  const auto input = t5::TokenBatch::from_rows({{5, 6, 7, 8, 1}, {9, 10, 1}}, 0);
  const t5::HostTensor states = model->encode(input);
  const t5::Generation generated = model->generate(input);
  std::cout << "states " << states.shape[0] << " " << states.shape[1] << " " << states.shape[2] << ", " << generated.sequences.size()
            << " rows\n";
  return 0;
}
