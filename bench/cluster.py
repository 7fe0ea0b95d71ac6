"""Benchmark 8: a build's embedding on a Ray cluster — passages per second with 1 and 2 encoder actors on
this machine, against the local build's own embedding (one text per core) measured in the same run.

A real local Ray cluster: a head with no CPU and two worker nodes of one CPU each (the same as
``tests/test_distributed.py``), so every vector crosses processes as on a real cluster. The same
``BATCH_TEXTS`` PIAF passages each time; ``runs`` interleaved runs, medians. What it projects for N
machines is arithmetic on the measured per-actor rate, stated as such.

    python -m bench.run --only cluster      # a step of make bench (needs the 'ray' extra)
"""

from __future__ import annotations

import os
import random
import statistics
import time
from typing import Any

from bench.build import PIAF_ARTICLES, _inputs
from bench.common import bench_settings
from corpus.load import load

TEXTS = 400


def run(runtime: str, runs: int = 3) -> dict[str, Any]:
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    import ray
    from ray.cluster_utils import Cluster

    from index.distributed import RayEncoder

    settings = bench_settings(runtime=runtime)
    local = settings.load_encoder()
    sample = random.Random(0).sample(_inputs(load([PIAF_ARTICLES])), TEXTS)
    titles, texts = [t for t, _ in sample], [x for _, x in sample]
    cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        cluster.add_node(num_cpus=1)
    rates: dict[str, list[float]] = {"local": [], "ray-1": [], "ray-2": []}
    try:
        cluster_encoder = RayEncoder(
            local, cluster.address, settings.model, str(settings.model_cache), runtime, settings.dims, workers=2
        )
        cluster_encoder.encode_documents(texts[:8], titles[:8])  # both actors loaded and warm
        for _ in range(runs):
            for name in rates:
                encoder = local if name == "local" else cluster_encoder
                cluster_encoder.workers = 1 if name == "ray-1" else 2
                started = time.perf_counter()
                encoder.encode_documents(texts, titles)
                rates[name].append(TEXTS / (time.perf_counter() - started))
    finally:
        ray.shutdown()
        cluster.shutdown()
    medians = {name: round(statistics.median(values), 2) for name, values in rates.items()}
    per_actor = medians["ray-2"] / 2
    return {
        "runtime": local.runtime,
        "texts": TEXTS,
        "runs": runs,
        "passages_per_s": medians,
        "ray_2_vs_local": round(medians["ray-2"] / medians["local"], 3),
        "ray_2_vs_ray_1": round(medians["ray-2"] / medians["ray-1"], 3),
        "per_actor_per_s": round(per_actor, 2),
        "projection": "N machines of C cores: about N × C × per_actor_per_s passages/s (one actor per core), "
        "the driver only sending texts and collecting vectors",
    }
