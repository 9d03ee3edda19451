// TempDir: a fresh directory under the system temp folder, removed with its contents at scope exit.
#pragma once

#include <filesystem>
#include <random>
#include <string>

namespace t5::test {

class TempDir {
 public:
  explicit TempDir(const std::string& tag = "t5cc-test") {
    std::random_device rd;
    for (int attempt = 0; attempt < 100; ++attempt) {
      path_ = std::filesystem::temp_directory_path() / (tag + "-" + std::to_string(rd()));
      if (std::filesystem::create_directory(path_)) return;
    }
    throw std::runtime_error("TempDir: cannot create a unique directory");
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

}  // namespace t5::test
