#!/usr/bin/env python3
"""Trains examples/models/numbers: a small T5 v1.1 that writes numbers in English words ("1234" -> "one thousand two
hundred thirty-four"), with its own SentencePiece vocabulary, on CPU, deterministically.

Task and convention. Inputs are the integers 0..999999 written in decimal digits, without leading zeros or separators.
Outputs are lower-case American English: zero..nineteen, twenty..ninety, tens and units joined by a hyphen
("forty-two"), "<k> hundred" for hundreds, "<n> thousand" for thousands, no "and", no commas, single spaces
("100001" -> "one hundred thousand one", "7000" -> "seven thousand", "0" -> "zero").

What the script writes to examples/models/numbers (replacing what is there):

  spiece.model      unigram SentencePiece (pad 0 "<pad>", eos 1 "</s>", unk 2 "<unk>", no bos, "identity"
                    normalization, split_digits, add_dummy_prefix), trained on samples of the training data plus
                    two lines listing the number words (without them "zero", the output of one input only, is
                    spelled letter by letter). split_digits leaves this task only 73 possible pieces (the words
                    with their "▁", units after "-", "-", the digits, the letters, "▁", the 3 specials): the
                    trainer (hard_vocab_limit off) keeps all of them, fewer than the 128 it is asked for.
  config.json, model.safetensors
                    T5ForConditionalGeneration (model_type "t5", feed_forward_proj "gated-gelu", untied lm_head,
                    float32), vocab_size = pieces + 100 sentinels, rounded up to a multiple of 8. No
                    generation_config.json: config.json carries decoder_start 0, pad 0, eos 1.
  heldout.tsv       200 examples (input TAB expected output, no header) that training never sees: 50 numbers each
                    of 3, 4, 5 and 6 digits. Every number of 1 or 2 digits stays in training.

Training data are drawn on the fly (numpy, fixed seed), rejecting the held-out numbers: the digit count is drawn
with weights favouring longer numbers, and a quarter of the draws zero digits out at random (round numbers such as
"205000", "1001", which are where the convention is least regular). Encoder input: tokens of the digits then eos;
target: tokens of the words then eos (labels; the decoder starts from 0). AdamW, linear warmup, cosine decay,
dropout 0, one process on 2 threads. Every 1000 steps the log shows the held-out teacher-forced loss and exact
match (all target tokens the argmax, which is greedy exact match): monitoring only, nothing is selected on it.

At the end (and with --eval-only, on the saved folder) the script decodes every held-out input with transformers'
greedy generate (batch size 1, max_new_tokens 64), turns the ids back into text with sentencepiece (skipping ids
>= pieces and the control ids) and prints the exact-match rate and the smallest top-1 minus top-2 logit margin over
all greedy steps.

  pip install -r tools/requirements-demo.txt && python3 tools/train_demo.py
  python3 tools/train_demo.py --eval-only
"""
import argparse
import io
import math
import os
import sys
import time

import numpy as np
import sentencepiece as spm
import torch
import transformers
from transformers import T5Config, T5ForConditionalGeneration

PINNED = {"torch": "2.6.0", "transformers": "4.49.0", "sentencepiece": "0.2.3"}
OUT = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "examples", "models", "numbers")
PAD, EOS = 0, 1
SEED = 20240601
SENTINELS = 100
MAX_NEW_TOKENS = 64

# Model and training hyperparameters.
MODEL = dict(d_model=128, d_kv=32, num_heads=4, d_ff=256, num_layers=3, num_decoder_layers=3)
STEPS = 6000
BATCH = 128
LR = 2e-3
WARMUP = 400
WEIGHT_DECAY = 0.01
CLIP = 1.0
LOG_EVERY = 200
EVAL_EVERY = 1000

# ---------------------------------------------------------------------------------------------------------------
# The task

ONES = ("zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen sixteen "
        "seventeen eighteen nineteen").split()
TENS = "- - twenty thirty forty fifty sixty seventy eighty ninety".split()


def below_thousand(n):
    hundreds, rest = divmod(n, 100)
    parts = [ONES[hundreds] + " hundred"] if hundreds else []
    if rest >= 20:
        tens, units = divmod(rest, 10)
        parts.append(TENS[tens] + ("-" + ONES[units] if units else ""))
    elif rest:
        parts.append(ONES[rest])
    return " ".join(parts)


def number_words(n):
    """0 <= n <= 999999 in words, e.g. 1234 -> "one thousand two hundred thirty-four"."""
    assert 0 <= n < 10**6
    if n == 0:
        return "zero"
    thousands, rest = divmod(n, 1000)
    parts = [below_thousand(thousands) + " thousand"] if thousands else []
    if rest:
        parts.append(below_thousand(rest))
    return " ".join(parts)


