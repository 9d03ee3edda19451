// What every libFuzzer harness of tests/fuzz/ shares: the error contract it checks (the call
// succeeds or throws a t5::Error whose what() is one non-empty line; anything else aborts, which
// libFuzzer reports as a crash), a scratch directory, and the fixtures of tests/data.
#pragma once

#include <cxxabi.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <string>
#include <string_view>
#include <typeinfo>

#include "t5/core/error.hpp"

#ifndef T5CC_FUZZ_DATA_DIR
#define T5CC_FUZZ_DATA_DIR "tests/data"
#endif

namespace t5::fuzz {

namespace fs = std::filesystem;

/// Where harnesses store what they read, so the reads are not optimised away.
inline volatile std::uint8_t sink = 0;

[[noreturn]] inline void finding(const char* step, const std::string& what) {
  std::fprintf(stderr, "\n==t5cc-fuzz== CONTRACT VIOLATION in %s: %s\n", step, what.c_str());
  std::fflush(stderr);
  std::abort();  // libFuzzer's SIGABRT handler prints the stack and writes the crash-* reproducer
}

inline std::string demangle(const char* name) {
  int status = 0;
  char* s = abi::__cxa_demangle(name, nullptr, nullptr, &status);
  std::string out = status == 0 && s != nullptr ? s : name;
  std::free(s);
  return out;
}

/// Runs `f`. Returns true if it returned, false if it threw a t5::Error with a one-line, non-empty
/// message; aborts (a finding) on a multi-line or empty message and on any other exception.
template <class F>
bool expect_contract(const char* step, F&& f) {
  try {
    f();
    return true;
  } catch (const t5::Error& e) {
    const std::string_view what = e.what();
    if (what.empty()) finding(step, "t5::Error(" + std::string(to_string(e.code())) + ") with an empty message");
    if (what.find('\n') != std::string_view::npos)
      finding(step, "t5::Error(" + std::string(to_string(e.code())) + ") message is not one line: \"" + std::string(what) + "\"");
    return false;
  } catch (const std::exception& e) {
    finding(step, "threw " + demangle(typeid(e).name()) + ", not t5::Error: " + e.what());
  } catch (...) {
    finding(step, "threw a non-std::exception object");
  }
}

/// tests/data: $T5CC_TEST_DATA, else the source tree's (compiled in by tests/fuzz/meson.build).
inline fs::path data_dir() {
  const char* env = std::getenv("T5CC_TEST_DATA");
  return env != nullptr && *env != '\0' ? fs::path(env) : fs::path(T5CC_FUZZ_DATA_DIR);
}

/// A fresh directory for one harness process: under $T5CC_FUZZ_SCRATCH (tools/fuzz.sh points it
/// into its work dir), else /dev/shm (no disk writes per input), else the system temp folder.
/// Removed at a normal exit; a crashed run leaves it behind (tools/fuzz.sh removes its own).
inline const fs::path& scratch_dir(const char* harness) {
  static const fs::path dir = [&] {
    fs::path base;
    if (const char* env = std::getenv("T5CC_FUZZ_SCRATCH"); env != nullptr && *env != '\0') base = env;
    else if (fs::is_directory("/dev/shm")) base = "/dev/shm";
    else base = fs::temp_directory_path();
    fs::create_directories(base);
    std::string tmpl = (base / (std::string("t5cc-fuzz-") + harness + "-XXXXXX")).string();
    if (::mkdtemp(tmpl.data()) == nullptr) {
      std::perror("t5cc fuzz: mkdtemp");
      std::abort();
    }
    std::atexit([] {
      std::error_code ignored;
      fs::remove_all(scratch_dir(""), ignored);
    });
    return fs::path(tmpl);
  }();
  return dir;
}

/// Writes `size` bytes to `path`, replacing it. Aborts on failure (the harness's fault, not a finding
/// of the library's).
inline void write_file(const fs::path& path, const std::uint8_t* data, std::size_t size) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    std::perror(path.c_str());
    std::abort();
  }
  for (std::size_t done = 0; done < size;) {
    const ssize_t n = ::write(fd, data + done, size - done);
    if (n <= 0) {
      std::perror(path.c_str());
      std::abort();
    }
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

inline void write_file(const fs::path& path, std::string_view text) {
  write_file(path, reinterpret_cast<const std::uint8_t*>(text.data()), text.size());
}

/// The file a reader maps, holding each input in turn: a memfd's /proc/self/fd/N path (a regular
/// file to fstat, which is all MappedFile accepts; no disk writes) when the kernel has memfds, else
/// a file in the scratch directory.
class InputFile {
 public:
  InputFile(const char* harness, const char* file_name) : fd_(::memfd_create(harness, MFD_CLOEXEC)) {
    path_ = fd_ >= 0 ? "/proc/self/fd/" + std::to_string(fd_) : (scratch_dir(harness) / file_name).string();
  }
  const std::string& path() const { return path_; }

  void put(const std::uint8_t* data, std::size_t size) const {
    if (fd_ < 0) {
      write_file(path_, data, size);
      return;
    }
    if (::ftruncate(fd_, 0) != 0 || (size > 0 && ::pwrite(fd_, data, size, 0) != static_cast<ssize_t>(size))) {
      std::perror("t5cc fuzz: memfd");
      std::abort();
    }
  }

 private:
  int fd_;
  std::string path_;
};

/// Copies a fixture file into the scratch directory (overwriting).
inline void copy_fixture(const fs::path& from, const fs::path& to) {
  std::error_code ec;
  fs::copy_file(from, to, fs::copy_options::overwrite_existing, ec);
  if (ec) {
    std::fprintf(stderr, "t5cc fuzz: cannot copy %s to %s: %s\n", from.c_str(), to.c_str(), ec.message().c_str());
    std::abort();
  }
}

/// A harness's own precondition failed (a fixture missing, the valid input rejected): not a finding.
[[noreturn]] inline void setup_failed(const std::string& what) {
  std::fprintf(stderr, "t5cc fuzz: harness setup failed: %s\n", what.c_str());
  std::exit(2);
}

/// Runs `f` on the harness's own valid input at start-up: it must succeed, else the harness would
/// fuzz nothing beyond the first check.
template <class F>
void require_valid(const char* what, F&& f) {
  try {
    f();
  } catch (const std::exception& e) {
    setup_failed(std::string(what) + ": " + e.what());
  }
}

}  // namespace t5::fuzz
