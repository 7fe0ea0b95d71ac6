"""What changed between two coverage reports (``sourcier coverage --compare OLD NEW``)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from service.coverage.questions import CoverageError


@dataclass(frozen=True)
class Change:
    question: str
    old_status: str | None  # None: the question is new
    new_status: str | None  # None: the question was dropped from the list
    old_answer: str | None
    new_answer: str | None


@dataclass
class Comparison:
    old_version: str
    new_version: str
    gained: list[Change]  # uncovered → answered or weak
    lost: list[Change]  # answered or weak → uncovered
    weakened: list[Change]  # answered → weak
    strengthened: list[Change]  # weak → answered
    moved: list[Change]  # still answered, from another passage
    added: list[Change]
    removed: list[Change]


def load_report(path: Path) -> dict[str, Any]:
    try:
        report = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CoverageError(f"{path}: not a readable report.json ({exc})") from exc
    if not isinstance(report, dict) or not isinstance(report.get("questions"), list):
        raise CoverageError(f"{path}: not a coverage report (no 'questions' list)")
    return report


def compare_reports(old: dict[str, Any], new: dict[str, Any]) -> Comparison:
    """What changed between two reports, question by question (matched by their text; a question
    listed twice is matched occurrence by occurrence)."""

    def keyed(report: dict[str, Any]) -> dict[tuple[str, int], dict[str, Any]]:
        seen: dict[str, int] = {}
        out = {}
        for item in report["questions"]:
            text = item["question"]
            seen[text] = seen.get(text, 0) + 1
            out[(text, seen[text])] = item
        return out

    before, after = keyed(old), keyed(new)
    result = Comparison(old.get("index_version", ""), new.get("index_version", ""), [], [], [], [], [], [], [])
    for key in list(before) + [k for k in after if k not in before]:
        a, b = before.get(key), after.get(key)
        change = Change(
            key[0],
            a["status"] if a else None,
            b["status"] if b else None,
            a.get("answer") if a else None,
            b.get("answer") if b else None,
        )
        if a is None or b is None:
            (result.added if a is None else result.removed).append(change)
        elif a["status"] == "uncovered" != b["status"]:
            result.gained.append(change)
        elif b["status"] == "uncovered" != a["status"]:
            result.lost.append(change)
        elif (a["status"], b["status"]) == ("answered", "weak"):
            result.weakened.append(change)
        elif (a["status"], b["status"]) == ("weak", "answered"):
            result.strengthened.append(change)
        elif b["status"] != "uncovered" and _span(a) != _span(b):
            result.moved.append(change)
    return result


def _span(item: dict[str, Any]) -> tuple[Any, ...]:
    citation = item.get("citation") or {}
    return citation.get("doc_id"), citation.get("start"), citation.get("end")
