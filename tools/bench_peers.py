#!/usr/bin/env python3
"""t5cc's CPU speed beside its peers, in one run on one machine: every system, dtype, workload and
thread count in its own process, on the same random checkpoints and the same inputs.

  python3 tools/bench_peers.py [--threads 1 2] [--repeats 5] [--work DIR] [--only SYSTEM ...] [--json FILE]

Systems (each skipped with a note when its package is missing):
  t5cc     benchmarks/bench_encode and bench_generate, built by this script in build-bench/
           (buildtype release, generic x86-64: the build README gives users; kernels chosen at run time)
  hf       transformers T5EncoderModel / T5ForConditionalGeneration.generate, torch eager, no_grad
  nai-t5   nai_t5.T5EncoderStack (the library t5cc re-creates; torch SDPA attention), encoder only
  ct2      CTranslate2: ctranslate2.Encoder on an encoder-only spec filled by its own T5 loader
           (T5Loader.set_stack), and ctranslate2.Translator for generation; compute_type float32 / int8
  ort      ONNX Runtime, CPU provider, graph optimisation ALL, on T5EncoderModel exported by
           torch.onnx; int8 = onnxruntime.quantization.quantize_dynamic(QInt8)

Checkpoints: tools/random_checkpoint.py, flan-t5-small and -base shapes (fixed seed), and for the
practical row a flan-t5-xl-shaped encoder (--xl). Workloads: encode B=8 S=128, B=1 S=512 (small),
B=8 S=128 (base); greedy B=1 and B=8 and beam 4 x B=8 (small), greedy B=8 (base); exactly 64 new
tokens per output (min = max length on every system). Inputs: random ids from a fixed seed.
Reported per cell: tokens/s (median of the repeats after one warm-up), peak RSS of the process,
and for encoders the normwise error of the states against HF float32 on the same inputs; greedy
outputs are compared with t5cc float32's token by token.

Pinned peers (the versions measured): torch 2.6.0, transformers 4.49.0, ctranslate2 4.8.5,
onnxruntime 1.32.0, onnx, nai-t5 1.0.10 (pip install --no-deps nai-t5==1.0.10 einops pydantic).
"""
import argparse
import json
import os
import resource
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NEW_TOKENS = 64
ENCODE = [("small", 8, 128), ("small", 1, 512), ("base", 8, 128)]
GENERATE = [("small", 1, 1), ("small", 8, 1), ("small", 8, 4), ("base", 8, 1)]  # (shape, batch, beams)
GEN_INPUT_LEN = 32


def peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def median_time(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2]


def read_ids(path, batch, length=None):
    rows = []
    with open(path) as f:
        for line in f:
            ids = [int(x) for x in line.split()]
            rows.append(ids[:length] if length else ids)
            if len(rows) == batch:
                break
    return rows


# ---------------------------------------------------------------------------------------------
# Workers: one system, one cell, in this process; print one JSON line.

def worker_hf(a):
    import numpy as np
    import torch
    from transformers import T5EncoderModel, T5ForConditionalGeneration
    torch.set_num_threads(a.threads)
    dtype = {"f32": torch.float32, "bf16": torch.bfloat16}[a.dtype]
    with torch.no_grad():
        if a.task == "encode":
            model = T5EncoderModel.from_pretrained(a.model, torch_dtype=dtype).eval()
            ids = torch.tensor(read_ids(a.ids, a.batch, a.length))
            mask = torch.ones_like(ids)
            out = {}
            def run():
                out["h"] = model(input_ids=ids, attention_mask=mask).last_hidden_state
            sec = median_time(run, a.repeats)
            if a.save:
                out["h"].float().numpy().astype(np.float32).tofile(a.save)
            return {"tokens_per_second": a.batch * a.length / sec}
        model = T5ForConditionalGeneration.from_pretrained(a.model, torch_dtype=dtype).eval()
        ids = torch.tensor(read_ids(a.ids, a.batch))
        out = {}
        def run():
            out["ids"] = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), num_beams=a.beams, do_sample=False,
                                        max_new_tokens=NEW_TOKENS, min_new_tokens=NEW_TOKENS, early_stopping=True)
        sec = median_time(run, a.repeats)
        return {"tokens_per_second": a.batch * NEW_TOKENS / sec, "ids": [r[1:].tolist() for r in out["ids"]]}


