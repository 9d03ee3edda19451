#!/usr/bin/env python3
"""Builds the tiny HuggingFace checkpoints under tests/data, and their goldens, with transformers itself.

Each fixture is a directory holding what `save_pretrained` writes (config.json and safetensors
weights, sharded or not, f32 or bf16) plus fixture.json, which records what the script built so the
C++ tests can check that t5cc detects it: the model class, the policies t5cc should report and how
the weights are stored. The checkpoints cover the variants t5cc must read:

  v1_0_tied   T5 v1.0: relu, tied embedding, num_decoder_layers != num_layers
  v1_1_gated  T5 v1.1: gated-gelu, untied, num_heads * d_kv != d_model (the one fixture with d_kv 32)
  mt5         model_type "mt5" (MT5ForConditionalGeneration)
  umt5        model_type "umt5": a relative-bias table in every layer
  buckets     non-default relative_attention_num_buckets / max_distance (16, 24), with inputs longer
              than max_distance (an encoder row of 200+ tokens, 34+ decoder positions, 34+ new tokens)
  bf16        weights stored in bf16
  sharded     weights split over 2+ files with model.safetensors.index.json
  scale_qk    "scale_qk": true with q weights multiplied by sqrt(d_kv): the same function as the
              unscaled model under the 1/sqrt(d_kv) attention scale

Every fixture directory also holds spiece.model and goldens.safetensors:

  spiece.model  A 200-piece unigram SentencePiece model (pad 0 "<pad>", eos 1 "</s>", unk 2 "<unk>", no
                bos, nmt_nfkc), trained by this script on a synthetic English-like corpus it generates
                (fixed seed, one thread; the same bytes in every directory). The configs' vocabularies
                hold these 200 pieces, then the sentinels (100, or 300 for umt5), then padding.
  goldens.safetensors  float32 outputs of transformers on CPU (safetensors.torch.save_file):
    input_ids               I64 [B, S]  B >= 3 sentences of different lengths, tokenized with spiece.model,
                                        each followed by eos 1, right-padded with 0
    attention_mask          I64 [B, S]  1 valid, 0 pad
    encoder_last_hidden_state F32 [B, S, d_model]  at every position, padded ones included
    decoder_input_ids       I64 [B, T]  decoder_start 0 then token ids, different lengths, right-padded with 0
    decoder_attention_mask  I64 [B, T]  1 on the valid positions
    logits                  F32 [B, T, vocab]  model(input_ids, attention_mask, decoder_input_ids,
                                        decoder_attention_mask).logits (teacher forced, all positions)
    generated_ids           I64 [B, 1 + N]  model.generate(input_ids, attention_mask=..., max_new_tokens=N,
                                        do_sample=False, num_beams=1): decoder_start first, rows that
                                        finished padded with 0; one row always runs to the limit. The
                                        encoder mask applies to cross-attention at every step (see below)
    greedy_margins          F32 [B, N]  top-1 minus top-2 of the raw logits of each greedy step while the
                                        row is running (the step that emits eos included), -1 afterwards
  fixture.json gains "goldens": {"max_new_tokens": N, "batch": B, "eos_bias": {"value", "method"},
  "encoder_texts": the sentences behind input_ids}.

v1_0_tied, v1_1_gated and umt5 (the fixtures in GENERATE) also hold generate.json: model.generate (float32,
CPU) on a ragged batch, beam search and greedy search with logits processors:
  {"built_by", "texts": 4 sentences, "inputs": their ids, each followed by eos 1, of 4 different lengths,
   unpadded (generate gets them right-padded with 0, with the attention mask), "cases": [{"name", "options",
   "sequences", "scores", "min_gap"}]}
  options    the 8 settings passed: max_new_tokens, min_new_tokens, num_beams (1: greedy), length_penalty,
             early_stopping ("true", "false" or "never"), num_return_sequences, repetition_penalty,
             no_repeat_ngram_size; do_sample False and everything else at generate's defaults. The
             processors see the decoder start 0 as part of the sequence (HF's decoder input_ids)
  sequences  input-major (input i's k-th at i * num_return_sequences + k): the tokens after the decoder
             start, up to and including the first eos (a sequence without eos ran to max_new_tokens)
  scores     beam search: sequences_scores (sum of log-probs / (tokens, eos included) ** length_penalty);
             greedy: the float64 sum over the sequence of the float32 log_softmax of each step's processed
             scores (out.scores) at the chosen token
  min_gap    the smallest margin of the comparisons that decide the case (see generate_case), >= 1e-4
  The cases (generate_cases): beam search (4 beams) for each length_penalty 0.6, 1, 2 and early_stopping;
  num_return_sequences 2 for each early_stopping; beam search and greedy with repetition_penalty 1.3, with
  no_repeat_ngram_size 2 and with min_new_tokens; greedy with all three. Rules asserted: every row equals
  stock generate on the row alone, unpadded (scores within 1e-5); length_penalty (0.6 vs 2), early_stopping
  (true vs false) and each processor change some sequence; a greedy row ends within min_new_tokens; in some
  case an input finishes 5+ tokens before the limit while another runs to it. The texts and lengths were
  found by --search-generate.

Generation and transformers 4.49.0: its generic prepare_inputs_for_generation drops the encoder
`attention_mask` for encoder-decoder models, so stock generate lets cross-attention attend to the
padding of the shorter rows (huggingface/transformers#36293, fixed after 4.49.0), unlike model(...)
and unlike generate on one unpadded row. The script puts the mask back as the upstream fix does (see
encoder_mask_restored(), greedy and beam search alike), and asserts that every row equals stock generate
run on that row alone without padding.

The goldens are those of the function the saved weights compute: for bf16 they are computed in float32
from the bf16-rounded weights; for scale_qk they are computed before the sqrt(d_kv) is folded into q
(x8 for d_kv 64, exact), i.e. they are the goldens of the unscaled model, which HF runs since it ignores
"scale_qk".

EOS bias. Random models rarely emit eos, so the script lifts the eos logit inside the saved weights:
with u the mean lm_head input over the valid teacher-forced decoder positions of the golden batch
(unbiased model), the eos row (token 1) of lm_head.weight (of shared.weight for the tied v1_0 model,
which therefore also changes the embedding of token 1) becomes row + eos_bias * u / |u|^2, so the eos
logit rises by exactly eos_bias at the mean hidden state. eos_bias is recorded in fixture.json.

Rules the script asserts (a fixture that breaks one fails loudly): at least one row stops early at
eos (after 3+ other tokens) and at least one runs to max_new_tokens without eos; a running row never
emits pad 0 (so finished and running rows are told apart); at every greedy step of every running row
the top-1/top-2 logit margin is >= 1e-3 (MIN_MARGIN), and the argmax of the raw logits is the token
generate chose; the saved checkpoint, loaded back in float32, reproduces the goldens (<= 1e-6).
The seeds and eos biases in FIXTURES were found by `--search` (seeds seed0, seed0 + 100, ... and a
fixed eos_bias grid, first pair that passes) and then hard-coded.

Also written:
  tests/data/spiece_sentinels.model, .json  a SentencePiece model holding the 100 sentinels itself (user-defined
      symbols right after the special pieces) and Python sentencepiece's ids for two texts using them.
  tests/data/relative_buckets.safetensors  HF's T5Attention._relative_position_bucket for relative_position
      (I64 [601], -300..300, memory position minus query position) under (num_buckets, max_distance)
      (32, 128) and (16, 24): I64 [601] bidirectional_32_128, causal_32_128, bidirectional_16_24,
      causal_16_24.
  tests/data/external/chronos-dummy-t5.goldens.safetensors  the same golden tensors (max_new_tokens 24, no
      eos bias or margin rule, margins recorded) for the third-party checkpoint
      ../shared/data/chronos-dummy-t5 (its model.safetensors loaded into a float32
      T5ForConditionalGeneration, input ids of a fixed batch of 3 rows in [2, 32)), and
      chronos-dummy-t5.json (source file, sha256, versions, max_new_tokens, smallest margin). Nothing
      else of that checkpoint is copied; when the folder is absent (--chronos) it is skipped with a note.
      caikit-tiny-t5.goldens.safetensors and .json: the same for ../shared/data/caikit-tiny-t5, whose
      only weights are a pytorch_model.bin (loaded by transformers' from_pretrained, i.e. torch.load).
  tests/data/pytorch_tied/, tests/data/pytorch_sharded/  v1_0_tied's and v1_1_gated's weights written
      by save_pretrained(safe_serialization=False): one pytorch_model.bin whose tied embeddings share
      one storage, and pytorch_model.bin.index.json with 2 shards (plus config.json). Their goldens
      are those of the source fixture (the same weights; the script checks they load back equal).
  tests/data/fp8_values.safetensors  every F8_E4M3 and F8_E5M2 bit pattern (U8 0..255 viewed as torch's
      float8_e4m3fn / float8_e5m2) and torch's float32 value of each: e4m3, e4m3_f32, e5m2, e5m2_f32.
  tests/data/fp8_e4m3/  v1_1_gated with its projections stored as F8_E4M3 (embedding, bias tables and
      norms F32) and goldens.safetensors of that function on v1_1_gated's inputs.
  tests/data/gguf/  GGUF files written by gguf-py (pinned 0.17.1), named by its tensor name map as llama.cpp's
      converter names them: two t5encoder files (Q8_0; Q4_K/Q5_K/Q6_K with BF16 and alignment 64), one t5
      encoder-decoder (Q8_0 with Q4_0/Q4_1/Q5_0/Q5_1 decoder), each with transformers' goldens on the
      weights gguf-py decodes, quant_values.gguf/.safetensors (random blocks of every decoded type and
      gguf-py's values), manifest.json (each tensor's stored type). See build_gguf.
  tests/data/hot_v1_1/, tests/data/hot_v1_0/  "hot" checkpoints (build_hot, HOT): d_model 64, d_kv 16, 4 heads;
      hot_v1_1 gated-gelu, untied, d_ff 128, 4 + 3 layers; hot_v1_0 relu, tied, d_ff 256, 3 + 4 layers. One encoder
      and one decoder FFN are heated (large layer-norm gains, scaled wi / wo, a few wo rows made large) so that, as
      in trained T5 v1.1 XL/XXL, on the golden batch the FFN hidden (wo's input) exceeds 65504 while every wi output
      stays below 8192 (gated; for relu the wi output itself exceeds 65504, below 2^22), and a few residual channels
      exceed 65504 after the heated encoder layer. Each holds config.json, model.safetensors (F32), spiece.model,
      goldens.safetensors (the golden inputs, encoder_last_hidden_state and logits: no generation) and hot.json
      (the heating, per-layer maxima of the float32 run, and what transformers gives when loaded with
      torch_dtype float16 / bfloat16: finite or not, the first module whose output holds inf/NaN). The script
      exits unless the float32 goldens are finite and HF float16 gives inf/NaN states or logits.
  tests/data/pytorch_files/  small torch.save files: shared_storage.bin (tensors viewing one storage at
      offsets, F32/F16/BF16), and those t5cc refuses: a non-contiguous tensor, int64 and float64
      storages, a value that is not a tensor, the legacy (non-zip) format.

Usage (CPU only, well under a minute):
    pip install -r tools/requirements-fixtures.txt
    python3 tools/make_fixtures.py            # rewrites tests/data/<fixture>/ and the files above
    python3 tools/make_fixtures.py --check    # verifies the committed files are reproduced
    python3 tools/make_fixtures.py --search --only buckets   # finds a seed and eos_bias to hard-code
    python3 tools/make_fixtures.py --only hot_v1_1 hot_v1_0  # only the hot fixtures
    python3 tools/make_fixtures.py --search-generate 7 120 --only umt5   # finds GENERATE texts and lengths

Rerunning reproduces the committed files: weights, config.json, fixture.json, generate.json and spiece.model
byte for byte, the goldens within 1e-6 (integer tensors exactly). --check tests exactly that.
"""
import argparse
import contextlib
import hashlib
import importlib.metadata
import io
import itertools
import json
import math
import os
import random
import shutil
import sys
import tempfile

import numpy as np
import sentencepiece as spm
import torch
import transformers
from safetensors.torch import load_file, save_file
from transformers import (MT5Config, MT5ForConditionalGeneration, T5Config, T5EncoderModel, T5ForConditionalGeneration,
                          UMT5Config, UMT5ForConditionalGeneration)

try:  # only the GGUF fixtures need it
    import gguf
except ImportError:
    gguf = None
from transformers.models.t5.modeling_t5 import T5Attention

# The release without its build suffix (2.6.0+cu124 and 2.6.0+cpu compute the same float32 goldens).
TORCH_VERSION = torch.__version__.split("+")[0]
PINNED = {"torch": "2.6.0", "transformers": "4.49.0", "sentencepiece": "0.2.3", "gguf": "0.17.1"}
HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", "tests", "data"))
CHRONOS_DEFAULT = os.path.normpath(os.path.join(HERE, "..", "..", "shared", "data", "chronos-dummy-t5"))
MIN_MARGIN = 1e-3
TOLERANCE = 1e-6
EOS, PAD, START = 1, 0, 0

# Small sizes; d_kv 64 as in every published checkpoint except in v1_1_gated.
VOCAB = 320        # 200 SentencePiece pieces + 100 sentinels, padded to a multiple of 64
VOCAB_UMT5 = 512   # 200 pieces + 300 sentinels, padded
COMMON = dict(d_model=32, d_kv=64, d_ff=48, num_heads=2, num_layers=2, num_decoder_layers=2,
              pad_token_id=0, eos_token_id=1, decoder_start_token_id=0)

V1_1 = dict(feed_forward_proj="gated-gelu", tie_word_embeddings=False)

