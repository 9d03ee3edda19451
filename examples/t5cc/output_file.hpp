// OutputFile: where `encode --out FILE` writes, never harming what FILE was. A new or regular FILE
// is written to a temporary file in its own directory, synced, and renamed over it only once
// complete: a failed (a full disk, a file size limit), interrupted (SIGINT, SIGTERM, SIGHUP) or
// refused job leaves FILE as it was and no temporary file behind. A character device or a FIFO is written straight through (never
// replaced by a regular file); a directory, block device or socket is refused.
#pragma once

#include <fcntl.h>
#include <limits.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <span>
#include <string>
#include <utility>

#include "t5/core/error.hpp"
#include "t5/core/memory_size.hpp"

namespace t5cc {
namespace output_detail {

// What the signal handler needs, in static storage: it may only make async-signal-safe calls
// (unlink, raise), so the temporary file's path waits in a buffer rather than a std::string.
inline char temp_path[PATH_MAX];
inline volatile std::sig_atomic_t temp_armed = 0;
inline constexpr std::array<int, 3> fatal_signals = {SIGINT, SIGTERM, SIGHUP};
inline std::array<struct sigaction, 3> previous_actions{};
inline std::array<bool, 3> replaced{};

// Removes the temporary file, then dies of the signal as if no handler had run: SA_RESETHAND put
// the default action back, and the raised signal arrives as soon as this handler returns.
inline void remove_temp_and_die(int signal) {
  if (temp_armed) ::unlink(temp_path);
  ::raise(signal);
}

inline void install_handlers() {
  for (std::size_t i = 0; i < fatal_signals.size(); ++i) {
    struct sigaction action {};
    action.sa_handler = remove_temp_and_die;
    action.sa_flags = SA_RESETHAND;
    sigemptyset(&action.sa_mask);
    for (const int s : fatal_signals) sigaddset(&action.sa_mask, s);
    replaced[i] = false;
    if (::sigaction(fatal_signals[i], nullptr, &previous_actions[i]) != 0) continue;
    if (previous_actions[i].sa_handler == SIG_IGN) continue;  // nohup's and a background job's choice stays
    replaced[i] = ::sigaction(fatal_signals[i], &action, nullptr) == 0;
  }
}

inline void restore_handlers() {
  for (std::size_t i = 0; i < fatal_signals.size(); ++i)
    if (replaced[i]) ::sigaction(fatal_signals[i], &previous_actions[i], nullptr);
  replaced = {};
}

[[noreturn]] inline void fail(const std::string& path, const std::string& what, int error = 0) {
  throw t5::Error(t5::ErrorCode::Io, path + ": " + what + (error != 0 ? std::string(": ") + std::strerror(error) : std::string()));
}

}  // namespace output_detail

class OutputFile {
 public:
  /// Opens `path` for `bytes` bytes of output (a regular file's file system must have them free).
  /// Throws t5::Error(Io) naming `path`.
  OutputFile(const std::string& path, std::uint64_t bytes) : path_(path) {
    try {
      open(bytes);
    } catch (...) {
      close_and_remove();
      throw;
    }
  }
  OutputFile(const OutputFile&) = delete;
  OutputFile& operator=(const OutputFile&) = delete;

  /// Not committed: the temporary file goes, FILE stays as it was.
  ~OutputFile() { close_and_remove(); }

  void write(std::span<const std::byte> data) {
    const std::byte* p = data.data();
    std::size_t left = data.size();
    while (left > 0) {
      const ssize_t n = ::write(fd_, p, left);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) output_detail::fail(path_, "write failed", n < 0 ? errno : EIO);
      p += n;
      left -= static_cast<std::size_t>(n);
    }
  }

