"""The embedded store: one SQLite file in the data folder, in WAL mode with ``synchronous=FULL``, so a
committed row survives a crash or ``kill -9`` of the service."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from service.storage.migrations import VERSION_TABLE, pending
from service.storage.records import (
    DEFAULT_SITE,
    FEEDBACK_COLUMNS,
    QUERY_COLUMNS,
    Feedback,
    LoggedQuery,
    StoreUnavailable,
    logged_query,
    period_end,
    values,
)

SITE_PERIOD = "site = ? AND created_at >= ? AND created_at < ?"  # one site's rows in a period: _select's arguments


class SQLiteStore:
    """One connection, one lock, one transaction per write: a small process needs no more."""

    name = "sqlite"

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA busy_timeout=5000")
        self._wal()
        self._conn.execute("PRAGMA synchronous=FULL")
        self._migrate()

    def _wal(self) -> None:
        """WAL mode. Switching a new file to it needs a moment alone with the file, and SQLite may answer
        "database is locked" at once, without waiting out the busy timeout, while another process opens the
        same new file (replicas starting together): retried for as long as the busy timeout."""
        deadline = time.monotonic() + 5
        while True:
            try:
                self._conn.execute("PRAGMA journal_mode=WAL")
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def _migrate(self) -> None:
        with self._transaction() as conn:  # BEGIN IMMEDIATE: a second process waits for the first
            conn.execute(VERSION_TABLE.format(time="REAL"))
            (current,) = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            for migration in pending(current):
                for statement in migration.sqlite:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (?, ?)", (migration.version, time.time()))

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    yield self._conn
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.OperationalError as exc:  # locked past busy_timeout, disk full, read-only
                raise StoreUnavailable(f"SQLite {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def schema_version(self) -> int:
        with self._lock:
            (version,) = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(version)

    def add_feedback(self, item: Feedback) -> int:
        with self._transaction() as conn:
            cursor = conn.execute(
                f"INSERT INTO feedback ({FEEDBACK_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                values(item),
            )
        assert cursor.lastrowid is not None  # set by every INSERT
        return cursor.lastrowid

    def log_queries(self, items: list[LoggedQuery]) -> None:
        with self._transaction() as conn:
            conn.executemany(
                f"INSERT INTO queries ({QUERY_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [values(q) for q in items],
            )

    def _select(self, sql: str, since: float, until: float | None, site: str) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, (site, since, period_end(until))).fetchall()

    def feedback(self, since: float = 0.0, until: float | None = None, site: str = DEFAULT_SITE) -> list[Feedback]:
        sql = f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE {SITE_PERIOD} ORDER BY id"
        return [Feedback(*row) for row in self._select(sql, since, until, site)]

    def queries(self, since: float = 0.0, until: float | None = None, site: str = DEFAULT_SITE) -> list[LoggedQuery]:
        sql = f"SELECT {QUERY_COLUMNS} FROM queries WHERE {SITE_PERIOD} ORDER BY id"
        return [logged_query(row) for row in self._select(sql, since, until, site)]
