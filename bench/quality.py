"""Retrieval quality per runtime and Matryoshka size, so that speed is never bought with answers:
``sourcier eval --no-baselines`` on seed and piaf-ci for each configuration (own index folders
under var/bench, never the evaluation's own)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.common import RESULTS, ROOT, WORK
from index import store
from index.build import build, vector_cache

CONFIGS = [("torch", None), ("onnx-int8", None), ("onnx-int8", 256), ("torch", 256), ("onnx", None)]
SETS = ("seed", "piaf-ci")
# ONNX fp32 gives torch's vectors (cosine >= 0.999, tested at export); its seed row shows it, and its
# piaf-ci build would cost ten minutes for the same numbers.
SKIP = {("piaf-ci", "onnx", None)}


@dataclass
class QualityRow:
    set: str
    runtime: str
    dims: int
    questions: int
    hit_at_1: float  # at the threshold the index measured on its own corpus (service.core.abstention)
    hit_at_1_unthresholded: float
    recall_at_1: float
    recall_at_3: float
    recall_at_10: float
    doc_at_1: float
    auroc: float | None
    abstain_rate: float
    false_abstain_rate: float
    faithfulness: float


def _folder(set_name: str, runtime: str, dims: int | None) -> Path:
    return WORK / f"eval-{set_name}-{runtime}-{dims or 'full'}"


def truncate_index(set_name: str, runtime: str, dims: int) -> None:
    """The ``dims`` index of a set from its full-size one: Matryoshka vectors are the full vectors'
    first ``dims`` components, renormalised (what the encoder does), so nothing is embedded again."""
    from bench.common import bench_settings
    from eval.sets import load_set

    full = store.load(_folder(set_name, runtime, None))
    cache = {h: v[:dims] / np.linalg.norm(v[:dims]) for h, v in vector_cache(full).items()}
    settings = bench_settings(runtime=runtime, dims=dims)
    index = build(load_set(set_name).articles, settings.load_encoder(), settings.index_config(), cache=cache)
    if index.manifest.build.embedded:
        raise RuntimeError(f"{set_name} {runtime} {dims}: {index.manifest.build.embedded} inputs were embedded")
    store.save(index, _folder(set_name, runtime, dims))


def _eval(set_name: str, runtime: str, dims: int | None) -> dict:
    tag = f"{set_name}-{runtime}-{dims or 'full'}"
    out = RESULTS / "quality" / f"{tag}.json"
    # One thread: scores do not depend on it, and on a shared machine it is faster than two threads
    # spinning at each other's barriers.
    env = {
        **os.environ,
        "SOURCIER_RUNTIME": runtime,
        "SOURCIER_DATA_DIR": str(WORK / "data"),
        "HF_HUB_OFFLINE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "OMP_NUM_THREADS": "1",
        "SOURCIER_THREADS": "1",
    }
    env.pop("SOURCIER_DIMS", None)
    if dims:
        env["SOURCIER_DIMS"] = str(dims)  # each index measures its own threshold: none to carry over
    subprocess.run(
        [
            sys.executable,
            "-m",
            "service.cli",
            "eval",
            "--set",
            set_name,
            "--no-baselines",
            "--quiet",
            "--json",
            str(out),
            "--index",
            str(_folder(set_name, runtime, dims)),
        ],
        cwd=ROOT,
        env=env,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return json.loads(out.read_text(encoding="utf-8"))


def _row(set_name: str, runtime: str, dims: int | None, report: dict) -> QualityRow:
    s = report["systems"]["sourcier"]
    r, a, ab = s["retrieval"], s["answers"], s["abstention"]
    return QualityRow(
        set_name,
        runtime,
        dims or 768,
        s["questions"],
        round(a["hit@1"], 4),
        round(a["hit@1_unthresholded"], 4),
        round(r["recall@1"], 4),
        round(r["recall@3"], 4),
        round(r["recall@10"], 4),
        round(r["doc@1"], 4),
        round(ab["auroc"], 4) if ab["auroc"] is not None else None,
        round(ab["abstain_rate"], 4),
        round(ab["false_abstain_rate"], 4),
        s["faithfulness"]["rate"],
    )


def collect(configs: list[tuple[str, int | None]] = CONFIGS) -> list[QualityRow]:
    """Rows from the reports saved in bench/results/quality/ (a configuration not run is left out)."""
    rows = []
    for set_name in SETS:
        for runtime, dims in configs:
            path = RESULTS / "quality" / f"{set_name}-{runtime}-{dims or 'full'}.json"
            if path.is_file():
                rows.append(_row(set_name, runtime, dims, json.loads(path.read_text(encoding="utf-8"))))
    return rows


def run(configs: list[tuple[str, int | None]] = CONFIGS) -> list[QualityRow]:
    for set_name in SETS:
        for runtime, dims in configs:
            if (set_name, runtime, dims) in SKIP:
                continue
            if dims and (runtime, None) in configs and not _folder(set_name, runtime, dims).exists():
                truncate_index(set_name, runtime, dims)
            row = _row(set_name, runtime, dims, _eval(set_name, runtime, dims))
            print(
                f"  {set_name} {runtime} {dims or 768}: hit@1 {row.hit_at_1}, recall@3 {row.recall_at_3}, "
                f"AUROC {row.auroc}",
                flush=True,
            )
    return collect(configs)
