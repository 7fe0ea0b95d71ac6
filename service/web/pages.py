"""HTML pages rendered by the service. Every piece of article text is escaped: an article that
contains ``<script>`` shows it as text."""

from __future__ import annotations

from html import escape

from corpus.load import Article

STYLE = """
body{font:17px/1.6 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2330;background:#fbfbfd;margin:0}
main{max-width:46rem;margin:0 auto;padding:2rem 1.25rem 40vh}
h1{font-size:1.7rem;line-height:1.25;margin:0 0 1.5rem}
.text{white-space:pre-wrap;overflow-wrap:anywhere}
.heading{display:inline-block;font-weight:700;font-size:1.15rem;margin-top:.4rem}
mark{background:#ffe27a;color:inherit;padding:.1em 0;border-radius:2px;scroll-margin:35vh;
box-shadow:0 0 0 3px #ffe27a}
.muted{color:#767d8c}
nav a{color:#2450b8}
"""


def _boundaries(article: Article, start: int | None, end: int | None) -> list[tuple[int, int, str]]:
    """(position, order, tag) insertions: heading spans and the highlighted passage."""
    marks: list[tuple[int, int, str]] = []
    for section in article.sections:
        if section.body_start > section.start:
            marks.append((section.start, 1, '<span class="heading" role="heading" aria-level="2">'))
            marks.append((section.body_start, 0, "</span>"))
    if start is not None and end is not None and 0 <= start < end <= len(article.text):
        marks.append((start, 2, '<mark id="passage">'))
        marks.append((end, -1, "</mark>"))
    return sorted(marks)


def article_text_html(article: Article, start: int | None = None, end: int | None = None) -> str:
    """The article text, escaped, with headings styled and ``text[start:end]`` in a ``<mark>``."""
    out, cursor = [], 0
    for position, _, tag in _boundaries(article, start, end):
        out.append(escape(article.text[cursor:position]))
        out.append(tag)
        cursor = position
    out.append(escape(article.text[cursor:]))
    return "".join(out)


def article_page(article: Article, start: int | None = None, end: int | None = None, home: str = "/") -> str:
    """A readable page of the article; with offsets, the cited passage is highlighted and the
    ``#passage`` anchor of citation links scrolls it into view. ``home``: the site's demo page."""
    heading = "" if article.text.lstrip().startswith(article.title) else f"<h1>{escape(article.title)}</h1>"
    source = ""
    if article.url:
        source = f'<p class="muted">Source : <a href="{escape(article.url, quote=True)}">{escape(article.url)}</a></p>'
    return (
        '<!doctype html>\n<html lang="fr"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f"<title>{escape(article.title)} — Sourcier</title><style>{STYLE}</style></head>"
        f'<body><main><nav><a href="{escape(home, quote=True)}">← Sourcier</a></nav><article>{heading}'
        f'<div class="text">{article_text_html(article, start, end)}</div></article>{source}</main></body></html>\n'
    )
