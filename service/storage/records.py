"""The records a store keeps, the interface of a store and its one failure."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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


class StoreUnavailable(Exception):
    """The store cannot be reached or written now (server down, disk full); retry later."""


class Store(Protocol):
    """What the service needs from a store; each write is one committed transaction."""

    name: str  # "sqlite" or "postgresql", for logs and the health page

    def add_feedback(self, item: Feedback) -> int: ...

    def log_queries(self, items: list[LoggedQuery]) -> None: ...

    def feedback(self, since: float = 0.0, until: float | None = None) -> list[Feedback]: ...

    def queries(self, since: float = 0.0, until: float | None = None) -> list[LoggedQuery]: ...

    def schema_version(self) -> int: ...

    def close(self) -> None: ...