LENGTH_WEIGHTS = np.array([0.04, 0.08, 0.16, 0.20, 0.24, 0.28])  # P(digit count = 1..6) in training
ZERO_OUT = 0.25  # share of training draws whose non-leading digits are zeroed at random


def with_digits(rng, length):
    return int(rng.integers(0 if length == 1 else 10**(length - 1), 10**length))


def training_numbers(rng, count, excluded):
    out = []
    while len(out) < count:
        length = int(rng.choice(6, p=LENGTH_WEIGHTS)) + 1
        n = with_digits(rng, length)
        if length > 1 and rng.random() < ZERO_OUT:
            digits = [c if i == 0 or rng.random() < 0.5 else "0" for i, c in enumerate(str(n))]
            n = int("".join(digits))
        if n not in excluded:
            out.append(n)
    return out


def heldout_numbers(seed):
    """50 distinct numbers each of 3, 4, 5 and 6 digits, in drawing order."""
    rng = np.random.default_rng(seed)
    out = []
    for length in (3, 4, 5, 6):
        chosen = set()
        while len(chosen) < 50:
            n = with_digits(rng, length)
            if n not in chosen:
                chosen.add(n)
                out.append(n)
    return out


# ---------------------------------------------------------------------------------------------------------------
# Tokenizer and model

def train_spiece(rng, excluded):
    lines = []
    for n in training_numbers(rng, 20000, excluded):
        lines += [str(n), number_words(n)]
    vocabulary = ONES + TENS[2:] + ["hundred", "thousand"]
    lines += [" ".join(vocabulary), " ".join(reversed(vocabulary))]
    buf = io.BytesIO()
    spm.set_random_generator_seed(1)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(lines), model_writer=buf, model_type="unigram", vocab_size=128, hard_vocab_limit=False,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        normalization_rule_name="identity", split_digits=True, character_coverage=1.0, num_threads=1, minloglevel=2)
    return buf.getvalue()


def make_model(pieces):
    vocab = (pieces + SENTINELS + 7) // 8 * 8
    config = T5Config(vocab_size=vocab, feed_forward_proj="gated-gelu", tie_word_embeddings=False, dropout_rate=0.0,
                      decoder_start_token_id=0, pad_token_id=PAD, eos_token_id=EOS,
                      architectures=["T5ForConditionalGeneration"], **MODEL)
    return T5ForConditionalGeneration(config)


class Codec:
    def __init__(self, sp):
        self.sp = sp
        self.pieces = sp.get_piece_size()

    def encode(self, texts):
        return [ids + [EOS] for ids in self.sp.encode(texts)]

    def decode(self, ids):
        return self.sp.decode([i for i in ids if i < self.pieces and not self.sp.is_control(i)])


def pad_rows(rows, fill):
    width = max(map(len, rows))
    return torch.tensor([r + [fill] * (width - len(r)) for r in rows], dtype=torch.int64)


def batch_tensors(codec, numbers):
    src = codec.encode([str(n) for n in numbers])
    tgt = codec.encode([number_words(n) for n in numbers])
    return pad_rows(src, PAD), (pad_rows(src, PAD) != PAD).long(), pad_rows(tgt, -100)


@torch.no_grad()
def teacher_forced(model, codec, numbers):
    """(mean loss, share of rows whose every target token is the argmax): the latter equals greedy exact match."""
    model.eval()
    ids, mask, labels = batch_tensors(codec, numbers)
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    valid = labels != -100
    right = ((out.logits.argmax(-1) == labels) | ~valid).all(1)
    model.train()
    return out.loss.item(), right.float().mean().item()


@torch.no_grad()
def greedy(model, codec, text):
    """transformers' greedy generate on one unpadded row: (decoded text, smallest top-1 minus top-2 margin)."""
    ids = torch.tensor([codec.encode([text])[0]])
    out = model.generate(ids, max_new_tokens=MAX_NEW_TOKENS, do_sample=False, num_beams=1,
                         return_dict_in_generate=True, output_logits=True)
    tops = [step[0].topk(2).values for step in out.logits]
    margin = min((top[0] - top[1]).item() for top in tops)
    return codec.decode(out.sequences[0, 1:].tolist()), margin


SHOW = ("207", "4028", "78612", "199350", "421347")  # held-out inputs quoted in examples/models/numbers/README.md


def evaluate(model, codec, examples):
    model.eval()
    right, margins, wrong = 0, [], []
    for src, want in examples:
        got, margin = greedy(model, codec, src)
        margins.append(margin)
        if got == want:
            right += 1
        else:
            wrong.append((src, want, got))
    for src, want, got in wrong:
        print(f"  WRONG {src}: expected {want!r}, got {got!r}")
    print(f"held-out exact match (greedy, batch 1, max_new_tokens {MAX_NEW_TOKENS}): {right}/{len(examples)} = "
          f"{100.0 * right / len(examples):.1f}%; smallest greedy top-1 minus top-2 margin {min(margins):.2f}, "
          f"median of per-example minima {float(np.median(margins)):.2f}")
    for src, want in examples:
        if src in SHOW:
            print(f"  {src} -> {greedy(model, codec, src)[0]}")
    return right / len(examples)


