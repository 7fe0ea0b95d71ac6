"""Write a coverage report as ``report.html`` (self-contained: inline CSS, a few lines of inline JS
to sort tables, inline SVG charts, no external asset), ``report.csv`` and ``report.json``.

Everything that comes from articles, questions or logs is escaped: a reader's question is untrusted
text, in the page (HTML) as in the spreadsheet (CSV formulas).
"""

from __future__ import annotations

import csv
import io
import json
from html import escape
from pathlib import Path
from typing import Any

from service.coverage.clusters import Cluster
from service.coverage.compare import Comparison
from service.coverage.report import Report

LABELS = {"answered": "répondue", "weak": "faible", "uncovered": "non couverte"}
COLOURS = {"answered": "#2e7d32", "weak": "#f9a825", "uncovered": "#c62828"}
CSV_FIELDS = ["n", "question", "status", "score", "answer", "doc_id", "title", "section", "start", "end", "url"]

STYLE = """
body{font:15px/1.45 system-ui,sans-serif;margin:2rem auto;max-width:1180px;padding:0 1rem;color:#222}
h1{font-size:1.5rem}h2{font-size:1.2rem;margin-top:2rem;border-bottom:1px solid #ddd}
.meta{color:#555}.cards{display:flex;gap:1rem;flex-wrap:wrap}
.card{border:1px solid #ddd;border-radius:6px;padding:.5rem 1rem;min-width:9rem}
.card b{display:block;font-size:1.4rem}
table{border-collapse:collapse;width:100%;margin:.5rem 0}
th,td{border-bottom:1px solid #eee;padding:.3rem .4rem;text-align:left;vertical-align:top}
th{background:#f6f6f6;cursor:pointer;user-select:none;white-space:nowrap}
th[data-order=asc]::after{content:" ▲"}th[data-order=desc]::after{content:" ▼"}
.answered{color:#2e7d32}.weak{color:#9a6700}.uncovered{color:#c62828}
.excerpt{color:#555;font-size:.9em}.num{text-align:right}.none{color:#c62828}
form{margin:1rem 0}input{font:inherit}
"""

SORT_SCRIPT = """
document.querySelectorAll("table.sortable th").forEach(th => th.addEventListener("click", () => {
  const table = th.closest("table"), body = table.tBodies[0], col = th.cellIndex;
  const asc = th.dataset.order !== "asc";
  table.querySelectorAll("th").forEach(h => delete h.dataset.order);
  th.dataset.order = asc ? "asc" : "desc";
  const value = row => row.cells[col].dataset.value ?? row.cells[col].textContent.trim();
  const rows = Array.from(body.rows).sort((a, b) => {
    const x = value(a), y = value(b), nx = Number(x), ny = Number(y);
    const cmp = x !== "" && y !== "" && !isNaN(nx) && !isNaN(ny) ? nx - ny : x.localeCompare(y, "fr");
    return asc ? cmp : -cmp;
  });
  rows.forEach(row => body.appendChild(row));
}));
"""


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _link(url: str | None, text: str) -> str:
    """A link only for http(s) URLs: a corpus could carry a ``javascript:`` one."""
    if url and url.startswith(("http://", "https://")):
        return f'<a href="{e(url)}" rel="noreferrer">{e(text)}</a>'
    return e(text)


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def status_chart(summary: dict[str, Any]) -> str:
    """One horizontal bar: answered, weak and uncovered questions side by side."""
    total = max(summary["total"], 1)
    x, parts, legend = 0.0, [], []
    for status in ("answered", "weak", "uncovered"):
        width = 700 * summary[status] / total
        label = f"{summary[status]} {LABELS[status]}{'s' if summary[status] > 1 else ''}"
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{width:.1f}" height="28" fill="{COLOURS[status]}">'
            f"<title>{e(label)}</title></rect>"
        )
        legend.append(f'<tspan fill="{COLOURS[status]}">■</tspan> {e(label)}   ')
        x += width
    return (
        f'<svg role="img" aria-label="Questions par statut" width="700" height="52" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}'
        f'<text x="0" y="46" font-size="13">{"".join(legend)}</text></svg>'
    )


