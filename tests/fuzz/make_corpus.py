#!/usr/bin/env python3
"""Writes the committed seed corpus of the fuzz harnesses, tests/fuzz/corpus/<harness>/, from the
fixtures of tests/data and hand-made edge cases (standard library only; the output is the same on
every run). Usage: python3 tests/fuzz/make_corpus.py   (from anywhere; replaces corpus/ whole)

Seeds are small (a few KB): a file too large to commit is represented by its header alone (the
valid safetensors files of fuzz_load are written by the harness at run time, see fuzz_load.cpp).
"""
import json
import shutil
import struct
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE.parent / "data"
OUT = HERE / "corpus"
FIXTURES = ["bf16", "buckets", "mt5", "scale_qk", "sharded", "umt5", "v1_0_tied", "v1_1_gated"]


def write(harness, name, content):
    path = OUT / harness / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)


def header_of(path):
    b = path.read_bytes()
    (n,) = struct.unpack("<Q", b[:8])
    return json.loads(b[8 : 8 + n]), b[: 8 + n]


def safetensors(header, data=b"", pad=True):
    """A file as t5::io::SafetensorsWriter lays it out (nlohmann's dump: sorted keys, no spaces)."""
    text = json.dumps(header, sort_keys=True, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data


def tensor(dtype, shape, begin, end):
    return {"dtype": dtype, "shape": shape, "data_offsets": [begin, end]}


def encoder_only_header(header):
    """The header SafetensorsWriter gives the encoder-only file fuzz_load builds from the bf16 fixture."""
    out, offset = {}, 0
    for name in sorted(k for k in header if k.startswith("encoder.") or k == "shared.weight"):
        t = header[name]
        size = t["data_offsets"][1] - t["data_offsets"][0]
        out[name] = tensor(t["dtype"], t["shape"], offset, offset + size)
        offset += size
    if "__metadata__" in header:
        out["__metadata__"] = header["__metadata__"]
    return out


def safetensors_seeds(harness):
    bf16_header, bf16_head = header_of(DATA / "bf16" / "model.safetensors")
    write(harness, "bf16-header-only.safetensors", bf16_head)
    write(harness, "bf16-encoder-only-header-only.safetensors", safetensors(encoder_only_header(bf16_header)))
    if harness == "load":
        write(harness, "empty", b"")
        return
    f32 = struct.pack("<4f", 1.0, -2.0, 0.5, 3.0)
    write(harness, "f32-2x2.safetensors", safetensors({"x": tensor("F32", [2, 2], 0, 16)}, f32))
    write(harness, "metadata.safetensors",
          safetensors({"__metadata__": {"format": "pt"}, "a": tensor("F16", [2], 0, 4), "b": tensor("BF16", [1, 2], 4, 8)},
                      struct.pack("<4H", 0x3C00, 0x7C00, 0x7FC0, 0xFF80)))
    sizes = {"BOOL": 1, "U8": 1, "I8": 1, "I16": 2, "U16": 2, "I32": 4, "U32": 4, "I64": 8, "U64": 8,
             "F8_E4M3": 1, "F8_E5M2": 1, "F16": 2, "BF16": 2, "F32": 4, "F64": 8}
    header, offset = {}, 0
    for dtype, size in sizes.items():
        header["t_" + dtype] = tensor(dtype, [1], offset, offset + size)
        offset += size
    write(harness, "every-dtype.safetensors", safetensors(header, bytes(range(offset))))
    write(harness, "empty-header.safetensors", safetensors({}, pad=False))
    write(harness, "zero-size.safetensors", safetensors({"z": tensor("F32", [0, 3], 0, 0), "s": tensor("F32", [], 0, 4)}, b"\0" * 4))
    write(harness, "unpadded-unaligned.safetensors", safetensors({"x": tensor("F32", [1], 1, 5)}, b"\0" * 5, pad=False))
    # Hand-made malformed files: each stops at a different check of SafetensorsFile.
    write(harness, "bad-8-bytes-only", struct.pack("<Q", 0))
    write(harness, "bad-short", b"\x02\0\0")
    write(harness, "bad-header-past-end", struct.pack("<Q", 64) + b"{}")
    write(harness, "bad-header-huge", struct.pack("<Q", 2**63) + b"{}")
    write(harness, "bad-json", struct.pack("<Q", 5) + b'{"a":')
    write(harness, "bad-not-object", safetensors([1, 2]))
    write(harness, "bad-overlap.safetensors", safetensors({"a": tensor("F32", [2], 0, 8), "b": tensor("F32", [2], 4, 12)}, b"\0" * 12))
    write(harness, "bad-offsets-reversed.safetensors", safetensors({"a": tensor("F32", [0], 8, 0)}, b"\0" * 8))
    write(harness, "bad-shape-size.safetensors", safetensors({"a": tensor("F32", [3], 0, 8)}, b"\0" * 8))
    write(harness, "bad-shape-overflow.safetensors",
          safetensors({"a": tensor("F32", [2**32, 2**32, 2**32], 0, 0)}, b""))
    write(harness, "bad-unknown-dtype.safetensors", safetensors({"a": tensor("F128", [1], 0, 16)}, b"\0" * 16))
    duplicate = b'{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}}'
    write(harness, "bad-duplicate.safetensors", struct.pack("<Q", len(duplicate)) + duplicate + b"\0" * 4)
    write(harness, "bad-metadata.safetensors", safetensors({"__metadata__": {"k": 1}}))
    write(harness, "bad-number-range.safetensors", struct.pack("<Q", 5) + b"1e309")
    write(harness, "bad-name-newline.safetensors", safetensors({"a\nb": tensor("F32", [1], 0, 8)}, b"\0" * 8))


def config_seeds():
    for fixture in FIXTURES:
        write("config", fixture + ".json", (DATA / fixture / "config.json").read_bytes())
    base = json.loads((DATA / "bf16" / "config.json").read_text())
    cases = {
        "minimal-t5": {"model_type": "t5", "vocab_size": 320, "d_model": 32, "d_ff": 48, "num_layers": 2, "num_heads": 2},
        "minimal-umt5": {"model_type": "umt5", "vocab_size": 320, "d_model": 32, "num_layers": 2},
        "gated-relu": dict(base, feed_forward_proj="gated-relu", dense_act_fn="relu"),
        "gelu-erf": dict(base, dense_act_fn="gelu"),
        "scale-qk-untied": dict(base, scale_qk=True, tie_word_embeddings=True),
        "null-decoder-layers": dict(base, num_decoder_layers=None, decoder_start_token_id=None),
        "bad-model-type": dict(base, model_type="bert"),
        "bad-ffp": dict(base, feed_forward_proj="gated-gelu-new"),
        "bad-zero-layers": dict(base, num_layers=0),
        "bad-big-int": dict(base, d_model=2**64 - 1),
        "bad-eps": dict(base, layer_norm_epsilon="1e-6"),
        "bad-null-pad": dict(base, pad_token_id=None),
        "bad-buckets": dict(base, relative_attention_num_buckets=3, relative_attention_max_distance=1),
        "bad-huge-layers": dict(base, num_layers=2**31 - 1),  # once a hang in Checkpoint::open
    }
    for name, value in cases.items():
        write("config", name + ".json", json.dumps(value, indent=1))
    write("config", "bad-duplicate.json", '{"model_type": "t5", "d_model": 32, "d_model": 64}')
    write("config", "bad-not-object.json", "[]")
    write("config", "bad-syntax.json", '{"model_type": "t5",')
    # Once escaped parse_json_strict: a number out of double's range, a key with a newline.
    write("config", "bad-number-range.json", '{"model_type": "t5", "layer_norm_epsilon": 1e309}')
    write("config", "bad-duplicate-newline.json", '{"model_type": "t5", "a\\nb": 1, "a\\nb": 2}')


def index_seeds():
    text = (DATA / "sharded" / "model.safetensors.index.json").read_text()
    write("index", "sharded.json", text)
    index = json.loads(text)
    names = sorted(index["weight_map"])
    wm = index["weight_map"]
    cases = {
        "one-shard-subset": {"weight_map": {n: s for n, s in wm.items() if s == "model-00001-of-00003.safetensors"}},
        "empty-map": {"metadata": {}, "weight_map": {}},
        "wrong-shard": {"weight_map": dict(wm, **{names[0]: "model-00003-of-00003.safetensors"})},
        "missing-shard": {"weight_map": dict(wm, **{names[0]: "model-00004-of-00003.safetensors"})},
        "escape": {"weight_map": dict(wm, **{names[0]: "../sharded/model-00001-of-00003.safetensors"})},
        "names-config": {"weight_map": {"x": "config.json"}},
        "names-itself": {"weight_map": {"x": "model.safetensors.index.json"}},
        "not-string": {"weight_map": {names[0]: 1}},
        "no-map": {"metadata": {"total_size": 1}},
    }
    for name, value in cases.items():
        write("index", name + ".json", json.dumps(value, indent=1))
    write("index", "not-object.json", '"weight_map"')


def tokenizer_config_seeds():
    cases = {
        "empty": "{}",
        "extra-100": '{"extra_ids": 100}',
        "extra-0": '{"extra_ids": 0}',
        "extra-1": '{"extra_ids": 1, "model_max_length": 512}',
        "extra-negative": '{"extra_ids": -1}',
        "extra-float": '{"extra_ids": 1.5}',
        "extra-string": '{"extra_ids": "100"}',
        "hf-style": json.dumps({"additional_special_tokens": ["<extra_id_0>", "<extra_id_1>"], "eos_token": "</s>",
                                "extra_ids": 100, "model_max_length": 512, "pad_token": "<pad>",
                                "tokenizer_class": "T5Tokenizer", "unk_token": "<unk>"}, indent=1),
        "not-object": "[100]",
        "bad-syntax": '{"extra_ids": ',
        "bad-duplicate": '{"extra_ids": 100, "extra_ids": 1}',
    }
    for name, text in cases.items():
        write("tokenizer_config", name + ".json", text)


def tokenizer_json_seeds():
    """Small tokenizer.json files in the layouts t5cc reads (the fixtures' own are too large to mutate):
    a 12-piece Unigram vocabulary, sentinels as added tokens, the converter's and the pre-0.14 pipelines,
    and files t5cc refuses."""
    vocab = [["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["\u2581", -2.0], ["\u2581the", -3.0], ["e", -3.5], ["h", -4.0],
             ["t", -4.0], ["\u2581dog", -5.0], ["o", -4.5], ["<extra_id_1>", 0.0], ["<extra_id_0>", 0.0]]
    added = [{"id": i, "content": p, "single_word": False, "lstrip": False, "rstrip": False, "normalized": False, "special": True}
             for i, (p, _) in enumerate(vocab) if p.startswith("<")]
    converted = {"version": "1.0", "added_tokens": added,
                 "normalizer": {"type": "Sequence", "normalizers": [{"type": "Strip", "strip_left": False, "strip_right": True},
                                                                   {"type": "Replace", "pattern": {"Regex": " {2,}"}, "content": "\u2581"}]},
                 "pre_tokenizer": {"type": "Metaspace", "replacement": "\u2581", "prepend_scheme": "always", "split": True},
                 "model": {"type": "Unigram", "unk_id": 2, "vocab": vocab, "byte_fallback": False}}
    cases = {"converted": converted}
    cases["first"] = json.loads(json.dumps(converted))
    cases["first"]["pre_tokenizer"]["prepend_scheme"] = "first"
    cases["old-style"] = dict(converted, normalizer={"type": "Precompiled", "precompiled_charsmap": None},
                              pre_tokenizer={"type": "Sequence", "pretokenizers": [
                                  {"type": "WhitespaceSplit"}, {"type": "Metaspace", "replacement": "\u2581", "add_prefix_space": True}]})
    cases["lstrip"] = json.loads(json.dumps(converted))
    cases["lstrip"]["added_tokens"][3].update(lstrip=True, rstrip=True)
    cases["charsmap-garbage"] = dict(converted, normalizer={"type": "Precompiled", "precompiled_charsmap": "CAAAAP////8BAAAAYQBi"})
    cases["bpe"] = dict(converted, model={"type": "BPE", "vocab": {}, "merges": []})
    cases["no-unk"] = dict(converted, model={"type": "Unigram", "unk_id": None, "vocab": vocab})
    for name, value in cases.items():
        write("tokenizer_json", name + ".json", json.dumps(value, indent=1))
    # Found by fuzzing: an id beyond 2^64 parses as a float, which nlohmann converted to int64 (undefined).
    write("tokenizer_json", "float-id.json", json.dumps(converted, indent=1).replace('"id": 1,', '"id": 184467440737095516151,', 1))
    # Found by fuzzing: a piece starting with NUL made SentencePiece's trie throw (not a t5::Error).
    nul = dict(converted, model=dict(converted["model"], vocab=vocab[:8] + [["\u0000\u2581dog", -5.0]] + vocab[9:]))
    write("tokenizer_json", "nul-piece.json", json.dumps(nul, indent=1))


def tokenizer_text_seeds():
    texts = json.loads((DATA / "v1_0_tied" / "fixture.json").read_text())["goldens"]["encoder_texts"]
    texts += list(json.loads((DATA / "spiece_sentinels.json").read_text())["ids"])
    for i, text in enumerate(texts):
        write("tokenizer_text", "fixture-%d.txt" % i, text)
    write("tokenizer_text", "empty.txt", "")
    write("tokenizer_text", "sentinels.txt", "<extra_id_0><extra_id_99> <extra_id_100> <extra_id_ <extra_id_-1>")
    write("tokenizer_text", "unicode.txt", "Grüße, 日本語, emoji \U0001F600, \u2581 word\u2581boundary, tab\tnew\nline")
    write("tokenizer_text", "invalid-utf8.bin", b"ab\xff\xfe\xc3(\xe2\x82 \xf0\x90\x8d\0nul")
    write("tokenizer_text", "spaces.txt", " " * 40 + "x" + " " * 40)


def pytorch_seeds():
    """The small torch.save files of tests/data/pytorch_files, and archives derived from the valid one."""
    import io
    import zipfile
    files = DATA / "pytorch_files"
    for f in sorted(files.iterdir()):
        write("pytorch", f.name, f.read_bytes())
    valid = (files / "shared_storage.bin").read_bytes()
    with zipfile.ZipFile(io.BytesIO(valid)) as z:
        entries = [(i.filename, z.read(i)) for i in z.infolist()]

    def rezip(name, items, **kw):
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", **kw) as z:
            for n, data in items:
                z.writestr(zipfile.ZipInfo(n, date_time=(2026, 1, 1, 0, 0, 0)), data)
        write("pytorch", name, out.getvalue())

    rezip("stored-by-python.bin", entries)  # another writer's layout: no padding, no data descriptors
    rezip("deflated.bin", entries, compression=zipfile.ZIP_DEFLATED)
    rezip("no-data-pkl.bin", [e for e in entries if not e[0].endswith("data.pkl")])
    rezip("no-storage-0.bin", [e for e in entries if not e[0].endswith("/data/0")])
    # Found by the 10-minute run of 2026-12-06: an archive folder holding a newline made a multi-line message.
    rezip("newline-in-archive-name.bin", [(n.replace("/", "\n/", 1), d[: len(d) // 2] if n.endswith("data.pkl") else d)
                                          for n, d in entries])
    write("pytorch", "truncated.bin", valid[: len(valid) - 30])
    write("pytorch", "empty.bin", b"")


def gguf_file(arch, metadata, tensors, version=3, alignment=32):
    """A GGUF file: metadata [(key, type, packed value)], tensors [(name, dims innermost first, ggml type, data)]."""
    def string(text):
        b = text.encode()
        return struct.pack("<Q", len(b)) + b

    out = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(metadata) + 1)
    out += string("general.architecture") + struct.pack("<I", 8) + string(arch)
    for key, kind, value in metadata:
        out += string(key) + struct.pack("<I", kind) + value
    data, offsets = b"", []
    for name, dims, kind, payload in tensors:
        data += b"\0" * (-len(data) % alignment)
        offsets.append(len(data))
        data += payload
    for (name, dims, kind, payload), offset in zip(tensors, offsets):
        out += string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", kind, offset)
    return out + b"\0" * (-len(out) % alignment) + data


def gguf_seeds():
    """The quantised values fixture, a tiny t5encoder model (Q8_0 projections, F32 norms and bias table),
    the same as a t5 file with one decoder block, and one file per malformation GgufFile names."""
    write("gguf", "quant_values.gguf", (DATA / "gguf" / "quant_values.gguf").read_bytes())
    state = [12345]

    def byte():
        state[0] = (state[0] * 1103515245 + 12345) % (1 << 31)
        return state[0] >> 16 & 0xFF

    def q8_0(rows, cols):  # d = 0.02 (f16 0x251F), random int8 values
        return b"".join(b"\x1f\x25" + bytes(byte() for _ in range(32)) for _ in range(rows * cols // 32))

    def f32(n, value=1.0):
        return struct.pack("<%df" % n, *([value] * n))

    u32 = lambda v: struct.pack("<I", v)
    meta = lambda arch: [(arch + ".embedding_length", 4, u32(32)), (arch + ".feed_forward_length", 4, u32(32)),
                         (arch + ".block_count", 4, u32(1)), (arch + ".attention.head_count", 4, u32(1)),
                         (arch + ".attention.key_length", 4, u32(32)), (arch + ".attention.relative_buckets_count", 4, u32(32)),
                         (arch + ".attention.layer_norm_rms_epsilon", 6, struct.pack("<f", 1e-6))]

    def block(stack, cross):
        t = [(stack + ".attn_norm.weight", [32], 0, f32(32)), (stack + ".attn_rel_b.weight", [1, 32], 0, f32(32, 0.1))]
        t += [(stack + ".attn_" + p + ".weight", [32, 32], 8, q8_0(32, 32)) for p in "qkvo"]
        if cross:
            t += [(stack + ".cross_attn_norm.weight", [32], 0, f32(32))]
            t += [(stack + ".cross_attn_" + p + ".weight", [32, 32], 8, q8_0(32, 32)) for p in "qkvo"]
        t += [(stack + ".ffn_norm.weight", [32], 0, f32(32))]
        t += [(stack + ".ffn_" + p + ".weight", [32, 32], 8, q8_0(32, 32)) for p in ("gate", "up", "down")]
        return t

    encoder = [("token_embd.weight", [32, 8], 8, q8_0(8, 32)), ("enc.output_norm.weight", [32], 0, f32(32))] + block("enc.blk.0", False)
    write("gguf", "t5encoder-q8_0.gguf", gguf_file("t5encoder", meta("t5encoder"), encoder))
    full = encoder + block("dec.blk.0", True) + [("dec.output_norm.weight", [32], 0, f32(32)), ("output.weight", [32, 8], 8, q8_0(8, 32))]
    write("gguf", "t5-q8_0.gguf", gguf_file("t5", meta("t5") + [("tokenizer.ggml.eos_token_id", 4, u32(1))], full, version=2))
    small = [("token_embd.weight", [32, 2], 8, q8_0(2, 32))]
    write("gguf", "version-1.gguf", gguf_file("t5encoder", [], small, version=1))
    write("gguf", "big-endian.gguf", b"GGUF" + struct.pack(">I", 3) + gguf_file("t5encoder", [], small)[8:])
    write("gguf", "truncated.gguf", gguf_file("t5encoder", [], small)[:-20])
    write("gguf", "empty.gguf", b"")
    write("gguf", "llama.gguf", gguf_file("llama", [], small))
    write("gguf", "alignment-48.gguf", gguf_file("t5encoder", [("general.alignment", 4, u32(48))], small))
    write("gguf", "unknown-type.gguf", gguf_file("t5encoder", [], [("token_embd.weight", [32, 2], 99, q8_0(2, 32))]))
    write("gguf", "iq2_xxs.gguf", gguf_file("t5encoder", [], [("token_embd.weight", [256], 16, bytes(66))]))
    write("gguf", "partial-block.gguf", gguf_file("t5encoder", [], [("token_embd.weight", [16, 2], 8, q8_0(1, 32))]))
    nested = struct.pack("<IQ", 9, 1) * 10
    write("gguf", "nested-arrays.gguf", gguf_file("t5encoder", [("x", 9, nested)], small))
    strings = struct.pack("<IQ", 8, 3) + b"".join(struct.pack("<Q", len(w)) + w for w in (b"<pad>", b"</s>", b"<unk>"))
    write("gguf", "string-array.gguf", gguf_file("t5encoder", [("tokenizer.ggml.tokens", 9, strings)], small))
    write("gguf", "huge-count.gguf", b"GGUF" + struct.pack("<IQQ", 3, 1 << 60, 1 << 60))


def main():
    if OUT.exists():
        shutil.rmtree(OUT)
    safetensors_seeds("safetensors")
    safetensors_seeds("load")
    pytorch_seeds()
    gguf_seeds()
    config_seeds()
    index_seeds()
    tokenizer_config_seeds()
    tokenizer_text_seeds()
    tokenizer_json_seeds()
    for d in sorted(OUT.iterdir()):
        files = list(d.iterdir())
        print("%-18s %3d seeds, %6d bytes" % (d.name, len(files), sum(f.stat().st_size for f in files)))


if __name__ == "__main__":
    main()
