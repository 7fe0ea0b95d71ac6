"""Benchmark 6: cold start — a new ``sourcier ask`` process, from its start to the printed answer,
with a saved index; and the peak resident memory of that process."""

from __future__ import annotations

import os
import subprocess
import sys
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


# The child reports its own peak memory (VmHWM) as it exits: ru_maxrss of a child forked from this
# large process would start at this process's own size.
CHILD = (
    "import atexit, sys\n"
    "atexit.register(lambda: sys.stderr.write([l for l in open('/proc/self/status') if l.startswith('VmHWM')][0]))\n"
    "from service.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def _once(index: Path, runtime: str) -> tuple[float, float]:
    env = {
        **os.environ,
        "SOURCIER_RUNTIME": runtime,
        "SOURCIER_DATA_DIR": str(WORK / "data"),
        "HF_HUB_OFFLINE": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    started = time.perf_counter()
    child = subprocess.run(
        [sys.executable, "-c", CHILD, "ask", "--json", "--index", str(index), QUESTION],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    seconds = time.perf_counter() - started
    peak = [line for line in child.stderr.splitlines() if line.startswith("VmHWM")]
    if child.returncode != 0 or '"answered"' not in child.stdout or not peak:
        raise RuntimeError(f"sourcier ask failed: {child.stderr[-2000:]}")
    return seconds, int(peak[-1].split()[1]) / 1024  # kB


def run(index: Path, runtime: str, runs: int = 3) -> ColdStart:
    samples = [_once(index, runtime) for _ in range(runs)]
    seconds = sorted(s for s, _ in samples)
    return ColdStart(
        runtime,
        index.name,
        runs,
        round(seconds[len(seconds) // 2], 2),
        round(seconds[-1], 2),
        round(max(rss for _, rss in samples), 1),
    )
