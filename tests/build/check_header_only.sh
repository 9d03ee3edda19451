#!/usr/bin/env bash
# The header-only path as README gives it: examples/compile_time_model.cpp compiled with the
# include/ folder and Eigen's include path alone (no libt5cc, no Meson-generated header, no macro),
# whose output on a fixture must equal the libt5cc-linked build of the same program.
# Arguments: the C++ compiler, the t5cc source root, the linked compile_time_model.
set -euo pipefail
cxx=$1
src=$(cd "$2" && pwd)
linked=$3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$cxx" -std=c++20 -O2 -I "$src/include" $(pkg-config --cflags eigen3) "$src/examples/compile_time_model.cpp" -o "$work/header_only"
expected=$("$linked" "$src/tests/data/mt5")
got=$("$work/header_only" "$src/tests/data/mt5")
if [ "$got" != "$expected" ]; then
  printf 'header-only output:\n%s\nlinked output:\n%s\n' "$got" "$expected"
  exit 1
fi
printf '%s\nheader-only: OK (equal to the linked build)\n' "$got"