# seed and eos_bias: found by --search (see the docstring); new_tokens: max_new_tokens of the goldens.
FIXTURES = {
    "v1_0_tied": dict(cls=(T5Config, T5ForConditionalGeneration), seed=2601, eos_bias=1.5,
                      config=dict(COMMON, vocab_size=VOCAB, feed_forward_proj="relu", tie_word_embeddings=True,
                                  num_decoder_layers=3),
                      expect=dict(preset="v1_0", ffn="relu", position_bias="shared", attn_scale="off", lm_head="tied")),
    "v1_1_gated": dict(cls=(T5Config, T5ForConditionalGeneration), seed=402, eos_bias=0.5,
                       config=dict(COMMON, vocab_size=VOCAB, d_model=48, d_kv=32, d_ff=64, **V1_1),
                       expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "mt5": dict(cls=(MT5Config, MT5ForConditionalGeneration), seed=303, eos_bias=0.5,
                config=dict(COMMON, vocab_size=VOCAB),
                expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "umt5": dict(cls=(UMT5Config, UMT5ForConditionalGeneration), seed=104, eos_bias=6.0,
                 config=dict(COMMON, vocab_size=VOCAB_UMT5, tie_word_embeddings=False),
                 expect=dict(preset="umt5", ffn="gated-gelu", position_bias="per-layer", attn_scale="off", lm_head="untied")),
    "buckets": dict(cls=(T5Config, T5ForConditionalGeneration), seed=5, eos_bias=5.0, new_tokens=34, long=True,
                    config=dict(COMMON, vocab_size=VOCAB, relative_attention_num_buckets=16,
                                relative_attention_max_distance=24, **V1_1),
                    expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "bf16": dict(cls=(T5Config, T5ForConditionalGeneration), seed=6, eos_bias=7.5, dtype="bf16",
                 config=dict(COMMON, vocab_size=VOCAB, **V1_1),
                 expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "sharded": dict(cls=(T5Config, T5ForConditionalGeneration), seed=107, eos_bias=4.0, max_shard_size="200KB",
                    config=dict(COMMON, vocab_size=VOCAB, **V1_1),
                    expect=dict(preset="v1_1", ffn="gated-gelu", position_bias="shared", attn_scale="off", lm_head="untied")),
    "scale_qk": dict(cls=(T5Config, T5ForConditionalGeneration), seed=8, eos_bias=10.0, scale_qk=True,
                     config=dict(COMMON, vocab_size=VOCAB, **V1_1),
                     expect=dict(preset="", ffn="gated-gelu", position_bias="shared", attn_scale="1/sqrt(d_kv)", lm_head="untied")),
}

# generate.json of a fixture: its encoder texts (4 lengths), max_new_tokens and min_new_tokens (see generate_cases).
# Found by --search-generate (pools corpus(120, 7)) and then hard-coded.
GENERATE = {
    "v1_0_tied": dict(new_tokens=20, min_new_tokens=10, texts=[
        "Slowly morning always green quickly bright walks city keeps house builds!",
        "New evening likes quickly into because.",
        "Always near together carries child walks quietly morning.",
        "Needs wants walks song builds."]),
    "v1_1_gated": dict(new_tokens=20, min_new_tokens=10, texts=[
        "Fish because one road while winter dog before two while mother.",
        "Two bird from wants slowly dog.",
        "Quick story green across window red story bright likes a train with finds teacher?",
        "New evening likes quickly into because."]),
    "umt5": dict(new_tokens=20, min_new_tokens=10, texts=[
        "Song builds fish new green quietly runs but quietly child through letter friend large.",
        "Slowly city letter but the quick story quick dog writes from large.",
        "Quick teacher needs quietly red.",
        "Road friend carries but again house teacher morning one song small a."]),
}

EOS_BIAS_GRID = [0.5 * i for i in range(1, 61)]  # --search tries these in order for each candidate seed

# ----------------------------------------------------------------------------------------------------------
# SentencePiece model and the golden inputs

WORDS = ("the a one two small large old new red blue green quick slow happy quiet bright dark cat dog bird "
         "fish horse house tree river city road garden window table book letter song story teacher farmer "
         "child friend mother father king queen ship train morning evening winter summer runs walks reads "
         "writes sings finds sees builds opens carries likes wants needs keeps brings and but or because "
         "while after before with under over near into from through across today yesterday often never "
         "always slowly quickly quietly again together").split()


def corpus(n, seed):
    """n deterministic English-like sentences."""
    rng = random.Random(seed)
    out = []
    for _ in range(n):
        s = " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 14)))
        out.append(s[0].upper() + s[1:] + rng.choice(".?!."))
    return out


def train_spiece(sentences=None, vocab_size=200, rule="identity"):
    buf = io.BytesIO()
    spm.set_random_generator_seed(1)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(sentences or corpus(3000, 20240601)), model_writer=buf, model_type="unigram", vocab_size=vocab_size,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        normalization_rule_name=rule, character_coverage=1.0, num_threads=1, minloglevel=2)
    return buf.getvalue()


def pad_rows(rows):
    width = max(map(len, rows))
    ids = torch.tensor([r + [PAD] * (width - len(r)) for r in rows], dtype=torch.int64)
    mask = torch.tensor([[1] * len(r) + [0] * (width - len(r)) for r in rows], dtype=torch.int64)
    return ids, mask


def golden_inputs(sp, long):
    """(encoder texts, input_ids, attention_mask, decoder_input_ids, decoder_attention_mask)."""
    texts = ["The quick dog runs across the river today.",
             "A small bird sings.",
             "Yesterday the old teacher quietly reads a letter to the happy child near the window."]
    targets = ["Two green ships carry books.", "The king", "Often the farmer walks slowly through the bright garden"]
    if long:  # the buckets fixture: an encoder row of 200+ tokens, 34+ decoder positions
        texts[2] = " ".join(corpus(20, 7))
        targets[2] = " ".join(corpus(3, 8))
    enc = [sp.encode(t) + [EOS] for t in texts]
    dec = [[START] + sp.encode(t) for t in targets]
    if long:
        assert len(enc[2]) >= 200 and len(dec[2]) >= 34, (len(enc[2]), len(dec[2]))
    assert len(set(map(len, enc))) == len(enc) and len(set(map(len, dec))) == len(dec)
    return (texts,) + pad_rows(enc) + pad_rows(dec)


# ----------------------------------------------------------------------------------------------------------
# Goldens (one function for the fixtures and chronos)

def generate(model, input_ids, attention_mask, new_tokens):
    """Greedy model.generate with the encoder mask reaching the decoder's cross-attention.

    transformers 4.49.0's generic prepare_inputs_for_generation drops `attention_mask` for encoder-decoder
    models, so cross-attention attends to the padding of shorter rows (huggingface/transformers#36293, fixed
    after 4.49.0). This puts it back, as the upstream fix does; compute_goldens checks the result row by
    row against generate on the unpadded row, where the bug has no effect."""
    with encoder_mask_restored(model):
        return model.generate(input_ids, attention_mask=attention_mask, max_new_tokens=new_tokens, do_sample=False,
                              num_beams=1, return_dict_in_generate=True, output_logits=True)


@contextlib.contextmanager
def encoder_mask_restored(model):
    """model.generate passes the encoder attention_mask to the decoder's cross-attention (the upstream fix of
    huggingface/transformers#36293), for greedy and beam search alike (beam search expands the mask per beam)."""
    prepare = model.prepare_inputs_for_generation

    def prepare_with_mask(*args, **kwargs):
        return dict(prepare(*args, **kwargs), attention_mask=kwargs["attention_mask"])

    model.prepare_inputs_for_generation = prepare_with_mask
    try:
        yield
    finally:
        del model.prepare_inputs_for_generation


@torch.no_grad()
def compute_goldens(model, input_ids, attention_mask, decoder_input_ids, decoder_attention_mask, new_tokens):
    out = model(input_ids=input_ids, attention_mask=attention_mask, decoder_input_ids=decoder_input_ids,
                decoder_attention_mask=decoder_attention_mask)
    gen = generate(model, input_ids, attention_mask, new_tokens)
    ids = gen.sequences
    for b in range(ids.shape[0]):  # stock generate on the row alone, unpadded, gives the same tokens
        n = int(attention_mask[b].sum())
        alone = model.generate(input_ids[b:b + 1, :n], attention_mask=attention_mask[b:b + 1, :n],
                               max_new_tokens=new_tokens, do_sample=False, num_beams=1)[0]
        assert torch.equal(alone, ids[b, :len(alone)]) and (ids[b, len(alone):] == PAD).all(), f"row {b}: {alone}"
    batch, steps = ids.shape[0], ids.shape[1] - 1
    margins = torch.full((batch, new_tokens), -1.0)
    running = torch.ones(batch, dtype=torch.bool)
    for step, logits in enumerate(gen.logits):
        top = logits.float().topk(2, dim=-1)
        for b in range(batch):
            if running[b]:
                assert top.indices[b, 0] == ids[b, step + 1], f"row {b} step {step}: argmax is not generate's token"
                margins[b, step] = top.values[b, 0] - top.values[b, 1]
                running[b] = ids[b, step + 1] != EOS
            else:
                assert ids[b, step + 1] == PAD
    return {
        "input_ids": input_ids, "attention_mask": attention_mask,
        "encoder_last_hidden_state": out.encoder_last_hidden_state.float(),
        "decoder_input_ids": decoder_input_ids, "decoder_attention_mask": decoder_attention_mask,
        "logits": out.logits.float(), "generated_ids": ids, "greedy_margins": margins,
    }, steps


def save_goldens(goldens, path):
    save_file({k: v.contiguous() for k, v in goldens.items()}, path)


def summary(g):
    """(rows that stopped early at eos, rows that ran to the limit, smallest margin of a running step)."""
    ids, m = g["generated_ids"], g["greedy_margins"]
    early = [b for b in range(ids.shape[0]) if (ids[b, 1:] == EOS).any() and ids[b, -1] != EOS]
    full = [b for b in range(ids.shape[0]) if b not in early]
    return early, full, m[m >= 0].min().item()


def violations(g, steps, new_tokens):
    early, full, min_margin = summary(g)
    problems = []
    if steps != new_tokens or not any((g["generated_ids"][b, 1:] != EOS).all() for b in full):
        problems.append("no row runs to max_new_tokens")
    if not any((g["generated_ids"][b, 1:4] != EOS).all() for b in early):
        problems.append("no row stops early at eos after 3+ tokens")
    running = g["greedy_margins"][:, :steps] >= 0
    if (g["generated_ids"][:, 1:][running] == PAD).any():
        problems.append("a running row emits pad 0")
    if min_margin < MIN_MARGIN:
        problems.append(f"a greedy margin {min_margin:.2e} < {MIN_MARGIN}")
    return problems


# ----------------------------------------------------------------------------------------------------------
# generate.json: beam search and greedy search with logits processors

MIN_GAP = 1e-4          # every score comparison that decides a result must be won by this much (see generate_case)
SCORE_TOLERANCE = 1e-5  # a row in the batch vs the same row alone
EARLY_STOPPING = {"true": True, "false": False, "never": "never"}
EARLY_FINISH = 5        # "finishes early": done (beam) or eos (greedy) 5+ tokens before max_new_tokens


def generate_cases(new_tokens, min_new):
    """[(name, options)]: the 8 options of every case; generate's other settings keep their defaults."""
    cases = []

    def case(name, **kw):
        opts = dict(max_new_tokens=new_tokens, min_new_tokens=0, num_beams=4, length_penalty=1.0,
                    early_stopping="false", num_return_sequences=1, repetition_penalty=1.0, no_repeat_ngram_size=0)
        assert kw.keys() <= opts.keys()
        cases.append((name, dict(opts, **kw)))

    for lp in (0.6, 1.0, 2.0):
        for es in EARLY_STOPPING:
            case(f"beam4_lp{lp}_{es}", length_penalty=lp, early_stopping=es)
    for es in EARLY_STOPPING:
        case(f"beam4_ret2_{es}", num_return_sequences=2, early_stopping=es)
    case("beam4_lp1.0_false_rep1.3", repetition_penalty=1.3)
    case("beam4_lp1.0_false_ngram2", no_repeat_ngram_size=2)
    # min_new_tokens on the search that stops once 4 hypotheses ended: its outputs are the short ones
    case(f"beam4_lp1.0_true_min{min_new}", early_stopping="true", min_new_tokens=min_new)
    case("greedy", num_beams=1)
    case("greedy_rep1.3", num_beams=1, repetition_penalty=1.3)
    case("greedy_ngram2", num_beams=1, no_repeat_ngram_size=2)
    case(f"greedy_min{min_new}", num_beams=1, min_new_tokens=min_new)
    case(f"greedy_rep1.3_ngram2_min{min_new}", num_beams=1, repetition_penalty=1.3, no_repeat_ngram_size=2,
         min_new_tokens=min_new)
    return cases


# Each rule: (with, without) pairs of cases, at least one of which must give different sequences.
SETTING_RULES = {
    "length_penalty": [(f"beam4_lp0.6_{es}", f"beam4_lp2.0_{es}") for es in EARLY_STOPPING],
    "early_stopping": [(f"beam4_lp{lp}_true", f"beam4_lp{lp}_false") for lp in (0.6, 1.0, 2.0)],
    "beam repetition_penalty": [("beam4_lp1.0_false_rep1.3", "beam4_lp1.0_false")],
    "beam no_repeat_ngram_size": [("beam4_lp1.0_false_ngram2", "beam4_lp1.0_false")],
    "beam min_new_tokens": [("beam4_lp1.0_true_min{m}", "beam4_lp1.0_true")],
    "greedy repetition_penalty": [("greedy_rep1.3", "greedy")],
    "greedy no_repeat_ngram_size": [("greedy_ngram2", "greedy")],
    "greedy min_new_tokens": [("greedy_min{m}", "greedy")],
}


def strip(seq):
    """The generated tokens after the decoder start, up to and including the first eos."""
    tokens = seq[1:].tolist()
    return tokens[:tokens.index(EOS) + 1] if EOS in tokens else tokens


@contextlib.contextmanager
def beam_recorded(gaps, done):
    """While beam search runs, appends to `gaps` (gap, input, where) for every score comparison that decides its
    result, and sets done[input] to the number of tokens generated when BeamSearchScorer marks the input done.
      process()   for each input not yet done, the gaps between adjacent scores of the 2 * num_beams candidates
                  it receives (next_scores[batch_idx], sorted): all of them, also past the last candidate process()
                  consumes, which is stricter than needed;
      add()       |new hypothesis score - worst kept score| once num_beams hypotheses are kept;
      is_done()   |worst kept score - highest attainable score| for early_stopping False / "never" (skipped when
                  they are equal by construction: the worst hypothesis is this step's best candidate, an eos);
      finalize()  the gaps between the num_return_sequences + 1 best hypotheses of each input."""
    from transformers.generation.beam_search import BeamHypotheses, BeamSearchScorer
    process, finalize, add, is_done = (BeamSearchScorer.process, BeamSearchScorer.finalize, BeamHypotheses.add,
                                       BeamHypotheses.is_done)
    index = {}  # id(BeamHypotheses) -> input

    def sorted_gaps(values, b, where):
        values = sorted(values, reverse=True)
        return [(x - y, b, f"{where}, rank {r}") for r, (x, y) in enumerate(zip(values, values[1:]))]

    def process_recorded(self, input_ids, next_scores, next_tokens, *args, **kwargs):
        index.update((id(h), b) for b, h in enumerate(self._beam_hyps))
        step = input_ids.shape[-1] - 1
        for b in range(len(self._beam_hyps)):
            if not self._done[b]:
                where = f"step {step} candidates {next_tokens[b].tolist()}"
                gaps.extend(sorted_gaps(next_scores[b].tolist(), b, where))
        out = process(self, input_ids, next_scores, next_tokens, *args, **kwargs)
        for b in range(len(self._beam_hyps)):
            if self._done[b]:
                done.setdefault(b, step + 1)
        return out

    def finalize_recorded(self, *args, **kwargs):
        out = finalize(self, *args, **kwargs)
        for b, hyps in enumerate(self._beam_hyps):
            gaps.extend(sorted_gaps([h[0] for h in hyps.beams], b, "finalize")[:self.num_beam_hyps_to_keep])
        return out

    def add_recorded(self, hyp, sum_logprobs, beam_indices=None, generated_len=None):
        if len(self) >= self.num_beams:
            gaps.append((abs(sum_logprobs / generated_len ** self.length_penalty - self.worst_score), index[id(self)],
                         f"adding hypothesis {hyp.tolist()[1:]}"))
        return add(self, hyp, sum_logprobs, beam_indices, generated_len)

    def is_done_recorded(self, best_sum_logprobs, cur_len, decoder_prompt_len=0):
        if len(self) >= self.num_beams and self.early_stopping is not True:
            length = self.max_length if self.early_stopping == "never" and self.length_penalty > 0 else cur_len
            best = best_sum_logprobs / (length - decoder_prompt_len) ** self.length_penalty
            if best != self.worst_score:
                gaps.append((abs(self.worst_score - best), index[id(self)], f"is_done at {cur_len - 1} tokens"))
        return is_done(self, best_sum_logprobs, cur_len, decoder_prompt_len)

    BeamSearchScorer.process, BeamSearchScorer.finalize = process_recorded, finalize_recorded
    BeamHypotheses.add, BeamHypotheses.is_done = add_recorded, is_done_recorded
    try:
        yield
    finally:
        BeamSearchScorer.process, BeamSearchScorer.finalize = process, finalize
        BeamHypotheses.add, BeamHypotheses.is_done = add, is_done


def run_generate(model, input_ids, attention_mask, opts):
    """model.generate with a case's options: (strip()ped sequences, a score per sequence, the output)."""
    out = model.generate(
        input_ids, attention_mask=attention_mask, max_new_tokens=opts["max_new_tokens"],
        min_new_tokens=opts["min_new_tokens"], num_beams=opts["num_beams"], length_penalty=opts["length_penalty"],
        early_stopping=EARLY_STOPPING[opts["early_stopping"]], num_return_sequences=opts["num_return_sequences"],
        repetition_penalty=opts["repetition_penalty"], no_repeat_ngram_size=opts["no_repeat_ngram_size"],
        do_sample=False, output_scores=True, return_dict_in_generate=True)
    seqs = [strip(s) for s in out.sequences]
    if opts["num_beams"] > 1:
        scores = out.sequences_scores.tolist()
    else:  # the float64 sum of the float32 log-softmax of each step's processed scores at the chosen token
        logp = [torch.log_softmax(s.float(), dim=-1) for s in out.scores]
        scores = [math.fsum(logp[t][b, token].item() for t, token in enumerate(seq)) for b, seq in enumerate(seqs)]
    return seqs, scores, out


@torch.no_grad()
def generate_case(model, rows, opts, alone=True):
    """One case on the ragged batch `rows` (right-padded with 0, with the attention mask, which reaches the
    cross-attention): (sequences, scores, gaps, done). gaps: [(gap, input, where)], see beam_recorded; for greedy
    search, top-1 minus top-2 of the processed scores (out.scores) of each step of each running row, whose argmax
    must be the token chosen. done: {input: tokens generated when it finished}. With `alone`, asserts that every row
    equals stock generate on that row alone, unpadded (where #36293 has no effect)."""
    input_ids, attention_mask = pad_rows(rows)
    gaps, done = [], {}
    beam = opts["num_beams"] > 1
    with encoder_mask_restored(model), (beam_recorded(gaps, done) if beam else contextlib.nullcontext()):
        seqs, scores, out = run_generate(model, input_ids, attention_mask, opts)
    assert all(len(seq) <= opts["max_new_tokens"] and (seq[-1] == EOS or len(seq) == opts["max_new_tokens"])
               for seq in seqs), f"a sequence without eos stops before max_new_tokens: {seqs}"
    if not beam:
        for t, s in enumerate(out.scores):
            top = s.float().topk(2, dim=-1)
            for b, seq in enumerate(seqs):
                if t < len(seq):
                    assert top.indices[b, 0] == seq[t], f"row {b} step {t}: argmax is not generate's token"
                    gaps.append(((top.values[b, 0] - top.values[b, 1]).item(), b, f"step {t}"))
        done = {b: len(seq) for b, seq in enumerate(seqs) if seq[-1] == EOS}
    k = opts["num_return_sequences"]
    for b, row in enumerate(rows if alone else []):
        mine = (seqs[b * k:(b + 1) * k], scores[b * k:(b + 1) * k])
        theirs = run_generate(model, torch.tensor([row]), torch.ones(1, len(row), dtype=torch.int64), opts)[:2]
        assert theirs[0] == mine[0], f"input {b}: {theirs[0]} alone, {mine[0]} in the batch"
        diff = max(abs(x - y) for x, y in zip(theirs[1], mine[1]))
        assert diff <= SCORE_TOLERANCE, f"input {b}: the scores alone and in the batch differ by {diff}"
    return seqs, scores, gaps, done


def generate_goldens(model, sp, gen):
    """(generate.json's content, [broken rules], smallest gap) for a fixture's "generate" entry."""
    rows = [sp.encode(t) + [EOS] for t in gen["texts"]]
    cases, results, problems = [], {}, []
    for name, opts in generate_cases(gen["new_tokens"], gen["min_new_tokens"]):
        try:
            seqs, scores, gaps, done = generate_case(model, rows, opts)
        except AssertionError as e:
            raise AssertionError(f"{name}: {e}") from None
        gap = min(gaps)
        if gap[0] < MIN_GAP:
            problems.append(f"{name}: input {gap[1]}, {gap[2]}: gap {gap[0]:.2e} < {MIN_GAP}")
        cases.append({"name": name, "options": opts, "sequences": seqs, "scores": scores, "min_gap": gap[0]})
        results[name] = (seqs, done)
    problems += generate_violations(results, rows, gen)
    content = {"built_by": "tools/make_fixtures.py", "texts": gen["texts"], "inputs": rows, "cases": cases}
    return content, problems, min(c["min_gap"] for c in cases)


def rules_met(results, gen):
    """The SETTING_RULES whose pairs of cases differ in `results` ({case: (sequences, ...)})."""
    m = gen["min_new_tokens"]
    return {rule for rule, pairs in SETTING_RULES.items()
            if any(results[a.format(m=m)][0] != results[b.format(m=m)][0] for a, b in pairs)}


def generate_violations(results, rows, gen):
    n, m = gen["new_tokens"], gen["min_new_tokens"]
    problems = [f"{rule} changes no sequence" for rule in SETTING_RULES if rule not in rules_met(results, gen)]
    if not any(len(seq) <= m and seq[-1] == EOS for seq in results["greedy"][0]):
        problems.append(f"no greedy row ends within min_new_tokens {m}, which would force it on")
    if len(rows) < 4 or len(set(map(len, rows))) < len(rows):
        problems.append("the inputs are not 4+ rows of different lengths")
    if not any(min(done.values(), default=n) <= n - EARLY_FINISH and any(len(s) == n for s in seqs)
               for seqs, done in results.values()):
        problems.append(f"no case where an input finishes {EARLY_FINISH}+ tokens early and another runs to the limit")
    return problems


def write_generate_json(content, path):
    """Sorted keys, a line per text, input and case, floats as repr(): reruns write the same bytes."""
    lines = []
    for key in sorted(content):
        value = content[key]
        if isinstance(value, list):
            items = ",\n".join("    " + json.dumps(v, sort_keys=True) for v in value)
            lines.append(f"  {json.dumps(key)}: [\n{items}\n  ]")
        else:
            lines.append(f"  {json.dumps(key)}: {json.dumps(value)}")
    with open(path, "w") as f:
        f.write("{\n" + ",\n".join(lines) + "\n}\n")


def search_generate(name, spec, sp_bytes, pool_seed, count):
    """Prints "generate" entries that pass generate.json's rules, with texts from corpus(count, pool_seed).

    Every row of a batch computes what it computes alone (generate_case asserts it), so each text is run once
    (in batches of the pool) and 4 texts of different lengths that meet the rules together are then checked."""
    sp = spm.SentencePieceProcessor(model_proto=sp_bytes)
    model = make_model(spec, spec["seed"], spec["eos_bias"], golden_inputs(sp, spec.get("long", False)))
    texts = corpus(count, pool_seed)
    rows = [sp.encode(t) + [EOS] for t in texts]
    for new_tokens, min_new in itertools.product((20, 24, 30), (6, 8, 10)):
        gen = dict(new_tokens=new_tokens, min_new_tokens=min_new)
        per_text = [dict() for _ in texts]  # case -> (the text's sequences, its smallest gap)
        for case_name, opts in generate_cases(new_tokens, min_new):
            k = opts["num_return_sequences"]
            for start in range(0, len(rows), 32):
                seqs, _, gaps, _ = generate_case(model, rows[start:start + 32], opts, alone=False)
                for i in range(min(32, len(rows) - start)):
                    gap = min((g[0] for g in gaps if g[1] == i), default=math.inf)
                    per_text[start + i][case_name] = (seqs[i * k:(i + 1) * k], gap)
        good = [i for i in range(len(texts)) if min(r[1] for r in per_text[i].values()) >= 2 * MIN_GAP]
        rules = {i: rules_met(per_text[i], gen) for i in good}
        good.sort(key=lambda i: -len(rules[i]))
        found = 0
        for combo in itertools.combinations(good[:16], 4):
            if len({len(rows[i]) for i in combo}) < 4 or set().union(*(rules[i] for i in combo)) != set(SETTING_RULES):
                continue
            gen["texts"] = [texts[i] for i in combo]
            try:
                _, problems, gap = generate_goldens(model, sp, gen)
            except AssertionError as e:
                problems, gap = [str(e)], 0
            if not problems:
                print(f"{name}: generate={gen} (min gap {gap:.2e})", flush=True)
                found += 1
                if found == 3:
                    break
        print(f"{name}: max_new_tokens {new_tokens}, min_new_tokens {min_new}: {len(good)} texts without near ties, "
              f"{found} entries found", flush=True)


# ----------------------------------------------------------------------------------------------------------
# Fixtures

def make_model(spec, seed, eos_bias, inputs):
    """The float32 model whose function the fixture saves: init, eos bias, bf16 rounding (no qk fold)."""
    config_cls, model_cls = spec["cls"]
    torch.manual_seed(seed)
    model = model_cls(config_cls(**spec["config"])).eval()
    if eos_bias:
        seen = []
        hook = model.lm_head.register_forward_pre_hook(lambda mod, args: seen.append(args[0]))
        with torch.no_grad():
            model(input_ids=inputs[1], attention_mask=inputs[2], decoder_input_ids=inputs[3],
                  decoder_attention_mask=inputs[4])
        hook.remove()
        u = seen[0][inputs[4].bool()].mean(0)
        with torch.no_grad():  # lm_head.weight is shared.weight in a tied model
            model.lm_head.weight[EOS] += eos_bias * u / u.dot(u)
    if spec.get("dtype") == "bf16":
        with torch.no_grad():
            for p in model.parameters():
                p.copy_(p.to(torch.bfloat16).float())
    return model


def build_fixture(name, spec, out_dir, sp_bytes, seed=None, eos_bias=None):
    """Writes the fixture (None when seed/eos_bias are given and the rules fail: used by --search)."""
    searching = seed is not None
    seed = spec["seed"] if seed is None else seed
    eos_bias = spec["eos_bias"] if eos_bias is None else eos_bias
    new_tokens = spec.get("new_tokens", 24)
    sp = spm.SentencePieceProcessor(model_proto=sp_bytes)
    inputs = golden_inputs(sp, spec.get("long", False))
    model = make_model(spec, seed, eos_bias, inputs)
    goldens, steps = compute_goldens(model, *inputs[1:], new_tokens)
    problems = violations(goldens, steps, new_tokens)
    if searching:
        return None if problems else goldens
    if problems:
        sys.exit(f"{name} (seed {seed}, eos_bias {eos_bias}): {'; '.join(problems)}; run --search --only {name}")
    generated = None
    if name in GENERATE:
        generated, problems, min_gap = generate_goldens(model, sp, GENERATE[name])
        if problems:
            sys.exit(f"{name} generate.json: {'; '.join(problems)}; run --search-generate 7 120 --only {name}")
    if spec.get("scale_qk"):
        # HF never scales q.k; a model trained with the 1/sqrt(d_kv) scale stores q unscaled. Folding
        # sqrt(d_kv) into q and declaring the scale keeps the function identical.
        scale_q(model, math.sqrt(model.config.d_kv))
        model.config.scale_qk = True
    if spec.get("dtype") == "bf16":
        model = model.to(torch.bfloat16)
    kwargs = {"safe_serialization": True}
    if "max_shard_size" in spec:
        kwargs["max_shard_size"] = spec["max_shard_size"]
    model.save_pretrained(out_dir, **kwargs)
    if os.path.exists(os.path.join(out_dir, "generation_config.json")):
        os.remove(os.path.join(out_dir, "generation_config.json"))  # the goldens pass generation settings explicitly
    files = sorted(f for f in os.listdir(out_dir) if f.endswith(".safetensors"))
    if "max_shard_size" in spec and len(files) < 2:
        sys.exit(f"{name}: expected 2+ shards, got {files}")
    save_goldens(goldens, os.path.join(out_dir, "goldens.safetensors"))
    if generated:
        write_generate_json(generated, os.path.join(out_dir, "generate.json"))
    with open(os.path.join(out_dir, "spiece.model"), "wb") as f:
        f.write(sp_bytes)
    fixture = {
        "built_by": "tools/make_fixtures.py",
        "versions": {"torch": TORCH_VERSION, "transformers": transformers.__version__,
                     "sentencepiece": spm.__version__},
        "model_class": spec["cls"][1].__name__,
        "seed": seed,
        "expect": dict(spec["expect"], weight_dtype="BF16" if spec.get("dtype") == "bf16" else "F32",
                       weight_files=len(files), encoder_only=False),
        "goldens": {"max_new_tokens": new_tokens, "batch": goldens["input_ids"].shape[0], "encoder_texts": inputs[0],
                    "eos_bias": {"value": eos_bias, "method": "eos row of lm_head.weight (shared.weight when tied) "
                                 "+= value * u / |u|^2, u = mean lm_head input over the valid teacher-forced "
                                 "decoder positions of the unbiased model"}},
    }
    with open(os.path.join(out_dir, "fixture.json"), "w") as f:
        json.dump(fixture, f, indent=2, sort_keys=True)
        f.write("\n")
    check_saved(name, spec, out_dir, goldens)
    report(name, goldens, new_tokens)
    if generated:
        print(f"{name}: generate.json: {len(generated['cases'])} cases, max_new_tokens {GENERATE[name]['new_tokens']}, "
              f"min_new_tokens {GENERATE[name]['min_new_tokens']}; min gap {min_gap:.2e}")
    return goldens


def scale_q(model, factor):
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("SelfAttention.q.weight", "EncDecAttention.q.weight")):
                p.mul_(factor)


@torch.no_grad()
def check_saved(name, spec, out_dir, goldens):
    """The saved checkpoint, loaded back in float32 (q unscaled for scale_qk), computes the goldens."""
    model = spec["cls"][1].from_pretrained(out_dir, torch_dtype=torch.float32).eval()
    if spec.get("scale_qk"):
        scale_q(model, 1 / math.sqrt(model.config.d_kv))
    inputs = ("input_ids", "attention_mask", "decoder_input_ids", "decoder_attention_mask")
    out = model(**{k: goldens[k] for k in inputs})
    for key in ("logits", "encoder_last_hidden_state"):
        diff = (getattr(out, key) - goldens[key]).abs().max().item()
        assert diff <= TOLERANCE, f"{name}: the saved checkpoint's {key} differ from the goldens by {diff}"


def report(name, g, new_tokens):
    early, full, min_margin = summary(g)
    (batch, s), t = g["input_ids"].shape, g["decoder_input_ids"].shape[1]
    print(f"{name}: B {batch}, S {s}, T {t}, N {new_tokens}; rows stopped early {early}, ran to the limit {full}; "
          f"min margin {min_margin:.4f}")


def search(name, spec, sp_bytes):
    for k in range(50):
        seed = spec["seed"] + 100 * k
        for eos_bias in EOS_BIAS_GRID:
            try:
                found = build_fixture(name, spec, None, sp_bytes, seed, eos_bias) is not None
            except AssertionError:  # a near tie made generate and argmax, or batch and row, disagree
                found = False
            if found:
                print(f"{name}: seed={seed}, eos_bias={eos_bias}")
                return
    sys.exit(f"{name}: no seed/eos_bias found")


# ----------------------------------------------------------------------------------------------------------
# Relative-position buckets and the third-party chronos checkpoint

def build_buckets(out_dir):
    rel = torch.arange(-300, 301, dtype=torch.int64)
    tensors = {"relative_position": rel}
    for nb, md in ((32, 128), (16, 24)):
        for kind, bidirectional in (("bidirectional", True), ("causal", False)):
            tensors[f"{kind}_{nb}_{md}"] = T5Attention._relative_position_bucket(
                rel, bidirectional=bidirectional, num_buckets=nb, max_distance=md).to(torch.int64).contiguous()
    save_file(tensors, os.path.join(out_dir, "relative_buckets.safetensors"))
    return ["relative_buckets.safetensors"]


def build_sentinel_spiece(out_dir):
    """A SentencePiece model that holds T5's sentinels itself (user-defined symbols, <extra_id_99> first,
    so they sit right after the special pieces), and Python sentencepiece's ids for texts using them:
    t5cc must use these ids rather than add the sentinels again."""
    buf = io.BytesIO()
    spm.set_random_generator_seed(1)
    spm.SentencePieceTrainer.train(
        sentence_iterator=iter(corpus(3000, 20240601)), model_writer=buf, model_type="unigram", vocab_size=300,
        pad_id=0, eos_id=1, unk_id=2, bos_id=-1, pad_piece="<pad>", eos_piece="</s>", unk_piece="<unk>",
        user_defined_symbols=[f"<extra_id_{n}>" for n in range(99, -1, -1)],
        normalization_rule_name="identity", character_coverage=1.0, num_threads=1, minloglevel=2)
    with open(os.path.join(out_dir, "spiece_sentinels.model"), "wb") as f:
        f.write(buf.getvalue())
    sp = spm.SentencePieceProcessor(model_proto=buf.getvalue())
    texts = ["The dog <extra_id_0> the river <extra_id_1>.", "<extra_id_99>A small bird<extra_id_42> sings."]
    with open(os.path.join(out_dir, "spiece_sentinels.json"), "w") as f:
        json.dump({"built_by": "tools/make_fixtures.py", "pieces": sp.get_piece_size(),
                   "ids": {t: sp.encode(t) for t in texts}}, f, indent=2, sort_keys=True)
        f.write("\n")
    return ["spiece_sentinels.model", "spiece_sentinels.json"]


def build_chronos(src, out_dir):
    weights = os.path.join(src, "model.safetensors")
    with open(os.path.join(src, "config.json")) as f:
        config = T5Config(**{k: v for k, v in json.load(f).items() if k != "torch_dtype"})
    model = T5ForConditionalGeneration(config).float().eval()
    missing, unexpected = model.load_state_dict(load_file(weights), strict=False)
    assert not unexpected and set(missing) <= {"lm_head.weight"}, (missing, unexpected)
    model.tie_weights()
    assert model.lm_head.weight is model.shared.weight
    return build_external("chronos-dummy-t5", model, weights, "amazon-science/chronos-forecasting test/dummy-chronos-model (Apache-2.0)",
                          seed=32, out_dir=out_dir)


def build_caikit(src, out_dir):
    """caikit-tiny-t5 ships only pytorch_model.bin: transformers (torch.load) reads it, t5cc must agree."""
    model = T5ForConditionalGeneration.from_pretrained(src, torch_dtype=torch.float32).eval()
    assert model.lm_head.weight is model.shared.weight
    return build_external("caikit-tiny-t5", model, os.path.join(src, "pytorch_model.bin"),
                          "caikit/caikit-nlp tests/fixtures/tiny_models/T5ForConditionalGeneration (Apache-2.0)", seed=33, out_dir=out_dir)


def build_external(name, model, weights, origin, seed, out_dir):
    """Goldens of a third-party checkpoint on random ids of its vocabulary (only the numbers are kept)."""
    vocab = model.config.vocab_size
    rng = random.Random(seed)
    enc = [[rng.randrange(2, vocab) for _ in range(n)] + [EOS] for n in (11, 6, 17)]
    dec = [[START] + [rng.randrange(2, vocab) for _ in range(n)] for n in (4, 7, 5)]
    new_tokens = 24
    goldens, _ = compute_goldens(model, *pad_rows(enc), *pad_rows(dec), new_tokens)
    os.makedirs(out_dir, exist_ok=True)
    save_goldens(goldens, os.path.join(out_dir, f"{name}.goldens.safetensors"))
    with open(weights, "rb") as f:
        sha = hashlib.sha256(f.read()).hexdigest()
    meta = {"built_by": "tools/make_fixtures.py", "source": f"{name}/{os.path.basename(weights)}", "origin": origin, "sha256": sha,
            "versions": {"torch": TORCH_VERSION, "transformers": transformers.__version__},
            "max_new_tokens": new_tokens, "batch": len(enc), "dtype": "float32",
            "min_greedy_margin": summary(goldens)[2]}
    with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
        json.dump(meta, f, indent=2, sort_keys=True)
        f.write("\n")
    report(name, goldens, new_tokens)
    return [f"{name}.goldens.safetensors", f"{name}.json"]


def tokenizer_corpus():
    """The 200 strings the tokenizer goldens cover: sentinels and special tokens beside spaces and
    punctuation, NFKC cases (compatibility forms, combining sequences, halfwidth kana), CJK, emoji,
    controls and long whitespace runs; then random mixes of those pieces (fixed seed)."""
    fixed = ["Hello<extra_id_0>world", "a <extra_id_1>b", "x <extra_id_0> y</s>z", "<pad>q", "Hello  world", " lead", "trail ",
             "a\u3000b", "\ufb01ne caf\u00e9", "a\tb\nc", "e\u0301cole", "A\u0308\u0301x", "\r\nline\r\n", "\uff71\uff9e\uff76\uff9e",
             "\uff8a\uff9f\uff9d", "\u2460\u2461\u2462 \u337b \u3300", "\uff21\uff22\uff23\uff11\uff12\uff13", "\u00bd \u00bc \u2103 \u2122 \ufb00",
             "\u01c4 \u01c5 \u01c6", "\ud55c\uad6d\uc5b4 \ud14d\uc2a4\ud2b8", "\u1100\u1161\u11a8", "\u65e5\u672c\u8a9e\u306e\u30c6\u30ad\u30b9\u30c8\u3002",
             "\u4e2d\u6587\uff0c\u6807\u70b9\uff01", "emoji \U0001F600\U0001F44D\U0001F3FD \U0001F1FA\U0001F1F8 \U0001F468\u200d\U0001F469\u200d\U0001F467",
             "e\u0301\u0301", "\u0300 leading mark", "tab\tand\u00a0nbsp", "many     spaces   here", "   ", "", "<extra_id_99>",
             "<extra_id_100>", "<extra_id_0><extra_id_1>", "</s></s>", "<unk>", "<<extra_id_0>>", "a<extra_id_0 >b", "end.<extra_id_2>",
             "\u2126 \u212b \u212a", "\u00df \u1e9e", "x\u200dy", "a\u200bb", "a\ufeffb", "\u0600a",
             "\u0928\u092e\u0938\u094d\u0924\u0947 \u0926\u0941\u0928\u093f\u092f\u093e", "\u0915\u094d\u0937\u0924\u094d\u0930\u093f\u092f",
             "\u041f\u0440\u0438\u0432\u0435\u0442, \u043c\u0438\u0440!", "\u0395\u03bb\u03bb\u03b7\u03bd\u03b9\u03ba\u03ac", "\u05e2\u05d1\u05e8\u05d9\u05ea",
             "\u0627\u0644\u0639\u0631\u0628\u064a\u0629", "\u0e44\u0e17\u0e22", "\x00\x01\x7f", "a\x0bb\x0cc", "line1\u2028line2\u2029",
             "  <extra_id_3>  ", "translate English to German: That is good.",
             "summarize: studies have shown that owning a dog is good for you", "1,000,000.50 $ \u20ac \u00a3 \u00a5",
             "http://example.com/a?b=c&d=e", "C++ is <b>bold</b>", "\uff76\uff9e\uff77\uff9e\uff78\uff9e", "\uff9e", "a\u0301\u0327",
             "\u00e9\u0301", "\u00c4\u0301", "\u01f0\u0301", "\u212b\u0301", " " * 40 + "x" + "\t" * 9 + "y"]
    rng = random.Random(1234)
    parts = list("abcdefghijklmnopqrstuvwxyz ABCXYZ.,!?'\"-") + ["  ", "\t", "\n", "<extra_id_0>", "<extra_id_7>", "</s>", "\u00e9",
             "e\u0301", "\u00fc", "\u00df", "\uff71", "\uff9e", "\u65e5", "\u672c", "\U0001F600", "\u3000", "\u00a0", "\u2460", "\ufb01",
             "\u0301", "\r\n", "<"]
    out = list(fixed)
    while len(out) < 200:
        out.append("".join(rng.choice(parts) for _ in range(rng.randint(1, 40))))
    return out


def fast_tokenizer(spiece, out_dir, extra_ids=100, legacy=None):
    """T5TokenizerFast.from_pretrained on a folder holding only `spiece` (transformers' converter
    writes its tokenizer.json), saved to out_dir; returns the tokenizer."""
    from transformers import T5TokenizerFast
    with tempfile.TemporaryDirectory() as tmp:
        shutil.copy(spiece, os.path.join(tmp, "spiece.model"))
        kwargs = {} if legacy is None else {"legacy": legacy}
        tok = T5TokenizerFast.from_pretrained(tmp, extra_ids=extra_ids, **kwargs)
        tok.save_pretrained(out_dir)  # while spiece.model is there: saved beside tokenizer.json, as on the hub
    return tok


def tokenizer_ids(encode, texts):
    return [list(map(int, encode(t))) for t in texts]


def build_tokenizers(out_dir):
    """tokenizer.json files of a 300-piece nmt_nfkc vocabulary (spiece_nfkc.model) and the ids HF computes with them on the corpus:
    converted/ (T5TokenizerFast from spiece.model alone, legacy: Metaspace prepend "always"),
    first/ (legacy false: prepend "first"), old_style.json (the pre-0.14 layout: Precompiled alone,
    WhitespaceSplit then Metaspace add_prefix_space, as caikit's file), and ids.json: per file, the ids
    of `tokenizers` (EOS included); "spm_fast" is T5TokenizerFast.from_pretrained on the folder with
    spiece.model alone, which t5cc's hf mode must equal without any tokenizer.json; "sentencepiece" is
    Python sentencepiece with the sentinels appended as user-defined pieces. tokenizer_nfkc.gguf carries the
    same vocabulary as llama.cpp's converter writes it (padded to 448 with [PADn]), and no tensors."""
    import tokenizers
    for old in os.listdir(out_dir):
        path = os.path.join(out_dir, old)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    # The fixtures' vocabulary has no normaliser (identity); this one is trained with SentencePiece's nmt_nfkc,
    # so that the files hold a Precompiled charsmap, on the fixtures' corpus plus the tokenizer corpus.
    texts = tokenizer_corpus()
    spiece = os.path.join(out_dir, "spiece_nfkc.model")
    with open(spiece, "wb") as f:
        f.write(train_spiece(corpus(3000, 20240601) + [t for t in texts if t.strip()] * 3, vocab_size=300, rule="nmt_nfkc"))
    converted = fast_tokenizer(spiece, os.path.join(out_dir, "converted"))
    fast_tokenizer(spiece, os.path.join(out_dir, "first"), legacy=False)
    for folder in ("converted", "first"):  # the tokenizer.json and its config are the subject; the rest is noise
        for name in os.listdir(os.path.join(out_dir, folder)):
            if name not in ("tokenizer.json", "tokenizer_config.json"):
                os.remove(os.path.join(out_dir, folder, name))
    with open(os.path.join(out_dir, "converted", "tokenizer.json")) as f:
        old_style = json.load(f)
    old_style["normalizer"] = old_style["normalizer"]["normalizers"][0]
    old_style["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [
        {"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]}
    old_style["decoder"] = {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}
    with open(os.path.join(out_dir, "old_style.json"), "w") as f:
        json.dump(old_style, f, ensure_ascii=False, indent=2)
    ids = {"texts": texts, "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
           "spm_fast": tokenizer_ids(lambda t: converted(t).input_ids, texts)}
    for name, path in (("converted", "converted/tokenizer.json"), ("first", "first/tokenizer.json"), ("old_style", "old_style.json")):
        tk = tokenizers.Tokenizer.from_file(os.path.join(out_dir, path))
        ids[name] = tokenizer_ids(lambda t: tk.encode(t).ids, texts)
    assert ids["converted"] == ids["spm_fast"]
    assert "Precompiled" in json.dumps(old_style["normalizer"])
    # SentencePiece itself with the sentinels appended as user-defined pieces (t5cc's sp mode).
    from sentencepiece import sentencepiece_model_pb2
    with open(spiece, "rb") as f:
        spiece_bytes = f.read()
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(spiece_bytes)
    for n in range(99, -1, -1):
        proto.pieces.add(piece=f"<extra_id_{n}>", score=0.0, type=sentencepiece_model_pb2.ModelProto.SentencePiece.USER_DEFINED)
    sp = spm.SentencePieceProcessor(model_proto=proto.SerializeToString())
    ids["sentencepiece"] = tokenizer_ids(lambda t: sp.encode(t) + [EOS], texts)
    # The same vocabulary as a GGUF file carries it (tokenizer metadata only, no tensors).
    writer = gguf.GGUFWriter(os.path.join(out_dir, "tokenizer_nfkc.gguf"), "t5encoder")
    gguf_vocab(writer, spiece_bytes, 448)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    assert ids["first"] != ids["converted"], "the corpus must tell the prepend schemes apart"
    write_generate_json(ids, os.path.join(out_dir, "ids.json"))
    return sorted(os.listdir(out_dir))


def build_external_tokenizers(google_spiece, caikit, out_dir):
    """The ids HF computes on the tokenizer corpus with third-party files (the files stay outside the
    repository): T5TokenizerFast from Google's spiece.model alone (what transformers' converter makes
    of it, the tokenizer.json of t5 and flan-t5), and tokenizers on caikit-tiny-t5's shipped tokenizer.json."""
    import tokenizers
    texts = tokenizer_corpus()
    with tempfile.TemporaryDirectory() as tmp:
        google = fast_tokenizer(google_spiece, tmp)
        caikit_tk = tokenizers.Tokenizer.from_file(os.path.join(caikit, "tokenizer.json"))
        ids = {"texts": texts, "versions": {"transformers": transformers.__version__, "tokenizers": tokenizers.__version__},
               "t5-spiece": tokenizer_ids(lambda t: google(t).input_ids, texts),
               "caikit-tiny-t5": tokenizer_ids(lambda t: caikit_tk.encode(t).ids, texts)}
    write_generate_json(ids, os.path.join(out_dir, "tokenizer_ids.json"))
    return ["tokenizer_ids.json"]


# The pipelines' prompts: lowercase, stripped, single-spaced ASCII, which PixArt's lower().strip() and Wan's
# prompt_clean leave as they are (asserted), so t5cc sees the text the pipeline tokenizes. The last is
# longer than every preset's length: truncation.
DIFFUSERS_PROMPTS = ["a small bird sings near the old river today.",
                     "the dog <extra_id_0> the river, and a cat.",
                     " ".join(["the old dog runs near the river"] * 120)]


def build_diffusers(out_dir):
    """Each pipeline's T5 folders as diffusers lays them out (encoder and tokenizer in sibling folders,
    as save_pretrained writes them from the fixtures) and the prompt embeddings diffusers' own code
    computes from them on DIFFUSERS_PROMPTS with each preset's settings:
      flux/        text_encoder_2 + tokenizer_2 (v1_1_gated's encoder): FluxPipeline._get_t5_prompt_embeds,
                   max_sequence_length 512 (flux-dev) and 256 (flux-schnell)
      sd3/         text_encoder_3 + tokenizer_3: StableDiffusion3Pipeline._get_t5_prompt_embeds, 256
      pixart/      text_encoder + tokenizer: PixArtSigmaPipeline.encode_prompt, 300, clean_caption False
      wan/         text_encoder + tokenizer (umt5's encoder, 300 sentinels): WanPipeline._get_t5_prompt_embeds, 512
    goldens.safetensors in each holds <preset> F32 [prompts, length, d_model] (and pixart-sigma_mask I64)."""
    import types

    import diffusers
    from diffusers import FluxPipeline, PixArtSigmaPipeline, StableDiffusion3Pipeline, WanPipeline
    from diffusers.pipelines.wan.pipeline_wan import prompt_clean
    from transformers import UMT5EncoderModel
    diffusers.logging.set_verbosity_error()  # the long prompt's truncation warning
    for old in os.listdir(out_dir):
        path = os.path.join(out_dir, old)
        shutil.rmtree(path) if os.path.isdir(path) else os.remove(path)
    assert all(p == p.lower().strip() == prompt_clean(p) for p in DIFFUSERS_PROMPTS)
    layouts = {"flux": ("text_encoder_2", "tokenizer_2", "v1_1_gated", T5EncoderModel, 100),
               "sd3": ("text_encoder_3", "tokenizer_3", "v1_1_gated", T5EncoderModel, 100),
               "pixart": ("text_encoder", "tokenizer", "v1_1_gated", T5EncoderModel, 100),
               "wan": ("text_encoder", "tokenizer", "umt5", UMT5EncoderModel, 300)}
    parts = {}
    for pipe, (enc_dir, tok_dir, source, cls, extra_ids) in layouts.items():
        root = os.path.join(out_dir, pipe)
        encoder = cls.from_pretrained(os.path.join(ROOT, source), torch_dtype=torch.float32).eval()
        encoder.save_pretrained(os.path.join(root, enc_dir))
        tok = fast_tokenizer(os.path.join(ROOT, source, "spiece.model"), os.path.join(root, tok_dir), extra_ids=extra_ids)
        parts[pipe] = types.SimpleNamespace(tokenizer=tok, tokenizer_2=tok, tokenizer_3=tok, text_encoder=encoder, text_encoder_2=encoder,
                                            text_encoder_3=encoder, transformer=None, tokenizer_max_length=77, _execution_device="cpu")
    ns = parts["pixart"]
    ns._text_preprocessing = lambda text, clean_caption=False: PixArtSigmaPipeline._text_preprocessing(ns, text, clean_caption)
    cpu, f32 = torch.device("cpu"), torch.float32
    with torch.no_grad():
        goldens = {
            "flux": {"flux-dev": FluxPipeline._get_t5_prompt_embeds(parts["flux"], DIFFUSERS_PROMPTS, 1, 512, cpu, f32),
                     "flux-schnell": FluxPipeline._get_t5_prompt_embeds(parts["flux"], DIFFUSERS_PROMPTS, 1, 256, cpu, f32)},
            "sd3": {"sd3": StableDiffusion3Pipeline._get_t5_prompt_embeds(parts["sd3"], DIFFUSERS_PROMPTS, 1, 256, cpu, f32)},
            "wan": {"wan": WanPipeline._get_t5_prompt_embeds(parts["wan"], DIFFUSERS_PROMPTS, 1, 512, cpu, f32)}}
        embeds, mask, _, _ = PixArtSigmaPipeline.encode_prompt(parts["pixart"], DIFFUSERS_PROMPTS, do_classifier_free_guidance=False,
                                                               device=cpu, clean_caption=False, max_sequence_length=300)
        goldens["pixart"] = {"pixart-sigma": embeds, "pixart-sigma_mask": mask}
    for pipe, tensors in goldens.items():
        save_goldens({k: v.contiguous() for k, v in tensors.items()}, os.path.join(out_dir, pipe, "goldens.safetensors"))
    meta = {"built_by": "tools/make_fixtures.py build_diffusers", "prompts": DIFFUSERS_PROMPTS,
            "versions": {"diffusers": diffusers.__version__, "transformers": transformers.__version__, "torch": TORCH_VERSION}}
    write_generate_json(meta, os.path.join(out_dir, "diffusers.json"))
    return sorted(os.listdir(out_dir))


def build_pytorch(source, out_dir, **save_kwargs):
    """`source`'s weights as PyTorch .bin file(s), written by transformers itself."""
    model = T5ForConditionalGeneration.from_pretrained(os.path.join(ROOT, source), torch_dtype=torch.float32).eval()
    for old in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, old))
    model.save_pretrained(out_dir, safe_serialization=False, **save_kwargs)
    os.remove(os.path.join(out_dir, "generation_config.json"))
    again = T5ForConditionalGeneration.from_pretrained(out_dir, torch_dtype=torch.float32)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), f"{name} did not survive the .bin round trip"
    return sorted(os.listdir(out_dir))


def build_pytorch_files(out_dir):
    """Small torch.save files: one t5cc reads (storages shared at offsets, three dtypes; also a fuzz
    seed) and those it must refuse by name (each a state dict of a kind a checkpoint is not)."""
    w = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    files = {
        "shared_storage.bin": {"w": w, "row": w[1], "col0": w[:, :1].contiguous(), "half": w.half(), "bf16": w.bfloat16()},
        "noncontiguous.bin": {"w": w.t()},                 # strides (1, 4): a transposed view
        "int64.bin": {"w": torch.arange(4)},               # LongStorage: not an allowed global
        "not_a_tensor.bin": {"w": w, "epoch": 3},          # a value that is not a tensor
        "float64.bin": {"w": w.double()},                  # DoubleStorage
        "legacy.bin": {"w": w},                            # the pre-1.6 format
    }
    for name, state in files.items():
        torch.save(state, os.path.join(out_dir, name), _use_new_zipfile_serialization=name != "legacy.bin")
    return sorted(files)


def build_fp8_values(out_dir):
    """Every fp8 bit pattern and torch's float32 value of it: the reference of t5cc's exact widening."""
    bits = torch.arange(256, dtype=torch.uint8)
    tensors = {}
    for name, dtype in (("e4m3", torch.float8_e4m3fn), ("e5m2", torch.float8_e5m2)):
        tensors[name] = bits.clone().view(dtype)
        tensors[name + "_f32"] = bits.view(dtype).float()
    save_file(tensors, os.path.join(out_dir, "fp8_values.safetensors"))
    return ["fp8_values.safetensors"]


def build_fp8(out_dir):
    """v1_1_gated with its projection weights stored as F8_E4M3 (the embedding, bias tables and norm
    gains stay F32, as fp8 text-encoder files keep them in a wider type), and the goldens of that
    function: the float32 model whose projections are the fp8 values widened, on v1_1_gated's inputs."""
    model = T5ForConditionalGeneration.from_pretrained(os.path.join(ROOT, "v1_1_gated"), torch_dtype=torch.float32).eval()
    stored = {}
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name.endswith(".weight") and p.dim() == 2 and "relative_attention_bias" not in name and name != "shared.weight":
                stored[name] = p.to(torch.float8_e4m3fn)
                p.copy_(stored[name].float())
            elif not name.endswith("embed_tokens.weight"):
                stored[name] = p.contiguous()
    for old in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, old))
    model.config.to_json_file(os.path.join(out_dir, "config.json"))
    save_file(stored, os.path.join(out_dir, "model.safetensors"), metadata={"format": "pt"})
    source = load_file(os.path.join(ROOT, "v1_1_gated", "goldens.safetensors"))
    goldens, _ = compute_goldens(model, source["input_ids"], source["attention_mask"], source["decoder_input_ids"],
                                 source["decoder_attention_mask"], source["generated_ids"].shape[1] - 1)
    save_goldens(goldens, os.path.join(out_dir, "goldens.safetensors"))
    return sorted(os.listdir(out_dir))


