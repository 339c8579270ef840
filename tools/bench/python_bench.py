#!/usr/bin/env python3
"""The Python package against the C++ library, in-process, on the same workload.

Runs tools/bench/insert_search_bench (the C++ side: Collection::Add in synced
batches, then single-query Collection::Search in HNSW mode, ids only, on a
reopened database) and the same steps through `import flashembed`:

  insert: documents/s through Collection.add(ids, vectors=...) in batches of
          --batch (each durable, as in C++), best of two builds;
  search: single-query QPS through Collection.search(vector, k=10) at the
          ef_search the C++ side chose (its recall ladder), ids only (with_text
          and with_metadata off), on a reopened database, best of two runs;
  2 threads: the same queries split over two Python threads, each calling
          search; QPS against one thread (the GIL is released in the call).

Same sizes, metric (inner product), HNSW parameters and vector distribution
(unit vectors, normal components; NumPy's generator, so not the C++ values).
Prints one JSON line. Usage:

  python3 tools/bench/python_bench.py --build build-release [--n 20000] [--dim 128]
      [--queries 1000] [--m 16] [--ef-construction 200] [--batch 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
import time


def parse_args() -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--build", default="build-release",
                   help="CMake build tree with the module and insert_search_bench")
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--dim", type=int, default=128)
    p.add_argument("--queries", type=int, default=1000)
    p.add_argument("--m", type=int, default=16)
    p.add_argument("--ef-construction", type=int, default=200)
    p.add_argument("--batch", type=int, default=1000)
    return p.parse_args()


def unit_vectors(rng, n: int, dim: int):
    import numpy as np

    v = rng.standard_normal((n, dim)).astype(np.float32)
    v /= np.linalg.norm(v, axis=1, keepdims=True)
    return v


def cxx_side(build: pathlib.Path, a: argparse.Namespace) -> dict:
    binary = build / "tools" / "bench" / "insert_search_bench"
    out = subprocess.run(
        [str(binary), "--n", str(a.n), "--dim", str(a.dim), "--queries", str(a.queries),
         "--m", str(a.m), "--ef-construction", str(a.ef_construction), "--batch", str(a.batch)],
        check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def python_insert(flashembed, path: str, data, a: argparse.Namespace) -> float:
    best = float("inf")
    ids = list(range(a.n))
    for _ in range(2):
        shutil.rmtree(path, ignore_errors=True)
        with flashembed.open(path, snapshot_every_ops=0) as db:
            coll = db.create_collection("bench", encoder=None, dim=a.dim, metric="ip", m=a.m,
                                        ef_construction=a.ef_construction)
            start = time.perf_counter()
            for lo in range(0, a.n, a.batch):
                coll.add(ids[lo:lo + a.batch], vectors=data[lo:lo + a.batch])
            best = min(best, time.perf_counter() - start)
    return a.n / best


def python_search(flashembed, path: str, queries, ef: int, threads: int) -> tuple:
    """Best QPS of two runs with `threads` threads, and the hits of one run."""
    with flashembed.open(path) as db:
        coll = db.get_collection("bench")
        rows = list(queries)
        best = float("inf")
        got = [None] * len(rows)

        def run(part: range) -> None:
            for q in part:
                got[q] = [h.id for h in coll.search(rows[q], k=10, ef=ef, mode="approximate",
                                                    with_text=False, with_metadata=False)]

        for _ in range(2):
            parts = [range(t, len(rows), threads) for t in range(threads)]
            workers = [threading.Thread(target=run, args=(p,)) for p in parts]
            start = time.perf_counter()
            for w in workers:
                w.start()
            for w in workers:
                w.join()
            best = min(best, time.perf_counter() - start)
        return len(rows) / best, got


def main() -> None:
    a = parse_args()
    build = pathlib.Path(a.build).resolve()
    sys.path.insert(0, str(build / "python"))
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import numpy as np

    import flashembed

    cxx = cxx_side(build, a)
    ef = int(cxx["ef_search"])
    rng = np.random.default_rng(1)
    data = unit_vectors(rng, a.n, a.dim)
    queries = unit_vectors(rng, a.queries, a.dim)
    folder = tempfile.mkdtemp(prefix="flashembed-python-bench-")
    path = folder + "/db"
    try:
        insert_rate = python_insert(flashembed, path, data, a)
        qps1, got = python_search(flashembed, path, queries, ef, threads=1)
        qps2, _ = python_search(flashembed, path, queries, ef, threads=2)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    truth = np.argsort(-(queries @ data.T), axis=1)[:, :10]
    recall = float(np.mean([len(set(g) & set(t.tolist())) / 10 for g, t in zip(got, truth)]))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                            text=True, cwd=pathlib.Path(__file__).parent).stdout.strip()
    print(json.dumps({
        "bench": "python", "n": a.n, "dim": a.dim, "queries": a.queries, "k": 10, "m": a.m,
        "ef_construction": a.ef_construction, "ef_search": ef, "batch": a.batch, "metric": "ip",
        "cpp_insert_per_s": cxx["db_insert_per_s"], "python_insert_per_s": round(insert_rate, 1),
        "insert_ratio": round(insert_rate / cxx["db_insert_per_s"], 3),
        "cpp_qps": cxx["db_qps"], "python_qps": round(qps1, 1),
        "search_ratio": round(qps1 / cxx["db_qps"], 3),
        "python_qps_2_threads": round(qps2, 1), "thread_scaling": round(qps2 / qps1, 3),
        "cpp_recall": cxx["db_recall"], "python_recall": round(recall, 4),
        "commit": commit, "build_type": cxx["build_type"], "cpu": cxx["cpu"],
        "python": platform.python_version(), "cores": os.cpu_count(),
    }, separators=(",", ":")))


if __name__ == "__main__":
    main()
