"""Benchmark 5: FAISS at 10k, 100k and 1M passages — flat vs IVF vs HNSW, 768 and 256 dims.

Synthetic vectors shaped like sentence embeddings rather than uniform noise (on which no
approximate index works): unit vectors around 2,000 topic centres, spread in a shared
32-dimensional subspace, plus isotropic noise (nearest-neighbour cosine ~0.65, unrelated pairs ~0).
Recall@10 is against the exact (flat) search of the same vectors. The approximate indexes' search
breadth (IVF ``nprobe``, HNSW ``efSearch``) is the smallest that reaches recall@10 >= 0.95 on
tuning queries, then timed on other queries. Bounded: an HNSW build whose time, extrapolated from
the size below, would exceed 15 minutes is skipped (and said so).
"""

from __future__ import annotations

import gc
import os
import time
from dataclasses import dataclass
from typing import Any

import faiss
import numpy as np

from bench.common import Timing

CENTRES, SUBSPACE, QUERIES = 2000, 32, 200
TARGET_RECALL = 0.95


@dataclass
class ScaleRow:
    passages: int
    dims: int
    index: str
    breadth: int  # IVF nprobe or HNSW efSearch (0: exact)
    build_s: float
    memory_mb: float
    search: Timing
    recall_at_10: float


def synthetic(n: int, dims: int, seed: int) -> np.ndarray:
    """``n`` unit vectors: a topic centre, plus spread in a shared low-rank subspace, plus noise."""
    rng = np.random.default_rng(0)
    centres = rng.standard_normal((CENTRES, dims)).astype(np.float32)
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    basis = rng.standard_normal((SUBSPACE, dims)).astype(np.float32)
    basis /= np.linalg.norm(basis, axis=1, keepdims=True)
    rng = np.random.default_rng(seed)
    out = np.empty((n, dims), dtype=np.float32)
    for begin in range(0, n, 100_000):
        m = min(100_000, n - begin)
        block = centres[rng.integers(0, CENTRES, m)]
        block += rng.standard_normal((m, SUBSPACE)).astype(np.float32) @ basis * (0.6 / np.sqrt(SUBSPACE))
        block += rng.standard_normal((m, dims)).astype(np.float32) * (0.6 / np.sqrt(dims))
        out[begin : begin + m] = block / np.linalg.norm(block, axis=1, keepdims=True)
    return out


def _make(kind: str, dims: int, n: int) -> Any:
    if kind == "flat":
        return faiss.IndexFlatIP(dims)
    if kind == "hnsw":
        index = faiss.IndexHNSWFlat(dims, 32, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = 40
        return index
    return faiss.index_factory(dims, f"IVF{int(np.sqrt(n))},Flat", faiss.METRIC_INNER_PRODUCT)


def _set_breadth(index: Any, kind: str, breadth: int) -> None:
    if kind == "ivf":
        index.nprobe = breadth
    elif kind == "hnsw":
        index.hnsw.efSearch = breadth


def _recall(found: np.ndarray, truth: np.ndarray) -> float:
    return float(np.mean([len(set(f) & set(t)) / len(t) for f, t in zip(found, truth)]))


def _tune(index: faiss.Index, kind: str, queries: np.ndarray, truth: np.ndarray) -> int:
    """The smallest search breadth reaching the target recall on the tuning queries."""
    for breadth in (1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024):
        _set_breadth(index, kind, breadth)
        if _recall(index.search(queries, 10)[1], truth) >= TARGET_RECALL:
            return breadth
    return breadth


def _memory_mb(index: faiss.Index) -> float:
    return round(len(faiss.serialize_index(index)) / 2**20, 1)


def measure(n: int, dims: int, kinds: list[str]) -> list[ScaleRow]:
    data = synthetic(n, dims, seed=1)
    tuning, queries = synthetic(QUERIES, dims, seed=2), synthetic(QUERIES, dims, seed=3)
    exact = faiss.IndexFlatIP(dims)
    exact.add(data)
    faiss.omp_set_num_threads(os.cpu_count() or 1)
    tuning_truth, truth = exact.search(tuning, 10)[1], exact.search(queries, 10)[1]
    del exact
    rows = []
    for kind in kinds:
        index = _make(kind, dims, n)
        faiss.omp_set_num_threads(os.cpu_count() or 1)  # building uses every core
        started = time.perf_counter()
        if kind == "ivf":
            index.train(data[np.random.default_rng(4).choice(n, min(n, 40 * index.nlist), replace=False)])
        index.add(data)
        build = time.perf_counter() - started
        breadth = _tune(index, kind, tuning, tuning_truth) if kind != "flat" else 0
        faiss.omp_set_num_threads(1)  # one question per core, as the service searches one per request
        samples, found = [], []
        for query in queries:
            t = time.perf_counter()
            found.append(index.search(query.reshape(1, -1), 10)[1][0])
            samples.append((time.perf_counter() - t) * 1000)
        rows.append(
            ScaleRow(
                n,
                dims,
                kind,
                breadth,
                round(build, 2),
                _memory_mb(index),
                Timing.of(samples),
                round(_recall(np.array(found), truth), 4),
            )
        )
        del index
        gc.collect()
    return rows


def run(sizes: tuple[int, ...] = (10_000, 100_000, 1_000_000), hnsw_budget_s: float = 900) -> list[ScaleRow]:
    """Every size × dims × index type, except an HNSW build whose time, extrapolated from the
    previous size (×12: ten times the points, deeper graph), would exceed ``hnsw_budget_s``."""
    rows: list[ScaleRow] = []
    for n in sizes:
        for dims in (768, 256):
            previous = [r for r in rows if r.index == "hnsw" and r.dims == dims]
            expected = previous[-1].build_s * 12 * n / previous[-1].passages / 10 if previous else 0
            kinds = ["flat", "ivf"] + (["hnsw"] if expected <= hnsw_budget_s else [])
            if "hnsw" not in kinds:
                print(f"  {n} x {dims} hnsw: skipped (build estimated at {expected:.0f} s)", flush=True)
            rows.extend(measure(n, dims, kinds))
            print(
                *(
                    f"  {r.passages} x {r.dims} {r.index}: build {r.build_s} s, search p50 {r.search.p50} ms, "
                    f"recall@10 {r.recall_at_10}"
                    for r in rows[-len(kinds) :]
                ),
                sep="\n",
                flush=True,
            )
    return rows
