"""``sourcier build --ray``: the passages embedded on a real local Ray cluster (a head with no CPU and two
worker nodes of one CPU each, so every vector is computed in another process) give the index a local
build writes, file for file."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from service.settings import ROOT

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def cluster():
    ray_utils = pytest.importorskip("ray.cluster_utils", reason="the 'ray' extra is not installed")
    os.environ["RAY_USAGE_STATS_ENABLED"] = "0"
    started = ray_utils.Cluster(initialize_head=True, head_node_args={"num_cpus": 0, "include_dashboard": False})
    for _ in range(2):
        started.add_node(num_cpus=1)
    yield started
    started.shutdown()


def build(folder, *extra: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "SOURCIER_INDEX_DIR": str(folder), "RAY_USAGE_STATS_ENABLED": "0"}
    command = [sys.executable, "-m", "service.cli", "build", "--quiet", "--force", *extra]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)


def test_a_build_on_a_ray_cluster_writes_the_local_build_byte_for_byte(cluster, tmp_path):
    distributed = build(tmp_path / "ray", "--ray", cluster.address, "--ray-workers", "2")
    assert distributed.returncode == 0, distributed.stderr[-3000:]
    local = build(tmp_path / "local")
    assert local.returncode == 0, local.stderr[-3000:]
    manifests = [json.loads((tmp_path / name / "manifest.json").read_text()) for name in ("ray", "local")]
    assert manifests[0]["build"]["embedded"] == manifests[1]["build"]["embedded"] > 0
    assert manifests[0]["files"] == manifests[1]["files"]
    for name in manifests[0]["files"]:
        assert (tmp_path / "ray" / name).read_bytes() == (tmp_path / "local" / name).read_bytes(), name
    for key in ("version", "model", "settings", "corpus"):
        assert manifests[0][key] == manifests[1][key], key
    for manifest in manifests:  # the threshold measured from the same vectors; only when differs
        manifest["abstention"].pop("measured_at")
    assert manifests[0]["abstention"] == manifests[1]["abstention"]
