"""Load articles from plain text, Markdown, HTML and JSONL into one shape: :class:`Article`.

``Article.text`` is the text every offset refers to. For ``.txt`` and ``.jsonl`` it is the source
text unchanged; for ``.md`` and ``.html`` it is the readable text extracted from the markup (so a
cited answer never contains ``**`` or tags); for ``.html`` (and a website's pages), only the page's main
content (``corpus.extract``: no menu, banner or footer). Boilerplate (comment forms, newsletter prompts) stays in
``text`` but is listed in ``Article.excluded`` so that no chunk or answer ever comes from it.
"""

from __future__ import annotations

import json
import logging
import re
import unicodedata
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from corpus.extract import extract_page
from corpus.markup import Extracted, markdown_to_text
from corpus.text import Span, normalize

log = logging.getLogger(__name__)

SUFFIXES = (".txt", ".md", ".markdown", ".html", ".htm", ".jsonl")
MAX_ARTICLE_CHARS = 2_000_000


class CorpusError(ValueError):
    """A corpus file cannot be loaded; the message names the file (and line)."""


@dataclass(frozen=True)
class Section:
    """A part of an article: ``text[start:end]``; its heading line (if any) ends at ``body_start``."""

    title: str
    start: int
    end: int
    body_start: int


@dataclass
class Article:
    doc_id: str
    title: str
    text: str
    sections: list[Section] = field(default_factory=list)
    url: str | None = None
    source: str = ""
    excluded: list[Span] = field(default_factory=list)

    def section_at(self, offset: int) -> Section | None:
        """The section whose body contains ``offset``."""
        found = None
        for section in self.sections:
            if section.start <= offset < section.end:
                found = section
        return found


# Blog/CMS boilerplate: whole lines that are never content (compared in normalised form).
BOILERPLATE_LINES = [
    "laisser un commentaire",
    "laissez un commentaire",
    "votre adresse e-mail ne sera pas publiee",
    "votre adresse de messagerie ne sera pas publiee",
    "les champs obligatoires sont indiques avec",
    "partager cet article",
    "partagez cet article",
    "abonnez-vous a notre newsletter",
    "inscrivez-vous a notre newsletter",
    "articles similaires",
    "articles recents",
    "commentaires recents",
    "lire la suite",
    "tous droits reserves",
]


def is_boilerplate(line: str) -> bool:
    """True when a line is a known comment-form / sharing / newsletter prompt."""
    norm = normalize(line).rstrip(" .:!*")
    return bool(norm) and any(norm.startswith(pattern) for pattern in BOILERPLATE_LINES)


def _lines(text: str) -> Iterator[tuple[int, int, str]]:
    for match in re.finditer(r"[^\n]*", text):
        if match.group(0).strip():
            yield match.start(), match.end(), match.group(0)


def boilerplate_spans(text: str) -> list[Span]:
    """Spans of the boilerplate lines of ``text``."""
    return [Span(s, e) for s, e, line in _lines(text) if is_boilerplate(line)]


FOLDS: dict[str, str | int | None] = {"œ": "oe", "Œ": "Oe", "æ": "ae", "Æ": "Ae", "ß": "ss"}


def slug(value: str) -> str:
    """A stable, URL-safe article id from a file name ("Guide du cœur" → "guide-du-coeur")."""
    folded = value.translate(str.maketrans(FOLDS))
    ascii_text = unicodedata.normalize("NFKD", folded).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-") or "article"


def _is_heading(line: str, prev_blank: bool, next_blank: bool) -> bool:
    """Plain-text heading: a short line standing alone that does not read as a sentence."""
    stripped = line.strip()
    if not (prev_blank and next_blank) or len(stripped) > 90 or len(stripped.split()) > 14:
        return False
    return not stripped.endswith((".", ",", ";", ":", "…")) or stripped.endswith("?")


def sections_from_headings(text: str, headings: list[tuple[int, int]], title: str) -> list[Section]:
    """Sections that run from each heading line to the next heading (or the end); text before
    the first heading is a section named after the article."""
    sections = []
    first = headings[0][0] if headings else len(text)
    if text[:first].strip():
        sections.append(Section(title, 0, first, 0))
    for i, (h_start, h_end) in enumerate(headings):
        end = headings[i + 1][0] if i + 1 < len(headings) else len(text)
        sections.append(Section(text[h_start:h_end].strip(), h_start, end, h_end))
    return sections


def parse_plain(text: str, doc_id: str, source: str = "") -> Article:
    """A ``.txt`` article: the first non-empty line is the title; short standalone lines are
    section headings; the text is kept exactly as given."""
    lines = list(_lines(text))
    if not lines:
        raise CorpusError(f"{source or doc_id}: the article is empty")
    title = lines[0][2].strip()
    excluded = boilerplate_spans(text)
    excluded_starts = {span.start for span in excluded}
    headings = [(lines[0][0], lines[0][1])]
    for i, (start, end, line) in enumerate(lines[1:], start=1):
        prev_blank = text[lines[i - 1][1] : start].count("\n") >= 2
        next_blank = i + 1 == len(lines) or text[end : lines[i + 1][0]].count("\n") >= 2
        if start not in excluded_starts and _is_heading(line, prev_blank, next_blank):
            headings.append((start, end))
    return Article(doc_id, title, text, sections_from_headings(text, headings, title), None, source, excluded)


