#!/usr/bin/env python3
"""Builds the tiny HuggingFace checkpoints under tests/data with transformers itself.

Each fixture is a directory holding what `save_pretrained` writes (config.json and safetensors
weights, sharded or not, f32 or bf16) plus fixture.json, which records what the script built so the
C++ tests can check that t5cc detects it: the model class, the policies t5cc should report and how
the weights are stored. The checkpoints cover the variants t5cc must read:

  v1_0_tied   T5 v1.0: relu, tied embedding, num_decoder_layers != num_layers
  v1_1_gated  T5 v1.1: gated-gelu, untied, num_heads * d_kv != d_model (the one fixture with d_kv 32)
  mt5         model_type "mt5" (MT5ForConditionalGeneration)
  umt5        model_type "umt5": a relative-bias table in every layer
  buckets     non-default relative_attention_num_buckets / max_distance
  bf16        weights stored in bf16
  sharded     weights split over 2+ files with model.safetensors.index.json
  scale_qk    "scale_qk": true with q weights multiplied by sqrt(d_kv): the same function as the
              unscaled model under the 1/sqrt(d_kv) attention scale

Usage (CPU only, a few seconds):
    pip install -r tools/requirements-fixtures.txt
    python3 tools/make_fixtures.py            # rewrites tests/data/<fixture>/
    python3 tools/make_fixtures.py --check    # verifies the committed files are reproduced

Rerunning reproduces the committed files byte for byte (fixed seeds, CPU, float32 init).
"""
import argparse
import filecmp
import json
import math
import os
import shutil
import sys
import tempfile

import torch
import transformers
from transformers import (MT5Config, MT5ForConditionalGeneration, T5Config, T5ForConditionalGeneration,
                          UMT5Config, UMT5ForConditionalGeneration)

PINNED = {"torch": "2.6.0", "transformers": "4.49.0"}
ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")

# Small sizes; d_kv 64 as in every published checkpoint except in v1_1_gated.
VOCAB = 320        # 200 SentencePiece pieces + 100 sentinels, padded to a multiple of 64
VOCAB_UMT5 = 512   # 200 pieces + 300 sentinels, padded
COMMON = dict(d_model=32, d_kv=64, d_ff=48, num_heads=2, num_layers=2, num_decoder_layers=2,
              pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)

V1_1 = dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False)

FIXTURES = {
    "v1_0_tied": dict(cls=(T5Config, T5ForConditionalGeneration), seed=1,
                      config=dict(COMMON, vocab_size=VOCAB, feed_forward_proj="relu", tie_word_embeddings=True,
                                  num_decoder_layers=3),
                      expect=dict(preset="v1_0", ffn="relu", position_bias="shared", attn_scale="off", lm_head="tied")),
    "v1_1_gated": dict(cls=(T5Config, T5ForConditionalGeneration), seed=2,
                       config=dict(COMMON, vocab_size=VOCAB, d_model=48, d_kv=32, d_ff=64, **V1_1),
                       expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "mt5": dict(cls=(MT5Config, MT5ForConditionalGeneration), seed=3,
                config=dict(COMMON, vocab_size=VOCAB),
                expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "umt5": dict(cls=(UMT5Config, UMT5ForConditionalGeneration), seed=4,
                 config=dict(COMMON, vocab_size=VOCAB_UMT5, tie_word_embeddings=False),
                 expect=dict(preset="umt5", ffn="gated-gelu", position_bias="per-layer", attn_scale="off", lm_head="untied")),
    "buckets": dict(cls=(T5Config, T5ForConditionalGeneration), seed=5,
                    config=dict(COMMON, vocab_size=VOCAB, relative_attention_num_buckets=16,
                                relative_attention_max_distance=24, **V1_1),
                    expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "bf16": dict(cls=(T5Config, T5ForConditionalGeneration), seed=6, dtype="bf16",
                 config=dict(COMMON, vocab_size=VOCAB, **V1_1),
                 expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "sharded": dict(cls=(T5Config, T5ForConditionalGeneration), seed=7, max_shard_size="200KB",
                    config=dict(COMMON, vocab_size=VOCAB, **V1_1),
                    expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "scale_qk": dict(cls=(T5Config, T5ForConditionalGeneration), seed=8, scale_qk=True,
                     config=dict(COMMON, vocab_size=VOCAB, **V1_1),
                     expect=dict(preset="", ffn="gated-gelu", position_bias="shared", attn_scale="1/sqrt(d_kv)", lm_head="untied")),
}


def build(name, spec, out_dir):
    config_cls, model_cls = spec["cls"]
    torch.manual_seed(spec["seed"])
    config = config_cls(**spec["config"])
    model = model_cls(config).eval()
    if spec.get("scale_qk"):
        # HF never scales q.k; a model trained with the 1/sqrt(d_kv) scale stores q unscaled. Folding
        # sqrt(d_kv) into q and declaring the scale keeps the function identical.
        with torch.no_grad():
            for name_, p in model.named_parameters():
                if name_.endswith(("SelfAttention.q.weight", "EncDecAttention.q.weight")):
                    p.mul_(math.sqrt(config.d_kv))
        model.config.scale_qk = True
    if spec.get("dtype") == "bf16":
        model = model.to(torch.bfloat16)
    kwargs = {"safe_serialization": True}
    if "max_shard_size" in spec:
        kwargs["max_shard_size"] = spec["max_shard_size"]
    model.save_pretrained(out_dir, **kwargs)
    if os.path.exists(os.path.join(out_dir, "generation_config.json")):
        os.remove(os.path.join(out_dir, "generation_config.json"))  # generation defaults come with generation goldens
    files = sorted(f for f in os.listdir(out_dir) if f.endswith(".safetensors"))
    fixture = {
        "built_by": "tools/make_fixtures.py",
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__},
        "model_class": model_cls.__name__,
        "seed": spec["seed"],
        "expect": dict(spec["expect"], weight_dtype="BF16" if spec.get("dtype") == "bf16" else "F32",
                       weight_files=len(files), encoder_only=False),
    }
    with open(os.path.join(out_dir, "fixture.json"), "w") as f:
        json.dump(fixture, f, indent=2, sort_keys=True)
        f.write("\n")
    if "max_shard_size" in spec and len(files) < 2:
        sys.exit(f"{name}: expected 2+ shards, got {files}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="rebuild in a temporary folder and compare with tests/data")
    parser.add_argument("--only", nargs="*", default=None, help="fixture names to build (default: all)")
    args = parser.parse_args()
    for pkg, version in PINNED.items():
        have = {"torch": torch.__version__, "transformers": transformers.__version__}[pkg].split("+")[0]
        if have != version:
            sys.exit(f"{pkg} {have} is installed; the fixtures are pinned to {version} (pip install -r tools/requirements-fixtures.txt)")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    names = args.only or list(FIXTURES)
    failures = 0
    for name in names:
        target = os.path.join(ROOT, name)
        if args.check:
            with tempfile.TemporaryDirectory() as tmp:
                build(name, FIXTURES[name], tmp)
                cmp = filecmp.dircmp(tmp, target)
                diff = cmp.left_only + cmp.right_only + [f for f in cmp.common_files if not filecmp.cmp(
                    os.path.join(tmp, f), os.path.join(target, f), shallow=False)]
                print(f"{name}: {'reproduced' if not diff else 'DIFFERS: ' + ', '.join(diff)}")
                failures += bool(diff)
        else:
            shutil.rmtree(target, ignore_errors=True)
            os.makedirs(target)
            build(name, FIXTURES[name], target)
            print(f"{name}: written to {os.path.relpath(target)}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