def read_heldout(folder):
    with open(os.path.join(folder, "heldout.tsv"), encoding="utf-8") as f:
        return [tuple(line.rstrip("\n").split("\t")) for line in f if line.strip()]


# ---------------------------------------------------------------------------------------------------------------

def train(args):
    torch.manual_seed(SEED)
    rng = np.random.default_rng(SEED)
    heldout = heldout_numbers(SEED + 1)
    excluded = set(heldout)
    sp_bytes = train_spiece(rng, excluded)
    sp = spm.SentencePieceProcessor(model_proto=sp_bytes)
    codec = Codec(sp)
    print(f"spiece.model: {codec.pieces} pieces, {len(sp_bytes)} bytes")
    model = make_model(codec.pieces)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    print(f"model: {MODEL}, vocab_size {model.config.vocab_size}, {params} parameters")

    decay = [p for p in model.parameters() if p.dim() >= 2]  # matrices; not the layer-norm scales
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": WEIGHT_DECAY}, {"params": no_decay, "weight_decay": 0.0}],
                            lr=LR, betas=(0.9, 0.98), eps=1e-8)
    steps = args.steps

    def lr_at(step):  # step counts from 1
        if step <= WARMUP:
            return LR * step / WARMUP
        return LR * 0.5 * (1 + math.cos(math.pi * (step - WARMUP) / max(1, steps - WARMUP)))

    start = time.time()
    window, seen = 0.0, 0
    for step in range(1, steps + 1):
        ids, mask, labels = batch_tensors(codec, training_numbers(rng, BATCH, excluded))
        for group in opt.param_groups:
            group["lr"] = lr_at(step)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), CLIP)
        opt.step()
        window += loss.item()
        seen += 1
        if step % LOG_EVERY == 0 or step == steps:
            line = f"step {step:5d}  loss {window / seen:.3e}  lr {lr_at(step):.2e}  elapsed {time.time() - start:6.1f}s"
            if step % EVAL_EVERY == 0 or step == steps:
                loss_h, exact_h = teacher_forced(model, codec, heldout)
                line += f"  | held-out loss {loss_h:.3e}, teacher-forced exact {100 * exact_h:.1f}%"
            print(line, flush=True)
            window, seen = 0.0, 0
    train_time = time.time() - start
    print(f"training: {steps} steps of {BATCH} in {train_time:.0f}s ({train_time / 60:.1f} min)")

    os.makedirs(args.out, exist_ok=True)
    for name in ("config.json", "model.safetensors", "generation_config.json", "spiece.model", "heldout.tsv"):
        if os.path.exists(os.path.join(args.out, name)):
            os.remove(os.path.join(args.out, name))
    model.save_pretrained(args.out, safe_serialization=True)
    os.remove(os.path.join(args.out, "generation_config.json"))  # config.json carries start 0, pad 0, eos 1
    with open(os.path.join(args.out, "spiece.model"), "wb") as f:
        f.write(sp_bytes)
    with open(os.path.join(args.out, "heldout.tsv"), "w", encoding="utf-8") as f:
        f.writelines(f"{n}\t{number_words(n)}\n" for n in heldout)
    print(f"wrote {args.out}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--eval-only", action="store_true", help="load the saved model and recompute held-out exact match")
    parser.add_argument("--out", default=OUT, help="model folder (default: %(default)s)")
    parser.add_argument("--steps", type=int, default=STEPS, help="training steps (default: %(default)s)")
    args = parser.parse_args()
    have = {"torch": torch.__version__, "transformers": transformers.__version__, "sentencepiece": spm.__version__}
    for pkg, version in PINNED.items():
        if have[pkg].split("+")[0] != version:
            sys.exit(f"{pkg} {have[pkg]} is installed; pinned: {version} (pip install -r tools/requirements-demo.txt)")
    torch.set_num_threads(2)
    torch.use_deterministic_algorithms(True)
    transformers.logging.set_verbosity_error()
    wall = time.time()
    if not args.eval_only:
        train(args)
    model = T5ForConditionalGeneration.from_pretrained(args.out)
    codec = Codec(spm.SentencePieceProcessor(model_file=os.path.join(args.out, "spiece.model")))
    heldout = read_heldout(args.out)
    assert len(heldout) == 200, len(heldout)
    rate = evaluate(model, codec, heldout)
    print(f"total wall time {time.time() - wall:.0f}s")
    return 0 if rate >= 0.95 else 1


if __name__ == "__main__":
    sys.exit(main())
