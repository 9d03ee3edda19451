// The t5cc subcommands. Each add_* registers its options on the app (CLI11) and returns the work
// to run once they are parsed; that work returns the exit status and throws UsageError (status 2)
// or t5::Error / std::exception (status 1), and main() prints the one-line message.
#pragma once

#include <CLI/CLI.hpp>

#include "options.hpp"

namespace t5cc {

Command add_inspect(CLI::App& app);
Command add_tokenize(CLI::App& app);
Command add_encode(CLI::App& app);
Command add_generate(CLI::App& app);
Command add_calibrate(CLI::App& app);

}  // namespace t5cc
