"""What the crawler needs from a fetched HTML page: its text decoded without ever failing, and the few
things read from its markup (canonical URL, robots directives, links). Main-content extraction is
``corpus.extract``'s job, not this module's."""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urljoin, urlsplit, urlunsplit

HTML_TYPES = ("text/html", "application/xhtml+xml")
# The HTML standard's prescan reads the first 1024 bytes for a <meta charset>; pages in the wild put it
# a little further (after long <script> blocks), so we look a bit further too.
PRESCAN_BYTES = 4096
_SPACE = re.compile(r"\s+")
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.IGNORECASE)
# WHATWG maps these labels to windows-1252, which decodes the bytes 0x80–0x9F that Latin-1 leaves as
# control characters (curly quotes, œ, € in pages "in Latin-1").
_WINDOWS_1252 = {"iso-8859-1", "latin-1", "latin1", "iso8859-1", "us-ascii", "ascii", "l1", "cp819"}


def _codec(label: str | None) -> str | None:
    """A Python codec name for a charset label, or None when unknown."""
    if not label:
        return None
    label = label.strip().strip("\"'").lower()
    if label in _WINDOWS_1252:
        return "cp1252"
    try:
        return codecs.lookup(label).name
    except LookupError:
        return None


def header_charset(content_type: str) -> str | None:
    """The ``charset=`` parameter of a Content-Type header, as written."""
    for param in content_type.split(";")[1:]:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip("\"'")
    return None


def media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def looks_like_html(body: bytes) -> bool:
    """For a response without a Content-Type: does the body start like an HTML document?"""
    head = body[:512].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    return head.startswith((b"<!doctype html", b"<html", b"<head", b"<!--"))


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # the codec that produced ``text``
    note: str | None = None  # set when the declared charset was wrong or missing and a guess was made


def decode_html(body: bytes, content_type: str = "") -> Decoded:
    """The page's text: a BOM, else the header's charset, else a ``<meta charset>`` / http-equiv, else
    UTF-8; when the declared charset does not decode the bytes, UTF-8 then windows-1252 (what mislabelled
    French pages nearly always are) are tried, and only as a last resort are bytes replaced."""
    for bom, codec in ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")):
        if body.startswith(bom):
            return Decoded(body.decode(codec, "replace").lstrip("\ufeff"), codec)
    declared_label = header_charset(content_type)
    where = "Content-Type header"
    if declared_label is None:
        match = _META_CHARSET.search(body[:PRESCAN_BYTES])
        declared_label = match.group(1).decode("ascii", "replace") if match else None
        where = "<meta charset>"
    declared = _codec(declared_label)
    if declared in ("utf-16", "utf-16-le", "utf-16-be"):  # a <meta> claiming UTF-16 in ASCII bytes is wrong
        declared = None if where == "<meta charset>" else declared
    candidates = [c for c in (declared, "utf-8", "cp1252") if c]
    for i, codec in enumerate(dict.fromkeys(candidates)):
        try:
            text = body.decode(codec)
        except UnicodeDecodeError:
            continue
        if declared_label is not None and declared is None:
            note = f"unknown charset {declared_label!r} in the {where}; decoded as {codec}"
        elif i and declared:
            note = f"the {where} says {declared_label} but the bytes are not; decoded as {codec}"
        else:
            note = None
        return Decoded(text, codec, note)
    codec = declared or "utf-8"
    return Decoded(body.decode(codec, "replace"), codec, f"undecodable bytes replaced (decoded as {codec})")


def strip_fragment(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", parts.query, ""))


@dataclass
class PageInfo:
    """Read from the markup: the canonical link, the robots directives and the links (href, nofollow)."""

    canonical: str | None = None
    robots: set[str] = field(default_factory=set)
    links: list[tuple[str, bool]] = field(default_factory=list)
    base: str | None = None
    title: str | None = None  # the <title>'s text, whitespace folded
    h1: str | None = None  # the first <h1>'s text, whitespace folded

    @property
    def noindex(self) -> bool:
        return bool(self.robots & {"noindex", "none"})

    @property
    def nofollow(self) -> bool:
        return bool(self.robots & {"nofollow", "none"})


class _Reader(HTMLParser):
    def __init__(self, token: str) -> None:
        super().__init__(convert_charrefs=True)
        self.info = PageInfo()
        self.token = token
        self.texts: dict[str, list[str]] = {}  # "title", "h1": the text read inside the first of each
        self._in: str | None = None

    def handle_endtag(self, tag: str) -> None:
        if tag == self._in:
            self._in = None

    def handle_data(self, data: str) -> None:
        if self._in is not None:
            self.texts[self._in].append(data)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): (v or "") for k, v in attrs}
        rel = set(values.get("rel", "").lower().split())
        if tag == "link" and "canonical" in rel and values.get("href") and self.info.canonical is None:
            self.info.canonical = values["href"].strip()
        elif tag == "meta" and values.get("name", "").lower() in ("robots", self.token):
            self.info.robots |= {d.strip().lower() for d in values.get("content", "").split(",") if d.strip()}
        elif tag == "a" and values.get("href"):
            self.info.links.append((values["href"].strip(), "nofollow" in rel))
        elif tag == "base" and values.get("href") and self.info.base is None:
            self.info.base = values["href"].strip()
        elif tag in ("title", "h1") and (tag not in self.texts or (tag == "title" and not self.texts[tag])):
            self.texts[tag], self._in = [], tag


def read_page(text: str, token: str = "sourcier") -> PageInfo:
    """The canonical link, ``<meta name="robots">`` (or ``name=token``) directives and ``<a href>`` links."""
    reader = _Reader(token)
    reader.feed(text)
    reader.close()
    info = reader.info
    info.title, info.h1 = (_SPACE.sub(" ", "".join(reader.texts.get(t, []))).strip() or None for t in ("title", "h1"))
    return info


def absolute(base: str, href: str) -> str | None:
    """``href`` resolved against ``base``, without its fragment; None for non-HTTP links (mailto:, javascript:)."""
    try:
        url = urljoin(base, href)
    except ValueError:
        return None
    if urlsplit(url).scheme not in ("http", "https"):
        return None
    return strip_fragment(url)


def robots_header(value: str) -> set[str]:
    """The directives of an ``X-Robots-Tag`` header that apply to every crawler (``noindex, nofollow``)."""
    if ":" in value.split(",", 1)[0]:  # "googlebot: noindex" names another crawler
        return set()
    return {d.strip().lower() for d in value.split(",") if d.strip()}
