"""Benchmark 6: cold start — a new ``sourcier ask`` process, from its start to the printed answer,
with a saved index; and the peak resident memory of that process."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.common import ROOT, WORK

QUESTION = "Quel nerf innerve le mollet ?"


@dataclass
class ColdStart:
    runtime: str
    index: str
    runs: int
    seconds_p50: float
    seconds_max: float
    peak_rss_mb: float


def _once(index: Path, runtime: str) -> tuple[float, float]:
    env = {**os.environ, "SOURCIER_RUNTIME": runtime, "SOURCIER_DATA_DIR": str(WORK / "data"),
           "HF_HUB_OFFLINE": "1", "OPENBLAS_NUM_THREADS": "1"}
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "service.cli", "ask", "--json", "--index", str(index),
                                  QUESTION], cwd=ROOT, env=env, stdout=out, stderr=err)
        _, status, usage = os.wait4(child.pid, 0)  # ourselves, for the child's own peak memory
        seconds = time.perf_counter() - started
        child.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0)
        err.seek(0)
        if child.returncode != 0 or b'"answered"' not in out.read():
            raise RuntimeError(f"sourcier ask failed: {err.read().decode()[-2000:]}")
    return seconds, usage.ru_maxrss / 1024  # KiB on Linux


def run(index: Path, runtime: str, runs: int = 3) -> ColdStart:
    samples = [_once(index, runtime) for _ in range(runs)]
    seconds = sorted(s for s, _ in samples)
    return ColdStart(runtime, index.name, runs, round(seconds[len(seconds) // 2], 2), round(seconds[-1], 2),
                     round(max(rss for _, rss in samples), 1))
