// Fuzzes the safetensors reader (t5/io/safetensors.hpp): the input is a whole file, handed to
// SafetensorsFile through a memfd's /proc/self/fd/N path (a regular file to fstat, which is all
// MappedFile accepts). On success every tensor's bytes are read and, for weight dtypes, converted
// to float, as a loader would.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "fuzz_support.hpp"
#include "t5/io/safetensors.hpp"

namespace {

/// The file the reader maps: a memfd when the kernel has them, else a file in the scratch dir.
std::string input_path;
int input_fd = -1;

void put_input(const std::uint8_t* data, std::size_t size) {
  if (input_fd < 0) {
    t5::fuzz::write_file(input_path, data, size);
    return;
  }
  if (::ftruncate(input_fd, 0) != 0 || (size > 0 && ::pwrite(input_fd, data, size, 0) != static_cast<ssize_t>(size))) {
    std::perror("t5cc fuzz: memfd");
    std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  input_fd = ::memfd_create("t5cc-fuzz-safetensors", MFD_CLOEXEC);
  input_path = input_fd >= 0 ? "/proc/self/fd/" + std::to_string(input_fd)
                             : (t5::fuzz::scratch_dir("safetensors") / "input.safetensors").string();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  put_input(data, size);
  t5::fuzz::expect_contract("SafetensorsFile", [&] {
    const t5::io::SafetensorsFile file(input_path);
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
