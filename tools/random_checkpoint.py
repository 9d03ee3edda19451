#!/usr/bin/env python3
"""Writes a random T5 v1.1 checkpoint shaped like flan-t5-small, -base or -xl, as transformers lays it
out (config.json and model.safetensors, HF tensor names, shared.weight once), for measurements that
need real sizes without a model hub: peak memory, load time, speed. Needs numpy only.

  python3 tools/random_checkpoint.py OUT_DIR [--shape small|base|xl] [--dtype F32|BF16] [--seed 0] [--encoder-only]

Values are normal with transformers' T5 initialisation (init_std; norm gains 1): numbers to move
through the model, not a trained model.
"""
import argparse
import json
import os
import struct

import numpy as np

SHAPES = {
    "small": dict(d_model=512, d_kv=64, d_ff=1024, num_layers=8, num_decoder_layers=8, num_heads=6),
    "base": dict(d_model=768, d_kv=64, d_ff=2048, num_layers=12, num_decoder_layers=12, num_heads=12),
    "xl": dict(d_model=2048, d_kv=64, d_ff=5120, num_layers=24, num_decoder_layers=24, num_heads=32),
}
VOCAB, BUCKETS = 32128, 32


def tensors(shape, encoder_only):
    d, inner, f = shape["d_model"], shape["num_heads"] * shape["d_kv"], shape["d_ff"]
    yield "shared.weight", (VOCAB, d)
    stacks = (("encoder", shape["num_layers"]),) + (() if encoder_only else (("decoder", shape["num_decoder_layers"]),))
    for stack, blocks in stacks:
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
    if not encoder_only:
        yield "lm_head.weight", (VOCAB, d)


def init_std(name, shape):
    """transformers' T5PreTrainedModel._init_weights (factor 1.0), as mesh-tensorflow initialises T5:
    a model whose activations keep their scale through the layers, unlike one with a single
    standard deviation everywhere, which amplifies every rounding difference (no error measured on
    it would mean anything)."""
    d, d_kv, heads, d_ff = shape["d_model"], shape["d_kv"], shape["num_heads"], shape["d_ff"]
    if name in ("shared.weight", "lm_head.weight"):
        return 1.0
    if name.endswith("q.weight"):
        return (d * d_kv) ** -0.5
    if name.endswith(("k.weight", "v.weight", "wi_0.weight", "wi_1.weight")):
        return d ** -0.5
    if name.endswith("wo.weight"):
        return d_ff ** -0.5
    if name.endswith("o.weight"):
        return (heads * d_kv) ** -0.5
    if name.endswith("relative_attention_bias.weight"):
        return d ** -0.5
    raise ValueError(name)


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
    parser.add_argument("--encoder-only", action="store_true", help="the encoder alone (T5EncoderModel), as diffusion pipelines ship it")
    args = parser.parse_args()
    shape = SHAPES[args.shape]
    rng = np.random.default_rng(args.seed)
    os.makedirs(args.out, exist_ok=True)

    header, offset = {}, 0
    element = 4 if args.dtype == "F32" else 2
    for name, dims in tensors(shape, args.encoder_only):
        size = int(np.prod(dims)) * element
        header[name] = {"dtype": args.dtype, "shape": list(dims), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":"))
    text += " " * (-len(text) % 8)  # the data section 8-byte aligned, as the safetensors library writes it
    with open(os.path.join(args.out, "model.safetensors"), "wb") as out:
        out.write(struct.pack("<Q", len(text)))
        out.write(text.encode())
        for name, dims in tensors(shape, args.encoder_only):  # written one tensor at a time: the xl shape is 4.8 GB
            values = np.ones(dims, np.float32) if "layer_norm" in name else rng.normal(0, init_std(name, shape), dims).astype(np.float32)
            out.write(to_bytes(values, args.dtype))

    architecture = "T5EncoderModel" if args.encoder_only else "T5ForConditionalGeneration"
    config = dict(model_type="t5", architectures=[architecture], vocab_size=VOCAB, feed_forward_proj="gated-gelu",
                  tie_word_embeddings=False, relative_attention_num_buckets=BUCKETS, relative_attention_max_distance=128,
                  layer_norm_epsilon=1e-6, pad_token_id=0, eos_token_id=1, decoder_start_token_id=0, **shape)
    with open(os.path.join(args.out, "config.json"), "w") as out:
        json.dump(config, out, indent=2)
    print(f"{args.out}: flan-t5-{args.shape} shape, {args.dtype}, {offset} bytes of weights")


if __name__ == "__main__":
    main()
