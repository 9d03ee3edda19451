#!/usr/bin/env python3
"""How far transformers lands from its own float32 outputs when a T5 checkpoint is loaded in bfloat16 or
float16 the way users load it (from_pretrained(dir, torch_dtype=...): under float16 T5 keeps wo in float32),
on CPU, for a batch of inputs read from (or first written to) an INPUTS.json file.

    python3 tools/hf_precision.py MODEL_DIR --inputs INPUTS.json [--json OUT.json]
    python3 tools/hf_precision.py MODEL_DIR --inputs INPUTS.json --write-inputs --texts FILE [--json OUT.json]
    python3 tools/hf_precision.py MODEL_DIR --inputs INPUTS.json --write-inputs --random N L T [--seed S]

INPUTS.json (shared with the C++ benchmark; rectangular lists, padding id 0):
    {"input_ids": [[int]], "attention_mask": [[0/1]],
     "decoder_input_ids": [[int]], "decoder_attention_mask": [[0/1]]}
decoder_input_ids start with 0 (decoder_start_token_id); the two decoder keys are absent for an encoder-only
checkpoint (or to measure the encoder alone).

--write-inputs writes INPUTS.json first (deterministic; keys sorted, one row per line):
  --texts FILE   one prompt per line (empty lines skipped), tokenized with MODEL_DIR/spiece.model
                 (sentencepiece encode, no bos) followed by eos 1, right-padded with 0 to the longest.
                 Decoder row: 0 then the first 15 ids of the same prompt's ids (eos included when it fits), so
                 T = min(16, 1 + its encoder length), right-padded with 0. A line holding a tab (as
                 examples/models/numbers/heldout.tsv: input<TAB>expected output) is split there: the encoder
                 reads the text before the tab, the decoder row is 0 then the first 15 ids of the text after it
                 (no eos appended).
  --random N L T ids drawn with numpy.random.default_rng(--seed, default 0): encoder ids [N, L] then decoder ids
                 [N, T], uniform in [2, vocab_size); decoder column 0 set to 0. Row i is right-padded (id 0,
                 mask 0) over its last i * L // (2N) encoder positions and i * T // (2N) decoder positions.

Prints a markdown table: rows "HF bf16" and "HF fp16"; for encoder_last_hidden_state (positions with
attention_mask 1) and logits (positions with decoder_attention_mask 1), the .5, .99, .9999 quantiles (numpy,
linear interpolation, float64) and the max of |reduced precision - float32|, or "non-finite (k/n)" when k of
the n compared values are inf/NaN. --json OUT.json writes the same numbers. Needs torch, transformers,
numpy, sentencepiece (tools/requirements-fixtures.txt).
"""
import argparse
import json
import os
import sys

import numpy as np
import torch
import transformers
from transformers import AutoConfig, AutoModelForSeq2SeqLM, MT5EncoderModel, T5EncoderModel, UMT5EncoderModel

EOS, PAD, START = 1, 0, 0
DECODER_PREFIX = 16  # --texts: decoder rows hold at most this many ids, the start 0 included
QUANTILES = (0.5, 0.99, 0.9999)
DTYPES = (("HF bf16", torch.bfloat16), ("HF fp16", torch.float16))
ENCODERS = {"t5": T5EncoderModel, "mt5": MT5EncoderModel, "umt5": UMT5EncoderModel}


def pad(rows):
    width = max(map(len, rows))
    return [r + [PAD] * (width - len(r)) for r in rows], [[1] * len(r) + [0] * (width - len(r)) for r in rows]


def inputs_from_texts(model_dir, path, with_decoder):
    import sentencepiece as spm
    sp = spm.SentencePieceProcessor(model_file=os.path.join(model_dir, "spiece.model"))
    enc, dec = [], []
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if not line.strip():
                continue
            prompt, _, target = line.partition("\t")
            ids = sp.encode(prompt) + [EOS]
            enc.append(ids)
            dec.append([START] + (sp.encode(target) if "\t" in line else ids)[:DECODER_PREFIX - 1])
    if not enc:
        sys.exit(f"{path}: no prompts")
    out = dict(zip(("input_ids", "attention_mask"), pad(enc)))
    if with_decoder:
        out.update(zip(("decoder_input_ids", "decoder_attention_mask"), pad(dec)))
    return out


