#!/usr/bin/env bash
# First run on a fresh Debian 12 machine: installs missing packages, builds t5cc, and inspects a
# checkpoint bundled in tests/data (a tiny T5 v1.1 written by HuggingFace transformers).
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
tools/configure.sh build
ninja -C build -j "$(nproc)" examples/t5cc
build/examples/t5cc inspect --model tests/data/v1_1_gated
