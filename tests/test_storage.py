"""One storage suite, run against the embedded SQLite file and a real PostgreSQL server
(tests/postgres.py): the same records in, the same records out, the same schema versions, the same
refusals. Server faults (PostgreSQL stopped and started again) are at the end."""

from __future__ import annotations

import sqlite3
import threading
import time
from dataclasses import replace

import psycopg
import pytest

from service.settings import Settings
from service.storage import Feedback, LoggedQuery, StoreUnavailable, open_store
from service.storage.migrations import LATEST, MIGRATIONS, VERSION_TABLE
from service.storage.postgres import PostgresStore
from service.storage.querylog import QueryLog
from service.storage.records import DEFAULT_SITE
from service.storage.sqlite import SQLiteStore
from tests.postgres import PostgresServer

LONG = "Pourquoi mon mollet tremble-t-il ? " * 40
VOTES = [
    Feedback("Pourquoi l’œil tressaute ? 😀", "contractions-muscle-mollet", 3, 9, -1, 1_700_000_000.5, "v1"),
    Feedback("Pourquoi l'œil tressaute ?", "doc-2", 0, 120, 1, 1_700_000_001.25, "v2"),
    Feedback(LONG, "doc-3", 10, 11, 1, 1_700_000_002.0, ""),
]
LINES = [
    LoggedQuery("mollet qui tremble", True, 0.61, "doc", 1, 5, 1_700_000_000.0, "v1"),
    LoggedQuery("mot de passe oublié ?", False, None, None, None, None, 1_700_000_001.0, "v1"),
    LoggedQuery("Cœur & crampe — 🫀", True, 0.4, "doc’s", 0, 3, 1_700_000_002.0, "v2"),
]


@pytest.fixture(params=["sqlite", "postgresql"])
def settings(request, tmp_path) -> Settings:
    """Settings for a fresh, empty store of each kind."""
    if request.param == "sqlite":
        return Settings(data_dir=tmp_path / "data", database_url=None)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    return Settings(data_dir=tmp_path / "data", database_url=server.new_database())


def test_votes_and_log_lines_come_back_as_they_were_stored(settings):
    store = open_store(settings)
    assert store.name == ("postgresql" if settings.database_url else "sqlite")
    ids = [store.add_feedback(vote) for vote in VOTES]
    assert ids == sorted(ids) and len(set(ids)) == 3
    store.log_queries(LINES[:2])
    store.log_queries(LINES[2:])
    assert store.feedback() == VOTES
    assert store.queries() == LINES
    assert store.queries(since=1_700_000_001.0) == LINES[1:]
    assert store.queries(since=1_700_000_000.0, until=1_700_000_001.0) == LINES[:1]
    assert store.feedback(until=1_700_000_000.0) == []
    store.close()
    reopened = open_store(settings)  # the rows survive a restart, the schema is not applied twice
    assert reopened.feedback() == VOTES and reopened.schema_version() == LATEST
    reopened.close()


def together(count, open_one):
    """``open_one()`` in ``count`` threads at once: what they returned, and what they raised."""
    opened, errors = [], []

    def start():
        try:
            opened.append(open_one())
        except Exception as exc:  # noqa: BLE001 — collected and asserted by the caller
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return opened, errors


def test_processes_opening_a_new_sqlite_file_together_all_open_it(tmp_path):
    """Switching a new file to WAL may be refused at once ("database is locked") while another connection
    opens it; each store retries instead of failing (this failed 9 runs in 150 before)."""
    for run in range(40):
        opened, errors = together(6, lambda path=tmp_path / f"run-{run}.db": SQLiteStore(path))
        for store in opened:
            store.close()
        assert not errors, (run, errors)


def test_replicas_starting_together_apply_each_migration_once(settings):
    stores, errors = together(4, lambda: open_store(settings))
    assert not errors and len(stores) == 4
    assert {store.schema_version() for store in stores} == {LATEST}
    for store in stores:
        store.add_feedback(VOTES[0])
    assert len(stores[0].feedback()) == 4
    for store in stores:
        store.close()
    versions = _versions(settings)
    assert versions == [m.version for m in MIGRATIONS]


def _versions(settings: Settings) -> list[int]:
    if settings.database_url:
        with psycopg.connect(settings.database_url.get_secret_value()) as conn:
            return [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]
    with sqlite3.connect(settings.data_dir / "sourcier.db") as conn:
        return [v for (v,) in conn.execute("SELECT version FROM schema_version ORDER BY version")]


def test_a_store_newer_than_this_code_is_refused(settings):
    open_store(settings).close()
    if settings.database_url:
        with psycopg.connect(settings.database_url.get_secret_value()) as conn:
            conn.execute("INSERT INTO schema_version VALUES (%s, 0)", (LATEST + 1,))
    else:
        with sqlite3.connect(settings.data_dir / "sourcier.db") as conn:
            conn.execute("INSERT INTO schema_version VALUES (?, 0)", (LATEST + 1,))
    with pytest.raises((RuntimeError, StoreUnavailable), match="newer than this Sourcier"):
        open_store(settings)


