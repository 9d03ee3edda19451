"""The Python module against the C++ library it wraps: encode and generate equal the t5cc tool's
output bit for bit (the same library, threads=1 on both sides so that no reduction order can
differ), library errors arrive as t5cc.Error with their code, the GIL is released during compute,
1000 calls leak nothing, and the type stubs ship with the package.

Environment (tests/python/meson.build): PYTHONPATH holds the built package, T5CC_BIN the t5cc
tool, T5CC_TEST_DATA the fixtures, T5CC_DEMO_MODEL the demo model. Exit 77 (SKIP) without numpy.
"""
import json
import os
import struct
import subprocess
import sys
import tempfile
import threading
import time
import unittest

try:
    import numpy as np
except ImportError:
    print("SKIP: numpy is not installed for", sys.executable)
    sys.exit(77)

import t5cc

T5CC = os.environ["T5CC_BIN"]
DATA = os.environ["T5CC_TEST_DATA"]
DEMO = os.environ["T5CC_DEMO_MODEL"]
# The fixtures of every variant, with texts their tokenizers read (random weights: the words mean nothing).
MODELS = {
    "demo": (DEMO, ["42", "1999", "250000", "7"]),
    "v1_0_tied": (os.path.join(DATA, "v1_0_tied"), ["The dog walks.", "A bird sings in the river <extra_id_0> today.", "x"]),
    "v1_1_gated": (os.path.join(DATA, "v1_1_gated"), ["The dog walks.", "Two birds."]),
    "umt5": (os.path.join(DATA, "umt5"), ["The dog walks.", "Zwei Vögel singen."]),
}


def cli(*args):
    r = subprocess.run([T5CC, *args], capture_output=True, text=True)
    if r.returncode != 0:
        raise AssertionError(f"t5cc {' '.join(args)} failed ({r.returncode}): {r.stderr}")
    return r.stdout


