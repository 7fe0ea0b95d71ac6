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


def test_each_site_of_a_sites_file_builds_on_the_cluster_as_it_does_locally(cluster, tmp_path):
    """``sourcier build --all-sites --ray``: every site's index from the one cluster, file for file the local one."""
    sites = tmp_path / "sites.toml"
    sites.write_text(
        f'[sites.mollet]\ncorpus = ["{ROOT / "corpus" / "articles"}"]\n\n'
        f'[sites.guide]\ncorpus = ["{ROOT / "tests" / "fixtures"}"]\n',
        encoding="utf-8",
    )
    for name, extra in (("ray", ["--ray", cluster.address, "--ray-workers", "2"]), ("local", [])):
        env = {
            **os.environ,
            "HF_HUB_OFFLINE": "1",
            "RAY_USAGE_STATS_ENABLED": "0",
            "SOURCIER_SITES_FILE": str(sites),
            "SOURCIER_DATA_DIR": str(tmp_path / name),
        }
        command = [sys.executable, "-m", "service.cli", "build", "--quiet", "--all-sites", *extra]
        done = subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    for site in ("mollet", "guide"):
        ray, local = (tmp_path / name / "sites" / site / "index" for name in ("ray", "local"))
        manifests = [json.loads((folder / "manifest.json").read_text()) for folder in (ray, local)]
        assert manifests[0]["version"] == manifests[1]["version"] and manifests[0]["corpus"]["articles"] > 0
        for name in manifests[0]["files"]:
            assert (ray / name).read_bytes() == (local / name).read_bytes(), (site, name)
    versions = {
        json.loads((tmp_path / "ray" / "sites" / s / "index" / "manifest.json").read_text())["version"]
        for s in ("mollet", "guide")
    }
    assert len(versions) == 2  # two sites, two indexes