def save_encoder_goldens(model, path):
    """The encoder states of `model` on v1_1_gated's golden inputs, with those inputs."""
    source = load_file(os.path.join(ROOT, "v1_1_gated", "goldens.safetensors"))
    with torch.no_grad():
        states = model.encoder(input_ids=source["input_ids"], attention_mask=source["attention_mask"]).last_hidden_state
    save_goldens({"input_ids": source["input_ids"], "attention_mask": source["attention_mask"],
                  "encoder_last_hidden_state": states.float()}, path)


def build_single_file(out_dir):
    """Text encoders as diffusion pipelines ship them: one .safetensors of shared.weight and encoder.*,
    no config.json. v1_1_gated's encoder in F16 (t5xxl_fp16.safetensors, as ComfyUI names it), the same
    under a bundle's prefix beside another model's tensor (bundle.safetensors), and umt5's encoder in F32
    (umt5_encoder.safetensors, per-layer bias tables); goldens_fp16 holds the encoder states transformers
    computes from the F16 values widened, on v1_1_gated's inputs (umt5's are its own goldens')."""
    for old in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, old))
    model = T5ForConditionalGeneration.from_pretrained(os.path.join(ROOT, "v1_1_gated"), torch_dtype=torch.float32).eval()
    encoder = {}
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if name.startswith("encoder.") and not name.endswith("embed_tokens.weight") or name == "shared.weight":
                encoder[name] = p.to(torch.float16).contiguous()
            p.copy_(p.to(torch.float16).float())  # the whole model widened from F16 (only its encoder is compared)
    save_file(encoder, os.path.join(out_dir, "t5xxl_fp16.safetensors"))
    bundle = {"text_encoders.t5xxl.transformer." + k: v for k, v in encoder.items()}
    bundle["text_encoders.clip_l.transformer.text_model.final_layer_norm.weight"] = torch.ones(8, dtype=torch.float16)
    save_file(bundle, os.path.join(out_dir, "bundle.safetensors"))
    umt5 = load_file(os.path.join(ROOT, "umt5", "model.safetensors"))
    save_file({k: v for k, v in umt5.items() if k.startswith("encoder.") or k == "shared.weight"},
              os.path.join(out_dir, "umt5_encoder.safetensors"))
    shutil.copy(os.path.join(ROOT, "v1_1_gated", "spiece.model"), os.path.join(out_dir, "spiece.model"))
    save_encoder_goldens(model, os.path.join(out_dir, "goldens_fp16.safetensors"))
    return sorted(os.listdir(out_dir))


