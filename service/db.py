"""SQLite storage of the service: readers' feedback on answers and (when enabled) the query log.

One database file in the data folder, in WAL mode with ``synchronous=FULL``: a committed row
survives a crash or ``kill -9`` of the service. No IP address, cookie or user id is ever stored.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

SCHEMA = """
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    question TEXT NOT NULL,
    doc_id TEXT NOT NULL,
    start INTEGER NOT NULL,
    "end" INTEGER NOT NULL,
    vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
    index_version TEXT NOT NULL DEFAULT ''
);
CREATE TABLE IF NOT EXISTS queries (
    id INTEGER PRIMARY KEY,
    created_at REAL NOT NULL,
    question TEXT NOT NULL,
    answered INTEGER NOT NULL,
    score REAL,
    doc_id TEXT,
    start INTEGER,
    "end" INTEGER,
    index_version TEXT NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS queries_created ON queries (created_at);
CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at);
"""


@dataclass(frozen=True)
class Feedback:
    question: str
    doc_id: str
    start: int
    end: int
    vote: int  # +1 helpful, -1 not helpful
    created_at: float
    index_version: str = ""


@dataclass(frozen=True)
class LoggedQuery:
    question: str
    answered: bool
    score: float | None
    doc_id: str | None
    start: int | None
    end: int | None
    created_at: float
    index_version: str = ""


class Database:
    """A small thread-safe wrapper: one connection, one lock, one transaction per write."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _write(self, sql: str, values: tuple) -> int:
        with self._lock:
            cursor = self._conn.execute(sql, values)
            assert cursor.lastrowid is not None  # set by every INSERT
            return cursor.lastrowid

    def add_feedback(self, item: Feedback) -> int:
        return self._write(
            'INSERT INTO feedback (created_at, question, doc_id, start, "end", vote, index_version) '
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (item.created_at, item.question, item.doc_id, item.start, item.end, item.vote, item.index_version),
        )

    def log_query(self, item: LoggedQuery) -> int:
        return self._write(
            'INSERT INTO queries (created_at, question, answered, score, doc_id, start, "end", index_version) '
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                item.created_at,
                item.question,
                int(item.answered),
                item.score,
                item.doc_id,
                item.start,
                item.end,
                item.index_version,
            ),
        )

    def feedback(self, since: float = 0.0, until: float | None = None) -> list[Feedback]:
        with self._lock:
            rows = self._conn.execute(
                'SELECT question, doc_id, start, "end", vote, created_at, index_version FROM feedback '
                "WHERE created_at >= ? AND created_at < ? ORDER BY id",
                (since, until if until is not None else time.time() + 1),
            ).fetchall()
        return [Feedback(*row) for row in rows]

    def queries(self, since: float = 0.0, until: float | None = None) -> list[LoggedQuery]:
        with self._lock:
            rows = self._conn.execute(
                'SELECT question, answered, score, doc_id, start, "end", created_at, index_version FROM queries '
                "WHERE created_at >= ? AND created_at < ? ORDER BY id",
                (since, until if until is not None else time.time() + 1),
            ).fetchall()
        return [LoggedQuery(q, bool(a), s, d, st, e, c, v) for q, a, s, d, st, e, c, v in rows]
