"""Three replicas behind the shipped nginx configuration, on one index folder and one PostgreSQL
database, with 30 readers for a minute while a replica is killed (-9) and restarted, a new index is
published and PostgreSQL is restarted: no question fails, every acknowledged vote is stored once, no
response mixes index versions. The figures per phase go to artifacts/reliability/replicas.json (quoted
in the README). A second test checks the proxy's limits: body size, per-reader rate, X-Forwarded-For."""

from __future__ import annotations

import json
import random
import statistics
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from dataclasses import dataclass

import httpx
import psycopg
import pytest

from corpus.load import load
from tests.conftest import FIXTURES, SEED
from tests.proxy import Nginx
from tests.reliability.conftest import (
    ARTIFACTS,
    ReaderThreads,
    assert_error_shape,
    assert_verbatim,
    free_ports,
    process_env,
    run_cli,
)

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

READERS = 30
PACE = 1.1  # seconds between a reader's requests: under the proxy's 60 a minute per reader
NEW_ARTICLE = """# Renouveler sa carte de bibliothèque

La carte de bibliothèque se renouvelle chaque année à l’accueil, sur présentation d’un justificatif
de domicile de moins de trois mois. Le renouvellement est gratuit pour les moins de 18 ans.
"""
QUESTIONS = [
    "Pourquoi le mollet tremble-t-il ?",
    "Quel nerf innerve le mollet ?",
    "Comment renouveler sa carte de bibliothèque ?",
    "crampe la nuit, que faire ?",
    "Le magnésium aide-t-il contre les contractions ?",
]


@dataclass
class Outcome:
    kind: str  # "ask" or "vote"
    start: float  # seconds since the traffic began
    ms: float
    status: int
    body: dict


