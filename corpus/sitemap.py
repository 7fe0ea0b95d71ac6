"""Sitemaps (sitemaps.org): a ``<urlset>`` of pages with their ``<lastmod>``, or a ``<sitemapindex>`` of
further sitemaps; gzip-compressed ones are recognised by their bytes, not by a header or the ``.gz`` name
(servers send ``.xml.gz`` files with and without ``Content-Encoding: gzip``, and httpx undoes the latter)."""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field
from xml.etree import ElementTree

# The protocol's own limits: 50 MB (uncompressed) and 50,000 URLs per sitemap file.
MAX_SITEMAP_BYTES = 50 * 1024 * 1024
MAX_SITEMAP_URLS = 50_000
# How deep sitemap indexes may nest (an index of indexes is tolerated, a chain is not) and how many
# sitemap files one site may make us read.
MAX_SITEMAP_DEPTH = 3
MAX_SITEMAP_FILES = 200


class SitemapError(ValueError):
    """A sitemap that cannot be read (not XML, not a sitemap, a gzip bomb)."""


@dataclass(frozen=True)
class SitemapEntry:
    url: str
    lastmod: str | None = None


@dataclass
class Sitemap:
    """A parsed sitemap file: its pages, or (an index) the sitemaps it lists."""

    urls: list[SitemapEntry] = field(default_factory=list)
    sitemaps: list[str] = field(default_factory=list)


def gunzip(body: bytes, limit: int = MAX_SITEMAP_BYTES) -> bytes:
    """``body`` decompressed when it is gzip (magic bytes), else as given; refuses to inflate past ``limit``."""
    if not body.startswith(b"\x1f\x8b"):
        return body
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = inflater.decompress(body, limit + 1)
    except zlib.error as exc:
        raise SitemapError(f"broken gzip data ({exc})") from exc
    if len(out) > limit:
        raise SitemapError(f"over {limit} bytes once decompressed")
    return out


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1].lower()


def parse_sitemap(body: bytes) -> Sitemap:
    """A sitemap's URLs (``<urlset>``), child sitemaps (``<sitemapindex>``) or, for a plain-text sitemap,
    one URL a line. Namespaces are ignored: sites get them wrong often enough."""
    data = gunzip(body)
    stripped = data.lstrip(b"\xef\xbb\xbf \t\r\n")
    if not stripped.startswith(b"<"):
        lines = stripped.decode("utf-8", "replace").splitlines()
        urls = [SitemapEntry(line.strip()) for line in lines if line.strip().startswith(("http://", "https://"))]
        if not urls:
            raise SitemapError("neither XML nor a list of URLs")
        return Sitemap(urls=urls[:MAX_SITEMAP_URLS])
    try:
        root = ElementTree.fromstring(stripped)
    except ElementTree.ParseError as exc:
        raise SitemapError(f"not well-formed XML ({exc})") from exc
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise SitemapError(f"root element <{kind}>, expected <urlset> or <sitemapindex>")
    found = Sitemap()
    for item in root:
        values = {_local(child.tag): (child.text or "").strip() for child in item}
        loc = values.get("loc")
        if not loc:
            continue
        if kind == "sitemapindex":
            found.sitemaps.append(loc)
        elif len(found.urls) < MAX_SITEMAP_URLS:
            found.urls.append(SitemapEntry(loc, values.get("lastmod") or None))
    return found
