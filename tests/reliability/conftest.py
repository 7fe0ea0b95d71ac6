"""Helpers of the reliability suite: in-process apps on the FakeEncoder, and real ``sourcier``
processes on loopback ports 8200-8249 (the fake-encoder CLI of ``fake_cli.py``, or the real one)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient

from corpus.load import load
from index.build import build
from index.search import Index
from service.settings import Settings
from service.web.app import create_app
from tests.browser.conftest import free_ports
from tests.conftest import FAKE_CONFIG, FIXTURES, ROOT, SEED, FakeEncoder, make_answerer

PORTS = range(8200, 8250)
# The fake stands in for the torch encoder (tests/reliability/fake_cli.py), so its servers run that runtime.
FAKE_ENV = {"SOURCIER_MODEL": FakeEncoder.name, "SOURCIER_THRESHOLD": "0.3", "SOURCIER_RUNTIME": "torch"}
ARTIFACTS = ROOT / "artifacts" / "reliability"


def assert_error_shape(response: httpx.Response, status: int | None = None) -> dict:
    """The documented error body ``{"error": {"code": str, "message": str}}`` (and the status)."""
    if status is not None:
        assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and body["error"]["code"]
    assert isinstance(body["error"]["message"], str) and body["error"]["message"]
    return body["error"]


def assert_verbatim(body: dict, articles: dict) -> None:
    """Every answer and passage of an /api/ask body is its article's text at its offsets."""
    answers = ([body["answer"]] if body["answer"] else []) + body["alternatives"]
    assert bool(body["answer"]) == body["answered"]
    for answer in answers:
        c = answer["citation"]
        assert articles[c["doc_id"]].text[c["start"] : c["end"]] == answer["text"]
    for passage in body["passages"]:
        assert articles[passage["doc_id"]].text[passage["start"] : passage["end"]] == passage["text"]


def fake_app_client(index: Index, encoder: FakeEncoder | None = None, **settings) -> TestClient:
    encoder = encoder or FakeEncoder()
    answerer = make_answerer(index, encoder, threshold=0.3, base_url="http://test")
    app = create_app(Settings(**settings), loader=lambda _: answerer)
    return TestClient(app, raise_server_exceptions=False)


@pytest.fixture(scope="module")
def corpus_index() -> Index:
    """The seed article and the test fixtures (Markdown, HTML with scripts, JSONL), fake-encoded."""
    return build(load([SEED, FIXTURES]), FakeEncoder(), replace(FAKE_CONFIG, runtime="torch"))


def damage(folder: Path, how: str) -> None:
    """Break a saved index folder in one of the ways an operator may meet."""
    faiss_file = folder / "sentences.faiss"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if how == "truncated":
        faiss_file.write_bytes(faiss_file.read_bytes()[:64])
    elif how == "tampered":
        data = bytearray(faiss_file.read_bytes())
        data[len(data) // 2] ^= 0x01
        faiss_file.write_bytes(bytes(data))
    elif how == "tampered-text":
        path = folder / "articles.jsonl"
        path.write_text(path.read_text(encoding="utf-8").replace("mollet", "genou", 1), encoding="utf-8")
    elif how == "missing":
        (folder / "chunks.jsonl").unlink()
    elif how == "other-model":
        manifest["settings"]["model"] = manifest["model"]["name"] = "google/embeddinggemma-300m"
    elif how == "other-settings":
        manifest["settings"]["chunk_chars"] = 300
    elif how == "unreadable-manifest":
        (folder / "manifest.json").write_text("{pas du json", encoding="utf-8")
    elif how == "no-index":
        shutil.rmtree(folder)
    if how in ("other-model", "other-settings"):
        (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")


def rss_mb(pid: int) -> float:
    """Resident memory of a process, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cli_command(fake: bool) -> list[str]:
    module = "tests.reliability.fake_cli" if fake else "service.cli"
    return [sys.executable, "-m", module]


def process_env(folder: Path, fake: bool, **settings: str) -> dict[str, str]:
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "SOURCIER_INDEX_DIR": str(folder / "index"),
        "SOURCIER_DATA_DIR": str(folder / "data"),
        "SOURCIER_CORPUS": json.dumps([str(SEED), str(FIXTURES)]),
    }
    if fake:
        env.update(FAKE_ENV)
    env.update({f"SOURCIER_{k.upper()}": v for k, v in settings.items()})
    return env


def run_cli(
    args: list[str], env: dict[str, str], fake: bool = True, timeout: float = 900
) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*cli_command(fake), *args], env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout
    )


@dataclass
class Server:
    url: str
    folder: Path
    env: dict[str, str]
    process: subprocess.Popen
    log_path: Path
    fake: bool = True
    extra: dict = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def health(self) -> dict:
        return httpx.get(f"{self.url}/api/health", timeout=10).json()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def start_server(
    folder: Path, fake: bool = True, startup: float = 60, port: int | None = None, **settings: str
) -> Server:
    """``sourcier serve`` (or its fake-encoder twin) on ``port`` or a free loopback port, once /api/health answers."""
    folder.mkdir(parents=True, exist_ok=True)
    port = port or free_ports(1, PORTS)[0]
    env = process_env(folder, fake, **settings)
    url = f"http://127.0.0.1:{port}"
    log_path = folder / f"serve-{port}.log"
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [*cli_command(fake), "serve", "--host", "127.0.0.1", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    server = Server(url, folder, env, process, log_path, fake)
    deadline = time.monotonic() + startup
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"sourcier serve exited ({process.returncode}): {server.log()}")
        try:
            if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            server.stop()
            raise RuntimeError(f"sourcier serve did not answer within {startup} s: {server.log()}")
        time.sleep(0.2)


@pytest.fixture
def served(tmp_path) -> Iterator[Callable[..., Server]]:
    """Start servers with ``served(**settings)``; all are stopped after the test."""
    servers: list[Server] = []

    def start(
        folder: Path | None = None, fake: bool = True, build: bool = True, port: int | None = None, **settings: str
    ) -> Server:
        folder = folder or tmp_path / f"server-{len(servers)}"
        if build and not (folder / "index").exists():
            result = run_cli(["build", "--quiet"], process_env(folder, fake, **settings), fake)
            assert result.returncode == 0, result.stderr
        server = start_server(folder, fake, startup=60 if fake else 300, port=port, **settings)
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.stop()


@pytest.fixture
def database():
    """A PostgreSQL server of the test's own (it may stop and start it) and a database on it, by URL."""
    from tests.postgres import PostgresServer

    server = PostgresServer()
    server.start()
    yield server, server.new_database()
    server.remove()


class ReaderThreads:
    """Reader threads running ``self._read(i)`` from ``with`` until its end, then stopped and joined."""

    def __init__(self, count: int) -> None:
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self._read, args=(i,)) for i in range(count)]

    def _read(self, reader: int) -> None:
        raise NotImplementedError

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop.set()
        for thread in self.threads:
            thread.join(timeout=60)