class Readers(ReaderThreads):
    """Readers each from its own loopback address (127.0.0.x), so that the proxy's per-reader limit
    applies to each as it would to people behind different addresses."""

    def __init__(self, url: str, count: int = READERS) -> None:
        self.url = url
        self.t0 = time.monotonic()
        self.outcomes: list[Outcome] = []
        self.votes: list[tuple[int, str]] = []
        self.lock = threading.Lock()
        super().__init__(count)

    def now(self) -> float:
        return time.monotonic() - self.t0

    def _read(self, reader: int) -> None:
        transport = httpx.HTTPTransport(local_address=f"127.0.0.{10 + reader}")
        rng = random.Random(reader)
        time.sleep(rng.random() * PACE)
        with httpx.Client(transport=transport, timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                started = time.monotonic()
                question = f"{rng.choice(QUESTIONS)} ({reader}-{n})"
                if n % 4 == 0:
                    self._vote(client, question)
                else:
                    self._ask(client, question, post=n % 2 == 0)
                time.sleep(max(0.0, PACE - (time.monotonic() - started)))

    def _record(self, kind: str, started: float, response: httpx.Response) -> dict:
        body = response.json()  # every answer, error or not, is JSON: nginx's refusals too
        with self.lock:
            self.outcomes.append(
                Outcome(kind, started - self.t0, (time.monotonic() - started) * 1000, response.status_code, body)
            )
        return body

    def _ask(self, client: httpx.Client, question: str, post: bool) -> None:
        started = time.monotonic()
        if post:
            response = client.post(f"{self.url}/api/ask", json={"question": question})
        else:
            response = client.get(f"{self.url}/api/ask", params={"q": question})
        self._record("ask", started, response)

    def _vote(self, client: httpx.Client, question: str) -> None:
        started = time.monotonic()
        body = {"question": question, "doc_id": "contractions-muscle-mollet", "start": 0, "end": 10, "vote": 1}
        response = client.post(f"{self.url}/api/feedback", json=body)
        answer = self._record("vote", started, response)
        if response.status_code == 201:
            with self.lock:
                self.votes.append((answer["id"], question))


def figures(outcomes: list[Outcome], phases: dict[str, tuple[float, float]]) -> dict:
    """Requests, errors, p50/p95 (ms) of questions and votes in each phase."""
    result = {}
    for name, (begin, end) in phases.items():
        chosen = [o for o in outcomes if begin <= o.start < end]
        asks = [o for o in chosen if o.kind == "ask"]
        votes = [o for o in chosen if o.kind == "vote"]
        ms = sorted(o.ms for o in asks)
        result[name] = {
            "seconds": [round(begin, 1), round(end, 1)],
            "asks": len(asks),
            "ask_errors": sum(o.status != 200 for o in asks),
            "ask_p50_ms": round(statistics.median(ms), 1) if ms else None,
            "ask_p95_ms": round(ms[int(0.95 * (len(ms) - 1))], 1) if ms else None,
            "votes": len(votes),
            "votes_acknowledged": sum(o.status == 201 for o in votes),
            "votes_refused": dict(Counter(f"{o.status} {o.body['error']['code']}" for o in votes if o.status != 201)),
        }
    return result


def test_replicas_behind_nginx_through_kill_publish_and_database_restart(database, served, tmp_path):
    server, url = database
    folder = tmp_path / "site"
    replica = {
        "database_url": url,
        "database_timeout": "1",
        "query_log": "true",
        "rate_limit": "0",  # the per-reader limit is the proxy's
        "reload_interval": "1",
    }
    replicas = [served(folder=folder, build=i == 0, **replica) for i in range(3)]
    ports = [int(r.url.rsplit(":", 1)[1]) for r in replicas]
    (listen,) = free_ports(1, range(8300, 8350))
    proxy = Nginx(listen, ports)
    new_article = tmp_path / "nouveautes" / "carte-bibliotheque.md"
    new_article.parent.mkdir()
    new_article.write_text(NEW_ARTICLE, encoding="utf-8")
    articles = {a.doc_id: a for a in load([SEED, FIXTURES, new_article])}
    old_version = replicas[0].health()["index_version"]
    marks: dict[str, float] = {}
    try:
        with Readers(proxy.url) as readers:
            time.sleep(10)
            marks["kill"] = readers.now()
            replicas[0].process.kill()
            replicas[0].process.wait(timeout=10)
            time.sleep(3)
            replicas[0] = served(folder=folder, build=False, port=ports[0], **replica)
            marks["restarted"] = readers.now()
            time.sleep(5)
            marks["publish"] = readers.now()
            corpus = json.dumps([str(SEED), str(FIXTURES), str(new_article.parent)])
            built = run_cli(["build", "--quiet"], process_env(folder, True, corpus=corpus))
            assert built.returncode == 0, built.stderr
            marks["published"] = readers.now()
            time.sleep(12)
            marks["postgres_stop"] = readers.now()
            server.stop()
            time.sleep(4)
            server.start()
            marks["postgres_back"] = readers.now()
            time.sleep(max(0.0, 65 - readers.now()))
            marks["end"] = readers.now()
    finally:
        proxy_log = proxy.access_log.read_text(errors="replace") if proxy.access_log.exists() else ""
        proxy.stop()

    outcomes = readers.outcomes
    asks = [o for o in outcomes if o.kind == "ask"]
    failed = [(o.start, o.status, o.body) for o in asks if o.status != 200]
    assert not failed, f"{len(failed)} failed questions of {len(asks)}: {failed[:3]}"
    assert len(asks) >= 30 * 60 / PACE * 0.6, len(asks)  # 30 readers for a minute, not a trickle
    for o in asks:
        assert_verbatim(o.body, articles)  # each answer comes whole from the index version it names
    new_version = replicas[1].health()["index_version"]
    assert new_version != old_version
    assert {r.health()["index_version"] for r in replicas} == {new_version}  # every replica swapped
    assert {o.body["index_version"] for o in asks} == {old_version, new_version}
    late = [o for o in asks if o.start > marks["published"] + 5]
    assert late and {o.body["index_version"] for o in late} == {new_version}
    assert any(o.body["answered"] and o.body["answer"]["citation"]["doc_id"] == "carte-bibliotheque" for o in late)

    votes = [o for o in outcomes if o.kind == "vote"]
    for o in votes:
        assert o.status == 201 or (o.status == 503 and o.body["error"]["code"] in {"store_unavailable", "unavailable"})
    with psycopg.connect(url) as conn:
        stored = Counter(conn.execute("SELECT id, question FROM feedback").fetchall())
    assert all(n == 1 for n in stored.values())
    assert not [v for v in readers.votes if v not in stored], "acknowledged votes lost"
    assert len({i for i, _ in readers.votes}) == len(readers.votes)
    assert any(o.status == 503 for o in votes if marks["postgres_stop"] <= o.start < marks["postgres_back"])
    assert any(o.status == 201 for o in votes if o.start > marks["postgres_back"] + 5)  # recovered by itself

    lines = [json.loads(line) for line in proxy_log.splitlines()]  # JSON lines, for a log shipper
    assert len(lines) >= len(outcomes) and {line["path"] for line in lines} >= {"/api/ask", "/api/feedback"}
    for line in lines:  # neither the question nor the reader's address: only the replica's, as upstream
        assert "crampe" not in json.dumps(line) and "mollet" not in json.dumps(line)
        assert not any("127.0.0." in str(value) for key, value in line.items() if key != "upstream")
    phases = {
        "before": (0, marks["kill"]),
        "replica killed and restarted": (marks["kill"], marks["restarted"] + 2),
        "new index published": (marks["publish"], marks["published"] + 5),
        "PostgreSQL restarted": (marks["postgres_stop"], marks["postgres_back"] + 5),
        "after": (marks["postgres_back"] + 5, marks["end"]),
    }
    report = {
        "test": "tests/reliability/test_replicas.py",
        "setup": f"3 replicas (fake encoder), nginx, PostgreSQL, {READERS} readers, one request each {PACE} s",
        "phases": figures(outcomes, phases),
        "totals": {
            "asks": len(asks),
            "ask_errors": len(failed),
            "votes": len(votes),
            "acknowledged": len(readers.votes),
        },
    }
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "replicas.json").write_text(json.dumps(report, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")


def test_the_proxy_limits_body_size_and_rate_per_reader_and_forwards_the_real_address(served, tmp_path):
    replica = served(folder=tmp_path / "site", rate_limit="0", access_log="full")
    (listen,) = free_ports(1, range(8300, 8350))
    proxy = Nginx(listen, [int(replica.url.rsplit(":", 1)[1])])
    try:
        # 413 at the edge, in the one error shape, readable by urllib (which does not read a response
        # before it has sent the whole body)
        request = urllib.request.Request(
            f"{proxy.url}/api/ask", data=b'{"question": "' + b"x" * 8_000_000 + b'"}', method="POST"
        )
        request.add_header("Content-Type", "application/json")
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(request, timeout=30)
        assert refused.value.code == 413
        body = json.loads(refused.value.read())
        assert body["error"]["code"] == "payload_too_large"

        # one reader, however many addresses it claims in X-Forwarded-For, has one bucket
        transport = httpx.HTTPTransport(local_address="127.0.0.77")
        with httpx.Client(transport=transport, timeout=10) as client:
            statuses = []
            for n in range(30):
                spoofed = {"X-Forwarded-For": f"203.0.113.{n}"}
                response = client.get(f"{proxy.url}/api/ask", params={"q": "crampe la nuit"}, headers=spoofed)
                statuses.append(response.status_code)
                if response.status_code == 429:
                    assert_error_shape(response, 429)
                    assert response.headers["retry-after"] == "1"
        assert statuses[:21] == [200] * 21 and 429 in statuses[21:]  # a burst of 20, then the limit
        with httpx.Client(transport=httpx.HTTPTransport(local_address="127.0.0.78"), timeout=10) as other:
            assert other.get(f"{proxy.url}/api/ask", params={"q": "crampe"}).status_code == 200  # its own bucket
        served_log = replica.log()
        assert "127.0.0.77" in served_log and "203.0.113." not in served_log  # the address nginx saw, only
    finally:
        proxy.stop()
