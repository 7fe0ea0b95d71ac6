"""A real ``sourcier serve`` (real model, temporary index of the seed article and the test articles
of ``tests/browser/articles``), a third-party-like page on another loopback origin, and Debian's
headless Chromium driven by Playwright. Screenshots go to ``artifacts/screenshots/``."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import ROOT, SEED

ARTICLES = Path(__file__).resolve().parent / "articles"
SCREENSHOTS = ROOT / "artifacts" / "screenshots"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PORTS = range(8100, 8150)  # the loopback ports this project's tests may use

# A shop page that knows nothing of Sourcier but the script tag, with CSS that would break a
# widget living in the page's own DOM.
THIRD_PARTY_PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Boutique</title>
<style>*{{color:rgb(200,0,0)!important;font-family:serif!important}} button{{display:none!important}}
mark{{display:none!important}} p{{font-size:15px}}</style></head>
<body><h1>Une boutique quelconque</h1><p id="page-text">Le texte de la boutique.</p>
<input id="page-input" aria-label="Champ de la boutique">
<script src="{api}/widget.js" data-sourcier-api="{api}" defer></script></body></html>"""


@dataclass
class Service:
    url: str
    third_party_url: str
    data_dir: Path
    process: subprocess.Popen

    def ask(self, question: str) -> dict:
        return httpx.post(f"{self.url}/api/ask", json={"question": question}, timeout=60).json()

    def article_text(self, doc_id: str) -> str:
        return httpx.get(f"{self.url}/api/articles/{doc_id}", timeout=10).json()["text"]


def free_ports(count: int, ports: range = PORTS) -> list[int]:
    found = []
    for port in ports:
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
        found.append(port)
        if len(found) == count:
            return found
    raise RuntimeError(f"fewer than {count} free loopback ports in {ports}")


def serve_page(port: int, html: str) -> ThreadingHTTPServer:
    body = html.encode("utf-8")

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


@pytest.fixture(scope="session")
def service(tmp_path_factory) -> Iterator[Service]:
    folder = tmp_path_factory.mktemp("widget-service")
    port, page_port = free_ports(2)
    url, third_party = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{page_port}"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "TOKENIZERS_PARALLELISM": "false",
        "SOURCIER_INDEX_DIR": str(folder / "index"),
        "SOURCIER_DATA_DIR": str(folder / "data"),
        "SOURCIER_CORPUS": json.dumps([str(SEED), str(ARTICLES)]),
        "SOURCIER_PUBLIC_URL": url,
        "SOURCIER_CORS_ORIGINS": json.dumps([third_party]),
    }
    cli = [sys.executable, "-m", "service.cli"]
    subprocess.run([*cli, "build", "--quiet"], env=env, cwd=ROOT, check=True, timeout=900)
    log = (folder / "serve.log").open("w")
    process = subprocess.Popen(
        [*cli, "serve", "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    page_server = serve_page(page_port, THIRD_PARTY_PAGE.format(api=url))
    try:
        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"sourcier serve exited: {(folder / 'serve.log').read_text()}")
            try:
                if httpx.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("sourcier serve did not answer /api/health within 180 s")
            time.sleep(0.5)
        yield Service(url, third_party, folder / "data", process)
    finally:
        page_server.shutdown()
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `apt-get install chromium chromium-driver` (as .ci/run does)")
    from playwright.sync_api import sync_playwright

    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        # Playwright takes the fresh user-data folder as an argument rather than as --user-data-dir.
        context = playwright.chromium.launch_persistent_context(
            tmp_path_factory.mktemp("chromium-profile"),
            executable_path=CHROMIUM,
            headless=True,
            args=CHROMIUM_ARGS,
            viewport={"width": 1100, "height": 800},
            locale="fr-FR",
        )
        context.set_default_timeout(30_000)
        yield context
        context.close()


@pytest.fixture
def page(browser_context):
    """A fresh tab; any JavaScript error on it fails the test."""
    tab = browser_context.new_page()
    errors: list[str] = []
    tab.on("pageerror", lambda error: errors.append(str(error)))
    yield tab
    tab.close()
    assert not errors, errors
