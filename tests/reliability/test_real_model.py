"""The real thing: ``sourcier serve`` with EmbeddingGemma under load, a real ``sourcier build`` adding an
article into the served folder while questions keep coming, and a tampered index refused at start."""

from __future__ import annotations

import json
import shutil
import threading
import time
from collections import Counter

import pytest

from index import store
from tests.conftest import FIXTURES, SEED
from tests.reliability.conftest import ARTIFACTS, damage, process_env, rss_mb, run_cli
from tests.reliability.load import run_load, verbatim_check

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

REAL_MEMORY_GROWTH_MB = 150  # stated bound for the real model after warm-up (torch keeps some buffers)


@pytest.fixture(scope="module")
def real_index(tmp_path_factory):
    """An index of the seed article and the test fixtures, built once by the real ``sourcier build``."""
    folder = tmp_path_factory.mktemp("real")
    result = run_cli(["build", "--quiet"], process_env(folder, fake=False), fake=False)
    assert result.returncode == 0, result.stderr
    return folder / "index"


def test_real_model_under_load_and_a_rebuild_while_serving(served, real_index, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "genou.txt").write_text(
        "Le genou du coureur\n\nLe ménisque amortit les chocs du genou pendant la course à pied.\n", encoding="utf-8"
    )
    shutil.copytree(real_index, tmp_path / "service" / "index")
    server = served(folder=tmp_path / "service", fake=False, reload_interval="0.5", rate_limit="0")
    index_dir = server.folder / "index"
    old = store.load(index_dir)
    warm = run_load(server.url, 5, 8, check=verbatim_check({old.version: old}))
    assert not warm.failures, warm.failures[:5]
    after_warm_up = rss_mb(server.pid)
    smoke = run_load(server.url, 30, 8, check=verbatim_check({old.version: old}))
    after_load = rss_mb(server.pid)
    summary = smoke.save(
        ARTIFACTS / "load-real.json",
        rss_after_warm_up_mb=round(after_warm_up, 1),
        rss_after_load_mb=round(after_load, 1),
        memory_bound_mb=REAL_MEMORY_GROWTH_MB,
    )
    print("real-model smoke under load:", json.dumps(summary))
    assert smoke.requests > 30 and not smoke.failures and set(smoke.statuses) == {200}, summary
    assert after_load - after_warm_up < REAL_MEMORY_GROWTH_MB, summary

    built: dict = {}

    def rebuild() -> None:  # the real command, reusing the vectors of unchanged text
        env = {**server.env, "SOURCIER_CORPUS": json.dumps([str(SEED), str(FIXTURES), str(extra)])}
        built["result"] = run_cli(["build", "--quiet"], env, fake=False)

    bodies: list[dict] = []
    builder = threading.Thread(target=rebuild)
    builder.start()
    reports = []
    while builder.is_alive() or len(reports) < 2:  # questions all through the build, the swap and after
        reports.append(run_load(server.url, 5, 4, check=lambda body: bodies.append(body)))
    assert built["result"].returncode == 0, built["result"].stderr
    new = store.load(index_dir)
    assert "genou" in new.articles and "genou" not in old.articles
    deadline = time.monotonic() + 10
    while server.health()["index_version"] != new.version and time.monotonic() < deadline:
        time.sleep(0.2)
    assert server.health()["index_version"] == new.version
    reports.append(run_load(server.url, 3, 4, check=lambda body: bodies.append(body)))
    check = verbatim_check({old.version: old, new.version: new})
    problems = [p for p in map(check, bodies) if p]
    seen = {b["index_version"] for b in bodies}
    (ARTIFACTS / "rebuild-real.json").write_text(
        json.dumps(
            {
                "requests": sum(r.requests for r in reports),
                "failures": sum(len(r.failures) for r in reports),
                "statuses": sum((r.statuses for r in reports), Counter()),
                "versions": sorted(seen),
            },
            indent=1,
        )
    )
    assert not problems, problems[:5]
    assert all(not r.failures and set(r.statuses) == {200} for r in reports), [r.summary() for r in reports]
    assert seen == {old.version, new.version}


def test_real_serve_refuses_a_tampered_index(real_index, tmp_path):
    shutil.copytree(real_index, tmp_path / "index")
    damage(tmp_path / "index", "tampered")
    result = run_cli(["serve", "--port", "8248"], process_env(tmp_path, fake=False), fake=False, timeout=300)
    assert result.returncode == 1
    assert "sentences.faiss does not match its hash" in result.stderr and "run `sourcier build`" in result.stderr
