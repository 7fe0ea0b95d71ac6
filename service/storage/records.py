"""The records a store keeps, their columns (one order for every store), the interface of a store and its
one failure."""

from __future__ import annotations

import time
from dataclasses import astuple, dataclass
from typing import Any, Protocol

DEFAULT_SITE = "default"  # the one site without a sites file (service.sites), and the site of rows written before


@dataclass(frozen=True)
class Feedback:
    question: str
    doc_id: str
    start: int
    end: int
    vote: int  # +1 helpful, -1 not helpful
    created_at: float
    index_version: str = ""
    site: str = DEFAULT_SITE


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
    site: str = DEFAULT_SITE


class StoreUnavailable(Exception):
    """The store cannot be reached or written now (server down, disk full); retry later."""


class Store(Protocol):
    """What the service needs from a store; each write is one committed transaction."""

    name: str  # "sqlite" or "postgresql", for logs and the health page

    def add_feedback(self, item: Feedback) -> int: ...

    def log_queries(self, items: list[LoggedQuery]) -> None: ...

    def feedback(self, since: float = 0.0, until: float | None = None, site: str = DEFAULT_SITE) -> list[Feedback]:
        """The votes on ``site``'s answers in the period; no other site's."""
        ...

    def queries(self, since: float = 0.0, until: float | None = None, site: str = DEFAULT_SITE) -> list[LoggedQuery]:
        """The questions asked of ``site`` in the period; no other site's."""
        ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...


# The columns in the records' field order, so a record is written with astuple() and read back with *row.
FEEDBACK_COLUMNS = 'question, doc_id, start, "end", vote, created_at, index_version, site'
QUERY_COLUMNS = 'question, answered, score, doc_id, start, "end", created_at, index_version, site'


def values(item: Feedback | LoggedQuery) -> tuple[Any, ...]:
    """A record's values in its table's column order."""
    return astuple(item)


def logged_query(row: tuple[Any, ...]) -> LoggedQuery:
    """A query-log row as a record (SQLite keeps ``answered`` as 0/1, PostgreSQL as a boolean)."""
    question, answered, *rest = row
    return LoggedQuery(question, bool(answered), *rest)


def period_end(until: float | None) -> float:
    """The end of a period to read: ``until``, or anything written so far."""
    return until if until is not None else time.time() + 1
