// Uses t5cc through its installed headers, as README.md shows: opens a checkpoint directory
// (argv[1]) and turns its detected policies into a compile-time Variant.
#include <iostream>

#include <t5/t5.hpp>

int main(int argc, char** argv) {
  if (argc != 2) return 2;
  auto checkpoint = t5::Checkpoint::open(argv[1]);  // reads, validates, detects
  auto preset = t5::dispatch(checkpoint.detected().policies,
                             []<t5::VariantLike V>() { return t5::preset_name(V::policies); });
  std::cout << preset << "\n";
  return 0;
}
