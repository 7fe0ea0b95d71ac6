"""Benchmark 7: memory of one serving replica — a real ``sourcier serve`` on the seed index, its resident
memory once it has answered (steady, VmRSS) and the most it held on the way (peak, VmHWM), per runtime.

Replicas multiply this figure (the index of a help centre adds to it; the model is the same for all):
the target is ≤ 700 MB steady and ≤ 900 MB peak with onnx-int8, whose quantised token-embedding table
is most of the gain (``index/onnx.py``). Each runtime's server is started ``runs`` times; the medians
are reported, with the ratio to torch measured in the same run.

    python -m bench.run --only memory      # a step of make bench
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.build import index_folder
from bench.common import bench_settings, questions, status_mb
from bench.http import start_server, stop_server

PORT = 8251
RUNTIMES = ("onnx-int8", "onnx", "torch")
QUESTIONS = 20  # answered before the steady figure is read: every lazy allocation of the query path made


@dataclass
class Memory:
    runtime: str
    runs: int
    steady_mb: float  # median over runs of VmRSS after QUESTIONS answers
    peak_mb: float  # median over runs of VmHWM (the process's high-water mark, start-up included)
    steady_vs_torch: float | None = None


def _once(index: Path, runtime: str, asked: list[str]) -> tuple[float, float]:
    server = start_server(index, runtime, PORT)
    try:
        for question in asked:
            response = httpx.post(f"http://127.0.0.1:{PORT}/api/ask", json={"question": question}, timeout=60)
            response.raise_for_status()
        return status_mb(server.pid, "VmRSS"), status_mb(server.pid, "VmHWM")
    finally:
        stop_server(server)


def run(runtimes: tuple[str, ...] = RUNTIMES, runs: int = 3) -> list[Memory]:
    from bench.query import ensure_seed_index

    asked = questions()[:QUESTIONS]
    rows = []
    for runtime in runtimes:
        ensure_seed_index(runtime, bench_settings(runtime=runtime).load_encoder())
        samples = [_once(index_folder("seed", runtime, None), runtime, asked) for _ in range(runs)]
        rows.append(
            Memory(
                runtime,
                runs,
                round(statistics.median(s for s, _ in samples), 1),
                round(statistics.median(p for _, p in samples), 1),
            )
        )
    torch_row = next((r for r in rows if r.runtime == "torch"), None)
    for row in rows:
        row.steady_vs_torch = round(row.steady_mb / torch_row.steady_mb, 3) if torch_row else None
    return rows
