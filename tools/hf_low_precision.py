#!/usr/bin/env python3
"""How far transformers itself lands from its float32 goldens when a fixture runs wholly in bf16 or
fp16 (model.to(dtype), residual included, on CPU): the scale the cuda suite's fixture bounds are set
against (tests/cuda/test_backend.cpp). Needs the pinned transformers 4.49.0 + torch 2.6.0.

    python3 tools/hf_low_precision.py
"""
import torch
from safetensors.torch import load_file
from transformers import AutoModelForSeq2SeqLM

# scale_qk is left out: its goldens come from a patched attention that stock HF cannot reproduce.
FIXTURES = ["v1_0_tied", "v1_1_gated", "mt5", "umt5", "buckets", "bf16", "sharded"]


def normwise(ours, golden):
    return float((ours.float() - golden).norm() / golden.norm())


def main():
    torch.set_num_threads(1)
    print("| fixture | dtype | encoder states | logits | max abs logit error |")
    print("|---|---|---|---|---|")
    for name in FIXTURES:
        directory = f"tests/data/{name}"
        g = load_file(f"{directory}/goldens.safetensors")
        for dtype in (torch.bfloat16, torch.float16):
            model = AutoModelForSeq2SeqLM.from_pretrained(directory, torch_dtype=dtype).eval()
            with torch.no_grad():
                out = model(input_ids=g["input_ids"], attention_mask=g["attention_mask"], decoder_input_ids=g["decoder_input_ids"],
                            decoder_attention_mask=g["decoder_attention_mask"])
            max_abs = float((out.logits.float() - g["logits"]).abs().max())
            print(f"| {name} | {str(dtype)[6:]} | {normwise(out.encoder_last_hidden_state, g['encoder_last_hidden_state']):.2e} | "
                  f"{normwise(out.logits, g['logits']):.2e} | {max_abs:.2e} |")


if __name__ == "__main__":
    main()
