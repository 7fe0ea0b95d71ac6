"""Fetch a website's pages: from its sitemap(s), or by following links from the start page.

``fetch_site(start, options, state)`` returns a ``SiteResult``: the pages fetched (HTML text and what a
refresh must remember of them), the URLs unchanged since ``state`` (304, same bytes, or the same sitemap
``<lastmod>``), the URLs gone (404/410, or no longer in a sitemap that was read whole), and every URL
skipped with a reason code. It never raises for what the site does; extraction and Article building are
the caller's (``corpus.extract``).

Discovery: the robots.txt ``Sitemap:`` lines, else ``/sitemap.xml``; indexes are followed, ``.xml.gz``
unpacked. Without a readable sitemap (or with ``options.crawl``) the site is crawled breadth-first from
the start page: same host, ``max_depth`` links deep, links with ``rel="nofollow"`` or on a ``nofollow``
page not followed, links to obvious files (.pdf, images, archives) not requested; everything else is
judged on its Content-Type. In a crawl, the URLs known from ``state`` that no link reached are requested
too, so that a deleted page is seen as gone.

The ``<lastmod>`` rule: a sitemap URL whose ``<lastmod>`` is given and equal to the one stored for it is
unchanged without a request (sites that update pages without touching ``<lastmod>`` need ``crawl.json``
deleted to fetch everything again); without ``<lastmod>`` the request is conditional (ETag /
Last-Modified), and a 200 whose body hashes as before is unchanged too.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import replace
from urllib.parse import urljoin

from corpus.crawlstate import CrawlState, StateEntry, url_article_id
from corpus.fetched import Outcome, Page, Progress, SiteResult, sha256
from corpus.fetcher import REASONS, Fetcher, FetchOptions, Response, Skipped, same_host
from corpus.robots import ALLOW_ALL, Robots, parse_robots, product_token
from corpus.sitemap import MAX_SITEMAP_BYTES, MAX_SITEMAP_DEPTH, MAX_SITEMAP_FILES, SitemapError, parse_sitemap
from corpus.webpage import (
    HTML_TYPES,
    absolute,
    decode_html,
    looks_like_html,
    media_type,
    read_page,
    robots_header,
    strip_fragment,
)

__all__ = ["CrawlState", "FetchOptions", "Page", "SiteResult", "Skipped", "fetch_site", "url_article_id"]

# RFC 9309: a crawler must parse at least the first 500 KiB of a robots.txt.
ROBOTS_MAX_BYTES = 512 * 1024
# Links to these are not pages: never requested during a crawl (a sitemap URL is judged on its Content-Type).
_FILE_LINK = re.compile(
    r"\.(pdf|jpe?g|png|gif|webp|svg|ico|bmp|tiff?|mp[34]|m4a|avi|mov|webm|ogg|wav|zip|gz|tgz|rar|7z|exe|dmg|"
    r"docx?|xlsx?|pptx?|odt|ods|csv|css|js|json|xml|rss|woff2?|ttf|eot)$",
    re.IGNORECASE,
)


class Crawl:
    """The shared machinery of a site fetch: robots.txt, the URL filters, one visit, the final result."""

    def __init__(self, start: str, options: FetchOptions, state: CrawlState | None, progress: Progress | None) -> None:
        self.start = strip_fragment(start)
        self.options = options
        self.previous = state or CrawlState()
        self.progress = progress
        self.fetcher = Fetcher(options)
        self.robots: Robots = ALLOW_ALL
        self.outcomes: dict[str, Outcome] = {}
        self.order: dict[str, None] = {}  # every URL in the order it was discovered (outcomes end in any order)
        self.notes: list[str] = []
        self.budget = options.max_pages
        self.total: int | None = None
        self._include = [re.compile(p) for p in options.include]
        self._exclude = [re.compile(p) for p in options.exclude]

    def read_robots(self) -> Skipped | None:
        """Loads robots.txt: 4xx (or none) allows everything; 5xx or no answer stops the fetch (RFC 9309)."""
        url = urljoin(self.start, "/robots.txt")
        answer = self.fetcher.get(url, max_bytes=ROBOTS_MAX_BYTES)
        if isinstance(answer, Skipped):
            if REASONS.get(answer.reason, False):
                return Skipped(self.start, "robots-unreachable", f"robots.txt: {answer.message}; nothing fetched")
            self.notes.append(f"robots.txt not read ({answer.reason}: {answer.message}); every page allowed")
            return None
        if answer.status >= 500:
            message = f"robots.txt answered HTTP {answer.status}; nothing fetched"
            return Skipped(self.start, "robots-unreachable", message)
        if 400 <= answer.status < 500:
            self.notes.append(f"no robots.txt (HTTP {answer.status}): every page allowed")
            return None
        if answer.status == 200:
            self.robots = parse_robots(answer.body.decode("utf-8", "replace"), self.options.user_agent)
        delay = self.robots.crawl_delay or 0.0
        if delay > self.options.max_delay:
            self.notes.append(f"Crawl-delay of {delay:g} s capped at {self.options.max_delay:g} s")
            delay = self.options.max_delay
        self.fetcher.delay = delay
        return None

    def refuse(self, url: str) -> Skipped | None:
        """Why ``url`` is not to be requested at all (another host, the patterns, robots.txt), or None."""
        if not same_host(url, self.start):
            return Skipped(url, "off-host", "another host than the site's")
        if self.excluded(url):
            return Skipped(url, "excluded", "left out by the include/exclude patterns")
        if not self.robots.allowed(url):
            return Skipped(url, "robots", "disallowed by robots.txt")
        return None

    def excluded(self, url: str) -> bool:
        """Left out by the patterns: no ``include`` pattern found in it (when there are some), or an ``exclude`` one."""
        if self._include and not any(p.search(url) for p in self._include):
            return True
        return any(p.search(url) for p in self._exclude)

    def take(self, url: str) -> bool:
        """Spends one page of the ``max_pages`` budget; False (and the URL skipped) once it is spent."""
        if self.budget <= 0:
            self.record(Outcome(url, skipped=Skipped(url, "max-pages", f"beyond max_pages={self.options.max_pages}")))
            return False
        self.budget -= 1
        return True

    def admit(self, items: Iterable[tuple[str, str | None]], always: str | None = None) -> list[tuple[str, str | None]]:
        """The URLs to request, each spending one page of the budget; the refused ones recorded with their
        reason. ``always`` (a crawl's start page, read for its links) is never refused."""
        todo = []
        for url, lastmod in items:
            refused = self.refuse(url) if url != always else None
            if refused is not None:
                self.record(Outcome(url, skipped=refused))
            elif self.take(url):
                todo.append((url, lastmod))
        return todo

    def put(self, outcome: Outcome) -> None:
        """Sets a URL's outcome without counting it as progress (a sitemap, an API listing)."""
        self.order.setdefault(outcome.url)
        self.outcomes[outcome.url] = outcome

    def record(self, outcome: Outcome) -> None:
        self.put(outcome)
        if self.progress is not None:
            self.progress(len(self.outcomes), self.total)

    def visit_all(self, items: Iterable[tuple[str, str | None]]) -> list[Outcome]:
        """Visits the URLs ``concurrency`` at a time; outcomes in the order given, recorded as they end."""
        items = list(items)
        self.order.update(dict.fromkeys(url for url, _ in items))
        results: dict[str, Outcome] = {}
        with ThreadPoolExecutor(max_workers=max(1, self.options.concurrency)) as pool:
            futures = {pool.submit(self.visit, url, lastmod): url for url, lastmod in items}
            for future in as_completed(futures):
                outcome = future.result()
                results[futures[future]] = outcome
                self.record(outcome)
        return [results[url] for url, _ in items]

    def visit(self, url: str, lastmod: str | None) -> Outcome:
        """One URL: unchanged by ``<lastmod>``, else a (conditional) request judged into an Outcome."""
        previous = self.previous.get(url)
        if previous is not None and lastmod and previous.lastmod == lastmod:
            return Outcome(url, unchanged=previous, links=previous.links)
        headers = {}
        if previous is not None and previous.etag:
            headers["If-None-Match"] = previous.etag
        if previous is not None and previous.last_modified:
            headers["If-Modified-Since"] = previous.last_modified
        answer = self.fetcher.get(url, headers, allowed=self.robots.allowed)
        if isinstance(answer, Skipped):
            return Outcome(url, skipped=answer)
        return self.judge(answer, previous, lastmod)

    def judge(self, answer: Response, previous: StateEntry | None, lastmod: str | None) -> Outcome:
        url, status, headers = answer.url, answer.status, answer.headers
        etag, modified = headers.get("etag"), headers.get("last-modified")
        if status == 304 and previous is not None:
            entry = replace(previous, etag=etag or previous.etag, last_modified=modified or previous.last_modified)
            return Outcome(url, unchanged=replace(entry, lastmod=lastmod or previous.lastmod), links=previous.links)
        if status in (404, 410):
            if previous is not None:
                return Outcome(url, gone=True)
            return Outcome(url, skipped=Skipped(url, "not-found", f"HTTP {status}"))
        if status != 200:
            reason = "server-error" if status >= 500 else "client-error"
            return Outcome(url, skipped=Skipped(url, reason, f"HTTP {status}"))
        content_type = headers.get("content-type", "")
        kind = media_type(content_type)
        if kind not in HTML_TYPES and (kind or not looks_like_html(answer.body)):
            return Outcome(url, skipped=Skipped(url, "not-html", f"Content-Type {kind or 'missing'}, not a web page"))
        decoded = decode_html(answer.body, content_type)
        info = read_page(decoded.text, product_token(self.options.user_agent))
        info.robots |= robots_header(headers.get("x-robots-tag", ""))
        base = absolute(answer.final_url, info.base) if info.base else answer.final_url
        links: list[str] = []
        if not info.nofollow:
            found = (absolute(base or answer.final_url, href) for href, nofollow in info.links if not nofollow)
            links = list(dict.fromkeys(link for link in found if link and same_host(link, self.start)))
        if info.noindex:
            return Outcome(url, skipped=Skipped(url, "noindex", "the page asks not to be indexed"), links=links)
        canonical = absolute(answer.final_url, info.canonical) if info.canonical else None
        if canonical and not same_host(canonical, answer.final_url):
            self.fetcher.note(f"{url}: canonical URL on another host ignored ({canonical})")
            canonical = None
        digest = sha256(answer.body)
        if previous is not None and previous.sha256 == digest:
            entry = replace(previous, etag=etag, last_modified=modified, lastmod=lastmod, links=links)
            return Outcome(url, unchanged=entry, links=links)
        article_id = url_article_id(canonical or answer.final_url)
        page = Page(
            url, answer.final_url, canonical, article_id, status, content_type, decoded.text, decoded.encoding,
            decoded.note, etag, modified, lastmod, digest,
        )  # fmt: skip
        return Outcome(url, page=page, links=links)

    def finish(self, discovery: str, listed: set[str] | None) -> SiteResult:
        """The result, from the outcomes in discovery order. ``listed``: every URL the site lists now (a
        sitemap read whole, a WordPress listing), so that known URLs outside it are gone; None when the
        listing is partial or there is none (a crawl), and such URLs are then kept."""
        self.fetcher.close()
        result = SiteResult(self.start, discovery, notes=self.notes + self.fetcher.notes)
        result.state.source = self.start
        owners: dict[str, str] = {}
        for url in self.order:
            outcome = self.outcomes[url]
            article_id = (
                outcome.page.article_id if outcome.page else outcome.unchanged.article_id if outcome.unchanged else None
            )
            if article_id is not None and article_id in owners:
                message = f"same article id {article_id!r} as {owners[article_id]}"
                outcome = Outcome(url, skipped=Skipped(url, "duplicate", message))
            elif article_id is not None:
                owners[article_id] = url
            previous = self.previous.get(url)
            if outcome.page is not None:
                page = outcome.page
                result.pages.append(page)
                result.state.entries[url] = StateEntry(
                    page.article_id, page.etag, page.last_modified, page.sha256, page.lastmod,
                    page.article_url if page.article_url != url else None, outcome.links,
                )  # fmt: skip
            elif outcome.unchanged is not None:
                result.unchanged.append(url)
                result.state.entries[url] = outcome.unchanged
            elif outcome.gone:
                result.gone.append(url)
            elif outcome.skipped is not None:
                result.skipped.append(outcome.skipped)
                if previous is not None and REASONS.get(outcome.skipped.reason, True):
                    result.kept.append(url)
                    result.state.entries[url] = previous
                elif previous is not None:
                    result.gone.append(url)
        for url, previous in self.previous.entries.items():
            if url in self.outcomes:
                continue
            if listed is not None and url not in listed:
                result.gone.append(url)
            else:
                result.kept.append(url)
                result.state.entries[url] = previous
        if listed is None and any(url not in self.outcomes for url in self.previous.entries):
            result.notes.append("some known pages were not listed this time; their articles are kept")
        result.requests, result.bytes = self.fetcher.requests, self.fetcher.bytes
        result.crawl_delay = self.fetcher.delay
        return result

    def sitemap_urls(self) -> tuple[list[tuple[str, str | None]], bool] | None:
        """The sitemaps' (URL, lastmod) pairs and whether every sitemap was read; None without any sitemap."""
        roots = [url for url in self.robots.sitemaps if same_host(url, self.start)]
        if len(roots) < len(self.robots.sitemaps):
            self.notes.append("sitemaps on another host ignored")
        queue = [(url, 0) for url in roots or [urljoin(self.start, "/sitemap.xml")]]
        seen: set[str] = set()
        entries: dict[str, str | None] = {}
        complete, found = True, False
        while queue:
            url, depth = queue.pop(0)
            if url in seen:
                continue
            seen.add(url)
            if len(seen) > MAX_SITEMAP_FILES:
                self.notes.append(f"more than {MAX_SITEMAP_FILES} sitemap files; the rest ignored")
                complete = False
                break
            answer = self.fetcher.get(url, allowed=self.robots.allowed, max_bytes=MAX_SITEMAP_BYTES)
            problem = answer.message if isinstance(answer, Skipped) else None
            if isinstance(answer, Response):
                if answer.status == 200:
                    try:
                        sitemap = parse_sitemap(answer.body)
                    except SitemapError as exc:
                        problem = str(exc)
                    else:
                        found = True
                        for entry in sitemap.urls:
                            entries.setdefault(strip_fragment(entry.url), entry.lastmod)
                        if sitemap.sitemaps and depth + 1 > MAX_SITEMAP_DEPTH:
                            self.notes.append(f"{url}: sitemap indexes nested too deep; not followed")
                            complete = False
                        else:
                            queue += [(child, depth + 1) for child in sitemap.sitemaps if same_host(child, url)]
                else:
                    problem = f"HTTP {answer.status}"
            if problem is not None:
                complete = False
                if roots or depth:
                    self.put(Outcome(url, skipped=Skipped(url, "no-sitemap", f"sitemap: {problem}")))
        if not found or not entries:
            for url in seen:
                self.outcomes.pop(url, None)
                self.order.pop(url, None)
            return None
        return list(entries.items()), complete


def fetch_site(
    start: str,
    options: FetchOptions,
    state: CrawlState | None = None,
    progress: Progress | None = None,
) -> SiteResult:
    """The pages of the site at ``start`` (see the module's docstring); ``progress(done, total)`` is called
    after each URL, from the calling thread (``total`` is None while crawling)."""
    run = Crawl(start, options, state, progress)
    refused = run.read_robots()
    if refused is not None:
        run.record(Outcome(run.start, skipped=refused))
        return run.finish("none", None)
    found = None if options.crawl else run.sitemap_urls()
    if found is not None:
        items, complete = found
        run.total = len(items)
        run.visit_all(run.admit(items))
        return run.finish("sitemap", set(url for url, _ in items) if complete else None)
    if not options.crawl:
        run.notes.append("no readable sitemap: crawling links from the start page")
    crawl(run)
    return run.finish("crawl" if options.crawl else "crawl (no sitemap)", None)


def crawl(run: Crawl) -> None:
    """Breadth-first from the start page, ``max_depth`` links deep, then the known URLs no link reached."""
    frontier, seen = [run.start], {run.start}
    for depth in range(run.options.max_depth + 1):
        following = []
        for outcome in run.visit_all(run.admit(((url, None) for url in frontier), always=run.start)):
            if outcome.url == run.start and outcome.page is not None and run.refuse(run.start) is not None:
                run.put(Outcome(run.start, skipped=run.refuse(run.start), links=outcome.links))
            if depth == run.options.max_depth:
                continue
            for link in outcome.links:
                if link not in seen and not _FILE_LINK.search(link.split("?", 1)[0]):
                    seen.add(link)
                    following.append(link)
        frontier = following
        if not frontier:
            break
    unreached = [(url, None) for url in run.previous.entries if url not in run.outcomes]
    run.visit_all(run.admit(unreached))
