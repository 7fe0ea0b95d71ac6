"""The coverage report as one HTML page, built from the report's JSON form (``Report.to_dict()``), so that a
report, the editors' live page and a comparison of two saved reports share one layout.

The page is read top down by an editor with little time: first what to act on (the counts, the uncovered
questions grouped, the weak answers with the passage they got, the answers readers rated down), then one
row per article and the table of every question. Nothing long is shown unfolded: lists past a few items
sit in ``<details>``, tables in a box one screen tall; the CSV and JSON keep everything. The page is
self-contained (inline CSS and script from ``assets/``, inline SVG) and its policy allows that CSS and
that script by hash, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
from importlib.resources import files
from typing import Any

from service.coverage.clusters import question_key
from service.coverage.compare import Comparison
from service.coverage.fragments import COLOURS, LABELS, e, short, where
from service.coverage.tables import article_table, question_table

SHOWN = 6  # items of a list on the first screen; the rest folded
_ASSETS = files("service.coverage") / "assets"
STYLE = (_ASSETS / "report.css").read_text(encoding="utf-8")
SCRIPT = (_ASSETS / "report.js").read_text(encoding="utf-8")


def _sha(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii") + "'"


CSP = f"default-src 'none'; style-src {_sha(STYLE)}; script-src {_sha(SCRIPT)}; form-action 'self'"


def folded(items: list[str], tag: str, more: str, attrs: str = "") -> str:
    """The first ``SHOWN`` items as a list, the others in a closed ``<details>`` (numbering continues)."""
    head = f"<{tag}{attrs}>{''.join(items[:SHOWN])}</{tag}>"
    if len(items) <= SHOWN:
        return head
    start = f' start="{SHOWN + 1}"' if tag == "ol" else ""
    return (
        head + f"<details><summary>{e(more.format(n=len(items) - SHOWN))}</summary>"
        f"<{tag}{attrs}{start}>{''.join(items[SHOWN:])}</{tag}></details>"
    )


def status_chart(summary: dict[str, Any]) -> str:
    """One horizontal bar: answered, weak and uncovered questions side by side."""
    total = max(summary["total"], 1)
    x, parts = 0.0, []
    for status in ("answered", "weak", "uncovered"):
        width = 600 * summary[status] / total
        parts.append(
            f'<rect x="{x:.1f}" y="0" width="{width:.1f}" height="14" fill="{COLOURS[status]}">'
            f"<title>{summary[status]} {e(LABELS[status])}</title></rect>"
        )
        x += width
    return (
        f'<svg role="img" aria-label="Questions par statut" width="600" height="14" '
        f'xmlns="http://www.w3.org/2000/svg">{"".join(parts)}</svg>'
    )


def _card(keys: list[str], summary: dict[str, Any], label: str, kind: str = "") -> str:
    values = " / ".join(f'<span data-key="{k}">{e(summary[k])}</span>' for k in keys)
    return f'<div class="card {kind}"><b>{values}</b>{e(label)}</div>'


def cards(data: dict[str, Any]) -> str:
    """The counts; each number carries the JSON key it shows (``data-key``), so a test can match them."""
    s = data["summary"]
    items = [
        _card(["total"], s, "questions"),
        _card(["uncovered"], s, "non couvertes", "uncovered"),
        _card(["weak"], s, "faibles, à vérifier", "weak"),
        _card(["answered"], s, "répondues"),
        _card(["unreached_sections", "sections"], s, "sections jamais atteintes"),
        _card(["unreached_passages", "passages"], s, "passages jamais atteints"),
    ]
    if s.get("period"):
        items.insert(3, _card(["low_rated"], s, "mal notées par les lecteurs"))
    return f'<div class="cards">{"".join(items)}</div>{status_chart(s)}'


def _cluster_items(clusters: list[dict[str, Any]], links: dict[str, str]) -> list[str]:
    items = []
    for cluster in clusters:
        others = [m for m in cluster["members"] if m["question"] != cluster["representative"]]
        more = ""
        if others:
            listed = "".join(
                f"<li>{e(m['question'])}" + (f" (×{m['count']})" if m["count"] > 1 else "") + "</li>" for m in others
            )
            more = f"<details><summary>{len(others)} autre(s) formulation(s)</summary><ul>{listed}</ul></details>"
        got = links.get(cluster["representative"], "")
        items.append(
            f'<li><b>{e(cluster["representative"])}</b> <span class="count">({cluster["size"]} question'
            f"{'s' if cluster['size'] > 1 else ''})</span>{' — réponse donnée : ' + got if got else ''}{more}</li>"
        )
    return items


def _clusters(data: dict[str, Any], kind: str, title: str, intro: str, empty: str, links: dict[str, str]) -> str:
    """A section of clustered questions (``kind``), its groups listed largest first, past a few folded."""
    clusters = [c for c in data["clusters"] if c["kind"] == kind]
    if not clusters:
        return title + f"<p>{empty}</p>"
    return title + intro + folded(_cluster_items(clusters, links), "ol", "Voir les {n} autres groupes", ' class="todo"')


def todo(data: dict[str, Any]) -> str:
    groups = sum(c["kind"] == "uncovered" for c in data["clusters"])
    title = (
        f'<h2 id="todo">À faire : <span data-key="uncovered">{data["summary"]["uncovered"]}</span> questions '
        f"non couvertes, en {groups} groupes</h2>"
    )
    intro = '<p class="meta">Les articles ne répondent pas à ces questions : les plus demandées d’abord.</p>'
    return _clusters(data, "uncovered", title, intro, "Aucune question non couverte.", {})


def weak(data: dict[str, Any]) -> str:
    """The weak answers, weakest first, each with the passage it got and a link to it; a question asked
    again and answered the same way is one item (×n)."""
    groups: dict[tuple[str, str | None], list[dict[str, Any]]] = {}
    for q in data["questions"]:
        if q["status"] == "weak":
            groups.setdefault((question_key(q["question"]), q["answer"]), []).append(q)
    ordered = sorted(groups.values(), key=lambda g: min(q["score"] if q["score"] is not None else -1.0 for q in g))
    title = f'<h2 id="weak">À vérifier : <span data-key="weak">{data["summary"]["weak"]}</span> réponses faibles</h2>'
    if not ordered:
        return title + "<p>Aucune réponse faible.</p>"
    items = []
    for group in ordered:
        q = group[0]
        items.append(
            f"<li><b>{e(q['question'])}</b>"
            + (f' <span class="count">(×{len(group)})</span>' if len(group) > 1 else "")
            + (f' <span class="count">score {q["score"]:.3f}</span>' if q["score"] is not None else "")
            + (f'<br><span class="excerpt">« {e(short(q["answer"], 180))} »</span>' if q["answer"] else "")
            + f"<br>{where(q['citation'])}</li>"
        )
    return title + folded(items, "ul", "Voir les {n} autres réponses faibles", ' class="items"')


def low_rated(data: dict[str, Any]) -> str:
    """The questions whose answers readers rated down, grouped, with the answer they got when the log has it."""
    title = (
        f'<h2 id="low-rated">Réponses mal notées par les lecteurs : <span data-key="low_rated">'
        f"{data['summary'].get('low_rated', 0)}</span></h2>"
    )
    links = {q["question"]: where(q["citation"]) for q in data["questions"] if q["citation"]}
    return _clusters(data, "low_rated", title, "", "Aucune réponse mal notée sur la période.", links)


def changes(comparison: Comparison) -> str:
    """What changed since the old report: what to act on (lost, weakened) listed, the rest folded."""
    groups = [
        ("lost", "Couverture perdue", comparison.lost),
        ("weakened", "Devenues faibles", comparison.weakened),
        ("gained", "Devenues couvertes", comparison.gained),
        ("strengthened", "Ne sont plus faibles", comparison.strengthened),
        ("moved", "Répondues par un autre passage", comparison.moved),
        ("added", "Nouvelles questions", comparison.added),
        ("removed", "Questions retirées", comparison.removed),
    ]
    out = [
        f'<h2 id="changes">Ce qui a changé depuis l’index {e(comparison.old_version or "?")}</h2><div class="cards">',
        *(f'<div class="card"><b data-change="{k}">{len(v)}</b>{e(label)}</div>' for k, label, v in groups),
        "</div>",
    ]
    for key, label, found in groups:
        if not found:
            continue
        items = [
            f"<li>{e(c.question)} <span class='count'>[{e(LABELS.get(c.old_status or '', '—'))} → "
            f"{e(LABELS.get(c.new_status or '', '—'))}]</span></li>"
            for c in found
        ]
        listed = f"<ul class='items'>{''.join(items)}</ul>"
        opened = " open" if key in ("lost", "weakened") and len(items) <= SHOWN else ""
        out.append(f"<details{opened}><summary>{e(label)} ({len(items)})</summary>{listed}</details>")
    return "".join(out)


def render_page(data: dict[str, Any], controls: str = "", comparison: Comparison | None = None) -> str:
    """The report page; ``controls`` is trusted HTML put under the title (the editors' period form)."""
    s = data["summary"]
    period = s.get("period")
    first = [todo(data), weak(data)] + ([low_rated(data)] if period else [])
    skipped = data.get("skipped") or []
    parts = [
        "<!doctype html><html lang=fr><head><meta charset=utf-8>",
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Couverture des articles — {e(s['source'])}</title><style>{STYLE}</style></head><body>",
        f"<header><h1>Couverture des articles — {e(s['source'])}</h1>{controls}",
        f'<p class="meta">Index {e(data["index_version"])} · généré le {e(s["generated_at"])} · seuil '
        f"{s['threshold']:.3f}, « faible » sous {s['threshold'] + s['confident_margin']:.3f}"
        + (f" · période du {e(period['since'])} au {e(period['until'])}" if period else "")
        + " · tout le détail : report.csv, report.json</p>",
        '<nav aria-label="Parties du rapport"><a href="#todo">À faire</a><a href="#weak">À vérifier</a>'
        + ('<a href="#low-rated">Mal notées</a>' if period else "")
        + '<a href="#articles">Par article</a><a href="#questions">Toutes les questions</a></nav></header><main>',
        cards(data),
        changes(comparison) if comparison else "",
        '<div class="first">' + "".join(f"<section>{part}</section>" for part in first) + "</div>",
        article_table(data),
        question_table(data),
    ]
    if skipped:
        items = "".join(
            f"<li>ligne {k['line']} : {e(short(k['question'], 80))} — {e(k['message'])}</li>" for k in skipped
        )
        parts.append(f"<details><summary>Lignes ignorées ({len(skipped)})</summary><ul>{items}</ul></details>")
    parts.append(f"</main><script>{SCRIPT}</script></body></html>")
    return "\n".join(parts)
