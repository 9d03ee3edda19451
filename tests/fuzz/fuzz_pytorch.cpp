// Fuzzes the PyTorch reader (t5/io/pytorch.hpp with zip.hpp and pickle.hpp): the input is a whole
// pytorch_model.bin, handed to PyTorchFile through fuzz_support.hpp's InputFile. On success every
// tensor's bytes are read and converted to float, as a loader would, and each must lie inside the
// file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "t5/io/pytorch.hpp"

namespace {

const t5::fuzz::InputFile* input = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  input = new t5::fuzz::InputFile("pytorch", "pytorch_model.bin");  // lives as long as the process
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input->put(data, size);
  t5::fuzz::expect_contract("PyTorchFile", [&] {
    const t5::io::PyTorchFile file(input->path());
    std::uint8_t sum = 0;
    std::vector<float> converted;
    for (const auto& t : file.tensors()) {
      if (t.end > file.file_size() || t.begin > t.end) t5::fuzz::finding("PyTorchFile", "tensor \"" + t.name + "\" lies outside the file");
      const auto bytes = file.data(t);
      for (const std::byte b : bytes) sum = static_cast<std::uint8_t>(sum + std::to_integer<std::uint8_t>(b));
      if (file.find(t.name) != &t) t5::fuzz::finding("PyTorchFile::find", "find(\"" + t.name + "\") is not the listed tensor");
      if (static_cast<std::uint64_t>(t.numel()) * t5::dtype_size(t.dtype) != bytes.size())
        t5::fuzz::finding("PyTorchFile", "tensor \"" + t.name + "\": its shape does not match its bytes");
      if (bytes.size() <= (std::size_t{1} << 22)) {
        converted.resize(bytes.size() / t5::dtype_size(t.dtype));
        t5::convert_elements(bytes, t.dtype, converted.data());
      }
    }
    t5::fuzz::sink = sum;
  });
  return 0;
}
