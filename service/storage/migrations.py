"""The storage schema, as numbered migrations applied in order and recorded in ``schema_version``.

A migration is never edited once released: a change is a new one at the end. Each has its SQLite and
its PostgreSQL statements (the types differ; the tables and columns are the same). Migration 1 is the
schema SQLite files had before versioning, written ``IF NOT EXISTS`` so that such a file is adopted
as it is.
"""

from __future__ import annotations

from typing import NamedTuple


class Migration(NamedTuple):
    version: int
    description: str
    sqlite: tuple[str, ...]
    postgresql: tuple[str, ...]


MIGRATIONS: tuple[Migration, ...] = (
    Migration(
        1,
        "feedback and queries",
        (
            """CREATE TABLE IF NOT EXISTS feedback (
                id INTEGER PRIMARY KEY,
                created_at REAL NOT NULL,
                question TEXT NOT NULL,
                doc_id TEXT NOT NULL,
                start INTEGER NOT NULL,
                "end" INTEGER NOT NULL,
                vote INTEGER NOT NULL CHECK (vote IN (-1, 1)),
                index_version TEXT NOT NULL DEFAULT ''
            )""",
            """CREATE TABLE IF NOT EXISTS queries (
                id INTEGER PRIMARY KEY,
                created_at REAL NOT NULL,
                question TEXT NOT NULL,
                answered INTEGER NOT NULL,
                score REAL,
                doc_id TEXT,
                start INTEGER,
                "end" INTEGER,
                index_version TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX IF NOT EXISTS queries_created ON queries (created_at)",
            "CREATE INDEX IF NOT EXISTS feedback_created ON feedback (created_at)",
        ),
        (
            """CREATE TABLE feedback (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                created_at DOUBLE PRECISION NOT NULL,
                question TEXT NOT NULL,
                doc_id TEXT NOT NULL,
                start INTEGER NOT NULL,
                "end" INTEGER NOT NULL,
                vote SMALLINT NOT NULL CHECK (vote IN (-1, 1)),
                index_version TEXT NOT NULL DEFAULT ''
            )""",
            """CREATE TABLE queries (
                id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
                created_at DOUBLE PRECISION NOT NULL,
                question TEXT NOT NULL,
                answered BOOLEAN NOT NULL,
                score DOUBLE PRECISION,
                doc_id TEXT,
                start INTEGER,
                "end" INTEGER,
                index_version TEXT NOT NULL DEFAULT ''
            )""",
            "CREATE INDEX queries_created ON queries (created_at)",
            "CREATE INDEX feedback_created ON feedback (created_at)",
        ),
    ),
    Migration(
        2,
        "a site for every row (rows written before sites belong to the default site)",
        (
            "ALTER TABLE feedback ADD COLUMN site TEXT NOT NULL DEFAULT 'default'",
            "ALTER TABLE queries ADD COLUMN site TEXT NOT NULL DEFAULT 'default'",
            "CREATE INDEX queries_site_created ON queries (site, created_at)",
            "CREATE INDEX feedback_site_created ON feedback (site, created_at)",
        ),
        (
            "ALTER TABLE feedback ADD COLUMN site TEXT NOT NULL DEFAULT 'default'",
            "ALTER TABLE queries ADD COLUMN site TEXT NOT NULL DEFAULT 'default'",
            "CREATE INDEX queries_site_created ON queries (site, created_at)",
            "CREATE INDEX feedback_site_created ON feedback (site, created_at)",
        ),
    ),
)

LATEST = MIGRATIONS[-1].version

VERSION_TABLE = "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, applied_at {time} NOT NULL)"


def pending(current: int) -> list[Migration]:
    """The migrations a store at ``current`` still needs; a store newer than this code is refused."""
    if current > LATEST:
        raise RuntimeError(
            f"the database's schema is version {current}, newer than this Sourcier's {LATEST}: upgrade Sourcier"
        )
    return [m for m in MIGRATIONS if m.version > current]
