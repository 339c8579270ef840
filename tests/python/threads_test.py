"""The GIL is released while the library works: searches from two Python
threads run at the same time."""

import threading
import time

import numpy as np

import pytest


@pytest.fixture
def coll(db):
    """4,000 vectors in a flat index: each search is an exact scan."""
    c = db.create_collection("v", encoder=None, dim=64, index="flat")
    rng = np.random.default_rng(1)
    c.add(list(range(4000)), vectors=rng.standard_normal((4000, 64)).astype(np.float32),
          sync=False)
    return c


QUERIES = np.random.default_rng(2).standard_normal((400, 64)).astype(np.float32)


def test_searches_from_two_threads_run_concurrently(coll):
    queries = QUERIES
    single = queries[0]

    window = {}
    started = threading.Event()

    def long_search():
        started.set()
        window["begin"] = time.monotonic()
        coll.search(queries, k=10)  # one call: 400 exact scans
        window["end"] = time.monotonic()

    finished = []
    worker = threading.Thread(target=long_search)
    worker.start()
    started.wait()
    while worker.is_alive():
        coll.search(single, k=10)
        finished.append(time.monotonic())
    worker.join()
    # Had the long call kept the GIL, this thread could not have completed a
    # search while it ran (at most one just before it began).
    inside = [t for t in finished if window["begin"] < t < window["end"]]
    assert len(inside) >= 5, (len(inside), window["end"] - window["begin"])


def test_python_threads_keep_running_during_a_search(coll):
    queries = QUERIES
    window = {}

    def long_search():
        window["begin"] = time.monotonic()
        coll.search(queries, k=10)
        window["end"] = time.monotonic()

    ticks = []
    worker = threading.Thread(target=long_search)
    worker.start()
    while worker.is_alive():
        ticks.append(time.monotonic())
    worker.join()
    inside = [t for t in ticks if window["begin"] < t < window["end"]]
    gaps = np.diff(inside) if len(inside) > 1 else np.array([window["end"] - window["begin"]])
    # This thread ticked throughout the call: no pause near the call's length.
    assert len(inside) > 100
    assert gaps.max() < 0.5 * (window["end"] - window["begin"])
