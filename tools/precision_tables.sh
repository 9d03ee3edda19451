#!/usr/bin/env bash
# docs/precision.md's tables: for each model, t5cc's low-precision runs against its float32
# reference (benchmarks/bench_precision) and HF transformers' bf16 / fp16 against its own float32
# (tools/hf_precision.py, pinned torch + transformers) on the same inputs (benchmarks/precision_inputs).
# The hot fixtures' f16 scales come from `t5cc calibrate` on other prompts (calibration.txt).
#
#   tools/precision_tables.sh [BUILD_DIR]      (default build; needs the benchmarks and Python tools)
set -euo pipefail
cd "$(dirname "$0")/.."
build=${1:-build}
inputs=benchmarks/precision_inputs
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
runs=cpu:bf16,cpu:f16,cpu:bf16+fold,cpu:f16+fold

table() {  # table TITLE MODEL INPUTS [bench_precision options...]: the rows of both, then their headers
  local title=$1 model=$2 in=$3 ours theirs
  shift 3
  ours=$("$build/benchmarks/bench_precision" --model "$model" --inputs "$in" --threads 2 --runs "$runs" "$@")
  theirs=$(python3 tools/hf_precision.py "$model" --inputs "$in" 2>/dev/null)
  echo "### $title"
  echo
  echo "$ours" | sed -n '3,$p' | sed '/^$/,$d'
  echo "$theirs" | grep '^| HF'
  echo
  echo "$ours" | sed -n '1p'
  echo "$theirs" | sed -n '1p'
  echo "$ours" | sed -n '/^where/,$p'
  echo
}

python3 tools/random_checkpoint.py "$scratch/flanbase" --shape base >/dev/null
[ -f "$inputs/flanbase.json" ] || python3 tools/hf_precision.py "$scratch/flanbase" --inputs "$inputs/flanbase.json" --write-inputs --random 8 128 32 --seed 0 >/dev/null

table "Demo model (examples/models/numbers), its 200 held-out inputs" examples/models/numbers "$inputs/numbers.json"
table "flan-t5-base-shaped random model (tools/random_checkpoint.py --shape base), 8 x 128 random ids" "$scratch/flanbase" "$inputs/flanbase.json"
table "tests/data/v1_1_gated, prompts.txt" tests/data/v1_1_gated "$inputs/fixtures.json"
for hot in hot_v1_1 hot_v1_0; do
  mkdir -p "$scratch/$hot"
  cp tests/data/$hot/{config.json,model.safetensors,spiece.model} "$scratch/$hot/"
  "$build/examples/t5cc" calibrate --model "$scratch/$hot" --input "$inputs/calibration.txt" --quiet > "$scratch/$hot.calibration.txt"
  table "tests/data/$hot, prompts.txt; f16 scales calibrated on calibration.txt" "$scratch/$hot" "$inputs/fixtures.json"
  echo '```'
  cat "$scratch/$hot.calibration.txt"
  echo '```'
  echo
done
