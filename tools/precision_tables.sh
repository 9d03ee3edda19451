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

# Larger samples, for the tails: .9999 and max of a few thousand values are set by one or two
# positions. The demo on 2000 random numbers (seed 17), teacher-forced on the float32 model's own
# greedy output; the fixtures on 256 sentences of make_fixtures.py's corpus (seed 2026).
python3 - "$scratch" <<'PY'
import json, random, sys
random.seed(17)
open(f"{sys.argv[1]}/numbers2000.txt", "w").write("\n".join(str(random.randint(0, 999999)) for _ in range(2000)) + "\n")
sys.path.insert(0, "tools")
import make_fixtures
open(f"{sys.argv[1]}/corpus256.txt", "w").write("\n".join(make_fixtures.corpus(256, 2026)) + "\n")
PY
"$build/examples/t5cc" generate --model examples/models/numbers --input "$scratch/numbers2000.txt" --output ids --quiet > "$scratch/numbers2000.ids"
python3 - "$scratch" <<'PY'
import json, sys
import sentencepiece as spm
d = sys.argv[1]
sp = spm.SentencePieceProcessor(model_file="examples/models/numbers/spiece.model")
enc = [sp.encode(n) + [1] for n in open(f"{d}/numbers2000.txt").read().split()]
dec = [[0] + [int(t) for t in line.split()] for line in open(f"{d}/numbers2000.ids")]
def pad(rows):
    w = max(map(len, rows))
    return [r + [0] * (w - len(r)) for r in rows], [[1] * len(r) + [0] * (w - len(r)) for r in rows]
(ei, em), (di, dm) = pad(enc), pad(dec)
json.dump({"input_ids": ei, "attention_mask": em, "decoder_input_ids": di, "decoder_attention_mask": dm}, open(f"{d}/numbers2000.json", "w"))
PY
python3 tools/hf_precision.py tests/data/v1_1_gated --inputs "$scratch/corpus256.json" --write-inputs --texts "$scratch/corpus256.txt" >/dev/null 2>&1
runs=cpu:bf16,cpu:f16
table "Demo model, 2000 random numbers (greedy float32 targets)" examples/models/numbers "$scratch/numbers2000.json"
table "tests/data/v1_1_gated, 256 corpus sentences" tests/data/v1_1_gated "$scratch/corpus256.json"
for hot in hot_v1_1 hot_v1_0; do
  table "tests/data/$hot, 256 corpus sentences; f16 scales calibrated on calibration.txt" "$scratch/$hot" "$scratch/corpus256.json"
done
