#!/usr/bin/env bash
# First run on a fresh Debian 12 machine: installs missing packages, builds t5cc, inspects a
# checkpoint bundled in tests/data (a tiny T5 v1.1 written by HuggingFace transformers), and runs
# it through the CPU pipeline with the API example (encoder states and greedy generation).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/configure.sh build
ninja -C build -j "$(nproc)" examples/t5cc examples/compile_time_model
build/examples/t5cc inspect --model tests/data/v1_1_gated
echo
build/examples/compile_time_model tests/data/v1_1_gated
