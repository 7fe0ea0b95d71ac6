"""Several sites on two replicas behind the shipped nginx configuration, one PostgreSQL database and one
data folder (the fake-encoder ``sourcier``, real processes and servers): readers ask and vote on two
sites through the proxy while one site is rebuilt; no request fails, every answer comes from the asked
site's articles, each vote is stored under its site, both replicas swap the rebuilt site's index and
the other site keeps its own."""

from __future__ import annotations

import random
import shutil
import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest

from corpus.load import load
from tests.conftest import FIXTURES, SEED
from tests.proxy import Nginx
from tests.reliability.conftest import ReaderThreads, assert_verbatim, free_ports, process_env, run_cli

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

QUESTIONS = {
    "mollet": ["Quel nerf innerve le mollet ?", "crampe la nuit, que faire ?", "Pourquoi le cœur s’accélère ?"],
    "guide": [
        "Pourquoi le cœur s’accélère ?",
        "Combien de temps doit lever la pâte ?",
        "Quel nerf innerve le mollet ?",
    ],
}
PACE = 1.1  # seconds between a reader's questions: under the proxy's 60 a minute per reader
NEW_ARTICLE = """# Renouveler sa carte de bibliothèque

La carte de bibliothèque se renouvelle chaque année à l’accueil, sur présentation d’un justificatif de domicile.
"""


class SiteReaders(ReaderThreads):
    """Readers asking (and now and then voting on) a site each, through the proxy, each from its own
    loopback address (the proxy's per-reader limit)."""

    def __init__(self, url: str, count: int = 10) -> None:
        self.url = url
        self.results: list[tuple[str, int, dict]] = []  # (site, status, body)
        self.votes: Counter[str] = Counter()
        self.lock = threading.Lock()
        super().__init__(count)

    def _read(self, reader: int) -> None:
        site = "mollet" if reader % 2 else "guide"
        rng = random.Random(reader)
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{20 + reader}")
        with httpx.Client(transport=transport, timeout=30) as client:
            while not self.stop.is_set():
                response = client.get(f"{self.url}/sites/{site}/api/ask", params={"q": rng.choice(QUESTIONS[site])})
                body = response.json()
                with self.lock:
                    self.results.append((site, response.status_code, body))
                if response.status_code == 200 and body["passages"] and rng.random() < 0.3:
                    passage = body["passages"][0]
                    vote = {k: passage[k] for k in ("doc_id", "start", "end")} | {"question": "q", "vote": 1}
                    if client.post(f"{self.url}/sites/{site}/api/feedback", json=vote).status_code == 201:
                        with self.lock:
                            self.votes[site] += 1
                time.sleep(PACE)


def test_replicas_serve_each_site_apart_while_one_site_is_rebuilt(database, served, tmp_path):
    _, url = database
    guide_corpus = tmp_path / "guide"
    shutil.copytree(FIXTURES, guide_corpus)
    sites_file = tmp_path / "sites.toml"
    sites_file.write_text(
        f'[sites.mollet]\ncorpus = ["{SEED}"]\n\n[sites.guide]\ncorpus = ["{guide_corpus}"]\n', encoding="utf-8"
    )
    folder = tmp_path / "shared"
    replica = {
        "sites_file": str(sites_file),
        "database_url": url,
        "query_log": "true",
        "rate_limit": "0",
        "reload_interval": "1",
    }
    built = run_cli(["build", "--all-sites", "--quiet"], process_env(folder, True, **replica))
    assert built.returncode == 0, built.stderr
    replicas = [served(folder=folder, build=False, **replica) for _ in range(2)]
    proxy = Nginx(free_ports(1, range(8350, 8400))[0], [int(r.url.rsplit(":", 1)[1]) for r in replicas])
    before = {site: info["index_version"] for site, info in replicas[0].health()["sites"].items()}
    try:
        with SiteReaders(proxy.url) as readers:
            time.sleep(4)
            (guide_corpus / "carte-bibliotheque.md").write_text(NEW_ARTICLE, encoding="utf-8")
            rebuilt = run_cli(["build", "--site-id", "guide", "--quiet"], process_env(folder, True, **replica))
            assert rebuilt.returncode == 0, rebuilt.stderr
            time.sleep(6)
        # the proxy's per-reader limit holds on every site's routes, in the one error shape
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.90"), timeout=10) as client:
            statuses = [
                client.get(f"{proxy.url}/sites/{site}/api/ask", params={"q": "crampe"}).status_code
                for site in ("mollet", "guide") * 15
            ]
            refused = client.get(f"{proxy.url}/sites/guide/api/suggest", params={"q": "cœur"})
        assert statuses[:21] == [200] * 21 and 429 in statuses[21:]  # a burst of 20 for both sites together
        assert refused.status_code == 429 and refused.json()["error"]["code"] == "too_many_requests"
    finally:
        proxy.stop()

    articles = {"mollet": {a.doc_id: a for a in load([SEED])}, "guide": {a.doc_id: a for a in load([guide_corpus])}}
    failed = [(site, status, body) for site, status, body in readers.results if status != 200]
    assert not failed and len(readers.results) > 50, failed[:3]
    for site, _, body in readers.results:
        assert_verbatim(body, articles[site])  # KeyError/assertion on any article of the other site
        assert {p["doc_id"] for p in body["passages"]} <= set(articles[site])
    after = [{site: info["index_version"] for site, info in r.health()["sites"].items()} for r in replicas]
    assert all(a["mollet"] == before["mollet"] and a["guide"] != before["guide"] for a in after)
    assert after[0] == after[1]
    with psycopg.connect(url) as conn:
        stored = Counter(dict(conn.execute("SELECT site, count(*) FROM feedback GROUP BY site").fetchall()))
        asked = dict(conn.execute("SELECT site, count(*) FROM queries GROUP BY site").fetchall())
    assert stored == readers.votes and sum(stored.values()) > 0
    assert set(asked) <= {"mollet", "guide"} and asked.get("mollet", 0) > 0 and asked.get("guide", 0) > 0
