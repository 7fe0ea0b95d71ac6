"""What a site fetch hands back: the pages, and the result that sorts every URL into fetched, unchanged,
gone, kept or skipped (shared by ``corpus.site`` and ``corpus.wordpress``)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

from corpus.crawlstate import CrawlState, StateEntry
from corpus.fetcher import Skipped

# progress(done, total): URLs handled so far, and how many there are (None while a crawl discovers them).
Progress = Callable[[int, int | None], None]


@dataclass(frozen=True)
class Page:
    """A fetched HTML page. ``url`` is the URL requested (the state's key), ``canonical_url`` its same-host
    ``<link rel="canonical">``; ``article_url`` is what citations should open."""

    url: str
    final_url: str
    canonical_url: str | None
    article_id: str
    status: int
    content_type: str
    html: str
    encoding: str
    encoding_note: str | None
    etag: str | None
    last_modified: str | None
    lastmod: str | None
    sha256: str

    @property
    def article_url(self) -> str:
        return self.canonical_url or self.final_url


@dataclass
class SiteResult:
    """What a fetch did. ``kept``: known URLs skipped for a passing reason (5xx, timeout, site down…) whose
    previous article should stay; ``gone``: known URLs whose article should go (404/410, out of the sitemap,
    or now skipped for a lasting reason, which ``skipped`` then explains). ``state`` is the one to save."""

    source: str
    discovery: str  # "sitemap", "crawl", "crawl (no sitemap)", "wordpress", "none" (robots.txt unreachable)
    pages: list[Page] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    gone: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    requests: int = 0
    bytes: int = 0
    crawl_delay: float = 0.0
    state: CrawlState = field(default_factory=CrawlState)


@dataclass
class Outcome:
    """One URL's fate, before duplicates and the previous state are sorted out."""

    url: str
    page: Page | None = None
    unchanged: StateEntry | None = None
    skipped: Skipped | None = None
    gone: bool = False
    links: list[str] = field(default_factory=list)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
