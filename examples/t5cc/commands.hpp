// The t5cc subcommands. Each returns the exit status and throws UsageError (status 2) or
// t5::Error / std::exception (status 1); main() prints the one-line message.
#pragma once

#include <span>
#include <string>

namespace t5cc {

int run_inspect(std::span<const std::string> args);
int run_tokenize(std::span<const std::string> args);
int run_encode(std::span<const std::string> args);
int run_generate(std::span<const std::string> args);

}  // namespace t5cc
