// Runs a program with arguments (no shell), capturing its exit status, stdout and stderr.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t5/core/mapped_file.hpp"
#include "temp_dir.hpp"

namespace t5::test {

struct CommandResult {
  int status = -1;  ///< exit status, or 128 + signal number
  std::string out;
  std::string err;
};

inline CommandResult run_command(const std::vector<std::string>& argv) {
  TempDir dir("t5cc-run");
  const auto out_path = dir / "stdout";
  const auto err_path = dir / "stderr";
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error("fork failed");
  if (pid == 0) {
    const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    const int in = ::open("/dev/null", O_RDONLY);
    if (out < 0 || err < 0 || in < 0) ::_exit(126);
    ::dup2(in, 0);
    ::dup2(out, 1);
    ::dup2(err, 2);
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    ::execv(args[0], args.data());
    ::_exit(127);
  }
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  CommandResult r;
  r.status = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  r.out = read_text_file(out_path);
  r.err = read_text_file(err_path);
  return r;
}

/// The t5cc binary under test, from the T5CC_BIN environment variable that meson sets.
inline std::string t5cc_binary() {
  const char* bin = std::getenv("T5CC_BIN");
  if (bin == nullptr || !std::filesystem::exists(bin)) throw std::runtime_error("T5CC_BIN does not name the t5cc binary");
  return bin;
}

/// Number of lines in `text` (a last line without a newline counts).
inline std::size_t line_count(const std::string& text) {
  std::size_t n = 0;
  for (char c : text) n += c == '\n';
  return n + (!text.empty() && text.back() != '\n');
}

/// The whitespace-separated words of the first line of `text` whose first word is `first`
/// (empty when there is none): `line_words(out, "d_model")` gives {"d_model", "64"}.
inline std::vector<std::string> line_words(const std::string& text, const std::string& first) {
  std::size_t start = 0;
  while (start < text.size()) {
    std::size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::vector<std::string> words;
    std::size_t i = start;
    while (i < end) {
      while (i < end && text[i] == ' ') ++i;
      std::size_t j = i;
      while (j < end && text[j] != ' ') ++j;
      if (j > i) words.push_back(text.substr(i, j - i));
      i = j;
    }
    if (!words.empty() && words[0] == first) return words;
    start = end + 1;
  }
  return {};
}

}  // namespace t5::test
