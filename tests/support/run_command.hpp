// Runs a program with arguments (no shell), capturing its exit status, stdout and stderr, under a
// hard time limit (a command that hangs is killed and reported, never waited on forever); or starts
// one to be signalled while it runs.
#pragma once

#include <chrono>
#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "t5/core/mapped_file.hpp"
#include "temp_dir.hpp"

namespace t5::test {

struct CommandResult {
  int status = -1;         ///< exit status, or 128 + signal number
  std::string out;
  std::string err;
  bool timed_out = false;  ///< killed (SIGKILL) at the time limit
  double seconds = 0.0;    ///< from the start to the end (or the kill)
};

/// A command started in its own process group, with stdout and stderr going to files and stdin
/// from /dev/null. wait() collects it; the destructor kills what is still running.
class RunningCommand {
 public:
  explicit RunningCommand(const std::vector<std::string>& argv) : dir_("t5cc-run"), start_(std::chrono::steady_clock::now()) {
    const auto out_path = dir_ / "stdout";
    const auto err_path = dir_ / "stderr";
    std::vector<char*> args;  // made before the fork: the child of a threaded process may not allocate
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_ = ::fork();
    if (pid_ < 0) throw std::runtime_error("fork failed");
    if (pid_ == 0) {
      ::setpgid(0, 0);  // its children (a shell's pipeline) die with it on a time-out
      // The signals as a shell would leave them, whatever the test runner ignores or blocks.
      for (const int s : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGXFSZ}) ::signal(s, SIG_DFL);
      sigset_t none;
      sigemptyset(&none);
      ::sigprocmask(SIG_SETMASK, &none, nullptr);
      const int out = ::open(out_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
      const int in = ::open("/dev/null", O_RDONLY);
      if (out < 0 || err < 0 || in < 0) ::_exit(126);
      ::dup2(in, 0);
      ::dup2(out, 1);
      ::dup2(err, 2);
      ::execv(args[0], args.data());
      ::_exit(127);
    }
    ::setpgid(pid_, pid_);  // also here, so that a kill right after the start reaches the group
  }
  RunningCommand(const RunningCommand&) = delete;
  RunningCommand& operator=(const RunningCommand&) = delete;
  ~RunningCommand() {
    if (running_) {
      ::kill(-pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }

  /// Whether it has not ended yet.
  bool running() {
    if (running_ && ::waitpid(pid_, &wstatus_, WNOHANG) == pid_) end();
    return running_;
  }

  /// Sends `signal` to the command alone (not its group).
  void signal(int signal) const {
    if (running_) ::kill(pid_, signal);
  }

  /// Waits for the end, at most `limit`: past it the group is killed and timed_out set.
  CommandResult wait(std::chrono::duration<double> limit = std::chrono::minutes(2)) {
    CommandResult r;
    const auto deadline = start_ + std::chrono::duration_cast<std::chrono::steady_clock::duration>(limit);
    while (running()) {
      if (std::chrono::steady_clock::now() >= deadline) {
        ::kill(-pid_, SIGKILL);
        ::waitpid(pid_, &wstatus_, 0);
        end();
        r.timed_out = true;
        break;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    r.status = WIFEXITED(wstatus_) ? WEXITSTATUS(wstatus_) : 128 + WTERMSIG(wstatus_);
    r.seconds = std::chrono::duration<double>(end_ - start_).count();
    for (auto [text, name] : {std::pair{&r.out, "stdout"}, std::pair{&r.err, "stderr"}})  // absent when it died before opening them
      if (std::filesystem::exists(dir_ / name)) *text = read_text_file(dir_ / name);
    return r;
  }

 private:
  void end() {
    running_ = false;
    end_ = std::chrono::steady_clock::now();
  }

  TempDir dir_;
  std::chrono::steady_clock::time_point start_, end_;
  pid_t pid_ = -1;
  int wstatus_ = 0;
  bool running_ = true;
};

/// Runs `argv` to its end, or kills it after `limit` (timed_out).
inline CommandResult run_command(const std::vector<std::string>& argv, std::chrono::duration<double> limit = std::chrono::minutes(2)) {
  return RunningCommand(argv).wait(limit);
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