def build_scaled_fp8(out_dir):
    """ComfyUI's scaled fp8 text encoders, v1_1_gated's encoder: each projection stored as F8_E4M3 of
    weight / scale with one float32 scale per tensor (max |weight| / 448), the rest float32. In the older
    layout (t5xxl_fp8_e4m3fn_scaled.safetensors) a `scaled_fp8` tensor marks the file and each layer L has
    L.scale_weight and L.scale_input; in the newer one (t5xxl_fp8_mixed.safetensors) L.weight_scale,
    L.input_scale and L.comfy_quant (the JSON {"format": "float8_e4m3fn"} as bytes), as comfy/ops.py reads
    them. goldens.safetensors: the encoder states transformers computes from the dequantised weights,
    fp8 value widened to float32 times the scale, on v1_1_gated's inputs."""
    for old in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, old))
    model = T5ForConditionalGeneration.from_pretrained(os.path.join(ROOT, "v1_1_gated"), torch_dtype=torch.float32).eval()
    older, newer = {"scaled_fp8": torch.zeros(2, dtype=torch.float8_e4m3fn)}, {}
    quant = torch.tensor(list(json.dumps({"format": "float8_e4m3fn"}).encode("utf-8")), dtype=torch.uint8)
    with torch.no_grad():
        for name, p in model.state_dict().items():
            if not (name.startswith("encoder.") and not name.endswith("embed_tokens.weight") or name == "shared.weight"):
                continue
            if p.dim() == 2 and name != "shared.weight" and "relative_attention_bias" not in name:
                layer = name[:-len(".weight")]
                scale = (p.abs().max() / 448.0).to(torch.float32)
                q = (p / scale).to(torch.float8_e4m3fn)
                p.copy_(q.to(torch.float32) * scale)
                older[name], newer[name] = q, q
                older[layer + ".scale_weight"], newer[layer + ".weight_scale"] = scale.clone(), scale.clone()
                older[layer + ".scale_input"], newer[layer + ".input_scale"] = torch.ones(()), torch.ones(())
                newer[layer + ".comfy_quant"] = quant.clone()
            else:
                older[name], newer[name] = p.contiguous(), p.contiguous()
    save_file(older, os.path.join(out_dir, "t5xxl_fp8_e4m3fn_scaled.safetensors"))
    save_file(newer, os.path.join(out_dir, "t5xxl_fp8_mixed.safetensors"))
    save_encoder_goldens(model, os.path.join(out_dir, "goldens.safetensors"))
    return sorted(os.listdir(out_dir))


