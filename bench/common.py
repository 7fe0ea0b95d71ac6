"""What every benchmark shares: the machine it ran on, the questions it asks, timing statistics,
where results go. Numbers are medians over repeated runs; ratios compare numbers of the same run."""

from __future__ import annotations

import json
import os
import platform
import statistics
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
WORK = ROOT / "var" / "bench"
PIAF_ARTICLES = ROOT / "eval" / "data" / "piaf" / "articles.jsonl"
SEED = ROOT / "corpus" / "articles" / "contractions-muscle-mollet.txt"


def status_mb(pid: int, field: str) -> float:
    """A memory figure of a running process from ``/proc/PID/status`` (``VmRSS``, ``VmHWM``…), in MB."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024  # kB
    raise RuntimeError(f"/proc/{pid}/status has no {field}")


@dataclass
class Timing:
    """Milliseconds of repeated calls: the statistics the tables report."""

    n: int
    p50: float
    p95: float
    mean: float

    @classmethod
    def of(cls, samples_ms: list[float]) -> Timing:
        ordered = sorted(samples_ms)
        return cls(
            len(ordered),
            round(statistics.median(ordered), 2),
            round(ordered[min(len(ordered) - 1, int(round(0.95 * (len(ordered) - 1))))], 2),
            round(statistics.fmean(ordered), 2),
        )


def time_calls(call: Callable[[str], Any], inputs: list[str]) -> list[float]:
    """Milliseconds of ``call(x)`` for each input, one at a time."""
    samples = []
    for item in inputs:
        started = time.perf_counter()
        call(item)
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def load_avg() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict[str, Any]:
    """CPU, cores, flags that matter (VNNI for int8), memory, library versions, load."""
    cpu, flags = platform.processor() or platform.machine(), ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and not flags:
                flags = line
    except OSError:
        pass
    from importlib.metadata import PackageNotFoundError, version

    versions: dict[str, str | None] = {}
    for package in ("torch", "onnxruntime", "sentence-transformers", "transformers", "faiss-cpu", "numpy"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = None
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "avx512_vnni": " avx512_vnni" in flags,
        "memory_gb": round(memory, 1),
        "python": platform.python_version(),
        "versions": versions,
        "load_avg_1_5_15": load_avg(),
        "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def questions(limit_piaf: int = 100) -> list[str]:
    """The evaluation sets' questions (seed, then a fixed PIAF sample), never made-up strings."""
    from eval.sets import load_set

    seed = [q.question for q in load_set("seed").questions]
    piaf = [q.question for q in load_set("piaf", sample=limit_piaf).questions]
    return seed + piaf


def write(name: str, payload: dict[str, Any]) -> Path:
    """``bench/results/<name>.json`` with the machine it ran on."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    body = {"benchmark": name, "machine": machine(), **payload}
    path.write_text(json.dumps(body, ensure_ascii=False, indent=1, default=_plain) + "\n", encoding="utf-8")
    return path


def _plain(value: Any) -> Any:
    return asdict(value) if hasattr(value, "__dataclass_fields__") else str(value)


def bench_settings(**overrides: Any):  # noqa: ANN201 - Settings, imported late (it reads the environment)
    """Settings for a benchmark: a folder of its own under var/bench, never the service's index."""
    from service.settings import Settings

    return Settings(data_dir=WORK / "data", **overrides)