def worker_nai(a):
    import numpy as np
    import torch
    from safetensors.torch import load_file
    from transformers import T5Config as HFConfig
    from nai_t5.t5_encoder import T5EncoderStack
    from nai_t5.t5_hf import hf_to_based_t5_enc_state, to_based_config
    torch.set_num_threads(a.threads)
    config = to_based_config(HFConfig.from_pretrained(a.model), n_tokens=a.length)
    with torch.no_grad():
        model = T5EncoderStack(config).eval()
        model.load_state_dict(hf_to_based_t5_enc_state(load_file(os.path.join(a.model, "model.safetensors")), config))
        ids = torch.tensor(read_ids(a.ids, a.batch, a.length))
        mask = torch.ones_like(ids, dtype=torch.bool)
        out = {}
        def run():
            out["h"] = model(ids, input_mask=mask)
        sec = median_time(run, a.repeats)
        if a.save:
            out["h"].float().numpy().astype(np.float32).tofile(a.save)
    return {"tokens_per_second": a.batch * a.length / sec}


def ct2_dir(model, kind):
    """The CTranslate2 conversion of `model` (float32; int8 is quantised at load), made once."""
    out = model.rstrip("/") + "-ct2-" + kind
    if os.path.exists(os.path.join(out, "model.bin")):
        return out
    import ctranslate2.specs.transformer_spec as ts
    from ctranslate2.converters.transformers import T5Loader
    from ctranslate2.specs import common_spec
    from transformers import T5EncoderModel, T5ForConditionalGeneration
    hf = (T5EncoderModel if kind == "encoder" else T5ForConditionalGeneration).from_pretrained(model)
    cfg = hf.config
    loader = T5Loader()
    tokens = [str(i) for i in range(cfg.vocab_size)]
    if kind == "encoder":
        activation = common_spec.Activation.GELUTanh if cfg.is_gated_act else common_spec.Activation.RELU
        spec = ts.TransformerEncoderModelSpec(ts.TransformerEncoderSpec(cfg.num_layers, cfg.num_heads, pre_norm=True, activation=activation,
                                                                        ffn_glu=cfg.is_gated_act, relative_attention_bias=True, rms_norm=True))
        loader.set_stack(spec.encoder, hf.encoder)
        spec.register_vocabulary(tokens)
    else:
        spec = loader.get_model_spec(hf)
        loader.set_vocabulary(spec, tokens)
        spec.config.bos_token = str(cfg.pad_token_id)
        spec.config.eos_token = str(cfg.eos_token_id)
        spec.config.unk_token = "2"
        spec.config.decoder_start_token = str(cfg.decoder_start_token_id)
    spec.validate()
    spec.optimize(quantization=None)
    os.makedirs(out, exist_ok=True)
    spec.save(out)
    return out


def worker_ct2(a):
    import ctranslate2
    import numpy as np
    compute = {"f32": "float32", "int8": "int8_float32"}[a.dtype]
    if a.task == "encode":
        enc = ctranslate2.Encoder(ct2_dir(a.model, "encoder"), device="cpu", compute_type=compute, intra_threads=a.threads)
        ids = read_ids(a.ids, a.batch, a.length)
        out = {}
        def run():
            out["h"] = enc.forward_batch(ids).last_hidden_state
        sec = median_time(run, a.repeats)
        if a.save:
            np.array(out["h"]).astype(np.float32).tofile(a.save)
        return {"tokens_per_second": a.batch * a.length / sec}
    tr = ctranslate2.Translator(ct2_dir(a.model, "translator"), device="cpu", compute_type=compute, intra_threads=a.threads)
    source = [[str(i) for i in row] for row in read_ids(a.ids, a.batch)]
    out = {}
    def run():
        out["r"] = tr.translate_batch(source, beam_size=a.beams, max_decoding_length=NEW_TOKENS, min_decoding_length=NEW_TOKENS,
                                      return_end_token=True, max_input_length=0)
    sec = median_time(run, a.repeats)
    return {"tokens_per_second": a.batch * NEW_TOKENS / sec, "ids": [[int(t) for t in r.hypotheses[0]] for r in out["r"]]}


