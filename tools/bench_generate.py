#!/usr/bin/env python3
"""Generation speed of t5cc against transformers.generate (PyTorch) on the same machine, in one run.

Builds a random checkpoint shaped like flan-t5-small (T5 v1.1: d_model 512, 8+8 layers, 6 heads of 64,
d_ff 1024 gated-gelu, vocab 32128; seeded, so every run uses the same weights), random input ids of
--input-length tokens, then for greedy search and beam search (4 beams) at batch 1 and 8 times
  t5cc:  benchmarks/bench_generate (a release build with -march=native, in build-bench/), and
  HF:    model.generate(input_ids, attention_mask, num_beams, do_sample=False) under torch.no_grad,
both with the same thread count, exactly --new-tokens new tokens per output (min_new_tokens =
max_new_tokens), one warm-up and the median of --repeats timed runs. Prints a markdown table:
tokens/s for both (outputs x new tokens / seconds), their ratio, and t5cc's K/V cache bytes.

  python3 tools/bench_generate.py [--threads 2] [--new-tokens 32] [--repeats 3]
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

# Both sides run with OpenMP's default wait policy (libgomp reads it when torch loads, hence here).
os.environ.pop("OMP_WAIT_POLICY", None)
import torch  # noqa: E402
import transformers  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHAPE = dict(vocab_size=32128, d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_decoder_layers=8, num_heads=6,
             feed_forward_proj="gated-gelu", tie_word_embeddings=False, decoder_start_token_id=0, pad_token_id=0,
             eos_token_id=1)
CONFIGS = [("greedy", 1, 1), ("greedy", 1, 8), ("beam 4", 4, 1), ("beam 4", 4, 8)]


def build_bench():
    build = os.path.join(ROOT, "build-bench")
    if not os.path.exists(os.path.join(build, "build.ninja")):
        subprocess.run([os.path.join(ROOT, "tools", "configure.sh"), build, "-Dbuildtype=release", "-Dcpp_args=-march=native",
                        "-Dtests=false", "-Dexamples=false", "-Dcuda=disabled"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", build, "benchmarks/bench_generate"], check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build, "benchmarks", "bench_generate")


def make_checkpoint(folder):
    torch.manual_seed(0)
    model = transformers.T5ForConditionalGeneration(transformers.T5Config(**SHAPE)).eval()
    model.save_pretrained(folder, safe_serialization=True)
    return model


def hf_time(model, ids, mask, beams, new_tokens, repeats):
    def run():
        start = time.perf_counter()
        with torch.no_grad():
            out = model.generate(ids, attention_mask=mask, num_beams=beams, do_sample=False, max_new_tokens=new_tokens,
                                 min_new_tokens=new_tokens)
        took = time.perf_counter() - start
        assert out.shape[1] == new_tokens + 1, out.shape
        return took
    run()
    return statistics.median(run() for _ in range(repeats))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--new-tokens", type=int, default=32)
    parser.add_argument("--input-length", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    transformers.logging.set_verbosity_error()
    bench = build_bench()
    with tempfile.TemporaryDirectory() as folder:
        model = make_checkpoint(folder)
        generator = torch.Generator().manual_seed(1)
        ids = torch.randint(2, SHAPE["vocab_size"] - 100, (8, args.input_length), generator=generator)
        ids[:, -1] = SHAPE["eos_token_id"]
        ids_file = os.path.join(folder, "ids.txt")
        with open(ids_file, "w") as f:
            f.writelines(" ".join(map(str, row.tolist())) + "\n" for row in ids)
        # OMP_WAIT_POLICY=passive (right for shared, oversubscribed machines) would halve t5cc's batch-1
        # speed on 2 threads: it is removed from the environment above, for both sides.
        env = dict(os.environ)
        print(f"t5cc vs transformers {transformers.__version__} / torch {torch.__version__}, {args.threads} threads, "
              f"flan-t5-small shape, input {args.input_length} tokens, {args.new_tokens} new tokens per output, "
              f"median of {args.repeats}\n")
        print("| search | batch | t5cc tokens/s | HF tokens/s | t5cc / HF | t5cc K/V cache |")
        print("|---|---|---|---|---|---|")
        for name, beams, batch in CONFIGS:
            ours = json.loads(subprocess.run(
                [bench, "--model", folder, "--ids", ids_file, "--batch", str(batch), "--num-beams", str(beams),
                 "--new-tokens", str(args.new_tokens), "--threads", str(args.threads), "--repeats", str(args.repeats)],
                check=True, capture_output=True, text=True, env=env).stdout)
            seconds = hf_time(model, ids[:batch], torch.ones_like(ids[:batch]), beams, args.new_tokens, args.repeats)
            theirs = batch * args.new_tokens / seconds
            print(f"| {name} | {batch} | {ours['tokens_per_second']:.1f} | {theirs:.1f} | "
                  f"{ours['tokens_per_second'] / theirs:.2f} | {ours['cache_bytes'] / 2**20:.1f} MiB |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
