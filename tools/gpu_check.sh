#!/usr/bin/env bash
# The GPU validation of the CUDA backend, in two halves, because the lent GPU machine has CUDA but
# none of t5cc's Debian packages:
#   tools/gpu_check.sh prepare   here: builds build-gpu/ for sm_90a (H200) and packs gpu-bundle/ (the
#                                test programs, t5cc, libt5cc and the Debian libraries they load)
#   tools/gpu_check.sh run       on the GPU machine, from the repository root, with gpu-bundle carried:
#                                the cuda suite, the cli GPU test, compute-sanitizer memcheck and
#                                racecheck on the reduced case list, bench_precision and layer_diff
#                                on the demo model, then a summary table.
# Logs go to $OUT (or gpu-logs/) as <step>.log.
set -uo pipefail
cd "$(dirname "$0")/.."

# The reduced case list of the sanitizer runs (every sequence length <= 128): each kernel once.
sanitizer_cases=(--run_test=rms_norm --run_test=gemm --run_test=elementwise --run_test=sampling
                 --run_test=attention/sanitizer_cases --run_test=fixtures/sanitizer_case)

prepare() {
  set -e
  tools/configure.sh build-gpu -Dcuda=enabled -Dgpu_archs=90a
  ninja -C build-gpu tests/test_cuda tests/test_cli examples/t5cc benchmarks/bench_precision benchmarks/layer_diff
  rm -rf gpu-bundle && mkdir -p gpu-bundle/lib
  cp build-gpu/tests/test_cuda build-gpu/tests/test_cli build-gpu/examples/t5cc build-gpu/benchmarks/bench_precision build-gpu/benchmarks/layer_diff gpu-bundle/
  cp -L build-gpu/src/libt5cc.so.0 gpu-bundle/lib/
  # Debian libraries the programs load, except glibc's, the C++ runtime and CUDA's own (the GPU
  # machine has those, newer). Debug information is dropped: a carry holds 64 MiB at most.
  for lib in $(ldd gpu-bundle/test_cuda gpu-bundle/test_cli gpu-bundle/t5cc gpu-bundle/bench_precision | awk '/=> \//{print $3}' | sort -u); do
    case "$(basename "$lib")" in
      libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|ld-linux*|libstdc++*|libgcc_s*|libcuda.so*|libcudart.so*|libcublas*|libt5cc*) ;;
      *) cp -L "$lib" gpu-bundle/lib/ ;;
    esac
  done
  strip --strip-debug gpu-bundle/test_cuda gpu-bundle/test_cli gpu-bundle/t5cc gpu-bundle/bench_precision gpu-bundle/layer_diff gpu-bundle/lib/*.so*
  du -sh gpu-bundle
  echo "carry gpu-bundle; on the GPU machine run: bash tools/gpu_check.sh run"
}

run() {
  local out=${OUT:-gpu-logs}
  mkdir -p "$out"
  export LD_LIBRARY_PATH="$PWD/gpu-bundle/lib:/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
  export T5CC_TEST_DATA="$PWD/tests/data" T5CC_DEMO_MODEL="$PWD/examples/models/numbers" T5CC_BIN="$PWD/gpu-bundle/t5cc"
  export PATH="/usr/local/cuda/bin:$PATH"
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
  local boost=(--log_level=test_suite --report_level=short --color_output=no)
  declare -A result
  step() {  # step NAME COMMAND...: runs it with a 240 s limit, keeps the log, records the status
    local name=$1
    shift
    timeout 240 "$@" > "$out/$name.log" 2>&1
    result[$name]=$?
    tail -4 "$out/$name.log"
  }
  for suite in rms_norm gemm elementwise sampling attention fixtures; do
    step "cuda-$suite" gpu-bundle/test_cuda --run_test=$suite "${boost[@]}"
  done
  step cli-device gpu-bundle/test_cli --run_test=cli/device_cuda "${boost[@]}"
  step memcheck compute-sanitizer --tool memcheck --error-exitcode 9 gpu-bundle/test_cuda "${sanitizer_cases[@]}" "${boost[@]}"
  step racecheck compute-sanitizer --tool racecheck --error-exitcode 9 gpu-bundle/test_cuda "${sanitizer_cases[@]}" "${boost[@]}"
  # Precision (docs/precision.md): the GPU's quantiles beside the CPU emulation of the same dtypes,
  # and the per-sublayer comparison of cuda:f16 with cpu:f16 (the values it should store).
  step precision gpu-bundle/bench_precision --model examples/models/numbers --inputs benchmarks/precision_inputs/numbers.json \
    --runs cpu:bf16,cuda:bf16,cpu:f16,cuda:f16
  step layer-diff gpu-bundle/layer_diff --model examples/models/numbers --inputs benchmarks/precision_inputs/numbers.json --a cpu:f16 --b cuda:f16
  cat "$out/precision.log"
  grep -h 'BOOST_TEST_MESSAGE\|: encoder states\|generate.json\|held-out' "$out"/cuda-fixtures.log | head -40
  echo
  echo "| step | exit status |"
  echo "|---|---|"
  local failed=0
  for name in cuda-rms_norm cuda-gemm cuda-elementwise cuda-sampling cuda-attention cuda-fixtures cli-device memcheck racecheck precision layer-diff; do
    echo "| $name | ${result[$name]} |"
    [ "${result[$name]}" = 0 ] || failed=1
  done
  return $failed
}

case "${1:-}" in
  prepare) prepare ;;
  run) run ;;
  *) echo "usage: tools/gpu_check.sh prepare|run" >&2; exit 2 ;;
esac
