"""A real ``sourcier serve`` process on loopback (the fake-encoder CLI of ``fake_cli.py``: the service's
own code, with a 1 ms encoder instead of a 100 ms one): load, memory, rebuild while serving,
overload, rate limit, huge bodies, raw paths and headers. Measurements go to artifacts/reliability/."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
import time
import urllib.error
import urllib.request
from dataclasses import replace

import httpx
import pytest

from corpus.load import load
from index.build import build
from index.search import Index
from tests.conftest import FAKE_CONFIG, FIXTURES, SEED, FakeEncoder
from tests.reliability.conftest import ARTIFACTS, assert_error_shape, rss_mb, run_cli
from tests.reliability.load import run_load, verbatim_check

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

LOAD_SECONDS = float(os.environ.get("SOURCIER_LOAD_SECONDS", "90"))
MEMORY_GROWTH_MB = 40  # stated bound: RSS after the load test may exceed RSS after warm-up by this much
OPEN = {"rate_limit": "0", "max_inflight": "64"}  # one loopback client plays many readers here


def fake_index(paths) -> Index:
    return build(load(paths), FakeEncoder(), replace(FAKE_CONFIG, runtime="torch"))


def test_load_at_concurrency_32_without_errors_or_memory_growth(served):
    server = served(query_log="true", **OPEN)
    check = verbatim_check({(index := fake_index([SEED, FIXTURES])).version: index})
    warm = run_load(server.url, 10, 32, check=check)
    assert not warm.failures, warm.failures[:5]
    after_warm_up = rss_mb(server.pid)
    report = run_load(server.url, LOAD_SECONDS, 32, check=check)
    after_load = rss_mb(server.pid)
    summary = report.save(
        ARTIFACTS / "load-fake.json",
        rss_after_warm_up_mb=round(after_warm_up, 1),
        rss_after_load_mb=round(after_load, 1),
        memory_bound_mb=MEMORY_GROWTH_MB,
    )
    print("load test (fake encoder):", json.dumps(summary))
    assert report.requests > 1000 and not report.failures, report.failures[:5]
    assert set(report.statuses) == {200}
    assert after_load - after_warm_up < MEMORY_GROWTH_MB, summary
    logged = server.health()
    assert logged["status"] == "ok"


def test_rebuild_while_serving_under_load(served, tmp_path):
    extra = tmp_path / "extra"
    extra.mkdir()
    (extra / "genou.txt").write_text(
        "Le genou\n\nLe ménisque amortit les chocs du genou pendant la course.\n", encoding="utf-8"
    )
    corpora = {"old": [SEED, FIXTURES], "new": [SEED, FIXTURES, extra]}
    indexes = {name: fake_index(paths) for name, paths in corpora.items()}
    server = served(reload_interval="0.2", **OPEN)
    assert server.health()["index_version"] == indexes["old"].version
    versions_seen, stop = set(), threading.Event()

    def rebuild_again_and_again() -> None:
        """Four builds into the served folder, alternating corpora, while the load runs."""
        for name in ("new", "old", "new", "old"):
            env = {**server.env, "SOURCIER_CORPUS": json.dumps([str(p) for p in corpora[name]])}
            result = run_cli(["build", "--quiet", "--force"], env)
            assert result.returncode == 0, result.stderr
            deadline = time.monotonic() + 15
            while server.health()["index_version"] != indexes[name].version and time.monotonic() < deadline:
                time.sleep(0.05)
            versions_seen.add(server.health()["index_version"])
            time.sleep(1.5)
        stop.set()

    builder = threading.Thread(target=rebuild_again_and_again)
    builder.start()
    report = run_load(server.url, 40, 16, check=verbatim_check({i.version: i for i in indexes.values()}))
    builder.join(timeout=120)
    report.save(ARTIFACTS / "rebuild-under-load.json", versions=sorted(versions_seen))
    assert stop.is_set() and versions_seen == {i.version for i in indexes.values()}
    assert report.requests > 500 and not report.failures, report.failures[:5]
    assert set(report.statuses) == {200}
    assert "index reloaded" in server.log()


def test_sighup_reloads_and_a_bad_build_changes_nothing(served, tmp_path):
    server = served(reload_interval="0")
    first = server.health()["index_version"]
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "x", "title": "X", "text": "ok"}\n{"id": "x"\n', encoding="utf-8")
    failed = run_cli(["build", "--quiet", "--corpus", str(SEED), str(bad)], server.env)
    assert failed.returncode == 1 and "bad.jsonl:2" in failed.stderr
    server.process.send_signal(signal.SIGHUP)
    time.sleep(1)
    assert server.health()["index_version"] == first and server.process.poll() is None
    newer = fake_index([SEED])
    assert run_cli(["build", "--quiet", "--corpus", str(SEED)], server.env).returncode == 0
    time.sleep(1)
    assert server.health()["index_version"] == first  # reload_interval 0: no polling ...
    server.process.send_signal(signal.SIGHUP)  # ... until told
    deadline = time.monotonic() + 10
    while server.health()["index_version"] != newer.version and time.monotonic() < deadline:
        time.sleep(0.1)
    assert server.health()["index_version"] == newer.version


def test_overload_and_rate_limit_degrade_with_retry_after_not_timeouts(served):
    slow = served(max_inflight="4", rate_limit="0", test_query_delay="0.2")
    report = run_load(slow.url, 8, 32, timeout=10)
    report.save(ARTIFACTS / "overload.json")
    assert not report.failures, report.failures[:5]  # no timeouts, no dropped connections
    assert set(report.statuses) == {200, 503} and report.statuses[503] > report.statuses[200]
    assert report.retry_after_missing == 0
    assert report.percentile(99) < 10_000
    limited = served(rate_limit="60", rate_burst="5")
    statuses = [httpx.post(f"{limited.url}/api/ask", json={"question": "nerf"}, timeout=10) for _ in range(8)]
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 3
    assert all(r.headers["retry-after"] == "1" for r in statuses[5:])
    assert_error_shape(statuses[-1], 429)


def raw_get(url: str, path: str) -> tuple[int, str]:
    """GET ``path`` exactly as written (no client-side normalisation of ``..``)."""
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        conn.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.decode("utf-8", "replace").partition("\r\n\r\n")
    return int(head.split()[1]), head.lower() + "\n\n" + body


def test_huge_bodies_raw_paths_and_headers_on_the_wire(served):
    server = served()
    big = httpx.post(
        f"{server.url}/api/ask",
        content=b'{"question": "' + b"a" * 10_000_000 + b'"}',
        headers={"content-type": "application/json"},
        timeout=30,
    )
    assert assert_error_shape(big, 413)["code"] == "payload_too_large"
    # urllib sends the whole body before it reads anything: the service reads the refused body away
    # (bounded) so that it gets the 413, not a connection reset
    request = urllib.request.Request(
        f"{server.url}/api/ask", data=b'{"question": "' + b"a" * 8_000_000 + b'"}', method="POST"
    )
    request.add_header("Content-Type", "application/json")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=30)
    assert refused.value.code == 413 and json.loads(refused.value.read())["error"]["code"] == "payload_too_large"

    # a sender that announces 10 MB and stalls holds the worker for LINGER_SECONDS at most, then gets its 413
    host, port = server.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=30) as conn:
        conn.sendall(
            b"POST /api/ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 10000000\r\n\r\n" + b"a" * 1000
        )
        assert conn.recv(65536).startswith(b"HTTP/1.1 413")

    def chunked():
        for _ in range(200):
            yield b"x" * 50_000

    streamed = httpx.post(f"{server.url}/api/feedback", content=chunked(), timeout=30)
    assert_error_shape(streamed, 413)
    for path in (
        "/articles/../../../../etc/passwd",
        "/api/articles/..%2f..%2f..%2fetc%2fpasswd",
        "/articles/%2e%2e/%2e%2e/pyproject.toml",
        "/api/articles/../../service/settings.py",
    ):
        status, text = raw_get(server.url, path)
        assert status in (400, 404) and "root:" not in text and "[project]" not in text and "SOURCIER" not in text
    status, text = raw_get(server.url, "/articles/piege")
    assert status == 200 and "\nserver:" not in text and "uvicorn" not in text
    assert "content-security-policy: default-src 'none'" in text and "x-content-type-options: nosniff" in text
    assert httpx.post(f"{server.url}/api/ask", json={"question": "nerf"}).status_code == 200  # still up
