"""Benchmark 3: ``POST /api/ask`` over loopback at concurrency 1, 4 and 16.

A real ``sourcier serve`` (its own process, port 8250) is started on a saved index, warmed up, then
driven by an async httpx client with a fixed number of requests per level and a time cap; the
server is stopped at the end whatever happens. Rate limiting is switched off for the run (one
client address sends everything)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import ROOT, WORK, Timing

PORT = 8250
LEVELS = {1: 150, 4: 300, 16: 600}  # concurrency → requests
CAP_S = 120.0  # no level runs longer than this


@dataclass
class HttpLevel:
    concurrency: int
    requests: int
    errors: int
    seconds: float
    requests_per_s: float
    latency: Timing


def start_server(index: Path, runtime: str, port: int = PORT) -> subprocess.Popen:
    env = {
        **os.environ,
        "SOURCIER_RUNTIME": runtime,
        "SOURCIER_DATA_DIR": str(WORK / "data"),
        "SOURCIER_RATE_LIMIT": "0",
        "SOURCIER_MAX_INFLIGHT": "64",
        "SOURCIER_RELOAD_INTERVAL": "0",
        "HF_HUB_OFFLINE": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    command = [sys.executable, "-m", "service.cli", "serve", "--index", str(index), "--port", str(port)]
    # The server's log goes to a file: a pipe nobody reads fills up (one access line per request) and
    # blocks the server mid-benchmark.
    log_path = WORK / f"serve-{port}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "wb") as log:
        server = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, start_new_session=True
        )
    wait_healthy(server, f"http://127.0.0.1:{port}", log_path)
    return server


def wait_healthy(server: subprocess.Popen, url: str, log_path: Path, startup: float = 300) -> None:
    """Return once ``url``'s /api/health answers; a server that exits or stays silent is an error (and stopped)."""
    deadline = time.monotonic() + startup
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"sourcier serve exited: {log_path.read_text(errors='replace')[-2000:]}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"sourcier serve did not answer /api/health within {startup} s")


def stop_server(server: subprocess.Popen) -> None:
    if server.poll() is None:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


async def _level(client: httpx.AsyncClient, questions: list[str], concurrency: int, count: int) -> HttpLevel:
    latencies: list[float] = []
    errors = 0
    next_item = 0
    started = time.perf_counter()

    async def worker() -> None:
        nonlocal errors, next_item
        while next_item < count and time.perf_counter() - started < CAP_S:
            question = questions[next_item % len(questions)]
            next_item += 1
            t = time.perf_counter()
            try:
                response = await client.post("/api/ask", json={"question": question})
                ok = response.status_code == 200 and "answered" in response.json()
            except httpx.HTTPError:
                ok = False
            latencies.append((time.perf_counter() - t) * 1000)
            errors += not ok

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    seconds = time.perf_counter() - started
    return HttpLevel(
        concurrency, len(latencies), errors, round(seconds, 2), round(len(latencies) / seconds, 2), Timing.of(latencies)
    )


async def _drive(questions: list[str], port: int) -> list[HttpLevel]:
    limits = httpx.Limits(max_connections=32, max_keepalive_connections=32)
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=60, limits=limits) as client:
        await _level(client, questions, 1, 10)  # warm-up
        return [await _level(client, questions, c, n) for c, n in LEVELS.items()]


def run(index: Path, runtime: str, questions: list[str], port: int = PORT) -> list[HttpLevel]:
    server = start_server(index, runtime, port)
    try:
        return asyncio.run(_drive(questions, port))
    finally:
        stop_server(server)