# ----------------------------------------------------------------------------------------------------------
# GGUF (gguf-py writes the files; its dequantize is the reference of every value)

GGML = gguf.GGMLQuantizationType if gguf else None


def gguf_blocks(qtype, rows, rng):
    """Random blocks of `qtype` (rows x 256 values) whose every bit pattern is drawn, but for the f16
    scales, which are finite (half of them subnormal or tiny, so their exact widening is tested too)."""
    block_values, block_bytes = gguf.GGML_QUANT_SIZES[qtype]
    n = rows * 256 // block_values
    raw = rng.integers(0, 256, size=(n, block_bytes), dtype=np.uint8)
    # The byte offsets of each type's f16 scale fields (ggml-common.h's block_* structs).
    halves = {GGML.Q8_0: [0], GGML.Q4_0: [0], GGML.Q5_0: [0], GGML.Q4_1: [0, 2], GGML.Q5_1: [0, 2],
              GGML.Q2_K: [80, 82], GGML.Q3_K: [108], GGML.Q4_K: [0, 2], GGML.Q5_K: [0, 2], GGML.Q6_K: [208]}[qtype]
    for at in halves:
        scale = rng.uniform(-1, 1, size=n) * np.where(rng.random(n) < 0.5, 1e-6, 0.05)
        raw[:, at:at + 2] = scale.astype(np.float16).view(np.uint8).reshape(n, 2)
    return raw.reshape(rows, -1)


