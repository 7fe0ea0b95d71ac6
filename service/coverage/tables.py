"""The report's two tables: one row per article (expandable to its sections and passages) and every
question. Both sit in a box one screen tall, sortable by any column and filterable (``assets/report.js``)."""

from __future__ import annotations

from typing import Any

from service.coverage.fragments import LABELS, e, link, short, where

ORDER = {"answered": 2, "weak": 1, "uncovered": 0}  # sorting the status column: most to do first


def _head(columns: list[str]) -> str:
    return (
        "<thead><tr>"
        + "".join(f'<th scope="col"><button type="button">{c}</button></th>' for c in columns)
        + "</tr></thead>"
    )


def _filters(table: str, label: str, total: int, status: bool = False) -> str:
    """A labelled text filter (and status filter) for ``table``, with the count of rows shown."""
    select = ""
    if status:
        options = "".join(f'<option value="{k}">{e(v)}</option>' for k, v in LABELS.items())
        select = f'<label>Statut <select name="status"><option value="">tous</option>{options}</select></label>'
    return (
        f'<form class="filters" data-filters="{table}" role="search"><label>{e(label)} '
        f'<input type="search" name="q" autocomplete="off"></label>{select}'
        f'<output aria-live="polite">{total} / {total}</output></form>'
    )


def _box(table: str, label: str) -> str:
    return f'<div class="scroll" role="region" aria-label="{e(label)}" tabindex="0">{table}</div>'


def _passage(passage: dict[str, Any]) -> str:
    numbers = ", ".join(f"n° {n}" for n in passage["questions"])
    got = e(numbers) if numbers else '<span class="none">aucune question</span>'
    return (
        f"<li>caractères {passage['start']}–{passage['end']} : {got} "
        f'<span class="excerpt">« {e(short(passage["text"], 110))} »</span></li>'
    )


def _sections(article: dict[str, Any]) -> str:
    items = []
    for section in article["sections"]:
        reached = section["answered"] + section["weak"]
        state = (
            f'<span class="count">— {section["answered"]} répondue(s), {section["weak"]} faible(s)</span>'
            if reached
            else '<span class="none">— jamais atteinte</span>'
        )
        passages = "".join(_passage(p) for p in section["passages"])
        items.append(f"<li><b>{e(section['title'])}</b> {state}<ul>{passages}</ul></li>")
    return f"<ul>{''.join(items)}</ul>"


def article_table(data: dict[str, Any]) -> str:
    """One ``<tbody>`` per article (its row and its hidden detail row), so sorting and filtering move both."""
    bodies = []
    for i, article in enumerate(data["articles"]):
        sections = article["sections"]
        passages = [p for s in sections for p in s["passages"]]
        lost_sections = sum(not (s["answered"] or s["weak"]) for s in sections)
        lost_passages = sum(not (p["answered"] or p["weak"]) for p in passages)
        names = " ".join([article["title"], *(s["title"] for s in sections)])
        bodies.append(
            f'<tbody><tr data-text="{e(names)}"><th scope="row"><button type="button" class="toggle" '
            f'aria-expanded="false" aria-controls="art-{i}" aria-label="Sections de {e(article["title"])}">▸'
            f"</button> {link(article.get('url'), article['title'])}</th>"
            f'<td class="num">{article["answered"]}</td><td class="num">{article["weak"]}</td>'
            f'<td class="num" data-value="{lost_sections}">{lost_sections} / {len(sections)}</td>'
            f'<td class="num" data-value="{lost_passages}">{lost_passages} / {len(passages)}</td></tr>'
            f'<tr class="detail" id="art-{i}" hidden><td colspan="5">{_sections(article)}</td></tr></tbody>'
        )
    count = len(bodies)
    table = (
        '<table class="sortable grouped" id="articles-table"><caption class="visually-hidden">Couverture par '
        "article</caption>"
        + _head(["Article", "Répondues", "Faibles", "Sections jamais atteintes", "Passages jamais atteints"])
        + "".join(bodies)
        + "</table>"
    )
    return (
        f'<section><h2 id="articles">Par article ({count})</h2>'
        '<p class="meta">Le bouton ▸ déplie les sections et passages d’un article, avec les numéros des questions '
        "auxquelles chacun répond.</p>"
        + _filters("articles-table", "Filtrer les articles (titre, section)", count)
        + _box(table, "Tableau des articles")
        + "</section>"
    )


def question_table(data: dict[str, Any]) -> str:
    rows = []
    for n, q in enumerate(data["questions"], 1):
        score = "" if q["score"] is None else f"{q['score']:.3f}"
        source = where(q["citation"]) if q["status"] != "uncovered" else ""
        rows.append(
            f'<tr data-status="{q["status"]}"><td class="num">{n}</td><td>{e(q["question"])}</td>'
            f'<td class="{q["status"]}" data-value="{ORDER[q["status"]]}">{e(LABELS[q["status"]])}</td>'
            f'<td class="num" data-value="{score or -9}">{score}</td>'
            f'<td class="excerpt">{e(short(q["answer"], 220))}</td><td>{source}</td></tr>'
        )
    total = len(rows)
    table = (
        '<table class="sortable" id="questions-table"><caption class="visually-hidden">Toutes les questions'
        "</caption>"
        + _head(["#", "Question", "Statut", "Score", "Réponse (extrait)", "Passage cité"])
        + f"<tbody>{''.join(rows)}</tbody></table>"
    )
    return (
        f'<section><h2 id="questions">Toutes les questions ({total})</h2>'
        + _filters("questions-table", "Filtrer les questions", total, status=True)
        + _box(table, "Tableau des questions")
        + "</section>"
    )
