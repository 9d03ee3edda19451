#!/usr/bin/env python3
"""Embed captions with a T5 encoder (t5cc) on a Ray cluster, one t5cc model per actor.

    python examples/ray_embed.py --model examples/models/numbers --out emb/ captions.txt
    python examples/ray_embed.py --model DIR --out emb/ --address 10.0.0.1:6379 \\
        --actors 8 --cpus-per-actor 4 --pool mean captions.parquet

Input: a text file (one caption per line, id = 0-based line number) or a parquet file or
folder (--text-column, --id-column). The driver reads it with pyarrow and hands it to Ray Data
(ray.data.from_arrow), so no read task competes with the actors for CPUs.

Output: parquet files in --out, read by any Arrow reader (no Ray needed):
    id         int64
    input_ids  list<int32>            the caption's own tokens (EOS included)
    embedding  list<float32>          --pool mean: the states averaged over those tokens [d_model]
               list<list<float32>>    --pool none: the states at those tokens [tokens][d_model]
    node       string                 Ray node id (hex) of the actor that computed the row

The results stream back to the driver (Dataset.iter_batches), which writes them with
pyarrow.parquet.ParquetWriter, so --out is a folder on the driver's machine. Not
Dataset.write_parquet: its write tasks need a CPU, and while the actors hold every CPU of the
cluster they cannot start; once the embeddings waiting for them fill Ray Data's object store
budget the actors stop too, and the job hangs (seen with Ray 2.60 on 2 nodes x 1 CPU, 80 MB
object stores, 40000 captions of the demo model, pool none: no file written in 2 minutes; this
script does the same job in 13 s).

Every node needs t5cc importable (PYTHONPATH of `ray start`) and the model at the same path.
The job starts once all --actors have loaded the model (it fails after 15 minutes if the cluster
cannot place them).
"""
import argparse
import math
import os
import sys
import time
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq


def read_captions(path, text_column, id_column):
    """A pyarrow table {id: int64, caption: string} from a text file or parquet file/folder."""
    if os.path.isdir(path) or path.endswith(".parquet"):
        data = pads.dataset(path, format="parquet")
        missing = [c for c in (id_column, text_column) if c not in data.schema.names]
        if missing:
            sys.exit(f"error: {path} lacks the column(s) {', '.join(missing)} "
                     f"(its columns: {', '.join(data.schema.names)}; see --text-column, --id-column)")
        table = data.to_table(columns=[id_column, text_column])
        return pa.table({"id": table[id_column].cast(pa.int64()),
                         "caption": table[text_column].cast(pa.string())})
    with open(path, encoding="utf-8") as f:
        lines = f.read().splitlines()
    return pa.table({"id": pa.array(range(len(lines)), pa.int64()), "caption": pa.array(lines, pa.string())})


