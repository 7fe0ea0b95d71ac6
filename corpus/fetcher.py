"""One host's HTTP client: polite (crawl delay between requests, bounded concurrency, a User-Agent that
names us), patient (retries with exponential backoff on 429/502/503/504 and connection errors, honouring
``Retry-After``) and careful (redirects followed by hand so loops, hops off the host and disallowed targets
are caught; bodies read in a stream and cut at ``max_bytes``). Every failure is a ``Skipped``, never an
exception, so a crawl always ends with a result."""

from __future__ import annotations

import email.utils
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import urljoin, urlsplit

import httpx

RETRY_STATUSES = frozenset({429, 502, 503, 504})
_Answer = tuple[int, httpx.Headers, bytes]


@dataclass(frozen=True)
class FetchOptions:
    """How to fetch a site. No defaults here: ``service.settings.Settings`` is the one source of them.

    ``include`` / ``exclude`` are regular expressions searched (``re.search``) in the full URL; a URL is
    kept when it matches one ``include`` pattern (or ``include`` is empty) and no ``exclude`` pattern.
    ``max_delay`` caps both a robots.txt ``Crawl-delay`` and a ``Retry-After`` (seconds); ``backoff`` is the
    first retry's wait, doubled at each further try."""

    user_agent: str
    timeout: float
    concurrency: int
    retries: int
    max_pages: int
    max_depth: int
    max_bytes: int
    max_redirects: int
    include: tuple[str, ...]
    exclude: tuple[str, ...]
    crawl: bool
    max_delay: float
    backoff: float


@dataclass(frozen=True)
class Skipped:
    """A URL not turned into a page: ``reason`` is a short stable code (see ``REASONS``), ``message`` says more."""

    url: str
    reason: str
    message: str


# Every reason code a Skipped may carry, and whether the URL's previous article should be kept (a
# passing fault) rather than removed (the page is lastingly not an article).
REASONS: dict[str, bool] = {
    "excluded": False,  # the include/exclude patterns leave it out
    "robots": False,  # robots.txt disallows it for our user agent
    "robots-unreachable": True,  # robots.txt answered 5xx or not at all: RFC 9309 says crawl nothing
    "off-host": False,  # a link, sitemap entry or redirect to another host
    "redirect-loop": False,
    "too-many-redirects": False,
    "not-html": False,  # PDF, image, JSON… on a page URL
    "not-found": False,  # 404/410 for a URL we had never fetched (a known one is reported in ``gone``)
    "client-error": False,  # another 4xx (401, 403…)
    "server-error": True,  # 5xx after the retries
    "rate-limited": True,  # 429 after the retries
    "timeout": True,
    "connection": True,
    "site-down": True,  # the host stopped answering earlier in this crawl
    "too-large": False,  # over max_bytes
    "noindex": False,  # <meta name="robots" content="noindex"> or X-Robots-Tag
    "duplicate": False,  # another page has the same article id (same canonical URL, or ids that collide)
    "max-pages": True,  # beyond max_pages
    "no-sitemap": True,  # a sitemap could not be read
    "draft": False,  # WordPress: not published
    "protected": False,  # WordPress: password-protected
    "not-wordpress": True,  # no WordPress REST API at that address
    "bad-response": True,  # an answer we cannot read (WordPress JSON that is not a list…)
}


@dataclass
class Response:
    """A final answer (after redirects): any status but the retried ones; ``body`` empty for a 304."""

    url: str
    final_url: str
    status: int
    headers: httpx.Headers
    body: bytes


def same_host(a: str, b: str) -> bool:
    """Same host name (case-insensitive); scheme and port may differ (http → https is the same site)."""
    return (urlsplit(a).hostname or "").lower() == (urlsplit(b).hostname or "").lower()


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    current = datetime.now(UTC).timestamp() if now is None else now
    return max(0.0, when.timestamp() - current)


