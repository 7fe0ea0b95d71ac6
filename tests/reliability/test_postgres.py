"""Replicas on a real PostgreSQL server (tests/postgres.py), real ``sourcier serve`` processes (fake
encoder): ``kill -9`` of a replica during votes loses no acknowledged vote; PostgreSQL restarted during
traffic costs no answer, refuses votes with a 503 (never a false 201), and everything recovers by itself."""

from __future__ import annotations

import itertools
import threading
import time
from collections import Counter

import httpx
import psycopg
import pytest

from tests.reliability.conftest import ReaderThreads, assert_error_shape

pytestmark = [pytest.mark.reliability, pytest.mark.slow]


class Traffic(ReaderThreads):
    """Readers that ask and vote on a list of replicas in turn, recording every outcome."""

    def __init__(self, urls: list[str], readers: int = 6) -> None:
        self.urls = urls
        self.lock = threading.Lock()
        self.acknowledged: list[tuple[int, str]] = []  # (id, question) of every 201
        self.asked: list[str] = []  # questions answered 200
        self.ask_failures: list[str] = []
        self.vote_refusals: list[int] = []  # statuses of votes not acknowledged
        self.unexpected: list[str] = []
        self._counter = itertools.count()
        super().__init__(readers)

    def _read(self, reader: int) -> None:
        with httpx.Client(timeout=20) as client:
            while not self.stop.is_set():
                n = next(self._counter)
                url = self.urls[n % len(self.urls)]
                question = f"question {reader}-{n} : pourquoi le mollet tremble-t-il ?"
                self._ask(client, url, question)
                self._vote(client, url, question)

    def _ask(self, client: httpx.Client, url: str, question: str) -> None:
        try:
            response = client.post(f"{url}/api/ask", json={"question": question})
        except httpx.TransportError:
            return  # this replica is down (killed on purpose): not an answer the service gave
        with self.lock:
            if response.status_code == 200:
                self.asked.append(question)
            else:
                self.ask_failures.append(f"{response.status_code} {response.text[:200]}")

    def _vote(self, client: httpx.Client, url: str, question: str) -> None:
        body = {"question": question, "doc_id": "contractions-muscle-mollet", "start": 0, "end": 10, "vote": 1}
        try:
            response = client.post(f"{url}/api/feedback", json=body)
        except httpx.TransportError:
            return
        with self.lock:
            if response.status_code == 201:
                self.acknowledged.append((response.json()["id"], question))
            elif response.status_code == 503:
                assert_error_shape(response, 503)
                self.vote_refusals.append(503)
            else:
                self.unexpected.append(f"{response.status_code} {response.text[:200]}")

    def wait_for_votes(self, count: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        target = len(self.acknowledged) + count
        while len(self.acknowledged) < target:
            assert time.monotonic() < deadline, f"fewer than {count} votes acknowledged in {timeout} s"
            time.sleep(0.05)


def stored(url: str) -> tuple[Counter, set[str]]:
    with psycopg.connect(url) as conn:
        votes = Counter(conn.execute("SELECT id, question FROM feedback").fetchall())
        logged = {q for (q,) in conn.execute("SELECT question FROM queries")}
    return votes, logged


def test_replicas_on_postgresql_survive_kill_9_and_a_database_restart(database, served, tmp_path):
    server, url = database
    folder = tmp_path / "site"
    settings = {"database_url": url, "database_timeout": "1", "query_log": "true", "rate_limit": "0"}
    first = served(folder=folder, **settings)
    second = served(folder=folder, build=False, **settings)  # same index folder, same database

    with Traffic([first.url, second.url]) as traffic:
        traffic.wait_for_votes(40)
        first.process.kill()  # -9 in the middle of votes
        first.process.wait(timeout=10)
        traffic.wait_for_votes(20)  # the other replica goes on
        first = served(folder=folder, build=False, **settings)
        traffic.urls[:] = [first.url, second.url]
        traffic.wait_for_votes(20)

        server.stop()  # PostgreSQL restarted during traffic
        time.sleep(3)
        asked_during = len(traffic.asked)
        time.sleep(2)
        assert len(traffic.asked) > asked_during, "no answer while PostgreSQL was down"
        server.start()
        traffic.wait_for_votes(40, timeout=60)  # votes are acknowledged again, with no restart of Sourcier

    assert not traffic.ask_failures, traffic.ask_failures[:5]
    assert not traffic.unexpected, traffic.unexpected[:5]
    assert traffic.vote_refusals, "no vote was refused while PostgreSQL was down"
    votes, logged = stored(url)
    assert all(count == 1 for count in votes.values())
    missing = [v for v in traffic.acknowledged if v not in votes]
    assert not missing, f"acknowledged votes lost: {missing[:5]}"
    assert len({i for i, _ in traffic.acknowledged}) == len(traffic.acknowledged)  # one id per vote
    deadline = time.monotonic() + 30  # the lines queued during the outage land by themselves
    while True:
        lost = set(traffic.asked) - logged
        if len(lost) <= 12 or time.monotonic() > deadline:  # at most what the kill -9 took from memory
            break
        time.sleep(1)
        _, logged = stored(url)
    assert len(lost) <= 12, f"{len(lost)} query-log lines never written: {sorted(lost)[:5]}"