def section_chart(report: Report) -> str:
    """Per section, the questions it answers (answered, then weak); a section nobody reaches is red."""
    rows = [(a, s) for a in report.articles for s in a.sections]
    if not rows:
        return ""
    peak = max([s.answered + s.weak for _, s in rows] + [1])
    label_w, bar_w, row_h = 380, 360, 24
    parts = []
    for i, (article, section) in enumerate(rows):
        y = i * row_h
        name = section.title if len(report.articles) == 1 else f"{article.title} › {section.title}"
        parts.append(
            f'<text x="{label_w - 8}" y="{y + 16}" font-size="12" text-anchor="end">'
            f"<title>{e(name)}</title>{e(_short(name, 56))}</text>"
        )
        x = float(label_w)
        for status in ("answered", "weak"):
            count = getattr(section, status)
            width = bar_w * count / peak
            if count:
                parts.append(
                    f'<rect x="{x:.1f}" y="{y + 4}" width="{width:.1f}" height="16" '
                    f'fill="{COLOURS[status]}"><title>{count} {e(LABELS[status])}</title></rect>'
                )
            x += width
        total = section.answered + section.weak
        note = f"{total}" if total else "aucune question"
        colour = "#222" if total else COLOURS["uncovered"]
        parts.append(f'<text x="{x + 6:.1f}" y="{y + 16}" font-size="12" fill="{colour}">{note}</text>')
    height = len(rows) * row_h + 4
    return (
        f'<svg role="img" aria-label="Questions répondues par section" width="{label_w + bar_w + 120}" '
        f'height="{height}" xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _cluster_table(clusters: list[Cluster], empty: str) -> str:
    if not clusters:
        return f"<p>{e(empty)}</p>"
    rows = []
    for rank, cluster in enumerate(clusters, 1):
        others = [
            f"{e(m.question)}" + (f" (×{m.count})" if m.count > 1 else "")
            for m in cluster.members
            if m.question != cluster.representative
        ]
        rows.append(
            f'<tr><td class="num">{rank}</td><td class="num">{cluster.size}</td>'
            f"<td><b>{e(cluster.representative)}</b></td><td>{'<br>'.join(others)}</td></tr>"
        )
    return (
        '<table class="sortable"><thead><tr><th>#</th><th>Questions</th><th>Question représentative</th>'
        f"<th>Autres formulations</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def _passage_table(report: Report) -> str:
    rows = []
    for article in report.articles:
        for section in article.sections:
            for p in section.passages:
                numbers = ", ".join(str(n) for n in p.questions)
                rows.append(
                    f"<tr><td>{e(article.title)}</td><td>{e(section.title)}</td>"
                    f'<td class="num" data-value="{p.start}">{p.start}–{p.end}</td>'
                    f'<td class="num">{p.answered}</td><td class="num">{p.weak}</td>'
                    f"<td>{e(numbers) or '<span class=none>aucune</span>'}</td>"
                    f'<td class="excerpt">{e(_short(p.text, 220))}</td></tr>'
                )
    return (
        '<table class="sortable"><thead><tr><th>Article</th><th>Section</th><th>Caractères</th>'
        "<th>Répondues</th><th>Faibles</th><th>Questions n°</th><th>Passage</th></tr></thead>"
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _unreached(report: Report) -> str:
    items = []
    for article in report.articles:
        for section in article.sections:
            if not (section.answered or section.weak):
                items.append(f"<li><b>Section entière :</b> {e(article.title)} › {e(section.title)}</li>")
                continue
            for p in section.passages:
                if not (p.answered or p.weak):
                    items.append(
                        f"<li>{e(article.title)} › {e(section.title)}, caractères {p.start}–{p.end} : "
                        f'<span class="excerpt">« {e(_short(p.text, 200))} »</span></li>'
                    )
    return f"<ul>{''.join(items)}</ul>" if items else "<p>Chaque passage répond à au moins une question.</p>"


def _question_table(report: Report) -> str:
    order = {"answered": 2, "weak": 1, "uncovered": 0}
    rows = []
    for n, q in enumerate(report.questions, 1):
        c = q.citation or {}
        where = " › ".join(x for x in (c.get("title"), c.get("section")) if x)
        source = _link(c.get("url"), where or c.get("doc_id") or "") if q.status != "uncovered" else ""
        score = "" if q.score is None else f"{q.score:.3f}"
        rows.append(
            f'<tr><td class="num">{n}</td><td>{e(q.question)}</td>'
            f'<td class="{q.status}" data-value="{order[q.status]}">{e(LABELS[q.status])}</td>'
            f'<td class="num" data-value="{score or -9}">{score}</td>'
            f'<td>{e(q.answer)}</td><td class="excerpt">{source}</td></tr>'
        )
    return (
        '<table class="sortable"><thead><tr><th>#</th><th>Question</th><th>Statut</th><th>Score</th>'
        f"<th>Réponse (mot pour mot)</th><th>Source</th></tr></thead><tbody>{''.join(rows)}</tbody></table>"
    )


def render_html(report: Report, controls: str = "") -> str:
    """The report page; ``controls`` is trusted HTML put under the title (the editors' period form)."""
    s = report.summary
    clusters = [c for c in report.clusters if c.kind == "uncovered"]
    low_rated = [c for c in report.clusters if c.kind == "low_rated"]
    period = s.get("period")
    cards = [
        (s["total"], "questions"),
        (s["answered"], "répondues"),
        (s["weak"], "faibles"),
        (s["uncovered"], "non couvertes"),
        (f"{s['unreached_passages']} / {s['passages']}", "passages jamais atteints"),
        (f"{s['unreached_sections']} / {s['sections']}", "sections jamais atteintes"),
    ]
    parts = [
        "<!doctype html><html lang=fr><head><meta charset=utf-8>",
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "script-src 'unsafe-inline'; form-action 'self'\">",
        f"<title>Couverture des articles — {e(s['source'])}</title><style>{STYLE}</style></head><body>",
        f"<h1>Couverture des articles — {e(s['source'])}</h1>",
        controls,
        f'<p class="meta">Index {e(report.index_version)} · généré le {e(s["generated_at"])} · seuil '
        f"{s['threshold']:.3f}, « faible » sous {s['threshold'] + s['confident_margin']:.3f}"
        + (f" · période du {e(period['since'])} au {e(period['until'])}" if period else "")
        + "</p>",
        '<div class="cards">' + "".join(f'<div class="card"><b>{e(v)}</b>{e(k)}</div>' for v, k in cards) + "</div>",
        "<h2>Questions par statut</h2>",
        status_chart(s),
        "<h2>Questions répondues par section</h2>",
        section_chart(report),
        "<h2>À faire : questions non couvertes, par groupes</h2>",
        _cluster_table(clusters, "Aucune question non couverte."),
    ]
    if period:
        parts += [
            "<h2>Réponses mal notées par les lecteurs, par groupes</h2>",
            _cluster_table(low_rated, "Aucune réponse mal notée sur la période."),
        ]
    parts += [
        "<h2>Passages et sections qu’aucune question n’atteint</h2>",
        _unreached(report),
        "<h2>Couverture par passage</h2>",
        _passage_table(report),
        "<h2>Toutes les questions</h2>",
        _question_table(report),
    ]
    if report.skipped:
        items = "".join(
            f"<li>ligne {k.line} : {e(_short(k.question, 80))} — {e(k.message)}</li>" for k in report.skipped
        )
        parts += ["<h2>Lignes ignorées</h2>", f"<ul>{items}</ul>"]
    parts.append(f"<script>{SORT_SCRIPT}</script></body></html>")
    return "\n".join(parts)


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
