#!/usr/bin/env bash
# The whole test suite, from a fresh Debian 12 machine: installs missing packages, then
#   build/       the normal build (CUDA kernels compiled when nvcc is found; the Python module with
#                the interpreter tools/python_env.sh sets up) and every suite;
#   build-asan/  an ASan + UBSan build (CPU only) running the unit, io, cpu, parity and cli suites,
#                at -O1 with line tables only (-g1): the sanitizers' usual setting, and a third of
#                the compile time of -O2 -g for the same reports;
#   build-tsan/  a ThreadSanitizer build of the cpu tests, running the concurrency suite (threads
#                calling one model at once; one OpenMP thread per call, as libgomp is not
#                instrumented);
#   build-fuzz/  the libFuzzer harnesses (clang), 30 s each (tools/fuzz.sh).
# Exits non-zero if any test fails. .ci/run runs this script.
set -euo pipefail
cd "$(dirname "$0")/.."
tools/install_deps.sh
jobs=$(nproc)

# The Python module and its suite (python/, tests/python/) build with the interpreter of
# tools/python_env.sh; without one (no network for PyPI) the python suite reports SKIP.
if T5CC_PYTHON=$(tools/python_env.sh); then
  export T5CC_PYTHON
else
  echo "t5cc: no Python environment for the python suite; it will report SKIP" >&2
  unset T5CC_PYTHON
fi
tools/configure.sh build
ninja -C build -j "$jobs"
meson test -C build --num-processes "$jobs" --print-errorlogs

tools/configure.sh build-asan -Db_sanitize=address,undefined -Dcuda=disabled -Dbenchmarks=false -Dpython=disabled \
  -Doptimization=1 -Ddebug=false -Dcpp_args=-g1
ninja -C build-asan -j "$jobs"
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
  meson test -C build-asan --num-processes "$jobs" --print-errorlogs --suite unit --suite io --suite cpu --suite parity --suite cli

tools/configure.sh build-tsan -Db_sanitize=thread -Dcuda=disabled -Dbenchmarks=false -Dexamples=false -Dpython=disabled \
  -Doptimization=1 -Ddebug=false -Dcpp_args=-g1
ninja -C build-tsan -j "$jobs" tests/test_cpu
TSAN_OPTIONS=halt_on_error=1 meson test -C build-tsan --no-rebuild --print-errorlogs cpu/concurrency

# build-fuzz/: the libFuzzer harnesses (clang; tests/fuzz/README.md): every committed seed once
# (meson suite 'fuzz'), then 30 s of fuzzing per harness; SKIP without clang.
tools/fuzz.sh 30
