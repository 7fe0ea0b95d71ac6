"""Durability: ``kill -9`` of a real ``sourcier serve`` (fake encoder, query log on) while readers vote
and ask. Every vote the service acknowledged is in the database afterwards, the database passes
SQLite's integrity check, and the service starts again on it and goes on writing. The query log is
written off the answer's path (service/storage/querylog.py): a kill loses at most the lines queued at
that instant, a handful with four readers."""

from __future__ import annotations

import random
import sqlite3
import threading
import time

import httpx
import pytest

pytestmark = [pytest.mark.reliability, pytest.mark.slow]

ROUNDS = 3
PER_ROUND = 40  # acknowledged votes before each kill
LOST_LINES = 12  # query-log lines a kill may cost: those queued in memory, at most ~one per reader and a batch


def write_until_stopped(url: str, stop: threading.Event, acknowledged: list[tuple], asked: list[str], worker: int):
    """Votes and questions in a loop; records what the service answered 201/200 to."""
    with httpx.Client(timeout=10) as client:
        n = 0
        while not stop.is_set():
            n += 1
            question = f"question {worker}-{n} sur le nerf du mollet ?"
            try:
                vote = client.post(
                    f"{url}/api/feedback",
                    json={
                        "question": question,
                        "doc_id": "piege",
                        "start": 0,
                        "end": 10,
                        "vote": random.choice([1, -1]),
                    },
                )
                if vote.status_code == 201:
                    acknowledged.append((vote.json()["id"], question))
                ask = client.post(f"{url}/api/ask", json={"question": question})
                if ask.status_code == 200:
                    asked.append(question)
            except httpx.HTTPError:
                return  # the service is gone: what it acknowledged is what counts


def test_committed_rows_survive_kill_9_during_writes(served, tmp_path):
    folder = tmp_path / "service"
    acknowledged: list[tuple] = []
    asked: list[str] = []
    for round_number in range(ROUNDS):
        server = served(folder=folder, query_log="true", rate_limit="0")
        stop = threading.Event()
        writers = [
            threading.Thread(target=write_until_stopped, args=(server.url, stop, acknowledged, asked, w))
            for w in range(4)
        ]
        before = len(acknowledged)
        for writer in writers:
            writer.start()
        deadline = time.monotonic() + 120  # a loaded machine writes slower: wait for rows, not for a time
        while len(acknowledged) - before < PER_ROUND and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(random.random() / 2)
        server.process.kill()  # SIGKILL, in the middle of writes
        server.process.wait(timeout=10)
        stop.set()
        for writer in writers:
            writer.join(timeout=20)
        db = sqlite3.connect(folder / "data" / "sourcier.db")
        try:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            stored = dict(db.execute("SELECT id, question FROM feedback").fetchall())
            logged = {q for (q,) in db.execute("SELECT question FROM queries")}
        finally:
            db.close()
        assert acknowledged and asked, f"round {round_number}: nothing was written before the kill"
        missing = [(i, q) for i, q in acknowledged if stored.get(i) != q]
        assert not missing, f"round {round_number}: acknowledged votes lost: {missing[:5]}"
        lost = set(asked) - logged
        assert len(lost) <= LOST_LINES, f"round {round_number}: {len(lost)} logged questions lost: {sorted(lost)[:5]}"
    assert len(acknowledged) >= ROUNDS * PER_ROUND
