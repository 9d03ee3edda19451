#!/usr/bin/env bash
# First run on a fresh Debian 12 machine: installs missing packages, builds t5cc, and runs the
# bundled demo model (examples/models/numbers, a small T5 v1.1 that writes numbers in words)
# through our tokenizer, encoder and greedy decoder.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/configure.sh build
ninja -C build -j "$(nproc)" examples/t5cc
build/examples/t5cc generate --model examples/models/numbers --show-input 42 1999 250000 700017 31415
