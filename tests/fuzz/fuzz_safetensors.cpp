// Fuzzes the safetensors reader (t5/io/safetensors.hpp): the input is a whole file, handed to
// SafetensorsFile through fuzz_support.hpp's InputFile. On success every tensor's bytes are read
// and, for weight dtypes, converted to float, as a loader would.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "t5/io/safetensors.hpp"

namespace {

const t5::fuzz::InputFile* input = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  input = new t5::fuzz::InputFile("safetensors", "input.safetensors");  // lives as long as the process
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input->put(data, size);
  t5::fuzz::expect_contract("SafetensorsFile", [&] {
    const t5::io::SafetensorsFile file(input->path());
    std::uint8_t sum = 0;
    std::vector<float> converted;
    for (const auto& t : file.tensors()) {
      const auto bytes = file.data(t);
      for (const std::byte b : bytes) sum = static_cast<std::uint8_t>(sum + std::to_integer<std::uint8_t>(b));
      if (file.find(t.name) != &t) t5::fuzz::finding("SafetensorsFile::find", "find(\"" + t.name + "\") is not the listed tensor");
      if (t5::is_weight_dtype(t.dtype) && bytes.size() <= (std::size_t{1} << 22)) {
        converted.resize(bytes.size() / t5::dtype_size(t.dtype));
        t5::convert_elements(bytes, t.dtype, converted.data());
      }
      (void)t5::io::shape_string(t.shape);
    }
    for (const auto& [key, value] : file.metadata()) sum = static_cast<std::uint8_t>(sum + key.size() + value.size());
    t5::fuzz::sink = sum;
  });
  return 0;
}