class Embedder:
    """Ray Data callable class: one t5cc model per actor, loaded once."""

    def __init__(self, model, pad_to, truncate, preset, pool):
        import ray
        import t5cc

        ctx = ray.get_runtime_context()
        if not hasattr(t5cc, "load"):  # e.g. examples/t5cc/ (the CLI's sources) taken as a namespace package
            raise ImportError(f"node {ctx.get_node_id()}: no t5cc module on the path (found {list(t5cc.__path__)}); "
                              "set PYTHONPATH of `ray start` to the built module")
        # As many encoder threads as CPUs Ray gave this actor (--cpus-per-actor).
        threads = int(ctx.get_assigned_resources().get("CPU", 1))
        self.model = t5cc.load(model, threads=threads)
        self.node = ctx.get_node_id()
        # Only what was asked for: t5cc refuses pad_to or truncate beside a preset, which sets them.
        self.options = {k: v for k, v in dict(pad_to=pad_to, truncate=truncate or None, preset=preset).items() if v is not None}
        self.pool = pool

    def __call__(self, batch: pa.Table) -> pa.Table:
        texts = batch["caption"].to_pylist()
        # The states, the ids they ran on and each caption's token mask (right padding, so its
        # own tokens are a prefix of its row).
        states, input_ids, mask = self.model.encode_with_tokens(texts, **self.options)
        lengths = mask.sum(axis=1).astype(np.int64)
        d = states.shape[2]
        ids = [row[:n].tolist() for row, n in zip(input_ids, lengths)]
        if self.pool == "mean":
            sums = (states * mask[:, :, None]).sum(axis=1, dtype=np.float32)
            flat = (sums / lengths[:, None]).astype(np.float32).ravel()
            embedding = pa.ListArray.from_arrays(np.arange(0, flat.size + 1, d, dtype=np.int32), flat)
        else:
            flat = np.concatenate([states[i, :n] for i, n in enumerate(lengths)]).ravel()
            per_token = pa.ListArray.from_arrays(np.arange(0, flat.size + 1, d, dtype=np.int32), flat)
            offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int32)
            embedding = pa.ListArray.from_arrays(offsets, per_token)
        return pa.table({
            "id": batch["id"],
            "input_ids": pa.array(ids, pa.list_(pa.int32())),
            "embedding": embedding,
            "node": pa.array([self.node] * len(texts), pa.string()),
        })


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog=__doc__.split("\n", 1)[1])
    p.add_argument("input", help="captions: a text file (one per line) or a parquet file or folder")
    p.add_argument("--model", required=True, help="t5cc model folder or weights file (same path on every node)")
    p.add_argument("--out", required=True, help="output folder for the parquet files (created; must not hold .parquet files)")
    p.add_argument("--address", help="Ray cluster to join (host:port); default: start a local Ray")
    p.add_argument("--actors", type=int, default=1, help="number of t5cc actors (default 1)")
    p.add_argument("--cpus-per-actor", type=int, default=1, help="CPUs each actor reserves, = its encoder threads (default 1)")
    p.add_argument("--batch-size", type=int, default=64, help="captions per encode call (default 64)")
    p.add_argument("--pad-to", type=int, help="pad every caption to this many tokens (default: the longest in its batch)")
    p.add_argument("--truncate", action="store_true", help="cut captions longer than --pad-to (keeping the EOS) instead of failing")
    p.add_argument("--preset", choices=["flux-dev", "flux-schnell", "sd3", "pixart-sigma", "wan"],
                   help="encode as that diffusion pipeline does (sets the tokenizer mode, pad-to, truncation, mask)")
    p.add_argument("--pool", choices=["none", "mean"], default="none",
                   help="none: each caption's states at its own tokens (default); mean: their mean")
    p.add_argument("--text-column", default="caption", help="parquet input: the caption column (default caption)")
    p.add_argument("--id-column", default="id", help="parquet input: the id column (default id)")
    p.add_argument("--rows-per-file", type=int, default=100_000, help="start a new output file after this many rows (default 100000)")
    args = p.parse_args(argv)
    if args.actors < 1 or args.cpus_per_actor < 1 or args.batch_size < 1:
        p.error("--actors, --cpus-per-actor and --batch-size must be >= 1")
    if args.preset and (args.pad_to or args.truncate):
        p.error(f"--preset {args.preset} sets the padded length and truncation: leave out --pad-to and --truncate")
    if args.truncate and not args.pad_to:
        p.error("--truncate needs --pad-to")
    os.makedirs(args.out, exist_ok=True)
    if any(f.endswith(".parquet") for f in os.listdir(args.out)):
        p.error(f"--out {args.out} already holds .parquet files")

    import ray
    import ray.data

    table = read_captions(args.input, args.text_column, args.id_column)
    rows = table.num_rows
    if rows == 0:
        sys.exit(f"error: {args.input} holds no captions")
    print(f"{rows} captions from {args.input}", flush=True)

    ray.init(address=args.address, logging_level="WARNING", log_to_driver=True)
    nodes = [n for n in ray.nodes() if n["Alive"]]
    print(f"ray: {len(nodes)} node(s), {int(ray.cluster_resources().get('CPU', 0))} CPUs; "
          f"{args.actors} actor(s) x {args.cpus_per_actor} CPU", flush=True)
    if args.actors * args.cpus_per_actor > ray.cluster_resources().get("CPU", 0):
        print("warning: the cluster has fewer CPUs than --actors x --cpus-per-actor", flush=True)
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = False
    # Hand out batches only once every actor has loaded the model: otherwise the first actor up
    # takes the lion's share of a short job.
    context.wait_for_min_actors_s = 900

    # Blocks of one batch (one encode call per Ray task), smaller when that would leave fewer than
    # 4 blocks per actor, larger when a big input would become more than 4096 objects.
    step = max(1, min(args.batch_size, math.ceil(rows / (4 * args.actors))), math.ceil(rows / 4096))
    ds = ray.data.from_arrow([table.slice(i, step) for i in range(0, rows, step)])
    ds = ds.map_batches(
        Embedder,
        fn_constructor_kwargs=dict(model=args.model, pad_to=args.pad_to, truncate=args.truncate,
                                   preset=args.preset, pool=args.pool),
        batch_size=args.batch_size, batch_format="pyarrow",
        compute=ray.data.ActorPoolStrategy(size=args.actors), num_cpus=args.cpus_per_actor)

    start = time.perf_counter()
    done, per_node, writer, files, last_report = 0, Counter(), None, 0, start
    for batch in ds.iter_batches(batch_size=None, batch_format="pyarrow"):
        if writer is None or writer_rows >= args.rows_per_file:
            if writer is not None:
                writer.close()
            writer = pq.ParquetWriter(os.path.join(args.out, f"part-{files:05d}.parquet"), batch.schema)
            files, writer_rows = files + 1, 0
        writer.write_table(batch)
        writer_rows += batch.num_rows
        if done == 0:
            first, first_rows = time.perf_counter(), batch.num_rows
            print(f"first results after {first - start:.2f} s (actors started, models loaded)", flush=True)
        done += batch.num_rows
        per_node.update(batch["node"].to_pylist())
        now = time.perf_counter()
        if now - last_report >= 5 or done == rows:
            print(f"  {done}/{rows} captions, {done / (now - start):.1f}/s", flush=True)
            last_report = now
    if writer is not None:
        writer.close()
    end = time.perf_counter()
    seconds = end - start
    # The rate once the actors are up; "n/a" when everything came in the first batch.
    steady = f"{(done - first_rows) / (end - first):.1f}/s" if done > first_rows else "n/a"

    for node, n in sorted(per_node.items()):
        print(f"node {node}: {n} captions")
    print(f"total: {done} captions in {seconds:.2f} s, {done / seconds:.1f} captions/s with the actors' start "
          f"and model load, {steady} from the first results on; {files} file(s) in {args.out}")
    if done != rows:
        sys.exit(f"error: {rows} captions in, {done} rows out")


if __name__ == "__main__":
    main()
