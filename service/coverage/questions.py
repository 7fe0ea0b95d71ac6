"""What a coverage report covers: the questions of a file (txt, csv, jsonl) or a period of the
query log; both refuse bad input with a message that names the file, line or date."""

from __future__ import annotations

import csv
import io
import json
import time
from datetime import UTC, date, datetime
from pathlib import Path


class CoverageError(ValueError):
    """A question file or report that cannot be read; the message names the file (and line)."""


def read_questions(path: Path) -> list[tuple[int, str]]:
    """(line number, question) from a ``.txt`` (one a line; ``#`` starts a comment line), a ``.csv``
    (a ``question`` column; ``,`` ``;`` or tab) or a ``.jsonl`` file (``{"question": ...}`` a line)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise CoverageError(f"{path}: cannot read the questions ({exc})") from exc
    suffix = path.suffix.lower()
    if suffix == ".txt":
        rows = [
            (n, line.strip())
            for n, line in enumerate(text.splitlines(), 1)
            if line.strip() and not line.lstrip().startswith("#")
        ]
    elif suffix == ".csv":
        rows = _csv_questions(path, text)
    elif suffix == ".jsonl":
        rows = _jsonl_questions(path, text)
    else:
        raise CoverageError(f"{path}: questions must be a .txt, .csv or .jsonl file")
    if not rows:
        raise CoverageError(f"{path}: no question found")
    return rows


def _csv_questions(path: Path, text: str) -> list[tuple[int, str]]:
    try:
        dialect = csv.Sniffer().sniff(text.split("\n", 1)[0], delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.DictReader(io.StringIO(text), dialect=dialect)
    fields = {name.strip().lower(): name for name in reader.fieldnames or [] if name}
    if "question" not in fields:
        raise CoverageError(f"{path}: the CSV needs a 'question' column (found: {', '.join(fields) or 'none'})")
    return [
        (reader.line_num, (row.get(fields["question"]) or "").strip())
        for row in reader
        if (row.get(fields["question"]) or "").strip()
    ]


def _jsonl_questions(path: Path, text: str) -> list[tuple[int, str]]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise CoverageError(f"{path}, line {number}: invalid JSON ({exc.msg})") from exc
        if not isinstance(record, dict) or not isinstance(record.get("question"), str):
            raise CoverageError(f'{path}, line {number}: expected {{"question": "..."}}')
        rows.append((number, record["question"]))
    return rows


def period(since: str | None, until: str | None, days: int = 30) -> tuple[float, float]:
    """``since``/``until`` as ISO dates (UTC days, both included); by default the last ``days`` days."""
    end = _day(until) + 86400 if until else time.time() + 1
    start = _day(since) if since else end - days * 86400
    if start >= end:
        raise CoverageError("La période est vide : la date de début doit précéder la date de fin.")
    return start, end


def _day(text: str) -> float:
    try:
        day = date.fromisoformat(text)
    except ValueError as exc:
        raise CoverageError(f"Date invalide : {text!r} (format attendu : 2025-01-31).") from exc
    if not 1970 <= day.year <= 9998:  # a period around it must still be a date Python can print
        raise CoverageError(f"Date hors limites : {text!r} (années 1970 à 9998).")
    return datetime.combine(day, datetime.min.time(), UTC).timestamp()