  /// Completes FILE: a regular file is synced, renamed into place and its directory synced.
  void commit() {
    using output_detail::fail;
    if (temp_.empty()) {  // a device or FIFO
      if (::close(std::exchange(fd_, -1)) != 0) fail(path_, "write failed", errno);
      return;
    }
    if (::fsync(fd_) != 0) fail(path_, "cannot sync the written data", errno);
    if (::close(std::exchange(fd_, -1)) != 0) fail(path_, "write failed", errno);
    struct stat st {};  // FILE may have become something else while the job ran
    if (::lstat(target_.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) fail(path_, "is no longer a regular file: not replaced");
    if (::rename(temp_.c_str(), target_.c_str()) != 0) fail(path_, "cannot rename the finished file into place", errno);
    temp_.clear();
    disarm();
    const int dir = ::open(directory_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    const bool synced = dir >= 0 && ::fsync(dir) == 0;
    const int error = errno;
    if (dir >= 0) ::close(dir);
    if (!synced) fail(path_, "written, but its directory cannot be synced", error);
  }

  /// The temporary file being written (empty for a device or FIFO, or once committed).
  const std::string& temporary() const { return temp_; }

 private:
  void open(std::uint64_t bytes) {
    using output_detail::fail;
    const std::string& path = path_;
    if (path.empty() || path.back() == '/') fail(path, "names a directory, not a file");
    std::string target = path;
    struct stat st {};
    if (::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode)) {  // FILE is the file the link names, the link stays
      char real[PATH_MAX];
      if (::realpath(path.c_str(), real) == nullptr) fail(path, errno == ENOENT ? "a symbolic link to a missing file" : "cannot follow the link", errno == ENOENT ? 0 : errno);
      target = real;
    }
    const bool exists = ::stat(target.c_str(), &st) == 0;
    if (!exists && errno != ENOENT) fail(path, "cannot access", errno);
    if (exists && S_ISDIR(st.st_mode)) fail(path, "is a directory, not a file");
    if (exists && S_ISBLK(st.st_mode)) fail(path, "is a block device: --out writes a regular file, a character device or a FIFO");
    quiet_write_signals();
    if (exists && (S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) {
      open_direct();
      return;
    }
    if (exists && !S_ISREG(st.st_mode)) fail(path, "is a socket or another special file: --out writes a regular file, a character device or a FIFO");
    if (exists && ::access(target.c_str(), W_OK) != 0) fail(path, "cannot replace the file", errno);
    open_temporary(target, exists ? &st : nullptr, bytes);
  }

  void close_and_remove() {
    if (fd_ >= 0) ::close(std::exchange(fd_, -1));
    if (!temp_.empty()) {
      ::unlink(temp_.c_str());
      temp_.clear();
    }
    disarm();
    for (std::size_t i = 0; i < quiet_signals.size(); ++i)
      if (std::exchange(quieted_[i], false)) ::sigaction(quiet_signals[i], &previous_quiet_actions_[i], nullptr);
  }

  // A reader that goes away (SIGPIPE) or a file size limit (SIGXFSZ) is a write error with a
  // message, not a silent death that leaves the temporary file.
  static constexpr std::array<int, 2> quiet_signals = {SIGPIPE, SIGXFSZ};
  void quiet_write_signals() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    for (std::size_t i = 0; i < quiet_signals.size(); ++i) quieted_[i] = ::sigaction(quiet_signals[i], &ignore, &previous_quiet_actions_[i]) == 0;
  }

  void open_direct() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CLOEXEC | O_NOCTTY);  // a FIFO opens once a reader does
    if (fd_ < 0) output_detail::fail(path_, "cannot open for writing", errno);
    struct stat st {};
    if (::fstat(fd_, &st) != 0 || !(S_ISCHR(st.st_mode) || S_ISFIFO(st.st_mode))) output_detail::fail(path_, "changed while it was opened");
  }

  void open_temporary(const std::string& target, const struct stat* existing, std::uint64_t bytes) {
    using output_detail::fail;
    namespace d = output_detail;
    target_ = target;
    const std::size_t slash = target.rfind('/');
    directory_ = slash == std::string::npos ? "." : slash == 0 ? "/" : target.substr(0, slash);
    // In FILE's directory, so that the rename stays on one file system and is atomic.
    const std::string pattern = target + ".t5cc-tmp-XXXXXX";
    if (pattern.size() >= sizeof d::temp_path) fail(path_, "the path is too long");
    std::memcpy(d::temp_path, pattern.c_str(), pattern.size() + 1);
    d::install_handlers();
    d::temp_armed = 1;  // before the file exists: a signal in between unlinks a name not yet there
    fd_ = ::mkostemp(d::temp_path, O_CLOEXEC);
    if (fd_ < 0) fail(path_, "cannot create a temporary file in " + directory_, errno);
    temp_ = d::temp_path;
    // The permissions (set-id bits left out) and, for root, the owner of the file it replaces; a
    // new file's as open(2) would make them.
    if (existing != nullptr) {
      ::fchmod(fd_, existing->st_mode & 0777);
      (void)!::fchown(fd_, existing->st_uid, existing->st_gid);  // only root may; otherwise the file is the caller's
    } else {
      const mode_t mask = ::umask(0);
      ::umask(mask);
      ::fchmod(fd_, 0666 & ~mask);
    }
    struct statvfs fs {};
    if (::fstatvfs(fd_, &fs) == 0) {
      const std::uint64_t free = t5::Bytes().add({static_cast<std::int64_t>(fs.f_bavail), static_cast<std::int64_t>(fs.f_frsize)}).total();
      if (bytes > free) fail(path_, "needs " + t5::human_bytes(bytes) + ", more than the " + t5::human_bytes(free) + " free on its file system");
    }
  }

  static void disarm() {
    output_detail::temp_armed = 0;
    output_detail::restore_handlers();
  }

  std::string path_, target_, directory_, temp_;
  int fd_ = -1;
  std::array<bool, 2> quieted_{};
  std::array<struct sigaction, 2> previous_quiet_actions_{};
};

}  // namespace t5cc