def quantize_k(x, qtype):
    """A plain K-quant encoder (gguf-py has none; llama.cpp's searches its scales, this one takes the
    range): any valid blocks serve, since the goldens use gguf-py's decoding of these very bytes."""
    blocks = x.reshape(-1, 256).astype(np.float32)
    n = blocks.shape[0]
    if qtype == GGML.Q6_K:
        sub = blocks.reshape(n, 16, 16)
        amax = np.abs(sub).max(-1) / 31.0                                  # per 16 values
        d = np.maximum(amax.max(-1, keepdims=True) / 127.0, 1e-12).astype(np.float16).astype(np.float32)
        sc = np.clip(np.round(amax / d), 1, 127).astype(np.int8)
        q = np.clip(np.round(sub / (d[:, :, None] * sc[:, :, None])), -32, 31).astype(np.int16) + 32
        q = q.reshape(n, 2, 4, 32).astype(np.uint8)                         # half, quarter, l
        ql = (np.concatenate([q[:, :, 0] & 15, q[:, :, 1] & 15], -1) | np.concatenate([q[:, :, 2] & 15, q[:, :, 3] & 15], -1) << 4)
        qh = (q[:, :, 0] >> 4) | (q[:, :, 1] >> 4) << 2 | (q[:, :, 2] >> 4) << 4 | (q[:, :, 3] >> 4) << 6
        return np.concatenate([ql.reshape(n, 128).astype(np.uint8), qh.reshape(n, 64).astype(np.uint8),
                               sc.view(np.uint8), d.astype(np.float16).view(np.uint8)], axis=-1)
    levels = 15 if qtype == GGML.Q4_K else 31
    sub = blocks.reshape(n, 8, 32)
    lo = np.minimum(sub.min(-1), 0)
    scale, mins = (sub.max(-1) - lo) / levels, -lo
    d = np.maximum(scale.max(-1, keepdims=True) / 63.0, 1e-12).astype(np.float16).astype(np.float32)
    dmin = np.maximum(mins.max(-1, keepdims=True) / 63.0, 1e-12).astype(np.float16).astype(np.float32)
    sc = np.clip(np.round(scale / d), 1, 63).astype(np.uint8)
    mn = np.clip(np.round(mins / dmin), 0, 63).astype(np.uint8)
    q = np.clip(np.round((sub + (dmin * mn)[:, :, None]) / (d * sc)[:, :, None]), 0, levels).astype(np.uint8)
    packed = np.zeros((n, 12), dtype=np.uint8)  # ggml's get_scale_min_k4, inverted
    packed[:, 0:4] = sc[:, 0:4] | (sc[:, 4:8] >> 4) << 6
    packed[:, 4:8] = mn[:, 0:4] | (mn[:, 4:8] >> 4) << 6
    packed[:, 8:12] = (sc[:, 4:8] & 15) | (mn[:, 4:8] & 15) << 4
    qs = ((q[:, 0::2] & 15) | (q[:, 1::2] & 15) << 4).reshape(n, 128)
    head = [d.astype(np.float16).view(np.uint8), dmin.astype(np.float16).view(np.uint8), packed]
    if qtype == GGML.Q5_K:
        qh = np.zeros((n, 32), dtype=np.uint8)
        for j in range(8):
            qh |= ((q[:, j] >> 4) & 1) << j
        head.append(qh)
    return np.concatenate(head + [qs], axis=-1)


def gguf_encode(values, qtype):
    """`values` (float32, rows x row) stored as `qtype` (F32, F16 and BF16 included): the bytes gguf-py
    writes, and gguf-py's float32 decoding of them (the function the file computes)."""
    if qtype in (GGML.Q4_K, GGML.Q5_K, GGML.Q6_K):
        raw = quantize_k(values, qtype).reshape(values.shape[0], -1)
    else:
        raw = gguf.quants.quantize(values, qtype)
    decoded = gguf.quants.dequantize(raw, qtype).reshape(values.shape).astype(np.float32)
    return raw, decoded


GGUF_VALUE_TYPES = ["F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q2_K", "Q3_K", "Q4_K", "Q5_K", "Q6_K"]


def build_gguf_values(out_dir):
    """quant_values.gguf: one [4, 256] tensor per type t5cc decodes, random blocks (gguf_blocks), and
    quant_values.safetensors: gguf-py's float32 decoding of each, under the same names."""
    rng = np.random.default_rng(1515)
    writer = gguf.GGUFWriter(os.path.join(out_dir, "quant_values.gguf"), "t5encoder")
    reference = {}
    for name in GGUF_VALUE_TYPES:
        qtype = GGML[name]
        if name == "F16":
            raw = rng.standard_normal((4, 256)).astype(np.float16)
        elif name == "BF16":
            raw = rng.integers(0, 1 << 16, size=(4, 256), dtype=np.uint16)
            raw = np.where((raw & 0x7F80) == 0x7F80, raw & 0x3FFF, raw).astype(np.uint16)  # finite patterns only
            raw = raw.view(np.uint8).reshape(4, 512)
        else:
            raw = gguf_blocks(qtype, 4, rng)
        writer.add_tensor(f"values.{name.lower()}.weight", raw, raw_dtype=qtype)
        reference[name] = torch.from_numpy(np.ascontiguousarray(gguf.quants.dequantize(raw, qtype).reshape(4, 256).astype(np.float32)))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    save_file(reference, os.path.join(out_dir, "quant_values.safetensors"))


def gguf_metadata(writer, config, sp, decoder_layers=None):
    """What convert_hf_to_gguf.py's T5Model writes: the hparams (set_gguf_parameters) and the vocabulary
    (tokens, scores and types of the SentencePiece pieces, the sentinels, [PADn] to vocab_size)."""
    writer.add_context_length(512)
    writer.add_embedding_length(config.d_model)
    writer.add_feed_forward_length(config.d_ff)
    writer.add_block_count(config.num_layers)
    if decoder_layers is not None:  # llama.cpp's newer key; gguf-py 0.17.1 has no helper for it
        writer.add_uint32(f"{writer.arch}.decoder_block_count", decoder_layers)
    writer.add_head_count(config.num_heads)
    writer.add_key_length(config.d_kv)
    writer.add_value_length(config.d_kv)
    writer.add_layer_norm_eps(config.layer_norm_epsilon)
    writer.add_relative_attn_buckets_count(config.relative_attention_num_buckets)
    writer.add_layer_norm_rms_eps(config.layer_norm_epsilon)
    writer.add_decoder_start_token_id(config.decoder_start_token_id)
    gguf_vocab(writer, sp.serialized_model_proto(), config.vocab_size)