def inputs_random(vocab, n, length, t, seed, with_decoder):
    rng = np.random.default_rng(seed)
    enc = rng.integers(2, vocab, size=(n, length))
    dec = rng.integers(2, vocab, size=(n, t))
    dec[:, 0] = START
    enc_mask, dec_mask = np.ones_like(enc), np.ones_like(dec)
    for i in range(n):
        for ids, mask, width in ((enc, enc_mask, length), (dec, dec_mask, t)):
            padded = i * width // (2 * n)
            if padded:
                ids[i, width - padded:] = PAD
                mask[i, width - padded:] = 0
    out = {"input_ids": enc.tolist(), "attention_mask": enc_mask.tolist()}
    if with_decoder:
        out.update(decoder_input_ids=dec.tolist(), decoder_attention_mask=dec_mask.tolist())
    return out


def write_inputs(inputs, path):
    lines = []
    for key in sorted(inputs):
        rows = ",\n".join("    " + json.dumps(r) for r in inputs[key])
        lines.append(f"  {json.dumps(key)}: [\n{rows}\n  ]")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def read_inputs(path):
    with open(path) as f:
        raw = json.load(f)
    for key in ("input_ids", "attention_mask"):
        if key not in raw:
            sys.exit(f"{path}: no {key}")
    if ("decoder_input_ids" in raw) != ("decoder_attention_mask" in raw):
        sys.exit(f"{path}: decoder_input_ids and decoder_attention_mask go together")
    out = {}
    for key, rows in raw.items():
        if len({len(r) for r in rows}) != 1:
            sys.exit(f"{path}: {key} is not rectangular")
        out[key] = torch.tensor(rows, dtype=torch.int64)
    if out["input_ids"].shape != out["attention_mask"].shape:
        sys.exit(f"{path}: input_ids and attention_mask differ in shape")
    if "decoder_input_ids" in out:
        if out["decoder_input_ids"].shape != out["decoder_attention_mask"].shape:
            sys.exit(f"{path}: decoder_input_ids and decoder_attention_mask differ in shape")
        if out["decoder_input_ids"].shape[0] != out["input_ids"].shape[0]:
            sys.exit(f"{path}: the encoder and decoder batches differ")
    return out


def has_decoder_weights(model_dir):
    """Whether the checkpoint's safetensors (or its index) name any decoder.* tensor; None when it cannot tell."""
    index = os.path.join(model_dir, "model.safetensors.index.json")
    if os.path.isfile(index):
        with open(index) as f:
            names = json.load(f)["weight_map"]
    elif os.path.isfile(os.path.join(model_dir, "model.safetensors")):
        from safetensors import safe_open
        with safe_open(os.path.join(model_dir, "model.safetensors"), framework="pt") as f:
            names = list(f.keys())
    else:
        return None
    return any(n.startswith("decoder.") for n in names)


def load(model_dir, dtype, encoder_only):
    if encoder_only:
        config = AutoConfig.from_pretrained(model_dir)
        cls = ENCODERS.get(config.model_type)
        if cls is None:
            sys.exit(f"{model_dir}: no encoder class for model_type {config.model_type}")
        return cls.from_pretrained(model_dir, torch_dtype=dtype).eval()
    return AutoModelForSeq2SeqLM.from_pretrained(model_dir, torch_dtype=dtype).eval()


@torch.no_grad()
def run(model_dir, dtype, inputs, encoder_only):
    """{"encoder_last_hidden_state": [n_valid, d_model], "logits": [n_valid, vocab]} (float32 tensors, compared positions)."""
    model = load(model_dir, dtype, encoder_only)
    mask = inputs["attention_mask"].bool()
    if encoder_only:
        out = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])
        result = {"encoder_last_hidden_state": out.last_hidden_state.float()[mask]}
    else:
        out = model(**inputs)
        result = {"encoder_last_hidden_state": out.encoder_last_hidden_state.float()[mask],
                  "logits": out.logits.float()[inputs["decoder_attention_mask"].bool()]}
    del model
    return result


