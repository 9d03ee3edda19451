#!/usr/bin/env python3
"""examples/ray_embed.py on a two-node Ray cluster on loopback (one CPU each).

    test_ray_multinode.py --model examples/models/numbers --workdir /tmp/w

Starts a Ray head and a second node with `ray start`, embeds generated captions with
examples/ray_embed.py (--address, --actors 2, --pool none), then checks that every id came back
exactly once, that both nodes did work, and that every embedding equals, bit for bit, what
t5cc.load(model, threads=1).encode_with_tokens gives in this process. The nodes are stopped
at the end, pass or fail.

Exit status: 0 pass, 1 fail, 77 skip (ray or t5cc not importable).
"""
import argparse
import glob
import json
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LoopbackCluster:
    """A Ray cluster of `nodes` nodes of one CPU each on 127.0.0.1, each a `ray start` of its own.

    stop() ends exactly the processes it started (and not another Ray on the machine, as
    `ray stop` would): each node starts in a session of its own."""

    def __init__(self, workdir, nodes=2, ray_cli=None, object_store=80 * 1024 * 1024):
        self.ray_cli = ray_cli or shutil.which("ray", path=os.path.dirname(sys.executable)) or "ray"
        os.makedirs(workdir, exist_ok=True)
        # Ray's unix sockets, <temp>/session_<date>_<pid>/sockets/plasma_store.1, must stay within
        # 107 bytes: <temp> within about 41, so a longer workdir gets its Ray temp dir in /tmp.
        base = workdir if len(os.path.abspath(workdir)) <= 30 else tempfile.gettempdir()
        self.temp = tempfile.mkdtemp(prefix="rt", dir=base)
        # Token authentication with a token of its own, which this process and its children (the
        # nodes, their workers, the job's driver) inherit: the GCS listens on every interface, and
        # whether Ray turns auth on by itself depends on ~/.ray/auth_token (a local ray.init() writes one).
        token = os.path.join(self.temp, "token")
        with open(os.open(token, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
            f.write(secrets.token_hex(32))
        os.environ.update(RAY_AUTH_MODE="token", RAY_AUTH_TOKEN_PATH=token)
        os.environ.pop("RAY_AUTH_TOKEN", None)
        self.port = free_port()
        self.address = f"127.0.0.1:{self.port}"
        self.nodes, self.object_store = nodes, object_store
        self.node_ids = []
        self.sessions = set()  # the session ids of the nodes' processes

    def start(self):
        common = ["--node-ip-address", "127.0.0.1", "--num-cpus", "1",
                  "--object-store-memory", str(self.object_store), "--temp-dir", self.temp,
                  "--disable-usage-stats", "--dashboard-agent-listen-port", None]
        for i in range(self.nodes):
            common[-1] = str(free_port())  # its default (52365) would clash between the two nodes
            head = ["--head", "--port", str(self.port), "--include-dashboard", "false"]
            cmd = [self.ray_cli, "start"] + (head if i == 0 else ["--address", self.address]) + common
            t = time.perf_counter()
            # The nodes' workers inherit this environment (PYTHONPATH for t5cc).
            # A session of its own, which every process of the node stays in (their command lines
            # do not all name the temp dir: agents and workers retitle themselves "ray::...").
            r = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                 start_new_session=True, env=dict(os.environ, RAY_USAGE_STATS_ENABLED="0"))
            self.sessions.add(r.pid)
            output = r.communicate()[0]
            if r.returncode != 0:
                raise RuntimeError(f"{' '.join(cmd)} failed ({r.returncode}):\n{output}")
            print(f"  ray start {'head' if i == 0 else 'worker'}: {time.perf_counter() - t:.1f} s")
        # Wait for every node to register, and learn their ids (in a child process: this one
        # imported ray before the auth settings above were made, and ray reads them at import).
        probe = ("import json, sys, time, ray\n"
                 "ray.init(address=sys.argv[1], logging_level='ERROR', log_to_driver=False)\n"
                 "deadline = time.time() + 60\n"
                 "while len(alive := [n['NodeID'] for n in ray.nodes() if n['Alive']]) < int(sys.argv[2]) and time.time() < deadline:\n"
                 "    time.sleep(0.5)\n"
                 "print(json.dumps(sorted(alive)))\n")
        r = subprocess.run([sys.executable, "-c", probe, self.address, str(self.nodes)],
                           capture_output=True, text=True, timeout=120)
        if r.returncode != 0:
            raise RuntimeError(f"cannot list the cluster's nodes:\n{r.stderr[-3000:]}")
        self.node_ids = json.loads(r.stdout.strip().splitlines()[-1])
        if len(self.node_ids) != self.nodes:
            raise RuntimeError(f"{len(self.node_ids)} of {self.nodes} nodes came up")

    def _pids(self):
        """The live processes of this cluster: in one of its sessions, or naming its temp dir."""
        pids = []
        for d in glob.glob("/proc/[0-9]*"):
            try:
                with open(d + "/stat") as f:
                    state, _, _, session = f.read().rsplit(")", 1)[1].split()[:4]
                with open(d + "/cmdline", "rb") as f:
                    ours = int(session) in self.sessions or (self.temp + "/").encode() in f.read()
            except (OSError, ValueError):
                continue  # the process ended meanwhile
            if ours and state != "Z" and int(d[6:]) != os.getpid():
                pids.append(int(d[6:]))
        return pids

    def stop(self):
        """Stops the nodes; returns the pids still alive afterwards (none, normally)."""
        for sig, wait in ((signal.SIGTERM, 3), (signal.SIGKILL, 5)):  # the agents ignore SIGTERM
            for pid in self._pids():
                try:
                    os.kill(pid, sig)
                except ProcessLookupError:
                    pass
            deadline = time.time() + wait
            while self._pids() and time.time() < deadline:
                time.sleep(0.2)
        left = self._pids()
        if not left:
            shutil.rmtree(self.temp, ignore_errors=True)
        return left


def captions(n, seed=1234):
    """n distinct numbers written as digits, the demo model's inputs, always the same ones."""
    rng = random.Random(seed)
    return [str(v) for v in rng.sample(range(1_000_000), n)]


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", required=True, help="t5cc model folder (e.g. examples/models/numbers)")
    p.add_argument("--workdir", required=True, help="scratch folder (captions, output, Ray's temp dir)")
    p.add_argument("--captions", type=int, default=2000, help="number of captions (default 2000)")
    p.add_argument("--ray", help="the ray CLI (default: beside this python, else on PATH)")
    args = p.parse_args()
    try:  # here, not at the top: benchmarks/bench_ray.py imports this file's helpers without them
        import pyarrow.parquet as pq
        import ray  # noqa: F401  (the nodes and the job need it)
        import t5cc  # noqa: F401
    except ImportError as e:
        print(f"SKIP: {e}")
        return 77
    os.makedirs(args.workdir, exist_ok=True)
    work = tempfile.mkdtemp(prefix="ray_multinode_", dir=args.workdir)
    texts = captions(args.captions)
    with open(os.path.join(work, "captions.txt"), "w") as f:
        f.write("\n".join(texts) + "\n")
    out = os.path.join(work, "out")

    failures = []
    # A harness's timeout sends SIGTERM: exit through the finally below, which stops the nodes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    cluster = LoopbackCluster(args.workdir, nodes=2, ray_cli=args.ray)
    print(f"Ray temp dir {cluster.temp}")
    try:
        t = time.perf_counter()
        cluster.start()
        print(f"cluster {cluster.address}: nodes {', '.join(cluster.node_ids)} "
              f"({time.perf_counter() - t:.1f} s to start)", flush=True)
        cmd = [sys.executable, os.path.join(REPO, "examples", "ray_embed.py"), "--model", args.model,
               "--out", out, "--address", cluster.address, "--actors", "2", "--pool", "none",
               os.path.join(work, "captions.txt")]
        print("$ " + " ".join(cmd), flush=True)
        t = time.perf_counter()
        r = subprocess.run(cmd, timeout=900)
        print(f"ray_embed.py: exit {r.returncode}, {time.perf_counter() - t:.1f} s", flush=True)
        if r.returncode != 0:
            failures.append(f"ray_embed.py exited {r.returncode}")
    except Exception as e:  # a cluster that does not start, a job that hangs: a failure, not a crash
        failures.append(f"{type(e).__name__}: {e}")
    finally:
        left = cluster.stop()
        print(f"cluster stopped; {len(left)} of its processes left")
        if left:
            failures.append(f"Ray processes still running after stop: {left}")

    if not failures:
        failures += check(pq.read_table(out), texts, args.model, cluster.node_ids)
    for f in failures:
        print("FAIL: " + f)
    print("PASS" if not failures else "FAILED")
    return 1 if failures else 0


def check(table, texts, model_dir, node_ids):
    """The job's output against a single-process run; returns the failures."""
    import numpy as np
    import t5cc

    failures = []
    ids = table["id"].to_numpy()
    import pyarrow as pa

    print(f"output: {table.num_rows} rows; schema: " + ", ".join(f"{f.name} {f.type}" for f in table.schema))
    want = pa.schema([("id", pa.int64()), ("input_ids", pa.list_(pa.int32())),
                      ("embedding", pa.list_(pa.list_(pa.float32()))), ("node", pa.string())])
    if not table.schema.remove_metadata().equals(want):
        failures.append(f"schema {table.schema}, expected {want}")
    if table.num_rows != len(texts) or not np.array_equal(np.sort(ids), np.arange(len(texts))):
        failures.append(f"ids: {table.num_rows} rows, {len(np.unique(ids))} distinct, expected 0..{len(texts) - 1} once each")
        return failures
    nodes = table["node"].to_pylist()
    counts = {n: nodes.count(n) for n in node_ids}
    print("per node: " + ", ".join(f"{n[:12]}: {c}" for n, c in counts.items()))
    if set(nodes) != set(node_ids) or min(counts.values()) == 0:
        failures.append(f"the work was not spread over both nodes: {counts} (other ids: {set(nodes) - set(node_ids)})")

    # Reference: one process, one thread, batches of 100 in input order (so paddings differ from the job's).
    model = t5cc.load(model_dir, threads=1)
    order = np.argsort(ids)
    got_ids = table["input_ids"].to_pylist()
    got_emb = table["embedding"].to_pylist()
    t = time.perf_counter()
    mismatches = []
    for start in range(0, len(texts), 100):
        states, input_ids, mask = model.encode_with_tokens(texts[start:start + 100])
        for k in range(states.shape[0]):
            i = start + k
            row = order[i]
            n = int(mask[k].sum())
            want_ids = input_ids[k, :n].tolist()
            got = np.asarray(got_emb[row], dtype=np.float32)
            if got_ids[row] != want_ids:
                mismatches.append(f"id {i} ({texts[i]!r}): input_ids {got_ids[row]}, expected {want_ids} ({n} in the mask)")
            elif got.shape != (n, model.d_model) or not np.array_equal(got, states[k, :n]):
                diff = np.abs(got - states[k, :n]).max() if got.shape == (n, model.d_model) else "shape"
                mismatches.append(f"id {i} ({texts[i]!r}): embedding {got.shape} differs (max |diff| {diff})")
    print(f"reference: {len(texts)} captions in one process, {time.perf_counter() - t:.2f} s; "
          f"{len(texts) - len(mismatches)} of {len(texts)} rows equal bit for bit")
    if mismatches:
        failures.append(f"{len(mismatches)} rows differ from the single-process run, e.g. " + "; ".join(mismatches[:3]))
    return failures


if __name__ == "__main__":
    sys.exit(main())
