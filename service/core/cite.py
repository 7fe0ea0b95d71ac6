"""Citations: the section an offset falls in, and a link that opens the article at the passage."""

from __future__ import annotations

from urllib.parse import quote

from corpus.load import Article


def section_title(article: Article, section: str) -> str | None:
    """The section title, or None when the article has no sections of its own."""
    return None if section == article.title and len(article.sections) <= 1 else section


def passage_url(base_url: str, article: Article, start: int, end: int) -> str:
    """A link that opens the article at the passage: the article's own page with a text fragment
    when the corpus gives its URL, else Sourcier's article page with the offsets."""
    if article.url:
        words = article.text[start:end].split()
        fragment = quote(" ".join(words[:4]), safe="")
        if len(words) > 8:
            fragment += "," + quote(" ".join(words[-4:]), safe="")
        elif len(words) > 4:
            fragment = quote(" ".join(words), safe="")
        return f"{article.url}#:~:text={fragment}"
    return f"{base_url.rstrip('/')}/articles/{quote(article.doc_id, safe='')}?start={start}&end={end}#passage"


def heading_url(base_url: str, article: Article, section: str | None) -> str:
    """A link that opens the article at one of its headings (``section`` None: the article itself),
    built like a citation's so that a suggested question leads where its answer would."""
    found = next((s for s in article.sections if s.title == section), None) if section else None
    if found is None:
        return article.url or f"{base_url.rstrip('/')}/articles/{quote(article.doc_id, safe='')}"
    end = found.body_start if found.body_start > found.start else found.end
    return passage_url(base_url, article, found.start, end)