def compare(ours, ref):
    values = ours.numel()
    bad = int((~torch.isfinite(ours)).sum())
    if bad:
        return {"nonfinite": bad, "values": values}
    diff = (ours.double() - ref.double()).abs().flatten().numpy()
    q = np.quantile(diff, QUANTILES)
    return {"nonfinite": 0, "values": values, **{f"q{x:g}": float(v) for x, v in zip(QUANTILES, q)}, "max": float(diff.max())}


def cells(stats):
    if stats is None:
        return ["-"] * (len(QUANTILES) + 1)
    if stats["nonfinite"]:
        return [f"non-finite ({stats['nonfinite']}/{stats['values']})"] + [""] * len(QUANTILES)
    return [f"{stats[f'q{x:g}']:.3g}" for x in QUANTILES] + [f"{stats['max']:.3g}"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("model_dir")
    parser.add_argument("--inputs", required=True, help="INPUTS.json to read (and, with --write-inputs, to write first)")
    parser.add_argument("--write-inputs", action="store_true", help="write INPUTS.json first, from --texts or --random")
    parser.add_argument("--texts", help="with --write-inputs: one prompt per line (or input<TAB>target)")
    parser.add_argument("--random", type=int, nargs=3, metavar=("N", "L", "T"),
                        help="with --write-inputs: N rows of L encoder and T decoder random ids")
    parser.add_argument("--seed", type=int, default=0, help="numpy seed of --random (default 0)")
    parser.add_argument("--json", help="also write the numbers to this file")
    args = parser.parse_args()
    torch.set_num_threads(2)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()

    decoder_weights = has_decoder_weights(args.model_dir)
    if args.write_inputs:
        if (args.texts is None) == (args.random is None):
            sys.exit("--write-inputs needs one of --texts FILE and --random N L T")
        with_decoder = decoder_weights is not False
        if args.texts:
            inputs = inputs_from_texts(args.model_dir, args.texts, with_decoder)
        else:
            vocab = AutoConfig.from_pretrained(args.model_dir).vocab_size
            inputs = inputs_random(vocab, *args.random, args.seed, with_decoder)
        write_inputs(inputs, args.inputs)
    elif args.texts or args.random:
        sys.exit("--texts and --random need --write-inputs")
    inputs = read_inputs(args.inputs)
    encoder_only = "decoder_input_ids" not in inputs
    if not encoder_only and decoder_weights is False:
        sys.exit(f"{args.model_dir} holds no decoder weights, but {args.inputs} has decoder_input_ids")

    ref = run(args.model_dir, torch.float32, inputs, encoder_only)
    for key, t in ref.items():
        if not torch.isfinite(t).all():
            sys.exit(f"the float32 {key} hold inf/NaN: no reference to compare with")
    rows = {}
    for label, dtype in DTYPES:
        ours = run(args.model_dir, dtype, inputs, encoder_only)
        rows[label] = {key: compare(ours[key], ref[key]) for key in ref}

    b, s = inputs["input_ids"].shape
    shape = f"{b} x {s}" + ("" if encoder_only else f", decoder {inputs['decoder_input_ids'].shape[1]}")
    versions = {"torch": torch.__version__, "transformers": transformers.__version__}
    print(f"torch {versions['torch']}, transformers {versions['transformers']}; {args.model_dir}; inputs {args.inputs} "
          f"({shape}); |difference| vs float32 (CPU), valid positions")
    print()
    quant = [f"q{x:g}" for x in QUANTILES] + ["max"]
    header = ["model"] + [f"enc {q}" for q in quant] + ([] if encoder_only else [f"logits {q}" for q in quant])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for label, stats in rows.items():
        row = [label] + cells(stats["encoder_last_hidden_state"])
        if not encoder_only:
            row += cells(stats["logits"])
        print("| " + " | ".join(row) + " |")
    scale = {key: float(t.abs().max()) for key, t in ref.items()}
    print()
    print("float32 reference: " + ", ".join(f"max |{key}| {v:.4g}" for key, v in scale.items()))
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"model_dir": args.model_dir, "inputs": args.inputs, "versions": versions,
                       "batch": b, "encoder_length": s,
                       "decoder_length": None if encoder_only else inputs["decoder_input_ids"].shape[1],
                       "quantiles": list(QUANTILES), "reference_max_abs": scale, "rows": rows}, f, indent=2, sort_keys=True)
            f.write("\n")


if __name__ == "__main__":
    main()
