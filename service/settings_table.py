"""The settings documented from their source: the README's table is generated from ``Settings`` (names,
defaults, descriptions), as datasette's ``--help-settings`` is, so no default is ever written twice.

``sourcier settings`` prints the table; ``sourcier settings --write README.md`` puts it between the
README's ``<!-- settings:start -->`` and ``<!-- settings:end -->`` lines; a test fails when they differ.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from service.settings import ROOT, Settings

START, END = "<!-- settings:start -->", "<!-- settings:end -->"


class TableError(ValueError):
    """The file has no settings markers (or they are out of order)."""


def shown(value: Any) -> str:
    """A default as a reader writes it: paths relative to the repository or the home folder, lists as JSON."""
    if value is None:
        return "unset"
    if isinstance(value, Path):
        for base, prefix in ((ROOT, ""), (Path.home(), "~/")):
            if value.is_relative_to(base):
                return f"`{prefix}{value.relative_to(base).as_posix()}`"
        return f"`{value.as_posix()}`"
    if isinstance(value, list):
        items = [v.relative_to(ROOT).as_posix() if isinstance(v, Path) and v.is_relative_to(ROOT) else v for v in value]
        return f"`{json.dumps(items, ensure_ascii=False, default=str)}`"
    if value == "":
        return "empty"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    return f"`{value}`"


def table() -> str:
    """Every setting, one row each, in the order of ``Settings``."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in Settings.model_fields.items():
        meaning = (field.description or "").replace("|", "\\|")
        rows.append(f"| `SOURCIER_{name.upper()}` | {shown(field.default)} | {meaning} |")
    return "\n".join(rows)


def documented(text: str) -> str:
    """The table between the markers of ``text``."""
    start, end = text.find(START), text.find(END)
    if start < 0 or end < start:
        raise TableError(f"no '{START}' … '{END}' lines")
    return text[start + len(START) : end].strip("\n")


def write(path: Path) -> bool:
    """Put the generated table between the markers of ``path``; True when that changed the file."""
    text = path.read_text(encoding="utf-8")
    old = documented(text)
    if old == table():
        return False
    start = text.find(START) + len(START)
    path.write_text(text[:start] + "\n" + table() + "\n" + text[text.find(END) :], encoding="utf-8")
    return True