class Fetcher:
    """Requests to one host, spaced by its crawl delay, counted (requests, bytes on the wire)."""

    def __init__(self, options: FetchOptions) -> None:
        self.options = options
        self.client = httpx.Client(
            headers={"User-Agent": options.user_agent},
            timeout=httpx.Timeout(options.timeout),
            follow_redirects=False,
            limits=httpx.Limits(max_connections=max(1, options.concurrency)),
        )
        self.delay = 0.0
        self.requests = 0
        self.bytes = 0
        self.notes: list[str] = []
        self.down: str | None = None
        self._lock = threading.Lock()
        self._next_at = 0.0

    def close(self) -> None:
        self.client.close()

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def note(self, message: str) -> None:
        with self._lock:
            if message not in self.notes:
                self.notes.append(message)

    def _turn(self) -> None:
        """Waits for this request's turn: requests to the host start at least ``delay`` seconds apart
        (measured from when each actually started, so a late wake-up never shortens the next gap)."""
        while True:
            with self._lock:
                now = time.monotonic()
                if now >= self._next_at:
                    self._next_at = now + self.delay
                    return
                wait = self._next_at - now
            time.sleep(wait)

    def _hold(self, seconds: float) -> None:
        """Nobody asks the host anything for ``seconds`` (a Retry-After applies to the host, not one thread)."""
        with self._lock:
            self._next_at = max(self._next_at, time.monotonic() + seconds)

    def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        allowed: Callable[[str], bool] | None = None,
        max_bytes: int | None = None,
    ) -> Response | Skipped:
        """GET ``url``, following same-host redirects that ``allowed`` accepts, up to ``max_redirects``."""
        seen = {url}
        current = url
        for _ in range(self.options.max_redirects + 1):
            answer = self._attempts(current, headers or {}, max_bytes or self.options.max_bytes)
            if isinstance(answer, Skipped):
                return Skipped(url, answer.reason, answer.message)
            status, response_headers, body = answer
            location = response_headers.get("location")
            if not (300 <= status < 400 and status != 304 and location):
                return Response(url, current, status, response_headers, body)
            target = urljoin(current, location.strip()).split("#", 1)[0]
            if not same_host(target, url):
                return Skipped(url, "off-host", f"redirected to another host: {target}")
            if target in seen:
                return Skipped(url, "redirect-loop", f"redirect loop back to {target}")
            if allowed is not None and not allowed(target):
                return Skipped(url, "robots", f"redirected to {target}, disallowed by robots.txt")
            seen.add(target)
            current = target
        return Skipped(url, "too-many-redirects", f"more than {self.options.max_redirects} redirects")

    def _attempts(self, url: str, headers: dict[str, str], max_bytes: int) -> _Answer | Skipped:
        """One URL's tries: retried statuses and transport errors back off, then give up with a reason."""
        options = self.options
        for attempt in range(options.retries + 1):
            if self.down:
                return Skipped(url, "site-down", self.down)
            wait = options.backoff * 2**attempt
            try:
                status, response_headers, body = self._once(url, headers, max_bytes)
            except _TooLarge as exc:
                return Skipped(url, "too-large", str(exc))
            except httpx.TimeoutException as exc:
                failure = Skipped(url, "timeout", f"no answer within {options.timeout} s ({type(exc).__name__})")
            except httpx.ConnectError as exc:
                failure = Skipped(url, "connection", f"cannot connect: {exc}")
            except httpx.TransportError as exc:
                failure = Skipped(url, "server-error", f"{type(exc).__name__}: {exc}")
            else:
                if status not in RETRY_STATUSES:
                    return status, response_headers, body
                reason = "rate-limited" if status == 429 else "server-error"
                failure = Skipped(url, reason, f"HTTP {status} after {attempt + 1} tries")
                asked = retry_after(response_headers.get("retry-after"))
                if asked is not None:
                    if asked > options.max_delay:
                        self.note(f"Retry-After of {asked:.0f} s capped at {options.max_delay} s")
                    wait = min(asked, options.max_delay)
                    self._hold(wait)
                    wait = 0.0
            if attempt < options.retries and wait:
                time.sleep(wait)
        if failure.reason == "connection":
            with self._lock:
                self.down = self.down or f"the site stopped answering ({failure.message})"
        return failure

    def _once(self, url: str, headers: dict[str, str], max_bytes: int) -> _Answer:
        self._turn()
        with self._lock:
            self.requests += 1
        with self.client.stream("GET", url, headers=headers) as response:
            try:
                body = b""
                if not 300 <= response.status_code < 400:
                    length = response.headers.get("content-length", "")
                    if length.isdigit() and int(length) > max_bytes:
                        raise _TooLarge(f"{int(length)} bytes announced, over the {max_bytes}-byte limit")
                    chunks, size = [], 0
                    for chunk in response.iter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise _TooLarge(f"over the {max_bytes}-byte limit")
                        chunks.append(chunk)
                    body = b"".join(chunks)
                return response.status_code, response.headers, body
            finally:
                with self._lock:
                    self.bytes += response.num_bytes_downloaded


class _TooLarge(Exception):
    pass
