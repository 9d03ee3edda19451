// Fuzzes the GGUF reader (t5/io/gguf.hpp with gguf_quants.hpp): the input is a whole .gguf file,
// handed to GgufFile through fuzz_support.hpp's InputFile. On success the metadata are read as
// Checkpoint::open reads them (embedded_config) and every tensor is decoded as a loader would:
// each must lie inside the file and decode to exactly its element count of float32 values.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "t5/io/gguf.hpp"

namespace {

const t5::fuzz::InputFile* input = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  input = new t5::fuzz::InputFile("gguf", "model.gguf");  // lives as long as the process
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  input->put(data, size);
  t5::fuzz::expect_contract("GgufFile", [&] {
    const t5::io::GgufFile file(input->path());
    (void)file.embedded_config();
    std::uint8_t sum = 0;
    for (const auto& t : file.tensors()) {
      if (t.end > file.file_size() || t.begin > t.end) t5::fuzz::finding("GgufFile", "tensor \"" + t.name + "\" lies outside the file");
      if (file.find(t.name) != &t) t5::fuzz::finding("GgufFile::find", "find(\"" + t.name + "\") is not the listed tensor");
      if (t.numel() > (std::int64_t{1} << 22)) continue;  // decoding it would only measure memory
      const t5::WeightSource s = file.source(t);
      if (s.elements() != t.numel()) t5::fuzz::finding("GgufFile::source", "tensor \"" + t.name + "\" decodes to another element count");
      for (const std::byte b : s.bytes) sum = static_cast<std::uint8_t>(sum + std::to_integer<std::uint8_t>(b));
    }
    t5::fuzz::sink = sum;
  });
  return 0;
}