def _read_text(path: Path) -> str:
    raw = path.read_bytes()
    if b"\x00" in raw:
        raise CorpusError(f"{path}: binary file (NUL bytes), not an article")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(f"{path}: not UTF-8 (byte {exc.start}); convert it to UTF-8") from exc
    if len(text) > MAX_ARTICLE_CHARS:
        raise CorpusError(f"{path}: {len(text)} characters, over the {MAX_ARTICLE_CHARS} limit")
    return text.replace("\r\n", "\n").replace("\r", "\n")


def article_id(path: Path, root: Path | None = None) -> str:
    """A file's article id: its path under the corpus folder ``root``, each part slugged and without
    the suffix ("guides/Arrêt maladie.md" → "guides/arret-maladie"); a folder's ``index`` page is the
    folder ("guides/index.html" → "guides"), so a static site export keeps one id per page. Stable
    across builds (the vector reuse and the editors' reports rely on it); a file given alone: its name."""
    if root is None:
        return slug(path.stem)
    parts = [slug(part) for part in path.relative_to(root).with_suffix("").parts]
    if len(parts) > 1 and parts[-1] == "index":
        parts.pop()
    return "/".join(parts)


def load_file(path: Path, doc_id: str | None = None) -> list[Article]:
    """Articles of one file (a ``.jsonl`` file holds many); ``doc_id`` defaults to the file's name."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".jsonl":
        return list(load_jsonl(path))
    text = _read_text(path)
    if not text.strip():
        raise CorpusError(f"{path}: the file is empty")
    doc_id = doc_id or slug(path.stem)
    if suffix == ".txt":
        return [parse_plain(text, doc_id, str(path))]
    if suffix in (".html", ".htm"):
        article = html_article(text, doc_id, str(path))
        if article is None:
            raise CorpusError(f"{path}: no readable text")
        return [article]
    if suffix not in (".md", ".markdown"):
        raise CorpusError(f"{path}: unsupported file type {suffix!r} (use {', '.join(SUFFIXES)})")
    doc = markdown_to_text(text)
    if not doc.text.strip():
        raise CorpusError(f"{path}: no readable text")
    return [article_from(doc, doc_id, str(path), path.stem)]


def article_from(doc: Extracted, doc_id: str, source: str, fallback_title: str) -> Article:
    """An article from extracted markup: its title (else its first heading, else ``fallback_title``), its
    headings as sections, its boilerplate lines excluded."""
    headings = doc.headings
    title = doc.title or (doc.text[headings[0][0] : headings[0][1]].strip() if headings else fallback_title)
    sections = sections_from_headings(doc.text, headings, title)
    return Article(doc_id, title, doc.text, sections, doc.url, source, boilerplate_spans(doc.text))


def html_article(html: str, doc_id: str, source: str, url: str | None = None) -> Article | None:
    """A web page's article: its main content (``corpus.extract``: no menu, banner, comment form or
    footer), headings as sections, the canonical URL (resolved against ``url``, the page's own) as its
    link; None when the page has no readable text."""
    doc = extract_page(html, url)
    if not doc.text.strip():
        return None
    return article_from(doc, doc_id, source, doc_id)


def load_jsonl(path: Path) -> Iterator[Article]:
    """One article per line: ``{"id", "title", "text", "url"?}``; the text is kept as given."""
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            where = f"{path}:{number}"
            try:
                record = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as exc:
                raise CorpusError(f"{where}: not a JSON object in UTF-8 ({exc})") from exc
            if not isinstance(record, dict):
                raise CorpusError(f"{where}: expected a JSON object")
            for key in ("id", "title", "text"):
                if not isinstance(record.get(key), str) or not record[key].strip():
                    raise CorpusError(f"{where}: field {key!r} must be a non-empty string")
            url = record.get("url")
            if url is not None and not isinstance(url, str):
                raise CorpusError(f"{where}: field 'url' must be a string")
            text = record["text"]
            if len(text) > MAX_ARTICLE_CHARS:
                raise CorpusError(f"{where}: {len(text)} characters, over the {MAX_ARTICLE_CHARS} limit")
            title = record["title"].strip()
            sections = [Section(title, 0, len(text), 0)]
            yield Article(record["id"], title, text, sections, url, where, boilerplate_spans(text))


def corpus_files(paths: Iterable[Path]) -> list[tuple[Path, Path | None]]:
    """Article files under the given files/folders, each with the folder it was found under (None
    for a file given alone), sorted for a stable corpus order."""
    files: list[tuple[Path, Path | None]] = []
    for path in map(Path, paths):
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix.lower() in SUFFIXES and p.is_file())
            files.extend((p, path) for p in found)
        elif path.is_file():
            files.append((path, None))
        else:
            raise CorpusError(f"{path}: no such file or folder")
    return files


def load(paths: Iterable[Path]) -> list[Article]:
    """All articles under ``paths``; ids must be unique across the whole corpus."""
    articles: list[Article] = []
    seen: dict[str, str] = {}
    for path, root in corpus_files(paths):
        for article in load_file(path, article_id(path, root)):
            if article.doc_id in seen:
                raise CorpusError(
                    f"{article.source}: duplicate article id {article.doc_id!r} (first seen in {seen[article.doc_id]})"
                )
            seen[article.doc_id] = article.source
            articles.append(article)
    if not articles:
        raise CorpusError("no articles found in " + ", ".join(map(str, paths)))
    log.info("loaded %d articles", len(articles))
    return articles