def gguf_vocab(writer, spiece_bytes, vocab_size):
    """The tokenizer metadata convert_hf_to_gguf.py's T5Model.set_vocab writes: the pieces' tokens, scores
    and types, then the sentinels (user-defined) and [PADn] (unused) to vocab_size; the normaliser flags
    and precompiled charsmap of the spiece.model; the special ids; add_bos false, add_eos true."""
    from sentencepiece import sentencepiece_model_pb2
    proto = sentencepiece_model_pb2.ModelProto()
    proto.ParseFromString(spiece_bytes)
    pieces = [p.piece for p in proto.pieces]
    sentinels = [f"<extra_id_{99 - i}>" for i in range(100)]
    pads = [f"[PAD{i}]" for i in range(vocab_size - len(pieces) - len(sentinels))]
    writer.add_tokenizer_model("t5")
    writer.add_token_list(pieces + sentinels + pads)
    writer.add_token_scores([p.score for p in proto.pieces] + [0.0] * (len(sentinels) + len(pads)))
    writer.add_token_types([p.type for p in proto.pieces] + [gguf.TokenType.USER_DEFINED] * len(sentinels) +
                           [gguf.TokenType.UNUSED] * len(pads))
    writer.add_add_space_prefix(proto.normalizer_spec.add_dummy_prefix)
    writer.add_remove_extra_whitespaces(proto.normalizer_spec.remove_extra_whitespaces)
    if proto.normalizer_spec.precompiled_charsmap:
        writer.add_precompiled_charsmap(proto.normalizer_spec.precompiled_charsmap)
    writer.add_eos_token_id(EOS)
    writer.add_unk_token_id(proto.trainer_spec.unk_id)
    writer.add_pad_token_id(PAD)
    writer.add_add_bos_token(False)
    writer.add_add_eos_token(True)


def write_gguf(model, path, arch, type_of, sp, decoder_layers=None, alignment=None):
    """Writes `model`'s weights as llama.cpp names them (gguf-py's tensor name map), each stored as
    type_of(hf_name, shape) says, and loads gguf-py's decoding of the stored bytes back into the model.
    Returns {gguf name: type name}."""
    config = model.config
    writer = gguf.GGUFWriter(path, arch)
    if alignment:
        writer.add_custom_alignment(alignment)
    gguf_metadata(writer, config, sp, decoder_layers)
    names = gguf.get_tensor_name_map(gguf.MODEL_ARCH.T5 if arch == "t5" else gguf.MODEL_ARCH.T5ENCODER,
                                     max(config.num_layers, config.num_decoder_layers or 0))
    stored = {}
    state = model.state_dict()
    with torch.no_grad():
        for hf_name, p in state.items():
            if hf_name.endswith("embed_tokens.weight"):
                continue  # tied copies of shared.weight, skipped as the converter skips them
            name = names.get_name(hf_name, try_suffixes=(".weight",))
            assert name, hf_name
            qtype = GGML[type_of(hf_name, tuple(p.shape))]
            raw, decoded = gguf_encode(p.float().numpy(), qtype)
            writer.add_tensor(name, raw, raw_dtype=qtype)
            p.copy_(torch.from_numpy(np.ascontiguousarray(decoded)))
            stored[name] = qtype.name
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return stored


def gguf_model(cls, seed, **config):
    torch.manual_seed(seed)
    return cls(T5Config(**dict(COMMON, vocab_size=VOCAB, **V1_1, **config))).eval()


def build_gguf(out_dir):
    """GGUF T5 files as llama.cpp's converter writes them and city96's encoders ship them, each beside
    goldens of transformers on the weights gguf-py decodes from it, on v1_1_gated's inputs:
      t5encoder_q8_0.gguf     a v1.1 encoder (arch "t5encoder"), projections and embedding Q8_0,
                              bias tables F16, norms F32                    -> goldens_q8_0.safetensors
      t5encoder_kquants.gguf  a v1.1 encoder of width 256 (K-quant rows): attention Q4_K, wi_0/wi_1 Q5_K,
                              wo and the embedding Q6_K, bias table BF16, alignment 64 -> goldens_kquants
      t5_mixed.gguf           an encoder-decoder (arch "t5", 3 decoder blocks over 2): encoder, embedding
                              and output Q8_0, decoder attention Q4_0 / Q5_0, FFN Q4_1 / Q5_1, bias
                              tables F16 -> goldens_t5_mixed (compute_goldens: states, logits, greedy ids)
      quant_values.gguf/.safetensors  every decoded type on random blocks and gguf-py's values
      manifest.json           the stored type of every tensor of each file, as gguf-py wrote it"""
    for old in os.listdir(out_dir):
        os.remove(os.path.join(out_dir, old))
    sp_bytes = open(os.path.join(ROOT, "v1_1_gated", "spiece.model"), "rb").read()
    sp = spm.SentencePieceProcessor(model_proto=sp_bytes)
    source = load_file(os.path.join(ROOT, "v1_1_gated", "goldens.safetensors"))
    ids, mask = source["input_ids"], source["attention_mask"]
    manifest = {"built_by": "tools/make_fixtures.py", "versions": {"gguf": importlib.metadata.version("gguf"), "torch": TORCH_VERSION,
                                                                   "transformers": transformers.__version__}, "files": {}}

    def encoder_type(small):
        def type_of(name, shape):
            if len(shape) == 1:
                return "F32"
            if "relative_attention_bias" in name:
                return small
            return "Q8_0"
        return type_of

    model = gguf_model(T5EncoderModel, 1501, d_model=64, d_kv=32, d_ff=96)
    manifest["files"]["t5encoder_q8_0.gguf"] = write_gguf(model, os.path.join(out_dir, "t5encoder_q8_0.gguf"), "t5encoder",
                                                          encoder_type("F16"), sp)
    with torch.no_grad():
        states = model(input_ids=ids, attention_mask=mask).last_hidden_state
    save_goldens({"input_ids": ids, "attention_mask": mask, "encoder_last_hidden_state": states}, os.path.join(out_dir, "goldens_q8_0.safetensors"))

    def kquant_type(name, shape):
        if len(shape) == 1:
            return "F32"
        if "relative_attention_bias" in name:
            return "BF16"
        if "SelfAttention" in name:
            return "Q4_K"
        if "wi_" in name:
            return "Q5_K"
        return "Q6_K"

    model = gguf_model(T5EncoderModel, 1502, d_model=256, d_kv=64, num_heads=4, d_ff=512)
    manifest["files"]["t5encoder_kquants.gguf"] = write_gguf(model, os.path.join(out_dir, "t5encoder_kquants.gguf"), "t5encoder",
                                                             kquant_type, sp, alignment=64)
    with torch.no_grad():
        states = model(input_ids=ids, attention_mask=mask).last_hidden_state
    save_goldens({"input_ids": ids, "attention_mask": mask, "encoder_last_hidden_state": states},
                 os.path.join(out_dir, "goldens_kquants.safetensors"))

    def mixed_type(name, shape):
        if len(shape) == 1:
            return "F32"
        if "relative_attention_bias" in name:
            return "F16"
        if not name.startswith("decoder."):
            return "Q8_0"
        part = {"SelfAttention": "Q4_0", "EncDecAttention": "Q5_0", "wi_": "Q4_1", "wo": "Q5_1"}
        return next(t for key, t in part.items() if key in name)

    for seed in range(1503, 1600):  # the first seed whose greedy steps are all decided by 1e-3 or more
        model = gguf_model(T5ForConditionalGeneration, seed, d_model=64, d_kv=32, d_ff=96, num_decoder_layers=3)
        path = os.path.join(out_dir, "t5_mixed.gguf")
        stored = write_gguf(model, path, "t5", mixed_type, sp, decoder_layers=3)
        goldens, _ = compute_goldens(model, ids, mask, source["decoder_input_ids"], source["decoder_attention_mask"], 16)
        margins = goldens["greedy_margins"]
        if margins[margins >= 0].min() >= MIN_MARGIN:
            break
    manifest["files"]["t5_mixed.gguf"] = stored
    manifest["t5_mixed_seed"] = seed
    save_goldens(goldens, os.path.join(out_dir, "goldens_t5_mixed.safetensors"))
    build_gguf_values(out_dir)
    manifest["files"]["quant_values.gguf"] = {f"values.{t.lower()}.weight": t for t in GGUF_VALUE_TYPES}
    with open(os.path.join(out_dir, "manifest.json"), "w") as f:
        json.dump(manifest, f, indent=2, sort_keys=True)
        f.write("\n")
    with open(os.path.join(out_dir, "spiece.model"), "wb") as f:
        f.write(sp_bytes)
    return sorted(os.listdir(out_dir))


# ----------------------------------------------------------------------------------------------------------
# Hot fixtures: FFN activations past float16's range, as in trained T5 v1.1 XL/XXL

F16_MAX = 65504.0
HOT_WI_LIMIT = {"gated-gelu": 8192.0, "relu": 2.0 ** 22}  # every |wi output| stays below (all layers, all positions)
HOT_COMMON = dict(vocab_size=VOCAB, d_model=64, d_kv=16, num_heads=4, pad_token_id=0, eos_token_id=1,
                  decoder_start_token_id=0)

# Heated layers (found by hand against hot_violations, then hard-coded): in block `layer` of `stack`, the FFN's
# layer-norm gains become gain * exp(0.5 * z) per channel (z ~ N(0, 1)), wi (wi_0 and wi_1) is multiplied by
# `wi`, wo by `wo`, and the wo rows of `outliers` output channels (drawn) by `outlier_wo` on top: a few residual
# channels grow past 65504 while the others stay small. The draws use torch.Generator seeded with seed + 1 + i
# (i: the heated layer's index in the list); everything else is transformers' init under torch.manual_seed(seed).
HOT = {
    "hot_v1_1": dict(seed=7101, config=dict(HOT_COMMON, d_ff=128, num_layers=4, num_decoder_layers=3, **V1_1),
                     layers=[dict(stack="encoder", layer=1, gain=60.0, wi=4.0, wo=0.0025, outliers=2, outlier_wo=400.0),
                             dict(stack="decoder", layer=1, gain=60.0, wi=4.0, wo=0.0025, outliers=0, outlier_wo=1.0)]),
    "hot_v1_0": dict(seed=7001, config=dict(HOT_COMMON, d_ff=256, num_layers=3, num_decoder_layers=4,
                                            feed_forward_proj="relu", tie_word_embeddings=True),
                     layers=[dict(stack="encoder", layer=1, gain=100.0, wi=400.0, wo=0.001, outliers=2, outlier_wo=2000.0),
                             dict(stack="decoder", layer=2, gain=100.0, wi=400.0, wo=0.001, outliers=0, outlier_wo=1.0)]),
}


def ffn_of(block):
    """(the FFN's layer norm, DenseReluDense, [its wi projections]) of a T5Block."""
    ff = block.layer[-1]
    dense = ff.DenseReluDense
    wis = [dense.wi_0, dense.wi_1] if hasattr(dense, "wi_0") else [dense.wi]
    return ff.layer_norm, dense, wis


@torch.no_grad()
def make_hot_model(spec):
    torch.manual_seed(spec["seed"])
    model = T5ForConditionalGeneration(T5Config(**spec["config"])).eval()
    for i, heat in enumerate(spec["layers"]):
        gen = torch.Generator().manual_seed(spec["seed"] + 1 + i)
        norm, dense, wis = ffn_of(getattr(model, heat["stack"]).block[heat["layer"]])
        norm.weight.copy_(heat["gain"] * torch.exp(0.5 * torch.randn(norm.weight.shape, generator=gen)))
        for wi in wis:
            wi.weight.mul_(heat["wi"])
        dense.wo.weight.mul_(heat["wo"])
        rows = torch.randperm(dense.wo.weight.shape[0], generator=gen)[:heat["outliers"]]
        dense.wo.weight[rows] *= heat["outlier_wo"]
    return model


def tensors_in(value):
    """The floating tensors in a module's output (tensors, tuples, lists, ModelOutputs)."""
    if torch.is_tensor(value):
        return [value] if value.is_floating_point() else []
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (tuple, list)):
        return [t for v in value for t in tensors_in(v)]
    return []


def sig(x, digits=6):
    """x rounded to `digits` significant digits (hot.json: reruns on another CPU write the same text)."""
    return float(f"{x:.{digits}g}")


@torch.no_grad()
def ffn_stats(model, inputs):
    """{stack: [per block: max |wi output| (wi_0 and wi_1 for gated), max |FFN hidden| (wo's input), max |residual|
    (the block's output), over every position (padded ones included, as HF computes them); and at the valid
    positions only (mask 1), the same maxima and how many hidden and residual values exceed 65504]}."""
    masks = {"encoder": inputs["attention_mask"], "decoder": inputs["decoder_attention_mask"]}
    stats, hooks = {}, []

    def record(entry, key, mask):
        def update(t):
            a = t.detach().abs()
            entry[key] = max(entry[key], a.max().item())
            valid = a[mask.bool()]
            entry["valid"][key] = max(entry["valid"][key], valid.max().item())
            if key != "wi":
                entry["valid"][f"{key}_over_f16_max"] += int((valid > F16_MAX).sum())
        return update

    for stack, mask in masks.items():
        for block in getattr(model, stack).block:
            entry = {"wi": 0.0, "hidden": 0.0, "residual": 0.0,
                     "valid": {"wi": 0.0, "hidden": 0.0, "residual": 0.0, "hidden_over_f16_max": 0, "residual_over_f16_max": 0}}
            stats.setdefault(stack, []).append(entry)
            _, dense, wis = ffn_of(block)
            for wi in wis:
                hooks.append(wi.register_forward_hook(lambda m, a, out, f=record(entry, "wi", mask): f(out)))
            hooks.append(dense.wo.register_forward_pre_hook(lambda m, a, f=record(entry, "hidden", mask): f(a[0])))
            hooks.append(block.register_forward_hook(lambda m, a, out, f=record(entry, "residual", mask): f(out[0])))
    model(**inputs)
    for h in hooks:
        h.remove()
    return stats


