"""Small HTML pieces shared by the report page and its tables: escaping, safe links, short excerpts."""

from __future__ import annotations

from html import escape
from typing import Any

LABELS = {"answered": "répondue", "weak": "faible", "uncovered": "non couverte"}
COLOURS = {"answered": "#2e7d32", "weak": "#f9a825", "uncovered": "#c62828"}


def e(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def link(url: str | None, text: str) -> str:
    """A link only for http(s) URLs: a corpus could carry a ``javascript:`` one."""
    if url and url.startswith(("http://", "https://")):
        return f'<a href="{e(url)}" rel="noreferrer" target="_blank">{e(text)}</a>'
    return e(text)


def short(text: str | None, limit: int) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def where(citation: dict[str, Any] | None) -> str:
    """The cited passage as a link "Article › Section" (its URL opens the passage on the site)."""
    c = citation or {}
    name = " › ".join(x for x in (c.get("title"), c.get("section")) if x) or c.get("doc_id") or "passage"
    return link(c.get("url"), name)