def test_each_sites_rows_are_read_back_by_that_site_only(settings):
    store = open_store(settings)
    for site in ("aide", "impots"):
        store.add_feedback(replace(VOTES[0], question=f"vote {site}", site=site))
        store.log_queries([replace(line, question=f"{line.question} ({site})", site=site) for line in LINES])
    assert [f.question for f in store.feedback(site="aide")] == ["vote aide"]
    assert [q.question for q in store.queries(site="impots")] == [f"{line.question} (impots)" for line in LINES]
    assert all(q.site == "impots" for q in store.queries(site="impots"))
    assert store.queries() == [] and store.feedback(site="autre") == []  # the default site saw none of it
    assert [q.site for q in store.queries(since=1_700_000_001.0, site="aide")] == ["aide", "aide"]
    store.close()


def test_rows_written_before_sites_belong_to_the_default_site(settings):
    """A store at schema version 1 (before sites), with rows: migration 2 gives every row the default site."""
    statements = [
        statement
        for migration in MIGRATIONS[:1]
        for statement in getattr(migration, "sqlite" if not settings.database_url else "postgresql")
    ]
    insert = "INSERT INTO queries (created_at, question, answered, index_version) VALUES (2.0, 'avant', {true}, 'v0')"
    if settings.database_url:
        with psycopg.connect(settings.database_url.get_secret_value()) as conn:
            conn.execute(VERSION_TABLE.format(time="DOUBLE PRECISION"))
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (1, 0)")
            conn.execute(insert.format(true="true"))
    else:
        settings.data_dir.mkdir(parents=True)
        with sqlite3.connect(settings.data_dir / "sourcier.db") as conn:
            conn.execute(VERSION_TABLE.format(time="REAL"))
            for statement in statements:
                conn.execute(statement)
            conn.execute("INSERT INTO schema_version VALUES (1, 0)")
            conn.execute(insert.format(true="1"))
    store = open_store(settings)
    assert store.schema_version() == LATEST == 2
    assert [(q.question, q.site) for q in store.queries()] == [("avant", DEFAULT_SITE)]
    assert store.queries(site="aide") == []
    store.close()


def test_a_sqlite_file_from_before_versioning_is_adopted_with_its_rows(tmp_path):
    path = tmp_path / "sourcier.db"
    with sqlite3.connect(path) as old:  # the schema as service/db.py wrote it, without schema_version
        for statement in MIGRATIONS[0].sqlite:
            old.execute(statement)
        old.execute(
            "INSERT INTO feedback (created_at, question, doc_id, start, \"end\", vote) VALUES (1.0, 'q', 'd', 0, 1, 1)"
        )
    store = SQLiteStore(path)
    assert store.schema_version() == LATEST
    assert [f.question for f in store.feedback()] == ["q"]
    assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    store.close()


def test_the_query_log_writes_in_the_background_and_drops_the_oldest_past_its_bound(settings):
    store = open_store(settings)
    query_log = QueryLog(store)
    for line in LINES:
        query_log.record(line)
    assert query_log.flush(timeout=10) and query_log.pending() == 0
    assert store.queries() == LINES
    query_log.close()

    class Stalled:  # a store that does not answer yet: lines queue up behind it
        name = "stalled"
        release = threading.Event()
        written: list[LoggedQuery] = []

        def log_queries(self, items):
            self.release.wait(10)
            self.written.extend(items)

    stalled = Stalled()
    bounded = QueryLog(stalled, max_pending=2)  # type: ignore[arg-type]
    for line in LINES * 3:
        bounded.record(line)
        time.sleep(0.01)
    stalled.release.set()
    assert bounded.flush(timeout=10)
    assert bounded.dropped > 0 and len(stalled.written) == len(LINES) * 3 - bounded.dropped
    bounded.close()
    store.close()


def test_an_unreachable_server_at_start_is_a_clear_error():
    with pytest.raises(StoreUnavailable, match="PostgreSQL unreachable at start") as caught:
        PostgresStore("postgresql://sourcier:s3cret@127.0.0.1:1/none", timeout=1)
    assert "s3cret" not in str(caught.value)


@pytest.fixture
def own_server():
    """A server of this test's own, which it may stop and start."""
    server = PostgresServer()
    server.start()
    yield server
    server.remove()


def test_a_restarted_server_refuses_writes_meanwhile_and_recovers_by_itself(own_server):
    store = PostgresStore(own_server.new_database(), pool_size=2, timeout=1.0)
    query_log = QueryLog(store)
    assert store.add_feedback(VOTES[0])
    own_server.stop()
    with pytest.raises(StoreUnavailable):
        store.add_feedback(VOTES[1])  # refused, never acknowledged
    query_log.record(LINES[0])  # returns at once; kept until the server is back
    assert not query_log.flush(timeout=1.5)
    own_server.start()
    deadline = time.monotonic() + 30
    while True:  # the pool drops its broken connections and opens new ones by itself
        try:
            store.add_feedback(VOTES[2])
            break
        except StoreUnavailable:
            assert time.monotonic() < deadline, own_server.log()
            time.sleep(0.2)
    assert query_log.flush(timeout=30)
    assert store.feedback() == [VOTES[0], VOTES[2]]
    assert store.queries() == [LINES[0]]
    query_log.close()
    store.close()