def hot_violations(stats, ffn):
    problems = []
    wi_limit = HOT_WI_LIMIT[ffn]
    for stack, layers in stats.items():
        if not any(e["valid"]["hidden_over_f16_max"] for e in layers):
            problems.append(f"no {stack} FFN hidden value exceeds {F16_MAX:g}")
        for i, e in enumerate(layers):
            if e["wi"] >= wi_limit:
                problems.append(f"{stack} layer {i}: |wi output| {e['wi']:g} >= {wi_limit:g}")
        if ffn == "relu" and not any(e["valid"]["wi"] > F16_MAX for e in layers):
            problems.append(f"no {stack} relu wi output exceeds {F16_MAX:g}")
    if not any(e["valid"]["residual_over_f16_max"] for layers in stats.values() for e in layers):
        problems.append(f"no residual value exceeds {F16_MAX:g}")
    return problems


@torch.no_grad()
def hf_reduced_precision(out_dir, inputs, dtype):
    """What transformers computes when a user loads the fixture with from_pretrained(torch_dtype=dtype) (wo stays
    float32: T5's _keep_in_fp32_modules): whether the outputs are finite, how many values are not, and the first
    module (forward-hook order: a module completes after the modules it calls) whose output holds inf/NaN,
    overall and in each stack."""
    model = T5ForConditionalGeneration.from_pretrained(out_dir, torch_dtype=dtype).eval()
    first = {}

    def hook(name):
        def check(module, args, out):
            if any(not torch.isfinite(t).all() for t in tensors_in(out)):
                first.setdefault("model", name)
                first.setdefault(name.split(".")[0], name)
        return check

    hooks = [m.register_forward_hook(hook(n)) for n, m in model.named_modules() if n]
    out = model(**inputs)
    for h in hooks:
        h.remove()
    result = {"wo_dtype": str(model.encoder.block[0].layer[-1].DenseReluDense.wo.weight.dtype).replace("torch.", ""),
              "first_nonfinite_module": first.get("model"),
              "first_nonfinite_encoder_module": first.get("encoder"),
              "first_nonfinite_decoder_module": first.get("decoder")}
    for key in ("encoder_last_hidden_state", "logits"):
        t = getattr(out, key)
        bad = int((~torch.isfinite(t)).sum())
        result[f"{key}_finite"] = bad == 0
        result[f"{key}_nonfinite_values"] = bad
        result[f"{key}_values"] = t.numel()
    return result


def build_hot(out_dir, name="hot_v1_1", sp_bytes=None):
    """A "hot" checkpoint (HOT[name]): T5ForConditionalGeneration whose heated FFNs overflow float16 the way trained
    T5 v1.1 XL/XXL do. Writes config.json, model.safetensors (float32), spiece.model, goldens.safetensors (the
    golden batch of the other fixtures: input_ids, attention_mask, decoder_input_ids, decoder_attention_mask,
    encoder_last_hidden_state, logits; float32 HF outputs) and hot.json: the heating, per stack and layer
    ffn_stats of the float32 run, and hf_reduced_precision for float16 and bfloat16. Exits unless the goldens are
    finite, the ffn_stats rules hold (hot_violations) and HF float16 gives inf/NaN encoder states or logits."""
    spec = HOT[name]
    sp_bytes = sp_bytes or train_spiece()
    sp = spm.SentencePieceProcessor(model_proto=sp_bytes)
    texts, ids, mask, dec, dec_mask = golden_inputs(sp, False)
    inputs = dict(input_ids=ids, attention_mask=mask, decoder_input_ids=dec, decoder_attention_mask=dec_mask)
    model = make_hot_model(spec)
    ffn = spec["config"]["feed_forward_proj"]
    stats = ffn_stats(model, inputs)
    with torch.no_grad():
        out = model(**inputs)
    goldens = dict(inputs, encoder_last_hidden_state=out.encoder_last_hidden_state.float(), logits=out.logits.float())
    problems = hot_violations(stats, ffn)
    for key in ("encoder_last_hidden_state", "logits"):
        if not torch.isfinite(goldens[key]).all():
            problems.append(f"the float32 {key} hold inf/NaN")
    if problems:
        sys.exit(f"{name}: {'; '.join(problems)}")
    model.save_pretrained(out_dir, safe_serialization=True)
    if os.path.exists(os.path.join(out_dir, "generation_config.json")):
        os.remove(os.path.join(out_dir, "generation_config.json"))
    save_goldens(goldens, os.path.join(out_dir, "goldens.safetensors"))
    with open(os.path.join(out_dir, "spiece.model"), "wb") as f:
        f.write(sp_bytes)
    reloaded = T5ForConditionalGeneration.from_pretrained(out_dir, torch_dtype=torch.float32).eval()
    with torch.no_grad():
        again = reloaded(**inputs)
    for key in ("encoder_last_hidden_state", "logits"):
        diff = (getattr(again, key) - goldens[key]).abs().max().item()
        assert diff <= TOLERANCE, f"{name}: the saved checkpoint's {key} differ from the goldens by {diff}"
    hf = {str(dtype).replace("torch.", ""): hf_reduced_precision(out_dir, inputs, dtype)
          for dtype in (torch.float16, torch.bfloat16)}
    if hf["float16"]["encoder_last_hidden_state_finite"] and hf["float16"]["logits_finite"]:
        sys.exit(f"{name}: HF float16 gives finite encoder states and logits: the fixture is not hot enough")

    def rounded(entry):
        return {k: rounded(v) if isinstance(v, dict) else sig(v) if isinstance(v, float) else v for k, v in entry.items()}

    hot = {
        "built_by": "tools/make_fixtures.py",
        "versions": {"torch": TORCH_VERSION, "transformers": transformers.__version__, "sentencepiece": spm.__version__},
        "model_class": "T5ForConditionalGeneration",
        "seed": spec["seed"],
        "heated_layers": spec["layers"],
        "heating": "in each heated layer: FFN layer_norm.weight = gain * exp(0.5 * z), z ~ N(0, 1) per channel; "
                   "wi (wi_0, wi_1) *= wi; wo *= wo; the wo rows of `outliers` randomly drawn output channels *= "
                   "outlier_wo; draws from torch.Generator().manual_seed(seed + 1 + index of the heated layer); all else "
                   "transformers' init under torch.manual_seed(seed)",
        "inputs": {"encoder_texts": texts, "method": "golden_inputs of the other fixtures: each text tokenized with "
                   "spiece.model, eos 1 appended, right-padded with 0; decoder rows: 0 then the tokens of a target "
                   "sentence, right-padded with 0 (no eos)", "batch": ids.shape[0], "encoder_length": ids.shape[1],
                   "decoder_length": dec.shape[1]},
        "float32": {"what": "hooks on the float32 model over the golden batch: wi = max |wi output| (wi_0 and wi_1 "
                    "for gated), hidden = max |FFN hidden| (wo's input), residual = max |block output|; over every "
                    "position (padded ones included); 'valid': the same at positions with mask 1, and how many "
                    "hidden / residual values exceed 65504 there",
                    "f16_max": F16_MAX, "wi_limit": HOT_WI_LIMIT[ffn],
                    "layers": {stack: [dict(rounded(e), layer=i) for i, e in enumerate(layers)]
                               for stack, layers in stats.items()}},
        "hf": {"what": "from_pretrained(dir, torch_dtype=dtype) on the golden batch, as users run it (under float16 "
                       "T5's _keep_in_fp32_modules keeps wo in float32: wo_dtype); first_nonfinite_*: the first module in forward-hook order "
                       "(a module completes after those it calls) whose output holds inf/NaN", **hf},
    }
    with open(os.path.join(out_dir, "hot.json"), "w") as f:
        json.dump(hot, f, indent=2, sort_keys=True)
        f.write("\n")
    enc = max(e["hidden"] for e in stats["encoder"])
    decm = max(e["hidden"] for e in stats["decoder"])
    print(f"{name}: max |hidden| encoder {enc:.4g}, decoder {decm:.4g}; HF fp16 first non-finite: "
          f"{hf['float16']['first_nonfinite_module']}; bf16 finite: {hf['bfloat16']['logits_finite']}")
    return goldens


# ----------------------------------------------------------------------------------------------------------
# --check

def same_file(a, b):
    """Goldens within TOLERANCE (integer tensors exactly), .bin files tensor by tensor, every other file byte for byte."""
    if not os.path.isfile(b):
        return False
    if a.endswith(".bin"):  # torch.save writes a fresh serialization_id each time: compare what it holds
        x, y = torch.load(a), torch.load(b)
        return x.keys() == y.keys() and all(
            not torch.is_tensor(x[k]) and x[k] == y[k] or
            torch.is_tensor(x[k]) and torch.is_tensor(y[k]) and x[k].dtype == y[k].dtype and torch.equal(x[k], y[k]) and
            x[k].stride() == y[k].stride() for k in x)
    if not a.endswith(".safetensors") or os.path.basename(a).startswith("model"):
        with open(a, "rb") as fa, open(b, "rb") as fb:
            return fa.read() == fb.read()
    x, y = load_file(a), load_file(b)
    return x.keys() == y.keys() and all(
        x[k].dtype == y[k].dtype and x[k].shape == y[k].shape and
        ((x[k] - y[k]).abs().max().item() <= TOLERANCE if x[k].is_floating_point() else torch.equal(x[k], y[k]))
        for k in x)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="rebuild in a temporary folder and compare with tests/data")
    parser.add_argument("--only", nargs="*", default=None, help="fixture names to build (default: all, and the extras)")
    parser.add_argument("--search", action="store_true", help="find a seed and eos_bias per fixture to hard-code")
    parser.add_argument("--search-generate", type=int, nargs=2, metavar=("SEED", "COUNT"),
                        help="find generate entries (texts from corpus(COUNT, SEED)) per fixture to hard-code")
    parser.add_argument("--chronos", default=CHRONOS_DEFAULT,
                        help="the chronos-dummy-t5 folder, beside caikit-tiny-t5 (default: %(default)s)")
    args = parser.parse_args()
    have = {"torch": torch.__version__, "transformers": transformers.__version__, "sentencepiece": spm.__version__,
            "gguf": importlib.metadata.version("gguf") if gguf else "not installed"}
    for pkg, version in PINNED.items():
        if have[pkg].split("+")[0] != version:
            sys.exit(f"{pkg} {have[pkg]} is installed; the fixtures are pinned to {version} "
                     "(pip install -r tools/requirements-fixtures.txt)")
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    sp_bytes = train_spiece()
    if sp_bytes != train_spiece():
        sys.exit("SentencePiece training is not deterministic")
    unknown = [n for n in args.only or [] if n not in FIXTURES and n not in HOT]
    if unknown:
        sys.exit(f"unknown fixture names {unknown}: choose from {sorted(FIXTURES) + sorted(HOT)}")
    names = [n for n in args.only if n in FIXTURES] if args.only else list(FIXTURES)
    hot_names = [n for n in args.only if n in HOT] if args.only else list(HOT)
    if args.search_generate:
        for name in names:
            search_generate(name, FIXTURES[name], sp_bytes, *args.search_generate)
        return
    if args.search:
        for name in names:
            search(name, FIXTURES[name], sp_bytes)
        return
    jobs = [(name, os.path.join(ROOT, name), lambda out, name=name: build_fixture(name, FIXTURES[name], out, sp_bytes))
            for name in names]
    jobs += [(name, os.path.join(ROOT, name), lambda out, name=name: build_hot(out, name, sp_bytes)) for name in hot_names]
    if args.only is None:
        jobs.append(("relative_buckets", ROOT, build_buckets))
        jobs.append(("sentinel_spiece", ROOT, build_sentinel_spiece))
        jobs.append(("fp8_values", ROOT, build_fp8_values))
        jobs.append(("fp8_e4m3", os.path.join(ROOT, "fp8_e4m3"), build_fp8))
        jobs.append(("single_file", os.path.join(ROOT, "single_file"), build_single_file))
        jobs.append(("scaled_fp8", os.path.join(ROOT, "scaled_fp8"), build_scaled_fp8))
        jobs.append(("gguf", os.path.join(ROOT, "gguf"), build_gguf))
        jobs.append(("tokenizers", os.path.join(ROOT, "tokenizers"), build_tokenizers))
        jobs.append(("diffusers", os.path.join(ROOT, "diffusers"), build_diffusers))
        jobs.append(("pytorch_files", os.path.join(ROOT, "pytorch_files"), build_pytorch_files))
        jobs.append(("pytorch_tied", os.path.join(ROOT, "pytorch_tied"), lambda out: build_pytorch("v1_0_tied", out)))
        jobs.append(("pytorch_sharded", os.path.join(ROOT, "pytorch_sharded"),
                     lambda out: build_pytorch("v1_1_gated", out, max_shard_size="300KB")))
        caikit = os.path.join(os.path.dirname(args.chronos), "caikit-tiny-t5")
        if os.path.isdir(args.chronos) and os.path.isdir(caikit):
            jobs.append(("external", os.path.join(ROOT, "external"),
                         lambda out: build_chronos(args.chronos, out) + build_caikit(caikit, out) +
                         build_external_tokenizers(os.path.join(os.path.dirname(args.chronos), "t5-spiece", "spiece.model"), caikit, out)))
        else:
            print(f"note: {args.chronos} or {caikit} is absent; the goldens of the external checkpoints are skipped")
    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        for label, target, make in jobs:
            out = os.path.join(tmp, label) if args.check else target
            if (label in FIXTURES or label in HOT) and not args.check:
                shutil.rmtree(out, ignore_errors=True)
            os.makedirs(out, exist_ok=True)
            make(out)
            if args.check:
                written = sorted(os.listdir(out))
                diff = [f for f in written if not same_file(os.path.join(out, f), os.path.join(target, f))]
                if label in FIXTURES or label in HOT:  # a fixture directory holds nothing else
                    diff += sorted(set(os.listdir(target)) - set(written)) if os.path.isdir(target) else []
                print(f"{label}: {'reproduced' if not diff else 'DIFFERS: ' + ', '.join(diff)}")
                failures += bool(diff)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
