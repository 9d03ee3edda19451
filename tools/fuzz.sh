#!/usr/bin/env bash
# fuzz.sh [SECONDS] [HARNESS...]: builds the libFuzzer harnesses of tests/fuzz/ in build-fuzz/
# (clang, ASan + UBSan, CPU only), runs the committed seeds once (meson suite 'fuzz'), then fuzzes
# each harness for SECONDS (default 600; CI: 30) on a copy of its seed corpus in
# build-fuzz/fuzz-work/ (the committed corpus never grows). Prints per harness the executions,
# libFuzzer's final coverage (cov: edges, ft: features) and the reproducers found; exits non-zero
# if any harness left a crash, leak, timeout or out-of-memory reproducer. Without clang or
# libFuzzer it prints SKIP and exits 0.
# Environment: FUZZ_JOBS (ninja's -j, default 2), FUZZ_BUILD (default build-fuzz), FUZZ_KEEP_GOING=1
# (libFuzzer's -fork=1 with crashes, timeouts and OOMs ignored: every reproducer of the time, not
# only the first; the counts are then the fork mode's).
set -uo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
seconds=${1:-600}
shift || true
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-2}

# name: -max_len (bytes), each above its largest seed (fuzz_load's valid files are 100-280 KB).
declare -A max_len=([safetensors]=65536 [pytorch]=16384 [gguf]=16384 [config]=8192 [index]=16384 [tokenizer_config]=4096 [tokenizer_text]=4096 [tokenizer_json]=8192
                    [load]=300000)
# name: its libFuzzer dictionary (tests/fuzz/).
declare -A dict=([safetensors]=json.dict [pytorch]=pytorch.dict [gguf]=gguf.dict [config]=json.dict [index]=json.dict [tokenizer_config]=json.dict
                 [tokenizer_text]=tokenizer.dict [tokenizer_json]=json.dict [load]=json.dict)
all=(safetensors pytorch gguf config index tokenizer_config tokenizer_text tokenizer_json load)
harnesses=("$@")
[ ${#harnesses[@]} -gt 0 ] || harnesses=("${all[@]}")
for h in "${harnesses[@]}"; do
  [ -n "${max_len[$h]:-}" ] || { echo "fuzz.sh: unknown harness '$h' (known: ${all[*]})" >&2; exit 2; }
done

if ! command -v clang++ > /dev/null || ! command -v clang > /dev/null; then
  echo "SKIP: clang not found; the fuzz harnesses need clang's libFuzzer"
  exit 0
fi
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf '#include <cstddef>\n#include <cstdint>\nextern "C" int LLVMFuzzerTestOneInput(const std::uint8_t*, std::size_t) { return 0; }\n' \
  > "$probe/probe.cpp"
if ! clang++ -fsanitize=fuzzer,address,undefined "$probe/probe.cpp" -o "$probe/probe" 2> "$probe/log"; then
  echo "SKIP: clang++ cannot link -fsanitize=fuzzer,address,undefined (libclang_rt.fuzzer missing?):"
  sed 's/^/  /' "$probe/log" | head -5
  exit 0
fi

# -O1 with line tables (-g1), as run_tests.sh's sanitizer builds; assertions on.
options=(-Dfuzz=enabled -Dcuda=disabled -Donednn=disabled -Dopenmp=disabled -Dtests=false -Dexamples=false
         -Dbenchmarks=false -Dpython=disabled -Doptimization=1 -Ddebug=false -Db_ndebug=false -Dcpp_args=-g1)
if [ -f "$build/build.ninja" ]; then
  meson setup --reconfigure "$build" "${options[@]}" > "$probe/setup.log" 2>&1
else
  CC=clang CXX=clang++ meson setup "$build" "${options[@]}" > "$probe/setup.log" 2>&1
fi || { echo "fuzz.sh: meson setup failed:"; tail -30 "$probe/setup.log"; exit 1; }
targets=()
for h in "${harnesses[@]}"; do targets+=("tests/fuzz/fuzz_$h"); done
ninja -C "$build" -j "$jobs" "${targets[@]}" || { echo "fuzz.sh: build failed"; exit 1; }

export T5CC_TEST_DATA="$root/tests/data" OMP_NUM_THREADS=1
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# The seeds once each (a regression on a seed fails here, before any fuzzing).
tests=()
for h in "${harnesses[@]}"; do tests+=("fuzz/$h"); done
meson test -C "$build" --no-rebuild --print-errorlogs --num-processes "$jobs" "${tests[@]}"
status=$?
[ $status -eq 0 ] || echo "fuzz.sh: a committed seed fails (meson test above); fuzzing anyway"

keep_going=()
[ "${FUZZ_KEEP_GOING:-0}" = 1 ] && keep_going=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
work="$build/fuzz-work"
printf '\n%-17s %10s %8s %8s %8s  %s\n' harness execs cov ft corpus 'reproducers (crash/leak/timeout/oom)'
summary=()
for h in "${harnesses[@]}"; do
  dir="$work/$h"
  rm -rf "$dir"
  mkdir -p "$dir/corpus" "$dir/artifacts" "$dir/scratch"
  cp "tests/fuzz/corpus/$h/"* "$dir/corpus/"
  env=(T5CC_FUZZ_SCRATCH="$root/$dir/scratch")
  [ "$h" = load ] && env+=(T5CC_FUZZ_EMIT_SEEDS="$root/$dir/corpus")  # its valid files, written at start-up
  env "${env[@]}" "$build/tests/fuzz/fuzz_$h" "$dir/corpus" -dict="tests/fuzz/${dict[$h]}" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb=2048 -max_len="${max_len[$h]}" -print_final_stats=1 -artifact_prefix="$root/$dir/artifacts/" "${keep_going[@]}" \
    > "$dir/log" 2>&1
  rc=$?
  [ ${#keep_going[@]} -gt 0 ] && [ $rc -eq 77 ] && rc=0  # fork mode's "ignored a crash" status: the artifacts say
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$dir/log" | tail -1)
  final=$(grep -E '^#[0-9]+.*cov: ' "$dir/log" | tail -1)
  [ -n "$execs" ] || execs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<< "$final")
  cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<< "$final")
  ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<< "$final")
  corpus_size=$(find "$dir/corpus" -type f | wc -l)
  artifacts=$(find "$root/$dir/artifacts" -type f | sort)
  found=$(grep -c . <<< "$artifacts")
  if [ "$found" -eq 0 ] && [ $rc -ne 0 ]; then
    artifacts="(libFuzzer exited $rc without a reproducer: see $dir/log)"
    found=1
  fi
  printf '%-17s %10s %8s %8s %8s  %s\n' "$h" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$corpus_size" \
    "$([ "$found" -eq 0 ] && echo none || echo "$found found")"
  if [ "$found" -ne 0 ]; then
    status=1
    while read -r a; do
      summary+=("$h: $a")
      [ -f "$a" ] && summary+=("  reproduce: $root/$build/tests/fuzz/fuzz_$h $a")
    done <<< "$artifacts"
    summary+=("  log: $dir/log: $(grep -m1 -E '^==[0-9]+==ERROR|CONTRACT VIOLATION|^SUMMARY|ERROR: libFuzzer' "$dir/log")")
  fi
  rm -rf "$dir/scratch"
done
if [ ${#summary[@]} -gt 0 ]; then
  echo
  echo "findings:"
  printf '  %s\n' "${summary[@]}"
fi
exit $status
