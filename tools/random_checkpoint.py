#!/usr/bin/env python3
"""Writes a random T5 v1.1 checkpoint shaped like flan-t5-small or -base, as transformers lays it
out (config.json and model.safetensors, HF tensor names, shared.weight once), for measurements that
need real sizes without a model hub: peak memory, load time, speed. Needs numpy only.

  python3 tools/random_checkpoint.py OUT_DIR [--shape small|base] [--dtype F32|BF16] [--seed 0]

Values are normal(0, 0.05) (norm gains 1): numbers to move through the model, not a trained model.
"""
import argparse
import json
import os
import struct

import numpy as np

SHAPES = {
    "small": dict(d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_decoder_layers=8, num_heads=6),
    "base": dict(d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_decoder_layers=12, num_heads=12),
}
VOCAB, BUCKETS = 32128, 32


def tensors(shape):
    d, inner, f = shape["d_model"], shape["num_heads"] * shape["d_kv"], shape["d_ff"]
    yield "shared.weight", (VOCAB, d)
    for stack, blocks in (("encoder", shape["num_layers"]), ("decoder", shape["num_decoder_layers"])):
        for b in range(blocks):
            p = f"{stack}.block.{b}.layer."
            attention = ["0.SelfAttention."] + (["1.EncDecAttention."] if stack == "decoder" else [])
            for a in attention:
                for w in "qkv":
                    yield p + a + w + ".weight", (inner, d)
                yield p + a + "o.weight", (d, inner)
            if b == 0:
                yield p + "0.SelfAttention.relative_attention_bias.weight", (BUCKETS, shape["num_heads"])
            ffn = "2" if stack == "decoder" else "1"
            for layer in range(int(ffn) + 1):
                yield p + f"{layer}.layer_norm.weight", (d,)
            yield p + ffn + ".DenseReluDense.wi_0.weight", (f, d)
            yield p + ffn + ".DenseReluDense.wi_1.weight", (f, d)
            yield p + ffn + ".DenseReluDense.wo.weight", (d, f)
        yield f"{stack}.final_layer_norm.weight", (d,)
    yield "lm_head.weight", (VOCAB, d)


def to_bytes(values, dtype):
    if dtype == "F32":
        return values.astype("<f4").tobytes()
    bits = values.astype("<f4").view("<u4")
    rounded = (bits + 0x7FFF + ((bits >> 16) & 1)) >> 16  # round to nearest even
    return rounded.astype("<u2").tobytes()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("out")
    parser.add_argument("--shape", choices=SHAPES, default="small")
    parser.add_argument("--dtype", choices=["F32", "BF16"], default="F32")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    header, blobs, offset = {}, [], 0
    for name, dims in tensors(shape):
        values = np.ones(dims, np.float32) if "layer_norm" in name else rng.normal(0, 0.05, dims).astype(np.float32)
        blob = to_bytes(values, args.dtype)
        header[name] = {"dtype": args.dtype, "shape": list(dims), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)  # the data section 8-byte aligned, as the safetensors library writes it
    with open(os.path.join(args.out, "model.safetensors"), "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text.encode())
        for blob in blobs:
            out.write(blob)

    config = dict(model_type="t5", architectures=["T5ForConditionalGeneration"], vocab_size=VOCAB, feed_forward_proj="gated-gelu",
                  tie_word_embeddings=False, relative_attention_num_buckets=BUCKETS, relative_attention_max_distance=128,
                  layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **shape)
    with open(os.path.join(args.out, "config.json"), "w") as out:
        json.dump(config, out, indent=2)
    print(f"{args.out}: flan-t5-{args.shape} shape, {args.dtype}, {offset} bytes of weights")


if __name__ == "__main__":
    main()
