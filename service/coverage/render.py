"""Write a coverage report as ``report.html`` (one self-contained page: ``service.coverage.page``),
``report.csv`` and ``report.json`` (both complete: every question, article, section and passage).

Everything that comes from articles, questions or logs is escaped: a reader's question is untrusted
text, in the page (HTML) as in the spreadsheet (CSV formulas).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from service.coverage.compare import Comparison
from service.coverage.fragments import LABELS
from service.coverage.page import render_page
from service.coverage.report import Report

CSV_FIELDS = ["n", "question", "status", "score", "answer", "doc_id", "title", "section", "start", "end", "url"]


def render_html(report: Report, controls: str = "") -> str:
    """The report page (``service.coverage.page``); ``controls`` is trusted HTML put under the title."""
    return render_page(report.to_dict(), controls)


def render_comparison(comparison: Comparison, new: dict[str, Any]) -> str:
    """The newer report's page, with what changed since the older one on its first screen."""
    return render_page(new, comparison=comparison)


def _cell(value: Any) -> Any:
    """Spreadsheets run a cell that starts with = + - @ as a formula: quote such text."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def render_csv(report: Report) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, CSV_FIELDS, lineterminator="\n")
    writer.writeheader()
    for n, q in enumerate(report.questions, 1):
        c = q.citation or {}
        row = {
            "n": n,
            "question": q.question,
            "status": q.status,
            "score": q.score,
            "answer": q.answer,
            **{k: c.get(k) for k in ("doc_id", "title", "section", "start", "end", "url")},
        }
        writer.writerow({k: _cell(v) for k, v in row.items()})
    return out.getvalue()


def write_reports(report: Report, folder: Path) -> dict[str, Path]:
    """``report.html``, ``report.csv`` (UTF-8 with BOM, for spreadsheets) and ``report.json``."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {name: folder / f"report.{name}" for name in ("html", "csv", "json")}
    paths["html"].write_text(render_html(report), encoding="utf-8")
    paths["csv"].write_text(render_csv(report), encoding="utf-8-sig")
    paths["json"].write_text(json.dumps(report.to_dict(), ensure_ascii=False, indent=1), encoding="utf-8")
    return paths


def format_summary(report: Report) -> str:
    s = report.summary
    lines = [
        f"{s['total']} questions : {s['answered']} répondues, {s['weak']} faibles, "
        f"{s['uncovered']} non couvertes ({len(report.skipped)} lignes ignorées)",
        f"passages jamais atteints : {s['unreached_passages']}/{s['passages']} ; "
        f"sections jamais atteintes : {s['unreached_sections']}/{s['sections']}",
    ]
    for cluster in [c for c in report.clusters if c.kind == "uncovered"][:5]:
        lines.append(f"  à faire ({cluster.size}) : {cluster.representative}")
    return "\n".join(lines)


def format_comparison(comparison: Comparison) -> str:
    """What changed between two reports, in French, one question a line."""
    groups = [
        ("Devenues couvertes", comparison.gained),
        ("Couverture perdue", comparison.lost),
        ("Devenues faibles", comparison.weakened),
        ("Ne sont plus faibles", comparison.strengthened),
        ("Répondues par un autre passage", comparison.moved),
        ("Nouvelles questions", comparison.added),
        ("Questions retirées", comparison.removed),
    ]
    lines = [f"index {comparison.old_version or '?'} → {comparison.new_version or '?'}"]
    for title, changes in groups:
        lines.append(f"{title} : {len(changes)}")
        for change in changes:
            old = LABELS.get(change.old_status or "", "—")
            new = LABELS.get(change.new_status or "", "—")
            lines.append(f"  - {change.question}  [{old} → {new}]")
    return "\n".join(lines)
