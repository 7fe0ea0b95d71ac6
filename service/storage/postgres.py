"""The shared store: PostgreSQL through a psycopg 3 connection pool, for replicas behind a proxy.

Every connection is checked before it is handed out, so after a server restart the broken ones are
dropped and new ones opened by themselves; a write that cannot be made within ``timeout`` seconds
raises ``StoreUnavailable`` (a vote is then answered 503, never a false 201). Needs the ``postgres``
extra (``pip install -e '.[postgres]'``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
from psycopg_pool import ConnectionPool, PoolTimeout

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

log = logging.getLogger(__name__)

# One lock id for "Sourcier is migrating this database": replicas starting together take turns.
MIGRATION_LOCK = 0x50_55_52_43_49_45_52  # "SOURCIER"-ish, any constant bigint would do


SITE_PERIOD = "site = %s AND created_at >= %s AND created_at < %s"  # one site's rows in a period: _select's arguments


class PostgresStore:
    """A pool of ``pool_size`` connections; each write is one transaction, committed before it returns."""

    name = "postgresql"

    def __init__(self, url: str, pool_size: int = 4, timeout: float = 5.0) -> None:
        self.timeout = timeout
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=max(1, pool_size),
            timeout=timeout,
            open=False,
            check=ConnectionPool.check_connection,
            kwargs={"connect_timeout": max(1, round(timeout)), "application_name": "sourcier"},
            name="sourcier",
        )
        try:
            self._pool.open(wait=True, timeout=max(timeout, 10.0))
            self._migrate()
        except (PoolTimeout, psycopg.OperationalError, StoreUnavailable) as exc:
            self._pool.close()
            raise StoreUnavailable(f"PostgreSQL unreachable at start ({_redact(url)}): {exc}") from exc

    @contextmanager
    def _transaction(self) -> Iterator[psycopg.Connection]:
        try:
            with self._pool.connection() as conn, conn.transaction():
                yield conn
        except (PoolTimeout, psycopg.OperationalError) as exc:  # server down, restarting, unreachable
            raise StoreUnavailable(f"PostgreSQL: {exc}") from exc

    def _migrate(self) -> None:
        with self._transaction() as conn:
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))  # held until this commit
            conn.execute(VERSION_TABLE.format(time="DOUBLE PRECISION"))
            row = conn.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()
            for migration in pending(row[0] if row else 0):
                log.info("PostgreSQL: applying migration %d (%s)", migration.version, migration.description)
                for statement in migration.postgresql:
                    conn.execute(statement)
                conn.execute("INSERT INTO schema_version VALUES (%s, %s)", (migration.version, time.time()))

    def close(self) -> None:
        self._pool.close()

    def schema_version(self) -> int:
        with self._transaction() as conn:
            row = conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0]) if row else 0

    def add_feedback(self, item: Feedback) -> int:
        with self._transaction() as conn:
            row = conn.execute(
                f"INSERT INTO feedback ({FEEDBACK_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                values(item),
            ).fetchone()
        assert row is not None  # RETURNING always gives the row
        return int(row[0])

    def log_queries(self, items: list[LoggedQuery]) -> None:
        with self._transaction() as conn, conn.cursor() as cursor:
            cursor.executemany(
                f"INSERT INTO queries ({QUERY_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s)",
                [values(q) for q in items],
            )

    def _select(self, sql: str, since: float, until: float | None, site: str) -> list[tuple]:
        with self._transaction() as conn:
            return conn.execute(sql, (site, since, period_end(until))).fetchall()

    def feedback(self, since: float = 0.0, until: float | None = None, site: str = DEFAULT_SITE) -> list[Feedback]:
        sql = f"SELECT {FEEDBACK_COLUMNS} FROM feedback WHERE {SITE_PERIOD} ORDER BY id"
        return [Feedback(*row) for row in self._select(sql, since, until, site)]

    def queries(self, since: float = 0.0, until: float | None = None, site: str = DEFAULT_SITE) -> list[LoggedQuery]:
        sql = f"SELECT {QUERY_COLUMNS} FROM queries WHERE {SITE_PERIOD} ORDER BY id"
        return [logged_query(row) for row in self._select(sql, since, until, site)]


def _redact(url: str) -> str:
    """The URL without its password, for error messages and logs."""
    try:
        info = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "an unparsable URL"
    return " ".join(f"{key}={value}" for key, value in info.items() if key != "password" and value is not None)
