#!/usr/bin/env python3
"""Embeddings/s of examples/ray_embed.py on 1 vs 2 Ray nodes, and of t5cc.encode vs HF's
T5EncoderModel in one process. Prints markdown tables.

    bench_ray.py --model examples/models/numbers [--captions 2000] [--hf-python /usr/bin/python3]

Ray part: a loopback cluster of 1, then 2 nodes of one CPU each (`ray start`, as
tests/python/test_ray_multinode.py does), one actor per node (--cpus-per-actor 1, --pool none),
the same captions (numbers written as digits). Its rates are ray_embed.py's own: "all" counts from
the start of the job (actor start and model load included), "steady" from its first results.

Encoder part: the same batches of texts through t5cc.load(model, threads=1).encode and through
HF's tokenizer + T5EncoderModel (float32, torch.set_num_threads(1)), the tokenizer included on
both sides; best of --repeats passes. It needs torch and transformers: when this python lacks
them, --hf-python names one that has them (and can import t5cc, through PYTHONPATH), and that
part runs there, in one process; otherwise the HF row says skipped.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def captions(n, seed=1234):
    sys.path.insert(0, os.path.join(REPO, "tests", "python"))
    from test_ray_multinode import captions as make
    return make(n, seed)


def ray_rows(args, texts):
    """One table row per cluster size."""
    sys.path.insert(0, os.path.join(REPO, "tests", "python"))
    from test_ray_multinode import LoopbackCluster

    os.makedirs(args.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="bench_ray_", dir=args.workdir)
    path = os.path.join(work, "captions.txt")
    with open(path, "w") as f:
        f.write("\n".join(texts) + "\n")
    rows = []
    for nodes in (1, 2):
        cluster = LoopbackCluster(args.workdir, nodes=nodes)
        try:
            cluster.start()
            cmd = [sys.executable, os.path.join(REPO, "examples", "ray_embed.py"), "--model", args.model,
                   "--out", os.path.join(work, f"out{nodes}"), "--address", cluster.address,
                   "--actors", str(nodes), "--batch-size", str(args.batch_size), path]
            r = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
        finally:
            left = cluster.stop()
        if r.returncode != 0 or left:
            sys.exit(f"{' '.join(cmd)}: exit {r.returncode}, Ray processes left {left}\n{r.stdout}{r.stderr}")
        first = float(re.search(r"first results after ([\d.]+) s", r.stdout).group(1))
        n, seconds, steady = re.search(r"total: (\d+) captions in ([\d.]+) s.*?([\d.]+/s|n/a) from the first", r.stdout).groups()
        steady = float(steady[:-2]) if steady != "n/a" else float("nan")
        n, seconds = int(n), float(seconds)
        per_node = re.findall(r"^node \w+: (\d+) captions", r.stdout, re.M)
        rows.append((nodes, n, seconds, n / seconds, first, steady, " / ".join(per_node)))
        print(f"  {nodes} node(s): {n} captions in {seconds:.2f} s", file=sys.stderr, flush=True)
    return rows


def encoder_bench(model_dir, texts, batch_size, repeats):
    """t5cc and (when importable) HF on the same batches, in this process: a dict of results."""
    import numpy as np
    import t5cc

    batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]

    def best(fn):
        times = []
        for _ in range(repeats):
            t = time.perf_counter()
            for b in batches:
                fn(b)
            times.append(time.perf_counter() - t)
        return len(texts) / min(times)

    model = t5cc.load(model_dir, threads=1)
    out = {"t5cc": best(lambda b: model.encode(b)), "python": sys.executable}
    try:
        import torch
        from transformers import AutoTokenizer, T5EncoderModel
    except ImportError as e:
        out["hf_skipped"] = f"not importable in {sys.executable}: {e}"
        return out
    torch.set_num_threads(1)
    hf = T5EncoderModel.from_pretrained(model_dir, torch_dtype=torch.float32).eval()
    tok = AutoTokenizer.from_pretrained(model_dir)

    def hf_encode(b):
        with torch.inference_mode():
            x = tok(b, padding=True, return_tensors="pt")
            return hf(input_ids=x.input_ids, attention_mask=x.attention_mask).last_hidden_state

    out["hf"] = best(hf_encode)
    # Both sides on t5cc's token ids, to show they compute the same states (max |difference|).
    states, ids, mask = model.encode_with_tokens(batches[0])
    x = torch.from_numpy(ids.astype(np.int64))
    with torch.inference_mode():
        ref = hf(input_ids=x, attention_mask=torch.from_numpy(mask.astype(np.int64))).last_hidden_state.numpy()
    out["max_diff"] = float(np.abs(states - ref)[mask.astype(bool)].max())
    out["versions"] = f"torch {torch.__version__}, transformers {__import__('transformers').__version__}"
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], epilog=__doc__.split("\n\n", 2)[2],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--model", default=os.path.join(REPO, "examples", "models", "numbers"), help="t5cc/HF model folder (default: the demo model)")
    p.add_argument("--captions", type=int, default=2000, help="number of captions (default 2000)")
    p.add_argument("--batch-size", type=int, default=64, help="captions per encode call (default 64)")
    p.add_argument("--repeats", type=int, default=3, help="encoder part: passes over the captions, best kept (default 3)")
    p.add_argument("--workdir", default=tempfile.gettempdir(), help="scratch folder (default: the system temp dir)")
    p.add_argument("--hf-python", help="a python with torch and transformers for the encoder part")
    p.add_argument("--skip-ray", action="store_true", help="only the encoder part")
    p.add_argument("--skip-encoder", action="store_true", help="only the Ray part")
    p.add_argument("--encoder-json", action="store_true", help=argparse.SUPPRESS)  # the --hf-python child
    args = p.parse_args()
    texts = captions(args.captions)

    if args.encoder_json:
        print(json.dumps(encoder_bench(args.model, texts, args.batch_size, args.repeats)))
        return

    if not args.skip_ray:
        rows = ray_rows(args, texts)
        print(f"\nRay job (examples/ray_embed.py), {args.captions} captions, batch {args.batch_size}, "
              f"pool none, 1 CPU per node and actor, loopback nodes on one {os.cpu_count()}-core machine\n")
        print("| nodes | captions | wall s | embeddings/s (all) | first results s | embeddings/s (steady) | per node |")
        print("|---:|---:|---:|---:|---:|---:|---|")
        for nodes, n, s, rate, first, steady, per in rows:
            print(f"| {nodes} | {n} | {s:.2f} | {rate:.1f} | {first:.2f} | {steady:.1f} | {per} |")
        print(f"\n2 nodes / 1 node: {rows[1][3] / rows[0][3]:.2f}x (all), {rows[1][5] / rows[0][5]:.2f}x (steady)")

    if args.skip_encoder:
        return
    if args.hf_python:
        cmd = [args.hf_python, os.path.abspath(__file__), "--encoder-json", "--model", args.model,
               "--captions", str(args.captions), "--batch-size", str(args.batch_size), "--repeats", str(args.repeats)]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(f"{' '.join(cmd)}: exit {r.returncode}\n{r.stderr}")
        enc = json.loads(r.stdout.strip().splitlines()[-1])
    else:
        enc = encoder_bench(args.model, texts, args.batch_size, args.repeats)
    print(f"\nEncoder, one process ({enc['python']}), 1 thread, {args.captions} captions in batches of "
          f"{args.batch_size}, tokenizer included, best of {args.repeats}\n")
    print("| encoder | embeddings/s | vs HF |")
    print("|---|---:|---:|")
    if "hf" in enc:
        print(f"| t5cc.encode (float32) | {enc['t5cc']:.1f} | {enc['t5cc'] / enc['hf']:.2f}x |")
        print(f"| HF T5EncoderModel (float32) | {enc['hf']:.1f} | 1.00x |")
        print(f"\n{enc['versions']}; max |t5cc - HF| on the same ids: {enc['max_diff']:.2e}")
    else:
        print(f"| t5cc.encode (float32) | {enc['t5cc']:.1f} | - |")
        print(f"| HF T5EncoderModel | skipped ({enc['hf_skipped']}; see --hf-python) | - |")


if __name__ == "__main__":
    main()