def ort_model(model, dtype):
    base = model.rstrip("/") + "-encoder.onnx"
    if not os.path.exists(base):
        import torch
        from transformers import T5EncoderModel
        enc = T5EncoderModel.from_pretrained(model).eval()
        ids = torch.ones(1, 8, dtype=torch.int64)
        torch.onnx.export(enc, (ids, torch.ones_like(ids)), base, input_names=["input_ids", "attention_mask"], output_names=["h"],
                          dynamic_axes={"input_ids": {0: "b", 1: "s"}, "attention_mask": {0: "b", 1: "s"}, "h": {0: "b", 1: "s"}}, opset_version=17)
    if dtype == "f32":
        return base
    q = model.rstrip("/") + "-encoder-int8.onnx"
    if not os.path.exists(q):
        from onnxruntime.quantization import QuantType, quantize_dynamic
        quantize_dynamic(base, q, weight_type=QuantType.QInt8)
    return q


def worker_ort(a):
    import numpy as np
    import onnxruntime as ort
    path = ort_model(a.model, a.dtype)
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.intra_op_num_threads = a.threads
    opts.inter_op_num_threads = 1
    sess = ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])
    ids = np.array(read_ids(a.ids, a.batch, a.length), dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
    out = {}
    def run():
        out["h"] = sess.run(None, feed)[0]
    sec = median_time(run, a.repeats)
    if a.save:
        out["h"].astype(np.float32).tofile(a.save)
    return {"tokens_per_second": a.batch * a.length / sec}


WORKERS = {"hf": worker_hf, "nai-t5": worker_nai, "ct2": worker_ct2, "ort": worker_ort}


def run_worker(a):
    result = WORKERS[a.worker](a)
    result["peak_rss_mib"] = peak_rss_mib()
    print(json.dumps(result))


# ---------------------------------------------------------------------------------------------
# The driver.

def build_t5cc():
    build = os.path.join(ROOT, "build-bench")
    subprocess.run([os.path.join(ROOT, "tools", "configure.sh"), build, "-Dbuildtype=release", "-Dtests=false", "-Dexamples=false",
                    "-Dcuda=disabled"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["ninja", "-C", build, "benchmarks/bench_encode", "benchmarks/bench_generate"], check=True, stdout=subprocess.DEVNULL)
    return build


def t5cc_cell(build, task, model, ids, batch, length, beams, dtype, threads, repeats, save):
    if task == "encode":
        cmd = [os.path.join(build, "benchmarks", "bench_encode"), "--model", model, "--ids", ids, "--batch", str(batch), "--length", str(length)]
        if save:
            cmd += ["--save", save]
    else:
        cmd = [os.path.join(build, "benchmarks", "bench_generate"), "--model", model, "--ids", ids, "--batch", str(batch), "--num-beams",
               str(beams), "--new-tokens", str(NEW_TOKENS), "--print-ids"]
    cmd += ["--dtype", dtype, "--threads", str(threads), "--repeats", str(repeats)]
    r = subprocess.run(cmd, capture_output=True, text=True)
    if r.returncode != 0:
        return {"error": r.stderr.strip()}
    return json.loads(r.stdout)


def peer_cell(system, task, model, ids, batch, length, beams, dtype, threads, repeats, save):
    cmd = [sys.executable, os.path.abspath(__file__), "--worker", system, "--task", task, "--model", model, "--ids", ids, "--batch", str(batch),
           "--length", str(length), "--beams", str(beams), "--dtype", dtype, "--threads", str(threads), "--repeats", str(repeats)]
    if save:
        cmd += ["--save", save]
    r = subprocess.run(cmd, capture_output=True, text=True, env=dict(os.environ, OMP_NUM_THREADS=str(threads)))
    if r.returncode != 0:
        return {"error": (r.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(r.stdout.strip().splitlines()[-1])


def rel_error(path, ref):
    import numpy as np
    if not (path and os.path.exists(path) and os.path.exists(ref)):
        return None
    a, b = np.fromfile(path, dtype=np.float32), np.fromfile(ref, dtype=np.float32)
    if a.shape != b.shape:
        return None
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def agreement(ids, ref):
    if not ids or not ref:
        return None
    same = sum(1 for x, y in zip(ids, ref) for p, q in zip(x, y) if p == q)
    total = sum(len(y) for y in ref)
    return same / total if total else None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--work", default="/tmp/t5cc-bench-peers", help="checkpoints, conversions and inputs (kept between runs)")
    parser.add_argument("--only", nargs="+", help="systems to run (t5cc hf nai-t5 ct2 ort)")
    parser.add_argument("--tasks", nargs="+", default=["encode", "generate"])
    parser.add_argument("--xl", action="store_true", help="also the practical row: a flan-t5-xl-shaped encoder, one 512-token prompt")
    parser.add_argument("--json", help="write every cell here too")
    # worker mode (internal)
    parser.add_argument("--worker", choices=WORKERS)
    parser.add_argument("--task")
    parser.add_argument("--model")
    parser.add_argument("--ids")
    parser.add_argument("--batch", type=int)
    parser.add_argument("--length", type=int)
    parser.add_argument("--beams", type=int, default=1)
    parser.add_argument("--dtype")
    parser.add_argument("--save")
    a = parser.parse_args()
    if a.worker:
        a.threads = a.threads[0]
        return run_worker(a)

    import numpy as np
    os.makedirs(a.work, exist_ok=True)
    systems = a.only or ["t5cc", "hf", "nai-t5", "ct2", "ort"]
    shapes = ["small", "base"] + (["xl"] if a.xl else [])
    models = {}
    for shape in shapes:
        d = os.path.join(a.work, shape)
        if not os.path.exists(os.path.join(d, "model.safetensors")):
            extra = ["--encoder-only"] if shape == "xl" else []
            subprocess.run([sys.executable, os.path.join(ROOT, "tools", "random_checkpoint.py"), "--shape", shape, d] + extra, check=True)
        models[shape] = d
    rng = np.random.default_rng(1234)
    ids_files = {}
    for length in sorted({s for _, _, s in ENCODE} | {GEN_INPUT_LEN}):
        path = os.path.join(a.work, f"ids-{length}.txt")
        with open(path, "w") as f:
            for row in rng.integers(2, 32000, size=(8, length)):
                f.write(" ".join(map(str, row)) + "\n")
        ids_files[length] = path
    build = build_t5cc() if "t5cc" in systems else None

    dtypes = {"t5cc": ["f32", "bf16", "int8"], "hf": ["f32", "bf16"], "nai-t5": ["f32"], "ct2": ["f32", "int8"], "ort": ["f32", "int8"]}
    cells = []
    encode = list(ENCODE) + ([("xl", 1, 512)] if a.xl else [])

    def cell(system, task, shape, batch, length, beams, dtype, threads):
        save = None
        if task == "encode" and threads == a.threads[-1]:
            save = os.path.join(a.work, f"states-{system}-{dtype}-{shape}-{batch}x{length}.f32")
        ids = ids_files[length] if task == "encode" else ids_files[GEN_INPUT_LEN]
        start = time.time()
        if system == "t5cc":
            r = t5cc_cell(build, task, models[shape], ids, batch, length, beams, dtype, threads, a.repeats, save)
        else:
            r = peer_cell(system, task, models[shape], ids, batch, length, beams, dtype, threads, a.repeats, save)
        r.update(system=system, task=task, shape=shape, batch=batch, length=length, beams=beams, dtype=dtype, threads=threads, save=save)
        print(f"  {system:7} {task:8} {shape:5} B={batch} S={length} beams={beams} {dtype:4} t={threads}: "
              f"{r.get('tokens_per_second', 0):9.1f} tok/s  {r.get('peak_rss_mib', 0):7.0f} MiB  {r.get('error', '')}  ({time.time() - start:.0f} s)",
              file=sys.stderr, flush=True)
        cells.append(r)

    for threads in a.threads:
        for system in systems:
            for dtype in dtypes[system]:
                if "encode" in a.tasks:
                    for shape, batch, length in encode:
                        if shape == "xl" and system not in ("t5cc", "ct2", "hf"):
                            continue
                        if shape == "xl" and threads != a.threads[-1]:
                            continue
                        cell(system, "encode", shape, batch, length, 1, dtype, threads)
                if "generate" in a.tasks and system in ("t5cc", "hf", "ct2"):
                    for shape, batch, beams in GENERATE:
                        cell(system, "generate", shape, batch, GEN_INPUT_LEN, beams, dtype, threads)

    # Errors against HF float32 and greedy agreement with t5cc float32.
    def find(system, task, shape, batch, length, beams, dtype, threads):
        for c in cells:
            if (c["system"], c["task"], c["shape"], c["batch"], c["length"], c["beams"], c["dtype"], c["threads"]) == (
                    system, task, shape, batch, length, beams, dtype, threads):
                return c
        return None

    for c in cells:
        if c["task"] == "encode" and c.get("save"):
            ref = find("hf", "encode", c["shape"], c["batch"], c["length"], 1, "f32", c["threads"])
            c["error_vs_hf_f32"] = rel_error(c["save"], ref["save"]) if ref else None
        if c["task"] == "generate" and c["beams"] == 1:
            ref = find("t5cc", "generate", c["shape"], c["batch"], c["length"], 1, "f32", c["threads"])
            c["agreement_with_t5cc_f32"] = agreement(c.get("ids"), ref.get("ids") if ref else None)

    print(f"\nmachine: {os.uname().nodename}, {os.cpu_count()} cpus; t5cc kernels: "
          f"{next((c.get('kernels') for c in cells if c.get('kernels')), '-')}")
    for threads in a.threads:
        print(f"\n### {threads} thread{'s' if threads > 1 else ''}\n")
        cols = [(s, d) for s in systems for d in dtypes[s]]
        print("| workload | " + " | ".join(f"{s} {d}" for s, d in cols) + " |")
        print("|---|" + "---|" * len(cols))
        rows = [("encode", s, b, l, 1) for s, b, l in encode] + [("generate", s, b, GEN_INPUT_LEN, k) for s, b, k in GENERATE]
        for task, shape, batch, length, beams in rows:
            if task not in a.tasks:
                continue
            name = (f"{shape} encode B={batch} S={length}" if task == "encode"
                    else f"{shape} {'greedy' if beams == 1 else f'beam {beams} x'} B={batch}, {NEW_TOKENS} new")
            vals = []
            for s, d in cols:
                c = find(s, task, shape, batch, length, beams, d, threads)
                vals.append("-" if not c or "tokens_per_second" not in c else f"{c['tokens_per_second']:.0f}")
            print(f"| {name} | " + " | ".join(vals) + " |")
        print("\nratios (t5cc over the best peer of the same class) and peak RSS (MiB):\n")
        for task, shape, batch, length, beams in rows:
            if task not in a.tasks:
                continue
            def tps(s, d):
                c = find(s, task, shape, batch, length, beams, d, threads)
                return c.get("tokens_per_second") if c else None
            f32 = tps("t5cc", "f32")
            peers32 = [v for v in (tps("ct2", "f32"), tps("ort", "f32")) if v]
            peers8 = [v for v in (tps("ct2", "int8"), tps("ort", "int8")) if v]
            hf = tps("hf", "f32")
            parts = []
            if f32 and peers32:
                parts.append(f"f32 / best f32 peer {f32 / max(peers32):.2f}")
            if f32 and hf:
                parts.append(f"f32 / HF {f32 / hf:.2f}")
            if tps("t5cc", "bf16") and f32:
                parts.append(f"bf16 / t5cc f32 {tps('t5cc', 'bf16') / f32:.2f}")
            if tps("t5cc", "int8") and peers8:
                parts.append(f"int8 / best int8 peer {tps('t5cc', 'int8') / max(peers8):.2f}")
            rss = [f"{c['system']} {c['dtype']} {c['peak_rss_mib']:.0f}" for c in cells
                   if (c["task"], c["shape"], c["batch"], c["length"], c["beams"], c["threads"]) == (task, shape, batch, length, beams, threads)
                   and "peak_rss_mib" in c]
            print(f"- {task} {shape} B={batch} S={length} beams={beams}: " + ", ".join(parts) + "; RSS " + ", ".join(rss))
    errs = [c for c in cells if c.get("error_vs_hf_f32") is not None]
    if errs:
        print("\nencoder states, normwise error against HF float32 (same inputs):\n")
        for c in errs:
            print(f"- {c['system']} {c['dtype']} {c['shape']} B={c['batch']} S={c['length']}: {c['error_vs_hf_f32']:.2e}")
    agree = [c for c in cells if c.get("agreement_with_t5cc_f32") is not None]
    if agree:
        print("\ngreedy tokens equal to t5cc float32's (fraction of positions):\n")
        for c in agree:
            print(f"- {c['system']} {c['dtype']} {c['shape']} B={c['batch']} t={c['threads']}: {c['agreement_with_t5cc_f32']:.3f}")
    failed = [c for c in cells if "error" in c]
    for c in failed:
        print(f"\nfailed: {c['system']} {c['task']} {c['shape']} {c['dtype']} t={c['threads']}: {c['error']}")
    if a.json:
        with open(a.json, "w") as f:
            json.dump(cells, f, indent=1)


if __name__ == "__main__":
    main()
