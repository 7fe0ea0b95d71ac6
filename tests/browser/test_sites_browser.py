"""The widget of one site among several, in headless Chromium: a third-party page whose tag names the
site ``guide`` asks ``/sites/guide/…`` only, shows an answer from guide's articles, links the citation
to guide's article page and stores the vote under guide. The server is the fake-encoder ``sourcier``
(tests/reliability/fake_cli.py: the real command, a fake model), so this checks the wiring, not answers."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from corpus.load import load
from tests.browser.conftest import free_ports, serve_page
from tests.conftest import FIXTURES, SEED
from tests.reliability.conftest import Server, process_env, run_cli, start_server

pytestmark = [pytest.mark.slow, pytest.mark.browser]

PAGE = """<!doctype html><html lang="fr"><head><meta charset="utf-8"><title>Guide</title></head>
<body><h1>Le guide</h1><div data-sourcier></div>
<script src="{api}/sites/guide/widget.js" data-sourcier-api="{api}" data-sourcier-site="guide" defer></script>
</body></html>"""


@pytest.fixture(scope="module")
def sites_server(tmp_path_factory) -> Iterator[tuple[Server, str]]:
    folder = tmp_path_factory.mktemp("sites-widget")
    (port,) = free_ports(1)
    page_url = f"http://127.0.0.1:{port}"
    sites = folder / "sites.toml"
    sites.write_text(
        f'[sites.mollet]\ncorpus = ["{SEED}"]\n\n'
        f'[sites.guide]\ncorpus = ["{FIXTURES}"]\norigins = ["{page_url}"]\n'
        'widget_examples = ["Pourquoi le cœur s’accélère ?"]\n',
        encoding="utf-8",
    )
    settings = {"sites_file": str(sites), "rate_limit": "0"}
    built = run_cli(["build", "--all-sites", "--quiet"], process_env(folder, True, **settings))
    assert built.returncode == 0, built.stderr
    server = start_server(folder, True, **settings)
    page_server = serve_page(port, PAGE.format(api=server.url))
    try:
        yield server, page_url
    finally:
        page_server.shutdown()
        server.stop()


def test_the_widget_asks_the_site_its_tag_names_and_votes_there(page: Page, sites_server):
    server, page_url = sites_server
    guide = {a.doc_id for a in load([FIXTURES])}
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/api/" in r.url else None)
    page.goto(page_url)
    expect(page.get_by_text("Pourquoi le cœur s’accélère ?")).to_be_visible()  # guide's own examples
    with page.expect_response(lambda r: r.url.endswith("/sites/guide/api/ask")) as asked:
        page.locator("input[role=combobox]").fill("Pourquoi le cœur s’accélère pendant l’effort ?")
    body = asked.value.json()
    assert body["answered"] and body["answer"]["citation"]["doc_id"] in guide
    assert {p["doc_id"] for p in body["passages"]} <= guide
    expect(page.locator("mark")).to_have_text(body["answer"]["text"])
    with page.expect_response(lambda r: r.url.endswith("/sites/guide/api/feedback")) as voted:
        page.locator("button.up").click()
    assert voted.value.status == 201
    assert calls and all(f"{server.url}/sites/guide/api/" in url for url in calls), calls
    with sqlite3.connect(Path(server.folder) / "data" / "sourcier.db") as db:
        rows = db.execute("SELECT site, doc_id FROM feedback").fetchall()
    assert rows == [("guide", body["answer"]["citation"]["doc_id"])]
