"""The main content of a web page (the article, without the site around it), with exact offsets.

A page fetched from a site carries its theme: header and menu, breadcrumbs, cookie banner, share
buttons, related posts, comment form, sidebar widgets, footer. The hand-written loader
(:func:`corpus.markup.html_to_text`) only drops ``<nav>/<header>/<footer>/<aside>/<form>`` and keeps the
``<article>``/``<main>`` element, so chrome written as ``<div class=…>`` (most themes) is indexed.
Here trafilatura, a maintained main-content extractor, decides what the article is; its XML output
(``<head>``, ``<p>``, ``<list>``/``<item>``, ``<table>``/``<row>``/``<cell>``, ``<quote>``, ``<code>``) is
then turned into text in one pass with :class:`corpus.markup._Builder`'s rules — paragraphs separated by
blank lines, heading spans recorded while building — so ``text[start:end]`` of a heading is that heading
by construction. ``eval/extraction.py`` measures both extractors on the same pages.

Options (see :func:`extract_page`): ``favor_precision`` (measured best: less chrome, no more loss than
the balanced or recall settings), comments off (a comment thread is not the article), tables kept
(one row per paragraph, cells joined by ``" | "``), formatting off (``<hi>`` marks would be flattened
anyway; it changes no block), metadata on (the title), ``deduplicate`` off: trafilatura's duplicate
filter is a process-wide cache, so a paragraph shared by several pages of a site (a legal reminder
repeated on every fiche) would vanish from the pages read after the first ones — order-dependent. Even so,
trafilatura drops a paragraph that repeats the one right before it.

What changes from the page's text: whitespace runs (including no-break spaces, which trafilatura folds)
become one space, the text is NFC, control characters are dropped. Letters, ``’`` vs ``'``, ``œ``,
emoji are kept as they are.
"""

from __future__ import annotations

import logging
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from typing import Literal
from urllib.parse import urljoin

import trafilatura

from corpus.markup import Extracted, _Builder, html_to_text
from corpus.webpage import PageInfo, read_page

log = logging.getLogger(__name__)

Focus = Literal["balanced", "precision", "recall"]
Method = Literal["trafilatura", "fallback", "none"]

# Bigger pages are not read at all (trafilatura's own download limit is 20 MB); the caller gets no text.
MAX_PAGE_CHARS = 20_000_000

_SPACE = re.compile(r"\s+")
# Elements whose content is a paragraph of its own; everything else inside them is inline text.
_BLOCKS = {"p", "head", "item", "row", "quote", "code", "list", "table", "div", "main", "cell", "lb"}
_SKIPPED = {"graphic", "note", "fw"}


@dataclass
class ExtractedPage(Extracted):
    """:class:`Extracted` plus how the text was obtained: ``trafilatura``; ``fallback`` (trafilatura found
    nothing, :func:`corpus.markup.html_to_text` was used); ``none`` (no readable text: ``text`` is empty)."""

    method: Method = "trafilatura"


def _clean(parts: list[str]) -> str:
    return _SPACE.sub(" ", "".join(parts)).strip()


def _page_info(html: str) -> PageInfo:
    try:
        return read_page(html)
    except (AssertionError, ValueError) as exc:  # html.parser on broken declarations
        log.debug("page head not fully parsed: %s", exc)
        return PageInfo()


def _inline(element: ET.Element, out: _Builder, buffer: list[str], heading: bool) -> None:
    """Text of ``element`` and its inline children into ``buffer``; a nested block flushes it."""
    if element.text:
        buffer.append(element.text)
    for child in element:
        if child.tag in _SKIPPED:
            pass
        elif child.tag in _BLOCKS:
            out.block(_clean(buffer), heading=heading)
            buffer.clear()
            if child.tag != "lb":
                _walk(child, out)
        else:
            _inline(child, out, buffer, heading)
        if child.tail:
            buffer.append(child.tail)


def _walk(element: ET.Element, out: _Builder) -> None:
    """One pass over trafilatura's XML: every paragraph, heading, list item and table row is a block."""
    if element.tag in _SKIPPED:
        return
    if element.tag == "row":
        cells = [_clean(list(cell.itertext())) for cell in element if cell.tag == "cell"]
        out.block(" | ".join(cell for cell in cells if cell))
        return
    buffer: list[str] = []
    _inline(element, out, buffer, heading=element.tag == "head")
    out.block(_clean(buffer), heading=element.tag == "head")


def _from_xml(xml: str) -> tuple[_Builder, str | None]:
    root = ET.fromstring(xml)
    out = _Builder()
    main = root.find("main")
    if main is not None:
        _walk(main, out)
    title = (root.get("title") or "").strip() or None
    return out, title


def _trafilatura(html: str, url: str | None, focus: Focus) -> str | None:
    """trafilatura's XML for the page, or None when it finds no main content or fails on the input."""
    try:
        return trafilatura.extract(
            html,
            url=url,
            output_format="xml",
            with_metadata=True,
            include_comments=False,
            include_tables=True,
            include_formatting=False,
            include_images=False,
            include_links=False,
            deduplicate=False,
            favor_precision=focus == "precision",
            favor_recall=focus == "recall",
        )
    except Exception as exc:  # noqa: BLE001 — a third-party parser on arbitrary web input: any failure falls back
        log.warning("trafilatura failed on %s: %s: %s", url or "a page", type(exc).__name__, exc)
        return None


def extract_page(html: str, url: str | None = None, focus: Focus = "precision") -> ExtractedPage:
    """The page's main content as readable text, its headings as ``(start, end)`` spans into it, its title
    (trafilatura's metadata title, else the first ``<h1>``, else ``<title>``) and its url (the
    ``rel=canonical`` link resolved against ``url``, else ``url``).

    Never raises on bad input: a page with no readable text (empty, binary junk, over
    :data:`MAX_PAGE_CHARS`) gives ``text == ""`` and ``method == "none"``; when trafilatura finds nothing
    the hand-written loader is used and ``method == "fallback"``. ``focus`` is trafilatura's trade-off
    (``favor_precision``/``favor_recall``); ``eval/extraction.py`` measures the three: ``precision`` (the
    default) let in the least chrome and lost no more of the articles than the others.
    """
    if not isinstance(html, str) or not html.strip() or len(html) > MAX_PAGE_CHARS:
        size = len(html) if isinstance(html, str) else 0
        log.warning("%s: no readable page (%d characters)", url or "page", size)
        return ExtractedPage("", None, url, [], "none")
    html = html.replace("\x00", "")
    info = _page_info(html)
    canonical = urljoin(url or "", info.canonical) if info.canonical else url
    fallback_title = info.h1 or info.title
    xml = _trafilatura(html, url, focus)
    built: _Builder | None = None
    title: str | None = None
    if xml:
        try:
            built, title = _from_xml(xml)
        except ET.ParseError as exc:
            log.warning("%s: unreadable trafilatura output (%s)", url or "page", exc)
    if built is not None and built.parts:
        return ExtractedPage(built.text(), title or fallback_title, canonical, built.headings, "trafilatura")
    log.info("%s: trafilatura found no main content, using the hand-written loader", url or "page")
    try:
        doc = html_to_text(html)
    except (AssertionError, ValueError) as exc:
        log.warning("%s: no readable text (%s)", url or "page", exc)
        return ExtractedPage("", fallback_title, canonical, [], "none")
    if not doc.text.strip():
        return ExtractedPage("", fallback_title, canonical, [], "none")
    return ExtractedPage(doc.text, fallback_title or doc.title, canonical, doc.headings, "fallback")
