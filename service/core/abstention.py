"""Where an index puts the questions it cannot answer: the abstention threshold measured on its own corpus.

A cosine threshold fitted on one corpus does not carry over to another: a corpus of short FAQ fiches
scores every question higher than one blog article does, so a threshold fitted on the article answers
off-topic questions on the fiches with unrelated text. So every index measures, when it is built, how
its own corpus scores a bank of varied off-topic French questions shipped with Sourcier
(``offtopic-fr.txt``: everyday, administrative, technical, cultural questions, written for Sourcier),
and abstains under ``mean + k × standard deviation`` of those scores, never under a floor: the
threshold follows the corpus where off-topic questions score high (a help centre's short fiches) and
the floor holds where they score very low (one article, on which a near-topic question still scores
above every off-topic one). ``k`` and the floor (settings ABSTAIN_DEVIATIONS, ABSTAIN_FLOOR) were
chosen by leave-one-corpus-out on seed, piaf-ci and service-public: ``python -m eval.abstention``,
numbers in ``eval/results/abstention.md``.

The bank's scores are kept in the index manifest with the scoring settings they were measured with, so
another ``k`` or floor needs no new measurement, and other scoring settings are measured again.
"""

from __future__ import annotations

import hashlib
import logging
import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

BANK_FILE = Path(__file__).resolve().parent / "offtopic-fr.txt"
METHOD = "max(floor, mean + deviations x std) of the off-topic bank's best scores"


def bank_questions(path: Path | None = None) -> list[str]:
    """The bank's questions (default: the shipped bank): one per line, ``#`` lines are comments."""
    lines = (path or BANK_FILE).read_text(encoding="utf-8").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.startswith("#")]


def bank_hash(path: Path | None = None) -> str:
    return hashlib.sha256((path or BANK_FILE).read_bytes()).hexdigest()[:16]


@dataclass(frozen=True)
class Abstention:
    """The bank's scores on one index and the threshold the rule (deviations, floor) makes of them."""

    threshold: float
    deviations: float
    floor: float
    method: str
    bank: str  # the bank file's name and hash: another bank is measured again
    questions: int
    scoring: dict[str, Any]  # the scoring settings the scores were measured with
    scores: list[float]  # every bank question's best score on this index, sorted
    measured_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, record: dict[str, Any]) -> Abstention:
        return cls(**{name: record[name] for name in cls.__dataclass_fields__})

    def with_rule(self, deviations: float, floor: float) -> Abstention:
        """The same measurement under another rule."""
        threshold = round(rule_threshold(self.scores, deviations, floor), 4)
        return Abstention(**(asdict(self) | {"threshold": threshold, "deviations": deviations, "floor": floor}))


def rule_threshold(scores: list[float], deviations: float, floor: float) -> float:
    """``max(floor, mean + deviations × standard deviation)`` of the bank's scores (population deviation)."""
    mean = sum(scores) / len(scores)
    spread = math.sqrt(sum((s - mean) ** 2 for s in scores) / len(scores))
    return max(floor, mean + deviations * spread)


def bank_id() -> str:
    """What a measurement records of its bank: the file's name and content hash."""
    return f"{BANK_FILE.name} {bank_hash()}"


def stored(
    record: dict[str, Any] | None, scoring: dict[str, Any], deviations: float, floor: float
) -> Abstention | None:
    """The measurement an index manifest holds, under the active rule; None when there is none or it
    was measured with another bank or other scoring settings (its scores then mean something else)."""
    if not record:
        return None
    try:
        found = Abstention.from_dict(record)
    except (KeyError, TypeError):
        return None
    if found.bank != bank_id() or found.scoring != scoring or not found.scores:
        return None
    return found.with_rule(deviations, floor)


def measure(best_score: Callable[[str], float], scoring: dict[str, Any], deviations: float, floor: float) -> Abstention:
    """Ask the index every bank question (``best_score``: the best answer's score, no abstention)."""
    started = time.perf_counter()
    questions = bank_questions()
    scores = sorted(round(best_score(question), 4) for question in questions)
    log.info("abstention measured on %d off-topic questions in %.1f s", len(questions), time.perf_counter() - started)
    measured = Abstention(
        threshold=0.0,
        deviations=deviations,
        floor=floor,
        method=METHOD,
        bank=bank_id(),
        questions=len(questions),
        scoring=dict(scoring),
        scores=scores,
        measured_at=time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    )
    return measured.with_rule(deviations, floor)
