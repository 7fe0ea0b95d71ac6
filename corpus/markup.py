"""Readable text out of Markdown and HTML, with the heading positions in that text.

The extracted text is what offsets refer to for these formats, so it is built in one pass and
headings are recorded as ``(start, end)`` spans into it, never searched for afterwards.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from html.parser import HTMLParser


@dataclass
class Extracted:
    text: str
    title: str | None = None
    url: str | None = None
    headings: list[tuple[int, int]] = field(default_factory=list)


class _Builder:
    """Accumulates paragraphs separated by blank lines and remembers heading spans."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.headings: list[tuple[int, int]] = []

    def block(self, content: str, heading: bool = False) -> None:
        content = content.strip()
        if not content:
            return
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        if heading:
            self.headings.append((self.length, self.length + len(content)))
        self.parts.append(content)
        self.length += len(content)

    def text(self) -> str:
        return "".join(self.parts) + "\n"


_FRONT_MATTER = re.compile(r"\A---\n(.*?)\n---\n", re.S)
_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_MD_LIST = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_MD_INLINE = [
    (re.compile(r"!\[([^\]]*)\]\([^)]*\)"), r"\1"),  # images: keep the alt text
    (re.compile(r"\[([^\]]+)\]\([^)]*\)"), r"\1"),  # links: keep the label
    (re.compile(r"`([^`]*)`"), r"\1"),
    (re.compile(r"(\*\*|__)(.+?)\1"), r"\2"),
    (re.compile(r"(?<![\w*])([*_])(?!\s)(.+?)(?<!\s)\1(?![\w*])"), r"\2"),
    (re.compile(r"<[^>]+>"), ""),
]


def _inline(line: str) -> str:
    for pattern, repl in _MD_INLINE:
        line = pattern.sub(repl, line)
    return line


def _front_matter(source: str) -> tuple[dict[str, str], str]:
    match = _FRONT_MATTER.match(source)
    if not match:
        return {}, source
    meta = {}
    for line in match.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep:
            meta[key.strip().lower()] = value.strip().strip("\"'")
    return meta, source[match.end() :]


def markdown_to_text(source: str) -> Extracted:
    """Markdown → plain paragraphs; ``#`` headings become sections; front matter gives
    ``title`` and ``url``. Emphasis, links and code marks are dropped, their words kept."""
    meta, body = _front_matter(source)
    out = _Builder()
    paragraph: list[str] = []
    in_code = False

    def flush() -> None:
        out.block(" ".join(paragraph))
        paragraph.clear()

    for line in body.splitlines():
        if line.strip().startswith("```"):
            flush()
            in_code = not in_code
            continue
        if in_code:
            out.block(line)
            continue
        heading = _MD_HEADING.match(line)
        if heading:
            flush()
            out.block(_inline(heading.group(2)), heading=True)
        elif not line.strip() or re.fullmatch(r"\s*([-*_])(\s*\1){2,}\s*", line):
            flush()
        elif _MD_LIST.match(line):
            flush()
            out.block(_inline(_MD_LIST.sub("", line)))
        else:
            paragraph.append(_inline(line.strip().lstrip("> ").strip()))
    flush()
    title = meta.get("title")
    if not title and out.headings:
        start, end = out.headings[0]
        title = "".join(out.parts)[start:end]
    return Extracted(out.text(), title, meta.get("url"), out.headings)


_SKIP = {
    "script",
    "style",
    "noscript",
    "template",
    "svg",
    "nav",
    "header",
    "footer",
    "aside",
    "form",
    "iframe",
    "button",
    "select",
    "head",
}
_BLOCK = {
    "p",
    "div",
    "section",
    "article",
    "main",
    "li",
    "ul",
    "ol",
    "table",
    "tr",
    "blockquote",
    "pre",
    "figure",
    "figcaption",
    "dd",
    "dt",
    "dl",
    "br",
    "hr",
    "body",
    "td",
    "th",
}
_HEADINGS = {"h1", "h2", "h3", "h4", "h5", "h6"}
_VOID = {"br", "hr", "img", "meta", "link", "input", "source", "wbr", "area", "col", "base", "embed"}


class _HTMLText(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.out = _Builder()
        self.buffer: list[str] = []
        self.skip_depth = 0
        self.in_heading = False
        self.in_title = False
        self.title_parts: list[str] = []
        self.canonical: str | None = None
        self.main_seen = False

    def _flush(self) -> None:
        text = re.sub(r"\s+", " ", "".join(self.buffer))
        self.out.block(text, heading=self.in_heading)
        self.buffer.clear()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "link" and attributes.get("rel") == "canonical":
            self.canonical = attributes.get("href")
        if tag == "title":
            self.in_title = True
        if tag in _SKIP and tag not in _VOID:
            self.skip_depth += 1
        elif tag in _HEADINGS:
            self._flush()
            self.in_heading = True
        elif tag in _BLOCK:
            self._flush()

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self.in_title = False
        if tag in _SKIP and tag not in _VOID:
            self.skip_depth = max(0, self.skip_depth - 1)
        elif tag in _HEADINGS:
            self._flush()
            self.in_heading = False
        elif tag in _BLOCK:
            self._flush()

    def handle_data(self, data: str) -> None:
        if self.in_title:
            self.title_parts.append(data)
        elif not self.skip_depth:
            self.buffer.append(data)


def _main_fragment(source: str) -> str:
    """The ``<article>`` or ``<main>`` element when the page has one (drops site chrome)."""
    for tag in ("article", "main"):
        match = re.search(rf"<{tag}\b[^>]*>(.*)</{tag}\s*>", source, re.S | re.I)
        if match:
            return match.group(1)
    return source


def html_to_text(source: str) -> Extracted:
    """HTML → readable paragraphs (scripts, styles, navigation, forms dropped); ``h1``-``h6``
    become sections; ``<title>`` (or the first heading) is the title; ``rel=canonical`` the url."""
    head = _HTMLText()
    head.feed(re.split(r"<body\b", source, maxsplit=1, flags=re.I)[0])
    head.close()
    parser = _HTMLText()
    parser.feed(_main_fragment(source))
    parser.close()
    parser._flush()
    text = parser.out.text()
    title = re.sub(r"\s+", " ", "".join(head.title_parts)).strip() or None
    if parser.out.headings:
        start, end = parser.out.headings[0]
        title = text[start:end] if title is None or parser.out.headings[0][0] == 0 else title
    return Extracted(text, title, head.canonical, parser.out.headings)