def read_safetensors(path):
    """{name: ndarray} of a safetensors file (the format is 8 bytes of header length, a JSON header, the data)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8 : 8 + n])
    dtypes = {"F32": np.float32, "I64": np.int64}
    out = {}
    for name, t in header.items():
        if name == "__metadata__":
            continue
        begin, end = t["data_offsets"]
        out[name] = np.frombuffer(blob[8 + n + begin : 8 + n + end], dtype=dtypes[t["dtype"]]).reshape(t["shape"])
    return out


def cli_encode(model, *args):
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "states.safetensors")
        cli("encode", "--model", model, "--threads", "1", "--quiet", "--out", out, *args)
        return read_safetensors(out)


def rss_bytes():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


class EqualsTheLibrary(unittest.TestCase):
    def test_encode_texts(self):
        for name, (path, texts) in MODELS.items():
            with self.subTest(model=name):
                m = t5cc.load(path, threads=1)
                states, ids, mask = m.encode_with_tokens(texts)
                ref = cli_encode(path, *texts)
                self.assertEqual(states.dtype, np.float32)
                self.assertEqual(states.shape, ref["last_hidden_state"].shape)
                self.assertTrue(np.array_equal(states, ref["last_hidden_state"]), name)
                self.assertTrue(np.array_equal(ids, ref["input_ids"]))
                self.assertTrue(np.array_equal(mask, ref["attention_mask"]))
                self.assertTrue(np.array_equal(m.encode(texts), states))

    def test_encode_options(self):
        path, texts = MODELS["v1_1_gated"]
        m = t5cc.load(path, threads=1)
        cases = [
            ({"pad_to": 12}, ["--pad-to", "12"]),
            ({"pad_to": 4, "truncate": True}, ["--pad-to", "4", "--truncate"]),
            ({"mask": False}, ["--mask", "none"]),
            ({"mode": "hf"}, ["--mode", "hf"]),
        ]
        for kwargs, flags in cases:
            with self.subTest(kwargs=kwargs):
                ref = cli_encode(path, *flags, *texts)["last_hidden_state"]
                self.assertTrue(np.array_equal(m.encode(texts, **kwargs), ref))

    def test_encode_presets(self):
        # The diffusers layout fixtures the cli presets test uses.
        for preset, folder in [("flux-schnell", "flux"), ("pixart-sigma", "pixart"), ("wan", "wan")]:
            path = os.path.join(DATA, "diffusers", folder, "text_encoder_2" if folder == "flux" else "text_encoder")
            if not os.path.isdir(path):
                self.fail(f"no fixture {path}")
            with self.subTest(preset=preset):
                m = t5cc.load(path, threads=1)
                texts = ["a photo of a cat", "a red bird"]
                ref = cli_encode(path, "--preset", preset, *texts)
                states, ids, mask = m.encode_with_tokens(texts, preset=preset)
                self.assertTrue(np.array_equal(states, ref["last_hidden_state"]))
                self.assertTrue(np.array_equal(ids, ref["input_ids"]))
                self.assertTrue(np.array_equal(mask, ref["attention_mask"]))

    def test_encode_ids(self):
        path, _ = MODELS["umt5"]
        m = t5cc.load(path, threads=1)
        rows = [[5, 6, 7, 1], [9, 1]]
        ref = cli_encode(path, "--ids", "5 6 7 1", "9 1")["last_hidden_state"]
        self.assertTrue(np.array_equal(m.encode(rows), ref))
        # A 2-D array of any integer dtype, and an explicit mask equal to the padding's.
        padded = np.array([[5, 6, 7, 1], [9, 1, 0, 0]], dtype=np.int32)
        self.assertTrue(np.array_equal(m.encode(padded, mask=np.array([[1, 1, 1, 1], [1, 1, 0, 0]])), ref))

    def test_generate(self):
        for name in ["demo", "v1_0_tied", "umt5"]:
            path, texts = MODELS[name]
            m = t5cc.load(path, threads=1)
            for options, flags in [
                ({}, []),
                ({"num_beams": 3, "num_return_sequences": 2, "max_new_tokens": 9}, ["--num-beams", "3", "--num-return-sequences", "2", "--max-new-tokens", "9"]),
                ({"do_sample": True, "seed": 7, "top_k": 5, "temperature": 0.7, "max_new_tokens": 9},
                 ["--do-sample", "--seed", "7", "--top-k", "5", "--temperature", "0.7", "--max-new-tokens", "9"]),
            ]:
                with self.subTest(model=name, options=options):
                    ref_ids = cli("generate", "--model", path, "--threads", "1", "--quiet", "--output", "ids", *flags, *texts).splitlines()
                    ids = m.generate(texts, output="ids", **options)
                    self.assertEqual([" ".join(map(str, row)) for row in ids], ref_ids)
                    ref_text = cli("generate", "--model", path, "--threads", "1", "--quiet", *flags, *texts).splitlines()
                    self.assertEqual(m.generate(texts, **options), ref_text)
        self.assertEqual(t5cc.load(DEMO).generate("42"), ["forty-two"])  # the demo's own README example

    def test_tokenizer_and_inspect(self):
        path, texts = MODELS["v1_1_gated"]
        m = t5cc.load(path)
        for text in texts:
            ref = cli("tokenize", "--model", path, text).split()
            self.assertEqual(m.tokenizer.encode(text), [int(t) for t in ref])
            self.assertEqual(m.tokenizer.decode(m.tokenizer.encode(text)), text)
        info = t5cc.inspect(path)
        printed = cli("inspect", "--model", path)
        total = [line for line in printed.splitlines() if line.startswith("total")][0]
        self.assertIn(f"{info['parameters']} parameters, {info['bytes']} bytes", total)
        self.assertEqual(info["hparams"], m.hparams)
        self.assertEqual(info["variant"], m.variant)


class ReadmeExample(unittest.TestCase):
    def test_the_readme_python_block_runs_and_says_true(self):
        root = os.path.dirname(os.path.dirname(DEMO.rstrip("/")))
        root = os.path.dirname(root)  # examples/models/numbers -> the source root
        with open(os.path.join(root, "README.md")) as f:
            readme = f.read()
        block = readme.split("```python\n", 1)[1].split("```", 1)[0]
        namespace = {}
        cwd = os.getcwd()
        os.chdir(root)
        try:
            exec(compile(block, "README.md", "exec"), namespace)
        finally:
            os.chdir(cwd)
        m = namespace["m"]
        # What the block's comments say, against the t5cc tool.
        self.assertEqual(namespace["states"].shape, (1, 256, 128))  # the flux-schnell line re-binds states
        self.assertEqual(m.encode(["42", "1999"]).shape, (2, 6, 128))
        words = cli("generate", "--model", DEMO, "42", "1999").splitlines()
        self.assertEqual(m.generate(["42", "1999"]), words)
        self.assertIn(f"# {words!r}", block)
        tokens = [int(t) for t in cli("tokenize", "--model", DEMO, "1999").split()]
        self.assertEqual(m.tokenizer.encode("1999"), tokens)
        self.assertIn(f"# {tokens!r}", block)
        self.assertEqual(m.dtype, "F32")


class Errors(unittest.TestCase):
    def assertError(self, code, fragment, call):
        with self.assertRaises(t5cc.Error) as cm:
            call()
        self.assertEqual(cm.exception.code, code)
        self.assertIn(fragment, str(cm.exception))

    def test_codes_and_messages(self):
        m = t5cc.load(DEMO, threads=1)
        self.assertError("Io", "no-such-model", lambda: t5cc.load("/no-such-model"))
        self.assertError("InvalidArgument", "dtype must be", lambda: t5cc.load(DEMO, dtype="float64"))
        self.assertError("InvalidArgument", "device must be", lambda: t5cc.load(DEMO, device="tpu"))
        self.assertError("InvalidArgument", "threads must be", lambda: t5cc.load(DEMO, threads=-1))
        self.assertError("InvalidArgument", "outside the vocabulary", lambda: m.encode([[5, 999999]]))
        self.assertError("InvalidArgument", "outside the int32", lambda: m.encode([[2**40]]))
        self.assertError("InvalidArgument", "no inputs", lambda: m.encode([]))
        self.assertError("InvalidArgument", "more than the padded length 2", lambda: m.encode(["1999"], pad_to=2))
        self.assertError("InvalidArgument", "sets pad_to", lambda: m.encode(["1"], preset="sd3", pad_to=3))
        self.assertError("InvalidArgument", "num_beams", lambda: m.generate(["42"], num_beams=0))
        self.assertError("InvalidArgument", "output must be", lambda: m.generate(["42"], output="logits"))
        # Wrong Python types are TypeError, as Python's own functions raise.
        self.assertRaises(TypeError, lambda: m.encode(42))
        self.assertRaisesRegex(TypeError, "mix texts and token ids", lambda: m.encode(["42", [5, 1]]))
        self.assertRaisesRegex(TypeError, "2-D", lambda: m.encode(np.array([5, 1])))
        # Arrays of floats are refused, not cut to integers; mask values are 0 or 1, not wrapped.
        self.assertRaisesRegex(TypeError, "integers", lambda: m.encode(np.array([[5.7, 1.0]])))
        self.assertRaisesRegex(TypeError, "integers", lambda: m.encode(np.array([[True, False]])))
        self.assertRaisesRegex(TypeError, "integers or bools", lambda: m.encode(np.array([[5, 1]]), mask=np.array([[1.0, 0.5]])))
        self.assertError("InvalidArgument", "mask values must be 0 or 1, found 256", lambda: m.encode(np.array([[5, 1]]), mask=np.array([[1, 256]])))
        self.assertError("InvalidArgument", "outside the int32", lambda: m.encode(np.array([[2**63 + 5]], dtype=np.uint64)))
        self.assertRaises(TypeError, lambda: m.encode(["42"], pad_to="x"))

    def test_missing_tokenizer_and_non_finite(self):
        with tempfile.TemporaryDirectory() as tmp:
            lone = os.path.join(tmp, "weights")
            os.mkdir(lone)
            for f in ["config.json", "model.safetensors"]:
                os.symlink(os.path.join(DATA, "v1_1_gated", f), os.path.join(lone, f))
            m = t5cc.load(lone, threads=1)
            self.assertEqual(m.encode([[5, 6, 1]]).shape[:2], (1, 3))  # ids need no tokenizer
            self.assertError("Tokenizer", "pass tokenizer=PATH", lambda: m.encode(["The dog."]))
            self.assertError("Tokenizer", "no tokenizer", lambda: m.tokenizer)
            given = t5cc.load(lone, tokenizer=os.path.join(DATA, "v1_1_gated", "spiece.model"))
            self.assertEqual(given.encode(["The dog."]).shape[0], 1)
        # hot_v1_1 overflows float16 without calibrated scales: an error naming the layer, never a result.
        hot = t5cc.load(os.path.join(DATA, "hot_v1_1"), dtype="float16", threads=1)
        self.assertError("NonFinite", "ffn.hidden", lambda: hot.encode(["The dog walks in the river."]))


class Runtime(unittest.TestCase):
    def test_gil_is_released(self):
        """While one thread is inside encode, another runs Python: it can only if encode let go of the GIL."""
        m = t5cc.load(DEMO, threads=1)
        texts = [str(n * 7919) for n in range(256)]
        m.encode(texts)  # warm up
        inside = threading.Event()
        ticks_inside = []

        def count():
            while not inside.is_set():
                pass
            n = 0
            while inside.is_set():
                n += 1
            ticks_inside.append(n)

        counter = threading.Thread(target=count)
        counter.start()
        inside.set()
        t0 = time.perf_counter()
        m.encode(texts)
        elapsed = time.perf_counter() - t0
        inside.clear()
        counter.join()
        # With the GIL held the counter could not run at all during the call (it would only see
        # the switch interval's slices before and after it); released, it counts all along.
        print(f"encode of 256 texts took {elapsed * 1e3:.0f} ms; the other thread counted {ticks_inside[0]} times meanwhile")
        self.assertGreater(ticks_inside[0], 10000)

        # Two threads at once against one after the other, on one model (one thread each): the
        # issue asks that concurrent calls finish no slower than in sequence. Reported, and only
        # checked against a gross slowdown (1.5x), since the machine is shared.
        def run():
            m.encode(texts)

        t0 = time.perf_counter()
        run()
        run()
        sequential = time.perf_counter() - t0
        threads = [threading.Thread(target=run) for _ in range(2)]
        t0 = time.perf_counter()
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        concurrent = time.perf_counter() - t0
        print(f"two encodes: {sequential * 1e3:.0f} ms in sequence, {concurrent * 1e3:.0f} ms from two threads at once")
        self.assertLess(concurrent, 1.5 * sequential)

    def test_no_leak_across_1000_calls(self):
        m = t5cc.load(DEMO, threads=1)
        texts = [str(n) for n in range(1000, 1016)]  # 16 x 6 x 128 floats: 48 KiB of states a call

        def calls(n):
            for _ in range(n):
                m.encode(texts)
                m.encode_with_tokens(texts)
                m.generate(texts[:2], max_new_tokens=4)
                try:
                    m.encode([[999999]])
                except t5cc.Error:
                    pass

        calls(100)  # the allocator's pools and caches settle
        before = rss_bytes()
        calls(1000)
        grown = rss_bytes() - before
        print(f"resident memory grew {grown / 2**20:.2f} MiB over 1000 rounds of calls")
        # A leaked result alone would be 2 x 48 KiB x 1000 = 94 MiB; 4 MiB allows for allocator noise.
        self.assertLess(grown, 4 * 2**20)

    def test_stubs_ship_with_the_package(self):
        package = os.path.dirname(t5cc.__file__)
        self.assertTrue(os.path.isfile(os.path.join(package, "py.typed")))
        with open(os.path.join(package, "_core.pyi")) as f:
            stubs = f.read()
        for name in ["def load(", "def encode(", "def generate(", "class Tokenizer", "def inspect("]:
            self.assertIn(name, stubs)


if __name__ == "__main__":
    unittest.main(verbosity=2)
